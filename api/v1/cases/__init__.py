"""Cases: the resident's reports and the staff's queue and actions."""
from __future__ import annotations

from flask.views import MethodView

from api.docs import errors
from api.errors import language
from api.extensions import Blueprint
from api.schemas.cases import (ActionIn, CaseIn, CaseOut, CaseSummaryOut, CategoriesOut, FollowOut, MyCasesArgs,
                               MyCasesOut, NearbyArgs, NearbyOut, QueueArgs, QueueOut, RatingIn, ReasonIn, WithdrawIn)
from api.schemas.common import id_in_path
from api.responses import answer, json_response
from api.security import auth_required, current_actor
from service.cases import queries, rules, workflow

blp = Blueprint("cases", __name__, url_prefix="/api/v1", description="Resident reports and their handling (12345-style)")

ID = id_in_path("case_id")
DEADLINES = {"contact_due_at": "2026-11-23T23:59:59+08:00", "handle_due_at": "2026-11-27T23:59:59+08:00",
             "rework_due_at": None, "visit_due_at": None, "due_at": "2026-11-23T23:59:59+08:00",
             "provisional": False, "overdue": False}
SUMMARY = {"id": 42, "number": "WL20261121-0042", "category": "corridor_clutter", "category_name": "楼道堆物",
           "status": "dispatched", "description": "3号楼2单元楼道堆满纸箱，影响通行", "address": "香泉路88弄3号",
           "lat": 31.2702, "lng": 121.4101, "street_id": 1, "neighbourhood_id": 10,
           "received_at": "2026-11-21T02:15:00+00:00", "deadlines": DEADLINES, "outcome": None, "rating": None,
           "assignee_id": None, "escalation_level": 0}
NEXT_CURSOR = "WyIyMDI2LTExLTIzVDE1OjU5OjU5KzAwOjAwIiw0Ml0.Yk3xQv8PzL1aT0cW"
DETAIL = {**SUMMARY, "reply": None, "photos": [{"id": 7, "url": "/api/v1/uploads/7", "purpose": "report"}],
          "timeline": [{"id": 1, "at": "2026-11-21T02:15:00+00:00", "action": "submit", "from_status": None,
                        "to_status": "submitted", "note": None, "public": True, "actor_role": "resident"}],
          "reporter": {"name": "王**", "phone": "138****5678", "masked": True}, "anonymous": False, "followers": 1,
          "following": True, "allowed_actions": ["withdraw"], "mine": True, "merged_into_id": None,
          "visit_result": None, "attributes": {}}


@blp.route("/case-categories")
class Categories(MethodView):
    @blp.response(200, CategoriesOut, example={"items": [{
        "code": "corridor_clutter", "name": "楼道堆物", "name_en": "Clutter in stairwells", "kind": "投诉",
        "group": "事件/市容环境", "public": True, "attributes": [],
        "limits": {"first_contact": 1, "handling": 5, "rehandling": 3, "complex": 15, "visit": 1}}]})
    def get(self):
        """Case categories with their time limits (working days)"""
        lang = language()
        return {"items": [{"code": c.code, "name": c.name(lang), "name_en": c.en, "kind": c.kind, "group": c.grid,
                           "public": c.public, "limits": c.limits,
                           "attributes": [{"code": a.code, "name": a.en if lang == "en" else a.zh,
                                           "datatype": a.datatype, "required": a.required} for a in c.attributes]}
                          for c in rules.categories()]}


@blp.route("/cases/nearby")
class Nearby(MethodView):
    @blp.arguments(NearbyArgs, location="query")
    @blp.response(200, NearbyOut, example={"items": [{**SUMMARY, "distance_m": 86}]})
    @errors(blp, 401)
    @auth_required()
    def get(self, args):
        """Open cases of a category reported nearby

        Within 250 m in the last 30 days (policy in config/rules/cases.yaml), so
        the resident can follow one instead of reporting a duplicate.
        """
        return {"items": queries.nearby(lat=args["lat"], lng=args["lng"], datum=args["datum"],
                                        category_code=args["category"])}


@blp.route("/cases")
class Cases(MethodView):
    @blp.arguments(CaseIn)
    @blp.response(201, CaseOut, example=DETAIL)
    @errors(blp, 401, 409, 429)
    @auth_required()
    def post(self, data):
        """Report a case

        Routed to the 居委会 of the location and dispatched with its deadlines;
        the answer carries the human case number.
        """
        # A hot path: the use-case answers with the case as its reporter now sees it (workflow.report).
        return workflow.report(current_actor(), category_code=data["category"], description=data["description"],
                               location=data.get("location"), address=data.get("address"),
                               photo_ids=data["photos"], anonymous=data["anonymous"],
                               contact_consent=data["contact_consent"], attributes=data["attributes"],
                               lang=language())

    @blp.arguments(QueueArgs, location="query")
    @blp.response(200, QueueOut, example={"items": [SUMMARY], "next_cursor": NEXT_CURSOR})
    @errors(blp, 401, 403)
    @auth_required("staff", "admin")
    def get(self, args):
        """The staff queue

        Cases in my scope, nearest deadline first, with cursor pagination:
        pass `next_cursor` back as `cursor`. Only cursors this server issued
        are accepted (any other is 422 `cases.cursor_invalid`).
        """
        items, cursor = queries.staff_queue(current_actor(), **args)
        lang = language()
        # The queue is the staff's hottest read: its items are sent as built (same shape as
        # QueueOut, which documents them) instead of re-dumped.
        return json_response({"items": [queries.summary(c, lang) for c in items], "next_cursor": cursor})


