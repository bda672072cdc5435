"""The 15-minute community life circle: facility lookup for residents, coverage for planners,
administration and import/export for staff."""
from __future__ import annotations

import json

from flask import Response
from flask.views import MethodView

from api.docs import errors
from api.errors import language
from api.extensions import Blueprint
from api.responses import answer, csv_response
from api.schemas.common import id_in_path, page_of, paged
from api.schemas.life_circle import (CSV_BODY, GEOJSON_BODY, EstateCoverageOut, FacilityIn, FacilityOut, FacilityPatch,
                                     LcCategoriesOut, LcCloseIn, LcCoverageArgs, LcDetailArgs, LcExportArgs,
                                     LcFeatureCollectionOut, LcImportIn, LcImportOut, LcNearbyArgs, LcNearbyOut,
                                     LcSearchArgs, StreetCoverageArgs, StreetCoverageOut, WalksImportIn,
                                     WalksImportOut)
from api.schemas.life_circle.rows import facility_row_check
from api.security import auth_required, current_actor
from service.life_circle import coverage, exchange, queries, workflow

blp = Blueprint("life-circle", __name__, url_prefix="/api/v1",
                description="15-minute community life circle: facilities, walking times, open now, coverage (覆盖率)")

HOURS = {"always_open": False, "weekly": {d: [["08:00", "11:30"], ["13:30", "17:00"]]
                                          for d in ("mon", "tue", "wed", "thu", "fri")},
         "holiday": "closed", "makeup_workday": "weekly", "exceptions": []}
FACILITY = {"id": 12, "external_id": "WL-HEALTH-001", "name": "万里社区卫生服务中心", "category": "health",
            "category_name": "医疗卫生", "dimension": "服务", "subtype": "社区卫生服务中心", "address": "新村路1881号",
            "lat": 31.2662, "lng": 121.4068, "datum": "gcj02", "coord_source": "approximate",
            "phone": "021-52840000", "services": ["家庭医生签约", "慢病配药"], "target_groups": ["everyone"],
            "capacity": None, "accessible": True, "bookable": False, "status": "open", "hours": HOURS,
            "open_now": False, "closes_at": None, "next_open_at": "2026-11-23T08:00:00+08:00",
            "description": None, "street_id": 1, "neighbourhood_id": None, "version": 1}
NEARBY_ITEM = {**{k: FACILITY[k] for k in queries.NEARBY_FIELDS}, "open_now": False, "closes_at": None,
               "next_open_at": "2026-11-23T08:00:00+08:00", "distance_m": 412, "walk_m": 536, "walk_minutes": 9,
               "walk_method": "estimated"}
FORMULAS = coverage.FORMULAS_ZH
LABELS = {"as_of": "2026-11-21T02:00:00+00:00", "scenario": "current", "distance_method": "estimated",
          "pairs": {"network": 0, "estimated": 19}, "detour_factor": 1.3, "search_radius_m": 3000,
          "paces": {"standard": 60, "elder": 48}, "facilities_updated_at": "2026-11-20T08:00:00+00:00",
          "formulas": FORMULAS}
SHARE = {"numerator": 9, "denominator": 12, "rate": 75.0}
GAP = {"estate_id": 7, "estate_name": "香泉苑", "category": "meal", "category_name": "助餐", "required": True,
       "threshold_m": 500, "nearest_facility_id": 31, "nearest_facility_name": "中浩云社区食堂", "walk_m": 742,
       "walk_method": "estimated", "beyond_m": 242}
COVERAGE_DOC = """
Definitions (reproducible; every report repeats them under `formulas`):

- Origins: the street's estates with coordinates (from their recorded point);
  estates without coordinates are listed in `estates_unlocated` and left out.
- d(e, c) = walking metres from estate e to the nearest facility of category c
  with status `open` (scenario `planned`: also `planned` and `building`) within
  the search radius: the imported network distance for the pair when there is
  one, else round(haversine × detour factor).
- covered(e, c) = d(e, c) ≤ threshold of c (metres, `config/rules/life_circle.yaml`).
- Estate share C_e(c) = #{e covered} ÷ #estates; household share
  C_h(c) = Σ units(e)·covered ÷ Σ units(e).
- Overall strict = estates (or units) covered for **every** required category ÷ all;
  overall mean (secondary) = mean of the required categories' shares.
- Shares are exact numerator/denominator with a percentage rounded half up to 2
  decimals (null when the denominator is 0). `distance_method` says whether any
  estimated distance was used (`estimated`, `mixed`) or only network ones.
"""


