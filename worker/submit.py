"""Turn a validated request into a stored job and its published chord (used by the API).

Tasks are published *by name* through whichever Celery app the caller holds (the API builds
its own, pointed at its Redis), so publishing never imports the task bodies or the engine.
A job is recorded in Redis before its tasks are published; if publishing fails, the record is
marked failed with the reason and the caller gets the error, so nothing is left half-queued.
"""

from __future__ import annotations

from celery import Celery, chord

from common.config import Settings
from common.engines.base import EngineInfo
from common.job_request import JobRequest
from common.jobs import Job, JobStore
from common.pipeline import plan_chunks, task_groups
from worker.celery_app import BULK_QUEUE, INTERACTIVE_QUEUE

SYNTHESIZE_TASK = "tts.synthesize_chunks"
MERGE_TASK = "tts.merge_job"
FAILED_TASK = "tts.job_failed"


class EnqueueFailed(RuntimeError):
    """The broker refused the job's tasks; the job record says why."""


def enqueue_job(app: Celery, job: Job) -> str:
    """Publish the chunk tasks of ``job`` as a chord whose body merges them.

    Returns:
        The id of the chord's merge task.
    """
    header = [app.signature(SYNTHESIZE_TASK, args=(job.id, first, count), immutable=True, queue=job.queue)
              for first, count in task_groups(job.chunk_count, job.chunks_per_task)]
    body = app.signature(MERGE_TASK, args=(job.id,), queue=job.queue)
    body.on_error(app.signature(FAILED_TASK, args=(job.id,), queue=job.queue))
    return chord(header, app=app)(body).id


def choose_queue(text_chars: int, settings: Settings, interactive: bool = False) -> str:
    """``interactive`` for short texts (at most ``sync_max_chars``) and the sync endpoint."""
    return INTERACTIVE_QUEUE if interactive or text_chars <= settings.sync_max_chars else BULK_QUEUE


def submit_job(app: Celery, request: JobRequest, settings: Settings, store: JobStore, info: EngineInfo,
               account: str = "default", interactive: bool = False, max_in_flight: int = 0) -> Job:
    """Plan chunks, store the job and publish its tasks.

    Raises:
        ValidationError: the text has nothing to speak.
        InFlightLimitReached: the account already has ``max_in_flight`` unfinished jobs.
        EnqueueFailed: the broker could not take the tasks.
    """
    chunks = plan_chunks(request.text, settings, info.max_chunk_chars)
    job = Job(
        id=store.new_id(), text_chars=len(request.text), engine=info.name, voice=request.voice,
        emotion=request.emotion, speed=request.speed, format=request.format, seed=request.seed,
        chunks_per_task=settings.chunks_per_task, sample_rate=info.sample_rate, metadata=request.metadata,
        account=account, queue=choose_queue(len(request.text), settings, interactive),
        webhook_url=request.webhook_url,
    )
    store.create(job, chunks, max_in_flight)
    try:
        enqueue_job(app, job)
    except Exception as exc:  # broker down or refusing: record it, then tell the caller
        store.fail(job.id, f"could not enqueue: {exc}")
        raise EnqueueFailed(str(exc)) from exc
    return job
