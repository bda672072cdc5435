"""The care sweeps the scheduler runs (declared in jobs/care.py). Each reads what is due, then hands each item or
batch to a transaction of its own; what was done is recorded, so a sweep run twice does nothing twice."""
from __future__ import annotations

import sqlalchemy as sa

from models.base import db
from models.care import Device, Elder, LivelihoodFile
from service import audit, clock, consent
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
