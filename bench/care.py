"""The elder-care benchmark: devices (issue 19 goals), the roster's lists and the care sweeps, on 10,000 elders with 4 devices each (water meter, door sensor,
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

4. The roster's lists and the care sweeps, in-process after the load (the server idle), with the clock at the
   *anchor*: 09:30 Shanghai of the Monday of the week the roster's life was generated (``care_anchor``). That life
   is generated once into the same street and found again by its district's code (``CAREX<version>-<anchor>``):
   老伙伴 volunteers at 1 : 5 (a pairing each, in the elder's 居委会), the 居委会 staff (one per neighbourhood,
   their 居委会主任) and one street staff member and one administrator, the rules' default plans (partner twice
   weekly, staff monthly for tier 1) with their due visits from five weeks before the anchor to two weeks after,
   85 % of the past ones done by a visit, the reminders and escalations as the sweeps would have left them
   except the day's openings (unreminded) and the escalations of the last ``ESCALATION_BACKLOG_DAYS``; an
   emergency contact for one elder in three, a confirmed relative (a family link and a contact with an account)
   for one in ten, the care consent of every elder but one in ``NO_CONSENT_SHARE`` (withdrawn, devices still
   there), two file versions of each tier-1 elder, a quarter of the elders last verified 330 days ago (January's
   review asks about them). Each run (the set-up above deletes the street's alarms and the vendor's events)
   adds ``RESOLVED_ALARMS`` resolved alarms with three steps each, a few live ones due to climb, ``QUARANTINED``
   events of unknown devices and ``SILENT_DEVICES`` devices silent for a day.

   * every care list as the role that calls it (the Flask test client, a token each): ``LIST_ROUNDS`` rounds of
     ``LIST_CALLS`` calls, interleaved with ``GET /api/v1/me`` (the floor); per round p50 and p95, reported as
     the median [min–max] over rounds, and each round's p95 ÷ the floor's. Goal: p95 ≤ 10 ms on PostgreSQL.
   * the sweeps ``care.plan_visits``, ``care.remind_visits``, ``care.escalate_visits``, ``care.climb_alarms``,
     ``care.collect_signals``, ``care.device_silence``, ``care.consent_withdrawals`` and ``care.consent_review``
     (the clock moved to 5 January for it), each ``SWEEP_RUNS`` times with its work, then again at once with
     nothing due, its writes undone between runs (audit entries stay: they are append-only). Goal: ≤ 200 ms
     median, except the two whose natural work is a whole street's day (``SWEEP_GOALS_MS``).

    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/linli_care_bench \\
        python -m bench.run care --rounds 1 --seconds 1 --warmup 0

``BENCH_CARE_SECONDS`` shortens the ingestion's measured seconds (a trial run). The benchmark's database is
migrated by ``flask db upgrade`` only: an index or a column added to an unreleased migration is added to an
existing benchmark database by hand.
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
from datetime import date, datetime, timedelta, timezone

from bench import Benchmark, register
from bench.inprocess import interleaved, print_lists, spread
from bench.http import HOST, percentile, run_setup

GEN_CODE = "carebench1"
ELDERS_PG, ELDERS_SQLITE = 10_000, 1_000
NEIGHBOURHOODS = 20
KINDS = ("water", "door", "motion", "smoke")
EVERY_S = 300                      # each device posts every 5 minutes
WARMUP_S, MEASURED_S = 5.0, float(os.environ.get("BENCH_CARE_SECONDS") or 60.0)
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


def _aware(moment):
    """A timestamp read by raw SQL, aware (SQLite answers text, PostgreSQL a datetime)."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment


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
                    step = _aware(step)
                    opened = conn.execute(sa.text("SELECT opened_at FROM care_alarm WHERE id = :id"),
                                          {"id": alarm_id}).scalar()
                    opened = _aware(opened)
                    sent = datetime.fromtimestamp(probe["sent_wall"], timezone.utc)
                    found = conn.execute(sa.text(
                        "SELECT min(created_at) FROM notification WHERE created_at >= :sent AND "
                        "created_at <= :until AND kind LIKE 'care.%' AND kind <> 'care.maintenance' AND "
                        "(dedupe_key LIKE :key OR CAST(data AS TEXT) LIKE :key)"),
                        {"sent": sent - timedelta(seconds=1), "until": sent + timedelta(seconds=60),
                         "key": f"%{alarm_id}%"}).scalar()
                    found = _aware(found)
                out.append({**probe, "first_notice_s": None if found is None
                            else round(max(0.0, found.timestamp() - probe["sent_wall"]), 3),
                            "opened_s": None if opened is None
                            else round(max(0.0, opened.timestamp() - probe["sent_wall"]), 3),
                            "first_step_s": None if step is None
                            else round(max(0.0, step.timestamp() - probe["sent_wall"]), 3)})
    finally:
        engine.dispose()
    return out


# --- the roster's lists and the care sweeps (in-process, on the generated street) ---------------------------------

