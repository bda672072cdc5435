"""Meal benchmarks (issue: elder meal booking), over HTTP against the benchmark's gunicorn:

1. ``slots`` listing (GET /api/v1/meal-sites/{id}/slots?date=…, a diner's token: menu, remaining seats,
   the diner's price) measured interleaved with the authenticated floor (GET /api/v1/me).
   Goal: at least 60% of the floor's requests/s (median of the per-round ratios).
2. 500 concurrent booking attempts on a 50-seat slot: 500 distinct diners, one thread each, released
   together by a barrier; one fresh slot per round. Checked: exactly 50 confirmed (in the responses
   and in the database counter), zero 5xx; reported: attempts/s (500 ÷ wall time of the burst).
   The bench slots hold no priority reserve (all 50 seats are open to anyone), so "50" is exact.
3. The monthly statement of a site with 10,000 served meals (500 diners × 20 days, inserted in bulk
   with prices from the real ``quote``): GET …/statement?month=… sequentially, median and p95 latency.
   Goal: median ≤ 200 ms.

Run: ``python -m bench.run meals --rounds 5 --seconds 2`` (SQLite), and with
``BENCH_DATABASE_URL=postgresql+psycopg://…`` for PostgreSQL; ``--workers 4`` as the issue asks.
"""
from __future__ import annotations

import http.client
import json
import secrets
import statistics
import threading
import time
from datetime import date, datetime, timedelta

from bench import Benchmark, register
from bench.http import HOST, report, simple_get

ATTEMPTS = 500
SEATS = 50
STATEMENT_MEALS_DAYS = 20
SLOTS_RATIO = 0.60
STATEMENT_MS = 200.0
BURST_SLOTS = 10
_ALPHABET = "ACDEFHJKMNPQRTUVWXY3479"


def _code(used: set) -> str:
    """A random 8-character code (the column's width), so reruns on a kept database never collide."""
    while True:
        code = "".join(secrets.choice(_ALPHABET) for _ in range(8))
        if code not in used:
            used.add(code)
            return code


