"""The line items of a projection, each defined once as an expression.

:func:`build` turns validated assumptions into a :class:`Model`: the registry of scalar
inputs (the workbook's Inputs sheet) and the ordered list of line items (the rows of the
workbook's Calc sheet). The numpy evaluator and the workbook writer both read this list;
no equation exists anywhere else.

Signs: revenue, costs and inflows are positive numbers; free cash flow, net income and
cash are signed. Money is in the scenario's unit per month.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from os import PathLike
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
from finmodel.errors import AssumptionError
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


@dataclass(frozen=True)
class Item:
    """A line item: identifier, label, how it rolls up to years, and its definition.

    ``kind``: ``flow`` (annual = sum of months), ``balance`` (annual = last month of the
    year), ``level`` (annual = average of months), ``flag`` (1/0; annual = months flagged).
    """

    id: str
    label: str
    kind: Kind
    expr: Expr
    section: str = ""


@dataclass
class Model:
    """A scenario's inputs and line items over its timeline."""

    scenario: str
    timeline: Timeline
    params: Params
    items: list[Item] = field(default_factory=list)
    unit: str = "billion"
    currency: str = "USD"
    commitment_amounts: dict[str, list[str]] = field(default_factory=dict)
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
    def __init__(self, a: Assumptions) -> None:
        self.a = a
        self.tl = Timeline(a.start, a.end)
        self.p = Params()
        self.items: list[Item] = []
        self.section = ""
        self.money = f"{a.currency} {a.unit}"

    # --- inputs ------------------------------------------------------------------
    def scalar(self, path: str, x: Sourced | float, unit: str | None = None) -> In:
        return In(self.p.add(path, x, unit or self.money))

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
    def add(self, id: str, label: str, expr: Expr, kind: Kind = "flow") -> Ref:
        self.items.append(Item(id, label, kind, expr, self.section))
        return Ref(id)

    def cost(self, name: str, spec: CostSpec | None, revenue: Ref, label: str) -> Ref:
        """Cost line ``name`` of the file; its item id is ``compute_need`` for compute."""
        item_id = "compute_need" if name == "compute" else name
        if spec is None:
            return self.add(item_id, label, Const(0.0))
        parts: list[Expr] = []
        base = f"costs.{name}"
        if spec.annual is not None:
            parts.append(self.years(f"{base}.annual", spec.annual, flow=True, spread=spec.spread))
        if spec.share_of_revenue is not None:
            share = self.years(
                f"{base}.share_of_revenue",
                spec.share_of_revenue,
                flow=False,
                spread=spec.spread,
                unit="rate",
            )
            parts.append(share * revenue)
        expr = total(parts)
        if spec.scale.value != 1.0 or spec.scale.source:
            expr = expr * self.scalar(f"{base}.scale", spec.scale, "factor")
        return self.add(item_id, label, expr)


