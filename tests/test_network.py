"""The circle of money: exact Eisenberg-Noe clearing, the multi-year cascade with cash
carried, exposures, errors."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog
from typer.testing import CliRunner

import finmodel
from finmodel import network as nw
from finmodel.cli import app
from finmodel.errors import ArgumentError, ArgumentTypeError, AssumptionError

NETWORK = Path(__file__).resolve().parent.parent / "assumptions" / "network-2025.yaml"


# ---------------------------------------------------------------------------------------
# Clearing


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
        # the issue's case: A and B owe each other 1 with no outside money, A also owes C 1e-6.
        # p_B = min(1, p_A / (1 + 1e-6)), p_A = min(1 + 1e-6, p_B): the only fixed point is 0
        # (fixed-point iteration stopped at 0.951 after 100,000 steps)
        ([[0, 1, 1e-6], [1, 0, 0], [0, 0, 0]], [0, 0, 0], [0, 0, 0]),
        # negative means (spending before obligations): A and B owe each other 1, e = (0.5,
        # -0.5): p_A = 1 needs p_B >= 0.5; p_B = -0.5 + p_A = 0.5 -> (1, 0.5)
        ([[0, 1], [1, 0]], [0.5, -0.5], [1, 0.5]),
        # both deep under water: nobody pays (p = max(0, -5 + p_other) -> 0)
        ([[0, 1], [1, 0]], [-5, -5], [0, 0]),
        # C owes A 6 and has 10: pays 6; A must spend 2 first, owes B 10: pays 6 - 2 = 4
        ([[0, 10, 0], [0, 0, 0], [6, 0, 0]], [-2, 0, 10], [4, 0, 6]),
    ],
)
def test_textbook_clearing_vectors(L: list, e: list, p: list) -> None:  # type: ignore[type-arg]
    got = nw.clear(np.array(L, dtype=float), np.array([e], dtype=float))[0]
    np.testing.assert_allclose(got, p, atol=1e-12)


def test_the_issue_ring_is_exactly_zero_and_public() -> None:
    p = finmodel.clear([[0, 1, 1e-6], [1, 0, 0], [0, 0, 0]], [0, 0, 0])
    assert p.shape == (3,) and np.all(p == 0.0)
    # the closed ring without the leak pays in full
    np.testing.assert_array_equal(finmodel.clear([[0, 1], [1, 0]], [0, 0]), [1, 1])


def _pi(L: np.ndarray) -> np.ndarray:
    pbar = L.sum(axis=1)
    return np.divide(L, pbar[:, None], out=np.zeros_like(L), where=pbar[:, None] > 0)


def _phi(L: np.ndarray, e: np.ndarray, p: np.ndarray) -> np.ndarray:
    """The clearing map min(p̄, max(0, e + Πᵀp)), written here independently."""
    return np.minimum(L.sum(axis=1), np.maximum(0.0, e + p @ _pi(L)))


def _all_fixed_points(L: np.ndarray, e: np.ndarray) -> list[np.ndarray]:
    """Every clearing vector with a non-singular linear system, by brute force: each party
    pays in full, pays a part (p_i = e_i + received_i) or nothing; solve each of the 3^n
    systems and keep the solutions the clearing map sends to themselves."""
    n = len(e)
    pbar, pi = L.sum(axis=1), _pi(L)
    out = []
    for states in itertools.product(range(3), repeat=n):
        a, b = np.eye(n), np.zeros(n)
        for i, s in enumerate(states):
            if s == 0:
                b[i] = pbar[i]
            elif s == 1:
                a[i] -= pi[:, i]
                b[i] = e[i]
        try:
            p = np.linalg.solve(a, b)
        except np.linalg.LinAlgError:
            continue
        if np.allclose(_phi(L, e, p), p, rtol=0, atol=1e-9):
            out.append(p)
    return out


@st.composite
def networks(
    draw: st.DrawFn, n_max: int = 6, negative: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(2, n_max))
    if draw(st.booleans()):  # small integers: exact ties, rings, parties owing nothing
        amount = st.integers(0, 3).map(float)
        mean = st.integers(-3 if negative else 0, 4).map(float)
    else:
        amount = st.one_of(st.just(0.0), st.floats(0.01, 20))
        mean = st.floats(-15 if negative else 0, 30)
    L = np.array([[0.0 if i == j else draw(amount) for j in range(n)] for i in range(n)])
    e = np.array([draw(mean) for _ in range(n)])
    return L, e


def _scale(L: np.ndarray, e: np.ndarray) -> float:
    return max(1.0, float(np.abs(e).max()), float(L.sum(axis=1).max()))


@settings(max_examples=150, deadline=None)
@given(networks())
def test_clearing_is_a_fixed_point_within_1e12(net: tuple) -> None:  # type: ignore[type-arg]
    L, e = net
    p = nw.clear(L, e)
    assert np.all(p >= 0) and np.all(p <= L.sum(axis=1))
    assert np.max(np.abs(_phi(L, e, p) - p)) <= 1e-12 * _scale(L, e)


@settings(max_examples=120, deadline=None)
@given(networks(n_max=4))
def test_clearing_is_the_greatest_by_brute_force(net: tuple) -> None:  # type: ignore[type-arg]
    """Against every clearing vector found by enumerating the 3^n payment states."""
    L, e = net
    p = nw.clear(L, e)
    fixed = _all_fixed_points(L, e)
    assert fixed, "the greatest clearing vector has a non-singular system"
    assert all(np.all(p >= q - 1e-9 * _scale(L, e)) for q in fixed)
    assert min(np.max(np.abs(p - q)) for q in fixed) <= 1e-9 * _scale(L, e)


@settings(max_examples=120, deadline=None)
@given(networks(negative=False))
def test_clearing_is_the_greatest_by_linear_programming(net: tuple) -> None:  # type: ignore[type-arg]
    """Eisenberg and Noe (2001, Lemma 4): with e >= 0 the greatest clearing vector is the
    solution of max 1'p subject to p <= e + Πᵀp and 0 <= p <= p̄ (scipy's HiGHS)."""
    L, e = net
    n = len(e)
    lp = linprog(
        -np.ones(n),
        A_ub=np.eye(n) - _pi(L).T,
        b_ub=e,
        bounds=list(zip(np.zeros(n), L.sum(axis=1), strict=True)),
        method="highs",
    )
    assert lp.status == 0
    np.testing.assert_allclose(nw.clear(L, e), lp.x, rtol=0, atol=1e-7 * _scale(L, e))


def test_fixed_point_iteration_from_above_converges_to_it() -> None:
    """Iterating the clearing map from p̄ stays above the greatest clearing vector and falls
    to it (Tarski/Kleene). On 400 random systems of 2 to 6 parties (amounts 0 or at least
    0.1, means of either sign), 20,000 steps, batched, end within 1e-9."""
    rng = np.random.default_rng(11)
    S, n = 400, 6
    size = rng.integers(2, n + 1, S)
    L = rng.uniform(0.1, 20, (S, n, n)) * (rng.uniform(size=(S, n, n)) < 0.6)
    e = rng.normal(3, 8, (S, n))
    for s in range(S):
        L[s, size[s] :, :] = L[s, :, size[s] :] = e[s, size[s] :] = 0.0
        np.fill_diagonal(L[s], 0.0)
    p = nw.clear(L, e)
    pbar = L.sum(axis=2)
    pi = np.divide(L, pbar[:, :, None], out=np.zeros_like(L), where=pbar[:, :, None] > 0)
    q, lowest = pbar.copy(), np.inf
    for _ in range(20_000):
        q = np.minimum(pbar, np.maximum(0.0, e + np.einsum("si,sij->sj", q, pi)))
        lowest = min(lowest, float((q - p).min()))
    assert lowest >= -1e-9
    assert float(np.abs(q - p).max()) <= 1e-9


@settings(max_examples=60, deadline=None)
@given(networks(), st.floats(0, 1))
def test_conservation_and_monotonicity(net: tuple, cut: float) -> None:  # type: ignore[type-arg]
    L, e = net
    p = nw.clear(L, e)
    received = p @ _pi(L)
    # conservation: everything paid is received by someone
    assert received.sum() == pytest.approx(p.sum(), rel=1e-9, abs=1e-9)
    # less outside money for one party never increases anyone's payments
    poorer = e.copy()
    poorer[0] -= (1 - cut) * (abs(e[0]) + 1)
    q = nw.clear(L, poorer)
    assert np.all(q <= p + 1e-9 * _scale(L, e))


def test_a_batch_is_each_scenario_alone() -> None:
    rng = np.random.default_rng(7)
    n, S = 6, 40
    L = rng.uniform(0, 10, (S, n, n)) * (rng.uniform(size=(S, n, n)) < 0.5)
    for s in range(S):
        np.fill_diagonal(L[s], 0.0)
    e = rng.normal(2, 6, (S, n))
    batch = nw.clear(L, e)
    alone = np.stack([nw.clear(L[s], e[s]) for s in range(S)])
    np.testing.assert_array_equal(batch, alone)
    # one matrix for every scenario broadcasts
    np.testing.assert_array_equal(nw.clear(L[0], e), np.stack([nw.clear(L[0], x) for x in e]))


@pytest.mark.parametrize(
    ("L", "e", "message"),
    [
        ([[0, 1, 2], [0, 0, 0]], [0, 0, 0], "liabilities: expected a square matrix"),
        ([], [], r"liabilities: expected a square matrix .* n >= 1, got shape \(0,\)"),
        ([[0, 1], [0, 0]], [0, 0, 0], r"means: expected shape \(2,\) or \(S, 2\)"),
        ([[0, -1], [0, 0]], [0, 0], "liabilities: expected amounts >= 0, got -1"),
        ([[1, 1], [0, 0]], [0, 0], "liabilities: expected a zero diagonal"),
        ([[0, np.nan], [0, 0]], [0, 0], r"liabilities\[0, 1\]: expected a finite number, got nan"),
        ([[0, 1], [0, 0]], [np.inf, 0], r"means\[0\]: expected a finite number, got inf"),
        (
            np.zeros((3, 2, 2)),
            np.zeros((2, 2)),
            "means: conflicting sizes for dimension 'scenario': 3 elsewhere but 2 in means",
        ),
        ([[0, 1], [0]], [0, 0], "liabilities: expected .* got rows of unequal length"),
    ],
)
def test_bad_clearing_inputs(L: object, e: object, message: str) -> None:
    """Each refusal names the argument at fault (and the entry, for a value)."""
    with pytest.raises(ArgumentError, match=f"^{message}") as err:
        nw.clear(L, e)  # type: ignore[arg-type]
    assert err.value.argument == message.split(":")[0].split("\\")[0]


@pytest.mark.parametrize(
    ("L", "e", "argument"),
    [
        ([[0, "a"], [0, 0]], [0, 0], "liabilities"),
        (None, [0], "liabilities"),
        ([[0, 1], [0, 0]], [True, False], "means"),
        ([[0, 1], [0, 0]], "10", "means"),
    ],
)
def test_clearing_inputs_that_are_not_numbers(L: object, e: object, argument: str) -> None:
    with pytest.raises(ArgumentTypeError, match=f"^{argument}: expected .* of numbers, got"):
        nw.clear(L, e)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------
# The multi-year cascade

SMALL_SCENARIO = """
    name: Co
    company: Co
    start: 2026-01
    end: 2028-12
    opening: {cash: 30}
    revenue: {annual: {2026: 0}}
    commitments: [{counterparty: Cloud, amount: 30, start: 2026-01, years: 3}]
