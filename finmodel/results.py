"""Running a scenario and reading its results as pandas objects."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from pydantic import ValidationError

from finmodel import __version__
from finmodel.analysis import arguments as args
from finmodel.assumptions.loader import Document, Loaded, load_with_meta
from finmodel.assumptions.schema import Assumptions
from finmodel.engine.checks import check
from finmodel.engine.evaluate import evaluate
from finmodel.engine.model import Model
from finmodel.errors import ArgumentError, ArgumentKeyError, ArgumentTypeError, AssumptionError
from finmodel.funding import NEVER, annual, breakeven_year, cash_out_index
from finmodel.targets import BALANCE_METRICS, TargetResult, parse_period
from finmodel.timeline import month_index, month_label, parse_month

FloatArray = NDArray[np.float64]

HEADLINE_METRICS = (
    "cash_out_month",
    "runway_months",
    "as_of",
    "breakeven_year",
    "trough_unfunded_cash",
    "peak_funding_need",
    "commitments_total",
    "stranded_compute_total",
)
"""The metrics of ``--json`` and of the side-by-side comparison, in that order."""

MONTH_METRICS = frozenset({"cash_out_month", "as_of", "trough_month"})
"""The headline metrics whose value is a month (``YYYY-MM``, or None: never), not a number."""

JSON_ANNUAL = (
    "revenue",
    "net_income",
    "net_income_ex_sbc",
    "free_cash_flow",
    "burn",
    "compute_cost",
    "committed_payments",
    "stranded_compute",
    "funding_need",
    "funding_gap",
    "cash_unfunded",
    "cash",
)


@dataclass
class Results:
    """One projected scenario.

    ``monthly`` (months x line items), ``annual`` (line items x years), ``summary``
    (metrics), ``funding_schedule`` (by year) and ``targets`` are pandas objects.
    """

    model: Model
    assumptions: Assumptions
    items: dict[str, FloatArray]  # (T, 1) each
    input_sha256: str | None = None
    path: Path | None = None
    document: Document | None = None

    @property
    def name(self) -> str:
        return self.model.scenario

    def series(self, item: str) -> FloatArray:
        """Monthly values of one line item, shape (T,). An unknown ``item`` is an
        :class:`~finmodel.errors.ArgumentKeyError` (also a ``KeyError``) naming the nearest
        line items.

        >>> res = run("hsbc-2025-11")
        >>> res.series("revenue").shape
        (66,)
        >>> res.series("revenu")
        Traceback (most recent call last):
        finmodel.errors.ArgumentKeyError: item: expected a line item of scenario 'HSBC ...
        """
        name = args.text("item", item, "a line item's name")
        if name not in self.items:
            raise _unknown(
                "item", name, f"a line item of scenario {self.name!r}", self.items, ".monthly"
            )
        return self.items[name][:, 0]

    @cached_property
    def monthly(self) -> pd.DataFrame:
        df = pd.DataFrame({id: self.items[id][:, 0] for id in self.model.ids})
        df.index = pd.Index(self.model.timeline.labels, name="month")
        return df

    @cached_property
    def annual(self) -> pd.DataFrame:
        tl = self.model.timeline
        rows = {it.id: annual(self.items[it.id], tl, it.kind)[:, 0] for it in self.model.items}
        rows["funding_gap"] = rows["funding_need_cumulative"]
        df = pd.DataFrame.from_dict(rows, orient="index", columns=tl.years)
        df.index.name = "line_item"
        return df

    @cached_property
    def metrics(self) -> dict[str, Any]:
        """Headline metrics (plain Python values; None where a date never comes)."""
        tl = self.model.timeline
        u = self.items["cash_unfunded"]
        min_cash = self.model.params["funding_min_cash"].value
        as_of = self.model.as_of
        need = self.items["funding_need_cumulative"]
        idx = int(cash_out_index(u, np.array([min_cash]), after=as_of, need=need)[0])
        be = float(breakeven_year(self.annual.loc[["free_cash_flow"]].to_numpy().T, tl.years)[0])
        amounts = [
            self.model.params[n].value for ns in self.model.commitment_amounts.values() for n in ns
        ]
        return {
            "cash_out_month": None if idx == NEVER else tl.labels[idx],
            "runway_months": None if idx == NEVER else idx - as_of - 1,
            "as_of": month_label(tl.first + as_of),
            "breakeven_year": None if math.isnan(be) else int(be),
            "trough_unfunded_cash": float(u.min()),
            "trough_month": tl.labels[int(np.argmin(u[:, 0]))],
            "peak_funding_need": float(self.items["funding_need_cumulative"][-1, 0]),
            "commitments_total": float(math.fsum(amounts)),
            "stranded_compute_total": float(self.items["stranded_compute"].sum()),
            "min_cash": min_cash,
        }

    @cached_property
    def summary(self) -> pd.Series:
        return pd.Series(self.metrics, name=self.name)

    @cached_property
    def funding_schedule(self) -> pd.DataFrame:
        """By year: new funding needed, cumulative funding gap, and year-end cash."""
        a = self.annual
        df = pd.DataFrame(
            {
                "funding_need": a.loc["funding_need"],
                "funding_gap": a.loc["funding_gap"],
                "free_cash_flow": a.loc["free_cash_flow"],
                "committed_inflows": a.loc["committed_inflows"],
                "cash_unfunded": a.loc["cash_unfunded"],
                "cash": a.loc["cash"],
            }
        )
        df.index.name = "year"
        return df

    def target_results(self) -> list[TargetResult]:
        out = []
        for t in self.assumptions.targets:
            out.append(
                TargetResult(
                    t.metric,
                    None if t.period is None else str(t.period),
                    float(t.value),
                    self.metric_value(t.metric, t.period),
                    float(t.tolerance),
                    t.source,
                )
            )
        return out

    @cached_property
    def targets(self) -> pd.DataFrame:
        rows = [
            {
                "metric": r.metric,
                "period": r.period,
                "published": r.published,
                "model": r.model,
                "difference": r.difference,
                "tolerance": r.tolerance,
                "ok": r.ok,
                "source": r.source,
            }
            for r in self.target_results()
        ]
        return pd.DataFrame(
            rows,
            columns=[
                "metric",
                "period",
                "published",
                "model",
                "difference",
                "tolerance",
                "ok",
                "source",
            ],
        )

    def metric_value(self, metric: str, period: int | str | None = None) -> float | None:
        """The model's value of a target metric over a period (see :mod:`finmodel.targets`):
        a headline metric (``cash_out_month``) or a line item of :attr:`annual`, summed over
        the period's years (flows) or at its last year (balances). An unknown ``metric`` is
        an :class:`~finmodel.errors.ArgumentKeyError` naming the nearest ones."""
        args.text("metric", metric, "a metric's name")
        if metric not in self.metrics and metric not in self.annual.index:
            known = [*self.metrics, *self.annual.index]
            raise _unknown(
                "metric", metric, "a metric or a line item", known, ".metrics and .annual"
            )
        if metric in self.metrics and metric not in self.annual.index:
            v = self.metrics[metric]
            if metric in MONTH_METRICS:
                raise ArgumentError(
                    "metric",
                    f"expected a metric with a number for its value, got {metric!r} "
                    f"(a month: .metrics[{metric!r}] is {v!r})",
                )
            return None if v is None else float(v)
        years = self.model.timeline.years
        if period is not None and (
            isinstance(period, bool) or not isinstance(period, int | str | np.integer)
        ):
            raise ArgumentTypeError(
                "period", f"expected a year or a span of years like '2025-2029', got {period!r}"
            )
        try:
            span = parse_period(int(period) if isinstance(period, np.integer) else period)
        except ValueError as e:
            raise ArgumentError("period", str(e)) from None
        lo, hi = span if span is not None else (years[0], years[-1])
        if not years[0] <= lo <= hi <= years[-1]:
            raise ArgumentError(
                "period",
                f"expected years within the horizon {years[0]}..{years[-1]}, got {period!r}",
            )
        a = self.annual
        if metric in BALANCE_METRICS:
            return _num(a.at[metric, hi])
        return math.fsum(_num(a.at[metric, y]) for y in range(lo, hi + 1))

    def valuation(self) -> dict[str, Any]:
        """The valuation of this run (needs ``valuation:``), computed once:

        ``dcf`` (:class:`~finmodel.valuation.DCF`); ``inflows`` (each inflow's kind and
        treatment); ``walk`` (the share walk, :class:`~finmodel.equity.Walk`); ``rounds``
        (every issue of new shares after the valuation date with its pricing rule);
        ``cap_table``; ``dilution`` (of the holders at the valuation date, by the horizon);
        ``returns`` (investor returns after the liquidation preference, None without an
        exit); ``commitments`` (take-or-pay present values; ``attrs`` hold the coverage and
        its window). A pricing rule that cannot apply raises an error located in the file.
        """
        return self._valuation

    @cached_property
    def _valuation(self) -> dict[str, Any]:
        from finmodel import valuation as val

        v = self.assumptions.valuation
        if v is None:
            raise AssumptionError(f"{self.name}: expected a 'valuation' section")
        try:
            w = val.equity_walk(self)
            return {
                "dcf": val.dcf(self),
                "walk": w,
                "rounds": val.rounds_table(w),
                "cap_table": val.cap_table(self, w),
                "dilution": float(w.dilution()[0]),
                "returns": val.investor_returns(self, w) if v.exit is not None else None,
                "commitments": val.commitments_pv(self),
                "inflows": val.inflows_table(self),
            }
        except AssumptionError as e:
            raise AssumptionError(self.locate(str(e))) from None

    def locate(self, message: str) -> str:
        """``message`` with ``file:line:`` before each line that starts with a field path
        of this run's file (a line already located is left as it is)."""
        if self.document is None:
            return message
        from finmodel.assumptions.loader import locate

        return locate(self.document, message)

    def to_json(self) -> dict[str, Any]:
        """The JSON document of ``finmodel run --json``."""
        a = self.annual
        m = self.metrics
        out: dict[str, Any] = {
            "scenario": self.name,
            "finmodel_version": __version__,
            "input_sha256": self.input_sha256,
            "metrics": {k: m[k] for k in HEADLINE_METRICS},
            "annual": {k: {str(y): _num(a.at[k, y]) for y in a.columns} for k in JSON_ANNUAL},
            "targets": [
                {
                    "metric": r.metric,
                    "period": r.period,
                    "published": r.published,
                    "model": r.model,
                    "tolerance": r.tolerance,
                    "ok": r.ok,
                }
                for r in self.target_results()
            ],
        }
        if self.assumptions.valuation is not None:
            out["valuation"] = self.valuation_json()
        return out

    def valuation_json(self) -> dict[str, Any]:
        """The ``valuation`` object of the JSON outputs."""
        v = self.valuation()
        d = v["dcf"]
        com = v["commitments"]
        ret = v["returns"]
        return {
            **{k: x for k, x in d.as_dict().items()},
            "dilution_by_horizon": v["dilution"],
            "inflows": v["inflows"].to_dict(orient="records"),
            "rounds": v["rounds"].to_dict(orient="records"),
            "cap_table": {
                h: {c: float(x) for c, x in row.items()} for h, row in v["cap_table"].iterrows()
            },
            "investor_returns": None if ret is None else ret.to_dict(orient="records"),
            "preference": None if ret is None else ret.attrs["terms"],
            "common_proceeds": None if ret is None else ret.attrs["common_proceeds"],
            "commitments": com.to_dict(orient="records"),
            "commitment_coverage": com.attrs["coverage"],
            "coverage_window": com.attrs["window"],
            "pv_fcf_before_commitments": com.attrs["pv_fcf_before_commitments"],
            "pv_take_or_pay_in_horizon": com.attrs["pv_take_or_pay_in_horizon"],
            "pv_take_or_pay_after_horizon": com.attrs["pv_take_or_pay_after_horizon"],
        }

    def to_excel(self, path: str | Path) -> Path:
        """Write the live workbook (formulas, not pasted numbers) atomically to ``path``."""
        from finmodel.export.workbook import write_workbook

        p = args.path("path", path, "a workbook path ending in .xlsx")
        if p.suffix.lower() != ".xlsx":
            raise ArgumentError("path", f"expected a workbook path ending in .xlsx, got {str(p)!r}")
        return write_workbook([self], p)


