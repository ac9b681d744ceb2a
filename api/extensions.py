"""Per-app resources: job store, storage, engine facts, and a Celery app for publishing."""

from __future__ import annotations

from dataclasses import dataclass

from celery import Celery
from flask import Flask, current_app

from common.config import Settings
from common.engines.base import EngineInfo
from common.engines.registry import describe_engine
from common.jobs import JobStore
from common.storage import Storage, get_storage


@dataclass
class Resources:
    settings: Settings
    store: JobStore
    storage: Storage
    engine: EngineInfo
    celery: Celery


def init_app(app: Flask, settings: Settings) -> None:
    """Create the resources once, with a Celery app of this API's own for publishing."""
    from worker.celery_app import make_celery

    app.extensions["tingshu"] = Resources(
        settings=settings,
        store=JobStore.from_url(settings.redis_url, settings.job_ttl_seconds),
        storage=get_storage(settings),
        engine=describe_engine(settings),
        celery=make_celery(settings, publisher=True),
    )


def resources() -> Resources:
    return current_app.extensions["tingshu"]
