"""Metrics that cross process boundaries, kept in Redis (framework-free).

Workers are separate processes, so what they observe (chunk latency, engine real-time factor)
and what the webhook sender counts are written to Redis here, with plain ``HINCRBY`` in one
pipeline per task; the API renders them at scrape time (``api/metrics.py``). A histogram is a
hash per (name, label value): one field per bucket (non-cumulative counts, ``b:<upper bound>``),
plus ``sum`` and ``count``. Jobs by state come from the job store's per-state indexes, queue
depth from ``LLEN`` of the Celery queue lists.

Writers never raise: a metrics hiccup must not fail a chunk or a webhook delivery.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import redis

from common.jobs import FINAL_STATES, JobStatus, state_index_key

log = logging.getLogger(__name__)

METRICS_PREFIX = "tingshu:metrics:"
"""Namespace of every metrics key; all are built by the helpers below."""

INF = math.inf


@dataclass(frozen=True)
class HistogramSpec:
    """A histogram's name (without the ``tingshu_`` prefix), label, help text and bounds."""

    name: str
    label: str
    help: str
    buckets: tuple[float, ...]


CHUNK_TASK_SECONDS = HistogramSpec(
    "chunk_task_seconds", "engine", "Wall time of one synthesize task (a group of chunks), in seconds.",
    (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, INF))
"""Seconds per ``tts.synthesize_chunks`` task (synthesis and upload of its chunks)."""

CHUNK_SECONDS = HistogramSpec(
    "chunk_synthesis_seconds", "engine", "Synthesis time of one chunk, in seconds (a batch's time shared by characters).",
    (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, INF))
"""Engine seconds per chunk."""

ENGINE_RTF = HistogramSpec(
    "engine_rtf", "engine", "Real-time factor per chunk: synthesis seconds / audio seconds (lower is faster).",
    (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 5, INF))
"""Synthesis seconds / audio seconds per chunk."""

HISTOGRAMS = (CHUNK_TASK_SECONDS, CHUNK_SECONDS, ENGINE_RTF)
"""Every histogram workers record, in rendering order."""

WEBHOOK_OUTCOMES = ("delivered", "retry", "gave_up", "disabled")
"""Outcomes of a webhook attempt (``common.webhooks.Outcome``; others are counted too, as given)."""

CELERY_QUEUES = ("interactive", "bulk", "webhooks", "tts")
"""Celery queue names whose depth is reported (a missing list counts 0)."""

_PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")
"""kombu's Redis transport keeps one list per priority step: ``name``, ``name\\x06\\x163``, …"""


def histogram_key(name: str, label_value: str) -> str:
    """Hash of one histogram series: bucket fields, ``sum`` and ``count``."""
    return f"{METRICS_PREFIX}hist:{name}:{label_value}"


def histogram_labels_key(name: str) -> str:
    """Set of the label values a histogram has series for."""
    return f"{METRICS_PREFIX}hist:{name}:labels"


def webhook_attempts_key() -> str:
    """Hash outcome → number of webhook delivery attempts."""
    return f"{METRICS_PREFIX}webhook_attempts"


def bucket_field(upper: float) -> str:
    """Hash field of the bucket whose upper bound is ``upper`` (``b:+Inf`` for the last)."""
    return "b:+Inf" if upper == INF else f"b:{upper:g}"


def _bucket_for(spec: HistogramSpec, value: float) -> str:
    for upper in spec.buckets:
        if value <= upper:
            return bucket_field(upper)
    return bucket_field(INF)


def observe(pipe, spec: HistogramSpec, label_value: str, value: float) -> None:
    """Queue one observation of ``spec`` on ``pipe`` (the caller executes it)."""
    if not math.isfinite(value) or value < 0:
        return
    key = histogram_key(spec.name, label_value)
    pipe.hincrby(key, _bucket_for(spec, value), 1)
    pipe.hincrby(key, "count", 1)
    pipe.hincrbyfloat(key, "sum", value)
    pipe.sadd(histogram_labels_key(spec.name), label_value)


