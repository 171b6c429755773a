"""Months, year spreading and interpolation (timeline.py)."""

import numpy as np
import pytest

from finmodel.timeline import Timeline, month_label, parse_month


def test_labels_span_years() -> None:
    tl = Timeline("2025-07", "2026-02")
    assert tl.T == 8
    assert tl.labels[0] == "2025-07" and tl.labels[-1] == "2026-02"
    assert tl.years == [2025, 2026]
    assert [(y, s.stop - s.start) for y, s in tl.year_slices()] == [(2025, 6), (2026, 2)]


def test_flow_interpolated_between_given_years_and_held_outside() -> None:
    tl = Timeline("2025-01", "2031-12")
    w = tl.year_weights([2026, 2030], flow=True)
    v = np.array([12.0, 60.0]) @ w
    # 2025 held at 2026's value; 2028 halfway (36); 2031 held at 2030's; each month 1/12
    yearly = {y: v[s].sum() for y, s in tl.year_slices()}
    assert yearly == pytest.approx(
        {2025: 12, 2026: 12, 2027: 24, 2028: 36, 2029: 48, 2030: 60, 2031: 60}
    )
    assert v[0] == pytest.approx(1.0)


def test_level_path_gives_each_month_the_year_value() -> None:
    tl = Timeline("2026-01", "2027-12")
    v = np.array([0.1, 0.3]) @ tl.year_weights([2026, 2027], flow=False)
    assert np.all(v[:12] == 0.1) and np.all(v[12:] == 0.3)


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
