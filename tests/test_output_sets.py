"""A run's files appear together or not at all, also under concurrent runs; output paths that
cannot be written get a message that says why."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

import finmodel
from finmodel.cli import app
from finmodel.errors import AssumptionError, ResourceLimitError

PLAN = """\
name: Uncertain plan
company: Example Co
start: 2026-01
end: 2027-12
opening:
  cash: 25
revenue:
  annual: {2026: 10, 2027: 12}
costs:
  staff: {annual: {2026: 14, 2027: 15}}
uncertainty:
  draws: 200
  seed: 3
  parameters:
    opening.cash: {dist: triangular, low: 20, mode: 25, high: 30}
    revenue.scale: {dist: triangular, low: 0.8, mode: 1, high: 1.2}
"""


@pytest.fixture
def plan(tmp_path: Path) -> Path:
    p = tmp_path / "plan.yaml"
    p.write_text(PLAN)
    return p


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_workbook_is_not_left_when_its_chart_cannot_be_written(plan: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "w-fan.png").mkdir()  # the chart's path is taken by a folder
    r = CliRunner().invoke(app, ["simulate", str(plan), "-n", "100", "--out", str(out / "w.xlsx")])
    assert r.exit_code == 2, r.output
    assert "w-fan.png: expected a file path, got a folder" in r.output
    assert _files(out) == ["w-fan.png"]  # no workbook, no temporary file


def test_outputs_as_a_regular_file(plan: Path, tmp_path: Path) -> None:
    (tmp_path / "outputs").write_text("not a folder")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        r = CliRunner().invoke(app, ["run", str(plan)])
    finally:
        os.chdir(cwd)
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "outputs: expected a folder for the outputs, got a file" in r.output
    assert (tmp_path / "outputs").read_text() == "not a folder"


def test_out_under_a_regular_file(plan: Path, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    r = CliRunner().invoke(app, ["run", str(plan), "--out", str(tmp_path / "f" / "x.xlsx")])
    assert r.exit_code == 2
    assert f"{tmp_path / 'f'} is a file, not a folder" in r.output


def test_fifo_is_not_a_missing_file(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    r = CliRunner().invoke(app, ["run", str(fifo)])
    assert r.exit_code == 2
    assert "expected an assumption file, got a special file" in r.output
    assert "no such file" not in r.output
    with pytest.raises(AssumptionError, match="special file"):
        finmodel.run(fifo)


def test_to_excel_refuses_a_non_workbook_path(plan: Path, tmp_path: Path) -> None:
    res = finmodel.run(plan)
    with pytest.raises(finmodel.ArgumentError, match=r"^path: expected a workbook path ending"):
        res.to_excel(tmp_path / "x.csv")
    assert _files(tmp_path) == ["plan.yaml"]


def test_concurrent_runs_leave_one_runs_set(plan: Path, tmp_path: Path) -> None:
    """Two simulations with different seeds write the same --out at once; the fan left
    beside the workbook is byte for byte the one of the run whose seed the workbook records
    (each run's fan is first made alone, to compare with)."""
    env = {**os.environ, "MPLBACKEND": "Agg"}

    def start(seed: int, out: Path) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                sys.executable,
                *("-m", "finmodel", "simulate", str(plan), "--seed", str(seed), "--out", str(out)),
            ],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )

    alone = {}
    for seed in (11, 22):
        p = start(seed, tmp_path / f"alone{seed}.xlsx")
        assert p.wait(timeout=300) == 0
        alone[seed] = (tmp_path / f"alone{seed}-fan.png").read_bytes()
    assert alone[11] != alone[22]
    for _ in range(2):
        procs = [start(seed, tmp_path / "m.xlsx") for seed in (11, 22)]
        assert [p.wait(timeout=300) for p in procs] == [0, 0]
        wb = load_workbook(tmp_path / "m.xlsx", read_only=True)
        row = next(r for r in wb["Monte Carlo"].iter_rows(values_only=True) if "seed" in r)
        wb.close()
        seed = int(row[row.index("seed") + 1])  # type: ignore[arg-type]
        assert (tmp_path / "m-fan.png").read_bytes() == alone[seed]
    assert not list(tmp_path.glob(".*.tmp"))


def test_commitments_total_sums_a_range_within_excels_formula_limit(tmp_path: Path) -> None:
    """300 commitments: naming each amount (``=a+b+...``) would pass Excel's 8,192-character
    limit; the total is one SUM over their Inputs rows, and those rows hold the amounts."""
    lines = [
        "name: Many commitments",
        "company: M",
        "start: 2026-01",
        "end: 2027-12",
        "opening: {cash: 100}",
        "revenue: {annual: {2026: 10, 2027: 12}}",
        "commitments:",
    ]
    lines += [
        f"  - {{counterparty: C{i}, amount: {1 + i % 7}, start: 2026-{1 + i % 12:02d}, years: 1}}"
        for i in range(300)
    ]
    p = tmp_path / "many.yaml"
    p.write_text("\n".join(lines) + "\n")
    out = finmodel.run(p).to_excel(tmp_path / "many.xlsx")
    wb = load_workbook(out)
    longest = max(
        len(c.value)
        for ws in wb.worksheets
        for row in ws.iter_rows()
        for c in row
        if isinstance(c.value, str) and c.value.startswith("=")
    )
    assert longest <= 8192
    row = next(r for r in wb["Summary"].iter_rows() if r[0].value == "commitments_total")
    formula = row[1].value
    m = re.fullmatch(r"=SUM\(Inputs!\$C\$(\d+):\$C\$(\d+)\)", formula)
    assert m, formula
    a, b = int(m.group(1)), int(m.group(2))
    inputs = wb["Inputs"]
    paths = [inputs.cell(r, 1).value for r in range(a, b + 1)]
    assert paths == [f"commitments.c{i}.amount" for i in range(300)]
    # sum of 1 + i mod 7 over i < 300: 42 full cycles of 1..7 (28 each) plus 1..6 = 1,197
    assert sum(inputs.cell(r, 3).value for r in range(a, b + 1)) == 42 * 28 + 21 == 1197


def test_a_workbook_beyond_the_memory_limit_is_refused(
    plan: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    res = finmodel.run(plan)
    monkeypatch.setenv("FINMODEL_MEMORY_GB", "0.0001")  # 100 kB
    with pytest.raises(ResourceLimitError, match=r"many.xlsx: expected a run that fits"):
        res.to_excel(tmp_path / "many.xlsx")
    assert _files(tmp_path) == ["plan.yaml"]
