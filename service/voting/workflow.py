"""Voting use-cases: motions and their lifecycle, ballots of every channel, proxies, 换届 periods. Each
returns what it wrote (the cast ballot, built for its answer on the hot path, excepted).

Concurrency is decided by the database: the partial unique index ``uq_ballot_live`` allows one live
ballot per voter whatever the channel; an owner's or proxy's ballot holds a KEY SHARE lock on the
motion's row (PostgreSQL) and every other change of a motion's ballots or chain its row lock (SQLite's
BEGIN IMMEDIATE serialises writers); the close locks the row FOR UPDATE, waiting for ballots in flight.
"""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa

from models.base import db
from models.people import ResidentProfile, User
from models.places import Building, Entrance, Estate
from models.voting import Ballot, BallotRefusal, Candidate, Motion, Proxy, Reelection, Voter, VoterUnit
from service import audit, clock, people, uploads
from service.db import add_unique, is_unique_violation, reading, transactional
from service.people import Actor
from service.voting import access, chain, electorate, queries, rules, tally
from service.voting.errors import (ActionNotAllowed, AlreadyConfirmed, AlreadyVoted, AlreadyVotedYourself,
                                   BallotNotFound, BallotRefused, CandidateNamesRepeat, CandidateNotStanding,
                                   CandidatesOnlyInElection, CandidateTwice, ChoiceMissing, ClosesBeforeOpening,
                                   ElectionIsItem3, ElectionNamesCandidates, EstateNotFound, EstateUnknown,
                                   MandateExpired, MandateUsed, MotionNotFound, NoMandate, NotAnElection,
                                   NoticeDaysTooFew, NoticeTooShort, NotInElectorate, NotOpen, NotStaff,
                                   OpensTooFarAhead, OwnProxy, ProxyCap, ProxyExists, ProxyUnknown, ProxyUnverified,
                                   PublicationDaysTooFew, ReelectionActive, ReelectionInactive, ReelectionLock,
                                   ScopeMissing, ScopeOutsideEstate, SeatsWithoutCandidates, SecondPersonRequired,
                                   SeveralVoters, SilentRuleClauseMissing, TooManyCandidates, UnitNotInScope,
                                   WindowTooLong)

QUESTION_CHOICES = ("yes", "no", "abstain")
PAPER_CHOICES = ("yes", "no", "abstain", "spoiled")
# How far ahead a motion may be drafted.
MAX_LEAD = timedelta(days=730)


def lock_motion(motion_id: int, *, exclusive: bool = False) -> Motion:
    """The motion's row lock, as FOR NO KEY UPDATE on PostgreSQL: inserting a ballot or an event takes a KEY
    SHARE lock on the motion (their foreign key), which FOR UPDATE would conflict with (two paper entries
    would deadlock); NO KEY UPDATE does not, and still serialises the chain's appends. ``exclusive`` (FOR
    UPDATE, only as a transaction's first lock) is for changes of an open motion's state: it waits for the
    owners' ballots in flight, which hold KEY SHARE, and they wait for it and then see the new state."""
    motion = db.session.execute(sa.select(Motion).where(Motion.id == motion_id)
                                .with_for_update(key_share=not exclusive)
                                .execution_options(populate_existing=True)).scalar_one_or_none()
    if motion is None:
        raise MotionNotFound()
    return motion


def _managed(actor: Actor, motion_id: int) -> Motion:
    """The motion, locked, for one of its managers."""
    motion = access.require_see(actor, motion_id)
    access.require_manage(actor, motion.estate_id)
    return lock_motion(motion_id)


# --- motions -----------------------------------------------------------------------------------------------

def _local_date(moment: datetime):
    return moment.astimezone(clock.SHANGHAI).date()


def notice_full_days(announced: datetime, opens: datetime) -> int:
    """Whole days between the announcement day and the opening day, neither counted."""
    return (_local_date(opens) - _local_date(announced)).days - 1


