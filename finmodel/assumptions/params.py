"""Parameter paths: every number of an assumption file as a named scalar input.

A parameter path addresses one number (``opening.cash``, ``revenue.annual.2027``,
``commitments.oracle.amount``); list items are addressed by the slug of their name or
counterparty. The workbook's defined name is the path with dots as underscores
(``revenue_annual_2027``), so the engine's input vector and the workbook's Inputs sheet
are the same list.
"""

from __future__ import annotations

import difflib
import itertools
import math
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from finmodel.assumptions.schema import MAX_MAGNITUDE, Bounded, Sourced, UnitsValue, shown
from finmodel.errors import AssumptionError
from finmodel.timeline import month_index, parse_month


@dataclass(frozen=True)
class Param:
    """One scalar input: its path, value, unit, the citation from the file and its domain
    (the schema's bounds for it: a share in [0, 1], an amount >= 0; None when unbounded)."""

    path: str
    value: float
    unit: str
    source: str | None = None
    note: str | None = None
    domain: type[Bounded] | None = None
    order: tuple[str, int] | None = None
    """For a point of a cumulative path (a milestone): the path and the point's month index.
    The points of one path never decrease in month order, also after a change."""

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
            domain = type(x) if isinstance(x, Bounded) else None
            order = None
            if domain is UnitsValue:  # milestones.<name>.<YYYY-MM>
                group, month = path.rsplit(".", 1)
                order = (group, month_index(*parse_month(month)))
            p = Param(path, float(x.value), unit, x.source, x.note, domain, order)
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

    def adjust(self, path: str, op: str, x: float, source: str | None = None) -> None:
        """Set, scale or shift the inputs under ``path``; the note records the change.

        A result outside the input's domain (a share above 1, a negative amount) or beyond
        the file's largest magnitude is an error naming ``path``, the change and the input
        it broke."""
        idx = resolve(self, path)
        broken = leaves_domain(self, idx, op, x, magnitude=True)
        if broken is not None:
            at = "" if broken[0] == path else f" for {broken[0]}"
            raise AssumptionError(f"{path}: {broken[1]}{at} (after {op} {x:g})")
        for i in idx:
            p = list(self._items.values())[i]
            v = np.array([p.value])
            apply(v, [0], op, x)
            note = f"{op} {x:g} applied to {p.value:g}" + (f" ({source})" if source else "")
            self._items[p.name] = replace(p, value=float(v[0]), note=note)

    def vector(self) -> NDArray[np.float64]:
        """The base values as a (K,) vector, in registry order."""
        return np.array([p.value for p in self._items.values()], dtype=np.float64)


OPS = ("set", "scale", "shift")


def allowed_range(params: Params, idx: list[int], op: str) -> tuple[float, float]:
    """The values of ``x`` for which ``op`` by ``x`` keeps every input ``idx`` in its domain:
    for ``set`` the domain itself, for ``scale`` the factors ``f`` with ``lo <= v f <= hi``
    for each input value ``v``, for ``shift`` the amounts ``lo - v .. hi - v``; intersected
    over the inputs (``-inf``/``inf`` where unbounded)."""
    low, high = -math.inf, math.inf
    items = list(params)
    for i in idx:
        p = items[i]
        if p.domain is None:
            continue
        lo = -math.inf if p.domain.lo is None else p.domain.lo
        hi = math.inf if p.domain.hi is None else p.domain.hi
        v = p.value
        if op == "set":
            a, b = lo, hi
        elif op == "shift":
            a, b = lo - v, hi - v
        elif v > 0:
            a, b = lo / v, hi / v
        elif v < 0:
            a, b = hi / v, lo / v
        else:
            continue  # 0 scaled stays 0
        low, high = max(low, a), min(high, b)
    for before, after in _ordered_pairs(items, idx):
        # each point moves as a + b x (moved: set x, scale v x, shift v + x; else v); the
        # pair keeps its order while a_1 + b_1 x <= a_2 + b_2 x
        (a1, b1), (a2, b2) = (_affine(items[i], i in idx, op) for i in (before, after))
        c, room = b1 - b2, a2 - a1
        if c > 0:
            high = min(high, room / c)
        elif c < 0:
            low = max(low, room / c)
    return low, high


