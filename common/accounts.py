"""Accounts, their limits, and their API keys, stored in Redis.

An API key is ``tsk_<secrets.token_urlsafe(32)>``. Only its SHA-256 is stored: the key record
lives at ``tingshu:apikey:<sha256>``, so authenticating is one lookup by hash, and the
plaintext is shown once, when the key is made. Each key also has a short public id
(``key_…``) and keeps its first characters (``prefix``) so people can tell keys apart in
listings and revoke them without the secret. Revoked keys stay listed, marked revoked.

Every key name is built by the helpers below (the account hash shares the
``tingshu:account:`` namespace with the job indexes of :mod:`common.jobs`).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass, fields
from typing import Any

import redis

from common.config import Settings
from common.errors import AccountNotFound, ApiKeyNotFound, ValidationError
from common.jobs import ACCOUNT_PREFIX

KEY_SCHEME = "tsk_"
"""Every API key starts with this."""

PREFIX_CHARS = 12
"""How many leading characters of a key (scheme included) are kept to identify it."""

ACCOUNT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
"""Account ids go into Redis key names: letters, digits, ``_ . -``, at most 64."""

ACCOUNTS_KEY = f"{ACCOUNT_PREFIX}registry"
"""Sorted set of the ids of accounts made here, scored by creation time (``accounts_key()`` of
:mod:`common.jobs` is another thing: every account that has jobs)."""

APIKEY_PREFIX = "tingshu:apikey:"
"""Namespace of key records (by secret hash) and key-id indexes."""


def account_key(account_id: str) -> str:
    """The account hash (name, limits, default webhook URL)."""
    return f"{ACCOUNT_PREFIX}{account_id}:profile"


def account_keys_key(account_id: str) -> str:
    """Sorted set of the account's key ids, scored by creation time."""
    return f"{ACCOUNT_PREFIX}{account_id}:apikeys"


def apikey_key(secret_hash: str) -> str:
    """The key record, found by the SHA-256 (hex) of the plaintext key."""
    return f"{APIKEY_PREFIX}{secret_hash}"


def apikey_id_key(key_id: str) -> str:
    """String: key id → SHA-256 of that key (to find the record without the secret)."""
    return f"{APIKEY_PREFIX}id:{key_id}"


def all_apikeys_key() -> str:
    """Sorted set of every key id, scored by creation time (listing)."""
    return f"{APIKEY_PREFIX}ids"


def hash_secret(secret: str) -> str:
    """SHA-256 hex digest of a plaintext API key."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def validate_account_id(account_id: str) -> str:
    """Return ``account_id`` if usable.

    Raises:
        ValidationError: it is empty, too long or has characters outside ``[A-Za-z0-9_.-]``.
    """
    if not isinstance(account_id, str) or not ACCOUNT_ID_RE.match(account_id):
        raise ValidationError("account", f"invalid account id {account_id!r}: use 1-64 letters, digits, '_', '.' or '-'")
    return account_id


@dataclass(frozen=True)
class Limits:
    """The limits in force for one account (0 in-flight or rate means no limit)."""

    max_text_chars: int
    max_in_flight: int
    rate_per_minute: int

    @classmethod
    def defaults(cls, settings: Settings) -> "Limits":
        """The limits of an account that sets none of its own (and of anonymous requests)."""
        return cls(settings.max_text_chars, settings.default_max_in_flight, settings.default_rate_per_minute)


@dataclass
class Account:
    """One account; ``None`` limits fall back to the settings' defaults."""

    id: str
    name: str = ""
    max_text_chars: int | None = None
    max_in_flight: int | None = None
    rate_per_minute: int | None = None
    webhook_url: str | None = None
    created_at: float = 0.0

    def limits(self, settings: Settings) -> Limits:
        """Limits in force: the account's own, else the defaults.

        ``max_text_chars`` is also capped by ``TINGSHU_MAX_TEXT_CHARS``, the server-wide maximum.
        """
        base = Limits.defaults(settings)
        chars = base.max_text_chars if self.max_text_chars is None else min(self.max_text_chars, base.max_text_chars)
        return Limits(
            max_text_chars=chars,
            max_in_flight=base.max_in_flight if self.max_in_flight is None else self.max_in_flight,
            rate_per_minute=base.rate_per_minute if self.rate_per_minute is None else self.rate_per_minute,
        )

    def to_redis(self) -> dict[str, str]:
        return {f.name: str(getattr(self, f.name)) for f in fields(self) if getattr(self, f.name) is not None}

    @classmethod
    def from_redis(cls, raw: dict[str, str]) -> "Account":
        kwargs: dict[str, Any] = {}
        for name in ("id", "name", "webhook_url"):
            if name in raw:
                kwargs[name] = raw[name]
        for name in ("max_text_chars", "max_in_flight", "rate_per_minute"):
            if raw.get(name):
                kwargs[name] = int(raw[name])
        kwargs["created_at"] = float(raw.get("created_at") or 0)
        return cls(**kwargs)


