"""Voting use-cases: motions and their lifecycle, ballots of every channel, proxies, 换届 periods.

Concurrency is decided by the database: the partial unique index ``uq_ballot_live`` allows one live
ballot per voter whatever the channel; an owner's or proxy's ballot holds a KEY SHARE lock on the
motion's row (PostgreSQL) and every other change of a motion's ballots or chain its row lock (SQLite's
BEGIN IMMEDIATE serialises writers); the close locks the row FOR UPDATE, waiting for ballots in flight.
"""
from __future__ import annotations

import secrets
from types import SimpleNamespace
from datetime import datetime, timedelta

import sqlalchemy as sa

from models.base import db
from models.people import ResidentProfile, User
from models.places import Building, Entrance, Estate, estate_neighbourhood
from models.voting import (MOTION_KINDS, SCOPE_TYPES, Ballot, BallotRefusal, Candidate, Motion, Proxy, Reelection,
                           Voter, VoterUnit)
from service import audit, clock, people, uploads
from service.db import add_unique, is_unique_violation, reading, transactional
from service.errors import Conflict, Forbidden, InvalidInput, NotFound
from service.voting import chain, electorate, rules
from service.voting.tally import centi

QUESTION_CHOICES = ("yes", "no", "abstain")
PAPER_CHOICES = ("yes", "no", "abstain", "spoiled")


# --- authorisation -----------------------------------------------------------------------------------------

def estate_neighbourhoods(estate_id: int) -> set[int]:
    return set(db.session.execute(sa.select(estate_neighbourhood.c.neighbourhood_id)
                                  .where(estate_neighbourhood.c.estate_id == estate_id)).scalars())


def may_manage(actor, estate_id: int) -> bool:
    """The estate's committee, staff of its 居委会 (or street), admins over it."""
    if estate_id in actor.scope_ids("committee", "estate"):
        return True
    return actor.is_staff and bool(estate_neighbourhoods(estate_id) & actor.neighbourhood_ids)


def may_view(actor, estate_id: int) -> bool:
    return estate_id in actor.owner_estate_ids or may_manage(actor, estate_id)


def takes_part(user_id: int, motion_id: int) -> bool:
    """A voter of the motion's frozen electorate (still one after selling) or a proxy registered in it."""
    return db.session.execute(sa.select(sa.or_(
        sa.exists().where(Voter.motion_id == motion_id, Voter.user_id == user_id),
        sa.exists().where(Proxy.motion_id == motion_id, Proxy.proxy_user_id == user_id,
                          Proxy.revoked_at.is_(None))))).scalar()


def may_see(actor, motion) -> bool:
    """Who finds a motion at all: a draft its managers; otherwise the estate's owners, committee and staff,
    and whoever votes in it (a frozen voter, a proxy). Everyone else is answered as if it did not exist."""
    if motion.status == "draft":
        return may_manage(actor, motion.estate_id)
    return may_view(actor, motion.estate_id) or takes_part(actor.user_id, motion.id)


def _require_manager(actor, estate_id: int) -> None:
    if not may_manage(actor, estate_id):
        raise Forbidden(code="voting.not_manager", zh="仅本小区业委会或居委会、街道工作人员可进行此操作",
                        en="Only the estate's committee or the responsible staff may do this")


def _motion_not_found() -> NotFound:
    return NotFound(code="voting.motion_not_found", zh="表决事项不存在", en="Motion not found")


def get_motion(actor, motion_id: int) -> Motion:
    motion = db.session.get(Motion, motion_id)
    if motion is None or not may_see(actor, motion):
        raise _motion_not_found()
    return motion


def _require_sight(actor, motion) -> None:
    """The ballot path's caller carries no roles (people.load_caller): load them to decide, as GET does."""
    if not may_see(people.load_actor(actor.user_id) or actor, motion):
        raise _motion_not_found()


# Uploads attached to voting objects are seen by whoever may see the motion (attachments) or manage it (the
# signed paper ballots and the written mandates: the clerk, the second-person confirmer, committee, staff).
def _attached_motion(upload) -> Motion | None:
    try:
        return db.session.get(Motion, int(upload.attached_to.split(":", 1)[1]))
    except (ValueError, IndexError):
        return None


def _may_see_attachment(actor, upload) -> bool:
    motion = _attached_motion(upload)
    return motion is not None and may_see(actor, motion)


def _may_see_evidence(actor, upload) -> bool:
    motion = _attached_motion(upload)
    return motion is not None and may_manage(actor, motion.estate_id)


uploads.register_visibility("motion", _may_see_attachment)
uploads.register_visibility("paper", _may_see_evidence)
uploads.register_visibility("mandate", _may_see_evidence)


def _lock(motion_id: int, *, exclusive: bool = False) -> Motion:
    """The motion's row lock, as FOR NO KEY UPDATE on PostgreSQL: inserting a ballot or an event takes a KEY
    SHARE lock on the motion (their foreign key), which FOR UPDATE would conflict with (two paper entries
    would deadlock); NO KEY UPDATE does not, and still serialises the chain's appends. ``exclusive`` (FOR
    UPDATE, only as a transaction's first lock) is for changes of an open motion's state: it waits for the
    owners' ballots in flight, which hold KEY SHARE, and they wait for it and then see the new state."""
    motion = db.session.execute(sa.select(Motion).where(Motion.id == motion_id)
                                .with_for_update(key_share=not exclusive)
                                .execution_options(populate_existing=True)).scalar_one_or_none()
    if motion is None:
        raise NotFound(code="voting.motion_not_found", zh="表决事项不存在", en="Motion not found")
    return motion


