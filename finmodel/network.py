"""The circle of money: who is exposed to the modelled company, and the shortfall cascade.

The graph's edges, by year, are payment obligations: the company's take-or-pay commitments
(from its scenario, mapped to parties), investors' payments into the company (the
scenario's inflows, mapped to parties), other obligations between parties (the network
file), the service of loans (an annuity, numpy-financial's ``pmt``) and partners' debt
service to creditors outside the network (a party of its own, ``outside creditors``).

Each year is cleared once (Eisenberg and Noe, 2001, :func:`clear`): every party pays in
full or pays out everything it has, pro rata to what it owes (limited liability). What a
party has is its cash at the start of the year plus its means for the year:

- the modelled company: its scenario's cash flow other than the network's payments, less
  the shock (``--shortfall``), so that with nothing shocked and everyone paying in full its
  cash follows the scenario's unfunded cash exactly;
- a partner: its other operating cash flow less its capital spending.

Unspent cash is carried to the next year; a party defaults only when its cash on hand plus
what it receives cannot meet what it owes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy_financial as npf
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from finmodel.assumptions.loader import (
    is_network,
    is_scenario,
    read_document,
    shipped_dir,
    shipped_name,
    shipped_names,
    shipped_networks,
    validate,
)
from finmodel.assumptions.schema import Sourced, slug
from finmodel.errors import ArgumentError, ArgumentTypeError, AssumptionError
from finmodel.network_schema import OUTSIDE, Network

if TYPE_CHECKING:
    from finmodel.engine.model import Model
    from finmodel.results import Results

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
TOL = 1e-9
"""Relative tolerance below which a payment counts as made in full (reporting only)."""


def load_network(path: str | Path, unit: str | None = None) -> tuple[Network, str]:
    """Load and check a network file (located errors, like assumption files).

    ``path`` is a file, or the name of a shipped network (``network-2025``). ``unit``, when
    given, is the scenario's: the network's ``unit`` must equal it (its amounts are used as
    written, never converted).
    """
    import hashlib
    import shlex

    p = _resolve_network(Path(path))
    doc = read_document(p)
    if is_scenario(doc):
        f, line = doc.where(())
        _, at = doc.where(("revenue",))
        stem = shipped_name(p) or str(path)
        nets = shipped_networks()
        raise AssumptionError(
            f"{f}:{line}: expected a network file (parties:, the scenario's counterparties: "
            f"and investors: mapped to them, obligations: and loans: between them), got a "
            f"scenario (it has revenue:, line {at}): give the scenario first and a network "
            f"file after --network, e.g. `finmodel network {shlex.quote(stem)} --network "
            f"{nets[0] if nets else 'NETWORK.yaml'}`"
            + (f" (shipped networks: {', '.join(nets)})" if len(nets) > 1 else "")
        )
    # `finmodel validate` checks a file as a network when it lists parties
    net: Network = validate(doc, Network, shown=str(path) if is_network(doc) else None)
    net._document = doc
    if unit is not None and net.unit != unit:
        f, line = doc.where(("unit",))
        given = "unit" in doc.data
        raise AssumptionError(
            f"{f}:{line or 1}: unit: expected the scenario's unit {unit!r} (a network's amounts "
            f"are used as written, not converted), got {net.unit!r}"
            + ("" if given else " (the default; add 'unit: " + unit + "')")
        )
    _check_loan_cycles(net, doc)
    h = hashlib.sha256(b"".join(f.read_bytes() for f in doc.files)).hexdigest()
    return net, h


def _resolve_network(p: Path) -> Path:
    if p.is_file():
        return p
    shipped = shipped_networks()
    stem = p.name.removesuffix(".yaml")
    if len(p.parts) == 1 and (stem in shipped or stem in shipped_names()):
        # a shipped scenario's name is read too, for load_network's message: "got a
        # scenario ... give the scenario first and a network file after --network"
        return shipped_dir() / f"{stem}.yaml"
    raise AssumptionError(
        f"{p}: no such network file (shipped networks: {', '.join(shipped) or 'none'})"
    )


def _check_loan_cycles(net: Network, doc: Any) -> None:
    """A cycle of loans among parties with no balance sheet cannot be cleared meaningfully
    (every party would pay only with what the others pay it)."""
    import networkx as nx

    g = nx.DiGraph()
    for ln in net.loans:
        g.add_edge(ln.borrower, ln.lender)
    bare = {p.name for p in net.parties if p.liquid_assets is None and p.other_cash_flow is None}
    for cycle in nx.simple_cycles(g):
        if set(cycle) <= bare:
            f, line = doc.where(("loans",))
            raise AssumptionError(
                f"{f}:{line}: loans: expected a balance sheet (liquid_assets or other_cash_flow) "
                f"for a party in the cycle of loans {' -> '.join([*cycle, cycle[0]])}, got none"
            )


# ---------------------------------------------------------------------------------------
# Clearing


def clear(liabilities: ArrayLike, means: ArrayLike, *, rtol: float = 1e-12) -> FloatArray:
    """Greatest clearing vector of Eisenberg and Noe (2001), computed exactly.

    Parameters
    ----------
    liabilities
        ``L``, shape (n, n), or (S, n, n) for one matrix per scenario: ``L[i, j]`` is what
        party ``i`` owes party ``j`` (money, >= 0, nothing owed to oneself).
    means
        ``e``, shape (n,) or (S, n): what each party has besides what the others pay it
        (cash plus income, less any spending that comes before its obligations). A negative
        value is spending the party must cover from what it receives before it pays anyone.
    rtol
        A party counts as short only if its means fall below what it owes by more than
        ``rtol`` times the scenario's largest means or obligation (rounding, not money).

    Returns
    -------
    The payments ``p``, shape (S, n) (or (n,) for a single scenario): the greatest
    solution of

        p = min(p̄, max(0, e + Πᵀ p)),   p̄ = L·1,   Π = L / p̄ (row i of Π is 0 if p̄_i = 0)

    Each party pays all it owes, or all it has, shared pro rata to what it owes (Π);
    ``(Πᵀ p)_j`` is what ``j`` receives.

    Notes
    -----
    The fictitious default algorithm of Eisenberg and Noe (2001), "Systemic risk in
    financial systems", Management Science 47(2), 236-249: start with
    everyone paying in full; each round, fix the parties paying in full at ``p̄`` and solve
    the others exactly; whoever then cannot pay in full joins them, until no one new does.
    The payments only fall from round to round, so there are at most n + 1 rounds, each
    ending on the exact solution of a linear system: no iteration to a tolerance.

    Negative means need one more state, paying nothing. Given the parties paying in full,
    the others solve ``q = max(0, a + Mq)`` (``M`` the part of ``Πᵀ`` among them, ``a``
    their means plus what the full payers pay them), a linear complementarity problem with
    a Z-matrix, solved exactly in at most n linear solves by the method of Chandrasekaran
    (1970, "A special case of the complementary pivot problem", Opsearch 7): start with
    everyone at 0 and add the parties whose value is positive. With means >= 0 this is one
    solve of the textbook system. Every scenario is solved at once (``numpy.linalg.solve``
    over the batch).

    >>> clear(np.array([[0.0, 10.0], [0.0, 0.0]]), np.array([4.0, 0.0]))
    array([4., 0.])
    >>> clear([[0, 2], [1, 0]], [[0.5, 0]])  # Eisenberg-Noe's two banks
    array([[1.5, 1. ]])
    >>> clear([[0, 1, 1e-6], [1, 0, 0], [0, 0, 0]], [0, 0, 0])  # a ring with a leak
    array([0., 0., 0.])
    """
    L, e, single = _clearing_inputs(liabilities, means)
    S, n = e.shape
    pbar = L.sum(axis=2)  # (S, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        pi = np.where(pbar[:, :, None] > 0, L / pbar[:, :, None], 0.0)
    pi_t = np.swapaxes(pi, 1, 2)  # pi_t[s, j, i] = Pi[s, i, j]: row j sums what j receives
    scale = np.maximum(np.abs(e).max(axis=1), pbar.max(axis=1))
    tol = rtol * np.where(scale > 0, scale, 1.0)[:, None]
    owes = pbar > 0
    eye = np.eye(n)

    def received(p: FloatArray) -> FloatArray:
        r: FloatArray = np.einsum("si,sij->sj", p, pi)
        return r

    full = np.ones((S, n), dtype=bool)  # paying in full (those owing nothing pay 0 = p̄)
    while True:
        fixed = np.where(full, pbar, 0.0)
        paying = np.zeros((S, n), dtype=bool)  # among the others: paying a positive part
        p = fixed
        while True:
            add = ~full & ~paying & (e + received(p) > tol)
            if not add.any():
                break
            paying |= add
            a = eye - paying[:, :, None] * pi_t
            b = np.where(paying, e, fixed)
            try:
                p = np.linalg.solve(a, b[:, :, None])[:, :, 0]
            except np.linalg.LinAlgError:
                raise AssumptionError(
                    "clear: a closed ring of parties in default with no net means of its own "
                    "has no single clearing vector (check the liabilities)"
                ) from None
        short = full & owes & (e + received(p) < pbar - tol)
        if not short.any():
            break
        full &= ~short
    out: FloatArray = np.minimum(np.maximum(p, 0.0), pbar)
    return out[0] if single else out


def _clearing_inputs(
    liabilities: ArrayLike, means: ArrayLike
) -> tuple[FloatArray, FloatArray, bool]:
    """Shapes (S, n, n) and (S, n), checked: numbers, square, finite, >= 0, nothing owed to
    oneself. A failed check is an :class:`~finmodel.errors.ArgumentError` naming
    ``liabilities`` or ``means``."""
    L = _numbers("liabilities", liabilities, "a square matrix (n, n) or a stack (S, n, n)")
    e = _numbers("means", means, "a vector (n,) or a stack (S, n)")
    if L.ndim not in (2, 3) or L.shape[-1] != L.shape[-2] or L.shape[-1] == 0:
        raise ArgumentError(
            "liabilities",
            f"expected a square matrix (n, n) or a stack (S, n, n), n >= 1, got shape {L.shape}",
        )
    n = L.shape[-1]
    if e.ndim not in (1, 2) or e.shape[-1] != n:
        raise ArgumentError(
            "means",
            f"expected shape ({n},) or (S, {n}) to match liabilities of shape {L.shape}, "
            f"got {e.shape}",
        )
    S = max(L.shape[0] if L.ndim == 3 else 1, e.shape[0] if e.ndim == 2 else 1)
    for name, x, k in (("liabilities", L, 3), ("means", e, 2)):
        if x.ndim == k and x.shape[0] not in (1, S):
            raise ArgumentError(
                name,
                f"conflicting sizes for dimension 'scenario': {S} elsewhere but "
                f"{x.shape[0]} in {name}",
            )
        if not np.isfinite(x).all():
            bad = tuple(int(i) for i in np.argwhere(~np.isfinite(x))[0])
            raise ArgumentError(
                name, f"expected a finite number, got {x[bad]}", f"{name}{list(bad)}"
            )
    if (L < 0).any():
        raise ArgumentError("liabilities", f"expected amounts >= 0, got {L.min():g}")
    if np.diagonal(L, axis1=-2, axis2=-1).any():
        raise ArgumentError("liabilities", "expected a zero diagonal, got a party owing itself")
    single = L.ndim == 2 and e.ndim == 1
    return (
        np.broadcast_to(L, (S, n, n)),
        np.ascontiguousarray(np.broadcast_to(e, (S, n))),
        single,
    )


def _numbers(name: str, x: object, shape: str) -> FloatArray:
    """The argument ``name`` as a float array, if it is numbers (nested lists or an array of
    ints or floats; not text, not bools); else an ArgumentTypeError naming it."""
    try:
        a = np.asarray(x)
    except ValueError:  # ragged nested lists
        raise ArgumentError(
            name, f"expected {shape} of numbers, got rows of unequal length"
        ) from None
    if a.dtype.kind not in "iuf" and not (a.dtype.kind == "O" and a.size == 0):
        raise ArgumentTypeError(name, f"expected {shape} of numbers, got {_shown(x)}")
    out: FloatArray = a.astype(np.float64)
    return out


def _shown(x: object) -> str:
    """A short account of a value for a message: its repr, cut at 60 characters."""
    r = repr(x)
    return r if len(r) <= 60 else r[:57] + "..."


# ---------------------------------------------------------------------------------------
# The graph


@dataclass
class CompanyCash:
    """The modelled company's money in the cascade, per scenario (S) and year (Y); ``n``
    counts the network's parties."""

    opening: FloatArray  # (S,) cash at the start of the first year
    other: FloatArray  # (S, Y) net cash flow besides the network's payments to and from it
    owes: FloatArray  # (S, Y, n) take-or-pay payments due to each party
    invests: FloatArray  # (S, Y, n) investments each party owes the company


