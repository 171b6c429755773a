"""finmodel's exceptions.

Every error finmodel raises on purpose is a :class:`FinmodelError`; each child also
subclasses the matching builtin so that a caller's ``except ValueError`` keeps working.
The CLI turns any ``FinmodelError`` into one message and exit code 2.
"""

from __future__ import annotations


class FinmodelError(Exception):
    """Base class of every error finmodel raises deliberately."""


class AssumptionError(FinmodelError, ValueError):
    """An assumption file (or an option naming one) is malformed.

    The message has the form ``file:line: field.path: expected ..., got ...``.
    """


class IdentityError(FinmodelError, ArithmeticError):
    """An accounting identity failed; the message names the scenario and the month."""


class ExportError(FinmodelError, OSError):
    """An output could not be written (missing or read-only folder, ...)."""
