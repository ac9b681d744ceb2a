"""``GET /metrics``: Prometheus text exposition, computed from Redis at scrape time (public).

Workers, the webhook sender and the job store write what they observe to Redis
(``common.metrics``, ``common.jobs`` state indexes); :class:`RedisCollector` reads it on every
scrape, so any API process (gunicorn worker) answers with the same, cluster-wide numbers.

Metrics:

* ``tingshu_jobs{state}``: jobs per state (final ones until they expire);
* ``tingshu_queue_depth{queue}``: messages waiting per Celery queue;
* ``tingshu_chunk_task_seconds{engine}``: histogram of synthesize-task wall time;
* ``tingshu_chunk_synthesis_seconds{engine}``: histogram of per-chunk synthesis time;
* ``tingshu_engine_rtf{engine}``: histogram of synthesis seconds / audio seconds per chunk;
* ``tingshu_webhook_attempts_total{outcome}``: webhook delivery attempts;
* ``tingshu_metrics_redis_up``: 0 when Redis could not be read for this scrape.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from common import metrics
from common.jobs import JobStore

bp = Blueprint("metrics", __name__)

NAMESPACE = "tingshu"


class RedisCollector(Collector):
    """Reads the cross-process metrics from Redis on each ``collect()``.

    Args:
        store: the job store (its connection and final-job TTL).
        queues: Celery queue names whose depth is reported.
    """

    def __init__(self, store: JobStore, queues: list[str]):
        self.store = store
        self.queues = queues

    def collect(self):
        up = GaugeMetricFamily(f"{NAMESPACE}_metrics_redis_up", "1 if Redis was readable for this scrape.")
        try:
            families = list(self._from_redis())
        except Exception:  # a scrape must answer even while Redis is down
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _from_redis(self):
        conn = self.store.connection
        jobs = GaugeMetricFamily(f"{NAMESPACE}_jobs", "Jobs by state (final jobs count until they expire).",
                                 labels=["state"])
        for state, count in metrics.jobs_by_state(conn, self.store.ttl_seconds).items():
            jobs.add_metric([state], count)
        yield jobs
        depth = GaugeMetricFamily(f"{NAMESPACE}_queue_depth", "Messages waiting in each Celery queue.",
                                  labels=["queue"])
        for queue, length in metrics.queue_depths(conn, self.queues).items():
            depth.add_metric([queue], length)
        yield depth
        for spec in metrics.HISTOGRAMS:
            family = HistogramMetricFamily(f"{NAMESPACE}_{spec.name}", spec.help, labels=[spec.label])
            for series in metrics.read_histogram(conn, spec):
                buckets = [(floatToGoString(upper), count) for upper, count in series.buckets]
                family.add_metric([series.label_value], buckets, sum_value=series.sum)
            yield family
        attempts = CounterMetricFamily(f"{NAMESPACE}_webhook_attempts", "Webhook delivery attempts by outcome.",
                                       labels=["outcome"])
        for outcome, count in metrics.read_webhook_attempts(conn).items():
            attempts.add_metric([outcome], count)
        yield attempts


def _registry() -> CollectorRegistry:
    """This app's registry (built on first scrape)."""
    registry = current_app.extensions.get("tingshu_metrics")
    if registry is None:
        from api.extensions import resources

        res = resources()
        queues = list(dict.fromkeys([*metrics.CELERY_QUEUES, res.celery.conf.task_default_queue]))
        registry = CollectorRegistry(auto_describe=False)
        registry.register(RedisCollector(res.store, queues))
        current_app.extensions["tingshu_metrics"] = registry
    return registry


@bp.get("/metrics")
def scrape():
    return Response(generate_latest(_registry()), content_type=CONTENT_TYPE_PLAIN_0_0_4)
