"""The command line itself: a mistyped command is one line and exit code 2 (no usage box, no
traceback); control characters are refused and never printed; every --json follows one number
rule; Ctrl-C from the first moment finmodel's code runs. The option cases with a scenario are
in tests/bad_inputs (cli_*.yaml)."""

from __future__ import annotations

import json
import math
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import before_finmodel
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

import finmodel
from finmodel.cli import app
from finmodel.cli_usage import printable, shown
from finmodel.export.jsondoc import SIGNIFICANT, dumps, number, plain

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def _one_line(args: list[str]) -> str:
    """The output of a command that must fail as bad input: one line, exit code 2."""
    r = runner.invoke(app, args)
    assert r.exit_code == 2, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)
    out = r.output
    assert out.count("\n") == 1 and out.startswith("error: "), out
    for noise in ("Traceback", "Usage:", "╭", "│", "Try '"):
        assert noise not in out, out
    return out.removesuffix("\n")


# -- usage errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["simulate", "plan.yaml", "-n", "abc"],  # typed -n: named by its long form
            "error: --draws: expected a whole number of paths of 1 or more, got 'abc'",
        ),
        (
            ["simulate", "plan.yaml", "-n"],
            "error: --draws: expected a whole number of paths of 1 or more after it, got nothing",
        ),
        (
            ["run", "a.yaml", "b.yaml"],
            "error: finmodel run: expected at most one FILE, got another argument 'b.yaml'; "
            "see finmodel run --help",
        ),
        (
            ["simulate", "a.yaml", "b.yaml", "c.yaml"],
            "error: finmodel simulate: expected one FILE, got another argument 'b.yaml c.yaml'; "
            "see finmodel simulate --help",
        ),
        (
            ["simulat", "plan.yaml"],
            "error: simulat: not a command of finmodel (did you mean simulate?); "
            "see finmodel --help",
        ),
        (["frobnicate"], "error: frobnicate: not a command of finmodel; see finmodel --help"),
        (
            ["simulate"],
            "error: FILE: missing; expected an assumption file, or a shipped scenario's name; "
            "see finmodel simulate --help",
        ),
        (
            ["network", "bear"],
            "error: --network: missing; expected a network file, or a shipped network's name; "
            "see finmodel network --help",
        ),
        (["--bogus"], "error: --bogus: not an option of finmodel; see finmodel --help"),
        (
            ["--version=yes"],
            "error: --version: expected no value (it is a switch), got one after '='",
        ),
        (["run", "-x"], "error: -x: not an option of finmodel run; see finmodel run --help"),
        (
            ["sensitivity", "bear", "--bse", "8"],
            "error: --bse: not an option of finmodel sensitivity (did you mean --base?); "
            "see finmodel sensitivity --help",
        ),
        (
            ["value", "bear", "--json", "--seed", "3"],
            "error: --seed: not an option of finmodel value (finmodel simulate takes it); "
            "see finmodel value --help",
        ),
        (
            ["sensitivity", "bear", "--top", "1e1"],
            "error: --top: expected a whole number of bars, 0 or more, got '1e1' (write 10)",
        ),
        (
            ["sensitivity", "bear", "--top", "2.5"],
            "error: --top: expected a whole number of bars, 0 or more, got '2.5'",
        ),
        (
            ["network", "bear", "--network", "network-2025", "--shortfall", "30%"],
            "error: --shortfall: expected a fraction of the take-or-pay obligations such as 0.3, "
            "got '30%'",
        ),
    ],
)
def test_a_usage_error_is_one_line(args: list[str], expected: str, in_tmp: Path) -> None:
    assert _one_line(args) == expected
    assert not any(in_tmp.iterdir())  # nothing written


