"""NPV, IRR and XIRR: every root, unrounded, against closed forms, numpy-financial, LibreOffice
and a fine grid; degenerate flows answer with a reason, never an exception."""

from __future__ import annotations

import itertools
import math
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import numpy_financial as npf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import finmodel
from finmodel import valuation as val
from finmodel.errors import AssumptionError

# numpy-financial's test suite, TestIrr.test_gh_15: values down to 1.3e-313, whose polynomial
# makes numpy.roots raise LinAlgError; numpy-financial's expected IRR is -0.9999999990596069.
GH_15 = [
    -3000.0,
    2.3926932267015667e-07,
    4.1672087103345505e-16,
    5.3965110036378706e-25,
    5.1962551071806174e-34,
    3.7202955645436402e-43,
    1.9804961711632469e-52,
    7.8393517651814181e-62,
    2.3072565113911438e-71,
    5.0491839233308912e-81,
    8.2159177668499263e-91,
    9.9403244366963527e-101,
    8.942410813633967e-111,
    5.9816122646481191e-121,
    2.9750309031844241e-131,
    1.1002067043497954e-141,
    3.0252876563518021e-152,
    6.1854121948207909e-163,
    9.4032980015353301e-174,
    1.0629218520017728e-184,
    8.9337141847171845e-196,
    5.5830607698467935e-207,
    2.5943122036622652e-218,
    8.9635842466507006e-230,
    2.3027710094332358e-241,
    4.3987510596745562e-253,
    6.2476630372575209e-265,
    6.598046841695288e-277,
    5.1811095266842017e-289,
    3.0250999925830644e-301,
    1.3133070599585015e-313,
]


def npv_exact(r: float, flows: list[float], times: list[float] | None = None) -> float:
    """NPV in Python floats with an exactly rounded sum (independent of finmodel and numpy)."""
    ts = times if times is not None else list(range(len(flows)))
    return math.fsum(c * (1.0 + r) ** -t for c, t in zip(flows, ts, strict=True))


def plug_back_bound(r: float, flows: list[float], times: list[float] | None = None) -> float:
    """How close to zero the NPV at a root can be in floats: 1e-9 of the discounted flows'
    scale, plus the NPV's change over one representable step of r (1 + r keeps few digits
    near -100%)."""
    ts = times if times is not None else list(range(len(flows)))
    scale = math.fsum(abs(c) * (1.0 + r) ** -t for c, t in zip(flows, ts, strict=True))
    step = math.ulp(r) * math.fsum(
        abs(t * c) * (1.0 + r) ** (-t - 1) for c, t in zip(flows, ts, strict=True)
    )
    return 1e-9 * scale + 2 * step


# --- closed forms and published samples ---------------------------------------------------------


def test_pyxirr_sample_below_minus_99_percent() -> None:
    """pyxirr's sample: -134.09 on 2021-06-09, +40.86 on 2021-08-11. Two flows have the
    closed form (40.86 / 134.09)^(365 / days) - 1 with days = 63: -99.8977%."""
    dates = [date(2021, 6, 9), date(2021, 8, 11)]
    r = val.xirr([-134.09, 40.86], dates)
    days = (dates[1] - dates[0]).days
    assert days == 63
    assert r.value == pytest.approx((40.86 / 134.09) ** (365 / days) - 1, rel=1e-14)
    assert r.roots == [r.value] and r.reason == "the only root"
    assert f"{r.value:.3%}" == "-99.898%"


def test_npv_at_the_irr_is_zero_to_1e9() -> None:
    """numpy-financial's own plug-back sample (TestIrr): NPV(IRR) of these flows within 1e-9
    of zero in absolute terms, with the NPV evaluated by numpy-financial."""
    flows = [-40000, 5000, 8000, 12000, 30000]
    r = val.irr(flows)
    assert abs(npf.npv(r.value, flows)) <= 1e-9
    assert abs(npv_exact(r.value, flows)) <= 1e-9
    assert r.value == pytest.approx(npf.irr(flows), rel=1e-12)


def test_gh_15_tiny_values_give_the_root_numpy_cannot() -> None:
    r = val.irr(GH_15)  # numpy-financial 1.0's irr raises LinAlgError here (numpy.roots)
    assert r.value == pytest.approx(-0.9999999990596069, rel=1e-9)  # numpy-financial's value
    assert r.roots == [r.value]
    # a simple root: the exactly summed NPV changes sign within a few representable steps
    lo, hi = r.value, r.value
    for _ in range(4):
        lo, hi = math.nextafter(lo, -1), math.nextafter(hi, 0)
    assert npv_exact(lo, GH_15) * npv_exact(hi, GH_15) < 0
    assert abs(npv_exact(r.value, GH_15)) <= plug_back_bound(r.value, GH_15)


