"""Linli benchmarks: HTTP load on loopback against gunicorn, reported as ratios.

Benchmarks are never timed unit tests. Every figure comes from one run of
``make bench`` (``python -m bench.run``): one gunicorn server with the
production-like configuration, the targets of a benchmark measured
*interleaved* in several rounds so that machine noise hits them alike, and the
result reported as the median and spread over rounds, plus ratios computed per
round (an endpoint's requests/s divided by a floor's requests/s in the same
round).

Adding a benchmark for a domain: create ``bench/<domain>.py`` (it is found and
imported by ``bench.run``) and register it::

    from bench import Benchmark, register
    from bench.http import Target

    def setup(app, state):
        # In an app context, with the server's database and secrets, before
        # gunicorn starts. Create rows; return picklable values (tokens, ids).
        return {"meals_token": ...}

    def run(ctx):
        # ctx.auth_floor is the authenticated floor (GET /api/v1/me with a valid
        # token); compare() measures it interleaved with your targets and gives
        # each target's requests/s as a ratio of it, per round.
        return ctx.compare({"meals.slots": Target.get("/api/v1/meals/slots", token=ctx.state["meals_token"])},
                           baseline=ctx.auth_floor)

    register(Benchmark("meals", run=run, setup=setup))
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

# Modules in this package that are infrastructure, not benchmarks.
INFRASTRUCTURE = frozenset({"run", "http", "profiling", "fuzz"})


@dataclass(frozen=True)
class Benchmark:
    """A named benchmark.

    ``setup(app, state) -> dict | None`` runs once in an app context (in a
    child process with the server's environment) before the server starts;
    the dict it returns is merged into ``ctx.state``. ``run(ctx) -> dict``
    measures over HTTP and returns a report (see ``bench.http.Context.compare``).
    ``order`` sorts benchmarks: the platform floors come first.
    """

    name: str
    run: Callable[[Any], dict]
    setup: Callable[[Any, dict], dict | None] | None = None
    order: int = 100
    description: str = ""


REGISTRY: dict[str, Benchmark] = {}


def register(benchmark: Benchmark) -> Benchmark:
    if benchmark.name in REGISTRY and REGISTRY[benchmark.name] is not benchmark:
        raise ValueError(f"benchmark {benchmark.name!r} is registered twice")
    REGISTRY[benchmark.name] = benchmark
    return benchmark
