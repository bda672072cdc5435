"""Who may see and do what about an elder on the roster.

Each caller stands to an elder in one of these ways, strongest first:

- ``staff``: 居委会 or street staff (or an administrator) covering the elder's neighbourhood. They keep the roster
  and the 民生档案, plan visits, see every visit and alarm. Each view of the file is audited.
- ``visitor``: someone with a live pairing to the elder (a 老伙伴 volunteer, a 社工, or staff paired from
  another neighbourhood). They see the elder's name, address and phone, and the notes they wrote themselves;
  never the file, diagnoses or other visitors' notes (志愿服务条例 Art. 21).
- ``family``: a confirmed relative of the elder (a family link) or an emergency contact who is a Linli user.
  They see their elder's alarms.
- ``self``: the elder.

Anyone else stands nowhere: the elder does not exist for them (404 for a resident, 403 ``care.not_in_scope`` for
staff out of scope, so a staff member learns nothing about other neighbourhoods' elders either way)."""
from __future__ import annotations

import sqlalchemy as sa

from models.base import db
from models.care import Contact, Elder, Pairing
from models.people import FamilyLink
from service.care import errors
from service.people import Actor

STAFF, VISITOR, FAMILY, SELF = "staff", "visitor", "family", "self"

_PAIRED = sa.select(sa.literal(1)).where(Pairing.elder_id == sa.bindparam("elder_id"),
                                         Pairing.visitor_user_id == sa.bindparam("user_id"),
                                         Pairing.ends_on.is_(None)).exists()
_FAMILY = sa.or_(
    sa.select(sa.literal(1)).where(FamilyLink.proxy_user_id == sa.bindparam("user_id"),
                                   FamilyLink.elder_user_id == sa.bindparam("elder_user_id"),
                                   FamilyLink.status == "confirmed").exists(),
    sa.select(sa.literal(1)).where(Contact.elder_id == sa.bindparam("elder_id"),
                                   Contact.user_id == sa.bindparam("user_id")).exists())
_STANDING = sa.select(_PAIRED, _FAMILY)


def is_staff_over(actor: Actor, elder: Elder) -> bool:
    return actor.is_staff and actor.covers_neighbourhood(elder.neighbourhood_id)


def standing(actor: Actor, elder: Elder) -> str | None:
    """How the actor stands to the elder (see the module's text), or None. At most one query."""
    if is_staff_over(actor, elder):
        return STAFF
    if actor.user_id == elder.user_id:
        return SELF
    paired, family = db.session.execute(_STANDING, {"elder_id": elder.id, "user_id": actor.user_id,
                                                    "elder_user_id": elder.user_id}).one()
    if paired:
        return VISITOR
    return FAMILY if family else None


def require(actor: Actor, elder: Elder, *allowed: str) -> str:
    """The actor's standing if it is one of ``allowed``, else the refusal (see the module's text)."""
    found = standing(actor, elder)
    if found in allowed:
        return found
    if found is None and not actor.is_staff:
        raise errors.ElderNotFound()
    raise errors.NotInScope()


def require_staff(actor: Actor, elder: Elder) -> None:
    require(actor, elder, STAFF)


def staff_neighbourhoods(actor: Actor) -> set[int]:
    """The neighbourhoods whose roster the actor keeps (none for a non-staff caller)."""
    return actor.neighbourhood_ids if actor.is_staff else set()
