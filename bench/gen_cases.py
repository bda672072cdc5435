"""A fast synthetic data set of cases for scale runs (the cases benchmark, profiling).

    python -m bench.gen_cases [--cases N] [--sqlite PATH | --url URL]

Ten streets of eight neighbourhoods (``BENCH-S01`` …), a staff account per
居委会 (its head) and per street (the ops centre), two measuring accounts
(``bench.staff.nb``: one neighbourhood; ``bench.staff.street``: one street),
2,000 reporters, and N cases (default 1,000,000) received over the 365 days
before the anchor (the last working day at 10:00 Shanghai time), in id order:

* ~90% no longer open (closed, with some merged, rejected, withdrawn), ``due_at`` NULL,
  with the raw timestamps, deadlines, visits and ratings the metrics read;
* ~10% open (dispatched, accepted, in_progress, resolved, reopened, returned), the
  recent ones mostly, with deadlines from the working-day calendar, so ``due_at``
  is spread around the anchor: recent cases due ahead, older ones overdue;
* overdue cases have been escalated already (level 2, 督办) except exactly
  ``SWEEP_DUE`` cases due in the ten days before the anchor's day at level 0:
  the work the overdue sweep finds when run at the anchor.

No case events are generated (the queue, the metrics and the sweep do not read
them). Rows go in with ``sa.insert(Case)`` executemany in batches of
``BATCH``, with the table's secondary indexes dropped during the load and
recreated afterwards (their definitions are read from the database, so they are
exactly what the migrations made). Deterministic for a given N and anchor.

The benchmark caches the generated SQLite file under ``bench/results/cache/``
(git-ignored), keyed by ``GEN_VERSION``, N and a digest of the migrations, so
repeated runs reuse it; with ``BENCH_DATABASE_URL`` (PostgreSQL) the rows are
generated into that database once and found again by their marker streets.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import sqlite3
import sys
import time
from datetime import date, datetime, time as dtime, timedelta, timezone
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from models.cases import Case, CaseCounter  # noqa: E402
from models.notifications import Delivery, Notification  # noqa: E402
from models.people import RoleAssignment, User  # noqa: E402
from models.places import Area, District, Neighbourhood, Street  # noqa: E402
from service import calendar  # noqa: E402
from service.clock import SHANGHAI  # noqa: E402

GEN_VERSION = "3"  # 2: the id sequence and the case-number counters are left as the application leaves them;
#                   3: the case table keeps a tenth of each page free (migration 0018: fillfactor 90)
CACHE_DIR = ROOT / "bench" / "results" / "cache"
DEFAULT_CASES = 1_000_000
STREETS = 10
NEIGHBOURHOODS = 8           # per street
REPORTERS = 2000
DAYS = 365
BATCH = 20_000
SWEEP_DUE = 1000
SEED = 20261121
MARKER = "BENCH"             # district code; streets BENCH-S01 …

CATEGORY_WEIGHTS = {
    "garbage": 12, "corridor_clutter": 12, "property_service": 10, "noise": 8, "ebike_charging": 7,
    "street_vending": 7, "consultation": 7, "streetlight": 6, "elevator": 6, "illegal_building": 5,
    "suggestion": 5, "waterlogging": 4, "group_renting": 3, "manhole": 3, "dust": 3, "river": 2,
}
HANDLING_DAYS = {"illegal_building": 10, "ebike_charging": 1, "manhole": 0, "consultation": 1}
CONTACT_DAYS = {"ebike_charging": 0, "manhole": 0}
OPEN_MIX = (("dispatched", 30), ("accepted", 15), ("in_progress", 35), ("resolved", 8), ("reopened", 5),
            ("returned", 7))
DONE_MIX = (("closed", 95), ("merged", 1.5), ("rejected", 1.5), ("withdrawn", 2))
ROADS = ("中山北路", "宜川路", "曹杨路", "真华路", "新村路", "铜川路", "兰溪路", "大渡河路", "虹桥路", "古北路")


def _texts():
    """Descriptions and addresses to pick from (the demo's texts, filled in once)."""
    from data.demo.cases import DESCRIPTIONS

    rng = random.Random(SEED)
    texts = {}
    for code, templates in DESCRIPTIONS.items():
        texts[code] = [t.format(road=rng.choice(ROADS), bld=f"{rng.randint(1, 30)}号楼",
                                unit=f"{rng.randint(1, 30)}号楼{rng.randint(1, 3)}单元", floor=rng.randint(2, 18),
                                n=rng.randint(1, 4), river="河道")
                       for t in templates for _ in range(4)]
    return texts


def anchor_for(today: date | None = None) -> datetime:
    """The last working day (Shanghai) up to ``today``, at 10:00 local, as UTC."""
    day = today or datetime.now(SHANGHAI).date()
    while not calendar.is_working_day(day)[0]:
        day -= timedelta(days=1)
    return datetime.combine(day, dtime(10, 0), tzinfo=SHANGHAI).astimezone(timezone.utc)


def migrations_digest() -> str:
    digest = hashlib.sha1()
    for path in sorted((ROOT / "migrations" / "versions").glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def cache_key(n: int) -> str:
    return f"cases-v{GEN_VERSION}-{n}-{migrations_digest()}"


# --- deadlines (the working-day calendar, cached per local day) ----------------------------------------

class Deadlines:
    def __init__(self):
        self._cache: dict[tuple[date, int], datetime] = {}
        self._next: dict[date, datetime] = {}

    def add(self, day: date, n: int) -> datetime:
        key = (day, n)
        if key not in self._cache:
            start = datetime.combine(day, dtime(12, 0), tzinfo=SHANGHAI)
            self._cache[key] = calendar.add_working_days(start, n).at.astimezone(timezone.utc)
        return self._cache[key]

    def next_day_end(self, day: date) -> datetime:
        if day not in self._next:
            nxt, _ = calendar.next_working_day(day)
            self._next[day] = calendar.end_of_day(nxt).astimezone(timezone.utc)
        return self._next[day]


# --- the load ------------------------------------------------------------------------------------------------

def _sqlite_fast(engine: sa.engine.Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection, record):
        cursor = dbapi_connection.cursor()
        try:   # a database the application also has open stays in its own journal mode
            cursor.execute("PRAGMA journal_mode=MEMORY")
        except sqlite3.OperationalError:
            pass
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.execute("PRAGMA cache_size=-400000")
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.close()


def _secondary_indexes(conn) -> list[tuple[str, str]]:
    """(name, CREATE statement) of the case table's indexes that can be dropped and recreated."""
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                                    "AND tbl_name = 'case' AND sql IS NOT NULL").all()
        return [(name, sql) for name, sql in rows]
    rows = conn.exec_driver_sql(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = 'case' AND i.schemaname = "
        "current_schema() AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = "
        "(quote_ident(i.schemaname) || '.' || quote_ident(i.indexname))::regclass)").all()
    return [(name, sql) for name, sql in rows]


def existing(url: str) -> dict | None:
    """The generated data set's size if ``url`` holds one: {"cases": n} or None."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            streets = conn.execute(sa.select(Street.id).where(Street.code.like(f"{MARKER}-S%"))).scalars().all()
            if not streets:
                return None
            n = conn.execute(sa.select(sa.func.count()).select_from(Case).where(Case.street_id.in_(streets))).scalar()
            return {"cases": n}
    finally:
        engine.dispose()


def generate(url: str, n: int = DEFAULT_CASES, *, anchor: datetime | None = None, progress=print) -> dict:
    """Write the data set into the (migrated, bench-free) database at ``url``; return its description."""
    calendar.load()
    anchor = anchor or anchor_for()
    rng = random.Random(f"{SEED}:{n}")
    engine = sa.create_engine(url)
    if engine.dialect.name == "sqlite":
        _sqlite_fast(engine)
    t0 = time.monotonic()
    stamp = anchor - timedelta(days=DAYS + 30)
    meta: dict = {"version": GEN_VERSION, "cases": n, "streets": STREETS, "neighbourhoods_per_street": NEIGHBOURHOODS,
                  "reporters": REPORTERS, "days": DAYS, "anchor": anchor.isoformat(), "sweep_now": anchor.isoformat(),
                  "database": engine.dialect.name}
    with engine.begin() as conn:
        if conn.execute(sa.select(Street.id).where(Street.code.like(f"{MARKER}-S%")).limit(1)).first():
            raise RuntimeError(f"{url}: the bench data set is already there")
        district_id = conn.execute(sa.insert(District).values(code=MARKER, name="压测区", created_at=stamp,
                                                               updated_at=stamp).returning(District.id)).scalar_one()
        streets, neighbourhoods = [], []   # ids; neighbourhoods as (id, street_id, lat, lng)
        for s in range(STREETS):
            lat0, lng0 = 31.15 + 0.03 * (s // 5), 121.30 + 0.04 * (s % 5)
            sid = conn.execute(sa.insert(Street).values(
                code=f"{MARKER}-S{s + 1:02d}", district_id=district_id, name=f"压测第{s + 1}街道",
                prefix=f"B{chr(65 + s)}", lat=lat0, lng=lng0, coord_source="approximate", created_at=stamp,
                updated_at=stamp).returning(Street.id)).scalar_one()
            aid = conn.execute(sa.insert(Area).values(code=f"{MARKER}-S{s + 1:02d}-A", street_id=sid, name="片区",
                                                      created_at=stamp, updated_at=stamp)
                               .returning(Area.id)).scalar_one()
            streets.append(sid)
            for k in range(NEIGHBOURHOODS):
                lat, lng = lat0 + 0.004 * (k // 4), lng0 + 0.005 * (k % 4)
                nid = conn.execute(sa.insert(Neighbourhood).values(
                    code=f"{MARKER}-S{s + 1:02d}-N{k + 1}", street_id=sid, area_id=aid,
                    name=f"压测{s + 1}-{k + 1}居民区", committee_name=f"压测{s + 1}-{k + 1}居委会", lat=lat, lng=lng,
                    coord_source="approximate", created_at=stamp, updated_at=stamp).returning(Neighbourhood.id)).scalar_one()
                neighbourhoods.append((nid, sid, lat, lng))

        def user(username, nickname):
            return conn.execute(sa.insert(User).values(username=username, nickname=nickname, is_active=True,
                                                       is_demo=False, created_at=stamp, updated_at=stamp)
                                .returning(User.id)).scalar_one()

        roles = []
        heads = {}
        for nid, sid, _, _ in neighbourhoods:
            heads[nid] = uid = user(f"bench.head.{nid}", "压测居委会主任")
            roles.append({"user_id": uid, "role": "staff", "scope_type": "neighbourhood", "scope_id": nid,
                          "title": "nc_head"})
        for sid in streets:
            uid = user(f"bench.ops.{sid}", "压测城运中心")
            roles.append({"user_id": uid, "role": "staff", "scope_type": "street", "scope_id": sid,
                          "title": "ops_center"})
        staff_nb = user("bench.staff.nb", "压测社工")
        roles.append({"user_id": staff_nb, "role": "staff", "scope_type": "neighbourhood",
                      "scope_id": neighbourhoods[0][0], "title": None})
        staff_street = user("bench.staff.street", "压测街道")
        roles.append({"user_id": staff_street, "role": "staff", "scope_type": "street", "scope_id": streets[0],
                      "title": None})
        conn.execute(sa.insert(RoleAssignment), [{**r, "created_at": stamp, "updated_at": stamp} for r in roles])
        conn.execute(sa.insert(User), [{"username": f"bench.r.{i}", "nickname": "压测居民", "is_active": True,
                                        "is_demo": False, "created_at": stamp, "updated_at": stamp}
                                       for i in range(REPORTERS)])
        reporters = conn.execute(sa.select(User.id).where(User.username.like("bench.r.%"))).scalars().all()
        meta.update({"street_ids": streets, "neighbourhood_id": neighbourhoods[0][0], "street_id": streets[0],
                     "staff_nb_id": staff_nb, "staff_street_id": staff_street})
    progress(f"places and {len(reporters) + len(heads) + STREETS + 2} accounts in {time.monotonic() - t0:.1f}s")

    with engine.begin() as conn:
        indexes = _secondary_indexes(conn)
        for name, _ in indexes:
            conn.exec_driver_sql(f'DROP INDEX "{name}"')
        first_id = (conn.execute(sa.select(sa.func.max(Case.id))).scalar() or 0) + 1
    t1 = time.monotonic()
    _insert_cases(engine, n, first_id, anchor, rng, neighbourhoods, heads, reporters, progress)
    t2 = time.monotonic()
    progress(f"{n:,} cases inserted in {t2 - t1:.1f}s ({n / max(t2 - t1, 1e-9):,.0f}/s)")
    with engine.begin() as conn:
        for name, sql in indexes:
            conn.exec_driver_sql(sql)
        _as_the_application_leaves_it(conn)
    t3 = time.monotonic()
    progress(f"{len(indexes)} indexes recreated in {t3 - t2:.1f}s")

    # The sweep's work: SWEEP_DUE overdue cases, due in the ten days before the anchor's day, not yet urged.
    day_start = datetime.combine(anchor.astimezone(SHANGHAI).date(), dtime(0, 0), tzinfo=SHANGHAI)
    with engine.begin() as conn:
        candidates = conn.execute(sa.select(Case.id).where(
            Case.due_at.is_not(None), Case.due_at < day_start, Case.due_at >= day_start - timedelta(days=10),
            Case.id >= first_id).order_by(Case.id)).scalars().all()
        due = sorted(rng.sample(candidates, min(SWEEP_DUE, len(candidates))))
        for start in range(0, len(due), 500):
            conn.execute(sa.update(Case).where(Case.id.in_(due[start:start + 500])).values(escalation_level=0))
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql('ANALYZE "case"')
        counts = dict(conn.execute(sa.select(Case.status, sa.func.count()).where(Case.id >= first_id)
                                   .group_by(Case.status)).all())
        overdue = conn.execute(sa.select(sa.func.count()).where(Case.due_at < anchor, Case.id >= first_id)).scalar()
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA journal_mode=WAL")
    else:   # what autovacuum does to a table in use: the visibility map that index-only scans rely on
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql('VACUUM ANALYZE "case"')
            conn.exec_driver_sql("VACUUM ANALYZE case_counter")
    engine.dispose()
    meta.update({"sweep_due": len(due), "statuses": counts, "open": sum(counts.get(s, 0) for s, _ in OPEN_MIX),
                 "overdue_at_anchor": overdue, "first_case_id": first_id, "seconds": round(time.monotonic() - t0, 1),
                 "insert_seconds": round(t2 - t1, 1), "index_seconds": round(t3 - t2, 1)})
    progress(f"generated in {meta['seconds']}s: {meta['open']:,} open ({overdue:,} overdue at the anchor), "
             f"{len(due)} due for the overdue sweep")
    return meta


def _as_the_application_leaves_it(conn) -> None:
    """Rows inserted with explicit ids and numbers leave the database as the application would: PostgreSQL's
    id sequence after the largest id (else the next case the API creates collides with a generated one),
    and each street's case-number counter of each day at its last number."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('\"case\"', 'id'), "
                             "(SELECT max(id) FROM \"case\"))")
    last = sa.func.max(sa.cast(sa.func.substr(Case.number, sa.func.length(Case.number) - 3), sa.Integer))
    day = sa.func.substr(Case.number, sa.func.length(Case.number) - 12, 8)
    rows = conn.execute(sa.select(Case.street_id, day, last)
                        .where(Case.street_id.in_(sa.select(Street.id).where(Street.code.like(f"{MARKER}-S%"))))
                        .group_by(Case.street_id, day)).all()
    conn.execute(sa.delete(CaseCounter).where(CaseCounter.street_id.in_({r[0] for r in rows})))
    for start in range(0, len(rows), 5000):
        conn.execute(sa.insert(CaseCounter), [{"street_id": s, "day": d, "last": n} for s, d, n in rows[start:start + 5000]])