"""

SMALL_NETWORK = """
    name: Small
    company: Co
    parties:
      - {name: Co}
      - {name: Cloud, liquid_assets: 2, other_cash_flow: 0, debt_service: {2026: 1}}
      - {name: Dev, liquid_assets: 7, other_cash_flow: 0, capex: {2026: 1}}
      - {name: Bank}
      - {name: Bank2}
    counterparties: {cloud: Cloud}
    obligations: [{payer: Dev, payee: Bank2, annual: {2026: 4, 2027: 4, 2028: 4}}]
    loans: [{lender: Bank, borrower: Cloud, amount: 12, rate: 0, years: 3, start: 2026-01}]
"""


def _small(write_yaml: Callable[..., Path]) -> tuple[nw.Graph, finmodel.Results]:
    res = finmodel.run(write_yaml(SMALL_SCENARIO, "co.yaml"))
    net, _ = nw.load_network(write_yaml(SMALL_NETWORK, "small.yaml"))
    return nw.build_graph(res, net), res


def test_cash_is_carried_from_year_to_year(write_yaml: Callable[..., Path]) -> None:
    """By hand. Co: opening cash 30, no revenue, owes Cloud 10 a year (take-or-pay), so its
    unfunded cash is 20, 10, 0. Cloud: cash 2, owes Bank 4 a year (12 at 0% over 3 years)
    and 1 a year of debt service to the outside creditors. Dev: cash 7, spends 1 a year on
    capex, owes Bank2 4 a year.

    Without a shock: Co pays 10 a year from its cash (20, 10, 0 left). Cloud: 2 + 10 - 5 = 7,
    then 12, then 17. Dev: 7 - 1 = 6, pays 4, 2 left; 2 - 1 = 1, pays 1 of 4 (defaults in
    2027); then -1: pays nothing, 1 of capex uncovered (defaults in 2028)."""
    g, res = _small(write_yaml)
    assert g.parties[-1] == "outside creditors"
    cas = nw.cascade(g, g.base)
    rep = nw.report(g, cas)
    cash = rep["cash"]
    np.testing.assert_allclose(cash.loc["Co"], [20, 10, 0], atol=1e-12)
    # with no shock and no default owed to it, the company's cash is its scenario's
    np.testing.assert_allclose(cash.loc["Co"], res.annual.loc["cash_unfunded"], atol=1e-9)
    np.testing.assert_allclose(cash.loc["Cloud"], [7, 12, 17], atol=1e-12)
    np.testing.assert_allclose(cash.loc["Dev"], [2, 0, 0], atol=1e-12)
    np.testing.assert_allclose(cash.loc["outside creditors"], [1, 2, 3], atol=1e-12)
    np.testing.assert_allclose(cas.payments[0, :, g.index("Dev")], [4, 1, 0], atol=1e-12)
    np.testing.assert_allclose(cas.unmet[0, :, g.index("Dev")], [0, 0, 1], atol=1e-12)
    parties = rep["parties"]
    assert parties.at["Cloud", "meets_own_obligations"]
    assert parties.at["Dev", "first_default"] == "2027"
    assert parties.at["Dev", "years_in_default"] == 2
    assert parties.at["Bank2", "shortfall_received"] == pytest.approx(3 + 4)
    years = rep["years"]
    np.testing.assert_allclose(years["loss"], [0, 3, 4], atol=1e-12)
    assert list(years["defaulted"]) == ["", "Dev", "Dev"]
    assert rep["total_loss"] == pytest.approx(7)


def test_a_shock_is_absorbed_by_cash_until_it_runs_out(write_yaml: Callable[..., Path]) -> None:
    """By hand, --shortfall 0.5: Co's means fall 5 a year short. 2026: 30 - 5 = 25, pays 10,
    15 left. 2027: 15 - 5 = 10, pays 10, 0 left. 2028: 0 - 5 < 0: pays nothing of its 10,
    and 5 of its own costs go uncovered. Cloud, with its cash carried, still pays in 2028
    (12 + 0 - 5 = 7); without carrying its cash it would have had nothing that year."""
    g, _ = _small(write_yaml)
    rep = nw.report(g, nw.cascade(g, g.base, 0.5))
    np.testing.assert_allclose(rep["cash"].loc["Co"], [15, 0, 0], atol=1e-12)
    np.testing.assert_allclose(rep["cash"].loc["Cloud"], [7, 12, 7], atol=1e-12)
    years = rep["years"]
    np.testing.assert_allclose(years["company_shock"], [5, 5, 5], atol=1e-12)
    np.testing.assert_allclose(years["company_unpaid"], [0, 0, 10], atol=1e-12)
    np.testing.assert_allclose(years["unmet_own_spending"], [0, 0, 5 + 1], atol=1e-12)
    np.testing.assert_allclose(years["loss"], [0, 3, 10 + 4], atol=1e-12)
    assert list(years["defaulted"]) == ["", "Dev", "Co, Dev"]
    assert rep["parties"].at["Co", "first_default"] == "2028"
    assert rep["parties"].at["Cloud", "meets_own_obligations"]
    assert rep["parties"].at["Cloud", "shortfall_received"] == pytest.approx(10)


def test_a_company_short_of_cash_leaves_its_funding_need_unpaid(
    write_yaml: Callable[..., Path],
) -> None:
    """Opening cash 5, owes Cloud 12 a year for two years, no revenue: it pays 5 of 12 in
    2026 and nothing in 2027. What it leaves unpaid, 7 + 12 = 19, is its peak funding need
    with no buffer (-U at the end)."""
    scen = write_yaml(
        """
        name: Short
        company: Co
        start: 2026-01
        end: 2027-12
        opening: {cash: 5}
        revenue: {annual: {2026: 0}}
        commitments: [{counterparty: Cloud, amount: 24, start: 2026-01, years: 2}]
    """,
        "short.yaml",
    )
    res = finmodel.run(scen)
    net, _ = nw.load_network(write_yaml(SMALL_NETWORK, "small.yaml"))
    g = nw.build_graph(res, net)
    rep = nw.report(g, nw.cascade(g, g.base))
    np.testing.assert_allclose(rep["years"]["company_unpaid"], [7, 12], atol=1e-12)
    assert rep["years"]["company_unpaid"].sum() == pytest.approx(res.metrics["peak_funding_need"])


def test_money_is_conserved_and_the_company_follows_its_scenario() -> None:
    """On a shipped scenario and network, whatever the monthly spreading: each year every
    payment is received (sum p = sum r); each party's cash carried is what it had plus what
    it received less what it paid, with uncovered spending below zero; and the company's
    cash is its scenario's unfunded cash corrected by what the network changed:
    K_y = U_y - sum(shock) - sum(investments not received) + sum(obligations not paid)
          + sum(own costs not covered)."""
    res = finmodel.run("openai-plan-2026q1")
    net, _ = nw.load_network(NETWORK)
    g = nw.build_graph(res, net)
    c = g.company
    for fraction in (None, 0.3, 1.0):
        cas = nw.cascade(g, g.base, fraction)
        scale = 1e-9 * max(1.0, float(cas.due.max()))
        np.testing.assert_allclose(
            cas.payments.sum(axis=2), cas.received.sum(axis=2), rtol=0, atol=scale
        )
        np.testing.assert_allclose(
            cas.cash_end - cas.unmet, cas.means + cas.received - cas.payments, atol=scale
        )
        np.testing.assert_allclose(cas.cash_start[:, 1:], cas.cash_end[:, :-1], atol=0)
        u = res.annual.loc["cash_unfunded"].to_numpy()
        not_received = np.cumsum(cas.shortfall_received[0, :, c], axis=0)
        not_paid = np.cumsum(cas.company_shortfall(c)[0], axis=0)
        expected = (
            u
            - np.cumsum(cas.shock[0])
            - not_received
            + not_paid
            + np.cumsum(cas.unmet[0, :, c], axis=0)
        )
        np.testing.assert_allclose(cas.cash_end[0, :, c], expected, atol=scale)


def test_no_shock_and_solvent_partners_clear_in_full() -> None:
    res = finmodel.run("openai-plan-2025q3")
    net, _ = nw.load_network(NETWORK)
    g = nw.build_graph(res, net)
    cas = nw.cascade(g, g.base)
    np.testing.assert_allclose(cas.payments[0], cas.due[0], atol=1e-9)
    assert nw.report(g, cas)["total_loss"] == pytest.approx(0.0, abs=1e-9)


def test_larger_shock_never_increases_payments() -> None:
    res = finmodel.run("nvidia-pullback")
    net, _ = nw.load_network(NETWORK)
    g = nw.build_graph(res, net)
    pays = [nw.cascade(g, g.base, f).payments[0] for f in (0.0, 0.1, 0.3, 0.6, 1.0)]
    assert all(np.all(b <= a + 1e-9) for a, b in itertools.pairwise(pays))
    losses = [nw.report(g, nw.cascade(g, g.base, f))["total_loss"] for f in (0.0, 0.5, 1.0)]
    assert losses == sorted(losses)


def test_monte_carlo_paths_each_use_their_own_cash() -> None:
    """The paths go through the same cascade as a single run: a path whose inputs are the
    file's gives the single run's shortfalls."""
    res = finmodel.run("openai-plan-2026q1")
    net, _ = nw.load_network(NETWORK)
    g = nw.build_graph(res, net)
    v = np.repeat(res.model.params.vector()[None, :], 3, axis=0)
    from finmodel.engine.evaluate import evaluate

    company = nw.company_cash(g, res.model, evaluate(res.model, v), v)
    for k in ("other", "owes", "invests"):
        np.testing.assert_allclose(getattr(company, k)[1], getattr(g.base, k)[0], atol=1e-12)
    mc = nw.monte_carlo_shortfalls(res, g, 200, seed=3)
    assert (mc["p5"] <= mc["p50"]).all() and (mc["p50"] <= mc["p95"]).all()
    assert mc.loc["SoftBank", "p_default"] == pytest.approx(1.0)  # its 2026 round is fixed


def test_exposures_from_the_scenario() -> None:
    res = finmodel.run("openai-plan-2025q3")
    net, _ = nw.load_network(NETWORK)
    exp = nw.exposures(nw.build_graph(res, net))
    # Oracle receives what the scenario's take-or-pay Oracle contract pays within the horizon
    assert exp.at["Oracle", "receives_from_company"] == pytest.approx(
        res.annual.loc["commit__oracle"].sum()
    )
    assert exp.at["Oracle", "share_of_revenue"] == pytest.approx(exp.at["Oracle", "per_year"] / 57)
    # NVIDIA's contract is a letter of intent (not take-or-pay): its round trip is its
    # investment against what it is paid, capped at 1
    assert exp.at["NVIDIA", "invests_in_company"] == pytest.approx(
        res.annual.loc["inflow__nvidia"].sum()
    )
    assert exp.at["NVIDIA", "backlog"] == pytest.approx(300)


def test_secured_loans_are_impaired_when_the_borrower_defaults(
    write_yaml: Callable[..., Path],
) -> None:
    """Co owes Cloud 12 a year (take-or-pay) with no cash and 2.4 of revenue a year, so it
    pays 2.4. Cloud has no other money and services a loan of Bank: 10 at 0% over 2 years
    = 5 a year. Cloud receives 2.4 of 12 and pays Bank 2.4 of 5, so the loan loses 2.6 a
    year, 5.2 in all, and is impaired."""
    scen = write_yaml(
        """
        name: Co
        company: Co
        start: 2026-01
        end: 2027-12
        opening: {cash: 0}
        revenue: {annual: {2026: 2.4, 2027: 2.4}}
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
    np.testing.assert_allclose(g.L[:, g.company, :].sum(axis=1), [12, 12])
    rep = nw.report(g, nw.cascade(g, g.base))
    loan = rep["loans"].iloc[0]
    assert loan["service_lost"] == pytest.approx(5.2) and bool(loan["impaired"])
    assert rep["parties"].at["Cloud", "paid"] == pytest.approx(4.8)
    assert rep["parties"].at["Cloud", "first_default"] == "2026"
    assert rep["total_loss"] == pytest.approx(2 * 9.6 + 5.2)


