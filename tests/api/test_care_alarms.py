"""Elder alarms: the ladder climbed by moving the clock (each rung at its exact minute, taken in the opening
transaction when due at once), taking an alarm (one of two at once wins; taken back after the timeout), on site
and resolving (a no-activity alarm closes only with a visit), who sees what (staff in scope, paired visitor,
family), bad input refused with nothing written, and the signals of the meals and notices services."""
from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from models.audit import AuditEntry
from models.base import db
from models.care import Alarm, AlarmStep, Contact, Visit
from models.meals import MealBooking, MealSlot, SetMeal
from models.notices import Notice, NoticeAudience
from models.notifications import Notification
from models.people import FamilyLink
from service import clock, privacy
from service.care import alarms, reminders, rules
from tests.concurrency import call_at_once, run_at_once
from tests.factories import auth, make_user, make_world, n
from tests.factories.care import make_elder, make_partner
from tests.factories.meals import make_meal_site, make_meal_slot

SH = clock.SHANGHAI
T0 = datetime(2027, 3, 1, 9, 0, tzinfo=SH)


def at(minutes: float = 0, seconds: float = 0) -> datetime:
    return T0 + timedelta(minutes=minutes, seconds=seconds)


@pytest.fixture
def w():
    clock.set_now(T0)
    return make_world()


@pytest.fixture
def staff(w):
    return make_user(name="王主任", roles=[("staff", "neighbourhood", w.nb.id)])


@pytest.fixture
def elder(w, staff):
    return make_elder(w, staff=staff, user=make_user(name="李秀英", phone="13900001234", neighbourhood_id=w.nb.id,
                                                     birth_date=date(1938, 5, 1)))


@pytest.fixture
def partner(w, elder):
    return make_partner(w, elder)


@pytest.fixture
def son(elder):
    son = make_user(name="李强", phone="13911112222")
    db.session.add(FamilyLink(proxy_user_id=son.id, elder_user_id=elder.user_id, relation="son", status="confirmed"))
    db.session.add(Contact(elder_id=elder.id, position=1, name="李强", relation="儿子",
                           phone_enc=privacy.encrypt("13911112222"), user_id=None))
    db.session.commit()
    return son


def raise_alarm(elder, *, source="no_activity", rule="no_water_12h", severity="urgent", reference=None):
    alarm = alarms.open_alarm(elder, source=source, rule=rule, severity=severity, now=clock.now(),
                              reference=reference)
    db.session.commit()
    return alarm


def steps(alarm_id: int) -> list[tuple]:
    return db.session.execute(sa.select(AlarmStep.n, AlarmStep.target, AlarmStep.result, AlarmStep.recipients)
                              .where(AlarmStep.alarm_id == alarm_id).order_by(AlarmStep.n)).all()


def told(alarm_id: int, step: int) -> set[int]:
    return set(db.session.execute(sa.select(Notification.user_id).where(
        Notification.kind == "care.alarm", Notification.dedupe_key.like(f"care.alarm.{alarm_id}.{step}.%"))).scalars())


def state(alarm_id: int) -> Alarm:
    db.session.expire_all()
    return db.session.get(Alarm, alarm_id)


def sweep_at(moment: datetime) -> dict:
    clock.set_now(moment)
    return reminders.climb_alarms()


# --- the ladder -------------------------------------------------------------------------------------------------

