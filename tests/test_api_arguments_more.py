"""More of the public API's refusals (issue 10's new-user trial): loading, the cash-flow
numerics (npv, xnpv, irr, xirr), the clearing, a result's line items and metrics, and
sobol's uncertainty. Each is a finmodel error that is also the matching builtin and whose
message starts with the Python argument (or the part of it at fault, ``flows[1]``), as in
tests/test_api_arguments.py."""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import finmodel
from finmodel.errors import ArgumentError, ArgumentKeyError, FinmodelError

PLAN = """
name: Plan
company: P
start: 2026-01
end: 2027-12
opening: {cash: 10}
revenue: {annual: {2026: 2}}
costs: {staff: {annual: {2026: 6}}}
uncertainty:
  draws: 50
  parameters:
    opening.cash: {dist: uniform, low: 5, high: 15}
    costs.staff.annual.2026: {dist: uniform, low: 3, high: 9}
"""

D = ["2025-01-01", "2026-01-01"]


@pytest.fixture(scope="module")
def res(tmp_path_factory: pytest.TempPathFactory) -> finmodel.Results:
    path = tmp_path_factory.mktemp("plan") / "plan.yaml"
    path.write_text(PLAN, encoding="utf-8")
    return finmodel.run(path)


def _refused(call: Callable[[], object], builtin: type[Exception], start: str) -> FinmodelError:
    """``call`` raises a FinmodelError that is also ``builtin``, its message starts with
    ``start`` and its ``argument`` is the Python argument ``start`` names."""
    with pytest.raises(FinmodelError) as e:
        call()
    err = e.value
    assert isinstance(err, builtin), (type(err), builtin)
    assert str(err).startswith(start), str(err)
    assert isinstance(err, ArgumentError)
    assert re.split(r"[\[.: ]", start, maxsplit=1)[0] == err.argument
    return err


