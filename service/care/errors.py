"""The care domain's error catalogue: every ``care.*`` code once, with its Chinese and English message."""
from __future__ import annotations

from service.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized


class ElderNotFound(NotFound):
    code, zh, en = "care.elder_not_found", "关爱对象不存在", "No such elder on the roster"


class NotInScope(Forbidden):
    code, zh, en = ("care.not_in_scope", "该老人不在您的工作范围内", "This elder is not in your care or scope")


class AlreadyOnRoster(Conflict):
    code, zh, en = "care.already_on_roster", "该老人已在关爱名单中", "This elder is already on the roster"


# --- the roster and the file ---------------------------------------------------------------------------------------

class PersonNotFound(InvalidInput):
    code, field, zh, en = "care.person_not_found", "user_id", "该居民不存在", "No such resident"


class ResidenceUnverified(InvalidInput):
    code, field, zh, en = ("care.residence_unverified", "user_id",
                           "该居民的居住地尚未经居委会核实，请先核实居住信息",
                           "The resident's residence has not been verified by staff; verify it first")


class ContactUserUnknown(InvalidInput):
    code, field, zh, en = ("care.contact_user_unknown", "contacts", "第{index}位紧急联系人的用户不存在",
                           "Emergency contact {index} names no such user")


class ElderEnded(Conflict):
    code, zh, en = "care.elder_ended", "该老人已不在关爱名单中", "This elder is no longer on the roster"


class AwayUntilBeforeFrom(InvalidInput):
    code, field, zh, en = ("care.away_until_before_from", "away_until", "返回时间须晚于离开时间",
                           "The return must be after the departure")


class AwayTooLong(InvalidInput):
    code, field, zh, en = ("care.away_too_long", "away_until", "外出时间不能超过{days}天",
                           "An absence may last at most {days} days")


class AwayInPast(InvalidInput):
    code, field, zh, en = ("care.away_in_past", "away_until", "返回时间不能早于现在",
                           "The return cannot be in the past")


class NotAway(Conflict):
    code, zh, en = "care.not_away", "该老人目前未登记外出", "This elder is not recorded as away"


class FileChanged(Conflict):
    code, zh, en = ("care.file_changed", "民生档案已被他人更新（当前第{version}版），请刷新后再修改",
                    "Someone has changed the file since (now version {version}); reload it and edit again")


class ConsentMissing(Conflict):
    code, zh, en = ("care.consent_missing", "老人尚未单独同意记录健康信息和安装居家设备",
                    "The elder has not given the separate consent to health notes and home devices")


class FileVersionNotFound(NotFound):
    code, zh, en = "care.file_version_not_found", "该版本的民生档案不存在", "No such version of the file"


# --- visits: pairings, visit plans, due visits, visits, the visit rate --------------------------------------------

class VisitorUnknown(InvalidInput):
    code, field, zh, en = "care.visitor_unknown", "visitor_user_id", "探访人不存在", "No such visitor"


class VisitorIsElder(InvalidInput):
    code, field, zh, en = ("care.visitor_is_elder", "visitor_user_id", "老人不能与自己结对",
                           "An elder cannot be paired with themself")


class PartnerAgeUnverified(InvalidInput):
    code, field, zh, en = ("care.partner_age_unverified", "visitor_user_id", "老伙伴的出生日期须经居委会核实",
                           "A partner volunteer's birth date must be verified")


class PartnerAgeOutOfRange(InvalidInput):
    code, field, zh, en = ("care.partner_age_out_of_range", "visitor_user_id", "老伙伴年龄须在{low}至{high}岁之间",
                           "A partner volunteer must be {low} to {high} years old")


class VisitorNotStaff(InvalidInput):
    code, field, zh, en = ("care.visitor_not_staff", "visitor_user_id", "以居委会身份结对的探访人须为工作人员",
                           "A staff visitor must be a staff member")


class AlreadyPaired(Conflict):
    code, zh, en = "care.already_paired", "该探访人已与这位老人结对", "This visitor is already paired with this elder"


class PartnerFull(Conflict):
    code, zh, en = ("care.partner_full", "每位老伙伴最多结对{limit}位老人",
                    "A partner volunteer visits at most {limit} elders")


class PairingNotFound(NotFound):
    code, zh, en = "care.pairing_not_found", "结对关系不存在", "No such pairing"


class PairingEnded(Conflict):
    code, zh, en = "care.pairing_ended", "该结对关系已结束", "This pairing has already ended"


class StartsOnOutOfRange(InvalidInput):
    code, field, zh, en = ("care.starts_on_out_of_range", "starts_on", "开始日期须在今天前{past}天至后{ahead}天之内",
                           "The start day must be within {past} days before and {ahead} days after today")


class RruleInvalid(InvalidInput):
    code, field, zh, en = ("care.rrule_invalid", "rrule", "探访频次规则无效：{reason}",
                           "The recurrence rule is not valid: {reason_en}")


class PlanNotFound(NotFound):
    code, zh, en = "care.plan_not_found", "探访计划不存在", "No such visit plan"


class PlanEnded(Conflict):
    code, zh, en = "care.plan_ended", "该探访计划已结束", "This visit plan has already ended"