def test_the_no_activity_ladder_climbs_each_rung_at_its_minute(w, staff, elder, partner, son):
    desk = make_user(name="街道值班", roles=[("staff", "street", w.street.id)])
    alarm = raise_alarm(elder)
    # The elder's rung (0 min) went out with the opening: the duty staff are asked to phone, the elder is told.
    assert steps(alarm.id) == [(1, "elder", "sent", 2)]
    assert told(alarm.id, 1) == {staff.id, elder.user_id}
    assert (alarm.state, alarm.step, alarm.next_at) == ("notifying", 1, at(30))

    assert sweep_at(at(30, -1)) == {"due": 0, "steps": 0}
    assert sweep_at(at(30)) == {"due": 1, "steps": 1}
    # Family: the confirmed relative in the app; the contacts' phones listed to the duty staff.
    assert steps(alarm.id)[-1] == (2, "family", "sent", 2) and told(alarm.id, 2) == {son.id, staff.id}
    listed = db.session.execute(sa.select(Notification.body).where(
        Notification.dedupe_key == f"care.alarm.{alarm.id}.2.{staff.id}")).scalar_one()
    assert "13911112222" in listed
    assert sweep_at(at(60, -1))["steps"] == 0
    assert sweep_at(at(60))["steps"] == 1 and told(alarm.id, 3) == {partner.id}
    visitor_message = db.session.execute(sa.select(Notification.body).where(
        Notification.dedupe_key == f"care.alarm.{alarm.id}.3.{partner.id}")).scalar_one()
    assert "李**" in visitor_message and "李秀英" not in visitor_message  # named masked to the volunteer
    assert sweep_at(at(90))["steps"] == 1 and told(alarm.id, 4) == {staff.id}
    assert sweep_at(at(120))["steps"] == 1 and told(alarm.id, 5) == {desk.id}
    top = state(alarm.id)
    assert (top.state, top.step, top.next_at) == ("notifying", 5, None)
    assert sweep_at(at(600)) == {"due": 0, "steps": 0}
    recorded = db.session.execute(sa.select(AlarmStep.due_at, AlarmStep.at).where(AlarmStep.alarm_id == alarm.id)
                                  .order_by(AlarmStep.n)).all()
    assert [due for due, _ in recorded] == [at(0), at(30), at(60), at(90), at(120)]
    assert all(taken == due for due, taken in recorded)


def test_a_late_sweep_takes_every_rung_due_by_then_and_nobody_to_reach_is_skipped(w, staff, elder):
    alarm = raise_alarm(elder)
    assert sweep_at(at(95)) == {"due": 1, "steps": 3}
    # No family, no paired visitor: those rungs reach nobody.
    assert steps(alarm.id) == [(1, "elder", "sent", 2), (2, "family", "skipped", 0), (3, "visitor", "skipped", 0),
                               (4, "duty", "sent", 1)]
    assert state(alarm.id).next_at == at(120)
    # The sweep run twice at once by mistake takes nothing twice.
    assert sweep_at(at(95)) == {"due": 0, "steps": 0}


def test_an_emergency_reaches_the_elder_family_and_duty_with_the_event(w, staff, elder, son):
    alarm = raise_alarm(elder, source="device", rule="smoke", severity="emergency")
    assert [s[:2] for s in steps(alarm.id)] == [(1, "elder"), (2, "family"), (3, "duty")]
    assert alarm.next_at == at(10)
    title = db.session.execute(sa.select(Notification.title).where(
        Notification.dedupe_key == f"care.alarm.{alarm.id}.1.{staff.id}")).scalar_one()
    assert title.startswith("【紧急】")


def test_a_second_signal_joins_the_live_alarm_of_its_rule(w, staff, elder):
    first = raise_alarm(elder)
    assert alarms.open_alarm(elder, source="no_activity", rule="no_water_12h", severity="urgent",
                             now=clock.now()) is None
    assert db.session.execute(sa.select(sa.func.count()).select_from(Alarm)).scalar() == 1 and first.id


# --- taking, on site, resolving ---------------------------------------------------------------------------------

