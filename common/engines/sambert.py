"""ModelScope Sambert-HifiGan adapter (optional extra ``tingshu[sambert]``).

The model the project started from: ``damo/speech_sambert-hifigan_tts_zh-cn_16k`` with the
multi-emotion voices zhitian/zhiyan/zhizhe/zhibei. Emotions are real model emotions, passed as
SSML ``<speak><emotion category=… intensity=…>…</emotion></speak>``. The pipeline returns WAV
bytes per call, which are decoded to float32 at 16 kHz (never concatenated as bytes). One
pipeline per process; ModelScope serialises calls internally, and so does our lock.

Weights are never downloaded here: ``TINGSHU_SAMBERT_MODEL`` is a local model directory or a
model id already present in the local ModelScope cache (``$MODELSCOPE_CACHE``, default
``~/.cache/modelscope/hub``); install them once with ``modelscope download``. Missing extra or
files fail at worker start-up (``load_engine``), with instructions.
"""

from __future__ import annotations

import io
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable, Sequence
from xml.sax.saxutils import escape

import numpy as np
import soundfile as sf

from common.config import Settings
from common.engines.base import (EngineInfo, Emotion, ItemDiagnostics, SynthesisOptions, SynthesisResult, Voice,
                                 validate_options)
from common.errors import EngineUnavailable, SynthesisFailed
from common.stretch import time_stretch

SAMPLE_RATE = 16_000
MAX_CHUNK_CHARS = 80
"""The seed article's measured safe length for Sambert."""
VOICES = (
    Voice("zhitian_emo", "知甜 Zhitian", "female"),
    Voice("zhiyan_emo", "知燕 Zhiyan", "female"),
    Voice("zhizhe_emo", "知哲 Zhizhe", "male"),
    Voice("zhibei_emo", "知贝 Zhibei", "female"),
)
EMOTIONS = tuple(Emotion(e, label, "model") for e, label in (
    ("neutral", "Neutral"), ("happy", "Happy"), ("sad", "Sad"), ("angry", "Angry"),
    ("fear", "Fearful"), ("surprise", "Surprised"), ("disgust", "Disgusted"),
))
INSTALL_HINT = (
    "install the extra and its ModelScope-only packages: pip install 'tingshu[sambert]' && "
    "pip install kantts ttsfrd -f https://modelscope.oss-cn-beijing.aliyuncs.com/releases/repo.html, "
    "then fetch the model once: modelscope download --model damo/speech_sambert-hifigan_tts_zh-cn_16k "
    "(or set TINGSHU_SAMBERT_MODEL to a local model directory)"
)

PipelineFactory = Callable[[str, str], Callable[..., dict]]
"""(model directory, device) → a ModelScope-style pipeline callable."""


def build_ssml(text: str, emotion: str, intensity: float = 1.0) -> str:
    """The SSML the Sambert emotion voices expect; ``text`` is XML-escaped."""
    return f'<speak><emotion category="{emotion}" intensity="{intensity:.2f}">{escape(text)}</emotion></speak>'


def decode_output(output: dict[str, Any]) -> np.ndarray:
    """Decode the pipeline's ``output_wav`` bytes to mono float32 at 16 kHz.

    Raises:
        SynthesisFailed: no audio, or audio at another sample rate.
    """
    data = output.get("output_wav")
    if not data:
        raise SynthesisFailed("Sambert pipeline returned no audio")
    audio, rate = sf.read(io.BytesIO(bytes(data)), dtype="float32", always_2d=True)
    if rate != SAMPLE_RATE:
        raise SynthesisFailed(f"Sambert returned {rate} Hz audio, expected {SAMPLE_RATE}")
    return audio.mean(axis=1).astype(np.float32)


def resolve_model_dir(model: str) -> Path:
    """A local directory for ``model`` (a path, or an id in the local ModelScope cache).

    Raises:
        EngineUnavailable: nothing local; never downloads.
    """
    path = Path(model).expanduser()
    if path.is_dir():
        return path
    cache = Path(os.environ.get("MODELSCOPE_CACHE", Path.home() / ".cache" / "modelscope"))
    for candidate in (cache / "hub" / model, cache / model, cache / "hub" / "models" / model):
        if candidate.is_dir():
            return candidate
    raise EngineUnavailable(f"Sambert model {model!r} is not on this machine; {INSTALL_HINT}")


def _modelscope_pipeline(model_dir: str, device: str) -> Callable[..., dict]:
    try:
        from modelscope.pipelines import pipeline
        from modelscope.utils.constant import Tasks
    except ImportError as exc:
        raise EngineUnavailable(f"the ModelScope extra is not installed ({exc}); {INSTALL_HINT}") from None
    return pipeline(task=Tasks.text_to_speech, model=model_dir, device=device)


class SambertEngine:
    """Engine adapter around one ModelScope text-to-speech pipeline."""

    name = "sambert"
    sample_rate = SAMPLE_RATE
    max_chunk_chars = MAX_CHUNK_CHARS

    def __init__(self, pipeline: Callable[..., dict], device: str = "cpu"):
        self._pipeline = pipeline
        self._lock = threading.Lock()
        self.device = device

    def voices(self) -> Sequence[Voice]:
        return VOICES

    def emotions(self) -> Sequence[Emotion]:
        return EMOTIONS

    def default_voice(self) -> str:
        return VOICES[0].id

    def warmup(self) -> None:
        self.synthesize(["你好。"], SynthesisOptions(self.default_voice()))

    def synthesize(self, texts: Sequence[str], options: SynthesisOptions) -> list[SynthesisResult]:
        validate_options(self, options)
        return [self._one(text, options) for text in texts]

    def _one(self, text: str, options: SynthesisOptions) -> SynthesisResult:
        started = time.perf_counter()
        with self._lock:
            output = self._pipeline(input=build_ssml(text, options.emotion), voice=options.voice)
        audio = time_stretch(decode_output(output), options.speed, SAMPLE_RATE)
        diagnostics = ItemDiagnostics(chars=len(text), acoustic_seconds=time.perf_counter() - started,
                                      device=self.device)
        return SynthesisResult(audio=audio, sample_rate=SAMPLE_RATE, diagnostics=diagnostics)


def describe(settings: Settings) -> EngineInfo:
    """Registry hook: the voices and emotions, without ModelScope installed."""
    return EngineInfo("sambert", SAMPLE_RATE, MAX_CHUNK_CHARS, VOICES, EMOTIONS, VOICES[0].id)


def check(settings: Settings) -> None:
    """Registry hook: fail before workers start if the extra or the model is missing."""
    try:
        import modelscope  # noqa: F401
    except ImportError as exc:
        raise EngineUnavailable(f"the ModelScope extra is not installed ({exc}); {INSTALL_HINT}") from None
    resolve_model_dir(settings.sambert_model)


def load_engine(settings: Settings, pipeline_factory: PipelineFactory = _modelscope_pipeline) -> SambertEngine:
    """Registry factory: resolve the local model and build the pipeline (fails fast).

    FP16: ModelScope's Sambert pipeline exposes no half-precision switch, so it runs in FP32
    on either device; the model is small (about 1 GB of GPU memory in FP32).
    """
    from common.engines.device import choose_device

    model_dir = resolve_model_dir(settings.sambert_model)
    device = "gpu" if choose_device(settings).type == "cuda" else "cpu"
    return SambertEngine(pipeline_factory(str(model_dir), device), device)
