"""Meal booking use-cases: slots and menus, eligibility and price, booking with the waitlist,
cancellation with promotion, serving at the counter, meal cards.

Capacity is decided by the database: a seat is taken by ONE conditional UPDATE
(``booked + q <= limit``) whose row count says whether it worked, and the slot's CHECK constraints
forbid a counter above capacity. One live booking per diner per slot is a partial unique index.
A cancellation hands its seats straight to the waitlist (priority first, then first come) in the
same transaction, so a new booking racing with it can never take a seat a waitlisted diner was owed
and never oversells.

Eligibility, tiers, delivery and priority (and so the frozen prices the statements sum) read only verified
data: the profile's birth date, neighbourhood and unit as 居委会 staff verified them (service.people), and the
meal card's statuses. What a resident typed only turns a refusal's reason into ``age_unverified`` or
``residence_unverified``."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import sqlalchemy as sa

from models.base import db
from models.meals import LIVE_SQL, MODES, MealBooking, MealCard, MealSite, MealSlot, SetMeal
from models.people import ResidentProfile, RoleAssignment, User
from models.places import Building, Estate, Neighbourhood, Street, Unit
from service import audit, clock, geo, notifications, people
from service.db import is_unique_violation, transactional
from service.errors import Conflict, Forbidden, InvalidInput, NotFound, NothingToChange
from service.i18n import Text
from service.meals import rules as meal_rules

# Booking codes for the counter: no 0/O, 1/I/L, 2/Z, 5/S, 6/G, 8/B.
CODE_ALPHABET = "ACDEFHJKMNPQRTUVWXY3479"
CODE_LENGTH = 6
CENT = Decimal("0.01")
ZERO = Decimal("0.00")
NO_PRIORITY = 9


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(code: str) -> str:
    return code.strip().upper().replace("-", "").replace(" ", "")


def site_rules(site: MealSite) -> meal_rules.Rules:
    return meal_rules.current().for_site(site.code)


def _at(day: date, moment: time) -> datetime:
    return datetime.combine(day, moment, tzinfo=clock.SHANGHAI)


# --- sites and slots --------------------------------------------------------------------------------

def get_site(site_id: int) -> MealSite:
    site = db.session.get(MealSite, site_id)
    if site is None or not site.active:
        raise NotFound(code="meals.site_not_found", zh="助餐点不存在", en="No such meal site")
    return site


def can_operate(actor: people.Actor, site: MealSite) -> bool:
    """The site's operators, and staff or admins whose scope covers it."""
    if site.id in actor.scope_ids("operator", "meal_site"):
        return True
    return actor.is_staff and (site.street_id in actor.street_ids or actor.covers_neighbourhood(site.neighbourhood_id))


def require_operator(actor: people.Actor, site: MealSite) -> None:
    if not can_operate(actor, site):
        raise Forbidden(code="meals.not_site_operator", zh="您不是该助餐点的运营或负责人员",
                        en="You do not operate this meal site")


def create_site(**values) -> MealSite:
    """Add a meal site (demo data, tests, the lead's facility link); the caller commits."""
    site = MealSite(**values)
    db.session.add(site)
    db.session.flush()
    return site


def slot_times(site: MealSite, day: date, meal: str) -> dict:
    """Opening, cut-off, reserve release, start and end of a slot under the site's rules."""
    r = site_rules(site)
    if meal not in r.meal_times or meal not in r.cutoff:
        raise InvalidInput("meal", "该助餐点未配置此餐次", "The rules define no times for this meal",
                           code="meals.meal_not_configured")
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
        raise InvalidInput("capacity.delivery", "该助餐点不提供送餐", "This site does not deliver",
                           code="meals.no_delivery_at_site")
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
        raise Conflict(code="meals.slot_exists", zh="该日该餐次已发布", en="This meal is already published") from None
    for item in set_meals:
        db.session.add(SetMeal(slot_id=slot.id, name=item["name"], elder_price=Decimal(str(item["elder_price"])),
                               general_price=Decimal(str(item.get("general_price", item["elder_price"]))),
                               discount=bool(item.get("discount", False)), dishes=list(item.get("dishes") or []),
                               allergens=list(item.get("allergens") or []), tags=list(item.get("tags") or [])))
    db.session.flush()
    return slot


