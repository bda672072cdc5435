"""The notices domain's error catalogue: every ``notices.*`` code once, with its Chinese and English message."""
from __future__ import annotations

from service.errors import Conflict, Forbidden, InvalidInput, NotFound


class NoticeNotFound(NotFound):
    code, zh, en = "notices.not_found", "通知不存在", "No such notice"


class NotPublisher(Forbidden):
    code, zh, en = ("notices.not_publisher", "您无权在该范围发布此类通知",
                    "You may not publish this kind of notice to this place")


class ScopeNotCovered(Forbidden):
    """A scope the author does not cover (the brief's 403)."""
    code, zh, en = "notices.scope_not_covered", "{scope}不在您的管辖范围内", "You do not cover {scope_en}"


class NotManager(Forbidden):
    code, zh, en = ("notices.not_manager", "仅发布人或管辖该范围的工作人员可进行此操作",
                    "Only the author or staff covering its places may do this")


class ScopeUnknown(InvalidInput):
    code, field, zh, en = "notices.scope_unknown", "scopes", "第{index}个范围不存在", "Scope {index} does not exist"


class ScopesInTwoStreets(InvalidInput):
    code, field, zh, en = ("notices.scopes_in_two_streets", "scopes", "一条通知的范围须在同一街道内",
                           "The places of one notice must lie in one street")


class CategoryUnknown(InvalidInput):
    code, field, zh, en = "notices.category_unknown", "category", "通知类别不存在", "No such category"


class UrgentNeedsValidUntil(InvalidInput):
    code, field, zh, en = ("notices.urgent_needs_valid_until", "valid_until", "紧急通知须填写有效期至",
                           "An urgent notice needs valid_until")


class OutageNeedsEventAt(InvalidInput):
    code, field, zh, en = ("notices.outage_needs_event_at", "event_at", "停水停电通知须填写停水停电开始时间",
                           "An outage notice needs event_at (when the outage starts)")


class EventTooFar(InvalidInput):
    code, field, zh, en = ("notices.event_too_far", "event_at", "事件时间须在发布时间前后{days}天内",
                           "event_at must be within {days} days of publication")


class PublishAtPast(InvalidInput):
    code, field, zh, en = ("notices.publish_at_past", "publish_at", "发布时间不能早于当前时间{minutes}分钟以上",
                           "publish_at may be at most {minutes} minutes in the past")


class PublishAtTooFar(InvalidInput):
    code, field, zh, en = ("notices.publish_at_too_far", "publish_at", "发布时间不能晚于{days}天后",
                           "publish_at may be at most {days} days ahead")


class ValidUntilBeforePublish(InvalidInput):
    code, field, zh, en = ("notices.valid_until_before_publish", "valid_until", "有效期至须晚于发布时间",
                           "valid_until must be after publish_at")


class ValidTooLong(InvalidInput):
    code, field, zh, en = ("notices.valid_too_long", "valid_until", "有效期不能超过{days}天",
                           "A notice may be valid for at most {days} days")


class TooManyScopes(InvalidInput):
    code, field, zh, en = "notices.too_many_scopes", "scopes", "发布范围最多{limit}个", "At most {limit} places"


class TooManyAttachments(InvalidInput):
    code, field, zh, en = "notices.too_many_attachments", "attachments", "附件最多{limit}个", "At most {limit} files"


class PinnedFull(Conflict):
    code, zh, en = ("notices.pinned_full", "{scope}已有{limit}条置顶通知，请先取消一条",
                    "{scope_en} already has {limit} pinned notices; unpin one first")


class NotDraft(Conflict):
    code, zh, en = ("notices.not_draft", "已发布的通知不能修改，请发布更正版本",
                    "A published notice is not edited: publish a correction")


class NotLive(Conflict):
    code, zh, en = ("notices.not_live", "该通知当前不是已发布状态（{state}）", "The notice is not published ({state})")


class NotInAudience(Forbidden):
    code, zh, en = ("notices.not_in_audience", "该居民不在此通知的发送范围内",
                    "This person was not in the notice's audience")


class AckNotAsked(Conflict):
    code, zh, en = "notices.ack_not_asked", "此通知无需确认", "This notice does not ask to be acknowledged"


class ChannelNotForSelf(InvalidInput):
    code, field, zh, en = ("notices.channel_not_for_self", "channel", "本人或家属在小程序确认时方式须为app",
                           "Acknowledging in the app, the channel is app")


class StaffChannelRequired(InvalidInput):
    code, field, zh, en = ("notices.staff_channel_required", "channel", "工作人员代为登记须选择电话、上门或纸质回执",
                           "Staff record phone, door or paper")
