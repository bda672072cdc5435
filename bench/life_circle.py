"""The life-circle benchmark (issue: 15-minute community life circle).

Data: 100,000 generated facilities over the Shanghai area (``BENCH_FACILITIES`` scales it)
and one street of 100 estates, inserted in the set-up step into the run's database.

1. in-process ``nearby_ids`` (the nearby query: grid cells + box prefilter, then exact
   haversine × detour) at 200 random points, 15 minutes at the standard pace: p50 ≤ 2 ms,
   and ≥ 50× faster than a brute-force scan (``brute_force_ids``) at the same points, with
   identical results (checked at every point);
2. over HTTP, ``GET /api/v1/facilities/nearby`` ≥ 70% of the authenticated floor's
   requests/s (``GET /api/v1/me``) measured interleaved in the same rounds;
3. ``coverage.compute_street`` for the street of 100 estates × all categories ≤ 500 ms (median).
"""
from __future__ import annotations

import os
import random
import statistics
import time
from datetime import datetime, timezone

from bench import Benchmark, register
from bench.http import Target, percentile

NEARBY_P50_MS = 2.0
SPEEDUP = 50.0
HTTP_RATIO = 0.70
COVERAGE_MS = 500.0
POINTS = 200
# The generated area: central Shanghai and the inner suburbs.
LAT0, LAT1, LNG0, LNG1 = 30.95, 31.45, 121.20, 121.75


def _size() -> int:
    return int(os.environ.get("BENCH_FACILITIES") or 100_000)