@dataclass
class Graph:
    """Obligations by year between the network's parties (the last party is the outside
    creditors when a partner states debt service)."""

    parties: list[str]
    years: list[int]
    company: int
    L_file: FloatArray  # (Y, n, n) obligations from the network file: L[y, i, j] = i owes j
    liquid: FloatArray  # (n,) cash at the start of the first year
    other_cf: FloatArray  # (n,) other operating cash flow each year
    capex: FloatArray  # (Y, n) capital spending, paid before obligations
    revenue: FloatArray  # (n,) NaN where not given
    backlog: FloatArray  # (n,) contract value of the company's commitments to each party
    owed_items: list[tuple[str, int]]  # the company's take-or-pay lines: (item, party)
    invest_items: list[tuple[str, int, float]]  # inflows: (item, investor, share)
    base: CompanyCash  # the scenario's own values (S = 1)
    loans: list[dict[str, Any]] = field(default_factory=list)
    edges: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    money: str = ""  # the scenario's currency and unit ("USD billion"), for labels

    def index(self, name: str) -> int:
        return self.parties.index(name)

    def obligations(self, company: CompanyCash, y: int) -> FloatArray:
        """L for year index ``y`` per scenario, (S, n, n): the file's obligations plus the
        company's payments due (its row) and its investors' (its column)."""
        S = company.owes.shape[0]
        L = np.repeat(self.L_file[y][None], S, axis=0)
        L[:, self.company, :] += company.owes[:, y]
        L[:, :, self.company] += company.invests[:, y]
        return L

    @property
    def L(self) -> FloatArray:
        """(Y, n, n): every obligation of the scenario as projected."""
        return np.stack([self.obligations(self.base, y)[0] for y in range(len(self.years))])

    @property
    def invest(self) -> FloatArray:
        """(Y, n): investors' planned payments into the company."""
        out: FloatArray = self.base.invests[0]
        return out


