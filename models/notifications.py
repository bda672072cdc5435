"""Inbox notifications, one-time subscribe-message consents and WeChat deliveries."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, UTCDateTime, utcnow

DELIVERY_STATUSES = ("pending", "sending", "sent", "failed", "skipped")


class Notification(Base):
    __tablename__ = "notification"
    __table_args__ = (sa.Index("ix_notification_inbox", "user_id", "id"),)
    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    # Unique: a sweep that runs twice creates nothing twice.
    dedupe_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(64))
    title: Mapped[str] = mapped_column(sa.String(100))
    body: Mapped[str] = mapped_column(sa.String(1000))
    link: Mapped[str | None] = mapped_column(sa.String(200))
    data: Mapped[dict | None] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivery: Mapped[Delivery | None] = relationship(back_populates="notification", uselist=False)


class SubscriptionGrant(Base):
    """One acceptance in wx.requestSubscribeMessage: allows one message of that template."""

    __tablename__ = "subscription_grant"
    __table_args__ = (sa.Index("ix_subscription_grant_open", "user_id", "template_id", "consumed_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    template_id: Mapped[str] = mapped_column(sa.String(128))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Delivery(Base):
    """A WeChat subscribe-message send for one notification."""

    __tablename__ = "delivery"
    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(sa.ForeignKey("notification.id"), unique=True)
    template_id: Mapped[str] = mapped_column(sa.String(128))
    status: Mapped[str] = mapped_column(sa.String(16), default="pending", index=True)
    grant_id: Mapped[int | None] = mapped_column(sa.ForeignKey("subscription_grant.id"), unique=True)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(sa.String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notification: Mapped[Notification] = relationship(back_populates="delivery")
