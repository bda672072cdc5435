"""Schemas of a person's rights over their personal data (api/v1/privacy.py): the privacy notice, consents,
copies of one's data and account closure."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from api.schemas.common import Id, Label, Labels, Timestamp
from service import consent


def _purpose_name(code, lang):
    purpose = consent.notice().purposes.get(code)
    return None if purpose is None else (purpose.name[1] if lang == "en" else purpose.name[0])


class PurposeOut(ma.Schema):
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    text = ma.fields.String(required=True)
    required = ma.fields.Boolean(required=True, metadata={"description": "Given by accepting the notice"})
    sensitive = ma.fields.Boolean(required=True, metadata={"description": "Needs its own consent (PIPL Art. 29)"})
    by_self = ma.fields.Boolean(required=True, metadata={
        "description": "False: only someone for the person gives it (a guardian, for a child's data)"})


class NoticeOut(ma.Schema):
    version = ma.fields.String(required=True)
    published = ma.fields.Date(required=True)
    title = ma.fields.String(required=True)
    controller = ma.fields.String(required=True)
    sections = ma.fields.List(ma.fields.String(), required=True)
    purposes = ma.fields.List(ma.fields.Nested(PurposeOut), required=True)
    evidence = ma.fields.List(ma.fields.String(), required=True, metadata={
        "description": "Documents staff may name when they record a consent given on paper"})
    evidence_names = Labels("privacy", "evidence", required=True)


class ConsentOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    purpose = ma.fields.String(required=True)
    purpose_name = Label(lookup=_purpose_name, source="purpose", allow_none=True)
    notice_version = ma.fields.String(required=True)
    given_at = Timestamp(required=True)
    channel = ma.fields.String(required=True, metadata={"enum": ["self", "family", "staff"]})
    channel_name = Label("privacy", "channel", required=True)
    evidence = ma.fields.String(allow_none=True)
    evidence_name = Label("privacy", "evidence", allow_none=True)
    evidence_photo = ma.fields.String(allow_none=True, metadata={"description": "The signed form, if photographed"})
    withdrawn_at = Timestamp(allow_none=True)


class PurposeStateOut(ma.Schema):
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    required = ma.fields.Boolean(required=True)
    sensitive = ma.fields.Boolean(required=True)
    given = ma.fields.Boolean(required=True)
    consent = ma.fields.Nested(ConsentOut, allow_none=True)


class ConsentsOut(ma.Schema):
    user_id = ma.fields.Integer(required=True)
    accepted_version = ma.fields.String(allow_none=True, metadata={"description": "The notice version accepted"})
    current_version = ma.fields.String(required=True)
    needs_acceptance = ma.fields.Boolean(required=True, metadata={
        "description": "The current notice is not accepted yet: show it"})
    purposes = ma.fields.List(ma.fields.Nested(PurposeStateOut), required=True)
    history = ma.fields.List(ma.fields.Nested(ConsentOut), required=True, metadata={
        "description": "Consents given and withdrawn, newest first (the last 100)"})


class ConsentIn(ma.Schema):
    notice_version = ma.fields.String(required=True, validate=validate.Length(min=1, max=16), metadata={
        "description": "The version of the notice the person read (it must be the current one)"})
    purposes = ma.fields.List(ma.fields.String(validate=validate.Length(min=1, max=32)),
                              validate=validate.Length(min=1, max=10), metadata={
        "description": "The purposes consented to; left out: accepting the notice (its required purposes)"})
    evidence = ma.fields.String(validate=validate.Length(min=1, max=32), metadata={
        "description": "For staff recording it for someone: the signed document (see the notice's evidence)"})
    evidence_photo = Id(metadata={"description": "The signed form photographed or scanned (an upload of mine, "
                                                 "image or PDF): kept with the consent"})


class DataExportOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True, metadata={"enum": ["pending", "ready", "expired", "failed"]})
    status_name = Label("privacy", "export_status", source="status", required=True)
    requested_at = Timestamp(required=True)
    ready_at = Timestamp(allow_none=True)
    expires_at = Timestamp(allow_none=True, metadata={"description": "Downloadable until then"})
    size = ma.fields.Integer(allow_none=True, metadata={"description": "Bytes of the zip"})
    sha256 = ma.fields.String(allow_none=True)
    counts = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), allow_none=True, metadata={
        "description": "Rows of each document in the zip (and its photos)"})
    download = ma.fields.String(allow_none=True, metadata={"description": "Where to download it, while ready"})


class DataExportsOut(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(DataExportOut), required=True, metadata={
        "description": "My copies, newest first (the last 10)"})


class ClosureOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True, metadata={"enum": ["pending", "cancelled", "done"]})
    status_name = Label("privacy", "closure_status", source="status", required=True)
    requested_at = Timestamp(required=True)
    erase_at = Timestamp(required=True, metadata={"description": "When the account is closed (until then: cancel)"})
    cancelled_at = Timestamp(allow_none=True)
    done_at = Timestamp(allow_none=True)
    kept = ma.fields.List(ma.fields.String(), required=True, metadata={
        "description": "What closing keeps, and why (the rest is erased or anonymised)"})


CLOSURE = {"id": 2, "status": "pending", "status_name": "冷静期中（可撤销）", "requested_at": "2026-12-06T10:00:00+08:00",
           "erase_at": "2026-12-13T10:00:00+08:00", "cancelled_at": None, "done_at": None,
           "kept": ["审计日志：依法保存（网络安全法第二十一条），按保存期限表归档"]}
