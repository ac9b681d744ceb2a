"""Validation of a synthesis request, shared by the REST API and the CLI.

Shape and types are checked with pydantic; domain rules (text length, the engine's voices and
emotions, output formats) are checked against the settings and the engine's facts. Every
problem raises :class:`common.errors.ValidationError` naming the offending field.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pydantic

from common import audio
from common.config import Settings
from common.engines.base import SPEED_MAX, SPEED_MIN, EngineInfo, SynthesisOptions
from common.errors import TextTooLong, ValidationError
from common.webhooks import UnsafeUrl, check_url

MAX_METADATA_BYTES = 4096
"""Largest JSON-encoded ``metadata`` object a job may carry."""


class _Shape(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", strict=True)

    text: str
    voice: str | None = None
    emotion: str = "neutral"
    speed: float = 1.0
    format: str | None = None
    seed: int | None = None
    metadata: dict[str, Any] | None = None
    webhook_url: str | None = None

    @pydantic.field_validator("speed", mode="before")
    @classmethod
    def _int_speed(cls, value: Any) -> Any:
        # strict mode refuses 1 for a float field; accept JSON integers, refuse bools
        if isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return value


class JobRequest(pydantic.BaseModel):
    """A validated request; ``options()`` gives the engine call options."""

    text: str
    voice: str
    emotion: str
    speed: float
    format: str
    seed: int
    metadata: dict[str, Any]
    webhook_url: str | None = None

    def options(self) -> SynthesisOptions:
        return SynthesisOptions(voice=self.voice, emotion=self.emotion, speed=self.speed, seed=self.seed)


def parse_job_request(payload: Any, settings: Settings, info: EngineInfo,
                      max_chars: int | None = None) -> JobRequest:
    """Validate a decoded JSON body (or CLI arguments) into a :class:`JobRequest`.

    Args:
        payload: the decoded JSON body; must be an object.
        settings: limits and defaults.
        info: the engine's voices and emotions.
        max_chars: text length limit (default ``settings.max_text_chars``).

    Raises:
        ValidationError: naming the field at fault.
        TextTooLong: (a ValidationError) text over the limit.
    """
    if not isinstance(payload, dict):
        raise ValidationError("body", "the request body must be a JSON object")
    try:
        shape = _Shape.model_validate(payload)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        message = "unknown field" if first["type"] == "extra_forbidden" else first["msg"]
        raise ValidationError(field, message) from None
    limit = max_chars or settings.max_text_chars
    text = shape.text
    if not text.strip():
        raise ValidationError("text", "text must not be empty")
    if len(text) > limit:
        raise TextTooLong("text", f"text has {len(text)} characters; the limit is {limit}")
    voice = shape.voice if shape.voice is not None else info.default_voice
    if voice not in info.voice_ids():
        raise ValidationError("voice", f"unknown voice {voice!r}; choose one of: {', '.join(info.voice_ids())}")
    if shape.emotion not in info.emotion_ids():
        raise ValidationError("emotion", f"unknown emotion {shape.emotion!r}; choose one of: {', '.join(info.emotion_ids())}")
    if not (SPEED_MIN <= shape.speed <= SPEED_MAX):
        raise ValidationError("speed", f"speed must be between {SPEED_MIN} and {SPEED_MAX}")
    fmt = (shape.format or settings.default_format).lower()
    if fmt not in audio.SUPPORTED_FORMATS:
        raise ValidationError("format", f"unsupported format {fmt!r}; choose one of: {', '.join(audio.SUPPORTED_FORMATS)}")
    seed = shape.seed if shape.seed is not None else random.randrange(2**31 - 1)
    if not (0 <= seed < 2**31 - 1):
        raise ValidationError("seed", "seed must be between 0 and 2147483646")
    metadata = shape.metadata or {}
    if len(json.dumps(metadata, ensure_ascii=False).encode("utf-8")) > MAX_METADATA_BYTES:
        raise ValidationError("metadata", f"metadata must encode to at most {MAX_METADATA_BYTES} bytes of JSON")
    if shape.webhook_url is not None:
        try:
            check_url(shape.webhook_url, settings.webhook_allow)
        except UnsafeUrl as exc:
            raise ValidationError("webhook_url", str(exc)) from None
    return JobRequest(text=text, voice=voice, emotion=shape.emotion, speed=shape.speed, format=fmt,
                      seed=seed, metadata=metadata, webhook_url=shape.webhook_url)
