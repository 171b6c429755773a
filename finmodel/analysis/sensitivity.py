"""Tornado and two-way grids: one batch of scenarios, one vectorised pass.

Each parameter is a parameter path (``revenue.annual.2027``, ``costs.compute.annual``). A path
naming one input is moved by ``set`` (the values are inputs); a path naming several (a whole
year path) is moved by ``scale`` (the values are factors), unless ``op`` says otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from finmodel.analysis import arguments as args
from finmodel.analysis.arguments import ModelLike
from finmodel.analysis.metrics import Metric, evaluate_metric
from finmodel.assumptions.params import OPS, allowed_range, apply, leaves_domain, resolve
from finmodel.engine.evaluate import evaluate_chunks, evaluation_bytes
from finmodel.engine.model import Model
from finmodel.errors import ArgumentError, ArgumentTypeError, AssumptionError
from finmodel.limits import check_memory

FloatArray = NDArray[np.float64]
CHUNK = 5_000


@dataclass(frozen=True)
class Move:
    """How a parameter is moved: the inputs it names, the operation, the path."""

    path: str
    idx: list[int]
    op: str


def move(model: Model, path: str, op: str | None = None) -> Move:
    """Resolve ``path``; the default operation is ``set`` for one input, ``scale`` for many.

    An error starts with the path (``revenue.anual: expected a parameter path of this
    scenario, got 'revenue.anual'; nearest: revenue.annual``); :func:`move_of` names the
    argument instead."""

    def bad(why: str) -> AssumptionError:
        return AssumptionError(f"{path}: {why}")

    return _move(model, path, op, bad, bad)


def move_of(model: Model, path: str, op: str | None, argument: str, op_argument: str) -> Move:
    """:func:`move` for a function's arguments: a path that names no input is an
    :class:`~finmodel.errors.ArgumentError` about ``argument``, a ``set`` of several inputs
    one about ``op_argument``.

    >>> from finmodel.assumptions import load
    >>> from finmodel.engine.model import build
    >>> move_of(build(load("bear")), "opening.csh", None, "vary", "op")
    Traceback (most recent call last):
    finmodel.errors.ArgumentError: vary: expected a parameter path of this scenario, got \
