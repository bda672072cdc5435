"""Visits to elders living alone, through the API on the real database: pairings (1 : 5, ages 50–75 at their exact
boundaries, two staff at once), plans and their due visits, cold and heat warnings, visits recorded (by the
visitor, by staff for a volunteer; the time's limits; findings), who sees which notes, the due lists, the monthly
visit rate with exact numbers, and the sweeps by moving the clock."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from models.audit import AuditEntry
from models.base import db
from models.care import LivelihoodFile, Pairing, Visit, VisitDue, VisitPlan
from models.cases import Case
from models.notifications import Notification
from models.people import RoleAssignment
from service import clock
from service.care import plans, reminders
from tests.concurrency import run_at_once
from tests.factories import auth, make_located_world, make_user
from tests.factories.care import make_elder, make_partner

SH = clock.SHANGHAI
MONDAY = datetime(2027, 3, 1, 9, 0, tzinfo=SH)       # a Monday


def at(*args) -> datetime:
    return datetime(*args, tzinfo=SH)


@pytest.fixture
def w():
    clock.set_now(MONDAY)
    return make_located_world()


@pytest.fixture
def staff(w):
    return make_user(name="居委干部", roles=[("staff", "neighbourhood", w.nb.id)])


def elder_with_plans(w, staff, **values):
    elder = make_elder(w, staff=staff, **values)
    plans.default_plans(elder, clock.now(), staff.id)
    db.session.commit()
    return elder


def dues(elder, role="partner"):
    db.session.expire_all()
    return db.session.execute(sa.select(VisitDue).where(VisitDue.elder_id == elder.id, VisitDue.role == role)
                              .order_by(VisitDue.earliest_at)).scalars().all()


def count(model, *where) -> int:
    return db.session.execute(sa.select(sa.func.count()).select_from(model).where(*where)).scalar()


def pair(client, staff, elder, visitor, role="partner", **extra):
    return client.post(f"/api/v1/care/elders/{elder.id}/pairings",
                       json={"visitor_user_id": visitor.id, "role": role, **extra}, headers=auth(staff))


def visit(client, user, elder, when=None, **extra):
    body = {"at": clock.iso(when or clock.now()), "channel": "phone", "outcome": "well", **extra}
    return client.post(f"/api/v1/care/elders/{elder.id}/visits", json=body, headers=auth(user))


# --- pairings -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("born, status", [
    (date(1977, 3, 1), 201),     # 50 today
    (date(1977, 3, 2), 422),     # 50 tomorrow: 49
    (date(1951, 3, 2), 201),     # 76 tomorrow: still 75
    (date(1951, 3, 1), 422),     # 76 today
])
def test_a_partner_is_50_to_75_by_a_verified_birth_date_at_the_exact_boundaries(client, w, staff, born, status):
    elder = make_elder(w, staff=staff)
    volunteer = make_user(name="志愿者", birth_date=born, neighbourhood_id=w.nb.id)
    answer = pair(client, staff, elder, volunteer)
    assert answer.status_code == status, answer.json
    if status == 422:
        assert answer.json["error"] == "care.partner_age_out_of_range"
        assert count(Pairing) == 0


def test_a_pairing_is_refused_with_a_reason_and_nothing_written(client, w, staff):
    elder = make_elder(w, staff=staff)
    undated = make_user(name="未核实")
    resident = make_user(name="居民", birth_date=date(1960, 1, 1))
    cases = [(undated, "partner", 422, "care.partner_age_unverified"),
             (resident, "staff", 422, "care.visitor_not_staff")]
    for visitor, role, status, code in cases:
        answer = pair(client, staff, elder, visitor, role)
        assert (answer.status_code, answer.json["error"]) == (status, code)
    elder_user = db.session.get(type(undated), elder.user_id)
    answer = pair(client, staff, elder, elder_user)
    assert answer.json["error"] == "care.visitor_is_elder" and answer.json["errors"]["visitor_user_id"]
    english = client.post(f"/api/v1/care/elders/{elder.id}/pairings", json={"visitor_user_id": undated.id,
                          "role": "partner"}, headers=auth(staff, **{"Accept-Language": "en"}))
    assert english.json["message"] == "A partner volunteer's birth date must be verified"
    far_staff = make_user(name="光新干部", roles=[("staff", "neighbourhood", w.far_nb.id)])
    volunteer = make_partner(w)
    assert pair(client, far_staff, elder, volunteer).status_code == 403
    assert pair(client, volunteer, elder, volunteer).status_code == 403
    assert client.post("/api/v1/care/elders/999999/pairings", json={"visitor_user_id": volunteer.id,
                       "role": "partner"}, headers=auth(staff)).status_code == 404
    assert client.post(f"/api/v1/care/elders/{elder.id}/pairings", json={"visitor_user_id": volunteer.id,
                       "role": "neighbour"}, headers=auth(staff)).status_code == 422
    assert pair(client, staff, elder, volunteer, starts_on="2026-01-01").json["error"] == "care.starts_on_out_of_range"
    assert count(Pairing) == 0
    assert pair(client, staff, elder, volunteer).status_code == 201
    assert pair(client, staff, elder, volunteer).json["error"] == "care.already_paired"


def test_a_partner_takes_five_elders_the_sixth_is_refused_and_ending_one_frees_a_place(client, w, staff):
    volunteer = make_partner(w)
    elders = [make_elder(w, staff=staff) for _ in range(6)]
    made = [pair(client, staff, elder, volunteer) for elder in elders[:5]]
    assert [m.status_code for m in made] == [201] * 5
    assert made[0].json["role_name"] == "老伙伴志愿者"
    sixth = pair(client, staff, elders[5], volunteer)
    assert (sixth.status_code, sixth.json["error"]) == (409, "care.partner_full")
    # As 社工 the same person is not counted against the 老伙伴 limit.
    assert pair(client, staff, elders[5], volunteer, "social_worker").status_code == 201
    ended = client.post(f"/api/v1/care/pairings/{made[0].json['id']}/end", headers=auth(staff))
    assert ended.status_code == 200 and ended.json["ends_on"] == "2027-03-01"
    assert client.post(f"/api/v1/care/pairings/{made[0].json['id']}/end", headers=auth(staff)).status_code == 409
    other = make_elder(w, staff=staff)
    assert pair(client, staff, other, volunteer).status_code == 201
    assert pair(client, staff, make_elder(w, staff=staff), volunteer).status_code == 409
    # An elder who left the roster no longer takes a place.
    gone = elders[1]
    gone.status, gone.ended_at, gone.end_reason = "ended", clock.now(), "care_home"
    db.session.commit()
    assert pair(client, staff, make_elder(w, staff=staff), volunteer).status_code == 201


@pytest.mark.real_commits
def test_staff_pairing_the_fifth_and_sixth_elder_at_once_never_exceed_five(app, client):
    clock.set_now(MONDAY)
    w = make_located_world()
    one = make_user(name="干部甲", roles=[("staff", "neighbourhood", w.nb.id)])
    two = make_user(name="干部乙", roles=[("staff", "neighbourhood", w.nb.id)])
    volunteer = make_partner(w)
    for _ in range(3):
        make_partner(w, make_elder(w, staff=one), user=volunteer)
    # Two staff pair the 4th to the 9th elder at once: two more fit.
    elders = [make_elder(w, staff=one) for _ in range(6)]
    calls = [(f"/api/v1/care/elders/{elder.id}/pairings", {"visitor_user_id": volunteer.id, "role": "partner"},
              auth(one if i % 2 else two)) for i, elder in enumerate(elders)]
    db.session.remove()
    results = run_at_once(app, calls)
    assert sorted(status for status, _ in results) == [201, 201, 409, 409, 409, 409], results
    assert count(Pairing, Pairing.visitor_user_id == volunteer.id, Pairing.ends_on.is_(None)) == 5


# --- plans and due visits -----------------------------------------------------------------------------------------

def test_default_plans_give_every_elder_partner_contacts_and_tier_one_a_monthly_staff_visit(w, staff):
    elder = elder_with_plans(w, staff, risk_tier=1)
    partner = dues(elder)
    # FREQ=WEEKLY;BYDAY=MO,TH for 14 days ahead, each open 3 days from midnight.
    assert [(d.earliest_at, d.latest_at) for d in partner] == [
        (at(2027, 3, day), at(2027, 3, day) + timedelta(days=3)) for day in (1, 4, 8, 11, 15)]
    # The 居委会's monthly visit: 28 days from 1 March end on Sunday 28 March → the end of Monday 29 March.
    assert [(d.earliest_at, d.latest_at) for d in dues(elder, "staff")] == [
        (at(2027, 3, 1), at(2027, 3, 29, 23, 59, 59))]
    tier_two = elder_with_plans(w, staff, risk_tier=2)
    assert dues(tier_two, "staff") == [] and len(dues(tier_two)) == 5


def test_the_weekly_sweep_extends_due_visits_to_the_horizon_and_runs_again_harmlessly(w, staff):
    elder = elder_with_plans(w, staff)
    clock.set_now(at(2027, 3, 8, 1, 0))
    first = reminders.plan_visits()
    assert first["written"] == 2                            # 18 and 22 March
    assert reminders.plan_visits() == {"written": 0, "cancelled": 0}
    assert len(dues(elder)) == 7
    assert count(VisitDue, VisitDue.elder_id == elder.id) == len({d.earliest_at for d in dues(elder)})


def test_staff_add_a_plan_and_an_invalid_rule_is_named_and_nothing_written(client, w, staff):
    elder = make_elder(w, staff=staff)
    bad = client.post(f"/api/v1/care/elders/{elder.id}/plans", json={
        "role": "partner", "rrule": "FREQ=HOURLY", "window_days": 1, "starts_on": "2027-03-01"}, headers=auth(staff))
    assert bad.status_code == 422 and bad.json["error"] == "care.rrule_invalid" and "rrule" in bad.json["errors"]
    assert count(VisitPlan) == 0 and count(VisitDue) == 0
    made = client.post(f"/api/v1/care/elders/{elder.id}/plans", json={
        "role": "social_worker", "rrule": "FREQ=WEEKLY;BYDAY=WE", "window_days": 2, "starts_on": "2027-03-01"},
        headers=auth(staff))
    assert made.status_code == 201, made.json
    assert (made.json["reason"], made.json["reason_name"], made.json["generated_until"]) == (
        "staff", "工作人员制定", "2027-03-15")
    assert [d.earliest_at for d in dues(elder, "social_worker")] == [at(2027, 3, 3), at(2027, 3, 10)]
    volunteer = make_partner(w, elder)
    assert client.post(f"/api/v1/care/plans/{made.json['id']}/end", headers=auth(volunteer)).status_code == 403
    clock.set_now(at(2027, 3, 4, 10, 0))
    ended = client.post(f"/api/v1/care/plans/{made.json['id']}/end", headers=auth(staff))
    assert ended.status_code == 200 and ended.json["ends_on"] == "2027-03-04"
    assert [d.cancelled_at is not None for d in dues(elder, "social_worker")] == [False, True]
    assert client.post(f"/api/v1/care/plans/{made.json['id']}/end", headers=auth(staff)).status_code == 409


def test_a_cold_warning_adds_one_partner_contact_that_day_for_every_active_elder_in_scope(client, w, staff):
    elders = [make_elder(w, staff=staff) for _ in range(3)]
    elsewhere = make_elder(w, neighbourhood=w.nb2)
    body = {"kind": "cold", "day": "2027-03-02"}
    given = client.post("/api/v1/care/weather-warnings", json=body, headers=auth(staff))
    assert given.status_code == 201 and given.json["added"] == 3 and given.json["kind_name"] == "寒潮预警"
    assert client.post("/api/v1/care/weather-warnings", json=body, headers=auth(staff)).json["added"] == 0
    for elder in elders:
        assert [(d.earliest_at, d.latest_at) for d in dues(elder)] == [(at(2027, 3, 2), at(2027, 3, 3))]
    assert dues(elsewhere) == []
    refused = client.post("/api/v1/care/weather-warnings", json={**body, "neighbourhood_ids": [w.nb2.id]},
                          headers=auth(staff))
    assert refused.status_code == 403
    assert client.post("/api/v1/care/weather-warnings", json={"kind": "heat", "day": "2027-03-20"},
                       headers=auth(staff)).json["error"] == "care.weather_day_out_of_range"
    assert count(VisitDue) == 3


# --- visits ---------------------------------------------------------------------------------------------------------

def test_the_paired_visitor_records_a_visit_that_completes_the_open_due_visit_with_notes_encrypted(client, w, staff):
    elder = elder_with_plans(w, staff)
    volunteer = make_partner(w, elder)
    recorded = visit(client, volunteer, elder, at(2027, 3, 1, 8, 30), notes="精神不错", channel="door")
    assert recorded.status_code == 201, recorded.json
    assert (recorded.json["channel_name"], recorded.json["outcome_name"], recorded.json["notes"]) == (
        "上门", "安好", "精神不错")
    assert recorded.json["at"] == "2027-03-01T08:30:00+08:00"
    first = dues(elder)[0]
    assert (first.visit_id, first.id) == (recorded.json["id"], recorded.json["due_id"])
    stored = db.session.get(Visit, recorded.json["id"])
    assert stored.notes_enc and "精神不错" not in stored.notes_enc
    # A second call the same day completes nothing more (the next due visit opens on Thursday).
    again = visit(client, volunteer, elder, at(2027, 3, 1, 9, 0))
    assert again.json["due_id"] is None and [d.visit_id is not None for d in dues(elder)].count(True) == 1


def test_the_visits_time_may_be_five_minutes_ahead_and_31_days_old_and_not_beyond(client, w, staff):
    elder = make_elder(w, staff=staff)
    volunteer = make_partner(w, elder)
    now = clock.now()
    cases = [(now + timedelta(minutes=5), 201), (now + timedelta(minutes=5, seconds=1), 422),
             (now - timedelta(days=31), 201), (now - timedelta(days=31, seconds=1), 422)]
    for when, status in cases:
        answer = visit(client, volunteer, elder, when)
        assert answer.status_code == status, (when, answer.json)
        if status == 422:
            assert list(answer.json["errors"]) == ["at"]
    assert count(Visit) == 2


def test_who_may_record_a_visit(client, w, staff):
    elder = make_elder(w, staff=staff)
    volunteer = make_partner(w, elder)
    stranger = make_user(name="路人")
    far_staff = make_user(name="光新干部", roles=[("staff", "neighbourhood", w.far_nb.id)])
    assert visit(client, stranger, elder).status_code == 404
    assert visit(client, far_staff, elder).status_code == 403
    assert visit(client, volunteer, elder, visitor_user_id=stranger.id).status_code == 403
    assert visit(client, staff, elder, visitor_user_id=stranger.id).json["error"] == "care.visitor_not_paired"
    # Staff record for a volunteer who does not use the app: the visit is the volunteer's, in their role.
    for_them = visit(client, staff, elder, visitor_user_id=volunteer.id)
    assert for_them.status_code == 201
    assert (for_them.json["visitor_user_id"], for_them.json["role"], for_them.json["recorded_by"]) == (
        volunteer.id, "partner", staff.id)
    own = visit(client, staff, elder, channel="door")
    assert own.json["role"] == "staff"
    assert count(Visit) == 2


def test_findings_open_a_case_flag_meal_delivery_or_go_into_the_file(client, w, staff):
    elder = make_elder(w, staff=staff)
    volunteer = make_partner(w, elder)
    assert visit(client, volunteer, elder, finding="case").json["error"] == "care.finding_text_required"
    assert visit(client, volunteer, elder, finding_text="没说是什么").json["error"] == "care.finding_text_without_finding"
    assert count(Visit) == 0 and count(Case) == 0
    case = visit(client, volunteer, elder, outcome="needs_help", finding="case", finding_text="卫生间扶手松动")
    assert case.status_code == 201, case.json
    opened = db.session.get(Case, case.json["case_id"])
    assert (opened.reporter_user_id, opened.neighbourhood_id, opened.description) == (
        elder.user_id, w.nb.id, "卫生间扶手松动")
    meal = visit(client, volunteer, elder, finding="meal_delivery", finding_text="腿脚不便")
    assert meal.status_code == 201
    assert db.session.execute(sa.select(Notification.user_id).where(
        Notification.kind == "care.meal_delivery")).scalars().all() == [staff.id]
    first = visit(client, volunteer, elder, finding="file", finding_text="需要助浴服务")
    second = visit(client, volunteer, elder, finding="file", finding_text="希望申请长护险")
    assert first.status_code == second.status_code == 201
    versions = db.session.execute(sa.select(LivelihoodFile).where(LivelihoodFile.elder_id == elder.id)
                                  .order_by(LivelihoodFile.version)).scalars().all()
    assert [v.version for v in versions] == [1, 2]
    assert versions[1].needs == "2027-03-01 需要助浴服务\n2027-03-01 希望申请长护险"
    assert versions[1].visit_id == second.json["id"]


def test_staff_see_every_note_audited_a_visitor_only_their_own_and_family_nothing(client, w, staff):
    from models.care import Contact

    elder = make_elder(w, staff=staff)
    one, two = make_partner(w, elder), make_partner(w, elder, role="social_worker")
    visit(client, one, elder, at(2027, 3, 1, 8, 0), notes="一号的记录")
    visit(client, two, elder, at(2027, 3, 1, 8, 30), notes="二号的记录")
    seen = client.get(f"/api/v1/care/elders/{elder.id}/visits", headers=auth(staff)).json
    assert [v["notes"] for v in seen["items"]] == ["二号的记录", "一号的记录"]
    audited = db.session.execute(sa.select(AuditEntry.subject_user_id).where(
        AuditEntry.action == "care.visits_viewed")).scalars().all()
    assert audited == [elder.user_id]
    mine = client.get(f"/api/v1/care/elders/{elder.id}/visits", headers=auth(one)).json["items"]
    assert [v["notes"] for v in mine] == [None, "一号的记录"]
    assert mine[0]["visitor_name"] != seen["items"][0]["visitor_name"]      # masked for another visitor
    relative = make_user(name="女儿")
    db.session.add(Contact(elder_id=elder.id, name="女儿", relation="daughter", phone_enc="x", user_id=relative.id))
    db.session.commit()
    assert client.get(f"/api/v1/care/elders/{elder.id}/visits", headers=auth(relative)).status_code == 403
    assert client.get(f"/api/v1/care/elders/{elder.id}/visits",
                      headers=auth(make_user(name="路人"))).status_code == 404
    # Keyset pages of one.
    page = client.get(f"/api/v1/care/elders/{elder.id}/visits?limit=1", headers=auth(staff)).json
    rest = client.get(f"/api/v1/care/elders/{elder.id}/visits?limit=1&cursor={page['next_cursor']}",
                      headers=auth(staff)).json
    assert [page["items"][0]["notes"], rest["items"][0]["notes"]] == ["二号的记录", "一号的记录"]
    assert rest["next_cursor"] is None
    assert client.get(f"/api/v1/care/elders/{elder.id}/visits?cursor=forged.tag",
                      headers=auth(staff)).status_code == 422


# --- lists ----------------------------------------------------------------------------------------------------------

def test_due_and_overdue_lists_for_staff_and_for_the_visitor(client, w, staff):
    elder = elder_with_plans(w, staff)
    unpaired = elder_with_plans(w, staff)
    volunteer = make_partner(w, elder)
    other_nb = make_elder(w, neighbourhood=w.nb2)
    plans.default_plans(other_nb, clock.now(), staff.id)
    db.session.commit()
    clock.set_now(at(2027, 3, 4, 0, 0))         # the window of 1 March closes now; 4 March opens
    due = client.get("/api/v1/care/visits/due?state=due", headers=auth(staff)).json["items"]
    assert sorted((d["elder_id"], d["earliest_at"]) for d in due) == sorted(
        (e.id, iso) for e in (elder, unpaired) for iso in ("2027-03-01T00:00:00+08:00", "2027-03-04T00:00:00+08:00"))
    assert client.get("/api/v1/care/visits/due?state=overdue", headers=auth(staff)).json["items"] == []
    clock.set_now(at(2027, 3, 4, 0, 0, 1))
    overdue = client.get("/api/v1/care/visits/due?state=overdue", headers=auth(staff)).json["items"]
    assert sorted(d["elder_id"] for d in overdue) == sorted([elder.id, unpaired.id])
    assert overdue[0]["state_name"] == "已逾期" and overdue[0]["name"].startswith("李阿婆")
    mine = client.get("/api/v1/me/care/visits/due", headers=auth(volunteer)).json["items"]
    assert [(d["elder_id"], d["earliest_at"]) for d in mine] == [(elder.id, "2027-03-04T00:00:00+08:00")]
    assert set(mine[0]) >= {"name", "address", "phone"} and "neighbourhood_id" not in mine[0]
    # Keyset pages.
    first = client.get("/api/v1/care/visits/due?state=upcoming&limit=2", headers=auth(staff)).json
    second = client.get(f"/api/v1/care/visits/due?state=upcoming&limit=2&cursor={first['next_cursor']}",
                        headers=auth(staff)).json
    assert not {d["id"] for d in first["items"]} & {d["id"] for d in second["items"]}
    assert client.get(f"/api/v1/care/visits/due?neighbourhood_id={w.nb2.id}", headers=auth(staff)).status_code == 403
    assert client.get(f"/api/v1/care/visits/due?state=overdue&role=staff&neighbourhood_id={w.nb.id}",
                      headers=auth(staff)).json["items"] == []
    assert client.get("/api/v1/care/visits/due", headers=auth(volunteer)).status_code == 403


def test_a_visitor_sees_their_paired_elders_name_address_and_phone_only(client, w, staff):
    elder = make_elder(w, staff=staff, risk_tier=1)
    volunteer = make_partner(w, elder)
    make_elder(w, staff=staff)
    items = client.get("/api/v1/me/care/elders", headers=auth(volunteer)).json["items"]
    assert len(items) == 1 and items[0]["elder_id"] == elder.id and items[0]["phone"].startswith("1390000")
    assert "risk_tier" not in items[0] and "file" not in items[0]
    assert client.get("/api/v1/me/care/elders", headers=auth(staff)).json["items"] == []


# --- the monthly visit rate -----------------------------------------------------------------------------------------

def test_the_monthly_visit_rate_counts_expected_done_and_missed_exactly(client, w, staff):
    walker = elder_with_plans(w, staff)
    away = make_elder(w, staff=staff, away_from=at(2027, 3, 17), away_until=at(2027, 3, 22), away_reason="hospital")
    plans.default_plans(away, clock.now(), staff.id)
    db.session.commit()
    volunteer = make_partner(w, walker)
    for day in (15, 29):
        clock.set_now(at(2027, 3, day, 1, 0))
        reminders.plan_visits()
    clock.set_now(at(2027, 4, 1, 10, 0))
    for day in (2, 5, 9, 12, 16):
        assert visit(client, volunteer, walker, at(2027, 3, day, 10, 0)).json["due_id"] is not None
    rate = client.get("/api/v1/care/visit-rate?month=2027-03", headers=auth(staff)).json
    assert rate["total"] == 1
    # Windows closing in March: 8 each (4, 7, 11, 14, 18, 21, 25, 28 March); the away elder's of 18 March is
    # cancelled: 8 + 7 = 15 expected, 5 done.
    assert rate["items"] == [{"neighbourhood_id": w.nb.id, "name": "香泉路居委会", "month": "2027-03", "expected": 15,
                              "done": 5, "missed": 10, "open": 0, "rate": "5/15", "percent": "33.33%"}]
    # Mid-month, a window still open is neither expected nor missed; one done early counts as done at once.
    clock.set_now(at(2027, 3, 16, 12, 0))
    mid = client.get("/api/v1/care/visit-rate?month=2027-03", headers=auth(staff)).json["items"][0]
    # Closed by 16 March noon: 4, 7, 11, 14 March for each elder (8); done: the five visits made 2–16 March, the one
    # of 16 March in the window closing on 18 March (done early: expected and done).
    assert (mid["expected"], mid["done"], mid["missed"], mid["open"]) == (9, 5, 4, 6)
    empty = client.get("/api/v1/care/visit-rate?month=2027-05", headers=auth(staff)).json["items"][0]
    assert (empty["expected"], empty["rate"], empty["percent"]) == (0, None, None)
    assert client.get("/api/v1/care/visit-rate?month=2027-13", headers=auth(staff)).status_code == 422
    assert client.get("/api/v1/care/visit-rate?month=2027-03", headers=auth(volunteer)).status_code == 403


# --- the sweeps -----------------------------------------------------------------------------------------------------

def test_the_visitor_is_reminded_once_when_a_due_visit_opens(w, staff):
    clock.set_now(at(2027, 2, 28, 12, 0))
    elder = elder_with_plans(w, staff)          # plans from 28 February: the first contact on Monday 1 March
    volunteer = make_partner(w, elder)
    clock.set_now(at(2027, 2, 28, 23, 59, 59))
    assert reminders.remind_visits() == {"due": 0, "told": 0}
    clock.set_now(at(2027, 3, 1, 0, 1))
    assert reminders.remind_visits() == {"due": 1, "told": 1}
    assert reminders.remind_visits() == {"due": 0, "told": 0}
    assert db.session.execute(sa.select(Notification.user_id, Notification.kind)).all() == [
        (volunteer.id, "care.visit_due")]
    # An elder in hospital for all of Thursday's window is not visited: nobody is reminded.
    elder.away_from, elder.away_until, elder.away_reason = at(2027, 3, 3), at(2027, 3, 9), "hospital"
    db.session.commit()
    clock.set_now(at(2027, 3, 4, 0, 1))
    assert reminders.remind_visits() == {"due": 0, "told": 0}


def test_an_overdue_visit_is_told_to_the_nc_head_once_after_two_days(w, staff):
    head = make_user(name="主任", roles=[("staff", "neighbourhood", w.nb.id)])
    db.session.execute(sa.update(RoleAssignment).where(RoleAssignment.user_id == head.id).values(title="nc_head"))
    db.session.commit()
    elder = elder_with_plans(w, staff)
    make_partner(w, elder)
    # The window of 1 March closes at 4 March 00:00: told from 6 March 00:00.
    clock.set_now(at(2027, 3, 5, 23, 59, 59))
    assert reminders.escalate_visits() == {"escalated": 0, "told": 0}
    clock.set_now(at(2027, 3, 6, 0, 0))
    assert reminders.escalate_visits() == {"escalated": 1, "told": 1}
    assert reminders.escalate_visits() == {"escalated": 0, "told": 0}
    assert db.session.execute(sa.select(Notification.user_id).where(
        Notification.kind == "care.visits_overdue")).scalars().all() == [head.id]


def test_without_an_nc_head_every_staff_member_of_the_committee_is_told(w, staff):
    second = make_user(name="社工站", roles=[("staff", "neighbourhood", w.nb.id)])
    elder_with_plans(w, staff)
    clock.set_now(at(2027, 3, 6, 8, 30))
    assert reminders.escalate_visits()["told"] == 2
    assert sorted(db.session.execute(sa.select(Notification.user_id).where(
        Notification.kind == "care.visits_overdue")).scalars()) == sorted([staff.id, second.id])


def test_an_elder_away_for_a_whole_window_or_off_the_roster_has_it_cancelled_not_deleted(w, staff):
    elder = elder_with_plans(w, staff)
    before = len(dues(elder))
    elder.away_from, elder.away_until, elder.away_reason = at(2027, 3, 4), at(2027, 3, 7, 0, 0, 1), "hospital"
    db.session.commit()
    clock.set_now(at(2027, 3, 2, 1, 0))
    assert reminders.plan_visits()["cancelled"] == 1             # 4–7 March only; 1–4 March is not whole
    cancelled = [d.earliest_at for d in dues(elder) if d.cancelled_at is not None]
    assert cancelled == [at(2027, 3, 4)]
    elder.status, elder.ended_at, elder.end_reason = "ended", clock.now(), "care_home"
    db.session.commit()
    reminders.plan_visits()
    assert len(dues(elder)) == before and all(d.cancelled_at is not None for d in dues(elder))
