"""A reusable HTTP benchmark harness (loopback only).

* :func:`production_environment` — the environment of a production-like
  server: ``LINLI_ENV=production``, fresh random secrets, a temporary SQLite
  file database (or ``BENCH_DATABASE_URL``), migrated with ``flask db upgrade``.
* :func:`run_setup` — run set-up steps (create rows, mint tokens) in an app
  built with that same environment, in a child process.
* :class:`GunicornServer` — gunicorn as a subprocess with ``config/gunicorn.py``
  on a free ``127.0.0.1`` port; waits for ``/healthz``; stops it.
* :class:`Target` — one request (or a factory of requests) to load.
* :func:`measure` — closed-loop load from a separate process with keep-alive
  connections, targets interleaved over several rounds; per-round requests/s
  and latency percentiles, summarised as median and spread.
* :class:`Context` — what a benchmark's ``run(ctx)`` gets; ``ctx.compare()``
  measures targets together with a baseline and reports per-round ratios.
"""
from __future__ import annotations

import array
import errno
import math
import multiprocessing
import os
import secrets
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"  # never anything else: the benchmark stays on loopback
_FORK = multiprocessing.get_context("fork")


# --- the production-like environment ----------------------------------------------------------------

def redact(url: str) -> str:
    """A database URL without its password, for reports."""
    if "://" not in url or "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else url


@dataclass
class Environment:
    """Environment variables shared by the migration, the set-up step and the server."""

    env: dict[str, str]
    database: str  # "sqlite" or "postgresql"
    database_url_redacted: str
    tmpdir: Path

    def cleanup(self) -> None:
        shutil.rmtree(self.tmpdir, ignore_errors=True)


