"""Reading assumption files: YAML 1.2 numbers, one message per file, overlays that change a
kind, names and text with control characters, values shown as YAML in messages."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

import finmodel
from finmodel.assumptions import load_with_meta
from finmodel.assumptions import loader as loader_module
from finmodel.assumptions.loader import MAX_VALUES, _CLoader, _Loader, yaml_entry
from finmodel.assumptions.schema import Assumptions, yaml_repr
from finmodel.cli import app
from finmodel.errors import AssumptionError

HEAD = """
name: Numbers
company: Example Co
start: 2026-01
end: 2027-12
"""


def _yaml(text: str) -> object:
    """``text`` read by the loader's rules on PyYAML's own parser, checked to read the same
    (values and types) on libyaml's, which the loader uses when it is installed."""
    got = []
    for cls in (_Loader, _CLoader):
        loader = cls(text)
        try:
            got.append(loader.get_single_data())
        finally:
            loader.dispose()
    assert repr(got[0]) == repr(got[1]) and type(got[0]) is type(got[1])
    return got[0]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        # YAML 1.2 core schema (yaml.org/spec/1.2.2, 10.3.2): the exponent needs no dot and
        # no sign; YAML 1.1 (PyYAML's default) reads these three as text
        ("5e1", 50.0),
        ("1e3", 1000.0),
        ("-2.5E-3", -0.0025),
        ("1.5e+3", 1500.0),
        (".5", 0.5),
        ("-.5", -0.5),
        ("1.", 1.0),
        ("1_000", 1000),  # digit grouping, as in Python and YAML 1.1
        ("1_000.25", 1000.25),
        ("0x10", 16),
        ("0o10", 8),
        ("010", 10),  # decimal, as YAML 1.2 reads it (YAML 1.1 reads octal 8)
        ("+3", 3),
        ("-7", -7),
        ("!!float 5", 5.0),
        ("!!int 0x1f", 31),
    ],
)
def test_numbers_as_yaml_1_2_reads_them(text: str, value: float) -> None:
    got = _yaml(text)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize(
    "text",
    ["1:30", "2027-01-15", "2026-01", "inf", "nan", "1__0", "0b11", "-0x10", "1,000"],
)
def test_text_that_is_not_a_yaml_1_2_number_stays_text(text: str) -> None:
    # 1:30 is not the sexagesimal 90 of YAML 1.1, and a date is not a datetime.date
    assert _yaml(text) == text


@pytest.mark.parametrize(
    ("text", "value"),
    [("true", True), ("False", False), ("TRUE", True), ("No", "No"), ("on", "on"), ("y", "y")],
)
def test_only_true_and_false_are_booleans(text: str, value: object) -> None:
    # YAML 1.2 core schema (10.3.2): YAML 1.1's yes/no/on/off/y/n are text, so a company
    # called "No" (Norway's ISO code) keeps its name
    got = _yaml(text)
    assert got == value and type(got) is type(value)


def test_a_name_that_yaml_1_1_reads_as_a_boolean(write_yaml: Callable[..., Path]) -> None:
    p = write_yaml(
        HEAD.replace("Numbers", "No").replace("Example Co", "On")
        + "opening: {cash: 5}\nrevenue: {annual: {2026: 3, 2027: 3}}\n"
        + "commitments: [{counterparty: Yes, amount: 2, start: 2026-01, take_or_pay: yes}]\n"
    )
    a = load_with_meta(p).assumptions
    # the pydantic field still reads a spelled-out yes as true: 2.0 paid and not needed
    assert (a.name, a.company, a.commitments[0].counterparty) == ("No", "On", "Yes")
    assert finmodel.run(p).metrics["stranded_compute_total"] == pytest.approx(2.0)


def test_non_finite_floats_are_floats() -> None:
    assert _yaml(".inf") == float("inf") and _yaml("-.Inf") == float("-inf")
    nan = _yaml(".nan")
    assert isinstance(nan, float) and nan != nan


