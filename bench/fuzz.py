"""Fuzz every operation of the running service with schemathesis: ``make fuzz`` or
``python -m bench.fuzz [--database-url URL] [--max-examples N] [--roles staff.demo,resident.demo]``.

Builds a fresh database (temporary SQLite unless ``--database-url``), migrates it, loads the demo
data, starts gunicorn on a free loopback port in the development profile (demo login on, rate
limits off), with WeChat's server API replaced by the local fake of the tests, and for each demo role logs in and runs ``st run --checks all`` (positive and negative
data: every documented input must be accepted, every undocumented one refused with a 4xx, every
answer must match the document, and no answer may be a 5xx) over every operation except logout
(it would revoke the fuzzer's own token; logout has its own tests).

It prints, per role: the operations tested, the requests sent, the answers per status class, the
5xx count, and the failures per check, and writes the raw reports to ``bench/results/fuzz-*``.
Exit status 0 only when no role has a 5xx or a failed check other than ``positive_data_acceptance``:
that check reports a schema-valid request the service refused, which is what a rule the document
cannot express does (an unknown category code, a unit that does not exist, an ID number whose check
digit is wrong, a NUL character); those refusals are listed for a reader to judge, not counted as
failures. ``bench/fuzz.toml`` adds 413 and 414 to the refusals schemathesis expects for bad input.
"""
from __future__ import annotations

if not __package__:
    raise SystemExit("run it as a module: python -m bench.fuzz")

import argparse
import collections
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

from bench.http import HOST, ROOT, free_port, redact
from tests.fakes.wechat import FakeWeChat

RESULTS = Path(__file__).resolve().parent / "results"
EXCLUDED = ("/api/v1/auth/logout",)
CONFIG = Path(__file__).resolve().parent / "fuzz.toml"
# Listed, not failed: a schema-valid request refused by a rule the document cannot express.
INFORMATIONAL = {"positive_data_acceptance"}


