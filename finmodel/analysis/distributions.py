"""Input distributions and correlated sampling (scipy.stats, Gaussian copula).

Every distribution is applied through its inverse CDF to uniforms in (0, 1), so plain
random, Latin hypercube and Sobol sequences all feed the same code; a normal or lognormal
may be truncated to ``[low, high]`` (still by its exact inverse CDF). Correlations act on
the normal scores (a Gaussian copula); the matrix is checked, never repaired.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats
from scipy.stats import qmc

from finmodel.errors import AssumptionError

FloatArray = NDArray[np.float64]


SAMPLERS = ("lhs", "random")
"""How the uniforms are drawn: Latin hypercube (scipy.stats.qmc) or plain random."""

TRUNCATABLE = ("normal", "lognormal")
"""The distributions whose support is unbounded on a side, which ``low``/``high`` truncate."""


@dataclass(frozen=True)
class Marginal:
    """One parameter's distribution. Fields by kind:

    normal(mean, sd; optional low, high), lognormal(median, sigma; optional low, high),
    triangular(low, mode, high), uniform(low, high), pert(low, mode, high; lamb = 4),
    bernoulli(p): 1 with probability p.

    For a normal or a lognormal, ``low``/``high`` truncate it (either may be None: no bound on
    that side): the draw is the parent distribution conditioned on ``[low, high]``, whose
    CDF is ``(F(x) - F(low)) / (F(high) - F(low))`` with ``F`` the parent's CDF. ``mean``
    and ``sd`` (``median`` and ``sigma``) stay the parent's parameters, so a truncated
    normal's own mean is ``mean + sd (phi(a) - phi(b)) / (Phi(b) - Phi(a))`` with
    ``a = (low - mean) / sd`` and ``b = (high - mean) / sd``.
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
        """Inverse CDF applied to uniforms ``u`` (exact for every kind, truncated ones
        included: the same ``u`` from the copula or a Sobol sequence gives the same rank)."""
        d = self.dist
        out: FloatArray
        if self.truncated:
            out = self._truncated(u)
        elif d == "normal":
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

    @property
    def truncated(self) -> bool:
        """A normal or lognormal with a ``low`` or ``high`` bound."""
        return self.dist in TRUNCATABLE and (self.low is not None or self.high is not None)

    def _truncated(self, u: FloatArray) -> FloatArray:
        """A normal, or a lognormal as ``exp`` of a normal (``mu = ln median``), truncated to
        ``[low, high]`` by scipy.stats.truncnorm's inverse CDF, which stays accurate far in the
        tails. The result is clipped to the bounds, so that rounding in
        ``loc + scale * z`` never puts a draw a hair outside them."""
        if self.dist == "normal":
            assert self.mean is not None and self.sd is not None
            loc, scale = self.mean, self.sd
            lo, hi = self.low, self.high
        else:
            assert self.median is not None and self.sigma is not None
            loc, scale = math.log(self.median), self.sigma
            lo = None if self.low is None or self.low <= 0.0 else math.log(self.low)
            hi = None if self.high is None else math.log(self.high)
        a = -np.inf if lo is None else (lo - loc) / scale
        b = np.inf if hi is None else (hi - loc) / scale
        z: FloatArray = stats.truncnorm.ppf(u, a, b, loc=loc, scale=scale)
        out: FloatArray = np.clip(z if self.dist == "normal" else np.exp(z), self.low, self.high)
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
        raise AssumptionError(f"sampler: expected 'lhs' or 'random', got {sampler!r}")
    return np.clip(u, 1e-12, 1.0 - 1e-12)


def correlate(u: FloatArray, factor: FloatArray | None) -> FloatArray:
    """Gaussian copula: normal scores z = Phi^-1(u), z L', back to uniforms."""
    if factor is None:
        return u
    z = stats.norm.ppf(u) @ factor.T
    out: FloatArray = stats.norm.cdf(z)
    return np.clip(out, 1e-12, 1.0 - 1e-12)
