"""The funds benchmark: every funds list and the two funds sweeps, on a district's five years of books.

The data (generated once into ``BENCH_DATABASE_URL`` and found again; versioned by ``GEN_VERSION``): a district of
300 estates (物业管理区域) in 6 streets of 50, 8 neighbourhoods (居委会) a street, each estate with 10–40 buildings,
5 committee members and 10 owners, and five years of its books up to the *anchor*: 公共收益 quarterly and 维修资金
half-yearly (config/rules/funds.yaml), 20–60 journals of 2–6 entries a period (one in seven periods with a
reversal), every ended period closed with the bank's balance and most published as a notice to the estate (each
estate publishes on its own habit: prompt, in time, late or very late; one period in sixty never), the current
ones open; owners' queries on each published statement (0–5: most answered, the ones left unanswered for 15 days
escalated), the annual audit of most years and the owners' assembly's counted decisions. The anchor is the day
the committees are reminded of the half-year's statements (23 January or 23 July: 30 days due, reminded 7 before),
09:00 Shanghai, the latest one up to the day of generation; the measurements run with the clock there. The
reminders and escalations of the sweeps are recorded as the scheduler would have left them by then, except:

* the disclosure reminders of the anchor's own day (every estate that has not published its half-year's
  statements yet, both funds): the daily sweep's peak;
* the owners' queries whose 15 days ran out in the last ``QUERY_BACKLOG_HOURS`` (48): the hourly sweep's work
  after it has been stopped for two days.

Rows go in with COPY on PostgreSQL (a dialect's bulk insert on SQLite), through the database's triggers (migration
0024): a journal inserted unposted, its entries, then posted by an UPDATE once its entries balance. Sequences are
moved past the explicit ids and the tables vacuumed and analysed, as the application and autovacuum leave them.
No audit entries, notice audiences or notifications of the past are generated (no funds list reads them).

Measured in-process, with the clock at the anchor:

1. every funds list a committee member, an owner or staff can call, for the first street's estate with the most
   buildings (the Flask test client, a token each, as in bench.mixed's list table; the access log's lines go to
   /dev/null): a period's statement (维修资金 by building, 公共收益), the periods, a journal with its lines (no route
   lists a period's journals), the queries on a statement, one query (a service call: it has no GET route, it is the
   answer of asking or answering), and the disclosure calendar of the estate (its committee), of a 居委会's estates
   and of the street's 50 (its staff). ``GET /api/v1/me``, the floor of an authenticated call, is measured in the
   same rounds for comparison. ``ROUNDS`` rounds of ``CALLS`` calls each, interleaved; per round p50 and p95,
   reported as the median [min–max] over rounds, and each round's p95 ÷ the floor's (a shared machine's speed
   varies from minute to minute). Goal (funds issue): every list's p95 ≤ 10 ms on PostgreSQL.
2. the sweeps ``funds.remind_queries``, ``funds.escalate_queries``, ``funds.disclosure_reminders`` and
   ``funds.duty_reminders`` over the whole district, each run
   ``SWEEP_RUNS`` times (its writes undone between runs), and once more with nothing left due. Goal: ≤ 200 ms
   each (median), as the project's other sweeps.

Without ``BENCH_DATABASE_URL`` (SQLite, the run's temporary file) the district has ``SQLITE_ESTATES`` (30) estates
in one street, generated each run; the figures are printed for information and the goals are not judged (they
are PostgreSQL's). ``BENCH_FUNDS_ESTATES`` sets the number of estates (a multiple of 10).

    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/linli_funds_bench python -m bench.run funds
"""
from __future__ import annotations

import functools
import os
import random
import statistics
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from bench import Benchmark, register
from bench.inprocess import interleaved, print_lists, spread
from bench.http import run_setup

GEN_VERSION = "1"
MARKER = "BFUNDS"                # the district's code: BFUNDS-v<version>-<estates>-<anchor YYYYMMDD>
PG_ESTATES, SQLITE_ESTATES = 300, 30
ESTATES_PER_STREET, NEIGHBOURHOODS_PER_STREET = 50, 8
YEARS = 5
COMMITTEE, OWNERS, STAFF_PER_NEIGHBOURHOOD = 5, 10, 2
JOURNALS = (20, 60)              # a period's journals
QUERY_BACKLOG_HOURS = 48
SEED = 20261207
CHUNK = 25                       # estates written per round of COPY

LIST_P95_MS, SWEEP_MS = 10.0, 200.0
ROUNDS, CALLS, WARMUP = 5, 40, 5
SWEEP_RUNS = 5
FLOOR = "GET /api/v1/me (the floor)"
ONE_QUERY = "one query (service call, its asker)"

# Amounts of a line, in yuan (low, high).
AMOUNTS = {"advertising": (2_000, 15_000), "parking": (5_000, 40_000), "parcel_lockers": (300, 3_000),
           "venue_rent": (500, 3_000), "interest": (100, 2_000), "other_income": (100, 5_000),
           "audit_fee": (3_000, 10_000), "committee_fund": (1_000, 5_000), "common_repair": (500, 20_000),
           "other_expense": (100, 3_000), "collection": (2_000, 60_000), "top_up": (5_000, 50_000),
           "transfer_in": (5_000, 40_000), "repair": (2_000, 150_000), "appraisal_fee": (500, 5_000)}
MEMOS = {"advertising": "电梯广告费", "parking": "地面停车费", "parcel_lockers": "快递柜场地费", "venue_rent": "会所场地租金",
         "interest": "利息", "other_income": "其他收入", "audit_fee": "审计费", "committee_fund": "业委会工作经费",
         "common_repair": "公共部位维修", "other_expense": "其他支出", "collection": "维修资金续筹",
         "top_up": "维修资金补足", "transfer_in": "公共收益转入", "repair": "电梯维修工程", "appraisal_fee": "工程审价费"}
QUESTIONS = ("本季度停车费收入为何比上季度少？", "电梯广告合同是否按时收款？", "审计费由谁决定，有无比价？",
             "这笔公共部位维修具体修了什么？", "维修资金利息是怎么计算的？", "快递柜场地费的合同期限是多久？",
             "会所租金是否已全部到账？", "业委会工作经费的支出明细能否公示？")
# How long an estate's committee takes to publish a period's statement after its end (days): its habit.
HABITS = ((0.35, 5, 20), (0.35, 15, 30), (0.20, 25, 45), (0.10, 35, 90))


# --- the anchor and the calendar of the books -------------------------------------------------------------------

def anchor_for(today: date, lag_days: int) -> datetime:
    """09:00 Shanghai of the latest day up to ``today`` that is ``lag_days`` after a half-year's end."""
    from service.clock import SHANGHAI

    days = [date.fromordinal(d.toordinal() + lag_days)
            for year in (today.year - 1, today.year) for d in (date(year - 1, 12, 31), date(year, 6, 30))]
    day = max(d for d in days if d <= today)
    return datetime(day.year, day.month, day.day, 9, tzinfo=SHANGHAI)


