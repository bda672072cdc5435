"""Factories of the life circle's objects."""
from __future__ import annotations

from models.base import db
from tests.factories import n


def make_facility(*, category: str = "health", lat: float = 31.2, lng: float = 121.4, status: str = "open",
                  street_id: int | None = None, neighbourhood_id: int | None = None, name: str | None = None,
                  hours: dict | None = None, target_groups: list | None = None, external_id: str | None = None):
    from models.life_circle import Facility
    from service.life_circle import walking

    facility = Facility(name=name or f"设施{n()}", category_code=category, lat=lat, lng=lng,
                        cell=walking.cell_of(lat, lng), status=status, street_id=street_id,
                        neighbourhood_id=neighbourhood_id, hours=hours, target_groups=target_groups or ["everyone"],
                        services=[], accessible=False, bookable=False, coord_source="approximate",
                        external_id=external_id)
    db.session.add(facility)
    db.session.flush()
    return facility
