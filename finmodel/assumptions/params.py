"""Parameter paths: every number of an assumption file as a named scalar input.

A parameter path addresses one number (``opening.cash``, ``revenue.annual.2027``,
``commitments.oracle.amount``); list items are addressed by the slug of their name or
counterparty. The workbook's defined name is the path with dots as underscores
(``revenue_annual_2027``), so the engine's input vector and the workbook's Inputs sheet
are the same list.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from finmodel.assumptions.schema import Sourced


@dataclass(frozen=True)
class Param:
    """One scalar input: its path, value, unit and the citation from the file."""

    path: str
    value: float
    unit: str
    source: str | None = None
    note: str | None = None

    @property
    def name(self) -> str:
        """Workbook defined name: the path with dots (and dashes) as underscores."""
        return self.path.replace(".", "_").replace("-", "_")


class Params:
    """The ordered registry of a scenario's inputs."""

    def __init__(self) -> None:
        self._items: dict[str, Param] = {}

    def add(self, path: str, x: Sourced | float, unit: str) -> str:
        """Register ``x`` under ``path``; return its name."""
        if isinstance(x, Sourced):
            p = Param(path, float(x.value), unit, x.source, x.note)
        else:
            p = Param(path, float(x), unit)
        if p.name in self._items:
            raise ValueError(f"duplicate parameter path {path}")
        self._items[p.name] = p
        return p.name

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, name: str) -> Param:
        return self._items[name]

    def names(self) -> list[str]:
        return list(self._items)

    def vector(self) -> NDArray[np.float64]:
        """The base values as a (K,) vector, in registry order."""
        return np.array([p.value for p in self._items.values()], dtype=np.float64)
