"""Reads of an estate's funds: its periods, a period's statement (opening, income and spending by category,
closing, the bank's balance and the difference; the maintenance fund by building too), and its journals."""
from __future__ import annotations

from datetime import date, datetime
from typing import NamedTuple

import sqlalchemy as sa

from models.base import db
from models.funds import Commitment, FundAccount, FundAudit, FundPeriod, FundQuery, Journal, JournalEntry
from models.people import ResidentProfile, User
from models.places import Building
from models.voting import Motion, Reelection
from service import clock, labels
from service.funds import access, errors, rules
from service.people import Actor


def yuan(fen: int | None) -> str | None:
    if fen is None:
        return None
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def bank_movement(period_id: int) -> int:
    """The change of the fund's bank balance over the period: the bank lines of its posted journals."""
    return int(db.session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(JournalEntry.amount_fen), 0))
        .join(Journal, Journal.id == JournalEntry.journal_id).join(FundAccount, FundAccount.id == JournalEntry.account_id)
        .where(Journal.period_id == period_id, Journal.posted.is_(True), FundAccount.kind == "bank")).scalar())


def statement_of(period: FundPeriod, lang: str = "zh") -> dict:
    rows = db.session.execute(
        sa.select(FundAccount.kind, FundAccount.code, FundAccount.building_id, sa.func.sum(JournalEntry.amount_fen))
        .join(JournalEntry, JournalEntry.account_id == FundAccount.id).join(Journal, Journal.id == JournalEntry.journal_id)
        .where(Journal.period_id == period.id, Journal.posted.is_(True))
        .group_by(FundAccount.kind, FundAccount.code, FundAccount.building_id)).all()
    income, expense, by_building, movement = {}, {}, {}, 0
    for kind, code, building, total in rows:
        total = int(total)   # a sum is a NUMERIC on PostgreSQL
        if kind == "income":          # a credit: money in
            income[code] = income.get(code, 0) - total
        elif kind == "expense":
            expense[code] = expense.get(code, 0) + total
        elif kind == "bank":
            movement += total
            if building is not None:
                by_building[building] = by_building.get(building, 0) + total
    closing = period.closing_fen if period.closing_fen is not None else period.opening_fen + movement
    names = dict(db.session.execute(sa.select(Building.id, Building.name).where(Building.id.in_(list(by_building))))
                 .all()) if by_building else {}

    def lines(found: dict) -> list[dict]:
        return [{"category": code, "category_name": labels.name("funds", "category", code, lang),
                 "amount": yuan(amount), "amount_fen": amount} for code, amount in sorted(found.items()) if amount]

    difference = None if period.bank_balance_fen is None else closing - period.bank_balance_fen
    return {"period_id": period.id, "estate_id": period.estate_id, "fund": period.fund,
            "fund_name": labels.name("funds", "fund", period.fund, lang), "starts_on": period.starts_on,
            "ends_on": period.ends_on, "state": period.state,
            "state_name": labels.name("funds", "state", period.state, lang),
            "opening": yuan(period.opening_fen), "income": lines(income), "expense": lines(expense),
            "income_total": yuan(sum(income.values())), "expense_total": yuan(sum(expense.values())),
            "closing": yuan(closing), "bank_balance": yuan(period.bank_balance_fen), "difference": yuan(difference),
            "reconciled": difference == 0, "notice_id": period.notice_id,
            "by_building": [{"building_id": b, "building": names.get(b), "movement": yuan(v)}
                            for b, v in sorted(by_building.items())]}


def _readable(actor: Actor, period_id: int) -> tuple[FundPeriod, int]:
    """The period if the actor may read it (those who oversee the books always; the estate's owners once it is
    published), and the actor's ``access.standing``; else PeriodNotFound (an unpublished period does not exist
    for owners)."""
    period = db.session.get(FundPeriod, period_id)
    if period is None:
        raise errors.PeriodNotFound()
    place = access.estate(period.estate_id)
    standing = access.standing(actor, place)
    if not standing and not (period.state == "published" and place.id in actor.owner_estate_ids):
        raise errors.PeriodNotFound()
    return period, standing


def statement(actor: Actor, period_id: int, lang: str = "zh") -> dict:
    """A period's statement: owners of the estate once published; those who oversee the books at any time."""
    period, standing = _readable(actor, period_id)
    return {**statement_of(period, lang), "can_manage": standing == access.MANAGE}