@dataclass
class ApiKey:
    """An API key's record (never the secret itself)."""

    id: str
    account: str
    prefix: str
    secret_hash: str
    name: str = ""
    created_at: float = 0.0
    revoked_at: float | None = None

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def to_redis(self) -> dict[str, str]:
        return {f.name: str(getattr(self, f.name)) for f in fields(self) if getattr(self, f.name) is not None}

    @classmethod
    def from_redis(cls, raw: dict[str, str]) -> "ApiKey":
        return cls(id=raw["id"], account=raw["account"], prefix=raw["prefix"], secret_hash=raw["secret_hash"],
                   name=raw.get("name", ""), created_at=float(raw.get("created_at") or 0),
                   revoked_at=float(raw["revoked_at"]) if raw.get("revoked_at") else None)


def _check_limit(name: str, value: int | None, minimum: int) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < minimum):
        raise ValidationError(name, f"{name} must be an integer >= {minimum}")


class AccountStore:
    """Create and read accounts; create, authenticate, revoke and list API keys.

    Args:
        connection: a ``redis.Redis`` created with ``decode_responses=True``.
    """

    def __init__(self, connection: redis.Redis):
        self.connection = connection

    @classmethod
    def from_url(cls, url: str) -> "AccountStore":
        return cls(redis.Redis.from_url(url, decode_responses=True))

    def save_account(self, account_id: str, name: str | None = None, **limits: Any) -> Account:
        """Create the account, or update the fields given (``None`` leaves a field as it is).

        Args:
            account_id: see :func:`validate_account_id`.
            name: display name (default: the id, for a new account).
            **limits: ``max_text_chars`` (>= 1), ``max_in_flight``, ``rate_per_minute`` (>= 0,
                0 = no limit) and ``webhook_url``.

        Raises:
            ValidationError: a bad id or limit.
        """
        validate_account_id(account_id)
        unknown = set(limits) - {"max_text_chars", "max_in_flight", "rate_per_minute", "webhook_url"}
        if unknown:
            raise TypeError(f"unknown account fields: {sorted(unknown)}")
        _check_limit("max_text_chars", limits.get("max_text_chars"), 1)
        _check_limit("max_in_flight", limits.get("max_in_flight"), 0)
        _check_limit("rate_per_minute", limits.get("rate_per_minute"), 0)
        try:
            account = self.fetch_account(account_id)
        except AccountNotFound:
            account = Account(id=account_id, name=account_id, created_at=time.time())
        if name:
            account.name = name
        for field_name, value in limits.items():
            if value is not None:
                setattr(account, field_name, value)
        with self.connection.pipeline(transaction=True) as pipe:
            pipe.hset(account_key(account_id), mapping=account.to_redis())
            pipe.zadd(ACCOUNTS_KEY, {account_id: account.created_at}, nx=True)
            pipe.execute()
        return account

    def account_exists(self, account_id: str) -> bool:
        return bool(self.connection.zscore(ACCOUNTS_KEY, account_id) is not None)

    def fetch_account(self, account_id: str) -> Account:
        """Load an account.

        Raises:
            AccountNotFound: no such account.
        """
        raw = self.connection.hgetall(account_key(account_id)) if ACCOUNT_ID_RE.match(account_id or "") else {}
        if not raw:
            raise AccountNotFound(account_id)
        return Account.from_redis(raw)

    def list_accounts(self) -> list[Account]:
        return [self.fetch_account(a) for a in self.connection.zrange(ACCOUNTS_KEY, 0, -1)]

    def create_key(self, account_id: str, name: str = "") -> tuple[ApiKey, str]:
        """Make a new key for an existing account.

        Returns:
            The key record and the plaintext key (shown once; only its hash is stored).

        Raises:
            AccountNotFound: no such account.
        """
        if not self.account_exists(account_id):
            raise AccountNotFound(account_id)
        secret = KEY_SCHEME + secrets.token_urlsafe(32)
        key = ApiKey(id="key_" + secrets.token_hex(6), account=account_id, prefix=secret[:PREFIX_CHARS],
                     secret_hash=hash_secret(secret), name=name, created_at=time.time())
        with self.connection.pipeline(transaction=True) as pipe:
            pipe.hset(apikey_key(key.secret_hash), mapping=key.to_redis())
            pipe.set(apikey_id_key(key.id), key.secret_hash)
            pipe.zadd(account_keys_key(account_id), {key.id: key.created_at})
            pipe.zadd(all_apikeys_key(), {key.id: key.created_at})
            pipe.execute()
        return key, secret

    def authenticate(self, secret: str) -> ApiKey | None:
        """The live key record for a plaintext key, or None (unknown or revoked)."""
        if not secret.startswith(KEY_SCHEME):
            return None
        raw = self.connection.hgetall(apikey_key(hash_secret(secret)))
        if not raw:
            return None
        key = ApiKey.from_redis(raw)
        return None if key.is_revoked else key

    def fetch_key(self, key_id: str) -> ApiKey:
        """Load a key record by its id.

        Raises:
            ApiKeyNotFound: no such key.
        """
        secret_hash = self.connection.get(apikey_id_key(key_id))
        raw = self.connection.hgetall(apikey_key(secret_hash)) if secret_hash else {}
        if not raw:
            raise ApiKeyNotFound(key_id)
        return ApiKey.from_redis(raw)

    def find_key(self, ref: str) -> ApiKey:
        """The key named by its id, the plaintext key itself, or an unambiguous prefix of it.

        Raises:
            ApiKeyNotFound: nothing matches, or a prefix matches several keys.
        """
        if self.connection.exists(apikey_id_key(ref)):
            return self.fetch_key(ref)
        raw = self.connection.hgetall(apikey_key(hash_secret(ref))) if ref.startswith(KEY_SCHEME) else {}
        if raw:
            return ApiKey.from_redis(raw)
        matches = [k for k in self.list_keys() if len(ref) >= len(KEY_SCHEME) + 2 and
                   (k.prefix.startswith(ref) or ref.startswith(k.prefix))]
        if len(matches) > 1:
            raise ApiKeyNotFound(f"{ref!r} matches {len(matches)} keys ({', '.join(k.id for k in matches)}); use a key id")
        if not matches:
            raise ApiKeyNotFound(f"no API key with id or prefix {ref!r}")
        return matches[0]

    def revoke_key(self, ref: str) -> tuple[ApiKey, bool]:
        """Revoke the key named by ``ref`` (see :meth:`find_key`).

        Returns:
            The key record and whether this call revoked it (False: it already was).

        Raises:
            ApiKeyNotFound: as :meth:`find_key`.
        """
        key = self.find_key(ref)
        if key.is_revoked:
            return key, False
        key.revoked_at = time.time()
        self.connection.hset(apikey_key(key.secret_hash), "revoked_at", str(key.revoked_at))
        return key, True

    def list_keys(self, account_id: str | None = None) -> list[ApiKey]:
        """Key records, oldest first, of one account or of all.

        Raises:
            AccountNotFound: ``account_id`` is given but no such account exists.
        """
        if account_id is not None and not self.account_exists(account_id):
            raise AccountNotFound(account_id)
        index = all_apikeys_key() if account_id is None else account_keys_key(account_id)
        ids = self.connection.zrange(index, 0, -1)
        with self.connection.pipeline(transaction=False) as pipe:
            for key_id in ids:
                pipe.get(apikey_id_key(key_id))
            hashes = pipe.execute()
        with self.connection.pipeline(transaction=False) as pipe:
            for secret_hash in hashes:
                pipe.hgetall(apikey_key(secret_hash or "-"))
            records = pipe.execute()
        return [ApiKey.from_redis(raw) for raw in records if raw]
