"""Run the benchmarks: ``make bench`` or ``python -m bench.run [names…] [options]``.

Starts ONE production-like gunicorn on a free 127.0.0.1 port (temporary SQLite
database unless BENCH_DATABASE_URL is set), runs every registered benchmark
against it (platform floors first), prints a table and writes the full result,
per round, to bench/results/<UTC timestamp>.json.

Figures are medians over rounds with their spread [min–max]; ratios are
computed per round (targets of a benchmark are interleaved in the same rounds)
and then summarised. Defaults can also come from the environment:
BENCH_ROUNDS, BENCH_SECONDS, BENCH_CONNECTIONS, BENCH_WARMUP, BENCH_WORKERS,
BENCH_WORKER_CLASS, BENCH_THREADS.
"""
from __future__ import annotations

if not __package__:  # `python bench/run.py` would shadow the stdlib's http and platform modules
    raise SystemExit("run it as a module: python -m bench.run")

import argparse
import importlib
import json
import os
import pkgutil
import platform as _platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import bench
from bench.http import (ROOT, Context, GunicornServer, ServerSettings, migrate, production_environment,
                        run_setup)

RESULTS = Path(__file__).resolve().parent / "results"


def discover() -> dict:
    for info in pkgutil.iter_modules(bench.__path__):
        if info.name not in bench.INFRASTRUCTURE and not info.name.startswith("_"):
            importlib.import_module(f"bench.{info.name}")
    return dict(sorted(bench.REGISTRY.items(), key=lambda kv: (kv[1].order, kv[0])))


def _env_number(name: str, default, kind=float):
    value = os.environ.get(name)
    return kind(value) if value not in (None, "") else default


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="*", help="benchmarks to run (default: all); platform always runs first")
    p.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    p.add_argument("--rounds", type=int, default=_env_number("BENCH_ROUNDS", 8, int))
    p.add_argument("--seconds", type=float, default=_env_number("BENCH_SECONDS", 3.0),
                   help="seconds per target per round")
    p.add_argument("--connections", type=int, default=_env_number("BENCH_CONNECTIONS", 8, int),
                   help="concurrent keep-alive connections of the load generator")
    p.add_argument("--warmup", type=float, default=_env_number("BENCH_WARMUP", 2.0),
                   help="seconds of unrecorded load per target before the rounds")
    p.add_argument("--workers", type=int, default=_env_number("BENCH_WORKERS", 2, int))
    p.add_argument("--worker-class", default=os.environ.get("BENCH_WORKER_CLASS") or "gthread",
                   choices=("gthread", "sync"))
    p.add_argument("--threads", type=int, default=_env_number("BENCH_THREADS", 2, int))
    p.add_argument("--app", default="wsgi:app",
                   help="WSGI app for gunicorn (default wsgi:app; another one only to try a change out)")
    p.add_argument("--no-ratelimit", action="store_true",
                   help="RATELIMIT_ENABLED=false (default: enabled, as in production)")
    p.add_argument("--check", action="store_true", help="exit 1 when a goal is not met")
    p.add_argument("--no-save", action="store_true", help="do not write bench/results/*.json")
    args = p.parse_args(argv)
    if not (1 <= args.rounds <= 50 and 0.5 <= args.seconds <= 120 and 1 <= args.connections <= 64
            and 0 <= args.warmup <= 60 and 1 <= args.workers <= 16 and 1 <= args.threads <= 64):
        p.error("out of bounds: rounds 1–50, seconds 0.5–120, connections 1–64, warmup 0–60, "
                "workers 1–16, threads 1–64")
    return args


def _git(*cmd) -> str | None:
    try:
        out = subprocess.run(["git", *cmd], cwd=ROOT, capture_output=True, text=True, timeout=10)
        return out.stdout.strip() if out.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired):
        return None


def _fmt(value, digits=0, unit="") -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}{unit}"


def _spread(s: dict, digits=0) -> str:
    return f"{_fmt(s['median'], digits)} [{_fmt(s['min'], digits)}–{_fmt(s['max'], digits)}]"


def print_timings(name: str, result: dict) -> None:
    """A report of times (bench.docs): median [min–max] per figure, the ratios to a target, what crossed the wire."""
    settings = result["settings"]
    about = settings.get("about") or settings.get("browser", "")
    print(f"\n== {name} ==  ({settings['rounds']} rounds; {about})")
    for fname, t in result["timings_ms"].items():
        print(f"{fname:<24} {_spread(t)} ms")
    for rname, r in result["ratios"].items():
        per_round = " ".join(f"{v:.3f}" for v in r["per_round"])
        print(f"ratio {rname:<18} median {_fmt(r['median'], 3)}  [{_fmt(r['min'], 3)}–{_fmt(r['max'], 3)}]  "
              f"per round: {per_round}")
    for visit, files in (result.get("wire") or {}).items():
        for fname, f in (files or {}).items():
            print(f"wire  {visit:<5} {fname:<32} {_fmt(f['transfer_bytes'] / 1024, 1)} KB over the wire, "
                  f"{_fmt(f['decoded_bytes'] / 1024, 1)} KB decoded")
    for gname, g in result["goals"].items():
        verdict = "met" if g["met"] else "NOT met"
        bound = f"≤ {g['maximum']:.2f}" if g.get("maximum") is not None else f"≥ {g['minimum']:.2f}"
        print(f"goal  {gname} {bound}: {verdict} (median {_fmt(g['median'], 3)})")
    for problem in result["problems"]:
        print(f"INVALID: {problem}")


