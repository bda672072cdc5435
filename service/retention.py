"""How long personal data is kept, as data (config/rules/privacy.yaml), and the daily sweep that enforces it.

Each kind names when its purpose ends, how many months it is then kept, the floor a law sets and what
then happens: ``archive`` (audit entries: written to storage as gzipped JSON lines with their checksum,
recorded in ``audit_archive``, then removed, which the database allows only for archived entries six months
old) or ``delete``. The sweep reports a count per kind; a run stopped half-way is simply run again (every
step is its own transaction, and an archive is recorded in the transaction that removes its entries).
"""
from __future__ import annotations

import calendar
import gzip
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from models.audit import AuditArchive, AuditEntry
from models.base import db
from models.notifications import Delivery, Notification
from service import clock, registry, rules, storage
from service.db import transactional

ACTIONS = ("archive", "delete", "anonymise")


def all_kinds() -> dict[str, tuple[tuple[str, ...], object]]:
    """Every kind the sweep can enforce: code → (the actions it can take, its sweep). The platform's are
    ``PLATFORM_KINDS`` (below); a domain adds its own in its personal-data part
    (service/<domain>/personal_data.py ``RETENTION``), in the same shape: ``sweep(cutoff, now, batch, batches)
    -> count`` archives, deletes or anonymises what ended its purpose before ``cutoff``, ``batch`` rows a
    transaction, at most ``batches`` transactions a run."""
    found = dict(PLATFORM_KINDS)
    for domain in registry.domains():
        part = domain.module("personal_data")
        found.update(getattr(part, "RETENTION", {}) if part is not None else {})
    return found


def known_kinds() -> dict[str, tuple[str, ...]]:
    return {code: actions for code, (actions, _sweep) in all_kinds().items()}


@dataclass(frozen=True)
class Kind:
    code: str
    name: tuple[str, str]
    purpose_ends: tuple[str, str]
    keep_months: int
    minimum_months: int
    then: str

    def label(self, lang: str = "zh") -> str:
        return self.name[1] if lang == "en" else self.name[0]


@dataclass(frozen=True)
class Policy:
    kinds: dict[str, Kind]
    entries_per_object: int
    objects_per_sweep: int
    names_of_roles: frozenset[str]


_policy: Policy | None = None


def load(directory=None) -> Policy:
    """Read and check config/rules/privacy.yaml (at start-up)."""
    global _policy
    data = rules.load("privacy", directory)
    where = "privacy.yaml"
    retention = data.get("retention")
    rules.require(isinstance(retention, dict) and retention, where, "'retention' must be a non-empty mapping")
    kinds = {}
    known = known_kinds()
    for code, spec in retention.items():
        rules.require(code in known, where, f"retention: unknown kind {code!r} (known: {', '.join(known)})")
        rules.require(isinstance(spec, dict), where, f"retention.{code} must be a mapping")
        for field in ("name", "purpose_ends"):
            rules.pair(spec.get(field), where, f"retention.{code}.{field}")
        keep, floor = spec.get("keep_months"), spec.get("minimum_months", 0)
        rules.require(isinstance(keep, int) and not isinstance(keep, bool) and keep >= 1, where,
                      f"retention.{code}.keep_months must be a whole number of months ≥ 1")
        rules.require(isinstance(floor, int) and not isinstance(floor, bool) and floor >= 0, where,
                      f"retention.{code}.minimum_months must be a whole number ≥ 0")
        rules.require(keep >= floor, where, f"retention.{code}: keep_months {keep} is below the legal minimum "
                                            f"of {floor} months")
        then = spec.get("then")
        rules.require(then in known[code], where, f"retention.{code}.then must be one of {', '.join(known[code])}")
        kinds[code] = Kind(code, tuple(spec["name"]), tuple(spec["purpose_ends"]), keep, floor, then)
    rules.require("audit_entry" in kinds and kinds["audit_entry"].minimum_months >= 6, where,
                  "retention.audit_entry must be listed with minimum_months ≥ 6 (网络安全法 Art. 21)")
    archive = data.get("archive") or {}
    per_object, per_sweep = archive.get("entries_per_object", 5000), archive.get("objects_per_sweep", 20)
    for field, value in (("entries_per_object", per_object), ("objects_per_sweep", per_sweep)):
        rules.require(isinstance(value, int) and not isinstance(value, bool) and value >= 1, where,
                      f"archive.{field} must be a whole number ≥ 1")
    roles = (data.get("data_access") or {}).get("names_of_roles", [])
    rules.require(isinstance(roles, list) and all(isinstance(r, str) for r in roles), where,
                  "data_access.names_of_roles must be a list of roles")
    _policy = Policy(kinds, per_object, per_sweep, frozenset(roles))
    return _policy


