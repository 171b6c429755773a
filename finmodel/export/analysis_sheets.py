"""Workbook sheets for analyses (Tornado, Grid, Sobol, Monte Carlo) and their PNG plots.

These sheets hold the results of many engine runs (values, not formulas); each carries the
run's manifest. The scenario's own sheets stay a live model.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from finmodel.export.chart_text import ChartText
from finmodel.export.workbook import (
    MONEY,
    RATE,
    SizedSheet,
    _col,
    _header,
    _Styles,
    put_text,
    write_atomic,
)

SheetWriter = Callable[[Any], None]


def _header_at(ws: Any, st: _Styles, values: list[str], row: int, col: int) -> None:
    for j, v in enumerate(values, start=col):
        c = put_text(ws, f"{_col(j)}{row}", v)
        c.font, c.fill = st.head, st.head_fill


def _manifest(ws: Any, st: _Styles, manifest: dict[str, Any], col: int) -> None:
    put_text(ws, f"{_col(col)}1", "Manifest").font = st.bold
    for i, (k, v) in enumerate(manifest.items(), start=2):
        put_text(ws, f"{_col(col)}{i}", k)
        c = ws.cell(row=i, column=col + 1)
        if isinstance(v, bool) or v is None:
            put_text(ws, f"{_col(col + 1)}{i}", str(v))
        elif isinstance(v, int) and abs(v) > 2**53:
            # Excel keeps 15-17 significant digits: a seed above 2^53 is written as text,
            # exactly, so that the run can be repeated from the workbook
            put_text(ws, f"{_col(col + 1)}{i}", str(v))
        elif isinstance(v, int | float):
            c.value = v
        else:
            put_text(ws, f"{_col(col + 1)}{i}", v)


def tornado_sheet(df: pd.DataFrame, manifest: dict[str, Any]) -> SheetWriter:
    def write(wb: Any) -> None:
        from openpyxl.chart import BarChart, Reference

        st = _Styles()
        ws = wb.create_sheet("Tornado")
        metric = df.attrs.get("metric", "metric")
        _header(
            ws,
            st,
            [
                "Parameter",
                "Operation",
                "Low input",
                "High input",
                f"{metric} at low",
                f"{metric} at high",
                "Base",
                "Swing",
                "Low - base",
                "High - base",
            ],
        )
        nums = df[["low", "high", "metric_low", "metric_high", "base", "swing"]].to_numpy(float)
        rows = zip(df["parameter"], df["op"], nums, strict=True)
        for i, (name, op, line) in enumerate(rows, start=2):
            put_text(ws, f"A{i}", name)
            put_text(ws, f"B{i}", op)
            for j, v in enumerate(line, start=3):
                c = ws.cell(row=i, column=j, value=None if v != v else float(v))
                c.number_format = MONEY
            ws[f"I{i}"] = f'=IFERROR(E{i}-G{i},"")'
            ws[f"J{i}"] = f'=IFERROR(F{i}-G{i},"")'
        n = len(df)
        chart = BarChart()
        chart.type = "bar"
        chart.grouping = "clustered"
        chart.overlap = 100
        chart.title = f"Tornado: {metric} (change from base)"
        chart.add_data(
            Reference(ws, min_col=9, max_col=10, min_row=1, max_row=n + 1), titles_from_data=True
        )
        chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=n + 1))
        chart.y_axis.number_format = "#,##0"
        chart.x_axis.scaling.orientation = "maxMin"  # largest swing on top
        chart.height, chart.width = max(7.5, 0.6 * n), 22
        ws.add_chart(chart, f"A{n + 4}")
        ws.column_dimensions["A"].width = 46
        for c in "BCDEFGHIJ":
            ws.column_dimensions[c].width = 14
        _manifest(ws, st, manifest, 12)
        ws.freeze_panes = "B2"

    return write


def grid_sheet(df: pd.DataFrame, manifest: dict[str, Any]) -> SheetWriter:
    def write(wb: Any) -> None:
        from openpyxl.formatting.rule import ColorScaleRule

        st = _Styles()
        ws = wb.create_sheet("Grid")
        metric = df.attrs.get("metric", "metric")
        put_text(
            ws, "A1", f"{metric}: rows {df.index.name}, columns {df.columns.name}"
        ).font = st.bold
        put_text(ws, "A2", f"{df.index.name} \\ {df.columns.name}")
        for j, y in enumerate(df.columns.to_numpy(dtype=float), start=2):
            ws.cell(row=2, column=j, value=float(y)).font = st.bold
        z = df.to_numpy(dtype=float)
        for i, (x, line) in enumerate(zip(df.index.to_numpy(dtype=float), z, strict=True), start=3):
            ws.cell(row=i, column=1, value=float(x)).font = st.bold
            for j, v in enumerate(line, start=2):
                c = ws.cell(row=i, column=j, value=None if v != v else float(v))
                c.number_format = "#,##0.0"
        last = f"{_col(len(df.columns) + 1)}{len(df) + 2}"
        ws.conditional_formatting.add(
            f"B3:{last}",
            ColorScaleRule(
                start_type="min",
                start_color="63BE7B",
                mid_type="percentile",
                mid_value=50,
                mid_color="FFEB84",
                end_type="max",
                end_color="F8696B",
            ),
        )
        ws.freeze_panes = "B3"
        ws.column_dimensions["A"].width = 16
        _manifest(ws, st, manifest, len(df.columns) + 3)

    # A1, A2, the column heading row, a row heading and the values per row; the manifest
    nx, ny = df.shape
    return SizedSheet(write, 2 + ny + nx * (1 + ny) + 1 + 2 * len(manifest))


def sobol_sheet(
    indices: pd.DataFrame, metric: str, note: str | None, manifest: dict[str, Any]
) -> SheetWriter:
    def write(wb: Any) -> None:
        st = _Styles()
        ws = wb.create_sheet("Sobol")
        _header(ws, st, ["Parameter", "First order S1", "S1 95% conf", "Total ST", "ST 95% conf"])
        vals = indices[["S1", "S1_conf", "ST", "ST_conf"]].to_numpy(dtype=float)
        for i, (name, line) in enumerate(zip(indices.index, vals, strict=True), start=2):
            put_text(ws, f"A{i}", name)
            for j, v in enumerate(line, start=2):
                ws.cell(row=i, column=j, value=float(v)).number_format = "0.000"
        r = len(indices) + 3
        put_text(ws, f"A{r}", f"Metric: {metric}")
        if note:
            put_text(ws, f"A{r + 1}", note)
        ws.column_dimensions["A"].width = 46
        _manifest(ws, st, manifest, 8)

    return write


def montecarlo_sheet(mc: Any, labels: list[str]) -> SheetWriter:
    """The Monte Carlo sheet: monthly fan, P(cash out), the joint raise schedule and the
    per-month need quantile; the schedule by year; how many paths fall below the buffer
    under each (drawn and validation samples); the metric distributions; the manifest."""

    def write(wb: Any) -> None:
        from openpyxl.chart import LineChart, Reference

        st = _Styles()
        ws = wb.create_sheet("Monte Carlo")
        cols = [
            "Month",
            *mc.fan.columns,
            "P(cash out by month)",
            "Raise schedule (joint)",
            "Per-month need quantile (not joint)",
        ]
        _header(ws, st, cols)
        for i, m in enumerate(labels, start=2):
            put_text(ws, f"A{i}", m)
            for j, c in enumerate(mc.fan.columns, start=2):
                ws.cell(row=i, column=j, value=float(mc.fan.at[m, c])).number_format = MONEY
            k = len(mc.fan.columns) + 2
            ws.cell(row=i, column=k, value=float(mc.p_cash_out[m])).number_format = RATE
            for j, series in enumerate((mc.raise_schedule, mc.need_quantile), start=k + 1):
                ws.cell(row=i, column=j, value=float(series[m])).number_format = MONEY
        n = len(labels)
        fan = LineChart()
        fan.title = "Cash with no new money: percentiles across paths"
        fan.add_data(
            Reference(ws, min_col=2, max_col=1 + len(mc.fan.columns), min_row=1, max_row=n + 1),
            titles_from_data=True,
        )
        fan.set_categories(Reference(ws, min_col=1, min_row=2, max_row=n + 1))
        fan.x_axis.tickLblPos = "low"
        fan.y_axis.number_format = "#,##0"
        fan.height, fan.width = 9, 24
        ws.add_chart(fan, "K2")
        # below the chart, right of the monthly table (columns K onward)
        left, row = 11, 22
        cov = mc.coverage
        put_text(
            ws,
            f"{_col(left)}{row}",
            f"Raise schedule: at most {cov.alpha:.0%} of the drawn paths below the buffer in "
            "any month (joint over the months; the validation sample below is independent)",
        ).font = st.bold
        _header_at(
            ws,
            st,
            ["Year", "Raised by year end", "New money in year", "Per-month quantile (not joint)"],
            row + 1,
            left,
        )
        sched = mc.raise_by_year
        vals = sched[
            ["raise_by_year_end", "new_money_in_year", "need_quantile_at_year_end"]
        ].to_numpy(dtype=float)
        for i, (y, line) in enumerate(zip(sched.index, vals, strict=True), start=row + 2):
            ws.cell(row=i, column=left, value=int(y))
            for j, v in enumerate(line, start=left + 1):
                ws.cell(row=i, column=j, value=float(v)).number_format = MONEY
        r1 = row + 3 + len(sched)
        put_text(ws, f"{_col(left)}{r1}", "Paths below the buffer in some month").font = st.bold
        _header_at(
            ws,
            st,
            [
                "Schedule",
                "Drawn paths",
                "Breaches",
                "Share",
                "Allowed",
                "Validation paths",
                "Breaches",
                "Share",
                "95% CI low",
                "95% CI high",
            ],
            r1 + 1,
            left,
        )
        rows = (
            ("Raise schedule (joint)", cov.drawn, cov.validation, cov.allowed),
            ("Per-month quantile (not joint)", cov.drawn_quantile, cov.validation_quantile, None),
        )
        for i, (label, drawn, val, allowed) in enumerate(rows, start=r1 + 2):
            put_text(ws, f"{_col(left)}{i}", label)
            line = [
                drawn.paths,
                drawn.breaches,
                drawn.rate,
                allowed,
                val.paths,
                val.breaches,
                val.rate,
                *val.interval(0.95),
            ]
            for j, v in enumerate(line, start=left + 1):
                c = ws.cell(row=i, column=j, value=v)
                c.number_format = "0.00%" if isinstance(v, float) else "#,##0"
        put_text(
            ws,
            f"{_col(left)}{r1 + 4}",
            f"Validation: independent paths, plain random draws from {cov.validation_seed}; "
            "the interval is the exact (Clopper-Pearson) binomial one.",
        )
        summary = mc.summary()
        r0 = r1 + 6
        _header_at(ws, st, ["Metric", *summary.columns], r0, left)
        table = summary.to_numpy(dtype=float)
        for i, (name, line) in enumerate(zip(summary.index, table, strict=True), start=r0 + 1):
            put_text(ws, f"{_col(left)}{i}", name)
            for j, v in enumerate(line, start=left + 1):
                c = ws.cell(row=i, column=j, value=None if v != v else float(v))
                c.number_format = "#,##0.00"
        _manifest(ws, st, mc.manifest, 24)
        _fit_text_columns(ws)
        ws.freeze_panes = "B2"

    return write


def _fit_text_columns(ws: Any, lo: float = 10.0, hi: float = 60.0) -> None:
    """Widen each column to its longest text (headers, labels), within [lo, hi] characters."""
    widths: dict[int, int] = {}
    for row in ws.iter_rows():
        for c in row:
            if isinstance(c.value, str) and not c.value.startswith("="):
                widths[c.column] = max(widths.get(c.column, 0), len(c.value))
    for col, n in widths.items():
        ws.column_dimensions[_col(col)].width = min(hi, max(lo, n + 2.0))


def tornado_png(df: pd.DataFrame, path: Path) -> Path:
    """A tornado chart: bars from the base to the metric at low and high, largest on top.
    Text is drawn as :mod:`finmodel.export.chart_text` decides (never as empty boxes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = df.iloc[::-1]
    base = float(df["base"].iloc[0])
    ct = ChartText()
    labels = [ct.text(str(p)) for p in d["parameter"]]
    metric = ct.text(str(df.attrs.get("metric", "metric")))
    with ct.drawing():
        fig, ax = plt.subplots(figsize=(9, 0.4 * len(d) + 1.5))
        y = range(len(d))
        ax.barh(y, d["metric_low"] - base, left=base, color="#4472C4", label="low input")
        ax.barh(y, d["metric_high"] - base, left=base, color="#ED7D31", label="high input")
        ax.axvline(base, color="black", linewidth=0.8)
        ax.set_yticks(list(y), labels, fontsize=8)
        ax.set_xlabel(metric)
        ax.set_title(f"Tornado: {metric} (base {base:,.1f})")
        ax.legend(loc="lower right", fontsize=8)
        fig.tight_layout(rect=(0, ct.add_footnote(fig), 1, 1))
        return save_png(fig, path)


def fan_png(mc: Any, path: Path, unit: str) -> Path:
    """The Monte Carlo fan of cash with no new money: median, 25-75% and 5-95% bands by month;
    ``unit`` (the file's currency and unit) labels the axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ct = ChartText()
    ylabel = ct.text(unit)
    with ct.drawing():
        f = mc.fan
        x = range(len(f))
        fig, ax = plt.subplots(figsize=(10, 4.5))
        ax.fill_between(x, f["p5"], f["p95"], color="#4472C4", alpha=0.2, label="5-95%")
        ax.fill_between(x, f["p25"], f["p75"], color="#4472C4", alpha=0.4, label="25-75%")
        ax.plot(x, f["p50"], color="#1F3864", label="median")
        ax.axhline(0, color="black", linewidth=0.6)
        ticks = list(range(0, len(f), 12))
        ax.set_xticks(ticks, [f.index[i] for i in ticks])
        ax.set_ylabel(ylabel)
        m = mc.manifest
        ax.set_title(
            f"Cash with no new money: {m['draws']:,} paths, seed {m['seed']}, {m['sampler']}"
        )
        ax.legend(loc="lower left", fontsize=8)
        fig.tight_layout(rect=(0, ct.add_footnote(fig), 1, 1))
        return save_png(fig, path)


def save_png(fig: Any, path: Path, dpi: int = 110) -> Path:
    """Save a matplotlib figure atomically, without metadata that changes between runs, and
    close it."""
    import matplotlib.pyplot as plt

    try:
        write_atomic(
            path, lambda tmp: fig.savefig(tmp, format="png", dpi=dpi, metadata={"Software": None})
        )
    finally:
        plt.close(fig)
    return path
