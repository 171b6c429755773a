"""Months, year spreading and interpolation (timeline.py)."""

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st

from finmodel.timeline import (
    SMOOTH_FLOOR,
    Timeline,
    denton_weights,
    month_label,
    parse_month,
    spread_totals,
)


def test_labels_span_years() -> None:
    tl = Timeline("2025-07", "2026-02")
    assert tl.T == 8
    assert tl.labels[0] == "2025-07" and tl.labels[-1] == "2026-02"
    assert tl.years == [2025, 2026]
    assert [(y, s.stop - s.start) for y, s in tl.year_slices()] == [(2025, 6), (2026, 2)]


def _flat(tl: Timeline, keys: list[int], values: list[float], flow: bool) -> np.ndarray:
    v = np.array(values)
    return v @ tl.period_weights(keys, v, flow=flow, spread="flat")


def test_flow_interpolated_between_given_years_and_held_outside() -> None:
    tl = Timeline("2025-01", "2031-12")
    v = _flat(tl, [2026, 2030], [12.0, 60.0], flow=True)
    # 2025 held at 2026's value; 2028 halfway (36); 2031 held at 2030's; each month 1/12
    yearly = {y: v[s].sum() for y, s in tl.year_slices()}
    assert yearly == pytest.approx(
        {2025: 12, 2026: 12, 2027: 24, 2028: 36, 2029: 48, 2030: 60, 2031: 60}
    )
    assert v[0] == pytest.approx(1.0)
    smooth = np.array([12.0, 60.0]) @ tl.period_weights(
        [2026, 2030], np.array([12.0, 60.0]), flow=True, spread="smooth"
    )
    assert {y: smooth[s].sum() for y, s in tl.year_slices()} == pytest.approx(yearly, rel=1e-12)


def test_flat_level_path_gives_each_month_the_year_value() -> None:
    tl = Timeline("2026-01", "2027-12")
    v = _flat(tl, [2026, 2027], [0.1, 0.3], flow=False)
    assert np.all(v[:12] == 0.1) and np.all(v[12:] == 0.3)


def test_smooth_level_path_interpolates_between_mid_years() -> None:
    """A level given for a year is its value at mid-year (1 July): month m of 2026 (mid-month
    at m + 0.5) lies (m + 0.5 - 6) / 12 of the way from 2026's middle to 2027's."""
    tl = Timeline("2026-01", "2027-12")
    w = tl.period_weights([2026, 2027], np.array([0.1, 0.3]), flow=False, spread="smooth")
    v = np.array([0.1, 0.3]) @ w
    assert v[:6] == pytest.approx([0.1] * 6)  # held before the first middle
    assert v[18:] == pytest.approx([0.3] * 6)  # and after the last
    assert v[6:18] == pytest.approx([0.1 + 0.2 * (m + 0.5) / 12 for m in range(12)])
    assert np.all(w >= 0) and w.sum(axis=0) == pytest.approx(1.0)  # convex: bounds kept


def _denton_by_null_space(lengths: list[int], totals: np.ndarray) -> np.ndarray:
    """An independent solution of min sum (x_t - x_{t-1})^2 s.t. period sums: parametrise
    every path with the right sums as x_p + N z (N spans the null space of the sum matrix)
    and solve the unconstrained least squares in z."""
    M = sum(lengths)
    c = np.zeros((len(lengths), M))
    at = 0
    for p, n in enumerate(lengths):
        c[p, at : at + n] = 1.0
        at += n
    x_p = scipy.linalg.lstsq(c, totals)[0]
    n = scipy.linalg.null_space(c)
    d = np.diff(np.eye(M), axis=0)
    z = scipy.linalg.lstsq(d @ n, -(d @ x_p))[0]
    return x_p + n @ z


@pytest.mark.parametrize(
    ("lengths", "totals"),
    [
        ([12, 12, 12], [13.0, 30.0, 60.0]),
        ([12] * 6, [13.0, 30.0, 60.0, 100.0, 145.0, 200.0]),
        ([6, 12, 12], [5.0, 14.0, 9.0]),  # a contract starting in July, then falling
        ([3, 3, 3, 3], [1.0, 1.2, 1.5, 1.4]),
    ],
)
def test_denton_matches_an_independent_least_squares(
    lengths: list[int], totals: list[float]
) -> None:
    a = np.array(totals)
    x = denton_weights(tuple(lengths)) @ a
    assert x == pytest.approx(_denton_by_null_space(lengths, a), rel=1e-10, abs=1e-12)
    assert np.add.reduceat(x, np.cumsum([0, *lengths[:-1]])) == pytest.approx(a, rel=1e-12)


