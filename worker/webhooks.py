"""Webhook delivery task and its triggers (the logic is in ``common.webhook_delivery``).

A job's final event is enqueued once per (job, event type): :func:`enqueue_final_event`
claims the event with ``SET NX`` before publishing, so a redelivered merge task, or both the
chunk failure and the chord error callback, never send twice. Retries are re-published
messages on the ``webhooks`` queue; delays longer than :data:`MAX_HOP_SECONDS` (the
schedule reaches 10 h) travel as several shorter hops, because the Redis broker hands an
unacknowledged ETA message to another worker once the visibility timeout passes.
"""

from __future__ import annotations

import logging
import time

import redis
from celery import Celery

from common.accounts import AccountStore
from common.errors import JobNotFound
from common.jobs import JobStatus
from common.webhook_delivery import deliver
from common.webhook_store import WebhookStore
from common.webhooks import EVENT_TYPES, Outcome, webhook_url_for
from worker import context
from worker.celery_app import WEBHOOK_QUEUE, app

log = logging.getLogger(__name__)

DELIVER_TASK = "tts.deliver_webhook"
"""Name the delivery task is published by."""

MAX_HOP_SECONDS = 3600
"""Longest countdown of one message (capped further at half the visibility timeout)."""


def _hop_limit(celery_app: Celery) -> float:
    visibility = (celery_app.conf.broker_transport_options or {}).get("visibility_timeout", 3600)
    return max(1.0, min(MAX_HOP_SECONDS, visibility / 2))


def publish_delivery(celery_app: Celery, job_id: str, event_type: str, retry: int = 1,
                     not_before: float | None = None) -> None:
    """Publish a delivery attempt by name on the ``webhooks`` queue.

    Args:
        retry: 1-based position of the attempt in the retry schedule.
        not_before: unix time before which it must not be sent (default: now).
    """
    not_before = not_before or time.time()
    countdown = min(max(0.0, not_before - time.time()), _hop_limit(celery_app))
    celery_app.send_task(DELIVER_TASK, args=(job_id, event_type, retry, not_before), queue=WEBHOOK_QUEUE,
                         countdown=countdown or None)


def enqueue_final_event(celery_app: Celery, job_id: str, event_type: str,
                        connection: redis.Redis | None = None) -> bool:
    """Enqueue delivery of a job's final event unless it was enqueued before (works with any app).

    Args:
        celery_app: any Celery app on the broker (the API's publisher app will do).
        event_type: ``job.succeeded``, ``job.failed`` or ``job.canceled``.
        connection: the job store's Redis (``decode_responses=True``); by default a
            connection to ``celery_app``'s broker URL, which is the job store's Redis here.

    Returns:
        True if this call enqueued it.

    Raises:
        ValueError: unknown event type.
        Exception: whatever the broker raised (the claim is released so it can be retried).
    """
    if event_type not in EVENT_TYPES.values():
        raise ValueError(f"unknown webhook event type {event_type!r}")
    own = connection is None
    conn = connection or redis.Redis.from_url(celery_app.conf.broker_url, decode_responses=True)
    store = WebhookStore(conn)
    try:
        if store.claim_event(job_id, event_type) is None:
            return False
        try:
            publish_delivery(celery_app, job_id, event_type)
        except Exception:
            store.release_event(job_id, event_type)
            raise
        return True
    finally:
        if own:
            conn.close()


def notify_final(job_id: str, state: JobStatus) -> None:
    """Trigger for the synthesis tasks: enqueue the job's final event if it has a webhook URL.

    Never raises: a webhook problem must not fail or retry the task that ended the job.
    """
    ctx = context.current()
    try:
        job = ctx.store.fetch(job_id)
        if webhook_url_for(job, AccountStore(ctx.store.connection)):
            enqueue_final_event(app, job_id, EVENT_TYPES[state], ctx.store.connection)
    except Exception:  # broker or Redis trouble: log it, the job's own outcome stands
        log.exception("could not enqueue the %s webhook of job %s", state.value, job_id)


@app.task(name=DELIVER_TASK, bind=True, ignore_result=True)
def deliver_webhook(self, job_id: str, event_type: str, retry: int = 1, not_before: float = 0.0) -> dict:
    """Send one attempt of a job's event; re-publish itself for the next one when it should retry."""
    if not_before - time.time() > 1.0:  # one hop of a long delay: wait again
        publish_delivery(app, job_id, event_type, retry, not_before)
        return {"waiting_until": not_before}
    ctx = context.current()
    try:
        job = ctx.store.fetch(job_id)
    except JobNotFound:
        return {"skipped": "job expired"}
    url = webhook_url_for(job, AccountStore(ctx.store.connection))
    if not url:
        return {"skipped": "no webhook url"}
    store = WebhookStore(ctx.store.connection, ctx.settings.job_ttl_seconds)
    result = deliver(job, event_type, url, ctx.settings, store, ctx.storage, retry)
    if result.outcome is Outcome.RETRY and result.retry_in is not None:
        publish_delivery(app, job_id, event_type, retry + 1, time.time() + result.retry_in)
    return {"attempt": result.attempt, "outcome": result.outcome.value, "retry_in": result.retry_in}
