"""Meal schemas. Money is a string with 2 decimals ("12.50") in every response."""
from __future__ import annotations

from decimal import Decimal

import marshmallow as ma
from marshmallow import validate

from api.schemas.common import Datum, Id, Label, Labels, Lat, Lng, Money, PageArgs, Timestamp, Yuan
from models.meals import BOOKING_STATUSES, MEALS, MODES, SITE_KINDS
from service.i18n import Text
from service.meals.rules import STATUS_FLAGS

CSV_BODY = {"type": "string"}
FORMAT = ma.fields.String(load_default="json", validate=validate.OneOf(("json", "csv")),
                          metadata={"description": "json (default) or csv (UTF-8 with a BOM, for Excel)"})


class SitesArgs(PageArgs):
    lat = Lat()
    lng = Lng()
    datum = Datum(load_default="gcj02",
                  metadata={"description": "wgs84 (wx.getLocation default) or gcj02 (Chinese maps)"})
    street_id = Id()
    bookable = ma.fields.Boolean()

    @ma.validates_schema
    def _both(self, data, **kwargs):
        if ("lat" in data) != ("lng" in data):
            raise ma.ValidationError(Text("lat 与 lng 须同时提供", "lat and lng go together"),
                                     "lat" if "lat" not in data else "lng")


class SiteOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    kind = ma.fields.String(required=True, metadata={"enum": list(SITE_KINDS)})
    kind_name = Label("meals", "kind", required=True, metadata={"example": "长者食堂"})
    street_id = ma.fields.Integer(required=True)
    neighbourhood_id = ma.fields.Integer(allow_none=True)
    address = ma.fields.String(allow_none=True)
    phone = ma.fields.String(allow_none=True)
    lat = Lat(answer=True, allow_none=True)
    lng = Lng(answer=True, allow_none=True)
    bookable = ma.fields.Boolean(required=True)
    open_to_public = ma.fields.Boolean(required=True)
    delivery_radius_m = ma.fields.Integer(required=True)
    service_days = ma.fields.String(required=True, metadata={"description": "ISO weekdays, e.g. 12345"})
    distance_m = ma.fields.Integer(allow_none=True, metadata={
        "description": "Straight-line distance from the given position"})
    walk_m = ma.fields.Integer(allow_none=True, metadata={
        "description": "Estimated walking distance (the life circle's estimate: straight line × detour factor)"})
    walk_minutes = ma.fields.Integer(allow_none=True, metadata={"description": "At the standard pace"})
    walk_minutes_elder = ma.fields.Integer(allow_none=True, metadata={"description": "At the elder pace"})
    facility_id = ma.fields.Integer(allow_none=True, metadata={
        "description": "The site as a facility of the 15-minute life circle, where it is one"})


class SlotsArgs(ma.Schema):
    day = ma.fields.Date(required=True, data_key="date", metadata={"example": "2026-11-23"})
    diner_id = Id(metadata={"description": "The elder I act for (default: myself)"})


class StatusSubsidyOut(ma.Schema):
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    amount = Money(required=True)


class BookingPriceOut(ma.Schema):
    """The price breakdown a booking keeps."""
    eligible = ma.fields.Boolean(required=True)
    tier = ma.fields.String(required=True, metadata={"description": "Age tier code, 'elder' or 'general'"})
    tier_name = Label("meals", "tier", required=True, metadata={"example": "80-89岁"})
    tier_amount = Money(allow_none=True)
    statuses = ma.fields.List(ma.fields.Nested(StatusSubsidyOut), required=True)
    unit_list_price = Money(allow_none=True)
    unit_subsidy = Money(allow_none=True)
    unit_payable = Money(allow_none=True)
    quantity = ma.fields.Integer(required=True)
    list_price = Money(required=True)
    subsidy = Money(required=True)
    delivery_fee = Money(required=True)
    payable = Money(required=True)
    statuses_withheld = ma.fields.Boolean(required=True, metadata={
        "description": "The meal card holds sensitive statuses that gave nothing: the diner's consent to "
                       "sensitive data is withdrawn"})


class PriceOut(BookingPriceOut):
    """The price a diner would pay, with why they are not eligible when they are not."""
    ineligible_reason = ma.fields.String(allow_none=True)
    ineligible_reason_name = Label("meals", "ineligible_reason", allow_none=True)


class SetMealOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    elder_price = Money(required=True)
    general_price = Money(required=True)
    discount = ma.fields.Boolean(required=True, metadata={"description": "特惠套餐"})
    dishes = ma.fields.List(ma.fields.String(), required=True)
    allergens = ma.fields.List(ma.fields.String(), required=True)
    tags = ma.fields.List(ma.fields.String(), required=True)
    tags_names = Labels("meals", "tags", required=True, metadata={"example": ["软烂", "低盐"]})
    price = ma.fields.Nested(PriceOut, allow_none=True, metadata={"description": "What this diner pays for one"})


