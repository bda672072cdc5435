"""Login, token and demo-account schemas."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from api.schemas.common import Label, Labels


class WeChatLoginIn(ma.Schema):
    code = ma.fields.String(required=True, validate=validate.Length(min=1, max=128),
                            metadata={"description": "The code from wx.login()", "example": "0a3Xyz000abc"})


class RefreshIn(ma.Schema):
    pass


class DemoLoginIn(ma.Schema):
    username = ma.fields.String(required=True, validate=validate.Length(min=1, max=64),
                                metadata={"example": "resident.demo"})


class TokenUserOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    roles = ma.fields.List(ma.fields.String(), required=True)
    roles_names = Labels("people", "roles", required=True)
    verified = ma.fields.Boolean(required=True)
    nickname = ma.fields.String(allow_none=True)
    second_factor = ma.fields.String(required=True, validate=validate.OneOf(("verified", "pending", "not_needed")),
                                     metadata={"description": "verified: this token carries the second factor; "
                                               "pending: it leaves out the roles that need it (`withheld_roles`) "
                                               "until POST /api/v1/auth/second-factor; not_needed"})
    second_factor_name = Label("people", "second_factor", required=True)
    withheld_roles = ma.fields.List(ma.fields.String(), required=True)
    withheld_roles_names = Labels("people", "roles", source="withheld_roles", required=True)


class TokensOut(ma.Schema):
    access_token = ma.fields.String(required=True)
    refresh_token = ma.fields.String(required=True)
    token_type = ma.fields.String(required=True)
    expires_in = ma.fields.Integer(required=True, metadata={"description": "Access token lifetime in seconds"})
    user = ma.fields.Nested(TokenUserOut, required=True)


class DemoUserOut(ma.Schema):
    username = ma.fields.String(required=True)
    nickname = ma.fields.String(allow_none=True)
    roles = ma.fields.List(ma.fields.String(), required=True)
    roles_names = Labels("people", "roles", required=True)
    description = ma.fields.String(allow_none=True)


class DemoUsersOut(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(DemoUserOut), required=True)


class LogoutOut(ma.Schema):
    revoked = ma.fields.Integer(required=True, metadata={
        "description": "Revocations written: 1 for the session (every token of the login); a token issued "
                       "before sessions revokes itself and its refresh token (2)"})


TOKENS_EXAMPLE = {"access_token": "eyJhbGciOiJIUzI1NiIs...", "refresh_token": "eyJhbGciOiJIUzI1NiIs...",
                  "token_type": "Bearer", "expires_in": 7200,
                  "user": {"id": 42, "roles": ["resident"], "verified": False, "nickname": None,
                           "second_factor": "not_needed", "second_factor_name": "无需二次验证", "withheld_roles": [],
                           "withheld_roles_names": []}}


class CodeIn(ma.Schema):
    code = ma.fields.String(required=True, validate=validate.Length(min=6, max=16), metadata={
        "description": "The 6 digits the authenticator shows, or an unused recovery code (xxxxx-xxxxx)",
        "example": "492039"})
