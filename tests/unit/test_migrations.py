"""The migrations build exactly the schema the models describe; 0009 keeps what residents typed about
themselves as declared (never verified) while reopening family links their requester confirmed; 0011 attaches
the uploads a motion lists to it."""
from __future__ import annotations

import os
import tempfile
from datetime import date, datetime, timezone
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from api.app import create_app
from models.base import UTCDateTime, compared_by_alembic, db
from tests.conftest import fresh_postgres_database

MIGRATIONS = str(Path(__file__).resolve().parents[2] / "migrations")
T = datetime(2026, 1, 5, 2, 0, tzinfo=timezone.utc)


def test_the_migrated_schema_matches_the_models():
    context = MigrationContext.configure(db.session.connection(), opts={"compare_type": True,
                                                                          "include_object": compared_by_alembic})
    assert compare_metadata(context, db.metadata) == []


def _table(name: str, *columns: str, stamps: bool = True, **typed) -> sa.TableClause:
    cols = [sa.column(c) for c in columns] + [sa.column(c, t) for c, t in typed.items()]
    if stamps:
        cols += [sa.column("created_at", UTCDateTime()), sa.column("updated_at", UTCDateTime())]
    return sa.table(name, *cols)


def _at_0008(conn) -> dict:
    """Rows as a database at 0008 holds them: every profile value was typed by the resident (PATCH /me)."""
    stamp = {"created_at": T, "updated_at": T}
    users = _table("user", "id", "username", "is_active", "is_demo")
    conn.execute(users.insert(), [{"id": i, "username": f"u{i}", "is_active": True, "is_demo": False, **stamp}
                                  for i in (1, 2, 3, 4)])
    conn.execute(_table("district", "id", "code", "name").insert(), [{"id": 1, "code": "d", "name": "普陀区", **stamp}])
    conn.execute(_table("street", "id", "code", "district_id", "name", "prefix", "coord_source").insert(),
                 [{"id": 1, "code": "s", "district_id": 1, "name": "万里街道", "prefix": "WL",
                   "coord_source": "approximate", **stamp}])
    conn.execute(_table("neighbourhood", "id", "code", "street_id", "name", "committee_name", "coord_source").insert(),
                 [{"id": 1, "code": "n", "street_id": 1, "name": "香泉路居民区", "committee_name": "香泉路居委会",
                   "coord_source": "approximate", **stamp}])
    profiles = _table("resident_profile", "user_id", "name", "phone_verified", "id_number_enc", "id_number_hash",
                      "neighbourhood_id", birth_date=sa.Date())
    conn.execute(profiles.insert(), [
        {"user_id": 1, "name": "钱", "phone_verified": False, "id_number_enc": "enc", "id_number_hash": "hash",
         "neighbourhood_id": 1, "birth_date": date(1931, 1, 1), **stamp},
        {"user_id": 2, "name": "王", "phone_verified": False, "id_number_enc": None, "id_number_hash": None,
         "neighbourhood_id": None, "birth_date": None, **stamp}])
    links = _table("family_link", "id", "proxy_user_id", "elder_user_id", "relation", "status", "decided_by",
                   "reason", decided_at=UTCDateTime())
    conn.execute(links.insert(), [
        # 3, a staff member, asked to act for 1 and confirmed it themself under the staff role
        {"id": 1, "proxy_user_id": 3, "elder_user_id": 1, "relation": "child", "status": "confirmed",
         "decided_by": 3, "decided_at": T, "reason": None, **stamp},
        # confirmed by the elder, and by another staff member: both stand
        {"id": 2, "proxy_user_id": 2, "elder_user_id": 1, "relation": "child", "status": "confirmed",
         "decided_by": 1, "decided_at": T, "reason": None, **stamp},
        {"id": 3, "proxy_user_id": 4, "elder_user_id": 1, "relation": "other", "status": "confirmed",
         "decided_by": 3, "decided_at": T, "reason": None, **stamp}])


