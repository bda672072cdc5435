"""Who keeps an estate's fund books (its owners' committee, and the 居委会 or street staff covering the whole
estate), who oversees them (besides, the staff of any 居委会 the estate lies in: they read the books and the
calendar, answer owners' queries, and are told of late queries and overdue statements) and who reads its
published statements (its owners, besides)."""
from __future__ import annotations

import sqlalchemy as sa

from models.base import db
from models.people import RoleAssignment
from models.places import Estate, estate_neighbourhood
from service import people
from service.funds import errors
from service.people import Actor


def estate(estate_id: int) -> Estate:
    found = db.session.get(Estate, estate_id)
    if found is None:
        raise errors.EstateNotFound()
    return found


MANAGE, OVERSEE = 2, 1


def standing(actor: Actor, place: Estate) -> int:
    """What the actor may do with the estate's books, from one reading of its neighbourhoods: MANAGE (keep
    them: its committee, staff of its street or of every neighbourhood it lies in), OVERSEE (read them and
    answer queries: the staff of any of its neighbourhoods, who are told when the committee is late) or 0."""
    if place.id in actor.scope_ids("committee", "estate"):
        return MANAGE
    if not actor.is_staff:
        return 0
    if place.street_id in actor.street_ids:
        return MANAGE
    nbs = set(db.session.execute(sa.select(estate_neighbourhood.c.neighbourhood_id)
                                 .where(estate_neighbourhood.c.estate_id == place.id)).scalars())
    covered = nbs & actor.neighbourhood_ids
    return MANAGE if covered and covered == nbs else OVERSEE if covered else 0


def may_manage(actor: Actor, place: Estate) -> bool:
    return standing(actor, place) == MANAGE


def may_oversee(actor: Actor, place: Estate) -> bool:
    return standing(actor, place) >= OVERSEE


def require_oversee(actor: Actor, place: Estate) -> None:
    if not may_oversee(actor, place):
        raise errors.NotManager()


def require_manage(actor: Actor, place: Estate) -> None:
    if not may_manage(actor, place):
        raise errors.NotManager()


def may_read_published(actor: Actor, place: Estate) -> bool:
    return place.id in actor.owner_estate_ids or may_oversee(actor, place)


def committee_of(estate_id: int) -> list[int]:
    """The members of the estate's owners' committee."""
    return people.role_holders("committee", "estate", [estate_id])


def staff_of(place: Estate) -> list[int]:
    """The 居委会 staff of the estate's neighbourhoods."""
    return people.role_holders("staff", "neighbourhood", db.session.execute(
        sa.select(estate_neighbourhood.c.neighbourhood_id).where(estate_neighbourhood.c.estate_id == place.id))
        .scalars())


def estate_names(estate_ids) -> dict[int, str]:
    """Many estates' names by id, in one read."""
    return dict(db.session.execute(sa.select(Estate.id, Estate.name)
                                   .where(Estate.id.in_(sorted(set(estate_ids))))).all())


def committees_of(estate_ids) -> dict[int, list[int]]:
    """``committee_of`` for many estates in one read: each estate's committee members (an estate without one is
    left out)."""
    return _holders(sa.select(RoleAssignment.scope_id, RoleAssignment.user_id).where(
        RoleAssignment.role == "committee", RoleAssignment.scope_type == "estate",
        RoleAssignment.scope_id.in_(sorted(set(estate_ids)))))


def staff_of_estates(estate_ids) -> dict[int, list[int]]:
    """``staff_of`` for many estates in one read: the 居委会 staff of each estate's neighbourhoods."""
    return _holders(sa.select(estate_neighbourhood.c.estate_id, RoleAssignment.user_id).join(
        RoleAssignment, sa.and_(RoleAssignment.scope_id == estate_neighbourhood.c.neighbourhood_id,
                                RoleAssignment.role == "staff", RoleAssignment.scope_type == "neighbourhood"))
        .where(estate_neighbourhood.c.estate_id.in_(sorted(set(estate_ids)))))


def _holders(query) -> dict[int, list[int]]:
    found: dict[int, set[int]] = {}
    for place, user_id in db.session.execute(query):
        found.setdefault(place, set()).add(user_id)
    return {place: sorted(users) for place, users in found.items()}


def managed_estates(actor: Actor) -> list:
    """The estates whose books the actor keeps or oversees, as rows (id, name): their committee's, and for staff
    every estate of their streets and of the neighbourhoods they cover (an estate shared by two 居委会 is each
    one's)."""
    conditions = []
    committee = actor.scope_ids("committee", "estate")
    if committee:
        conditions.append(Estate.id.in_(sorted(committee)))
    if actor.is_staff and actor.street_ids:
        conditions.append(Estate.street_id.in_(sorted(actor.street_ids)))
    if actor.is_staff and actor.neighbourhood_ids:
        conditions.append(Estate.id.in_(sa.select(estate_neighbourhood.c.estate_id).where(
            estate_neighbourhood.c.neighbourhood_id.in_(sorted(actor.neighbourhood_ids)))))
    if not conditions:
        return []
    return db.session.execute(sa.select(Estate.id, Estate.name).where(sa.or_(*conditions)).order_by(Estate.id)).all()
