"""Owners' funds schemas (维修资金 and 公共收益); amounts in fen in, and in yuan (exact text) and fen out."""
from __future__ import annotations

from datetime import date

import marshmallow as ma
from marshmallow import validate

from api.schemas.common import Id, Label, PageArgs, Timestamp
from models.funds import ACCOUNT_KINDS, AUDIT_KINDS, FUNDS, PERIOD_STATES

FEN = validate.Range(min=-10 ** 13, max=10 ** 13)   # ±1000 亿元
CODE = {"description": "bank, or a category config/rules/funds.yaml lists for the fund and kind (income, expense)"}


class FundPeriodIn(ma.Schema):
    fund = ma.fields.String(required=True, validate=validate.OneOf(FUNDS))
    starts_on = ma.fields.Date(required=True, metadata={"description": "The first day of a quarter (公共收益) or "
                                                                       "half-year (维修资金)"})
    opening_fen = ma.fields.Integer(required=True, strict=True, validate=FEN)


class JournalLineIn(ma.Schema):
    kind = ma.fields.String(required=True, validate=validate.OneOf(ACCOUNT_KINDS))
    code = ma.fields.String(required=True, validate=validate.Length(min=1, max=32), metadata=CODE)
    building_id = Id(allow_none=True, metadata={"description": "The building (维修资金 is kept by building)"})
    amount_fen = ma.fields.Integer(required=True, strict=True,
                                   validate=[FEN, validate.NoneOf([0], error="金额不能为零")],
                                   metadata={"description": "Debit positive, credit negative; the lines sum to 0"})


class JournalIn(ma.Schema):
    fund = ma.fields.String(required=True, validate=validate.OneOf(FUNDS))
    booked_on = ma.fields.Date(required=True)
    memo = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))
    source_doc = ma.fields.String(allow_none=True, validate=validate.Length(max=100))
    lines = ma.fields.List(ma.fields.Nested(JournalLineIn), required=True, validate=validate.Length(min=2, max=50))


class JournalReverseIn(ma.Schema):
    reason = ma.fields.String(required=True, validate=validate.Length(min=1, max=100))


class FundCloseIn(ma.Schema):
    bank_balance_fen = ma.fields.Integer(required=True, strict=True, validate=FEN,
                                         metadata={"description": "The bank's balance at the period's end"})


class JournalLineOut(ma.Schema):
    kind = ma.fields.String(required=True)
    kind_name = Label("funds", "kind", required=True)
    code = ma.fields.String(required=True)
    code_name = ma.fields.String(required=True)
    building_id = ma.fields.Integer(allow_none=True)
    amount_fen = ma.fields.Integer(required=True)
    amount = ma.fields.String(required=True)


class JournalOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    period_id = ma.fields.Integer(required=True)
    booked_on = ma.fields.Date(required=True)
    memo = ma.fields.String(required=True)
    source_doc = ma.fields.String(allow_none=True)
    reverses_id = ma.fields.Integer(allow_none=True)
    posted = ma.fields.Boolean(required=True)
    lines = ma.fields.List(ma.fields.Nested(JournalLineOut), required=True)


class FundStatementLineOut(ma.Schema):
    category = ma.fields.String(required=True)
    category_name = ma.fields.String(required=True)
    amount = ma.fields.String(required=True)
    amount_fen = ma.fields.Integer(required=True)


class FundBuildingMovementOut(ma.Schema):
    building_id = ma.fields.Integer(required=True)
    building = ma.fields.String(allow_none=True)
    movement = ma.fields.String(required=True)


class FundStatementOut(ma.Schema):
    period_id = ma.fields.Integer(required=True)
    estate_id = ma.fields.Integer(required=True)
    fund = ma.fields.String(required=True)
    fund_name = Label("funds", "fund", required=True)
    starts_on = ma.fields.Date(required=True)
    ends_on = ma.fields.Date(required=True)
    state = ma.fields.String(required=True, metadata={"enum": list(PERIOD_STATES)})
    state_name = Label("funds", "state", required=True)
    opening = ma.fields.String(required=True)
    income = ma.fields.List(ma.fields.Nested(FundStatementLineOut), required=True)
    expense = ma.fields.List(ma.fields.Nested(FundStatementLineOut), required=True)
    income_total = ma.fields.String(required=True)
    expense_total = ma.fields.String(required=True)
    closing = ma.fields.String(required=True)
    bank_balance = ma.fields.String(allow_none=True)
    difference = ma.fields.String(allow_none=True)
    reconciled = ma.fields.Boolean(required=True)
    notice_id = ma.fields.Integer(allow_none=True)
    by_building = ma.fields.List(ma.fields.Nested(FundBuildingMovementOut), required=True)
    can_manage = ma.fields.Boolean(required=True)


class FundPeriodOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    fund = ma.fields.String(required=True)
    fund_name = Label("funds", "fund", required=True)
    starts_on = ma.fields.Date(required=True)
    ends_on = ma.fields.Date(required=True)
    state = ma.fields.String(required=True)
    state_name = Label("funds", "state", required=True)
    opening = ma.fields.String(required=True)
    closing = ma.fields.String(allow_none=True)
    published_at = Timestamp(allow_none=True)
    notice_id = ma.fields.Integer(allow_none=True)



