"""Every equity dollar dilutes: pricing rules, non-dilutive kinds, loans, the liquidation
preference and the coverage window, against hand calculations on small files."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from typer.testing import CliRunner

import finmodel
from finmodel import valuation as val
from finmodel.analysis.metrics import evaluate_metric, parse_metric
from finmodel.analysis.sensitivity import TornadoSpec, tornado
from finmodel.cli import app
from finmodel.engine.evaluate import evaluate
from finmodel.engine.model import build
from finmodel.equity import Claim, waterfall
from finmodel.errors import AssumptionError
from finmodel.export.recalc import recalculate

# Holders A 60% and B 40% at the valuation date. A seed round of 20 at 80 pre-money in
# 2026-03 (post 100: the holders keep 80%), then a tranche of 10 in 2027-01 whose terms
# the tests fill in. Cash never runs short (100 of cash, revenue and no costs), so the raise
# policy raises nothing; its valuation path is 150 in 2026 and 250 in 2028, so 200 in 2027.
EQ = """
name: Equity Co
company: E
start: 2026-01
end: 2028-12
opening: {{cash: 100}}
revenue: {{annual: {{2026: 12}}}}
milestones:
  gw: {{2026-06: 0, 2027-06: 3}}
funding:
  inflows:
{seed}
    - name: Tranche
      amount: 10
      date: 2027-01
{tranche}
{extra}
valuation:
  date: 2025-12
  discount_rate: 0.1
  terminal: {{method: multiple, multiple: 1}}
  holders: [{{name: A, stake: 0.6}}, {{name: B, stake: 0.4}}]
  raise_policy: {{pre_money: {{2026: 150, 2028: 250}}, runway_below_months: 6}}
  exit: {{date: 2028-12, value: {exit}}}
{preference}
"""
SEED = (
    "    - {name: Seed, amount: 20, date: 2026-03, kind: equity, pre_money: 80, "
    "investors: {Fund: 20}}"
)


def eq_file(
    write_yaml: Callable[..., Path],
    tranche: str = "",
    seed: str = SEED,
    exit: float = 500,
    preference: str = "",
    extra: str = "",
) -> Path:
    return write_yaml(
        EQ.format(
            seed=seed,
            tranche="\n".join(f"      {x}" for x in tranche.splitlines()),
            extra=f"    {extra}" if extra else "",
            exit=exit,
            preference=f"  preference: {preference}" if preference else "",
        )
    )


# the tranche's pre-money under each rule (hand): the last issue's price per share is the
# seed's, 80 / 1 share, and 1.25 shares are out after it, so 100; the policy's 2027 value
# is 200; an explicit 150 pre-money; 150 post-money is 140 pre-money
RULES = {
    "last_round": ("pricing: last_round", 100.0),
    "raise_policy": ("pricing: raise_policy", 200.0),
    "pre_money=150": ("pre_money: 150", 150.0),
    "post_money=150": ("post_money: 150", 140.0),
}


@pytest.mark.parametrize("rule", list(RULES))
def test_unpriced_tranche_under_each_rule(write_yaml: Callable[..., Path], rule: str) -> None:
    field, pre = RULES[rule]
    res = finmodel.run(eq_file(write_yaml, field))
    v = res.valuation()
    rounds = v["rounds"]
    assert rounds["round"].tolist() == ["Seed", "Tranche"]
    assert rounds["pre_money"].tolist() == pytest.approx([80.0, pre], rel=1e-12)
    assert rounds["post_money"].tolist() == pytest.approx([100.0, pre + 10], rel=1e-12)
    keep = 80 / 100 * pre / (pre + 10)  # the holders' share of their stakes after both
    assert v["dilution"] == pytest.approx(1 - keep, rel=1e-12)
    table = v["cap_table"]
    after_seed = table["after Seed (2026-03)"]
    assert after_seed.to_dict() == pytest.approx(
        {"A": 0.48, "B": 0.32, "Fund": 0.2, "Tranche": 0.0}, rel=1e-12
    )
    after = table["after Tranche (2027-01)"]
    step = pre / (pre + 10)
    assert after.to_dict() == pytest.approx(
        {"A": 0.48 * step, "B": 0.32 * step, "Fund": 0.2 * step, "Tranche": 10 / (pre + 10)},
        rel=1e-12,
    )
    np.testing.assert_allclose(table.sum(axis=0).to_numpy(), 1.0, rtol=0, atol=1e-12)
    # the same figure from the command line, overriding the file's rule
    plain = eq_file(write_yaml, "kind: equity")
    assert finmodel.run(plain, pricing=rule).valuation()["dilution"] == pytest.approx(
        1 - keep, rel=1e-12
    )


def test_default_rule_is_the_last_round(write_yaml: Callable[..., Path]) -> None:
    v = finmodel.run(eq_file(write_yaml)).valuation()
    assert v["rounds"]["pricing"].tolist() == ["own valuation", "last round"]
    assert v["dilution"] == pytest.approx(1 - 0.8 * 100 / 110, rel=1e-12)


def test_fallback_when_no_round_came_before(write_yaml: Callable[..., Path]) -> None:
    """Without the seed, last_round cannot price the tranche: alone it is an error located
    at the inflow; with raise_policy after it, the policy's 200 prices it."""
    bare = eq_file(write_yaml, "pricing: last_round", seed="")
    with pytest.raises(AssumptionError) as e:
        finmodel.run(bare).valuation()
    msg = str(e.value)
    line = bare.read_text().splitlines().index("      pricing: last_round") + 1
    assert msg.startswith(f"{bare}:{line}: funding.inflows[0].pricing: ")
    assert "expected an earlier equity issue to price by 'last_round'" in msg
    assert "2027-01" in msg and "pricing: [last_round, raise_policy]" in msg
    ok = finmodel.run(eq_file(write_yaml, "pricing: [last_round, raise_policy]", seed=""))
    v = ok.valuation()
    assert v["rounds"]["pre_money"].tolist() == pytest.approx([200.0])
    assert v["rounds"]["pricing"].tolist() == ["raise policy"]
    assert v["dilution"] == pytest.approx(10 / 210, rel=1e-12)


