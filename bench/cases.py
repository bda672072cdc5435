"""The cases benchmark: the staff queue, the metrics and the overdue sweep at scale, and case creation.

Goals (cases issue), with a generated data set of 1,000,000 cases over 10 streets
(``bench/gen_cases.py``; ``BENCH_CASES`` scales it, e.g. 100000 for a quick run):

1. in-process ``staff_queue`` — the first page and a deep page (cursor after 50 pages),
   for a neighbourhood-scoped and a street-scoped staff member: p95 ≤ 10 ms
   (200 calls each, interleaved, a fresh session per call as in a request);
2. over HTTP, ``GET /api/v1/cases`` (first page, deep cursor) ≥ 60% of the authenticated
   floor's requests/s (``GET /api/v1/me``, ``ctx.auth_floor``) measured in the same rounds;
3. ``service.cases.metrics.compute`` for one street-month: ≤ 300 ms (median of runs);
4. ``service.cases.reminders.overdue`` with 1,000 due cases: ≤ 200 ms (median of runs;
   the sweep's writes are undone between runs);
5. case creation, ``POST /api/v1/cases`` with 2 gunicorn workers on a fresh SQLite file:
   ≥ 200 creations/s with zero errors (any non-201, e.g. a 5xx from "database is locked").
   Rate limiting is DISABLED on that server (RATELIMIT_ENABLED=false): the production
   limit (RATELIMIT_CREATE, 60 per minute per client) would otherwise answer 429.

On SQLite the generated file is cached under ``bench/results/cache/`` and copied into the
run's temporary directory; a second gunicorn (same settings and secrets as the main one)
serves the copy, and the authenticated floor is also measured on it (``me.cases_db``) as a
cross-check. With ``BENCH_DATABASE_URL`` (PostgreSQL) the data set lives in that database and
the main server serves it. Goals that are not ratios are reported as "budget ÷ measured ≥ 1"
so that ``bench.run --check`` treats them like the others. The in-process part also records
the query plans of the queue's statements (EXPLAIN QUERY PLAN / EXPLAIN ANALYZE).
"""
from __future__ import annotations

import functools
import importlib
import json
import os
import shutil
import statistics
import time
from datetime import datetime, time as dtime, timedelta, timezone
from pathlib import Path

from bench import Benchmark, register
from bench.http import (Environment, GunicornServer, ServerSettings, Target, measure, migrate, percentile,
                        production_environment, redact, report, run_setup, simple_get)

QUEUE_P95_MS = 10.0
QUEUE_RATIO = 0.60
METRICS_MS = 300.0
SWEEP_MS = 200.0
CREATE_RPS = 200.0
CALLS = 200
DEEP_PAGES = 50


def _size() -> int:
    return int(os.environ.get("BENCH_CASES") or 1_000_000)


def _say(ctx, message: str) -> None:
    (ctx.progress or print)(message)


# --- in-process (runs in a child with the data set's environment) --------------------------------------

def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def _stats(values: list[float]) -> dict:
    ordered = sorted(values)
    return {"n": len(values), "p50_ms": round(percentile(ordered, 50), 3), "p95_ms": round(percentile(ordered, 95), 3),
            "min_ms": round(ordered[0], 3), "max_ms": round(ordered[-1], 3),
            "mean_ms": round(statistics.fmean(values), 3)} if values else {"n": 0}


def _capture(engine):
    """Statements and parameters the next calls execute (for EXPLAIN)."""
    import sqlalchemy as sa

    captured: list[tuple[str, object]] = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        captured.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", listener)
    return captured, lambda: sa.event.remove(engine, "before_cursor_execute", listener)


def _explain(engine, statements) -> list[dict]:
    plans = []
    with engine.connect() as conn:
        for statement, parameters in statements:
            if not statement.lstrip().upper().startswith("SELECT") or 'FROM "case"' not in statement:
                continue
            if conn.dialect.name == "sqlite":
                rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
                plan = [row[-1] for row in rows]
            else:
                rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).all()
                plan = [row[0] for row in rows]
            plans.append({"sql": " ".join(statement.split())[:1200], "plan": plan})
        conn.rollback()
    return plans