def _unknown(
    argument: str, name: str, what: str, known: Iterable[str], listed: str
) -> ArgumentKeyError:
    """The error for a ``name`` not among ``known``, naming the nearest (difflib), or how
    many there are and where they are ``listed`` when none is near."""
    names = list(known)
    near = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    if not near:  # a word of the name (``cash`` in ``cash_end``), as the nearest
        near = [k for k in names if any(w and w in k for w in name.split("_"))][:3]
    hint = f"; nearest: {', '.join(near)}" if near else f" ({len(names)} in all: see {listed})"
    return ArgumentKeyError(argument, f"expected {what}, got {name!r}{hint}")


def _num(x: object) -> float:
    """A pandas cell as a float (for the type checker: cells are typed as any scalar)."""
    return float(x)  # type: ignore[arg-type]


def run(
    source: str | Path | Assumptions,
    adjust: dict[str, dict[str, float]] | None = None,
    as_of: str | None = None,
    pricing: str | None = None,
) -> Results:
    """Project one scenario (a file path, a shipped scenario's name, or loaded assumptions).

    ``adjust`` changes inputs by parameter path, as a file's ``adjust:`` section does:
    ``{"revenue.annual": {"scale": 0.8}, "funding.min_cash": {"set": 10}}``.
    ``as_of`` (``YYYY-MM``) counts runway from the end of that month instead of the file's
    ``opening.as_of`` (default: the opening balance date, the month before the start).
    ``pricing`` prices every equity inflow without a valuation of its own by one rule (see
    :func:`with_pricing`).

    >>> res = run("openai-plan-2025q3")
    >>> res.metrics["breakeven_year"]
    2030
    >>> half = run("openai-plan-2025q3", adjust={"revenue.scale": {"scale": 0.5}})
    >>> half.metrics["breakeven_year"] is None, round(half.metrics["peak_funding_need"])
    (True, 138)
    """
    if isinstance(source, Assumptions):
        loaded = Loaded(source, None, None, ())
    elif isinstance(source, str | PathLike):
        loaded = load_with_meta(source)
    else:
        raise ArgumentTypeError(
            "source",
            "expected a file path, a shipped scenario's name or Assumptions, "
            f"got {type(source).__name__}",
        )
    if adjust is not None and not isinstance(adjust, Mapping):
        raise ArgumentTypeError(
            "adjust",
            "expected a mapping of parameter paths to changes such as "
            f"{{'revenue.annual': {{'scale': 0.8}}}}, got {adjust!r}",
        )
    if adjust:
        loaded = with_adjustments(loaded, adjust)
    if as_of is not None:
        loaded = with_as_of(loaded, as_of)
    if pricing is not None:
        loaded = with_pricing(loaded, pricing)
    return run_loaded(loaded)