'opening.csh'; nearest: opening.cash, opening, opening.debt, opening.tax_losses
    """

    def bad(name: str) -> Callable[[str], ArgumentError]:
        return lambda why: ArgumentError(name, why)

    return _move(model, path, op, bad(argument), bad(op_argument))


def _move(
    model: Model,
    path: str,
    op: str | None,
    bad_path: Callable[[str], AssumptionError],
    bad_op: Callable[[str], AssumptionError],
) -> Move:
    try:
        idx = resolve(model.params, path)
    except AssumptionError as e:  # 'path: expected a parameter path ..., got ...'
        raise bad_path(str(e).removeprefix(f"{path}: ")) from None
    chosen = op or ("set" if len(idx) == 1 else "scale")
    if chosen == "set" and len(idx) > 1:
        raise bad_op(
            f"expected 'scale' or 'shift' to move the {len(idx)} inputs of {path} together, "
            "got 'set'"
        )
    return Move(path, idx, chosen)


def end_problem(model: Model, mv: Move, x: float) -> str | None:
    """Why moving ``mv`` by ``x`` (a bar's end, a grid value, a bracket's end) is refused, as
    ``expected ..., got ...``, or None. The check of ``--set``
    (:func:`~finmodel.assumptions.params.leaves_domain` with the magnitude limit): every
    input it names stays in its domain (a share in [0, 1], an amount >= 0) and at most
    :data:`~finmodel.assumptions.schema.MAX_MAGNITUDE` in absolute value.

    >>> from finmodel.assumptions import load
    >>> from finmodel.engine.model import build
    >>> m = build(load("bear"))
    >>> end_problem(m, move(m, "opening.cash"), -5.0)
    'expected an amount >= 0, got -5'
    >>> end_problem(m, move(m, "revenue.scale"), 1e300)
    'expected a number of magnitude at most 1e+15, got 1e+300'
    >>> end_problem(m, move(m, "opening.cash"), 10.0) is None
    True
    """
    broken = leaves_domain(model.params, mv.idx, mv.op, x, magnitude=True)
    if broken is None:
        return None
    at = "" if broken[0] == mv.path else f" for {broken[0]}"
    after = "" if mv.op == "set" else f" (after {mv.op} {x:g})"  # 'set -5' is the 'got -5'
    return f"{broken[1]}{at}{after}"


def batch_metric(model: Model, values: FloatArray, metric: Metric) -> FloatArray:
    """Evaluate ``values`` (S, K) in chunks and return the metric per scenario, (S,)."""
    out = np.empty(values.shape[0])
    for sl, items in evaluate_chunks(model, values, CHUNK):
        out[sl] = evaluate_metric(model, items, values[sl], metric)
    return out


def base_value(model: Model, m: Move) -> float:
    """The file's value of a move's input (one input) or 1.0 (a factor on many)."""
    if m.op == "set":
        return float(model.params.vector()[m.idx[0]])
    return 1.0 if m.op == "scale" else 0.0


@dataclass(frozen=True)
class TornadoSpec:
    """One bar of a tornado: a path and its low and high values (or +/- ``pct``)."""

    path: str
    low: float | None = None
    high: float | None = None
    pct: float | None = None
    op: str | None = None


def tornado(
    model: ModelLike,
    metric: str | Metric,
    specs: Sequence[TornadoSpec],
    default_pct: float = 0.2,
    field: str | None = None,
) -> pd.DataFrame:
    """The metric at each parameter's low and high value, all else at base; sorted by swing.

    A bar given as +/- ``pct`` stops at its inputs' domain (a share of 0.9 + 20% is 1); a
    bar's own ``low``/``high`` is checked as ``--set`` is (:func:`end_problem`: the domain
    and the magnitude limit), and ``low`` may not exceed ``high``.

    Errors name the argument (``specs[2].low: expected a finite number, got nan``), or, with
    ``field`` (``sensitivity.parameters``, where the bars come from a file), the file's field.

    Returns columns ``parameter, op, low, high, metric_low, metric_high, base, swing``.
    A date that never comes (NaN) counts as one period past the horizon for the swing.
    """
    model = args.model_like(model)
    met = args.metric(metric, model)
    pct0 = args.fraction("default_pct", default_pct)
    if isinstance(specs, str | TornadoSpec) or not isinstance(specs, Sequence):
        raise ArgumentTypeError("specs", f"expected a list of TornadoSpec, got {specs!r}")
    if not specs:
        raise ArgumentError("specs", "expected at least one TornadoSpec, got none")
    base = model.params.vector()
    rows: list[tuple[Move, float, float]] = []
    for k, sp in enumerate(specs):
        rows.append(_bar(model, base, sp, pct0, f"{field or 'specs'}[{k}]", field is None))
    values = np.repeat(base[None, :], 1 + 2 * len(rows), axis=0)
    for i, (mv, lo, hi) in enumerate(rows):
        apply(values[1 + 2 * i : 2 + 2 * i], mv.idx, mv.op, lo)
        apply(values[2 + 2 * i : 3 + 2 * i], mv.idx, mv.op, hi)
    y = batch_metric(model, values, met)
    never = _never(model, met)
    filled = np.where(np.isnan(y), never, y)
    df = pd.DataFrame(
        {
            "parameter": [mv.path for mv, _, _ in rows],
            "op": [mv.op for mv, _, _ in rows],
            "low": [lo for _, lo, _ in rows],
            "high": [hi for _, _, hi in rows],
            "metric_low": y[1::2],
            "metric_high": y[2::2],
            "base": y[0],
            "swing": np.abs(filled[2::2] - filled[1::2]),
        }
    )
    df.attrs["metric"] = met.label
    return df.sort_values("swing", ascending=False, kind="stable").reset_index(drop=True)


def _bar(
    model: Model, base: FloatArray, sp: object, pct0: float, where: str, api: bool
) -> tuple[Move, float, float]:
    """One tornado bar's move and its low and high values, checked; ``where`` names it in
    messages (``specs[2]`` for the argument, ``sensitivity.parameters[2]`` for a file)."""

    def bad(field: str, message: str, kind: type[ArgumentError] = ArgumentError) -> AssumptionError:
        name = f"{where}.{field}" if field else where
        return kind("specs", message, name) if api else AssumptionError(f"{name}: {message}")

    if not isinstance(sp, TornadoSpec):
        raise bad("", f"expected a TornadoSpec, got {sp!r}", ArgumentTypeError)
    if not isinstance(sp.path, str):
        raise bad("path", f"expected a parameter path as a string, got {sp.path!r}")
    if sp.op is not None and sp.op not in OPS:
        raise bad("op", f"expected one of {', '.join(OPS)} or None, got {sp.op!r}")
    for name in ("low", "high", "pct"):
        x = getattr(sp, name)
        if x is None:
            continue
        if isinstance(x, bool) or not isinstance(x, int | float | np.integer | np.floating):
            raise bad(name, f"expected a number, got {x!r}")
        if not math.isfinite(x):
            raise bad(name, f"expected a finite number, got {x}")
    if sp.pct is not None and not 0.0 < sp.pct < 1.0:
        raise bad("pct", f"expected a fraction above 0 and below 1 such as 0.2, got {sp.pct}")
    mv = _move(model, sp.path, sp.op, lambda why: bad("path", why), lambda why: bad("op", why))
    if sp.low is None and sp.high is None:
        pct = pct0 if sp.pct is None else float(sp.pct)
        if mv.op == "set":
            b = base[mv.idx[0]]
            lo, hi = b * (1 - pct), b * (1 + pct)
        else:
            lo, hi = (1 - pct, 1 + pct) if mv.op == "scale" else (-pct, pct)
        # a +/- pct bar stops at the domain's edge (a share at 1 cannot rise 20%)
        a, b = allowed_range(model.params, mv.idx, mv.op)
        return mv, float(min(max(lo, a), b)), float(min(max(hi, a), b))
    if sp.low is None or sp.high is None:
        given = "low" if sp.low is not None else "high"
        raise bad(given, f"expected both 'low' and 'high', or neither (bar {sp.path})")
    lo, hi = float(sp.low), float(sp.high)
    if lo > hi:
        raise bad("", f"expected low <= high, got low {lo:g} and high {hi:g}")
    for name, end in (("low", lo), ("high", hi)):
        why = end_problem(model, mv, end)
        if why is not None:
            raise bad(name, why)
    return mv, lo, hi


def _never(model: Model, met: Metric) -> float:
    if met.name == "breakeven_year":
        return float(model.timeline.years[-1] + 1)
    return float(model.timeline.T)


def grid(
    model: ModelLike,
    metric: str | Metric,
    x: str,
    x_values: Sequence[float],
    y: str,
    y_values: Sequence[float],
    x_op: str | None = None,
    y_op: str | None = None,
    field: str | None = None,
) -> pd.DataFrame:
    """The metric over every pair of values of two parameters: rows x, columns y.

    Every value is checked as ``--set`` is (:func:`end_problem`: the domain and the
    magnitude limit); ``x`` and ``y`` may share no input.

    Errors name the arguments (``x_values: expected at least one value, got []``), or, with
    ``field`` (``sensitivity.grid``, where the grid comes from a file), the file's fields.
    The run is refused up front when it would not fit in memory: nx x ny points each hold K
    inputs plus the metric (``(K + 3) x 8`` bytes), and each chunk of :data:`CHUNK` points
    is evaluated at once (:func:`~finmodel.engine.evaluate.evaluation_bytes`).
    """
    model = args.model_like(model)
    met = args.metric(metric, model)
    ox = None if x_op is None else args.choice("x_op", x_op, OPS)
    oy = None if y_op is None else args.choice("y_op", y_op, OPS)
    x = args.text("x", x, "a parameter path")
    y = args.text("y", y, "a parameter path")
    if field is None:
        mx, my = move_of(model, x, ox, "x", "x_op"), move_of(model, y, oy, "y", "y_op")
        xs, ys = _axis(x_values, "x_values"), _axis(y_values, "y_values")
    else:
        mx, my = move(model, x, ox), move(model, y, oy)
        xs = _axis(x_values, f"{field}.x.values", in_file=True)
        ys = _axis(y_values, f"{field}.y.values", in_file=True)
    if set(mx.idx) & set(my.idx):
        why = f"expected a parameter that shares no input with the other axis ({x}), got {y!r}"
        raise ArgumentError("y", why) if field is None else AssumptionError(f"{field}.y: {why}")
    points = xs.size * ys.size
    need = points * (len(model.params) + 3) * 8.0 + evaluation_bytes(model, min(CHUNK, points))
    got, advice = f"{xs.size:,} x {ys.size:,} points", "use fewer values on an axis"
    if field is None:
        args.memory("x_values and y_values", need, got, advice)
    else:
        check_memory(need, field, got, advice)
    for ax, mv, vs in (("x", mx, xs), ("y", my, ys)):
        for k, v in enumerate(vs):
            bad = end_problem(model, mv, float(v))
            if bad is None:
                continue
            if field is None:
                raise ArgumentError(f"{ax}_values", bad, f"{ax}_values[{k}]")
            raise AssumptionError(f"{field}.{ax}.values[{k}]: {bad}")
    values = np.repeat(model.params.vector()[None, :], points, axis=0)
    apply(values, mx.idx, mx.op, np.repeat(xs, ys.size))
    apply(values, my.idx, my.op, np.tile(ys, xs.size))
    z = batch_metric(model, values, met).reshape(xs.size, ys.size)
    df = pd.DataFrame(z, index=pd.Index(xs, name=x), columns=pd.Index(ys, name=y))
    df.attrs["metric"] = met.label
    return df


def _axis(values: object, name: str, in_file: bool = False) -> FloatArray:
    """One grid axis as floats: at least one value, every value finite. ``name`` is the
    argument (``x_values``) or, ``in_file``, the file's field."""

    def bad(message: str, kind: type[ArgumentError] = ArgumentError) -> AssumptionError:
        return AssumptionError(f"{name}: {message}") if in_file else kind(name, message)

    if isinstance(values, str | bytes) or not isinstance(values, Sequence | np.ndarray):
        raise bad(f"expected a list of numbers, got {values!r}", ArgumentTypeError)
    try:
        xs = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise bad(f"expected a list of numbers, got {values!r}", ArgumentTypeError) from None
    if xs.ndim != 1 or any(isinstance(v, bool | str) for v in values):
        raise bad(f"expected a list of numbers, got {values!r}", ArgumentTypeError)
    if xs.size == 0:
        raise bad(f"expected at least one value, got {list(values)!r}")
    if not np.all(np.isfinite(xs)):
        raise bad(f"expected finite values, got {list(values)!r}")
    return xs


