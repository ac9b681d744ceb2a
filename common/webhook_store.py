"""Webhook state in Redis: the once-per-event guard, attempt records and disabled URLs.

Keys are built by the helpers below on top of :func:`common.jobs.key_for`, so a job's webhook
keys sit next to its hash and expire with it; disabled URLs are per account.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Any

import redis

from common.jobs import ACCOUNT_PREFIX, key_for
from common.webhooks import new_event_id


def webhook_event_key(job_id: str, event_type: str) -> str:
    """JSON ``{"id", "created_at"}`` of the job's event of that type; its SET NX is the guard."""
    return f"{key_for(job_id)}:webhook:{event_type}"


def webhook_attempts_key(job_id: str) -> str:
    """List of JSON attempt records of the job's webhook deliveries, oldest first."""
    return f"{key_for(job_id)}:webhook:attempts"


def disabled_urls_key(account: str) -> str:
    """Hash URL → JSON (when and why) of the account's webhook URLs that answered 410 Gone."""
    return f"{ACCOUNT_PREFIX}{account}:webhooks:disabled"


@dataclass(frozen=True)
class EventRecord:
    """The identity of one event, kept across retries and redeliveries."""

    id: str
    type: str
    created_at: float


@dataclass
class Attempt:
    """One delivery attempt (or a decision not to send), as listed by the API."""

    event_id: str
    event_type: str
    at: float
    url: str
    outcome: str
    status_code: int | None = None
    error: str | None = None
    duration_seconds: float | None = None
    next_retry_at: float | None = None


class WebhookStore:
    """Webhook records of jobs in the job store's Redis.

    Args:
        connection: a ``redis.Redis`` created with ``decode_responses=True``.
        ttl_seconds: lifetime of the records when the job itself has no TTL (yet).
    """

    def __init__(self, connection: redis.Redis, ttl_seconds: int = 7 * 24 * 3600):
        self.connection = connection
        self.ttl_seconds = ttl_seconds

    def _ttl(self, job_id: str) -> int:
        """Seconds left to the job's hash, so webhook records expire with the job."""
        left = int(self.connection.ttl(key_for(job_id)))
        return left if left > 0 else self.ttl_seconds

    def claim_event(self, job_id: str, event_type: str) -> EventRecord | None:
        """Create the job's event of ``event_type`` unless it exists (SET NX).

        Returns:
            The new event, or None when it was claimed before (do not enqueue again).
        """
        record = EventRecord(new_event_id(), event_type, time.time())
        created = self.connection.set(webhook_event_key(job_id, event_type), json.dumps(asdict(record)),
                                      nx=True, ex=self._ttl(job_id))
        return record if created else None

    def release_event(self, job_id: str, event_type: str) -> None:
        """Forget the event (its delivery could not even be enqueued)."""
        self.connection.delete(webhook_event_key(job_id, event_type))

    def event(self, job_id: str, event_type: str) -> EventRecord:
        """The job's event of ``event_type``, created now if it was never claimed."""
        raw = self.connection.get(webhook_event_key(job_id, event_type))
        if raw:
            return EventRecord(**json.loads(raw))
        claimed = self.claim_event(job_id, event_type)
        return claimed or self.event(job_id, event_type)

    def record_attempt(self, job_id: str, attempt: Attempt) -> int:
        """Append an attempt record.

        Returns:
            The attempt's number (1-based) among the job's records.
        """
        key = webhook_attempts_key(job_id)
        with self.connection.pipeline(transaction=True) as pipe:
            pipe.rpush(key, json.dumps(asdict(attempt)))
            pipe.expire(key, self._ttl(job_id))
            number, _ = pipe.execute()
        return int(number)

    def attempts(self, job_id: str) -> list[dict[str, Any]]:
        """The job's attempt records, oldest first, each with its ``attempt`` number."""
        raw = self.connection.lrange(webhook_attempts_key(job_id), 0, -1)
        return [{"attempt": n, **json.loads(item)} for n, item in enumerate(raw, start=1)]

    def disable_url(self, account: str, url: str, reason: str) -> None:
        """Stop sending the account's events to ``url``."""
        self.connection.hset(disabled_urls_key(account), url, json.dumps({"at": time.time(), "reason": reason}))

    def enable_url(self, account: str, url: str) -> bool:
        """Send to ``url`` again. Returns True if it was disabled."""
        return bool(self.connection.hdel(disabled_urls_key(account), url))

    def disabled_reason(self, account: str, url: str) -> str | None:
        """Why ``url`` is disabled for the account, or None when it is not."""
        raw = self.connection.hget(disabled_urls_key(account), url)
        return json.loads(raw)["reason"] if raw else None
