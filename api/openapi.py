"""``GET /openapi.json``: the OpenAPI 3.1 description of this API (public).

The document is built per app, from the same facts the views use: the request body schema
comes from the pydantic model that validates it (``common.job_request``), narrowed by this
deployment's engine (voices, emotions), formats and limits, so it stays true as they change.
``tests/unit/test_openapi.py`` checks that every Flask route is described (and nothing
else), that the document is valid OpenAPI 3.1, and schemathesis checks real responses
against it.
"""

from __future__ import annotations

import copy
from typing import Any

from flask import Blueprint, current_app, jsonify

from common import audio
from common.config import Settings
from common.engines.base import SPEED_MAX, SPEED_MIN, EngineInfo
from common.job_request import MAX_METADATA_BYTES, _Shape
from common.jobs import JobStatus

bp = Blueprint("openapi", __name__)

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0.0"

_REF = "#/components/"


@bp.get("/openapi.json")
def openapi_json():
    """The document (built once per app)."""
    cache = current_app.extensions.setdefault("tingshu_openapi", {})
    if "document" not in cache:
        from api.extensions import resources

        res = resources()
        cache["document"] = build_document(res.settings, res.engine)
    return jsonify(cache["document"])


def _ref(kind: str, name: str) -> dict:
    return {"$ref": f"{_REF}{kind}/{name}"}


def _nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


def _narrow(prop: dict, **constraints: Any) -> None:
    """Add ``constraints`` to a pydantic property schema (to its non-null branch if optional)."""
    branches = [b for b in prop.get("anyOf", [prop]) if b.get("type") != "null"]
    for branch in branches:
        branch.update(constraints)


def job_request_schema(settings: Settings, engine: EngineInfo, max_chars: int | None = None,
                       formats: tuple[str, ...] | None = None) -> dict:
    """The request body of ``POST /v1/jobs`` from the pydantic model, narrowed to this deployment."""
    schema = copy.deepcopy(_Shape.model_json_schema())
    schema["title"] = "JobRequest"
    props = schema["properties"]
    _narrow(props["text"], minLength=1, maxLength=max_chars or settings.max_text_chars,
            description="Text to speak (Chinese; numbers, dates and symbols are read out).")
    _narrow(props["voice"], enum=list(engine.voice_ids()), description=f"Default: {engine.default_voice}.")
    _narrow(props["emotion"], enum=list(engine.emotion_ids()))
    _narrow(props["speed"], minimum=SPEED_MIN, maximum=SPEED_MAX)
    _narrow(props["format"], enum=list(formats or audio.SUPPORTED_FORMATS),
            description=f"Output audio format. Default: {settings.default_format}.")
    _narrow(props["seed"], minimum=0, maximum=2**31 - 2, description="Default: random.")
    _narrow(props["metadata"], description=f"Any JSON object, at most {MAX_METADATA_BYTES} bytes encoded; "
                                           "returned with the job.")
    if "webhook_url" in props:
        _narrow(props["webhook_url"], description="URL that receives a POST when the job ends.")
    return schema