def test_policy_valuation_of_zero_is_a_located_error(write_yaml: Callable[..., Path]) -> None:
    """No revenue: 10x the next year's revenue prices the policy's first round at 0."""
    p = write_yaml("""
        name: Zero
        company: Z
        start: 2026-01
        end: 2026-12
        opening: {cash: 1}
        revenue: {annual: {2026: 0}}
        costs: {staff: {annual: {2026: 12}}}
        valuation:
          date: 2025-12
          discount_rate: 0.1
          terminal: {method: multiple, multiple: 1}
          raise_policy: {revenue_multiple: 10}
    """)
    with pytest.raises(AssumptionError) as e:
        finmodel.run(p).valuation()
    assert str(e.value) == (
        f"{p}:13: valuation.raise_policy.revenue_multiple: expected a positive valuation for "
        "the policy's round in 2026-01, got 0 (revenue is zero there?)"
    )


@pytest.mark.parametrize("kind", ["debt", "prepayment", "grant", "asset_sale"])
def test_other_kinds_bring_cash_but_no_shares(write_yaml: Callable[..., Path], kind: str) -> None:
    res = finmodel.run(eq_file(write_yaml, f"kind: {kind}"))
    v = res.valuation()
    assert v["rounds"]["round"].tolist() == ["Seed"]
    assert v["dilution"] == pytest.approx(0.2, rel=1e-12)  # the seed's 20 / 100 only
    assert "Tranche" not in v["cap_table"].index
    assert res.series("committed_inflows").sum() == pytest.approx(30.0)
    assert res.series(f"inflows_{kind}").sum() == pytest.approx(10.0)
    inflows = v["inflows"].set_index("inflow")
    assert not inflows.loc["Tranche", "dilutes"] and inflows.loc["Seed", "dilutes"]
    # a loan is debt in the equity bridge from its month; the others are not debt
    debt = res.series("debt")
    assert debt[-1] == pytest.approx(10.0 if kind == "debt" else 0.0)


