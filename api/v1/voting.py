"""Owners' assembly voting (业主大会表决): motions, ballots, receipts, results, the audit chain."""
from __future__ import annotations

from flask.views import MethodView

from api.docs import errors
from api.errors import language
from api.extensions import Blueprint
from api.responses import answer, json_response
from api.schemas.common import PageArgs, id_in_path, page_of, paged
from api.schemas.voting import (MotionActionIn, BallotIn, BallotOut, ConfirmIn, ItemsOut, MotionArgs, MotionIn, MotionOut,
                                MotionSummaryOut, MyBallotsOut, PaperBallotIn, ParticipationArgs, ParticipationOut,
                                ProxyIn, ProxyOut, ReceiptArgs, ReceiptOut, ReelectionIn, ReelectionOut, RefusalOut,
                                ResultOut, TurnoutOut, VerifyOut)
from api.security import auth_required, current_actor
from service import labels
from service.voting import queries, rules, tally, workflow

blp = Blueprint("voting", __name__, url_prefix="/api/v1",
                description="Owners' assembly voting under Civil Code Art. 278 (业主大会表决)")

MID = id_in_path("motion_id")
SUMMARY = {"id": 5, "estate_id": 3, "title": "关于使用专项维修资金更换2号楼屋面防水的决定", "item": 5,
           "item_name": "使用建筑物及其附属设施的维修资金", "approval_rule": "majority", "kind": "question",
           "status": "open", "scope_type": "estate", "scope_ids": [], "opens_at": "2026-12-10T00:00:00+00:00",
           "closes_at": "2026-12-31T09:00:00+00:00", "announced_at": "2026-11-21T02:00:00+00:00",
           "extended": False, "published_at": None}
DETAIL = {**SUMMARY, "body": "经业委会讨论，拟使用维修资金 38.6 万元……", "attachments": [], "seats": None,
          "candidates": [], "major_repair": False, "notice_days": 15, "publication_days": 7,
          "revote": "first_final", "silent_with_majority": False, "silent_rule_clause": None,
          "publish_until": None, "total_area": "24000.00", "total_heads": 300,
          "snapshot_hash": "9f2c…", "chain_head": "41ab…", "can_manage": False}
BALLOT = {"ballot_id": 812, "channel": "online", "status": "counted", "receipt": "3fa91c07d2", "replaced": False,
          "cast_at": "2026-12-12T03:20:00+00:00"}
PART = {"participation": {"area": "17600.00", "heads": 220, "area_fraction": "1760000/2400000",
                          "heads_fraction": "220/300", "area_met": True, "heads_met": True, "met": True,
                          "arithmetic": ["3×1760000 ≥ 2×2400000", "3×220 ≥ 2×300"]}}
RESULT = {"motion_id": 5, "status": "published", "decision": "rejected", "passed": False, "total_area": "24000.00",
          "total_heads": 300, **PART,
          "approval": {"area": "9000.00", "heads": 110, "area_fraction": "900000/1760000", "heads_fraction": "110/220",
                       "area_met": True, "heads_met": False, "met": False,
                       "arithmetic": ["2×900000 > 1760000", "2×110 > 220"]},
          "ledgers": {"yes": {"area": "9000.00", "heads": 110}, "no": {"area": "8000.00", "heads": 100},
                      "abstain": {"area": "600.00", "heads": 10}, "spoiled": {"area": "0.00", "heads": 0}},
          "channels": {"online": 180, "paper": 36, "proxy": 4}, "silent_counted_with_majority": None,
          "buildings": [], "rule": {"participation": "3×a_p ≥ 2×A 且 3×n_p ≥ 2×N",
                                    "approval": "2×a_y > a_p 且 2×n_y > n_p",
                   "revote": "first_final", "silent_with_majority": False, "silent_rule_clause": None,
                   "spoiled_counts_as": "abstain"},
          "area_unit": "0.01 m²", "item": 4, "item_name": "选聘和解聘物业服务企业或者其他管理人",
          "approval_rule": "majority", "snapshot_hash": "9f2c…", "chain_head": "41ab…", "chain_length": 240,
          "published_at": "2027-01-02T02:00:00+00:00", "publish_until": "2027-01-09T02:00:00+00:00",
          "announcement": "香泉苑业主大会表决结果公告\n…"}


@blp.route("/voting/items")
class Items(MethodView):
    @blp.response(200, ItemsOut, example={"items": [{"item": 6, "name": "筹集建筑物及其附属设施的维修资金",
                                                     "approval_rule": "three_quarters"}],
                                          "participation_rule": "3×a_p ≥ 2×A 且 3×n_p ≥ 2×N"})
    @errors(blp, 401)
    @auth_required()
    def get(self):
        """The Art. 278 items and the approval rule of each"""
        lang = language()
        return {"items": [{"item": i.number, "name": i.name(lang), "approval_rule": i.approval}
                          for i in rules.current().items()],
                "participation_rule": tally.PARTICIPATION_RULE}


