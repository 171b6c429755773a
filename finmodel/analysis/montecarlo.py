"""Monte Carlo: correlated draws of the uncertain parameters, one batched pass in chunks.

The sample is drawn once from one generator (``numpy.random.default_rng(seed)``), so the
result does not depend on the chunk size used to evaluate it. Outputs:

* ``fan``: percentiles of unfunded cash per month;
* ``metrics``: the distribution of every scalar metric (one value per path), with
  ``dilution`` when the scenario has a ``valuation`` section;
* ``p_cash_out``: probability that cash has fallen below the buffer by each month;
* ``raise_schedule``: the cumulative amount ``R_t`` to have raised by month t so that, for
  every t, at most alpha of the paths fall below the buffer in any month through t (joint
  over the months; exact on the drawn paths; ``raise_schedule.joint_schedule``), with its
  annual view ``raise_by_year``;
* ``coverage``: how many paths breach that schedule on the drawn paths and on a second,
  independent sample (plain random draws from a child of the run's seed), with an exact
  binomial interval; and the same for the per-month quantile;
* ``need_quantile``: the per-month need quantile, NOT a joint guarantee: each month's own
  (1 - alpha) quantile of the paths' cumulative need ``N_t``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from finmodel import __version__
from finmodel.analysis import arguments as args
from finmodel.analysis.arguments import ModelLike
from finmodel.analysis.distributions import (
    SAMPLERS,
    Marginal,
    check_correlation,
    correlate,
    uniforms,
)
from finmodel.analysis.metrics import evaluate_metric, parse_metric
from finmodel.analysis.raise_schedule import (
    BreachCount,
    Coverage,
    allowed_breaches,
    breached,
    joint_schedule,
    need_quantile,
    round_up_float32,
)
from finmodel.analysis.sensitivity import Move, move
from finmodel.assumptions.params import allowed_range, apply, leaves_domain
from finmodel.assumptions.schema import Uncertainty
from finmodel.engine.evaluate import evaluate, evaluation_bytes, full
from finmodel.engine.model import Model
from finmodel.errors import ArgumentTypeError, AssumptionError, IdentityError
from finmodel.limits import check_memory

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
    for path, mv, m in zip(names, moves, marginals, strict=True):
        _check_support(model, path, mv, m)
    pairs = [(c.a, c.b, float(c.rho)) for c in u.correlations]
    factor = check_correlation(names, pairs) if pairs else None
    return Spec(names, moves, marginals, factor, bool(pairs))


def _check_support(model: Model, path: str, mv: Move, m: Marginal) -> None:
    """Every draw must keep the inputs it changes within their domains (a share in [0, 1],
    an amount >= 0): the ends of the distribution's support (``ppf`` at 0 and 1), applied
    to each input, must both be inside. A normal (or a lognormal, upwards) is unbounded: on
    a bounded input it needs ``low``/``high`` to truncate it, and the message says which."""
    lo, hi = (float(x) for x in m.ppf(np.array([0.0, 1.0])))
    a, b = allowed_range(model.params, mv.idx, mv.op)
    below, above = math.isinf(lo) and a > -math.inf, math.isinf(hi) and b < math.inf
    if below or above:
        raise AssumptionError(_unbounded(model, path, mv, m.dist, (a, b), below, above))
    for x, key, verb, bound in ((lo, "low", "raise", a), (hi, "high", "lower", b)):
        broken = leaves_domain(model.params, mv.idx, mv.op, x)
        if broken is not None:
            hint = ""
            if getattr(m, key) == x and math.isfinite(bound):  # the file's own bound
                value, open_end = _edge(model, mv, key, bound)
                to = ("above" if key == "low" else "below") if open_end else "to"
                hint = f"; {verb} `{key}` {to} {value}"
            raise AssumptionError(
                f"uncertainty.parameters.{path}: {broken[1]} for {broken[0]} at the "
                f"{key} end of the distribution ({mv.op} {x:g}){hint}"
            )


def _unbounded(
    model: Model,
    path: str,
    mv: Move,
    dist: str,
    ab: tuple[float, float],
    below: bool,
    above: bool,
) -> str:
    """The refusal of an unbounded distribution on a bounded input: which side it crosses,
    which input's domain it leaves, and the ``low``/``high`` to add (exact: the least and
    greatest value of the draw that keeps every input moved inside its domain)."""
    params = list(model.params)
    sides, adds, keep = [], [], []
    for side, key, bound, flag in (("below", "low", ab[0], below), ("above", "high", ab[1], above)):
        if not flag:
            continue
        sides.append(f"{side} {_num(bound)}")
        value, open_end = _edge(model, mv, key, bound)
        inside = "above" if key == "low" else "below"
        adds.append(f"a `{key}` {inside} {value}" if open_end else f"`{key}: {value}`")
        p = params[_binding(model, mv, key, bound)]
        assert p.domain is not None
        what = p.domain.problem(-math.inf if p.domain.lo is not None else math.inf)
        text = f"{p.path} {what.removeprefix('expected ').rsplit(', got ', 1)[0]}"
        if text not in keep:
            keep.append(text)
    draws = {"set": "values", "scale": "factors", "shift": "shifts"}[mv.op]
    lognormal_fits = ab[1] == math.inf and not leaves_domain(model.params, mv.idx, mv.op, 0.0)
    if dist == "normal" and lognormal_fits:
        alternative = ", or use lognormal"  # its support, (0, inf), fits
    elif math.isfinite(ab[0]) and math.isfinite(ab[1]):
        alternative = ", or use a bounded distribution (uniform, triangular, pert)"
    else:
        alternative = ""
    return (
        f"uncertainty.parameters.{path}: expected {draws} that keep {' and '.join(keep)}, "
        f"got a {dist}, which can go {' and '.join(sides)}; add "
        f"{' and '.join(adds)} to truncate it{alternative}"
    )


def _binding(model: Model, mv: Move, key: str, bound: float) -> int:
    """The input (its index) whose domain sets the draw's ``low`` or ``high`` bound."""
    side = 0 if key == "low" else 1
    return next(i for i in mv.idx if allowed_range(model.params, [i], mv.op)[side] == bound)


