"""The audience of a notice, resolved and frozen when it is published: everyone living (verified residence)
or owning (a current ownership) in its places, and the confirmed relatives of each. One INSERT … SELECT, so a
street of 66,000 residents is frozen in the database without passing through Python."""
from __future__ import annotations

import sqlalchemy as sa

from models.base import db
from models.notices import REASONS, NoticeAudience
from models.people import FamilyLink, ResidentProfile, User
from models.places import Building, Estate, Owner, Ownership, Unit, estate_neighbourhood
from service import clock
from service.meals.queries import lives_alone_sql
from service.notices.access import Place

# The age bands of NoticeAudience.priority after 0 (living alone): 90+, 80+, 70+, 60+.
AGE_BANDS = (90, 80, 70, 60)


def _priority(user_id_column):
    """NoticeAudience.priority of a person, from their verified birth date and their meal card."""
    today = clock.local_now().date()

    def born_by(years: int):
        try:
            return today.replace(year=today.year - years)
        except ValueError:   # 29 February
            return today.replace(year=today.year - years, day=28)

    ages = [(ResidentProfile.birth_date <= born_by(years), band) for band, years in enumerate(AGE_BANDS, start=1)]
    return sa.case((lives_alone_sql(user_id_column), 0), *ages, else_=len(AGE_BANDS) + 1)


def _unit_condition(places: list[Place]):
    """Units in the places: by entrance, building or estate; a neighbourhood's (area's, street's) are the units
    of its buildings, and of buildings with no neighbourhood of their own in the estates it serves."""
    entrances = sorted({p.scope_id for p in places if p.scope_type == "entrance"})
    buildings = sorted({p.scope_id for p in places if p.scope_type == "building"})
    estates = sorted({p.scope_id for p in places if p.scope_type == "estate"})
    streets = sorted({p.scope_id for p in places if p.scope_type == "street"})
    wide = sorted({nb for p in places if p.scope_type in ("neighbourhood", "area") for nb in p.neighbourhood_ids})
    conditions = []
    if entrances:
        conditions.append(Unit.entrance_id.in_(entrances))
    if buildings:
        conditions.append(Unit.building_id.in_(buildings))
    if estates:
        conditions.append(Unit.estate_id.in_(estates))
    if streets:
        conditions.append(Unit.estate_id.in_(sa.select(Estate.id).where(Estate.street_id.in_(streets))))
    if wide:
        shared = sa.select(estate_neighbourhood.c.estate_id).where(estate_neighbourhood.c.neighbourhood_id.in_(wide))
        conditions.append(Unit.building_id.in_(sa.select(Building.id).where(sa.or_(
            Building.neighbourhood_id.in_(wide),
            sa.and_(Building.neighbourhood_id.is_(None), Building.estate_id.in_(shared))))))
    return sa.or_(*conditions)


def _members(places: list[Place]) -> sa.CTE:
    """(user_id, rank, via_user_id, unit_id) of residents and owners; rank 1 resident, 2 owner."""
    units = sa.select(Unit.id).where(_unit_condition(places)).scalar_subquery()
    # Residents verified to a neighbourhood the notice covers whole, with no unit on file.
    whole = sorted({nb for p in places if p.scope_type in ("street", "area", "neighbourhood")
                    for nb in p.neighbourhood_ids})
    lives = ResidentProfile.unit_id.in_(units)
    if whole:
        lives = sa.or_(lives, sa.and_(ResidentProfile.unit_id.is_(None), ResidentProfile.neighbourhood_id.in_(whole)))
    residents = sa.select(ResidentProfile.user_id.label("user_id"), sa.literal(1).label("rank"),
                          sa.null().cast(sa.Integer).label("via"), ResidentProfile.unit_id.label("unit_id")).where(lives)
    owners = (sa.select(Owner.user_id, sa.literal(2), sa.null().cast(sa.Integer), Ownership.unit_id)
              .join(Ownership, Ownership.owner_id == Owner.id)
              .where(Owner.user_id.is_not(None), Ownership.ended_on.is_(None), Ownership.unit_id.in_(units)))
    return sa.union_all(residents, owners).cte("members")


def freeze(notice_id: int, places: list[Place]) -> int:
    """Write the notice's audience (once) and return its size."""
    members = _members(places)
    family = (sa.select(FamilyLink.proxy_user_id.label("user_id"), sa.literal(3).label("rank"),
                        FamilyLink.elder_user_id.label("via"), sa.null().cast(sa.Integer).label("unit_id"))
              .where(FamilyLink.status == "confirmed",
                     FamilyLink.elder_user_id.in_(sa.select(members.c.user_id))))
    everyone = sa.union_all(sa.select(members.c.user_id, members.c.rank, members.c.via, members.c.unit_id),
                            family).subquery("everyone")
    rank = sa.func.min(everyone.c.rank)
    reason = sa.case(*((rank == i + 1, code) for i, code in enumerate(REASONS)))
    people = (sa.select(everyone.c.user_id, reason.label("reason"), sa.func.min(everyone.c.via).label("via"),
                        sa.func.min(everyone.c.unit_id).label("unit_id"))
              .group_by(everyone.c.user_id).subquery("people"))
    picked = (sa.select(sa.literal(notice_id), people.c.user_id, people.c.reason, people.c.via, people.c.unit_id,
                        _priority(people.c.user_id))
              .join(User, User.id == people.c.user_id)
              .outerjoin(ResidentProfile, ResidentProfile.user_id == people.c.user_id).where(User.is_active.is_(True)))
    table = NoticeAudience.__table__
    db.session.execute(table.insert().from_select(["notice_id", "user_id", "reason", "via_user_id", "unit_id",
                                                   "priority"], picked))
    # Counted (the driver's rowcount of an INSERT … SELECT is not reliable on SQLite).
    return db.session.execute(sa.select(sa.func.count()).select_from(table)
                               .where(table.c.notice_id == notice_id)).scalar()
