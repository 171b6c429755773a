"""The shipped scenarios reproduce the published figures they cite (docs/sources.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

import finmodel

ALL_SHIPPED = sorted((Path(__file__).resolve().parent.parent / "assumptions").glob("*.yaml"))
SHIPPED = [p for p in ALL_SHIPPED if not p.name.startswith("network-")]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_target_within_tolerance(path: Path) -> None:
    res = finmodel.run(path)
    assert len(res.assumptions.targets) >= 2
    for r in res.target_results():
        assert r.ok, (
            f"{path.name}: {r.metric} {r.period}: model {r.model} vs published {r.published}"
        )


# contract terms, asset lives and simulation settings: shape, not figures
STRUCTURAL = {
    "years",
    "life_years",
    "draws",
    "seed",
    "alpha",
    "pct",
    "values",
    "rho",
    "runway_below_months",
    "cover_months",
}


@pytest.mark.parametrize("path", ALL_SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_number_cites_a_source(path: Path) -> None:
    """Walk the raw file: every number is a {value, source} mapping with a source, except
    structural fields (terms in years) and the targets' own fields (which carry a source)."""
    data = yaml.safe_load(path.read_text())
    uncited: list[str] = []

    def walk(node: object, where: str, key: object) -> None:
        if isinstance(node, dict):
            cited = bool(node.get("source"))
            number = isinstance(node.get("value"), int | float) and not isinstance(
                node.get("value"), bool
            )
            if number or "dist" in node:
                if not cited:
                    uncited.append(where)
                return
            for k, v in node.items():
                if isinstance(v, int | float) and not isinstance(v, bool):
                    if not cited and k not in STRUCTURAL:
                        uncited.append(f"{where}.{k}")
                else:
                    walk(v, f"{where}.{k}", k)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{where}[{i}]", key)
        elif isinstance(node, int | float) and not isinstance(node, bool) and key not in STRUCTURAL:
            uncited.append(where)

    for k, v in data.items():
        if k != "targets":
            walk(v, k, k)
    assert not uncited, f"{path.name}: numbers without a source: {uncited}"
    for t in data.get("targets", []):
        assert t.get("source"), f"{path.name}: target {t['metric']} has no source"


def test_base_plan_published_figures() -> None:
    """The Information (Sep 2025): revenue 13 in 2025, burn 115 over 2025-2029, net loss
    ex-SBC 14 in 2026, first positive FCF 2030; Altman: ~1,400 of commitments."""
    res = finmodel.run("openai-plan-2025q3")
    a = res.annual
    assert a.loc["revenue", 2025] == pytest.approx(13.0)
    assert sum(a.loc["burn", y] for y in range(2025, 2030)) == pytest.approx(115, rel=0.05)
    assert a.loc["net_loss_ex_sbc", 2026] == pytest.approx(14, rel=0.10)
    assert res.metrics["breakeven_year"] == 2030
    assert res.metrics["commitments_total"] == pytest.approx(1400, rel=0.02)
    # the plan's yearly rows (docs/sources.md section 1): 2025 -8.5 (within 0.5), 2026 -17,
    # 2028 -45 (Reuters' reading; 5% each). 2027 cannot reach -35 once Oracle is paid 60 a year
    # (test_flat_oracle_binds_in_2027), and 2029 takes the rest of the 115, still negative.
    assert a.loc["free_cash_flow", 2025] == pytest.approx(-8.5, abs=0.5)
    assert a.loc["free_cash_flow", 2026] == pytest.approx(-17, rel=0.05)
    assert a.loc["free_cash_flow", 2028] == pytest.approx(-45, rel=0.05)
    assert a.loc["free_cash_flow", 2027] < -35 * 1.05
    assert a.loc["free_cash_flow", 2029] < 0


# Contract profiles by hand (docs/sources.md section 10): a flat contract of A over n months
# pays A / n a month; a ramp pays A * 2m / (n (n + 1)) in its month m.
def _ramp(amount: float, n: int, months: range) -> float:
    return amount * sum(2 * m for m in months) / (n * (n + 1))


