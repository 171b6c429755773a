"""Monthly periods, annual roll-ups and the spreading of period paths to months.

Conventions (docs/methodology.md gives them with the equations and the evidence):

* The horizon is every calendar month from ``start`` to ``end`` inclusive; month ``t``
  (0-based) is labelled ``YYYY-MM``.
* A *period path* gives values by year (``2027``), by quarter (``"2027-Q2"``) or by month
  (``"2027-05"``), one granularity per path. Periods in between given ones are interpolated
  linearly in the period index; periods before the first given one take its value, after the
  last the last value ("held"). Keys outside the horizon shape the months inside it.
* A *flow* path gives totals per period (revenue of 2027). By default (``smooth``) the totals
  are spread with the Denton-Cholette additive first-difference method (identical to
  Boot-Feibes-Lisman's first-difference method): the monthly path that changes least from
  month to month, ``min sum_t (x_t - x_{t-1})^2``, subject to every period's months adding up
  exactly to its total. Periods with a zero total get zero months and split the path into
  runs smoothed separately; where the smooth path would take a month below
  :data:`SMOOTH_FLOOR` of its period's average month (growth or decline faster than about
  4x a year), that period's months are blended toward flat just enough to keep every month
  at the floor (a blend within one period keeps its total).
  ``flat`` gives each month total / months in the period (steps at period boundaries).
* A *level* path gives a level per period (a share, a price, a market share). By default
  it is interpolated linearly between the middles of the given periods (held before the
  first middle and after the last), so levels move month by month within their bounds;
  ``flat`` gives every month of a period the period's value.
* A *point* path gives values at months; months in between are interpolated linearly in
  the month index, held before the first and after the last point.

Every rule is linear in the given values with weights fixed when the model is built, so
each path is returned as a weight matrix ``W`` of shape (K, T) and the monthly path of
values ``v`` (K,) is ``v @ W``; the workbook writes the same weights into its formulas.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Literal

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
Spread = Literal["smooth", "flat"]
PeriodKey = int | str

SMOOTH_FLOOR = 0.1
"""A smoothly spread month keeps at least this share of its period's average month."""


_MONTH = re.compile(r"(\d{4})-(\d{2})")
_LOOSE_MONTH = re.compile(r"(\d{4})-(\d{1,2})(?:-(\d{1,2})(?:[T ].*)?)?")


def parse_month(text: str) -> tuple[int, int]:
    """Parse ``YYYY-MM`` into ``(year, month)``; raise ValueError otherwise (a full date
    such as ``2027-01-15`` is refused with the month it meant).

    >>> parse_month("2027-03")
    (2027, 3)
    >>> parse_month("2027-01-15")
    Traceback (most recent call last):
    ...
    ValueError: expected a month as YYYY-MM, got the date 2027-01-15 (a month is written 2027-01)
    """
    m = _MONTH.fullmatch(text)
    if m is None:
        loose = _LOOSE_MONTH.fullmatch(text)
        if loose is not None and 1 <= int(loose.group(2)) <= 12:
            meant = f"{loose.group(1)}-{int(loose.group(2)):02d}"
            got = f"the date {text}" if loose.group(3) else repr(text)
            raise ValueError(f"expected a month as YYYY-MM, got {got} (a month is written {meant})")
        raise ValueError(f"expected a month as YYYY-MM, got {text!r}")
    year, month = int(m.group(1)), int(m.group(2))
    if not 1 <= month <= 12:
        raise ValueError(f"expected a month as YYYY-MM with MM in 01..12, got {text!r}")
    return year, month


def month_index(year: int, month: int) -> int:
    """Months since year 0, January: a total order on months."""
    return year * 12 + (month - 1)


def month_label(index: int) -> str:
    """Inverse of :func:`month_index`: ``YYYY-MM``."""
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


_QUARTER = re.compile(r"(\d{4})-Q([1-4])")


def parse_period_key(key: PeriodKey) -> tuple[int, int]:
    """``(months in the period, index of its first month)`` of a year, quarter or month key.

    >>> parse_period_key(2027), parse_period_key("2027-Q2"), parse_period_key("2027-05")
    ((12, 24324), (3, 24327), (1, 24328))
    """
    if isinstance(key, int) and not isinstance(key, bool):
        return 12, key * 12
    if isinstance(key, str):
        m = _QUARTER.fullmatch(key)
        if m:
            return 3, int(m.group(1)) * 12 + 3 * (int(m.group(2)) - 1)
        try:
            return 1, month_index(*parse_month(key))
        except ValueError:
            pass
    raise ValueError(
        f"expected a year (2027), a quarter ('2027-Q2') or a month ('2027-05'), got {key!r}"
    )