def test_partner_paths_by_year_interpolate_and_hold(write_yaml: Callable[..., Path]) -> None:
    net, _ = nw.load_network(
        write_yaml(
            """
            name: Paths
            company: Co
            parties:
              - {name: Co}
              - {name: P, capex: {2026: 2, 2028: 6}, debt_service: {2027: 1}}
            counterparties: {cloud: P}
        """,
            "paths.yaml",
        )
    )
    g = nw.build_graph(finmodel.run(_scenario_2025_2029(write_yaml)), net)
    # 2025 held at the first value, linear 2026-2028 (2, 4, 6), held after
    np.testing.assert_allclose(g.capex[:, 1], [2, 2, 4, 6, 6])
    np.testing.assert_allclose(g.L_file[:, 1, g.index("outside creditors")], [1] * 5)


def _scenario_2025_2029(write_yaml: Callable[..., Path]) -> Path:
    return write_yaml(  # type: ignore[no-any-return]
        """
        name: Co
        company: Co
        start: 2025-01
        end: 2029-12
        opening: {cash: 1}
        revenue: {annual: {2025: 0}}
        commitments: [{counterparty: Cloud, amount: 5, start: 2025-01, years: 5}]
    """,
        "co5.yaml",
    )


# ---------------------------------------------------------------------------------------
# Files and errors