def test_taking_pauses_the_ladder_and_an_alarm_not_on_site_in_time_is_taken_back(client, w, staff, elder, partner):
    alarm = raise_alarm(elder)
    clock.set_now(at(5))
    taken = client.post(f"/api/v1/care/alarms/{alarm.id}/take", headers=auth(partner))
    assert taken.status_code == 200, taken.json
    assert (taken.json["state"], taken.json["taken_by_me"], taken.json["taken_by"]["user_id"]) == (
        "taken", True, partner.id)
    assert taken.json["next_at"] == clock.iso(at(125)) and taken.json["next_at"].endswith("+08:00")
    assert taken.json["state_name"] == "已认领" and taken.json["allowed_actions"] == ["on_site", "resolve"]
    # Paused: the family rung (30 min) does not go out while it is taken.
    assert sweep_at(at(124, 59)) == {"due": 0, "steps": 0}
    assert len(steps(alarm.id)) == 1
    # Taken back: climbs on from its next rung (all four due by now).
    assert sweep_at(at(125))["steps"] == 4
    back = state(alarm.id)
    assert (back.state, back.taken_by, back.step, back.next_at) == ("notifying", None, 5, None)
    actions = db.session.execute(sa.select(AuditEntry.action).where(AuditEntry.object_type == "care_alarm",
                                                                    AuditEntry.object_id == str(alarm.id))
                                 .order_by(AuditEntry.id)).scalars().all()
    assert actions == ["care.alarm_taken", "care.alarm_taken_back"]
    back_key = f"care.alarm.{alarm.id}.back.{int(at(5).timestamp())}.{partner.id}"
    assert db.session.execute(sa.select(Notification.title).where(
        Notification.dedupe_key == back_key)).scalar_one() == "您认领的报警已超时收回"


def test_taken_back_at_the_top_the_top_rung_goes_out_again(client, w, staff, elder, partner):
    alarm = raise_alarm(elder, source="meals_no_show", rule="meals_no_show", severity="concern")
    sweep_at(at(240))
    assert [s[1] for s in steps(alarm.id)] == ["visitor", "duty"]
    assert client.post(f"/api/v1/care/alarms/{alarm.id}/take", headers=auth(staff)).status_code == 200
    assert sweep_at(at(240 + 120))["steps"] == 1
    assert steps(alarm.id)[-1] == (3, "duty", "sent", 1)


def test_on_site_stops_the_take_back_timer(client, w, staff, elder, partner):
    alarm = raise_alarm(elder)
    url = f"/api/v1/care/alarms/{alarm.id}"
    early = client.post(f"{url}/on-site", headers=auth(partner))
    assert early.status_code == 409 and early.json["error"] == "care.alarm_not_taken"
    assert client.post(f"{url}/take", headers=auth(partner)).status_code == 200
    other = make_partner(w, elder)
    refused = client.post(f"{url}/on-site", headers=auth(other))
    assert refused.status_code == 403 and refused.json["error"] == "care.alarm_not_yours"
    clock.set_now(at(20))
    there = client.post(f"{url}/on-site", headers=auth(partner))
    assert there.status_code == 200 and there.json["state"] == "on_site" and there.json["next_at"] is None
    assert there.json["on_site_at"] == clock.iso(at(20))
    assert sweep_at(at(600)) == {"due": 0, "steps": 0}


