"""Alarms about an elder and the ladder they climb until someone takes them (config/rules/care.yaml ``ladders``).

An alarm opens ``open`` with ``next_at`` its opening time; the steps due at once are taken in the opening
transaction (the first notification goes out with the event that raised it); the ladder sweep takes the later
ones."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from models.base import db
from models.care import LIVE_ALARM_STATES, Alarm, Elder


def live_alarm(elder_id: int, rule: str) -> Alarm | None:
    return db.session.execute(sa.select(Alarm).where(Alarm.elder_id == elder_id, Alarm.rule == rule,
                                                     Alarm.state.in_(LIVE_ALARM_STATES))).scalar_one_or_none()


def open_alarm(elder: Elder, *, source: str, rule: str, severity: str, now: datetime, event_id: int | None = None,
               reference: str | None = None) -> Alarm | None:
    """Open an alarm (undecorated: called inside the caller's transaction), or None when the elder already has
    a live one for this rule (the new signal joins it)."""
    if live_alarm(elder.id, rule) is not None:
        return None
    alarm = Alarm(elder_id=elder.id, street_id=elder.street_id, source=source, rule=rule, severity=severity,
                  state="open", step=0, next_at=now, opened_at=now, event_id=event_id, reference=reference)
    db.session.add(alarm)
    db.session.flush()
    climb(alarm, now)
    return alarm


def climb(alarm: Alarm, now: datetime) -> int:
    """Take every step of the alarm's ladder due by ``now``; the number taken. (The ladder is built next.)"""
    return 0
