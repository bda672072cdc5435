"""Elders living alone (独居老人关爱 · 老伙伴计划 · 民生档案): the roster, the livelihood file, visits planned and
made, devices with their vendors' events, and alarms that climb a ladder until someone takes them."""
import sqlalchemy as sa

from models.care import Alarm, Elder, Visit
from service.registry import Domain

DOMAIN = Domain(
    "care", "独居老人关爱",
    # Audit entries about an elder, their visits and alarms are placed in the elder's street.
    locators={
        "care_elder": sa.select(Elder.street_id).where(Elder.id == sa.bindparam("id")),
        "care_alarm": sa.select(Alarm.street_id).where(Alarm.id == sa.bindparam("id")),
        "care_visit": sa.select(Elder.street_id).join(Visit, Visit.elder_id == Elder.id)
        .where(Visit.id == sa.bindparam("id")),
    },
    # A visit's finding can open a case; the meals domain's no-shows and stopped bookings, and the notices
    # domain's unacknowledged urgent notices, are signals for the alarm ladder.
    uses=("service.cases.workflow", "service.meals.queries", "service.notices.queries"),
    demo_after=("meals", "notices"),
)
