"""The care sweeps the scheduler runs (declared in jobs/care.py). Each reads what is due, then hands each item or
batch to a transaction of its own; what was done is recorded, so a sweep run twice does nothing twice."""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from models.base import db
from models.care import Alarm, Device, Elder, LivelihoodFile, Pairing, VisitDue, VisitPlan
from models.people import ResidentProfile
from service import audit, clock, consent, notifications, people
from service.care import alarms, devices, plans, visits, workflow
from service.care import rules as care_rules
from service.db import reading, transactional
from service.meals import queries as meal_queries
from service.notices import queries as notice_queries


def consent_withdrawals() -> dict:
    """Elders whose care consent is no longer live (withdrawn, by them, their family or staff on a signed form) but
    who still have devices or health notes: the devices are removed and the health notes erased (visits stay)."""
    live = consent.live_sql(Elder.user_id, workflow.CARE)
    holds = sa.or_(sa.exists().where(Device.elder_id == Elder.id, Device.removed_at.is_(None)),
                   sa.exists().where(LivelihoodFile.elder_id == Elder.id, LivelihoodFile.health_enc.is_not(None)))
    with reading():
        due = db.session.execute(sa.select(Elder.id).where(holds, sa.not_(live)).order_by(Elder.id).limit(500)
                                 ).scalars().all()
    done = {"elders": 0, "devices_removed": 0, "events_deleted": 0, "health_notes_erased": 0}
    for elder_id in due:
        counts = _withdraw(elder_id)
        done["elders"] += 1
        for key, value in counts.items():
            done[key] += value
    return done


@transactional
def _withdraw(elder_id: int) -> dict:
    elder = db.session.get(Elder, elder_id)
    counts = workflow.withdraw_consent(elder, clock.now())
    audit.record(None, "care.consent_withdrawn", "care_elder", elder.id, street_id=elder.street_id,
                 subject_user_id=elder.user_id, after=counts)
    return counts


def consent_review() -> dict:
    """In the review month (``roster.consent_review_month``, January), each 居委会's staff are asked once to review
    the elders whose living situation was last verified more than eleven months ago: how they live, their tier and
    their consent (an elder's circumstances change; a consent is not for ever)."""
    now = clock.now()
    local = clock.local(now)
    if local.month != care_rules.current().consent_review_month:
        return {"neighbourhoods": 0, "told": 0}
    stale = now - timedelta(days=335)
    with reading():
        due = db.session.execute(
            sa.select(Elder.neighbourhood_id, sa.func.count()).where(Elder.status == "active", Elder.verified_at < stale)
            .group_by(Elder.neighbourhood_id).order_by(Elder.neighbourhood_id)).all()
    told = sum(_ask_review(nb_id, count, local.year) for nb_id, count in due)
    return {"neighbourhoods": len(due), "told": told}


@transactional
def _ask_review(neighbourhood_id: int, count: int, year: int) -> int:
    messages = [{"user_id": user_id, "kind": "care.review",
                 "dedupe_key": f"care.review.{year}.{neighbourhood_id}.{user_id}", "title": "独居老人年度复核",
                 "body": f"本居民区有{count}位关爱对象的居住情况已近一年未核实，请复核居住情况、风险等级和单独同意。",
                 "link": f"/pages/care/roster?neighbourhood_id={neighbourhood_id}"}
                for user_id in people.role_holders("staff", "neighbourhood", [neighbourhood_id])]
    fresh = notifications.unsent(messages)
    notifications.notify_many(fresh)
    return len(fresh)


# --- visits -----------------------------------------------------------------------------------------------------

_BATCH = 200


def plan_visits() -> dict:
    """Weekly (Monday 01:00; harmless daily): every live plan's due visits written up to the horizon, a batch of
    plans per transaction; then the open due visits of elders no longer on the roster, or away for the whole
    window, cancelled."""
    now = clock.now()
    until = plans.horizon(now)
    today = clock.local(now).date()
    planned, last_id = 0, 0
    while True:
        with reading():
            ids = db.session.execute(sa.select(VisitPlan.id).where(
                VisitPlan.id > last_id, sa.or_(VisitPlan.ends_on.is_(None), VisitPlan.ends_on >= today),
                sa.or_(VisitPlan.generated_until.is_(None),
                       sa.and_(VisitPlan.generated_until < until,
                               sa.or_(VisitPlan.ends_on.is_(None), VisitPlan.generated_until < VisitPlan.ends_on))))
                .order_by(VisitPlan.id).limit(_BATCH)).scalars().all()
        if not ids:
            break
        planned += _plan_batch(ids, until, now)
        last_id = ids[-1]
    return {"written": planned, "cancelled": _cancel_unneeded(now)}


