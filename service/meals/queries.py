"""Meal reads: nearby sites, a day's slots with remaining seats and the caller's price, bookings, meal cards,
who is told of what, the kitchen manifest and the monthly subsidy statement (with the street roll-up)."""
from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from models.base import db
from models.life_circle import Facility
from models.meals import LIVE_SQL, MODES, MealBooking, MealCard, MealSite, MealSlot, SetMeal
from models.people import ResidentProfile
from models.places import Building, District, Estate, Neighbourhood, Unit
from service import audit, clock, consent, csv_export, geo, labels, people, places, privacy
from service.db import paged, paginate, rows_and_total, with_total
from service.life_circle import walking
from service.life_circle.walking import Walk
from service.meals import access, errors, pricing, sites
from service.meals import rules as meal_rules
from service.meals.seats import seats_left
from service.people import Actor

ZERO = Decimal("0.00")
KITCHEN_STATUSES = ("confirmed", "served", "no_show")


def dec(value) -> Decimal:
    """A SUM over an ExactDecimal column: SQLAlchemy gives the column's type to SUM, so it arrives as an
    exact Decimal (the database added integers of fen)."""
    return Decimal(value or 0).quantize(Decimal("0.01"))


def money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


# --- sites ----------------------------------------------------------------------------------------------

def site_summary(site: MealSite, distance: float | None = None, *, facility_id: int | None,
                 walks: tuple[Walk, Walk] | None = None) -> dict:
    """A site as every answer shows it; ``facility_id`` (its life-circle facility, or None) is always
    given, so that the list, the detail, the slots, the manifest and the statement agree."""
    standard, elder = walks or (None, None)
    return {"id": site.id, "code": site.code, "name": site.name, "kind": site.kind, "street_id": site.street_id,
            "neighbourhood_id": site.neighbourhood_id, "address": site.address, "phone": site.phone,
            "lat": site.lat, "lng": site.lng, "bookable": site.bookable, "open_to_public": site.open_to_public,
            "delivery_radius_m": site.delivery_radius_m, "service_days": site.service_days,
            "distance_m": None if distance is None else round(distance),
            "walk_m": standard.walk_m if standard else None,
            "walk_minutes": standard.minutes if standard else None,
            "walk_minutes_elder": elder.minutes if elder else None,
            "facility_id": facility_id}


def _facility_ids(site_ids: list[int]) -> dict[int, int]:
    """The life-circle facility of each site that has one."""
    if not site_ids:
        return {}
    return dict(db.session.execute(sa.select(Facility.meal_site_id, Facility.id).where(
        Facility.meal_site_id.in_(site_ids))).all())


def _walks(site: MealSite, lat: float, lng: float) -> tuple[Walk, Walk] | None:
    """The life circle's walking estimate to the site, at the standard and the elder pace."""
    if site.lat is None or site.lng is None:
        return None
    return (walking.estimate(lat, lng, site.lat, site.lng, pace="standard"),
            walking.estimate(lat, lng, site.lat, site.lng, pace="elder"))


def list_sites(*, lat: float | None, lng: float | None, datum: str, street_id: int | None, bookable: bool | None,
               page: int, page_size: int) -> tuple[list[dict], int]:
    """Active sites, nearest first when a position is given (by the life circle's walking estimate,
    which grows with the straight-line distance)."""
    query = sa.select(MealSite).where(MealSite.active.is_(True))
    if street_id is not None:
        query = query.where(MealSite.street_id == street_id)
    if bookable is not None:
        query = query.where(MealSite.bookable.is_(bookable))
    if lat is None or lng is None:
        items, total = paginate(query.order_by(MealSite.id), page, page_size)
        facilities = _facility_ids([s.id for s in items])
        return [site_summary(s, facility_id=facilities.get(s.id)) for s in items], total
    glat, glng = geo.to_gcj02(lat, lng, datum)
    found = db.session.execute(query.order_by(MealSite.id).limit(5000)).scalars().all()
    ranked = sorted(((sites.distance_m(s, glat, glng), s) for s in found),
                    key=lambda pair: (pair[0] is None, pair[0] or 0, pair[1].id))
    start = (page - 1) * page_size
    shown = ranked[start:start + page_size]
    facilities = _facility_ids([s.id for _, s in shown])
    return [site_summary(s, d, facility_id=facilities.get(s.id), walks=_walks(s, glat, glng))
            for d, s in shown], len(ranked)


def site_detail(site_id: int) -> dict:
    return _site_out(sites.get_site(site_id))


def _site_out(site: MealSite) -> dict:
    """The site block of an answer about one site, with its life-circle facility like the list's."""
    return site_summary(site, facility_id=_facility_ids([site.id]).get(site.id))


