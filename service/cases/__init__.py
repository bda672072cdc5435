"""Cases (市民诉求 / 网格化案件): rules, the closed-loop workflow, queries, metrics and reminders."""
import sqlalchemy as sa

from models.cases import Case
from service.cases import access
from service.registry import Domain


def _follow_calendar(old, new, arrangement, now) -> int:
    from service.cases.deadlines import follow_calendar

    return follow_calendar(old, new, arrangement, now)


DOMAIN = Domain(
    "cases", "市民诉求",
    # Audit entries about a case are placed in its street.
    locators={"case": sa.select(Case.street_id).where(Case.id == sa.bindparam("id"))},
    # Photos attached to a case are seen by whoever may see the case.
    upload_rules={"case": access.may_see_photo},
    # A newly loaded holiday arrangement moves the open cases' deadlines ahead (service/cases/deadlines.py).
    on_calendar=_follow_calendar,
    # Open311 GeoReport v2 discovery (None: the defaults described in api/v1/cases/open311.py).
    settings={"OPEN311_JURISDICTION": None, "OPEN311_CONTACT": None, "OPEN311_KEY_SERVICE": None,
              "OPEN311_ENDPOINT_TYPE": None},
)
