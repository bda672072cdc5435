"""The application factory."""
from __future__ import annotations

import importlib

import orjson
from flask import Flask, current_app, g, request
from flask.sessions import SessionInterface
from swagger_ui_bundle import swagger_ui_path
from werkzeug.middleware.proxy_fix import ProxyFix

from api import docs, guards, idempotency, observability
from api.errors import register_error_handlers
from api.extensions import LIMITED_METHODS, READ_ONLY_METHODS, api, jwt, limiter, migrate
from api.responses import ShanghaiJSONProvider
from api.security import register_jwt_loaders
from config import INSTANCE_DIR, ROOT, load_config, pii_keys, setting_from_environment
from models.base import compared_by_alembic, db
from service import (account_closure, calendar, consent, data_export, notifications, places, postgres, privacy,
                     redis_client, registry, retention, second_factor, sqlite, storage, uploads)
from service.db import (end_read_transaction, end_request, ping_when_idle, reads_in_autocommit, start_request,
                        track_writes)
from service.observability import configure_logging
from service.wechat import WeChatClient


class NoCookieSessions(SessionInterface):
    """The API keeps no cookie session (a bearer token says who calls): Flask's default would build a signing
    serializer on every request to read a cookie no client sends."""

    def open_session(self, app, request):
        return self.make_null_session(app)

    def save_session(self, app, session, response) -> None:
        return None


class LinliFlask(Flask):
    json_provider_class = ShanghaiJSONProvider
    session_interface = NoCookieSessions()


def create_app(config: dict | None = None, profile: str | None = None) -> Flask:
    """Build the app for ``profile`` (default ``LINLI_ENV``), with ``config`` overriding settings."""
    settings = load_config(profile, config)
    app = LinliFlask("linli", instance_path=str(INSTANCE_DIR), root_path=str(ROOT))
    app.config.update(settings)
    for domain in registry.domains():  # the settings a domain reads, from the environment or its defaults
        for name, default in domain.settings.items():
            app.config.setdefault(name, setting_from_environment(name, default))
    configure_logging(app.config["LOG_FORMAT"])  # JSON lines or text (LOG_FORMAT), with the request id

    _configure_database(app)
    _configure_services(app)
    register_extensions(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_jwt_loaders()
    guards.register(app)
    idempotency.register(app)
    observability.register(app)  # request ids, the access log, request metrics and /metrics
    hops = app.config["PROXY_FIX_HOPS"]
    if hops:  # the client address is the one the outermost trusted proxy saw (README: the proxy overwrites it)
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    return app


def _configure_database(app: Flask) -> None:
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    # JSON columns (a facility's hours, a notification's data, a booking's breakdown) read by orjson: the
    # standard library's parser was a tenth of a nearby-facilities answer. Written as before.
    options.setdefault("json_deserializer", orjson.loads)
    if uri.startswith("sqlite"):
        sqlite.configure_engine(uri, options, app.config["SQLITE_BUSY_TIMEOUT_MS"])
    else:
        postgres.configure_engine(uri, options)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def _start_request() -> None:
    """Tell the service whether this request only reads (its transactions begin as reads: service.db)."""
    g.linli_request = start_request(read_only=request.method in READ_ONLY_METHODS)


def _end_request(error: BaseException | None = None) -> None:
    started = g.pop("linli_request", None)
    if started is not None:
        end_request(started)


def _configure_services(app: Flask) -> None:
    version, old_keys = pii_keys(app.config)
    privacy.configure(app.config.get("PII_KEY") or app.config["SECRET_KEY"], version=version, old_keys=old_keys,
                      hash_secret=app.config.get("PII_HASH_KEY"))
    redis_client.configure(app.config.get("REDIS_URL"), app.config["REDIS_TIMEOUT_MS"],
                           app.config["REDIS_BREAKER_FAILURES"], app.config["REDIS_BREAKER_COOL_OFF_SECONDS"])
    storage.configure(app.config.get("STORAGE_URL"), INSTANCE_DIR / "uploads")
    calendar.load()
    calendar.configure(app.config["CALENDAR_REFRESH_SECONDS"])
    registry.load_rules()
    retention.load()  # config/rules/privacy.yaml: how long personal data is kept
    consent.load()  # the privacy notice and the purposes people consent to
    uploads.register_visibility("consent", consent.may_see_evidence)  # a photographed consent form
    data_export.load()  # copies of one's data
    account_closure.load()  # and closing one's account
    second_factor.configure(app.config["SECOND_FACTOR"])  # and which roles need a second factor
    notifications.load_templates()  # the platform's templates and each domain's (its rules file)
    for domain in registry.domains():  # what each domain registers with the platform
        for kind, select in domain.locators.items():
            places.register_locator(kind, select)
        for kind, rule in domain.upload_rules.items():
            uploads.register_visibility(kind, rule)
        if domain.on_calendar is not None:
            calendar.subscribe(domain.name, domain.on_calendar)
    app.extensions["wechat"] = WeChatClient(app.config["WECHAT_API_BASE"], app.config.get("WECHAT_APPID"),
                                            app.config.get("WECHAT_SECRET"), app.config["WECHAT_TIMEOUT"])


def register_extensions(app: Flask) -> None:
    # The app's first before_request hook (no hook before it reads the database) and so its last teardown.
    app.before_request(_start_request)
    app.teardown_request(_end_request)
    db.init_app(app)
    track_writes()
    # Registered after Flask-SQLAlchemy's own teardown (which removes the session), so it runs first.
    app.teardown_appcontext(end_read_transaction)
    with app.app_context():
        for engine in db.engines.values():
            sqlite.install(engine, app.config["SQLITE_BUSY_TIMEOUT_MS"])
            if engine.dialect.name != "sqlite":
                ping_when_idle(engine)
                reads_in_autocommit(engine)
                postgres.write_pages(engine)
                postgres.price_random_reads(engine, app.config["POSTGRES_RANDOM_PAGE_COST"])
                postgres.keep_prepared_statements(engine)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True, compare_type=True,
                     include_object=compared_by_alembic)
    jwt.init_app(app)
    # Redis when configured, each process's own counts while it fails (api/ratelimit_storage.py).
    app.config.setdefault("RATELIMIT_STORAGE_URI", "redis-or-process-memory://" if app.config.get("REDIS_URL")
                          else "process-memory://")
    limiter.init_app(app)
    api.init_app(app)

    assets = docs.Assets(str(swagger_ui_path))

    @app.route("/docs/assets/<path:filename>")
    def swagger_assets(filename):
        return assets.response(filename)


