"""Gunicorn settings for Linli: ``gunicorn -c config/gunicorn.py wsgi:app``.

Everything comes from the environment so that production, a container and the
benchmark (``make bench``) run the same file:

=========================  ==========================  ==============================================
variable                   default                     meaning
=========================  ==========================  ==============================================
GUNICORN_BIND              127.0.0.1:8000              address; behind a reverse proxy, keep loopback
GUNICORN_WORKERS           WEB_CONCURRENCY, else 2     worker processes (about one per core)
GUNICORN_WORKER_CLASS      gthread                     ``gthread`` or ``sync``
GUNICORN_THREADS           2                           threads per gthread worker
GUNICORN_KEEPALIVE         5                           seconds an idle keep-alive connection is kept
GUNICORN_TIMEOUT           30                          a worker silent this long is restarted (keep it
                                                       below the app's REQUEST_TIMEOUT_SECONDS, 60: an
                                                       Idempotency-Key in progress that long is released)
GUNICORN_MAX_REQUESTS      0 (never)                   recycle a worker after this many requests
GUNICORN_ACCESS_LOG        (off)                       ``-`` for stdout, or a file path
GUNICORN_LOG_LEVEL         info                        error log level
FORWARDED_ALLOW_IPS        127.0.0.1,::1               proxies whose X-Forwarded-* gunicorn trusts
GUNICORN_LIMIT_REQUEST_LINE 8190                       longest request line gunicorn reads (its maximum);
                                                       the app answers a URI over 4,096 characters with
                                                       its own 414 envelope (``api.guards``)
PROMETHEUS_MULTIPROC_DIR   (unset)                     a directory the workers (and the scheduler) write
                                                       their metrics to, so that ``GET /metrics`` on any
                                                       worker adds up all of them; created if missing
LOG_FORMAT                 json in production          ``json`` or ``text``: gunicorn's own lines too
GUNICORN_CONTROL_SOCKET    (off)                       a path for gunicorn's control socket (gunicornc)
=========================  ==========================  ==============================================

With PostgreSQL, each worker keeps its own connection pool: SQLAlchemy's QueuePool, 5 connections
kept and up to 10 more on demand (``SQLALCHEMY_ENGINE_OPTIONS`` in config/__init__.py sets none of
them; only ``pool_pre_ping``). A request's thread holds one connection (its session's), so a worker
uses at most ``GUNICORN_THREADS`` of them: keep threads ≤ 5 and no thread ever waits for the pool or
opens an overflow connection. PostgreSQL's ``max_connections`` must cover hosts × workers × threads,
the scheduler's (one per sweep running at once) and the operators' sessions (deploy/README.md works
the numbers: 2 workers × 2 threads = 4 connections per host).

Why gthread with 2 threads by default (measured with the bench harness, the
three configurations side by side in the same interleaved rounds, 2 workers,
8 keep-alive client connections, 2-core machine):

* GET /healthz: gthread/2 threads 3,485 req/s, gthread/4 3,655, sync 2,996 —
  the sync worker closes the connection after every response, so each
  request pays a new TCP connection; gthread keeps it alive (for clients and
  for a proxy that keeps upstream connections alive).
* GET /api/v1/me: 328, 310 and 311 req/s — the same within noise; 4 threads
  gave a worse p99 (260 ms vs 160 ms): threads share one GIL, so beyond 2 they
  only queue. Scale with workers (processes), about one per core.
* A sync worker blocked on an outbound call (WeChat login and phone binding,
  up to WECHAT_TIMEOUT) stops serving; a gthread worker's other thread goes on.

The scheduler never runs here (``flask jobs run`` is its own process), and
no app is preloaded in the master, so no database connection is shared
across a fork.
"""
from __future__ import annotations

import os


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


bind = _env("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(_env("GUNICORN_WORKERS", _env("WEB_CONCURRENCY", "2")))
worker_class = _env("GUNICORN_WORKER_CLASS", "gthread")
threads = int(_env("GUNICORN_THREADS", "2"))
keepalive = int(_env("GUNICORN_KEEPALIVE", "5"))
timeout = int(_env("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(_env("GUNICORN_GRACEFUL_TIMEOUT", "30"))
max_requests = int(_env("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = int(_env("GUNICORN_MAX_REQUESTS_JITTER", str(max_requests // 10)))

accesslog = _env("GUNICORN_ACCESS_LOG", "") or None
errorlog = "-"
loglevel = _env("GUNICORN_LOG_LEVEL", "info")
forwarded_allow_ips = _env("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
limit_request_line = int(_env("GUNICORN_LIMIT_REQUEST_LINE", "8190"))
# gunicorn's control socket (``gunicornc``) only where asked for: by default every gunicorn of a user would
# share $XDG_RUNTIME_DIR/gunicorn.ctl (or ~/.gunicorn/gunicorn.ctl, read-only under systemd's ProtectHome).
_control_socket = _env("GUNICORN_CONTROL_SOCKET", "")
if _control_socket:
    control_socket = _control_socket
control_socket_disable = not _control_socket

# The app is built in each worker (no preload): nothing (database pool, Redis
# client) is created in the master and inherited across fork().
preload_app = False

_METRICS_DIR = _env("PROMETHEUS_MULTIPROC_DIR", "")
_LOG_FORMAT = _env("LOG_FORMAT", "json" if _env("LINLI_ENV", "development") == "production" else "text")

if _LOG_FORMAT == "json":  # gunicorn's own lines (start, worker boot and exit) as the app's: one JSON object each
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "service.observability.JsonFormatter"}},
        "handlers": {"error_console": {"class": "logging.StreamHandler", "formatter": "json",
                                       "stream": "ext://sys.stderr"},
                     "console": {"class": "logging.StreamHandler", "formatter": "json",
                                 "stream": "ext://sys.stdout"}},
        "loggers": {"gunicorn.error": {"level": loglevel.upper(), "handlers": ["error_console"],
                                       "propagate": False},
                    "gunicorn.access": {"level": "INFO", "handlers": ["console"], "propagate": False}},
        # The root logger's handler is the app's (service.observability.configure_logging), set up in each worker.
        "root": {"level": "INFO", "handlers": []},
    }


def on_starting(server):
    """The metrics directory exists before a worker writes to it."""
    if _METRICS_DIR:
        os.makedirs(_METRICS_DIR, exist_ok=True)


def post_worker_init(worker):
    """The app is built: what it holds for good (modules, compiled statements and schemas, rules, labels) goes
    out of the garbage collector's sight (``gc.freeze``). A full collection otherwise walks those few hundred
    thousand objects again and again: measured in-process over the district's mix, one every 1,500 requests,
    each pausing its request some 170 ms: about 0.11 ms of every request's CPU (README, "The district's load")."""
    import gc

    gc.collect()
    gc.freeze()


def child_exit(server, worker):
    """A worker has ended: its live gauges (database pool use) no longer count; its counters stay."""
    if _METRICS_DIR:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid, _METRICS_DIR)