@transactional
def publish_slot(actor: people.Actor, site_id: int, *, day: date, meal: str, capacity: dict,
                 set_meals: list[dict]) -> MealSlot:
    """Operators publish a day's meal: capacities per mode and the menu (at least one set meal)."""
    site = get_site(site_id)
    require_operator(actor, site)
    if not site.bookable:
        raise Conflict(code="meals.site_not_bookable", zh="该助餐点不接受预订", en="This site takes no bookings")
    if str(day.isoweekday()) not in site.service_days:
        raise InvalidInput("day", "该助餐点当天不供餐", "The site does not serve on that day",
                           code="meals.not_a_service_day")
    if day < clock.local_now().date():
        raise InvalidInput("day", "不能发布过去日期的餐次", "The day is in the past")
    slot = add_slot(site, day=day, meal=meal, capacity=capacity, set_meals=set_meals)
    audit.record(actor, "meal_slot.published", "meal_slot", slot.id,
                 after={"site_id": site.id, "day": day.isoformat(), "meal": meal, "capacity": capacity})
    return slot


def get_slot(slot_id: int, field: str | None = None) -> MealSlot:
    slot = db.session.get(MealSlot, slot_id)
    if slot is None:
        if field:
            raise InvalidInput(field, "餐次不存在", "No such meal slot", code="meals.slot_not_found")
        raise NotFound(code="meals.slot_not_found", zh="餐次不存在", en="No such meal slot")
    return slot


# --- the diner ----------------------------------------------------------------------------------------

@dataclass
class Diner:
    user_id: int
    age: int | None
    neighbourhood_id: int | None
    street_id: int | None
    district_id: int | None
    unit_id: int | None
    address: str | None
    lat: float | None
    lng: float | None
    card: CardFlags | None
    name: str | None = None
    # Something the resident typed awaits 居委会 verification: a birth date or an ID number (age), a
    # neighbourhood (residence). It counts for nothing; it only explains a refusal.
    age_pending: bool = False
    residence_pending: bool = False

    def flag(self, code: str) -> bool:
        return bool(self.card is not None and getattr(self.card, code, False))

    def flags(self) -> list[str]:
        return [code for code in meal_rules.STATUS_FLAGS if self.flag(code)]


_CARD_COLUMNS = ("low_income", "lives_alone", "disabled", "limited_mobility", "civility", "diet_note")
_NB = sa.orm.aliased(Neighbourhood)
_AGE_PENDING = sa.or_(ResidentProfile.declared_birth_date.is_not(None),
                     sa.and_(ResidentProfile.id_number_hash.is_not(None), ResidentProfile.id_verified_at.is_(None)))
_DINER = (
    sa.select(ResidentProfile.birth_date, _AGE_PENDING.label("age_pending"),
              ResidentProfile.declared_neighbourhood_id.is_not(None).label("residence_pending"), ResidentProfile.name,
              ResidentProfile.unit_id, ResidentProfile.address, Unit.number, Building.name, Building.lat,
              Building.lng, Estate.name, Estate.lat, Estate.lng, _NB.id, _NB.lat, _NB.lng, Street.id,
              Street.district_id, MealCard.user_id, *(getattr(MealCard, c) for c in _CARD_COLUMNS))
    .select_from(ResidentProfile)
    .outerjoin(MealCard, MealCard.user_id == ResidentProfile.user_id)
    .outerjoin(Unit, Unit.id == ResidentProfile.unit_id)
    .outerjoin(Building, Building.id == Unit.building_id)
    .outerjoin(Estate, Estate.id == Unit.estate_id)
    .outerjoin(_NB, _NB.id == sa.func.coalesce(Building.neighbourhood_id, ResidentProfile.neighbourhood_id))
    .outerjoin(Street, Street.id == _NB.street_id)
    .where(ResidentProfile.user_id == sa.bindparam("user_id")))


@dataclass(frozen=True)
class CardFlags:
    """The verified statuses on a diner's meal card."""

    low_income: bool
    lives_alone: bool
    disabled: bool
    limited_mobility: bool
    civility: bool
    diet_note: str | None


DINER_QUERY = _DINER  # queries.slots lets these columns ride on its own query


def diner(user_id: int, on: date) -> Diner:
    """Age on the meal's day and residence (the profile's unit, else its neighbourhood), with the meal
    card's verified statuses: one query. Only verified values count: the profile's birth_date (set by 居委会
    staff from a document or the verified ID number), neighbourhood_id and unit_id; what the resident
    declared only marks the age or residence as pending."""
    return diner_from_row(user_id, on, db.session.execute(_DINER, {"user_id": user_id}).first())


