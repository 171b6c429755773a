"""Size and resources: runs that would not fit in memory are refused up front with the
estimate and the limit; the estimates bound what a run really allocates; seeds, option
domains and Ctrl-C."""

from __future__ import annotations

import functools
import os
import re
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
from conftest import before_finmodel, run_limited
from openpyxl import load_workbook
from typer.testing import CliRunner

import finmodel
from finmodel.analysis.montecarlo import memory_needed, simulate
from finmodel.analysis.sensitivity import grid
from finmodel.cli import app
from finmodel.engine.model import build
from finmodel.errors import AssumptionError, FinmodelError, ResourceLimitError
from finmodel.limits import ENV_VAR, Limit, check_memory, gb, limit, memory_limit

PLAN = """\
name: Uncertain plan
company: Example Co
start: 2026-01
end: {end}
opening:
  cash: 25
revenue:
  annual: {{2026: 10, 2030: 60}}
uncertainty:
  draws: 1000
  seed: 3
  parameters:
    opening.cash: {{dist: triangular, low: 20, mode: 25, high: 30}}
    revenue.scale: {{dist: triangular, low: 0.8, mode: 1, high: 1.2}}
"""


def _plan(tmp_path: Path, end: str = "2125-12") -> Path:
    p = tmp_path / "plan.yaml"
    p.write_text(PLAN.format(end=end))
    return p


_cli = functools.partial(run_limited, timeout=120)
"""The command in a fresh process with 1.5 GB of address space (conftest.run_limited)."""


def _refused(p: subprocess.CompletedProcess[str], field: str) -> tuple[float, float]:
    """Exit 2, one message naming ``field``, no traceback; returns (needs, limit) in GB."""
    assert p.returncode == 2, p.stderr[-2000:]
    assert "Traceback" not in p.stderr and "MemoryError" not in p.stderr
    m = re.search(
        rf"error: (?:\S+:\d+: )?{re.escape(field)}: expected a run that fits in memory "
        r"\(needs about ([\d,.]+) GB, the limit is ([\d,.]+) GB",
        p.stderr,
    )
    assert m, p.stderr
    return float(m.group(1).replace(",", "")), float(m.group(2).replace(",", ""))


def test_huge_runs_are_refused_in_bounded_memory(tmp_path: Path) -> None:
    """Under a 1.5 GB address space the limit is at most half of it, 0.75 GB; each huge run
    is refused before it allocates, and nothing is written."""
    plan = _plan(tmp_path)
    # 10^7 paths x 1,200 months: cash, need and the percentile's copy as float32 are
    # 3 x 1,200 x 10^7 x 4 bytes = 144 GB, before the draws and the metrics
    needs, limit = _refused(_cli(["simulate", str(plan), "-n", "10000000"], tmp_path), "--draws")
    assert 144 <= needs <= 150 and limit <= 0.75
    # 2^30 x (2 + 2) = 4.3e9 Sobol evaluations, each holding at least 8 x (3 x 2 + 2) bytes
    needs, _ = _refused(
        _cli(["sensitivity", str(plan), "--sobol", "--base", str(2**30)], tmp_path), "--base"
    )
    assert needs >= 2**30 * 4 * 8 * 8 / 1e9
    p = _cli(
        [
            "sensitivity",
            str(plan),
            "--grid-x",
            "opening.cash=0:1:20000",
            "--grid-y",
            "revenue.annual=0:1:20000",
        ],
        tmp_path,
    )
    needs, _ = _refused(p, "--grid-x and --grid-y")
    assert needs >= 4e8 * 8 * 3 / 1e9  # 4e8 points, at least 3 floats each
    (tmp_path / "draws.yaml").write_text(plan.read_text().replace("draws: 1000", "draws: 3000000"))
    p = _cli(["simulate", "draws.yaml"], tmp_path)
    needs, _ = _refused(p, "uncertainty.draws")
    assert "draws.yaml:10: uncertainty.draws" in p.stderr
    assert needs >= 3 * 1200 * 3e6 * 4 / 1e9  # the stored paths alone, float32
    assert not (tmp_path / "outputs").exists()


