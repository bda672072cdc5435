"""Request and answer schemas of elder care: the roster of elders living alone and their 民生档案."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from api.schemas.common import Id, Label, PageArgs, Timestamp
from models.care import AWAY_REASONS, END_REASONS, LIVING, RELATIONS, RISK_TIERS, STATUSES
from service import labels
from service.i18n import Text

# What staff checked when they verified how the elder lives.
VERIFIED_ON = ("home_visit", "household_register", "id_card", "other")
# A mobile number, or a landline with its area code.
PHONE = validate.Regexp(r"^1\d{10}$|^0\d{2,3}-?\d{7,8}$")


def _tier_name(code, lang):
    return labels.name("care", "risk_tier", str(code), lang)


def _moment(**kwargs) -> ma.fields.AwareDateTime:
    return ma.fields.AwareDateTime(validate=validate.Range(
        min=ma.fields.AwareDateTime().deserialize("2000-01-01T00:00:00+08:00"),
        max=ma.fields.AwareDateTime().deserialize("2100-01-01T00:00:00+08:00")), **kwargs)


class ContactIn(ma.Schema):
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=64))
    relation = ma.fields.String(required=True, validate=validate.OneOf(RELATIONS))
    phone = ma.fields.String(required=True, validate=PHONE)
    user_id = Id(allow_none=True, metadata={"description": "The contact's Linli account, if they have one: they then "
                                                           "get the elder's alarms in the app"})


class PersonIn(ma.Schema):
    """An elder who has no Linli account: one is made, with the residence the staff member verifies now."""
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=64))
    phone = ma.fields.String(allow_none=True, validate=PHONE)
    address = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))
    neighbourhood_id = Id(required=True)
    unit_id = Id(allow_none=True)


class ElderIn(ma.Schema):
    user_id = Id(metadata={"description": "A resident with an account (their residence verified); or give `person`"})
    person = ma.fields.Nested(PersonIn)
    living = ma.fields.String(required=True, validate=validate.OneOf(LIVING))
    risk_tier = ma.fields.Integer(required=True, validate=validate.OneOf(RISK_TIERS))
    verified_on = ma.fields.String(required=True, validate=validate.OneOf(VERIFIED_ON))
    contacts = ma.fields.List(ma.fields.Nested(ContactIn), load_default=list, validate=validate.Length(max=5))

    @ma.validates_schema
    def _one_person(self, data, **kwargs):
        if ("user_id" in data) == ("person" in data):
            raise ma.ValidationError(Text("须且仅须提供 user_id 或 person 之一", "Give either user_id or person"), "user_id")


class ElderPatchIn(ma.Schema):
    living = ma.fields.String(validate=validate.OneOf(LIVING))
    risk_tier = ma.fields.Integer(validate=validate.OneOf(RISK_TIERS))
    verified_on = ma.fields.String(validate=validate.OneOf(VERIFIED_ON))
    contacts = ma.fields.List(ma.fields.Nested(ContactIn), validate=validate.Length(max=5))

    @ma.validates_schema
    def _something(self, data, **kwargs):
        if not data:
            raise ma.ValidationError(Text("至少修改一项", "Change at least one field"), "_schema")


class AwayIn(ma.Schema):
    away_reason = ma.fields.String(required=True, validate=validate.OneOf(AWAY_REASONS))
    away_from = _moment(metadata={"description": "Default: now"})
    away_until = _moment(allow_none=True, metadata={"description": "Open-ended when absent (until cleared)"})


class EndIn(ma.Schema):
    end_reason = ma.fields.String(required=True, validate=validate.OneOf(END_REASONS))
    note = ma.fields.String(validate=validate.Length(max=200))


class RosterArgs(PageArgs):
    neighbourhood_id = Id()
    living = ma.fields.String(validate=validate.OneOf(LIVING))
    risk_tier = ma.fields.Integer(validate=validate.OneOf(RISK_TIERS))
    status = ma.fields.String(load_default="active", validate=validate.OneOf(STATUSES))
    away = ma.fields.Boolean()


class ElderSummaryOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    user_id = ma.fields.Integer(required=True)
    name = ma.fields.String(allow_none=True)
    phone = ma.fields.String(allow_none=True, metadata={"description": "Masked"})
    neighbourhood_id = ma.fields.Integer(required=True)
    neighbourhood_name = ma.fields.String(allow_none=True)
    living = ma.fields.String(required=True)
    living_name = Label("care", "living", required=True)
    risk_tier = ma.fields.Integer(required=True)
    risk_tier_name = Label(source="risk_tier", lookup=_tier_name, required=True)
    status = ma.fields.String(required=True)
    status_name = Label("care", "status", required=True)
    away = ma.fields.Boolean(required=True)
    away_reason = ma.fields.String(allow_none=True)
    away_reason_name = Label("care", "away_reason", allow_none=True)
    away_until = Timestamp(allow_none=True)


class ContactOut(ma.Schema):
    position = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    relation = ma.fields.String(required=True)
    relation_name = Label("care", "relation", required=True)
    phone = ma.fields.String(required=True)
    user_id = ma.fields.Integer(allow_none=True)


class VisitorOut(ma.Schema):
    pairing_id = ma.fields.Integer(required=True)
    user_id = ma.fields.Integer(required=True)
    name = ma.fields.String(allow_none=True)
    role = ma.fields.String(required=True)
    role_name = Label("care", "role", required=True)
    starts_on = ma.fields.String(required=True)


class DeviceBriefOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    kind = ma.fields.String(required=True)
    kind_name = Label("care", "kind", required=True)
    room = ma.fields.String(allow_none=True)
    last_seen_at = Timestamp(allow_none=True)
    needs_maintenance = ma.fields.Boolean(required=True)


class ElderOut(ma.Schema):
    """An elder as the caller may see them (`standing`): a visitor gets name, phone and address; family adds how
    the elder lives, their absence and devices; the elder adds their contacts; staff in scope everything."""
    id = ma.fields.Integer(required=True)
    standing = ma.fields.String(required=True, metadata={"enum": ["staff", "visitor", "family", "self"]})
    standing_name = Label("care", "standing", required=True)
    name = ma.fields.String(allow_none=True)
    phone = ma.fields.String(allow_none=True)
    address = ma.fields.String(allow_none=True)
    living = ma.fields.String()
    living_name = Label("care", "living")
    status = ma.fields.String()
    status_name = Label("care", "status")
    away = ma.fields.Boolean()
    away_from = Timestamp(allow_none=True)
    away_until = Timestamp(allow_none=True)
    away_reason = ma.fields.String(allow_none=True)
    away_reason_name = Label("care", "away_reason", allow_none=True)
    devices = ma.fields.List(ma.fields.Nested(DeviceBriefOut))
    contacts = ma.fields.List(ma.fields.Nested(ContactOut))
    consent = ma.fields.Boolean(metadata={"description": "The elder's separate consent to health notes and devices"})
    user_id = ma.fields.Integer()
    neighbourhood_id = ma.fields.Integer()
    risk_tier = ma.fields.Integer()
    risk_tier_name = Label(source="risk_tier", lookup=_tier_name)
    verified_on = ma.fields.String()
    verified_on_name = Label("care", "verified_on")
    verified_at = Timestamp()
    verified_by = ma.fields.Integer()
    ended_at = Timestamp(allow_none=True)
    end_reason = ma.fields.String(allow_none=True)
    end_reason_name = Label("care", "end_reason", allow_none=True)
    visitors = ma.fields.List(ma.fields.Nested(VisitorOut))
    file_version = ma.fields.Integer()


class MemberIn(ma.Schema):
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=64))
    relation = ma.fields.String(required=True, validate=validate.OneOf(RELATIONS))
    lives_in = ma.fields.Boolean(required=True)


class FileIn(ma.Schema):
    based_on = ma.fields.Integer(required=True, validate=validate.Range(min=0),
                                 metadata={"description": "The version read before editing (0 for the first): a "
                                                          "newer one written since is 409 care.file_changed"})
    household = ma.fields.List(ma.fields.Nested(MemberIn), load_default=list, validate=validate.Length(max=20))
    benefits = ma.fields.List(ma.fields.String(validate=validate.Length(min=1, max=32)), load_default=list,
                              validate=validate.Length(max=20),
                              metadata={"description": "低保, 特困供养, 高龄津贴, 残疾人补贴, …"})
    housing = ma.fields.String(allow_none=True, validate=validate.Length(max=200))
    needs = ma.fields.String(allow_none=True, validate=validate.Length(max=500))
    health = ma.fields.String(allow_none=True, validate=validate.Length(max=2000),
                              metadata={"description": "Health and care notes: stored encrypted; need the elder's "
                                                       "care consent"})


class FileVersionOut(ma.Schema):
    version = ma.fields.Integer(required=True)
    written_at = Timestamp(required=True)
    written_by = ma.fields.Integer(required=True)


class MemberOut(ma.Schema):
    name = ma.fields.String(required=True)
    relation = ma.fields.String(required=True)
    relation_name = Label("care", "relation", required=True)
    lives_in = ma.fields.Boolean(required=True)


class FileOut(ma.Schema):
    elder_id = ma.fields.Integer(required=True)
    version = ma.fields.Integer(required=True, metadata={"description": "0: no file yet"})
    household = ma.fields.List(ma.fields.Nested(MemberOut), required=True)
    benefits = ma.fields.List(ma.fields.String(), required=True)
    housing = ma.fields.String(allow_none=True)
    needs = ma.fields.String(allow_none=True)
    health = ma.fields.String(allow_none=True, metadata={"description": "Null without the elder's care consent"})
    written_by = ma.fields.Integer(allow_none=True)
    written_by_name = ma.fields.String(allow_none=True)
    written_at = Timestamp(allow_none=True)
    visit_id = ma.fields.Integer(allow_none=True)
    versions = ma.fields.List(ma.fields.Nested(FileVersionOut), required=True)


class FileArgs(ma.Schema):
    version = ma.fields.Integer(validate=validate.Range(min=1, max=1_000_000))
