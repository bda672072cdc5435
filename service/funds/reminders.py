"""The funds sweeps the scheduler runs (jobs/funds.py): an owner's query the committee has not answered within
the rules' days (15) goes to the 居委会 staff of the estate, once; and the disclosure calendar's reminders (the
committee before a statement, a decision, an audit or the members' commitments is due, the 居委会 after it is
overdue)."""
from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from models.base import UTCDateTime, db
from models.funds import FundPeriod, FundQuery
from models.places import Estate
from models.voting import Motion, Reelection
from service import clock, labels, notifications
from service.db import locked, reading, transactional
from service.funds import access, queries, rules


def escalate_queries() -> dict:
    now = clock.now()
    cutoff = now - timedelta(days=rules.current().query_escalation_days)
    with reading():
        due = db.session.execute(sa.select(FundQuery.id).where(FundQuery.state == "open", FundQuery.asked_at <= cutoff)
                                 .order_by(FundQuery.asked_at, FundQuery.id).limit(500)).scalars().all()
    return {"due": len(due), "escalated": sum(_escalate(query_id, cutoff, now) for query_id in due)}


@transactional
def remind_queries() -> dict:
    """The committee reminded, once, of an owner's query still unanswered after the rules' days (10), before it
    goes to the 居委会 (15)."""
    loaded = rules.current()
    now = clock.now()
    since = now - timedelta(days=loaded.query_escalation_days)
    due = db.session.execute(
        sa.select(FundQuery.id, FundQuery.period_id, FundQuery.text, FundPeriod.estate_id)
        .join(FundPeriod, FundPeriod.id == FundQuery.period_id)
        .where(FundQuery.state == "open", FundQuery.asked_at <= now - timedelta(days=loaded.query_remind_days),
               FundQuery.asked_at > since)
        .order_by(FundQuery.asked_at, FundQuery.id).limit(500)).all()
    if not due:
        return {"due": 0, "reminded": 0}
    committees = access.committees_of({q.estate_id for q in due})
    left = loaded.query_escalation_days - loaded.query_remind_days
    messages = notifications.unsent([
        {"user_id": uid, "kind": "funds.query_reminder", "dedupe_key": f"fund_query:{q.id}:remind:{uid}",
         "title": f"业主收支询问待答复，{left}日后将转居委会", "body": q.text[:60],
         "link": f"/fund-periods/{q.period_id}", "data": {"query_id": q.id}}
        for q in due for uid in committees.get(q.estate_id, [])])
    notifications.notify_many(messages)
    return {"due": len(due), "reminded": len({n["data"]["query_id"] for n in messages})}


@transactional
def _escalate(query_id: int, cutoff, now) -> bool:
    query = locked(FundQuery, query_id)
    if query is None or query.state != "open" or query.asked_at > cutoff:
        return False
    query.state, query.escalated_at = "escalated", now
    period = db.session.get(FundPeriod, query.period_id)
    place = access.estate(period.estate_id)
    days = rules.current().query_escalation_days
    notifications.notify_many([{"user_id": uid, "kind": "funds.query_escalated",
                                "dedupe_key": f"fund_query:{query.id}:escalated:{uid}",
                                "title": f"{place.name}业主收支询问{days}日未答复", "body": query.text[:60],
                                "link": f"/fund-periods/{period.id}", "data": {"query_id": query.id}}
                               for uid in access.staff_of(place)])
    return True


# Periods reminded in one transaction (the daily sweep's peak, the day the half-year's statements are due in a
# week, is every estate's two funds that have not published yet).
BATCH = 200


