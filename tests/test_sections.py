"""The model in sections: the order of the sections and the items each defines (checked
against docs/architecture.md), every item's unit, inputs registered by the section that
uses them, a commitment's payments defined once, and ``adjust:`` applied by the API, not
by ``build``."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from openpyxl import load_workbook

import finmodel
from finmodel.analysis.arguments import model_like, model_of
from finmodel.engine.model import SECTIONS, _Builder, build

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted(p.stem for p in (ROOT / "assumptions").glob("*.yaml"))

# Every section has something to define: users and a segment, every cost line, capex, a
# take-or-pay and an explicit commitment, a milestone, a dated loan with a rate and a
# repayment, a milestone tranche, a facility and a valuation. A file has one of the annual,
# growth and users methods (plus segments): the other two are variants of this one.
EVERYTHING = """
    name: Everything
    company: E
    currency: EUR
    unit: million
    start: 2026-01
    end: 2027-12
    opening: {cash: 100, debt: 5, tax_losses: 2}
    revenue:
      users: {count: {2026: 1, 2027: 2}, paying_share: {2026: 0.1}, price: {2026: 20}}
      segments:
        - {name: Enterprise, market: {2026: 100, 2027: 200}, share: {2026: 0.1}}
    costs:
      cost_of_revenue: {share_of_revenue: 0.2}
      compute: {annual: {2026: 60, 2027: 90}}
      staff: {annual: {2026: 24}}
      sales_marketing: {annual: {2026: 12}}
      general_admin: {annual: {2026: 6}}
      revenue_share: {share_of_revenue: 0.05}
      stock_comp: {annual: {2026: 12}}
      capex: {annual: {2026: 24}, life_years: 2}
      tax_rate: 0.25
    commitments:
      - {counterparty: Cloud, amount: 96, start: 2026-01, years: 4}
      - counterparty: Chips
        start: 2026-07
        profile: explicit
        payments: {2026: 12, 2035: 120}
        spread: flat
    milestones:
      gw: {2026-06: 1, 2027-06: 2}
    funding:
      min_cash: 10
      inflows:
        - {name: Series A, amount: 50, date: 2026-03}
        - {name: Bank loan, kind: debt, amount: 20, date: 2026-02, rate: 0.06, repay: 2027-06}
        - {name: Tranches, amount: 40, milestone: gw, per_unit: 20, pre_money: 400}
      facilities:
        - {name: Revolver, limit: 30, rate: 0.08}
    valuation:
      date: 2025-12
      discount_rate: 0.12
      terminal: {method: multiple, multiple: 10, of: revenue}
"""


USERS = "      users: {count: {2026: 1, 2027: 2}, paying_share: {2026: 0.1}, price: {2026: 20}}\n"
GROWTH = "      growth: {base: 60, rates: {2026: 0.5}}\n"
ANNUAL = "      annual: {2026: 120, 2027: 240}\n      growth_scale: 0.5\n"


@pytest.fixture
def everything(write_yaml: Callable[..., Path]) -> Path:
    return write_yaml(EVERYTHING)


@pytest.fixture
def variants(write_yaml: Callable[..., Path]) -> list[Path]:
    """The file with each revenue method: users, growth, an annual path scaled in logs."""
    return [
        write_yaml(EVERYTHING.replace(USERS, method), f"{i}.yaml")
        for i, method in enumerate((USERS, GROWTH, ANNUAL))
    ]


def _defined_by_section(path: Path) -> list[tuple[str, str, list[str]]]:
    """(section function, Calc heading, item ids) for each section, in build order."""
    b = _Builder(finmodel.load(path))
    out = []
    for section in SECTIONS:
        n = len(b.items)
        section(b)
        new = b.items[n:]
        out.append((section.__name__, new[0].section if new else "", [it.id for it in new]))
    return out


def _documented() -> list[tuple[str, str, list[str]]]:
    """The table of docs/architecture.md, "Where a line item goes"."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    part = text.split("## Where a line item goes", 1)[1]
    rows = []
    for line in part.splitlines():
        m = re.fullmatch(r"\| \d+ \| `(_\w+)` \| ([^|]+) \| (.+) \|", line)
        if m:
            items = m.group(3).split("inputs", 1)[0]
            rows.append((m.group(1), m.group(2).strip(), re.findall(r"`([^`]+)`", items)))
    return rows