@blp.route("/facility-categories")
class Categories(MethodView):
    @blp.response(200, LcCategoriesOut, example={
        "items": [{"code": "meal", "name": "助餐", "name_zh": "助餐", "name_en": "Meals for elders", "dimension": "服务",
                   "dimension_en": "services", "threshold_m": 500, "threshold_minutes": {"standard": 9, "elder": 11},
                   "required": True, "subtypes": ["助餐点", "长者食堂"]}],
        "paces": [{"code": "standard", "name": "成人步速", "m_per_min": 60}],
        "target_groups": [{"code": "elder", "name": "老年人"}], "detour_factor": 1.3, "required": ["meal"]})
    def get(self):
        """Facility categories with their walking thresholds, paces and target groups"""
        return queries.category_list(language())


@blp.route("/facilities/nearby")
class Nearby(MethodView):
    @blp.arguments(LcNearbyArgs(), location="query")   # one instance: not built again per request
    @blp.response(200, LcNearbyOut, example={
        "origin": {"lat": 31.2702, "lng": 121.4101, "datum": "gcj02", "estate_id": None}, "pace": "elder",
        "m_per_min": 48, "minutes": 15, "walk_budget_m": 720, "detour_factor": 1.3, "note": queries.WALK_NOTE_ZH,
        "items": [NEARBY_ITEM], "by_dimension": {"服务": [12]}})
    @errors(blp, 401, 404, 422)
    @auth_required()
    def get(self, args):
        """Facilities I can walk to, nearest first

        Walking metres are estimated as straight-line (haversine) distance ×
        detour factor (1.3 by default); minutes = ⌈metres ÷ pace⌉ with the
        standard pace 60 m/min or the elder pace 48 m/min (both in
        `config/rules/life_circle.yaml`). From an estate (`estate_id`), imported
        network distances replace the estimate (`walk_method: network`). Only
        facilities whose status is open are listed; `open_now` is computed in
        Asia/Shanghai with public holidays, 调休 and dated exceptions, and a
        closed facility gives its `next_open_at`.
        """
        # The residents' hottest read: the JSON text (the shape LcNearbyOut documents) is assembled from each
        # facility's cached fixed part and sent as is.
        return Response(queries.nearby_json(lang=language(), **args), status=200, mimetype="application/json")


@blp.route("/facilities")
class Facilities(MethodView):
    @blp.arguments(LcSearchArgs, location="query")
    @blp.response(200, page_of(FacilityOut), example={"items": [FACILITY], "page": 1, "page_size": 20, "total": 1})
    @errors(blp, 401, 422)
    @auth_required()
    def get(self, args):
        """Search facilities by (Chinese) name, sub-type or address"""
        items, total = queries.search(args["q"], category=args.get("category"), page=args["page"],
                                      page_size=args["page_size"], datum=args["datum"], lang=language())
        return paged(items, total, args)

    @blp.arguments(FacilityIn)
    @blp.response(201, FacilityOut, example=FACILITY)
    @errors(blp, 401, 403, 409, 422, 429)
    @auth_required("staff", "admin")
    def post(self, data):
        """Add a facility (staff and admins, in their scope; audited)"""
        facility = workflow.create(current_actor(), data)
        return answer(queries.facility_dict, facility, language())


