"""Pick an engine by name and load it lazily, once per process.

Factories are registered by name and import their heavy dependencies only when called, so
importing this module never touches torch or CUDA. The cache is keyed by process id: a
Celery prefork child never reuses an engine (or a CUDA context) built in its parent.
"""

from __future__ import annotations

import importlib
import os
import threading
from typing import Callable

from common.config import Settings
from common.engines.base import Engine, EngineInfo
from common.errors import EngineUnavailable

EngineFactory = Callable[[Settings], Engine]

_FACTORIES: dict[str, str | EngineFactory] = {
    "bundled": "common.engines.bundled:load_engine",
    "sambert": "common.engines.sambert:load_engine",
    "tone": "common.engines.tone:load_engine",
}
_CACHE: dict[tuple[int, str], Engine] = {}
_LOCK = threading.Lock()


def register_engine(name: str, factory: str | EngineFactory) -> None:
    """Register ``factory`` (a callable or ``"module:function"``) under ``name``."""
    _FACTORIES[name] = factory


def engine_names() -> list[str]:
    """Names of every registered engine."""
    return sorted(_FACTORIES)


def get_engine(settings: Settings, name: str | None = None) -> Engine:
    """Return this process's engine ``name`` (default ``settings.engine``), loading it once.

    Raises:
        EngineUnavailable: unknown name, or the engine failed to load (message says how to fix).
    """
    name = name or settings.engine
    key = (os.getpid(), name)
    with _LOCK:
        engine = _CACHE.get(key)
        if engine is None:
            engine = _resolve(name)(settings)
            _CACHE[key] = engine
    return engine


def describe_engine(settings: Settings, name: str | None = None) -> EngineInfo:
    """Voices, emotions and limits of engine ``name`` without loading its weights when possible.

    An engine module may define ``describe(settings) -> EngineInfo`` (cheap); otherwise the
    engine is loaded and asked.
    """
    name = name or settings.engine
    module = _resolve_module(name)
    describe = getattr(module, "describe", None) if module else None
    if describe is not None:
        return describe(settings)
    return EngineInfo.of(get_engine(settings, name))


def check_engine(settings: Settings, name: str | None = None) -> None:
    """Fail fast, before workers start, if engine ``name`` could not load here.

    Uses the engine module's cheap ``check(settings)`` hook when it has one (files present,
    extras importable), else loads the engine.

    Raises:
        EngineUnavailable: with the message saying how to fix it.
    """
    name = name or settings.engine
    factory = _resolve_module(name)
    check = getattr(factory, "check", None) if factory else None
    if check is not None:
        check(settings)
    else:
        get_engine(settings, name)


def _resolve_module(name: str):
    factory = _FACTORIES.get(name)
    if factory is None:
        raise EngineUnavailable(f"unknown engine {name!r}; known engines: {', '.join(engine_names())}")
    if not isinstance(factory, str):
        return None
    try:
        return importlib.import_module(factory.partition(":")[0])
    except ImportError as exc:
        raise EngineUnavailable(f"engine {name!r} cannot be imported: {exc}") from exc


def clear_cache() -> None:
    """Forget loaded engines (tests and model reloads)."""
    with _LOCK:
        _CACHE.clear()


def _resolve(name: str) -> EngineFactory:
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise EngineUnavailable(f"unknown engine {name!r}; known engines: {', '.join(engine_names())}") from None
    if callable(factory):
        return factory
    module_name, _, attr = factory.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except ImportError as exc:
        raise EngineUnavailable(f"engine {name!r} cannot be imported: {exc}") from exc
