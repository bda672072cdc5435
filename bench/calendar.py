"""The calendar benchmark: loading a holiday arrangement moves the open cases' deadlines ahead
(service/cases/deadlines.py, inside the admin's PUT /api/v1/calendar/{year}), timed on the cases
benchmark's generated data set (10⁶ cases; PostgreSQL with BENCH_DATABASE_URL).

Two loads, each run in one transaction that is rolled back, so the runs see the same data:

* ``notice`` — next year's State Council notice (the yearly case) loaded at the data set's anchor;
* ``week off`` — this year's calendar with the five working days after the anchor made holidays: every
  open case with a deadline after them moves (an event and notifications each), the worst a load can do.

Goal: each load's median within the admin request's budget, ``LOAD_BUDGET_S`` (10 s), reported as
"budget ÷ measured ≥ 1".
"""
from __future__ import annotations

import functools
import statistics
import time
from datetime import date, datetime, timedelta

from bench import Benchmark, register
from bench.cases import data_environment
from bench.http import run_setup

RUNS = 3
LOADS = 2
LOAD_BUDGET_S = 10.0
# The 2027 arrangement of the tests (tests/api/test_calendar.py): every day off, and the 调休 Saturdays.
HOLIDAYS_2027 = ("2027-01-01", "2027-01-02", "2027-01-03", "2027-01-04",
                 *[f"2027-02-{d:02d}" for d in range(5, 13)], "2027-04-05", "2027-05-01", "2027-05-02",
                 "2027-06-09", "2027-09-15", *[f"2027-10-{d:02d}" for d in range(1, 8)])
WORKDAYS_2027 = ("2027-01-09", "2027-02-20", "2027-09-26")


def _loads(app, state, *, meta: dict) -> dict:
    import sqlalchemy as sa

    from models.base import db
    from models.cases import OPEN_STATUSES, Case
    from service import calendar, clock
    from service.cases.deadlines import follow_calendar

    anchor = datetime.fromisoformat(meta["anchor"])
    today = anchor.astimezone(clock.SHANGHAI).date()
    old = calendar.current()
    notice = calendar.Arrangement(year=today.year + 1, notice="国办发明电〔2026〕7号", published_on=today,
                                  holidays=frozenset(map(date.fromisoformat, HOLIDAYS_2027)),
                                  workdays=frozenset(map(date.fromisoformat, WORKDAYS_2027)))
    year_days = [date(today.year, 1, 1) + timedelta(days=i) for i in range(366)]
    year_days = [d for d in year_days if d.year == today.year]
    week, day = [], today
    while len(week) < 5:
        day, _ = old.next_working_day(day)
        week.append(day)
    week_off = calendar.Arrangement(
        year=today.year, notice="bench", published_on=today,
        holidays=frozenset([d for d in year_days if old.kind(d)[0] == "holiday"] + week),
        workdays=frozenset(d for d in year_days if old.kind(d)[0] == "makeup_workday"))
    open_cases = db.session.execute(sa.select(sa.func.count()).select_from(Case).where(
        Case.status.in_(OPEN_STATUSES))).scalar_one()
    db.session.rollback()
    out = {"open_cases": open_cases, "anchor": meta["anchor"]}
    for name, arrangement in (("notice", notice), ("week off", week_off))[:LOADS]:
        new = old.with_arrangement(arrangement)
        times, moved = [], None
        for _ in range(RUNS):
            started = time.perf_counter()
            moved = follow_calendar(old, new, arrangement, anchor)
            times.append(time.perf_counter() - started)
            db.session.rollback()
        out[name] = {"seconds": times, "moved": moved}
        print(f"  [in-process] {name}: {moved:,} cases moved, {statistics.median(times):.2f}s median", flush=True)
    return {"calendar.loads": out}


def run(ctx):
    data_env, meta = data_environment(ctx, "calendar")
    found = run_setup(data_env, [("calendar.loads", functools.partial(_loads, meta=meta))],
                      timeout=3600)["calendar.loads"]
    timings = {f"{name} ({found[name]['moved']:,} cases moved)": _spread([s * 1000 for s in found[name]["seconds"]])
               for name in ("notice", "week off")}
    goals = {}
    for name in ("notice", "week off"):
        median = statistics.median(found[name]["seconds"])
        goals[f"load '{name}' ({LOAD_BUDGET_S:g} s ÷ measured)"] = {
            "minimum": 1.0, "median": LOAD_BUDGET_S / median, "met": median <= LOAD_BUDGET_S}
    result = {"kind": "timings", "settings": {"rounds": RUNS, "about": f"{found['open_cases']:,} open cases, "
                                                                   f"{data_env.database}"},
              "timings_ms": timings, "ratios": {}, "goals": goals, "valid": True, "problems": [], "raw": found}
    return result


def _spread(values: list[float]) -> dict:
    ordered = sorted(values)
    return {"median": statistics.median(ordered), "min": ordered[0], "max": ordered[-1]}


register(Benchmark("calendar", run=run, order=55,
                   description="a loaded holiday arrangement moves the open cases' deadlines (10⁶ cases)"))