# --- motions -----------------------------------------------------------------------------------------------

def _local_date(moment: datetime):
    return moment.astimezone(clock.SHANGHAI).date()


def notice_full_days(announced: datetime, opens: datetime) -> int:
    """Whole days between the announcement day and the opening day, neither counted."""
    return (_local_date(opens) - _local_date(announced)).days - 1


@transactional
def create_motion(actor, data: dict) -> Motion:
    estate = db.session.get(Estate, data["estate_id"])
    if estate is None:
        raise InvalidInput("estate_id", "小区不存在", "No such estate", code="voting.estate_not_found")
    _require_manager(actor, estate.id)
    policy = rules.policy()
    item = rules.item(data["item"])
    if item is None:
        raise InvalidInput("item", "事项类型须为《民法典》第二百七十八条第 1–9 项", "item must be 1–9")
    kind = data.get("kind", "question")
    if kind not in MOTION_KINDS:
        raise InvalidInput("kind", "表决类型无效", f"kind must be one of {MOTION_KINDS}")
    candidates = data.get("candidates") or []
    seats = data.get("seats")
    if kind == "election":
        if item.number != 3:
            raise InvalidInput("item", "选举业主委员会成员属第 3 项", "An election is item 3")
        if not seats or not candidates or seats > len(candidates):
            raise InvalidInput("seats", "选举须有候选人，且席位数不超过候选人数",
                               "An election needs candidates and at most as many seats as candidates")
        if len({c["name"] for c in candidates}) != len(candidates):
            raise InvalidInput("candidates", "候选人姓名重复", "Candidate names repeat")
    elif candidates or seats:
        raise InvalidInput("candidates", "只有选举才有候选人和席位", "Only an election has candidates and seats")
    scope_type = data.get("scope_type", "estate")
    scope_ids = sorted(set(data.get("scope_ids") or []))
    if scope_type not in SCOPE_TYPES:
        raise InvalidInput("scope_type", "表决范围无效", f"scope_type must be one of {SCOPE_TYPES}")
    if scope_type == "estate":
        scope_ids = []
    else:
        if not scope_ids or (scope_type == "entrance" and len(scope_ids) != 1):
            raise InvalidInput("scope_ids", "请指定表决范围内的楼栋或一个单元门栋",
                               "Name the buildings, or exactly one entrance, of the scope")
        if scope_type == "buildings":
            found = db.session.execute(sa.select(sa.func.count()).select_from(Building).where(
                Building.id.in_(scope_ids), Building.estate_id == estate.id)).scalar_one()
        else:
            found = db.session.execute(sa.select(sa.func.count()).select_from(Entrance).join(Building).where(
                Entrance.id.in_(scope_ids), Building.estate_id == estate.id)).scalar_one()
        if found != len(scope_ids):
            raise InvalidInput("scope_ids", "表决范围不属于该小区", "The scope is not part of this estate")
    opens_at, closes_at = data["opens_at"], data["closes_at"]
    if opens_at > clock.now() + timedelta(days=730):
        raise InvalidInput("opens_at", "表决开始时间不得晚于两年后", "opens_at may be at most two years ahead")
    if closes_at <= opens_at:
        raise InvalidInput("closes_at", "截止时间须晚于开始时间", "closes_at must be after opens_at")
    if closes_at - opens_at > timedelta(days=policy.max_window_days):
        raise InvalidInput("closes_at", f"表决期不得超过 {policy.max_window_days} 天",
                           f"The voting window may not exceed {policy.max_window_days} days")
    notice_days = data.get("notice_days") or policy.notice_days
    if notice_days < policy.notice_days:
        raise InvalidInput("notice_days", f"公告期不得少于 {policy.notice_days} 日",
                           f"notice_days may not be fewer than {policy.notice_days}")
    publication_days = data.get("publication_days") or policy.publication_days
    if publication_days < policy.publication_days:
        raise InvalidInput("publication_days", f"公示期不得少于 {policy.publication_days} 日",
                           f"publication_days may not be fewer than {policy.publication_days}")
    silent = bool(data.get("silent_with_majority"))
    clause = (data.get("silent_rule_clause") or "").strip() or None
    if silent and not clause:
        raise InvalidInput("silent_rule_clause", "未参与表决业主计入多数票须有业主大会议事规则的明确规定",
                           "Counting silent owners with the majority needs the 议事规则 clause that allows it")
    attachments = list(data.get("attachments") or [])
    motion = Motion(estate_id=estate.id, title=data["title"], body=data["body"], attachments=attachments,
                    item=item.number, kind=kind, seats=seats if kind == "election" else None, scope_type=scope_type,
                    scope_ids=scope_ids, major_repair=bool(data.get("major_repair")), status="draft",
                    notice_days=notice_days, publication_days=publication_days,
                    revote=data.get("revote") or policy.revote_default, silent_with_majority=silent,
                    silent_rule_clause=clause if silent else None, opens_at=opens_at, closes_at=closes_at,
                    created_by=actor.user_id, reminders_sent=[], chain_head=chain.GENESIS, chain_length=0)
    db.session.add(motion)
    db.session.flush()
    # Each attachment becomes the motion's (refused if it is someone else's or attached to anything already).
    uploads.claim_for(actor.user_id, attachments, f"motion:{motion.id}", field="attachments")
    for position, candidate in enumerate(candidates, start=1):
        db.session.add(Candidate(motion_id=motion.id, position=position, name=candidate["name"],
                                 statement=candidate.get("statement")))
    audit.record(actor, "voting.motion_create", "motion", motion.id, after={"title": motion.title, "item": item.number})
    return motion


