"""The circle of money: who is exposed to the modelled company, and the shortfall cascade.

The graph's edges, by year, are payment obligations: the company's take-or-pay commitments
(from its scenario, mapped to parties), investors' payments into the company (the
scenario's inflows, mapped to parties), other obligations between parties (the network
file), and the service of loans (an annuity, numpy-financial's ``pmt``).

Clearing follows Eisenberg and Noe (2001): with nominal obligations L (i pays j), total
obligations pbar_i = sum_j L_ij and relative liabilities Pi = L / pbar, the clearing vector
is the greatest p with ``p = min(pbar, max(0, e + Pi' p))``: every party pays in full or
pays out everything it has, pro rata to what it owes (limited liability). It is found by
iterating from pbar, which decreases monotonically to the greatest fixed point, vectorised
over scenarios.

The company's own means e_c are set so that it pays ``pbar_c - shortfall`` when every
investor pays it in full: ``e_c = pbar_c - shortfall - planned investments``; if an
investor pays less, the company pays less: the circle. Other parties' means are their
liquid assets (carried from year to year) plus cash flow from the rest of their business.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy_financial as npf
import pandas as pd
from numpy.typing import NDArray

from finmodel.assumptions.loader import read_document, validate
from finmodel.assumptions.schema import slug
from finmodel.errors import AssumptionError
from finmodel.network_schema import Network

if TYPE_CHECKING:
    from finmodel.results import Results

FloatArray = NDArray[np.float64]
TOL = 1e-9


def load_network(path: str | Path) -> tuple[Network, str]:
    """Load and check a network file (located errors, like assumption files)."""
    import hashlib

    p = Path(path)
    if not p.is_file():
        raise AssumptionError(f"{p}: no such network file")
    doc = read_document(p)
    net: Network = validate(doc, Network)
    _check_loan_cycles(net, doc)
    h = hashlib.sha256(b"".join(f.read_bytes() for f in doc.files)).hexdigest()
    return net, h


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


@dataclass
class Graph:
    """Obligations by year between the network's parties."""

    parties: list[str]
    years: list[int]
    company: int
    L: FloatArray  # (Y, n, n): L[y, i, j] = what i owes j in year y
    liquid: FloatArray  # (n,)
    other_cf: FloatArray  # (n,)
    revenue: FloatArray  # (n,) NaN where not given
    invest: FloatArray  # (Y, n): investors' planned payments into the company
    backlog: FloatArray  # (n,) contract value of the company's commitments to each party
    loans: list[dict[str, Any]] = field(default_factory=list)
    edges: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    def index(self, name: str) -> int:
        return self.parties.index(name)


def build_graph(res: Results, net: Network) -> Graph:
    """Obligations by year from the scenario (commitments, inflows) and the network file."""
    a = res.assumptions
    parties = [p.name for p in net.parties]
    pos = {n: i for i, n in enumerate(parties)}
    years = res.model.timeline.years
    Y, n = len(years), len(parties)
    c = pos[net.company]
    L = np.zeros((Y, n, n))
    edges: dict[tuple[str, str], list[str]] = {}
    annual = res.annual
    backlog = np.zeros(n)
    mapping = {slug(k): v for k, v in net.counterparties.items()}
    for com in a.commitments:
        k = slug(com.counterparty)
        if k not in mapping:
            raise AssumptionError(
                f"counterparties: the scenario's counterparty {com.counterparty!r} ({k}) is not "
                f"mapped to a party of the network ({', '.join(sorted(mapping)) or 'none mapped'})"
            )
        j = pos[mapping[k]]
        amounts = [res.model.params[x].value for x in res.model.commitment_amounts[k]]
        backlog[j] += sum(amounts)
        if com.take_or_pay:
            L[:, c, j] += annual.loc[f"commit_{k}"].to_numpy(dtype=float)
            edges.setdefault((net.company, mapping[k]), []).append(f"{com.counterparty} contract")
    invest = np.zeros((Y, n))
    inv_map = {slug(k): v for k, v in net.investors.items()}
    for f in a.funding.inflows:
        k = slug(f.name)
        flows = annual.loc[f"inflow_{k}"].to_numpy(dtype=float)
        # a priced round is split between its investors; other inflows map by their name
        shares = (
            [(slug(i.name), i.amount.value / f.amount.value) for i in f.investors]
            if f.investors
            else [(k, 1.0)]
        )
        for who, share in shares:
            if who not in inv_map:
                raise AssumptionError(
                    f"investors: the scenario's investor {who!r} (inflow {f.name!r}) is not "
                    f"mapped to a party of the network ({', '.join(sorted(inv_map)) or 'none'})"
                )
            i = pos[inv_map[who]]
            invest[:, i] += share * flows
            L[:, i, c] += share * flows
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

    def col(attr: str, default: float) -> FloatArray:
        return np.array(
            [default if getattr(p, attr) is None else getattr(p, attr).value for p in net.parties],
            dtype=np.float64,
        )

    return Graph(
        parties,
        years,
        c,
        L,
        col("liquid_assets", 0.0),
        col("other_cash_flow", 0.0),
        col("revenue", np.nan),
        invest,
        backlog,
        loans,
        edges,
    )


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


