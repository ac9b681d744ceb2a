"""Read a JSON request body, turning every client mistake into an ``ApiError``."""

from __future__ import annotations

import json
import math
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
        body = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant, parse_float=_finite_float)
        # escapes such as "\ud800" decode to unpaired surrogates, which no store can encode
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "malformed_json", "request body is not valid UTF-8", "body") from None
    except UnicodeEncodeError:
        raise ApiError(400, "malformed_json", "request body has an unpaired surrogate escape (\\ud800-\\udfff)", "body") from None
    except json.JSONDecodeError as exc:
        raise ApiError(400, "malformed_json", f"request body is not valid JSON: {exc.msg} at position {exc.pos}", "body") from None
    except _NonStandardJson as exc:
        raise ApiError(400, "malformed_json", f"request body is not valid JSON: {exc}", "body") from None
    except RecursionError:
        raise ApiError(400, "malformed_json", "request body is nested too deeply", "body") from None
    return body


class _NonStandardJson(ValueError):
    """``NaN``/``Infinity``: Python's decoder accepts them, JSON (RFC 8259) does not."""


def _refuse_constant(name: str):
    raise _NonStandardJson(f"{name} is not a JSON value")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # e.g. 1e400: stored, it would come back as the non-JSON Infinity
        raise _NonStandardJson(f"{text[:40]} is out of the range of a double")
    return value
