"""The care domain's error catalogue: every ``care.*`` code once, with its Chinese and English message."""
from __future__ import annotations

from service.errors import Conflict, Forbidden, InvalidInput, NotFound


class ElderNotFound(NotFound):
    code, zh, en = "care.elder_not_found", "关爱对象不存在", "No such elder on the roster"


class NotInScope(Forbidden):
    code, zh, en = ("care.not_in_scope", "该老人不在您的工作范围内", "This elder is not in your care or scope")


class AlreadyOnRoster(Conflict):
    code, zh, en = "care.already_on_roster", "该老人已在关爱名单中", "This elder is already on the roster"


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


class AlarmCursorInvalid(InvalidInput):
    code, field, zh, en = ("care.alarm_cursor_invalid", "cursor", "翻页参数无效，请从第一页重新加载",
                           "The cursor is not valid; reload from the first page")