def with_as_of(loaded: Loaded, as_of: str) -> Loaded:
    """The same scenario with runway counted from the end of month ``as_of`` (``YYYY-MM``)."""
    a = loaded.assumptions
    month = args.text("as_of", as_of, "a month 'YYYY-MM'")
    try:
        m = month_index(*parse_month(month))
    except ValueError as e:
        raise ArgumentError("as_of", str(e)) from None
    first, last = month_index(*parse_month(a.start)), month_index(*parse_month(a.end))
    if not first - 1 <= m <= last - 1:
        raise ArgumentError(
            "as_of",
            f"expected a month from {month_label(first - 1)} (the opening balance date) to "
            f"{month_label(last - 1)} (the month before the end), got {as_of}",
        )
    opening = a.opening.model_copy(update={"as_of": as_of})
    new = a.model_copy(update={"opening": opening})
    return Loaded(new, loaded.path, loaded.sha256, loaded.files, loaded.document)


def with_pricing(loaded: Loaded, rule: str) -> Loaded:
    """The same scenario with every equity inflow that has no valuation of its own priced
    by ``rule``: ``last_round``, ``raise_policy``, both in order (``last_round,raise_policy``),
    ``pre_money=X`` or ``post_money=X`` (a valuation in the file's unit, before the
    inflow's first arrival or after its whole amount).

    >>> from finmodel.assumptions import load_with_meta
    >>> a = with_pricing(load_with_meta("openai-plan-2025q3"), "pre_money=500").assumptions
    >>> [(f.name, f.pre_money.value) for f in a.funding.inflows if f.pricing is None
    ...  and f.pre_money is not None and f.pre_money.value == 500]
    [('NVIDIA', 500.0)]
    """
    from finmodel.assumptions.schema import Inflow

    rule = args.text("pricing", rule, "a pricing rule such as 'last_round'")
    key, eq, text = rule.partition("=")
    key = key.strip()
    if eq:
        if key not in ("pre_money", "post_money"):
            raise ArgumentError(
                "pricing",
                f"expected last_round, raise_policy, pre_money=X or post_money=X, got {rule!r}",
            )
        try:
            x = float(text)
        except ValueError:
            raise ArgumentError(
                "pricing", f"expected a number after {key}=, got {text.strip()!r}"
            ) from None
        change: dict[str, Any] = {key: {"value": x, "source": f"pricing rule {rule}"}}
    else:
        change = {"pricing": [r.strip() for r in rule.split(",")]}
    a = loaded.assumptions
    inflows = []
    for f in a.funding.inflows:
        if f.kind == "equity" and f.rule != ("own",):
            data = f.model_dump(exclude_none=True, exclude_defaults=True)
            data.pop("pricing", None)
            try:
                f = Inflow.model_validate({**data, "name": f.name, **change})
            except ValueError as e:
                why = _first_error(e).removeprefix("pricing: ")  # the argument is the field
                raise ArgumentError("pricing", why, f"pricing {rule}") from None
        inflows.append(f)
    v = a.valuation
    if "raise_policy" in change.get("pricing", []) and (v is None or v.raise_policy is None):
        raise ArgumentError(
            "pricing",
            "expected a valuation.raise_policy to price by 'raise_policy', got none",
            f"pricing {rule}",
        )
    new = a.model_copy(update={"funding": a.funding.model_copy(update={"inflows": inflows})})
    return Loaded(new, loaded.path, loaded.sha256, loaded.files, loaded.document)