def test_a_no_activity_alarm_closes_only_with_a_visit_to_the_elder_since_it_opened(client, w, staff, elder, partner,
                                                                                    son):
    other_elder = make_elder(w, staff=staff)
    clock.set_now(at(-60))
    before = Visit(elder_id=elder.id, visitor_user_id=partner.id, role="partner", at=at(0, -1), channel="door",
                   outcome="well", recorded_by=partner.id)  # a second before it opened
    elsewhere = Visit(elder_id=other_elder.id, visitor_user_id=staff.id, role="staff", at=at(10), channel="door",
                      outcome="well", recorded_by=staff.id)
    db.session.add_all([before, elsewhere])
    db.session.commit()
    clock.set_now(T0)
    alarm = raise_alarm(elder)
    url = f"/api/v1/care/alarms/{alarm.id}/resolve"
    for body, code in (({"outcome": "elder_well"}, "care.alarm_needs_visit"),
                       ({"outcome": "elder_well", "visit_id": before.id}, "care.visit_not_for_alarm"),
                       ({"outcome": "elder_well", "visit_id": elsewhere.id}, "care.visit_not_for_alarm"),
                       ({"outcome": "elder_well", "visit_id": 2_000_000_000}, "care.visit_not_for_alarm")):
        refused = client.post(url, json=body, headers=auth(staff))
        assert refused.status_code == 422 and refused.json["error"] == code, refused.json
        assert "visit_id" in refused.json["errors"]
    english = client.post(url, json={"outcome": "elder_well"}, headers=auth(staff, **{"Accept-Language": "en"}))
    assert english.json["message"] == "This alarm closes only with a visit record"
    for body in ({"outcome": "fine"}, {"outcome": "elder_well", "visit_id": 0}, {"note": "x"},
                 {"outcome": "elder_well", "note": "长" * 501}, {"outcome": "elder_well", "visit_id": "1"}):
        assert client.post(url, json=body, headers=auth(staff)).status_code == 422, body
    assert state(alarm.id).state == "notifying"  # nothing written
    clock.set_now(at(40))
    visit = Visit(elder_id=elder.id, visitor_user_id=partner.id, role="partner", at=at(0), channel="phone",
                  outcome="well", recorded_by=partner.id)  # made the very minute it opened: counts
    db.session.add(visit)
    db.session.commit()
    done = client.post(url, json={"outcome": "elder_well", "note": "老人在睡觉，电话未听到", "visit_id": visit.id},
                       headers=auth(staff))
    assert done.status_code == 200, done.json
    assert (done.json["state"], done.json["outcome"], done.json["outcome_name"]) == ("resolved", "elder_well", "老人安好")
    assert done.json["resolved_at"] == clock.iso(at(40)) and done.json["allowed_actions"] == []
    db.session.expire_all()
    assert db.session.get(Visit, visit.id).alarm_id == alarm.id
    assert db.session.execute(sa.select(Notification.body).where(
        Notification.dedupe_key == f"care.alarm.{alarm.id}.resolved.{son.id}")).scalar_one() == (
        "李**：12小时未用水，处理结果：老人安好。")
    again = client.post(url, json={"outcome": "elder_well", "visit_id": visit.id}, headers=auth(staff))
    assert again.status_code == 409 and again.json["error"] == "care.alarm_resolved"
    taken = client.post(f"/api/v1/care/alarms/{alarm.id}/take", headers=auth(partner))
    assert taken.status_code == 409 and taken.json["error"] == "care.alarm_resolved"
    assert sweep_at(at(600)) == {"due": 0, "steps": 0}


def test_a_device_alarm_closes_without_a_visit_and_only_by_the_taker_or_staff(client, w, staff, elder, partner, son):
    alarm = raise_alarm(elder, source="device", rule="smoke", severity="emergency")
    url = f"/api/v1/care/alarms/{alarm.id}"
    refused = client.post(f"{url}/resolve", json={"outcome": "false_alarm"}, headers=auth(son))
    assert refused.status_code == 403 and refused.json["error"] == "care.alarm_not_yours"
    assert client.post(f"{url}/take", headers=auth(son)).status_code == 200
    assert client.post(f"{url}/take", headers=auth(partner)).json["error"] == "care.alarm_already_taken"
    closed = client.post(f"{url}/resolve", json={"outcome": "false_alarm", "note": "做饭油烟"}, headers=auth(son))
    assert closed.status_code == 200 and closed.json["outcome_name"] == "误报"
    assert not told(alarm.id, "resolved")  # the son resolved it himself
    history = client.get(url, headers=auth(staff)).json["history"]
    assert [(h["action"], h["by_user_id"], h["by_name"]) for h in history] == [
        ("care.alarm_taken", son.id, "李强"), ("care.alarm_resolved", son.id, "李强")]
    assert history[0]["action_name"] == "认领独居老人报警"
    assert client.get(url, headers=auth(partner)).json["history"][0]["by_name"] == "李*"


