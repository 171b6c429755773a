"""Every public function refuses a bad argument with a finmodel error that is also the
matching builtin (ValueError for a value out of its domain; TypeError, and ValueError, for a
wrong type) and names the Python argument, never a CLI option. The CLI names its option
for the same mistake, from one table (finmodel.cli.OPTIONS)."""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

import finmodel
from finmodel import network as nw
from finmodel.analysis import raise_schedule as rs
from finmodel.analysis.montecarlo import simulate
from finmodel.analysis.sensitivity import TornadoSpec, grid, tornado
from finmodel.analysis.sobol import sobol
from finmodel.analysis.solve import solve
from finmodel.cli import OPTIONS, app
from finmodel.engine.model import Model, build
from finmodel.errors import ArgumentError, ArgumentTypeError, FinmodelError, ResourceLimitError

PLAN = """
name: Plan
company: P
start: 2026-01
end: 2026-12
opening: {cash: 10}
revenue: {annual: {2026: 2}}
costs: {staff: {annual: {2026: 6}}}
uncertainty:
  draws: 50
  parameters:
    opening.cash: {dist: uniform, low: 5, high: 15}
    costs.staff.annual.2026: {dist: uniform, low: 3, high: 9}
"""

NETWORK = Path(__file__).resolve().parent.parent / "assumptions" / "network-2025.yaml"


@pytest.fixture
def plan(write_yaml: Callable[..., Path]) -> Model:
    return build(finmodel.load(write_yaml(PLAN)))


def _refused(call: Callable[[], object], builtin: type[Exception], argument: str) -> str:
    """``call`` raises a FinmodelError that is also ``builtin``; its message starts with
    ``argument`` (as the Python code spells it) and names no option (``-n``, ``--seed``)."""
    with pytest.raises(FinmodelError) as e:
        call()
    err = e.value
    assert isinstance(err, builtin), (type(err), builtin)
    text = str(err)
    assert text.startswith(argument), text
    assert not re.search(r"(^|\s)--?[a-z]", text), text  # no CLI option in an API message
    if isinstance(err, ArgumentError):  # the argument travels with the error, for the CLI
        assert re.split(r"[\[.: ]", argument, maxsplit=1)[0] == err.argument.split(" ")[0]
    return text