def reelection_active(estate_id: int) -> bool:
    return db.session.execute(sa.select(Reelection.id).where(Reelection.estate_id == estate_id,
                                                             Reelection.ended_at.is_(None))).first() is not None


def locked_by_reelection(motion: Motion) -> bool:
    item = rules.item(motion.item)
    locked = item.reelection_locked or (item.reelection_locked_if_major_repair and motion.major_repair)
    return locked and reelection_active(motion.estate_id)


def _reelection_error():
    return Conflict(code="voting.reelection_lock", zh="小区正在换届改选，该事项在新一届业委会选出前不得表决",
                    en="The estate is in a committee re-election: this matter cannot be voted on until it ends")


@transactional
def act(actor, motion_id: int, action: str) -> Motion:
    motion = get_motion(actor, motion_id)
    _require_manager(actor, motion.estate_id)
    motion = _lock(motion_id)
    now = clock.now()
    allowed = {"announce": ("draft",), "cancel": ("draft", "announced"), "publish": ("counted", "failed")}
    if action not in allowed:
        raise InvalidInput("action", "操作无效", f"action must be one of {sorted(allowed)}")
    if motion.status not in allowed[action]:
        raise Conflict(code="voting.action_not_allowed", zh="当前状态下不能进行此操作",
                       en=f"{action} is not allowed while the motion is {motion.status}")
    before = motion.status
    if action == "announce":
        if locked_by_reelection(motion):
            raise _reelection_error()
        if notice_full_days(now, motion.opens_at) < motion.notice_days:
            raise InvalidInput("opens_at", f"须在表决开始前至少提前 {motion.notice_days} 日公告（公告当日不计）",
                               f"Voting must open at least {motion.notice_days} full days after the announcement",
                               code="voting.notice_too_short")
        motion.status, motion.announced_at = "announced", now
        chain.append(motion, "notice", {"opens_at": motion.opens_at.isoformat(),
                                        "closes_at": motion.closes_at.isoformat(), "item": motion.item,
                                        "scope": [motion.scope_type, motion.scope_ids]}, actor.user_id)
    elif action == "cancel":
        motion.status = "cancelled"
        chain.append(motion, "cancel", {}, actor.user_id)
    elif action == "publish":
        motion.status, motion.published_at = "published", now
        motion.publish_until = now + timedelta(days=motion.publication_days)
        chain.append(motion, "publish", {"until": motion.publish_until.isoformat(),
                                         "result_passed": (motion.result or {}).get("passed")}, actor.user_id)
    audit.record(actor, f"voting.motion_{action}", "motion", motion.id, before={"status": before},
                 after={"status": motion.status})
    return motion


@transactional
def set_reelection(actor, estate_id: int, start: bool) -> Reelection | None:
    if db.session.get(Estate, estate_id) is None:
        raise NotFound(code="voting.estate_not_found", zh="小区不存在", en="Estate not found")
    if not (actor.is_staff and estate_neighbourhoods(estate_id) & actor.neighbourhood_ids):
        raise Forbidden(code="voting.not_staff", zh="仅居委会或街道工作人员可登记换届", en="Only staff record a re-election")
    current = db.session.execute(sa.select(Reelection).where(Reelection.estate_id == estate_id,
                                                             Reelection.ended_at.is_(None))).scalar_one_or_none()
    if start:
        if current is not None:
            raise Conflict(code="voting.reelection_active", zh="该小区已在换届中", en="A re-election is already under way")
        current = add_unique(Reelection(estate_id=estate_id, started_by=actor.user_id),
                             Conflict(code="voting.reelection_active", zh="该小区已在换届中",
                                      en="A re-election is already under way"))
    else:
        if current is None:
            raise Conflict(code="voting.reelection_inactive", zh="该小区不在换届中", en="No re-election is under way")
        current.ended_at = clock.now()
    audit.record(actor, "voting.reelection_" + ("start" if start else "end"), "estate", estate_id)
    return current


# --- the scheduler's moves ---------------------------------------------------------------------------------

def open_due(now: datetime | None = None) -> dict:
    """Open every announced motion whose time has come, freezing its electorate (one transaction each)."""
    now = now or clock.now()
    ids = db.session.execute(sa.select(Motion.id).where(Motion.status == "announced", Motion.opens_at <= now)
                             .order_by(Motion.opens_at)).scalars().all()
    db.session.rollback()
    opened = blocked = 0
    for motion_id in ids:
        if _open_one(motion_id):
            opened += 1
        else:
            blocked += 1
    return {"opened": opened, "blocked": blocked}


