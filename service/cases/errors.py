"""The cases domain's errors (cases, their metrics and Open311): each code once, with its messages.

A class with a code of its own is that code; classes without one share the base's code (an
``InvalidInput``'s is ``validation.invalid``) and differ by field and message. A code said in more than one
way (``cases.out_of_scope``, ``open311.key_out_of_scope``) is defined by one class, and the other ways of
saying it are its subclasses. Values in a message are format fields given when raised:
``raise TooManyPhotos(limit=9)``.
"""
from __future__ import annotations

from service import platform_errors
from service.errors import Conflict, Forbidden, InvalidInput, NotFound


class _Parameter(InvalidInput):
    """A refusal of the parameter it names (the message names it too): ``raise NotANumber("lat")``."""

    def __init__(self, name: str):
        super().__init__(name, name=name)


# --- a case and who may act on it ----------------------------------------------------------------------------------

class CaseNotFound(NotFound):
    code, zh, en = "cases.not_found", "诉求不存在", "No such case"


class OutOfScope(Forbidden):
    code, zh, en = "cases.out_of_scope", "该范围不在您的负责范围", "Outside your scope"


class NeighbourhoodOutOfScope(OutOfScope):
    zh, en = "该居民区不在您的负责范围", "Outside your scope"


class ReassignOutOfScope(OutOfScope):
    zh, en = "不能改派到您负责范围以外的居委会", "You cannot reassign outside your scope"


class SupervisorRequired(Forbidden):
    code, zh, en = "cases.supervisor_required", "该操作需由居委会主任或街道审批", "This action needs a supervisor"


class ReporterOnly(Forbidden):
    code, zh, en = ("cases.reporter_only", "只有诉求人本人可以{action_zh}该诉求",
                    "Only the person who reported the case may {action_en} it")


class ConcurrentUpdate(Conflict):
    code, zh, en = ("cases.concurrent_update", "该诉求刚被他人处理，请刷新后重试",
                    "Someone else acted on this case just now; reload and retry")


class ActionNotAllowed(Conflict):
    code, zh, en = ("cases.action_not_allowed", "当前状态下不能进行该操作",
                    "'{action}' is not allowed while the case is {state}")


# --- reporting -----------------------------------------------------------------------------------------------------

class CategoryUnknown(InvalidInput):
    code, field, zh, en = "cases.category_unknown", "category", "没有这个诉求类别", "Unknown category"


class OutOfArea(InvalidInput):
    code, field, zh, en = ("cases.out_of_area", "location", "该位置不在本平台服务的街道范围内，请拨打12345反映",
                           "The location is outside the streets this service covers")


class DescriptionRequired(InvalidInput):
    field, zh, en = "description", "请描述问题", "A description is required"


class DescriptionTooLong(InvalidInput):
    field, zh, en = "description", "描述不能超过{limit}字", "At most {limit} characters"


class TooManyPhotos(InvalidInput):
    field, zh, en = "photos", "最多上传{limit}张照片", "At most {limit} photos"


class PhotosNeedReporter(InvalidInput):
    field, zh, en = "photos", "匿名系统接入不能附带照片编号", "Photos need a reporting user"


class LocationRequired(InvalidInput):
    field, zh, en = "location", "请提供位置或地址", "A location or an address is required"


# A category's attributes: the field is ``attributes.<code>``, given when raised.
class AttributeUnknown(InvalidInput):
    zh, en = "该类别没有这个附加项", "Unknown attribute for this category"


class AttributeRequired(InvalidInput):
    zh, en = "请填写{name_zh}", "{name_en} is required"


class AttributeValueInvalid(InvalidInput):
    zh, en = "{name_zh}的取值无效", "Not one of the allowed values"


class AttributeTooLong(InvalidInput):
    zh, en = "内容过长", "Too long"


# --- the staff's actions -------------------------------------------------------------------------------------------

class ContactMethodRequired(InvalidInput):
    field, zh, en = "method", "请选择联系方式", "method must be one of {choices}"


class ContactNoteRequired(InvalidInput):
    field, zh, en = "note", "请填写联系情况", "A note is required"