GEN_VERSION = "1"
MARKER = "CAREX"                   # the extension's district code: CAREX<version>-<anchor YYYYMMDD>
PARTNER_SHARE = 5                  # 老伙伴 : elders 1 : 5
WEEKS_BEFORE, WEEKS_AFTER = 5, 2
DONE_SHARE = 0.85                  # past due visits done
CONTACT_SHARE, RELATIVE_SHARE = 3, 10   # one elder in 3 has emergency contacts, one in 10 a confirmed relative
RESOLVED_ALARMS, LIVE_ALARMS = 3_000, 12
QUARANTINED = 1_000                # a vendor's events for unknown devices
NO_CONSENT_SHARE = 500             # one elder in 500 withdrew the care consent (devices still there)
SILENT_DEVICES = 200               # devices silent for a day at the anchor
ESCALATION_BACKLOG_DAYS = 3        # overdue due visits not yet escalated: the daily sweep stopped for 3 days
LIST_P95_MS, SWEEP_MS = 10.0, 200.0
LIST_ROUNDS, LIST_CALLS, LIST_WARMUP = 5, 30, 5
SWEEP_RUNS = 3
# Sweeps whose natural work is larger than 200 ms worth: their own goals, as a rate. The Monday plan sweep writes
# a day of every elder's partner visits (10,000 rows: the week the horizon moves on), the hourly reminder sweep's
# 00:01 run on a Monday tells every volunteer of the visits opened that day (10,000 reminders, each with its
# WeChat delivery row): both run in the night, far from their next run; at least 2,000 rows a second for the plans
# (10,000 in 5 s) and 1,000 reminders a second (10,000 in 10 s) keep them well inside their hour.
SWEEP_GOALS_MS: dict[str, float] = {"care.plan_visits": 5_000.0, "care.remind_visits": 10_000.0}
SWEEP_ROWS = {"care.plan_visits": "written", "care.remind_visits": "told", "care.escalate_visits": "escalated",
              "care.consent_withdrawals": "elders", "care.device_silence": "marked", "care.climb_alarms": "steps"}
FLOOR = "GET /api/v1/me (the floor)"


def care_anchor(today) -> datetime:
    """09:30 Shanghai of the latest Monday up to ``today`` (the weekly plan sweep has run at 01:00)."""
    from service.clock import SHANGHAI

    monday = today - timedelta(days=today.weekday())
    return datetime(monday.year, monday.month, monday.day, 9, 30, tzinfo=SHANGHAI)


def _say(message: str) -> None:
    print(f"  [care] {message}", flush=True)


def _next_id(model) -> int:
    import sqlalchemy as sa

    from models.base import db

    return (db.session.execute(sa.select(sa.func.max(model.id))).scalar() or 0) + 1


def _setval(model) -> None:
    import sqlalchemy as sa

    from models.base import db

    if db.engine.dialect.name == "postgresql":
        name = model.__tablename__
        db.session.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('\"{name}\"', 'id'), "
                                   f"(SELECT max(id) FROM \"{name}\"))"))


def _insert(model, rows: list[dict], chunk: int = 5_000) -> None:
    import sqlalchemy as sa

    from models.base import db

    for i in range(0, len(rows), chunk):
        db.session.execute(sa.insert(model), rows[i:i + chunk])