def _first_error(e: ValueError) -> str:
    from pydantic import ValidationError

    if isinstance(e, ValidationError):
        err = e.errors(include_url=False)[0]
        where = ".".join(str(x) for x in err["loc"] if not str(x).startswith("function-"))
        msg = str(err["msg"]).removeprefix("Value error, ")
        return f"{where}: {msg}" if where else msg
    return str(e)


def with_adjustments(loaded: Loaded, adjust: dict[str, dict[str, float]]) -> Loaded:
    """The same scenario with more ``adjust`` entries (validated; paths checked on build)."""
    from finmodel.assumptions.schema import Adjustment

    merged = dict(loaded.assumptions.adjust)
    for path, change in adjust.items():
        try:
            merged[path] = Adjustment.model_validate(change)
        except ValidationError as e:
            why = "; ".join(str(x["msg"]).removeprefix("Value error, ") for x in e.errors())
            raise AssumptionError(f"adjust.{path}: {why}") from None
    a = loaded.assumptions.model_copy(update={"adjust": merged})
    args.model_of(a)  # unknown paths fail here, listing the nearest
    return Loaded(a, loaded.path, loaded.sha256, loaded.files, loaded.document)


def run_loaded(loaded: Loaded) -> Results:
    """Project a loaded scenario: build its model, apply its ``adjust:`` section
    (:func:`~finmodel.analysis.arguments.model_of`), evaluate, check the identities."""
    model = args.model_of(loaded.assumptions)
    values = model.params.vector()[None, :]
    items = evaluate(model, values)
    check(model, items, values)
    return Results(model, loaded.assumptions, items, loaded.sha256, loaded.path, loaded.document)
