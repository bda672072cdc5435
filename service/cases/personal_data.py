"""What the cases domain holds about a person (service/personal_data.py): the cases they reported, with what
the reporter may see of each, and the cases they follow. Closing the account anonymises their cases (the
content stays: a report about a broken lamp or a blocked corridor is the neighbourhood's record, and an open
one is still handled, with their name and phone taken out of its text) and ends their follows."""
from __future__ import annotations

import re
from datetime import datetime

import sqlalchemy as sa

from models.base import db
from models.cases import Case, CaseEvent, CaseFollower, CasePhoto
from models.people import ResidentProfile
from service import privacy, retention
from service.db import transactional
from service.personal_data import MAX_ROWS, rows

KEPT = [
    ("您反映的诉求：内容、处理过程和结果保留（社区治理记录），反映人改为匿名，不再联系您", "The cases you reported: their "
     "content, handling and outcome stay (the neighbourhood's record) with the reporter anonymised; nobody will "
     "contact you about them"),
]

_CASE_COLUMNS = (Case.id, Case.number, Case.category_code, Case.description, Case.address, Case.lat, Case.lng,
                 Case.anonymous, Case.contact_consent, Case.status, Case.outcome, Case.reply, Case.received_at,
                 Case.resolved_at, Case.closed_at, Case.rating, Case.rating_comment)


def export(user_id: int) -> dict:
    reported = rows(sa.select(*_CASE_COLUMNS).where(Case.reporter_user_id == user_id).order_by(Case.id.desc())
                    .limit(MAX_ROWS))
    ids = [c["id"] for c in reported]
    events: dict[int, list] = {}
    photos: dict[int, list] = {}
    if ids:
        # What the reporter sees of each case: its public timeline, and the photos on it.
        for e in rows(sa.select(CaseEvent.case_id, CaseEvent.at, CaseEvent.action, CaseEvent.from_status,
                                CaseEvent.to_status, CaseEvent.note)
                      .where(CaseEvent.case_id.in_(ids), CaseEvent.public.is_(True)).order_by(CaseEvent.id)):
            events.setdefault(e.pop("case_id"), []).append(e)
        for p in rows(sa.select(CasePhoto.case_id, CasePhoto.upload_id, CasePhoto.purpose)
                      .where(CasePhoto.case_id.in_(ids)).order_by(CasePhoto.id)):
            photos.setdefault(p.pop("case_id"), []).append(p)
    for case in reported:
        case["timeline"] = events.get(case["id"], [])
        case["photos"] = photos.get(case["id"], [])
    followed = rows(sa.select(Case.id, Case.number, Case.category_code, Case.status, CaseFollower.created_at)
                    .join(CaseFollower, CaseFollower.case_id == Case.id).where(CaseFollower.user_id == user_id)
                    .order_by(Case.id.desc()).limit(MAX_ROWS))
    return {"cases_reported": reported, "cases_followed": followed}


_MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def _scrubbers(user_ids) -> dict:
    """For each person, a function taking their name and phone (and any mobile number) out of a text: one read."""
    values: dict[int, list[str]] = {uid: [] for uid in user_ids}
    for uid, name, phone_enc in db.session.execute(sa.select(
            ResidentProfile.user_id, ResidentProfile.name, ResidentProfile.phone_enc)
            .where(ResidentProfile.user_id.in_(list(values)))).all():
        values[uid] = [v for v in (name, privacy.decrypt(phone_enc)) if v and len(v) >= 2]

    def scrubber(found: list[str]):
        def scrub(text: str | None) -> str | None:
            if not text:
                return text
            for value in found:
                text = text.replace(value, "***")
            return _MOBILE.sub("***", text)
        return scrub

    return {uid: scrubber(found) for uid, found in values.items()}


def _anonymise(cases) -> dict:
    """Take the reporters off ``cases`` (a condition on Case): their names and phones out of the report, the
    reply and the public timeline; their own events and the cases themselves no longer name them. The content
    and its handling stay. A fixed number of statements however many cases and reporters."""
    rows = db.session.execute(sa.select(Case.id, Case.reporter_user_id, Case.description, Case.reply)
                              .where(cases, Case.reporter_user_id.is_not(None))).all()
    if not rows:
        return {"case.text_scrubbed": 0, "case_event.actor_anonymised": 0, "case.reporter_anonymised": 0}
    scrub = _scrubbers({r.reporter_user_id for r in rows})
    reporter_of = {r.id: r.reporter_user_id for r in rows}
    scrubbed = 0
    for case_id, reporter, description, reply in rows:
        clean = scrub[reporter]
        if (clean(description), clean(reply)) != (description, reply):
            db.session.execute(sa.update(Case).where(Case.id == case_id)
                               .values(description=clean(description), reply=clean(reply))
                               .execution_options(synchronize_session=False))
            scrubbed += 1
    ids = list(reporter_of)
    for event_id, case_id, note in db.session.execute(sa.select(CaseEvent.id, CaseEvent.case_id, CaseEvent.note)
                                                      .where(CaseEvent.case_id.in_(ids),
                                                             CaseEvent.note.is_not(None))).all():
        clean = scrub[reporter_of[case_id]](note)
        if clean != note:
            db.session.execute(sa.update(CaseEvent).where(CaseEvent.id == event_id).values(note=clean))
    # A resident acts only on the cases they reported (report, supplement, rate): their own events there lose
    # the account, found through the cases (ix_case_event_case), before the cases lose it.
    reporter = sa.select(Case.reporter_user_id).where(Case.id == CaseEvent.case_id).scalar_subquery()
    events = db.session.execute(
        sa.update(CaseEvent).where(CaseEvent.case_id.in_(ids), CaseEvent.actor_user_id == reporter,
                                   CaseEvent.actor_role.in_(("resident", "owner")))
        .values(actor_user_id=None).execution_options(synchronize_session=False)).rowcount or 0
    anonymised = db.session.execute(
        sa.update(Case).where(Case.id.in_(ids))
        .values(reporter_user_id=None, anonymous=True, contact_consent=False, rating_comment=None,
                version=Case.version + 1).execution_options(synchronize_session=False)).rowcount or 0
    return {"case.text_scrubbed": scrubbed, "case_event.actor_anonymised": events,
            "case.reporter_anonymised": anonymised}


def erase(user_id: int, now: datetime) -> dict:
    done = _anonymise(Case.reporter_user_id == user_id)
    done["case_follower.deleted"] = db.session.execute(
        sa.delete(CaseFollower).where(CaseFollower.user_id == user_id)).rowcount or 0
    return done


# --- retention (config/rules/privacy.yaml, kind case_reporter) ----------------------------------------------------

def forget_reporters(cutoff: datetime, now: datetime, batch: int, batches: int) -> int:
    """Cases closed before ``cutoff`` lose their reporter as a closure would take it (their content stays), and
    their followers: ``batch`` cases a transaction, oldest first (ix_case_reporter_kept)."""
    return retention.batched(lambda size: _forget_batch(cutoff, size), batch, batches)


@transactional
def _forget_batch(cutoff: datetime, batch: int) -> int:
    ids = db.session.execute(sa.select(Case.id).where(
        Case.closed_at < cutoff, Case.reporter_user_id.is_not(None), Case.due_at.is_(None))
        .order_by(Case.closed_at, Case.id).limit(batch)).scalars().all()
    if ids:
        _anonymise(Case.id.in_(ids))
        db.session.execute(sa.delete(CaseFollower).where(CaseFollower.case_id.in_(ids)))
    return len(ids)


RETENTION = {"case_reporter": (("anonymise",), forget_reporters)}
