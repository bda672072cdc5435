"""Notice schemas."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from api.schemas.common import Id, Label, PageArgs, Timestamp, page_fields
from models.notices import ACK_CHANNELS, SCOPE_TYPES, STATES
from service import uploads


def _moment(**kwargs) -> ma.fields.AwareDateTime:
    """A moment given with its offset, between the years 2000 and 2100."""
    return ma.fields.AwareDateTime(validate=validate.Range(
        min=ma.fields.AwareDateTime().deserialize("2000-01-01T00:00:00+08:00"),
        max=ma.fields.AwareDateTime().deserialize("2100-01-01T00:00:00+08:00")),
        **kwargs)


class NoticeScopeIn(ma.Schema):
    type = ma.fields.String(required=True, validate=validate.OneOf(SCOPE_TYPES))
    id = Id(required=True)


CATEGORY = {"description": "A category code of GET /api/v1/notice-categories (config/rules/notices.yaml)"}


class NoticeFields(ma.Schema):
    category = ma.fields.String(validate=validate.Length(min=1, max=16), metadata=CATEGORY)
    title = ma.fields.String(validate=validate.Length(min=1, max=100))
    body = ma.fields.String(validate=validate.Length(min=1, max=5000))
    scopes = ma.fields.List(ma.fields.Nested(NoticeScopeIn), validate=validate.Length(min=1, max=200))
    urgent = ma.fields.Boolean()
    ack_required = ma.fields.Boolean(metadata={"description": "Ask for 我已知晓 (urgent notices always do; by "
                                                              "default the category decides)"})
    pinned = ma.fields.Boolean()
    valid_until = _moment(allow_none=True, metadata={"description": "Required for an urgent notice"})
    event_at = _moment(allow_none=True, metadata={"description": "When the outage starts (outage notices)"})


class NoticeIn(NoticeFields):
    category = ma.fields.String(required=True, validate=validate.Length(min=1, max=16), metadata=CATEGORY)
    title = ma.fields.String(required=True, validate=validate.Length(min=1, max=100))
    body = ma.fields.String(required=True, validate=validate.Length(min=1, max=5000))
    scopes = ma.fields.List(ma.fields.Nested(NoticeScopeIn), required=True, validate=validate.Length(min=1, max=200))
    publish_at = _moment(allow_none=True, metadata={"description": "Scheduled publication; now when absent"})
    attachments = ma.fields.List(Id(), load_default=list, validate=validate.Length(max=20), metadata={
        "description": "Upload ids (your own, not yet attached): PDF documents or images"})
    publish = ma.fields.Boolean(load_default=False, metadata={
        "description": "Publish now (or schedule it for publish_at); else the notice stays a draft"})


class NoticeDraftIn(NoticeFields):
    publish_at = _moment(metadata={"description": "Scheduled publication"})


class NoticeCorrectionIn(NoticeFields):
    reason = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))


class NoticeWithdrawIn(ma.Schema):
    reason = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))


class NoticeAckIn(ma.Schema):
    user_id = Id(allow_none=True, metadata={"description": "Whose acknowledgement (an elder's, by a confirmed "
                                                           "relative or staff); yourself when absent"})
    channel = ma.fields.String(allow_none=True, validate=validate.OneOf(ACK_CHANNELS),
                               metadata={"description": "app (yourself, a relative); phone, door or paper (staff)"})


class NoticesMineArgs(PageArgs):
    unread = ma.fields.Boolean(load_default=False)


class NoticesManagedArgs(PageArgs):
    state = ma.fields.String(validate=validate.OneOf(STATES))


class NoticeChaseArgs(PageArgs):
    format = ma.fields.String(load_default="json", validate=validate.OneOf(("json", "csv")))


class NoticeSummaryOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    category = ma.fields.String(required=True)
    category_name = Label("notices", "category", required=True)
    title = ma.fields.String(required=True)
    urgent = ma.fields.Boolean(required=True)
    ack_required = ma.fields.Boolean(required=True)
    pinned = ma.fields.Boolean(required=True)
    state = ma.fields.String(required=True, metadata={"enum": list(STATES)})
    state_name = Label("notices", "state", required=True)
    version = ma.fields.Integer(required=True)
    supersedes_id = ma.fields.Integer(allow_none=True)
    published_at = Timestamp(allow_none=True)
    publish_at = Timestamp(required=True)
    valid_until = Timestamp(allow_none=True)
    event_at = Timestamp(allow_none=True)
    author_role = ma.fields.String(required=True)
    author_role_name = Label("notices", "author_role", required=True)
    read = ma.fields.Boolean(metadata={"description": "Mine: read (absent for staff who are not in the audience)"})
    acked = ma.fields.Boolean()
    acked_at = Timestamp(allow_none=True)
    ack_channel = ma.fields.String(allow_none=True)
    ack_channel_name = Label("notices", "ack_channel", allow_none=True)
    audience_count = ma.fields.Integer()


class NoticesMineOut(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(NoticeSummaryOut), required=True)
    page, page_size, total = page_fields()
    unread = ma.fields.Integer(required=True, metadata={"description": "Published notices I have not opened"})


class NoticeScopeOut(ma.Schema):
    type = ma.fields.String(required=True)
    type_name = ma.fields.String(required=True)
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)


class NoticeAttachmentOut(ma.Schema):
    upload_id = ma.fields.Integer(required=True)
    url = ma.fields.String(required=True)
    content_type = ma.fields.String(required=True, metadata={"enum": list(uploads.ALL_TYPES)})
    name = ma.fields.String(required=True, allow_none=True, metadata={"description": "A PDF's file name"})
    size = ma.fields.Integer(required=True, metadata={"description": "Bytes"})
    pages = ma.fields.Integer(required=True, allow_none=True, metadata={"description": "A PDF's pages"})
    sha256 = ma.fields.String(required=True, metadata={"description": "SHA-256 of the file as stored"})
    received_sha256 = ma.fields.String(required=True, allow_none=True, metadata={
        "description": "SHA-256 of the file as its author uploaded it (an image is stored re-encoded)"})


class NoticeCountOut(ma.Schema):
    channel = ma.fields.String()
    channel_name = ma.fields.String()
    reason = ma.fields.String()
    reason_name = ma.fields.String()
    count = ma.fields.Integer(required=True)


class NoticeAudienceOut(ma.Schema):
    total = ma.fields.Integer(required=True)
    read = ma.fields.Integer(required=True)
    acked = ma.fields.Integer(required=True)
    not_acked = ma.fields.Integer(required=True)
    acked_by_proxy = ma.fields.Integer(required=True)
    by_channel = ma.fields.List(ma.fields.Nested(NoticeCountOut), required=True)
    by_reason = ma.fields.List(ma.fields.Nested(NoticeCountOut), required=True)


class NoticeDetailOut(NoticeSummaryOut):
    body = ma.fields.String(required=True)
    correction_reason = ma.fields.String(allow_none=True)
    superseded_by = ma.fields.Integer(allow_none=True)
    end_reason = ma.fields.String(allow_none=True)
    ended_at = Timestamp(allow_none=True)
    in_audience = ma.fields.Boolean(required=True)
    can_manage = ma.fields.Boolean(required=True)
    scopes = ma.fields.List(ma.fields.Nested(NoticeScopeOut), required=True)
    attachments = ma.fields.List(ma.fields.Nested(NoticeAttachmentOut), required=True)
    audience = ma.fields.Nested(NoticeAudienceOut, metadata={"description": "For those who manage the notice"})


class NoticeAckOut(ma.Schema):
    notice_id = ma.fields.Integer(required=True)
    user_id = ma.fields.Integer(required=True)
    acked_at = Timestamp(required=True)
    ack_channel = ma.fields.String(required=True)
    ack_channel_name = Label("notices", "ack_channel", required=True)
    ack_proxy = ma.fields.Boolean(required=True)
    acked_by_user_id = ma.fields.Integer(required=True)


class NoticeChaseItemOut(ma.Schema):
    user_id = ma.fields.Integer(required=True)
    name = ma.fields.String(allow_none=True)
    phone = ma.fields.String(allow_none=True)
    phone_masked = ma.fields.Boolean(required=True)
    age = ma.fields.Integer(allow_none=True)
    lives_alone = ma.fields.Boolean(required=True)
    reason = ma.fields.String(required=True)
    reason_name = ma.fields.String(required=True)
    relative_of = ma.fields.Integer(allow_none=True)
    building = ma.fields.String(allow_none=True)
    unit = ma.fields.String(allow_none=True)
    read = ma.fields.Boolean(required=True)


class NoticeCategoryOut(ma.Schema):
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    publishers = ma.fields.List(ma.fields.String(), required=True)
    publishers_names = ma.fields.List(ma.fields.String(), required=True)
    ack_required = ma.fields.Boolean(required=True, metadata={"description": "Asked to acknowledge by default"})


class NoticeCategoriesOut(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(NoticeCategoryOut), required=True)