def test_numbers_in_a_file(write_yaml: Callable[..., Path]) -> None:
    p = write_yaml(
        HEAD
        + """
opening: {cash: 5e1, debt: 0x10}
revenue: {annual: {2026: 1_200, 2027: 2.4e3}}
costs: {tax_rate: 2.1E-1, staff: {annual: {2026: .5}}}
"""
    )
    a = finmodel.load(p)
    assert a.opening.cash.value == 50.0 and a.opening.debt.value == 16
    assert a.revenue.annual is not None
    assert [a.revenue.annual[y].value for y in (2026, 2027)] == [1200, 2400.0]
    assert a.costs.tax_rate.value == 0.21
    # the run sees them: 2026 revenue is the 1,200 written as 1_200 (annual totals are kept)
    assert finmodel.run(p).annual.loc["revenue", 2026] == pytest.approx(1200.0, rel=1e-12)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (".nan", "opening.cash: expected a finite number, got nan"),
        ("-.inf", "opening.cash: expected a finite number, got -inf"),
        ("inf", "opening.cash: expected a number, got the text 'inf' (a finite number is"),
        ("1:30", "opening.cash: expected a number, got the text '1:30'"),
        ('"12,5"', "got the text '12,5' (the decimal mark is a dot: 12.5)"),
        ("$10", "got the text '$10' (write the number alone: the file's currency and unit"),
    ],
)
def test_numbers_refused_with_a_located_message(
    write_yaml: Callable[..., Path], value: str, message: str
) -> None:
    p = write_yaml(HEAD + f"opening: {{cash: {value}}}\nrevenue: {{annual: {{2026: 1}}}}\n")
    with pytest.raises(AssumptionError) as e:
        finmodel.load(p)
    # HEAD starts with a blank line: opening is line 6
    assert str(e.value).startswith(f"{p}:6: ") and message in str(e.value), str(e.value)


def test_several_problems_give_one_message_and_validate_lists_them(
    write_yaml: Callable[..., Path],
) -> None:
    p = write_yaml(
        HEAD
        + """
opening: {cash: lots}
revenue: {annual: {2026: ten}}
costs: {tax_rate: 21}
"""
    )
    with pytest.raises(AssumptionError) as e:
        finmodel.load(p)
    # the problems in line order: opening (line 7), revenue (8), costs (9)
    assert [re.match(r".*?:(\d+): ", x).group(1) for x in e.value.problems] == ["7", "8", "9"]  # type: ignore[union-attr]
    assert str(e.value) == (
        f"{e.value.problems[0]} (and 2 more problems: `finmodel validate {p}` lists them all)"
    )
    assert "costs.tax_rate: expected a rate between 0 and 1" in e.value.problems[2]
    r = CliRunner().invoke(app, ["run", str(p), "--no-workbook"])
    assert r.exit_code == 2 and r.stderr.splitlines() == [f"error: {e.value}"]
    r = CliRunner().invoke(app, ["validate", str(p)])
    assert r.exit_code == 2
    assert r.stderr.splitlines() == [f"error: {x}" for x in e.value.problems]


def test_one_problem_has_no_count(write_yaml: Callable[..., Path]) -> None:
    p = write_yaml(HEAD + "opening: {cash: lots}\nrevenue: {annual: {2026: 1}}\n")
    with pytest.raises(AssumptionError) as e:
        finmodel.load(p)
    assert e.value.problems == (str(e.value),) and "more problem" not in str(e.value)


def test_missing_fields_are_one_problem_per_mapping(write_yaml: Callable[..., Path]) -> None:
    p = write_yaml("name: x\nopening: {debt: 1}\n")
    with pytest.raises(AssumptionError) as e:
        finmodel.load(p)
    assert e.value.problems == (
        f"{p}:1: expected the required fields company, start, end and revenue, got none of them",
        f"{p}:2: opening.cash: expected a value (this field is required), got nothing",
    )


