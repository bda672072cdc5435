"""The elder-care devices benchmark (issue 19 goals), on 10,000 elders with 4 devices each (water meter, door sensor,
motion sensor, smoke detector) from one vendor, across 20 neighbourhoods of one street.

Set-up (in the server's database, before gunicorn starts; generated once into ``BENCH_DATABASE_URL`` and found
again, the devices' state and the vendor's events reset each run): 1 % of the elders have been quiet for 13 hours
(water and motion), so the no-activity sweep has alarms to open.

1. Ingestion over real HTTP: every device posting one signed event every 5 minutes (40,000 devices: 133 requests
   a second, one event each, open loop: each request leaves at its scheduled moment) for ``MEASURED_S`` seconds
   after ``WARMUP_S``: p50/p95/p99 per event, from the request leaving to its answer: p99 ≤ 50 ms on PostgreSQL.
2. The no-activity evaluation over all elders (``devices.quiet_elders``, the sweep's two statements, in-process):
   ≤ 1 s (median of 5); the sweep itself (opening the quiet elders' alarms) is reported beside it.
3. An alarm's first notification: four smoke alarms posted during the load, from the moment each request left to
   the first notification row its alarm produced (the ladder's step 0): ≤ 5 s.

    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/linli_care_bench \\
        python -m bench.run care --rounds 1 --seconds 1 --warmup 0
"""
from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import statistics
import threading
import time
from datetime import datetime, timedelta, timezone

from bench import Benchmark, register
from bench.http import HOST, percentile

GEN_CODE = "carebench1"
ELDERS_PG, ELDERS_SQLITE = 10_000, 1_000
NEIGHBOURHOODS = 20
KINDS = ("water", "door", "motion", "smoke")
EVERY_S = 300                      # each device posts every 5 minutes
WARMUP_S, MEASURED_S = 5.0, 60.0
CLIENT_THREADS = 32
P99_MS, SWEEP_S, FIRST_NOTICE_S = 50.0, 1.0, 5.0
QUIET_SHARE = 100                  # one elder in 100 quiet for 13 hours
PROBES = 4


def _generate(count: int):
    """The street, its neighbourhoods and staff, the elders and their devices (bulk inserts); the street's id."""
    import sqlalchemy as sa

    from models.base import db
    from models.care import Device, Elder, Vendor
    from models.people import ResidentProfile, RoleAssignment, User
    from models.places import District, Neighbourhood, Street
    from service import privacy

    district = District(code=GEN_CODE, name="普陀区")
    db.session.add(district)
    db.session.flush()
    street = Street(code=GEN_CODE, district_id=district.id, name="万里街道（关爱压测）", prefix="CB")
    db.session.add(street)
    db.session.flush()
    nbs = [Neighbourhood(code=f"{GEN_CODE}n{i}", street_id=street.id, name=f"关爱居民区{i}", committee_name=f"居委会{i}")
           for i in range(NEIGHBOURHOODS)]
    db.session.add_all(nbs)
    db.session.flush()
    staff = []
    for nb in nbs:
        user = User(username=f"{GEN_CODE}.staff.{nb.id}", nickname="居委干部")
        db.session.add(user)
        db.session.flush()
        db.session.add(RoleAssignment(user_id=user.id, role="staff", scope_type="neighbourhood", scope_id=nb.id))
        staff.append(user.id)
    vendor = Vendor(code=GEN_CODE, name="压测物联", secret_enc=privacy.encrypt("replaced-each-run"))
    db.session.add(vendor)
    db.session.flush()
    first = db.session.execute(sa.select(sa.func.coalesce(sa.func.max(User.id), 0))).scalar() + 1
    db.session.execute(sa.insert(User), [{"id": first + i, "nickname": "老人", "is_active": True, "is_demo": False}
                                         for i in range(count)])
    if db.engine.dialect.name == "postgresql":
        db.session.execute(sa.text("SELECT setval(pg_get_serial_sequence('\"user\"', 'id'), "
                                   "(SELECT max(id) FROM \"user\"))"))
    now = datetime.now(timezone.utc)
    db.session.execute(sa.insert(ResidentProfile), [{
        "user_id": first + i, "name": f"老人{i}", "neighbourhood_id": nbs[i % NEIGHBOURHOODS].id,
        "phone_enc": privacy.encrypt(f"139{i:08d}"), "phone_verified": True} for i in range(count)])
    db.session.execute(sa.insert(Elder), [{
        "user_id": first + i, "neighbourhood_id": nbs[i % NEIGHBOURHOODS].id, "street_id": street.id,
        "living": "alone", "risk_tier": 1 + i % 3, "verified_by": staff[i % NEIGHBOURHOODS], "verified_at": now,
        "verified_on": "home_visit", "status": "active", "created_at": now, "updated_at": now} for i in range(count)])
    elders = db.session.execute(sa.select(Elder.id).where(Elder.street_id == street.id)
                                .order_by(Elder.id)).scalars().all()
    rows = [{"elder_id": e, "vendor_id": vendor.id, "vendor_ref": f"CB-{e}-{kind}", "kind": kind,
             "installed_at": now - timedelta(days=30)} for e in elders for kind in KINDS]
    for chunk in range(0, len(rows), 10_000):
        db.session.execute(sa.insert(Device), rows[chunk:chunk + 10_000])
    db.session.commit()
    return street.id


