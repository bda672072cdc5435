"""The 助餐卡 over HTTP: staff record verified statuses; a PUT that changes nothing is refused or leaves
the card, its verification stamp and the audit log as they were."""
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from models.audit import AuditEntry
from models.base import db
from models.meals import MealCard
from service import clock
from service.clock import SHANGHAI
from tests.factories import auth, make_user, make_world

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI)


def card_entries() -> int:
    return db.session.execute(sa.select(sa.func.count()).select_from(AuditEntry)
                              .where(AuditEntry.action == "meal_card.updated")).scalar_one()


def test_an_empty_card_change_is_422_and_stamps_and_audits_nothing(client):
    clock.set_now(T0)
    world = make_world()
    elder = make_user(name="王秀英", neighbourhood_id=world.nb.id, birth_date=date(1940, 1, 1))
    staff = make_user(name="李", roles=[("staff", "neighbourhood", world.nb.id)])
    url = f"/api/v1/meal-cards/{elder.id}"
    # Nothing to record: no card is issued, nothing is audited.
    for kwargs in ({}, {"json": {}}):
        response = client.put(url, headers=auth(staff), **kwargs)
        assert response.status_code == 422, (kwargs, response.json)
        assert response.json["error"] == "validation.nothing_to_change"
        assert response.json["message"] == "没有需要修改的内容"
    assert db.session.get(MealCard, elder.id) is None and card_entries() == 0

    assert client.post(f"/api/v1/residents/{elder.id}/consents", headers=auth(staff), json={
        "notice_version": "2026.12", "purposes": ["sensitive_status"], "evidence": "paper_form"}).status_code == 200
    issued = client.put(url, json={"lives_alone": True}, headers=auth(staff))
    assert issued.status_code == 200 and card_entries() == 1
    stamped = issued.json["verified_at"]
    clock.set_now(T0 + timedelta(days=3))
    for kwargs in ({}, {"json": {}}):
        assert client.put(url, headers=auth(staff), **kwargs).status_code == 422
    # The same values again: nothing changed, so no new stamp and no audit entry.
    same = client.put(url, json={"lives_alone": True}, headers=auth(staff))
    assert same.status_code == 200 and same.json["verified_at"] == stamped and card_entries() == 1
    changed = client.put(url, json={"lives_alone": True, "diet_note": "少盐"}, headers=auth(staff))
    assert changed.status_code == 200 and card_entries() == 2
    assert datetime.fromisoformat(changed.json["verified_at"]) == clock.now()
    entry = db.session.execute(sa.select(AuditEntry).where(AuditEntry.action == "meal_card.updated")
                               .order_by(AuditEntry.id.desc())).scalars().first()
    assert (entry.before["diet_note"], entry.after["diet_note"], entry.actor_user_id) == (None, "少盐", staff.id)
