"""Processes of the distributed stack for integration tests: Celery workers and the API.

Workers are real ``celery worker`` subprocesses (own process group, so a test can SIGKILL the
whole worker); the API is the real Flask app served over HTTP by werkzeug in a thread.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from werkzeug.serving import make_server

from common.config import Settings

ROOT = Path(__file__).resolve().parents[2]


class CeleryWorker:
    """A ``celery worker`` subprocess for ``settings`` (engine, Redis, storage from env)."""

    def __init__(self, settings: Settings, logdir: Path, concurrency: int = 2, pool: str = "prefork",
                 name: str = "test", extra_env: dict[str, str] | None = None):
        self.settings = settings
        self.logfile = Path(logdir) / f"worker-{name}-{time.monotonic_ns()}.log"
        self.concurrency, self.pool, self.name = concurrency, pool, name
        self.extra_env = extra_env or {}
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 120) -> "CeleryWorker":
        env = {**os.environ, **self.settings.to_env(), "OMP_NUM_THREADS": "1", **self.extra_env}
        argv = [sys.executable, "-m", "celery", "-A", "worker.celery_app", "worker", "--loglevel", "INFO",
                "--without-mingle", "--without-gossip", "--without-heartbeat", f"--pool={self.pool}",
                "-c", str(self.concurrency), "-n", f"{self.name}-{os.getpid()}-{time.monotonic_ns()}@%h",
                "-f", str(self.logfile)]
        self.process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"celery worker exited ({self.process.returncode}):\n{self.log_tail()}")
            if " ready." in self.log():
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"celery worker not ready after {timeout} s:\n{self.log_tail()}")

    def log(self) -> str:
        try:
            return self.logfile.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool children) at once."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self, timeout: float = 20) -> None:
        if not self.process or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()


class ApiServer:
    """The Flask app from ``create_app`` served on a free loopback port in a thread."""

    def __init__(self, settings: Settings, sync_timeout: float = 120):
        from api import create_app

        self.app = create_app({"SETTINGS": settings, "TESTING": True, "SYNC_TIMEOUT_SECONDS": sync_timeout})
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "ApiServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)
