"""Two staff acting on one case at the same moment: one wins, the other gets a 409, no event is lost.
Real threads, real commits (on PostgreSQL the row versions decide; on SQLite the write lock)."""

import pytest
import sqlalchemy as sa

from models.base import db
from models.cases import Case, CaseEvent
from tests.api.test_cases import HERE
from tests.factories import auth, make_user, make_world
from tests.concurrency import run_at_once


@pytest.fixture
def team():
    """A resident and two staff of the same neighbourhood."""
    world = make_world()
    world.nb.lat, world.nb.lng = HERE["lat"], HERE["lng"]
    db.session.commit()
    resident = make_user(name="王秀英", phone="13812345678", neighbourhood_id=world.nb.id)
    alice = make_user(name="李", roles=[("staff", "neighbourhood", world.nb.id)])
    bob = make_user(name="陈", roles=[("staff", "neighbourhood", world.nb.id)])
    return resident, alice, bob


@pytest.mark.real_commits
@pytest.mark.parametrize("rounds", [5])
def test_two_staff_accepting_at_once_one_wins(app, team, rounds):
    resident, alice, bob = team
    client = app.test_client()
    headers = {who: auth(who) for who in (resident, alice, bob)}
    for _ in range(rounds):
        case_id = client.post("/api/v1/cases", json={"category": "garbage", "description": "垃圾未清运",
                                                     "location": HERE}, headers=headers[resident]).json["id"]
        version_before = db.session.get(Case, case_id).version
        db.session.remove()
        path = f"/api/v1/cases/{case_id}/actions"
        results = run_at_once(app, [(path, {"action": "accept"}, headers[alice]),
                                    (path, {"action": "accept"}, headers[bob])])
        codes = sorted(code for code, _ in results)
        assert codes == [200, 409], results
        loser = next(body for code, body in results if code == 409)
        assert loser["error"] in ("cases.action_not_allowed", "cases.concurrent_update")
        accepts = db.session.execute(sa.select(sa.func.count()).select_from(CaseEvent).where(
            CaseEvent.case_id == case_id, CaseEvent.action == "accept")).scalar()
        case = db.session.get(Case, case_id)
        assert accepts == 1 and case.status == "accepted" and case.version == version_before + 1
        db.session.remove()


@pytest.mark.real_commits
def test_different_actions_at_once_are_serialised_without_losing_an_event(app, team):
    resident, alice, bob = team
    client = app.test_client()
    alice_headers, bob_headers = auth(alice), auth(bob)
    case_id = client.post("/api/v1/cases", json={"category": "garbage", "description": "垃圾未清运", "location": HERE},
                          headers=auth(resident)).json["id"]
    client.post(f"/api/v1/cases/{case_id}/actions", json={"action": "accept"}, headers=alice_headers)
    db.session.remove()
    path = f"/api/v1/cases/{case_id}/actions"
    results = run_at_once(app, [(path, {"action": "comment", "note": "甲的备注"}, alice_headers),
                                (path, {"action": "comment", "note": "乙的备注"}, bob_headers)])
    succeeded = [code for code, _ in results if code == 200]
    comments = db.session.execute(sa.select(CaseEvent.note).where(
        CaseEvent.case_id == case_id, CaseEvent.action == "comment")).scalars().all()
    # Every success left its event; a refused one left none.
    assert len(comments) == len(succeeded) >= 1
    assert all(code in (200, 409) for code, _ in results)


@pytest.mark.real_commits
def test_two_visits_of_one_closure_at_once_one_is_recorded(app, team):
    resident, alice, bob = team
    client = app.test_client()
    alice_headers, bob_headers = auth(alice), auth(bob)
    case_id = client.post("/api/v1/cases", json={"category": "garbage", "description": "垃圾未清运", "location": HERE,
                                                 "contact_consent": False}, headers=auth(resident)).json["id"]
    path = f"/api/v1/cases/{case_id}/actions"
    for action, payload in (("accept", {}), ("start", {}), ("resolve", {"outcome": "solved", "reply": "已清运"}),
                            ("close", {})):
        assert client.post(path, json={"action": action, **payload}, headers=alice_headers).status_code == 200
    db.session.remove()
    results = run_at_once(app, [(path, {"action": "visit", "result": "solved"}, alice_headers),
                                (path, {"action": "visit", "result": "unsolved"}, bob_headers)])
    assert sorted(code for code, _ in results) == [200, 409], results
    loser = next(body for code, body in results if code == 409)
    assert loser["error"] in ("cases.already_visited", "cases.concurrent_update")
    visits = db.session.execute(sa.select(CaseEvent.data).where(
        CaseEvent.case_id == case_id, CaseEvent.action == "visit")).scalars().all()
    winner = next(body for code, body in results if code == 200)
    assert len(visits) == 1 and visits[0]["result"] == winner["visit_result"]
    assert db.session.get(Case, case_id).visit_result == winner["visit_result"]
