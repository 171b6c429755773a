"""The evidence behind the raise schedule's construction (docs/methodology.md, Monte Carlo).

Every valid joint schedule lies above the per-month need quantile q_t in every month, so the
question is where to pay for the joint guarantee. Three constructions that hold exactly on
the drawn paths (at most k = alpha n paths fall short in some month) are compared here on
the shipped scenarios' uncertainty sections, over several fitting samples:

* horizon-first (finmodel's): the least total by the horizon, then the least in each month
  before it, from the horizon back (finmodel.analysis.raise_schedule.joint_schedule);
* greedy area: give up, k times, the path whose removal lowers sum_t R_t the most;
* max-rank envelope: rank each path in each month, give up the paths whose worst rank is
  highest (as many as keep the breaches within k), cover the rest.

For each: R at the horizon, sum_t R_t / 12 (money-years raised and held), both as excess
over the per-month quantile; the share of a large independent sample (plain random draws)
that falls short; and the spread of the year-end figures between fitting samples.

    python bench/raise_rules.py                          # HSBC and the base case
    python bench/raise_rules.py --reps 4 --paths 20000 bear
"""

from __future__ import annotations

import argparse

import numpy as np
from numpy.typing import NDArray

import finmodel
from finmodel.analysis.montecarlo import draw, inputs_for, spec_from
from finmodel.analysis.raise_schedule import (
    allowed_breaches,
    breached,
    joint_schedule,
    need_quantile,
)
from finmodel.engine.evaluate import evaluate, full
from finmodel.engine.model import Model, build

Array = NDArray[np.float64]


def needs(model: Model, n: int, seed: int | np.random.SeedSequence, sampler: str) -> Array:
    """Running needs (T, n) of n paths drawn from the model's uncertainty section."""
    assert model.assumptions is not None and model.assumptions.uncertainty is not None
    spec = spec_from(model, model.assumptions.uncertainty)
    x = draw(spec, n, seed, sampler)
    out = []
    for lo in range(0, n, 5_000):
        v = inputs_for(model, spec, x[lo : lo + 5_000])
        out.append(np.array(full(evaluate(model, v)["funding_need_cumulative"], v.shape[0])))
    return np.concatenate(out, axis=1)


def envelope(need: Array, keep: NDArray[np.bool_]) -> Array:
    return np.array([need[t, keep].max() if keep.any() else 0.0 for t in range(need.shape[0])])


def greedy_area(need: Array, k: int) -> Array:
    """Give up k paths one at a time, each the one whose removal lowers sum_t R_t the most
    (the current top path of some months, by its margin over the runner-up there)."""
    T, n = need.shape
    keep = np.ones(n, dtype=bool)
    order = np.argsort(-need, axis=1, kind="stable")[:, : min(n, k + 2)]
    ptr = np.zeros(T, dtype=int)
    rows = np.arange(T)
    for _ in range(k):
        top = order[rows, ptr]
        nxt = ptr + 1
        while True:
            bad = (nxt < order.shape[1]) & ~keep[order[rows, np.minimum(nxt, order.shape[1] - 1)]]
            if not bad.any():
                break
            nxt += bad
        second = np.where(
            nxt < order.shape[1], need[rows, order[rows, np.minimum(nxt, order.shape[1] - 1)]], 0
        )
        gain = np.bincount(top, weights=need[rows, top] - second, minlength=n)
        j = int(np.argmax(gain))
        if gain[j] <= 0:
            break
        keep[j] = False
        while True:
            bad = ~keep[order[rows, ptr]]
            if not bad.any():
                break
            ptr += bad
    return envelope(need, keep)


def max_rank(need: Array, k: int) -> Array:
    """Cover the paths whose worst monthly rank is lowest; give up as many as keeps the
    breaches within k (bisection: giving up more lowers the envelope, so breaches grow)."""
    T, n = need.shape
    worst = np.zeros(n)
    for t in range(T):
        np.maximum(worst, np.searchsorted(np.sort(need[t]), need[t], side="left"), out=worst)
    order = np.lexsort((need.sum(axis=0), worst))  # least extreme first

    def fit(j: int) -> Array:
        keep = np.ones(n, dtype=bool)
        keep[order[n - j :]] = False
        return envelope(need, keep)

    lo, hi = k, n - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if breached(need, fit(mid)).sum() <= k:
            lo = mid
        else:
            hi = mid - 1
    return fit(lo)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("scenarios", nargs="*", default=["hsbc-2025-11", "openai-plan-2025q3"])
    ap.add_argument("--paths", type=int, default=10_000)
    ap.add_argument("--reps", type=int, default=8, help="fitting samples (seeds 1, 2, ...)")
    ap.add_argument("--validation", type=int, default=200_000)
    ap.add_argument("--alpha", type=float, default=0.05)
    args = ap.parse_args()
    k = allowed_breaches(args.alpha, args.paths)
    for name in args.scenarios:
        model = build(finmodel.load(name))
        u = model.assumptions.uncertainty if model.assumptions else None
        if u is None:
            print(f"{name}: no uncertainty section")
            continue
        fresh = needs(model, args.validation, np.random.SeedSequence(0).spawn(2)[1], "random")
        ends = [sl.stop - 1 for _, sl in model.timeline.year_slices()]
        rules = {
            "per-month quantile (not joint)": lambda nd: need_quantile(nd, args.alpha),
            "horizon-first (finmodel)": lambda nd: joint_schedule(nd, args.alpha),
            "greedy area": lambda nd: greedy_area(nd, k),
            "max-rank envelope": lambda nd: max_rank(nd, k),
        }
        got: dict[str, list[Array]] = {r: [] for r in rules}
        for rep in range(args.reps):
            nd = needs(model, args.paths, rep + 1, u.sampler)
            q = need_quantile(nd, args.alpha)
            for r, rule in rules.items():
                R = rule(nd)
                got[r].append(
                    np.r_[
                        R[-1] - q[-1],
                        (R.sum() - q.sum()) / 12,
                        breached(nd, R).mean(),
                        breached(fresh, R).mean(),
                        R[ends],
                    ]
                )
        print(
            f"\n{name}: {args.reps} fitting samples of {args.paths:,} paths ({u.sampler}), "
            f"alpha {args.alpha}, {args.validation:,} independent paths"
        )
        years = " ".join(f"{y:>12}" for y in model.timeline.years)
        print(f"{'rule':31} {'+R_T':>6} {'+area':>6} {'drawn':>6} {'fresh':>14} | {years}")
        for r, rows in got.items():
            v = np.array(rows)
            m, s = v.mean(axis=0), v.std(axis=0)
            by_year = " ".join(f"{a:7.1f}+-{b:3.1f}" for a, b in zip(m[4:], s[4:], strict=True))
            print(
                f"{r:31} {m[0]:6.1f} {m[1]:6.1f} {m[2]:6.2%} {m[3]:6.2%}+-{s[3]:5.2%} | {by_year}"
            )


if __name__ == "__main__":
    main()
