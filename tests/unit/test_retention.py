"""Retention as data (config/rules/privacy.yaml), the daily sweep, and an audit log the database keeps."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from config import RULES_DIR
from models.audit import AuditArchive, AuditEntry
from models.base import db
from models.notifications import Delivery, Notification
from service import clock, retention, storage
from service.rules import RulesError
from tests.factories import make_user


def _entry(at: datetime, action: str = "resident.viewed", subject: int | None = None) -> AuditEntry:
    entry = AuditEntry(at=at, actor_role="staff", action=action, object_type="user",
                       object_id=str(subject) if subject else None, subject_user_id=subject)
    db.session.add(entry)
    db.session.flush()
    return entry


def _refused(statement) -> str:
    """Run ``statement`` in a savepoint; the database must refuse it. Returns its message."""
    with pytest.raises(sa.exc.DBAPIError) as refused:
        with db.session.begin_nested():
            db.session.execute(statement)
    return str(refused.value)


# --- the rules -----------------------------------------------------------------------------------------------

def _rules_with(tmp_path: Path, change) -> Path:
    data = yaml.safe_load((RULES_DIR / "privacy.yaml").read_text(encoding="utf-8"))
    change(data)
    (tmp_path / "privacy.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return tmp_path


def test_the_shipped_rules_load_and_give_the_table():
    policy = retention.load()
    assert policy.kinds["audit_entry"].keep_months == 36 and policy.kinds["audit_entry"].minimum_months == 6
    assert policy.kinds["audit_entry"].then == "archive" and policy.kinds["notification"].then == "delete"
    rows = {row["kind"]: row for row in retention.table()}
    assert rows["audit_entry"]["name"] == "审计日志" and retention.table("en")[0]["name"] == "Audit log"


@pytest.mark.parametrize("change, problem", [
    (lambda d: d["retention"]["audit_entry"].update(keep_months=5), "below the legal minimum of 6 months"),
    (lambda d: d["retention"]["audit_entry"].update(minimum_months=3, keep_months=3), "minimum_months ≥ 6"),
    (lambda d: d["retention"].pop("audit_entry"), "must be listed"),
    (lambda d: d["retention"]["notification"].update(then="archive"), "then must be one of delete"),
    (lambda d: d["retention"].update(photos={}), "unknown kind 'photos'"),
    (lambda d: d["retention"]["notification"].update(keep_months=0), "keep_months must be a whole number"),
    (lambda d: d["retention"]["notification"].update(name="消息"), "name must be [中文, English]"),
    (lambda d: d["archive"].update(entries_per_object=0), "entries_per_object"),
])
def test_rules_that_would_keep_too_little_or_make_no_sense_stop_the_start(tmp_path, change, problem):
    try:
        with pytest.raises(RulesError) as refused:
            retention.load(_rules_with(tmp_path, change))
        assert problem in str(refused.value)
    finally:
        retention.load()


def test_months_before_keeps_the_day_or_takes_the_months_last():
    at = datetime(2026, 8, 31, 12, tzinfo=timezone.utc)
    assert retention.months_before(at, 6) == datetime(2026, 2, 28, 12, tzinfo=timezone.utc)
    assert retention.months_before(at, 36) == datetime(2023, 8, 31, 12, tzinfo=timezone.utc)
    assert retention.months_before(datetime(2027, 1, 15, tzinfo=timezone.utc), 1) == datetime(2026, 12, 15,
                                                                                                tzinfo=timezone.utc)


# --- the database keeps the audit log --------------------------------------------------------------------------

def test_the_database_refuses_to_change_or_remove_a_recent_entry(is_postgres):
    """As the application's own connection, past the ORM: UPDATE and DELETE are refused by the trigger."""
    entry = _entry(clock.now())
    message = _refused(sa.update(AuditEntry).where(AuditEntry.id == entry.id).values(action="nothing.happened"))
    assert "append-only" in message
    assert "append-only" in _refused(sa.delete(AuditEntry).where(AuditEntry.id == entry.id))
    if is_postgres:
        assert "append-only" in _refused(sa.text("TRUNCATE audit_entry"))
    db.session.expire_all()
    assert db.session.get(AuditEntry, entry.id).action == "resident.viewed"


def test_an_old_entry_is_removed_only_once_archived():
    old = _entry(clock.now() - timedelta(days=4 * 366))
    assert "append-only" in _refused(sa.delete(AuditEntry).where(AuditEntry.id == old.id))
    db.session.add(AuditArchive(first_id=old.id, last_id=old.id, entries=1, before=clock.now(), storage_key="k",
                                size=1, sha256="0" * 64, created_at=clock.now()))
    db.session.flush()
    newer_than_six_months = _entry(clock.now() - timedelta(days=150))
    db.session.add(AuditArchive(first_id=newer_than_six_months.id, last_id=newer_than_six_months.id, entries=1,
                                before=clock.now(), storage_key="k2", size=1, sha256="0" * 64, created_at=clock.now()))
    db.session.flush()
    # Archived but not six months old: still kept. Archived and old: it may go.
    assert "append-only" in _refused(sa.delete(AuditEntry).where(AuditEntry.id == newer_than_six_months.id))
    assert "append-only" in _refused(sa.update(AuditEntry).where(AuditEntry.id == old.id).values(ip="x"))
    with db.session.begin_nested():
        assert db.session.execute(sa.delete(AuditEntry).where(AuditEntry.id == old.id)).rowcount == 1


# --- the sweep --------------------------------------------------------------------------------------------------

