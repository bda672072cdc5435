"""Uploaded files: images (re-encoded, no EXIF) and PDF documents (kept as sent), private to their owner until
attached.

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
    width: Mapped[int | None] = mapped_column(sa.Integer)     # an image's pixels; NULL for a document
    height: Mapped[int | None] = mapped_column(sa.Integer)
    pages: Mapped[int | None] = mapped_column(sa.Integer)     # a document's pages; NULL for an image
    size: Mapped[int] = mapped_column(sa.Integer)
    sha256: Mapped[str] = mapped_column(sa.String(64))        # of the bytes stored
    # Of the bytes as received: a re-encoded image's original (a photographed signed statement can be matched
    # to the file its author kept); a document is stored as received, so both are equal. NULL on older rows.
    received_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    # A document's file name as sent (for the reader's download); images keep none.
    name: Mapped[str | None] = mapped_column(sa.String(100))
    # Where the bytes are in the storage (service/storage.py); NULL only for a row not yet moved there.
    storage_key: Mapped[str | None] = mapped_column(sa.String(200), unique=True)
    # The bytes of a row stored before the storage existed; NULL once moved (and for every new upload).
    data: Mapped[bytes | None] = mapped_column(sa.LargeBinary, deferred=True)
    # Set when attached to a case (or another object); then visible to whoever may see that object.
    attached_to: Mapped[str | None] = mapped_column(sa.String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
