"""The storage interface shared by the local and S3 backends, and its error for missing keys."""

from __future__ import annotations

import mimetypes
from abc import ABC, abstractmethod
from pathlib import Path, PurePosixPath
from typing import BinaryIO
from urllib.parse import quote

from common.errors import StorageError

_CONTENT_TYPES = {
    ".wav": "audio/wav",
    ".flac": "audio/flac",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
}
"""Content types of the audio files the pipeline stores (``mimetypes`` disagrees across OSes)."""


class ObjectNotFound(StorageError):
    """No object is stored under the requested key."""


def check_key(key: str) -> str:
    """Validate a storage key and return it unchanged.

    Keys are relative POSIX paths such as ``jobs/<id>/result.wav``: both backends refuse
    anything that could escape a local root or that S3 would treat ambiguously.

    Raises:
        ValueError: the key is empty, absolute, contains ``.``/``..``/empty segments or a
            backslash/NUL.
    """
    if not isinstance(key, str) or not key:
        raise ValueError(f"storage key must be a non-empty string, not {key!r}")
    if "\\" in key or "\x00" in key:
        raise ValueError(f"storage key may not contain a backslash or NUL: {key!r}")
    if key.startswith("/"):
        raise ValueError(f"storage key must be relative: {key!r}")
    parts = key.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"storage key has an empty, '.' or '..' segment: {key!r}")
    return key


def check_prefix(prefix: str) -> str:
    """Validate a listing prefix: empty (everything) or a key-like string, optionally ending in ``/``.

    Raises:
        ValueError: the prefix would be an invalid key.
    """
    if prefix == "":
        return prefix
    check_key(prefix[:-1] if prefix.endswith("/") else prefix)
    return prefix


def guess_content_type(key: str) -> str:
    """Content type for ``key`` from its suffix; ``application/octet-stream`` when unknown."""
    suffix = PurePosixPath(key).suffix.lower()
    if suffix in _CONTENT_TYPES:
        return _CONTENT_TYPES[suffix]
    return mimetypes.guess_type(key)[0] or "application/octet-stream"


def content_disposition(filename: str) -> str:
    """An ``attachment`` Content-Disposition value that survives non-ASCII (Chinese) names.

    Uses an ASCII fallback plus the RFC 5987 ``filename*`` form.
    """
    fallback = filename.encode("ascii", "replace").decode("ascii").replace('"', "_").replace("?", "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


class Storage(ABC):
    """Blob storage for chunk and result audio, addressed by ``/``-separated keys.

    Implementations must make every write atomic (readers see the old object or the complete
    new one, never a partial one), so that an ``acks_late`` task that is re-run after a crash
    simply overwrites its deterministic key.
    """

    name: str = "abstract"
    """Short backend name used in log lines and error messages."""

    @abstractmethod
    def ensure_ready(self) -> None:
        """Create what the backend needs (directory, bucket); call once at process start.

        Raises:
            StorageError: the backend cannot be reached or prepared.
        """

    @abstractmethod
    def put_file(self, key: str, path: str | Path, content_type: str | None = None) -> None:
        """Store the file at ``path`` under ``key`` (large files are streamed, not loaded).

        Raises:
            StorageError: the write failed.
        """

    @abstractmethod
    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        """Store ``data`` under ``key``.

        Raises:
            StorageError: the write failed.
        """

    @abstractmethod
    def get_bytes(self, key: str) -> bytes:
        """Return the whole object.

        Raises:
            ObjectNotFound: nothing is stored under ``key``.
            StorageError: the read failed.
        """

    @abstractmethod
    def download_file(self, key: str, path: str | Path) -> None:
        """Copy the object to the local file ``path`` (written atomically).

        Raises:
            ObjectNotFound: nothing is stored under ``key``.
            StorageError: the read failed.
        """

    @abstractmethod
    def open_read(self, key: str) -> BinaryIO:
        """Open the object as a readable binary stream; the caller must close it.

        Raises:
            ObjectNotFound: nothing is stored under ``key``.
            StorageError: the read failed.
        """

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""

    @abstractmethod
    def size(self, key: str) -> int:
        """Size of the object in bytes.

        Raises:
            ObjectNotFound: nothing is stored under ``key``.
        """

    @abstractmethod
    def list_keys(self, prefix: str) -> list[str]:
        """All keys starting with ``prefix`` (a plain string prefix), sorted."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Delete the object; deleting a missing key is not an error."""

    @abstractmethod
    def delete_prefix(self, prefix: str) -> int:
        """Delete every object whose key starts with ``prefix``.

        Returns:
            The number of objects deleted.
        """

    def presigned_url(self, key: str, expires_seconds: int | None = None,
                      filename: str | None = None) -> str | None:
        """A time-limited URL that downloads the object directly, or None if unsupported.

        Args:
            key: the object to share.
            expires_seconds: lifetime of the URL; the backend default when None.
            filename: when given, the download is served as an attachment with this name.
        """
        check_key(key)
        return None

    def local_path(self, key: str) -> Path | None:
        """The file that holds the object, or None when the backend has no local files.

        Raises:
            ObjectNotFound: the backend is local and nothing is stored under ``key``.
        """
        check_key(key)
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"