def test_the_elder_cannot_take_their_own_alarm_and_strangers_learn_nothing(client, w, staff, elder):
    alarm = raise_alarm(elder)
    url = f"/api/v1/care/alarms/{alarm.id}"
    from models.people import User

    own = db.session.get(User, elder.user_id)
    assert client.post(f"{url}/take", headers=auth(own)).status_code == 403
    stranger = make_user(name="路人", neighbourhood_id=w.nb.id)
    for method, path in (("GET", url), ("POST", f"{url}/take"), ("POST", f"{url}/on-site")):
        answer = client.open(path, method=method, headers=auth(stranger))
        assert answer.status_code == 404 and answer.json["error"] == "care.alarm_not_found"
    far_staff = make_user(name="光新干部", roles=[("staff", "neighbourhood", w.far_nb.id)])
    assert client.get(url, headers=auth(far_staff)).status_code == 403
    assert client.post(f"{url}/take", headers=auth(far_staff)).status_code == 403
    assert client.get("/api/v1/care/alarms/2000000000", headers=auth(staff)).status_code == 404
    assert state(alarm.id).state == "notifying"


@pytest.mark.real_commits
def test_of_two_taking_at_once_one_wins(app, w, staff, elder, partner):
    alarm = raise_alarm(elder)
    path = f"/api/v1/care/alarms/{alarm.id}/take"
    calls = [(path, {}, auth(staff)), (path, {}, auth(partner))]
    alarm_id = alarm.id
    db.session.remove()
    results = run_at_once(app, calls)
    assert sorted(status for status, _ in results) == [200, 409], results
    assert [body["error"] for status, body in results if status == 409] == ["care.alarm_already_taken"]
    winner = next(body for status, body in results if status == 200)
    assert db.session.get(Alarm, alarm_id).taken_by == winner["taken_by"]["user_id"]
    assert db.session.execute(sa.select(sa.func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "care.alarm_taken")).scalar() == 1


@pytest.mark.real_commits
def test_two_sweeps_at_once_take_each_step_once(app, w, staff, elder):
    alarm_id = raise_alarm(elder).id
    clock.set_now(at(95))
    db.session.remove()
    results = call_at_once(app, lambda: reminders.climb_alarms()["steps"])
    assert sorted(results) == [0, 3]
    assert [n for n, *_ in steps(alarm_id)] == [1, 2, 3, 4]
    assert db.session.execute(sa.select(sa.func.count()).select_from(Notification).where(
        Notification.dedupe_key.like(f"care.alarm.{alarm_id}.4.%"))).scalar() == 1


# --- who sees what ------------------------------------------------------------------------------------------------

def test_staff_visitor_and_family_see_the_alarm_as_their_role_allows(client, w, staff, elder, partner, son):
    alarm = raise_alarm(elder)
    url = f"/api/v1/care/alarms/{alarm.id}"
    seen = client.get(url, headers=auth(staff)).json
    assert seen["elder"] == {"id": elder.id, "name": "李秀英", "phone": "13900001234", "address": None}
    assert seen["standing"] == "staff" and seen["allowed_actions"] == ["take", "resolve"]
    assert seen["steps"][0]["target_name"] == "老人本人" and seen["steps"][0]["channel_name"] == "电话"
    assert seen["opened_at"] == "2027-03-01T09:00:00+08:00" and seen["rule_name"] == "12小时未用水"
    viewed = db.session.execute(sa.select(AuditEntry.subject_user_id).where(
        AuditEntry.action == "care.alarm_viewed")).scalars().all()
    assert viewed == [elder.user_id]  # shows in the elder's data-access list
    by_partner = client.get(url, headers=auth(partner)).json
    assert by_partner["elder"]["phone"] == "13900001234" and by_partner["standing"] == "visitor"
    by_son = client.get(url, headers=auth(son)).json
    assert by_son["elder"]["phone"] == "139****1234" and by_son["standing"] == "family"
    assert "file" not in by_son and by_son["allowed_actions"] == ["take"]
    assert len(db.session.execute(sa.select(AuditEntry.id).where(AuditEntry.action == "care.alarm_viewed")).all()) == 1
    english = client.get(url, headers=auth(son, **{"Accept-Language": "en"})).json
    assert english["state_name"] == "Notifying"