@transactional
def _open_one(motion_id: int) -> bool:
    motion = _lock(motion_id)
    if motion.status != "announced":
        return False
    if locked_by_reelection(motion):
        motion.status = "cancelled"
        chain.append(motion, "cancel", {"reason": "reelection_lock"})
        return False
    summary = electorate.freeze(motion)
    motion.status, motion.opened_at = "open", clock.now()
    chain.append(motion, "snapshot", summary)
    return True


def close_due(now: datetime | None = None) -> dict:
    """Close every open motion past its closing time and count it; extend once when participation is short."""
    now = now or clock.now()
    ids = db.session.execute(sa.select(Motion.id).where(Motion.status == "open", Motion.closes_at <= now)
                             .order_by(Motion.closes_at)).scalars().all()
    db.session.rollback()
    outcome = {"counted": 0, "failed": 0, "extended": 0}
    for motion_id in ids:
        result = _close_one(motion_id)
        if result:
            outcome[result] += 1
    return outcome


@transactional
def _close_one(motion_id: int) -> str | None:
    from service.voting import queries

    motion = _lock(motion_id, exclusive=True)
    if motion.status != "open" or motion.closes_at > clock.now():
        return None
    voided = db.session.execute(sa.update(Ballot).where(Ballot.motion_id == motion.id, Ballot.status == "pending")
                                .values(status="void", settled_at=clock.now())).rowcount
    motion.status, motion.closed_at = "closed", clock.now()
    chain.append(motion, "close", {"unconfirmed_paper_voided": voided})
    result = queries.compute_result(motion)
    policy = rules.policy()
    if not result["participation"]["met"] and not motion.extended and policy.extension_days > 0:
        motion.extended, motion.status = True, "open"
        motion.closes_at = motion.closes_at + timedelta(days=policy.extension_days)
        chain.append(motion, "extend", {"closes_at": motion.closes_at.isoformat(),
                                        "participation": result["participation"]})
        return "extended"
    motion.result = result
    motion.counted_at = clock.now()
    motion.status = "counted" if result["participation"]["met"] else "failed"
    chain.append(motion, "count", {"passed": result["passed"], "participation": result["participation"],
                                   "approval": result.get("approval"), "seats": result.get("seated")})
    if motion.kind == "election" and result.get("seated"):
        current = db.session.execute(sa.select(Reelection).where(Reelection.estate_id == motion.estate_id,
                                                                 Reelection.ended_at.is_(None))).scalar_one_or_none()
        if current is not None and len(result["seated"]) == motion.seats:
            current.ended_at = clock.now()
    return "counted" if motion.status == "counted" else "failed"


# --- ballots -----------------------------------------------------------------------------------------------

def _check_open(motion: Motion) -> None:
    if motion.status != "open" or clock.now() >= motion.closes_at:
        raise _not_open()


def _not_open() -> Conflict:
    return Conflict(code="voting.not_open", zh="该事项当前不在表决期内", en="The motion is not open for voting")


def _content(motion: Motion, choice: str | None, candidate_ids: list | None, choices=QUESTION_CHOICES):
    if motion.kind == "election":
        if choice not in (None, "spoiled"):
            raise InvalidInput("choice", "选举请选择候选人", "An election ballot names candidates")
        ids = sorted(set(candidate_ids or []))
        if choice == "spoiled":
            return "spoiled", None
        if len(ids) != len(candidate_ids or []):
            raise InvalidInput("candidate_ids", "候选人重复", "A candidate is named twice")
        valid = set(db.session.connection().execute(_CANDIDATES, {"motion_id": motion.id}).scalars())
        if not set(ids) <= valid:
            raise InvalidInput("candidate_ids", "候选人不在本次选举中", "A candidate is not standing in this election")
        if len(ids) > motion.seats:
            raise InvalidInput("candidate_ids", f"最多选择 {motion.seats} 名候选人",
                               f"At most {motion.seats} candidates may be chosen")
        return None, ids
    if candidate_ids:
        raise InvalidInput("candidate_ids", "该事项不是选举", "This motion is not an election")
    if choice not in choices:
        raise InvalidInput("choice", "请选择同意、不同意或弃权", f"choice must be one of {choices}")
    return choice, None


def _new_ballot(motion, voter, channel, choice, ids, cast_by, *, status="counted", proxy_id=None, image=None,
                replaces=None) -> Ballot:
    ballot = Ballot(motion_id=motion.id, voter_id=voter.id, channel=channel, choice=choice, candidate_ids=ids,
                    status=status, cast_by=cast_by, proxy_id=proxy_id, image_upload_id=image,
                    nonce=secrets.token_hex(16), replaces_id=replaces, cast_at=clock.now(),
                    settled_at=clock.now() if status == "counted" else None, digest="", receipt="")
    ballot.digest = chain.ballot_digest(ballot)
    ballot.receipt = ballot.digest[:10]
    return ballot