# --- slots --------------------------------------------------------------------------------------------------

def set_meal_out(item: SetMeal) -> dict:
    return {"id": item.id, "name": item.name, "elder_price": money(item.elder_price),
            "general_price": money(item.general_price), "discount": item.discount, "dishes": item.dishes or [],
            "allergens": item.allergens or [], "tags": item.tags or []}


def price_out(price: dict) -> dict:
    return {"eligible": price["eligible"], "ineligible_reason": price["ineligible_reason"], "tier": price["tier"],
            "tier_amount": money(price["tier_amount"]),
            "statuses": [{"code": s["code"], "name": s["name"], "amount": money(s["amount"])}
                         for s in price["statuses"]],
            "unit_list_price": money(price["unit_list_price"]), "unit_subsidy": money(price["unit_subsidy"]),
            "unit_payable": money(price["unit_payable"]), "quantity": price["quantity"],
            "list_price": money(price["list_price"]), "subsidy": money(price["subsidy"]),
            "delivery_fee": money(price["delivery_fee"]), "payable": money(price["payable"]),
            "statuses_withheld": price["statuses_withheld"]}


_WHO = pricing.DINER_QUERY.subquery("diner")
_SITE_T, _SLOT_T, _SET_T = MealSite.__table__, MealSlot.__table__, SetMeal.__table__
# Plain columns, not ORM entities: the rows are split into light records (the attributes the
# pricing and summary code read), which costs a fraction of building identity-mapped objects.
_SITE_KEYS, _SLOT_KEYS, _SET_KEYS = ([c.key for c in t.c] for t in (_SITE_T, _SLOT_T, _SET_T))
_FACILITY_AT = len(_SITE_KEYS)
_SLOT_AT = _FACILITY_AT + 1
_BOOKING_AT = _SLOT_AT + len(_SLOT_KEYS)
_SET_AT = _BOOKING_AT + 1
_DINER_AT = _SET_AT + len(_SET_KEYS)
_SLOTS = (
    sa.select(*_SITE_T.c, Facility.id, *_SLOT_T.c, MealBooking.id, *_SET_T.c, *_WHO.c).select_from(_SITE_T)
    .outerjoin(Facility, Facility.meal_site_id == _SITE_T.c.id)     # at most one (uq_facility_meal_site_id)
    .outerjoin(_WHO, sa.true())
    .outerjoin(_SLOT_T, sa.and_(_SLOT_T.c.site_id == _SITE_T.c.id,
                                _SLOT_T.c.day == sa.bindparam("day", type_=sa.Date)))
    .outerjoin(MealBooking, sa.and_(MealBooking.slot_id == _SLOT_T.c.id,
                                    MealBooking.diner_user_id == sa.bindparam("user_id"),
                                    # literal, so that a prepared (generic) plan on PostgreSQL
                                    # can still use the partial unique index uq_meal_booking_live
                                    sa.text(f"meal_booking.{LIVE_SQL}")))
    .outerjoin(_SET_T, _SET_T.c.slot_id == _SLOT_T.c.id)
    .where(_SITE_T.c.id == sa.bindparam("site_id"), _SITE_T.c.active.is_(True))
    .order_by(_SLOT_T.c.starts_at, _SET_T.c.id))


def _record(row, start: int, keys: list[str]) -> SimpleNamespace:
    return SimpleNamespace(**dict(zip(keys, row[start:start + len(keys)])))


