"""``GET /v1/voices``: the engine's voices and emotions (model emotion or prosody preset),
output formats and limits, so clients can build their forms from it."""

from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, jsonify

from api.extensions import resources
from common import audio
from common.engines.base import SPEED_MAX, SPEED_MIN

bp = Blueprint("voices", __name__)


@bp.get("/v1/voices")
def list_voices():
    res = resources()
    info = res.engine
    return jsonify({
        "engine": info.name,
        "sample_rate": info.sample_rate,
        "default_voice": info.default_voice,
        "voices": [asdict(v) for v in info.voices],
        "emotions": [asdict(e) for e in info.emotions],
        "formats": list(audio.SUPPORTED_FORMATS),
        "limits": {
            "max_text_chars": res.settings.max_text_chars,
            "sync_max_chars": res.settings.sync_max_chars,
            "max_chunk_chars": min(res.settings.chunk_chars, info.max_chunk_chars),
            "speed": [SPEED_MIN, SPEED_MAX],
        },
    })
