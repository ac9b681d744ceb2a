"""Cancel, delete, list, expiry cleanup and queue priorities, through a real API and worker."""

from __future__ import annotations

import time

import pytest
import requests

from common.jobs import JobStore, account_jobs_key
from common.storage import get_storage
from common.storage.keys import chunks_prefix, job_prefix
from tests.integration.conftest import redis_db_url
from tests.integration.jobclient import submit, wait_for, wait_progress
from tingshu.services import ApiThread, CeleryWorkerProcess, running_stack

LIFECYCLE_DB = 7
SLOW = {"TINGSHU_TONE_DELAY_PER_CHAR": "0.01"}


@pytest.fixture
def slow_stack(s3_session_settings, redis_server, tmp_path):
    """API + one single-process worker whose tone engine takes ~0.4 s per 40-char chunk."""
    import redis

    settings = s3_session_settings.replace(redis_url=redis_db_url(redis_server.url, LIFECYCLE_DB), engine="tone",
                                           chunk_chars=40, chunks_per_task=1, job_ttl_seconds=600,
                                           allow_anonymous=True)
    redis.Redis.from_url(settings.redis_url).flushdb()
    with running_stack(settings, tmp_path, "lifecycle", extra_env=SLOW) as (api, worker):
        yield settings, api, worker


def book(sentences: int) -> str:
    return "".join(f"这是用来测试任务生命周期的第{i}句话，内容并不重要。" for i in range(sentences))


def test_cancel_mid_job_leaves_no_chunk_objects(slow_stack):
    settings, api, _worker = slow_stack
    job = submit(api.url, {"text": book(30)})
    running = wait_progress(api.url, job["id"], chunks=3)
    assert running["state"] == "running"
    response = requests.post(f"{api.url}/v1/jobs/{job['id']}/cancel", timeout=30)
    assert response.status_code == 200 and response.json()["state"] == "canceled"
    again = requests.post(f"{api.url}/v1/jobs/{job['id']}/cancel", timeout=30)
    assert again.status_code == 409
    time.sleep(2.0)  # the chunk that was running when we canceled finishes and cleans up
    storage = get_storage(settings)
    assert storage.list_keys(chunks_prefix(job["id"])) == []
    final = requests.get(f"{api.url}/v1/jobs/{job['id']}", timeout=30).json()
    assert final["state"] == "canceled" and final["progress"]["chunks_done"] < final["progress"]["chunks_total"]


def test_delete_removes_record_and_objects(slow_stack):
    settings, api, _worker = slow_stack
    job = submit(api.url, {"text": "删掉我。以后就找不到了。"})
    assert wait_for(api.url, job["id"])["state"] == "succeeded"
    storage = get_storage(settings)
    assert storage.list_keys(job_prefix(job["id"]))
    assert requests.delete(f"{api.url}/v1/jobs/{job['id']}", timeout=30).status_code == 204
    assert requests.get(f"{api.url}/v1/jobs/{job['id']}", timeout=30).status_code == 404
    assert storage.list_keys(job_prefix(job["id"])) == []


def test_listing_paginates_and_filters(slow_stack):
    _settings, api, _worker = slow_stack
    ids = [submit(api.url, {"text": f"第{i}个任务。"})["id"] for i in range(5)]
    for job_id in ids:
        wait_for(api.url, job_id)
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = requests.get(f"{api.url}/v1/jobs", params=params, timeout=30).json()
        seen += [j["id"] for j in page["jobs"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))
    done = requests.get(f"{api.url}/v1/jobs", params={"state": "succeeded", "limit": 50}, timeout=30).json()
    assert {j["id"] for j in done["jobs"]} == set(ids)
    assert requests.get(f"{api.url}/v1/jobs", params={"state": "failed"}, timeout=30).json()["jobs"] == []
    for bad, field in (({"state": "sleeping"}, "state"), ({"limit": "x"}, "limit"), ({"limit": 0}, "limit"),
                       ({"cursor": "!!"}, "cursor")):
        response = requests.get(f"{api.url}/v1/jobs", params=bad, timeout=30)
        assert response.status_code == 400 and response.json()["error"]["field"] == field


def test_interactive_job_overtakes_a_bulk_backlog(slow_stack):
    _settings, api, _worker = slow_stack
    bulk = submit(api.url, {"text": book(40)})  # > sync_max_chars: bulk queue, ~40 tasks
    assert bulk["queue"] == "bulk"
    wait_progress(api.url, bulk["id"], chunks=1)
    short = submit(api.url, {"text": "请问现在几点？"})
    assert short["queue"] == "interactive"
    done = wait_for(api.url, short["id"], timeout=60)
    assert done["state"] == "succeeded"
    still = requests.get(f"{api.url}/v1/jobs/{bulk['id']}", timeout=30).json()
    assert still["state"] == "running", "the short job should finish while the book is still running"
    assert still["progress"]["chunks_done"] < still["progress"]["chunks_total"] // 2


def test_expired_jobs_are_cleaned_by_beat(s3_session_settings, redis_server, tmp_path):
    import redis

    settings = s3_session_settings.replace(redis_url=redis_db_url(redis_server.url, LIFECYCLE_DB + 4), engine="tone",
                                           job_ttl_seconds=2, cleanup_interval_seconds=1, allow_anonymous=True)
    redis.Redis.from_url(settings.redis_url).flushdb()
    api = ApiThread(settings).start()
    worker = CeleryWorkerProcess(settings, tmp_path, concurrency=1, name="beat", beat=True).start()
    try:
        job = submit(api.url, {"text": "很快就会过期。"})
        done = wait_for(api.url, job["id"])
        assert done["state"] == "succeeded" and 0 < done["expires_in"] <= 2
        storage = get_storage(settings)
        assert storage.list_keys(job_prefix(job["id"]))
        deadline = time.monotonic() + 30
        while storage.list_keys(job_prefix(job["id"])) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert storage.list_keys(job_prefix(job["id"])) == [], worker.log_tail()
        assert requests.get(f"{api.url}/v1/jobs/{job['id']}", timeout=30).status_code == 404
        assert JobStore.from_url(settings.redis_url).connection.zcard(account_jobs_key("default")) == 0
    finally:
        worker.stop()
        api.stop()
