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

S_MIN = math.log(2.0**-50)
"""Lowest log(1 + r) searched: 1 + r = 8.9e-16, a loss of 99.99999999999991%. Rates closer to
-100% cannot be told apart from -100% in double precision (1 + r would round to 0 or to a
neighbour 1e-16 away), so a root beyond is reported as such, not returned."""
S_MAX = 700.0
"""Highest log(1 + r) searched: 1 + r = e^700 (about 1e304); beyond it r overflows."""
TOUCH = 1e-12
"""At a local extremum of the NPV, an |NPV| within TOUCH of the sum of |discounted flows|
is zero to within rounding: a double root (the NPV touches zero without changing sign)."""


def npv(rate: float, flows: list[float] | FloatArray) -> float:
    """Net present value ``sum_k c_k / (1 + r)^k`` of periodic flows, the first at time 0.

    This is numpy-financial's ``npv(r, [CF0..CFn])``; in Excel it is
    ``=NPV(r, CF1..CFn) + CF0`` (Excel's ``NPV`` discounts its first flow one period).
    ``rate`` is per period and must exceed -1 (at -100% nothing can be discounted).

    >>> round(npv(0.1, [-100, 60, 60]), 6)
    4.132231
    """
    _check_rate("rate", rate)
    with np.errstate(over="ignore"):
        return float(npf.npv(rate, np.asarray(flows, dtype=np.float64)))


def xnpv(rate: float, flows: list[float] | FloatArray, dates: list[date]) -> float:
    """Net present value of dated flows, Excel's ``=XNPV(r, values, dates)``:
    ``sum_i c_i / (1 + r)^((d_i - d_0) / 365)``, times in years of 365 days from the first
    date (actual/365 fixed, as Excel's XNPV and XIRR).

    >>> round(xnpv(0.1, [-1000, 1100], [date(2025, 1, 1), date(2026, 1, 1)]), 9)
    0.0
    """
    _check_rate("rate", rate)
    c, t = _dated(flows, dates)
    with np.errstate(over="ignore"):
        return float(np.sum(c * np.power(1.0 + rate, -t)))


def sign_pattern(flows: list[float] | FloatArray) -> str:
    """``+`` / ``-`` for each non-zero flow (``?`` where not a finite number), e.g. ``- + +``."""
    return " ".join("?" if not math.isfinite(f) else "+" if f > 0 else "-" for f in flows if f != 0)


@dataclass(frozen=True)
class Rate:
    """A rate of return with every root found and why this one was chosen.

    ``roots``: every rate in (-100%, 1e304) at which the NPV is zero, ascending, each once;
    ``touching``: those at which the NPV touches zero without changing sign (double roots);
    ``value``: the chosen root (None with no root), ``reason``: why, or why there is none;
    ``pattern``: the signs of the non-zero flows.
    """

    value: float | None
    roots: list[float]
    reason: str
    pattern: str
    touching: list[float] = field(default_factory=list)

    def __str__(self) -> str:
        if self.value is None:
            return f"no rate of return ({self.reason}; flows {self.pattern})"
        others = [r for r in self.roots if r != self.value]
        extra = f"; other roots {', '.join(f'{r:.4%}' for r in others)}" if others else ""
        return f"{self.value:.4%} ({self.reason}{extra})"


def irr(flows: list[float] | FloatArray, guess: float = 0.1) -> Rate:
    """Every internal rate of return of periodic flows, and a choice among them.

    The roots solve ``sum_k c_k / (1 + r)^k = 0`` (flow k at the end of period k, the first at
    time 0, as Excel's ``=IRR(values)`` and numpy-financial's ``irr``), with r > -100%. Every
    root is found (see :func:`xirr` for the method) and returned unrounded: the NPV at each is
    zero to rounding. One root is returned as is; with several, the one nearest ``guess``
    (Excel's default guess, 10%) is chosen and the others are listed; with none, ``value`` is
    None and ``reason`` says why. Degenerate flows (all zero, one non-zero flow, NaN or
    infinite values, magnitudes down to 1e-320) give an answer, never an exception.

    >>> str(irr([-100, 60, 60]))
    '13.0662% (the only root)'
    >>> [round(r, 12) for r in irr([-100, 230, -132]).roots]  # -100 (1 - 1.1x)(1 - 1.2x)
    [0.1, 0.2]
    """
    c = np.asarray(flows, dtype=np.float64)
    if c.ndim != 1:
        raise AssumptionError(f"irr: expected a one-dimensional list of flows, got shape {c.shape}")
    return _rate(c, np.arange(c.size, dtype=np.float64), guess)


