"""The owners' funds disclosed (业委会公示): 维修资金 and 公共收益 kept by double entry, periods closed and published
to the estate once they reconcile with the bank, and the statements owners read."""
from __future__ import annotations

from flask.views import MethodView

from api.docs import errors
from api.errors import language
from api.extensions import Blueprint
from api.responses import answer
from api.schemas.common import PageArgs, id_in_path, page_of, paged
from api.schemas.funds import (CalendarArgs, CalendarItemOut, CommitmentIn, CommitmentOut, FundAnswerIn, FundAuditIn, FundAuditOut, FundCloseIn,
                               FundPeriodArgs, FundPeriodIn, FundPeriodOut, FundQueryIn, FundQueryOut,
                               FundStatementOut, JournalIn, JournalOut, JournalReverseIn)
from api.security import auth_required, current_actor
from service.funds import queries, workflow

blp = Blueprint("funds", __name__, url_prefix="/api/v1",
                description="维修资金 and 公共收益 disclosed to the estate's owners (业委会公示)")

EID, PID, JID, QID = (id_in_path("estate_id"), id_in_path("period_id"), id_in_path("journal_id"),
                      id_in_path("query_id"))
QUERY = {"id": 5, "category": "advertising", "category_name": "广告收入", "text": "电梯广告收入为何比上季度少？",
         "asked_at": "2026-10-15T20:10:00+08:00", "state": "answered", "state_name": "已答复",
         "answer": "九月起两部电梯停用维修，广告合同按比例减收。", "answered_at": "2026-10-18T09:00:00+08:00",
         "mine": True, "asked_by": None}
STATEMENT = {"period_id": 7, "estate_id": 3, "fund": "public_income", "starts_on": "2026-07-01",
             "ends_on": "2026-09-30", "state": "published", "opening": "48210.00",
             "income": [{"category": "advertising", "category_name": "广告收入", "amount": "12000.00",
                         "amount_fen": 1200000}],
             "expense": [{"category": "transfer_out", "category_name": "转入维修资金", "amount": "7200.00",
                          "amount_fen": 720000}],
             "income_total": "12000.00", "expense_total": "7200.00", "closing": "53010.00",
             "bank_balance": "53010.00", "difference": "0.00", "reconciled": True, "notice_id": 31,
             "by_building": [], "can_manage": False}
JOURNAL = {"id": 40, "period_id": 7, "booked_on": "2026-08-05", "memo": "8月电梯广告费", "source_doc": "银行回单0805",
           "reverses_id": None, "posted": True, "lines": [
               {"kind": "bank", "kind_name": "银行存款", "code": "bank", "code_name": "银行存款", "building_id": None, "amount_fen": 400000,
                "amount": "4000.00"},
               {"kind": "income", "kind_name": "收入", "code": "advertising", "code_name": "广告收入", "building_id": None,
                "amount_fen": -400000, "amount": "-4000.00"}]}
PERIOD = {"id": 7, "fund": "public_income", "starts_on": "2026-07-01", "ends_on": "2026-09-30", "state": "published",
          "opening": "48210.00", "closing": "53010.00", "published_at": "2026-10-12T10:00:00+08:00", "notice_id": 31}


@blp.route(f"/estates/{EID}/fund-periods")
class Periods(MethodView):
    @blp.arguments(FundPeriodArgs, location="query")
    @blp.response(200, page_of(FundPeriodOut), example={"items": [PERIOD], "page": 1, "page_size": 20, "total": 1})
    @errors(blp, 401, 403, 404)
    @auth_required()
    def get(self, args, estate_id):
        """An estate's fund periods (its owners see the published ones)"""
        items, total = queries.periods(current_actor(), estate_id, page=args["page"], page_size=args["page_size"],
                                       lang=language())
        return paged(items, total, args)

    @blp.arguments(FundPeriodIn)
    @blp.response(201, FundStatementOut, example={**STATEMENT, "state": "open", "can_manage": True})
    @errors(blp, 401, 403, 404, 409, 422, 429)
    @auth_required("committee", "staff", "admin")
    def post(self, data, estate_id):
        """Open a fund's first period with the bank's opening balance (later ones open as the last one closes)"""
        actor = current_actor()
        period = workflow.open_first_period(actor, estate_id, data["fund"], data["starts_on"], data["opening_fen"])
        return answer(queries.statement, actor, period.id, language())


