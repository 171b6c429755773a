"""Monte Carlo: correlated draws of the uncertain parameters, one batched pass in chunks.

The sample is drawn once from one generator (``numpy.random.default_rng(seed)``), so the
result does not depend on the chunk size used to evaluate it. Outputs:

* ``fan``: percentiles of unfunded cash per month;
* ``metrics``: the distribution of every scalar metric (one value per path), with
  ``dilution`` when the scenario has a ``valuation`` section;
* ``p_cash_out``: probability that cash has fallen below the buffer by each month;
* ``need_at_confidence``: for each month t, the least amount a such that
  P(N_t > a) <= alpha, where N_t is a path's cumulative funding need. Raising a by month t
  keeps cash at or above the buffer through t on all but at most alpha of the paths. It is
  the empirical (1 - alpha) quantile of N_t (inverted CDF, no interpolation): alpha = 0 gives
  the worst path and alpha = 1 the best. Its monthly increments are the dated raise schedule.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from finmodel import __version__
from finmodel.analysis.distributions import Marginal, check_correlation, correlate, uniforms
from finmodel.analysis.metrics import evaluate_metric, parse_metric
from finmodel.analysis.sensitivity import Move, move
from finmodel.assumptions.params import apply
from finmodel.assumptions.schema import Uncertainty
from finmodel.engine.evaluate import evaluate, full
from finmodel.engine.model import Model, ModelLike, as_model
from finmodel.errors import AssumptionError

FloatArray = NDArray[np.float64]
PERCENTILES = (5, 25, 50, 75, 95)
STORE_FLOAT64_UP_TO = 400e6  # bytes; above this the per-month paths are kept as float32


@dataclass(frozen=True)
class Spec:
    """The uncertain parameters, ready to sample: moves, marginals, correlation factor."""

    names: list[str]
    moves: list[Move]
    marginals: list[Marginal]
    factor: FloatArray | None
    correlated: bool


def spec_from(model: Model, u: Uncertainty) -> Spec:
    names = list(u.parameters)
    moves, marginals = [], []
    for path, d in u.parameters.items():
        default = "scale" if d.dist == "bernoulli" else None
        try:
            moves.append(move(model, path, d.apply or default))
        except AssumptionError as e:
            raise AssumptionError(f"uncertainty.parameters.{e}") from None
        marginals.append(
            Marginal(
                d.dist,
                *(
                    None if (x := getattr(d, k)) is None else float(x)
                    for k in ("mean", "sd", "median", "sigma", "low", "mode", "high", "p")
                ),
            )
        )
    pairs = [(c.a, c.b, float(c.rho)) for c in u.correlations]
    factor = check_correlation(names, pairs) if pairs else None
    return Spec(names, moves, marginals, factor, bool(pairs))


def draw(spec: Spec, n: int, seed: int, sampler: str) -> FloatArray:
    """Parameter values, shape (n, P): uniforms -> copula -> inverse CDFs."""
    rng = np.random.default_rng(seed)
    u = correlate(uniforms(n, len(spec.names), sampler, rng), spec.factor)
    return np.column_stack([m.ppf(u[:, j]) for j, m in enumerate(spec.marginals)])


def inputs_for(model: Model, spec: Spec, x: FloatArray) -> FloatArray:
    """The engine's input matrix (n, K) for parameter draws ``x`` (n, P)."""
    v = np.repeat(model.params.vector()[None, :], x.shape[0], axis=0)
    for j, mv in enumerate(spec.moves):
        apply(v, mv.idx, mv.op, x[:, j])
    return v


@dataclass
class MonteCarlo:
    """A simulation's results (pandas) and its manifest."""

    draws: pd.DataFrame  # the sampled parameter values, one row per path
    metrics: pd.DataFrame  # one row per path, one column per scalar metric
    fan: pd.DataFrame  # months x percentiles of unfunded cash
    p_cash_out: pd.Series  # by month
    need_at_confidence: pd.Series  # by month
    raise_schedule: pd.DataFrame  # by year: raise by year end, new money that year
    manifest: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0  # run time; not in the manifest, so outputs are reproducible

    def summary(self) -> pd.DataFrame:
        """Distribution of every scalar metric: mean, sd and percentiles (NaN paths excluded),
        and the share of paths where the date never comes."""
        rows = {}
        for c in self.metrics.columns:
            x = self.metrics[c].to_numpy()
            ok = x[~np.isnan(x)]
            row = {"mean": ok.mean() if ok.size else np.nan, "sd": ok.std() if ok.size else np.nan}
            for p in PERCENTILES:
                row[f"p{p}"] = np.percentile(ok, p) if ok.size else np.nan
            row["share_never"] = 1.0 - ok.size / x.size
            rows[c] = row
        return pd.DataFrame.from_dict(rows, orient="index")


