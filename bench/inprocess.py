"""Timing a domain's lists in-process, interleaved with the floor of an authenticated call (``GET /api/v1/me``):
every list called in turn, round after round, so that a slow minute of this noisy machine weighs on all of them
alike; each round's p95 is compared with the floor's p95 in the same round."""
from __future__ import annotations

import statistics
import time
from typing import Callable

from bench.http import percentile


def stats(values: list[float]) -> dict:
    ordered = sorted(values)
    return {"p50": percentile(ordered, 50), "p95": percentile(ordered, 95), "max": ordered[-1]}


def spread(values: list[float]) -> dict:
    ordered = sorted(values)
    return {"median": statistics.median(ordered), "min": ordered[0], "max": ordered[-1]}


def interleaved(timed: dict[str, Callable[[], object]], items: dict, floor: str, *, warmup: int, rounds: int,
                calls: int, say: Callable[[str], None]) -> dict:
    """Each of ``timed`` (name → a call) ``calls`` times a round, ``rounds`` rounds after ``warmup`` untimed ones:
    per name its items, p50 and p95 (median and spread over the rounds), the worst call, each round's p95 and the
    p95 ÷ the floor's."""
    for _ in range(warmup):
        for fn in timed.values():
            fn()
    per_round: dict[str, list[dict]] = {name: [] for name in timed}
    for _ in range(rounds):
        times: dict[str, list[float]] = {name: [] for name in timed}
        for _ in range(calls):
            for name, fn in timed.items():
                t = time.perf_counter()
                fn()
                times[name].append((time.perf_counter() - t) * 1000)
        for name, values in times.items():
            per_round[name].append(stats(values))
    out = {}
    for name, measured in per_round.items():
        to_floor = [r["p95"] / f["p95"] for r, f in zip(measured, per_round[floor])]
        out[name] = {"items": items.get(name), "p50": spread([r["p50"] for r in measured]),
                     "p95": spread([r["p95"] for r in measured]), "max": max(r["max"] for r in measured),
                     "per_round_p95": [round(r["p95"], 3) for r in measured], "p95_to_floor": spread(to_floor)}
        say(f"{name}: p50 {out[name]['p50']['median']:.2f} ms, p95 {out[name]['p95']['median']:.2f} ms "
            f"[{out[name]['p95']['min']:.2f}–{out[name]['p95']['max']:.2f}]")
    return out


def print_lists(lists: dict, *, rounds: int, calls: int, goal_ms: float, width: int = 44) -> None:
    """The table of ``interleaved``'s figures, a list a line, marking those over ``goal_ms`` at p95."""
    print(f"{'list (in-process, ' + str(rounds) + ' rounds × ' + str(calls) + ')':<{width}} {'items':>5} "
          f"{'p50 ms median [min–max]':>26} {'p95 ms median [min–max]':>26} {'p95 ÷ floor':>12}")
    for name, t in lists.items():
        p50, p95, ratio = t["p50"], t["p95"], t["p95_to_floor"]
        over = "" if p95["median"] <= goal_ms else f"  > {goal_ms:g} ms"
        items = "—" if t["items"] is None else t["items"]
        print(f"{name:<{width}} {items:>5} {p50['median']:>8.2f} [{p50['min']:.2f}–{p50['max']:.2f}]"
              f"{'':>4} {p95['median']:>8.2f} [{p95['min']:.2f}–{p95['max']:.2f}] {ratio['median']:>10.2f}{over}")
