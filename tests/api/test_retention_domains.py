"""Retention kinds the domains enforce (config/rules/privacy.yaml): a closed case stops naming its reporter
36 months after it closed; a meal booking loses its address and diet note 24 months after the meal."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from models.base import db
from models.cases import Case, CaseEvent, CaseFollower
from models.meals import MealBooking
from service import clock, retention
from service.clock import SHANGHAI
from tests.api import test_cases as cases
from tests.api.test_cases import people, place  # noqa: F401  (fixtures)
from tests.api.test_meals import book, elder, m  # noqa: F401  (m is the meal world fixture)
from tests.factories import auth
from tests.factories.meals import make_meal_card


@pytest.fixture
def only(monkeypatch):
    """The sweep with only the given kinds (the audit log's archive needs entries truly six months old)."""
    def restrict(*codes):
        policy = retention.load()
        monkeypatch.setattr(retention, "_policy", dataclasses.replace(
            policy, kinds={code: policy.kinds[code] for code in codes}))
    return restrict


def test_the_shipped_rules_name_the_domains_kinds():
    kinds = retention.load().kinds
    assert (kinds["case_reporter"].keep_months, kinds["case_reporter"].then) == (36, "anonymise")
    assert (kinds["meal_booking_details"].keep_months, kinds["meal_booking_details"].then) == (24, "anonymise")
    assert {row["kind"] for row in retention.table()} >= {"case_reporter", "meal_booking_details"}


def test_a_closed_case_stops_naming_its_reporter_after_36_months(client, people, only):
    only("case_reporter")
    closed_on = datetime(2026, 12, 1, 10, tzinfo=SHANGHAI)
    clock.set_now(closed_on - timedelta(hours=1))
    old = cases.report(client, people.resident, description="王秀英反映：3号楼楼道堆满纸箱").json
    still_open = cases.report(client, people.resident, description="路灯不亮").json
    client.post(f"/api/v1/cases/{old['id']}/follow", headers=auth(people.neighbour))
    clock.set_now(closed_on)
    cases.to_closed(client, people.staff, old["id"])
    closed_at = db.session.get(Case, old["id"]).closed_at

    assert retention.sweep(closed_at + timedelta(days=365 * 3 - 1))["case_reporter"] == 0
    assert retention.sweep(datetime(2029, 12, 1, 10, tzinfo=SHANGHAI))["case_reporter"] == 0   # 36 months: kept
    assert retention.sweep(datetime(2029, 12, 1, 10, 1, tzinfo=SHANGHAI))["case_reporter"] == 1
    db.session.expire_all()
    case = db.session.get(Case, old["id"])
    assert case.reporter_user_id is None and case.anonymous and case.description == "***反映：3号楼楼道堆满纸箱"
    assert db.session.execute(sa.select(CaseFollower).where(CaseFollower.case_id == old["id"])).first() is None
    assert db.session.execute(sa.select(CaseEvent.actor_user_id).where(
        CaseEvent.case_id == old["id"], CaseEvent.actor_user_id == people.resident.id)).first() is None
    assert db.session.get(Case, still_open["id"]).reporter_user_id == people.resident.id
    assert retention.sweep(datetime(2029, 12, 2, tzinfo=SHANGHAI))["case_reporter"] == 0


def test_a_booking_keeps_its_price_and_loses_address_and_diet_note_24_months_after_the_meal(client, m, only):
    only("meal_booking_details")
    diner = elder(m, 80)
    make_meal_card(diner, diet_note="少盐")
    booking = book(client, diner, m).json
    assert db.session.get(MealBooking, booking["id"]).diet_note == "少盐"
    # The meal is on 2026-11-23: kept through 2028-11-23, cleared from the next day.
    assert retention.sweep(datetime(2028, 11, 23, 23, 59, tzinfo=SHANGHAI))["meal_booking_details"] == 0
    assert retention.sweep(datetime(2028, 11, 24, 0, 1, tzinfo=SHANGHAI))["meal_booking_details"] == 1
    db.session.expire_all()
    kept = db.session.get(MealBooking, booking["id"])
    assert kept.diet_note is None and kept.address is None and kept.diner_user_id == diner.id
    assert str(kept.subsidy) == booking["price"]["subsidy"]


def test_device_events_go_after_3_months_and_visits_and_alarms_after_36(client, only):
    from models.care import Alarm, AlarmStep, DeviceEvent, Visit
    from tests.factories import make_world
    from tests.factories.care import make_device, make_elder, make_partner, make_vendor

    only("care_device_event", "care_record")
    received = datetime(2026, 12, 1, 10, tzinfo=SHANGHAI)
    w = make_world()
    elder = make_elder(w)
    partner = make_partner(w, elder)
    vendor = make_vendor()
    device = make_device(elder, vendor, "door")
    db.session.add(DeviceEvent(vendor_id=vendor.id, vendor_event_id="e1", device_id=device.id,
                               vendor_ref=device.vendor_ref, kind="activity", at=received, received_at=received))
    alarm = Alarm(elder_id=elder.id, street_id=w.street.id, source="no_activity", rule="no_door_24h",
                  severity="urgent", state="resolved", opened_at=received - timedelta(hours=1), resolved_at=received,
                  outcome="elder_well")
    db.session.add(alarm)
    db.session.flush()
    db.session.add_all([AlarmStep(alarm_id=alarm.id, n=1, target="elder", channel="phone", due_at=received,
                                  at=received),
                        Visit(elder_id=elder.id, visitor_user_id=partner.id, role="partner", at=received,
                              channel="door", outcome="well", alarm_id=alarm.id, recorded_by=partner.id)])
    db.session.commit()
    count = lambda model: db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar()  # noqa: E731

    assert retention.sweep(datetime(2027, 3, 1, 10, tzinfo=SHANGHAI))["care_device_event"] == 0  # 3 months: kept
    assert retention.sweep(datetime(2027, 3, 1, 10, 1, tzinfo=SHANGHAI))["care_device_event"] == 1
    assert count(DeviceEvent) == 0 and count(Alarm) == 1
    assert retention.sweep(datetime(2029, 12, 1, 10, tzinfo=SHANGHAI))["care_record"] == 0        # 36 months: kept
    assert retention.sweep(datetime(2029, 12, 1, 10, 1, tzinfo=SHANGHAI))["care_record"] == 1
    assert (count(Alarm), count(AlarmStep), count(Visit)) == (0, 0, 0)