def _affine(p: Param, moved: bool, op: str) -> tuple[float, float]:
    """``(a, b)`` with the input's value after ``op`` by ``x`` equal to ``a + b x``."""
    if not moved:
        return p.value, 0.0
    return {"set": (0.0, 1.0), "scale": (0.0, p.value), "shift": (p.value, 1.0)}[op]


def _ordered_pairs(items: list[Param], idx: list[int]) -> list[tuple[int, int]]:
    """Successive points (indices, in month order) of every cumulative path that ``idx``
    touches."""
    orders = [p.order for p in items]
    groups = {o[0] for i in idx if (o := orders[i]) is not None}
    pairs: list[tuple[int, int]] = []
    for g in sorted(groups):
        points = sorted((o[1], i) for i, o in enumerate(orders) if o is not None and o[0] == g)
        pairs += [(a[1], b[1]) for a, b in itertools.pairwise(points)]
    return pairs


def leaves_domain(
    params: Params, idx: list[int], op: str, x: float, *, magnitude: bool = False
) -> tuple[str, str] | None:
    """The first of inputs ``idx`` that ``op`` by ``x`` takes out of its domain, as
    ``(path, "expected ..., got ...")``; None when every result is inside. With
    ``magnitude``, a result beyond the file's largest magnitude is out too. An input of 0
    scaled by an infinite factor stays 0."""
    items = list(params)
    for i in idx:
        p = items[i]
        v = np.array([p.value])
        with np.errstate(invalid="ignore", over="ignore"):
            apply(v, [0], op, x)
        new = 0.0 if np.isnan(v[0]) else float(v[0])
        why = p.domain.problem(new) if p.domain is not None else None
        if why is None and magnitude and not abs(new) <= MAX_MAGNITUDE:
            why = f"expected a number of magnitude at most {MAX_MAGNITUDE:g}, got {new:g}"
        if why is not None:
            return p.path, why
    for before, after in _ordered_pairs(items, idx):
        p1, p2 = items[before], items[after]
        v1, v2 = (_after(items[i], i in idx, op, x) for i in (before, after))
        if v2 < v1 - 1e-12 * max(1.0, abs(v1)):  # rounding of a bound from allowed_range
            m1, m2 = (p.path.rsplit(".", 1)[1] for p in (p1, p2))
            return p2.path, (
                f"expected a cumulative path that never decreases, got {shown(v1)} at {m1} "
                f"then {shown(v2)} at {m2}"
            )
    return None


def _after(p: Param, moved: bool, op: str, x: float) -> float:
    """The input's value after ``op`` by ``x`` (unchanged when not ``moved``)."""
    a, b = _affine(p, moved, op)
    return a + b * x if b else a


def resolve(params: Params, path: str) -> list[int]:
    """Indices of the inputs a parameter path names: the path itself, or every input below it.

    ``revenue.annual.2027`` names one input; ``revenue.annual`` names every year of the path;
    list items go by the slug of their name (``commitments.oracle.amount``). A path that
    names nothing raises an error listing the nearest valid paths.
    """
    paths = [p.path for p in params]
    hits = [i for i, p in enumerate(paths) if p == path or p.startswith(path + ".")]
    if hits:
        return hits
    groups = sorted({".".join(p.split(".")[:n]) for p in paths for n in range(1, p.count(".") + 2)})
    near = difflib.get_close_matches(path, groups, n=4, cutoff=0.5)
    hint = f"; nearest: {', '.join(near)}" if near else ""
    raise AssumptionError(f"{path}: expected a parameter path of this scenario, got {path!r}{hint}")


def apply(
    values: NDArray[np.float64], idx: list[int], op: str, x: float | NDArray[np.float64]
) -> None:
    """Apply ``set``, ``scale`` or ``shift`` by ``x`` to columns ``idx`` of ``values`` in place.

    ``values`` is (K,) or (S, K); ``x`` a number or an (S,) vector (one value per scenario).

    >>> v = np.array([[1.0, 2.0, 3.0]])
    >>> apply(v, [1, 2], "scale", 10.0); v
    array([[ 1., 20., 30.]])
    """
    xs = np.asarray(x, dtype=np.float64)
    col = xs[:, None] if xs.ndim == 1 and values.ndim == 2 else xs
    if op == "set":
        values[..., idx] = col
    elif op == "scale":
        values[..., idx] *= col
    elif op == "shift":
        values[..., idx] += col
    else:
        raise AssumptionError(f"expected one of {', '.join(OPS)}, got {op!r}")