def production_environment(database_url: str | None = None, ratelimit_enabled: bool = True) -> Environment:
    """Production profile with fresh secrets; SQLite in a temporary directory unless ``database_url``
    (default ``BENCH_DATABASE_URL``) names another database.

    Rate limiting stays enabled (as in production, where it applies to writes only);
    GET targets are not limited, so it costs what it costs in production.
    """
    tmpdir = Path(tempfile.mkdtemp(prefix="linli-bench-"))
    url = database_url or os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{tmpdir / 'bench.db'}"
    secret_key = secrets.token_urlsafe(48)
    jwt_key = secrets.token_urlsafe(48)
    assert secret_key != jwt_key
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GUNICORN_", "LINLI_", "FLASK_"))}
    for name in ("REDIS_URL", "PII_KEY", "DEMO_LOGIN", "WEB_CONCURRENCY", "RATELIMIT_LOGIN", "RATELIMIT_CREATE"):
        env.pop(name, None)
    env.update({
        "LINLI_ENV": "production",
        "FLASK_APP": "manage.py",
        "DATABASE_URL": url,
        "SECRET_KEY": secret_key,
        "JWT_SECRET_KEY": jwt_key,
        "PII_KEY": secrets.token_urlsafe(48),
        "WECHAT_APPID": "wx-bench-appid",
        "WECHAT_SECRET": secrets.token_hex(16),
        "WECHAT_API_BASE": "https://api.weixin.qq.com",  # never called by the benchmarked GETs
        "RATELIMIT_ENABLED": "true" if ratelimit_enabled else "false",
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    if os.environ.get("BENCH_REDIS_URL"):
        env["REDIS_URL"] = os.environ["BENCH_REDIS_URL"]
    kind = "sqlite" if url.startswith("sqlite") else "postgresql" if url.startswith("postgres") else url.split(":")[0]
    return Environment(env=env, database=kind, database_url_redacted=redact(url), tmpdir=tmpdir)


def ensure_postgres_database(url: str) -> None:
    """Create the PostgreSQL database ``url`` names when it does not exist yet (a new machine)."""
    import sqlalchemy as sa

    parsed = sa.engine.make_url(url)
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if not conn.exec_driver_sql("SELECT 1 FROM pg_database WHERE datname = %s", (parsed.database,)).first():
                conn.exec_driver_sql(f'CREATE DATABASE "{parsed.database}"')
    finally:
        admin.dispose()


def migrate(environment: Environment, timeout: float = 180) -> None:
    """``flask db upgrade`` on the benchmark database, with the server's environment (a PostgreSQL database
    that does not exist yet is created first)."""
    url = environment.env.get("DATABASE_URL", "")
    if url.startswith("postgresql"):
        ensure_postgres_database(url)
    result = subprocess.run([sys.executable, "-m", "flask", "db", "upgrade"], cwd=ROOT, env=environment.env,
                            capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"flask db upgrade failed ({result.returncode}):\n{result.stderr[-3000:]}")


def _setup_child(pipe, env: dict, steps: list) -> None:
    try:
        os.environ.clear()
        os.environ.update(env)
        os.chdir(ROOT)
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        from api.app import create_app

        app = create_app()
        state: dict = {}
        with app.app_context():
            for name, step in steps:
                with app.test_request_context(base_url=f"http://{HOST}/"):
                    produced = step(app, dict(state))
                if produced:
                    state.update(produced)
        pipe.send(("ok", state))
    except BaseException:  # noqa: BLE001 — reported to the parent
        pipe.send(("error", traceback.format_exc()))
    finally:
        pipe.close()


def run_setup(environment: Environment, steps: Iterable[tuple[str, Callable]], timeout: float = 120) -> dict:
    """Run ``step(app, state)`` for each step inside the app (same env as the server), in a child process."""
    steps = list(steps)
    if not steps:
        return {}
    return _in_child(_setup_child, (environment.env, steps), timeout, "benchmark set-up")


def _in_child(target, args: tuple, timeout: float, what: str):
    """Run ``target(pipe, *args)`` in a child process and return what it sends back as ("ok", payload)."""
    parent, child = _FORK.Pipe(duplex=False)
    proc = _FORK.Process(target=target, args=(child, *args), daemon=True)
    proc.start()
    child.close()
    try:
        if not parent.poll(timeout):
            raise RuntimeError(f"{what} did not finish within {timeout:.0f}s")
        status, payload = parent.recv()
    finally:
        proc.join(5)
        if proc.is_alive():
            proc.kill()
            proc.join(5)
    if status != "ok":
        raise RuntimeError(f"{what} failed:\n{payload}")
    return payload


# --- the server ---------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _gunicorn_command(app: str = "wsgi:app") -> list[str]:
    exe = Path(sys.executable).parent / "gunicorn"
    base = [str(exe)] if exe.exists() else [sys.executable, "-m", "gunicorn"]
    return base + ["-c", str(ROOT / "config" / "gunicorn.py"), app]


@dataclass
class ServerSettings:
    workers: int = 2
    worker_class: str = "gthread"
    threads: int = 2
    keepalive: int = 5
    app: str = "wsgi:app"  # another module:variable only to try a change out (A/B) without editing wsgi.py
    extra_env: dict = field(default_factory=dict)  # e.g. to switch such a variant

    def as_env(self) -> dict[str, str]:
        return {"GUNICORN_WORKERS": str(self.workers), "GUNICORN_WORKER_CLASS": self.worker_class,
                "GUNICORN_THREADS": str(self.threads), "GUNICORN_KEEPALIVE": str(self.keepalive),
                "GUNICORN_ACCESS_LOG": "", **self.extra_env}

    def describe(self) -> dict:
        described = {"workers": self.workers, "worker_class": self.worker_class, "keepalive": self.keepalive,
                     "access_log": False, "config": "config/gunicorn.py", "app": self.app}
        if self.worker_class == "gthread":
            described["threads"] = self.threads
        return described


class GunicornServer:
    """gunicorn with config/gunicorn.py on a free loopback port. Use as a context manager."""

    def __init__(self, environment: Environment, settings: ServerSettings, start_timeout: float = 60):
        self.environment = environment
        self.settings = settings
        self.start_timeout = start_timeout
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None
        self.log_path = environment.tmpdir / "gunicorn.log"

    def __enter__(self) -> "GunicornServer":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        last_error = ""
        for _attempt in range(3):  # a port taken between free_port() and bind: try another
            self.port = free_port()
            env = dict(self.environment.env, **self.settings.as_env(), GUNICORN_BIND=f"{HOST}:{self.port}")
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(_gunicorn_command(self.settings.app), cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                             stdout=log, stderr=log, start_new_session=True)
            try:
                self._wait_ready()
                return
            except RuntimeError as exc:
                last_error = str(exc)
                self.stop()
                if "in use" not in last_error.lower():
                    break
        raise RuntimeError(last_error)

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                status, _body = simple_get(self.port, "/healthz", timeout=2)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer /healthz within {self.start_timeout:.0f}s:\n{self.log_tail()}")

    def stop(self, timeout: float = 30) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)  # graceful: the master stops its workers
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def simple_get(port: int, path: str, headers: Mapping[str, str] | None = None, timeout: float = 5):
    """One GET (new connection) — for readiness checks and sanity checks, not for load."""
    import http.client

    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path, headers=dict(headers or {}))
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# --- targets and the load generator -------------------------------------------------------------------

