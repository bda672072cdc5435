"""Closing an account (PIPL Art. 47): DELETE /api/v1/me starts a closure cancellable for 7 days; the sweep then
erases or anonymises the person's data in one transaction, keeping what a law or a counted result needs."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from models.audit import AuditEntry
from models.base import db
from models.cases import Case, CaseEvent, CaseFollower
from models.meals import MealBooking, MealCard, MealSlot
from models.notifications import Notification
from models.people import FamilyLink, ResidentProfile, User, WeChatAccount
from models.places import Owner
from models.privacy import AccountClosure, Consent
from models.uploads import Upload
from models.voting import Ballot, Voter
from service import account_closure, clock
from service.clock import SHANGHAI
from tests.api import test_cases as cases
from tests.api.test_meals import book, elder, m  # noqa: F401  (m is the meal world fixture)
from tests.api.test_voting import finish, start, vote
from tests.concurrency import run_at_once
from tests.factories import auth, give_consent, make_user, make_world
from tests.factories.meals import make_meal_card, make_meal_slot
from tests.factories.voting import make_voting_estate


def test_a_closure_waits_a_week_can_be_cancelled_and_is_asked_for_once(client):
    resident = make_user(name="孙")
    start_at = datetime(2026, 12, 1, 9, tzinfo=SHANGHAI)
    clock.set_now(start_at)
    first = client.delete("/api/v1/me", headers=auth(resident))
    assert first.status_code == 202
    body = first.json
    assert body["status"] == "pending" and body["status_name"] == "冷静期中（可撤销）"
    assert body["erase_at"] == "2026-12-08T09:00:00+08:00" and body["kept"]
    assert client.delete("/api/v1/me", headers=auth(resident)).json["id"] == body["id"]
    assert client.get("/api/v1/me/closure", headers=auth(resident)).json["id"] == body["id"]
    inbox = db.session.execute(sa.select(Notification.kind).where(Notification.user_id == resident.id)).scalars()
    assert list(inbox) == ["privacy.closure_requested"]
    # Cancelled within the week, nothing happens; the account still works.
    clock.set_now(start_at + timedelta(days=7, seconds=-1))
    cancelled = client.delete("/api/v1/me/closure", headers=auth(resident))
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
    assert client.delete("/api/v1/me/closure", headers=auth(resident)).status_code == 404
    assert account_closure.sweep(start_at + timedelta(days=30)) == {"closed": 0, "failed": 0}
    assert client.get("/api/v1/me", headers=auth(resident)).status_code == 200
    # Asked again: a new week. At its last second it can still be cancelled; at its end it cannot.
    again = client.delete("/api/v1/me", headers=auth(resident)).json
    assert again["id"] != body["id"] and again["erase_at"] == "2026-12-15T08:59:59+08:00"
    clock.set_now(start_at + timedelta(days=14, seconds=-1))
    late = client.delete("/api/v1/me/closure", headers=auth(resident))
    assert late.status_code == 409 and late.json["error"] == "privacy.closure_deadline_passed"
    assert client.get("/api/v1/me/closure").status_code == 401


def test_the_sweep_erases_and_anonymises_and_keeps_the_counted_ballot_and_the_case(client):
    world = make_world()
    staff = make_user(name="李", roles=[("staff", "neighbourhood", world.nb.id)])
    checker = make_user(name="陈", roles=[("staff", "neighbourhood", world.nb.id)])
    e = make_voting_estate(world, [("1", "1", "50.00", (t,), True) for t in "ab"])
    owner, neighbour = e["users"]["a"], e["users"]["b"]
    if db.session.get(ResidentProfile, owner.id) is None:
        db.session.add(ResidentProfile(user_id=owner.id, name="王秀英"))
    db.session.get(ResidentProfile, owner.id).neighbourhood_id = world.nb.id
    son = make_user(name="王小明")
    db.session.add_all([WeChatAccount(user_id=owner.id, appid="wxapp", openid="o-owner"),
                        FamilyLink(proxy_user_id=son.id, elder_user_id=owner.id, relation="child",
                                   status="confirmed")])
    db.session.commit()
    give_consent(owner)
    give_consent(owner, "service")
    # The owner votes; the motion closes and counts.
    motion_id = start(client, staff, e["estate"].id)
    assert vote(client, owner, motion_id, "yes").status_code == 201
    assert vote(client, neighbour, motion_id, "no").status_code == 201
    result = finish(client, staff, motion_id)
    # A case they reported (closed), one they follow, a photo on it and one attached to nothing.
    world.nb.lat, world.nb.lng = cases.HERE["lat"], cases.HERE["lng"]
    db.session.commit()
    photo, loose = cases.upload(client, owner), cases.upload(client, owner)
    case = cases.report(client, owner, photos=[photo], description="楼道灯坏了，王秀英 13812345678").json
    cases.act(client, staff, case["id"], "comment", note="已电话告知王秀英阿姨，明天上午维修", public=True)
    cases.to_closed(client, staff, case["id"])
    other = cases.report(client, neighbour, description="垃圾未清运").json
    client.post(f"/api/v1/cases/{other['id']}/follow", headers=auth(owner))

    owner_headers = auth(owner)
    assert client.delete("/api/v1/me", headers=owner_headers).status_code == 202
    clock.set_now(clock.now() + timedelta(days=7))
    assert account_closure.sweep() == {"closed": 1, "failed": 0}
    db.session.expire_all()

    # Signed out for good; nothing personal is left on the account.
    assert client.get("/api/v1/me", headers=owner_headers).status_code == 401
    user = db.session.get(User, owner.id)
    assert (user.username, user.nickname, user.is_active) == (None, None, False)
    assert db.session.get(ResidentProfile, owner.id) is None
    assert db.session.execute(sa.select(WeChatAccount).where(WeChatAccount.user_id == owner.id)).first() is None
    assert db.session.execute(sa.select(FamilyLink.status).where(FamilyLink.elder_user_id == owner.id)
                              ).scalar_one() == "revoked"
    assert db.session.execute(sa.select(Consent).where(Consent.user_id == owner.id,
                                                       Consent.withdrawn_at.is_(None))).first() is None
    assert db.session.execute(sa.select(Notification).where(Notification.user_id == owner.id)).first() is None
    assert db.session.execute(sa.select(Owner.user_id).where(Owner.id == e["owners"]["a"].id)).scalar() is None
    assert db.session.get(Upload, loose) is None and db.session.get(Upload, photo) is not None
    # The case stays, its reporter anonymised; the follow ends.
    kept_case = db.session.get(Case, case["id"])
    assert kept_case.reporter_user_id is None and kept_case.anonymous and not kept_case.contact_consent
    assert kept_case.description == "楼道灯坏了，*** ***" and kept_case.status == "closed"
    notes = db.session.execute(sa.select(CaseEvent.note).where(CaseEvent.case_id == case["id"],
                                                               CaseEvent.action == "comment")).scalars().all()
    assert notes == ["已电话告知***阿姨，明天上午维修"]
    assert db.session.execute(sa.select(CaseFollower).where(CaseFollower.user_id == owner.id)).first() is None
    # The counted ballot keeps its unit and weight; the result and the evidence chain are unchanged.
    ballot = db.session.execute(sa.select(Ballot).where(Ballot.motion_id == motion_id, Ballot.choice == "yes")
                                ).scalar_one()
    assert ballot.status == "counted" and ballot.cast_by == owner.id   # the account is now only a number
    assert db.session.execute(sa.select(Voter.user_id).where(Voter.id == ballot.voter_id)).scalar() is None
    assert client.get(f"/api/v1/motions/{motion_id}/result", headers=auth(staff)).json == result
    assert client.get(f"/api/v1/motions/{motion_id}/chain", headers=auth(staff)).json["valid"] is True
    # What was done is on the closure and in the audit log.
    closure = db.session.execute(sa.select(AccountClosure).where(AccountClosure.user_id == owner.id)).scalar_one()
    assert closure.status == "done" and closure.summary["changed"]["case.reporter_anonymised"] == 1
    assert closure.summary["changed"]["ballot.kept_pseudonymous"] == 1
    assert closure.summary["changed"]["family_link.ended"] == 1 and closure.summary["kept"]
    entry = db.session.execute(sa.select(AuditEntry).where(AuditEntry.action == "account.closed")).scalar_one()
    assert entry.subject_user_id == owner.id and entry.after["resident_profile.deleted"] == 1
    # Run again: nothing more happens. Signing in with WeChat again would make a new, empty account.
    assert account_closure.sweep() == {"closed": 0, "failed": 0}
    assert checker.id != owner.id


def test_meals_to_come_are_cancelled_and_eaten_ones_stay_pseudonymised(client, m, monkeypatch):
    monkeypatch.setattr(account_closure, "_cooling_off", 1)
    diner = elder(m, 80)
    make_meal_card(diner, low_income=True, diet_note="少盐")
    eaten = book(client, diner, m).json
    later_slot = make_meal_slot(m.site, date(2026, 11, 28))
    clock.set_now(datetime(2026, 11, 22, 10, tzinfo=SHANGHAI))
    coming = book(client, diner, m, slot_id=later_slot.id, set_meal_id=later_slot.set_meals[0].id).json
    assert coming["status"] == "confirmed"
    clock.set_now(datetime(2026, 11, 23, 11, 20, tzinfo=SHANGHAI))
    assert client.post(f"/api/v1/meal-sites/{m.site.id}/serve", json={"code": eaten["code"]},
                       headers=auth(m.operator)).status_code == 200
    clock.set_now(datetime(2026, 11, 23, 14, tzinfo=SHANGHAI))
    assert client.delete("/api/v1/me", headers=auth(diner)).json["erase_at"] == "2026-11-24T14:00:00+08:00"
    seats = db.session.get(MealSlot, later_slot.id).booked_dine_in
    assert account_closure.sweep(datetime(2026, 11, 24, 14, tzinfo=SHANGHAI)) == {"closed": 1, "failed": 0}
    db.session.expire_all()
    assert db.session.get(MealBooking, coming["id"]).status == "cancelled"
    assert db.session.get(MealBooking, coming["id"]).cancel_reason == "账号注销"
    assert db.session.get(MealSlot, later_slot.id).booked_dine_in == seats - 1
    served = db.session.get(MealBooking, eaten["id"])
    assert served.status == "served" and served.subsidy > 0 and served.diet_note is None and served.address is None
    assert served.diner_user_id == diner.id and db.session.get(MealCard, diner.id) is None


def test_a_failing_closure_changes_nothing_and_is_tried_again(client, monkeypatch):
    resident = make_user(name="钱")
    cases_world = make_world()
    cases_world.nb.lat, cases_world.nb.lng = cases.HERE["lat"], cases.HERE["lng"]
    db.session.commit()
    case = cases.report(client, resident).json
    assert client.delete("/api/v1/me", headers=auth(resident)).status_code == 202
    from service.voting import personal_data as voting_part

    def broken(user_id, now):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(voting_part, "erase", broken)
    later = clock.now() + timedelta(days=8)
    assert account_closure.sweep(later) == {"closed": 0, "failed": 1}
    db.session.expire_all()
    # Nothing half-erased: the case still has its reporter, the profile is there, the closure is pending.
    assert db.session.get(Case, case["id"]).reporter_user_id == resident.id
    assert db.session.get(ResidentProfile, resident.id) is not None
    assert db.session.execute(sa.select(AccountClosure.status)).scalar_one() == "pending"
    monkeypatch.undo()
    assert account_closure.sweep(later) == {"closed": 1, "failed": 0}


@pytest.mark.real_commits
def test_two_closures_asked_at_once_are_one(app):
    resident = make_user(name="冯")
    headers = auth(resident)
    db.session.remove()
    results = run_at_once(app, [("DELETE", "/api/v1/me", None, headers)] * 4)
    assert {status for status, _ in results} == {202}, results
    assert len({body["id"] for _, body in results}) == 1
    assert db.session.execute(sa.select(sa.func.count()).select_from(AccountClosure)).scalar() == 1
