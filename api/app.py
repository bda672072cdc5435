"""The application factory."""
from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Flask, has_request_context, request
from swagger_ui_bundle import swagger_ui_path
from werkzeug.middleware.proxy_fix import ProxyFix

from api import docs, guards, idempotency
from api.errors import register_error_handlers
from api.extensions import LIMITED_METHODS, READ_ONLY_METHODS, api, jwt, limiter, migrate
from api.responses import ShanghaiJSONProvider
from api.security import register_jwt_loaders
from config import INSTANCE_DIR, ROOT, load_config
from models.base import db
from service import auth, calendar, notifications, privacy
from service.db import begin_mode, end_read_transaction, track_writes
from service.cases import rules as case_rules
from service.life_circle import rules as life_circle_rules
from service.meals import rules as meal_rules
from service.voting import rules as voting_rules
from service.wechat import WeChatClient


class LinliFlask(Flask):
    json_provider_class = ShanghaiJSONProvider


def create_app(config: dict | None = None, profile: str | None = None) -> Flask:
    """Build the app for ``profile`` (default ``LINLI_ENV``), with ``config`` overriding settings."""
    settings = load_config(profile, config)
    app = LinliFlask("linli", instance_path=str(INSTANCE_DIR), root_path=str(ROOT))
    app.config.update(settings)
    logging.basicConfig(level=logging.INFO)

    _configure_database(app)
    _configure_services(app)
    register_extensions(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_jwt_loaders()
    guards.register(app)
    idempotency.register(app)
    register_cli(app)
    hops = app.config["PROXY_FIX_HOPS"]
    if hops:  # the client address is the one the outermost trusted proxy saw (README: the proxy overwrites it)
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    return app


def _configure_database(app: Flask) -> None:
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if uri.startswith("sqlite"):
        if uri.startswith("sqlite:///") and ":memory:" not in uri:
            INSTANCE_DIR.mkdir(exist_ok=True)
        options.setdefault("connect_args", {})["timeout"] = app.config["SQLITE_BUSY_TIMEOUT_MS"] / 1000
    else:
        options.setdefault("pool_pre_ping", True)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def install_sqlite_pragmas(engine: sa.engine.Engine, busy_timeout_ms: int) -> None:
    """WAL, foreign keys and a busy timeout on every connection, and explicit
    BEGINs (pysqlite's own BEGIN handling breaks SAVEPOINTs).

    Transactions that may write start with ``BEGIN IMMEDIATE``, so a write never
    fails half-way with "database is locked"; read-only requests (GET, HEAD,
    OPTIONS) start a plain ``BEGIN`` so readers never wait for one another. A GET
    that must write (an audit entry of a view) ends its read transaction first,
    so its write transaction starts with the write. In a writing request, the
    reads around the use-case (``service.db.reading``: loading the caller, the
    answer) start a plain ``BEGIN`` too, and a use-case (``service.db.transactional``)
    always ``BEGIN IMMEDIATE``: the write lock is held only while the use-case runs.
    """

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection, record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(connection):
        mode = begin_mode()
        if mode == "deferred" or (mode is None and has_request_context() and request.method in READ_ONLY_METHODS):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def _configure_services(app: Flask) -> None:
    privacy.configure(app.config.get("PII_KEY") or app.config["SECRET_KEY"])
    auth.configure(app.config.get("REDIS_URL"))
    notifications.load_templates()
    calendar.load()
    calendar.configure(app.config["CALENDAR_REFRESH_SECONDS"])
    case_rules.load()
    life_circle_rules.load()
    meal_rules.load()
    voting_rules.load()
    app.extensions["wechat"] = WeChatClient(app.config["WECHAT_API_BASE"], app.config.get("WECHAT_APPID"),
                                            app.config.get("WECHAT_SECRET"), app.config["WECHAT_TIMEOUT"])


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    track_writes()
    # Registered after Flask-SQLAlchemy's own teardown (which removes the session), so it runs first.
    app.teardown_appcontext(end_read_transaction)
    with app.app_context():
        for engine in db.engines.values():
            if engine.dialect.name == "sqlite":
                install_sqlite_pragmas(engine, app.config["SQLITE_BUSY_TIMEOUT_MS"])
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True, compare_type=True)
    jwt.init_app(app)
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "process-memory://")
    limiter.init_app(app)
    api.init_app(app)

    assets = docs.Assets(str(swagger_ui_path))

    @app.route("/docs/assets/<path:filename>")
    def swagger_assets(filename):
        return assets.response(filename)


def register_blueprints(app: Flask) -> None:
    from api import open311
    from api.v1 import (audit, auth as auth_views, calendar as calendar_views, case_metrics, cases, health,
                        life_circle, meals, notifications as notification_views, open311_keys, people, places,
                        uploads, voting)

    domains = (people, places, notification_views, audit, cases, uploads, open311_keys, case_metrics, life_circle,
               meals, voting, calendar_views)
    login_limit = lambda: app.config["RATELIMIT_LOGIN"]  # noqa: E731
    create_limit = lambda: app.config["RATELIMIT_CREATE"]  # noqa: E731
    limiter.limit(login_limit, methods=["POST"])(auth_views.blp)
    for module in domains:
        limiter.limit(create_limit, methods=list(LIMITED_METHODS))(module.blp)
    limiter.limit(create_limit, methods=["POST"])(open311.bp)
    limiter.exempt(health.blp)
    idempotency.exempt(app, auth_views.blp)  # logins, refreshes and logouts: tokens are never stored
    for module in (health, auth_views, *domains):
        api.register_blueprint(module.blp)
    app.register_blueprint(open311.bp)


def register_cli(app: Flask) -> None:
    from data.demo.loader import demo_cli
    from jobs.calendar import calendar_cli
    from jobs.runner import jobs_cli
    from jobs.voting import CLI as voting_cli

    app.cli.add_command(jobs_cli)
    app.cli.add_command(voting_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(calendar_cli)
