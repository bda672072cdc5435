"""Fund use-cases: open a fund's first period, post a journal (its lines sum to zero; the database checks it
again when the journal is posted), reverse one, close a period (its balance carried into the next) and publish
its statement to the estate as a notice once it reconciles with the bank. Each is one transaction."""
from __future__ import annotations

import calendar
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value

from models.base import db
from models.funds import FUNDS, Commitment, FundAccount, FundAudit, FundPeriod, FundQuery, Journal, JournalEntry
from models.places import Building
from service import audit, clock, labels, notifications
from service.db import add_unique, locked, transactional
from service.funds import access, errors, queries, rules
from service.notices import workflow as notices
from service.people import Actor


def _end_of(starts_on: date, months: int) -> date:
    month = starts_on.month + months - 1
    year, month = starts_on.year + (month - 1) // 12, (month - 1) % 12 + 1
    return date(year, month, calendar.monthrange(year, month)[1])


@transactional
def open_first_period(actor: Actor, estate_id: int, fund: str, starts_on: date, opening_fen: int) -> FundPeriod:
    """A fund's first period (its opening balance from the bank); later ones open when the last one closes."""
    place = access.estate(estate_id)
    access.require_manage(actor, place)
    if fund not in FUNDS:
        raise errors.FundUnknown()
    months = rules.current().period_months[fund]
    if starts_on.day != 1 or (starts_on.month - 1) % months:
        raise errors.PeriodStartWrong(months=months)
    if db.session.execute(sa.select(FundPeriod.id).where(FundPeriod.estate_id == place.id,
                                                         FundPeriod.fund == fund)).first():
        raise errors.PeriodExists()
    period = FundPeriod(estate_id=place.id, fund=fund, starts_on=starts_on, ends_on=_end_of(starts_on, months),
                        state="open", opening_fen=opening_fen)
    db.session.add(period)
    db.session.flush()
    audit.record(actor, "fund_period.opened", "fund_period", period.id, street_id=place.street_id,
                 after={"fund": fund, "starts_on": starts_on.isoformat(), "opening_fen": opening_fen})
    return period


def _open_period(estate_id: int, fund: str, *, lock: bool = False) -> FundPeriod:
    query = sa.select(FundPeriod).where(FundPeriod.estate_id == estate_id, FundPeriod.fund == fund,
                                        FundPeriod.state == "open")
    period = db.session.execute(query.with_for_update() if lock else query).scalar_one_or_none()
    if period is None:
        raise errors.NoOpenPeriod()
    return period


def _account(estate_id: int, fund: str, kind: str, code: str, building_id: int | None) -> int:
    found = db.session.execute(sa.select(FundAccount.id).where(
        FundAccount.estate_id == estate_id, FundAccount.fund == fund, FundAccount.kind == kind,
        FundAccount.code == code,
        FundAccount.building_id.is_(None) if building_id is None else FundAccount.building_id == building_id)).scalar()
    if found is None:
        account = FundAccount(estate_id=estate_id, fund=fund, kind=kind, code=code, building_id=building_id)
        db.session.add(account)
        db.session.flush()
        found = account.id
    return found


def _check_lines(estate_id: int, fund: str, lines: list[dict]) -> None:
    loaded = rules.current()
    buildings = set(db.session.execute(sa.select(Building.id).where(Building.estate_id == estate_id)).scalars())
    for index, line in enumerate(lines, start=1):
        kind, code, building = line["kind"], line["code"], line.get("building_id")
        if code not in loaded.codes(fund, kind) or (building is not None and building not in buildings):
            raise errors.LineUnknown(index=index, what=f"{kind}:{code}" + (f"@{building}" if building else ""))
        if fund == "maint" and kind == "bank" and building is None:
            raise errors.BuildingRequired(index=index)
    diff = sum(line["amount_fen"] for line in lines)
    if diff != 0:
        raise errors.Unbalanced(diff=diff)


