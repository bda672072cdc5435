"""Meal sites and their slots: finding them, the rules that apply at a site, a slot's times under them, and
adding sites and slots (demo data, tests, benchmarks and ``workflow.publish_slot``; the caller commits)."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

import sqlalchemy as sa

from models.base import db
from models.meals import MODES, MealSite, MealSlot, SetMeal
from service import clock, geo
from service.db import is_unique_violation
from service.meals import errors
from service.meals import rules as meal_rules


def site_rules(site: MealSite) -> meal_rules.Rules:
    return meal_rules.current().for_site(site.code)


def get_site(site_id: int) -> MealSite:
    site = db.session.get(MealSite, site_id)
    if site is None or not site.active:
        raise errors.SiteNotFound()
    return site


def get_slot_to_book(slot_id: int, set_meal_id: int) -> tuple[MealSlot, MealSite, SetMeal | None]:
    """The slot a booking names with its site and the set meal the booking names (None unless it is one of the
    slot's), in one statement."""
    row = db.session.execute(
        sa.select(MealSlot, MealSite, SetMeal).join(MealSite, MealSite.id == MealSlot.site_id)
        .outerjoin(SetMeal, sa.and_(SetMeal.id == set_meal_id, SetMeal.slot_id == MealSlot.id))
        .where(MealSlot.id == slot_id)).first()
    if row is None:
        raise errors.SlotUnknown()
    return tuple(row)


def distance_m(site: MealSite, lat: float | None, lng: float | None) -> float | None:
    """Straight-line distance from a point (GCJ-02) to a site (the delivery radius is a radius)."""
    if lat is None or lng is None or site.lat is None or site.lng is None:
        return None
    return geo.distance_m(lat, lng, site.lat, site.lng)


def create_site(**values) -> MealSite:
    """Add a meal site (demo data, tests, the lead's facility link); the caller commits."""
    site = MealSite(**values)
    db.session.add(site)
    db.session.flush()
    return site


def _at(day: date, moment: time) -> datetime:
    return datetime.combine(day, moment, tzinfo=clock.SHANGHAI)


def slot_times(site: MealSite, day: date, meal: str) -> dict:
    """Opening, cut-off, reserve release, start and end of a slot under the site's rules."""
    r = site_rules(site)
    if meal not in r.meal_times or meal not in r.cutoff:
        raise errors.MealNotConfigured()
    starts, ends = r.meal_times[meal]
    return {"opens_at": _at(day - timedelta(days=r.window_days), time(0, 0)),
            "cutoff_at": _at(day, r.cutoff[meal]),
            "reserve_until": _at(day - timedelta(days=r.reserve_days_before), r.reserve_at),
            "starts_at": _at(day, starts), "ends_at": _at(day, ends)}


def _reserve(capacity: int, percent: int) -> int:
    return capacity * percent // 100


def add_slot(site: MealSite, *, day: date, meal: str, capacity: dict, set_meals: list[dict]) -> MealSlot:
    """A slot with its capacities per mode and its menu (no commit)."""
    r = site_rules(site)
    caps = {mode: int(capacity.get(mode, 0)) for mode in MODES}
    if caps["delivery"] and site.delivery_radius_m <= 0:
        raise errors.NoDeliveryAtSite()
    slot = MealSlot(site_id=site.id, day=day, meal=meal, **slot_times(site, day, meal),
                    **{f"cap_{m}": caps[m] for m in MODES},
                    **{f"reserve_{m}": _reserve(caps[m], r.reserve_percent) for m in MODES},
                    **{f"booked_{m}": 0 for m in MODES})
    try:
        with db.session.begin_nested():
            db.session.add(slot)
            db.session.flush()
    except sa.exc.IntegrityError as exc:
        if not is_unique_violation(exc):
            raise
        raise errors.SlotExists() from None
    for item in set_meals:
        db.session.add(SetMeal(slot_id=slot.id, name=item["name"], elder_price=Decimal(str(item["elder_price"])),
                               general_price=Decimal(str(item.get("general_price", item["elder_price"]))),
                               discount=bool(item.get("discount", False)), dishes=list(item.get("dishes") or []),
                               allergens=list(item.get("allergens") or []), tags=list(item.get("tags") or [])))
    db.session.flush()
    return slot
