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
    # a blank line between two commands separates them; it is not output
    return [(c, _strip_blank(lines)) for c, lines in out]


def _strip_blank(lines: list[str]) -> list[str]:
    while lines and not lines[-1]:
        lines = lines[:-1]
    return lines


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


STATIC = {"1.4", "1.2", "3.11", "99%", "10%", "13%", "0.3", "100%", "1.41x", "0.21"}
"""Figures that are published facts quoted as such ($1.4T of commitments, SoftBank's
reported ~13%), versions (YAML 1.2), conventions (the IRR guess of 10%, rates below -99%, columns
summing to 100%, a doubling at half the growth in logs is 2^0.5 = 1.41x, a rate written
0.21) or the options of a command shown (``--shortfall 0.3``), not results."""


def test_every_figure_in_the_prose_is_checked() -> None:
    covered = " ".join(text.format(*fn()) for text, fn in CLAIMS)
    missing = [x for x in _FIGURE.findall(_prose()) if x not in covered and x not in STATIC]
    assert not missing, f"figures in the README that no claim checks: {missing}"


def test_library_snippet_runs(tmp_path: Path) -> None:
    """The README's Python block, run as written from another folder (so its names, imports
    and arguments stay those of the API)."""
    [code] = re.findall(r"```python\n(.*?)```", TEXT, re.S)
    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        exec(compile(code, "README.md", "exec"), {})
    finally:
        os.chdir(here)
    assert (tmp_path / "base.xlsx").is_file()  # res.to_excel("base.xlsx")


# ---- the claims ---------------------------------------------------------------------------


def _months(name: str, spread: str | None = None) -> tuple[float, float]:
    """H1 2025 revenue and the December 2025 run-rate (x12) of a scenario."""
    a = finmodel.load(name)
    if spread is not None:
        a = a.model_copy(update={"revenue": a.revenue.model_copy(update={"spread": spread})})
    rev = finmodel.run(a).series("revenue")
    return float(rev[:6].sum()), float(12 * rev[11])


@claim(
    "the first half of 2025 earns {} and December 2025 runs at {} a year (reported: 4.3 and "
    "above 20); spread flat, as before, they were {} and {}."
)
def _spreading() -> tuple[str, ...]:
    h1, dec = _months("openai-plan-2025q3")
    h1f, decf = _months("openai-plan-2025q3", "flat")
    return _f(h1, 2), _f(dec), _f(h1f, 2), _f(decf)


@claim("Numbers are written to 12 significant digits (`{} + {}` is `{}`)")
def _json_digits() -> tuple[str, ...]:
    from finmodel.export.jsondoc import dumps

    return "0.1", "0.2", dumps(0.1 + 0.2)  # float64 gives 0.30000000000000004


@claim("HSBC's own sources and uses give 282 − 26 − 24 − 17.5 = {}, not 207")
def _hsbc_arithmetic() -> tuple[str, ...]:
    return (_f(282 - 26 - 24 - 17.5),)


@claim("HSBC's paying share would have to be {} times its path ({} by 2030) to close the gap.")
def _paying_share() -> tuple[str, ...]:
    x = finmodel.solve(
        "hsbc-2025-11", "funding_gap.2030", 0.0, "revenue.users.paying_share", (0, 4)
    ).value
    share_2030 = finmodel.load("hsbc-2025-11").revenue.users.paying_share[2030].value
    return _f(x), f"{x * share_2030:.0%}"


def _hsbc_value() -> dict[str, object]:
    return finmodel.run("hsbc-2025-11").valuation()


@claim(
    "With HSBC's revenue, a {} discount rate and {} revenue at the end of 2030, the equity "
    "value is {}. The terminal value is {} of enterprise value, which is flagged."
)
def _hsbc_dcf() -> tuple[str, ...]:
    v = finmodel.load("hsbc-2025-11").valuation
    assert v is not None and v.terminal.multiple is not None
    d = _hsbc_value()["dcf"]
    return (
        f"{v.discount_rate.value:.0%}",
        f"{v.terminal.multiple.value:g}x",
        _f(d.equity_value),  # type: ignore[attr-defined]
        f"{d.terminal_share:.0%}",  # type: ignore[attr-defined]
    )


