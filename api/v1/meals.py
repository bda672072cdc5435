"""Elder meal service (老年助餐): sites, slots and menus, booking (also for an elder), the waitlist,
the counter, the kitchen manifest and the monthly subsidy statement."""
from __future__ import annotations

from flask.views import MethodView

from api.docs import errors
from api.errors import language
from api.extensions import Blueprint
from api.responses import answer, csv_response, json_response
from api.schemas.common import id_in_path, page_of, paged
from api.schemas.meals import (CSV_BODY, BookingIn, BookingOut, CancelIn, CardIn, CardOut, ManifestArgs, ManifestOut,
                               MyBookingsArgs, ServeIn, SiteOut, SitesArgs, SlotIn, SlotOut, SlotsArgs, SlotsOut,
                               StatementArgs, StatementOut, StreetStatementArgs, StreetStatementOut)
from api.security import auth_required, current_actor
from service.meals import queries, workflow

blp = Blueprint("meals", __name__, url_prefix="/api/v1",
                description="Elder meal service (老年助餐): sites, menus, booking, waitlist, counter, statements")

SITE_ID = id_in_path("site_id")
BOOKING_ID = id_in_path("booking_id")
USER_ID = id_in_path("user_id")

SITE = {"id": 1, "code": "WL-XQ-ZZ", "name": "香泉智助食堂", "kind": "smart_canteen", "street_id": 1,
        "neighbourhood_id": 3, "address": "香泉路88号 香泉片区党群服务中心", "phone": "021-00000000", "lat": 31.2703,
        "lng": 121.4086, "bookable": True, "open_to_public": True, "delivery_radius_m": 1500,
        "service_days": "1234567", "distance_m": 420}
PRICE = {"eligible": True, "ineligible_reason": None, "tier": "age80", "tier_amount": "4.00",
         "statuses": [{"code": "lives_alone", "name": "独居", "amount": "1.00"}], "unit_list_price": "15.00",
         "unit_subsidy": "5.00", "unit_payable": "10.00", "quantity": 1, "list_price": "15.00", "subsidy": "5.00",
         "delivery_fee": "0.00", "payable": "10.00", "statuses_withheld": False}
SET_MEAL = {"id": 11, "name": "两荤一素套餐", "elder_price": "15.00", "general_price": "22.00", "discount": False,
            "dishes": ["红烧鸡腿", "番茄炒蛋", "清炒青菜", "米饭"], "allergens": ["蛋"], "tags": ["low_salt", "soft"],
            "price": PRICE}
SLOT = {"id": 5, "site_id": 1, "day": "2026-11-23", "meal": "lunch", "starts_at": "2026-11-23T03:00:00+00:00",
        "ends_at": "2026-11-23T05:00:00+00:00", "opens_at": "2026-11-15T16:00:00+00:00",
        "cutoff_at": "2026-11-23T01:00:00+00:00", "booking_open": True,
        "capacity": {"dine_in": 60, "pickup": 20, "delivery": 20}, "remaining": {"dine_in": 12, "pickup": 4, "delivery": 2},
        "my_booking_id": None, "set_meals": [SET_MEAL]}
BOOKING = {"id": 101, "code": "K7MPQ3", "token": "q1w2e3r4t5y6u7i8o9p0aa", "status": "confirmed", "slot_id": 5,
           "site_id": 1, "site_name": "香泉智助食堂", "day": "2026-11-23", "meal": "lunch",
           "starts_at": "2026-11-23T03:00:00+00:00", "mode": "dine_in", "quantity": 1, "set_meal_id": 11,
           "set_meal_name": "两荤一素套餐", "diner_id": 42, "booked_by_id": 43, "booked_by_role": "family",
           "priority_rank": 1, "price": {k: v for k, v in PRICE.items() if k != "ineligible_reason"},
           "diet_note": "少盐", "created_at": "2026-11-21T02:00:00+00:00", "promoted_at": None, "served_at": None,
           "cancelled_at": None, "cancel_reason": None}
MANIFEST = {"site": SITE, "day": "2026-11-23", "slots": [{
    "slot_id": 5, "meal": "lunch", "starts_at": "2026-11-23T03:00:00+00:00", "cutoff_at": "2026-11-23T01:00:00+00:00",
    "final": True, "set_meals": [{"set_meal_id": 11, "name": "两荤一素套餐", "tags": ["low_salt"], "dine_in": 48,
                                  "pickup": 16, "delivery": 18, "total": 82}],
    "totals": {"dine_in": 48, "pickup": 16, "delivery": 18, "all": 82}, "waitlisted": 3,
    "special_diets": [{"note": "少盐", "portions": 6}],
    "delivery": [{"stop": 1, "booking_id": 101, "code": "K7MPQ3", "diner": "王**", "phone": "13812345678", "neighbourhood": "香泉路居民区",
                  "estate": "香泉苑", "address": "香泉苑1号楼101室", "set_meal": "两荤一素套餐", "quantity": 1,
                  "diet_note": "少盐", "status": "confirmed"}]}]}