def _by_year(path: Mapping[int, Sourced] | None, years: list[int]) -> FloatArray:
    """A path by year on ``years``: linear between the years given, flat outside."""
    if not path:
        return np.zeros(len(years))
    ks = sorted(path)
    out: FloatArray = np.interp(years, ks, [path[k].value for k in ks])
    return out


def _unmapped(
    res: Results,
    net: Network,
    where: tuple[str | int, ...],
    name: str,
    section: str,
    what: str,
) -> str:
    """The message for a name of the scenario (a counterparty, an investor) that the
    network file does not map to a party: located at the scenario's line, with the exact
    line to add to the network file and where."""
    from finmodel.assumptions.loader import located_field, yaml_entry

    parties = [p.name for p in net.parties]
    same = [p for p in parties if slug(p) == slug(name)]
    party = same[0] if same else "PARTY"
    ndoc = net._document
    head = f"{located_field(res.document, where)}: "
    indent, target = "  ", f"under `{section}:`"
    if ndoc is not None:
        nf = ndoc.files[-1]
        if section in ndoc.data:
            _, nl = ndoc.where((section,))
            target = f"under `{section}:` ({nf}:{nl})"
            entries = [k for k in ndoc.lines if len(k) == 2 and k[0] == section]
            if entries:
                ef, el = ndoc.lines[entries[0]]
                text = Path(ef).read_text(encoding="utf-8").splitlines()[el - 1]
                indent = text[: len(text) - len(text.lstrip())] or "  "
        else:
            target = f"under a new top-level `{section}:` in {nf}"
    mapped = ", ".join(sorted(getattr(net, section))) or "none"
    choose = "" if same else f", with PARTY one of {', '.join(parties)}"
    return (
        f"{head}expected {what} mapped to a party of the network (mapped: {mapped}), got "
        f"{name!r}; add the line `{yaml_entry(name, party, indent)}` {target}{choose}"
    )


