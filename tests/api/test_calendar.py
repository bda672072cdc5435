"""The working-day calendar over HTTP and the CLI: a year's calendar for anyone, the official arrangement
loaded by district admins (validated, audited, in force at once), open cases' deadlines following it,
the /readyz warning and the weekly reminder while next year's arrangement is awaited."""
import json
from datetime import date, datetime

import pytest
import sqlalchemy as sa

from models.audit import AuditEntry
from models.base import db
from models.cases import Case, CaseEvent
from models.notifications import Notification
from service import calendar, clock
from service.clock import SHANGHAI
from tests.api.test_cases import act, people, place, report  # noqa: F401  (fixtures)
from tests.factories import auth, make_user

HOLIDAYS_2027 = ["2027-01-01", "2027-01-02", "2027-01-03", "2027-01-04",
                 *[f"2027-02-{d:02d}" for d in range(5, 13)], "2027-04-05", "2027-05-01", "2027-05-02",
                 "2027-06-09", "2027-09-15", *[f"2027-10-{d:02d}" for d in range(1, 8)]]
ARRANGEMENT = {"notice": "国办发明电〔2026〕7号", "published_on": "2026-11-12", "holidays": HOLIDAYS_2027,
               "workdays": ["2027-01-09", "2027-02-20", "2027-09-26"]}


def at(y, m, d, h=10):
    return datetime(y, m, d, h, tzinfo=SHANGHAI)


def local(value: str) -> date:
    return datetime.fromisoformat(value).astimezone(SHANGHAI).date()


@pytest.fixture
def admins(place):  # noqa: F811
    class Admins:
        district = make_user(name="区管理员", roles=[("admin", "district", place.district.id)])
        street = make_user(name="街道管理员", roles=[("admin", "street", place.street.id)])
    return Admins


def put(client, user, year=2027, body=None, **headers):
    return client.put(f"/api/v1/calendar/{year}", json=ARRANGEMENT if body is None else body,
                      headers=auth(user, **headers))


# --- reading a year -----------------------------------------------------------------------------------------------

def test_anyone_reads_a_year_only_the_statute_knows_as_provisional(client):
    body = client.get("/api/v1/calendar/2027").json
    assert (body["source"], body["source_name"], body["provisional"]) == ("statutory", "法定节假日（推算）", True)
    assert body["holidays"] == ["2027-01-01", "2027-02-05", "2027-02-06", "2027-02-07", "2027-02-08", "2027-04-05",
                                "2027-05-01", "2027-05-02", "2027-06-09", "2027-09-15", "2027-10-01", "2027-10-02",
                                "2027-10-03"]
    assert body["workdays"] == [] and body["notice"] is None
    assert body["statutory_holidays"][0] == {"date": "2027-01-01", "festival": "new_year", "festival_name": "元旦"}
    english = client.get("/api/v1/calendar/2027", headers={"Accept-Language": "en"}).json
    assert english["source_name"] == "Statutory holidays (computed)"
    assert english["statutory_holidays"][-1]["festival_name"] == "National Day"


def test_a_year_the_package_knows_is_not_provisional(client):
    body = client.get("/api/v1/calendar/2026").json
    assert (body["source"], body["provisional"]) == ("package", False)
    assert "2026-10-07" in body["holidays"] and "2026-10-10" in body["workdays"]


@pytest.mark.parametrize("year", [2003, 2100, 99999])
def test_a_year_out_of_range_is_422_naming_it(client, year):
    response = client.get(f"/api/v1/calendar/{year}")
    assert response.status_code == 422 and "year" in response.json["errors"]


# --- loading the arrangement --------------------------------------------------------------------------------------