def test_problems_in_the_named_file_come_before_its_parents(
    write_yaml: Callable[..., Path],
) -> None:
    write_yaml(HEAD + "opening: {cash: 1}\nrevenue: {annual: {2026: 1}}\nfoo: 1\n", "parent.yaml")
    child = write_yaml("extends: parent.yaml\nname: Child\nbar: 2\n", "child.yaml")
    with pytest.raises(AssumptionError) as e:
        finmodel.load(child)
    assert [p.split(": ")[0] for p in e.value.problems] == [
        f"{child}:3",
        f"{child.parent / 'parent.yaml'}:8",
    ]


PARENT = (
    HEAD
    + """
opening: {cash: 30}
revenue: {annual: {2026: 12, 2027: 24}}
commitments:
  - {counterparty: Cloud Co, amount: 24, start: 2026-01, years: 2, source: "contract"}
funding:
  inflows:
    - {name: Series D, amount: 10, date: 2026-06, pre_money: 90, source: "term sheet"}
valuation:
  date: 2026-01
  discount_rate: 0.1
  terminal: {method: multiple, multiple: 8, of: ebitda}
  raise_policy: {revenue_multiple: 10, min_round: 5}
uncertainty:
  parameters:
    revenue.scale: {dist: triangular, low: 0.5, mode: 1, high: 1.2, apply: scale, source: "a"}
"""
)


def _child(write_yaml: Callable[..., Path], text: str) -> Assumptions:
    write_yaml(PARENT, "parent.yaml")
    return finmodel.load(write_yaml("extends: parent.yaml\nname: Child\n" + text, "child.yaml"))


def test_same_kind_merges_key_by_key(write_yaml: Callable[..., Path]) -> None:
    a = _child(write_yaml, "uncertainty: {parameters: {revenue.scale: {high: 1.5}}}\n")
    d = a.uncertainty.parameters["revenue.scale"]  # type: ignore[union-attr]
    assert (d.dist, d.low, d.mode, d.high, d.apply, d.source) == (
        "triangular",
        0.5,
        1,
        1.5,
        "scale",
        "a",
    )


def test_a_new_distribution_kind_replaces_the_parents_mapping(
    write_yaml: Callable[..., Path],
) -> None:
    a = _child(
        write_yaml,
        "uncertainty: {parameters: {revenue.scale: {dist: lognormal, median: 1, sigma: 0.2}}}\n",
    )
    d = a.uncertainty.parameters["revenue.scale"]  # type: ignore[union-attr]
    # nothing of the triangular survives: not its bounds, not its apply, not its source
    assert (d.dist, d.median, d.sigma) == ("lognormal", 1, 0.2)
    assert (d.low, d.mode, d.high, d.apply, d.source) == (None, None, None, None, None)


def test_a_new_terminal_method_replaces_the_parents(write_yaml: Callable[..., Path]) -> None:
    a = _child(write_yaml, "valuation: {terminal: {method: growth, growth: 0.02}}\n")
    t = a.valuation.terminal  # type: ignore[union-attr]
    assert (t.method, t.growth.value, t.multiple, t.of) == ("growth", 0.02, None, "revenue")  # type: ignore[union-attr]


def test_a_new_payment_profile_keeps_the_contract_and_drops_the_amount(
    write_yaml: Callable[..., Path],
) -> None:
    a = _child(
        write_yaml,
        "commitments: {cloud_co: {profile: explicit, payments: {2026: 6, 2027: 18}, "
        "spread: flat}}\n",
    )
    c = a.commitments[0]
    assert (c.counterparty, c.start, c.years, c.source, c.amount) == (
        "Cloud Co",
        "2026-01",
        2,
        "contract",
        None,
    )
    # flat spread: 6/12 = 0.5 a month in 2026 and 18/12 = 1.5 in 2027 (hand calculation)
    res = finmodel.run(a)
    assert res.annual.loc["committed_payments", 2026] == pytest.approx(6.0, rel=1e-12)
    assert res.series("commit__cloud_co")[[0, 11, 12, 23]] == pytest.approx([0.5, 0.5, 1.5, 1.5])


