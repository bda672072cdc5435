"""Residents' rights over their personal data (个人信息保护法): consents given per purpose, copies of their
data prepared for download, and account closures waiting out their cooling-off week."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow


# The purposes the platform's own rules rely on (config/rules/privacy.yaml lists them with their text).
SENSITIVE_STATUS = "sensitive_status"   # sensitive statuses recorded and used (meal subsidies and priority)
MINOR_GUARDIAN = "minor_guardian"       # a guardian's consent to recording a child's data (under 14)


def _partial(name: str, *columns: str, where: str, unique: bool = False) -> sa.Index:
    return sa.Index(name, *columns, unique=unique, sqlite_where=sa.text(where), postgresql_where=sa.text(where))


class Consent(Base):
    """A consent to one purpose of the privacy notice, given by the person (or for them: a confirmed family
    member, or 居委会 staff recording a signed paper form), until withdrawn. A withdrawal closes the row; a
    new consent is a new row, so the history stays. At most one live consent per person and purpose."""
    __tablename__ = "consent"
    __table_args__ = (_partial("uq_consent_live", "user_id", "purpose", where="withdrawn_at IS NULL", unique=True),
                      sa.Index("ix_consent_user", "user_id", "id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    purpose: Mapped[str] = mapped_column(sa.String(32))
    notice_version: Mapped[str] = mapped_column(sa.String(16))
    given_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    given_by: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    # self / family / staff (staff: a paper form the person signed, named in ``evidence``)
    channel: Mapped[str] = mapped_column(sa.String(16))
    evidence: Mapped[str | None] = mapped_column(sa.String(32))
    # The signed form, photographed or scanned by whoever recorded it (an upload attached to "consent:<id>").
    evidence_upload_id: Mapped[int | None] = mapped_column(sa.ForeignKey("upload.id"))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))


class DataExport(Base):
    """A copy of everything Linli holds about a person (PIPL Art. 45): a zip in the storage, downloadable by
    them until ``expires_at``. One export at a time is being prepared per person."""
    __tablename__ = "data_export"
    __table_args__ = (_partial("uq_data_export_pending", "user_id", where="status = 'pending'", unique=True),
                      _partial("ix_data_export_pending", "id", where="status = 'pending'"),
                      _partial("ix_data_export_expiring", "expires_at", where="status = 'ready'"),
                      sa.Index("ix_data_export_user", "user_id", "id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    # pending → ready → expired (file removed); failed when it could not be built (asked again, a new one)
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    storage_key: Mapped[str | None] = mapped_column(sa.String(200))
    size: Mapped[int | None] = mapped_column(sa.Integer)
    sha256: Mapped[str | None] = mapped_column(sa.String(64))
    # Rows per document in the zip.
    counts: Mapped[dict | None] = mapped_column(sa.JSON)


class AccountClosure(Base):
    """A person's request to close their account (PIPL Art. 47): cancellable until ``erase_at``, then the
    closure sweep erases or anonymises their data in one transaction and records what it did in ``summary``."""
    __tablename__ = "account_closure"
    __table_args__ = (_partial("uq_account_closure_pending", "user_id", where="status = 'pending'", unique=True),
                      _partial("ix_account_closure_due", "erase_at", "id", where="status = 'pending'"),
                      sa.Index("ix_account_closure_user", "user_id", "id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    # pending → done, or cancelled
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    erase_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    summary: Mapped[dict | None] = mapped_column(sa.JSON)
