"""People: users, WeChat accounts, resident profiles, roles with scopes,
family links and unit (ownership) claims.

A resident profile keeps two kinds of personal facts apart. ``birth_date``,
``neighbourhood_id`` and ``unit_id`` are the VERIFIED values: only a 居委会
staff verification (service.people.verify_resident) writes them, each with
who and when, and they alone decide subsidies, eligibility, priority, votes
and staff authority over the resident. What residents
type about themselves goes to ``declared_birth_date`` and
``declared_neighbourhood_id`` and counts for nothing until staff verify it.
The ID number is stored as typed (encrypted) and counts — with the birth date
it carries — once staff checked the document (``id_verified_by``/``_at``).
"""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, TimestampMixin, UTCDateTime

# The platform's roles. "owner" is never granted: it is derived from verified ownership in the owners
# register. A domain adds its own roles and scope types in its registry entry (service/registry.py), e.g. the
# meal site operator; service/people.py's granted_roles() and role_scopes() give the whole set.
ROLES = ("resident", "owner", "staff", "committee", "admin")
GRANTED_ROLES = ("staff", "committee", "admin")
SCOPE_TYPES = ("district", "street", "neighbourhood", "estate")
# Which scopes each granted role may carry.
ROLE_SCOPES = {
    "staff": ("neighbourhood", "street"),
    "committee": ("estate",),
    "admin": ("street", "district"),
}
CLAIM_STATUSES = ("pending", "approved", "rejected")
LINK_STATUSES = ("pending", "confirmed", "rejected", "revoked")
# Documents 居委会 staff check when they verify a resident's identity, birth date or residence:
# 居民身份证, 户口簿, 居住证, 不动产权证, 租赁合同, other.
VERIFICATION_DOCUMENTS = ("id_card", "household_register", "residence_permit", "property_certificate",
                          "tenancy_contract", "other")


class User(Base, TimestampMixin):
    __tablename__ = "user"
    id: Mapped[int] = mapped_column(primary_key=True)
    # Staff and demo accounts have a username; WeChat users need none.
    username: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    nickname: Mapped[str | None] = mapped_column(sa.String(64))
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    is_demo: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    profile: Mapped[ResidentProfile | None] = relationship(back_populates="user", uselist=False,
                                                           foreign_keys="ResidentProfile.user_id")
    roles: Mapped[list[RoleAssignment]] = relationship(back_populates="user", order_by="RoleAssignment.id",
                                                      foreign_keys="RoleAssignment.user_id")


class WeChatAccount(Base, TimestampMixin):
    __tablename__ = "wechat_account"
    __table_args__ = (sa.UniqueConstraint("appid", "openid"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    appid: Mapped[str] = mapped_column(sa.String(64))
    openid: Mapped[str] = mapped_column(sa.String(128))
    unionid: Mapped[str | None] = mapped_column(sa.String(128), index=True)


class ResidentProfile(Base, TimestampMixin):
    """Personal data. Phone and ID number are stored encrypted, with a keyed
    hash for exact lookups; no API returns them unmasked to a role that does
    not need them."""

    __tablename__ = "resident_profile"
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), primary_key=True)
    name: Mapped[str | None] = mapped_column(sa.String(64))
    phone_enc: Mapped[str | None] = mapped_column(sa.String(255))
    phone_hash: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    phone_verified: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    id_number_enc: Mapped[str | None] = mapped_column(sa.String(255))
    id_number_hash: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    # Verified values (staff checked a document); the hot meal queries read these columns.
    birth_date: Mapped[date | None] = mapped_column(sa.Date)
    neighbourhood_id: Mapped[int | None] = mapped_column(sa.ForeignKey("neighbourhood.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("unit.id"), index=True)
    address: Mapped[str | None] = mapped_column(sa.String(200))
    # What the resident typed, awaiting verification (cleared when staff verify that fact).
    declared_birth_date: Mapped[date | None] = mapped_column(sa.Date)
    declared_neighbourhood_id: Mapped[int | None] = mapped_column(sa.ForeignKey("neighbourhood.id"), index=True)
    # Who checked what, and when.
    id_verified_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    id_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    birth_date_verified_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    birth_date_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    residence_verified_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    residence_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    user: Mapped[User] = relationship(back_populates="profile", foreign_keys=[user_id])


class RoleAssignment(Base, TimestampMixin):
    __tablename__ = "role_assignment"
    __table_args__ = (sa.UniqueConstraint("user_id", "role", "scope_type", "scope_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    role: Mapped[str] = mapped_column(sa.String(16))
    scope_type: Mapped[str] = mapped_column(sa.String(16))
    scope_id: Mapped[int] = mapped_column(sa.Integer)
    # Finer grain inside a role, e.g. 网格员 (grid_worker) or 居委会主任 (nc_head) for staff.
    title: Mapped[str | None] = mapped_column(sa.String(32))
    granted_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    user: Mapped[User] = relationship(back_populates="roles", foreign_keys=[user_id])


class FamilyLink(Base, TimestampMixin):
    """A resident (the proxy) acting for an elder relative, once confirmed."""

    __tablename__ = "family_link"
    __table_args__ = (
        sa.Index("uq_family_link_active", "proxy_user_id", "elder_user_id", unique=True,
                 sqlite_where=sa.text("status IN ('pending', 'confirmed')"),
                 postgresql_where=sa.text("status IN ('pending', 'confirmed')")),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    proxy_user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    elder_user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    relation: Mapped[str] = mapped_column(sa.String(16))
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    decided_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(sa.String(200))


class UnitClaim(Base, TimestampMixin):
    """A resident's claim to own a unit, decided by staff of its neighbourhood."""

    __tablename__ = "unit_claim"
    __table_args__ = (
        sa.Index("uq_unit_claim_pending", "user_id", "unit_id", unique=True,
                 sqlite_where=sa.text("status = 'pending'"),
                 postgresql_where=sa.text("status = 'pending'")),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("unit.id"), index=True)
    certificate_no: Mapped[str] = mapped_column(sa.String(64))
    owner_name: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(16), default="pending", index=True)
    decided_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(sa.String(200))
    ownership_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ownership.id"))
