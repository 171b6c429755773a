"""Truncated normal and lognormal marginals: moments against closed forms, exact bounds, the
inverse CDF against the truncated CDF, and the copula and Sobol paths that feed them.

Reference values are the textbook closed forms (Johnson, Kotz & Balakrishnan, *Continuous
Univariate Distributions* vol. 1, ch. 13 and 14), written here with ``math.erf`` only, and
checked against scipy.stats.truncnorm.stats as a second, independent source.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from typer.testing import CliRunner

import finmodel
from finmodel.analysis.distributions import Marginal
from finmodel.analysis.montecarlo import draw, simulate, spec_from
from finmodel.analysis.sobol import sobol
from finmodel.assumptions.schema import Uncertainty
from finmodel.cli import app
from finmodel.engine.model import build
from finmodel.errors import AssumptionError

# 12 months, no revenue, staff X a year, opening cash C, no tax, no buffer:
# trough unfunded cash = C - X (as in test_analysis).
LINEAR = """
name: Linear
company: L
start: 2026-01
end: 2026-12
opening: {cash: 10}
revenue: {annual: {2026: 0}}
costs:
  staff: {annual: {2026: 6}}
  cost_of_revenue: {share_of_revenue: 0.3}
"""


def phi(x: float) -> float:
    """Standard normal density (0 at +/- inf)."""
    return 0.0 if math.isinf(x) else math.exp(-x * x / 2) / math.sqrt(2 * math.pi)


def Phi(x: float) -> float:
    """Standard normal CDF, from math.erf."""
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def truncnorm_moments(mu: float, sd: float, lo: float, hi: float) -> tuple[float, float]:
    """Mean and variance of N(mu, sd^2) truncated to [lo, hi] (textbook closed form):
    a = (lo - mu)/sd, b = (hi - mu)/sd, Z = Phi(b) - Phi(a),
    mean = mu + sd (phi(a) - phi(b)) / Z,
    var = sd^2 [1 + (a phi(a) - b phi(b)) / Z - ((phi(a) - phi(b)) / Z)^2]."""
    a, b = (lo - mu) / sd, (hi - mu) / sd
    z = Phi(b) - Phi(a)
    aphi = 0.0 if math.isinf(a) else a * phi(a)
    bphi = 0.0 if math.isinf(b) else b * phi(b)
    d = (phi(a) - phi(b)) / z
    return mu + sd * d, sd * sd * (1 + (aphi - bphi) / z - d * d)


def trunclognorm_mean(median: float, sigma: float, lo: float, hi: float) -> float:
    """E[X | lo <= X <= hi] for ln X ~ N(mu, sigma^2), mu = ln median (closed form):
    exp(mu + sigma^2/2) [Phi(B - sigma) - Phi(A - sigma)] / [Phi(B) - Phi(A)],
    A = (ln lo - mu)/sigma, B = (ln hi - mu)/sigma."""
    mu = math.log(median)
    a = -math.inf if lo <= 0 else (math.log(lo) - mu) / sigma
    b = math.inf if math.isinf(hi) else (math.log(hi) - mu) / sigma
    return math.exp(mu + sigma**2 / 2) * (Phi(b - sigma) - Phi(a - sigma)) / (Phi(b) - Phi(a))


CASES = [
    (0.3, 0.1, 0.0, math.inf),  # a share's normal cut at 0: 3 sd away, barely touched
    (0.05, 0.1, 0.0, 1.0),  # the mean half an sd from the cut: the cut moves the mean
    (25.0, 10.0, 0.0, 30.0),  # two-sided, asymmetric
    (-1.0, 1.0, 0.0, math.inf),  # the mean outside the window: the tail beyond 1 sd
    (0.0, 1.0, 4.0, 6.0),  # far in the tail: the window holds 3e-5 of the parent
]


@pytest.mark.parametrize(("mu", "sd", "lo", "hi"), CASES)
def test_truncated_normal_moments(mu: float, sd: float, lo: float, hi: float) -> None:
    mean, var = truncnorm_moments(mu, sd, lo, hi)
    # two independent references agree: the textbook formula and scipy's own moments
    a, b = (lo - mu) / sd, (hi - mu) / sd
    m_sp, v_sp = stats.truncnorm.stats(a, b, loc=mu, scale=sd, moments="mv")
    assert mean == pytest.approx(float(m_sp), rel=1e-9, abs=1e-12)
    assert var == pytest.approx(float(v_sp), rel=1e-6)
    m = Marginal("normal", mean=mu, sd=sd, low=lo, high=None if math.isinf(hi) else hi)
    n = 1_000_000
    x = m.ppf(np.random.default_rng(5).random(n))
    # sample moments within 5 standard errors (a false failure about once in 10^6 runs);
    # the variance's standard error from the fourth central moment, scipy's kurtosis
    kurt = float(stats.truncnorm.stats(a, b, moments="k"))
    se_mean = math.sqrt(var / n)
    se_var = math.sqrt((kurt + 2) * var * var / n)  # (mu4 - var^2)/n, mu4 = (kurt + 3) var^2
    assert abs(x.mean() - mean) < 5 * se_mean
    assert abs(x.var() - var) < 5 * se_var
    assert x.min() >= lo and x.max() <= hi


@pytest.mark.parametrize(("mu", "sd", "lo", "hi"), CASES)
def test_truncated_normal_ppf_inverts_the_truncated_cdf(
    mu: float, sd: float, lo: float, hi: float
) -> None:
    """F(x) = (Phi((x - mu)/sd) - Phi(a)) / (Phi(b) - Phi(a)) brings every draw back to its u."""
    u = np.linspace(0.01, 0.99, 99)
    m = Marginal("normal", mean=mu, sd=sd, low=lo, high=None if math.isinf(hi) else hi)
    x = m.ppf(u)
    a, b = (lo - mu) / sd, (hi - mu) / sd
    back = [(Phi((xi - mu) / sd) - Phi(a)) / (Phi(b) - Phi(a)) for xi in x]
    # erf loses relative precision far in the tail, where Phi(b) - Phi(a) is 3e-5
    np.testing.assert_allclose(back, u, atol=1e-9 if Phi(b) - Phi(a) > 1e-3 else 1e-6)
    assert np.all(np.diff(x) > 0)


def test_bounds_are_respected_exactly() -> None:
    """At the ends of the uniforms (0, the clipped 1e-12, 1) the draw is the bound itself or
    inside; a bound the parent's loc + scale * z would miss by rounding is clipped."""
    u = np.array([0.0, 1e-12, 1e-6, 0.5, 1 - 1e-12, 1.0])
    for mu, sd, lo, hi in ((0.3, 0.1, 0.0, 1.0), (0.7, 0.3, 0.1, 0.9), (1e3, 7.0, 990.0, 1e9)):
        x = Marginal("normal", mean=mu, sd=sd, low=lo, high=hi).ppf(u)
        assert x[0] == lo and x[-1] == hi
        assert np.all((x >= lo) & (x <= hi))
    one_sided = Marginal("normal", mean=0.3, sd=0.1, low=0.0).ppf(u)
    assert one_sided[0] == 0.0 and one_sided[-1] == math.inf and np.all(one_sided >= 0.0)
    below = Marginal("normal", mean=0.3, sd=0.1, high=0.35).ppf(u)
    assert below[0] == -math.inf and below[-1] == 0.35 and np.all(below <= 0.35)
    lg = Marginal("lognormal", median=0.3, sigma=0.5, high=1.0).ppf(u)
    assert lg[0] == 0.0 and lg[-1] == 1.0 and np.all((lg >= 0) & (lg <= 1.0))