LOAN = """
name: Loan Co
company: L
start: 2026-01
end: 2026-12
opening: {cash: 10}
revenue: {annual: {2026: 0}}
funding:
  inflows:
    - {name: Bank loan, amount: 12, date: 2026-02, kind: debt, rate: 0.06, repay: 2026-08}
    - {name: Vendor loan, amount: 5, date: 2026-03, kind: debt}
valuation:
  date: 2026-04
  discount_rate: 0.1
  terminal: {method: multiple, multiple: 1}
"""


def test_loan_interest_repayment_and_debt(write_yaml: Callable[..., Path]) -> None:
    """12 borrowed in February at 6% and repaid in August: interest 0.06/12 x 12 = 0.06 a
    month on the balance at the end of February to July (charged March to August), then the
    12 back. A loan without terms is carried as debt, interest-free and never repaid."""
    res = finmodel.run(write_yaml(LOAN))
    interest = res.series("interest")
    assert interest.tolist() == pytest.approx([0, 0] + [0.06] * 6 + [0] * 4, abs=1e-15)
    assert res.series("loan_repayments").tolist() == pytest.approx([0] * 7 + [12] + [0] * 4)
    assert res.series("loan_bank_loan").tolist() == pytest.approx([0] + [12] * 6 + [0] * 5)
    assert res.series("loan_vendor_loan").tolist() == pytest.approx([0, 0] + [5] * 10)
    assert res.series("debt").tolist() == pytest.approx([0, 12, 17, 17, 17, 17, 17, 5, 5, 5, 5, 5])
    u = res.series("cash_unfunded")
    assert u[-1] == pytest.approx(10 + 12 + 5 - 12 - 0.36, rel=1e-12)
    # the bridge at the end of April: cash 10 + 12 + 5 - 0.06 x 2, debt 17
    d = val.dcf(res)
    assert (d.cash, d.debt) == pytest.approx((26.88, 17.0), rel=1e-12)
    assert d.equity_value == pytest.approx(d.enterprise_value + 26.88 - 17, rel=1e-12)
    assert res.valuation()["dilution"] == 0.0


@pytest.mark.libreoffice
def test_loans_recalculate_in_the_workbook(
    write_yaml: Callable[..., Path], tmp_path: Path, libreoffice: str
) -> None:
    res = finmodel.run(write_yaml(LOAN))
    (tmp_path / "w").mkdir()
    [out] = recalculate([res.to_excel(tmp_path / "w" / "loan.xlsx")], tmp_path / "r")
    wb = load_workbook(out, data_only=True)
    rows = {r[0]: r[2:] for r in wb["Calc"].iter_rows(min_row=2, values_only=True) if r[0]}
    for item in ("interest", "loan_bank_loan", "loan_repayments", "debt", "cash_unfunded"):
        np.testing.assert_allclose(
            np.array(rows[item][: res.model.timeline.T], dtype=float),
            res.series(item),
            rtol=1e-9,
            atol=1e-12,
        )
    sheet = {r[0]: r[1] for r in wb["Valuation"].iter_rows(min_row=3, values_only=True) if r[0]}
    assert sheet["debt"] == pytest.approx(17.0, rel=1e-9)


CHIPS = "- {name: Chips, amount: 25, milestone: gw, per_unit: 10, kind: equity, pricing: %s}"