def test_oracle_is_paid_60_a_year_and_the_ramp_is_the_named_alternative() -> None:
    """WSJ, 10 Sep 2025: 300 over about five years from 2027, ~60 a year. The base pays 60 in
    each year 2027-2030 and leaves 60 for 2031; oracle-ramp pays 12.8, 36.4, 60.0 and 83.6 and
    leaves 107.2 for 2031. Nothing else about the contracts differs."""
    base = finmodel.run("openai-plan-2025q3")
    ramp = finmodel.run("oracle-ramp")
    assert base.annual.loc["commit__oracle"].tolist() == pytest.approx(
        [0, 0, 60, 60, 60, 60], rel=1e-12, abs=1e-12
    )
    assert 300 - base.annual.loc["commit__oracle"].sum() == pytest.approx(60, rel=1e-12)
    # contract months 1-12 fall in 2027, 13-24 in 2028, ...; 49-60 in 2031, after the horizon
    by_year = [_ramp(300, 60, range(12 * k + 1, 12 * k + 13)) for k in range(4)]
    assert by_year == pytest.approx([300 * 156 / 3660, 300 * 444 / 3660, 60, 300 * 1020 / 3660])
    assert ramp.annual.loc["commit__oracle"].tolist() == pytest.approx(
        [0, 0, *by_year], rel=1e-12, abs=1e-12
    )
    after = 300 - ramp.annual.loc["commit__oracle"].sum()
    assert after == pytest.approx(_ramp(300, 60, range(49, 61)), rel=1e-12)
    assert after == pytest.approx(107.21, abs=0.005)
    others = [r.series("committed_payments") - r.series("commit__oracle") for r in (base, ramp)]
    np.testing.assert_allclose(others[0], others[1], rtol=0, atol=1e-12)


def test_flat_oracle_binds_in_2027() -> None:
    """In 2027 the base pays Oracle 60, AWS 38 x 12/84, CoreWeave 22.4 x 12/60 and Cerebras
    10 x 12/36 (Azure starts in 2028). Compute cost is max(need, committed) every month, so
    the year's compute costs at least that, and at least the excess over the plan's need is
    stranded, whatever the monthly shape of the need."""
    a = finmodel.run("openai-plan-2025q3").annual
    committed = 60 + 38 * 12 / 84 + 22.4 * 12 / 60 + 10 * 12 / 36
    assert a.loc["committed_payments", 2027] == pytest.approx(committed, rel=1e-12)
    assert a.loc["commit__microsoft_azure", 2027] == 0.0
    assert a.loc["compute_cost", 2027] >= committed - 1e-9
    excess = committed - a.loc["compute_need", 2027]
    assert excess > 0
    assert a.loc["stranded_compute", 2027] >= excess - 1e-9


def test_oracle_ramp_reproduces_the_plan_row_by_row() -> None:
    """With the ramp, the plan's yearly free cash flow (The Information, Sep 2025: -8.5, -17,
    -35, -47, -8; 5% each, 2025 within 0.5) is reproduced year by year, as well as the 115."""
    a = finmodel.run("oracle-ramp").annual
    assert a.loc["free_cash_flow", 2025] == pytest.approx(-8.5, abs=0.5)
    for year, fcf in {2026: -17, 2027: -35, 2028: -47, 2029: -8}.items():
        assert a.loc["free_cash_flow", year] == pytest.approx(fcf, rel=0.05)
    assert sum(a.loc["burn", y] for y in range(2025, 2030)) == pytest.approx(115, rel=0.05)


def test_hsbc_funding_gap() -> None:
    """HSBC: revenue 213.6 in 2030, rent 792 (H2 2025-2030), gap 207 (no buffer), 217 (10)."""
    res = finmodel.run("hsbc-2025-11")
    assert res.annual.loc["revenue", 2030] == pytest.approx(213.6, rel=0.02)
    assert res.metric_value("committed_payments", "2025-2030") == pytest.approx(792, rel=1e-12)
    gap = res.annual.loc["funding_gap", 2030]
    assert gap == pytest.approx(207, rel=0.05)
    buffered = finmodel.run("hsbc-2025-11-buffer").annual.loc["funding_gap", 2030]
    assert buffered == pytest.approx(217, rel=0.05)
    # a buffer of 10 raises the need by exactly 10 once cash is short for good
    assert buffered - gap == pytest.approx(10.0, abs=1e-9)


# Without the revolver, unfunded cash is opening cash plus cumulative (free cash flow +
# committed inflows): two scenarios that differ only in inflows differ by exactly the
# cumulative difference of those inflows.
NO_REVOLVER = {"funding.facilities.revolver.limit": {"set": 0}}


def test_nvidia_pullback_opens_a_gap_the_base_does_not_have() -> None:
    base = finmodel.run("openai-plan-2025q3")
    pull = finmodel.run("nvidia-pullback")
    assert base.annual.loc["committed_inflows"].sum() - pull.annual.loc[
        "committed_inflows"
    ].sum() == pytest.approx(100.0)
    assert pull.metrics["cash_out_month"] is not None
    assert pull.metrics["peak_funding_need"] > base.metrics["peak_funding_need"]
    # operations are untouched: the published targets still hold
    assert all(r.ok for r in pull.target_results())
    b, p = (finmodel.run(n, adjust=NO_REVOLVER) for n in ("openai-plan-2025q3", "nvidia-pullback"))
    np.testing.assert_allclose(
        b.series("cash_unfunded") - p.series("cash_unfunded"),
        np.cumsum(b.series("inflow__nvidia")),
        rtol=0,
        atol=1e-9,
    )


