"""Goal seek: the value of one parameter that makes a metric hit a target.

A batched scan of the bracket finds every interval where the metric crosses the target;
scipy's ``brentq`` then narrows the first. Where the metric reaches the target and stays there
(a funding gap of 0 once revenue is high enough), the answer is the boundary: the least change
that reaches the target.

A target that is never attained raises :class:`~finmodel.errors.TargetNotReachedError` with
the nearest values on both sides, rather than returning a value that misses: either the metric
stays on one side of it across the bracket, or it jumps over it (step metrics such as the
runway, in whole months, or a date that stops coming within the horizon), or it does not move
at all over the bracket (a funding gap does not depend on the discount rate).

A bracket's ends are checked as ``--set`` is (the inputs' domain and the magnitude limit);
the default bracket stops at the domain's edge (a share's at 1).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import brentq

from finmodel.analysis import arguments as args
from finmodel.analysis.arguments import ModelLike
from finmodel.analysis.metrics import (
    MONTH_VALUED,
    Metric,
    evaluate_metric,
    format_metric,
    parse_metric,
)
from finmodel.analysis.sensitivity import Move, base_value, batch_metric, end_problem, move_of
from finmodel.assumptions.params import OPS, allowed_range, apply
from finmodel.engine.evaluate import evaluate
from finmodel.engine.model import Model
from finmodel.errors import (
    ArgumentError,
    ArgumentTypeError,
    AssumptionError,
    TargetNotReachedError,
)

FloatArray = NDArray[np.float64]
SCAN = 129
TOL = 1e-9
"""A metric within TOL x (1 + |target|) of the target has reached it: a facility holding
cash at the buffer leaves rounding residues of ~1e-15 in the funding gap."""
NEVER_COMES = (*MONTH_VALUED, "breakeven_year")
"""Metrics that are a date which may never come (NaN): "never" ranks after every date."""


@dataclass(frozen=True)
class Solution:
    """A parameter value at which the metric reaches the target (within TOL)."""

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
    """Find the value of ``vary`` in ``bracket`` at which ``metric`` equals ``target``.

    Returns a :class:`Solution` only when the metric reaches the target (within
    ``TOL x (1 + |target|)``); the least such value in the first crossing of the bracket.
    Raises :class:`~finmodel.errors.TargetNotReachedError` (a ``ValueError``) when no value
    reaches it, with ``.below`` and ``.above`` the nearest ``(parameter, metric)`` pairs on
    each side: the two sides of a jump of a step metric, or the nearest value when the target
    lies outside the metric's range over the bracket, or, when the metric is the same at every
    scanned point (``kind == "constant"``), its value at the bracket's low end. Dates that
    never come (runway, cash-out
    month, breakeven year) rank after every date, so a target beyond the horizon lies in the
    jump to "never".
    """
    model = args.model_like(model)
    met = args.metric(metric, model)
    target = args.number("target", target)
    op = None if op is None else args.choice("op", op, OPS)
    xtol = args.number("xtol", xtol)
    if not xtol > 0.0:
        raise ArgumentError("xtol", f"expected a tolerance > 0, got {xtol}")
    mv = move_of(model, args.text("vary", vary, "a parameter path"), op, "vary", "op")
    if bracket is None:
        lo, hi = _default_bracket(mv.op, base_value(model, mv))
        a, b = allowed_range(model.params, mv.idx, mv.op)  # a share's default stops at 1
        lo, hi = min(max(lo, a), b), min(max(hi, a), b)
    else:
        lo, hi = _bracket(bracket)
        for end in (lo, hi):
            why = end_problem(model, mv, end)
            if why is not None:
                raise ArgumentError("bracket", why)
    xs = np.linspace(lo, hi, SCAN)
    v = np.repeat(model.params.vector()[None, :], SCAN, axis=0)
    apply(v, mv.idx, mv.op, xs)
    ys = batch_metric(model, v, met)
    if np.isnan(ys).any() and met.name not in NEVER_COMES:
        raise AssumptionError(
            f"{met.label} is not defined for part of {vary} in [{lo:g}, {hi:g}]; "
            "goal seek needs a metric defined across the bracket"
        )
    tol = TOL * (1.0 + abs(target))
    order = np.where(np.isnan(ys), np.inf, ys)  # never = after every date
    f = np.where(np.abs(order - target) <= tol, 0.0, order - target)
    hit = np.flatnonzero(f == 0.0)
    cross = np.flatnonzero(np.sign(f[:-1]) * np.sign(f[1:]) < 0)
    cand = sorted(set(cross.tolist()) | {max(0, int(i) - 1) for i in hit})
    if not cand:
        if _flat(order):
            raise _constant(model, met, mv, target, (lo, hi), float(ys[0]))
        raise _out_of_range(model, met, mv, target, (lo, hi), xs, ys)
    calls = SCAN
    first_jump: TargetNotReachedError | None = None
    for i in cand:
        if f[i] == 0.0:
            x = float(xs[i])
            return Solution(
                vary, mv.op, x, met.label, target, float(ys[i]), (lo, hi), (x, x), 0, calls
            )
        a, b = float(xs[i]), float(xs[i + 1])
        seen: dict[float, float] = {a: float(ys[i]), b: float(ys[i + 1])}
        side = math.copysign(1.0, f[i])

        def g(x: float, seen: dict[float, float] = seen, side: float = side) -> float:
            y = _one(model, mv, met, x)
            seen[x] = y
            d = (math.inf if math.isnan(y) else y) - target
            if abs(d) <= tol:
                return -side * 1e-300  # reaching the target counts as crossing
            return math.copysign(1.0 + abs(target), d) if math.isinf(d) else d

        iterations = 0
        for step_tol in (xtol, 0.0):  # then to the last representable step: a jump or not
            x, r = brentq(
                g,
                a,
                b,
                xtol=max(step_tol, 1e-300),
                rtol=4 * np.finfo(float).eps,
                maxiter=200,
                full_output=True,
                disp=False,
            )
            iterations += int(r.iterations)
            calls += int(r.function_calls)
            hits = [p for p, y in seen.items() if abs(_rank(y) - target) <= tol]
            if hits:  # the evaluated point nearest the crossing that reaches the target
                best = min(hits, key=lambda p: (abs(p - x), p))
                return Solution(
                    vary,
                    mv.op,
                    best,
                    met.label,
                    target,
                    seen[best],
                    (lo, hi),
                    (float(xs[i]), float(xs[i + 1])),
                    iterations,
                    calls,
                )
            a, b = _tightest(seen, target)
        if first_jump is None:
            first_jump = _jump(model, met, mv, target, (lo, hi), seen)
    assert first_jump is not None
    raise first_jump


def _shown(met: Metric, y: float, model: Model) -> str:
    """A metric value in a message: as :func:`format_metric` shows it, a date that never
    comes as "never within the horizon" (a runway "beyond the horizon")."""
    text = format_metric(met, y, model)
    return f"{text} within the horizon" if text == "never" and math.isnan(y) else text


def _rank(y: float) -> float:
    return math.inf if math.isnan(y) else y


def _tightest(seen: dict[float, float], target: float) -> tuple[float, float]:
    """The closest pair of evaluated points with the metric on either side of the target
    (none of them reaches it: the caller has checked)."""
    pts = sorted(seen.items())
    best: tuple[float, float] | None = None
    for (xa, ya), (xb, yb) in itertools.pairwise(pts):
        if (_rank(ya) - target) * (_rank(yb) - target) < 0 and (
            best is None or xb - xa < best[1] - best[0]
        ):
            best = (xa, xb)
    assert best is not None, "brentq keeps a bracket around the crossing"
    return best


def _jump(
    model: Model,
    met: Metric,
    mv: Move,
    target: float,
    bracket: tuple[float, float],
    seen: dict[float, float],
) -> TargetNotReachedError:
    xa, xb = _tightest(seen, target)
    ya, yb = seen[xa], seen[xb]
    sa, sb = _digits(xa, xb)

    def fm(y: float) -> str:
        return _shown(met, y, model)

    def where(y: float) -> str:
        return "below" if _rank(y) < target else "above"

    text = (
        f"no solution: {met.label} = {target:g} is not attained with {mv.path} ({mv.op}) in "
        f"[{bracket[0]:g}, {bracket[1]:g}]: the metric jumps over the target between "
        f"{mv.path} = {sa} ({met.label} {fm(ya)}, {where(ya)}) and {sb} ({fm(yb)}, "
        f"{where(yb)})" + ("; it counts whole months" if met.name in MONTH_VALUED else "")
    )
    (bx, by), (ax, ay) = sorted(((xa, ya), (xb, yb)), key=lambda p: _rank(p[1]))
    return TargetNotReachedError(text, "jump", (bx, by), (ax, ay))


def _digits(a: float, b: float) -> tuple[str, str]:
    """``a`` and ``b`` with the fewest significant digits (at least 10) that tell them apart."""
    for d in range(10, 18):
        sa, sb = f"{a:.{d}g}", f"{b:.{d}g}"
        if sa != sb:
            return sa, sb
    return repr(a), repr(b)


def _out_of_range(
    model: Model,
    met: Metric,
    mv: Move,
    target: float,
    bracket: tuple[float, float],
    xs: FloatArray,
    ys: FloatArray,
) -> TargetNotReachedError:
    order = np.where(np.isnan(ys), np.inf, ys)
    k = int(np.argmin(np.abs(order - target)))
    x, y = float(xs[k]), float(ys[k])

    def fm(z: float) -> str:
        return _shown(met, z if math.isfinite(z) else math.nan, model)

    where = "below" if _rank(y) < target else "above"
    text = (
        f"no solution: {met.label} = {target:g} is not attained with {mv.path} ({mv.op}) in "
        f"[{bracket[0]:g}, {bracket[1]:g}]: the metric ranges from {fm(float(np.min(order)))} "
        f"to {fm(float(np.max(order)))}, all {where} the target; nearest: {fm(y)} at "
        f"{mv.path} = {x:.10g}. A wider bracket may reach it"
    )
    pair = (x, y)
    return TargetNotReachedError(
        text,
        "out of range",
        pair if where == "below" else None,
        pair if where == "above" else None,
    )


def _flat(order: FloatArray) -> bool:
    """Whether the scanned metric (``never`` as ``inf``) is the same at every point, to
    TOL relative to its size: every point ``never``, or all finite and equal."""
    if np.all(np.isinf(order)):
        return True
    if not np.all(np.isfinite(order)):
        return False
    return float(np.ptp(order)) <= TOL * (1.0 + float(np.max(np.abs(order))))


def _constant(
    model: Model,
    met: Metric,
    mv: Move,
    target: float,
    bracket: tuple[float, float],
    y: float,
) -> TargetNotReachedError:
    """No solution because the metric does not move across the bracket: it does not depend
    on the input (a funding gap and the discount rate), or not within this bracket."""
    shown = _shown(met, y, model)
    text = (
        f"no solution: {met.label} does not move with {mv.path} ({mv.op}) in "
        f"[{bracket[0]:g}, {bracket[1]:g}]: it is {shown} at all {SCAN} points scanned, not "
        f"the target {target:g}; it does not depend on {mv.path}, or not within this bracket"
    )
    pair = (bracket[0], y)
    above = _rank(y) > target
    return TargetNotReachedError(text, "constant", None if above else pair, pair if above else None)


def _bracket(bracket: object) -> tuple[float, float]:
    """The ``bracket`` argument: two finite numbers, low < high."""
    if isinstance(bracket, str) or not isinstance(bracket, Sequence) or len(bracket) != 2:
        raise ArgumentTypeError("bracket", f"expected (low, high), got {bracket!r}")
    lo, hi = (args.number("bracket", x) for x in bracket)
    if not lo < hi:
        raise ArgumentError("bracket", f"expected low < high, got ({lo:g}, {hi:g})")
    return lo, hi


def _default_bracket(op: str, base: float) -> tuple[float, float]:
    if op == "scale":
        return (0.0, 4.0)
    if op == "shift":
        return (-1e3, 1e3)
    return (0.0, 4.0 * base) if base > 0 else (4.0 * base, 0.0) if base < 0 else (-1.0, 1.0)


STEP_METRICS = ("runway_months", "cash_out_month", "breakeven_year")
"""Metrics in whole steps: their answer is printed in full, since rounding it may step back
over the threshold it was found at."""


def describe(sol: Solution, model: Model) -> str:
    met = parse_metric(sol.metric, model)
    shown = repr(sol.value) if met.name in STEP_METRICS else f"{sol.value:.10g}"
    return (
        f"{sol.path} ({sol.op}) = {shown} gives {sol.metric} = "
        f"{format_metric(met, sol.achieved, model)} (target {sol.target:g}); bracket "
        f"[{sol.bracket[0]:g}, {sol.bracket[1]:g}], crossing in [{sol.scan_interval[0]:.6g}, "
        f"{sol.scan_interval[1]:.6g}], {sol.iterations} brentq iterations, "
        f"{sol.calls} evaluations"
    )
