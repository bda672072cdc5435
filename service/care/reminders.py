"""The care sweeps the scheduler runs (declared in jobs/care.py). Each reads what is due, then hands each item or
batch to a transaction of its own; what was done is recorded, so a sweep run twice does nothing twice."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from models.base import db
from models.care import Alarm, Elder
from service import clock
from service.care import alarms, rules
from service.db import reading, transactional
from service.meals import queries as meal_queries
from service.notices import queries as notice_queries

# --- alarms: the ladder and the signals of other services ---------------------------------------------------------
CLIMB_BATCH = 500


def climb_alarms() -> dict:
    """Alarms whose ``next_at`` has come (ix_care_alarm_next): each climbs its ladder (or, taken and not on site
    in time, is taken back) in a transaction of its own, its row locked so two runners never take a step twice."""
    now = clock.now()
    done: set[int] = set()
    steps = 0
    while True:
        with reading():
            due = db.session.execute(sa.select(Alarm.id).where(
                Alarm.state != "resolved", Alarm.next_at.is_not(None), Alarm.next_at <= now)
                .order_by(Alarm.next_at, Alarm.id).limit(CLIMB_BATCH)).scalars().all()
        fresh = [alarm_id for alarm_id in due if alarm_id not in done]
        steps += sum(_climb_one(alarm_id) for alarm_id in fresh)
        done.update(fresh)
        if len(due) < CLIMB_BATCH or not fresh:
            return {"due": len(done), "steps": steps}


@transactional
def _climb_one(alarm_id: int) -> int:
    return alarms.climb_one(alarm_id)


def _roster_users(now: datetime) -> dict[int, int]:
    """Elders on the roster now present (not away): user id → elder id."""
    away = sa.and_(Elder.away_from.is_not(None), Elder.away_from <= now,
                   sa.or_(Elder.away_until.is_(None), Elder.away_until > now))
    return dict(db.session.execute(sa.select(Elder.user_id, Elder.id).where(Elder.status == "active", ~away)).all())


def _signals(now: datetime) -> list[tuple[int, str, str]]:
    """(elder id, source, reference) of each switched-on signal of another service about a roster elder, those
    that already raised an alarm left out (one alarm per reference, ever)."""
    on = rules.current().signals
    roster = _roster_users(now)
    today = clock.local(now).date()
    found = []
    if on["meals_no_show"]:
        found += [(roster[user], "meals_no_show", f"meal_booking:{booking}")
                  for booking, user in meal_queries.no_shows_on(today, roster)]
    if on["meals_stopped"]:
        year, week, _ = today.isocalendar()
        found += [(roster[user], "meals_stopped", f"meals_stopped:{user}:{year}W{week:02d}")
                  for user, _ in meal_queries.stopped_diners(today, roster)]
    if on["notice_unacknowledged"]:
        found += [(roster[user], "notice_unacknowledged", f"notice:{notice}")
                  for notice, user in notice_queries.unacknowledged_urgent(roster, now)]
    if not found:
        return []
    used = set(db.session.execute(sa.select(Alarm.elder_id, Alarm.reference).where(
        Alarm.elder_id.in_(sorted({elder for elder, _, _ in found})),
        Alarm.reference.in_(sorted({ref for _, _, ref in found})))).all())
    return [item for item in found if (item[0], item[2]) not in used]


def collect_signals() -> dict:
    """The signals Linli already has about roster elders, into the ladder at ``concern``: a meal booked today
    and not collected, a regular diner who stopped booking (the meals' own rule), an urgent notice left
    unacknowledged past the notices' chase delay. Each reference raises one alarm, ever; a signal for an elder
    with a live alarm of the same kind joins it."""
    now = clock.now()
    with reading():
        found = _signals(now)
    opened = sum(_raise_signal(elder_id, source, reference, now) for elder_id, source, reference in found)
    return {"signals": len(found), "opened": opened}


@transactional
def _raise_signal(elder_id: int, source: str, reference: str, now: datetime) -> int:
    elder = db.session.get(Elder, elder_id)
    if elder is None or elder.status != "active" or db.session.execute(sa.select(Alarm.id).where(
            Alarm.elder_id == elder_id, Alarm.reference == reference)).first() is not None:
        return 0
    return int(alarms.open_alarm(elder, source=source, rule=source, severity="concern", now=now,
                                  reference=reference) is not None)
