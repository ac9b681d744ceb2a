"""Signed webhooks after Standard Webhooks 1.0: events, signatures, the SSRF guard, retries.

A job that reaches a final state may notify a URL (the job's ``webhook_url``, else its
account's default) with a small JSON event. Every request carries ``webhook-id``,
``webhook-timestamp`` and ``webhook-signature`` (``v1,<base64 HMAC-SHA256>`` of
``"{id}.{timestamp}.{body}"``, one per active secret, so keys can rotate). :func:`verify` is
the receiver side, written with the standard library only so customers can copy it.

The Redis side (the once-per-event guard, attempt records, disabled URLs) is
:mod:`common.webhook_store`; the Celery task that sends is ``worker.webhooks``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import json
import random
import secrets as _secrets
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from enum import Enum
from typing import Any, Iterable, Mapping
from urllib.parse import urlsplit

from common.accounts import AccountStore
from common.config import Settings
from common.errors import AccountNotFound
from common.jobs import Job, JobStatus

EVENT_TYPES: dict[JobStatus, str] = {
    JobStatus.SUCCEEDED: "job.succeeded",
    JobStatus.FAILED: "job.failed",
    JobStatus.CANCELED: "job.canceled",
}
"""Event type sent for each final job state."""

SECRET_PREFIX = "whsec_"
"""Secrets are ``whsec_`` + base64 of the HMAC key (Standard Webhooks)."""

TOLERANCE_SECONDS = 5 * 60
"""How far ``webhook-timestamp`` may be from the receiver's clock (either way)."""

MAX_URL_LENGTH = 2048
"""Longest webhook URL accepted."""

DEFAULT_SCHEDULE = "5,300,1800,7200,18000,36000,36000"
"""Seconds before each retry: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (8 attempts, ~27 h)."""

JITTER = 0.10
"""Each retry delay is scaled by a random factor in ``[1 - JITTER, 1 + JITTER]``."""

MAX_RETRY_AFTER = 24 * 3600
"""A receiver's ``Retry-After`` is honoured up to this many seconds."""

DELIVERY_TIMEOUT = 10.0
"""Seconds a receiver has to answer one delivery (connect and read each)."""

METADATA_ADDRESSES = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})
"""Cloud instance-metadata endpoints; refused even when an allow-list CIDR covers them."""

_IP = ipaddress.IPv4Address | ipaddress.IPv6Address
_NET = ipaddress.IPv4Network | ipaddress.IPv6Network


class WebhookVerificationError(Exception):
    """A received webhook's signature or timestamp does not check out."""


class UnsafeUrl(ValueError):
    """A webhook URL is malformed or points at an address the SSRF guard refuses."""


# --- secrets and signatures ---------------------------------------------------------------

def generate_secret() -> str:
    """A new random ``whsec_`` secret (24 random bytes)."""
    return SECRET_PREFIX + base64.b64encode(_secrets.token_bytes(24)).decode("ascii")


def _secret_key(secret: str) -> bytes:
    """The HMAC key inside a ``whsec_`` secret (the prefix is optional, as in Standard Webhooks)."""
    encoded = secret[len(SECRET_PREFIX):] if secret.startswith(SECRET_PREFIX) else secret
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a webhook secret must be 'whsec_' followed by base64") from None
    if len(key) < 16:
        raise ValueError("a webhook secret must hold at least 16 bytes of key")
    return key


def parse_secrets(value: str | Iterable[str]) -> list[str]:
    """Split and check a space-separated list of ``whsec_`` secrets (first = current).

    Raises:
        ValueError: a secret lacks the prefix or is not base64 of at least 16 bytes.
    """
    items = value.split() if isinstance(value, str) else [s for s in value if s]
    for item in items:
        if not item.startswith(SECRET_PREFIX):
            raise ValueError("a webhook secret must start with 'whsec_'")
        _secret_key(item)
    return items


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "{msg_id}.{timestamp}.{body}">`` for one secret."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def sign(msg_id: str, timestamp: int, body: bytes, secrets: Iterable[str]) -> str:
    """The ``webhook-signature`` value: one ``v1,…`` per secret, space-separated.

    Raises:
        ValueError: no secret given.
    """
    values = [signature(s, msg_id, timestamp, body) for s in secrets]
    if not values:
        raise ValueError("no webhook signing secret configured")
    return " ".join(values)


def webhook_headers(msg_id: str, timestamp: int, body: bytes, secrets: Iterable[str]) -> dict[str, str]:
    """All headers of one delivery attempt."""
    return {
        "content-type": "application/json",
        "user-agent": "tingshu-webhooks/1",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(msg_id, timestamp, body, secrets),
    }


