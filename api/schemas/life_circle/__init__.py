"""Life-circle schemas: facilities, the nearby lookup, coverage, import and export."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from api.schemas.common import (MAX_INT, Datum, Id, Label, Labels, Lat, Lng, Message, PageArgs, PageSize,
                                Timestamp)
from models.life_circle import STATUSES
from service.life_circle import rules

DATUM = Datum(load_default="gcj02", metadata={
    "description": "Datum of the coordinates given and returned: wgs84 (wx.getLocation default) or gcj02 "
                   "(Chinese maps; stored)"})
CSV_BODY = {"type": "string"}
GEOJSON_BODY = {"type": "object"}


# Labels of the codes the life-circle rules name (the rules loaded at the time of the answer).
def _category_label(code: str, lang: str) -> str:
    return rules.current().category_name(code, lang)


def _pace_label(code: str, lang: str) -> str:
    return rules.current().pace_name(code, lang)


def _target_group_label(code: str, lang: str) -> str:
    return rules.current().target_group_name(code, lang)


class LcCategoryOut(ma.Schema):
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    name_zh = ma.fields.String(required=True)
    name_en = ma.fields.String(required=True)
    dimension = ma.fields.String(required=True, metadata={"description": "居住/就业/服务/休闲/出行"})
    dimension_en = ma.fields.String(required=True)
    threshold_m = ma.fields.Integer(required=True, metadata={"description": "Walking threshold, network metres"})
    threshold_minutes = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), required=True,
                                       metadata={"description": "⌈threshold ÷ speed⌉ per pace"})
    required = ma.fields.Boolean(required=True, metadata={"description": "Counted in the overall coverage"})
    subtypes = ma.fields.List(ma.fields.String(), required=True)


class LcPaceOut(ma.Schema):
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    m_per_min = ma.fields.Integer(required=True)


class LcGroupOut(ma.Schema):
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True)


class LcCategoriesOut(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(LcCategoryOut), required=True)
    paces = ma.fields.List(ma.fields.Nested(LcPaceOut), required=True)
    target_groups = ma.fields.List(ma.fields.Nested(LcGroupOut), required=True)
    detour_factor = ma.fields.Float(required=True)
    required = ma.fields.List(ma.fields.String(), required=True)
    required_names = Labels(field="required", lookup=_category_label, required=True)


class FacilityOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    external_id = ma.fields.String(allow_none=True)
    meal_site_id = ma.fields.Integer(allow_none=True, metadata={
        "description": "The bookable meal site (GET /api/v1/meal-sites/{id}) this 助餐 facility is"})
    name = ma.fields.String(required=True)
    category = ma.fields.String(required=True)
    category_name = ma.fields.String(required=True)
    dimension = ma.fields.String(allow_none=True)
    subtype = ma.fields.String(allow_none=True)
    address = ma.fields.String(allow_none=True)
    lat = Lat(answer=True, required=True)
    lng = Lng(answer=True, required=True)
    datum = Datum(answer=True, required=True)
    datum_name = Label("places", "datum", required=True)
    coord_source = ma.fields.String(required=True)
    coord_source_name = Label("places", "coord_source", required=True)
    phone = ma.fields.String(allow_none=True)
    services = ma.fields.List(ma.fields.String(), required=True)
    target_groups = ma.fields.List(ma.fields.String(), required=True)
    target_groups_names = Labels(field="target_groups", lookup=_target_group_label, required=True)
    capacity = ma.fields.Integer(allow_none=True)
    accessible = ma.fields.Boolean(required=True, metadata={"description": "无障碍"})
    bookable = ma.fields.Boolean(required=True)
    status = ma.fields.String(required=True, metadata={"enum": list(STATUSES)})
    status_name = Label("life_circle", "status", required=True, metadata={"example": "运营中"})
    hours = ma.fields.Dict(allow_none=True, metadata={"description": "Opening hours (see the facility create body)"})
    open_now = ma.fields.Boolean(allow_none=True, metadata={
        "description": "Asia/Shanghai, honouring public holidays, 调休 and dated exceptions; null when hours unknown"})
    closes_at = Timestamp(allow_none=True, metadata={"description": "When open: the end of this opening"})
    next_open_at = Timestamp(allow_none=True, metadata={"description": "When closed: the next opening"})
    description = ma.fields.String(allow_none=True)
    street_id = ma.fields.Integer(allow_none=True)
    neighbourhood_id = ma.fields.Integer(allow_none=True)
    version = ma.fields.Integer(required=True)


class LcNearbyItemOut(FacilityOut):
    class Meta:
        # The list keeps what a resident choosing where to go needs; the weekly schedule, description and
        # administrative fields are in GET /facilities/{id}.
        exclude = ("hours", "external_id", "coord_source", "coord_source_name", "capacity", "status", "status_name",
                   "description", "street_id", "neighbourhood_id", "version")

    distance_m = ma.fields.Integer(required=True, metadata={"description": "Straight line, metres"})
    walk_m = ma.fields.Integer(required=True, metadata={"description": "Walking metres used"})
    walk_minutes = ma.fields.Integer(required=True, metadata={"description": "⌈walk_m ÷ pace speed⌉"})
    walk_method = ma.fields.String(required=True, metadata={"enum": ["estimated", "network"]})
    walk_method_name = Label("life_circle", "walk_method", required=True)


class LcOriginOut(ma.Schema):
    lat = Lat(answer=True, required=True)
    lng = Lng(answer=True, required=True)
    datum = Datum(answer=True, required=True)
    datum_name = Label("places", "datum", required=True)
    estate_id = ma.fields.Integer(allow_none=True)


class LcNearbyOut(ma.Schema):
    origin = ma.fields.Nested(LcOriginOut, required=True)
    pace = ma.fields.String(required=True)
    pace_name = Label(field="pace", lookup=_pace_label, required=True, metadata={"example": "长者步速"})
    m_per_min = ma.fields.Integer(required=True)
    minutes = ma.fields.Integer(required=True)
    walk_budget_m = ma.fields.Integer(required=True)
    detour_factor = ma.fields.Float(required=True)
    note = ma.fields.String(required=True)
    items = ma.fields.List(ma.fields.Nested(LcNearbyItemOut), required=True)
    by_dimension = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.List(ma.fields.Integer()),
                                  required=True, metadata={"description": "Result ids grouped by dimension"})


class LcNearbyArgs(ma.Schema):
    lat = Lat()
    lng = Lng()
    datum = DATUM
    estate_id = Id(metadata={
        "description": "From this estate: its point when lat/lng are not given, and its network walks"})
    category = ma.fields.String(validate=validate.Length(min=1, max=32), metadata={
        "description": "A category code of GET /api/v1/facility-categories (set by the operator in config/rules)"})
    minutes = ma.fields.Integer(validate=validate.Range(min=1, max=60), metadata={
        "description": "Walking budget in minutes at the pace (default 15)"})
    pace = ma.fields.String(load_default="standard", validate=validate.OneOf(("standard", "elder")))
    open_now = ma.fields.Boolean(metadata={"description": "true: only open now; false: only closed now"})
    target_group = ma.fields.String(validate=validate.Length(min=1, max=32), metadata={
        "description": "Facilities for this group (or for everyone): a target group of GET "
                       "/api/v1/facility-categories"})
    limit = PageSize()


class LcSearchArgs(PageArgs):
    q = ma.fields.String(required=True, validate=validate.Length(min=1, max=50), metadata={
        "description": "Part of the name, sub-type or address"})
    category = ma.fields.String(validate=validate.Length(min=1, max=32), metadata={
        "description": "A category code of GET /api/v1/facility-categories (set by the operator in config/rules)"})
    datum = DATUM


class LcDetailArgs(ma.Schema):
    datum = DATUM


class PeriodField(ma.fields.List):
    pass


class FacilityIn(ma.Schema):
    external_id = ma.fields.String(allow_none=True, validate=validate.Length(min=1, max=64))
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=100))
    category = ma.fields.String(required=True, validate=validate.Length(min=1, max=32), metadata={
        "description": "A category code of GET /api/v1/facility-categories (set by the operator in config/rules)"})
    subtype = ma.fields.String(allow_none=True, validate=validate.Length(max=48))
    address = ma.fields.String(allow_none=True, validate=validate.Length(max=200))
    lat = Lat(required=True)
    lng = Lng(required=True)
    datum = DATUM
    coord_source = ma.fields.String(validate=validate.OneOf(("approximate", "surveyed")))
    phone = ma.fields.String(allow_none=True, validate=validate.Length(max=32))
    services = ma.fields.List(ma.fields.String(validate=validate.Length(min=1, max=48)),
                              validate=validate.Length(max=30))
    target_groups = ma.fields.List(ma.fields.String(validate=validate.Length(min=1, max=32)),
                                   validate=validate.Length(max=10))
    capacity = ma.fields.Integer(allow_none=True, validate=validate.Range(min=0, max=1_000_000))
    accessible = ma.fields.Boolean()
    bookable = ma.fields.Boolean()
    status = ma.fields.String(validate=validate.OneOf(STATUSES))
    hours = ma.fields.Dict(allow_none=True, metadata={
        "description": "{always_open, weekly: {mon: [[\"08:00\", \"17:00\"]], …}, holiday: weekly|closed|mon…sun, "
                       "makeup_workday: weekly|closed|mon…sun, exceptions: [{date, periods, note}]}; an end at or "
                       "before the start runs past midnight"})
    description = ma.fields.String(allow_none=True, validate=validate.Length(max=500))
    street_id = Id(allow_none=True)
    neighbourhood_id = Id(allow_none=True)


class FacilityPatch(FacilityIn):
    name = ma.fields.String(validate=validate.Length(min=1, max=100))
    category = ma.fields.String(validate=validate.Length(min=1, max=32), metadata={
        "description": "A category code of GET /api/v1/facility-categories (set by the operator in config/rules)"})
    lat = Lat()
    lng = Lng()
    datum = Datum()
    version = ma.fields.Integer(validate=validate.Range(min=1, max=MAX_INT), metadata={
        "description": "The version you read: a newer one answers 409"})


class LcCloseIn(ma.Schema):
    reason = ma.fields.String(allow_none=True, validate=validate.Length(max=200))


class LcImportIn(ma.Schema):
    format = ma.fields.String(required=True, validate=validate.OneOf(("csv", "geojson")))
    data = ma.fields.String(required=True, validate=validate.Length(min=1, max=20_000_000), metadata={
        "description": "The file's text: CSV with a header row, or a GeoJSON FeatureCollection"})
    skip_invalid = ma.fields.Boolean(load_default=False, metadata={
        "description": "Import the valid rows and report the others (default: nothing unless every row is valid)"})
    dry_run = ma.fields.Boolean(load_default=False, metadata={"description": "Validate and count, write nothing"})


class LcImportErrorOut(ma.Schema):
    row = ma.fields.Integer(required=True, metadata={"description": "Data row, from 1"})
    where = ma.fields.String(required=True, metadata={"description": "CSV line or GeoJSON feature index"})
    external_id = ma.fields.String(allow_none=True)
    field = ma.fields.String(required=True)
    message = Message(required=True, metadata={"description": "What is wrong, in the reader's language"})


class LcImportOut(ma.Schema):
    format = ma.fields.String(required=True)
    rows = ma.fields.Integer(required=True)
    valid = ma.fields.Integer(required=True)
    invalid = ma.fields.Integer(required=True)
    created = ma.fields.Integer(required=True)
    updated = ma.fields.Integer(required=True)
    unchanged = ma.fields.Integer(required=True)
    skipped = ma.fields.Integer(required=True)
    dry_run = ma.fields.Boolean(required=True)
    applied = ma.fields.Boolean(required=True)
    errors = ma.fields.List(ma.fields.Nested(LcImportErrorOut), required=True)


class WalksImportIn(ma.Schema):
    data = ma.fields.String(required=True, validate=validate.Length(min=1, max=50_000_000), metadata={
        "description": "CSV: estate_code, facility_external_id, walk_m[, walk_s_standard, walk_s_elder]"})
    graph_version = ma.fields.String(allow_none=True, validate=validate.Length(max=64))
    skip_invalid = ma.fields.Boolean(load_default=False)


class WalksImportErrorOut(ma.Schema):
    row = ma.fields.Integer(required=True, metadata={"description": "Data row, from 1"})
    where = ma.fields.String(required=True, metadata={"description": "CSV line"})
    field = ma.fields.String(required=True)
    message = Message(required=True, metadata={"description": "What is wrong, in the reader's language"})


class WalksImportOut(ma.Schema):
    rows = ma.fields.Integer(required=True)
    valid = ma.fields.Integer(required=True)
    invalid = ma.fields.Integer(required=True)
    created = ma.fields.Integer(required=True)
    updated = ma.fields.Integer(required=True)
    unchanged = ma.fields.Integer(required=True)
    applied = ma.fields.Boolean(required=True)
    errors = ma.fields.List(ma.fields.Nested(WalksImportErrorOut), required=True)


class LcExportArgs(ma.Schema):
    street_id = Id()
    category = ma.fields.String(validate=validate.Length(min=1, max=32), metadata={
        "description": "A category code of GET /api/v1/facility-categories (set by the operator in config/rules)"})
    status = ma.fields.String(validate=validate.OneOf(STATUSES))
    datum = Datum(load_default="wgs84", metadata={
        "description": "Coordinates' datum (GeoJSON's RFC 7946 default: wgs84)"})


class LcCoverageArgs(ma.Schema):
    scenario = ma.fields.String(load_default="current", validate=validate.OneOf(("current", "planned")), metadata={
        "description": "planned: also count facilities planned or under construction"})


class StreetCoverageArgs(LcCoverageArgs):
    format = ma.fields.String(validate=validate.OneOf(("json", "csv", "geojson")), metadata={
        "description": "csv (Excel, UTF-8 with BOM) or geojson (estates as points with their coverage)"})
    datum = Datum(load_default="wgs84", metadata={
        "description": "GeoJSON coordinates' datum"})


class LcShareOut(ma.Schema):
    numerator = ma.fields.Integer(required=True)
    denominator = ma.fields.Integer(required=True)
    rate = ma.fields.Float(required=True, allow_none=True, metadata={
        "description": "Percentage rounded half up to 2 decimals; null when the denominator is 0"})


class LcNearestOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    walk_m = ma.fields.Integer(required=True)
    distance_m = ma.fields.Integer(required=True)
    walk_minutes = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), required=True)
    walk_method = ma.fields.String(required=True)
    walk_method_name = Label("life_circle", "walk_method", required=True)


class LcEstateCategoryOut(ma.Schema):
    category = ma.fields.String(required=True)
    category_name = ma.fields.String(required=True)
    dimension = ma.fields.String(required=True)
    threshold_m = ma.fields.Integer(required=True)
    required = ma.fields.Boolean(required=True)
    nearest = ma.fields.Nested(LcNearestOut, allow_none=True, required=True)
    covered = ma.fields.Boolean(required=True)
    beyond_m = ma.fields.Integer(allow_none=True, required=True)


class LcLabelsOut(ma.Schema):
    as_of = Timestamp(required=True)
    scenario = ma.fields.String(required=True)
    scenario_name = Label("life_circle", "scenario", required=True)
    distance_method = ma.fields.String(required=True, metadata={"enum": ["estimated", "network", "mixed"]})
    distance_method_name = Label("life_circle", "distance_method", required=True)
    pairs = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), required=True)
    detour_factor = ma.fields.Float(required=True)
    search_radius_m = ma.fields.Integer(required=True)
    paces = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), required=True)
    facilities_updated_at = Timestamp(allow_none=True, required=True)
    formulas = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(), required=True)


class EstateCoverageOut(LcLabelsOut):
    estate = ma.fields.Dict(required=True)
    categories = ma.fields.List(ma.fields.Nested(LcEstateCategoryOut), required=True)
    required_covered = ma.fields.Integer(required=True)
    required_total = ma.fields.Integer(required=True)
    all_required_covered = ma.fields.Boolean(required=True)


class LcCategoryShareOut(ma.Schema):
    category = ma.fields.String(required=True)
    category_name = ma.fields.String(required=True)
    dimension = ma.fields.String(required=True)
    threshold_m = ma.fields.Integer(required=True)
    required = ma.fields.Boolean(required=True)
    estate_share = ma.fields.Nested(LcShareOut, required=True)
    household_share = ma.fields.Nested(LcShareOut, required=True)


class LcStrictOut(ma.Schema):
    estate_share = ma.fields.Nested(LcShareOut, required=True)
    household_share = ma.fields.Nested(LcShareOut, required=True)


class LcMeanOut(ma.Schema):
    estate_share = ma.fields.Float(allow_none=True, required=True)
    household_share = ma.fields.Float(allow_none=True, required=True)


class LcOverallOut(ma.Schema):
    strict = ma.fields.Nested(LcStrictOut, required=True)
    mean = ma.fields.Nested(LcMeanOut, required=True)


class LcGapOut(ma.Schema):
    estate_id = ma.fields.Integer(required=True)
    estate_name = ma.fields.String(required=True)
    category = ma.fields.String(required=True)
    category_name = ma.fields.String(required=True)
    required = ma.fields.Boolean(required=True)
    threshold_m = ma.fields.Integer(required=True)
    nearest_facility_id = ma.fields.Integer(allow_none=True, required=True)
    nearest_facility_name = ma.fields.String(allow_none=True, required=True)
    walk_m = ma.fields.Integer(allow_none=True, required=True)
    walk_method = ma.fields.String(allow_none=True, required=True)
    walk_method_name = Label("life_circle", "walk_method", allow_none=True, required=True)
    beyond_m = ma.fields.Integer(allow_none=True, required=True, metadata={
        "description": "walk_m − threshold; null when no facility lies within the search radius"})


class StreetCoverageOut(LcLabelsOut):
    street = ma.fields.Dict(required=True)
    counts = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), required=True)
    estates_unlocated = ma.fields.List(ma.fields.Dict(), required=True)
    required = ma.fields.List(ma.fields.String(), required=True)
    required_names = Labels(field="required", lookup=_category_label, required=True)
    categories = ma.fields.List(ma.fields.Nested(LcCategoryShareOut), required=True)
    overall = ma.fields.Nested(LcOverallOut, required=True)
    gaps = ma.fields.List(ma.fields.Nested(LcGapOut), required=True)
    estates = ma.fields.List(ma.fields.Dict(), required=True)


class LcFeatureCollectionOut(ma.Schema):
    type = ma.fields.String(required=True, metadata={"example": "FeatureCollection"})
    datum = Datum(answer=True, required=True)
    datum_name = Label("places", "datum", required=True)
    features = ma.fields.List(ma.fields.Dict(), required=True)
