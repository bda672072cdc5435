"""Places: district → street → area (片区) → neighbourhood (居民区) → estate (小区)
→ building → entrance (单元) → unit (户), and the owners register."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, ExactDecimal, TimestampMixin

COORD_SOURCES = ("approximate", "surveyed")
AREA_SOURCES = ("register", "survey", "contract")
HOUSING_TYPES = ("售后公房", "普通商品房", "涉外商品房", "老洋房", "动迁安置房", "直管公房", "混合型")
OWNER_KINDS = ("person", "organisation", "developer")


class CoordinatesMixin:
    """GCJ-02 coordinates (the datum of Chinese maps) with their provenance."""

    lat: Mapped[float | None] = mapped_column(sa.Float)
    lng: Mapped[float | None] = mapped_column(sa.Float)
    coord_source: Mapped[str] = mapped_column(sa.String(16), default="approximate", nullable=False)


class District(Base, TimestampMixin):
    __tablename__ = "district"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(64))


class Street(Base, TimestampMixin, CoordinatesMixin):
    __tablename__ = "street"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    district_id: Mapped[int] = mapped_column(sa.ForeignKey("district.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    # Short prefix used in human case numbers, e.g. "WL".
    prefix: Mapped[str] = mapped_column(sa.String(8))
    district: Mapped[District] = relationship()


class Area(Base, TimestampMixin):
    __tablename__ = "area"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    street_id: Mapped[int] = mapped_column(sa.ForeignKey("street.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    street: Mapped[Street] = relationship()


estate_neighbourhood = sa.Table(
    "estate_neighbourhood",
    Base.metadata,
    sa.Column("estate_id", sa.ForeignKey("estate.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("neighbourhood_id", sa.ForeignKey("neighbourhood.id", ondelete="CASCADE"), primary_key=True,
              index=True),
)


class Neighbourhood(Base, TimestampMixin, CoordinatesMixin):
    """A 居民区, run by one 居委会."""

    __tablename__ = "neighbourhood"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    street_id: Mapped[int] = mapped_column(sa.ForeignKey("street.id"), index=True)
    area_id: Mapped[int | None] = mapped_column(sa.ForeignKey("area.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    committee_name: Mapped[str] = mapped_column(sa.String(64))
    street: Mapped[Street] = relationship()
    area: Mapped[Area | None] = relationship()


class Estate(Base, TimestampMixin, CoordinatesMixin):
    """A 小区: one property-management area, the constituency of owners' votes."""

    __tablename__ = "estate"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    street_id: Mapped[int] = mapped_column(sa.ForeignKey("street.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    address: Mapped[str | None] = mapped_column(sa.String(200))
    housing_type: Mapped[str | None] = mapped_column(sa.String(16))
    built_year: Mapped[int | None] = mapped_column(sa.Integer)
    street: Mapped[Street] = relationship()
    neighbourhoods: Mapped[list[Neighbourhood]] = relationship(secondary=estate_neighbourhood,
                                                               order_by="Neighbourhood.id")


class Building(Base, TimestampMixin, CoordinatesMixin):
    __tablename__ = "building"
    __table_args__ = (sa.UniqueConstraint("estate_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    estate_id: Mapped[int] = mapped_column(sa.ForeignKey("estate.id"), index=True)
    # The 居委会 whose 楼组 this building belongs to (an estate may have several).
    neighbourhood_id: Mapped[int | None] = mapped_column(sa.ForeignKey("neighbourhood.id"), index=True)
    number: Mapped[str] = mapped_column(sa.String(16))
    name: Mapped[str] = mapped_column(sa.String(64))
    floors: Mapped[int | None] = mapped_column(sa.Integer)
    has_elevator: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    estate: Mapped[Estate] = relationship()


class Entrance(Base, TimestampMixin):
    __tablename__ = "entrance"
    __table_args__ = (sa.UniqueConstraint("building_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    building_id: Mapped[int] = mapped_column(sa.ForeignKey("building.id"), index=True)
    number: Mapped[str] = mapped_column(sa.String(16))
    building: Mapped[Building] = relationship()


class Unit(Base, TimestampMixin):
    """A 户: an exclusive part (专有部分) with its exact exclusive area."""

    __tablename__ = "unit"
    __table_args__ = (
        sa.UniqueConstraint("entrance_id", "number"),
        sa.CheckConstraint("exclusive_area > 0", name="area_positive"),
        sa.CheckConstraint("area_source IN ('register', 'survey', 'contract')", name="area_source"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    entrance_id: Mapped[int] = mapped_column(sa.ForeignKey("entrance.id"), index=True)
    # Denormalised for scope checks and per-estate totals without four joins.
    building_id: Mapped[int] = mapped_column(sa.ForeignKey("building.id"), index=True)
    estate_id: Mapped[int] = mapped_column(sa.ForeignKey("estate.id"), index=True)
    number: Mapped[str] = mapped_column(sa.String(16))
    floor: Mapped[int | None] = mapped_column(sa.Integer)
    exclusive_area: Mapped[Decimal] = mapped_column(ExactDecimal(2))
    area_source: Mapped[str] = mapped_column(sa.String(16), default="register")
    # Sold / delivered by the developer (unsold units count as one owner in votes).
    sold: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    entrance: Mapped[Entrance] = relationship()
    building: Mapped[Building] = relationship()
    estate: Mapped[Estate] = relationship()


class Owner(Base, TimestampMixin):
    """A party on the owners register: a person, an organisation, or an estate's developer."""

    __tablename__ = "owner"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16), default="person")
    name: Mapped[str] = mapped_column(sa.String(100))
    # The platform user this owner has been verified as (null until verified).
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"), index=True)
    # For developers: the estate whose unsold units they hold.
    estate_id: Mapped[int | None] = mapped_column(sa.ForeignKey("estate.id"), index=True)


class Ownership(Base, TimestampMixin):
    """An owner's title to a unit. Co-owners of a unit designate exactly one voter."""

    __tablename__ = "ownership"
    __table_args__ = (
        sa.UniqueConstraint("unit_id", "owner_id"),
        sa.Index("uq_ownership_one_voter", "unit_id", unique=True,
                 sqlite_where=sa.text("is_designated_voter = 1 AND ended_on IS NULL"),
                 postgresql_where=sa.text("is_designated_voter AND ended_on IS NULL")),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("unit.id"), index=True)
    owner_id: Mapped[int] = mapped_column(sa.ForeignKey("owner.id"), index=True)
    certificate_no: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    is_designated_voter: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    since: Mapped[date | None] = mapped_column(sa.Date)
    ended_on: Mapped[date | None] = mapped_column(sa.Date)
    unit: Mapped[Unit] = relationship()
    owner: Mapped[Owner] = relationship()
