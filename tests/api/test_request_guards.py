"""Requests that once crashed with a 500 are 4xx in the envelope, on every endpoint: JSON nested too deeply,
lone surrogates in JSON strings, tokens whose subject is not an id."""
import pytest
import sqlalchemy as sa

from config import ROOT
from models.base import db
from models.people import ResidentProfile
from tests.factories import auth, make_user, make_world

ENVELOPE_KEYS = {"code", "status", "error", "message", "errors", "request_id"}
HERE = {"lat": 31.2702, "lng": 121.4101}


def envelope(response, status, error=None):
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    body = response.get_json()
    assert set(body) == ENVELOPE_KEYS and body["code"] == status
    if error:
        assert body["error"] == error, body
    text = response.get_data(as_text=True)
    for leak in ("Traceback", "RecursionError", "sqlalchemy", str(ROOT), "surrogates"):
        assert leak not in text
    return body


@pytest.fixture
def resident():
    world = make_world()
    return make_user(name="王秀英", neighbourhood_id=world.nb.id)


def _endpoints(user):
    """(method, path, headers, a valid body whose first field the test replaces): unauthenticated and
    authenticated, across domains."""
    headers = auth(user)
    return [
        ("post", "/api/v1/auth/demo", {}, {"username": "resident.demo"}),
        ("post", "/api/v1/auth/wechat", {}, {"code": "0a3Xyz000abc"}),
        ("post", "/api/v1/cases", headers, {"description": "3号楼楼道堆满纸箱", "category": "corridor_clutter",
                                            "location": HERE}),
        ("patch", "/api/v1/me", headers, {"name": "王秀英"}),
        ("post", "/api/v1/me/family-links", headers, {"relation": "child", "elder_name": "王", "elder_phone": "13800000000"}),
    ]


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [990, 65])
def test_json_nested_too_deeply_is_a_400_on_every_endpoint(client, resident, depth):
    for method, path, headers, body in _endpoints(resident):
        field = next(iter(body))
        raw = '{"%s": %s}' % (field, _nested(depth - 1))  # the object itself is the first level
        response = getattr(client, method)(path, data=raw, content_type="application/json", headers=headers)
        result = envelope(response, 400, "request.invalid_json")
        assert "64" in result["message"]
        whole = getattr(client, method)(path, data=_nested(depth), content_type="application/json", headers=headers)
        envelope(whole, 400, "request.invalid_json")


def test_json_nested_64_deep_is_read_and_validated_as_usual(client, resident):
    for method, path, headers, body in _endpoints(resident):
        field = next(iter(body))
        raw = '{"%s": %s}' % (field, _nested(63))
        response = getattr(client, method)(path, data=raw, content_type="application/json", headers=headers)
        result = envelope(response, 422, "validation.invalid")
        assert field in result["errors"]["json"]


def test_the_english_message_for_a_body_nested_too_deeply(client):
    response = client.post("/api/v1/auth/demo", data=_nested(990), content_type="application/json",
                           headers={"Accept-Language": "en"})
    assert "nested" in envelope(response, 400, "request.invalid_json")["message"]


def test_a_lone_surrogate_is_a_422_naming_the_field_on_every_endpoint(client, resident):
    for method, path, headers, body in _endpoints(resident):
        field = next(iter(body))
        for bad in ("\\ud800", "abc\\udfff", "\\udc00\\ud800"):
            raw = '{"%s": "%s"}' % (field, bad)
            response = getattr(client, method)(path, data=raw, content_type="application/json", headers=headers)
            result = envelope(response, 422, "validation.invalid_text")
            assert list(result["errors"]) == [field], result
            assert field in result["message"] and "字符" in result["message"]


def test_a_lone_surrogate_deep_inside_names_its_path(client, resident):
    raw = '{"category": "corridor_clutter", "description": "楼道", "attributes": {"floors": ["1", "\\ud834"]}}'
    result = envelope(client.post("/api/v1/cases", data=raw, content_type="application/json", headers=auth(resident)),
                      422, "validation.invalid_text")
    assert list(result["errors"]) == ["attributes.floors.1"]
    raw = '{"name": "王", "\\ud800": 1}'  # in a key
    result = envelope(client.patch("/api/v1/me", data=raw, content_type="application/json", headers=auth(resident)),
                      422, "validation.invalid_text")
    assert list(result["errors"]) == ["\ufffd"]


