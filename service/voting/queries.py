"""Reading motions: details, the result and the turnout (counted in tally.py), receipts, participation,
refusals, the chain's verification; and what the answers after a write show."""
from __future__ import annotations

import functools

import sqlalchemy as sa

from models.base import db
from models.places import Building, Entrance, Estate, Unit
from models.voting import Ballot, BallotRefusal, Motion, Proxy, Reelection, Voter, VoterUnit
from service import audit
from service.db import paged, paginate, rows_and_total, with_total
from service.people import Actor
from service.voting import access, chain, electorate, rules, tally
from service.voting.errors import EstateNotFound, ManagersOnlySee, NotOwner, NotStarted, ResultNotAvailable


def summary(motion: Motion, lang: str = "zh") -> dict:
    item = rules.current().item(motion.item)
    return {"id": motion.id, "estate_id": motion.estate_id, "title": motion.title, "item": motion.item,
            "item_name": item.name(lang), "approval_rule": item.approval, "kind": motion.kind,
            "status": motion.status, "scope_type": motion.scope_type, "scope_ids": motion.scope_ids,
            "opens_at": motion.opens_at, "closes_at": motion.closes_at, "announced_at": motion.announced_at,
            "extended": motion.extended, "published_at": motion.published_at}


def detail(actor: Actor, motion_id: int, lang: str = "zh") -> dict:
    """One motion, as whoever may see it sees it (else it is not found)."""
    motion = access.require_see(actor, motion_id)
    data = summary(motion, lang)
    data.update({
        "body": motion.body, "attachments": motion.attachments or [], "seats": motion.seats,
        "candidates": [{"id": c.id, "position": c.position, "name": c.name, "statement": c.statement}
                       for c in motion.candidates],
        "major_repair": motion.major_repair, "notice_days": motion.notice_days,
        "publication_days": motion.publication_days, "revote": motion.revote,
        "silent_with_majority": motion.silent_with_majority, "silent_rule_clause": motion.silent_rule_clause,
        "publish_until": motion.publish_until, "total_area": str(motion.total_area) if motion.total_area is not None
        else None, "total_heads": motion.total_heads, "snapshot_hash": motion.snapshot_hash,
        "chain_head": motion.chain_head, "can_manage": access.may_manage(actor, motion.estate_id)})
    return data


def list_motions(actor: Actor, estate_id: int, *, status: str | None, page: int, page_size: int):
    if db.session.get(Estate, estate_id) is None:
        raise EstateNotFound()
    if not access.may_see_motions(actor, estate_id):
        raise NotOwner()
    query = sa.select(Motion).where(Motion.estate_id == estate_id)
    if not access.may_manage(actor, estate_id):
        query = query.where(Motion.status != "draft")
    if status:
        query = query.where(Motion.status == status)
    return paginate(query.order_by(Motion.id.desc()), page, page_size)


def reelection_active(estate_id: int) -> bool:
    return db.session.execute(sa.select(Reelection.id).where(Reelection.estate_id == estate_id,
                                                             Reelection.ended_at.is_(None))).first() is not None


def reelection(estate_id: int) -> dict:
    """Whether the estate is in a committee re-election (换届)."""
    return {"estate_id": estate_id, "active": reelection_active(estate_id)}


def locked_by_reelection(motion: Motion) -> bool:
    """The motion's item may not be voted on while the estate is in a re-election."""
    item = rules.current().item(motion.item)
    locked = item.reelection_locked or (item.reelection_locked_if_major_repair and motion.major_repair)
    return locked and reelection_active(motion.estate_id)


# --- the result and the turnout ---------------------------------------------------------------------------

def result(actor: Actor, motion_id: int) -> dict:
    """The result once counted: to the committee and staff at once, to everyone who sees the motion once
    published."""
    motion = access.require_see(actor, motion_id)
    manager = access.may_manage(actor, motion.estate_id)
    if motion.status not in ("counted", "failed", "published") or (motion.status != "published" and not manager):
        raise ResultNotAvailable()
    return tally.report(motion)


def turnout(actor: Actor, motion_id: int) -> dict:
    """Participation so far, while the motion is open and after: area and heads of the counted ballots
    against the electorate's totals and the 2/3 thresholds (3×a_p ≥ 2×A, 3×n_p ≥ 2×N), what is still
    needed, paper ballots awaiting confirmation apart. Never a choice. Committee and staff."""
    motion = _managed(actor, motion_id, "the turnout")
    if motion.status in ("draft", "announced", "cancelled"):
        raise NotStarted()
    return tally.turnout(motion)


# --- receipts and participation -------------------------------------------------------------------------

def receipts(actor: Actor, motion_id: int, *, code: str | None, page: int, page_size: int):
    motion = access.require_see(actor, motion_id)
    if motion.status in ("draft", "announced", "cancelled"):
        raise NotStarted()
    query = sa.select(Ballot).where(Ballot.motion_id == motion.id, Ballot.status == "counted")
    if code:
        query = query.where(Ballot.receipt == code.lower())
    items, total = paginate(query.order_by(Ballot.receipt, Ballot.id), page, page_size)
    return [{"receipt": b.receipt, "channel": b.channel} for b in items], total


