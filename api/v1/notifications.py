"""My notifications inbox and subscribe-message consents."""
from __future__ import annotations

from flask.views import MethodView

from api.docs import errors
from api.extensions import Blueprint
from api.schemas.common import paged
from api.schemas.notifications import (NOTIFICATION, InboxArgs, InboxOut, NotificationOut, ReadAllOut,
                                       SubscriptionsIn, SubscriptionsOut)
from api.security import auth_required, current_actor
from service import notifications

blp = Blueprint("notifications", __name__, url_prefix="/api/v1/me", description="Inbox and WeChat subscriptions")

ID = "<int(min=1, max=9223372036854775807):notification_id>"


@blp.route("/notifications")
class Inbox(MethodView):
    @blp.arguments(InboxArgs, location="query")
    @blp.response(200, InboxOut, example={"items": [NOTIFICATION], "page": 1, "page_size": 20, "total": 1,
                                          "unread": 1})
    @errors(blp, 401)
    @auth_required()
    def get(self, args):
        """My notifications, newest first"""
        user_id = current_actor().user_id
        items, total, unread = notifications.inbox(user_id, unread_only=args["unread"], page=args["page"],
                                                   page_size=args["page_size"])
        return {**paged(items, total, args), "unread": unread}


@blp.route(f"/notifications/{ID}/read")
class MarkRead(MethodView):
    @blp.response(200, NotificationOut, example={**NOTIFICATION, "read_at": "2026-11-20T09:00:00+00:00"})
    @errors(blp, 401, 404, 429)
    @auth_required()
    def post(self, notification_id):
        """Mark one notification read"""
        return notifications.mark_read(current_actor().user_id, notification_id)


@blp.route("/notifications/read-all")
class MarkAllRead(MethodView):
    @blp.response(200, ReadAllOut, example={"marked": 3})
    @errors(blp, 401, 429)
    @auth_required()
    def post(self):
        """Mark all my notifications read"""
        return {"marked": notifications.mark_all_read(current_actor().user_id)}


@blp.route("/subscriptions")
class Subscriptions(MethodView):
    @blp.arguments(SubscriptionsIn)
    @blp.response(201, SubscriptionsOut, example={"open_grants": {"CASE_STATUS_TEMPLATE_ID": 1}})
    @errors(blp, 401, 429)
    @auth_required()
    def post(self, data):
        """Record subscribe-message consents

        Each accepted template in wx.requestSubscribeMessage allows one message;
        every send consumes one.
        """
        user_id = current_actor().user_id
        notifications.record_grants(user_id, data["template_ids"])
        return {"open_grants": notifications.open_grants(user_id)}

    @blp.response(200, SubscriptionsOut, example={"open_grants": {"CASE_STATUS_TEMPLATE_ID": 1}})
    @errors(blp, 401)
    @auth_required()
    def get(self):
        """My unused subscribe-message consents"""
        return {"open_grants": notifications.open_grants(current_actor().user_id)}