def test_shipped_network_by_name_and_unknown_name() -> None:
    net, h = nw.load_network("network-2025")
    assert net.company == "OpenAI" and (net, h) == nw.load_network(NETWORK)
    with pytest.raises(AssumptionError, match=r"no such network file \(shipped networks: "):
        nw.load_network("network-1999")


def test_every_partner_figure_names_a_filing_or_says_how() -> None:
    """A partner's balance-sheet figures cite a filing or publication, or are marked
    'derived:' or 'assumption:' with a reason."""
    net, _ = nw.load_network(NETWORK)
    for p in net.parties:
        figures = [getattr(p, a) for a in ("liquid_assets", "other_cash_flow", "revenue")]
        for path in (p.capex, p.debt_service):
            figures += list((path or {}).values())
        for x in figures:
            if x is None:
                continue
            src = x.source or ""
            assert src.startswith(("derived: ", "assumption: ")) or any(
                k in src for k in ("10-K", "10-Q", "annual report", "results", "S-1")
            ), f"{p.name}: {src!r}"


def test_a_party_missing_from_the_network_is_an_error(write_yaml: Callable[..., Path]) -> None:
    p = write_yaml(NETWORK.read_text().replace("  cerebras: Cerebras\n", ""), "net.yaml")
    net, _ = nw.load_network(p)
    with pytest.raises(AssumptionError) as e:
        nw.build_graph(finmodel.run("openai-plan-2025q3"), net)
    msg = str(e.value)
    # located at the scenario's contract (line 106 of the shipped file names Cerebras) ...
    assert re.match(r".*openai-plan-2025q3\.yaml:106: commitments\[4\]\.counterparty: ", msg)
    assert "expected a counterparty mapped to a party of the network" in msg
    assert "got 'Cerebras'" in msg
    # ... with the exact line to add, indented as the file's other entries, and where: the
    # party of the same name is the one to map it to
    line = next(n for n, t in enumerate(p.read_text().splitlines(), 1) if t == "counterparties:")
    assert f"add the line `  Cerebras: Cerebras` under `counterparties:` ({p}:{line})" in msg


