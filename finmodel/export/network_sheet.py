"""The Exposures sheet: the obligation matrix over the horizon, exposures per party, the
cascade's results per party, per year (with each party's cash carried) and per loan, and
the manifest."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from finmodel.export.workbook import MONEY, RATE, _col, _header, _Styles, put_text


def exposures_sheet(
    g: Any,
    exp: pd.DataFrame,
    rep: dict[str, Any],
    mc: pd.DataFrame | None,
    manifest: dict[str, Any],
) -> Any:
    def write(wb: Any) -> None:
        st = _Styles()
        ws = wb.create_sheet("Exposures")
        n = len(g.parties)
        put_text(ws, "A1", "Obligations over the horizon: row pays column").font = st.bold
        _header(ws, st, ["payer \\ payee", *g.parties], row=2)
        tot = g.L.sum(axis=0)
        for i, p in enumerate(g.parties, start=3):
            put_text(ws, f"A{i}", p)
            for j in range(n):
                ws.cell(row=i, column=2 + j, value=float(tot[i - 3, j])).number_format = "#,##0.0"
        row = n + 5
        row = _table(ws, st, "Exposure to the company", exp, row)
        row = _table(ws, st, f"Cascade (total loss {rep['total_loss']:,.2f})", rep["parties"], row)
        row = _table(ws, st, "Cascade by year", rep["years"], row)
        row = _table(ws, st, "Cash at the end of each year (carried forward)", rep["cash"], row)
        if len(rep["loans"]):
            row = _table(ws, st, "Secured loans", rep["loans"].set_index("lender"), row)
        if mc is not None:
            row = _table(ws, st, "Shortfall received under uncertainty", mc, row)
        put_text(ws, f"A{row}", "Manifest").font = st.bold
        for k, (key, v) in enumerate(manifest.items(), start=row + 1):
            put_text(ws, f"A{k}", key)
            put_text(ws, f"B{k}", v)
        ws.column_dimensions["A"].width = 24
        for j in range(2, n + 3):
            ws.column_dimensions[_col(j)].width = 14
        ws.freeze_panes = "B3"

    return write


def _table(ws: Any, st: _Styles, title: str, df: pd.DataFrame, row: int) -> int:
    put_text(ws, f"A{row}", title).font = st.bold
    _header(ws, st, [str(df.index.name or ""), *map(str, df.columns)], row=row + 1)
    for i, (idx, rec) in enumerate(
        zip(df.index, df.to_dict(orient="records"), strict=True), start=row + 2
    ):
        put_text(ws, f"A{i}", idx)
        for j, (k, v) in enumerate(rec.items(), start=2):
            if isinstance(v, str) or v is None:
                if v is not None:
                    put_text(ws, f"{_col(j)}{i}", v)
            elif isinstance(v, bool | np.bool_):
                ws.cell(row=i, column=j, value=bool(v))
            else:
                c = ws.cell(row=i, column=j, value=None if v != v else float(v))
                key = str(k)
                if key in ("defaults", "years_in_default"):
                    c.number_format = "0"
                else:
                    c.number_format = RATE if ("share" in key or key.startswith("p_")) else MONEY
    return row + len(df) + 3