@transactional
def create_motion(actor: Actor, data: dict) -> Motion:
    """A draft motion (MotionIn has checked the input's form; the rules below need the estate and the
    policy)."""
    estate = db.session.get(Estate, data["estate_id"])
    if estate is None:
        raise EstateUnknown()
    access.require_manage(actor, estate.id)
    policy = rules.current().policy
    kind = data.get("kind", "question")
    candidates, seats = _candidates(kind, data)
    scope_type = data.get("scope_type", "estate")
    scope_ids = _scope(estate.id, scope_type, data.get("scope_ids"))
    opens_at, closes_at = data["opens_at"], data["closes_at"]
    _check_window(opens_at, closes_at, policy.max_window_days)
    notice_days = data.get("notice_days") or policy.notice_days
    if notice_days < policy.notice_days:
        raise NoticeDaysTooFew(days=policy.notice_days)
    publication_days = data.get("publication_days") or policy.publication_days
    if publication_days < policy.publication_days:
        raise PublicationDaysTooFew(days=policy.publication_days)
    clause = _silent_rule_clause(data)
    attachments = list(data.get("attachments") or [])
    motion = Motion(estate_id=estate.id, title=data["title"], body=data["body"], attachments=attachments,
                    item=data["item"], kind=kind, seats=seats, scope_type=scope_type, scope_ids=scope_ids,
                    major_repair=bool(data.get("major_repair")), status="draft", notice_days=notice_days,
                    publication_days=publication_days, revote=data.get("revote") or policy.revote_default,
                    silent_with_majority=clause is not None, silent_rule_clause=clause, opens_at=opens_at,
                    closes_at=closes_at, created_by=actor.user_id, reminders_sent=[], chain_head=chain.GENESIS,
                    chain_length=0)
    db.session.add(motion)
    db.session.flush()
    # Each attachment becomes the motion's (refused if it is someone else's or attached to anything already).
    uploads.claim_for(actor.user_id, attachments, f"motion:{motion.id}", field="attachments")
    for position, candidate in enumerate(candidates, start=1):
        db.session.add(Candidate(motion_id=motion.id, position=position, name=candidate["name"],
                                 statement=candidate.get("statement")))
    audit.record(actor, "voting.motion_create", "motion", motion.id, after={"title": motion.title, "item": motion.item})
    return motion


def _candidates(kind: str, data: dict) -> tuple[list[dict], int | None]:
    """An election (item 3) has its candidates and at most as many seats; any other motion neither."""
    candidates, seats = data.get("candidates") or [], data.get("seats")
    if kind != "election":
        if candidates or seats:
            raise CandidatesOnlyInElection()
        return [], None
    if data["item"] != 3:
        raise ElectionIsItem3()
    if not seats or not candidates or seats > len(candidates):
        raise SeatsWithoutCandidates()
    if len({c["name"] for c in candidates}) != len(candidates):
        raise CandidateNamesRepeat()
    return candidates, seats


def _scope(estate_id: int, scope_type: str, ids) -> list[int]:
    """The scope's buildings, or its one entrance, all of the estate (none for the whole estate)."""
    if scope_type == "estate":
        return []
    scope_ids = sorted(set(ids or []))
    if not scope_ids or (scope_type == "entrance" and len(scope_ids) != 1):
        raise ScopeMissing()
    if scope_type == "buildings":
        found = db.session.execute(sa.select(sa.func.count()).select_from(Building).where(
            Building.id.in_(scope_ids), Building.estate_id == estate_id)).scalar_one()
    else:
        found = db.session.execute(sa.select(sa.func.count()).select_from(Entrance).join(Building).where(
            Entrance.id.in_(scope_ids), Building.estate_id == estate_id)).scalar_one()
    if found != len(scope_ids):
        raise ScopeOutsideEstate()
    return scope_ids


def _check_window(opens_at: datetime, closes_at: datetime, max_days: int) -> None:
    if opens_at > clock.now() + MAX_LEAD:
        raise OpensTooFarAhead()
    if closes_at <= opens_at:
        raise ClosesBeforeOpening()
    if closes_at - opens_at > timedelta(days=max_days):
        raise WindowTooLong(days=max_days)


def _silent_rule_clause(data: dict) -> str | None:
    """The 议事规则 clause that counts silent owners with the majority, when the motion does (it must name one)."""
    if not data.get("silent_with_majority"):
        return None
    clause = (data.get("silent_rule_clause") or "").strip()
    if not clause:
        raise SilentRuleClauseMissing()
    return clause