def diner_from_row(user_id: int, on: date, row) -> Diner:
    """A Diner from the ``_DINER`` columns (all None when the user has no resident profile)."""
    if row is None:
        return Diner(user_id, None, None, None, None, None, None, None, None, None)
    (birth, age_pending, residence_pending, name, unit_id, address, unit_no, building_name, b_lat, b_lng,
     estate_name, e_lat, e_lng, nb_id, nb_lat, nb_lng, street_id, district_id, card_user,
     *card_values) = tuple(row)[:19 + len(_CARD_COLUMNS)]
    age = people.resident_age(birth, on)
    lat, lng = (b_lat, b_lng) if b_lat is not None else (e_lat, e_lng)
    if lat is None:
        lat, lng = nb_lat, nb_lng
    if unit_id is not None and unit_no is not None and not address:
        address = f"{estate_name}{building_name}{unit_no}室"
    card = CardFlags(*(bool(v) if c != "diet_note" else v for c, v in zip(_CARD_COLUMNS, card_values))) \
        if card_user is not None else None
    return Diner(user_id, age, nb_id, street_id, district_id, unit_id, address, lat, lng, card, name,
                 bool(age_pending), bool(residence_pending))


def eligibility(site: MealSite, d: Diner, r: meal_rules.Rules) -> tuple[bool, str | None]:
    """Whether the diner gets the elder price here, by verified age and residence; otherwise a reason
    code (``age_unverified`` / ``residence_unverified`` when what the resident typed awaits verification)."""
    if d.age is None or d.age < r.elder_min_age:
        if d.age_pending:
            return False, "age_unverified"
        return False, "age_unknown" if d.age is None else "too_young"
    resident = True
    if r.residence == "street":
        resident = d.street_id is not None and d.street_id == site.street_id
    elif r.residence == "district":
        site_district = db.session.execute(sa.select(Street.district_id).where(Street.id == site.street_id)).scalar()
        resident = d.district_id is not None and d.district_id == site_district
    if not resident:
        return False, "residence_unverified" if d.residence_pending else "not_resident"
    return True, None


# Why a diner gets no elder price: (zh, en) told to the diner themself, and to someone acting for them
# (a family member or staff booking for the diner).
INELIGIBLE = {
    "age_unknown": {
        "self": ("请先完善出生日期或身份证号，由居委会核实后再预订长者餐",
                 "Your birth date is not on record; ask the neighbourhood committee to verify it"),
        "other": ("用餐人的出生日期或身份证号尚未登记，须由居委会核实后方可预订长者餐",
                  "The diner's birth date is not on record; the neighbourhood committee needs to verify it"),
    },
    "age_unverified": {
        "self": ("您填写的出生日期或身份证号尚待居委会核实，核实后方可享受长者助餐价，请携带身份证或户口簿到居委会办理",
                 "Your birth date or ID number awaits verification by the neighbourhood committee; bring your "
                 "ID card or household register to them to get the elder price"),
        "other": ("用餐人填写的出生日期或身份证号尚待居委会核实，核实后方可享受长者助餐价，请携带其身份证或户口簿到居委会办理",
                  "The diner's birth date or ID number awaits verification by the neighbourhood committee; bring "
                  "their ID card or household register to them to get the elder price"),
    },
    "residence_unverified": {
        "self": ("您填写的居住地尚待居委会核实，核实后方可享受本助餐点的长者助餐价",
                 "Your place of residence awaits verification by the neighbourhood committee; once "
                 "verified you get the elder price at this site"),
        "other": ("用餐人填写的居住地尚待居委会核实，核实后方可享受本助餐点的长者助餐价",
                  "The diner's place of residence awaits verification by the neighbourhood committee; once "
                  "verified they get the elder price at this site"),
    },
    "too_young": {
        "self": ("未达到长者助餐年龄", "Below the elder meal age"),
        "other": ("用餐人未达到长者助餐年龄", "The diner is below the elder meal age"),
    },
    "not_resident": {
        "self": ("不在本助餐点服务范围居住", "You do not live in this site's service area"),
        "other": ("用餐人不在本助餐点服务范围居住", "The diner does not live in this site's service area"),
    },
}
# What follows the reason: whether the diner may still book here at the general price.
_AT_GENERAL_PRICE = {True: ("，可按普通价格预订", "; you may book at the general price"),
                     False: ("，该助餐点不对公众开放", "; the site is not open to the public")}


def ineligible_message(reason: str, open_to_public: bool, *, for_self: bool = True) -> tuple[str, str]:
    """Why the diner gets no elder price here, and whether the caller may book at the general price:
    (zh, en), told to the diner (``for_self``) or to someone acting for them."""
    (zh, en) = INELIGIBLE[reason]["self" if for_self else "other"]
    zh_next, en_next = _AT_GENERAL_PRICE[bool(open_to_public)]
    return zh + zh_next, en + en_next


