"""Liveness and readiness."""
from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import abort

from api.docs import errors
from api.errors import language
from api.extensions import Blueprint
from service import calendar, system

blp = Blueprint("health", __name__, description="Liveness and readiness probes")


class HealthOut(ma.Schema):
    status = ma.fields.String(required=True, metadata={"example": "ok"})


class WarningOut(ma.Schema):
    code = ma.fields.String(required=True, metadata={"example": "calendar.arrangement_missing"})
    message = ma.fields.String(required=True)
    year = ma.fields.Integer()


class ReadyOut(ma.Schema):
    status = ma.fields.String(required=True, metadata={"example": "ready"})
    database = ma.fields.Boolean(required=True)
    migrations = ma.fields.Boolean(required=True)
    revision = ma.fields.String(allow_none=True, metadata={"description": "The database's migration"})
    head = ma.fields.String(allow_none=True, metadata={"description": "The newest migration this code ships"})
    redis = ma.fields.String(required=True, metadata={
        "enum": ["ok", "degraded", "off"],
        "description": "`off`: REDIS_URL not set; `ok`: answering; `degraded`: not answering, the service "
                       "stays ready (rate limits counted per worker) and warns `redis.degraded`"})
    warnings = ma.fields.List(ma.fields.Nested(WarningOut), required=True, metadata={
        "description": "Ready, but someone should act: e.g. from 1 November, next year's holiday arrangement "
                       "is not loaded yet (its deadlines are provisional)"})


@blp.route("/healthz")
class Health(MethodView):
    @blp.response(200, HealthOut, example={"status": "ok"})
    def get(self):
        """Process alive

        Answers without touching the database.
        """
        return {"status": "ok"}


@blp.route("/readyz")
class Ready(MethodView):
    # The example names the migration this code ships as its head, as the answer would.
    @blp.response(200, ReadyOut, example={"status": "ready", "database": True, "migrations": True,
                                          "revision": system.migrations_head(), "head": system.migrations_head(),
                                          "redis": "ok", "warnings": []})
    @errors(blp, 503)
    def get(self):
        """Ready to serve

        The database is reachable and its migrations are at head; 503 otherwise.
        `warnings` lists what needs doing without making the service unready:
        `calendar.arrangement_missing` from 1 November until next year's
        holiday arrangement is loaded (and all year for this year's);
        `redis.degraded` while the configured Redis does not answer (`redis`
        says `ok`, `degraded` or `off` when none is configured).
        """
        result = system.readiness()
        if not (result["database"] and result["migrations"]):
            abort(503, errors={"readiness": result})
        lang = language()
        return {"status": "ready", **result,
                "warnings": calendar.warnings(lang) + system.redis_warnings(result["redis"], lang)}