# The statuses each action applies to.
ACTIONS = {"announce": ("draft",), "cancel": ("draft", "announced"), "publish": ("counted", "failed")}


@transactional
def act(actor: Actor, motion_id: int, action: str) -> Motion:
    """Announce, cancel or publish a motion (one of ``ACTIONS``)."""
    motion = _managed(actor, motion_id)
    if motion.status not in ACTIONS[action]:
        raise ActionNotAllowed(action=action, state=motion.status)
    before = motion.status
    now = clock.now()
    if action == "announce":
        _announce(actor, motion, now)
    elif action == "cancel":
        motion.status = "cancelled"
        chain.append(motion, "cancel", {}, actor.user_id)
    else:
        motion.status, motion.published_at = "published", now
        motion.publish_until = now + timedelta(days=motion.publication_days)
        chain.append(motion, "publish", {"until": motion.publish_until.isoformat(),
                                         "result_passed": (motion.result or {}).get("passed")}, actor.user_id)
    audit.record(actor, f"voting.motion_{action}", "motion", motion.id, before={"status": before},
                 after={"status": motion.status})
    return motion


def _announce(actor: Actor, motion: Motion, now: datetime) -> None:
    if queries.locked_by_reelection(motion):
        raise ReelectionLock()
    if notice_full_days(now, motion.opens_at) < motion.notice_days:
        raise NoticeTooShort(days=motion.notice_days)
    motion.status, motion.announced_at = "announced", now
    chain.append(motion, "notice", {"opens_at": motion.opens_at.isoformat(),
                                    "closes_at": motion.closes_at.isoformat(), "item": motion.item,
                                    "scope": [motion.scope_type, motion.scope_ids]}, actor.user_id)


@transactional
def set_reelection(actor: Actor, estate_id: int, start: bool) -> Reelection | None:
    """Record the start or the end of the estate's committee re-election (staff over the estate)."""
    if db.session.get(Estate, estate_id) is None:
        raise EstateNotFound()
    if not access.may_record_reelection(actor, estate_id):
        raise NotStaff()
    current = db.session.execute(sa.select(Reelection).where(Reelection.estate_id == estate_id,
                                                             Reelection.ended_at.is_(None))).scalar_one_or_none()
    if start:
        if current is not None:
            raise ReelectionActive()
        current = add_unique(Reelection(estate_id=estate_id, started_by=actor.user_id), ReelectionActive())
    else:
        if current is None:
            raise ReelectionInactive()
        current.ended_at = clock.now()
    audit.record(actor, "voting.reelection_" + ("start" if start else "end"), "estate", estate_id)
    return current


# --- ballots -----------------------------------------------------------------------------------------------

def _check_open(motion) -> None:
    if motion.status != "open" or clock.now() >= motion.closes_at:
        raise NotOpen()


def _require_sight(actor: Actor, motion) -> None:
    """The ballot path's caller carries no roles (people.load_caller): load them to decide, as GET does."""
    if not access.may_see(people.load_actor(actor.user_id) or actor, motion):
        raise MotionNotFound()


def _content(motion, choice: str | None, candidate_ids: list | None, choices=QUESTION_CHOICES):
    """(choice, candidate ids) of a ballot: an election's names candidates (or is spoiled), a question's
    is one of ``choices``."""
    if motion.kind == "election":
        if choice not in (None, "spoiled"):
            raise ElectionNamesCandidates()
        ids = sorted(set(candidate_ids or []))
        if choice == "spoiled":
            return "spoiled", None
        if len(ids) != len(candidate_ids or []):
            raise CandidateTwice()
        valid = set(db.session.connection().execute(_CANDIDATES, {"motion_id": motion.id}).scalars())
        if not set(ids) <= valid:
            raise CandidateNotStanding()
        if len(ids) > motion.seats:
            raise TooManyCandidates(seats=motion.seats)
        return None, ids
    if candidate_ids:
        raise NotAnElection()
    if choice not in choices:
        raise ChoiceMissing(choices=choices)
    return choice, None


_CHANNEL_ZH = {"online": "网上", "paper": "纸质", "proxy": "委托代理"}