def policy() -> Policy:
    return _policy or load()


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time ``months`` calendar months earlier (the month's last day when it has fewer)."""
    year, month = divmod(moment.year * 12 + moment.month - 1 - months, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def table(lang: str = "zh") -> list[dict]:
    """The retention table (the README prints it): each kind, when its purpose ends, how long it is kept."""
    zh = lang != "en"
    return [{"kind": k.code, "name": k.label(lang), "purpose_ends": k.purpose_ends[0 if zh else 1],
             "keep_months": k.keep_months, "minimum_months": k.minimum_months, "then": k.then}
            for k in policy().kinds.values()]


# --- the sweep --------------------------------------------------------------------------------------------------

def sweep(now: datetime | None = None) -> dict:
    """Enforce every kind once: {kind: count}, each in batches of ``entries_per_object`` (an archive object for
    audit entries), at most ``objects_per_sweep`` a kind; the rest waits for the next day's run."""
    now = now or clock.now()
    sweeps, p = all_kinds(), policy()
    return {code: sweeps[code][1](months_before(now, kind.keep_months), now, p.entries_per_object,
                                  p.objects_per_sweep) for code, kind in p.kinds.items()}


def _archive_audit(cutoff: datetime, now: datetime, batch: int, batches: int) -> int:
    return batched(lambda size: _archive_one(cutoff, now, size), batch, batches)


@transactional
def _archive_one(cutoff: datetime, now: datetime, size: int) -> int:
    """The oldest run of entries written before ``cutoff``: stored, recorded, removed, in one transaction
    (the object is written first: a failure after it leaves an object that the next run writes again)."""
    entries = db.session.execute(sa.select(AuditEntry).where(AuditEntry.at < cutoff)
                                 .order_by(AuditEntry.id).limit(size)).scalars().all()
    if not entries:
        return 0
    first, last = entries[0].id, entries[-1].id
    lines = "".join(json.dumps(_line(e), ensure_ascii=False, sort_keys=True) + "\n" for e in entries)
    data = gzip.compress(lines.encode(), mtime=0)
    key = f"audit-archive/{first:012d}-{last:012d}.jsonl.gz"
    storage.current().put(key, data, "application/gzip")
    db.session.add(AuditArchive(first_id=first, last_id=last, entries=len(entries), before=cutoff,
                                storage_key=key, size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                                created_at=now))
    db.session.flush()  # the archive's row first: the database lets an archived entry go, no other
    ids = [e.id for e in entries]
    for e in entries:
        db.session.expunge(e)
    db.session.execute(sa.delete(AuditEntry).where(AuditEntry.id.in_(ids)))
    return len(ids)


def _line(entry: AuditEntry) -> dict:
    return {"id": entry.id, "at": clock.iso(entry.at), "actor_user_id": entry.actor_user_id,
            "actor_role": entry.actor_role, "action": entry.action, "object_type": entry.object_type,
            "object_id": entry.object_id, "before": entry.before, "after": entry.after, "ip": entry.ip,
            "street_id": entry.street_id, "subject_user_id": entry.subject_user_id}


def read_archive(archive: AuditArchive) -> list[dict]:
    """An archive's entries, after checking the stored object against its recorded checksum."""
    data = storage.current().get(archive.storage_key)
    if hashlib.sha256(data).hexdigest() != archive.sha256:
        raise storage.StorageError(f"{archive.storage_key}: checksum differs from the archive's record")
    return [json.loads(line) for line in gzip.decompress(data).decode().splitlines()]


def batched(step, batch: int, batches: int) -> int:
    """Run ``step(batch) -> rows`` (one transaction each) until it does fewer than ``batch`` rows, at most
    ``batches`` times; the rows in all. What is left waits for the next run."""
    done = 0
    for _ in range(batches):
        count = step(batch)
        done += count
        if count < batch:
            break
    return done


def _delete_notifications(cutoff: datetime, now: datetime, batch: int, batches: int) -> int:
    """Messages read before ``cutoff``, and those never read that were sent before it, with their deliveries;
    ``batch`` a transaction."""
    return batched(lambda size: _delete_notification_batch(cutoff, size), batch, batches)


@transactional
def _delete_notification_batch(cutoff: datetime, size: int) -> int:
    ids = db.session.execute(sa.select(Notification.id).where(sa.or_(
        Notification.read_at < cutoff, sa.and_(Notification.read_at.is_(None), Notification.created_at < cutoff)))
        .order_by(Notification.id).limit(size)).scalars().all()
    if not ids:
        return 0
    db.session.execute(sa.delete(Delivery).where(Delivery.notification_id.in_(ids)))
    return db.session.execute(sa.delete(Notification).where(Notification.id.in_(ids))).rowcount or 0


PLATFORM_KINDS = {"audit_entry": (("archive",), _archive_audit), "notification": (("delete",), _delete_notifications)}
