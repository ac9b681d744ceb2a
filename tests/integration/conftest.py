"""Fixtures for the distributed stack: real Celery worker processes and the real HTTP API.

The session shares one tone-engine worker and one API on their own Redis database (the
per-test ``redis_url`` database is flushed between tests, which would drop the broker's
queue bindings under a running worker). Tests that kill workers or load the real engine
build their own on yet another database.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from common.config import Settings
from tingshu.services import ApiThread, CeleryWorkerProcess

STACK_DB = 2
"""Redis database of the shared tone-engine stack."""


def redis_db_url(base_url: str, db: int) -> str:
    """``base_url`` with its database number replaced by ``db``."""
    return f"{base_url.rsplit('/', 1)[0]}/{db}"


@pytest.fixture(scope="session")
def stack_settings(s3_session_settings: Settings, redis_server) -> Settings:
    """Settings of the shared stack: tone engine, small chunks, S3 storage, own Redis db."""
    return s3_session_settings.replace(
        redis_url=redis_db_url(redis_server.url, STACK_DB), engine="tone", chunk_chars=60,
        chunks_per_task=2, chunk_retries=1, pause_ms=200, visibility_timeout=60,
        allow_anonymous=True,  # these tests are not about API keys (tests/integration/test_auth.py is)
    )


@pytest.fixture(scope="session")
def tone_worker(stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CeleryWorkerProcess]:
    worker = CeleryWorkerProcess(stack_settings, tmp_path_factory.mktemp("worker-logs"), concurrency=2, name="tone").start()
    try:
        yield worker
    finally:
        worker.stop()


@pytest.fixture(scope="session")
def api_server(stack_settings: Settings) -> Iterator[ApiThread]:
    server = ApiThread(stack_settings).start()
    try:
        yield server
    finally:
        server.stop()