def _already_voted(live: Ballot | None, *, own: bool = False) -> Conflict:
    """The owner has a ballot on the motion already: told to the owner voting for themself (``own``; the ballot
    may be a co-owner's or their proxy's), or to a proxy or clerk acting for the owner."""
    channel = {"online": "网上", "paper": "纸质", "proxy": "委托代理"}.get(live.channel if live else "", "")
    if own:
        return Conflict(code="voting.already_voted",
                        zh=f"您（或与您共有房屋的业主）已有{channel}表决票，同一业主每个事项只计一票",
                        en="You (or a co-owner of your home) already have a ballot recorded; each owner counts "
                           "once per motion")
    return Conflict(code="voting.already_voted",
                    zh=f"该户已有{channel}表决票，同一业主每个事项只计一票",
                    en="A ballot for this owner is already recorded; each owner counts once per motion")


def _live(motion_id: int, voter_id: int) -> Ballot | None:
    return db.session.execute(sa.select(Ballot).where(Ballot.motion_id == motion_id, Ballot.voter_id == voter_id,
                                                      Ballot.status.in_(("pending", "counted")))).scalar_one_or_none()


def _insert(ballot: Ballot, live_conflict: Conflict) -> Ballot:
    return add_unique(ballot, live_conflict)


def cast(actor, motion_id: int, *, choice: str | None = None, candidate_ids: list | None = None,
         voter_id: int | None = None, on_behalf_of_unit: int | None = None) -> dict:
    """An owner's online ballot, or a proxy's ballot for a principal; the answer (ballot id, channel, status,
    receipt, replaced, cast_at) is built from what the use-case wrote. A refused second ballot is logged.

    Two steps: what the ballot will be is decided in a read transaction (the motion, the caller's voter
    entity, its live ballot, the choice, the digest), then the write transaction only inserts and links,
    so SQLite's single writer (and the motion's row lock on PostgreSQL) is held for a few statements.
    Whatever changed in between is caught by the write: a ballot that got there first meets the partial
    unique index, a replaced ballot must still be live, and the motion must still be open under its lock."""
    try:
        with reading():
            plan = _plan_cast(actor, motion_id, choice, candidate_ids, voter_id, on_behalf_of_unit)
        return _record_cast(plan)
    except Conflict as exc:
        if getattr(exc, "voter_id", None):
            _log_refusal(motion_id, exc, "proxy" if on_behalf_of_unit else "online", actor.user_id)
        raise


REFUSAL_REASONS = {"voting.already_voted": "already_voted", "voting.mandate_used": "mandate_used"}


@transactional
def _log_refusal(motion_id: int, refusal: Conflict, channel: str, user_id: int) -> None:
    """A refused ballot goes to the refusal log (committee and staff read it), not the motion's chain: a
    burst of retries must not grow the ballots' audit trail. No lock on the motion: one insert."""
    db.session.add(BallotRefusal(motion_id=motion_id, voter_id=refusal.voter_id, channel=channel,
                                 reason=REFUSAL_REASONS.get(refusal.code, refusal.code.split(".")[-1])[:24],
                                 actor_user_id=user_id, at=clock.now()))


def _mandate_used(voter_id: int) -> Conflict:
    error = Conflict(code="voting.mandate_used", zh="该书面委托已用于投票，每份委托只能投一次",
                     en="This written mandate has already been used to vote; a mandate votes once")
    error.voter_id = voter_id
    return error


def _not_a_voter() -> Forbidden:
    return Forbidden(code="voting.not_in_electorate", zh="您不是本次表决的投票人（以开始表决时的业主名册为准）",
                     en="You are not a voter of this motion (the register as frozen at opening)")


def _several_voters() -> InvalidInput:
    return InvalidInput("voter_id", "您在本次表决中代表多个业主身份，请指定投票身份",
                        "You vote for several owner entities here; name voter_id")


_MOTION, _VOTER, _BALLOT = Motion.__table__, Voter.__table__, Ballot.__table__
_MOTION_COLUMNS = (_MOTION.c.id, _MOTION.c.status, _MOTION.c.closes_at, _MOTION.c.kind, _MOTION.c.seats,
                   _MOTION.c.revote, _MOTION.c.estate_id)
# The motion, the caller's voter entities in it and each one's live ballot, in one statement. The live
# condition is written out literally so that SQLite can use the partial unique index uq_ballot_live.
_OWN_BALLOT_READ = (
    sa.select(*_MOTION_COLUMNS, _VOTER.c.id.label("voter_id"), _BALLOT.c.id.label("live_id"),
              _BALLOT.c.channel.label("live_channel"), _BALLOT.c.status.label("live_status"))
    .select_from(_MOTION.outerjoin(_VOTER, sa.and_(_VOTER.c.motion_id == _MOTION.c.id,
                                                   _VOTER.c.user_id == sa.bindparam("user_id")))
                 .outerjoin(_BALLOT, sa.and_(_BALLOT.c.motion_id == _MOTION.c.id, _BALLOT.c.voter_id == _VOTER.c.id,
                                             sa.text("ballot.status IN ('pending', 'counted')"))))
    .where(_MOTION.c.id == sa.bindparam("motion_id")).order_by(_VOTER.c.id))
