"""``/v1/jobs/<id>/webhooks``: a job's webhook delivery attempts, and redelivery on demand."""

from __future__ import annotations

from flask import Blueprint, jsonify

from api.errors import ApiError
from api.extensions import resources
from api.jobs import load_job
from common.accounts import AccountStore
from common.webhook_store import WebhookStore
from common.webhooks import EVENT_TYPES, iso, webhook_url_for
from worker.webhooks import publish_delivery

bp = Blueprint("webhooks", __name__, url_prefix="/v1/jobs")


def _stores() -> tuple[WebhookStore, AccountStore]:
    res = resources()
    connection = res.store.connection
    return WebhookStore(connection, res.settings.job_ttl_seconds), AccountStore(connection)


@bp.get("/<job_id>/webhooks")
def list_attempts(job_id: str):
    """Every delivery attempt of the job's events, oldest first."""
    job = load_job(job_id)
    webhooks, accounts = _stores()
    url = webhook_url_for(job, accounts)
    attempts = [{**a, "at": iso(a["at"]), "next_retry_at": iso(a["next_retry_at"])} for a in webhooks.attempts(job.id)]
    return jsonify({
        "job_id": job.id,
        "webhook_url": url,
        "disabled": webhooks.disabled_reason(job.account, url) if url else None,
        "attempts": attempts,
    })


@bp.post("/<job_id>/webhooks/redeliver")
def redeliver(job_id: str):
    """Send the job's final event again now, re-enabling its URL if a 410 had disabled it.

    The event keeps its id (receivers deduplicate on ``webhook-id``); a failed redelivery
    follows the retry schedule from the start.
    """
    job = load_job(job_id)
    if not job.is_final:
        raise ApiError(409, "job_not_final", f"job is {job.state.value}; webhooks are sent once it has ended")
    webhooks, accounts = _stores()
    url = webhook_url_for(job, accounts)
    if not url:
        raise ApiError(400, "no_webhook_url", "the job has no webhook_url and its account has no default",
                       "webhook_url")
    event_type = EVENT_TYPES[job.state]
    event = webhooks.event(job.id, event_type)
    webhooks.enable_url(job.account, url)
    publish_delivery(resources().celery, job.id, event_type)
    response = jsonify({"job_id": job.id, "event_id": event.id, "event_type": event_type, "webhook_url": url})
    response.status_code = 202
    return response
