"""Open311 partner API key schemas."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from api.schemas.common import Id, Label, Timestamp


class Open311KeyIn(ma.Schema):
    partner = ma.fields.String(required=True, validate=validate.Length(min=1, max=100),
                               metadata={"description": "The partner system the key is for",
                                         "example": "普陀区12345热线工单系统"})
    scope_type = ma.fields.String(validate=validate.OneOf(("street", "district")), metadata={
        "description": "The admin scope the key lies in; by default the issuer's only admin scope "
                       "(required when the issuer administers several places)"})
    scope_id = Id(metadata={"description": "The street's or district's id"})


class Open311KeyOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    partner = ma.fields.String(required=True)
    key_prefix = ma.fields.String(required=True, metadata={
        "description": "The first 8 characters of the key, to recognise it"})
    scope_type = ma.fields.String(allow_none=True, metadata={
        "description": "street or district: its admins (and the issuer) may revoke the key"})
    scope_type_name = Label("people", "scope_type", allow_none=True)
    scope_id = ma.fields.Integer(allow_none=True)
    created_at = Timestamp(required=True)
    created_by = ma.fields.Integer(allow_none=True)
    revoked_at = Timestamp(allow_none=True)
    last_used_at = Timestamp(allow_none=True)


class Open311KeyCreatedOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    partner = ma.fields.String(required=True)
    key = ma.fields.String(required=True, metadata={
        "description": "The API key itself. Shown once: only its hash is stored"})
    key_prefix = ma.fields.String(required=True)
    scope_type = ma.fields.String(required=True)
    scope_type_name = Label("people", "scope_type", required=True)
    scope_id = ma.fields.Integer(required=True)
    created_at = Timestamp(required=True)
