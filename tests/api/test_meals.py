"""Elder meals over HTTP: prices at the age boundaries, window and cut-off edges, proxies, delivery,
the waitlist, the counter, bad input."""
from datetime import date, datetime, timedelta

import math

import pytest
import sqlalchemy as sa

from models.audit import AuditEntry
from models.base import db
from models.meals import MealBooking, MealSlot
from models.notifications import Notification
from models.people import FamilyLink, ResidentProfile
from service import clock
from service.clock import SHANGHAI
from tests.factories import auth, make_user, make_world
from tests.factories.meals import make_meal_card, make_meal_site, make_meal_slot
from tests.statements import statements_sent

DAY = date(2026, 11, 23)           # a Monday
BEFORE = datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI)


def fields(response) -> dict:
    """The field errors of a 422, whether from a schema (under its location) or from the service."""
    errors = response.json["errors"]
    return errors.get("json") or errors.get("query") or errors


def born(years: int, days: int = 0) -> date:
    """The birth date of someone whose ``years``-th birthday is DAY + ``days``."""
    return date(DAY.year - years, DAY.month, DAY.day) + timedelta(days=days)


@pytest.fixture
def m():
    clock.set_now(BEFORE)
    world = make_world()
    world.nb.lat, world.nb.lng = 31.2702, 121.4101
    world.building.lat, world.building.lng = 31.2710, 121.4090
    world.building2.lat, world.building2.lng = 31.2715, 121.4080
    world.far_nb.lat, world.far_nb.lng = 31.2500, 121.4400
    db.session.commit()
    site = make_meal_site(world)
    slot = make_meal_slot(site, DAY, dine_in=50, pickup=10, delivery=10)

    class M:
        pass

    M.world, M.site, M.slot = world, site, slot
    M.set_meal, M.discount = slot.set_meals[0], slot.set_meals[1]
    M.elder = make_user(name="王秀英", phone="13812345678", neighbourhood_id=world.nb.id, birth_date=born(80, -30))
    M.staff = make_user(name="李社工", roles=[("staff", "neighbourhood", world.nb.id)])
    M.far_staff = make_user(name="吴", roles=[("staff", "neighbourhood", world.far_nb.id)])
    M.operator = make_user(name="孙阿姨", roles=[("operator", "meal_site", site.id)])
    M.admin = make_user(name="街道管理员", roles=[("admin", "street", world.street.id)])
    return M


def elder(m, years, days=0, **kw):
    return make_user(name=kw.pop("name", "张阿婆"), neighbourhood_id=kw.pop("neighbourhood_id", m.world.nb.id),
                     birth_date=born(years, days), **kw)


def book(client, user, m, **overrides):
    body = {"slot_id": m.slot.id, "set_meal_id": m.set_meal.id, "mode": "dine_in", **overrides}
    return client.post("/api/v1/meal-bookings", json=body, headers=auth(user))


# --- prices and eligibility at the exact age boundaries -----------------------------------------------------

@pytest.mark.parametrize("years, days, tier, subsidy", [
    (60, 0, "age60", "2.00"),      # the 60th birthday is the meal's day
    (70, -1, "age70", "3.00"),     # 70 the day before
    (70, 0, "age70", "3.00"),      # the 70th birthday itself
    (70, 1, "age60", "2.00"),      # 70 only the day after the meal
    (80, 0, "age80", "4.00"),
    (80, 1, "age70", "3.00"),
    (90, 0, "age90", "5.00"),
])
def test_age_tier_on_the_birthday(client, m, years, days, tier, subsidy):
    diner = elder(m, years, days)
    response = book(client, diner, m)
    assert response.status_code == 201, response.json
    price = response.json["price"]
    assert price["tier"] == tier and price["subsidy"] == subsidy
    assert price["list_price"] == "15.00"
    assert price["payable"] == f"{15 - float(subsidy):.2f}"


def test_the_day_before_the_60th_birthday_is_not_eligible(client, m):
    response = book(client, elder(m, 60, 1), m)
    assert response.status_code == 403 and response.json["error"] == "meals.not_eligible"
    assert db.session.execute(sa.select(sa.func.count(MealBooking.id))).scalar() == 0
    assert book(client, elder(m, 60, 0), m).status_code == 201