def xirr(flows: list[float] | FloatArray, dates: list[date], guess: float = 0.1) -> Rate:
    """Every annual rate r with ``sum_i c_i / (1 + r)^((d_i - d_0) / 365) = 0``: Excel's
    ``=XIRR(values, dates, guess)`` (times in years of 365 days from the first date).

    Flows on the same date are added. Dates before the first are allowed (their times are
    negative; Excel refuses them).

    Method: with ``s = log(1 + r)`` the NPV is the exponential sum ``F(s) = sum c_i e^(-s t_i)``,
    evaluated scaled by its largest term (no overflow, and rates near -100% are as well
    conditioned as any). Every root is isolated exactly, not by a grid that could miss two
    close roots: by Descartes' rule of signs (which holds for exponential sums) F has at most
    as many roots as the flows have sign changes, and none outside a bound computed from the
    flows. With one sign change, the single root is bracketed by that bound. With more,
    ``F(s) e^(s t_p)`` for a flow p where the sign changes has the derivative ``G``, an
    exponential sum with one sign change fewer; between consecutive roots of G (found
    recursively) F has at most one root, found by scipy's ``brentq`` at full precision. Where
    F touches zero at a root of G (within 1e-12 of its scale), that root is double and is
    reported once, in ``touching``. Roots are searched for 1 + r in (8.9e-16, e^700); one
    beyond is reported in ``reason``, not returned. The choice among roots follows
    :func:`irr`.

    >>> r = xirr([-134.09, 40.86], [date(2021, 6, 9), date(2021, 8, 11)])
    >>> f"{r.value:.6%}"
    '-99.897692%'
    """
    c, t = _dated(flows, dates)
    return _rate(c, t, guess)


def _check_rate(name: str, r: float) -> None:
    if not (math.isfinite(r) and r > -1.0):
        raise AssumptionError(f"{name}: expected a finite rate above -100% (-1), got {r}")


def _dated(flows: list[float] | FloatArray, dates: list[date]) -> tuple[FloatArray, FloatArray]:
    c = np.asarray(flows, dtype=np.float64)
    if c.ndim != 1 or len(dates) != c.size or c.size == 0:
        raise AssumptionError(
            f"xirr: expected as many dates as flows (at least one), got {c.size} flows and "
            f"{len(dates)} dates"
        )
    t = np.array([(d - dates[0]).days / 365.0 for d in dates], dtype=np.float64)
    return c, t


def _rate(c: FloatArray, t: FloatArray, guess: float) -> Rate:
    """Roots of ``sum c_i (1 + r)^-t_i`` (times t in periods or years) and the choice."""
    _check_rate("guess", guess)
    pattern = sign_pattern(c)
    bad = np.flatnonzero(~np.isfinite(c))
    if bad.size:
        return Rate(None, [], f"flow {bad[0]} is not a finite number ({c[bad[0]]})", pattern)
    times, inverse = np.unique(t, return_inverse=True)
    with np.errstate(over="ignore", invalid="ignore"):
        merged = np.bincount(inverse, weights=c, minlength=times.size)
    if not np.all(np.isfinite(merged)):
        return Rate(None, [], "flows on one date add up beyond the float range", pattern)
    keep = merged != 0.0
    a, times = merged[keep], times[keep]
    if a.size == 0:
        return Rate(None, [], "all flows are zero", pattern)
    if a.size == 1:
        return Rate(None, [], "only one non-zero flow", pattern)
    if _changes(np.sign(a)) == 0:
        return Rate(None, [], "no sign change", pattern)
    s_roots, touching, beyond = _roots(np.sign(a), np.log(np.abs(a)), times)
    roots = [float(np.expm1(s)) for s in s_roots]
    touch = [float(np.expm1(s)) for s in touching]
    return _choose(roots, touch, pattern, guess, beyond)


def _changes(sign: FloatArray) -> int:
    return int(np.count_nonzero(sign[:-1] != sign[1:]))


def _value(sg: FloatArray, la: FloatArray, t: FloatArray, s: float) -> tuple[float, float]:
    """``sum sg_i e^(la_i - s t_i)`` and ``sum e^(la_i - s t_i)``, both divided by the largest
    term (a positive factor: the sign and the roots are those of the sum)."""
    e = la - s * t
    w = np.exp(e - e.max())
    return float(np.dot(sg, w)), float(w.sum())


