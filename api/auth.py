"""Who is calling: the account a request acts for.

``current_account()`` is what every view uses to scope jobs; the authentication hook that
sets ``g.account`` from the bearer API key lives here too.
"""

from __future__ import annotations

from flask import Flask, current_app, g, request

from api.errors import ApiError
from common.accounts import Account, AccountStore, Limits
from common.errors import AccountNotFound

ANONYMOUS_ACCOUNT = "default"
"""Account of requests in unauthenticated mode (and of jobs made by the embedded CLI)."""

PROTECTED_PREFIXES = ("/v1/", "/api/")
"""Paths under these need an API key; ``/healthz``, ``/metrics``, ``/openapi.json`` do not."""

CHALLENGE = 'Bearer realm="tingshu"'
"""``WWW-Authenticate`` of a 401 (RFC 6750)."""


def current_account() -> str:
    """The account of the current request."""
    return g.get("account", ANONYMOUS_ACCOUNT)


def current_limits() -> Limits:
    """The limits of the current request's account (the defaults when anonymous)."""
    limits = g.get("limits")
    return limits if limits is not None else Limits.defaults(current_app.config["SETTINGS"])


def current_account_record() -> Account | None:
    """The stored account of an authenticated request (its name, default ``webhook_url``); None when anonymous."""
    return g.get("account_record")


def accounts() -> AccountStore:
    return current_app.extensions["tingshu.accounts"]


def init_app(app: Flask) -> None:
    """Keep an ``AccountStore`` on the job store's Redis and require keys on API routes."""
    app.extensions["tingshu.accounts"] = AccountStore(app.extensions["tingshu"].store.connection)
    app.before_request(authenticate)


def requires_key(path: str) -> bool:
    return path.startswith(PROTECTED_PREFIXES) or path in ("/v1", "/api")


def _unauthorized(message: str, error: str | None = None) -> ApiError:
    challenge = CHALLENGE if error is None else f'{CHALLENGE}, error="{error}"'
    return ApiError(401, "unauthorized", message, "Authorization", headers={"WWW-Authenticate": challenge})


def authenticate() -> None:
    """``before_request``: set ``g.account`` (and its limits) from ``Authorization: Bearer tsk_…``.

    Raises:
        ApiError: 401 when the key is missing (unless anonymous mode is on), malformed,
            unknown or revoked.
    """
    if not requires_key(request.path):
        return
    settings = current_app.config["SETTINGS"]
    header = request.headers.get("Authorization")
    if header is None:
        if not settings.allow_anonymous:
            raise _unauthorized("an API key is required: send 'Authorization: Bearer tsk_...'")
        g.account, g.limits = ANONYMOUS_ACCOUNT, Limits.defaults(settings)
        return
    scheme, _, secret = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise _unauthorized("the Authorization header must be 'Bearer <API key>'", "invalid_request")
    key = accounts().authenticate(secret.strip())
    if key is None:
        raise _unauthorized("the API key is invalid or has been revoked", "invalid_token")
    try:
        account = accounts().fetch_account(key.account)
    except AccountNotFound:
        raise _unauthorized("the API key's account no longer exists", "invalid_token") from None
    g.account, g.account_record, g.api_key_id = account.id, account, key.id
    g.limits = account.limits(settings)
