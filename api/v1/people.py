"""The resident's own account (/me), unit claims, family links, residents for staff, role assignments."""
from __future__ import annotations

from flask import current_app
from flask.views import MethodView

from api.docs import errors
from api.errors import language
from api.extensions import Blueprint
from api.responses import json_response
from api.schemas.common import PageArgs, id_in_path, page_of, paged
from api.schemas.people import (CLAIM_EXAMPLE, LINK_EXAMPLE, ME_EXAMPLE, DecisionIn, FamilyLinkIn, FamilyLinkOut,
                                LinkDecisionIn, MeOut, PhoneIn, ProfileIn, ProfileOut, ResidentArgs, ResidentOut,
                                RoleAssignmentIn, RoleAssignmentOut, UnitClaimArgs, UnitClaimIn, UnitClaimOut,
                                VerificationIn)
from api.schemas.privacy import CLOSURE, ClosureOut
from api.security import auth_required, current_actor
from service import account_closure, people

blp = Blueprint("people", __name__, url_prefix="/api/v1", description="Residents, owners and roles")


def page_example(item):
    return {"items": [item], "page": 1, "page_size": 20, "total": 1}


@blp.route("/me")
class Me(MethodView):
    @blp.response(200, MeOut, example=ME_EXAMPLE)
    @errors(blp, 401)
    @auth_required()
    def get(self):
        """My account

        Profile (personal data masked where appropriate), roles and their scopes.
        """
        # Every screen of the mini-program starts here: built JSON-ready and sent as it is (MeOut documents it).
        return json_response(people.me(current_actor(), language()))

    @blp.response(202, ClosureOut, example=CLOSURE)
    @errors(blp, 401, 429)
    @auth_required()
    def delete(self):
        """Close my account (PIPL Art. 47)

        Starts a closure that I can cancel for 7 days (`DELETE /api/v1/me/closure`). Then my personal data is
        erased or anonymised, all at once: my profile, WeChat identity, roles, family links, consents, inbox,
        meal card and unattached photos go; meals still to come are cancelled; what a law or a counted result
        needs stays without what identifies me (`kept` says what and why). Asked again, it is the same closure.
        """
        return account_closure.present(account_closure.request(current_actor()), language()), 202

    @blp.arguments(ProfileIn)
    @blp.response(200, ProfileOut, example=ME_EXAMPLE["profile"])
    @errors(blp, 401, 422, 429)
    @auth_required()
    def patch(self, data):
        """Edit my profile

        Name and address change at once. A birth date or neighbourhood is stored as declared and an ID
        number (checked, stored encrypted, shown masked) as unverified: they count for meals and voting
        once 居委会 staff verified them against a document (`verification` says what is verified).
        A request with nothing to change is a 422.
        """
        return people.update_profile(current_actor(), data)


@blp.route("/auth/phone")
class Phone(MethodView):
    @blp.arguments(PhoneIn)
    @blp.response(200, ProfileOut, example=ME_EXAMPLE["profile"])
    @errors(blp, 400, 401, 403, 429, 502, 503)
    @auth_required()
    def post(self, data):
        """Bind my phone number

        Exchanges a getPhoneNumber one-time code at WeChat (server access token
        from stable_token, cached and shared by every process).
        """
        return people.bind_phone(current_actor(), current_app.extensions["wechat"], data["code"])


@blp.route("/me/unit-claims")
class MyUnitClaims(MethodView):
    @blp.arguments(UnitClaimIn)
    @blp.response(201, UnitClaimOut, example=CLAIM_EXAMPLE)
    @errors(blp, 401, 409, 429)
    @auth_required()
    def post(self, data):
        """Claim a unit I own

        Staff of the unit's neighbourhood check the certificate and approve or reject.
        """
        actor = current_actor()
        return people.present_claim(actor, people.create_unit_claim(actor, **data))

    @blp.arguments(UnitClaimArgs, location="query")
    @blp.response(200, page_of(UnitClaimOut), example=page_example(CLAIM_EXAMPLE))
    @errors(blp, 401)
    @auth_required()
    def get(self, args):
        """My unit claims"""
        actor = current_actor()
        items, total = people.list_unit_claims(actor, status=args.get("status"), mine=True,
                                               page=args["page"], page_size=args["page_size"])
        return paged([people.present_claim(actor, c) for c in items], total, args)


@blp.route("/unit-claims")
class UnitClaims(MethodView):
    @blp.arguments(UnitClaimArgs, location="query")
    @blp.response(200, page_of(UnitClaimOut), example=page_example(CLAIM_EXAMPLE))
    @errors(blp, 401, 403)
    @auth_required("staff", "admin")
    def get(self, args):
        """Unit claims in my neighbourhoods (staff)"""
        actor = current_actor()
        items, total = people.list_unit_claims(actor, status=args.get("status"), mine=False,
                                               page=args["page"], page_size=args["page_size"])
        return paged([people.present_claim(actor, c) for c in items], total, args)


@blp.route(f"/unit-claims/{id_in_path('claim_id')}")
class UnitClaimItem(MethodView):
    @blp.response(200, UnitClaimOut, example=CLAIM_EXAMPLE)
    @errors(blp, 401, 404)
    @auth_required()
    def get(self, claim_id):
        """One unit claim (its claimant or staff in scope)"""
        actor = current_actor()
        return people.present_claim(actor, people.get_unit_claim(actor, claim_id))


@blp.route(f"/unit-claims/{id_in_path('claim_id')}/decision")
class UnitClaimDecision(MethodView):
    @blp.arguments(DecisionIn)
    @blp.response(200, UnitClaimOut, example={**CLAIM_EXAMPLE, "status": "approved"})
    @errors(blp, 401, 403, 404, 409, 429)
    @auth_required("staff", "admin")
    def post(self, data, claim_id):
        """Approve or reject a unit claim (staff in scope)

        Approval makes the claimant an owner of the estate; rejection needs a reason. Audited.
        """
        actor = current_actor()
        claim = people.decide_unit_claim(actor, claim_id, approve=data["approve"], reason=data.get("reason"))
        return people.present_claim(actor, claim)


