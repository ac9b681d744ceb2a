"""The default offline engine: ttskit's Mellotron (Tacotron 2) + MelGAN, re-implemented.

Weights come from the MIT-licensed ``ttskit==0.3.8`` wheel on PyPI, converted once into
safetensors by ``python -m common.engines.bundled.convert`` (``tingshu fetch-model``). Importing
this package does not import torch; :func:`load_engine` does, in the worker process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from common.config import Settings
    from common.engines.bundled.engine import BundledEngine

__all__ = ["BundledEngine", "check", "describe", "load_engine"]

SAMPLE_RATE = 22_050
MAX_CHUNK_CHARS = 40
"""About 19–20 decoder frames per character and a decoder limit of 1,200 steps: 40 keeps a margin."""


def describe(settings: "Settings"):
    """Registry hook: voices, emotions and limits without torch or weights (API validation)."""
    from common.engines.base import EngineInfo
    from common.engines.bundled import prosody, voices

    return EngineInfo("bundled", SAMPLE_RATE, MAX_CHUNK_CHARS, tuple(voices.voice_list()),
                      tuple(prosody.emotions()), voices.default_voice_id())


def check(settings: "Settings") -> None:
    """Registry hook: fail before workers start if the converted weights are missing or bad."""
    from common.engines.bundled.weights import bundle_dir, verify_bundle

    verify_bundle(bundle_dir(settings.model_dir))


def load_engine(settings: "Settings") -> "BundledEngine":
    """Registry factory: verify and load the converted weights onto the chosen device.

    Raises:
        EngineUnavailable: weights missing (with the command that fetches them), tampered,
            or the requested device is unavailable.
    """
    import torch

    from common.engines.bundled.engine import BundledEngine
    from common.engines.bundled.melgan import MelGAN
    from common.engines.bundled.tacotron2 import Tacotron2
    from common.engines.bundled.weights import bundle_dir, has_frontend_data, load_bundle
    from common.engines.device import choose_device

    device = choose_device(settings)
    if device.type == "cpu":
        torch.set_num_threads(settings.torch_threads)
    taco_state, mel_state, hparams, manifest = load_bundle(settings.model_dir)
    acoustic = Tacotron2(hparams)
    acoustic.load_state_dict(taco_state, strict=True)
    vocoder = MelGAN(hparams["n_mel_channels"])
    vocoder.load_state_dict(mel_state, strict=True)
    frontend_dir = bundle_dir(settings.model_dir) if has_frontend_data(manifest) else None
    return BundledEngine(settings, acoustic, vocoder, hparams, device, frontend_dir)


def __getattr__(name: str):
    if name == "BundledEngine":
        from common.engines.bundled.engine import BundledEngine

        return BundledEngine
    raise AttributeError(name)
