"""The JSON documents the ``finmodel`` command prints (``--json``), written by one rule.

- A float is written to :data:`SIGNIFICANT` (12) significant digits,
  ``float(f"{x:.12g}")``, so the noise of binary arithmetic in its last bits goes:
  ``0.1 + 0.2`` is written ``0.3`` and ``9.999999999999998`` is ``10.0``. Twelve digits are
  far more than any input carries (a file's figures have three or four; USD billions to
  twelve digits is to the dollar) and far fewer than a float64 holds (15 to 17), so the
  rounding never changes a figure a reader can use. It is relative: ``1e-20`` stays
  ``1e-20``. A negative zero is written ``0.0``.
- A value that is not a finite number (NaN: an IRR that does not exist, the mean of a date
  some paths never reach; or an infinity) is written ``null``, as JSON has no such numbers
  and ``JSON.stringify`` does the same. The text therefore parses with any strict parser
  (Python's ``json.loads(text, parse_constant=...)`` never sees ``NaN`` or ``Infinity``).
- Integers (seeds, counts, years) and booleans are written exactly as they are; numpy
  scalars as the Python number they hold; keys as strings.

The Python API (``Results.to_json()``, ``MonteCarlo.summary()``...) returns the numbers
unrounded; only the printed text follows this rule.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

SIGNIFICANT = 12
"""Significant digits of every float in the printed JSON."""


def number(x: float) -> float | None:
    """``x`` to :data:`SIGNIFICANT` significant digits; None when it is not finite.

    >>> number(0.1 + 0.2), number(9.999999999999998), number(1e-20), number(-0.0)
    (0.3, 10.0, 1e-20, 0.0)
    >>> number(float("nan")) is None and number(float("-inf")) is None
    True
    """
    if not math.isfinite(x):
        return None
    if x == 0:
        return 0.0
    return float(f"{x:.{SIGNIFICANT}g}")


def plain(value: Any) -> Any:
    """``value`` as plain JSON types, every float rounded by :func:`number`."""
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float | Decimal | Fraction):
        return number(float(value))
    if isinstance(value, Mapping):
        return {_key(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if _missing(value):
        return None
    if isinstance(value, date):
        return value.isoformat()
    tolist = getattr(value, "tolist", None)  # a numpy scalar or array
    if callable(tolist):
        return plain(tolist())
    return str(value)


def _missing(value: Any) -> bool:
    """pandas' missing-value markers (``NA``, ``NaT``), which compare as neither equal nor
    unequal; pandas is only asked when it is already imported."""
    pd = sys.modules.get("pandas")
    return pd is not None and pd.api.types.is_scalar(value) and bool(pd.isna(value))


def _key(k: Any) -> str:
    """A key as JSON writes it (``2026`` -> ``"2026"``), its number rounded too."""
    k = plain(k)
    return k if isinstance(k, str) else json.dumps(k)


def dumps(doc: Any) -> str:
    """The JSON text of ``doc`` by the rule above, indented by 2."""
    return json.dumps(plain(doc), indent=2, allow_nan=False)
