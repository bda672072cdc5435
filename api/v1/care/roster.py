"""Elder care: the roster of elders living alone and their 民生档案."""
from __future__ import annotations

from flask.views import MethodView

from api.docs import errors
from api.extensions import Blueprint
from api.responses import answer
from api.schemas.care.roster import (AwayIn, ElderIn, ElderOut, ElderPatchIn, ElderSummaryOut, EndIn, FileArgs, FileIn,
                                     FileOut, RosterArgs)
from api.schemas.common import id_in_path, page_of, paged
from api.security import auth_required, current_actor
from service.care import queries, workflow

blp = Blueprint("care_roster", __name__, url_prefix="/api/v1",
                description="The roster of elders living alone and their 民生档案 (独居老人关爱)")

EID = id_in_path("elder_id")
SUMMARY = {"id": 7, "user_id": 120, "name": "李秀英", "phone": "139****0012", "neighbourhood_id": 10,
           "neighbourhood_name": "香泉路居民区", "living": "alone", "risk_tier": 1, "status": "active", "away": False,
           "away_reason": None, "away_until": None}
DETAIL = {"id": 7, "standing": "staff", "name": "李秀英", "phone": "13900000012", "address": "香泉路88弄3号201室",
          "living": "alone", "status": "active", "away": False, "away_from": None, "away_until": None,
          "away_reason": None, "devices": [{"id": 3, "kind": "smoke", "room": "厨房",
                                            "last_seen_at": "2026-12-07T09:00:00+08:00", "needs_maintenance": False}],
          "contacts": [{"position": 1, "name": "李明", "relation": "child", "phone": "13800000001", "user_id": None}],
          "consent": True, "user_id": 120, "neighbourhood_id": 10, "risk_tier": 1, "verified_on": "home_visit",
          "verified_at": "2026-12-01T10:00:00+08:00", "verified_by": 5, "ended_at": None, "end_reason": None,
          "visitors": [{"pairing_id": 4, "user_id": 130, "name": "王阿姨", "role": "partner", "starts_on": "2026-12-01"}],
          "file_version": 2}
FILE = {"elder_id": 7, "version": 2, "household": [{"name": "李秀英", "relation": "self", "lives_in": True}],
        "benefits": ["高龄津贴"], "housing": "老公房六楼，无电梯", "needs": "助餐送餐；冬季取暖",
        "health": "高血压，每日服药", "written_by": 5, "written_by_name": "张主任",
        "written_at": "2026-12-01T10:00:00+08:00", "visit_id": None,
        "versions": [{"version": 2, "written_at": "2026-12-01T10:00:00+08:00", "written_by": 5}]}


@blp.route("/care/elders")
class Elders(MethodView):
    @blp.arguments(RosterArgs, location="query")
    @blp.response(200, page_of(ElderSummaryOut), example={"items": [SUMMARY], "page": 1, "page_size": 20, "total": 1})
    @errors(blp, 401, 403)
    @auth_required("staff", "admin")
    def get(self, args):
        """The roster where I work, highest risk first (phones masked)"""
        items, total = queries.roster(current_actor(), neighbourhood_id=args.get("neighbourhood_id"),
                                      living=args.get("living"), risk_tier=args.get("risk_tier"),
                                      status=args["status"], away=args.get("away"), page=args["page"],
                                      page_size=args["page_size"])
        return paged(items, total, args)

    @blp.arguments(ElderIn)
    @blp.response(201, ElderOut, example=DETAIL)
    @errors(blp, 401, 403, 409, 422, 429)
    @auth_required("staff", "admin")
    def post(self, data):
        """Put an elder on the roster (staff verify how they live; never self-declared)

        Give `user_id` for a resident with an account (their residence verified in my neighbourhood), or
        `person` for an elder without one: the account is made, with the residence I verify now. The default
        visit plans start the same day.
        """
        actor = current_actor()
        elder = workflow.add_elder(actor, data)
        return answer(queries.elder_detail, actor, elder.id)


