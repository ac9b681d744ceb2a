"""Celery tasks: synthesize a group of chunks, merge a finished job, record a failed one.

Tasks are thin (Celery's advice): they take ids and indices, call ``common.pipeline`` and map
errors to retries or job failure. They are idempotent because ``task_acks_late`` may run a
task twice: chunk audio goes to a deterministic key, and progress is a set of indices.
"""

from __future__ import annotations

import logging
import time

from celery import signals

from common import metrics
from common.engines.base import SynthesisOptions
from common.errors import JobNotFound
from common.jobs import Job, JobStatus
from common.lifecycle import cleanup_expired, discard_chunks, discard_written
from common.pipeline import chunk_seed, merge_and_upload, synthesize_group
from worker import context
from worker.celery_app import app
from worker.webhooks import notify_final

log = logging.getLogger(__name__)

MERGE_WAIT_RETRIES = 30
"""How often the merge waits (2 s apart) for chunks a redelivered task is still writing."""
MERGE_REPUBLISH_AFTER = 5
"""After this many waits, the groups still missing are published again: a chunk task whose
message or progress record was lost (a Redis crash between fsyncs) would otherwise never
come back."""


@signals.worker_process_init.connect
def _load_engine_in_child(**_kwargs) -> None:
    """Load and warm the engine in each pool process (never in the prefork parent)."""
    ctx = context.current()
    started = time.perf_counter()
    ctx.engine().warmup()
    log.info("engine %s ready in %.1f s (pid %s)", ctx.settings.engine, time.perf_counter() - started, ctx.pid)


def _retry_countdown(retries: int) -> float:
    return min(60.0, 2.0 * (2**retries))


@app.task(name="tts.synthesize_chunks", bind=True, max_retries=None)
def synthesize_chunks(self, job_id: str, first: int, count: int) -> dict:
    """Synthesize chunks ``first..first+count-1`` of a job and store their audio.

    A job that is already final (failed, canceled) is skipped, so one bad chunk does not
    keep the others busy. After ``chunk_retries`` failed attempts the job is failed.
    """
    ctx = context.current()
    try:
        job = ctx.store.fetch(job_id)
    except JobNotFound:
        return {"first": first, "count": count, "skipped": "missing"}
    if job.is_final:
        return {"first": first, "count": count, "skipped": job.state.value}
    wanted = set(range(first, first + count))
    if wanted <= ctx.store.done_indices(job_id):
        return {"first": first, "count": count, "skipped": "done"}
    started = time.perf_counter()
    try:
        texts = ctx.store.chunk_texts(job_id, first, count)
        options = SynthesisOptions(job.voice, job.emotion, job.speed, chunk_seed(job.seed, first))
        infos = synthesize_group(ctx.engine(job.engine), ctx.storage, job_id, first, texts, options)
    except Exception as exc:  # any failure of a chunk: retry, then fail the job with the reason
        if self.request.retries < ctx.settings.chunk_retries:
            log.warning("job %s chunks %d+%d failed (attempt %d): %s", job_id, first, count,
                        self.request.retries + 1, exc)
            raise self.retry(exc=exc, countdown=_retry_countdown(self.request.retries))
        reason = f"chunks {first}-{first + count - 1} failed after {self.request.retries + 1} attempts: {exc}"
        if ctx.store.fail(job_id, reason):
            notify_final(job_id, JobStatus.FAILED)
        discard_chunks(ctx.storage, job_id)
        raise
    if ctx.store.mark_chunks_done(job_id, infos) == -1:
        # canceled or failed while this group was synthesized: drop what it wrote
        discard_written(ctx.storage, job_id, infos)
        return {"first": first, "count": count, "skipped": "ended meanwhile"}
    metrics.record_synthesis(ctx.store.connection, job.engine, time.perf_counter() - started, infos)
    return {"first": first, "count": count,
            "audio_seconds": sum(i["audio_seconds"] for i in infos.values()),
            "synth_seconds": sum(i["synth_seconds"] for i in infos.values())}