def _already_voted(live_channel: str | None, voter_id: int, *, own: bool = False) -> AlreadyVoted:
    """The owner has a ballot on the motion already (of ``live_channel`` when known): told to the owner voting
    for themself (``own``), or to a proxy or clerk acting for the owner."""
    refusal = AlreadyVotedYourself if own else AlreadyVoted
    return refusal(voter_id, channel=_CHANNEL_ZH.get(live_channel or "", ""))


def _live(motion_id: int, voter_id: int) -> Ballot | None:
    return db.session.execute(sa.select(Ballot).where(Ballot.motion_id == motion_id, Ballot.voter_id == voter_id,
                                                      Ballot.status.in_(("pending", "counted")))).scalar_one_or_none()


def cast(actor: Actor, motion_id: int, *, choice: str | None = None, candidate_ids: list | None = None,
         voter_id: int | None = None, on_behalf_of_unit: int | None = None) -> dict:
    """An owner's online ballot, or a proxy's ballot for a principal; returns what it wrote, in the shape of
    its answer (ballot id, channel, status, receipt, replaced, cast_at). A refused second ballot is logged.

    Two steps: what the ballot will be is decided in a read transaction (the motion, the caller's voter
    entity, its live ballot, the choice, the digest), then the write transaction only inserts and links,
    so SQLite's single writer (and the motion's row lock on PostgreSQL) is held for a few statements.
    Whatever changed in between is caught by the write: a ballot that got there first meets the partial
    unique index, a replaced ballot must still be live, and the motion must still be open under its lock."""
    try:
        with reading():
            plan = _plan_cast(actor, motion_id, choice, candidate_ids, voter_id, on_behalf_of_unit)
        return _record_cast(plan)
    except BallotRefused as refusal:
        if refusal.voter_id is not None:
            _log_refusal(motion_id, refusal, "proxy" if on_behalf_of_unit else "online", actor.user_id)
        raise


@transactional
def _log_refusal(motion_id: int, refusal: BallotRefused, channel: str, user_id: int) -> None:
    """A refused ballot goes to the refusal log (committee and staff read it), not the motion's chain: a
    burst of retries must not grow the ballots' audit trail. No lock on the motion: one insert."""
    db.session.add(BallotRefusal(motion_id=motion_id, voter_id=refusal.voter_id, channel=channel,
                                 reason=refusal.reason, actor_user_id=user_id, at=clock.now()))


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


def _plan_cast(actor: Actor, motion_id: int, choice: str | None, candidate_ids: list | None,
               voter_id: int | None, on_behalf_of_unit: int | None) -> dict:
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
        raise MotionNotFound()
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
            raise NoMandate()
        if proxy.used_at is not None:
            raise MandateUsed(proxy.voter_id)
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
            raise NotInElectorate()
        if len(mine) > 1:
            raise SeveralVoters()
        row = mine[0]
        channel, voter = "online", row.voter_id
        live = (row.live_id, row.live_channel, row.live_status) if row.live_id is not None else None
    replaces = None
    if live is not None:
        live_id, live_channel, live_status = live
        if not (motion.revote == "last_wins" and channel == "online" and live_channel == "online"
                and live_status == "counted"):
            raise _already_voted(live_channel, voter, own=channel == "online")
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
        raise _already_voted("online", voter, own=True)  # replaced meanwhile by another request of this owner
    proxy_id = values.get("proxy_id")
    if proxy_id is not None and connection.execute(_USE_MANDATE, {"proxy_id": proxy_id, "now": now}).rowcount != 1:
        raise MandateUsed(voter)  # used meanwhile by another request of the proxy
    row = {**values, "cast_at": now, "settled_at": now, "chain_pending": True}
    try:
        ballot_id = connection.execute(_INSERT_IF_OPEN, {f"b_{name}": row.get(name) for name in _CAST_COLUMNS}
                                       ).scalar()
        if ballot_id is None:
            raise NotOpen()
    except sa.exc.IntegrityError as exc:
        # The partial unique index: a ballot of another request or channel got there first. The error
        # ends the transaction (the use-case rolls back); the refusal is logged in a new one.
        if not is_unique_violation(exc):
            raise
        raise _already_voted(None, voter, own=values["channel"] == "online") from None
    return {"ballot_id": ballot_id, "channel": values["channel"], "status": "counted", "receipt": values["receipt"],
            "replaced": replaces is not None, "cast_at": clock.local(now)}