def test_flat_to_ramp_keeps_the_amount(write_yaml: Callable[..., Path]) -> None:
    a = _child(write_yaml, "commitments: {cloud_co: {profile: ramp}}\n")
    res = finmodel.run(a)
    # ramp over n = 24 months: month m pays 24 * 2m / (24 * 25) = 0.08 m (the schema's
    # formula), so the first month pays 0.08 and the last 1.92; the total stays 24
    assert res.series("commit__cloud_co")[[0, 23]] == pytest.approx([0.08, 1.92], rel=1e-12)
    assert sum(res.annual.loc["committed_payments"]) == pytest.approx(24.0, rel=1e-12)


def test_a_new_inflow_kind_drops_the_old_kinds_fields(write_yaml: Callable[..., Path]) -> None:
    a = _child(write_yaml, "funding: {inflows: {series_d: {kind: debt, rate: 0.05}}}\n")
    i = a.funding.inflows[0]
    assert (i.kind, i.rate.value, i.pre_money, i.amount.value, i.date, i.source) == (  # type: ignore[union-attr]
        "debt",
        0.05,
        None,
        10,
        "2026-06",
        "term sheet",
    )


def test_alternatives_replace_each_other(write_yaml: Callable[..., Path]) -> None:
    a = _child(
        write_yaml,
        """
revenue: {growth: {base: 12, rates: {2026: 0}}}
funding: {inflows: {series_d: {pricing: last_round}}}
valuation: {raise_policy: {pre_money: {2026: 200}}}
""",
    )
    assert a.revenue.annual is None and a.revenue.growth is not None
    i = a.funding.inflows[0]
    assert (i.pre_money, i.pricing) == (None, ("last_round",))
    p = a.valuation.raise_policy  # type: ignore[union-attr]
    assert p.revenue_multiple is None and p.pre_money[2026].value == 200  # type: ignore[union-attr,index]
    assert p.min_round.value == 5  # type: ignore[union-attr]
    # a run rate of 12 a year with no growth is 1 a month: 12 in each year
    res = finmodel.run(a)
    assert list(res.annual.loc["revenue"]) == pytest.approx([12.0, 12.0], rel=1e-12)


def test_a_dated_inflow_turned_milestone_drops_its_date(write_yaml: Callable[..., Path]) -> None:
    a = _child(
        write_yaml,
        """
milestones: {gw: {2026-06: 0, 2027-06: 2}}
funding: {inflows: {series_d: {milestone: gw, per_unit: 5}}}
""",
    )
    i = a.funding.inflows[0]
    assert (i.date, i.milestone, i.per_unit.value) == (None, "gw", 5)  # type: ignore[union-attr]


def test_users_count_and_s_curve_replace_each_other(write_yaml: Callable[..., Path]) -> None:
    write_yaml(
        HEAD
        + """
opening: {cash: 30}
revenue:
  users: {count: {2026: 10}, paying_share: 0.1, price: 20}
""",
        "parent.yaml",
    )
    child = write_yaml(
        "extends: parent.yaml\nname: C\nrevenue:\n  users:\n"
        "    s_curve: {ceiling: 100, midpoint: 2027, rate: 1}\n",
        "child.yaml",
    )
    u = finmodel.load(child).revenue.users
    assert u is not None and u.count is None and u.s_curve is not None
    assert u.paying_share[2026].value == 0.1


