"""Request logging for the API: JSON lines that carry the job and the account of the request.

``init_app`` installs the ``log_format`` formatter on the root logger (unless the app is
``TESTING``, or ``LOG_CONFIGURE`` is false: then logging is left to the host), registers a log
context provider reading the request being handled (``job_id`` from the URL, ``account`` from
authentication), and writes one access line per request to the ``api.access`` logger, with
the job id a submission created (taken from its ``Location``/``X-Job-Id`` header).
"""

from __future__ import annotations

import logging
import re
import time

from flask import Flask, Response, g, has_request_context, request

from common import logs
from common.config import Settings

access_log = logging.getLogger("api.access")

_JOB_URL = re.compile(r"/v1/jobs/([^/?#]+)")


def _request_context() -> dict:
    """Log context of the request being handled (empty outside a request)."""
    if not has_request_context():
        return {}
    from api.auth import current_account

    job_id = g.get("log_job_id") or (request.view_args or {}).get("job_id")
    return {"job_id": job_id, "account": current_account()}


def _job_id_of(response: Response) -> str | None:
    """The job a submission answered with (``X-Job-Id``, else the job URL in ``Location``)."""
    if response.headers.get("X-Job-Id"):
        return response.headers["X-Job-Id"]
    match = _JOB_URL.search(response.headers.get("Location", ""))
    return match.group(1) if match else None


def _start_timer() -> None:
    g.request_started = time.perf_counter()


def _log_request(response: Response) -> Response:
    if not (request.view_args or {}).get("job_id"):
        g.log_job_id = _job_id_of(response)
    started = g.get("request_started")
    access_log.info("%s %s %s", request.method, request.path, response.status_code, extra={
        "method": request.method, "path": request.path, "status": response.status_code,
        "duration_ms": round((time.perf_counter() - started) * 1000, 2) if started else None,
    })
    return response


def init_app(app: Flask, settings: Settings) -> None:
    """Configure logging (outside tests) and hook the request context and access log."""
    if app.config.get("LOG_CONFIGURE", not app.testing):
        logs.configure(settings.log_format)
    logs.add_context_provider(_request_context)
    app.before_request(_start_timer)
    app.after_request(_log_request)
