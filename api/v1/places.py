"""Places read API."""
from __future__ import annotations

from flask.views import MethodView

from api.docs import errors
from api.extensions import Blueprint
from api.schemas.common import PageArgs, id_in_path, page_of, paged
from api.schemas.places import (AreaArgs, AreaOut, BuildingDetailOut, BuildingOut, EstateArgs, EstateDetailOut,
                                EstateOut, NeighbourhoodArgs, NeighbourhoodOut, StreetArgs, StreetOut, UnitArgs,
                                UnitOut)
from api.security import auth_required, current_actor
from service import places

blp = Blueprint("places", __name__, url_prefix="/api/v1", description="Streets, neighbourhoods, estates, buildings, units")

COORDS = {"lat": 31.2558, "lng": 121.4005, "datum": "gcj02", "coord_source": "approximate"}
STREET = {"id": 1, "code": "putuo-wanli", "name": "万里街道", "district_id": 1, "district_name": "普陀区", **COORDS}
NEIGHBOURHOOD = {"id": 4, "code": "wanli-xiangquan", "name": "香泉路居民区", "committee_name": "香泉路居委会",
                 "street_id": 1, "area_id": 3, **COORDS}
ESTATE = {"id": 3, "code": "wanli-xiangquanyuan", "name": "香泉苑", "street_id": 1, "address": "香泉路 88 弄",
          "housing_type": "普通商品房", "built_year": 2001, "neighbourhood_ids": [4], **COORDS}
BUILDING = {"id": 12, "estate_id": 3, "neighbourhood_id": 4, "number": "3", "name": "3号楼", "floors": 6,
            "has_elevator": False, **COORDS}
UNIT = {"id": 1201, "estate_id": 3, "building_id": 12, "entrance_id": 20, "number": "502", "floor": 5,
        "exclusive_area": "89.37", "area_source": "register"}


def page_example(item):
    return {"items": [item], "page": 1, "page_size": 20, "total": 1}


@blp.route("/streets")
class Streets(MethodView):
    @blp.arguments(StreetArgs, location="query")
    @blp.response(200, page_of(StreetOut), example=page_example(STREET))
    def get(self, args):
        """Streets (街道/镇)"""
        items, total = places.list_streets(district_id=args.get("district_id"), q=args.get("q"),
                                           page=args["page"], page_size=args["page_size"])
        return paged(items, total, args)


@blp.route(f"/streets/{id_in_path('street_id')}")
class StreetItem(MethodView):
    @blp.response(200, StreetOut, example=STREET)
    @errors(blp, 404)
    def get(self, street_id):
        """One street"""
        return places.get_street(street_id)


@blp.route("/areas")
class Areas(MethodView):
    @blp.arguments(AreaArgs, location="query")
    @blp.response(200, page_of(AreaOut), example=page_example({"id": 3, "code": "wanli-xiangquan-area",
                                                                "name": "香泉片区", "street_id": 1}))
    def get(self, args):
        """Areas (片区) of a street"""
        items, total = places.list_areas(street_id=args.get("street_id"), page=args["page"],
                                         page_size=args["page_size"])
        return paged(items, total, args)


@blp.route("/neighbourhoods")
class Neighbourhoods(MethodView):
    @blp.arguments(NeighbourhoodArgs, location="query")
    @blp.response(200, page_of(NeighbourhoodOut), example=page_example(NEIGHBOURHOOD))
    def get(self, args):
        """Neighbourhoods (居民区), each run by a 居委会"""
        items, total = places.list_neighbourhoods(street_id=args.get("street_id"), area_id=args.get("area_id"),
                                                  q=args.get("q"), page=args["page"], page_size=args["page_size"])
        return paged(items, total, args)


@blp.route(f"/neighbourhoods/{id_in_path('neighbourhood_id')}")
class NeighbourhoodItem(MethodView):
    @blp.response(200, NeighbourhoodOut, example=NEIGHBOURHOOD)
    @errors(blp, 404)
    def get(self, neighbourhood_id):
        """One neighbourhood"""
        return places.get_neighbourhood(neighbourhood_id)


@blp.route("/estates")
class Estates(MethodView):
    @blp.arguments(EstateArgs, location="query")
    @blp.response(200, page_of(EstateOut), example=page_example(ESTATE))
    def get(self, args):
        """Estates (小区)"""
        items, total = places.list_estates(street_id=args.get("street_id"),
                                           neighbourhood_id=args.get("neighbourhood_id"), q=args.get("q"),
                                           page=args["page"], page_size=args["page_size"])
        return paged(items, total, args)


@blp.route(f"/estates/{id_in_path('estate_id')}")
class EstateItem(MethodView):
    @blp.response(200, EstateDetailOut, example={**ESTATE, "buildings": 12, "units": 480,
                                                 "total_exclusive_area": "41234.56"})
    @errors(blp, 404)
    def get(self, estate_id):
        """One estate with its counts and total exclusive area"""
        estate = places.get_estate(estate_id)
        return {**EstateOut().dump(estate), **places.estate_summary(estate_id)}


@blp.route(f"/estates/{id_in_path('estate_id')}/buildings")
class EstateBuildings(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_of(BuildingOut), example=page_example(BUILDING))
    @errors(blp, 404)
    def get(self, args, estate_id):
        """Buildings of an estate"""
        items, total = places.list_buildings(estate_id=estate_id, page=args["page"], page_size=args["page_size"])
        return paged(items, total, args)


@blp.route(f"/buildings/{id_in_path('building_id')}")
class BuildingItem(MethodView):
    @blp.response(200, BuildingDetailOut, example={**BUILDING, "entrances": [{"id": 20, "number": "1"}]})
    @errors(blp, 404)
    def get(self, building_id):
        """One building with its entrances (单元)"""
        building = places.get_building(building_id)
        return {**BuildingOut().dump(building), "entrances": places.list_entrances(building_id)}


@blp.route(f"/buildings/{id_in_path('building_id')}/units")
class BuildingUnits(MethodView):
    @blp.arguments(UnitArgs, location="query")
    @blp.response(200, page_of(UnitOut), example=page_example(UNIT))
    @errors(blp, 401, 404)
    @auth_required()
    def get(self, args, building_id):
        """Units (户) of a building

        Exclusive areas are shown only to the estate's owners and committee and to staff in scope.
        """
        actor = current_actor()
        items, total = places.list_units(building_id=building_id, entrance_id=args.get("entrance_id"),
                                         page=args["page"], page_size=args["page_size"])
        details = bool(items) and places.sees_unit_details(actor, items[0])
        return paged([_unit(u, details) for u in items], total, args)


@blp.route(f"/units/{id_in_path('unit_id')}")
class UnitItem(MethodView):
    @blp.response(200, UnitOut, example=UNIT)
    @errors(blp, 401, 404)
    @auth_required()
    def get(self, unit_id):
        """One unit"""
        unit = places.get_unit(unit_id)
        return _unit(unit, places.sees_unit_details(current_actor(), unit))


def _unit(unit, details: bool) -> dict:
    data = UnitOut().dump(unit)
    if not details:
        data["exclusive_area"] = None
        data["area_source"] = None
    return data