@blp.route(f"/facilities/{id_in_path('facility_id')}")
class FacilityItem(MethodView):
    @blp.arguments(LcDetailArgs, location="query")
    @blp.response(200, FacilityOut, example=FACILITY)
    @errors(blp, 401, 404)
    @auth_required()
    def get(self, args, facility_id):
        """One facility, with open now and the next opening"""
        return queries.get(facility_id, datum=args["datum"], lang=language())

    @blp.arguments(FacilityPatch)
    @blp.response(200, FacilityOut, example={**FACILITY, "version": 2})
    @errors(blp, 401, 403, 404, 409, 422, 429)
    @auth_required("staff", "admin")
    def patch(self, data, facility_id):
        """Change a facility (staff and admins, in their scope; audited)

        Give `version` to refuse the change (409) when someone else changed it since you read it.
        """
        facility = workflow.update(current_actor(), facility_id, data)
        return answer(queries.facility_dict, facility, language())


@blp.route(f"/facilities/{id_in_path('facility_id')}/close")
class CloseFacility(MethodView):
    @blp.arguments(LcCloseIn)
    @blp.response(200, FacilityOut, example={**FACILITY, "status": "closed", "open_now": False, "version": 2})
    @errors(blp, 401, 403, 404, 409, 422, 429)
    @auth_required("staff", "admin")
    def post(self, data, facility_id):
        """Close a facility for good (staff and admins, in their scope; audited)"""
        facility = workflow.close(current_actor(), facility_id, data.get("reason"))
        return answer(queries.facility_dict, facility, language())


@blp.route("/facilities/import")
class ImportFacilities(MethodView):
    @blp.arguments(LcImportIn)
    @blp.response(200, LcImportOut, example={"format": "csv", "rows": 120, "valid": 120, "invalid": 0, "created": 3,
                                           "updated": 1, "unchanged": 116, "skipped": 0, "dry_run": False,
                                           "applied": True, "errors": []})
    @errors(blp, 401, 403, 422, 429)
    @auth_required("staff", "admin")
    def post(self, data):
        """Import facilities from CSV or GeoJSON (staff and admins, in their scope)

        Rows are matched by `external_id` (a stable id from your system): new ids
        are created, changed rows updated, equal rows left alone, so importing the
        same file again changes nothing. Every row is checked first: if any row is
        bad, nothing is written and the 422 answer's `errors.report.errors` names
        each bad row and field — unless `skip_invalid` is true, which imports the
        good rows and reports the others.

        CSV columns: external_id, name, category, subtype, address, lat, lng,
        datum (gcj02 default), coord_source, phone, status, street_code,
        neighbourhood_code, target_groups and services (separated by |), capacity,
        accessible, bookable, hours (JSON, or e.g. `mon-fri 08:00-17:00; sat
        09:00-12:00; holiday closed`), description. GeoJSON: Point features with
        the same properties; coordinates in WGS-84 unless the collection has
        `"datum": "gcj02"`.
        """
        return workflow.import_facilities(current_actor(), fmt=data["format"], data=data["data"],
                                          check=facility_row_check(data["format"]),
                                          skip_invalid=data["skip_invalid"], dry_run=data["dry_run"])


EXPORT_EXAMPLE = {"type": "FeatureCollection", "datum": "wgs84", "features": [{
    "type": "Feature", "id": 12, "geometry": {"type": "Point", "coordinates": [121.4024, 31.2680]},
    "properties": {"external_id": "WL-HEALTH-001", "name": "万里社区卫生服务中心", "category": "health"}}]}


@blp.route("/facilities/export")
class ExportFacilities(MethodView):
    @blp.arguments(LcExportArgs, location="query")
    @blp.response(200, LcFeatureCollectionOut, example=EXPORT_EXAMPLE)
    @blp.alt_response(200, schema=GEOJSON_BODY, content_type="application/geo+json", success=True,
                      example=EXPORT_EXAMPLE, description="The same FeatureCollection as application/geo+json")
    @errors(blp, 401, 403, 422)
    @auth_required("staff", "admin")
    def get(self, args):
        """Export facilities as GeoJSON (re-importable unchanged)"""
        doc = exchange.export_geojson(current_actor(), **args)
        return _geojson(doc, "facilities.geojson")


