"""Eligibility and price. The diner as the meal service sees them (verified age and residence, the meal card's
statuses), whether they get the elder price at a site and why not, their priority group, whether they may
have meals delivered, and the price breakdown a booking freezes.

Eligibility, tiers, delivery and priority (and so the frozen prices the statements sum) read only verified
data: the profile's birth date, neighbourhood and unit as 居委会 staff verified them (service.people), and the
meal card's statuses. What a resident typed only turns a refusal's reason into ``age_unverified`` or
``residence_unverified``. The card's sensitive statuses (all but 文明守约) count only while the diner's
separate consent to sensitive data is live (service.consent): once withdrawn they give no subsidy, priority or
delivery, and the price says so (``statuses_withheld``)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from models.base import db
from models.meals import MealCard, MealSite, SetMeal
from models.people import ResidentProfile
from models.places import Building, Estate, Neighbourhood, Street, Unit
from service import consent, people
from service.meals import rules as meal_rules
from service.meals.sites import site_rules

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
NO_PRIORITY = 9


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
    # Something the resident typed awaits 居委会 verification: a birth date or an ID number (age), a
    # neighbourhood (residence). It counts for nothing; it only explains a refusal.
    age_pending: bool = False
    residence_pending: bool = False
    # The card holds sensitive statuses that do not count: the diner's consent to them is not live.
    statuses_withheld: bool = False

    def flag(self, code: str) -> bool:
        return bool(self.card is not None and getattr(self.card, code, False))


_CARD_COLUMNS = ("low_income", "lives_alone", "disabled", "limited_mobility", "civility", "diet_note")
# The statuses that are sensitive personal data (PIPL Art. 28: health, specific identities): recorded and used
# only with the diner's separate consent.
SENSITIVE_FIELDS = ("low_income", "lives_alone", "disabled", "limited_mobility", "diet_note")
_NB = sa.orm.aliased(Neighbourhood)
_AGE_PENDING = sa.or_(ResidentProfile.declared_birth_date.is_not(None),
                     sa.and_(ResidentProfile.id_number_hash.is_not(None), ResidentProfile.id_verified_at.is_(None)))
DINER_QUERY = (
    sa.select(ResidentProfile.birth_date, _AGE_PENDING.label("age_pending"),
              ResidentProfile.declared_neighbourhood_id.is_not(None).label("residence_pending"),
              ResidentProfile.unit_id, ResidentProfile.address, Unit.number, Building.name, Building.lat,
              Building.lng, Estate.name, Estate.lat, Estate.lng, _NB.id, _NB.lat, _NB.lng, Street.id,
              Street.district_id, MealCard.user_id, *(getattr(MealCard, c) for c in _CARD_COLUMNS),
              consent.live_sql(ResidentProfile.user_id, consent.SENSITIVE).label("sensitive_consent"))
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


def diner(user_id: int, on: date) -> Diner:
    """Age on the meal's day and residence (the profile's unit, else its neighbourhood), with the meal
    card's verified statuses: one query. Only verified values count: the profile's birth_date (set by 居委会
    staff from a document or the verified ID number), neighbourhood_id and unit_id; what the resident
    declared only marks the age or residence as pending."""
    return diner_from_row(user_id, on, db.session.execute(DINER_QUERY, {"user_id": user_id}).first())


def diner_from_row(user_id: int, on: date, row) -> Diner:
    """A Diner from the ``DINER_QUERY`` columns (all None when the user has no resident profile); queries.slots
    lets these columns ride on its own query."""
    if row is None:
        return Diner(user_id, None, None, None, None, None, None, None, None, None)
    (birth, age_pending, residence_pending, unit_id, address, unit_no, building_name, b_lat, b_lng,
     estate_name, e_lat, e_lng, nb_id, nb_lat, nb_lng, street_id, district_id, card_user,
     *card_values, consented) = tuple(row)[:19 + len(_CARD_COLUMNS)]
    age = people.resident_age(birth, on)
    lat, lng = (b_lat, b_lng) if b_lat is not None else (e_lat, e_lng)
    if lat is None:
        lat, lng = nb_lat, nb_lng
    if unit_id is not None and unit_no is not None and not address:
        address = f"{estate_name}{building_name}{unit_no}室"
    withheld = False
    if card_user is not None and not consented:
        values = dict(zip(_CARD_COLUMNS, card_values))
        withheld = any(values[c] for c in SENSITIVE_FIELDS)
        card_values = [None if c in SENSITIVE_FIELDS else v for c, v in values.items()]
    card = CardFlags(*(bool(v) if c != "diet_note" else v for c, v in zip(_CARD_COLUMNS, card_values))) \
        if card_user is not None else None
    return Diner(user_id, age, nb_id, street_id, district_id, unit_id, address, lat, lng, card, bool(age_pending),
                 bool(residence_pending), withheld)


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
# Said beside the prices when the card's sensitive statuses do not count (the consent to them is withdrawn).
WITHHELD_MESSAGE = ("用餐人已撤回敏感个人信息的单独同意，居委会登记的身份状态（如低保、残疾、独居）暂不用于助餐补贴和优先；"
                    "重新同意后恢复",
                    "The diner withdrew their consent to sensitive data: the statuses the neighbourhood committee "
                    "recorded (such as low income, disability, living alone) give no subsidy or priority until "
                    "they consent again")
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
        "statuses_withheld": d.statuses_withheld,
    }


def delivery_allowed(d: Diner, r: meal_rules.Rules) -> bool:
    return (d.age is not None and d.age >= r.delivery_min_age) or any(d.flag(f) for f in r.delivery_flags)