def disclosure_reminders() -> dict:
    """The disclosure calendar's reminders: the committee 7 days before a period's statement is due, the
    居委会 staff 7 days after it is overdue; each once (recorded on the period)."""
    today = clock.local_now().date()
    loaded = rules.current()
    with reading():
        ended = db.session.execute(sa.select(FundPeriod.id, FundPeriod.ends_on, FundPeriod.reminded_at,
                                             FundPeriod.escalated_at).where(
            FundPeriod.state != "published", FundPeriod.ends_on < today,
            sa.or_(FundPeriod.reminded_at.is_(None), FundPeriod.escalated_at.is_(None)))
            .order_by(FundPeriod.ends_on, FundPeriod.id).limit(1000)).all()
    work = []
    for period_id, ends_on, reminded_at, escalated_at in ended:
        due = queries.due_on(ends_on)
        if escalated_at is None and today >= date.fromordinal(due.toordinal() + loaded.escalate_days_after):
            work.append((period_id, "overdue"))
        elif reminded_at is None and today >= date.fromordinal(due.toordinal() - loaded.remind_days_before):
            work.append((period_id, "due"))
    done = {"due": 0, "overdue": 0}
    for start in range(0, len(work), BATCH):
        for stage, count in _remind(work[start:start + BATCH]).items():
            done[stage] += count
    return {"periods": len(ended), "reminded": done["due"], "escalated": done["overdue"]}


@transactional
def _remind(work: list[tuple[int, str]]) -> dict:
    """Remind of each period at its stage, in one transaction: each stage's mark set in one UPDATE, only on the
    periods still unpublished and not yet reminded at that stage (one published or reminded meanwhile is left);
    their estates, committees and 居委会 staff read once for all."""
    now = clock.now()
    marked = {}
    for stage, column in (("due", FundPeriod.reminded_at), ("overdue", FundPeriod.escalated_at)):
        ids = [period_id for period_id, s in work if s == stage]
        if not ids:
            continue
        values = {"reminded_at": now} if stage == "due" else {
            "escalated_at": now, "reminded_at": sa.func.coalesce(FundPeriod.reminded_at, sa.literal(now, UTCDateTime))}
        marked.update((row.id, row) for row in db.session.execute(
            sa.update(FundPeriod).where(FundPeriod.id.in_(ids), FundPeriod.state != "published", column.is_(None))
            .values(**values).returning(FundPeriod.id, FundPeriod.estate_id, FundPeriod.fund, FundPeriod.starts_on,
                                        FundPeriod.ends_on)
            .execution_options(synchronize_session=False)))
    estates = {row.estate_id for row in marked.values()}
    names = access.estate_names(estates)
    committees = access.committees_of(estates)
    staff = access.staff_of_estates(estates) if any(s == "overdue" and i in marked for i, s in work) else {}
    messages, done = [], {"due": 0, "overdue": 0}
    for period_id, stage in work:   # in the sweep's order, as one by one
        period = marked.get(period_id)
        if period is None:
            continue
        done[stage] += 1
        users = committees.get(period.estate_id, []) if stage == "due" else [
            *staff.get(period.estate_id, []), *committees.get(period.estate_id, [])]
        messages += _reminders(period, names[period.estate_id], stage, sorted(set(users)))
    notifications.notify_many(messages)
    return done


def _reminders(period, place: str, stage: str, users: list[int]) -> list[dict]:
    """The notifications of a period's reminder at its stage, one for each user."""
    fund = labels.name("funds", "fund", period.fund)
    due = queries.due_on(period.ends_on)
    title = (f"{place}{fund}收支公示将于{due:%m月%d日}到期" if stage == "due"
             else f"{place}{fund}收支公示已逾期（应于{due:%m月%d日}前公示）")
    return [{"user_id": uid, "kind": f"funds.disclosure_{stage}",
             "dedupe_key": f"fund_period:{period.id}:{stage}:{uid}", "title": title[:100],
             "body": f"{period.starts_on:%Y年%m月}至{period.ends_on:%Y年%m月}的收支情况尚未公示。",
             "link": f"/fund-periods/{period.id}", "data": {"period_id": period.id}} for uid in users]


# How far back the duties sweep looks: a decision counted, or a 换届 ended, this many days ago is still chased
# (each reminder is sent once; this only bounds the reading).
DUTY_LOOKBACK_DAYS = 120


