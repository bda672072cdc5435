"""A district's mixed load (issue 16): the shape production has, measured in one run.

The data: the generated cases data set (``bench/gen_cases.py``: 1,000,000 cases over 10 streets, 2,000
reporters) copied for this run (SQLite: the cached file; PostgreSQL: ``CREATE DATABASE … TEMPLATE`` of the
generated database), then, through the benchmarks' own set-ups: 100,000 facilities (bench.life_circle), a
meal site with a fortnight of slots and 500 verified elders (bench.meals), an estate of 11,000 units with
motions open (bench.voting), and here: 300 of the reporters as the residents of the load, each following 20
other cases and with 40 notifications in the inbox and 30 notices, bookings to cancel, and a fortnight of large
slots.

The load: gunicorn with 4 workers (config/gunicorn.py), 16 keep-alive connections, ``MIX_SECONDS`` (60) of
70 % resident reads (nearby facilities, my cases, a case's detail, a site's meal slots, my bookings, my
notifications, my notices), 20 % staff (the queue, a case's detail, the metrics) and 10 % writes (a case reported, a meal
booked, a booking cancelled, a ballot cast), in a fixed shuffled order, in ``ROUNDS`` rounds with
``GET /api/v1/me`` alone (the floor) measured before each round and after the last. Reported: requests/s,
p50/p95/p99 per endpoint and overall over all rounds, errors, and the mix's requests/s ÷ the floor's: each
round's against the mean of the floors on either side of it, and their median (a machine whose speed drifts
during the run moves both sides of a round's ratio alike).

Goals (one run): zero errors; every endpoint's p99 ≤ 250 ms; the mix ≥ 0.5 of the floor. On PostgreSQL
(``BENCH_DATABASE_URL``, else the local server when reachable) with Redis (``BENCH_REDIS_URL``, else the
local one when reachable), and on SQLite with its embedded default (no Redis).

Then every list endpoint a resident or staff member can call (and who looked at a resident's data, which the
mix's case views by staff fill) is timed in-process (the Flask test client,
``LIST_CALLS`` calls each, after a warm-up) on the same data: p95 ≤ 10 ms.

    python -m bench.run mixed            # both databases
    BENCH_MIXED_DATABASES=postgresql python -m bench.run mixed
"""
from __future__ import annotations

import functools
import json
import os
import random
import shutil
import socket
import time
from pathlib import Path

from bench import Benchmark, register
from bench.http import (Environment, GunicornServer, ServerSettings, Target, load_in_child, migrate, percentile,
                        production_environment, redact, run_setup, simple_get, spread)

MIX_SECONDS = float(os.environ.get("BENCH_MIX_SECONDS") or 60)
FLOOR_SECONDS = 20.0   # /me alone, in ROUNDS + 1 slices around the rounds of the mix
ROUNDS = 3
WARMUP_SECONDS = 5.0
CONNECTIONS, WORKERS = 16, 4
P99_MS, MIX_RATIO, LIST_P95_MS = 250.0, 0.5, 10.0
RESIDENTS, FOLLOWS, INBOX, NOTICES = 300, 20, 40, 30
LIST_CALLS = 60
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/linli_bench"  # the generated data: linli_bench_cases
REDIS_DEFAULT = "redis://127.0.0.1:6379/3"

# label: weight (per 100 requests)
MIX = {
    # residents, 70 %
    "facilities.nearby": 11, "me.cases": 12, "case.detail": 12, "meals.slots": 11, "me.bookings": 10,
    "me.notifications": 10, "notices.mine": 4,
    # staff, 20 %
    "staff.queue": 10, "staff.case": 6, "staff.metrics": 4,
    # writes, 10 %
    "case.create": 4, "meal.book": 2, "meal.cancel": 2, "ballot.cast": 2,
}
EXPECT = {"case.create": (201,), "meal.book": (201,), "ballot.cast": (201,)}
# Each phase (the warm-up, the measured mix) takes its one-shot writes from its own block.
BLOCK = 500
# Open slots whose bookings (one per diner) the mix cancels: 1,500 cancellations, a block of 450 per round (a round
# of 20 s at 1,000 requests/s cancels 400).
CANCEL_SLOTS = 3
CANCEL_BLOCK = 450


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _say(ctx, message: str) -> None:
    if ctx.progress:
        ctx.progress(f"mixed: {message}")


# --- the data ----------------------------------------------------------------------------------------------------

def _sqlite_copy(ctx, n: int) -> Environment:
    from bench import gen_cases

    main = ctx.server.environment
    env = production_environment(database_url="sqlite:///unused.db")
    cache, _meta = gen_cases.ensure_sqlite(n, main.env, progress=lambda m: _say(ctx, m))
    copy = env.tmpdir / "mixed.db"
    shutil.copyfile(cache, copy)
    url = f"sqlite:///{copy}"
    env.env["DATABASE_URL"] = url
    env.database, env.database_url_redacted = "sqlite", redact(url)
    migrate(env)
    return env


