"""Names from a file: identifiers that never collide silently, and odd but legal text (console
markup, mathtext, non-Latin scripts, emoji) that runs through every command as plain text."""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Callable
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

import finmodel
from finmodel.assumptions.schema import slug
from finmodel.cli import app

runner = CliRunner()


def _hashed(name: str) -> str:
    # the documented rule for a name with no ASCII letter or digit (docs/methodology.md,
    # Names): the SHA-256 of its letters and digits in any script, NFKC and case folded, or
    # of its NFC text when it has none
    core = "".join(c for c in unicodedata.normalize("NFKC", name).casefold() if c.isalnum())
    key = (core or unicodedata.normalize("NFC", name)).encode("utf-8")
    return "item_" + hashlib.sha256(key).hexdigest()[:8]


def test_names_in_other_scripts_that_differ_only_by_punctuation_coincide() -> None:
    """'甲骨文', '甲骨文!' and '甲骨文 ' are one identifier, as 'Oracle' and 'ORACLE!' are;
    names of different letters, or with none at all, stay apart."""
    assert slug("甲骨文") == slug("甲骨文!") == slug("甲骨文 ") == _hashed("甲骨文")
    assert slug("甲骨文") != slug("万得") and slug("🚀") != slug("🛰")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Microsoft Azure", "microsoft_azure"),
        ("Société Générale", "societe_generale"),  # accents folded, not dropped
        ("ORACLE!", "oracle"),
        ("  Series D (2027) ", "series_d_2027"),
        ("Oracle 甲骨文", "oracle"),  # the CJK part has no ASCII form
    ],
)
def test_slug_folds_and_lowercases(name: str, expected: str) -> None:
    assert slug(name) == expected


@pytest.mark.parametrize("name", ["!!!", "???", "甲骨文", "🚀", "ОРАКЛ", "", "…"])
def test_a_name_without_letters_gets_a_stable_hashed_id(name: str) -> None:
    assert slug(name) == _hashed(name)


def test_hashed_ids_differ_and_ignore_the_unicode_form() -> None:
    names = ["!!!", "???", "甲骨文", "🚀", "🚀🚀", "ОРАКЛ"]
    assert len({slug(n) for n in names}) == len(names)
    # the same text composed or decomposed is one name: 'Å' as one code point or A + ring,
    # both fold to 'a'; a Greek alpha alone composed or not hashes to the same id
    assert slug("\u00c5") == slug("A\u030a") == "a"
    assert slug("\u1f71") == slug("\u03b1\u0301") == _hashed("\u1f71")


ODD = r"""
name: "Plan [/bold] Q3 [link=https://example.com]x[/link] $\\frac{1}{2}$"
company: "Oracle [/] 甲骨文 🚀"
currency: "$\\frac$"
start: 2026-01
end: 2027-12
opening: {cash: 10}
revenue:
  segments:
    - {name: Base, market: {2026: 100, 2027: 120}, share: {2026: 0.1, 2027: 0.1}}
    - {name: Plan, market: {2026: 50}, share: {2026: 0.2}}
    - {name: Subscriptions, market: {2026: 10}, share: {2026: 0.5}}
costs:
  compute: {annual: {2026: 60, 2027: 60}}
commitments:
  - {counterparty: "!!!", amount: 12, start: 2026-01, years: 1, take_or_pay: true}
  - {counterparty: "???", amount: 6, start: 2026-01, years: 1}
  - {counterparty: "甲骨文", amount: 3, start: 2027-01, years: 1}
  - {counterparty: "🚀", amount: 2, start: 2027-01, years: 1}
funding:
  min_cash: 1
  facilities:
    - {name: Balance, limit: 5, rate: 0.1}
    - {name: Demand, limit: 5, rate: 0.1}
valuation:
  date: 2025-12
  discount_rate: 0.1
  terminal: {method: multiple, multiple: 5}
  holders:
    - {name: "[bold]Founders[/bold]", stake: 0.5}
    - {name: "創業者 $x^2$", stake: 0.5}
sensitivity:
  metric: trough_unfunded_cash
  pct: 0.2
uncertainty:
  draws: 200
  seed: 1
  parameters:
    revenue.segments.base.share.2026: {dist: triangular, low: 0.05, mode: 0.1, high: 0.2}
"""