@blp.route(f"/care/elders/{EID}")
class ElderItem(MethodView):
    @blp.response(200, ElderOut, example=DETAIL)
    @errors(blp, 401, 403, 404)
    @auth_required()
    def get(self, elder_id):
        """One elder, as I may see them (staff views are audited)"""
        return queries.elder_detail(current_actor(), elder_id)

    @blp.arguments(ElderPatchIn)
    @blp.response(200, ElderOut, example=DETAIL)
    @errors(blp, 401, 403, 404, 409, 422, 429)
    @auth_required("staff", "admin")
    def patch(self, data, elder_id):
        """Change how the elder lives, their risk tier or their emergency contacts"""
        actor = current_actor()
        elder = workflow.update_elder(actor, elder_id, data)
        return answer(queries.elder_detail, actor, elder.id)


@blp.route(f"/care/elders/{EID}/away")
class Away(MethodView):
    @blp.arguments(AwayIn)
    @blp.response(200, ElderOut, example={**DETAIL, "away": True, "away_reason": "hospital",
                                          "away_from": "2026-12-07T10:00:00+08:00",
                                          "away_until": "2026-12-14T10:00:00+08:00"})
    @errors(blp, 401, 403, 404, 409, 422, 429)
    @auth_required()
    def put(self, data, elder_id):
        """Record that the elder is away (hospital, staying with family): no-activity alarms pause

        Staff covering the elder, or the elder's confirmed family. Smoke, gas and SOS alarms do not pause.
        Due visits wholly inside the absence are cancelled.
        """
        actor = current_actor()
        elder = workflow.set_away(actor, elder_id, data)
        return answer(queries.elder_detail, actor, elder.id)

    @blp.response(200, ElderOut, example=DETAIL)
    @errors(blp, 401, 403, 404, 409, 429)
    @auth_required()
    def delete(self, elder_id):
        """The elder is back"""
        actor = current_actor()
        elder = workflow.clear_away(actor, elder_id)
        return answer(queries.elder_detail, actor, elder.id)


@blp.route(f"/care/elders/{EID}/end")
class End(MethodView):
    @blp.arguments(EndIn)
    @blp.response(200, ElderOut, example={**DETAIL, "status": "ended", "end_reason": "care_home",
                                          "ended_at": "2026-12-07T10:00:00+08:00"})
    @errors(blp, 401, 403, 404, 409, 422, 429)
    @auth_required("staff", "admin")
    def post(self, data, elder_id):
        """Take the elder off the roster (moved in with family, care home, moved away, deceased, declined)

        Pairings and plans end, open due visits are cancelled, devices removed, live alarms closed; visits
        and alarms are kept.
        """
        actor = current_actor()
        elder = workflow.end_watch(actor, elder_id, data["end_reason"], data.get("note"))
        return answer(queries.elder_detail, actor, elder.id)


@blp.route(f"/care/elders/{EID}/file")
class File(MethodView):
    @blp.arguments(FileArgs, location="query")
    @blp.response(200, FileOut, example=FILE)
    @errors(blp, 401, 403, 404)
    @auth_required("staff", "admin")
    def get(self, args, elder_id):
        """The elder's 民生档案 (staff covering the elder; each view audited)

        The latest version, or `version`. Health notes only while the elder's care consent is live.
        """
        return queries.file(current_actor(), elder_id, args.get("version"))

    @blp.arguments(FileIn)
    @blp.response(201, FileOut, example={**FILE, "version": 3})
    @errors(blp, 401, 403, 404, 409, 422, 429)
    @auth_required("staff", "admin")
    def post(self, data, elder_id):
        """Write a new version of the 民生档案 (the old versions stay)"""
        actor = current_actor()
        version = workflow.write_file(actor, elder_id, data)
        return answer(queries.file, actor, elder_id, version.version)
