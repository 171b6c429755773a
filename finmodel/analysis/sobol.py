"""Global sensitivity: Sobol first-order and total indices (SALib) for a scalar metric.

Points come from SALib's Sobol sampler on the unit cube and go through each parameter's
inverse CDF (the same marginals as the Monte Carlo). The indices assume independent inputs;
when the file correlates parameters the result says so, and the correlations are ignored.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from finmodel.analysis import arguments as args
from finmodel.analysis.arguments import ModelLike
from finmodel.analysis.metrics import Metric
from finmodel.analysis.montecarlo import inputs_for, spec_from
from finmodel.analysis.sensitivity import CHUNK, _never, batch_metric
from finmodel.assumptions.schema import Uncertainty
from finmodel.engine.evaluate import evaluation_bytes
from finmodel.errors import ArgumentError, ArgumentTypeError, AssumptionError

RESAMPLES = 100
"""SALib's default bootstrap resamples for the confidence intervals."""


@dataclass
class SobolResult:
    indices: pd.DataFrame  # parameter x (S1, S1_conf, ST, ST_conf)
    metric: str
    evaluations: int
    note: str | None


def sobol(
    model: ModelLike,
    uncertainty: Uncertainty | None,
    metric: str | Metric,
    n_base: int = 1024,
    seed: int | None = None,
) -> SobolResult:
    """Sobol indices of ``metric`` over the uncertain parameters of ``uncertainty`` (an
    ``uncertainty:`` section; None for the scenario's own).

    ``n_base`` (a power of 2) gives n_base x (P + 2) evaluations, all in one batched pass.
    """
    model = args.model_like(model)
    u = args.uncertainty(uncertainty, "uncertainty")
    if u is None:
        u = model.assumptions.uncertainty if model.assumptions is not None else None
        if u is None:
            raise AssumptionError(f"{model.scenario}: expected an 'uncertainty' section")
    from SALib.analyze import sobol as analyze
    from SALib.sample import sobol as sample

    if isinstance(n_base, bool) or not isinstance(n_base, int | np.integer):
        raise ArgumentTypeError("n_base", f"expected a power of 2 (>= 2), got {n_base!r}")
    if n_base < 2 or n_base & (n_base - 1):
        raise ArgumentError("n_base", f"expected a power of 2 (>= 2), got {n_base}")
    s = u.seed if seed is None else args.seed("seed", seed)
    met = args.metric(metric, model)
    spec = spec_from(model, u)
    p = len(spec.names)
    if p < 2:
        raise AssumptionError("uncertainty.parameters: Sobol indices need at least 2 parameters")
    n_eval = n_base * (p + 2)
    need = (
        n_eval * (3 * p + len(model.params) + 2) * 8.0  # unit, clipped, values; inputs; metric
        + n_base * RESAMPLES * 8.0 * 4  # SALib's bootstrap of the confidence intervals
        + evaluation_bytes(model, min(CHUNK, n_eval))
    )
    args.memory("n_base", need, n_base, f"use a smaller base sample ({n_eval:,} evaluations asked)")
    problem = {"num_vars": p, "names": spec.names, "bounds": [[0.0, 1.0]] * p}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SALib warns about the sequence's balance properties
        unit = sample.sample(problem, n_base, calc_second_order=False, seed=s)
    unit = np.clip(unit, 1e-12, 1 - 1e-12)
    x = np.column_stack([m.ppf(unit[:, j]) for j, m in enumerate(spec.marginals)])
    y = batch_metric(model, inputs_for(model, spec, x), met)
    y = np.where(np.isnan(y), _never(model, met), y)
    if np.ptp(y) == 0.0:
        raise AssumptionError(
            f"{met.label} does not change over the uncertain parameters; no indices to compute"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        si = analyze.analyze(problem, y, calc_second_order=False, seed=s)
    df = pd.DataFrame(
        {"S1": si["S1"], "S1_conf": si["S1_conf"], "ST": si["ST"], "ST_conf": si["ST_conf"]},
        index=pd.Index(spec.names, name="parameter"),
    ).sort_values("ST", ascending=False)
    note = (
        "The indices assume independent inputs; the file's correlations were ignored here."
        if spec.correlated
        else None
    )
    return SobolResult(df, met.label, int(y.size), note)