def _in_process(app, state, *, meta: dict) -> dict:
    import sqlalchemy as sa

    from api.security import issue_tokens
    from models.base import db
    from models.cases import Case, CaseEvent
    from models.notifications import Delivery, Notification
    from models.people import ResidentProfile, User
    from service import people, privacy
    from service.cases import queries

    say = functools.partial(print, "  [in-process]", flush=True)
    out: dict = {}
    engine = db.engine

    # Accounts and tokens for the HTTP part (minted with this server's secrets).
    phone = "13800138001"
    resident = User(username=f"bench-cases-{os.getpid()}-{int(time.time())}", nickname="压测居民")
    db.session.add(resident)
    db.session.flush()
    db.session.add(ResidentProfile(user_id=resident.id, name="李四", phone_enc=privacy.encrypt(phone),
                                   phone_hash=privacy.lookup_hash(phone), phone_verified=True))
    db.session.commit()
    actors = {"nb": people.load_actor(meta["staff_nb_id"]), "street": people.load_actor(meta["staff_street_id"])}
    tokens = {name: issue_tokens(a.user_id, people.token_roles(a), second_factor=True)["access_token"] for name, a in actors.items()}
    tokens["resident"] = issue_tokens(resident.id, people.token_roles(people.load_actor(resident.id)), second_factor=True)["access_token"]
    db.session.remove()

    # Cursors: a deep page (after DEEP_PAGES pages) and the last page of the neighbourhood's queue.
    cursors: dict[str, str | None] = {}
    walked = {}
    for name, actor in actors.items():
        cursor, pages, last = None, 0, None
        while True:
            rows, following = queries.staff_queue(actor, cursor=cursor)
            pages += 1
            if pages == DEEP_PAGES + 1:
                cursors[f"{name}.deep"] = cursor
                if name == "street":
                    break
            if following is None:
                last = cursor
                break
            cursor = following
            db.session.remove()
        db.session.remove()
        walked[name] = pages
        if name == "nb":
            cursors["nb.last"] = last
    out["queue_pages_walked"] = walked
    open_in_scope = {}
    for name, actor in actors.items():
        scope = (Case.neighbourhood_id.in_(actor.neighbourhood_ids) if not actor.street_ids
                 else Case.street_id.in_(actor.street_ids))
        open_in_scope[name] = db.session.execute(sa.select(sa.func.count()).where(
            scope, Case.due_at.is_not(None))).scalar_one()
    db.session.remove()
    out["open_cases_in_scope"] = open_in_scope
    say(f"open cases in scope {open_in_scope}; pages walked {walked}")

    targets = {"queue.nb.first": (actors["nb"], None), "queue.nb.deep": (actors["nb"], cursors.get("nb.deep")),
               "queue.street.first": (actors["street"], None),
               "queue.street.deep": (actors["street"], cursors.get("street.deep")),
               "queue.nb.last_page": (actors["nb"], cursors.get("nb.last"))}
    targets = {k: v for k, v in targets.items() if k.endswith("first") or v[1] is not None}
    timings = {name: [] for name in targets}
    rows_seen = {}
    for name, (actor, cursor) in targets.items():   # warm-up and the page sizes
        rows, _ = queries.staff_queue(actor, cursor=cursor)
        rows_seen[name] = len(rows)
        db.session.remove()
    for _ in range(CALLS):
        for name, (actor, cursor) in targets.items():
            timings[name].append(_timed(lambda: queries.staff_queue(actor, cursor=cursor)))
            db.session.remove()
    out["queue"] = {name: {**_stats(values), "rows": rows_seen[name]} for name, values in timings.items()}
    for name, s in out["queue"].items():
        say(f"{name}: p50 {s['p50_ms']:.2f} ms, p95 {s['p95_ms']:.2f} ms ({s['rows']} rows)")

    # The statements behind each page, and their plans.
    plans = {}
    for name, (actor, cursor) in targets.items():
        captured, stop = _capture(engine)
        try:
            queries.staff_queue(actor, cursor=cursor)
        finally:
            stop()
            db.session.remove()
        plans[name] = _explain(engine, captured)
    out["plans"] = plans

    # 3. metrics for one street-month (the month before the anchor's).
    anchor = datetime.fromisoformat(meta["anchor"])
    local = anchor.astimezone(timezone(timedelta(hours=8))).date()
    month_end = local.replace(day=1) - timedelta(days=1)
    month_start = month_end.replace(day=1)
    metrics = _optional("service.cases.metrics", "compute")
    if metrics is None:
        out["metrics"] = {"available": False, "note": "service.cases.metrics.compute is not available"}
        say("metrics: not available (service.cases.metrics.compute missing)")
    else:
        # The report as computed (service.cases.metrics keeps one for a minute: forgotten before each run).
        forget = _optional("service.cases.metrics", "forget") or (lambda: None)
        runs, grouped = [], []
        result = None
        for i in range(11):
            forget()
            t = time.perf_counter()
            result = metrics(actors["street"], street_id=meta["street_id"], date_from=month_start, date_to=month_end)
            elapsed = (time.perf_counter() - t) * 1000
            db.session.remove()
            if i:
                runs.append(elapsed)
        for i in range(4):
            forget()
            t = time.perf_counter()
            metrics(actors["street"], street_id=meta["street_id"], date_from=month_start, date_to=month_end,
                    group_by="category")
            elapsed = (time.perf_counter() - t) * 1000
            db.session.remove()
            if i:
                grouped.append(elapsed)
        volume = result["total"]["volume"] if result else None
        out["metrics"] = {"available": True, "period": [month_start.isoformat(), month_end.isoformat()],
                          "volume": volume, "plain": _stats(runs), "group_by_category": _stats(grouped)}
        say(f"metrics {month_start}..{month_end} ({volume} cases): median {statistics.median(runs):.1f} ms")

    # 4. the overdue sweep with the data set's due cases; its writes are undone after each run.
    overdue = _optional("service.cases.reminders", "overdue")
    if overdue is None:
        out["sweep"] = {"available": False, "note": "service.cases.reminders.overdue is not available"}
        say("overdue sweep: not available (service.cases.reminders.overdue missing)")
    else:
        from service.clock import SHANGHAI

        sweep_now = datetime.fromisoformat(meta["sweep_now"])
        day_start = datetime.combine(sweep_now.astimezone(SHANGHAI).date(), dtime(0, 0), tzinfo=SHANGHAI)
        due = db.session.execute(sa.select(Case.id, Case.escalation_level, Case.version, Case.updated_at).where(
            Case.due_at.is_not(None), Case.due_at < day_start, Case.escalation_level < 2)).all()
        marks = {model.__tablename__: db.session.execute(sa.select(sa.func.max(model.id))).scalar() or 0
                 for model in (CaseEvent, Notification, Delivery)}
        db.session.remove()

        def undo():
            db.session.execute(sa.delete(Delivery).where(Delivery.id > marks["delivery"]))
            db.session.execute(sa.delete(Notification).where(Notification.id > marks["notification"]))
            db.session.execute(sa.delete(CaseEvent).where(CaseEvent.id > marks["case_event"]))
            db.session.execute(sa.update(Case.__table__).where(Case.__table__.c.id == sa.bindparam("b_id")).values(
                escalation_level=sa.bindparam("b_level"), version=sa.bindparam("b_version"),
                updated_at=sa.bindparam("b_updated")),
                [{"b_id": r.id, "b_level": r.escalation_level, "b_version": r.version, "b_updated": r.updated_at}
                 for r in due])
            db.session.commit()
            db.session.remove()

        runs, counts = [], None
        try:
            for i in range(8):
                t = time.perf_counter()
                counts = overdue(now=sweep_now)
                elapsed = (time.perf_counter() - t) * 1000
                db.session.remove()
                undo()
                if i:
                    runs.append(elapsed)
        finally:
            db.session.remove()
        out["sweep"] = {"available": True, "now": sweep_now.isoformat(), "due_cases": len(due), "result": counts,
                        **_stats(runs)}
        say(f"overdue sweep ({len(due)} due): median {statistics.median(runs):.1f} ms, result {counts}")
    out["tokens"] = tokens
    out["cursors"] = cursors
    return {"cases.in_process": out}


