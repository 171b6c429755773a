"""A raise schedule that holds jointly over the horizon, built from Monte Carlo paths.

Definitions (DESIGN.md; docs/methodology.md gives the construction and the evidence for it):

* a path's running need ``N_t`` (line item ``funding_need_cumulative``) is the least new money
  that, raised just in time, keeps that path's cash at or above the buffer through month t;
* a schedule is a non-decreasing cumulative amount ``R_t >= 0`` to have raised by month t;
* a path *breaches* ``R`` through month t when ``U_s + R_s < buffer - CASH_TOL`` for some
  ``s <= t`` (``U`` is its unfunded cash). For a non-decreasing ``R >= 0`` this is the same
  event as ``N_s - R_s > CASH_TOL`` for some ``s <= t``: the path is covered through t exactly
  when ``R`` lies above its running need at every month up to t;
* ``R`` holds at confidence ``1 - alpha`` on n paths when, for every month t, at most
  ``k = allowed_breaches(alpha, n)`` paths breach it through t. The set of paths breaching
  through t only grows with t, so the condition at the last month implies it at every month.

Every function takes month-major arrays ``(T, n)`` (months x paths), as the Monte Carlo
stores them, and works one month (one row) at a time so that its extra memory is O(n).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from finmodel.analysis import arguments as args
from finmodel.engine.model import CASH_TOL
from finmodel.errors import ArgumentError, ArgumentTypeError

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
Paths = NDArray[np.floating]


def allowed_breaches(alpha: float, n: int) -> int:
    """The most paths that may breach: the largest whole ``k <= n`` with ``k / n <= alpha``.

    The comparison is the floating-point division a reader would check it with, so that
    ``breaches / n <= alpha`` holds exactly (0.29 x 100 is 28.999..., yet 29 / 100 <= 0.29).

    >>> allowed_breaches(0.05, 10_000), allowed_breaches(0.29, 100), allowed_breaches(0.0, 7)
    (500, 29, 0)
    """
    alpha = args.probability("alpha", alpha)
    n = args.count("n", n, 1, "path")
    k = min(n, max(0, math.floor(alpha * n)))
    while k < n and (k + 1) / n <= alpha:
        k += 1
    while k > 0 and k / n > alpha:
        k -= 1
    return k


def breached(need: Paths, schedule: FloatArray) -> BoolArray:
    """Per path: does it breach ``schedule`` in some month, ``N_t > R_t + CASH_TOL`` for a t?

    ``need`` is (T, n), ``schedule`` is (T,), non-decreasing and >= 0.

    >>> need = np.array([[0.0, 1.0, 0.0], [2.0, 1.0, 0.5]])
    >>> breached(need, np.array([1.0, 1.0]))
    array([ True, False, False])
    """
    _paths(need)
    sched = np.asarray(schedule)
    if sched.shape != need.shape[:1]:
        raise ArgumentError(
            "schedule", f"expected {need.shape[0]} months, one per row of need, got {sched.shape}"
        )
    out = np.zeros(need.shape[1], dtype=bool)
    for t in range(need.shape[0]):
        out |= need[t] > schedule[t] + CASH_TOL
    return out


def joint_schedule(need: Paths, alpha: float) -> FloatArray:
    """The least total raise that holds jointly: ``R_T`` is the smallest any valid schedule
    can have, and each earlier month is then as small as it can be, from the horizon back.

    With ``k = allowed_breaches(alpha, n)`` and ``b`` breaches still allowed (``b = k`` at the
    start), go from the last month T back to the first. At month t, among the paths still
    covered, let ``L_t`` be the (b + 1)-th largest ``N_t`` (0 if b covers them all); give up
    the paths with ``N_t > L_t`` and lower ``b`` by their number. ``R`` is then the envelope
    of the covered paths' running needs, ``R_t = max_{i covered} N_{t,i}`` (0 if none), which
    is non-decreasing because each ``N_{., i}`` is.

    At most k paths are given up, and only they can breach, so ``R`` holds at confidence
    ``1 - alpha``. Any valid schedule has ``R_T >= `` the (k + 1)-th largest ``N_T``, and this
    one attains it: the joint guarantee raises no more by the horizon than the per-month
    quantile does there; it asks for money earlier. With distinct ``N_T`` (continuous
    inputs) the k given-up paths are exactly those with the k largest horizon needs; ties at
    the threshold leave breaches in hand, which are spent on the months before. ``alpha = 0``
    gives the worst path in every month; ``k = n`` gives 0.

    >>> need = np.array([[0.0, 3.0, 1.0, 0.0], [1.0, 3.0, 2.0, 4.0]])  # (T = 2, n = 4)
    >>> joint_schedule(need, 0.25)  # give up the path with the largest final need (4.0)
    array([3., 3.])
    """
    T, n = _paths(need)
    left = allowed_breaches(alpha, n)
    covered = np.ones(n, dtype=bool)
    for t in range(T - 1, -1, -1):
        if left == 0:
            break
        idx = np.flatnonzero(covered)
        x = need[t, idx]
        if left >= x.size:
            level = 0.0
        else:
            level = float(np.partition(x, x.size - 1 - left)[x.size - 1 - left])
        gone = idx[x > level]
        covered[gone] = False
        left -= gone.size
    out = np.zeros(T)
    if covered.any():
        for t in range(T):
            out[t] = max(0.0, float(need[t, covered].max()))
    # needs within the cash tolerance are rounding residues (a facility holding cash at the
    # buffer), not money to raise: a breach needs N_s - R_s > CASH_TOL, so 0 covers them
    out[out <= CASH_TOL] = 0.0
    return out


def need_quantile(need: Paths, alpha: float) -> FloatArray:
    """Per-month need quantile, NOT a joint guarantee: for each month t separately, the
    least ``a`` with ``P(N_t > a) <= alpha`` on the paths, i.e. at most
    ``k = allowed_breaches(alpha, n)`` paths above it: the (k + 1)-th largest ``N_t``, the
    empirical (1 - alpha) quantile by inverted CDF with no interpolation. When k = n every
    ``a`` qualifies, and the smallest ``N_t`` (the best path) is returned.

    Raising it keeps each single month's share of paths below the buffer within alpha, but
    different paths fall short in different months, so the share that falls short in SOME
    month can be far above alpha.

    >>> need_quantile(np.array([[0.0, 3.0, 1.0, 0.0], [1.0, 3.0, 2.0, 4.0]]), 0.25)
    array([1., 3.])
    """
    T, n = _paths(need)
    j = max(0, n - 1 - allowed_breaches(alpha, n))  # the (k + 1)-th largest, in ascending order
    out = np.array([float(np.partition(need[t], j)[j]) for t in range(T)])
    out[out <= CASH_TOL] = 0.0  # rounding residues, as in joint_schedule
    return out


def _paths(need: object) -> tuple[int, int]:
    """The ``need`` argument's shape (T months, n paths): a 2-D float array, finite, T and
    n >= 1 (checked a month at a time, so the check's extra memory is O(n))."""
    if not isinstance(need, np.ndarray) or need.dtype.kind != "f":
        raise ArgumentTypeError(
            "need", f"expected a float array (months x paths), got {type(need).__name__}"
        )
    if need.ndim != 2 or 0 in need.shape:
        raise ArgumentError("need", f"expected months x paths, both >= 1, got shape {need.shape}")
    for t in range(need.shape[0]):
        if not np.isfinite(need[t]).all():
            raise ArgumentError("need", f"expected finite needs, got NaN or inf in month {t}")
    T, n = need.shape
    return int(T), int(n)


def round_up_float32(x: FloatArray) -> NDArray[np.float32]:
    """``x`` as float32, rounded towards +inf (never below ``x``): a schedule that covers the
    rounded needs covers the exact ones, so the guarantee survives float32 storage.

    >>> bool(np.all(round_up_float32(np.array([0.1, 1 / 3, 2.0])) >= np.array([0.1, 1 / 3, 2.0])))
    True
    """
    y = x.astype(np.float32)
    out: NDArray[np.float32] = np.where(y < x, np.nextafter(y, np.float32(np.inf)), y)
    return out


@dataclass(frozen=True)
class BreachCount:
    """How many of ``paths`` paths fell below the buffer in some month under a schedule."""

    breaches: int
    paths: int

    def __post_init__(self) -> None:
        args.count("paths", self.paths, 1, "path")
        args.count("breaches", self.breaches, 0)
        if self.breaches > self.paths:
            raise ArgumentError(
                "breaches", f"expected at most the {self.paths} paths, got {self.breaches}"
            )

    @property
    def rate(self) -> float:
        """``breaches / paths``."""
        return self.breaches / self.paths

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        """Exact (Clopper-Pearson) interval for the probability behind the count, from
        ``scipy.stats.binomtest``: valid when the paths are independent draws.

        >>> lo, hi = BreachCount(50, 1000).interval()
        >>> round(lo, 4), round(hi, 4)
        (0.0373, 0.0654)
        """
        if not (isinstance(level, int | float) and 0.0 < level < 1.0):
            raise ArgumentError("level", f"expected a confidence level in (0, 1), got {level!r}")
        ci = stats.binomtest(self.breaches, self.paths).proportion_ci(level, method="exact")
        return float(ci.low), float(ci.high)


@dataclass(frozen=True)
class Coverage:
    """The raise schedule's guarantee, as measured: on the drawn paths (where it is exact by
    construction) and on an independent validation sample; the per-month need quantile's
    joint breaches beside it, to show what it does not guarantee."""

    alpha: float
    allowed: int  # breaches the guarantee allows on the drawn paths: max k with k / n <= alpha
    drawn: BreachCount  # drawn paths breaching the raise schedule (<= allowed)
    drawn_quantile: BreachCount  # drawn paths breaching the per-month need quantile
    validation: BreachCount  # validation paths breaching the raise schedule
    validation_quantile: BreachCount  # validation paths breaching the per-month need quantile
    validation_seed: str  # how the validation sample's generator was seeded
    validation_sampler: str  # always plain random: independent paths, a binomial count