def _insert_cases(engine, n, first_id, anchor, rng, neighbourhoods, heads, reporters, progress) -> None:
    texts = _texts()
    codes = list(CATEGORY_WEIGHTS)
    weights = list(CATEGORY_WEIGHTS.values())
    open_states, open_weights = zip(*OPEN_MIX)
    done_states, done_weights = zip(*DONE_MIX)
    deadlines = Deadlines()
    counters: dict[tuple[int, str], int] = {}
    span = timedelta(days=DAYS).total_seconds()
    start = anchor - timedelta(days=DAYS)
    prefixes = {}
    with engine.connect() as conn:
        for sid, prefix in conn.execute(sa.select(Street.id, Street.prefix)):
            prefixes[sid] = prefix
    table = Case.__table__
    rows: list[dict] = []
    hour = timedelta(hours=1)
    day = timedelta(days=1)
    insert = sa.insert(table)
    last_report = time.monotonic()
    with engine.connect() as conn:
        for i in range(n):
            received = start + timedelta(seconds=(i + rng.random()) * span / n)
            received = received.replace(microsecond=0)
            age = (anchor - received) / day
            nid, sid, lat, lng = neighbourhoods[rng.randrange(len(neighbourhoods))]
            code = rng.choices(codes, weights)[0]
            local_day = received.astimezone(SHANGHAI).date()
            ymd = local_day.strftime("%Y%m%d")
            seq = counters[(sid, ymd)] = counters.get((sid, ymd), 0) + 1
            p_open = 0.97 if age < 4 else 0.75 if age < 12 else 0.45 if age < 30 else 0.12 if age < 120 else 0.02
            is_open = rng.random() < p_open
            status = rng.choices(open_states, open_weights)[0] if is_open else rng.choices(done_states, done_weights)[0]
            contact_due = deadlines.add(local_day, CONTACT_DAYS.get(code, 1))
            handle_due = deadlines.add(local_day, HANDLING_DAYS.get(code, 5))
            row = {
                "id": first_id + i, "number": f"{prefixes[sid]}{ymd}-{seq:04d}", "category_code": code,
                "description": rng.choice(texts[code]), "lat": round(lat + rng.uniform(-0.002, 0.002), 6),
                "lng": round(lng + rng.uniform(-0.002, 0.002), 6), "address": f"{rng.choice(ROADS)}{rng.randint(1, 999)}号",
                "street_id": sid, "neighbourhood_id": nid, "reporter_user_id": rng.choice(reporters),
                "anonymous": False, "contact_consent": rng.random() < 0.95, "source": "resident", "status": status,
                "outcome": None, "assignee_user_id": None, "complex": False, "cycle": 1, "escalation_level": 0,
                "received_at": received, "dispatched_at": received, "accepted_at": None, "first_contact_at": None,
                "resolved_at": None, "closed_at": None, "visited_at": None, "visit_result": None, "rated_at": None,
                "rating": None, "updated_at": received, "contact_due_at": contact_due, "handle_due_at": handle_due,
                "rework_due_at": None, "visit_due_at": None, "deadlines_provisional": False, "due_at": None,
                "version": 1,
            }
            if status in ("merged", "rejected", "withdrawn"):
                row["updated_at"] = received + hour * rng.uniform(0.5, 20)
            elif status != "dispatched":
                accepted = received + hour * rng.uniform(0.2, 8)
                row["accepted_at"] = accepted
                row["assignee_user_id"] = heads[nid]
                if status != "accepted" or age > 12 or rng.random() < 0.5:
                    row["first_contact_at"] = accepted + hour * rng.uniform(0.2, 30)
                if status in ("resolved", "closed"):
                    resolved = accepted + day * rng.uniform(0.3, 8)
                    row["resolved_at"] = resolved
                    row["outcome"] = "solved" if rng.random() < 0.85 else "explained"
                    row["first_contact_at"] = row["first_contact_at"] or accepted + hour
                    row["updated_at"] = resolved
                if status == "closed":
                    closed = row["resolved_at"] + hour * rng.uniform(2, 30)
                    row["closed_at"] = row["updated_at"] = closed
                    row["visit_due_at"] = deadlines.next_day_end(closed.astimezone(SHANGHAI).date())
                    if rng.random() < 0.7:
                        row["visited_at"] = closed + hour * rng.uniform(16, 40)
                        row["visit_result"] = "solved" if rng.random() < 0.85 else "unsolved"
                    if rng.random() < 0.55:
                        row["rated_at"] = closed + hour * rng.uniform(2, 72)
                        row["rating"] = rng.choices((5, 4, 3, 2, 1), (55, 25, 10, 6, 4))[0]
                if status == "reopened":
                    row["cycle"] = 2
                    row["rework_due_at"] = deadlines.add((received + day * 6).astimezone(SHANGHAI).date(), 3)
            if is_open and age > 12 and row["first_contact_at"] is not None and rng.random() < 0.75:
                # Long-running open cases mostly have a later deadline: 复杂事项 approved, or 延期.
                row["complex"] = True
                row["handle_due_at"] = handle_due = deadlines.add(
                    (anchor + day * rng.uniform(0, 40)).astimezone(SHANGHAI).date(), 1)
                row["rework_due_at"] = None
                row["cycle"] = 1
            if is_open:
                handle = row["rework_due_at"] or handle_due
                contactable = row["contact_consent"]
                row["due_at"] = (min(contact_due, handle) if row["first_contact_at"] is None and contactable
                                 else handle)
                if row["due_at"] < anchor:
                    row["escalation_level"] = 2   # overdue for a while: already 督办
            rows.append(row)
            if len(rows) >= BATCH:
                with conn.begin():
                    conn.execute(insert, rows)
                rows = []
                if time.monotonic() - last_report > 15:
                    progress(f"  {i + 1:,} / {n:,} cases")
                    last_report = time.monotonic()
        if rows:
            with conn.begin():
                conn.execute(insert, rows)


