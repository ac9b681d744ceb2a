"""``Idempotency-Key`` on ``POST /v1/jobs`` (draft-ietf-httpapi-idempotency-key-header).

Keys are scoped to the caller's account. For a key seen before:

- same body, first request finished → its stored response again (same job id and status)
  with ``Idempotent-Replayed: true``;
- different body → 422 naming ``Idempotency-Key``;
- first request still being processed → 409 with ``Retry-After``.

A key is remembered for ``TINGSHU_IDEMPOTENCY_TTL_SECONDS`` after its request succeeded; a
request that fails (any 4xx/5xx) forgets its key, so it may be retried with the same one.
"""

from __future__ import annotations

import functools
from typing import Callable

from flask import Response, current_app, request

from api.auth import current_account
from api.errors import ApiError
from api.extensions import resources
from api.request_body import json_body
from common.idempotency import IdempotencyRecord, IdempotencyStore, fingerprint

HEADER = "Idempotency-Key"
MAX_KEY_CHARS = 255
REPLAYED_HEADER = "Idempotent-Replayed"
KEPT_HEADERS = ("Location", "Retry-After")
"""Response headers stored with the response and replayed."""


def _store() -> IdempotencyStore:
    app = current_app
    store = app.extensions.get("tingshu.idempotency")
    if store is None:
        res = resources()
        store = app.extensions["tingshu.idempotency"] = IdempotencyStore(res.store.connection,
                                                                         res.settings.idempotency_ttl_seconds)
    return store


def request_key() -> str | None:
    """The request's idempotency key (a structured-field string; bare tokens accepted too).

    Raises:
        ApiError: 400 naming ``Idempotency-Key`` when it is empty, longer than 255 characters
            or not printable ASCII.
    """
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    key = raw.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if not key:
        raise ApiError(400, "invalid_idempotency_key", f"{HEADER} must not be empty", HEADER)
    if len(key) > MAX_KEY_CHARS:
        raise ApiError(400, "invalid_idempotency_key", f"{HEADER} must be at most {MAX_KEY_CHARS} characters", HEADER)
    if not all(" " <= ch <= "~" for ch in key):
        raise ApiError(400, "invalid_idempotency_key", f"{HEADER} must be printable ASCII", HEADER)
    return key


def _replay(record: IdempotencyRecord, body_fingerprint: str) -> Response:
    if record.fingerprint != body_fingerprint:
        raise ApiError(422, "idempotency_key_reused",
                       f"this {HEADER} was already used with a different request body", HEADER)
    if record.is_processing:
        raise ApiError(409, "idempotency_key_in_use",
                       f"a request with this {HEADER} is still being processed", HEADER,
                       headers={"Retry-After": "1"})
    response = Response(record.body, status=record.status, mimetype="application/json")
    for name, value in record.headers.items():
        response.headers[name] = value
    response.headers[REPLAYED_HEADER] = "true"
    return response


def idempotent(view: Callable) -> Callable:
    """Decorate a JSON ``POST`` view so that it honours ``Idempotency-Key``."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        key = request_key()
        if key is None:
            return view(*args, **kwargs)
        body_fingerprint = fingerprint(json_body())
        store, account = _store(), current_account()
        token, existing = store.claim(account, key, body_fingerprint)
        if existing is not None:
            return _replay(existing, body_fingerprint)
        try:
            response = current_app.make_response(view(*args, **kwargs))
        except BaseException:
            store.release(account, key, token)
            raise
        if 200 <= response.status_code < 300:
            body = response.get_json(silent=True) or {}
            store.complete(account, key, token, IdempotencyRecord(
                state="done", fingerprint=body_fingerprint, status=response.status_code,
                job_id=body.get("id"), body=response.get_data(as_text=True),
                headers={h: response.headers[h] for h in KEPT_HEADERS if h in response.headers}))
        else:
            store.release(account, key, token)
        return response

    return wrapper