class OutcomeRequired(InvalidInput):
    field, zh, en = "outcome", "请选择办理结果：实际解决或解释说明", "outcome must be solved or explained"


class ReplyRequired(InvalidInput):
    field, zh, en = "reply", "请填写答复内容", "A reply is required"


class ContactRequired(Conflict):
    code, zh, en = "cases.contact_required", "办结前须先行联系诉求人", "Contact the reporter before resolving"


class TooManyEvidencePhotos(InvalidInput):
    field, zh, en = "photo_ids", "照片过多", "Too many photos"


class ReturnReasonRequired(InvalidInput):
    field, zh, en = "reason", "退单须说明理由", "A reason is required to return a case"


class ReassignTargetRequired(InvalidInput):
    field, zh, en = "neighbourhood_id", "请指定改派的居委会或承办人", "Give a neighbourhood or an assignee"


class NeighbourhoodUnknown(InvalidInput):
    field, zh, en = "neighbourhood_id", "居民区不存在", "No such neighbourhood"


class AssigneeUnknown(InvalidInput):
    field, zh, en = "assignee_id", "承办人不存在", "No such assignee"


class AssigneeOutOfScope(InvalidInput):
    code, field, zh, en = ("cases.assignee_out_of_scope", "assignee_id", "承办人不负责该诉求所在的居委会，不能改派给他",
                           "The assignee does not cover this case's neighbourhood; choose staff who do")


class ExtensionReasonRequired(InvalidInput):
    field, zh, en = "reason", "申请延期须说明理由", "A reason is required"


class ExtensionDaysRequired(InvalidInput):
    field, zh, en = "working_days", "延期天数须为 1–30 个工作日", "working_days must be 1-30"


class ExtensionTooLate(Conflict):
    code, zh, en = ("cases.extension_too_late", "已超过办理期限，不能再申请延期",
                    "Extensions must be requested before the deadline")


class ExtensionPending(Conflict):
    code, zh, en = "cases.extension_pending", "已有待审批的延期申请", "An extension is already pending"


class NoPendingExtension(Conflict):
    code, zh, en = "cases.no_pending_extension", "没有待审批的延期申请", "No extension is pending"


class DenialReasonRequired(InvalidInput):
    field, zh, en = "reason", "驳回须说明理由", "A reason is required"


class AlreadyComplex(Conflict):
    code, zh, en = "cases.already_complex", "已认定为复杂事项", "Already marked complex"


class ComplexReasonRequired(InvalidInput):
    field, zh, en = "reason", "请说明复杂事项的理由", "A reason is required"


class MergeTargetRequired(InvalidInput):
    field, zh, en = "into_case_id", "请指定要并入的诉求", "into_case_id must be another case"


class MergeTargetUnknown(InvalidInput):
    field, zh, en = "into_case_id", "要并入的诉求不存在", "No such case in your scope"


class MergeTargetClosed(Conflict):
    code, zh, en = "cases.merge_target_closed", "只能并入办理中的诉求", "The target case is not open"


class RejectionReasonRequired(InvalidInput):
    field, zh, en = "reason", "不予受理须说明理由", "A reason is required"


class ReopenReasonRequired(InvalidInput):
    field, zh, en = "reason", "请说明重办理由", "A reason is required"


class VisitResultRequired(InvalidInput):
    field, zh, en = "result", "请选择回访结果", "result must be one of {choices}"


class AlreadyVisited(Conflict):
    code, zh, en = "cases.already_visited", "本次办结已回访，不能重复回访", "This closure has already been visited"


class CommentNoteRequired(InvalidInput):
    field, zh, en = "note", "请填写备注", "A note is required"


# --- the reporter's actions and following --------------------------------------------------------------------------

class WithdrawTooLate(Conflict):
    code, zh, en = "cases.withdraw_too_late", "诉求已被签收，不能撤回", "Accepted cases cannot be withdrawn"


class RateNotClosed(Conflict):
    code, zh, en = "cases.rate_not_closed", "诉求办结后才能评价", "Only closed cases can be rated"