# (description, call, builtin, how the message starts)
def _cases(plan: Model) -> list[tuple[str, Callable[[], object], type[Exception], str]]:
    spec = TornadoSpec("opening.cash", 5.0, 15.0)
    need = np.array([[0.0, 1.0], [1.0, 2.0]])
    return [
        # simulate
        ("simulate model", lambda: simulate(None), TypeError, "model: expected a file path"),
        ("simulate u", lambda: simulate(plan, u="x"), TypeError, "u: expected an Uncertainty"),
        (
            "simulate n=2.5",
            lambda: simulate(plan, n=2.5),
            TypeError,
            "n: expected a whole number, got 2.5",
        ),
        (
            "simulate n=True",
            lambda: simulate(plan, n=True),
            TypeError,
            "n: expected a whole number, got True",
        ),
        (
            "simulate n=0",
            lambda: simulate(plan, n=0),
            ValueError,
            "n: expected at least 1 draw, got 0",
        ),
        (
            "simulate seed=-1",
            lambda: simulate(plan, n=10, seed=-1),
            ValueError,
            "seed: expected a whole number from 0 to 2^128 - 1, got -1",
        ),
        (
            "simulate seed=2^128",
            lambda: simulate(plan, n=10, seed=2**128),
            ValueError,
            "seed: expected a whole number from 0",
        ),
        (
            "simulate seed=1.5",
            lambda: simulate(plan, n=10, seed=1.5),
            TypeError,
            "seed: expected a whole number",
        ),
        (
            "simulate sampler",
            lambda: simulate(plan, n=10, sampler="sobol"),
            ValueError,
            "sampler: expected 'lhs' or 'random', got 'sobol'",
        ),
        (
            "simulate alpha=2",
            lambda: simulate(plan, n=10, alpha=2.0),
            ValueError,
            "alpha: expected a probability in [0, 1], got 2.0",
        ),
        (
            "simulate alpha=nan",
            lambda: simulate(plan, n=10, alpha=math.nan),
            ValueError,
            "alpha: expected a probability in [0, 1], got nan",
        ),
        (
            "simulate alpha='x'",
            lambda: simulate(plan, n=10, alpha="x"),
            TypeError,
            "alpha: expected a probability",
        ),
        (
            "simulate chunk=0",
            lambda: simulate(plan, n=10, chunk=0),
            ValueError,
            "chunk: expected at least 1, got 0",
        ),
        (
            "simulate validation_draws=0",
            lambda: simulate(plan, n=10, validation_draws=0),
            ValueError,
            "validation_draws: expected at least 1 draw, got 0",
        ),
        (
            "simulate progress",
            lambda: simulate(plan, n=10, progress=3),
            TypeError,
            "progress: expected a function",
        ),
        (
            "simulate input_sha256",
            lambda: simulate(plan, n=10, input_sha256=5),
            TypeError,
            "input_sha256: expected",
        ),
        (
            "simulate memory",
            lambda: simulate(plan, n=10**12),
            MemoryError,
            "n: expected a run that fits in memory",
        ),
        # tornado
        ("tornado model", lambda: tornado(3, "funding_gap", [spec]), TypeError, "model: expected"),
        (
            "tornado metric",
            lambda: tornado(plan, 5, [spec]),
            TypeError,
            "metric: expected a metric name",
        ),
        (
            "tornado specs empty",
            lambda: tornado(plan, "funding_gap", []),
            ValueError,
            "specs: expected at least one TornadoSpec, got none",
        ),
        (
            "tornado specs one",
            lambda: tornado(plan, "funding_gap", spec),
            TypeError,
            "specs: expected a list of TornadoSpec",
        ),
        (
            "tornado specs item",
            lambda: tornado(plan, "funding_gap", ["opening.cash"]),
            TypeError,
            "specs[0]: expected a TornadoSpec, got 'opening.cash'",
        ),
        (
            "tornado NaN low",
            lambda: tornado(
                plan, "funding_gap", [spec, TornadoSpec("opening.cash", math.nan, 1.0)]
            ),
            ValueError,
            "specs[1].low: expected a finite number, got nan",
        ),
        (
            "tornado inf high",
            lambda: tornado(plan, "funding_gap", [TornadoSpec("opening.cash", 1.0, math.inf)]),
            ValueError,
            "specs[0].high: expected a finite number, got inf",
        ),
        (
            "tornado low only",
            lambda: tornado(plan, "funding_gap", [TornadoSpec("opening.cash", 1.0)]),
            ValueError,
            "specs[0].low: expected both 'low' and 'high', or neither",
        ),
        (
            "tornado pct",
            lambda: tornado(plan, "funding_gap", [TornadoSpec("opening.cash", pct=1.5)]),
            ValueError,
            "specs[0].pct: expected a fraction above 0 and below 1",
        ),
        (
            "tornado op",
            lambda: tornado(plan, "funding_gap", [TornadoSpec("opening.cash", op="add")]),
            ValueError,
            "specs[0].op: expected one of set, scale, shift",
        ),
        (
            "tornado default_pct",
            lambda: tornado(
                plan, "funding_gap", [TornadoSpec("opening.cash")], default_pct=math.nan
            ),
            ValueError,
            "default_pct: expected a fraction above 0 and below 1",
        ),
        # grid
        (
            "grid x_values empty",
            lambda: grid(plan, "funding_gap", "opening.cash", [], "costs.staff", [1.0]),
            ValueError,
            "x_values: expected at least one value, got []",
        ),
        (
            "grid y_values NaN",
            lambda: grid(plan, "funding_gap", "opening.cash", [1.0], "costs.staff", [math.nan]),
            ValueError,
            "y_values: expected finite values",
        ),
        (
            "grid x_values text",
            lambda: grid(plan, "funding_gap", "opening.cash", "1,2", "costs.staff", [1.0]),
            TypeError,
            "x_values: expected a list of numbers, got '1,2'",
        ),
        (
            "grid x_values strings",
            lambda: grid(plan, "funding_gap", "opening.cash", ["1", "2"], "costs.staff", [1.0]),
            TypeError,
            "x_values: expected a list of numbers",
        ),
        (
            "grid y_values nested",
            lambda: grid(plan, "funding_gap", "opening.cash", [1.0], "costs.staff", [[1.0]]),
            TypeError,
            "y_values: expected a list of numbers",
        ),
        (
            "grid x",
            lambda: grid(plan, "funding_gap", 5, [1.0], "costs.staff", [1.0]),
            TypeError,
            "x: expected a parameter path as a string",
        ),
        (
            "grid x_op",
            lambda: grid(
                plan, "funding_gap", "opening.cash", [1.0], "costs.staff", [1.0], x_op="mul"
            ),
            ValueError,
            "x_op: expected 'set', 'scale' or 'shift', got 'mul'",
        ),
        (
            "grid memory",
            lambda: grid(
                plan,
                "funding_gap",
                "opening.cash",
                np.linspace(0, 1, 100_000),
                "costs.staff",
                np.linspace(0, 2, 100_000),
            ),
            MemoryError,
            "x_values and y_values: expected a run that fits in memory",
        ),
        # solve
        (
            "solve target NaN",
            lambda: solve(plan, "funding_gap", math.nan, "opening.cash"),
            ValueError,
            "target: expected a finite number, got nan",
        ),
        (
            "solve target text",
            lambda: solve(plan, "funding_gap", "0", "opening.cash"),
            TypeError,
            "target: expected a number, got '0'",
        ),
        (
            "solve vary",
            lambda: solve(plan, "funding_gap", 0.0, None),
            TypeError,
            "vary: expected a parameter path",
        ),
        (
            "solve bracket short",
            lambda: solve(plan, "funding_gap", 0.0, "opening.cash", (1.0,)),
            TypeError,
            "bracket: expected (low, high), got (1.0,)",
        ),
        (
            "solve bracket order",
            lambda: solve(plan, "funding_gap", 0.0, "opening.cash", (2.0, 1.0)),
            ValueError,
            "bracket: expected low < high, got (2, 1)",
        ),
        (
            "solve bracket NaN",
            lambda: solve(plan, "funding_gap", 0.0, "opening.cash", (0.0, math.nan)),
            ValueError,
            "bracket: expected a finite number, got nan",
        ),
        (
            "solve op",
            lambda: solve(plan, "funding_gap", 0.0, "opening.cash", op="mul"),
            ValueError,
            "op: expected 'set', 'scale' or 'shift', got 'mul'",
        ),
        (
            "solve xtol",
            lambda: solve(plan, "funding_gap", 0.0, "opening.cash", xtol=0.0),
            ValueError,
            "xtol: expected a tolerance > 0, got 0.0",
        ),
        # sobol
        (
            "sobol n_base",
            lambda: sobol(plan, None, "funding_gap", n_base=1000),
            ValueError,
            "n_base: expected a power of 2 (>= 2), got 1000",
        ),
        (
            "sobol n_base float",
            lambda: sobol(plan, None, "funding_gap", n_base=2.5),
            TypeError,
            "n_base: expected a power of 2",
        ),
        (
            "sobol seed",
            lambda: sobol(plan, None, "funding_gap", n_base=4, seed=-1),
            ValueError,
            "seed: expected a whole number from 0",
        ),
        (
            "sobol uncertainty",
            lambda: sobol(plan, {}, "funding_gap", n_base=4),
            TypeError,
            "uncertainty: expected an Uncertainty section or None (the file's), got dict",
        ),
        (
            "sobol memory",
            lambda: sobol(plan, None, "funding_gap", n_base=2**40),
            MemoryError,
            "n_base: expected a run that fits in memory",
        ),
        # the raise schedule's functions
        (
            "joint_schedule need list",
            lambda: rs.joint_schedule([[1.0]], 0.05),
            TypeError,
            "need: expected a float array (months x paths), got list",
        ),
        (
            "joint_schedule need 1-D",
            lambda: rs.joint_schedule(np.zeros(3), 0.05),
            ValueError,
            "need: expected months x paths, both >= 1, got shape (3,)",
        ),
        (
            "joint_schedule need NaN",
            lambda: rs.joint_schedule(np.array([[0.0, math.nan]]), 0.05),
            ValueError,
            "need: expected finite needs, got NaN or inf in month 0",
        ),
        (
            "joint_schedule alpha",
            lambda: rs.joint_schedule(need, 1.5),
            ValueError,
            "alpha: expected a probability in [0, 1], got 1.5",
        ),
        (
            "need_quantile alpha",
            lambda: rs.need_quantile(need, -0.1),
            ValueError,
            "alpha: expected a probability in [0, 1], got -0.1",
        ),
        (
            "allowed_breaches n",
            lambda: rs.allowed_breaches(0.05, 0),
            ValueError,
            "n: expected at least 1 path, got 0",
        ),
        (
            "breached schedule",
            lambda: rs.breached(need, np.zeros(3)),
            ValueError,
            "schedule: expected 2 months, one per row of need, got (3,)",
        ),
        (
            "BreachCount",
            lambda: rs.BreachCount(5, 3),
            ValueError,
            "breaches: expected at most the 3 paths, got 5",
        ),
        (
            "BreachCount paths",
            lambda: rs.BreachCount(0, 0),
            ValueError,
            "paths: expected at least 1 path, got 0",
        ),
        (
            "interval level",
            lambda: rs.BreachCount(1, 10).interval(1.5),
            ValueError,
            "level: expected a confidence level in (0, 1), got 1.5",
        ),
        # run and its results
        (
            "run None",
            lambda: finmodel.run(None),
            TypeError,
            "source: expected a file path, a shipped scenario's name or Assumptions, got NoneType",
        ),
        (
            "run as_of number",
            lambda: finmodel.run("bear", as_of=202606),
            TypeError,
            "as_of: expected a month 'YYYY-MM' as a string, got 202606",
        ),
        ("run as_of text", lambda: finmodel.run("bear", as_of="June"), ValueError, "as_of: "),
        (
            "run as_of outside",
            lambda: finmodel.run("bear", as_of="2099-01"),
            ValueError,
            "as_of: expected a month from 2024-12 (the opening balance date) to 2030-11",
        ),
        (
            "run adjust",
            lambda: finmodel.run("bear", adjust=[("opening.cash", 1)]),
            TypeError,
            "adjust: expected a mapping of parameter paths",
        ),
        (
            "run pricing",
            lambda: finmodel.run("bear", pricing="cap=3"),
            ValueError,
            "pricing: expected last_round, raise_policy, pre_money=X or post_money=X, got 'cap=3'",
        ),
        (
            "run pricing number",
            lambda: finmodel.run("bear", pricing="pre_money=abc"),
            ValueError,
            "pricing: expected a number after pre_money=, got 'abc'",
        ),
        (
            "run pricing value",
            lambda: finmodel.run("openai-plan-2025q3", pricing="pre_money=-5"),
            ValueError,
            "pricing pre_money=-5: pre_money: expected a valuation > 0, got -5",
        ),
        (
            "run pricing type",
            lambda: finmodel.run("bear", pricing=3),
            TypeError,
            "pricing: expected a pricing rule",
        ),
    ]