def test_a_district_admin_loads_the_arrangement_audited_and_it_decides_the_year(client, admins):
    clock.set_now(at(2026, 11, 13))
    response = put(client, admins.district)
    assert response.status_code == 200, response.json
    body = response.json
    assert (body["source"], body["source_name"], body["provisional"]) == ("notice", "国务院办公厅通知", False)
    assert body["notice"] == "国办发明电〔2026〕7号" and body["loaded_at"].endswith("+08:00")
    assert body["workdays"] == ARRANGEMENT["workdays"] and "2027-02-12" in body["holidays"]
    assert body["changed"] == {"cases": 0}
    assert client.get("/api/v1/calendar/2027").json["source"] == "notice"
    assert calendar.add_working_days(at(2026, 12, 31), 1) == calendar.Deadline(
        calendar.end_of_day(date(2027, 1, 5)), False)
    entry = db.session.execute(sa.select(AuditEntry).where(AuditEntry.action == "calendar.arrangement_loaded")
                               ).scalar_one()
    assert (entry.actor_user_id, entry.object_type, entry.object_id, entry.before) == (
        admins.district.id, "calendar", "2027", None)
    assert entry.after["notice"] == "国办发明电〔2026〕7号" and entry.after["revision"] == 1
    # Loaded again (a correction): replaced, the previous one in the audit entry.
    again = put(client, admins.district, body={**ARRANGEMENT, "workdays": []})
    assert again.status_code == 200 and again.json["workdays"] == []
    second = db.session.execute(sa.select(AuditEntry).where(AuditEntry.action == "calendar.arrangement_loaded")
                                .order_by(AuditEntry.id.desc())).scalars().first()
    assert second.before["workdays"] == ARRANGEMENT["workdays"] and second.after["revision"] == 2


def test_only_a_district_admin_loads_an_arrangement(client, admins, people):  # noqa: F811
    for user, code in ((admins.street, "calendar.district_admin_required"), (people.staff, "auth.role_required"),
                       (people.resident, "auth.role_required")):
        response = put(client, user)
        assert response.status_code == 403 and response.json["error"] == code
    assert client.put("/api/v1/calendar/2027", json=ARRANGEMENT).status_code == 401
    assert client.get("/api/v1/calendar/2027").json["source"] == "statutory"


def test_a_bad_arrangement_is_refused_naming_date_and_rule_and_changes_nothing(client, admins, people):  # noqa: F811
    clock.set_now(at(2026, 12, 31))
    case = report(client, people.resident).json
    bad = {**ARRANGEMENT, "holidays": [d for d in HOLIDAYS_2027 if d != "2027-02-05"],
           "workdays": ["2027-01-11", "2027-01-02"]}
    response = put(client, admins.district, body=bad, **{"Accept-Language": "en"})
    assert response.status_code == 422 and response.json["error"] == "calendar.arrangement_invalid"
    assert response.json["errors"] == {
        "workdays[0]": ["2027-01-11 is a Monday: a make-up working day falls on a Saturday or Sunday"],
        "workdays[1]": ["2027-01-02 cannot be both a holiday and a working day"],
        "holidays": ["2027-02-05 (Spring Festival) is a statutory holiday and must be among the holidays"]}
    assert "2027-01-11" in response.json["message"]
    chinese = put(client, admins.district, body=bad).json
    assert chinese["errors"]["holidays"] == ["2027-02-05（春节）是法定节假日，应列为放假日"]
    assert client.get("/api/v1/calendar/2027").json["source"] == "statutory"
    db.session.expire_all()
    stored = db.session.get(Case, case["id"])
    assert local(stored.contact_due_at.isoformat()) == date(2027, 1, 4) and stored.deadlines_provisional
    assert db.session.execute(sa.select(sa.func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "calendar.arrangement_loaded")).scalar_one() == 0


@pytest.mark.parametrize("body, field", [
    ({**ARRANGEMENT, "notice": ""}, "notice"),
    ({**ARRANGEMENT, "published_on": "12 November"}, "published_on"),
    ({**ARRANGEMENT, "published_on": "2027-01-01"}, "published_on"),
    ({**ARRANGEMENT, "holidays": []}, "holidays"),
    ({**ARRANGEMENT, "holidays": ["2027-02-30"]}, "holidays"),
    ({**ARRANGEMENT, "holidays": HOLIDAYS_2027 + ["2028-06-01"]}, "holidays[24]"),
    ({**ARRANGEMENT, "workdays": "2027-01-09"}, "workdays"),
    ({k: v for k, v in ARRANGEMENT.items() if k != "notice"}, "notice"),
    ({**ARRANGEMENT, "year": 2027}, "year"),
])
def test_bad_input_is_a_4xx_naming_the_field(client, admins, body, field):
    clock.set_now(at(2026, 11, 13))
    response = put(client, admins.district, body=body)
    assert 400 <= response.status_code < 500 and response.status_code != 403
    errors = response.json["errors"]
    assert field in errors or field in errors.get("json", {}), errors
    assert client.get("/api/v1/calendar/2027").json["source"] == "statutory"


