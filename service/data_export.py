"""A copy of everything Linli holds about a person (个人信息保护法 Art. 45): a zip of JSON documents, one per
kind of data (every part of service/personal_data.py), with the person's own photos and a README.

Asked for with ``request``: one copy is prepared at a time per person (the database allows one pending row;
two requests at once get the same copy). A person with few photos gets it built in the request itself; one
with more (``export.inline_max_photos``) gets it from the export sweep, a minute or so later. Either way the
inbox announces it. It is downloadable by its owner only, for ``export.keep_days``; then the sweep deletes
the file. The file lives in the storage (service/storage.py) under ``exports/``.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import secrets
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from models.base import db
from models.privacy import DataExport
from models.uploads import Upload
from service import clock, notifications, personal_data, rules, storage, uploads
from service.db import is_unique_violation, reading, transactional
from service.errors import DomainError
from service.platform_errors import ExportExpired, ExportNotFound, ExportNotReady, UploadStorageUnavailable

log = logging.getLogger("linli.privacy")

KEY_PREFIX = "exports/"
_EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}
README = """邻里（Linli）个人信息副本 / A copy of your personal data

本压缩包包含邻里平台保存的关于您的全部信息，每类信息一个 JSON 文件；photos/ 目录是您本人上传的照片。
时间均为北京时间（+08:00）。如有疑问，请联系您所在的居委会。

This archive holds everything Linli keeps about you, one JSON file per kind of data; photos/ holds the photos
you uploaded. Times are Shanghai time (+08:00). Questions: your neighbourhood committee.

"""


@dataclass(frozen=True)
class Settings:
    keep_days: int
    reuse_hours: int
    inline_max_photos: int
    per_sweep: int


_settings: Settings | None = None


def load(directory=None) -> Settings:
    """Read and check ``export:`` of config/rules/privacy.yaml (at start-up)."""
    global _settings
    spec = rules.load("privacy", directory).get("export") or {}
    values = {"keep_days": spec.get("keep_days", 7), "reuse_hours": spec.get("reuse_hours", 1),
              "inline_max_photos": spec.get("inline_max_photos", 20),
              "per_sweep": spec.get("per_sweep", 20)}
    for name, value in values.items():
        rules.require(isinstance(value, int) and not isinstance(value, bool) and value >= 1, "privacy.yaml",
                      f"export.{name} must be a whole number ≥ 1")
    _settings = Settings(**values)
    return _settings


def settings() -> Settings:
    return _settings or load()


# --- asking for a copy ---------------------------------------------------------------------------------------------

def request(actor) -> DataExport:
    """The caller's copy: the one being prepared, or one made within ``export.reuse_hours``, else a new one
    (built here when it is small)."""
    try:
        export, created = _open(actor.user_id)
    except sa.exc.IntegrityError as exc:  # another request opened it at the same moment
        if not is_unique_violation(exc):
            raise
        export, created = _open(actor.user_id)
    with reading():
        small = created and _photos(actor.user_id) <= settings().inline_max_photos
    if small and build(export.id):
        with reading():
            db.session.refresh(export)
    return export


@transactional
def _open(user_id: int) -> tuple[DataExport, bool]:
    pending = db.session.execute(sa.select(DataExport).where(DataExport.user_id == user_id,
                                                             DataExport.status == "pending")).scalar_one_or_none()
    if pending is not None:
        return pending, False
    now = clock.now()
    recent = db.session.execute(sa.select(DataExport).where(
        DataExport.user_id == user_id, DataExport.status == "ready", DataExport.expires_at > now,
        DataExport.ready_at > now - timedelta(hours=settings().reuse_hours)).order_by(DataExport.id.desc()).limit(1)
    ).scalar_one_or_none()
    if recent is not None:
        return recent, False
    export = DataExport(user_id=user_id, status="pending", requested_at=now)
    db.session.add(export)
    db.session.flush()
    return export, True


def _photos(user_id: int) -> int:
    return db.session.execute(sa.select(sa.func.count()).select_from(Upload)
                              .where(Upload.owner_user_id == user_id)).scalar()


def mine(actor, limit: int = 10) -> list[DataExport]:
    return db.session.execute(sa.select(DataExport).where(DataExport.user_id == actor.user_id)
                              .order_by(DataExport.id.desc()).limit(limit)).scalars().all()


def present(export: DataExport) -> dict:
    now = clock.now()
    status = "expired" if export.status == "ready" and export.expires_at <= now else export.status
    return {"id": export.id, "status": status, "requested_at": export.requested_at, "ready_at": export.ready_at,
            "expires_at": export.expires_at, "size": export.size, "sha256": export.sha256,
            "counts": export.counts, "download": f"/api/v1/me/data-export/{export.id}/download"
            if status == "ready" else None}


def download(actor, export_id: int) -> tuple[bytes, str]:
    """The zip's bytes and a file name, for its owner while it is ready."""
    export = db.session.get(DataExport, export_id)
    if export is None or export.user_id != actor.user_id:
        raise ExportNotFound()
    if export.status == "pending":
        raise ExportNotReady()
    if export.status != "ready" or export.expires_at <= clock.now():
        raise ExportExpired()
    try:
        data = storage.current().get(export.storage_key)
    except storage.ObjectMissing:
        log.error("export %s: its file %s is missing", export.id, export.storage_key)
        raise ExportExpired() from None
    except storage.StorageError:
        raise UploadStorageUnavailable() from None
    return data, f"linli-data-{clock.local(export.ready_at):%Y%m%d}-{export.id}.zip"


