"""Observability through a real worker: ``/metrics`` moves when a job runs, and the worker's
log file has one JSON object per line, carrying the job id and account of each task."""

from __future__ import annotations

import json
from typing import Iterator

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from common import metrics
from common.accounts import AccountStore
from common.config import Settings
from tests.integration.conftest import redis_db_url
from tests.integration.jobclient import FINAL
from tingshu.services import ApiThread, CeleryWorkerProcess

METRICS_DB = 11
TEXT = "今天天气很好。我们一起去公园散步吧！路上有很多花，还有一条小河。"


@pytest.fixture(scope="module")
def stack(redis_server, tmp_path_factory) -> Iterator[tuple[ApiThread, CeleryWorkerProcess, dict]]:
    import redis

    settings = Settings().replace(redis_url=redis_db_url(redis_server.url, METRICS_DB), engine="tone",
                                  storage="local", local_dir=str(tmp_path_factory.mktemp("metrics-storage")),
                                  chunk_chars=12, chunks_per_task=2, pause_ms=0, log_format="json")
    redis.Redis.from_url(settings.redis_url).flushdb()
    accounts = AccountStore.from_url(settings.redis_url)
    accounts.save_account("observer")
    headers = {"Authorization": f"Bearer {accounts.create_key('observer')[1]}"}
    worker = CeleryWorkerProcess(settings, tmp_path_factory.mktemp("metrics-worker"), concurrency=1,
                                 name="metrics").start()
    api = ApiThread(settings).start()
    try:
        yield api, worker, headers
    finally:
        api.stop()
        worker.stop()


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    """``(sample name, sorted labels) → value`` of every sample ``/metrics`` exposes."""
    response = requests.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def run_job(api: ApiThread, headers: dict) -> dict:
    import time

    job = requests.post(f"{api.url}/v1/jobs", json={"text": TEXT, "format": "wav"}, headers=headers, timeout=30).json()
    deadline = time.monotonic() + 60
    while job["state"] not in FINAL and time.monotonic() < deadline:
        time.sleep(0.1)
        job = requests.get(f"{api.url}/v1/jobs/{job['id']}", headers=headers, timeout=30).json()
    assert job["state"] == "succeeded", job
    return job


def test_metrics_move_when_a_job_runs(stack):
    api, _worker, headers = stack
    before = scrape(api.url)
    assert before[("tingshu_metrics_redis_up", ())] == 1
    for queue in ("interactive", "bulk", "webhooks"):
        assert before[("tingshu_queue_depth", (("queue", queue),))] >= 0

    job = run_job(api, headers)
    after = scrape(api.url)
    chunks = job["progress"]["chunks_total"]
    tasks = -(-chunks // 2)

    def moved(name: str, labels=()) -> float:
        return after[(name, labels)] - before.get((name, labels), 0)

    assert moved("tingshu_jobs", (("state", "succeeded"),)) == 1
    assert after[("tingshu_jobs", (("state", "queued"),))] == 0
    engine = (("engine", "tone"),)
    assert moved("tingshu_chunk_task_seconds_count", engine) == tasks
    assert moved("tingshu_chunk_task_seconds_bucket", (("engine", "tone"), ("le", "+Inf"))) == tasks
    assert moved("tingshu_chunk_synthesis_seconds_count", engine) == chunks > 1
    assert moved("tingshu_engine_rtf_count", engine) == chunks
    assert 0 < moved("tingshu_engine_rtf_sum", engine) / chunks < 1  # the tone engine is far faster than real time
    assert after[("tingshu_chunk_task_seconds_sum", engine)] > 0


def test_webhook_attempts_are_counted(stack):
    import redis

    api, _worker, _headers = stack
    before = scrape(api.url)[("tingshu_webhook_attempts_total", (("outcome", "delivered"),))]
    connection = redis.Redis.from_url(api.app.config["SETTINGS"].redis_url)
    metrics.record_webhook_attempt(connection, "delivered")
    metrics.record_webhook_attempt(connection, "retry")
    after = scrape(api.url)
    assert after[("tingshu_webhook_attempts_total", (("outcome", "delivered"),))] == before + 1
    assert after[("tingshu_webhook_attempts_total", (("outcome", "retry"),))] >= 1


def test_worker_log_lines_are_json_with_the_job(stack):
    api, worker, headers = stack
    job = run_job(api, headers)
    lines = [json.loads(line) for line in worker.log().splitlines() if line.startswith("{")]
    assert lines and all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    assert all(line.startswith("{") for line in worker.log().splitlines() if line.strip()), "non-JSON log line"
    for_job = [line for line in lines if line.get("job_id") == job["id"]]
    assert {line["task"] for line in for_job} >= {"tts.synthesize_chunks", "tts.merge_job"}
    assert all(line["account"] == "observer" for line in for_job)
    ended = [line for line in for_job if line["message"] == "task ended"]
    assert ended and all(line["state"] == "SUCCESS" and line["duration_seconds"] >= 0 for line in ended)
