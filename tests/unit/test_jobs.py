"""The scheduler: its lease, its configuration, the platform's purge job, the CLI, and a
real two-process failover."""
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from jobs import runner
from jobs import system as system_jobs
from jobs.registry import Job
from models.base import db
from models.system import IdempotencyRecord, RevokedToken, SchedulerLease
from service import auth as auth_service
from service import clock, system
from tests.conftest import fresh_postgres_database
from tests.factories import make_user, tokens_for

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 11, 20, 1, 0, tzinfo=timezone.utc)


def lease_row(name="scheduler") -> SchedulerLease:
    db.session.expire_all()
    return db.session.get(SchedulerLease, name)


# --- the lease --------------------------------------------------------------------------------------------------

def test_lease_is_exclusive_renewable_and_taken_over_after_expiry(app):
    seconds = app.config["SCHEDULER_LEASE_SECONDS"]
    clock.set_now(START)
    assert system.acquire_lease("scheduler", "A", seconds) is True
    assert system.acquire_lease("scheduler", "B", seconds) is False
    assert system.lease_holder("scheduler") == "A"
    row = lease_row()
    assert (row.holder, row.acquired_at, row.expires_at) == ("A", START, START + timedelta(seconds=seconds))

    # A renews before expiry: the lease is extended, acquired_at kept.
    clock.set_now(START + timedelta(seconds=seconds - 1))
    assert system.acquire_lease("scheduler", "A", seconds) is True
    row = lease_row()
    assert row.acquired_at == START and row.expires_at == START + timedelta(seconds=2 * seconds - 1)
    # Past A's first expiry but within the renewal: B is still refused.
    clock.set_now(START + timedelta(seconds=seconds + 1))
    assert system.acquire_lease("scheduler", "B", seconds) is False

    # A stops renewing; after expiry B takes over and A is refused.
    takeover = START + timedelta(seconds=2 * seconds)
    clock.set_now(takeover)
    assert system.lease_holder("scheduler") is None
    assert system.acquire_lease("scheduler", "B", seconds) is True
    row = lease_row()
    assert (row.holder, row.acquired_at) == ("B", takeover)
    assert system.acquire_lease("scheduler", "A", seconds) is False
    assert system.lease_holder("scheduler") == "B"


def test_release_lets_another_holder_take_it_at_once(app):
    seconds = app.config["SCHEDULER_LEASE_SECONDS"]
    clock.set_now(START)
    assert system.acquire_lease("scheduler", "A", seconds)
    system.release_lease("scheduler", "B")  # not the holder: no effect
    assert system.acquire_lease("scheduler", "B", seconds) is False
    system.release_lease("scheduler", "A")
    assert system.lease_holder("scheduler") is None
    assert system.acquire_lease("scheduler", "B", seconds) is True
    assert system.lease_holder("scheduler") == "B"


def test_leases_by_name_are_independent(app):
    assert system.acquire_lease("scheduler", "A", 60)
    assert system.acquire_lease("other", "B", 60)
    assert system.lease_holder("other") == "B" and system.lease_holder("scheduler") == "A"


def test_lease_holder_leaves_no_transaction_open(app):
    system.acquire_lease("scheduler", "A", 60)
    assert system.lease_holder("scheduler") == "A"
    assert not db.session().in_transaction()


def test_run_job_runs_only_for_the_lease_holder(app):
    ran = []
    job = Job("test.probe", lambda: ran.append(1) or "done", "interval", {"seconds": 60})
    seconds = app.config["SCHEDULER_LEASE_SECONDS"]
    assert system.acquire_lease("scheduler", "B", seconds)
    assert runner.run_job(app, job, "A") is None
    assert ran == []
    system.release_lease("scheduler", "B")
    assert runner.run_job(app, job, "A") == "done"
    assert ran == [1]
    # Without a holder (run-once from the CLI) it simply runs.
    assert runner.run_job(app, job) == "done"


def test_run_job_survives_a_failing_job(app):
    def boom():
        raise RuntimeError("boom")

    assert runner.run_job(app, Job("test.boom", boom, "interval", {"seconds": 60})) is None


# --- the scheduler's configuration -----------------------------------------------------------------------------