def setup(app, state):
    from sqlalchemy import insert, select

    from api.security import issue_tokens
    from models.base import db
    from models.meals import MealBooking
    from models.people import ResidentProfile, RoleAssignment, User
    from models.places import Area, District, Neighbourhood, Street
    from service import clock, people
    from service.meals import pricing, sites

    tag = secrets.token_hex(3)
    district = District(code=f"bench-d-{tag}", name="普陀区")
    db.session.add(district)
    db.session.flush()
    street = Street(code=f"bench-s-{tag}", district_id=district.id, name="万里街道", prefix="WL", lat=31.2665,
                    lng=121.4075)
    db.session.add(street)
    db.session.flush()
    area = Area(code=f"bench-a-{tag}", street_id=street.id, name="香泉片区")
    db.session.add(area)
    db.session.flush()
    nb = Neighbourhood(code=f"bench-n-{tag}", street_id=street.id, area_id=area.id, name="香泉路居民区",
                       committee_name="香泉路居委会", lat=31.2703, lng=121.4086)
    db.session.add(nb)
    db.session.flush()
    site = sites.create_site(code=f"bench-{tag}", name="香泉智助食堂", kind="smart_canteen", street_id=street.id,
                             neighbourhood_id=nb.id, lat=31.2705, lng=121.4083, open_to_public=True,
                             delivery_radius_m=1500)
    big = sites.create_site(code=f"bench-big-{tag}", name="中浩云社区食堂", kind="community_canteen",
                            street_id=street.id, neighbourhood_id=nb.id, lat=31.2728, lng=121.4091)
    today = clock.local_now().date()
    slot_ids = []
    for offset in range(1, BURST_SLOTS // 2 + 1):
        for meal in ("lunch", "dinner"):
            slot = sites.add_slot(site, day=today + timedelta(days=offset), meal=meal,
                                  capacity={"dine_in": SEATS}, set_meals=[
                                      {"name": "两荤一素套餐", "elder_price": "15.00", "general_price": "22.00"},
                                      {"name": "特惠套餐", "elder_price": "8.00", "general_price": "12.00",
                                       "discount": True}])
            slot.reserve_dine_in = 0
            slot_ids.append((slot.id, slot.set_meals[0].id))
    diners = []
    for i in range(ATTEMPTS):
        user = User(username=f"bench.meal.{tag}.{i}", nickname="压测长者")
        db.session.add(user)
        db.session.flush()
        db.session.add(ResidentProfile(user_id=user.id, name="张三", birth_date=date(1950 + i % 15, 1 + i % 12, 1),
                                       neighbourhood_id=nb.id, birth_date_verified_at=clock.now(),
                                       residence_verified_at=clock.now()))   # generated as verified
        diners.append(user.id)
    operator = User(username=f"bench.meal.op.{tag}", nickname="运营")
    db.session.add(operator)
    db.session.flush()
    db.session.add(RoleAssignment(user_id=operator.id, role="operator", scope_type="meal_site", scope_id=big.id))
    db.session.commit()

    # The statement site: last month, 20 days × 500 diners = 10,000 served meals.
    first = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    month = first.strftime("%Y-%m")
    quotes = {}
    # Codes already stored (a kept PostgreSQL database holds earlier runs' rows) are not drawn again.
    used: set = set(db.session.execute(select(MealBooking.code)).scalars())
    rows = []
    for day_index in range(STATEMENT_MEALS_DAYS):
        day = first + timedelta(days=day_index)
        slot = sites.add_slot(big, day=day, meal="lunch", capacity={"dine_in": ATTEMPTS}, set_meals=[
            {"name": "两荤一素套餐", "elder_price": "15.00", "general_price": "22.00"}])
        slot.booked_dine_in = ATTEMPTS
        set_meal = slot.set_meals[0]
        served_at = datetime.combine(day, datetime.min.time(), tzinfo=clock.SHANGHAI) + timedelta(hours=11)
        for diner_id in diners:
            if diner_id not in quotes:
                d = pricing.diner(diner_id, day)
                quotes[diner_id] = (d, pricing.quote(big, set_meal, d, mode="dine_in", quantity=1))
            d, q = quotes[diner_id]
            rows.append({"code": _code(used), "token": secrets.token_urlsafe(18), "slot_id": slot.id,
                         "site_id": big.id, "set_meal_id": set_meal.id, "diner_user_id": diner_id,
                         "booked_by_user_id": diner_id, "booked_by_role": "self", "mode": "dine_in", "quantity": 1,
                         "status": "served", "day": day, "starts_at": slot.starts_at, "ends_at": slot.ends_at,
                         "priority_rank": 9, "eligible": q["eligible"], "age": d.age, "tier": q["tier"],
                         "statuses": "", "operator_tier": q["operator_tier"], "list_price": q["list_price"],
                         "subsidy": q["subsidy"], "delivery_fee": q["delivery_fee"], "payable": q["payable"],
                         "operator_subsidy": q["operator_subsidy"], "breakdown": {}, "residence_district_id": district.id,
                         "neighbourhood_id": nb.id, "created_at": served_at - timedelta(days=1),
                         "served_at": served_at, "served_by": operator.id})
    for start in range(0, len(rows), 2000):
        db.session.execute(insert(MealBooking), rows[start:start + 2000])
    db.session.commit()
    assert db.session.execute(select(MealBooking.id).where(MealBooking.site_id == big.id).limit(1)).first()

    def token(user_id):
        return issue_tokens(user_id, people.token_roles(people.load_actor(user_id)), second_factor=True)["access_token"]

    tokens = [token(uid) for uid in diners]
    db.session.rollback()
    return {"meals.site_id": site.id, "meals.big_id": big.id, "meals.slots": slot_ids, "meals.tokens": tokens,
            "meals.day": (today + timedelta(days=1)).isoformat(), "meals.month": month,
            "meals.operator_token": token(operator.id), "meals.statement_meals": len(rows)}


def _burst(port: int, slot_id: int, set_meal_id: int, tokens: list[str]) -> dict:
    barrier = threading.Barrier(len(tokens) + 1)
    results: list = [None] * len(tokens)
    body = json.dumps({"slot_id": slot_id, "set_meal_id": set_meal_id, "mode": "dine_in",
                       "join_waitlist": False}).encode()

    def attempt(i: int) -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=120)
        try:
            conn.connect()
            barrier.wait()
            conn.request("POST", "/api/v1/meal-bookings", body=body,
                         headers={"Authorization": f"Bearer {tokens[i]}", "Content-Type": "application/json"})
            response = conn.getresponse()
            payload = response.read()
            status = json.loads(payload).get("status") if response.status == 201 else None
            results[i] = (response.status, status)
        except Exception as exc:  # noqa: BLE001
            results[i] = (0, type(exc).__name__)
        finally:
            conn.close()

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(len(tokens))]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    statuses: dict[str, int] = {}
    for code, _ in results:
        statuses[str(code)] = statuses.get(str(code), 0) + 1
    confirmed = sum(1 for code, status in results if code == 201 and status == "confirmed")
    return {"seconds": round(elapsed, 3), "attempts_per_s": round(len(tokens) / elapsed, 1), "confirmed": confirmed,
            "statuses": statuses, "server_errors": sum(1 for code, _ in results if code >= 500 or code == 0)}


