"""GET /api/v1/me/data-access: a resident reads when staff viewed or changed their personal data."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from models.audit import AuditEntry
from models.base import db
from tests.api.test_cases import HERE
from tests.factories import auth, make_user, make_world
from tests.statements import statements_sent

PHONE = "13812345678"


@pytest.fixture
def world():
    w = make_world()
    w.nb.lat, w.nb.lng = HERE["lat"], HERE["lng"]
    db.session.commit()
    return w


def test_a_resident_sees_who_looked_at_their_data_and_nobody_else_does(client, world):
    elder = make_user(name="王秀英", phone=PHONE, neighbourhood_id=world.nb.id)
    neighbour = make_user(name="张三", phone="13900000001", neighbourhood_id=world.nb.id)
    staff = make_user(name="李红", roles=[("staff", "neighbourhood", world.nb.id)])
    admin = make_user(name="赵", roles=[("admin", "district", world.district.id)])
    # Staff view the elder, and the reporter's details of the elder's case; the elder reads their own case.
    assert client.get(f"/api/v1/residents/{elder.id}", headers=auth(staff)).status_code == 200
    case_id = client.post("/api/v1/cases", json={"category": "corridor_clutter", "description": "3号楼楼道堆满纸箱",
                                                 "location": HERE}, headers=auth(elder)).json["id"]
    assert client.get(f"/api/v1/cases/{case_id}", headers=auth(staff)).status_code == 200
    assert client.get(f"/api/v1/cases/{case_id}", headers=auth(elder)).status_code == 200
    assert client.get(f"/api/v1/residents/{elder.id}", headers=auth(admin)).status_code == 200
    assert client.get(f"/api/v1/residents/{neighbour.id}", headers=auth(staff)).status_code == 200

    page = client.get("/api/v1/me/data-access", headers=auth(elder))
    assert page.status_code == 200
    body = page.json
    assert body["total"] == 3 and len(body["items"]) == 3
    newest, case_view, first = body["items"]
    assert (newest["action"], newest["actor_role"], newest["actor_name"]) == ("resident.viewed", "admin", None)
    assert (case_view["action"], case_view["object_type"], case_view["object_id"]) == (
        "case.reporter_viewed", "case", str(case_id))
    assert case_view["action_name"] == "查看诉求人信息" and case_view["actor_role_name"] == "工作人员"
    assert case_view["actor_name"] == "李红"   # staff's names are shown (config/rules/privacy.yaml)
    assert first["street_id"] == world.street.id and first["street_name"] == world.street.name
    assert first["at"].endswith("+08:00")
    # In English, and by page.
    english = client.get("/api/v1/me/data-access?page_size=1&page=2",
                         headers=auth(elder, **{"Accept-Language": "en"})).json
    assert english["total"] == 3 and [i["action_name"] for i in english["items"]] == ["Viewed a reporter's details"]
    # The neighbour sees only the view of their own data; a resident nobody looked at sees nothing.
    theirs = client.get("/api/v1/me/data-access", headers=auth(neighbour)).json["items"]
    assert [(i["action"], i["object_id"]) for i in theirs] == [("resident.viewed", str(neighbour.id))]
    assert client.get("/api/v1/me/data-access", headers=auth(make_user(name="周"))).json == {
        "items": [], "total": 0, "page": 1, "page_size": 20}
    assert client.get("/api/v1/me/data-access").status_code == 401
    assert client.get("/api/v1/me/data-access?page=0", headers=auth(elder)).status_code == 422


def test_the_entries_a_person_reads_are_found_by_their_own_index(client, world, is_postgres):
    """One index (subject_user_id, id) serves the page: each statement reading the audit log uses it."""
    elder = make_user(name="王秀英", phone=PHONE, neighbourhood_id=world.nb.id)
    staff = make_user(name="李红", roles=[("staff", "neighbourhood", world.nb.id)])
    client.get(f"/api/v1/residents/{elder.id}", headers=auth(staff))
    with statements_sent() as seen:
        assert client.get("/api/v1/me/data-access", headers=auth(elder)).json["total"] == 1
    reads = [(s, p) for s, p in seen if "FROM audit_entry" in s]
    assert len(reads) == 2
    connection = db.session.connection()
    if is_postgres:
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    for statement, parameters in reads:
        explain = "EXPLAIN " if is_postgres else "EXPLAIN QUERY PLAN "
        plan = " ".join(str(r) for r in connection.exec_driver_sql(explain + statement, parameters).all())
        assert "ix_audit_entry_subject" in plan, plan


def test_entries_written_about_a_person_name_them_as_their_subject(client, world):
    """A staff change of a person's data names that person: a verification, a family link's decision."""
    elder = make_user(name="王秀英", phone=PHONE, neighbourhood_id=world.nb.id)
    staff = make_user(name="李红", roles=[("staff", "neighbourhood", world.nb.id)])
    verified = client.post(f"/api/v1/residents/{elder.id}/verification",
                           json={"documents": ["household_register"], "neighbourhood_id": world.nb.id},
                           headers=auth(staff))
    assert verified.status_code == 200, verified.json
    subjects = dict(db.session.execute(sa.select(AuditEntry.action, AuditEntry.subject_user_id)).all())
    assert subjects.get("resident.verified") == elder.id
