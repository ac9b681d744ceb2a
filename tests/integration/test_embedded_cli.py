"""``tingshu synth``: the embedded path (no Redis, no S3) as a user runs it, in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys

import soundfile as sf

from common.config import Settings
from common.engines.registry import describe_engine
from common.engines.tone import SAMPLES_PER_CHAR
from common.pipeline import plan_chunks
from tingshu.services import ROOT

TEXT = "第一章。\r\n天还没亮，街上已经有人了！你听见了吗？那是卖豆浆的吆喝声。" * 5


def run_cli(*args: str, env: dict | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tingshu", *args], cwd=ROOT, input=stdin, text=True,
                          capture_output=True, env={**os.environ, **(env or {})}, timeout=600)


def test_embedded_tone_matches_distributed_chunks(tmp_path):
    source = tmp_path / "book.txt"
    source.write_text(TEXT, encoding="utf-8")
    out = tmp_path / "book.flac"
    settings = Settings().replace(engine="tone", pause_ms=100)
    result = run_cli("synth", "--in", str(source), "--out", str(out), "--quiet",
                     env={**settings.to_env(), "TINGSHU_REDIS_URL": "redis://127.0.0.1:1/0"})
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stdout
    chunks = plan_chunks(TEXT, settings, describe_engine(settings).max_chunk_chars)
    info = sf.info(str(out))
    expected = sum(len(c) for c in chunks) * SAMPLES_PER_CHAR + (len(chunks) - 1) * 1600
    assert info.frames == expected and info.samplerate == 16000


def test_embedded_real_engine_writes_speech(tmp_path, bundled_model_dir):
    out = tmp_path / "sample.wav"
    result = run_cli("synth", "--in", "-", "--out", str(out), "--quiet", "--seed", "3",
                     env={"TINGSHU_MODEL_DIR": str(bundled_model_dir), "TINGSHU_DEVICE": "cpu"},
                     stdin="你好，欢迎收听今天的新闻。")
    assert result.returncode == 0, result.stderr
    info = sf.info(str(out))
    assert info.samplerate == 22050 and 1.0 < info.duration < 8.0


def test_cli_errors_are_clear(tmp_path):
    missing = run_cli("synth", "--in", str(tmp_path / "nope.txt"), "--out", str(tmp_path / "x.wav"),
                      env={"TINGSHU_ENGINE": "tone"})
    assert missing.returncode == 2 and "--in: no such file" in missing.stderr
    bad_speed = run_cli("synth", "--in", "-", "--out", str(tmp_path / "x.wav"), "--speed", "9",
                        env={"TINGSHU_ENGINE": "tone"}, stdin="你好。")
    assert bad_speed.returncode == 2 and "speed" in bad_speed.stderr
    empty = run_cli("synth", "--in", "-", "--out", str(tmp_path / "x.wav"), env={"TINGSHU_ENGINE": "tone"}, stdin="  ")
    assert empty.returncode == 2 and "text" in empty.stderr
    no_model = run_cli("synth", "--in", "-", "--out", str(tmp_path / "x.wav"),
                       env={"TINGSHU_MODEL_DIR": str(tmp_path / "no-model")}, stdin="你好。")
    assert no_model.returncode == 3 and "fetch-model" in no_model.stderr
