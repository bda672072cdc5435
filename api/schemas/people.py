"""People schemas: /me, profile, unit claims, family links, residents, role assignments."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from api.schemas.common import Id, Label, PageArgs, Timestamp
from models.people import CLAIM_STATUSES, VERIFICATION_DOCUMENTS
from service import people


class ScopeOut(ma.Schema):
    type = ma.fields.String(required=True, metadata={"example": "neighbourhood"})
    type_name = Label("people", "type", required=True, metadata={"example": "居委会"})
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(allow_none=True, metadata={"example": "香泉路居委会"})


class RoleOut(ma.Schema):
    role = ma.fields.String(required=True, metadata={"example": "staff"})
    role_name = Label("people", "role", required=True, metadata={"example": "工作人员"})
    scopes = ma.fields.List(ma.fields.Nested(ScopeOut), required=True)


VERIFICATION_STATUSES = ("verified", "pending", "missing")


class CheckOut(ma.Schema):
    status = ma.fields.String(required=True, metadata={
        "enum": list(VERIFICATION_STATUSES),
        "description": "verified by 居委会 staff; pending: typed by the resident, awaiting verification; missing"})
    status_name = Label("people", "status", required=True, metadata={"example": "已核验"})
    verified_by = ma.fields.Integer(allow_none=True, metadata={"description": "The staff member who checked it"})
    verified_at = Timestamp(allow_none=True)


class VerificationOut(ma.Schema):
    identity = ma.fields.Nested(CheckOut, required=True, metadata={"description": "The ID number"})
    birth_date = ma.fields.Nested(CheckOut, required=True)
    residence = ma.fields.Nested(CheckOut, required=True, metadata={"description": "Neighbourhood and unit"})


class ProfileOut(ma.Schema):
    name = ma.fields.String(allow_none=True, metadata={"description": "Masked unless you may see it"})
    phone = ma.fields.String(allow_none=True, metadata={"description": "Masked (138****5678) unless you may see it"})
    phone_verified = ma.fields.Boolean(required=True)
    id_number = ma.fields.String(allow_none=True, metadata={"description": "Always masked"})
    birth_date = ma.fields.Date(allow_none=True, metadata={"description": "Verified by 居委会 staff"})
    neighbourhood_id = ma.fields.Integer(allow_none=True, metadata={"description": "Verified by 居委会 staff"})
    unit_id = ma.fields.Integer(allow_none=True, metadata={"description": "Verified by 居委会 staff"})
    address = ma.fields.String(allow_none=True)
    declared_birth_date = ma.fields.Date(allow_none=True, metadata={
        "description": "Typed by the resident; counts once 居委会 staff verify it"})
    declared_neighbourhood_id = ma.fields.Integer(allow_none=True, metadata={
        "description": "Typed by the resident; counts once 居委会 staff verify it"})
    verification = ma.fields.Nested(VerificationOut, required=True)


class MeOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    username = ma.fields.String(allow_none=True)
    nickname = ma.fields.String(allow_none=True)
    verified = ma.fields.Boolean(required=True)
    roles = ma.fields.List(ma.fields.Nested(RoleOut), required=True)
    profile = ma.fields.Nested(ProfileOut, required=True)
    created_at = Timestamp(required=True)


ME_EXAMPLE = {"id": 7, "username": None, "nickname": "王阿姨", "verified": True,
              "roles": [{"role": "resident", "scopes": []},
                        {"role": "owner", "scopes": [{"type": "estate", "id": 3, "name": "香泉苑"}]}],
              "profile": {"name": "王秀英", "phone": "13812345678", "phone_verified": True,
                          "id_number": "310***********1234", "birth_date": "1952-03-14", "neighbourhood_id": 5,
                          "unit_id": 1201, "address": "香泉路 88 弄 3 号 502 室", "declared_birth_date": None,
                          "declared_neighbourhood_id": None,
                          "verification": {
                              "identity": {"status": "verified", "verified_by": 12,
                                           "verified_at": "2026-11-02T03:00:00+00:00"},
                              "birth_date": {"status": "verified", "verified_by": 12,
                                             "verified_at": "2026-11-02T03:00:00+00:00"},
                              "residence": {"status": "verified", "verified_by": 12,
                                            "verified_at": "2026-11-02T03:00:00+00:00"}}},
              "created_at": "2026-11-01T09:30:00+00:00"}


class ProfileIn(ma.Schema):
    name = ma.fields.String(validate=validate.Length(min=1, max=64))
    birth_date = ma.fields.Date(metadata={"description": "Stored as declared (1900-01-01 to today) until 居委会 "
                                                        "staff verify it"})
    id_number = ma.fields.String(validate=validate.Length(equal=18), metadata={
        "description": "Checked, stored encrypted and unverified until 居委会 staff check the card"})
    neighbourhood_id = Id(allow_none=True, metadata={
        "description": "Where I live: stored as declared until 居委会 staff verify it (null withdraws it)"})
    address = ma.fields.String(allow_none=True, validate=validate.Length(max=200))


class VerificationIn(ma.Schema):
    documents = ma.fields.List(ma.fields.String(validate=validate.OneOf(VERIFICATION_DOCUMENTS)), required=True,
                               validate=validate.Length(min=1, max=len(VERIFICATION_DOCUMENTS)),
                               metadata={"description": "The documents checked: 居民身份证 id_card, 户口簿 "
                                                        "household_register, 居住证 residence_permit, 不动产权证 "
                                                        "property_certificate, 租赁合同 tenancy_contract, other"})
    id_number = ma.fields.String(validate=validate.Length(equal=18), metadata={
        "description": "The number on the ID card checked; its birth date is verified with it"})
    birth_date = ma.fields.Date(metadata={"description": "As the document shows it"})
    neighbourhood_id = Id(metadata={"description": "Where the resident lives (in your scope)"})
    unit_id = Id(metadata={"description": "The unit the resident lives in"})
    note = ma.fields.String(allow_none=True, validate=validate.Length(max=200))


class PhoneIn(ma.Schema):
    code = ma.fields.String(required=True, validate=validate.Length(min=1, max=128),
                            metadata={"description": "The one-time code from getPhoneNumber"})


class UnitClaimIn(ma.Schema):
    unit_id = Id(required=True)
    certificate_no = ma.fields.String(required=True, validate=validate.Length(min=4, max=64),
                                      metadata={"description": "不动产权证书号", "example": "沪(2019)普字不动产权第012345号"})
    owner_name = ma.fields.String(required=True, validate=validate.Length(min=1, max=64),
                                  metadata={"description": "The name on the certificate"})


class UnitClaimOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    user_id = ma.fields.Integer(required=True)
    unit_id = ma.fields.Integer(required=True)
    certificate_no = ma.fields.String(required=True)
    owner_name = ma.fields.String(required=True)
    status = ma.fields.String(required=True, metadata={"enum": list(CLAIM_STATUSES)})
    status_name = Label("people", "status", required=True)
    reason = ma.fields.String(allow_none=True)
    register_match = ma.fields.Boolean(allow_none=True,
                                       metadata={"description": "Staff only: the register holds this certificate and name"})
    created_at = Timestamp(required=True)
    decided_at = Timestamp(allow_none=True)


CLAIM_EXAMPLE = {"id": 11, "user_id": 7, "unit_id": 1201, "certificate_no": "沪(2019)普字不动产权第012345号",
                 "owner_name": "王秀英", "status": "pending", "reason": None, "register_match": None,
                 "created_at": "2026-11-20T02:00:00+00:00", "decided_at": None}


class UnitClaimArgs(PageArgs):
    status = ma.fields.String(validate=validate.OneOf(CLAIM_STATUSES))


class DecisionIn(ma.Schema):
    approve = ma.fields.Boolean(required=True)
    reason = ma.fields.String(allow_none=True, validate=validate.Length(max=200))


class FamilyLinkIn(ma.Schema):
    elder_name = ma.fields.String(required=True, validate=validate.Length(min=1, max=64))
    elder_phone = ma.fields.String(required=True, validate=validate.Regexp(r"^1\d{10}$"),
                                   metadata={"example": "13912345678"})
    relation = ma.fields.String(required=True, validate=validate.OneOf(
        ["child", "spouse", "grandchild", "sibling", "other"]))


class FamilyLinkOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    proxy_user_id = ma.fields.Integer(required=True)
    elder_user_id = ma.fields.Integer(required=True)
    relation = ma.fields.String(required=True)
    relation_name = Label("people", "relation", required=True)
    status = ma.fields.String(required=True)
    status_name = Label("people", "status", required=True)
    reason = ma.fields.String(allow_none=True)
    created_at = Timestamp(required=True)
    decided_at = Timestamp(allow_none=True)


LINK_EXAMPLE = {"id": 3, "proxy_user_id": 8, "elder_user_id": 7, "relation": "child", "status": "pending",
                "reason": None, "created_at": "2026-11-20T02:00:00+00:00", "decided_at": None}


class LinkDecisionIn(ma.Schema):
    confirm = ma.fields.Boolean(required=True)
    reason = ma.fields.String(allow_none=True, validate=validate.Length(max=200))


class ResidentOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    profile = ma.fields.Nested(ProfileOut, required=True)


class ResidentArgs(PageArgs):
    neighbourhood_id = Id()
    awaiting_verification = ma.fields.Boolean(metadata={
        "description": "Only residents with a declared birth date or neighbourhood or an unverified ID number "
                       "(false: only those without)"})


class RoleAssignmentIn(ma.Schema):
    user_id = Id(required=True)
    role = ma.fields.String(required=True, validate=validate.OneOf(people.granted_roles()))
    scope_type = ma.fields.String(required=True, validate=validate.OneOf(people.scope_types()))
    scope_id = Id(required=True)
    title = ma.fields.String(allow_none=True, validate=validate.Length(max=32),
                             metadata={"example": "grid_worker"})


class RoleAssignmentOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    user_id = ma.fields.Integer(required=True)
    role = ma.fields.String(required=True)
    role_name = Label("people", "role", required=True)
    scope_type = ma.fields.String(required=True)
    scope_type_name = Label("people", "scope_type", required=True)
    scope_id = ma.fields.Integer(required=True)
    title = ma.fields.String(allow_none=True)
