"""Notices (通知公告 · 居务公开 · 业委会公示): a resident's notices and 我已知晓; publishing, correcting and withdrawing;
the audience's counts and the chase list of those who have not acknowledged."""
from __future__ import annotations

from flask.views import MethodView

from api.docs import errors
from api.errors import language
from api.extensions import Blueprint
from api.responses import answer, csv_response, json_response
from api.schemas.common import id_in_path, page_of, paged
from api.schemas.notices import (NoticeAckIn, NoticeAckOut, NoticeCategoriesOut, NoticeChaseArgs, NoticeChaseItemOut,
                                 NoticeCorrectionIn, NoticeDetailOut, NoticeDraftIn, NoticeIn, NoticeSummaryOut,
                                 NoticeWithdrawIn, NoticesManagedArgs, NoticesMineArgs, NoticesMineOut)
from api.security import auth_required, current_actor
from service.notices import queries, workflow

blp = Blueprint("notices", __name__, url_prefix="/api/v1",
                description="Notices to residents (通知公告), with acknowledgement and the chase list")

NID = id_in_path("notice_id")
SUMMARY = {"id": 12, "category": "outage", "title": "香泉苑1-6号楼12月9日停水通知", "urgent": True,
           "ack_required": True, "pinned": True, "state": "published", "version": 1, "supersedes_id": None,
           "published_at": "2026-12-07T09:00:00+08:00", "publish_at": "2026-12-07T09:00:00+08:00",
           "valid_until": "2026-12-09T18:00:00+08:00", "event_at": "2026-12-09T08:00:00+08:00",
           "author_role": "staff", "read": False, "acked": False, "acked_at": None, "ack_channel": None}
DETAIL = {**SUMMARY, "body": "因供水管道改造，12月9日8:00至17:00停水，请提前储水。", "correction_reason": None,
          "superseded_by": None, "end_reason": None, "ended_at": None, "in_audience": True, "can_manage": False,
          "scopes": [{"type": "building", "type_name": "楼栋", "id": 3, "name": "香泉苑1号楼"}], "attachments": []}


@blp.route("/notice-categories")
class Categories(MethodView):
    @blp.response(200, NoticeCategoriesOut, example={"items": [{
        "code": "outage", "name": "停水停电", "publishers": ["staff", "admin", "property_company"],
        "publishers_names": ["居委会/街道工作人员", "街道管理员", "物业服务企业"], "ack_required": True}]})
    @errors(blp, 401)
    @auth_required()
    def get(self):
        """The notice categories, who may publish each and whether it asks for acknowledgement"""
        return {"items": queries.categories(language())}


@blp.route("/notices")
class Notices(MethodView):
    @blp.arguments(NoticesMineArgs, location="query")
    @blp.response(200, NoticesMineOut, example={"items": [SUMMARY], "page": 1, "page_size": 20, "total": 1, "unread": 1})
    @errors(blp, 401)
    @auth_required()
    def get(self, args):
        """My notices: pinned first, then newest, with the unread count"""
        # Built by the query as the answer's values (labels, Shanghai times), and sent as it is.
        return json_response(queries.mine(current_actor(), page=args["page"], page_size=args["page_size"],
                                          unread_only=args["unread"], lang=language()))

    @blp.arguments(NoticeIn)
    @blp.response(201, NoticeDetailOut, example={**DETAIL, "can_manage": True})
    @errors(blp, 401, 403, 409, 422, 429)
    @auth_required("staff", "admin", "committee", "property_company")
    def post(self, data):
        """Write a notice: a draft, or with `publish` published now (or scheduled for `publish_at`)

        Staff publish to the places they cover; the owners' committee and the property company within their
        estate; which role may publish which category is data. An urgent notice needs `valid_until` and is
        acknowledged; an outage needs `event_at`. At publication the audience (residents and owners of the
        places, and their confirmed relatives) is frozen.
        """
        actor = current_actor()
        notice = workflow.create(actor, data)
        return answer(queries.detail, actor, notice.id, language())


@blp.route("/notices/managed")
class Managed(MethodView):
    @blp.arguments(NoticesManagedArgs, location="query")
    @blp.response(200, page_of(NoticeSummaryOut), example={"items": [{**SUMMARY, "audience_count": 412}], "page": 1,
                                                           "page_size": 20, "total": 1})
    @errors(blp, 401, 403)
    @auth_required("staff", "admin", "committee", "property_company")
    def get(self, args):
        """Notices I wrote or that lie where I work, newest first"""
        items, total = queries.managed(current_actor(), state=args.get("state"), page=args["page"],
                                       page_size=args["page_size"], lang=language())
        return paged(items, total, args)