def priority_rank(d: Diner, r: meal_rules.Rules) -> int:
    for group in r.groups:
        if "civility" in group.when and not r.civility_enabled:
            continue
        if group.when and any(d.flag(flag) for flag in group.when):
            return group.rank
        if group.min_age is not None and d.age is not None and d.age >= group.min_age:
            return group.rank
    return NO_PRIORITY


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT)


def quote(site: MealSite, set_meal: SetMeal, d: Diner, *, mode: str, quantity: int,
          r: meal_rules.Rules | None = None) -> dict:
    """The price breakdown for ``quantity`` portions, in exact decimals."""
    r = r or site_rules(site)
    eligible, reason = eligibility(site, d, r)
    statuses: list[dict] = []
    operator_tier, operator_amount = None, ZERO
    if eligible:
        unit_list = set_meal.elder_price
        tier = next((t for t in reversed(r.age_tiers) if d.age >= t.min_age), None)
        tier_code, tier_amount = (tier.code, tier.amount) if tier else ("elder", ZERO)
        for status in r.statuses:
            if d.flag(status.code):
                statuses.append({"code": status.code, "name": status.zh, "amount": status.amount})
        wanted = tier_amount + sum((s["amount"] for s in statuses), ZERO)
        floor = min(r.min_payable, unit_list)
        unit_subsidy = min(wanted, unit_list - floor)
        op = next((t for t in r.operator_tiers
                   if d.age >= t.min_age and (t.max_age is None or d.age <= t.max_age)), None)
        if op is not None:
            operator_tier, operator_amount = op.code, op.amount
    else:
        unit_list, tier_code, tier_amount, unit_subsidy = set_meal.general_price, "general", ZERO, ZERO
    fee = r.delivery_fee if mode == "delivery" else ZERO
    unit_payable = unit_list - unit_subsidy
    return {
        "eligible": eligible, "ineligible_reason": reason, "tier": tier_code, "tier_amount": _money(tier_amount),
        "statuses": statuses, "unit_list_price": _money(unit_list), "unit_subsidy": _money(unit_subsidy),
        "unit_payable": _money(unit_payable), "quantity": quantity,
        "list_price": _money(unit_list * quantity), "subsidy": _money(unit_subsidy * quantity),
        "delivery_fee": _money(fee), "payable": _money(unit_payable * quantity + fee),
        "operator_tier": operator_tier, "operator_subsidy": _money(operator_amount * quantity),
    }


def delivery_allowed(d: Diner, r: meal_rules.Rules) -> bool:
    return (d.age is not None and d.age >= r.delivery_min_age) or any(d.flag(f) for f in r.delivery_flags)


def distance_m(site: MealSite, lat: float | None, lng: float | None) -> float | None:
    """Straight-line distance from a point (GCJ-02) to a site (the delivery radius is a radius)."""
    if lat is None or lng is None or site.lat is None or site.lng is None:
        return None
    return geo.distance_m(lat, lng, site.lat, site.lng)


# --- booking -----------------------------------------------------------------------------------------------

def _limit(slot: MealSlot, mode: str, priority: bool, now: datetime):
    cap = getattr(MealSlot, f"cap_{mode}")
    if priority or now >= slot.reserve_until:
        return cap
    return cap - getattr(MealSlot, f"reserve_{mode}")


def seats_left(slot, mode: str, *, priority: bool, now: datetime) -> int:
    """Seats of ``mode`` a diner could still take as the slot was read (the priority reserve is held back
    for others until it is released). Only ``take_seats`` decides; this answers listings and refuses
    early when the slot is already full."""
    cap = getattr(slot, f"cap_{mode}")
    held = 0 if (priority or now >= slot.reserve_until) else getattr(slot, f"reserve_{mode}")
    return max(0, cap - held - getattr(slot, f"booked_{mode}"))


def take_seats(slot: MealSlot, mode: str, quantity: int, *, priority: bool, now: datetime) -> bool:
    """Atomically take ``quantity`` seats of ``mode``; False when they are not there."""
    booked = getattr(MealSlot, f"booked_{mode}")
    result = db.session.execute(
        sa.update(MealSlot).where(MealSlot.id == slot.id, booked + quantity <= _limit(slot, mode, priority, now))
        .values({booked: booked + quantity}).execution_options(synchronize_session=False))
    return result.rowcount == 1


def release_seats(slot_id: int, mode: str, quantity: int) -> None:
    if quantity <= 0:
        return
    booked = getattr(MealSlot, f"booked_{mode}")
    db.session.execute(sa.update(MealSlot).where(MealSlot.id == slot_id).values({booked: booked - quantity})
                       .execution_options(synchronize_session=False))