def build_graph(res: Results, net: Network) -> Graph:
    """Obligations by year from the scenario (commitments, inflows) and the network file."""
    a = res.assumptions
    parties = [p.name for p in net.parties]
    if any(p.debt_service for p in net.parties):
        parties.append(OUTSIDE)
    pos = {n: i for i, n in enumerate(parties)}
    years = res.model.timeline.years
    Y, n = len(years), len(parties)
    c = pos[net.company]
    L = np.zeros((Y, n, n))
    edges: dict[tuple[str, str], list[str]] = {}
    backlog = np.zeros(n)
    mapping = {slug(k): v for k, v in net.counterparties.items()}
    owed_items: list[tuple[str, int]] = []
    for c_at, com in enumerate(a.commitments):
        k = slug(com.counterparty)
        if k not in mapping:
            where = ("commitments", c_at, "counterparty")
            raise AssumptionError(
                _unmapped(res, net, where, com.counterparty, "counterparties", "a counterparty")
            )
        j = pos[mapping[k]]
        amounts = [res.model.params[x].value for x in res.model.commitment_amounts[k]]
        backlog[j] += sum(amounts)
        if com.take_or_pay:
            owed_items.append((f"commit__{k}", j))
            edges.setdefault((net.company, mapping[k]), []).append(f"{com.counterparty} contract")
    inv_map = {slug(k): v for k, v in net.investors.items()}
    invest_items: list[tuple[str, int, float]] = []
    for f in a.funding.inflows:
        k = slug(f.name)
        # a priced round is split between its investors; other inflows map by their name
        shares = (
            [(slug(i.name), i.amount.value / f.amount.value) for i in f.investors]
            if f.investors
            else [(k, 1.0)]
        )
        for who, share in shares:
            if who not in inv_map:
                m = a.funding.inflows.index(f)
                written = next((i.name for i in f.investors if slug(i.name) == who), f.name)
                at: tuple[str | int, ...] = ("funding", "inflows", m, "name")
                if f.investors:
                    j = [slug(i.name) for i in f.investors].index(who)
                    at = ("funding", "inflows", m, "investors", j, "name")
                what = f"an investor (inflow {f.name!r})"
                raise AssumptionError(_unmapped(res, net, at, written, "investors", what))
            invest_items.append((f"inflow__{k}", pos[inv_map[who]], share))
            edges.setdefault((inv_map[who], net.company), []).append(f"{f.name} (investment)")
    for o in net.obligations:
        for y, x in o.annual.items():
            if y in years:
                L[years.index(y), pos[o.payer], pos[o.payee]] += x.value
        edges.setdefault((o.payer, o.payee), []).append(o.note or o.source or "obligation")
    loans = []
    for ln in net.loans:
        service = -float(npf.pmt(ln.rate.value, ln.years, ln.amount.value))
        first = int(ln.start[:4])
        by_year = {first + k: service for k in range(ln.years)}
        for y, svc in by_year.items():
            if y in years:
                L[years.index(y), pos[ln.borrower], pos[ln.lender]] += svc
        loans.append(
            {
                "lender": ln.lender,
                "borrower": ln.borrower,
                "amount": ln.amount.value,
                "service": service,
                "years": by_year,
                "secured_on": ln.secured_on,
            }
        )
        edges.setdefault((ln.borrower, ln.lender), []).append(f"loan of {ln.amount.value:g}")
    capex = np.zeros((Y, n))
    for i, p in enumerate(net.parties):
        capex[:, i] = _by_year(p.capex, years)
        if p.debt_service:
            L[:, i, pos[OUTSIDE]] += _by_year(p.debt_service, years)
            edges.setdefault((p.name, OUTSIDE), []).append("debt service")

    def col(attr: str, default: float) -> FloatArray:
        return np.array(
            [default if getattr(p, attr) is None else getattr(p, attr).value for p in net.parties]
            + [default] * (n - len(net.parties)),
            dtype=np.float64,
        )

    g = Graph(
        parties,
        years,
        c,
        L,
        col("liquid_assets", 0.0),
        col("other_cash_flow", 0.0),
        capex,
        col("revenue", np.nan),
        backlog,
        owed_items,
        invest_items,
        CompanyCash(np.zeros(1), np.zeros((1, Y)), np.zeros((1, Y, n)), np.zeros((1, Y, n))),
        loans,
        edges,
        f"{res.model.currency} {res.model.unit}",
    )
    g.base = company_cash(g, res.model, res.items, res.model.params.vector()[None, :])
    return g


