"""Configuration profiles; production refuses to start with weak or missing settings."""
import pytest

from api.app import create_app
from config import DEV_SECRET, ConfigError, load_config

GOOD = {
    "DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "SECRET_KEY": "HsJUge8XSocMFdlZCF0djk6X-OhctAEcQG6nIiez", "JWT_SECRET_KEY": "khCEtpGWkp8nUPPCraAio9SzMaZp5UC-pKwUs5qa",
    "PII_KEY": "Qm4vR2xYp7LwT9sKd3NfB6hJc8ZaE1uGy5oVi0",
    "WECHAT_APPID": "wx123", "WECHAT_SECRET": "secret",
}


def set_env(monkeypatch, **values):
    for key in ("DATABASE_URL", "SECRET_KEY", "JWT_SECRET_KEY", "PII_KEY", "PII_KEY_VERSION", "PII_OLD_KEYS",
                "PII_HASH_KEY", "WECHAT_APPID", "WECHAT_SECRET", "DEMO_LOGIN", "SECOND_FACTOR",
                "WECHAT_API_BASE", "REDIS_URL", "PROXY_FIX", "PROXY_FIX_HOPS", "GUNICORN_TIMEOUT",
                "REQUEST_TIMEOUT_SECONDS", "POSTGRES_RANDOM_PAGE_COST"):
        monkeypatch.delenv(key, raising=False)
    for key, value in values.items():
        monkeypatch.setenv(key, value)


def test_development_is_the_default_with_sqlite_and_demo_login(monkeypatch):
    set_env(monkeypatch)
    monkeypatch.delenv("LINLI_ENV", raising=False)
    config = load_config()
    assert config["ENV_NAME"] == "development"
    assert config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert config["SQLALCHEMY_DATABASE_URI"].endswith("instance/linli.db")
    assert config["DEMO_LOGIN"] is True


