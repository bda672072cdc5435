"""The alarm ladder keeps its time across a scheduler failover: two real scheduler processes (``flask jobs run``)
on one database, the lease holder killed with SIGKILL while an alarm's step is about to fall due; the other
takes the lease when it runs out and takes the step no later than one lease period plus the ladder sweep's
interval after it was due, exactly once. A step falling due while the survivor runs normally is taken within the
sweep's interval (at most 60 s late)."""
from __future__ import annotations

import signal
import time
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from jobs.care import JOBS
from models.care import Alarm, AlarmStep, Elder
from models.people import User
from models.places import District, Neighbourhood, Street
from tests.unit.test_jobs import (_process_env, _read_lease, _upgrade, _wait_for,  # noqa: F401  (a fixture)
                                  process_database, start_runners, stop_runner)

LEASE = 3  # SCHEDULER_LEASE_SECONDS of _process_env
INTERVAL = next(job.trigger_args["seconds"] for job in JOBS if job.id == "care.climb_alarms")


def _seed(engine) -> int:
    """A street, a neighbourhood and an elder on its roster; the elder's id."""
    with Session(engine) as session:
        district = District(code="d1", name="普陀区")
        session.add(district)
        session.flush()
        street = Street(code="s1", district_id=district.id, name="万里街道", prefix="WL", lat=31.26, lng=121.40)
        session.add(street)
        session.flush()
        nb = Neighbourhood(code="n1", street_id=street.id, name="香泉路居民区", committee_name="香泉路居委会")
        user = User(nickname="李阿婆")
        session.add_all([nb, user])
        session.flush()
        elder = Elder(user_id=user.id, neighbourhood_id=nb.id, street_id=street.id, living="alone", risk_tier=1,
                      verified_by=user.id, verified_on="home_visit")
        session.add(elder)
        session.commit()
        return elder.id


def _alarm_due(engine, elder_id: int, rule: str, due: datetime) -> int:
    """A no-activity alarm whose first rung was taken and whose second (family, after 30 min) falls due at
    ``due``."""
    with Session(engine) as session:
        alarm = Alarm(elder_id=elder_id, street_id=session.get(Elder, elder_id).street_id, source="no_activity",
                      rule=rule, severity="urgent", state="notifying", step=1, opened_at=due - timedelta(minutes=30),
                      next_at=due)
        session.add(alarm)
        session.commit()
        return alarm.id


def _steps(engine, alarm_id: int) -> list[tuple[int, float]]:
    """(n, seconds late) of the alarm's steps taken by the sweep."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(AlarmStep.n, AlarmStep.at, AlarmStep.due_at)
                            .where(AlarmStep.alarm_id == alarm_id).order_by(AlarmStep.n)).all()
    return [(n, (at - due).total_seconds()) for n, at, due in rows]


@pytest.mark.real_commits
def test_a_step_is_taken_on_time_across_a_scheduler_failover(tmp_path, process_database, wechat_fake):  # noqa: F811
    env = _process_env(process_database, wechat_fake)
    assert env["SCHEDULER_LEASE_SECONDS"] == str(LEASE) and INTERVAL == 30
    _upgrade(env)
    engine = sa.create_engine(process_database)
    elder_id = _seed(engine)
    procs, logs = {}, {}
    try:
        log_of = start_runners(tmp_path, env, procs, logs)
        holder = _wait_for(lambda: _read_lease(engine), 60, "one runner to take the lease")
        other = "runner-B" if holder == "runner-A" else "runner-A"
        _wait_for(lambda: f"scheduler {holder}: lease acquired" in log_of(holder), 10, "the holder's scheduler")

        # The holder dies, renewing nothing, just before a step falls due.
        procs[holder].send_signal(signal.SIGKILL)
        procs[holder].wait(10)
        killed = datetime.now(timezone.utc)
        over_failover = _alarm_due(engine, elder_id, "no_water_12h", killed + timedelta(seconds=3))
        _wait_for(lambda: _read_lease(engine) == other, LEASE + 10, f"{other} to take over")
        took_over = datetime.now(timezone.utc)
        # A step that falls due while the survivor runs normally.
        in_normal_running = _alarm_due(engine, elder_id, "no_door_24h", took_over + timedelta(seconds=5))

        _wait_for(lambda: _steps(engine, over_failover) and _steps(engine, in_normal_running), LEASE + INTERVAL + 30,
                  "the survivor to take both steps")
        [(n, late)] = _steps(engine, over_failover)
        assert n == 2 and 0 <= late <= LEASE + INTERVAL, (late, log_of(other))
        [(n, late_normal)] = _steps(engine, in_normal_running)
        assert n == 2 and 0 <= late_normal <= min(INTERVAL, 60), late_normal
        assert f"scheduler {other}: lease acquired" in log_of(other)

        # Taken once: the next sweeps find nothing more due (the next rung is an hour later).
        time.sleep(1)
        with engine.connect() as conn:
            assert conn.execute(sa.select(Alarm.next_at).where(Alarm.id == over_failover)).scalar() is not None
        assert len(_steps(engine, over_failover)) == 1 and len(_steps(engine, in_normal_running)) == 1
        print(f"failover: step {late:.1f} s late (bound {LEASE + INTERVAL} s); normal running: {late_normal:.1f} s")
    finally:
        for proc in procs.values():
            stop_runner(proc)
        for handle in logs.values():
            handle.close()
        engine.dispose()
