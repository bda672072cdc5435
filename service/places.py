"""Places read side: streets, neighbourhoods, estates, buildings and units, with scope rules for units."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from models.base import db
from models.places import (Area, Building, District, Entrance, Estate, Neighbourhood, Street, Unit,
                           estate_neighbourhood)
from service.db import paginate
from service.errors import NotFound
from service.platform_errors import (BuildingNotFound, EstateNotFound, NeighbourhoodNotFound, StreetNotFound,
                                     UnitNotFound)


def _get(model, object_id: int, missing: type[NotFound]):
    obj = db.session.get(model, object_id)
    if obj is None:
        raise missing()
    return obj


def get_street(street_id: int) -> Street:
    return _get(Street, street_id, StreetNotFound)


def get_neighbourhood(neighbourhood_id: int) -> Neighbourhood:
    return _get(Neighbourhood, neighbourhood_id, NeighbourhoodNotFound)


def get_estate(estate_id: int) -> Estate:
    return _get(Estate, estate_id, EstateNotFound)


def get_building(building_id: int) -> Building:
    return _get(Building, building_id, BuildingNotFound)


def get_unit(unit_id: int) -> Unit:
    return _get(Unit, unit_id, UnitNotFound)


def _search(query, column, q: str | None):
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(column.like(pattern, escape="\\"))
    return query


def list_streets(*, district_id: int | None, q: str | None, page: int, page_size: int):
    query = sa.select(Street)
    if district_id is not None:
        query = query.where(Street.district_id == district_id)
    return paginate(_search(query, Street.name, q).order_by(Street.id), page, page_size)


def list_areas(*, street_id: int | None, page: int, page_size: int):
    query = sa.select(Area)
    if street_id is not None:
        query = query.where(Area.street_id == street_id)
    return paginate(query.order_by(Area.id), page, page_size)


def list_neighbourhoods(*, street_id: int | None, area_id: int | None, q: str | None, page: int, page_size: int):
    query = sa.select(Neighbourhood)
    if street_id is not None:
        query = query.where(Neighbourhood.street_id == street_id)
    if area_id is not None:
        query = query.where(Neighbourhood.area_id == area_id)
    return paginate(_search(query, Neighbourhood.name, q).order_by(Neighbourhood.id), page, page_size)


def list_estates(*, street_id: int | None, neighbourhood_id: int | None, q: str | None, page: int, page_size: int):
    query = sa.select(Estate)
    if street_id is not None:
        query = query.where(Estate.street_id == street_id)
    if neighbourhood_id is not None:
        query = query.where(Estate.id.in_(sa.select(estate_neighbourhood.c.estate_id).where(
            estate_neighbourhood.c.neighbourhood_id == neighbourhood_id)))
    return paginate(_search(query, Estate.name, q).order_by(Estate.id), page, page_size)


def estate_summary(estate_id: int) -> dict:
    """Counts for an estate: buildings, units, and the total exclusive area (exact)."""
    get_estate(estate_id)
    buildings = db.session.execute(sa.select(sa.func.count()).where(Building.estate_id == estate_id)).scalar_one()
    units, area = db.session.execute(sa.select(sa.func.count(Unit.id), sa.func.sum(Unit.exclusive_area))
                                     .where(Unit.estate_id == estate_id)).one()
    return {"buildings": buildings, "units": units, "total_exclusive_area": area}


def list_buildings(*, estate_id: int, page: int, page_size: int):
    get_estate(estate_id)
    query = sa.select(Building).where(Building.estate_id == estate_id).order_by(Building.id)
    return paginate(query, page, page_size)


def list_entrances(building_id: int) -> list[Entrance]:
    return list(db.session.execute(sa.select(Entrance).where(Entrance.building_id == building_id)
                                   .order_by(Entrance.id)).scalars())


def list_units(*, building_id: int, entrance_id: int | None, page: int, page_size: int):
    get_building(building_id)
    query = sa.select(Unit).where(Unit.building_id == building_id)
    if entrance_id is not None:
        query = query.where(Unit.entrance_id == entrance_id)
    return paginate(query.order_by(Unit.entrance_id, Unit.floor, Unit.number), page, page_size)


def sees_unit_details(actor, unit: Unit) -> bool:
    """Exclusive areas are shown to the estate's owners and committee, and to staff covering it."""
    if actor is None:
        return False
    if unit.estate_id in actor.owner_estate_ids or unit.estate_id in actor.scope_ids("committee", "estate"):
        return True
    return actor.is_staff and actor.covers_unit(unit)


# --- where an object lies ----------------------------------------------------------------------------------
# A kind of object (a role's scope type, an audited object type) has a locator: a statement, built once, that
# selects the street of one object (bound parameter ``id``). It returns one row when the object exists (its
# street is NULL for a district-wide object) and none when it does not. Places and people register their own
# kinds; a domain registers its kinds in its package (``service/<domain>/__init__.py``), so platform code
# never imports a domain to learn where one of its objects lies.

@dataclass(frozen=True)
class Place:
    street_id: int | None


_LOCATORS: dict[str, sa.Select] = {}


def register_locator(kind: str, statement: sa.Select) -> None:
    _LOCATORS[kind] = statement


def locate(kind: str, object_id) -> Place | None:
    """The place of object ``kind``/``object_id``, or None when there is no such object (or no locator)."""
    statement = _LOCATORS.get(kind)
    try:
        object_id = int(object_id)
    except (TypeError, ValueError):
        return None
    if statement is None or not 0 < object_id < 2 ** 63:
        return None
    row = db.session.execute(statement, {"id": object_id}).first()
    return None if row is None else Place(row[0])


_ID = sa.bindparam("id")
register_locator("district", sa.select(sa.null().cast(sa.Integer)).select_from(District).where(District.id == _ID))
register_locator("street", sa.select(Street.id).where(Street.id == _ID))
register_locator("neighbourhood", sa.select(Neighbourhood.street_id).where(Neighbourhood.id == _ID))
register_locator("estate", sa.select(Estate.street_id).where(Estate.id == _ID))