def test_every_bad_argument_is_named(plan: Model) -> None:
    for name, call, builtin, start in _cases(plan):
        try:
            _refused(call, builtin, start)
        except AssertionError as e:  # say which case
            raise AssertionError(f"{name}: {e}") from None


def test_type_errors_are_also_value_errors(plan: Model) -> None:
    """A caller's ``except ValueError`` (or ``AssumptionError``) written before these
    errors had types of their own still catches them."""
    with pytest.raises(ArgumentTypeError) as e:
        simulate(plan, n=2.5)
    assert isinstance(e.value, TypeError) and isinstance(e.value, ValueError)
    assert isinstance(e.value, finmodel.AssumptionError) and e.value.argument == "n"
    with pytest.raises(ResourceLimitError) as m:
        simulate(plan, n=10**12)
    assert m.value.argument == "n"


def test_to_excel_refuses_like_the_cli(tmp_path: Path) -> None:
    res = finmodel.run("bear")
    text = _refused(lambda: res.to_excel(tmp_path / "x.csv"), ValueError, "path: ")
    assert "expected a workbook path ending in .xlsx" in text
    _refused(lambda: res.to_excel(5), TypeError, "path: expected a workbook path")
    assert not any(tmp_path.iterdir())
    r = CliRunner().invoke(app, ["run", "bear", "--out", str(tmp_path / "x.csv")])
    assert r.exit_code == 2
    assert "error: --out: expected a workbook path ending in .xlsx" in r.output
    assert not any(tmp_path.iterdir())


