"""Every figure the README shows comes from a command this test runs, so the README cannot
drift from the code.

* Console blocks: each ``$ finmodel ...`` line is run (in a scratch folder) and every line
  shown under it must appear in the command's output, in order (a line ``...`` skips any
  number of lines).
* Prose and tables: :data:`CLAIMS` pairs each sentence that quotes a figure with the
  computation of that figure; the sentence must be in the README exactly as computed.
* Completeness: every decimal figure, percentage or multiple in the README's prose must be
  covered by a claim or a console block (the performance table is bench/run.py's output,
  measured, not asserted, and is left out).
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

import finmodel
from finmodel.cli import app

README = Path(__file__).parent.parent / "README.md"
TEXT = README.read_text(encoding="utf-8")


def _console_blocks() -> list[tuple[str, list[str]]]:
    out: list[tuple[str, list[str]]] = []
    for block in re.findall(r"```console\n(.*?)```", TEXT, re.S):
        cmd: str | None = None
        lines: list[str] = []
        for line in block.splitlines():
            if line.startswith("$ "):
                if cmd is not None:
                    out.append((cmd, lines))
                cmd, lines = line[2:], []
            elif cmd is not None:
                lines.append(line.rstrip())
        if cmd is not None:
            out.append((cmd, lines))
    return out


BLOCKS = _console_blocks()


@pytest.mark.parametrize(("cmd", "expected"), BLOCKS, ids=[c for c, _ in BLOCKS])
def test_console_block_matches_the_command(cmd: str, expected: list[str], tmp_path: Path) -> None:
    args = shlex.split(cmd)
    assert args[0] == "finmodel"
    here = os.getcwd()
    root = str(README.parent)
    args = [a.replace("tests/", f"{root}/tests/") for a in args[1:]]
    os.chdir(tmp_path)
    try:
        result = CliRunner().invoke(app, args)
    finally:
        os.chdir(here)
    got = [line.rstrip() for line in result.output.replace(f"{root}/", "").splitlines()]
    at = 0
    skipping = False
    for want in expected:
        if want.strip() == "...":
            skipping = True
            continue
        if skipping:
            while at < len(got) and got[at] != want:
                at += 1
        assert at < len(got) and got[at] == want, (
            f"README shows {want!r} under '$ {cmd}', the command printed:\n" + "\n".join(got)
        )
        at += 1
        skipping = False


def _f(x: float, digits: int = 1) -> str:
    return f"{x:,.{digits}f}"


CLAIMS: list[tuple[str, Callable[[], tuple[str, ...]]]] = []
"""(README text with ``{}`` for each figure, the function computing those figures)."""


def claim(text: str) -> Callable[[Callable[[], tuple[str, ...]]], Callable[[], tuple[str, ...]]]:
    def register(fn: Callable[[], tuple[str, ...]]) -> Callable[[], tuple[str, ...]]:
        CLAIMS.append((text, fn))
        return fn

    return register


@pytest.mark.parametrize(("text", "fn"), CLAIMS, ids=[t[:60] for t, _ in CLAIMS])
def test_prose_figure_matches_the_code(text: str, fn: Callable[[], tuple[str, ...]]) -> None:
    sentence = text.format(*fn())
    assert sentence in " ".join(TEXT.split()), f"README should say: {sentence!r}"


_FIGURE = re.compile(r"(?<![\w.-])-?\d[\d,]*\.\d+(?:x|%)?|(?<![\w.-])\d+(?:\.\d+)?(?:x|%)(?!\w)")


def _prose() -> str:
    text = re.sub(r"```.*?```", "", TEXT, flags=re.S)
    # the performance section quotes bench/run.py's measurements (ratios, never asserted)
    text = re.sub(r"## Performance.*?(?=\n## )", "", text, flags=re.S)
    return " ".join(text.split())


STATIC = {"1e-9", "1.5", "2.7"}
"""Figures that are conventions or file facts, not results (kept to a minimum)."""


def test_every_figure_in_the_prose_is_checked() -> None:
    covered = " ".join(text.format(*fn()) for text, fn in CLAIMS)
    missing = [x for x in _FIGURE.findall(_prose()) if x not in covered and x not in STATIC]
    assert not missing, f"figures in the README that no claim checks: {missing}"


def test_library_example_runs() -> None:
    assert finmodel.run("bear").metrics["breakeven_year"] is None
