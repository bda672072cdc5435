"""What the care domain holds about a person (service/personal_data.py): as an elder on the roster, their entry,
emergency contacts, 民生档案, the visits made to them, their devices and alarms; as a visitor, their pairings and the
visits they recorded; as someone's emergency contact, that they are one.

Closing an elder's account ends their watch (pairings, plans, devices, live alarms), deletes their contacts, their
file and their devices' raw events, and clears the notes of the visits made to them; the visits and alarms stay as
the record of care that was given, under the account's unidentifiable number. A visitor's pairings end; the
visits they made stay in the elders' records. An emergency contact's link to their account goes; their name and
phone stay in the elder's list of contacts (the elder's data)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from models.base import db
from models.care import (Alarm, AlarmStep, Contact, Device, DeviceEvent, Elder, LivelihoodFile, Pairing, Visit,
                         VisitDue)
from service import clock, privacy, retention
from service.care import workflow
from service.db import transactional
from service.personal_data import MAX_ROWS, rows

KEPT = [
    ("对老人的探访记录和报警记录（不含探访备注）：关爱工作的记录，保存3年，账号以不可识别的编号代替",
     "The visits made to an elder and their alarms (without the visit notes): the record of the care given, kept "
     "3 years, under an unidentifiable number"),
    ("志愿者做过的探访：属于被探访老人的记录", "The visits a volunteer made: part of the visited elders' records"),
]


def _decrypted(items: list[dict], field: str) -> list[dict]:
    for item in items:
        item[field.removesuffix("_enc")] = privacy.decrypt(item.pop(field))
    return items


def export(user_id: int) -> dict:
    elder_ids = sa.select(Elder.id).where(Elder.user_id == user_id)
    entries = rows(sa.select(Elder.id, Elder.living, Elder.risk_tier, Elder.status, Elder.verified_at,
                             Elder.verified_on, Elder.away_from, Elder.away_until, Elder.away_reason, Elder.ended_at,
                             Elder.end_reason).where(Elder.user_id == user_id))
    contacts = _decrypted(rows(sa.select(Contact.elder_id, Contact.position, Contact.name, Contact.relation,
                                         Contact.phone_enc).where(Contact.elder_id.in_(elder_ids))), "phone_enc")
    files = _decrypted(rows(sa.select(LivelihoodFile.elder_id, LivelihoodFile.version, LivelihoodFile.household,
                                      LivelihoodFile.benefits, LivelihoodFile.housing, LivelihoodFile.needs,
                                      LivelihoodFile.health_enc, LivelihoodFile.written_at)
                            .where(LivelihoodFile.elder_id.in_(elder_ids)).order_by(LivelihoodFile.version)),
                       "health_enc")
    visits = _decrypted(rows(sa.select(Visit.id, Visit.at, Visit.role, Visit.channel, Visit.outcome, Visit.finding,
                                       Visit.notes_enc).where(Visit.elder_id.in_(elder_ids))
                             .order_by(Visit.at.desc()).limit(MAX_ROWS)), "notes_enc")
    devices = rows(sa.select(Device.id, Device.kind, Device.room, Device.installed_at, Device.removed_at,
                             Device.last_seen_at).where(Device.elder_id.in_(elder_ids)))
    alarms = rows(sa.select(Alarm.id, Alarm.source, Alarm.rule, Alarm.severity, Alarm.state, Alarm.opened_at,
                            Alarm.resolved_at, Alarm.outcome).where(Alarm.elder_id.in_(elder_ids))
                  .order_by(Alarm.id.desc()).limit(MAX_ROWS))
    pairings = rows(sa.select(Pairing.elder_id, Pairing.role, Pairing.starts_on, Pairing.ends_on)
                    .where(Pairing.visitor_user_id == user_id))
    made = _decrypted(rows(sa.select(Visit.id, Visit.elder_id, Visit.at, Visit.channel, Visit.outcome, Visit.notes_enc)
                           .where(Visit.visitor_user_id == user_id).order_by(Visit.at.desc()).limit(MAX_ROWS)),
                      "notes_enc")
    contact_of = rows(sa.select(Contact.elder_id, Contact.relation).where(Contact.user_id == user_id))
    return {"care_roster": entries, "care_contacts": contacts, "care_file": files, "care_visits_received": visits,
            "care_devices": devices, "care_alarms": alarms, "care_pairings": pairings, "care_visits_made": made,
            "care_contact_of": contact_of}


def erase(user_id: int, now: datetime) -> dict:
    done = {"care_elder.ended": 0, "care_contact.deleted": 0, "care_file.deleted": 0, "care_event.deleted": 0,
            "care_visit.notes_cleared": 0, "care_pairing.ended": 0, "care_contact.unlinked": 0}
    elders = db.session.execute(sa.select(Elder).where(Elder.user_id == user_id)).scalars().all()
    for elder in elders:
        if elder.status == "active":
            workflow.stop_everything(elder, now, outcome="other", note="account closed", by=None)
            elder.status, elder.ended_at, elder.end_reason = "ended", now, "declined"
            elder.away_from = elder.away_until = elder.away_reason = None
            done["care_elder.ended"] += 1
    ids = [e.id for e in elders]
    if ids:
        done["care_contact.deleted"] = _count(sa.delete(Contact).where(Contact.elder_id.in_(ids)))
        done["care_file.deleted"] = _count(sa.delete(LivelihoodFile).where(LivelihoodFile.elder_id.in_(ids)))
        done["care_event.deleted"] = _count(sa.delete(DeviceEvent).where(DeviceEvent.device_id.in_(
            sa.select(Device.id).where(Device.elder_id.in_(ids)))))
        done["care_visit.notes_cleared"] = _count(sa.update(Visit).where(Visit.elder_id.in_(ids),
                                                                         Visit.notes_enc.is_not(None))
                                                  .values(notes_enc=None))
    done["care_pairing.ended"] = _count(sa.update(Pairing).where(Pairing.visitor_user_id == user_id,
                                                                 Pairing.ends_on.is_(None))
                                        .values(ends_on=clock.local(now).date()))
    done["care_contact.unlinked"] = _count(sa.update(Contact).where(Contact.user_id == user_id).values(user_id=None))
    return done


def _count(statement) -> int:
    return db.session.execute(statement.execution_options(synchronize_session=False)).rowcount or 0


# --- retention (config/rules/privacy.yaml, kinds care_device_event and care_record) --------------------------------

def purge_events(cutoff: datetime, now: datetime, batch: int, batches: int) -> int:
    """Raw device events received before ``cutoff`` (90 days by default) are deleted, ``batch`` a transaction
    (ix_care_event_received)."""
    return retention.batched(lambda size: _purge_event_batch(cutoff, size), batch, batches)


@transactional
def _purge_event_batch(cutoff: datetime, batch: int) -> int:
    ids = db.session.execute(sa.select(DeviceEvent.id).where(DeviceEvent.received_at < cutoff)
                             .order_by(DeviceEvent.received_at).limit(batch)).scalars().all()
    if ids:
        db.session.execute(sa.delete(DeviceEvent).where(DeviceEvent.id.in_(ids))
                           .execution_options(synchronize_session=False))
    return len(ids)


def purge_records(cutoff: datetime, now: datetime, batch: int, batches: int) -> int:
    """Alarms resolved and visits made before ``cutoff`` (three years by default) are deleted with their ladder
    steps and their done due visits; what pointed at them (an event, a file version) keeps its row without the
    link. ``batch`` of each a transaction."""
    return retention.batched(lambda size: _purge_record_batch(cutoff, size), batch, batches)


@transactional
def _purge_record_batch(cutoff: datetime, batch: int) -> int:
    alarms = db.session.execute(sa.select(Alarm.id).where(Alarm.state == "resolved", Alarm.resolved_at < cutoff)
                                .order_by(Alarm.id).limit(batch)).scalars().all()
    visits = db.session.execute(sa.select(Visit.id).where(Visit.at < cutoff).order_by(Visit.at).limit(batch)
                                ).scalars().all()
    if alarms:
        db.session.execute(sa.update(DeviceEvent).where(DeviceEvent.alarm_id.in_(alarms)).values(alarm_id=None))
        db.session.execute(sa.update(Visit).where(Visit.alarm_id.in_(alarms)).values(alarm_id=None))
        db.session.execute(sa.delete(AlarmStep).where(AlarmStep.alarm_id.in_(alarms)))
        db.session.execute(sa.delete(Alarm).where(Alarm.id.in_(alarms)))
    if visits:
        db.session.execute(sa.update(LivelihoodFile).where(LivelihoodFile.visit_id.in_(visits)).values(visit_id=None))
        db.session.execute(sa.delete(VisitDue).where(VisitDue.visit_id.in_(visits)))
        db.session.execute(sa.delete(Visit).where(Visit.id.in_(visits)))
    return max(len(alarms), len(visits))


RETENTION = {"care_device_event": (("delete",), purge_events), "care_record": (("delete",), purge_records)}
