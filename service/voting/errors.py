"""The voting domain's error catalogue: every ``voting.*`` code once, with its Chinese and English message, and
the field messages of the voting inputs (``validation.invalid``, the field named)."""
from __future__ import annotations

from service.errors import Conflict, Forbidden, InvalidInput, NotFound


# --- who may ------------------------------------------------------------------------------------------------

class EstateNotFound(NotFound):
    code, zh, en = "voting.estate_not_found", "小区不存在", "Estate not found"


class EstateUnknown(EstateNotFound, InvalidInput):
    """A motion drafted for an estate that does not exist (the field of the input)."""
    status, field, zh, en = 422, "estate_id", "小区不存在", "No such estate"


class MotionNotFound(NotFound):
    code, zh, en = "voting.motion_not_found", "表决事项不存在", "Motion not found"


class NotOwner(Forbidden):
    code, zh, en = "voting.not_owner", "仅本小区业主及相关工作人员可查看", "Only the estate's owners and staff"


class NotManager(Forbidden):
    code = "voting.not_manager"
    zh = "仅本小区业委会或居委会、街道工作人员可进行此操作"
    en = "Only the estate's committee or the responsible staff may do this"


class ManagersOnlySee(NotManager):
    """A read of the committee and staff only; ``what`` names it in English."""
    zh, en = "仅本小区业委会或居委会、街道工作人员可查看", "Only the estate's committee or staff may see {what}"


class NotStaff(Forbidden):
    code, zh, en = "voting.not_staff", "仅居委会或街道工作人员可登记换届", "Only staff record a re-election"


# --- motions ------------------------------------------------------------------------------------------------

class ElectionIsItem3(InvalidInput):
    field, zh, en = "item", "选举业主委员会成员属第 3 项", "An election is item 3"


class SeatsWithoutCandidates(InvalidInput):
    field = "seats"
    zh = "选举须有候选人，且席位数不超过候选人数"
    en = "An election needs candidates and at most as many seats as candidates"


class CandidateNamesRepeat(InvalidInput):
    field, zh, en = "candidates", "候选人姓名重复", "Candidate names repeat"


class CandidatesOnlyInElection(InvalidInput):
    field, zh, en = "candidates", "只有选举才有候选人和席位", "Only an election has candidates and seats"


class ScopeMissing(InvalidInput):
    field = "scope_ids"
    zh = "请指定表决范围内的楼栋或一个单元门栋"
    en = "Name the buildings, or exactly one entrance, of the scope"


class ScopeOutsideEstate(InvalidInput):
    field, zh, en = "scope_ids", "表决范围不属于该小区", "The scope is not part of this estate"


class OpensTooFarAhead(InvalidInput):
    field, zh, en = "opens_at", "表决开始时间不得晚于两年后", "opens_at may be at most two years ahead"


class ClosesBeforeOpening(InvalidInput):
    field, zh, en = "closes_at", "截止时间须晚于开始时间", "closes_at must be after opens_at"


class WindowTooLong(InvalidInput):
    field, zh, en = "closes_at", "表决期不得超过 {days} 天", "The voting window may not exceed {days} days"


class NoticeDaysTooFew(InvalidInput):
    field, zh, en = "notice_days", "公告期不得少于 {days} 日", "notice_days may not be fewer than {days}"


class PublicationDaysTooFew(InvalidInput):
    field, zh, en = "publication_days", "公示期不得少于 {days} 日", "publication_days may not be fewer than {days}"


class SilentRuleClauseMissing(InvalidInput):
    field = "silent_rule_clause"
    zh = "未参与表决业主计入多数票须有业主大会议事规则的明确规定"
    en = "Counting silent owners with the majority needs the 议事规则 clause that allows it"


class NoticeTooShort(InvalidInput):
    code, field = "voting.notice_too_short", "opens_at"
    zh = "须在表决开始前至少提前 {days} 日公告（公告当日不计）"
    en = "Voting must open at least {days} full days after the announcement"


class ActionNotAllowed(Conflict):
    code, zh, en = "voting.action_not_allowed", "当前状态下不能进行此操作", "{action} is not allowed while the motion is {state}"


class ReelectionLock(Conflict):
    code = "voting.reelection_lock"
    zh = "小区正在换届改选，该事项在新一届业委会选出前不得表决"
    en = "The estate is in a committee re-election: this matter cannot be voted on until it ends"


class ReelectionActive(Conflict):
    code, zh, en = "voting.reelection_active", "该小区已在换届中", "A re-election is already under way"


class ReelectionInactive(Conflict):
    code, zh, en = "voting.reelection_inactive", "该小区不在换届中", "No re-election is under way"


# --- reading a motion's figures -----------------------------------------------------------------------------

class NotStarted(Conflict):
    code, zh, en = "voting.not_started", "表决尚未开始", "Voting has not started"