def test_statuses_add_to_the_tier_and_payable_never_goes_below_the_floor(client, m):
    diner = elder(m, 80, 0)
    make_meal_card(diner, low_income=True, lives_alone=True, disabled=True)
    price = book(client, diner, m).json["price"]
    # 4.00 (80+) + 3.00 (低保) + 1.00 (独居) + 1.00 (残疾) = 9.00 off 15.00
    assert [s["code"] for s in price["statuses"]] == ["low_income", "lives_alone", "disabled"]
    assert (price["subsidy"], price["payable"]) == ("9.00", "6.00")
    other = elder(m, 80, 0, name="赵阿婆")
    make_meal_card(other, low_income=True, lives_alone=True, disabled=True)
    cheap = book(client, other, m, set_meal_id=m.discount.id).json["price"]
    assert (cheap["list_price"], cheap["subsidy"], cheap["payable"]) == ("8.00", "8.00", "0.00")


def test_quantity_multiplies_exactly_and_delivery_adds_the_fee(client, m):
    diner = elder(m, 85)
    db.session.get(ResidentProfile, diner.id).unit_id = m.world.units[0].id
    db.session.commit()
    price = book(client, diner, m, quantity=2, mode="delivery").json["price"]
    assert (price["list_price"], price["subsidy"], price["delivery_fee"], price["payable"]) == \
        ("30.00", "8.00", "2.00", "24.00")


def test_residents_of_another_street_or_unknown_age_are_refused_at_a_closed_site(client, m):
    far = elder(m, 75, neighbourhood_id=m.world.far_nb.id)
    assert book(client, far, m).json["error"] == "meals.not_eligible"
    unknown = make_user(name="无生日", neighbourhood_id=m.world.nb.id)
    response = book(client, unknown, m)
    assert response.status_code == 403 and "出生日期" in response.json["message"]


def test_open_site_charges_the_general_price_to_the_ineligible(client, m):
    m.site.open_to_public = True
    db.session.commit()
    worker = make_user(name="白领", neighbourhood_id=m.world.far_nb.id, birth_date=date(1990, 5, 1))
    response = book(client, worker, m)
    assert response.status_code == 201
    price = response.json["price"]
    assert (price["tier"], price["list_price"], price["subsidy"], price["payable"]) == \
        ("general", "22.00", "0.00", "22.00")


def test_the_slots_say_why_there_is_no_elder_price_and_whether_the_general_price_is_open(client, m):
    worker = make_user(name="白领", neighbourhood_id=m.world.nb.id, birth_date=date(1990, 5, 1))
    url = f"/api/v1/meal-sites/{m.site.id}/slots?date={DAY.isoformat()}"
    closed = client.get(url, headers=auth(worker)).json
    assert closed["ineligible_reason"] == "too_young"
    assert closed["ineligible_message"] == "未达到长者助餐年龄，该助餐点不对公众开放"
    m.site.open_to_public = True
    db.session.commit()
    open_site = client.get(url, headers=auth(worker)).json
    assert open_site["ineligible_message"] == "未达到长者助餐年龄，可按普通价格预订"
    english = client.get(url, headers=auth(worker, **{"Accept-Language": "en"})).json
    assert english["ineligible_message"] == "Below the elder meal age; you may book at the general price"


def test_age_from_the_id_number_once_staff_verified_it(client, m):
    diner = make_user(name="钱阿公", neighbourhood_id=m.world.nb.id)
    number = "110105194611230018"  # born 1946-11-23: 80 on DAY
    assert client.patch("/api/v1/me", json={"id_number": number}, headers=auth(diner)).status_code == 200
    typed = book(client, diner, m)
    assert typed.status_code == 403 and typed.json["error"] == "meals.not_eligible" and "核实" in typed.json["message"]
    assert client.post(f"/api/v1/residents/{diner.id}/verification", json={"documents": ["id_card"],
                       "id_number": number}, headers=auth(m.staff)).status_code == 200
    assert book(client, diner, m).json["price"]["tier"] == "age80"


# --- the booking window and the cut-off (Asia/Shanghai) -------------------------------------------------------

def test_window_opens_at_midnight_seven_days_ahead(client, m):
    diner = elder(m, 70)
    clock.set_now(datetime(2026, 11, 15, 23, 59, 59, tzinfo=SHANGHAI))
    response = book(client, diner, m)
    assert response.status_code == 409 and response.json["error"] == "meals.window_not_open"
    clock.set_now(datetime(2026, 11, 16, 0, 0, 0, tzinfo=SHANGHAI))
    assert book(client, diner, m).status_code == 201


def test_cutoff_at_nine_for_lunch(client, m):
    clock.set_now(datetime(2026, 11, 23, 8, 59, 59, tzinfo=SHANGHAI))
    assert book(client, elder(m, 70), m).status_code == 201
    clock.set_now(datetime(2026, 11, 23, 9, 0, 0, tzinfo=SHANGHAI))
    response = book(client, elder(m, 71), m)
    assert response.status_code == 409 and response.json["error"] == "meals.cutoff_passed"


