"""Case reminders: the sweeps the scheduler process runs (declared in jobs/cases.py).

Sweep — what it selects (index; window) → who is told:

- contact_due_soon — open, not contacted, contactable (ix_case_contact_due; due in (now, now + h])
  → the handlers;
- contact_missed — the same, due in [now − catch-up, now) → the handlers and the 居委会主任;
- handling_due_soon — open, the handling deadline in force (ix_case_handle_due, ix_case_rework_due;
  due in (now, now + h]) → the handlers;
- overdue — open, due before today, below level 2 (case_escalation_due, kept by triggers); working days only
  → 催办: the handlers; 督办: also the 居委会主任 and the street's staff;
- visit_due — closed, not visited (ix_case_visit_due; due in [now − catch-up, end of today])
  → the handlers, to do the 回访;
- rating_request — closed, not rated, with a reporter (ix_case_rating_due; closed in
  [now − catch-up, now]) → the reporter, by inbox and WeChat subscribe message;
- overdue_digest — open, due_at < now, per neighbourhood (ix_case_overdue); working days only
  → the neighbourhood's staff and its street's staff.

h is ``policy.due_soon_hours``; catch-up (``CATCH_UP``) is how far back a sweep looks for a deadline
it missed while the scheduler was down. "The handlers" are the case's assignee, or else the staff of
its neighbourhood (its street's staff when it has none, when the case is street-level, or once it
has been returned for re-dispatch).

Cost: each sweep reads only due rows, through the partial index made for it (migration 0003) and a
bounded window, in keyset batches of ``BATCH``; each batch is a handful of statements (one UPDATE,
one multi-row INSERT of events, one of notifications), whatever its size.

Idempotency: every notification has a dedupe key (unique in the database), made of the case, the
reminder, the cycle, the deadline's day or the level, and the recipient; each batch is one transaction
(a ``@transactional`` step: ``_send_batch``, ``_raise_levels``, ``_send_digests``) that commits whole or
not at all, so the write lock is held for one batch at a time. So a sweep run twice, or again after a
crash, sends nothing twice and loses nothing.

Escalation: ``case.escalation_level`` is one ladder shared with the staff's manual "escalate": the
overdue sweep raises it to 1 (催办) on the first working day after the due day and to 2 (督办)
``policy.escalate_after_overdue_working_days`` working days later, only ever upwards, with a
conditional UPDATE, and appends one "escalate" event (actor "system") per level reached, with the
notices, in one transaction. A level reached once (say on the 先行联系 deadline) is not reached
again for a later deadline of the same case.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import orjson
import sqlalchemy as sa

from models.base import db
from models.cases import OPEN_STATUSES, Case, CaseEscalationDue, CaseEvent
from models.notifications import Delivery, Notification
from models.people import RoleAssignment, User
from models.places import Neighbourhood, Street
from service import calendar, clock, notifications
from service.cases import rules
from service.db import transactional

BATCH = 500
# How far back a sweep looks for a deadline it may have missed while the scheduler was down.
CATCH_UP = timedelta(days=7)
DIGEST_TOP = 5
URGE, ESCALATE = 1, 2  # escalation levels the overdue sweep reaches: 催办, 督办
LEVEL_ZH = {URGE: "催办", ESCALATE: "督办"}

# The sweeps' queries repeat their partial index's predicate (migration 0003) word for word, so that
# SQLite and PostgreSQL can prove the index usable. The status is checked on the fetched rows rather
# than in SQL, where it would tempt the planners onto ix_case_status (every open case).
_OPEN = Case.due_at.is_not(None)  # due_at is null once a case is no longer open
# The cases the overdue sweep may still raise (case_escalation_due holds them; checked again on the case).
_BELOW_ESCALATE = Case.escalation_level < sa.literal_column(str(ESCALATE))
_CONTACTABLE = sa.and_(Case.reporter_user_id.is_not(None), Case.contact_consent.is_(True))

_COLUMNS = (Case.id, Case.number, Case.status, Case.cycle, Case.category_code, Case.neighbourhood_id,
            Case.street_id, Case.assignee_user_id, Case.reporter_user_id, Case.escalation_level)


# --- plumbing -----------------------------------------------------------------------------------------------

def _local(moment: datetime) -> datetime:
    return moment.astimezone(clock.SHANGHAI)


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=clock.SHANGHAI)


def _stamp(moment: datetime) -> str:
    return _local(moment).strftime("%Y%m%d")


def _when(moment: datetime) -> str:
    return _local(moment).strftime("%m月%d日 %H:%M")


def _category(code: str) -> str:
    category = rules.category(code)
    return category.zh if category else code


def _batches(query: sa.Select, key: sa.ColumnElement, statuses, case_id: sa.ColumnElement = Case.id):
    """Rows of ``query`` in a status of ``statuses``, in keyset batches ordered by (key, case id);
    the caller writes each batch in a transaction of its own."""
    query = query.add_columns(key.label("sweep_key"))
    last = None
    while True:
        page = query
        if last is not None:
            page = page.where(sa.or_(key > last[0], sa.and_(key == last[0], case_id > last[1])))
        rows = db.session.execute(page.order_by(key, case_id).limit(BATCH)).all()
        kept = [row for row in rows if row.status in statuses]
        if kept:
            yield kept
        if len(rows) < BATCH:
            return
        last = (rows[-1].sweep_key, rows[-1].id)


class CaseStaff:
    """Active staff by neighbourhood and street, loaded once per sweep for the places of each batch."""

    def __init__(self):
        self.neighbourhood: dict[int, list[int]] = {}
        self.heads: dict[int, list[int]] = {}
        self.street: dict[int, list[int]] = {}

    def load(self, neighbourhood_ids, street_ids) -> None:
        nids = {n for n in neighbourhood_ids if n is not None} - self.neighbourhood.keys()
        sids = set(street_ids) - self.street.keys()
        if not nids and not sids:
            return
        for nid in nids:
            self.neighbourhood[nid], self.heads[nid] = [], []
        for sid in sids:
            self.street[sid] = []
        scope = []
        if nids:
            scope.append(sa.and_(RoleAssignment.scope_type == "neighbourhood", RoleAssignment.scope_id.in_(nids)))
        if sids:
            scope.append(sa.and_(RoleAssignment.scope_type == "street", RoleAssignment.scope_id.in_(sids)))
        rows = db.session.execute(
            sa.select(RoleAssignment.user_id, RoleAssignment.scope_type, RoleAssignment.scope_id, RoleAssignment.title)
            .join(User, User.id == RoleAssignment.user_id)
            .where(RoleAssignment.role == "staff", User.is_active.is_(True), sa.or_(*scope))
            .order_by(RoleAssignment.user_id))
        for user_id, scope_type, scope_id, title in rows:
            if scope_type == "street":
                _add(self.street[scope_id], user_id)
            else:
                _add(self.neighbourhood[scope_id], user_id)
                if title == "nc_head":
                    _add(self.heads[scope_id], user_id)

    def load_for(self, rows) -> None:
        self.load({r.neighbourhood_id for r in rows}, {r.street_id for r in rows})

    def of_neighbourhood(self, nid: int | None, sid: int) -> list[int]:
        """Staff of the neighbourhood and of its street (the digest's readers)."""
        return _unique(self.neighbourhood.get(nid, []) + self.street.get(sid, []))

    def handlers(self, row) -> list[int]:
        """Who works the case: its assignee; else the 居委会's staff; else (or once returned) the street's."""
        if row.assignee_user_id is not None and row.status != "returned":
            return [row.assignee_user_id]
        local = self.neighbourhood.get(row.neighbourhood_id, []) if row.status != "returned" else []
        return list(local or self.street.get(row.street_id, []))

    def heads_of(self, row) -> list[int]:
        """The 居委会主任 (nc_head); the street's staff when the neighbourhood has none."""
        return list(self.heads.get(row.neighbourhood_id) or self.street.get(row.street_id, []))

    def supervisors(self, row) -> list[int]:
        """督办 goes up: the 居委会主任 and the street's staff."""
        return _unique(self.heads.get(row.neighbourhood_id, []) + self.street.get(row.street_id, []))


def _add(users: list[int], user_id: int) -> None:
    if user_id not in users:
        users.append(user_id)


def _unique(users) -> list[int]:
    seen: list[int] = []
    for user_id in users:
        _add(seen, user_id)
    return seen


@dataclass
class _Message:
    user_id: int
    kind: str
    key: str
    title: str
    body: str
    link: str | None
    data: dict | None


class _Outbox:
    """The notifications of one batch, written with a few statements instead of a few per message.

    Same contract as ``notifications.notify`` (inbox row; a WeChat delivery when the kind has a
    subscribe-message template; a dedupe key used once, ever): keys already used are looked up in
    one query, the rest inserted in one multi-row INSERT … ON CONFLICT (dedupe_key) DO NOTHING, so a
    key taken concurrently is skipped, not an error. In the caller's transaction.
    """

    def __init__(self):
        self.messages: dict[str, _Message] = {}

    def add(self, user_ids, kind: str, key: str, title: str, body: str, link: str | None = None,
            data: dict | None = None) -> None:
        for user_id in user_ids:
            message = _Message(user_id, kind, f"{key}:u{user_id}", title, body, link, data)
            self.messages.setdefault(message.key, message)

    def send(self) -> int:
        messages, self.messages = list(self.messages.values()), {}
        sent = 0
        for start in range(0, len(messages), BATCH):
            sent += _insert_notifications(messages[start:start + BATCH])
        return sent


def _insert_notifications(messages: list[_Message]) -> int:
    """The notifications whose key is not used yet (the insert skips a used one). Where a kind has a WeChat
    template, the used keys are read first: a delivery goes only with a notification inserted now."""
    if any(notifications.template_for(m.kind) for m in messages):
        table = Notification.__table__
        used = set(db.session.execute(sa.select(table.c.dedupe_key).where(
            _among(table.c.dedupe_key, [m.key for m in messages]))).scalars())
        messages = [m for m in messages if m.key not in used]
    return _write_notifications(messages)


def _write_notifications(fresh: list[_Message]) -> int:
    """Insert the notifications (a key taken meanwhile is skipped) and the WeChat deliveries of kinds
    with a template; the number inserted."""
    if not fresh:
        return 0
    table = Notification.__table__
    now = clock.now()
    inserted = _bulk_insert(table, [{"user_id": m.user_id, "kind": m.kind, "dedupe_key": m.key,
                                     "title": m.title[:100], "body": m.body[:1000], "link": m.link, "data": m.data}
                                    for m in fresh], constants={"created_at": now}, skip_conflicts_on="dedupe_key")
    templated = {m.key: template["template_id"] for m in fresh if (template := notifications.template_for(m.kind))}
    if templated:
        rows = db.session.execute(sa.select(table.c.id, table.c.dedupe_key).where(
            _among(table.c.dedupe_key, list(templated)))).all()
        # ON CONFLICT: a notification another writer created under the same key keeps its own delivery.
        _bulk_insert(Delivery.__table__, [{"notification_id": nid, "template_id": templated[key]} for nid, key in rows],
                     constants={"status": "pending", "attempts": 0, "updated_at": now},
                     skip_conflicts_on="notification_id")
    return inserted


def _bulk_insert(table: sa.Table, rows: list[dict], *, constants: dict, skip_conflicts_on: str | None = None) -> int:
    """Insert ``rows`` (dicts with the same keys; ``constants`` the same for every row) in one
    statement, skipping rows that hit the unique column ``skip_conflicts_on``; the number inserted.

    PostgreSQL: INSERT … SELECT FROM json_to_recordset(the rows as one JSON document) — one statement and
    one parameter whatever the batch size; orjson writes the document, so no value is escaped one by one
    (an array parameter of text is, by the driver, with a regular expression per element). SQLite
    (in-process): an executemany."""
    if not rows:
        return 0
    dialect = db.session.get_bind().dialect
    if dialect.name != "postgresql":
        from sqlalchemy.dialects.sqlite import insert

        statement = insert(table)
        if skip_conflicts_on:
            statement = statement.on_conflict_do_nothing(index_elements=[skip_conflicts_on])
        return db.session.execute(statement, [{**row, **constants} for row in rows],
                                  execution_options={"preserve_rowcount": True}).rowcount
    from sqlalchemy.dialects.postgresql import JSON, insert

    names = list(rows[0])
    document = orjson.dumps(rows, default=str, option=orjson.OPT_NAIVE_UTC).decode()
    source = (sa.func.json_to_recordset(sa.cast(sa.bindparam("rows", document, type_=sa.Text), JSON))
              .table_valued(*(sa.column(name, table.c[name].type) for name in names))
              .render_derived(name="v", with_types=True))
    columns = [source.c[name] for name in names]
    columns += [sa.literal(value, table.c[name].type) for name, value in constants.items()]
    statement = insert(table).from_select([*names, *constants], sa.select(*columns))
    if skip_conflicts_on:
        statement = statement.on_conflict_do_nothing(index_elements=[skip_conflicts_on])
    return db.session.execute(statement, execution_options={"preserve_rowcount": True}).rowcount


def _among(column: sa.ColumnElement, values: list) -> sa.ColumnElement:
    """``column IN (values)``; on PostgreSQL ``column = ANY(array)``: one parameter instead of hundreds
    for the driver to splice into the statement text."""
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == sa.any_(sa.bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)


def _notify_rows(query: sa.Select, key: sa.ColumnElement, message, statuses=OPEN_STATUSES) -> dict:
    """The common loop: for each batch of due rows, build the messages and send them in one transaction."""
    counts = {"cases": 0, "notified": 0}
    staff = CaseStaff()
    for rows in _batches(query, key, statuses):
        staff.load_for(rows)
        counts["cases"] += len(rows)
        counts["notified"] += _send_batch(rows, staff, message)
    return counts


@transactional
def _send_batch(rows, staff: CaseStaff, message) -> int:
    """One batch's messages (``message(outbox, staff, row)`` for each row), sent in one transaction."""
    outbox = _Outbox()
    for row in rows:
        message(outbox, staff, row)
    return outbox.send()


def _data(row, **extra) -> dict:
    return {"case_id": row.id, "number": row.number, **extra}


# --- 先行联系 ---------------------------------------------------------------------------------------------------

def _uncontacted():
    return (sa.select(*_COLUMNS, Case.contact_due_at)
            .where(Case.first_contact_at.is_(None), _OPEN, _CONTACTABLE))


def contact_due_soon(now: datetime | None = None) -> dict:
    """先行联系 due within ``policy.due_soon_hours``: remind the handlers."""
    now = now or clock.now()
    soon = now + timedelta(hours=rules.policy().due_soon_hours)
    query = _uncontacted().where(Case.contact_due_at > now, Case.contact_due_at <= soon)

    def message(outbox, staff, row):
        outbox.add(staff.handlers(row), "case.contact_due_soon",
                   f"case:{row.id}:contact_due_soon:c{row.cycle}:{_stamp(row.contact_due_at)}",
                   f"诉求{row.number}即将超过先行联系时限",
                   f"{_category(row.category_code)}：请在{_when(row.contact_due_at)}前联系诉求人并登记联系情况。",
                   rules.page_link(row.id), _data(row, due_at=clock.iso(row.contact_due_at)))

    return _notify_rows(query, Case.contact_due_at, message)


def contact_missed(now: datetime | None = None) -> dict:
    """先行联系 deadline passed without a contact: tell the handlers and the 居委会主任."""
    now = now or clock.now()
    query = _uncontacted().where(Case.contact_due_at < now, Case.contact_due_at >= now - CATCH_UP)

    def message(outbox, staff, row):
        outbox.add(_unique(staff.handlers(row) + staff.heads_of(row)), "case.contact_missed",
                   f"case:{row.id}:contact_missed:c{row.cycle}:{_stamp(row.contact_due_at)}",
                   f"诉求{row.number}已超过先行联系时限",
                   f"{_category(row.category_code)}：先行联系时限{_when(row.contact_due_at)}已过，"
                   "请尽快联系诉求人并登记联系情况。",
                   rules.page_link(row.id), _data(row, due_at=clock.iso(row.contact_due_at)))

    return _notify_rows(query, Case.contact_due_at, message)


# --- 办理时限 -------------------------------------------------------------------------------------------------

def handling_due_soon(now: datetime | None = None) -> dict:
    """The handling deadline in force (再次处置 after a reopen, else 首次处置 or its extension)
    due within ``policy.due_soon_hours``: remind the handlers."""
    now = now or clock.now()
    soon = now + timedelta(hours=rules.policy().due_soon_hours)
    base = sa.select(*_COLUMNS).where(_OPEN)
    first = base.add_columns(Case.handle_due_at.label("deadline"), sa.literal("办理").label("stage")).where(
        Case.handle_due_at > now, Case.handle_due_at <= soon,
        sa.or_(Case.cycle == 1, Case.rework_due_at.is_(None)))
    rework = base.add_columns(Case.rework_due_at.label("deadline"), sa.literal("再次处置").label("stage")).where(
        Case.rework_due_at > now, Case.rework_due_at <= soon, Case.cycle > 1)

    def message(outbox, staff, row):
        outbox.add(staff.handlers(row), "case.handling_due_soon",
                   f"case:{row.id}:handling_due_soon:c{row.cycle}:{_stamp(row.deadline)}",
                   f"诉求{row.number}即将到期",
                   f"{_category(row.category_code)}：{row.stage}时限{_when(row.deadline)}，请按时办结，"
                   "确需延期请在到期前申请。",
                   rules.page_link(row.id), _data(row, due_at=clock.iso(row.deadline)))

    counts = _notify_rows(first, Case.handle_due_at, message)
    more = _notify_rows(rework, Case.rework_due_at, message)
    return {name: counts[name] + more[name] for name in counts}


# --- 催办 / 督办 -------------------------------------------------------------------------------------------------

class _WorkingDaysSince:
    """Working days d with day < d <= today, walking the calendar back from today once per sweep."""

    def __init__(self, today: date):
        self.counts = {today: 0}
        self.oldest = today
        self.running = 0

    def __call__(self, day: date) -> int:
        while self.oldest > day:
            self.running += calendar.is_working_day(self.oldest)[0]
            self.oldest -= timedelta(days=1)
            self.counts[self.oldest] = self.running
        return self.counts[day]


def _not_a_working_day(now: datetime) -> bool:
    return not calendar.is_working_day(_local(now).date())[0]


def overdue(now: datetime | None = None) -> dict:
    """催办 the handlers on the first working day after the due day (level 1); 督办 to the 居委会主任 and
    the street after ``policy.escalate_after_overdue_working_days`` more working days (level 2).
    Runs on working days only."""
    now = now or clock.now()
    if _not_a_working_day(now):
        return {"skipped": "not a working day"}
    today = _local(now).date()
    after = rules.policy().escalate_after_overdue_working_days
    since = _WorkingDaysSince(today)
    # The work table (kept by triggers: migration 0018) holds the open cases below 督办 by deadline.
    query = (sa.select(*_COLUMNS, Case.due_at).select_from(CaseEscalationDue)
             .join(Case, Case.id == CaseEscalationDue.case_id)
             .where(CaseEscalationDue.due_at < _start_of(today), _OPEN, _BELOW_ESCALATE))
    counts = {"cases": 0, "urged": 0, "escalated": 0, "notified": 0}
    staff = CaseStaff()
    for rows in _batches(query, CaseEscalationDue.due_at, OPEN_STATUSES, CaseEscalationDue.case_id):
        counts["cases"] += len(rows)
        raises = []
        for row in rows:
            days = since(_local(row.due_at).date())
            target = ESCALATE if days >= 1 + after else URGE if days >= 1 else 0
            if target > row.escalation_level:
                raises.append((row, target, days))
        if not raises:
            continue
        staff.load_for([row for row, _, _ in raises])
        urged, escalated, sent = _raise_levels(raises, staff, now)
        counts["urged"] += urged
        counts["escalated"] += escalated
        counts["notified"] += sent
    return counts


@transactional
def _raise_levels(raises, staff: CaseStaff, now: datetime) -> tuple[int, int, int]:
    """Raise each case to its target level (only from the level it was read at: a case changed
    meanwhile is left for the next run), one event per level reached, and the notices; one batch,
    in one transaction."""
    groups: dict[tuple[int, int], list] = {}
    for row, target, days in raises:
        groups.setdefault((row.escalation_level, target), []).append((row, days))
    events, outbox = [], _Outbox()
    urged = escalated = 0
    for (current, target), items in groups.items():
        ids = [row.id for row, _ in items]
        done = set(db.session.execute(
            sa.update(Case).where(_among(Case.id, ids), Case.escalation_level == current, _OPEN,
                                  Case.status.in_(OPEN_STATUSES))
            .values(escalation_level=target, version=Case.version + 1, updated_at=now)
            .returning(Case.id).execution_options(synchronize_session=False)).scalars())
        for row, days in items:
            if row.id not in done:
                continue
            for level in range(current + 1, target + 1):
                urged += level == URGE
                escalated += level == ESCALATE
                events.append(_escalation_event(row, level, days))
                _escalation_notice(outbox, staff, row, level, days)
    _bulk_insert(CaseEvent.__table__, events, constants={"at": now, "actor_user_id": None, "actor_role": "system",
                                                         "action": "escalate", "public": False})
    return urged, escalated, outbox.send()


def _escalation_event(row, level: int, days: int) -> dict:
    return {"case_id": row.id, "from_status": row.status, "to_status": row.status,
            "note": f"逾期{days}个工作日，系统{LEVEL_ZH[level]}",
            "data": {"level": level, "kind": LEVEL_ZH[level], "due_at": clock.iso(row.due_at),
                     "overdue_working_days": days, "auto": True}}


def _escalation_notice(outbox: _Outbox, staff: CaseStaff, row, level: int, days: int) -> None:
    due = _when(row.due_at)
    if level == URGE:
        recipients = staff.handlers(row)
        title = f"【催办】诉求{row.number}已逾期"
        body = f"{_category(row.category_code)}：时限{due}已过，请尽快办理并答复诉求人。"
    else:
        recipients = _unique(staff.handlers(row) + staff.supervisors(row))
        title = f"【督办】诉求{row.number}逾期{days}个工作日"
        body = f"{_category(row.category_code)}：时限{due}已过{days}个工作日仍未办结，已升级督办，请居委会主任和街道跟进。"
    outbox.add(recipients, "case.overdue", f"case:{row.id}:overdue:c{row.cycle}:l{level}", title, body,
               rules.page_link(row.id),
               _data(row, level=level, due_at=clock.iso(row.due_at), overdue_working_days=days))


# --- 回访 and 评价 -------------------------------------------------------------------------------------------------

def visit_due(now: datetime | None = None) -> dict:
    """回访 due today (the working day after 办结) and not yet done: remind the handlers."""
    now = now or clock.now()
    end_of_today = calendar.end_of_day(_local(now).date())
    query = (sa.select(*_COLUMNS, Case.visit_due_at)
             .where(Case.visited_at.is_(None), Case.visit_due_at <= end_of_today,
                    Case.visit_due_at >= now - CATCH_UP))

    def message(outbox, staff, row):
        outbox.add(staff.handlers(row), "case.visit_due", f"case:{row.id}:visit_due:c{row.cycle}",
                   f"诉求{row.number}待回访",
                   f"{_category(row.category_code)}：已办结，请于{_when(row.visit_due_at)}前回访诉求人，登记问题是否解决。",
                   rules.page_link(row.id), _data(row, due_at=clock.iso(row.visit_due_at)))

    return _notify_rows(query, Case.visit_due_at, message, {"closed"})


def rating_request(now: datetime | None = None) -> dict:
    """Ask the reporter of a case closed (办结) lately and not yet rated to rate it: inbox, and a
    WeChat subscribe message through the delivery job when they granted one."""
    now = now or clock.now()
    query = (sa.select(*_COLUMNS, Case.closed_at)
             .where(Case.rating.is_(None), Case.closed_at <= now, Case.closed_at >= now - CATCH_UP,
                    Case.reporter_user_id.is_not(None)))

    def message(outbox, staff, row):
        outbox.add([row.reporter_user_id], "case.visit_survey", f"case:{row.id}:rating_request:c{row.cycle}",
                   f"请评价诉求{row.number}",
                   f"您反映的“{_category(row.category_code)}”问题已办结，请对办理结果进行评价。",
                   rules.page_link(row.id, rules.RATE_PAGE), _data(row))

    return _notify_rows(query, Case.closed_at, message, {"closed"})


# --- the morning digest --------------------------------------------------------------------------------------------

def overdue_digest(now: datetime | None = None) -> dict:
    """Each working morning, one inbox digest of the overdue cases per neighbourhood (per street for
    street-level cases) to each of its staff: the count and the most overdue case numbers."""
    now = now or clock.now()
    if _not_a_working_day(now):
        return {"skipped": "not a working day"}
    overdue_cases = sa.select(Case.id, Case.number, Case.neighbourhood_id, Case.street_id, Case.due_at).where(
        _OPEN, Case.due_at < now)
    totals = db.session.execute(
        overdue_cases.with_only_columns(Case.neighbourhood_id, Case.street_id, sa.func.count())
        .group_by(Case.neighbourhood_id, Case.street_id)).all()
    counts = {"neighbourhoods": 0, "cases": 0, "notified": 0}
    if not totals:
        return counts
    digests = _Digests.load(overdue_cases, totals, now)
    for start in range(0, len(totals), BATCH):
        counts["notified"] += _send_digests(digests, totals[start:start + BATCH])
    counts["neighbourhoods"] = len(totals)
    counts["cases"] = sum(total for _, _, total in totals)
    return counts


@dataclass
class _Digests:
    """What the morning's digests say: the most overdue case numbers of each (neighbourhood, street), the
    places' names and their staff."""
    now: datetime
    top: dict[tuple, list[str]]
    names: dict[int, str]
    street_names: dict[int, str]
    staff: CaseStaff

    @classmethod
    def load(cls, overdue_cases: sa.Select, totals, now: datetime) -> _Digests:
        ranked = overdue_cases.add_columns(sa.func.row_number().over(
            partition_by=(Case.neighbourhood_id, Case.street_id), order_by=(Case.due_at, Case.id)).label("rank")
        ).subquery()
        top: dict[tuple, list[str]] = {}
        for row in db.session.execute(sa.select(ranked).where(ranked.c.rank <= DIGEST_TOP)
                                      .order_by(ranked.c.neighbourhood_id, ranked.c.street_id, ranked.c.rank)):
            top.setdefault((row.neighbourhood_id, row.street_id), []).append(row.number)
        names = dict(db.session.execute(sa.select(Neighbourhood.id, Neighbourhood.committee_name).where(
            Neighbourhood.id.in_({n for n, _, _ in totals if n is not None}))).all())
        street_names = dict(db.session.execute(sa.select(Street.id, Street.name).where(
            Street.id.in_({s for n, s, _ in totals if n is None}))).all())
        staff = CaseStaff()
        staff.load({n for n, _, _ in totals}, {s for _, s, _ in totals})
        return cls(now, top, names, street_names, staff)

    def add(self, outbox: _Outbox, nid: int | None, sid: int, total: int) -> None:
        """The digest of one neighbourhood (or of a street's street-level cases) to its staff."""
        name = self.names.get(nid, "") if nid is not None else self.street_names.get(sid, "")
        scope = f"nb{nid}" if nid is not None else f"st{sid}"
        numbers = self.top.get((nid, sid), [])
        more = "等" if total > len(numbers) else ""
        recipients = self.staff.of_neighbourhood(nid, sid) if nid is not None else self.staff.street.get(sid, [])
        link = (f"/cases?overdue=true&neighbourhood_id={nid}" if nid is not None else "/cases?overdue=true")
        outbox.add(recipients, "case.overdue_digest", f"digest:overdue:{scope}:{_stamp(self.now)}",
                   f"逾期诉求提醒：{name}{total}件",
                   f"截至{_local(self.now):%m月%d日 %H:%M}，{name}有{total}件诉求逾期未办结："
                   f"{'、'.join(numbers)}{more}。",
                   link, {"neighbourhood_id": nid, "street_id": sid, "count": total, "numbers": numbers})


@transactional
def _send_digests(digests: _Digests, chunk) -> int:
    """One batch of digests, sent in one transaction."""
    outbox = _Outbox()
    for nid, sid, total in chunk:
        digests.add(outbox, nid, sid, total)
    return outbox.send()


SWEEPS = {"contact_due_soon": contact_due_soon, "contact_missed": contact_missed,
          "handling_due_soon": handling_due_soon, "overdue": overdue, "visit_due": visit_due,
          "rating_request": rating_request, "overdue_digest": overdue_digest}