def periods(actor: Actor, estate_id: int, *, page: int, page_size: int, lang: str = "zh") -> tuple[list[dict], int]:
    """An estate's periods, newest first: all for its managers, the published ones for its owners."""
    place = access.estate(estate_id)
    oversees = access.may_oversee(actor, place)
    if not oversees and place.id not in actor.owner_estate_ids:
        raise errors.NotOwner()
    query = sa.select(FundPeriod).where(FundPeriod.estate_id == place.id)
    if not oversees:
        query = query.where(FundPeriod.state == "published")
    total = db.session.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar()
    found = db.session.execute(query.order_by(FundPeriod.starts_on.desc(), FundPeriod.fund)
                               .limit(page_size).offset((page - 1) * page_size)).scalars().all()
    return [{"id": p.id, "fund": p.fund, "fund_name": labels.name("funds", "fund", p.fund, lang),
             "starts_on": p.starts_on, "ends_on": p.ends_on, "state": p.state,
             "state_name": labels.name("funds", "state", p.state, lang), "opening": yuan(p.opening_fen),
             "closing": yuan(p.closing_fen), "published_at": p.published_at, "notice_id": p.notice_id}
            for p in found], total


def journal(actor: Actor, journal_id: int, lang: str = "zh") -> dict:
    found = db.session.get(Journal, journal_id)
    if found is None:
        raise errors.JournalNotFound()
    access.require_oversee(actor, access.estate(found.estate_id))
    entries = db.session.execute(
        sa.select(FundAccount.kind, FundAccount.code, FundAccount.building_id, JournalEntry.amount_fen)
        .join(FundAccount, FundAccount.id == JournalEntry.account_id).where(JournalEntry.journal_id == found.id)
        .order_by(JournalEntry.id)).all()
    return {"id": found.id, "period_id": found.period_id, "booked_on": found.booked_on, "memo": found.memo,
            "source_doc": found.source_doc, "reverses_id": found.reverses_id, "posted": found.posted,
            "lines": [{"kind": k, "kind_name": labels.name("funds", "kind", k, lang), "code": c,
                       "code_name": labels.name("funds", "category", c, lang),
                       "building_id": b, "amount_fen": a, "amount": yuan(a)} for k, c, b, a in entries]}


def statement_categories(period_id: int) -> set[str]:
    return set(db.session.execute(
        sa.select(FundAccount.code).join(JournalEntry, JournalEntry.account_id == FundAccount.id)
        .join(Journal, Journal.id == JournalEntry.journal_id)
        .where(Journal.period_id == period_id, FundAccount.kind.in_(("income", "expense")))).scalars())


def period_queries(actor: Actor, period_id: int, *, page: int, page_size: int,
                   lang: str = "zh") -> tuple[list[dict], int]:
    """The owners' queries about a published statement, with their answers: who asked is shown to no other
    owner (``mine`` marks the reader's own); the committee and staff see who asked."""
    period, standing = _readable(actor, period_id)
    base = sa.select(FundQuery).where(FundQuery.period_id == period.id)
    total = db.session.execute(sa.select(sa.func.count()).select_from(base.subquery())).scalar()
    found = db.session.execute(base.order_by(FundQuery.id.desc()).limit(page_size)
                               .offset((page - 1) * page_size)).scalars().all()
    return [_query_item(actor, q, standing >= access.OVERSEE, lang) for q in found], total


def _query_item(actor: Actor, q: FundQuery, manages: bool, lang: str) -> dict:
    return {"id": q.id, "category": q.category, "category_name": labels.name("funds", "category", q.category, lang),
            "text": q.text, "asked_at": q.asked_at, "state": q.state,
            "state_name": labels.name("funds", "query_state", q.state, lang), "answer": q.answer,
            "answered_at": q.answered_at, "mine": q.asked_by == actor.user_id,
            "asked_by": q.asked_by if manages else None}


def one_query(actor: Actor, query_id: int, lang: str = "zh") -> dict:
    """One query, for its asker and the estate's managers (after asking or answering it)."""
    q = db.session.get(FundQuery, query_id)
    if q is None:
        raise errors.QueryNotFound()
    manages = access.may_oversee(actor, access.estate(db.session.get(FundPeriod, q.period_id).estate_id))
    if not manages and q.asked_by != actor.user_id:
        raise errors.QueryNotFound()
    return _query_item(actor, q, manages, lang)


# --- the disclosure calendar -----------------------------------------------------------------------------------