CASES: list[tuple[str, Callable[[], object], type[Exception], str]] = [
    # load: pathlib's raw TypeError before
    (
        "load None",
        lambda: finmodel.load(None),  # type: ignore[arg-type]
        TypeError,
        "path: expected a file path or a shipped scenario's name, got NoneType",
    ),
    ("load 3", lambda: finmodel.load(3), TypeError, "path: expected a file path"),  # type: ignore[arg-type]
    # npv: "must be real number, not str" before, with no argument named
    (
        "npv rate text",
        lambda: finmodel.npv("10%", [-100, 60]),  # type: ignore[arg-type]
        TypeError,
        "rate: expected a rate as a number (a decimal: 0.1 for 10%), got '10%'",
    ),
    (
        "npv rate nan",
        lambda: finmodel.npv(math.nan, [-100, 60]),
        ValueError,
        "rate: expected a finite rate above -100% (-1), got nan",
    ),
    (
        "npv rate bool",
        lambda: finmodel.npv(True, [-100, 60]),
        TypeError,
        "rate: expected a rate as a number, got True",
    ),
    (
        "npv empty",
        lambda: finmodel.npv(0.1, []),
        ValueError,
        "flows: expected at least one flow, got 0",
    ),
    (
        "npv nan flow",
        lambda: finmodel.npv(0.1, [-100, math.nan, 60]),
        ValueError,
        "flows[1]: expected a finite number, got nan",
    ),
    (
        "npv text flows",
        lambda: finmodel.npv(0.1, "abc"),  # type: ignore[arg-type]
        TypeError,
        "flows: expected a list of numbers such as [-100, 60, 60], got 'abc'",
    ),
    (
        "npv None flows",
        lambda: finmodel.npv(0.1, None),  # type: ignore[arg-type]
        TypeError,
        "flows: expected a list of numbers",
    ),
    (
        "npv text flow",
        lambda: finmodel.npv(0.1, [-100, "60"]),  # type: ignore[list-item]
        TypeError,
        "flows[1]: expected a number, got '60'",
    ),
    (
        "npv nested flows",
        lambda: finmodel.npv(0.1, [[-100, 60]]),  # type: ignore[list-item]
        TypeError,
        "flows[0]: expected a number, got [-100, 60]",
    ),
    (
        "npv 2-D array",
        lambda: finmodel.npv(0.1, np.array([[-100.0, 60.0]])),
        ValueError,
        "flows: expected a one-dimensional list of flows, got shape (1, 2)",
    ),
    (
        "npv array of text",
        lambda: finmodel.npv(0.1, np.array(["-100", "60"])),
        TypeError,
        "flows: expected numbers, got an array of <U4 values",
    ),
    # irr: "all flows are zero" for an empty list before
    (
        "irr empty",
        lambda: finmodel.irr([]),
        ValueError,
        "flows: expected at least two flows (an outlay and a return), got 0",
    ),
    (
        "irr one flow",
        lambda: finmodel.irr([-100]),
        ValueError,
        "flows: expected at least two flows (an outlay and a return), got 1",
    ),
    ("irr None", lambda: finmodel.irr(None), TypeError, "flows: expected a list of numbers"),  # type: ignore[arg-type]
    (
        "irr guess text",
        lambda: finmodel.irr([-100, 110], guess="10%"),  # type: ignore[arg-type]
        TypeError,
        "guess: expected a rate as a number (a decimal: 0.1 for 10%), got '10%'",
    ),
    # xirr / xnpv: "xirr: ..." (also from xnpv) before, naming no argument
    (
        "xirr empty",
        lambda: finmodel.xirr([], []),
        ValueError,
        "flows: expected at least two flows (an outlay and a return), got 0",
    ),
    (
        "xirr fewer dates",
        lambda: finmodel.xirr([-100, 60, 60], D),
        ValueError,
        "dates: expected one date per flow (3 flows), got 2 dates",
    ),
    (
        "xirr one text date",
        lambda: finmodel.xirr([-100, 110], "2025-01-01"),  # type: ignore[arg-type]
        TypeError,
        "dates: expected a list of dates (datetime.date or 'YYYY-MM-DD'), got '2025-01-01'",
    ),
    (
        "xirr bad date",
        lambda: finmodel.xirr([-100, 110], [date(2025, 1, 1), None]),  # type: ignore[list-item]
        ValueError,
        "dates[1]: expected a date (datetime.date or 'YYYY-MM-DD'), got None",
    ),
    (
        "xnpv empty",
        lambda: finmodel.xnpv(0.1, [], []),
        ValueError,
        "flows: expected at least one flow, got 0",
    ),
    (
        "xnpv rate text",
        lambda: finmodel.xnpv("x", [-100, 110], D),  # type: ignore[arg-type]
        TypeError,
        "rate: expected a rate as a number, got 'x'",
    ),
    (
        "xnpv nan flow",
        lambda: finmodel.xnpv(0.1, [-100, math.inf], D),
        ValueError,
        "flows[1]: expected a finite number, got inf",
    ),
    (
        "xnpv one date",
        lambda: finmodel.xnpv(0.1, [-100, 110], D[:1]),
        ValueError,
        "dates: expected one date per flow (2 flows), got 1 date",
    ),
    # clear: "clear: ..." before, and numpy's errors for text
    (
        "clear empty",
        lambda: finmodel.clear([], []),
        ValueError,
        "liabilities: expected a square matrix (n, n) or a stack (S, n, n), n >= 1, got shape (0,)",
    ),
    (
        "clear text",
        lambda: finmodel.clear([[0, "a"], [0, 0]], [0, 0]),
        TypeError,
        "liabilities: expected a square matrix (n, n) or a stack (S, n, n) of numbers",
    ),
    (
        "clear nan means",
        lambda: finmodel.clear([[0, 1], [0, 0]], [0, math.nan]),
        ValueError,
        "means[1]: expected a finite number, got nan",
    ),
    (
        "clear mismatched",
        lambda: finmodel.clear([[0, 1], [0, 0]], [0, 0, 0]),
        ValueError,
        "means: expected shape (2,) or (S, 2) to match liabilities of shape (2, 2), got (3,)",
    ),
]


@pytest.mark.parametrize(("name", "call", "builtin", "start"), CASES, ids=[c[0] for c in CASES])
def test_the_numerics_name_the_argument(
    name: str, call: Callable[[], object], builtin: type[Exception], start: str
) -> None:
    _refused(call, builtin, start)


def test_an_unknown_line_item_is_a_key_error_naming_the_nearest(res: finmodel.Results) -> None:
    # was: bare KeyError: 'revenu'
    err = _refused(
        lambda: res.series("revenu"),
        KeyError,
        "item: expected a line item of scenario 'Plan', got 'revenu'; nearest: revenue",
    )
    assert isinstance(err, ArgumentKeyError) and isinstance(err, LookupError)
    assert str(err) == str(err.args[0])  # not quoted as a plain KeyError's message is
    # nothing near: how many there are and where they are listed
    err = _refused(lambda: res.series("zzz"), KeyError, "item: expected a line item")
    assert str(err).endswith(f"({len(res.monthly.columns)} in all: see .monthly)")
    with pytest.raises(KeyError):  # a caller's `except KeyError` still catches it
        res.series("nope")
    _refused(lambda: res.series(3), TypeError, "item: expected a line item's name as a string")  # type: ignore[arg-type]
    # a known item is unchanged: revenue 2 a year (the file's 2026, held flat), by month
    assert math.fsum(res.series("revenue")[:12]) == pytest.approx(2.0, rel=1e-12)
    assert math.fsum(res.series("revenue")[12:]) == pytest.approx(2.0, rel=1e-12)


