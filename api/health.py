"""``GET /healthz``: is Redis reachable and is the storage backend usable."""

from __future__ import annotations

from flask import Blueprint, jsonify

from api.extensions import resources

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    res = resources()
    checks: dict[str, str] = {}
    try:
        res.store.connection.ping()
        checks["redis"] = "ok"
    except Exception as exc:  # report, never raise, from a health check
        checks["redis"] = f"error: {exc}"
    try:
        res.storage.exists("healthz")
        checks["storage"] = "ok"
    except Exception as exc:
        checks["storage"] = f"error: {exc}"
    healthy = all(v == "ok" for v in checks.values())
    body = {"status": "ok" if healthy else "degraded", "checks": checks, "engine": res.engine.name}
    return jsonify(body), 200 if healthy else 503
