"""``tingshu up``: Redis + SeaweedFS + gunicorn API + Celery worker from one command."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

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
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
        log.close()
    with socket.socket() as sock:  # the API port is free again: nothing left running
        sock.bind(("127.0.0.1", port))