@transactional
def _plan_batch(plan_ids: list[int], until, now: datetime) -> int:
    batch = db.session.execute(sa.select(VisitPlan).where(VisitPlan.id.in_(plan_ids)).order_by(VisitPlan.id)
                               .with_for_update().execution_options(populate_existing=True)).scalars().all()
    elders = {e.id: e for e in db.session.execute(sa.select(Elder).where(
        Elder.id.in_(sorted({plan.elder_id for plan in batch})))).scalars()}
    return plans.materialise_many([(plan, elders[plan.elder_id]) for plan in batch
                                   if elders[plan.elder_id].status == "active"], until, now)


def _unneeded():
    """A due visit whose elder left the roster, or is away for all of its window."""
    gone = sa.select(Elder.id).where(Elder.status != "active")
    away = sa.select(Elder.id).where(Elder.id == VisitDue.elder_id, Elder.away_from.is_not(None),
                                     Elder.away_from <= VisitDue.earliest_at,
                                     sa.or_(Elder.away_until.is_(None), Elder.away_until >= VisitDue.latest_at))
    return sa.or_(VisitDue.elder_id.in_(gone), away.exists())


@transactional
def _cancel_unneeded(now: datetime) -> int:
    """Open due visits not yet closed that are no longer needed (``_unneeded``): cancelled."""
    return plans.cancel_open([VisitDue.latest_at >= now, _unneeded()], now)


def remind_visits() -> dict:
    """Hourly: a due visit that has opened (its earliest_at come, not yet closed) is told once to the visitors
    paired with the elder in its role; not one the weekly sweep will cancel (the elder gone, or away all of it)."""
    now = clock.now()
    told, count, last_id = 0, 0, 0
    while True:
        with reading():
            ids = db.session.execute(sa.select(VisitDue.id).where(
                VisitDue.id > last_id, VisitDue.reminded_at.is_(None), VisitDue.visit_id.is_(None),
                VisitDue.cancelled_at.is_(None), VisitDue.earliest_at <= now, VisitDue.latest_at >= now,
                ~_unneeded()).order_by(VisitDue.id).limit(_BATCH)).scalars().all()
        if not ids:
            break
        count += len(ids)
        told += _remind_batch(ids, now)
        last_id = ids[-1]
    return {"due": count, "told": told}


@transactional
def _remind_batch(due_ids: list[int], now: datetime) -> int:
    marked = db.session.execute(
        sa.update(VisitDue).where(VisitDue.id.in_(due_ids), VisitDue.reminded_at.is_(None))
        .values(reminded_at=now).execution_options(synchronize_session=False)
        .returning(VisitDue.id, VisitDue.elder_id, VisitDue.role, VisitDue.latest_at)).all()
    if not marked:
        return 0
    elders = {row.elder_id for row in marked}
    visitors = db.session.execute(sa.select(Pairing.elder_id, Pairing.role, Pairing.visitor_user_id).where(
        Pairing.elder_id.in_(sorted(elders)), Pairing.ends_on.is_(None))).all()
    names = dict(db.session.execute(sa.select(Elder.id, ResidentProfile.name).join(
        ResidentProfile, ResidentProfile.user_id == Elder.user_id).where(Elder.id.in_(sorted(elders)))).all())
    messages = []
    for due in marked:
        name = names.get(due.elder_id) or "老人"
        by = clock.local(due.latest_at).strftime("%m月%d日%H:%M")
        messages += [{"user_id": uid, "kind": "care.visit_due", "dedupe_key": f"care:due:{due.id}:remind:{uid}",
                      "title": f"该探望{name}了", "body": f"请在{by}前上门或电话问候{name}，并登记探访情况。",
                      "link": f"/care/elders/{due.elder_id}", "data": {"due_id": due.id, "elder_id": due.elder_id}}
                     for elder_id, role, uid in visitors if elder_id == due.elder_id and role == due.role]
    notifications.notify_many(messages)
    return len(messages)


def escalate_visits() -> dict:
    """Daily 08:30: due visits overdue by ``escalate_after_days`` are told to their 居委会 (its nc_head, else all its
    staff), once per due visit: one message per 居委会 and run, naming how many and whom."""
    now = clock.now()
    cutoff = now - timedelta(days=care_rules.current().escalate_after_days)
    escalated, told, last_id = 0, 0, 0
    while True:
        with reading():
            ids = db.session.execute(sa.select(VisitDue.id).where(
                VisitDue.id > last_id, VisitDue.escalated_at.is_(None), VisitDue.visit_id.is_(None),
                VisitDue.cancelled_at.is_(None), VisitDue.latest_at <= cutoff)
                .order_by(VisitDue.id).limit(_BATCH)).scalars().all()
        if not ids:
            break
        done, sent = _escalate_batch(ids, now)
        escalated, told, last_id = escalated + done, told + sent, ids[-1]
    return {"escalated": escalated, "told": told}


