"""Where does a request's time go? In-process, with the production-like settings.

    python -m bench.profiling [PATH ...] [--requests N] [--sort cumulative|tottime] [--top N]

Builds the app as the benchmark's server does (LINLI_ENV=production, fresh
secrets, a migrated temporary SQLite database or BENCH_DATABASE_URL), creates
the platform benchmark's resident and token, times each path through
``app.test_client()`` (no HTTP server: this is the app's own CPU cost), then
runs each under cProfile and prints the top functions. It also counts the SQL
statements (and BEGINs) a request issues. Default paths: /healthz and /api/v1/me.
"""
from __future__ import annotations

if not __package__:
    raise SystemExit("run it as a module: python -m bench.profiling")

import argparse
import cProfile
import io
import os
import pstats
import sys
import time

from bench.http import ROOT, migrate, production_environment


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.profiling")
    p.add_argument("paths", nargs="*", default=["/healthz", "/api/v1/me"])
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--sort", default="cumulative", choices=("cumulative", "tottime"))
    p.add_argument("--top", type=int, default=40)
    p.add_argument("--no-ratelimit", action="store_true")
    args = p.parse_args(argv)

    environment = production_environment(ratelimit_enabled=not args.no_ratelimit)
    try:
        migrate(environment)
        os.environ.clear()
        os.environ.update(environment.env)
        os.chdir(ROOT)
        import sqlalchemy as sa

        from api.app import create_app
        from bench import platform
        from models.base import db

        app = create_app()
        with app.app_context(), app.test_request_context():
            token = platform.setup(app, {})["platform.token"]
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        client = app.test_client()

        statements: list[str] = []
        with app.app_context():
            engine = db.engine

        @sa.event.listens_for(engine, "before_cursor_execute")
        def _count(conn, cursor, statement, parameters, context, executemany):
            statements.append(statement.split()[0].upper() + " " + " ".join(statement.split()[1:6]))

        @sa.event.listens_for(engine, "begin")
        def _begin(conn):
            statements.append("BEGIN (IMMEDIATE on SQLite)")

        timings = {}
        for path in args.paths:
            for _ in range(50):  # warm caches (compiled SQL, lazy imports)
                assert client.get(path, headers=headers).status_code == 200, path
            statements.clear()
            client.get(path, headers=headers)
            print(f"\n{path}: {len(statements)} database calls per request")
            for s in statements:
                print(f"    {s}")
            start = time.perf_counter()
            for _ in range(args.requests):
                client.get(path, headers=headers)
            timings[path] = (time.perf_counter() - start) / args.requests
        print("\nin-process time per request (test_client, no HTTP):")
        base = timings[args.paths[0]]
        for path, t in timings.items():
            print(f"    {path:<30} {t * 1e6:8.0f} µs   {1 / t:8.0f} req/s/core   ratio to {args.paths[0]}: {base / t:.3f}")

        for path in args.paths:
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(args.requests):
                client.get(path, headers=headers)
            profiler.disable()
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(args.sort)
            stats.print_stats(args.top)
            print(f"\n===== cProfile {path} × {args.requests} (sorted by {args.sort}) =====")
            print(out.getvalue())
    finally:
        environment.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