def company_cash(
    g: Graph, model: Model, items: Mapping[str, FloatArray], inputs: FloatArray
) -> CompanyCash:
    """The company's money per scenario from its projection: ``items`` as the engine returns
    them ((T, S) or (T, 1) each) for the inputs ``inputs`` (S, K).

    With ``U_y`` the unfunded cash at the end of year y (``U_{-1}`` the opening cash),
    ``T_y`` its take-or-pay payments to the network and ``I_y`` its investors' payments:
    ``other_y = U_y - U_{y-1} - I_y + T_y``, everything else the company receives and
    spends (revenue, costs, facility draws, interest), so that paying ``T_y`` and receiving
    ``I_y`` in full gives back ``U_y``.
    """
    from finmodel.engine.evaluate import full
    from finmodel.funding import annual

    S = inputs.shape[0]
    Y, n = len(g.years), len(g.parties)
    kinds = {it.id: it.kind for it in model.items}

    def yearly(item: str) -> FloatArray:
        out: FloatArray = annual(full(items[item], S), model.timeline, kinds[item]).T
        return out

    owes = np.zeros((S, Y, n))
    for item, j in g.owed_items:
        owes[:, :, j] += yearly(item)
    invests = np.zeros((S, Y, n))
    for item, i, share in g.invest_items:
        invests[:, :, i] += share * yearly(item)
    u = yearly("cash_unfunded")
    opening = np.asarray(inputs[:, model.params.names().index("opening_cash")], dtype=np.float64)
    start = np.concatenate([opening[:, None], u[:, :-1]], axis=1)
    other = u - start - invests.sum(axis=2) + owes.sum(axis=2)
    return CompanyCash(opening, other, owes, invests)


def exposures(g: Graph) -> pd.DataFrame:
    """Per party: what it receives from the company over the horizon and a year on average,
    its backlog (contract value), the share of its revenue that depends on the company, what
    it invests in the company, and the round-trip share (investment / receipts, capped at 1)."""
    c = g.company
    received = g.L[:, c, :].sum(axis=0)
    yearly = received / len(g.years)
    invested = g.invest.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(np.isnan(g.revenue), np.nan, yearly / g.revenue)
        round_trip = np.where(received > 0, np.minimum(1.0, invested / received), np.nan)
    df = pd.DataFrame(
        {
            "receives_from_company": received,
            "per_year": yearly,
            "backlog": g.backlog,
            "share_of_revenue": share,
            "invests_in_company": invested,
            "round_trip_share": round_trip,
        },
        index=pd.Index(g.parties, name="party"),
    )
    return df.drop(index=g.parties[c])


# ---------------------------------------------------------------------------------------
# The cascade


@dataclass
class Cascade:
    """A multi-year clearing, per scenario (S), year (Y) and party (n)."""

    due: FloatArray  # (S, Y, n) what each party owed (p̄)
    payments: FloatArray  # (S, Y, n) what it paid (p)
    owed_to: FloatArray  # (S, Y, n) what was owed to it
    received: FloatArray  # (S, Y, n) what it received
    cash_start: FloatArray  # (S, Y, n) cash carried into the year
    means: FloatArray  # (S, Y, n) cash carried plus the year's means (e)
    cash_end: FloatArray  # (S, Y, n) cash carried out of the year
    unmet: FloatArray  # (S, Y, n) own spending (capex, company costs) its money did not cover
    defaulted: BoolArray  # (S, Y, n) paid less than it owed
    shock: FloatArray  # (S, Y) the company's means lost to the shock

    @property
    def shortfall_received(self) -> FloatArray:
        """(S, Y, n) what was owed to each party and did not arrive."""
        out: FloatArray = self.owed_to - self.received
        return out

    def company_shortfall(self, c: int) -> FloatArray:
        """(S, Y) what the company ``c`` owed and did not pay."""
        out: FloatArray = self.due[:, :, c] - self.payments[:, :, c]
        return out


