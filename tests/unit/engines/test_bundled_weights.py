"""Converter and safe loading: manifest checks, tampering, restricted unpickling, device choice."""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest

from common.config import Settings
from common.engines.bundled import convert
from common.engines.bundled.convert import Placeholder, RestrictedUnpickler, fetch_and_convert, parse_hanziconv_charmap
from common.engines.bundled.weights import (
    BUNDLE_FILES, FRONTEND_FILES, MANIFEST, MELGAN_FILE, PHKIT_PHRASES_FILE, T2S_FILE, ManifestError, bundle_dir,
    has_frontend_data, load_bundle, read_manifest, verify_bundle,
)
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


def test_manifest_lists_the_frontend_data(bundled_settings):
    manifest = verify_bundle(bundle_dir(bundled_settings.model_dir), require_frontend=True)
    assert manifest["format"] == 2 and has_frontend_data(manifest)
    fe = manifest["provenance"]["frontend_data"]
    assert fe["phkit"]["version"] == "0.2.11" and "MIT" in fe["phkit"]["license"]
    assert fe["phkit"]["wheel_sha256"] == convert.PHKIT_WHEEL_SHA256
    assert "Apache" in fe["hanziconv"]["license"] and fe["hanziconv"]["sdist_sha256"] == convert.HANZICONV_SDIST_SHA256
    directory = bundle_dir(bundled_settings.model_dir)
    assert not any(n.endswith(".py") for n in manifest["files"]) and not list(directory.glob("*.py"))
    assert "phkit" not in {p.name.split(".")[0] for p in directory.iterdir() if p.suffix in (".py", ".pyc")}


@pytest.mark.parametrize("name", [PHKIT_PHRASES_FILE, T2S_FILE])
def test_tampered_frontend_data_is_rejected(bundled_settings, tmp_path, name):
    copy = bundle_dir(tmp_path)
    shutil.copytree(bundle_dir(bundled_settings.model_dir), copy)
    path = copy / name
    data = path.read_bytes()
    assert "们".encode() in data
    path.write_bytes(data.replace("们".encode(), "门".encode(), 1))
    with pytest.raises(ManifestError, match="checksum"):
        verify_bundle(copy)


def _downgrade_to_format_1(directory: Path) -> None:
    manifest = read_manifest(directory)
    manifest["format"] = 1
    manifest["files"] = {n: manifest["files"][n] for n in BUNDLE_FILES}
    manifest["provenance"].pop("frontend_data")
    (directory / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    for name in FRONTEND_FILES:
        (directory / name).unlink()


def _rebuilt_sources(bundle: Path, dest: Path) -> tuple[Path, Path]:
    """Stand-ins for the PyPI archives, rebuilt from a bundle's files (offline upgrade test)."""
    wheel = dest / convert.PHKIT_WHEEL_NAME
    with zipfile.ZipFile(wheel, "w") as wz:
        for name, member in convert.PHKIT_MEMBERS.items():
            wz.writestr(member, (bundle / name).read_bytes())
        wz.writestr(convert.PHKIT_METADATA, "Name: phkit\nClassifier: License :: OSI Approved :: MIT License\n")
    table = json.loads((bundle / T2S_FILE).read_text(encoding="utf-8"))
    charmap = "import textwrap\n\n"
    trad, simp = table["traditional"], table["simplified"]
    for key, text in (("cuhk_traditional", trad[:-40]), ("cuhk_simplified", simp[:-40]),
                      ("extra_traditional", trad[-40:]), ("extra_simplified", simp[-40:])):
        body = "\n".join(text[i:i + 30] for i in range(0, len(text), 30))
        charmap += f"{key} = ''.join(textwrap.dedent(\"\"\"\n{body}\n\"\"\").split())\n\n"
    charmap += ("simplified_charmap = cuhk_simplified + extra_simplified\n"
                "traditional_charmap = cuhk_traditional + extra_traditional\n")
    sdist = dest / convert.HANZICONV_SDIST_NAME
    root = f"hanziconv-{convert.HANZICONV_VERSION}"
    with tarfile.open(sdist, "w:gz") as tz:
        for member, data in ((convert.HANZICONV_CHARMAP, charmap.encode()),
                             (convert.HANZICONV_LICENSE, (bundle / "hanziconv_LICENSE.txt").read_bytes()),
                             (f"{root}/PKG-INFO", b"Classifier: License :: OSI Approved :: Apache Software License\n")):
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tz.addfile(info, io.BytesIO(data))
    assert parse_hanziconv_charmap(charmap) == table
    return wheel, sdist


def test_format_1_bundle_loads_and_is_upgraded_in_place(bundled_settings, tmp_path, monkeypatch):
    original = bundle_dir(bundled_settings.model_dir)
    copy = bundle_dir(tmp_path / "models")
    shutil.copytree(original, copy)
    _downgrade_to_format_1(copy)
    verify_bundle(copy)  # an old bundle still verifies ...
    _taco, _mel, _hp, manifest = load_bundle(tmp_path / "models")  # ... and loads (front end falls back)
    assert manifest["format"] == 1
    with pytest.raises(EngineUnavailable, match="predates"):
        verify_bundle(copy, require_frontend=True)
    weights_before = {n: (copy / n).stat().st_mtime_ns for n in BUNDLE_FILES}

    wheel, sdist = _rebuilt_sources(original, tmp_path)
    monkeypatch.setattr(convert, "PHKIT_WHEEL_SHA256", hashlib.sha256(wheel.read_bytes()).hexdigest())
    monkeypatch.setattr(convert, "HANZICONV_SDIST_SHA256", hashlib.sha256(sdist.read_bytes()).hexdigest())
    monkeypatch.setattr(convert, "download_frontend_sources", lambda dest: (wheel, sdist))
    monkeypatch.setattr(convert, "download_wheel", lambda dest: pytest.fail("the weights must not be re-fetched"))
    fetch_and_convert(tmp_path / "models")
    upgraded = verify_bundle(copy, require_frontend=True)
    assert upgraded["format"] == 2 and upgraded["provenance"]["package"] == "ttskit"
    assert {n: (copy / n).stat().st_mtime_ns for n in BUNDLE_FILES} == weights_before
    originals = read_manifest(original)["files"]
    for name in FRONTEND_FILES:  # same bytes as a bundle built from the real archives
        assert upgraded["files"][name]["sha256"] == originals[name]["sha256"], name
    # idempotent: a second run changes nothing and fetches nothing
    monkeypatch.setattr(convert, "download_frontend_sources", lambda dest: pytest.fail("nothing to fetch"))
    mtime = (copy / MANIFEST).stat().st_mtime_ns
    fetch_and_convert(tmp_path / "models")
    assert (copy / MANIFEST).stat().st_mtime_ns == mtime
    # damaged front-end data is re-extracted without reconverting the weights
    (copy / T2S_FILE).write_text("{}", encoding="utf-8")
    monkeypatch.setattr(convert, "download_frontend_sources", lambda dest: (wheel, sdist))
    fetch_and_convert(tmp_path / "models")
    assert verify_bundle(copy, require_frontend=True)["files"][T2S_FILE] == originals[T2S_FILE]
    assert {n: (copy / n).stat().st_mtime_ns for n in BUNDLE_FILES} == weights_before


def test_frontend_archives_are_checked_against_their_pins(tmp_path):
    fake = tmp_path / convert.PHKIT_WHEEL_NAME
    fake.write_bytes(b"not the wheel")
    with pytest.raises(EngineUnavailable, match="sha256"):
        convert.extract_frontend_data(fake, fake, tmp_path / "out")


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