def _roots(sg: FloatArray, la: FloatArray, t: FloatArray) -> tuple[list[float], list[float], str]:
    """Every root s of ``F(s) = sum sg_i e^(la_i - s t_i)`` (t strictly increasing), the double
    ones among them, and a note on roots beyond [S_MIN, S_MAX] (see :func:`xirr`)."""
    # no root above s_hi: there the first term outweighs the others, and below s_lo the last
    rest_hi = float(np.logaddexp.reduce(la[1:]))
    rest_lo = float(np.logaddexp.reduce(la[:-1]))
    s_hi = max(0.0, (rest_hi - la[0]) / (t[1] - t[0])) + 1.0
    s_lo = min(0.0, -(rest_lo - la[-1]) / (t[-1] - t[-2])) - 1.0
    lo, hi = max(s_lo, S_MIN), min(s_hi, S_MAX)
    beyond = []
    if s_lo < lo and _value(sg, la, t, lo)[0] * sg[-1] < 0:
        beyond.append(
            "a root lies below -99.99999999999991% (1 + r < 8.9e-16), beyond double precision"
        )
    if s_hi > hi and _value(sg, la, t, hi)[0] * sg[0] < 0:
        beyond.append("a root lies above 1e304, beyond double precision")
    # the chain F_0 = F, F_{j+1} = d/ds (F_j e^(s t_p)) with p where F_j's signs change first
    chain = [(sg, la, t)]
    while _changes(chain[-1][0]) >= 2:
        g, lg, u = chain[-1]
        p = int(np.flatnonzero(g[:-1] != g[1:])[0])
        d = u - u[p]
        keep = np.arange(u.size) != p
        chain.append((-g[keep] * np.sign(d[keep]), lg[keep] + np.log(np.abs(d[keep])), u[keep]))
    seps: list[float] = []
    touching: list[float] = []
    for g, lg, u in reversed(chain):
        seps, touching = _isolate(g, lg, u, lo, hi, seps)
    return seps, touching, "; ".join(beyond)


def _isolate(
    sg: FloatArray, la: FloatArray, t: FloatArray, lo: float, hi: float, seps: list[float]
) -> tuple[list[float], list[float]]:
    """Roots of F in [lo, hi], given the roots ``seps`` of the derivative of ``F e^(s t_p)``:
    between consecutive ones F is monotone, so it has at most one root there."""

    def f(s: float) -> float:
        return _value(sg, la, t, s)[0]

    pts = [lo, *sorted(x for x in seps if lo < x < hi), hi]
    vals = [_value(sg, la, t, x) for x in pts]
    zero = [abs(v) <= TOUCH * w for v, w in vals]
    zero[0] = zero[-1] = False  # the ends are bounds, not extrema
    found: list[float] = []
    touching: list[float] = []
    for i, x in enumerate(pts):
        if zero[i]:
            found.append(x)
            left, right = vals[i - 1][0], vals[i + 1][0]
            if not zero[i - 1] and not zero[i + 1] and left * right > 0:
                touching.append(x)
    for i in range(len(pts) - 1):
        (va, _), (vb, _) = vals[i], vals[i + 1]
        if zero[i] or zero[i + 1] or va * vb >= 0:
            continue
        x = brentq(
            f, pts[i], pts[i + 1], xtol=1e-18, rtol=4 * np.finfo(float).eps, maxiter=400, disp=False
        )
        found.append(float(x))
    return sorted(found), touching


def _choose(
    roots: list[float], touching: list[float], pattern: str, guess: float, beyond: str
) -> Rate:
    roots = sorted(roots)
    note = f"; {beyond}" if beyond else ""
    if not roots:
        why = beyond or "no real root above -100%: the NPV keeps one sign"
        return Rate(None, [], why, pattern)
    double = (
        f"; {', '.join(f'{r:.4%}' for r in touching)} a double root (the NPV touches zero)"
        if touching
        else ""
    )
    if len(roots) == 1:
        return Rate(roots[0], roots, f"the only root{double}{note}", pattern, touching)
    best = min(roots, key=lambda r: (abs(r - guess), r))
    return Rate(
        best,
        roots,
        f"{len(roots)} roots (several sign changes); chose the one nearest {guess:.0%}"
        f"{double}{note}",
        pattern,
        touching,
    )


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