def test_untruncated_normal_is_unchanged() -> None:
    """No bounds: exactly scipy.stats.norm.ppf, as before truncation existed."""
    u = np.random.default_rng(1).random(1000)
    x = Marginal("normal", mean=3.0, sd=2.0).ppf(u)
    np.testing.assert_array_equal(x, stats.norm.ppf(u, loc=3.0, scale=2.0))


@pytest.mark.parametrize(("median", "sigma", "lo", "hi"), [(0.3, 0.5, 0.0, 1.0), (2, 1, 1, 5)])
def test_truncated_lognormal_mean(median: float, sigma: float, lo: float, hi: float) -> None:
    m = Marginal("lognormal", median=median, sigma=sigma, low=lo, high=hi)
    n = 1_000_000
    x = m.ppf(np.random.default_rng(2).random(n))
    mean = trunclognorm_mean(median, sigma, lo, hi)
    # a second reference: scipy's lognormal, truncated by numerical integration
    ref = stats.lognorm(s=sigma, scale=median).expect(lambda t: t, lb=lo, ub=hi, conditional=True)
    assert mean == pytest.approx(ref, rel=1e-7)
    assert abs(x.mean() - mean) < 5 * x.std() / math.sqrt(n)
    assert x.min() >= lo and x.max() <= hi


def _u(params: dict, **kw) -> Uncertainty:  # type: ignore[type-arg]
    return Uncertainty.model_validate({"parameters": params, **kw})


