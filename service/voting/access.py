"""Who may see and do what in the owners' assembly's voting.

The estate's committee and the staff of its 居委会 (or street) manage its motions; its owners, and
whoever votes in a motion (a voter of the frozen electorate, a registered proxy), see them. A motion
someone may not see is answered as if it did not exist.
"""
from __future__ import annotations

import sqlalchemy as sa

from models.base import db
from models.places import Estate, estate_neighbourhood
from models.voting import Motion, Proxy, Voter
from service.people import Actor
from service.voting.errors import MotionNotFound, NotManager


def _estate_places(estate_id: int) -> tuple[set[int], int | None]:
    """The estate's neighbourhoods and its street, read once per session (a request asks several times)."""
    known = db.session.info.setdefault("voting.estate_places", {})
    if estate_id not in known:
        rows = db.session.execute(sa.select(estate_neighbourhood.c.neighbourhood_id, Estate.street_id)
                                  .select_from(Estate).outerjoin(estate_neighbourhood,
                                                                 estate_neighbourhood.c.estate_id == Estate.id)
                                  .where(Estate.id == estate_id)).all()
        known[estate_id] = ({nid for nid, _ in rows if nid is not None}, rows[0][1] if rows else None)
    return known[estate_id]


def _estate_neighbourhoods(estate_id: int) -> set[int]:
    return _estate_places(estate_id)[0]


def estate_street(estate_id: int) -> int | None:
    """The street of the estate (where an audit entry about it is placed)."""
    return _estate_places(estate_id)[1]


def _staff_over(actor: Actor, estate_id: int) -> bool:
    return actor.is_staff and bool(_estate_neighbourhoods(estate_id) & actor.neighbourhood_ids)


def may_manage(actor: Actor, estate_id: int) -> bool:
    """The estate's committee, staff of its 居委会 (or street), admins over it."""
    if estate_id in actor.scope_ids("committee", "estate"):
        return True
    return _staff_over(actor, estate_id)


def may_record_reelection(actor: Actor, estate_id: int) -> bool:
    """The start and end of a 换届 are recorded by the staff over the estate."""
    return _staff_over(actor, estate_id)


def may_see_motions(actor: Actor, estate_id: int) -> bool:
    """The estate's motions: its owners, committee and staff."""
    return estate_id in actor.owner_estate_ids or may_manage(actor, estate_id)


def _takes_part(user_id: int, motion_id: int) -> bool:
    """A voter of the motion's frozen electorate (still one after selling) or a proxy registered in it."""
    return db.session.execute(sa.select(sa.or_(
        sa.exists().where(Voter.motion_id == motion_id, Voter.user_id == user_id),
        sa.exists().where(Proxy.motion_id == motion_id, Proxy.proxy_user_id == user_id,
                          Proxy.revoked_at.is_(None))))).scalar()


def may_see(actor: Actor, motion) -> bool:
    """Who finds a motion at all: a draft its managers; otherwise the estate's owners, committee and staff,
    and whoever votes in it (a frozen voter, a proxy). Everyone else is answered as if it did not exist.
    ``motion`` is a Motion or a row with its id, estate_id and status."""
    if motion.status == "draft":
        return may_manage(actor, motion.estate_id)
    return may_see_motions(actor, motion.estate_id) or _takes_part(actor.user_id, motion.id)


def require_see(actor: Actor, motion_id: int) -> Motion:
    """The motion, when ``actor`` may see it; else it is not found."""
    motion = db.session.get(Motion, motion_id)
    if motion is None or not may_see(actor, motion):
        raise MotionNotFound()
    return motion


def require_manage(actor: Actor, estate_id: int) -> None:
    if not may_manage(actor, estate_id):
        raise NotManager()


# Uploads attached to voting objects are seen by whoever may see the motion (attachments) or manage it (the
# signed paper ballots and the written mandates: the clerk, the second-person confirmer, committee, staff).
def _attached_motion(upload) -> Motion | None:
    try:
        return db.session.get(Motion, int(upload.attached_to.split(":", 1)[1]))
    except (ValueError, IndexError):
        return None


def may_see_attachment(actor: Actor, upload) -> bool:
    """A motion's documents are seen by whoever may see the motion."""
    motion = _attached_motion(upload)
    return motion is not None and may_see(actor, motion)


def may_see_evidence(actor: Actor, upload) -> bool:
    """A paper ballot's or a mandate's scan is seen by those who manage the motion's estate."""
    motion = _attached_motion(upload)
    return motion is not None and may_manage(actor, motion.estate_id)