def slots(actor: Actor, site_id: int, day: date, diner_id: int | None, lang: str = "zh") -> dict:
    """The site's slots on ``day``: menu, remaining seats per mode, whether booking is open now, and the
    price this caller (or the diner they act for) would pay for each set meal. When the diner is not
    eligible, the reason and a message in ``lang`` (e.g. that a typed birth date awaits 居委会
    verification)."""
    diner_id = diner_id or actor.user_id
    # One query for the site, the day's slots, the diner's live booking of each, the menus and the
    # diner's profile, card and residence (built once at import; only its parameters change).
    found = db.session.connection().execute(_SLOTS, {"site_id": site_id, "day": day, "user_id": diner_id}).all()
    if not found:
        raise errors.SiteNotFound()
    if not access.may_book_for(actor, diner_id):
        raise errors.NotAllowedForDiner()
    site = _record(found[0], 0, _SITE_KEYS)
    r = sites.site_rules(site)
    diner_row = tuple(found[0])[_DINER_AT:]
    d = pricing.diner_from_row(diner_id, day, None if all(v is None for v in diner_row) else diner_row)
    eligible, reason = pricing.eligibility(site, d, r)
    priority = eligible and pricing.priority_rank(d, r) < pricing.NO_PRIORITY
    delivery_ok = eligible and pricing.delivery_allowed(d, r)
    now = clock.now()
    rows, mine = [], {}
    menus: dict[int, list[SimpleNamespace]] = defaultdict(list)
    for row in found:
        slot_id = row[_SLOT_AT]
        if slot_id is None:
            continue
        if slot_id not in mine:
            rows.append(_record(row, _SLOT_AT, _SLOT_KEYS))
            mine[slot_id] = row[_BOOKING_AT]
        if row[_SET_AT] is not None:
            menus[slot_id].append(_record(row, _SET_AT, _SET_KEYS))
    items = []
    for slot in rows:
        remaining = {mode: seats_left(slot, mode, priority=priority, now=now) for mode in MODES}
        can_book = eligible or site.open_to_public
        items.append({
            "id": slot.id, "site_id": site.id, "day": slot.day, "meal": slot.meal,
            "starts_at": clock.local(slot.starts_at), "ends_at": clock.local(slot.ends_at),
            "opens_at": clock.local(slot.opens_at), "cutoff_at": clock.local(slot.cutoff_at),
            "booking_open": slot.opens_at <= now < slot.cutoff_at and site.bookable,
            "capacity": {m: getattr(slot, f"cap_{m}") for m in MODES}, "remaining": remaining,
            "my_booking_id": mine.get(slot.id),
            "set_meals": [{**set_meal_out(item),
                           "price": price_out(pricing.quote(site, item, d, mode="dine_in", quantity=1, r=r))
                           if can_book else None} for item in menus[slot.id]],
        })
    message = None if reason is None else pricing.ineligible_message(
        reason, site.open_to_public, for_self=diner_id == actor.user_id)[1 if lang == "en" else 0]
    withheld = pricing.WITHHELD_MESSAGE[1 if lang == "en" else 0] if d.statuses_withheld else None
    return _labelled_slots({"site": site_summary(site, facility_id=found[0][_FACILITY_AT]), "day": day,
                            "diner_id": diner_id, "eligible": eligible, "ineligible_reason": reason,
                            "ineligible_message": message, "statuses_message": withheld,
                            "delivery_allowed": delivery_ok, "priority": priority,
                            "items": items}, lang)


def published_slot(actor: Actor, slot: MealSlot) -> dict:
    """A slot just published, as the day's slots show it."""
    return next(item for item in slots(actor, slot.site_id, slot.day, None)["items"] if item["id"] == slot.id)


def _labelled_slots(answer: dict, lang: str) -> dict:
    """The slots answer is sent as it is (no schema): its codes get their labels here."""
    labels.attach(answer, "meals", ("ineligible_reason",), lang)
    labels.attach(answer["site"], "meals", ("kind",), lang)
    for item in answer["items"]:
        labels.attach(item, "meals", ("meal",), lang)
        for set_meal in item["set_meals"]:
            labels.attach(set_meal, "meals", ("tags",), lang)
            if set_meal["price"] is not None:
                labels.attach(set_meal["price"], "meals", ("tier", "ineligible_reason"), lang)
    return answer


# --- bookings ------------------------------------------------------------------------------------------------

def booking_out(booking: MealBooking, viewer: Actor, names: tuple[str, str, str] | None = None,
                lang: str = "zh") -> dict:
    """A booking as ``viewer`` sees it (the token for the QR code only to the diner and who booked), built as
    BookingOut dumps it: each code with its label in ``lang``, each moment in Shanghai time, amounts as text.
    ``names``: its site's name, set meal's name and slot's meal, when the caller read them with it."""
    if names is None:
        names = (db.session.get(MealSite, booking.site_id).name, db.session.get(SetMeal, booking.set_meal_id).name,
                 db.session.execute(sa.select(MealSlot.meal).where(MealSlot.id == booking.slot_id)).scalar())
    site_name, set_meal_name, meal = names
    own = viewer.user_id in (booking.diner_user_id, booking.booked_by_user_id)
    b = booking.breakdown or {}
    name, local = labels.name, clock.local
    return {
        "id": booking.id, "code": booking.code, "token": booking.token if own else None,
        "status": booking.status, "status_name": name("meals", "status", booking.status, lang),
        "slot_id": booking.slot_id, "site_id": booking.site_id, "site_name": site_name, "day": booking.day,
        "meal": meal, "meal_name": name("meals", "meal", meal, lang), "starts_at": local(booking.starts_at),
        "mode": booking.mode, "mode_name": name("meals", "mode", booking.mode, lang), "quantity": booking.quantity,
        "set_meal_id": booking.set_meal_id, "set_meal_name": set_meal_name,
        "diner_id": booking.diner_user_id, "booked_by_id": booking.booked_by_user_id,
        "booked_by_role": booking.booked_by_role,
        "booked_by_role_name": name("meals", "booked_by_role", booking.booked_by_role, lang),
        "priority_rank": booking.priority_rank,
        "price": {"eligible": booking.eligible, "tier": booking.tier,
                  "tier_name": name("meals", "tier", booking.tier, lang), "tier_amount": _text(b.get("tier_amount")),
                  "statuses": [{"code": _text(s["code"]), "name": _text(s["name"]), "amount": _text(s["amount"])}
                               for s in b.get("statuses", [])],
                  "unit_list_price": _text(b.get("unit_list_price")), "unit_subsidy": _text(b.get("unit_subsidy")),
                  "unit_payable": _text(b.get("unit_payable")), "quantity": booking.quantity,
                  "list_price": money(booking.list_price), "subsidy": money(booking.subsidy),
                  "delivery_fee": money(booking.delivery_fee), "payable": money(booking.payable),
                  "statuses_withheld": b.get("statuses_withheld", False)},
        "diet_note": booking.diet_note, "created_at": local(booking.created_at),
        "promoted_at": local(booking.promoted_at), "served_at": local(booking.served_at),
        "cancelled_at": local(booking.cancelled_at), "cancel_reason": booking.cancel_reason,
    }


