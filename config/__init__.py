"""Configuration profiles read from the environment.

Three profiles: ``development`` (the default), ``test`` and ``production``.
Choose one with ``LINLI_ENV``. ``DATABASE_URL`` switches the database with no
code change (``sqlite:///…`` or ``postgresql+psycopg://…``); ``REDIS_URL``,
when set, shares the rate limiter's counters between workers (optional: when it
fails, each process counts for itself; service/redis_client.py).
"""
from __future__ import annotations

import math
import os
import tempfile
from collections import Counter
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RULES_DIR = ROOT / "config" / "rules"
INSTANCE_DIR = ROOT / "instance"

# Secrets shorter than this, or equal to a known default, are refused in production.
MIN_SECRET_LENGTH = 32
# ... and so are secrets with less estimated entropy than this (length × the Shannon entropy of their
# characters; a random 32-character secret of secrets.token_urlsafe has about 145 bits by this estimate,
# secrets.token_hex(16) about 115), or secrets that repeat themselves.
MIN_SECRET_BITS = 96
DEV_SECRET = "linli-development-secret-not-for-production-use"
MAX_PROXY_HOPS = 10


class ConfigError(RuntimeError):
    """The configuration cannot start the service; the message says why."""


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def setting_from_environment(name: str, default):
    """A setting a domain declares (service/registry.py ``Domain.settings``): the environment's value when set,
    else the domain's default."""
    return _env(name, default)


def _env_bool(name: str, default: bool = False) -> bool:
    value = _env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    value = _env(name)
    return int(value) if value is not None else default


