"""Property-based contract tests: schemathesis drives the real HTTP API from its own
OpenAPI document and checks that no generated request gets a 5xx, and that every response
(status, content type, headers, body) is the one the document promises.

The document is built at collection time from the same settings and engine facts the API
serves it from (and checked equal to the served ``/openapi.json``): schemathesis' lazy
fixture loader does not support this pytest version. The stack is its own (Redis db 10, local storage, the tone engine, one Celery worker so that
``POST /api/tts`` answers instead of timing out) with an API key of an account without rate
or in-flight limits, so 429s do not hide the operations behind them.
"""

from __future__ import annotations

import time
from typing import Iterator

import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_headers_conformance,
                                               response_schema_conformance, status_code_conformance)

from api.openapi import build_document
from common.accounts import AccountStore
from common.config import Settings
from common.engines.registry import describe_engine
from tests.integration.conftest import redis_db_url
from tingshu.services import ApiThread, running_stack

SCHEMATHESIS_DB = 10
MAX_EXAMPLES = 25
"""Generated cases per operation and phase (keeps the whole module near a minute here)."""

BASE_SETTINGS = Settings().replace(engine="tone", storage="local", max_text_chars=2000, chunk_chars=60,
                                  chunks_per_task=4, chunk_retries=0, pause_ms=0, visibility_timeout=60)
"""The stack's settings, less its Redis database and storage directory (chosen per session)."""

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance,
          response_headers_conformance]


@pytest.fixture(scope="module")
def contract_settings(redis_server, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    import redis

    settings = BASE_SETTINGS.replace(redis_url=redis_db_url(redis_server.url, SCHEMATHESIS_DB),
                                     local_dir=str(tmp_path_factory.mktemp("contract-storage")))
    redis.Redis.from_url(settings.redis_url).flushdb()
    return settings


@pytest.fixture(scope="module")
def contract_api(contract_settings: Settings, tmp_path_factory) -> Iterator[ApiThread]:
    with running_stack(contract_settings, tmp_path_factory.mktemp("contract-worker"), "contract") as (api, _):
        yield api


@pytest.fixture(scope="module")
def api_key(contract_settings: Settings) -> str:
    accounts = AccountStore.from_url(contract_settings.redis_url)
    accounts.save_account("contract", max_in_flight=0, rate_per_minute=0)
    return accounts.create_key("contract", "schemathesis")[1]


DOCUMENT = build_document(BASE_SETTINGS, describe_engine(BASE_SETTINGS))

schema = schemathesis.openapi.from_dict(DOCUMENT, config=schemathesis.Config.from_dict({
    "generation": {"max-examples": MAX_EXAMPLES},
    "request-timeout": 90,
}))


def test_served_document_is_the_one_tested(contract_api: ApiThread):
    import requests

    assert requests.get(f"{contract_api.url}/openapi.json", timeout=10).json() == DOCUMENT


@schema.parametrize()
def test_api_honours_its_contract(case, contract_api: ApiThread, api_key: str):
    case.call_and_validate(base_url=contract_api.url, headers={"Authorization": f"Bearer {api_key}"},
                           checks=CHECKS)


def _call(path: str, method: str, url: str, api_key: str, **case_kwargs):
    case = schema[path][method].Case(**case_kwargs)
    return case.call_and_validate(base_url=url, headers={"Authorization": f"Bearer {api_key}"}, checks=CHECKS)


def test_job_operations_on_real_jobs_honour_the_contract(contract_api: ApiThread, api_key: str):
    """Generated job ids only ever reach 404; these answers come from real jobs in every state."""
    url = contract_api.url
    created = _call("/v1/jobs", "POST", url, api_key, body={"text": "你好。世界真大。", "format": "ogg",
                                                             "metadata": {"case": "contract"}},
                    media_type="application/json")
    assert created.status_code == 202, created.text
    job_id = created.json()["id"]
    deadline = time.monotonic() + 60
    while _call("/v1/jobs/{job_id}", "GET", url, api_key, path_parameters={"job_id": job_id}).json()["state"] != "succeeded":
        assert time.monotonic() < deadline, "the job did not succeed in time"
        time.sleep(0.2)
    by_id = {"path_parameters": {"job_id": job_id}}
    audio = _call("/v1/jobs/{job_id}/audio", "GET", url, api_key, **by_id)
    assert audio.status_code == 200 and audio.content[:4] == b"OggS"
    assert _call("/v1/jobs/{job_id}/webhooks", "GET", url, api_key, **by_id).status_code == 200
    assert _call("/v1/jobs/{job_id}/webhooks/redeliver", "POST", url, api_key, **by_id).status_code == 400
    assert _call("/v1/jobs/{job_id}/cancel", "POST", url, api_key, **by_id).status_code == 409
    listed = _call("/v1/jobs", "GET", url, api_key, query={"state": "succeeded", "limit": 5})
    assert job_id in [j["id"] for j in listed.json()["jobs"]]
    assert _call("/v1/jobs/{job_id}", "DELETE", url, api_key, **by_id).status_code == 204
    assert _call("/v1/jobs/{job_id}", "GET", url, api_key, **by_id).status_code == 404