def _text(value) -> str | None:
    """A breakdown's value as a text field dumps it (amounts are kept as text: "12.50")."""
    return value if value is None or isinstance(value, str) else str(value)


def booking_answer(booking: MealBooking, viewer: Actor) -> dict:
    """The answer after a booking was written (booked, cancelled, served): the booking as committed, read again
    with its three names in one statement (``_BOOKING_ROW``) rather than reloading each object."""
    row = db.session.connection().execute(_BOOKING_ROW, {"id": sa.inspect(booking).identity[0]}).one()
    return booking_out(row, viewer, (row.site_name, row.set_meal_name, row.slot_meal))


def booking_detail(actor: Actor, booking_id: int) -> dict:
    booking = db.session.get(MealBooking, booking_id)
    if booking is None or not access.may_see(actor, booking):
        raise errors.BookingNotFound()
    return booking_out(booking, actor)


# My bookings: the statements built once (upcoming or all), their values as parameters.
_MINE = (sa.or_(MealBooking.diner_user_id == sa.bindparam("user_id"),
                MealBooking.booked_by_user_id == sa.bindparam("user_id")),)
_MINE_UPCOMING = (*_MINE, MealBooking.day >= sa.bindparam("since"))
_BOOKINGS_PAGE = paged(sa.select(*MealBooking.__table__.c, MealSite.name.label("site_name"),
                                 SetMeal.name.label("set_meal_name"), MealSlot.meal.label("slot_meal"))
                       .join(MealSite, MealSite.id == MealBooking.site_id)
                       .join(SetMeal, SetMeal.id == MealBooking.set_meal_id)
                       .join(MealSlot, MealSlot.id == MealBooking.slot_id)
                       .order_by(MealBooking.day.desc(), MealBooking.id.desc()))
_BOOKING_ROW = _BOOKINGS_PAGE.where(MealBooking.id == sa.bindparam("id")).limit(None).offset(None)
# (the count, the page with the count beside each row: service.db.with_total)
_MY_BOOKINGS = {upcoming: (count, with_total(_BOOKINGS_PAGE, count).where(*where))
                for upcoming, where in ((False, _MINE), (True, _MINE_UPCOMING))
                for count in (sa.select(sa.func.count()).select_from(MealBooking).where(*where),)}


def my_bookings(actor: Actor, *, upcoming: bool, page: int, page_size: int, lang: str = "zh"):
    """The caller's bookings and those they made, newest day first. Read as rows of the booking's columns
    (``booking_out`` reads them as it reads a booking) with the three names joined in."""
    count, page_of = _MY_BOOKINGS[upcoming]
    values = {"user_id": actor.user_id, "since": clock.local_now().date(), "limit": page_size,
              "offset": (page - 1) * page_size}
    rows, total = rows_and_total(page_of, count, values)
    return [booking_out(row, actor, (row.site_name, row.set_meal_name, row.slot_meal), lang) for row in rows], total


# --- meal cards ------------------------------------------------------------------------------------------------

def card_out(card: MealCard) -> dict:
    return {"user_id": card.user_id, "card_no": card.card_no, "low_income": card.low_income,
            "lives_alone": card.lives_alone, "disabled": card.disabled, "limited_mobility": card.limited_mobility,
            "civility": card.civility, "diet_note": card.diet_note, "verified_at": card.verified_at}


def card(actor: Actor, user_id: int) -> dict:
    """A resident's meal card, for the resident, a confirmed relative or staff covering them."""
    if not access.may_see_card(actor, user_id):
        raise errors.ResidentNotFound()
    found = db.session.get(MealCard, user_id)
    if found is None:
        raise errors.CardNotFound()
    return card_out(found)


