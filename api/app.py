"""The application factory."""
from __future__ import annotations

import logging

from flask import Flask, g, request
from swagger_ui_bundle import swagger_ui_path
from werkzeug.middleware.proxy_fix import ProxyFix

from api import docs, guards, idempotency
from api.errors import register_error_handlers
from api.extensions import LIMITED_METHODS, READ_ONLY_METHODS, api, jwt, limiter, migrate
from api.responses import ShanghaiJSONProvider
from api.security import register_jwt_loaders
from config import INSTANCE_DIR, ROOT, load_config
from models.base import db
from service import auth, calendar, notifications, privacy, sqlite
from service.db import end_read_transaction, end_request, start_request, track_writes
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
        sqlite.configure_engine(uri, options, app.config["SQLITE_BUSY_TIMEOUT_MS"])
    else:
        options.setdefault("pool_pre_ping", True)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def _start_request() -> None:
    """Tell the service whether this request only reads (its transactions begin as reads: service.db)."""
    g.linli_request = start_request(read_only=request.method in READ_ONLY_METHODS)


def _end_request(error: BaseException | None = None) -> None:
    started = g.pop("linli_request", None)
    if started is not None:
        end_request(started)


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
    from jobs.voting import voting_cli

    app.cli.add_command(jobs_cli)
    app.cli.add_command(voting_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(calendar_cli)