def test_database_url_switches_to_postgresql(monkeypatch):
    set_env(monkeypatch, DATABASE_URL="postgresql+psycopg://u@h/db")
    assert load_config("development")["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/db"


def test_production_accepts_complete_settings(monkeypatch):
    set_env(monkeypatch, **GOOD)
    config = load_config("production")
    assert config["DEMO_LOGIN"] is False
    assert config["SQLALCHEMY_DATABASE_URI"] == GOOD["DATABASE_URL"]


@pytest.mark.parametrize("missing", ["DATABASE_URL", "SECRET_KEY", "JWT_SECRET_KEY", "PII_KEY", "WECHAT_APPID",
                                     "WECHAT_SECRET"])
def test_production_refuses_a_missing_setting_and_names_it(monkeypatch, missing):
    set_env(monkeypatch, **{k: v for k, v in GOOD.items() if k != missing})
    with pytest.raises(ConfigError, match=missing):
        load_config("production")


@pytest.mark.parametrize("secret", [DEV_SECRET, "short-secret", "x" * 31])
def test_production_refuses_default_or_short_secrets(monkeypatch, secret):
    set_env(monkeypatch, **{**GOOD, "SECRET_KEY": secret})
    with pytest.raises(ConfigError, match="SECRET_KEY must be a random value of at least 32"):
        load_config("production")


def test_production_secret_of_exactly_32_characters_is_accepted(monkeypatch):
    secret = "ZGSpfND_lU_ZGXR-cmhVUhMm6mXhuy-8"  # secrets.token_urlsafe(24)
    set_env(monkeypatch, **{**GOOD, "SECRET_KEY": secret})
    assert load_config("production")["SECRET_KEY"] == secret


@pytest.mark.parametrize("key", ["SECRET_KEY", "JWT_SECRET_KEY", "PII_KEY"])
@pytest.mark.parametrize("secret", ["a" * 36, "k" * 64, "ab" * 18, "0123" * 9, "passwordpasswordpasswordpassword1234",
                                    "Password123!Password123!Password123!"])
def test_production_refuses_a_long_secret_without_entropy_and_says_what_it_needs(monkeypatch, key, secret):
    set_env(monkeypatch, **{**GOOD, key: secret})
    with pytest.raises(ConfigError) as refused:
        load_config("production")
    message = str(refused.value)
    assert f"{key} is not random enough" in message
    assert "96 bits" in message and "Shannon" in message and "repeat" in message


def test_random_secrets_of_the_usual_generators_are_accepted(monkeypatch):
    import secrets

    for _ in range(200):
        for secret in (secrets.token_urlsafe(48), secrets.token_urlsafe(24), secrets.token_hex(32)):
            set_env(monkeypatch, **{**GOOD, "SECRET_KEY": secret})
            assert load_config("production")["SECRET_KEY"] == secret


# --- the proxy -------------------------------------------------------------------------------------------------------

def test_production_trusts_one_proxy_hop_by_default_and_the_hops_are_a_setting(monkeypatch):
    set_env(monkeypatch, **GOOD)
    assert load_config("production")["PROXY_FIX_HOPS"] == 1
    monkeypatch.setenv("PROXY_FIX_HOPS", "2")
    assert load_config("production")["PROXY_FIX_HOPS"] == 2
    monkeypatch.setenv("PROXY_FIX_HOPS", "0")
    assert load_config("production")["PROXY_FIX_HOPS"] == 0
    set_env(monkeypatch, **{**GOOD, "PROXY_FIX": "0"})  # the older switch still turns it off
    assert load_config("production")["PROXY_FIX_HOPS"] == 0
    set_env(monkeypatch)
    assert load_config("development")["PROXY_FIX_HOPS"] == 0
    monkeypatch.setenv("PROXY_FIX", "1")  # ... and on, outside production too, trusts the one hop it meant
    assert load_config("development")["PROXY_FIX_HOPS"] == 1


@pytest.mark.parametrize("given, taken", [(None, 1.1), ("4", 4.0), ("0.1", 0.1), ("100", 100.0), (" Server ", None)])
def test_postgres_random_page_cost_is_a_setting(monkeypatch, given, taken):
    set_env(monkeypatch, **({"POSTGRES_RANDOM_PAGE_COST": given} if given else {}))
    assert load_config("development")["POSTGRES_RANDOM_PAGE_COST"] == taken


@pytest.mark.parametrize("given", ["0.09", "100.5", "fast", "nan", "-1"])
def test_a_bad_random_page_cost_is_refused_and_named(monkeypatch, given):
    set_env(monkeypatch, POSTGRES_RANDOM_PAGE_COST=given)
    with pytest.raises(ConfigError, match="POSTGRES_RANDOM_PAGE_COST"):
        load_config("development")


@pytest.mark.parametrize("hops", ["-1", "many", "11"])
def test_a_bad_number_of_hops_is_refused_and_named(monkeypatch, hops):
    set_env(monkeypatch, **{**GOOD, "PROXY_FIX_HOPS": hops})
    with pytest.raises(ConfigError, match="PROXY_FIX_HOPS"):
        load_config("production")


@pytest.mark.parametrize("hops,seen", [(0, "127.0.0.1"), (1, "10.0.0.2"), (2, "10.0.0.1")])
def test_the_client_address_is_taken_from_the_trusted_hops_only(database_url, wechat_fake, hops, seen):
    from flask import request

    from models.base import db

    app = create_app(profile="test", config={"SQLALCHEMY_DATABASE_URI": database_url,
                                             "WECHAT_API_BASE": wechat_fake.url, "PROXY_FIX_HOPS": hops})
    app.add_url_rule("/_address", "address", lambda: request.remote_addr)
    try:
        # a client forging its address, then two proxies each appending the address they saw
        forged = {"X-Forwarded-For": "6.6.6.6, 10.0.0.1, 10.0.0.2"}
        assert app.test_client().get("/_address", headers=forged).get_data(as_text=True) == seen
    finally:
        with app.app_context():
            db.engine.dispose()


def test_development_may_ask_the_demo_staff_for_a_second_factor_and_production_always_does(monkeypatch):
    set_env(monkeypatch)
    assert load_config("development")["SECOND_FACTOR"] == "non_demo"
    set_env(monkeypatch, SECOND_FACTOR="required")
    assert load_config("development")["SECOND_FACTOR"] == "required"
    set_env(monkeypatch, **{**GOOD, "SECOND_FACTOR": "off"})
    assert load_config("production")["SECOND_FACTOR"] == "required"  # the variable is ignored


def test_production_cannot_enable_demo_login(monkeypatch):
    set_env(monkeypatch, **{**GOOD, "DEMO_LOGIN": "1"})
    assert load_config("production")["DEMO_LOGIN"] is False  # the variable is ignored
    with pytest.raises(ConfigError, match="demo login"):
        load_config("production", {"DEMO_LOGIN": True})


def test_production_cannot_point_wechat_at_a_fake(monkeypatch):
    set_env(monkeypatch, **{**GOOD, "WECHAT_API_BASE": "http://127.0.0.1:9999"})
    with pytest.raises(ConfigError, match="WECHAT_API_BASE"):
        load_config("production")


def test_same_secret_for_session_and_jwt_is_refused(monkeypatch):
    set_env(monkeypatch, **{**GOOD, "JWT_SECRET_KEY": GOOD["SECRET_KEY"]})
    with pytest.raises(ConfigError, match="differ"):
        load_config("production")


def test_create_app_refuses_production_without_settings(monkeypatch):
    set_env(monkeypatch)
    with pytest.raises(ConfigError):
        create_app(profile="production")


def test_unknown_profile_is_refused():
    with pytest.raises(ConfigError, match="LINLI_ENV"):
        load_config("staging")


def test_the_request_timeout_is_a_setting_longer_than_gunicorns(monkeypatch):
    set_env(monkeypatch, **GOOD)
    monkeypatch.delenv("GUNICORN_TIMEOUT", raising=False)
    monkeypatch.delenv("REQUEST_TIMEOUT_SECONDS", raising=False)
    config = load_config("production")
    assert config["REQUEST_TIMEOUT_SECONDS"] == 60 and config["REQUEST_TIMEOUT"].total_seconds() == 60
    monkeypatch.setenv("REQUEST_TIMEOUT_SECONDS", "90")
    assert load_config("production")["REQUEST_TIMEOUT"].total_seconds() == 90
    monkeypatch.setenv("GUNICORN_TIMEOUT", "120")
    with pytest.raises(ConfigError, match="REQUEST_TIMEOUT_SECONDS"):
        load_config("production")


def test_redis_timeouts_and_breaker_are_settings(monkeypatch):
    set_env(monkeypatch)
    config = load_config("development")
    assert (config["REDIS_URL"], config["REDIS_TIMEOUT_MS"], config["REDIS_BREAKER_FAILURES"],
            config["REDIS_BREAKER_COOL_OFF_SECONDS"]) == (None, 100, 3, 5)
    set_env(monkeypatch, REDIS_URL="redis://cache:6379/0", REDIS_TIMEOUT_MS="50", REDIS_BREAKER_FAILURES="5",
            REDIS_BREAKER_COOL_OFF_SECONDS="10")
    config = load_config("development")
    assert (config["REDIS_URL"], config["REDIS_TIMEOUT_MS"], config["REDIS_BREAKER_FAILURES"],
            config["REDIS_BREAKER_COOL_OFF_SECONDS"]) == ("redis://cache:6379/0", 50, 5, 10)


@pytest.mark.parametrize("name,value", [("REDIS_TIMEOUT_MS", "0"), ("REDIS_TIMEOUT_MS", "fast"),
                                        ("REDIS_BREAKER_FAILURES", "0"), ("REDIS_BREAKER_COOL_OFF_SECONDS", "-1")])
def test_a_bad_redis_setting_is_refused_and_named(monkeypatch, name, value):
    set_env(monkeypatch, **{name: value})
    with pytest.raises(ConfigError, match=name):
        load_config("development")


@pytest.mark.parametrize("other", ["SECRET_KEY", "JWT_SECRET_KEY"])
def test_production_refuses_a_personal_data_key_that_is_another_key(monkeypatch, other):
    set_env(monkeypatch, **{**GOOD, "PII_KEY": GOOD[other]})
    with pytest.raises(ConfigError, match="PII_KEY must be a key of its own"):
        load_config("production")


@pytest.mark.parametrize("settings, problem", [
    ({"PII_KEY_VERSION": "0"}, "PII_KEY_VERSION must be a whole number"),
    ({"PII_KEY_VERSION": "two"}, "PII_KEY_VERSION must be a whole number"),
    ({"PII_KEY_VERSION": "2"}, "need PII_HASH_KEY"),
    ({"PII_KEY_VERSION": "2", "PII_OLD_KEYS": "2:x"}, "names version 2"),
    ({"PII_OLD_KEYS": "old-key-without-version"}, "PII_OLD_KEYS must read"),
])
def test_production_refuses_key_versions_that_cannot_work(monkeypatch, settings, problem):
    set_env(monkeypatch, **{**GOOD, **settings})
    with pytest.raises(ConfigError, match=problem):
        load_config("production")


def test_production_accepts_a_rotation_in_progress(monkeypatch):
    old = "Zx8Kq2Lm5Np9Rt3Vw6Yb1Cd4Fg7Hj0Ks2Ml5Qp8"
    set_env(monkeypatch, **{**GOOD, "PII_KEY_VERSION": "2", "PII_OLD_KEYS": f"1:{old}"})
    config = load_config("production")
    assert config["PII_KEY_VERSION"] == 2 and config["PII_OLD_KEYS"] == f"1:{old}"
