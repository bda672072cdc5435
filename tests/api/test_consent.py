"""The privacy notice and consent per purpose (PIPL Arts. 13–14, 17, 29): accepting the notice, a separate
consent before sensitive statuses are recorded, someone acting for an elder, and a withdrawal that stops the
subsidy the statuses gave (and says so)."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from models.audit import AuditEntry
from models.base import db
from models.people import FamilyLink
from models.privacy import Consent
from service import clock, consent
from tests.api.test_meals import DAY, book, elder, m  # noqa: F401  (m is the meal world fixture)
from tests.concurrency import run_at_once
from tests.factories import auth, make_user
from tests.factories.meals import make_meal_card

VERSION = "2026.12"


def live(user_id: int) -> list[tuple[str, str]]:
    return sorted(db.session.execute(sa.select(Consent.purpose, Consent.channel).where(
        Consent.user_id == user_id, Consent.withdrawn_at.is_(None))).all())


def test_the_notice_is_public_in_both_languages(client):
    zh = client.get("/api/v1/privacy-notice")
    assert zh.status_code == 200
    assert zh.json["version"] == consent.notice().version == VERSION and zh.json["published"] == "2026-12-01"
    assert zh.json["title"] == "邻里个人信息保护告知书" and "敏感个人信息" in zh.json["sections"][1]
    purposes = {p["code"]: p for p in zh.json["purposes"]}
    assert purposes["service"]["required"] is True and purposes["service"]["sensitive"] is False
    assert purposes["sensitive_status"]["sensitive"] is True and purposes["sensitive_status"]["required"] is False
    en = client.get("/api/v1/privacy-notice", headers={"Accept-Language": "en"}).json
    assert en["title"] == "Linli privacy notice" and en["purposes"][0]["name"] == "Community services"


def test_a_resident_accepts_the_notice_once_and_cannot_withdraw_the_service_alone(client):
    resident = make_user(name="周")
    first = client.get("/api/v1/me/consents", headers=auth(resident)).json
    assert (first["needs_acceptance"], first["accepted_version"], first["history"]) == (True, None, [])
    outdated = client.post("/api/v1/me/consents", json={"notice_version": "2025.1"}, headers=auth(resident))
    assert outdated.status_code == 409 and outdated.json["error"] == "privacy.notice_outdated"
    assert VERSION in outdated.json["message"]
    accepted = client.post("/api/v1/me/consents", json={"notice_version": VERSION}, headers=auth(resident))
    assert accepted.status_code == 200
    body = accepted.json
    assert (body["needs_acceptance"], body["accepted_version"]) == (False, VERSION)
    service = next(p for p in body["purposes"] if p["code"] == "service")
    assert service["given"] is True and service["consent"]["channel"] == "self"
    assert service["consent"]["channel_name"] == "本人" and service["consent"]["given_at"].endswith("+08:00")
    # Again: nothing new.
    client.post("/api/v1/me/consents", json={"notice_version": VERSION}, headers=auth(resident))
    assert db.session.execute(sa.select(sa.func.count()).select_from(Consent)).scalar() == 1
    refused = client.delete("/api/v1/me/consents/service", headers=auth(resident))
    assert refused.status_code == 409 and refused.json["error"] == "privacy.consent_required_for_service"
    assert client.delete("/api/v1/me/consents/nonsense", headers=auth(resident)).status_code == 404
    unknown = client.post("/api/v1/me/consents", json={"notice_version": VERSION, "purposes": ["marketing"]},
                          headers=auth(resident))
    assert unknown.status_code == 422 and unknown.json["error"] == "privacy.purpose_unknown"
    assert client.get("/api/v1/me/consents").status_code == 401
    assert live(resident.id) == [("service", "self")]


def test_staff_record_a_signed_consent_and_a_relative_may_act_but_others_may_not(client, m):
    diner = elder(m, 82)
    son = make_user(name="王小明")
    db.session.add(FamilyLink(proxy_user_id=son.id, elder_user_id=diner.id, relation="child", status="confirmed"))
    db.session.commit()
    url = f"/api/v1/residents/{diner.id}/consents"
    body = {"notice_version": VERSION, "purposes": ["sensitive_status"]}
    # Staff must name what the resident signed; staff of another neighbourhood and strangers see nothing.
    missing = client.post(url, json=body, headers=auth(m.staff))
    assert missing.status_code == 422 and missing.json["error"] == "privacy.consent_evidence_missing"
    assert client.post(url, json={**body, "evidence": "paper_form"}, headers=auth(m.far_staff)).status_code == 404
    assert client.post(url, json=body, headers=auth(make_user(name="路人"))).status_code == 404
    given = client.post(url, json={**body, "evidence": "paper_form"}, headers=auth(m.staff))
    assert given.status_code == 200
    state = next(p for p in given.json["purposes"] if p["code"] == "sensitive_status")
    assert state["consent"]["channel"] == "staff" and state["consent"]["evidence_name"] == "书面同意书"
    entry = db.session.execute(sa.select(AuditEntry).where(AuditEntry.action == "consent.given")).scalar_one()
    assert (entry.subject_user_id, entry.actor_user_id) == (diner.id, m.staff.id)
    # Staff reading the elder's consents is audited; the elder sees both; the son withdraws it for them (audited).
    assert client.get(url, headers=auth(m.staff)).status_code == 200
    seen = client.get("/api/v1/me/data-access", headers=auth(diner)).json["items"]
    assert [i["action"] for i in seen] == ["consents.viewed", "consent.given"]
    assert seen[1]["action_name"] == "代为登记同意"
    withdrawn = client.delete(f"{url}/sensitive_status", headers=auth(son))
    assert withdrawn.status_code == 200
    assert next(p for p in withdrawn.json["purposes"] if p["code"] == "sensitive_status")["given"] is False
    assert [h["channel"] for h in withdrawn.json["history"]] == ["staff"]
    assert withdrawn.json["history"][0]["withdrawn_at"] is not None
    assert db.session.execute(sa.select(sa.func.count()).select_from(AuditEntry)
                              .where(AuditEntry.action == "consent.withdrawn")).scalar() == 1
    # Withdrawing what is not given changes nothing.
    assert client.delete(f"{url}/sensitive_status", headers=auth(son)).status_code == 200
    assert live(diner.id) == []


def test_a_withdrawn_consent_stops_the_subsidy_and_the_prices_say_so(client, m):
    diner = elder(m, 80, 0)
    make_meal_card(diner, low_income=True, lives_alone=True, disabled=True)
    slots = f"/api/v1/meal-sites/{m.site.id}/slots?date={DAY}"
    before = client.get(slots, headers=auth(diner)).json
    price = before["items"][0]["set_meals"][0]["price"]
    assert [s["code"] for s in price["statuses"]] == ["low_income", "lives_alone", "disabled"]
    assert price["statuses_withheld"] is False and before["statuses_message"] is None

    assert client.delete("/api/v1/me/consents/sensitive_status", headers=auth(diner)).status_code == 200
    after = client.get(slots, headers=auth(diner)).json
    price = after["items"][0]["set_meals"][0]["price"]
    assert price["statuses"] == [] and price["statuses_withheld"] is True
    assert after["statuses_message"].startswith("用餐人已撤回敏感个人信息的单独同意")
    english = client.get(slots, headers=auth(diner, **{"Accept-Language": "en"})).json
    assert english["statuses_message"].startswith("The diner withdrew their consent")
    booking = book(client, diner, m).json
    # 80+ tier only: 4.00 off 15.00, no status subsidy.
    assert (booking["price"]["subsidy"], booking["price"]["statuses_withheld"]) == ("4.00", True)
    assert booking["price"]["statuses"] == []
    # Staff cannot record a new sensitive status meanwhile; clearing one needs no consent.
    refused = client.put(f"/api/v1/meal-cards/{diner.id}", json={"disabled": True}, headers=auth(m.staff))
    assert refused.status_code == 409 and refused.json["error"] == "privacy.sensitive_consent_missing"
    assert client.put(f"/api/v1/meal-cards/{diner.id}", json={"disabled": False},
                      headers=auth(m.staff)).status_code == 200

    # Consenting again restores what is still recorded.
    assert client.post("/api/v1/me/consents", json={"notice_version": VERSION, "purposes": ["sensitive_status"]},
                       headers=auth(diner)).status_code == 200
    again = client.get(slots, headers=auth(diner)).json["items"][0]["set_meals"][0]["price"]
    assert [s["code"] for s in again["statuses"]] == ["low_income", "lives_alone"] and not again["statuses_withheld"]


@pytest.mark.real_commits
def test_two_consents_at_once_leave_one_live(app):
    resident = make_user(name="钱")
    body, headers = {"notice_version": VERSION, "purposes": ["sensitive_status"]}, auth(resident)
    db.session.remove()
    results = run_at_once(app, [("/api/v1/me/consents", body, headers)] * 4)
    assert {status for status, _ in results} == {200}, results
    assert live(resident.id) == [("sensitive_status", "self")]


def test_a_childs_birth_date_is_recorded_only_with_a_guardians_consent(client, m):
    """PIPL Arts. 28, 31: under 14 needs the guardian. The 14th birthday today is old enough; a day short is not."""
    today = clock.local_now().date()
    fourteen = today.replace(year=today.year - 14)
    child = make_user(name="小明", neighbourhood_id=m.world.nb.id)
    refused = client.patch("/api/v1/me", json={"birth_date": (fourteen + timedelta(days=1)).isoformat()},
                           headers=auth(child))
    assert refused.status_code == 409 and refused.json["error"] == "privacy.minor_needs_guardian_consent"
    assert client.patch("/api/v1/me", json={"birth_date": fourteen.isoformat()},
                        headers=auth(child)).status_code == 200
    # Staff cannot verify a younger birth date either, and the child cannot consent for themself.
    verify = {"documents": ["household_register"], "birth_date": (fourteen + timedelta(days=1)).isoformat()}
    url = f"/api/v1/residents/{child.id}/verification"
    assert client.post(url, json=verify, headers=auth(m.staff)).status_code == 409
    self_given = client.post("/api/v1/me/consents", json={"notice_version": VERSION, "purposes": ["minor_guardian"]},
                             headers=auth(child))
    assert self_given.status_code == 403 and self_given.json["error"] == "privacy.consent_not_by_self"
    # The guardian signs the form at the 居委会; staff record it; then the verification goes through.
    assert client.post(f"/api/v1/residents/{child.id}/consents", headers=auth(m.staff), json={
        "notice_version": VERSION, "purposes": ["minor_guardian"], "evidence": "paper_form"}).status_code == 200
    assert client.post(url, json=verify, headers=auth(m.staff)).status_code == 200


def test_staff_keep_the_photographed_form_with_a_consent_given_on_paper(client):
    from models.uploads import Upload
    from tests.api.test_cases import upload
    from tests.factories import make_world

    w = make_world()
    elder_user = make_user(name="李秀英", neighbourhood_id=w.nb.id)
    staff = make_user(name="张主任", roles=[("staff", "neighbourhood", w.nb.id)])
    stranger = make_user(name="路人", neighbourhood_id=w.nb.id)
    photo = upload(client, staff)
    url = f"/api/v1/residents/{elder_user.id}/consents"
    body = {"notice_version": VERSION, "purposes": ["care", "sensitive_status"], "evidence": "paper_form",
            "evidence_photo": photo}
    given = client.post(url, headers=auth(staff), json=body)
    assert given.status_code == 200, given.json
    rows = {p["code"]: p["consent"] for p in given.json["purposes"] if p["consent"]}
    # One photo of the signed form, kept with the first consent it proves.
    assert [rows[c]["evidence_photo"] for c in ("care", "sensitive_status")].count(f"/api/v1/uploads/{photo}") == 1
    assert db.session.get(Upload, photo).attached_to.startswith("consent:")
    # The elder and staff covering them see it; nobody else does.
    assert client.get(f"/api/v1/uploads/{photo}", headers=auth(elder_user)).status_code == 200
    assert client.get(f"/api/v1/uploads/{photo}", headers=auth(staff)).status_code == 200
    assert client.get(f"/api/v1/uploads/{photo}", headers=auth(stranger)).status_code == 404
    # The form cannot be used twice, and someone consenting in the app attaches no form.
    again = client.post(url, headers=auth(staff), json={**body, "purposes": ["minor_guardian"]})
    assert again.status_code == 422 and again.json["errors"].get("evidence_photo")
    own = upload(client, elder_user)
    mine = client.post("/api/v1/me/consents", headers=auth(elder_user),
                       json={"notice_version": VERSION, "purposes": ["care"], "evidence_photo": own})
    assert mine.status_code == 422 and mine.json["error"] == "privacy.consent_photo_not_by_self"
