"""The error envelope, health probes, OpenAPI and docs, rate limits."""
import pytest

from api.extensions import limiter
from config import ROOT
from tests.factories import auth, make_user

ENVELOPE_KEYS = {"code", "status", "error", "message", "errors", "request_id"}


def assert_envelope(response, status, error=None):
    assert response.status_code == status, response.data
    body = response.get_json()
    assert set(body) == ENVELOPE_KEYS
    assert body["code"] == status
    if error:
        assert body["error"] == error
    text = response.get_data(as_text=True)
    for leak in ("Traceback", "sqlalchemy", str(ROOT), "SELECT "):
        assert leak not in text
    return body


def test_healthz_answers_without_a_database(client):
    assert client.get("/healthz").json == {"status": "ok"}


def test_readyz_reports_database_and_migrations_at_head(client):
    body = client.get("/readyz").get_json()
    assert body["status"] == "ready" and body["database"] and body["migrations"]
    assert body["revision"] == body["head"]


def test_readyz_is_503_when_migrations_are_behind(client):
    from models.base import db
    import sqlalchemy as sa

    db.session.execute(sa.text("UPDATE alembic_version SET version_num = 'old'"))
    db.session.commit()
    body = assert_envelope(client.get("/readyz"), 503, "service_unavailable")
    assert body["errors"]["readiness"]["migrations"] is False


def test_unknown_path_is_a_404_envelope_in_chinese(client):
    body = assert_envelope(client.get("/api/v1/nowhere"), 404, "not_found")
    assert body["message"] == "未找到请求的内容"


def test_english_when_accept_language_prefers_it(client):
    body = assert_envelope(client.get("/api/v1/nowhere", headers={"Accept-Language": "en-US,en;q=0.9"}), 404)
    assert body["message"] == "The requested resource was not found"
    body = assert_envelope(client.get("/api/v1/nowhere", headers={"Accept-Language": "zh-CN,en;q=0.5"}), 404)
    assert body["message"] == "未找到请求的内容"


def test_405_carries_the_allow_header(client):
    response = client.delete("/healthz")
    assert_envelope(response, 405, "request.method_not_allowed")
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "HEAD"}


def test_huge_ids_are_404_not_500(client):
    assert_envelope(client.get("/api/v1/streets/99999999999999999999"), 404)


def test_validation_error_names_the_field(client):
    body = assert_envelope(client.post("/api/v1/auth/demo", json={"username": ""}), 422, "validation.invalid")
    assert "username" in body["errors"]["json"]
    assert "username" in body["message"]


def test_query_validation_names_the_field(client):
    body = assert_envelope(client.get("/api/v1/streets?page_size=1000"), 422)
    assert "page_size" in body["errors"]["query"]


def test_malformed_json_is_a_400(client):
    assert_envelope(client.post("/api/v1/auth/demo", data="{nope", content_type="application/json"), 400,
                    "request.invalid_json")


def test_too_large_body_is_413(app, client):
    big = "x" * (app.config["MAX_CONTENT_LENGTH"] + 10)
    assert_envelope(client.post("/api/v1/auth/demo", data=big, content_type="application/json"), 413,
                    "request.too_large")


def test_missing_token_is_401_envelope(client):
    assert_envelope(client.get("/api/v1/me"), 401, "auth.token_missing")


def test_garbage_token_is_401_envelope(client):
    assert_envelope(client.get("/api/v1/me", headers={"Authorization": "Bearer not.a.jwt"}), 401, "auth.token_invalid")


def test_wrong_role_is_403(client):
    user = make_user(name="张三")
    assert_envelope(client.get("/api/v1/unit-claims", headers=auth(user)), 403, "auth.role_required")


