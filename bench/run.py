"""Benchmarks of the batched engine. Prints ratios and the absolute times behind them, all
measured in one run on one machine (never asserted in tests: shared machines are noisy).

    python bench/run.py                 # everything (about a minute on 2 cores)
    python bench/run.py --paths 100000  # a smaller Monte Carlo

1. batched vs loop: one evaluate() over 1,000 scenarios against 1,000 evaluate() calls of one;
2. Monte Carlo vs floor: finmodel's simulate() of the base case with 1,000,000 paths over its
   full monthly horizon (and as many validation paths, evaluated to check the raise schedule),
   against a bare numpy pass over arrays of the same (T, S) shape with as many elementwise
   operations as the engine has line items, counted once per sample; each in its own process
   so that its peak memory (max RSS) is its own;
3. a 101 x 101 two-way grid (10,201 scenarios) of the HSBC funding gap;
4. a huge but valid file (50-year monthly horizon, 1,000 commitments, 100 funding tranches):
   run and workbook written, in its own process (time and peak memory).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np


def best_of(fn: Callable[[], object], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def batched_vs_loop(scenario: str, S: int) -> None:
    import finmodel
    from finmodel.engine.evaluate import evaluate
    from finmodel.engine.model import build

    model = build(finmodel.load(scenario))
    base = model.params.vector()
    values = base * np.random.default_rng(0).uniform(0.8, 1.2, size=(S, base.size))
    batched = best_of(lambda: evaluate(model, values))
    looped = best_of(lambda: [evaluate(model, values[s : s + 1]) for s in range(S)], repeat=1)
    print(f"1. {scenario}: {S:,} scenarios, every one of {base.size} inputs varied")
    print(
        f"   batched {batched * 1e3:,.1f} ms | loop of single runs {looped * 1e3:,.1f} ms "
        f"| loop / batched = {looped / batched:,.1f}x"
    )


def child(part: str, paths: int) -> dict[str, float]:
    """Run one measured part in a fresh process; return its time and peak memory."""
    out = subprocess.run(
        [sys.executable, __file__, "--part", part, "--paths", str(paths)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def part_mc(paths: int) -> dict[str, float]:
    import finmodel
    from finmodel.analysis.montecarlo import simulate
    from finmodel.engine.model import build

    a = finmodel.load("openai-plan-2025q3")
    assert a.uncertainty is not None
    model = build(a)
    t0 = time.perf_counter()
    mc = simulate(model, a.uncertainty, n=paths, seed=1, validation_draws=paths)
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "items": len(model.items),
        "T": model.timeline.T,
        "p95_gap": float(mc.raise_schedule.iloc[-1]),
        "validation_breach_rate": mc.coverage.validation.rate,
    }


def part_floor(paths: int, T: int = 72, items: int = 55) -> dict[str, float]:
    rng = np.random.default_rng(0)
    a, b = rng.uniform(size=(T, paths)), rng.uniform(size=(T, paths))
    out = np.empty_like(a)
    t0 = time.perf_counter()
    for _ in range(items):
        np.add(a, b, out=out)
    return {"seconds": time.perf_counter() - t0}


def huge_yaml() -> str:
    lines = [
        "name: Huge",
        "company: H",
        "start: 2026-01",
        "end: 2075-12",
        "opening: {cash: 100}",
        "revenue: {annual: {2026: 10, 2075: 500}}",
        "costs: {compute: {annual: {2026: 5, 2075: 200}}}",
        "commitments:",
    ]
    for i in range(1000):
        profile = "flat" if i % 2 else "ramp"
        lines.append(
            f"  - {{counterparty: C{i}, amount: {1 + i % 7}, start: {2026 + i % 40}-"
            f"{1 + i % 12:02d}, years: {1 + i % 10}, profile: {profile}}}"
        )
    lines += ["funding:", "  inflows:"]
    lines += [
        f"    - {{name: T{i}, amount: 1, date: {2026 + i % 49}-{1 + i % 12:02d}}}"
        for i in range(100)
    ]
    return "\n".join(lines) + "\n"


def part_huge() -> dict[str, float]:
    import tempfile
    from pathlib import Path

    import finmodel

    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "huge.yaml"
        src.write_text(huge_yaml())
        t0 = time.perf_counter()
        res = finmodel.run(src)
        t1 = time.perf_counter()
        out = res.to_excel(Path(d) / "huge.xlsx")
        t2 = time.perf_counter()
        return {
            "run": t1 - t0,
            "workbook": t2 - t1,
            "mb": out.stat().st_size / 1e6,
            "items": len(res.model.items),
        }


def grid_101() -> None:
    import finmodel
    from finmodel.analysis.sensitivity import grid
    from finmodel.engine.model import build

    model = build(finmodel.load("hsbc-2025-11"))
    xs, ys = np.linspace(0.05, 0.20, 101), np.linspace(0.25, 0.49, 101)
    t = best_of(
        lambda: grid(
            model,
            "funding_gap.2030",
            "revenue.users.paying_share.2030",
            xs,
            "revenue.segments.enterprise.share",
            ys,
        )
    )
    print(f"3. hsbc-2025-11: 101 x 101 grid of funding_gap.2030 (10,201 scenarios) in {t:.3f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--paths", type=int, default=1_000_000)
    ap.add_argument("--part", choices=["mc", "floor", "huge"])
    args = ap.parse_args()
    if args.part:
        parts = {
            "mc": lambda: part_mc(args.paths),
            "floor": lambda: part_floor(args.paths),
            "huge": part_huge,
        }
        r = parts[args.part]()
        r["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(r))
        return
    batched_vs_loop("openai-plan-2025q3", 1000)
    mc = child("mc", args.paths)
    floor = child("floor", args.paths)
    print(
        f"2. openai-plan-2025q3 Monte Carlo, {args.paths:,} paths x {mc['T']:.0f} months "
        f"(3 uncertain inputs, correlated, LHS) and {args.paths:,} validation paths"
    )
    print(
        f"   simulate {mc['seconds']:.2f} s, peak memory {mc['max_rss_mb']:,.0f} MB | floor: "
        f"{mc['items']:.0f} elementwise ops on ({mc['T']:.0f}, {args.paths:,}) arrays "
        f"{floor['seconds']:.2f} s, twice (both samples) {2 * floor['seconds']:.2f} s | "
        f"simulate / floor = {mc['seconds'] / (2 * floor['seconds']):.1f}x"
    )
    print(
        f"   raise schedule by the horizon {mc['p95_gap']:.1f}; validation paths below the "
        f"buffer in some month {mc['validation_breach_rate']:.3%}"
    )
    grid_101()
    h = child("huge", 0)
    print(
        f"4. huge file: 600 months, 1,000 commitments, 100 tranches ({h['items']:.0f} line items): "
        f"run {h['run']:.1f} s, workbook {h['workbook']:.1f} s ({h['mb']:.1f} MB), "
        f"peak memory {h['max_rss_mb']:,.0f} MB"
    )


if __name__ == "__main__":
    main()