@app.task(name="tts.merge_job", bind=True, max_retries=None)
def merge_job(self, _results: list, job_id: str) -> dict:
    """Chord callback: merge the chunks in order, upload the result, mark the job succeeded."""
    ctx = context.current()
    try:
        job = ctx.store.fetch(job_id)
    except JobNotFound:
        return {"skipped": "missing"}
    if job.is_final:
        notify_final(job_id, job.state)  # once per event: a no-op unless a crash lost it
        return {"skipped": job.state.value}
    # a chunk counts as done only after its audio is stored, so the done set says what exists
    missing = sorted(set(range(job.chunk_count)) - ctx.store.done_indices(job_id))
    if missing:
        if self.request.retries == MERGE_REPUBLISH_AFTER:
            _republish_missing(job, missing)
        if self.request.retries < MERGE_WAIT_RETRIES:
            raise self.retry(countdown=2.0)
        if ctx.store.fail(job_id, f"chunks missing at merge time: {missing[:20]}"):
            notify_final(job_id, JobStatus.FAILED)
        return {"failed": "missing chunks"}
    ctx.store.transition(job_id, JobStatus.MERGING, [JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.MERGING],
                         merge_started_at=time.time())
    try:
        merged = merge_and_upload(ctx.storage, job_id, job.chunk_count, job.format,
                                  _sample_rate(ctx, job), ctx.settings.pause_ms)
    except Exception as exc:
        if self.request.retries < ctx.settings.chunk_retries:
            raise self.retry(exc=exc, countdown=_retry_countdown(self.request.retries))
        if ctx.store.fail(job_id, f"merge failed: {exc}"):
            notify_final(job_id, JobStatus.FAILED)
        raise
    ctx.store.transition(job_id, JobStatus.SUCCEEDED, [JobStatus.MERGING], result_key=merged.key,
                         result_bytes=merged.size, audio_seconds=merged.stats.duration_seconds,
                         finished_at=time.time())
    notify_final(job_id, JobStatus.SUCCEEDED)
    discard_chunks(ctx.storage, job_id)
    return {"result_key": merged.key, "audio_seconds": merged.stats.duration_seconds}


def _republish_missing(job: Job, missing: list[int]) -> None:
    """Publish the chunk groups that hold ``missing`` indices again (idempotent tasks)."""
    firsts = sorted({index - index % job.chunks_per_task for index in missing})
    log.warning("job %s: %d chunks still missing at merge time; publishing %d groups again",
                job.id, len(missing), len(firsts))
    for first in firsts:
        count = min(job.chunks_per_task, job.chunk_count - first)
        synthesize_chunks.apply_async((job.id, first, count), queue=job.queue)


def _sample_rate(ctx: context.WorkerContext, job: Job) -> int:
    if job.sample_rate:
        return job.sample_rate
    infos = ctx.store.chunk_infos(job.id)
    return next(iter(infos.values()))["sample_rate"]


@app.task(name="tts.job_failed")
def job_failed(request, exc, traceback, job_id: str) -> None:
    """Chord error callback: a chunk failed for good, so the job fails with its reason."""
    ctx = context.current()
    if ctx.store.fail(job_id, f"{type(exc).__name__}: {exc}"):
        notify_final(job_id, JobStatus.FAILED)
    discard_chunks(ctx.storage, job_id)


@app.task(name="tts.cleanup_expired")
def cleanup_expired_jobs() -> dict:
    """Periodic (Celery beat): delete the audio of expired jobs and forget their ids."""
    ctx = context.current()
    report = cleanup_expired(ctx.store, ctx.storage)
    log.info("cleanup: %d expired jobs, %d objects deleted", report.expired_jobs, report.objects_deleted)
    return {"expired_jobs": report.expired_jobs, "objects_deleted": report.objects_deleted}