def _post(actor: Actor, period: FundPeriod, booked_on: date, memo: str, source_doc: str | None, lines: list[dict],
          reverses_id: int | None = None) -> Journal:
    journal = Journal(estate_id=period.estate_id, period_id=period.id, booked_on=booked_on, memo=memo,
                      source_doc=source_doc, entered_by=actor.user_id, reverses_id=reverses_id, posted=False)
    db.session.add(journal)
    db.session.flush()
    db.session.execute(sa.insert(JournalEntry), [
        {"journal_id": journal.id, "amount_fen": line["amount_fen"],
         "account_id": _account(period.estate_id, period.fund, line["kind"], line["code"], line.get("building_id"))}
        for line in lines])
    # Posted last: the database checks here that the entries balance, and freezes them from now on.
    db.session.execute(sa.update(Journal).where(Journal.id == journal.id).values(posted=True)
                       .execution_options(synchronize_session=False))
    set_committed_value(journal, "posted", True)   # as the database has it (no second UPDATE)
    return journal


@transactional
def post_journal(actor: Actor, estate_id: int, data: dict) -> Journal:
    """Post a journal to the open period of its fund (the lines balance; the date falls in the period)."""
    place = access.estate(estate_id)
    access.require_manage(actor, place)
    fund = data["fund"]
    if fund not in FUNDS:
        raise errors.FundUnknown()
    period = _open_period(place.id, fund, lock=True)
    if not period.starts_on <= data["booked_on"] <= period.ends_on:
        raise errors.BookedOutsidePeriod(start=period.starts_on.isoformat(), end=period.ends_on.isoformat())
    _check_lines(place.id, fund, data["lines"])
    journal = _post(actor, period, data["booked_on"], data["memo"], data.get("source_doc"), data["lines"])
    audit.record(actor, "journal.posted", "journal", journal.id, street_id=place.street_id,
                 after={"fund": fund, "memo": data["memo"], "lines": len(data["lines"])})
    return journal


@transactional
def reverse(actor: Actor, journal_id: int, reason: str) -> Journal:
    """Correct a posted journal by its mirror image, posted to the fund's open period (a closed period is never
    changed: the reversal shows in the current one)."""
    original = db.session.get(Journal, journal_id)
    if original is None:
        raise errors.JournalNotFound()
    place = access.estate(original.estate_id)
    access.require_manage(actor, place)
    if db.session.execute(sa.select(Journal.id).where(Journal.reverses_id == original.id)).first():
        raise errors.AlreadyReversed()
    fund = db.session.get(FundPeriod, original.period_id).fund
    period = _open_period(place.id, fund, lock=True)
    lines = [{"kind": kind, "code": code, "building_id": building, "amount_fen": -amount}
             for kind, code, building, amount in db.session.execute(
                 sa.select(FundAccount.kind, FundAccount.code, FundAccount.building_id, JournalEntry.amount_fen)
                 .join(FundAccount, FundAccount.id == JournalEntry.account_id)
                 .where(JournalEntry.journal_id == original.id).order_by(JournalEntry.id))]
    today = clock.local_now().date()
    booked = min(max(today, period.starts_on), period.ends_on)
    journal = _post(actor, period, booked, f"冲销凭证#{original.id}：{reason}"[:200], original.source_doc, lines,
                    reverses_id=original.id)
    audit.record(actor, "journal.reversed", "journal", journal.id, street_id=place.street_id,
                 before={"journal_id": original.id}, after={"reason": reason})
    return journal


def _managed_period(actor: Actor, period_id: int):
    """The period, locked, and its estate, for one of the estate's managers."""
    period = locked(FundPeriod, period_id)
    if period is None:
        raise errors.PeriodNotFound()
    place = access.estate(period.estate_id)
    access.require_manage(actor, place)
    return period, place


