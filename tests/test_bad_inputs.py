"""The corpus of malformed files: each gets one located message, exit code 2, no traceback,
and nothing written. Each file states the line and the text its message must contain, and
the command if not ``run`` (``# args: network bear --network {path}``) and an environment
variable to set (``# env: FINMODEL_MEMORY_GB=abc``). An option or a setting out of its
domain (``# expect-line: -``) is named in the message instead of a line."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from finmodel.cli import app

CORPUS = sorted(
    p for p in (Path(__file__).parent / "bad_inputs").glob("*.yaml") if "# expect:" in p.read_text()
)


def _header(path: Path, key: str) -> str | None:
    m = re.search(rf"^# {key}: (.*)$", path.read_text(), re.M)
    return m.group(1) if m else None


def test_corpus_is_substantial() -> None:
    assert len(CORPUS) >= 20


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_bad_file_gets_one_located_message(path: Path, tmp_path: Path) -> None:
    expected = _header(path, "expect")
    line = _header(path, "expect-line")
    where = _header(path, "expect-file") or path.name
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        args = (_header(path, "args") or "run {path}").split()
        env = dict([setting.split("=", 1)]) if (setting := _header(path, "env")) else None
        result = CliRunner().invoke(app, [str(path) if a == "{path}" else a for a in args], env=env)
    finally:
        os.chdir(cwd)
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    out = result.output
    assert "Traceback" not in out
    # one message: one line on stderr, however many problems the file has (the first is
    # named, with a count of the rest; `finmodel validate` lists them all)
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("error: "), out
    assert expected in out
    if line == "-":  # an option or setting out of its domain: the message names it, no line
        assert re.search(r"^error: (--?[a-z]|[A-Z][A-Z0-9_]+: )", out, re.M), out
    else:
        assert re.match(rf"error: (.*/)?{re.escape(where)}:{line}: ", result.stderr), out
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").iterdir())


def test_validate_reports_each_file(tmp_path: Path) -> None:
    good = Path(__file__).parent.parent / "assumptions" / "bear.yaml"
    bad = CORPUS[0]
    result = CliRunner().invoke(app, ["validate", str(good), str(bad)])
    assert result.exit_code == 2
    assert "ok: " in result.output and "error: " in result.output


def test_missing_file_and_directory(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["run", str(tmp_path / "nope.yaml")])
    assert r.exit_code == 2 and "no such file" in r.output and "openai-plan-2025q3" in r.output
    r = CliRunner().invoke(app, ["run", str(tmp_path)])
    assert r.exit_code == 2 and "got a directory" in r.output


def test_unwritable_output_folder_is_a_clear_error(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["run", "bear", "--out", str(tmp_path / "no" / "such" / "x.xlsx")])
    assert r.exit_code == 2 and "does not exist" in r.output


def test_out_must_be_a_workbook(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["run", "bear", "--out", str(tmp_path / "x.csv")])
    assert r.exit_code == 2 and "expected a workbook path ending in .xlsx" in r.output
    assert not any(tmp_path.iterdir())