class ModesOut(ma.Schema):
    dine_in = ma.fields.Integer(required=True)
    pickup = ma.fields.Integer(required=True)
    delivery = ma.fields.Integer(required=True)


class SlotOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    site_id = ma.fields.Integer(required=True)
    day = ma.fields.Date(required=True)
    meal = ma.fields.String(required=True, metadata={"enum": list(MEALS)})
    meal_name = Label("meals", "meal", required=True, metadata={"example": "午餐"})
    starts_at = Timestamp(required=True)
    ends_at = Timestamp(required=True)
    opens_at = Timestamp(required=True)
    cutoff_at = Timestamp(required=True)
    booking_open = ma.fields.Boolean(required=True)
    capacity = ma.fields.Nested(ModesOut, required=True)
    remaining = ma.fields.Nested(ModesOut, required=True)
    my_booking_id = ma.fields.Integer(allow_none=True)
    set_meals = ma.fields.List(ma.fields.Nested(SetMealOut), required=True)


class SlotsOut(ma.Schema):
    site = ma.fields.Nested(SiteOut, required=True)
    day = ma.fields.Date(required=True)
    diner_id = ma.fields.Integer(required=True)
    eligible = ma.fields.Boolean(required=True, metadata={
        "description": "By verified age and residence only (what the resident typed counts once 居委会 staff "
                       "verified it)"})
    ineligible_reason = ma.fields.String(allow_none=True, metadata={
        "enum": ["age_unknown", "age_unverified", "too_young", "not_resident", "residence_unverified"]})
    ineligible_reason_name = Label("meals", "ineligible_reason", allow_none=True, required=True)
    ineligible_message = ma.fields.String(allow_none=True, metadata={
        "description": "Why, for people (Chinese unless Accept-Language prefers English)",
        "example": "您填写的出生日期或身份证号尚待居委会核实，核实后方可享受长者助餐价，请携带身份证或户口簿到居委会办理"})
    statuses_message = ma.fields.String(allow_none=True, metadata={
        "description": "Set when the card's sensitive statuses do not count (consent withdrawn), saying so"})
    delivery_allowed = ma.fields.Boolean(required=True)
    priority = ma.fields.Boolean(required=True)
    items = ma.fields.List(ma.fields.Nested(SlotOut), required=True)


class SetMealIn(ma.Schema):
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=64))
    elder_price = Yuan(maximum=Decimal(1000), required=True, metadata={
        "example": 12.5, "description": "Yuan, at most 2 decimals (a decimal string such as \"12.50\" is taken too)"})
    general_price = Yuan(maximum=Decimal(1000), metadata={
        "example": 18, "description": "Yuan, at most 2 decimals (a decimal string such as \"18.00\" is taken too)"})
    discount = ma.fields.Boolean(load_default=False)
    dishes = ma.fields.List(ma.fields.String(validate=validate.Length(min=1, max=32)), load_default=list,
                            validate=validate.Length(max=12))
    allergens = ma.fields.List(ma.fields.String(validate=validate.Length(min=1, max=32)), load_default=list,
                               validate=validate.Length(max=12))
    tags = ma.fields.List(ma.fields.String(validate=validate.Length(min=1, max=32)), load_default=list,
                          validate=validate.Length(max=12))


class CapacityIn(ma.Schema):
    dine_in = ma.fields.Integer(load_default=0, validate=validate.Range(min=0, max=5000))
    pickup = ma.fields.Integer(load_default=0, validate=validate.Range(min=0, max=5000))
    delivery = ma.fields.Integer(load_default=0, validate=validate.Range(min=0, max=5000))

    @ma.validates_schema
    def _some(self, data, **kwargs):
        if not any(data.get(m) for m in MODES):
            raise ma.ValidationError(Text("至少一种就餐方式须有餐位", "At least one mode needs seats"), "dine_in")


class SlotIn(ma.Schema):
    day = ma.fields.Date(required=True)
    meal = ma.fields.String(required=True, validate=validate.OneOf(MEALS))
    capacity = ma.fields.Nested(CapacityIn, required=True)
    set_meals = ma.fields.List(ma.fields.Nested(SetMealIn), required=True, validate=validate.Length(min=1, max=10))


class BookingIn(ma.Schema):
    slot_id = Id(required=True)
    diner_id = Id(metadata={"description": "Omit to book for myself"})
    mode = ma.fields.String(load_default="dine_in", validate=validate.OneOf(MODES))
    set_meal_id = Id(required=True)
    quantity = ma.fields.Integer(load_default=1, validate=validate.Range(min=1, max=10))
    join_waitlist = ma.fields.Boolean(load_default=False, metadata={
        "description": "When the slot is full, join its waitlist instead of getting 409"})
    diet_note = ma.fields.String(validate=validate.Length(min=1, max=100), metadata={"example": "少盐、软烂"})


class BookingOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    code = ma.fields.String(required=True, metadata={"description": "Short code for the counter", "example": "K7MPQ3"})
    token = ma.fields.String(allow_none=True, metadata={"description": "For the QR code scanned at the counter"})
    status = ma.fields.String(required=True, metadata={"enum": list(BOOKING_STATUSES)})
    status_name = Label("meals", "status", required=True, metadata={"example": "已预订"})
    slot_id = ma.fields.Integer(required=True)
    site_id = ma.fields.Integer(required=True)
    site_name = ma.fields.String(required=True)
    day = ma.fields.Date(required=True)
    meal = ma.fields.String(required=True)
    meal_name = Label("meals", "meal", required=True)
    starts_at = Timestamp(required=True)
    mode = ma.fields.String(required=True, metadata={"enum": list(MODES)})
    mode_name = Label("meals", "mode", required=True, metadata={"example": "堂食"})
    quantity = ma.fields.Integer(required=True)
    set_meal_id = ma.fields.Integer(required=True)
    set_meal_name = ma.fields.String(required=True)
    diner_id = ma.fields.Integer(required=True)
    booked_by_id = ma.fields.Integer(required=True)
    booked_by_role = ma.fields.String(required=True, metadata={"enum": ["self", "family", "staff"]})
    booked_by_role_name = Label("meals", "booked_by_role", required=True)
    priority_rank = ma.fields.Integer(required=True)
    price = ma.fields.Nested(BookingPriceOut, required=True)
    diet_note = ma.fields.String(allow_none=True)
    created_at = Timestamp(required=True)
    promoted_at = Timestamp(allow_none=True)
    served_at = Timestamp(allow_none=True)
    cancelled_at = Timestamp(allow_none=True)
    cancel_reason = ma.fields.String(allow_none=True)


class MyBookingsArgs(PageArgs):
    upcoming = ma.fields.Boolean(load_default=False, metadata={"description": "Only today and later"})


class CancelIn(ma.Schema):
    reason = ma.fields.String(validate=validate.Length(min=1, max=200),
                              metadata={"description": "Required when staff cancel after the cut-off"})


class ServeIn(ma.Schema):
    code = ma.fields.String(validate=validate.Length(min=4, max=12), metadata={"example": "K7MPQ3"})
    token = ma.fields.String(validate=validate.Length(min=8, max=64))

    @ma.validates_schema
    def _one(self, data, **kwargs):
        if not data.get("code") and not data.get("token"):
            raise ma.ValidationError(Text("请提供取餐码或扫码所得的凭证", "Give the booking code or the scanned token"), "code")


class ManifestArgs(ma.Schema):
    day = ma.fields.Date(required=True, data_key="date")
    format = FORMAT


class SetMealCountOut(ma.Schema):
    set_meal_id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    tags = ma.fields.List(ma.fields.String(), required=True)
    tags_names = Labels("meals", "tags", required=True)
    dine_in = ma.fields.Integer(required=True)
    pickup = ma.fields.Integer(required=True)
    delivery = ma.fields.Integer(required=True)
    total = ma.fields.Integer(required=True)


class TotalsOut(ModesOut):
    all = ma.fields.Integer(required=True)


class DietOut(ma.Schema):
    note = ma.fields.String(required=True)
    portions = ma.fields.Integer(required=True)


class DeliveryStopOut(ma.Schema):
    stop = ma.fields.Integer(required=True)
    booking_id = ma.fields.Integer(required=True)
    code = ma.fields.String(required=True)
    diner = ma.fields.String(allow_none=True, metadata={"description": "Masked name"})
    phone = ma.fields.String(allow_none=True, metadata={
        "description": "The diner's phone, for the courier to call: in full for the site's operator (audited), "
                       "masked for others"})
    neighbourhood = ma.fields.String(allow_none=True)
    estate = ma.fields.String(allow_none=True)
    address = ma.fields.String(allow_none=True)
    set_meal = ma.fields.String(required=True)
    quantity = ma.fields.Integer(required=True)
    diet_note = ma.fields.String(allow_none=True)
    status = ma.fields.String(required=True)
    status_name = Label("meals", "status", required=True)


class ManifestSlotOut(ma.Schema):
    slot_id = ma.fields.Integer(required=True)
    meal = ma.fields.String(required=True)
    meal_name = Label("meals", "meal", required=True)
    starts_at = Timestamp(required=True)
    cutoff_at = Timestamp(required=True)
    final = ma.fields.Boolean(required=True, metadata={"description": "The cut-off has passed"})
    set_meals = ma.fields.List(ma.fields.Nested(SetMealCountOut), required=True)
    totals = ma.fields.Nested(TotalsOut, required=True)
    waitlisted = ma.fields.Integer(required=True)
    special_diets = ma.fields.List(ma.fields.Nested(DietOut), required=True)
    delivery = ma.fields.List(ma.fields.Nested(DeliveryStopOut), required=True)