def _job_view_schema() -> dict:
    seconds = _nullable({"type": "number"})
    timestamp = _nullable({"type": "string", "format": "date-time"})
    result = {
        "type": "object",
        "required": ["url", "url_expires_in", "bytes", "audio_seconds", "content_type"],
        "properties": {
            "url": {"type": "string", "description": "Presigned URL (S3) or this API's audio URL."},
            "url_expires_in": _nullable({"type": "integer"}),
            "bytes": _nullable({"type": "integer"}),
            "audio_seconds": seconds,
            "content_type": {"type": "string"},
        },
    }
    return {
        "type": "object",
        "required": ["id", "state", "progress", "text_chars", "engine", "voice", "emotion", "speed", "format",
                     "seed", "metadata", "created_at", "started_at", "finished_at", "timings", "error", "result",
                     "expires_in"],
        "properties": {
            "id": {"type": "string"},
            "state": {"type": "string", "enum": [s.value for s in JobStatus]},
            "progress": {
                "type": "object", "required": ["chunks_done", "chunks_total", "fraction"],
                "properties": {"chunks_done": {"type": "integer", "minimum": 0},
                               "chunks_total": {"type": "integer", "minimum": 0},
                               "fraction": {"type": "number", "minimum": 0, "maximum": 1}},
            },
            "text_chars": {"type": "integer"},
            "engine": {"type": "string"}, "voice": {"type": "string"}, "emotion": {"type": "string"},
            "speed": {"type": "number"}, "format": {"type": "string"}, "seed": {"type": "integer"},
            "metadata": {"type": "object"},
            "queue": {"type": "string", "enum": ["interactive", "bulk"]},
            "webhook_url": _nullable({"type": "string"}),
            "created_at": timestamp, "started_at": timestamp, "finished_at": timestamp,
            "timings": {"type": "object", "properties": {
                name: seconds for name in ("queued_seconds", "synthesis_seconds", "merge_seconds", "total_seconds")}},
            "error": _nullable({"type": "string"}),
            "result": {"anyOf": [result, {"type": "null"}]},
            "expires_in": _nullable({"type": "integer", "description": "Seconds until the job is deleted."}),
        },
    }


def _error_schema() -> dict:
    return {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {
            "type": "object",
            "required": ["status", "code", "message"],
            "properties": {
                "status": {"type": "integer", "description": "The HTTP status, repeated."},
                "code": {"type": "string", "description": "Machine-readable reason, e.g. `invalid_field`."},
                "message": {"type": "string"},
                "field": {"type": "string", "description": "The request field at fault, if one is."},
            },
        }},
    }


def _webhook_schemas() -> dict:
    text, nullable_text = {"type": "string"}, _nullable({"type": "string"})
    attempt = {
        "type": "object", "required": ["attempt", "event_id", "event_type", "at", "url", "outcome"],
        "properties": {
            "attempt": {"type": "integer", "minimum": 1}, "event_id": text, "event_type": text,
            "at": _nullable({"type": "string", "format": "date-time"}), "url": text,
            "outcome": {"type": "string", "description": "delivered, retry, gave_up or disabled."},
            "status_code": _nullable({"type": "integer"}), "error": nullable_text,
            "duration_seconds": _nullable({"type": "number"}),
            "next_retry_at": _nullable({"type": "string", "format": "date-time"}),
        },
    }
    return {
        "WebhookAttempts": {"type": "object", "required": ["job_id", "webhook_url", "disabled", "attempts"],
                            "properties": {"job_id": text, "webhook_url": nullable_text,
                                           "disabled": _nullable({"type": "string", "description": "Why the URL is disabled."}),
                                           "attempts": {"type": "array", "items": attempt}}},
        "Redelivery": {"type": "object", "required": ["job_id", "event_id", "event_type", "webhook_url"],
                       "properties": {"job_id": text, "event_id": text, "event_type": text, "webhook_url": text}},
    }


def _voices_schema() -> dict:
    def named(extra: dict | None = None) -> dict:
        return {"type": "object", "required": ["id"],
                "properties": {"id": {"type": "string"}, "label": {"type": "string"}, **(extra or {})}}

    return {
        "type": "object",
        "required": ["engine", "sample_rate", "default_voice", "voices", "emotions", "formats", "limits"],
        "properties": {
            "engine": {"type": "string"}, "sample_rate": {"type": "integer"}, "default_voice": {"type": "string"},
            "voices": {"type": "array", "items": named()},
            "emotions": {"type": "array", "items": named({"kind": {"type": "string"}})},
            "formats": {"type": "array", "items": {"type": "string"}},
            "limits": {"type": "object", "properties": {
                "max_text_chars": {"type": "integer"}, "sync_max_chars": {"type": "integer"},
                "max_chunk_chars": {"type": "integer"},
                "speed": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
            }},
        },
    }


