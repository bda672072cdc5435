"""A copy of one's personal data (PIPL Art. 45): POST /api/v1/me/data-export, its zip, who may download it,
for how long, one copy at a time, and the scheduler preparing large ones."""
from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta

import pytest
import sqlalchemy as sa

from models.base import db
from models.notifications import Notification
from models.privacy import DataExport
from models.uploads import Upload
from service import clock, data_export, storage
from tests.api.test_cases import PHONE, people, place, report, to_closed, upload  # noqa: F401  (fixtures)
from tests.api.test_meals import book, elder, m  # noqa: F401  (m is the meal world fixture)
from tests.concurrency import run_at_once
from tests.factories import auth, give_consent, id_for, make_user

EXPORT = "/api/v1/me/data-export"


def unzip(data: bytes) -> dict:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def test_a_resident_downloads_everything_linli_holds_about_them(client, people):
    resident = people.resident
    number = id_for(clock.local_now().date().replace(year=1950))
    assert client.patch("/api/v1/me", json={"id_number": number}, headers=auth(resident)).status_code == 200
    give_consent(resident)
    photo = upload(client, resident)
    case = report(client, resident, photos=[photo]).json
    to_closed(client, people.staff, case["id"])
    followed = report(client, people.neighbour, description="路灯不亮").json
    assert client.post(f"/api/v1/cases/{followed['id']}/follow", headers=auth(resident)).status_code in (200, 201)
    assert client.get(f"/api/v1/residents/{resident.id}", headers=auth(people.staff)).status_code == 200

    made = client.post(EXPORT, headers=auth(resident))
    assert made.status_code == 201, made.json
    body = made.json
    assert body["status"] == "ready" and body["status_name"] == "可下载" and body["expires_at"].endswith("+08:00")
    assert body["counts"]["cases_reported"] == 1 and body["counts"]["photos"] == 1
    answer = client.get(body["download"], headers=auth(resident))
    assert answer.status_code == 200 and answer.mimetype == "application/zip"
    assert answer.headers["Content-Disposition"].startswith("attachment; filename=linli-data-")
    assert len(answer.data) == body["size"]
    files = unzip(answer.data)
    assert files["README.txt"].decode().startswith("邻里（Linli）个人信息副本")
    profile = json.loads(files["profile.json"])
    # Their own data in full: phone and ID number unmasked, with who verified what.
    assert profile["name"] == "王秀英" and profile["phone"] == PHONE and profile["id_number"] == number
    assert profile["verification"]["id_number"]["verified"] is False
    reported = json.loads(files["cases_reported.json"])
    assert [c["number"] for c in reported] == [case["number"]] and reported[0]["status"] == "closed"
    assert reported[0]["received_at"].endswith("+08:00")
    # Only what the reporter sees of the timeline: public events.
    assert reported[0]["timeline"] and all("note" in e for e in reported[0]["timeline"])
    assert [p["upload_id"] for p in reported[0]["photos"]] == [photo]
    # A reporter follows their own case too.
    assert [c["id"] for c in json.loads(files["cases_followed.json"])] == [followed["id"], case["id"]]
    assert [c["purpose"] for c in json.loads(files["consents.json"])] == ["sensitive_status"]
    # Who looked: the staff's view of the profile (newest first), and their views of the reporter while handling.
    access = [a["action"] for a in json.loads(files["data_access.json"])]
    assert access[0] == "resident.viewed" and set(access[1:]) == {"case.reporter_viewed"}
    stored = db.session.get(Upload, photo)
    assert files[f"photos/{photo}.jpg"] == storage.current().get(stored.storage_key)
    # The inbox says it is ready; nobody else can download it.
    notice = db.session.execute(sa.select(Notification).where(Notification.user_id == resident.id,
                                                              Notification.kind == "privacy.export_ready")).scalar_one()
    assert notice.link == body["download"]
    assert client.get(body["download"], headers=auth(people.neighbour)).status_code == 404
    assert client.get(body["download"], headers=auth(people.staff)).status_code == 404
    assert client.get(body["download"]).status_code == 401
    listed = client.get(EXPORT, headers=auth(resident)).json["items"]
    assert [e["id"] for e in listed] == [body["id"]]


