"""The engine against figures computed by hand, closed forms and numpy-financial."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy_financial as npf
import pytest

import finmodel
from finmodel.engine.evaluate import evaluate, evaluate_chunks, full, schedule
from finmodel.engine.model import build

HAND = """
name: Hand Co
company: Hand Co
start: 2026-01
end: 2027-12
opening: {cash: 5}
revenue:
  annual: {2026: 12, 2027: 48}
  spread: flat
costs:
  cost_of_revenue: {share_of_revenue: {2026: 0.25}}
  compute: {annual: {2026: 6, 2027: 6}}
  staff: {annual: {2026: 2.4, 2027: 3.6}, spread: flat}
  stock_comp: {annual: {2026: 1.2}}
  capex: {annual: {2026: 12, 2027: 0}, life_years: 1, spread: flat}
  tax_rate: 0.2
commitments:
  - {counterparty: Cloud, amount: 18, start: 2027-01, years: 1, profile: flat}
funding:
  min_cash: 2
  inflows:
    - {name: Seed, amount: 3, date: 2026-06}
"""


def test_small_company_by_hand(write_yaml: Callable[..., Path]) -> None:
    """Every figure of 2027 (and the 2026 carry-ins) worked out on paper (paths spread flat,
    so every month is a twelfth of its year; smooth spreading has its own tests).

    2026: revenue 12, cost of revenue 3, compute 6, staff 2.4, SBC 1.2, capex 12 (1 a month,
    one-year life: depreciation m/12 in month m, 78/12 = 6.5 in the year).
    EBIT 2026 = 12 - 3 - 6 - 2.4 - 1.2 - 6.5 = -7.1 -> tax losses 7.1, no tax.
    FCF 2026 = 12 - 3 - 6 - 2.4 - 12 = -11.4; U(Dec) = 5 - 11.4 + 3 = -3.4.
    2027: revenue 48 (4 a month), cost of revenue 12, compute need 6 but 18 committed
    (1.5 a month, take-or-pay): compute cost 18, stranded 12. Staff 3.6, SBC 1.2.
    Depreciation: (11 + 10 + ... + 0)/12 = 5.5.  EBIT = 48 - 12 - 18 - 3.6 - 1.2 - 5.5 = 7.7,
    every month positive, so taxable = 7.7 - 7.1 = 0.6 and tax = 0.12.
    Net income 7.58; ex-SBC 8.78. FCF = 48 - 12 - 18 - 3.6 - 0.12 = 14.28.
    U(Dec 2027) = -3.4 + 14.28 = 10.88. Funding: U(m) = 5 - 0.95 m before June, so
    U(Apr 2026) = 1.2 < 2: cash-out 2026-04 after 3 months; the trough is Dec 2026 at -3.4,
    so N = 2 + 3.4 = 5.4 from then on and cash(Dec 2027) = 10.88 + 5.4 = 16.28.
    """
    res = finmodel.run(write_yaml(HAND))
    a = res.annual
    expect_2027 = {
        "revenue": 48,
        "cost_of_revenue": 12,
        "compute_need": 6,
        "committed_payments": 18,
        "compute_cost": 18,
        "stranded_compute": 12,
        "staff": 3.6,
        "stock_comp": 1.2,
        "depreciation": 5.5,
        "ebit": 7.7,
        "taxable_income": 0.6,
        "tax": 0.12,
        "net_income": 7.58,
        "net_income_ex_sbc": 8.78,
        "free_cash_flow": 14.28,
        "capex": 0,
        "cash_unfunded": 10.88,
        "funding_gap": 5.4,
        "funding_need": 0.0,
        "cash": 16.28,
    }
    for item, value in expect_2027.items():
        assert a.loc[item, 2027] == pytest.approx(value, abs=1e-12), item
    expect_2026 = {
        "depreciation": 6.5,
        "ebit": -7.1,
        "tax": 0,
        "tax_losses_eop": 7.1,
        "free_cash_flow": -11.4,
        "committed_inflows": 3,
        "cash_unfunded": -3.4,
        "funding_need": 5.4,
        "funding_gap": 5.4,
    }
    for item, value in expect_2026.items():
        assert a.loc[item, 2026] == pytest.approx(value, abs=1e-12), item
    assert a.loc["tax_losses_eop", 2027] == pytest.approx(0.0, abs=1e-12)
    m = res.metrics
    assert m["cash_out_month"] == "2026-04" and m["runway_months"] == 3
    assert m["breakeven_year"] == 2027
    assert m["trough_unfunded_cash"] == pytest.approx(-3.4)
    assert m["trough_month"] == "2026-12"
    assert m["peak_funding_need"] == pytest.approx(5.4)
    assert m["stranded_compute_total"] == pytest.approx(12.0)
    # funding need by month before the trough: N(May 2026) = 2 - (5 - 0.95 * 5) = 1.75
    assert res.monthly.loc["2026-05", "funding_need_cumulative"] == pytest.approx(1.75)


def test_facility_draws_follow_the_annuity_of_numpy_financial(
    write_yaml: Callable[..., Path],
) -> None:
    """Burn 1 a month from zero cash; a 12%/yr facility (1% a month on last month's balance).

    Drawn balance after k months is the future value of an annuity of 1: npf.fv(0.01, k, -1, 0),
    until it reaches the 5 limit (k = 5 would give 5.101); then cash falls below the buffer.
    """
    p = write_yaml("""
        name: Facility
        company: F
        start: 2026-01
        end: 2026-12
        opening: {cash: 0}
        revenue: {annual: {2026: 0}}
        costs: {staff: {annual: {2026: 12}}}
        funding:
          facilities: [{name: Bank, limit: 5, rate: 0.12}]
    """)
    res = finmodel.run(p)
    bal = res.series("facility__bank")
    for k in range(1, 5):
        assert bal[k - 1] == pytest.approx(npf.fv(0.01, k, -1, 0), rel=1e-12)
    assert bal[4:].tolist() == [5.0] * 8
    u = res.series("cash_unfunded")
    assert u[:4].tolist() == pytest.approx([0.0] * 4, abs=1e-12)
    # month 5: 4.0604 balance + 1 burn + interest 0.040604 exceeds the limit by 0.101005
    shortfall = npf.fv(0.01, 5, -1, 0) - 5
    assert u[4] == pytest.approx(-shortfall, rel=1e-9)
    assert res.metrics["cash_out_month"] == "2026-05"
    # afterwards cash falls by the burn plus 0.05 interest a month
    assert np.diff(u[4:]) == pytest.approx([-1.05] * 7)


def test_facility_is_repaid_as_cash_recovers(write_yaml: Callable[..., Path]) -> None:
    p = write_yaml("""
        name: Repay
        company: R
        start: 2026-01
        end: 2026-12
        opening: {cash: 0}
        revenue: {annual: {2026: 0}}
        costs: {staff: {annual: {2026: 12}}}
        funding:
          inflows: [{name: Round, amount: 10, date: 2026-04}]
          facilities: [{name: Bank, limit: 5, rate: 0}]
    """)
    res = finmodel.run(p)
    # Jan-Mar drawn 1, 2, 3; April: 0 - 1 + 10 = 9 repays all 3 -> cash 6, falling 1 a month
    # to 0 in October; November and December draw again.
    assert res.series("facility__bank").tolist() == [1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 1, 2]
    assert res.series("cash_unfunded").tolist() == [0, 0, 0, 6, 5, 4, 3, 2, 1, 0, 0, 0]
    assert res.series("facility_draws").tolist() == [1, 1, 1, -3, 0, 0, 0, 0, 0, 0, 1, 1]
    assert res.metrics["cash_out_month"] is None


def test_two_facilities_draw_in_order(write_yaml: Callable[..., Path]) -> None:
    p = write_yaml("""
        name: Two
        company: T
        start: 2026-01
        end: 2026-06
        opening: {cash: 0}
        revenue: {annual: {2026: 0}}
        costs: {staff: {annual: {2026: 24}}}
        funding:
          facilities: [{name: A, limit: 3, rate: 0}, {name: B, limit: 4, rate: 0}]
    """)
    res = finmodel.run(p)
    assert res.series("facility__a").tolist() == [2, 3, 3, 3, 3, 3]
    assert res.series("facility__b").tolist() == [0, 1, 3, 4, 4, 4]
    assert res.series("cash_unfunded").tolist() == [0, 0, 0, -1, -3, -5]


def test_milestone_tranches_arrive_per_whole_unit(write_yaml: Callable[..., Path]) -> None:
    """Capacity 0 in Jan rising linearly to 2.5 in Dec: 1 is reached in June (2.5*5/11 >= 1),
    2 in October (2.5*9/11); the cap of 25 is never reached, so 20 arrives in all."""
    p = write_yaml("""
        name: Milestones
        company: M
        start: 2026-01
        end: 2026-12
        opening: {cash: 1}
        revenue: {annual: {2026: 0}}
        milestones: {gw: {2026-01: 0, 2026-12: 2.5}}
        funding:
          inflows: [{name: Chips, amount: 25, milestone: gw, per_unit: 10}]
    """)
    inflow = finmodel.run(p).series("inflow__chips")
    assert np.flatnonzero(inflow).tolist() == [5, 9]
    assert inflow.sum() == pytest.approx(20.0)


def test_amount_caps_the_milestone_tranches(write_yaml: Callable[..., Path]) -> None:
    """``amount`` caps the tranches: per_unit 10 with amount 4 is one tranche of 4 in the
    month the path first reaches 1, and nothing when it reaches 2; a path held flat (2026-01
    and 2026-03 both 0) is not decreasing, so it is accepted."""
    p = write_yaml("""
        name: Capped
        company: M
        start: 2026-01
        end: 2026-12
        opening: {cash: 1}
        revenue: {annual: {2026: 0}}
        milestones: {gw: {2026-01: 0, 2026-03: 0, 2026-12: 2.5}}
        funding:
          inflows: [{name: Chips, amount: 4, milestone: gw, per_unit: 10}]
    """)
    inflow = finmodel.run(p).series("inflow__chips")
    # 0 .. 2.5 over March..December: 1 is reached in July (2.5 * 4/9 >= 1 > 2.5 * 3/9)
    assert np.flatnonzero(inflow).tolist() == [6]
    assert inflow.sum() == pytest.approx(4.0)
    assert inflow.min() >= 0


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        ("flat", [78 / 12] * 12),
        ("ramp", [float(m) for m in range(1, 13)]),  # 78 * 2m / (12 * 13) = m
    ],
)
def test_commitment_profiles(
    write_yaml: Callable[..., Path], profile: str, expected: list[float]
) -> None:
    p = write_yaml(f"""
        name: Profiles
        company: P
        start: 2026-01
        end: 2027-06
        opening: {{cash: 1000}}
        revenue: {{annual: {{2026: 0}}}}
        commitments:
          - {{counterparty: C, amount: 78, start: 2026-01, years: 1, profile: {profile}}}
    """)
    res = finmodel.run(p)
    assert res.series("commit__c")[:12] == pytest.approx(expected)
    assert res.series("commit__c")[12:].tolist() == [0.0] * 6
    assert res.metrics["commitments_total"] == 78


def test_explicit_payments_spread_over_the_contract_months(write_yaml: Callable[..., Path]) -> None:
    p = write_yaml("""
        name: Explicit
        company: E
        start: 2026-01
        end: 2027-12
        opening: {cash: 100}
        revenue: {annual: {2026: 0}}
        commitments:
          - counterparty: C
            start: 2026-07
            profile: explicit
            payments: {2026: 12, 2027: 6, 2035: 100}
            spread: flat
            take_or_pay: false
    """)
    res = finmodel.run(p)
    c = res.series("commit__c")
    assert c[:6].tolist() == [0.0] * 6
    assert c[6:12] == pytest.approx([2.0] * 6)
    assert c[12:] == pytest.approx([0.5] * 12)
    assert res.metrics["commitments_total"] == 118  # beyond the horizon still counts
    # not binding: no compute cost, nothing stranded
    assert res.series("compute_cost").sum() == 0 and res.series(
        "committed_nonbinding"
    ).sum() == pytest.approx(18)


def test_growth_method_compounds_each_january(write_yaml: Callable[..., Path]) -> None:
    p = write_yaml("""
        name: Growth
        company: G
        start: 2026-01
        end: 2028-12
        opening: {cash: 1}
        revenue:
          growth: {base: 12, rates: {2027: 0.5, 2028: 0.2}, spread: flat}
    """)
    a = finmodel.run(p).annual
    assert a.loc["revenue", 2026] == pytest.approx(12)
    assert a.loc["revenue", 2027] == pytest.approx(npf.fv(0.5, 1, 0, -12))
    assert a.loc["revenue", 2028] == pytest.approx(12 * 1.5 * 1.2)


def test_growth_method_compounds_monthly_by_default(write_yaml: Callable[..., Path]) -> None:
    """At a constant rate g from a first-month run-rate B, month m earns
    B (1 + g)^(m/12) / 12, so a year earns the geometric sum
    B / 12 * ((1 + g) - 1) / ((1 + g)^(1/12) - 1) and each year 1 + g times the last."""
    p = write_yaml("""
        name: Growth
        company: G
        start: 2026-01
        end: 2028-12
        opening: {cash: 1}
        revenue:
          growth: {base: 12, rates: {2026: 0.5}}
    """)
    res = finmodel.run(p)
    g, base = 0.5, 12.0
    first = base / 12 * g / ((1 + g) ** (1 / 12) - 1)
    a = res.annual
    assert a.loc["revenue", 2026] == pytest.approx(first, rel=1e-12)
    assert a.loc["revenue", 2027] == pytest.approx(first * 1.5, rel=1e-12)
    assert a.loc["revenue", 2028] == pytest.approx(first * 1.5**2, rel=1e-12)
    months = res.series("revenue")
    assert months[0] == pytest.approx(1.0, rel=1e-15)  # the base run-rate / 12
    assert np.diff(np.log(months)) == pytest.approx(np.full(35, math.log(1.5) / 12), rel=1e-12)


def test_users_times_paying_share_times_price_plus_segments(
    write_yaml: Callable[..., Path],
) -> None:
    """100 M users x 10% paying x $20 a month = $0.2 bn a month; a 120 market at 10% = 1 a month.
    The S-curve: 1000 / (1 + exp(-(t - 2026.5))) with t the mid-month decimal year."""
    p = write_yaml("""
        name: Users
        company: U
        start: 2026-01
        end: 2026-12
        opening: {cash: 1}
        revenue:
          users: {count: {2026: 100}, paying_share: {2026: 0.1}, price: {2026: 20}}
          segments: [{name: Enterprise, market: {2026: 120}, share: {2026: 0.1}}]
    """)
    res = finmodel.run(p)
    assert res.series("revenue_subscriptions") == pytest.approx([0.2] * 12)
    assert res.series("revenue__enterprise") == pytest.approx([1.0] * 12)
    assert res.annual.loc["revenue", 2026] == pytest.approx(14.4)
    p2 = write_yaml(
        """
        name: Curve
        company: U
        start: 2026-01
        end: 2026-12
        opening: {cash: 1}
        revenue:
          users:
            s_curve: {ceiling: 1000, midpoint: 2026.5, rate: 1.0}
            paying_share: {2026: 1}
            price: {2026: 1}
    """,
        "curve.yaml",
    )
    users = finmodel.run(p2).series("users")
    t = 2026 + (np.arange(12) + 0.5) / 12
    assert users == pytest.approx(1000 / (1 + np.exp(-(t - 2026.5))), rel=1e-14)
    assert users[5] + users[6] == pytest.approx(1000)  # symmetric about mid-year


def test_growth_scale_halves_each_years_growth(write_yaml: Callable[..., Path]) -> None:
    """Flat months: R_t = c B_t^0.5 with B constant within each year, so each year's factor
    is the square root of the plan's: 10, 10 (30/10)^0.5, 10 (60/10)^0.5."""
    p = write_yaml("""
        name: Half
        company: H
        start: 2026-01
        end: 2028-12
        opening: {cash: 1}
        revenue: {annual: {2026: 10, 2027: 30, 2028: 60}, growth_scale: 0.5, spread: flat}
    """)
    a = finmodel.run(p).annual
    assert a.loc["revenue"].tolist() == pytest.approx([10, 10 * 3**0.5, 10 * 6**0.5], rel=1e-12)


def test_growth_scale_works_in_logs_month_by_month(write_yaml: Callable[..., Path]) -> None:
    """Smooth plan B: R_t = c B_t^k with c = 10 / sum of B^k over the first twelve months, so
    the first year keeps its 10 exactly and every month's growth factor is the plan's to the
    power k (no step at January, whatever the shape)."""
    p = write_yaml("""
        name: Half
        company: H
        start: 2026-01
        end: 2028-12
        opening: {cash: 1}
        revenue: {annual: {2026: 10, 2027: 30, 2028: 60}, growth_scale: 0.5}
    """)
    res = finmodel.run(p)
    b, r = res.series("revenue_base"), res.series("revenue")
    hand = np.sqrt(b) * b[:12].sum() / np.sqrt(b[:12]).sum()
    assert r == pytest.approx(hand, rel=1e-13)
    assert res.annual.loc["revenue", 2026] == pytest.approx(10, rel=1e-13)
    np.testing.assert_allclose(r[1:] / r[:-1], np.sqrt(b[1:] / b[:-1]), rtol=1e-12)
    assert not np.allclose(b[:12], b[0])  # the plan's months really are smooth


def test_tax_losses_carried_forward_from_the_opening_balance(
    write_yaml: Callable[..., Path],
) -> None:
    p = write_yaml("""
        name: Tax
        company: T
        start: 2026-01
        end: 2027-12
        opening: {cash: 1, tax_losses: 18}
        revenue: {annual: {2026: 12}}
        costs: {tax_rate: 0.25}
    """)
    a = finmodel.run(p).annual
    # 1 a month of income; 18 of losses absorb the first 18 months: 6 taxable in 2027
    assert a.loc["tax", 2026] == 0.0
    assert a.loc["tax", 2027] == pytest.approx(0.25 * 6)


TAX_LIMIT = """
name: Tax limit
company: T
start: 2026-01
end: 2027-12
opening: {{cash: 100, tax_losses: 10}}
revenue: {{annual: {{2026: 24}}}}
commitments: [{{counterparty: Cloud, amount: 36, start: 2025-07, years: 1}}]
costs: {{tax_rate: 0.25{limit}}}
"""


@pytest.mark.parametrize(
    ("limit", "tax_2026", "tax_2027", "losses_2026"),
    [
        # L = 0.8 by hand. Pre-tax income: -1 a month Jan-Jun 2026 (revenue 2 a month, the
        # contract's last 6 payments of 3), then +2 a month. 2026: this year's 6 of losses
        # offset Jul-Sep in full; the earlier 10 offset 80% of Oct-Dec's 2 (1.6 a month):
        # taxable 3 x 0.4 = 1.2, tax 0.3, 10 - 4.8 = 5.2 left. As a US annual return: income
        # -6 + 12 = 6, NOL deduction min(10, 0.8 x 6) = 4.8, taxable 1.2. 2027: income 24,
        # deduction min(5.2, 0.8 x 24) = 5.2, taxable 18.8, tax 4.7.
        (", loss_offset_limit: 0.8", 0.3, 4.7, 5.2),
        # no limit: 10 + 6 of losses absorb Jul-Dec 2026 (12), 4 left; 2027 taxable 20
        ("", 0.0, 5.0, 4.0),
    ],
)
def test_loss_offset_limit_by_hand(
    write_yaml: Callable[..., Path],
    limit: str,
    tax_2026: float,
    tax_2027: float,
    losses_2026: float,
) -> None:
    a = finmodel.run(write_yaml(TAX_LIMIT.format(limit=limit))).annual
    assert a.loc["tax", 2026] == pytest.approx(tax_2026, abs=1e-12)
    assert a.loc["tax", 2027] == pytest.approx(tax_2027, abs=1e-12)
    assert a.loc["tax_losses_eop", 2026] == pytest.approx(losses_2026, abs=1e-12)
    assert a.loc["tax_losses_eop", 2027] == pytest.approx(0.0, abs=1e-12)


def _old_rule(pti: np.ndarray, opening: float, rate: float) -> tuple[np.ndarray, np.ndarray]:
    """The engine's rule before the limit, month by month: taxable = max(0, pti - losses),
    losses = max(0, losses - pti)."""
    tax, eop, losses = np.zeros_like(pti), np.zeros_like(pti), opening
    for t, p in enumerate(pti):
        tax[t] = rate * max(0.0, p - losses)
        losses = max(0.0, losses - p)
        eop[t] = losses
    return tax, eop


@pytest.mark.parametrize("scenario", ["openai-plan-2025q3", "bear", "nvidia-pullback"])
def test_a_limit_of_one_is_the_old_rule(scenario: str) -> None:
    """With L = 1 every month's tax and loss balance is the old rule's on the same pre-tax
    income (pre-tax income depends on tax only through later interest, so month by month
    agreement means the whole projection is unchanged). Revenue x 4 so that losses run
    out and tax is paid."""
    res = finmodel.run(
        scenario,
        adjust={"costs.loss_offset_limit": {"set": 1.0}, "revenue.scale": {"scale": 4.0}},
    )
    p = res.model.params
    tax, eop = _old_rule(
        res.series("pretax_income"), p["opening_tax_losses"].value, p["costs_tax_rate"].value
    )
    assert tax.sum() > 0
    np.testing.assert_allclose(res.series("tax"), tax, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(res.series("tax_losses_eop"), eop, rtol=1e-12, atol=1e-9)


def test_the_limit_matches_the_annual_us_rule() -> None:
    """Independent annual computation on the engine's monthly pre-tax income: a year's NOL
    deduction is min(losses of earlier years, L x the year's income) and a loss year adds its
    loss. Where no profitable month precedes a loss month within a year, the monthly engine
    must agree with it exactly (docs/methodology.md, "Tax")."""
    res = finmodel.run("openai-plan-2025q3", adjust={"revenue.scale": {"scale": 1.5}})
    p = res.model.params
    L, rate = p["costs_loss_offset_limit"].value, p["costs_tax_rate"].value
    assert L == 0.8  # the shipped US rule
    tl = res.model.timeline
    pti, tax = res.series("pretax_income"), res.series("tax")
    losses, checked = p["opening_tax_losses"].value, 0
    for y, sl in tl.year_slices():
        months = pti[sl]
        income = math.fsum(months)
        used = min(losses, L * income) if income > 0 else 0.0
        want = rate * (max(0.0, income) - used)
        losses += -used + max(0.0, -income)
        profit_then_loss = any(
            months[i] > 0 and (months[i + 1 :] < 0).any() for i in range(len(months))
        )
        if not profit_then_loss:
            assert math.fsum(tax[sl]) == pytest.approx(want, rel=1e-12, abs=1e-12), y
            checked += want > 0
    assert checked >= 1


def test_batched_evaluation_equals_single_runs() -> None:
    model = build(finmodel.load("bear"))
    base = model.params.vector()
    rng = np.random.default_rng(3)
    values = base * rng.uniform(0.7, 1.3, size=(16, base.size))
    batch = evaluate(model, values)
    for s in (0, 7, 15):
        single = evaluate(model, values[s : s + 1])
        for id in model.ids:
            np.testing.assert_array_equal(full(batch[id], 16)[:, s], single[id][:, 0], err_msg=id)


def test_items_that_do_not_vary_are_computed_once() -> None:
    """Varying only opening cash leaves revenue and costs (T, 1); cash varies (T, S)."""
    model = build(finmodel.load("openai-plan-2025q3"))
    values = np.repeat(model.params.vector()[None, :], 5, axis=0)
    # 100 more cash keeps every case off its revolver, so cash moves one for one
    values[:, model.params.names().index("opening_cash")] += 100.0 + np.arange(5.0)
    items = evaluate(model, values)
    assert items["revenue"].shape == (72, 1) and items["compute_cost"].shape == (72, 1)
    assert items["cash_unfunded"].shape == (72, 5)
    np.testing.assert_allclose(items["cash_unfunded"][:, 4] - items["cash_unfunded"][:, 0], 4.0)


def test_chunked_evaluation_equals_one_batch() -> None:
    model = build(finmodel.load("hsbc-2025-11"))
    rng = np.random.default_rng(5)
    values = model.params.vector() * rng.uniform(0.9, 1.1, size=(23, len(model.params)))
    one = evaluate(model, values)
    for sl, part in evaluate_chunks(model, values, chunk=7):
        for id in ("cash_unfunded", "funding_need_cumulative", "revenue"):
            np.testing.assert_array_equal(part[id], full(one[id], 23)[:, sl])


def test_schedule_splits_recursive_items() -> None:
    sched = schedule(build(finmodel.load("openai-plan-2025q3")))
    assert {"revenue", "commit__oracle", "depreciation"} <= set(sched.before)
    for id in ("cash_unfunded", "tax", "facility__revolver", "funding_need_cumulative"):
        assert id in sched.loop
    # read by nothing in the loop: computed whole after it
    for id in ("net_income", "net_loss", "burn", "cash", "funding_need", "below_buffer"):
        assert id in sched.after


def test_identity_failure_names_scenario_and_month() -> None:
    from finmodel.engine.checks import check
    from finmodel.errors import IdentityError

    model = build(finmodel.load("openai-plan-2025q3"))
    v = model.params.vector()[None, :]
    items = evaluate(model, v)
    items["cash_unfunded"][26, 0] += 0.5
    with pytest.raises(
        IdentityError,
        match=r"cash roll-forward broken in scenario 'OpenAI company plan \(Sep 2025\)', 2027-03",
    ):
        check(model, items, v)


def test_annual_rollup_kinds(write_yaml: Callable[..., Path]) -> None:
    res = finmodel.run(write_yaml(HAND))
    m, a = res.monthly, res.annual
    assert a.loc["revenue", 2027] == pytest.approx(math.fsum(m.loc["2027-01":"2027-12", "revenue"]))
    assert a.loc["cash", 2026] == m.loc["2026-12", "cash"]
    assert a.loc["below_buffer", 2026] == int(m.loc["2026-01":"2026-12", "below_buffer"].sum())


def test_explicit_payments_spread_smoothly_from_the_start_month(
    write_yaml: Callable[..., Path],
) -> None:
    """A contract from July 2026: 6 paid over the six months of 2026, 24 over 2027, 0 after;
    every year keeps its payment exactly and every paid month is positive."""
    p = write_yaml("""
        name: Explicit
        company: E
        start: 2026-01
        end: 2028-12
        opening: {cash: 100}
        revenue: {annual: {2026: 0}}
        commitments:
          - counterparty: C
            start: 2026-07
            profile: explicit
            payments: {2026: 6, 2027: 24}
    """)
    c = finmodel.run(p).series("commit__c")
    assert c[:6].tolist() == [0.0] * 6 and c[24:].tolist() == [0.0] * 12
    assert math.fsum(c[6:12]) == pytest.approx(6, rel=1e-12)
    assert math.fsum(c[12:24]) == pytest.approx(24, rel=1e-12)
    assert np.all(c[6:24] > 0) and np.all(np.diff(c[6:24]) > 0)  # rising, no January step


def test_runway_counts_from_the_as_of_month(write_yaml: Callable[..., Path]) -> None:
    """Cash 12, burn 1 a month from January 2026, a buffer of 1, 30 of equity in June 2027.
    U_t = 12 - (t + 1) until the raise, 42 - (t + 1) after it (t from 0 = 2026-01).

    * From the opening balance: U < 1 first at t = 11 (2026-12): runway 11 months.
    * As of the end of June 2026 (a = 5): the same month, 5 months on (July to November).
    * As of the end of July 2027 (a = 18): to be alive the company raised the need until then,
      N_18 = 1 - U_16 = 1 - (12 - 17) = 6, so it holds U_t + 6; that falls below 1 when
      42 - (t + 1) + 6 < 1, first at t = 47 (2029-12): runway 47 - 18 - 1 = 28 months.
    * As of the end of April 2027 (a = 15), short since December: the need grows the next
      month (2027-05), so the runway is 0.
    """
    p = write_yaml("""
        name: Runway
        company: R
        start: 2026-01
        end: 2030-12
        opening: {cash: 12}
        revenue: {annual: {2026: 0}}
        costs: {staff: {annual: {2026: 12}}}
        funding:
          min_cash: 1
          inflows: [{name: Raise, amount: 30, date: 2027-06}]
    """)
    m = finmodel.run(p).metrics
    assert (m["cash_out_month"], m["runway_months"], m["as_of"]) == ("2026-12", 11, "2025-12")
    m = finmodel.run(p, as_of="2026-06").metrics
    assert (m["cash_out_month"], m["runway_months"]) == ("2026-12", 5)
    m = finmodel.run(p, as_of="2027-07").metrics
    assert (m["cash_out_month"], m["runway_months"]) == ("2029-12", 28)
    m = finmodel.run(p, as_of="2027-04").metrics
    assert (m["cash_out_month"], m["runway_months"]) == ("2027-05", 0)
    with pytest.raises(finmodel.AssumptionError, match=r"^as_of: expected a month from"):
        finmodel.run(p, as_of="2025-10")
    with pytest.raises(finmodel.AssumptionError, match=r"the month before the end"):
        finmodel.run(p, as_of="2030-12")
