"""A staff verification and a resident's edit of the same profile, from real threads: the edit waits for
the verification (row lock on PostgreSQL, the write gate on SQLite), so a number typed meanwhile is never
left marked as verified."""
from __future__ import annotations

import threading
from datetime import date

import pytest

from models.base import db
from models.people import ResidentProfile
from service import people, privacy
from tests.factories import auth, id_for, make_user, make_world


@pytest.mark.real_commits
def test_an_id_number_typed_during_a_verification_is_not_left_verified(app, monkeypatch):
    world = make_world()
    staff = make_user(name="李", roles=[("staff", "neighbourhood", world.nb.id)])
    resident = make_user(name="钱阿公")
    checked, typed = id_for(date(1946, 1, 1)), id_for(date(1946, 1, 1), sequence=125)
    client = app.test_client()
    assert client.patch("/api/v1/me", json={"id_number": checked, "neighbourhood_id": world.nb.id},
                        headers=auth(resident)).status_code == 200
    resident_id, staff_headers, resident_headers = resident.id, auth(staff), auth(resident)
    db.session.remove()

    reached, release = threading.Event(), threading.Event()
    real = people._checked_id_number

    def pausing(raw: str) -> str:
        number = real(raw)
        if threading.current_thread().name == "staff":   # the verification has read the profile: hold it here
            reached.set()
            release.wait(20)
        return number

    monkeypatch.setattr(people, "_checked_id_number", pausing)
    statuses = {}

    def send(method, path, body, headers):
        with app.app_context():
            try:
                statuses[threading.current_thread().name] = app.test_client().open(
                    path, method=method, json=body, headers=headers).status_code
            finally:
                db.session.remove()

    verification = threading.Thread(name="staff", target=send, args=(
        "POST", f"/api/v1/residents/{resident_id}/verification", {"documents": ["id_card"], "id_number": checked},
        staff_headers))
    edit = threading.Thread(name="resident", target=send, args=(
        "PATCH", "/api/v1/me", {"id_number": typed}, resident_headers))
    verification.start()
    assert reached.wait(20)
    edit.start()
    edit.join(1.0)   # it waits for the verification (or, without the lock, would be done by now)
    release.set()
    verification.join(30)
    edit.join(30)
    assert statuses == {"staff": 200, "resident": 200}
    profile = db.session.get(ResidentProfile, resident_id)
    assert privacy.decrypt(profile.id_number_enc) == typed
    assert (profile.id_verified_at, profile.id_verified_by, profile.birth_date) == (None, None, None)
