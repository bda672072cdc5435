"""The notice sweeps, by moving the clock: scheduled publication (the audience frozen then), expiry and unpinning,
the urgent chase two hours after publication (only 08:00–20:00), and the outage check at 18:00 the day before."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from models.base import db
from models.notifications import Notification
from service import clock
from service.notices import reminders
from tests.api.test_notices import body, living, staff, w  # noqa: F401  (fixtures)
from tests.factories import auth

SH = clock.SHANGHAI


def at(*args) -> datetime:
    return datetime(*args, tzinfo=SH)


def told(kind: str) -> list[tuple[int, str]]:
    return db.session.execute(sa.select(Notification.user_id, Notification.title).where(
        Notification.kind == kind).order_by(Notification.user_id)).all()


def test_a_scheduled_notice_is_published_on_time_with_the_audience_of_that_moment(client, w, staff):
    clock.set_now(at(2027, 3, 1, 9, 0))
    early = living(w, w.units[0])
    data = body(w, urgent=False, category="activity", valid_until=None, event_at=None,
                publish_at=clock.iso(at(2027, 3, 2, 9, 0)))
    created = client.post("/api/v1/notices", json=data, headers=auth(staff))
    assert created.status_code == 201 and created.json["state"] == "scheduled"
    late = living(w, w.units[1])            # moves in before the notice goes out: reached
    clock.set_now(at(2027, 3, 2, 8, 59, 59))
    assert reminders.publish_due() == {"due": 0, "published": 0}
    assert client.get("/api/v1/notices", headers=auth(early)).json["total"] == 0
    clock.set_now(at(2027, 3, 2, 9, 0))
    assert reminders.publish_due() == {"due": 1, "published": 1}
    assert reminders.publish_due() == {"due": 0, "published": 0}
    for user in (early, late):
        assert client.get("/api/v1/notices", headers=auth(user)).json["total"] == 1


def test_notices_expire_and_are_unpinned_at_valid_until(client, w, staff):
    clock.set_now(at(2027, 3, 1, 9, 0))
    resident = living(w, w.units[0])
    notice = client.post("/api/v1/notices", json=body(w, pinned=True, valid_until=clock.iso(at(2027, 3, 3, 18, 0)),
                                                      event_at=clock.iso(at(2027, 3, 3, 8, 0))),
                         headers=auth(staff)).json
    assert notice["pinned"] is True
    clock.set_now(at(2027, 3, 3, 17, 59))
    assert reminders.expire() == {"expired": 0}
    clock.set_now(at(2027, 3, 3, 18, 0))
    assert reminders.expire() == {"expired": 1}
    seen = client.get(f"/api/v1/notices/{notice['id']}", headers=auth(resident)).json
    assert (seen["state"], seen["pinned"]) == ("expired", False)
    # Its place can pin three others again.
    for i in range(3):
        assert client.post("/api/v1/notices", json=body(w, pinned=True, title=f"新{i}", valid_until=clock.iso(
            at(2027, 3, 9)), event_at=clock.iso(at(2027, 3, 5))), headers=auth(staff)).status_code == 201


def test_the_urgent_chase_comes_two_hours_after_publication_within_working_hours(client, w, staff):
    living(w, w.units[0])
    acked = living(w, w.units[1])
    clock.set_now(at(2027, 3, 1, 17, 30))
    notice = client.post("/api/v1/notices", json=body(w, valid_until=clock.iso(at(2027, 3, 5)),
                                                      event_at=clock.iso(at(2027, 3, 4))), headers=auth(staff)).json
    client.post(f"/api/v1/notices/{notice['id']}/ack", json={}, headers=auth(acked))
    clock.set_now(at(2027, 3, 1, 19, 29, 59))
    assert reminders.chase_urgent()["due"] == 0
    clock.set_now(at(2027, 3, 1, 19, 30))
    assert reminders.chase_urgent() == {"due": 1, "told": 1}
    assert told("notices.chase") == [(staff.id, "紧急通知尚有1人未确认")]
    assert reminders.chase_urgent() == {"due": 0, "told": 0}
    # Published late in the evening: the chase waits for 08:00.
    clock.set_now(at(2027, 3, 1, 19, 0))
    late = client.post("/api/v1/notices", json=body(w, title="晚间紧急", valid_until=clock.iso(at(2027, 3, 5)),
                                                    event_at=clock.iso(at(2027, 3, 4))), headers=auth(staff)).json
    clock.set_now(at(2027, 3, 1, 21, 0))
    assert reminders.chase_urgent() == {"due": 0, "told": 0, "outside_hours": True}
    clock.set_now(at(2027, 3, 2, 7, 59))
    assert reminders.chase_urgent()["outside_hours"] is True
    clock.set_now(at(2027, 3, 2, 8, 0))
    assert reminders.chase_urgent() == {"due": 1, "told": 1}
    assert len(told("notices.chase")) == 2 and late["id"] != notice["id"]


def test_outage_acknowledgements_are_checked_at_18_the_day_before(client, w, staff):
    living(w, w.units[0])
    clock.set_now(at(2027, 3, 1, 9, 0))
    client.post("/api/v1/notices", json=body(w, event_at=clock.iso(at(2027, 3, 3, 8, 0)),
                                             valid_until=clock.iso(at(2027, 3, 3, 18, 0))), headers=auth(staff))
    clock.set_now(at(2027, 3, 2, 17, 59, 59))
    assert reminders.outage_eve() == {"due": 0, "told": 0}
    clock.set_now(at(2027, 3, 2, 18, 0))
    assert reminders.outage_eve() == {"due": 1, "told": 1}
    assert told("notices.outage_eve") == [(staff.id, "明日停水停电尚有1人未确认")]
    assert reminders.outage_eve() == {"due": 0, "told": 0}
