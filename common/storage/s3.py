"""Storage on any S3-compatible server (AWS, SeaweedFS, MinIO, ...) through boto3."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, BinaryIO, Iterator

import boto3
from boto3.exceptions import Boto3Error
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from common.config import Settings
from common.errors import StorageError
from common.storage.base import (ObjectNotFound, Storage, check_key, check_prefix,
                                 content_disposition, guess_content_type)

MIB = 1024 * 1024
MIN_PART_SIZE = 5 * MIB
"""S3 refuses multipart parts smaller than 5 MiB (except the last)."""
DELETE_BATCH = 1000
"""``DeleteObjects`` accepts at most 1000 keys per request."""
LIST_PAGE_SIZE = 1000
"""Keys per ``ListObjectsV2`` page (the S3 maximum)."""

_MISSING_KEY_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
_MISSING_BUCKET_CODES = frozenset({"NoSuchBucket"})
_BUCKET_EXISTS_CODES = frozenset({"BucketAlreadyOwnedByYou", "BucketAlreadyExists"})


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class S3Storage(Storage):
    """One bucket on an S3-compatible endpoint, path-style addressing, signature v4.

    Uploads of files go through boto3's transfer manager, so anything above
    ``multipart_threshold`` is sent as a multipart upload (in parts of at least 5 MiB). Every
    botocore failure is re-raised as :class:`StorageError`; a missing key as
    :class:`ObjectNotFound`.
    """

    name = "s3"

    def __init__(self, client: Any, bucket: str, *, region: str = "us-east-1",
                 presign_seconds: int = 3600, multipart_threshold: int = 8 * MIB):
        self.client = client
        self.bucket = bucket
        self.region = region
        self.presign_seconds = presign_seconds
        self.page_size = LIST_PAGE_SIZE
        self.delete_batch = DELETE_BATCH
        self.transfer_config = TransferConfig(
            multipart_threshold=max(multipart_threshold, 1),
            multipart_chunksize=max(multipart_threshold, MIN_PART_SIZE),
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> "S3Storage":
        """Build the client from ``settings.s3_*`` (empty keys fall back to boto3's own chain)."""
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=10,
            read_timeout=60,
        )
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=settings.s3_endpoint or None,
            region_name=settings.s3_region or None,
            aws_access_key_id=settings.s3_access_key or None,
            aws_secret_access_key=settings.s3_secret_key or None,
            config=config,
        )
        return cls(client, settings.s3_bucket, region=settings.s3_region,
                   presign_seconds=settings.s3_presign_seconds,
                   multipart_threshold=settings.s3_multipart_threshold_mb * MIB)

    def __repr__(self) -> str:
        return f"<S3Storage {self.client.meta.endpoint_url} bucket={self.bucket}>"

    @contextlib.contextmanager
    def _errors(self, operation: str, key: str | None = None) -> Iterator[None]:
        """Translate boto errors raised inside the block into our error types."""
        where = f"s3://{self.bucket}/{key}" if key is not None else f"s3://{self.bucket}"
        try:
            yield
        except ClientError as exc:
            code = _error_code(exc)
            message = exc.response.get("Error", {}).get("Message", "") or str(exc)
            if key is not None and code in _MISSING_KEY_CODES:
                raise ObjectNotFound(f"no object {where}") from exc
            if code in _MISSING_BUCKET_CODES:
                raise StorageError(f"S3 {operation} {where}: bucket does not exist "
                                   f"(call ensure_ready() first)") from exc
            raise StorageError(f"S3 {operation} {where} failed: {code} {message}".rstrip()) from exc
        except (BotoCoreError, Boto3Error) as exc:
            raise StorageError(f"S3 {operation} {where} failed: {exc}") from exc

    def ensure_ready(self) -> None:
        """Create the bucket if it is missing (see :meth:`ensure_bucket`)."""
        self.ensure_bucket()

    def ensure_bucket(self) -> None:
        """Create the bucket when missing; a concurrent creator winning the race is fine.

        Raises:
            StorageError: the endpoint is unreachable, credentials are refused, or the bucket
                exists but belongs to someone else.
        """
        try:
            with self._errors("head_bucket"):
                self.client.head_bucket(Bucket=self.bucket)
            return
        except StorageError as exc:
            cause = exc.__cause__
            if not (isinstance(cause, ClientError) and _error_code(cause) in ("404", "NoSuchBucket")):
                raise
        kwargs: dict[str, Any] = {"Bucket": self.bucket}
        if self.region and self.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            self.client.create_bucket(**kwargs)
        except ClientError as exc:
            if _error_code(exc) not in _BUCKET_EXISTS_CODES:
                raise StorageError(f"S3 create_bucket s3://{self.bucket} failed: {exc}") from exc
            with self._errors("head_bucket"):  # created by a racing process: must be ours
                self.client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, Boto3Error) as exc:
            raise StorageError(f"S3 create_bucket s3://{self.bucket} failed: {exc}") from exc

    def put_file(self, key: str, path: str | Path, content_type: str | None = None) -> None:
        """Upload ``path`` through the transfer manager (multipart above the threshold).

        Raises:
            StorageError: the source cannot be read or the upload failed.
        """
        check_key(key)
        extra = {"ContentType": content_type or guess_content_type(key)}
        try:
            with self._errors("upload", key):
                self.client.upload_file(str(path), self.bucket, key, ExtraArgs=extra,
                                        Config=self.transfer_config)
        except OSError as exc:
            raise StorageError(f"cannot read {path} to upload as {key!r}: {exc}") from exc

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        """Store ``data`` with a single ``PutObject``."""
        check_key(key)
        with self._errors("put_object", key):
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data,
                                   ContentType=content_type or guess_content_type(key))

    def get_bytes(self, key: str) -> bytes:
        """Return the whole object.

        Raises:
            ObjectNotFound: nothing is stored under ``key``.
        """
        with self.open_read(key) as body, self._errors("get_object", key):
            return body.read()

    def download_file(self, key: str, path: str | Path) -> None:
        """Download to ``path`` (boto3 writes a temp file and renames it in).

        Raises:
            ObjectNotFound: nothing is stored under ``key``.
        """
        check_key(key)
        with self._errors("download", key):
            self.client.download_file(self.bucket, key, str(path), Config=self.transfer_config)

    def open_read(self, key: str) -> BinaryIO:
        """The object's streaming body (an ``io.IOBase``); close it when done.

        Raises:
            ObjectNotFound: nothing is stored under ``key``.
        """
        check_key(key)
        with self._errors("get_object", key):
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"]

    def _head(self, key: str) -> dict[str, Any]:
        check_key(key)
        with self._errors("head_object", key):
            return self.client.head_object(Bucket=self.bucket, Key=key)

    def exists(self, key: str) -> bool:
        """Whether the object exists (``HeadObject``)."""
        try:
            self._head(key)
        except ObjectNotFound:
            return False
        return True

    def size(self, key: str) -> int:
        """Size of the object in bytes.

        Raises:
            ObjectNotFound: nothing is stored under ``key``.
        """
        return int(self._head(key)["ContentLength"])

    def _pages(self, prefix: str) -> Iterator[list[str]]:
        """Yield the keys under ``prefix`` one ``ListObjectsV2`` page at a time."""
        check_prefix(prefix)
        paginator = self.client.get_paginator("list_objects_v2")
        with self._errors("list_objects_v2", prefix):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix,
                                           PaginationConfig={"PageSize": self.page_size}):
                yield [item["Key"] for item in page.get("Contents", [])]

    def list_keys(self, prefix: str) -> list[str]:
        """All keys starting with ``prefix``, sorted (paginated listing)."""
        return sorted(key for page in self._pages(prefix) for key in page)

    def delete(self, key: str) -> None:
        """Delete the object; a missing key is not an error."""
        check_key(key)
        with self._errors("delete_object", key):
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix`` with batched ``DeleteObjects`` calls.

        The whole listing is taken first, so deleting never disturbs pagination.

        Returns:
            The number of objects deleted.

        Raises:
            StorageError: a request failed or the server refused some keys.
        """
        keys = [key for page in self._pages(prefix) for key in page]
        for start in range(0, len(keys), self.delete_batch):
            batch = keys[start:start + self.delete_batch]
            with self._errors("delete_objects", prefix):
                response = self.client.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
                )
            errors = response.get("Errors") or []
            if errors:
                first = errors[0]
                raise StorageError(f"S3 delete_objects s3://{self.bucket}/{prefix}: {len(errors)} "
                                   f"keys failed, e.g. {first.get('Key')}: {first.get('Code')} "
                                   f"{first.get('Message', '')}".rstrip())
        return len(keys)

    def presigned_url(self, key: str, expires_seconds: int | None = None,
                      filename: str | None = None) -> str:
        """A presigned ``GET`` URL, as an attachment named ``filename`` when given.

        Signing is local (no request is made), so this never reports a missing key.
        """
        check_key(key)
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if filename:
            params["ResponseContentDisposition"] = content_disposition(filename)
        with self._errors("presign", key):
            return self.client.generate_presigned_url(
                "get_object", Params=params,
                ExpiresIn=int(expires_seconds or self.presign_seconds),
            )
