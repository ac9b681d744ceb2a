"""Converter and safe loading: manifest checks, tampering, restricted unpickling, device choice."""

from __future__ import annotations

import io
import pickle
import shutil

import pytest

from common.config import Settings
from common.engines.bundled.convert import Placeholder, RestrictedUnpickler
from common.engines.bundled.weights import MELGAN_FILE, ManifestError, bundle_dir, load_bundle, verify_bundle
from common.engines.device import choose_device
from common.errors import EngineUnavailable


def test_converted_bundle_verifies_and_loads_strictly(bundled_settings):
    from common.engines.bundled.melgan import MelGAN
    from common.engines.bundled.tacotron2 import Tacotron2

    taco, mel, hparams, manifest = load_bundle(bundled_settings.model_dir)
    assert manifest["provenance"]["package"] == "ttskit" and manifest["provenance"]["version"] == "0.3.8"
    assert not any(k.endswith(("weight_g", "weight_v")) for k in mel)
    Tacotron2(hparams).load_state_dict(taco, strict=True)
    MelGAN(hparams["n_mel_channels"]).load_state_dict(mel, strict=True)


def test_tampered_weights_are_rejected(bundled_settings, tmp_path):
    copy = bundle_dir(tmp_path)
    shutil.copytree(bundle_dir(bundled_settings.model_dir), copy)
    path = copy / MELGAN_FILE
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ManifestError, match="checksum"):
        load_bundle(tmp_path)


def test_missing_weights_say_how_to_fetch(tmp_path):
    with pytest.raises(EngineUnavailable, match="fetch-model"):
        verify_bundle(bundle_dir(tmp_path))


def test_restricted_unpickler_refuses_other_globals():
    payload = pickle.dumps(print)  # any global function outside the allow list
    with pytest.raises(pickle.UnpicklingError, match="not allowed"):
        RestrictedUnpickler(io.BytesIO(payload)).load()
    evil = b"cos\nsystem\n(S'echo hacked'\ntR."
    with pytest.raises(pickle.UnpicklingError, match="os.system"):
        RestrictedUnpickler(io.BytesIO(evil)).load()


def test_restricted_unpickler_maps_model_classes_to_placeholders():
    # protocol 2: NEWOBJ of mellotron.model.Tacotron2, then BUILD with {'a': 1}
    payload = b"\x80\x02cmellotron.model\nTacotron2\nq\x00)\x81q\x01}q\x02X\x01\x00\x00\x00aq\x03K\x01sb."
    obj = RestrictedUnpickler(io.BytesIO(payload)).load()
    assert isinstance(obj, Placeholder) and obj.a == 1 and obj._qualname == "mellotron.model.Tacotron2"


def test_choose_device():
    import torch

    assert choose_device(Settings(device="cpu")).type == "cpu"
    assert choose_device(Settings(device="auto")).type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(EngineUnavailable, match="CUDA"):
            choose_device(Settings(device="cuda:0"))
    with pytest.raises(EngineUnavailable):
        choose_device(Settings(device="tpu"))
