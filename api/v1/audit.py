"""The audit log: admins read the entries placed in their scope, staff their own actions."""
from __future__ import annotations

from flask.views import MethodView

from api.docs import errors
from api.extensions import Blueprint
from api.schemas.audit import AuditArgs, AuditEntryOut, DataAccessOut
from api.schemas.common import PageArgs, page_of, paged
from api.security import auth_required, current_actor
from service import audit

blp = Blueprint("audit", __name__, url_prefix="/api/v1", description="Audit log of staff and admin actions")

ENTRY = {"id": 1, "at": "2026-11-20T08:00:00+00:00", "actor_user_id": 3, "actor_role": "staff",
         "action": "unit_claim.approved", "object_type": "unit_claim", "object_id": "11",
         "before": {"status": "pending"}, "after": {"status": "approved"}}


@blp.route("/audit-log")
class AuditLog(MethodView):
    @blp.arguments(AuditArgs, location="query")
    @blp.response(200, page_of(AuditEntryOut), example={"items": [ENTRY], "page": 1, "page_size": 20, "total": 1})
    @errors(blp, 401, 403)
    @auth_required("staff", "admin")
    def get(self, args):
        """Audit entries, newest first

        Admins read the entries about objects in their streets (district admins also those with no
        street); staff read their own actions.
        """
        items, total = audit.list_entries(current_actor(), object_type=args.get("object_type"),
                                          object_id=args.get("object_id"), actor_user_id=args.get("actor_user_id"),
                                          page=args["page"], page_size=args["page_size"])
        return paged(items, total, args)


ACCESS = {"id": 7, "at": "2026-11-20T16:00:00+08:00", "action": "resident.viewed", "action_name": "查看居民信息",
          "actor_role": "staff", "actor_role_name": "工作人员", "actor_name": "李", "object_type": "user",
          "object_type_name": "用户", "object_id": "42", "street_id": 1, "street_name": "真如镇街道"}


@blp.route("/me/data-access")
class DataAccess(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_of(DataAccessOut), example={"items": [ACCESS], "page": 1, "page_size": 20, "total": 1})
    @errors(blp, 401)
    @auth_required()
    def get(self, args):
        """Who viewed or changed my personal data

        When staff viewed or changed the caller's personal data (their profile, verification, meal card,
        roles, the reporter's details of their cases, their family links, unit claims and meal bookings), newest
        first, by role and organisation; names only for the roles the privacy rules list. From the audit log.
        """
        items, total = audit.for_subject(current_actor(), page=args["page"], page_size=args["page_size"])
        return paged(items, total, args)
