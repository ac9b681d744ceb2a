"""Redis crashes (SIGKILL) mid-job and comes back from its AOF: the job still completes.

Workers and the API reconnect on their own; a progress record or task message lost between
AOF fsyncs is made good by the merge, which publishes the missing chunk groups again.
"""

from __future__ import annotations

from tests.integration.jobclient import decode, download, submit, wait_for, wait_progress
from tingshu.services import RedisServer, running_stack


def test_job_survives_a_redis_crash(s3_session_settings, tmp_path):
    redis_server = RedisServer(tmp_path / "redis", appendonly=True).start()
    settings = s3_session_settings.replace(redis_url=redis_server.url, engine="tone", chunk_chars=40,
                                           chunks_per_task=2, allow_anonymous=True, default_rate_per_minute=0,
                                           visibility_timeout=10)
    try:
        with running_stack(settings, tmp_path, "redis-crash", concurrency=2,
                           extra_env={"TINGSHU_TONE_DELAY_PER_CHAR": "0.01"}) as (api, worker):
            text = "".join(f"第{i}句话在数据库重启的时候也不能丢。" for i in range(30))
            job = submit(api.url, {"text": text, "format": "flac"})
            assert wait_progress(api.url, job["id"], chunks=4)["state"] == "running"
            redis_server.restart(kill=True)
            done = wait_for(api.url, job["id"], timeout=180)
            assert done["state"] == "succeeded", (done, worker.log_tail())
            audio, rate = decode(download(done["result"]["url"]))
            assert abs(len(audio) / rate - done["result"]["audio_seconds"]) < 1e-3
            assert done["progress"]["chunks_done"] == done["progress"]["chunks_total"]
    finally:
        redis_server.stop()


def test_merge_republishes_chunk_groups_that_never_ran(stack_settings, tone_worker, api_server):
    """A job whose chunk messages were lost entirely: the merge brings them back."""
    from common.jobs import Job, JobStore
    from common.pipeline import plan_chunks
    from worker.celery_app import make_celery
    from worker.submit import MERGE_TASK

    store = JobStore.from_url(stack_settings.redis_url)
    chunks = plan_chunks("丢失的消息会被重新发布。" * 6, stack_settings, 40)
    job = store.create(Job(id=store.new_id(), engine="tone", voice="tone-a", format="wav", sample_rate=16000,
                           chunks_per_task=2, queue="interactive"), chunks)
    make_celery(stack_settings, publisher=True).send_task(MERGE_TASK, args=([], job.id), queue="interactive")
    done = wait_for(api_server.url, job.id, timeout=90)
    assert done["state"] == "succeeded", (done, tone_worker.log_tail())
    assert "publishing" in tone_worker.log() and done["progress"]["chunks_done"] == len(chunks)