def _extend(street_id: int, anchor: datetime, code: str) -> dict:
    """The roster's life on the generated street, once: volunteers and pairings, the default plans with their due
    visits (five weeks before the anchor, two after) and the visits done, emergency contacts, confirmed relatives,
    the care consents, two file versions of each tier-1 elder, a street staff member and an administrator."""
    import random

    import sqlalchemy as sa

    from models.base import db
    from models.care import Contact, Elder, LivelihoodFile, Pairing, Visit, VisitDue, VisitPlan
    from models.people import FamilyLink, ResidentProfile, RoleAssignment, User
    from models.places import District, Neighbourhood, Street
    from models.privacy import Consent
    from service import clock, privacy
    from service.care import plans, rules

    rng = random.Random(20261207)
    district_id = db.session.execute(sa.select(Street.district_id).where(Street.id == street_id)).scalar_one()
    db.session.add(District(code=code, name="关爱压测扩展"))
    elders = db.session.execute(sa.select(Elder.id, Elder.user_id, Elder.neighbourhood_id, Elder.risk_tier)
                                .where(Elder.street_id == street_id).order_by(Elder.id)).all()
    nbs = sorted({e.neighbourhood_id for e in elders})
    staff = dict(db.session.execute(sa.select(RoleAssignment.scope_id, RoleAssignment.user_id).where(
        RoleAssignment.role == "staff", RoleAssignment.scope_type == "neighbourhood",
        RoleAssignment.scope_id.in_(nbs))).all())
    db.session.execute(sa.update(RoleAssignment).where(RoleAssignment.role == "staff",
                                                       RoleAssignment.scope_type == "neighbourhood",
                                                       RoleAssignment.scope_id.in_(nbs)).values(title="nc_head"))
    now = anchor.astimezone(timezone.utc)
    stamp = now - timedelta(days=90)
    # Users: a street staff member, an administrator, the volunteers and the relatives.
    by_nb: dict[int, list] = {}
    for e in elders:
        by_nb.setdefault(e.neighbourhood_id, []).append(e)
    volunteers_of: dict[int, int] = {}
    next_user = _next_id(User)
    users, profiles = [], []

    def user(nickname: str, name: str | None = None, nb: int | None = None, username: str | None = None) -> int:
        nonlocal next_user
        uid, next_user = next_user, next_user + 1
        users.append({"id": uid, "username": username, "nickname": nickname, "is_active": True, "is_demo": False,
                      "created_at": stamp, "updated_at": stamp})
        if name:
            profiles.append({"user_id": uid, "name": name, "neighbourhood_id": nb, "birth_date": date(1960, 5, 1),
                             "created_at": stamp, "updated_at": stamp})
        return uid

    street_staff = user("街道民政科", username=f"{code}.street")
    admin = user("平台管理员", username=f"{code}.admin")
    phone = privacy.encrypt("13900001111")
    pairings = []
    for nb, members in by_nb.items():
        for k in range(0, len(members), PARTNER_SHARE):
            uid = user("老伙伴", f"老伙伴{nb}-{k // PARTNER_SHARE}", nb)
            for e in members[k:k + PARTNER_SHARE]:
                volunteers_of[e.id] = uid
                pairings.append({"elder_id": e.id, "visitor_user_id": uid, "role": "partner",
                                 "starts_on": (now - timedelta(days=60)).date(), "ends_on": None,
                                 "created_by": staff[nb]})
    relatives, contacts = [], []
    for i, e in enumerate(elders):
        if i % RELATIVE_SHARE == 3:
            uid = user("家属", f"家属{i}")
            relatives.append({"proxy_user_id": uid, "elder_user_id": e.user_id, "relation": "child",
                              "status": "confirmed", "decided_by": staff[e.neighbourhood_id], "decided_at": stamp,
                              "created_at": stamp, "updated_at": stamp})
            contacts.append({"elder_id": e.id, "position": 1, "name": "子女", "relation": "child", "phone_enc": phone,
                             "user_id": uid})
        if i % CONTACT_SHARE == 0:
            contacts.append({"elder_id": e.id, "position": 2, "name": "邻居", "relation": "neighbour",
                             "phone_enc": phone, "user_id": None})
    _insert(User, users)
    _insert(ResidentProfile, profiles)
    _setval(User)
    db.session.add_all([RoleAssignment(user_id=street_staff, role="staff", scope_type="street", scope_id=street_id),
                        RoleAssignment(user_id=admin, role="admin", scope_type="district", scope_id=district_id)])
    _insert(Pairing, pairings)
    _insert(FamilyLink, relatives)
    _insert(Contact, contacts)
    _insert(Consent, [{"user_id": e.user_id, "purpose": "care", "notice_version": "1", "given_at": stamp,
                       "given_by": staff[e.neighbourhood_id], "channel": "staff", "evidence": "纸质同意书"}
                      for e in elders if e.id % NO_CONSENT_SHARE != 7])
    db.session.flush()
    # Plans, due visits and visits.
    care = rules.current()
    partner, staff_plan = care.plans["partner"], care.plans["staff"]
    starts = (now - timedelta(days=7 * WEEKS_BEFORE + 30)).date()
    first, last = clock.local(now).date() - timedelta(days=7 * WEEKS_BEFORE), \
        clock.local(now).date() + timedelta(days=7 * WEEKS_AFTER - 1)
    plan_id, due_id, visit_id = _next_id(VisitPlan), _next_id(VisitDue), _next_id(Visit)
    plan_rows, due_rows, visit_rows = [], [], []
    windows: dict[tuple, tuple] = {}
    days_of = {role: plans.occurrences(p.rrule, starts, first, last) for role, p in
               (("partner", partner), ("staff", staff_plan))}
    cutoff = now - timedelta(days=care.escalate_after_days)
    today0 = datetime.combine(clock.local(now).date(), datetime.min.time(), tzinfo=clock.SHANGHAI)
    note = privacy.encrypt("精神不错，按时服药")
    for e in elders:
        for role, p in (("partner", partner), ("staff", staff_plan)):
            if p.tiers is not None and e.risk_tier not in p.tiers:
                continue
            plan_rows.append({"id": plan_id, "elder_id": e.id, "role": role, "rrule": p.rrule,
                              "window_days": p.window_days, "starts_on": starts, "ends_on": None, "reason": "default",
                              "generated_until": last, "created_by": staff[e.neighbourhood_id]})
            for day in days_of[role]:
                key = (day, p.window_days, role)
                if key not in windows:
                    windows[key] = plans.window(day, p.window_days, role)
                earliest, latest = windows[key]
                done = latest < now and rng.random() < DONE_SHARE
                row = {"id": due_id, "plan_id": plan_id, "elder_id": e.id, "neighbourhood_id": e.neighbourhood_id,
                       "role": role, "earliest_at": earliest,
                       "latest_at": latest, "visit_id": None, "cancelled_at": None,
                       "reminded_at": earliest + timedelta(minutes=1) if earliest < today0 else None,
                       "escalated_at": None}
                if done:
                    at = earliest + (latest - earliest) * rng.random()
                    visitor = volunteers_of[e.id] if role == "partner" else staff[e.neighbourhood_id]
                    visit_rows.append({"id": visit_id, "elder_id": e.id, "visitor_user_id": visitor, "role": role,
                                       "at": at, "channel": "door" if rng.random() < 0.6 else "phone",
                                       "outcome": "well", "notes_enc": note if rng.random() < 0.3 else None,
                                       "recorded_by": visitor, "recorded_at": at})
                    row["visit_id"] = visit_id
                    visit_id += 1
                elif latest <= cutoff - timedelta(days=ESCALATION_BACKLOG_DAYS):
                    row["escalated_at"] = latest + timedelta(days=care.escalate_after_days, hours=12)
                due_rows.append(row)
                due_id += 1
            plan_id += 1
    db.session.execute(sa.update(Elder).where(Elder.street_id == street_id, sa.func.mod(Elder.id, 4) == 1)
                       .values(verified_at=now - timedelta(days=330)))
    _insert(VisitPlan, plan_rows)
    _insert(Visit, visit_rows)
    _insert(VisitDue, due_rows)
    health = privacy.encrypt("高血压，每日服药；行动不便")
    files = []
    for e in elders:
        if e.risk_tier == 1:
            for version in (1, 2):
                files.append({"elder_id": e.id, "version": version, "household": [{"name": "本人", "relation": "self",
                                                                                   "lives_in": True}],
                              "benefits": ["高龄津贴"], "housing": "老公房六楼，无电梯", "needs": "助餐送餐",
                              "health_enc": health, "written_by": staff[e.neighbourhood_id],
                              "written_at": now - timedelta(days=60 - 30 * version)})
    _insert(LivelihoodFile, files)
    for model in (VisitPlan, Visit, VisitDue):
        _setval(model)
    db.session.commit()
    return {"users": len(users), "pairings": len(pairings), "plans": len(plan_rows), "due": len(due_rows),
            "visits": len(visit_rows), "contacts": len(contacts), "relatives": len(relatives), "files": len(files)}