def shock(company: CompanyCash, fraction: float | None) -> FloatArray:
    """The company's means lost each year, (S, Y): ``fraction`` of its take-or-pay
    obligations that year, or nothing. A ``fraction`` outside [0, 1] is an
    :class:`~finmodel.errors.ArgumentError` naming it (the CLI's ``--shortfall``)."""
    S, Y = company.other.shape
    if fraction is None:
        return np.zeros((S, Y))
    if not 0.0 <= fraction <= 1.0:
        raise ArgumentError("fraction", f"expected a fraction in [0, 1], got {fraction}")
    out: FloatArray = fraction * company.owes.sum(axis=2)
    return out


def cascade(g: Graph, company: CompanyCash, fraction: float | None = None) -> Cascade:
    """Clear the network year by year, carrying each party's unspent cash.

    In year y, party i starts with cash ``K_i`` (a partner's liquid assets, the company's
    opening cash in the first year) and has means

        e_i = K_i + other cash flow_i - capex_i,y           (a partner)
        e_c = K_c + other_c,y - shock_y                      (the company)

    The year is cleared (:func:`clear`) on its obligations ``L_y``; with ``r_i`` what ``i``
    receives and ``p_i`` what it pays, it carries ``K_i = max(0, e_i + r_i - p_i)`` into
    the next year. The part below zero (``unmet``) is its own spending (a partner's capex,
    the company's costs) that its money did not cover: spending outside the network, not
    a loss to any party in it.
    """
    S = company.other.shape[0]
    Y, n = len(g.years), len(g.parties)
    c = g.company
    hit = shock(company, fraction)
    cash = np.repeat(g.liquid[None], S, axis=0)
    cash[:, c] = company.opening
    out = {k: np.zeros((S, Y, n)) for k in ("due", "pay", "owed_to", "recv", "k0", "e", "k1", "un")}
    for y in range(Y):
        L = g.obligations(company, y)
        e = cash + g.other_cf - g.capex[y]
        e[:, c] = cash[:, c] + company.other[:, y] - hit[:, y]
        p = clear(L, e)
        due = L.sum(axis=2)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(due > 0, p / due, 1.0)
        recv = np.einsum("si,sij->sj", ratio, L)
        net = e + recv - p
        for k, v in (
            ("due", due),
            ("pay", p),
            ("owed_to", L.sum(axis=1)),
            ("recv", recv),
            ("k0", cash),
            ("e", e),
            ("k1", np.maximum(0.0, net)),
            ("un", np.maximum(0.0, -net)),
        ):
            out[k][:, y] = v
        cash = out["k1"][:, y].copy()
    defaulted = out["pay"] < out["due"] - TOL * np.maximum(1.0, out["due"])
    return Cascade(
        out["due"],
        out["pay"],
        out["owed_to"],
        out["recv"],
        out["k0"],
        out["e"],
        out["k1"],
        out["un"],
        defaulted,
        hit,
    )


def report(g: Graph, cas: Cascade, s: int = 0) -> dict[str, Any]:
    """Tables for scenario ``s`` of a cascade: per party, per year, cash by party and year,
    per loan, and the total loss (everything owed and not paid)."""
    c = g.company
    years = [str(y) for y in g.years]
    d = cas.defaulted[s]
    parties = pd.DataFrame(
        {
            "owed": cas.due[s].sum(axis=0),
            "paid": cas.payments[s].sum(axis=0),
            "shortfall_received": cas.shortfall_received[s].sum(axis=0),
            "cash_start": cas.cash_start[s, 0],
            "cash_end": cas.cash_end[s, -1],
            "unmet_own_spending": cas.unmet[s].sum(axis=0),
            "years_in_default": d.sum(axis=0),
            "first_default": [
                next((y for y, x in zip(years, d[:, i], strict=True) if x), None)
                for i in range(len(g.parties))
            ],
        },
        index=pd.Index(g.parties, name="party"),
    )
    parties["meets_own_obligations"] = parties["years_in_default"] == 0
    unpaid = cas.due[s] - cas.payments[s]  # (Y, n)
    by_year = pd.DataFrame(
        {
            "owed": cas.due[s].sum(axis=1),
            "paid": cas.payments[s].sum(axis=1),
            "loss": unpaid.sum(axis=1),
            "company_shock": cas.shock[s],
            "company_owed": cas.due[s, :, c],
            "company_unpaid": unpaid[:, c],
            "company_cash_end": cas.cash_end[s, :, c],
            "unmet_own_spending": cas.unmet[s].sum(axis=1),
            "defaults": d.sum(axis=1),
            "defaulted": [
                ", ".join(p for p, x in zip(g.parties, d[k], strict=True) if x)
                for k in range(len(years))
            ],
        },
        index=pd.Index(years, name="year"),
    )
    cash = pd.DataFrame(cas.cash_end[s].T, index=pd.Index(g.parties, name="party"), columns=years)
    loans = []
    for ln in g.loans:
        b = g.index(ln["borrower"])
        loss = 0.0
        for y, svc in ln["years"].items():
            if y in g.years:
                k = g.years.index(y)
                owed = cas.due[s, k, b]
                if owed > 0:
                    loss += svc * (1.0 - cas.payments[s, k, b] / owed)
        loans.append(
            {
                "lender": ln["lender"],
                "borrower": ln["borrower"],
                "amount": ln["amount"],
                "secured_on": ln["secured_on"],
                "service_lost": loss,
                "impaired": loss > TOL,
            }
        )
    total = float(unpaid.sum())
    return {
        "parties": parties,
        "years": by_year,
        "cash": cash,
        "loans": pd.DataFrame(loans),
        "total_loss": total,
    }


