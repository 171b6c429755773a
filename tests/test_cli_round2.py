"""Issue 10, round 2: what a new user's trial found in the CLI and the analyses behind it.

Bar ends, grid values and bracket ends are checked as ``--set`` is (the domain and the 1e15
magnitude limit); errors name the option; a goal seek on a metric that does not move says
so; ``compare`` refuses what would mislead; nothing printed about a workbook not written;
the help shows values in words. (The one-line refusals themselves are in tests/bad_inputs,
``fixcli_*``.)
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rich._emoji_codes import EMOJI
from rich.markup import RE_TAGS
from typer.main import get_command
from typer.testing import CliRunner

import finmodel
from finmodel.analysis.arguments import model_like
from finmodel.analysis.metrics import never_text
from finmodel.analysis.sensitivity import (
    TornadoSpec,
    default_specs,
    end_problem,
    grid,
    move,
    tornado,
)
from finmodel.analysis.solve import SCAN, solve
from finmodel.assumptions.schema import MAX_MAGNITUDE
from finmodel.cli import app
from finmodel.errors import ArgumentError, TargetNotReachedError

runner = CliRunner()
PLAN = Path(__file__).parent / "bad_inputs" / "fixcli_param_not_a_range.yaml"
"""A small valid plan: opening cash 25, revenue 10 (2026) and 60 (2030), cost of revenue a
share of 0.3, tax 0.21 (its own header is a bad command line, not a bad file)."""


# --- one check for --set, bar ends, grid values and bracket ends --------------------------


def test_end_problem_is_the_check_of_set() -> None:
    m = model_like(PLAN)
    # the limit itself is allowed; just above it is not (MAX_MAGNITUDE = 1e15, the schema's)
    assert MAX_MAGNITUDE == 1e15
    assert end_problem(m, move(m, "revenue.scale"), 1e15) is None
    assert end_problem(m, move(m, "revenue.scale"), 1.5e15) == (
        "expected a number of magnitude at most 1e+15, got 1.5e+15"
    )
    # scaling a path checks each input: 60 (2030) x 2e13 = 1.2e15 > 1e15, 10 x 2e13 = 2e14 is not
    assert end_problem(m, move(m, "revenue.annual"), 2e13) == (
        "expected a number of magnitude at most 1e+15, got 1.2e+15 for revenue.annual.2030 "
        "(after scale 2e+13)"
    )
    # --set refuses the same values with the same words
    r = runner.invoke(app, ["run", str(PLAN), "--no-workbook", "--scale", "revenue.annual=2e13"])
    assert r.exit_code == 2
    assert r.stderr == (
        "error: --scale revenue.annual=2e13: expected a number of magnitude at most 1e+15, "
        "got 1.2e+15 for revenue.annual.2030 (after scale 2e+13)\n"
    )


@pytest.mark.parametrize(
    ("call", "argument", "message"),
    [
        (
            lambda m: tornado(m, "funding_gap", [TornadoSpec("revenue.scale", 0.0, 1e300)]),
            "specs",
            "specs[0].high: expected a number of magnitude at most 1e+15, got 1e+300",
        ),
        (
            lambda m: tornado(m, "funding_gap", [TornadoSpec("opening.cash", 10.0, 5.0)]),
            "specs",
            "specs[0]: expected low <= high, got low 10 and high 5",
        ),
        (
            lambda m: tornado(m, "funding_gap", [TornadoSpec("opening.csh", 1.0, 2.0)]),
            "specs",
            "specs[0].path: expected a parameter path of this scenario, got 'opening.csh'; "
            "nearest: opening.cash",
        ),
        (
            lambda m: grid(m, "funding_gap", "revenue.scale", [1.0, 1e301], "opening.cash", [1]),
            "x_values",
            "x_values[1]: expected a number of magnitude at most 1e+15, got 1e+301",
        ),
        (
            lambda m: grid(m, "funding_gap", "revenue.scale", [1.0], "costs.tax_rate", [21]),
            "y_values",
            "y_values[0]: expected a rate between 0 and 1",
        ),
        (
            lambda m: solve(m, "funding_gap", 0.0, "opening.cash", (-5.0, 100.0)),
            "bracket",
            "bracket: expected an amount >= 0, got -5",
        ),
        (
            lambda m: solve(m, "fundng_gap", 0.0, "opening.cash"),
            "metric",
            "metric: expected one of the known metrics, got 'fundng_gap'; nearest: funding_gap",
        ),
        (
            lambda m: solve(m, "funding_gap", 0.0, "revenue.annual", op="set"),
            "op",
            "op: expected 'scale' or 'shift' to move the 2 inputs of revenue.annual together, "
            "got 'set'",
        ),
    ],
)
def test_the_api_names_the_argument(call, argument: str, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ArgumentError) as e:
        call(model_like(PLAN))
    assert e.value.argument == argument
    assert str(e.value).startswith(message)


def test_default_bracket_stops_at_the_domain() -> None:
    # default for one input: 0 to 4x its value, 4 x 0.3 = 1.2; a share stops at 1
    sol = solve(PLAN, "funding_gap.2030", 0.0, "costs.cost_of_revenue.share_of_revenue")
    assert sol.bracket == (0.0, 1.0)


# --- a metric that does not move -------------------------------------------------------


def test_a_metric_that_does_not_move_is_no_solution() -> None:
    m = model_like("hsbc-2025-11")
    gap = finmodel.run("hsbc-2025-11").metric_value("funding_gap", 2030)
    rate = m.params["valuation_discount_rate"].value
    with pytest.raises(TargetNotReachedError) as e:
        solve(m, "funding_gap.2030", 0.0, "valuation.discount_rate")
    assert e.value.kind == "constant"
    assert e.value.below is None and e.value.above == (0.0, pytest.approx(gap, rel=1e-12))
    r = runner.invoke(
        app,
        [
            "solve",
            "hsbc-2025-11",
            "--target",
            "funding_gap.2030=0",
            "--vary",
            "valuation.discount_rate",
        ],
    )
    assert r.exit_code == 1 and r.stderr == ""
    assert r.stdout == (
        f"no solution: funding_gap.2030 does not move with valuation.discount_rate (set) in "
        f"[0, {4 * rate:g}]: it is {gap:,.2f} at all {SCAN} points scanned, not the target 0; "
        "it does not depend on valuation.discount_rate, or not within this bracket\n"
    )
    assert "wider bracket" not in r.stdout


# --- output -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [["--seed", "-1"], ["-n", "0"], ["-n", "1000000000"], ["--alpha", "2"]],
)
def test_a_refused_simulation_prints_nothing_on_stdout(in_tmp: Path, args: list[str]) -> None:
    r = runner.invoke(app, ["simulate", "hsbc-2025-11", *args])
    assert r.exit_code == 2
    assert r.stdout == ""
    assert len(r.stderr.splitlines()) == 1 and r.stderr.startswith("error: --")


def test_top_says_where_the_other_bars_are(in_tmp: Path) -> None:
    # the bars: the file's sensitivity section, else one per input group
    a = finmodel.load("hsbc-2025-11")
    cfg = a.sensitivity
    if cfg is not None and cfg.parameters:
        bars = len(cfg.parameters)
    else:
        bars = len(default_specs(model_like(a), float(cfg.pct) if cfg else 0.2))
    assert bars > 0
    r = runner.invoke(app, ["sensitivity", "hsbc-2025-11", "--top", "0", "--no-workbook"])
    assert r.exit_code == 0, r.output
    assert f"({bars} more; --top {bars} shows them all)" in r.stdout
    assert "workbook" not in r.stdout
    r = runner.invoke(app, ["sensitivity", "hsbc-2025-11", "--top", "0"])
    assert r.exit_code == 0, r.output
    assert f"({bars} more in the workbook)" in r.stdout


def test_out_quotes_what_was_typed(in_tmp: Path) -> None:
    r = runner.invoke(app, ["run", "bear", "--out", ""])
    assert r.exit_code == 2
    assert r.stderr == "error: --out: expected a workbook path ending in .xlsx, got ''\n"
    r = runner.invoke(app, ["run", "bear", "--out", "."])
    assert r.stderr == "error: --out: expected a workbook path ending in .xlsx, got '.'\n"
    assert not (in_tmp / "outputs").exists()


def test_compare_labels_scenarios_of_one_name_and_words_runway_as_run(in_tmp: Path) -> None:
    # both overlays keep the HSBC file's name; 'rich' opens with 5,000 of cash, more than the
    # 214 of funding need the file has through 2030, so its cash never runs out
    (in_tmp / "rich.yaml").write_text("extends: hsbc-2025-11\nopening: {cash: 5000}\n")
    (in_tmp / "same.yaml").write_text("extends: hsbc-2025-11\nfunding: {min_cash: 1}\n")
    r = runner.invoke(app, ["compare", "rich.yaml", "same.yaml", "--no-workbook"])
    assert r.exit_code == 0, r.output
    assert "(rich)" in r.stdout and "(same)" in r.stdout
    assert "Scenarios side by side (USD billion)" in r.stdout
    runway = next(line for line in r.stdout.splitlines() if "runway_months" in line)
    assert never_text("runway_months") == "beyond the horizon"
    assert "beyond the horizon" in runway and "never" not in runway
    run = runner.invoke(app, ["run", "rich.yaml", "--no-workbook"])
    assert re.search(r"Runway \(from the end of 2025-06\)\s*│\s*beyond the horizon", run.stdout)


# --- help -------------------------------------------------------------------------------


def _help_texts() -> list[tuple[str, str]]:
    group = get_command(app)
    texts = [("finmodel", group.help or "")]
    for name, cmd in group.commands.items():  # type: ignore[attr-defined]
        texts.append((name, cmd.help or ""))
        texts += [(f"{name} {p.name}", getattr(p, "help", None) or "") for p in cmd.params]
    return texts


def test_no_help_text_is_read_as_markup_or_emoji() -> None:
    # typer renders help through rich markup: ':b:' in 'a:b:n' became an emoji, '[x]' a tag
    for where, text in _help_texts():
        for m in re.finditer(r":(\S*?)(?:-(emoji|text))?:", text):
            assert m.group(1).lower() not in EMOJI, (where, m.group(0))
        assert not RE_TAGS.search(text), (where, text)


@pytest.mark.parametrize(
    "command",
    ["run", "validate", "compare", "sensitivity", "solve", "simulate", "value", "network"],
)
def test_help_shows_values_in_words(command: str) -> None:
    r = runner.invoke(app, [command, "--help"], env={"COLUMNS": "120"})
    assert r.exit_code == 0
    for jargon in ("<str>", "<int>", "<float>", "<bool>", "<path>", "list[", "{"):
        assert jargon not in r.stdout, (command, jargon)
    assert not any(ch in r.stdout for ch in ("\U0001f171",))  # the emoji ':b:' made
    usage = next(line for line in r.stdout.splitlines() if "Usage:" in line)
    assert re.search(r"\[OPTIONS\] (\[?[A-Z]+\]?(\.\.\.)?)$", usage.strip()), usage


def test_sensitivity_help_spells_the_grid_values() -> None:
    r = runner.invoke(app, ["sensitivity", "--help"], env={"COLUMNS": "120"})
    assert "PATH=START:STOP:COUNT" in r.stdout and "PATH[=LOW:HIGH]" in r.stdout