def _per_run(street_id: int, anchor: datetime) -> dict:
    """What a run's set-up deleted or reset, put back at the anchor: the alarms (a few thousand resolved with
    their steps, a few live and due to climb), the quarantined events, a few devices silent for a day."""
    import random

    import sqlalchemy as sa

    from models.base import db
    from models.care import Alarm, AlarmStep, Device, DeviceEvent, Elder, Vendor

    rng = random.Random(7)
    now = anchor.astimezone(timezone.utc)
    elders = db.session.execute(sa.select(Elder.id, Elder.user_id).where(Elder.street_id == street_id)
                                .order_by(Elder.id)).all()
    vendor = db.session.execute(sa.select(Vendor.id).where(Vendor.code == GEN_CODE)).scalar_one()
    alarm_id, step_id = _next_id(Alarm), _next_id(AlarmStep)
    alarms, steps = [], []
    for k in range(RESOLVED_ALARMS):
        e = elders[rng.randrange(len(elders))]
        opened = now - timedelta(days=rng.uniform(1, 180))
        alarms.append({"id": alarm_id, "elder_id": e.id, "street_id": street_id, "source": "meals_no_show",
                       "rule": "meals_no_show", "severity": "concern", "state": "resolved", "step": 2, "next_at": None,
                       "opened_at": opened, "reference": f"bench:{k}", "taken_by": None,
                       "taken_at": opened + timedelta(minutes=20), "resolved_at": opened + timedelta(hours=1),
                       "outcome": "elder_well"})
        for n, target in enumerate(("elder", "family", "duty")):
            steps.append({"id": step_id, "alarm_id": alarm_id, "n": n, "target": target, "channel": "app",
                          "at": opened + timedelta(minutes=10 * n), "due_at": opened + timedelta(minutes=10 * n),
                          "recipients": 1, "result": "sent"})
            step_id += 1
        alarm_id += 1
    live = [e for e in elders if e.id % 1000 == 500][:LIVE_ALARMS]
    for k, e in enumerate(live):
        alarms.append({"id": alarm_id, "elder_id": e.id, "street_id": street_id, "source": "no_activity",
                       "rule": "no_door_24h", "severity": "urgent", "state": "notifying", "step": 1,
                       "next_at": now - timedelta(seconds=30 * (k + 1)), "opened_at": now - timedelta(minutes=30),
                       "reference": None, "resolved_at": None})
        steps.append({"id": step_id, "alarm_id": alarm_id, "n": 0, "target": "elder", "channel": "phone",
                      "at": now - timedelta(minutes=30), "due_at": now - timedelta(minutes=30), "recipients": 1,
                      "result": "sent"})
        step_id += 1
        alarm_id += 1
    for row in alarms:
        for key in ("taken_by", "taken_at", "resolved_at", "outcome", "reference", "next_at"):
            row.setdefault(key, None)
    _insert(Alarm, alarms)
    _insert(AlarmStep, steps)
    _insert(DeviceEvent, [{"vendor_id": vendor, "vendor_event_id": f"q-{k}", "device_id": None,
                           "vendor_ref": f"UNKNOWN-{k % 50}", "kind": "heartbeat", "at": now - timedelta(minutes=k),
                           "received_at": now - timedelta(minutes=k), "value": 90.0} for k in range(QUARANTINED)])
    for model in (Alarm, AlarmStep, DeviceEvent):
        _setval(model)
    # Every device heard from just before the anchor; a few silent for a day.
    table = Device.__table__
    db.session.execute(table.update().where(table.c.vendor_id == vendor).values(
        last_seen_at=now - timedelta(minutes=3), last_activity_at=now - timedelta(minutes=5), maintenance_at=None))
    silent = sa.select(table.c.id).where(table.c.vendor_id == vendor, table.c.kind == "smoke") \
        .order_by(table.c.id).limit(SILENT_DEVICES).scalar_subquery()
    db.session.execute(table.update().where(table.c.id.in_(silent)).values(last_seen_at=now - timedelta(hours=25)))
    db.session.commit()
    return {"alarms": len(alarms), "live": len(live), "steps": len(steps)}