STATEMENT = {"site": SITE, "month": "2026-11", "lines": [
    {"district_id": 1, "district": "普陀区", "tier": "age80", "tier_name": "80-89岁", "statuses": ["lives_alone"],
     "meals": 120, "list_total": "1800.00", "subsidy_total": "600.00", "payable_total": "1200.00",
     "delivery_fees": "0.00"}],
    "operator_subsidy": [{"tier": "op75", "meals": 120, "amount": "180.00"}],
    "totals": {"meals": 120, "diners": 9, "service_days": 20, "list_total": "1800.00", "subsidy_total": "600.00",
               "payable_total": "1200.00", "delivery_fees": "0.00", "operator_subsidy_total": "180.00"}}


@blp.route("/meal-sites")
class Sites(MethodView):
    @blp.arguments(SitesArgs, location="query")
    @blp.response(200, page_of(SiteOut), example={"items": [SITE], "page": 1, "page_size": 20, "total": 1})
    @errors(blp, 401, 422)
    @auth_required()
    def get(self, args):
        """Meal sites, nearest first

        With `lat` and `lng` (and `datum`, default gcj02) the sites come nearest first with `distance_m`.
        """
        items, total = queries.list_sites(lat=args.get("lat"), lng=args.get("lng"), datum=args["datum"],
                                          street_id=args.get("street_id"), bookable=args.get("bookable"),
                                          page=args["page"], page_size=args["page_size"])
        return paged(items, total, args)


@blp.route(f"/meal-sites/{SITE_ID}")
class SiteItem(MethodView):
    @blp.response(200, SiteOut, example=SITE)
    @errors(blp, 401, 404)
    @auth_required()
    def get(self, site_id):
        """One meal site"""
        return queries.site_detail(site_id)


@blp.route(f"/meal-sites/{SITE_ID}/slots")
class Slots(MethodView):
    @blp.arguments(SlotsArgs, location="query")
    @blp.response(200, SlotsOut, example={"site": SITE, "day": "2026-11-23", "diner_id": 42, "eligible": True,
                                          "ineligible_reason": None, "ineligible_message": None,
                                          "delivery_allowed": True, "priority": True, "items": [SLOT]})
    @errors(blp, 401, 403, 404, 422)
    @auth_required()
    def get(self, args, site_id):
        """A day's meals at a site

        Each slot with its menu, the seats left per mode, whether booking is open now, and the price
        the caller (or the elder given as `diner_id`, whom the caller may act for) would pay.
        """
        # A hot read: built JSON-ready and sent as it is (the same shape as SlotsOut, which documents it).
        return json_response(queries.slots(current_actor(), site_id, args["day"], args.get("diner_id"), language()))

    @blp.arguments(SlotIn, example={"day": "2026-11-23", "meal": "lunch",
                                    "capacity": {"dine_in": 60, "pickup": 20, "delivery": 20},
                                    "set_meals": [{"name": "两荤一素套餐", "elder_price": 15,
                                                   "general_price": 22.5, "dishes": ["红烧鸡腿", "清炒青菜"],
                                                   "tags": ["low_salt"]},
                                                  {"name": "特惠套餐", "elder_price": 8, "discount": True}]})
    @blp.response(201, SlotOut, example=SLOT)
    @errors(blp, 401, 403, 404, 409, 422, 429)
    @auth_required("operator", "staff", "admin")
    def post(self, data, site_id):
        """Publish a meal with its menu (operators)

        Capacities per mode; opening, cut-off and the priority reserve follow config/rules/meals.yaml.
        """
        actor = current_actor()
        slot = workflow.publish_slot(actor, site_id, day=data["day"], meal=data["meal"], capacity=data["capacity"],
                                     set_meals=data["set_meals"])
        return answer(queries.published_slot, actor, slot)