# --- who is told ------------------------------------------------------------------------------------------------

def staff_of_neighbourhood(neighbourhood_id: int | None) -> list[int]:
    return people.role_holders("staff", "neighbourhood", [] if neighbourhood_id is None else [neighbourhood_id])


def operators_of(site_id: int) -> list[int]:
    return people.role_holders("operator", "meal_site", [site_id])


# --- the kitchen manifest ------------------------------------------------------------------------------

def manifest(actor: Actor, site_id: int, day: date) -> dict:
    """Per slot: portions per set meal and mode, special diets, and the delivery list in route order
    (by neighbourhood, estate, building, unit) with masked names.

    The courier has to call a diner at the door, so the site's own operator gets each diner's phone in
    the delivery list in full (a view of personal data, audited); staff, who may read the manifest
    too, get it masked."""
    site = sites.get_site(site_id)
    access.require_operate(actor, site)
    full_phones = access.may_see_phones(actor, site)
    slot_rows = db.session.execute(sa.select(MealSlot).options(selectinload(MealSlot.set_meals))
                                   .where(MealSlot.site_id == site.id, MealSlot.day == day)
                                   .order_by(MealSlot.starts_at)).scalars().all()
    out = []
    for slot in slot_rows:
        counts = db.session.execute(
            sa.select(MealBooking.set_meal_id, MealBooking.mode, sa.func.sum(MealBooking.quantity))
            .where(MealBooking.slot_id == slot.id, MealBooking.status.in_(KITCHEN_STATUSES))
            .group_by(MealBooking.set_meal_id, MealBooking.mode)).all()
        per = defaultdict(lambda: {m: 0 for m in MODES})
        for set_meal_id, mode, qty in counts:
            per[set_meal_id][mode] = int(qty or 0)
        set_meals = []
        for item in slot.set_meals:
            modes = per.get(item.id, {m: 0 for m in MODES})
            set_meals.append({"set_meal_id": item.id, "name": item.name, "tags": item.tags or [], **modes,
                              "total": sum(modes.values())})
        totals = {m: sum(s[m] for s in set_meals) for m in MODES}
        diets = db.session.execute(
            sa.select(MealBooking.diet_note, sa.func.sum(MealBooking.quantity))
            .where(MealBooking.slot_id == slot.id, MealBooking.status.in_(KITCHEN_STATUSES),
                   MealBooking.diet_note.is_not(None)).group_by(MealBooking.diet_note)
            .order_by(MealBooking.diet_note)).all()
        waitlisted = db.session.execute(sa.select(sa.func.count()).where(
            MealBooking.slot_id == slot.id, MealBooking.status == "waitlisted")).scalar_one()
        out.append({"slot_id": slot.id, "meal": slot.meal, "starts_at": slot.starts_at, "cutoff_at": slot.cutoff_at,
                    "final": clock.now() >= slot.cutoff_at, "set_meals": set_meals,
                    "totals": {**totals, "all": sum(totals.values())}, "waitlisted": waitlisted,
                    "special_diets": [{"note": note, "portions": int(qty)} for note, qty in diets],
                    "delivery": _delivery_list(slot.id, full_phones=full_phones)})
    result = {"site": _site_out(site), "day": day, "slots": out}
    if full_phones and any(stop["phone"] for slot in out for stop in slot["delivery"]):
        audit.record_view(actor, "meal_manifest.phones_viewed", "meal_site", site.id)
    return result


