"""Seeing inside: every request gets an id (the client's ``X-Request-ID`` when it is a sane token, else a new
one), returned in the ``X-Request-ID`` header and in every error envelope, and carried by every log line
written while the request runs; one access-log line per request (``linli.access``: method, route — the URL
rule, never the raw path —, status, duration_ms, user_id when authenticated); the request's duration in the
metrics; and ``GET /metrics`` for Prometheus.

``/metrics`` is served only to whom it is meant for: with ``METRICS_TOKEN`` set, to a request carrying
``Authorization: Bearer <METRICS_TOKEN>`` (from anywhere); without it, to a request from a loopback or
private address (``INTERNAL_NETWORKS``; ``request.remote_addr``: behind a proxy, the client's as
``PROXY_FIX_HOPS`` trusts it). Anyone else gets the 404 envelope, as if there were no such page. It is not
part of the API document.
"""
from __future__ import annotations

import hmac
import ipaddress
import logging
import time

from flask import Flask, Response, current_app, g, request

from api.errors import envelope_for, request_id
from models.base import db
from service import metrics
from service.observability import LineRecord, request_id_from, set_request_id

access_log = logging.getLogger("linli.access")

HEADER = "X-Request-ID"
# Where /metrics is served without METRICS_TOKEN: loopback and the private ranges (RFC 1918, IPv6 ULA).
INTERNAL_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"))
_STARTED = "linli.started"  # in the request's environ: (perf_counter at the start, the actor before it, the id)


def _start() -> None:
    environ = request.environ
    request_id = request_id_from(environ.get("HTTP_X_REQUEST_ID"))
    set_request_id(request_id)
    # ``g`` belongs to the app context, which a test's requests share: an actor left by an earlier request
    # is not this request's.
    environ[_STARTED] = (time.perf_counter(), g.get("actor"), request_id)


def _finish(response: Response) -> Response:
    """The request's id in its answer; its duration in the metrics; its access-log line. Then the id is
    forgotten (the next request on this thread sets its own)."""
    req = request._get_current_object()  # once: each access through the proxy costs as much as a lookup
    started = req.environ.get(_STARTED)
    if started is None:  # the start hook did not run for this request
        response.headers[HEADER] = request_id()
        return response
    seconds = time.perf_counter() - started[0]
    response.headers[HEADER] = started[2]
    rule = req.url_rule
    route = rule.rule if rule is not None else metrics.UNMATCHED
    method, status = req.method, response.status_code
    metrics.observe_request(route, method, status, seconds)
    if access_log.isEnabledFor(logging.INFO):
        fields = {"method": method, "route": route, "status": status, "duration_ms": round(seconds * 1000, 2)}
        actor = g.get("actor")
        if actor is not None and actor is not started[1]:
            fields["user_id"] = actor.user_id
        # Logger.handle with a LineRecord rather than .info: finding the caller's file and line and the
        # thread's and process's names would cost more than writing the line.
        access_log.handle(LineRecord(access_log.name, logging.INFO, "%s %s %s", (method, route, status), fields))
    set_request_id(None)
    return response


def serve_metrics():
    if not _may_scrape():
        return envelope_for(404)
    return Response(metrics.render(), mimetype=None, content_type=metrics.CONTENT_TYPE)


def _may_scrape() -> bool:
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        given = request.headers.get("Authorization", "")
        scheme, _, value = given.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode())
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    if getattr(address, "ipv4_mapped", None):
        address = address.ipv4_mapped
    return any(address in network for network in INTERNAL_NETWORKS if network.version == address.version)


def register(app: Flask) -> None:
    """The request-id hook runs before every other (an error raised by a later hook carries the id), the
    access log after the answer is made; ``/metrics`` is a plain route, outside the API document."""
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_finish)
    app.add_url_rule("/metrics", "metrics", serve_metrics, methods=["GET"])
    with app.app_context():
        for engine in db.engines.values():
            metrics.watch_pool(engine)