@lru_cache(maxsize=256)
def denton_weights(lengths: tuple[int, ...]) -> FloatArray:
    """Denton-Cholette additive first-difference weights for consecutive periods.

    ``lengths`` are the months of each period (12 for years; a first or last period may be
    partial). Returns ``W`` (M, P), M = sum(lengths): the months ``x = W @ a`` minimise
    ``sum_{t>=1} (x_t - x_{t-1})^2`` subject to each period's months summing to ``a_p``
    (Boot, Feibes and Lisman 1967; Denton 1971 with Cholette's 1984 start condition). The
    solution solves the KKT system ``[[2 D'D, C'], [C, 0]] [x; l] = [0; a]``, nonsingular
    because the only path with no change (a constant) has nonzero period sums.

    >>> w = denton_weights((12, 12))
    >>> x = w @ np.array([12.0, 12.0])
    >>> bool(np.allclose(x, 1.0))
    True
    """
    from scipy import sparse
    from scipy.sparse.linalg import splu

    M, P = sum(lengths), len(lengths)
    if P == 1 or all(n == 1 for n in lengths):
        flat = flat_weights(lengths)  # one period, or months: nothing to smooth
        flat.setflags(write=False)
        return flat
    d = sparse.diags([-np.ones(M - 1), np.ones(M - 1)], [0, 1], shape=(M - 1, M))
    rows = np.repeat(np.arange(P), lengths)
    c = sparse.csr_matrix((np.ones(M), (rows, np.arange(M))), shape=(P, M))
    kkt = sparse.bmat([[2.0 * (d.T @ d), c.T], [c, None]], format="csc")
    rhs = np.zeros((M + P, P))
    rhs[M:, :] = np.eye(P)
    sol: FloatArray = splu(kkt).solve(rhs)[:M]
    sol.setflags(write=False)
    return sol


def flat_weights(lengths: Sequence[int]) -> FloatArray:
    """Weights (M, P) giving each month of period ``p`` the total ``a_p`` / its months."""
    out = np.zeros((sum(lengths), len(lengths)))
    start = 0
    for p, n in enumerate(lengths):
        out[start : start + n, p] = 1.0 / n
        start += n
    return out


def spread_totals(lengths: Sequence[int], totals: FloatArray, spread: Spread) -> FloatArray:
    """Weights (M, P) spreading consecutive period totals to months (module conventions).

    ``totals`` are the file's values of the totals: they decide the runs (a zero total
    splits the path; a change of sign too) and, period by period, the blend toward flat
    that keeps every month at least :data:`SMOOTH_FLOOR` of its period's average month,
    with that period's sign. The weights themselves are fixed, so the path stays linear in
    the totals.
    """
    lengths = list(lengths)
    flat = flat_weights(lengths)
    if spread == "flat":
        return flat
    out = np.zeros_like(flat)
    sign = np.sign(totals)
    starts = np.concatenate([[0], np.cumsum(lengths)]).astype(int)
    p = 0
    while p < len(lengths):
        q = p
        while q + 1 < len(lengths) and sign[q + 1] == sign[p]:
            q += 1
        rows, cols = slice(starts[p], starts[q + 1]), slice(p, q + 1)
        if sign[p] != 0:
            f = flat[rows, cols]
            s = denton_weights(tuple(lengths[p : q + 1]))
            xf, xs = f @ totals[cols], s @ totals[cols]
            with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
                ratio = xs / xf  # month / its period's average month, >= SMOOTH_FLOOR wanted
            ratio = np.nan_to_num(ratio, nan=0.0, posinf=1.0, neginf=-1e300)
            # a blend within one period keeps its total (both paths sum to it there), so
            # each period gets the largest weight on the smooth path that respects the floor
            low = ratio < SMOOTH_FLOOR
            bound = np.ones(len(ratio))
            bound[low] = (1.0 - SMOOTH_FLOOR) / (1.0 - ratio[low])
            lam = np.ones(len(xf))
            at = 0
            for n in lengths[p : q + 1]:
                lam[at : at + n] = min(1.0, float(bound[at : at + n].min()))
                at += n
            out[rows, cols] = f + lam[:, None] * (s - f)
        p = q + 1
    return out


