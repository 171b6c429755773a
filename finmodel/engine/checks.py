"""Identity checks: each recomputes a quantity a second way and must agree.

* cash roll-forward: ``U_t = opening cash + sum_{s<=t}(FCF + inflows + net draws - interest)``;
* sources = uses, cumulatively each month: ``opening + sum(revenue + inflows + draws) + N_t``
  equals ``sum(cash costs + tax + capex + interest) + cash_t``;
* funding need: ``N`` equals its closed form ``max(0, running max(min_cash - U))``, never
  decreases, and keeps funded cash at or above the buffer;
* compute: ``compute cost = max(need, committed)`` and stranded compute is never negative;
* tax losses: ``losses_eop_t = opening losses + sum_{s<=t}(max(0, -pre-tax) - losses used)``,
  and losses of earlier years used never exceed the limit times the income they offset;
* annual = sum of months for every flow.

A failure raises :class:`~finmodel.errors.IdentityError` naming the scenario and the month.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from finmodel.engine.model import Model
from finmodel.errors import AssumptionError, IdentityError
from finmodel.funding import annual, funding_need

FloatArray = NDArray[np.float64]
RTOL = 1e-9


def check(model: Model, items: dict[str, FloatArray], inputs: FloatArray) -> None:
    """Run every identity on a projection ``items`` ((T, S) arrays) made from ``inputs`` (S, K)."""
    for it in model.items:
        bad = ~np.isfinite(items[it.id])
        if bad.any():
            t = int(np.nonzero(bad)[0][0])
            raise AssumptionError(
                f"scenario '{model.scenario}': line item '{it.id}' is not a finite number in "
                f"{model.timeline.labels[t]}: the inputs overflow (a growth rate or a value "
                "is too large for the horizon)"
            )
    names = model.params.names()
    col = {n: inputs[:, k] for k, n in enumerate(names)}
    opening = col["opening_cash"][None, :]
    min_cash = col["funding_min_cash"]

    def g(item: str) -> FloatArray:
        return items[item]

    flows = g("free_cash_flow") + g("committed_inflows") + g("facility_draws") - g("interest")
    scale = (
        1.0 + np.abs(opening) + np.cumsum(np.abs(flows), axis=0) + np.abs(g("revenue")).cumsum(0)
    )
    _close(
        model,
        "cash roll-forward",
        items["cash_unfunded"],
        opening + np.cumsum(flows, axis=0),
        scale,
    )
    sources = opening + np.cumsum(
        g("revenue") + g("committed_inflows") + g("facility_draws"), axis=0
    )
    uses = np.cumsum(g("cash_costs") + g("tax") + g("capex") + g("interest"), axis=0)
    _close(model, "sources = uses", sources + g("funding_need_cumulative"), uses + g("cash"), scale)
    n = items["funding_need_cumulative"]
    _close(
        model,
        "funding need (closed form)",
        n,
        funding_need(items["cash_unfunded"], min_cash),
        scale,
    )
    _holds(model, "funding need never decreases", np.diff(n, axis=0, prepend=0.0) >= -RTOL * scale)
    _holds(
        model, "funded cash at or above the buffer", g("cash") >= min_cash[None, :] - RTOL * scale
    )
    need, committed, cost = g("compute_need"), g("committed_payments"), g("compute_cost")
    _close(model, "compute cost = max(need, committed)", cost, np.maximum(need, committed), scale)
    _holds(model, "stranded compute not negative", g("stranded_compute") >= 0.0)
    loss = np.maximum(0.0, -g("pretax_income"))
    used = g("tax_losses_used_year") + g("tax_losses_used_prior")
    tax_scale = 1.0 + col["opening_tax_losses"][None, :] + np.cumsum(loss + used, axis=0)
    _close(
        model,
        "tax losses roll-forward",
        g("tax_losses_eop"),
        col["opening_tax_losses"][None, :] + np.cumsum(loss - used, axis=0),
        tax_scale,
    )
    limit = col["costs_loss_offset_limit"][None, :]
    left = g("pretax_profit") - g("tax_losses_used_year")
    _holds(
        model,
        "earlier losses used within the limit",
        g("tax_losses_used_prior") <= limit * left + RTOL * tax_scale,
    )
    for it in model.items:
        if it.kind == "flow":
            yearly = annual(items[it.id], model.timeline, "flow")
            total = items[it.id].sum(axis=0)
            if not np.allclose(yearly.sum(axis=0), total, rtol=1e-12, atol=1e-9):
                raise IdentityError(
                    f"annual = sum of months broken for '{it.id}' in scenario '{model.scenario}'"
                )


def _where(model: Model, bad: NDArray[np.bool_]) -> tuple[int, int, str]:
    t, s = (int(x[0]) for x in np.nonzero(bad))
    case = f" (case {s})" if bad.shape[1] > 1 else ""
    return t, s, f"scenario '{model.scenario}'{case}, {model.timeline.labels[t]}"


def _close(model: Model, what: str, a: FloatArray, b: FloatArray, scale: FloatArray) -> None:
    bad = np.abs(a - b) > RTOL * scale
    if bad.any():
        t, s, where = _where(model, bad)
        raise IdentityError(f"{what} broken in {where}: {a[t, s]:.6g} != {b[t, s]:.6g}")


def _holds(model: Model, what: str, ok: NDArray[np.bool_]) -> None:
    if not ok.all():
        raise IdentityError(f"{what} broken in {_where(model, ~ok)[2]}")
