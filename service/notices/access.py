"""Who may publish a notice where, manage it, and read it.

Staff and administrators publish to the places they cover; the owners' committee and the property company
(a role granted on an estate) publish within their estate. Which roles may publish which category is data
(config/rules/notices.yaml). Residents read the notices whose frozen audience holds them."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from models.base import db
from models.notices import Notice, NoticeAudience, NoticeScope
from models.places import Area, Building, Entrance, Estate, Neighbourhood, Street, estate_neighbourhood
from service.notices import errors, rules
from service.people import Actor

# The order in which an author's roles are tried for a notice (the strongest that may publish it signs it).
ROLE_ORDER = ("admin", "staff", "committee", "property_company")
ESTATE_ROLES = ("committee", "property_company")


@dataclass(frozen=True)
class Place:
    """A scope resolved: where it lies, for coverage checks and for the audience."""
    scope_type: str
    scope_id: int
    name: str
    street_id: int
    estate_id: int | None = None                 # estate, building, entrance
    neighbourhood_ids: frozenset[int] = frozenset()  # the 居委会 responsible for it

    def label(self, lang: str = "zh") -> str:
        return self.name


def resolve(scope_type: str, scope_id: int) -> Place | None:
    """The place a scope names, or None when there is none."""
    if scope_type == "street":
        row = db.session.execute(sa.select(Street.name).where(Street.id == scope_id)).first()
        if row is None:
            return None
        nbs = db.session.execute(sa.select(Neighbourhood.id).where(Neighbourhood.street_id == scope_id)).scalars()
        return Place(scope_type, scope_id, row.name, scope_id, None, frozenset(nbs))
    if scope_type == "area":
        row = db.session.execute(sa.select(Area.name, Area.street_id).where(Area.id == scope_id)).first()
        if row is None:
            return None
        nbs = db.session.execute(sa.select(Neighbourhood.id).where(Neighbourhood.area_id == scope_id)).scalars()
        return Place(scope_type, scope_id, row.name, row.street_id, None, frozenset(nbs))
    if scope_type == "neighbourhood":
        row = db.session.execute(sa.select(Neighbourhood.name, Neighbourhood.street_id)
                                 .where(Neighbourhood.id == scope_id)).first()
        return None if row is None else Place(scope_type, scope_id, row.name, row.street_id, None,
                                              frozenset({scope_id}))
    if scope_type == "estate":
        row = db.session.execute(sa.select(Estate.name, Estate.street_id).where(Estate.id == scope_id)).first()
        if row is None:
            return None
        return Place(scope_type, scope_id, row.name, row.street_id, scope_id, _estate_neighbourhoods(scope_id))
    if scope_type in ("building", "entrance"):
        query = (sa.select(Building.id, Building.name, Building.estate_id, Building.neighbourhood_id, Estate.name,
                           Estate.street_id).join(Estate, Estate.id == Building.estate_id))
        number = None
        if scope_type == "entrance":
            query = query.add_columns(Entrance.number).join(Entrance, Entrance.building_id == Building.id) \
                .where(Entrance.id == scope_id)
        else:
            query = query.add_columns(sa.null()).where(Building.id == scope_id)
        row = db.session.execute(query).first()
        if row is None:
            return None
        _, building_name, estate_id, nb_id, estate_name, street_id, number = row
        nbs = frozenset({nb_id}) if nb_id is not None else _estate_neighbourhoods(estate_id)
        name = f"{estate_name}{building_name}" + (f"{number}单元" if number is not None else "")
        return Place(scope_type, scope_id, name, street_id, estate_id, nbs)
    return None


def _estate_neighbourhoods(estate_id: int) -> frozenset[int]:
    return frozenset(db.session.execute(sa.select(estate_neighbourhood.c.neighbourhood_id)
                                        .where(estate_neighbourhood.c.estate_id == estate_id)).scalars())


def covers(actor: Actor, role: str, place: Place) -> bool:
    """Whether ``role`` of the actor covers the whole place."""
    if role in ESTATE_ROLES:
        return place.estate_id is not None and place.estate_id in actor.scope_ids(role, "estate")
    if role not in ("staff", "admin") or role not in actor.roles:
        return False
    if place.street_id in actor.street_ids:
        return True
    if place.scope_type == "street":
        return False
    return bool(place.neighbourhood_ids) and place.neighbourhood_ids <= actor.neighbourhood_ids


def author_role(actor: Actor, category: rules.Category, places: list[Place]) -> str:
    """The role the actor publishes the notice under: the strongest the category allows that covers every
    place. Raises NotPublisher (no such role) or ScopeNotCovered (naming the first place it does not cover)."""
    allowed = [r for r in ROLE_ORDER if r in actor.roles and r in category.publishers]
    if not allowed:
        raise errors.NotPublisher()
    for role in allowed:
        if all(covers(actor, role, place) for place in places):
            return role
    first = next(p for p in places if not any(covers(actor, r, p) for r in allowed))
    raise errors.ScopeNotCovered(scope=first.name, scope_en=f"{first.scope_type} {first.scope_id}")


def scopes_of(notice_id: int) -> list[Place]:
    rows = db.session.execute(sa.select(NoticeScope.scope_type, NoticeScope.scope_id)
                              .where(NoticeScope.notice_id == notice_id)).all()
    return [p for p in (resolve(t, i) for t, i in rows) if p is not None]


def may_manage(actor: Actor, notice: Notice, *, places: list[Place] | None = None) -> bool:
    """The author, or staff and administrators covering every place of the notice."""
    if notice.author_user_id == actor.user_id:
        return True
    if not actor.is_staff:
        return False
    places = scopes_of(notice.id) if places is None else places
    return bool(places) and all(any(covers(actor, role, p) for role in ("admin", "staff")) for p in places)


def manages_sql(*, staff: bool, streets: bool, neighbourhoods: bool) -> sa.ColumnElement[bool]:
    """``may_manage`` as a condition on Notice, for lists: the author, or staff and administrators covering
    every place of the notice (``covers``: the notice's street, else each place's neighbourhoods, all theirs).
    Its values are parameters (``manages_params``), so a list builds its statement once per shape."""
    authored = Notice.author_user_id == sa.bindparam("manager_id")
    if not staff:
        return authored
    conditions = [authored]
    if streets:   # a notice lies in one street
        conditions.append(Notice.street_id.in_(sa.bindparam("manager_street_ids", expanding=True)))
    if neighbourhoods:   # a street's own are covered by the street already
        scope = sa.orm.aliased(NoticeScope)
        conditions.append(sa.and_(
            sa.exists().where(scope.notice_id == Notice.id),
            ~sa.exists().where(scope.notice_id == Notice.id,
                               ~_within(scope, sa.bindparam("manager_neighbourhood_ids", expanding=True)))))
    return sa.or_(*conditions)


def manages_shape(actor: Actor) -> dict:
    """The shape ``manages_sql`` takes for the actor."""
    return {"staff": actor.is_staff, "streets": bool(actor.street_ids),
            "neighbourhoods": bool(actor.own_neighbourhood_ids)}


def manages_params(actor: Actor) -> dict:
    """The values of ``manages_sql`` for the actor."""
    return {"manager_id": actor.user_id, "manager_street_ids": sorted(actor.street_ids),
            "manager_neighbourhood_ids": sorted(actor.own_neighbourhood_ids)}


def _within(scope, nbs) -> sa.ColumnElement[bool]:
    """A scope (not a street) whose neighbourhoods are some, all among ``nbs`` (an expanding parameter), as
    ``resolve`` finds them."""
    def estate_within(estate_id):
        en = estate_neighbourhood.c
        return sa.and_(sa.exists().where(en.estate_id == estate_id),
                       ~sa.exists().where(en.estate_id == estate_id, en.neighbourhood_id.not_in(nbs)))

    def building_within(building):
        return sa.or_(building.neighbourhood_id.in_(nbs),
                      sa.and_(building.neighbourhood_id.is_(None), estate_within(building.estate_id)))

    building = sa.orm.aliased(Building)
    kind, sid = scope.scope_type, scope.scope_id
    return sa.or_(
        sa.and_(kind == "neighbourhood", sid.in_(nbs)),
        sa.and_(kind == "area", sa.exists().where(Neighbourhood.area_id == sid),
                ~sa.exists().where(Neighbourhood.area_id == sid, Neighbourhood.id.not_in(nbs))),
        sa.and_(kind == "estate", estate_within(sid)),
        sa.and_(kind == "building", sa.exists().where(building.id == sid, building_within(building))),
        sa.and_(kind == "entrance", sa.exists().where(Entrance.id == sid, building.id == Entrance.building_id,
                                                      building_within(building))))


def require_manage(actor: Actor, notice: Notice) -> None:
    if not may_manage(actor, notice):
        raise errors.NotManager()


def in_audience(user_id: int, notice_id: int) -> NoticeAudience | None:
    return db.session.get(NoticeAudience, (notice_id, user_id))


def may_read(actor: Actor, notice: Notice) -> bool:
    """A published (or ended) notice for its audience; any notice for those who manage it."""
    if notice.state not in ("draft", "scheduled") and in_audience(actor.user_id, notice.id) is not None:
        return True
    return may_manage(actor, notice)


def may_see_attachment(actor: Actor, upload) -> bool:
    """Who sees a file attached to a notice: whoever may read one of the notices it is attached to."""
    from models.notices import NoticeAttachment

    notice_ids = db.session.execute(sa.select(NoticeAttachment.notice_id)
                                    .where(NoticeAttachment.upload_id == upload.id)).scalars().all()
    return any(may_read(actor, n) for n in (db.session.get(Notice, i) for i in notice_ids) if n is not None)
