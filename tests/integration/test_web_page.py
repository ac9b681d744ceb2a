"""The web page in a real headless Chromium (Debian's chromium + npm playwright-core):
submit a text, watch it finish, play the audio; and a bad submission shows the field."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from common.accounts import AccountStore
from tests.integration.conftest import redis_db_url
from tingshu.services import running_stack

BROWSER_DIR = Path(__file__).resolve().parents[1] / "browser"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
WEB_DB = 12

needs_browser = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and shutil.which("node") and (BROWSER_DIR / "node_modules" / "playwright-core").exists()),
    reason="needs Debian's chromium, node and `npm ci` in tests/browser (bin/test installs them where it can)")


@pytest.fixture(scope="module")
def web_stack(s3_session_settings, redis_server, tmp_path_factory):
    import redis

    settings = s3_session_settings.replace(redis_url=redis_db_url(redis_server.url, WEB_DB), engine="tone")
    redis.Redis.from_url(settings.redis_url).flushdb()
    accounts = AccountStore.from_url(settings.redis_url)
    accounts.save_account("web")
    key = accounts.create_key("web", "browser test")[1]
    with running_stack(settings, tmp_path_factory.mktemp("web"), "web") as (api, _worker):
        yield api, key


def drive(api_url: str, key: str, tmp_path: Path, **env: str) -> dict:
    shot = tmp_path / "page.png"
    done = subprocess.run(["node", str(BROWSER_DIR / "web_page.mjs")], cwd=BROWSER_DIR, capture_output=True,
                          text=True, timeout=180,
                          env={**os.environ, "TINGSHU_URL": api_url, "TINGSHU_KEY": key, "CHROMIUM": CHROMIUM,
                               "SCREENSHOT": str(shot), **env})
    assert done.returncode == 0, done.stderr[-3000:]
    assert shot.stat().st_size > 10_000
    return json.loads(done.stdout.strip().splitlines()[-1])


def web_stack_pause_seconds() -> float:
    from common.config import Settings

    return Settings().pause_ms / 1000


@needs_browser
def test_submit_and_play_in_a_real_browser(web_stack, tmp_path):
    api, key = web_stack
    text = "你好，欢迎使用听书。这是网页上的一次合成。"
    shown = drive(api.url, key, tmp_path, TEXT=text)
    assert "page_error" not in shown, shown
    assert shown["voices"] == ["tone-a", "tone-b"] and shown["emotions"] == ["Neutral（韵律预设）"]
    assert shown["key_marked"] is False  # the 401 from before the key was typed is cleared
    assert shown["state"] == "succeeded" and shown["progress"].split(" / ")[0] == shown["progress"].split(" / ")[1]
    assert "X-Amz-Signature" in shown["audio_src"]
    chunks = int(shown["progress"].split(" / ")[1])
    pause = web_stack_pause_seconds()
    expected = len(text) * 0.1 + (chunks - 1) * pause  # the tone engine speaks 0.1 s per character
    assert abs(shown["duration"] - expected) < 0.05, shown


@needs_browser
def test_bad_input_is_shown_next_to_the_field(web_stack, tmp_path):
    api, key = web_stack
    shown = drive(api.url, key, tmp_path, BAD_INPUT="1")
    assert shown["error"].startswith("text:") and shown["text_marked"] is True