def _components(settings: Settings, engine: EngineInfo) -> dict:
    error = _ref("schemas", "Error")
    json_error = {"application/json": {"schema": error}}

    def err(description: str, *headers: str) -> dict:
        out = {"description": description, "content": json_error}
        if headers:
            out["headers"] = {h: _ref("headers", h) for h in headers}
        return out

    return {
        "schemas": {
            "JobRequest": job_request_schema(settings, engine),
            "SyncTtsRequest": job_request_schema(settings, engine, settings.sync_max_chars, ("wav",)),
            "Job": _job_view_schema(),
            "JobList": {"type": "object", "required": ["jobs", "next_cursor"], "properties": {
                "jobs": {"type": "array", "items": _ref("schemas", "Job")},
                "next_cursor": _nullable({"type": "string"})}},
            "Error": _error_schema(),
            **_webhook_schemas(),
            "Voices": _voices_schema(),
            "TextPreviewRequest": {"type": "object", "required": ["text"], "additionalProperties": False,
                                   "properties": {"text": {"type": "string", "minLength": 1, "maxLength": 5000}}},
            "TextPreview": {"type": "object", "required": ["spoken", "changes", "chunks", "max_chunk_chars"],
                            "properties": {
                                "spoken": {"type": "string"},
                                "changes": {"type": "array", "items": {
                                    "type": "object", "required": ["original", "spoken"],
                                    "properties": {"original": {"type": "string"}, "spoken": {"type": "string"}}}},
                                "chunks": {"type": "array", "items": {"type": "string"}},
                                "max_chunk_chars": {"type": "integer", "minimum": 1}}},
            "Health": {"type": "object", "required": ["status", "checks", "engine"], "properties": {
                "status": {"type": "string", "enum": ["ok", "degraded"]},
                "checks": {"type": "object", "additionalProperties": {"type": "string"}},
                "engine": {"type": "string"}}},
        },
        "headers": {
            "Location": {"description": "Where to poll the job (or the presigned audio URL on 302).",
                         "schema": {"type": "string"}},
            "Retry-After": {"description": "Seconds to wait before polling or retrying.",
                            "schema": {"type": "string", "pattern": "^[0-9]+$"}},
            "Idempotent-Replayed": {"description": "`true` when this answer replays an earlier request "
                                                   "with the same Idempotency-Key.",
                                    "schema": {"type": "string", "enum": ["true", "false"]}},
            "X-Job-Id": {"description": "Id of the job that produced the audio.", "schema": {"type": "string"}},
            "WWW-Authenticate": {"description": "`Bearer realm=\"tingshu\"` (RFC 6750), with `error` when a key "
                                                "was sent but refused.", "schema": {"type": "string"}},
            "RateLimit-Limit": {"description": "Requests per minute the account may make.",
                                "schema": {"type": "string", "pattern": "^[0-9]+$"}},
            "RateLimit-Remaining": {"description": "Requests left in the current window.",
                                    "schema": {"type": "string", "pattern": "^[0-9]+$"}},
            "RateLimit-Reset": {"description": "Seconds until the window resets (or until a retry may pass).",
                                "schema": {"type": "string", "pattern": "^[0-9]+$"}},
        },
        "parameters": {
            "JobId": {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"},
                      "description": "Job id, as returned on submission."},
            "IdempotencyKey": {"name": "Idempotency-Key", "in": "header", "required": False,
                               "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                               "description": "Makes a retried submission return the first one's job "
                                              "instead of creating another (kept 24 h)."},
        },
        "responses": {
            "BadRequest": err("Invalid request: a field, the body or a query parameter (see `field`)."),
            "Unauthorized": err("Missing or invalid API key (`Authorization: Bearer tsk_...`).", "WWW-Authenticate"),
            "NotFound": err("No such job (or it belongs to another account, or it expired)."),
            "Conflict": err("The job is not in a state that allows this.", "Retry-After"),
            "PayloadTooLarge": err("Text over the limit (`text_too_long`) or body over the limit (`body_too_large`)."),
            "UnsupportedMediaType": err("The body is not `application/json`."),
            "UnprocessableEntity": err("Well-formed but refused, e.g. an Idempotency-Key reused with another body."),
            "TooManyRequests": err("Rate or in-flight job limit reached.", "Retry-After", "RateLimit-Limit",
                                   "RateLimit-Remaining", "RateLimit-Reset"),
            "ServiceUnavailable": err("The queue (or Redis) is unavailable.", "Retry-After"),
        },
        "securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "tsk_<token>",
                           "description": "An API key made with `tingshu keys create`."},
        },
    }