class ManifestOut(ma.Schema):
    site = ma.fields.Nested(SiteOut, required=True)
    day = ma.fields.Date(required=True)
    slots = ma.fields.List(ma.fields.Nested(ManifestSlotOut), required=True)


class StatementArgs(ma.Schema):
    month = ma.fields.String(required=True, validate=validate.Regexp(r"^\d{4}-(0[1-9]|1[0-2])$"),
                             metadata={"example": "2026-11", "description": "YYYY-MM, from 2000-01 to 2099-12"})
    format = FORMAT


class StreetStatementArgs(StatementArgs):
    street_id = Id(required=True)


class StatementLineOut(ma.Schema):
    district_id = ma.fields.Integer(allow_none=True)
    district = ma.fields.String(allow_none=True, metadata={"description": "The paying district (diner's residence)"})
    tier = ma.fields.String(required=True)
    tier_name = Label("meals", "tier", required=True)
    statuses = ma.fields.List(ma.fields.String(), required=True)
    statuses_names = Labels("meals", "statuses", required=True)
    meals = ma.fields.Integer(required=True)
    list_total = Money(required=True)
    subsidy_total = Money(required=True)
    payable_total = Money(required=True)
    delivery_fees = Money(required=True)


class OperatorLineOut(ma.Schema):
    tier = ma.fields.String(required=True)
    tier_name = Label("meals", "tier", required=True)
    meals = ma.fields.Integer(required=True)
    amount = Money(required=True)


class StatementTotalsOut(ma.Schema):
    meals = ma.fields.Integer(required=True)
    diners = ma.fields.Integer(required=True)
    service_days = ma.fields.Integer(required=True)
    list_total = Money(required=True)
    subsidy_total = Money(required=True)
    payable_total = Money(required=True, metadata={"description": "What diners paid, delivery fees included"})
    delivery_fees = Money(required=True, metadata={"description": "The delivery fees in payable_total"})
    operator_subsidy_total = Money(required=True)


class StatementOut(ma.Schema):
    site = ma.fields.Nested(SiteOut, required=True)
    month = ma.fields.String(required=True)
    lines = ma.fields.List(ma.fields.Nested(StatementLineOut), required=True)
    operator_subsidy = ma.fields.List(ma.fields.Nested(OperatorLineOut), required=True)
    totals = ma.fields.Nested(StatementTotalsOut, required=True)


class StreetSiteOut(ma.Schema):
    site_id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    meals = ma.fields.Integer(required=True)
    diners = ma.fields.Integer(required=True)
    subsidy_total = Money(required=True)
    operator_subsidy_total = Money(required=True)
    payable_total = Money(required=True, metadata={"description": "What diners paid, delivery fees included"})
    delivery_fees = Money(required=True, metadata={"description": "The delivery fees in payable_total"})


class StreetTotalsOut(ma.Schema):
    meals = ma.fields.Integer(required=True)
    subsidy_total = Money(required=True)
    operator_subsidy_total = Money(required=True)
    payable_total = Money(required=True, metadata={"description": "What diners paid, delivery fees included"})
    delivery_fees = Money(required=True, metadata={"description": "The delivery fees in payable_total"})


class StreetStatementOut(ma.Schema):
    street_id = ma.fields.Integer(required=True)
    street = ma.fields.String(required=True)
    month = ma.fields.String(required=True)
    sites = ma.fields.List(ma.fields.Nested(StreetSiteOut), required=True)
    totals = ma.fields.Nested(StreetTotalsOut, required=True)


class CardIn(ma.Schema):
    low_income = ma.fields.Boolean()
    lives_alone = ma.fields.Boolean()
    disabled = ma.fields.Boolean()
    limited_mobility = ma.fields.Boolean()
    civility = ma.fields.Boolean()
    diet_note = ma.fields.String(allow_none=True, validate=validate.Length(min=1, max=100))


class CardOut(ma.Schema):
    user_id = ma.fields.Integer(required=True)
    card_no = ma.fields.String(required=True)
    low_income = ma.fields.Boolean(required=True)
    lives_alone = ma.fields.Boolean(required=True)
    disabled = ma.fields.Boolean(required=True)
    limited_mobility = ma.fields.Boolean(required=True)
    civility = ma.fields.Boolean(required=True)
    diet_note = ma.fields.String(allow_none=True)
    verified_at = Timestamp(allow_none=True)


assert set(STATUS_FLAGS) <= set(CardIn._declared_fields)
