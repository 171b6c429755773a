"""The vectorised evaluator: every line item for S scenarios x T months in one pass.

Items that never read an earlier month of themselves (directly or through other items)
are computed over the whole horizon at once; the rest (balances, the tax-loss pool, the
facilities, cash and the funding need) are computed month by month, each month a vector
operation over all S scenarios. Arrays are month-major internally, ``(T, S)``.
"""

from __future__ import annotations

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


def schedule(model: Model) -> tuple[list[str], list[str]]:
    """Split line items into (whole-horizon, month-by-month), each in definition order.

    An item is month-by-month when it reads an earlier month of itself or of a later
    item, or reads any month-by-month item. Same-month reads must point backwards.
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
    whole = [it.id for it in model.items if it.id not in seq]
    monthly = [it.id for it in model.items if it.id in seq]
    return whole, monthly


def evaluate(model: Model, values: FloatArray | None = None) -> dict[str, FloatArray]:
    """Evaluate every line item.

    ``values`` holds the inputs, shape (S, K) in the order of ``model.params`` (default:
    the file's values, S = 1). Returns ``{item id: array (T, S)}``.
    """
    v = model.params.vector()[None, :] if values is None else np.asarray(values, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] != len(model.params):
        raise ValueError(
            f"conflicting sizes for dimension 'input': {len(model.params)} in the model "
            f"but {v.shape[-1] if v.ndim else 0} in values of shape {v.shape}"
        )
    S, T = v.shape[0], model.timeline.T
    env = _Env({n: np.ascontiguousarray(v[:, k]) for k, n in enumerate(model.params.names())}, {})
    whole, monthly = schedule(model)
    by_id = {it.id: it for it in model.items}
    for id in whole:
        out = by_id[id].expr.whole(env, T)
        env.items[id] = np.array(np.broadcast_to(out, (T, S)), dtype=np.float64)
    for id in monthly:
        env.items[id] = np.empty((T, S))
    exprs = [(env.items[id], by_id[id].expr) for id in monthly]
    for t in range(T):
        for arr, expr in exprs:
            arr[t] = expr.month(env, t)
    return env.items