def clear(L: FloatArray, e: FloatArray, max_iter: int = 100_000) -> FloatArray:
    """Eisenberg-Noe greatest clearing vector for obligations L (n, n) and means e (S, n).

    >>> clear(np.array([[0.0, 10.0], [0.0, 0.0]]), np.array([[4.0, 0.0]]))
    array([[4., 0.]])
    """
    pbar = L.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        pi = np.where(pbar[:, None] > 0, L / pbar[:, None], 0.0)
    p = np.broadcast_to(pbar, e.shape).copy()
    for _ in range(max_iter):
        new: FloatArray = np.minimum(pbar, np.maximum(0.0, e + p @ pi))
        if np.max(np.abs(new - p), initial=0.0) <= 1e-13 * max(1.0, float(pbar.max(initial=0))):
            return new
        p = new
    return p


@dataclass
class Cascade:
    payments: FloatArray  # (S, Y, n) what each party paid
    due: FloatArray  # (Y, n) what each party owed
    shortfall_received: FloatArray  # (S, Y, n)
    defaulted: NDArray[np.bool_]  # (S, Y, n)
    company_shortfall: FloatArray  # (S, Y)


def cascade(g: Graph, shortfall: FloatArray) -> Cascade:
    """Clear the network year by year; ``shortfall`` (S, Y) is what the company cannot pay."""
    S, Y, n = shortfall.shape[0], len(g.years), len(g.parties)
    c = g.company
    cash = np.broadcast_to(g.liquid, (S, n)).copy()
    pays = np.zeros((S, Y, n))
    short = np.zeros((S, Y, n))
    due = g.L.sum(axis=2)
    for y in range(Y):
        L = g.L[y]
        e = cash + g.other_cf
        e[:, c] = due[y, c] - np.minimum(shortfall[:, y], due[y, c]) - g.invest[y].sum()
        p = clear(L, e)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(due[y] > 0, p / due[y], 1.0)  # (S, n)
        received = ratio @ L  # what each party receives
        short[:, y] = L.sum(axis=0) - received
        pays[:, y] = p
        cash = np.maximum(0.0, e + received - p)
        cash[:, c] = 0.0
    defaulted = pays < due[None] - TOL * np.maximum(1.0, due[None])
    return Cascade(pays, due, short, defaulted, np.minimum(shortfall, due[:, c][None]))


def report(g: Graph, cas: Cascade, s: int = 0) -> dict[str, Any]:
    """Tables for scenario ``s`` of a cascade: per party and per loan, and the total loss."""
    parties = pd.DataFrame(
        {
            "owed": cas.due.sum(axis=0),
            "paid": cas.payments[s].sum(axis=0),
            "shortfall_received": cas.shortfall_received[s].sum(axis=0),
            "years_in_default": cas.defaulted[s].sum(axis=0),
            "first_default": [
                next(
                    (str(y) for y, d in zip(g.years, cas.defaulted[s][:, i], strict=True) if d),
                    None,
                )
                for i in range(len(g.parties))
            ],
        },
        index=pd.Index(g.parties, name="party"),
    )
    parties["meets_own_obligations"] = parties["years_in_default"] == 0
    loans = []
    for ln in g.loans:
        b = g.index(ln["borrower"])
        loss = 0.0
        for y, due in ln["years"].items():
            if y in g.years:
                k = g.years.index(y)
                owed = cas.due[k, b]
                if owed > 0:
                    loss += due * (1.0 - cas.payments[s, k, b] / owed)
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
    total = float((cas.due[None] - cas.payments).sum(axis=(1, 2))[s])
    return {"parties": parties, "loans": pd.DataFrame(loans), "total_loss": total}