class BaseConfig:
    ENV_NAME = "base"
    TESTING = False
    DEBUG = False

    SECRET_KEY = DEV_SECRET
    JWT_SECRET_KEY = DEV_SECRET
    # Key for personal data stored encrypted (phone, ID number); derived from
    # SECRET_KEY unless PII_KEY is given (production requires a dedicated one).
    PII_KEY: str | None = None
    # Key versions (service/privacy.py, `flask privacy rotate-key`): PII_KEY is version PII_KEY_VERSION; the
    # keys of a rotation in progress stay readable as PII_OLD_KEYS ("1:<key>,2:<key>"); lookup hashes use
    # PII_HASH_KEY, else version 1's key, so that a rotation leaves them as they are.
    PII_KEY_VERSION = 1
    PII_OLD_KEYS: str | None = None
    PII_HASH_KEY: str | None = None

    SQLALCHEMY_DATABASE_URI = f"sqlite:///{INSTANCE_DIR / 'linli.db'}"
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    SQLITE_BUSY_TIMEOUT_MS = 15000
    # PostgreSQL: the random_page_cost each connection plans with (service/postgres.py says why); the
    # environment's POSTGRES_RANDOM_PAGE_COST=server leaves the server's own setting.
    POSTGRES_RANDOM_PAGE_COST: float | None = 1.1

    REDIS_URL: str | None = None
    # Connect and reply timeout of each Redis call; failures in a row that open the circuit breaker, and the
    # seconds it stays open (no Redis call at all) before one trial call (service/redis_client.py).
    REDIS_TIMEOUT_MS = 100
    REDIS_BREAKER_FAILURES = 3
    REDIS_BREAKER_COOL_OFF_SECONDS = 5

    JWT_ACCESS_TOKEN_EXPIRES = timedelta(hours=2)
    JWT_REFRESH_TOKEN_EXPIRES = timedelta(days=30)
    JWT_TOKEN_LOCATION = ["headers"]
    JWT_ERROR_MESSAGE_KEY = "message"

    MAX_CONTENT_LENGTH = 12 * 1024 * 1024
    # POST /api/v1/uploads alone: a PDF of up to 20 MB (service.uploads.MAX_DOCUMENT_BYTES) and the multipart's
    # own bytes.
    UPLOAD_MAX_CONTENT_LENGTH = 21 * 1024 * 1024
    JSON_AS_ASCII = False

    # OpenAPI (flask-smorest); Swagger UI is served from local files.
    API_TITLE = "Linli 邻里 API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    API_SPEC_OPTIONS = {"info": {"description": (
        "Log in (POST /api/v1/auth/wechat, or /api/v1/auth/demo in development), then press Authorize and paste "
        "the `access_token`: operations that list a lock need it, the others are public. Messages and names are "
        "Chinese unless `Accept-Language` prefers English. Every failure is one envelope `{code, status, error, "
        "message, errors, request_id}`: `error` is a stable code, `errors` names the fields that were wrong, and "
        "`request_id` (also the `X-Request-ID` header) is what to quote when reporting a failure. POSTs (but "
        "logins and tokens) take an `Idempotency-Key`, so a retry does nothing twice.")}}
    OPENAPI_URL_PREFIX = "/"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "/docs"
    OPENAPI_SWAGGER_UI_URL = "/docs/assets/"
    # Keep the Authorize token across reloads; leave the large models section folded.
    OPENAPI_SWAGGER_UI_CONFIG = {"persistAuthorization": True, "defaultModelsExpandDepth": -1,
                                 "displayRequestDuration": True}

    # Rate limits (flask-limiter syntax).
    RATELIMIT_ENABLED = True
    RATELIMIT_LOGIN = "20 per minute"
    RATELIMIT_CREATE = "60 per minute"
    RATELIMIT_HEADERS_ENABLED = True

    IDEMPOTENCY_TTL = timedelta(hours=24)
    # An Idempotency-Key still in progress after this long is released to a retry: its worker died, or the
    # request is stuck. gunicorn's threaded workers do not stop a long request, so a request holding a key
    # commits within three quarters of this time or not at all (api/idempotency.py).
    REQUEST_TIMEOUT_SECONDS = 60

    WECHAT_API_BASE = "https://api.weixin.qq.com"
    WECHAT_APPID: str | None = None
    WECHAT_SECRET: str | None = None
    WECHAT_TIMEOUT = 5.0

    DEMO_LOGIN = False
    # Who needs the second factor for the roles privacy.yaml lists: required | non_demo | off.
    SECOND_FACTOR = "required"

    # Scheduler
    SCHEDULER_LEASE_SECONDS = 60
    SCHEDULER_TIMEZONE = "Asia/Shanghai"

    # How often (seconds) a process checks the database for a newly loaded holiday arrangement
    # (service/calendar.py); one tiny query at most this often, from the first calendar question after it.
    CALENDAR_REFRESH_SECONDS = 5

    # How many reverse proxies in front of the app to trust for X-Forwarded-For/-Proto/-Host (0: none).
    PROXY_FIX_HOPS = 0

    # Where uploaded files live (service/storage.py): file:///dir or s3://bucket/prefix?endpoint=…&region=…;
    # None: the directory instance/uploads. With STORAGE_REDIRECT_SECONDS > 0 and S3, a private image is
    # answered with a redirect to a link signed for that long instead of being streamed through Linli.
    STORAGE_URL: str | None = None
    STORAGE_REDIRECT_SECONDS = 0
    # Log lines: "text" (development, tests) or "json" (one object per line; production's default).
    LOG_FORMAT = "text"
    # GET /metrics is served to "Authorization: Bearer <METRICS_TOKEN>" when set, else only to loopback and
    # private addresses (api/observability.py).
    METRICS_TOKEN: str | None = None

    @classmethod
    def from_environment(cls) -> dict:
        """Values every profile takes from the environment when present."""
        values: dict = {}
        if _env("PII_KEY_VERSION"):
            text = _env("PII_KEY_VERSION").strip()
            values["PII_KEY_VERSION"] = int(text) if text.isdigit() else text   # refused by pii_keys
        for name in ("SECRET_KEY", "JWT_SECRET_KEY", "PII_KEY", "PII_OLD_KEYS", "PII_HASH_KEY", "REDIS_URL",
                     "WECHAT_APPID", "WECHAT_SECRET", "WECHAT_API_BASE", "STORAGE_URL", "METRICS_TOKEN"):
            if _env(name) is not None:
                values[name] = _env(name)
        if _env("DATABASE_URL"):
            values["SQLALCHEMY_DATABASE_URI"] = _env("DATABASE_URL")
        if _env("LOG_FORMAT"):
            values["LOG_FORMAT"] = _env("LOG_FORMAT").strip().lower()
        if _env("RATELIMIT_ENABLED") is not None:
            values["RATELIMIT_ENABLED"] = _env_bool("RATELIMIT_ENABLED")
        for name in ("RATELIMIT_LOGIN", "RATELIMIT_CREATE"):
            if _env(name):
                values[name] = _env(name)
        if _env("POSTGRES_RANDOM_PAGE_COST"):
            values["POSTGRES_RANDOM_PAGE_COST"] = _random_page_cost(_env("POSTGRES_RANDOM_PAGE_COST"))
        for name in ("REDIS_TIMEOUT_MS", "REDIS_BREAKER_FAILURES", "REDIS_BREAKER_COOL_OFF_SECONDS"):
            if _env(name):
                text = _env(name).strip()
                values[name] = int(text) if text.isdigit() else text  # refused by _check_redis
        if _env("SCHEDULER_LEASE_SECONDS"):
            values["SCHEDULER_LEASE_SECONDS"] = _env_int("SCHEDULER_LEASE_SECONDS", 60)
        if _env("CALENDAR_REFRESH_SECONDS"):
            values["CALENDAR_REFRESH_SECONDS"] = _env_int("CALENDAR_REFRESH_SECONDS", 5)
        if _env("STORAGE_REDIRECT_SECONDS"):
            values["STORAGE_REDIRECT_SECONDS"] = _env_int("STORAGE_REDIRECT_SECONDS", 0)
        if _env("REQUEST_TIMEOUT_SECONDS"):
            values["REQUEST_TIMEOUT_SECONDS"] = _env_int("REQUEST_TIMEOUT_SECONDS", 60)
        if _env("PROXY_FIX_HOPS") is not None:
            hops = _env("PROXY_FIX_HOPS").strip()
            values["PROXY_FIX_HOPS"] = int(hops) if hops.lstrip("-").isdigit() else hops
        elif _env("PROXY_FIX") is not None:
            # The older on/off switch: on trusts one hop (what it meant), off trusts none.
            values["PROXY_FIX_HOPS"] = 1 if _env_bool("PROXY_FIX") else 0
        return values


