"""The typer CLI: run, validate, compare, --json, exit codes, the installed console script."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import finmodel
from finmodel.cli import app

runner = CliRunner()


def test_run_default_prints_summary_targets_and_writes_workbook(in_tmp: Path) -> None:
    r = runner.invoke(app, ["run"])
    assert r.exit_code == 0, r.output
    for text in (
        "OpenAI company plan (Sep 2025)",
        "Cash-out month",
        "Runway",
        "Breakeven year",
        "Trough cash",
        "Stranded compute",
        "funding gap",
        "Published figures vs the model",
    ):
        assert text in r.output
    assert (in_tmp / "outputs" / "openai-plan-2025q3.xlsx").is_file()
    assert " NO " not in r.output


def test_run_json_document(in_tmp: Path) -> None:
    r = runner.invoke(app, ["run", "hsbc-2025-11", "--json", "--no-workbook"])
    assert r.exit_code == 0
    doc = json.loads(r.stdout)
    assert doc["scenario"] == "HSBC funding-gap model (Nov 2025)"
    assert doc["finmodel_version"] == finmodel.__version__
    assert len(doc["input_sha256"]) == 64
    m = doc["metrics"]
    assert set(m) >= {
        "cash_out_month",
        "runway_months",
        "breakeven_year",
        "trough_unfunded_cash",
        "peak_funding_need",
        "commitments_total",
    }
    assert m["cash_out_month"] == "2027-05" and m["runway_months"] == 22
    assert m["breakeven_year"] is None
    for k in (
        "revenue",
        "net_income",
        "net_income_ex_sbc",
        "free_cash_flow",
        "burn",
        "compute_cost",
        "committed_payments",
        "stranded_compute",
        "funding_need",
        "funding_gap",
        "cash_unfunded",
        "cash",
    ):
        assert set(doc["annual"][k]) == {str(y) for y in range(2025, 2031)}
    assert doc["annual"]["funding_gap"]["2030"] == pytest.approx(m["peak_funding_need"])
    assert sum(doc["annual"]["funding_need"].values()) == pytest.approx(m["peak_funding_need"])
    t = {x["metric"]: x for x in doc["targets"]}
    assert t["funding_gap"]["published"] == 207 and t["funding_gap"]["ok"] is True
    assert not (in_tmp / "outputs").exists()


def test_out_option(in_tmp: Path) -> None:
    r = runner.invoke(app, ["run", "bear", "--out", "b.xlsx"])
    assert r.exit_code == 0 and (in_tmp / "b.xlsx").is_file()


def test_compare_writes_one_workbook(in_tmp: Path) -> None:
    r = runner.invoke(app, ["compare", "openai-plan-2025q3", "nvidia-pullback", "bear"])
    assert r.exit_code == 0, r.output
    assert "NVIDIA pulls back" in r.output and "funding gap 2030" in r.output
    from openpyxl import load_workbook

    wb = load_workbook(in_tmp / "outputs" / "compare.xlsx")
    assert wb.sheetnames[0] == "Compare"
    assert {"S1 Calc", "S2 Calc", "S3 Calc"} <= set(wb.sheetnames)
    assert "s2_funding_inflows_nvidia_amount" in wb.defined_names


def test_validate_ok() -> None:
    r = runner.invoke(app, ["validate", "openai-plan-2025q3", "hsbc-2025-11"])
    assert r.exit_code == 0 and r.output.count("ok: ") == 2


def test_help_and_version() -> None:
    r = runner.invoke(app, ["--help"])
    assert r.exit_code == 0
    for cmd in ("run", "validate", "compare"):
        assert cmd in r.output
    assert runner.invoke(app, ["run", "--help"]).exit_code == 0
    v = runner.invoke(app, ["--version"])
    assert v.exit_code == 0 and finmodel.__version__ in v.output


def test_unknown_option_is_exit_2() -> None:
    assert runner.invoke(app, ["run", "--nope"]).exit_code == 2


def test_python_m_help() -> None:
    p = subprocess.run(
        [sys.executable, "-m", "finmodel", "--help"], capture_output=True, text=True, check=False
    )
    assert p.returncode == 0 and "Usage" in p.stdout


def test_installed_console_script(tmp_path: Path) -> None:
    exe = shutil.which("finmodel") or str(Path(sys.executable).parent / "finmodel")
    assert Path(exe).exists(), "the finmodel console script is not installed"
    p = subprocess.run(
        [exe, "run", "--json", "--no-workbook"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["metrics"]["breakeven_year"] == 2030
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    p = subprocess.run(
        [exe, "run", str(bad)], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert p.returncode == 2 and "Traceback" not in p.stderr and "bad.yaml:" in p.stderr
    assert not (tmp_path / "outputs").exists()


def test_run_with_parameter_path_changes(in_tmp: Path) -> None:
    args = ["run", "hsbc-2025-11", "--json", "--no-workbook"]
    base = json.loads(runner.invoke(app, args).stdout)
    moved = json.loads(runner.invoke(app, [*args, "--set", "funding.min_cash=10"]).stdout)
    # HSBC's facility charges no interest, so a 10 buffer adds exactly 10 to the need once
    # cash is short for good (as the shipped hsbc-2025-11-buffer file does)
    assert moved["metrics"]["peak_funding_need"] == pytest.approx(
        base["metrics"]["peak_funding_need"] + 10, abs=1e-9
    )
    r = runner.invoke(app, ["run", "bear", "--scale", "revenue.anual=2", "--no-workbook"])
    assert r.exit_code == 2 and "nearest: revenue.annual" in r.output
    r = runner.invoke(app, ["run", "bear", "--shift", "opening.cash", "--no-workbook"])
    assert r.exit_code == 2 and "--shift: expected PATH=AMOUNT, got 'opening.cash'" in r.output


def test_validate_checks_network_files_and_run_refuses_them(tmp_path: Path) -> None:
    """`validate assumptions/*.yaml` covers the network file too; running it as a scenario is
    one clear message and exit 2."""
    net = Path(__file__).parent.parent / "assumptions" / "network-2025.yaml"
    r = CliRunner().invoke(app, ["validate", str(net), "bear"])
    assert r.exit_code == 0, r.output
    assert "network 'The circle of money (2025)', 15 parties" in r.output
    r = CliRunner().invoke(app, ["run", "network-2025"])
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "expected a scenario (with start:, opening: and revenue:), got a network file" in (
        r.output
    )
    # located at the file's first line and naming the line of its parties
    assert re.search(r"network-2025\.yaml:\d+: expected a scenario", r.output)
    assert "(it lists parties:, line 13)" in r.output
    assert "--network network-2025" in r.output
