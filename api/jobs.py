"""``/v1/jobs``: submit a job, read its state and progress, download its audio."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from flask import Blueprint, Response, jsonify, redirect, request, url_for

from api.errors import ApiError
from api.auth import current_account, current_limits
from api.extensions import resources
from api.idempotency import idempotent
from api.limits import enforce_in_flight
from api.request_body import json_body
from common import audio, job_listing, lifecycle
from common.job_request import parse_job_request
from common.errors import InvalidJobOperation, JobNotFound, ValidationError
from common.jobs import Job, JobStatus
from worker.submit import EnqueueFailed, submit_job
from worker.webhooks import enqueue_final_event

log = logging.getLogger(__name__)
bp = Blueprint("jobs", __name__, url_prefix="/v1/jobs")


@bp.post("")
@idempotent
def create_job():
    """Validate, plan chunks, store and enqueue; answer 202 with where to poll."""
    res = resources()
    req = parse_job_request(json_body(), res.settings, res.engine, max_chars=current_limits().max_text_chars)
    enforce_in_flight()
    try:
        job = submit_job(res.celery, req, res.settings, res.store, res.engine, current_account(),
                         max_in_flight=current_limits().max_in_flight)
    except EnqueueFailed as exc:
        raise ApiError(503, "queue_unavailable", f"the job queue is unavailable: {exc}", headers={"Retry-After": "30"})
    response = jsonify(job_view(job))
    response.status_code = 202
    response.headers["Location"] = url_for("jobs.get_job", job_id=job.id)
    response.headers["Retry-After"] = str(retry_after(job))
    return response


def load_job(job_id: str) -> Job:
    """The caller's job ``job_id``.

    Raises:
        JobNotFound: no such job, or it belongs to another account (404 either way, so job
            ids of other accounts do not leak).
    """
    job = resources().store.fetch(job_id)
    if job.account != current_account():
        raise JobNotFound(job_id)
    return job


@bp.get("")
def list_jobs():
    """The caller's jobs, newest first: ``?state=&cursor=&limit=``."""
    res = resources()
    state_arg = request.args.get("state")
    try:
        state = JobStatus(state_arg) if state_arg else None
    except ValueError:
        raise ValidationError("state", f"unknown state {state_arg!r}; one of {', '.join(s.value for s in JobStatus)}") from None
    try:
        limit = int(request.args.get("limit", "50"))
    except ValueError:
        raise ValidationError("limit", "limit must be an integer") from None
    page = job_listing.list_jobs(res.store, current_account(), state, request.args.get("cursor"), limit)
    return jsonify({"jobs": [job_view(j) for j in page.jobs], "next_cursor": page.next_cursor})


@bp.post("/<job_id>/cancel")
def cancel_job(job_id: str):
    """Stop a queued or running job; its partial audio is deleted."""
    res = resources()
    load_job(job_id)
    try:
        job = lifecycle.cancel_job(res.store, res.storage, job_id)
    except InvalidJobOperation:
        job = res.store.fetch(job_id)
        raise ApiError(409, "job_already_ended", f"job is already {job.state.value}")
    try:
        enqueue_final_event(res.celery, job_id, "job.canceled", res.store.connection)
    except Exception:  # the merge callback sends it anyway once the skipped tasks drain
        log.exception("could not enqueue the job.canceled webhook of %s now", job_id)
    return jsonify(job_view(job))


@bp.delete("/<job_id>")
def delete_job(job_id: str):
    """Remove the job, its record and every stored object (canceling it first)."""
    res = resources()
    load_job(job_id)
    lifecycle.delete_job(res.store, res.storage, job_id)
    return "", 204


@bp.get("/<job_id>")
def get_job(job_id: str):
    job = load_job(job_id)
    response = jsonify(job_view(job))
    if not job.is_final:
        response.headers["Retry-After"] = str(retry_after(job))
    return response


@bp.get("/<job_id>/audio")
def get_audio(job_id: str):
    """Redirect to a presigned URL (S3) or stream the file (local storage)."""
    res = resources()
    job = load_job(job_id)
    if job.state is not JobStatus.SUCCEEDED or not job.result_key:
        raise ApiError(409, "job_not_ready", f"job is {job.state.value}; audio exists once it has succeeded",
                       headers={"Retry-After": str(retry_after(job))} if not job.is_final else None)
    url = res.storage.presigned_url(job.result_key, res.settings.s3_presign_seconds, download_name(job))
    if url:
        return redirect(url, code=302)
    stream = res.storage.open_read(job.result_key)
    return Response(stream, mimetype=audio.CONTENT_TYPES[job.format], direct_passthrough=True, headers={
        "Content-Disposition": f'attachment; filename="{download_name(job)}"',
        "Content-Length": str(res.storage.size(job.result_key)),
    })


def download_name(job: Job) -> str:
    return f"tingshu-{job.id}.{job.format}"


def retry_after(job: Job) -> int:
    """A polling hint: roughly the remaining chunks' synthesis time, between 1 and 30 s."""
    remaining = max(0, job.chunk_count - job.chunks_done)
    return max(1, min(30, remaining // 4 + 1))


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat() if ts else None


def job_view(job: Job) -> dict:
    """The public JSON form of a job."""
    res = resources()
    view = {
        "id": job.id,
        "state": job.state.value,
        "progress": {
            "chunks_done": job.chunks_done,
            "chunks_total": job.chunk_count,
            "fraction": round(job.chunks_done / job.chunk_count, 4) if job.chunk_count else 0.0,
        },
        "text_chars": job.text_chars,
        "engine": job.engine, "voice": job.voice, "emotion": job.emotion, "speed": job.speed,
        "format": job.format, "seed": job.seed, "metadata": job.metadata, "queue": job.queue,
        "created_at": _iso(job.created_at), "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
        "timings": _timings(job),
        "error": job.error,
        "result": None,
        "expires_in": res.store.ttl(job.id),
    }
    if job.state is JobStatus.SUCCEEDED and job.result_key:
        url = res.storage.presigned_url(job.result_key, res.settings.s3_presign_seconds, download_name(job))
        view["result"] = {
            "url": url or url_for("jobs.get_audio", job_id=job.id, _external=True),
            "url_expires_in": res.settings.s3_presign_seconds if url else None,
            "bytes": job.result_bytes,
            "audio_seconds": job.audio_seconds,
            "content_type": audio.CONTENT_TYPES[job.format],
        }
    return view


def _timings(job: Job) -> dict:
    def span(a: float | None, b: float | None) -> float | None:
        return round(b - a, 3) if a and b else None

    return {
        "queued_seconds": span(job.created_at, job.started_at),
        "synthesis_seconds": span(job.started_at, job.merge_started_at),
        "merge_seconds": span(job.merge_started_at, job.finished_at),
        "total_seconds": span(job.created_at, job.finished_at),
    }