FundPeriodArgs = PageArgs


class FundQueryIn(ma.Schema):
    text = ma.fields.String(required=True, validate=validate.Length(min=1, max=1000))
    category = ma.fields.String(allow_none=True, validate=validate.Length(min=1, max=32),
                                metadata={"description": "The statement line asked about: a category of its lines "
                                                         "(GET /api/v1/fund-periods/{period_id}/statement)"})


class FundAnswerIn(ma.Schema):
    answer = ma.fields.String(required=True, validate=validate.Length(min=1, max=2000))


class FundQueryOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    category = ma.fields.String(allow_none=True)
    category_name = ma.fields.String(allow_none=True)
    text = ma.fields.String(required=True)
    asked_at = Timestamp(required=True)
    state = ma.fields.String(required=True, metadata={"enum": ["open", "answered", "escalated"]})
    state_name = ma.fields.String(required=True)
    answer = ma.fields.String(allow_none=True)
    answered_at = Timestamp(allow_none=True)
    mine = ma.fields.Boolean(required=True)
    asked_by = ma.fields.Integer(allow_none=True, metadata={"description": "For the committee and staff only"})


class CalendarArgs(PageArgs):
    estate_id = Id(metadata={"description": "One estate; every estate I keep or oversee when absent"})


class CalendarItemOut(ma.Schema):
    estate_id = ma.fields.Integer(required=True)
    estate = ma.fields.String(required=True)
    period_id = ma.fields.Integer(allow_none=True, metadata={"description": "A statement's period"})
    motion_id = ma.fields.Integer(allow_none=True, metadata={"description": "A decision's motion"})
    title = ma.fields.String(allow_none=True, metadata={
        "description": "A decision's title; an audit's year; how many members' commitments are published"})
    kind = ma.fields.String(required=True, metadata={"enum": ["statement_public_income", "statement_maint",
                                                              "decision", "audit_annual", "audit_reelection",
                                                              "commitments"]})
    kind_name = ma.fields.String(required=True)
    starts_on = ma.fields.Date(allow_none=True)
    ends_on = ma.fields.Date(required=True, metadata={
        "description": "A period's last day, a decision's count, a year's last day, or the day of the 换届 election"})
    due_on = ma.fields.Date(required=True)
    status = ma.fields.String(required=True, metadata={"enum": ["overdue", "due", "published"]})
    status_name = ma.fields.String(required=True)
    days_overdue = ma.fields.Integer(required=True)
    published_at = Timestamp(allow_none=True)
    notice_id = ma.fields.Integer(allow_none=True)


class FundAuditIn(ma.Schema):
    kind = ma.fields.String(required=True, validate=validate.OneOf(AUDIT_KINDS))
    year = ma.fields.Integer(required=True, strict=True, validate=validate.Range(min=2000, max=2100),
                             metadata={"description": "The year audited (a 换届 audit: the year of the 换届)"})
    auditor = ma.fields.String(required=True, validate=validate.Length(min=1, max=100))
    summary = ma.fields.String(required=True, validate=validate.Length(min=1, max=2000))
    attachments = ma.fields.List(Id(), load_default=list, validate=validate.Length(max=9),
                                 metadata={"description": "The audit report (your own uploads, not yet attached)"})


class FundAuditOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    estate_id = ma.fields.Integer(required=True)
    kind = ma.fields.String(required=True)
    kind_name = Label("funds", "audit_kind", source="kind", required=True)
    year = ma.fields.Integer(required=True)
    auditor = ma.fields.String(required=True)
    summary = ma.fields.String(required=True)
    notice_id = ma.fields.Integer(required=True)
    published_at = Timestamp(required=True)


class CommitmentIn(ma.Schema):
    text = ma.fields.String(required=True, validate=validate.Length(min=1, max=2000),
                            metadata={"description": "The commitment as filed with the street"})
    filed_on = ma.fields.Date(required=True, validate=validate.Range(min=date(2000, 1, 1), max=date(2100, 12, 31)),
                              metadata={"description": "The day it was filed with the street"})
    member_user_id = Id(metadata={"description": "Staff only: the member whose paper commitment this is "
                                                 "(a member posts their own and leaves it out)"})
    attachments = ma.fields.List(Id(), load_default=list, validate=validate.Length(max=9), metadata={
        "description": "The signed commitment (your own uploads, not yet attached): PDF or images"})


class CommitmentOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    estate_id = ma.fields.Integer(required=True)
    term = ma.fields.Integer(required=True, metadata={
        "description": "The 换届 the member was elected in (0: before Linli recorded one)"})
    member_user_id = ma.fields.Integer(required=True)
    member = ma.fields.String(required=True, metadata={"description": "The member's name, as published"})
    filed_on = ma.fields.Date(required=True)
    text = ma.fields.String(required=True)
    notice_id = ma.fields.Integer(required=True)
    published_at = Timestamp(required=True)
