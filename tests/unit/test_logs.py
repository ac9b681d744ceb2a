"""JSON log lines: the fixed fields, the job/account context, extras and exceptions."""

from __future__ import annotations

import io
import json
import logging
import threading

import pytest

from common import logs


def _emit(formatter: logging.Formatter, *args, exc_info=None, **extra) -> str:
    record = logging.LogRecord("tingshu.test", logging.WARNING, __file__, 1, *args, exc_info)
    for name, value in extra.items():
        setattr(record, name, value)
    return formatter.format(record)


def test_one_json_object_per_line_with_the_fixed_fields():
    line = _emit(logs.JsonFormatter(), "合成了 %d 段\n第二行", (3,), None)
    assert "\n" not in line
    out = json.loads(line)
    assert out["level"] == "WARNING" and out["logger"] == "tingshu.test"
    assert out["message"] == "合成了 3 段\n第二行" and "合成" in line  # kept readable, not \\u-escaped
    assert out["time"].endswith("+00:00") and "T" in out["time"]
    assert "job_id" not in out and "account" not in out


def test_context_is_added_and_restored():
    formatter = logs.JsonFormatter()
    with logs.log_context(job_id="j1", account="acme"):
        with logs.log_context(job_id="j2"):
            inner = json.loads(_emit(formatter, "x", (), None))
        outer = json.loads(_emit(formatter, "x", (), None))
    after = json.loads(_emit(formatter, "x", (), None))
    assert (inner["job_id"], inner["account"]) == ("j2", "acme")
    assert (outer["job_id"], outer["account"]) == ("j1", "acme")
    assert "job_id" not in after


def test_bind_and_unbind_for_signal_pairs():
    token = logs.bind(job_id="j3", account=None)
    try:
        assert logs.current_context() == {"job_id": "j3"}
    finally:
        logs.unbind(token)
    assert logs.current_context() == {}


def test_context_does_not_leak_between_threads():
    seen = {}

    def other():
        seen["context"] = logs.current_context()

    with logs.log_context(job_id="mine"):
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert seen["context"] == {}


def test_providers_extras_and_exceptions():
    def provider():
        return {"account": "from-request", "job_id": None}

    def broken():
        raise RuntimeError("never breaks logging")

    logs.add_context_provider(provider)
    logs.add_context_provider(broken)
    try:
        try:
            raise ValueError("boom")
        except ValueError:
            import sys

            out = json.loads(_emit(logs.JsonFormatter(), "failed", (), sys.exc_info(), chunk=7))
    finally:
        logs._PROVIDERS.remove(provider)
        logs._PROVIDERS.remove(broken)
    assert out["account"] == "from-request" and "job_id" not in out
    assert out["chunk"] == 7
    assert "ValueError: boom" in out["exception"]


def test_text_format_shows_the_context():
    with logs.log_context(job_id="j9"):
        line = _emit(logs.make_formatter("text"), "hello", (), None)
    assert "[job=j9 account=-] hello" in line
    with pytest.raises(ValueError, match="log format"):
        logs.make_formatter("xml")


def test_configure_installs_one_handler():
    stream = io.StringIO()
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        logs.configure("json", stream=stream)
        logs.configure("json", stream=stream)
        assert sum(getattr(h, "_tingshu", False) for h in root.handlers) == 1
        with logs.log_context(job_id="j5", account="a"):
            logging.getLogger("tingshu.unit").info("configured")
        out = json.loads(stream.getvalue().strip().splitlines()[-1])
        assert out["message"] == "configured" and out["job_id"] == "j5"
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