@transactional
def close_period(actor: Actor, period_id: int, bank_balance_fen: int) -> FundPeriod:
    """Close an open period with the bank's balance at its end; the next period opens with the closing balance.
    A closed period not yet published takes its bank balance again (a figure typed wrong)."""
    period, place = _managed_period(actor, period_id)
    if period.state == "closed":   # the bank's figure typed again (it was wrong): nothing else changes
        before, period.bank_balance_fen = period.bank_balance_fen, bank_balance_fen
        audit.record(actor, "fund_period.closed", "fund_period", period.id, street_id=place.street_id,
                     before={"bank_balance_fen": before}, after={"bank_balance_fen": bank_balance_fen})
        return period
    if period.state != "open":
        raise errors.NotOpen(state=period.state)
    now = clock.now()
    period.closing_fen = period.opening_fen + queries.bank_movement(period.id)
    period.bank_balance_fen, period.state, period.closed_at, period.closed_by = bank_balance_fen, "closed", now, \
        actor.user_id
    db.session.flush()
    starts = date.fromordinal(period.ends_on.toordinal() + 1)
    db.session.add(FundPeriod(estate_id=period.estate_id, fund=period.fund, starts_on=starts, state="open",
                              ends_on=_end_of(starts, rules.current().period_months[period.fund]),
                              opening_fen=period.closing_fen))
    audit.record(actor, "fund_period.closed", "fund_period", period.id, street_id=place.street_id,
                 after={"closing_fen": period.closing_fen, "bank_balance_fen": bank_balance_fen})
    return period


@transactional
def publish_period(actor: Actor, period_id: int) -> FundPeriod:
    """Publish a closed period's statement to the estate (a notice) once it reconciles with the bank."""
    period, place = _managed_period(actor, period_id)
    if period.state != "closed":
        raise errors.NotClosed(state=period.state)
    diff = period.closing_fen - period.bank_balance_fen
    if diff != 0:
        raise errors.NotReconciled(diff=f"{diff / 100:.2f}")
    statement = queries.statement_of(period, "zh")
    fund = labels.name("funds", "fund", period.fund, "zh")
    title = f"{place.name}{period.starts_on:%Y年%m月}至{period.ends_on:%m月}{fund}收支情况公示"
    lines = [f"期初余额：{statement['opening']}元"]
    lines += [f"{row['category_name']}：{row['amount']}元" for row in statement["income"] + statement["expense"]]
    lines += [f"期末余额：{statement['closing']}元（与银行对账单一致）"]
    notice = notices.add(actor, {"category": "committee", "title": title[:100], "body": "\n".join(lines),
                                    "scopes": [{"type": "estate", "id": place.id}], "publish": True})
    period.state, period.published_at, period.notice_id = "published", clock.now(), notice.id
    audit.record(actor, "fund_period.published", "fund_period", period.id, street_id=place.street_id,
                 after={"notice_id": notice.id})
    return period


# --- owners' queries ---------------------------------------------------------------------------------------------

@transactional
def ask(actor: Actor, period_id: int, text: str, category: str | None = None) -> FundQuery:
    """An owner of the estate asks about a published statement (a line of it, or the whole); its committee
    is told."""
    period = db.session.get(FundPeriod, period_id)
    if period is None:
        raise errors.PeriodNotFound()
    place = access.estate(period.estate_id)
    if period.state != "published":   # not yet disclosed: to owners it does not exist
        raise errors.PeriodNotFound()
    if place.id not in actor.owner_estate_ids:
        raise errors.NotOwner()
    if category is not None and category not in queries.statement_categories(period.id):
        raise errors.CategoryNotInStatement()
    query = FundQuery(period_id=period.id, category=category, asked_by=actor.user_id, text=text, state="open",
                      asked_at=clock.now())
    db.session.add(query)
    db.session.flush()
    notifications.notify_many([{"user_id": uid, "kind": "funds.query_asked", "dedupe_key": f"fund_query:{query.id}:{uid}",
                                "title": "业主询问收支公示", "body": text[:60], "link": f"/fund-periods/{period.id}",
                                "data": {"query_id": query.id}} for uid in access.committee_of(place.id)])
    return query