class DevelopmentConfig(BaseConfig):
    ENV_NAME = "development"
    DEBUG = False
    DEMO_LOGIN = True
    SECOND_FACTOR = "non_demo"   # the demo accounts sign in without one; any other staff account needs it

    @classmethod
    def from_environment(cls) -> dict:
        values = super().from_environment()
        if _env("DEMO_LOGIN") is not None:
            values["DEMO_LOGIN"] = _env_bool("DEMO_LOGIN")
        if _env("SECOND_FACTOR") is not None:   # SECOND_FACTOR=required tries the demo staff's sign-in with it
            values["SECOND_FACTOR"] = _env("SECOND_FACTOR")
        return values


class TestConfig(BaseConfig):
    ENV_NAME = "test"
    TESTING = True
    DEMO_LOGIN = True
    SECOND_FACTOR = "off"   # the tests of the second factor turn it on (tests/api/test_second_factor.py)
    SQLALCHEMY_DATABASE_URI = "sqlite:///:memory:"
    RATELIMIT_LOGIN = "1000 per minute"
    RATELIMIT_CREATE = "1000 per minute"
    WECHAT_APPID = "wx-test-appid"
    WECHAT_SECRET = "wx-test-secret"
    WECHAT_TIMEOUT = 1.0
    # Tests roll back what they load, and reset the calendar themselves (tests/conftest.py); a check
    # at a random moment would add a statement to the tests that count them.
    CALENDAR_REFRESH_SECONDS = 3600
    # Each test process keeps its uploads in a directory of its own (tests/conftest.py removes it).
    STORAGE_URL = f"file://{Path(tempfile.gettempdir()) / f'linli-test-uploads-{os.getpid()}'}"


