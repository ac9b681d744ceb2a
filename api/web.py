"""``GET /``: the web page (one static file) for submitting a text and playing the result.

The page talks to the same REST API as every other client; it keeps the API key the user
types in the browser's local storage.
"""

from __future__ import annotations

from flask import Blueprint, current_app

bp = Blueprint("web", __name__)


@bp.get("/")
def index():
    return current_app.send_static_file("index.html")
