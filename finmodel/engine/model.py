"""The line items of a projection, each defined once as an expression, section by section.

:func:`build` turns validated assumptions into a :class:`Model`: the registry of scalar
inputs (the workbook's Inputs sheet) and the ordered list of line items (the rows of the
workbook's Calc sheet). It calls one function per section, in the order of
:data:`SECTIONS`; each section defines its inputs and line items from the file and reads
what earlier sections defined by item id (:meth:`_Builder.ref`) and parameter path
(:meth:`_Builder.input`). The Calc sheet's rows follow that order. The numpy evaluator and
the workbook writer both read this list; no equation exists anywhere else.

Signs: revenue, costs and inflows are positive numbers; free cash flow, net income and
cash are signed. Every item carries its unit (:attr:`Item.unit`): money flows are in the
scenario's unit per month (``USD billion per month``), balances in the scenario's unit.

This module reads no file and applies no ``adjust:`` section: the API does both
(:func:`finmodel.analysis.arguments.model_of`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from finmodel.assumptions.params import Params
from finmodel.assumptions.schema import (
    COST_LINES,
    INFLOW_KINDS,
    UNIT_MULTIPLIER,
    Assumptions,
    Commitment,
    CostSpec,
    Inflow,
    Segment,
    Sourced,
    slug,
)
from finmodel.engine.expr import (
    Const,
    CumSum,
    Expr,
    Fn,
    In,
    Path,
    Prev,
    Ref,
    Series,
    SumOver,
    fmax,
    fmin,
    total,
)
from finmodel.timeline import (
    Spread,
    Timeline,
    month_index,
    parse_month,
    parse_period_key,
    spread_totals,
)

Kind = Literal["flow", "balance", "level", "flag"]

FloatArray = NDArray[np.float64]

KIND_LABELS = {
    "equity": "equity",
    "debt": "debt",
    "prepayment": "customer prepayment",
    "grant": "grant",
    "asset_sale": "asset sale",
}

CASH_TOL = 1e-9
"""Cash counts as below the buffer only when short by more than this (money units): a
facility that holds cash exactly at the buffer leaves rounding residues of ~1e-15."""

FLAG = "flag"
"""The unit of a flag item: 1 (yes) or 0 (no)."""


@dataclass(frozen=True)
class Item:
    """A line item: identifier, label, how it rolls up to years, its definition and unit.

    ``kind``: ``flow`` (annual = sum of months), ``balance`` (annual = last month of the
    year), ``level`` (annual = average of months), ``flag`` (1/0; annual = months flagged).
    ``unit``: what one month's value counts (``USD billion per month`` for a money flow,
    ``USD billion`` for a balance, ``share of users``, ``rate per year``, ``flag``...).
    The Calc sheet shows it after the label, in brackets.
    ``section``: the Calc sheet's heading above the item.
    """

    id: str
    label: str
    kind: Kind
    expr: Expr
    unit: str
    section: str = ""


@dataclass(frozen=True)
class _Inputs:
    """Input values by name, as the :class:`~finmodel.engine.expr.Env` an expression over
    inputs alone is evaluated in (one scenario)."""

    values: Mapping[str, float]

    def input(self, name: str) -> FloatArray:
        return np.array([self.values[name]])

    def item(self, name: str) -> FloatArray:
        raise KeyError(f"{name}: a commitment's payments read inputs only, not line items")


@dataclass(frozen=True)
class Payments:
    """A commitment's payments over its whole life, inside the horizon or beyond it.

    ``path`` is a linear path over the contract's inputs whose column j is month
    ``first + j`` (a month index, :func:`finmodel.timeline.month_index`): the payment in that
    month is ``sum_k input_k * weights[k, j]``, the weights of :func:`commitment_profile`.
    The line item ``commit__<name>`` is this path's months inside the horizon
    (:meth:`within`); the valuation reads every month (:meth:`amounts`). Both evaluate the
    same :class:`~finmodel.engine.expr.Path`.
    """

    path: Path
    first: int

    @property
    def names(self) -> tuple[str, ...]:
        """The contract's input names (its amount, or its payment for each year)."""
        return self.path.names

    @property
    def months(self) -> NDArray[np.int64]:
        """The month index of each column of the path."""
        return np.arange(self.first, self.first + self.path.weights.shape[1], dtype=np.int64)

    def within(self, tl: Timeline) -> Path:
        """The payments in the months of ``tl`` (zero before the contract and after it)."""
        w = self.path.weights
        out = np.zeros((w.shape[0], tl.T))
        lo, hi = max(self.first, tl.first), min(self.first + w.shape[1], tl.first + tl.T)
        if lo < hi:
            out[:, lo - tl.first : hi - tl.first] = w[:, lo - self.first : hi - self.first]
        return Path(self.path.names, out)

    def amounts(self, params: Params) -> FloatArray:
        """The payment in each of :attr:`months` for the inputs' values in ``params``."""
        env = _Inputs({n: params[n].value for n in self.path.names})
        out: FloatArray = self.path.whole(env, self.path.weights.shape[1])[:, 0]
        return out


