"""Storage on a local directory: one file per key, written atomically."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterator

from common.errors import StorageError
from common.storage.base import ObjectNotFound, Storage, check_key, check_prefix

TMP_SUFFIX = ".tingshu-tmp"
"""Suffix of in-progress writes; such files are never listed as keys."""

_COPY_BUFFER = 1024 * 1024


class LocalStorage(Storage):
    """Keys map to files under ``root``; writes go to a temp file and are ``os.replace``-d in.

    A process killed mid-write leaves at most a ``*.tingshu-tmp`` file, which is ignored by
    :meth:`list_keys` and removed by :meth:`delete_prefix`.
    """

    name = "local"

    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser().resolve()

    def __repr__(self) -> str:
        return f"<LocalStorage {self.root}>"

    def ensure_ready(self) -> None:
        """Create the root directory.

        Raises:
            StorageError: it cannot be created.
        """
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create storage directory {self.root}: {exc}") from exc

    def _path(self, key: str) -> Path:
        """Map ``key`` to its file, refusing anything that resolves outside the root."""
        check_key(key)
        if key.endswith(TMP_SUFFIX):
            raise ValueError(f"storage key may not end in {TMP_SUFFIX}: {key!r}")
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            raise ValueError(f"storage key escapes the storage root: {key!r}")
        return path

    def _write_atomic(self, path: Path, fill) -> None:
        """Create ``path`` by calling ``fill(fileobj)`` on a temp file, then renaming it in."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TMP_SUFFIX)
        except OSError as exc:
            raise StorageError(f"cannot write {path}: {exc}") from exc
        try:
            with os.fdopen(fd, "wb") as out:
                fill(out)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException as exc:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            if isinstance(exc, OSError):
                raise StorageError(f"cannot write {path}: {exc}") from exc
            raise

    def put_file(self, key: str, path: str | Path, content_type: str | None = None) -> None:
        """Copy the file at ``path`` under ``key`` (``content_type`` is not stored locally).

        Raises:
            StorageError: the source cannot be read or the copy failed.
        """
        target = self._path(key)
        try:
            src = open(path, "rb")
        except OSError as exc:
            raise StorageError(f"cannot read {path} to store as {key!r}: {exc}") from exc
        with src:
            self._write_atomic(target, lambda out: shutil.copyfileobj(src, out, _COPY_BUFFER))

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        """Store ``data`` under ``key``."""
        self._write_atomic(self._path(key), lambda out: out.write(data))

    def get_bytes(self, key: str) -> bytes:
        """Return the whole object.

        Raises:
            ObjectNotFound: nothing is stored under ``key``.
        """
        with self.open_read(key) as stream:
            return stream.read()

    def download_file(self, key: str, path: str | Path) -> None:
        """Copy the object to ``path`` atomically.

        Raises:
            ObjectNotFound: nothing is stored under ``key``.
        """
        with self.open_read(key) as src:
            self._write_atomic(Path(path).absolute(),
                               lambda out: shutil.copyfileobj(src, out, _COPY_BUFFER))

    def open_read(self, key: str) -> BinaryIO:
        """Open the object's file for reading.

        Raises:
            ObjectNotFound: nothing is stored under ``key``.
        """
        path = self._path(key)
        try:
            return open(path, "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound(f"no object {key!r} in {self.root}") from None
        except OSError as exc:
            raise StorageError(f"cannot read {key!r} from {self.root}: {exc}") from exc

    def exists(self, key: str) -> bool:
        """Whether a file is stored under ``key``."""
        return self._path(key).is_file()

    def size(self, key: str) -> int:
        """Size of the object in bytes.

        Raises:
            ObjectNotFound: nothing is stored under ``key``.
        """
        return self.local_path(key).stat().st_size

    def _walk(self, prefix: str, include_tmp: bool = False) -> Iterator[tuple[str, Path]]:
        """Yield ``(key, path)`` for files whose key starts with ``prefix``."""
        check_prefix(prefix)
        start = self.root / prefix.rpartition("/")[0]
        if not start.is_dir():
            return
        for dirpath, _dirnames, filenames in os.walk(start):
            base = Path(dirpath)
            for filename in filenames:
                path = base / filename
                key = path.relative_to(self.root).as_posix()
                if not key.startswith(prefix):
                    continue
                if filename.endswith(TMP_SUFFIX) and not include_tmp:
                    continue
                yield key, path

    def list_keys(self, prefix: str) -> list[str]:
        """All keys starting with ``prefix``, sorted (in-progress writes excluded)."""
        return sorted(key for key, _ in self._walk(prefix))

    def delete(self, key: str) -> None:
        """Delete the object and any directories it leaves empty."""
        path = self._path(key)
        if self._unlink(key, path):
            self._prune_dirs(path.parent)

    def _unlink(self, key: str, path: Path) -> bool:
        """Remove one file; False if it was already gone."""
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StorageError(f"cannot delete {key!r} from {self.root}: {exc}") from exc
        return True

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object (and leftover temp file) whose key starts with ``prefix``.

        Returns:
            The number of objects deleted (temp files are not counted).
        """
        count = 0
        parents = set()
        for key, path in list(self._walk(prefix, include_tmp=True)):
            if not self._unlink(key, path):
                continue
            parents.add(path.parent)
            count += not key.endswith(TMP_SUFFIX)
        for parent in sorted(parents, key=lambda p: len(p.parts), reverse=True):
            self._prune_dirs(parent)
        return count

    def _prune_dirs(self, directory: Path) -> None:
        """Remove ``directory`` and its parents while they are empty, stopping at the root."""
        while directory != self.root and directory.is_relative_to(self.root):
            try:
                directory.rmdir()
            except OSError:
                return
            directory = directory.parent

    def local_path(self, key: str) -> Path:
        """The file holding the object (for ``send_file``).

        Raises:
            ObjectNotFound: nothing is stored under ``key``.
        """
        path = self._path(key)
        if not path.is_file():
            raise ObjectNotFound(f"no object {key!r} in {self.root}")
        return path