@dataclass
class Target:
    """A request to put under load.

    Either a fixed request (``method``, ``path``, ``headers``, ``body``), or a
    ``factory(i) -> (method, path, headers, body)`` called for the i-th request
    of a connection set (to vary ids or bodies). ``expect`` is the status
    counted as a success; anything else is an error. ``port`` sends the
    target to another server than the measured one (to compare two servers,
    e.g. two configurations, in the same interleaved rounds).
    """

    path: str = "/"
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    expect: int | tuple[int, ...] = 200
    factory: Callable[[int], tuple[str, str, Mapping[str, str], bytes]] | None = None
    port: int | None = None

    @classmethod
    def get(cls, path: str, *, token: str | None = None, headers: Mapping[str, str] | None = None,
            expect: int | tuple[int, ...] = 200, port: int | None = None) -> "Target":
        merged = dict(headers or {})
        if token:
            merged["Authorization"] = f"Bearer {token}"
        return cls(path=path, method="GET", headers=merged, expect=expect, port=port)

    def describe(self) -> str:
        return f"{self.method} {self.path}" if self.factory is None else f"factory {getattr(self.factory, '__name__', '?')}"

    def _encode(self, port: int, method: str, path: str, headers: Mapping[str, str], body: bytes) -> bytes:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}", "Accept: application/json",
                 "User-Agent: linli-bench"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if body or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

    def builder(self, port: int) -> Callable[[int], bytes]:
        if self.factory is None:
            fixed = self._encode(port, self.method, self.path, self.headers, self.body)
            return lambda i: fixed
        return lambda i: self._encode(port, *self.factory(i))

    def expected(self) -> frozenset[int]:
        return frozenset(self.expect if isinstance(self.expect, tuple) else (self.expect,))


class _Conn:
    __slots__ = ("sock", "buf", "t0", "need", "status", "close", "busy", "label")

    def __init__(self):
        self.sock: socket.socket | None = None
        self.buf = bytearray()
        self.t0 = 0.0
        self.need = -1
        self.status = 0
        self.close = False
        self.busy = False
        self.label = ""


def _parse_head(buf: bytearray, end: int):
    lines = bytes(buf[:end]).split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    status = int(parts[1])
    close = parts[0] == b"HTTP/1.0"
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"connection":
            token = value.strip().lower()
            close = token == b"close" or (close and token != b"keep-alive")
        elif name == b"transfer-encoding" and value.strip().lower() != b"identity":
            raise ValueError("chunked responses are not supported by the load generator")
    if length is None:
        raise ValueError("response without Content-Length")
    return status, end + 4 + length, close


