"""Audit log schemas."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from api.schemas.common import Id, Label, PageArgs, Timestamp


class AuditArgs(PageArgs):
    object_type = ma.fields.String(validate=validate.Length(max=32))
    object_id = ma.fields.String(validate=validate.Length(max=64))
    actor_user_id = Id()


class AuditEntryOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    at = Timestamp(required=True)
    actor_user_id = ma.fields.Integer(allow_none=True)
    actor_role = ma.fields.String(allow_none=True)
    actor_role_name = Label("audit", "actor_role", allow_none=True)
    action = ma.fields.String(required=True)
    action_name = Label("audit", "action", required=True)
    object_type = ma.fields.String(required=True)
    object_type_name = Label("audit", "object_type", required=True)
    object_id = ma.fields.String(allow_none=True)
    before = ma.fields.Dict(allow_none=True)
    after = ma.fields.Dict(allow_none=True)


class DataAccessOut(ma.Schema):
    """One time staff viewed or changed the caller's personal data."""
    id = ma.fields.Integer(required=True)
    at = Timestamp(required=True)
    action = ma.fields.String(required=True)
    action_name = Label("audit", "action", required=True)
    actor_role = ma.fields.String(allow_none=True, metadata={"description": "The role the person acted in"})
    actor_role_name = Label("audit", "actor_role", allow_none=True)
    actor_name = ma.fields.String(allow_none=True, metadata={
        "description": "Who it was: given only for the roles config/rules/privacy.yaml names (居委会 staff)"})
    object_type = ma.fields.String(required=True)
    object_type_name = Label("audit", "object_type", required=True)
    object_id = ma.fields.String(allow_none=True)
    street_id = ma.fields.Integer(allow_none=True)
    street_name = ma.fields.String(allow_none=True, metadata={"description": "The street the object lay in"})