def _month_add(day: date, months: int) -> date:
    month = day.month - 1 + months
    return date(day.year + month // 12, month % 12 + 1, 1)


def _periods(first: date, months: int, through: date) -> list[tuple[date, date]]:
    out, start = [], first
    while start <= through:
        nxt = _month_add(start, months)
        out.append((start, date.fromordinal(nxt.toordinal() - 1)))
        start = nxt
    return out


def _at(day: date, hour: float) -> datetime:
    """A moment of a Shanghai day, in UTC."""
    from service.clock import SHANGHAI

    return (datetime(day.year, day.month, day.day, tzinfo=SHANGHAI) + timedelta(hours=hour)).astimezone(timezone.utc)


def _next_hour(moment: datetime) -> datetime:
    """The hourly sweep's first run at or after ``moment`` (on the hour)."""
    ticked = moment.replace(minute=0, second=0, microsecond=0)
    return ticked if ticked == moment else ticked + timedelta(hours=1)


# --- writing rows ------------------------------------------------------------------------------------------------

class Ids:
    """The next explicit id of each table (its largest id + 1 when the generation began)."""

    def __init__(self, conn, tables):
        import sqlalchemy as sa

        self.next = {t.name: (conn.execute(sa.select(sa.func.max(t.c.id))).scalar() or 0) + 1 for t in tables}

    def take(self, table) -> int:
        value = self.next[table.name]
        self.next[table.name] = value + 1
        return value


def _bulk(conn, table, rows: list[dict], copy: bool = True) -> None:
    """Insert ``rows`` (dicts with the same keys): COPY on PostgreSQL (the row triggers fire as for INSERT), an
    executemany elsewhere or without ``copy``. Values go to COPY as they are (no column type sees them): aware
    datetimes, dates, ints, strings, booleans."""
    if not rows:
        return
    if conn.dialect.name != "postgresql" or not copy:
        conn.execute(table.insert(), rows)
        return
    columns = list(rows[0])
    raw = conn.connection.driver_connection
    names = ", ".join(f'"{c}"' for c in columns)
    with raw.cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])


# --- the district --------------------------------------------------------------------------------------------------