def test_a_name_must_be_one_line_of_text(write_yaml: Callable[..., Path]) -> None:
    for name, shown in (
        ('"Cloud\\u2028Co"', 'U+2028 (LINE SEPARATOR) at character 6 of "Cloud\\LCo"'),
        ('"Cloud\\x7fCo"', 'U+007F (DEL) at character 6 of "Cloud\\x7fCo"'),
        ('"Cloud\\x9bCo"', 'U+009B (CSI) at character 6 of "Cloud\\x9bCo"'),
    ):
        p = write_yaml(HEAD + f"company: {name}\nopening: {{cash: 1}}\nrevenue: {{annual: 1}}\n")
        text = p.read_text().replace("company: Example Co\n", "", 1)
        p.write_text(text)
        with pytest.raises(AssumptionError) as e:
            finmodel.load(p)
        assert str(e.value) == (
            f"{p}:5: company: expected a name on one line without control characters, got {shown}"
        )


def test_free_text_keeps_line_breaks_and_tabs(write_yaml: Callable[..., Path]) -> None:
    p = write_yaml(
        HEAD
        + """
description: "two\\nlines\\tand a tab"
opening: {cash: {value: 1, source: "p. 3\\n(table 2)", note: "a\\tb"}}
revenue: {annual: 1}
notes: ["one\\ntwo", "three"]
"""
    )
    a = finmodel.load(p)
    assert a.description == "two\nlines\tand a tab" and a.opening.cash.source == "p. 3\n(table 2)"
    assert a.notes == ["one\ntwo", "three"]
    bad = write_yaml(p.read_text().replace("a\\tb", "a\\x1bb"), "bad.yaml")
    with pytest.raises(AssumptionError, match=r":8: opening\.cash\.note: expected text without"):
        finmodel.load(bad)


def test_yaml_repr_shows_values_as_yaml() -> None:
    assert yaml_repr(datetime.date(2027, 1, 15)) == "2027-01-15"
    assert yaml_repr(datetime.datetime(2027, 1, 15, 9, 30)) == "2027-01-15 09:30:00"
    # a key YAML 1.1 reads as a boolean is quoted, as it must be to be read back as text
    assert yaml_repr({"dist": "normal", "on": True}) == "{dist: normal, 'on': true}"
    assert yaml_repr(["Cloud Co", "yes", "5", None]) == "[Cloud Co, 'yes', '5', null]"
    long = {f"key_{n}": n for n in range(20)}
    assert yaml_repr(long).startswith("a mapping with the keys key_0, key_1, ")
    assert yaml_repr(long).endswith(", ...") and len(yaml_repr(long)) <= 90
    assert yaml_repr(list(range(100))) == (
        "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, ...]"
    )
    assert yaml_repr("a\x00b\x1b") == '"a\\0b\\e"'


def test_yaml_entry_quotes_what_yaml_needs() -> None:
    assert yaml_entry("Cloud Co", "Oracle") == "  Cloud Co: Oracle"
    assert yaml_entry("A: B #1", "P", "    ") == "    'A: B #1': P"
    # the line it suggests reads back as the mapping it describes
    assert _yaml(yaml_entry("no", "2026").strip()) == {"no": "2026"}


def test_the_unmapped_line_to_add_runs(write_yaml: Callable[..., Path]) -> None:
    """The line the message tells the user to add, added, makes the network run."""
    net = Path(__file__).resolve().parent.parent / "assumptions" / "network-2025.yaml"
    text = net.read_text().replace("  cerebras: Cerebras\n", "")
    p = write_yaml(text, "net.yaml")
    r = CliRunner().invoke(
        app, ["network", "openai-plan-2025q3", "--network", str(p), "--no-workbook"]
    )
    assert r.exit_code == 2 and len(r.stderr.splitlines()) == 1
    line = re.search(r"add the line `([^`]*)` under `counterparties:`", r.stderr)
    assert line is not None and line.group(1) == "  Cerebras: Cerebras"
    p.write_text(text.replace("counterparties:\n", f"counterparties:\n{line.group(1)}\n"))
    r = CliRunner().invoke(
        app, ["network", "openai-plan-2025q3", "--network", str(p), "--no-workbook"]
    )
    assert r.exit_code == 0, r.output


