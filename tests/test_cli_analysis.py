"""CLI: sensitivity, solve, simulate (output, files written, bad options exit 2)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

import finmodel
from finmodel.cli import app

runner = CliRunner()


def test_sensitivity_writes_tornado_grid_sobol(in_tmp: Path) -> None:
    r = runner.invoke(app, ["sensitivity", "hsbc-2025-11", "--sobol", "--base", "256"])
    assert r.exit_code == 0, r.output
    base = finmodel.run("hsbc-2025-11").metric_value("funding_gap", 2030)
    assert f"Tornado: funding_gap.2030 (base {base:,.2f})" in r.output
    assert "Grid: funding_gap.2030" in r.output  # the file's grid section
    assert "Sobol indices" in r.output and "assume independent inputs" in r.output
    wb = load_workbook(in_tmp / "outputs" / "hsbc-2025-11-sensitivity.xlsx")
    assert {"Tornado", "Grid", "Sobol", "Calc"} <= set(wb.sheetnames)
    assert len(wb["Tornado"]._charts) == 1
    assert wb["Grid"].conditional_formatting
    png = in_tmp / "outputs" / "hsbc-2025-11-sensitivity-tornado.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sensitivity_params_and_grid_options(in_tmp: Path) -> None:
    r = runner.invoke(
        app,
        [
            "sensitivity",
            "openai-plan-2025q3",
            "-m",
            "trough_unfunded_cash",
            "--no-workbook",
            "-p",
            "opening.cash=0:20",
            "-p",
            "revenue.scale",
            "--grid-x",
            "opening.cash=0,10,20",
            "--grid-y",
            "revenue.scale=0.8:1.2:3",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "opening.cash" in r.output and "revenue.scale" in r.output
    assert not (in_tmp / "outputs").exists()


def test_solve(in_tmp: Path) -> None:
    r = runner.invoke(
        app,
        [
            "solve",
            "hsbc-2025-11",
            "--target",
            "funding_gap.2030=100",
            "--vary",
            "revenue.segments.enterprise.market",
        ],
    )
    assert r.exit_code == 0, r.output
    # plug the answer back in: the scaled market must give the target gap
    m = re.search(r"revenue\.segments\.enterprise\.market \(scale\) = ([0-9.]+)", r.output)
    assert m, r.output
    scaled = finmodel.run(
        "hsbc-2025-11", adjust={"revenue.segments.enterprise.market": {"scale": float(m[1])}}
    )
    assert scaled.metric_value("funding_gap", 2030) == pytest.approx(100, abs=1e-6)
    assert "brentq iterations" in r.output


LINEAR = (
    "name: Linear\ncompany: L\nstart: 2026-01\nend: 2026-12\nopening: {cash: 10}\n"
    "revenue: {annual: {2026: 0}}\ncosts: {staff: {annual: {2026: 6}}}\n"
)
"""Cash falls 0.5 a month from C: runway(C) = floor(2C) months (to the 1e-9 cash tolerance)."""


@pytest.mark.parametrize(
    ("target", "texts"),
    [
        # 5.5 months lies in the jump from 5 to 6 months at C = 3 (less the 1e-9 tolerance)
        (
            "5.5",
            [
                "jumps over the target between opening.cash = 2.99999999",
                "(runway_months 5, below)",
                "(6, above)",
                "counts whole months",
            ],
        ),
        # 100 months: beyond the 12-month horizon, the jump from 11 to never at C = 6 (a
        # runway that outlasts the horizon reads as in run's Summary)
        ("100", ["(runway_months 11, below)", "(beyond the horizon, above)"]),
        # -1: every runway is at least 0 months; nearest 0 at C = 0
        (
            "-1",
            [
                "ranges from 0 to beyond the horizon",
                "all above the target",
                "nearest: 0 at opening.cash = 0",
            ],
        ),
    ],
)
def test_solve_without_a_solution_exits_1_with_the_nearest_values(
    in_tmp: Path, target: str, texts: list[str]
) -> None:
    (in_tmp / "linear.yaml").write_text(LINEAR)
    r = runner.invoke(
        app,
        [
            "solve",
            "linear.yaml",
            "-t",
            f"runway_months={target}",
            "-v",
            "opening.cash",
            "--bracket",
            "0:10",
        ],
    )
    assert r.exit_code == 1, r.output
    assert r.output.startswith("no solution: runway_months = ")
    for text in texts:
        assert text in r.output, text
    assert "Traceback" not in r.output and "error:" not in r.output
    ok = runner.invoke(
        app,
        [
            "solve",
            "linear.yaml",
            "-t",
            "runway_months=5",
            "-v",
            "opening.cash",
            "--bracket",
            "0:10",
        ],
    )
    assert ok.exit_code == 0 and "gives runway_months = 5 (target 5)" in ok.output


def test_reverse_dcf_without_a_solution_exits_1_and_writes_nothing(in_tmp: Path) -> None:
    r = runner.invoke(
        app, ["value", "openai-plan-2026q1", "--implied", "1e9", "--vary", "revenue.scale"]
    )
    assert r.exit_code == 1, r.output
    assert "no solution: equity_value = 1e+09 is not attained" in r.output
    assert "all below the target" in r.output
    assert not (in_tmp / "outputs").exists()


def test_exit_codes_are_in_the_help() -> None:
    assert "1 no solution" in runner.invoke(app, ["--help"]).output
    assert "1 no solution" in runner.invoke(app, ["solve", "--help"]).output


def test_simulate_json_is_reproducible(in_tmp: Path) -> None:
    args = ["simulate", "hsbc-2025-11", "-n", "2000", "--seed", "3", "--json", "--no-workbook"]
    a = json.loads(runner.invoke(app, args).stdout)
    b = json.loads(runner.invoke(app, args).stdout)
    assert a == b
    assert a["manifest"]["draws"] == 2000 and a["manifest"]["seed"] == 3
    assert a["manifest"]["parameters"].startswith("revenue.users.paying_share.2030")
    need = list(a["raise_schedule"].values())
    assert need == sorted(need) and need[-1] > 211.9  # 95% confidence needs more than the base


def test_simulate_writes_workbook_and_fan(in_tmp: Path) -> None:
    r = runner.invoke(app, ["simulate", "openai-plan-2025q3", "-n", "1000", "--seed", "1"])
    assert r.exit_code == 0, r.output
    assert "Raise schedule: at most 5% of the drawn paths below the buffer in any month" in r.output
    assert "per-month quantile (not joint)" in r.output
    wb = load_workbook(in_tmp / "outputs" / "openai-plan-2025q3-montecarlo.xlsx")
    ws = wb["Monte Carlo"]
    assert ws["A2"].value == "2025-01" and ws["A73"].value == "2030-12"
    assert len(ws._charts) == 1
    manifest = {
        ws.cell(row=i, column=24).value: ws.cell(row=i, column=25).value for i in range(2, 15)
    }
    assert manifest["seed"] == 1 and manifest["draws"] == 1000 and manifest["sampler"] == "lhs"
    assert (in_tmp / "outputs" / "openai-plan-2025q3-montecarlo-fan.png").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["simulate", "hsbc-2025-11", "--sampler", "sobol"], "--sampler: expected lhs or random"),
        (["simulate", "hsbc-2025-11", "-n", "0"], "--draws: expected at least 1 draw"),
        (["simulate", "hsbc-2025-11", "--alpha", "2"], "--alpha: expected a probability in [0, 1]"),
        (["simulate", "plain.yaml"], "expected an 'uncertainty' section"),
        (
            ["solve", "bear", "--target", "funding_gap.2030", "--vary", "revenue.scale"],
            "--target: expected METRIC=VALUE, got 'funding_gap.2030'",
        ),
        (
            ["solve", "bear", "--target", "funding_gap.2030=x", "--vary", "revenue.scale"],
            "--target: expected a number",
        ),
        (
            ["solve", "bear", "--target", "funding_gap.2030=0", "--vary", "revenue.scal"],
            "nearest: revenue.scale",
        ),
        (
            [
                "solve",
                "bear",
                "--target",
                "funding_gap.2030=0",
                "--vary",
                "revenue.scale",
                "--op",
                "x",
            ],
            "--op: expected set, scale or shift",
        ),
        (["sensitivity", "bear", "--grid-x", "revenue.scale=1:2:3"], "expected both"),
        (
            [
                "sensitivity",
                "bear",
                "--grid-x",
                "revenue.scale=1:2",
                "--grid-y",
                "opening.cash=1,2",
            ],
            "expected values as START:STOP:COUNT",
        ),
        (["sensitivity", "bear", "-m", "nonsense"], "expected one of the known metrics"),
        (["sensitivity", "plain.yaml", "--sobol"], "expected an 'uncertainty' section"),
    ],
)
def test_bad_options_exit_2(in_tmp: Path, args: list[str], message: str) -> None:
    (in_tmp / "plain.yaml").write_text(
        "name: Plain\ncompany: P\nstart: 2026-01\nend: 2026-12\nopening: {cash: 1}\n"
        "revenue: {annual: {2026: 1}}\n"
    )
    r = runner.invoke(app, [*args, "--no-workbook"] if args[0] != "solve" else args)
    assert r.exit_code == 2, r.output
    assert message in r.output
    assert "Traceback" not in r.output
    assert not (in_tmp / "outputs").exists()


def test_value_command(in_tmp: Path) -> None:
    r = runner.invoke(
        app,
        [
            "value",
            "openai-plan-2026q1-nvidia-tranches",
            "--implied",
            "730",
            "--vary",
            "revenue.scale",
        ],
    )
    assert r.exit_code == 0, r.output
    for text in (
        "Enterprise value",
        "Equity value",
        # 730 pre-money for 110, then NVIDIA's 100 at the last round's price: 1 - 730/940
        "Cap table (dilution to the holders at the valuation date, by the horizon: 22.3%)",
        "13.13%",
        "preference 1x non-participating, pari passu",
        "Investor returns at an exit of 1,000 in 2030-12",
        "Take-or-pay commitments at 12%",
        "Reverse DCF: revenue.scale (set) =",
        "the only root",
    ):
        assert text in r.output, text
    wb = load_workbook(in_tmp / "outputs" / "openai-plan-2026q1-nvidia-tranches-valuation.xlsx")
    assert {"Valuation", "Cap table"} <= set(wb.sheetnames)
    assert wb["Valuation"]["B7"].value.startswith("=")  # enterprise value by formula


def test_value_json_and_run_summary(in_tmp: Path) -> None:
    doc = json.loads(
        runner.invoke(app, ["value", "hsbc-2025-11", "--json", "--no-workbook"]).stdout
    )
    for k in (
        "enterprise_value",
        "equity_value",
        "pv_free_cash_flow",
        "pv_terminal_value",
        "terminal_value",
        "terminal_share",
        "multiples",
        "dilution_by_horizon",
        "rounds",
        "cap_table",
        "investor_returns",
        "commitments",
        "commitment_coverage",
        "fcf_irr",
    ):
        assert k in doc, k
    assert all(
        abs(sum(col) - 1) < 1e-12
        for col in zip(*[list(v.values()) for v in doc["cap_table"].values()], strict=True)
    )
    # HSBC's gap -> policy rounds; its NVIDIA and AMD inflow is priced at the last of them
    assert doc["rounds"] and any(r["from_policy"] for r in doc["rounds"])
    assert {r["pricing"] for r in doc["rounds"]} == {"policy round", "last round"}
    r = runner.invoke(app, ["run", "openai-plan-2026q1-nvidia-tranches", "--no-workbook"])
    assert "Equity value (DCF at 2025-12)" in r.output
    assert "Dilution to the holders at the valuation date, by the horizon" in r.output
    assert "22.3%" in r.output  # 1 - 730/940 (see test_value_command)


def test_value_needs_a_valuation_section(in_tmp: Path) -> None:
    (in_tmp / "plain.yaml").write_text(
        "name: Plain\ncompany: P\nstart: 2026-01\nend: 2026-12\nopening: {cash: 1}\n"
        "revenue: {annual: {2026: 1}}\n"
    )
    r = runner.invoke(app, ["value", "plain.yaml"])
    assert r.exit_code == 2 and "expected a 'valuation' section" in r.output
    r = runner.invoke(app, ["value", "bear", "--implied", "730"])
    assert r.exit_code == 2 and "expected both" in r.output


def test_a_step_metric_answer_plugs_back_as_printed(in_tmp: Path) -> None:
    """The printed value of a runway goal seek, typed back in, gives the target (rounding it
    to ten digits could land one month short)."""
    r = runner.invoke(
        app, ["solve", "hsbc-2025-11", "--target", "runway_months=30", "--vary", "opening.cash"]
    )
    assert r.exit_code == 0, r.output
    m = re.search(r"opening\.cash \(set\) = ([0-9.e+-]+) gives", r.output)
    assert m, r.output
    back = finmodel.run("hsbc-2025-11", adjust={"opening.cash": {"set": float(m[1])}})
    assert back.metrics["runway_months"] == 30