def _tranche_months(res: finmodel.Results) -> np.ndarray:
    """NVIDIA / OpenAI, 22 Sep 2025: 10 per GW deployed. The base's milestone path is 0 GW at
    2026-06, 1 at 2026-12 and 10 at 2029-12: one GW every 36 / 9 = 4 months after Dec 2026."""
    tl = res.model.timeline
    expected = np.zeros(tl.T)
    for k in range(10):
        year, month = divmod(2026 * 12 + 11 + 4 * k, 12)
        expected[tl.index_of(f"{year}-{month + 1:02d}")] = 10.0
    return expected


def test_revised_plan_does_not_count_the_stalled_tranches_and_the_overlay_restores_them() -> None:
    """WSJ, 30 Jan 2026: the up-to-100 stalled. The revised plan counts the SoftBank-led
    round (10 + 8.3 + 22.5 in 2025) and the 110 round (2026-03) and nothing per GW; the
    tranches overlay adds exactly the ten tranches of 10 and changes nothing else."""
    rev = finmodel.run("openai-plan-2026q1")
    tr = finmodel.run("openai-plan-2026q1-nvidia-tranches")
    assert not rev.series("inflow__nvidia").any()
    assert rev.annual.loc["committed_inflows"].tolist() == pytest.approx(
        [10 + 8.3 + 22.5, 110, 0, 0, 0, 0], rel=1e-12, abs=1e-12
    )
    added = tr.series("committed_inflows") - rev.series("committed_inflows")
    np.testing.assert_allclose(added, _tranche_months(tr), rtol=0, atol=1e-12)
    assert added.sum() == pytest.approx(100.0, rel=1e-12)
    for line in ("revenue", "compute_cost", "committed_payments"):
        np.testing.assert_array_equal(rev.series(line), tr.series(line))
    assert rev.metrics["peak_funding_need"] > tr.metrics["peak_funding_need"]
    # without the revolver no interest (and no tax on it) separates the two either
    r, t = (
        finmodel.run(n, adjust=NO_REVOLVER)
        for n in ("openai-plan-2026q1", "openai-plan-2026q1-nvidia-tranches")
    )
    np.testing.assert_array_equal(r.series("free_cash_flow"), t.series("free_cash_flow"))
    np.testing.assert_allclose(
        t.series("cash_unfunded") - r.series("cash_unfunded"),
        np.cumsum(_tranche_months(t)),
        rtol=0,
        atol=1e-9,
    )


def test_nvidia_pullback_from_the_revised_plan_is_the_round_without_nvidia() -> None:
    """The round closes at 80 (Amazon 50, SoftBank 30) at 730 pre-money: 30 less arrives in
    2026-03, the need rises by exactly 30 without the revolver, and the cap table after the
    round is priced at 810 post-money."""
    rev = finmodel.run("openai-plan-2026q1")
    pull = finmodel.run("nvidia-pullback-2026q1")
    tl = rev.model.timeline
    less = np.zeros(tl.T)
    less[tl.index_of("2026-03")] = 30.0
    np.testing.assert_allclose(
        rev.series("committed_inflows") - pull.series("committed_inflows"), less, atol=1e-12
    )
    np.testing.assert_array_equal(rev.series("free_cash_flow"), pull.series("free_cash_flow"))
    r, p = (
        finmodel.run(n, adjust=NO_REVOLVER)
        for n in ("openai-plan-2026q1", "nvidia-pullback-2026q1")
    )
    assert r.metrics["peak_funding_need"] > 30  # the trough comes after the round
    assert p.metrics["peak_funding_need"] == pytest.approx(
        r.metrics["peak_funding_need"] + 30, rel=1e-12
    )
    v = pull.valuation()
    assert v["rounds"].loc[0, ["amount", "pre_money", "post_money"]].tolist() == [80, 730, 810]
    after = v["cap_table"]["after February 2026 round (2026-03)"]
    assert "NVIDIA" not in v["cap_table"].index
    assert after["SoftBank"] == pytest.approx(0.11 * 730 / 810 + 30 / 810, rel=1e-12)
    assert after["Amazon"] == pytest.approx(50 / 810, rel=1e-12)


def test_bear_strands_compute() -> None:
    bear = finmodel.run("bear")
    assert bear.metrics["stranded_compute_total"] > 100
    assert bear.metrics["breakeven_year"] is None
    # half the plan's growth in logs: R_t = c B_t^0.5, so every month's growth factor is the
    # square root of the plan's, the first year keeps the plan's 13, and 2030 is within 2%
    # of 13 (200 / 13)^0.5 = 51.0 (the months' shape moves it by about 1%)
    r, b = bear.series("revenue"), bear.series("revenue_base")
    np.testing.assert_allclose(r[1:] / r[:-1], np.sqrt(b[1:] / b[:-1]), rtol=1e-12)
    assert bear.annual.loc["revenue", 2025] == pytest.approx(13.0, rel=1e-12)
    assert bear.annual.loc["revenue", 2030] == pytest.approx(13 * (200 / 13) ** 0.5, rel=0.02)