def print_report(name: str, result: dict) -> None:
    if result.get("kind") == "timings":
        print_timings(name, result)
        return
    if result.get("kind") == "printed":   # a report the benchmark printed itself (bench.mixed)
        for gname, g in result["goals"].items():
            print(f"goal  {gname}: {'met' if g['met'] else 'NOT met'} ({g.get('measured')})")
        return
    print(f"\n== {name} ==  ({result['settings']['rounds']} rounds × {result['settings']['seconds']:g}s per target, "
          f"{result['settings']['connections']} connections, interleaved)")
    header = f"{'target':<24} {'request':<34} {'req/s median [min–max]':>26} {'p50 ms':>18} {'p99 ms':>22} {'errors':>7} {'client CPU':>10}"
    print(header)
    print("-" * len(header))
    for tname, t in result["targets"].items():
        print(f"{tname:<24} {t['request'][:34]:<34} {_spread(t['rps']):>26} {_spread(t['p50_ms'], 2):>18} "
              f"{_spread(t['p99_ms'], 2):>22} {t['errors']:>7} {t['client_cpu_share']['median'] or 0:>10.0%}")
    for rname, r in result["ratios"].items():
        per_round = " ".join(f"{v:.3f}" for v in r["per_round"])
        print(f"ratio {rname:<18} median {_fmt(r['median'], 3)}  [{_fmt(r['min'], 3)}–{_fmt(r['max'], 3)}]  "
              f"IQR {_fmt(r['q1'], 3)}–{_fmt(r['q3'], 3)}  per round: {per_round}")
    for gname, g in result["goals"].items():
        verdict = "met" if g["met"] else "NOT met"
        print(f"goal  {gname} ≥ {g['minimum']:.2f}: {verdict} (median {_fmt(g['median'], 3)})")
    for problem in result["problems"]:
        print(f"INVALID: {problem}")


def main(argv=None) -> int:
    args = parse_args(argv)
    registry = discover()
    if args.list:
        for name, b in registry.items():
            print(f"{name:<16} {b.description}")
        return 0
    unknown = [n for n in args.names if n not in registry]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(registry)}", file=sys.stderr)
        return 2
    chosen = {n: b for n, b in registry.items() if not args.names or n in args.names or n == "platform"}

    def progress(message: str) -> None:
        print(f"  {time.strftime('%H:%M:%S')} {message}", flush=True)

    started = datetime.now(timezone.utc)
    t0 = time.monotonic()
    settings = ServerSettings(workers=args.workers, worker_class=args.worker_class, threads=args.threads,
                              app=args.app)
    environment = production_environment(ratelimit_enabled=not args.no_ratelimit)
    output: dict = {
        "started": started.isoformat(timespec="seconds"),
        "git": {"commit": _git("rev-parse", "HEAD"), "dirty_files": len((_git("status", "--porcelain") or "").splitlines())},
        "machine": {"python": sys.version.split()[0], "platform": _platform.platform(), "cpus": os.cpu_count(),
                    "loadavg_before": os.getloadavg()},
        "server": {**settings.describe(), "bind": "127.0.0.1 (free port)", "profile": "production",
                   "database": environment.database, "database_url": environment.database_url_redacted,
                   "ratelimit_enabled": not args.no_ratelimit,
                   "redis": bool(environment.env.get("REDIS_URL"))},
        "load": {"rounds": args.rounds, "seconds": args.seconds, "connections": args.connections,
                 "warmup": args.warmup, "client": "bench.http.generate_load (1 process, keep-alive, closed loop)"},
        "benchmarks": {},
    }
    failures = []
    try:
        progress(f"database: {environment.database_url_redacted}; flask db upgrade")
        migrate(environment)
        progress("set-up: " + ", ".join(n for n, b in chosen.items() if b.setup))
        state = run_setup(environment, [(n, b.setup) for n, b in chosen.items() if b.setup])
        progress(f"gunicorn: {settings.describe()}")
        with GunicornServer(environment, settings) as server:
            progress(f"gunicorn ready on 127.0.0.1:{server.port}")
            ctx = Context(server=server, state=state, progress=progress,
                          options={"rounds": args.rounds, "seconds": args.seconds, "connections": args.connections,
                                   "warmup": args.warmup})
            for name, b in chosen.items():
                progress(f"benchmark {name}")
                try:
                    result = b.run(ctx)
                except Exception as exc:  # noqa: BLE001 — report and go on with the others
                    failures.append(f"{name}: {exc}")
                    output["benchmarks"][name] = {"error": str(exc)}
                    print(f"benchmark {name} failed: {exc}", file=sys.stderr)
                    if name == "platform":
                        break
                    continue
                ctx.results[name] = result
                output["benchmarks"][name] = result
    finally:
        environment.cleanup()
    output["machine"]["loadavg_after"] = os.getloadavg()
    output["duration_s"] = round(time.monotonic() - t0, 1)

    print(f"\nLinli benchmarks — gunicorn {settings.describe()['worker_class']} × {settings.workers} workers, "
          f"{environment.database}, {os.cpu_count()} CPUs, load avg before {output['machine']['loadavg_before'][0]:.2f}")
    for name, result in output["benchmarks"].items():
        if "error" not in result:
            print_report(name, result)
    print(f"\ntotal {output['duration_s']}s")
    if not args.no_save:
        RESULTS.mkdir(exist_ok=True)
        path = RESULTS / f"{started.strftime('%Y%m%dT%H%M%SZ')}.json"
        path.write_text(json.dumps(output, indent=2, ensure_ascii=False, default=str) + "\n")
        print(f"results: {path.relative_to(ROOT)}")

    invalid = [n for n, r in output["benchmarks"].items() if "error" not in r and not r["valid"]]
    unmet = [f"{n}: {g}" for n, r in output["benchmarks"].items() if "error" not in r
             for g, v in r["goals"].items() if not v["met"]]
    if failures or invalid:
        return 1
    if args.check and unmet:
        print("goals not met: " + "; ".join(unmet), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