def test_a_scenario_as_network_and_back(tmp_path: Path) -> None:
    shipped = Path(__file__).resolve().parent.parent / "assumptions"
    r = CliRunner().invoke(
        app,
        ["network", "bear", "--network", str(shipped / "openai-plan-2025q3.yaml")],
    )
    assert r.exit_code == 2 and len(r.stderr.splitlines()) == 1
    assert "got a scenario (it has revenue:, line 25)" in r.stderr
    assert "e.g. `finmodel network openai-plan-2025q3 --network network-2025`" in r.stderr
    r = CliRunner().invoke(app, ["network", "network-2025", "--network", "network-2025"])
    assert r.exit_code == 2 and len(r.stderr.splitlines()) == 1
    assert "got a network file (it lists parties:, line 13)" in r.stderr
    assert load_with_meta("bear").assumptions.name  # the shipped files still load


@pytest.mark.skipif(loader_module._CSafe is None, reason="libyaml is not installed")
@pytest.mark.parametrize("name", finmodel.assumptions.shipped_names())
def test_libyaml_and_pyyaml_read_every_shipped_file_alike(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same tree and the same line of every field with libyaml's parser (the default)
    and PyYAML's own: the resolvers, constructors and marks the loader relies on agree."""
    path = finmodel.assumptions.shipped_path(name)
    fast = loader_module._parse(path)
    monkeypatch.setattr(loader_module, "_PARSER", _Loader)
    assert loader_module._parse(path) == fast


@pytest.mark.parametrize("parser", ["libyaml", "pyyaml"])
def test_too_many_values_refused_while_reading(
    write_yaml: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, parser: str
) -> None:
    """One value more than the limit, no alias: refused at the line where the count passes
    the limit, without the alias-bomb hint; exactly the limit is read."""
    limit = MAX_VALUES
    if parser == "pyyaml":  # the pure-Python parser, with a lower limit to keep the test short
        monkeypatch.setattr(loader_module, "_PARSER", _Loader)
        limit = 1_000
        monkeypatch.setattr(loader_module, "MAX_VALUES", limit)
    head = "name: N\ncompany: C\nstart: 2026-01\nend: 2026-12\nopening: {cash: 1}\n"
    over = write_yaml(head + "revenue: {annual: 1}\nnotes:\n" + "- a\n" * (limit + 1))
    with pytest.raises(AssumptionError) as e:
        finmodel.load(over)
    # values before the list's items, counted by hand: the top mapping 1, four key-value
    # pairs 8, opening's key, mapping and pair 4, revenue's 4, notes' key and list 2 = 19;
    # so item n is value 19 + n, and the limit is passed at n = limit + 1 - 19, on
    # line 7 + n (the first item is on line 8)
    n = limit + 1 - 19
    assert str(e.value) == (
        f"{over}:{7 + n}: expected at most {limit:,} values in a file, got more"
    )
    fits = write_yaml(head + "revenue: {annual: 1}\nnotes:\n" + "- a\n" * (n - 1), "fits.yaml")
    assert len(finmodel.load(fits).notes or ()) == n - 1


@pytest.mark.parametrize("parser", ["libyaml", "pyyaml"])
def test_tab_in_the_indentation_says_to_use_spaces(
    write_yaml: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, parser: str
) -> None:
    """Both parsers' words for a tab where indentation is expected become one message."""
    if parser == "pyyaml":
        monkeypatch.setattr(loader_module, "_PARSER", _Loader)
    for text, line in (
        ("name: x\nopening:\n\tcash: 1\n", 3),
        ("name: x\nopening:\n  cash: 1\n\tdebt: 2\n", 4),
    ):
        p = write_yaml(text)
        with pytest.raises(AssumptionError) as e:
            finmodel.load(p)
        assert str(e.value) == (
            f"{p}:{line}: invalid YAML: found a tab where YAML expects spaces (indent with "
            "spaces, not tabs)"
        )