@blp.route(f"/estates/{id_in_path('estate_id')}/motions")
class EstateMotions(MethodView):
    @blp.arguments(MotionArgs, location="query")
    @blp.response(200, page_of(MotionSummaryOut), example={"items": [SUMMARY], "page": 1, "page_size": 20, "total": 1})
    @errors(blp, 401, 403, 404)
    @auth_required()
    def get(self, args, estate_id):
        """Motions of an estate's owners' assembly (owners, committee, staff)"""
        items, total = queries.list_motions(current_actor(), estate_id, status=args.get("status"), page=args["page"],
                                            page_size=args["page_size"])
        lang = language()
        return paged([queries.summary(m, lang) for m in items], total, args)


@blp.route(f"/estates/{id_in_path('estate_id')}/reelection")
class EstateReelection(MethodView):
    @blp.arguments(ReelectionIn)
    @blp.response(200, ReelectionOut, example={"estate_id": 3, "active": True})
    @errors(blp, 401, 403, 404, 409, 429)
    @auth_required("staff", "admin")
    def post(self, data, estate_id):
        """Record the start or end of a committee re-election (换届) — locks some matters"""
        workflow.set_reelection(current_actor(), estate_id, data["action"] == "start")
        return answer(queries.reelection, estate_id)


@blp.route("/motions")
class Motions(MethodView):
    @blp.arguments(MotionIn)
    @blp.response(201, MotionOut, example={**DETAIL, "status": "draft", "can_manage": True})
    @errors(blp, 401, 403, 429)
    @auth_required()
    def post(self, data):
        """Draft a motion (committee or staff of the estate)

        The Art. 278 item fixes the thresholds; the scope is the estate, chosen buildings or one entrance.
        """
        actor = current_actor()
        motion = workflow.create_motion(actor, data)
        return answer(queries.detail, actor, motion.id, language())


@blp.route(f"/motions/{MID}")
class MotionItem(MethodView):
    @blp.response(200, MotionOut, example=DETAIL)
    @errors(blp, 401, 404)
    @auth_required()
    def get(self, motion_id):
        """One motion"""
        return queries.detail(current_actor(), motion_id, language())


@blp.route(f"/motions/{MID}/actions")
class MotionActions(MethodView):
    @blp.arguments(MotionActionIn)
    @blp.response(200, MotionOut, example={**DETAIL, "status": "announced"})
    @errors(blp, 401, 403, 404, 409, 429)
    @auth_required()
    def post(self, data, motion_id):
        """Announce, cancel or publish a motion

        Announcing needs at least the notice period (15 full days by default) before voting opens.
        Opening, closing and counting are done on time by the scheduler.
        """
        actor = current_actor()
        motion = workflow.act(actor, motion_id, data["action"])
        return answer(queries.detail, actor, motion.id, language())


@blp.route(f"/motions/{MID}/ballots")
class Ballots(MethodView):
    @blp.arguments(BallotIn)
    @blp.response(201, BallotOut, example=BALLOT)
    @errors(blp, 401, 403, 404, 409, 429)
    @auth_required(caller_only=True)  # the motion's frozen electorate and the mandates decide who votes
    def post(self, data, motion_id):
        """Cast my ballot (or a proxy ballot) — one per owner per motion, whatever the channel

        Covers all my units in scope; returns a receipt code to check on the published list.
        """
        answer = workflow.cast(current_actor(), motion_id, choice=data.get("choice"),
                               candidate_ids=data.get("candidate_ids"), voter_id=data.get("voter_id"),
                               on_behalf_of_unit=data.get("on_behalf_of_unit"))
        # Built by the use-case from what it wrote, in the shape of BallotOut, and sent as it is with its labels.
        return json_response(labels.attach(answer, "voting", ("channel", "status"), language()), 201)


@blp.route(f"/motions/{MID}/my-ballot")
class MyBallot(MethodView):
    @blp.response(200, MyBallotsOut, example={"items": [{**{k: v for k, v in BALLOT.items() if k != "replaced"},
                                                         "voter_id": 40, "units": 1,
                                                         "label": "3号楼2单元1501", "choice": "yes",
                                                         "candidate_ids": None, "replaces_receipt": None}]})
    @errors(blp, 401, 404)
    @auth_required()
    def get(self, motion_id):
        """My ballots in this motion, with their receipts"""
        return {"items": queries.my_ballots(current_actor(), motion_id)}


@blp.route(f"/motions/{MID}/paper-ballots")
class PaperBallots(MethodView):
    @blp.arguments(PaperBallotIn)
    @blp.response(201, BallotOut, example={**BALLOT, "channel": "paper", "status": "pending"})
    @errors(blp, 401, 403, 404, 409, 429)
    @auth_required()
    def post(self, data, motion_id):
        """Enter a signed paper ballot (staff or committee); counts once a second person confirms it"""
        ballot = workflow.enter_paper(current_actor(), motion_id, unit_id=data["unit_id"], choice=data.get("choice"),
                                      candidate_ids=data.get("candidate_ids"),
                                      image_upload_id=data["image_upload_id"])
        return answer(queries.ballot_summary, ballot.id)