def setup(app, state):
    import secrets

    import sqlalchemy as sa

    from models.base import db
    from models.care import Alarm, AlarmStep, Contact, Device, DeviceEvent, Elder, Vendor
    from models.people import User
    from models.places import Street
    from service import clock, privacy
    from service.care import devices, reminders

    postgres = db.engine.dialect.name == "postgresql"
    count = ELDERS_PG if postgres else ELDERS_SQLITE
    began = time.perf_counter()
    street_id = db.session.execute(sa.select(Street.id).where(Street.code == GEN_CODE)).scalar()
    generated = street_id is None
    if generated:
        street_id = _generate(count)
    built_s = time.perf_counter() - began
    vendor = db.session.execute(sa.select(Vendor).where(Vendor.code == GEN_CODE)).scalar_one()
    secret = secrets.token_hex(32)
    vendor.secret_enc, vendor.revoked_at = privacy.encrypt(secret), None
    elder_ids = sa.select(Elder.id).where(Elder.street_id == street_id).scalar_subquery()
    alarm_ids = sa.select(Alarm.id).where(Alarm.elder_id.in_(elder_ids)).scalar_subquery()
    # A fresh run: the vendor's events and the street's alarms gone, every device heard from within 5 minutes
    # and active within 5 minutes, except one elder in a hundred, quiet (water and motion) for 13 hours.
    db.session.execute(sa.delete(DeviceEvent).where(DeviceEvent.vendor_id == vendor.id))
    db.session.execute(sa.delete(AlarmStep).where(AlarmStep.alarm_id.in_(alarm_ids)))
    db.session.execute(sa.delete(Alarm).where(Alarm.elder_id.in_(elder_ids)))
    now = clock.now()
    table = Device.__table__
    db.session.execute(table.update().where(table.c.vendor_id == vendor.id).values(
        removed_at=None, maintenance_at=None, last_seen_at=now - timedelta(seconds=60),
        last_activity_at=now - timedelta(seconds=120)))
    quiet_ids = sa.select(Elder.id).where(Elder.street_id == street_id, sa.func.mod(Elder.id, QUIET_SHARE) == 0)
    db.session.execute(table.update().where(table.c.elder_id.in_(quiet_ids), table.c.kind.in_(("water", "motion")))
                       .values(last_activity_at=now - timedelta(hours=13)))
    rows = db.session.execute(sa.select(Device.vendor_ref, Device.kind, Device.elder_id)
                              .where(Device.vendor_id == vendor.id).order_by(Device.id)).all()
    # The probes: smoke detectors of elders in distinct neighbourhoods, each with a relative to reach.
    probes = []
    seen_nb = set()
    for elder_id, nb_id, user_id in db.session.execute(
            sa.select(Elder.id, Elder.neighbourhood_id, Elder.user_id).where(
                Elder.street_id == street_id, sa.func.mod(Elder.id, QUIET_SHARE) != 0).order_by(Elder.id).limit(200)):
        if nb_id in seen_nb or len(probes) == PROBES:
            continue
        seen_nb.add(nb_id)
        probes.append(f"CB-{elder_id}-smoke")
        if not db.session.execute(sa.select(Contact.id).where(Contact.elder_id == elder_id)).first():
            relative = User(nickname="家属")
            db.session.add(relative)
            db.session.flush()
            db.session.add(Contact(elder_id=elder_id, position=1, name="女儿", relation="child",
                                   phone_enc=privacy.encrypt("13800000000"), user_id=relative.id))
    db.session.commit()
    if postgres:
        db.session.remove()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for name in ("care_device", "care_elder", "care_event", "care_alarm"):
                conn.exec_driver_sql(f"ANALYZE {name}")
    # The no-activity evaluation over every elder, then the sweep that opens the quiet ones' alarms.
    evaluation, due = [], 0
    for _ in range(6):
        db.session.remove()
        start = time.perf_counter()
        due = len(devices.quiet_elders(clock.now()))
        evaluation.append(time.perf_counter() - start)
    evaluation = evaluation[1:]
    db.session.remove()
    start = time.perf_counter()
    sweep = reminders.no_activity()
    sweep_s = time.perf_counter() - start
    db.session.remove()
    start = time.perf_counter()
    after = reminders.no_activity()
    after_s = time.perf_counter() - start
    devices_total = len(rows)
    return {"care": {"secret": secret, "vendor": GEN_CODE, "devices": [(r[0], r[1]) for r in rows],
                     "probes": probes, "elders": count, "generated": generated, "built_s": round(built_s, 1),
                     "evaluation_s": evaluation, "due": due, "sweep": sweep, "sweep_s": sweep_s,
                     "sweep_again": after, "sweep_again_s": after_s, "devices_total": devices_total,
                     "database_url": os.environ.get("DATABASE_URL", "")}}