# The platform's own views; each domain's come from ``api/v1/<name>`` (its ``BLUEPRINTS``), through the registry.
PLATFORM_VIEWS = ("people", "places", "notifications", "audit", "uploads", "calendar", "second_factor", "privacy")


_LIMITED: set[str] = set()   # the blueprints whose limits the process-wide limiter holds


def _login_limit() -> str:
    return current_app.config["RATELIMIT_LOGIN"]


def _create_limit() -> str:
    return current_app.config["RATELIMIT_CREATE"]


def _limit_once(login, creating, exempt) -> None:
    """The rate limits of the blueprints, given to the process's one limiter once: it keeps them by blueprint, and
    a second app built in the same process (tests, a command) would add each again, so that one request counted
    once per app. The limits are read from the configuration of the app serving the request."""
    limits = [(login, _login_limit, ["POST"])] + [(blp, _create_limit, list(LIMITED_METHODS)) for blp in creating]
    for blp, limit, methods in limits:
        if blp.name not in _LIMITED:
            limiter.limit(limit, methods=methods)(blp)
            _LIMITED.add(blp.name)
    limiter.exempt(exempt)


def register_blueprints(app: Flask) -> None:
    from flask_smorest import Blueprint as ApiBlueprint

    from api.v1 import auth as auth_views, health

    platform = [importlib.import_module(f"api.v1.{name}").blp for name in PLATFORM_VIEWS]
    domains = [blp for domain in registry.domains() for blp in domain.part("api", "BLUEPRINTS", ())]
    _limit_once(auth_views.blp, platform + domains, health.blp)
    idempotency.exempt(app, auth_views.blp)  # logins, refreshes and logouts: tokens are never stored
    for blp in (health.blp, auth_views.blp, *platform, *domains):
        if isinstance(blp, ApiBlueprint):
            api.register_blueprint(blp)
        else:  # a plain Flask blueprint (a partner protocol with its own document, e.g. Open311)
            app.register_blueprint(blp)
