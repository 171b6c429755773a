"""Valuation and financing: DCF summary, NPV / IRR / XIRR with root diagnostics, funding
rounds with a cap table and investor returns, and the present value of commitments.

The DCF itself is line items of the model (``discount_factor``, ``pv_free_cash_flow``,
``terminal_value``, ``pv_terminal_value``), so the workbook computes it with the same
definitions; this module reads them off and adds what is not a monthly line.

Conventions (docs/methodology.md): rates are annual; the valuation is at the end of the
valuation month; month t's flow is discounted ``(1 + r)^-tau`` with tau in years to
mid-month (or month end without ``mid_period``). Equity value = enterprise value + cash at
the valuation date - debt at that date (opening debt plus facilities drawn).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy_financial as npf
import pandas as pd
from numpy.typing import NDArray
from scipy.optimize import brentq

from finmodel.errors import AssumptionError

if TYPE_CHECKING:
    from finmodel.results import Results

FloatArray = NDArray[np.float64]
TV_WARN = 0.75


# --- NPV / IRR / XIRR ---------------------------------------------------------------------


def npv(rate: float, flows: list[float] | FloatArray) -> float:
    """Net present value of periodic flows, the first at time 0 (numpy-financial's convention;
    Excel's ``=NPV(r, CF1..CFn) + CF0``).

    >>> round(npv(0.1, [-100, 60, 60]), 6)
    4.132231
    """
    return float(npf.npv(rate, flows))


def sign_pattern(flows: list[float] | FloatArray) -> str:
    """``+`` / ``-`` for each non-zero flow, e.g. ``- + +``."""
    return " ".join("+" if f > 0 else "-" for f in flows if f != 0)


@dataclass(frozen=True)
class Rate:
    """A rate of return with every root found and why this one was chosen."""

    value: float | None
    roots: list[float]
    reason: str
    pattern: str

    def __str__(self) -> str:
        if self.value is None:
            return f"no rate of return ({self.reason}; flows {self.pattern})"
        others = [r for r in self.roots if r != self.value]
        extra = f"; other roots {', '.join(f'{r:.4%}' for r in others)}" if others else ""
        return f"{self.value:.4%} ({self.reason}{extra})"


def _choose(roots: list[float], pattern: str, guess: float) -> Rate:
    roots = sorted(roots)
    if not roots:
        changes = sum(
            1 for a, b in zip(pattern.split(), pattern.split()[1:], strict=False) if a != b
        )
        why = "no sign change" if changes == 0 else "no real root above -100%"
        return Rate(None, [], why, pattern)
    if len(roots) == 1:
        return Rate(roots[0], roots, "the only root", pattern)
    best = min(roots, key=lambda r: abs(r - guess))
    return Rate(
        best,
        roots,
        f"{len(roots)} roots (several sign changes); chose the one nearest {guess:.0%}",
        pattern,
    )


def irr(flows: list[float] | FloatArray, guess: float = 0.1) -> Rate:
    """Every real root of the periodic NPV polynomial with rate > -100%, and a choice.

    The roots solve ``sum_k c_k x^k = 0`` with ``x = 1 / (1 + r)`` (numpy.roots); a single
    root is returned as is, several are reported and the one nearest ``guess`` chosen.

    >>> str(irr([-100, 60, 60]))
    '13.0662% (the only root)'
    >>> sorted(round(r, 6) for r in irr([-100, 230, -132]).roots)
    [0.1, 0.2]
    """
    c = np.asarray(flows, dtype=np.float64)
    pattern = sign_pattern(c)
    nz = np.flatnonzero(c)
    if nz.size == 0:
        return Rate(None, [], "all flows are zero", pattern)
    c = c[: nz[-1] + 1]
    roots = []
    for x in np.roots(c[::-1]):
        if abs(x.imag) < 1e-9 and x.real > 0:
            r = 1.0 / x.real - 1.0
            if abs(npv(r, c)) <= 1e-6 * max(1.0, float(np.abs(c).sum())):
                roots.append(float(r))
    return _choose(sorted(set(round(r, 12) for r in roots)), pattern, guess)


def xirr(flows: list[float], dates: list[date], guess: float = 0.1) -> Rate:
    """Rate r solving ``sum_i c_i / (1 + r)^((d_i - d_0) / 365) = 0`` (Excel's XIRR).

    All roots in (-99%, 1,000,000%) are found by scanning for sign changes and refining each
    with scipy's brentq; the choice follows :func:`irr`.
    """
    if len(flows) != len(dates) or len(flows) < 2:
        raise AssumptionError("xirr: expected as many dates as flows, at least two")
    c = np.asarray(flows, dtype=np.float64)
    years = np.array([(d - dates[0]).days / 365.0 for d in dates])
    pattern = sign_pattern(c)

    def f(r: float) -> float:
        return float(np.sum(c / np.power(1.0 + r, years)))

    grid = np.concatenate([np.linspace(-0.99, 1.0, 400), np.geomspace(1.0, 1e4, 200)[1:]])
    vals = np.array([f(r) for r in grid])
    roots = []
    for i in np.flatnonzero(np.sign(vals[:-1]) * np.sign(vals[1:]) < 0):
        roots.append(float(brentq(f, grid[i], grid[i + 1], xtol=1e-14, rtol=1e-14)))
    roots += [float(r) for r, v in zip(grid, vals, strict=True) if v == 0.0]
    return _choose(sorted(set(roots)), pattern, guess)


# --- DCF summary -------------------------------------------------------------------------------


@dataclass
class DCF:
    enterprise_value: float
    pv_free_cash_flow: float
    pv_terminal_value: float
    terminal_value: float
    cash: float
    debt: float
    equity_value: float
    terminal_share: float
    multiples: dict[str, float]
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


def date_index(res: Results) -> int:
    assert res.assumptions.valuation is not None
    return res.model.timeline.index_of(res.assumptions.valuation.date)


def dcf(res: Results) -> DCF:
    """Read the DCF off a run's line items (see the module docstring)."""
    v = res.assumptions.valuation
    if v is None:
        raise AssumptionError(f"{res.name}: expected a 'valuation' section")
    s = res.series
    d = date_index(res)
    pv_f = math.fsum(s("pv_free_cash_flow"))
    pv_tv = math.fsum(s("pv_terminal_value"))
    ev = pv_f + pv_tv
    cash = res.model.params["opening_cash"].value if d < 0 else float(s("cash_unfunded")[d])
    debt = res.model.params["opening_debt"].value + (
        0.0 if d < 0 or "facility_balance" not in res.items else float(s("facility_balance")[d])
    )
    rev = s("revenue")
    ntm = math.fsum(rev[d + 1 : d + 13])
    ltm_end = float(s("ltm_revenue")[-1])
    ebitda_ntm = math.fsum(s("ebitda")[d + 1 : d + 13])
    mult = {
        "ev_to_next_12m_revenue": ev / ntm if ntm else math.nan,
        "ev_to_final_12m_revenue": ev / ltm_end if ltm_end else math.nan,
        "ev_to_next_12m_ebitda": ev / ebitda_ntm if ebitda_ntm else math.nan,
    }
    share = pv_tv / ev if ev else math.nan
    warnings = []
    if share > TV_WARN:
        warnings.append(
            f"the terminal value is {share:.0%} of enterprise value (above "
            f"{TV_WARN:.0%}): the valuation rests on years beyond the horizon"
        )
    return DCF(
        ev,
        pv_f,
        pv_tv,
        float(s("terminal_value")[-1]),
        cash,
        debt,
        ev + cash - debt,
        share,
        mult,
        warnings,
    )


def fcf_irr(res: Results) -> Rate:
    """IRR of the annual free cash flow after the valuation date, with the terminal value
    added to the last year: the return that the DCF's flows earn, with root diagnostics."""
    d = date_index(res)
    f = res.series("free_cash_flow").copy()
    f[-1] += res.series("terminal_value")[-1]
    f = f[d + 1 :]
    yearly = [math.fsum(f[i : i + 12]) for i in range(0, len(f), 12)]
    return irr(yearly)


# --- commitments as obligations ----------------------------------------------------------------


def commitments_pv(res: Results) -> pd.DataFrame:
    """Present value at the valuation date of each take-or-pay contract's full schedule
    (beyond the horizon too), and the coverage: PV of FCF before commitments (FCF plus the
    committed payments, over the horizon) / PV of all take-or-pay commitments."""
    from finmodel.timeline import month_index, parse_month

    v = res.assumptions.valuation
    assert v is not None
    r = res.model.params["valuation_discount_rate"].value
    d = month_index(*parse_month(v.date))
    rows = []
    for c in res.assumptions.commitments:
        if not c.take_or_pay:
            continue
        pay = _schedule(c)
        t = np.array(list(pay), dtype=np.float64)
        amt = np.array(list(pay.values()))
        keep = t > d
        tau = (t[keep] - d - (0.5 if v.mid_period else 0.0)) / 12.0
        pv = float(np.sum(amt[keep] * (1.0 + r) ** -tau))
        rows.append(
            {
                "counterparty": c.counterparty,
                "contract_value": float(amt.sum()),
                "after_valuation_date": float(amt[keep].sum()),
                "present_value": pv,
            }
        )
    df = pd.DataFrame(
        rows, columns=["counterparty", "contract_value", "after_valuation_date", "present_value"]
    )
    total_pv = float(df["present_value"].sum()) if len(df) else 0.0
    df["share_of_pv"] = df["present_value"] / total_pv if total_pv else np.nan
    before = math.fsum(
        (res.series("free_cash_flow") + res.series("committed_payments"))
        * res.series("discount_factor")
    )
    df.attrs["pv_fcf_before_commitments"] = before
    df.attrs["coverage"] = before / total_pv if total_pv else math.nan
    return df


def _schedule(c: Any) -> dict[int, float]:
    """Month index -> payment for a commitment's whole life."""
    from finmodel.timeline import month_index, parse_month

    first = month_index(*parse_month(c.start))
    out: dict[int, float] = {}
    if c.profile == "explicit":
        for y, x in c.payments.items():
            span = range(max(first, y * 12), y * 12 + 12)
            for m in span:
                out[m] = out.get(m, 0.0) + x.value / len(span)
        return out
    n = c.years * 12
    for i in range(n):
        w = 1.0 / n if c.profile == "flat" else 2.0 * (i + 1) / (n * (n + 1.0))
        out[first + i] = c.amount.value * w
    return out


# --- rounds, cap table and returns --------------------------------------------------------------


@dataclass(frozen=True)
class Round:
    name: str
    month: str
    amount: float
    pre_money: float
    investors: tuple[tuple[str, float], ...]  # (holder, amount)
    policy: bool

    @property
    def post_money(self) -> float:
        return self.pre_money + self.amount


def policy_rounds(res: Results) -> list[Round]:
    """Dated rounds from the raise policy, walking the months on the path with the rounds
    raised so far: when the runway falls below N months, raise the need M months ahead
    (within the minimum and maximum round size)."""
    v = res.assumptions.valuation
    assert v is not None and v.raise_policy is not None
    p = v.raise_policy
    tl = res.model.timeline
    u = res.series("cash_unfunded")
    buf = res.model.params["funding_min_cash"].value
    rev = res.series("revenue")
    lo = -math.inf if p.min_round is None else p.min_round.value
    hi = math.inf if p.max_round is None else p.max_round.value
    raised = 0.0
    rounds: list[Round] = []
    for t in range(tl.T):
        short = np.flatnonzero(u[t:] + raised < buf - 1e-9)
        if short.size == 0:
            break
        if short[0] >= p.runway_below_months:
            continue
        horizon = min(tl.T, t + p.cover_months)
        need = float(np.max(buf - u[t:horizon])) - raised
        amount = min(hi, max(lo, need))
        if amount <= 0:
            continue
        if p.revenue_multiple is not None:
            pre = p.revenue_multiple.value * math.fsum(
                rev[t + 1 : t + 13] if t + 1 < tl.T else rev[-12:]
            )
        else:
            assert p.pre_money is not None
            years = sorted(p.pre_money)
            pre = float(np.interp(tl.year_of[t], years, [p.pre_money[y].value for y in years]))
        if pre <= 0:
            raise AssumptionError(
                f"valuation.raise_policy: the round in {tl.labels[t]} prices at {pre:g} pre-money; "
                "expected a positive valuation (revenue is zero there?)"
            )
        rounds.append(
            Round(f"Round {tl.labels[t]}", tl.labels[t], amount, pre, ((p.investor, amount),), True)
        )
        raised += amount
    return rounds


def priced_rounds(res: Results) -> list[Round]:
    """Dated inflows with a pre-money valuation, after the valuation date."""
    v = res.assumptions.valuation
    assert v is not None
    d = date_index(res)
    out = []
    for f in res.assumptions.funding.inflows:
        if f.pre_money is None or f.date is None or res.model.timeline.index_of(f.date) <= d:
            continue
        inv = tuple((i.name, i.amount.value) for i in f.investors) or ((f.name, f.amount.value),)
        out.append(Round(f.name, f.date, f.amount.value, f.pre_money.value, inv, False))
    return out


def cap_table(res: Results, rounds: list[Round]) -> pd.DataFrame:
    """Ownership of every holder after each round (columns), starting from the file's
    stakes at the valuation date; each round dilutes everyone by pre / post and gives its
    investors amount / post. Every column sums to 1."""
    v = res.assumptions.valuation
    assert v is not None
    stakes = {h.name: h.stake for h in v.holders} or {"Existing holders": 1.0}
    cols = {f"at {v.date}": dict(stakes)}
    for rd in sorted(rounds, key=lambda r: r.month):
        keep = rd.pre_money / rd.post_money
        stakes = {k: x * keep for k, x in stakes.items()}
        for name, amt in rd.investors:
            stakes[name] = stakes.get(name, 0.0) + amt / rd.post_money
        cols[f"after {rd.name} ({rd.month})"] = dict(stakes)
    df = pd.DataFrame(cols).fillna(0.0)
    df.index.name = "holder"
    return df


def investor_returns(res: Results, rounds: list[Round]) -> pd.DataFrame:
    """Each round's stake at the exit (after later rounds dilute it), proceeds, multiple and
    IRR (XIRR on the round's two dated flows)."""
    v = res.assumptions.valuation
    assert v is not None and v.exit is not None
    ex = v.exit
    ordered = sorted(rounds, key=lambda r: r.month)
    rows = []
    for i, rd in enumerate(ordered):
        stake = rd.amount / rd.post_money
        for later in ordered[i + 1 :]:
            if later.month <= ex.date:
                stake *= later.pre_money / later.post_money
        proceeds = stake * ex.value.value
        rate = xirr([-rd.amount, proceeds], [_date(rd.month), _date(ex.date)])
        rows.append(
            {
                "round": rd.name,
                "month": rd.month,
                "amount": rd.amount,
                "post_money": rd.post_money,
                "stake_at_exit": stake,
                "proceeds": proceeds,
                "multiple": proceeds / rd.amount,
                "irr": rate.value,
            }
        )
    return pd.DataFrame(rows)


def _date(month: str) -> date:
    y, m = (int(x) for x in month.split("-"))
    return date(y, m, 1)


def dilution(rounds: list[Round]) -> float:
    """Share of their stakes that the holders at the valuation date give up through the
    rounds: ``1 - prod(pre / post)`` (new shares a holder buys in a round are not netted).

    >>> round(dilution([Round("A", "2026-03", 110, 730, (("X", 110.0),), False)]), 6)
    0.130952
    """
    keep = math.prod(r.pre_money / r.post_money for r in rounds)
    return 1.0 - keep
