"""Demo login, refresh rotation, logout that survives a restart (revocations: tests/api/test_redis_resilience.py
for Redis)."""
import pytest

from api.app import create_app
from models.base import db
from service import redis_client
from tests.factories import make_user, tokens_for


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_demo_users_list_and_login(client):
    make_user(username="resident.demo", name="王阿姨", is_demo=True)
    make_user(username="not.demo", name="李四")
    items = client.get("/api/v1/auth/demo/users").json["items"]
    assert [i["username"] for i in items] == ["resident.demo"]
    body = client.post("/api/v1/auth/demo", json={"username": "resident.demo"}).json
    assert body["token_type"] == "Bearer" and body["expires_in"] == 7200
    assert body["user"]["roles"] == ["resident"]
    assert client.get("/api/v1/me", headers=bearer(body["access_token"])).json["username"] == "resident.demo"


def test_demo_login_refuses_non_demo_accounts(client):
    make_user(username="real.staff", name="李四")
    assert client.post("/api/v1/auth/demo", json={"username": "real.staff"}).status_code == 404


def test_demo_endpoints_are_404_when_demo_login_is_off(app, client):
    app.config["DEMO_LOGIN"] = False
    try:
        make_user(username="resident.demo", is_demo=True)
        assert client.get("/api/v1/auth/demo/users").status_code == 404
        assert client.post("/api/v1/auth/demo", json={"username": "resident.demo"}).status_code == 404
    finally:
        app.config["DEMO_LOGIN"] = True


def test_roles_are_in_the_token_claims(client):
    user = make_user(name="李", roles=[("admin", "street", 1)], username="admin.x", is_demo=True)
    body = client.post("/api/v1/auth/demo", json={"username": "admin.x"}).json
    assert body["user"]["roles"] == ["admin", "resident"]
    assert body["user"]["id"] == user.id


def test_refresh_rotates_and_a_refresh_token_works_once(client):
    user = make_user(name="张")
    tokens = tokens_for(user)
    first = client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"]))
    assert first.status_code == 200
    assert client.get("/api/v1/me", headers=bearer(first.json["access_token"])).status_code == 200
    again = client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"]))
    assert again.status_code == 401 and again.json["error"] == "auth.token_revoked"


def test_access_token_cannot_refresh_and_refresh_token_cannot_call_the_api(client):
    tokens = tokens_for(make_user(name="张"))
    assert client.post("/api/v1/auth/refresh", headers=bearer(tokens["access_token"])).status_code == 401
    assert client.get("/api/v1/me", headers=bearer(tokens["refresh_token"])).status_code == 401


