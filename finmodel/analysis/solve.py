"""Goal seek: the value of one parameter that makes a metric hit a target.

A batched scan of the bracket finds the first interval where the metric crosses the target;
scipy's ``brentq`` then narrows it. Where the metric reaches the target and stays there (a
funding gap of 0 once revenue is high enough), the answer is the boundary: the least change
that reaches the target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from finmodel.analysis.metrics import Metric, evaluate_metric, format_metric, parse_metric
from finmodel.analysis.sensitivity import Move, base_value, batch_metric, move
from finmodel.assumptions.params import apply
from finmodel.engine.evaluate import evaluate
from finmodel.engine.model import Model, ModelLike, as_model
from finmodel.errors import AssumptionError

SCAN = 129
TOL = 1e-9
"""A metric within TOL x (1 + |target|) of the target has reached it: a facility holding
cash at the buffer leaves rounding residues of ~1e-15 in the funding gap."""


@dataclass(frozen=True)
class Solution:
    path: str
    op: str
    value: float
    metric: str
    target: float
    achieved: float
    bracket: tuple[float, float]
    scan_interval: tuple[float, float]
    iterations: int
    calls: int


def _one(model: Model, mv: Move, met: Metric, x: float) -> float:
    v = model.params.vector()[None, :].copy()
    apply(v, mv.idx, mv.op, x)
    return float(evaluate_metric(model, evaluate(model, v), v, met)[0])


def solve(
    model: ModelLike,
    metric: str,
    target: float,
    vary: str,
    bracket: tuple[float, float] | None = None,
    op: str | None = None,
    xtol: float = 1e-10,
) -> Solution:
    """Find the value of ``vary`` in ``bracket`` at which ``metric`` equals ``target``."""
    model = as_model(model)
    met = parse_metric(metric, model)
    mv = move(model, vary, op)
    b0 = base_value(model, mv)
    lo, hi = bracket if bracket is not None else _default_bracket(mv.op, b0)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise AssumptionError(f"--bracket: expected LOW < HIGH, got {lo}, {hi}")
    xs = np.linspace(lo, hi, SCAN)
    v = np.repeat(model.params.vector()[None, :], SCAN, axis=0)
    apply(v, mv.idx, mv.op, xs)
    ys = batch_metric(model, v, met)
    if np.isnan(ys).any():
        raise AssumptionError(
            f"{met.label} never happens for part of {vary} in [{lo:g}, {hi:g}]; "
            "goal seek needs a metric defined across the bracket"
        )
    tol = TOL * (1.0 + abs(target))
    f = np.where(np.abs(ys - target) <= tol, 0.0, ys - target)
    hit = np.flatnonzero(f == 0.0)
    cross = np.flatnonzero(np.sign(f[:-1]) * np.sign(f[1:]) < 0)
    cand = sorted(set(cross.tolist()) | {max(0, int(i) - 1) for i in hit})
    if not cand:
        where = "above" if target > ys.max() else "below"
        raise AssumptionError(
            f"target {met.label} = {target:g} is not reachable with {vary} ({mv.op}) in "
            f"[{lo:g}, {hi:g}]: the metric ranges from {ys.min():,.4g} to {ys.max():,.4g}, "
            f"so the target lies {where} it; widen --bracket"
        )
    i = cand[0]
    if f[i] == 0.0:
        x = float(xs[i])
        return Solution(
            vary,
            mv.op,
            x,
            met.label,
            target,
            float(ys[i]),
            (lo, hi),
            (float(xs[i]), float(xs[i])),
            0,
            SCAN,
        )
    a, b = float(xs[i]), float(xs[i + 1])
    side = math.copysign(1.0, f[i])

    def g(x: float) -> float:
        d = _one(model, mv, met, x) - target
        return -side * 1e-300 if abs(d) <= tol else d  # reaching the target counts as crossing

    x, r = brentq(g, a, b, xtol=xtol, full_output=True)
    achieved = _one(model, mv, met, x)
    return Solution(
        vary,
        mv.op,
        float(x),
        met.label,
        target,
        achieved,
        (lo, hi),
        (a, b),
        int(r.iterations),
        int(r.function_calls) + SCAN,
    )


def _default_bracket(op: str, base: float) -> tuple[float, float]:
    if op == "scale":
        return (0.0, 4.0)
    if op == "shift":
        return (-1e3, 1e3)
    return (0.0, 4.0 * base) if base > 0 else (4.0 * base, 0.0) if base < 0 else (-1.0, 1.0)


def describe(sol: Solution, model: Model) -> str:
    met = parse_metric(sol.metric, model)
    return (
        f"{sol.path} ({sol.op}) = {sol.value:.10g} gives {sol.metric} = "
        f"{format_metric(met, sol.achieved, model)} (target {sol.target:g}); bracket "
        f"[{sol.bracket[0]:g}, {sol.bracket[1]:g}], crossing in [{sol.scan_interval[0]:.6g}, "
        f"{sol.scan_interval[1]:.6g}], {sol.iterations} brentq iterations, "
        f"{sol.calls} evaluations"
    )
