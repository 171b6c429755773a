"""The workbook's memory: the estimate counts every cell the writer holds and the results
held beside them, bounds what a run really allocates, and a workbook that would not fit is
refused before anything is written, with the estimate and the limit, never a MemoryError."""

from __future__ import annotations

import functools
import re
import tracemalloc
from pathlib import Path

import pytest
from conftest import AS_LIMIT, run_limited
from openpyxl import load_workbook

import finmodel
from finmodel.engine.model import build
from finmodel.export.workbook import (
    BYTES_PER_CELL,
    RESULTS_PER_EVALUATION,
    workbook_cells,
    workbook_memory,
)

_cli = functools.partial(run_limited, timeout=300)


def _scenario(path: Path, commitments: int, years: int) -> Path:
    """A company with ``commitments`` small contracts of distinct counterparties over
    ``years`` years from 2026-01."""
    end = 2026 + years - 1
    lines = [
        f"name: {commitments} commitments over {years} years",
        "company: Example Co",
        "start: 2026-01",
        f"end: {end}-12",
        "opening: {cash: 25}",
        f"revenue: {{annual: {{2026: 10, {end}: 60}}}}"
        if years > 1
        else "revenue: {annual: {2026: 10}}",
        *(["commitments:"] if commitments else []),
        *(
            f"  - {{counterparty: V{i:05d}, amount: 0.01, start: 2026-01, years: {min(5, years)}}}"
            for i in range(commitments)
        ),
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


SHIPPED = sorted(p.stem for p in (Path(__file__).parent.parent / "assumptions").glob("*.yaml"))


@pytest.mark.parametrize(
    "case", ["0x1", "3x5", "40x12", *[s for s in SHIPPED if not s.startswith("network")]]
)
def test_the_cell_count_bounds_the_cells_written(case: str, tmp_path: Path) -> None:
    """Every cell the workbook holds, counted in the written file, is at most
    workbook_cells, and at least 90% of it (the count is the memory estimate's base)."""
    if "x" in case and case[0].isdigit():
        n, years = map(int, case.split("x"))
        res = finmodel.run(_scenario(tmp_path / "s.yaml", n, years))
    else:
        res = finmodel.run(case)
    out = res.to_excel(tmp_path / "s.xlsx")
    wb = load_workbook(out)
    written = sum(1 for ws in wb for row in ws.iter_rows() for c in row if c.value is not None)
    cells = workbook_cells(res)
    assert 0.9 * cells <= written <= cells, (written, cells)


def test_the_estimate_bounds_what_writing_allocates(tmp_path: Path) -> None:
    """tracemalloc sees numpy's and openpyxl's allocations: the peak of a run that writes its
    workbook stays below the estimate, and the estimate is within 2x of it."""
    path = _scenario(tmp_path / "s.yaml", 150, 15)
    tracemalloc.start()
    res = finmodel.run(path)
    res.to_excel(tmp_path / "s.xlsx")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    need, cells = workbook_memory([res])
    assert cells == workbook_cells(res)
    assert peak <= need <= 2 * peak, (peak, need)


def test_a_workbook_too_large_for_the_memory_is_refused_before_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """1,000 commitments over 100 years in 1.5 GB of address space: the projection fits
    (exit 0 with --no-workbook), the workbook does not; it is refused with the estimate, the
    limit and where the limit comes from, even when FINMODEL_MEMORY_GB asks for more."""
    path = _scenario(tmp_path / "big.yaml", 1_000, 100)
    model = build(finmodel.load(path))
    items, T, Y, K = len(model.items), 1_200, 100, len(model.params)
    sections = len({it.section for it in model.items})
    # 48 built-in line items in 5 sections + one per commitment; an input per commitment
    assert (items, sections, K) == (1_048, 5, 1_009)
    # by hand (workbook_cells): Calc (1,048 + 5 + 1) x 1,202 = 1,266,908; Annual 1,051 x
    # 102 = 107,202; Checks 8 x 1,202 + 8 = 9,624; Inputs 6 x 1,010 = 6,060; Summary 336;
    # Funding 707; Targets 8: 1,390,845 cells x 600 bytes, plus the results:
    # 3.5 x (1,200 x 1,056 + 1,009) x 8 bytes
    cells = (
        (items + sections + 1) * (T + 2)
        + (items + 3) * (Y + 2)
        + 8 * (T + 2)
        + 8
        + 6 * (K + 1)
        + 36
        + 3 * Y
        + 7 * (Y + 1)
        + 8
    )
    need = cells * BYTES_PER_CELL + RESULTS_PER_EVALUATION * (T * (items + 8) + K) * 8
    assert cells == 1_390_845
    assert need / 1e9 == pytest.approx(0.8700, abs=1e-4)
    monkeypatch.setenv("FINMODEL_MEMORY_GB", "10")
    p = _cli(["run", str(path), "--out", str(tmp_path / "big.xlsx")], tmp_path)
    assert p.returncode == 2, p.stderr[-2000:]
    assert "Traceback" not in p.stderr and "MemoryError" not in p.stderr
    assert p.stderr == (
        f"error: {tmp_path / 'big.xlsx'}: expected a run that fits in memory (needs about "
        f"0.87 GB, the limit is {AS_LIMIT / 2e9:.3g} GB, half of the address-space limit "
        f"(ulimit -v), {AS_LIMIT / 1e9:.3g} GB; model fewer months or line items, or pass "
        "--no-workbook), got 1,390,845 cells\n"
    )
    assert sorted(q.name for q in tmp_path.iterdir()) == ["big.yaml"]
    p = _cli(["run", str(path), "--no-workbook", "--json"], tmp_path)
    assert p.returncode == 0, p.stderr[-2000:]
    assert re.search(r'"commitments_total": 10\.0\d*', p.stdout)  # 1,000 x 0.01


def test_the_grid_sheet_declares_the_cells_it_writes(tmp_path: Path) -> None:
    """The Grid sheet scales with the grid (x values x y values): it declares its cells, and
    the workbook's estimate counts them."""
    from finmodel.analysis.sensitivity import grid
    from finmodel.export.analysis_sheets import grid_sheet
    from finmodel.export.workbook import write_workbook

    res = finmodel.run(_scenario(tmp_path / "s.yaml", 2, 3))
    xs, ys = [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0], [0.5, 1.0, 1.5, 2.0, 2.5]
    df = grid(res.model, "trough_unfunded_cash", "opening.cash", xs, "revenue.scale", ys)
    manifest = {"finmodel": "test", "seed": 1, "note": None}
    sheet = grid_sheet(df, manifest)
    # by hand: A1, A2, 5 column headings, 7 rows of a heading and 5 values, the manifest's
    # heading and 3 x 2 cells
    assert sheet.cells == 2 + 5 + 7 * 6 + 1 + 3 * 2 == 56  # type: ignore[attr-defined]
    out = write_workbook([res], tmp_path / "g.xlsx", extra=[sheet])
    ws = load_workbook(out)["Grid"]
    assert sum(1 for row in ws.iter_rows() for c in row if c.value is not None) == 56
    need, cells = workbook_memory([res], [sheet])
    alone, _ = workbook_memory([res])
    assert cells == workbook_cells(res) + 56
    assert need == pytest.approx(alone + 56 * BYTES_PER_CELL, rel=1e-12)
