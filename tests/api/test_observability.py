"""What an operator sees: the request id (header, error envelope, every log line of the request), the access
log line, the sweeps' log lines, GET /metrics and who may read it, LOG_FORMAT."""
from __future__ import annotations

import io
import json
import logging
import re

import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from api import observability
from config import ConfigError, load_config
from jobs import runner
from jobs.registry import Job
from service import metrics
from service.observability import _HANDLER_MARK, JsonFormatter, TextFormatter, configure_logging, request_id_from
from tests.factories import auth, make_user
from tests.unit.test_config import GOOD, set_env

GENERATED = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def lines(monkeypatch):
    """The JSON lines the app's loggers write during the test (alembic's logging set-up disables the app's
    loggers when the test database is migrated: they are enabled again here)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("linli")
    for name in ("linli", "linli.access", "linli.errors", "linli.jobs"):
        monkeypatch.setattr(logging.getLogger(name), "disabled", False)
    monkeypatch.setattr(logger, "level", logging.INFO)
    logger.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        logger.removeHandler(handler)


def scrape(client, **kwargs) -> dict:
    """The samples of GET /metrics: {(name, labels as a sorted tuple): value}."""
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.data
    assert response.content_type.startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def sample(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def requests_of(samples: dict, route: str, method: str = "GET", status: int = 200) -> float:
    return sample(samples, "linli_http_request_duration_seconds_count", route=route, method=method,
                  status=str(status))


# --- the request id ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("sent", ["abc-123", "A.b_C-9", "x" * 64, "5f2b9c1e-8d7a-4c0b-9e6f-3a2d1c0b9a8f"])
def test_a_sane_request_id_from_the_client_is_kept(client, sent):
    response = client.get("/healthz", headers={"X-Request-ID": sent})
    assert response.headers["X-Request-ID"] == sent


@pytest.mark.parametrize("sent", ["", "x" * 65, "a b", "id;drop", "é", "a\\b", "{\"json\":1}"])
def test_an_insane_request_id_is_replaced_by_a_new_one(client, sent):
    response = client.get("/healthz", headers={"X-Request-ID": sent})
    assert GENERATED.fullmatch(response.headers["X-Request-ID"])


def test_each_request_gets_its_own_id(client):
    ids = {client.get("/healthz").headers["X-Request-ID"] for _ in range(5)}
    assert len(ids) == 5 and all(GENERATED.fullmatch(i) for i in ids)


@pytest.mark.parametrize("call", [
    lambda c, h: c.get("/api/v1/nowhere", headers=h),                                   # 404 no rule
    lambda c, h: c.get("/api/v1/me", headers=h),                                        # 401
    lambda c, h: c.delete("/healthz", headers=h),                                       # 405
    lambda c, h: c.post("/api/v1/auth/demo", json={"username": ""}, headers=h),         # 422
    lambda c, h: c.post("/api/v1/auth/demo", data="{", content_type="application/json", headers=h),  # 400 guard
    lambda c, h: c.get("/api/v1/streets?" + "x" * 5000, headers=h),                     # 414 guard
], ids=["404", "401", "405", "422", "400", "414"])
def test_every_error_envelope_carries_the_request_id_of_its_header(client, call):
    mine = call(client, {"X-Request-ID": "trace-42"})
    assert mine.status_code >= 400 and mine.json["request_id"] == "trace-42" == mine.headers["X-Request-ID"]
    theirs = call(client, {})
    assert theirs.json["request_id"] == theirs.headers["X-Request-ID"] and GENERATED.fullmatch(
        theirs.json["request_id"])


def test_the_error_schema_documents_the_request_id(client):
    document = client.get("/openapi.json").json
    schema = document["components"]["schemas"]["Error"]
    assert "request_id" in schema["required"] and schema["properties"]["request_id"]["type"] == "string"
    example = document["components"]["responses"]["NOT_FOUND"]["content"]["application/json"]["example"]
    assert set(example) == {"code", "status", "error", "message", "errors", "request_id"}


# --- the access log ----------------------------------------------------------------------------------------

def test_one_access_line_per_request_with_the_url_rule_and_the_user(client, lines, app):
    user = make_user(name="王秀英")
    client.get("/api/v1/me", headers=auth(user, **{"X-Request-ID": "me-1"}))
    client.get("/api/v1/streets/987654", headers={"X-Request-ID": "street-1"})
    client.get("/api/v1/nowhere/12345?phone=13812345678", headers={"X-Request-ID": "none-1"})
    access = [line for line in lines() if line["logger"] == "linli.access"]
    assert [line["request_id"] for line in access] == ["me-1", "street-1", "none-1"]
    me, street, nowhere = access
    assert me["method"] == "GET" and me["route"] == "/api/v1/me" and me["status"] == 200
    assert me["user_id"] == user.id and isinstance(me["duration_ms"], float) and me["duration_ms"] >= 0
    rule = next(r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/api/v1/streets/<"))
    assert street["route"] == rule and street["status"] == 404 and "user_id" not in street
    assert nowhere["route"] == "unmatched" and nowhere["status"] == 404
    text = json.dumps(access)
    assert "987654" not in text and "13812345678" not in text  # the rule, never the raw path or query
    for line in access:
        assert line["level"] == "INFO" and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["ts"])


def test_an_earlier_requests_user_is_not_logged_for_an_anonymous_one(client, lines):
    user = make_user()
    client.get("/api/v1/me", headers=auth(user))
    client.get("/healthz")
    first, second = [line for line in lines() if line["logger"] == "linli.access"]
    assert first["user_id"] == user.id and "user_id" not in second


def test_a_line_written_while_a_request_runs_carries_its_id(client, lines, monkeypatch):
    from service import system

    def broken():
        raise RuntimeError("the database is on fire")

    monkeypatch.setattr(system, "readiness", broken)
    response = client.get("/readyz", headers={"X-Request-ID": "fire-1"})
    assert response.status_code == 500 and response.json["request_id"] == "fire-1"
    errors = [line for line in lines() if line["logger"] == "linli.errors"]
    assert len(errors) == 1 and errors[0]["request_id"] == "fire-1" and "RuntimeError" in errors[0]["exc"]
    assert "\n" not in json.dumps(errors[0])  # the traceback is inside the one line
    access = [line for line in lines() if line["logger"] == "linli.access"]
    assert access[-1]["status"] == 500 and access[-1]["request_id"] == "fire-1"


def test_the_text_format_carries_the_same_fields():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(TextFormatter())
    logger = logging.getLogger("linli.test_text_format")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("GET %s %s", "/api/v1/me", 200, extra={"fields": {"status": 200, "duration_ms": 1.5}})
    finally:
        logger.removeHandler(handler)
    line = stream.getvalue().strip()
    assert line.endswith("WARNING linli.test_text_format GET /api/v1/me 200 status=200 duration_ms=1.5")


def test_configure_logging_replaces_its_own_handler():
    root = logging.getLogger()
    before = list(root.handlers)
    first = configure_logging("json", stream=io.StringIO())
    second = configure_logging("text", stream=io.StringIO())
    try:
        assert first not in root.handlers and second in root.handlers
        # Every handler it installed before (an app built earlier in this process, or ``first``) is replaced;
        # the others stay.
        kept = [h for h in before if not getattr(h, _HANDLER_MARK, False)]
        assert root.handlers == kept + [second]
        assert isinstance(second.formatter, TextFormatter)
    finally:
        root.removeHandler(second)
        for handler in before:
            if handler not in root.handlers:
                root.addHandler(handler)


def test_request_ids_are_sane_tokens():
    assert request_id_from("ok.ID-1_2") == "ok.ID-1_2"
    assert GENERATED.fullmatch(request_id_from(None)) and GENERATED.fullmatch(request_id_from("a" * 65))
    assert request_id_from("x\ny") != "x\ny"


# --- LOG_FORMAT and METRICS_TOKEN -----------------------------------------------------------------------------

def test_log_format_is_text_in_development_and_json_in_production(monkeypatch):
    set_env(monkeypatch)
    monkeypatch.delenv("LOG_FORMAT", raising=False)
    monkeypatch.delenv("METRICS_TOKEN", raising=False)
    assert load_config("development")["LOG_FORMAT"] == "text"
    assert load_config("test")["LOG_FORMAT"] == "text"
    set_env(monkeypatch, **GOOD)
    assert load_config("production")["LOG_FORMAT"] == "json"
    monkeypatch.setenv("LOG_FORMAT", "Text")
    assert load_config("production")["LOG_FORMAT"] == "text"
    monkeypatch.setenv("LOG_FORMAT", "xml")
    with pytest.raises(ConfigError, match="LOG_FORMAT='xml' must be one of json, text"):
        load_config("development")


def test_production_refuses_a_guessable_metrics_token(monkeypatch):
    set_env(monkeypatch, **GOOD, METRICS_TOKEN="metrics")
    with pytest.raises(ConfigError, match="METRICS_TOKEN must be a random value"):
        load_config("production")
    monkeypatch.setenv("METRICS_TOKEN", "Qm9vdHN0cmFwLXRva2VuLWZvci1tZXRyaWNzLTIwMjY")
    assert load_config("production")["METRICS_TOKEN"] == "Qm9vdHN0cmFwLXRva2VuLWZvci1tZXRyaWNzLTIwMjY"


# --- GET /metrics ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "10.1.2.3", "172.16.0.9", "192.168.1.20", "fd00::5",
                                     "::ffff:127.0.0.1"])
def test_metrics_are_served_to_loopback_and_private_addresses_without_a_token(client, address):
    scrape(client, environ_base={"REMOTE_ADDR": address})


@pytest.mark.parametrize("address", ["203.0.113.7", "8.8.8.8", "2001:db8::1", "240e:1::1", "169.254.1.1",
                                     "100.64.0.1", "172.32.0.1", "::ffff:8.8.8.8", "not-an-address"])
def test_metrics_are_a_404_envelope_for_anyone_else(client, address):
    response = client.get("/metrics", environ_base={"REMOTE_ADDR": address})
    assert response.status_code == 404 and response.json["error"] == "not_found"
    assert set(response.json) == {"code", "status", "error", "message", "errors", "request_id"}
    assert b"linli_" not in response.data


def test_with_a_token_metrics_need_it_from_everywhere(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "s3cr3t-token-for-metrics")
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cr3t-token-for-metrics"},
                    {"Authorization": "Bearer s3cr3t-token-for-metrics-and-more"}):
        response = client.get("/metrics", headers=headers)  # from loopback, too
        assert response.status_code == 404 and response.json["error"] == "not_found", headers
    scrape(client, headers={"Authorization": "Bearer s3cr3t-token-for-metrics"},
           environ_base={"REMOTE_ADDR": "203.0.113.7"})


def test_metrics_are_not_in_the_api_document(client):
    assert "/metrics" not in client.get("/openapi.json").json["paths"]


def test_requests_are_counted_by_url_rule_method_and_status(client, app):
    before = scrape(client)
    for _ in range(3):
        client.get("/healthz")
    client.get("/api/v1/streets/987654")
    client.get("/api/v1/nowhere/1")
    client.get("/api/v1/nowhere/2")
    client.delete("/healthz")
    after = scrape(client)
    rule = next(r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/api/v1/streets/<"))
    assert requests_of(after, "/healthz") - requests_of(before, "/healthz") == 3
    assert requests_of(after, rule, status=404) - requests_of(before, rule, status=404) == 1
    assert requests_of(after, "unmatched", status=404) - requests_of(before, "unmatched", status=404) == 2
    # a method no rule takes is not the rule's either
    assert requests_of(after, "unmatched", "DELETE", 405) - requests_of(before, "unmatched", "DELETE", 405) == 1
    # the previous scrape itself is counted too
    assert requests_of(after, "/metrics") - requests_of(before, "/metrics") == 1
    bucket = sample(after, "linli_http_request_duration_seconds_bucket", route="/healthz", method="GET",
                    status="200", le="+Inf")
    assert bucket == requests_of(after, "/healthz")
    assert not any("987654" in str(labels) for _, labels in after)


def test_sweeps_are_logged_and_counted_and_deliveries_by_outcome(client, app, lines):
    before = scrape(client)
    assert runner.run_job(app, Job("test.counts", lambda: {"done": 2, "none": 0}, "interval", {})) == {
        "done": 2, "none": 0}
    deliveries = {"sent": 3, "skipped": 1, "failed": 2}
    assert runner.run_job(app, Job(runner.DELIVERY_SWEEP, lambda: deliveries, "interval", {})) == deliveries

    def boom():
        raise RuntimeError("boom")

    assert runner.run_job(app, Job("test.boom", boom, "interval", {})) is None
    after = scrape(client)

    def grew(name, **labels):
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert grew("linli_job_runs_total", job="test.counts", outcome="ok") == 1
    assert grew("linli_job_items_total", job="test.counts", outcome="done") == 2
    assert grew("linli_job_duration_seconds_count", job="test.counts") == 1
    assert sample(after, "linli_job_last_success_timestamp_seconds", job="test.counts") > 1.7e9
    assert grew("linli_job_runs_total", job="test.boom", outcome="failed") == 1
    assert sample(after, "linli_job_last_success_timestamp_seconds", job="test.boom") == 0
    for outcome, count in deliveries.items():
        assert grew("linli_notification_deliveries_total", outcome=outcome) == count
    jobs = [line for line in lines() if line["logger"] == "linli.jobs"]
    counts, delivered, failed = jobs
    assert counts["job"] == "test.counts" and counts["outcome"] == "ok" and counts["counts"] == {"done": 2, "none": 0}
    assert isinstance(counts["duration_ms"], float)
    assert delivered["counts"] == deliveries
    assert failed["job"] == "test.boom" and failed["outcome"] == "failed" and failed["level"] == "ERROR"
    assert "RuntimeError: boom" in failed["exc"]


def test_a_sweep_skipped_for_a_lost_lease_is_counted(client, app):
    from service import system

    with app.app_context():
        assert system.acquire_lease(runner.LEASE, "other", 60)
    before = scrape(client)
    assert runner.run_job(app, Job("test.leased", lambda: 1, "interval", {}), "me") is None
    after = scrape(client)
    assert (sample(after, "linli_job_runs_total", job="test.leased", outcome="skipped")
            - sample(before, "linli_job_runs_total", job="test.leased", outcome="skipped")) == 1


def test_the_pool_gauges_follow_the_connections_lent(client, database_url):
    engine = sa.create_engine(database_url)
    try:
        metrics.watch_pool(engine)
        metrics.watch_pool(engine)  # once per pool
        before = scrape(client)
        first, second = engine.connect(), engine.connect()
        during = scrape(client)
        first.close()
        second.close()
        after = scrape(client)
    finally:
        engine.dispose()
    out = "linli_db_pool_checked_out"
    assert sample(during, out) - sample(before, out) == 2
    assert sample(after, out) == sample(before, out)
    assert sample(before, "linli_db_pool_size") >= engine.pool.size()


def test_the_hooks_are_registered_first_and_once(app):
    assert app.before_request_funcs[None][0] is observability._start
    assert app.after_request_funcs[None].count(observability._finish) == 1