# 业委会 decisions are posted within 3 days (上海市住宅物业管理规定 Art. 26).
DECISION_DAYS = 3

def due_on(ends_on: date) -> date:
    """When the statement of a period ending on ``ends_on`` is due: the rules' days after."""
    return date.fromordinal(ends_on.toordinal() + rules.current().statement_due_days)


def calendar(actor: Actor, *, estate_id: int | None, page: int, page_size: int,
             lang: str = "zh") -> tuple[list[dict], int]:
    """What is due when, for the estates the actor manages (one estate with ``estate_id``): every ended period's
    statement, every counted decision of the owners' assembly, every ended year's audit, and after each 换届 its
    audit and the new members' written commitments; overdue first (the longest overdue first), then
    the soonest due, then the published."""
    today = clock.local_now().date()
    if estate_id is not None:
        estates = {estate_id: access.estate(estate_id)}
        access.require_oversee(actor, estates[estate_id])
    else:
        estates = {e.id: e for e in access.managed_estates(actor)}
    if not estates:
        return [], 0
    years = _book_years(estates, today)
    statements = _statements(estates, today, page * page_size, lang)
    items = duties(estates, today, lang, years=years) + statements
    rank = {"overdue": 0, "due": 1, "published": 2}
    # Overdue: the longest overdue first; due: the soonest first; published: the newest first.
    items.sort(key=lambda i: (rank[i["status"]], -i["days_overdue"],
                              -i["due_on"].toordinal() if i["status"] == "published" else i["due_on"].toordinal(),
                              i["period_id"] or 0, i["motion_id"] or 0))
    return items[(page - 1) * page_size:page * page_size], len(items) - len(statements) + sum(y.periods for y in years)


# The ended periods' statements: a street's staff oversee a thousand and more. Only those the page can show are read
# (``_statements``): the first ``shown`` of the unpublished (overdue, then due: by due date, as ``ends_on``) and of
# the published (the newest first), in the calendar's order; all are counted (``_book_years``). Both statements are
# built once (the calendar is read often).
_STATEMENT = (FundPeriod.id, FundPeriod.estate_id, FundPeriod.fund, FundPeriod.starts_on, FundPeriod.ends_on,
              FundPeriod.state, FundPeriod.published_at, FundPeriod.notice_id)
_ENDED = (FundPeriod.estate_id.in_(sa.bindparam("estates", expanding=True)),
          FundPeriod.ends_on < sa.bindparam("today", type_=sa.Date))
_SHOWN = sa.bindparam("shown", type_=sa.Integer)
_PUBLISHED = FundPeriod.state == "published"
_FIRST_STATEMENTS = sa.union_all(
    sa.select(sa.select(*_STATEMENT).where(*_ENDED, ~_PUBLISHED)
              .order_by(FundPeriod.ends_on, FundPeriod.id).limit(_SHOWN).subquery()),
    sa.select(sa.select(*_STATEMENT).where(*_ENDED, _PUBLISHED)
              .order_by(FundPeriod.ends_on.desc(), FundPeriod.id).limit(_SHOWN).subquery()))
_BOOK_YEARS = (sa.select(FundPeriod.estate_id, sa.func.min(FundPeriod.starts_on).label("starts_on"),
                         sa.func.max(FundPeriod.ends_on).label("ends_on"), sa.func.count().label("periods"))
               .where(*_ENDED).group_by(FundPeriod.estate_id, sa.extract("year", FundPeriod.starts_on),
                                        sa.extract("year", FundPeriod.ends_on)))


def _statements(estates: dict, today: date, shown: int, lang: str) -> list[dict]:
    """The ended periods' statements the page can show."""
    items = []
    for p in db.session.execute(_FIRST_STATEMENTS, {"estates": sorted(estates), "today": today, "shown": shown}):
        due = due_on(p.ends_on)
        status = "published" if p.state == "published" else "overdue" if today > due else "due"
        items.append({"estate_id": p.estate_id, "estate": estates[p.estate_id].name, "period_id": p.id,
                      "motion_id": None, "title": None,
                      "kind": f"statement_{p.fund}", "kind_name": labels.name("funds", "calendar_kind",
                                                                               f"statement_{p.fund}", lang),
                      "starts_on": p.starts_on, "ends_on": p.ends_on, "due_on": due, "status": status,
                      "status_name": labels.name("funds", "calendar_status", status, lang),
                      "days_overdue": (today - due).days if status == "overdue" else 0,
                      "published_at": p.published_at, "notice_id": p.notice_id})
    return items


