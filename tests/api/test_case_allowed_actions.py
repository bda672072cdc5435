"""A case's ``allowed_actions`` is what this caller may do now: for each kind of caller (the reporter, another
resident, plain staff, the 居委会主任, street staff, a district admin, staff elsewhere: the demo roles) and a range of
case states, every action listed is accepted when sent with valid input, and every action not listed is refused
(403, 404 or 409)."""
import pytest

from api.extensions import limiter
from models.base import db
from models.people import RoleAssignment
from service.cases import states
from tests.factories import auth, make_user, make_world

HERE = {"lat": 31.2702, "lng": 121.4101}
REPORTER_ONLY = {"withdraw": "withdraw", "rate": "rating"}  # the reporter's own endpoints; reopen is both
EVERY_ACTION = sorted(set(states.TRANSITIONS) | set(states.REPORTER_ACTIONS))


@pytest.fixture
def world(client):
    place = make_world()
    place.nb.lat, place.nb.lng = HERE["lat"], HERE["lng"]
    db.session.commit()
    callers = {
        "reporter": make_user(name="王秀英", phone="13812345678", neighbourhood_id=place.nb.id),
        "neighbour": make_user(name="张三", phone="13900000001", neighbourhood_id=place.nb.id),
        "staff": make_user(name="李", roles=[("staff", "neighbourhood", place.nb.id)]),
        "head": make_user(name="周主任"),
        "street": make_user(name="街道", roles=[("staff", "street", place.street.id)]),
        "admin": make_user(name="区管理员", roles=[("admin", "district", place.district.id)]),
        "far_staff": make_user(name="吴", roles=[("staff", "neighbourhood", place.far_nb.id)]),
    }
    db.session.add(RoleAssignment(user_id=callers["head"].id, role="staff", scope_type="neighbourhood",
                                  scope_id=place.nb.id, title="nc_head"))
    db.session.commit()
    headers = {name: auth(user) for name, user in callers.items()}
    limiter.enabled = False
    yield place, headers
    limiter.enabled = True


def _ok(response, what):
    assert response.status_code in (200, 201), (what, response.status_code, response.json)
    return response.json


def _post(client, headers, path, body):
    return client.post(path, json=body, headers=headers)


def _act(client, headers, case_id, action, **body):
    return _post(client, headers, f"/api/v1/cases/{case_id}/actions", {"action": action, **body})


def _valid_input(client, place, headers, action: str) -> dict:
    """A body that the action accepts, as a client would send it."""
    if action == "merge":
        other = _ok(_post(client, headers["reporter"], "/api/v1/cases",
                          {"category": "corridor_clutter", "description": "又一处堆物", "location": HERE}), "report")
        return {"into_case_id": other["id"]}
    return {"contact": {"method": "phone", "note": "已电话联系"},
            "resolve": {"outcome": "solved", "reply": "已清理"},
            "return": {"reason": "不属于本居委会"},
            "reassign": {"neighbourhood_id": place.nb.id},
            "request_extension": {"reason": "需协调物业", "working_days": 3},
            "deny_extension": {"reason": "期限足够"},
            "mark_complex": {"reason": "涉及多个部门"},
            "reject": {"reason": "不属于受理范围"},
            "reopen": {"reason": "没有解决"},
            "visit": {"result": "solved"},
            "comment": {"note": "备注"},
            "rate": {"score": 5}}.get(action, {})


def _case_in(client, place, headers, state: str) -> int:
    """A new case brought to ``state`` by its reporter and the neighbourhood's staff."""
    staff, head, reporter = headers["staff"], headers["head"], headers["reporter"]
    case_id = _ok(_post(client, reporter, "/api/v1/cases",
                        {"category": "corridor_clutter", "description": "楼道堆满纸箱", "location": HERE}), "report")["id"]
    steps = {
        "dispatched": [],
        "accepted": ["accept"],
        "complex": ["accept", "mark_complex"],
        "extension_pending": ["accept", "request_extension"],
        "uncontacted": ["accept", "start"],
        "in_progress": ["accept", "contact", "start"],
        "resolved": ["accept", "contact", "start", "resolve"],
        "closed": ["accept", "contact", "start", "resolve", "close"],
        "rated_satisfied": ["accept", "contact", "start", "resolve", "close", "rate"],
        "visited": ["accept", "contact", "start", "resolve", "close", "visit"],
        "reopened": ["accept", "contact", "start", "resolve", "close", "reopen"],
        "returned": ["return"],
        "rejected": ["reject"],
        "withdrawn": ["withdraw"],
    }[state]
    for step in steps:
        body = _valid_input(client, place, headers, step)
        if step in ("rate", "withdraw") or (step == "reopen" and state == "reopened"):
            _ok(_post(client, reporter, f"/api/v1/cases/{case_id}/{REPORTER_ONLY.get(step, step)}", body), step)
        else:
            _ok(_act(client, head if step == "mark_complex" else staff, case_id, step, **body), step)
    return case_id


