"""finmodel's exceptions.

Every error finmodel raises on purpose is a :class:`FinmodelError`; each child also
subclasses the matching builtin so that a caller's ``except ValueError`` keeps working.
The CLI turns any ``FinmodelError`` into one message and exit code 2, except
:class:`TargetNotReachedError` (a goal seek with no solution), exit code 1.
"""

from __future__ import annotations

from collections.abc import Sequence


class FinmodelError(Exception):
    """Base class of every error finmodel raises deliberately.

    ``argument`` names the argument of a public function the error is about (``n``), when it
    is about one; the message then starts with ``argument: `` (see :class:`ArgumentError`).
    """

    argument: str | None = None


class AssumptionError(FinmodelError, ValueError):
    """An assumption file (or an option naming one) is malformed.

    The message has the form ``file:line: field.path: expected ..., got ...``. A file with
    several problems gives one message, its first problem and how many more there are;
    ``problems`` lists every one (``finmodel validate`` prints them all).
    """

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems: tuple[str, ...] = tuple(problems) or (message,)


class TargetNotReachedError(FinmodelError, ValueError):
    """A goal seek found no parameter value at which the metric equals the target.

    ``kind`` is ``"jump"`` when the target lies inside a jump of the metric (a step metric
    such as the runway in whole months, or a date that stops coming: NaN, "never") and
    ``"out of range"`` when the metric stays on one side of it across the bracket, and
    ``"constant"`` when it is the same at every point of the bracket (it does not depend on
    the input varied, or not there).
    ``below`` and ``above`` are the nearest ``(parameter value, metric value)`` found with the
    metric below and above the target (the two sides of the jump; None on a side never
    reached). The CLI prints them and exits with code 1.
    """

    def __init__(
        self,
        message: str,
        kind: str,
        below: tuple[float, float] | None,
        above: tuple[float, float] | None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.below = below
        self.above = above


class IdentityError(FinmodelError, ArithmeticError):
    """An accounting identity failed; the message names the scenario and the month."""


class ExportError(FinmodelError, OSError):
    """An output could not be written (missing or read-only folder, ...)."""


class ResourceLimitError(FinmodelError, MemoryError):
    """A run would need more memory than finmodel allows itself (see :mod:`finmodel.limits`).

    Raised before anything large is allocated; the message gives the estimate, the limit and
    what to reduce. It subclasses :class:`MemoryError` so that a caller's
    ``except MemoryError`` keeps working.
    """


class ArgumentError(AssumptionError):
    """An argument of a public function is out of its domain (``simulate(n=0)``).

    ``argument`` is the Python argument's name (``n``, ``seed``, ``x_values``) and the
    message starts with it, ``n: expected at least 1 draw, got 0``, or with the part of it
    at fault, ``where``: ``specs[2].low: expected a finite number, got nan``. The CLI,
    which passes its options through these arguments, names its option there instead
    (``--draws: ...``), from one table of argument -> option (``finmodel.cli.OPTIONS``).
    A :class:`ResourceLimitError` about an argument carries ``argument`` the same way. It
    is an :class:`AssumptionError`, so a caller's ``except AssumptionError`` (or
    ``ValueError``) keeps working.
    """

    def __init__(self, argument: str, message: str, where: str | None = None) -> None:
        super().__init__(f"{where or argument}: {message}")
        self.argument = argument
        self.where = where or argument  # a part of the argument: ``specs[2].low``


class ArgumentTypeError(ArgumentError, TypeError):
    """An argument of the wrong type (``simulate(n=2.5)``, ``run(None)``): also a
    :class:`TypeError` (and, as every :class:`ArgumentError`, a ``ValueError``)."""


class ArgumentKeyError(ArgumentError, KeyError):
    """An argument naming something that does not exist (``res.series("nope")``): also a
    :class:`KeyError` (and, as every :class:`ArgumentError`, a ``ValueError``), so that a
    caller's ``except KeyError`` keeps working. The message names the argument and the
    nearest names that do exist; it is shown as written (a plain ``KeyError`` quotes it)."""

    def __str__(self) -> str:
        return str(self.args[0])
