"""Places schemas."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from api.schemas.common import Id, Label, Lat, Lng, PageArgs


class CoordinatesOut(ma.Schema):
    lat = Lat(answer=True, allow_none=True, metadata={"example": 31.2558})
    lng = Lng(answer=True, allow_none=True, metadata={"example": 121.4005})
    datum = ma.fields.Constant("gcj02", metadata={"description": "Coordinates are GCJ-02"})
    datum_name = Label("places", "datum", dump_default="gcj02")
    coord_source = ma.fields.String(required=True, metadata={
        "description": "approximate (hand-placed, not surveyed) or surveyed", "example": "approximate"})
    coord_source_name = Label("places", "coord_source", required=True, metadata={"example": "大致位置"})


class StreetOut(CoordinatesOut):
    id = ma.fields.Integer(required=True)
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True, metadata={"example": "万里街道"})
    district_id = ma.fields.Integer(required=True)
    district_name = ma.fields.Function(lambda s: s.district.name, metadata={"example": "普陀区"})


class AreaOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True, metadata={"example": "香泉片区"})
    street_id = ma.fields.Integer(required=True)


class NeighbourhoodOut(CoordinatesOut):
    id = ma.fields.Integer(required=True)
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True, metadata={"example": "香泉路居民区"})
    committee_name = ma.fields.String(required=True, metadata={"example": "香泉路居委会"})
    street_id = ma.fields.Integer(required=True)
    area_id = ma.fields.Integer(allow_none=True)


class EstateOut(CoordinatesOut):
    id = ma.fields.Integer(required=True)
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True, metadata={"example": "香泉苑"})
    street_id = ma.fields.Integer(required=True)
    address = ma.fields.String(allow_none=True)
    housing_type = ma.fields.String(allow_none=True)
    built_year = ma.fields.Integer(allow_none=True)
    neighbourhood_ids = ma.fields.Method("_neighbourhood_ids", metadata={"description": "居委会 serving it"})

    def _neighbourhood_ids(self, estate):
        if isinstance(estate, dict):
            return estate["neighbourhood_ids"]
        return [n.id for n in estate.neighbourhoods]


class EstateDetailOut(EstateOut):
    buildings = ma.fields.Integer(required=True)
    units = ma.fields.Integer(required=True)
    total_exclusive_area = ma.fields.String(allow_none=True, metadata={
        "description": "Exact decimal, m²", "format": "decimal", "example": "10234.56"})


class EntranceOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    number = ma.fields.String(required=True, metadata={"example": "1"})


class BuildingOut(CoordinatesOut):
    id = ma.fields.Integer(required=True)
    estate_id = ma.fields.Integer(required=True)
    neighbourhood_id = ma.fields.Integer(allow_none=True)
    number = ma.fields.String(required=True, metadata={"example": "12"})
    name = ma.fields.String(required=True, metadata={"example": "12号楼"})
    floors = ma.fields.Integer(allow_none=True)
    has_elevator = ma.fields.Boolean(required=True)


class BuildingDetailOut(BuildingOut):
    entrances = ma.fields.List(ma.fields.Nested(EntranceOut), required=True)


class UnitOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    estate_id = ma.fields.Integer(required=True)
    building_id = ma.fields.Integer(required=True)
    entrance_id = ma.fields.Integer(required=True)
    number = ma.fields.String(required=True, metadata={"example": "502"})
    floor = ma.fields.Integer(allow_none=True)
    exclusive_area = ma.fields.String(allow_none=True, metadata={
        "description": "Exact decimal exclusive area in m²; shown to the estate's owners, its committee and "
                       "staff in scope", "format": "decimal", "example": "89.37"})
    area_source = ma.fields.String(allow_none=True, metadata={"example": "register"})
    area_source_name = Label("places", "area_source", allow_none=True, metadata={"example": "不动产登记"})


class StreetArgs(PageArgs):
    district_id = Id()
    q = ma.fields.String(validate=validate.Length(max=64), metadata={"description": "Name contains"})


class AreaArgs(PageArgs):
    street_id = Id()


class NeighbourhoodArgs(PageArgs):
    street_id = Id()
    area_id = Id()
    q = ma.fields.String(validate=validate.Length(max=64))


class EstateArgs(PageArgs):
    street_id = Id()
    neighbourhood_id = Id()
    q = ma.fields.String(validate=validate.Length(max=64))


class UnitArgs(PageArgs):
    entrance_id = Id()
