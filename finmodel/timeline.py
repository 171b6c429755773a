"""Monthly periods, annual roll-ups and the spreading of year paths to months.

Conventions (docs/methodology.md repeats them):

* The horizon is every calendar month from ``start`` to ``end`` inclusive; month ``t``
  (0-based) is labelled ``YYYY-MM``.
* A *year path* gives values for some years. Years in between are interpolated linearly;
  years before the first given year take the first value, years after the last take the
  last value ("held").
* A *flow* path gives annual totals: each month of year ``Y`` receives ``value(Y) / 12``.
  A *level* path (a rate, a price, a count) gives each month of year ``Y`` the value ``value(Y)``.
* A *point* path gives values at months (a year key means its December); months in between
  are interpolated linearly in the month index, held before the first and after the last point.

All three are linear in the given values, so each is returned as a weight matrix
``W`` of shape (K, T): the monthly path of values ``v`` (K,) is ``v @ W``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def parse_month(text: str) -> tuple[int, int]:
    """Parse ``YYYY-MM`` into ``(year, month)``; raise ValueError otherwise.

    >>> parse_month("2027-03")
    (2027, 3)
    """
    parts = text.split("-")
    if len(parts) != 2 or len(parts[0]) != 4 or len(parts[1]) != 2:
        raise ValueError(f"expected a month as YYYY-MM, got {text!r}")
    year, month = int(parts[0]), int(parts[1])
    if not 1 <= month <= 12:
        raise ValueError(f"expected a month as YYYY-MM with MM in 01..12, got {text!r}")
    return year, month


def month_index(year: int, month: int) -> int:
    """Months since year 0, January: a total order on months."""
    return year * 12 + (month - 1)


def month_label(index: int) -> str:
    """Inverse of :func:`month_index`: ``YYYY-MM``."""
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


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

    def year_weights(self, years: list[int], *, flow: bool) -> FloatArray:
        """Weights (K, T) spreading values given for ``years`` (ascending) to months.

        Linear interpolation between given years, held outside them; a flow divides by 12.

        >>> tl = Timeline("2026-01", "2028-12")
        >>> w = tl.year_weights([2026, 2028], flow=False)
        >>> np.array([10.0, 20.0]) @ w[:, [0, 12, 24]]
        array([10., 15., 20.])
        """
        w = self.point_weights([y * 12 for y in years], at=self.year_of * 12)
        return w / 12.0 if flow else w

    def point_weights(self, knots: list[int], at: NDArray[np.int64] | None = None) -> FloatArray:
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