def test_an_arrangement_before_the_2024_rule_is_refused_naming_the_year(client, admins):
    response = put(client, admins.district, year=2024)
    assert response.status_code == 422 and "year" in response.json["errors"]


# --- open deadlines follow --------------------------------------------------------------------------------------

def test_a_case_filed_on_new_years_eve_is_provisional_until_the_notice_moves_it(client, admins, people):  # noqa: F811
    clock.set_now(at(2026, 12, 28))  # Monday: its first contact is due on the 29th, past when the notice comes
    earlier = report(client, people.resident).json
    clock.set_now(at(2026, 12, 31))  # Thursday
    case = report(client, people.resident).json
    assert local(case["deadlines"]["contact_due_at"]) == date(2027, 1, 4)  # 元旦 by statute, then the weekend
    assert local(case["deadlines"]["handle_due_at"]) == date(2027, 1, 8)
    assert case["deadlines"]["provisional"] is True
    settled = report(client, people.resident, category="corridor_clutter").json
    accept = act(client, people.staff, case["id"], "accept")
    assert accept.status_code == 200

    clock.set_now(at(2026, 12, 31, 15))
    response = put(client, admins.district)  # 1–4 January off, Saturday the 9th worked
    assert response.status_code == 200 and response.json["changed"] == {"cases": 3}

    mine = client.get(f"/api/v1/cases/{case['id']}", headers=auth(people.resident)).json
    assert local(mine["deadlines"]["contact_due_at"]) == date(2027, 1, 5)
    assert local(mine["deadlines"]["handle_due_at"]) == date(2027, 1, 9)  # the make-up Saturday counts
    assert mine["deadlines"]["provisional"] is False
    assert mine["timeline"][-1]["action"] == "deadlines_moved"
    assert "先行联系时限由1月4日调整为1月5日" in mine["timeline"][-1]["note"]
    event = db.session.execute(sa.select(CaseEvent).where(CaseEvent.case_id == case["id"],
                                                          CaseEvent.action == "deadlines_moved")).scalar_one()
    assert event.data["changes"]["handle_due_at"] == {"from": "2027-01-08T23:59:59+08:00",
                                                      "to": "2027-01-09T23:59:59+08:00"}
    told = set(db.session.execute(sa.select(Notification.user_id).where(
        Notification.kind == "case.deadlines_moved", Notification.data["case_id"].as_integer() == case["id"])
    ).scalars())
    assert told == {people.resident.id, people.staff.id}  # the reporter and the handler who accepted it
    # Already past: the earlier case's first contact (29 December) stays; its handling deadline moves.
    before = client.get(f"/api/v1/cases/{earlier['id']}", headers=auth(people.staff)).json["deadlines"]
    assert local(before["contact_due_at"]) == date(2026, 12, 29)
    assert local(before["handle_due_at"]) == date(2027, 1, 6)  # was the 5th: 2 working days left on the 31st
    assert before["provisional"] is False
    assert local(client.get(f"/api/v1/cases/{settled['id']}", headers=auth(people.staff)).json[
        "deadlines"]["contact_due_at"]) == date(2027, 1, 5)
    # A case reported now is computed on the arrangement.
    later = report(client, people.resident).json["deadlines"]
    assert local(later["contact_due_at"]) == date(2027, 1, 5) and later["provisional"] is False


def test_a_case_with_deadlines_this_year_is_left_alone(client, admins, people):  # noqa: F811
    clock.set_now(at(2026, 11, 20))
    case = report(client, people.resident).json
    clock.set_now(at(2026, 11, 21))
    assert put(client, admins.district).json["changed"] == {"cases": 0}
    assert db.session.execute(sa.select(sa.func.count()).select_from(CaseEvent).where(
        CaseEvent.case_id == case["id"], CaseEvent.action == "deadlines_moved")).scalar_one() == 0


def test_the_national_day_2026_deadlines_still_hold(client, people):  # noqa: F811
    clock.set_now(at(2026, 9, 30))
    deadlines = report(client, people.resident).json["deadlines"]
    assert local(deadlines["contact_due_at"]) == date(2026, 10, 8)
    assert local(deadlines["handle_due_at"]) == date(2026, 10, 13)
    assert deadlines["provisional"] is False


