"""One webhook delivery attempt: check, build, sign, POST, classify and record it.

Framework-free so the Celery task in ``worker.webhooks`` only schedules: it calls
:func:`deliver` and re-publishes itself when the result says to retry.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import requests

from common import metrics
from common.config import Settings
from common.jobs import Job, JobStatus
from common.storage import Storage
from common.webhook_store import Attempt, WebhookStore
from common.webhooks import (DELIVERY_TIMEOUT, Outcome, UnsafeUrl, account_secrets, build_event, check_url,
                             classify, encode_event, iso, parse_retry_after, parse_schedule, retry_delay,
                             webhook_headers)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Response:
    """What the receiver did: a status code, or an error when it never answered."""

    status_code: int | None
    error: str | None
    retry_after: str | None
    duration_seconds: float


@dataclass(frozen=True)
class DeliveryResult:
    """The recorded attempt's number and outcome, and when to try again (RETRY only)."""

    attempt: int
    outcome: Outcome
    retry_in: float | None = None


def post(url: str, body: bytes, headers: dict[str, str], timeout: float = DELIVERY_TIMEOUT) -> Response:
    """POST ``body`` without following redirects and without reading the answer's body.

    Proxy variables of the environment are ignored: the SSRF guard checked this host, so
    this host is what must be connected to.
    """
    started = time.perf_counter()
    with requests.Session() as session:
        session.trust_env = False
        try:
            response = session.post(url, data=body, headers=headers, timeout=timeout,
                                    allow_redirects=False, stream=True)
        except requests.RequestException as exc:
            return Response(None, f"{type(exc).__name__}: {exc}"[:500], None, time.perf_counter() - started)
        response.close()
    return Response(response.status_code, None, response.headers.get("Retry-After"),
                    time.perf_counter() - started)


def result_link(job: Job, storage: Storage, settings: Settings) -> tuple[str | None, float | None]:
    """Download URL of a succeeded job's audio and when it expires.

    A presigned URL with S3 storage; with local storage, the API path of the audio (which
    does not expire on its own).
    """
    if job.state is not JobStatus.SUCCEEDED or not job.result_key:
        return None, None
    url = storage.presigned_url(job.result_key, settings.s3_presign_seconds, f"tingshu-{job.id}.{job.format}")
    if url:
        return url, time.time() + settings.s3_presign_seconds
    return f"/v1/jobs/{job.id}/audio", None


def deliver(job: Job, event_type: str, url: str, settings: Settings, store: WebhookStore, storage: Storage,
            retry: int = 1) -> DeliveryResult:
    """Attempt to deliver the job's ``event_type`` event to ``url``, and record the attempt.

    Nothing is sent to a URL disabled by an earlier 410, to a URL the SSRF guard refuses now
    (DNS may have changed since submission) or without a signing secret; the record says why.

    Args:
        retry: 1-based position of this attempt in the retry schedule.
    """
    event = store.event(job.id, event_type)
    base = {"event_id": event.id, "event_type": event_type, "at": time.time(), "url": url}
    disabled = store.disabled_reason(job.account, url)
    if disabled:
        return _record(store, job, Attempt(**base, outcome=Outcome.DISABLE.value, error=f"disabled: {disabled}"))
    try:
        check_url(url, settings.webhook_allow)
    except UnsafeUrl as exc:
        return _record(store, job, Attempt(**base, outcome=Outcome.GIVE_UP.value, error=f"refused: {exc}"))
    secrets = account_secrets(job.account, settings)
    if not secrets:
        return _record(store, job, Attempt(**base, outcome=Outcome.GIVE_UP.value,
                                           error="no signing secret configured (TINGSHU_WEBHOOK_SECRETS)"))
    body = encode_event(build_event(job, event.id, event.created_at, *result_link(job, storage, settings)))
    response = post(url, body, webhook_headers(event.id, int(time.time()), body, secrets))
    outcome, error, retry_in = _judge(response, retry, settings)
    if outcome is Outcome.DISABLE:
        store.disable_url(job.account, url, f"answered 410 Gone at {iso(time.time())}")
    attempt = Attempt(**base, outcome=outcome.value, status_code=response.status_code, error=error,
                      duration_seconds=round(response.duration_seconds, 3),
                      next_retry_at=time.time() + retry_in if retry_in is not None else None)
    return _record(store, job, attempt, retry_in)


def _judge(response: Response, retry: int, settings: Settings) -> tuple[Outcome, str | None, float | None]:
    """Outcome, error text and retry delay of one answer (``Retry-After`` wins when later)."""
    outcome, error = classify(response.status_code), response.error
    code = response.status_code
    if outcome is Outcome.DISABLE:
        error = "410 Gone: URL disabled for later events"
    elif outcome is Outcome.GIVE_UP:
        error = f"HTTP {code}: redirects are not followed" if 300 <= code < 400 else f"HTTP {code}: not retried"
    elif outcome is Outcome.RETRY:
        error = error or f"HTTP {code}"
        delay = retry_delay(retry, parse_schedule(settings.webhook_schedule))
        if delay is None:
            return Outcome.GIVE_UP, f"{error}; retries exhausted", None
        asked = parse_retry_after(response.retry_after)
        return outcome, error, max(delay, asked or 0.0)
    return outcome, error, None


def _record(store: WebhookStore, job: Job, attempt: Attempt, retry_in: float | None = None) -> DeliveryResult:
    number = store.record_attempt(job.id, attempt)
    metrics.record_webhook_attempt(store.connection, attempt.outcome)
    log.info("webhook %s of job %s to %s: attempt %d %s %s", attempt.event_type, job.id, attempt.url, number,
             attempt.outcome, attempt.status_code or attempt.error or "")
    return DeliveryResult(number, Outcome(attempt.outcome), retry_in)