def _attempts(client, headers, caller: str, case_id: int, action: str, body: dict):
    """The requests that would take ``action``: the staff endpoint, the reporter's endpoint, or (reopen) both."""
    paths = []
    if action in states.TRANSITIONS:
        paths.append(lambda: _act(client, headers[caller], case_id, action, **body))
    if action in states.REPORTER_ACTIONS:
        path = f"/api/v1/cases/{case_id}/{REPORTER_ONLY.get(action, action)}"
        paths.append(lambda: _post(client, headers[caller], path, body))
    return paths


STATES = ["dispatched", "accepted", "complex", "extension_pending", "uncontacted", "in_progress", "resolved",
          "closed", "rated_satisfied", "visited", "reopened", "returned", "rejected", "withdrawn"]
CALLERS = ["reporter", "neighbour", "staff", "head", "street", "admin", "far_staff"]


@pytest.mark.parametrize("state", STATES)
def test_every_listed_action_is_accepted_and_every_other_is_refused(client, world, state):
    place, headers = world
    listed_by = {}
    for caller in CALLERS:
        case_id = _case_in(client, place, headers, state)
        seen = client.get(f"/api/v1/cases/{case_id}", headers=headers[caller])
        assert seen.status_code in (200, 404)
        listed = seen.json["allowed_actions"] if seen.status_code == 200 else []
        listed_by[caller] = set(listed)
        for action in EVERY_ACTION:
            if action in listed:
                continue
            body = _valid_input(client, place, headers, action)
            for attempt in _attempts(client, headers, caller, case_id, action, body):
                refused = attempt()
                assert refused.status_code in (403, 404, 409), (caller, state, action, refused.json)
        for action in listed:
            fresh = _case_in(client, place, headers, state)
            body = _valid_input(client, place, headers, action)
            answers = [attempt() for attempt in _attempts(client, headers, caller, fresh, action, body)]
            assert any(a.status_code in (200, 201) for a in answers), (
                caller, state, action, [(a.status_code, a.json) for a in answers])
    # Who may do what, in words: residents other than the reporter and staff elsewhere are offered nothing;
    # plain staff never a supervisor's action; the reporter only their own.
    assert listed_by["neighbour"] == listed_by["far_staff"] == set()
    assert not listed_by["staff"] & states.SUPERVISOR_ACTIONS
    assert listed_by["reporter"] <= set(states.REPORTER_ACTIONS)
    assert listed_by["staff"] <= listed_by["head"] == listed_by["street"] == listed_by["admin"]


def test_what_each_caller_is_offered_in_telling_states(client, world):
    """The lists themselves, where the issue found them wrong: plain staff are not offered the supervisor's
    extension decision, and nobody is offered one when none is pending."""
    place, headers = world

    def offered(state, caller):
        case_id = _case_in(client, place, headers, state)
        return set(client.get(f"/api/v1/cases/{case_id}", headers=headers[caller]).json["allowed_actions"])

    assert offered("extension_pending", "staff") == {"contact", "start", "return", "escalate", "merge", "comment"}
    assert offered("extension_pending", "head") == {"contact", "start", "return", "reassign", "approve_extension",
                                                    "deny_extension", "mark_complex", "escalate", "merge", "comment"}
    assert offered("accepted", "head") == {"contact", "start", "return", "reassign", "request_extension",
                                           "mark_complex", "escalate", "merge", "comment"}
    assert offered("uncontacted", "staff") == {"contact", "request_extension", "escalate", "comment"}
    assert offered("dispatched", "reporter") == {"withdraw"}
    assert offered("closed", "reporter") == {"rate", "reopen"}
    assert offered("rated_satisfied", "reporter") == set()
    assert offered("visited", "staff") == {"reopen", "comment"}


@pytest.mark.parametrize("field, value", [("action", "approve"), ("method", "email"), ("outcome", "done"),
                                          ("result", "satisfied"), ("working_days", 31)])
def test_an_enumerated_input_out_of_its_values_is_422_naming_the_field(client, world, field, value):
    place, headers = world
    case_id = _case_in(client, place, headers, "closed")
    body = {"action": "visit", "result": "solved", field: value}
    refused = _post(client, headers["staff"], f"/api/v1/cases/{case_id}/actions", body)
    assert refused.status_code == 422 and field in refused.json["errors"]["json"], refused.json
    seen = client.get(f"/api/v1/cases/{case_id}", headers=headers["staff"]).json
    assert seen["visit_result"] is None  # nothing changed


def test_the_queue_refuses_a_category_that_does_not_exist_naming_the_field(client, world):
    place, headers = world
    refused = client.get("/api/v1/cases?category=no_such_category", headers=headers["staff"])
    assert refused.status_code == 422 and refused.json["error"] == "cases.category_unknown"
    assert "category" in refused.json["errors"]
    assert client.get("/api/v1/cases?category=corridor_clutter", headers=headers["staff"]).status_code == 200
