"""Ending jobs early and cleaning up after them: cancel, delete, discard chunks, expire.

Canceling does not chase individual Celery messages: every chunk task checks the job's state
before it starts (a canceled job's queued tasks are consumed and skipped at once), and a
task that was already running discards what it wrote when it finds the job final. So a
canceled or failed job leaves no chunk objects behind, whichever finishes last.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from common.job_listing import accounts, expired_job_ids, forget
from common.jobs import Job, JobStatus, JobStore
from common.storage import Storage
from common.storage.keys import chunk_key, chunks_prefix, job_prefix

ACTIVE_STATES = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.MERGING)


def discard_chunks(storage: Storage, job_id: str) -> int:
    """Delete every stored chunk of a job; returns how many objects were removed."""
    return storage.delete_prefix(chunks_prefix(job_id))


def discard_written(storage: Storage, job_id: str, indices) -> None:
    """Delete chunk objects a task wrote for a job that ended meanwhile."""
    for index in indices:
        storage.delete(chunk_key(job_id, index))


def cancel_job(store: JobStore, storage: Storage, job_id: str) -> Job:
    """Cancel an active job and delete its partial audio.

    Raises:
        JobNotFound: no such job.
        InvalidJobOperation: the job already ended.
    """
    store.transition(job_id, JobStatus.CANCELED, ACTIVE_STATES, finished_at=time.time(),
                     error="canceled by the client")
    discard_chunks(storage, job_id)
    return store.fetch(job_id)


def delete_job(store: JobStore, storage: Storage, job_id: str) -> None:
    """Remove a job, its record and all its objects (canceling it first if it is active)."""
    job = store.fetch(job_id)
    if not job.is_final:
        store.transition(job_id, JobStatus.CANCELED, ACTIVE_STATES, finished_at=time.time(),
                         error="deleted by the client")
    storage.delete_prefix(job_prefix(job_id))
    store.delete(job_id)


@dataclass
class CleanupReport:
    expired_jobs: int
    objects_deleted: int


def cleanup_expired(store: JobStore, storage: Storage) -> CleanupReport:
    """Delete the stored audio of jobs whose records have expired, and forget their ids."""
    jobs = objects = 0
    for account in accounts(store):
        ids = expired_job_ids(store, account)
        for job_id in ids:
            objects += storage.delete_prefix(job_prefix(job_id))
        forget(store, account, ids)
        jobs += len(ids)
    return CleanupReport(expired_jobs=jobs, objects_deleted=objects)
