"""Elder meal service (老年助餐): sites, slots with capacities, set meals (menus per slot),
meal cards with the staff-verified statuses, and bookings (with the waitlist in the same table).

Capacity is decided in the database: a slot's ``booked_<mode>`` counters only move through a
conditional UPDATE (``booked + q <= capacity``), and a CHECK constraint forbids a counter above its
capacity. One live booking per diner per slot is a partial unique index."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, ExactDecimal, TimestampMixin, UTCDateTime, utcnow

SITE_KINDS = ("elder_canteen", "meal_point", "community_canteen", "smart_canteen", "restaurant", "care_home",
              "central_kitchen", "workplace")
MEALS = ("lunch", "dinner")
MODES = ("dine_in", "pickup", "delivery")
# Live statuses hold the diner's one booking of the slot.
BOOKING_STATUSES = ("confirmed", "waitlisted", "served", "no_show", "cancelled")
LIVE_STATUSES = ("confirmed", "waitlisted", "served", "no_show")
LIVE_SQL = "status IN ('confirmed', 'waitlisted', 'served', 'no_show')"
BigId = sa.BigInteger().with_variant(sa.Integer, "sqlite")


class MealSite(Base, TimestampMixin):
    __tablename__ = "meal_site"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    kind: Mapped[str] = mapped_column(sa.String(24))
    street_id: Mapped[int] = mapped_column(sa.ForeignKey("street.id"), index=True)
    neighbourhood_id: Mapped[int | None] = mapped_column(sa.ForeignKey("neighbourhood.id"), index=True)
    address: Mapped[str | None] = mapped_column(sa.String(200))
    phone: Mapped[str | None] = mapped_column(sa.String(32))
    # GCJ-02.
    lat: Mapped[float | None] = mapped_column(sa.Float)
    lng: Mapped[float | None] = mapped_column(sa.Float)
    bookable: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    # Residents who are not eligible (and office workers) may book at the general price.
    open_to_public: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    delivery_radius_m: Mapped[int] = mapped_column(sa.Integer, default=0)
    # ISO weekdays the site serves, e.g. "12345" (Monday–Friday).
    service_days: Mapped[str] = mapped_column(sa.String(7), default="1234567")
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)


class MealSlot(Base, TimestampMixin):
    """One meal (lunch or dinner) of one site on one day, with capacities per mode."""

    __tablename__ = "meal_slot"
    __table_args__ = (
        sa.UniqueConstraint("site_id", "day", "meal"),
        sa.CheckConstraint("booked_dine_in >= 0 AND booked_dine_in <= cap_dine_in", name="dine_in_capacity"),
        sa.CheckConstraint("booked_pickup >= 0 AND booked_pickup <= cap_pickup", name="pickup_capacity"),
        sa.CheckConstraint("booked_delivery >= 0 AND booked_delivery <= cap_delivery", name="delivery_capacity"),
        sa.Index("ix_meal_slot_day", "day", "site_id"),
        # The cut-off sweep reads only slots whose manifest has not gone out.
        sa.Index("ix_meal_slot_manifest_due", "cutoff_at", "id", sqlite_where=sa.text("manifest_sent_at IS NULL"),
                 postgresql_where=sa.text("manifest_sent_at IS NULL")),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("meal_site.id"))
    day: Mapped[date] = mapped_column(sa.Date)
    meal: Mapped[str] = mapped_column(sa.String(8))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cutoff_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Seats held for priority diners until reserve_until (then anyone may take them).
    reserve_until: Mapped[datetime] = mapped_column(UTCDateTime)
    cap_dine_in: Mapped[int] = mapped_column(sa.Integer, default=0)
    cap_pickup: Mapped[int] = mapped_column(sa.Integer, default=0)
    cap_delivery: Mapped[int] = mapped_column(sa.Integer, default=0)
    reserve_dine_in: Mapped[int] = mapped_column(sa.Integer, default=0)
    reserve_pickup: Mapped[int] = mapped_column(sa.Integer, default=0)
    reserve_delivery: Mapped[int] = mapped_column(sa.Integer, default=0)
    booked_dine_in: Mapped[int] = mapped_column(sa.Integer, default=0)
    booked_pickup: Mapped[int] = mapped_column(sa.Integer, default=0)
    booked_delivery: Mapped[int] = mapped_column(sa.Integer, default=0)
    manifest_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    site: Mapped[MealSite] = relationship()
    set_meals: Mapped[list[SetMeal]] = relationship(back_populates="slot", order_by="SetMeal.id")


class SetMeal(Base):
    """A set meal on a slot's menu: elder price, general price, dishes, allergens and tags."""

    __tablename__ = "meal_set"
    __table_args__ = (sa.CheckConstraint("elder_price >= 0 AND general_price >= 0", name="prices_positive"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    slot_id: Mapped[int] = mapped_column(sa.ForeignKey("meal_slot.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    elder_price: Mapped[Decimal] = mapped_column(ExactDecimal(2))
    general_price: Mapped[Decimal] = mapped_column(ExactDecimal(2))
    # 特惠套餐 for elders in financial hardship.
    discount: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    dishes: Mapped[list] = mapped_column(sa.JSON, default=list)
    allergens: Mapped[list] = mapped_column(sa.JSON, default=list)
    # soft, low_salt, low_sugar, small_portion, vegetarian …
    tags: Mapped[list] = mapped_column(sa.JSON, default=list)
    slot: Mapped[MealSlot] = relationship(back_populates="set_meals")


class MealCard(Base, TimestampMixin):
    """老年助餐卡: the diner's card and the statuses 居委会 staff have verified (never self-declared)."""

    __tablename__ = "meal_card"
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), primary_key=True)
    card_no: Mapped[str] = mapped_column(sa.String(24), unique=True)
    low_income: Mapped[bool] = mapped_column(sa.Boolean, default=False)       # 低保 / 困难
    lives_alone: Mapped[bool] = mapped_column(sa.Boolean, default=False)      # 独居
    disabled: Mapped[bool] = mapped_column(sa.Boolean, default=False)         # 残疾 / 失能
    limited_mobility: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    civility: Mapped[bool] = mapped_column(sa.Boolean, default=False)         # 文明守约 (only if enabled)
    diet_note: Mapped[str | None] = mapped_column(sa.String(100))
    verified_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MealBooking(Base):
    """A booking or a waitlist entry. Prices are frozen at booking time (exact decimals)."""

    __tablename__ = "meal_booking"
    __table_args__ = (
        sa.Index("uq_meal_booking_live", "slot_id", "diner_user_id", unique=True,
                 sqlite_where=sa.text(LIVE_SQL), postgresql_where=sa.text(LIVE_SQL)),
        sa.Index("ix_meal_booking_waitlist", "slot_id", "mode", "priority_rank", "id",
                 sqlite_where=sa.text("status = 'waitlisted'"), postgresql_where=sa.text("status = 'waitlisted'")),
        # Sweeps: confirmed bookings by meal time (reminders, no-show marking).
        sa.Index("ix_meal_booking_confirmed", "ends_at", "id", sqlite_where=sa.text("status = 'confirmed'"),
                 postgresql_where=sa.text("status = 'confirmed'")),
        sa.Index("ix_meal_booking_site_day", "site_id", "day", "status"),
        sa.Index("ix_meal_booking_diner", "diner_user_id", "day"),
        sa.Index("ix_meal_booking_booker", "booked_by_user_id", "id"),
        # Retention (service/meals/personal_data.py): bookings still holding an address or a diet note, by day.
        sa.Index("ix_meal_booking_details", "day", "id",
                 sqlite_where=sa.text("address IS NOT NULL OR diet_note IS NOT NULL"),
                 postgresql_where=sa.text("address IS NOT NULL OR diet_note IS NOT NULL")),
        sa.CheckConstraint("quantity >= 1", name="quantity_positive"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(8), unique=True)
    token: Mapped[str] = mapped_column(sa.String(32), unique=True)
    slot_id: Mapped[int] = mapped_column(sa.ForeignKey("meal_slot.id"))
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("meal_site.id"))
    set_meal_id: Mapped[int] = mapped_column(sa.ForeignKey("meal_set.id"))
    diner_user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    booked_by_user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    booked_by_role: Mapped[str] = mapped_column(sa.String(16))  # self / family / staff
    mode: Mapped[str] = mapped_column(sa.String(16))
    quantity: Mapped[int] = mapped_column(sa.Integer, default=1)
    status: Mapped[str] = mapped_column(sa.String(16))
    # Denormalised from the slot for the sweeps and reports.
    day: Mapped[date] = mapped_column(sa.Date)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # 1 = first served; 9 = no priority group.
    priority_rank: Mapped[int] = mapped_column(sa.Integer, default=9)
    eligible: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    age: Mapped[int | None] = mapped_column(sa.Integer)
    tier: Mapped[str] = mapped_column(sa.String(24))            # age tier code, or "general"
    statuses: Mapped[str] = mapped_column(sa.String(64), default="")  # e.g. "low_income,lives_alone"
    operator_tier: Mapped[str | None] = mapped_column(sa.String(24))
    # Money for the whole booking (quantity included).
    list_price: Mapped[Decimal] = mapped_column(ExactDecimal(2))
    subsidy: Mapped[Decimal] = mapped_column(ExactDecimal(2))
    delivery_fee: Mapped[Decimal] = mapped_column(ExactDecimal(2))
    payable: Mapped[Decimal] = mapped_column(ExactDecimal(2))
    operator_subsidy: Mapped[Decimal] = mapped_column(ExactDecimal(2))
    breakdown: Mapped[dict] = mapped_column(sa.JSON)
    # The diner's residence (the paying district follows it) and, for delivery, the address.
    residence_district_id: Mapped[int | None] = mapped_column(sa.ForeignKey("district.id"))
    neighbourhood_id: Mapped[int | None] = mapped_column(sa.ForeignKey("neighbourhood.id"))
    unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("unit.id"))
    address: Mapped[str | None] = mapped_column(sa.String(200))
    diet_note: Mapped[str | None] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    promoted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    served_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    served_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    cancel_reason: Mapped[str | None] = mapped_column(sa.String(200))
    no_show_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    slot: Mapped[MealSlot] = relationship()
    set_meal: Mapped[SetMeal] = relationship()