def test_dinner_cutoff_is_two_in_the_afternoon(client, m):
    dinner = make_meal_slot(m.site, DAY, "dinner", dine_in=10)
    clock.set_now(datetime(2026, 11, 23, 13, 59, tzinfo=SHANGHAI))
    assert book(client, elder(m, 70), m, slot_id=dinner.id, set_meal_id=dinner.set_meals[0].id).status_code == 201
    clock.set_now(datetime(2026, 11, 23, 14, 0, tzinfo=SHANGHAI))
    assert book(client, elder(m, 71), m, slot_id=dinner.id,
                set_meal_id=dinner.set_meals[0].id).json["error"] == "meals.cutoff_passed"


def test_cancel_free_until_cutoff_then_staff_only_with_a_reason(client, m):
    diner = elder(m, 70)
    first = book(client, diner, m).json
    clock.set_now(datetime(2026, 11, 23, 8, 59, 59, tzinfo=SHANGHAI))
    cancelled = client.post(f"/api/v1/meal-bookings/{first['id']}/cancel", json={}, headers=auth(diner))
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
    assert db.session.get(MealSlot, m.slot.id).booked_dine_in == 0
    again = book(client, diner, m).json  # a cancelled booking does not block a new one
    clock.set_now(datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI))
    late = client.post(f"/api/v1/meal-bookings/{again['id']}/cancel", json={}, headers=auth(diner))
    assert late.status_code == 409 and late.json["error"] == "meals.cutoff_passed"
    no_reason = client.post(f"/api/v1/meal-bookings/{again['id']}/cancel", json={}, headers=auth(m.staff))
    assert no_reason.status_code == 422 and "reason" in fields(no_reason)
    ok = client.post(f"/api/v1/meal-bookings/{again['id']}/cancel", json={"reason": "突发住院"}, headers=auth(m.staff))
    assert ok.status_code == 200 and ok.json["cancel_reason"] == "突发住院"
    assert db.session.execute(sa.select(AuditEntry).where(AuditEntry.action == "meal_booking.cancelled")).scalar()
    twice = client.post(f"/api/v1/meal-bookings/{again['id']}/cancel", json={"reason": "x"}, headers=auth(m.staff))
    assert twice.status_code == 409 and twice.json["error"] == "meals.not_cancellable"


# --- who may book for whom -------------------------------------------------------------------------------------

def test_proxy_booking_family_staff_and_strangers(client, m):
    diner = elder(m, 82)
    son = make_user(name="王志强", phone="13900000002", neighbourhood_id=m.world.far_nb.id)
    stranger = make_user(name="路人", neighbourhood_id=m.world.nb.id)
    link = FamilyLink(proxy_user_id=son.id, elder_user_id=diner.id, relation="子女", status="pending")
    db.session.add(link)
    db.session.commit()
    pending = book(client, son, m, diner_id=diner.id)
    assert pending.status_code == 403 and pending.json["error"] == "meals.not_allowed_for_diner"
    assert book(client, stranger, m, diner_id=diner.id).status_code == 403
    assert book(client, m.far_staff, m, diner_id=diner.id).status_code == 403
    assert book(client, son, m, diner_id=999999).status_code == 403
    link.status = "confirmed"
    db.session.commit()
    by_son = book(client, son, m, diner_id=diner.id)
    assert by_son.status_code == 201, by_son.json
    assert by_son.json["booked_by_role"] == "family" and by_son.json["diner_id"] == diner.id
    # The son sees it among his bookings, the elder too; the son may cancel it.
    assert [b["id"] for b in client.get("/api/v1/me/meal-bookings", headers=auth(son)).json["items"]] == \
        [by_son.json["id"]]
    assert client.get("/api/v1/me/meal-bookings", headers=auth(diner)).json["total"] == 1
    assert client.post(f"/api/v1/meal-bookings/{by_son.json['id']}/cancel", json={},
                       headers=auth(son)).status_code == 200
    by_staff = book(client, m.staff, m, diner_id=diner.id)
    assert by_staff.status_code == 201 and by_staff.json["booked_by_role"] == "staff"
    assert db.session.execute(sa.select(AuditEntry).where(AuditEntry.action == "meal_booking.created",
                                                          AuditEntry.actor_user_id == m.staff.id)).scalar()
    # A stranger cannot see or cancel it.
    assert client.get(f"/api/v1/meal-bookings/{by_staff.json['id']}", headers=auth(stranger)).status_code == 404
    assert client.post(f"/api/v1/meal-bookings/{by_staff.json['id']}/cancel", json={},
                       headers=auth(stranger)).status_code == 404


