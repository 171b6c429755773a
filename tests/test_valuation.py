"""Valuation and financing against closed forms, numpy-financial and published figures."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy_financial as npf
import pytest

import finmodel
from finmodel import valuation as val
from finmodel.errors import AssumptionError

FLAT = """
name: Flat
company: F
start: 2026-01
end: 2027-12
opening: {{cash: 5, debt: 2}}
revenue: {{annual: {{2026: 12}}}}
valuation:
  date: 2025-12
  discount_rate: 0.1
  mid_period: {mid}
  terminal: {terminal}
"""


def test_gordon_growth_closed_form(write_yaml: Callable[..., Path]) -> None:
    """FCF of 1 a month for 24 months, valued at the start: PV = sum q^k with q = 1.1^(-1/12)
    (month-end), TV = 12 x 1.02 / (0.10 - 0.02) = 153 discounted two years."""
    p = write_yaml(FLAT.format(mid="false", terminal="{method: growth, growth: 0.02}"))
    d = val.dcf(finmodel.run(p))
    q = 1.1 ** (-1 / 12)
    pv = q * (1 - q**24) / (1 - q)
    assert d.pv_free_cash_flow == pytest.approx(pv, rel=1e-12)
    assert d.terminal_value == pytest.approx(153.0, rel=1e-12)
    assert d.pv_terminal_value == pytest.approx(153.0 / 1.1**2, rel=1e-12)
    # numpy-financial at the equivalent monthly rate, flows at month ends, TV with the last
    monthly = 1.1 ** (1 / 12) - 1
    flows = [0.0] + [1.0] * 23 + [1.0 + 153.0]
    assert d.enterprise_value == pytest.approx(npf.npv(monthly, flows), rel=1e-12)
    assert d.equity_value == pytest.approx(d.enterprise_value + 5 - 2, rel=1e-12)
    assert d.terminal_share > 0.75 and "above 75%" in d.warnings[0]


def test_mid_period_and_exit_multiple(write_yaml: Callable[..., Path]) -> None:
    p = write_yaml(FLAT.format(mid="true", terminal="{method: multiple, multiple: 5, of: revenue}"))
    d = val.dcf(finmodel.run(p))
    pv = sum(1.1 ** (-(k - 0.5) / 12) for k in range(1, 25))
    assert d.pv_free_cash_flow == pytest.approx(pv, rel=1e-12)
    assert d.terminal_value == pytest.approx(60.0)  # 5 x 12 of revenue
    assert d.multiples["ev_to_next_12m_revenue"] == pytest.approx(d.enterprise_value / 12)


def test_growth_at_or_above_the_rate_is_refused(write_yaml: Callable[..., Path]) -> None:
    p = write_yaml(FLAT.format(mid="true", terminal="{method: growth, growth: 0.1}"))
    with pytest.raises(AssumptionError, match="Gordon growth diverges for g >= r"):
        finmodel.load(p)


def test_feb_2026_round_reproduces_softbank_at_13_percent() -> None:
    """110 at 730 pre-money: SoftBank 11% x 730/840 + 30/840 = 13.1% (SoftBank Group, Feb 2026:
    ~13% after; docs/sources.md section 4)."""
    v = finmodel.run("openai-plan-2026q1").valuation()
    after = v["cap_table"]["after February 2026 round (2026-03)"]
    assert after["SoftBank"] == pytest.approx(0.11 * 730 / 840 + 30 / 840, rel=1e-12)
    assert after["SoftBank"] == pytest.approx(0.13, abs=0.005)
    assert after["Microsoft"] == pytest.approx(0.27 * 730 / 840, rel=1e-12)
    first = v["rounds"].iloc[0]
    assert [first["amount"], first["pre_money"], first["post_money"]] == [110, 730, 840]
    assert first["pricing"] == "own valuation"
    # later rounds (the policy's, for the revised plan's gap) dilute further
    assert v["dilution"] > 1 - 730 / 840
    # with NVIDIA's stalled tranches restored there is no gap: its ten tranches of 10 buy at
    # the round's price per share (pre-money 840, 850, ..., 930), so the holders keep
    # 730/840 x 840/940 = 730/940
    r = finmodel.run("openai-plan-2026q1-nvidia-tranches").valuation()
    nv = r["rounds"][r["rounds"]["round"] == "NVIDIA"]
    assert nv["pre_money"].tolist() == pytest.approx([840 + 10 * k for k in range(10)], rel=1e-12)
    assert r["dilution"] == pytest.approx(1 - 730 / 940, rel=1e-12)


def test_policy_rounds_keep_cash_at_or_above_the_buffer() -> None:
    res = finmodel.run("nvidia-pullback", adjust={"funding.min_cash": {"set": 5}})
    rounds = val.rounds_table(val.equity_walk(res))
    assert len(rounds), "the pullback has a gap, so the policy must raise"
    tl = res.model.timeline
    raised = np.zeros(tl.T)
    for _, r in rounds.iterrows():
        raised[tl.index_of(r["month"]) :] += r["amount"]
        assert r["amount"] >= 10  # the file's minimum round
    assert np.all(res.series("cash_unfunded") + raised >= 5 - 1e-9)
    # priced at 24x the next twelve months' revenue
    first = rounds.iloc[0]
    t = tl.index_of(first["month"])
    assert first["pre_money"] == pytest.approx(24 * res.series("revenue")[t + 1 : t + 13].sum())


def test_reverse_dcf_plugged_back() -> None:
    sol = finmodel.solve("openai-plan-2026q1", "equity_value", 730.0, "revenue.scale", (0.5, 3))
    res = finmodel.run("openai-plan-2026q1", adjust={"revenue.scale": {"set": sol.value}})
    assert val.dcf(res).equity_value == pytest.approx(730.0, abs=1e-6)
    rate = finmodel.solve(
        "openai-plan-2026q1", "equity_value", 730.0, "valuation.discount_rate", (0.01, 0.5)
    )
    res = finmodel.run(
        "openai-plan-2026q1", adjust={"valuation.discount_rate": {"set": rate.value}}
    )
    assert val.dcf(res).equity_value == pytest.approx(730.0, abs=1e-6)


def test_commitments_present_value_closed_form(write_yaml: Callable[..., Path]) -> None:
    """A flat 120 over 10 years from the valuation date: an annuity of 1 a month, of which
    the 24-month horizon holds the first 24 payments."""
    p = write_yaml("""
        name: Obligations
        company: O
        start: 2026-01
        end: 2027-12
        opening: {cash: 50}
        revenue: {annual: {2026: 24}}
        commitments: [{counterparty: Cloud, amount: 120, start: 2026-01, years: 10}]
        valuation:
          date: 2025-12
          discount_rate: 0.1
          mid_period: false
          terminal: {method: multiple, multiple: 1}
    """)
    res = finmodel.run(p)
    com = val.commitments_pv(res)
    q = 1.1 ** (-1 / 12)
    within = q * (1 - q**24) / (1 - q)  # payments 1..24
    beyond = q**25 * (1 - q**96) / (1 - q)  # payments 25..120, past the horizon
    assert com.loc[0, "pv_in_horizon"] == pytest.approx(within, rel=1e-12)
    assert com.loc[0, "pv_after_horizon"] == pytest.approx(beyond, rel=1e-12)
    assert com.loc[0, "present_value"] == pytest.approx(q * (1 - q**120) / (1 - q), rel=1e-12)
    assert com.loc[0, "contract_value"] == pytest.approx(120)
    # FCF before commitments = revenue (no other costs), discounted month by month
    rev = res.series("revenue")
    before = float(np.sum(rev * q ** np.arange(1, 25)))
    assert com.attrs["pv_fcf_before_commitments"] == pytest.approx(before, rel=1e-12)
    assert com.attrs["pv_take_or_pay_in_horizon"] == pytest.approx(within, rel=1e-12)
    # one window for both sides: the 24 months of the horizon. With revenue of 2 a month
    # against payments of 1 a month the coverage is 2 whatever the discount rate.
    assert com.attrs["coverage"] == pytest.approx(before / within, rel=1e-12)
    assert com.attrs["coverage"] == pytest.approx(2.0, rel=1e-12)
    assert com.attrs["window"] == "2026-01..2027-12"
    assert com.attrs["pv_take_or_pay_after_horizon"] == pytest.approx(beyond, rel=1e-12)


def test_equity_value_metric_matches_dcf() -> None:
    from finmodel.analysis.metrics import evaluate_metric, parse_metric
    from finmodel.engine.evaluate import evaluate
    from finmodel.engine.model import build

    model = build(finmodel.load("hsbc-2025-11"))
    v = model.params.vector()[None, :]
    items = evaluate(model, v)
    got = evaluate_metric(model, items, v, parse_metric("equity_value", model))[0]
    assert got == pytest.approx(val.dcf(finmodel.run("hsbc-2025-11")).equity_value, rel=1e-12)
    assert not math.isnan(got)