class AlreadyRated(Conflict):
    code, zh, en = "cases.already_rated", "该诉求已评价", "This case has already been rated"


class ReopenNotClosed(Conflict):
    code, zh, en = "cases.reopen_not_closed", "只有已办结的诉求可以申请重办", "Only closed cases can be reopened"


class ReopenTooLate(Conflict):
    code, zh, en = "cases.reopen_too_late", "办结{days}天后不能申请重办", "The reopening period has passed"


class ReopenSatisfied(Conflict):
    code, zh, en = "cases.reopen_satisfied", "您已评价满意，不能申请重办", "You rated this case as satisfied"


class ReporterFollows(Conflict):
    code, zh, en = "cases.reporter_follows", "诉求人始终关注自己的诉求", "Reporters always follow their cases"


# --- the staff queue -----------------------------------------------------------------------------------------------

class CursorInvalid(InvalidInput):
    code, field, zh, en = ("cases.cursor_invalid", "cursor", "翻页参数无效，请从第一页重新加载",
                           "The cursor is not valid; reload from the first page")


# --- metrics -------------------------------------------------------------------------------------------------------

class MetricsScopeRequired(InvalidInput):
    code, field, zh, en = ("cases.metrics_scope_required", "street_id", "请指定街道或居民区",
                           "Give street_id or neighbourhood_id")


class NeighbourhoodNotInStreet(InvalidInput):
    field, zh, en = "neighbourhood_id", "该居民区不属于所选街道", "The neighbourhood is not in that street"


class DateOutOfRange(InvalidInput):  # the field (``from`` or ``to``) is given when raised
    zh, en = "日期须在 2000-01-01 至 2099-12-31 之间", "The date must be in 2000-2099"


class PeriodReversed(InvalidInput):
    field, zh, en = "from", "开始日期不能晚于结束日期", "from must not be after to"


class PeriodTooLong(InvalidInput):
    field, zh, en = "to", "统计区间不能超过{days}天", "The period is at most {days} days"


class GroupByUnknown(InvalidInput):
    field, zh, en = "group_by", "分组方式无效", "group_by must be one of {choices}"


# --- Open311: partner keys -----------------------------------------------------------------------------------------

class KeyOutOfScope(Forbidden):
    code, zh, en = ("open311.key_out_of_scope", "该接入密钥不在您的管理范围内，不能吊销",
                    "This API key lies outside your administrative scope")


class KeyIssueOutOfScope(KeyOutOfScope):
    zh, en = "不能为您管理范围以外的街道或区签发接入密钥", "You cannot issue a key outside your administrative scope"


class KeyScopeRequired(InvalidInput):
    field, zh, en = ("scope_type", "您管理多个街道或区，请指定密钥所属的范围（scope_type 和 scope_id）",
                     "You administer several places: name the key's scope (scope_type and scope_id)")


class KeyScopeIncomplete(InvalidInput):
    field, zh, en = ("scope_type", "请同时给出 scope_type（street 或 district）和 scope_id",
                     "Give scope_type (street or district) and scope_id together")


class PartnerRequired(InvalidInput):
    field, zh, en = "partner", "请填写接入系统名称", "A partner name is required"


class PartnerInvalid(InvalidInput):
    field, zh, en = "partner", "名称包含无效字符", "The name contains invalid characters"


class KeyNotFound(NotFound):
    code, zh, en = "open311.key_not_found", "接入密钥不存在", "No such API key"


class ApiKeyInvalid(Forbidden):
    code, zh, en = ("open311.api_key_invalid", "api_key 无效，不能创建诉求",
                    "Invalid api_key received -- can't proceed with create_request.")


# --- Open311: services and service requests ------------------------------------------------------------------------

class JurisdictionNotFound(NotFound):
    code, zh, en = ("open311.jurisdiction_not_found", "jurisdiction_id {jurisdiction} 不存在",
                    "jurisdiction_id {jurisdiction} was not found")


class ServiceNotFound(NotFound):
    code, zh, en = ("open311.service_not_found", "service_code {service_code} 不存在",
                    "service_code {service_code} was not found")


