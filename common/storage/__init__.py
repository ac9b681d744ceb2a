"""Blob storage for chunk and result audio: a local directory or any S3-compatible server."""

from __future__ import annotations

from common.config import Settings
from common.storage.base import ObjectNotFound, Storage, content_disposition
from common.storage.keys import chunk_key, chunks_prefix, job_prefix, result_key

__all__ = [
    "ObjectNotFound",
    "Storage",
    "chunk_key",
    "chunks_prefix",
    "content_disposition",
    "get_storage",
    "job_prefix",
    "result_key",
]


def get_storage(settings: Settings) -> Storage:
    """Build the backend named by ``settings.storage``.

    No network I/O happens here; call :meth:`Storage.ensure_ready` once at process start.
    Build one instance per process (boto3 clients must not cross a ``fork``).

    Raises:
        ValueError: unknown backend name.
    """
    if settings.storage == "local":
        from common.storage.local import LocalStorage

        return LocalStorage(settings.local_dir)
    if settings.storage == "s3":
        from common.storage.s3 import S3Storage

        return S3Storage.from_settings(settings)
    raise ValueError(f"unknown storage backend {settings.storage!r}")