def scenario_shortfall(res: Results, g: Graph, fraction: float | None) -> FloatArray:
    """What the company cannot pay each year, (1, Y): a fraction of its obligations, or the
    scenario's new funding need that year (the money it lacks if nothing is raised)."""
    due = g.L[:, g.company, :].sum(axis=1) + 0.0
    if fraction is not None:
        if not 0.0 <= fraction <= 1.0:
            raise AssumptionError(f"--shortfall: expected a fraction in [0, 1], got {fraction}")
        short: FloatArray = (fraction * due)[None, :]
        return short
    need = res.annual.loc["funding_need"].to_numpy(dtype=float)
    out: FloatArray = need[None, :]
    return out


def monte_carlo_shortfalls(res: Results, g: Graph, n: int, seed: int | None = None) -> pd.DataFrame:
    """Distribution of each party's total shortfall received when the company's yearly
    shortfall is its new funding need on each path of the scenario's Monte Carlo."""
    from finmodel.analysis.montecarlo import draw, inputs_for, spec_from
    from finmodel.engine.evaluate import evaluate, full
    from finmodel.funding import annual

    u = res.assumptions.uncertainty
    if u is None:
        raise AssumptionError(f"{res.name}: --draws: expected an 'uncertainty' section")
    spec = spec_from(res.model, u)
    x = draw(spec, n, u.seed if seed is None else seed, u.sampler)
    v = inputs_for(res.model, spec, x)
    items = evaluate(res.model, v)
    need = annual(full(items["funding_need"], n), res.model.timeline, "flow").T  # (S, Y)
    cas = cascade(g, need)
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


def network_png(g: Graph, rep: dict[str, Any], path: Path) -> Path:
    """The network: edge widths by amount owed over the horizon, parties coloured by stress
    (share of what was owed to them that did not arrive)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import networkx as nx

    from finmodel.export.analysis_sheets import save_png

    G = nx.DiGraph()
    tot = g.L.sum(axis=0)
    for i, a in enumerate(g.parties):
        G.add_node(a)
        for j, b in enumerate(g.parties):
            if tot[i, j] > 0:
                G.add_edge(a, b, weight=float(tot[i, j]))
    parties = rep["parties"]
    owed_to = g.L.sum(axis=(0, 1))
    stress = [
        float(parties.at[p, "shortfall_received"] / owed_to[i]) if owed_to[i] > 0 else 0.0
        for i, p in enumerate(g.parties)
    ]
    pos = nx.circular_layout(G)
    fig, ax = plt.subplots(figsize=(10, 8))
    wmax = max((d["weight"] for _, _, d in G.edges(data=True)), default=1.0)
    nx.draw_networkx_edges(
        G,
        pos,
        ax=ax,
        width=[0.5 + 8 * d["weight"] / wmax for _, _, d in G.edges(data=True)],
        edge_color="#7F7F7F",
        arrows=True,
        arrowsize=12,
        connectionstyle="arc3,rad=0.08",
    )
    nodes = nx.draw_networkx_nodes(
        G,
        pos,
        ax=ax,
        node_color=stress,
        cmap="RdYlGn_r",
        vmin=0,
        vmax=max(0.3, max(stress)),
        node_size=1600,
    )
    nx.draw_networkx_labels(G, pos, ax=ax, font_size=8)
    fig.colorbar(nodes, ax=ax, label="share of what was owed to it that did not arrive")
    ax.set_title(f"Obligations over the horizon (total loss {rep['total_loss']:,.1f})")
    ax.axis("off")
    fig.tight_layout()
    return save_png(fig, path, dpi=100)