def _spread(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def run(ctx):
    from bench.http import Target

    state = ctx.state
    token = state["meals.tokens"][0]
    slots_target = Target.get(f"/api/v1/meal-sites/{state['meals.site_id']}/slots?date={state['meals.day']}",
                              token=token)
    status, body = simple_get(ctx.port, slots_target.path, slots_target.headers)
    if status != 200 or not json.loads(body)["items"]:
        raise RuntimeError(f"slots answered {status}: {body[:300]!r}")
    m = ctx.measure({"me": ctx.auth_floor, "slots": slots_target})
    result = report(m, {"slots/me": m.ratio("slots", "me")}, {"slots/me": SLOTS_RATIO})

    # 2. bursts of 500 attempts on a fresh 50-seat slot per round.
    rounds = min(ctx.options["rounds"], len(state["meals.slots"]))
    bursts = []
    for r in range(rounds):
        slot_id, set_meal_id = state["meals.slots"][r]
        burst = _burst(ctx.port, slot_id, set_meal_id, state["meals.tokens"])
        slot_status, slot_body = simple_get(ctx.port, f"/api/v1/meal-sites/{state['meals.site_id']}/slots?date="
                                            f"{_slot_day(state, r)}", {"Authorization": f"Bearer {token}"})
        items = {s["id"]: s for s in json.loads(slot_body)["items"]} if slot_status == 200 else {}
        burst["remaining_after"] = items.get(slot_id, {}).get("remaining", {}).get("dine_in")
        bursts.append(burst)
        if ctx.progress:
            ctx.progress(f"booking burst {r + 1}/{rounds}: {burst['confirmed']} confirmed of {ATTEMPTS}, "
                         f"{burst['attempts_per_s']:.0f} attempts/s, statuses {burst['statuses']}")
    exact = all(b["confirmed"] == SEATS and b["server_errors"] == 0 and b["remaining_after"] == 0 for b in bursts)
    result["booking_burst"] = {"attempts": ATTEMPTS, "seats": SEATS, "rounds": bursts,
                               "attempts_per_s": _spread([b["attempts_per_s"] for b in bursts]),
                               "exactly_50_confirmed_zero_5xx": exact}
    result["goals"]["burst: exactly 50 confirmed, zero 5xx"] = {"minimum": 1.0, "median": 1.0 if exact else 0.0,
                                                               "met": exact}
    if not exact:  # say why: the server's last traceback, if it logged one
        log = ctx.server.log_tail(2_000_000)
        at = log.rfind("Traceback")
        result["booking_burst"]["last_traceback"] = log[at:at + 6000] if at >= 0 else None
        print(result["booking_burst"]["last_traceback"] or "no traceback in the server log", flush=True)

    # 3. the statement of 10,000 meals.
    path = f"/api/v1/meal-sites/{state['meals.big_id']}/statement?month={state['meals.month']}"
    headers = {"Authorization": f"Bearer {state['meals.operator_token']}"}
    status, body = simple_get(ctx.port, path, headers, timeout=30)
    data = json.loads(body)
    if status != 200 or data["totals"]["meals"] != state["meals.statement_meals"]:
        raise RuntimeError(f"statement answered {status}: {body[:300]!r}")
    times = []
    for _ in range(30):
        t = time.perf_counter()
        simple_get(ctx.port, path, headers, timeout=30)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    p50, p95 = statistics.median(times), times[int(len(times) * 0.95) - 1]
    result["statement"] = {"meals": data["totals"]["meals"], "p50_ms": round(p50, 1), "p95_ms": round(p95, 1),
                           "min_ms": round(times[0], 1), "max_ms": round(times[-1], 1),
                           "subsidy_total": data["totals"]["subsidy_total"]}
    result["goals"][f"statement 10k meals median ≤ {STATEMENT_MS:g} ms ({STATEMENT_MS:g} ÷ measured)"] = {
        "minimum": 1.0, "median": STATEMENT_MS / p50, "met": p50 <= STATEMENT_MS}
    b = result["booking_burst"]["attempts_per_s"]
    print(f"\n== meals ==\nbooking burst ({ATTEMPTS} attempts, {SEATS} seats, {rounds} rounds): "
          f"{b['median']:.0f} attempts/s [{b['min']:.0f}–{b['max']:.0f}], confirmed per round "
          f"{[x['confirmed'] for x in bursts]}, statuses {[x['statuses'] for x in bursts]}, exact: {exact}\n"
          f"statement ({data['totals']['meals']} meals): p50 {p50:.1f} ms, p95 {p95:.1f} ms "
          f"[{times[0]:.1f}–{times[-1]:.1f}]", flush=True)
    return result


def _slot_day(state, r: int) -> str:
    start = date.fromisoformat(state["meals.day"])
    return (start + timedelta(days=r // 2)).isoformat()


register(Benchmark("meals", run=run, setup=setup, order=60,
                   description="slots listing vs the authenticated floor; 500 booking attempts on 50 seats; "
                               "statement of 10,000 meals"))
