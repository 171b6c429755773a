"""Equity financing: every equity dollar priced and counted in shares; dilution, the cap
table, and the exit waterfall with liquidation preferences.

New shares come from the file's equity inflows (in file order) and the raise policy's
rounds. Their amounts by month are the engine's: the line items ``inflow_<name>`` (a
milestone tranche arrives in the months its milestone reaches each unit) and the rounds the
policy raises on the engine's unfunded cash ``U``. Dilution therefore follows the money the
projection counts, under any adjustment, sensitivity or Monte Carlo draw. Everything here
is batched over scenarios: arrays are month-major ``(T, S)``; a single run is ``S = 1``.

Shares are counted in units of the shares outstanding before the horizon's first month
(only ratios matter). An arrival of amount ``a`` at price per share ``p`` issues ``a / p``
shares; its pre-money is ``p x shares before it`` and its post-money ``pre + a``, so every
earlier holder keeps ``pre / post`` of its stake. Within a month the file's inflows come
first, in file order, then the policy's round.

Pricing of an equity inflow (``Inflow.rule``; docs/methodology.md):

* its own valuation: ``pre_money``, or ``post_money - amount``, is the company's value
  before the inflow's first arrival, and every arrival of the inflow buys at that price per
  share (so a round paid in tranches keeps one price: the k-th tranche's pre-money is the
  previous tranche's post-money when nothing else is issued between them);
* ``last_round``: the price per share of the most recent issue before the arrival;
* ``raise_policy``: the raise policy's valuation in the arrival's month, as its pre-money;
* a list of rules: the first that gives a price, arrival by arrival.

A policy round is priced by the raise policy (:func:`policy_valuation`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from finmodel.assumptions.schema import RaisePolicy, Terms, slug
from finmodel.engine.evaluate import full
from finmodel.engine.model import CASH_TOL
from finmodel.errors import AssumptionError

if TYPE_CHECKING:
    from finmodel.engine.model import Model

FloatArray = NDArray[np.float64]

RULE_LABELS = {
    "own": "own valuation",
    "last_round": "last round",
    "raise_policy": "raise policy",
    "policy": "policy round",
}


# --- the raise policy ----------------------------------------------------------------------


def policy_valuation(p: RaisePolicy, revenue: FloatArray, year_of: NDArray[np.int64]) -> FloatArray:
    """Pre-money valuation the raise policy gives a round in month t, (T, S).

    ``revenue_multiple`` x the revenue of the 12 months after t (months beyond the horizon
    repeat its last month), or the ``pre_money`` path: linear between its years, held
    outside them.

    >>> p = RaisePolicy(revenue_multiple=2)
    >>> policy_valuation(p, np.ones((3, 1)), np.array([2026, 2026, 2026]))[:, 0].tolist()
    [24.0, 24.0, 24.0]
    """
    T = revenue.shape[0]
    if p.revenue_multiple is not None:
        ext = np.concatenate([revenue, np.repeat(revenue[-1:], 12, axis=0)])
        ntm = np.zeros_like(revenue)
        for k in range(1, 13):
            ntm = ntm + ext[k : k + T]
        out: FloatArray = p.revenue_multiple.value * ntm
        return out
    assert p.pre_money is not None
    years = sorted(p.pre_money)
    path = np.interp(year_of, years, [p.pre_money[y].value for y in years])
    return np.broadcast_to(path[:, None], revenue.shape).astype(np.float64)


def policy_amounts(p: RaisePolicy, u: FloatArray, min_cash: FloatArray) -> FloatArray:
    """The rounds the raise policy raises, by month, (T, S).

    Walking the months with the rounds raised so far (``R``): when the first month with
    ``U + R`` below the buffer lies fewer than ``runway_below_months`` ahead, raise
    ``max over the next cover_months (from this month) of (min_cash - U) - R``, held within
    [``min_round``, ``max_round``] (nothing when that is not positive).

    >>> u = np.array([[5.0], [1.0], [-2.0], [-6.0]])
    >>> policy_amounts(RaisePolicy(runway_below_months=2, cover_months=2, revenue_multiple=1),
    ...                u, np.array([0.0]))[:, 0].tolist()
    [0.0, 2.0, 4.0, 0.0]
    """
    T, S = u.shape
    lo = -math.inf if p.min_round is None else p.min_round.value
    hi = math.inf if p.max_round is None else p.max_round.value
    raised = np.zeros(S)
    out = np.zeros((T, S))
    if p.runway_below_months == 0:
        return out
    for t in range(T):
        soon = u[t : t + p.runway_below_months].min(axis=0)
        trigger = soon + raised < min_cash - CASH_TOL
        if not trigger.any():
            continue
        need = min_cash - u[t : min(T, t + p.cover_months)].min(axis=0) - raised
        amount = np.minimum(hi, np.maximum(lo, need))
        amount = np.where(trigger & (amount > 0), amount, 0.0)
        out[t] = amount
        raised = raised + amount
    return out


# --- the share walk -------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """A source of new shares: an equity inflow of the file, or the raise policy."""

    name: str
    item: str  # the engine's line item (``inflow_<slug>``), or "" for the policy
    rule: tuple[str, ...]  # "own", "last_round", "raise_policy" or "policy"
    investors: tuple[tuple[str, float], ...]  # (holder, share of each arrival)
    terms: Terms  # liquidation preference of the class
    field: str  # the file's field that sets the price, for messages


@dataclass(frozen=True)
class Issue:
    """One arrival of equity money (scenario 0 of a walk)."""

    source: int  # index into Walk.sources
    t: int  # month index
    month: str
    amount: float
    pre_money: float
    price: float  # per share
    shares_before: float
    rule: str  # the rule that priced it

    @property
    def post_money(self) -> float:
        return self.pre_money + self.amount

    @property
    def shares_after(self) -> float:
        return self.shares_before + self.amount / self.price


@dataclass
class Walk:
    """Shares outstanding month by month for S scenarios, and (with ``detail``) every issue
    of scenario 0."""

    sources: list[Source]
    shares: FloatArray  # (T, S): at the end of each month
    d: int  # valuation month (-1: the month before the start)
    labels: list[str]
    issues: list[Issue] = field(default_factory=list)

    def shares_at(self, t: int) -> FloatArray:
        """Shares outstanding at the end of month t (1 before the first month; months
        beyond the horizon hold its last)."""
        if t < 0:
            return np.ones(self.shares.shape[1])
        out: FloatArray = self.shares[min(t, self.shares.shape[0] - 1)]
        return out

    def dilution(self, upto: int | None = None) -> FloatArray:
        """Share of their stakes the holders at the valuation date give up by the end of
        month ``upto`` (default: the horizon's last): ``1 - shares_d / shares_upto``, which
        equals ``1 - prod(pre / post)`` over the issues between."""
        end = self.shares.shape[0] - 1 if upto is None else upto
        out: FloatArray = 1.0 - self.shares_at(self.d) / self.shares_at(end)
        return out


def sources(model: Model) -> list[Source]:
    """The equity sources of a model: its equity inflows in file order, then the policy."""
    a = model.assumptions
    assert a is not None and a.valuation is not None
    v = a.valuation
    out = []
    for f in a.funding.inflows:
        if f.kind != "equity":
            continue
        k = slug(f.name)
        total = f.amount.value  # the investors' amounts sum to it (checked on loading)
        inv = tuple((i.name, i.amount.value / total) for i in f.investors if total > 0) or (
            (f.name, 1.0),
        )
        where = (
            "pre_money"
            if f.pre_money is not None
            else "post_money"
            if f.post_money is not None
            else "pricing"
        )
        out.append(
            Source(
                f.name,
                f"inflow__{k}",
                f.rule,
                inv,
                f.preference or v.preference,
                f"funding.inflows.{k}.{where}",
            )
        )
    if v.raise_policy is not None:
        out.append(
            Source(
                "Round",
                "",
                ("policy",),
                ((v.raise_policy.investor, 1.0),),
                v.preference,
                "valuation.raise_policy",
            )
        )
    return out


def walk(
    model: Model, items: dict[str, FloatArray], values: FloatArray, detail: bool = False
) -> Walk:
    """Price every arrival of equity money and count the shares, for S scenarios.

    ``items`` are the engine's line items and ``values`` its inputs (S, K). With ``detail``
    the issues of scenario 0 are kept (for the cap table and the returns).
    """
    a = model.assumptions
    if a is None or a.valuation is None:
        raise AssumptionError(f"{model.scenario}: expected a 'valuation' section")
    v = a.valuation
    tl = model.timeline
    T, S = tl.T, values.shape[0]
    names = model.params.names()
    srcs = sources(model)
    pol = v.raise_policy
    policy_pre = (
        policy_valuation(pol, full(items["revenue"], S), tl.year_of) if pol is not None else None
    )
    amounts: list[FloatArray] = []
    first_pre: list[FloatArray | None] = []
    for src in srcs:
        if not src.item:
            assert pol is not None
            amounts.append(
                policy_amounts(
                    pol,
                    full(items["cash_unfunded"], S),
                    values[:, names.index("funding_min_cash")],
                )
            )
            first_pre.append(None)
            continue
        amounts.append(full(items[src.item], S))
        f = next(x for x in a.funding.inflows if f"inflow__{slug(x.name)}" == src.item)
        if f.pre_money is not None:
            first_pre.append(np.full(S, f.pre_money.value))
        elif f.post_money is not None:
            amount = values[:, names.index(f"funding_inflows_{slug(f.name)}_amount")]
            first_pre.append(f.post_money.value - amount)
        else:
            first_pre.append(None)
    n = np.ones(S)
    last = np.full(S, np.nan)
    fixed = [np.full(S, np.nan) for _ in srcs]
    shares = np.empty((T, S))
    issues: list[Issue] = []
    for t in range(T):
        for j, src in enumerate(srcs):
            amt = amounts[j][t]
            arrives = amt > 0
            if not arrives.any():
                continue
            price = np.full(S, np.nan)
            used = np.full(S, -1)
            for r, rule in enumerate(src.rule):
                if rule == "own":
                    pre0 = first_pre[j]
                    assert pre0 is not None
                    cand = np.where(np.isnan(fixed[j]), pre0 / n, fixed[j])
                elif rule == "last_round":
                    cand = last
                else:  # raise_policy, policy
                    assert policy_pre is not None
                    cand = policy_pre[t] / n
                take = np.isnan(price) & np.isfinite(cand)
                price = np.where(take, cand, price)
                used = np.where(take, r, used)
            bad = arrives & ~(price > 0)
            if bad.any():
                raise AssumptionError(
                    _unpriced(src, tl.labels[t], price, amt, n, bad, S, _policy_field(pol))
                )
            if "own" in src.rule:
                fixed[j] = np.where(arrives & np.isnan(fixed[j]), price, fixed[j])
            if detail and arrives[0]:
                issues.append(
                    Issue(
                        j,
                        t,
                        tl.labels[t],
                        float(amt[0]),
                        float(price[0] * n[0]),
                        float(price[0]),
                        float(n[0]),
                        src.rule[int(used[0])],
                    )
                )
            n = n + np.where(arrives, amt, 0.0) / np.where(arrives, price, 1.0)
            last = np.where(arrives, price, last)
        shares[t] = n
    d = tl.index_of(v.date)
    return Walk(srcs, shares, d, tl.labels, issues)


def _policy_field(pol: RaisePolicy | None) -> str:
    """The field that prices the raise policy's rounds (where a bad price is located)."""
    if pol is None:
        return "valuation.raise_policy"
    return "valuation.raise_policy." + (
        "revenue_multiple" if pol.revenue_multiple is not None else "pre_money"
    )


def _unpriced(
    src: Source,
    month: str,
    price: FloatArray,
    amount: FloatArray,
    n: FloatArray,
    bad: NDArray[np.bool_],
    S: int,
    policy_field: str = "valuation.raise_policy",
) -> str:
    s = int(np.flatnonzero(bad)[0])
    case = f" (case {s})" if S > 1 else ""
    if np.isnan(price[s]):
        return (
            f"{src.field}: expected an earlier equity issue to price by "
            f"'{' then '.join(src.rule)}' (arrival of {amount[s]:g} in {month}{case}), got "
            "none; give the inflow a pre_money or post_money, or pricing: [last_round, "
            "raise_policy]"
        )
    pre = price[s] * n[s]
    if src.rule[0] == "own":
        return (
            f"{src.field}: expected a valuation above the inflow's amount (a pre-money > 0), "
            f"got a pre-money of {pre:g} in {month}{case}"
        )
    who = src.name if src.item else "the policy's round"
    return (
        f"{policy_field}: expected a positive valuation for {who} in "
        f"{month}{case}, got {pre:g} (revenue is zero there?)"
    )


# --- the exit waterfall ---------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """A preferred class at the exit."""

    name: str
    shares: float  # as-converted fraction of all shares at the exit
    preference: float  # money claimed ahead of common: multiple x invested
    participating: bool = False
    rank: int = 0  # with stacked seniority, higher ranks are paid first


@dataclass(frozen=True)
class Payout:
    """How an exit value is split."""

    proceeds: tuple[float, ...]  # per claim
    common: float  # to the holders without a preference
    converts: tuple[bool, ...]  # non-participating classes that took their share instead
    price: float  # money per unit of share fraction for those sharing the residual


def _split(
    value: float, claims: Sequence[Claim], common: float, converted: Sequence[bool]
) -> Payout:
    left = max(value, 0.0)
    paid = [0.0] * len(claims)
    for rank in sorted({c.rank for c in claims}, reverse=True):
        idx = [i for i, c in enumerate(claims) if c.rank == rank and not converted[i]]
        want = math.fsum(claims[i].preference for i in idx)
        if want <= 0:
            continue
        give = min(want, left)
        for i in idx:
            paid[i] = give * claims[i].preference / want
        left -= give
    sharing = [converted[i] or c.participating for i, c in enumerate(claims)]
    base = common + math.fsum(c.shares for c, s in zip(claims, sharing, strict=True) if s)
    price = left / base if base > 0 else 0.0
    return Payout(
        tuple(
            p + (c.shares * price if s else 0.0)
            for p, c, s in zip(paid, claims, sharing, strict=True)
        ),
        common * price,
        tuple(converted),
        price,
    )


def waterfall(value: float, claims: Sequence[Claim], common: float) -> Payout:
    """Split an exit ``value`` between preferred classes and common (fraction ``common`` of
    the shares).

    Preferences of the classes that do not convert are paid first: by rank, highest first,
    and pro rata to the preferences within a rank (all one rank when pari passu). What is
    left goes to common, to the classes that converted and to participating classes, pro
    rata to their shares. A non-participating class converts when that pays it more than
    its preference; classes convert one at a time, the lowest preference per share first,
    until no class gains by converting (so each gets the larger of its preference and its
    as-converted share, given the others' choices).

    >>> c = [Claim("A", 0.2, 100.0)]
    >>> waterfall(300.0, c, 0.8).proceeds, waterfall(1000.0, c, 0.8).proceeds
    ((100.0,), (200.0,))
    """
    converted = [False] * len(claims)
    while True:
        now = _split(value, claims, common, converted)
        gains = []
        for i, c in enumerate(claims):
            if c.participating or converted[i]:
                continue
            trial = [*converted]
            trial[i] = True
            if _split(value, claims, common, trial).proceeds[i] > now.proceeds[i] * (1 + 1e-12):
                gains.append(i)
        if not gains:
            return now
        pick = min(
            gains,
            key=lambda i: claims[i].preference / claims[i].shares if claims[i].shares else math.inf,
        )
        converted[pick] = True
