"""Properties over random valid scenarios (hypothesis): identities hold, the funding need is
never negative and never decreases, more opening cash never shortens the runway."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import finmodel
from finmodel.assumptions.schema import Assumptions
from finmodel.engine.checks import check
from finmodel.engine.evaluate import evaluate
from finmodel.engine.model import build
from finmodel.funding import funding_need

money = st.floats(0, 50, allow_nan=False)
share = st.floats(0, 0.6, allow_nan=False)


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    y0 = draw(st.integers(2024, 2030))
    n_years = draw(st.integers(1, 4))
    m0 = draw(st.integers(1, 12))
    years = list(range(y0, y0 + n_years))
    end_year = years[-1]

    def path(values: st.SearchStrategy[float]) -> dict[int, float]:
        ys = draw(st.lists(st.sampled_from(years), min_size=1, max_size=len(years), unique=True))
        return {y: draw(values) for y in ys}

    def month() -> str:
        y = draw(st.sampled_from(years))
        lo = m0 if y == y0 else 1
        return f"{y}-{draw(st.integers(lo, 12)):02d}"

    doc: dict[str, Any] = {
        "name": "random",
        "company": "R",
        "start": f"{y0}-{m0:02d}",
        "end": f"{end_year}-12",
        "opening": {"cash": draw(money), "tax_losses": draw(money)},
        "revenue": {"annual": path(money)},
        "costs": {
            "cost_of_revenue": {"share_of_revenue": path(share)},
            "compute": {"annual": path(money), "share_of_revenue": path(share)},
            "staff": {"annual": path(money)},
            "stock_comp": {"annual": path(money)},
            "tax_rate": draw(share),
        },
        "commitments": [
            {
                "counterparty": f"c{i}",
                "amount": draw(money),
                "start": month(),
                "years": draw(st.integers(1, 5)),
                "profile": draw(st.sampled_from(["flat", "ramp"])),
                "take_or_pay": draw(st.booleans()),
            }
            for i in range(draw(st.integers(0, 3)))
        ],
        "funding": {
            "min_cash": draw(st.floats(0, 10)),
            "inflows": [
                {"name": f"i{i}", "amount": draw(money), "date": month()}
                for i in range(draw(st.integers(0, 3)))
            ],
            "facilities": [
                {"name": f"f{i}", "limit": draw(money), "rate": draw(share)}
                for i in range(draw(st.integers(0, 2)))
            ],
        },
    }
    if draw(st.booleans()):
        doc["costs"]["capex"] = {"annual": path(money), "life_years": draw(st.integers(1, 6))}
    return doc


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_identities_and_funding_need(doc: dict[str, Any]) -> None:
    a = Assumptions.model_validate(doc)
    res = finmodel.run(a)  # run() raises IdentityError if any identity fails
    u = res.series("cash_unfunded")
    n = res.series("funding_need_cumulative")
    assert np.all(n >= 0)
    assert np.all(np.diff(n) >= -1e-9)
    assert np.allclose(
        n,
        funding_need(u[:, None], np.array([doc["funding"]["min_cash"]]))[:, 0],
        rtol=1e-12,
        atol=1e-9,
    )
    assert np.all(res.series("cash") >= doc["funding"]["min_cash"] - 1e-9)
    assert np.all(res.series("stranded_compute") >= 0)
    for it in res.model.items:
        assert np.all(np.isfinite(res.series(it.id))), it.id


@settings(max_examples=60, deadline=None)
@given(scenarios(), st.floats(0.01, 100))
def test_more_opening_cash_never_shortens_the_runway(doc: dict[str, Any], extra: float) -> None:
    model = build(Assumptions.model_validate(doc))
    v = model.params.vector()
    k = model.params.names().index("opening_cash")
    richer = v.copy()
    richer[k] += extra
    values = np.stack([v, richer])
    items = evaluate(model, values)
    check(model, items, values)
    from finmodel.funding import runway_months

    r = runway_months(
        items["cash_unfunded"], values[:, model.params.names().index("funding_min_cash")]
    )
    poor, rich = (math.inf if math.isnan(x) else x for x in r)
    assert rich >= poor
    assert items["funding_need_cumulative"][-1, 1] <= items["funding_need_cumulative"][-1, 0] + 1e-9