def _voter_for_unit(motion: Motion, unit_id: int) -> Voter:
    voter = db.session.execute(sa.select(Voter).join(VoterUnit, VoterUnit.voter_id == Voter.id).where(
        VoterUnit.motion_id == motion.id, VoterUnit.unit_id == unit_id)).scalar_one_or_none()
    if voter is None:
        raise UnitNotInScope()
    return voter


def enter_paper(actor: Actor, motion_id: int, *, unit_id: int, choice: str | None, candidate_ids: list | None,
                image_upload_id: int) -> Ballot:
    """A signed paper ballot entered by a clerk (committee or staff): pending until a second person confirms
    it. A refused second ballot is logged."""
    try:
        return _enter_paper(actor, motion_id, unit_id, choice, candidate_ids, image_upload_id)
    except BallotRefused as refusal:
        if refusal.voter_id is not None:
            _log_refusal(motion_id, refusal, "paper", actor.user_id)
        raise


@transactional
def _enter_paper(actor: Actor, motion_id: int, unit_id: int, choice: str | None, candidate_ids: list | None,
                 image_upload_id: int) -> Ballot:
    motion = access.require_see(actor, motion_id)
    access.require_manage(actor, motion.estate_id)
    _check_open(motion)
    choice, ids = _content(motion, choice, candidate_ids, PAPER_CHOICES)
    voter = _voter_for_unit(motion, unit_id)
    live = _live(motion.id, voter.id)
    if live is not None:
        raise _already_voted(live.channel, voter.id)
    # The signed image becomes this motion's paper evidence: the clerk's own, attached to nothing else (one
    # image, one ballot); taken before the ballot row that refers to it.
    uploads.attach(actor.user_id, image_upload_id, f"paper:{motion.id}", field="image_upload_id")
    ballot = Ballot(motion_id=motion.id, voter_id=voter.id, channel="paper", choice=choice, candidate_ids=ids,
                    status="pending", cast_by=actor.user_id, image_upload_id=image_upload_id,
                    nonce=secrets.token_hex(16), cast_at=clock.now(), digest="", receipt="")
    ballot.digest = chain.ballot_digest(ballot)
    ballot.receipt = ballot.digest[:10]
    add_unique(ballot, _already_voted(None, voter.id))
    # As for online ballots: the ballot row first, the motion's lock last (one order, no deadlock).
    motion = lock_motion(motion_id)
    _check_open(motion)
    chain.append(motion, "paper_entered", {"ballot": ballot.id, "voter": voter.id, "channel": "paper",
                                           "digest": ballot.digest}, actor.user_id)
    audit.record(actor, "voting.paper_enter", "ballot", ballot.id)
    return ballot


@transactional
def confirm_paper(actor: Actor, motion_id: int, ballot_id: int, *, accept: bool, reason: str | None = None) -> Ballot:
    """A second person (not the clerk who entered it) counts a paper ballot, or refuses it."""
    motion = _managed(actor, motion_id)
    _check_open(motion)
    ballot = db.session.get(Ballot, ballot_id)
    if ballot is None or ballot.motion_id != motion.id or ballot.channel != "paper":
        raise BallotNotFound()
    if ballot.cast_by == actor.user_id:
        raise SecondPersonRequired()
    changed = db.session.execute(sa.update(Ballot).where(Ballot.id == ballot.id, Ballot.status == "pending").values(
        status="counted" if accept else "void", confirmed_by=actor.user_id, settled_at=clock.now())).rowcount
    if changed != 1:
        raise AlreadyConfirmed()
    db.session.refresh(ballot)
    chain.append(motion, "paper_confirmed" if accept else "paper_refused",
                 {"ballot": ballot.id, "voter": ballot.voter_id, "reason": reason}, actor.user_id)
    audit.record(actor, "voting.paper_" + ("confirm" if accept else "refuse"), "ballot", ballot.id)
    return ballot


# --- proxies -----------------------------------------------------------------------------------------------

class _SlotTaken(Exception):
    """The proxy's mandate slot is someone else's already (the unique constraint refused it)."""