@blp.route(f"/notices/{NID}")
class NoticeItem(MethodView):
    @blp.response(200, NoticeDetailOut, example=DETAIL)
    @errors(blp, 401, 404)
    @auth_required()
    def get(self, notice_id):
        """One notice (opening it records my first read)"""
        return workflow.open_notice(current_actor(), notice_id, language())

    @blp.arguments(NoticeDraftIn)
    @blp.response(200, NoticeDetailOut, example={**DETAIL, "state": "draft", "can_manage": True})
    @errors(blp, 401, 403, 404, 409, 422, 429)
    @auth_required("staff", "admin", "committee", "property_company")
    def patch(self, data, notice_id):
        """Change a draft (a published notice is corrected by a new version instead)"""
        actor = current_actor()
        notice = workflow.update_draft(actor, notice_id, data)
        return answer(queries.detail, actor, notice.id, language())


@blp.route(f"/notices/{NID}/publish")
class Publish(MethodView):
    @blp.response(200, NoticeDetailOut, example={**DETAIL, "can_manage": True})
    @errors(blp, 401, 403, 404, 409, 422, 429)
    @auth_required("staff", "admin", "committee", "property_company")
    def post(self, notice_id):
        """Publish a draft now, or schedule it for its `publish_at`"""
        actor = current_actor()
        notice = workflow.publish(actor, notice_id)
        return answer(queries.detail, actor, notice.id, language())


@blp.route(f"/notices/{NID}/corrections")
class Corrections(MethodView):
    @blp.arguments(NoticeCorrectionIn)
    @blp.response(201, NoticeDetailOut, example={**DETAIL, "version": 2, "supersedes_id": 12,
                                           "correction_reason": "停水时间更正", "can_manage": True})
    @errors(blp, 401, 403, 404, 409, 422, 429)
    @auth_required("staff", "admin", "committee", "property_company")
    def post(self, data, notice_id):
        """Correct a published notice: a new version with a reason (the old one stays, marked superseded)"""
        actor = current_actor()
        notice = workflow.correct(actor, notice_id, data)
        return answer(queries.detail, actor, notice.id, language())


@blp.route(f"/notices/{NID}/withdraw")
class Withdraw(MethodView):
    @blp.arguments(NoticeWithdrawIn)
    @blp.response(200, NoticeDetailOut, example={**DETAIL, "state": "withdrawn", "can_manage": True})
    @errors(blp, 401, 403, 404, 409, 422, 429)
    @auth_required("staff", "admin", "committee", "property_company")
    def post(self, data, notice_id):
        """Withdraw a notice (it stays visible to whom it reached, marked withdrawn)"""
        actor = current_actor()
        notice = workflow.withdraw(actor, notice_id, data["reason"])
        return answer(queries.detail, actor, notice.id, language())


@blp.route(f"/notices/{NID}/ack")
class Ack(MethodView):
    @blp.arguments(NoticeAckIn)
    @blp.response(200, NoticeAckOut, example={"notice_id": 12, "user_id": 40, "acked_at": "2026-12-07T10:02:00+08:00",
                                        "ack_channel": "app", "ack_proxy": False, "acked_by_user_id": 40})
    @errors(blp, 401, 403, 404, 409, 422, 429)
    @auth_required()
    def post(self, data, notice_id):
        """我已知晓: for myself; for an elder as a confirmed relative; or recorded by staff (phone, door, paper)"""
        row = workflow.acknowledge(current_actor(), notice_id, for_user_id=data.get("user_id"),
                                   channel=data.get("channel"))
        return {"notice_id": row.notice_id, "user_id": row.user_id, "acked_at": row.acked_at,
                "ack_channel": row.ack_channel, "ack_proxy": row.ack_proxy, "acked_by_user_id": row.acked_by_user_id}


@blp.route(f"/notices/{NID}/chase")
class Chase(MethodView):
    @blp.arguments(NoticeChaseArgs, location="query")
    @blp.response(200, page_of(NoticeChaseItemOut), example={"items": [{
        "user_id": 40, "name": "王秀英", "phone": "13800001234", "phone_masked": False, "age": 86,
        "lives_alone": True, "reason": "resident", "reason_name": "居住在此", "relative_of": None,
        "building": "1号楼", "unit": "302", "read": False}], "page": 1, "page_size": 20, "total": 1})
    @blp.alt_response(200, schema={"type": "string"}, content_type="text/csv", success=True,
                      description="With `format=csv`: the whole chase list (UTF-8 with a BOM)")
    @errors(blp, 401, 403, 404)
    @auth_required("staff", "admin", "committee", "property_company")
    def get(self, args, notice_id):
        """Who has not acknowledged: elders living alone first, phones for those I cover (`format=csv`: all)"""
        actor, lang = current_actor(), language()
        if args["format"] == "csv":
            return csv_response(queries.chase_csv(actor, notice_id, lang), f"notice-{notice_id}-chase.csv")
        items, total = queries.chase(actor, notice_id, page=args["page"], page_size=args["page_size"], lang=lang)
        return paged(items, total, args)


BLUEPRINTS = (blp,)