def test_one_booking_per_diner_per_slot(client, m):
    diner = elder(m, 70)
    assert book(client, diner, m).status_code == 201
    again = book(client, diner, m, set_meal_id=m.discount.id)
    assert again.status_code == 409 and again.json["error"] == "meals.already_booked"
    assert db.session.get(MealSlot, m.slot.id).booked_dine_in == 1


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_my_bookings_list_each_booking_as_its_own_answer_shows_it(client, m, lang):
    """The list's items are built as sent (service.meals.queries.booking_out), one booking's answer is dumped by
    BookingOut: for the diner and for a son who booked for her, with statuses, a delivery and a cancellation,
    each item is that booking's own answer, labels and Shanghai times included, in either language."""
    diner = elder(m, 80, 0)
    make_meal_card(diner, low_income=True, lives_alone=True)
    db.session.get(ResidentProfile, diner.id).unit_id = m.world.units[0].id
    son = make_user(name="王建军")
    db.session.add(FamilyLink(proxy_user_id=son.id, elder_user_id=diner.id, relation="子女", status="confirmed"))
    db.session.commit()
    dinner = make_meal_slot(m.site, DAY, "dinner", dine_in=5, delivery=5)
    own = book(client, diner, m)
    assert own.status_code == 201, own.json
    by_son = book(client, son, m, slot_id=dinner.id, set_meal_id=dinner.set_meals[0].id, mode="delivery",
                  diner_id=diner.id)
    assert by_son.status_code == 201, by_son.json
    assert client.post(f"/api/v1/meal-bookings/{own.json['id']}/cancel", json={},
                       headers=auth(diner)).status_code == 200
    headers = {"Accept-Language": "en" if lang == "en" else "zh-CN"}
    for viewer, count in ((diner, 2), (son, 1)):
        listed = client.get("/api/v1/me/meal-bookings", headers={**auth(viewer), **headers})
        assert listed.status_code == 200 and listed.json["total"] == count == len(listed.json["items"])
        for item in listed.json["items"]:
            alone = client.get(f"/api/v1/meal-bookings/{item['id']}", headers={**auth(viewer), **headers})
            assert item == alone.json
    items = {i["id"]: i for i in client.get("/api/v1/me/meal-bookings", headers={**auth(diner), **headers}).json["items"]}
    cancelled, delivered = items[own.json["id"]], items[by_son.json["id"]]
    assert cancelled["status_name"] == ("Cancelled" if lang == "en" else "已取消")
    assert cancelled["cancelled_at"].endswith("+08:00") and cancelled["starts_at"].endswith("+08:00")
    assert [s["code"] for s in delivered["price"]["statuses"]] == ["low_income", "lives_alone"]
    assert delivered["booked_by_role"] == "family" and delivered["token"] is not None


def test_a_full_slot_refuses_without_writing_and_a_booked_diner_still_hears_already_booked(client, m):
    """A slot already full when read is refused before anything is written; the diner who holds one of
    its seats is told so, not that the meal is full."""
    small = make_meal_slot(m.site, DAY, "dinner", dine_in=1)
    body = {"slot_id": small.id, "set_meal_id": small.set_meals[0].id}
    holder, late = elder(m, 70, name="甲"), elder(m, 71, name="乙")
    assert book(client, holder, m, **body).status_code == 201
    rows = db.session.execute(sa.select(sa.func.count()).select_from(MealBooking)).scalar()
    with statements_sent() as statements:
        full = book(client, late, m, **body)
    sent = [statement.split()[0].upper() for statement, _ in statements]
    assert sent and not {"INSERT", "UPDATE", "SAVEPOINT"} & set(sent), sent
    assert full.status_code == 409 and full.json["error"] == "meals.slot_full"
    again = book(client, holder, m, **body)
    assert again.status_code == 409 and again.json["error"] == "meals.already_booked"
    db.session.expire_all()
    assert db.session.execute(sa.select(sa.func.count()).select_from(MealBooking)).scalar() == rows
    assert db.session.get(MealSlot, small.id).booked_dine_in == 1
    # The seat comes back: the next attempt books it.
    held = db.session.execute(sa.select(MealBooking.id).where(MealBooking.slot_id == small.id)).scalar_one()
    assert client.post(f"/api/v1/meal-bookings/{held}/cancel", json={}, headers=auth(holder)).status_code == 200
    assert book(client, late, m, **body).json["status"] == "confirmed"


def test_a_counter_code_already_taken_is_drawn_again(client, m, monkeypatch):
    """Codes are random: when one is already in use the booking draws another instead of failing."""
    from service.meals import workflow

    first = book(client, elder(m, 70), m)
    assert first.status_code == 201
    taken = first.json["code"]
    draws = iter([taken, taken, "Q4R7T9"])
    monkeypatch.setattr(workflow, "new_code", lambda: next(draws))
    second = book(client, elder(m, 71), m)
    assert second.status_code == 201, second.json
    assert second.json["code"] == "Q4R7T9"
    assert db.session.get(MealSlot, m.slot.id).booked_dine_in == 2