def test_openapi_has_summary_errors_and_example_for_every_operation(client):
    spec = client.get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    operations = [(path, method, op) for path, item in spec["paths"].items() for method, op in item.items()
                  if method in {"get", "post", "put", "patch", "delete"}]
    assert len(operations) >= 30
    for path, method, op in operations:
        assert op.get("summary"), f"{method} {path} has no summary"
        codes = set(op["responses"])
        assert any(c.startswith(("4", "5")) or c == "default" for c in codes), f"{method} {path}: no error response"
        success = [c for c in codes if c.startswith("2")]
        assert success, f"{method} {path}: no success response"
        for code in success:
            if code == "204":
                continue
            content = op["responses"][code].get("content", {})
            if "application/json" in content:
                body = content["application/json"]
                assert "example" in body or "examples" in body, f"{method} {path} {code}: no example"
            else:  # a binary body (an image): documented by its schema
                assert all(c.get("schema", {}).get("format") == "binary" for c in content.values()), (method, path)
    error = spec["components"]["responses"]["NOT_FOUND"]["content"]["application/json"]
    assert error["example"]["error"] == "not_found"


def test_swagger_ui_is_served_from_local_assets(client):
    page = client.get("/docs").get_data(as_text=True)
    assert "/docs/assets/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower() and "unpkg" not in page.lower()
    asset = client.get("/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.data) > 100000


@pytest.fixture
def strict_limits(app):
    saved = app.config["RATELIMIT_LOGIN"], app.config["RATELIMIT_CREATE"]
    app.config["RATELIMIT_LOGIN"], app.config["RATELIMIT_CREATE"] = "3 per minute", "2 per minute"
    limiter.reset()
    yield
    app.config["RATELIMIT_LOGIN"], app.config["RATELIMIT_CREATE"] = saved
    limiter.reset()


def test_login_is_rate_limited_per_ip_with_retry_after(client, strict_limits):
    for _ in range(3):
        assert client.post("/api/v1/auth/demo", json={"username": "nobody"}).status_code == 404
    response = client.post("/api/v1/auth/demo", json={"username": "nobody"})
    assert_envelope(response, 429, "rate_limited")
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    # Another address is not affected.
    other = client.post("/api/v1/auth/demo", json={"username": "nobody"}, environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert other.status_code == 404


def test_creating_endpoints_are_rate_limited_per_user(client, strict_limits, ):
    alice, bob = make_user(name="甲"), make_user(name="乙")
    body = {"template_ids": ["PLATFORM_TEST_TEMPLATE_ID"]}
    for _ in range(2):
        assert client.post("/api/v1/me/subscriptions", json=body, headers=auth(alice)).status_code == 201
    assert_envelope(client.post("/api/v1/me/subscriptions", json=body, headers=auth(alice)), 429)
    assert client.post("/api/v1/me/subscriptions", json=body, headers=auth(bob)).status_code == 201
    # Reads are not limited.
    assert client.get("/api/v1/me/subscriptions", headers=auth(alice)).status_code == 200


def test_nul_characters_are_a_422_naming_the_field(client):
    world_admin = make_user(name="赵", roles=[("admin", "district", 1)])
    body = assert_envelope(client.get("/api/v1/audit-log?object_type=W%00F", headers=auth(world_admin)), 422,
                           "validation.nul_character")
    assert "object_type" in body["errors"]
    body = assert_envelope(client.post("/api/v1/auth/demo", json={"username": "a\u0000b"}), 422)
    assert "username" in body["errors"]


def test_a_second_app_in_the_process_does_not_count_a_request_twice(app, client, database_url, wechat_fake):
    """The limiter is the process's one; a second app built in the same process (a test, a command) must not add
    the blueprints' limits again, which made each request count once per app built."""
    from api.app import create_app
    from models.base import db
    from service import redis_client

    other = create_app(profile="test", config={"SQLALCHEMY_DATABASE_URI": database_url,
                                               "WECHAT_API_BASE": wechat_fake.url})
    try:
        with other.app_context():
            db.engine.dispose()
    finally:
        redis_client.configure(app.config.get("REDIS_URL"))
    limiter.reset()
    remaining = [int(client.post("/api/v1/auth/demo", json={"username": "nobody"},
                                 environ_base={"REMOTE_ADDR": "10.9.9.10"}).headers["X-RateLimit-Remaining"])
                 for _ in range(3)]
    limit = int(app.config["RATELIMIT_LOGIN"].split()[0])
    assert remaining == [limit - 1, limit - 2, limit - 3]
