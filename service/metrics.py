"""The metrics ``GET /metrics`` serves, in Prometheus' text format (prometheus-client).

With ``PROMETHEUS_MULTIPROC_DIR`` set (production: gunicorn's workers and the scheduler), every process
writes its values to files in that directory and a scrape of any worker adds them all up
(``render``): requests served by every worker, sweeps run by the scheduler process. gunicorn's
``child_exit`` hook (config/gunicorn.py) drops a dead worker's live gauges; its counters stay counted.
Without it (development, tests) the values are this process's.

The request path costs one histogram observation (``observe_request``: the label set's child is looked
up once per route, method and status, then reused) and two gauge moves per database connection checked
out and in.
"""
from __future__ import annotations

import os
from collections.abc import Mapping

from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

MULTIPROCESS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
if MULTIPROCESS_DIR:  # prometheus-client opens its files there from the first value on
    os.makedirs(MULTIPROCESS_DIR, exist_ok=True)

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4  # the text format every Prometheus reads
UNMATCHED = "unmatched"  # the route of a request no URL rule matched (a 404): one label, not every path

REQUEST_SECONDS = Histogram(
    "linli_http_request_duration_seconds",
    "Time the app took to answer a request, by URL rule, method and status (its _count: requests served)",
    ("route", "method", "status"),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))
POOL_CHECKED_OUT = Gauge("linli_db_pool_checked_out", "Database connections in use (checked out of the pool)",
                         multiprocess_mode="livesum")
POOL_SIZE = Gauge("linli_db_pool_size", "Database connections the pools keep (pool_size; overflow comes on top)",
                  multiprocess_mode="livesum")
POOL_OVERFLOW_LIMIT = Gauge("linli_db_pool_max_overflow", "Connections a pool may open beyond its size",
                            multiprocess_mode="livesum")
SWEEP_SECONDS = Histogram(
    "linli_job_duration_seconds", "Time a scheduler sweep took, by job", ("job",),
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0))
SWEEP_RUNS = Counter("linli_job_runs_total", "Scheduler sweeps run, by job and outcome (ok, failed, skipped: "
                                             "the scheduler lease was lost)", ("job", "outcome"))
SWEEP_ITEMS = Counter("linli_job_items_total", "What the sweeps counted (their result), by job and count",
                      ("job", "outcome"))
SWEEP_LAST_SUCCESS = Gauge("linli_job_last_success_timestamp_seconds",
                           "When a sweep last finished without error (Unix time)", ("job",),
                           multiprocess_mode="max")
DELIVERIES = Counter("linli_notification_deliveries_total",
                     "WeChat subscribe-message deliveries by outcome (sent, skipped, failed)", ("outcome",))

_request_children: dict[tuple[str, str, int], object] = {}


def observe_request(route: str | None, method: str, status: int, seconds: float) -> None:
    key = (route or UNMATCHED, method, status)
    child = _request_children.get(key)
    if child is None:
        child = _request_children[key] = REQUEST_SECONDS.labels(key[0], method, str(status))
    child.observe(seconds)


def observe_sweep(job: str, seconds: float, outcome: str, counts: object = None, *, now: float | None = None,
                  deliveries: bool = False) -> None:
    """A sweep ran: its duration, outcome and, when its result is a mapping of counts, those counts
    (``deliveries``: they are WeChat deliveries by outcome)."""
    SWEEP_SECONDS.labels(job).observe(seconds)
    SWEEP_RUNS.labels(job, outcome).inc()
    if outcome == "ok" and now is not None:
        SWEEP_LAST_SUCCESS.labels(job).set(now)
    for name, count in _counts(counts).items():
        SWEEP_ITEMS.labels(job, name).inc(count)
        if deliveries:
            DELIVERIES.labels(name).inc(count)


def _counts(result: object) -> dict[str, int]:
    if not isinstance(result, Mapping):
        return {}
    return {str(k): v for k, v in result.items()
            if isinstance(v, int) and not isinstance(v, bool) and v > 0}


def watch_pool(engine) -> None:
    """Count the connections ``engine``'s pool lends (checkout and checkin events) and its size."""
    from sqlalchemy import event

    pool = engine.pool
    if getattr(pool, "_linli_watched", False):
        return
    pool._linli_watched = True
    size = getattr(pool, "size", None)
    if callable(size):
        POOL_SIZE.inc(size())
        overflow = getattr(pool, "_max_overflow", 0)
        if isinstance(overflow, int) and overflow > 0:
            POOL_OVERFLOW_LIMIT.inc(overflow)
    event.listen(pool, "checkout", _checked_out)
    event.listen(pool, "checkin", _checked_in)


def _checked_out(dbapi_connection, record, proxy) -> None:
    POOL_CHECKED_OUT.inc()


def _checked_in(dbapi_connection, record) -> None:
    POOL_CHECKED_OUT.dec()


def forget_dead_processes(path: str) -> list[int]:
    """Drop the live gauges (pool use) of processes that have ended, however they ended: a worker gunicorn
    reaped (its ``child_exit`` hook does it too), a scheduler, a ``flask`` command. Their counters and
    histograms stay: what they counted was counted."""
    dead = set()
    for name in os.listdir(path):
        if not (name.startswith("gauge_live") and name.endswith(".db")):
            continue
        pid = name[:-3].rsplit("_", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            dead.add(int(pid))
    for pid in dead:
        mark_process_dead(pid, path)
    return sorted(dead)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def render() -> bytes:
    """Every metric in Prometheus' text format: of every process writing to PROMETHEUS_MULTIPROC_DIR when it
    is set (the live gauges of those still running), else of this process."""
    if MULTIPROCESS_DIR:
        forget_dead_processes(MULTIPROCESS_DIR)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=MULTIPROCESS_DIR)
        return generate_latest(registry)
    return generate_latest(REGISTRY)
