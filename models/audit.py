"""The append-only audit log of staff and admin actions, and its archives.

The database keeps the log as written (migration 0019): an UPDATE is refused, and a DELETE unless the entry
is in an archived range (``AuditArchive``) and six months old, whoever asks."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base, UTCDateTime, utcnow


class AuditEntry(Base):
    __tablename__ = "audit_entry"
    __table_args__ = (sa.Index("ix_audit_entry_object", "object_type", "object_id"),
                      # An admin's page: the entries of their streets, newest first.
                      sa.Index("ix_audit_entry_street", "street_id", "id"),
                      # A person's page of who looked at or changed their data, newest first.
                      sa.Index("ix_audit_entry_subject", "subject_user_id", "id"))
    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"), index=True)
    actor_role: Mapped[str | None] = mapped_column(sa.String(16))
    action: Mapped[str] = mapped_column(sa.String(64))
    object_type: Mapped[str] = mapped_column(sa.String(32))
    object_id: Mapped[str | None] = mapped_column(sa.String(64))
    before: Mapped[dict | None] = mapped_column(sa.JSON)
    after: Mapped[dict | None] = mapped_column(sa.JSON)
    ip: Mapped[str | None] = mapped_column(sa.String(64))
    # The street the audited object lay in when the entry was written (service.places.locate); NULL for a
    # district-wide object, one no locator knows, or an entry written before entries were placed.
    street_id: Mapped[int | None] = mapped_column(sa.Integer)
    # The person whose personal data the action viewed or changed (service.audit.record); NULL when none.
    subject_user_id: Mapped[int | None] = mapped_column(sa.Integer)


class AuditArchive(Base):
    """A run of audit entries moved to storage by the retention sweep (service.retention): the entries with
    ids first_id..last_id written before ``before``, as gzipped JSON lines at ``storage_key``."""
    __tablename__ = "audit_archive"
    id: Mapped[int] = mapped_column(primary_key=True)
    first_id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"))
    last_id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"))
    entries: Mapped[int] = mapped_column(sa.Integer)
    before: Mapped[datetime] = mapped_column(UTCDateTime)
    storage_key: Mapped[str] = mapped_column(sa.String(255), unique=True)
    size: Mapped[int] = mapped_column(sa.Integer)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


@event.listens_for(Session, "before_flush")
def _audit_is_append_only(session, flush_context, instances):
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEntry):
            raise PermissionError("the audit log is append-only")
