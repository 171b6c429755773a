"""Runway, cash-out date, funding need and breakeven, vectorised over scenarios.

Definitions (DESIGN.md; docs/methodology.md gives them with the equations):

* unfunded cash ``U_t``: cash with no new money raised (line item ``cash_unfunded``);
* cumulative funding need ``N_t = max(0, max_{s<=t} (min_cash - U_s))``;
* cash-out month: the first month after the as-of month with ``U_t < min_cash``, or, when
  cash is already short at the as-of month, the month that shortfall began; runway: the
  number of whole months from the as-of month to it, 0 when already short (the as-of month
  defaults to the opening balance date, the month before the start);
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
    since: FloatArray | None = None,
) -> IntArray:
    """The cash-out month as seen at the end of month ``after`` (index from the start; -1,
    the default, is the opening balance date), per scenario; ``NEVER`` (-1) if none.

    If cash is already below the buffer at ``after`` (``since[after] > 0``, the line item
    ``shortfall_since``: the 1-based month the current shortfall began), it is that month;
    otherwise the first month ``t > after`` with ``U_t < min_cash - tol``. ``tol`` (money
    units) ignores rounding residues where a facility holds cash at the buffer.

    >>> u = np.array([[5.0], [2.0], [-1.0], [4.0], [-2.0]])
    >>> cash_out_index(u, np.array([3.0])), cash_out_index(u, np.array([0.0]), after=2)
    (array([1]), array([4]))
    >>> since = np.array([[0.0], [0.0], [3.0], [0.0], [5.0]])
    >>> cash_out_index(u, np.array([0.0]), after=2, since=since)
    array([2])
    """
    below = unfunded[after + 1 :] < min_cash[None, :] - tol
    if below.shape[0] == 0:
        idx = np.full(unfunded.shape[1], NEVER, dtype=np.int64)
    else:
        first = np.argmax(below, axis=0).astype(np.int64) + after + 1
        idx = np.where(below.any(axis=0), first, NEVER)
    if after >= 0 and since is not None:
        began = np.broadcast_to(since[after], idx.shape).astype(np.int64)
        idx = np.where(began > 0, began - 1, idx)
    return idx


def runway_months(
    unfunded: FloatArray, min_cash: FloatArray, as_of: int = -1, since: FloatArray | None = None
) -> FloatArray:
    """Whole months after the as-of month before the cash-out month; 0 when cash is already
    short at the as-of month; NaN if never within the horizon.

    ``runway = max(0, cash_out_index(after=as_of) - as_of - 1)``: with the default
    ``as_of = -1`` (the opening balance date) it is the number of months from the start.

    >>> u = np.array([[5.0], [2.0], [-1.0], [4.0], [-2.0]])
    >>> runway_months(u, np.array([0.0])), runway_months(u, np.array([0.0]), as_of=2)
    (array([2.]), array([1.]))
    """
    idx = cash_out_index(unfunded, min_cash, after=as_of, since=since)
    return np.where(idx == NEVER, np.nan, np.maximum(0, idx - as_of - 1).astype(np.float64))


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