def _json(schema_name: str, description: str, headers: tuple[str, ...] = ()) -> dict:
    out: dict[str, Any] = {"description": description,
                           "content": {"application/json": {"schema": _ref("schemas", schema_name)}}}
    if headers:
        out["headers"] = {h: _ref("headers", h) for h in headers}
    return out


def _std(*codes: str) -> dict:
    names = {"400": "BadRequest", "401": "Unauthorized", "404": "NotFound", "409": "Conflict",
             "413": "PayloadTooLarge", "415": "UnsupportedMediaType", "422": "UnprocessableEntity",
             "429": "TooManyRequests", "503": "ServiceUnavailable"}
    return {code: _ref("responses", names[code]) for code in codes}


def _audio_content() -> dict:
    types = sorted(set(audio.CONTENT_TYPES.values()))
    return {t: {"schema": {"type": "string", "format": "binary"}} for t in types}


def _job_body(schema: str) -> dict:
    return {"required": True, "content": {"application/json": {"schema": _ref("schemas", schema)}}}


def _jobs_paths() -> dict:
    job_id = [_ref("parameters", "JobId")]
    return {
        "/v1/jobs": {
            "post": {
                "operationId": "createJob", "tags": ["jobs"], "summary": "Submit a text for synthesis",
                "parameters": [_ref("parameters", "IdempotencyKey")],
                "requestBody": _job_body("JobRequest"),
                "responses": {
                    "202": _json("Job", "Accepted: the job is queued.", ("Location", "Retry-After", "Idempotent-Replayed")),
                    **_std("400", "401", "409", "413", "415", "422", "429", "503"),
                },
            },
            "get": {
                "operationId": "listJobs", "tags": ["jobs"], "summary": "The caller's jobs, newest first",
                "parameters": [
                    {"name": "state", "in": "query", "schema": {"type": "string", "enum": [s.value for s in JobStatus]}},
                    {"name": "cursor", "in": "query", "schema": {"type": "string"},
                     "description": "`next_cursor` of the previous page."},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200,
                                                                "default": 50}},
                ],
                "responses": {"200": _json("JobList", "A page of jobs."), **_std("400", "401", "429")},
            },
        },
        "/v1/jobs/{job_id}": {
            "parameters": job_id,
            "get": {
                "operationId": "getJob", "tags": ["jobs"], "summary": "State, progress and result of a job",
                "responses": {"200": _json("Job", "The job; `Retry-After` while it is not final.", ("Retry-After",)),
                              **_std("401", "404", "429")},
            },
            "delete": {
                "operationId": "deleteJob", "tags": ["jobs"],
                "summary": "Delete a job and its audio (canceling it first)",
                "responses": {"204": {"description": "Deleted."}, **_std("401", "404", "429")},
            },
        },
        "/v1/jobs/{job_id}/cancel": {
            "parameters": job_id,
            "post": {
                "operationId": "cancelJob", "tags": ["jobs"], "summary": "Stop a queued or running job",
                "responses": {"200": _json("Job", "The canceled job."), **_std("401", "404", "409", "429")},
            },
        },
        "/v1/jobs/{job_id}/audio": {
            "parameters": job_id,
            "get": {
                "operationId": "getJobAudio", "tags": ["jobs"], "summary": "Download the audio of a succeeded job",
                "responses": {
                    "200": {"description": "The audio (local storage).", "content": _audio_content()},
                    "302": {"description": "Redirect to a presigned URL (S3 storage).",
                            "headers": {"Location": _ref("headers", "Location")}},
                    **_std("401", "404", "409", "429"),
                },
            },
        },
        "/v1/jobs/{job_id}/webhooks": {
            "parameters": job_id,
            "get": {
                "operationId": "listWebhookAttempts", "tags": ["webhooks"],
                "summary": "Delivery attempts of the job's webhook events, oldest first",
                "responses": {"200": _json("WebhookAttempts", "The attempts."), **_std("401", "404", "429")},
            },
        },
        "/v1/jobs/{job_id}/webhooks/redeliver": {
            "parameters": job_id,
            "post": {
                "operationId": "redeliverWebhook", "tags": ["webhooks"],
                "summary": "Send the final event of an ended job again",
                "responses": {"202": _json("Redelivery", "The event is queued for delivery."),
                              **_std("400", "401", "404", "409", "429")},
            },
        },
    }