def _places(conn, ids: Ids, rng, n_estates: int, anchor: datetime, code: str) -> dict:
    """The district, its streets, neighbourhoods, estates, buildings (one entrance each), the committees, the
    owners (a unit each, owned), the 居委会 staff and a staff member per street."""
    from models.people import RoleAssignment, User
    from models.places import (Building, District, Entrance, Estate, Neighbourhood, Owner, Ownership, Street, Unit,
                               estate_neighbourhood)

    stamp = anchor - timedelta(days=366 * YEARS + 30)
    T = {m: m.__table__ for m in (District, Street, Neighbourhood, Estate, Building, Entrance, Unit, Owner,
                                  Ownership, User, RoleAssignment)}
    when = {"created_at": stamp, "updated_at": stamp}
    district = ids.take(T[District])
    _bulk(conn, T[District], [{"id": district, "code": code, "name": "压测区（资金）", **when}])
    n_streets = max(1, n_estates // ESTATES_PER_STREET)
    per_street = n_estates // n_streets
    streets, neighbourhoods, users, roles = [], [], [], []

    def user(username: str, nickname: str) -> int:
        uid = ids.take(T[User])
        users.append({"id": uid, "username": username, "nickname": nickname, "is_active": True, "is_demo": False,
                      **when})
        return uid

    for s in range(n_streets):
        sid = ids.take(T[Street])
        streets.append({"id": sid, "code": f"{MARKER}-S{s + 1:02d}", "district_id": district,
                        "name": f"压测资金第{s + 1}街道", "prefix": f"F{chr(65 + s)}", "lat": 31.2 + 0.02 * s,
                        "lng": 121.4, "coord_source": "approximate", **when})
        uid = user(f"bench.funds.street.{s + 1}", "街道社区自治办")
        roles.append({"user_id": uid, "role": "staff", "scope_type": "street", "scope_id": sid, "title": None})
        for k in range(NEIGHBOURHOODS_PER_STREET):
            nid = ids.take(T[Neighbourhood])
            neighbourhoods.append({"id": nid, "code": f"{MARKER}-S{s + 1:02d}-N{k + 1}", "street_id": sid,
                                   "area_id": None, "name": f"压测{s + 1}-{k + 1}居民区",
                                   "committee_name": f"压测{s + 1}-{k + 1}居委会", "lat": None, "lng": None,
                                   "coord_source": "approximate", **when})
            for j in range(STAFF_PER_NEIGHBOURHOOD):
                uid = user(f"bench.funds.nb.{nid}.{j}", "居委会主任" if j == 0 else "社工")
                roles.append({"user_id": uid, "role": "staff", "scope_type": "neighbourhood", "scope_id": nid,
                              "title": "nc_head" if j == 0 else None})
    _bulk(conn, T[Street], streets)
    _bulk(conn, T[Neighbourhood], neighbourhoods)
    estates, links, buildings, entrances, units, owners, ownerships = [], [], [], [], [], [], []
    out = []
    for i in range(n_estates):
        index = min(i // per_street, n_streets - 1)
        street = streets[index]
        nb = neighbourhoods[index * NEIGHBOURHOODS_PER_STREET + i % NEIGHBOURHOODS_PER_STREET]
        eid = ids.take(T[Estate])
        estates.append({"id": eid, "code": f"{MARKER}-E{i + 1:03d}", "street_id": street["id"],
                        "name": f"压测资金{i + 1}号小区", "address": None, "housing_type": "commercial",
                        "built_year": rng.randint(1995, 2015), "lat": None, "lng": None,
                        "coord_source": "approximate", **when})
        links.append({"estate_id": eid, "neighbourhood_id": nb["id"]})
        own_buildings = []
        for b in range(rng.randint(10, 40)):
            bid = ids.take(T[Building])
            own_buildings.append(bid)
            buildings.append({"id": bid, "estate_id": eid, "neighbourhood_id": nb["id"], "number": str(b + 1),
                              "name": f"{b + 1}号楼", "floors": rng.choice((6, 11, 18, 24)), "has_elevator": True,
                              "lat": None, "lng": None, "coord_source": "approximate", **when})
            entrances.append({"id": ids.take(T[Entrance]), "building_id": bid, "number": "1", **when})
        committee = [user(f"bench.funds.c.{i + 1}.{k}", "业委会委员") for k in range(COMMITTEE)]
        for k, uid in enumerate(committee):
            roles.append({"user_id": uid, "role": "committee", "scope_type": "estate", "scope_id": eid,
                          "title": "chair" if k == 0 else None})
        estate_owners = []
        for k in range(OWNERS):
            uid = user(f"bench.funds.o.{i + 1}.{k}", "业主")
            b = rng.randrange(len(own_buildings))
            unit, owner = ids.take(T[Unit]), ids.take(T[Owner])
            units.append({"id": unit, "entrance_id": entrances[-len(own_buildings) + b]["id"],
                          "building_id": own_buildings[b], "estate_id": eid, "number": f"{k // 4 + 1}{k % 4 + 1:02d}",
                          "floor": k // 4 + 1, "exclusive_area": Decimal("80.00"), "area_source": "register",
                          "sold": True, **when})
            owners.append({"id": owner, "kind": "person", "name": "业主", "user_id": uid, "estate_id": None, **when})
            ownerships.append({"id": ids.take(T[Ownership]), "unit_id": unit, "owner_id": owner,
                               "certificate_no": None, "is_designated_voter": True, "since": stamp.date(),
                               "ended_on": None, **when})
            estate_owners.append(uid)
        out.append({"id": eid, "street_id": street["id"], "name": estates[-1]["name"], "buildings": own_buildings,
                    "committee": committee, "owners": estate_owners})
    _bulk(conn, T[Estate], estates)
    _bulk(conn, estate_neighbourhood, links)
    _bulk(conn, T[Building], buildings)
    _bulk(conn, T[Entrance], entrances)
    _bulk(conn, T[User], users)
    for role in roles:
        role.update(id=ids.take(T[RoleAssignment]), granted_by=None, **when)
    _bulk(conn, T[RoleAssignment], roles)
    _bulk(conn, T[Unit], units, copy=False)   # an exact decimal: through its column type
    _bulk(conn, T[Owner], owners)
    _bulk(conn, T[Ownership], ownerships)
    return {"district": district, "streets": [s["id"] for s in streets], "estates": out,
            "users": len(users), "buildings": len(buildings)}


# --- an estate's books -----------------------------------------------------------------------------------------

class Books:
    """The rows of the estates' books, written every CHUNK estates."""

    def __init__(self, conn, ids: Ids, rng, anchor: datetime, loaded):
        from models.funds import FundAccount, FundAudit, FundPeriod, FundQuery, Journal, JournalEntry
        from models.notices import Notice, NoticeScope
        from models.voting import Motion

        self.conn, self.ids, self.rng, self.anchor, self.rules = conn, ids, rng, anchor, loaded
        self.today = anchor.astimezone(_shanghai()).date()
        self.T = {m.__tablename__: m.__table__ for m in (FundAccount, FundAudit, FundPeriod, FundQuery, Journal,
                                                         JournalEntry, Notice, NoticeScope, Motion)}
        self.rows = {name: [] for name in self.T}
        self.counts = {name: 0 for name in self.T}
        self.sweep_work = {"queries_due": 0, "periods_to_remind": 0}

    def estate(self, e: dict) -> None:
        rng = self.rng
        habit = rng.choices(HABITS, weights=[h[0] for h in HABITS])[0]
        accounts = {}
        for fund in ("maint", "public_income"):
            banks = e["buildings"] if fund == "maint" else [None]
            for building in banks:
                accounts[(fund, "bank", "bank", building)] = self._row("fund_account", {
                    "estate_id": e["id"], "fund": fund, "kind": "bank", "code": "bank", "building_id": building})
            for kind in ("income", "expense"):
                for code in self.rules.categories[fund][kind]:
                    accounts[(fund, kind, code, None)] = self._row("fund_account", {
                        "estate_id": e["id"], "fund": fund, "kind": kind, "code": code, "building_id": None})
        first = date(self.today.year - YEARS, self.today.month, 1)
        for fund in ("maint", "public_income"):
            months = self.rules.period_months[fund]
            start = date(first.year, (first.month - 1) // months * months + 1, 1)
            opening = 100 * (rng.randint(5_000_000, 30_000_000) if fund == "maint" else rng.randint(50_000, 500_000))
            for starts_on, ends_on in _periods(start, months, self.today):
                opening = self._period(e, habit, accounts, fund, starts_on, ends_on, opening)
        self._audits_and_motions(e)

    def _row(self, table: str, values: dict) -> int:
        values = {"id": self.ids.take(self.T[table]), **values}
        self.rows[table].append(values)
        self.counts[table] += 1
        return values["id"]

    def _notice(self, e: dict, title: str, body: str, at: datetime, author: int,
                valid_until: datetime | None = None) -> int:
        expired = valid_until is not None and valid_until <= self.anchor
        nid = self._row("notice", {
            "street_id": e["street_id"], "category": "committee", "title": title[:100], "body": body, "urgent": False,
            "ack_required": False, "pinned": False, "state": "expired" if expired else "published", "publish_at": at,
            "valid_until": valid_until, "event_at": None, "version": 1, "root_id": None, "supersedes_id": None,
            "correction_reason": None, "author_user_id": author, "author_role": "committee", "published_at": at,
            "ended_at": valid_until if expired else None, "end_reason": None, "audience_count": 0,
            "chased_at": None, "eve_checked_at": None, "created_at": at})
        self.rows["notice_scope"].append({"notice_id": nid, "scope_type": "estate", "scope_id": e["id"]})
        return nid

    def _lines(self, fund: str, e: dict, kind: str) -> list[tuple[tuple, int]]:
        """One journal's lines ((account key, amount in fen)), summing to zero: money in or money out."""
        rng = self.rng
        codes = [c for c in self.rules.categories[fund][kind] if c != "transfer_out"]
        picked = rng.sample(codes, rng.randint(1, min(len(codes), 5 if kind == "income" else 4)))
        amounts = [rng.randint(*AMOUNTS[c]) * 100 + rng.randint(0, 99) for c in picked]
        sign = -1 if kind == "income" else 1            # income is a credit, expense a debit
        lines = [((fund, kind, code, None), sign * amount) for code, amount in zip(picked, amounts)]
        total = sum(amounts)
        if fund == "maint":                              # the bank by building: one to several buildings
            n = rng.randint(1, min(6 - len(lines), len(e["buildings"])))
            banks = rng.sample(e["buildings"], n)
            shares = [rng.randint(1, 10) for _ in banks]
            parts = [total * s // sum(shares) for s in shares]
            parts[0] += total - sum(parts)
            lines += [((fund, "bank", "bank", b), -sign * p) for b, p in zip(banks, parts) if p]
        else:
            lines.append(((fund, "bank", "bank", None), -sign * total))
        return lines

    def _period(self, e, habit, accounts, fund, starts_on, ends_on, opening) -> int:
        """One period of a fund: its journals, then (ended) closed, and published or not yet; its closing."""
        current = ends_on >= self.today
        journals = self._journals(e, fund, starts_on, ends_on, current)
        period_id = self.ids.take(self.T["fund_period"])
        closing = opening + self._write(e, accounts, period_id, journals)
        row = {"id": period_id, "estate_id": e["id"], "fund": fund, "starts_on": starts_on, "ends_on": ends_on,
               "state": "open", "opening_fen": opening, "closing_fen": None, "bank_balance_fen": None,
               "closed_at": None, "closed_by": None, "published_at": None, "notice_id": None, "reminded_at": None,
               "escalated_at": None}
        self.rows["fund_period"].append(row)
        self.counts["fund_period"] += 1
        if not current:
            self._close(e, habit, row, journals)
        return closing

    def _journals(self, e, fund, starts_on, ends_on, current) -> list[tuple]:
        """(booked on, lines, memo, index of the journal it reverses) in booking order: money in and out, the
        quarter's transfer to the 维修资金, now and then a reversal."""
        rng = self.rng
        n = rng.randint(*JOURNALS)
        if current:
            n = max(1, n * (self.today - starts_on).days // max(1, (ends_on - starts_on).days))
        last_day = self.today if current else ends_on
        journals = []
        for day in sorted(rng.randint(starts_on.toordinal(), last_day.toordinal()) for _ in range(n)):
            lines = self._lines(fund, e, "income" if rng.random() < 0.65 else "expense")
            journals.append((date.fromordinal(day), lines, MEMOS[lines[0][0][2]], None))
        if fund == "public_income" and not current:      # more than half of the quarter's income to the 维修资金
            moved = -sum(amount for j in journals for key, amount in j[1] if key[1] == "income") * 6 // 10
            if moved:
                journals.append((ends_on, [(("public_income", "expense", "transfer_out", None), moved),
                                           (("public_income", "bank", "bank", None), -moved)], "公共收益60%转入维修资金",
                                 None))
        if len(journals) > 3 and rng.random() < 1 / 7:   # a journal entered wrong, reversed later in the period
            wrong = rng.randrange(len(journals) - 1)
            booked, lines, _, _ = journals[wrong]
            journals.append((max(booked, journals[-1][0]), [(key, -amount) for key, amount in lines], None, wrong))
        return journals

    def _write(self, e, accounts, period_id, journals) -> int:
        """The journals' rows and their entries; the bank's movement over them."""
        rng, movement, ids = self.rng, 0, []
        for booked, lines, memo, reverses in journals:
            jid = self.ids.take(self.T["journal"])
            ids.append(jid)
            self.rows["journal"].append({
                "id": jid, "estate_id": e["id"], "period_id": period_id, "booked_on": booked,
                "memo": memo or f"冲销凭证#{ids[reverses]}：金额录错",
                "source_doc": f"银行回单{booked:%Y%m%d}" if rng.random() < 0.7 else None,
                "entered_by": rng.choice(e["committee"]), "reverses_id": None if reverses is None else ids[reverses],
                "posted": False,
                "created_at": min(_at(booked, rng.uniform(9, 21)), self.anchor - timedelta(minutes=5))})
            self.counts["journal"] += 1
            for key, amount in lines:
                self._row("journal_entry", {"journal_id": jid, "account_id": accounts[key], "amount_fen": amount})
                if key[1] == "bank":
                    movement += amount
        return movement

    def _close(self, e, habit, row, journals) -> None:
        """An ended period: closed with the bank's balance some days after its end, published on the estate's
        habit (if by the anchor, with its owners' queries), and the daily sweep's reminders so far (the anchor's
        own are its work: left undone)."""
        rng, anchor, loaded = self.rng, self.anchor, self.rules
        _, low, high = habit
        delay = rng.uniform(low, high) if rng.random() > 1 / 60 else 10_000   # days to publication (or never)
        ends_on, chair = row["ends_on"], e["committee"][0]
        closing = row["opening_fen"] + sum(a for _, lines, _, _ in journals for key, a in lines if key[1] == "bank")
        row.update(state="closed", closing_fen=closing, bank_balance_fen=closing, closed_by=chair,
                   closed_at=_at(ends_on, 24 * rng.uniform(1, min(12, max(1.5, delay - 1))) + 10))
        if delay >= 10_000 and rng.random() < 0.5:       # never published: it does not reconcile with the bank
            row["bank_balance_fen"] = closing - rng.randint(1, 50_000) * 100
        published = _at(ends_on, 24 * delay + rng.uniform(9, 20))
        if published <= anchor:
            fund_name = "专项维修资金" if row["fund"] == "maint" else "公共收益"
            row.update(state="published", published_at=published, notice_id=self._notice(
                e, f"{e['name']}{row['starts_on']:%Y年%m月}至{ends_on:%m月}{fund_name}收支情况公示",
                f"期初余额：{row['opening_fen'] / 100:.2f}元\n期末余额：{closing / 100:.2f}元（与银行对账单一致）",
                published, chair))
            self._queries(e, row["id"], published, journals)
        due = date.fromordinal(ends_on.toordinal() + loaded.statement_due_days)
        remind = _at(date.fromordinal(due.toordinal() - loaded.remind_days_before), 9)
        escalate = _at(date.fromordinal(due.toordinal() + loaded.escalate_days_after), 9)
        if published > remind and remind < anchor:
            row["reminded_at"] = remind
        if published > escalate and escalate < anchor:
            row["escalated_at"] = escalate
        if published > anchor and remind >= anchor and self.today >= remind.astimezone(_shanghai()).date():
            self.sweep_work["periods_to_remind"] += 1

    def _queries(self, e, period_id, published, journals) -> None:
        rng, anchor = self.rng, self.anchor
        categories = sorted({key[2] for _, lines, _, _ in journals for key, _ in lines if key[1] != "bank"})
        backlog = anchor - timedelta(hours=QUERY_BACKLOG_HOURS)
        days = self.rules.query_escalation_days
        for _ in range(rng.choices(range(6), weights=(25, 25, 20, 15, 10, 5))[0]):
            asked = published + timedelta(days=rng.uniform(0.05, 20))
            if asked > anchor - timedelta(minutes=10):
                continue
            answered = asked + timedelta(days=rng.uniform(0.3, 20)) if rng.random() < 0.7 else None
            if answered is not None and answered > anchor:
                answered = None
            tick = _next_hour(asked + timedelta(days=days))            # the hourly sweep that escalates it
            escalated = tick if tick < backlog and (answered is None or answered > tick) else None
            if answered is None and escalated is None and asked + timedelta(days=days) <= anchor:
                self.sweep_work["queries_due"] += 1
            self._row("fund_query", {
                "period_id": period_id, "category": rng.choice(categories) if categories and rng.random() < 0.7
                else None, "asked_by": rng.choice(e["owners"]), "text": rng.choice(QUESTIONS), "asked_at": asked,
                "state": "answered" if answered else "escalated" if escalated else "open",
                "answer": "已核对合同与银行回单，详见补充说明。" if answered else None,
                "answered_by": e["committee"][0] if answered else None, "answered_at": answered,
                "escalated_at": escalated})

    def _audits_and_motions(self, e: dict) -> None:
        rng, anchor = self.rng, self.anchor
        for year in range(self.today.year - YEARS, self.today.year):
            if rng.random() > 0.85:
                continue
            at = _at(date(year + 1, 1, 10) + timedelta(days=rng.randint(0, 100)), rng.uniform(9, 18))
            if at >= anchor:
                continue
            chair = e["committee"][0]
            notice = self._notice(e, f"{e['name']}{year}年年度审计结果公示", "审计机构：某会计师事务所\n账实相符，未发现重大问题。",
                                  at, chair, valid_until=at + timedelta(days=self.rules.audit_posted_days))
            self._row("fund_audit", {"estate_id": e["id"], "kind": "annual", "year": year, "auditor": "某会计师事务所",
                                     "summary": "账实相符，未发现重大问题。", "notice_id": notice, "entered_by": chair,
                                     "published_at": at})
        start = anchor - timedelta(days=365 * YEARS)
        for k in range(rng.randint(2, 8)):
            counted = start + (anchor - start - timedelta(hours=2)) * rng.random()
            late = rng.random()
            published = (counted + timedelta(days=rng.uniform(0.1, 3)) if late < 0.85
                         else counted + timedelta(days=rng.uniform(4, 12)) if late < 0.95 else None)
            if published is not None and published > anchor:
                published = None
            self._row("motion", {
                "estate_id": e["id"], "title": f"关于使用维修资金实施第{k + 1}项维修工程的决定", "body": "业主大会表决事项。",
                "attachments": [], "item": 5, "kind": "question", "scope_type": "estate",
                "scope_ids": [], "major_repair": False, "status": "published" if published else "counted",
                "notice_days": 15, "publication_days": 7, "revote": "first_final", "silent_with_majority": False,
                "reminders_sent": [], "announced_at": counted - timedelta(days=31),
                "opens_at": counted - timedelta(days=16), "closes_at": counted - timedelta(hours=1), "extended": False,
                "opened_at": counted - timedelta(days=16), "closed_at": counted - timedelta(hours=1),
                "counted_at": counted, "published_at": published,
                "publish_until": published + timedelta(days=7) if published else None, "chain_head": "0" * 64,
                "chain_length": 0, "created_by": e["committee"][0], "created_at": counted - timedelta(days=35),
                "version": 1})

    def flush(self) -> None:
        """Write what is pending: the notices, then the books (journals unposted, their entries, then posted)."""
        import sqlalchemy as sa

        conn = self.conn
        for name in ("notice", "notice_scope", "fund_period", "fund_account", "journal", "journal_entry"):
            _bulk(conn, self.T[name], self.rows[name])
        journals = self.rows["journal"]
        if journals:
            if conn.dialect.name == "postgresql":   # the posting trigger's sums read the entries by journal
                conn.exec_driver_sql("ANALYZE journal_entry")
            table = self.T["journal"]
            conn.execute(sa.update(table).where(table.c.id.between(journals[0]["id"], journals[-1]["id"]))
                         .values(posted=True))
        for name in ("fund_query", "fund_audit"):
            _bulk(conn, self.T[name], self.rows[name])
        if self.rows["motion"]:                    # JSON columns: through SQLAlchemy's insert
            conn.execute(self.T["motion"].insert(), self.rows["motion"])
        for rows in self.rows.values():
            rows.clear()


def _shanghai():
    from service.clock import SHANGHAI

    return SHANGHAI


# --- generation, once per database -------------------------------------------------------------------------------

def _estates_wanted(dialect: str) -> int:
    n = int(os.environ.get("BENCH_FUNDS_ESTATES") or (PG_ESTATES if dialect == "postgresql" else SQLITE_ESTATES))
    if n < 10 or n % 10:
        raise ValueError("BENCH_FUNDS_ESTATES must be a multiple of 10, at least 10")
    return n


def _found(conn) -> list[str]:
    import sqlalchemy as sa

    from models.places import District

    return list(conn.execute(sa.select(District.code).where(District.code.like(f"{MARKER}-%"))).scalars())


def _remove(conn) -> None:
    """An earlier version's district and everything in it (its posted journals too: their guards are set aside
    for the deletion, in this transaction)."""
    import sqlalchemy as sa

    postgres = conn.dialect.name == "postgresql"
    estates = ("SELECT e.id FROM estate e JOIN street s ON s.id = e.street_id JOIN district d ON d.id = s.district_id "
               "WHERE d.code LIKE :district")
    streets = "SELECT s.id FROM street s JOIN district d ON d.id = s.district_id WHERE d.code LIKE :district"
    users = "SELECT id FROM \"user\" WHERE username LIKE :users"
    periods = f"SELECT id FROM fund_period WHERE estate_id IN ({estates})"
    guards = []
    if postgres:
        conn.exec_driver_sql("ALTER TABLE journal_entry DISABLE TRIGGER journal_entry_guard")
        conn.exec_driver_sql("ALTER TABLE journal DISABLE TRIGGER journal_guard")
    else:
        guards = conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name IN "
            "('journal_posted_kept', 'journal_posted_frozen', 'journal_entry_not_deleted')").all()
        for name, _ in guards:
            conn.exec_driver_sql(f"DROP TRIGGER {name}")
    for statement in (
            f"DELETE FROM delivery WHERE notification_id IN (SELECT id FROM notification WHERE user_id IN ({users}))",
            f"DELETE FROM notification WHERE user_id IN ({users})",
            f"DELETE FROM fund_query WHERE period_id IN ({periods})",
            f"DELETE FROM journal_entry WHERE journal_id IN (SELECT id FROM journal WHERE estate_id IN ({estates}))",
            f"UPDATE journal SET reverses_id = NULL WHERE estate_id IN ({estates}) AND reverses_id IS NOT NULL",
            f"DELETE FROM journal WHERE estate_id IN ({estates})",
            f"DELETE FROM fund_period WHERE estate_id IN ({estates})",
            f"DELETE FROM fund_account WHERE estate_id IN ({estates})",
            f"DELETE FROM fund_audit WHERE estate_id IN ({estates})",
            f"DELETE FROM motion WHERE estate_id IN ({estates})",
            f"DELETE FROM notice_scope WHERE notice_id IN (SELECT id FROM notice WHERE street_id IN ({streets}))",
            f"DELETE FROM notice WHERE street_id IN ({streets})",
            f"DELETE FROM ownership WHERE unit_id IN (SELECT id FROM unit WHERE estate_id IN ({estates}))",
            f"DELETE FROM owner WHERE user_id IN ({users})",
            f"DELETE FROM unit WHERE estate_id IN ({estates})",
            f"DELETE FROM entrance WHERE building_id IN (SELECT id FROM building WHERE estate_id IN ({estates}))",
            f"DELETE FROM building WHERE estate_id IN ({estates})",
            f"DELETE FROM estate_neighbourhood WHERE estate_id IN ({estates})",
            f"DELETE FROM estate WHERE id IN ({estates})",
            f"DELETE FROM role_assignment WHERE user_id IN ({users})",
            f"DELETE FROM \"user\" WHERE id IN ({users})",
            f"DELETE FROM neighbourhood WHERE street_id IN ({streets})",
            f"DELETE FROM street WHERE id IN ({streets})",
            "DELETE FROM district WHERE code LIKE :district"):
        conn.execute(sa.text(statement), {"district": f"{MARKER}-%", "users": "bench.funds.%"})
    if postgres:
        conn.exec_driver_sql("ALTER TABLE journal_entry ENABLE TRIGGER journal_entry_guard")
        conn.exec_driver_sql("ALTER TABLE journal ENABLE TRIGGER journal_guard")
    for _, sql in guards:
        conn.exec_driver_sql(sql)


TABLES = ("district", "street", "neighbourhood", "estate", "building", "entrance", "unit", "owner", "ownership",
          "user", "role_assignment", "fund_account", "fund_period", "journal", "journal_entry", "fund_query",
          "fund_audit", "notice", "motion")


def generate(app, state, *, say=print) -> dict:
    """The district in the database (generated when missing or of another version): its description."""
    from models.base import db
    from models.funds import FundAccount, FundAudit, FundPeriod, FundQuery, Journal, JournalEntry
    from models.notices import Notice
    from models.people import RoleAssignment, User
    from models.places import Building, District, Entrance, Estate, Neighbourhood, Owner, Ownership, Street, Unit
    from models.voting import Motion
    from service import clock
    from service.funds import rules

    engine = db.engine
    dialect = engine.dialect.name
    n = _estates_wanted(dialect)
    loaded = rules.current()
    anchor = anchor_for(clock.local_now().date(), loaded.statement_due_days - loaded.remind_days_before)
    prefix = f"{MARKER}-v{GEN_VERSION}-{n}-"
    with engine.connect() as conn:
        found = _found(conn)
    mine = [code for code in found if code.startswith(prefix)]
    if mine:
        code = mine[0]
        day = datetime.strptime(code[len(prefix):], "%Y%m%d").date()
        anchor = datetime(day.year, day.month, day.day, 9, tzinfo=clock.SHANGHAI)
        say(f"the district {code} is there (anchor {anchor:%Y-%m-%d %H:%M} Shanghai): reused")
        return {"code": code, "anchor": anchor.isoformat(), "estates": n, "generated": False,
                "rows": _row_counts(engine)}
    t0 = time.monotonic()
    code = f"{prefix}{anchor:%Y%m%d}"
    rng = random.Random(f"{SEED}:{n}:{anchor:%Y%m%d}")
    with engine.begin() as conn:
        if found:
            say(f"removing an earlier bench district ({', '.join(found)})")
            _remove(conn)
        models = (District, Street, Neighbourhood, Estate, Building, Entrance, Unit, Owner, Ownership, User,
                  RoleAssignment, FundAccount, FundPeriod, Journal, JournalEntry, FundQuery, FundAudit, Notice, Motion)
        ids = Ids(conn, [m.__table__ for m in models])
        places = _places(conn, ids, rng, n, anchor, code)
        say(f"{n} estates, {places['buildings']:,} buildings, {places['users']:,} accounts in "
            f"{time.monotonic() - t0:.1f}s")
        books = Books(conn, ids, rng, anchor, loaded)
        for index, estate in enumerate(places["estates"], start=1):
            books.estate(estate)
            if index % CHUNK == 0 or index == n:
                books.flush()
                if index % (CHUNK * 4) == 0:
                    say(f"  {index} / {n} estates' books ({books.counts['journal_entry']:,} entries) in "
                        f"{time.monotonic() - t0:.0f}s")
        if dialect == "postgresql":   # explicit ids: each sequence after them, as the application leaves it
            for model in models:
                name = model.__tablename__
                conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('\"{name}\"', 'id'), "
                                     f"(SELECT max(id) FROM \"{name}\"))")
    written = time.monotonic() - t0
    if dialect == "postgresql":
        # What autovacuum does to tables in use (the visibility map, the statistics). The journals were each
        # posted by a second row version in bulk; in use the posting follows the insert on the same page and
        # pruning reclaims it: the table is compacted rather than left half empty.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM FULL journal")
            for name in TABLES + ("estate_neighbourhood", "notice_scope"):
                conn.exec_driver_sql(f'VACUUM ANALYZE "{name}"')
    seconds = time.monotonic() - t0
    say(f"generated in {seconds:.0f}s (written in {written:.0f}s): {books.counts['journal']:,} journals, "
        f"{books.counts['journal_entry']:,} entries; the sweeps' work at the anchor {books.sweep_work}")
    return {"code": code, "anchor": anchor.isoformat(), "estates": n, "generated": True,
            "seconds": round(seconds, 1), "rows": _row_counts(engine)}


def _row_counts(engine) -> dict:
    with engine.connect() as conn:
        return {name: conn.exec_driver_sql(f'SELECT count(*) FROM "{name}"').scalar() for name in TABLES}


# --- the measurements (in a child with the server's environment) --------------------------------------------------

def _subjects(db) -> dict:
    """Who and what the lists are called for: the district's first street, its estate with the most buildings,
    that estate's latest published periods, the one with most queries, a journal of six entries."""
    import sqlalchemy as sa

    from models.funds import FundPeriod, FundQuery, Journal, JournalEntry
    from models.people import RoleAssignment, User
    from models.places import Building, Estate, Street, estate_neighbourhood

    street = db.session.execute(sa.select(Street.id).where(Street.code == f"{MARKER}-S01")).scalar_one()
    estate = db.session.execute(
        sa.select(Building.estate_id).join(Estate, Estate.id == Building.estate_id).where(Estate.street_id == street)
        .group_by(Building.estate_id).order_by(sa.func.count().desc(), Building.estate_id).limit(1)).scalar_one()
    latest = {fund: db.session.execute(sa.select(FundPeriod.id).where(
        FundPeriod.estate_id == estate, FundPeriod.fund == fund, FundPeriod.state == "published")
        .order_by(FundPeriod.starts_on.desc()).limit(1)).scalar_one() for fund in ("maint", "public_income")}
    asked = db.session.execute(
        sa.select(FundQuery.period_id, sa.func.count()).join(FundPeriod, FundPeriod.id == FundQuery.period_id)
        .where(FundPeriod.estate_id == estate).group_by(FundQuery.period_id)
        .order_by(sa.func.count().desc(), FundQuery.period_id.desc()).limit(1)).first()
    query = db.session.execute(sa.select(FundQuery.id, FundQuery.asked_by).where(FundQuery.period_id == asked[0])
                               .order_by(FundQuery.id).limit(1)).first()
    journal = db.session.execute(
        sa.select(Journal.id).join(JournalEntry, JournalEntry.journal_id == Journal.id)
        .where(Journal.period_id == latest["maint"]).group_by(Journal.id)
        .order_by(sa.func.count().desc(), Journal.id).limit(1)).scalar_one()
    committee = db.session.execute(sa.select(RoleAssignment.user_id).where(
        RoleAssignment.role == "committee", RoleAssignment.scope_type == "estate", RoleAssignment.scope_id == estate)
        .order_by(RoleAssignment.user_id).limit(1)).scalar_one()
    street_staff = db.session.execute(sa.select(RoleAssignment.user_id).where(
        RoleAssignment.role == "staff", RoleAssignment.scope_type == "street", RoleAssignment.scope_id == street)
        .order_by(RoleAssignment.user_id).limit(1)).scalar_one()
    neighbourhood = db.session.execute(sa.select(estate_neighbourhood.c.neighbourhood_id)
                                       .where(estate_neighbourhood.c.estate_id == estate)).scalar_one()
    head = db.session.execute(sa.select(RoleAssignment.user_id).where(
        RoleAssignment.role == "staff", RoleAssignment.scope_type == "neighbourhood",
        RoleAssignment.scope_id == neighbourhood, RoleAssignment.title == "nc_head")).scalar_one()
    street_estates = db.session.execute(sa.select(sa.func.count()).select_from(Estate)
                                        .where(Estate.street_id == street)).scalar_one()
    nb_estates = db.session.execute(sa.select(sa.func.count()).select_from(estate_neighbourhood)
                                    .where(estate_neighbourhood.c.neighbourhood_id == neighbourhood)).scalar_one()
    buildings = db.session.execute(sa.select(sa.func.count()).select_from(Building)
                                   .where(Building.estate_id == estate)).scalar_one()
    assert db.session.get(User, query.asked_by) is not None
    return {"street": street, "estate": estate, "buildings": buildings, "maint": latest["maint"],
            "public_income": latest["public_income"], "asked_period": asked[0], "queries_in_period": asked[1],
            "query": query.id, "owner": query.asked_by, "journal": journal, "committee": committee,
            "street_staff": street_staff, "head": head, "street_estates": street_estates, "nb_estates": nb_estates}


def measure(app, state, *, meta: dict) -> dict:
    """The lists and the sweeps with the clock at the anchor; the access log's lines (one a request, as in
    production) are written to /dev/null rather than the terminal."""
    import logging

    from models.base import db
    from service import clock

    anchor = datetime.fromisoformat(meta["anchor"])
    handlers = [h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler)]
    streams = [h.setStream(open(os.devnull, "w")) for h in handlers]
    clock.set_now(anchor)
    try:
        subjects = _subjects(db)
        db.session.remove()
        lists = _lists(app, subjects)
        sweeps, due = _sweeps()
        return {"funds.measured": {"subjects": subjects, "lists": lists, "sweeps": sweeps, "due": due}}
    finally:
        clock.set_now(None)
        for handler, stream in zip(handlers, streams):
            handler.setStream(stream).close()


def _say(message: str) -> None:
    print(f"  [funds] {message}", flush=True)


def _lists(app, s: dict) -> dict:
    """Every funds list (and GET /api/v1/me, the floor of an authenticated call, for comparison) through the
    test client, ROUNDS rounds of CALLS calls each, interleaved: per round p50 and p95."""
    from api.security import issue_tokens
    from models.base import db
    from service import people
    from service.funds import queries

    def token(uid: int) -> str:
        return issue_tokens(uid, people.token_roles(people.load_actor(uid)), second_factor=True)["access_token"]

    committee, owner, street, head = (token(s[k]) for k in ("committee", "owner", "street_staff", "head"))
    db.session.remove()
    P = "/api/v1"
    calls = {
        FLOOR: (f"{P}/me", owner),
        "statement 维修资金 (owner)": (f"{P}/fund-periods/{s['maint']}/statement", owner),
        "statement 公共收益 (committee)": (f"{P}/fund-periods/{s['public_income']}/statement", committee),
        "periods (owner)": (f"{P}/estates/{s['estate']}/fund-periods", owner),
        "periods (committee)": (f"{P}/estates/{s['estate']}/fund-periods", committee),
        "a journal (committee)": (f"{P}/journals/{s['journal']}", committee),
        "queries of a period (owner)": (f"{P}/fund-periods/{s['asked_period']}/queries", owner),
        "queries of a period (committee)": (f"{P}/fund-periods/{s['asked_period']}/queries", committee),
        "calendar, an estate (committee)": (f"{P}/disclosure-calendar?estate_id={s['estate']}", committee),
        f"calendar, {s['nb_estates']} estates (居委会)": (f"{P}/disclosure-calendar", head),
        f"calendar, {s['street_estates']} estates (street)": (f"{P}/disclosure-calendar", street),
    }
    client = app.test_client()
    timed, items = {}, {}
    for name, (path, tok) in calls.items():
        headers = {"Authorization": f"Bearer {tok}"}
        answer = client.get(path, headers=headers)
        if answer.status_code != 200:
            raise RuntimeError(f"{name}: GET {path} answered {answer.status_code}: "
                               f"{answer.get_data(as_text=True)[:300]}")
        body = answer.get_json()
        items[name] = None if name == FLOOR else body.get("total", len(body.get("lines") or body.get("income") or []))
        timed[name] = functools.partial(client.get, path, headers=headers)
    # One query as its asker reads it: the answer of asking or answering one (it has no GET route of its own).
    asker = people.load_actor(s["owner"])
    db.session.remove()

    def one_query():
        queries.one_query(asker, s["query"])
        db.session.remove()

    timed[ONE_QUERY], items[ONE_QUERY] = one_query, 1
    return interleaved(timed, items, FLOOR, warmup=WARMUP, rounds=ROUNDS, calls=CALLS, say=_say)


def _sweeps() -> tuple[dict, dict]:
    """Each sweep SWEEP_RUNS times over the district with its work at the anchor, then again at once (nothing
    left due); its writes (the rows' marks, the notifications) undone after each run."""
    import sqlalchemy as sa

    from models.base import db
    from models.funds import FundPeriod, FundQuery
    from models.notifications import Delivery, Notification
    from service import clock
    from service.funds import reminders, rules

    cutoff = clock.now() - timedelta(days=rules.current().query_escalation_days)
    today = clock.local_now().date()
    due_queries = db.session.execute(sa.select(FundQuery.id).where(
        FundQuery.state == "open", FundQuery.asked_at <= cutoff)).scalars().all()
    due_periods = [dict(r._mapping) for r in db.session.execute(sa.select(
        FundPeriod.id.label("b_id"), FundPeriod.reminded_at.label("b_reminded"),
        FundPeriod.escalated_at.label("b_escalated")).where(
        FundPeriod.state != "published", FundPeriod.ends_on < today,
        sa.or_(FundPeriod.reminded_at.is_(None), FundPeriod.escalated_at.is_(None))))]
    mark = {m.__tablename__: db.session.execute(sa.select(sa.func.max(m.id))).scalar() or 0
            for m in (Notification, Delivery)}
    db.session.remove()

    def undo():
        db.session.execute(sa.delete(Delivery).where(Delivery.id > mark["delivery"]))
        db.session.execute(sa.delete(Notification).where(Notification.id > mark["notification"]))
        if due_queries:
            db.session.execute(sa.update(FundQuery).where(FundQuery.id.in_(due_queries))
                               .values(state="open", escalated_at=None))
        if due_periods:
            table = FundPeriod.__table__
            db.session.execute(table.update().where(table.c.id == sa.bindparam("b_id")).values(
                reminded_at=sa.bindparam("b_reminded"), escalated_at=sa.bindparam("b_escalated")), due_periods)
        db.session.commit()
        db.session.remove()

    def notified() -> int:
        count = db.session.execute(sa.select(sa.func.count()).select_from(Notification)
                                   .where(Notification.id > mark["notification"])).scalar()
        db.session.remove()
        return count

    def timed(sweep) -> tuple[float, dict]:
        t = time.perf_counter()
        result = sweep()
        elapsed = (time.perf_counter() - t) * 1000
        db.session.remove()
        return elapsed, result

    out = {}
    for name, sweep in (("funds.remind_queries", reminders.remind_queries),
                        ("funds.escalate_queries", reminders.escalate_queries),
                        ("funds.disclosure_reminders", reminders.disclosure_reminders),
                        ("funds.duty_reminders", reminders.duty_reminders)):
        busy, idle = [], []
        try:
            for _ in range(SWEEP_RUNS):
                elapsed, result = timed(sweep)
                busy.append(elapsed)
                sent = notified()
                elapsed, again = timed(sweep)
                idle.append(elapsed)
                undo()
        finally:
            db.session.remove()
        out[name] = {"ms": spread(busy), "runs_ms": [round(v, 1) for v in busy], "result": result,
                     "notifications": sent, "nothing_due_ms": spread(idle), "nothing_due_result": again}
        _say(f"{name}: median {statistics.median(busy):.1f} ms {result}, {sent} notifications; nothing due "
             f"{statistics.median(idle):.1f} ms {again}")
    return out, {"queries": len(due_queries), "periods": len(due_periods)}


# --- the benchmark -----------------------------------------------------------------------------------------------

def run(ctx) -> dict:
    env = ctx.server.environment
    postgres = env.database == "postgresql"
    say = ctx.progress or print
    started = time.monotonic()
    data = run_setup(env, [("funds.data", lambda app, state: {"funds.data": generate(app, state, say=say)})],
                     timeout=3600)["funds.data"]
    prepared = time.monotonic() - started
    measured = run_setup(env, [("funds.measured", functools.partial(measure, meta=data))],
                         timeout=1800)["funds.measured"]
    goals, timings = {}, {}
    for name, t in measured["lists"].items():
        timings[f"{name} p95"] = t["p95"]
        if postgres and name != FLOOR:
            p95 = t["p95"]["median"]
            goals[f"{name} p95 ({LIST_P95_MS:g} ms ÷ measured)"] = {
                "minimum": 1.0, "median": LIST_P95_MS / p95, "measured": round(p95, 3), "met": p95 <= LIST_P95_MS}
    for name, t in measured["sweeps"].items():
        timings[name] = t["ms"]
        if postgres:
            ms = t["ms"]["median"]
            goals[f"{name} ({SWEEP_MS:g} ms ÷ median)"] = {
                "minimum": 1.0, "median": SWEEP_MS / ms, "measured": round(ms, 1), "met": ms <= SWEEP_MS}
    result = {"kind": "printed", "settings": {"rounds": ROUNDS, "about": f"{CALLS} calls per list per round"},
              "database": env.database_url_redacted, "data": data, "prepare_seconds": round(prepared, 1),
              "timings_ms": timings, "ratios": {}, "goals": goals, "valid": True, "problems": [],
              "goals_judged": postgres, **measured}
    _print(result)
    return result


def _print(result: dict) -> None:
    d, s = result["data"], result["subjects"]
    rows = d["rows"]
    print(f"\n== funds: {d['estates']} estates ({d['code']}, anchor {d['anchor'][:16]}), "
          f"{'generated in ' + str(d['seconds']) + 's' if d['generated'] else 'reused'}; "
          f"{rows['fund_period']:,} periods, {rows['journal']:,} journals, {rows['journal_entry']:,} entries, "
          f"{rows['fund_query']:,} queries, {rows['fund_audit']:,} audits, {rows['motion']:,} motions ==")
    print(f"subjects: estate {s['estate']} ({s['buildings']} buildings), {s['queries_in_period']} queries on the "
          f"period asked about most; street of {s['street_estates']} estates, 居委会 of {s['nb_estates']}")
    print_lists(result["lists"], rounds=ROUNDS, calls=CALLS, goal_ms=LIST_P95_MS, width=40)
    for name, t in result["sweeps"].items():
        ms, idle = t["ms"], t["nothing_due_ms"]
        print(f"{name:<28} {ms['median']:8.1f} ms [{ms['min']:.1f}–{ms['max']:.1f}] {t['result']}, "
              f"{t['notifications']} notifications; nothing due {idle['median']:.1f} ms "
              f"[{idle['min']:.1f}–{idle['max']:.1f}]")
    if not result["goals_judged"]:
        print("goals not judged: they are PostgreSQL's (set BENCH_DATABASE_URL); these figures are for information")
    for name, g in result["goals"].items():
        print(f"goal  {name}: {'met' if g['met'] else 'NOT met'} (measured {g['measured']})")


register(Benchmark("funds", run=run, order=75,
                   description="funds: every list (p95) and the two sweeps on a district's five years of books"))
