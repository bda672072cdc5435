"""Voting schemas."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from api.schemas.common import Id, Label, PageArgs, Timestamp
from models.voting import MOTION_KINDS, MOTION_STATUSES, SCOPE_TYPES


class ItemOut(ma.Schema):
    item = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    approval_rule = ma.fields.String(required=True, metadata={"enum": ["majority", "three_quarters"]})
    approval_rule_name = Label("voting", "approval_rule", required=True)


class ItemsOut(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(ItemOut), required=True)
    participation_rule = ma.fields.String(required=True)


class CandidateIn(ma.Schema):
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=64))
    statement = ma.fields.String(allow_none=True, validate=validate.Length(max=1000))


class MotionIn(ma.Schema):
    estate_id = Id(required=True)
    title = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))
    body = ma.fields.String(required=True, validate=validate.Length(min=1, max=20000))
    item = ma.fields.Integer(required=True, validate=validate.Range(min=1, max=9),
                             metadata={"description": "《民法典》第二百七十八条 item 1–9; fixes the thresholds"})
    kind = ma.fields.String(load_default="question", validate=validate.OneOf(MOTION_KINDS))
    seats = ma.fields.Integer(allow_none=True, validate=validate.Range(min=1, max=50))
    candidates = ma.fields.List(ma.fields.Nested(CandidateIn), load_default=list, validate=validate.Length(max=100))
    scope_type = ma.fields.String(load_default="estate", validate=validate.OneOf(SCOPE_TYPES))
    scope_ids = ma.fields.List(Id(), load_default=list, validate=validate.Length(max=200))
    major_repair = ma.fields.Boolean(load_default=False)
    opens_at = ma.fields.AwareDateTime(required=True)
    closes_at = ma.fields.AwareDateTime(required=True)
    notice_days = ma.fields.Integer(allow_none=True, validate=validate.Range(min=1, max=365))
    publication_days = ma.fields.Integer(allow_none=True, validate=validate.Range(min=1, max=365))
    revote = ma.fields.String(allow_none=True, validate=validate.OneOf(("first_final", "last_wins")))
    silent_with_majority = ma.fields.Boolean(load_default=False)
    silent_rule_clause = ma.fields.String(allow_none=True, validate=validate.Length(max=200))
    attachments = ma.fields.List(Id(), load_default=list, validate=validate.Length(max=20))


class MotionArgs(PageArgs):
    status = ma.fields.String(validate=validate.OneOf(MOTION_STATUSES))


class MotionSummaryOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    estate_id = ma.fields.Integer(required=True)
    title = ma.fields.String(required=True)
    item = ma.fields.Integer(required=True)
    item_name = ma.fields.String(required=True)
    approval_rule = ma.fields.String(required=True)
    approval_rule_name = Label("voting", "approval_rule", required=True, metadata={"example": "过半数同意"})
    kind = ma.fields.String(required=True)
    kind_name = Label("voting", "kind", required=True)
    status = ma.fields.String(required=True, metadata={"enum": list(MOTION_STATUSES)})
    status_name = Label("voting", "status", required=True, metadata={"example": "投票中"})
    scope_type = ma.fields.String(required=True)
    scope_type_name = Label("voting", "scope_type", required=True)
    scope_ids = ma.fields.List(ma.fields.Integer(), required=True)
    opens_at = Timestamp(required=True)
    closes_at = Timestamp(required=True)
    announced_at = Timestamp(allow_none=True)
    extended = ma.fields.Boolean(required=True)
    published_at = Timestamp(allow_none=True)


class CandidateOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    position = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    statement = ma.fields.String(allow_none=True)


class MotionOut(MotionSummaryOut):
    body = ma.fields.String(required=True)
    attachments = ma.fields.List(ma.fields.Integer(), required=True)
    seats = ma.fields.Integer(allow_none=True)
    candidates = ma.fields.List(ma.fields.Nested(CandidateOut), required=True)
    major_repair = ma.fields.Boolean(required=True)
    notice_days = ma.fields.Integer(required=True)
    publication_days = ma.fields.Integer(required=True)
    revote = ma.fields.String(required=True)
    revote_name = Label("voting", "revote", required=True)
    silent_with_majority = ma.fields.Boolean(required=True)
    silent_rule_clause = ma.fields.String(allow_none=True)
    publish_until = Timestamp(allow_none=True)
    total_area = ma.fields.String(allow_none=True, metadata={"description": "A, m² (exact decimal)"})
    total_heads = ma.fields.Integer(allow_none=True, metadata={"description": "N"})
    snapshot_hash = ma.fields.String(allow_none=True)
    chain_head = ma.fields.String(required=True)
    can_manage = ma.fields.Boolean(required=True)


class MotionActionIn(ma.Schema):
    action = ma.fields.String(required=True, validate=validate.OneOf(("announce", "cancel", "publish")))


class BallotIn(ma.Schema):
    choice = ma.fields.String(allow_none=True, validate=validate.OneOf(("yes", "no", "abstain")))
    candidate_ids = ma.fields.List(Id(), allow_none=True, validate=validate.Length(max=50))
    voter_id = Id(allow_none=True, metadata={
        "description": "Only when you vote for several owner entities in this motion"})
    on_behalf_of_unit = Id(allow_none=True, metadata={
        "description": "Proxy ballot: the principal's unit (a registered written mandate is required)"})


class PaperBallotIn(ma.Schema):
    unit_id = Id(required=True)
    choice = ma.fields.String(allow_none=True, validate=validate.OneOf(("yes", "no", "abstain", "spoiled")))
    candidate_ids = ma.fields.List(Id(), allow_none=True, validate=validate.Length(max=50))
    image_upload_id = Id(required=True, metadata={"description": "The signed ballot's image"})


class ConfirmIn(ma.Schema):
    accept = ma.fields.Boolean(required=True)
    reason = ma.fields.String(allow_none=True, validate=validate.Length(max=200))


class BallotOut(ma.Schema):
    ballot_id = ma.fields.Integer(required=True)
    channel = ma.fields.String(required=True)
    channel_name = Label("voting", "channel", required=True)
    status = ma.fields.String(required=True, metadata={"enum": ["pending", "counted", "superseded", "void"]})
    status_name = Label("voting", "status", required=True)
    receipt = ma.fields.String(required=True, metadata={"description": "First 10 hex digits of SHA-256(ballot ‖ nonce)"})
    replaced = ma.fields.Boolean(required=True, metadata={"description": "This ballot replaced your earlier one"})
    cast_at = Timestamp(required=True)


class MyBallotOut(ma.Schema):
    ballot_id = ma.fields.Integer(required=True)
    voter_id = ma.fields.Integer(required=True)
    units = ma.fields.Integer(required=True)
    label = ma.fields.String(required=True)
    channel = ma.fields.String(required=True)
    channel_name = Label("voting", "channel", required=True)
    choice = ma.fields.String(allow_none=True)
    choice_name = Label("voting", "choice", allow_none=True, required=True)
    candidate_ids = ma.fields.List(ma.fields.Integer(), allow_none=True)
    status = ma.fields.String(required=True)
    status_name = Label("voting", "status", required=True)
    receipt = ma.fields.String(required=True)
    replaces_receipt = ma.fields.String(allow_none=True)
    cast_at = Timestamp(required=True)


class MyBallotsOut(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(MyBallotOut), required=True)


class ProxyIn(ma.Schema):
    unit_id = Id(required=True, metadata={"description": "A unit of the principal"})
    proxy_user_id = Id(required=True)
    mandate_upload_id = Id(required=True, metadata={"description": "The written mandate (书面委托)"})
    valid_until = ma.fields.AwareDateTime(allow_none=True)


class ProxyOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    voter_id = ma.fields.Integer(required=True)
    proxy_user_id = ma.fields.Integer(required=True)
    valid_until = Timestamp(allow_none=True)


class ReceiptArgs(PageArgs):
    code = ma.fields.String(validate=validate.Regexp(r"^[0-9a-fA-F]{10}$"), metadata={"description": "Check one receipt"})


class ReceiptOut(ma.Schema):
    receipt = ma.fields.String(required=True)
    channel = ma.fields.String(required=True)
    channel_name = Label("voting", "channel", required=True)


class ParticipationArgs(PageArgs):
    voted = ma.fields.Boolean(metadata={"description": "true: units whose owner's ballot is counted; false: the "
                                                       "others (a paper ballot awaiting confirmation included)"})
    building_id = Id(metadata={"description": "Only this building's units"})


class ParticipationOut(ma.Schema):
    unit_id = ma.fields.Integer(required=True)
    building_id = ma.fields.Integer(required=True)
    label = ma.fields.String(required=True, metadata={"example": "3号楼2单元1501"})
    area = ma.fields.String(required=True)
    voted = ma.fields.Boolean(required=True)
    pending_confirmation = ma.fields.Boolean(required=True)


class LedgerOut(ma.Schema):
    area = ma.fields.String(required=True, metadata={"description": "m² (exact decimal)"})
    heads = ma.fields.Integer(required=True)


class TurnoutParticipationOut(ma.Schema):
    area_fraction = ma.fields.String(required=True, metadata={"description": "a_p/A in 0.01 m²"})
    heads_fraction = ma.fields.String(required=True, metadata={"description": "n_p/N"})
    area_met = ma.fields.Boolean(required=True)
    heads_met = ma.fields.Boolean(required=True)
    met = ma.fields.Boolean(required=True)
    arithmetic = ma.fields.List(ma.fields.String(), required=True)


class TurnoutOut(ma.Schema):
    motion_id = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True, metadata={"enum": list(MOTION_STATUSES)})
    status_name = Label("voting", "status", required=True)
    total_area = ma.fields.String(required=True, metadata={"description": "A, m²"})
    total_heads = ma.fields.Integer(required=True, metadata={"description": "N"})
    voted = ma.fields.Nested(LedgerOut, required=True, metadata={"description": "Counted ballots: a_p and n_p"})
    pending = ma.fields.Nested(LedgerOut, required=True,
                               metadata={"description": "Paper ballots awaiting the second person's confirmation"})
    participation = ma.fields.Nested(TurnoutParticipationOut, required=True)
    still_needed = ma.fields.Nested(LedgerOut, required=True, metadata={
        "description": "Area and heads still to take part for 2/3 of each (0 once met)"})
    refusals = ma.fields.Integer(required=True, metadata={"description": "Ballots refused so far (see …/refusals)"})


class RefusalOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    voter_id = ma.fields.Integer(required=True)
    label = ma.fields.String(required=True, metadata={"description": "The owner's (first) unit"})
    channel = ma.fields.String(required=True, metadata={"enum": ["online", "paper", "proxy"]})
    channel_name = Label("voting", "channel", required=True)
    reason = ma.fields.String(required=True, metadata={"enum": ["already_voted", "mandate_used"]})
    reason_name = Label("voting", "reason", required=True)
    at = Timestamp(required=True)


class ResultRuleOut(ma.Schema):
    participation = ma.fields.String(required=True, metadata={"example": "3×a_p ≥ 2×A 且 3×n_p ≥ 2×N"})
    approval = ma.fields.String(required=True)
    revote = ma.fields.String(required=True)
    revote_name = Label("voting", "revote", required=True)
    silent_with_majority = ma.fields.Boolean(required=True)
    silent_rule_clause = ma.fields.String(allow_none=True)
    spoiled_counts_as = ma.fields.String(required=True)
    spoiled_counts_as_name = Label("voting", "spoiled_counts_as", required=True)


class ResultOut(ma.Schema):
    class Meta:
        unknown = ma.INCLUDE

    motion_id = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True)
    status_name = Label("voting", "status", required=True)
    decision = ma.fields.String(required=True, metadata={"enum": ["passed", "rejected", "failed_participation"]})
    decision_name = Label("voting", "decision", required=True, metadata={"example": "通过"})
    passed = ma.fields.Boolean(required=True)
    total_area = ma.fields.String(required=True)
    total_heads = ma.fields.Integer(required=True)
    participation = ma.fields.Dict(required=True)
    approval = ma.fields.Dict()
    ledgers = ma.fields.Dict(required=True)
    channels = ma.fields.Dict(required=True)
    candidates = ma.fields.List(ma.fields.Dict())
    seated = ma.fields.List(ma.fields.Integer())
    tie_for_last_seat = ma.fields.Boolean()
    silent_counted_with_majority = ma.fields.Dict(allow_none=True)
    buildings = ma.fields.List(ma.fields.Dict(), required=True)
    rule = ma.fields.Nested(ResultRuleOut, required=True)
    area_unit = ma.fields.String(required=True)
    item = ma.fields.Integer(required=True)
    item_name = ma.fields.String(required=True)
    approval_rule = ma.fields.String(required=True)
    approval_rule_name = Label("voting", "approval_rule", required=True)
    snapshot_hash = ma.fields.String(allow_none=True)
    chain_head = ma.fields.String(required=True)
    chain_length = ma.fields.Integer(required=True)
    published_at = Timestamp(allow_none=True)
    publish_until = Timestamp(allow_none=True)
    announcement = ma.fields.String(required=True, metadata={"description": "The printable 公告 (Chinese)"})


class VerifyOut(ma.Schema):
    motion_id = ma.fields.Integer(required=True)
    valid = ma.fields.Boolean(required=True)
    events = ma.fields.Integer(required=True)
    head = ma.fields.String(required=True)
    pending = ma.fields.Integer(required=True, metadata={
        "description": "Ballots cast since the last linking batch (each checked against its own digest; "
                       "linked within a minute, and always before the count)"})
    problems = ma.fields.List(ma.fields.Dict(), required=True)


class ReelectionIn(ma.Schema):
    action = ma.fields.String(required=True, validate=validate.OneOf(("start", "end")))


class ReelectionOut(ma.Schema):
    estate_id = ma.fields.Integer(required=True)
    active = ma.fields.Boolean(required=True)