def _post(conn: http.client.HTTPConnection, secret: bytes, vendor: str, events: list[dict]) -> tuple[int, dict | None]:
    body = json.dumps({"events": events}).encode()
    ts = str(int(time.time()))
    signature = hmac.new(secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    conn.request("POST", "/api/v1/care-events", body=body, headers={
        "Content-Type": "application/json", "X-Linli-Vendor": vendor, "X-Linli-Timestamp": ts,
        "X-Linli-Signature": signature})
    response = conn.getresponse()
    data = response.read()
    try:
        return response.status, json.loads(data)
    except ValueError:
        return response.status, None


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, timezone.utc).isoformat()


def _load(port: int, state: dict) -> dict:
    """Open loop: request i leaves at t0 + i / rate; each thread keeps one keep-alive connection."""
    secret, vendor, devices = state["secret"].encode(), state["vendor"], state["devices"]
    rate = len(devices) / EVERY_S
    total = int(rate * (WARMUP_S + MEASURED_S))
    probe_at = {int(rate * (WARMUP_S + MEASURED_S * (k + 0.5) / PROBES)): ref for k, ref in enumerate(state["probes"])}
    tag = f"r{int(time.time())}"
    lock = threading.Lock()
    counter = iter(range(total))
    latencies, late, errors, probes = [], [], [], []
    t0 = time.perf_counter() + 0.5
    wall0 = time.time() + 0.5

    def worker():
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            due = t0 + i / rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            ref, kind = devices[i % len(devices)]
            probe = probe_at.get(i)
            if probe is not None:
                ref, kind = probe, "smoke"
            event_kind = "alarm" if probe else ("heartbeat" if kind == "smoke" else "activity")
            event = {"id": f"{tag}-{i}", "device": ref, "kind": event_kind, "at": _iso(wall0 + (due - t0))}
            if event_kind == "heartbeat":
                event["value"] = 90
            sent, sent_wall = time.perf_counter(), time.time()
            try:
                status, body = _post(conn, secret, vendor, [event])
            except (OSError, http.client.HTTPException) as exc:
                errors.append(type(exc).__name__)
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=30)
                continue
            took = time.perf_counter() - sent
            if status != 200:
                errors.append(status)
            if probe:
                result = (body or {}).get("results", [{}])[0]
                probes.append({"ref": probe, "sent_wall": sent_wall, "status": status, "result": result.get("result"),
                               "alarm_id": result.get("alarm_id"), "answered_ms": round(took * 1000, 1)})
            if sent - t0 >= WARMUP_S:
                with lock:
                    latencies.append(took * 1000)
                    late.append(max(0.0, sent - due) * 1000)
        conn.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(CLIENT_THREADS)]
    cpu0 = time.process_time()
    for t in threads:
        t.start()
    for t in threads:
        t.join(WARMUP_S + MEASURED_S + 120)
    elapsed = time.perf_counter() - t0
    latencies.sort()
    late.sort()
    measured = len(latencies)
    return {"rate_wanted": round(rate, 1), "requests": total, "measured": measured,
            "rate_achieved": round(measured / MEASURED_S, 1), "elapsed_s": round(elapsed, 1), "errors": len(errors),
            "error_kinds": sorted({str(e) for e in errors})[:5],
            "p50_ms": round(percentile(latencies, 50), 2) if latencies else None,
            "p95_ms": round(percentile(latencies, 95), 2) if latencies else None,
            "p99_ms": round(percentile(latencies, 99), 2) if latencies else None,
            "max_ms": round(latencies[-1], 1) if latencies else None,
            "late_p99_ms": round(percentile(late, 99), 1) if late else None,
            "client_cpu_s": round(time.process_time() - cpu0, 1), "probes": probes, "tag": tag}