# --- nobody is surprised ---------------------------------------------------------------------------------------

def test_readyz_warns_from_the_first_of_november_until_next_year_is_loaded(client, admins):
    clock.set_now(at(2026, 10, 31, 23))
    assert client.get("/readyz").json["warnings"] == []
    clock.set_now(at(2026, 11, 1, 0))
    body = client.get("/readyz").json
    assert body["status"] == "ready"
    assert [(w["code"], w["year"]) for w in body["warnings"]] == [("calendar.arrangement_missing", 2027)]
    assert "2027年放假安排尚未导入" in body["warnings"][0]["message"]
    english = client.get("/readyz", headers={"Accept-Language": "en"}).json["warnings"][0]["message"]
    assert english.startswith("The State Council's holiday arrangement for 2027 is not loaded")
    assert put(client, admins.district, body={**ARRANGEMENT, "published_on": "2026-10-30"}).status_code == 200
    assert client.get("/readyz").json["warnings"] == []


def test_district_admins_are_reminded_once_a_week(client, admins, people):  # noqa: F811
    from jobs import calendar as calendar_jobs

    clock.set_now(at(2026, 10, 31, 9))
    assert calendar_jobs.arrangement_reminder() == {"years": [], "notified": 0}
    clock.set_now(at(2026, 11, 2, 9))  # a Monday
    assert calendar_jobs.arrangement_reminder() == {"years": [2027], "notified": 1}
    clock.set_now(at(2026, 11, 8, 9))  # the same week
    assert calendar_jobs.arrangement_reminder() == {"years": [2027], "notified": 0}
    clock.set_now(at(2026, 11, 9, 9))
    assert calendar_jobs.arrangement_reminder() == {"years": [2027], "notified": 1}
    told = db.session.execute(sa.select(Notification).where(Notification.kind == "calendar.arrangement_missing")
                              ).scalars().all()
    assert {n.user_id for n in told} == {admins.district.id}  # not the street admin, not staff
    assert "2027年" in told[0].title
    assert put(client, admins.district, body={**ARRANGEMENT, "published_on": "2026-11-06"}).status_code == 200
    clock.set_now(at(2026, 11, 16, 9))
    assert calendar_jobs.arrangement_reminder() == {"years": [], "notified": 0}


def test_the_reminder_is_a_registered_job(app):
    from jobs import runner

    assert "calendar.arrangement_reminder" in {job.id for job in runner.all_jobs()}


# --- the CLI -----------------------------------------------------------------------------------------------------

def test_the_cli_loads_the_same_file(app, tmp_path):
    clock.set_now(at(2026, 11, 13))
    path = tmp_path / "2027.json"
    path.write_text(json.dumps(ARRANGEMENT, ensure_ascii=False), encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["calendar", "load", "2027", str(path)])
    assert result.exit_code == 0, result.output
    assert "2027: notice 国办发明电〔2026〕7号" in result.output
    entry = db.session.execute(sa.select(AuditEntry).where(AuditEntry.action == "calendar.arrangement_loaded")
                               ).scalar_one()
    assert (entry.actor_user_id, entry.actor_role) == (None, "cli")
    shown = app.test_cli_runner().invoke(args=["calendar", "show", "2027"])
    assert "source notice" in shown.output and "2027-01-09" in shown.output


def test_the_cli_refuses_a_bad_file_naming_each_problem(app, tmp_path):
    clock.set_now(at(2026, 11, 13))
    path = tmp_path / "2027.json"
    path.write_text(json.dumps({**ARRANGEMENT, "workdays": ["2027-01-11", "someday"]}), encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["calendar", "load", "2027", str(path), "--lang", "en"])
    assert result.exit_code == 1
    assert "workdays[0]: 2027-01-11 is a Monday" in result.output
    assert "workdays[1]: Must be a date (YYYY-MM-DD)" in result.output
    assert calendar.year_view(2027)["source"] == "statutory"
    path.write_text("{not json", encoding="utf-8")
    assert app.test_cli_runner().invoke(args=["calendar", "load", "2027", str(path)]).exit_code == 1