# --- delivery ----------------------------------------------------------------------------------------------------

def _home(user, unit):
    db.session.get(ResidentProfile, user.id).unit_id = unit.id
    db.session.commit()


def test_delivery_only_for_80_plus_or_verified_flags(client, m):
    young = elder(m, 80, 1)  # 79 on the day
    _home(young, m.world.units[0])
    refused = book(client, young, m, mode="delivery")
    assert refused.status_code == 422 and refused.json["error"] == "meals.delivery_not_allowed"
    alone = elder(m, 65, name="独居阿婆")
    _home(alone, m.world.units[1])
    make_meal_card(alone, lives_alone=True)
    assert book(client, alone, m, mode="delivery").status_code == 201
    old = elder(m, 80)
    _home(old, m.world.units[2])
    assert book(client, old, m, mode="delivery").status_code == 201


def test_delivery_outside_the_radius_is_refused(client, m):
    m.site.delivery_radius_m = 50
    db.session.commit()
    diner = elder(m, 85)
    _home(diner, m.world.units[0])
    response = book(client, diner, m, mode="delivery")
    assert response.status_code == 422 and response.json["error"] == "meals.outside_delivery_radius"
    assert response.json["errors"] == {"mode": ["住址超出该助餐点的送餐范围"]}
    body = {"slot_id": m.slot.id, "set_meal_id": m.set_meal.id, "mode": "delivery"}
    english = client.post("/api/v1/meal-bookings", json=body, headers={**auth(diner), "Accept-Language": "en"})
    assert english.json["errors"] == {"mode": ["The address is outside the delivery radius"]}


# --- capacity, the priority reserve and the waitlist -----------------------------------------------------------

def test_full_slot_then_waitlist_and_promotion_in_priority_order(client, m):
    small = make_meal_slot(m.site, DAY, "dinner", dine_in=2)
    sm = small.set_meals[0].id
    a, b, c, d = (elder(m, 70, name=n) for n in ("甲", "乙", "丙", "丁"))
    make_meal_card(d, lives_alone=True)
    body = {"slot_id": small.id, "set_meal_id": sm}
    booking_a = book(client, a, m, **body).json
    booking_b = book(client, b, m, **body).json
    assert booking_a["status"] == booking_b["status"] == "confirmed"
    full = book(client, c, m, **body)
    assert full.status_code == 409 and full.json["error"] == "meals.slot_full"
    wait_c = book(client, c, m, **body, join_waitlist=True).json
    wait_d = book(client, d, m, **body, join_waitlist=True).json
    assert wait_c["status"] == wait_d["status"] == "waitlisted" and wait_d["priority_rank"] == 1
    client.post(f"/api/v1/meal-bookings/{booking_a['id']}/cancel", json={}, headers=auth(a))
    # D (独居, priority group 1) goes first although C waited longer.
    assert db.session.get(MealBooking, wait_d["id"]).status == "confirmed"
    assert db.session.get(MealBooking, wait_c["id"]).status == "waitlisted"
    notice = db.session.execute(sa.select(Notification).where(Notification.user_id == d.id,
                                                              Notification.kind == "meals.promoted")).scalar()
    assert notice is not None and wait_d["code"] in notice.body
    client.post(f"/api/v1/meal-bookings/{booking_b['id']}/cancel", json={}, headers=auth(b))
    assert db.session.get(MealBooking, wait_c["id"]).status == "confirmed"
    slot = db.session.get(MealSlot, small.id)
    db.session.refresh(slot)
    assert slot.booked_dine_in == 2


def test_priority_reserve_holds_seats_until_the_evening_before(client, m):
    ten = make_meal_slot(m.site, DAY, "dinner", dine_in=10)   # 20% → 2 seats held
    body = {"slot_id": ten.id, "set_meal_id": ten.set_meals[0].id}
    for i in range(8):
        assert book(client, elder(m, 65, name=f"普{i}"), m, **body).status_code == 201
    assert book(client, elder(m, 65, name="普9"), m, **body).json["error"] == "meals.slot_full"
    listing = client.get(f"/api/v1/meal-sites/{m.site.id}/slots?date={DAY}", headers=auth(elder(m, 66))).json
    assert next(s for s in listing["items"] if s["meal"] == "dinner")["remaining"]["dine_in"] == 0
    assert book(client, elder(m, 82, name="高龄"), m, **body).status_code == 201   # 80+: priority
    clock.set_now(datetime(2026, 11, 22, 18, 0, tzinfo=SHANGHAI))                  # released
    assert book(client, elder(m, 65, name="普10"), m, **body).status_code == 201
    assert book(client, elder(m, 65, name="普11"), m, **body).json["error"] == "meals.slot_full"


