"""Targets: periods, tolerances, and reading metrics off a run."""

from __future__ import annotations

import math

import pytest

import finmodel
from finmodel.targets import TargetResult, parse_period


@pytest.mark.parametrize(
    ("period", "span"),
    [(2026, (2026, 2026)), ("2026", (2026, 2026)), ("2025-2029", (2025, 2029)), (None, None)],
)
def test_parse_period(period: int | str | None, span: tuple[int, int] | None) -> None:
    assert parse_period(period) == span


@pytest.mark.parametrize("bad", ["2029-2025", "soon", "2025-26-27"])
def test_bad_period(bad: str) -> None:
    with pytest.raises(ValueError, match="span of years"):
        parse_period(bad)


def test_relative_and_year_tolerances() -> None:
    assert TargetResult("burn", "2025-2029", 115, 120.75, 0.05, None).ok
    assert not TargetResult("burn", "2025-2029", 115, 120.76, 0.05, None).ok
    assert TargetResult("breakeven_year", None, 2030, 2031, 1, None).ok
    assert not TargetResult("breakeven_year", None, 2030, 2031, 0, None).ok
    assert not TargetResult("breakeven_year", None, 2030, None, 5, None).ok
    assert not TargetResult("revenue", "2030", 1, math.nan, 1, None).ok


def test_metric_values_read_off_a_run() -> None:
    res = finmodel.run("openai-plan-2025q3")
    a = res.annual
    assert res.metric_value("burn", "2025-2029") == pytest.approx(
        sum(a.loc["burn", y] for y in range(2025, 2030))
    )
    assert res.metric_value("cash", 2027) == a.loc["cash", 2027]  # a balance: the period's end
    assert res.metric_value("cash_unfunded", "2025-2027") == a.loc["cash_unfunded", 2027]
    assert res.metric_value("breakeven_year") == 2030
    assert res.metric_value("revenue") == pytest.approx(a.loc["revenue"].sum())  # the horizon