def _vacuum(tables) -> None:
    from models.base import db

    if db.engine.dialect.name == "postgresql":
        db.session.remove()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for name in tables:
                conn.exec_driver_sql(f'VACUUM ANALYZE "{name}"')


def prepare(app, state) -> dict:
    """The extension's data (generated once, found again), each run's alarms and events; then the analyser."""
    import sqlalchemy as sa

    from models.base import db
    from models.places import District, Street

    street_id = db.session.execute(sa.select(Street.id).where(Street.code == GEN_CODE)).scalar_one()
    found = db.session.execute(sa.select(District.code).where(District.code.like(f"{MARKER}{GEN_VERSION}-%"))
                               .order_by(District.id.desc()).limit(1)).scalar()
    began = time.perf_counter()
    if found:
        day = datetime.strptime(found.rsplit("-", 1)[1], "%Y%m%d").date()
        anchor, counts = care_anchor(day), None
    else:
        from service import clock

        anchor = care_anchor(clock.local_now().date())
        code = f"{MARKER}{GEN_VERSION}-{anchor:%Y%m%d}"
        _say(f"generating the roster's life (anchor {anchor:%Y-%m-%d %H:%M})…")
        counts = _extend(street_id, anchor, code)
    built = time.perf_counter() - began
    per_run = _per_run(street_id, anchor)
    db.session.remove()
    # The load's updates and the previous runs' undone sweeps leave dead rows: vacuumed, as autovacuum would
    # have left them by the time of the lists and sweeps.
    _vacuum(("care_elder", "care_pairing", "care_plan", "care_visit_due", "care_visit", "care_alarm",
             "care_alarm_step", "care_contact", "care_file", "care_event", "care_device", "family_link",
             "consent", "user", "resident_profile", "role_assignment", "notification", "delivery"))
    return {"care.data": {"street": street_id, "anchor": anchor.isoformat(), "generated": counts is not None,
                          "counts": counts, "seconds": round(built, 1), "per_run": per_run}}


