"""Hostile and huge inputs, fuzzing, interrupted writes, reproducible bytes, edge cases."""

from __future__ import annotations

import functools
import json
import signal
import subprocess
import sys
import time
import unicodedata
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import run_limited
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from typer.testing import CliRunner

import finmodel
from finmodel.assumptions.loader import Document, validate
from finmodel.cli import app
from finmodel.errors import FinmodelError

BAD = Path(__file__).parent / "bad_inputs"


_cli = functools.partial(run_limited, timeout=60)
"""The command in a fresh process with 1.5 GB of address space (conftest.run_limited)."""


@pytest.mark.parametrize("name", ["alias_bomb", "deep_nesting", "python_tag", "huge_integer"])
def test_hostile_yaml_gets_exit_2_in_bounded_memory(name: str, tmp_path: Path) -> None:
    p = _cli(["run", str(BAD / f"{name}.yaml")], tmp_path)
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr and p.stderr.startswith("error: ")
    assert not (tmp_path / "outputs").exists()


def test_binary_directory_missing_and_oversized_files(tmp_path: Path) -> None:
    junk = tmp_path / "junk.yaml"
    junk.write_bytes(b"name: \xff\xfe\x00\x01junk\n")
    big = tmp_path / "big.yaml"
    big.write_text("name: " + "x" * 6_000_000 + "\n")
    nul = tmp_path / "nul.yaml"
    nul.write_text("name: a\x00b\n")
    for path, message in (
        (junk, "expected UTF-8 text, got undecodable bytes"),
        (tmp_path, "expected an assumption file, got a directory"),
        (tmp_path / "nope.yaml", "no such file"),
        (big, "expected an assumption file of at most 5,000,000 bytes"),
        (nul, f"{nul}:1: expected text without control characters, got U+0000 (NUL)"),
    ):
        r = CliRunner().invoke(app, ["run", str(path), "--no-workbook"])
        assert r.exit_code == 2 and message in r.output, (path, r.output)


JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=5),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.just([]),
    st.just({}),
    st.just("=cmd|' /C calc'!A0"),
    st.just({"value": "x"}),
)

BASE: dict[str, Any] = {
    "name": "Fuzz",
    "company": "F",
    "start": "2026-01",
    "end": "2027-12",
    "opening": {"cash": 5, "tax_losses": 1},
    "revenue": {"annual": {2026: 12, 2027: 30}, "growth_scale": 0.5},
    "costs": {
        "compute": {"annual": {2026: 6}},
        "staff": {"share_of_revenue": {2026: 0.2}},
        "capex": {"annual": {2026: 2}, "life_years": 3},
        "tax_rate": 0.2,
    },
    "commitments": [
        {"counterparty": "C", "amount": 20, "start": "2026-06", "years": 2, "profile": "ramp"}
    ],
    "milestones": {"gw": {"2026-01": 0, "2027-12": 3}},
    "funding": {
        "min_cash": 2,
        "inflows": [
            {"name": "A", "amount": 3, "date": "2026-09"},
            {"name": "B", "amount": 9, "milestone": "gw", "per_unit": 4},
        ],
        "facilities": [{"name": "F", "limit": 4, "rate": 0.1}],
    },
}


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _set(tree: Any, path: tuple[Any, ...], value: Any) -> Any:
    import copy

    t = copy.deepcopy(tree)
    cur = t
    for k in path[:-1]:
        cur = cur[k]
    cur[path[-1]] = value
    return t


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 10_000), JUNK), max_size=3), st.floats(0.5, 2))
def test_fuzz_only_finmodel_errors_escape(mutations: list[tuple[int, Any]], k: float) -> None:
    tree = _set(BASE, ("revenue", "growth_scale"), k)
    for pick, junk in mutations:
        paths = _paths(tree)
        tree = _set(tree, paths[pick % len(paths)], junk)
    try:
        a = validate(Document(tree, {}, [Path("fuzz.yaml")]))
        res = finmodel.run(a)
    except FinmodelError:
        return
    for it in res.model.items:  # a valid tree gives finite numbers (identities held in run)
        assert np.all(np.isfinite(res.series(it.id))), it.id