def test_the_sweep_archives_entries_past_their_period_and_the_archive_reads_back(monkeypatch):
    now = clock.now()
    cutoff = retention.months_before(now, 36)
    user = make_user(name="王秀英")
    old = [_entry(cutoff - timedelta(days=40 - i), subject=user.id) for i in range(5)]
    just_inside = _entry(cutoff + timedelta(hours=1))
    recent = _entry(now - timedelta(days=1))
    monkeypatch.setattr(retention, "_policy", dataclasses.replace(retention.policy(), entries_per_object=2))
    done = retention.sweep(now)
    assert done["audit_entry"] == 5
    archives = db.session.execute(sa.select(AuditArchive).order_by(AuditArchive.first_id)).scalars().all()
    assert [(a.first_id, a.last_id, a.entries) for a in archives] == [
        (old[0].id, old[1].id, 2), (old[2].id, old[3].id, 2), (old[4].id, old[4].id, 1)]
    lines = [line for a in archives for line in retention.read_archive(a)]
    assert [line["id"] for line in lines] == [e.id for e in old]
    assert all(line["subject_user_id"] == user.id and line["at"].endswith("+08:00") for line in lines)
    left = set(db.session.execute(sa.select(AuditEntry.id)).scalars())
    assert {just_inside.id, recent.id} <= left and not left & {e.id for e in old}
    assert retention.sweep(now)["audit_entry"] == 0   # run again: nothing more to do
    # An archive whose stored object was changed is refused when read.
    storage.current().put(archives[0].storage_key, b"changed", "application/gzip")
    with pytest.raises(storage.StorageError):
        retention.read_archive(archives[0])


def test_the_sweep_deletes_messages_past_their_period_with_their_deliveries():
    now = clock.now()
    user = make_user(name="王秀英")

    def message(key: str, created: datetime, read: datetime | None) -> Notification:
        note = Notification(user_id=user.id, dedupe_key=key, kind="case.update", title="t", body="b",
                            created_at=created, read_at=read)
        db.session.add(note)
        db.session.flush()
        db.session.add(Delivery(notification_id=note.id, template_id="tpl", status="sent", updated_at=created))
        return note

    read_long_ago = message("a", now - timedelta(days=500), now - timedelta(days=400))
    unread_long_ago = message("b", now - timedelta(days=400), None)
    read_lately = message("c", now - timedelta(days=500), now - timedelta(days=300))
    unread_lately = message("d", now - timedelta(days=30), None)
    db.session.flush()
    kept, gone = {read_lately.id, unread_lately.id}, {read_long_ago.id, unread_long_ago.id}
    assert retention.sweep(now)["notification"] == 2
    left = set(db.session.execute(sa.select(Notification.id)).scalars())
    assert kept <= left and not left & gone
    deliveries = set(db.session.execute(sa.select(Delivery.notification_id)).scalars())
    assert kept <= deliveries and not deliveries & gone


def test_the_retention_sweep_is_a_daily_job():
    from jobs import system

    job = next(j for j in system.JOBS if j.id == "system.retention")
    assert job.trigger == "cron" and job.trigger_args == {"hour": 3, "minute": 40}


# --- the migration --------------------------------------------------------------------------------------------

@pytest.fixture
def scratch_database(tmp_path, database_url):
    """A database of this test's own, to migrate step by step."""
    if not database_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'scratch.db'}"
        return
    from tests.conftest import fresh_postgres_database

    with fresh_postgres_database(database_url, prefix="linli_audit") as url:
        yield url


def test_the_migration_names_the_subject_of_entries_written_before_it(scratch_database, wechat_fake):
    """Entries written before migration 0019 get their subject from their objects: a user object is its
    own subject, a family link's is its elder; the others stay without one."""
    from flask_migrate import upgrade

    from api.app import create_app
    from models.people import FamilyLink

    migrations = str(Path(__file__).resolve().parents[2] / "migrations")
    other = create_app(profile="test", config={"SQLALCHEMY_DATABASE_URI": scratch_database,
                                               "WECHAT_API_BASE": wechat_fake.url})
    with other.app_context():
        try:
            upgrade(directory=migrations, revision="0018")
            elder, son = make_user(name="王秀英"), make_user(name="王强")
            link = FamilyLink(proxy_user_id=son.id, elder_user_id=elder.id, relation="child", status="confirmed")
            db.session.add(link)
            db.session.commit()
            insert = sa.text("INSERT INTO audit_entry (at, action, object_type, object_id) "
                             "VALUES (:at, :action, :type, :id)")
            at = datetime(2026, 11, 1, tzinfo=timezone.utc)
            for action, kind, object_id in (("resident.viewed", "user", str(son.id)),
                                            ("family_link.confirmed", "family_link", str(link.id)),
                                            ("life_circle.facility.create", "facility", "7")):
                db.session.execute(insert, {"at": at, "action": action, "type": kind, "id": object_id})
            db.session.commit()
            upgrade(directory=migrations)
            subjects = dict(db.session.execute(sa.text("SELECT action, subject_user_id FROM audit_entry")).all())
            assert subjects == {"resident.viewed": son.id, "family_link.confirmed": elder.id,
                                "life_circle.facility.create": None}
            db.session.rollback()
            with pytest.raises(sa.exc.DBAPIError):   # and from now on the log is kept as written
                with db.engine.begin() as conn:
                    conn.execute(sa.text("UPDATE audit_entry SET action = 'x'"))
        finally:
            db.session.remove()
            db.engine.dispose()