def test_three_roots_from_factors() -> None:
    """-1000 (1 - 1.1x)(1 - 1.2x)(1 - 1.5x) with x = 1/(1 + r) expands to the integer flows
    -1000, 3800, -4770, 1980: roots exactly 10%, 20% and 50%."""
    flows = [-1000, 3800, -4770, 1980]
    r = val.irr(flows)
    assert r.roots == pytest.approx([0.1, 0.2, 0.5], rel=1e-12)
    assert r.value == pytest.approx(0.1, rel=1e-12) and "3 roots" in r.reason
    assert "chose the one nearest 10%" in r.reason and r.touching == []
    assert val.irr(flows, guess=0.4).value == pytest.approx(0.5, rel=1e-12)
    assert val.irr(flows, guess=0.16).value == pytest.approx(0.2, rel=1e-12)
    # numpy-financial returns the root closest to zero: one of ours
    assert npf.irr(flows) == pytest.approx(0.1, rel=1e-9)


def test_two_roots_and_no_root() -> None:
    two = val.irr([-100, 230, -132])  # -100 (1 - 1.1x)(1 - 1.2x): 10% and 20%
    assert two.roots == pytest.approx([0.1, 0.2], rel=1e-12)
    assert "other roots 20.0000%" in str(two)
    none = val.irr([-100, -50])
    assert none.value is None and "no sign change" in str(none) and "flows - -" in str(none)
    none2 = val.irr([100, -300, 250])  # 100 - 300x + 250x^2: discriminant 90000 - 100000 < 0
    assert none2.value is None and "keeps one sign" in none2.reason and "+ - +" in str(none2)


def test_double_roots_are_reported_once_as_touching() -> None:
    """(1 - 1.1x)^2 = 100 - 220x + 121x^2 (x 100): the NPV touches zero at 10% and is
    positive elsewhere; (1 - 2x)^2 = 1 - 4x + 4x^2 at 100%."""
    r = val.irr([100, -220, 121])
    assert r.roots == pytest.approx([0.1], rel=1e-7) and r.touching == r.roots
    assert "double root" in r.reason
    assert abs(npv_exact(r.value, [100, -220, 121])) <= 1e-12 * 441
    assert val.irr([1, -4, 4]).touching == pytest.approx([1.0], rel=1e-7)
    # a simple root beside a double one: (1 - 1.1x)^2 (1 - 1.5x) = 1 - 3.7x + 4.51x^2 - 1.815x^3
    r3 = val.irr([1000, -3700, 4510, -1815])
    assert r3.roots == pytest.approx([0.1, 0.5], rel=1e-7)
    assert r3.touching == pytest.approx([0.1], rel=1e-7)


def test_rates_beyond_double_precision_are_named_not_returned() -> None:
    """1 + r = 1e-300 (flows -1, 1e-300) cannot be represented apart from -100%; e^713 overflows."""
    low = val.irr([-1.0, 1e-300])
    assert low.value is None and "below -99.99999999999991%" in low.reason
    high = val.irr([-1e-305, 1e5])
    assert high.value is None and "above 1e304" in high.reason
    # 1 + r = 1e300: representable, returned
    assert val.irr([-1e-300, 1.0]).value == pytest.approx(1e300, rel=1e-12)


@pytest.mark.parametrize(
    ("flows", "reason"),
    [
        ([0, 0, 0], "all flows are zero"),
        ([0, -5, 0], "only one non-zero flow"),
        ([-100, math.nan, 110], "flow 1 is not a finite number (nan)"),
        ([-100, math.inf], "flow 1 is not a finite number (inf)"),
        ([1e308, 1e308, 1e308], "no sign change"),
        (
            [1e308, 1e308, -1],
            "a root lies below -99.99999999999991% (1 + r < 8.9e-16), beyond double precision",
        ),
    ],
)
def test_degenerate_flows_answer_with_a_reason(flows: list[float], reason: str) -> None:
    r = val.irr(flows)
    assert r.value is None and r.roots == [] and r.reason == reason


def test_denormal_flows_and_leading_zeros() -> None:
    assert val.irr([-1e-320, 2e-320]).value == pytest.approx(1.0, rel=1e-3)  # denormals: 3 digits
    assert val.irr([0, 0, -100, 110]).value == pytest.approx(0.1, rel=1e-14)


