"""Scalar metrics of a batch of projections: one value per scenario.

A metric is named ``NAME`` or ``NAME.PERIOD``:

* ``funding_gap.2030``: cumulative funding need at the end of 2030;
* ``cash_out_month``: months from the start to the first month after the as-of month below
  the buffer (NaN: never); ``runway_months``: whole months from the as-of month to it (the
  same number when runway counts from the opening balance date, the default);
  ``breakeven_year`` the first year with positive FCF;
* ``trough_unfunded_cash``, ``peak_funding_need``, ``stranded_compute_total``,
  ``commitments_total``; with a ``valuation`` section, ``enterprise_value`` and
  ``equity_value`` (the DCF; a reverse DCF is a goal seek on them) and ``dilution`` (the
  share of their stakes the holders at the valuation date give up by the horizon, every
  equity issue priced as in :mod:`finmodel.equity`);
* any flow line item over a year or span (``burn.2025-2029``, ``revenue.2030``) and any
  balance at a year's end (``cash_unfunded.2028``).
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from finmodel.engine.evaluate import full
from finmodel.engine.model import Model
from finmodel.errors import ArgumentError
from finmodel.funding import NEVER, annual, breakeven_year, cash_out_index, runway_months
from finmodel.targets import BALANCE_METRICS, FLOW_METRICS, SCALAR_METRICS, parse_period

FloatArray = NDArray[np.float64]
MONTH_VALUED = ("cash_out_month", "runway_months")
VALUE_METRICS = ("enterprise_value", "equity_value")
KNOWN = (
    *SCALAR_METRICS,
    "cash_out_month",
    *VALUE_METRICS,
    "dilution",
    *FLOW_METRICS,
    *BALANCE_METRICS,
)


@dataclass(frozen=True)
class Metric:
    """A parsed metric name: ``name`` and an optional span of years."""

    name: str
    span: tuple[int, int] | None

    @property
    def label(self) -> str:
        if self.span is None:
            return self.name
        lo, hi = self.span
        return f"{self.name}.{lo}" if lo == hi else f"{self.name}.{lo}-{hi}"


def parse_metric(spec: str, model: Model, argument: str = "metric") -> Metric:
    """Parse and check ``NAME[.PERIOD]`` against the model's horizon.

    A name that is not a metric, or a period outside the horizon, raises an
    :class:`~finmodel.errors.ArgumentError` naming ``argument`` (the function argument, or the
    file's field, the metric came from).

    >>> from finmodel.assumptions import load
    >>> from finmodel.engine.model import build
    >>> parse_metric("funding_gap.2030", build(load("hsbc-2025-11")))
    Metric(name='funding_gap', span=(2030, 2030))
    >>> parse_metric("gap", build(load("hsbc-2025-11")), "--metric")
    Traceback (most recent call last):
    finmodel.errors.ArgumentError: --metric: expected one of the known metrics, got 'gap'
    """
    name, _, period = spec.partition(".")
    if name not in KNOWN:
        near = difflib.get_close_matches(name, KNOWN, n=3)
        hint = f"; nearest: {', '.join(near)}" if near else ""
        raise ArgumentError(argument, f"expected one of the known metrics, got {spec!r}{hint}")
    try:
        span = parse_period(period or None)
    except ValueError as e:
        raise ArgumentError(argument, f"{e} (in {spec!r})") from None
    years = model.timeline.years
    needs_period = name in FLOW_METRICS + BALANCE_METRICS and name != "stranded_compute"
    if span is None and name in ("funding_gap",):
        span = (years[-1], years[-1])
    if span is not None and not (years[0] <= span[0] and span[1] <= years[-1]):
        raise ArgumentError(
            argument, f"expected years within the horizon {years[0]}..{years[-1]}, got {spec!r}"
        )
    if span is None and needs_period:
        span = (years[0], years[-1])
    return Metric(name, span)


def evaluate_metric(
    model: Model, items: dict[str, FloatArray], values: FloatArray, metric: Metric
) -> FloatArray:
    """The metric for every scenario of a batch: shape (S,); NaN where a date never comes."""
    S = values.shape[0]
    names = model.params.names()
    tl = model.timeline
    min_cash = values[:, names.index("funding_min_cash")]
    u = full(items["cash_unfunded"], S)
    n = metric.name
    if n in MONTH_VALUED:
        a = model.as_of
        need = full(items["funding_need_cumulative"], S)
        if n == "runway_months":
            return runway_months(u, min_cash, as_of=a, need=need)
        idx = cash_out_index(u, min_cash, after=a, need=need).astype(np.float64)
        months: FloatArray = np.where(idx == NEVER, np.nan, idx)
        return months
    if n == "breakeven_year":
        return breakeven_year(annual(full(items["free_cash_flow"], S), tl, "flow"), tl.years)
    if n == "trough_unfunded_cash":
        trough: FloatArray = u.min(axis=0)
        return trough
    if n == "peak_funding_need":
        peak: FloatArray = full(items["funding_need_cumulative"], S)[-1].copy()
        return peak
    if n == "stranded_compute_total" or (n == "stranded_compute" and metric.span is None):
        stranded: FloatArray = full(items["stranded_compute"], S).sum(axis=0)
        return stranded
    if n in VALUE_METRICS:
        from finmodel.valuation import equity_bridge

        ev, _, _, equity = equity_bridge(model, items, values)
        return ev if n == "enterprise_value" else equity
    if n == "dilution":
        from finmodel.equity import walk

        diluted: FloatArray = walk(model, items, values).dilution()
        return diluted
    if n == "commitments_total":
        cols = [names.index(x) for xs in model.commitment_amounts.values() for x in xs]
        return values[:, cols].sum(axis=1) if cols else np.zeros(S)
    assert metric.span is not None
    lo, hi = metric.span
    years = tl.years
    item = "funding_need_cumulative" if n in ("funding_gap",) else n
    kind = "balance" if n in BALANCE_METRICS else "flow"
    yearly = annual(full(items[item], S), tl, kind)
    if kind == "balance":
        end: FloatArray = yearly[years.index(hi)].copy()
        return end
    out: FloatArray = yearly[years.index(lo) : years.index(hi) + 1].sum(axis=0)
    return out


NEVER_TEXT = {"runway_months": "beyond the horizon"}
"""How a metric whose date never comes within the horizon reads, where not ``never``: a
runway outlasts the horizon."""


def never_text(name: str) -> str:
    """The words for metric ``name`` when its date never comes within the horizon (NaN, or
    None in :attr:`finmodel.results.Results.metrics`): ``beyond the horizon`` for the
    runway, ``never`` for a month or a year.

    >>> never_text("runway_months"), never_text("cash_out_month")
    ('beyond the horizon', 'never')
    """
    return NEVER_TEXT.get(name, "never")


def format_metric(metric: Metric, x: float, model: Model) -> str:
    """A metric value as a person reads it: months as ``YYYY-MM``, NaN in the words of
    :func:`never_text`."""
    if math.isnan(x):
        return never_text(metric.name)
    if metric.name == "cash_out_month":
        return model.timeline.labels[min(int(x), model.timeline.T - 1)]
    if metric.name in ("runway_months", "breakeven_year"):
        return f"{x:.0f}"
    if metric.name == "dilution":
        return f"{x:.2%}"
    return f"{x:,.2f}"