@claim(
    "The raise policy turns HSBC's gap into {} rounds priced at {} forward revenue, and "
    "HSBC's 26 from NVIDIA and AMD buys at the price of the round before it: the holders at "
    "the valuation date are diluted {}."
)
def _hsbc_rounds() -> tuple[str, ...]:
    v = _hsbc_value()
    rounds = v["rounds"]
    n = int((rounds["pricing"] == "policy round").sum())  # type: ignore[index]
    words = {7: "seven", 8: "eight", 6: "six", 9: "nine"}
    policy = finmodel.load("hsbc-2025-11").valuation.raise_policy  # type: ignore[union-attr]
    assert policy is not None and policy.revenue_multiple is not None
    return words.get(n, str(n)), f"{policy.revenue_multiple.value:g}x", f"{v['dilution']:.1%}"


@claim("at a 1,000 exit every HSBC round takes its money back ({}).")
def _hsbc_returns() -> tuple[str, ...]:
    r = _hsbc_value()["returns"]
    multiples = {round(float(x), 2) for x in r["multiple"]}  # type: ignore[index]
    assert len(multiples) == 1
    return (f"{multiples.pop():.2f}x",)


RULES = ("last_round", "raise_policy", "pre_money=500", "post_money=500")
for _name in ("openai-plan-2025q3", "hsbc-2025-11", "openai-plan-2026q1-nvidia-tranches"):

    def _row(name: str = _name) -> tuple[str, ...]:
        return tuple(f"{finmodel.run(name, pricing=r).valuation()['dilution']:.1%}" for r in RULES)

    CLAIMS.append((f"| `{_name}` | {{}} | {{}} | {{}} | {{}} |", _row))


@claim(
    "over one window, from the valuation date to the end of the horizon: {} for HSBC ({} for "
    "the base case)."
)
def _coverage() -> tuple[str, ...]:
    return tuple(
        f"{finmodel.run(n).valuation()['commitments'].attrs['coverage']:.2f}"
        for n in ("hsbc-2025-11", "openai-plan-2025q3")
    )


@claim("solves for the revenue scale ({}x the revised plan) at which the DCF equity value is")
def _reverse_dcf() -> tuple[str, ...]:
    x = finmodel.solve("openai-plan-2026q1", "equity_value", 730.0, "revenue.scale", (0, 4))
    return (f"{x.value:.2f}",)


@claim("That round (110 at 730 pre-money) takes SoftBank from 11% to {}, which matches")
def _softbank() -> tuple[str, ...]:
    cap = finmodel.run("openai-plan-2026q1").valuation()["cap_table"]
    return (f"{cap['after February 2026 round (2026-03)']['SoftBank']:.1%}",)  # type: ignore[index]


@claim("(pyxirr's sample, −134.09 then +40.86 63 days later: {}).")
def _pyxirr() -> tuple[str, ...]:
    from datetime import date

    r = finmodel.xirr([-134.09, 40.86], [date(2021, 6, 9), date(2021, 8, 11)])
    assert r.value is not None
    return (f"{r.value:.4%}",)


@claim(
    "on at least {} of paths (exactly; the run recounts it). Raising each month's own {} quantile"
)
def _confidence() -> tuple[str, ...]:
    u = finmodel.load("hsbc-2025-11").uncertainty
    assert u is not None
    return f"{1 - u.alpha:.0%}", f"{1 - u.alpha:.0%}"


def _fig(name: str, metric: str, period: object = None, digits: int = 1) -> str:
    r = finmodel.run(name)
    x = r.metric_value(metric, period) if period is not None else r.metrics[metric]
    return _f(float(x), digits)


def _year_fig(name: str, item: str, year: int) -> str:
    return _f(float(finmodel.run(name).annual.loc[item, year]))


@claim(
    "revenue 2025 = {} vs 13; burn 2025-29 = {} vs 115; net loss ex-SBC 2026 = {} vs 14; "
    "first positive FCF {}; commitments {} |"
)
def _base_row() -> tuple[str, ...]:
    n = "openai-plan-2025q3"
    return (
        _year_fig(n, "revenue", 2025),
        _fig(n, "burn", "2025-2029"),
        _year_fig(n, "net_loss_ex_sbc", 2026),
        str(finmodel.run(n).metrics["breakeven_year"]),
        _fig(n, "commitments_total"),
    )