def _optional(module: str, name: str):
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


# --- creation (a fresh small SQLite database) ------------------------------------------------------------

CREATE_PLACES = [(31.2703, 121.4086), (31.2713, 121.4121), (31.2636, 121.4031), (31.2659, 121.4009)]
CREATE_CATEGORIES = ("corridor_clutter", "garbage", "street_vending", "noise", "property_service", "streetlight")


def _creation_setup(app, state) -> dict:
    from api.security import issue_tokens
    from models.base import db
    from models.people import ResidentProfile, RoleAssignment, User
    from models.places import Area, District, Neighbourhood, Street
    from service import people, privacy

    district = District(code="310107", name="普陀区")
    db.session.add(district)
    db.session.flush()
    street = Street(code="310107-WL", district_id=district.id, name="万里街道", prefix="WL", lat=31.2665, lng=121.4075)
    db.session.add(street)
    db.session.flush()
    area = Area(code="310107-WL-XQPQ", street_id=street.id, name="香泉片区")
    db.session.add(area)
    db.session.flush()
    for i, (lat, lng) in enumerate(CREATE_PLACES, start=1):
        nb = Neighbourhood(code=f"310107-WL-N{i}", street_id=street.id, area_id=area.id, name=f"演示{i}居民区",
                           committee_name=f"演示{i}居委会", lat=lat, lng=lng)
        db.session.add(nb)
        db.session.flush()
        head = User(username=f"create.head.{i}", nickname="居委会主任")
        db.session.add(head)
        db.session.flush()
        db.session.add(RoleAssignment(user_id=head.id, role="staff", scope_type="neighbourhood", scope_id=nb.id,
                                      title="nc_head"))
    phone = "13800138002"
    user = User(username="create.resident", nickname="压测居民")
    db.session.add(user)
    db.session.flush()
    db.session.add(ResidentProfile(user_id=user.id, name="王五", phone_enc=privacy.encrypt(phone),
                                   phone_hash=privacy.lookup_hash(phone), phone_verified=True))
    db.session.commit()
    token = issue_tokens(user.id, people.token_roles(people.load_actor(user.id)), second_factor=True)["access_token"]
    db.session.rollback()
    return {"create.token": token}