@blp.route(f"/estates/{EID}/journals")
class Journals(MethodView):
    @blp.arguments(JournalIn)
    @blp.response(201, JournalOut, example=JOURNAL)
    @errors(blp, 401, 403, 404, 409, 422, 429)
    @auth_required("committee", "staff", "admin")
    def post(self, data, estate_id):
        """Post a journal to the fund's open period: its lines (debit positive) sum to zero"""
        actor = current_actor()
        journal = workflow.post_journal(actor, estate_id, data)
        return answer(queries.journal, actor, journal.id, language())


@blp.route(f"/journals/{JID}")
class JournalItem(MethodView):
    @blp.response(200, JournalOut, example=JOURNAL)
    @errors(blp, 401, 403, 404)
    @auth_required("committee", "staff", "admin")
    def get(self, journal_id):
        """One journal with its lines"""
        return queries.journal(current_actor(), journal_id, language())


@blp.route(f"/journals/{JID}/reverse")
class Reverse(MethodView):
    @blp.arguments(JournalReverseIn)
    @blp.response(201, JournalOut, example={**JOURNAL, "id": 41, "reverses_id": 40})
    @errors(blp, 401, 403, 404, 409, 422, 429)
    @auth_required("committee", "staff", "admin")
    def post(self, data, journal_id):
        """Correct a journal by its mirror image in the fund's open period (posted journals never change)"""
        actor = current_actor()
        journal = workflow.reverse(actor, journal_id, data["reason"])
        return answer(queries.journal, actor, journal.id, language())


@blp.route(f"/fund-periods/{PID}/close")
class Close(MethodView):
    @blp.arguments(FundCloseIn)
    @blp.response(200, FundStatementOut, example={**STATEMENT, "state": "closed", "can_manage": True})
    @errors(blp, 401, 403, 404, 409, 422, 429)
    @auth_required("committee", "staff", "admin")
    def post(self, data, period_id):
        """Close a period with the bank's balance; the next one opens with the closing balance"""
        actor = current_actor()
        workflow.close_period(actor, period_id, data["bank_balance_fen"])
        return answer(queries.statement, actor, period_id, language())


@blp.route(f"/fund-periods/{PID}/publish")
class Publish(MethodView):
    @blp.response(200, FundStatementOut, example={**STATEMENT, "can_manage": True})
    @errors(blp, 401, 403, 404, 409, 429)
    @auth_required("committee", "staff", "admin")
    def post(self, period_id):
        """Publish a closed period to the estate (a notice); refused while it does not reconcile with the bank"""
        actor = current_actor()
        workflow.publish_period(actor, period_id)
        return answer(queries.statement, actor, period_id, language())


@blp.route(f"/fund-periods/{PID}/statement")
class Statement(MethodView):
    @blp.response(200, FundStatementOut, example=STATEMENT)
    @errors(blp, 401, 404)
    @auth_required()
    def get(self, period_id):
        """A period's statement: the estate's owners once published, its committee and staff at any time"""
        return queries.statement(current_actor(), period_id, language())


@blp.route(f"/fund-periods/{PID}/queries")
class Queries(MethodView):
    @blp.arguments(FundPeriodArgs, location="query")
    @blp.response(200, page_of(FundQueryOut), example={"items": [QUERY], "page": 1, "page_size": 20, "total": 1})
    @errors(blp, 401, 404)
    @auth_required()
    def get(self, args, period_id):
        """Owners' queries about a statement and their answers (who asked is shown to no other owner)"""
        items, total = queries.period_queries(current_actor(), period_id, page=args["page"],
                                              page_size=args["page_size"], lang=language())
        return paged(items, total, args)

    @blp.arguments(FundQueryIn)
    @blp.response(201, FundQueryOut, example={**QUERY, "state": "open", "state_name": "待答复", "answer": None,
                                              "answered_at": None})
    @errors(blp, 401, 403, 404, 409, 422, 429)
    @auth_required()
    def post(self, data, period_id):
        """Ask about a published statement (owners of the estate); the committee answers, else the 居委会 in 15 days"""
        actor = current_actor()
        query = workflow.ask(actor, period_id, data["text"], data.get("category"))
        return answer(queries.one_query, actor, query.id, language())