def test_xirr_argument_errors_and_same_day_flows() -> None:
    with pytest.raises(
        AssumptionError, match=r"^dates: expected one date per flow \(2 flows\), got 1 date$"
    ):
        val.xirr([-1, 2], [date(2025, 1, 1)])
    with pytest.raises(ValueError, match="guess: expected a finite rate above -100%"):
        val.irr([-1, 2], guess=-1.0)
    with pytest.raises(AssumptionError, match="rate: expected"):
        val.npv(-1.0, [1, 2])
    d = [date(2025, 1, 1), date(2025, 1, 1), date(2026, 1, 1)]
    # -600 and -400 on the same day are one flow of -1000
    assert val.xirr([-600, -400, 1100], d).value == pytest.approx(0.1, rel=1e-14)
    assert val.xirr([-600, 600], d[:2]).reason == "all flows are zero"


def test_xirr_on_whole_years_matches_irr() -> None:
    """2021-01-01, 2022-01-01, 2023-01-01 are 365 days apart: times 0, 1, 2 exactly."""
    d = [date(2021, 1, 1), date(2022, 1, 1), date(2023, 1, 1)]
    assert val.xirr([-100, 230, -132], d).roots == pytest.approx([0.1, 0.2], rel=1e-12)
    assert val.xirr([-1000, 1100], d[:2]).value == pytest.approx(0.1, rel=1e-14)


def test_xnpv_and_npv_conventions() -> None:
    """npv is numpy-financial's: CF0 undiscounted (Excel =NPV(r, CF1..CFn) + CF0)."""
    flows = [-100.0, 60.0, 60.0]
    assert val.npv(0.1, flows) == pytest.approx(-100 + 60 / 1.1 + 60 / 1.21, rel=1e-15)
    d = [date(2024, 1, 1), date(2024, 12, 31), date(2026, 1, 1)]  # 2024 is a leap year
    want = -100 + 60 / 1.1 ** (365 / 365) + 60 / 1.1 ** (731 / 365)
    assert val.xnpv(0.1, flows, d) == pytest.approx(want, rel=1e-15)


def test_public_api() -> None:
    assert finmodel.irr is val.irr and finmodel.xirr is val.xirr and finmodel.npv is val.npv
    assert finmodel.xnpv is val.xnpv and finmodel.Rate is val.Rate


# --- LibreOffice's IRR / XIRR / NPV as the spreadsheet reference ------------------------------


@pytest.mark.libreoffice
def test_spreadsheet_functions_agree(tmp_path: Path, libreoffice: str) -> None:
    """=IRR, =XIRR and =NPV(r, CF1..)+CF0 recalculated by LibreOffice on the same flows."""
    from openpyxl import Workbook, load_workbook

    from finmodel.export.recalc import recalculate

    irr_flows = [-40000, 5000, 8000, 12000, 30000]
    x_flows = [-1000, 250, 300, 700]
    x_dates = [date(2021, 3, 1), date(2021, 11, 17), date(2022, 6, 30), date(2023, 2, 28)]
    wb = Workbook()
    ws = wb.active
    for i, c in enumerate(irr_flows, start=1):
        ws.cell(i, 1, c)
    for i, (c, d) in enumerate(zip(x_flows, x_dates, strict=True), start=1):
        ws.cell(i, 2, c)
        ws.cell(i, 3, d).number_format = "yyyy-mm-dd"
    ws["E1"] = "=IRR(A1:A5)"
    ws["E2"] = "=XIRR(B1:B4,C1:C4)"
    ws["E3"] = "=NPV(0.07,A2:A5)+A1"
    ws["E4"] = "=XNPV(0.07,B1:B4,C1:C4)"
    wb.save(tmp_path / "rates.xlsx")
    [out] = recalculate([tmp_path / "rates.xlsx"], tmp_path / "r")
    got = load_workbook(out, data_only=True).active
    assert val.irr(irr_flows).value == pytest.approx(got["E1"].value, rel=1e-9)
    assert val.xirr(x_flows, x_dates).value == pytest.approx(got["E2"].value, rel=1e-7)
    assert val.npv(0.07, irr_flows) == pytest.approx(got["E3"].value, rel=1e-12)
    assert val.xnpv(0.07, x_flows, x_dates) == pytest.approx(got["E4"].value, rel=1e-12)


# --- properties ---------------------------------------------------------------------------------

flow = st.one_of(
    st.integers(-1000, 1000).map(float),
    st.floats(-1e4, 1e4).filter(lambda x: x == 0 or abs(x) >= 1e-6),
)