# --- building it ---------------------------------------------------------------------------------------------------

def _plain(value):
    if isinstance(value, datetime):
        return clock.iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def documents(user_id: int) -> dict:
    """Every part's documents, by name."""
    found = {}
    for _name, part in personal_data.parts():
        found.update(part.export(user_id))
    return found


def archive(user_id: int) -> tuple[bytes, dict]:
    """The zip of the person's data, and the rows of each document."""
    docs = documents(user_id)
    counts = {name: (len(value) if isinstance(value, list) else int(value is not None)) for name, value in docs.items()}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        listing = "\n".join(f"{name}.json  ({counts[name]})" for name in docs)
        zf.writestr("README.txt", README + listing + "\n")
        for name, value in docs.items():
            zf.writestr(f"{name}.json", json.dumps(value, ensure_ascii=False, indent=1, default=_plain))
        photos = 0
        for upload in db.session.execute(sa.select(Upload).where(Upload.owner_user_id == user_id)
                                         .order_by(Upload.id)).scalars():
            zf.writestr(f"photos/{upload.id}{_EXTENSIONS.get(upload.content_type, '')}", uploads.content(upload))
            photos += 1
        counts["photos"] = photos
    return buffer.getvalue(), counts


def build(export_id: int) -> bool:
    """Build a pending copy: its file in the storage (the reads in a read transaction: on SQLite no write lock
    is held meanwhile), then the row ready and the inbox told, in one transaction. A copy that is no longer
    pending (its account closed meanwhile) leaves nothing behind."""
    try:
        with reading():
            export = db.session.get(DataExport, export_id)
            if export is None or export.status != "pending":
                return False
            user_id = export.user_id
            data, counts = archive(user_id)
        key = f"{KEY_PREFIX}{clock.now():%Y/%m}/{secrets.token_urlsafe(18)}.zip"
        storage.current().put(key, data, "application/zip")
    except (storage.StorageError, DomainError):
        log.warning("export %s could not be built", export_id, exc_info=True)
        _fail(export_id)
        return False
    if not _ready(export_id, user_id, key, data, counts):
        storage.discard(key, "the next export sweep deletes it")
        return False
    return True


@transactional
def _ready(export_id: int, user_id: int, key: str, data: bytes, counts: dict) -> bool:
    now = clock.now()
    expires = now + timedelta(days=settings().keep_days)
    done = db.session.execute(sa.update(DataExport).where(DataExport.id == export_id, DataExport.status == "pending")
                              .values(status="ready", ready_at=now, expires_at=expires, storage_key=key,
                                      size=len(data), sha256=hashlib.sha256(data).hexdigest(), counts=counts)
                              ).rowcount == 1
    if done:
        until = clock.local(expires)
        notifications.notify(user_id, kind="privacy.export_ready", dedupe_key=f"privacy.export_ready.{export_id}",
                             title="您的个人信息副本已生成",
                             body=f"您申请的个人信息副本已生成，可在 {until:%Y-%m-%d %H:%M} 前下载。",
                             link=f"/api/v1/me/data-export/{export_id}/download")
    return done


@transactional
def _fail(export_id: int) -> None:
    db.session.execute(sa.update(DataExport).where(DataExport.id == export_id, DataExport.status == "pending")
                       .values(status="failed"))


# --- the sweep -----------------------------------------------------------------------------------------------------

def sweep(now: datetime | None = None) -> dict:
    """Build the copies waiting (oldest first, ``export.per_sweep`` at most) and delete the files of expired
    ones: {"built": n, "failed": n, "expired": n}."""
    now = now or clock.now()
    done = {"built": 0, "failed": 0, "expired": 0}
    with reading():
        waiting = db.session.execute(sa.select(DataExport.id).where(DataExport.status == "pending")
                                     .order_by(DataExport.id).limit(settings().per_sweep)).scalars().all()
    for export_id in waiting:
        done["built" if build(export_id) else "failed"] += 1
    with reading():
        expired = db.session.execute(sa.select(DataExport.id, DataExport.storage_key).where(
            DataExport.status == "ready", DataExport.expires_at <= now).order_by(DataExport.expires_at)
            .limit(500)).all()
    for export_id, key in expired:
        if key is None or storage.discard(key, "the next export sweep tries again"):
            done["expired"] += _expire(export_id)
    return done


@transactional
def _expire(export_id: int) -> int:
    return db.session.execute(sa.update(DataExport).where(DataExport.id == export_id, DataExport.status == "ready")
                              .values(status="expired", storage_key=None)).rowcount or 0