@blp.route("/me/family-links")
class MyFamilyLinks(MethodView):
    @blp.arguments(FamilyLinkIn)
    @blp.response(201, FamilyLinkOut, example=LINK_EXAMPLE)
    @errors(blp, 401, 409, 429)
    @auth_required()
    def post(self, data):
        """Ask to act for an elder relative

        The elder is found by name and phone number; the elder or their
        neighbourhood's staff confirm.
        """
        return people.request_family_link(current_actor(), **data)

    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_of(FamilyLinkOut), example=page_example(LINK_EXAMPLE))
    @errors(blp, 401)
    @auth_required()
    def get(self, args):
        """My family links (as proxy or as elder)"""
        items, total = people.list_family_links(current_actor(), page=args["page"], page_size=args["page_size"])
        return paged(items, total, args)


@blp.route(f"/family-links/{id_in_path('link_id')}")
class FamilyLinkItem(MethodView):
    @blp.response(200, FamilyLinkOut, example=LINK_EXAMPLE)
    @errors(blp, 401, 404)
    @auth_required()
    def get(self, link_id):
        """One family link"""
        return people.get_family_link(current_actor(), link_id)


@blp.route(f"/family-links/{id_in_path('link_id')}/decision")
class FamilyLinkDecision(MethodView):
    @blp.arguments(LinkDecisionIn)
    @blp.response(200, FamilyLinkOut, example={**LINK_EXAMPLE, "status": "confirmed"})
    @errors(blp, 401, 403, 404, 409, 429)
    @auth_required()
    def post(self, data, link_id):
        """Confirm or reject a family link (the elder, or staff in scope)"""
        return people.decide_family_link(current_actor(), link_id, confirm=data["confirm"], reason=data.get("reason"))


@blp.route(f"/family-links/{id_in_path('link_id')}/revoke")
class FamilyLinkRevoke(MethodView):
    @blp.response(200, FamilyLinkOut, example={**LINK_EXAMPLE, "status": "revoked"})
    @errors(blp, 401, 404, 409, 429)
    @auth_required()
    def post(self, link_id):
        """End a family link (either party, or staff in scope)"""
        return people.revoke_family_link(current_actor(), link_id)


@blp.route("/residents")
class Residents(MethodView):
    @blp.arguments(ResidentArgs, location="query")
    @blp.response(200, page_of(ResidentOut), example=page_example({"id": 7, "profile": ME_EXAMPLE["profile"]}))
    @errors(blp, 401, 403)
    @auth_required("staff", "admin")
    def get(self, args):
        """Residents of my neighbourhoods (staff)

        Residents whose verified or declared neighbourhood is in my scope; `awaiting_verification=true`
        lists those with something to verify.
        """
        actor = current_actor()
        items, total = people.list_residents(actor, neighbourhood_id=args.get("neighbourhood_id"),
                                             awaiting_verification=args.get("awaiting_verification"),
                                             page=args["page"], page_size=args["page_size"])
        return paged([{"id": p.user_id, "profile": people.present_profile(p, actor, subject_user_id=p.user_id)}
                      for p in items], total, args)


@blp.route(f"/residents/{id_in_path('user_id')}")
class ResidentItem(MethodView):
    @blp.response(200, ResidentOut, example={"id": 7, "profile": ME_EXAMPLE["profile"]})
    @errors(blp, 401, 404)
    @auth_required()
    def get(self, user_id):
        """One resident (themself, a confirmed relative, or staff in scope; staff views are audited)"""
        return people.get_resident(current_actor(), user_id)


@blp.route(f"/residents/{id_in_path('user_id')}/verification")
class ResidentVerification(MethodView):
    @blp.arguments(VerificationIn, example={"documents": ["id_card", "household_register"],
                                            "id_number": "310107194603120126", "neighbourhood_id": 5,
                                            "unit_id": 1201, "note": "上门核对原件"})
    @blp.response(200, ResidentOut, example={"id": 7, "profile": ME_EXAMPLE["profile"]})
    @errors(blp, 401, 403, 404, 422, 429)
    @auth_required("staff", "admin")
    def post(self, data, user_id):
        """Record what I verified against a document (居委会 staff; audited)

        The ID number (its birth date comes with it), a birth date, the neighbourhood and unit the
        resident lives in become the verified values, stamped with who and when; the resident's
        declared values are cleared. For residents whose verified or declared neighbourhood I cover,
        never myself.
        """
        return people.verify_resident(current_actor(), user_id, **data)


@blp.route("/role-assignments")
class RoleAssignments(MethodView):
    @blp.arguments(RoleAssignmentIn)
    @blp.response(201, RoleAssignmentOut, example={"id": 5, "user_id": 9, "role": "staff",
                                                   "scope_type": "neighbourhood", "scope_id": 4,
                                                   "title": "grid_worker"})
    @errors(blp, 401, 403, 409, 429)
    @auth_required("admin")
    def post(self, data):
        """Grant a role with a scope (admin, within their own scope; audited)"""
        return people.grant_role(current_actor(), **data)


@blp.route(f"/role-assignments/{id_in_path('assignment_id')}")
class RoleAssignmentItem(MethodView):
    @blp.response(204, example=None)
    @errors(blp, 401, 403, 404, 429)
    @auth_required("admin")
    def delete(self, assignment_id):
        """Revoke a role assignment (admin; audited)"""
        people.revoke_role(current_actor(), assignment_id)
        return None
