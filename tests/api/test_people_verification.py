"""Verified data only decides money, votes and care: what a resident types about their birth date,
residence or ID number is stored as declared and counts once 居委会 staff verified it against a document
(POST /residents/{id}/verification, audited). Meal eligibility, tiers, delivery and priority, and a
proxy's verified identity in voting, read only the verified values."""
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from models.audit import AuditEntry
from models.base import db
from models.places import District, Neighbourhood, Street
from service import clock
from service.clock import SHANGHAI
from tests.api.test_voting import start, upload
from tests.factories import VALID_ID, auth, give_consent, id_for, make_user, make_world, n
from tests.factories.meals import make_meal_site, make_meal_slot
from tests.factories.voting import make_voting_estate

DAY = date(2026, 11, 23)                                  # a Monday: the meal's day
BEFORE = datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI)   # booking is open; "today" is 2026-11-20


@pytest.fixture
def v():
    clock.set_now(BEFORE)
    world = make_world()
    world.nb.lat, world.nb.lng = 31.2702, 121.4101
    world.building.lat, world.building.lng = 31.2710, 121.4090
    district = District(code=f"cn{n()}", name="长宁区")
    db.session.add(district)
    db.session.flush()
    street = Street(code=f"hq{n()}", district_id=district.id, name="虹桥街道", prefix="HQ", lat=31.20, lng=121.41)
    db.session.add(street)
    db.session.flush()
    other_nb = Neighbourhood(code=f"gb{n()}", street_id=street.id, name="古北荣华居民区", committee_name="古北荣华居委会")
    db.session.add(other_nb)
    db.session.commit()
    # Open to the public: a resident who is not eligible pays the general price (22.00) instead of being refused.
    site = make_meal_site(world, open_to_public=True)
    slot = make_meal_slot(site, DAY, dine_in=50, pickup=10, delivery=10)

    class V:
        pass

    V.world, V.site, V.slot, V.other_nb = world, site, slot, other_nb
    V.set_meal = slot.set_meals[0]   # elder price 15.00, general price 22.00
    V.staff = make_user(name="李社工", roles=[("staff", "neighbourhood", world.nb.id)])
    V.far_staff = make_user(name="吴社工", roles=[("staff", "neighbourhood", world.far_nb.id)])
    return V


def slots(client, user, v, **headers):
    response = client.get(f"/api/v1/meal-sites/{v.site.id}/slots?date={DAY.isoformat()}", headers=auth(user, **headers))
    assert response.status_code == 200, response.json
    return response.json


def price(body) -> dict:
    return body["items"][0]["set_meals"][0]["price"]


def book(client, user, v, **overrides):
    body = {"slot_id": v.slot.id, "set_meal_id": v.set_meal.id, "mode": "dine_in", **overrides}
    return client.post("/api/v1/meal-bookings", json=body, headers=auth(user))


def declare(client, user, **values):
    response = client.patch("/api/v1/me", json=values, headers=auth(user))
    assert response.status_code == 200, response.json
    return response.json


def verify(client, staff, user, **body):
    return client.post(f"/api/v1/residents/{user.id}/verification", json=body, headers=auth(staff))


def audit_entries(action: str) -> list[AuditEntry]:
    return db.session.execute(sa.select(AuditEntry).where(AuditEntry.action == action)
                              .order_by(AuditEntry.id)).scalars().all()


# --- the audit's reproduction -----------------------------------------------------------------------------

def test_a_typed_birth_date_and_neighbourhood_buy_no_subsidy_delivery_or_priority(client, v):
    """A 55-year-old from another district types a 1931 birth date and the site's neighbourhood into /me.
    Before: an eligible 90+ diner (payable 22.00 → 10.00), delivery and priority rank 2. Now the typed
    values are declared only: general price, no delivery, no priority, and the answer says why."""
    resident = make_user(name="钱先生", id_number=id_for(date(1971, 3, 5)), neighbourhood_id=v.other_nb.id)
    assert price(slots(client, resident, v))["payable"] == "22.00"
    declare(client, resident, birth_date="1931-01-01", neighbourhood_id=v.world.nb.id)

    body = slots(client, resident, v)
    assert (body["eligible"], body["priority"], body["delivery_allowed"]) == (False, False, False)
    assert body["ineligible_reason"] == "age_unverified"
    assert "出生日期" in body["ineligible_message"] and "居委会核实" in body["ineligible_message"]
    assert (price(body)["tier"], price(body)["subsidy"], price(body)["payable"]) == ("general", "0.00", "22.00")
    english = slots(client, resident, v, **{"Accept-Language": "en"})
    assert "verif" in english["ineligible_message"] and "birth date" in english["ineligible_message"]

    delivery = book(client, resident, v, mode="delivery")
    assert delivery.status_code == 422 and delivery.json["error"] == "meals.delivery_not_allowed"
    booked = book(client, resident, v)
    assert booked.status_code == 201, booked.json
    assert (booked.json["price"]["eligible"], booked.json["price"]["payable"], booked.json["priority_rank"]) == \
        (False, "22.00", 9)


