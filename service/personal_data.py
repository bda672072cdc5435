"""What Linli holds about one person, part by part: the platform's own part (here) and each domain's
(``service/<name>/personal_data.py``, found through the registry). Every part has the same two functions:

``export(user_id) -> dict``
    the documents of a copy of the person's data (PIPL Art. 45): document name → rows, plain values
    (service/data_export.py writes them as JSON into the zip).
``erase(user_id, now) -> dict``
    what closing the account does to the part's rows (PIPL Art. 47), in the caller's transaction:
    ``"<table>.<what was done>"`` → rows. Rows a law or a counted result needs stay, without what identifies
    the person; ``KEPT`` says which and why, ``[中文, English]`` each.

The user row itself stays as a pseudonym with nothing personal left on it (no name, username, WeChat
identity or profile): records that must stay (a ballot in a motion's hash chain, a served meal in a subsidy
statement) keep pointing at it, and nothing leads from it back to the person.
"""
from __future__ import annotations

import importlib
from datetime import datetime
from types import ModuleType, SimpleNamespace

import sqlalchemy as sa

from models.base import db
from models.notifications import Delivery, Notification, SubscriptionGrant
from models.people import FamilyLink, ResidentProfile, RoleAssignment, UnitClaim, User, WeChatAccount
from models.places import Neighbourhood, Owner
from models.privacy import Consent, DataExport
from models.second_factor import RecoveryCode, SecondFactor
from models.system import IdempotencyRecord
from models.uploads import Upload
from service import audit, consent, privacy, registry

# Rows of one document in a copy, at most (a person with more gets the newest).
MAX_ROWS = 10_000

KEPT = [
    ("审计日志：依法保存（网络安全法第二十一条），按保存期限表归档", "The audit log: kept by law (Cybersecurity Law Art. 21), "
     "archived by the retention table"),
    ("业主名册中的业主记录：属于物业登记信息，只解除与账号的关联", "Your entry in the owners register: it is the estate's "
     "register, only its link to the account ends"),
    ("已附在诉求或表决上的照片：作为办理和计票的证据保留，不再关联到您", "Photos attached to a case or a ballot: kept as "
     "the evidence of its handling or count, no longer linked to you"),
]


def parts() -> list[tuple[str, ModuleType]]:
    """(name, module) of every part: the platform's, then each domain's that holds personal data."""
    found = [("platform", importlib.import_module(__name__))]
    for domain in registry.domains():
        module = domain.module("personal_data")
        if module is not None:
            found.append((domain.name, module))
    return found


def rows(statement, params: dict | None = None) -> list[dict]:
    return [dict(r) for r in db.session.execute(statement, params or {}).mappings()]


# --- the copy -------------------------------------------------------------------------------------------------------

def export(user_id: int) -> dict:
    user = db.session.get(User, user_id)
    profile = db.session.get(ResidentProfile, user_id)
    documents = {
        "account": {"id": user.id, "username": user.username, "nickname": user.nickname, "created_at": user.created_at,
                    "last_login_at": user.last_login_at,
                    "wechat": rows(sa.select(WeChatAccount.appid, WeChatAccount.openid, WeChatAccount.unionid,
                                             WeChatAccount.created_at).where(WeChatAccount.user_id == user_id)),
                    "roles": rows(sa.select(RoleAssignment.role, RoleAssignment.scope_type, RoleAssignment.scope_id,
                                            RoleAssignment.title, RoleAssignment.created_at)
                                  .where(RoleAssignment.user_id == user_id)),
                    "second_factor": rows(sa.select(SecondFactor.confirmed_at, SecondFactor.created_at)
                                          .where(SecondFactor.user_id == user_id))},
        "profile": _profile(profile) if profile is not None else None,
        "family_links": rows(sa.select(FamilyLink.id, FamilyLink.proxy_user_id, FamilyLink.elder_user_id,
                                       FamilyLink.relation, FamilyLink.status, FamilyLink.created_at,
                                       FamilyLink.decided_at, FamilyLink.reason)
                             .where(sa.or_(FamilyLink.proxy_user_id == user_id, FamilyLink.elder_user_id == user_id))
                             .order_by(FamilyLink.id)),
        "unit_claims": rows(sa.select(UnitClaim.id, UnitClaim.unit_id, UnitClaim.certificate_no, UnitClaim.owner_name,
                                      UnitClaim.status, UnitClaim.created_at, UnitClaim.decided_at, UnitClaim.reason)
                            .where(UnitClaim.user_id == user_id).order_by(UnitClaim.id)),
        "owners_register": rows(sa.select(Owner.id, Owner.kind, Owner.name).where(Owner.user_id == user_id)),
        "consents": rows(sa.select(Consent.purpose, Consent.notice_version, Consent.given_at, Consent.channel,
                                   Consent.evidence, Consent.withdrawn_at)
                         .where(Consent.user_id == user_id).order_by(Consent.id)),
        "notifications": rows(sa.select(Notification.id, Notification.kind, Notification.title, Notification.body,
                                        Notification.link, Notification.created_at, Notification.read_at)
                              .where(Notification.user_id == user_id).order_by(Notification.id.desc())
                              .limit(MAX_ROWS)),
        "uploads": rows(sa.select(Upload.id, Upload.content_type, Upload.width, Upload.height, Upload.size,
                                  Upload.sha256, Upload.attached_to, Upload.created_at)
                        .where(Upload.owner_user_id == user_id).order_by(Upload.id).limit(MAX_ROWS)),
        "data_access": audit.for_subject(SimpleNamespace(user_id=user_id), page=1, page_size=MAX_ROWS)[0],
    }
    return documents


