"""``POST /api/tts``: the seed article's synchronous endpoint (short text in, WAV out).

It goes through the same queue as every job (so the model lives only in workers) and waits
for the result; past the wait it answers 504 with the job's URL so nothing is lost.
"""

from __future__ import annotations

import time

from flask import Blueprint, Response, current_app, url_for

from api.auth import current_account, current_limits
from api.errors import ApiError
from api.extensions import resources
from api.limits import enforce_in_flight
from api.request_body import json_body
from common import audio
from common.job_request import parse_job_request
from common.jobs import JobStatus
from worker.submit import EnqueueFailed, submit_job

bp = Blueprint("tts", __name__)

POLL_SECONDS = 0.1


@bp.post("/api/tts")
def synthesize():
    """JSON ``{text, emotion?, voice?, speed?}`` → ``audio/wav``."""
    res = resources()
    payload = json_body()
    if isinstance(payload, dict) and "format" in payload and payload["format"] != "wav":
        raise ApiError(400, "invalid_field", "this endpoint returns WAV only; use /v1/jobs for other formats", "format")
    if isinstance(payload, dict):
        payload = {**payload, "format": "wav"}
    max_chars = min(res.settings.sync_max_chars, current_limits().max_text_chars)
    req = parse_job_request(payload, res.settings, res.engine, max_chars=max_chars)
    enforce_in_flight()
    try:
        job = submit_job(res.celery, req, res.settings, res.store, res.engine, current_account(), interactive=True,
                         max_in_flight=current_limits().max_in_flight)
    except EnqueueFailed as exc:
        raise ApiError(503, "queue_unavailable", f"the job queue is unavailable: {exc}", headers={"Retry-After": "30"})
    deadline = time.monotonic() + current_app.config["SYNC_TIMEOUT_SECONDS"]
    while True:
        job = res.store.fetch(job.id)
        if job.is_final or time.monotonic() > deadline:
            break
        time.sleep(POLL_SECONDS)
    location = url_for("jobs.get_job", job_id=job.id)
    if job.state is JobStatus.SUCCEEDED and job.result_key:
        data = res.storage.get_bytes(job.result_key)
        return Response(data, mimetype=audio.CONTENT_TYPES["wav"], headers={
            "Content-Disposition": 'attachment; filename="tts_output.wav"', "X-Job-Id": job.id})
    if job.state is JobStatus.FAILED:
        raise ApiError(502, "synthesis_failed", job.error or "synthesis failed", headers={"Location": location})
    raise ApiError(504, "timeout", "synthesis is taking longer than this request may wait; poll the job",
                   headers={"Location": location, "Retry-After": "5"})
