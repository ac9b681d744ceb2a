"""Worker-side logging: JSON lines carrying the job and account of the task being run.

Connected by ``worker.celery_app`` (imported with it, so the handlers are in place before the
worker sets up its logging):

* ``after_setup_logger`` / ``after_setup_task_logger`` give Celery's handlers (the ``-f``
  log file or stderr) the formatter of the ``log_format`` setting;
* ``task_prerun`` binds ``job_id`` (the task's job id argument), ``account`` (read from the
  job record), ``task`` and ``task_id`` to the log context and logs the start;
  ``task_postrun`` logs the end with the task's state and duration and unbinds.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any, Sequence

from celery import signals

from common import logs
from common.config import Settings
from common.jobs import key_for

log = logging.getLogger("tingshu.task")

_JOB_ID = re.compile(r"^[0-9a-f]{32}$")
"""Job ids are ``uuid4().hex`` (``JobStore.new_id``)."""

_RUNNING: dict[str, tuple[Any, float]] = {}
"""task id → (log context token, start time) of the tasks running in this process."""


def _log_format() -> str:
    try:
        return Settings.from_env().log_format
    except ValueError:
        return "json"


@signals.after_setup_logger.connect
def _format_worker_logs(logger: logging.Logger, **_kwargs) -> None:
    logs.use_formatter(logger, _log_format())
    from celery.utils.log import get_multiprocessing_logger

    mp_logger = get_multiprocessing_logger()
    if mp_logger is not None:
        logs.use_formatter(mp_logger, _log_format())


@signals.after_setup_task_logger.connect
def _format_task_logs(logger: logging.Logger, **_kwargs) -> None:
    logs.use_formatter(logger, _log_format())


def job_id_of(args: Sequence[Any] | None, kwargs: dict | None) -> str | None:
    """The job id a task works on: its ``job_id`` keyword, else its first job-id-shaped argument.

    Chunk tasks take it first; the chord callbacks take it after the header's results.
    """
    if kwargs and isinstance(kwargs.get("job_id"), str):
        return kwargs["job_id"]
    for arg in args or ():
        if isinstance(arg, str) and _JOB_ID.match(arg):
            return arg
    return None


def _account_of(job_id: str) -> str | None:
    from worker import context

    try:
        return context.current().store.connection.hget(key_for(job_id), "account")
    except Exception:  # logging context is best effort; the task reports real failures
        return None


@signals.task_prerun.connect
def _bind_task_context(task_id: str = None, task=None, args=None, kwargs=None, **_kwargs) -> None:
    job_id = job_id_of(args, kwargs)
    account = _account_of(job_id) if job_id else None
    token = logs.bind(job_id=job_id, account=account, task=getattr(task, "name", None), task_id=task_id)
    _RUNNING[task_id] = (token, time.perf_counter())
    log.info("task started")


@signals.task_postrun.connect
def _unbind_task_context(task_id: str = None, state: str | None = None, **_kwargs) -> None:
    token, started = _RUNNING.pop(task_id, (None, None))
    if started is not None:
        log.info("task ended", extra={"state": state, "duration_seconds": round(time.perf_counter() - started, 4)})
    if token is not None:
        try:
            logs.unbind(token)
        except ValueError:  # bound in another context (should not happen in a pool process)
            pass