# --- slots listing and sites -----------------------------------------------------------------------------------

def test_slots_show_menu_remaining_and_the_price_for_the_diner(client, m):
    diner = elder(m, 80)
    make_meal_card(diner, lives_alone=True)
    son = make_user(name="儿子")
    db.session.add(FamilyLink(proxy_user_id=son.id, elder_user_id=diner.id, relation="子女", status="confirmed"))
    db.session.commit()
    book(client, elder(m, 70), m)
    response = client.get(f"/api/v1/meal-sites/{m.site.id}/slots?date={DAY}&diner_id={diner.id}", headers=auth(son))
    assert response.status_code == 200, response.json
    body = response.json
    assert body["eligible"] and body["delivery_allowed"] and body["priority"]
    slot = body["items"][0]
    assert slot["booking_open"] is True and slot["remaining"] == {"dine_in": 49, "pickup": 10, "delivery": 10}
    # Dates and times as the schema documents them: an ISO date, aware ISO 8601 datetimes.
    assert body["day"] == str(DAY) and slot["day"] == str(DAY)
    starts = datetime.fromisoformat(slot["starts_at"])
    assert starts.tzinfo is not None and starts.astimezone(SHANGHAI).date() == DAY
    assert datetime.fromisoformat(slot["cutoff_at"]) < starts
    first = slot["set_meals"][0]
    assert first["dishes"] == ["红烧鸡腿", "番茄炒蛋", "青菜"] and first["tags"] == ["low_salt"]
    assert (first["price"]["tier"], first["price"]["subsidy"], first["price"]["payable"]) == ("age80", "5.00", "10.00")
    stranger = make_user(name="路人")
    assert client.get(f"/api/v1/meal-sites/{m.site.id}/slots?date={DAY}&diner_id={diner.id}",
                      headers=auth(stranger)).status_code == 403


def test_sites_nearest_first_with_distance(client, m):
    far = make_meal_site(m.world, name="真如助餐点", lat=31.2500, lng=121.4400)
    near = make_meal_site(m.world, name="中浩云社区食堂", lat=31.2712, lng=121.4102)
    user = elder(m, 70)
    response = client.get("/api/v1/meal-sites?lat=31.2710&lng=121.4100", headers=auth(user))
    assert response.status_code == 200
    items = response.json["items"]
    assert [i["id"] for i in items] == [near.id, m.site.id, far.id]
    assert items[0]["distance_m"] < items[1]["distance_m"] < items[2]["distance_m"]
    # The same place given in WGS-84 (wx.getLocation) is converted first.
    from service import geo

    wlat, wlng = geo.gcj02_to_wgs84(31.2710, 121.4100)
    wgs = client.get(f"/api/v1/meal-sites?lat={wlat}&lng={wlng}&datum=wgs84", headers=auth(user)).json["items"]
    assert [i["id"] for i in wgs] == [near.id, m.site.id, far.id]
    assert abs(wgs[0]["distance_m"] - items[0]["distance_m"]) <= 1


def test_sites_carry_the_life_circle_walk_and_their_facility(client, m):
    """Walking distance and minutes come from the life circle's estimate (straight line × detour
    factor at the standard and the elder pace); a site that is a facility names it."""
    from service.life_circle import rules as lc_rules
    from tests.factories.life_circle import make_facility

    near = make_meal_site(m.world, name="中浩云社区食堂", lat=31.2712, lng=121.4102)
    facility = make_facility(category="meal", lat=near.lat, lng=near.lng, name=near.name)
    facility.meal_site_id = near.id
    db.session.commit()
    items = client.get("/api/v1/meal-sites?lat=31.2710&lng=121.4100", headers=auth(elder(m, 70))).json["items"]
    first = items[0]
    assert first["id"] == near.id and first["facility_id"] == facility.id
    assert all(i["facility_id"] is None for i in items[1:])
    walk = first["walk_m"]
    assert abs(walk - first["distance_m"] * lc_rules.current().walk.detour_factor) <= 1
    assert first["walk_minutes"] == math.ceil(walk / lc_rules.current().pace("standard").m_per_min)
    assert first["walk_minutes_elder"] == math.ceil(walk / lc_rules.current().pace("elder").m_per_min)
    assert client.get(f"/api/v1/meal-sites/{near.id}", headers=auth(m.staff)).json["facility_id"] == facility.id
    assert client.get(f"/api/v1/facilities/{facility.id}", headers=auth(m.staff)).json["meal_site_id"] == near.id