@transactional
def answer(actor: Actor, query_id: int, text: str) -> FundQuery:
    """The committee (or the staff of a 居委会 of the estate, who are told when it is late) answers; the owner is
    told."""
    query = locked(FundQuery, query_id)
    if query is None:
        raise errors.QueryNotFound()
    period = db.session.get(FundPeriod, query.period_id)
    place = access.estate(period.estate_id)
    access.require_oversee(actor, place)
    if query.state == "answered":
        raise errors.AlreadyAnswered()
    query.state, query.answer, query.answered_by, query.answered_at = "answered", text, actor.user_id, clock.now()
    notifications.notify(query.asked_by, kind="funds.query_answered", dedupe_key=f"fund_query:{query.id}:answered",
                         title="您的收支询问已答复", body=text[:60], link=f"/fund-periods/{period.id}",
                         data={"query_id": query.id})
    audit.record(actor, "fund_query.answered", "fund_period", period.id, street_id=place.street_id,
                 after={"query_id": query.id})
    return query


# --- audits ----------------------------------------------------------------------------------------------------

@transactional
def post_audit(actor: Actor, estate_id: int, data: dict) -> FundAudit:
    """Post an audit's result to the estate for the rules' days (30, Art. 67), the report attached."""
    place = access.estate(estate_id)
    access.require_manage(actor, place)
    today = clock.local_now().date()
    if data["kind"] == "annual" and data["year"] >= today.year:
        raise errors.AuditYearWrong()
    if db.session.execute(sa.select(FundAudit.id).where(FundAudit.estate_id == place.id, FundAudit.kind == data["kind"],
                                                        FundAudit.year == data["year"])).first():
        raise errors.AuditExists()
    name = labels.name("funds", "audit_kind", data["kind"], "zh")
    now = clock.now()
    notice = notices.add(actor, {
        "category": "committee", "title": f"{place.name}{data['year']}年{name}结果公示"[:100],
        "body": f"审计机构：{data['auditor']}\n{data['summary']}", "scopes": [{"type": "estate", "id": place.id}],
        "attachments": data.get("attachments") or [], "publish": True,
        "valid_until": now + timedelta(days=rules.current().audit_posted_days)})
    audit_row = FundAudit(estate_id=place.id, kind=data["kind"], year=data["year"], auditor=data["auditor"],
                          summary=data["summary"], notice_id=notice.id, entered_by=actor.user_id, published_at=now)
    db.session.add(audit_row)
    db.session.flush()
    audit.record(actor, "fund_audit.posted", "fund_audit", audit_row.id, street_id=place.street_id,
                 after={"estate_id": place.id, "kind": data["kind"], "year": data["year"], "notice_id": notice.id})
    return audit_row


# --- members' written commitments --------------------------------------------------------------------------------

@transactional
def post_commitment(actor: Actor, estate_id: int, data: dict) -> Commitment:
    """Publish a committee member's written commitment (书面承诺, Arts. 20, 23) to the estate as a notice: a member
    posts their own; the staff covering the estate post one filed with them on paper (``member_user_id``).
    It belongs to the term of the latest 换届 (0 before Linli recorded one); one per member and term."""
    place = access.estate(estate_id)
    member = data.get("member_user_id") or actor.user_id
    own = member == actor.user_id and place.id in actor.scope_ids("committee", "estate")
    if not own:
        access.require_manage(actor, place)
        if not actor.is_staff:   # a committee member posts only their own
            raise errors.NotManager()
    if member not in access.committee_of(place.id):
        raise errors.NotMember()
    if data["filed_on"] > clock.local_now().date():
        raise errors.FiledInFuture()
    term = queries.current_term(place.id)
    name = queries.member_names([member])[member]
    notice = notices.add(actor, {
        "category": "committee", "title": f"{place.name}业委会委员{name}书面承诺"[:100], "body": data["text"],
        "scopes": [{"type": "estate", "id": place.id}], "attachments": data.get("attachments") or [],
        "publish": True})
    row = add_unique(Commitment(estate_id=place.id, term=term, member_user_id=member, filed_on=data["filed_on"],
                                text=data["text"], notice_id=notice.id, published_at=clock.now()),
                     errors.CommitmentExists())
    db.session.flush()
    audit.record(actor, "commitment.posted", "commitment", row.id, street_id=place.street_id,
                 after={"estate_id": place.id, "member_user_id": member, "term": term, "notice_id": notice.id})
    return row
