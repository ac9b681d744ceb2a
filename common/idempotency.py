"""Storage for ``Idempotency-Key`` (draft-ietf-httpapi-idempotency-key-header), framework-free.

One Redis string per (account, key), holding JSON. A request first claims its key with
``SET NX`` and a short "processing" marker carrying a random token and the fingerprint of the
request body; concurrent duplicates lose that race and see the marker. When the request
succeeds its response replaces the marker for ``ttl_seconds``; when it fails the marker is
removed (only if it is still ours), so the client may retry with the same key.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import asdict, dataclass, field
from typing import Any

import redis

from common.jobs import ACCOUNT_PREFIX

PROCESSING = "processing"
DONE = "done"

IN_PROGRESS_SECONDS = 60
"""Lifetime of the "processing" marker: a crashed request blocks its key at most this long."""


def idempotency_key(account: str, key: str) -> str:
    """The record of one idempotency key (the key is hashed: any length, any characters)."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    return f"{ACCOUNT_PREFIX}{account}:idem:{digest}"


def fingerprint(payload: Any) -> str:
    """SHA-256 of the canonical JSON of a decoded body (sorted keys, no spaces, UTF-8)."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass
class IdempotencyRecord:
    """What is stored for a key: the marker while processing, the response once done."""

    state: str
    fingerprint: str
    token: str = ""
    status: int | None = None
    job_id: str | None = None
    body: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def is_processing(self) -> bool:
        return self.state == PROCESSING

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str) -> "IdempotencyRecord":
        return cls(**json.loads(raw))


# KEYS[1]=record; ARGV[1]=token. Write ARGV[2] for ARGV[3] s unless someone else holds the key.
_COMPLETE = """
local cur = redis.call('GET', KEYS[1])
if cur and cjson.decode(cur)['token'] ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', tonumber(ARGV[3]))
return 1
"""

# KEYS[1]=record; ARGV[1]=token. Delete the record only while it is our marker.
_RELEASE = """
local cur = redis.call('GET', KEYS[1])
if cur and cjson.decode(cur)['token'] == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class IdempotencyStore:
    """Claim, complete and release idempotency keys.

    Args:
        connection: a ``redis.Redis`` created with ``decode_responses=True``.
        ttl_seconds: how long a finished request's response is kept.
        in_progress_seconds: lifetime of the "processing" marker.
    """

    def __init__(self, connection: redis.Redis, ttl_seconds: int, in_progress_seconds: int = IN_PROGRESS_SECONDS):
        self.connection = connection
        self.ttl_seconds = ttl_seconds
        self.in_progress_seconds = in_progress_seconds
        self._complete = connection.register_script(_COMPLETE)
        self._release = connection.register_script(_RELEASE)

    def claim(self, account: str, key: str, body_fingerprint: str) -> tuple[str | None, IdempotencyRecord | None]:
        """Try to become the one request that processes ``key``.

        Returns:
            ``(token, None)`` when claimed (pass the token to :meth:`complete`/:meth:`release`),
            else ``(None, record)``: the marker of a request in progress, or a finished response.
        """
        redis_key = idempotency_key(account, key)
        token = secrets.token_hex(16)
        marker = IdempotencyRecord(state=PROCESSING, fingerprint=body_fingerprint, token=token).to_json()
        for _ in range(5):
            if self.connection.set(redis_key, marker, nx=True, ex=self.in_progress_seconds):
                return token, None
            raw = self.connection.get(redis_key)
            if raw is not None:
                return None, IdempotencyRecord.from_json(raw)
        raise RuntimeError(f"could not claim idempotency key {redis_key}")  # expiring and re-created 5 times

    def complete(self, account: str, key: str, token: str, record: IdempotencyRecord) -> bool:
        """Store the finished response for ``ttl_seconds``; False if another request holds the key."""
        record.state, record.token = DONE, token
        return bool(self._complete(keys=[idempotency_key(account, key)],
                                   args=[token, record.to_json(), self.ttl_seconds]))

    def release(self, account: str, key: str, token: str) -> None:
        """Forget a claim whose request failed (only if the marker is still ours)."""
        self._release(keys=[idempotency_key(account, key)], args=[token])

    def mark_processing(self, account: str, key: str, body_fingerprint: str) -> str:
        """Write a "processing" marker unconditionally (tests and tooling); returns its token."""
        token = secrets.token_hex(16)
        record = IdempotencyRecord(state=PROCESSING, fingerprint=body_fingerprint, token=token)
        self.connection.set(idempotency_key(account, key), record.to_json(), ex=self.in_progress_seconds)
        return token
