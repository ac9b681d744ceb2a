"""JSON error responses, registered on the app (blueprint handlers never see 404/405).

Every error body is ``{"error": {"status", "code", "message", "field"?}}``; ``field`` names the
request field at fault so clients can show it next to the right input.
"""

from __future__ import annotations

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from common.errors import EngineUnavailable, InFlightLimitReached, JobNotFound, TextTooLong, ValidationError


class ApiError(Exception):
    """An error a view raises on purpose, with its status, code and optional field."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None, headers=None):
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field
        self.headers = headers or {}


def error_response(status: int, code: str, message: str, field: str | None = None, headers=None):
    body = {"status": status, "code": code, "message": message}
    if field:
        body["field"] = field
    response = jsonify(error=body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(e: ApiError):
        return error_response(e.status, e.code, e.message, e.field, e.headers)

    @app.errorhandler(TextTooLong)
    def _too_long(e: TextTooLong):
        return error_response(413, "text_too_long", e.message, e.field)

    @app.errorhandler(ValidationError)
    def _invalid(e: ValidationError):
        return error_response(400, "invalid_field", e.message, e.field)

    @app.errorhandler(InFlightLimitReached)
    def _in_flight(e: InFlightLimitReached):
        return error_response(429, "too_many_jobs_in_flight",
                              f"{e}. Submit again once one has finished", headers={"Retry-After": "10"})

    @app.errorhandler(JobNotFound)
    def _not_found(e: JobNotFound):
        return error_response(404, "job_not_found", f"no job with id {e}")

    @app.errorhandler(EngineUnavailable)
    def _engine(e: EngineUnavailable):
        return error_response(503, "engine_unavailable", str(e))

    @app.errorhandler(RequestEntityTooLarge)
    def _body_too_large(e: RequestEntityTooLarge):
        limit = app.config.get("MAX_CONTENT_LENGTH")
        return error_response(413, "body_too_large", f"request body exceeds {limit} bytes", "body")

    @app.errorhandler(HTTPException)
    def _http(e: HTTPException):
        response = e.get_response()
        code = (e.name or "error").lower().replace(" ", "_")
        out = error_response(e.code or 500, code, e.description or e.name)
        for name in ("Allow", "Retry-After", "Location"):
            if name in response.headers:
                out.headers[name] = response.headers[name]
        return out