def _start_paused(scheduler):
    thread = threading.Thread(target=scheduler.start, kwargs={"paused": True}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not scheduler.running and time.monotonic() < deadline:
        time.sleep(0.01)
    assert scheduler.running
    return thread


def test_build_scheduler_defaults_timezone_and_jobs(app):
    scheduler = runner.build_scheduler(app, "holder-x", threading.Event())
    assert str(scheduler.timezone) == "Asia/Shanghai"
    defaults = scheduler._job_defaults
    assert defaults["coalesce"] is True
    assert defaults["misfire_grace_time"] >= 60  # APScheduler's default of 1 s drops runs after a pause
    assert defaults["max_instances"] == 1
    thread = _start_paused(scheduler)
    try:
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert set(jobs) == {job.id for job in runner.all_jobs()} | {"scheduler.heartbeat"}
        assert {"system.purge_expired", "notifications.deliver", "uploads.purge_unattached"} <= set(jobs)
        for job in jobs.values():
            assert job.coalesce is True and job.misfire_grace_time == defaults["misfire_grace_time"]
            assert job.max_instances == 1
        purge = jobs["system.purge_expired"]
        assert str(purge.trigger.timezone) == "Asia/Shanghai"
        assert purge.next_run_time.minute == 17 and str(purge.next_run_time.tzinfo) == "Asia/Shanghai"
        heartbeat = jobs["scheduler.heartbeat"].trigger.interval.total_seconds()
        assert heartbeat < app.config["SCHEDULER_LEASE_SECONDS"] / 2  # renews well before the lease runs out
    finally:
        scheduler.shutdown(wait=False)
        thread.join(5)
    assert not thread.is_alive()


def test_heartbeat_stops_the_scheduler_when_the_lease_is_lost(app):
    seconds = app.config["SCHEDULER_LEASE_SECONDS"]
    clock.set_now(START)
    assert system.acquire_lease("scheduler", "A", seconds)
    scheduler = runner.build_scheduler(app, "A", threading.Event())
    heartbeat = scheduler.get_job("scheduler.heartbeat").func
    thread = _start_paused(scheduler)
    try:
        heartbeat()  # renews: still running
        assert scheduler.running and system.lease_holder("scheduler") == "A"
        clock.set_now(START + timedelta(seconds=3 * seconds))
        assert system.acquire_lease("scheduler", "B", seconds)
        heartbeat()
        thread.join(5)
        assert not thread.is_alive() and not scheduler.running
    finally:
        if scheduler.running:
            scheduler.shutdown(wait=False)


def test_heartbeat_stops_the_scheduler_when_asked_to_stop(app):
    stop = threading.Event()
    scheduler = runner.build_scheduler(app, "A", stop)
    heartbeat = scheduler.get_job("scheduler.heartbeat").func
    thread = _start_paused(scheduler)
    try:
        stop.set()
        heartbeat()
        thread.join(5)
        assert not thread.is_alive()
    finally:
        if scheduler.running:
            scheduler.shutdown(wait=False)


# --- the purge job -----------------------------------------------------------------------------------------------

def _idempotency(key, expires_at):
    return IdempotencyRecord(scope="user:1", key=key, fingerprint="f" * 64, expires_at=expires_at)


def test_purge_removes_expired_records_and_keeps_the_rest(app):
    clock.set_now(START)
    db.session.add_all([
        RevokedToken(jti="expired", expires_at=START - timedelta(seconds=1)),
        RevokedToken(jti="valid", expires_at=START + timedelta(hours=1)),
        _idempotency("old", START - timedelta(hours=25)),
        _idempotency("new", START + timedelta(hours=23)),
    ])
    db.session.commit()
    assert system_jobs.purge_expired() == {"revoked_tokens": 1, "idempotency_records": 1}
    db.session.expire_all()
    assert db.session.execute(sa.select(RevokedToken.jti)).scalars().all() == ["valid"]
    assert db.session.execute(sa.select(IdempotencyRecord.key)).scalars().all() == ["new"]
    assert auth_service.is_revoked("valid") and not auth_service.is_revoked("expired")
    assert system_jobs.purge_expired() == {"revoked_tokens": 0, "idempotency_records": 0}


def test_purge_after_a_logout_once_the_tokens_have_expired(app, client):
    tokens = tokens_for(make_user(name="甲"))
    response = client.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert response.status_code == 200 and response.json == {"revoked": 1}  # the session
    assert system_jobs.purge_expired()["revoked_tokens"] == 0
    clock.shift(app.config["JWT_ACCESS_TOKEN_EXPIRES"] + timedelta(minutes=1))
    assert system_jobs.purge_expired()["revoked_tokens"] == 0  # a refresh token of the session may live on
    clock.shift(app.config["JWT_REFRESH_TOKEN_EXPIRES"] + timedelta(minutes=1))
    assert system_jobs.purge_expired()["revoked_tokens"] == 1
    assert db.session.execute(sa.select(sa.func.count()).select_from(RevokedToken)).scalar_one() == 0


# --- the CLI -----------------------------------------------------------------------------------------------------

def test_jobs_list(app):
    result = app.test_cli_runner().invoke(args=["jobs", "list"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == [job.id for job in runner.all_jobs()]
    assert lines[0].startswith("system.purge_expired\tcron") and lines[1].startswith("system.retention\tcron")
    assert lines[2].startswith("system.data_exports\tinterval")
    assert lines[3].startswith("system.account_closures\tcron")
    assert lines[4].startswith("notifications.deliver\tinterval")


def test_jobs_run_once(app):
    clock.set_now(START)
    db.session.add(RevokedToken(jti="expired", expires_at=START - timedelta(minutes=1)))
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["jobs", "run-once", "system.purge_expired"])
    assert result.exit_code == 0, result.output
    assert "system.purge_expired: {'revoked_tokens': 1, 'idempotency_records': 0}" in result.output
    unknown = app.test_cli_runner().invoke(args=["jobs", "run-once", "no.such.job"])
    assert unknown.exit_code == 2 and "unknown job" in unknown.output


# --- two real scheduler processes --------------------------------------------------------------------------------

@pytest.fixture
def process_database(tmp_path, database_url):
    """A database of this test's own (not the shared test database): the processes commit for real.

    SQLite file by default; a fresh PostgreSQL database when the suite runs on PostgreSQL.
    """
    if not database_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'scheduler.db'}"
        return
    with fresh_postgres_database(database_url, prefix="linli_jobs") as url:
        yield url


def _flask(args):
    return [sys.executable, "-m", "flask", *args]


def _read_lease(engine):
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT holder, expires_at FROM scheduler_lease WHERE name = 'scheduler'")).first()
    if row is None or row.holder is None:
        return None
    expires = row.expires_at
    if isinstance(expires, str):
        expires = datetime.fromisoformat(expires)
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=timezone.utc)
    return row.holder if expires > datetime.now(timezone.utc) else None


