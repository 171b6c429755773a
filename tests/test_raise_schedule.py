"""The joint raise schedule: brute force on small cases, the exact guarantee on the drawn
paths, a closed-form breach probability checked on an independent sample, the per-month
quantile's failure to cover jointly, float32 storage, the CLI's JSON and the workbook."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from openpyxl import load_workbook
from scipy import integrate, stats
from typer.testing import CliRunner

import finmodel
from finmodel.analysis import montecarlo
from finmodel.analysis.montecarlo import draw, inputs_for, simulate, spec_from
from finmodel.analysis.raise_schedule import (
    BreachCount,
    allowed_breaches,
    breached,
    joint_schedule,
    need_quantile,
)
from finmodel.cli import app
from finmodel.engine.evaluate import evaluate, full
from finmodel.engine.model import CASH_TOL, build
from finmodel.errors import IdentityError

# Two sources of need, 24 months, no revenue, a buffer of 0. Staff costs 6 a year in both
# years (0.5 a month spread flat; any spreading keeps the annual totals, and the closed
# forms below use only those or the engine's own burn). Opening cash C and a tranche I
# received in 2027-01 are independent U(0, 10). With cumulative burn B_t:
#   N_t = max(0, B_t - C)                     for t = 0..11 (2026)
#   N_t = max(N_11, B_t - C - I)              for t = 12..23 (2027)
# A path falls short early when C is low and late when C + I is low.
TWO = """
name: Two sources of need
company: T
start: 2026-01
end: 2027-12
opening: {cash: 5}
revenue: {annual: {2026: 0, 2027: 0}}
costs: {staff: {annual: {2026: 6, 2027: 6}}}
funding:
  min_cash: 0
  inflows:
    - {name: Series B, amount: 5, date: 2027-01}
uncertainty:
  draws: 20000
  seed: 3
  alpha: 0.1
  parameters:
    opening.cash: {dist: uniform, low: 0, high: 10}
    funding.inflows.series_b.amount: {dist: uniform, low: 0, high: 10}
