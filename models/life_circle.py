"""The 15-minute community life circle: facilities and precomputed estate → facility walks."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow

STATUSES = ("planned", "building", "open", "closed")
# Grid for the nearby prefilter: cells of CELL_DEG degrees; cell = row * CELL_ROW + col
# with row = ⌊(lat + 90) / CELL_DEG⌋ and col = ⌊(lng + 180) / CELL_DEG⌋ (see service/life_circle/walking.py).
CELL_DEG = 0.005
CELL_ROW = 100000


class Facility(Base):
    """A life-circle facility: where it is (GCJ-02), what it offers, when it is open."""

    __tablename__ = "facility"
    __table_args__ = (
        sa.CheckConstraint("status IN ('planned', 'building', 'open', 'closed')", name="status"),
        sa.CheckConstraint("capacity IS NULL OR capacity >= 0", name="capacity"),
        # The nearby prefilter: a few grid cells, then the exact box, read from the index alone
        # (status and category are filtered from the index entries; the planner never prefers a category scan).
        sa.Index("ix_facility_cell", "cell", "lat", "lng", "status", "category_code", "id", "version"),
        sa.Index("ix_facility_category", "category_code", "status"),
        sa.Index("ix_facility_street", "street_id", "category_code"),
        sa.Index("ix_facility_name", "name"),
    )
    # PostgreSQL only, made by migration 0016 (an expression over a function of its own): the search by
    # name, subtype or address (service/life_circle/queries.py, search).
    SEARCH_TEXT = "coalesce(name, '') || ' ' || coalesce(subtype, '') || ' ' || coalesce(address, '')"
    id: Mapped[int] = mapped_column(primary_key=True)
    # Stable id from the source system: bulk imports upsert by it, so re-importing changes nothing.
    external_id: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    category_code: Mapped[str] = mapped_column(sa.String(32))
    subtype: Mapped[str | None] = mapped_column(sa.String(48))
    address: Mapped[str | None] = mapped_column(sa.String(200))
    # GCJ-02 (the datum of Chinese maps), with provenance as on places.
    lat: Mapped[float] = mapped_column(sa.Float)
    lng: Mapped[float] = mapped_column(sa.Float)
    coord_source: Mapped[str] = mapped_column(sa.String(16), default="approximate")
    cell: Mapped[int] = mapped_column(sa.BigInteger)
    phone: Mapped[str | None] = mapped_column(sa.String(32))
    services: Mapped[list | None] = mapped_column(sa.JSON)
    target_groups: Mapped[list | None] = mapped_column(sa.JSON)
    capacity: Mapped[int | None] = mapped_column(sa.Integer)
    accessible: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    bookable: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    status: Mapped[str] = mapped_column(sa.String(16), default="open")
    # Opening hours (service/life_circle/hours.py): weekly periods, 24 hours, dated exceptions, holidays.
    hours: Mapped[dict | None] = mapped_column(sa.JSON)
    description: Mapped[str | None] = mapped_column(sa.String(500))
    street_id: Mapped[int | None] = mapped_column(sa.ForeignKey("street.id"))
    neighbourhood_id: Mapped[int | None] = mapped_column(sa.ForeignKey("neighbourhood.id"), index=True)
    # A 助餐 facility that is a bookable meal site of the meals domain.
    meal_site_id: Mapped[int | None] = mapped_column(sa.ForeignKey("meal_site.id"), unique=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Optimistic concurrency: two editors at once → one 409.
    version: Mapped[int] = mapped_column(sa.Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class FacilityWalk(Base):
    """A precomputed network walking distance from an estate (its gate) to a facility,
    computed offline on a street graph and imported; used instead of the estimate."""

    __tablename__ = "facility_walk"
    __table_args__ = (sa.CheckConstraint("walk_m >= 0", name="walk_m"),)
    estate_id: Mapped[int] = mapped_column(sa.ForeignKey("estate.id", ondelete="CASCADE"), primary_key=True)
    facility_id: Mapped[int] = mapped_column(sa.ForeignKey("facility.id", ondelete="CASCADE"), primary_key=True,
                                             index=True)
    walk_m: Mapped[int] = mapped_column(sa.Integer)
    walk_s_standard: Mapped[int | None] = mapped_column(sa.Integer)
    walk_s_elder: Mapped[int | None] = mapped_column(sa.Integer)
    graph_version: Mapped[str | None] = mapped_column(sa.String(64))
    computed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
