"""Facilities edited or imported at the same moment: one edit wins and the other gets a 409;
two imports of one file create each facility once. Real threads, real commits."""

import pytest
import sqlalchemy as sa

from models.audit import AuditEntry
from models.base import db
from models.life_circle import Facility
from service.life_circle import queries
from tests.factories import auth, make_user, make_world, north
from tests.factories.life_circle import make_facility
from tests.concurrency import run_at_once as at_once


@pytest.fixture(autouse=True)
def _fresh_item_cache():
    """Each test starts with an empty nearby item cache: rolled-back tests reuse ids (SQLite)."""
    queries.STATIC_CACHE.clear()
    yield
    queries.STATIC_CACHE.clear()


@pytest.fixture
def staff():
    world = make_world()
    alice = make_user(name="李", roles=[("staff", "street", world.street.id)])
    bob = make_user(name="陈", roles=[("admin", "street", world.street.id)])
    street = {"id": world.street.id, "code": world.street.code}
    return street, alice, bob


@pytest.mark.real_commits
def test_two_editors_at_once_one_wins(app, staff):
    street, alice, bob = staff
    headers = {who: auth(who) for who in (alice, bob)}
    for round_ in range(4):
        facility = make_facility(category="meal", street_id=street["id"], name=f"食堂{round_}")
        db.session.commit()
        fid = facility.id
        db.session.remove()
        path = f"/api/v1/facilities/{fid}"
        results = at_once(app, [("PATCH", path, {"phone": "021-111", "version": 1}, headers[alice]),
                                ("PATCH", path, {"phone": "021-222", "version": 1}, headers[bob])])
        assert sorted(code for code, _ in results) == [200, 409], results
        assert next(body for code, body in results if code == 409)["error"] == "life_circle.facility_changed"
        winner = next(body for code, body in results if code == 200)
        stored = db.session.get(Facility, fid)
        assert stored.version == 2 and stored.phone == winner["phone"]
        updates = db.session.execute(sa.select(sa.func.count()).select_from(AuditEntry).where(
            AuditEntry.object_id == str(fid), AuditEntry.action == "life_circle.facility.update")).scalar()
        assert updates == 1
        db.session.remove()


@pytest.mark.real_commits
def test_the_same_import_twice_at_once_creates_each_facility_once(app, staff):
    street, alice, bob = staff
    code = street["code"]
    headers = [auth(alice), auth(bob)]
    db.session.remove()
    rows = "\n".join(f"C-{i},食堂{i},meal,{north(31.2, 10 * i)},121.4,{code}" for i in range(30))
    data = "external_id,name,category,lat,lng,street_code\n" + rows + "\n"
    body = {"format": "csv", "data": data}
    results = at_once(app, [("POST", "/api/v1/facilities/import", body, headers[0]),
                            ("POST", "/api/v1/facilities/import", body, headers[1])])
    codes = sorted(code for code, _ in results)
    assert codes in ([200, 200], [200, 409]), results
    created = sum(body["created"] for status, body in results if status == 200)
    assert created == 30
    assert db.session.execute(sa.select(sa.func.count(Facility.id))).scalar() == 30
    db.session.remove()
