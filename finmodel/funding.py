"""Runway, cash-out date, funding need and breakeven, vectorised over scenarios.

Definitions (DESIGN.md; docs/methodology.md gives them with the equations):

* unfunded cash ``U_t``: cash with no new money raised (line item ``cash_unfunded``);
* cumulative funding need ``N_t = max(0, max_{s<=t} (min_cash - U_s))``;
* cash-out month: the first month with ``U_t < min_cash``; seen from a later as-of month
  ``a``, with the need until then raised, the first ``t > a`` with ``N_t > N_a``; runway:
  the number of whole months from the as-of month to it (the as-of month defaults to the
  opening balance date, the month before the start);
* funding gap through year Y: ``N`` at the last month of Y;
* breakeven year: the first year whose free cash flow is positive.

Every function takes month-major arrays ``(T, S)`` and returns one value per scenario.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from finmodel.engine.model import CASH_TOL
from finmodel.timeline import Timeline

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
NEVER = -1


def cash_out_index(
    unfunded: FloatArray,
    min_cash: FloatArray,
    tol: float = CASH_TOL,
    after: int = -1,
    need: FloatArray | None = None,
) -> IntArray:
    """The cash-out month as seen at the end of month ``after`` (index from the start; -1,
    the default, is the opening balance date), per scenario; ``NEVER`` (-1) if none.

    From the opening balance it is the first month with ``U_t < min_cash - tol``. From a
    later as-of month ``a`` the company has raised what it needed until then (``N_a``, the
    cumulative funding need), so its cash is ``U_t + N_a`` and the cash-out month is the first
    ``t > a`` where that falls below the buffer: ``N_t > N_a + tol``. ``need`` (T, S) is the
    line item ``funding_need_cumulative``; both readings agree at ``a = -1`` (``N_-1 = 0``).
    ``tol`` (money units) ignores rounding residues where a facility holds cash at the buffer.

    >>> u = np.array([[5.0], [2.0], [-1.0], [4.0], [-2.0]])
    >>> cash_out_index(u, np.array([3.0])), cash_out_index(u, np.array([0.0]), after=2)
    (array([1]), array([4]))
    >>> n = funding_need(u, np.array([0.0]))  # 0, 0, 1, 1, 2: short by 1 in month 2
    >>> cash_out_index(u, np.array([0.0]), after=2, need=n)  # with that 1 raised: month 4
    array([4])
    """
    if need is not None and after >= 0:
        more = need[after + 1 :] > need[after][None, :] + tol
    else:
        more = unfunded[after + 1 :] < min_cash[None, :] - tol
    if more.shape[0] == 0:
        return np.full(unfunded.shape[1], NEVER, dtype=np.int64)
    first = np.argmax(more, axis=0).astype(np.int64) + after + 1
    return np.where(more.any(axis=0), first, NEVER)


def runway_months(
    unfunded: FloatArray, min_cash: FloatArray, as_of: int = -1, need: FloatArray | None = None
) -> FloatArray:
    """Whole months after the as-of month before the cash-out month (as seen then, with
    what was needed until then raised); NaN if never within the horizon.

    ``runway = cash_out_index(after=as_of, need=need) - as_of - 1``: with the default
    ``as_of = -1`` (the opening balance date) it is the number of months from the start.

    >>> u = np.array([[5.0], [2.0], [-1.0], [4.0], [-2.0]])
    >>> runway_months(u, np.array([0.0])), runway_months(u, np.array([0.0]), as_of=2)
    (array([2.]), array([1.]))
    """
    idx = cash_out_index(unfunded, min_cash, after=as_of, need=need)
    return np.where(idx == NEVER, np.nan, (idx - as_of - 1).astype(np.float64))


def annual(values: FloatArray, tl: Timeline, kind: str) -> FloatArray:
    """Roll months up to years, shape (Y, S).

    Sum for flows and flags, the year's last month for balances, the mean for levels.
    """
    slices = tl.year_slices()
    if kind in ("flow", "flag"):
        starts = [s.start for _, s in slices]
        out: FloatArray = np.add.reduceat(values, starts, axis=0)
        return out
    if kind == "balance":
        return values[[s.stop - 1 for _, s in slices]]
    return np.stack([values[s].mean(axis=0) for _, s in slices])


def breakeven_year(fcf_annual: FloatArray, years: list[int]) -> FloatArray:
    """First year with positive free cash flow per scenario; NaN if none.

    >>> breakeven_year(np.array([[-2.0], [0.0], [3.0]]), [2028, 2029, 2030])
    array([2030.])
    """
    pos = fcf_annual > 0
    idx = np.argmax(pos, axis=0)
    return np.where(pos.any(axis=0), np.asarray(years, dtype=np.float64)[idx], np.nan)


def funding_need(unfunded: FloatArray, min_cash: FloatArray) -> FloatArray:
    """Cumulative funding need ``N_t`` in closed form (the engine computes it recursively).

    >>> funding_need(np.array([[5.0], [-2.0], [1.0], [-4.0]]), np.array([0.0]))[:, 0]
    array([0., 2., 2., 4.])
    """
    return np.maximum(np.maximum.accumulate(min_cash[None, :] - unfunded, axis=0), 0.0)