def _sign_changes_on_grid(flows: list[float], times: list[float]) -> list[tuple[float, float]]:
    """Cells [s_i, s_i+1] of a grid in s = log(1 + r) over [-12, 12] (step 1e-3) where the
    NPV changes sign (numpy's pairwise sums, independent of finmodel)."""
    grid = np.linspace(-12.0, 12.0, 24001)
    with np.errstate(over="ignore"):
        vals = (np.array(flows)[None, :] * np.exp(-np.outer(grid, times))).sum(axis=1)
    idx = np.flatnonzero(np.sign(vals[:-1]) * np.sign(vals[1:]) < 0)
    return [(float(grid[i]), float(grid[i + 1])) for i in idx]


def _changes(flows: list[float]) -> int:
    nz = [f for f in flows if f != 0]
    return sum(1 for a, b in itertools.pairwise(nz) if (a > 0) != (b > 0))


def _check(rate: val.Rate, flows: list[float], times: list[float]) -> None:
    assert len(rate.roots) <= _changes(flows)  # Descartes' rule of signs
    assert rate.roots == sorted(rate.roots)
    for r in rate.roots:
        assert abs(npv_exact(r, flows, times)) <= plug_back_bound(r, flows, times)
    s_roots = [math.log1p(r) for r in rate.roots]
    for a, b in _sign_changes_on_grid(flows, times):  # a root in the cell or a neighbour
        assert any(a - 1e-3 <= s <= b + 1e-3 for s in s_roots), (a, b, rate)
    if rate.roots:
        assert rate.value in rate.roots


@settings(max_examples=60, deadline=None)
@given(st.lists(flow, min_size=2, max_size=7))
def test_irr_every_root_plugged_back(flows: list[float]) -> None:
    rate = val.irr(flows)
    _check(rate, flows, [float(k) for k in range(len(flows))])
    if _changes(flows) == 1:
        # one sign change: one root, and numpy-financial (numpy.roots) finds the same one
        assert len(rate.roots) == 1
        assert rate.value == pytest.approx(npf.irr(flows), rel=1e-8, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(flow, st.integers(0, 900)), min_size=2, max_size=7),
    st.dates(date(2000, 1, 1), date(2040, 1, 1)),
)
def test_xirr_every_root_plugged_back(rows: list[tuple[float, int]], start: date) -> None:
    flows = [c for c, _ in rows]
    dates = [start]
    for _, gap in rows[1:]:
        dates.append(dates[-1] + timedelta(days=gap))  # gap 0: two flows on one day
    rate = val.xirr(flows, dates)
    merged: dict[date, float] = {}
    for c, d in zip(flows, dates, strict=True):
        merged[d] = merged.get(d, 0.0) + c
    times = [(d - start).days / 365 for d in merged]
    _check(rate, list(merged.values()), times)
    for r in rate.roots:
        assert abs(val.xnpv(r, flows, dates)) <= plug_back_bound(r, list(merged.values()), times)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(10, 1000), min_size=1, max_size=6),
    st.lists(st.integers(30, 700), min_size=6, max_size=6),
)
def test_xirr_conventional_flows_have_one_root(inflows: list[float], gaps: list[int]) -> None:
    flows = [-float(sum(inflows)) * 0.8, *inflows]
    d0 = date(2026, 1, 15)
    dates = [d0]
    for g in gaps[: len(inflows)]:
        dates.append(dates[-1] + timedelta(days=g))
    r = val.xirr(flows, dates)
    assert r.value is not None and len(r.roots) == 1 and r.value > 0  # 125% back: a gain
    times = [(d - d0).days / 365 for d in dates]
    assert abs(npv_exact(r.value, flows, times)) <= plug_back_bound(r.value, flows, times)


def test_xirr_reads_iso_dates_like_dates() -> None:
    """ISO text dates give the same root as datetime.date (closed form for two flows:
    (40.86 / 134.09)^(365 / 63) - 1); text that is not a date is a clear error."""
    from datetime import date

    import finmodel

    as_text = finmodel.xirr([-134.09, 40.86], ["2021-06-09", "2021-08-11"]).value
    as_dates = finmodel.xirr([-134.09, 40.86], [date(2021, 6, 9), date(2021, 8, 11)]).value
    assert as_text == as_dates == pytest.approx((40.86 / 134.09) ** (365 / 63) - 1, rel=1e-12)
    with pytest.raises(finmodel.AssumptionError, match=r"^dates\[1\]: expected a date"):
        finmodel.xirr([-1, 2], ["2021-06-09", "junk"])
