"""The ``finmodel`` command: parses options, calls the API, prints. No arithmetic here."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from finmodel.results import Results

DEFAULT_SCENARIO = "openai-plan-2025q3"
OUTPUTS = Path("outputs")

app = typer.Typer(
    name="finmodel",
    help="Project a company's cash, funding need and runway from a cited assumption file, "
    "and write a live Excel model.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from finmodel import __version__

        typer.echo(f"finmodel {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """finmodel: funding gaps, runway and live workbooks from assumption files."""


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _console() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False, width=max(100, Console().width))


def _fmt(x: Any, digits: int = 1) -> str:
    if x is None:
        return "never"
    if isinstance(x, float):
        return f"{x:,.{digits}f}"
    return str(x)


def _year(x: float | None) -> str:
    return "never" if x is None else f"{x:.0f}"


def _out_path(out: Path | None, default_name: str) -> Path:
    if out is not None:
        if out.suffix.lower() != ".xlsx":
            _fail(f"--out: expected a workbook path ending in .xlsx, got {str(out)!r}")
        return out
    OUTPUTS.mkdir(exist_ok=True)
    return OUTPUTS / default_name


@app.command()
def run(
    file: Annotated[
        str | None,
        typer.Argument(
            help="Assumption file, or a shipped scenario's name. Default: the base case."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Workbook path (default outputs/<file>.xlsx)."),
    ] = None,
    no_workbook: Annotated[
        bool, typer.Option("--no-workbook", help="Do not write a workbook.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of tables.")
    ] = False,
) -> None:
    """Project one scenario, print its summary and targets, write its workbook.

    Example: finmodel run assumptions/hsbc-2025-11.yaml --out hsbc.xlsx
    """
    from finmodel.assumptions import load_with_meta
    from finmodel.errors import FinmodelError
    from finmodel.results import run_loaded

    try:
        loaded = load_with_meta(file or DEFAULT_SCENARIO)
        res = run_loaded(loaded)
        written = None
        if not no_workbook:
            stem = loaded.path.stem if loaded.path else "scenario"
            written = res.to_excel(_out_path(out, f"{stem}.xlsx"))
    except FinmodelError as e:
        _fail(str(e))
    if as_json:
        typer.echo(json.dumps(res.to_json(), indent=2))
        if written:
            typer.echo(f"wrote {written}", err=True)
        return
    _print_run(res)
    if written:
        typer.echo(f"wrote {written}")


def _print_run(res: Results) -> None:
    from rich.table import Table

    con = _console()
    a = res.assumptions
    m = res.metrics
    unit = f"{a.currency} {a.unit}"
    con.print(f"[bold]{a.company}: {a.name}[/bold]  ({a.start} to {a.end}, money in {unit})")
    t = Table(title="Summary", show_header=False, title_justify="left")
    t.add_column("metric")
    t.add_column("value", justify="right")
    runway = "beyond the horizon" if m["runway_months"] is None else f"{m['runway_months']} months"
    rows = [
        ("Cash-out month (cash below the buffer, no new money)", _fmt(m["cash_out_month"])),
        ("Runway", runway),
        ("Breakeven year (first positive free cash flow)", _fmt(m["breakeven_year"])),
        ("Trough cash, no new money", f"{_fmt(m['trough_unfunded_cash'])} ({m['trough_month']})"),
        ("Minimum cash buffer", _fmt(m["min_cash"])),
        ("Funding need through the horizon", _fmt(m["peak_funding_need"])),
        ("Compute commitments (contract value)", _fmt(m["commitments_total"])),
        ("Stranded compute (paid, not needed)", _fmt(m["stranded_compute_total"])),
    ]
    for k, v in rows:
        t.add_row(k, v)
    con.print(t)
    fs = res.funding_schedule
    g = Table(title=f"Funding by year ({unit})", title_justify="left")
    for c in (
        "year",
        "free cash flow",
        "committed inflows",
        "new need",
        "funding gap",
        "cash, no new money",
    ):
        g.add_column(c, justify="right")
    for y, row in fs.iterrows():
        g.add_row(
            str(y),
            _fmt(row["free_cash_flow"]),
            _fmt(row["committed_inflows"]),
            _fmt(row["funding_need"]),
            _fmt(row["funding_gap"]),
            _fmt(row["cash_unfunded"]),
        )
    con.print(g)
    if a.targets:
        tt = Table(title="Published figures vs the model", title_justify="left")
        for c in ("metric", "period", "published", "model", "difference", "tolerance", "ok"):
            tt.add_column(c, justify="left" if c in ("metric", "period") else "right")
        for r in res.target_results():
            year = r.metric == "breakeven_year"
            tol = f"{r.tolerance:g} y" if year else f"{r.tolerance:.0%}"
            shown = _year if year else _fmt
            tt.add_row(
                r.metric,
                r.period or "",
                shown(r.published),
                shown(r.model),
                shown(r.difference),
                tol,
                "[green]yes[/green]" if r.ok else "[red]NO[/red]",
            )
        con.print(tt)


@app.command()
def validate(
    files: Annotated[list[str], typer.Argument(help="Assumption files to check.")],
) -> None:
    """Check assumption files and print every located error.

    Example: finmodel validate assumptions/*.yaml
    """
    from finmodel.assumptions import load_with_meta
    from finmodel.engine.model import build
    from finmodel.errors import FinmodelError

    failed = 0
    for f in files:
        try:
            loaded = load_with_meta(f)
            model = build(loaded.assumptions)
        except FinmodelError as e:
            failed += 1
            typer.echo(f"error: {e}", err=True)
            continue
        typer.echo(
            f"ok: {f}: '{model.scenario}', {model.timeline.T} months, "
            f"{len(model.params)} inputs, {len(model.items)} line items"
        )
    if failed:
        raise typer.Exit(2)


@app.command()
def compare(
    files: Annotated[list[str], typer.Argument(help="Two or more assumption files.")],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Workbook path (default outputs/compare.xlsx)."),
    ] = None,
    no_workbook: Annotated[
        bool, typer.Option("--no-workbook", help="Do not write a workbook.")
    ] = False,
) -> None:
    """Run scenarios side by side; write one workbook with every scenario and a Compare sheet.

    Example: finmodel compare openai-plan-2025q3 bear nvidia-pullback
    """
    from rich.table import Table

    from finmodel.errors import FinmodelError
    from finmodel.export.workbook import write_workbook
    from finmodel.results import HEADLINE_METRICS, run

    try:
        results = [run(f) for f in files]
        written = None if no_workbook else write_workbook(results, _out_path(out, "compare.xlsx"))
    except FinmodelError as e:
        _fail(str(e))
    t = Table(title="Scenarios side by side", title_justify="left")
    t.add_column("metric")
    for r in results:
        t.add_column(r.name, justify="right")
    for k in HEADLINE_METRICS:
        t.add_row(k, *[_fmt(r.metrics[k]) for r in results])
    years = sorted({y for r in results for y in r.model.timeline.years})
    for y in years:
        t.add_row(
            f"funding gap {y}",
            *[
                _fmt(r.metric_value("funding_gap", y)) if y in r.annual.columns else ""
                for r in results
            ],
        )
    _console().print(t)
    if written:
        typer.echo(f"wrote {written}")


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
