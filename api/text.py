"""``POST /v1/text/preview``: what the engine will actually say, before a job is submitted.

Shows the normalised (spoken) form of a text, each span normalisation changed (numbers,
dates, units, acronyms, footnote marks), and the chunks the job would be split into.
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from api.extensions import resources
from api.request_body import json_body
from common.errors import TextTooLong, ValidationError
from common.pipeline import chunk_limit, plan_chunks
from common.text.normalize import normalize_text, preview

bp = Blueprint("text", __name__)

PREVIEW_MAX_CHARS = 5000
"""Longest text a preview accepts (the change list is a character diff)."""


@bp.post("/v1/text/preview")
def preview_text():
    """JSON ``{text}`` → ``{spoken, changes, chunks, max_chunk_chars}``."""
    res = resources()
    payload = json_body()
    if not isinstance(payload, dict):
        raise ValidationError("body", "the request body must be a JSON object")
    unknown = sorted(set(payload) - {"text"})
    if unknown:
        raise ValidationError(unknown[0], "unknown field")
    text = payload.get("text")
    if not isinstance(text, str):
        raise ValidationError("text", "text must be a string")
    if len(text) > PREVIEW_MAX_CHARS:
        raise TextTooLong("text", f"a preview takes at most {PREVIEW_MAX_CHARS} characters; this text has {len(text)}")
    if not text.strip():
        raise ValidationError("text", "text must not be empty")
    chunks = plan_chunks(text, res.settings, res.engine.max_chunk_chars)
    return jsonify({
        "spoken": normalize_text(text),
        "changes": [{"original": original, "spoken": spoken} for original, spoken in preview(text)],
        "chunks": chunks,
        "max_chunk_chars": chunk_limit(res.settings, res.engine.max_chunk_chars),
    })