def _subjects(street_id: int, anchor: datetime) -> dict:
    import sqlalchemy as sa

    from models.base import db
    from models.care import Alarm, Contact, Elder, Pairing, Vendor
    from models.people import FamilyLink, RoleAssignment, User

    elder = db.session.execute(sa.select(Elder.id, Elder.user_id, Elder.neighbourhood_id).where(
        Elder.street_id == street_id, Elder.risk_tier == 1,
        sa.exists().where(FamilyLink.elder_user_id == Elder.user_id, FamilyLink.status == "confirmed"),
        sa.exists().where(Contact.elder_id == Elder.id, Contact.user_id.is_not(None))).order_by(Elder.id)
        .limit(1)).first()
    nb = (elder.neighbourhood_id, db.session.execute(sa.select(sa.func.count()).select_from(Elder).where(
        Elder.neighbourhood_id == elder.neighbourhood_id, Elder.status == "active")).scalar_one())
    nb_staff = db.session.execute(sa.select(RoleAssignment.user_id).where(
        RoleAssignment.role == "staff", RoleAssignment.scope_type == "neighbourhood",
        RoleAssignment.scope_id == nb[0]).order_by(RoleAssignment.user_id).limit(1)).scalar_one()
    street_staff = db.session.execute(sa.select(RoleAssignment.user_id).where(
        RoleAssignment.role == "staff", RoleAssignment.scope_type == "street", RoleAssignment.scope_id == street_id)
        .limit(1)).scalar_one()
    admin = db.session.execute(sa.select(User.id).where(User.username.like(f"{MARKER}{GEN_VERSION}-%.admin"))
                               ).scalar_one()
    volunteer = db.session.execute(sa.select(Pairing.visitor_user_id).where(Pairing.elder_id == elder.id,
                                                                            Pairing.ends_on.is_(None))).scalar_one()
    relative = db.session.execute(sa.select(FamilyLink.proxy_user_id).where(
        FamilyLink.elder_user_id == elder.user_id, FamilyLink.status == "confirmed")).scalar_one()
    alarm = db.session.execute(sa.select(Alarm.id).join(Elder, Elder.id == Alarm.elder_id).where(
        Elder.neighbourhood_id == nb[0], Alarm.state == "resolved").order_by(Alarm.id.desc()).limit(1)).scalar_one()
    vendor = db.session.execute(sa.select(Vendor.id).where(Vendor.code == GEN_CODE)).scalar_one()
    month = (anchor.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    return {"nb": nb[0], "nb_elders": nb[1], "nb_staff": nb_staff, "street_staff": street_staff, "admin": admin,
            "elder": elder.id, "volunteer": volunteer, "relative": relative, "alarm": alarm, "vendor": vendor,
            "month": month}


def _lists(app, s: dict) -> dict:
    """Each care list as the role that calls it, through the test client, interleaved with GET /api/v1/me."""
    import functools

    from api.security import issue_tokens
    from models.base import db
    from service import people

    def token(uid: int) -> str:
        return issue_tokens(uid, people.token_roles(people.load_actor(uid)), second_factor=True)["access_token"]

    staff, street, volunteer, relative, admin = (token(s[k]) for k in (
        "nb_staff", "street_staff", "volunteer", "relative", "admin"))
    db.session.remove()
    P, E = "/api/v1", f"/api/v1/care/elders/{s['elder']}"
    deep = max(1, s["nb_elders"] // 20)
    calls = {
        FLOOR: (f"{P}/me", staff),
        f"roster, 居委会 staff ({s['nb_elders']}), page 1": (f"{P}/care/elders", staff),
        f"roster, 居委会 staff, page {deep}": (f"{P}/care/elders?page={deep}", staff),
        "roster, street staff (all), page 1": (f"{P}/care/elders", street),
        "an elder's detail (staff)": (E, staff),
        "the file (staff)": (f"{E}/file", staff),
        "an elder's visits (staff)": (f"{E}/visits", staff),
        "due visits: due (staff)": (f"{P}/care/visits/due?state=due", staff),
        "due visits: overdue (staff)": (f"{P}/care/visits/due?state=overdue", staff),
        "my due visits (volunteer)": (f"{P}/me/care/visits/due", volunteer),
        "my elders (volunteer)": (f"{P}/me/care/elders", volunteer),
        "visit rate (street staff)": (f"{P}/care/visit-rate?month={s['month']}", street),
        "visit rate (居委会 staff)": (f"{P}/care/visit-rate?month={s['month']}", staff),
        "alarms (staff)": (f"{P}/care/alarms", staff),
        "one alarm (staff)": (f"{P}/care/alarms/{s['alarm']}", staff),
        "my alarms (family)": (f"{P}/me/care/alarms", relative),
        "an elder's devices (staff)": (f"{E}/devices", staff),
        "vendors (admin)": (f"{P}/care/vendors", admin),
        "quarantine (admin)": (f"{P}/care/vendors/{s['vendor']}/quarantine", admin),
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
        items[name] = None if name == FLOOR else len(body["items"]) if "items" in body else \
            len(body.get("steps") or body.get("versions") or body.get("devices") or [])
        timed[name] = functools.partial(client.get, path, headers=headers)
    return interleaved(timed, items, FLOOR, warmup=LIST_WARMUP, rounds=LIST_ROUNDS, calls=LIST_CALLS, say=_say)


def _sweeps(street_id: int, anchor: datetime) -> dict:
    """Each sweep SWEEP_RUNS times with its work at the anchor, then again at once (nothing left due); its writes
    undone after each pair of runs."""
    import sqlalchemy as sa

    from models.audit import AuditEntry
    from models.base import db
    from models.care import Alarm, AlarmStep, Device, DeviceEvent, Elder, LivelihoodFile, VisitDue, VisitPlan
    from models.notifications import Delivery, Notification
    from service import clock
    from service.care import reminders

    elder_ids = sa.select(Elder.id).where(Elder.street_id == street_id).scalar_subquery()
    mark = {m.__tablename__: db.session.execute(sa.select(sa.func.max(m.id))).scalar() or 0
            for m in (Notification, Delivery, AuditEntry, VisitDue, AlarmStep)}
    due_marks = [dict(r._mapping) for r in db.session.execute(sa.select(
        VisitDue.id.label("b_id"), VisitDue.reminded_at.label("b_reminded"),
        VisitDue.escalated_at.label("b_escalated")).where(
        VisitDue.elder_id.in_(elder_ids), VisitDue.visit_id.is_(None), VisitDue.cancelled_at.is_(None),
        sa.or_(VisitDue.reminded_at.is_(None), VisitDue.escalated_at.is_(None))))]
    generated_until = dict(db.session.execute(sa.select(VisitPlan.id, VisitPlan.generated_until)
                                              .where(VisitPlan.elder_id.in_(elder_ids))).all())
    until_value = max(generated_until.values())
    alarms = [dict(r._mapping) for r in db.session.execute(sa.select(
        Alarm.id.label("b_id"), Alarm.state.label("b_state"), Alarm.step.label("b_step"),
        Alarm.next_at.label("b_next")).where(Alarm.street_id == street_id, Alarm.state != "resolved"))]
    devices = [dict(r._mapping) for r in db.session.execute(sa.select(
        Device.id.label("b_id"), Device.removed_at.label("b_removed"),
        Device.maintenance_at.label("b_maintenance")).where(Device.elder_id.in_(elder_ids)))]
    withdrawn = db.session.execute(sa.select(Elder.id).where(Elder.street_id == street_id,
                                                             sa.func.mod(Elder.id, NO_CONSENT_SHARE) == 7)
                                   ).scalars().all()
    files = [dict(r._mapping) for r in db.session.execute(sa.select(
        LivelihoodFile.id.label("b_id"), LivelihoodFile.health_enc.label("b_health"))
        .where(LivelihoodFile.elder_id.in_(withdrawn)))] if withdrawn else []
    events = [dict(r._mapping) for r in db.session.execute(sa.select(DeviceEvent.__table__).where(
        DeviceEvent.device_id.in_(sa.select(Device.id).where(Device.elder_id.in_(withdrawn)))))] if withdrawn else []
    db.session.remove()

    def undo():
        db.session.execute(sa.delete(Delivery).where(Delivery.id > mark["delivery"]))
        db.session.execute(sa.delete(Notification).where(Notification.id > mark["notification"]))
        db.session.execute(sa.delete(AlarmStep).where(AlarmStep.id > mark["care_alarm_step"]))
        db.session.execute(sa.delete(VisitDue).where(VisitDue.id > mark["care_visit_due"]))
        t = VisitDue.__table__
        if due_marks:
            db.session.execute(t.update().where(t.c.id == sa.bindparam("b_id")).values(
                reminded_at=sa.bindparam("b_reminded"), escalated_at=sa.bindparam("b_escalated")), due_marks)
        db.session.execute(sa.update(VisitPlan).where(VisitPlan.elder_id.in_(elder_ids))
                           .values(generated_until=until_value))
        t = Alarm.__table__
        if alarms:
            db.session.execute(t.update().where(t.c.id == sa.bindparam("b_id")).values(
                state=sa.bindparam("b_state"), step=sa.bindparam("b_step"), next_at=sa.bindparam("b_next")), alarms)
        t = Device.__table__
        db.session.execute(t.update().where(t.c.id == sa.bindparam("b_id")).values(
            removed_at=sa.bindparam("b_removed"), maintenance_at=sa.bindparam("b_maintenance")), devices)
        t = LivelihoodFile.__table__
        if files:
            db.session.execute(t.update().where(t.c.id == sa.bindparam("b_id")).values(
                health_enc=sa.bindparam("b_health")), files)
        if events:
            present = set(db.session.execute(sa.select(DeviceEvent.id).where(
                DeviceEvent.id.in_([e["id"] for e in events]))).scalars())
            missing = [e for e in events if e["id"] not in present]
            if missing:
                db.session.execute(DeviceEvent.__table__.insert(), missing)
        db.session.commit()
        db.session.remove()

    def timed(sweep) -> tuple[float, dict]:
        t = time.perf_counter()
        result = sweep()
        elapsed = (time.perf_counter() - t) * 1000
        db.session.remove()
        return elapsed, result

    january = anchor.replace(year=anchor.year + (anchor.month > 1), month=1, day=5)
    out = {}
    for name, sweep, moment in (
            ("care.plan_visits", reminders.plan_visits, anchor),
            ("care.remind_visits", reminders.remind_visits, anchor),
            ("care.escalate_visits", reminders.escalate_visits, anchor),
            ("care.climb_alarms", reminders.climb_alarms, anchor),
            ("care.collect_signals", reminders.collect_signals, anchor),
            ("care.device_silence", reminders.device_silence, anchor),
            ("care.consent_withdrawals", reminders.consent_withdrawals, anchor),
            ("care.consent_review", reminders.consent_review, january)):
        clock.set_now(moment)
        busy, idle = [], []
        try:
            for _ in range(SWEEP_RUNS):
                elapsed, result = timed(sweep)
                busy.append(elapsed)
                elapsed, again = timed(sweep)
                idle.append(elapsed)
                undo()
        finally:
            db.session.remove()
            clock.set_now(anchor)
            _vacuum(("care_visit_due", "care_plan", "care_alarm", "care_alarm_step", "care_device", "care_event",
                     "care_file", "notification", "delivery"))
        out[name] = {"ms": spread(busy), "runs_ms": [round(v, 1) for v in busy], "result": result,
                     "nothing_due_ms": spread(idle), "nothing_due_result": again}
        _say(f"{name}: median {statistics.median(busy):.1f} ms {result}; nothing due "
             f"{statistics.median(idle):.1f} ms {again}")
    return out


def measure(app, state, *, data: dict) -> dict:
    import logging

    from models.base import db
    from service import clock

    anchor = datetime.fromisoformat(data["anchor"])
    handlers = [h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler)]
    streams = [h.setStream(open(os.devnull, "w")) for h in handlers]
    clock.set_now(anchor)
    try:
        subjects = _subjects(data["street"], anchor)
        db.session.remove()
        lists = _lists(app, subjects)
        sweeps = _sweeps(data["street"], anchor)
        return {"care.measured": {"subjects": subjects, "lists": lists, "sweeps": sweeps}}
    finally:
        clock.set_now(None)
        for handler, stream in zip(handlers, streams):
            handler.setStream(stream).close()


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
    # The roster's lists and the sweeps, in-process (the server idle), on the same street.
    env = ctx.server.environment
    if ctx.progress:
        ctx.progress("care: the roster's life (generated once), then the lists and the sweeps in-process")
    data = run_setup(env, [("care.data", prepare)], timeout=1800)["care.data"]
    import functools
    measured = run_setup(env, [("care.measured", functools.partial(measure, data=data))],
                         timeout=1800)["care.measured"]
    timings = {}
    for name, t in measured["lists"].items():
        timings[f"{name} p95"] = t["p95"]
        if name != FLOOR:
            p95 = t["p95"]["median"]
            goals[f"{name} p95 ({LIST_P95_MS:g} ms ÷ measured)"] = {
                "minimum": 1.0, "median": LIST_P95_MS / p95, "measured": f"{p95:.2f} ms", "met": p95 <= LIST_P95_MS}
    for name, t in measured["sweeps"].items():
        timings[name] = t["ms"]
        ms = t["ms"]["median"]
        goal = SWEEP_GOALS_MS.get(name, SWEEP_MS)
        goals[f"{name} ({goal:g} ms ÷ median)"] = {"minimum": 1.0, "median": goal / ms,
                                                   "measured": f"{ms:.1f} ms", "met": ms <= goal}
    if not postgres:
        for goal in goals.values():
            goal["met"] = True
            goal["measured"] += " (SQLite: goals are PostgreSQL's, not judged)"
    problems = [f"{load['errors']} failed requests {load['error_kinds']}"] if load["errors"] else []
    result = {"kind": "printed", "settings": {"rounds": 1, "about": f"{state['elders']:,} elders × 4 devices"},
              "load": load, "probes": probes, "timings_ms": timings, "ratios": {}, "goals": goals,
              "data": data, **measured,
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
    _print_lists(result)
    return result


def _print_lists(result: dict) -> None:
    d, s = result["data"], result["subjects"]
    counts = d["counts"] or {}
    print(f"\nroster's life: anchor {d['anchor'][:16]}, {'generated in ' + str(d['seconds']) + 's ' + str(counts) if d['generated'] else 'found'}; "
          f"this run {d['per_run']}")
    print(f"subjects: 居委会 {s['nb']} ({s['nb_elders']} elders), elder {s['elder']}, month {s['month']}")
    print_lists(result["lists"], rounds=LIST_ROUNDS, calls=LIST_CALLS, goal_ms=LIST_P95_MS, width=44)
    for name, t in result["sweeps"].items():
        ms, idle = t["ms"], t["nothing_due_ms"]
        rows = t["result"].get(SWEEP_ROWS.get(name, ""), 0)
        rate = f" ({rows / ms['median'] * 1000:,.0f}/s)" if rows else ""
        print(f"{name:<28} {ms['median']:8.1f} ms [{ms['min']:.1f}–{ms['max']:.1f}] {t['result']}{rate}; "
              f"nothing due {idle['median']:.1f} ms [{idle['min']:.1f}–{idle['max']:.1f}]")
    for name, g in result["goals"].items():
        print(f"goal  {name}: {'met' if g['met'] else 'NOT met'} (measured {g['measured']})")


register(Benchmark("care", run=run, setup=setup, order=80,
                   description="Elder care: device events ingestion, the no-activity sweep, an alarm's first notice"))