class ProductionConfig(BaseConfig):
    ENV_NAME = "production"
    DEMO_LOGIN = False
    PROXY_FIX_HOPS = 1
    LOG_FORMAT = "json"

    REQUIRED = ("SQLALCHEMY_DATABASE_URI", "SECRET_KEY", "JWT_SECRET_KEY", "PII_KEY", "WECHAT_APPID",
                "WECHAT_SECRET")

    @classmethod
    def from_environment(cls) -> dict:
        values = super().from_environment()
        if not _env("DATABASE_URL"):
            values["SQLALCHEMY_DATABASE_URI"] = None
        for name in ("SECRET_KEY", "JWT_SECRET_KEY", "PII_KEY"):
            if not _env(name):
                values[name] = None
        return values


PROFILES = {"development": DevelopmentConfig, "test": TestConfig, "production": ProductionConfig}


def secret_bits(secret: str) -> float:
    """Estimated entropy in bits: the length times the Shannon entropy of the secret's characters."""
    counts = Counter(secret)
    return -sum(n * math.log2(n / len(secret)) for n in counts.values())


def repeats_itself(secret: str) -> bool:
    """Whether the secret is made of a repeated piece: fewer than three in four of its 4-character
    pieces are distinct (a random secret has all of them distinct)."""
    pieces = [secret[i:i + 4] for i in range(len(secret) - 3)]
    return bool(pieces) and 4 * len(set(pieces)) < 3 * len(pieces)


def _secret_problem(key: str, secret: str) -> str | None:
    if secret == DEV_SECRET or len(secret) < MIN_SECRET_LENGTH:
        return (f"{key} must be a random value of at least {MIN_SECRET_LENGTH} characters, not a default "
                "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))')")
    bits = secret_bits(secret)
    if bits < MIN_SECRET_BITS or repeats_itself(secret):
        return (f"{key} is not random enough: it needs an estimated entropy of at least {MIN_SECRET_BITS} bits "
                f"(length × the Shannon entropy of its characters; this one has {bits:.0f}, from "
                f"{len(set(secret))} distinct characters) and must not repeat a piece of itself "
                "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))')")
    return None