def test_constant_totals_give_constant_months_and_no_january_step() -> None:
    x = denton_weights((12, 12, 12)) @ np.array([24.0, 24.0, 24.0])
    assert x == pytest.approx([2.0] * 36, rel=1e-12)
    tl = Timeline("2025-01", "2030-12")
    totals = np.array([13.0, 30.0, 60.0, 100.0, 145.0, 200.0])
    keys = list(range(2025, 2031))
    m = totals @ tl.period_weights(keys, totals, flow=True, spread="smooth")
    growth = m[1:] / m[:-1] - 1
    # the January steps of the flat path (e.g. +100% into 2027) are gone: growth into each
    # January is within a fifth of the growth into the December before it
    for jan in (12, 24, 36, 48, 60):
        assert abs(growth[jan - 1] - growth[jan - 2]) <= 0.2 * abs(growth[jan - 2])


def test_quarters_and_months_can_be_given_directly() -> None:
    tl = Timeline("2026-01", "2026-12")
    q = np.array([3.0, 6.0, 9.0, 12.0])
    keys = ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]
    x = q @ tl.period_weights(keys, q, flow=True, spread="smooth")
    assert x.reshape(4, 3).sum(axis=1) == pytest.approx(q, rel=1e-12)
    assert np.all(np.diff(x) > 0)
    months = np.arange(1.0, 13.0)
    mkeys = [f"2026-{m:02d}" for m in range(1, 13)]
    assert months @ tl.period_weights(mkeys, months, flow=True, spread="smooth") == pytest.approx(
        months, rel=1e-15
    )


def test_zero_years_stay_zero_and_split_the_path() -> None:
    """A cost that stops: the smooth path may not borrow negative months from the year after."""
    tl = Timeline("2026-01", "2028-12")
    v = np.array([6.0, 12.0, 0.0])
    x = v @ tl.period_weights([2026, 2027, 2028], v, flow=True, spread="smooth")
    assert np.all(x[24:] == 0.0)
    assert x[:12].sum() == pytest.approx(6) and x[12:24].sum() == pytest.approx(12)
    assert np.all(x[:24] > 0)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False),
        min_size=1,
        max_size=8,
    ),
    st.sampled_from([12, 3]),
)
def test_smooth_spread_keeps_totals_and_stays_positive(totals: list[float], g: int) -> None:
    """Any positive totals: every period keeps its total to 1e-9 (relative) and every month
    stays at least SMOOTH_FLOOR of its period's average month (so positive)."""
    a = np.array(totals)
    w = spread_totals([g] * len(a), a, "smooth")
    x = w @ a
    sums = x.reshape(len(a), g).sum(axis=1)
    assert sums == pytest.approx(a, rel=1e-9)
    avg = np.repeat(a / g, g)
    assert np.all(x >= SMOOTH_FLOOR * avg * (1 - 1e-9))


@settings(max_examples=100, deadline=None)
@given(st.floats(min_value=1.0, max_value=4.0), st.integers(min_value=2, max_value=8))
def test_geometric_growth_up_to_4x_is_spread_without_blending(q: float, years: int) -> None:
    """Growth up to 4x a year (the shipped plans grow revenue at most 2.3x a year) stays on the pure
    Denton path: no period is blended toward flat."""
    a = q ** np.arange(years)
    w = spread_totals([12] * years, a, "smooth")
    assert w == pytest.approx(denton_weights(tuple([12] * years)), abs=1e-15)


def test_points_interpolate_by_month() -> None:
    tl = Timeline("2026-01", "2026-12")
    w = tl.point_weights([tl.first + 5, tl.first + 11])  # Jun 0, Dec 3
    v = np.array([0.0, 3.0]) @ w
    assert v[:6].tolist() == [0.0] * 6
    assert v[6:].tolist() == pytest.approx([0.5, 1.0, 1.5, 2.0, 2.5, 3.0])


@pytest.mark.parametrize("bad", ["2026-13", "2026-1", "26-01", "2026/01", "2026-00"])
def test_bad_month_text(bad: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM"):
        parse_month(bad)


def test_month_label_round_trip() -> None:
    assert month_label(2026 * 12 + 2) == "2026-03"