def _role_for(actor: people.Actor, diner_id: int) -> str:
    if actor.user_id == diner_id:
        return "self"
    linked = db.session.execute(sa.text(
        "SELECT 1 FROM family_link WHERE proxy_user_id = :p AND elder_user_id = :e AND status = 'confirmed'"),
        {"p": actor.user_id, "e": diner_id}).first()
    return "family" if linked else "staff"


@transactional
def book(actor: people.Actor, *, slot_id: int, diner_id: int | None, mode: str, set_meal_id: int,
         quantity: int = 1, join_waitlist: bool = False, diet_note: str | None = None) -> MealBooking:
    now = clock.now()
    slot = get_slot(slot_id, "slot_id")
    site = db.session.get(MealSite, slot.site_id)
    if not (site.active and site.bookable):
        raise Conflict(code="meals.site_not_bookable", zh="该助餐点暂不接受预订", en="This site takes no bookings")
    diner_id = diner_id or actor.user_id
    if diner_id != actor.user_id:
        if db.session.get(User, diner_id) is None or not people.may_act_for(actor, diner_id):
            raise Forbidden(code="meals.not_allowed_for_diner", zh="您无权为该居民订餐（需本人、已确认的家属或负责的社工）",
                            en="Only the diner, a confirmed family member or staff in scope may book for them")
    r = site_rules(site)
    if now < slot.opens_at:
        raise Conflict(code="meals.window_not_open", zh="该餐次尚未开放预订", en="Booking for this meal is not open yet",
                       errors={"opens_at": [clock.iso(slot.opens_at)]})
    if now >= slot.cutoff_at:
        raise Conflict(code="meals.cutoff_passed", zh="已过预订截止时间", en="The booking cut-off has passed")
    set_meal = db.session.get(SetMeal, set_meal_id)
    if set_meal is None or set_meal.slot_id != slot.id:
        raise InvalidInput("set_meal_id", "该餐次没有这个套餐", "No such set meal on this slot",
                           code="meals.set_meal_not_found")
    if quantity > r.max_quantity:
        raise InvalidInput("quantity", f"每次最多预订{r.max_quantity}份", f"At most {r.max_quantity} portions",
                           code="meals.quantity_too_large")
    if getattr(slot, f"cap_{mode}") <= 0:
        raise InvalidInput("mode", "该餐次不提供此就餐方式", "This meal does not offer this mode",
                           code="meals.mode_not_offered")
    d = diner(diner_id, slot.day)
    eligible, reason = eligibility(site, d, r)
    if not eligible and not site.open_to_public:
        zh, en = ineligible_message(reason, False, for_self=diner_id == actor.user_id)
        raise Forbidden(code="meals.not_eligible", zh=zh, en=en, errors={"diner_id": [Text(zh, en)]})
    if mode == "delivery":
        if not (eligible and delivery_allowed(d, r)):
            raise InvalidInput("mode", "送餐仅限80岁以上或经核实的独居、残疾、行动不便长者",
                               "Delivery is for elders aged 80+ or with a verified living-alone, disability or "
                               "mobility status", code="meals.delivery_not_allowed")
        distance = distance_m(site, d.lat, d.lng)
        if distance is None:
            if diner_id == actor.user_id:
                zh, en = "没有您的住址信息，无法送餐", "Your address is unknown; delivery is not possible"
            else:
                zh, en = "没有用餐人的住址信息，无法送餐", "The diner's address is unknown; delivery is not possible"
            raise InvalidInput("mode", zh, en, code="meals.address_unknown")
        if distance > site.delivery_radius_m:
            raise InvalidInput("mode", "住址超出该助餐点的送餐范围", "The address is outside the delivery radius",
                               code="meals.outside_delivery_radius")
    rank = priority_rank(d, r) if eligible else NO_PRIORITY
    if not join_waitlist and seats_left(slot, mode, priority=rank < NO_PRIORITY, now=now) < quantity:
        # Already full when read (a freed seat goes to the waitlist first): refused without writing,
        # which is most attempts when a popular meal opens. A slot read with room goes on to take_seats.
        if has_live_booking(slot.id, diner_id):
            raise _already_booked(for_self=diner_id == actor.user_id)
        raise _slot_full()
    price = quote(site, set_meal, d, mode=mode, quantity=quantity, r=r)
    booking = MealBooking(
        token=secrets.token_urlsafe(18), slot_id=slot.id, site_id=site.id, set_meal_id=set_meal.id,
        diner_user_id=diner_id, booked_by_user_id=actor.user_id, booked_by_role=_role_for(actor, diner_id),
        mode=mode, quantity=quantity, status="confirmed", day=slot.day, starts_at=slot.starts_at,
        ends_at=slot.ends_at, priority_rank=rank, eligible=eligible, age=d.age, tier=price["tier"],
        statuses=",".join(s["code"] for s in price["statuses"]), operator_tier=price["operator_tier"],
        list_price=price["list_price"], subsidy=price["subsidy"], delivery_fee=price["delivery_fee"],
        payable=price["payable"], operator_subsidy=price["operator_subsidy"], breakdown=_jsonable(price),
        residence_district_id=d.district_id, neighbourhood_id=d.neighbourhood_id, unit_id=d.unit_id,
        address=d.address if mode == "delivery" else None,
        diet_note=diet_note or (d.card.diet_note if d.card else None), created_at=now)
    _insert(booking)
    if not take_seats(slot, mode, quantity, priority=rank < NO_PRIORITY, now=now):
        if not join_waitlist:
            raise _slot_full()
        booking.status = "waitlisted"
    if booking.booked_by_role == "staff":
        audit.record(actor, "meal_booking.created", "meal_booking", booking.id,
                     after={"diner_id": diner_id, "slot_id": slot.id, "status": booking.status})
    db.session.flush()
    return booking