def _across(before: str, after: str, seed, read, *, back_and_again: bool = False):
    """On a fresh database (PostgreSQL when TEST_DATABASE_URL names one, else SQLite): migrate to ``before``,
    ``seed(connection)``, migrate to ``after`` (``back_and_again``: down to ``before`` and up again) and return
    ``read(connection)``."""
    def run(url: str):
        app = create_app(profile="test", config={"SQLALCHEMY_DATABASE_URI": url})
        with app.app_context():
            try:
                upgrade(directory=MIGRATIONS, revision=before)
                with db.engine.begin() as conn:
                    seed(conn)
                upgrade(directory=MIGRATIONS, revision=after)
                if back_and_again:
                    downgrade(directory=MIGRATIONS, revision=before)
                    upgrade(directory=MIGRATIONS, revision=after)
                with db.engine.begin() as conn:
                    return read(conn)
            finally:
                db.session.remove()
                db.engine.dispose()

    base = os.environ.get("TEST_DATABASE_URL")
    if base:
        with fresh_postgres_database(base, "linli_migration") as url:
            return run(url)
    with tempfile.TemporaryDirectory() as tmp:
        return run(f"sqlite:///{Path(tmp) / 'migration.db'}")


def _profiles_links_audit(conn) -> tuple[list, list, list]:
    profiles = conn.execute(sa.text(
        "SELECT user_id, birth_date, declared_birth_date, neighbourhood_id, declared_neighbourhood_id, "
        "id_number_hash, id_verified_at, birth_date_verified_at, residence_verified_at "
        "FROM resident_profile ORDER BY user_id")).all()
    links = conn.execute(sa.text("SELECT id, status, decided_by, decided_at FROM family_link ORDER BY id")).all()
    audit = conn.execute(sa.text("SELECT action, object_type, object_id, actor_user_id FROM audit_entry ORDER BY id")
                         ).all()
    return profiles, links, audit


def test_0009_keeps_typed_values_as_declared_and_reopens_self_confirmed_links():
    profiles, links, audit = _across("0008", "0009", _at_0008, _profiles_links_audit)
    typed, empty = profiles
    assert (typed.birth_date, typed.neighbourhood_id) == (None, None)
    assert str(typed.declared_birth_date) == "1931-01-01" and typed.declared_neighbourhood_id == 1
    assert typed.id_number_hash == "hash"   # kept, but not verified
    assert (typed.id_verified_at, typed.birth_date_verified_at, typed.residence_verified_at) == (None, None, None)
    assert (empty.declared_birth_date, empty.declared_neighbourhood_id) == (None, None)
    assert [(row.id, row.status, row.decided_by) for row in links] == \
        [(1, "pending", None), (2, "confirmed", 1), (3, "confirmed", 3)]
    assert links[0].decided_at is None
    assert [tuple(row) for row in audit] == [("family_link.reopened", "family_link", "1", None)]


def _at_0010(conn) -> None:
    """A motion listing three attachments: one its author still holds unattached, one the sweep has taken, one
    a case photo (attached to the case already, never to be taken from it)."""
    stamp = {"created_at": T, "updated_at": T}
    conn.execute(_table("user", "id", "username", "is_active", "is_demo").insert(),
                 [{"id": 1, "username": "committee", "is_active": True, "is_demo": False, **stamp}])
    conn.execute(_table("district", "id", "code", "name").insert(), [{"id": 1, "code": "d", "name": "普陀区", **stamp}])
    conn.execute(_table("street", "id", "code", "district_id", "name", "prefix", "coord_source").insert(),
                 [{"id": 1, "code": "s", "district_id": 1, "name": "万里街道", "prefix": "WL",
                   "coord_source": "approximate", **stamp}])
    conn.execute(_table("estate", "id", "code", "street_id", "name", "coord_source").insert(),
                 [{"id": 1, "code": "e", "street_id": 1, "name": "香泉苑", "coord_source": "approximate", **stamp}])
    uploads = _table("upload", "id", "owner_user_id", "content_type", "width", "height", "size", "sha256",
                     "attached_to", stamps=False, data=sa.LargeBinary(), created_at=UTCDateTime())
    conn.execute(uploads.insert(), [
        {"id": i, "owner_user_id": 1, "content_type": "image/png", "width": 1, "height": 1, "size": 1,
         "sha256": "0" * 64, "data": b"x", "attached_to": attached, "created_at": T}
        for i, attached in ((1, None), (3, "case:9"), (4, None))])
    motion = _table("motion", "id", "estate_id", "title", "body", "item", "kind", "scope_type", "major_repair",
                    "status", "notice_days", "publication_days", "revote", "silent_with_majority", "extended",
                    "chain_head", "chain_length", "version", stamps=False, attachments=sa.JSON(), scope_ids=sa.JSON(),
                    reminders_sent=sa.JSON(), opens_at=UTCDateTime(), closes_at=UTCDateTime(),
                    created_at=UTCDateTime())
    conn.execute(motion.insert(), [{
        "id": 7, "estate_id": 1, "title": "加装电梯", "body": "…", "attachments": [1, 2, 3], "item": 5,
        "kind": "yes_no", "scope_type": "estate", "scope_ids": [], "major_repair": False, "status": "draft",
        "notice_days": 15, "publication_days": 15, "revote": "none", "silent_with_majority": False,
        "reminders_sent": [], "opens_at": T, "closes_at": T, "extended": False, "chain_head": "0" * 64,
        "chain_length": 0, "created_at": T, "version": 1}])