@blp.route(f"/fund-queries/{QID}/answer")
class Answer(MethodView):
    @blp.arguments(FundAnswerIn)
    @blp.response(200, FundQueryOut, example={**QUERY, "mine": False, "asked_by": 812})
    @errors(blp, 401, 403, 404, 409, 422, 429)
    @auth_required("committee", "staff", "admin")
    def post(self, data, query_id):
        """Answer an owner's query (the committee, or the staff of a 居委会 of the estate)"""
        actor = current_actor()
        workflow.answer(actor, query_id, data["answer"])
        return answer(queries.one_query, actor, query_id, language())


@blp.route(f"/estates/{EID}/fund-audits")
class Audits(MethodView):
    @blp.arguments(FundAuditIn)
    @blp.response(201, FundAuditOut, example={"id": 2, "estate_id": 3, "kind": "annual", "year": 2025,
                                              "auditor": "上海某会计师事务所", "summary": "未发现重大问题。", "notice_id": 40,
                                              "published_at": "2026-03-20T10:00:00+08:00"})
    @errors(blp, 401, 403, 404, 409, 422, 429)
    @auth_required("committee", "staff", "admin")
    def post(self, data, estate_id):
        """Post an audit of the estate's funds for 30 days (Art. 67), the report attached, as a notice"""
        audit_row = workflow.post_audit(current_actor(), estate_id, data)
        return {"id": audit_row.id, "estate_id": audit_row.estate_id, "kind": audit_row.kind, "year": audit_row.year,
                "auditor": audit_row.auditor, "summary": audit_row.summary, "notice_id": audit_row.notice_id,
                "published_at": audit_row.published_at}


COMMITMENT = {"id": 4, "estate_id": 3, "term": 2, "member_user_id": 812, "member": "王建国", "filed_on": "2026-06-20",
              "text": "本人承诺遵守业主大会议事规则，不利用职务之便谋取私利，按时公开资金收支。", "notice_id": 52,
              "published_at": "2026-06-21T09:30:00+08:00"}


@blp.route(f"/estates/{EID}/commitments")
class Commitments(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_of(CommitmentOut), example={"items": [COMMITMENT], "page": 1, "page_size": 20,
                                                        "total": 1})
    @errors(blp, 401, 403, 404)
    @auth_required()
    def get(self, args, estate_id):
        """The committee members' written commitments (书面承诺), for the estate's owners and its managers"""
        items, total = queries.commitments(current_actor(), estate_id, page=args["page"],
                                           page_size=args["page_size"])
        return paged(items, total, args)

    @blp.arguments(CommitmentIn)
    @blp.response(201, CommitmentOut, example=COMMITMENT)
    @errors(blp, 401, 403, 404, 409, 422, 429)
    @auth_required("committee", "staff", "admin")
    def post(self, data, estate_id):
        """Publish a member's written commitment to the estate (Arts. 20, 23)

        A member of the owners' committee posts their own; the staff covering
        the estate post one filed with the street on paper (`member_user_id`).
        One per member and term (the latest 换届); it goes out as a notice.
        """
        return queries.commitment_item(workflow.post_commitment(current_actor(), estate_id, data))


@blp.route("/disclosure-calendar")
class Calendar(MethodView):
    @blp.arguments(CalendarArgs, location="query")
    @blp.response(200, page_of(CalendarItemOut), example={"items": [{
        "estate_id": 3, "estate": "中远两湾城", "period_id": 9, "motion_id": None, "title": None,
        "kind": "statement_public_income",
        "kind_name": "公共收益收支公示（每季度）", "starts_on": "2026-07-01", "ends_on": "2026-09-30", "due_on": "2026-10-30",
        "status": "overdue", "status_name": "已逾期", "days_overdue": 6, "published_at": None, "notice_id": None}],
        "page": 1, "page_size": 20, "total": 1})
    @errors(blp, 401, 403, 404)
    @auth_required("committee", "staff", "admin")
    def get(self, args):
        """The disclosure calendar: statements, decisions, audits and commitments, when each is due, overdue first"""
        items, total = queries.calendar(current_actor(), estate_id=args.get("estate_id"), page=args["page"],
                                        page_size=args["page_size"], lang=language())
        return paged(items, total, args)


BLUEPRINTS = (blp,)