@blp.route("/facility-walks/import")
class ImportWalks(MethodView):
    @blp.arguments(WalksImportIn)
    @blp.response(200, WalksImportOut, example={"rows": 2, "valid": 2, "invalid": 0, "created": 2, "updated": 0,
                                                "unchanged": 0, "applied": True, "errors": []})
    @errors(blp, 401, 403, 422, 429)
    @auth_required("staff", "admin")
    def post(self, data):
        """Import precomputed estate → facility network walking distances (CSV)

        Computed offline on a street graph (e.g. an OSMnx walk network). A pair in
        this table replaces the estimate in the nearby lookup and in coverage and
        is labelled `network`.
        """
        return workflow.import_walks(current_actor(), data=data["data"], graph_version=data.get("graph_version"),
                                     skip_invalid=data["skip_invalid"])


@blp.route(f"/estates/{id_in_path('estate_id')}/life-circle")
class EstateLifeCircle(MethodView):
    @blp.arguments(LcCoverageArgs, location="query")
    @blp.response(200, EstateCoverageOut, example={
        **LABELS, "estate": {"id": 7, "code": "310107-WL-XQY", "name": "香泉苑", "street_id": 1, "lat": 31.2703,
                             "lng": 121.4086, "households": 860, "located": True},
        "categories": [{"category": "meal", "category_name": "助餐", "dimension": "服务", "threshold_m": 500,
                        "required": True, "nearest": {"id": 31, "name": "香泉智助食堂", "walk_m": 220,
                                                      "distance_m": 169, "walk_minutes": {"standard": 4, "elder": 5},
                                                      "walk_method": "estimated"},
                        "covered": True, "beyond_m": None}],
        "required_covered": 7, "required_total": 8, "all_required_covered": False})
    @errors(blp, 401, 403, 404, 422)
    @auth_required("staff", "admin")
    def get(self, args, estate_id):
        """An estate's life circle: the nearest facility of every category (planners)"""
        return coverage.estate_coverage(current_actor(), estate_id, scenario=args["scenario"], lang=language())


@blp.route(f"/streets/{id_in_path('street_id')}/life-circle")
class StreetLifeCircle(MethodView):
    @blp.arguments(StreetCoverageArgs, location="query")
    @blp.response(200, StreetCoverageOut, example={
        **LABELS, "street": {"id": 1, "code": "310107-WL", "name": "万里街道"},
        "counts": {"estates": 12, "estates_located": 12, "households": 9800, "estates_without_units": 0, "gaps": 20,
                   "required_gaps": 6},
        "estates_unlocated": [], "required": ["meal"],
        "categories": [{"category": "meal", "category_name": "助餐", "dimension": "服务", "threshold_m": 500,
                        "required": True, "estate_share": SHARE,
                        "household_share": {"numerator": 7400, "denominator": 9800, "rate": 75.51}}],
        "overall": {"strict": {"estate_share": SHARE, "household_share": {"numerator": 7400, "denominator": 9800,
                                                                          "rate": 75.51}},
                    "mean": {"estate_share": 88.54, "household_share": 90.1}},
        "gaps": [GAP], "estates": []})
    @blp.alt_response(200, schema=CSV_BODY, content_type="text/csv", success=True,
                      description="format=csv: one row per estate, walk metres per category (* = covered), then "
                                  "the estate and household shares")
    @blp.alt_response(200, schema=GEOJSON_BODY, content_type="application/geo+json", success=True,
                      description="format=geojson: estates as points with their coverage")
    @errors(blp, 401, 403, 404, 422)
    @auth_required("staff", "admin")
    def get(self, args, street_id):
        """A street's 覆盖率 per category and overall, with the gaps (planners)"""
        lang = language()
        report = coverage.street_coverage(current_actor(), street_id, scenario=args["scenario"], lang=lang)
        fmt = args.get("format") or "json"
        if fmt == "csv":
            return csv_response(coverage.to_csv(report, lang), f"life-circle-{street_id}.csv")
        if fmt == "geojson":
            return _geojson(coverage.to_geojson(report, args["datum"]), f"life-circle-{street_id}.geojson")
        return report


StreetLifeCircle.get.__doc__ += COVERAGE_DOC


def _geojson(doc: dict, filename: str) -> Response:
    response = Response(json.dumps(doc, ensure_ascii=False), status=200, mimetype="application/geo+json")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response

BLUEPRINTS = (blp,)