def monte_carlo_shortfalls(
    res: Results,
    g: Graph,
    draws: int,
    seed: int | None = None,
    fraction: float | None = None,
) -> pd.DataFrame:
    """Distribution of each party's total shortfall received over ``draws`` of the
    scenario's Monte Carlo paths (``seed``: the file's unless given): each path's company
    cash comes from its own projection (and the same ``fraction`` shock, if any)."""
    from finmodel.analysis import arguments as args
    from finmodel.analysis.montecarlo import draw, inputs_for, spec_from
    from finmodel.engine.evaluate import evaluate, evaluation_bytes

    n = args.count("draws", draws, 1, "path")
    u = res.assumptions.uncertainty
    if u is None:
        raise AssumptionError(f"{res.name}: expected an 'uncertainty' section to draw paths from")
    s = u.seed if seed is None else args.seed("seed", seed)
    spec = spec_from(res.model, u)
    # all n paths are evaluated at once: the engine's items, then the clearing's arrays
    # (parties x parties x years per path, a few of them) and the draws
    P, Y = len(g.parties), len(res.model.timeline.years)
    need = evaluation_bytes(res.model, n) + n * (6.0 * P * P * Y + 3 * len(spec.names)) * 8
    args.memory("draws", need, n, "use fewer paths")
    x = draw(spec, n, s, u.sampler)
    v = inputs_for(res.model, spec, x)
    cas = cascade(g, company_cash(g, res.model, evaluate(res.model, v), v), fraction)
    total = cas.shortfall_received.sum(axis=1)  # (S, n)
    q = np.percentile(total, [5, 50, 95], axis=0)
    return pd.DataFrame(
        {
            "mean": total.mean(axis=0),
            "p5": q[0],
            "p50": q[1],
            "p95": q[2],
            "p_any_shortfall": (total > TOL).mean(axis=0),
            "p_default": cas.defaulted.any(axis=1).mean(axis=0),
        },
        index=pd.Index(g.parties, name="party"),
    )


def received_share_lost(g: Graph, rep: dict[str, Any]) -> dict[str, float]:
    """Per party, the share of what was owed to it over the horizon that did not arrive:
    ``shortfall_received / owed_to`` (``owed_to`` the sum over years and payers of
    ``L[y, i, party]``), NaN for a party nothing was owed to."""
    owed_to = g.L.sum(axis=(0, 1))
    lost = rep["parties"]["shortfall_received"]
    return {
        p: float(lost[p] / owed_to[i]) if owed_to[i] > 0 else float("nan")
        for i, p in enumerate(g.parties)
    }


NODE_FONT = 8.0
"""Points: the size of the parties' names in the network chart."""
DEFAULT_EDGE = ("black", 4.0)
"""The outline (colour, width in points) of a party that defaulted, in the network chart."""
PLAIN_EDGE = ("#595959", 0.8)
"""The outline of any other party."""


