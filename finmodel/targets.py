"""Published figures beside the model's: which metrics a target may name and how each is read.

A target names a line item (summed over its period for flows, the period's last month for
balances) or a horizon-wide metric. The period is a year (``2026``), a span (``2025-2029``)
or absent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

FLOW_METRICS = (
    "revenue",
    "cost_of_revenue",
    "compute_need",
    "compute_cost",
    "committed_payments",
    "committed_nonbinding",
    "stranded_compute",
    "staff",
    "sales_marketing",
    "general_admin",
    "revenue_share",
    "stock_comp",
    "capex",
    "depreciation",
    "cash_costs",
    "ebitda",
    "ebit",
    "interest",
    "pretax_income",
    "tax",
    "net_income",
    "net_income_ex_sbc",
    "net_loss",
    "net_loss_ex_sbc",
    "free_cash_flow",
    "burn",
    "committed_inflows",
    "facility_draws",
    "funding_need",
)
BALANCE_METRICS = ("cash_unfunded", "cash", "funding_gap", "funding_need_cumulative")
SCALAR_METRICS = (
    "breakeven_year",
    "runway_months",
    "trough_unfunded_cash",
    "peak_funding_need",
    "commitments_total",
    "stranded_compute_total",
)
YEAR_VALUED = ("breakeven_year",)
TARGET_METRICS = FLOW_METRICS + BALANCE_METRICS + SCALAR_METRICS


def parse_period(period: int | str | None) -> tuple[int, int] | None:
    """``2026`` -> (2026, 2026); ``"2025-2029"`` -> (2025, 2029); None -> None.

    >>> parse_period("2025-2029"), parse_period(2026)
    ((2025, 2029), (2026, 2026))
    """
    if period is None:
        return None
    if isinstance(period, int):
        return (period, period)
    parts = period.split("-")
    try:
        if len(parts) == 1:
            y = int(parts[0])
            return (y, y)
        if len(parts) == 2:
            lo, hi = int(parts[0]), int(parts[1])
            if lo <= hi:
                return (lo, hi)
    except ValueError:
        pass
    raise ValueError(f"expected a year or a span of years like 2025-2029, got {period!r}")


@dataclass(frozen=True)
class TargetResult:
    metric: str
    period: str | None
    published: float
    model: float | None
    tolerance: float
    source: str | None

    @property
    def difference(self) -> float | None:
        return None if self.model is None else self.model - self.published

    @property
    def ok(self) -> bool:
        if self.model is None or math.isnan(self.model):
            return False
        if self.metric in YEAR_VALUED:
            return abs(self.model - self.published) <= self.tolerance
        return abs(self.model - self.published) <= self.tolerance * abs(self.published) + 1e-12