@blp.route("/meal-bookings")
class Bookings(MethodView):
    @blp.arguments(BookingIn, example={"slot_id": 5, "diner_id": 42, "mode": "dine_in", "set_meal_id": 11,
                                       "quantity": 1})
    @blp.response(201, BookingOut, example=BOOKING)
    @errors(blp, 401, 403, 404, 409, 422, 429)
    @auth_required()
    def post(self, data):
        """Book a meal (for myself or an elder I act for)

        The diner, a confirmed family member or staff in scope. Capacity is decided atomically; a full
        slot answers 409 `meals.slot_full` unless `join_waitlist` is true (then status `waitlisted`).
        """
        actor = current_actor()
        booking = workflow.book(actor, slot_id=data["slot_id"], diner_id=data.get("diner_id"), mode=data["mode"],
                                set_meal_id=data["set_meal_id"], quantity=data["quantity"],
                                join_waitlist=data["join_waitlist"], diet_note=data.get("diet_note"))
        return answer(queries.booking_answer, booking, actor)


@blp.route("/me/meal-bookings")
class MyBookings(MethodView):
    @blp.arguments(MyBookingsArgs, location="query")
    @blp.response(200, page_of(BookingOut), example={"items": [BOOKING], "page": 1, "page_size": 20, "total": 1})
    @errors(blp, 401, 422)
    @auth_required()
    def get(self, args):
        """My meal bookings and those I made for relatives"""
        items, total = queries.my_bookings(current_actor(), upcoming=args["upcoming"], page=args["page"],
                                           page_size=args["page_size"], lang=language())
        # Built as the schema dumps them (with labels and Shanghai times), and sent as built.
        return json_response(paged(items, total, args))


@blp.route(f"/meal-bookings/{BOOKING_ID}")
class BookingItem(MethodView):
    @blp.response(200, BookingOut, example=BOOKING)
    @errors(blp, 401, 404)
    @auth_required()
    def get(self, booking_id):
        """One booking"""
        return queries.booking_detail(current_actor(), booking_id)


@blp.route(f"/meal-bookings/{BOOKING_ID}/cancel")
class Cancel(MethodView):
    @blp.arguments(CancelIn, example={"reason": "住院"})
    @blp.response(200, BookingOut, example={**BOOKING, "status": "cancelled"})
    @errors(blp, 401, 404, 409, 422, 429)
    @auth_required()
    def post(self, data, booking_id):
        """Cancel a booking (free until the cut-off)

        After the cut-off only staff in scope may cancel, with a reason. A freed seat goes to the
        waitlist at once (priority first, then first come), and the promoted diner is notified.
        """
        actor = current_actor()
        booking = workflow.cancel(actor, booking_id, reason=data.get("reason"))
        return answer(queries.booking_answer, booking, actor)


@blp.route(f"/meal-bookings/{BOOKING_ID}/serve")
class ServeById(MethodView):
    @blp.response(200, BookingOut, example={**BOOKING, "status": "served", "served_at": "2026-11-23T03:20:00+00:00"})
    @errors(blp, 401, 404, 409, 429)
    @auth_required("operator", "staff", "admin")
    def post(self, booking_id):
        """Mark a booking served (staff tick)

        Once: a second time answers 409 `meals.already_served`.
        """
        actor = current_actor()
        booking = workflow.serve(actor, booking_id=booking_id)
        return answer(queries.booking_answer, booking, actor)


@blp.route(f"/meal-sites/{SITE_ID}/serve")
class ServeByCode(MethodView):
    @blp.arguments(ServeIn, example={"code": "K7MPQ3"})
    @blp.response(200, BookingOut, example={**BOOKING, "status": "served", "served_at": "2026-11-23T03:20:00+00:00"})
    @errors(blp, 401, 404, 409, 422, 429)
    @auth_required("operator", "staff", "admin")
    def post(self, data, site_id):
        """Serve at the counter by booking code or scanned token

        Once: a second scan answers 409 `meals.already_served` ("已取餐").
        """
        actor = current_actor()
        booking = workflow.serve(actor, site_id=site_id, code=data.get("code"), token=data.get("token"))
        return answer(queries.booking_answer, booking, actor)