def test_operator_publishes_a_slot_with_its_menu(client, m):
    response = client.post(f"/api/v1/meal-sites/{m.site.id}/slots", headers=auth(m.operator), json={
        "day": "2026-11-24", "meal": "lunch", "capacity": {"dine_in": 40, "delivery": 5},
        "set_meals": [{"name": "软烂套餐", "elder_price": "12.50", "tags": ["soft"]}]})
    assert response.status_code == 201, response.json
    assert response.json["capacity"] == {"dine_in": 40, "pickup": 0, "delivery": 5}
    assert datetime.fromisoformat(response.json["cutoff_at"]) == datetime(2026, 11, 24, 9, tzinfo=SHANGHAI)
    assert response.json["set_meals"][0]["elder_price"] == "12.50"
    again = client.post(f"/api/v1/meal-sites/{m.site.id}/slots", headers=auth(m.operator), json={
        "day": "2026-11-24", "meal": "lunch", "capacity": {"dine_in": 40},
        "set_meals": [{"name": "x", "elder_price": "1.00"}]})
    assert again.status_code == 409
    bad = client.post(f"/api/v1/meal-sites/{m.site.id}/slots", headers=auth(m.operator), json={
        "day": "2026-11-25", "meal": "lunch", "capacity": {"dine_in": 40},
        "set_meals": [{"name": "x", "elder_price": "1.005"}]})
    assert bad.status_code == 422 and "set_meals" in fields(bad)
    other = make_meal_site(m.world, name="别家")
    assert client.post(f"/api/v1/meal-sites/{other.id}/slots", headers=auth(m.operator), json={
        "day": "2026-11-24", "meal": "lunch", "capacity": {"dine_in": 40},
        "set_meals": [{"name": "x", "elder_price": "1.00"}]}).status_code == 403


# --- the counter ---------------------------------------------------------------------------------------------------

def test_serve_by_code_once_then_already_served(client, m):
    diner = elder(m, 70)
    booking = book(client, diner, m).json
    assert len(booking["code"]) == 6 and not set(booking["code"]) & set("0O1IL2Z5S8B6G")
    path = f"/api/v1/meal-sites/{m.site.id}/serve"
    early = client.post(path, json={"code": booking["code"]}, headers=auth(m.operator))
    assert early.status_code == 409 and early.json["error"] == "meals.wrong_day"
    clock.set_now(datetime(2026, 11, 23, 11, 20, tzinfo=SHANGHAI))
    served = client.post(path, json={"code": booking["code"].lower()}, headers=auth(m.operator))
    assert served.status_code == 200 and served.json["status"] == "served"
    again = client.post(path, json={"token": booking["token"]}, headers=auth(m.operator))
    assert again.status_code == 409 and again.json["error"] == "meals.already_served"
    assert again.json["message"] == "该订餐已取餐，请勿重复核销"
    by_id = client.post(f"/api/v1/meal-bookings/{booking['id']}/serve", headers=auth(m.operator))
    assert by_id.status_code == 409 and by_id.json["error"] == "meals.already_served"


def test_serve_needs_the_sites_operator(client, m):
    booking = book(client, elder(m, 70), m).json
    clock.set_now(datetime(2026, 11, 23, 11, 20, tzinfo=SHANGHAI))
    other_site = make_meal_site(m.world, name="别家")
    other_op = make_user(name="别家运营", roles=[("operator", "meal_site", other_site.id)])
    assert client.post(f"/api/v1/meal-sites/{m.site.id}/serve", json={"code": booking["code"]},
                       headers=auth(other_op)).status_code == 404
    assert client.post(f"/api/v1/meal-sites/{other_site.id}/serve", json={"code": booking["code"]},
                       headers=auth(other_op)).status_code == 404
    resident = elder(m, 71)
    assert client.post(f"/api/v1/meal-sites/{m.site.id}/serve", json={"code": booking["code"]},
                       headers=auth(resident)).status_code == 403
    assert client.post(f"/api/v1/meal-sites/{m.site.id}/serve", json={"token": booking["token"]},
                       headers=auth(m.staff)).status_code == 200


# --- bad input -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("overrides, field", [
    ({"slot_id": 2147483647}, "slot_id"),
    ({"slot_id": 0}, "slot_id"),
    ({"set_meal_id": 2147483647}, "set_meal_id"),
    ({"quantity": 3}, "quantity"),          # rules: at most 2
    ({"quantity": 0}, "quantity"),
    ({"mode": "drone"}, "mode"),
    ({"diet_note": ""}, "diet_note"),
    ({"slot_id": "abc"}, "slot_id"),
])
def test_bad_booking_input_names_the_field_and_writes_nothing(client, m, overrides, field):
    response = book(client, elder(m, 70), m, **overrides)
    assert response.status_code == 422, response.json
    assert field in fields(response)
    assert db.session.execute(sa.select(sa.func.count(MealBooking.id))).scalar() == 0