def test_lists_live_first_keyset_paged_in_scope_and_mine(client, w, staff, elder, partner, son):
    other = make_elder(w, staff=staff)
    far = make_elder(w, neighbourhood=w.far_nb)
    first = raise_alarm(elder)
    clock.set_now(at(1))
    second = raise_alarm(other, source="device", rule="smoke", severity="emergency")
    raise_alarm(far)
    third = raise_alarm(elder, source="device", rule="sos", severity="emergency")
    client.post(f"/api/v1/care/alarms/{third.id}/resolve", json={"outcome": "false_alarm"}, headers=auth(staff))
    page = client.get("/api/v1/care/alarms?limit=1", headers=auth(staff)).json
    order = [page["items"][0]["id"]]
    while page["next_cursor"]:
        page = client.get(f"/api/v1/care/alarms?limit=1&cursor={page['next_cursor']}", headers=auth(staff)).json
        order += [item["id"] for item in page["items"]]
    assert order == [second.id, first.id, third.id]  # live newest first, then resolved
    assert [i["id"] for i in client.get("/api/v1/care/alarms?severity=emergency&state=notifying",
                                        headers=auth(staff)).json["items"]] == [second.id]
    bad = client.get("/api/v1/care/alarms?cursor=0.5.forged", headers=auth(staff))
    assert bad.status_code == 422 and bad.json["error"] == "care.cursor_invalid"
    assert client.get("/api/v1/care/alarms?state=asleep", headers=auth(staff)).status_code == 422
    assert client.get("/api/v1/care/alarms", headers=auth(son)).status_code == 403
    mine = client.get("/api/v1/me/care/alarms", headers=auth(son)).json
    assert [i["id"] for i in mine["items"]] == [first.id, third.id]
    assert [i["id"] for i in client.get("/api/v1/me/care/alarms", headers=auth(partner)).json["items"]] == [
        first.id, third.id]
    assert client.get("/api/v1/me/care/alarms", headers=auth(make_user(name="路人"))).json["items"] == []


# --- signals from other services ---------------------------------------------------------------------------------

def _booking(w, diner, day: date, status: str) -> MealBooking:
    site = getattr(w, "_site", None) or make_meal_site(w)
    w._site = site
    slot = db.session.execute(sa.select(MealSlot).where(MealSlot.site_id == site.id, MealSlot.day == day)
                              ).scalar_one_or_none() or make_meal_slot(site, day)
    meal = db.session.execute(sa.select(SetMeal).where(SetMeal.slot_id == slot.id)).scalars().first()
    zero = Decimal("0.00")
    booking = MealBooking(code=f"B{n():06d}", token=f"t{n():030d}", slot_id=slot.id, site_id=site.id,
                          set_meal_id=meal.id, diner_user_id=diner, booked_by_user_id=diner, booked_by_role="self",
                          mode="dine_in", status=status, day=day, starts_at=slot.starts_at, ends_at=slot.ends_at,
                          tier="general", list_price=Decimal("15.00"), subsidy=zero, delivery_fee=zero,
                          payable=Decimal("15.00"), operator_subsidy=zero, breakdown={}, neighbourhood_id=w.nb.id)
    db.session.add(booking)
    db.session.commit()
    return booking


def signal_alarms() -> list[tuple]:
    db.session.expire_all()
    return db.session.execute(sa.select(Alarm.elder_id, Alarm.source, Alarm.severity, Alarm.reference)
                              .order_by(Alarm.id)).all()