SCALARS = (
    "cash_out_month",
    "breakeven_year",
    "trough_unfunded_cash",
    "peak_funding_need",
    "stranded_compute_total",
)


def simulate(
    model: ModelLike,
    u: Uncertainty | None = None,
    n: int | None = None,
    seed: int | None = None,
    sampler: str | None = None,
    alpha: float | None = None,
    chunk: int = 5_000,
    progress: Callable[[int, int], None] | None = None,
    input_sha256: str | None = None,
) -> MonteCarlo:
    """Run the Monte Carlo of ``model`` under ``u`` (default: the file's ``uncertainty``
    section); the other options override the section's values.

    >>> mc = simulate("hsbc-2025-11", n=500, seed=1)
    >>> mc.manifest["draws"], mc.need_at_confidence.is_monotonic_increasing
    (500, True)
    """
    model = as_model(model)
    if u is None:
        u = model.assumptions.uncertainty if model.assumptions is not None else None
        if u is None:
            raise AssumptionError(f"{model.scenario}: expected an 'uncertainty' section")
    n = u.draws if n is None else n
    seed = u.seed if seed is None else seed
    sampler = u.sampler if sampler is None else sampler
    alpha = float(u.alpha if alpha is None else alpha)
    if n < 1:
        raise AssumptionError(f"-n: expected at least 1 draw, got {n}")
    if not 0.0 <= alpha <= 1.0:
        raise AssumptionError(f"--alpha: expected a probability in [0, 1], got {alpha}")
    if chunk < 1:
        raise AssumptionError(f"--chunk: expected at least 1, got {chunk}")
    t0 = time.perf_counter()
    spec = spec_from(model, u)
    x = draw(spec, n, seed, sampler)
    T, labels, years = model.timeline.T, model.timeline.labels, model.timeline.years
    dtype = np.float64 if 2 * T * n * 8 <= STORE_FLOAT64_UP_TO else np.float32
    cash = np.empty((T, n), dtype=dtype)
    need = np.empty((T, n), dtype=dtype)
    names = [*SCALARS, f"funding_gap.{years[-1]}"]
    if model.assumptions is not None and model.assumptions.valuation is not None:
        names.append("dilution")  # each path's equity issues, priced as in a single run
    mets = [parse_metric(m, model) for m in names]
    out = {m.label: np.empty(n) for m in mets}
    for lo in range(0, n, chunk):
        sl = slice(lo, min(n, lo + chunk))
        v = inputs_for(model, spec, x[sl])
        items = evaluate(model, v)
        s = sl.stop - sl.start
        cash[:, sl] = full(items["cash_unfunded"], s)
        need[:, sl] = full(items["funding_need_cumulative"], s)
        for m in mets:
            out[m.label][sl] = evaluate_metric(model, items, v, m)
        if progress is not None:
            progress(sl.stop, n)
    fan = pd.DataFrame(
        np.percentile(cash, PERCENTILES, axis=1).T,
        index=pd.Index(labels, name="month"),
        columns=[f"p{p}" for p in PERCENTILES],
    )
    out_idx = out["cash_out_month"]
    months = np.arange(T)
    p_out = pd.Series([(out_idx <= t).mean() for t in months], index=labels, name="p_cash_out")
    conf = np.quantile(need, 1.0 - alpha, axis=1, method="inverted_cdf").astype(np.float64)
    need_conf = pd.Series(conf, index=pd.Index(labels, name="month"), name="need_at_confidence")
    ends = [sl.stop - 1 for _, sl in model.timeline.year_slices()]
    by_year = conf[ends]
    sched = pd.DataFrame(
        {"raise_by_year_end": by_year, "new_money_in_year": np.diff(by_year, prepend=0.0)},
        index=pd.Index(years, name="year"),
    )
    manifest = {
        "scenario": model.scenario,
        "finmodel_version": __version__,
        "input_sha256": input_sha256,
        "seed": seed,
        "draws": n,
        "sampler": sampler,
        "alpha": alpha,
        "chunk": chunk,
        "parameters": ", ".join(spec.names),
        "correlated": spec.correlated,
        "paths_stored_as": np.dtype(dtype).name,
    }
    return MonteCarlo(
        pd.DataFrame(x, columns=spec.names),
        pd.DataFrame(out),
        fan,
        p_out,
        need_conf,
        sched,
        manifest,
        round(time.perf_counter() - t0, 3),
    )