def test_copula_keeps_the_rank_correlation(write_yaml: Callable[..., Path]) -> None:
    """A Gaussian copula with rho has Spearman's rank correlation (6 / pi) asin(rho / 2),
    whatever the marginals (each is a monotone map of its normal score): truncation keeps
    it. The truncated marginal keeps its closed-form mean."""
    model = build(finmodel.load(write_yaml(LINEAR)))
    rho = 0.6
    u = _u(
        {
            "opening.cash": {"dist": "normal", "mean": 2.0, "sd": 4.0, "low": 0},
            "costs.staff.annual.2026": {"dist": "lognormal", "median": 6, "sigma": 0.3},
        },
        correlations=[{"a": "opening.cash", "b": "costs.staff.annual.2026", "rho": rho}],
    )
    n = 40_000
    x = draw(spec_from(model, u), n, 9, "random")
    r_s = stats.spearmanr(x[:, 0], x[:, 1]).statistic
    # the standard error of Spearman's rho is about (1 - r^2) / sqrt(n): 0.003 here
    assert abs(r_s - 6 / math.pi * math.asin(rho / 2)) < 0.02
    assert x[:, 0].min() >= 0.0
    mean, var = truncnorm_moments(2.0, 4.0, 0.0, math.inf)
    assert abs(x[:, 0].mean() - mean) < 5 * math.sqrt(var / n)
    mc = simulate(model, u, n=2000, seed=4)  # the whole Monte Carlo runs on it
    assert mc.draws["opening.cash"].min() >= 0.0
    np.testing.assert_allclose(
        mc.metrics["trough_unfunded_cash"],
        mc.draws["opening.cash"] - mc.draws["costs.staff.annual.2026"],
        atol=1e-9,
    )


def test_sobol_of_an_additive_model_with_truncated_normals(
    write_yaml: Callable[..., Path],
) -> None:
    """trough = C - X with independent C, X: S1 = ST = Var(C) / (Var(C) + Var(X)), the
    variances of the truncated normals from the closed form."""
    model = build(finmodel.load(write_yaml(LINEAR)))
    u = _u(
        {
            "opening.cash": {"dist": "normal", "mean": 1.0, "sd": 6.0, "low": 0},
            "costs.staff.annual.2026": {"dist": "normal", "mean": 6, "sd": 2, "low": 3, "high": 8},
        },
        seed=3,
    )
    _, vc = truncnorm_moments(1.0, 6.0, 0.0, math.inf)
    _, vx = truncnorm_moments(6.0, 2.0, 3.0, 8.0)
    r = sobol(model, u, "trough_unfunded_cash", n_base=4096)
    s = r.indices
    for name, exact in (
        ("opening.cash", vc / (vc + vx)),
        ("costs.staff.annual.2026", vx / (vc + vx)),
    ):
        assert abs(s.loc[name, "S1"] - exact) < max(0.02, 2 * s.loc[name, "S1_conf"])
        assert abs(s.loc[name, "ST"] - exact) < max(0.02, 2 * s.loc[name, "ST_conf"])


# --- refusals: what to add, in the file's terms -------------------------------------------