def test_the_documented_sections_are_the_model_s(variants: list[Path]) -> None:
    """docs/architecture.md lists the sections in build order with each one's Calc heading
    and items; every item the sections define matches a pattern of its own section, and
    every pattern is defined by one of the variants."""
    doc = _documented()
    assert [name for name, _, _ in doc] == [s.__name__ for s in SECTIONS]
    used: set[str] = set()
    for path in variants:
        for (name, heading, ids), (_, doc_heading, patterns) in zip(
            _defined_by_section(path), doc, strict=True
        ):
            if ids:
                assert heading == doc_heading, name
            regex = {p: re.compile(re.sub(r"<\w+>", "[a-z0-9_]+", p)) for p in patterns}
            for id in ids:
                hits = [p for p, r in regex.items() if r.fullmatch(id)]
                assert hits, f"{name} defines {id}, which its row does not list"
                used.update(hits)
    every = {p for _, _, patterns in doc for p in patterns}
    assert every - used == set()


def test_calc_rows_follow_the_sections(everything: Path) -> None:
    """Each heading is one run of rows, in build order, and milestones come first."""
    model = build(finmodel.load(everything))
    runs = [
        it.section
        for i, it in enumerate(model.items)
        if i == 0 or it.section != model.items[i - 1].section
    ]
    assert runs == [
        "Drivers",
        "Revenue",
        "Costs and commitments",
        "Capital expenditure",
        "Profit and loss",
        "Cash flow and funding",
        "Valuation",
    ]
    assert model.ids[0] == "milestone__gw"


def test_inputs_are_registered_by_the_section_that_uses_them(everything: Path) -> None:
    """The Inputs sheet's order: opening balances and the buffer, then the milestone's points
    (drivers, before everything that reads them); the facility's and the loan's terms
    after the capex path and before the tax inputs (the financing terms, read by interest)."""
    paths = [p.path for p in build(finmodel.load(everything)).params]
    assert paths[:6] == [
        "opening.cash",
        "opening.debt",
        "opening.tax_losses",
        "funding.min_cash",
        "milestones.gw.2026-06",
        "milestones.gw.2027-06",
    ]
    i = paths.index("costs.tax_rate")
    assert paths[i - 4 : i] == [
        "costs.capex.annual.2026",
        "funding.facilities.revolver.rate",
        "funding.facilities.revolver.limit",
        "funding.inflows.bank_loan.rate",
    ]


def test_every_item_has_its_unit(variants: list[Path]) -> None:
    """Money flows are in the file's unit per month, balances in the file's unit; flags,
    shares, prices and factors name their own unit."""
    units = {it.id: (it.unit, it.kind) for p in variants for it in build(finmodel.load(p)).items}
    for id, (unit, kind) in units.items():
        if unit == "EUR million per month":
            assert kind == "flow", id
        elif unit == "EUR million":
            assert kind == "balance", id
        elif kind == "flag":
            assert unit == "flag", id
    assert units["revenue"] == ("EUR million per month", "flow")
    assert units["cash"] == ("EUR million", "balance")
    assert units["tax_losses_eop"] == ("EUR million", "balance")
    assert units["paying_share"] == ("share of users", "level")
    assert units["share__enterprise"] == ("share of the market", "level")
    assert units["price"] == ("EUR per user per month", "level")
    assert units["users"] == ("million users", "level")
    assert units["revenue_growth_rate"] == ("rate per year", "level")
    assert units["revenue_run_rate"] == ("EUR million per year", "level")
    assert units["ltm_revenue"] == ("EUR million per year", "balance")
    assert units["discount_factor"] == ("factor", "level")
    assert units["below_buffer"] == ("flag", "flag")
    assert units["milestone__gw"] == ("units", "level")
    assert units["revenue_base_pow"] == ("(EUR million per month)^growth_scale", "flow")
    for name in SHIPPED:
        if not name.startswith("network"):
            model = build(finmodel.load(name))
            assert all(it.unit for it in model.items), name