def test_set_meal_of_another_slot_and_a_mode_not_offered(client, m):
    other = make_meal_slot(m.site, DAY, "dinner", dine_in=5)
    response = book(client, elder(m, 70), m, set_meal_id=other.set_meals[0].id)
    assert response.status_code == 422 and "set_meal_id" in fields(response)
    response = book(client, elder(m, 70), m, slot_id=other.id, set_meal_id=other.set_meals[0].id, mode="pickup")
    assert response.status_code == 422 and response.json["error"] == "meals.mode_not_offered"


@pytest.mark.parametrize("query", ["lat=31.2", "lat=91&lng=121", "datum=bd09&lat=31&lng=121", "page_size=1000"])
def test_bad_site_queries(client, m, query):
    assert client.get(f"/api/v1/meal-sites?{query}", headers=auth(m.staff)).status_code == 422


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "abc", "2026-00"])
def test_bad_statement_month(client, m, month):
    response = client.get(f"/api/v1/meal-sites/{m.site.id}/statement?month={month}", headers=auth(m.operator))
    assert response.status_code == 422 and "month" in fields(response)


def test_unknown_site_and_booking(client, m):
    assert client.get("/api/v1/meal-sites/2147483647", headers=auth(m.staff)).status_code == 404
    assert client.get("/api/v1/meal-bookings/2147483647", headers=auth(m.staff)).status_code == 404
    assert client.get("/api/v1/meal-sites/99999999999", headers=auth(m.staff)).status_code == 404


def test_meal_card_set_by_staff_in_scope_and_audited(client, m):
    diner = elder(m, 75)
    # A sensitive status is recorded only after the resident's separate consent (here on a signed form).
    refused = client.put(f"/api/v1/meal-cards/{diner.id}", json={"lives_alone": True, "diet_note": "少盐"},
                         headers=auth(m.staff))
    assert refused.status_code == 409 and refused.json["error"] == "privacy.sensitive_consent_missing"
    assert client.post(f"/api/v1/residents/{diner.id}/consents", headers=auth(m.staff), json={
        "notice_version": "2026.12", "purposes": ["sensitive_status"], "evidence": "paper_form"}).status_code == 200
    response = client.put(f"/api/v1/meal-cards/{diner.id}", json={"lives_alone": True, "diet_note": "少盐"},
                          headers=auth(m.staff))
    assert response.status_code == 200 and response.json["lives_alone"] is True
    assert response.json["card_no"].startswith("C")
    assert client.put(f"/api/v1/meal-cards/{diner.id}", json={"low_income": True},
                      headers=auth(m.far_staff)).status_code == 404
    assert client.put(f"/api/v1/meal-cards/{diner.id}", json={"low_income": True},
                      headers=auth(diner)).status_code == 403       # never self-declared
    assert client.get(f"/api/v1/meal-cards/{diner.id}", headers=auth(diner)).json["diet_note"] == "少盐"
    assert db.session.execute(sa.select(AuditEntry).where(AuditEntry.action == "meal_card.updated")).scalar()
    # The verified status now prices and ranks the booking.
    booking = book(client, diner, m).json
    assert booking["priority_rank"] == 1 and booking["diet_note"] == "少盐"


def test_my_upcoming_bookings_keep_the_meals_day_itself_and_drop_the_day_before(client, m):
    """``upcoming=true``: bookings of today (Shanghai) and later; without it, all of them, paged."""
    booked = book(client, m.elder, m)
    assert booked.status_code == 201, booked.json
    mine = lambda query="": client.get(f"/api/v1/me/meal-bookings{query}", headers=auth(m.elder)).json  # noqa: E731
    clock.set_now(datetime(DAY.year, DAY.month, DAY.day, 23, 59, tzinfo=SHANGHAI))   # the meal's day, late
    assert [b["id"] for b in mine("?upcoming=true")["items"]] == [booked.json["id"]]
    clock.set_now(datetime(DAY.year, DAY.month, DAY.day, 0, 0, tzinfo=SHANGHAI) + timedelta(days=1))
    assert mine("?upcoming=true") == {"items": [], "total": 0, "page": 1, "page_size": 20}
    everything = mine()
    assert everything["total"] == 1 and [b["id"] for b in everything["items"]] == [booked.json["id"]]
    assert mine("?page=2&page_size=1")["items"] == [] and mine("?page=2&page_size=1")["total"] == 1
