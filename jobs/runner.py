"""The scheduler process: ``flask jobs run``.

One APScheduler 3 BlockingScheduler in Asia/Shanghai, never inside a web
worker. Only the holder of the database lease runs jobs, so a second runner
against the same database waits, and takes over when the first one dies.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import uuid

import click
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.exc import SQLAlchemyError

from jobs import calendar as calendar_jobs
from jobs import notifications as notification_jobs
from jobs import system as system_jobs
from jobs import uploads as upload_jobs
from jobs.registry import Job
from service import metrics, registry, system
from service.observability import FIELDS

log = logging.getLogger("linli.jobs")

LEASE = "scheduler"
# The platform's sweeps; each domain's are the ``JOBS`` of its ``jobs/<name>.py``, found through the registry.
PLATFORM = (system_jobs, notification_jobs, upload_jobs, calendar_jobs)

jobs_cli = AppGroup("jobs", help="The scheduler process and its sweeps.")


def all_jobs() -> list[Job]:
    domains = [domain.part("jobs", "JOBS", ()) for domain in registry.domains()]
    return [job for jobs in (*(module.JOBS for module in PLATFORM), *domains) for job in jobs]


# The sweep whose result counts WeChat deliveries by outcome (linli_notification_deliveries_total).
DELIVERY_SWEEP = "notifications.deliver"


def run_job(app, job: Job, holder: str | None = None):
    """Run one sweep in its own app context (and so its own session); log it (its name, duration in ms,
    outcome and what it counted: one line, JSON with LOG_FORMAT=json) and count it in the metrics."""
    with app.app_context():
        started = time.monotonic()
        if holder is not None and not system.acquire_lease(LEASE, holder, app.config["SCHEDULER_LEASE_SECONDS"]):
            log.warning("skipping %s: the scheduler lease was lost", job.id,
                        extra={FIELDS: {"job": job.id, "outcome": "skipped"}})
            metrics.observe_sweep(job.id, time.monotonic() - started, "skipped")
            return None
        try:
            result = job.func()
        except Exception:
            seconds = time.monotonic() - started
            log.exception("job %s failed", job.id, extra={FIELDS: {
                "job": job.id, "outcome": "failed", "duration_ms": round(seconds * 1000, 1)}})
            metrics.observe_sweep(job.id, seconds, "failed")
            return None
        seconds = time.monotonic() - started
        log.info("job %s done", job.id, extra={FIELDS: {
            "job": job.id, "outcome": "ok", "duration_ms": round(seconds * 1000, 1), "counts": _loggable(result)}})
        metrics.observe_sweep(job.id, seconds, "ok", result, now=time.time(), deliveries=job.id == DELIVERY_SWEEP)
        return result


def _loggable(result):
    """A sweep's result as a log field: its counts (a mapping, a number), else its text."""
    if result is None or isinstance(result, (int, float, str, bool)):
        return result
    if isinstance(result, dict):
        return {str(key): value if isinstance(value, (int, float, str, bool, type(None))) else str(value)
                for key, value in result.items()}
    return str(result)


def build_scheduler(app, holder: str, stop: threading.Event) -> BlockingScheduler:
    scheduler = BlockingScheduler(timezone=app.config["SCHEDULER_TIMEZONE"], job_defaults={
        "coalesce": True, "misfire_grace_time": 300, "max_instances": 1})
    for job in all_jobs():
        scheduler.add_job(run_job, job.trigger, args=[app, job, holder], id=job.id, name=job.description,
                          **job.trigger_args)
    seconds = app.config["SCHEDULER_LEASE_SECONDS"]

    def heartbeat():
        with app.app_context():
            if not system.acquire_lease(LEASE, holder, seconds):
                log.error("lost the scheduler lease; stopping this scheduler")
                scheduler.shutdown(wait=False)
        if stop.is_set():
            scheduler.shutdown(wait=False)

    scheduler.add_job(heartbeat, "interval", seconds=max(1, seconds // 3), id="scheduler.heartbeat",
                      name="Renew the scheduler lease")
    return scheduler


@jobs_cli.command("run")
@click.option("--holder", default=None, help="Name of this runner in the lease (default host:pid).")
def run_command(holder):
    """Run the scheduler until stopped (only one runs per database)."""
    app = current_app._get_current_object()
    holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    seconds = app.config["SCHEDULER_LEASE_SECONDS"]
    stop = threading.Event()

    def _stop(signum, frame):
        stop.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    try:
        while not stop.is_set():
            try:
                with app.app_context():
                    acquired = system.acquire_lease(LEASE, holder, seconds)
                    current = None if acquired else system.lease_holder(LEASE)
            except SQLAlchemyError as exc:
                # Database restarting, or not migrated yet: wait for it rather than die.
                log.warning("scheduler %s: database unavailable (%s); retrying", holder, type(exc).__name__)
                click.echo(f"scheduler {holder}: database unavailable ({type(exc).__name__}); retrying", err=True)
                time.sleep(max(1, seconds // 3))
                continue
            if not acquired:
                log.info("another scheduler (%s) holds the lease; waiting", current)
                click.echo(f"scheduler {holder}: waiting, lease held by {current}", err=True)
                time.sleep(max(1, seconds // 3))
                continue
            click.echo(f"scheduler {holder}: lease acquired, running {len(all_jobs())} jobs", err=True)
            build_scheduler(app, holder, stop).start()
    except KeyboardInterrupt:
        pass
    finally:
        try:
            with app.app_context():
                system.release_lease(LEASE, holder)
        except SQLAlchemyError as exc:  # the lease then simply runs out
            log.warning("scheduler %s: could not release the lease (%s)", holder, type(exc).__name__)
        click.echo(f"scheduler {holder}: stopped", err=True)


@jobs_cli.command("list")
def list_command():
    """List the scheduled jobs."""
    for job in all_jobs():
        click.echo(f"{job.id}\t{job.trigger} {job.trigger_args}\t{job.description}")


@jobs_cli.command("run-once")
@click.argument("job_id")
def run_once_command(job_id):
    """Run one job now, in this process."""
    jobs = {job.id: job for job in all_jobs()}
    if job_id not in jobs:
        raise click.UsageError(f"unknown job {job_id!r}; see 'flask jobs list'")
    result = run_job(current_app._get_current_object(), jobs[job_id])
    click.echo(f"{job_id}: {result}")