def verify(payload: bytes, headers: Mapping[str, str], secrets: str | Iterable[str], *,
           tolerance: int = TOLERANCE_SECONDS, now: float | None = None) -> dict:
    """Check a received webhook and return its decoded JSON body (the receiver's helper).

    Args:
        payload: the raw request body, exactly as received (not re-serialized JSON).
        headers: the request headers (any case).
        secrets: the endpoint's ``whsec_`` secret, or several (during a key rotation).
        tolerance: largest accepted distance, in seconds, between ``webhook-timestamp``
            and ``now``.
        now: the current unix time (default ``time.time()``).

    Raises:
        WebhookVerificationError: headers missing, timestamp too old or too new, or no
            signature matches any secret.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    msg_id, stamp, sigs = (lowered.get(h) for h in ("webhook-id", "webhook-timestamp", "webhook-signature"))
    if not (msg_id and stamp and sigs):
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature header")
    try:
        timestamp = int(stamp)
    except ValueError:
        raise WebhookVerificationError("webhook-timestamp is not an integer") from None
    current = time.time() if now is None else now
    if timestamp < current - tolerance:
        raise WebhookVerificationError("webhook-timestamp is too old")
    if timestamp > current + tolerance:
        raise WebhookVerificationError("webhook-timestamp is in the future")
    keys = [secrets] if isinstance(secrets, str) else list(secrets)
    received = [s.split(",", 1)[1] for s in sigs.split() if s.startswith("v1,")]
    for secret in keys:
        expected = signature(secret, msg_id, timestamp, payload).split(",", 1)[1]
        if any(hmac.compare_digest(expected.encode(), r.encode()) for r in received):
            return json.loads(payload)
    raise WebhookVerificationError("no matching signature")


# --- events -------------------------------------------------------------------------------

def new_event_id() -> str:
    """A fresh event id (``evt_`` + 32 hex digits); it is also the ``webhook-id``."""
    return "evt_" + _secrets.token_hex(16)


def iso(ts: float | None) -> str | None:
    """Unix time as ISO 8601 in UTC, or None."""
    return datetime.fromtimestamp(ts, timezone.utc).isoformat() if ts else None


def build_event(job: Job, event_id: str, created_at: float, result_url: str | None = None,
                url_expires_at: float | None = None) -> dict[str, Any]:
    """The event for a final job; ``result`` only for a succeeded one, never the audio itself.

    Args:
        job: the job, in a final state.
        event_id: the event's id (kept across retries).
        created_at: when the event was first created (kept across retries).
        result_url: where to download the audio (a presigned URL with S3 storage).
        url_expires_at: when ``result_url`` stops working (None: it does not expire).

    Raises:
        ValueError: the job is not final.
    """
    if job.state not in EVENT_TYPES:
        raise ValueError(f"job {job.id} is {job.state.value}, not final")
    duration = round(job.finished_at - job.created_at, 3) if job.finished_at and job.created_at else None
    result = None
    if job.state is JobStatus.SUCCEEDED and result_url:
        result = {"url": result_url, "expires_at": iso(url_expires_at)}
    return {
        "id": event_id,
        "type": EVENT_TYPES[job.state],
        "timestamp": iso(created_at),
        "data": {"job_id": job.id, "state": job.state.value, "duration_seconds": duration,
                 "audio_seconds": job.audio_seconds, "error": job.error, "result": result},
    }


def encode_event(event: Mapping[str, Any]) -> bytes:
    """The exact bytes sent and signed."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def default_webhook_url(account: str, accounts: AccountStore) -> str | None:
    """The account's default webhook URL (its ``webhook_url`` in :mod:`common.accounts`), or None."""
    try:
        return accounts.fetch_account(account).webhook_url or None
    except AccountNotFound:
        return None


def account_secrets(account: str, settings: Settings) -> list[str]:
    """Signing secrets of an account, current first (``TINGSHU_WEBHOOK_SECRETS`` for every account).

    The one place to read per-account secrets from once accounts carry their own.
    """
    return parse_secrets(settings.webhook_secrets)


def webhook_url_for(job: Job, accounts: AccountStore) -> str | None:
    """Where a job's events go: its own URL, else its account's default, else nowhere."""
    return job.webhook_url or default_webhook_url(job.account, accounts)


# --- SSRF guard ---------------------------------------------------------------------------