def _edge(model: Model, mv: Move, key: str, bound: float) -> tuple[str, bool]:
    """The ``low`` or ``high`` to write for the draw's bound ``bound``, and whether the domain
    excludes it (a growth rate > -1: the bound is then a limit, "above -1"). A bound the
    domain includes is returned as the nearest number that passes the domain check after
    the move (``0.3 x (1 / 0.3)`` may round above 1)."""
    p = list(model.params)[_binding(model, mv, key, bound)]
    assert p.domain is not None
    at_low = (key == "low") != (mv.op == "scale" and p.value < 0)
    edge = p.domain.lo if at_low else p.domain.hi
    if edge is not None and p.domain.problem(edge) is not None:
        return _num(bound), True
    inward = math.inf if key == "low" else -math.inf
    x = bound
    for _ in range(8):
        if leaves_domain(model.params, mv.idx, mv.op, x) is None:
            break
        x = math.nextafter(x, inward)
    return _num(x), False


def _num(x: float) -> str:
    """``x`` in the fewest digits that read back as ``x`` (a bound to copy into a file)."""
    short = f"{x:g}"
    return short if float(short) == x else repr(x)


def memory_needed(model: Model, p: int, n: int, nv: int, chunk: int) -> float:
    """Bytes :func:`simulate` holds at its peak, from the run's shape (T months, P uncertain
    parameters, n paths, nv validation paths):

    * the draws, 3 x (n + nv) x P x 8 (uniforms, correlated, values);
    * the stored paths of cash and need, plus the percentile's copy: 3 x T x n x d, with
      d = 8 bytes (float64) or 4 (float32 above ``STORE_FLOAT64_UP_TO``);
    * the per-path metrics, 16 x n x 8, and the breach flags;
    * one chunk's evaluation, :func:`~finmodel.engine.evaluate.evaluation_bytes`.
    """
    T = model.timeline.T
    d = 8 if 2 * T * n * 8 <= STORE_FLOAT64_UP_TO else 4
    draws = 3.0 * (n + nv) * p * 8
    paths = 3.0 * T * n * d
    metrics = 16.0 * n * 8 + 2.0 * n
    return draws + paths + metrics + evaluation_bytes(model, min(chunk, max(n, nv)))


