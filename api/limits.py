"""Per-account limits on the Flask side: request rate (every API request) and jobs in flight.

The text-length limit is applied where requests are parsed (``parse_job_request(...,
max_chars=current_limits().max_text_chars)``), so its 413 names ``text`` like every other
length error.
"""

from __future__ import annotations

from flask import Flask, current_app, g

from api.auth import current_account, current_limits
from api.errors import ApiError
from api.extensions import resources
from common.ratelimit import RateDecision, RateLimiter

IN_FLIGHT_RETRY_SECONDS = 10
"""``Retry-After`` of a 429 for too many unfinished jobs (a polling hint; jobs take a while)."""


def init_app(app: Flask) -> None:
    """Register the rate-limit hooks (after ``auth.init_app``: they need ``g.account``)."""
    app.extensions["tingshu.ratelimit"] = RateLimiter(app.extensions["tingshu"].store.connection)
    app.before_request(enforce_rate)
    app.after_request(_rate_headers)


def _headers(decision: RateDecision) -> dict[str, str]:
    return {"RateLimit-Limit": str(decision.limit), "RateLimit-Remaining": str(decision.remaining),
            "RateLimit-Reset": str(decision.reset if decision.allowed else decision.retry_after),
            "RateLimit-Policy": f"{decision.limit};w=60"}


def enforce_rate() -> None:
    """``before_request``: take a token from the account's bucket.

    Raises:
        ApiError: 429 with ``Retry-After`` when the bucket is empty.
    """
    if "account" not in g:  # a public route: nobody to count
        return
    rate = current_limits().rate_per_minute
    if rate <= 0:
        return
    decision = current_app.extensions["tingshu.ratelimit"].hit(current_account(), rate)
    g.rate_decision = decision
    if not decision.allowed:
        raise ApiError(429, "rate_limited",
                       f"account {current_account()} may make {rate} requests per minute; retry in {decision.retry_after} s",
                       headers={"Retry-After": str(decision.retry_after), **_headers(decision)})


def _rate_headers(response):
    decision = g.get("rate_decision")
    if decision is not None:
        for name, value in _headers(decision).items():
            response.headers.setdefault(name, value)
    return response


def enforce_in_flight() -> None:
    """Refuse a new job while the account has as many unfinished jobs as it may.

    A cheap early answer before the text is planned; the exact, atomic check happens when
    the job is stored (``JobStore.create``), which raises ``InFlightLimitReached``.

    Raises:
        ApiError: 429 with ``Retry-After``.
    """
    limit = current_limits().max_in_flight
    if limit <= 0:
        return
    count = resources().store.in_flight(current_account())
    if count >= limit:
        raise ApiError(429, "too_many_jobs_in_flight",
                       f"account {current_account()} has {count} unfinished jobs; its limit is {limit}. "
                       "Submit again once one has finished", headers={"Retry-After": str(IN_FLIGHT_RETRY_SECONDS)})