def _postgres_copy(ctx, n: int, template_url: str, redis_url: str | None) -> Environment:
    """A database of this run: a copy of the generated one (``CREATE DATABASE … TEMPLATE``), dropped afterwards."""
    import sqlalchemy as sa

    from bench import gen_cases

    template = sa.engine.make_url(template_url)
    name = f"linli_mixed_{os.getpid()}"
    admin = sa.create_engine(template.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.exec_driver_sql("SELECT 1 FROM pg_database WHERE datname = %s", (template.database,)).first():
            conn.exec_driver_sql(f'CREATE DATABASE "{template.database}"')
    generated = production_environment(database_url=template_url)
    migrate(generated)
    generated.cleanup()
    gen_cases.ensure_database(template_url, n, progress=lambda m: _say(ctx, m))
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        t = time.monotonic()
        conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template.database}"')
        _say(ctx, f"copied {template.database} into {name} in {time.monotonic() - t:.1f}s")
    admin.dispose()
    url = template.set(database=name).render_as_string(hide_password=False)
    env = production_environment(database_url=url)
    if redis_url:
        env.env["REDIS_URL"] = redis_url
    migrate(env)
    return env


def _template_url(url: str) -> str:
    """The generated database the runs copy: beside the benchmark's own (which its server keeps open)."""
    import sqlalchemy as sa

    parsed = sa.engine.make_url(url)
    return parsed.set(database=f"{parsed.database}_cases").render_as_string(hide_password=False)