def test_asked_again_within_the_hour_it_is_the_same_copy_and_it_expires_after_a_week(client):
    resident = make_user(name="孙")
    start = clock.now()
    clock.set_now(start)
    first = client.post(EXPORT, headers=auth(resident)).json
    clock.set_now(start + timedelta(minutes=59))
    assert client.post(EXPORT, headers=auth(resident)).json["id"] == first["id"]
    clock.set_now(start + timedelta(hours=1, seconds=1))
    second = client.post(EXPORT, headers=auth(resident)).json
    assert second["id"] != first["id"]
    key = db.session.get(DataExport, first["id"]).storage_key
    assert storage.current().exists(key)
    # Seven days after it was ready: refused (410), then the sweep deletes the file.
    clock.set_now(start + timedelta(days=7, seconds=-1))
    assert client.get(first["download"], headers=auth(resident)).status_code == 200
    clock.set_now(start + timedelta(days=7))
    gone = client.get(first["download"], headers=auth(resident))
    assert gone.status_code == 410 and gone.json["error"] == "privacy.export_not_found"
    assert data_export.sweep()["expired"] == 1
    db.session.expire_all()
    assert db.session.get(DataExport, first["id"]).status == "expired" and not storage.current().exists(key)
    assert client.get(EXPORT, headers=auth(resident)).json["items"][1]["status"] == "expired"


def test_a_copy_with_many_photos_is_prepared_by_the_scheduler(client, monkeypatch):
    resident = make_user(name="郑")
    upload(client, resident)
    monkeypatch.setattr(data_export, "_settings", data_export.Settings(7, 1, 0, 20))
    waiting = client.post(EXPORT, headers=auth(resident))
    assert waiting.status_code == 202 and waiting.json["status"] == "pending" and waiting.json["download"] is None
    early = client.get(f"{EXPORT}/{waiting.json['id']}/download", headers=auth(resident))
    assert early.status_code == 409 and early.json["error"] == "privacy.export_not_ready"
    assert client.post(EXPORT, headers=auth(resident)).json["id"] == waiting.json["id"]   # one at a time
    assert data_export.sweep() == {"built": 1, "failed": 0, "expired": 0}
    ready = client.get(EXPORT, headers=auth(resident)).json["items"][0]
    assert ready["status"] == "ready" and ready["counts"]["photos"] == 1
    assert len(unzip(client.get(ready["download"], headers=auth(resident)).data)) > 10


@pytest.mark.real_commits
def test_two_requests_at_once_make_one_copy(app, monkeypatch):
    resident = make_user(name="冯")
    headers = auth(resident)
    upload(app.test_client(), resident)
    db.session.remove()
    monkeypatch.setattr(data_export, "_settings", data_export.Settings(7, 1, 0, 20))  # one photo: stays pending
    results = run_at_once(app, [("POST", EXPORT, None, headers)] * 4)
    assert {status for status, _ in results} == {202}, results
    assert len({body["id"] for _, body in results}) == 1
    assert db.session.execute(sa.select(sa.func.count()).select_from(DataExport)).scalar() == 1


def test_the_copy_holds_the_meal_card_with_who_verified_it_and_the_bookings(client, m):
    diner = elder(m, 80)
    assert client.post(f"/api/v1/residents/{diner.id}/consents", headers=auth(m.staff), json={
        "notice_version": "2026.12", "purposes": ["sensitive_status"], "evidence": "paper_form"}).status_code == 200
    assert client.put(f"/api/v1/meal-cards/{diner.id}", json={"low_income": True, "diet_note": "少盐"},
                      headers=auth(m.staff)).status_code == 200
    booking = book(client, diner, m).json
    files = unzip(client.get(client.post(EXPORT, headers=auth(diner)).json["download"], headers=auth(diner)).data)
    card = json.loads(files["meal_card.json"])
    assert (card["low_income"], card["diet_note"], card["verified_by_name"]) == (True, "少盐", "李社工")
    assert [(b["code"], b["subsidy"]) for b in json.loads(files["meal_bookings.json"])] == [
        (booking["code"], booking["price"]["subsidy"])]
    consents = json.loads(files["consents.json"])
    assert [(c["purpose"], c["channel"], c["evidence"]) for c in consents] == [("sensitive_status", "staff",
                                                                                  "paper_form")]
