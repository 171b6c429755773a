"""finmodel's exceptions.

Every error finmodel raises on purpose is a :class:`FinmodelError`; each child also
subclasses the matching builtin so that a caller's ``except ValueError`` keeps working.
The CLI turns any ``FinmodelError`` into one message and exit code 2, except
:class:`TargetNotReachedError` (a goal seek with no solution), exit code 1.
"""

from __future__ import annotations

from collections.abc import Sequence


class FinmodelError(Exception):
    """Base class of every error finmodel raises deliberately."""


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
    ``"out of range"`` when the metric stays on one side of it across the bracket.
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
