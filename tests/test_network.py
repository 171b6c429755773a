"""The circle of money: Eisenberg-Noe clearing, the cascade, exposures, errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import finmodel
from finmodel import network as nw
from finmodel.cli import app
from finmodel.errors import AssumptionError

NETWORK = Path(__file__).resolve().parent.parent / "assumptions" / "network-2025.yaml"


@pytest.mark.parametrize(
    ("L", "e", "p"),
    [
        # A owes B 10 with 4: pays 4 (limited liability)
        ([[0, 10], [0, 0]], [4, 0], [4, 0]),
        # chain: A owes B 10 with 5; B owes C 8 with 2 + 5 received: pays 7
        ([[0, 10, 0], [0, 0, 8], [0, 0, 0]], [5, 2, 0], [5, 7, 0]),
        # pro rata: A owes B 6 and C 4 with 5: pays 5 in all (3 to B, 2 to C)
        ([[0, 6, 4], [0, 0, 0], [0, 0, 0]], [5, 0, 0], [5, 0, 0]),
        # a ring with no outside money clears in full (the greatest clearing vector)
        ([[0, 10], [10, 0]], [0, 0], [10, 10]),
        # Eisenberg-Noe's two-bank example: A owes B 2, B owes A 1, e = (0.5, 0):
        # p_A = min(2, 0.5 + p_B), p_B = min(1, p_A) -> p = (1.5, 1)
        ([[0, 2], [1, 0]], [0.5, 0], [1.5, 1.0]),
        # three in a ring, one short: A owes B 10, B owes C 10, C owes A 10, e = (0, 0, 5) plus
        # C owes a sink D 10: C has 5 + p_B and owes 20; p_A = p_C / 2; p_B = p_A; p_C = 5 + p_B
        # -> p_C = 5 + p_C / 2 -> p_C = 10, p_A = p_B = 5
        ([[0, 10, 0, 0], [0, 0, 10, 0], [10, 0, 0, 10], [0, 0, 0, 0]], [0, 0, 5, 0], [5, 5, 10, 0]),
    ],
)
def test_textbook_clearing_vectors(L: list, e: list, p: list) -> None:  # type: ignore[type-arg]
    got = nw.clear(np.array(L, dtype=float), np.array([e], dtype=float))[0]
    np.testing.assert_allclose(got, p, atol=1e-9)


@st.composite
def networks(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(2, 6))
    L = np.array([[0.0 if i == j else draw(st.floats(0, 20)) for j in range(n)] for i in range(n)])
    e = np.array([draw(st.floats(0, 30)) for _ in range(n)])
    return L, e


@settings(max_examples=80, deadline=None)
@given(networks(), st.floats(0, 1))
def test_conservation_and_monotonicity(net: tuple, cut: float) -> None:  # type: ignore[type-arg]
    L, e = net
    pbar = L.sum(axis=1)
    p = nw.clear(L, e[None])[0]
    assert np.all(p <= pbar + 1e-9) and np.all(p >= -1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        pi = np.where(pbar[:, None] > 0, L / pbar[:, None], 0.0)
    received = p @ pi
    # conservation: everything paid is received by someone
    assert received.sum() == pytest.approx(p.sum(), rel=1e-9, abs=1e-9)
    # fixed point: each pays in full or everything it has (limited liability)
    np.testing.assert_allclose(p, np.minimum(pbar, np.maximum(0, e + received)), atol=1e-7)
    # less outside money for one party never increases anyone's payments
    poorer = e.copy()
    poorer[0] *= cut
    q = nw.clear(L, poorer[None])[0]
    assert np.all(q <= p + 1e-9)


def test_no_shortfall_clears_in_full() -> None:
    res = finmodel.run("openai-plan-2025q3")
    net, _ = nw.load_network(NETWORK)
    g = nw.build_graph(res, net)
    cas = nw.cascade(g, np.zeros((1, len(g.years))))
    np.testing.assert_allclose(cas.payments[0], cas.due, atol=1e-9)
    assert nw.report(g, cas)["total_loss"] == pytest.approx(0.0, abs=1e-9)


def test_larger_shortfall_never_increases_payments() -> None:
    res = finmodel.run("nvidia-pullback")
    net, _ = nw.load_network(NETWORK)
    g = nw.build_graph(res, net)
    due = g.L[:, g.company, :].sum(axis=1)
    cas = nw.cascade(g, np.outer([0.0, 0.1, 0.3, 0.6, 1.0], due))
    assert np.all(np.diff(cas.payments, axis=0) <= 1e-9)
    losses = [nw.report(g, cas, s)["total_loss"] for s in range(5)]
    assert losses == sorted(losses) and losses[0] == pytest.approx(0, abs=1e-9)


def test_scenario_shortfall_is_the_unfunded_need() -> None:
    res = finmodel.run("nvidia-pullback")
    net, _ = nw.load_network(NETWORK)
    g = nw.build_graph(res, net)
    cas = nw.cascade(g, nw.scenario_shortfall(res, g, None))
    # every partner can absorb its share, so the loss is exactly the company's unpaid need
    assert cas.company_shortfall.sum() == pytest.approx(res.metrics["peak_funding_need"])
    assert nw.report(g, cas)["total_loss"] == pytest.approx(res.metrics["peak_funding_need"])


def test_exposures_from_the_scenario() -> None:
    res = finmodel.run("openai-plan-2025q3")
    net, _ = nw.load_network(NETWORK)
    exp = nw.exposures(nw.build_graph(res, net))
    # Oracle receives what the scenario's take-or-pay Oracle contract pays within the horizon
    assert exp.at["Oracle", "receives_from_company"] == pytest.approx(
        res.annual.loc["commit_oracle"].sum()
    )
    assert exp.at["Oracle", "share_of_revenue"] == pytest.approx(exp.at["Oracle", "per_year"] / 57)
    # NVIDIA's contract is a letter of intent (not take-or-pay): its round trip is its
    # investment against what it is paid, capped at 1
    assert exp.at["NVIDIA", "invests_in_company"] == pytest.approx(
        res.annual.loc["inflow_nvidia"].sum()
    )
    assert exp.at["NVIDIA", "backlog"] == pytest.approx(300)


def test_secured_loans_are_impaired_when_the_borrower_defaults(
    write_yaml: Callable[..., Path],
) -> None:
    """Co owes Cloud 12 a year (take-or-pay); Cloud has no other money and services a loan of
    Bank: 10 at 0% over 2 years = 5 a year. Co pays 20%: Cloud receives 2.4 of 12 and pays
    Bank 2.4 of 5, so the loan loses 2.6 a year, 5.2 in all, and is impaired."""
    scen = write_yaml(
        """
        name: Co
        company: Co
        start: 2026-01
        end: 2027-12
        opening: {cash: 100}
        revenue: {annual: {2026: 0}}
        commitments: [{counterparty: Cloud, amount: 24, start: 2026-01, years: 2}]
    """,
        "co.yaml",
    )
    netf = write_yaml(
        """
        name: Small
        company: Co
        parties:
          - {name: Co}
          - {name: Cloud, liquid_assets: 0, other_cash_flow: 0}
          - {name: Bank}
        counterparties: {cloud: Cloud}
        loans:
          - {lender: Bank, borrower: Cloud, amount: 10, rate: 0, years: 2, start: 2026-01,
             secured_on: Co}
    """,
        "small.yaml",
    )
    res = finmodel.run(scen)
    net, _ = nw.load_network(netf)
    g = nw.build_graph(res, net)
    due = g.L[:, g.company, :].sum(axis=1)
    np.testing.assert_allclose(due, [12, 12])
    rep = nw.report(g, nw.cascade(g, (0.8 * due)[None]))
    loan = rep["loans"].iloc[0]
    assert loan["service_lost"] == pytest.approx(5.2) and bool(loan["impaired"])
    assert rep["parties"].at["Cloud", "paid"] == pytest.approx(4.8)
    assert rep["parties"].at["Cloud", "first_default"] == "2026"
    assert rep["total_loss"] == pytest.approx(0.8 * 24 + 5.2)


def test_a_party_missing_from_the_network_is_an_error(write_yaml: Callable[..., Path]) -> None:
    p = write_yaml(NETWORK.read_text().replace("  cerebras: Cerebras\n", ""), "net.yaml")
    net, _ = nw.load_network(p)
    with pytest.raises(AssumptionError, match=r"counterparty 'Cerebras' .* is not mapped"):
        nw.build_graph(finmodel.run("openai-plan-2025q3"), net)


def test_a_cycle_of_loans_without_balance_sheets_is_an_error(
    write_yaml: Callable[..., Path],
) -> None:
    p = write_yaml(
        """
        name: Cycle
        company: Co
        parties: [{name: Co}, {name: A}, {name: B}]
        loans:
          - {lender: A, borrower: B, amount: 10, rate: 0.05, years: 2, start: 2026-01}
          - {lender: B, borrower: A, amount: 10, rate: 0.05, years: 2, start: 2026-01}
    """,
        "cycle.yaml",
    )
    with pytest.raises(AssumptionError, match=r"cycle\.yaml:5: loans: expected a balance sheet"):
        nw.load_network(p)


def test_unknown_party_is_located(write_yaml: Callable[..., Path]) -> None:
    p = write_yaml(
        """
        name: Bad
        company: Co
        parties: [{name: Co}]
        obligations: [{payer: Co, payee: Nobody, annual: {2026: 1}}]
    """,
        "bad.yaml",
    )
    with pytest.raises(
        AssumptionError, match=r"obligations\[0\]\.payee: expected one of the parties"
    ):
        nw.load_network(p)


def test_network_cli(in_tmp: Path) -> None:
    r = CliRunner().invoke(
        app,
        [
            "network",
            "nvidia-pullback",
            "--network",
            str(NETWORK),
            "--shortfall",
            "0.3",
            "--draws",
            "200",
        ],
    )
    assert r.exit_code == 0, r.output
    for text in (
        "Exposure to the company",
        "Cascade: total loss",
        "Secured loans",
        "Shortfall received over 200 Monte Carlo paths",
    ):
        assert text in r.output
    assert (in_tmp / "outputs" / "nvidia-pullback-network-graph.png").is_file()
    from openpyxl import load_workbook

    assert (
        "Exposures" in load_workbook(in_tmp / "outputs" / "nvidia-pullback-network.xlsx").sheetnames
    )
    bad = CliRunner().invoke(
        app, ["network", "bear", "--network", str(NETWORK), "--shortfall", "2"]
    )
    assert bad.exit_code == 2 and "--shortfall: expected a fraction in [0, 1]" in bad.output