def draw(spec: Spec, n: int, seed: int | np.random.SeedSequence, sampler: str) -> FloatArray:
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
    raise_schedule: pd.Series  # by month: cumulative R_t, joint over the months
    raise_by_year: pd.DataFrame  # by year: R at year end, new money that year, need quantile
    need_quantile: pd.Series  # by month: per-month (1 - alpha) quantile of N_t, not joint
    coverage: Coverage  # breaches on the drawn paths and on the validation sample
    manifest: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0  # run time; not in the manifest, so outputs are reproducible

    def summary(self) -> pd.DataFrame:
        """Distribution of every scalar metric: mean, sd, percentiles and the share of paths
        where a date never comes within the horizon.

        For the dates (``cash_out_month``, ``breakeven_year``) "never" ranks after every
        date: when some path never reaches the date, the percentiles are taken over all paths
        (by inverted CDF, so each is a date some path has) and are NaN ("never") where they
        fall among those paths, and the mean and sd are NaN. Otherwise percentiles
        interpolate linearly.
        """
        rows = {}
        for c in self.metrics.columns:
            x = self.metrics[c].to_numpy()
            ok = x[~np.isnan(x)]
            every = ok.size == x.size
            row = {
                "mean": ok.mean() if ok.size and every else np.nan,
                "sd": ok.std() if ok.size and every else np.nan,
            }
            ranked = np.where(np.isnan(x), np.inf, x)
            for p in PERCENTILES:
                if every:  # linear interpolation, as before
                    q = float(np.percentile(x, p)) if x.size else np.nan
                else:
                    q = float(np.percentile(ranked, p, method="inverted_cdf"))
                row[f"p{p}"] = q if math.isfinite(q) else np.nan
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
    validation_draws: int | None = None,
) -> MonteCarlo:
    """Run the Monte Carlo of ``model`` under ``u`` (default: the file's ``uncertainty``
    section); the other options override the section's values.

    The raise schedule is built on the ``n`` drawn paths, where at most a share ``alpha`` of
    them fall below the buffer in any month through t, for every t (exactly, by
    construction). It is then checked on ``validation_draws`` (default ``n``) further paths:
    plain random draws from ``numpy.random.SeedSequence(seed).spawn(1)[0]``, independent of
    the first sample, so the number that breach it is binomial and its interval is exact.
    ``progress(done, total)`` counts both samples' paths.

    >>> mc = simulate("hsbc-2025-11", n=500, seed=1)
    >>> mc.manifest["draws"], mc.raise_schedule.is_monotonic_increasing
    (500, True)
    >>> mc.coverage.drawn.breaches <= mc.coverage.allowed == 25
    True
    """
    model = args.model_like(model)
    u = args.uncertainty(u)
    if u is None:
        u = model.assumptions.uncertainty if model.assumptions is not None else None
        if u is None:
            raise AssumptionError(f"{model.scenario}: expected an 'uncertainty' section")
    # n from the file is checked by the schema; the others are arguments (the CLI's options)
    n_field = "uncertainty.draws" if n is None else "n"
    n = u.draws if n is None else args.count("n", n, noun="draw")
    seed = u.seed if seed is None else args.seed("seed", seed)
    sampler = u.sampler if sampler is None else args.choice("sampler", sampler, SAMPLERS)
    alpha = float(u.alpha) if alpha is None else args.probability("alpha", alpha)
    chunk = args.count("chunk", chunk)
    nv = n
    if validation_draws is not None:
        nv = args.count("validation_draws", validation_draws, 1, "draw")
    if progress is not None and not callable(progress):
        raise ArgumentTypeError(
            "progress", f"expected a function progress(done, total) or None, got {progress!r}"
        )
    if input_sha256 is not None and not isinstance(input_sha256, str):
        raise ArgumentTypeError(
            "input_sha256", f"expected the input file's SHA-256 as text, got {input_sha256!r}"
        )
    spec = spec_from(model, u)
    need_bytes = memory_needed(model, len(spec.names), n, nv, chunk)
    if evaluation_bytes(model, min(chunk, max(n, nv))) > need_bytes / 2:
        args.memory("chunk", need_bytes, chunk, "evaluate fewer paths at once")
    elif nv > n:
        args.memory("validation_draws", need_bytes, nv, "use fewer validation paths")
    if n_field == "n":
        args.memory("n", need_bytes, n, "use fewer paths")
    else:
        check_memory(need_bytes, n_field, n, "use fewer paths")
    t0 = time.perf_counter()
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
        n_t = full(items["funding_need_cumulative"], s)
        # float32 needs are rounded up, so a schedule covering them covers the exact needs
        need[:, sl] = n_t if dtype == np.float64 else round_up_float32(n_t)
        for mt in mets:
            out[mt.label][sl] = evaluate_metric(model, items, v, mt)
        if progress is not None:
            progress(sl.stop, n + nv)
    fan = pd.DataFrame(
        np.percentile(cash, PERCENTILES, axis=1).T,
        index=pd.Index(labels, name="month"),
        columns=[f"p{p}" for p in PERCENTILES],
    )
    del cash
    out_idx = out["cash_out_month"]
    months = np.arange(T)
    p_out = pd.Series([(out_idx <= t).mean() for t in months], index=labels, name="p_cash_out")
    month_index = pd.Index(labels, name="month")
    sched = joint_schedule(need, alpha)
    quant = need_quantile(need, alpha)
    drawn = BreachCount(int(breached(need, sched).sum()), n)
    drawn_q = BreachCount(int(breached(need, quant).sum()), n)
    if drawn.breaches > allowed_breaches(alpha, n):  # the construction's invariant, recounted
        raise IdentityError(
            f"raise schedule broken in scenario '{model.scenario}': {drawn.breaches} of {n} "
            f"paths fall below the buffer, more than the {allowed_breaches(alpha, n)} allowed"
        )
    del need
    child = np.random.SeedSequence(seed).spawn(1)[0]
    xv = draw(spec, nv, child, "random")
    hit, hit_q = 0, 0
    for lo in range(0, nv, chunk):
        sl = slice(lo, min(nv, lo + chunk))
        v = inputs_for(model, spec, xv[sl])
        n_t = full(evaluate(model, v)["funding_need_cumulative"], sl.stop - sl.start)
        hit += int(breached(n_t, sched).sum())
        hit_q += int(breached(n_t, quant).sum())
        if progress is not None:
            progress(n + sl.stop, n + nv)
    validation_seed = f"SeedSequence({seed}).spawn(1)[0]"
    coverage = Coverage(
        alpha,
        allowed_breaches(alpha, n),
        drawn,
        drawn_q,
        BreachCount(hit, nv),
        BreachCount(hit_q, nv),
        validation_seed,
        "random",
    )
    ends = [sl.stop - 1 for _, sl in model.timeline.year_slices()]
    by_year = pd.DataFrame(
        {
            "raise_by_year_end": sched[ends],
            "new_money_in_year": np.diff(sched[ends], prepend=0.0),
            "need_quantile_at_year_end": quant[ends],
        },
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
        "validation_draws": nv,
        "validation_seed": validation_seed,
        "validation_sampler": "random",
    }
    return MonteCarlo(
        pd.DataFrame(x, columns=spec.names),
        pd.DataFrame(out),
        fan,
        p_out,
        pd.Series(sched, index=month_index, name="raise_schedule"),
        by_year,
        pd.Series(quant, index=month_index, name="need_quantile"),
        coverage,
        manifest,
        round(time.perf_counter() - t0, 3),
    )
