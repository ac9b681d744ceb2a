"""Flask API of tingshu: submit long-text jobs, poll them, download the audio.

``create_app`` layers settings the Flask way: defaults from ``common.config.Settings`` (the
environment), then ``FLASK_*`` variables, then ``test_config``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from common.config import Settings


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app.

    Args:
        test_config: Flask config overrides; ``SETTINGS`` may hold a ``Settings`` instance.
    """
    app = Flask(__name__)
    app.config.from_mapping(SETTINGS=None, JSON_SORT_KEYS=False, SYNC_TIMEOUT_SECONDS=300)
    app.config.from_prefixed_env()
    if test_config:
        app.config.update(test_config)
    settings: Settings = app.config["SETTINGS"] or Settings.from_env()
    app.config["SETTINGS"] = settings
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes

    from api import (auth, errors, extensions, health, jobs, limits, metrics, observability, openapi, text, tts, voices,
                     web, webhooks)

    extensions.init_app(app, settings)
    observability.init_app(app, settings)
    errors.init_app(app)
    auth.init_app(app)  # API keys on /v1/* and /api/*, then the per-account rate limit
    limits.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(jobs.bp)
    app.register_blueprint(tts.bp)
    app.register_blueprint(voices.bp)
    app.register_blueprint(text.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(metrics.bp)
    app.register_blueprint(web.bp)
    return app