_MOTION_READ = sa.select(*_MOTION_COLUMNS).where(_MOTION.c.id == sa.bindparam("motion_id"))
# The caller's live mandate for the principal owning a unit of the motion's electorate.
_PROXY, _UNIT = Proxy.__table__, VoterUnit.__table__
_MANDATE_READ = (
    sa.select(_PROXY.c.id, _PROXY.c.voter_id, _PROXY.c.valid_until, _PROXY.c.used_at)
    .join(_UNIT, sa.and_(_UNIT.c.voter_id == _PROXY.c.voter_id, _UNIT.c.motion_id == _PROXY.c.motion_id))
    .where(_PROXY.c.motion_id == sa.bindparam("motion_id"), _UNIT.c.unit_id == sa.bindparam("unit_id"),
           _PROXY.c.proxy_user_id == sa.bindparam("user_id"), _PROXY.c.revoked_at.is_(None)))
# A mandate casts one ballot: the proxy's ballot marks it used, and one already used is refused.
_USE_MANDATE = (sa.update(_PROXY).where(_PROXY.c.id == sa.bindparam("proxy_id"), _PROXY.c.used_at.is_(None),
                                        _PROXY.c.revoked_at.is_(None))
                .values(used_at=sa.bindparam("now")))
_SUPERSEDE = (sa.update(_BALLOT).where(_BALLOT.c.id == sa.bindparam("ballot_id"), _BALLOT.c.status == "counted")
              .values(status="superseded", settled_at=sa.bindparam("now")))
# An owner's or a proxy's ballot, inserted only while its motion is open, in one statement: SQLite runs it
# under BEGIN IMMEDIATE (one writer); PostgreSQL takes a KEY SHARE lock on the motion's row for it, so
# ballots of one motion do not wait for one another while a close (FOR UPDATE) waits for those in flight,
# and those that come after it wait for it, then find the motion closed (the locked row is read again).
_CAST_COLUMNS = ("motion_id", "voter_id", "channel", "choice", "candidate_ids", "status", "cast_by", "proxy_id",
                 "nonce", "digest", "receipt", "replaces_id", "cast_at", "settled_at", "chain_pending")
_INSERT_IF_OPEN = (
    sa.insert(_BALLOT).from_select(
        _CAST_COLUMNS,
        sa.select(*(sa.bindparam(f"b_{name}", type_=_BALLOT.c[name].type) for name in _CAST_COLUMNS))
        .where(sa.exists(sa.select(_MOTION.c.id).where(
            _MOTION.c.id == sa.bindparam("b_motion_id"), _MOTION.c.status == "open",
            _MOTION.c.closes_at > sa.bindparam("b_cast_at")).with_for_update(read=True, key_share=True))))
    .returning(_BALLOT.c.id))
_CANDIDATES = sa.select(Candidate.__table__.c.id).where(Candidate.__table__.c.motion_id == sa.bindparam("motion_id"))


class _Digestible:
    """What chain.ballot_digest reads of a ballot, without an ORM object."""

    __slots__ = ("motion_id", "voter_id", "channel", "choice", "candidate_ids", "nonce")

    def __init__(self, **values):
        for name, value in values.items():
            setattr(self, name, value)


def _plan_cast(actor, motion_id, choice, candidate_ids, voter_id, on_behalf_of_unit) -> dict:
    # Core statements on the ballot path: one read (motion, voter, live ballot) for an owner's own ballot.
    # A caller who neither is a voter nor holds a mandate here is answered as GET /motions/{id} answers them:
    # a motion they may not see is not found, whatever its state or electorate.
    connection = db.session.connection()
    proxy_id = None
    if on_behalf_of_unit is None:
        rows = connection.execute(_OWN_BALLOT_READ, {"motion_id": motion_id, "user_id": actor.user_id}).all()
    else:
        rows = connection.execute(_MOTION_READ, {"motion_id": motion_id}).all()
    if not rows or rows[0].status == "draft":
        raise _motion_not_found()
    motion = rows[0]
    if on_behalf_of_unit is not None:
        proxy = connection.execute(_MANDATE_READ, {"motion_id": motion.id, "unit_id": on_behalf_of_unit,
                                                   "user_id": actor.user_id}).first()
        if proxy is None:
            _require_sight(actor, motion)
        _check_open(motion)
        choice, ids = _content(motion, choice, candidate_ids)
        if proxy is None or (proxy.valid_until is not None and proxy.valid_until <= clock.now()):
            # Whether the unit is in the electorate is not said to someone without its owner's mandate.
            raise Forbidden(code="voting.no_mandate", zh="您没有该业主有效的书面委托",
                            en="You hold no valid written mandate from this owner")
        if proxy.used_at is not None:
            raise _mandate_used(proxy.voter_id)
        channel, voter, proxy_id = "proxy", proxy.voter_id, proxy.id
        live = _live(motion.id, voter)
        live = (live.id, live.channel, live.status) if live is not None else None
    else:
        if all(row.voter_id is None for row in rows):
            _require_sight(actor, motion)
        _check_open(motion)
        choice, ids = _content(motion, choice, candidate_ids)
        mine = [row for row in rows if row.voter_id is not None and (voter_id is None or row.voter_id == voter_id)]
        if not mine:
            raise _not_a_voter()
        if len(mine) > 1:
            raise _several_voters()
        row = mine[0]
        channel, voter = "online", row.voter_id
        live = (row.live_id, row.live_channel, row.live_status) if row.live_id is not None else None
    replaces = None
    if live is not None:
        live_id, live_channel, live_status = live
        if not (motion.revote == "last_wins" and channel == "online" and live_channel == "online"
                and live_status == "counted"):
            raise _refused(live_channel, voter, own=channel == "online")
        replaces = live_id
    nonce = secrets.token_hex(16)
    digest = chain.ballot_digest(_Digestible(motion_id=motion.id, voter_id=voter, channel=channel, choice=choice,
                                             candidate_ids=ids, nonce=nonce))
    values = {"motion_id": motion.id, "voter_id": voter, "channel": channel, "choice": choice, "status": "counted",
              "cast_by": actor.user_id, "nonce": nonce, "digest": digest, "receipt": digest[:10]}
    if ids is not None:
        values["candidate_ids"] = ids
    if proxy_id is not None:
        values["proxy_id"] = proxy_id
    if replaces is not None:
        values["replaces_id"] = replaces
    return values