def my_ballots(actor: Actor, motion_id: int) -> list[dict]:
    """The caller's ballots (their own, and those they cast as a proxy). Their own units read in full; a
    principal's stay masked for the proxy."""
    motion = access.require_see(actor, motion_id)
    rows = db.session.execute(sa.select(Ballot, Voter).join(Voter, Voter.id == Ballot.voter_id).where(
        Ballot.motion_id == motion.id, sa.or_(Voter.user_id == actor.user_id, Ballot.cast_by == actor.user_id))
        .order_by(Ballot.id)).all()
    own = electorate.voter_labels(motion.id, [v.id for _, v in rows if v.user_id == actor.user_id])
    return [{"ballot_id": b.id, "voter_id": v.id, "units": v.units, "label": own.get(v.id, v.label),
             "channel": b.channel, "choice": b.choice, "candidate_ids": b.candidate_ids, "status": b.status,
             "receipt": b.receipt, "replaces_receipt": None, "cast_at": b.cast_at} for b, v in rows]


def _managed(actor: Actor, motion_id: int, what: str) -> Motion:
    motion = access.require_see(actor, motion_id)
    if not access.may_manage(actor, motion.estate_id):
        raise ManagersOnlySee(what=what)
    return motion


# A voter's counted ballot. The live condition is written out literally (with the counted one) so that both
# databases use the partial unique index uq_ballot_live (motion_id, voter_id).
_MU, _B = VoterUnit.__table__, Ballot.__table__
_COUNTED = (sa.exists().where(_B.c.motion_id == _MU.c.motion_id, _B.c.voter_id == _MU.c.voter_id,
                              sa.text("ballot.status IN ('pending', 'counted')"), _B.c.status == "counted"))
# A page of participation in one statement: each unit of the frozen electorate with its label's parts (read from
# the register; a unit the register no longer holds shows no label) and its voter's live ballot status, the total
# of the filtered units beside each row. Built once per shape of filter (by building or not; voted, not, either).
_LIVE_STATUS = (sa.select(_B.c.status).where(_B.c.motion_id == _MU.c.motion_id, _B.c.voter_id == _MU.c.voter_id,
                                              sa.text("ballot.status IN ('pending', 'counted')"))
                .scalar_subquery())


@functools.lru_cache(maxsize=None)
def _participation_page(by_building: bool, voted: bool | None):
    where = [_MU.c.motion_id == sa.bindparam("motion_id")]
    if by_building:
        where.append(_MU.c.building_id == sa.bindparam("building_id"))
    if voted is not None:
        where.append(_COUNTED if voted else ~_COUNTED)
    count = sa.select(sa.func.count()).select_from(_MU).where(*where)
    page = paged(sa.select(_MU.c.unit_id, _MU.c.building_id, _MU.c.area, Building.number.label("building_number"),
                           Entrance.number.label("entrance_number"), Unit.number.label("unit_number"),
                           _LIVE_STATUS.label("live"))
                 .select_from(_MU).outerjoin(Unit, Unit.id == _MU.c.unit_id)
                 .outerjoin(Building, Building.id == Unit.building_id)
                 .outerjoin(Entrance, Entrance.id == Unit.entrance_id)
                 .where(*where).order_by(_MU.c.unit_id))
    return with_total(page, count), count


def participation(actor: Actor, motion_id: int, *, voted: bool | None = None, building_id: int | None = None,
                  page: int, page_size: int):
    """Which units have voted, for the committee and staff who go round the doors: full unit labels (no
    names, no choices), filtered by ``voted`` (a counted ballot, or none yet: a paper ballot waiting for
    its confirmation is not counted) and building, a page at a time in unit order. The view is audited."""
    motion = _managed(actor, motion_id, "participation")
    statement, count = _participation_page(building_id is not None, voted)
    rows, total = rows_and_total(statement, count, {"motion_id": motion.id, "building_id": building_id,
                                                    "limit": page_size, "offset": (page - 1) * page_size})
    items = [{"unit_id": r.unit_id, "building_id": r.building_id,
              "label": electorate.unit_label(r.building_number, r.entrance_number, r.unit_number)
              if None not in (r.building_number, r.entrance_number, r.unit_number) else "",
              "area": str(r.area), "voted": r.live == "counted", "pending_confirmation": r.live == "pending"}
             for r in rows]
    audit.record_view(actor, "voting.participation_viewed", "motion", motion.id,
                      street_id=access.estate_street(motion.estate_id))
    return items, total


def refusals(actor: Actor, motion_id: int, *, page: int, page_size: int):
    """Ballots the database refused (a second ballot for an owner, a mandate already used), newest first:
    channel, reason, time and the owner's unit. Committee and staff."""
    motion = _managed(actor, motion_id, "refused ballots")
    items, total = paginate(sa.select(BallotRefusal).where(BallotRefusal.motion_id == motion.id)
                            .order_by(BallotRefusal.id.desc()), page, page_size)
    labels = electorate.voter_labels(motion.id, [r.voter_id for r in items])
    return [{"id": r.id, "voter_id": r.voter_id, "label": labels.get(r.voter_id, ""), "channel": r.channel,
             "reason": r.reason, "at": r.at} for r in items], total


def verify(actor: Actor, motion_id: int) -> dict:
    access.require_see(actor, motion_id)
    return chain.verify(motion_id)


# --- the answers after a write ----------------------------------------------------------------------------

def ballot_summary(ballot_id: int) -> dict:
    """A ballot as its clerk or confirmer is answered (BallotOut)."""
    ballot = db.session.get(Ballot, ballot_id)
    return {"ballot_id": ballot.id, "channel": ballot.channel, "status": ballot.status, "receipt": ballot.receipt,
            "replaced": ballot.replaces_id is not None, "cast_at": ballot.cast_at}


def proxy_summary(proxy_id: int) -> dict:
    proxy = db.session.get(Proxy, proxy_id)
    return {"id": proxy.id, "voter_id": proxy.voter_id, "proxy_user_id": proxy.proxy_user_id,
            "valid_until": proxy.valid_until}
