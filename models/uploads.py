"""Uploaded images: re-encoded (no EXIF), private to their owner until attached."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow


class Upload(Base):
    __tablename__ = "upload"
    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    owner_user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    content_type: Mapped[str] = mapped_column(sa.String(32))
    width: Mapped[int] = mapped_column(sa.Integer)
    height: Mapped[int] = mapped_column(sa.Integer)
    size: Mapped[int] = mapped_column(sa.Integer)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    data: Mapped[bytes] = mapped_column(sa.LargeBinary)
    # Set when attached to a case (or another object); then visible to whoever may see that object.
    attached_to: Mapped[str | None] = mapped_column(sa.String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