MAX_AXIS = 100_000
"""Most values on one axis given as START:STOP:COUNT (a 100,000 x 100,000 grid is already far
beyond any memory; the grid's own check then bounds the product)."""


def parse_values(text: str, field: str = "values") -> list[float]:
    """``0.5:1.5:11`` (start:stop:count, inclusive) or ``1,2,3``; COUNT is at most
    :data:`MAX_AXIS`.

    >>> parse_values("0:1:5")
    [0.0, 0.25, 0.5, 0.75, 1.0]
    >>> parse_values("3, 1.5")
    [3.0, 1.5]
    """
    try:
        if ":" in text:
            a, b, n = text.split(":")
            lo, hi, count = float(a), float(b), int(n)
            if count < 2:
                raise ValueError
            out = [lo, hi]
        else:
            out = [float(v) for v in text.split(",")]
    except ValueError:
        raise AssumptionError(
            f"{field}: expected values as START:STOP:COUNT (COUNT >= 2) or a comma list, "
            f"got {text!r}"
        ) from None
    if not all(math.isfinite(v) for v in out):
        raise AssumptionError(f"{field}: expected finite values, got {text!r}")
    if ":" in text:
        if count > MAX_AXIS:
            raise AssumptionError(
                f"{field}: expected at most {MAX_AXIS:,} values on an axis, got {count:,}"
            )
        return [float(v) for v in np.linspace(lo, hi, count)]
    return out


def default_specs(model: Model, pct: float) -> list[TornadoSpec]:
    """Every group of inputs (a year path counts once), each scaled by 1 -/+ ``pct``.

    Inputs at zero are left out (scaling them moves nothing); a date given as a decimal
    year (an S-curve's midpoint) is shifted by -/+ 1 year instead.
    """
    base = model.params.vector()
    groups: dict[str, list[int]] = {}
    for i, p in enumerate(model.params):
        last = p.path.rsplit(".", 1)[-1]
        key = p.path.rsplit(".", 1)[0] if last[:4].isdigit() else p.path
        groups.setdefault(key, []).append(i)
    params = list(model.params)
    out = []
    for k, idx in groups.items():
        if params[idx[0]].unit == "decimal year":
            out.append(TornadoSpec(k, -1.0, 1.0, op="shift"))
        elif np.any(base[idx] != 0.0):
            out.append(TornadoSpec(k, pct=pct, op="scale"))
    return out