class ResultNotAvailable(Conflict):
    code, zh, en = "voting.result_not_available", "计票结果尚未公布", "The result is not available yet"


# --- ballots ------------------------------------------------------------------------------------------------

class NotOpen(Conflict):
    code, zh, en = "voting.not_open", "该事项当前不在表决期内", "The motion is not open for voting"


class BallotRefused(Conflict):
    """A ballot the owner may not cast again: logged as a refusal (``reason``) for the voter ``voter_id``."""
    reason = "refused"

    def __init__(self, voter_id: int | None = None, **params):
        super().__init__(**params)
        self.voter_id = voter_id


class AlreadyVoted(BallotRefused):
    """Told to a proxy or clerk acting for the owner; ``channel`` names the live ballot's (or is empty)."""
    code, reason = "voting.already_voted", "already_voted"
    zh = "该户已有{channel}表决票，同一业主每个事项只计一票"
    en = "A ballot for this owner is already recorded; each owner counts once per motion"


class AlreadyVotedYourself(AlreadyVoted):
    """Told to the owner voting for themself (the live ballot may be a co-owner's or their proxy's)."""
    zh = "您（或与您共有房屋的业主）已有{channel}表决票，同一业主每个事项只计一票"
    en = "You (or a co-owner of your home) already have a ballot recorded; each owner counts once per motion"


class MandateUsed(BallotRefused):
    code, reason = "voting.mandate_used", "mandate_used"
    zh = "该书面委托已用于投票，每份委托只能投一次"
    en = "This written mandate has already been used to vote; a mandate votes once"


class NotInElectorate(Forbidden):
    code = "voting.not_in_electorate"
    zh = "您不是本次表决的投票人（以开始表决时的业主名册为准）"
    en = "You are not a voter of this motion (the register as frozen at opening)"


class NoMandate(Forbidden):
    code, zh, en = "voting.no_mandate", "您没有该业主有效的书面委托", "You hold no valid written mandate from this owner"


class SeveralVoters(InvalidInput):
    field = "voter_id"
    zh = "您在本次表决中代表多个业主身份，请指定投票身份"
    en = "You vote for several owner entities here; name voter_id"


class ElectionNamesCandidates(InvalidInput):
    field, zh, en = "choice", "选举请选择候选人", "An election ballot names candidates"


class CandidateTwice(InvalidInput):
    field, zh, en = "candidate_ids", "候选人重复", "A candidate is named twice"


class CandidateNotStanding(InvalidInput):
    field, zh, en = "candidate_ids", "候选人不在本次选举中", "A candidate is not standing in this election"


class TooManyCandidates(InvalidInput):
    field, zh, en = "candidate_ids", "最多选择 {seats} 名候选人", "At most {seats} candidates may be chosen"


class NotAnElection(InvalidInput):
    field, zh, en = "candidate_ids", "该事项不是选举", "This motion is not an election"


class ChoiceMissing(InvalidInput):
    field, zh, en = "choice", "请选择同意、不同意或弃权", "choice must be one of {choices}"


class UnitNotInScope(InvalidInput):
    code, field = "voting.unit_not_in_scope", "unit_id"
    zh, en = "该户不在本次表决范围内", "This unit is not in the motion's electorate"


class BallotNotFound(NotFound):
    code, zh, en = "voting.ballot_not_found", "纸质表决票不存在", "Paper ballot not found"


class SecondPersonRequired(Forbidden):
    code = "voting.second_person_required"
    zh = "纸质票须由录入人以外的另一人核对确认"
    en = "A second person, not the one who entered it, must confirm a paper ballot"


class AlreadyConfirmed(Conflict):
    code, zh, en = "voting.already_confirmed", "该纸质票已核对", "This paper ballot is already settled"


# --- proxies ------------------------------------------------------------------------------------------------

class ProxyUnknown(InvalidInput):
    field, zh, en = "proxy_user_id", "代理人账号不存在", "No such proxy user"


class ProxyUnverified(InvalidInput):
    code, field = "voting.proxy_unverified", "proxy_user_id"
    zh, en = "代理人须先由居委会核验身份证件", "The proxy's identity document is not verified"


class OwnProxy(InvalidInput):
    field, zh, en = "proxy_user_id", "业主本人无需委托", "The owner cannot be their own proxy"


class MandateExpired(InvalidInput):
    field, zh, en = "valid_until", "委托有效期已过", "The mandate has already expired"


class ProxyExists(Conflict):
    code, zh, en = "voting.proxy_exists", "该业主已委托代理人", "This owner already has a proxy"


class ProxyCap(Conflict):
    code = "voting.proxy_cap"
    zh, en = "每位代理人最多接受 {cap} 位业主的委托", "A proxy may represent at most {cap} owner(s) in one motion"