def generate_load(port: int, target: Target, duration: float, connections: int, timeout: float = 10.0) -> dict:
    """Closed-loop load: ``connections`` keep-alive connections, each sending its next request as soon
    as the previous response is complete, for ``duration`` seconds. Reconnects when the server closes
    (the sync worker closes after every response; the connect time is then part of the latency).

    A factory with a ``label(i)`` method (a mix of requests, bench.mixed) also gets its latencies, statuses
    and errors counted per label, under ``by_label``."""
    port = target.port or port
    build = target.builder(port)
    expected = target.expected()
    labeler = getattr(target.factory, "label", None)
    by_label: dict[str, dict] = {}
    sel = selectors.DefaultSelector()
    latencies = array.array("d")
    statuses: dict[int, int] = {}
    errors: dict[str, int] = {}
    counter = 0
    perf = time.perf_counter

    def error(kind: str, c: _Conn | None = None) -> None:
        errors[kind] = errors.get(kind, 0) + 1
        if labeler is not None and c is not None:
            kinds = _label(c.label)["errors"]
            kinds[kind] = kinds.get(kind, 0) + 1

    def _label(name: str) -> dict:
        if name not in by_label:
            by_label[name] = {"latencies": array.array("d"), "statuses": {}, "errors": {}}
        return by_label[name]

    def drop(c: _Conn) -> None:
        if c.sock is not None:
            try:
                sel.unregister(c.sock)
            except (KeyError, ValueError):
                pass
            c.sock.close()
            c.sock = None

    def begin(c: _Conn) -> bool:
        nonlocal counter
        c.t0 = perf()
        if labeler is not None:
            c.label = labeler(counter)
        try:
            if c.sock is None:
                sock = socket.create_connection((HOST, port), timeout=timeout)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                c.sock = sock
                sel.register(sock, selectors.EVENT_READ, c)
            c.sock.sendall(build(counter))
        except OSError as exc:
            error(f"send:{errno.errorcode.get(exc.errno, type(exc).__name__)}", c)
            drop(c)
            time.sleep(0.01)
            return False
        counter += 1
        c.buf.clear()
        c.need = -1
        c.busy = True
        return True

    conns = [_Conn() for _ in range(connections)]
    cpu0 = time.process_time()
    start = perf()
    deadline = start + duration
    hard_deadline = deadline + timeout + 5
    last_done = start
    active = []
    for c in conns:
        if begin(c):
            active.append(c)
    # Connections that could not start are retried by the loop below while time remains.
    idle = [c for c in conns if not c.busy]

    while (active or idle) and perf() < hard_deadline:
        now = perf()
        for c in list(idle):
            if now >= deadline:
                idle.remove(c)
            elif begin(c):
                idle.remove(c)
                active.append(c)
        if not active:
            continue
        for key, _mask in sel.select(0.2):
            c: _Conn = key.data
            try:
                data = c.sock.recv(262144)
            except OSError as exc:
                data = None
                error(f"recv:{errno.errorcode.get(exc.errno, type(exc).__name__)}", c)
            done = False
            if data:
                c.buf += data
                try:
                    if c.need < 0:
                        end = c.buf.find(b"\r\n\r\n")
                        if end >= 0:
                            c.status, c.need, c.close = _parse_head(c.buf, end)
                    done = 0 <= c.need <= len(c.buf)
                except ValueError as exc:
                    error(f"protocol:{exc}", c)
                    data = None
            if done:
                t = perf()
                latencies.append(t - c.t0)
                statuses[c.status] = statuses.get(c.status, 0) + 1
                if labeler is not None:
                    mine = _label(c.label)
                    mine["latencies"].append(t - c.t0)
                    mine["statuses"][c.status] = mine["statuses"].get(c.status, 0) + 1
                if c.status not in (target.factory.expected(c.label) if labeler is not None else expected):
                    error(f"status:{c.status}", c)
                last_done = t
                c.busy = False
                if c.close or len(c.buf) > c.need:
                    drop(c)
            elif not data:  # closed or failed before the response was complete
                if data is not None:
                    error("closed_early", c)
                c.busy = False
                drop(c)
            if not c.busy:
                if perf() >= deadline or not begin(c):
                    active.remove(c)
                    drop(c)
                    if perf() < deadline:
                        idle.append(c)
        now = perf()
        for c in list(active):
            if c.busy and now - c.t0 > timeout:
                error("timeout", c)
                c.busy = False
                drop(c)
                active.remove(c)
                if now < deadline:
                    idle.append(c)
    for c in conns:
        drop(c)
    sel.close()
    return {"latencies": latencies.tobytes(), "statuses": statuses, "errors": errors,
            "elapsed": max(last_done - start, 1e-9), "count": len(latencies),
            "client_cpu": time.process_time() - cpu0,
            "by_label": {name: {**v, "latencies": v["latencies"].tobytes()} for name, v in by_label.items()}}


