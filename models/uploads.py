"""Uploaded images: re-encoded (no EXIF), private to their owner until attached.

The bytes live in the storage (``service.storage``) under ``storage_key``; ``data`` holds them only for
rows stored before the storage existed, until ``flask uploads move-to-storage`` moves them."""
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
    # Where the bytes are in the storage (service/storage.py); NULL only for a row not yet moved there.
    storage_key: Mapped[str | None] = mapped_column(sa.String(200), unique=True)
    # The bytes of a row stored before the storage existed; NULL once moved (and for every new upload).
    data: Mapped[bytes | None] = mapped_column(sa.LargeBinary, deferred=True)
    # Set when attached to a case (or another object); then visible to whoever may see that object.
    attached_to: Mapped[str | None] = mapped_column(sa.String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