def _refusal(write_yaml: Callable[..., Path], line: str) -> str:
    path = write_yaml(LINEAR + f"uncertainty:\n  parameters:\n    {line}\n")
    with pytest.raises(AssumptionError) as e:
        finmodel.load(path)
    return str(e.value)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "opening.cash: {dist: normal, mean: 10, sd: 3}",
            "uncertainty.parameters.opening.cash: expected values that keep opening.cash an "
            "amount >= 0, got a normal, which can go below 0; add `low: 0` to truncate it, or "
            "use lognormal",
        ),
        (
            "costs.staff: {dist: normal, mean: 1, sd: 0.2, apply: scale}",
            "uncertainty.parameters.costs.staff: expected factors that keep "
            "costs.staff.annual.2026 an amount >= 0, got a normal, which can go below 0; add "
            "`low: 0` to truncate it, or use lognormal",
        ),
        (
            # a shift of -6 takes the 6 of staff cost to 0: the least shift
            "costs.staff: {dist: normal, mean: 0, sd: 1, apply: shift}",
            "expected shifts that keep costs.staff.annual.2026 an amount >= 0, got a normal, "
            "which can go below -6; add `low: -6` to truncate it, or use lognormal",
        ),
        (
            "costs.cost_of_revenue: {dist: normal, mean: 0.3, sd: 0.05}",
            "which can go below 0 and above 1; add `low: 0` and `high: 1` to truncate it, or use "
            "a bounded distribution (uniform, triangular, pert)",
        ),
        (
            "costs.cost_of_revenue: {dist: normal, mean: 0.3, sd: 0.05, low: 0}",
            "got a normal, which can go above 1; add `high: 1` to truncate it",
        ),
        (
            # a lognormal is > 0 but unbounded above: a share needs `high`
            "costs.cost_of_revenue: {dist: lognormal, median: 0.3, sigma: 0.2}",
            "got a lognormal, which can go above 1; add `high: 1` to truncate it, or use a "
            "bounded distribution (uniform, triangular, pert)",
        ),
        (
            # scaled, a share of 0.3 stays a share up to a factor 1 / 0.3: a number that,
            # written back, passes (0.3 x 3.3333333333333335 = 1.0 exactly in float64)
            "costs.cost_of_revenue: {dist: lognormal, median: 1, sigma: 0.2, apply: scale}",
            "add `high: 3.3333333333333335` to truncate it",
        ),
        (
            "opening.cash: {dist: normal, mean: 10, sd: 3, low: -2}",
            "expected an amount >= 0, got -2 for opening.cash at the low end of the "
            "distribution (set -2); raise `low` to 0",
        ),
        (
            "costs.cost_of_revenue: {dist: normal, mean: 0.3, sd: 0.1, low: 0, high: 1.2}",
            "at the high end of the distribution (set 1.2); lower `high` to 1",
        ),
        (
            "opening.cash: {dist: lognormal, median: 10, sigma: 0.3, low: -1}",
            "uncertainty.parameters.opening.cash.low: expected a bound >= 0 for a lognormal "
            "(> 0), got -1",
        ),
        (
            "opening.cash: {dist: normal, mean: 10, sd: 3, low: 5, high: 4}",
            "expected low < high, got low 5 and high 4",
        ),
        (
            "opening.cash: {dist: normal, mean: 10, sd: 3, low: 0, mode: 4}",
            "mode: expected only mean, sd (and optionally low, high) for normal, got mode",
        ),
        (
            "opening.cash: {dist: triangular, low: 0, mode: 3, high: 9, sd: 1}",
            "sd: expected only low, mode, high for triangular, got sd",
        ),
    ],
)
def test_refusals_say_what_to_add(write_yaml: Callable[..., Path], line: str, message: str) -> None:
    text = _refusal(write_yaml, line)
    assert message in text, text
    assert "scenario.yaml:" in text  # located in the file


def test_the_suggested_bounds_are_accepted(write_yaml: Callable[..., Path]) -> None:
    """Writing the suggestion back is accepted, the scaled share's odd factor included."""
    for line in (
        "opening.cash: {dist: normal, mean: 10, sd: 3, low: 0}",
        "costs.cost_of_revenue: {dist: normal, mean: 0.3, sd: 0.05, low: 0, high: 1}",
        "costs.cost_of_revenue: {dist: lognormal, median: 0.3, sigma: 0.2, high: 1}",
        "costs.cost_of_revenue: {dist: lognormal, median: 1, sigma: 0.2, apply: scale, "
        "high: 3.3333333333333335}",
        "costs.staff: {dist: normal, mean: 0, sd: 1, apply: shift, low: -6}",
    ):
        a = finmodel.load(write_yaml(LINEAR + f"uncertainty:\n  parameters:\n    {line}\n"))
        assert a.uncertainty is not None


def test_an_open_bound_is_a_limit(write_yaml: Callable[..., Path]) -> None:
    """A discount rate is > -1: -1 itself cannot be the bound, and the message says "above"."""
    text = LINEAR + (
        "valuation: {date: 2026-06, discount_rate: 0.12,\n"
        "  terminal: {method: growth, growth: 0.02}}\n"
        "uncertainty:\n  parameters:\n"
        "    valuation.discount_rate: {dist: normal, mean: 0.12, sd: 0.02"
    )
    with pytest.raises(AssumptionError) as e:
        finmodel.load(write_yaml(text + "}\n"))
    assert "add a `low` above -1 and `high: 1` to truncate it" in str(e.value)
    with pytest.raises(AssumptionError) as e:
        finmodel.load(write_yaml(text + ", low: -1, high: 1}\n"))
    assert "raise `low` above -1" in str(e.value)
    finmodel.load(write_yaml(text + ", low: -0.5, high: 1}\n"))


def test_cli_simulates_a_truncated_normal(write_yaml: Callable[..., Path]) -> None:
    path = write_yaml(
        LINEAR + "uncertainty:\n  draws: 500\n  parameters:\n"
        "    opening.cash: {dist: normal, mean: 2, sd: 4, low: 0}\n"
    )
    r = CliRunner().invoke(app, ["simulate", str(path), "--json", "--no-workbook"])
    assert r.exit_code == 0, r.output