NET = r"""
name: "[bold]Circle[/] $\\frac{a}{b}$"
company: "Oracle [/] 甲骨文 🚀"
parties:
  - name: "Oracle [/] 甲骨文 🚀"
  - {name: "$\\frac{a}{b}$ Capital", liquid_assets: 5, other_cash_flow: 1}
  - {name: "[link=https://x]Bank[/link]", liquid_assets: 5}
  - {name: "🚀🚀", liquid_assets: 1}
counterparties:
  "!!!": "$\\frac{a}{b}$ Capital"
  "???": "[link=https://x]Bank[/link]"
  "甲骨文": "🚀🚀"
  "🚀": "🚀🚀"
"""


def test_names_without_letters_and_built_in_names_run(
    write_yaml: Callable[..., Path],
) -> None:
    res = finmodel.run(write_yaml(ODD))
    # each commitment keeps its own line: the contract value is paid inside the horizon
    # (one-year contracts starting in it), so the line sums to the amount in the file
    for name, amount in (("!!!", 12), ("???", 6), ("甲骨文", 3), ("🚀", 2)):
        assert res.series(f"commit__{_hashed(name)}").sum() == pytest.approx(amount, rel=1e-12)
    # a segment named Base, Plan or Subscriptions is its own line, not the built-in one
    seg = [res.series(f"revenue__{k}") for k in ("base", "plan", "subscriptions")]
    for k, s in zip(("base", "plan", "subscriptions"), seg, strict=True):
        assert s == pytest.approx(res.series(f"market__{k}") * res.series(f"share__{k}"))
    assert res.series("revenue") == pytest.approx(sum(seg))
    # facilities named Balance and Demand: drawn in file order up to their limits (5 each;
    # the need, ~35 a year of burn against 10 of cash, exceeds both), and their sum is the
    # built-in total
    bal, dem = res.series("facility__balance"), res.series("facility__demand")
    assert bal.max() == pytest.approx(5) and dem.max() == pytest.approx(5)
    assert bal + dem == pytest.approx(res.series("facility_balance"))
    assert len({it.id for it in res.model.items}) == len(res.model.items)


def _png_ok(path: Path) -> None:
    img = matplotlib.image.imread(path)
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
    assert np.ptp(img) > 0  # something was drawn


@pytest.mark.filterwarnings("error:Glyph")
def test_odd_text_runs_through_every_command(in_tmp: Path) -> None:
    (in_tmp / "odd.yaml").write_text(ODD, encoding="utf-8")
    (in_tmp / "net.yaml").write_text(NET, encoding="utf-8")
    out = in_tmp / "outputs"
    r = runner.invoke(app, ["run", "odd.yaml"])
    assert r.exit_code == 0, r.output
    # printed as written: markup neither applied nor swallowed
    assert "Oracle [/] 甲骨文 🚀: Plan [/bold] Q3 [link=https://example.com]x[/link]" in r.output
    assert "money in $\\frac$ billion" in r.output
    wb = load_workbook(out / "odd.xlsx")
    texts = {
        c.value for ws in wb for row in ws.iter_rows() for c in row if isinstance(c.value, str)
    }
    assert any("Plan [/bold] Q3" in t for t in texts)

    r = runner.invoke(app, ["value", "odd.yaml"])
    assert r.exit_code == 0, r.output
    assert "[bold]Founders[/bold]" in r.output and "創業者 $x^2$" in r.output
    load_workbook(out / "odd-valuation.xlsx")

    r = runner.invoke(app, ["simulate", "odd.yaml", "-n", "200"])
    assert r.exit_code == 0, r.output
    load_workbook(out / "odd-montecarlo.xlsx")
    _png_ok(out / "odd-montecarlo-fan.png")

    r = runner.invoke(app, ["sensitivity", "odd.yaml"])
    assert r.exit_code == 0, r.output
    assert "funding.facilities.balance.rate" in r.output  # parameter paths keep one dot
    load_workbook(out / "odd-sensitivity.xlsx")
    _png_ok(out / "odd-sensitivity-tornado.png")

    r = runner.invoke(app, ["network", "odd.yaml", "--network", "net.yaml"])
    assert r.exit_code == 0, r.output
    assert "in [bold]Circle[/] $\\frac{a}{b}$." in r.output
    # what each party receives from the company: 12 from '!!!', 6 from '???', 3 + 2 to 🚀🚀
    assert "$\\frac{a}{b}$ Capital" in r.output
    load_workbook(out / "odd-network.xlsx")
    _png_ok(out / "odd-network-graph.png")

    r = runner.invoke(app, ["validate", "odd.yaml"])
    assert r.exit_code == 0 and "ok: " in r.output


