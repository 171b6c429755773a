"""Benchmark: the batched engine against a Python loop of single runs and a bare-numpy floor.

Prints ratios measured in one run on one machine (never asserted in tests). Usage:

    python bench/bench_engine.py [--scenario openai-plan-2025q3] [--S 1000] [--big 100000]

* batched vs loop: one evaluate() over S scenarios against S evaluate() calls of one each;
* against the floor: evaluate() at S = --big against a bare numpy pass over arrays of the
  same (T, S) shape with as many elementwise operations as the model has line items.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import finmodel
from finmodel.engine.evaluate import evaluate
from finmodel.engine.model import build


def best_of(fn, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--scenario", default="openai-plan-2025q3")
    ap.add_argument("--S", type=int, default=1000)
    ap.add_argument("--big", type=int, default=100_000)
    args = ap.parse_args()

    model = build(finmodel.load(args.scenario))
    base = model.params.vector()
    rng = np.random.default_rng(0)
    T, K, n_items = model.timeline.T, base.size, len(model.items)
    values = base * rng.uniform(0.8, 1.2, size=(args.S, K))

    batched = best_of(lambda: evaluate(model, values))
    looped = best_of(lambda: [evaluate(model, values[s : s + 1]) for s in range(args.S)], repeat=1)
    print(f"scenario {args.scenario}: T = {T} months, K = {K} inputs, {n_items} line items")
    print(
        f"S = {args.S:,}: batched {batched * 1e3:8.1f} ms | loop of single runs "
        f"{looped * 1e3:8.1f} ms | loop / batched = {looped / batched:6.1f}x"
    )

    big = base * rng.uniform(0.8, 1.2, size=(args.big, K))
    engine = best_of(lambda: evaluate(model, big), repeat=2)
    a = rng.uniform(size=(T, args.big))
    b = rng.uniform(size=(T, args.big))

    def floor() -> None:
        out = np.empty_like(a)
        for _ in range(n_items):
            np.add(a, b, out=out)

    bare = best_of(floor, repeat=2)
    print(
        f"S = {args.big:,}: engine {engine:6.2f} s | bare numpy floor ({n_items} ops on "
        f"({T}, {args.big:,})) {bare:6.2f} s | engine / floor = {engine / bare:5.1f}x"
    )


if __name__ == "__main__":
    main()
