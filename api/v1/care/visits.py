"""Elder care: Pairings, visit plans, due visits and visits to elders."""
from __future__ import annotations

from flask.views import MethodView

from api.docs import errors
from api.errors import language
from api.extensions import Blueprint
from api.responses import answer
from api.schemas.care.visits import (CursorArgs, DueArgs, DuePageOut, MyDueArgs, MyElderPageOut, PairingIn,
                                     PairingOut, PlanIn, PlanOut, VisitIn, VisitOut, VisitPageOut, VisitRateArgs,
                                     VisitRateOut, WeatherWarningIn, WeatherWarningOut)
from api.schemas.common import id_in_path, page_of, paged
from api.security import auth_required, current_actor
from service.care import visits

blp = Blueprint("care_visits", __name__, url_prefix="/api/v1",
                description="Pairings, visit plans, due visits and visits to elders")

EID, PID, PLID = id_in_path("elder_id"), id_in_path("pairing_id"), id_in_path("plan_id")
PAIRING = {"id": 3, "elder_id": 12, "visitor_user_id": 40, "role": "partner", "starts_on": "2026-12-07",
           "ends_on": None}
PLAN = {"id": 5, "elder_id": 12, "role": "partner", "rrule": "FREQ=WEEKLY;BYDAY=MO,TH", "window_days": 3,
        "starts_on": "2026-12-07", "ends_on": None, "reason": "staff", "generated_until": "2026-12-21"}
VISIT = {"id": 21, "elder_id": 12, "visitor_user_id": 40, "visitor_name": "张阿姨", "role": "partner",
         "at": "2026-12-07T10:00:00+08:00", "channel": "door", "outcome": "well", "notes": "精神不错，暖气正常",
         "finding": None, "case_id": None, "due_id": 88, "recorded_by": 40,
         "recorded_at": "2026-12-07T10:05:00+08:00"}
DUE = {"id": 88, "elder_id": 12, "plan_id": 5, "role": "partner", "earliest_at": "2026-12-07T00:00:00+08:00",
       "latest_at": "2026-12-10T00:00:00+08:00", "state": "due", "name": "王秀英", "address": "香泉苑1号楼302室",
       "phone": "13800001234"}


@blp.route(f"/care/elders/{EID}/pairings")
class Pairings(MethodView):
    @blp.arguments(PairingIn)
    @blp.response(201, PairingOut, example=PAIRING)
    @errors(blp, 401, 403, 404, 409, 422)
    @auth_required("staff", "admin")
    def post(self, data, elder_id):
        """Pair a visitor with an elder (老伙伴 at most 1 : 5, aged 50–75 by a verified birth date)"""
        actor = current_actor()
        pairing = visits.create_pairing(actor, elder_id, data)
        return answer(visits.pairing_detail, actor, pairing.id, language())


@blp.route(f"/care/pairings/{PID}/end")
class PairingEnd(MethodView):
    @blp.response(200, PairingOut, example={**PAIRING, "ends_on": "2026-12-20"})
    @errors(blp, 401, 403, 404, 409)
    @auth_required("staff", "admin")
    def post(self, pairing_id):
        """End a pairing today"""
        actor = current_actor()
        pairing = visits.end_pairing(actor, pairing_id)
        return answer(visits.pairing_detail, actor, pairing.id, language())


@blp.route(f"/care/elders/{EID}/plans")
class Plans(MethodView):
    @blp.arguments(PlanIn)
    @blp.response(201, PlanOut, example=PLAN)
    @errors(blp, 401, 403, 404, 409, 422)
    @auth_required("staff", "admin")
    def post(self, data, elder_id):
        """Add a visit plan (an RRULE, at most daily); its due visits are written at once"""
        actor = current_actor()
        plan = visits.add_plan(actor, elder_id, data)
        return answer(visits.plan_detail, actor, plan.id, language())


@blp.route(f"/care/plans/{PLID}/end")
class PlanEnd(MethodView):
    @blp.response(200, PlanOut, example={**PLAN, "ends_on": "2026-12-20"})
    @errors(blp, 401, 403, 404, 409)
    @auth_required("staff", "admin")
    def post(self, plan_id):
        """End a plan today (its due visits not yet open are cancelled)"""
        actor = current_actor()
        plan = visits.end_plan(actor, plan_id)
        return answer(visits.plan_detail, actor, plan.id, language())


