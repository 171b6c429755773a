"""The shipped scenarios reproduce the published figures they cite (FACTS.md)."""

from __future__ import annotations

from pathlib import Path

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
    # the yearly burn rows of FACTS.md: -8.5, -17, -35, -47, -8 (5% each, 2025 within 0.5)
    for year, fcf in {2026: -17, 2027: -35, 2028: -47, 2029: -8}.items():
        assert a.loc["free_cash_flow", year] == pytest.approx(fcf, rel=0.05)
    assert a.loc["free_cash_flow", 2025] == pytest.approx(-8.5, abs=0.5)


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


def test_nvidia_pullback_opens_a_gap_the_base_does_not_have() -> None:
    base = finmodel.run("openai-plan-2025q3")
    pull = finmodel.run("nvidia-pullback")
    assert base.metrics["peak_funding_need"] == 0.0
    assert base.annual.loc["committed_inflows"].sum() - pull.annual.loc[
        "committed_inflows"
    ].sum() == pytest.approx(100.0)
    assert pull.metrics["cash_out_month"] is not None
    assert pull.metrics["peak_funding_need"] > 0
    # operations are untouched: the published targets still hold
    assert all(r.ok for r in pull.target_results())


def test_bear_strands_compute() -> None:
    bear = finmodel.run("bear")
    assert bear.metrics["stranded_compute_total"] > 100
    assert bear.metrics["breakeven_year"] is None
    # each year's growth is half the plan's, month over the same month a year earlier: the
    # second year is exactly 13 + (30 - 13) / 2 = 21.5; later years follow the product of
    # the halved yearly growth rates (62.665 by 2030) up to the monthly shape of the plan
    assert bear.annual.loc["revenue", 2026] == pytest.approx(21.5, rel=1e-12)
    assert bear.annual.loc["revenue", 2030] == pytest.approx(
        13
        * (1 + (30 / 13 - 1) / 2)
        * 1.5
        * (1 + (100 / 60 - 1) / 2)
        * 1.225
        * (1 + (200 / 145 - 1) / 2),
        rel=0.01,
    )
