"""API keys of Open311 partner systems: issued, listed and revoked by admins."""
from __future__ import annotations

from flask.views import MethodView

from api.docs import errors
from api.extensions import Blueprint
from api.schemas.common import PageArgs, id_in_path, page_of, paged
from api.schemas.cases.open311_keys import Open311KeyCreatedOut, Open311KeyIn, Open311KeyOut
from api.security import auth_required, current_actor
from service.cases import open311

blp = Blueprint("open311_keys", __name__, url_prefix="/api/v1",
                description="API keys of Open311 partner systems (GeoReport v2 at /open311/v2)")

ID = id_in_path("key_id")
KEY = {"id": 3, "partner": "普陀区12345热线工单系统", "key_prefix": "q3Zx9LkA", "scope_type": "district", "scope_id": 1,
       "created_at": "2026-11-20T08:00:00+00:00", "created_by": 1, "revoked_at": None,
       "last_used_at": "2026-11-21T02:15:00+00:00"}


@blp.route("/open311-keys")
class Open311Keys(MethodView):
    @blp.arguments(Open311KeyIn)
    @blp.response(201, Open311KeyCreatedOut, example={
        "id": 3, "partner": "普陀区12345热线工单系统", "key": "q3Zx9LkA0b7p-3Hc2WmKfR8sTt1uVy4xZ5aBcDeFgHi",
        "key_prefix": "q3Zx9LkA", "scope_type": "district", "scope_id": 1,
        "created_at": "2026-11-20T08:00:00+00:00"})
    @errors(blp, 401, 403, 429)
    @auth_required("admin")
    def post(self, data):
        """Issue an API key for a partner system (admin)

        The key is in this answer only: Linli stores its SHA-256 hash and
        its first 8 characters. The partner sends it as `api_key` when it
        POSTs service requests to `/open311/v2/requests.{xml,json}`. The key
        lies in one of my admin scopes (`scope_type`, `scope_id`; by default my
        only one): its admins, and I, may revoke it.
        """
        key, plaintext = open311.issue_key(current_actor(), data["partner"], data.get("scope_type"),
                                           data.get("scope_id"))
        return {"id": key.id, "partner": key.partner, "key": plaintext, "key_prefix": key.key_prefix,
                "scope_type": key.scope_type, "scope_id": key.scope_id, "created_at": key.created_at}

    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_of(Open311KeyOut), example={"items": [KEY], "page": 1, "page_size": 20, "total": 1})
    @errors(blp, 401, 403)
    @auth_required("admin")
    def get(self, args):
        """Partner API keys I may revoke, newest first (admin; no secrets)

        The keys I issued and those lying in my admin scope.
        """
        items, total = open311.list_keys(current_actor(), page=args["page"], page_size=args["page_size"])
        return paged(items, total, args)


@blp.route(f"/open311-keys/{ID}/revoke")
class RevokeOpen311Key(MethodView):
    @blp.response(200, Open311KeyOut, example={**KEY, "revoked_at": "2026-11-22T01:00:00+00:00"})
    @errors(blp, 401, 403, 404, 429)
    @auth_required("admin")
    def post(self, key_id):
        """Revoke a partner API key (admin)

        Its issuer, or an admin whose scope holds it (a district's admins
        for the keys of its streets); anyone else gets 403
        `open311.key_out_of_scope`. From now on the key is refused with 403.
        Revoking a revoked key changes nothing.
        """
        return open311.revoke_key(current_actor(), key_id)