def _slot_full() -> Conflict:
    return Conflict(code="meals.slot_full", zh="该餐次已订满，可选择加入候补",
                    en="This meal is fully booked; you may join the waitlist")


def _already_booked(*, for_self: bool) -> Conflict:
    """The diner holds a live booking of the meal already: told to the diner, or to who books for them."""
    if for_self:
        return Conflict(code="meals.already_booked", zh="您已预订（或候补）此餐次",
                        en="You already have a booking (or a waitlist place) for this meal")
    return Conflict(code="meals.already_booked", zh="用餐人已预订（或候补）此餐次",
                    en="The diner already has a booking (or a waitlist place) for this meal")


_LIVE_BOOKING = sa.select(sa.literal(1)).select_from(MealBooking).where(
    MealBooking.slot_id == sa.bindparam("slot_id"), MealBooking.diner_user_id == sa.bindparam("diner_id"),
    sa.text(f"meal_booking.{LIVE_SQL}"))  # literal, so a prepared plan can use the partial unique index


def has_live_booking(slot_id: int, diner_id: int) -> bool:
    return db.session.execute(_LIVE_BOOKING, {"slot_id": slot_id, "diner_id": diner_id}).first() is not None


def _jsonable(price: dict) -> dict:
    def conv(v):
        if isinstance(v, Decimal):
            return f"{v:.2f}"
        if isinstance(v, list):
            return [conv(x) for x in v]
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        return v
    return conv(price)


def _insert(booking: MealBooking) -> None:
    for _ in range(5):
        booking.code = new_code()
        try:
            with db.session.begin_nested():
                db.session.add(booking)
                db.session.flush()
            return
        except sa.exc.IntegrityError as exc:
            if not is_unique_violation(exc):
                raise
            if "code" not in str(exc.orig).lower():
                raise _already_booked(for_self=booking.diner_user_id == booking.booked_by_user_id) from None
    raise Conflict(code="meals.code_exhausted", zh="请重试", en="Please retry")


def get_booking(actor: people.Actor, booking_id: int) -> MealBooking:
    booking = db.session.get(MealBooking, booking_id)
    if booking is None or not can_see(actor, booking):
        raise NotFound(code="meals.booking_not_found", zh="订餐记录不存在", en="No such booking")
    return booking


def can_see(actor: people.Actor, booking: MealBooking) -> bool:
    if actor.user_id in (booking.diner_user_id, booking.booked_by_user_id):
        return True
    if people.may_act_for(actor, booking.diner_user_id):
        return True
    return can_operate(actor, db.session.get(MealSite, booking.site_id))