@pytest.fixture(scope="module")
def huge_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 50-year monthly horizon with 1,000 commitments and 100 funding tranches."""
    lines = [
        "name: Huge",
        "company: H",
        "start: 2026-01",
        "end: 2075-12",
        "opening: {cash: 100}",
        "revenue: {annual: {2026: 10, 2075: 500}}",
        "costs: {compute: {annual: {2026: 5, 2075: 200}}}",
        "commitments:",
    ]
    for i in range(1000):
        lines.append(
            f"  - {{counterparty: C{i}, amount: {1 + i % 7}, start: {2026 + i % 40}-"
            f"{1 + i % 12:02d}, years: {1 + i % 10}, profile: {'flat' if i % 2 else 'ramp'}}}"
        )
    lines += ["funding:", "  inflows:"]
    lines += [
        f"    - {{name: T{i}, amount: 1, date: {2026 + i % 49}-{1 + i % 12:02d}}}"
        for i in range(100)
    ]
    p = tmp_path_factory.mktemp("huge") / "huge.yaml"
    p.write_text("\n".join(lines) + "\n")
    return p


def test_huge_but_valid_input_runs_and_writes(huge_file: Path, tmp_path: Path) -> None:
    p = _cli(
        ["run", str(huge_file), "--json", "--out", str(tmp_path / "h.xlsx")], tmp_path, timeout=300
    )
    assert p.returncode == 0, p.stderr[-2000:]
    doc = json.loads(p.stdout)
    assert doc["metrics"]["commitments_total"] == sum(1 + i % 7 for i in range(1000))
    with zipfile.ZipFile(tmp_path / "h.xlsx") as z:
        assert z.testzip() is None


def test_interrupted_writes_leave_the_old_file_or_a_complete_one(
    huge_file: Path, tmp_path: Path
) -> None:
    """Kill a real process at several moments of a run that writes a large workbook over an
    existing file: the file is always either the old one or a complete new workbook."""
    out = tmp_path / "w.xlsx"
    old = finmodel.run("bear").to_excel(out).read_bytes()
    t0 = time.perf_counter()
    full = _cli(["run", str(huge_file), "--no-workbook"], tmp_path, timeout=300)
    assert full.returncode == 0
    span = time.perf_counter() - t0
    for frac, sig in (
        (0.5, signal.SIGKILL),
        (1.0, signal.SIGKILL),
        (1.5, signal.SIGKILL),
        (1.2, signal.SIGTERM),
        (2.0, signal.SIGKILL),
    ):
        out.write_bytes(old)
        proc = subprocess.Popen(
            [sys.executable, "-m", "finmodel", "run", str(huge_file), "--out", str(out)],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(frac * span)
        proc.send_signal(sig)
        proc.wait(timeout=300)
        data = out.read_bytes()
        if data != old:
            with zipfile.ZipFile(out) as z:
                assert z.testzip() is None
            assert load_workbook(out, read_only=True).sheetnames[0] == "Summary"
        if sig == signal.SIGTERM:
            assert not list(tmp_path.glob(".w.xlsx.*.tmp"))  # cleaned up on SIGTERM


def test_unwritable_output_is_a_clear_error(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["run", "bear", "--out", "/proc/finmodel-test.xlsx"])
    assert r.exit_code == 2 and "cannot write the file" in r.output


NAMES = st.one_of(
    st.sampled_from(
        [
            "Oracle",
            "ORACLE!",
            "oracle",
            "Plan [/bold] Q3",
            "Oracle [/]",
            "[link=https://example.com]x[/link]",
            "$\\frac$",
            "!!!",
            "???",
            "甲骨文",
            "ОРАКЛ",
            "🚀",
            "Société",
            "Societe",
            "Balance",
            "Demand",
            "Base",
            "Plan",
            "Subscriptions",
        ]
    ),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=6),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(NAMES, min_size=7, max_size=7))
def test_fuzz_names(names: list[str]) -> None:
    """Any text as the names of two counterparties, two inflows, two facilities and a
    milestone: the file runs with one line item per name, or, exactly when two names of one
    kind share an identifier, it is refused with a message naming both spellings."""
    from finmodel.assumptions.schema import char_name, slug

    c1, c2, i1, i2, f1, f2, ms = names
    tree = _set(BASE, ("commitments",), [*BASE["commitments"], {**BASE["commitments"][0]}])
    tree["commitments"][0]["counterparty"], tree["commitments"][1]["counterparty"] = c1, c2
    tree["funding"]["inflows"][0]["name"], tree["funding"]["inflows"][1]["name"] = i1, i2
    tree["funding"]["inflows"][1]["milestone"] = ms
    tree["milestones"] = {ms: BASE["milestones"]["gw"]}
    tree["funding"]["facilities"] = [
        {"name": f1, "limit": 2, "rate": 0.1},
        {"name": f2, "limit": 2, "rate": 0.1},
    ]
    pairs = [(c1, c2), (i1, i2), (f1, f2)]
    clash = next(((a, b) for a, b in pairs if slug(a) == slug(b)), None)
    # a name is one line of text: control characters and line separators are refused
    control = [c for n in names for c in n if unicodedata.category(c) in ("Cc", "Zl", "Zp")]
    # a name has a visible character: empty and blank names are refused
    blank = [n for n in names if not n.strip()]
    try:
        res = finmodel.run(validate(Document(tree, {}, [Path("fuzz.yaml")])))
    except FinmodelError as e:
        if blank and "expected a name with at least one visible character" in str(e):
            assert "got an empty name" in str(e) or "got a blank name" in str(e), str(e)
            event("refused: a blank name")
            return
        if control:
            assert "expected a name on one line without control characters" in str(e), str(e)
            assert any(char_name(c) in str(e) for c in control), str(e)
            assert not any(c in str(e) for c in control), "the message escapes the character"
            event("refused: a control character in a name")
            return
        assert clash is not None, str(e)
        a, b = clash
        assert repr(b) in str(e) and (a == b or repr(a) in str(e)), str(e)
        event("refused: two names share an identifier")
        return
    event("ran")
    assert clash is None and not control and not blank
    ids = [it.id for it in res.model.items]
    assert len(set(ids)) == len(ids)
    for kind, name in (("commit", c1), ("commit", c2), ("inflow", i1), ("inflow", i2)):
        assert f"{kind}__{slug(name)}" in ids
    both = res.series(f"facility__{slug(f1)}") + res.series(f"facility__{slug(f2)}")
    assert both == pytest.approx(res.series("facility_balance"))


def test_injection_and_control_characters(write_yaml: Callable[..., Path], tmp_path: Path) -> None:
    """Formula-like text is written as text cells; control characters in a name are refused
    with a located message (README: "control characters each get one message")."""
    p = write_yaml("""
        name: "@SUM(1+1)*cmd|' /C calc'!A0"
        company: "-2+3 bell"
        start: 2026-01
        end: 2026-03
        opening: {cash: {value: 1, source: "+HYPERLINK(\\"http://evil\\")", note: "=1+1"}}
        revenue: {annual: {2026: 3}}
        commitments: [{counterparty: "=evil()", amount: 1, start: 2026-01}]
    """)
    wb = load_workbook(finmodel.run(p).to_excel(tmp_path / "i.xlsx"))
    found = 0
    for ws in wb:
        for row in ws.iter_rows():
            for c in row:
                v = c.value
                if not isinstance(v, str):
                    continue
                raw = ("evil()", "cmd|", "bell", "=1+1", "HYPERLINK")
                if c.data_type == "f":
                    # finmodel's own formulas may name a slug (commitments_evil_amount) but
                    # never carry the file's text
                    assert not any(x in v for x in raw), v
                elif any(x in v for x in raw):
                    found += 1
                    assert c.data_type == "s"
                    if v[:1] in "=+-@":
                        assert c.number_format == "@"
    assert found >= 4
    bell = write_yaml(p.read_text().replace("-2+3 bell", "-2+3\\u0007\\u0001bell"), "bell.yaml")
    r = CliRunner().invoke(app, ["run", str(bell), "--no-workbook"])
    assert r.exit_code == 2 and r.stderr.count("\n") == 1, r.output
    assert f"{bell}:3: company: expected a name on one line without control characters, got " in (
        r.stderr
    )
    # the first control character, by code point and name, and the text as YAML writes it
    assert 'got U+0007 (BEL) at character 5 of "-2+3\\a\\x01bell"' in r.stderr
    assert "\x07" not in r.stderr and "\x01" not in r.stderr


def test_outputs_are_reproducible_bytes(tmp_path: Path) -> None:
    a = finmodel.run("hsbc-2025-11").to_excel(tmp_path / "a.xlsx").read_bytes()
    time.sleep(1.1)
    b = finmodel.run("hsbc-2025-11").to_excel(tmp_path / "b.xlsx").read_bytes()
    assert a == b
    r1 = CliRunner().invoke(app, ["run", "bear", "--json", "--no-workbook"]).stdout
    r2 = CliRunner().invoke(app, ["run", "bear", "--json", "--no-workbook"]).stdout
    assert r1 == r2 and json.loads(r1)["input_sha256"]
    with zipfile.ZipFile(tmp_path / "a.xlsx") as z:
        assert b"2000-01-01T00:00:00Z" in z.read("docProps/core.xml")
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}


EDGE = """
name: Edge
company: E
start: {start}
end: {end}
opening: {{cash: {cash}}}
revenue: {revenue}
costs: {costs}
commitments: {commitments}
funding: {{min_cash: {buffer}}}
"""


def _edge(write_yaml: Callable[..., Path], **kw: Any) -> finmodel.Results:
    spec = {
        "start": "2026-01",
        "end": "2027-12",
        "cash": 10,
        "revenue": "{annual: {2026: 12}}",
        "costs": "{}",
        "commitments": "[]",
        "buffer": 0,
        **kw,
    }
    return finmodel.run(write_yaml(EDGE.format(**spec)))


def test_edges(write_yaml: Callable[..., Path], tmp_path: Path) -> None:
    # zero revenue, with growth scaling: no NaN, revenue stays 0, cash falls by costs only
    r = _edge(
        write_yaml,
        revenue="{annual: {2026: 0}, growth_scale: 0.5}",
        costs="{staff: {annual: {2026: 12}}}",
    )
    assert r.annual.loc["revenue"].tolist() == [0, 0] and r.metrics["cash_out_month"] == "2026-11"
    # zero costs: cash grows by revenue, nothing is ever needed
    r = _edge(write_yaml)
    assert r.metrics["peak_funding_need"] == 0 and r.metrics["breakeven_year"] == 2026
    # a buffer above opening cash: short from the first month, runway 0, need = buffer - cash
    r = _edge(write_yaml, revenue="{annual: {2026: 0}}", buffer=15)
    assert r.metrics["cash_out_month"] == "2026-01" and r.metrics["runway_months"] == 0
    assert r.metrics["peak_funding_need"] == pytest.approx(5)
    # commitments starting after the horizon: no payments, but the contract value counts
    r = _edge(
        write_yaml, commitments="[{counterparty: Late, amount: 50, start: 2030-01, years: 2}]"
    )
    assert r.annual.loc["committed_payments"].sum() == 0 and r.metrics["commitments_total"] == 50
    # a one-month horizon: every metric defined, the workbook written
    r = _edge(
        write_yaml,
        end="2026-01",
        revenue="{annual: {2026: 12}}",
        costs="{staff: {annual: {2026: 24}}}",
        cash=0.5,
    )
    assert r.model.timeline.T == 1 and r.metrics["cash_out_month"] == "2026-01"
    assert r.metrics["peak_funding_need"] == pytest.approx(0.5)  # 0.5 + 1 - 2 = -0.5
    wb = load_workbook(r.to_excel(tmp_path / "one.xlsx"))
    assert wb["Calc"]["C1"].value == "2026-01" and wb["Calc"]["D1"].value is None