@transactional
def register_proxy(actor: Actor, motion_id: int, *, unit_id: int, proxy_user_id: int, mandate_upload_id: int,
                   valid_until: datetime | None = None) -> Proxy:
    """A proxy with the owner's written mandate, entered by a clerk; a proxy holds at most the policy's number
    of mandates in one motion."""
    motion = _managed(actor, motion_id)
    _check_open(motion)
    voter = _voter_for_unit(motion, unit_id)
    _check_proxy(voter, proxy_user_id, valid_until)
    if db.session.execute(sa.select(Proxy.id).where(Proxy.motion_id == motion.id, Proxy.voter_id == voter.id,
                                                    Proxy.revoked_at.is_(None))).first():
        raise ProxyExists()
    # The written mandate becomes this motion's, once: the clerk's own upload, attached to nothing else.
    uploads.attach(actor.user_id, mandate_upload_id, f"mandate:{motion.id}", field="mandate_upload_id")
    cap = rules.current().policy.max_principals_per_proxy
    proxy = None
    for slot in range(1, cap + 1):
        candidate = Proxy(motion_id=motion.id, voter_id=voter.id, proxy_user_id=proxy_user_id, slot=slot,
                          mandate_upload_id=mandate_upload_id, valid_until=valid_until, entered_by=actor.user_id)
        try:
            proxy = add_unique(candidate, _SlotTaken())
            break
        except _SlotTaken:
            continue
    if proxy is None:
        raise ProxyCap(cap=cap)
    chain.append(motion, "proxy", {"proxy": proxy.id, "voter": voter.id, "proxy_user": proxy_user_id,
                                   "mandate": mandate_upload_id,
                                   "valid_until": valid_until.isoformat() if valid_until else None}, actor.user_id)
    audit.record(actor, "voting.proxy_register", "motion_proxy", proxy.id)
    return proxy


def _check_proxy(voter: Voter, proxy_user_id: int, valid_until: datetime | None) -> None:
    """The proxy is an active user whose identity 居委会 staff have checked (not merely typed into /me), not
    the owner; the mandate has not expired."""
    proxy_user = db.session.get(User, proxy_user_id)
    profile = db.session.get(ResidentProfile, proxy_user_id) if proxy_user else None
    if proxy_user is None or not proxy_user.is_active:
        raise ProxyUnknown()
    if profile is None or profile.id_verified_at is None:
        raise ProxyUnverified()
    if voter.user_id == proxy_user_id:
        raise OwnProxy()
    if valid_until is not None and valid_until <= clock.now():
        raise MandateExpired()


# --- the steps of the sweeps (service/voting/reminders.py): one motion, one transaction, under its lock -------

@transactional
def open_motion(motion_id: int) -> bool:
    """Open an announced motion and freeze its electorate; one locked by a re-election is cancelled."""
    motion = lock_motion(motion_id)
    if motion.status != "announced":
        return False
    if queries.locked_by_reelection(motion):
        motion.status = "cancelled"
        chain.append(motion, "cancel", {"reason": "reelection_lock"})
        return False
    summary = electorate.freeze(motion)
    motion.status, motion.opened_at = "open", clock.now()
    chain.append(motion, "snapshot", summary)
    return True


@transactional
def close_motion(motion_id: int) -> str | None:
    """Close an open motion past its closing time: unconfirmed paper ballots are void, the ballots counted.
    Participation short of 2/3 extends it once (when the policy allows); else it is counted or failed, and
    an election that seats every seat ends the estate's re-election."""
    motion = lock_motion(motion_id, exclusive=True)
    if motion.status != "open" or motion.closes_at > clock.now():
        return None
    voided = db.session.execute(sa.update(Ballot).where(Ballot.motion_id == motion.id, Ballot.status == "pending")
                                .values(status="void", settled_at=clock.now())).rowcount
    motion.status, motion.closed_at = "closed", clock.now()
    chain.append(motion, "close", {"unconfirmed_paper_voided": voided})
    result = tally.compute_result(motion)
    policy = rules.current().policy
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
    return motion.status


@transactional
def link_motion(motion_id: int) -> int:
    """Append the motion's pending ballots to its chain, under its row lock."""
    return chain.link_pending(lock_motion(motion_id))