def test_the_console_script_writes_the_line_on_stderr(tmp_path: Path) -> None:
    exe = shutil.which("finmodel") or str(Path(sys.executable).parent / "finmodel")
    p = subprocess.run(
        [exe, "simulate", "plan.yaml", "--seed", "1.5"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert (p.returncode, p.stdout) == (2, "")
    assert p.stderr == "error: --seed: expected a whole number from 0 to 2^128 - 1, got '1.5'\n"


def test_help_and_a_bare_command_still_print_the_help() -> None:
    """`finmodel` alone prints the help (exit code 2, as click does for a group without a
    command); --help of each command prints its help."""
    r = runner.invoke(app, [])
    assert r.exit_code == 2 and "Usage: finmodel [OPTIONS] COMMAND" in r.output
    assert "error:" not in r.output
    for cmd in ("run", "validate", "compare", "sensitivity", "solve", "simulate", "value"):
        r = runner.invoke(app, [cmd, "--help"])
        assert r.exit_code == 0 and f"Usage: finmodel {cmd} [OPTIONS]" in r.output, cmd
        assert "error:" not in r.output


def test_user_text_is_never_console_markup() -> None:
    """What was typed is printed as typed: '[bold]' stays, and is not a style."""
    out = _one_line(["simulate", "plan.yaml", "-n", "[bold]5[/bold]"])
    assert out.endswith("got '[bold]5[/bold]'")
    out = _one_line(["run", "--[red]x"])
    assert out.startswith("error: --[red]x: not an option of finmodel run")


@pytest.mark.parametrize("char", ["\n", "\t", "\r", "\x1b", "\x07", "\x7f", "\x85"])
def test_control_characters_in_a_value_are_escaped(char: str) -> None:
    out = _one_line(["simulate", "plan.yaml", "-n", f"5{char}[2J"])
    assert char not in out
    assert out.endswith(f"got {shown(f'5{char}[2J')}")  # e.g. '5\x1b[2J', escaped by repr


def test_printable_escapes_every_control_but_the_newline() -> None:
    assert printable("a\x1b[31mb\tc\rd\x85e\nf") == "a\\x1b[31mb\\tc\\rd\\x85e\nf"
    assert printable("Société 甲骨文 [bold]") == "Société 甲骨文 [bold]"


# -- control characters in names ------------------------------------------------------------

COMMANDS_WITH_OUT = [
    ["run", "bear"],
    ["compare", "bear", "nvidia-pullback"],
    ["sensitivity", "bear"],
    ["simulate", "bear"],
    ["value", "openai-plan-2026q1"],
    ["network", "openai-plan-2026q1", "--network", "network-2025"],
]


@pytest.mark.parametrize("command", COMMANDS_WITH_OUT, ids=lambda c: c[0])
@pytest.mark.parametrize("name", ["a\nb.xlsx", "a\tb.xlsx", "\x1b]0;x\x07.xlsx"])
def test_an_output_path_with_a_control_character_is_refused(
    command: list[str], name: str, in_tmp: Path
) -> None:
    out = _one_line([*command, "--out", name])
    assert out == (
        "error: --out: expected no control characters (a newline, a tab, an escape...), "
        f"got {shown(name)}"
    )
    assert not any(in_tmp.iterdir())


def test_an_input_name_with_a_control_character_is_refused(in_tmp: Path) -> None:
    """Missing or present, such a file is refused in one line, before it is read."""
    expected = "expected no control characters (a newline, a tab, an escape...), got"
    assert _one_line(["run", "no\nsuch.yaml"]) == f"error: FILE: {expected} 'no\\nsuch.yaml'"
    odd = in_tmp / "bear\t2.yaml"
    shutil.copy(ROOT / "assumptions" / "bear.yaml", odd)
    assert _one_line(["run", odd.name]) == f"error: FILE: {expected} 'bear\\t2.yaml'"
    assert _one_line(["validate", "bear", odd.name]) == f"error: FILES: {expected} 'bear\\t2.yaml'"
    out = _one_line(["network", "bear", "--network", "net\n.yaml"])
    assert out == f"error: --network: {expected} 'net\\n.yaml'"
    assert sorted(p.name for p in in_tmp.iterdir()) == [odd.name]


def test_an_output_path_must_be_a_workbook_before_anything_runs(in_tmp: Path) -> None:
    t0 = time.perf_counter()
    out = _one_line(["simulate", "hsbc-2025-11", "-n", "1000000", "--out", "fan.png"])
    assert out == "error: --out: expected a workbook path ending in .xlsx, got 'fan.png'"
    assert time.perf_counter() - t0 < 5  # refused while parsing, not after a million paths


# -- the JSON number rule -----------------------------------------------------------------------


def test_json_numbers_by_hand() -> None:
    # 0.1 + 0.2 is 0.30000000000000004 in binary floating point; 1/3 to 12 digits is twelve 3s
    assert 0.1 + 0.2 != 0.3 and number(0.1 + 0.2) == 0.3
    assert number(9.999999999999998) == 10.0
    assert number(1 / 3) == 0.333333333333
    assert number(123456789012345.6) == 123456789012000.0
    assert number(1e-20) == 1e-20 and number(-2.5e-300) == -2.5e-300
    assert math.copysign(1, number(-0.0) or 1) == 1.0  # a negative zero is written 0.0
    assert number(float("nan")) is None and number(float("inf")) is None
    assert number(float("-inf")) is None
    assert SIGNIFICANT == 12


def test_json_documents_by_hand() -> None:
    doc = {
        "seed": 2**60 + 1,  # not a float64: kept digit for digit
        "ok": True,
        "count": np.int64(7),
        "share": np.float64(0.1) + np.float64(0.2),
        "irr": float("nan"),
        "months": [np.float64(1.0), None],
        2026: 13.000000000000002,
    }
    text = dumps(doc)
    assert json.loads(text, parse_constant=_no_constant) == {
        "seed": 1152921504606846977,
        "ok": True,
        "count": 7,
        "share": 0.3,
        "irr": None,
        "months": [1.0, None],
        "2026": 13.0,
    }
    assert type(plain(np.int64(7))) is int and type(plain(np.bool_(True))) is bool
    assert plain(np.array([0.1 + 0.2, np.inf])) == [0.3, None]


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_json_rounding_is_relative_and_settles(x: float) -> None:
    y = number(x)
    assert y is not None
    assert abs(y - x) <= 5e-12 * abs(x)  # half a unit in the 12th significant digit
    assert number(y) == y
    assert _significant(y) <= SIGNIFICANT


def _no_constant(name: str) -> Any:
    raise AssertionError(f"{name} in the JSON")


def _significant(x: float) -> int:
    """Significant digits of the shortest repr of ``x``."""
    mantissa = repr(abs(x)).split("e")[0].replace(".", "").lstrip("0")
    return len(mantissa.rstrip("0")) or 1


def _floats(doc: Any) -> list[float]:
    if isinstance(doc, dict):
        return [f for v in doc.values() for f in _floats(v)]
    if isinstance(doc, list):
        return [f for v in doc for f in _floats(v)]
    return [doc] if isinstance(doc, float) else []


@pytest.mark.parametrize(
    "args",
    [
        ["run", "openai-plan-2025q3"],
        ["value", "openai-plan-2026q1"],
        ["network", "openai-plan-2026q1", "--network", "network-2025", "--shortfall", "0.3"],
        ["simulate", "hsbc-2025-11", "-n", "200", "--seed", "1"],
    ],
    ids=lambda a: a[0],
)
def test_every_json_output_follows_the_rule(args: list[str], in_tmp: Path) -> None:
    r = runner.invoke(app, [*args, "--json", "--no-workbook"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout, parse_constant=_no_constant)
    floats = _floats(doc)
    assert floats
    assert max(_significant(f) for f in floats) <= SIGNIFICANT


def test_json_revenue_is_the_file_figure(in_tmp: Path) -> None:
    """The months of 2025 sum to the file's revenue.annual 2025 of 13 (their spreading
    weights add up to one only to the last bit: 13.000000000000002 before rounding)."""
    r = runner.invoke(app, ["run", "openai-plan-2025q3", "--json", "--no-workbook"])
    doc = json.loads(r.stdout)
    text = (ROOT / "assumptions" / "openai-plan-2025q3.yaml").read_text()
    assert "    2025: {value: 13, " in text
    assert doc["annual"]["revenue"]["2025"] == 13.0
    raw = finmodel.run("openai-plan-2025q3").to_json()["annual"]["revenue"]["2025"]
    assert raw == pytest.approx(13.0, abs=1e-12)


# -- Ctrl-C ----------------------------------------------------------------------------------------


def _new_modules(code: str) -> list[str]:
    p = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys; b = set(sys.modules); {code}; print(sorted(set(sys.modules) - b))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return list(json.loads(p.stdout.replace("'", '"')))


def test_importing_finmodel_imports_nothing() -> None:
    """The console script imports the package before its first line can catch Ctrl-C."""
    assert _new_modules("import finmodel") == ["__future__", "finmodel"]
    new = _new_modules("import finmodel.console")
    assert "typing" not in new and "finmodel.cli" not in new
    assert not [m for m in new if m.split(".")[0] in ("typer", "numpy", "pandas", "rich")]


def _plan(tmp_path: Path) -> Path:
    p = tmp_path / "plan.yaml"
    p.write_text(
        "name: Plan\ncompany: Example Co\nstart: 2026-01\nend: 2045-12\nopening:\n  cash: 25\n"
        "revenue:\n  annual: {2026: 10, 2030: 60}\nuncertainty:\n  draws: 1000\n  seed: 3\n"
        "  parameters:\n    revenue.scale: {dist: triangular, low: 0.8, mode: 1, high: 1.2}\n"
    )
    return p


@pytest.mark.parametrize("ms", [0, 5, 20, 50, 200])
def test_ctrl_c_at_start_up(ms: int, tmp_path: Path) -> None:
    """SIGINT at 0 to 200 ms after the console script is spawned. Once finmodel's first line
    has run, the outcome is exit 130 and the one line 'interrupted'; before it (about 10 ms
    of Python's start-up on an idle machine, longer on a loaded one), Python's own handling
    (see _before_finmodel). By 200 ms finmodel's code runs on any machine the suite runs
    on, so there only exit 130 is accepted. Nothing is written, unless Python's start-up lost
    the interrupt (the run then completes as if Ctrl-C had not been pressed)."""
    exe = shutil.which("finmodel") or str(Path(sys.executable).parent / "finmodel")
    plan = _plan(tmp_path)
    proc = subprocess.Popen(
        [exe, "simulate", str(plan), "-n", "20000"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    time.sleep(ms / 1000)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    handled = (proc.returncode, out, err) == (130, "", "interrupted\n")
    if ms >= 200:
        assert handled, (proc.returncode, out, err)
    else:
        assert handled or before_finmodel(proc.returncode, out, err), (proc.returncode, out, err)
    if proc.returncode != 0:  # 0: Python's start-up lost the interrupt; the run completed
        assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").iterdir())


FINALISER = """
import time
from pathlib import Path

import typer

import finmodel.cli
from finmodel import console

tiny = typer.Typer(add_completion=False)


class Slow:
    def __del__(self) -> None:
        time.sleep(5)  # the interrupt lands in here


@tiny.command()
def go(out: str) -> None:
    print("ready", flush=True)
    Slow()  # freed at once: its finaliser runs
    Path(out).write_text("the run went on after the interrupt")
    time.sleep(5)


finmodel.cli.app = tiny
console.main()
"""


def test_an_interrupt_in_a_finaliser_still_ends_the_run(tmp_path: Path) -> None:
    """Python cannot raise out of a finaliser: it prints 'Exception ignored' and goes on.
    finmodel raises the interrupt again at the next call of the run: exit 130, one line,
    and the step after the finaliser never happens."""
    script = tmp_path / "finaliser.py"
    script.write_text(FINALISER)
    out = tmp_path / "after.txt"
    proc = subprocess.Popen(
        [sys.executable, str(script), str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    time.sleep(0.5)  # well inside the finaliser's 5 s
    t0 = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert (proc.returncode, err) == (130, "interrupted\n")
    assert time.perf_counter() - t0 < 4  # not after the finaliser's sleep, nor the run's
    assert not out.exists()


def test_an_interrupt_python_reported_at_start_up_stops_the_run(tmp_path: Path) -> None:
    """CPython's start-up prints a KeyboardInterrupt it meets while checking argv[0] and goes
    on; it leaves the exception in sys.last_value, where finmodel's first line finds it."""
    code = (
        "import sys; sys.last_value = KeyboardInterrupt(); sys.argv = ['finmodel', 'run'];"
        "from finmodel.console import main; main()"
    )
    p = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert (p.returncode, p.stdout, p.stderr) == (130, "", "interrupted\n")
    assert not any(tmp_path.iterdir())