@claim("FCF 2027 = {} vs -35; FCF 2028 = {} vs -47; {} paid to Oracle after 2030 |")
def _ramp_row() -> tuple[str, ...]:
    n = "oracle-ramp"
    c = next(x for x in finmodel.load(n).commitments if x.counterparty == "Oracle")
    assert c.amount is not None
    months = c.years * 12  # ramp: month m of n pays 2m / (n (n + 1)); 2031 is months 49..60
    after = c.amount.value * sum(2 * m for m in range(49, months + 1)) / (months * (months + 1))
    return _year_fig(n, "free_cash_flow", 2027), _year_fig(n, "free_cash_flow", 2028), _f(after)


@claim("revenue 2030 = {} vs 213.6; rent H2 2025-30 = {} vs 792; funding gap 2030 = {} vs 207 |")
def _hsbc_row() -> tuple[str, ...]:
    n = "hsbc-2025-11"
    return (
        _year_fig(n, "revenue", 2030),
        _fig(n, "committed_payments", "2025-2030"),
        _fig(n, "funding_gap", 2030),
    )


@claim("| the same with a 10 cash buffer | funding gap 2030 = {} vs 217 |")
def _buffer_row() -> tuple[str, ...]:
    return (_fig("hsbc-2025-11-buffer", "funding_gap", 2030),)


@claim(
    "burn 2025-29 = {} vs 226; FCF 2026 = {} vs -25; revenue 2030 = {}; breakeven {}; cash "
    "runs out {}, a {} gap by 2030 |"
)
def _revised_row() -> tuple[str, ...]:
    n = "openai-plan-2026q1"
    m = finmodel.run(n).metrics
    return (
        _fig(n, "burn", "2025-2029"),
        _year_fig(n, "free_cash_flow", 2026),
        f"{finmodel.run(n).annual.loc['revenue', 2030]:.0f}",
        str(m["breakeven_year"]),
        str(m["cash_out_month"]),
        _fig(n, "funding_gap", 2030),
    )


@claim("| committed inflows 2025-30 = {}; funding gap 2030 = {} |")
def _tranches_row() -> tuple[str, ...]:
    n = "openai-plan-2026q1-nvidia-tranches"
    return _fig(n, "committed_inflows", "2025-2030"), _fig(n, "funding_gap", 2030)


@claim("(the round closes at 80) | cash runs out {}; a {} gap by 2030 |")
def _pullback_2026_row() -> tuple[str, ...]:
    n = "nvidia-pullback-2026q1"
    return str(finmodel.run(n).metrics["cash_out_month"]), _fig(n, "funding_gap", 2030)


@claim("| the Sep 2025 plan without NVIDIA's tranches | cash runs out {}; a {} gap by 2030 |")
def _pullback_row() -> tuple[str, ...]:
    n = "nvidia-pullback"
    return str(finmodel.run(n).metrics["cash_out_month"]), _fig(n, "funding_gap", 2030)


@claim(
    "revenue 2030 = {} vs {} for the square-rooted growth; {} of stranded compute; a {} gap "
    "by 2030 |"
)
def _bear_row() -> tuple[str, ...]:
    plan = (13.0, 200.0)  # the plan's 2025 and 2030 revenue (assumptions/openai-plan-2025q3)
    return (
        _year_fig("bear", "revenue", 2030),
        _f(plan[0] * (plan[1] / plan[0]) ** 0.5),
        _fig("bear", "stranded_compute_total"),
        _fig("bear", "funding_gap", 2030),
    )


def test_the_readme_files_are_valid(tmp_path: Path) -> None:
    """The example scenario and network files the README shows pass `finmodel validate`."""
    blocks = re.findall(r"```yaml\n(.*?)```", TEXT, re.S)
    assert len(blocks) == 2
    paths = []
    for i, block in enumerate(blocks):
        p = tmp_path / f"example{i}.yaml"
        p.write_text(block, encoding="utf-8")
        paths.append(str(p))
    result = CliRunner().invoke(app, ["validate", *paths])
    assert result.exit_code == 0, result.output
    assert "network 'The circle of money (2025)'" in result.output