def _environment(database_url: str | None, tmpdir: Path, wechat) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GUNICORN_", "LINLI_", "FLASK_"))}
    for name in ("REDIS_URL", "PII_KEY", "RATELIMIT_LOGIN", "RATELIMIT_CREATE"):
        env.pop(name, None)
    env.update({
        "LINLI_ENV": "development",
        "FLASK_APP": "manage.py",
        "DATABASE_URL": database_url or f"sqlite:///{tmpdir / 'fuzz.db'}",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "JWT_SECRET_KEY": secrets.token_urlsafe(48),
        "DEMO_LOGIN": "1",
        # WeChat's servers are the outside world: the local fake speaks their protocol.
        "WECHAT_API_BASE": wechat.url,
        "WECHAT_APPID": wechat.appid,
        "WECHAT_SECRET": wechat.secret,
        "RATELIMIT_ENABLED": "false",
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    return env


def _flask(env: dict, *args: str) -> None:
    result = subprocess.run([sys.executable, "-m", "flask", *args], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=900)
    if result.returncode != 0:
        raise SystemExit(f"flask {' '.join(args)} failed:\n{result.stderr[-3000:]}")


def _post_json(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def _wait_ready(base: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the server exited before it was ready")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("the server did not become ready")


def _summarise(ndjson: Path) -> dict:
    """Requests, statuses and failures from schemathesis's NDJSON event stream."""
    statuses: collections.Counter = collections.Counter()
    failures: collections.Counter = collections.Counter()
    examples: dict[str, list[str]] = collections.defaultdict(list)
    operations: set[str] = set()
    seen: set[tuple] = set()
    server_errors = 0
    requests = 0
    errors = 0

    def walk_interactions(node):
        nonlocal requests, server_errors
        if isinstance(node, dict):
            response = node.get("response")
            if isinstance(response, dict) and "status_code" in response and "request" in node:
                requests += 1
                code = int(response["status_code"])
                statuses[f"{code // 100}xx"] += 1
                if code >= 500:
                    server_errors += 1
            for value in node.values():
                walk_interactions(value)
        elif isinstance(node, list):
            for value in node:
                walk_interactions(value)

    for line in ndjson.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        (kind, body), = event.items() if len(event) == 1 else (("?", event),)
        if kind == "ScenarioFinished":
            walk_interactions(body.get("recorder", {}).get("interactions", {}))
            label = body.get("recorder", {}).get("label")
            if label:
                operations.add(label)
            for case in (body.get("recorder", {}).get("checks") or {}).values():
                for check in case:
                    if str(check.get("status")).lower() == "failure":
                        name = check.get("name")
                        failure = (check.get("failure_info") or {}).get("failure") or {}
                        message = " ".join(str(failure.get("message", "")).split())[:300]
                        if (name, label, message) in seen:
                            continue  # the same failure found again by another test case
                        seen.add((name, label, message))
                        failures[name] += 1
                        if len(examples[name]) < 8:
                            examples[name].append(f"{label}: {message}")
        elif kind == "NonFatalError":
            errors += 1
    return {"operations": len(operations), "requests": requests, "statuses": dict(sorted(statuses.items())),
            "server_errors": server_errors, "failures": dict(failures), "errors": errors,
            "examples": dict(examples)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("FUZZ_DATABASE_URL"))
    parser.add_argument("--roles", default="staff.demo,resident.demo")
    parser.add_argument("--max-examples", type=int, default=int(os.environ.get("FUZZ_MAX_EXAMPLES", "25")))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--checks", default="all")
    parser.add_argument("--include-path-regex", default=None, help="only operations whose path matches")
    args = parser.parse_args(argv)

    tmpdir = Path(tempfile.mkdtemp(prefix="linli-fuzz-"))
    wechat = FakeWeChat().start()
    env = _environment(args.database_url, tmpdir, wechat)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"fuzz-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base = f"http://{HOST}:{port}"
    print(f"database: {redact(env['DATABASE_URL'])}; server: {base}; reports: {out.relative_to(ROOT)}", flush=True)
    _flask(env, "db", "upgrade")
    _flask(env, "demo", "load")
    gunicorn = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "config" / "gunicorn.py"), "wsgi:app"]
    server_env = {**env, "GUNICORN_BIND": f"{HOST}:{port}", "GUNICORN_WORKERS": "2", "GUNICORN_TIMEOUT": "120"}
    log = open(out / "server.log", "w")
    proc = subprocess.Popen(gunicorn, cwd=ROOT, env=server_env, stdout=log, stderr=subprocess.STDOUT)
    summary: dict[str, dict] = {}
    try:
        _wait_ready(base, proc)
        for role in [r.strip() for r in args.roles.split(",") if r.strip()]:
            token = _post_json(base + "/api/v1/auth/demo", {"username": role})["access_token"]
            ndjson = out / f"{role}.ndjson"
            command = [str(Path(sys.executable).parent / "st"), "--config-file", str(CONFIG), "run",
                       base + "/openapi.json",
                       "--checks", args.checks, "--mode", "all", "--max-examples", str(args.max_examples),
                       "--seed", str(args.seed), "--workers", "1", "--no-color",
                       "--phases", "examples,coverage,fuzzing",
                       "--suppress-health-check", "all",
                       "-H", f"Authorization: Bearer {token}", "-H", "Accept-Language: zh-CN",
                       "--report", "ndjson", "--report-ndjson-path", str(ndjson)]
            for path in EXCLUDED:
                command += ["--exclude-path", path]
            if args.include_path_regex:
                command += ["--include-path-regex", args.include_path_regex]
            started = time.monotonic()
            with open(out / f"{role}.txt", "w") as text:
                subprocess.run(command, cwd=ROOT, env=env, stdout=text, stderr=subprocess.STDOUT)
            result = _summarise(ndjson)
            result["seconds"] = round(time.monotonic() - started, 1)
            summary[role] = result
            print(f"\n== {role}: {result['operations']} operations, {result['requests']} requests in "
                  f"{result['seconds']} s; statuses {result['statuses']}; 5xx {result['server_errors']}; "
                  f"failed checks {result['failures'] or 'none'}", flush=True)
            for name, items in result["examples"].items():
                print(f"   {name}:")
                for item in items:
                    print(f"     - {item}")
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        wechat.stop()
        shutil.rmtree(tmpdir, ignore_errors=True)
    (out / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2))
    clean = all(not r["server_errors"] and not set(r["failures"]) - INFORMATIONAL for r in summary.values())
    print("\nfuzz: " + ("no 5xx and no failed check (schema-valid requests refused by a rule are listed above)"
                        if clean else "FAILURES (see above and the reports)"))
    return 0 if clean else 1


if __name__ == "__main__":
    raise SystemExit(main())
