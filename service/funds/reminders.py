"""The funds sweep the scheduler runs (jobs/funds.py): an owner's query the committee has not answered within
the rules' days (15) goes to the 居委会 staff of the estate, once."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from models.base import db
from models.funds import FundPeriod, FundQuery
from service import clock, notifications
from service.db import reading, transactional
from service.funds import access, rules


def escalate_queries() -> dict:
    now = clock.now()
    cutoff = now - timedelta(days=rules.current().query_escalation_days)
    with reading():
        due = db.session.execute(sa.select(FundQuery.id).where(FundQuery.state == "open", FundQuery.asked_at <= cutoff)
                                 .order_by(FundQuery.asked_at, FundQuery.id).limit(500)).scalars().all()
    return {"due": len(due), "escalated": sum(_escalate(query_id, cutoff, now) for query_id in due)}


@transactional
def _escalate(query_id: int, cutoff, now) -> bool:
    query = db.session.execute(sa.select(FundQuery).where(FundQuery.id == query_id).with_for_update()
                               .execution_options(populate_existing=True)).scalar_one_or_none()
    if query is None or query.state != "open" or query.asked_at > cutoff:
        return False
    query.state, query.escalated_at = "escalated", now
    period = db.session.get(FundPeriod, query.period_id)
    place = access.estate(period.estate_id)
    days = rules.current().query_escalation_days
    notifications.notify_many([{"user_id": uid, "kind": "funds.query_escalated",
                                "dedupe_key": f"fund_query:{query.id}:escalated:{uid}",
                                "title": f"{place.name}业主收支询问{days}日未答复", "body": query.text[:60],
                                "link": f"/fund-periods/{period.id}", "data": {"query_id": query.id}}
                               for uid in access.staff_of(place)])
    return True