def test_logout_revokes_access_and_refresh_token(client):
    tokens = tokens_for(make_user(name="张"))
    assert client.post("/api/v1/auth/logout", headers=bearer(tokens["access_token"])).json == {"revoked": 1}
    me = client.get("/api/v1/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 401 and me.json["error"] == "auth.token_revoked"
    assert client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"])).status_code == 401


def test_a_token_issued_before_sessions_logs_out_itself_and_its_refresh_token(app, client):
    from flask_jwt_extended import create_access_token, create_refresh_token, decode_token

    user = make_user(name="张")
    with app.test_request_context():
        refresh = create_refresh_token(identity=str(user.id))
        claims = decode_token(refresh)
        access = create_access_token(identity=str(user.id), additional_claims={
            "roles": ["resident"], "rjti": claims["jti"], "rexp": claims["exp"]})
    assert client.post("/api/v1/auth/logout", headers=bearer(access)).json == {"revoked": 2}
    assert client.get("/api/v1/me", headers=bearer(access)).status_code == 401
    assert client.post("/api/v1/auth/refresh", headers=bearer(refresh)).status_code == 401


def test_disabled_user_is_refused(client):
    user = make_user(name="张")
    headers = bearer(tokens_for(user)["access_token"])
    user.is_active = False
    db.session.commit()
    response = client.get("/api/v1/me", headers=headers)
    assert response.status_code == 401 and response.json["error"] == "auth.user_inactive"


@pytest.mark.real_commits
def test_logout_survives_a_restart(app, database_url, wechat_fake):
    user = make_user(name="张")
    tokens = tokens_for(user)
    assert app.test_client().post("/api/v1/auth/logout", headers=bearer(tokens["access_token"])).status_code == 200
    restarted = create_app(profile="test", config={"SQLALCHEMY_DATABASE_URI": database_url,
                                                   "WECHAT_API_BASE": wechat_fake.url})
    try:
        with restarted.app_context():
            response = restarted.test_client().get("/api/v1/me", headers=bearer(tokens["access_token"]))
            assert response.status_code == 401 and response.json["error"] == "auth.token_revoked"
            db.session.remove()
            db.engine.dispose()
    finally:
        redis_client.configure(app.config.get("REDIS_URL"))


# --- verified tokens remembered per app (api.extensions.JWTManagerRemembering) -----------------------------------

def _short_token(app, user, seconds: int) -> str:
    from datetime import timedelta

    from flask_jwt_extended import create_access_token

    with app.app_context():
        return create_access_token(identity=str(user.id), additional_claims={"roles": ["resident"]},
                                   expires_delta=timedelta(seconds=seconds))


def test_a_verified_token_is_answered_from_memory_until_it_expires(app, client, monkeypatch):
    import time

    import jwt as pyjwt

    user = make_user(name="张")
    token = _short_token(app, user, 2)
    decodes = []
    real = pyjwt.api_jwt.PyJWT.decode_complete
    monkeypatch.setattr(pyjwt.api_jwt.PyJWT, "decode_complete",
                        lambda self, *a, **k: decodes.append(1) or real(self, *a, **k))
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    verified = len(decodes)
    # Read once, by the verifying decode (flask-jwt-extended alone reads it twice unverified first).
    assert verified == 1 and token in app.extensions["linli.verified_tokens"][0]
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    assert len(decodes) == verified  # the second request did not decode the token again
    exp = app.extensions["linli.verified_tokens"][0][token][0]["exp"]  # (claims, header)
    time.sleep(max(0.0, exp - time.time()) + 0.05)
    expired = client.get("/api/v1/me", headers=bearer(token))
    assert expired.status_code == 401 and expired.json["error"] == "auth.token_expired"


def test_a_token_this_process_verified_for_one_secret_is_refused_under_another(app, client, database_url,
                                                                              wechat_fake):
    user = make_user(name="李")
    token = tokens_for(user)["access_token"]
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    other = create_app(profile="test", config={"SQLALCHEMY_DATABASE_URI": database_url,
                                               "WECHAT_API_BASE": wechat_fake.url,
                                               "JWT_SECRET_KEY": "another-secret-for-this-test-only-0123456789"})
    try:
        with other.app_context():
            response = other.test_client().get("/api/v1/me", headers=bearer(token))
            assert response.status_code == 401 and response.json["error"] == "auth.token_invalid"
            db.session.remove()
            db.engine.dispose()
    finally:
        redis_client.configure(app.config.get("REDIS_URL"))


def test_remembered_tokens_are_bounded_and_a_revoked_one_is_still_refused(app, client, monkeypatch):
    from api.extensions import jwt

    monkeypatch.setattr(jwt, "REMEMBER", 3)
    users = [make_user(name=f"王{i}") for i in range(5)]
    tokens = [tokens_for(u)["access_token"] for u in users]
    for token in tokens:
        assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    remembered = app.extensions["linli.verified_tokens"][0]
    assert len(remembered) == 3 and list(remembered)[-3:] == tokens[-3:]
    assert client.post("/api/v1/auth/logout", headers=bearer(tokens[-1])).status_code == 200
    refused = client.get("/api/v1/me", headers=bearer(tokens[-1]))
    assert refused.status_code == 401 and refused.json["error"] == "auth.token_revoked"