def _create_factory(token: str):
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def create_case(i: int):
        lat, lng = CREATE_PLACES[i % len(CREATE_PLACES)]
        body = {"category": CREATE_CATEGORIES[i % len(CREATE_CATEGORIES)],
                "description": f"压测诉求{i}：{i % 30 + 1}号楼楼道堆放杂物，影响通行，请处理。",
                "location": {"lat": lat + (i % 7 - 3) * 0.0002, "lng": lng + (i % 5 - 2) * 0.0002, "datum": "gcj02"},
                "address": f"{i % 30 + 1}号楼"}
        return "POST", "/api/v1/cases", headers, json.dumps(body, ensure_ascii=False).encode()

    return create_case


def _creation(ctx) -> dict:
    settings = ctx.server.settings
    environment = production_environment(database_url="sqlite:///" + str(Path(ctx.server.environment.tmpdir) / "create.db"),
                                         ratelimit_enabled=False)
    try:
        migrate(environment)
        state = run_setup(environment, [("cases.create", _creation_setup)])
        server_settings = ServerSettings(workers=2, worker_class=settings.worker_class, threads=settings.threads,
                                         keepalive=settings.keepalive)
        with GunicornServer(environment, server_settings) as server:
            _say(ctx, f"creation: gunicorn (2 workers) on a fresh SQLite file, port {server.port}, rate limit off")
            target = Target(factory=_create_factory(state["create.token"]), expect=201)
            m = measure(server.port, {"create": target}, rounds=3, seconds=max(3.0, ctx.options["seconds"] + 1),
                        connections=ctx.options["connections"], warmup=2.0, progress=ctx.progress)
            log = server.log_tail(2_000_000)
        summary = m.summary("create")
        locked = log.lower().count("database is locked")
        tracebacks = log.count("Traceback")
        rps = summary["rps"]["median"] or 0.0
        return {"server": {**server_settings.describe(), "database": "sqlite (fresh file)", "ratelimit_enabled": False},
                "rounds": m.settings, "rps": summary["rps"], "p50_ms": summary["p50_ms"], "p99_ms": summary["p99_ms"],
                "requests": summary["requests"], "errors": summary["errors"],
                "statuses": _merge_statuses(summary["rounds"]), "database_locked_in_log": locked,
                "tracebacks_in_log": tracebacks, "created_per_s_median": rps,
                "goal": {"min_rps": CREATE_RPS, "met": rps >= CREATE_RPS and summary["errors"] == 0 and locked == 0}}
    finally:
        environment.cleanup()


