"""Notices (通知公告 · 居务公开 · 业委会公示): what staff, the owners' committee and the property company publish to
the places they cover, who it reached (the audience frozen at publication) and who read and acknowledged it."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow

STATES = ("draft", "scheduled", "published", "expired", "withdrawn", "superseded")
# Where a notice goes, widest first (片区 is "area", 居民区 "neighbourhood", 小区 "estate").
SCOPE_TYPES = ("street", "area", "neighbourhood", "estate", "building", "entrance")
# Why someone is in a notice's audience: they live there (verified), own a unit there, or are a confirmed
# relative of someone who does. Lower is stronger: a person both living and owning is a resident.
REASONS = ("resident", "owner", "family")
ACK_CHANNELS = ("app", "phone", "door", "paper")


class Notice(Base):
    """One version of a notice. A published version is never edited: a correction is a new version
    (``supersedes_id`` the one it replaces, ``root_id`` the first of the line) and the old one becomes
    ``superseded`` and stays visible."""
    __tablename__ = "notice"
    __table_args__ = (
        sa.Index("ix_notice_due", "publish_at", "id", sqlite_where=sa.text("state = 'scheduled'"),
                 postgresql_where=sa.text("state = 'scheduled'")),
        sa.Index("ix_notice_live", "valid_until", "id", sqlite_where=sa.text("state = 'published'"),
                 postgresql_where=sa.text("state = 'published'")),
        sa.Index("ix_notice_street", "street_id", "id"),
        sa.CheckConstraint("valid_until IS NULL OR valid_until > publish_at", name="valid_after_publish"),
        sa.CheckConstraint("NOT urgent OR valid_until IS NOT NULL", name="urgent_has_valid_until"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    # The street every scope of the notice lies in (its audit entries are placed there).
    street_id: Mapped[int] = mapped_column(sa.ForeignKey("street.id"))
    category: Mapped[str] = mapped_column(sa.String(16))
    title: Mapped[str] = mapped_column(sa.String(100))
    body: Mapped[str] = mapped_column(sa.Text)
    urgent: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    ack_required: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    pinned: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    state: Mapped[str] = mapped_column(sa.String(16), default="draft")
    publish_at: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When what the notice announces happens (an outage's start): acknowledgements are chased by the evening
    # before.
    event_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    root_id: Mapped[int | None] = mapped_column(sa.ForeignKey("notice.id"), index=True)
    supersedes_id: Mapped[int | None] = mapped_column(sa.ForeignKey("notice.id"), unique=True)
    correction_reason: Mapped[str | None] = mapped_column(sa.String(200))
    author_user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    author_role: Mapped[str] = mapped_column(sa.String(16))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(sa.String(200))
    audience_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    # When the chase (urgent: staff told who has not acknowledged) and the outage's evening check were done.
    chased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    eve_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NoticeScope(Base):
    """A place a notice goes to (several per notice)."""
    __tablename__ = "notice_scope"
    __table_args__ = (sa.Index("ix_notice_scope_place", "scope_type", "scope_id", "notice_id"),)
    notice_id: Mapped[int] = mapped_column(sa.ForeignKey("notice.id", ondelete="CASCADE"), primary_key=True)
    scope_type: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    scope_id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)


class NoticeAttachment(Base):
    """A file attached to a notice (an upload; its checksum is the upload's)."""
    __tablename__ = "notice_attachment"
    notice_id: Mapped[int] = mapped_column(sa.ForeignKey("notice.id", ondelete="CASCADE"), primary_key=True)
    upload_id: Mapped[int] = mapped_column(sa.ForeignKey("upload.id"), primary_key=True)
    position: Mapped[int] = mapped_column(sa.Integer, default=0)


class NoticeAudience(Base):
    """One person a published notice reached, frozen at publication, with their first read and their
    acknowledgement (我已知晓): by themself in the app, or for them by a confirmed relative (proxy) or by staff
    who phoned, called at the door or took a paper slip."""
    __tablename__ = "notice_audience"
    __table_args__ = (
        sa.Index("ix_notice_audience_user", "user_id", "notice_id"),
        # The chase list: who has not acknowledged, in the order staff reach them.
        sa.Index("ix_notice_audience_chase", "notice_id", "priority", "user_id",
                 sqlite_where=sa.text("acked_at IS NULL"), postgresql_where=sa.text("acked_at IS NULL")),
    )
    notice_id: Mapped[int] = mapped_column(sa.ForeignKey("notice.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), primary_key=True)
    reason: Mapped[str] = mapped_column(sa.String(16))
    # For a relative: whose relative (the first found); for a resident or owner: the unit that brought them in.
    via_user_id: Mapped[int | None] = mapped_column(sa.Integer)
    unit_id: Mapped[int | None] = mapped_column(sa.Integer)
    # Whom staff reach first, fixed at publication: 0 an elder living alone (a verified status used with the
    # person's consent), then by age: 1 aged 90 or more, 2 80+, 3 70+, 4 60+, 5 younger or unknown.
    priority: Mapped[int] = mapped_column(sa.SmallInteger, default=5, server_default="5")
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acked_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    ack_channel: Mapped[str | None] = mapped_column(sa.String(8))
    ack_proxy: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