@blp.route(f"/meal-sites/{SITE_ID}/manifest")
class Manifest(MethodView):
    @blp.arguments(ManifestArgs, location="query")
    @blp.response(200, ManifestOut, example=MANIFEST)
    @blp.alt_response(200, schema=CSV_BODY, content_type="text/csv", success=True,
                      example="\ufeffdate,meal,section,set_meal,dine_in,pickup,delivery,total,…\r\n",
                      description="With `format=csv`: the manifest for the kitchen (UTF-8 with a BOM)")
    @errors(blp, 401, 403, 404, 422)
    @auth_required("operator", "staff", "admin")
    def get(self, args, site_id):
        """The kitchen manifest of a day

        Per slot: portions per set meal and mode, special diets, and the delivery list in route order
        by neighbourhood and address, names masked; the diner's phone is given in full to the site's
        operator, whose courier calls at the door (the view is audited), and masked to staff. JSON, or
        CSV with `format=csv`.
        """
        data = queries.manifest(current_actor(), site_id, args["day"])
        if args["format"] == "csv":
            return csv_response(queries.manifest_csv(data, language()), f"manifest-{site_id}-{args['day']:%Y%m%d}.csv")
        return data


@blp.route(f"/meal-sites/{SITE_ID}/statement")
class Statement(MethodView):
    @blp.arguments(StatementArgs, location="query")
    @blp.response(200, StatementOut, example=STATEMENT)
    @blp.alt_response(200, schema=CSV_BODY, content_type="text/csv", success=True,
                      example="\ufeffsite,month,district,tier,statuses,meals,…\r\n",
                      description="With `format=csv`: the statement as CSV (UTF-8 with a BOM)")
    @errors(blp, 401, 403, 404, 422)
    @auth_required("operator", "staff", "admin")
    def get(self, args, site_id):
        """The monthly subsidy statement of a site

        Meals served (only served meals accrue a subsidy) per paying district, age tier and status,
        with the diner-side subsidy and the operator subsidy, in exact amounts.
        """
        data = queries.statement(current_actor(), site_id, args["month"])
        if args["format"] == "csv":
            return csv_response(queries.statement_csv(data, language()), f"statement-{site_id}-{args['month']}.csv")
        return data


@blp.route("/meal-statements")
class StreetStatement(MethodView):
    @blp.arguments(StreetStatementArgs, location="query")
    @blp.response(200, StreetStatementOut, example={
        "street_id": 1, "street": "万里街道", "month": "2026-11",
        "sites": [{"site_id": 1, "name": "香泉智助食堂", "meals": 120, "diners": 9, "subsidy_total": "600.00",
                   "operator_subsidy_total": "180.00", "payable_total": "1200.00", "delivery_fees": "0.00"}],
        "totals": {"meals": 120, "subsidy_total": "600.00", "operator_subsidy_total": "180.00",
                   "payable_total": "1200.00", "delivery_fees": "0.00"}})
    @blp.alt_response(200, schema=CSV_BODY, content_type="text/csv", success=True,
                      example="\ufeffstreet,month,site,meals,diners,…\r\n",
                      description="With `format=csv`: the roll-up as CSV (UTF-8 with a BOM)")
    @errors(blp, 401, 403, 404, 422)
    @auth_required("staff", "admin")
    def get(self, args):
        """The street roll-up of the monthly statements (street staff and admins)"""
        data = queries.street_statement(current_actor(), args["street_id"], args["month"])
        if args["format"] == "csv":
            return csv_response(queries.street_statement_csv(data, language()),
                                f"statement-street-{args['street_id']}-{args['month']}.csv")
        return data


@blp.route(f"/meal-cards/{USER_ID}")
class Card(MethodView):
    @blp.response(200, CardOut, example={"user_id": 42, "card_no": "C20261121001", "low_income": False,
                                         "lives_alone": True, "disabled": False, "limited_mobility": False,
                                         "civility": False, "diet_note": "少盐", "verified_at": None})
    @errors(blp, 401, 404)
    @auth_required()
    def get(self, user_id):
        """A resident's meal card (the resident, a confirmed relative or staff in scope)"""
        return queries.card(current_actor(), user_id)

    @blp.arguments(CardIn, example={"lives_alone": True, "diet_note": "少盐"})
    @blp.response(200, CardOut, example={"user_id": 42, "card_no": "C20261121001", "low_income": False,
                                         "lives_alone": True, "disabled": False, "limited_mobility": False,
                                         "civility": False, "diet_note": "少盐",
                                         "verified_at": "2026-11-21T02:00:00+00:00"})
    @errors(blp, 401, 403, 404, 422, 429)
    @auth_required("staff", "admin")
    def put(self, data, user_id):
        """Issue a meal card or record verified statuses (居委会 staff; audited)

        低保/困难, 独居, 残疾/失能, 行动不便 and 文明守约 are set by staff who checked the documents,
        never self-declared.
        """
        card = workflow.set_card(current_actor(), user_id, data)
        return answer(queries.card_out, card)


BLUEPRINTS = (blp,)
