"""The Celery application and the delivery settings that make jobs survive killed workers.

Start a worker with ``tingshu worker`` (or ``celery -A worker.celery_app worker``). Broker and
result backend are the Redis at ``TINGSHU_REDIS_URL``.
"""

from __future__ import annotations

from celery import Celery
from celery.backends.redis import RedisBackend

from common.config import Settings
from worker import observability  # noqa: F401  (connects the JSON-logging signal handlers)

TASK_MODULES = ["worker.tasks", "worker.webhooks"]
INTERACTIVE_QUEUE = "interactive"
"""Short texts, the synchronous endpoint and previews."""
BULK_QUEUE = "bulk"
"""Long jobs and audiobooks."""
WEBHOOK_QUEUE = "webhooks"
"""Webhook deliveries: short HTTP calls, drained before bulk work so they never wait for a book."""
CONSUME_ORDER = [INTERACTIVE_QUEUE, WEBHOOK_QUEUE, BULK_QUEUE]
"""Queues a worker drains, in strict priority order (``queue_order_strategy='priority'``):
a free worker process always takes interactive work first, so a 500k-character book never
starves a 20-character request for longer than one chunk group."""


def celery_config(settings: Settings) -> dict:
    """The lowercase Celery settings for ``settings`` (documented choice by choice)."""
    transport = {
        # A task not acknowledged within this many seconds is handed to another worker.
        # It must exceed the longest chunk task, or a slow chunk would run twice.
        "visibility_timeout": settings.visibility_timeout,
        # Look for unacknowledged messages of dead workers at most every 10 s (kombu scans
        # only every interval*throttle seconds by default, 100 s).
        "unacked_restore_interval": min(10, settings.visibility_timeout),
        "unacked_restore_throttle": 1,
        # BRPOP the queues in the order given to -Q (kombu's default rotates them for
        # fairness, which would let bulk work delay interactive requests).
        "queue_order_strategy": "priority",
    }
    return {
        "broker_url": settings.redis_url,
        "result_backend": settings.redis_url,
        "broker_transport_options": transport,
        "result_backend_transport_options": {"visibility_timeout": settings.visibility_timeout},
        "broker_connection_retry_on_startup": True,
        # Acknowledge after the task ran, not when it is received: a worker killed mid-chunk
        # leaves the message unacknowledged, and it is delivered again (tasks are idempotent:
        # chunk audio goes to a deterministic key and progress is a set of indices).
        "task_acks_late": True,
        # A child process that dies (OOM killer, SIGKILL) requeues its task instead of
        # failing it.
        "task_reject_on_worker_lost": True,
        # Reserve one task at a time, so a long chunk never holds others hostage.
        "worker_prefetch_multiplier": 1,
        # Results (and the chord counters stored with them) must outlive the longest job,
        # or the merge callback of a book-length job would never fire.
        "result_expires": settings.result_expires,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "task_default_queue": BULK_QUEUE,
        "task_routes": {"tts.cleanup_expired": {"queue": INTERACTIVE_QUEUE}},
        # Run by one beat process (`tingshu beat`, or `tingshu worker --beat`).
        "beat_schedule": {
            "tingshu-cleanup-expired": {"task": "tts.cleanup_expired",
                                        "schedule": float(settings.cleanup_interval_seconds)},
        },
        "task_track_started": True,
        # Loading the model and warming the front end takes seconds; the default 4 s would
        # make prefork think its children hung.
        "worker_proc_alive_timeout": 300,
        "worker_hijack_root_logger": False,
        "worker_send_task_events": False,
    }


class PublishOnlyRedisBackend(RedisBackend):
    """Redis result backend for processes that publish tasks but never wait on them (the API).

    The stock backend subscribes to every published task's result channel so that a later
    ``.get()`` is fast; the API never calls ``.get()``, and a book-length job publishes
    thousands of tasks, so it would only pile up subscriptions.
    """

    def on_task_call(self, producer, task_id):
        return None

    def add_pending_result(self, result, weak=False, start_drainer=True):
        return result

    def remove_pending_result(self, result):
        return result


def make_celery(settings: Settings | None = None, publisher: bool = False) -> Celery:
    """Create the Celery app configured from ``settings`` (default: the environment).

    Args:
        publisher: for processes that only publish (the API): results are never awaited.
    """
    settings = settings or Settings.from_env()
    app = Celery("tingshu", include=TASK_MODULES)
    app.conf.update(celery_config(settings))
    if publisher:
        app.conf.result_backend = f"{__name__}:PublishOnlyRedisBackend+{settings.redis_url}"
    return app


app = make_celery()