@blp.route("/me/cases")
class MyCases(MethodView):
    @blp.arguments(MyCasesArgs, location="query")
    @blp.response(200, MyCasesOut, example={"items": [SUMMARY], "next_cursor": None, "total": 1})
    @errors(blp, 401, 422)
    @auth_required()
    def get(self, args):
        """Cases I reported or follow

        Newest first, with cursor pagination: pass `next_cursor` back as
        `cursor` (null on the last page). `total` counts them all.
        """
        items, cursor, total = queries.my_cases(current_actor(), **args)
        lang = language()
        # Built as the queue's items are, and sent as built (MyCasesOut documents them).
        return json_response({"items": [queries.summary(c, lang) for c in items], "next_cursor": cursor,
                              "total": total})


@blp.route(f"/cases/{ID}")
class CaseItem(MethodView):
    @blp.response(200, CaseOut, example=DETAIL)
    @errors(blp, 401, 404)
    @auth_required()
    def get(self, case_id):
        """One case with its timeline

        The reporter sees public events and replies; staff handling it see every
        event and the reporter's contact details (that view is audited).
        """
        return queries.case_detail(current_actor(), case_id, language())


@blp.route(f"/cases/{ID}/actions")
class CaseActions(MethodView):
    @blp.arguments(ActionIn)
    @blp.response(200, CaseOut, example={**DETAIL, "status": "accepted", "allowed_actions": ["contact", "start"]})
    @errors(blp, 401, 403, 404, 409, 429)
    @auth_required("staff", "admin")
    def post(self, data, case_id):
        """Act on a case (staff)

        An explicit state machine; an action not allowed in the current state
        answers 409 with the allowed actions. Every action is an event.
        """
        actor = current_actor()
        action = data.pop("action")
        case = workflow.act(actor, case_id, action, data)
        return answer(queries.case_detail, actor, case.id, language())


@blp.route(f"/cases/{ID}/follow")
class Follow(MethodView):
    @blp.response(200, FollowOut, example={"following": True})
    @errors(blp, 401, 404, 429)
    @auth_required()
    def post(self, case_id):
        """Follow a case (get its updates)"""
        workflow.follow(current_actor(), case_id, on=True)
        return {"following": True}

    @blp.response(200, FollowOut, example={"following": False})
    @errors(blp, 401, 404, 409, 429)
    @auth_required()
    def delete(self, case_id):
        """Stop following a case"""
        workflow.follow(current_actor(), case_id, on=False)
        return {"following": False}


@blp.route(f"/cases/{ID}/rating")
class Rating(MethodView):
    @blp.arguments(RatingIn)
    @blp.response(201, CaseOut, example={**DETAIL, "status": "closed", "rating": 5})
    @errors(blp, 401, 403, 404, 409, 429)
    @auth_required()
    def post(self, data, case_id):
        """Rate my closed case (once)

        Five levels: 5 非常满意, 4 满意, 3 基本满意, 2 不满意, 1 非常不满意.
        Only the reporter rates: anyone else who can read the case gets 403
        `cases.reporter_only`.
        """
        actor = current_actor()
        case = workflow.rate(actor, case_id, data["score"], data.get("comment"))
        return answer(queries.case_detail, actor, case.id, language())


@blp.route(f"/cases/{ID}/reopen")
class Reopen(MethodView):
    @blp.arguments(ReasonIn)
    @blp.response(200, CaseOut, example={**DETAIL, "status": "reopened"})
    @errors(blp, 401, 403, 404, 409, 429)
    @auth_required()
    def post(self, data, case_id):
        """Reopen my closed case when dissatisfied (within 7 days)

        Starts the re-handling clock (3 working days by default).
        """
        actor = current_actor()
        case = workflow.reopen_by_reporter(actor, case_id, data["reason"])
        return answer(queries.case_detail, actor, case.id, language())


@blp.route(f"/cases/{ID}/withdraw")
class Withdraw(MethodView):
    @blp.arguments(WithdrawIn)
    @blp.response(200, CaseOut, example={**DETAIL, "status": "withdrawn"})
    @errors(blp, 401, 403, 404, 409, 429)
    @auth_required()
    def post(self, data, case_id):
        """Withdraw my case before it is accepted"""
        actor = current_actor()
        case = workflow.withdraw(actor, case_id, data.get("reason"))
        return answer(queries.case_detail, actor, case.id, language())


# The domain's other blueprints: its metrics, the Open311 partner keys and Open311 GeoReport v2 itself.
from api.v1.cases import metrics, open311, open311_keys  # noqa: E402

BLUEPRINTS = (blp, metrics.blp, open311_keys.blp, open311.bp)
