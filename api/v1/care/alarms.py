"""Elder care: Alarms about elders and their ladder. Staff in scope, a paired visitor or a family member takes an
alarm (its ladder pauses), marks arrival at the door, and the taker or staff resolve it."""
from __future__ import annotations

from flask.views import MethodView

from api.docs import errors
from api.errors import language
from api.extensions import Blueprint
from api.responses import answer
from api.schemas.care.alarms import AlarmDetailOut, AlarmListArgs, AlarmPageOut, AlarmResolveIn, MyAlarmsArgs
from api.schemas.common import id_in_path
from api.security import auth_required, current_actor
from service.care import alarm_queries, alarms

blp = Blueprint("care_alarms", __name__, url_prefix="/api/v1", description="Alarms about elders and their ladder")

AID = id_in_path("alarm_id")
SUMMARY = {"id": 31, "elder_id": 7, "elder_name": "李秀英", "neighbourhood_id": 3, "source": "no_activity",
           "rule": "no_water_12h", "severity": "urgent", "state": "notifying", "step": 2,
           "next_at": "2026-12-07T10:00:00+08:00", "opened_at": "2026-12-07T09:00:00+08:00", "taken_at": None,
           "taken_by_me": False, "resolved_at": None, "outcome": None}
STEP = {"n": 1, "target": "elder", "channel": "phone", "due_at": "2026-12-07T09:00:00+08:00",
        "at": "2026-12-07T09:00:01+08:00", "recipients": 3, "result": "sent"}
DETAIL = {**SUMMARY, "standing": "staff", "reference": None, "elder": {
    "id": 7, "name": "李秀英", "phone": "13900001234", "address": "香泉苑1号楼101室"}, "taken_by": None,
    "on_site_at": None, "resolved_by": None, "note": None, "steps": [STEP], "history": [],
    "allowed_actions": ["take", "resolve"]}


@blp.route("/care/alarms")
class Alarms(MethodView):
    @blp.arguments(AlarmListArgs, location="query")
    @blp.response(200, AlarmPageOut, example={"items": [SUMMARY], "next_cursor": None})
    @errors(blp, 401, 403, 422)
    @auth_required("staff", "admin")
    def get(self, args):
        """Alarms of the elders in my neighbourhoods: live first, then resolved, newest first (an audited view)"""
        items, next_cursor = alarm_queries.staff_list(current_actor(), state=args.get("state"),
                                                      severity=args.get("severity"), cursor=args.get("cursor"),
                                                      limit=args["limit"])
        return {"items": items, "next_cursor": next_cursor}


@blp.route("/me/care/alarms")
class MyAlarms(MethodView):
    @blp.arguments(MyAlarmsArgs, location="query")
    @blp.response(200, AlarmPageOut, example={"items": [SUMMARY], "next_cursor": None})
    @errors(blp, 401, 422)
    @auth_required()
    def get(self, args):
        """Alarms of the elders I am family to or visit: live first, then resolved, newest first"""
        items, next_cursor = alarm_queries.mine(current_actor(), cursor=args.get("cursor"), limit=args["limit"])
        return {"items": items, "next_cursor": next_cursor}


@blp.route(f"/care/alarms/{AID}")
class AlarmItem(MethodView):
    @blp.response(200, AlarmDetailOut, example=DETAIL)
    @errors(blp, 401, 403, 404)
    @auth_required()
    def get(self, alarm_id):
        """One alarm: its ladder's steps, who took it, what I may do (staff views are audited)"""
        return alarm_queries.detail(current_actor(), alarm_id, language())


@blp.route(f"/care/alarms/{AID}/take")
class Take(MethodView):
    @blp.response(200, AlarmDetailOut, example={**DETAIL, "state": "taken", "taken_by_me": True})
    @errors(blp, 401, 403, 404, 409)
    @auth_required()
    def post(self, alarm_id):
        """Take the alarm (staff in scope, a paired visitor, family): its ladder pauses; one of two at once wins

        Neither on site nor resolved within `taken_timeout_minutes` (config/rules/care.yaml), it is taken back
        and climbs on."""
        actor = current_actor()
        alarm = alarms.take(actor, alarm_id)
        return answer(alarm_queries.detail, actor, alarm.id, language(), audited=False)


@blp.route(f"/care/alarms/{AID}/on-site")
class OnSite(MethodView):
    @blp.response(200, AlarmDetailOut, example={**DETAIL, "state": "on_site", "taken_by_me": True})
    @errors(blp, 401, 403, 404, 409)
    @auth_required()
    def post(self, alarm_id):
        """I am at the elder's door (whoever took it, or staff in scope)"""
        actor = current_actor()
        alarm = alarms.on_site(actor, alarm_id)
        return answer(alarm_queries.detail, actor, alarm.id, language(), audited=False)


@blp.route(f"/care/alarms/{AID}/resolve")
class Resolve(MethodView):
    @blp.arguments(AlarmResolveIn)
    @blp.response(200, AlarmDetailOut, example={**DETAIL, "state": "resolved", "outcome": "elder_well"})
    @errors(blp, 401, 403, 404, 409, 422)
    @auth_required()
    def post(self, data, alarm_id):
        """Close the alarm with its outcome (whoever took it, or staff in scope); some need a visit record"""
        actor = current_actor()
        alarm = alarms.resolve(actor, alarm_id, outcome=data["outcome"], note=data.get("note"),
                               visit_id=data.get("visit_id"))
        return answer(alarm_queries.detail, actor, alarm.id, language(), audited=False)