def _load_child(pipe, port, target, duration, connections, timeout):
    try:
        pipe.send(("ok", generate_load(port, target, duration, connections, timeout)))
    except BaseException:  # noqa: BLE001
        pipe.send(("error", traceback.format_exc()))
    finally:
        pipe.close()


def load_in_child(port: int, target: Target, duration: float, connections: int, timeout: float = 10.0) -> dict:
    """:func:`generate_load` in a separate process (the client must not share the server's CPU accounting
    or the parent's GIL); bounded by ``duration + timeout`` plus a margin."""
    payload = _in_child(_load_child, (port, target, duration, connections, timeout), duration + timeout + 30,
                        f"load generator for {target.describe()}")
    lat = array.array("d")
    lat.frombytes(payload["latencies"])
    payload["latencies"] = lat
    for part in payload.get("by_label", {}).values():
        values = array.array("d")
        values.frombytes(part["latencies"])
        part["latencies"] = values
    return payload


# --- statistics -------------------------------------------------------------------------------------

def percentile(sorted_values, q: float) -> float:
    """Nearest-rank percentile of an ascending sequence (q in 0..100)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def spread(values: list[float]) -> dict:
    """Median and spread (min, max, interquartile range) of per-round values."""
    values = [v for v in values if v == v]
    if not values:
        return {"median": None, "min": None, "max": None, "q1": None, "q3": None, "n": 0}
    if len(values) > 1:
        q1, _q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    else:
        q1 = q3 = values[0]
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "q1": q1, "q3": q3,
            "n": len(values)}


@dataclass
class RoundResult:
    round: int
    position: int
    rps: float
    requests: int
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    elapsed_s: float
    client_cpu_share: float  # CPU seconds the load generator used per second: it shares the machine
    statuses: dict
    error_kinds: dict

    @classmethod
    def from_load(cls, rnd: int, position: int, load: dict) -> "RoundResult":
        lat = sorted(load["latencies"])
        ms = lambda v: v * 1000  # noqa: E731
        return cls(round=rnd, position=position, rps=load["count"] / load["elapsed"], requests=load["count"],
                   errors=sum(load["errors"].values()), p50_ms=ms(percentile(lat, 50)), p90_ms=ms(percentile(lat, 90)),
                   p99_ms=ms(percentile(lat, 99)), max_ms=ms(lat[-1]) if lat else float("nan"),
                   mean_ms=ms(sum(lat) / len(lat)) if lat else float("nan"), elapsed_s=load["elapsed"],
                   client_cpu_share=load.get("client_cpu", 0.0) / load["elapsed"],
                   statuses={str(k): v for k, v in sorted(load["statuses"].items())}, error_kinds=load["errors"])


@dataclass
class Measurement:
    """Per-round results of targets measured interleaved in the same rounds."""

    targets: dict[str, Target]
    rounds: dict[str, list[RoundResult]]
    settings: dict

    def summary(self, name: str) -> dict:
        rs = self.rounds[name]
        requests = sum(r.requests for r in rs)
        errors = sum(r.errors for r in rs)
        return {"request": self.targets[name].describe(), "rps": spread([r.rps for r in rs]),
                "p50_ms": spread([r.p50_ms for r in rs]), "p99_ms": spread([r.p99_ms for r in rs]),
                "client_cpu_share": spread([r.client_cpu_share for r in rs]),
                "requests": requests, "errors": errors, "error_rate": errors / requests if requests else 1.0,
                "rounds": [r.__dict__ for r in rs]}

    def ratio(self, numerator: str, denominator: str) -> dict:
        """requests/s of ``numerator`` over ``denominator``, computed per round, then summarised."""
        per_round = [n.rps / d.rps if d.rps else float("nan")
                     for n, d in zip(self.rounds[numerator], self.rounds[denominator])]
        return {"numerator": numerator, "denominator": denominator, "per_round": per_round, **spread(per_round)}


def _as_target(value) -> Target:
    if isinstance(value, Target):
        return value
    if isinstance(value, str):
        return Target.get(value)
    if callable(value):
        return Target(factory=value)
    raise TypeError(f"not a target: {value!r}")


def measure(port: int, targets: Mapping[str, Any] | Iterable[Any], *, rounds: int = 8, seconds: float = 3.0,
            connections: int = 8, warmup: float = 2.0, timeout: float = 10.0,
            progress: Callable[[str], None] | None = None) -> Measurement:
    """Load each target for ``seconds`` per round, ``rounds`` times, interleaved: round r runs the
    targets rotated by r (A B C, B C A, C A B, …) so that no target always goes first or last and
    noise hits all of them alike. Targets are :class:`Target`, a path string, or a request factory."""
    if isinstance(targets, Mapping):
        named = {name: _as_target(t) for name, t in targets.items()}
    else:
        named = {}
        for t in targets:
            target = _as_target(t)
            named[target.describe()] = target
    if not named:
        raise ValueError("no targets")
    names = list(named)
    say = progress or (lambda message: None)
    if warmup > 0:
        for name in names:
            say(f"warm-up {name} ({warmup:g}s)")
            load_in_child(port, named[name], warmup, connections, timeout)
    results: dict[str, list[RoundResult]] = {name: [] for name in names}
    for rnd in range(rounds):
        k = rnd % len(names)
        order = names[k:] + names[:k]
        for position, name in enumerate(order):
            load = load_in_child(port, named[name], seconds, connections, timeout)
            result = RoundResult.from_load(rnd + 1, position, load)
            results[name].append(result)
            say(f"round {rnd + 1}/{rounds} {name}: {result.rps:,.0f} req/s  p50 {result.p50_ms:.2f} ms  "
                f"p99 {result.p99_ms:.2f} ms" + (f"  errors {result.errors}" if result.errors else ""))
    settings = {"rounds": rounds, "seconds": seconds, "connections": connections, "warmup": warmup,
                "order": "rotated per round"}
    return Measurement(targets=named, rounds=results, settings=settings)


# --- what a benchmark sees --------------------------------------------------------------------------

@dataclass
class Context:
    """Given to ``Benchmark.run``: the running server, the set-up state, the default load options,
    the reports of benchmarks that ran before, and the floors (``ctx.floor``, ``ctx.auth_floor``)
    once the platform benchmark has set them."""

    server: GunicornServer
    state: dict
    options: dict
    results: dict = field(default_factory=dict)
    floors: dict[str, Target] = field(default_factory=dict)
    progress: Callable[[str], None] | None = None

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def floor(self) -> Target:
        """The framework floor: GET /healthz."""
        return self.floors["healthz"]

    @property
    def auth_floor(self) -> Target:
        """The authenticated floor: GET /api/v1/me with a valid token."""
        return self.floors["me"]

    def measure(self, targets, **overrides) -> Measurement:
        options = {**self.options, **overrides}
        return measure(self.port, targets, progress=self.progress, **options)

    def compare(self, targets: Mapping[str, Any], baseline: Target | None = None, baseline_name: str = "me",
                goals: Mapping[str, float] | None = None, **overrides) -> dict:
        """Measure ``targets`` interleaved with ``baseline`` (default: the authenticated floor) and
        report each as a ratio of it, per round. ``goals`` maps a target name to the minimum
        median ratio wanted. Returns a report for ``bench.run``."""
        baseline = baseline or self.auth_floor
        named = {baseline_name: baseline, **{k: _as_target(v) for k, v in targets.items()}}
        m = self.measure(named, **overrides)
        ratios = {f"{name}/{baseline_name}": m.ratio(name, baseline_name) for name in targets}
        return report(m, ratios, {f"{name}/{baseline_name}": minimum for name, minimum in (goals or {}).items()})


def report(m: Measurement, ratios: dict[str, dict], goals: Mapping[str, float] | None = None) -> dict:
    """A benchmark report: per-target summaries, ratios, goals (met or not), and validity."""
    targets = {name: m.summary(name) for name in m.targets}
    checked = {}
    for name, minimum in (goals or {}).items():
        median = ratios[name]["median"]
        checked[name] = {"minimum": minimum, "median": median, "met": median is not None and median >= minimum}
    problems = [f"{name}: {t['errors']} errors of {t['requests']} requests"
                for name, t in targets.items() if t["errors"] or not t["requests"]]
    return {"settings": m.settings, "targets": targets, "ratios": ratios, "goals": checked,
            "valid": not problems, "problems": problems}
