"""Cases (市民诉求 / 网格化案件): rules, the closed-loop workflow, queries, metrics and reminders."""
import sqlalchemy as sa

from models.cases import Case
from service import calendar, places

# Audit entries about a case are placed in its street.
places.register_locator("case", sa.select(Case.street_id).where(Case.id == sa.bindparam("id")))


def _follow_calendar(old, new, arrangement, now) -> int:
    from service.cases.deadlines import follow_calendar

    return follow_calendar(old, new, arrangement, now)


# A newly loaded holiday arrangement moves the open cases' deadlines ahead (service/cases/deadlines.py).
calendar.subscribe("cases", _follow_calendar)
