"""Per-process resources of a worker: settings, job store, storage and the engine.

Everything is created lazily in the process that uses it, never in a prefork parent, so a
CUDA context or a Redis connection is never inherited across ``fork``.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

from common.config import Settings
from common.engines.base import Engine
from common.engines.registry import get_engine
from common.jobs import JobStore
from common.storage import Storage, get_storage


@dataclass
class WorkerContext:
    settings: Settings
    pid: int = field(default_factory=os.getpid)
    _store: JobStore | None = None
    _storage: Storage | None = None

    @property
    def store(self) -> JobStore:
        if self._store is None:
            self._store = JobStore.from_url(self.settings.redis_url, self.settings.job_ttl_seconds)
        return self._store

    @property
    def storage(self) -> Storage:
        if self._storage is None:
            self._storage = get_storage(self.settings)
        return self._storage

    def engine(self, name: str | None = None) -> Engine:
        return get_engine(self.settings, name)


_CONTEXT: WorkerContext | None = None
_LOCK = threading.Lock()


def current() -> WorkerContext:
    """This process's context (rebuilt after a fork)."""
    global _CONTEXT
    with _LOCK:
        if _CONTEXT is None or _CONTEXT.pid != os.getpid():
            _CONTEXT = WorkerContext(Settings.from_env())
        return _CONTEXT