def test_metric_value_names_the_metric_and_the_period(res: finmodel.Results) -> None:
    _refused(
        lambda: res.metric_value("funding_gpa", 2027),
        KeyError,
        "metric: expected a metric or a line item, got 'funding_gpa'; nearest: funding_gap",
    )
    _refused(
        lambda: res.metric_value("funding_gap", 2031),
        ValueError,
        "period: expected years within the horizon 2026..2027, got 2031",
    )
    _refused(
        lambda: res.metric_value("funding_gap", "2026-x"),
        ValueError,
        "period: expected a year or a span of years like 2025-2029, got '2026-x'",
    )
    _refused(
        lambda: res.metric_value("cash_out_month"),
        ValueError,
        "metric: expected a metric with a number for its value, got 'cash_out_month'",
    )
    # staff 6 a year against revenue 2 (both held flat from 2026), no tax or other cost:
    # 10 + 2 - 6 = 6 at the end of 2026 and 6 + 2 - 6 = 2 at the end of 2027 (a balance: the
    # period's last year)
    assert res.metric_value("cash_unfunded", 2026) == pytest.approx(6.0, rel=1e-12)
    assert res.metric_value("cash_unfunded", "2026-2027") == pytest.approx(2.0, rel=1e-12)


def test_sobol_names_its_uncertainty_argument() -> None:
    params = list(inspect.signature(finmodel.sobol).parameters)
    # the README's positional call finmodel.sobol("hsbc-2025-11", None, "funding_gap.2030")
    assert params[:3] == ["model", "uncertainty", "metric"]
    _refused(
        lambda: finmodel.sobol("hsbc-2025-11", 3, "funding_gap.2030", 4),  # type: ignore[arg-type]
        TypeError,
        "uncertainty: expected an Uncertainty section or None (the file's), got int",
    )


def test_the_new_error_is_public() -> None:
    assert finmodel.ArgumentKeyError is ArgumentKeyError
    assert "ArgumentKeyError" in finmodel.__all__


def test_a_valid_call_still_answers(tmp_path: Path) -> None:
    """Values the checks must let through, each with its reference."""
    # numpy-financial's own example: npv(0.08, [-40000, 5000, 8000, 12000, 30000])
    assert finmodel.npv(0.08, [-40_000, 5_000, 8_000, 12_000, 30_000]) == pytest.approx(
        3065.2226681795255, rel=1e-12
    )
    # ints, numpy numbers and arrays are numbers: -100 + 110 / 1.1 = 0
    flows: list[Any] = [np.int64(-100), np.float32(110)]
    assert finmodel.npv(np.float64(0.1), flows) == pytest.approx(0.0, abs=1e-12)
    assert finmodel.npv(0.1, np.array([-100, 110])) == pytest.approx(0.0, abs=1e-12)
    # one flow at time 0 is its own value
    assert finmodel.xnpv(0.1, [5.0], ["2025-01-01"]) == 5.0
    # NaN in irr is still an answer with its reason (documented), not an error
    assert finmodel.irr([-100, math.nan]).reason == "flow 1 is not a finite number (nan)"


def test_the_dcf_irr_with_one_year_left_is_an_answer(tmp_path: Path) -> None:
    """`finmodel value` with the valuation date in the horizon's last year: the IRR of the
    free cash flow has one yearly flow, which is no rate (as before), not a refusal of an
    argument the user never gave."""
    from finmodel.valuation import fcf_irr

    path = tmp_path / "v.yaml"
    path.write_text(
        "name: V\ncompany: P\nstart: 2026-01\nend: 2027-12\nopening: {cash: 10}\n"
        "revenue: {annual: {2026: 2}}\ncosts: {staff: {annual: {2026: 1}}}\n"
        "valuation:\n  date: 2027-01\n  discount_rate: 0.1\n"
        "  terminal: {method: multiple, of: revenue, multiple: 5}\n",
        encoding="utf-8",
    )
    r = fcf_irr(finmodel.run(path))
    assert r.value is None and r.roots == []
    assert r.reason == "fewer than two years of flows after the valuation date, an IRR needs two"