def _delivery_list(slot_id: int, *, full_phones: bool) -> list[dict]:
    rows = db.session.execute(
        sa.select(MealBooking, ResidentProfile.name, Neighbourhood.name, Estate.name, Building.number, Unit.number,
                  SetMeal.name, ResidentProfile.phone_enc)
        .join(SetMeal, SetMeal.id == MealBooking.set_meal_id)
        .outerjoin(ResidentProfile, ResidentProfile.user_id == MealBooking.diner_user_id)
        .outerjoin(Neighbourhood, Neighbourhood.id == MealBooking.neighbourhood_id)
        .outerjoin(Unit, Unit.id == MealBooking.unit_id)
        .outerjoin(Building, Building.id == Unit.building_id)
        .outerjoin(Estate, Estate.id == Unit.estate_id)
        .where(MealBooking.slot_id == slot_id, MealBooking.mode == "delivery",
               MealBooking.status.in_(KITCHEN_STATUSES))).all()
    # Route order: neighbourhoods nearest the site first, then estate, building and unit in natural order.
    site = db.session.get(MealSite, db.session.get(MealSlot, slot_id).site_id)
    nb_ids = {row[0].neighbourhood_id for row in rows if row[0].neighbourhood_id is not None}
    far = float("inf")
    nb_distance = {nid: far if d is None else d for nid, d in (
        (nid, sites.distance_m(site, lat, lng)) for nid, lat, lng in db.session.execute(
            sa.select(Neighbourhood.id, Neighbourhood.lat, Neighbourhood.lng).where(Neighbourhood.id.in_(nb_ids))))}

    def key(row):
        return (nb_distance.get(row[0].neighbourhood_id, far), row[2] or "", row[3] or "", _natural(row[4]),
                _natural(row[5]), row[0].id)

    result = []
    for stop, row in enumerate(sorted(rows, key=key), start=1):
        b = row[0]
        phone = privacy.decrypt(row[7])
        result.append({"stop": stop, "booking_id": b.id, "code": b.code, "diner": privacy.mask_name(row[1]),
                       "phone": phone if full_phones else privacy.mask_phone(phone),
                       "neighbourhood": row[2], "estate": row[3], "address": b.address, "set_meal": row[6],
                       "quantity": b.quantity, "diet_note": b.diet_note, "status": b.status})
    return result


def _natural(text: str | None) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text or ""))


MANIFEST_COLUMNS = ("date", "meal", "section", "set_meal", "dine_in", "pickup", "delivery", "total", "stop", "code",
                    "diner", "phone", "neighbourhood", "address", "quantity", "diet_note")


def manifest_csv(data: dict, lang: str = "zh") -> str:
    """The kitchen's manifest for the day: headers, meals and sections labelled in ``lang``."""
    rows = []
    day = data["day"].isoformat()

    def section(code: str) -> str:
        return labels.name("meals", "section", code, lang)

    for slot in data["slots"]:
        meal = labels.name("meals", "meal", slot["meal"], lang)
        for s in slot["set_meals"]:
            rows.append([day, meal, section("count"), s["name"], s["dine_in"], s["pickup"], s["delivery"], s["total"],
                         "", "", "", "", "", "", "", ""])
        t = slot["totals"]
        rows.append([day, meal, section("total"), "", t["dine_in"], t["pickup"], t["delivery"], t["all"], "", "", "",
                     "", "", "", "", ""])
        for diet in slot["special_diets"]:
            rows.append([day, meal, section("diet"), "", "", "", "", diet["portions"], "", "", "", "", "", "", "",
                         diet["note"]])
        for stop in slot["delivery"]:
            rows.append([day, meal, section("delivery"), stop["set_meal"], "", "", stop["quantity"], stop["quantity"],
                         stop["stop"], stop["code"], stop["diner"], stop["phone"], stop["neighbourhood"],
                         stop["address"], stop["quantity"], stop["diet_note"]])
    return csv_export.write(labels.names("meals", "manifest_columns", MANIFEST_COLUMNS, lang), rows)


# --- the monthly subsidy statement --------------------------------------------------------------------------

FIRST_MONTH, LAST_MONTH = date(2000, 1, 1), date(2099, 12, 1)   # the months a statement may be asked for


def parse_month(month: str) -> tuple[date, date]:
    """The first day of ``month`` (YYYY-MM) and of the month after; a month outside 2000-01 … 2099-12
    is refused (9999-12 would have no month after it)."""
    year, mon = (int(p) for p in month.split("-"))
    try:
        start = date(year, mon, 1)
    except ValueError:  # year 0000
        raise errors.MonthInvalid() from None
    if not FIRST_MONTH <= start <= LAST_MONTH:
        raise errors.MonthOutOfRange(first=f"{FIRST_MONTH:%Y-%m}", last=f"{LAST_MONTH:%Y-%m}")
    end = date(year + (mon == 12), 1 if mon == 12 else mon + 1, 1)
    return start, end