def _book_years(estates: dict, today: date) -> list:
    """The years the estates' ended periods start and end in (what ``_audits`` reads of the periods) and how many
    periods there are: a row (estate_id, starts_on, ends_on, periods) for each estate and pair of years, not one for
    each period."""
    return db.session.execute(_BOOK_YEARS, {"estates": sorted(estates), "today": today}).all()


def duties(estates: dict, today: date, lang: str = "zh", *, years: list | None = None) -> list[dict]:
    """The calendar's items other than statements for these estates (id → estate): the assembly's decisions,
    the annual audits of the years with books (``years``: ``_book_years``, read when not given), and after each
    换届 its audit and the members' commitments."""
    if years is None:
        years = _book_years(estates, today)
    return (_decisions(estates, today, lang) + _audits(estates, years, today, lang)
            + _reelections(estates, today, lang))


def _decisions(estates: dict, today: date, lang: str) -> list[dict]:
    """The owners' assembly's counted decisions (the voting domain's motions): each to be posted within 3 days
    of its count (上海市住宅物业管理规定 Art. 26); published when the voting domain published its result."""
    found = db.session.execute(sa.select(Motion.id, Motion.estate_id, Motion.title, Motion.counted_at,
                                         Motion.published_at).where(
        Motion.estate_id.in_(sorted(estates)), Motion.counted_at.is_not(None))).all()
    items = []
    for motion_id, estate_id, title, counted_at, published_at in found:
        counted = clock.local(counted_at).date()
        due = date.fromordinal(counted.toordinal() + DECISION_DAYS)
        done = _Posted(published_at, None) if published_at is not None else None
        items.append(_item(estates[estate_id].name, estate_id, "decision", title, None, counted, due, done, today,
                           lang, motion_id=motion_id))
    return items


def _audits(estates: dict, periods: list, today: date, lang: str) -> list[dict]:
    """The annual audit of every year an estate kept books in that has ended (``periods``: rows with the
    estate and the first and last day, such as ``_book_years``): due by the rules' day of the next year (31 March
    by default), published when posted (``FundAudit``)."""
    month, day = rules.current().annual_audit_due
    posted = {(estate_id, year): _Posted(published_at, notice_id) for estate_id, year, published_at, notice_id in
              db.session.execute(sa.select(FundAudit.estate_id, FundAudit.year, FundAudit.published_at,
                                           FundAudit.notice_id).where(
                  FundAudit.estate_id.in_(sorted(estates)), FundAudit.kind == "annual"))}
    years = {(p.estate_id, y) for p in periods for y in range(p.starts_on.year, p.ends_on.year + 1) if y < today.year}
    return [_item(estates[estate_id].name, estate_id, "audit_annual", f"{year}年度审计", date(year, 1, 1),
                  date(year, 12, 31), date(year + 1, month, day), posted.get((estate_id, year)), today, lang)
            for estate_id, year in sorted(years)]


class _Posted(NamedTuple):
    """What disclosed a calendar item: when, and the notice (none for a decision the voting domain published)."""
    published_at: datetime
    notice_id: int | None


def _item(estate: str, estate_id: int, kind: str, title: str | None, starts_on, ends_on: date, due: date, done,
          today: date, lang: str, *, period_id=None, motion_id=None) -> dict:
    """One calendar entry: published when ``done`` (what was posted: its ``published_at`` and ``notice_id``),
    else due, or overdue past ``due``."""
    status = "published" if done else "overdue" if today > due else "due"
    return {"estate_id": estate_id, "estate": estate, "period_id": period_id, "motion_id": motion_id, "title": title,
            "kind": kind, "kind_name": labels.name("funds", "calendar_kind", kind, lang), "starts_on": starts_on,
            "ends_on": ends_on, "due_on": due, "status": status,
            "status_name": labels.name("funds", "calendar_status", status, lang),
            "days_overdue": (today - due).days if status == "overdue" else 0,
            "published_at": getattr(done, "published_at", None), "notice_id": getattr(done, "notice_id", None)}


