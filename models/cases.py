"""Cases (市民诉求 / 网格化案件): the case, its append-only events, photos, followers,
extension requests, and the API keys of Open311 partner systems."""
from __future__ import annotations

import secrets
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, UTCDateTime, utcnow

STATUSES = ("submitted", "dispatched", "accepted", "in_progress", "resolved", "closed", "reopened", "returned",
            "merged", "rejected", "withdrawn", "archived")
OPEN_STATUSES = ("submitted", "dispatched", "accepted", "in_progress", "resolved", "reopened", "returned")
OUTCOMES = ("solved", "explained")
BigId = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def _partial(name: str, *columns: str, where: str) -> sa.Index:
    """An index of the rows ``where`` holds, on both databases."""
    return sa.Index(name, *columns, sqlite_where=sa.text(where), postgresql_where=sa.text(where))


class Case(Base):
    __tablename__ = "case"
    __table_args__ = (
        # The staff queue: scope, then nearest deadline, keyset by (due_at, id).
        sa.Index("ix_case_queue", "neighbourhood_id", "due_at", "id"),
        sa.Index("ix_case_street_queue", "street_id", "due_at", "id"),
        sa.Index("ix_case_street_received", "street_id", "received_at"),
        sa.Index("ix_case_nearby", "category_code", "received_at"),
        sa.Index("ix_case_reporter", "reporter_user_id", "id"),
        # The reminder sweeps (service/cases/reminders.py) read only due rows; due_at is null once not open.
        _partial("ix_case_contact_due", "contact_due_at", "id", where="first_contact_at IS NULL AND due_at IS NOT NULL"),
        # Each holds only the rows its sweep can find (a range on the first column implies it is not null), so
        # a write to an open case adds no entry to the indexes of closed cases, and none for a stage not reached.
        _partial("ix_case_handle_due", "handle_due_at", "id", where="due_at IS NOT NULL AND handle_due_at IS NOT NULL"),
        _partial("ix_case_rework_due", "rework_due_at", "id", where="due_at IS NOT NULL AND rework_due_at IS NOT NULL"),
        _partial("ix_case_overdue", "due_at", "id", where="due_at IS NOT NULL"),
        _partial("ix_case_visit_due", "visit_due_at", "id", where="visited_at IS NULL AND visit_due_at IS NOT NULL"),
        _partial("ix_case_rating_due", "closed_at", "id", where="rating IS NULL AND closed_at IS NOT NULL"),
        # Retention (service/cases/personal_data.py): closed cases that still name their reporter, oldest first.
        _partial("ix_case_reporter_kept", "closed_at", "id",
                 where="reporter_user_id IS NOT NULL AND due_at IS NULL AND closed_at IS NOT NULL"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Human case number: street prefix + local date + sequence, e.g. WL20261121-0042.
    number: Mapped[str] = mapped_column(sa.String(32), unique=True)
    category_code: Mapped[str] = mapped_column(sa.String(48))
    description: Mapped[str] = mapped_column(sa.Text)
    # Location, stored in GCJ-02.
    lat: Mapped[float | None] = mapped_column(sa.Float)
    lng: Mapped[float | None] = mapped_column(sa.Float)
    address: Mapped[str | None] = mapped_column(sa.String(200))
    street_id: Mapped[int] = mapped_column(sa.ForeignKey("street.id"))
    neighbourhood_id: Mapped[int | None] = mapped_column(sa.ForeignKey("neighbourhood.id"))
    estate_id: Mapped[int | None] = mapped_column(sa.ForeignKey("estate.id"))
    reporter_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    anonymous: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    contact_consent: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    source: Mapped[str] = mapped_column(sa.String(16), default="resident")  # resident / staff / open311
    partner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("open311_key.id"))
    status: Mapped[str] = mapped_column(sa.String(16), default="submitted", index=True)
    outcome: Mapped[str | None] = mapped_column(sa.String(16))
    reply: Mapped[str | None] = mapped_column(sa.Text)
    assignee_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"), index=True)
    merged_into_id: Mapped[int | None] = mapped_column(sa.ForeignKey("case.id"))
    complex: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    cycle: Mapped[int] = mapped_column(sa.Integer, default=1)
    escalation_level: Mapped[int] = mapped_column(sa.Integer, default=0)
    # Raw timestamps, kept so the metrics' formulas can change.
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_contact_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    visited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    visit_result: Mapped[str | None] = mapped_column(sa.String(16))
    rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rating: Mapped[int | None] = mapped_column(sa.SmallInteger)
    rating_comment: Mapped[str | None] = mapped_column(sa.String(500))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Deadlines (a complex approval or an extension replaces handle_due_at).
    contact_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handle_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rework_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    visit_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # True when a deadline fell in a year the working-day calendar does not know.
    deadlines_provisional: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    # The deadline that matters next for the queue (null once closed); overdue when past.
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Optimistic concurrency: every action bumps it; two staff acting at once → one 409.
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    attributes: Mapped[dict | None] = mapped_column(sa.JSON)

    __mapper_args__ = {"version_id_col": version}

    events: Mapped[list[CaseEvent]] = relationship(back_populates="case", order_by="CaseEvent.id")


class CaseEscalationDue(Base):
    """The overdue sweep's work: each open case below 督办 (escalation level 2) with its deadline.

    Kept by triggers on "case" (migration 0018), whatever writes a case's ``due_at`` or ``escalation_level``;
    no code writes it. The sweep finds its cases here by deadline instead of through an index over the case
    table's ``escalation_level``: raising a level then rewrites no index entry of the case (a heap-only update
    where its page has room: the table keeps a tenth of each page free on PostgreSQL)."""

    __tablename__ = "case_escalation_due"
    __table_args__ = (sa.Index("ix_case_escalation_due_at", "due_at", "case_id"),)
    case_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("case.id", ondelete="CASCADE"), primary_key=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CaseEvent(Base):
    """Append-only: every action on a case."""

    __tablename__ = "case_event"
    __table_args__ = (sa.Index("ix_case_event_case", "case_id", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("case.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    actor_role: Mapped[str | None] = mapped_column(sa.String(16))
    action: Mapped[str] = mapped_column(sa.String(24))
    from_status: Mapped[str | None] = mapped_column(sa.String(16))
    to_status: Mapped[str | None] = mapped_column(sa.String(16))
    note: Mapped[str | None] = mapped_column(sa.Text)
    public: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    data: Mapped[dict | None] = mapped_column(sa.JSON)
    case: Mapped[Case] = relationship(back_populates="events")


def new_media_token() -> str:
    """32 URL-safe characters (192 random bits)."""
    return secrets.token_urlsafe(24)


class CasePhoto(Base):
    __tablename__ = "case_photo"
    __table_args__ = (sa.UniqueConstraint("case_id", "upload_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("case.id"), index=True)
    upload_id: Mapped[int] = mapped_column(sa.ForeignKey("upload.id"), unique=True)
    purpose: Mapped[str] = mapped_column(sa.String(16), default="report")  # report / evidence
    # Names a public case's report photo to Open311 partners (/open311/v2/media/<token>): random, so
    # photos cannot be enumerated by id.
    media_token: Mapped[str] = mapped_column(sa.String(32), unique=True, default=new_media_token)


class CaseFollower(Base):
    __tablename__ = "case_follower"
    # My cases: what a user follows, newest case first (service/cases/queries.my_cases).
    __table_args__ = (sa.Index("ix_case_follower_user_case", "user_id", "case_id"),)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("case.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseExtension(Base):
    """延期: requested before the deadline with a reason, decided by a supervisor."""

    __tablename__ = "case_extension"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("case.id"), index=True)
    requested_by: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    reason: Mapped[str] = mapped_column(sa.String(500))
    working_days: Mapped[int] = mapped_column(sa.Integer)
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    decided_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseCounter(Base):
    """Per street and local day, the last sequence number used in case numbers."""

    __tablename__ = "case_counter"
    street_id: Mapped[int] = mapped_column(sa.ForeignKey("street.id"), primary_key=True)
    day: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    last: Mapped[int] = mapped_column(sa.Integer, default=0)


class Open311Key(Base):
    """An Open311 partner system's API key, stored hashed, revocable."""

    __tablename__ = "open311_key"
    id: Mapped[int] = mapped_column(primary_key=True)
    partner: Mapped[str] = mapped_column(sa.String(100))
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(sa.String(8))
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    # The admin scope the key was issued in ("street" or "district"): its admins may revoke it.
    # Null for a key whose issuer's scope was not known when scopes were introduced.
    scope_type: Mapped[str | None] = mapped_column(sa.String(16))
    scope_id: Mapped[int | None] = mapped_column(sa.Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