def _first_notifications(url: str, probes: list[dict]) -> list[dict]:
    """For each probe's alarm, from the moment its request left: the alarm's opening, its first ladder step that
    reached someone, and the first notification created for it (searched by the alarm's id in the
    notification's dedupe key or data)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    out = []
    try:
        with engine.connect() as conn:
            for probe in probes:
                alarm_id = probe.get("alarm_id")
                found = opened = step = None
                if alarm_id is not None:
                    step = conn.execute(sa.text("SELECT min(at) FROM care_alarm_step WHERE alarm_id = :id AND "
                                                "recipients > 0"), {"id": alarm_id}).scalar()
                    if step is not None and step.tzinfo is None:
                        step = step.replace(tzinfo=timezone.utc)
                    opened = conn.execute(sa.text("SELECT opened_at FROM care_alarm WHERE id = :id"),
                                          {"id": alarm_id}).scalar()
                    if opened is not None and opened.tzinfo is None:
                        opened = opened.replace(tzinfo=timezone.utc)
                    sent = datetime.fromtimestamp(probe["sent_wall"], timezone.utc)
                    found = conn.execute(sa.text(
                        "SELECT min(created_at) FROM notification WHERE created_at >= :sent AND "
                        "created_at <= :until AND kind LIKE 'care.%' AND kind <> 'care.maintenance' AND "
                        "(dedupe_key LIKE :key OR CAST(data AS TEXT) LIKE :key)"),
                        {"sent": sent - timedelta(seconds=1), "until": sent + timedelta(seconds=60),
                         "key": f"%{alarm_id}%"}).scalar()
                    if found is not None and found.tzinfo is None:
                        found = found.replace(tzinfo=timezone.utc)
                out.append({**probe, "first_notice_s": None if found is None
                            else round(max(0.0, found.timestamp() - probe["sent_wall"]), 3),
                            "opened_s": None if opened is None
                            else round(max(0.0, opened.timestamp() - probe["sent_wall"]), 3),
                            "first_step_s": None if step is None
                            else round(max(0.0, step.timestamp() - probe["sent_wall"]), 3)})
    finally:
        engine.dispose()
    return out


def run(ctx):
    state = ctx.state["care"]
    postgres = state["database_url"].startswith("postgres")
    if ctx.progress:
        ctx.progress(f"care: {len(state['devices']):,} devices posting every {EVERY_S}s for "
                     f"{WARMUP_S + MEASURED_S:g}s")
    load = _load(ctx.port, state)
    probes = _first_notifications(state["database_url"], load.pop("probes")) if state["database_url"] else []
    evaluation = statistics.median(state["evaluation_s"])
    notices = [p["first_notice_s"] for p in probes if p["first_notice_s"] is not None]
    goals = {
        f"ingestion p99 per event ({P99_MS:g} ms ÷ p99)": {
            "minimum": 1.0, "median": (P99_MS / load["p99_ms"]) if load["p99_ms"] else None,
            "measured": f"p50 {load['p50_ms']} / p95 {load['p95_ms']} / p99 {load['p99_ms']} ms at "
                        f"{load['rate_achieved']} events/s ({load['errors']} errors)",
            "met": bool(load["p99_ms"] is not None and load["p99_ms"] <= P99_MS and not load["errors"])},
        f"no-activity evaluation over every elder ({SWEEP_S:g} s ÷ median)": {
            "minimum": 1.0, "median": SWEEP_S / evaluation, "measured": f"{evaluation * 1000:.1f} ms",
            "met": evaluation <= SWEEP_S},
        f"an alarm's first notification ({FIRST_NOTICE_S:g} s ÷ slowest)": {
            "minimum": 1.0, "median": (FIRST_NOTICE_S / max(max(notices), 0.001)) if notices else None,
            "measured": (f"{', '.join(f'{s:.3f}' for s in notices)} s" if notices
                         else "no notification found for the probes' alarms (the ladder sent none)"),
            "met": bool(notices) and len(notices) == len(probes) and max(notices) <= FIRST_NOTICE_S},
    }
    if not postgres:
        for goal in goals.values():
            goal["met"] = True
            goal["measured"] += " (SQLite: goals are PostgreSQL's, not judged)"
    problems = [f"{load['errors']} failed requests {load['error_kinds']}"] if load["errors"] else []
    result = {"kind": "printed", "settings": {"rounds": 1, "about": f"{state['elders']:,} elders × 4 devices"},
              "load": load, "probes": probes, "timings_ms": {}, "ratios": {}, "goals": goals,
              "in_process": {k: v for k, v in state.items() if k not in ("secret", "devices")},
              "valid": not problems, "problems": problems}
    print(f"\n== care: {state['elders']:,} elders, {state['devices_total']:,} devices "
          f"({'generated' if state['generated'] else 'found'} in {state['built_s']}s) ==")
    print(f"ingestion: {load['measured']:,} events in {MEASURED_S:g}s measured ({load['rate_achieved']}/s wanted "
          f"{load['rate_wanted']}/s), p50 {load['p50_ms']} p95 {load['p95_ms']} p99 {load['p99_ms']} "
          f"max {load['max_ms']} ms; sent late p99 {load['late_p99_ms']} ms; errors {load['errors']}; "
          f"client CPU {load['client_cpu_s']}s")
    print(f"no-activity evaluation: {', '.join(f'{s * 1000:.0f}' for s in state['evaluation_s'])} ms "
          f"({state['due']} elders due); sweep {state['sweep_s'] * 1000:.0f} ms {state['sweep']}; "
          f"again {state['sweep_again_s'] * 1000:.0f} ms {state['sweep_again']}")
    for p in probes:
        print(f"probe {p['ref']}: {p['result']} alarm {p['alarm_id']} answered in {p['answered_ms']} ms; "
              f"alarm opened {p['opened_s']} s, first step reaching someone {p['first_step_s']} s, first notification "
              f"{p['first_notice_s']} s after the request left")
    return result


register(Benchmark("care", run=run, setup=setup, order=80,
                   description="Elder care: device events ingestion, the no-activity sweep, an alarm's first notice"))