def _profile(p: ResidentProfile) -> dict:
    """The profile in full (it is the person's own): phone and ID number decrypted; what is verified, by whom."""
    names = dict(db.session.execute(sa.select(ResidentProfile.user_id, ResidentProfile.name).where(
        ResidentProfile.user_id.in_([i for i in (p.id_verified_by, p.birth_date_verified_by,
                                                 p.residence_verified_by) if i is not None]))).all())
    neighbourhoods = dict(db.session.execute(sa.select(Neighbourhood.id, Neighbourhood.name).where(
        Neighbourhood.id.in_([i for i in (p.neighbourhood_id, p.declared_neighbourhood_id) if i is not None]))).all())

    def check(by, at):
        return {"verified": at is not None, "by_user_id": by, "by_name": names.get(by), "at": at}

    return {"name": p.name, "phone": privacy.decrypt(p.phone_enc), "phone_verified": p.phone_verified,
            "id_number": privacy.decrypt(p.id_number_enc), "birth_date": p.birth_date,
            "neighbourhood_id": p.neighbourhood_id, "neighbourhood_name": neighbourhoods.get(p.neighbourhood_id),
            "unit_id": p.unit_id, "address": p.address, "declared_birth_date": p.declared_birth_date,
            "declared_neighbourhood_id": p.declared_neighbourhood_id,
            "declared_neighbourhood_name": neighbourhoods.get(p.declared_neighbourhood_id),
            "verification": {"id_number": check(p.id_verified_by, p.id_verified_at),
                             "birth_date": check(p.birth_date_verified_by, p.birth_date_verified_at),
                             "residence": check(p.residence_verified_by, p.residence_verified_at)},
            "created_at": p.created_at, "updated_at": p.updated_at}


# --- closing the account --------------------------------------------------------------------------------------------

def _count(result) -> int:
    return result.rowcount or 0


def erase(user_id: int, now: datetime) -> dict:
    """The platform's part of a closure; the user row last (domains ran before)."""
    done = {}
    done["resident_profile.deleted"] = _count(db.session.execute(
        sa.delete(ResidentProfile).where(ResidentProfile.user_id == user_id)))
    done["wechat_account.deleted"] = _count(db.session.execute(
        sa.delete(WeChatAccount).where(WeChatAccount.user_id == user_id)))
    done["role_assignment.deleted"] = _count(db.session.execute(
        sa.delete(RoleAssignment).where(RoleAssignment.user_id == user_id)))
    done["family_link.ended"] = _count(db.session.execute(
        sa.update(FamilyLink).where(sa.or_(FamilyLink.proxy_user_id == user_id, FamilyLink.elder_user_id == user_id),
                                    FamilyLink.status.in_(("pending", "confirmed")))
        .values(status="revoked", decided_at=now, reason="账号注销")))
    done["unit_claim.anonymised"] = _count(db.session.execute(
        sa.update(UnitClaim).where(UnitClaim.user_id == user_id)
        .values(certificate_no="—", owner_name="—",
                status=sa.case((UnitClaim.status == "pending", "rejected"), else_=UnitClaim.status),
                reason=sa.case((UnitClaim.status == "pending", "账号注销"), else_=UnitClaim.reason))))
    done["owner.unlinked"] = _count(db.session.execute(
        sa.update(Owner).where(Owner.user_id == user_id).values(user_id=None)))
    done["consent.withdrawn"] = consent.withdraw_all(user_id, user_id)
    inbox = sa.select(Notification.id).where(Notification.user_id == user_id)
    db.session.execute(sa.delete(Delivery).where(Delivery.notification_id.in_(inbox)))
    done["notification.deleted"] = _count(db.session.execute(
        sa.delete(Notification).where(Notification.user_id == user_id)))
    done["subscription_grant.deleted"] = _count(db.session.execute(
        sa.delete(SubscriptionGrant).where(SubscriptionGrant.user_id == user_id)))
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    done["second_factor.deleted"] = _count(db.session.execute(
        sa.delete(SecondFactor).where(SecondFactor.user_id == user_id)))
    done["idempotency_record.deleted"] = _count(db.session.execute(
        sa.delete(IdempotencyRecord).where(IdempotencyRecord.scope == f"user:{user_id}")))
    done["upload.deleted"] = _delete_unattached_uploads(user_id)
    done["data_export.expired"] = _expire_exports(user_id, now)
    done["user.anonymised"] = _count(db.session.execute(
        sa.update(User).where(User.id == user_id)
        .values(username=None, nickname=None, is_active=False, last_login_at=None, updated_at=now)))
    return done


def _delete_unattached_uploads(user_id: int) -> int:
    """Uploads attached to nothing are deleted; their objects, which no row names any more, go with the daily
    orphan sweep (service.uploads.purge_orphans). Attached ones stay as evidence of what they are on."""
    return _count(db.session.execute(sa.delete(Upload).where(Upload.owner_user_id == user_id,
                                                             Upload.attached_to.is_(None))))


def _expire_exports(user_id: int, now: datetime) -> int:
    """Copies not downloaded yet expire now: refused at once, their files removed by the next export sweep."""
    return _count(db.session.execute(
        sa.update(DataExport).where(DataExport.user_id == user_id, DataExport.status.in_(("pending", "ready")))
        .values(status=sa.case((DataExport.status == "pending", "failed"), else_=DataExport.status),
                expires_at=now)))