def _vacuum(url: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()


def _drop_postgres(env: Environment) -> None:
    import sqlalchemy as sa

    url = sa.engine.make_url(env.env["DATABASE_URL"])
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
    admin.dispose()


def _population(app, state) -> dict:
    """The residents of the load, their follows and inboxes, large slots to book, bookings to cancel, staff."""
    import secrets
    from datetime import timedelta

    import sqlalchemy as sa

    from api.security import issue_tokens
    from models.base import db
    from models.cases import Case, CaseFollower
    from models.meals import MealSite
    from models.notices import Notice, NoticeAudience
    from models.notifications import Notification
    from models.people import RoleAssignment, User
    from models.places import Neighbourhood, Street
    from service import clock, people
    from service.meals import sites, workflow

    rng = random.Random(16)

    def token(uid: int) -> str:
        return issue_tokens(uid, people.token_roles(people.load_actor(uid)), second_factor=True)["access_token"]

    reporters = db.session.execute(sa.select(User.id).where(User.username.like("bench.r.%")).order_by(User.id)
                                   .limit(RESIDENTS)).scalars().all()
    max_id = db.session.execute(sa.select(sa.func.max(Case.id))).scalar()
    now = clock.now()
    follows, inbox, residents = [], [], []
    for uid in reporters:
        own = db.session.execute(sa.select(Case.id).where(Case.reporter_user_id == uid).order_by(Case.id.desc())
                                 .limit(20)).scalars().all()
        followed = set()
        while len(followed) < FOLLOWS:
            followed.add(rng.randrange(max(1, max_id - 200_000), max_id + 1))
        follows += [{"case_id": cid, "user_id": uid, "created_at": now} for cid in followed]
        inbox += [{"user_id": uid, "dedupe_key": f"bench-mixed:{uid}:{k}:{secrets.token_hex(4)}", "kind": "case.status",
                   "title": "诉求有新进展", "body": "您反映的问题已受理，正在处理中。", "link": f"/cases/{own[0]}" if own else None,
                   "created_at": now - timedelta(hours=k), "read_at": now if k > 10 else None} for k in range(INBOX)]
        residents.append({"token": token(uid), "own": own or [max_id]})
    db.session.execute(sa.insert(CaseFollower), follows)
    for start in range(0, len(inbox), 5000):
        db.session.execute(sa.insert(Notification), inbox[start:start + 5000])

    # Where residents report: the generated neighbourhoods' points.
    points = [(lat, lng) for lat, lng in db.session.execute(
        sa.select(Neighbourhood.lat, Neighbourhood.lng).join(Street, Street.id == Neighbourhood.street_id)
        .where(Street.code.like("BENCH-S%")))]

    # Staff: the heads of the first street's neighbourhoods, and the streets' operations centres.
    heads = db.session.execute(sa.select(RoleAssignment.user_id, RoleAssignment.scope_id).where(
        RoleAssignment.scope_type == "neighbourhood", RoleAssignment.title == "nc_head")
        .order_by(RoleAssignment.scope_id).limit(16)).all()
    staff = []
    for uid, nid in heads:
        cases = db.session.execute(sa.select(Case.id).where(Case.neighbourhood_id == nid)
                                   .order_by(Case.id.desc()).limit(50)).scalars().all()
        staff.append({"token": token(uid), "cases": cases})
    # Notices: NOTICES published to the first street over the last month, each reaching every resident of the
    # load (two pinned; the older half read).
    first_street = db.session.execute(sa.select(Street.id).where(Street.code.like("BENCH-S%"))
                                      .order_by(Street.id)).scalars().first()
    db.session.execute(sa.insert(Notice), [{
        "street_id": first_street, "category": "policy", "title": f"压测通知{k}", "body": "压测通知正文",
        "urgent": False, "ack_required": False, "pinned": k < 2, "state": "published", "version": 1,
        "publish_at": now - timedelta(days=k), "published_at": now - timedelta(days=k), "author_user_id": heads[0][0],
        "author_role": "staff", "audience_count": len(reporters), "created_at": now} for k in range(NOTICES)])
    notice_ids = db.session.execute(sa.select(Notice.id).where(Notice.street_id == first_street)
                                    .order_by(Notice.id.desc()).limit(NOTICES)).scalars().all()
    db.session.execute(sa.insert(NoticeAudience), [
        {"notice_id": nid, "user_id": uid, "reason": "resident", "priority": 5,
         "read_at": now if i >= NOTICES // 2 else None} for i, nid in enumerate(notice_ids) for uid in reporters])
    street_staff = [token(uid) for uid in db.session.execute(
        sa.select(RoleAssignment.user_id).where(RoleAssignment.scope_type == "street",
                                                RoleAssignment.title == "ops_center")).scalars()]

    # A fortnight of large slots at the meals benchmark's site (bookings must not run out of seats).
    site = db.session.get(MealSite, state["meals.big_id"])
    today = clock.local_now().date()
    slots = []
    for offset in range(1, 15):
        slot = sites.add_slot(site, day=today + timedelta(days=offset), meal="lunch",
                              capacity={"dine_in": 100_000}, set_meals=[
                                  {"name": "两荤一素套餐", "elder_price": "15.00", "general_price": "22.00"}])
        slot.reserve_dine_in = 0
        slot.opens_at = min(slot.opens_at, now)   # every day of the fortnight open for booking now
        db.session.flush()
        slots.append((slot.id, slot.set_meals[0].id, slot.day.isoformat(), slot.opens_at <= now))
    db.session.commit()
    # Bookings to cancel (one per diner in the first CANCEL_SLOTS open slots, booked through the workflow);
    # the mix books the other open slots.
    diners = state["meals.diner_ids"]
    bookable = [s for s in slots if s[3]]
    if len(bookable) < CANCEL_SLOTS + ROUNDS + 1:   # the cancellations' slots, then one per phase (bookings)
        raise RuntimeError(f"only {len(bookable)} of the fortnight's slots are open for booking")
    cancel = []
    for slot_id, set_meal_id, _day, _open in bookable[:CANCEL_SLOTS]:
        for i, (uid, diner_token) in enumerate(zip(diners, state["meals.tokens"])):
            booking = workflow.book(people.load_actor(uid), slot_id=slot_id, diner_id=None, mode="dine_in",
                                    set_meal_id=set_meal_id)
            cancel.append((diner_token, booking.id))
    db.session.commit()
    rng.shuffle(cancel)
    result = {"mixed.residents": residents, "mixed.points": points, "mixed.staff": staff,
              "mixed.street_staff": street_staff, "mixed.slots": slots, "mixed.bookable": bookable[CANCEL_SLOTS:],
              "mixed.cancel": cancel,
              "mixed.follows": len(follows), "mixed.notifications": len(inbox)}
    db.session.rollback()
    return result


def _diner_ids(app, state) -> dict:
    """The meals benchmark's diners, in the order of its tokens."""
    import sqlalchemy as sa

    from models.base import db
    from models.people import User

    ids = db.session.execute(sa.select(User.id).where(User.username.like("bench.meal.%"),
                                                      User.username.not_like("bench.meal.op.%"))
                             .order_by(User.id)).scalars().all()
    return {"meals.diner_ids": ids}


# --- the mix -----------------------------------------------------------------------------------------------------

class Mix:
    """The i-th request of a load process: a label from a fixed shuffled schedule, and its request.
    One-shot writes (a booking, a cancellation, a ballot) take the next item of their kind in this phase's
    block, so the warm-up and the measured run never repeat one."""

    def __init__(self, state: dict, phase: int, seed: int = 16):
        self.state, self.phase = state, phase
        schedule = [label for label, weight in MIX.items() for _ in range(weight)]
        random.Random(seed).shuffle(schedule)
        self.schedule = schedule
        self.counts: dict[str, int] = {}
        self.rng = random.Random(seed + phase)
        self.lat0, self.lat1, self.lng0, self.lng1 = 30.95, 31.45, 121.20, 121.75

    def label(self, i: int) -> str:
        return self.schedule[i % len(self.schedule)]

    def expected(self, label: str) -> tuple:
        return EXPECT.get(label, (200,))

    def _next(self, label: str) -> int:
        k = self.counts.get(label, 0)
        self.counts[label] = k + 1
        return k

    def __call__(self, i: int):
        label = self.label(i)
        k = self._next(label)
        return getattr(self, "_" + label.replace(".", "_"))(k)

    @staticmethod
    def _auth(token: str, body: bool = False) -> dict:
        headers = {"Authorization": f"Bearer {token}"}
        if body:
            headers["Content-Type"] = "application/json"
        return headers

    def _resident(self, k: int) -> dict:
        residents = self.state["mixed.residents"]
        return residents[(k * 7 + self.phase) % len(residents)]

    def _facilities_nearby(self, k):
        lat, lng = self.rng.uniform(self.lat0, self.lat1), self.rng.uniform(self.lng0, self.lng1)
        return "GET", f"/api/v1/facilities/nearby?lat={lat:.5f}&lng={lng:.5f}", self._auth(self._resident(k)["token"]), b""

    def _me_cases(self, k):
        return "GET", "/api/v1/me/cases", self._auth(self._resident(k)["token"]), b""

    def _case_detail(self, k):
        r = self._resident(k)
        return "GET", f"/api/v1/cases/{r['own'][k % len(r['own'])]}", self._auth(r["token"]), b""

    def _diner(self, k) -> str:
        tokens = self.state["meals.tokens"]
        return tokens[k % len(tokens)]

    def _meals_slots(self, k):
        day = self.state["mixed.slots"][k % len(self.state["mixed.slots"])][2]
        return "GET", f"/api/v1/meal-sites/{self.state['meals.big_id']}/slots?date={day}", self._auth(self._diner(k)), b""

    def _me_bookings(self, k):
        return "GET", "/api/v1/me/meal-bookings", self._auth(self._diner(k)), b""

    def _me_notifications(self, k):
        return "GET", "/api/v1/me/notifications", self._auth(self._resident(k)["token"]), b""

    def _notices_mine(self, k):
        return "GET", "/api/v1/notices", self._auth(self._resident(k)["token"]), b""

    def _staff_queue(self, k):
        if k % 3 == 2:
            tokens = self.state["mixed.street_staff"]
            return "GET", "/api/v1/cases", self._auth(tokens[k % len(tokens)]), b""
        staff = self.state["mixed.staff"]
        return "GET", "/api/v1/cases", self._auth(staff[k % len(staff)]["token"]), b""

    def _staff_case(self, k):
        s = self.state["mixed.staff"][k % len(self.state["mixed.staff"])]
        return "GET", f"/api/v1/cases/{s['cases'][k % len(s['cases'])]}", self._auth(s["token"]), b""

    def _staff_metrics(self, k):
        tokens = self.state["mixed.street_staff"]
        return "GET", "/api/v1/case-metrics", self._auth(tokens[k % len(tokens)]), b""

    def _case_create(self, k):
        r = self._resident(k)
        lat, lng = self.state["mixed.points"][k % len(self.state["mixed.points"])]
        body = {"category": "corridor_clutter", "description": f"压测诉求{self.phase}-{k}：楼道堆放杂物，影响通行。",
                "location": {"lat": lat + (k % 7 - 3) * 0.0002, "lng": lng + (k % 5 - 2) * 0.0002, "datum": "gcj02"},
                "address": f"{k % 30 + 1}号楼"}
        return "POST", "/api/v1/cases", self._auth(r["token"], True), json.dumps(body, ensure_ascii=False).encode()

    def _meal_book(self, k):
        n = self.phase * BLOCK + k
        tokens, slots = self.state["meals.tokens"], self.state["mixed.bookable"]
        slot_id, set_meal_id, _day, _open = slots[(n // len(tokens)) % len(slots)]
        body = {"slot_id": slot_id, "set_meal_id": set_meal_id, "mode": "dine_in"}
        return "POST", "/api/v1/meal-bookings", self._auth(tokens[n % len(tokens)], True), json.dumps(body).encode()

    def _meal_cancel(self, k):
        # The warm-up cancels from the end of the list, each round from its own block from the start: never the
        # same one twice.
        cancel = self.state["mixed.cancel"]
        diner_token, booking_id = cancel[(len(cancel) - 1 - k if self.phase == 0
                                          else (self.phase - 1) * CANCEL_BLOCK + k) % len(cancel)]
        return "POST", f"/api/v1/meal-bookings/{booking_id}/cancel", self._auth(diner_token, True), b"{}"

    def _ballot_cast(self, k):
        n = self.phase * BLOCK + k
        voting = self.state["voting"]
        tokens, motions = voting["tokens"], voting["http_motions"]
        motion = motions[(n // len(tokens)) % len(motions)]
        return ("POST", f"/api/v1/motions/{motion}/ballots", self._auth(tokens[n % len(tokens)], True),
                b'{"choice": "yes"}')


# --- measuring ---------------------------------------------------------------------------------------------------

def _summary(latencies, count_errors: int, statuses: dict, elapsed: float) -> dict:
    lat = sorted(latencies)
    ms = lambda q: round(percentile(lat, q) * 1000, 2) if lat else None  # noqa: E731
    return {"requests": len(lat), "rps": round(len(lat) / elapsed, 1), "p50_ms": ms(50), "p95_ms": ms(95),
            "p99_ms": ms(99), "max_ms": round(lat[-1] * 1000, 1) if lat else None, "errors": count_errors,
            "statuses": {str(k): v for k, v in sorted(statuses.items())}}


def _merged(parts: list[dict]) -> dict:
    """The rounds' loads as one: their requests, statuses and errors together, their times added up."""
    import array

    out = {"latencies": array.array("d"), "statuses": {}, "errors": {}, "elapsed": 0.0, "count": 0,
           "client_cpu": 0.0, "by_label": {}}

    def add(counts: dict, more: dict) -> None:
        for key, n in more.items():
            counts[key] = counts.get(key, 0) + n

    for part in parts:
        out["latencies"].extend(part["latencies"])
        add(out["statuses"], part["statuses"])
        add(out["errors"], part["errors"])
        out["elapsed"] += part["elapsed"]
        out["count"] += part["count"]
        out["client_cpu"] += part["client_cpu"]
        for label, got in part["by_label"].items():
            into = out["by_label"].setdefault(label, {"latencies": array.array("d"), "statuses": {}, "errors": {}})
            into["latencies"].extend(got["latencies"])
            add(into["statuses"], got["statuses"])
            add(into["errors"], got["errors"])
    return out


def _http(ctx, env: Environment, state: dict) -> dict:
    settings = ServerSettings(workers=WORKERS, worker_class="gthread", threads=ctx.server.settings.threads,
                              keepalive=ctx.server.settings.keepalive)
    with GunicornServer(env, settings) as server:
        port = server.port
        me = Target.get("/api/v1/me", token=state["mixed.residents"][0]["token"])
        for label in MIX:   # every request of the mix answers as expected before the load
            method, path, headers, body = Mix(state, phase=2)(list(Mix(state, 2).schedule).index(label))
            if method == "GET":
                status, payload = simple_get(port, path, headers)
                if status != 200:
                    raise RuntimeError(f"{label}: {path} answered {status}: {payload[:300]!r}")
        _say(ctx, f"gunicorn {WORKERS} workers on port {port}; warm-up {WARMUP_SECONDS:g}s")
        load_in_child(port, Target(factory=Mix(state, phase=0)), WARMUP_SECONDS, CONNECTIONS)
        # Interleaved: /me alone, then a round of the mix, ROUNDS times, and /me alone once more; each round's
        # ratio is its mix against the mean of the two floors around it, so a machine that slows down or speeds
        # up during the run moves both sides of a ratio alike. The rounds' mixes together are the mix reported.
        floors, rounds = [], []
        floor = load_in_child(port, me, FLOOR_SECONDS / (ROUNDS + 1), CONNECTIONS)
        floors.append(floor["count"] / floor["elapsed"])
        for r in range(1, ROUNDS + 1):
            _say(ctx, f"/me alone: {floors[-1]:,.0f} req/s; round {r} of the mix for {MIX_SECONDS / ROUNDS:g}s")
            rounds.append(load_in_child(port, Target(factory=Mix(state, phase=r)), MIX_SECONDS / ROUNDS, CONNECTIONS))
            floor = load_in_child(port, me, FLOOR_SECONDS / (ROUNDS + 1), CONNECTIONS)
            floors.append(floor["count"] / floor["elapsed"])
        log = server.log_tail(2_000_000)
    mix = _merged(rounds)
    round_ratios = [(part["count"] / part["elapsed"]) / ((floors[i] + floors[i + 1]) / 2)
                    for i, part in enumerate(rounds)]
    endpoints = {label: _summary(part["latencies"], sum(part["errors"].values()), part["statuses"], mix["elapsed"])
                 for label, part in sorted(mix["by_label"].items())}
    for label, part in mix["by_label"].items():
        if part["errors"]:
            endpoints[label]["error_kinds"] = part["errors"]
    overall = _summary(mix["latencies"], sum(mix["errors"].values()), mix["statuses"], mix["elapsed"])
    ratio = spread(round_ratios)["median"]
    worst = max((e["p99_ms"] or 0.0) for e in endpoints.values())
    goals = {
        "zero errors": {"met": overall["errors"] == 0, "measured": overall["errors"]},
        f"every endpoint's p99 ≤ {P99_MS:g} ms": {"met": worst <= P99_MS, "measured": worst},
        f"mix ÷ /me floor ≥ {MIX_RATIO}": {"met": ratio is not None and ratio >= MIX_RATIO, "measured": ratio},
    }
    return {"server": settings.describe(), "connections": CONNECTIONS, "seconds": MIX_SECONDS,
            "floor_rps": [round(f, 1) for f in floors], "overall": overall, "endpoints": endpoints,
            "ratio_mix_to_me": ratio, "round_ratios": [round(x, 3) for x in round_ratios],
            "round_spread": spread(round_ratios), "goals": goals,
            "tracebacks_in_log": log.count("Traceback"),
            "client_cpu_share": round(mix["client_cpu"] / mix["elapsed"], 2)}


def _lists(app, _setup_state, state) -> dict:
    """Every list endpoint a resident or staff member can call, in-process: p95 over LIST_CALLS calls."""
    import sqlalchemy as sa

    from api.security import issue_tokens
    from models.base import db
    from models.notices import Notice
    from models.people import User
    from models.places import Estate, Street
    from service import people

    def token(uid: int) -> str:
        return issue_tokens(uid, people.token_roles(people.load_actor(uid)), second_factor=True)["access_token"]

    resident = state["mixed.residents"][0]["token"]
    diner = state["meals.tokens"][0]
    voting = state["voting"]
    owner = voting["tokens"][0]
    motion = voting["http_motions"][0]
    estate_id = db.session.execute(sa.select(Estate.id).order_by(Estate.id.desc()).limit(1)).scalar()
    street_staff = state["mixed.street_staff"][0]
    head = state["mixed.staff"][0]["token"]
    manager = db.session.execute(sa.select(User.id).where(User.username.like("bench.vote.%"))
                                 .order_by(User.id.desc()).limit(1)).scalar()
    manager_token = token(manager)
    lc_street = db.session.execute(sa.select(Street.id).where(Street.code == "bench-lc-s")).scalar()
    notice = db.session.execute(sa.select(Notice.id).where(Notice.title.like("压测通知%"))
                                .order_by(Notice.id.desc()).limit(1)).scalar()
    db.session.rollback()
    calls = {
        "my cases": ("/api/v1/me/cases", resident),
        "my cases, page 2": (None, resident),
        "my bookings": ("/api/v1/me/meal-bookings", diner),
        "notifications": ("/api/v1/me/notifications", resident),
        "family links": ("/api/v1/me/family-links", resident),
        "unit claims (mine)": ("/api/v1/me/unit-claims", resident),
        "motions of an estate": (f"/api/v1/estates/{estate_id}/motions", owner),
        "participation": (f"/api/v1/motions/{motion}/participation", manager_token),
        "receipts": (f"/api/v1/motions/{motion}/receipts", owner),
        "audit log (street staff)": ("/api/v1/audit-log", street_staff),
        "who looked at my data": ("/api/v1/me/data-access", resident),
        "my consents": ("/api/v1/me/consents", resident),
        "my data copies": ("/api/v1/me/data-export", resident),
        "residents (居委会 head)": ("/api/v1/residents", head),
        "unit claims (居委会 head)": ("/api/v1/unit-claims", head),
        "facilities search": (f"/api/v1/facilities?street_id={lc_street}&q=设施12", state["life_circle.token"]),
        "staff queue": ("/api/v1/cases", head),
        "my notices": ("/api/v1/notices", resident),
        "notices where staff work": ("/api/v1/notices/managed", head),
        "a notice's chase list": (f"/api/v1/notices/{notice}/chase", head),
    }
    client = app.test_client()
    out = {}
    for name, (path, tok) in calls.items():
        if path is None:   # the second page of my cases, by the first page's cursor
            first = client.get("/api/v1/me/cases", headers={"Authorization": f"Bearer {tok}"}).get_json()
            path = f"/api/v1/me/cases?cursor={first['next_cursor']}"
        headers = {"Authorization": f"Bearer {tok}"}
        answer = client.get(path, headers=headers)
        if answer.status_code != 200:
            out[name] = {"path": path, "status": answer.status_code, "error": answer.get_data(as_text=True)[:300]}
            continue
        body = answer.get_json()
        items = body.get("items") if isinstance(body, dict) else body
        times = []
        for _ in range(LIST_CALLS):
            t = time.perf_counter()
            client.get(path, headers=headers)
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        out[name] = {"path": path.split("?")[0], "items": len(items) if isinstance(items, list) else None,
                     "p50_ms": round(percentile(times, 50), 2), "p95_ms": round(percentile(times, 95), 2),
                     "met": percentile(times, 95) <= LIST_P95_MS}
    return {"mixed.lists": out}


def _privacy(app, _setup_state, state) -> dict:
    """Residents' rights at the district's scale, in-process: the copy of a resident who reported and follows
    many cases (its documents and zip), the two sweeps with nothing due, and the closure of residents who
    reported cases (each in its one transaction). Runs last: the closures change the data."""
    import sqlalchemy as sa

    from models.base import db
    from models.cases import Case
    from models.people import User
    from service import account_closure, clock, data_export, people, retention
    from service.cases import personal_data as cases_data
    from service.meals import personal_data as meals_data

    def timed(fn, runs: int) -> tuple[list[float], object]:
        times, value = [], None
        for _ in range(runs):
            t = time.perf_counter()
            value = fn()
            times.append((time.perf_counter() - t) * 1000)
            db.session.rollback()
        return sorted(times), value

    def summary(times: list[float]) -> dict:
        return {"runs": len(times), "p50_ms": round(percentile(times, 50), 1), "min_ms": round(times[0], 1),
                "max_ms": round(times[-1], 1)}

    reporters = db.session.execute(
        sa.select(User.id, sa.func.count(Case.id)).join(Case, Case.reporter_user_id == User.id)
        .where(User.username.like("bench.r.%")).group_by(User.id).order_by(User.id).limit(RESIDENTS)).all()
    heavy, heavy_cases = reporters[0]
    out = {}
    times, (data, counts) = timed(lambda: data_export.archive(heavy), 5)
    out["copy of a resident's data"] = {**summary(times), "bytes": len(data), "cases_reported": heavy_cases,
                                        "documents": {k: v for k, v in counts.items() if v}}
    out["export sweep, nothing waiting"] = summary(timed(data_export.sweep, 5)[0])
    out["closure sweep, nothing due"] = summary(timed(account_closure.sweep, 5)[0])
    out["retention sweep, nothing due"] = summary(timed(retention.sweep, 3)[0])
    now = clock.now()
    t = time.perf_counter()
    forgotten = cases_data._forget_batch(retention.months_before(now, 6), 1000)
    out["retention: closed cases' reporters, one batch"] = {
        **summary([(time.perf_counter() - t) * 1000]), "cases": forgotten, "closed_before": "6 months ago"}
    t = time.perf_counter()
    cleared = meals_data._forget_batch(clock.local(now).date(), 1000)
    out["retention: bookings' addresses and notes, one batch"] = {
        **summary([(time.perf_counter() - t) * 1000]), "bookings": cleared, "meals_before": "today"}
    # Rotating the personal-data key: every encrypted value rewritten under a new key, in batches of 500.
    from flask import current_app

    from service import key_rotation, privacy

    from models.people import ResidentProfile

    # The generated residents get phone and ID numbers (not timed), as residents who bound their phone have.
    profiles = db.session.execute(sa.select(ResidentProfile.user_id).where(ResidentProfile.phone_enc.is_(None))
                                  ).scalars().all()
    for uid in profiles:
        number = f"31010719500101{uid % 10000:04d}"
        db.session.execute(sa.update(ResidentProfile).where(ResidentProfile.user_id == uid).values(
            phone_enc=privacy.encrypt(f"139{uid:08d}"), id_number_enc=privacy.encrypt(number)))
    db.session.commit()
    old_key = current_app.config.get("PII_KEY") or current_app.config["SECRET_KEY"]
    privacy.configure("bench-rotated-" + old_key, version=2, old_keys={1: old_key},
                      hash_secret=current_app.config.get("PII_HASH_KEY"))
    values = key_rotation.remaining()
    t = time.perf_counter()
    report = key_rotation.rotate(batch=500)
    out["rotating the personal-data key"] = {**summary([(time.perf_counter() - t) * 1000]), "values": values,
                                             "rewritten": sum(report.rewritten.values()),
                                             "left": key_rotation.remaining()}
    closing = reporters[-3:]
    times, changed = [], {}
    for uid, _cases in closing:
        closure = account_closure.request(people.load_actor(uid))
        db.session.commit()
        t = time.perf_counter()
        changed = account_closure.close(closure.id, closure.erase_at)
        times.append((time.perf_counter() - t) * 1000)
    out["closing one account"] = {**summary(sorted(times)), "cases_reported": [c for _, c in closing],
                                  "last_changed": {k: v for k, v in (changed or {}).items() if v}}
    return {"mixed.privacy": out}


def _one_database(ctx, kind: str) -> dict:
    from bench.cases import _size

    n = _size()
    t = time.monotonic()
    if kind == "postgresql":
        template = _template_url(os.environ.get("BENCH_DATABASE_URL") or PG_DEFAULT)
        redis_url = os.environ.get("BENCH_REDIS_URL") or (REDIS_DEFAULT if _reachable("127.0.0.1", 6379) else None)
        env = _postgres_copy(ctx, n, template, redis_url)
    else:
        env, redis_url = _sqlite_copy(ctx, n), None
    try:
        from bench import life_circle, meals, voting

        _say(ctx, f"{kind}: the rest of the district's data")
        state = run_setup(env, [("life_circle", life_circle.setup), ("meals", meals.setup),
                                ("voting", voting.setup), ("diners", _diner_ids), ("population", _population)],
                          timeout=3600)
        if kind == "postgresql":   # as autovacuum leaves tables in use: statistics and visibility maps
            _vacuum(env.env["DATABASE_URL"])
        prepared = time.monotonic() - t
        result = {"database": env.database_url_redacted, "redis": redact(redis_url) if redis_url else None,
                  "cases": n, "prepare_seconds": round(prepared, 1),
                  "data": {"facilities": state.get("life_circle.n"), "residents": len(state["mixed.residents"]),
                           "follows": state["mixed.follows"], "notifications": state["mixed.notifications"],
                           "units": state["voting"]["units"], "bookings_to_cancel": len(state["mixed.cancel"]),
                           "slots": len(state["mixed.slots"]),
                           "bookable_slots": len(state["mixed.bookable"]) + CANCEL_SLOTS}}
        result["http"] = _http(ctx, env, state)
        _say(ctx, f"{kind}: list endpoints in-process")
        result["lists"] = run_setup(env, [("lists", functools.partial(_lists, state=state))], timeout=900)["mixed.lists"]
        _say(ctx, f"{kind}: a copy of one's data and closing accounts, in-process")
        result["privacy"] = run_setup(env, [("privacy", functools.partial(_privacy, state=state))],
                                      timeout=900)["mixed.privacy"]
        return result
    finally:
        if os.environ.get("BENCH_MIXED_KEEP"):   # for profiling: keep the database and say where it is
            keep = Path(env.tmpdir).parent / f"linli-mixed-{kind}.json"
            keep.write_text(json.dumps({"env": env.env, "state": state if "state" in locals() else None}))
            _say(ctx, f"kept {env.database_url_redacted}; its environment and state in {keep}")
        else:
            if kind == "postgresql":
                _drop_postgres(env)
            env.cleanup()


def _databases() -> list[str]:
    wanted = os.environ.get("BENCH_MIXED_DATABASES")
    if wanted:
        return [w.strip() for w in wanted.split(",") if w.strip()]
    kinds = []
    if os.environ.get("BENCH_DATABASE_URL", "").startswith("postgres") or _reachable("127.0.0.1", 5432):
        kinds.append("postgresql")
    return kinds + ["sqlite"]


def run(ctx) -> dict:
    runs = {kind: _one_database(ctx, kind) for kind in _databases()}
    goals, problems = {}, []
    for kind, r in runs.items():
        for name, goal in r["http"]["goals"].items():
            goals[f"{kind}: {name}"] = {"minimum": 1.0, "median": 1.0 if goal["met"] else 0.0, "met": goal["met"],
                                        "measured": goal["measured"]}
        for name, timing in r["lists"].items():
            if "p95_ms" not in timing:
                problems.append(f"{kind}: list {name} answered {timing.get('status')}")
        if kind == "postgresql":
            slow = {name: t["p95_ms"] for name, t in r["lists"].items() if "p95_ms" in t and not t["met"]}
            goals[f"{kind}: every list p95 ≤ {LIST_P95_MS:g} ms"] = {"minimum": 1.0, "median": 0.0 if slow else 1.0,
                                                                      "met": not slow, "measured": slow}
    result = {"kind": "printed", "settings": {"rounds": 1, "about": f"{WORKERS} workers, {CONNECTIONS} connections, "
                                                 f"{MIX_SECONDS:g}s of the mix"},
              "runs": runs, "timings_ms": {}, "ratios": {}, "goals": goals, "valid": not problems, "problems": problems}
    _print(result)
    return result


def _print(result: dict) -> None:
    for kind, r in result["runs"].items():
        h = r["http"]
        print(f"\n== mixed load on {kind} ({r['database']}; Redis {r['redis'] or 'off'}) — "
              f"{r['cases']:,} cases, prepared in {r['prepare_seconds']}s ==")
        print(f"{'endpoint':<20} {'req':>7} {'req/s':>7} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}  errors")
        for label, e in list(h["endpoints"].items()) + [("OVERALL", h["overall"])]:
            print(f"{label:<20} {e['requests']:>7,} {e['rps']:>7,.1f} {e['p50_ms']:>8.2f} {e['p95_ms']:>8.2f} "
                  f"{e['p99_ms']:>8.2f} {e['max_ms']:>8.1f}  {e['errors']}"
                  + (f" {e.get('error_kinds')}" if e.get("error_kinds") else ""))
        print(f"/me floor {h['floor_rps']} req/s; mix ÷ floor {h['ratio_mix_to_me']:.3f} (median of the rounds "
              f"{h['round_ratios']}); "
              f"tracebacks in the log {h['tracebacks_in_log']}; load generator CPU {h['client_cpu_share']}")
        for name, g in h["goals"].items():
            print(f"goal  {name}: {'met' if g['met'] else 'NOT met'} ({g['measured']})")
        print(f"{'list (in-process)':<28} {'items':>5} {'p50 ms':>8} {'p95 ms':>8}")
        for name, t in r["lists"].items():
            if "p95_ms" in t:
                print(f"{name:<28} {t['items'] if t['items'] is not None else '—':>5} {t['p50_ms']:>8.2f} "
                      f"{t['p95_ms']:>8.2f}{'' if t['met'] else '  > ' + str(LIST_P95_MS)}")
            else:
                print(f"{name:<28} answered {t['status']}: {t['error'][:120]}")
        for name, t in r.get("privacy", {}).items():
            extra = {k: v for k, v in t.items() if k not in ("runs", "p50_ms", "min_ms", "max_ms")}
            print(f"{name:<32} p50 {t['p50_ms']:>8.1f} ms (min {t['min_ms']}, max {t['max_ms']}, {t['runs']} runs) "
                  f"{extra}")


register(Benchmark("mixed", run=run, order=900,
                   description="a district's mixed load on PostgreSQL + Redis and on SQLite, and the list endpoints"))