@dataclass(frozen=True)
class AllowList:
    """Hosts and networks the SSRF guard lets through (``TINGSHU_WEBHOOK_ALLOW``)."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[_NET, ...] = ()

    @classmethod
    def parse(cls, value: str | Iterable[str] | "AllowList" | None) -> "AllowList":
        """From a space-separated string (or list) of host names, IPs and CIDRs."""
        if isinstance(value, AllowList):
            return value
        items = (value or "").split() if isinstance(value, str) or value is None else list(value)
        hosts, networks = set(), []
        for item in items:
            try:
                networks.append(ipaddress.ip_network(item.strip("[]"), strict=False))
            except ValueError:
                hosts.add(item.lower().rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def allows_ip(self, ip: _IP) -> bool:
        return ip not in METADATA_ADDRESSES and any(ip in net for net in self.networks if net.version == ip.version)


def refusal(ip: _IP) -> str | None:
    """Why the guard refuses ``ip`` (None when it is a public unicast address)."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            reason = refusal(ip.ipv4_mapped)
            return f"IPv4-mapped {reason}" if reason else None
        for embedded, form in ((ip.sixtofour, "6to4"), (ip.teredo[1] if ip.teredo else None, "Teredo")):
            reason = refusal(embedded) if embedded is not None else None
            if reason:
                return f"{form} form of {reason}"
    if ip in METADATA_ADDRESSES:
        return f"a cloud metadata address ({ip})"
    for name in ("loopback", "link_local", "multicast", "unspecified", "private", "reserved"):
        if getattr(ip, f"is_{name}"):
            return f"a {name.replace('_', '-')} address ({ip})"
    if not ip.is_global:
        return f"a non-public address ({ip})"
    return None


def _resolve(host: str, port: int) -> list[_IP]:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeUrl(f"host {host!r} does not resolve: {exc}") from None
    return [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]


def check_url(url: str, allow_list: str | Iterable[str] | AllowList | None = None) -> list[str]:
    """Refuse webhook URLs that could reach internal services (SSRF guard).

    The host is resolved and every address must be public unicast: loopback, link-local,
    private, multicast, reserved, unspecified and non-global addresses (and their IPv4-mapped,
    6to4 and Teredo forms) are refused, as are the cloud metadata addresses. Hosts, IPs and
    CIDRs in ``allow_list`` pass anyway (metadata addresses never do).

    Args:
        url: the URL to check.
        allow_list: ``TINGSHU_WEBHOOK_ALLOW`` (space-separated) or an :class:`AllowList`.

    Returns:
        The addresses the host resolved to (empty when the host name is allow-listed).

    Raises:
        UnsafeUrl: the URL is malformed, does not resolve, or reaches a refused address.
    """
    if not isinstance(url, str) or len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"must be a string of at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeUrl(f"malformed URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise UnsafeUrl("scheme must be http or https")
    host = (parts.hostname or "").rstrip(".")
    if not host or any(c.isspace() for c in url):
        raise UnsafeUrl("URL needs a host and may not contain whitespace")
    allow = AllowList.parse(allow_list)
    if host in allow.hosts:
        return []
    addresses = _resolve(host, port)
    for ip in addresses:
        reason = None if allow.allows_ip(ip) else refusal(ip)
        if reason:
            raise UnsafeUrl(f"host {host!r} resolves to {reason}; refused (see TINGSHU_WEBHOOK_ALLOW)")
    return [str(ip) for ip in addresses]


# --- retries ------------------------------------------------------------------------------

def parse_schedule(value: str) -> tuple[float, ...]:
    """Retry delays from comma-separated seconds (``TINGSHU_WEBHOOK_SCHEDULE``); may be empty.

    Raises:
        ValueError: an item is not a non-negative number.
    """
    try:
        delays = tuple(float(item) for item in value.split(",") if item.strip())
    except ValueError:
        raise ValueError(f"webhook schedule must be comma-separated seconds, not {value!r}") from None
    if any(d < 0 for d in delays):
        raise ValueError("webhook schedule delays must be >= 0")
    return delays


def retry_delay(attempt: int, schedule: tuple[float, ...], rng: random.Random | None = None) -> float | None:
    """Seconds to wait after failed attempt number ``attempt`` (1-based), jittered ±10 %.

    Returns:
        The delay, or None when the schedule is used up (give up).
    """
    if attempt < 1 or attempt > len(schedule):
        return None
    return schedule[attempt - 1] * (rng or random).uniform(1 - JITTER, 1 + JITTER)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from now that a ``Retry-After`` header asks for (delta seconds or HTTP date).

    Returns:
        Seconds (>= 0, at most ``MAX_RETRY_AFTER``), or None when absent or unparsable.
    """
    if not value or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = when.timestamp() - (time.time() if now is None else now)
    return min(max(0.0, seconds), float(MAX_RETRY_AFTER))


class Outcome(str, Enum):
    """What one delivery attempt means for the event."""

    DELIVERED = "delivered"
    RETRY = "retry"
    GIVE_UP = "gave_up"
    DISABLE = "disabled"


def classify(status_code: int | None) -> Outcome:
    """2xx delivered; 410 disables the URL; 429, 5xx and no answer retry; others give up."""
    if status_code is None or status_code == 429 or status_code >= 500:
        return Outcome.RETRY
    if 200 <= status_code < 300:
        return Outcome.DELIVERED
    if status_code == 410:
        return Outcome.DISABLE
    return Outcome.GIVE_UP