"""


@pytest.fixture
def two(write_yaml: Callable[..., Path]) -> Path:
    return write_yaml(TWO, "two.yaml")


def _running_needs(rng: np.random.Generator, T: int, n: int, top: int) -> np.ndarray:
    """Random running needs: non-decreasing in t, small integers so that ties abound."""
    return np.maximum.accumulate(rng.integers(0, top, size=(T, n)).astype(float), axis=0)


def _brute_force(need: np.ndarray, k: int) -> np.ndarray:
    """Every way of giving up at most k paths; the envelope of the rest; the schedule that is
    smallest at the last month, then at the month before, and so on back to the first."""
    T, n = need.shape
    best: tuple[tuple[float, ...], np.ndarray] | None = None
    for r in range(k + 1):
        for out in itertools.combinations(range(n), r):
            keep = [i for i in range(n) if i not in out]
            rs = need[:, keep].max(axis=1) if keep else np.zeros(T)
            assert (need > rs[:, None]).any(axis=0).sum() <= k  # only the given-up paths breach
            key = tuple(rs[::-1])
            if best is None or key < best[0]:
                best = (key, rs)
    assert best is not None
    return best[1]


def test_allowed_breaches_is_the_largest_count_within_alpha() -> None:
    # by hand: 5% of 10,000 is 500; 0.29 x 100 is 28.999... in floating point, yet 29 / 100
    # compares equal to 0.29; 5% of 19 paths allows none, of 20 paths one
    assert allowed_breaches(0.05, 10_000) == 500
    assert allowed_breaches(0.29, 100) == 29 and 29 / 100 <= 0.29
    assert allowed_breaches(0.05, 19) == 0 and allowed_breaches(0.05, 20) == 1
    assert allowed_breaches(0.0, 7) == 0 and allowed_breaches(1.0, 7) == 7
    for n in range(1, 300):
        for alpha in (0.01, 0.05, 0.1, 0.29, 0.5, 0.99):
            k = allowed_breaches(alpha, n)
            assert k / n <= alpha and (k == n or (k + 1) / n > alpha)


def test_a_schedule_by_hand() -> None:
    # 4 paths, 2 months, alpha = 0.25: one path may fall short. Path 3 has the largest
    # final need (4), so it is given up; the other three need at most 3 in both months.
    need = np.array([[0.0, 3.0, 1.0, 0.0], [1.0, 3.0, 2.0, 4.0]])
    np.testing.assert_array_equal(joint_schedule(need, 0.25), [3.0, 3.0])
    # the per-month quantile (second largest each month) is [1, 3]: path 1 falls short in
    # month 0 and path 3 in month 1, so half the paths fall short, twice alpha
    q = need_quantile(need, 0.25)
    np.testing.assert_array_equal(q, [1.0, 3.0])
    assert breached(need, q).tolist() == [False, True, False, True]


@pytest.mark.parametrize("alpha", [0.0, 0.12, 0.25, 0.34, 0.5, 1.0])
def test_joint_schedule_equals_brute_force(alpha: float) -> None:
    rng = np.random.default_rng(17)
    for _ in range(25):
        need = _running_needs(rng, 4, 9, 6)
        k = allowed_breaches(alpha, 9)
        np.testing.assert_array_equal(joint_schedule(need, alpha), _brute_force(need, k))


@pytest.mark.parametrize(
    ("alpha", "n"),
    [(0.0, 2_000), (0.01, 2_000), (0.05, 2_000), (0.2, 2_000), (0.29, 100), (0.97, 2_000), (1, 50)],
)
def test_guarantee_holds_exactly_for_every_month(alpha: float, n: int) -> None:
    rng = np.random.default_rng(5)
    T = 18
    # random walks of cash against a buffer of 0, and their running needs (DESIGN.md)
    cash = 3.0 + np.cumsum(rng.normal(-0.2, 1.0, size=(T, n)), axis=0)
    need = np.maximum(np.maximum.accumulate(-cash, axis=0), 0.0)
    rs = joint_schedule(need, alpha)
    k = allowed_breaches(alpha, n)
    assert np.all(np.diff(rs) >= 0) and np.all(rs >= 0)
    for t in range(T):
        # the definition itself: cash with R raised falls below the buffer by month t
        short = (cash[: t + 1] + rs[: t + 1, None] < 0.0 - CASH_TOL).any(axis=0)
        assert short.sum() <= k
        np.testing.assert_array_equal(short, breached(need[: t + 1], rs[: t + 1]))
    q = need_quantile(need, alpha)
    assert np.all(rs >= q)  # any joint schedule lies above the per-month quantile
    if k < n:
        # the total by the horizon is the least possible: the (k + 1)-th largest final need
        assert rs[-1] == np.sort(need[-1])[n - 1 - k] == q[-1]
        # the per-month quantile lets at most k paths above it in each month, and k + 1 or
        # more above anything lower (here the next value down, where there is one)
        for t in range(T):
            assert (need[t] > q[t]).sum() <= k
            below = need[t][need[t] < q[t]]
            if below.size:
                assert (need[t] > below.max()).sum() > k


def test_per_month_quantile_fails_jointly_and_the_schedule_does_not(two: Path) -> None:
    mc = simulate(two)
    cov = mc.coverage
    assert cov.allowed == 2_000 and cov.drawn.breaches <= 2_000
    # Closed form for the per-month quantile at alpha = 0.1 (C, I ~ U(0, 10)), from the
    # year-end months alone (costs are never negative, so B peaks there at 6 and 12): in
    # 2026-12 N = max(0, 6 - C), whose 90% quantile is 5, so a path falls short there iff
    # C < 1; in 2027-12 the need's 90% quantile is 12 - sqrt(20) (P(C + I < s) = s^2 / 200),
    # (above 6, so only the C + I term counts): a path falls short there iff C + I < sqrt(20).
    # P(either) = 0.1 + 0.1 - P(C < 1, C + I < sqrt 20) = 0.2 - (sqrt(20) - 0.5) / 100
    #           = 0.16028, a lower bound for falling short in any month (other months only
    # add paths).
    s20 = np.sqrt(20.0)
    both = integrate.dblquad(lambda i, c: 0.01, 0, 1, 0, lambda c: s20 - c)[0]
    union = 0.2 - both
    assert union == pytest.approx(0.2 - (s20 - 0.5) / 100, abs=1e-9)
    sd = np.sqrt(union * (1 - union) / 20_000)
    assert cov.drawn_quantile.rate > union - 4 * sd > 1.4 * 0.1
    assert cov.validation_quantile.rate > union - 4 * sd
    assert cov.validation_quantile.interval(0.999)[0] > 0.1  # far above alpha out of sample


def _true_breach_probability(two: Path, rs: np.ndarray) -> float:
    """P(a new path of TWO falls short of schedule rs in some month), by integration over C.

    With B_t the cumulative burn (from a deterministic run: it does not depend on C or I;
    0.5 (t + 1) when spread flat), U_t = C - B_t in 2026 and C + I - B_t in 2027. A path
    falls short in 2026 iff C < a = max_{t<12} (B_t - R_t - tol), and in 2027 (R_t >= R_11
    covers the carried N_11) iff C + I < b = max_{t>=12} (B_t - R_t - tol).
    """
    burn = -finmodel.run(two).monthly["free_cash_flow"].cumsum().to_numpy()
    a = float(np.max(burn[:12] - rs[:12] - CASH_TOL))
    b = float(np.max(burn[12:] - rs[12:] - CASH_TOL))

    def p(c: float) -> float:
        return 1.0 if c < a else min(1.0, max(0.0, (b - c) / 10.0))

    pts = [x for x in (a, b - 10.0, b) if 0.0 < x < 10.0]
    return float(integrate.quad(p, 0.0, 10.0, points=pts or None, limit=200)[0] / 10.0)


def test_breach_rate_on_a_fresh_sample_is_within_its_binomial_bound(two: Path) -> None:
    mc = simulate(two, validation_draws=40_000)
    rs = mc.raise_schedule.to_numpy()
    p = _true_breach_probability(two, rs)
    # The validation paths are independent of the schedule, so their breach count is Binomial(m, p)
    # with p from the closed form; a two-sided bound with false-failure probability 1e-6:
    lo, hi = stats.binom.interval(1 - 1e-6, 40_000, p)
    assert lo <= mc.coverage.validation.breaches <= hi
    # and p itself is alpha up to the fitting sample's error: for one month's order
    # statistic the miss probability is Beta(k + 1, n - k) (1e-6 tails); the joint envelope
    # is set by at most T paths beyond those k, which widens the upper side by T paths.
    k, n, T = 2_000, 20_000, 24
    assert stats.beta.ppf(1e-6, k + 1, n - k) <= p <= stats.beta.ppf(1 - 1e-6, k + 1 + T, n - k)


def test_validation_is_an_independent_sample_from_a_child_seed(two: Path) -> None:
    model = build(finmodel.load(two))
    mc = simulate(model, n=3_000, seed=8, validation_draws=2_500, chunk=700)
    u = model.assumptions.uncertainty if model.assumptions else None
    assert u is not None
    spec = spec_from(model, u)
    # recount the validation breaches from the definition, U_t + R_t < buffer - tol
    child = np.random.SeedSequence(8).spawn(1)[0]
    xv = draw(spec, 2_500, child, "random")
    cash = full(evaluate(model, inputs_for(model, spec, xv))["cash_unfunded"], 2_500)
    rs = mc.raise_schedule.to_numpy()
    short = (cash + rs[:, None] < 0.0 - CASH_TOL).any(axis=0)
    assert mc.coverage.validation == BreachCount(int(short.sum()), 2_500)
    assert mc.manifest["validation_seed"] == "SeedSequence(8).spawn(1)[0]"
    # the drawn paths' guarantee, recounted the same way from the stored draws
    x = mc.draws.to_numpy()
    cash0 = full(evaluate(model, inputs_for(model, spec, x))["cash_unfunded"], 3_000)
    for t in range(24):
        assert (cash0[: t + 1] + rs[: t + 1, None] < -CASH_TOL).any(axis=0).sum() <= 300
    # reproducible with the seed; another seed draws other validation paths
    again = simulate(model, n=3_000, seed=8, validation_draws=2_500, chunk=1_000)
    assert again.coverage == mc.coverage
    np.testing.assert_array_equal(again.raise_schedule.to_numpy(), rs)
    other = simulate(model, n=3_000, seed=9, validation_draws=2_500)
    assert other.coverage.validation != mc.coverage.validation


def test_a_schedule_that_breaks_the_guarantee_stops_the_run(
    two: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # substitute the per-month quantile, which lets ~16% of TWO's paths fall short (above)
    monkeypatch.setattr(montecarlo, "joint_schedule", need_quantile)
    with pytest.raises(IdentityError, match=r"raise schedule broken in scenario 'Two sources"):
        simulate(two, n=2_000, validation_draws=10)


def test_float32_storage_keeps_the_guarantee(two: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = build(finmodel.load(two))
    exact = simulate(model, n=4_000, seed=2, validation_draws=10)
    monkeypatch.setattr(montecarlo, "STORE_FLOAT64_UP_TO", 0)
    f32 = simulate(model, n=4_000, seed=2, validation_draws=10)
    assert f32.manifest["paths_stored_as"] == "float32"
    r32, r64 = f32.raise_schedule.to_numpy(), exact.raise_schedule.to_numpy()
    # needs are rounded up to float32: R never falls below the float64 schedule and exceeds
    # it by at most one float32 step (relative 2^-23)
    assert np.all(r32 >= r64) and np.all(r32 - r64 <= 2.0**-23 * np.maximum(r64, 1e-30))
    u = model.assumptions.uncertainty if model.assumptions else None
    assert u is not None
    need = full(
        evaluate(model, inputs_for(model, spec_from(model, u), f32.draws.to_numpy()))[
            "funding_need_cumulative"
        ],
        4_000,
    )
    assert breached(need, r32).sum() <= f32.coverage.allowed == 400


def test_cli_json_has_the_monthly_schedule_and_the_annual_view(in_tmp: Path) -> None:
    args = ["simulate", "hsbc-2025-11", "-n", "2000", "--seed", "4", "--json", "--no-workbook"]
    r = CliRunner().invoke(app, [*args, "--validation-draws", "1500"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    months = list(d["raise_schedule"])
    assert all(re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", m) for m in months)
    assert months[0] == "2025-07" and months[-1] == "2030-12" and len(months) == 66
    assert list(d["need_quantile"]) == months
    rs = np.array(list(d["raise_schedule"].values()))
    q = np.array(list(d["need_quantile"].values()))
    assert np.all(np.diff(rs) >= 0) and np.all(rs >= q) and rs[-1] == q[-1]
    by_year = d["raise_schedule_by_year"]
    assert list(by_year) == ["2025", "2026", "2027", "2028", "2029", "2030"]
    for y, row in by_year.items():
        assert row["raise_by_year_end"] == d["raise_schedule"][f"{y}-12"]
    new = [row["new_money_in_year"] for row in by_year.values()]
    assert sum(new) == pytest.approx(rs[-1], rel=1e-12)
    cov = d["coverage"]
    assert cov["allowed_breaches"] == 100 and cov["drawn"]["raise_schedule"]["breaches"] <= 100
    val = cov["validation"]["raise_schedule"]
    assert val["paths"] == 1500 and d["manifest"]["validation_draws"] == 1500
    # the interval is scipy's exact (Clopper-Pearson) one for the reported count
    ci = stats.binomtest(val["breaches"], 1500).proportion_ci(0.95, method="exact")
    assert val["ci95"] == [pytest.approx(ci.low), pytest.approx(ci.high)]
    assert json.loads(CliRunner().invoke(app, [*args, "--validation-draws", "1500"]).stdout) == d


def test_cli_help_says_what_is_guaranteed() -> None:
    out = CliRunner().invoke(app, ["simulate", "--help"]).output
    assert "in ANY month up to t" in out and "holds exactly on the drawn paths" in out
    assert "NOT a joint guarantee" in out and "--validation-draws" in out


def test_cli_refuses_no_validation_paths(in_tmp: Path) -> None:
    r = CliRunner().invoke(app, ["simulate", "hsbc-2025-11", "--validation-draws", "0"])
    assert r.exit_code == 2
    assert "--validation-draws: expected at least 1 draw, got 0" in r.output
    assert not (in_tmp / "outputs").exists()


def test_workbook_shows_schedule_quantile_and_coverage(two: Path, in_tmp: Path) -> None:
    r = CliRunner().invoke(
        app, ["simulate", str(two), "-n", "3000", "--seed", "8", "--validation-draws", "2500"]
    )
    assert r.exit_code == 0, r.output
    mc = simulate(str(two), n=3_000, seed=8, validation_draws=2_500)
    ws = load_workbook(in_tmp / "outputs" / "two-montecarlo.xlsx")["Monte Carlo"]
    assert ws["H1"].value == "Raise schedule (joint)"
    assert ws["I1"].value == "Per-month need quantile (not joint)"
    for i, m in enumerate(mc.raise_schedule.index, start=2):
        assert ws.cell(row=i, column=1).value == m
        # the workbook stores 15-16 significant digits
        assert ws.cell(row=i, column=8).value == pytest.approx(mc.raise_schedule[m], rel=1e-14)
        assert ws.cell(row=i, column=9).value == pytest.approx(mc.need_quantile[m], rel=1e-14)
    # the year table (K22: title, K23: header) and the coverage block below it (K27)
    assert [ws.cell(row=24 + j, column=12).value for j in range(2)] == [
        pytest.approx(mc.raise_schedule["2026-12"], rel=1e-14),
        pytest.approx(mc.raise_schedule["2027-12"], rel=1e-14),
    ]
    cov = mc.coverage
    row = [ws.cell(row=29, column=c).value for c in range(11, 21)]
    lo, hi = cov.validation.interval()
    assert row == [
        "Raise schedule (joint)",
        3000,
        cov.drawn.breaches,
        pytest.approx(cov.drawn.rate, rel=1e-14),
        300,
        2500,
        cov.validation.breaches,
        pytest.approx(cov.validation.rate, rel=1e-14),
        pytest.approx(lo, rel=1e-14),
        pytest.approx(hi, rel=1e-14),
    ]
    assert ws.cell(row=30, column=11).value == "Per-month quantile (not joint)"
