"""Staff sign-in's second factor: a TOTP secret (RFC 6238) per person and their one-time recovery codes."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, TimestampMixin, UTCDateTime


class SecondFactor(Base, TimestampMixin):
    """A person's authenticator: pending until a first code confirms it. The secret is stored encrypted
    (service.privacy); ``last_step`` is the time step of the last code accepted, which is never accepted again;
    ``failures`` wrong codes in a row lock it until ``locked_until``."""
    __tablename__ = "second_factor"
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), primary_key=True)
    secret_enc: Mapped[str] = mapped_column(sa.String(255))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_step: Mapped[int | None] = mapped_column(sa.BigInteger)
    failures: Mapped[int] = mapped_column(sa.Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RecoveryCode(Base):
    """One of the codes shown once at enrolment, each usable once in place of a TOTP code (its SHA-256 kept)."""
    __tablename__ = "recovery_code"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
