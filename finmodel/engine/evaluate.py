"""The vectorised evaluator: every line item for S scenarios x T months in one pass.

* Items that never read an earlier month of themselves (directly or through other items)
  are computed over the whole horizon at once. The rest (balances, the tax-loss pool, the
  facilities, cash, the funding need) are computed month by month, each month one vector
  operation over all S scenarios. Items that only read the recursive ones and that nothing
  recursive reads back are computed whole after that loop.
* An item that does not depend on any input that differs between scenarios is computed
  once, shape (T, 1), and broadcasts; only items that vary are (T, S).
* :func:`evaluate_chunks` splits a large batch into chunks to bound memory.

Arrays are month-major, ``(T, S)``; the arithmetic is the same whatever the batch size, so
a scenario's numbers agree to the last digit between a batch and a single run.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from finmodel.engine.model import Model

FloatArray = NDArray[np.float64]


@dataclass
class _Env:
    inputs: dict[str, FloatArray]
    items: dict[str, FloatArray]

    def input(self, name: str) -> FloatArray:
        return self.inputs[name]

    def item(self, name: str) -> FloatArray:
        return self.items[name]


@dataclass(frozen=True)
class Schedule:
    """Evaluation order: whole-horizon items, the month loop, then whole items after it."""

    before: list[str]
    loop: list[str]
    after: list[str]


def schedule(model: Model) -> Schedule:
    """Split line items into phases, each in definition order.

    An item joins the month loop when it reads an earlier month of itself or of a later
    item, or reads a loop item. Loop items that nothing else in the loop reads, that do not
    read themselves, and whose references are all available once the loop is done, move to
    the ``after`` phase. Same-month reads must point backwards.
    """
    pos = {it.id: i for i, it in enumerate(model.items)}
    seq: set[str] = set()
    for it in model.items:
        for ref, lag in it.expr.refs():
            if ref not in pos:
                raise KeyError(f"line item {it.id!r} reads unknown item {ref!r}")
            if lag == 0 and pos[ref] >= pos[it.id]:
                raise ValueError(
                    f"line item {it.id!r} reads {ref!r} of the same month before it is defined"
                )
            if lag > 0 and pos[ref] >= pos[it.id]:
                seq.add(it.id)
    changed = True
    while changed:
        changed = False
        for it in model.items:
            if it.id not in seq and any(r in seq for r, _ in it.expr.refs()):
                seq.add(it.id)
                changed = True
    loop = set(seq)
    refs = {it.id: {r for r, _ in it.expr.refs()} for it in model.items}
    changed = True
    while changed:
        changed = False
        for it in reversed(model.items):
            x = it.id
            if x not in loop or x in refs[x]:
                continue
            readers = [y for y in loop if y != x and x in refs[y]]
            later = [r for r in refs[x] if r not in loop and pos[r] > pos[x]]
            if not readers and not later:
                loop.discard(x)
                changed = True
    return Schedule(
        before=[it.id for it in model.items if it.id not in seq],
        loop=[it.id for it in model.items if it.id in loop],
        after=[it.id for it in model.items if it.id in seq and it.id not in loop],
    )


def varying(model: Model, varied_inputs: set[str]) -> set[str]:
    """Line items whose values depend on any of ``varied_inputs``."""
    out: set[str] = set()
    changed = True
    while changed:
        changed = False
        for it in model.items:
            if it.id in out:
                continue
            if any(n in varied_inputs for n in it.expr.inputs()) or any(
                r in out for r, _ in it.expr.refs()
            ):
                out.add(it.id)
                changed = True
    return out


def evaluate(model: Model, values: FloatArray | None = None) -> dict[str, FloatArray]:
    """Evaluate every line item.

    ``values`` holds the inputs, shape (S, K) in the order of ``model.params`` (default:
    the file's values, S = 1). Returns ``{item id: array}``, each (T, S) where the item
    varies between scenarios and (T, 1) where it does not (it broadcasts).
    """
    v = model.params.vector()[None, :] if values is None else np.asarray(values, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] != len(model.params):
        raise ValueError(
            f"conflicting sizes for dimension 'input': {len(model.params)} in the model "
            f"but {v.shape[-1] if v.ndim else 0} in values of shape {v.shape}"
        )
    S, T = v.shape[0], model.timeline.T
    names = model.params.names()
    differs = (v != v[:1]).any(axis=0) if S > 1 else np.zeros(len(names), dtype=bool)
    inputs = {
        n: np.ascontiguousarray(v[:, k]) if differs[k] else v[:1, k].copy()
        for k, n in enumerate(names)
    }
    env = _Env(inputs, {})
    vary = varying(model, {n for k, n in enumerate(names) if differs[k]})
    width = {it.id: S if it.id in vary else 1 for it in model.items}
    sched = schedule(model)
    by_id = {it.id: it for it in model.items}

    def whole(id: str) -> None:
        out = by_id[id].expr.whole(env, T)
        env.items[id] = np.array(np.broadcast_to(out, (T, width[id])), dtype=np.float64)

    for id in sched.before:
        whole(id)
    for id in sched.loop:
        env.items[id] = np.empty((T, width[id]))
    exprs = [(env.items[id], by_id[id].expr) for id in sched.loop]
    for t in range(T):
        for arr, expr in exprs:
            arr[t] = expr.month(env, t)
    for id in sched.after:
        whole(id)
    return env.items


def evaluate_chunks(
    model: Model, values: FloatArray, chunk: int = 20_000
) -> Iterator[tuple[slice, dict[str, FloatArray]]]:
    """Evaluate ``values`` (S, K) in chunks of at most ``chunk`` scenarios.

    Yields ``(slice of scenarios, items)``; each chunk's arrays are (T, chunk) or (T, 1).
    Memory is bounded by the chunk, and a scenario's numbers do not depend on the chunk size.
    """
    S = values.shape[0]
    for lo in range(0, S, chunk):
        sl = slice(lo, min(S, lo + chunk))
        yield sl, evaluate(model, values[sl])


def evaluation_bytes(model: Model, scenarios: int) -> float:
    """Bytes one :func:`evaluate` call over ``scenarios`` holds at its peak, estimated from the
    shape: ``scenarios x (T x (line items + 8) + K) x 8``: every item (T, S) float64, the
    expression evaluator's temporaries (measured at under 6 rows of T x S with tracemalloc)
    and the (S, K) inputs. Items that do not vary are held as (T, 1), so this is an upper
    bound.

    >>> from finmodel.assumptions import load
    >>> from finmodel.engine.model import build
    >>> m = build(load("bear"))
    >>> evaluation_bytes(m, 1) == (m.timeline.T * (len(m.items) + 8) + len(m.params)) * 8
    True
    """
    return float(scenarios) * (model.timeline.T * (len(model.items) + 8) + len(model.params)) * 8


def full(a: FloatArray, S: int) -> FloatArray:
    """An item as (T, S), broadcasting a (T, 1) item that does not vary."""
    return np.broadcast_to(a, (a.shape[0], S))
