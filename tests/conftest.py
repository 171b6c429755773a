"""Shared fixtures: scenario files, a tiny company written in the test, LibreOffice."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

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