def duty_reminders() -> dict:
    """The calendar's other duties, reminded like statements (each once, by its notification's key): the
    assembly's decisions (due 3 days after the count), the annual audit (around its day), and after a 换届 its
    audit and the members' written commitments. The committee is told from 7 days before the due day, the 居委会
    staff and the committee from 7 days after it."""
    today = clock.local_now().date()
    loaded = rules.current()
    since = clock.now() - timedelta(days=DUTY_LOOKBACK_DAYS)
    month, day = loaded.annual_audit_due
    audit_due = date(today.year, month, day)
    with reading():
        estate_ids = set(db.session.execute(sa.select(Motion.estate_id).where(
            Motion.counted_at >= since, Motion.published_at.is_(None))).scalars())
        estate_ids |= set(db.session.execute(sa.select(Reelection.estate_id).where(
            Reelection.ended_at >= since)).scalars())
        annual = (audit_due - timedelta(days=loaded.remind_days_before) <= today
                  <= audit_due + timedelta(days=loaded.escalate_days_after + DUTY_LOOKBACK_DAYS // 4))
        if annual:   # the weeks around the annual audit's day: every estate that kept books last year
            estate_ids |= set(db.session.execute(sa.select(FundPeriod.estate_id).where(
                FundPeriod.starts_on <= date(today.year - 1, 12, 31),
                FundPeriod.ends_on >= date(today.year - 1, 1, 1))).scalars())
        estates = {e.id: e for e in db.session.execute(
            sa.select(Estate).where(Estate.id.in_(sorted(estate_ids)))).scalars()} if estate_ids else {}
        items = queries.duties(estates, today) if estates else []
    staged = []
    for item in items:
        if item["status"] == "published" or (item["kind"] == "audit_annual" and not annual):
            continue
        due = item["due_on"]
        if today >= due + timedelta(days=loaded.escalate_days_after):
            staged.append((item, "overdue"))
        elif today >= due - timedelta(days=loaded.remind_days_before):
            staged.append((item, "due"))
    sent = _remind_duties(staged) if staged else {"due": 0, "overdue": 0}
    return {"estates": len(estates), "items": len(items), "reminded": sent["due"], "escalated": sent["overdue"]}


@transactional
def _remind_duties(staged: list[tuple[dict, str]]) -> dict:
    """The notifications of the duties at their stage, those not sent before, in one transaction; how many
    duties of each stage told someone."""
    estate_ids = {item["estate_id"] for item, _ in staged}
    committees, staff = access.committees_of(estate_ids), access.staff_of_estates(estate_ids)
    candidates, duty_of = [], {}
    for n, (item, stage) in enumerate(staged):
        estate_id = item["estate_id"]
        users = committees.get(estate_id, []) if stage == "due" else [*staff.get(estate_id, []),
                                                                         *committees.get(estate_id, [])]
        what = labels.name("funds", "calendar_kind", item["kind"])
        ref = item["motion_id"] or item["ends_on"].isoformat()
        title = (f"{item['estate']}{what}将于{item['due_on']:%m月%d日}到期" if stage == "due"
                 else f"{item['estate']}{what}已逾期（应于{item['due_on']:%m月%d日}前公示）")
        for uid in sorted(set(users)):
            key = f"funds.{item['kind']}:{estate_id}:{ref}:{stage}:{uid}"
            duty_of[key] = (stage, n)
            candidates.append({"user_id": uid, "kind": f"funds.disclosure_{stage}", "dedupe_key": key,
                               "title": title[:100], "body": item["title"] or what, "link": "/disclosure-calendar",
                               "data": {"estate_id": estate_id, "kind": item["kind"]}})
    messages = notifications.unsent(candidates)
    notifications.notify_many(messages)
    told = {duty_of[m["dedupe_key"]] for m in messages}
    return {stage: sum(1 for s, _ in told if s == stage) for stage in ("due", "overdue")}
