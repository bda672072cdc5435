"""GET /metrics under gunicorn, as deployed (config/gunicorn.py, PROMETHEUS_MULTIPROC_DIR): the requests of
every worker and the sweeps of the scheduler process add up in any worker's answer, a worker that dies
leaves its counts but not its live gauges (gunicorn's child_exit hook), and every line gunicorn and the app
log is JSON with LOG_FORMAT=json."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from config import ROOT

REQUESTS = 40


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _environment(database_url: str, metrics_dir: Path, port: int) -> dict:
    env = {key: value for key, value in os.environ.items() if key not in ("TEST_DATABASE_URL", "METRICS_TOKEN")}
    env.update({"LINLI_ENV": "development", "DATABASE_URL": database_url, "FLASK_APP": "manage.py",
                "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "LOG_FORMAT": "json",
                "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "2", "GUNICORN_THREADS": "2"})
    return env


def _scrape(base: str) -> dict:
    response = requests.get(f"{base}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def _value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def _workers(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children")
    return [int(pid) for pid in children.read_text().split()] if children.exists() else []


def _wait(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except (requests.ConnectionError, OSError):
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.real_commits
def test_every_worker_and_the_scheduler_add_up_in_one_scrape(database_url, tmp_path):
    port, metrics_dir = _free_port(), tmp_path / "metrics"
    env = _environment(database_url, metrics_dir, port)
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "gunicorn.log").open("w+")
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py", "wsgi:app"], cwd=ROOT,
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait(lambda: len(_workers(server.pid)) == 2 and requests.get(f"{base}/healthz", timeout=2).ok, 90,
              "gunicorn and its 2 workers")
        for _ in range(REQUESTS):  # a new connection each time: either worker may take it
            response = requests.get(f"{base}/healthz", headers={"Connection": "close", "X-Request-ID": "probe-1"},
                                    timeout=10)
            assert response.status_code == 200 and response.headers["X-Request-ID"] == "probe-1"

        # the scheduler is another process writing to the same directory
        job = subprocess.run([sys.executable, "-m", "flask", "jobs", "run-once", "notifications.deliver"], cwd=ROOT,
                             env=env, capture_output=True, text=True, timeout=120)
        assert job.returncode == 0, job.stderr

        samples = _scrape(base)
        healthz = {"route": "/healthz", "method": "GET", "status": "200"}
        served = _value(samples, "linli_http_request_duration_seconds_count", **healthz)
        assert served >= REQUESTS + 1  # and gunicorn's readiness probe
        assert _value(samples, "linli_job_runs_total", job="notifications.deliver", outcome="ok") == 1
        assert _value(samples, "linli_job_duration_seconds_count", job="notifications.deliver") == 1
        pool_size = _value(samples, "linli_db_pool_size")
        assert pool_size > 0 and pool_size % 2 == 0  # both workers' pools; the ended scheduler's no longer

        # A worker killed: gunicorn replaces it; child_exit drops its live gauges (the pool it had), and what it
        # counted stays counted.
        victim = _workers(server.pid)[0]
        assert (metrics_dir / f"gauge_livesum_{victim}.db").exists()
        os.kill(victim, signal.SIGKILL)
        _wait(lambda: not (metrics_dir / f"gauge_livesum_{victim}.db").exists(), 30, "child_exit to run")
        _wait(lambda: len(_workers(server.pid)) == 2 and victim not in _workers(server.pid), 90, "a new worker")
        after = _wait(lambda: (lambda s: s if _value(s, "linli_db_pool_size") == pool_size else None)(_scrape(base)),
                      60, "the new worker's pool to be counted")
        assert _value(after, "linli_http_request_duration_seconds_count", **healthz) >= served
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    log.seek(0)
    lines = [line for line in log.read().splitlines() if line.strip()]
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            pytest.fail(f"a log line that is not JSON: {line!r}")
    access = [r for r in records if r.get("logger") == "linli.access" and r.get("request_id") == "probe-1"]
    assert len(access) == REQUESTS and all(r["route"] == "/healthz" and r["status"] == 200 for r in access)
    assert any(r.get("logger") == "gunicorn.error" and "Booting worker" in r["message"] for r in records)