@transactional
def cancel(actor: people.Actor, booking_id: int, *, reason: str | None = None) -> MealBooking:
    """Free until the cut-off for the diner and their proxies; after it only staff in scope, with a reason."""
    booking = db.session.get(MealBooking, booking_id)
    if booking is None or not people.may_act_for(actor, booking.diner_user_id):
        site = db.session.get(MealSite, booking.site_id) if booking else None
        if booking is None or not (site and can_operate(actor, site) and actor.is_staff):
            raise NotFound(code="meals.booking_not_found", zh="订餐记录不存在", en="No such booking")
    if booking.status not in ("confirmed", "waitlisted"):
        raise Conflict(code="meals.not_cancellable", zh="该订餐已取餐、已取消或已记为未到，不能取消",
                       en="This booking can no longer be cancelled")
    slot = db.session.get(MealSlot, booking.slot_id)
    now = clock.now()
    staff_after_cutoff = False
    if now >= slot.cutoff_at and booking.status == "confirmed":
        site = db.session.get(MealSite, booking.site_id)
        if not (actor.is_staff and can_operate(actor, site) and site_rules(site).staff_cancel_after_cutoff):
            raise Conflict(code="meals.cutoff_passed", zh="已过取消截止时间，如需取消请联系居委会或助餐点",
                           en="The cancellation cut-off has passed; ask staff")
        if not (reason and reason.strip()):
            raise InvalidInput("reason", "截止后取消须说明理由", "A reason is required after the cut-off")
        staff_after_cutoff = True
    old = booking.status
    changed = db.session.execute(sa.update(MealBooking).where(MealBooking.id == booking.id,
                                                              MealBooking.status == old)
                                 .values(status="cancelled", cancelled_at=now, cancelled_by=actor.user_id,
                                         cancel_reason=reason).execution_options(synchronize_session=False))
    if changed.rowcount != 1:
        raise Conflict(code="meals.concurrent_update", zh="订餐状态刚被修改，请刷新", en="The booking just changed")
    if old == "confirmed":
        left = hand_over(slot, booking.mode, booking.quantity, now)
        release_seats(slot.id, booking.mode, left)
    if actor.user_id not in (booking.diner_user_id, booking.booked_by_user_id) or staff_after_cutoff:
        audit.record(actor, "meal_booking.cancelled", "meal_booking", booking.id, before={"status": old},
                     after={"status": "cancelled", "reason": reason})
    db.session.expire(booking)
    return booking


def hand_over(slot: MealSlot, mode: str, freed: int, now: datetime) -> int:
    """Give ``freed`` seats to waitlisted bookings of the slot and mode, priority first then first
    come (a booking that needs more seats than are left is passed over). Returns the seats left."""
    if now >= slot.cutoff_at:
        return freed
    candidates = db.session.execute(
        sa.select(MealBooking.id, MealBooking.quantity).where(
            MealBooking.slot_id == slot.id, MealBooking.mode == mode, MealBooking.status == "waitlisted")
        .order_by(MealBooking.priority_rank, MealBooking.id).limit(50)).all()
    for booking_id, quantity in candidates:
        if freed <= 0:
            break
        if quantity > freed:
            continue
        if _promote(booking_id, now):
            freed -= quantity
    return freed


def _promote(booking_id: int, now: datetime) -> bool:
    done = db.session.execute(sa.update(MealBooking).where(MealBooking.id == booking_id,
                                                           MealBooking.status == "waitlisted")
                              .values(status="confirmed", promoted_at=now)
                              .execution_options(synchronize_session=False)).rowcount == 1
    if done:
        booking = db.session.get(MealBooking, booking_id)
        db.session.refresh(booking)
        _notify_promoted(booking)
    return done


def _notify_promoted(booking: MealBooking) -> None:
    site = db.session.get(MealSite, booking.site_id)
    meal = "午餐" if booking.starts_at.astimezone(clock.SHANGHAI).hour < 15 else "晚餐"
    for user_id in {booking.diner_user_id, booking.booked_by_user_id}:
        notifications.notify(user_id, kind="meals.promoted", dedupe_key=f"meals.promoted.{booking.id}.{user_id}",
                             title="候补成功：已为您预留餐位",
                             body=f"{site.name} {booking.day.isoformat()} {meal}，取餐码 {booking.code}",
                             link=f"/api/v1/meal-bookings/{booking.id}", data={"code": booking.code})


def promote_waitlist(slot_id: int) -> int:
    """Seats that became free without a hand-over (reserve released, a race): fill them from the waitlist.
    Each promotion takes its seats with the same conditional UPDATE as a booking. The caller commits."""
    slot = db.session.get(MealSlot, slot_id)
    now = clock.now()
    if slot is None or now >= slot.cutoff_at:
        return 0
    promoted = 0
    rows = db.session.execute(
        sa.select(MealBooking.id, MealBooking.mode, MealBooking.quantity, MealBooking.priority_rank)
        .where(MealBooking.slot_id == slot_id, MealBooking.status == "waitlisted")
        .order_by(MealBooking.mode, MealBooking.priority_rank, MealBooking.id)).all()
    for booking_id, mode, quantity, rank in rows:
        if not take_seats(slot, mode, quantity, priority=rank < NO_PRIORITY, now=now):
            continue
        if _promote(booking_id, now):
            promoted += 1
        else:
            release_seats(slot_id, mode, quantity)
    return promoted


# --- at the counter --------------------------------------------------------------------------------------

