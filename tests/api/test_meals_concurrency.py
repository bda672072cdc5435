"""No oversell, ever: real threads and real commits (on PostgreSQL the conditional UPDATE and the
partial unique index decide; on SQLite the write lock)."""
from datetime import datetime

import pytest
import sqlalchemy as sa

from models.base import db
from models.meals import MealBooking, MealSlot
from service import clock
from service.clock import SHANGHAI
from tests.api.test_meals import DAY, born, m  # noqa: F401 (fixture)
from tests.factories import auth, make_user
from tests.factories.meals import make_meal_slot
from tests.concurrency import run_at_once

AFTER_RELEASE = datetime(2026, 11, 22, 20, 0, tzinfo=SHANGHAI)  # the priority reserve is released


def diners(m, count: int, prefix: str):
    users = [make_user(name=f"{prefix}{i}", neighbourhood_id=m.world.nb.id, birth_date=born(65 + i % 20))
             for i in range(count)]
    return [auth(u) for u in users]


def slot_state(slot_id):
    db.session.remove()
    slot = db.session.get(MealSlot, slot_id)
    confirmed = db.session.execute(sa.select(sa.func.coalesce(sa.func.sum(MealBooking.quantity), 0)).where(
        MealBooking.slot_id == slot_id, MealBooking.status == "confirmed")).scalar()
    return slot, confirmed


@pytest.mark.real_commits
def test_300_attempts_for_50_seats(app, m):
    clock.set_now(AFTER_RELEASE)
    slot = make_meal_slot(m.site, DAY, "dinner", dine_in=50)
    slot_id, set_meal_ids = slot.id, [s.id for s in slot.set_meals]
    body = {"slot_id": slot_id, "set_meal_id": set_meal_ids[0], "mode": "dine_in"}
    headers = diners(m, 300, "食客")
    db.session.remove()
    calls = [("/api/v1/meal-bookings", {**body, "join_waitlist": i % 2 == 0}, h) for i, h in enumerate(headers)]
    results = run_at_once(app, calls)
    assert all(r is not None for r in results)
    codes = [code for code, _ in results]
    assert not [c for c in codes if c >= 500]
    confirmed = [b for code, b in results if code == 201 and b["status"] == "confirmed"]
    waitlisted = [b for code, b in results if code == 201 and b["status"] == "waitlisted"]
    full = [b for code, b in results if code == 409]
    assert len(confirmed) == 50
    assert len(confirmed) + len(waitlisted) + len(full) == 300
    assert all(b["error"] == "meals.slot_full" for b in full)
    assert len({b["code"] for b in confirmed + waitlisted}) == len(confirmed) + len(waitlisted)
    state, in_db = slot_state(slot_id)
    assert state.booked_dine_in == in_db == 50


@pytest.mark.real_commits
def test_the_same_diner_booking_at_once_gets_one_booking(app, m):
    clock.set_now(AFTER_RELEASE)
    slot = make_meal_slot(m.site, DAY, "dinner", dine_in=50)
    slot_id, set_meal_ids = slot.id, [s.id for s in slot.set_meals]
    headers = diners(m, 1, "重复")[0]
    db.session.remove()
    calls = [("/api/v1/meal-bookings", {"slot_id": slot_id, "set_meal_id": set_meal_ids[i % 2],
                                        "join_waitlist": True}, headers) for i in range(8)]
    results = run_at_once(app, calls)
    codes = sorted(code for code, _ in results)
    assert codes == [201] + [409] * 7, results
    assert all(b["error"] == "meals.already_booked" for code, b in results if code == 409)
    state, in_db = slot_state(slot_id)
    assert state.booked_dine_in == in_db == 1


@pytest.mark.real_commits
def test_cancellations_racing_new_bookings_hand_seats_to_the_waitlist(app, m):
    clock.set_now(AFTER_RELEASE)
    slot = make_meal_slot(m.site, DAY, "dinner", dine_in=20)
    slot_id, set_meal_ids = slot.id, [s.id for s in slot.set_meals]
    body = {"slot_id": slot_id, "set_meal_id": set_meal_ids[0]}
    holders = diners(m, 20, "已订")
    waiting = diners(m, 10, "候补")
    client = app.test_client()
    held = [client.post("/api/v1/meal-bookings", json=body, headers=h).json for h in holders]
    assert all(b["status"] == "confirmed" for b in held)
    queued = [client.post("/api/v1/meal-bookings", json={**body, "join_waitlist": True}, headers=h).json
              for h in waiting]
    assert all(b["status"] == "waitlisted" for b in queued)
    newcomers = diners(m, 30, "新来")
    db.session.remove()
    calls = [(f"/api/v1/meal-bookings/{held[i]['id']}/cancel", {}, holders[i]) for i in range(10)]
    calls += [("/api/v1/meal-bookings", body, h) for h in newcomers]
    results = run_at_once(app, calls)
    assert not [code for code, _ in results if code >= 500], results
    assert [code for code, _ in results[:10]] == [200] * 10
    # Every freed seat went to a waitlisted diner in the same transaction: none to a newcomer.
    assert all(code == 409 and body["error"] == "meals.slot_full" for code, body in results[10:])
    statuses = dict(db.session.execute(sa.select(MealBooking.id, MealBooking.status).where(
        MealBooking.id.in_([b["id"] for b in queued]))).all())
    assert set(statuses.values()) == {"confirmed"}
    state, in_db = slot_state(slot_id)
    assert state.booked_dine_in == in_db == 20


@pytest.mark.real_commits
def test_cancellations_and_bookings_without_a_waitlist_never_oversell(app, m):
    clock.set_now(AFTER_RELEASE)
    slot = make_meal_slot(m.site, DAY, "dinner", dine_in=15)
    slot_id, set_meal_ids = slot.id, [s.id for s in slot.set_meals]
    body = {"slot_id": slot_id, "set_meal_id": set_meal_ids[0]}
    holders = diners(m, 15, "已订")
    client = app.test_client()
    held = [client.post("/api/v1/meal-bookings", json=body, headers=h).json for h in holders]
    newcomers = diners(m, 40, "新来")
    db.session.remove()
    calls = [(f"/api/v1/meal-bookings/{held[i]['id']}/cancel", {}, holders[i]) for i in range(8)]
    calls += [("/api/v1/meal-bookings", body, h) for h in newcomers]
    results = run_at_once(app, calls)
    assert not [code for code, _ in results if code >= 500], results
    won = sum(1 for code, b in results[8:] if code == 201)
    assert won <= 8
    state, in_db = slot_state(slot_id)
    assert state.booked_dine_in == in_db == 15 - 8 + won <= 15
