"""Structured logs: one JSON object per line, carrying the job and account being handled.

Every line has ``time`` (UTC, ISO 8601 with milliseconds), ``level``, ``logger`` and
``message``; lines emitted while a job is handled (an API request about a job, a worker task)
also carry ``job_id`` and ``account``. Those come from a context variable set with
:func:`log_context` (or :func:`bind` / :func:`unbind` where a ``with`` block does not fit,
e.g. Celery's ``task_prerun``/``task_postrun`` signals), plus any *context providers*: callables
the API registers to read the current request lazily. ``extra=`` fields of a call are kept too.

Framework-free: the API and the worker each install it their own way (``configure``,
``use_formatter``).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
import traceback
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Mapping

LOG_FORMATS = ("json", "text")
"""Values of the ``log_format`` setting."""

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [job=%(job_id)s account=%(account)s] %(message)s"
"""Line format of ``log_format=text`` (the context fields are filled in by the formatter)."""

CONTEXT_FIELDS = ("job_id", "account")
"""Context fields every line emitted while handling a job carries."""

_CONTEXT: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar("tingshu_log_context", default={})
_PROVIDERS: list[Callable[[], Mapping[str, Any]]] = []

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def bind(**fields: Any) -> contextvars.Token:
    """Add ``fields`` to the log context of the current thread/task; undo with :func:`unbind`."""
    merged = {**_CONTEXT.get(), **{k: v for k, v in fields.items() if v is not None}}
    return _CONTEXT.set(merged)


def unbind(token: contextvars.Token) -> None:
    """Restore the log context as it was before the :func:`bind` that returned ``token``."""
    _CONTEXT.reset(token)


@contextlib.contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Within the block, every log line carries ``fields`` (e.g. ``job_id=..., account=...``)."""
    token = bind(**fields)
    try:
        yield
    finally:
        unbind(token)


def add_context_provider(provider: Callable[[], Mapping[str, Any]]) -> None:
    """Register a callable whose fields are added to every line (it must never raise).

    The API uses one to read the job id and the account of the request being handled.
    """
    if provider not in _PROVIDERS:
        _PROVIDERS.append(provider)


def current_context() -> dict[str, Any]:
    """The context fields a line emitted right now would carry (providers first)."""
    fields: dict[str, Any] = {}
    for provider in _PROVIDERS:
        try:
            fields.update({k: v for k, v in provider().items() if v is not None})
        except Exception:  # a broken provider must never break logging
            continue
    fields.update(_CONTEXT.get())
    return fields


class JsonFormatter(logging.Formatter):
    """Formats each record as one JSON object on one line (non-ASCII kept readable)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        out.update(current_context())
        for name, value in vars(record).items():
            if name not in _STANDARD_ATTRS and not name.startswith("_"):
                out[name] = value
        if record.exc_info:
            out["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        elif record.exc_text:
            out["exception"] = record.exc_text
        if record.stack_info:
            out["stack"] = record.stack_info
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """Human-readable lines that still show the job and account (``-`` when unknown)."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        context = current_context()
        for name in CONTEXT_FIELDS:
            if not hasattr(record, name):
                setattr(record, name, context.get(name, "-"))
        return super().format(record)


def make_formatter(log_format: str = "json") -> logging.Formatter:
    """The formatter for ``log_format`` (``json`` or ``text``).

    Raises:
        ValueError: an unknown format.
    """
    if log_format == "json":
        return JsonFormatter()
    if log_format == "text":
        return TextFormatter()
    raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}")


def use_formatter(logger: logging.Logger, log_format: str = "json") -> None:
    """Give every handler of ``logger`` the formatter for ``log_format`` (e.g. Celery's)."""
    formatter = make_formatter(log_format)
    for handler in logger.handlers:
        handler.setFormatter(formatter)


def configure(log_format: str = "json", level: int | str = logging.INFO, stream=None) -> logging.Handler:
    """Send the root logger's lines to ``stream`` (default stderr) in ``log_format``.

    Idempotent: a handler installed by an earlier call is replaced, not duplicated.

    Returns:
        The installed handler.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_tingshu", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(make_formatter(log_format))
    handler._tingshu = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    return handler
