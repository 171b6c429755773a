"""The Cap table sheet: inflows by kind, every issue of new shares with its pricing rule,
ownership after each issue, investor returns with the liquidation preference, and the
commitments as obligations (values computed by finmodel.equity and finmodel.valuation)."""

from __future__ import annotations

from typing import Any

from finmodel.export.workbook import MONEY, RATE, _col, _header, _Styles, put_text

MULTIPLE = '0.00"x"'


def cap_table_sheet(v: dict[str, Any], prefix: str = "") -> Any:
    def write(wb: Any) -> None:
        name = f"{prefix}Cap table"
        if name in wb.sheetnames:
            del wb[name]
        ws = wb.create_sheet(name)
        fill(ws, v)

    return write


def _table(
    ws: Any, st: _Styles, row: int, records: list[dict[str, Any]], cols: dict[str, str]
) -> int:
    """Write ``records`` under a header at ``row``; ``cols`` maps a key to its number format
    ("@" for text, "bool" for TRUE/FALSE). Returns the first row after the table."""
    _header(ws, st, list(cols), row=row)
    for i, r in enumerate(records, start=row + 1):
        for j, (k, fmt) in enumerate(cols.items(), start=1):
            x = r[k]
            if fmt == "@":
                put_text(ws, f"{_col(j)}{i}", str(x))
            elif fmt == "bool":
                ws.cell(row=i, column=j, value=bool(x))
            else:
                ok = x is not None and x == x  # NaN and None are left blank
                c = ws.cell(row=i, column=j, value=float(x) if ok else None)
                c.number_format = fmt
    return row + 1 + len(records)


def fill(ws: Any, v: dict[str, Any]) -> None:
    st = _Styles()
    row = 1
    put_text(ws, f"A{row}", "Inflows by kind (only equity dilutes)").font = st.bold
    row = _table(
        ws,
        st,
        row + 1,
        v["inflows"].to_dict(orient="records"),
        {
            "inflow": "@",
            "kind": "@",
            "in_horizon": MONEY,
            "after_valuation_date": MONEY,
            "dilutes": "bool",
            "treatment": "@",
        },
    )
    row += 1
    put_text(ws, f"A{row}", "Issues of new shares after the valuation date").font = st.bold
    row = _table(
        ws,
        st,
        row + 1,
        v["rounds"].to_dict(orient="records"),
        {
            "round": "@",
            "month": "@",
            "amount": MONEY,
            "pre_money": MONEY,
            "post_money": MONEY,
            "pricing": "@",
            "from_policy": "bool",
        },
    )
    row += 1
    table = v["cap_table"]
    put_text(
        ws,
        f"A{row}",
        f"Ownership (dilution to the holders at the valuation date by the horizon: "
        f"{v['dilution']:.2%})",
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
        put_text(
            ws, f"A{row}", f"Investor returns at the exit (preference: {ret.attrs['terms']})"
        ).font = st.bold
        row = _table(
            ws,
            st,
            row + 1,
            ret.to_dict(orient="records"),
            {
                "round": "@",
                "month": "@",
                "amount": MONEY,
                "stake_at_exit": RATE,
                "preference": MONEY,
                "proceeds": MONEY,
                "takes": "@",
                "multiple": MULTIPLE,
                "irr": RATE,
            },
        )
        put_text(ws, f"A{row}", "Holders at the valuation date (common)")
        ws.cell(row=row, column=4, value=float(ret.attrs["common_stake"])).number_format = RATE
        ws.cell(row=row, column=6, value=float(ret.attrs["common_proceeds"])).number_format = MONEY
        row += 2
    com = v["commitments"]
    a = com.attrs
    put_text(
        ws,
        f"A{row}",
        f"Take-or-pay commitments: coverage {a['coverage']:.2f} over {a['window']} "
        f"(PV of FCF before commitments {a['pv_fcf_before_commitments']:,.2f} / PV of "
        f"take-or-pay payments {a['pv_take_or_pay_in_horizon']:,.2f}, same months); PV due "
        f"after the horizon {a['pv_take_or_pay_after_horizon']:,.2f} (not in the ratio)",
    ).font = st.bold
    _table(
        ws,
        st,
        row + 1,
        com.to_dict(orient="records"),
        {
            "counterparty": "@",
            "contract_value": MONEY,
            "after_valuation_date": MONEY,
            "pv_in_horizon": MONEY,
            "pv_after_horizon": MONEY,
            "present_value": MONEY,
            "share_of_pv": RATE,
        },
    )
    ws.column_dimensions["A"].width = 34
    for j in range(2, 10):
        ws.column_dimensions[_col(j)].width = 22