def test_a_typed_neighbourhood_awaits_verification_and_the_answer_says_so(client, v):
    elder = make_user(name="周阿婆", birth_date=date(1940, 1, 1), neighbourhood_id=v.other_nb.id)
    declare(client, elder, neighbourhood_id=v.world.nb.id)
    body = slots(client, elder, v)
    assert (body["eligible"], body["ineligible_reason"]) == (False, "residence_unverified")
    assert "居住" in body["ineligible_message"] and "居委会核实" in body["ineligible_message"]
    assert price(body)["payable"] == "22.00"
    refused_at_a_closed_site = book(client, elder, v)
    assert refused_at_a_closed_site.status_code == 201   # open to the public: the general price
    assert refused_at_a_closed_site.json["price"]["payable"] == "22.00"


# --- staff verification ------------------------------------------------------------------------------------

def test_staff_verification_makes_the_declared_values_count_and_is_audited(client, v):
    resident = make_user(name="孙阿公", phone="13812340001")
    profile = declare(client, resident, birth_date="1931-01-01", neighbourhood_id=v.world.nb.id)
    assert (profile["birth_date"], profile["neighbourhood_id"]) == (None, None)
    assert (profile["declared_birth_date"], profile["declared_neighbourhood_id"]) == ("1931-01-01", v.world.nb.id)
    assert profile["verification"]["birth_date"]["status"] == "pending"
    assert profile["verification"]["residence"]["status"] == "pending"
    assert slots(client, resident, v)["eligible"] is False

    # Staff of the declared neighbourhood find the resident among those awaiting verification.
    queue = client.get("/api/v1/residents?awaiting_verification=true", headers=auth(v.staff)).json
    assert [item["id"] for item in queue["items"]] == [resident.id]
    assert queue["items"][0]["profile"]["declared_birth_date"] == "1931-01-01"
    assert client.get("/api/v1/residents?awaiting_verification=true", headers=auth(v.far_staff)).json["total"] == 0

    clock.set_now(BEFORE + timedelta(minutes=5))
    done = verify(client, v.staff, resident, documents=["household_register"], birth_date="1931-01-01",
                  unit_id=v.world.units[0].id, note="户口簿原件已核对")
    assert done.status_code == 200, done.json
    checked = done.json["profile"]
    assert (checked["birth_date"], checked["neighbourhood_id"], checked["unit_id"]) == \
        ("1931-01-01", v.world.nb.id, v.world.units[0].id)
    assert (checked["declared_birth_date"], checked["declared_neighbourhood_id"]) == (None, None)
    for item in ("birth_date", "residence"):
        assert checked["verification"][item]["status"] == "verified"
        assert checked["verification"][item]["verified_by"] == v.staff.id
        assert datetime.fromisoformat(checked["verification"][item]["verified_at"]) == clock.now()

    body = slots(client, resident, v)
    assert (body["eligible"], body["priority"], body["delivery_allowed"]) == (True, True, True)
    assert (price(body)["tier"], price(body)["payable"]) == ("age90", "10.00")
    booked = book(client, resident, v, mode="delivery")
    assert booked.status_code == 201 and booked.json["priority_rank"] == 2
    assert booked.json["price"]["payable"] == "12.00"   # 10.00 and the 2.00 delivery fee

    entry, = audit_entries("resident.verified")
    assert (entry.actor_user_id, entry.actor_role, entry.object_type, entry.object_id) == \
        (v.staff.id, "staff", "user", str(resident.id))
    assert entry.at == clock.now()
    assert entry.before["birth_date"] is None and entry.before["declared_birth_date"] == "1931-01-01"
    assert entry.after["birth_date"] == "1931-01-01" and entry.after["unit_id"] == v.world.units[0].id
    assert entry.after["documents"] == ["household_register"] and entry.after["note"] == "户口簿原件已核对"
    assert client.get("/api/v1/residents?awaiting_verification=true", headers=auth(v.staff)).json["total"] == 0
    me = client.get("/api/v1/me", headers=auth(resident)).json["profile"]
    assert me["verification"]["residence"] == checked["verification"]["residence"]