@blp.route("/care/weather-warnings")
class WeatherWarnings(MethodView):
    @blp.arguments(WeatherWarningIn)
    @blp.response(201, WeatherWarningOut, example={"kind": "cold", "day": "2026-12-08", "neighbourhood_ids": [1],
                                                   "added": 212})
    @errors(blp, 401, 403, 422)
    @auth_required("staff", "admin")
    def post(self, data):
        """A cold or heat warning: one extra 老伙伴 contact due that day for every elder in my scope"""
        return visits.weather_warning(current_actor(), data)


@blp.route(f"/care/elders/{EID}/visits")
class ElderVisits(MethodView):
    @blp.arguments(VisitIn)
    @blp.response(201, VisitOut, example=VISIT)
    @errors(blp, 401, 403, 404, 409, 422)
    @auth_required()
    def post(self, data, elder_id):
        """Record a visit or call (the paired visitor, or staff in scope, also for a volunteer without the app)"""
        actor = current_actor()
        visit = visits.record_visit(actor, elder_id, data)
        return answer(visits.visit_detail, actor, visit.id, language())

    @blp.arguments(CursorArgs, location="query")
    @blp.response(200, VisitPageOut, example={"items": [VISIT], "next_cursor": None})
    @errors(blp, 401, 403, 404, 422)
    @auth_required()
    def get(self, args, elder_id):
        """An elder's visits, newest first: staff see every note (audited); a visitor only their own notes"""
        return visits.elder_visits(current_actor(), elder_id, cursor=args.get("cursor"), limit=args["limit"],
                                   lang=language())


@blp.route("/care/visits/due")
class DueVisits(MethodView):
    @blp.arguments(DueArgs, location="query")
    @blp.response(200, DuePageOut, example={"items": [{**DUE, "neighbourhood_id": 1, "reminded_at": None,
                                                       "escalated_at": None}], "next_cursor": None})
    @errors(blp, 401, 403, 422)
    @auth_required("staff", "admin")
    def get(self, args):
        """Due, overdue or upcoming visits of the elders in my scope, those closing first first"""
        return visits.due_for_staff(current_actor(), state=args["state"], neighbourhood_id=args.get("neighbourhood_id"),
                                    role=args.get("role"), cursor=args.get("cursor"), limit=args["limit"],
                                    lang=language())


@blp.route("/me/care/visits/due")
class MyDueVisits(MethodView):
    @blp.arguments(MyDueArgs, location="query")
    @blp.response(200, DuePageOut, example={"items": [DUE], "next_cursor": None})
    @errors(blp, 401, 422)
    @auth_required()
    def get(self, args):
        """My due visits: the elders I am paired with"""
        return visits.due_for_visitor(current_actor(), state=args["state"], cursor=args.get("cursor"),
                                      limit=args["limit"], lang=language())


@blp.route("/me/care/elders")
class MyElders(MethodView):
    @blp.arguments(CursorArgs, location="query")
    @blp.response(200, MyElderPageOut, example={"items": [{
        "elder_id": 12, "pairing_id": 3, "name": "王秀英", "address": "香泉苑1号楼302室", "phone": "13800001234",
        "role": "partner", "starts_on": "2026-12-07"}], "next_cursor": None})
    @errors(blp, 401, 422)
    @auth_required()
    def get(self, args):
        """The elders I visit: name, address and phone only"""
        return visits.my_elders(current_actor(), cursor=args.get("cursor"), limit=args["limit"], lang=language())


@blp.route("/care/visit-rate")
class VisitRate(MethodView):
    @blp.arguments(VisitRateArgs, location="query")
    @blp.response(200, page_of(VisitRateOut), example={"items": [{
        "neighbourhood_id": 1, "name": "香泉路居委会", "month": "2026-11", "expected": 9, "done": 7, "missed": 2, "open": 0,
        "rate": "7/9", "percent": "77.78%"}], "page": 1, "page_size": 20, "total": 1})
    @errors(blp, 401, 403, 422)
    @auth_required("staff", "admin")
    def get(self, args):
        """The monthly visit rate per 居委会 in my scope: expected, done, missed = expected − done

        Expected: the month's due visits whose window has closed by now, or that are done already; the rest
        of the current month is `open` (neither expected nor missed yet).
        """
        items, total = visits.visit_rate(current_actor(), month=args["month"], role=args.get("role"),
                                         page=args["page"], page_size=args["page_size"], lang=language())
        return paged(items, total, args)

