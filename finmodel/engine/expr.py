"""Line-item expressions: written once, evaluated by numpy and rendered as Excel formulas.

A line item's value in month ``t`` is an expression over inputs (named scalars of the
assumption file), per-month constants of the timeline, other line items of the same month
(:class:`Ref`), the previous month (:class:`Prev`) and earlier months (:class:`Lag`).

numpy evaluation works on arrays laid out month-major: ``(T, S)`` for a whole line item
(every month, every scenario) or ``(S,)`` for one month. Excel rendering produces the
formula text of one cell, given where every line item and input lives in the workbook.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


class Env(Protocol):
    """What evaluation needs: input vectors and already computed line items."""

    def input(self, name: str) -> FloatArray: ...  # (S,)
    def item(self, name: str) -> FloatArray: ...  # (T, S)


class Sheet(Protocol):
    """What rendering needs: the cell of a line item in a month, the name of an input."""

    def cell(self, item: str, t: int) -> str: ...
    def name(self, input_name: str) -> str: ...


class Expr:
    """Base class; supports ``+ - * /`` and unary minus to build expressions."""

    def __add__(self, o: Expr | float) -> Expr:
        return Bin("+", self, lift(o))

    def __radd__(self, o: float) -> Expr:
        return Bin("+", lift(o), self)

    def __sub__(self, o: Expr | float) -> Expr:
        return Bin("-", self, lift(o))

    def __rsub__(self, o: float) -> Expr:
        return Bin("-", lift(o), self)

    def __mul__(self, o: Expr | float) -> Expr:
        return Bin("*", self, lift(o))

    def __rmul__(self, o: float) -> Expr:
        return Bin("*", lift(o), self)

    def __truediv__(self, o: Expr | float) -> Expr:
        return Bin("/", self, lift(o))

    def __neg__(self) -> Expr:
        return Bin("-", Const(0.0), self)

    # evaluation: whole horizon -> (T, S) or broadcastable; one month -> (S,) or scalar
    def whole(self, env: Env, T: int) -> FloatArray:
        raise NotImplementedError

    def month(self, env: Env, t: int) -> FloatArray:
        raise NotImplementedError

    def excel(self, sh: Sheet, t: int) -> str:
        raise NotImplementedError

    def refs(self) -> list[tuple[str, int]]:
        """Line items this expression reads, with the lag (0 same month, k>0 k months back)."""
        return []

    def inputs(self) -> list[str]:
        """Names of the scalar inputs this expression reads directly."""
        return []


def lift(x: Expr | float) -> Expr:
    return x if isinstance(x, Expr) else Const(float(x))


def num(x: float) -> str:
    """Excel text of a number, exact (shortest round-trip repr).

    >>> num(0.1), num(3.0), num(-2.5e-12)
    ('0.1', '3', '-2.5E-12')
    """
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return repr(float(x)).replace("e", "E")


@dataclass(frozen=True, eq=False)
class Const(Expr):
    value: float

    def whole(self, env: Env, T: int) -> FloatArray:
        return np.asarray(self.value)

    def month(self, env: Env, t: int) -> FloatArray:
        return np.asarray(self.value)

    def excel(self, sh: Sheet, t: int) -> str:
        return num(self.value) if self.value >= 0 else f"({num(self.value)})"


@dataclass(frozen=True, eq=False)
class In(Expr):
    """A named scalar input (a defined name in the workbook)."""

    name: str

    def whole(self, env: Env, T: int) -> FloatArray:
        return env.input(self.name)[None, :]

    def month(self, env: Env, t: int) -> FloatArray:
        return env.input(self.name)

    def excel(self, sh: Sheet, t: int) -> str:
        return sh.name(self.name)

    def inputs(self) -> list[str]:
        return [self.name]


@dataclass(frozen=True, eq=False)
class Path(Expr):
    """A linear path over inputs: month t is ``sum_k input_k * weights[k, t]``."""

    names: tuple[str, ...]
    weights: FloatArray  # (K, T)

    # Terms are added one by one in a fixed order (not a BLAS product), so a scenario's
    # numbers are identical to the last digit whatever the batch size.
    def whole(self, env: Env, T: int) -> FloatArray:
        out: FloatArray = np.zeros((T, 1))
        for n, w in zip(self.names, self.weights, strict=True):
            out = out + w[:, None] * env.input(n)[None, :]
        return out

    def month(self, env: Env, t: int) -> FloatArray:
        out: FloatArray = np.zeros(1)
        for n, w in zip(self.names, self.weights[:, t], strict=True):
            out = out + w * env.input(n)
        return out

    def excel(self, sh: Sheet, t: int) -> str:
        terms = []
        for n, w in zip(self.names, self.weights[:, t], strict=True):
            if w == 1.0:
                terms.append(sh.name(n))
            elif w != 0.0:
                terms.append(f"{sh.name(n)}*{num(w)}")
        if not terms:
            return "0"
        return terms[0] if len(terms) == 1 else f"({'+'.join(terms)})"

    def inputs(self) -> list[str]:
        return list(self.names)


@dataclass(frozen=True, eq=False)
class Series(Expr):
    """A per-month constant fixed by the timeline (e.g. the decimal year of each month)."""

    values: FloatArray  # (T,)

    def whole(self, env: Env, T: int) -> FloatArray:
        return self.values[:, None]

    def month(self, env: Env, t: int) -> FloatArray:
        return np.asarray(self.values[t])

    def excel(self, sh: Sheet, t: int) -> str:
        return Const(float(self.values[t])).excel(sh, t)


@dataclass(frozen=True, eq=False)
class Ref(Expr):
    """Another line item in the same month."""

    item: str

    def whole(self, env: Env, T: int) -> FloatArray:
        return env.item(self.item)

    def month(self, env: Env, t: int) -> FloatArray:
        row: FloatArray = env.item(self.item)[t]
        return row

    def excel(self, sh: Sheet, t: int) -> str:
        return sh.cell(self.item, t)

    def refs(self) -> list[tuple[str, int]]:
        return [(self.item, 0)]


@dataclass(frozen=True, eq=False)
class Prev(Expr):
    """A line item in the previous month; ``init`` stands in before the first month."""

    item: str
    init: Expr

    def whole(self, env: Env, T: int) -> FloatArray:
        x = env.item(self.item)
        first = np.broadcast_to(self.init.month(env, 0), x.shape[1:])
        return np.concatenate([first[None, :], x[:-1]], axis=0)

    def month(self, env: Env, t: int) -> FloatArray:
        return self.init.month(env, 0) if t == 0 else env.item(self.item)[t - 1]

    def excel(self, sh: Sheet, t: int) -> str:
        return self.init.excel(sh, 0) if t == 0 else sh.cell(self.item, t - 1)

    def refs(self) -> list[tuple[str, int]]:
        return [(self.item, 1), *self.init.refs()]

    def inputs(self) -> list[str]:
        return self.init.inputs()


@dataclass(frozen=True, eq=False)
class Lag(Expr):
    """A line item ``k`` months earlier; zero before the first month."""

    item: str
    k: int

    def whole(self, env: Env, T: int) -> FloatArray:
        x = env.item(self.item)
        out = np.zeros_like(x)
        if self.k < x.shape[0]:
            out[self.k :] = x[: x.shape[0] - self.k]
        return out

    def month(self, env: Env, t: int) -> FloatArray:
        return env.item(self.item)[t - self.k] if t >= self.k else np.asarray(0.0)

    def excel(self, sh: Sheet, t: int) -> str:
        return sh.cell(self.item, t - self.k) if t >= self.k else "0"

    def refs(self) -> list[tuple[str, int]]:
        return [(self.item, self.k)]


@dataclass(frozen=True, eq=False)
class CumSum(Expr):
    """Sum of a line item over the ``window`` months up to and including this one.

    ``window = 0`` sums from the first month. Excel: ``SUM`` over the row's range.
    """

    item: str
    window: int = 0

    def whole(self, env: Env, T: int) -> FloatArray:
        c = np.cumsum(env.item(self.item), axis=0)
        if self.window and self.window < c.shape[0]:
            c[self.window :] = c[self.window :] - c[: -self.window].copy()
        return c

    def month(self, env: Env, t: int) -> FloatArray:
        lo = 0 if not self.window else max(0, t - self.window + 1)
        out: FloatArray = env.item(self.item)[lo : t + 1].sum(axis=0)
        return out

    def excel(self, sh: Sheet, t: int) -> str:
        lo = 0 if not self.window else max(0, t - self.window + 1)
        return f"SUM({sh.cell(self.item, lo)}:{sh.cell(self.item, t)})"

    def refs(self) -> list[tuple[str, int]]:
        return [(self.item, 0)]


@dataclass(frozen=True, eq=False)
class SumOver(Expr):
    """The sum of a line item over the fixed months ``lo .. hi - 1``, the same in every month
    (e.g. the first year's total). Excel: ``SUM`` over those cells of the item's row.

    The item must not depend on the month loop: a month before ``hi - 1`` reads it ahead.
    """

    item: str
    lo: int
    hi: int

    # added month by month in a fixed order (not numpy's pairwise sum), so a scenario's
    # numbers are the same to the last digit whatever the batch size
    def whole(self, env: Env, T: int) -> FloatArray:
        return self.month(env, 0)[None, :]

    def month(self, env: Env, t: int) -> FloatArray:
        x = env.item(self.item)
        out: FloatArray = x[self.lo]
        for i in range(self.lo + 1, self.hi):
            out = out + x[i]
        return out

    def excel(self, sh: Sheet, t: int) -> str:
        return f"SUM({sh.cell(self.item, self.lo)}:{sh.cell(self.item, self.hi - 1)})"

    def refs(self) -> list[tuple[str, int]]:
        return [(self.item, 0)]


_NP: Mapping[str, Callable[[FloatArray, FloatArray], FloatArray]] = {
    "+": np.add,
    "-": np.subtract,
    "*": np.multiply,
    "/": np.divide,
}


@dataclass(frozen=True, eq=False)
class Bin(Expr):
    op: str
    a: Expr
    b: Expr

    def whole(self, env: Env, T: int) -> FloatArray:
        return _NP[self.op](self.a.whole(env, T), self.b.whole(env, T))

    def month(self, env: Env, t: int) -> FloatArray:
        return _NP[self.op](self.a.month(env, t), self.b.month(env, t))

    def excel(self, sh: Sheet, t: int) -> str:
        return f"({self.a.excel(sh, t)}{self.op}{self.b.excel(sh, t)})"

    def refs(self) -> list[tuple[str, int]]:
        return self.a.refs() + self.b.refs()

    def inputs(self) -> list[str]:
        return self.a.inputs() + self.b.inputs()


def _floor(x: FloatArray) -> FloatArray:
    return np.floor(x + 1e-9)


def _gt(a: FloatArray, b: FloatArray) -> FloatArray:
    return np.greater(a, b).astype(np.float64)


def _lt(a: FloatArray, b: FloatArray) -> FloatArray:
    return np.less(a, b).astype(np.float64)


_FN: Mapping[str, tuple[Callable[..., FloatArray], Callable[[Sequence[str]], str]]] = {
    "max": (lambda *xs: _reduce(np.maximum, xs), lambda a: f"MAX({','.join(a)})"),
    "min": (lambda *xs: _reduce(np.minimum, xs), lambda a: f"MIN({','.join(a)})"),
    "exp": (np.exp, lambda a: f"EXP({a[0]})"),
    "pow": (np.power, lambda a: f"POWER({a[0]},{a[1]})"),
    "floor": (_floor, lambda a: f"INT({a[0]}+1E-9)"),
    "gt": (_gt, lambda a: f"IF({a[0]}>{a[1]},1,0)"),
    "lt": (_lt, lambda a: f"IF({a[0]}<{a[1]},1,0)"),
}


def _reduce(
    f: Callable[[FloatArray, FloatArray], FloatArray], xs: Sequence[FloatArray]
) -> FloatArray:
    out: FloatArray = xs[0]
    for x in xs[1:]:
        out = f(out, x)
    return out


@dataclass(frozen=True, eq=False)
class Fn(Expr):
    """A function: ``max``, ``min``, ``exp``, ``pow`` (Excel POWER), ``floor`` (Excel INT),
    ``gt``/``lt`` (1 or 0)."""

    fn: str
    args: tuple[Expr, ...]

    def whole(self, env: Env, T: int) -> FloatArray:
        return _FN[self.fn][0](*(a.whole(env, T) for a in self.args))

    def month(self, env: Env, t: int) -> FloatArray:
        return _FN[self.fn][0](*(a.month(env, t) for a in self.args))

    def excel(self, sh: Sheet, t: int) -> str:
        return _FN[self.fn][1]([a.excel(sh, t) for a in self.args])

    def refs(self) -> list[tuple[str, int]]:
        return [r for a in self.args for r in a.refs()]

    def inputs(self) -> list[str]:
        return [n for a in self.args for n in a.inputs()]


def fmax(*xs: Expr | float) -> Expr:
    return Fn("max", tuple(lift(x) for x in xs))


def fmin(*xs: Expr | float) -> Expr:
    return Fn("min", tuple(lift(x) for x in xs))


@dataclass(frozen=True, eq=False)
class Sum(Expr):
    """A flat sum of many terms, added left to right (no deep expression tree, so a model
    with a thousand commitments does not exhaust Python's recursion limit). In the sheet,
    line items on consecutive rows become ``SUM(C10:C40,C42:C50)``."""

    terms: tuple[Expr, ...]

    def whole(self, env: Env, T: int) -> FloatArray:
        out = self.terms[0].whole(env, T)
        for x in self.terms[1:]:
            out = out + x.whole(env, T)
        return out

    def month(self, env: Env, t: int) -> FloatArray:
        out = self.terms[0].month(env, t)
        for x in self.terms[1:]:
            out = out + x.month(env, t)
        return out

    def excel(self, sh: Sheet, t: int) -> str:
        if all(isinstance(x, Ref) for x in self.terms):
            cells = [sh.cell(x.item, t) for x in self.terms if isinstance(x, Ref)]
            return f"SUM({','.join(_ranges(cells))})"
        return "(" + "+".join(x.excel(sh, t) for x in self.terms) + ")"

    def refs(self) -> list[tuple[str, int]]:
        return [r for x in self.terms for r in x.refs()]

    def inputs(self) -> list[str]:
        return [n for x in self.terms for n in x.inputs()]


def _ranges(cells: list[str]) -> list[str]:
    """Merge cells of one column on consecutive rows into ranges, keeping their order.

    >>> _ranges(["C10", "C11", "C12", "C14", "C15", "D3"])
    ['C10:C12', 'C14:C15', 'D3']
    """
    import re

    out: list[list[tuple[str, int]]] = []
    for c in cells:
        m = re.fullmatch(r"([A-Z]+)(\d+)", c)
        if m is None:
            out.append([(c, -1)])
            continue
        col, row = m.group(1), int(m.group(2))
        last = out[-1][-1] if out else None
        if last is not None and last[1] >= 0 and last[0] == col and last[1] + 1 == row:
            out[-1].append((col, row))
        else:
            out.append([(col, row)])
    res = []
    for run in out:
        (c0, r0), (c1, r1) = run[0], run[-1]
        if r0 < 0:
            res.append(c0)
        else:
            res.append(f"{c0}{r0}" if len(run) == 1 else f"{c0}{r0}:{c1}{r1}")
    return res


def total(xs: Sequence[Expr]) -> Expr:
    """Sum of expressions (0 for none, the term itself for one)."""
    if not xs:
        return Const(0.0)
    if len(xs) == 1:
        return xs[0]
    return Sum(tuple(xs))
