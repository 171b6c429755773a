"""Sensitivity, goal seek, Monte Carlo and Sobol against closed forms and single runs."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import finmodel
from finmodel.analysis.distributions import check_correlation, correlate, uniforms
from finmodel.analysis.metrics import evaluate_metric, parse_metric
from finmodel.analysis.montecarlo import draw, inputs_for, simulate, spec_from
from finmodel.analysis.sensitivity import TornadoSpec, grid, tornado
from finmodel.analysis.sobol import sobol
from finmodel.analysis.solve import solve
from finmodel.assumptions.schema import Uncertainty
from finmodel.engine.evaluate import evaluate, full
from finmodel.engine.model import CASH_TOL, build
from finmodel.errors import AssumptionError, TargetNotReachedError

# A linear model: 12 months, no revenue, staff X a year, opening cash C, no tax, no buffer.
# Cash falls X/12 a month, so trough cash = C - X and the 2026 funding gap = max(0, X - C).
LINEAR = """
name: Linear
company: L
start: 2026-01
end: 2026-12
opening: {cash: 10}
revenue: {annual: {2026: 0}}
costs: {staff: {annual: {2026: 6}}}
"""


@pytest.fixture
def linear(write_yaml: Callable[..., Path]):  # type: ignore[no-untyped-def]
    return build(finmodel.load(write_yaml(LINEAR)))


def test_tornado_of_a_linear_model(linear) -> None:  # type: ignore[no-untyped-def]
    df = tornado(
        linear,
        "trough_unfunded_cash",
        [
            TornadoSpec("opening.cash", 4, 20),
            TornadoSpec("costs.staff.annual.2026", 5, 8),
            TornadoSpec("funding.min_cash", 0, 1),
        ],
    )
    assert df["parameter"].tolist() == [
        "opening.cash",
        "costs.staff.annual.2026",
        "funding.min_cash",
    ]
    assert df["base"][0] == pytest.approx(4.0)
    # d(trough)/dC = 1, d(trough)/dX = -1, the buffer does not enter
    assert df.loc[0, ["metric_low", "metric_high", "swing"]].tolist() == pytest.approx([-2, 14, 16])
    assert df.loc[1, ["metric_low", "metric_high", "swing"]].tolist() == pytest.approx([5, 2, 3])
    assert df.loc[2, "swing"] == 0.0


def test_tornado_pct(linear) -> None:  # type: ignore[no-untyped-def]
    """One input moves by set (base 6 -/+ 50%: 3 and 9); a group by scale."""
    df = tornado(linear, "trough_unfunded_cash", [TornadoSpec("costs.staff.annual", pct=0.5)])
    assert df.loc[0, ["op", "low", "high"]].tolist() == ["set", 3.0, 9.0]
    assert df.loc[0, ["metric_low", "metric_high"]].tolist() == pytest.approx([7, 1])
    df = tornado(linear, "trough_unfunded_cash", [TornadoSpec("opening", pct=0.5)])
    assert df.loc[0, ["op", "low", "high"]].tolist() == ["scale", 0.5, 1.5]
    assert df.loc[0, ["metric_low", "metric_high"]].tolist() == pytest.approx([-1, 9])


def test_grid_of_a_linear_model(linear) -> None:  # type: ignore[no-untyped-def]
    cs, xs = [2.0, 5.0, 9.0], [1.0, 6.0, 12.0, 20.0]
    g = grid(linear, "funding_gap.2026", "opening.cash", cs, "costs.staff.annual.2026", xs)
    want = np.maximum(0.0, np.subtract.outer(-np.array(cs), -np.array(xs)) * -1)
    np.testing.assert_allclose(
        g.to_numpy(), np.maximum(0.0, np.array(xs)[None, :] - np.array(cs)[:, None])
    )
    assert want.shape == g.shape


def test_tornado_equals_single_runs() -> None:
    model = build(finmodel.load("hsbc-2025-11"))
    df = tornado(
        model, "funding_gap.2030", [TornadoSpec("revenue.users.paying_share.2030", 0.05, 0.2)]
    )
    for col, x in (("metric_low", 0.05), ("metric_high", 0.2)):
        v = model.params.vector()[None, :].copy()
        v[0, model.params.names().index("revenue_users_paying_share_2030")] = x
        one = evaluate_metric(model, evaluate(model, v), v, parse_metric("funding_gap.2030", model))
        assert df.loc[0, col] == one[0]


def test_goal_seek_plugged_back_hits_the_target(linear) -> None:  # type: ignore[no-untyped-def]
    sol = solve(linear, "trough_unfunded_cash", 1.0, "opening.cash", (0, 100))
    # C - 6 = 1; reached within 1e-9 x (1 + |target|), so C is within 2e-9 of 7
    assert sol.value == pytest.approx(7.0, abs=2e-9)
    hsbc = build(finmodel.load("hsbc-2025-11"))
    sol = solve(hsbc, "funding_gap.2030", 100.0, "revenue.segments.enterprise.market")
    v = hsbc.params.vector()[None, :].copy()
    for i, p in enumerate(hsbc.params):
        if p.path.startswith("revenue.segments.enterprise.market"):
            v[0, i] *= sol.value
    got = evaluate_metric(hsbc, evaluate(hsbc, v), v, parse_metric("funding_gap.2030", hsbc))[0]
    assert got == pytest.approx(100.0, abs=1e-6)
    assert sol.iterations > 0 and sol.scan_interval[0] <= sol.value <= sol.scan_interval[1]


def test_goal_seek_finds_the_boundary_of_a_flat_target() -> None:
    """The gap is 0 for every paying-share factor above the answer; the answer is the least."""
    hsbc = build(finmodel.load("hsbc-2025-11"))
    sol = solve(hsbc, "funding_gap.2030", 0.0, "revenue.users.paying_share", (1, 10))
    below = solve(hsbc, "funding_gap.2030", 0.5, "revenue.users.paying_share", (1, 10))
    assert sol.achieved == pytest.approx(0.0, abs=1e-8)
    assert below.value < sol.value  # a gap of 0.5 needs less than a gap of 0


def test_goal_seek_unreachable_gives_the_nearest_value(linear) -> None:  # type: ignore[no-untyped-def]
    """Trough cash = C - 6 ranges over [-6, 94] for C in [0, 100]."""
    assert finmodel.TargetNotReachedError is TargetNotReachedError
    with pytest.raises(TargetNotReachedError, match="all below the target") as e:
        solve(linear, "trough_unfunded_cash", 500.0, "opening.cash", (0, 100))
    assert e.value.kind == "out of range" and e.value.above is None
    assert e.value.below == pytest.approx((100.0, 94.0))
    with pytest.raises(ValueError, match="all above the target") as e:  # also a ValueError
        solve(linear, "trough_unfunded_cash", -500.0, "opening.cash", (0, 100))
    assert e.value.above == pytest.approx((0.0, -6.0)) and e.value.below is None


# The linear model's runway is a hand-made step metric: cash after month t (t = 0, 1, ...) is
# C - 0.5 (t + 1), and cash counts as below the buffer 0 when short by more than CASH_TOL
# (1e-9), so runway(C) = k months for C in [k/2 - 1e-9, (k+1)/2 - 1e-9): one more month every
# 0.5, and "never" within the 12 months from C = 6 - 1e-9.


def test_goal_seek_on_a_step_metric_finds_the_least_value(linear) -> None:  # type: ignore[no-untyped-def]
    sol = solve(linear, "runway_months", 5.0, "opening.cash", (0, 10))
    # the least value that reaches 5 months (to brentq's xtol 1e-10), never one just below
    assert sol.achieved == 5.0 and 2.5 - CASH_TOL <= sol.value <= 2.5 - CASH_TOL + 4e-10


def test_goal_seek_target_inside_a_jump(linear) -> None:  # type: ignore[no-untyped-def]
    """5.5 months lies in the jump from 5 to 6 months at C = 3 - 1e-9."""
    with pytest.raises(TargetNotReachedError, match="jumps over the target") as e:
        solve(linear, "runway_months", 5.5, "opening.cash", (0, 10))
    err = e.value
    assert err.kind == "jump" and "counts whole months" in str(err)
    (xb, yb), (xa, ya) = err.below, err.above
    assert (yb, ya) == (5.0, 6.0)
    # the two sides of the jump, a few representable steps apart (the engine's cash carries
    # rounding of ~1e-15 from its monthly roll-forward)
    assert xb < xa and xa - xb <= 1e-14
    assert xb == pytest.approx(3.0 - CASH_TOL, abs=1e-13)


def test_goal_seek_target_beyond_the_horizon_is_the_jump_to_never(linear) -> None:  # type: ignore[no-untyped-def]
    """Runway is 11 months below C = 6 - 1e-9 and never within the 12 months from there."""
    with pytest.raises(TargetNotReachedError, match=r"\(beyond the horizon, above\)") as e:
        solve(linear, "runway_months", 20.0, "opening.cash", (0, 10))
    (xb, yb), (xa, ya) = e.value.below, e.value.above
    assert yb == 11.0 and math.isnan(ya)
    assert xb < xa and xa - xb <= 1e-14
    assert xb == pytest.approx(6.0 - CASH_TOL, abs=1e-13)


def _u(params: dict, **kw) -> Uncertainty:  # type: ignore[type-arg]
    return Uncertainty.model_validate({"parameters": params, **kw})


def test_monte_carlo_is_reproducible_and_chunk_independent() -> None:
    model = build(finmodel.load("openai-plan-2025q3"))
    u = finmodel.load("openai-plan-2025q3").uncertainty
    assert u is not None
    a = simulate(model, u, n=3000, seed=11, chunk=3000)
    b = simulate(model, u, n=3000, seed=11, chunk=701)
    np.testing.assert_array_equal(a.metrics.to_numpy(), b.metrics.to_numpy())
    np.testing.assert_array_equal(a.fan.to_numpy(), b.fan.to_numpy())
    np.testing.assert_array_equal(a.need_quantile.to_numpy(), b.need_quantile.to_numpy())
    np.testing.assert_array_equal(a.raise_schedule.to_numpy(), b.raise_schedule.to_numpy())
    assert a.coverage == b.coverage  # the validation sample does not depend on the chunk either
    c = simulate(model, u, n=3000, seed=12, chunk=3000)
    assert not np.array_equal(a.metrics.to_numpy(), c.metrics.to_numpy())
    assert (
        a.manifest["seed"] == 11 and a.manifest["draws"] == 3000 and a.manifest["sampler"] == "lhs"
    )


def test_sampled_correlation_matches_the_request() -> None:
    rng = np.random.default_rng(0)
    n, rho = 40_000, 0.7
    factor = check_correlation(["a", "b"], [("a", "b", rho)])
    u = correlate(uniforms(n, 2, "random", rng), factor)
    z = stats.norm.ppf(u)
    r = np.corrcoef(z.T)[0, 1]
    assert abs(r - rho) < 4 * (1 - rho**2) / np.sqrt(n)  # four standard errors


def test_lhs_is_stratified() -> None:
    u = uniforms(1000, 3, "lhs", np.random.default_rng(1))
    for j in range(3):
        assert np.array_equal(np.sort(np.floor(u[:, j] * 1000)), np.arange(1000.0))


@pytest.mark.parametrize(
    ("dist", "kw", "mean"),
    [
        ("normal", {"mean": 3.0, "sd": 2.0}, 3.0),
        ("uniform", {"low": 1.0, "high": 5.0}, 3.0),
        ("triangular", {"low": 0.0, "mode": 3.0, "high": 6.0}, 3.0),
        ("pert", {"low": 0.0, "mode": 1.0, "high": 10.0}, (0 + 4 * 1 + 10) / 6),
        ("lognormal", {"median": 2.0, "sigma": 0.5}, 2.0 * np.exp(0.125)),
        ("bernoulli", {"p": 0.3}, 0.3),
    ],
)
def test_marginals_have_their_means(write_yaml, dist: str, kw: dict, mean: float) -> None:  # type: ignore[no-untyped-def,type-arg]
    # an S-curve's midpoint (a decimal year) has no domain, so every marginal (a normal
    # too) may set it
    users = "{s_curve: {ceiling: 1, midpoint: 2026.5, rate: 1}, paying_share: 0.1, price: 1}"
    text = LINEAR.replace("revenue: {annual: {2026: 0}}", f"revenue: {{users: {users}}}")
    model = build(finmodel.load(write_yaml(text)))
    spec = spec_from(model, _u({"revenue.users.s_curve.midpoint": {"dist": dist, **kw}}))
    x = draw(spec, 20_000, 3, "lhs")[:, 0]
    assert x.mean() == pytest.approx(mean, rel=0.01, abs=0.005)


def test_need_quantile_bounds_are_worst_and_best_paths(linear) -> None:  # type: ignore[no-untyped-def]
    u = _u(
        {
            "opening.cash": {"dist": "uniform", "low": 0, "high": 12},
            "costs.staff.annual.2026": {"dist": "uniform", "low": 3, "high": 9},
        },
        draws=400,
        seed=5,
    )
    spec = spec_from(linear, u)
    x = draw(spec, 400, 5, "lhs")
    v = inputs_for(linear, spec, x)
    need = full(evaluate(linear, v)["funding_need_cumulative"], 400)
    at0, at1 = simulate(linear, u, alpha=0.0), simulate(linear, u, alpha=1.0)
    np.testing.assert_array_equal(at0.need_quantile.to_numpy(), need.max(axis=1))
    np.testing.assert_array_equal(at1.need_quantile.to_numpy(), need.min(axis=1))
    # the joint schedule: alpha = 0 covers every path (the worst in each month); alpha = 1
    # lets every path fall short, so nothing need be raised
    np.testing.assert_array_equal(at0.raise_schedule.to_numpy(), need.max(axis=1))
    np.testing.assert_array_equal(at1.raise_schedule.to_numpy(), np.zeros(12))
    mid = simulate(linear, u, alpha=0.1)
    conf = mid.need_quantile.to_numpy()
    assert np.all((need > conf[:, None]).mean(axis=1) <= 0.1)
    assert np.all(np.diff(conf) >= 0)
    # the closed form: a path's gap at year end is max(0, X - C)
    np.testing.assert_allclose(need[-1], np.maximum(0, x[:, 1] - x[:, 0]), atol=1e-12)
    p = mid.p_cash_out.to_numpy()
    assert np.all(np.diff(p) >= 0) and 0 <= p[0] <= p[-1] <= 1


def test_sobol_of_an_additive_model(linear) -> None:  # type: ignore[no-untyped-def]
    """trough = C - X with C ~ U(0, 12) and X ~ U(3, 9): S1 = ST = 144/180 and 36/180."""
    u = _u(
        {
            "opening.cash": {"dist": "uniform", "low": 0, "high": 12},
            "costs.staff.annual.2026": {"dist": "uniform", "low": 3, "high": 9},
        },
        seed=2,
    )
    r = sobol(linear, u, "trough_unfunded_cash", n_base=4096)
    s = r.indices
    for name, exact in (("opening.cash", 0.8), ("costs.staff.annual.2026", 0.2)):
        assert abs(s.loc[name, "S1"] - exact) < max(0.02, 2 * s.loc[name, "S1_conf"])
        assert abs(s.loc[name, "ST"] - exact) < max(0.02, 2 * s.loc[name, "ST_conf"])
    assert r.evaluations == 4096 * 4 and r.note is None


def test_sobol_notes_ignored_correlations(linear) -> None:  # type: ignore[no-untyped-def]
    u = _u(
        {
            "opening.cash": {"dist": "uniform", "low": 0, "high": 12},
            "costs.staff.annual.2026": {"dist": "uniform", "low": 3, "high": 9},
        },
        correlations=[{"a": "opening.cash", "b": "costs.staff.annual.2026", "rho": 0.5}],
    )
    assert "assume independent inputs" in (sobol(linear, u, "trough_unfunded_cash", 256).note or "")


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ([("a", "b", 1.5)], "expected a correlation in \\[-1, 1\\]"),
        ([("a", "z", 0.2)], "'z' is not one of the uncertain parameters"),
        ([("a", "a", 0.2)], "paired with itself"),
        ([("a", "b", 0.9), ("b", "c", 0.9), ("a", "c", -0.9)], "not positive semi-definite"),
    ],
)
def test_bad_correlations(pairs: list, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(AssumptionError, match=message):
        check_correlation(["a", "b", "c"], pairs)


def test_unknown_paths_list_the_nearest(linear) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AssumptionError, match=r"nearest: opening\.cash"):
        tornado(linear, "trough_unfunded_cash", [TornadoSpec("opening.cahs", 1, 2)])
    with pytest.raises(
        AssumptionError,
        match="metric: expected one of the known metrics, got 'fundng_gap'; nearest: funding_gap",
    ):
        parse_metric("fundng_gap", linear)


def test_monte_carlo_dates_rank_never_after_every_date() -> None:
    """HSBC's breakeven year is "never" on most paths: the median must then be "never", and
    the 5th percentile is the path at rank ceil(0.05 n) once the paths are sorted with
    "never" last (an independent sort of the same per-path values)."""
    mc = finmodel.simulate("hsbc-2025-11", n=400, seed=11)
    x = mc.metrics["breakeven_year"].to_numpy()
    never = np.isnan(x).mean()
    assert 0.5 < never < 1.0
    row = mc.summary().loc["breakeven_year"]
    assert np.isnan(row["p50"]) and np.isnan(row["mean"])
    ordered = sorted(x, key=lambda v: (np.isnan(v), v))
    assert row["p5"] == ordered[math.ceil(0.05 * len(x)) - 1]
    assert row["share_never"] == pytest.approx(never)
