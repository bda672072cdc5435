"""Factories of the meals domain's objects."""
from __future__ import annotations

from datetime import date

from models.base import db
from models.people import User
from tests.factories import World, give_consent, n


def make_meal_site(world: World, **values):
    from models.meals import MealSite

    defaults = {"code": f"site{n()}", "name": "香泉智助食堂", "kind": "smart_canteen", "street_id": world.street.id,
                "neighbourhood_id": world.nb.id, "address": "香泉路88号", "lat": 31.2703, "lng": 121.4086,
                "bookable": True, "open_to_public": False, "delivery_radius_m": 1500, "service_days": "1234567"}
    site = MealSite(**{**defaults, **values})
    db.session.add(site)
    db.session.commit()
    return site


def make_meal_slot(site, day: date, meal: str = "lunch", *, dine_in: int = 50, pickup: int = 0, delivery: int = 0,
                   set_meals: list[dict] | None = None):
    from service.meals import sites

    set_meals = set_meals or [{"name": "两荤一素套餐", "elder_price": "15.00", "general_price": "22.00",
                               "dishes": ["红烧鸡腿", "番茄炒蛋", "青菜"], "tags": ["low_salt"]},
                              {"name": "特惠套餐", "elder_price": "8.00", "general_price": "12.00", "discount": True}]
    slot = sites.add_slot(site, day=day, meal=meal, capacity={"dine_in": dine_in, "pickup": pickup,
                                                             "delivery": delivery}, set_meals=set_meals)
    db.session.commit()
    return slot


def make_meal_card(user: User, *, consent: bool = True, **flags):
    """A card with verified statuses; sensitive ones come with the diner's consent to them unless
    ``consent=False`` (as 居委会 staff could record them only after it)."""
    from models.meals import MealCard
    from service.meals.pricing import SENSITIVE_FIELDS

    if consent and any(flags.get(f) for f in SENSITIVE_FIELDS):
        give_consent(user)
    card = MealCard(user_id=user.id, card_no=f"C{n():011d}", **flags)
    db.session.add(card)
    db.session.commit()
    return card
