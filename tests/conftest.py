"""Shared fixtures: scenario files, a tiny company written in the test, LibreOffice."""

from __future__ import annotations

import os
import re
import resource
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import finmodel
from finmodel.export.recalc import soffice

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def write_yaml(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a YAML text (dedented) to ``tmp_path/name`` and return its path."""

    def _write(text: str, name: str = "scenario.yaml") -> Path:
        p = tmp_path / name
        p.write_text(textwrap.dedent(text), encoding="utf-8")
        return p

    return _write


@pytest.fixture
def in_tmp(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Run the test from an empty folder (the CLI writes outputs/ below the working folder)."""
    cwd = os.getcwd()
    os.chdir(tmp_path)
    yield tmp_path
    os.chdir(cwd)


@pytest.fixture(scope="session")
def libreoffice() -> str:
    """The soffice binary; under CI=true its absence is a failure, never a skip."""
    exe = soffice()
    if exe is None:
        if os.environ.get("CI") == "true":
            pytest.fail("LibreOffice (soffice) is required under CI=true but is not installed")
        pytest.skip("LibreOffice is not installed (set CI=true to make this a failure)")
    return exe


AS_LIMIT = 1_500_000_000
"""Address space (bytes) of the processes :func:`run_limited` starts."""


def run_limited(args: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """The installed command in a fresh process with 1.5 GB of address space: a hang or a
    memory blow-up fails the test instead of taking the machine down."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))

    return subprocess.run(
        [sys.executable, "-m", "finmodel", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=limit,
        check=False,
    )


PACKAGE = Path(finmodel.__file__).resolve().parent


def before_finmodel(code: int, out: str, err: str) -> bool:
    """The signal came before finmodel's first line (``finmodel.console.main``): Python's own
    handling, which finmodel cannot change (docs/methodology.md, "Ctrl-C"). Either the process
    died of the signal before Python set its handler (status -2, no output), or Python
    printed a KeyboardInterrupt traceback or a fatal start-up error naming it (status 1 or
    -2, nothing on stdout), or it printed
    one and went on: from the check of argv[0], which finmodel stops at once (130), or from a
    callback of its import machinery, where the interrupt is lost and the run completes. In
    each traceback, the only finmodel frames, if any, are the module-level imports of the
    package and of finmodel.console."""
    if err.startswith("Failed checking if argv[0] is an import path entry\n"):
        return (code, out) == (130, "") and err.endswith("\ninterrupted\n") and _early(err)
    if err.startswith("Exception ignored in: <function _get_module_lock"):
        return code == 0 and err.count("Traceback") == 1 and _early(err)
    if out:
        return False
    if code == -signal.SIGINT and err == "":
        return True
    # a traceback, or "Fatal Python error: init_...: KeyboardInterrupt" from its start-up
    return code in (1, -signal.SIGINT) and "KeyboardInterrupt" in err and _early(err)


def _early(err: str) -> bool:
    frames = re.findall(r'File "([^"]+)", line \d+, in (\S+)', err)
    ours = [(f, fn) for f, fn in frames if Path(f).resolve().is_relative_to(PACKAGE)]
    allowed = {str(PACKAGE / "__init__.py"), str(PACKAGE / "console.py")}
    return all(fn == "<module>" and str(Path(f).resolve()) in allowed for f, fn in ours)


@pytest.fixture
def figures(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """The figures the PNG writers save, kept open for inspection after saving."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kept: list[Any] = []
    close = plt.close
    monkeypatch.setattr(plt, "close", lambda fig=None: kept.append(fig))
    yield kept
    for fig in kept:
        close(fig)