def statement(actor: Actor, site_id: int, month: str) -> dict:
    """Meals served in the month per paying district, subsidy tier and status, with the subsidy the
    site claims (diner side) and the operator subsidy; sums done exactly in SQL (integer fen)."""
    site = sites.get_site(site_id)
    access.require_operate(actor, site)
    start, end = parse_month(month)
    served = (MealBooking.site_id == site.id, MealBooking.status == "served", MealBooking.day >= start,
              MealBooking.day < end)
    rows = db.session.execute(
        sa.select(MealBooking.residence_district_id, MealBooking.tier, MealBooking.statuses,
                  sa.func.sum(MealBooking.quantity), sa.func.sum(MealBooking.list_price),
                  sa.func.sum(MealBooking.subsidy), sa.func.sum(MealBooking.payable),
                  sa.func.sum(MealBooking.delivery_fee))
        .where(*served).group_by(MealBooking.residence_district_id, MealBooking.tier, MealBooking.statuses)
        .order_by(MealBooking.residence_district_id, MealBooking.tier, MealBooking.statuses)).all()
    op_rows = db.session.execute(
        sa.select(MealBooking.operator_tier, sa.func.sum(MealBooking.quantity),
                  sa.func.sum(MealBooking.operator_subsidy))
        .where(*served, MealBooking.operator_tier.is_not(None)).group_by(MealBooking.operator_tier)
        .order_by(MealBooking.operator_tier)).all()
    totals = db.session.execute(sa.select(sa.func.count(sa.distinct(MealBooking.diner_user_id)),
                                          sa.func.count(sa.distinct(MealBooking.day))).where(*served)).one()
    districts = dict(db.session.execute(sa.select(District.id, District.name)).all())
    lines = []
    for district_id, tier, statuses, meals, list_total, subsidy, payable, fees in rows:
        lines.append({"district_id": district_id, "district": districts.get(district_id), "tier": tier,
                      "tier_name": labels.name("meals", "tier", tier),
                      "statuses": [s for s in (statuses or "").split(",") if s],
                      "meals": int(meals or 0), "list_total": money(dec(list_total)),
                      "subsidy_total": money(dec(subsidy)), "payable_total": money(dec(payable)),
                      "delivery_fees": money(dec(fees))})
    operator = [{"tier": tier, "meals": int(meals or 0), "amount": money(dec(amount))} for tier, meals, amount in op_rows]
    return {"site": _site_out(site), "month": month, "lines": lines, "operator_subsidy": operator,
            "totals": {"meals": sum(line["meals"] for line in lines), "diners": int(totals[0]),
                       "service_days": int(totals[1]),
                       "list_total": money(sum((Decimal(x["list_total"]) for x in lines), ZERO)),
                       "subsidy_total": money(sum((Decimal(x["subsidy_total"]) for x in lines), ZERO)),
                       "payable_total": money(sum((Decimal(x["payable_total"]) for x in lines), ZERO)),
                       "delivery_fees": money(sum((Decimal(x["delivery_fees"]) for x in lines), ZERO)),
                       "operator_subsidy_total": money(sum((Decimal(x["amount"]) for x in operator), ZERO))}}


STATEMENT_COLUMNS = ("site", "month", "district", "tier", "statuses", "meals", "list_total", "subsidy_total",
                     "payable_total", "delivery_fees")
STREET_STATEMENT_COLUMNS = ("street", "month", "site", "meals", "diners", "subsidy_total", "operator_subsidy_total",
                            "payable_total", "delivery_fees")


def statement_csv(data: dict, lang: str = "zh") -> str:
    """A site's monthly statement: headers, tiers and statuses labelled in ``lang``; statuses joined by +."""
    site, month = data["site"]["name"], data["month"]
    rows = [[site, month, line["district"], labels.name("meals", "tier", line["tier"], lang),
             "+".join(labels.names("meals", "statuses", line["statuses"], lang)), line["meals"],
             line["list_total"], line["subsidy_total"], line["payable_total"], line["delivery_fees"]]
            for line in data["lines"]]
    operator = labels.name("meals", "statement_rows", "operator", lang)
    rows += [[site, month, "", f"{operator}：{labels.name('meals', 'tier', op['tier'], lang)}", "", op["meals"], "",
              op["amount"], "", ""] for op in data["operator_subsidy"]]
    t = data["totals"]
    rows.append([site, month, "", labels.name("meals", "statement_rows", "total", lang), "", t["meals"],
                 t["list_total"], t["subsidy_total"], t["payable_total"], t["delivery_fees"]])
    return csv_export.write(labels.names("meals", "statement_columns", STATEMENT_COLUMNS, lang), rows)


