"""Who may see and do what in the owners' assembly's voting.

The estate's committee and the staff of its 居委会 (or street) manage its motions; its owners, and
whoever votes in a motion (a voter of the frozen electorate, a registered proxy), see them. A motion
someone may not see is answered as if it did not exist.
"""
from __future__ import annotations

import sqlalchemy as sa

from models.base import db
from models.places import estate_neighbourhood
from models.voting import Motion, Proxy, Voter
from service.people import Actor
from service.voting.errors import MotionNotFound, NotManager


def _estate_neighbourhoods(estate_id: int) -> set[int]:
    return set(db.session.execute(sa.select(estate_neighbourhood.c.neighbourhood_id)
                                  .where(estate_neighbourhood.c.estate_id == estate_id)).scalars())


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


