"""Open cases follow a newly loaded holiday arrangement (service/calendar.py calls ``follow_calendar``
inside the transaction that loads it).

A deadline still ahead (its day after today, Asia/Shanghai) keeps the number of working days it had
left from today: counted on the calendar it was computed on, counted again on the new one. As long as
the arrangement changes nothing up to today (it is loaded before its year, the usual case), that is the
deadline the case would have got had the arrangement been known when it was set. Nothing already past
is moved. Each case whose dates move gets a public event listing them, and its reporter and its
handlers are notified; ``provisional`` is worked out again from the deadlines ahead.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

import sqlalchemy as sa

from models.base import db
from models.cases import OPEN_STATUSES, Case, CaseEvent
from service import calendar, clock, notifications
from service.cases import rules

FIELDS = ("contact_due_at", "handle_due_at", "rework_due_at")
FIELD_NAMES = {"contact_due_at": "先行联系", "handle_due_at": "办理", "rework_due_at": "重办"}
BATCH = 500


def _day(moment: datetime) -> date:
    return moment.astimezone(clock.SHANGHAI).date()


def _ahead(case: Case, now: datetime) -> dict[str, datetime]:
    found = {}
    for field in FIELDS:
        if field == "contact_due_at" and case.first_contact_at is not None:
            continue
        due = getattr(case, field)
        if due is not None and due > now:
            found[field] = due
    return found


def follow_calendar(old: calendar.Calendar, new: calendar.Calendar, arrangement: calendar.Arrangement,
                    now: datetime) -> int:
    """Move the open cases' deadlines ahead onto ``new``; returns how many cases' dates moved."""
    from service.cases.reminders import CaseStaff
    from service.cases.workflow import refresh_due

    today = _day(now)
    first, last = date(arrangement.year - 1, 12, 1), date(arrangement.year + 1, 1, 31)
    changed_days = [first + timedelta(days=i) for i in range((last - first).days + 1)
                    if old.is_working_day(first + timedelta(days=i))[0]
                    != new.is_working_day(first + timedelta(days=i))[0]]
    reach = [Case.deadlines_provisional.is_(True)]
    if changed_days:
        since = max(now, datetime.combine(changed_days[0], datetime.min.time(), tzinfo=clock.SHANGHAI))
        reach += [getattr(Case, field) >= since for field in FIELDS]
    ids = db.session.execute(sa.select(Case.id).where(Case.status.in_(OPEN_STATUSES), sa.or_(*reach))
                             .order_by(Case.id)).scalars().all()
    moved = 0
    staff = CaseStaff()
    # Many cases share a due day: each count on the two calendars is made once.
    lefts: dict[date, int] = {}
    targets: dict[int, datetime] = {}
    provisionals: dict[date, bool] = {}
    for start in range(0, len(ids), BATCH):
        cases = db.session.execute(sa.select(Case).where(Case.id.in_(ids[start:start + BATCH]))
                                   .order_by(Case.id)).scalars().all()
        staff.load_for(cases)
        events, notices = [], []
        for case in cases:
            ahead = _ahead(case, now)
            changes = {}
            for field, due in ahead.items():
                day = _day(due)
                if day <= today:
                    continue
                left = lefts.get(day)
                if left is None:
                    left = lefts[day] = old.working_days_between(today, day)
                if left == 0:
                    continue
                target = targets.get(left)
                if target is None:
                    target = targets[left] = calendar.end_of_day(new.nth_working_day_after(today, left)[0])
                if target != due:
                    changes[field] = (due, target)
                    setattr(case, field, target)
                    ahead[field] = target
            last = max(_day(d) for d in ahead.values()) if ahead else None
            if last is not None and last not in provisionals:
                provisionals[last] = new.provisional_between(today, last)
            provisional = bool(ahead) and provisionals[last]
            if not ahead:
                provisional = case.deadlines_provisional
            if not changes and provisional == case.deadlines_provisional:
                continue
            case.deadlines_provisional = provisional
            refresh_due(case)
            if changes:
                case.updated_at = now
                _record(case, changes, arrangement, now, staff.handlers(case), events, notices)
                moved += 1
        # One flush and one notification statement per batch: the cases' updates and their events go out
        # together (a flush per case cost a load of 7,000 moved cases three quarters of its 15 s).
        db.session.add_all(events)
        notifications.notify_many(notices)
    db.session.flush()
    return moved


def _fmt(moment: datetime) -> str:
    local = moment.astimezone(clock.SHANGHAI)
    return f"{local.month}月{local.day}日"


def _record(case: Case, changes: dict, arrangement: calendar.Arrangement, now: datetime, handlers: list[int],
            events: list, notices: list) -> None:
    """The case's public event listing its moved dates, and a notice to its handlers and reporter (added to
    the batch's ``events`` and ``notices``)."""
    note = "；".join(f"{FIELD_NAMES[f]}时限由{_fmt(a)}调整为{_fmt(b)}" for f, (a, b) in changes.items())
    note = f"按{arrangement.year}年放假安排（{arrangement.notice}）调整：{note}"
    events.append(CaseEvent(case_id=case.id, at=now, actor_user_id=None, actor_role="system",
                            action="deadlines_moved", from_status=case.status, to_status=case.status, note=note,
                            public=True, data={"year": arrangement.year, "notice": arrangement.notice,
                                               "changes": {f: {"from": clock.iso(a), "to": clock.iso(b)}
                                                           for f, (a, b) in changes.items()}}))
    watchers = list(handlers)
    if case.reporter_user_id is not None and case.reporter_user_id not in watchers:
        watchers.append(case.reporter_user_id)
    load = f"{arrangement.year}.{arrangement.revision}"  # each load of a year has its own revision
    notices += [{"user_id": user_id, "kind": "case.deadlines_moved",
                 "dedupe_key": f"case:{case.id}:deadlines:{load}:{user_id}",
                 "title": f"诉求{case.number}办理时限已调整", "body": note[:200], "link": rules.page_link(case.id),
                 "data": {"case_id": case.id, "year": arrangement.year}} for user_id in watchers]