def street_statement(actor: Actor, street_id: int, month: str) -> dict:
    """The street roll-up: every site of the street with its served meals and subsidies."""
    if not access.may_see_street(actor, street_id):
        raise errors.StreetOutOfScope()
    street = places.get_street(street_id)
    start, end = parse_month(month)
    rows = db.session.execute(
        sa.select(MealSite.id, MealSite.name, sa.func.coalesce(sa.func.sum(MealBooking.quantity), 0),
                  sa.func.coalesce(sa.func.sum(MealBooking.subsidy), 0),
                  sa.func.coalesce(sa.func.sum(MealBooking.operator_subsidy), 0),
                  sa.func.coalesce(sa.func.sum(MealBooking.payable), 0),
                  sa.func.coalesce(sa.func.sum(MealBooking.delivery_fee), 0),
                  sa.func.count(sa.distinct(MealBooking.diner_user_id)))
        .select_from(MealSite)
        .outerjoin(MealBooking, sa.and_(MealBooking.site_id == MealSite.id, MealBooking.status == "served",
                                        MealBooking.day >= start, MealBooking.day < end))
        .where(MealSite.street_id == street_id).group_by(MealSite.id, MealSite.name).order_by(MealSite.id)).all()
    per_site = [{"site_id": sid, "name": name, "meals": int(meals), "subsidy_total": money(dec(subsidy)),
                 "operator_subsidy_total": money(dec(op)), "payable_total": money(dec(payable)),
                 "delivery_fees": money(dec(fees)), "diners": int(diners)}
                for sid, name, meals, subsidy, op, payable, fees, diners in rows]
    return {"street_id": street_id, "street": street.name, "month": month, "sites": per_site,
            "totals": {"meals": sum(s["meals"] for s in per_site),
                       "subsidy_total": money(sum((Decimal(s["subsidy_total"]) for s in per_site), ZERO)),
                       "operator_subsidy_total": money(sum((Decimal(s["operator_subsidy_total"]) for s in per_site),
                                                           ZERO)),
                       "payable_total": money(sum((Decimal(s["payable_total"]) for s in per_site), ZERO)),
                       "delivery_fees": money(sum((Decimal(s["delivery_fees"]) for s in per_site), ZERO))}}


def street_statement_csv(data: dict, lang: str = "zh") -> str:
    street, month = data["street"], data["month"]
    rows = [[street, month, s["name"], s["meals"], s["diners"], s["subsidy_total"], s["operator_subsidy_total"],
             s["payable_total"], s["delivery_fees"]] for s in data["sites"]]
    t = data["totals"]
    rows.append([street, month, labels.name("meals", "statement_rows", "total", lang), t["meals"], "",
                 t["subsidy_total"], t["operator_subsidy_total"], t["payable_total"], t["delivery_fees"]])
    return csv_export.write(labels.names("meals", "statement_columns", STREET_STATEMENT_COLUMNS, lang), rows)


def lives_alone_sql(user_id_column):
    """An EXISTS true for a person whose meal card (written by 居委会 staff only) records, with their live consent
    to sensitive data, that they live alone (独居): other domains order whom to reach first by it (the notices'
    chase list). Without the consent the status is not used (service.consent)."""
    from service import consent

    return (sa.select(sa.literal(1)).where(MealCard.user_id == user_id_column, MealCard.lives_alone.is_(True),
                                          consent.live_sql(MealCard.user_id, consent.SENSITIVE)).exists())


# --- signals other domains read (an elder's welfare) -------------------------------------------------------------

def no_shows_on(day: date, diner_ids) -> list[tuple[int, int]]:
    """(booking id, diner's user id) of the bookings of ``day`` marked no-show, of these diners (ids, or a
    SELECT of user ids)."""
    ids = diner_ids if isinstance(diner_ids, sa.Select) else sorted(set(diner_ids))
    if not isinstance(ids, sa.Select) and not ids:
        return []
    return [tuple(row) for row in db.session.execute(sa.select(MealBooking.id, MealBooking.diner_user_id).where(
        MealBooking.day == day, MealBooking.status == "no_show", MealBooking.diner_user_id.in_(ids))
        .order_by(MealBooking.id))]


def stopped_diners(today: date, diner_ids=None) -> list[tuple[int, int | None]]:
    """Who stopped booking, by the meals' own rule: at least ``stopped_min_bookings`` meals in the
    ``stopped_lookback_days`` before last week and none booked from a week ago on; (user id, neighbourhood id),
    of these diners when given (ids, or a SELECT of user ids)."""
    r = meal_rules.current()
    last_week = today - timedelta(days=7)
    since = last_week - timedelta(days=r.stopped_lookback_days)
    regular = (sa.select(MealBooking.diner_user_id, MealBooking.neighbourhood_id)
               .where(MealBooking.day >= since, MealBooking.day < last_week,
                      MealBooking.status.in_(("confirmed", "served", "no_show")))
               .group_by(MealBooking.diner_user_id, MealBooking.neighbourhood_id)
               .having(sa.func.count() >= r.stopped_min_bookings))
    if diner_ids is not None:
        regular = regular.where(MealBooking.diner_user_id.in_(
            diner_ids if isinstance(diner_ids, sa.Select) else sorted(set(diner_ids)) or [0]))
    regular = regular.subquery()
    recent = sa.select(MealBooking.id).where(MealBooking.diner_user_id == regular.c.diner_user_id,
                                             MealBooking.day >= last_week)
    return [tuple(row) for row in db.session.execute(
        sa.select(regular.c.diner_user_id, regular.c.neighbourhood_id).where(~sa.exists(recent))
        .order_by(regular.c.diner_user_id))]