def test_milestone_tranches_dilute_in_the_engine_months(write_yaml: Callable[..., Path]) -> None:
    """Chips: up to 25, 10 per GW deployed, arriving in the months the engine counts. At the
    last round's price each arrival steps from the seed's post-money: 100, 110, 120 for 10,
    10 and 5, so the holders keep 0.8 x 100 / 125 (the grant adds no shares)."""
    p = eq_file(write_yaml, "kind: grant", extra=CHIPS % "last_round")
    res = finmodel.run(p)
    engine = res.series("inflow__chips")
    months = [res.model.timeline.labels[t] for t in np.flatnonzero(engine)]
    assert engine[engine > 0].tolist() == pytest.approx([10, 10, 5])
    rounds = res.valuation()["rounds"]
    chips = rounds[rounds["round"] == "Chips"]
    assert chips["month"].tolist() == months
    assert chips["pre_money"].tolist() == pytest.approx([100, 110, 120], rel=1e-12)
    assert res.valuation()["dilution"] == pytest.approx(1 - 0.8 * 100 / 125, rel=1e-12)
    # less money arrives: the same rule on the engine's new amounts
    less = finmodel.run(p, adjust={"funding.inflows.chips.amount": {"set": 15}})
    assert less.valuation()["dilution"] == pytest.approx(1 - 0.8 * 100 / 115, rel=1e-12)
    # at the policy's valuation: 150 in 2026, 200 in 2027 (by the arrival's year)
    pol = finmodel.run(eq_file(write_yaml, "kind: grant", extra=CHIPS % "raise_policy"))
    flows = pol.series("inflow__chips")
    keep = 0.8
    for t in np.flatnonzero(flows):
        pre = {2026: 150.0, 2027: 200.0}[int(pol.model.timeline.year_of[t])]
        keep *= pre / (pre + flows[t])
    assert pol.valuation()["dilution"] == pytest.approx(1 - keep, rel=1e-12)


def test_dilution_metric_batched_equals_single_runs(write_yaml: Callable[..., Path]) -> None:
    """One definition: the batched metric (sensitivity, Monte Carlo) and a single run's
    cap table agree, case by case."""
    p = eq_file(write_yaml, "kind: grant", extra=CHIPS % "last_round")
    model = build(finmodel.load(p))
    k = model.params.names().index("funding_inflows_chips_amount")
    values = np.repeat(model.params.vector()[None, :], 4, axis=0)
    values[:, k] = [0.0, 10.0, 15.0, 25.0]
    got = evaluate_metric(model, evaluate(model, values), values, parse_metric("dilution", model))
    for x, g in zip(values[:, k], got, strict=True):
        single = finmodel.run(p, adjust={"funding.inflows.chips.amount": {"set": float(x)}})
        assert g == pytest.approx(single.valuation()["dilution"], rel=1e-12)
    tor = tornado(model, "dilution", [TornadoSpec("funding.inflows.chips.amount", 0, 25)])
    assert tor["metric_low"].iloc[0] == pytest.approx(0.2, rel=1e-12)
    assert tor["metric_high"].iloc[0] == pytest.approx(1 - 0.8 * 100 / 125, rel=1e-12)


def test_monte_carlo_dilution_follows_each_path(write_yaml: Callable[..., Path]) -> None:
    text = eq_file(write_yaml, "kind: grant", extra=CHIPS % "last_round").read_text()
    text += (
        "uncertainty:\n  draws: 40\n  seed: 3\n  parameters:\n"
        "    funding.inflows.chips.amount: {dist: uniform, low: 0, high: 30}\n"
    )
    p = write_yaml(text, "mc.yaml")
    model = build(finmodel.load(p))
    a = finmodel.load(p)
    assert a.uncertainty is not None
    mc = finmodel.simulate(model, a.uncertainty)
    for i in range(0, 40, 7):
        x = float(mc.draws.iloc[i, 0])
        single = finmodel.run(p, adjust={"funding.inflows.chips.amount": {"set": x}})
        assert mc.metrics["dilution"].iloc[i] == pytest.approx(
            single.valuation()["dilution"], rel=1e-12
        )