def test_a_surrogate_pair_is_an_ordinary_character(client, resident):
    raw = '{"name": "王\\ud83d\\ude00"}'  # 😀 written as an escaped pair
    response = client.patch("/api/v1/me", data=raw, content_type="application/json", headers=auth(resident))
    assert response.status_code == 200, response.json
    assert db.session.execute(sa.select(ResidentProfile.name).where(
        ResidentProfile.user_id == resident.id)).scalar_one() == "王😀"


# --- tokens whose subject is not a user id ---------------------------------------------------------------------

def _signed(app, sub, refresh=False, **claims):
    from flask_jwt_extended import create_access_token, create_refresh_token

    with app.test_request_context():
        if refresh:
            return create_refresh_token(identity=sub, additional_claims=claims)
        return create_access_token(identity=sub, additional_claims={"roles": ["resident"], **claims})


@pytest.mark.parametrize("sub", ["abc", "1e20", "99999999999999999999", "0", "-1", " 1", "１", "1.0", ""])
def test_a_signed_token_whose_subject_is_not_an_id_is_401(app, client, resident, sub):
    token = _signed(app, sub)
    headers = {"Authorization": f"Bearer {token}"}
    envelope(client.get("/api/v1/me", headers=headers), 401, "auth.token_invalid")
    envelope(client.post("/api/v1/me/subscriptions", json={"template_ids": ["PLATFORM_TEST_TEMPLATE_ID"]},
                         headers=headers), 401, "auth.token_invalid")
    envelope(client.post("/api/v1/me/subscriptions", json={"template_ids": ["PLATFORM_TEST_TEMPLATE_ID"]},
                         headers={**headers, "Idempotency-Key": "k1"}), 401, "auth.token_invalid")
    envelope(client.post("/api/v1/auth/logout", headers=headers), 401, "auth.token_invalid")
    refresh = _signed(app, sub, refresh=True)
    envelope(client.post("/api/v1/auth/refresh", headers={"Authorization": f"Bearer {refresh}"}), 401,
             "auth.token_invalid")


@pytest.mark.parametrize("claims", [{"sid": 5}, {"sid": "x" * 200}, {"roles": "admin"}, {"roles": [1]}])
def test_a_signed_token_with_malformed_claims_is_401(app, client, resident, claims):
    token = _signed(app, str(resident.id), **claims)
    envelope(client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}), 401, "auth.token_invalid")


def test_a_good_subject_still_works(app, client, resident):
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {_signed(app, str(resident.id))}"}
                      ).status_code == 200


def test_a_request_uri_over_the_limit_is_a_414_envelope(client, resident):
    from api.guards import MAX_URI_LENGTH

    base = "/api/v1/me/notifications?page_size=20&q="
    at_limit = client.get(base + "x" * (MAX_URI_LENGTH - len(base)), headers=auth(resident))
    assert at_limit.status_code != 414
    over = client.get(base + "x" * (MAX_URI_LENGTH - len(base) + 1), headers=auth(resident))
    assert envelope(over, 414, "request.uri_too_long")["message"] == f"请求地址过长（最多 {MAX_URI_LENGTH} 个字符）"
    english = client.get("/api/v1/auth/demo/users?" + "a" * MAX_URI_LENGTH, headers={"Accept-Language": "en"})
    assert envelope(english, 414)["message"].startswith("The request URI is too long")


def test_gunicorn_reads_request_lines_the_app_answers_itself():
    """gunicorn answers a line over its limit with an HTML page of its own: its limit lies above the app's."""
    from api.guards import MAX_URI_LENGTH
    import runpy

    settings = runpy.run_path(str(ROOT / "config" / "gunicorn.py"))
    assert settings["limit_request_line"] > MAX_URI_LENGTH + len("GET  HTTP/1.1")
