"""The care sweeps the scheduler runs (declared in jobs/care.py). Each reads what is due, then hands each item or
batch to a transaction of its own; what was done is recorded, so a sweep run twice does nothing twice."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from models.base import db
from models.care import Device, Elder, LivelihoodFile
from service import audit, clock, consent, notifications, people
from service.care import rules as care_rules
from service.care import workflow
from service.db import reading, transactional


def consent_withdrawals() -> dict:
    """Elders whose care consent is no longer live (withdrawn, by them, their family or staff on a signed form) but
    who still have devices or health notes: the devices are removed and the health notes erased (visits stay)."""
    live = consent.live_sql(Elder.user_id, workflow.CARE)
    holds = sa.or_(sa.exists().where(Device.elder_id == Elder.id, Device.removed_at.is_(None)),
                   sa.exists().where(LivelihoodFile.elder_id == Elder.id, LivelihoodFile.health_enc.is_not(None)))
    with reading():
        due = db.session.execute(sa.select(Elder.id).where(holds, sa.not_(live)).order_by(Elder.id).limit(500)
                                 ).scalars().all()
    done = {"elders": 0, "devices_removed": 0, "health_notes_erased": 0}
    for elder_id in due:
        counts = _withdraw(elder_id)
        done["elders"] += 1
        for key, value in counts.items():
            done[key] += value
    return done


@transactional
def _withdraw(elder_id: int) -> dict:
    elder = db.session.get(Elder, elder_id)
    counts = workflow.withdraw_consent(elder, clock.now())
    audit.record(None, "care.consent_withdrawn", "care_elder", elder.id, street_id=elder.street_id,
                 subject_user_id=elder.user_id, after=counts)
    return counts


def consent_review() -> dict:
    """In the review month (``roster.consent_review_month``, January), each 居委会's staff are asked once to review
    the elders whose living situation was last verified more than eleven months ago: how they live, their tier and
    their consent (an elder's circumstances change; a consent is not for ever)."""
    now = clock.now()
    local = clock.local(now)
    if local.month != care_rules.current().consent_review_month:
        return {"neighbourhoods": 0, "told": 0}
    stale = now - timedelta(days=335)
    with reading():
        due = db.session.execute(
            sa.select(Elder.neighbourhood_id, sa.func.count()).where(Elder.status == "active", Elder.verified_at < stale)
            .group_by(Elder.neighbourhood_id).order_by(Elder.neighbourhood_id)).all()
    told = sum(_ask_review(nb_id, count, local.year) for nb_id, count in due)
    return {"neighbourhoods": len(due), "told": told}


@transactional
def _ask_review(neighbourhood_id: int, count: int, year: int) -> int:
    messages = [{"user_id": user_id, "kind": "care.review",
                 "dedupe_key": f"care.review.{year}.{neighbourhood_id}.{user_id}", "title": "独居老人年度复核",
                 "body": f"本居民区有{count}位关爱对象的居住情况已近一年未核实，请复核居住情况、风险等级和单独同意。",
                 "link": f"/pages/care/roster?neighbourhood_id={neighbourhood_id}"}
                for user_id in people.role_holders("staff", "neighbourhood", [neighbourhood_id])]
    fresh = notifications.unsent(messages)
    notifications.notify_many(fresh)
    return len(fresh)