def build(a: Assumptions) -> Model:
    """Build the line items of scenario ``a`` (see docs/methodology.md for each equation)."""
    b = _Builder(a)
    tl = b.tl
    T = tl.T

    # ---- opening and funding scalars
    b.section = "Opening"
    opening_cash = b.scalar("opening.cash", a.opening.cash)
    opening_debt = b.scalar("opening.debt", a.opening.debt)
    opening_losses = b.scalar("opening.tax_losses", a.opening.tax_losses)
    min_cash = b.scalar("funding.min_cash", a.funding.min_cash)

    # ---- revenue
    b.section = "Revenue"
    r = a.revenue
    rev_parts: list[Expr] = []
    if r.annual is not None:
        rev_parts.append(
            b.add(
                "revenue_plan",
                "Revenue (annual path)",
                b.years("revenue.annual", r.annual, flow=True, spread=r.spread),
            )
        )
    if r.growth is not None:
        base = b.scalar("revenue.growth.base", r.growth.base)
        gs = r.growth.spread
        g = b.add(
            "revenue_growth_rate",
            "Revenue growth rate (annual)",
            b.years("revenue.growth.rates", r.growth.rates, flow=False, spread=gs, unit="rate"),
            "level",
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
        level = b.add("revenue_run_rate", label, Prev("revenue_run_rate", base) * grow, "level")
        rev_parts.append(b.add("revenue_growth_path", "Revenue (growth path)", level / 12.0))
    if r.users is not None:
        u = r.users
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
        users = b.add("users", "Users (millions)", users_expr, "level")
        paying = b.add(
            "paying_share",
            "Paying share of users",
            b.years(
                "revenue.users.paying_share",
                u.paying_share,
                flow=False,
                spread=u.spread,
                unit="rate",
            ),
            "level",
        )
        price = b.add(
            "price",
            f"Price per paying user per month ({a.currency})",
            b.years(
                "revenue.users.price",
                u.price,
                flow=False,
                spread=u.spread,
                unit=f"{a.currency} per user per month",
            ),
            "level",
        )
        to_money = 1e6 / UNIT_MULTIPLIER[a.unit]
        rev_parts.append(
            b.add(
                "revenue_subscriptions", "Revenue: subscriptions", users * paying * price * to_money
            )
        )
    for s in r.segments:
        k = slug(s.name)
        market = b.add(
            f"market__{k}",
            f"Market: {s.name} (in the month)",
            b.years(f"revenue.segments.{k}.market", s.market, flow=True, spread=s.spread),
        )
        share = b.add(
            f"share__{k}",
            f"Market share: {s.name}",
            b.years(
                f"revenue.segments.{k}.share", s.share, flow=False, spread=s.spread, unit="rate"
            ),
            "level",
        )
        rev_parts.append(b.add(f"revenue__{k}", f"Revenue: {s.name}", market * share))
    rev_base = b.add("revenue_base", "Revenue before scaling", total(rev_parts))
    scale = b.scalar("revenue.scale", r.scale, "factor")
    if r.growth_scale is None:
        revenue = b.add("revenue", "Revenue", rev_base * scale)
    else:
        k_g = b.scalar("revenue.growth_scale", r.growth_scale, "factor")
        # growth scaled in logs: R_t = c * B_t^k, so every month's (and year's) growth factor
        # is the plan's to the power k, at any granularity; c makes the first twelve months
        # earn scale x the plan's: c = scale * sum B / sum B^k over them
        n1 = min(12, T)
        b.add(
            "revenue_base_pow",
            "Revenue before scaling, to the power growth_scale",
            Fn("pow", (fmax(Ref("revenue_base"), 0.0), k_g)),
        )
        first = SumOver("revenue_base", 0, n1)
        first_pow = SumOver("revenue_base_pow", 0, n1)
        none = Fn("gt", (Const(1e-300), first_pow))  # a first year with no revenue: c = 0
        revenue = b.add(
            "revenue",
            "Revenue (growth scaled: scale x B^k x first-year B / first-year B^k)",
            scale * Ref("revenue_base_pow") * first / (first_pow + none),
        )

    # ---- costs
    b.section = "Costs"
    labels = {
        "cost_of_revenue": "Cost of revenue (non-compute)",
        "compute": "Compute needed",
        "staff": "Staff (cash)",
        "sales_marketing": "Sales and marketing",
        "general_admin": "General and administrative",
        "revenue_share": "Revenue share to partners",
        "stock_comp": "Stock-based compensation (non-cash)",
    }
    cost = {n: b.cost(n, getattr(a.costs, n), revenue, labels[n]) for n in COST_LINES}

    # ---- commitments
    b.section = "Commitments"
    binding: list[Expr] = []
    nonbinding: list[Expr] = []
    amounts: dict[str, list[str]] = {}
    for c in a.commitments:
        k = slug(c.counterparty)
        names_w: list[str] = []
        rows: list[FloatArray] = []
        for suffix, given, weights in commitment_profile(c):
            names_w.append(b.p.add(f"commitments.{k}.{suffix}", given, b.money))
            row = np.zeros(T)
            for mi, wt in weights.items():
                if 0 <= mi - tl.first < T:
                    row[mi - tl.first] = wt
            rows.append(row)
        expr: Expr = Path(tuple(names_w), np.array(rows))
        amounts[k] = names_w
        tag = "take-or-pay" if c.take_or_pay else "not binding"
        ref = b.add(f"commit__{k}", f"Commitment: {c.counterparty} ({tag})", expr)
        (binding if c.take_or_pay else nonbinding).append(ref)
    committed = b.add("committed_payments", "Committed payments (take-or-pay)", total(binding))
    b.add(
        "committed_nonbinding", "Commitments not binding (paid only if needed)", total(nonbinding)
    )
    compute_cost = b.add(
        "compute_cost", "Compute cost = max(need, committed)", fmax(cost["compute"], committed)
    )
    b.add("stranded_compute", "Stranded compute (paid, not needed)", compute_cost - cost["compute"])

    # ---- capital expenditure
    capex_spec = a.costs.capex
    if capex_spec is not None:
        capex = b.add(
            "capex",
            "Capital expenditure",
            b.years("costs.capex.annual", capex_spec.annual, flow=True, spread=capex_spec.spread),
        )
        life = capex_spec.life_years * 12
        dep = b.add(
            "depreciation",
            f"Depreciation (straight line, {capex_spec.life_years} years)",
            CumSum("capex", life) / float(life),
        )
    else:
        capex = b.add("capex", "Capital expenditure", Const(0.0))
        dep = b.add("depreciation", "Depreciation", Const(0.0))

    # ---- profit and loss
    b.section = "Profit and loss"
    opex_cash = b.add(
        "cash_costs",
        "Cash operating costs",
        cost["cost_of_revenue"]
        + compute_cost
        + cost["staff"]
        + cost["sales_marketing"]
        + cost["general_admin"]
        + cost["revenue_share"],
    )
    ebitda = b.add("ebitda", "EBITDA", revenue - opex_cash - cost["stock_comp"])
    ebit = b.add("ebit", "Operating income (EBIT)", ebitda - dep)
    facilities = a.funding.facilities
    fac_ids = [f"facility__{slug(f.name)}" for f in facilities]
    rates = [
        b.scalar(f"funding.facilities.{slug(f.name)}.rate", f.rate, "rate per year")
        for f in facilities
    ]
    limits = [b.scalar(f"funding.facilities.{slug(f.name)}.limit", f.limit) for f in facilities]
    loan_rates = {
        slug(f.name): b.scalar(f"funding.inflows.{slug(f.name)}.rate", f.rate, "rate per year")
        for f in a.funding.inflows
        if f.kind == "debt" and f.rate is not None
    }
    interest = b.add(
        "interest",
        "Interest on facilities and loans (on last month's balance)",
        total(
            [rt / 12.0 * Prev(fid, Const(0.0)) for rt, fid in zip(rates, fac_ids, strict=True)]
            + [rt / 12.0 * Prev(f"loan_{k}", Const(0.0)) for k, rt in loan_rates.items()]
        ),
    )
    pti = b.add("pretax_income", "Pre-tax income", ebit - interest)
    tax_rate = b.scalar("costs.tax_rate", a.costs.tax_rate, "rate")
    limit = b.scalar("costs.loss_offset_limit", a.costs.loss_offset_limit, "share of income")
    # Losses carried forward (docs/methodology.md, "Tax"): losses of earlier tax years offset
    # at most ``limit`` of a month's income left after this year's own losses, which net in
    # full, as under an annual return; at each January this year's losses join the earlier.
    new_year = (tl.month_of == 1) | (np.arange(T) == 0)
    start = b.add(
        "tax_year_start",
        "First month of a tax year or of the projection (1 = yes)",
        Series(new_year.astype(np.float64)),
        "flag",
    )
    prior_bop = b.add(
        "tax_losses_prior_bop",
        "Tax losses of earlier years (start of month)",
        start * Prev("tax_losses_eop", opening_losses)
        + (1.0 - start) * Prev("tax_losses_prior_eop", opening_losses),
        "balance",
    )
    year_bop = b.add(
        "tax_losses_year_bop",
        "Tax losses of this year so far (start of month)",
        (1.0 - start) * Prev("tax_losses_year_eop", Const(0.0)),
        "balance",
    )
    b.add(
        "tax_losses_bop",
        "Tax losses carried forward (start of month)",
        prior_bop + year_bop,
        "balance",
    )
    income = b.add("pretax_profit", "Pre-tax income if positive", fmax(0.0, pti))
    used_year = b.add(
        "tax_losses_used_year", "Losses used: this year's (in full)", fmin(year_bop, income)
    )
    left = income - used_year
    used_prior = b.add(
        "tax_losses_used_prior",
        "Losses used: earlier years' (at most the limit x income left)",
        fmin(prior_bop, limit * left, left),
    )
    taxable = b.add(
        "taxable_income", "Taxable income after losses", income - used_year - used_prior
    )
    year_eop = b.add(
        "tax_losses_year_eop",
        "Tax losses of this year so far (end of month)",
        year_bop - used_year + fmax(0.0, -pti),
        "balance",
    )
    prior_eop = b.add(
        "tax_losses_prior_eop",
        "Tax losses of earlier years (end of month)",
        prior_bop - used_prior,
        "balance",
    )
    b.add(
        "tax_losses_eop",
        "Tax losses carried forward (end of month)",
        year_eop + prior_eop,
        "balance",
    )
    tax = b.add("tax", "Tax", tax_rate * taxable)
    ni = b.add("net_income", "Net income", pti - tax)
    ni_x = b.add(
        "net_income_ex_sbc",
        "Net income excluding stock-based compensation",
        ni + cost["stock_comp"],
    )
    b.add("net_loss", "Net loss (= -net income)", -ni)
    b.add("net_loss_ex_sbc", "Net loss excluding stock-based compensation", -ni_x)

    # ---- cash flow
    b.section = "Cash flow"
    fcf = b.add("free_cash_flow", "Free cash flow", revenue - opex_cash - tax - capex)
    b.add("burn", "Burn (= -free cash flow)", -fcf)
    by_kind: dict[str, list[Expr]] = {}
    loans: list[Ref] = []
    repayments: list[Expr] = []
    t_idx = np.arange(T)
    for f in a.funding.inflows:
        k = slug(f.name)
        amount = b.scalar(f"funding.inflows.{k}.amount", f.amount)
        if f.date is not None:
            w = np.zeros((1, T))
            w[0, tl.index_of(f.date)] = 1.0  # within the horizon: checked by the schema
            expr = Path((amount.name,), w)
        else:
            assert f.milestone is not None and f.per_unit is not None
            per = b.scalar(f"funding.inflows.{k}.per_unit", f.per_unit)
            mref = Ref(f"milestone__{slug(f.milestone)}")
            reached = fmin(amount, per * Fn("floor", (mref,)))
            before = fmin(amount, per * Fn("floor", (Prev(mref.item, Const(0.0)),)))
            expr = reached - before
        ref = b.add(f"inflow__{k}", f"Inflow: {f.name} ({KIND_LABELS[f.kind]})", expr)
        by_kind.setdefault(f.kind, []).append(ref)
        if f.kind == "debt":
            due = T if f.repay is None else tl.index_of(f.repay)  # may lie beyond the horizon
            owed: Expr = CumSum(ref.item, T)
            if due < T:
                owed = owed * Series((t_idx < due).astype(np.float64))
            bal = b.add(f"loan_{k}", f"Loan outstanding: {f.name}", owed, "balance")
            loans.append(bal)
            if due < T:
                repayments.append(
                    b.add(
                        f"loan_repayment_{k}",
                        f"Loan repaid: {f.name} ({f.repay}, bullet)",
                        Series((t_idx == due).astype(np.float64)) * Prev(bal.item, Const(0.0)),
                    )
                )
    kind_refs = [
        b.add(f"inflows_{kind}", f"Inflows: {KIND_LABELS[kind]}", total(by_kind[kind]))
        for kind in INFLOW_KINDS
        if kind in by_kind
    ]
    gross = total(kind_refs)
    if repayments:
        repaid = b.add("loan_repayments", "Loan repayments", total(repayments))
        inflows = b.add(
            "committed_inflows", "Committed inflows (net of loan repayments)", gross - repaid
        )
    else:
        inflows = b.add("committed_inflows", "Committed inflows", gross)
    cash_pre = b.add(
        "cash_before_facilities",
        "Cash before facility draws",
        Prev("cash_unfunded", opening_cash) + fcf + inflows - interest,
        "balance",
    )
    if facilities:
        demand = b.add(
            "facility_demand",
            "Facility balance wanted to keep the buffer",
            fmax(0.0, Prev("facility_balance", Const(0.0)) + min_cash - cash_pre),
            "balance",
        )
        taken: list[Expr] = []
        for fid, lim, fac in zip(fac_ids, limits, facilities, strict=True):
            bal = b.add(
                fid,
                f"Facility drawn: {fac.name}",
                fmin(lim, fmax(0.0, demand - total(taken))),
                "balance",
            )
            taken.append(bal)
        fac_bal = b.add("facility_balance", "Facilities drawn (total)", total(taken), "balance")
        draws = b.add(
            "facility_draws",
            "Net facility draws (repayments negative)",
            fac_bal - Prev("facility_balance", Const(0.0)),
        )
    else:
        draws = b.add("facility_draws", "Net facility draws", Const(0.0))
    unfunded = b.add("cash_unfunded", "Cash with no new money (U)", cash_pre + draws, "balance")
    b.add(
        "debt",
        "Debt: opening debt + facilities drawn + loans outstanding",
        total(
            [
                opening_debt,
                *([Ref("facility_balance")] if facilities else []),
                *loans,
            ]
        ),
        "balance",
    )
    b.add(
        "below_buffer",
        "Cash below the buffer (1 = yes)",
        Fn("lt", (unfunded, min_cash - CASH_TOL)),
        "flag",
    )
    need_cum = b.add(
        "funding_need_cumulative",
        "Cumulative funding need (N)",
        fmax(Prev("funding_need_cumulative", Const(0.0)), min_cash - unfunded),
        "balance",
    )
    b.add(
        "funding_need",
        "New funding needed this month",
        need_cum - Prev("funding_need_cumulative", Const(0.0)),
    )
    b.add("cash", "Cash if the need is raised just in time", unfunded + need_cum, "balance")

    if a.valuation is not None:
        _valuation_items(b, a, fcf, revenue, ebitda)

    # milestones are drivers; place them before their first use
    ms_items = []
    for name, pts in a.milestones.items():
        k = slug(name)
        months = sorted(pts, key=lambda s: month_index(*parse_month(s)))
        names = tuple(b.p.add(f"milestones.{k}.{m}", pts[m], "units") for m in months)
        w = tl.point_weights([month_index(*parse_month(m)) for m in months])
        ms_items.append(
            Item(f"milestone__{k}", f"Milestone: {name}", "level", Path(names, w), "Drivers")
        )
    items = ms_items + b.items
    for path, adj in a.adjust.items():
        op, x = adj.op
        try:
            b.p.adjust(path, op, x, adj.source)
        except AssumptionError as e:
            raise AssumptionError(f"adjust.{e}") from None
    as_of = -1 if a.opening.as_of is None else tl.index_of(a.opening.as_of)
    return Model(a.name, tl, b.p, items, a.unit, a.currency, amounts, a, as_of)


def _valuation_items(b: _Builder, a: Assumptions, fcf: Ref, revenue: Ref, ebitda: Ref) -> None:
    """DCF as line items, so the sheet and the engine share them (docs/methodology.md):

    discount factor ``(1 + r)^-tau_t`` for months after the valuation date (tau in years to
    mid-month, or month end without mid-period); terminal value at the last month from the
    last twelve months; their present values sum to the enterprise value. The present
    values of free cash flow before take-or-pay payments and of those payments, over the
    same months, give the commitment coverage.
    """
    v = a.valuation
    assert v is not None
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
    )
    b.add("pv_free_cash_flow", "Present value of free cash flow", fcf * df)
    committed = Ref("committed_payments")
    b.add(
        "pv_fcf_before_commitments",
        "Present value of free cash flow before take-or-pay payments",
        (fcf + committed) * df,
    )
    b.add("pv_take_or_pay", "Present value of take-or-pay payments", committed * df)
    ltm_fcf = b.add(
        "ltm_free_cash_flow",
        "Free cash flow, last twelve months",
        CumSum("free_cash_flow", 12),
        "balance",
    )
    ltm_rev = b.add("ltm_revenue", "Revenue, last twelve months", CumSum("revenue", 12), "balance")
    ltm_ebitda = b.add("ltm_ebitda", "EBITDA, last twelve months", CumSum("ebitda", 12), "balance")
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
    b.add("terminal_value", label, end * tv, "balance")
    tau_end = float(tl.T - 1 - d) / 12.0
    b.add(
        "pv_terminal_value",
        "Present value of the terminal value",
        Ref("terminal_value") * Fn("pow", (1.0 + r, Const(-tau_end))),
    )


ModelLike = Model | Assumptions | str | PathLike[str]
"""A built model, validated assumptions, an assumption file or a shipped scenario's name."""


def as_model(source: ModelLike) -> Model:
    """Build a model from any of :data:`ModelLike`."""
    if isinstance(source, Model):
        return source
    if isinstance(source, Assumptions):
        return build(source)
    from finmodel.assumptions.loader import load

    return build(load(source))
