"""Who may do what in the life circle. Everyone signed in may look facilities up; staff and admins manage the
facilities of their scope (a street's, or a neighbourhood's) and plan for the streets and estates it reaches."""
from __future__ import annotations

import sqlalchemy as sa

from models.base import db
from models.places import Neighbourhood, estate_neighbourhood
from service.life_circle.errors import OutOfScope, RoleRequired
from service.people import Actor


def require_staff(actor: Actor) -> None:
    """Import, export and coverage are for staff and admins."""
    if not actor.is_staff:
        raise RoleRequired()


def may_manage(actor: Actor, street_id: int | None, neighbourhood_id: int | None) -> bool:
    """Staff whose scope covers the street, or the neighbourhood, a facility serves."""
    if not actor.is_staff:
        return False
    if street_id is not None and street_id in actor.street_ids:
        return True
    return neighbourhood_id is not None and neighbourhood_id in actor.neighbourhood_ids


def require_manage(actor: Actor, street_id: int | None, neighbourhood_id: int | None) -> None:
    if not may_manage(actor, street_id, neighbourhood_id):
        raise OutOfScope()


def may_plan(actor: Actor, street_id: int, estate_id: int | None = None) -> bool:
    """Staff whose scope reaches the street (street or district scope), or the estate's neighbourhood
    (neighbourhood scope); without an estate, any of the street's neighbourhoods."""
    if not actor.is_staff:
        return False
    if street_id in actor.street_ids:
        return True
    if estate_id is not None:
        query = sa.select(estate_neighbourhood.c.neighbourhood_id).where(estate_neighbourhood.c.estate_id == estate_id)
    else:
        query = sa.select(Neighbourhood.id).where(Neighbourhood.street_id == street_id)
    return bool(set(db.session.execute(query).scalars()) & actor.neighbourhood_ids)


def require_plan(actor: Actor, street_id: int, estate_id: int | None = None) -> None:
    """A street's or an estate's coverage: staff (else 403 role required) of its scope (else 403 out of scope)."""
    require_staff(actor)
    if not may_plan(actor, street_id, estate_id):
        raise OutOfScope.place()
