"""Notification schemas."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from api.schemas.common import Label, PageArgs, Timestamp, page_fields


class InboxArgs(PageArgs):
    unread = ma.fields.Boolean(load_default=False, metadata={"description": "Only unread notifications"})


class NotificationOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    kind = ma.fields.String(required=True, metadata={"example": "case.status_changed"})
    kind_name = Label("notifications", "kind", required=True, metadata={"example": "诉求进展"})
    title = ma.fields.String(required=True)
    body = ma.fields.String(required=True)
    link = ma.fields.String(allow_none=True)
    created_at = Timestamp(required=True)
    read_at = Timestamp(allow_none=True)


class InboxOut(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(NotificationOut), required=True)
    page, page_size, total = page_fields()
    unread = ma.fields.Integer(required=True, metadata={"description": "Unread notifications in all"})


class ReadAllOut(ma.Schema):
    marked = ma.fields.Integer(required=True)


class SubscriptionsIn(ma.Schema):
    template_ids = ma.fields.List(ma.fields.String(validate=validate.Length(min=1, max=128)), required=True,
                                  validate=validate.Length(min=1, max=20),
                                  metadata={"description": "Templates the user accepted in wx.requestSubscribeMessage"})


class SubscriptionsOut(ma.Schema):
    open_grants = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), required=True,
                                 metadata={"description": "Unused one-time consents per template"})


NOTIFICATION = {"id": 31, "kind": "case.status_changed", "title": "您反映的问题已办结", "body": "案件 WL20261120-0042 已办结",
                "link": "pages/cases/detail?id=42", "created_at": "2026-11-20T08:00:00+00:00", "read_at": None}