def test_0011_attaches_the_uploads_a_motion_lists_and_takes_none_from_a_case():
    attached = _across("0010", "0011", _at_0010, lambda conn: dict(conn.execute(sa.text(
        "SELECT id, attached_to FROM upload ORDER BY id")).all()))
    assert attached == {1: "motion:7", 3: "case:9", 4: None}


def test_0013_creates_the_arrangement_table_and_downgrades_and_upgrades_again():
    def read(conn):
        conn.execute(sa.text(
            "INSERT INTO calendar_arrangement (year, notice, published_on, holidays, workdays, revision, "
            "loaded_at) VALUES (2027, 'n', '2026-11-12', '[\"2027-01-01\"]', '[]', 1, :at)"), {"at": T})
        return conn.execute(sa.text("SELECT year, revision FROM calendar_arrangement")).all()

    assert _across("0012", "0013", lambda conn: None, read, back_and_again=True) == [(2027, 1)]


def test_0014_keeps_the_bytes_of_existing_uploads_and_lets_new_ones_hold_only_a_key():
    def seed(conn):
        conn.execute(_table("user", "id", "username", "is_active", "is_demo").insert(),
                     [{"id": 1, "username": "u", "is_active": True, "is_demo": False, "created_at": T, "updated_at": T}])
        conn.execute(_table("upload", "id", "owner_user_id", "content_type", "width", "height", "size", "sha256",
                            stamps=False, data=sa.LargeBinary(), created_at=UTCDateTime()).insert(),
                     [{"id": 1, "owner_user_id": 1, "content_type": "image/png", "width": 1, "height": 1, "size": 3,
                       "sha256": "0" * 64, "data": b"old", "created_at": T}])

    def read(conn):
        conn.execute(sa.text("INSERT INTO upload (id, owner_user_id, content_type, width, height, size, sha256, "
                             "storage_key, created_at) VALUES (2, 1, 'image/png', 1, 1, 3, :sha, 'uploads/k.png', :at)"),
                     {"sha": "1" * 64, "at": T})
        rows = conn.execute(sa.text("SELECT id, storage_key, data FROM upload ORDER BY id")).all()
        try:  # a key names one object
            with conn.begin_nested():
                conn.execute(sa.text("INSERT INTO upload (id, owner_user_id, content_type, width, height, size, "
                                     "sha256, storage_key, created_at) VALUES (3, 1, 'image/png', 1, 1, 3, :sha, "
                                     "'uploads/k.png', :at)"), {"sha": "2" * 64, "at": T})
            unique = False
        except sa.exc.IntegrityError:
            unique = True
        return [tuple(row) for row in rows], unique

    rows, unique = _across("0013", "0014", seed, read, back_and_again=True)
    assert rows == [(1, None, b"old"), (2, "uploads/k.png", None)] and unique
