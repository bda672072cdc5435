"""The funds domain's error catalogue: every ``funds.*`` code once, with its Chinese and English message."""
from __future__ import annotations

from service.errors import Conflict, Forbidden, InvalidInput, NotFound


class EstateNotFound(NotFound):
    code, zh, en = "funds.estate_not_found", "小区不存在", "No such estate"


class PeriodNotFound(NotFound):
    code, zh, en = "funds.period_not_found", "公示期不存在", "No such fund period"


class JournalNotFound(NotFound):
    code, zh, en = "funds.journal_not_found", "记账凭证不存在", "No such journal"


class NotManager(Forbidden):
    code, zh, en = ("funds.not_manager", "仅本小区业委会或管辖该小区的工作人员可进行此操作",
                    "Only the estate's committee or the staff covering it may do this")


class NotOwner(Forbidden):
    code, zh, en = ("funds.not_owner", "仅本小区业主可查看已公示的收支情况",
                    "Only the estate's owners see its published statements")


class FundUnknown(InvalidInput):
    code, field, zh, en = "funds.fund_unknown", "fund", "资金类别不存在", "No such fund"


class PeriodStartWrong(InvalidInput):
    code, field, zh, en = ("funds.period_start_wrong", "starts_on", "公示期须从{months}个月为一期的首日开始",
                           "A period starts on the first day of a {months}-month period")


class PeriodExists(Conflict):
    code, zh, en = ("funds.period_exists", "该资金已有公示期，后续公示期由结账自动开立",
                    "The fund has periods already; the next one opens when the last closes")


class NoOpenPeriod(Conflict):
    code, zh, en = "funds.no_open_period", "该资金没有记账中的公示期", "The fund has no open period"


class BookedOutsidePeriod(InvalidInput):
    code, field, zh, en = ("funds.booked_outside_period", "booked_on", "记账日期须在当前公示期（{start}至{end}）内",
                           "booked_on must fall in the open period ({start} to {end})")


class Unbalanced(InvalidInput):
    code, field, zh, en = ("funds.journal_unbalanced", "lines", "借贷不平：各分录金额之和须为零（差额{diff}分）",
                           "The lines must sum to zero (off by {diff} fen)")


class LineUnknown(InvalidInput):
    code, field, zh, en = ("funds.line_unknown", "lines", "第{index}条分录的科目不存在：{what}",
                           "Line {index} names no account of this fund: {what}")


class BuildingRequired(InvalidInput):
    code, field, zh, en = ("funds.building_required", "lines", "维修资金按幢立账：第{index}条银行分录须指明楼栋",
                           "The maintenance fund is kept by building: line {index} needs building_id")


class NotOpen(Conflict):
    code, zh, en = "funds.period_not_open", "该公示期不是记账中状态（{state}）", "The period is not open ({state})"


class NotClosed(Conflict):
    code, zh, en = "funds.period_not_closed", "该公示期尚未结账（{state}）", "The period is not closed ({state})"


class NotReconciled(Conflict):
    code, zh, en = ("funds.not_reconciled", "账面余额与银行余额不符（差额{diff}元），不能公示",
                    "The closing balance does not match the bank's (off by {diff} yuan): not published")


class AlreadyReversed(Conflict):
    code, zh, en = "funds.already_reversed", "该凭证已冲销", "The journal is reversed already"


class QueryNotFound(NotFound):
    code, zh, en = "funds.query_not_found", "询问不存在", "No such query"


class CategoryNotInStatement(InvalidInput):
    code, field, zh, en = ("funds.category_not_in_statement", "category", "该收支项目不在此期公示中",
                           "The statement has no such line")


class AlreadyAnswered(Conflict):
    code, zh, en = "funds.already_answered", "该询问已答复", "The query is answered already"


class AuditExists(Conflict):
    code, zh, en = "funds.audit_exists", "该年度的审计结果已公示", "That year's audit is posted already"


class AuditYearWrong(InvalidInput):
    code, field, zh, en = "funds.audit_year_wrong", "year", "审计年度须为已结束的年度", "The year audited must be over"


class NotMember(InvalidInput):
    code, field = "funds.not_member", "member_user_id"
    zh, en = "该用户不是本小区业委会委员", "That person is not a member of the estate's owners' committee"


class CommitmentExists(Conflict):
    code, zh, en = "funds.commitment_exists", "该委员本届的书面承诺已公示", "The member's commitment for this term is posted already"


class FiledInFuture(InvalidInput):
    code, field, zh, en = "funds.filed_in_future", "filed_on", "报送日期不能晚于今天", "The filing date cannot be in the future"
