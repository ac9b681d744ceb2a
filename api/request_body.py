"""Read a JSON request body, turning every client mistake into an ``ApiError``."""

from __future__ import annotations

import json
from typing import Any

from flask import request

from api.errors import ApiError


def json_body() -> Any:
    """The decoded JSON body.

    Raises:
        ApiError: 415 when the Content-Type is not JSON, 400 when the body is not valid
            UTF-8 JSON.
    """
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type",
                       f"Content-Type must be application/json, not {request.mimetype or 'missing'}", "Content-Type")
    raw = request.get_data(cache=True)
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ApiError(400, "malformed_json", "request body is not valid UTF-8", "body") from None
    except json.JSONDecodeError as exc:
        raise ApiError(400, "malformed_json", f"request body is not valid JSON: {exc.msg} at position {exc.pos}", "body") from None
