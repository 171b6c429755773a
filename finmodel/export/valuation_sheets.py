"""The Cap table sheet: rounds, ownership after each round, investor returns and the
commitments as obligations (values computed by finmodel.valuation)."""

from __future__ import annotations

from typing import Any

from finmodel.export.workbook import MONEY, RATE, _col, _header, _Styles, put_text


def cap_table_sheet(v: dict[str, Any], prefix: str = "") -> Any:
    def write(wb: Any) -> None:
        name = f"{prefix}Cap table"
        if name in wb.sheetnames:
            del wb[name]
        ws = wb.create_sheet(name)
        fill(ws, v)

    return write


def fill(ws: Any, v: dict[str, Any]) -> None:
    st = _Styles()
    rounds = v["rounds"]
    _header(ws, st, ["Round", "Month", "Amount", "Pre-money", "Post-money", "From the policy"])
    for i, r in enumerate(rounds.to_dict(orient="records"), start=2):
        put_text(ws, f"A{i}", r["round"])
        put_text(ws, f"B{i}", r["month"])
        for j, k in enumerate(("amount", "pre_money", "post_money"), start=3):
            ws.cell(row=i, column=j, value=float(r[k])).number_format = MONEY
        ws.cell(row=i, column=6, value=bool(r["from_policy"]))
    row = len(rounds) + 3
    table = v["cap_table"]
    put_text(
        ws,
        f"A{row}",
        f"Ownership (dilution to existing holders by the horizon: {v['dilution']:.1%})",
    ).font = st.bold
    _header(ws, st, ["Holder", *[str(c) for c in table.columns]], row=row + 1)
    vals = table.to_numpy(dtype=float)
    for i, (h, line) in enumerate(zip(table.index, vals, strict=True), start=row + 2):
        put_text(ws, f"A{i}", h)
        for j, x in enumerate(line, start=2):
            ws.cell(row=i, column=j, value=float(x)).number_format = "0.00%"
    total = row + 2 + len(table)
    put_text(ws, f"A{total}", "Total").font = st.bold
    for j in range(2, 2 + len(table.columns)):
        c = ws.cell(row=total, column=j, value=f"=SUM({_col(j)}{row + 2}:{_col(j)}{total - 1})")
        c.number_format = "0.00%"
    row = total + 2
    ret = v["returns"]
    if ret is not None and len(ret):
        put_text(ws, f"A{row}", "Investor returns at the exit").font = st.bold
        cols = [
            "round",
            "month",
            "amount",
            "post_money",
            "stake_at_exit",
            "proceeds",
            "multiple",
            "irr",
        ]
        _header(ws, st, cols, row=row + 1)
        for i, r in enumerate(ret.to_dict(orient="records"), start=row + 2):
            for j, k in enumerate(cols, start=1):
                x = r[k]
                if isinstance(x, str):
                    put_text(ws, f"{_col(j)}{i}", x)
                else:
                    c = ws.cell(row=i, column=j, value=None if x is None else float(x))
                    c.number_format = (
                        RATE
                        if k in ("stake_at_exit", "irr")
                        else ('0.00"x"' if k == "multiple" else MONEY)
                    )
        row += len(ret) + 3
    com = v["commitments"]
    put_text(
        ws,
        f"A{row}",
        f"Take-or-pay commitments: coverage {com.attrs['coverage']:.2f} "
        f"(PV of FCF before commitments "
        f"{com.attrs['pv_fcf_before_commitments']:,.2f})",
    ).font = st.bold
    cols = [
        "counterparty",
        "contract_value",
        "after_valuation_date",
        "present_value",
        "share_of_pv",
    ]
    _header(ws, st, cols, row=row + 1)
    for i, r in enumerate(com.to_dict(orient="records"), start=row + 2):
        put_text(ws, f"A{i}", r["counterparty"])
        for j, k in enumerate(cols[1:], start=2):
            ws.cell(row=i, column=j, value=float(r[k])).number_format = (
                RATE if k == "share_of_pv" else MONEY
            )
    ws.column_dimensions["A"].width = 34
    for j in range(2, 10):
        ws.column_dimensions[_col(j)].width = 22