def test_an_unmapped_name_without_a_party_of_its_name_lists_the_parties(
    write_yaml: Callable[..., Path],
) -> None:
    text = NETWORK.read_text().replace("  cerebras: Cerebras\n", "")
    text = text.replace("- name: Cerebras", "- name: Cerebras Systems")
    p = write_yaml(text, "net.yaml")
    net, _ = nw.load_network(p)
    with pytest.raises(AssumptionError) as e:
        nw.build_graph(finmodel.run("openai-plan-2025q3"), net)
    msg = str(e.value)
    assert "add the line `  Cerebras: PARTY` under `counterparties:`" in msg
    assert "Cerebras Systems" in msg.split("with PARTY one of ")[1]


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
            "network-2025",
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
        "By year",
        "Secured loans",
        "Shortfall received over 200 Monte Carlo paths",
    ):
        assert text in r.output
    assert (in_tmp / "outputs" / "nvidia-pullback-network-graph.png").is_file()
    from openpyxl import load_workbook

    ws = load_workbook(in_tmp / "outputs" / "nvidia-pullback-network.xlsx")["Exposures"]
    titles = {c.value for c in ws["A"]}
    assert {"Cascade by year", "Cash at the end of each year (carried forward)"} <= titles
    bad = CliRunner().invoke(
        app, ["network", "bear", "--network", str(NETWORK), "--shortfall", "2"]
    )
    assert bad.exit_code == 2 and "--shortfall: expected a fraction in [0, 1]" in bad.output


def test_network_cli_json(in_tmp: Path) -> None:
    r = CliRunner().invoke(
        app,
        [
            "network",
            "openai-plan-2026q1",
            "--network",
            str(NETWORK),
            "--shortfall",
            "0.3",
            "--json",
            "--no-workbook",
        ],
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    years = doc["by_year"]
    # the total loss is the sum of the yearly losses, each owed less paid
    assert sum(y["loss"] for y in years.values()) == pytest.approx(doc["total_loss"])
    for y in years.values():
        assert y["loss"] == pytest.approx(y["owed"] - y["paid"])
    # the company's cash at each year end is the cash table's
    assert [y["company_cash_end"] for y in years.values()] == pytest.approx(
        list(doc["cash_by_year"]["OpenAI"].values())
    )
    assert doc["manifest"]["shortfall"].startswith("means short by 30%")
    assert not (in_tmp / "outputs").exists() or not any((in_tmp / "outputs").iterdir())