class RequestNotFound(NotFound):
    code, zh, en = ("open311.request_not_found", "service_request_id {number} 不存在",
                    "service_request_id {number} was not found")


class MediaNotFound(NotFound):
    code, zh, en = "open311.media_not_found", "图片不存在", "No such media"


class NulCharacter(_Parameter, platform_errors.NulCharacter):
    """The platform's code, naming the Open311 parameter."""
    zh, en = "输入包含无效字符", "{name} contains a NUL character"


class NotANumber(_Parameter):
    zh, en = "{name} 不是有效的数字", "{name} is not a number"


class NotAPositiveWholeNumber(_Parameter):
    zh, en = "{name} 须为正整数", "{name} must be a positive whole number"


class NotADatetime(_Parameter):
    zh, en = ("{name} 须为 ISO 8601 时间，如 2026-11-01T00:00:00+08:00",
              "{name} must be an ISO 8601 datetime, e.g. 2026-11-01T00:00:00+08:00")


class DatetimeOutOfRange(_Parameter):
    zh, en = "{name} 超出范围", "{name} is out of range"


class BoxIncomplete(InvalidInput):
    field, zh, en = ("bbox", "范围须同时给出 lat_ne、long_ne、lat_sw、long_sw",
                     "A bounding box needs all of lat_ne, long_ne, lat_sw and long_sw")


class BoxInvalid(InvalidInput):
    field, zh, en = ("bbox", "范围无效：须 lat_sw < lat_ne，long_sw < long_ne",
                     "The box needs lat_sw < lat_ne and long_sw < long_ne")


class EndBeforeStart(InvalidInput):
    field, zh, en = "end_date", "end_date 不能早于 start_date", "end_date is before start_date"


class RangeTooLong(InvalidInput):
    field, zh, en = ("end_date", "查询范围不能超过{days}天",
                     "start_date and end_date may not span more than {days} days")


class PageSizeInvalid(InvalidInput):
    field, zh, en = "page_size", "page_size 须为 1–{limit}", "page_size must be 1-{limit}"


class PageInvalid(InvalidInput):
    field, zh, en = "page", "page 须从1开始", "page must be 1 or more"


class TooManyIds(InvalidInput):
    field, zh, en = "service_request_id", "最多查询{limit}个编号", "At most {limit} ids"


class ServiceCodeUnknown(InvalidInput):
    field, zh, en = "service_code", "没有这个服务类别", "Unknown service_code {service_code}"


class StatusInvalid(InvalidInput):
    field, zh, en = "status", "status 只能是 open 或 closed", "status must be open or closed"


# --- Open311: filing a request -------------------------------------------------------------------------------------

class ServiceCodeRequired(InvalidInput):
    field, zh, en = "service_code", "缺少 service_code", "service_code was not provided"


class LatLongApart(InvalidInput):
    field, zh, en = "lat", "lat 和 long 须同时提供", "lat and long must both be sent"


class LatLongOutOfRange(InvalidInput):
    field, zh, en = "lat", "经纬度超出范围", "lat/long out of range"


class AddressUnknown(InvalidInput):
    code, field, zh, en = ("open311.address_unknown", "address_string", "无法根据地址确定位置，请提供经纬度（WGS-84）",
                           "The address does not name a known estate; send lat and long (WGS-84)")


class AddressIdUnsupported(InvalidInput):
    field, zh, en = ("address_id", "不支持 address_id，请提供经纬度或地址",
                     "address_id is not supported; send lat and long or address_string")


class RequestLocationRequired(InvalidInput):
    field, zh, en = ("location", "请提供位置：lat 和 long，或 address_string",
                     "A location is required: lat and long, or address_string")


class RequestDescriptionRequired(InvalidInput):
    field, zh, en = "description", "请描述问题", "description was not provided"


class AttributeSingleValue(_Parameter):  # the parameter is ``attribute[<code>]``
    zh, en = "该附加项只能有一个值", "{name} takes one value"


class AddressTooLong(InvalidInput):
    field, zh, en = "address_string", "地址不能超过200字", "address_string: at most 200 characters"