def record_synthesis(connection: redis.Redis, engine: str, task_seconds: float,
                     infos: Mapping[int, Mapping]) -> None:
    """Record one finished synthesize task: its wall time and each chunk's time and RTF.

    Args:
        connection: the Redis of the job store.
        engine: engine name (the histograms' label).
        task_seconds: wall time of the whole task.
        infos: ``index → chunk facts`` as returned by ``common.pipeline.synthesize_group``
            (``synth_seconds``, ``audio_seconds``).
    """
    try:
        with connection.pipeline(transaction=False) as pipe:
            observe(pipe, CHUNK_TASK_SECONDS, engine, task_seconds)
            for info in infos.values():
                synth = float(info.get("synth_seconds", 0.0))
                observe(pipe, CHUNK_SECONDS, engine, synth)
                audio_seconds = float(info.get("audio_seconds", 0.0))
                if audio_seconds > 0:
                    observe(pipe, ENGINE_RTF, engine, synth / audio_seconds)
            pipe.execute()
    except redis.RedisError as exc:
        log.warning("could not record synthesis metrics: %s", exc)


def record_webhook_attempt(connection: redis.Redis, outcome: str) -> None:
    """Count one webhook delivery attempt with ``outcome`` (e.g. ``delivered``, ``failed``)."""
    try:
        connection.hincrby(webhook_attempts_key(), outcome, 1)
    except redis.RedisError as exc:
        log.warning("could not record a webhook attempt: %s", exc)


@dataclass
class HistogramSnapshot:
    """One histogram series read back: cumulative ``(upper bound, count)`` pairs, sum, count."""

    label_value: str
    buckets: list[tuple[float, int]]
    sum: float
    count: int


def read_histogram(connection: redis.Redis, spec: HistogramSpec) -> list[HistogramSnapshot]:
    """Every series of ``spec`` with cumulative bucket counts (Prometheus' ``le`` form)."""
    labels = sorted(_text(v) for v in connection.smembers(histogram_labels_key(spec.name)))
    with connection.pipeline(transaction=False) as pipe:
        for label in labels:
            pipe.hgetall(histogram_key(spec.name, label))
        raws = pipe.execute()
    out = []
    for label, raw in zip(labels, raws):
        raw = {_text(k): _text(v) for k, v in raw.items()}
        running, buckets = 0, []
        for upper in spec.buckets:
            running += int(raw.get(bucket_field(upper), 0))
            buckets.append((upper, running))
        out.append(HistogramSnapshot(label, buckets, float(raw.get("sum", 0.0)), int(raw.get("count", 0))))
    return out


def read_webhook_attempts(connection: redis.Redis) -> dict[str, int]:
    """Outcome → attempts so far (the usual outcomes are always present)."""
    counts = {outcome: 0 for outcome in WEBHOOK_OUTCOMES}
    counts.update({_text(k): int(v) for k, v in connection.hgetall(webhook_attempts_key()).items()})
    return counts


def jobs_by_state(connection: redis.Redis, final_ttl_seconds: int, now: float | None = None) -> dict[str, int]:
    """How many jobs are in each state, from the job store's per-state indexes.

    Entries of final states older than ``final_ttl_seconds`` belong to expired jobs; they are
    pruned first, so the counts match the jobs that can still be fetched.
    """
    cutoff = (now or time.time()) - final_ttl_seconds
    with connection.pipeline(transaction=False) as pipe:
        for state in FINAL_STATES:
            pipe.zremrangebyscore(state_index_key(state), "-inf", f"({cutoff}")
        for state in JobStatus:
            pipe.zcard(state_index_key(state))
        results = pipe.execute()
    return {state.value: int(n) for state, n in zip(JobStatus, results[len(FINAL_STATES):])}


def queue_depths(connection: redis.Redis, queues: Iterable[str] = CELERY_QUEUES) -> dict[str, int]:
    """Messages waiting in each Celery queue (all priority lists of a queue summed)."""
    names: Sequence[str] = list(dict.fromkeys(queues))
    with connection.pipeline(transaction=False) as pipe:
        for name in names:
            for suffix in _PRIORITY_SUFFIXES:
                pipe.llen(name + suffix)
        lengths = pipe.execute()
    step = len(_PRIORITY_SUFFIXES)
    return {name: sum(lengths[i * step:(i + 1) * step]) for i, name in enumerate(names)}


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
