"""Input distributions and correlated sampling (scipy.stats, Gaussian copula).

Every distribution is applied through its inverse CDF to uniforms in (0, 1), so plain
random, Latin hypercube and Sobol sequences all feed the same code. Correlations act on
the normal scores (a Gaussian copula); the matrix is checked, never repaired.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats
from scipy.stats import qmc

from finmodel.errors import AssumptionError

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Marginal:
    """One parameter's distribution. Fields by kind:

    normal(mean, sd), lognormal(median, sigma), triangular(low, mode, high),
    uniform(low, high), pert(low, mode, high; lamb = 4), bernoulli(p): 1 with probability p.
    """

    dist: str
    mean: float | None = None
    sd: float | None = None
    median: float | None = None
    sigma: float | None = None
    low: float | None = None
    mode: float | None = None
    high: float | None = None
    p: float | None = None

    def ppf(self, u: FloatArray) -> FloatArray:
        """Inverse CDF applied to uniforms ``u``."""
        d = self.dist
        out: FloatArray
        if d == "normal":
            out = stats.norm.ppf(u, loc=self.mean, scale=self.sd)
        elif d == "lognormal":
            out = stats.lognorm.ppf(u, s=self.sigma, scale=self.median)
        elif d == "uniform":
            assert self.low is not None and self.high is not None
            out = self.low + (self.high - self.low) * u
        elif d == "triangular":
            lo, mo, hi = self._three()
            out = stats.triang.ppf(u, c=(mo - lo) / (hi - lo), loc=lo, scale=hi - lo)
        elif d == "pert":
            lo, mo, hi = self._three()
            a = 1 + 4 * (mo - lo) / (hi - lo)
            b = 1 + 4 * (hi - mo) / (hi - lo)
            out = stats.beta.ppf(u, a, b, loc=lo, scale=hi - lo)
        else:
            assert self.p is not None
            out = (u > 1.0 - self.p).astype(np.float64)
        return out

    def _three(self) -> tuple[float, float, float]:
        assert self.low is not None and self.mode is not None and self.high is not None
        return self.low, self.mode, self.high


def check_correlation(names: list[str], pairs: list[tuple[str, str, float]]) -> FloatArray:
    """Build the correlation matrix from pairs; check it and return a factor L with L L' = C."""
    k = len(names)
    c = np.eye(k)
    pos = {n: i for i, n in enumerate(names)}
    for a, b, rho in pairs:
        for n in (a, b):
            if n not in pos:
                raise AssumptionError(
                    f"uncertainty.correlations: {n!r} is not one of the uncertain parameters "
                    f"({', '.join(names)})"
                )
        if a == b:
            raise AssumptionError(f"uncertainty.correlations: {a!r} paired with itself")
        if not -1.0 <= rho <= 1.0:
            raise AssumptionError(
                f"uncertainty.correlations: expected a correlation in [-1, 1] for {a} and {b}, "
                f"got {rho}"
            )
        if c[pos[a], pos[b]] != 0.0:
            raise AssumptionError(f"uncertainty.correlations: {a} and {b} given twice")
        c[pos[a], pos[b]] = c[pos[b], pos[a]] = rho
    w, v = np.linalg.eigh(c)
    if w.min() < -1e-10:
        raise AssumptionError(
            "uncertainty.correlations: the correlation matrix is not positive semi-definite "
            f"(smallest eigenvalue {w.min():.4g}); finmodel never repairs a matrix, so "
            "change the correlations"
        )
    factor: FloatArray = v * np.sqrt(np.clip(w, 0.0, None))
    return factor


def uniforms(n: int, k: int, sampler: str, rng: np.random.Generator) -> FloatArray:
    """``n`` points in (0, 1)^k: ``random`` or ``lhs`` (Latin hypercube, scipy.stats.qmc)."""
    if sampler == "random":
        u = rng.random((n, k))
    elif sampler == "lhs":
        u = qmc.LatinHypercube(d=k, rng=rng).random(n)
    else:
        raise AssumptionError(f"sampler: expected 'random' or 'lhs', got {sampler!r}")
    return np.clip(u, 1e-12, 1.0 - 1e-12)


def correlate(u: FloatArray, factor: FloatArray | None) -> FloatArray:
    """Gaussian copula: normal scores z = Phi^-1(u), z L', back to uniforms."""
    if factor is None:
        return u
    z = stats.norm.ppf(u) @ factor.T
    out: FloatArray = stats.norm.cdf(z)
    return np.clip(out, 1e-12, 1.0 - 1e-12)