def _merge_statuses(rounds: list[dict]) -> dict:
    merged: dict[str, int] = {}
    for r in rounds:
        for status, n in r["statuses"].items():
            merged[status] = merged.get(status, 0) + n
        for kind, n in r["error_kinds"].items():
            merged[f"error:{kind}"] = merged.get(f"error:{kind}", 0) + n
    return merged


# --- the benchmark ---------------------------------------------------------------------------------------------

def data_environment(ctx, directory: str = "cases") -> tuple[Environment, dict]:
    """The generated data set of this run's database (SQLite: the cached file copied into the run's directory;
    PostgreSQL: generated once into BENCH_DATABASE_URL) and its description."""
    from bench import gen_cases

    n = _size()
    main = ctx.server.environment
    if main.database == "sqlite":
        cache, meta = gen_cases.ensure_sqlite(n, main.env, progress=functools.partial(_say, ctx))
        workdir = Path(main.tmpdir) / directory
        workdir.mkdir(exist_ok=True)
        copy = workdir / "cases.db"
        t = time.monotonic()
        shutil.copyfile(cache, copy)
        _say(ctx, f"data set: {cache.name} ({cache.stat().st_size / 1e6:,.0f} MB) copied in "
                  f"{time.monotonic() - t:.1f}s")
        url = f"sqlite:///{copy}"
        data_env = Environment(env=dict(main.env, DATABASE_URL=url), database="sqlite",
                               database_url_redacted=redact(url), tmpdir=workdir)
        migrate(data_env)   # a no-op unless the cache predates a migration
    else:
        meta = gen_cases.ensure_database(main.env["DATABASE_URL"], n, progress=functools.partial(_say, ctx))
        data_env = main
    return data_env, meta


def run(ctx):
    main = ctx.server.environment
    started = time.monotonic()
    data_env, meta = data_environment(ctx)
    dataset = {k: v for k, v in meta.items() if k != "street_ids"}
    dataset["prepare_seconds"] = round(time.monotonic() - started, 1)

    _say(ctx, "in-process: staff queue, metrics, overdue sweep")
    inproc = run_setup(data_env, [("cases.in_process", functools.partial(_in_process, meta=meta))],
                       timeout=3600)["cases.in_process"]
    tokens, cursors = inproc.pop("tokens"), inproc.pop("cursors")

    # 2. over HTTP.
    own_server = data_env is not main
    server = GunicornServer(data_env, ctx.server.settings) if own_server else ctx.server
    if own_server:
        server.start()
    try:
        port = server.port
        nb, street = tokens["nb"], tokens["street"]
        targets = {"me": ctx.auth_floor}
        if own_server:
            targets["me.cases_db"] = Target.get("/api/v1/me", token=tokens["resident"], port=port)
        targets["queue.nb.first"] = Target.get("/api/v1/cases", token=nb, port=port)
        if cursors.get("nb.deep"):
            targets["queue.nb.deep"] = Target.get(f"/api/v1/cases?cursor={cursors['nb.deep']}", token=nb, port=port)
        targets["queue.street.first"] = Target.get("/api/v1/cases", token=street, port=port)
        if cursors.get("street.deep"):
            targets["queue.street.deep"] = Target.get(f"/api/v1/cases?cursor={cursors['street.deep']}", token=street,
                                                      port=port)
        for name, target in targets.items():
            status, body = simple_get(target.port or ctx.port, target.path, target.headers)
            if status != 200:
                raise RuntimeError(f"{name}: GET {target.path} answered {status}: {body[:300]!r}")
            if name.startswith("queue") and not json.loads(body)["items"]:
                raise RuntimeError(f"{name}: the page is empty")
        m = ctx.measure(targets)
    finally:
        if own_server:
            server.stop()
    queue_names = [t for t in targets if t.startswith("queue")]
    ratios = {f"{t}/me": m.ratio(t, "me") for t in queue_names}
    if own_server:
        ratios.update({f"{t}/me.cases_db": m.ratio(t, "me.cases_db") for t in queue_names})
        ratios["me.cases_db/me"] = m.ratio("me.cases_db", "me")
    result = report(m, ratios, {f"{t}/me": QUEUE_RATIO for t in queue_names})

    # 5. creation.
    _say(ctx, "creation over HTTP")
    creation = _creation(ctx)

    # Non-ratio goals as "budget ÷ measured ≥ 1".
    goals = result["goals"]

    def budget(name: str, limit: float, measured: float | None, unit: str = "ms") -> None:
        value = (limit / measured) if measured else None
        goals[f"{name} ({limit:g} {unit} ÷ measured)"] = {"minimum": 1.0, "median": value,
                                                          "measured": measured, "limit": limit,
                                                          "met": value is not None and value >= 1.0}

    for name in ("queue.nb.first", "queue.nb.deep", "queue.street.first", "queue.street.deep"):
        if name in inproc["queue"]:
            budget(f"in-process {name} p95", QUEUE_P95_MS, inproc["queue"][name]["p95_ms"])
    if inproc["metrics"].get("available"):
        budget("metrics street-month median", METRICS_MS, inproc["metrics"]["plain"]["p50_ms"])
    if inproc["sweep"].get("available"):
        budget("overdue sweep median", SWEEP_MS, inproc["sweep"]["p50_ms"])
    goals[f"creation ≥ {CREATE_RPS:g}/s, zero errors (measured/s ÷ {CREATE_RPS:g})"] = {
        "minimum": 1.0, "median": creation["created_per_s_median"] / CREATE_RPS,
        "met": creation["goal"]["met"], "errors": creation["errors"],
        "database_locked_in_log": creation["database_locked_in_log"]}
    result.update({"dataset": dataset, "in_process": inproc, "creation": creation,
                   "http_server": {"own_server_for_data_set": own_server, "database": data_env.database_url_redacted}})
    _print_summary(result)
    return result