def test_a_meal_no_show_today_raises_one_concern_alarm_ever(client, w, staff, elder, partner, monkeypatch):
    today = clock.local_now().date()
    away = make_elder(w, staff=staff, away_from=at(-600), away_until=at(6000), away_reason="hospital")
    _booking(w, elder.user_id, today - timedelta(days=1), "no_show")       # yesterday's: not today's signal
    _booking(w, away.user_id, today, "no_show")                             # in hospital: paused
    _booking(w, make_user(name="非名单").id, today, "no_show")              # not on the roster
    assert reminders.collect_signals() == {"signals": 0, "opened": 0}
    booking = _booking(w, elder.user_id, today, "no_show")
    assert reminders.collect_signals() == {"signals": 1, "opened": 1}
    assert signal_alarms() == [(elder.id, "meals_no_show", "concern", f"meal_booking:{booking.id}")]
    alarm_id = db.session.execute(sa.select(Alarm.id)).scalar_one()
    assert steps(alarm_id) == [(1, "visitor", "sent", 1)] and told(alarm_id, 1) == {partner.id}
    assert reminders.collect_signals() == {"signals": 0, "opened": 0}
    visit = Visit(elder_id=elder.id, visitor_user_id=partner.id, role="partner", at=at(10), channel="door",
                  outcome="well", recorded_by=partner.id)
    db.session.add(visit)
    db.session.commit()
    clock.set_now(at(20))
    assert client.post(f"/api/v1/care/alarms/{alarm_id}/resolve", json={"outcome": "elder_well", "visit_id": visit.id},
                       headers=auth(staff)).status_code == 200
    assert reminders.collect_signals() == {"signals": 0, "opened": 0}  # resolved, and still never again
    # Switched off in the rules: another no-show raises nothing.
    monkeypatch.setattr(rules, "_rules", replace(rules.current(), signals={**rules.current().signals,
                                                                          "meals_no_show": False}))
    other = make_elder(w, staff=staff)
    _booking(w, other.user_id, today, "no_show")
    assert reminders.collect_signals() == {"signals": 0, "opened": 0}


def test_an_elder_who_stopped_booking_raises_a_concern_once_a_week(w, staff, elder):
    today = clock.local_now().date()
    for days in range(9, 30, 2):  # 11 meals in the four weeks before last week, none since
        _booking(w, elder.user_id, today - timedelta(days=days), "served")
    assert reminders.collect_signals() == {"signals": 1, "opened": 1}
    year, week, _ = today.isocalendar()
    reference = f"meals_stopped:{elder.user_id}:{year}W{week:02d}"
    assert signal_alarms() == [(elder.id, "meals_stopped", "concern", reference)]
    assert reminders.collect_signals()["opened"] == 0


def test_an_urgent_notice_unacknowledged_past_the_chase_delay_raises_a_concern(w, staff, elder):
    def notice(published_at, **values):
        item = Notice(street_id=w.street.id, category="outage", title="停水通知", body="明日停水", urgent=True,
                      ack_required=True, state="published", publish_at=published_at, published_at=published_at,
                      author_user_id=staff.id, author_role="staff", valid_until=at(6000),
                      event_at=at(1440), **values)
        db.session.add(item)
        db.session.flush()
        db.session.add(NoticeAudience(notice_id=item.id, user_id=elder.user_id, reason="resident"))
        return item

    due = notice(at(-120))
    notice(at(-120, 1))                             # a second short of the two hours' chase delay
    acked = notice(at(-500))
    db.session.execute(sa.update(NoticeAudience).where(NoticeAudience.notice_id == acked.id).values(acked_at=at(-400)))
    db.session.commit()
    assert reminders.collect_signals() == {"signals": 1, "opened": 1}
    assert signal_alarms() == [(elder.id, "notice_unacknowledged", "concern", f"notice:{due.id}")]
    clock.set_now(at(1))
    # The second notice is due now, but the elder's live alarm of this kind takes it in: no second alarm.
    assert reminders.collect_signals() == {"signals": 1, "opened": 0}
    assert len(signal_alarms()) == 1