@transactional
def serve(actor: people.Actor, *, booking_id: int | None = None, site_id: int | None = None,
          code: str | None = None, token: str | None = None) -> MealBooking:
    """Mark a booking served, once. Found by id, by the counter code or by the scanned token."""
    if booking_id is not None:
        booking = db.session.get(MealBooking, booking_id)
    elif token:
        booking = db.session.execute(sa.select(MealBooking).where(MealBooking.token == token.strip())).scalar()
    elif code:
        booking = db.session.execute(sa.select(MealBooking).where(
            MealBooking.code == normalise_code(code))).scalar()
    else:
        raise InvalidInput("code", "请提供取餐码或扫码凭证", "Give a booking code or a scanned token")
    if booking is None or (site_id is not None and booking.site_id != site_id):
        raise NotFound(code="meals.booking_not_found", zh="没有这个取餐码", en="No such booking")
    site = db.session.get(MealSite, booking.site_id)
    if not can_operate(actor, site):
        raise NotFound(code="meals.booking_not_found", zh="没有这个取餐码", en="No such booking")
    if booking.status == "served":
        raise Conflict(code="meals.already_served", zh="该订餐已取餐，请勿重复核销",
                       en="Already served", errors={"served_at": [clock.iso(booking.served_at)]})
    if booking.status != "confirmed":
        raise Conflict(code="meals.not_servable", zh="该订餐不是待取餐状态（候补、已取消或已记为未到）",
                       en=f"The booking is {booking.status}, not confirmed")
    if clock.local_now().date() != booking.day:
        raise Conflict(code="meals.wrong_day", zh="不是该订餐的用餐日", en="This booking is for another day")
    now = clock.now()
    changed = db.session.execute(sa.update(MealBooking).where(MealBooking.id == booking.id,
                                                              MealBooking.status == "confirmed")
                                 .values(status="served", served_at=now, served_by=actor.user_id)
                                 .execution_options(synchronize_session=False)).rowcount
    db.session.expire(booking)
    if changed != 1:
        raise Conflict(code="meals.already_served", zh="该订餐已取餐，请勿重复核销", en="Already served")
    return booking


# --- meal cards -------------------------------------------------------------------------------------------

def _card_no() -> str:
    return "C" + "".join(secrets.choice("0123456789") for _ in range(11))


CARD_FIELDS = (*meal_rules.STATUS_FLAGS, "diet_note")


@transactional
def set_card(actor: people.Actor, user_id: int, changes: dict) -> MealCard:
    """居委会 staff covering the resident's verified neighbourhood issue the 老年助餐卡 and record the statuses
    they verified (audited). A request naming nothing is refused; one that changes nothing leaves the card,
    its verification stamp and the audit log as they were."""
    if not changes:
        raise NothingToChange(CARD_FIELDS)
    profile = db.session.get(ResidentProfile, user_id)
    if profile is None or not (actor.is_staff and actor.covers_neighbourhood(profile.neighbourhood_id)):
        raise NotFound(code="people.resident_not_found", zh="居民不存在或不在您的负责范围", en="No such resident in your scope")
    card = db.session.get(MealCard, user_id)
    before = None
    if card is None:
        card = MealCard(user_id=user_id, card_no=_card_no())
        db.session.add(card)
    else:
        before = {f: getattr(card, f) for f in CARD_FIELDS}
        if all(getattr(card, name) == value for name, value in changes.items()):
            return card
    for name, value in changes.items():
        setattr(card, name, value)
    card.verified_by = actor.user_id
    card.verified_at = clock.now()
    db.session.flush()
    audit.record(actor, "meal_card.updated", "user", user_id, before=before,
                 after={f: getattr(card, f) for f in CARD_FIELDS})
    return card


def get_card(actor: people.Actor, user_id: int) -> MealCard:
    if not people.may_act_for(actor, user_id):
        raise NotFound(code="people.resident_not_found", zh="居民不存在", en="No such resident")
    card = db.session.get(MealCard, user_id)
    if card is None:
        raise NotFound(code="meals.card_not_found", zh="尚未办理助餐卡", en="No meal card yet")
    return card


def staff_of_neighbourhood(neighbourhood_id: int | None) -> list[int]:
    if neighbourhood_id is None:
        return []
    return list(db.session.execute(sa.select(RoleAssignment.user_id).where(
        RoleAssignment.role == "staff", RoleAssignment.scope_type == "neighbourhood",
        RoleAssignment.scope_id == neighbourhood_id).distinct()).scalars())


def operators_of(site_id: int) -> list[int]:
    return list(db.session.execute(sa.select(RoleAssignment.user_id).where(
        RoleAssignment.role == "operator", RoleAssignment.scope_type == "meal_site",
        RoleAssignment.scope_id == site_id).distinct()).scalars())

