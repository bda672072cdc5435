"""The life circle's error catalogue: every error code of the domain, once, and the problems a facility's field,
an import row or an opening-hours document can have (both languages: the answer shows the reader's)."""
from __future__ import annotations

from service.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from service.i18n import Text
from service.platform_errors import RoleRequired  # noqa: F401  (staff and admins only: the platform's error)

# --- errors -------------------------------------------------------------------------------------------------------


class OutOfScope(Forbidden):
    code, zh, en = "life_circle.out_of_scope", "该设施不在您的管辖范围内", "This facility is outside your scope"

    @classmethod
    def place(cls) -> OutOfScope:
        """A street or an estate (coverage) outside the actor's scope."""
        return cls("该街道/小区不在您的管辖范围内", "This street or estate is outside your scope")


class FacilityNotFound(NotFound):
    code, zh, en = "life_circle.facility_not_found", "没有找到该设施", "No such facility"


class EstateNotFound(NotFound):
    code, zh, en = "life_circle.estate_not_found", "没有找到该小区", "No such estate"


class StreetNotFound(NotFound):
    code, zh, en = "life_circle.street_not_found", "没有找到该街道", "No such street"


class FacilityChanged(Conflict):
    code, zh, en = ("life_circle.facility_changed", "该设施刚被他人修改，请刷新后重试",
                    "Someone else changed this facility just now; reload and retry")


class ExternalIdTaken(Conflict):
    code, zh, en = "life_circle.external_id_taken", "外部编号已被使用", "external_id is already used"


class AlreadyClosed(Conflict):
    code, zh, en = "life_circle.already_closed", "该设施已关闭", "The facility is already closed"


class ImportConflict(Conflict):
    code, zh, en = ("life_circle.import_conflict", "另一导入正在进行，请稍后重试",
                    "Another import wrote the same facilities just now; retry")


class FacilityInvalid(InvalidInput):
    """Facility fields the rules refuse: ``errors`` names each field's problem, the message the first one."""
    code, zh, en = "life_circle.facility_invalid", "设施信息有误（{name}）：{zh_problem}", "{name} {en_problem}"

    def __init__(self, problems: dict[str, Text]):
        name, problem = next(iter(problems.items()))
        super().__init__(name, name=name, zh_problem=problem.zh, en_problem=problem.en)
        self.errors = {"json": {field: [text] for field, text in problems.items()}}


class CategoryUnknown(InvalidInput):
    code, field, zh, en = "life_circle.category_unknown", "category", "没有这个设施类别", "Unknown facility category"


class TargetGroupUnknown(InvalidInput):
    code, field, zh, en = "life_circle.target_group_unknown", "target_group", "没有这个服务对象", "Unknown target group"


class OriginMissing(InvalidInput):
    code, field, zh, en = "life_circle.origin_missing", "lat", "请提供位置（lat、lng）或小区", "Give lat and lng, or an estate"


class EstateUnlocated(InvalidInput):
    code, field, zh, en = ("life_circle.estate_unlocated", "estate_id", "该小区没有位置信息，请提供坐标",
                           "The estate has no coordinates")


class QueryEmpty(InvalidInput):
    code, field, zh, en = "life_circle.query_empty", "q", "请输入要搜索的名称", "Give a name to search for"


class ImportCsv(InvalidInput):
    code, field, zh, en = "life_circle.import_csv", "data", "CSV 格式有误", "Not valid CSV: {reason}"


class ImportJson(InvalidInput):
    code, field, zh, en = "life_circle.import_json", "data", "GeoJSON 格式有误", "Not valid JSON: {reason} at line {line}"


class ImportGeojson(InvalidInput):
    code, field, zh, en = ("life_circle.import_geojson", "data", "须为 GeoJSON FeatureCollection",
                           "Expected a GeoJSON FeatureCollection")


class ImportHeader(InvalidInput):
    code, field, zh, en = ("life_circle.import_header", "data", "CSV 第一行须为列名，且包含 external_id",
                           "The CSV needs a header row with external_id")

    @classmethod
    def walks(cls) -> ImportHeader:
        """The walk table's columns."""
        return cls(None, "CSV 须包含列 estate_code, facility_external_id, walk_m",
                   "The CSV needs estate_code, facility_external_id and walk_m columns")


class ImportTooLarge(InvalidInput):
    code, field, zh, en = "life_circle.import_too_large", "data", "一次最多导入 {limit} 行", "At most {limit} rows per import"

    @classmethod
    def walks(cls) -> ImportTooLarge:
        """The walk table's wording."""
        return cls(None, "行数过多", "Too many rows")


class ImportInvalid(DomainError):
    """Bad rows in an import, nothing written: ``errors["report"]`` is the import's report."""
    code, status = "life_circle.import_invalid", 422
    zh, en = "导入文件有 {invalid} 行有误，未导入任何数据", "{invalid} rows are not valid; nothing was imported"

    def __init__(self, report: dict):
        super().__init__(invalid=report["invalid"], errors={"report": report})


# --- the problems of a field (a facility's, an import row's, an opening-hours document's) ------------------------