@transactional
def _record_cast(values: dict) -> dict:
    # The motion's row is only read (see _INSERT_IF_OPEN); the ballot goes into the chain in the next
    # batch (chain.link_pending).
    connection = db.session.connection()
    now = clock.now()
    replaces, voter = values.get("replaces_id"), values["voter_id"]
    if replaces is not None and connection.execute(_SUPERSEDE, {"ballot_id": replaces, "now": now}).rowcount != 1:
        raise _refused("online", voter, own=True)  # replaced meanwhile by another request of this owner
    proxy_id = values.get("proxy_id")
    if proxy_id is not None and connection.execute(_USE_MANDATE, {"proxy_id": proxy_id, "now": now}).rowcount != 1:
        raise _mandate_used(voter)  # used meanwhile by another request of the proxy
    row = {**values, "cast_at": now, "settled_at": now, "chain_pending": True}
    try:
        ballot_id = connection.execute(_INSERT_IF_OPEN, {f"b_{name}": row.get(name) for name in _CAST_COLUMNS}
                                       ).scalar()
        if ballot_id is None:
            raise _not_open()
    except sa.exc.IntegrityError as exc:
        # The partial unique index: a ballot of another request or channel got there first. The error
        # ends the transaction (the use-case rolls back); the refusal is logged in a new one.
        if not is_unique_violation(exc):
            raise
        raise _refused(None, voter, own=values["channel"] == "online") from None
    return {"ballot_id": ballot_id, "channel": values["channel"], "status": "counted", "receipt": values["receipt"],
            "replaced": replaces is not None, "cast_at": clock.local(now)}


def link_pending_ballots() -> dict:
    """The linking sweep: append the pending ballots of every motion to its chain (see chain.link_pending)."""
    ids = db.session.execute(sa.select(Ballot.motion_id).where(sa.text("ballot.chain_pending")).distinct()
                             .order_by(Ballot.motion_id)).scalars().all()
    db.session.rollback()
    linked = 0
    for motion_id in ids:
        linked += _link_one(motion_id)
    return {"motions": len(ids), "ballots": linked}


@transactional
def _link_one(motion_id: int) -> int:
    return chain.link_pending(_lock(motion_id))


def _refused(live_channel: str | None, voter_id: int, *, own: bool) -> Conflict:
    error = _already_voted(SimpleNamespace(channel=live_channel) if live_channel else None, own=own)
    error.voter_id = voter_id
    return error


def _rejected(live, voter) -> Conflict:
    error = _already_voted(live)
    error.voter_id = voter.id
    return error


def _voter_for_unit(motion: Motion, unit_id: int) -> Voter:
    voter = db.session.execute(sa.select(Voter).join(VoterUnit, VoterUnit.voter_id == Voter.id).where(
        VoterUnit.motion_id == motion.id, VoterUnit.unit_id == unit_id)).scalar_one_or_none()
    if voter is None:
        raise InvalidInput("unit_id", "该户不在本次表决范围内", "This unit is not in the motion's electorate",
                           code="voting.unit_not_in_scope")
    return voter


def enter_paper(actor, motion_id: int, *, unit_id: int, choice: str | None, candidate_ids: list | None,
                image_upload_id: int) -> Ballot:
    try:
        return _enter_paper(actor, motion_id, unit_id, choice, candidate_ids, image_upload_id)
    except Conflict as exc:
        if getattr(exc, "voter_id", None):
            _log_refusal(motion_id, exc, "paper", actor.user_id)
        raise


