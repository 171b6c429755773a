"""Domains of inputs (shares in [0, 1], amounts >= 0) checked in files and after changes from
the command line, and the plain-number form of a path by year (the same value every year)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from finmodel.assumptions import load
from finmodel.cli import app

MINIMAL = """name: minimal
company: Example Co
start: 2026-01
end: 2027-12
opening:
  cash: 25
revenue:
  annual: 12
costs:
  cost_of_revenue: {share_of_revenue: 0.3}
  staff: {annual: {value: 2.4, source: a guess}}
"""


def _run(tmp_path: Path, *args: str) -> tuple[int, str]:
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        r = CliRunner().invoke(app, list(args))
    finally:
        os.chdir(cwd)
    return r.exit_code, r.output


def test_plain_number_is_the_same_value_every_year(tmp_path: Path) -> None:
    f = tmp_path / "minimal.yaml"
    f.write_text(MINIMAL)
    a = load(f)
    assert a.costs.cost_of_revenue is not None
    share = a.costs.cost_of_revenue.share_of_revenue
    assert share is not None and {k: v.value for k, v in share.items()} == {2026: 0.3}
    assert a.costs.staff is not None and a.costs.staff.annual is not None
    assert a.costs.staff.annual[2026].source == "a guess"
    code, out = _run(tmp_path, "run", str(f), "--no-workbook", "--json")
    assert code == 0, out
    annual = json.loads(out)["annual"]
    # by hand: revenue 12 a year, cost of revenue 0.3 x 12 = 3.6, staff 2.4, no tax:
    # net income 12 - 3.6 - 2.4 = 6 in each year; cash 25 + 6 = 31, then 37
    for year, cash in (("2026", 31.0), ("2027", 37.0)):
        assert annual["revenue"][year] == pytest.approx(12.0)
        assert annual["net_income"][year] == pytest.approx(6.0)
        assert annual["cash"][year] == pytest.approx(cash)


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        (
            ["--set", "costs.tax_rate=21"],
            "--set costs.tax_rate=21: expected a rate between 0 and 1 (rates are decimals: "
            "0.21, not 21), got 21",
        ),
        (
            ["--shift", "funding.min_cash=-100"],
            "--shift funding.min_cash=-100: expected an amount >= 0, got -100 (after shift -100)",
        ),
        # the share of revenue 0.3 scaled by 4 is 1.2 (hand calculation)
        (
            ["--scale", "costs.cost_of_revenue=4"],
            "--scale costs.cost_of_revenue=4: expected a share between 0 and 1 (rates are "
            "decimals: 0.21, not 21), got 1.2 for costs.cost_of_revenue.share_of_revenue.2026 "
            "(after scale 4)",
        ),
        (
            ["--scale", "revenue.annual=1e300"],
            "--scale revenue.annual=1e300: expected a number of magnitude at most 1e+15, "
            "got 1e+300",
        ),
        # 12 x 1e14 = 1.2e15 is beyond the largest magnitude a file may hold
        (
            ["--scale", "revenue.annual=1e14"],
            "--scale revenue.annual=1e14: expected a number of magnitude at most 1e+15, "
            "got 1.2e+15 for revenue.annual.2026 (after scale 1e+14)",
        ),
    ],
)
def test_changes_from_the_command_line_keep_the_domain(
    tmp_path: Path, option: list[str], expected: str
) -> None:
    f = tmp_path / "minimal.yaml"
    f.write_text(MINIMAL)
    code, out = _run(tmp_path, "run", str(f), *option)
    assert code == 2
    assert out.strip() == f"error: {expected}"
    assert "pydantic" not in out and "validation error" not in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["minimal.yaml"]  # nothing written


def test_changes_within_the_domain_run(tmp_path: Path) -> None:
    f = tmp_path / "minimal.yaml"
    f.write_text(MINIMAL)
    code, out = _run(tmp_path, "run", str(f), "--set", "costs.tax_rate=0.21", "--no-workbook")
    assert code == 0, out


def test_a_pct_bar_stops_at_the_domain_edge(tmp_path: Path) -> None:
    from finmodel.analysis.sensitivity import TornadoSpec, tornado
    from finmodel.engine.model import build

    f = tmp_path / "taxed.yaml"
    f.write_text(MINIMAL + "  tax_rate: 0.8\n")
    model = build(load(f))
    df = tornado(model, "trough_unfunded_cash", [TornadoSpec("costs.tax_rate", pct=0.5)])
    # 0.8 -/+ 50% is 0.4 and 1.2; a rate stops at 1
    assert df.loc[0, ["op", "low", "high"]].tolist() == ["set", pytest.approx(0.4), 1.0]


MILESTONE = """name: milestone
company: Example Co
start: 2026-01
end: 2029-12
opening: {cash: 25}
revenue: {annual: 12}
milestones:
  gw: {2026-06: 0, 2026-12: 1, 2029-12: 10}
funding:
  inflows:
    - {name: Chips, amount: 100, milestone: gw, per_unit: 10}
"""


@pytest.mark.parametrize(
    ("path", "op", "expected"),
    [
        # points 0, 1, 10: the middle one stays between its neighbours
        ("milestones.gw.2026-12", "set", (0.0, 10.0)),
        ("milestones.gw.2026-12", "scale", (0.0, 10.0)),  # 1 * f in [0, 10]
        ("milestones.gw.2026-12", "shift", (-1.0, 9.0)),  # 1 + s in [0, 10]
        ("milestones.gw.2026-06", "set", (0.0, 1.0)),  # >= 0 (units) and <= the next, 1
        ("milestones.gw.2029-12", "scale", (0.1, float("inf"))),  # 10 f >= 1
        # the whole path: a factor or a shift keeps the order; 0 must stay >= 0
        ("milestones.gw", "scale", (0.0, float("inf"))),
        ("milestones.gw", "shift", (0.0, float("inf"))),
    ],
)
def test_a_milestone_path_never_decreases_after_a_change(
    tmp_path: Path, path: str, op: str, expected: tuple[float, float]
) -> None:
    """A milestone is cumulative: a change keeps its points in order (the range of each
    change, by hand from the points 0, 1 and 10), as a file must."""
    from finmodel.analysis.arguments import model_of
    from finmodel.assumptions.params import allowed_range, resolve

    f = tmp_path / "m.yaml"
    f.write_text(MILESTONE)
    model = model_of(load(f))
    assert allowed_range(model.params, resolve(model.params, path), op) == expected


def test_a_set_that_makes_a_milestone_fall_is_refused(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(MILESTONE)
    code, out = _run(tmp_path, "run", "m.yaml", "--set", "milestones.gw.2029-12=0.5")
    assert code == 2
    assert out.strip() == (
        "error: --set milestones.gw.2029-12=0.5: expected a cumulative path that never "
        "decreases, got 1 at 2026-12 then 0.5 at 2029-12"
    )
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").iterdir())