def test_the_birth_date_in_a_typed_id_number_counts_only_once_staff_checked_the_card(client, v):
    number = id_for(date(1946, 11, 23))   # 80 on the meal's day
    resident = make_user(name="钱阿公", neighbourhood_id=v.world.nb.id)
    typed = declare(client, resident, id_number=number)
    assert typed["verification"]["identity"]["status"] == "pending" and typed["birth_date"] is None
    body = slots(client, resident, v)
    assert (body["eligible"], body["ineligible_reason"]) == (False, "age_unverified")
    assert "身份证" in body["ineligible_message"]

    checked = verify(client, v.staff, resident, documents=["id_card"], id_number=number)
    assert checked.status_code == 200, checked.json
    assert checked.json["profile"]["birth_date"] == "1946-11-23"
    assert checked.json["profile"]["verification"]["identity"]["status"] == "verified"
    body = slots(client, resident, v)
    assert body["eligible"] is True and price(body)["tier"] == "age80"

    # Typing another ID number ends the identity verification and the birth date that came with it.
    other = declare(client, resident, id_number=id_for(date(1946, 11, 23), sequence=125))
    assert other["verification"]["identity"]["status"] == "pending" and other["birth_date"] is None
    assert slots(client, resident, v)["ineligible_reason"] == "age_unverified"
    # Typing the verified number again changes nothing.
    resident2 = make_user(name="钱阿婆", neighbourhood_id=v.world.nb.id)
    declare(client, resident2, id_number=number)
    verify(client, v.staff, resident2, documents=["id_card"], id_number=number)
    assert declare(client, resident2, id_number=number)["verification"]["identity"]["status"] == "verified"


@pytest.mark.parametrize("days, eligible, tier", [(0, True, "age60"), (1, False, "general")])
def test_age_60_on_the_meal_day_counts_from_a_verified_birth_date(client, v, days, eligible, tier):
    birth = date(DAY.year - 60, DAY.month, DAY.day) + timedelta(days=days)   # 60th birthday: DAY + days
    resident = make_user(name="郑阿姨", neighbourhood_id=v.world.nb.id)
    declare(client, resident, birth_date=birth.isoformat())
    assert slots(client, resident, v)["eligible"] is False
    assert verify(client, v.staff, resident, documents=["household_register"],
                  birth_date=birth.isoformat()).status_code == 200
    body = slots(client, resident, v)
    assert body["eligible"] is eligible and price(body)["tier"] == tier
    assert body["ineligible_reason"] == (None if eligible else "too_young")


@pytest.mark.parametrize("typed, status", [
    ("0001-01-01", 422), ("1899-12-31", 422), ("1900-01-01", 200), ("2026-11-20", 200), ("2026-11-21", 422)])
def test_absurd_birth_dates_are_refused_naming_the_field(client, v, typed, status):
    resident = make_user(name="冯先生", neighbourhood_id=v.world.nb.id)
    give_consent(resident, "minor_guardian")   # a birth date of today is a newborn's: their guardian consented
    response = client.patch("/api/v1/me", json={"birth_date": typed}, headers=auth(resident))
    assert response.status_code == status, response.json
    if status == 422:
        assert "birth_date" in response.json["errors"] and "出生日期" in response.json["message"]
    checked = verify(client, v.staff, resident, documents=["household_register"], birth_date=typed)
    assert checked.status_code == status
    if status == 422:
        assert "birth_date" in checked.json["errors"]