def _print_summary(result: dict) -> None:
    d = result["dataset"]
    lines = [f"\n== cases: data set {d['cases']:,} cases ({d.get('open', 0):,} open, {d.get('overdue_at_anchor', 0):,} "
             f"overdue at the anchor), {d['streets']} streets × {d['neighbourhoods_per_street']} neighbourhoods, "
             f"{d['database']}, {'cached' if d.get('cached') else 'generated in ' + str(d.get('seconds')) + 's'} =="]
    for name, s in result["in_process"]["queue"].items():
        lines.append(f"in-process {name:<22} p50 {s['p50_ms']:7.2f} ms  p95 {s['p95_ms']:7.2f} ms  "
                     f"max {s['max_ms']:7.2f} ms  ({s['n']} calls, {s['rows']} rows)")
    metrics = result["in_process"]["metrics"]
    if metrics.get("available"):
        lines.append(f"metrics street-month ({metrics['volume']} cases): p50 {metrics['plain']['p50_ms']:.1f} ms  "
                     f"p95 {metrics['plain']['p95_ms']:.1f} ms; grouped by category p50 "
                     f"{metrics['group_by_category']['p50_ms']:.1f} ms")
    else:
        lines.append(f"metrics: {metrics['note']}")
    sweep = result["in_process"]["sweep"]
    if sweep.get("available"):
        lines.append(f"overdue sweep ({sweep['due_cases']} due): p50 {sweep['p50_ms']:.1f} ms  p95 "
                     f"{sweep['p95_ms']:.1f} ms  result {sweep['result']}")
    else:
        lines.append(f"overdue sweep: {sweep['note']}")
    c = result["creation"]
    lines.append(f"creation: {c['created_per_s_median']:.0f}/s median [{c['rps']['min']:.0f}–{c['rps']['max']:.0f}], "
                 f"p50 {c['p50_ms']['median']:.1f} ms, p99 {c['p99_ms']['median']:.1f} ms, {c['requests']} requests, "
                 f"{c['errors']} errors, 'database is locked' in log: {c['database_locked_in_log']}, statuses "
                 f"{c['statuses']}")
    print("\n".join(lines), flush=True)


register(Benchmark("cases", run=run, order=50,
                   description="staff queue (in-process and HTTP), metrics, overdue sweep at 10⁶ cases; creation/s"))