def test_a_run_within_the_limit_still_runs_under_the_same_address_space(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    p = _cli(["simulate", str(plan), "-n", "500", "--json"], tmp_path)
    assert p.returncode == 0, p.stderr[-2000:]
    assert '"draws": 500' in p.stdout


def test_the_estimate_bounds_what_a_simulation_allocates(tmp_path: Path) -> None:
    """tracemalloc sees numpy's allocations: the peak stays below the estimate, and the
    estimate is not wildly pessimistic (within 4x)."""
    model = build(finmodel.load(_plan(tmp_path, end="2045-12")))
    n = 20_000
    tracemalloc.start()
    simulate(model, None, n=n, chunk=5_000)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    est = memory_needed(model, 2, n, n, 5_000)
    assert peak <= est <= 4 * peak, (peak, est)


def test_limit_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(ENV_VAR, "0.02")
    assert memory_limit() == pytest.approx(2e7)  # 0.02 GB of 10^9 bytes
    model = build(finmodel.load(_plan(tmp_path, end="2026-12")))
    # 12 months, 1,000 paths: the stored paths are 3 x 12 x 1,000 x 8 = 288,000 bytes and one
    # chunk of 1,000 paths (T x (items + 8) x 8 bytes each) a few MB
    simulate(model, None, n=1_000)
    with pytest.raises(ResourceLimitError, match=r"^n: .*the limit is 0.02 GB") as e:
        simulate(model, None, n=1_000_000)  # 288 MB of stored paths alone, above 20 MB
    assert isinstance(e.value, MemoryError) and isinstance(e.value, FinmodelError)
    monkeypatch.setenv(ENV_VAR, "lots")
    with pytest.raises(AssumptionError, match=r"^FINMODEL_MEMORY_GB: expected a number of gig"):
        memory_limit()


def test_the_environment_sets_the_limit_above_half_the_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """By default the limit is half the machine's memory, or what is available now if less;
    FINMODEL_MEMORY_GB replaces both, up to all of the machine's memory."""
    import finmodel.limits

    machine = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    monkeypatch.setattr(finmodel.limits, "available_memory", lambda: machine)  # an idle machine
    # pytest runs without ulimit -v
    assert limit() == Limit(
        pytest.approx(machine / 2), f"half of this machine's {gb(machine)}; {ENV_VAR} sets it"
    )
    monkeypatch.setattr(finmodel.limits, "available_memory", lambda: 1.5e9)  # a busy one
    assert limit() == Limit(
        1.5e9, f"the memory available now, of this machine's {gb(machine)}; {ENV_VAR} sets it"
    )
    with pytest.raises(ResourceLimitError, match=r"needs about 2 GB, the limit is 1.5 GB, the "):
        check_memory(2e9, "x", 1, "use less")
    monkeypatch.setenv(ENV_VAR, str(0.8 * machine / 1e9))
    assert limit() == Limit(pytest.approx(0.8 * machine), "set by FINMODEL_MEMORY_GB")


def test_the_memory_available_now_is_the_kernels_figure_plus_the_process() -> None:
    """MemAvailable of /proc/meminfo (kB) plus this process's resident pages (statm)."""
    from finmodel.limits import available_memory

    if not Path("/proc/meminfo").exists():
        pytest.skip("no /proc/meminfo on this platform")
    meminfo = Path("/proc/meminfo").read_text()
    kb = int(re.search(r"^MemAvailable:\s+(\d+) kB", meminfo, re.M).group(1))  # type: ignore[union-attr]
    resident = int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    # both move a little between the two readings
    assert available_memory() == pytest.approx(kb * 1024 + resident, rel=0.05)


BAD_SETTINGS = ["abc", "-1", "0", "nan", "inf", "-inf", "1e9", "0x10", "4 GB"]


@pytest.mark.parametrize("value", BAD_SETTINGS)
@pytest.mark.parametrize("command", ["run", "simulate"])
def test_a_bad_memory_setting_is_blamed_on_the_variable(
    value: str, command: str, tmp_path: Path
) -> None:
    """Not on the scenario file: the message names the variable, what it must be and the
    value, exit 2, nothing written."""
    plan = _plan(tmp_path, end="2026-12")
    args = {
        "run": ["run", str(plan), "--out", str(tmp_path / "x.xlsx")],
        "simulate": ["simulate", str(plan), "-n", "10", "--no-workbook"],
    }[command]
    r = CliRunner().invoke(app, args, env={ENV_VAR: value})
    assert r.exit_code == 2, r.output
    if value == "1e9":  # 10^18 bytes: more than any machine has
        machine = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        expected = f"expected at most this machine's memory, {gb(machine)}, got '1e9'"
    else:
        expected = f"expected a number of gigabytes > 0, got {value!r}"
    # one line (simulate's progress bar may leave an empty line before it)
    assert r.output.strip().splitlines() == [f"error: FINMODEL_MEMORY_GB: {expected}"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.yaml"]


def test_an_empty_memory_setting_is_no_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    import finmodel.limits

    machine = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    monkeypatch.setattr(finmodel.limits, "available_memory", lambda: machine)
    for empty in ("", "  "):
        monkeypatch.setenv(ENV_VAR, empty)
        assert limit() == Limit(pytest.approx(machine / 2), limit().source)
        assert limit().source.startswith("half of this machine's")


def test_check_memory_message() -> None:
    with pytest.raises(ResourceLimitError) as e:
        check_memory(1e15, "grid", "3 x 4 points", "use fewer values")
    assert str(e.value).startswith(
        "grid: expected a run that fits in memory (needs about 1,000,000 GB, the limit is "
    )
    assert str(e.value).endswith("got 3 x 4 points")


def test_api_arguments_are_named(tmp_path: Path) -> None:
    model = build(finmodel.load(_plan(tmp_path, end="2026-12")))
    with pytest.raises(AssumptionError, match=r"^n: expected a whole number, got 2.5"):
        simulate(model, None, n=2.5)  # type: ignore[arg-type]
    with pytest.raises(AssumptionError, match=r"^seed: expected a whole number"):
        simulate(model, None, n=10, seed=-1)
    with pytest.raises(ValueError, match=r"^x_values: expected at least one value, got \[\]"):
        grid(model, "trough_unfunded_cash", "opening.cash", [], "revenue.annual", [1.0])
    with pytest.raises(ValueError, match=r"^y_values: expected finite values"):
        grid(model, "trough_unfunded_cash", "opening.cash", [1.0], "revenue.annual", [float("nan")])


def test_a_seed_above_2_53_is_recorded_exactly(tmp_path: Path) -> None:
    """2^60 + 1 is not a float64: the workbook keeps it as text, digit for digit, and a run
    from that text draws the same paths."""
    seed = 2**60 + 1
    assert float(seed) != seed
    plan = _plan(tmp_path, end="2026-12")
    out = tmp_path / "m.xlsx"
    p = _cli(["simulate", str(plan), "-n", "200", "--seed", str(seed), "--out", str(out)], tmp_path)
    assert p.returncode == 0, p.stderr[-2000:]
    wb = load_workbook(out, read_only=True)
    cells = [row for row in wb["Monte Carlo"].iter_rows(values_only=True) if "seed" in row]
    wb.close()
    assert cells, "no seed row in the manifest"
    row = cells[0]
    assert row[row.index("seed") + 1] == str(seed)
    model = build(finmodel.load(plan))
    a = simulate(model, None, n=200, seed=seed)
    b = simulate(model, None, n=200, seed=int(str(row[row.index("seed") + 1])))
    assert a.draws.equals(b.draws)


@pytest.mark.parametrize("after", [0.3, 1.0, 2.5])
def test_ctrl_c_exits_130_with_one_line(after: float, tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "finmodel", "simulate", str(plan), "-n", "300000"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    time.sleep(after)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    if (proc.returncode, err) != (130, "interrupted\n"):
        # on a loaded machine the signal can still land in Python's start-up, before
        # finmodel's first line: only Python's own handling is accepted there
        assert before_finmodel(proc.returncode, out, err), (proc.returncode, err)
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").iterdir())


def test_api_run_none_and_a_nan_tornado_bound(tmp_path: Path) -> None:
    from finmodel.analysis.sensitivity import TornadoSpec, tornado

    with pytest.raises(AssumptionError, match=r"^source: expected a file path.*got NoneType"):
        finmodel.run(None)  # type: ignore[arg-type]
    model = build(finmodel.load(_plan(tmp_path, end="2026-12")))
    spec = TornadoSpec("opening.cash", float("nan"), 30.0)
    with pytest.raises(ValueError, match=r"^specs\[0\].low: expected a finite number, got nan"):
        tornado(model, "trough_unfunded_cash", [spec])