def test_who_may_verify_and_what_is_refused(client, v):
    resident = make_user(name="陈阿婆")
    declare(client, resident, birth_date="1950-01-01", neighbourhood_id=v.world.nb.id, id_number=VALID_ID)
    good = {"documents": ["id_card"], "id_number": VALID_ID}
    assert verify(client, resident, resident, **good).status_code == 403                 # not staff
    assert verify(client, v.far_staff, resident, **good).status_code == 404              # out of scope
    stranger = make_user(name="无档案")
    assert verify(client, v.staff, stranger, **good).status_code == 404                  # no profile in scope
    nothing = verify(client, v.staff, resident, documents=["id_card"])
    assert nothing.status_code == 422 and nothing.json["error"] == "people.nothing_to_verify"
    no_document = verify(client, v.staff, resident, id_number=VALID_ID)
    assert no_document.status_code == 422 and "documents" in no_document.json["errors"]["json"]
    bad_id = verify(client, v.staff, resident, documents=["id_card"], id_number="110105194912310021")
    assert bad_id.status_code == 422 and "id_number" in bad_id.json["errors"]
    disagree = verify(client, v.staff, resident, documents=["id_card"], id_number=VALID_ID, birth_date="1950-01-01")
    assert disagree.status_code == 422 and "birth_date" in disagree.json["errors"]   # the ID says 1949-12-31
    elsewhere = verify(client, v.staff, resident, documents=["residence_permit"], neighbourhood_id=v.other_nb.id)
    assert elsewhere.status_code == 403 and elsewhere.json["error"] == "people.out_of_scope"
    no_unit = verify(client, v.staff, resident, documents=["residence_permit"], unit_id=2147483647)
    assert no_unit.status_code == 422 and "unit_id" in no_unit.json["errors"]
    wrong_unit = verify(client, v.staff, resident, documents=["residence_permit"], neighbourhood_id=v.world.nb.id,
                        unit_id=v.world.units[2].id)   # building 2 belongs to the other 居委会
    assert wrong_unit.status_code == 422 and "unit_id" in wrong_unit.json["errors"]
    # Staff do not verify themselves.
    declare(client, v.staff, birth_date="1960-01-01", neighbourhood_id=v.world.nb.id)
    own = verify(client, v.staff, v.staff, documents=["household_register"], birth_date="1960-01-01")
    assert own.status_code == 403 and own.json["error"] == "people.verify_self"
    assert audit_entries("resident.verified") == []
    assert verify(client, v.staff, resident, **good).status_code == 200


def test_a_resident_edits_contact_details_without_touching_what_staff_verified(client, v):
    resident = make_user(name="何阿姨", birth_date=date(1950, 1, 1), neighbourhood_id=v.world.nb.id)
    changed = declare(client, resident, name="何秀英", address="香泉路 88 弄 3 号", birth_date="1930-01-01")
    assert (changed["name"], changed["address"]) == ("何秀英", "香泉路 88 弄 3 号")
    assert (changed["birth_date"], changed["declared_birth_date"]) == ("1950-01-01", "1930-01-01")
    assert changed["verification"]["birth_date"]["status"] == "pending"
    assert price(slots(client, resident, v))["tier"] == "age70"   # the verified 1950, not the typed 1930
    # Typing the verified value again leaves nothing to verify.
    same = declare(client, resident, birth_date="1950-01-01", neighbourhood_id=v.world.nb.id)
    assert (same["declared_birth_date"], same["declared_neighbourhood_id"]) == (None, None)
    assert same["verification"]["birth_date"]["status"] == "verified"


# --- voting: a proxy's verified identity -------------------------------------------------------------------

def test_a_typed_id_number_does_not_make_a_verified_proxy(client):
    world = make_world()
    clerk = make_user(name="李", roles=[("staff", "neighbourhood", world.nb.id)])
    e = make_voting_estate(world, [("1", "1", "50.00", ("a",), True)])
    motion_id = start(client, clerk, e["estate"].id)
    proxy = make_user(name="赵代理", phone="13812340002")
    declare(client, proxy, id_number=VALID_ID, neighbourhood_id=world.nb.id)

    def register():
        return client.post(f"/api/v1/motions/{motion_id}/proxies", json={
            "unit_id": e["units"][0].id, "proxy_user_id": proxy.id, "mandate_upload_id": upload(clerk)},
            headers=auth(clerk))

    refused = register()
    assert refused.status_code == 422 and refused.json["error"] == "voting.proxy_unverified"
    assert verify(client, clerk, proxy, documents=["id_card"], id_number=VALID_ID).status_code == 200
    assert register().status_code == 201


# --- what a declared residence still does ------------------------------------------------------------------

def test_a_declared_neighbourhood_still_routes_an_address_only_report(client, v):
    """Routing a report grants nothing, so the neighbourhood a resident typed is enough to reach their 居委会
    (every neighbourhood on file became declared when verification began)."""
    resident = make_user(name="卫阿姨", phone="13812340003")
    declare(client, resident, neighbourhood_id=v.world.nb.id)
    response = client.post("/api/v1/cases", json={"category": "corridor_clutter", "description": "3号楼楼道堆满纸箱",
                                                  "address": "香泉路88弄3号"}, headers=auth(resident))
    assert response.status_code == 201, response.json
    assert response.json["neighbourhood_id"] == v.world.nb.id