def _other_paths() -> dict:
    public: list[dict] = []  # no API key needed
    return {
        "/api/tts": {"post": {
            "operationId": "synthesizeSync", "tags": ["sync"],
            "summary": "Short text in, WAV out (waits for the queue)",
            "requestBody": _job_body("SyncTtsRequest"),
            "responses": {
                "200": {"description": "The WAV.", "headers": {"X-Job-Id": _ref("headers", "X-Job-Id")},
                        "content": {"audio/wav": {"schema": {"type": "string", "format": "binary"}}}},
                **_std("400", "401", "413", "415", "429", "503"),
                "502": {"description": "Synthesis failed.", "headers": {"Location": _ref("headers", "Location")},
                        "content": {"application/json": {"schema": _ref("schemas", "Error")}}},
                "504": {"description": "Not done within the wait; poll the job at `Location`.",
                        "headers": {"Location": _ref("headers", "Location"),
                                    "Retry-After": _ref("headers", "Retry-After")},
                        "content": {"application/json": {"schema": _ref("schemas", "Error")}}},
            },
        }},
        "/v1/text/preview": {"post": {
            "operationId": "previewText", "tags": ["meta"],
            "summary": "The spoken form of a text, what normalisation changed, and its chunks",
            "requestBody": _job_body("TextPreviewRequest"),
            "responses": {"200": _json("TextPreview", "What the engine would say."),
                          **_std("400", "401", "413", "415", "429")},
        }},
        "/v1/voices": {"get": {
            "operationId": "listVoices", "tags": ["meta"],
            "summary": "Voices, emotions, formats and limits of this deployment",
            "responses": {"200": _json("Voices", "What a job may ask for."), **_std("401", "429")},
        }},
        "/": {"get": {
            "operationId": "webPage", "tags": ["meta"], "security": public,
            "summary": "The web page: submit a text, watch progress, play the result",
            "responses": {"200": {"description": "HTML page.", "content": {"text/html": {"schema": {"type": "string"}}}}},
        }},
        "/healthz": {"get": {
            "operationId": "health", "tags": ["meta"], "security": public, "summary": "Redis and storage reachable?",
            "responses": {"200": _json("Health", "Healthy."), "503": _json("Health", "Degraded.")},
        }},
        "/openapi.json": {"get": {
            "operationId": "openapi", "tags": ["meta"], "security": public, "summary": "This document",
            "responses": {"200": {"description": "OpenAPI 3.1 document.",
                                  "content": {"application/json": {"schema": {"type": "object"}}}}},
        }},
        "/metrics": {"get": {
            "operationId": "metrics", "tags": ["meta"], "security": public,
            "summary": "Prometheus metrics (text exposition format)",
            "responses": {"200": {"description": "Metrics.",
                                  "content": {"text/plain": {"schema": {"type": "string"}}}}},
        }},
    }


def build_document(settings: Settings, engine: EngineInfo) -> dict:
    """The OpenAPI 3.1 document for a deployment with ``settings`` and ``engine``."""
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "tingshu",
            "version": API_VERSION,
            "summary": "Long-text Chinese speech synthesis as a job queue.",
            "description": "Submit a text, poll the job, download the audio. Errors are "
                           "`{\"error\": {\"status\", \"code\", \"message\", \"field\"?}}`.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "tags": [{"name": "jobs"}, {"name": "webhooks"}, {"name": "sync"}, {"name": "meta"}],
        "paths": {**_jobs_paths(), **_other_paths()},
        "components": _components(settings, engine),
    }
