"""Case metrics schemas: the query in, the report out (JSON; the CSV is documented beside it)."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from api.schemas.common import Id, Timestamp
from service.cases.metrics import GROUP_BY


class MetricsArgs(ma.Schema):
    street_id = Id(metadata={
        "description": "A street you cover (street staff, admins). Default: your only street"})
    neighbourhood_id = Id(metadata={"description": "One neighbourhood (居委会) you cover"})
    date_from = ma.fields.Date(data_key="from", metadata={
        "description": "First local (Asia/Shanghai) date of receipt, inclusive. Default: the 1st of the month of `to`"})
    date_to = ma.fields.Date(data_key="to", metadata={
        "description": ("Last local date of receipt, inclusive (a period of at most 366 days). Default: today; with only "
                       "`from`, the end of its month (or today, if earlier)")})
    group_by = ma.fields.String(validate=validate.OneOf(GROUP_BY), metadata={
        "description": "One row per category, neighbourhood or assignee, plus the total"})
    format = ma.fields.String(validate=validate.OneOf(("json", "csv")), metadata={
        "description": "csv: the same rows as CSV for Excel (also with `Accept: text/csv`)"})


class MetricsRateOut(ma.Schema):
    numerator = ma.fields.Integer(required=True)
    denominator = ma.fields.Integer(required=True)
    rate = ma.fields.Float(required=True, allow_none=True, metadata={
        "description": "Percentage, rounded half-up to 2 decimals; null when the denominator is 0"})


class MetricsDurationOut(ma.Schema):
    count = ma.fields.Integer(required=True, metadata={"description": "Cases measured"})
    mean = ma.fields.Float(required=True, allow_none=True, metadata={"description": "Mean hours"})
    p90 = ma.fields.Float(required=True, allow_none=True, metadata={
        "description": "90th percentile in hours (nearest rank)"})


class MetricsMeanRatingOut(ma.Schema):
    sum = ma.fields.Integer(required=True)
    count = ma.fields.Integer(required=True)
    mean = ma.fields.Float(required=True, allow_none=True)


class MetricsExcludedOut(ma.Schema):
    merged = ma.fields.Integer(required=True, metadata={"description": "并单"})
    rejected = ma.fields.Integer(required=True, metadata={"description": "不予受理"})
    withdrawn = ma.fields.Integer(required=True, metadata={"description": "撤回"})


class MetricsRowOut(ma.Schema):
    key = ma.fields.Raw(required=True, allow_none=True, metadata={
        "description": "Category code, neighbourhood id or assignee user id; null for the total, for cases handled "
                       "by the street office (neighbourhood) or not yet assigned (assignee)"})
    label = ma.fields.String(required=True)
    volume = ma.fields.Integer(required=True, metadata={"description": "诉求量"})
    excluded = ma.fields.Nested(MetricsExcludedOut, required=True)
    closed = ma.fields.Integer(required=True, metadata={"description": "已办结"})
    open = ma.fields.Integer(required=True, metadata={"description": "办理中"})
    overdue = ma.fields.Integer(required=True, metadata={"description": "逾期工单量"})
    overdue_closed_late = ma.fields.Integer(required=True)
    overdue_open = ma.fields.Integer(required=True)
    contact_rate = ma.fields.Nested(MetricsRateOut, required=True, metadata={"description": "先行联系率"})
    on_time_rate = ma.fields.Nested(MetricsRateOut, required=True, metadata={"description": "按时办结率"})
    solved_rate = ma.fields.Nested(MetricsRateOut, required=True, metadata={"description": "实际解决率"})
    explained_rate = ma.fields.Nested(MetricsRateOut, required=True, metadata={"description": "解释说明率"})
    satisfaction_rate = ma.fields.Nested(MetricsRateOut, required=True, metadata={"description": "满意率"})
    rating_participation_rate = ma.fields.Nested(MetricsRateOut, required=True, metadata={"description": "参评率"})
    mean_rating = ma.fields.Nested(MetricsMeanRatingOut, required=True)
    hours_to_first_contact = ma.fields.Nested(MetricsDurationOut, required=True)
    hours_to_close = ma.fields.Nested(MetricsDurationOut, required=True)


class MetricsPeriodOut(ma.Schema):
    from_ = ma.fields.Date(required=True, data_key="from", attribute="from")
    to = ma.fields.Date(required=True)
    start = Timestamp(required=True, metadata={"description": "Inclusive"})
    end = Timestamp(required=True, metadata={"description": "Exclusive (the day after `to`)"})
    as_of = Timestamp(required=True, metadata={"description": "States and deadlines judged at this moment"})
    timezone = ma.fields.String(required=True)
    to_inclusive = ma.fields.Boolean(required=True)


class MetricsScopeOut(ma.Schema):
    street_id = ma.fields.Integer(required=True)
    street_name = ma.fields.String(required=True)
    neighbourhood_id = ma.fields.Integer(required=True, allow_none=True)
    neighbourhood_name = ma.fields.String(required=True, allow_none=True)


class MetricsOut(ma.Schema):
    period = ma.fields.Nested(MetricsPeriodOut, required=True)
    scope = ma.fields.Nested(MetricsScopeOut, required=True)
    group_by = ma.fields.String(required=True, allow_none=True)
    formulas = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(), required=True,
                              metadata={"description": "The exact formula of every figure"})
    total = ma.fields.Nested(MetricsRowOut, required=True)
    groups = ma.fields.List(ma.fields.Nested(MetricsRowOut), required=True,
                            metadata={"description": "Empty without group_by"})


CSV_BODY = {"type": "string"}