def setup(app, state):
    import sqlalchemy as sa

    from api.security import issue_tokens
    from models.base import db
    from models.life_circle import Facility
    from models.people import User
    from models.places import District, Estate, Street
    from service import people
    from service.life_circle import rules, walking

    rng = random.Random(20240617)
    cats = [c.code for c in rules.current().categories()]
    n = _size()
    t = time.perf_counter()
    district = District(code="bench-lc", name="压测区")
    db.session.add(district)
    db.session.flush()
    street = Street(code="bench-lc-s", district_id=district.id, name="压测街道", prefix="BL", lat=31.23, lng=121.47)
    db.session.add(street)
    db.session.flush()
    batch = []
    now = datetime.now(timezone.utc)
    for i in range(n):
        lat, lng = rng.uniform(LAT0, LAT1), rng.uniform(LNG0, LNG1)
        batch.append({"name": f"设施{i}", "category_code": rng.choice(cats), "lat": lat, "lng": lng,
                      "cell": walking.cell_of(lat, lng), "status": "open" if rng.random() < 0.95 else "closed",
                      "coord_source": "approximate", "accessible": False, "bookable": False, "version": 1,
                      "target_groups": ["everyone"], "services": [], "street_id": street.id,
                      "hours": {"always_open": False, "weekly": {d: [["08:00", "20:00"]] for d in
                                                                 ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
                                "holiday": "weekly", "makeup_workday": "weekly", "exceptions": []},
                      "created_at": now, "updated_at": now})
        if len(batch) == 5000:
            db.session.execute(sa.insert(Facility), batch)
            batch = []
    if batch:
        db.session.execute(sa.insert(Facility), batch)
    # A street of 100 estates on a 10 × 10 grid ~ 250 m apart around People's Square.
    for i in range(100):
        db.session.add(Estate(code=f"bench-lc-e{i}", street_id=street.id, name=f"压测小区{i}",
                              lat=31.22 + (i // 10) * 0.00225, lng=121.46 + (i % 10) * 0.0026))
    user = User(username="bench.lc.resident", nickname="压测居民")
    db.session.add(user)
    db.session.commit()
    token = issue_tokens(user.id, people.token_roles(people.load_actor(user.id)), second_factor=True)["access_token"]
    return {"life_circle.token": token, "life_circle.street_id": street.id,
            "life_circle.setup_s": round(time.perf_counter() - t, 1), "life_circle.n": n}


def _in_process(app, state) -> dict:
    from models.base import db
    from models.places import Street
    from service.life_circle import coverage, queries

    rng = random.Random(7)
    points = [(rng.uniform(LAT0 + 0.02, LAT1 - 0.02), rng.uniform(LNG0 + 0.02, LNG1 - 0.02)) for _ in range(POINTS)]
    budget = 15 * 60
    fast, slow, mismatches, sizes = [], [], 0, []
    for lat, lng in points:   # warm-up
        queries.nearby_ids(lat, lng, budget)
    for i, (lat, lng) in enumerate(points):
        t = time.perf_counter()
        found = queries.nearby_ids(lat, lng, budget)
        fast.append((time.perf_counter() - t) * 1000)
        db.session.remove()
        sizes.append(len(found))
        if i < 40:   # the scan is slow: time it on 40 points, compare all of those
            t = time.perf_counter()
            reference = queries.brute_force_ids(lat, lng, budget)
            slow.append((time.perf_counter() - t) * 1000)
            db.session.remove()
            if [(fid, f.walk_m) for fid, f in found] != reference:
                mismatches += 1
    street = db.session.get(Street, state["life_circle.street_id"])
    runs = []
    for i in range(6):
        t = time.perf_counter()
        report = coverage.compute_street(street)
        if i:
            runs.append((time.perf_counter() - t) * 1000)
    db.session.remove()
    fast.sort()
    slow.sort()
    return {"life_circle.in_process": {
        "nearby_p50_ms": round(percentile(fast, 50), 3), "nearby_p95_ms": round(percentile(fast, 95), 3),
        "brute_p50_ms": round(percentile(slow, 50), 3), "speedup_p50": round(percentile(slow, 50) / percentile(fast, 50), 1),
        "results_per_query_median": statistics.median(sizes), "mismatches": mismatches, "compared": len(slow),
        "coverage_ms_median": round(statistics.median(runs), 1), "coverage_ms_runs": [round(r, 1) for r in runs],
        "coverage_estates": report["counts"]["estates"], "coverage_categories": len(report["categories"])}}


def run(ctx):
    from bench.http import run_setup

    # The in-process part runs in a child with the server's environment and the set-up state.
    state = dict(ctx.state)

    def step(app, _):
        return _in_process(app, state)

    inproc = run_setup(ctx.server.environment, [("life_circle.in_process", step)], timeout=1800)[
        "life_circle.in_process"]
    (ctx.progress or print)(f"life_circle in-process: {inproc}")
    token = ctx.state["life_circle.token"]
    targets = {"nearby": Target.get("/api/v1/facilities/nearby?lat=31.2304&lng=121.4737&minutes=15", token=token),
               "nearby.elder.meal": Target.get(
                   "/api/v1/facilities/nearby?lat=31.1500&lng=121.4000&minutes=15&pace=elder&category=meal",
                   token=token)}
    result = ctx.compare(targets, goals={name: HTTP_RATIO for name in targets})
    goals = result["goals"]

    def budget(name, limit, measured):
        value = (limit / measured) if measured else None
        goals[f"{name} ({limit:g} ms ÷ measured)"] = {"minimum": 1.0, "median": value, "measured": measured,
                                                       "limit": limit, "met": value is not None and value >= 1.0}

    budget("in-process nearby p50", NEARBY_P50_MS, inproc["nearby_p50_ms"])
    budget("coverage street 100 estates median", COVERAGE_MS, inproc["coverage_ms_median"])
    goals[f"nearby ≥ {SPEEDUP:g}× brute force, identical results"] = {
        "minimum": SPEEDUP, "median": inproc["speedup_p50"],
        "met": inproc["speedup_p50"] >= SPEEDUP and inproc["mismatches"] == 0}
    result.update({"dataset": {"facilities": ctx.state["life_circle.n"], "setup_s": ctx.state["life_circle.setup_s"]},
                   "in_process": inproc})
    print(f"\n== life_circle: {ctx.state['life_circle.n']:,} facilities ==\n"
          f"in-process nearby p50 {inproc['nearby_p50_ms']:.3f} ms (p95 {inproc['nearby_p95_ms']:.3f}); brute force p50 "
          f"{inproc['brute_p50_ms']:.1f} ms; speed-up {inproc['speedup_p50']}×; mismatches {inproc['mismatches']} of "
          f"{inproc['compared']}; coverage of 100 estates × {inproc['coverage_categories']} categories median "
          f"{inproc['coverage_ms_median']} ms", flush=True)
    return result


register(Benchmark("life_circle", run=run, setup=setup, order=60,
                   description="nearby in-process vs brute force and over HTTP at 10⁵ facilities; street coverage"))