REQUIRED = Text("必填", "is required")
TRUE_OR_FALSE = Text("须为 true 或 false", "must be true or false")
WHOLE_NUMBER = Text("须为整数", "must be a whole number")
NOT_TEXT = Text("须为文本", "must be text")
NOT_TEXT_OR_NUMBER = Text("须为文本或整数", "must be text or a whole number")
NOT_OBJECT = Text("须为 JSON 对象", "must be an object")
UNKNOWN_FIELD = Text("不接受此字段", "unknown field")


def one_of(choices) -> Text:
    return Text(f"须为以下之一：{'、'.join(choices)}", f"must be one of {', '.join(choices)}")


def too_long(limit: int) -> Text:
    return Text(f"须为不超过 {limit} 个字符的文本", f"must be text of at most {limit} characters")


# A facility's fields
EXTERNAL_ID_FORMAT = Text("须为 1–64 个字母、数字或 _ . : - /", "must be 1–64 letters, digits or _ . : - /")
UNKNOWN_CATEGORY = Text("没有这个设施类别", "unknown category")
BOTH_NUMBERS = Text("lat 和 lng 都须为数字", "must be a number (both lat and lng)")
LAT_RANGE = Text("须在 -90 到 90 之间", "must be from -90 to 90")
LNG_RANGE = Text("须在 -180 到 180 之间", "must be from -180 to 180")
OUTSIDE_CHINA = Text("该点不在中国境内", "the point is outside China")
NAMES = Text("须为最多 30 个名称（每个不超过 48 个字符）的列表", "must be a list of at most 30 short names")
CAPACITY = Text("须为 0 到 1000000 之间的整数", "must be a whole number from 0 to 1000000")
POSITIVE_ID = Text("须为正整数编号", "must be a positive id")
NO_NEIGHBOURHOOD = Text("没有这个居民区", "no such neighbourhood")
OTHER_STREET = Text("该居民区属于另一个街道", "the neighbourhood belongs to another street")
NO_STREET = Text("没有这个街道", "no such street")
NO_PLACE = Text("请提供设施所服务的街道或居民区", "give the street or the neighbourhood the facility serves")


def unknown_target_group(known) -> Text:
    return Text(f"没有这个服务对象（可选：{'、'.join(known)}）", f"unknown target group (known: {', '.join(known)})")


# An import row
NOT_FEATURE = Text("须为 Feature", "must be a Feature")
NOT_POINT = Text("须为坐标 [lng, lat] 的 Point", "must be a Point with [lng, lat]")
EXTERNAL_ID_REQUIRED = Text("必填（贵方系统中稳定不变的编号）", "is required (a stable id from your system)")
TWICE_IN_FILE = Text("在文件中出现了两次", "appears twice in the file")
OUTSIDE_SCOPE = Text("不在您的管辖范围内", "outside your scope")
STORED_OUTSIDE_SCOPE = Text("使用此编号的已有设施不在您的管辖范围内", "the stored facility with this id is outside your scope")
UNKNOWN_CODE = {"street_code": Text("没有这个街道代码", "unknown street code"),
                "neighbourhood_code": Text("没有这个居民区代码", "unknown neighbourhood code")}

# A row of the network walk table
UNKNOWN_ESTATE_CODE = Text("没有这个小区代码", "unknown estate code")
UNKNOWN_EXTERNAL_ID = Text("没有这个外部编号的设施", "unknown facility external_id")
WALK_RANGE = Text("须为 0 到 100000 之间的整数", "must be a whole number from 0 to 100000")
PAIR_TWICE = Text("该小区与设施的组合出现了两次", "the pair appears twice")

# Opening hours (service/life_circle/hours.py)
TIME_FORMAT = Text("时间须为 HH:MM（00:00–24:00）", "time must be HH:MM (00:00–24:00)")
PERIODS = Text("须为最多 6 个 [开始, 结束] 时段的列表", "must be a list of at most 6 [start, end] periods")
PERIOD = Text("时段须为 [开始, 结束]", "a period is [start, end]")
START_AT_MIDNIGHT = Text("时段不能从 24:00 开始", "a period cannot start at 24:00")
START_IS_END = Text("开始与结束时间相同", "start and end are the same")
EXCEPTIONS = Text("须为最多 100 个特定日期安排的列表", "must be a list of at most 100 dated exceptions")
EXCEPTION = Text("须为包含 date 和 periods 的对象", "must be an object with date and periods")
DATE_FORMAT = Text("须为日期 YYYY-MM-DD", "must be a date YYYY-MM-DD")
DATE_TWICE = Text("同一日期列出了两次", "the same date is listed twice")
NOT_JSON = Text("不是有效的 JSON", "not valid JSON")


def day_keys(days) -> Text:
    return Text(f"键须为以下之一：{'、'.join(days)}", f"keys must be among {', '.join(days)}")


def unreadable(part: str) -> Text:
    return Text(f"无法识别“{part}”", f"cannot read {part!r}")


def unknown_day_in(chunk: str) -> Text:
    return Text(f"“{chunk}”中有无法识别的星期", f"unknown day in {chunk!r}")


def unknown_day(chunk: str) -> Text:
    return Text(f"无法识别的星期“{chunk}”", f"unknown day {chunk!r}")


def period_text(part: str) -> Text:
    return Text(f"“{part}”中的时段须写成 HH:MM-HH:MM", f"a period is HH:MM-HH:MM in {part!r}")
