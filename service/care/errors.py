"""The care domain's error catalogue: every ``care.*`` code once, with its Chinese and English message."""
from __future__ import annotations

from service.errors import Conflict, Forbidden, InvalidInput, NotFound


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
