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
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy_financial as npf
import pandas as pd
from numpy.typing import NDArray
from scipy.optimize import brentq

from finmodel.assumptions.schema import Preference, slug
from finmodel.engine.evaluate import full
from finmodel.equity import RULE_LABELS, Claim, Issue, Walk, walk, waterfall
from finmodel.errors import ArgumentError, ArgumentTypeError, AssumptionError

if TYPE_CHECKING:
    from finmodel.engine.model import Model
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
    ``rate`` is per period, a decimal (0.1 for 10%) above -1 (at -100% nothing can be
    discounted); ``flows`` is at least one finite number. Anything else is an
    :class:`~finmodel.errors.ArgumentError` naming the argument (``flows[2]: ...``).

    >>> round(npv(0.1, [-100, 60, 60]), 6)
    4.132231
    """
    r = _check_rate("rate", rate)
    c = _flows(flows, 1, finite=True)
    with np.errstate(over="ignore"):
        return float(npf.npv(r, c))


def xnpv(rate: float, flows: list[float] | FloatArray, dates: Sequence[date | str]) -> float:
    """Net present value of dated flows, Excel's ``=XNPV(r, values, dates)``:
    ``sum_i c_i / (1 + r)^((d_i - d_0) / 365)``, times in years of 365 days from the first
    date (actual/365 fixed, as Excel's XNPV and XIRR). Arguments as :func:`npv`, and one
    date per flow.

    >>> round(xnpv(0.1, [-1000, 1100], [date(2025, 1, 1), date(2026, 1, 1)]), 9)
    0.0
    """
    r = _check_rate("rate", rate)
    c, t = _dated(flows, dates, 1, finite=True)
    with np.errstate(over="ignore"):
        return float(np.sum(c * np.power(1.0 + r, -t)))


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
    infinite values, magnitudes down to 1e-320) give an answer, never an exception; fewer
    than two flows, or flows that are not numbers, are an
    :class:`~finmodel.errors.ArgumentError` naming ``flows``.

    >>> str(irr([-100, 60, 60]))
    '13.0662% (the only root)'
    >>> [round(r, 12) for r in irr([-100, 230, -132]).roots]  # -100 (1 - 1.1x)(1 - 1.2x)
    [0.1, 0.2]
    """
    c = _flows(flows, 2, finite=False)
    return _rate(c, np.arange(c.size, dtype=np.float64), guess)


def xirr(flows: list[float] | FloatArray, dates: Sequence[date | str], guess: float = 0.1) -> Rate:
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
    :func:`irr`, and so do its arguments' checks, with one date per flow.

    >>> r = xirr([-134.09, 40.86], [date(2021, 6, 9), date(2021, 8, 11)])
    >>> f"{r.value:.6%}", xirr([-134.09, 40.86], ["2021-06-09", "2021-08-11"]).value == r.value
    ('-99.897692%', True)
    """
    c, t = _dated(flows, dates, 2, finite=False)
    return _rate(c, t, guess)


def _is_real(x: object) -> bool:
    """A real number: int, float, numpy's, Fraction, Decimal; not a bool, not text."""
    return not isinstance(x, bool | np.bool_) and isinstance(x, numbers.Real | Decimal)


def _check_rate(name: str, r: object) -> float:
    """``r`` (the argument ``name``) as a float if it is a real number above -1, else an
    ArgumentError."""
    if not _is_real(r):
        hint = " (a decimal: 0.1 for 10%)" if isinstance(r, str) and "%" in r else ""
        raise ArgumentTypeError(name, f"expected a rate as a number{hint}, got {r!r}")
    x = float(r)  # type: ignore[arg-type]  # a real number, checked above
    if not (math.isfinite(x) and x > -1.0):
        raise ArgumentError(name, f"expected a finite rate above -100% (-1), got {x}")
    return x


def _flows(flows: object, fewest: int, *, finite: bool) -> FloatArray:
    """The argument ``flows`` as a float array: a one-dimensional list (or array, or
    Series) of at least ``fewest`` real numbers, finite if ``finite``; else an
    :class:`~finmodel.errors.ArgumentError` naming ``flows`` (or ``flows[k]``)."""
    if isinstance(flows, np.ndarray | pd.Series):
        if flows.dtype.kind not in "iuf":
            raise ArgumentTypeError(
                "flows", f"expected numbers, got an array of {flows.dtype} values"
            )
        c = np.asarray(flows, dtype=np.float64)
        if c.ndim != 1:
            raise ArgumentError(
                "flows", f"expected a one-dimensional list of flows, got shape {c.shape}"
            )
    elif isinstance(flows, Sequence) and not isinstance(flows, str | bytes):
        for k, x in enumerate(flows):
            if not _is_real(x):
                raise ArgumentTypeError("flows", f"expected a number, got {x!r}", f"flows[{k}]")
        c = np.array([float(x) for x in flows], dtype=np.float64)
    else:
        raise ArgumentTypeError(
            "flows", f"expected a list of numbers such as [-100, 60, 60], got {flows!r}"
        )
    if c.size < fewest:
        need = "at least one flow" if fewest == 1 else "at least two flows (an outlay and a return)"
        raise ArgumentError("flows", f"expected {need}, got {c.size}")
    if finite and not np.isfinite(c).all():
        k = int(np.flatnonzero(~np.isfinite(c))[0])
        raise ArgumentError("flows", f"expected a finite number, got {c[k]}", f"flows[{k}]")
    return c


def _dated(
    flows: object, dates: object, fewest: int, *, finite: bool
) -> tuple[FloatArray, FloatArray]:
    """``flows`` (see :func:`_flows`) and their times in years of 365 days from the first of
    ``dates`` (one per flow)."""
    c = _flows(flows, fewest, finite=finite)
    if not isinstance(dates, Sequence | np.ndarray | pd.Series) or isinstance(dates, str | bytes):
        raise ArgumentTypeError(
            "dates", f"expected a list of dates (datetime.date or 'YYYY-MM-DD'), got {dates!r}"
        )
    if len(dates) != c.size:
        raise ArgumentError(
            "dates",
            f"expected one date per flow ({c.size} flows), got {len(dates)} "
            + ("date" if len(dates) == 1 else "dates"),
        )
    days = [_as_date(d, k) for k, d in enumerate(dates)]
    t = np.array([(d - days[0]).days / 365.0 for d in days], dtype=np.float64)
    return c, t


def _as_date(d: object, k: int) -> date:
    """A date, or ISO text ``YYYY-MM-DD`` read as one (as pyxirr and spreadsheets accept);
    ``k`` is its place in ``dates``, for the message."""
    if isinstance(d, date):
        return d
    try:
        return date.fromisoformat(str(d))
    except ValueError:
        raise ArgumentError(
            "dates", f"expected a date (datetime.date or 'YYYY-MM-DD'), got {d!r}", f"dates[{k}]"
        ) from None


def _rate(c: FloatArray, t: FloatArray, guess: float) -> Rate:
    """Roots of ``sum c_i (1 + r)^-t_i`` (times t in periods or years) and the choice."""
    guess = _check_rate("guess", guess)
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


def equity_bridge(
    model: Model, items: dict[str, FloatArray], values: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Enterprise value, cash, debt and equity value at the valuation date, (S,) each::

    EV     = sum_t pv_free_cash_flow_t + sum_t pv_terminal_value_t
    cash   = U_d           (opening cash when d is the month before the start)
    debt   = debt_d        (opening debt + facilities drawn + loans outstanding)
    equity = EV + cash - debt
    """
    a = model.assumptions
    if a is None or a.valuation is None:
        raise AssumptionError(f"{model.scenario}: expected a 'valuation' section")
    S = values.shape[0]
    names = model.params.names()
    ev = full(items["pv_free_cash_flow"], S).sum(axis=0) + full(items["pv_terminal_value"], S).sum(
        axis=0
    )
    d = model.timeline.index_of(a.valuation.date)
    if d < 0:
        cash = values[:, names.index("opening_cash")].copy()
        debt = values[:, names.index("opening_debt")].copy()
    else:
        cash = full(items["cash_unfunded"], S)[d].copy()
        debt = full(items["debt"], S)[d].copy()
    return ev, cash, debt, ev + cash - debt


def dcf(res: Results) -> DCF:
    """Read the DCF off a run's line items (see the module docstring)."""
    v = res.assumptions.valuation
    if v is None:
        raise AssumptionError(f"{res.name}: expected a 'valuation' section")
    s = res.series
    d = date_index(res)
    pv_f = math.fsum(s("pv_free_cash_flow"))
    pv_tv = math.fsum(s("pv_terminal_value"))
    evs, cashs, debts, eqs = equity_bridge(res.model, res.items, res.model.params.vector()[None, :])
    ev, cash, debt = float(evs[0]), float(cashs[0]), float(debts[0])
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
        float(eqs[0]),
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
    if len(yearly) < 2:  # no return to speak of: an answer, as for degenerate flows
        why = "fewer than two years of flows after the valuation date, an IRR needs two"
        return Rate(None, [], why, sign_pattern(yearly))
    return irr(yearly)


# --- commitments as obligations ----------------------------------------------------------------


def commitments_pv(res: Results) -> pd.DataFrame:
    """Each take-or-pay contract as an obligation at the valuation date, and the coverage.

    Per contract: its value, the payments due after the valuation date, their present value
    inside the horizon (the engine's ``commit_<name>`` x ``discount_factor``) and beyond it
    (the same payments, :class:`~finmodel.engine.model.Payments`, in the months after the
    horizon, discounted by the same convention), and the total.
    The coverage uses one window, the months from the valuation date to the end of the
    horizon, for both sides::

        coverage = sum_t (FCF_t + committed_t) df_t / sum_t committed_t df_t,  d < t <= T-1

    (the line items ``pv_fcf_before_commitments`` and ``pv_take_or_pay``). Payments due
    after the horizon are reported apart (``attrs["pv_take_or_pay_after_horizon"]``): the
    projection has no cash flow to set against them.
    """
    from finmodel.engine.model import discount_years
    from finmodel.timeline import month_index, parse_month

    v = res.assumptions.valuation
    assert v is not None
    model = res.model
    tl = model.timeline
    r = model.params["valuation_discount_rate"].value
    d = month_index(*parse_month(v.date))
    last = tl.first + tl.T - 1
    df_t = res.series("discount_factor")
    rows = []
    for c in res.assumptions.commitments:
        if not c.take_or_pay:
            continue
        k = slug(c.counterparty)
        payments = model.payments[k]  # the engine's own definition of the contract's months
        t = payments.months
        amt = payments.amounts(model.params)
        late = t > last
        tau = discount_years((t[late] - d).astype(np.float64), v.mid_period)
        rows.append(
            {
                "counterparty": c.counterparty,
                "contract_value": math.fsum(amt),
                "after_valuation_date": math.fsum(amt[t > d]),
                "pv_in_horizon": math.fsum(res.series(f"commit__{k}") * df_t),
                "pv_after_horizon": math.fsum(amt[late] * (1.0 + r) ** -tau),
            }
        )
    cols = [
        "counterparty",
        "contract_value",
        "after_valuation_date",
        "pv_in_horizon",
        "pv_after_horizon",
    ]
    df = pd.DataFrame(rows, columns=cols)
    df["present_value"] = df["pv_in_horizon"] + df["pv_after_horizon"]
    total_pv = math.fsum(df["present_value"]) if len(df) else 0.0
    df["share_of_pv"] = df["present_value"] / total_pv if total_pv else np.nan
    before = math.fsum(res.series("pv_fcf_before_commitments"))
    owed = math.fsum(res.series("pv_take_or_pay"))
    df.attrs["window"] = f"{tl.labels[max(0, d - tl.first + 1)]}..{tl.labels[-1]}"
    df.attrs["pv_fcf_before_commitments"] = before
    df.attrs["pv_take_or_pay_in_horizon"] = owed
    df.attrs["pv_take_or_pay_after_horizon"] = math.fsum(df["pv_after_horizon"])
    df.attrs["coverage"] = before / owed if owed else math.nan
    return df


# --- rounds, cap table and returns --------------------------------------------------------------


def _date(month: str) -> date:
    y, m = (int(x) for x in month.split("-"))
    return date(y, m, 1)


def equity_walk(res: Results) -> Walk:
    """The share walk of a run, with its issues (see :mod:`finmodel.equity`)."""
    return walk(res.model, res.items, res.model.params.vector()[None, :], detail=True)


def _after(w: Walk, upto: int | None = None) -> list[Issue]:
    end = len(w.labels) - 1 if upto is None else upto
    return [i for i in w.issues if w.d < i.t <= end]


def _issue_name(w: Walk, i: Issue) -> str:
    src = w.sources[i.source]
    return f"Round {i.month}" if not src.item else src.name


def rounds_table(w: Walk) -> pd.DataFrame:
    """Every issue of new shares after the valuation date: amount, pre- and post-money,
    and the rule that priced it."""
    rows = [
        {
            "round": _issue_name(w, i),
            "month": i.month,
            "amount": i.amount,
            "pre_money": i.pre_money,
            "post_money": i.post_money,
            "pricing": RULE_LABELS[i.rule],
            "from_policy": not w.sources[i.source].item,
        }
        for i in _after(w)
    ]
    cols = ["round", "month", "amount", "pre_money", "post_money", "pricing", "from_policy"]
    return pd.DataFrame(rows, columns=cols)


def cap_table(res: Results, w: Walk) -> pd.DataFrame:
    """Ownership of every holder (rows) at the valuation date and after each later issue
    (columns). The holders at the date keep ``stake x shares_d / shares_now``; an issue's
    investors get ``amount / price`` new shares. Every column sums to 1."""
    v = res.assumptions.valuation
    assert v is not None
    stakes = {h.name: h.stake for h in v.holders} or {"Existing holders": 1.0}
    n_d = float(w.shares_at(w.d)[0])
    new: dict[str, float] = {}
    cols = {f"at {v.date}": dict(stakes)}
    for i in _after(w):
        for name, part in w.sources[i.source].investors:
            new[name] = new.get(name, 0.0) + part * i.amount / i.price
        n = i.shares_after
        col = {k: x * n_d / n for k, x in stakes.items()}
        for name, sh in new.items():
            col[name] = col.get(name, 0.0) + sh / n
        cols[f"after {_issue_name(w, i)} ({i.month})"] = col
    df = pd.DataFrame(cols).fillna(0.0)
    df.index.name = "holder"
    return df


def investor_returns(res: Results, w: Walk) -> pd.DataFrame:
    """Each equity class at the exit: what it invested after the valuation date (up to
    the exit), its as-converted stake, its liquidation preference, its proceeds from the
    waterfall (:func:`finmodel.equity.waterfall`), the multiple and the IRR (XIRR of its
    dated flows). A class is an inflow (all its arrivals) or one policy round; the holders
    at the valuation date hold common shares (``attrs``: their stake and proceeds)."""
    v = res.assumptions.valuation
    assert v is not None and v.exit is not None
    ex = v.exit
    e = res.model.timeline.index_of(ex.date)
    classes: dict[tuple[int, int], dict[str, Any]] = {}
    for i in _after(w, e):
        src = w.sources[i.source]
        key = (i.source, -1 if src.item else i.t)
        c = classes.setdefault(
            key,
            {"round": _issue_name(w, i), "month": i.month, "flows": [], "shares": 0.0, "src": src},
        )
        c["flows"].append((i.month, i.amount))
        c["shares"] += i.amount / i.price
    n_e = float(w.shares_at(e)[0])
    stacked = v.preference.seniority == "stacked"
    order = list(classes.values())
    claims = [
        Claim(
            c["round"],
            c["shares"] / n_e,
            c["src"].terms.multiple * math.fsum(a for _, a in c["flows"]),
            c["src"].terms.participating,
            rank if stacked else 0,
        )
        for rank, c in enumerate(order)
    ]
    common = float(w.shares_at(w.d)[0]) / n_e
    pay = waterfall(ex.value.value, claims, common)
    rows = []
    for c, cl, got, conv in zip(order, claims, pay.proceeds, pay.converts, strict=True):
        invested = math.fsum(a for _, a in c["flows"])
        if cl.participating:
            takes = "preference + share"
        elif conv:
            takes = "converts"
        elif got < cl.preference * (1 - 1e-12):
            takes = "preference (part)"
        else:
            takes = "preference"
        flows = [-a for _, a in c["flows"]] + [got]
        dates = [_date(m) for m, _ in c["flows"]] + [_date(ex.date)]
        rate = xirr(flows, dates).value
        if rate is not None and abs(rate) < 1e-12:
            rate = 0.0  # a 1.0x return: brentq's root is zero to rounding
        rows.append(
            {
                "round": c["round"],
                "month": c["month"],
                "amount": invested,
                "stake_at_exit": cl.shares,
                "preference": cl.preference,
                "proceeds": got,
                "takes": takes,
                "multiple": got / invested if invested else math.nan,
                "irr": rate,
            }
        )
    cols = [
        "round",
        "month",
        "amount",
        "stake_at_exit",
        "preference",
        "proceeds",
        "takes",
        "multiple",
        "irr",
    ]
    df = pd.DataFrame(rows, columns=cols)
    df.attrs["common_stake"] = common
    df.attrs["common_proceeds"] = pay.common
    df.attrs["terms"] = describe_terms(v.preference)
    return df


def inflows_table(res: Results) -> pd.DataFrame:
    """Every inflow of the file with what it is and how the model treats it: the money it
    brings over the horizon and after the valuation date (the engine's ``inflow_<name>``),
    and whether it dilutes."""
    d = date_index(res)
    rows = []
    for f in res.assumptions.funding.inflows:
        x = res.series(f"inflow__{slug(f.name)}")
        if f.kind == "equity":
            how = f"new shares, priced by {' then '.join(RULE_LABELS[r] for r in f.rule)}"
        elif f.kind == "debt":
            rate = "no interest" if f.rate is None else f"{f.rate.value:.2%} a year"
            repaid = "not repaid" if f.repay is None else f"repaid in {f.repay}"
            how = f"loan: {rate}, {repaid}; counted in debt"
        elif f.kind == "prepayment":
            how = "customer prepayment: no shares, not debt"
        elif f.kind == "grant":
            how = "grant: no shares, not debt"
        else:
            how = "asset sale: no shares, not debt"
        rows.append(
            {
                "inflow": f.name,
                "kind": f.kind,
                "in_horizon": math.fsum(x),
                "after_valuation_date": math.fsum(x[d + 1 :]),
                "dilutes": f.kind == "equity",
                "treatment": how,
            }
        )
    cols = ["inflow", "kind", "in_horizon", "after_valuation_date", "dilutes", "treatment"]
    return pd.DataFrame(rows, columns=cols)


def describe_terms(p: Preference) -> str:
    """``1x non-participating, pari passu``."""
    kind = "participating" if p.participating else "non-participating"
    rank = "pari passu" if p.seniority == "pari_passu" else "stacked (later rounds senior)"
    return f"{p.multiple:g}x {kind}, {rank}"
