"""A worker killed with SIGKILL mid-job loses nothing: a new worker finishes the job.

Delivery settings under test: ``task_acks_late`` + ``task_reject_on_worker_lost`` and the
Redis visibility timeout (short here, so the unacknowledged tasks of the dead worker come
back within seconds).
"""

from __future__ import annotations

import pytest

from common.jobs import JobStore
from tests.integration.conftest import redis_db_url
from tests.integration.jobclient import decode, download, submit, wait_for, wait_progress
from tingshu.services import ApiThread, CeleryWorkerProcess

KILL_DB = 4


@pytest.fixture
def kill_settings(s3_session_settings, redis_server):
    import redis

    settings = s3_session_settings.replace(
        redis_url=redis_db_url(redis_server.url, KILL_DB), engine="tone", chunk_chars=40,
        chunks_per_task=1, visibility_timeout=6, pause_ms=100, allow_anonymous=True,
    )
    redis.Redis.from_url(settings.redis_url).flushdb()
    return settings


def test_sigkill_mid_job_then_new_worker_completes(kill_settings, tmp_path):
    slow = {"TINGSHU_TONE_DELAY_PER_CHAR": "0.02"}  # ~0.7 s per chunk
    api = ApiThread(kill_settings).start()
    first = CeleryWorkerProcess(kill_settings, tmp_path, concurrency=2, name="doomed", extra_env=slow).start()
    second = None
    try:
        text = "".join(f"这是第{i}句话，用来测试工作进程在合成途中被杀掉以后的恢复。" for i in range(24))
        job = submit(api.url, {"text": text, "format": "flac"})
        progress = wait_progress(api.url, job["id"], chunks=4)
        assert progress["state"] == "running", progress
        first.kill()
        killed_at = progress["progress"]["chunks_done"]
        assert killed_at < progress["progress"]["chunks_total"]

        second = CeleryWorkerProcess(kill_settings, tmp_path, concurrency=2, name="rescuer", extra_env=slow).start()
        done = wait_for(api.url, job["id"], timeout=120)
        assert done["state"] == "succeeded", (done, second.log_tail())

        store = JobStore.from_url(kill_settings.redis_url)
        count = done["progress"]["chunks_total"]
        assert store.done_indices(job["id"]) == set(range(count))
        infos = store.chunk_infos(job["id"])
        audio, rate = decode(download(done["result"]["url"]))
        pause = kill_settings.pause_ms * rate // 1000
        # exact frame count: no chunk missing, none doubled
        assert len(audio) == sum(infos[i]["frames"] for i in range(count)) + pause * (count - 1)
    finally:
        first.kill()
        if second:
            second.stop()
        api.stop()