def pii_keys(values: dict) -> tuple[int, dict[int, str]]:
    """(PII_KEY's version, the old keys by version) from the settings; ConfigError names what is wrong."""
    version = values.get("PII_KEY_VERSION", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ConfigError(f"PII_KEY_VERSION must be a whole number ≥ 1, not {version!r}")
    old: dict[int, str] = {}
    for part in filter(None, (p.strip() for p in (values.get("PII_OLD_KEYS") or "").split(","))):
        number, sep, key = part.partition(":")
        if not sep or not number.strip().isdigit() or not key.strip():
            raise ConfigError("PII_OLD_KEYS must read \"<version>:<key>,<version>:<key>\"")
        old[int(number)] = key.strip()
    if version in old:
        raise ConfigError(f"PII_OLD_KEYS names version {version}, which is PII_KEY's (PII_KEY_VERSION)")
    if version > 1 and 1 not in old and not values.get("PII_HASH_KEY"):
        raise ConfigError("with PII_KEY_VERSION > 1, lookup hashes need PII_HASH_KEY (or version 1's key in "
                          "PII_OLD_KEYS): they are keyed by version 1's key unless told otherwise")
    return version, old


def validate_production(values: dict) -> None:
    """Refuse to start production with missing, default, short or guessable secrets."""
    problems = []
    names = {"SQLALCHEMY_DATABASE_URI": "DATABASE_URL"}
    for key in ProductionConfig.REQUIRED:
        if not values.get(key):
            problems.append(f"{names.get(key, key)} must be set")
    for key in ("SECRET_KEY", "JWT_SECRET_KEY", "PII_KEY", "PII_HASH_KEY"):
        secret = values.get(key)
        problem = _secret_problem(key, secret) if secret else None
        if problem:
            problems.append(problem)
    pii = values.get("PII_KEY")
    if pii and pii in (values.get("SECRET_KEY"), values.get("JWT_SECRET_KEY")):
        problems.append("PII_KEY must be a key of its own, not SECRET_KEY or JWT_SECRET_KEY")
    try:
        pii_keys(values)
    except ConfigError as exc:
        problems.append(str(exc))
    token = values.get("METRICS_TOKEN")
    problem = _secret_problem("METRICS_TOKEN", token) if token else None
    if problem:
        problems.append(problem)
    if values.get("SECRET_KEY") and values.get("SECRET_KEY") == values.get("JWT_SECRET_KEY"):
        problems.append("JWT_SECRET_KEY must differ from SECRET_KEY")
    if values.get("DEMO_LOGIN"):
        problems.append("demo login cannot be enabled in production")
    gunicorn_timeout = _env_int("GUNICORN_TIMEOUT", 30)
    if values["REQUEST_TIMEOUT_SECONDS"] <= gunicorn_timeout:
        problems.append(f"REQUEST_TIMEOUT_SECONDS ({values['REQUEST_TIMEOUT_SECONDS']}) must be longer than "
                        f"GUNICORN_TIMEOUT ({gunicorn_timeout}): an Idempotency-Key in progress that long is "
                        "released to a retry, and a worker that stops answering is restarted first")
    base = values.get("WECHAT_API_BASE") or ""
    if not base.startswith("https://"):
        problems.append("WECHAT_API_BASE must be an https:// address of WeChat's API in production")
    if problems:
        raise ConfigError("Linli refuses to start in production: " + "; ".join(problems) + ".")


def _check_proxy_hops(values: dict) -> None:
    hops = values.get("PROXY_FIX_HOPS")
    if not (isinstance(hops, int) and not isinstance(hops, bool) and 0 <= hops <= MAX_PROXY_HOPS):
        raise ConfigError(f"PROXY_FIX_HOPS={hops!r} must be a whole number from 0 (no proxy trusted) to "
                          f"{MAX_PROXY_HOPS}: the number of reverse proxies in front of the app")


def _random_page_cost(text: str) -> float | None:
    """POSTGRES_RANDOM_PAGE_COST: a number from 0.1 to 100, or ``server`` for the server's own setting."""
    text = text.strip().lower()
    if text == "server":
        return None
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.1 <= value <= 100:
        raise ConfigError(f"POSTGRES_RANDOM_PAGE_COST={text!r} must be a number from 0.1 to 100, or 'server' to "
                          "keep the PostgreSQL server's own random_page_cost")
    return value


def _check_redis(values: dict) -> None:
    bounds = {"REDIS_TIMEOUT_MS": (1, 10000), "REDIS_BREAKER_FAILURES": (1, 100),
              "REDIS_BREAKER_COOL_OFF_SECONDS": (1, 3600)}
    for name, (low, high) in bounds.items():
        value = values.get(name)
        if not (isinstance(value, int) and not isinstance(value, bool) and low <= value <= high):
            raise ConfigError(f"{name}={value!r} must be a whole number from {low} to {high}")


LOG_FORMATS = ("json", "text")


def _check_log_format(values: dict) -> None:
    if values.get("LOG_FORMAT") not in LOG_FORMATS:
        raise ConfigError(f"LOG_FORMAT={values.get('LOG_FORMAT')!r} must be one of {', '.join(LOG_FORMATS)}")


def load_config(name: str | None = None, overrides: dict | None = None) -> dict:
    """Return the settings of profile ``name`` (default: ``LINLI_ENV`` or development)."""
    name = name or _env("LINLI_ENV", "development")
    if name not in PROFILES:
        raise ConfigError(f"LINLI_ENV={name!r} is not one of {', '.join(PROFILES)}")
    cls = PROFILES[name]
    values = {k: getattr(cls, k) for k in dir(cls) if k.isupper()}
    if name != "test":
        values.update(cls.from_environment())
    values.update(overrides or {})
    values["REQUEST_TIMEOUT"] = timedelta(seconds=values["REQUEST_TIMEOUT_SECONDS"])
    _check_proxy_hops(values)
    _check_redis(values)
    _check_log_format(values)
    if name == "production":
        validate_production(values)
    return values