@blp.route(f"/motions/{MID}/paper-ballots/{id_in_path('ballot_id')}/confirmation")
class PaperConfirmation(MethodView):
    @blp.arguments(ConfirmIn)
    @blp.response(200, BallotOut, example={**BALLOT, "channel": "paper", "status": "counted"})
    @errors(blp, 401, 403, 404, 409, 429)
    @auth_required()
    def post(self, data, motion_id, ballot_id):
        """Confirm (or refuse) a paper ballot entered by someone else"""
        ballot = workflow.confirm_paper(current_actor(), motion_id, ballot_id, accept=data["accept"],
                                        reason=data.get("reason"))
        return answer(queries.ballot_summary, ballot.id)


@blp.route(f"/motions/{MID}/proxies")
class Proxies(MethodView):
    @blp.arguments(ProxyIn)
    @blp.response(201, ProxyOut, example={"id": 3, "voter_id": 40, "proxy_user_id": 77, "valid_until": None})
    @errors(blp, 401, 403, 404, 409, 429)
    @auth_required()
    def post(self, data, motion_id):
        """Register a proxy with the written mandate (staff or committee); capped per proxy"""
        proxy = workflow.register_proxy(current_actor(), motion_id, **data)
        return answer(queries.proxy_summary, proxy.id)


@blp.route(f"/motions/{MID}/receipts")
class Receipts(MethodView):
    @blp.arguments(ReceiptArgs, location="query")
    @blp.response(200, page_of(ReceiptOut), example={"items": [{"receipt": "3fa91c07d2", "channel": "online"}],
                                                     "page": 1, "page_size": 20, "total": 1})
    @errors(blp, 401, 404, 409)
    @auth_required()
    def get(self, args, motion_id):
        """Every counted receipt code (no names); ?code= checks one"""
        items, total = queries.receipts(current_actor(), motion_id, code=args.get("code"), page=args["page"],
                                        page_size=args["page_size"])
        return paged(items, total, args)


@blp.route(f"/motions/{MID}/participation")
class Participation(MethodView):
    @blp.arguments(ParticipationArgs, location="query")
    @blp.response(200, page_of(ParticipationOut), example={"items": [{
        "unit_id": 901, "building_id": 12, "label": "3号楼2单元1501", "area": "89.37", "voted": False,
        "pending_confirmation": False}], "page": 1, "page_size": 20, "total": 1})
    @errors(blp, 401, 403, 404)
    @auth_required()
    def get(self, args, motion_id):
        """Which units have voted, by building — committee and staff

        Full unit labels for going round the doors; no names, no choices. `?voted=false` lists the units
        whose owner has no counted ballot yet. The view is audited.
        """
        items, total = queries.participation(current_actor(), motion_id, voted=args.get("voted"),
                                             building_id=args.get("building_id"), page=args["page"],
                                             page_size=args["page_size"])
        return paged(items, total, args)


@blp.route(f"/motions/{MID}/turnout")
class Turnout(MethodView):
    @blp.response(200, TurnoutOut, example={
        "motion_id": 5, "status": "open", "total_area": "24000.00", "total_heads": 300,
        "voted": {"area": "14000.00", "heads": 180}, "pending": {"area": "180.00", "heads": 2},
        "participation": {"area_fraction": "1400000/2400000", "heads_fraction": "180/300", "area_met": False,
                          "heads_met": False, "met": False,
                          "arithmetic": ["3×1400000 ≥ 2×2400000", "3×180 ≥ 2×300"]},
        "still_needed": {"area": "2000.00", "heads": 20}, "refusals": 3})
    @errors(blp, 401, 403, 404, 409)
    @auth_required()
    def get(self, motion_id):
        """Turnout so far against the 2/3 thresholds (area and heads, never choices) — committee and staff"""
        return queries.turnout(current_actor(), motion_id)


@blp.route(f"/motions/{MID}/refusals")
class Refusals(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_of(RefusalOut), example={"items": [{
        "id": 7, "voter_id": 40, "label": "3号楼2单元1501", "channel": "online", "reason": "already_voted",
        "at": "2026-12-12T03:21:00+00:00"}], "page": 1, "page_size": 20, "total": 1})
    @errors(blp, 401, 403, 404)
    @auth_required()
    def get(self, args, motion_id):
        """Ballots refused (a second ballot for an owner, a mandate already used), newest first — committee and staff"""
        items, total = queries.refusals(current_actor(), motion_id, page=args["page"], page_size=args["page_size"])
        return paged(items, total, args)


@blp.route(f"/motions/{MID}/result")
class Result(MethodView):
    @blp.response(200, ResultOut, example=RESULT)
    @errors(blp, 401, 404, 409)
    @auth_required()
    def get(self, motion_id):
        """The result: both ledgers, exact fractions, per building, and the 公告 text"""
        return queries.result(current_actor(), motion_id)


@blp.route(f"/motions/{MID}/chain")
class Chain(MethodView):
    @blp.response(200, VerifyOut, example={"motion_id": 5, "valid": True, "events": 240, "head": "41ab…",
                                           "pending": 3, "problems": []})
    @errors(blp, 401, 404)
    @auth_required()
    def get(self, motion_id):
        """Verify the motion's hash-chained ballot log end to end"""
        return queries.verify(current_actor(), motion_id)

BLUEPRINTS = (blp,)
