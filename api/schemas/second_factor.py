"""The second factor's schemas (api/v1/second_factor.py); its code comes in as ``api.schemas.auth.CodeIn``."""
from __future__ import annotations

import marshmallow as ma

from api.schemas.auth import TokensOut
from api.schemas.common import Labels, Timestamp


class SecondFactorStartOut(ma.Schema):
    secret = ma.fields.String(required=True, metadata={"description": "Base32, for typing into the authenticator"})
    otpauth_uri = ma.fields.String(required=True)
    qr_svg = ma.fields.String(required=True, metadata={"description": "The URI as a QR code: an SVG data URI"})


class SecondFactorStatusOut(ma.Schema):
    required = ma.fields.Boolean(required=True, metadata={"description": "Whether the caller's roles need it here"})
    roles = ma.fields.List(ma.fields.String(), required=True)
    roles_names = Labels("people", "roles", required=True)
    enrolled = ma.fields.Boolean(required=True)
    confirmed_at = Timestamp(allow_none=True)
    recovery_codes_left = ma.fields.Integer(required=True)
    verified = ma.fields.Boolean(required=True, metadata={"description": "Whether this token carries it"})


class SecondFactorConfirmedOut(TokensOut):
    recovery_codes = ma.fields.List(ma.fields.String(), required=True, metadata={
        "description": "Ten one-time codes for when the phone is lost: shown this once"})