def test_the_calc_sheet_shows_each_unit(everything: Path, tmp_path: Path) -> None:
    ws = load_workbook(finmodel.run(everything).to_excel(tmp_path / "e.xlsx"))["Calc"]
    labels = {r[0]: r[1] for r in ws.iter_rows(min_row=2, max_col=2, values_only=True) if r[0]}
    assert labels["revenue"] == "Revenue [EUR million per month]"
    assert labels["cash_unfunded"] == "Cash with no new money (U) [EUR million]"
    assert labels["below_buffer"] == "Cash below the buffer (1 = yes) [flag]"


def test_a_commitment_s_payments_are_defined_once(everything: Path) -> None:
    """Chips pays 12 over Jul-Dec 2026 and 120 over 2035, flat: 2 a month, then nothing
    from 2027 to 2034, then 10 a month. The line item is the horizon's months of those
    payments; the valuation discounts the rest from the same definition."""
    res = finmodel.run(everything)
    pay = res.model.payments["chips"]
    months, amounts = pay.months, pay.amounts(res.model.params)
    first = 2026 * 12 + 6  # 2026-07
    assert months.tolist() == list(range(first, 2035 * 12 + 12))
    by_month = dict(zip(months.tolist(), amounts.tolist(), strict=True))
    assert [by_month[first + i] for i in range(6)] == pytest.approx([2.0] * 6)
    assert all(by_month[m] == 0.0 for m in range(2027 * 12, 2035 * 12))
    assert [by_month[2035 * 12 + i] for i in range(12)] == pytest.approx([10.0] * 12)
    assert math.fsum(amounts) == pytest.approx(132.0)
    commit = res.series("commit__chips")
    assert commit.tolist() == pytest.approx([0.0] * 6 + [2.0] * 6 + [0.0] * 12)
    # Cloud: 96 over 48 months from 2026-01, 2 a month; 24 in the horizon, 24 after it.
    # Valued at the end of 2025-12 at 12% with mid-month timing, month j (1-based) after
    # the date is discounted 1.12^-((j - 0.5) / 12), by hand:
    pv_after = math.fsum(2.0 * 1.12 ** -((j - 0.5) / 12) for j in range(25, 49))
    com = res.valuation()["commitments"].set_index("counterparty")
    assert com.at["Cloud", "pv_after_horizon"] == pytest.approx(pv_after, rel=1e-12)
    assert com.at["Cloud", "contract_value"] == pytest.approx(96.0)
    cloud = res.model.payments["cloud"]
    assert cloud.amounts(res.model.params) == pytest.approx(np.full(48, 2.0))


def test_build_does_not_adjust_the_api_does(write_yaml: Callable[..., Path]) -> None:
    """A file's adjust: section is applied by model_of (every run and analysis), not by
    build. By hand: opening cash 25 set to 3; 12 of revenue and 24 of staff a year, flat,
    so the first month's unfunded cash is 3 + 1 - 2 = 2."""
    p = write_yaml("""
        name: Adjusted
        company: A
        start: 2026-01
        end: 2026-12
        opening: {cash: 25}
        revenue: {annual: {2026: 12}, spread: flat}
        costs: {staff: {annual: {2026: 24}, spread: flat}}
        adjust:
          opening.cash: {set: 3, source: a test}
    """)
    a = finmodel.load(p)
    assert build(a).params["opening_cash"].value == 25.0
    adjusted = model_of(a)
    assert adjusted.params["opening_cash"].value == 3.0
    assert adjusted.params["opening_cash"].note == "set 3 applied to 25 (a test)"
    assert model_like(p).params["opening_cash"].value == 3.0
    assert finmodel.run(p).series("cash_unfunded")[0] == pytest.approx(2.0)


def test_a_section_may_not_read_ahead(everything: Path) -> None:
    """A same-month reference to an item no earlier section defined is refused when the
    model is built, naming the item and the section."""
    b = _Builder(finmodel.load(everything))
    b.section = "Revenue"
    with pytest.raises(KeyError, match="'cash' is not defined before section 'Revenue'"):
        b.ref("cash")
    with pytest.raises(KeyError, match=r"'funding\.min_cash' is not registered before"):
        b.input("funding.min_cash")