@dataclass(frozen=True)
class Timeline:
    """The projection horizon: ``T`` months from ``start`` to ``end`` inclusive.

    >>> tl = Timeline("2026-11", "2027-02")
    >>> tl.T, tl.labels
    (4, ['2026-11', '2026-12', '2027-01', '2027-02'])
    >>> tl.years
    [2026, 2027]
    """

    start: str
    end: str

    @cached_property
    def first(self) -> int:
        return month_index(*parse_month(self.start))

    @cached_property
    def last(self) -> int:
        return month_index(*parse_month(self.end))

    @property
    def T(self) -> int:
        return self.last - self.first + 1

    @cached_property
    def labels(self) -> list[str]:
        return [month_label(i) for i in range(self.first, self.last + 1)]

    @cached_property
    def year_of(self) -> NDArray[np.int64]:
        """Calendar year of each month, shape (T,)."""
        return np.arange(self.first, self.last + 1, dtype=np.int64) // 12

    @cached_property
    def month_of(self) -> NDArray[np.int64]:
        """Calendar month (1..12) of each month, shape (T,)."""
        return np.arange(self.first, self.last + 1, dtype=np.int64) % 12 + 1

    @cached_property
    def years(self) -> list[int]:
        return sorted({int(y) for y in self.year_of})

    def index_of(self, label: str) -> int:
        """0-based position of month ``label`` (may be outside 0..T-1)."""
        return month_index(*parse_month(label)) - self.first

    def year_slices(self) -> list[tuple[int, slice]]:
        """``(year, slice of months)`` for every (possibly partial) year in the horizon."""
        out = []
        for y in self.years:
            idx = np.flatnonzero(self.year_of == y)
            out.append((y, slice(int(idx[0]), int(idx[-1]) + 1)))
        return out

    def period_weights(
        self, keys: Sequence[PeriodKey], values: FloatArray, *, flow: bool, spread: Spread
    ) -> FloatArray:
        """Weights (K, T) turning a period path's values (given at ``keys``) into months.

        ``values`` (K,) are the file's values; for flows they decide the runs and the blend
        of :func:`spread_totals` (the weights do not change when the values are varied).

        >>> tl = Timeline("2026-01", "2027-12")
        >>> w = tl.period_weights([2026, 2027], np.array([12.0, 24.0]), flow=True, spread="flat")
        >>> (np.array([12.0, 24.0]) @ w)[[0, 11, 12]]
        array([1., 1., 2.])
        >>> v = np.array([12.0, 24.0]) @ tl.period_weights(
        ...     [2026, 2027], np.array([12.0, 24.0]), flow=True, spread="smooth")
        >>> float(v[:12].sum()), float(v[12:].sum()), bool(np.all(np.diff(v) > 0))
        (12.0, 24.0, True)
        """
        parsed = [parse_period_key(k) for k in keys]
        sizes = {n for n, _ in parsed}
        if len(sizes) != 1:
            raise ValueError(f"expected keys of one granularity, got {list(keys)}")
        (g,) = sizes
        firsts = [f for _, f in parsed]
        order = np.argsort(firsts, kind="stable")
        if np.any(np.diff(np.asarray(firsts)[order]) <= 0):
            raise ValueError(f"expected distinct periods, got {list(keys)}")
        firsts = [firsts[i] for i in order]
        vals = np.asarray(values, dtype=np.float64)[order]
        K = len(keys)
        if not flow:
            if spread == "smooth":
                w = self.point_weights(
                    [f + g / 2.0 for f in firsts],
                    at=np.arange(self.first, self.last + 1) + 0.5,
                )
            else:
                w = self.point_weights(
                    [float(f) for f in firsts],
                    at=(np.arange(self.first, self.last + 1) // g * g).astype(np.float64),
                )
        else:
            lo = min(firsts[0], self.first // g * g)
            hi = max(firsts[-1], self.last // g * g)
            grid = np.arange(lo, hi + 1, g)
            knots = np.asarray(firsts, dtype=np.float64)
            interp = np.stack([_interp_weights(knots, float(x)) for x in grid])
            months = spread_totals([g] * len(grid), interp @ vals, spread) @ interp  # (M, K)
            w = months[self.first - lo : self.last - lo + 1].T
        out = np.empty((K, self.T))
        out[order] = w
        return out

    def point_weights(
        self, knots: Sequence[float], at: NDArray[np.floating] | NDArray[np.int64] | None = None
    ) -> FloatArray:
        """Weights (K, T) interpolating values given at ascending month indices ``knots``.

        Linear in the month index, held before the first knot and after the last; ``at``
        gives the index each month is evaluated at (default: the month itself).

        >>> tl = Timeline("2026-01", "2026-05")
        >>> w = tl.point_weights([tl.first + 1, tl.first + 3])
        >>> np.array([0.0, 2.0]) @ w
        array([0., 0., 1., 2., 2.])
        """
        xs = np.asarray(knots, dtype=np.float64)
        if np.any(np.diff(xs) <= 0):
            raise ValueError(f"expected ascending knots, got {knots}")
        points = np.arange(self.first, self.last + 1) if at is None else at
        w = np.zeros((len(knots), self.T))
        for t, x in enumerate(points.astype(np.float64)):
            w[:, t] = _interp_weights(xs, x)
        return w


def _interp_weights(xs: FloatArray, x: float) -> FloatArray:
    """Weights on sorted knots ``xs`` that interpolate linearly at ``x`` (held outside)."""
    w = np.zeros(len(xs))
    if x <= xs[0]:
        w[0] = 1.0
    elif x >= xs[-1]:
        w[-1] = 1.0
    else:
        j = int(np.searchsorted(xs, x, side="right")) - 1
        frac = (x - xs[j]) / (xs[j + 1] - xs[j])
        w[j], w[j + 1] = 1.0 - frac, frac
    return w