# --- the cache --------------------------------------------------------------------------------------------------

def ensure_sqlite(n: int, migrate_env: dict, progress=print) -> tuple[Path, dict]:
    """The cached SQLite file with ``n`` generated cases (generating it when missing) and its description."""
    import shutil
    import subprocess

    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    key = cache_key(n)
    path = CACHE_DIR / f"{key}.db"
    meta_path = CACHE_DIR / f"{key}.json"
    if path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        meta["cached"] = True
        return path, meta
    for old in CACHE_DIR.glob("cases-*"):   # another version or size: make room
        old.unlink(missing_ok=True)
    partial = CACHE_DIR / f"{key}.partial.db"
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{partial}{suffix}").unlink(missing_ok=True)
    progress(f"generating {n:,} cases into {partial.relative_to(ROOT)} (cached for later runs)")
    env = dict(migrate_env, DATABASE_URL=f"sqlite:///{partial}")
    result = subprocess.run([sys.executable, "-m", "flask", "db", "upgrade"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"flask db upgrade failed:\n{result.stderr[-3000:]}")
    meta = generate(f"sqlite:///{partial}", n, progress=progress)
    for suffix in ("-wal", "-shm", "-journal"):
        Path(f"{partial}{suffix}").unlink(missing_ok=True)
    shutil.move(partial, path)
    meta["file_bytes"] = path.stat().st_size
    meta_path.write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    meta["cached"] = False
    return path, meta


def ensure_database(url: str, n: int, progress=print) -> dict:
    """The data set in a persistent database (PostgreSQL): generated once, found again by its marker;
    its description is kept in the cache directory, keyed by the database and N."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    from bench.http import redact

    meta_path = CACHE_DIR / f"pg-{hashlib.sha1(redact(url).encode()).hexdigest()[:10]}-{n}.json"
    found = existing(url)
    if found and found["cases"] == n and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("version") == GEN_VERSION:
            meta["cached"] = True
            return meta
    if found:
        progress(f"removing an earlier bench data set ({found['cases']:,} cases) from {redact(url)}")
        _remove(url)
    progress(f"generating {n:,} cases into {redact(url)}")
    meta = generate(url, n, progress=progress)
    meta_path.write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    meta["cached"] = False
    return meta


def _remove(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        streets = sa.select(Street.id).where(Street.code.like(f"{MARKER}-S%"))
        users = sa.select(User.id).where(User.username.like("bench.%"))
        notifications = sa.select(Notification.id).where(Notification.user_id.in_(users))
        conn.execute(sa.delete(Delivery).where(Delivery.notification_id.in_(notifications)))
        conn.execute(sa.delete(Notification).where(Notification.user_id.in_(users)))
        conn.execute(sa.text('DELETE FROM case_event WHERE case_id IN (SELECT id FROM "case" WHERE street_id IN '
                             "(SELECT id FROM street WHERE code LIKE :streets))"), {"streets": f"{MARKER}-S%"})
        conn.execute(sa.delete(Case).where(Case.street_id.in_(streets)))
        conn.execute(sa.delete(CaseCounter).where(CaseCounter.street_id.in_(streets)))
        conn.execute(sa.delete(RoleAssignment).where(RoleAssignment.user_id.in_(users)))
        conn.execute(sa.delete(User).where(User.username.like("bench.%")))
        conn.execute(sa.delete(Neighbourhood).where(Neighbourhood.street_id.in_(streets)))
        conn.execute(sa.delete(Area).where(Area.street_id.in_(streets)))
        conn.execute(sa.delete(Street).where(Street.code.like(f"{MARKER}-S%")))
        conn.execute(sa.delete(District).where(District.code == MARKER))
    engine.dispose()


def main(argv=None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m bench.gen_cases", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", type=int, default=int(os.environ.get("BENCH_CASES") or DEFAULT_CASES))
    where = p.add_mutually_exclusive_group()
    where.add_argument("--sqlite", help="a new SQLite file to migrate and fill (default: the benchmark's cache)")
    where.add_argument("--url", help="a migrated database (e.g. PostgreSQL) to fill")
    args = p.parse_args(argv)
    if args.cases < 1000:
        p.error("--cases must be at least 1000")
    from bench.http import production_environment

    environment = production_environment(database_url="sqlite:///unused.db")
    try:
        if args.url:
            meta = ensure_database(args.url, args.cases)
        elif args.sqlite:
            import subprocess

            path = Path(args.sqlite).resolve()
            if path.exists():
                p.error(f"{path} exists")
            env = dict(environment.env, DATABASE_URL=f"sqlite:///{path}")
            subprocess.run([sys.executable, "-m", "flask", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                           capture_output=True)
            meta = generate(f"sqlite:///{path}", args.cases)
        else:
            path, meta = ensure_sqlite(args.cases, environment.env)
            print(f"cache: {path}")
    finally:
        environment.cleanup()
    print(json.dumps({k: v for k, v in meta.items() if k != "street_ids"}, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