@dataclass
class Model:
    """A scenario's inputs and line items over its timeline."""

    scenario: str
    timeline: Timeline
    params: Params
    items: list[Item] = field(default_factory=list)
    unit: str = "billion"
    currency: str = "USD"
    payments: dict[str, Payments] = field(default_factory=dict)
    """Each commitment's payments, by the slug of its counterparty."""
    assumptions: Assumptions | None = None
    as_of: int = -1
    """The as-of month runway is counted from, as an index from the start (-1: the opening
    balance date, the month before the start)."""

    def item(self, id: str) -> Item:
        for it in self.items:
            if it.id == id:
                return it
        raise KeyError(id)

    @property
    def ids(self) -> list[str]:
        return [it.id for it in self.items]

    @property
    def commitment_amounts(self) -> dict[str, list[str]]:
        """Each commitment's input names (amount or yearly payments), by counterparty slug."""
        return {k: list(p.names) for k, p in self.payments.items()}


def commitment_profile(c: Commitment) -> list[tuple[str, Sourced, dict[int, float]]]:
    """Each input of contract ``c`` (its path suffix, its value) with its weight by month
    index over the contract's whole life, inside the horizon or beyond it: the payment in
    month m is ``sum_k value_k * w_k[m]``.

    ``flat``: ``1 / n`` for each of the n = 12 x years months from ``start``; ``ramp``:
    month i of n pays ``2 i / (n (n + 1))``; ``explicit``: the payments by year spread over
    each year's months from ``start`` by :func:`finmodel.timeline.spread_totals` (smooth by
    default; a partial first year gets its whole payment; years not given pay nothing).

    >>> from finmodel.assumptions.schema import Commitment
    >>> [(k, x.value, sorted(w.items())) for k, x, w in commitment_profile(
    ...     Commitment(counterparty="C", amount=3, start="2026-11", years=1, profile="flat")
    ... )][0][:2]
    ('amount', 3.0)
    """
    first = month_index(*parse_month(c.start))
    if c.profile == "explicit":
        assert c.payments is not None
        keys = sorted(c.payments)
        years = list(range(max(keys[0], first // 12), keys[-1] + 1))
        lengths = [12 - max(0, first - y * 12) for y in years]
        totals = np.array([c.payments[y].value if y in c.payments else 0.0 for y in years])
        months = spread_totals(lengths, totals, c.spread)  # (M, Y)
        lo = years[0] * 12 + (12 - lengths[0])  # the first paid month
        out: list[tuple[str, Sourced, dict[int, float]]] = []
        for y in keys:
            w: dict[int, float] = {}
            if y in years:
                col = months[:, years.index(y)]
                w = {lo + i: float(x) for i, x in enumerate(col) if x != 0.0}
            out.append((f"payments.{y}", c.payments[y], w))
        return out
    assert c.amount is not None
    n = c.years * 12
    step = np.arange(1, n + 1, dtype=np.float64)
    prof = np.full(n, 1.0 / n) if c.profile == "flat" else 2.0 * step / (n * (n + 1.0))
    return [("amount", c.amount, {first + i: float(prof[i]) for i in range(n)})]


def discount_years(months_after: FloatArray, mid_period: bool) -> FloatArray:
    """Years from the valuation date (the end of its month) to a month's flow, for a month
    ``months_after`` >= 1 months later: to mid-month with ``mid_period``, else to month end.

    >>> discount_years(np.array([1.0, 12.0]), True).tolist()
    [0.041666666666666664, 0.9583333333333334]
    """
    out: FloatArray = (months_after - (0.5 if mid_period else 0.0)) / 12.0
    return out


class _Builder:
    """The model under construction: the scenario ``a``, its timeline, the inputs and the
    line items defined so far, and the Calc heading of the section being built.

    A section reads what an earlier section defined by item id (:meth:`ref`) and by
    parameter path (:meth:`input`); both refuse a name no earlier section defined, so the
    order of :data:`SECTIONS` is checked as the model is built.
    """

    def __init__(self, a: Assumptions) -> None:
        self.a = a
        self.tl = Timeline(a.start, a.end)
        self.p = Params()
        self.items: list[Item] = []
        self.section = ""
        self.money = f"{a.currency} {a.unit}"
        """The unit of a money balance."""
        self.per_month = f"{self.money} per month"
        """The unit of a money flow."""
        self.payments: dict[str, Payments] = {}
        self._inputs: dict[str, In] = {}
        self._ids: set[str] = set()

    # --- inputs ------------------------------------------------------------------
    def scalar(self, path: str, x: Sourced | float, unit: str | None = None) -> In:
        """Register the scalar input ``path`` (unit: money unless given)."""
        ref = In(self.p.add(path, x, unit or self.money))
        self._inputs[path] = ref
        return ref

    def input(self, path: str) -> In:
        """The scalar input ``path`` an earlier section registered."""
        if path not in self._inputs:
            raise KeyError(f"input {path!r} is not registered before section {self.section!r}")
        return self._inputs[path]

    def years(
        self,
        path: str,
        ys: Mapping[int | str, Sourced],
        *,
        flow: bool,
        spread: Spread,
        unit: str | None = None,
    ) -> Path:
        """A period path (years, quarters or months) as monthly weights (timeline.py)."""
        keys = sorted(ys, key=parse_period_key)
        names = tuple(self.p.add(f"{path}.{k}", ys[k], unit or self.money) for k in keys)
        values = np.array([ys[k].value for k in keys])
        return Path(names, self.tl.period_weights(keys, values, flow=flow, spread=spread))

    # --- items -------------------------------------------------------------------
    def add(self, id: str, label: str, expr: Expr, kind: Kind = "flow", *, unit: str) -> Ref:
        """Define line item ``id`` under the current section's heading."""
        self.items.append(Item(id, label, kind, expr, unit, self.section))
        self._ids.add(id)
        return Ref(id)

    def ref(self, id: str) -> Ref:
        """Line item ``id`` (same month) as an earlier section defined it."""
        if id not in self._ids:
            raise KeyError(f"line item {id!r} is not defined before section {self.section!r}")
        return Ref(id)

    def model(self) -> Model:
        a = self.a
        as_of = -1 if a.opening.as_of is None else self.tl.index_of(a.opening.as_of)
        return Model(
            a.name, self.tl, self.p, self.items, a.unit, a.currency, self.payments, a, as_of
        )


def _facility_id(name: str) -> str:
    return f"facility__{slug(name)}"


def _loan_id(name: str) -> str:
    return f"loan_{slug(name)}"


# --- the sections, in the order build() calls them -----------------------------------------


def _drivers(b: _Builder) -> None:
    """Opening balances, the cash buffer and the milestone paths.

    Inputs ``opening.cash``, ``opening.debt``, ``opening.tax_losses`` and
    ``funding.min_cash`` (money); one item per milestone, ``milestone__<name>``: the
    cumulative units reached by each month, held between the file's points
    (:meth:`~finmodel.timeline.Timeline.point_weights`).
    """
    a, tl = b.a, b.tl
    b.section = "Drivers"
    b.scalar("opening.cash", a.opening.cash)
    b.scalar("opening.debt", a.opening.debt)
    b.scalar("opening.tax_losses", a.opening.tax_losses)
    b.scalar("funding.min_cash", a.funding.min_cash)
    for name, pts in a.milestones.items():
        k = slug(name)
        months = sorted(pts, key=lambda s: month_index(*parse_month(s)))
        names = tuple(b.p.add(f"milestones.{k}.{m}", pts[m], "units") for m in months)
        w = tl.point_weights([month_index(*parse_month(m)) for m in months])
        b.add(f"milestone__{k}", f"Milestone: {name}", Path(names, w), "level", unit="units")


def _revenue(b: _Builder) -> None:
    """Revenue: the file's method (an annual path, a growth path, or users x paying share x
    price) plus market x share per segment, summed into ``revenue_base``, then scaled.

    ``revenue = scale x revenue_base``; with ``growth_scale`` k, ``revenue = scale x B^k x
    (first-year sum of B) / (first-year sum of B^k)`` (B = ``revenue_base``).
    """
    r = b.a.revenue
    b.section = "Revenue"
    parts: list[Expr] = []
    if r.annual is not None:
        path = b.years("revenue.annual", r.annual, flow=True, spread=r.spread)
        parts.append(b.add("revenue_plan", "Revenue (annual path)", path, unit=b.per_month))
    if r.growth is not None:
        parts.append(_revenue_growth_path(b))
    if r.users is not None:
        parts.append(_revenue_subscriptions(b))
    for s in r.segments:
        parts.append(_revenue_segment(b, s))
    base = b.add("revenue_base", "Revenue before scaling", total(parts), unit=b.per_month)
    scale = b.scalar("revenue.scale", r.scale, "factor")
    if r.growth_scale is None:
        b.add("revenue", "Revenue", base * scale, unit=b.per_month)
        return
    k_g = b.scalar("revenue.growth_scale", r.growth_scale, "factor")
    # growth scaled in logs: R_t = c * B_t^k, so every month's (and year's) growth factor
    # is the plan's to the power k, at any granularity; c makes the first twelve months
    # earn scale x the plan's: c = scale * sum B / sum B^k over them
    n1 = min(12, b.tl.T)
    b.add(
        "revenue_base_pow",
        "Revenue before scaling, to the power growth_scale",
        Fn("pow", (fmax(Ref("revenue_base"), 0.0), k_g)),
        unit=f"({b.per_month})^growth_scale",
    )
    first = SumOver("revenue_base", 0, n1)
    first_pow = SumOver("revenue_base_pow", 0, n1)
    none = Fn("gt", (Const(1e-300), first_pow))  # a first year with no revenue: c = 0
    b.add(
        "revenue",
        "Revenue (growth scaled: scale x B^k x first-year B / first-year B^k)",
        scale * Ref("revenue_base_pow") * first / (first_pow + none),
        unit=b.per_month,
    )


def _revenue_growth_path(b: _Builder) -> Ref:
    """The growth method: a run-rate ``L_0 = base`` growing ``(1 + g)^(1/12)`` a month
    (``spread: flat``: by g each January); revenue ``L_t / 12``."""
    growth = b.a.revenue.growth
    assert growth is not None
    tl, T = b.tl, b.tl.T
    base = b.scalar("revenue.growth.base", growth.base)
    gs = growth.spread
    g = b.add(
        "revenue_growth_rate",
        "Revenue growth rate (annual)",
        b.years("revenue.growth.rates", growth.rates, flow=False, spread=gs, unit="rate"),
        "level",
        unit="rate per year",
    )
    if gs == "smooth":
        # compounding monthly from the first month's run-rate ``base``: (1 + g)^(1/12) a
        # month, so twelve months at g give 1 + g
        expo = Series(np.where(np.arange(T) > 0, 1.0 / 12.0, 0.0))
        grow: Expr = Fn("pow", (1.0 + g, expo))
        label = "Revenue run-rate (annual), growing (1 + g)^(1/12) a month"
    else:
        jan = Series(((tl.month_of == 1) & (np.arange(T) > 0)).astype(np.float64))
        grow = 1.0 + g * jan
        label = "Revenue run-rate (annual), growing by g each January"
    per_year = f"{b.money} per year"
    level = b.add(
        "revenue_run_rate", label, Prev("revenue_run_rate", base) * grow, "level", unit=per_year
    )
    return b.add("revenue_growth_path", "Revenue (growth path)", level / 12.0, unit=b.per_month)


def _revenue_subscriptions(b: _Builder) -> Ref:
    """The users method: ``users x paying_share x price x 10^6 / unit`` (users in millions,
    the price in currency per paying user per month); users as a path or an S-curve
    ``ceiling / (1 + exp(-rate (time - midpoint)))`` in decimal years."""
    a, tl = b.a, b.tl
    u = a.revenue.users
    assert u is not None
    if u.count is not None:
        users_expr: Expr = b.years(
            "revenue.users.count", u.count, flow=False, spread=u.spread, unit="million users"
        )
    else:
        assert u.s_curve is not None
        sc = u.s_curve
        ceiling = b.scalar("revenue.users.s_curve.ceiling", sc.ceiling, "million users")
        mid = b.scalar("revenue.users.s_curve.midpoint", sc.midpoint, "decimal year")
        rate = b.scalar("revenue.users.s_curve.rate", sc.rate, "per year")
        time = Series(tl.year_of + (tl.month_of - 0.5) / 12.0)
        users_expr = ceiling / (1.0 + Fn("exp", (-(rate * (time - mid)),)))
    users = b.add("users", "Users (millions)", users_expr, "level", unit="million users")
    share = b.years(
        "revenue.users.paying_share", u.paying_share, flow=False, spread=u.spread, unit="rate"
    )
    paying = b.add("paying_share", "Paying share of users", share, "level", unit="share of users")
    price_unit = f"{a.currency} per user per month"
    price = b.add(
        "price",
        f"Price per paying user per month ({a.currency})",
        b.years("revenue.users.price", u.price, flow=False, spread=u.spread, unit=price_unit),
        "level",
        unit=price_unit,
    )
    to_money = 1e6 / UNIT_MULTIPLIER[a.unit]
    return b.add(
        "revenue_subscriptions",
        "Revenue: subscriptions",
        users * paying * price * to_money,
        unit=b.per_month,
    )


def _revenue_segment(b: _Builder, s: Segment) -> Ref:
    """A segment: its market in the month (a flow) x the company's share of it (a level)."""
    k = slug(s.name)
    market = b.add(
        f"market__{k}",
        f"Market: {s.name} (in the month)",
        b.years(f"revenue.segments.{k}.market", s.market, flow=True, spread=s.spread),
        unit=b.per_month,
    )
    share = b.add(
        f"share__{k}",
        f"Market share: {s.name}",
        b.years(f"revenue.segments.{k}.share", s.share, flow=False, spread=s.spread, unit="rate"),
        "level",
        unit="share of the market",
    )
    return b.add(f"revenue__{k}", f"Revenue: {s.name}", market * share, unit=b.per_month)


COST_LABELS = {
    "cost_of_revenue": "Cost of revenue (non-compute)",
    "compute": "Compute needed",
    "staff": "Staff (cash)",
    "sales_marketing": "Sales and marketing",
    "general_admin": "General and administrative",
    "revenue_share": "Revenue share to partners",
    "stock_comp": "Stock-based compensation (non-cash)",
}


def _costs(b: _Builder) -> None:
    """One item per cost line of the file (:data:`~finmodel.assumptions.schema.COST_LINES`),
    zero when absent: ``(annual path + share of revenue x revenue) x scale``. Compute is
    ``compute_need``, what the business needs; what it pays is ``compute_cost``
    (:func:`_commitments`)."""
    b.section = "Costs and commitments"
    for name in COST_LINES:
        _cost_line(b, name, getattr(b.a.costs, name), COST_LABELS[name])


def _cost_line(b: _Builder, name: str, spec: CostSpec | None, label: str) -> None:
    item_id = "compute_need" if name == "compute" else name
    if spec is None:
        b.add(item_id, label, Const(0.0), unit=b.per_month)
        return
    parts: list[Expr] = []
    base = f"costs.{name}"
    if spec.annual is not None:
        parts.append(b.years(f"{base}.annual", spec.annual, flow=True, spread=spec.spread))
    if spec.share_of_revenue is not None:
        share = b.years(
            f"{base}.share_of_revenue",
            spec.share_of_revenue,
            flow=False,
            spread=spec.spread,
            unit="rate",
        )
        parts.append(share * b.ref("revenue"))
    expr = total(parts)
    if spec.scale.value != 1.0 or spec.scale.source:
        expr = expr * b.scalar(f"{base}.scale", spec.scale, "factor")
    b.add(item_id, label, expr, unit=b.per_month)


def _commitments(b: _Builder) -> None:
    """One item per contract, ``commit__<counterparty>``: its payments in the month
    (:class:`Payments`); take-or-pay ones sum to ``committed_payments``, the others to
    ``committed_nonbinding``. ``compute_cost = max(compute_need, committed_payments)``;
    ``stranded_compute = compute_cost - compute_need`` (paid, not needed)."""
    a, tl = b.a, b.tl
    b.section = "Costs and commitments"
    binding: list[Expr] = []
    nonbinding: list[Expr] = []
    for c in a.commitments:
        k = slug(c.counterparty)
        profile = commitment_profile(c)
        names = tuple(b.p.add(f"commitments.{k}.{s}", given, b.money) for s, given, _ in profile)
        months = sorted({m for _, _, w in profile for m in w})
        first = months[0] if months else tl.first
        weights = np.zeros((len(names), months[-1] - first + 1 if months else 0))
        for row, (_, _, w) in zip(weights, profile, strict=True):
            for m, x in w.items():
                row[m - first] = x
        pay = b.payments[k] = Payments(Path(names, weights), first)
        tag = "take-or-pay" if c.take_or_pay else "not binding"
        ref = b.add(
            f"commit__{k}",
            f"Commitment: {c.counterparty} ({tag})",
            pay.within(tl),
            unit=b.per_month,
        )
        (binding if c.take_or_pay else nonbinding).append(ref)
    committed = b.add(
        "committed_payments",
        "Committed payments (take-or-pay)",
        total(binding),
        unit=b.per_month,
    )
    b.add(
        "committed_nonbinding",
        "Commitments not binding (paid only if needed)",
        total(nonbinding),
        unit=b.per_month,
    )
    need = b.ref("compute_need")
    compute_cost = b.add(
        "compute_cost",
        "Compute cost = max(need, committed)",
        fmax(need, committed),
        unit=b.per_month,
    )
    b.add(
        "stranded_compute",
        "Stranded compute (paid, not needed)",
        compute_cost - need,
        unit=b.per_month,
    )


def _capex(b: _Builder) -> None:
    """``capex``: the file's capital expenditure path (zero without one); ``depreciation``:
    straight line over ``life_years``, the sum of the last ``12 x life_years`` months' capex
    divided by that many months."""
    b.section = "Capital expenditure"
    spec = b.a.costs.capex
    if spec is None:
        b.add("capex", "Capital expenditure", Const(0.0), unit=b.per_month)
        b.add("depreciation", "Depreciation", Const(0.0), unit=b.per_month)
        return
    b.add(
        "capex",
        "Capital expenditure",
        b.years("costs.capex.annual", spec.annual, flow=True, spread=spec.spread),
        unit=b.per_month,
    )
    life = spec.life_years * 12
    b.add(
        "depreciation",
        f"Depreciation (straight line, {spec.life_years} years)",
        CumSum("capex", life) / float(life),
        unit=b.per_month,
    )


def _financing_terms(b: _Builder) -> None:
    """The terms of the money borrowed, as inputs: each credit facility's annual rate and
    limit (``funding.facilities.<name>.rate``, ``.limit``) and each loan's annual rate
    (``funding.inflows.<name>.rate``). The interest they charge is in the profit and loss
    (:func:`_profit_and_loss`); the facilities are drawn in :func:`_facilities`, the loans
    arrive in :func:`_cash_flow`."""
    a = b.a
    for fac in a.funding.facilities:
        b.scalar(f"funding.facilities.{slug(fac.name)}.rate", fac.rate, "rate per year")
    for fac in a.funding.facilities:
        b.scalar(f"funding.facilities.{slug(fac.name)}.limit", fac.limit)
    for loan in a.funding.inflows:
        if loan.kind == "debt" and loan.rate is not None:
            b.scalar(f"funding.inflows.{slug(loan.name)}.rate", loan.rate, "rate per year")


def _profit_and_loss(b: _Builder) -> None:
    """Operating profit down to pre-tax income.

    ``cash_costs`` = cost of revenue + compute cost + staff + sales and marketing + general
    and administrative + revenue share; ``ebitda = revenue - cash_costs - stock_comp``;
    ``ebit = ebitda - depreciation``; ``interest`` = sum over facilities and loans of
    ``rate / 12 x`` last month's balance; ``pretax_income = ebit - interest``.
    """
    a = b.a
    b.section = "Profit and loss"
    cost = {n: b.ref("compute_need" if n == "compute" else n) for n in COST_LINES}
    opex_cash = b.add(
        "cash_costs",
        "Cash operating costs",
        cost["cost_of_revenue"]
        + b.ref("compute_cost")
        + cost["staff"]
        + cost["sales_marketing"]
        + cost["general_admin"]
        + cost["revenue_share"],
        unit=b.per_month,
    )
    ebitda = b.add(
        "ebitda", "EBITDA", b.ref("revenue") - opex_cash - cost["stock_comp"], unit=b.per_month
    )
    ebit = b.add(
        "ebit", "Operating income (EBIT)", ebitda - b.ref("depreciation"), unit=b.per_month
    )
    on_facilities = [
        b.input(f"funding.facilities.{slug(f.name)}.rate")
        / 12.0
        * Prev(_facility_id(f.name), Const(0.0))
        for f in a.funding.facilities
    ]
    on_loans = [
        b.input(f"funding.inflows.{slug(f.name)}.rate") / 12.0 * Prev(_loan_id(f.name), Const(0.0))
        for f in a.funding.inflows
        if f.kind == "debt" and f.rate is not None
    ]
    interest = b.add(
        "interest",
        "Interest on facilities and loans (on last month's balance)",
        total(on_facilities + on_loans),
        unit=b.per_month,
    )
    b.add("pretax_income", "Pre-tax income", ebit - interest, unit=b.per_month)


def _tax(b: _Builder) -> None:
    """Tax on positive income with losses carried forward (docs/methodology.md, "Tax").

    Losses of earlier tax years offset at most ``loss_offset_limit`` of a month's income
    left after this year's own losses, which net in full, as under an annual return; at each
    January this year's losses join the earlier ones. ``tax = tax_rate x taxable_income``.
    """
    a, tl, T = b.a, b.tl, b.tl.T
    b.section = "Profit and loss"
    pti = b.ref("pretax_income")
    opening_losses = b.input("opening.tax_losses")
    tax_rate = b.scalar("costs.tax_rate", a.costs.tax_rate, "rate")
    limit = b.scalar("costs.loss_offset_limit", a.costs.loss_offset_limit, "share of income")
    new_year = (tl.month_of == 1) | (np.arange(T) == 0)
    start = b.add(
        "tax_year_start",
        "First month of a tax year or of the projection (1 = yes)",
        Series(new_year.astype(np.float64)),
        "flag",
        unit=FLAG,
    )
    prior_bop = b.add(
        "tax_losses_prior_bop",
        "Tax losses of earlier years (start of month)",
        start * Prev("tax_losses_eop", opening_losses)
        + (1.0 - start) * Prev("tax_losses_prior_eop", opening_losses),
        "balance",
        unit=b.money,
    )
    year_bop = b.add(
        "tax_losses_year_bop",
        "Tax losses of this year so far (start of month)",
        (1.0 - start) * Prev("tax_losses_year_eop", Const(0.0)),
        "balance",
        unit=b.money,
    )
    b.add(
        "tax_losses_bop",
        "Tax losses carried forward (start of month)",
        prior_bop + year_bop,
        "balance",
        unit=b.money,
    )
    income = b.add("pretax_profit", "Pre-tax income if positive", fmax(0.0, pti), unit=b.per_month)
    used_year = b.add(
        "tax_losses_used_year",
        "Losses used: this year's (in full)",
        fmin(year_bop, income),
        unit=b.per_month,
    )
    left = income - used_year
    used_prior = b.add(
        "tax_losses_used_prior",
        "Losses used: earlier years' (at most the limit x income left)",
        fmin(prior_bop, limit * left, left),
        unit=b.per_month,
    )
    taxable = b.add(
        "taxable_income",
        "Taxable income after losses",
        income - used_year - used_prior,
        unit=b.per_month,
    )
    year_eop = b.add(
        "tax_losses_year_eop",
        "Tax losses of this year so far (end of month)",
        year_bop - used_year + fmax(0.0, -pti),
        "balance",
        unit=b.money,
    )
    prior_eop = b.add(
        "tax_losses_prior_eop",
        "Tax losses of earlier years (end of month)",
        prior_bop - used_prior,
        "balance",
        unit=b.money,
    )
    b.add(
        "tax_losses_eop",
        "Tax losses carried forward (end of month)",
        year_eop + prior_eop,
        "balance",
        unit=b.money,
    )
    b.add("tax", "Tax", tax_rate * taxable, unit=b.per_month)


def _net_income(b: _Builder) -> None:
    """``net_income = pretax_income - tax``; excluding stock-based compensation,
    ``net_income + stock_comp``; the net losses are their negatives."""
    b.section = "Profit and loss"
    ni = b.add("net_income", "Net income", b.ref("pretax_income") - b.ref("tax"), unit=b.per_month)
    ni_x = b.add(
        "net_income_ex_sbc",
        "Net income excluding stock-based compensation",
        ni + b.ref("stock_comp"),
        unit=b.per_month,
    )
    b.add("net_loss", "Net loss (= -net income)", -ni, unit=b.per_month)
    b.add(
        "net_loss_ex_sbc",
        "Net loss excluding stock-based compensation",
        -ni_x,
        unit=b.per_month,
    )


def _cash_flow(b: _Builder) -> None:
    """Free cash flow, committed inflows and cash before the facilities.

    ``free_cash_flow = revenue - cash_costs - tax - capex``; ``burn`` its negative. Each
    inflow arrives at its date, or ``per_unit`` for each whole unit its milestone reaches
    (at most ``amount`` in all); a loan's balance is what has arrived, repaid in one bullet
    at ``repay``. ``committed_inflows`` = the inflows less loan repayments;
    ``cash_before_facilities`` = last month's ``cash_unfunded`` (the opening cash in the
    first month) + free cash flow + committed inflows - interest.
    """
    a = b.a
    b.section = "Cash flow and funding"
    fcf = b.add(
        "free_cash_flow",
        "Free cash flow",
        b.ref("revenue") - b.ref("cash_costs") - b.ref("tax") - b.ref("capex"),
        unit=b.per_month,
    )
    b.add("burn", "Burn (= -free cash flow)", -fcf, unit=b.per_month)
    by_kind: dict[str, list[Expr]] = {}
    repayments: list[Expr] = []
    for f in a.funding.inflows:
        ref = _inflow(b, f)
        by_kind.setdefault(f.kind, []).append(ref)
        if f.kind == "debt":
            repayment = _loan(b, f, ref)
            if repayment is not None:
                repayments.append(repayment)
    kind_refs = [
        b.add(
            f"inflows_{kind}",
            f"Inflows: {KIND_LABELS[kind]}",
            total(by_kind[kind]),
            unit=b.per_month,
        )
        for kind in INFLOW_KINDS
        if kind in by_kind
    ]
    gross = total(kind_refs)
    if repayments:
        repaid = b.add("loan_repayments", "Loan repayments", total(repayments), unit=b.per_month)
        inflows = b.add(
            "committed_inflows",
            "Committed inflows (net of loan repayments)",
            gross - repaid,
            unit=b.per_month,
        )
    else:
        inflows = b.add("committed_inflows", "Committed inflows", gross, unit=b.per_month)
    b.add(
        "cash_before_facilities",
        "Cash before facility draws",
        Prev("cash_unfunded", b.input("opening.cash")) + fcf + inflows - b.ref("interest"),
        "balance",
        unit=b.money,
    )


def _inflow(b: _Builder, f: Inflow) -> Ref:
    """Inflow ``f``: its amount in the month of its date, or ``min(amount, per_unit x
    floor(m_t)) - min(amount, per_unit x floor(m_{t-1}))`` for milestone path m."""
    tl, T = b.tl, b.tl.T
    k = slug(f.name)
    amount = b.scalar(f"funding.inflows.{k}.amount", f.amount)
    expr: Expr
    if f.date is not None:
        w = np.zeros((1, T))
        w[0, tl.index_of(f.date)] = 1.0  # within the horizon: checked by the schema
        expr = Path((amount.name,), w)
    else:
        assert f.milestone is not None and f.per_unit is not None
        per = b.scalar(f"funding.inflows.{k}.per_unit", f.per_unit)
        mref = b.ref(f"milestone__{slug(f.milestone)}")
        reached = fmin(amount, per * Fn("floor", (mref,)))
        before = fmin(amount, per * Fn("floor", (Prev(mref.item, Const(0.0)),)))
        expr = reached - before
    label = f"Inflow: {f.name} ({KIND_LABELS[f.kind]})"
    return b.add(f"inflow__{k}", label, expr, unit=b.per_month)


def _loan(b: _Builder, f: Inflow, inflow: Ref) -> Ref | None:
    """A debt inflow's balance, what has arrived until the month ``repay`` (0 from then on),
    and its repayment in that month, last month's balance (a bullet; None when it is not
    repaid within the horizon)."""
    T = b.tl.T
    t_idx = np.arange(T)
    due = T if f.repay is None else b.tl.index_of(f.repay)  # may lie beyond the horizon
    owed: Expr = CumSum(inflow.item, T)
    if due < T:
        owed = owed * Series((t_idx < due).astype(np.float64))
    bal = b.add(_loan_id(f.name), f"Loan outstanding: {f.name}", owed, "balance", unit=b.money)
    if due >= T:
        return None
    return b.add(
        f"loan_repayment_{slug(f.name)}",
        f"Loan repaid: {f.name} ({f.repay}, bullet)",
        Series((t_idx == due).astype(np.float64)) * Prev(bal.item, Const(0.0)),
        unit=b.per_month,
    )


def _facilities(b: _Builder) -> None:
    """Credit facilities drawn to keep cash at the buffer, in the file's order, each up to
    its limit: ``facility_demand = max(0, last month's drawn balance + min_cash -
    cash_before_facilities)``; facility i holds ``min(limit_i, max(0, demand - drawn on the
    facilities before it))``; ``facility_draws`` = the change of the total drawn."""
    a = b.a
    b.section = "Cash flow and funding"
    facilities = a.funding.facilities
    if not facilities:
        b.add("facility_draws", "Net facility draws", Const(0.0), unit=b.per_month)
        return
    demand = b.add(
        "facility_demand",
        "Facility balance wanted to keep the buffer",
        fmax(
            0.0,
            Prev("facility_balance", Const(0.0))
            + b.input("funding.min_cash")
            - b.ref("cash_before_facilities"),
        ),
        "balance",
        unit=b.money,
    )
    taken: list[Expr] = []
    for f in facilities:
        lim = b.input(f"funding.facilities.{slug(f.name)}.limit")
        bal = b.add(
            _facility_id(f.name),
            f"Facility drawn: {f.name}",
            fmin(lim, fmax(0.0, demand - total(taken))),
            "balance",
            unit=b.money,
        )
        taken.append(bal)
    fac_bal = b.add(
        "facility_balance", "Facilities drawn (total)", total(taken), "balance", unit=b.money
    )
    b.add(
        "facility_draws",
        "Net facility draws (repayments negative)",
        fac_bal - Prev("facility_balance", Const(0.0)),
        unit=b.per_month,
    )


def _funding_need(b: _Builder) -> None:
    """Cash with no new money and the least new money that keeps it at the buffer.

    ``cash_unfunded`` (U) = cash before facilities + facility draws; ``debt`` = opening debt
    + facilities drawn + loans outstanding; ``below_buffer`` = 1 when U < min_cash -
    :data:`CASH_TOL`; ``funding_need_cumulative`` N_t = max(N_{t-1}, min_cash - U_t) (N_{-1}
    = 0); ``funding_need`` = N_t - N_{t-1}; ``cash = U + N``.
    """
    a = b.a
    b.section = "Cash flow and funding"
    min_cash = b.input("funding.min_cash")
    unfunded = b.add(
        "cash_unfunded",
        "Cash with no new money (U)",
        b.ref("cash_before_facilities") + b.ref("facility_draws"),
        "balance",
        unit=b.money,
    )
    b.add(
        "debt",
        "Debt: opening debt + facilities drawn + loans outstanding",
        total(
            [
                b.input("opening.debt"),
                *([b.ref("facility_balance")] if a.funding.facilities else []),
                *(b.ref(_loan_id(f.name)) for f in a.funding.inflows if f.kind == "debt"),
            ]
        ),
        "balance",
        unit=b.money,
    )
    b.add(
        "below_buffer",
        "Cash below the buffer (1 = yes)",
        Fn("lt", (unfunded, min_cash - CASH_TOL)),
        "flag",
        unit=FLAG,
    )
    need_cum = b.add(
        "funding_need_cumulative",
        "Cumulative funding need (N)",
        fmax(Prev("funding_need_cumulative", Const(0.0)), min_cash - unfunded),
        "balance",
        unit=b.money,
    )
    b.add(
        "funding_need",
        "New funding needed this month",
        need_cum - Prev("funding_need_cumulative", Const(0.0)),
        unit=b.per_month,
    )
    b.add(
        "cash",
        "Cash if the need is raised just in time",
        unfunded + need_cum,
        "balance",
        unit=b.money,
    )


def _valuation(b: _Builder) -> None:
    """DCF as line items, so the sheet and the engine share them (docs/methodology.md); none
    without a ``valuation:`` section.

    Discount factor ``(1 + r)^-tau_t`` for months after the valuation date (tau in years to
    mid-month, or month end without mid-period, :func:`discount_years`); terminal value at
    the last month from the last twelve months; their present values sum to the enterprise
    value. The present values of free cash flow before take-or-pay payments and of those
    payments, over the same months, give the commitment coverage.
    """
    v = b.a.valuation
    if v is None:
        return
    tl = b.tl
    b.section = "Valuation"
    r = b.scalar("valuation.discount_rate", v.discount_rate, "rate per year")
    d = tl.index_of(v.date)  # valuation at the end of month d (may be -1: before the start)
    t = np.arange(tl.T, dtype=np.float64)
    after = (t > d).astype(np.float64)
    tau = np.where(t > d, discount_years(t - d, v.mid_period), 0.0)
    df = b.add(
        "discount_factor",
        "Discount factor to the valuation date",
        Series(after) * Fn("pow", (1.0 + r, -Series(tau))),
        "level",
        unit="factor",
    )
    fcf = b.ref("free_cash_flow")
    b.add("pv_free_cash_flow", "Present value of free cash flow", fcf * df, unit=b.per_month)
    committed = b.ref("committed_payments")
    b.add(
        "pv_fcf_before_commitments",
        "Present value of free cash flow before take-or-pay payments",
        (fcf + committed) * df,
        unit=b.per_month,
    )
    b.add(
        "pv_take_or_pay",
        "Present value of take-or-pay payments",
        committed * df,
        unit=b.per_month,
    )
    per_year = f"{b.money} per year"
    ltm_fcf = b.add(
        "ltm_free_cash_flow",
        "Free cash flow, last twelve months",
        CumSum(b.ref("free_cash_flow").item, 12),
        "balance",
        unit=per_year,
    )
    ltm_rev = b.add(
        "ltm_revenue",
        "Revenue, last twelve months",
        CumSum(b.ref("revenue").item, 12),
        "balance",
        unit=per_year,
    )
    ltm_ebitda = b.add(
        "ltm_ebitda",
        "EBITDA, last twelve months",
        CumSum(b.ref("ebitda").item, 12),
        "balance",
        unit=per_year,
    )
    end = Series((t == tl.T - 1).astype(np.float64))
    term = v.terminal
    if term.method == "growth":
        assert term.growth is not None
        g = b.scalar("valuation.terminal.growth", term.growth, "rate per year")
        tv: Expr = ltm_fcf * (1.0 + g) / (r - g)
        label = "Terminal value: next year's FCF / (r - g)"
    else:
        assert term.multiple is not None
        m = b.scalar("valuation.terminal.multiple", term.multiple, "multiple")
        tv = m * (ltm_rev if term.of == "revenue" else ltm_ebitda)
        label = f"Terminal value: multiple x last twelve months' {term.of}"
    b.add("terminal_value", label, end * tv, "balance", unit=b.money)
    tau_end = float(tl.T - 1 - d) / 12.0
    b.add(
        "pv_terminal_value",
        "Present value of the terminal value",
        Ref("terminal_value") * Fn("pow", (1.0 + r, Const(-tau_end))),
        unit=b.per_month,
    )


SECTIONS: tuple[Callable[[_Builder], None], ...] = (
    _drivers,
    _revenue,
    _costs,
    _commitments,
    _capex,
    _financing_terms,
    _profit_and_loss,
    _tax,
    _net_income,
    _cash_flow,
    _facilities,
    _funding_need,
    _valuation,
)
"""The sections of a model in the order :func:`build` calls them: the order of the Calc
sheet's rows and of the Inputs sheet's (docs/architecture.md, "Where a line item goes")."""


def build(a: Assumptions) -> Model:
    """Build the line items of scenario ``a``, one section after another (:data:`SECTIONS`;
    docs/methodology.md gives each equation). The file's ``adjust:`` section is not applied
    here: :func:`finmodel.analysis.arguments.model_of` builds and then adjusts."""
    b = _Builder(a)
    for section in SECTIONS:
        section(b)
    return b.model()
