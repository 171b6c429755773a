"""Checks of the public functions' arguments, one definition each.

Each check names the Python argument it was given (``n``, ``seed``, ``x_values``) and raises
:class:`~finmodel.errors.ArgumentTypeError` (also a ``TypeError``) for a value of the wrong
type and :class:`~finmodel.errors.ArgumentError` (a ``ValueError``) for one outside its
domain, with the message ``argument: expected ..., got ...``. The CLI passes its options
through the same arguments and names its option instead, from one table
(``finmodel.cli.OPTIONS``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from os import PathLike
from pathlib import Path

import numpy as np

from finmodel.analysis.metrics import Metric, parse_metric
from finmodel.assumptions.schema import Assumptions, Uncertainty
from finmodel.engine.model import Model, build
from finmodel.errors import ArgumentError, ArgumentTypeError, AssumptionError, ResourceLimitError
from finmodel.limits import check_memory

MAX_SEED = 2**128
"""Seeds run from 0 to 2^128 - 1 (numpy's SeedSequence takes 128 bits of entropy)."""


def count(argument: str, value: object, least: int = 1, noun: str = "") -> int:
    """``value`` as an int if it is a whole number of at least ``least``.

    >>> count("n", 500, noun="draw")
    500
    >>> count("n", 2.5)
    Traceback (most recent call last):
    finmodel.errors.ArgumentTypeError: n: expected a whole number, got 2.5
    >>> count("n", 0, noun="draw")
    Traceback (most recent call last):
    finmodel.errors.ArgumentError: n: expected at least 1 draw, got 0
    """
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ArgumentTypeError(argument, f"expected a whole number, got {value!r}")
    if value < least:
        plural = "" if least == 1 else "s"
        unit = f" {noun}{plural}" if noun else ""
        raise ArgumentError(argument, f"expected at least {least}{unit}, got {value}")
    return int(value)


def number(argument: str, value: object) -> float:
    """``value`` as a float if it is a finite real number (not a bool, not text).

    >>> number("target", 3)
    3.0
    """
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ArgumentTypeError(argument, f"expected a number, got {value!r}")
    x = float(value)
    if not math.isfinite(x):
        raise ArgumentError(argument, f"expected a finite number, got {x}")
    return x


def probability(argument: str, value: object) -> float:
    """``value`` as a float if it is a probability in [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ArgumentTypeError(argument, f"expected a probability in [0, 1], got {value!r}")
    x = float(value)
    if not 0.0 <= x <= 1.0:  # NaN fails too
        raise ArgumentError(argument, f"expected a probability in [0, 1], got {x}")
    return x


def fraction(argument: str, value: object) -> float:
    """``value`` as a float if it is a fraction strictly between 0 and 1 (a +/- change)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ArgumentTypeError(
            argument, f"expected a fraction above 0 and below 1 such as 0.2, got {value!r}"
        )
    x = float(value)
    if not 0.0 < x < 1.0:
        raise ArgumentError(
            argument, f"expected a fraction above 0 and below 1 such as 0.2 (±20%), got {x}"
        )
    return x


def seed(argument: str, value: object) -> int:
    """``value`` if it is a whole number in [0, 2^128), the seeds numpy takes.

    >>> seed("seed", 7)
    7
    """
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ArgumentTypeError(
            argument, f"expected a whole number from 0 to 2^128 - 1, got {value!r}"
        )
    if not 0 <= value < MAX_SEED:
        raise ArgumentError(argument, f"expected a whole number from 0 to 2^128 - 1, got {value}")
    return int(value)


def choice(argument: str, value: object, choices: Sequence[str]) -> str:
    """``value`` if it is one of ``choices``.

    >>> choice("op", "scale", ("set", "scale", "shift"))
    'scale'
    """
    if not isinstance(value, str) or value not in choices:
        raise ArgumentError(argument, f"expected {_alternatives(choices)}, got {value!r}")
    return value


def text(argument: str, value: object, what: str) -> str:
    """``value`` if it is a string (a parameter path, a metric)."""
    if not isinstance(value, str):
        raise ArgumentTypeError(argument, f"expected {what} as a string, got {value!r}")
    return value


def path(argument: str, value: object, what: str) -> Path:
    """``value`` as a :class:`~pathlib.Path` if it is a string or a path."""
    if not isinstance(value, str | PathLike):
        raise ArgumentTypeError(argument, f"expected {what}, got {type(value).__name__}")
    return Path(value)


def memory(argument: str, nbytes: float, got: object, advice: str) -> None:
    """:func:`~finmodel.limits.check_memory` for a run sized by ``argument``: the refusal
    (a :class:`~finmodel.errors.ResourceLimitError`) starts with the argument's name and
    carries it, as an :class:`~finmodel.errors.ArgumentError` does."""
    try:
        check_memory(nbytes, argument, got, advice)
    except ResourceLimitError as e:
        e.argument = argument
        raise


def _alternatives(choices: Sequence[str]) -> str:
    quoted = [repr(c) for c in choices]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


ModelLike = Model | Assumptions | str | PathLike[str]
"""A built model, validated assumptions, an assumption file or a shipped scenario's name."""


def model_of(a: Assumptions) -> Model:
    """The model of scenario ``a`` as every run sees it: its line items built
    (:func:`finmodel.engine.model.build`), then its ``adjust:`` section applied to the inputs,
    entry by entry in the file's order (:meth:`~finmodel.assumptions.params.Params.adjust`).
    A path that names no input, or a change that takes an input out of its domain, is an
    error starting ``adjust.<path>:``.

    >>> from finmodel.assumptions import load
    >>> from finmodel.assumptions.schema import Adjustment
    >>> a = load("bear")
    >>> half = a.model_copy(update={"adjust": {"revenue.scale": Adjustment(scale=0.5)}})
    >>> s = a.revenue.scale.value
    >>> model_of(half).params["revenue_scale"].value == 0.5 * s, build(half).params[
    ...     "revenue_scale"].value == s
    (True, True)
    """
    model = build(a)
    for path, adj in a.adjust.items():
        op, x = adj.op
        try:
            model.params.adjust(path, op, x, adj.source)
        except AssumptionError as e:
            raise AssumptionError(f"adjust.{e}") from None
    return model


def model_like(value: object) -> Model:
    """The ``model`` argument of the analyses, built: a :class:`Model` as it is; Assumptions,
    a file path or a shipped scenario's name (read by :func:`finmodel.assumptions.load`)
    through :func:`model_of`; anything else is refused naming ``model``."""
    if not isinstance(value, Model | Assumptions | str | PathLike):
        raise ArgumentTypeError(
            "model",
            "expected a file path, a shipped scenario's name, Assumptions or a built model, "
            f"got {type(value).__name__}",
        )
    if isinstance(value, Model):
        return value
    if isinstance(value, Assumptions):
        return model_of(value)
    from finmodel.assumptions.loader import load

    return model_of(load(value))


def uncertainty(value: object, argument: str = "u") -> Uncertainty | None:
    """The argument ``argument`` (``u`` of :func:`~finmodel.simulate`, ``uncertainty`` of
    :func:`~finmodel.sobol`): an :class:`~finmodel.assumptions.schema.Uncertainty` or None
    (the file's own section)."""
    if value is not None and not isinstance(value, Uncertainty):
        raise ArgumentTypeError(
            argument,
            f"expected an Uncertainty section or None (the file's), got {type(value).__name__}",
        )
    return value


def metric(value: object, model: Model, argument: str = "metric") -> Metric:
    """The ``metric`` argument parsed for ``model``: a name such as ``funding_gap.2030`` (see
    :func:`~finmodel.analysis.metrics.parse_metric`) or an already parsed Metric. An unknown
    name is refused naming ``argument``: ``metric: expected one of the known metrics, got
    'fundng_gap'; nearest: funding_gap, funding_need``."""
    if isinstance(value, Metric):
        return value
    name = text(argument, value, "a metric name such as 'funding_gap.2030'")
    return parse_metric(name, model, argument)