class WeatherDayOutOfRange(InvalidInput):
    code, field, zh, en = ("care.weather_day_out_of_range", "day", "预警日期须在今天至{ahead}天后之间",
                           "The warning's day must be from today to {ahead} days ahead")


class NeighbourhoodNotCovered(Forbidden):
    code, zh, en = ("care.neighbourhood_not_covered", "所选居委会不在您的工作范围内",
                    "A neighbourhood given is not in your scope")


class NotPairedVisitor(Forbidden):
    code, zh, en = ("care.not_paired_visitor", "仅结对探访人或辖区工作人员可登记探访",
                    "Only a paired visitor or staff in scope may record a visit")


class VisitorNotPaired(InvalidInput):
    code, field, zh, en = ("care.visitor_not_paired", "visitor_user_id", "该探访人未与这位老人结对",
                           "This visitor is not paired with this elder")


class VisitInFuture(InvalidInput):
    code, field, zh, en = ("care.visit_in_future", "at", "探访时间不能晚于当前时间{minutes}分钟以上",
                           "A visit cannot be more than {minutes} minutes in the future")


class VisitTooOld(InvalidInput):
    code, field, zh, en = ("care.visit_too_old", "at", "只能登记{days}天内的探访",
                           "Only visits within the last {days} days can be recorded")


class FindingTextRequired(InvalidInput):
    code, field, zh, en = ("care.finding_text_required", "finding_text", "请填写发现的情况",
                           "Describe what the visit found")


class FindingTextWithoutFinding(InvalidInput):
    code, field, zh, en = ("care.finding_text_without_finding", "finding", "填写了发现情况，请选择处理方式",
                           "A finding's text needs the finding it goes with")


class FileNeedsFull(Conflict):
    code, zh, en = ("care.file_needs_full", "民生档案的需求栏已满，请先整理档案",
                    "The file's needs are full: tidy the file first")


class CursorInvalid(InvalidInput):
    code, field, zh, en = ("care.cursor_invalid", "cursor", "翻页参数无效，请从第一页重新加载",
                           "The cursor is not valid; reload from the first page")


class MonthInvalid(InvalidInput):
    code, field, zh, en = "care.month_invalid", "month", "月份格式须为YYYY-MM", "The month must be YYYY-MM"


# --- alarms: the ladder, taking and resolving an alarm --------------------------------------------------------

class AlarmNotFound(NotFound):
    code, zh, en = "care.alarm_not_found", "报警不存在", "No such alarm"


class AlarmAlreadyTaken(Conflict):
    code, zh, en = "care.alarm_already_taken", "该报警已有人认领", "Someone has already taken this alarm"


class AlarmNotTaken(Conflict):
    code, zh, en = "care.alarm_not_taken", "请先认领此报警", "Take this alarm first"


class AlarmResolved(Conflict):
    code, zh, en = "care.alarm_resolved", "该报警已处理完毕", "This alarm is already resolved"


class AlarmNotYours(Forbidden):
    code, zh, en = ("care.alarm_not_yours", "只有认领人或辖区工作人员可以处理此报警",
                    "Only whoever took this alarm, or staff in scope, may act on it")


class AlarmNeedsVisit(InvalidInput):
    code, field, zh, en = ("care.alarm_needs_visit", "visit_id", "此类报警须有上门或电话探访记录才能关闭",
                           "This alarm closes only with a visit record")


class VisitNotForAlarm(InvalidInput):
    code, field, zh, en = ("care.visit_not_for_alarm", "visit_id", "探访记录须为对该老人、在报警之后所做",
                           "The visit must be to this elder, made after the alarm opened")


# --- devices: vendors, devices in elders' homes, the vendors' events ----------------------------------------------

class VendorNotFound(NotFound):
    code, zh, en = "care.vendor_not_found", "设备厂商不存在", "No such device vendor"


class VendorCodeTaken(Conflict):
    code, zh, en = "care.vendor_code_taken", "该厂商代码已被使用", "This vendor code is already in use"


class VendorUnknown(InvalidInput):
    code, zh, en = "care.vendor_unknown", "没有此厂商代码，或该厂商已停用", "No such vendor code, or the vendor was revoked"
    field = "vendor_code"


class DeviceNotFound(NotFound):
    code, zh, en = "care.device_not_found", "设备不存在", "No such device"


class DeviceExists(Conflict):
    code, zh, en = ("care.device_exists", "该厂商的这台设备已登记在册（先移除才能重新登记）",
                    "This vendor's device is registered already (remove it first to register it again)")


class SignatureMissing(Unauthorized):
    code, zh, en = ("care.signature_missing", "缺少厂商签名（X-Linli-Vendor、X-Linli-Timestamp、X-Linli-Signature）",
                    "The vendor signature headers are missing (X-Linli-Vendor, X-Linli-Timestamp, X-Linli-Signature)")


class VendorInvalid(Unauthorized):
    code, zh, en = "care.vendor_invalid", "厂商代码无效或已停用", "Unknown or revoked vendor"


class SignatureExpired(Unauthorized):
    code, zh, en = ("care.signature_expired", "签名时间戳无效或与服务器时间相差过大",
                    "The signature timestamp is not valid or too far from the server's clock")


class SignatureInvalid(Unauthorized):
    code, zh, en = "care.signature_invalid", "签名不正确", "The signature does not match the body"