def test_network_pays_each_hashed_counterparty_its_own_amount(
    write_yaml: Callable[..., Path],
) -> None:
    from finmodel.network import build_graph, exposures, load_network

    res = finmodel.run(write_yaml(ODD))
    net, _ = load_network(write_yaml(NET, "net.yaml"))
    got = exposures(build_graph(res, net))["receives_from_company"]
    # contract values within the horizon (hand: the file's amounts, one-year contracts)
    assert got["$\\frac{a}{b}$ Capital"] == pytest.approx(12)
    assert got["[link=https://x]Bank[/link]"] == pytest.approx(6)
    assert got["🚀🚀"] == pytest.approx(3 + 2)


def test_odd_names_workbook_recalculates_like_the_engine(
    write_yaml: Callable[..., Path], tmp_path: Path, libreoffice: str
) -> None:
    """LibreOffice recalculates the workbook of a file with hashed identifiers and user
    items named like built-in ones (facility__balance beside facility_balance): every line
    item of the Calc sheet matches the engine to 1e-9."""
    from finmodel.export.recalc import recalculate

    res = finmodel.run(write_yaml(ODD))
    (tmp_path / "w").mkdir()
    [out] = recalculate([res.to_excel(tmp_path / "w" / "odd.xlsx")], tmp_path / "r")
    ws = load_workbook(out, data_only=True)["Calc"]
    rows = {str(r[0]): list(r[2:]) for r in ws.iter_rows(min_row=2, values_only=True) if r[0]}
    assert set(rows) == set(res.model.ids)
    for id in res.model.ids:
        want = res.series(id)
        got = np.array(rows[id], dtype=np.float64)
        scale = np.maximum(np.abs(want), np.abs(want).max(initial=0.0))
        assert np.all(np.abs(got - want) <= 1e-9 * scale), id


def test_a_name_too_long_for_excel_gets_a_short_stable_defined_name(
    write_yaml: Callable[..., Path], tmp_path: Path
) -> None:
    """A commitment whose parameter path would make a defined name over Excel's 255
    characters gets one of exactly 255 (its first 246 characters, '_' and 8 hex digits of
    its SHA-256), used by the Inputs sheet and by every formula that reads it."""
    import hashlib

    from openpyxl import load_workbook

    from finmodel.export.workbook import excel_name

    long = "Very long counterparty " * 14  # 322 characters
    p = write_yaml(f"""
        name: Long
        company: L
        start: 2026-01
        end: 2026-12
        opening: {{cash: 10}}
        revenue: {{annual: {{2026: 1}}}}
        commitments:
          - {{counterparty: "{long}", amount: 6, start: 2026-01, years: 1}}
    """)
    res = finmodel.run(p)
    full = next(n for n in res.model.params.names() if n.startswith("commitments_"))
    assert len(full) > 255
    short = excel_name(full)
    digest = hashlib.sha256(full.encode("utf-8")).hexdigest()[:8]
    assert len(short) == 255 and short == f"{full[:246]}_{digest}"
    wb = load_workbook(res.to_excel(tmp_path / "long.xlsx"))
    assert short in wb.defined_names and all(len(n) <= 255 for n in wb.defined_names)
