"""Configuration profiles; production refuses to start with weak or missing settings."""
import pytest

from api.app import create_app
from config import DEV_SECRET, ConfigError, load_config

GOOD = {
    "DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "SECRET_KEY": "s" * 40, "JWT_SECRET_KEY": "j" * 40,
    "WECHAT_APPID": "wx123", "WECHAT_SECRET": "secret",
}


def set_env(monkeypatch, **values):
    for key in ("DATABASE_URL", "SECRET_KEY", "JWT_SECRET_KEY", "WECHAT_APPID", "WECHAT_SECRET", "DEMO_LOGIN",
                "WECHAT_API_BASE", "REDIS_URL"):
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


@pytest.mark.parametrize("missing", ["DATABASE_URL", "SECRET_KEY", "JWT_SECRET_KEY", "WECHAT_APPID", "WECHAT_SECRET"])
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
    set_env(monkeypatch, **{**GOOD, "SECRET_KEY": "k" * 32})
    assert load_config("production")["SECRET_KEY"] == "k" * 32


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