issues = st.lists(
    st.tuples(
        st.integers(0, 23),  # month
        st.floats(0.5, 50),  # amount
        st.one_of(st.none(), st.floats(20, 2000)),  # own pre-money, or last_round
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=40, deadline=None)
@given(issues)
def test_cap_table_by_hand_on_random_issues(raw: list[tuple[int, float, float | None]]) -> None:
    """Random dated equity inflows, each priced by its own pre-money or at the last round
    (the earliest always has a price): walking them by hand in month order, then file
    order, gives every pre-money, the ownership after each issue and the dilution."""
    first = min(range(len(raw)), key=lambda i: (raw[i][0], i))
    raw[first] = (raw[first][0], raw[first][1], raw[first][2] or 100.0)
    inflows = []
    for i, (m, a, pre) in enumerate(raw):
        f: dict[str, object] = {
            "name": f"I{i}",
            "amount": a,
            "date": f"{2026 + m // 12}-{m % 12 + 1:02d}",
        }
        f.update({"pre_money": pre} if pre is not None else {"pricing": "last_round"})
        inflows.append(f)
    doc = {
        "name": "R",
        "company": "R",
        "start": "2026-01",
        "end": "2027-12",
        "opening": {"cash": 1},
        "revenue": {"annual": {2026: 1}},
        "funding": {"inflows": inflows},
        "valuation": {
            "date": "2025-12",
            "discount_rate": 0.1,
            "terminal": {"method": "multiple", "multiple": 1},
            "holders": [{"name": "H", "stake": 1.0}],
        },
    }
    v = finmodel.run(finmodel.Assumptions.model_validate(doc)).valuation()
    order = sorted(range(len(raw)), key=lambda i: (raw[i][0], i))
    shares = {"H": 1.0}
    total, price, fixed = 1.0, math.nan, {}
    pres = []
    for i in order:
        _, a, pre = raw[i]
        p = fixed.setdefault(i, pre / total) if pre is not None else price
        pres.append(p * total)
        shares[f"I{i}"] = shares.get(f"I{i}", 0.0) + a / p
        total += a / p
        price = p
    assert v["rounds"]["pre_money"].tolist() == pytest.approx(pres, rel=1e-9)
    last = v["cap_table"].iloc[:, -1]
    for k, x in shares.items():
        assert last[k] == pytest.approx(x / total, rel=1e-9, abs=1e-12)
    assert v["dilution"] == pytest.approx(1 - 1 / total, rel=1e-9, abs=1e-12)
    np.testing.assert_allclose(v["cap_table"].sum(axis=0).to_numpy(), 1.0, atol=1e-12)


# --- liquidation preference ---------------------------------------------------------------


def test_non_participating_preference_binds_low_and_converts_high() -> None:
    """A class with 20% of the shares and a 1x preference of 100: below an exit of 500 it
    takes 100, above it converts to 20%."""
    c = [Claim("A", 0.2, 100.0)]
    low = waterfall(300.0, c, 0.8)
    assert low.proceeds == (100.0,) and low.common == pytest.approx(200.0)
    assert low.converts == (False,)
    high = waterfall(1000.0, c, 0.8)
    assert high.proceeds == pytest.approx((200.0,)) and high.common == pytest.approx(800.0)
    assert high.converts == (True,)
    tiny = waterfall(50.0, c, 0.8)
    assert tiny.proceeds == (50.0,) and tiny.common == 0.0


def test_participating_and_multiple() -> None:
    # participating 1x: 100 first, then 20% of the remaining 200
    part = waterfall(300.0, [Claim("A", 0.2, 100.0, participating=True)], 0.8)
    assert part.proceeds == pytest.approx((140.0,)) and part.common == pytest.approx(160.0)
    # 2x non-participating on 100 invested: 200 until 20% of the exit exceeds it (exit 1000)
    two = [Claim("A", 0.2, 200.0)]
    assert waterfall(800.0, two, 0.8).proceeds == (200.0,)
    assert waterfall(1200.0, two, 0.8).proceeds == pytest.approx((240.0,))


def test_seniority_pari_passu_and_stacked() -> None:
    """An exit of 90 against preferences of 100 (A) and 50 (B): pari passu 60 / 30; with B
    senior (stacked) 50 to B and the 40 left to A."""
    pari = waterfall(90.0, [Claim("A", 0.1, 100.0), Claim("B", 0.1, 50.0)], 0.8)
    assert pari.proceeds == pytest.approx((60.0, 30.0)) and pari.common == 0.0
    stacked = waterfall(90.0, [Claim("A", 0.1, 100.0, rank=0), Claim("B", 0.1, 50.0, rank=1)], 0.8)
    assert stacked.proceeds == pytest.approx((40.0, 50.0))


def test_cheap_class_converts_while_expensive_one_takes_preference() -> None:
    """B (20%, preference 400) takes 400; A (10%, preference 10) converts and shares the
    600 left with common (70%): 600 / 0.8 = 750 per unit, so A 75 and common 525."""
    pay = waterfall(1000.0, [Claim("A", 0.1, 10.0), Claim("B", 0.2, 400.0)], 0.7)
    assert pay.converts == (True, False)
    assert pay.proceeds == pytest.approx((75.0, 400.0)) and pay.common == pytest.approx(525.0)


claims = st.lists(
    st.tuples(st.floats(0.001, 0.3), st.floats(0, 300), st.booleans(), st.integers(0, 2)),
    min_size=1,
    max_size=5,
)


@settings(max_examples=300, deadline=None)
@given(claims, st.floats(0, 3000), st.booleans())
def test_waterfall_pays_out_the_exit_and_no_class_gains_by_switching(
    raw: list[tuple[float, float, bool, int]], value: float, stacked: bool
) -> None:
    shares = [s for s, *_ in raw]
    total = sum(shares)
    common = max(0.05, 1.0 - total)
    scale = (1.0 - common) / total
    cs = [
        Claim(f"C{i}", s * scale, p, part, rank if stacked else 0)
        for i, (s, p, part, rank) in enumerate(raw)
    ]
    pay = waterfall(value, cs, common)
    assert math.fsum(pay.proceeds) + pay.common == pytest.approx(value, rel=1e-9, abs=1e-9)
    assert all(x >= -1e-12 for x in pay.proceeds) and pay.common >= -1e-12
    from finmodel.equity import _split

    for i, c in enumerate(cs):
        if c.participating:
            continue
        other = [*pay.converts]
        other[i] = not other[i]
        alt = _split(value, cs, common, other).proceeds[i]
        assert alt <= pay.proceeds[i] * (1 + 1e-9) + 1e-9, (i, pay, alt)
        # a non-participating class never gets less than the smaller of its preference and
        # what is left after the preferences that rank with or ahead of it
        if not pay.converts[i]:
            assert pay.proceeds[i] <= c.preference * (1 + 1e-12)


def test_investor_returns_with_the_preference(write_yaml: Callable[..., Path]) -> None:
    """The seed (20 for 20% at the exit, the tranche a grant) at exits of 500 and 60."""
    years = (date(2028, 12, 1) - date(2026, 3, 1)).days / 365
    high = finmodel.run(eq_file(write_yaml, "kind: grant", exit=500)).valuation()["returns"]
    r = high.iloc[0]
    assert (r["round"], r["stake_at_exit"], r["preference"]) == ("Seed", pytest.approx(0.2), 20)
    assert r["proceeds"] == pytest.approx(100.0) and r["takes"] == "converts"
    assert r["irr"] == pytest.approx(5 ** (1 / years) - 1, rel=1e-9)
    assert high.attrs["common_proceeds"] == pytest.approx(400.0)
    assert high.attrs["terms"] == "1x non-participating, pari passu"
    low = finmodel.run(eq_file(write_yaml, "kind: grant", exit=60)).valuation()["returns"]
    r = low.iloc[0]
    assert r["proceeds"] == pytest.approx(20.0) and r["takes"] == "preference"
    assert (r["multiple"], r["irr"]) == (pytest.approx(1.0), 0.0)
    assert low.attrs["common_proceeds"] == pytest.approx(40.0)
    part = finmodel.run(
        eq_file(write_yaml, "kind: grant", exit=60, preference="{participating: true}")
    ).valuation()["returns"]
    assert part.iloc[0]["proceeds"] == pytest.approx(20 + 0.2 * 40)  # 28; common 32
    two = finmodel.run(
        eq_file(write_yaml, "kind: grant", exit=60, preference="{multiple: 2}")
    ).valuation()["returns"]
    assert two.iloc[0]["proceeds"] == pytest.approx(40.0)
    assert two.attrs["common_proceeds"] == pytest.approx(20.0)


def test_a_class_paid_in_tranches_earns_its_xirr(write_yaml: Callable[..., Path]) -> None:
    res = finmodel.run(eq_file(write_yaml, "kind: grant", extra=CHIPS % "last_round", exit=2000))
    ret = res.valuation()["returns"].set_index("round")
    chips = ret.loc["Chips"]
    assert chips["amount"] == pytest.approx(25.0) and chips["takes"] == "converts"
    flows = res.series("inflow__chips")
    t = np.flatnonzero(flows)
    labels = [res.model.timeline.labels[i] for i in t]
    dates = [date(int(m[:4]), int(m[5:]), 1) for m in labels]
    years = np.array([(d - dates[0]).days / 365 for d in [*dates, date(2028, 12, 1)]])
    cash = np.array([*(-flows[t]), chips["proceeds"]])
    assert np.sum(cash / (1 + chips["irr"]) ** years) == pytest.approx(0, abs=1e-9)


# --- shipped scenarios and the README's table -------------------------------------------------


def _cli_dilution(file: str, rule: str) -> float:
    r = CliRunner().invoke(app, ["value", file, "--pricing", rule, "--json", "--no-workbook"])
    assert r.exit_code == 0, r.output
    import json

    return float(json.loads(r.stdout)["dilution_by_horizon"])


def test_base_case_dilution_under_each_rule() -> None:
    """NVIDIA's ten tranches of 10 after the SoftBank-led round (40.8 at 260 pre-money, so
    a post-money of 300.8; nothing else is issued in the base case)."""
    base = finmodel.run("openai-plan-2025q3").valuation()["rounds"]
    assert set(base["round"]) == {"NVIDIA"}, "the closed forms below assume no other issue"
    assert _cli_dilution("openai-plan-2025q3", "last_round") == pytest.approx(
        1 - 300.8 / 400.8, rel=1e-12
    )
    assert _cli_dilution("openai-plan-2025q3", "pre_money=500") == pytest.approx(
        1 - 500 / 600, rel=1e-12
    )
    assert _cli_dilution("openai-plan-2025q3", "post_money=500") == pytest.approx(
        1 - 400 / 500, rel=1e-12
    )
    # at the policy's 24x the next 12 months' revenue, each tranche at its month
    res = finmodel.run("openai-plan-2025q3", pricing="raise_policy")
    assert not res.valuation()["rounds"]["from_policy"].any()
    rev = res.series("revenue")
    flows = res.series("inflow__nvidia")
    keep = 1.0
    for t in np.flatnonzero(flows):
        pre = 24 * sum(rev[min(s, len(rev) - 1)] for s in range(t + 1, t + 13))
        keep *= pre / (pre + flows[t])
    assert _cli_dilution("openai-plan-2025q3", "raise_policy") == pytest.approx(1 - keep, rel=1e-12)


def test_shipped_dilution_is_the_product_of_the_issues() -> None:
    for name in ("openai-plan-2025q3", "hsbc-2025-11", "openai-plan-2026q1", "nvidia-pullback"):
        v = finmodel.run(name).valuation()
        r = v["rounds"]
        keep = float(np.prod(r["pre_money"] / r["post_money"]))
        assert v["dilution"] == pytest.approx(1 - keep, rel=1e-12), name
        # every equity dollar after the valuation date is in the rounds table
        inf = v["inflows"]
        equity = inf[inf["kind"] == "equity"]["after_valuation_date"].sum()
        assert r[~r["from_policy"]]["amount"].sum() == pytest.approx(equity, rel=1e-12), name
        np.testing.assert_allclose(v["cap_table"].sum(axis=0).to_numpy(), 1.0, atol=1e-12)


def test_pricing_option_errors() -> None:
    r = CliRunner().invoke(app, ["value", "openai-plan-2025q3", "--pricing", "next_round"])
    assert r.exit_code == 2 and "expected a pricing rule" in r.output
    r = CliRunner().invoke(app, ["run", "openai-plan-2025q3", "--pricing", "pre_money=abc"])
    assert r.exit_code == 2 and "expected a number after pre_money=" in r.output
    r = CliRunner().invoke(app, ["run", "openai-plan-2025q3", "--pricing", "pre_money=-5"])
    assert r.exit_code == 2 and "pre_money: expected a valuation > 0, got -5" in r.output
    r = CliRunner().invoke(app, ["run", "bear", "--pricing", "cap=3"])
    assert r.exit_code == 2 and "expected last_round, raise_policy" in r.output
