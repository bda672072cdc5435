"""Demo owners' funds of 中远两湾城, kept by its committee (committee.demo) through the real use-cases with the
clock moved to each posting: four quarters of 公共收益 (advertising, parking, parcel lockers, venue rent; more than
half topping up the 维修资金 each quarter; an audit fee) and two half-years of 维修资金 (contributions, the transfer
in, interest, an elevator repair of building 208), each closed against the bank's balance and published to the
estate, the first year's audit posted, and an owner's query answered by the committee; before the books, the
last 换届 with its audit and the member's written commitment; the current quarter and half-year are open. Idempotent: nothing is added when the estate has periods.
"""
from __future__ import annotations

import random
from datetime import date, datetime

import sqlalchemy as sa

from models.base import db
from models.funds import FundPeriod
from models.people import User
from models.places import Building, Estate
from models.voting import Reelection
from service import clock, people
from service.funds import queries, workflow

SEED = "20261207:funds"
ESTATE = "310107-YC-ZYLWC"
COUNTS = {"fund_periods": FundPeriod}


def _moment(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=clock.SHANGHAI)


def _at(day: date, hour: int = 10) -> None:
    clock.set_now(_moment(day, hour))


def _quarters(first: date, n: int, months: int) -> list[tuple[date, date]]:
    out, start = [], first
    for _ in range(n):
        month = start.month + months
        nxt = date(start.year + (month - 1) // 12, (month - 1) % 12 + 1, 1)
        out.append((start, date.fromordinal(nxt.toordinal() - 1)))
        start = nxt
    return out


def load(spec: dict | None = None) -> int:
    estate = db.session.execute(sa.select(Estate).where(Estate.code == ESTATE)).scalar_one_or_none()
    user_id = db.session.execute(sa.select(User.id).where(User.username == "committee.demo")).scalar_one_or_none()
    if estate is None or user_id is None or db.session.execute(
            sa.select(FundPeriod.id).where(FundPeriod.estate_id == estate.id)).first():
        return 0
    actor = people.load_actor(user_id)
    buildings = db.session.execute(sa.select(Building.id, Building.number).where(Building.estate_id == estate.id)
                                   .order_by(Building.id)).all()
    b208 = next((b for b, number in buildings if number == "208"), buildings[0][0])
    rng = random.Random(SEED)
    today = clock.local_now().date()
    quarter_start = date(today.year, (today.month - 1) // 3 * 3 + 1, 1)
    half_start = date(today.year, 1 if today.month <= 6 else 7, 1)
    first_quarter = date(quarter_start.year - 1, quarter_start.month, 1)
    first_half = date(half_start.year - 1, half_start.month, 1)
    quarters, halves = _quarters(first_quarter, 4, 3), _quarters(first_half, 2, 6)
    added = 0
    try:
        _at(first_quarter)
        public = workflow.open_first_period(actor, estate.id, "public_income", first_quarter, 4_821_000)
        _at(first_half)
        maint = workflow.open_first_period(actor, estate.id, "maint", first_half, 1_286_400_000)
        public_id, maint_id = public.id, maint.id
        transfers: list[tuple[date, int]] = []
        for start, end in quarters:
            got = 0
            for code, low, high in (("advertising", 900_000, 1_400_000), ("parking", 2_000_000, 2_600_000),
                                    ("parcel_lockers", 150_000, 260_000), ("venue_rent", 80_000, 120_000)):
                amount = rng.randint(low, high)
                got += amount
                _at(date(start.year, start.month, 10))
                workflow.post_journal(actor, estate.id, {
                    "fund": "public_income", "booked_on": date(start.year, start.month, 10),
                    "memo": f"{start.month}月起本季度{code}收入", "source_doc": f"银行回单{start:%Y%m}",
                    "lines": [{"kind": "bank", "code": "bank", "amount_fen": amount},
                              {"kind": "income", "code": code, "amount_fen": -amount}]})
                added += 3
            moved = got * 6 // 10            # more than half tops up the maintenance fund (Art. 51)
            _at(end)
            workflow.post_journal(actor, estate.id, {
                "fund": "public_income", "booked_on": end, "memo": "公共收益60%转入专项维修资金",
                "lines": [{"kind": "expense", "code": "transfer_out", "amount_fen": moved},
                          {"kind": "bank", "code": "bank", "amount_fen": -moved}]})
            transfers.append((end, moved))
            if start == quarters[-1][0]:
                workflow.post_journal(actor, estate.id, {
                    "fund": "public_income", "booked_on": end, "memo": "年度公共收益审计费",
                    "lines": [{"kind": "expense", "code": "audit_fee", "amount_fen": 800_000},
                              {"kind": "bank", "code": "bank", "amount_fen": -800_000}]})
            period = db.session.get(FundPeriod, public_id)
            workflow.close_period(actor, public_id, period.opening_fen + queries.bank_movement(public_id))
            workflow.publish_period(actor, public_id)
            public_id = db.session.execute(sa.select(FundPeriod.id).where(
                FundPeriod.estate_id == estate.id, FundPeriod.fund == "public_income",
                FundPeriod.state == "open")).scalar_one()
        for start, end in halves:
            for day, moved in transfers:
                if start <= day <= end:
                    _at(day)
                    workflow.post_journal(actor, estate.id, {
                        "fund": "maint", "booked_on": day, "memo": "公共收益转入",
                        "lines": [{"kind": "bank", "code": "bank", "building_id": b208, "amount_fen": moved},
                                  {"kind": "income", "code": "transfer_in", "amount_fen": -moved}]})
            _at(end)
            workflow.post_journal(actor, estate.id, {
                "fund": "maint", "booked_on": end, "memo": "半年度利息",
                "lines": [{"kind": "bank", "code": "bank", "building_id": b208, "amount_fen": 3_862_000},
                          {"kind": "income", "code": "interest", "amount_fen": -3_862_000}]})
            if start == halves[-1][0]:
                workflow.post_journal(actor, estate.id, {
                    "fund": "maint", "booked_on": end, "memo": "208号楼电梯大修（业主大会表决通过）",
                    "source_doc": "维修工程结算单", "lines": [
                        {"kind": "expense", "code": "repair", "amount_fen": 38_600_000},
                        {"kind": "bank", "code": "bank", "building_id": b208, "amount_fen": -38_600_000}]})
            period = db.session.get(FundPeriod, maint_id)
            workflow.close_period(actor, maint_id, period.opening_fen + queries.bank_movement(maint_id))
            workflow.publish_period(actor, maint_id)
            maint_id = db.session.execute(sa.select(FundPeriod.id).where(
                FundPeriod.estate_id == estate.id, FundPeriod.fund == "maint", FundPeriod.state == "open")).scalar_one()
            added += 4
        # The committee was elected at the last 换届, a month before the books start here: its member's written
        # commitment published ten days later, and the outgoing committee's audit at 换届 six weeks later.
        elected = date.fromordinal(first_half.toordinal() - 30)
        db.session.add(Reelection(estate_id=estate.id, started_by=user_id,
                                  started_at=_moment(date.fromordinal(elected.toordinal() - 90), 9),
                                  ended_at=_moment(elected, 16)))
        db.session.commit()
        _at(date.fromordinal(elected.toordinal() + 10))
        workflow.post_commitment(actor, estate.id, {
            "text": "本人承诺遵守法律法规和业主大会议事规则，不利用职务之便谋取私利，按时公示维修资金和公共收益收支，接受业主监督。",
            "filed_on": date.fromordinal(elected.toordinal() + 7)})
        _at(date.fromordinal(elected.toordinal() + 45))
        workflow.post_audit(actor, estate.id, {"kind": "reelection", "year": elected.year,
                                               "auditor": "某会计师事务所（示例）",
                                               "summary": "上届业委会任期内专项维修资金、公共收益收支账实相符。"})
        added += 3
        # The annual audit of the first year with books, posted in March of the next year.
        audited = first_half.year
        _at(date(audited + 1, 3, 20))
        workflow.post_audit(actor, estate.id, {"kind": "annual", "year": audited, "auditor": "某会计师事务所（示例）",
                                               "summary": f"{audited}年度专项维修资金、公共收益收支账实相符，未发现重大问题。"})
        added += 2
        # An owner asked about the last published quarter's advertising; the committee answered three days later.
        owner_id = db.session.execute(sa.select(User.id).where(User.username == "owner.demo")).scalar_one_or_none()
        last = db.session.execute(sa.select(FundPeriod).where(
            FundPeriod.estate_id == estate.id, FundPeriod.fund == "public_income", FundPeriod.state == "published")
            .order_by(FundPeriod.starts_on.desc())).scalars().first()
        owner = people.load_actor(owner_id) if owner_id else None
        if owner is not None and last is not None and estate.id in owner.owner_estate_ids:
            asked_on = date.fromordinal(last.ends_on.toordinal() + 12)
            _at(asked_on, 20)
            query = workflow.ask(owner, last.id, "本季度电梯广告收入为何比上季度少？", "advertising")
            _at(date.fromordinal(asked_on.toordinal() + 3), 9)
            workflow.answer(actor, query.id, "九月起两部电梯停用大修，广告合同按停用天数减收，详见合同补充协议（居委会可查阅）。")
            added += 1
    finally:
        clock.set_now(None)
    return added