def test_network_draws_and_seed() -> None:
    res = finmodel.run("openai-plan-2026q1")
    net, _ = nw.load_network(NETWORK)
    g = nw.build_graph(res, net)
    _refused(
        lambda: nw.monte_carlo_shortfalls(res, g, 0),
        ValueError,
        "draws: expected at least 1 path, got 0",
    )
    _refused(
        lambda: nw.monte_carlo_shortfalls(res, g, 2.5),
        TypeError,
        "draws: expected a whole number, got 2.5",
    )
    _refused(
        lambda: nw.monte_carlo_shortfalls(res, g, 10, seed=-3),
        ValueError,
        "seed: expected a whole number from 0",
    )
    _refused(
        lambda: nw.monte_carlo_shortfalls(res, g, 10**9),
        MemoryError,
        "draws: expected a run that fits in memory",
    )
    assert g.base is not None
    _refused(
        lambda: nw.cascade(g, g.base, 1.5),
        ValueError,
        "fraction: expected a fraction in [0, 1], got 1.5",
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["simulate", "{plan}", "-n", "0"], "error: --draws: expected at least 1 draw, got 0"),
        (["simulate", "{plan}", "--seed", "-1"], "error: --seed: expected a whole number from 0"),
        (["simulate", "{plan}", "--chunk", "0"], "error: --chunk: expected at least 1, got 0"),
        (
            ["simulate", "{plan}", "--alpha", "2"],
            "error: --alpha: expected a probability in [0, 1], got 2.0",
        ),
        (
            ["simulate", "{plan}", "--validation-draws", "0"],
            "error: --validation-draws: expected at least 1 draw, got 0",
        ),
        (
            ["simulate", "{plan}", "-n", "1000000000000"],
            "error: --draws: expected a run that fits in memory",
        ),
        (
            ["sensitivity", "{plan}", "--sobol", "--base", "1000"],
            "error: --base: expected a power of 2 (>= 2), got 1000",
        ),
        (
            [
                "sensitivity",
                "{plan}",
                "--grid-x",
                "opening.cash=0:1:100000",
                "--grid-y",
                "costs.staff=0:1:100000",
            ],
            "error: --grid-x and --grid-y: expected a run that fits in memory",
        ),
        (
            [
                "solve",
                "{plan}",
                "--target",
                "funding_gap=0",
                "--vary",
                "opening.cash",
                "--bracket",
                "2:1",
            ],
            "error: --bracket: expected LOW:HIGH with LOW < HIGH, got 2:1",
        ),
        (["run", "bear", "--as-of", "2099-01"], "error: --as-of: expected a month from 2024-12"),
        (
            ["run", "bear", "--pricing", "cap=3"],
            "error: --pricing: expected last_round, raise_policy",
        ),
        (
            ["run", "openai-plan-2025q3", "--pricing", "pre_money=-5"],
            "error: --pricing pre_money=-5: pre_money: expected a valuation > 0, got -5",
        ),
        (
            ["network", "openai-plan-2026q1", "--network", "network-2025", "--draws", "1000000000"],
            "error: --draws: expected a run that fits in memory",
        ),
    ],
)
def test_the_cli_names_its_option(
    write_yaml: Callable[..., Path], in_tmp: Path, args: list[str], message: str
) -> None:
    plan = write_yaml(PLAN)
    argv = [str(plan) if a == "{plan}" else a for a in args]
    if argv[0] != "solve":
        argv.append("--no-workbook")
    r = CliRunner().invoke(app, argv)
    assert r.exit_code == 2, r.output
    assert message in r.output, r.output
    assert "Traceback" not in r.output
    assert not (in_tmp / "outputs").exists() or not any((in_tmp / "outputs").iterdir())


def _public_arguments() -> set[str]:
    funcs: list[Any] = [
        finmodel.simulate,
        finmodel.tornado,
        finmodel.grid,
        finmodel.solve,
        finmodel.sobol,
        finmodel.run,
        finmodel.Results.to_excel,
        nw.monte_carlo_shortfalls,
    ]
    return {p for f in funcs for p in inspect.signature(f).parameters}


def _cli_options() -> set[str]:
    command = typer.main.get_command(app)
    return {opt for sub in command.commands.values() for param in sub.params for opt in param.opts}


def test_the_option_table_names_real_arguments_and_options() -> None:
    """Each entry maps arguments of the public functions to options the CLI has, so that no
    entry goes stale when either side is renamed."""
    arguments, options = _public_arguments(), _cli_options()
    for argument, option in OPTIONS.items():
        assert set(argument.split(" and ")) <= arguments, argument
        for part in option.split(" and "):
            assert set(part.split("/")) <= options, option