def network_png(g: Graph, rep: dict[str, Any], path: Path) -> Path:
    """The network over the horizon, written to ``path``.

    - an arrow from payer to payee for each obligation, its width by the amount owed over
      the horizon;
    - each party's fill: the share of what was owed to it that did not arrive
      (:func:`received_share_lost`, 0 to 1, white when nothing was owed to it): what it
      lost as a creditor, not its own health;
    - a thick black outline, and the first year under its name, for a party that defaulted
      itself (paid less than it owed in at least one year): the report's
      ``years_in_default`` and ``first_default``.

    Names are wrapped at spaces and every node is made as large as the largest name; text
    is black or white, whichever contrasts more with the fill
    (:func:`~finmodel.export.chart_text.text_colour_on`). A party whose name no installed
    font can draw is labelled by its identifier (``slug``), with a footnote
    (:mod:`finmodel.export.chart_text`)."""
    import textwrap

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import networkx as nx
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    from finmodel.export.analysis_sheets import save_png
    from finmodel.export.chart_text import ChartText, text_colour_on

    ct = ChartText()
    parties = rep["parties"]
    nodes = list(g.parties)  # every mapping below is keyed by party, drawn in this order
    share = received_share_lost(g, rep)
    defaulted = {p: int(parties.at[p, "years_in_default"]) for p in nodes}
    labels = {}
    for p in nodes:
        name = "\n".join(
            textwrap.wrap(
                ct.name(p, slug(p)), width=12, break_long_words=False, break_on_hyphens=False
            )
        )
        k = defaulted[p]
        labels[p] = (
            name
            if k == 0
            else f"{name}\nin default\n{parties.at[p, 'first_default']}"
            + (f" +{k - 1}y" if k > 1 else "")
        )
    tot = g.L.sum(axis=0)
    G = nx.DiGraph()
    G.add_nodes_from(nodes)  # the layout follows the file's order of parties
    edges = [
        (a, b, float(tot[i, j]))
        for i, a in enumerate(nodes)
        for j, b in enumerate(nodes)
        if tot[i, j] > 0
    ]
    G.add_weighted_edges_from(edges)
    pos = nx.circular_layout(nodes)
    cmap = matplotlib.colormaps["YlOrRd"].with_extremes(bad="white")
    norm = Normalize(vmin=0.0, vmax=1.0)
    fills = {p: cmap(norm(share[p])) for p in nodes}
    with ct.drawing():
        # the largest name decides the nodes' size (points) and, with the number of
        # parties, the circle's: neighbours stay apart by at least half a node
        probe = Figure()  # not pyplot's: nothing to close
        r = FigureCanvasAgg(probe).get_renderer()  # type: ignore[no-untyped-call]
        dpi = probe.dpi
        ext = [
            probe.text(0, 0, labels[p], fontsize=NODE_FONT, ha="center").get_window_extent(r)
            for p in nodes
        ]
        diameter = max(40.0, max(float(np.hypot(e.width, e.height)) for e in ext) * 72 / dpi + 6)
        n = len(nodes)
        radius = max(150.0, 1.5 * diameter / (2 * np.sin(np.pi / max(n, 3))))  # points
        side = 2 * 1.3 * radius / 72  # inches: the circle, and room for curved arrows
        fig, ax = plt.subplots(figsize=(side + 3.2, side + 1.2))
        ax.set_aspect("equal")
        ax.set_xlim(-1.3, 1.3)
        ax.set_ylim(-1.3, 1.3)
        wmax = max((w for _, _, w in edges), default=1.0)
        widths = [0.6 + 5.0 * w / wmax for _, _, w in edges]
        size = diameter**2  # scatter's marker area, points squared
        nx.draw_networkx_edges(
            G,
            pos,
            ax=ax,
            edgelist=[(a, b) for a, b, _ in edges],
            nodelist=nodes,
            node_size=size,  # arrows end at the node's rim, not under it
            width=widths,
            edge_color="#6E6E6E",
            arrows=True,
            arrowstyle="-|>",
            arrowsize=[8.0 + 3.0 * w for w in widths],  # the head wider than its line
            connectionstyle="arc3,rad=0.08",
        )
        nx.draw_networkx_nodes(
            G,
            pos,
            ax=ax,
            nodelist=nodes,
            node_color=[fills[p] for p in nodes],  # RGBA: a NaN value would not be drawn
            node_size=size,
            edgecolors=[DEFAULT_EDGE[0] if defaulted[p] else PLAIN_EDGE[0] for p in nodes],
            linewidths=[DEFAULT_EDGE[1] if defaulted[p] else PLAIN_EDGE[1] for p in nodes],
        )
        for p in nodes:
            x, y = pos[p]
            # a long name at the circle's edge is not clipped by the axes
            ax.text(
                float(x),
                float(y),
                labels[p],
                fontsize=NODE_FONT,
                ha="center",
                va="center",
                multialignment="center",
                color=text_colour_on(fills[p]),
                clip_on=False,
                zorder=3,
            )
        fig.colorbar(
            ScalarMappable(norm, cmap),
            ax=ax,
            shrink=0.7,
            label="Fill: share of what was owed to the party that did not arrive",
        )
        ax.legend(
            handles=[
                Line2D(
                    [],
                    [],
                    marker="o",
                    linestyle="",
                    markersize=12,
                    markerfacecolor="white",
                    markeredgecolor=DEFAULT_EDGE[0],
                    markeredgewidth=DEFAULT_EDGE[1] * 0.6,
                    label="defaulted itself: paid less than it owed; under the name,\n"
                    "the first such year and +N: N more such years",
                ),
                Line2D(
                    [],
                    [],
                    marker="o",
                    linestyle="",
                    markersize=12,
                    markerfacecolor="white",
                    markeredgecolor=PLAIN_EDGE[0],
                    markeredgewidth=PLAIN_EDGE[1],
                    label="white fill: nothing was owed to it",
                ),
            ],
            loc="upper left",
            bbox_to_anchor=(0.0, 0.0),
            fontsize=8,
            frameon=False,
            ncols=2,
        )
        money = f" {ct.text(g.money)}" if g.money else ""
        ax.set_title(
            f"Who owes whom over the horizon: total unpaid {rep['total_loss']:,.1f}{money}\n"
            "arrow from payer to payee, width by the amount owed",
            fontsize=10,
        )
        ax.axis("off")
        fig.tight_layout(rect=(0, ct.add_footnote(fig), 1, 1))
        return save_png(fig, path, dpi=100)