def _reelections(estates: dict, today: date, lang: str) -> list[dict]:
    """After each 换届 that ended (the new committee elected): the audit at 换届 (Art. 67), due the rules' days
    after the election and done when an audit of kind ``reelection`` for that year is posted; and, for the
    latest one, the members' written commitments (Arts. 20, 23), due within 30 days and done when every current
    member's commitment of that term is published."""
    loaded = rules.current()
    ended = db.session.execute(sa.select(Reelection.id, Reelection.estate_id, Reelection.ended_at).where(
        Reelection.estate_id.in_(sorted(estates)), Reelection.ended_at.is_not(None))
        .order_by(Reelection.estate_id, Reelection.ended_at)).all()
    if not ended:
        return []
    audits = {(a.estate_id, a.year): a for a in db.session.execute(sa.select(FundAudit).where(
        FundAudit.estate_id.in_(sorted(estates)), FundAudit.kind == "reelection")).scalars()}
    latest = {estate_id: (term, at) for term, estate_id, at in ended}   # ordered: the last one stays
    items = []
    for term, estate_id, at in ended:
        elected = clock.local(at).date()
        name = estates[estate_id].name
        due = date.fromordinal(elected.toordinal() + loaded.reelection_audit_due_days)
        items.append(_item(name, estate_id, "audit_reelection", f"{elected.year}年换届审计", None, elected, due,
                           audits.get((estate_id, elected.year)), today, lang))
    members_of = access.committees_of(latest)
    posted: dict[tuple[int, int], list[Commitment]] = {}
    for c in db.session.execute(sa.select(Commitment).where(
            Commitment.estate_id.in_(sorted(latest)),
            Commitment.term.in_(sorted({term for term, _ in latest.values()})))).scalars():
        if latest[c.estate_id][0] == c.term:
            posted.setdefault(c.estate_id, []).append(c)
    for estate_id, (term, at) in latest.items():
        elected = clock.local(at).date()
        members = set(members_of.get(estate_id, []))
        done = posted.get(estate_id, [])
        done_by = {c.member_user_id for c in done} & members
        last = (max(done, key=lambda c: (c.published_at, c.id)) if done and members and done_by == members
                else None)
        due = date.fromordinal(elected.toordinal() + loaded.commitment_due_days)
        items.append(_item(estates[estate_id].name, estate_id, "commitments",
                           f"委员书面承诺（{len(done_by)}/{len(members)}已公示）", None, elected, due, last, today,
                           lang))
    return items


# --- members' written commitments ----------------------------------------------------------------------------------

def current_term(estate_id: int) -> int:
    """The 换届 the estate's present committee was elected in (the latest that ended), or 0 when none is recorded."""
    return db.session.execute(sa.select(Reelection.id).where(
        Reelection.estate_id == estate_id, Reelection.ended_at.is_not(None))
        .order_by(Reelection.ended_at.desc(), Reelection.id.desc()).limit(1)).scalar() or 0


def member_names(user_ids) -> dict[int, str]:
    """How committee members are named in public: the name staff verified, else the account's nickname."""
    return {uid: name or nickname or username or f"#{uid}" for uid, name, nickname, username in db.session.execute(
        sa.select(User.id, ResidentProfile.name, User.nickname, User.username)
        .select_from(User).outerjoin(ResidentProfile, ResidentProfile.user_id == User.id)
        .where(User.id.in_(sorted(set(user_ids)))))}


def commitments(actor: Actor, estate_id: int, *, page: int, page_size: int) -> tuple[list[dict], int]:
    """The members' written commitments posted for the estate, newest first: for its owners and its managers."""
    place = access.estate(estate_id)
    if not access.may_read_published(actor, place):
        raise errors.NotOwner()
    where = Commitment.estate_id == place.id
    total = db.session.execute(sa.select(sa.func.count()).select_from(Commitment).where(where)).scalar()
    rows = db.session.execute(sa.select(Commitment).where(where)
                              .order_by(Commitment.published_at.desc(), Commitment.id.desc())
                              .offset((page - 1) * page_size).limit(page_size)).scalars().all()
    names = member_names(c.member_user_id for c in rows)
    return [commitment_item(c, names[c.member_user_id]) for c in rows], total


def commitment_item(c: Commitment, member: str | None = None) -> dict:
    """A commitment in an answer; ``member`` its member's public name (read when not given)."""
    if member is None:
        member = member_names([c.member_user_id])[c.member_user_id]
    return {"id": c.id, "estate_id": c.estate_id, "term": c.term, "member_user_id": c.member_user_id,
            "member": member, "filed_on": c.filed_on, "text": c.text,
            "notice_id": c.notice_id, "published_at": c.published_at}