@transactional
def _enter_paper(actor, motion_id, unit_id, choice, candidate_ids, image_upload_id) -> Ballot:
    motion = get_motion(actor, motion_id)
    _require_manager(actor, motion.estate_id)
    _check_open(motion)
    if motion.kind == "election":
        choice, ids = _content(motion, choice, candidate_ids)
    else:
        choice, ids = _content(motion, choice, candidate_ids, PAPER_CHOICES)
    voter = _voter_for_unit(motion, unit_id)
    live = _live(motion.id, voter.id)
    if live is not None:
        raise _rejected(live, voter)
    # The signed image becomes this motion's paper evidence: the clerk's own, attached to nothing else (one
    # image, one ballot); taken before the ballot row that refers to it.
    uploads.attach(actor.user_id, image_upload_id, f"paper:{motion.id}", field="image_upload_id")
    ballot = _new_ballot(motion, voter, "paper", choice, ids, actor.user_id, status="pending", image=image_upload_id)
    _insert(ballot, _rejected(None, voter))
    # As for online ballots: the ballot row first, the motion's lock last (one order, no deadlock).
    motion = _lock(motion_id)
    _check_open(motion)
    chain.append(motion, "paper_entered", {"ballot": ballot.id, "voter": voter.id, "channel": "paper",
                                           "digest": ballot.digest}, actor.user_id)
    audit.record(actor, "voting.paper_enter", "ballot", ballot.id)
    return ballot


@transactional
def confirm_paper(actor, motion_id: int, ballot_id: int, *, accept: bool, reason: str | None = None) -> Ballot:
    motion = get_motion(actor, motion_id)
    _require_manager(actor, motion.estate_id)
    motion = _lock(motion_id)
    _check_open(motion)
    ballot = db.session.get(Ballot, ballot_id)
    if ballot is None or ballot.motion_id != motion.id or ballot.channel != "paper":
        raise NotFound(code="voting.ballot_not_found", zh="纸质表决票不存在", en="Paper ballot not found")
    if ballot.cast_by == actor.user_id:
        raise Forbidden(code="voting.second_person_required", zh="纸质票须由录入人以外的另一人核对确认",
                        en="A second person, not the one who entered it, must confirm a paper ballot")
    changed = db.session.execute(sa.update(Ballot).where(Ballot.id == ballot.id, Ballot.status == "pending").values(
        status="counted" if accept else "void", confirmed_by=actor.user_id, settled_at=clock.now())).rowcount
    if changed != 1:
        raise Conflict(code="voting.already_confirmed", zh="该纸质票已核对", en="This paper ballot is already settled")
    db.session.refresh(ballot)
    chain.append(motion, "paper_confirmed" if accept else "paper_refused",
                 {"ballot": ballot.id, "voter": ballot.voter_id, "reason": reason}, actor.user_id)
    audit.record(actor, "voting.paper_" + ("confirm" if accept else "refuse"), "ballot", ballot.id)
    return ballot


# --- proxies -----------------------------------------------------------------------------------------------

@transactional
def register_proxy(actor, motion_id: int, *, unit_id: int, proxy_user_id: int, mandate_upload_id: int,
                   valid_until: datetime | None = None) -> Proxy:
    motion = get_motion(actor, motion_id)
    _require_manager(actor, motion.estate_id)
    motion = _lock(motion_id)
    _check_open(motion)
    voter = _voter_for_unit(motion, unit_id)
    proxy_user = db.session.get(User, proxy_user_id)
    profile = db.session.get(ResidentProfile, proxy_user_id) if proxy_user else None
    if proxy_user is None or not proxy_user.is_active:
        raise InvalidInput("proxy_user_id", "代理人账号不存在", "No such proxy user")
    if profile is None or profile.id_verified_at is None:   # checked by 居委会 staff, not merely typed into /me
        raise InvalidInput("proxy_user_id", "代理人须先由居委会核验身份证件", "The proxy's identity document is not verified",
                           code="voting.proxy_unverified")
    if voter.user_id == proxy_user_id:
        raise InvalidInput("proxy_user_id", "业主本人无需委托", "The owner cannot be their own proxy")
    if valid_until is not None and valid_until <= clock.now():
        raise InvalidInput("valid_until", "委托有效期已过", "The mandate has already expired")
    if db.session.execute(sa.select(Proxy.id).where(Proxy.motion_id == motion.id, Proxy.voter_id == voter.id,
                                                    Proxy.revoked_at.is_(None))).first():
        raise Conflict(code="voting.proxy_exists", zh="该业主已委托代理人", en="This owner already has a proxy")
    # The written mandate becomes this motion's, once: the clerk's own upload, attached to nothing else.
    uploads.attach(actor.user_id, mandate_upload_id, f"mandate:{motion.id}", field="mandate_upload_id")
    cap = rules.policy().max_principals_per_proxy
    proxy = None
    for slot in range(1, cap + 1):
        candidate = Proxy(motion_id=motion.id, voter_id=voter.id, proxy_user_id=proxy_user_id, slot=slot,
                          mandate_upload_id=mandate_upload_id, valid_until=valid_until, entered_by=actor.user_id)
        try:
            proxy = add_unique(candidate, Conflict())
            break
        except Conflict:
            continue
    if proxy is None:
        raise Conflict(code="voting.proxy_cap", zh=f"每位代理人最多接受 {cap} 位业主的委托",
                       en=f"A proxy may represent at most {cap} owner(s) in one motion")
    chain.append(motion, "proxy", {"proxy": proxy.id, "voter": voter.id, "proxy_user": proxy_user_id,
                                   "mandate": mandate_upload_id,
                                   "valid_until": valid_until.isoformat() if valid_until else None}, actor.user_id)
    audit.record(actor, "voting.proxy_register", "motion_proxy", proxy.id)
    return proxy


def area_centi(voter: Voter) -> int:
    return centi(voter.area)
