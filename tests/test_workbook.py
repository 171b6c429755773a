"""The live workbook: its structure, and LibreOffice's recalculation against the engine."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from openpyxl import load_workbook

import finmodel
from finmodel.engine.evaluate import evaluate
from finmodel.export.recalc import recalculate
from finmodel.export.workbook import write_workbook

ALL_SHIPPED = sorted((Path(__file__).resolve().parent.parent / "assumptions").glob("*.yaml"))
SHIPPED = [p for p in ALL_SHIPPED if not p.name.startswith("network-")]
SHEETS = ["Summary", "Inputs", "Calc", "Annual", "Funding", "Targets", "Checks"]
RTOL = 1e-9


def _calc_rows(ws) -> dict[str, list[object]]:  # type: ignore[no-untyped-def]
    out = {}
    for row in ws.iter_rows(min_row=2, values_only=True):
        if row[0]:
            out[str(row[0])] = list(row[2:])
    return out


def _assert_close(id: str, got: list[object], want: np.ndarray) -> None:
    """Relative 1e-9, measured against the larger of the value and the row's largest value:
    a balance held exactly at the buffer is a cancellation (engine -1.8e-15, sheet 0.0)."""
    g = np.array(got, dtype=np.float64)
    scale = np.maximum(np.abs(want), np.abs(want).max(initial=0.0))
    bad = np.abs(g - want) > RTOL * scale
    assert not bad.any(), (
        f"{id}: month {int(np.argmax(bad))}: sheet {g[bad][0]!r} vs engine {want[bad][0]!r}"
    )


def test_structure_names_and_formulas(tmp_path: Path) -> None:
    res = finmodel.run("openai-plan-2025q3")
    path = res.to_excel(tmp_path / "base.xlsx")
    wb = load_workbook(path)
    assert wb.sheetnames == [*SHEETS, "Valuation", "Cap table"]  # the base case has a valuation
    names = wb.defined_names
    for n in (
        "opening_cash",
        "funding_min_cash",
        "revenue_annual_2027",
        "commitments_oracle_amount",
        "funding_inflows_nvidia_per_unit",
        "milestones_nvidia_gw_2026_12",
        "costs_tax_rate",
    ):
        assert n in names, n
    assert len(names) == len(res.model.params)
    # the Inputs cell behind a name holds the file's value, styled as an input
    dest = next(names["revenue_annual_2027"].destinations)
    cell = wb[dest[0]][dest[1].replace("$", "")]
    assert cell.value == 60 and cell.font.color.rgb.endswith("0000FF")
    calc = wb["Calc"]
    assert [c.value for c in calc[1][2:5]] == ["2025-01", "2025-02", "2025-03"]
    for row in calc.iter_rows(min_row=2):
        if row[0].value:
            assert all(isinstance(c.value, str) and c.value.startswith("=") for c in row[2:]), row[
                0
            ].value
    assert calc.freeze_panes == "C2"
    assert len(wb["Funding"]._charts) == 2
    assert wb["Inputs"]["E2"].value  # sources are carried to the sheet


def test_text_from_the_file_is_never_a_formula(
    write_yaml: Callable[..., Path], tmp_path: Path
) -> None:
    p = write_yaml("""
        name: "=HYPERLINK(\\"http://x\\")"
        company: "+cmd|' /C calc'!A0"
        start: 2026-01
        end: 2026-03
        opening: {cash: {value: 1, source: "=1+1", note: "@SUM(A1)"}}
        revenue: {annual: {2026: 3}}
        commitments: [{counterparty: "-2+3", amount: 1, start: 2026-01}]
        targets: [{metric: revenue, period: 2026, value: 3, source: "=evil()"}]
    """)
    path = finmodel.run(p).to_excel(tmp_path / "inj.xlsx")
    wb = load_workbook(path)
    for ws in wb:
        for row in ws.iter_rows():
            for c in row:
                if isinstance(c.value, str) and c.data_type == "f":
                    # only formulas finmodel wrote itself: they never contain the file's text
                    assert (
                        "evil" not in c.value
                        and "HYPERLINK" not in c.value
                        and "cmd" not in c.value
                    )
    assert wb["Inputs"]["E2"].value == "=1+1" and wb["Inputs"]["E2"].data_type == "s"
    assert wb["Summary"]["A1"].data_type == "s"


def test_written_atomically_over_an_existing_file(tmp_path: Path) -> None:
    out = tmp_path / "x.xlsx"
    out.write_bytes(b"old")
    finmodel.run("bear").to_excel(out)
    assert out.read_bytes()[:2] == b"PK"
    assert [p.name for p in tmp_path.iterdir()] == ["x.xlsx"]
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.fixture(scope="module")
def recalculated(
    tmp_path_factory: pytest.TempPathFactory, libreoffice: str
) -> dict[str, tuple[finmodel.Results, Path]]:
    """Every shipped scenario written and recalculated by LibreOffice in one call."""
    src = tmp_path_factory.mktemp("written")
    out = tmp_path_factory.mktemp("recalculated")
    results = {p.stem: finmodel.run(p) for p in SHIPPED}
    files = [r.to_excel(src / f"{k}.xlsx") for k, r in results.items()]
    done = recalculate(files, out)
    return {k: (results[k], f) for k, f in zip(results, done, strict=True)}


@pytest.mark.libreoffice
@pytest.mark.parametrize("stem", [p.stem for p in SHIPPED])
def test_every_line_item_matches_the_engine(recalculated: dict, stem: str) -> None:  # type: ignore[type-arg]
    res, path = recalculated[stem]
    wb = load_workbook(path, data_only=True)
    rows = _calc_rows(wb["Calc"])
    assert set(rows) == set(res.model.ids)
    for id in res.model.ids:
        _assert_close(id, rows[id], res.series(id))
    # annual roll-ups, summary metrics, targets and checks computed by the sheet
    annual = wb["Annual"]
    for row in annual.iter_rows(min_row=2, values_only=True):
        if row[0] in res.annual.index:
            _assert_close(str(row[0]), list(row[2:]), res.annual.loc[row[0]].to_numpy(dtype=float))
    summary = {r[0]: r[1] for r in wb["Summary"].iter_rows(values_only=True) if r[0]}
    m = res.metrics
    assert summary["cash_out_month"] == (m["cash_out_month"] or "never")
    assert summary["runway_months"] == (
        "never" if m["runway_months"] is None else m["runway_months"]
    )
    assert summary["breakeven_year"] == (
        "never" if m["breakeven_year"] is None else m["breakeven_year"]
    )
    for k in (
        "trough_unfunded_cash",
        "peak_funding_need",
        "commitments_total",
        "stranded_compute_total",
    ):
        assert summary[k] == pytest.approx(m[k], rel=RTOL, abs=1e-9), k
    targets = list(wb["Targets"].iter_rows(min_row=2, values_only=True))
    assert len(targets) == len(res.assumptions.targets)
    for row, r in zip(targets, res.target_results(), strict=True):
        assert row[3] == pytest.approx(r.model, rel=RTOL)
        assert row[6] is True
    checks = {r[0]: r[1] for r in wb["Checks"].iter_rows(min_row=2, values_only=True) if r[0]}
    assert checks["ALL CHECKS"] is True and all(v is True for v in checks.values())
    if res.assumptions.valuation is not None:
        from finmodel.valuation import dcf

        d = dcf(res)
        sheet = {r[0]: r[1] for r in wb["Valuation"].iter_rows(min_row=3, values_only=True) if r[0]}
        for k in (
            "pv_free_cash_flow",
            "terminal_value",
            "pv_terminal_value",
            "enterprise_value",
            "cash",
            "debt",
            "equity_value",
            "terminal_share",
        ):
            assert sheet[k] == pytest.approx(getattr(d, k), rel=RTOL, abs=1e-9), k
        for k in ("ev_to_next_12m_revenue", "ev_to_final_12m_revenue"):
            assert sheet[k] == pytest.approx(d.multiples[k], rel=RTOL), k
        assert sheet["warning"] in ("", None) or d.terminal_share > 0.75
        # the coverage, live: both sums over the same months, as finmodel.valuation reports
        com = res.valuation()["commitments"].attrs
        for k in ("pv_fcf_before_commitments", "pv_take_or_pay_in_horizon", "coverage"):
            key = "commitment_coverage" if k == "coverage" else k
            assert sheet[key] == pytest.approx(com[k], rel=RTOL), k
        table = list(wb["Cap table"].iter_rows(values_only=True))
        totals = next(r for r in table if r[0] == "Total")
        assert all(t == pytest.approx(1.0, abs=1e-12) for t in totals[1:] if t is not None)


@pytest.mark.libreoffice
def test_changed_inputs_recalculate_like_the_engine(tmp_path: Path, libreoffice: str) -> None:
    """Change opening cash and the 2027 revenue in the workbook; LibreOffice must agree with
    the engine run on the same change."""
    res = finmodel.run("nvidia-pullback")
    (tmp_path / "written").mkdir()
    path = res.to_excel(tmp_path / "written" / "x.xlsx")
    wb = load_workbook(path)
    changes = {"opening_cash": 3.5, "revenue_annual_2027": 45.0}
    for name, value in changes.items():
        sheet, ref = next(wb.defined_names[name].destinations)
        wb[sheet][ref.replace("$", "")].value = value
    wb.save(path)
    [out] = recalculate([path], tmp_path / "recalculated")
    model = res.model
    v = model.params.vector()
    for name, value in changes.items():
        v[model.params.names().index(name)] = value
    engine = evaluate(model, v[None, :])
    rows = _calc_rows(load_workbook(out, data_only=True)["Calc"])
    for id in model.ids:
        _assert_close(id, rows[id], engine[id][:, 0])
    # the change mattered: more burn-free revenue and less cash move the funding need
    assert engine["funding_need_cumulative"][-1, 0] != pytest.approx(
        res.metrics["peak_funding_need"]
    )
    # the sheet re-spreads the edited year: its twelve months add up to the new 45 (compared
    # with math.fsum, as LibreOffice sums with compensation), and the smooth path moves the
    # neighbouring December too (2027 falls from 60 to 45, so December 2026 bends down)
    months_2027 = [float(x) for x in rows["revenue"][24:36]]
    assert math.isclose(math.fsum(months_2027), 45.0, rel_tol=RTOL)
    assert float(rows["revenue"][23]) < res.items["revenue"][23, 0] - 0.01


@pytest.mark.libreoffice
def test_compare_workbook_recalculates(tmp_path: Path, libreoffice: str) -> None:
    results = [finmodel.run("openai-plan-2025q3"), finmodel.run("hsbc-2025-11")]
    (tmp_path / "w").mkdir()
    path = write_workbook(results, tmp_path / "w" / "cmp.xlsx")
    [out] = recalculate([path], tmp_path / "r")
    wb = load_workbook(out, data_only=True)
    rows = {r[0]: r[1:] for r in wb["Compare"].iter_rows(min_row=2, values_only=True)}
    assert rows["peak_funding_need"][1] == pytest.approx(
        results[1].metrics["peak_funding_need"], rel=RTOL
    )
    assert rows["commitments_total"][0] == pytest.approx(1400.4, rel=RTOL)
    assert rows["all_checks"] == (True, True)


@pytest.mark.libreoffice
@pytest.mark.parametrize("as_of", ["2026-06", "2028-06", "2030-06"])
def test_runway_from_an_as_of_month_recalculates(
    tmp_path: Path, libreoffice: str, as_of: str
) -> None:
    """The Summary's cash-out month and runway count from the as-of month in the sheet too,
    with the need until then raised: the first month after it where the cumulative need
    N grows (COUNTIF over the months after it, as N never decreases). NVIDIA's pullback is
    short from 2027 to its trough in 2029, so from 2026-06 it is its cash-out month, from
    2028-06 the next month, and from 2030-06 never."""
    res = finmodel.run("nvidia-pullback", as_of=as_of)
    need = res.series("funding_need_cumulative")
    a = res.model.timeline.index_of(as_of)
    later = [t for t in range(a + 1, len(need)) if need[t] > need[a] + 1e-9]
    m = res.metrics
    if as_of == "2030-06":
        assert not later and m["runway_months"] is None
    else:
        assert m["cash_out_month"] == res.model.timeline.labels[later[0]]
        assert m["runway_months"] == later[0] - a - 1
    if as_of == "2028-06":
        assert m["runway_months"] == 0
    (tmp_path / "w").mkdir()
    [out] = recalculate([res.to_excel(tmp_path / "w" / "a.xlsx")], tmp_path / "r")
    wb = load_workbook(out, data_only=True)
    summary = {r[0]: r[1] for r in wb["Summary"].iter_rows(values_only=True) if r[0]}
    assert summary["cash_out_month"] == (m["cash_out_month"] or "never")
    assert summary["runway_months"] == (
        "never" if m["runway_months"] is None else m["runway_months"]
    )
