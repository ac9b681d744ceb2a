"""``tingshu up``: Redis + SeaweedFS + gunicorn API + Celery worker from one command."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from tingshu.services import ROOT, free_port
from tests.integration.jobclient import decode, download, submit, wait_for


def test_up_runs_a_job_and_stops_cleanly(tmp_path):
    port = free_port()
    env = {**os.environ, "TINGSHU_ENGINE": "tone", "TINGSHU_LOCAL_DIR": str(tmp_path / "unused")}
    log = open(tmp_path / "up.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "tingshu", "up", "--port", str(port), "--data-dir",
                             str(tmp_path / "data"), "-c", "1", "--anonymous"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "up.log").read_text()
            try:
                if requests.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.5)
        job = submit(base, {"text": "一条命令启动全部服务。然后提交一个任务。", "format": "mp3"})
        done = wait_for(base, job["id"], timeout=90)
        assert done["state"] == "succeeded", (done, (tmp_path / "up.log").read_text()[-3000:])
        audio, rate = decode(download(done["result"]["url"]))
        assert rate == 16000 and len(audio) > 0
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
            time.sleep(0.5)
            leftovers = _alive_in_group(proc.pid)
        finally:
            try:  # nothing of the session may outlive the test, whatever happened above
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            log.close()
    assert proc.returncode == 0 and not leftovers, f"exit {proc.returncode}; still running: {leftovers}"
    with socket.socket() as sock:  # the API port is free again: nothing left running
        sock.bind(("127.0.0.1", port))


def _alive_in_group(pgid: int) -> list[str]:
    """Command lines of processes still in process group ``pgid`` (zombies excluded)."""
    alive = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            proc_dir = Path("/proc") / entry
            fields = (proc_dir / "stat").read_text().rsplit(")", 1)[1].split()
            if fields[0] != "Z" and int(fields[2]) == pgid:
                alive.append((proc_dir / "cmdline").read_text().replace("\0", " ").strip())
        except (OSError, IndexError, ValueError):
            continue
    return alive


def test_up_interrupted_during_start_up_leaves_nothing_running(tmp_path):
    env = {**os.environ, "TINGSHU_ENGINE": "tone"}
    proc = subprocess.Popen([sys.executable, "-m", "tingshu", "up", "--port", str(free_port()), "--data-dir",
                             str(tmp_path / "data"), "-c", "1"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 30  # SIGTERM as soon as the first service (Redis) is up
        while not list((tmp_path / "data").glob("redis/*.log")) and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        time.sleep(0.5)
        leftovers = _alive_in_group(proc.pid)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert not leftovers, leftovers
