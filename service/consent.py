"""The privacy notice and consent per purpose (个人信息保护法 Arts. 13–14, 17, 29), as data in
config/rules/privacy.yaml.

A person accepts the current version of the notice (which gives its ``required`` purposes) and, separately,
each ``sensitive`` purpose before such data is recorded about them. Someone may act for them: a confirmed
family member, or 居委会 staff covering them who record a consent signed on paper (``evidence``). Every
consent and withdrawal is a row (a withdrawal closes the live one; at most one is live per purpose, which
the database enforces); consents given for someone else are audited under the person's name.

What relies on a consent asks :func:`live_sql` inside its own query (meal pricing counts sensitive statuses
only while ``sensitive_status`` is live), so a withdrawal stops that processing at once.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from models.base import db
from models.privacy import MINOR_GUARDIAN, SENSITIVE_STATUS, Consent
from service import audit, clock, people, rules, uploads
from service.db import is_unique_violation, transactional
from service.platform_errors import (ConsentEvidenceMissing, ConsentNotBySelf, ConsentPhotoNotBySelf, ConsentRequiredForService,
                                     NoticeOutdated, PurposeNotFound, PurposeUnknown, ResidentNotFound)

# The purpose whose consent lets sensitive statuses be recorded and used (meal subsidies and priority), and the
# guardian's consent to recording the data of a child under 14 (service.people.check_minor).
SENSITIVE, MINOR = SENSITIVE_STATUS, MINOR_GUARDIAN


@dataclass(frozen=True)
class Purpose:
    code: str
    name: tuple[str, str]
    text: tuple[str, str]
    required: bool
    sensitive: bool
    by_self: bool = True


@dataclass(frozen=True)
class PrivacyNotice:
    version: str
    published: date
    title: tuple[str, str]
    controller: tuple[str, str]
    sections: tuple[tuple[str, str], ...]
    purposes: dict[str, Purpose]
    evidence: tuple[str, ...]


_notice: PrivacyNotice | None = None


def load(directory=None) -> PrivacyNotice:
    """Read and check the notice and the purposes of config/rules/privacy.yaml (at start-up)."""
    global _notice
    data, where = rules.load("privacy", directory), "privacy.yaml"
    spec = data.get("notice")
    rules.require(isinstance(spec, dict), where, "'notice' must be a mapping")
    version = spec.get("version")
    rules.require(isinstance(version, str) and 0 < len(version) <= 16, where,
                  "notice.version must be text of at most 16 characters")
    rules.require(isinstance(spec.get("published"), date), where, "notice.published must be a date")
    sections = spec.get("sections")
    rules.require(isinstance(sections, list) and sections, where, "notice.sections must be a non-empty list")
    purposes = {}
    for code, item in (data.get("purposes") or {}).items():
        rules.require(isinstance(item, dict) and isinstance(code, str) and len(code) <= 32, where,
                      f"purposes.{code} must be a mapping under a code of at most 32 characters")
        required, sensitive = bool(item.get("required", False)), bool(item.get("sensitive", False))
        rules.require(not (required and sensitive), where,
                      f"purposes.{code}: a sensitive purpose needs its own consent, so it cannot be required")
        purposes[code] = Purpose(code, rules.pair(item.get("name"), where, f"purposes.{code}.name"),
                                 rules.pair(item.get("text"), where, f"purposes.{code}.text"), required, sensitive,
                                 bool(item.get("by_self", True)))
    for code in (SENSITIVE, MINOR):
        rules.require(code in purposes and purposes[code].sensitive, where,
                      f"purposes.{code} must be listed, with sensitive: true")
    evidence = data.get("consent_evidence") or []
    rules.require(isinstance(evidence, list) and evidence and all(isinstance(e, str) for e in evidence), where,
                  "consent_evidence must list the documents staff may name")
    _notice = PrivacyNotice(version, spec["published"], rules.pair(spec.get("title"), where, "notice.title"),
                     rules.pair(spec.get("controller"), where, "notice.controller"),
                     tuple(rules.pair(s, where, "notice.sections[]") for s in sections), purposes, tuple(evidence))
    return _notice


def notice() -> PrivacyNotice:
    return _notice or load()


def _text(pair: tuple[str, str], lang: str) -> str:
    return pair[1] if lang == "en" else pair[0]


def present_notice(lang: str = "zh") -> dict:
    n = notice()
    return {"version": n.version, "published": n.published, "title": _text(n.title, lang),
            "controller": _text(n.controller, lang), "sections": [_text(s, lang) for s in n.sections],
            "purposes": [{"code": p.code, "name": _text(p.name, lang), "text": _text(p.text, lang),
                          "required": p.required, "sensitive": p.sensitive, "by_self": p.by_self}
                         for p in n.purposes.values()],
            "evidence": list(n.evidence)}


# --- reading -------------------------------------------------------------------------------------------------------

def live_sql(user_id_column, purpose: str):
    """An EXISTS that is true while the person has a live consent to ``purpose`` (for other queries)."""
    return (sa.select(sa.literal(1)).where(Consent.user_id == user_id_column, Consent.purpose == purpose,
                                          Consent.withdrawn_at.is_(None)).exists())


def has(user_id: int, purpose: str) -> bool:
    return db.session.execute(sa.select(live_sql(sa.literal(user_id), purpose))).scalar()


def _live(user_id: int) -> dict[str, Consent]:
    rows = db.session.execute(sa.select(Consent).where(Consent.user_id == user_id, Consent.withdrawn_at.is_(None))
                              ).scalars()
    return {c.purpose: c for c in rows}


def _acceptance(live: dict[str, Consent]) -> dict:
    """Whether the person has accepted the notice in force, from their live consents."""
    n = notice()
    accepted = {c.notice_version for code, c in live.items() if n.purposes.get(code) and n.purposes[code].required}
    version = max(accepted) if accepted else None
    return {"accepted_version": version, "current_version": n.version, "needs_acceptance": version != n.version}


def status(actor, user_id: int, lang: str = "zh", *, audited: bool = True) -> dict:
    """Each purpose with its live consent (or none), whether the notice in force is accepted, and the history of
    consents given and withdrawn (the last 100). Staff reading someone's are audited (not as the answer to
    their own change, audited already)."""
    if _check_may_act(actor, user_id) == "staff" and audited:
        audit.record_view(actor, "consents.viewed", "user", user_id)
    n = notice()
    live = _live(user_id)
    history = db.session.execute(sa.select(Consent).where(Consent.user_id == user_id).order_by(Consent.id.desc())
                                 .limit(100)).scalars().all()
    return {"user_id": user_id, **_acceptance(live),
            "purposes": [{"code": p.code, "name": _text(p.name, lang), "required": p.required,
                          "sensitive": p.sensitive, "given": p.code in live,
                          "consent": present(live[p.code]) if p.code in live else None} for p in n.purposes.values()],
            "history": [present(c) for c in history]}


def present(c: Consent) -> dict:
    return {"id": c.id, "purpose": c.purpose, "notice_version": c.notice_version, "given_at": clock.local(c.given_at),
            "channel": c.channel, "evidence": c.evidence, "withdrawn_at": clock.local(c.withdrawn_at),
            "evidence_photo": f"/api/v1/uploads/{c.evidence_upload_id}" if c.evidence_upload_id else None}


def may_see_evidence(actor, upload) -> bool:
    """The photographed form of a consent: the person, their confirmed family, staff covering them."""
    user_id = db.session.execute(sa.select(Consent.user_id).where(Consent.evidence_upload_id == upload.id)).scalar()
    return user_id is not None and people.acts_as(actor, user_id) is not None


# --- giving and withdrawing ---------------------------------------------------------------------------------------

def _check_may_act(actor, user_id: int) -> str:
    channel = people.acts_as(actor, user_id)
    if channel is None:
        raise ResidentNotFound()
    return channel


def _purposes(codes: list[str] | None) -> list[Purpose]:
    n = notice()
    if codes is None:  # accepting the notice: its required purposes
        return [p for p in n.purposes.values() if p.required]
    unknown = [c for c in codes if c not in n.purposes]
    if unknown:
        raise PurposeUnknown()
    return [n.purposes[c] for c in dict.fromkeys(codes)]


def give(actor, user_id: int, *, notice_version: str, purposes: list[str] | None = None,
         evidence: str | None = None, evidence_photo: int | None = None) -> list[Consent]:
    """Consent to ``purposes`` (None: accept the notice, which gives its required purposes) under the current
    notice. Someone acting for the person: a confirmed family member, or staff naming the signed document.
    Consenting again to the same version changes nothing; to a newer one replaces the older consent. Of two
    first consents at once one inserts; the other finds it on its second try (the live row is unique)."""
    try:
        return _give(actor, user_id, notice_version, purposes, evidence, evidence_photo)
    except sa.exc.IntegrityError as exc:
        if not is_unique_violation(exc):
            raise
        return _give(actor, user_id, notice_version, purposes, evidence, evidence_photo)


@transactional
def _give(actor, user_id: int, notice_version: str, purposes: list[str] | None, evidence: str | None,
          evidence_photo: int | None):
    channel = _check_may_act(actor, user_id)
    if evidence_photo is not None and channel == "self":
        raise ConsentPhotoNotBySelf()
    n = notice()
    if notice_version != n.version:
        raise NoticeOutdated(version=n.version)
    if channel == "staff" and evidence not in n.evidence:
        raise ConsentEvidenceMissing()
    wanted = _purposes(purposes)
    if channel == "self" and not all(p.by_self for p in wanted):
        raise ConsentNotBySelf()
    now = clock.now()
    # The person's live consents, locked: two consents at once for one person take turns.
    live = {c.purpose: c for c in db.session.execute(
        sa.select(Consent).where(Consent.user_id == user_id, Consent.withdrawn_at.is_(None)).with_for_update()
    ).scalars()}
    given = []
    for purpose in wanted:
        current = live.get(purpose.code)
        if current is not None and current.notice_version == n.version:
            given.append(current)
            continue
        if current is not None:
            current.withdrawn_at, current.withdrawn_by = now, actor.user_id
            db.session.flush()
        consent = Consent(user_id=user_id, purpose=purpose.code, notice_version=n.version, given_at=now,
                          given_by=actor.user_id, channel=channel, evidence=evidence if channel != "self" else None)
        db.session.add(consent)
        if evidence_photo is not None:
            db.session.flush()
            # One photo of the signed form proves every purpose it lists: the first new consent holds it.
            uploads.attach(actor.user_id, evidence_photo, f"consent:{consent.id}", field="evidence_photo",
                           documents=True)
            consent.evidence_upload_id, evidence_photo = evidence_photo, None
        given.append(consent)
        if channel != "self":
            audit.record(actor, "consent.given", "user", user_id, after={"purpose": purpose.code,
                                                                         "version": n.version, "evidence": evidence})
    db.session.flush()
    return given


@transactional
def withdraw(actor, user_id: int, purpose: str) -> Consent | None:
    """Withdraw a consent (the person, or someone acting for them). Withdrawing one not given changes
    nothing; a required purpose cannot be withdrawn on its own (closing the account does that)."""
    _check_may_act(actor, user_id)
    spec = notice().purposes.get(purpose)
    if spec is None:
        raise PurposeNotFound()
    if spec.required:
        raise ConsentRequiredForService()
    current = db.session.execute(sa.select(Consent).where(
        Consent.user_id == user_id, Consent.purpose == purpose, Consent.withdrawn_at.is_(None)).with_for_update()
    ).scalar_one_or_none()
    if current is None:
        return None
    current.withdrawn_at, current.withdrawn_by = clock.now(), actor.user_id
    if actor.user_id != user_id:
        audit.record(actor, "consent.withdrawn", "user", user_id, before={"purpose": purpose})
    return current


def withdraw_all(user_id: int, by: int) -> int:
    """Close every live consent (an account being closed), in the caller's transaction."""
    result = db.session.execute(sa.update(Consent).where(Consent.user_id == user_id, Consent.withdrawn_at.is_(None))
                                .values(withdrawn_at=clock.now(), withdrawn_by=by))
    return result.rowcount or 0
