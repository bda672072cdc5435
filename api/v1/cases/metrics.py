"""Case metrics (工单指标) for staff: JSON or CSV."""
from __future__ import annotations

from flask import request
from flask.views import MethodView

from api.docs import errors
from api.errors import language
from api.extensions import Blueprint
from api.responses import csv_response
from api.schemas.cases.metrics import CSV_BODY, MetricsArgs, MetricsOut
from api.security import auth_required, current_actor
from service.cases import metrics

blp = Blueprint("case-metrics", __name__, url_prefix="/api/v1",
                description="Case metrics: 先行联系率, 按时办结率, 实际解决率, 满意率 … by street or neighbourhood")

_RATE = {"numerator": 3, "denominator": 4, "rate": 75.0}
_ROW = {"key": "corridor_clutter", "label": "楼道堆物", "volume": 5,
        "excluded": {"merged": 1, "rejected": 0, "withdrawn": 0}, "closed": 4, "open": 1, "overdue": 1,
        "overdue_closed_late": 1, "overdue_open": 0, "contact_rate": _RATE, "on_time_rate": _RATE,
        "solved_rate": _RATE, "explained_rate": {"numerator": 1, "denominator": 4, "rate": 25.0},
        "satisfaction_rate": {"numerator": 2, "denominator": 3, "rate": 66.67},
        "rating_participation_rate": _RATE, "mean_rating": {"sum": 12, "count": 3, "mean": 4.0},
        "hours_to_first_contact": {"count": 4, "mean": 3.5, "p90": 6.0},
        "hours_to_close": {"count": 4, "mean": 52.25, "p90": 90.0}}
EXAMPLE = {
    "period": {"from": "2026-11-01", "to": "2026-11-30", "start": "2026-11-01T00:00:00+08:00",
               "end": "2026-12-01T00:00:00+08:00", "as_of": "2026-12-03T02:00:00+00:00",
               "timezone": "Asia/Shanghai", "to_inclusive": True},
    "scope": {"street_id": 1, "street_name": "万里街道", "neighbourhood_id": None, "neighbourhood_name": None},
    "group_by": "category",
    "formulas": {"contact_rate": metrics.FORMULAS_ZH["contact_rate"]},
    "total": {**_ROW, "key": None, "label": "合计"},
    "groups": [_ROW],
}
CSV_EXAMPLE = ("\ufeff分组,诉求量,已办结,办理中,先行联系按时数,先行联系应联系数,先行联系率(%),…\r\n"
               "楼道堆物,5,4,1,3,4,75.00,…\r\n合计,5,4,1,3,4,75.00,…\r\n")


def _wants_csv(args: dict) -> bool:
    if args.get("format"):
        return args["format"] == "csv"
    return request.accept_mimetypes.best_match(["application/json", "text/csv"]) == "text/csv"


@blp.route("/case-metrics")
class CaseMetrics(MethodView):
    @blp.arguments(MetricsArgs, location="query")
    @blp.response(200, MetricsOut, example=EXAMPLE)
    @blp.alt_response(200, schema=CSV_BODY, content_type="text/csv", example=CSV_EXAMPLE, success=True,
                      description="With `format=csv` or `Accept: text/csv`: UTF-8 with a BOM (opens in Excel), "
                                  "Chinese headers, one row per group, then 合计")
    @errors(blp, 401, 403, 422)
    @auth_required("staff", "admin")
    def get(self, args):
        """Case metrics for a street or neighbourhood

        The cohort is the cases **received** from `from` to `to` (local
        Asia/Shanghai dates, both inclusive) in the street (street staff and
        admins) or neighbourhood (its staff); merged (并单), rejected (不予受理)
        and withdrawn cases are left out and counted under `excluded`. Cases are
        judged in their state at `as_of`, computed at most once a minute per scope and
        period (`metrics_fresh_seconds` in the case rules). Each rate is an exact
        `numerator`/`denominator` with `rate` the percentage rounded half-up to
        2 decimals, `null` when the denominator is 0.

        - 诉求量 `volume` = cases in the cohort.
        - 先行联系率 `contact_rate` = cases first contacted by the deadline
          (`first_contact_at <= contact_due_at`) ÷ dispatched cases whose reporter
          can be contacted (has an account and `contact_consent`) and that were
          contacted or whose contact deadline has passed.
        - 按时办结率 `on_time_rate` = cases closed by the deadline in force
          (`rework_due_at` when `cycle > 1`, else `handle_due_at`; extensions
          included) ÷ (closed cases + open cases past that deadline).
        - 逾期工单量 `overdue` = closed late + open past the deadline.
        - 实际解决率 `solved_rate` = closed with outcome `solved` ÷ closed;
          解释说明率 `explained_rate` = closed with outcome `explained` ÷ closed.
        - 满意率 `satisfaction_rate` = ratings 5, 4 or 3 (非常满意, 满意, 基本满意)
          ÷ cases rated; 参评率 = closed cases rated ÷ closed; mean rating =
          sum ÷ cases rated.
        - `hours_to_first_contact`, `hours_to_close`: hours from receipt, mean and
          p90 (nearest rank, the ⌈0.9 n⌉-th smallest), over the cases contacted
          or closed.

        `group_by=category|neighbourhood|assignee` adds one row per group; the
        total is the sum of the groups. `formulas` repeats every definition.
        With `format=csv` or `Accept: text/csv` the rows come as CSV for Excel.
        """
        report = metrics.compute(current_actor(), street_id=args.get("street_id"),
                                 neighbourhood_id=args.get("neighbourhood_id"), date_from=args.get("date_from"),
                                 date_to=args.get("date_to"), group_by=args.get("group_by"), lang=language())
        if _wants_csv(args):
            period = report["period"]
            name = f"case-metrics-{period['from']:%Y%m%d}-{period['to']:%Y%m%d}.csv"
            return csv_response(metrics.to_csv(report), name)
        return report