def _wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _process_env(database, wechat_fake):
    env = {k: v for k, v in os.environ.items() if k not in ("TEST_DATABASE_URL", "REDIS_URL")}
    env.update(LINLI_ENV="development", DATABASE_URL=database, SCHEDULER_LEASE_SECONDS="3",
               FLASK_APP="manage.py", WECHAT_API_BASE=wechat_fake.url, PYTHONUNBUFFERED="1")
    return env


def _upgrade(env):
    upgrade = subprocess.run(_flask(["db", "upgrade"]), cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=120)
    assert upgrade.returncode == 0, upgrade.stderr[-2000:]


def start_runners(tmp_path, env, procs: dict, logs: dict, names=("runner-A", "runner-B")):
    """Start a scheduler process (``flask jobs run``) per name, each logging to a file of its own, into ``procs``
    and ``logs``; returns ``log_of(name)``, the text a runner has logged so far."""
    for name in names:
        logs[name] = open(tmp_path / f"{name}.log", "w+")
        procs[name] = subprocess.Popen(_flask(["jobs", "run", "--holder", name]), cwd=ROOT, env=env,
                                       stdout=logs[name], stderr=subprocess.STDOUT)

    def log_of(name):
        logs[name].flush()
        return (tmp_path / f"{name}.log").read_text()

    return log_of


def stop_runner(proc: subprocess.Popen) -> None:
    """Stop a scheduler process still running as deployed (SIGTERM: it releases its lease), killed if it hangs."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()
            proc.wait(10)


def test_two_scheduler_processes_one_runs_and_the_other_takes_over(tmp_path, process_database, wechat_fake):
    env = _process_env(process_database, wechat_fake)
    _upgrade(env)

    engine = sa.create_engine(process_database)
    procs, logs = {}, {}
    try:
        log_of = start_runners(tmp_path, env, procs, logs)
        holder = _wait_for(lambda: _read_lease(engine), 30, "one runner to take the lease")
        other = "runner-B" if holder == "runner-A" else "runner-A"
        # For two lease periods the holder keeps renewing and the other keeps waiting.
        end = time.monotonic() + 6
        while time.monotonic() < end:
            assert _read_lease(engine) == holder
            assert all(p.poll() is None for p in procs.values()), {n: log_of(n) for n in procs}
            time.sleep(0.3)
        assert f"scheduler {holder}: lease acquired" in log_of(holder)
        assert "lease acquired" not in log_of(other)
        assert f"waiting, lease held by {holder}" in log_of(other)

        # The holder dies without releasing anything: the other takes over once the lease runs out.
        procs[holder].send_signal(signal.SIGKILL)
        procs[holder].wait(10)
        started = time.monotonic()
        _wait_for(lambda: _read_lease(engine) == other, 10, f"{other} to take over")
        assert time.monotonic() - started <= 10
        _wait_for(lambda: f"scheduler {other}: lease acquired" in log_of(other), 5, "the takeover message")
        assert procs[other].poll() is None

        # A clean stop (SIGTERM) releases the lease at once.
        procs[other].send_signal(signal.SIGTERM)
        assert procs[other].wait(15) == 0, log_of(other)
        assert f"scheduler {other}: stopped" in log_of(other)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT holder FROM scheduler_lease")).scalar() is None
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:  # pragma: no cover
                pass
        for handle in logs.values():
            handle.close()
        engine.dispose()


def test_a_scheduler_started_before_the_migrations_waits_for_them(tmp_path, process_database, wechat_fake):
    """The jobs process may start before `flask db upgrade` (or while the database restarts): it waits."""
    env = _process_env(process_database, wechat_fake)
    log_path = tmp_path / "runner.log"
    engine = sa.create_engine(process_database)
    with open(log_path, "w") as log:
        proc = subprocess.Popen(_flask(["jobs", "run", "--holder", "early"]), cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_for(lambda: "database unavailable" in log_path.read_text(), 30, "the runner to report the database")
            assert proc.poll() is None, log_path.read_text()
            _upgrade(env)
            _wait_for(lambda: _read_lease(engine) == "early", 15, "the runner to take the lease")
            _wait_for(lambda: "scheduler early: lease acquired" in log_path.read_text(), 5, "the lease message")
        finally:
            stop_runner(proc)
            engine.dispose()
    assert proc.returncode == 0, log_path.read_text()