@transactional
def _escalate_batch(due_ids: list[int], now: datetime) -> tuple[int, int]:
    marked = db.session.execute(sa.update(VisitDue).where(
        VisitDue.id.in_(due_ids), VisitDue.escalated_at.is_(None), VisitDue.visit_id.is_(None),
        VisitDue.cancelled_at.is_(None)).values(escalated_at=now)
        .execution_options(synchronize_session=False).returning(VisitDue.id, VisitDue.elder_id)).all()
    if not marked:
        return 0, 0
    rows = db.session.execute(sa.select(Elder.id, Elder.neighbourhood_id, ResidentProfile.name).outerjoin(
        ResidentProfile, ResidentProfile.user_id == Elder.user_id).where(
        Elder.id.in_(sorted({row.elder_id for row in marked})))).all()
    where = {row.id: (row.neighbourhood_id, row.name or f"#{row.id}") for row in rows}
    by_neighbourhood: dict[int, list] = {}
    for due in sorted(marked, key=lambda r: r.id):
        by_neighbourhood.setdefault(where[due.elder_id][0], []).append((due.id, where[due.elder_id][1]))
    leads = visits.neighbourhood_leads(by_neighbourhood)
    messages = []
    for nb, dues in by_neighbourhood.items():
        names = "、".join(dict.fromkeys(name for _, name in dues))
        messages += [{"user_id": uid, "kind": "care.visits_overdue",
                      "dedupe_key": f"care:overdue:{nb}:{dues[0][0]}:{uid}",
                      "title": f"{len(dues)}次探访逾期未完成", "body": f"逾期未探访：{names}"[:200],
                      "link": "/care/visits/due?state=overdue",
                      "data": {"neighbourhood_id": nb, "due_ids": [d for d, _ in dues]}} for uid in leads.get(nb, [])]
    notifications.notify_many(messages)
    return len(marked), len(messages)


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


def _roster_users(now: datetime):
    """The user ids of the elders on the roster now present (not away), as a subquery (10,000 elders are not
    sent as 10,000 parameters to each signal's query)."""
    away = sa.and_(Elder.away_from.is_not(None), Elder.away_from <= now,
                   sa.or_(Elder.away_until.is_(None), Elder.away_until > now))
    return sa.select(Elder.user_id).where(Elder.status == "active", ~away)


def _signals(now: datetime) -> list[tuple[int, str, str]]:
    """(elder id, source, reference) of each switched-on signal of another service about a roster elder, those
    that already raised an alarm left out (one alarm per reference, ever)."""
    on = care_rules.current().signals
    present = _roster_users(now)
    today = clock.local(now).date()
    by_user = []
    if on["meals_no_show"]:
        by_user += [(user, "meals_no_show", f"meal_booking:{booking}")
                    for booking, user in meal_queries.no_shows_on(today, present)]
    if on["meals_stopped"]:
        year, week, _ = today.isocalendar()
        by_user += [(user, "meals_stopped", f"meals_stopped:{user}:{year}W{week:02d}")
                    for user, _ in meal_queries.stopped_diners(today, present)]
    if on["notice_unacknowledged"]:
        by_user += [(user, "notice_unacknowledged", f"notice:{notice}")
                    for notice, user in notice_queries.unacknowledged_urgent(present, now)]
    if not by_user:
        return []
    roster = dict(db.session.execute(sa.select(Elder.user_id, Elder.id).where(
        Elder.status == "active", Elder.user_id.in_(sorted({user for user, _, _ in by_user})))).all())
    found = [(roster[user], source, reference) for user, source, reference in by_user if user in roster]
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


# --- devices: no activity and silence -----------------------------------------------------

def no_activity() -> dict:
    """Every 15 minutes: open a no-activity alarm for each elder at home whose devices have been quiet for a rule's
    hours (two sensors agreeing where the elder has both); each alarm in a transaction of its own."""
    now = clock.now()
    with reading():
        due = devices.quiet_elders(now)
    opened = sum(devices.raise_no_activity(elder_id, rule, now) is not None for elder_id, rule in due)
    return {"due": len(due), "opened": opened}


def device_silence() -> dict:
    """Hourly: a live device silent for ``silence_hours`` gets a maintenance mark and its 居委会 staff a message,
    once until it speaks again (batches of devices, each in a transaction)."""
    now = clock.now()
    with reading():
        silent = devices.silent_devices(now)
    marked = sum(devices.mark_silent(silent[i:i + devices.SILENCE_BATCH], now)
                 for i in range(0, len(silent), devices.SILENCE_BATCH))
    return {"silent": len(silent), "marked": marked}
