"""The ``finmodel`` command: parses options, calls the API, prints. No arithmetic here."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from finmodel.cli_usage import Commands, bare, fail, say_error, shown

if TYPE_CHECKING:
    from rich.console import Console

    from finmodel.assumptions import Loaded
    from finmodel.results import Results

DEFAULT_SCENARIO = "openai-plan-2025q3"
PRICING_OPTION = typer.Option(
    "--pricing",
    help="Price every equity inflow without a valuation of its own by RULE: last_round, "
    "raise_policy, last_round,raise_policy (the first that applies), pre_money=X or "
    "post_money=X.",
    metavar="RULE",
)
OUTPUTS = Path("outputs")

app = typer.Typer(
    name="finmodel",
    help="Project a company's cash, funding need and runway from a cited assumption file, "
    "and write a live Excel model.\n\nExit codes: 0 ok; 1 no solution (solve, value "
    "--implied: the nearest values are printed); 2 bad input (one located message, nothing "
    "written).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=Commands,  # usage errors are one line each (finmodel.cli_usage)
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
    from finmodel.errors import FinmodelError
    from finmodel.limits import env_limit

    try:  # a bad FINMODEL_MEMORY_GB is refused by every command, not only those it limits
        env_limit()
    except FinmodelError as e:
        _fail(str(e))


def _fail(message: str) -> NoReturn:
    fail(message)


OPTIONS = {
    "n": "--draws",
    "fraction": "--shortfall",
    "seed": "--seed",
    "sampler": "--sampler",
    "alpha": "--alpha",
    "chunk": "--chunk",
    "validation_draws": "--validation-draws",
    "n_base": "--base",
    "x_values": "--grid-x",
    "y_values": "--grid-y",
    "x_values and y_values": "--grid-x and --grid-y",
    "default_pct": "--pct",
    "target": "--target",
    "vary": "--vary",
    "x": "--grid-x",
    "y": "--grid-y",
    "bracket": "--bracket",
    "op": "--op",
    "draws": "--draws",
    "as_of": "--as-of",
    "pricing": "--pricing",
    "path": "--out",
}
"""The API's argument behind each option: an error about an argument (``n: expected ...``)
is printed with the option's name (``--draws: expected ...``)."""


def _located(e: Exception, loaded: Any = None, names: dict[str, str] | None = None) -> str:
    """An error's message, with the option in place of the API argument it names, and with
    ``file:line:`` before a field of the loaded file it names (``uncertainty.draws: ...``).

    ``names`` adds to (or overrides) :data:`OPTIONS` for one command: the argument that is
    ``--target`` in ``solve``, and each ``specs[k]`` of a tornado as its ``--param`` was typed.
    An error about a part of an argument (``specs[2].low``, ``x_values[1]``) is named by the
    longest entry it falls under."""
    text, arg = str(e), getattr(e, "argument", None)
    where = getattr(e, "where", None) or arg
    if isinstance(where, str) and text.startswith(where) and text[len(where) :][:1] in ":, ":
        table = {**OPTIONS, **(names or {})}
        for key in sorted(table, key=len, reverse=True):
            if where == key or where.startswith(f"{key} "):  # 'pricing pre_money=-5: ...'
                return table[key] + text[len(key) :]
            if where.startswith((f"{key}.", f"{key}[")):  # 'specs[2].low: ...'
                return table[key] + text[len(where) :]
    doc = getattr(loaded, "document", None)
    if doc is None:
        return text
    from finmodel.assumptions.loader import locate

    return locate(doc, text)


def _console() -> Console:
    from rich.console import Console

    # markup off: names, sources and labels from a file are printed as written ('[/bold]',
    # '[link=...]'); the CLI's own styles are Text objects (_styled)
    return Console(highlight=False, markup=False, soft_wrap=False, width=max(100, Console().width))


def _styled(*parts: str | tuple[str, str]) -> Any:
    """A line of plain text in which the given ``(text, style)`` parts are styled; nothing
    in it is read as console markup."""
    from rich.text import Text

    return Text.assemble(*parts)


JSON_HELP = (
    "Print one JSON object instead of tables (numbers to 12 significant digits; null for a "
    "value that is not a finite number)."
)


def _print_json(doc: Any) -> None:
    """Print ``doc`` as JSON by the one rule of every ``--json`` (finmodel.export.jsondoc)."""
    from finmodel.export.jsondoc import dumps

    typer.echo(dumps(doc))


def _fmt(x: Any, digits: int = 1) -> str:
    if x is None:
        return "never"
    if isinstance(x, float):
        return f"{x:,.{digits}f}"
    return str(x)


def _headline(key: str, x: Any) -> str:
    """A headline metric (:data:`finmodel.results.HEADLINE_METRICS`) as ``run``'s Summary and
    ``compare`` show it: a date that never comes in the words of the metrics layer
    (:func:`finmodel.analysis.metrics.never_text`: a runway "beyond the horizon", a month or
    a year "never")."""
    if x is None:
        from finmodel.analysis.metrics import never_text

        return never_text(key)
    return _fmt(x)


def _year(x: float | None) -> str:
    return "never" if x is None else f"{x:.0f}"


def _workbook_path(text: str) -> Path:
    """Parser of ``--out``: a workbook path (``.xlsx``), refused before any work is done and
    quoted as typed (``--out ""`` is ``got ''``, not the ``'.'`` a Path makes of it)."""
    if not text.lower().endswith(".xlsx") or Path(text).suffix.lower() != ".xlsx":
        raise typer.BadParameter(f"expected a workbook path ending in .xlsx, got {shown(text)}")
    return Path(text)


def _out_option(default: str) -> Any:
    """The ``--out`` option of a command that writes a workbook (``default``: its path)."""
    return typer.Option(
        "--out",
        "-o",
        help=f"Workbook path (default {default}).",
        parser=_workbook_path,
        metavar="FILE.xlsx",
    )


def _one_output(out: Path | None, no_workbook: bool) -> None:
    """Refuse ``--out`` with ``--no-workbook``: one names the workbook the other says not to
    write."""
    if out is not None and no_workbook:
        _fail(
            "--out and --no-workbook: expected at most one of them (--out names the workbook, "
            f"--no-workbook writes none), got both (--out {bare(out)})"
        )


def _out_path(out: Path | None, default_name: str) -> Path:
    if out is not None:
        return out
    _outputs_folder()
    return OUTPUTS / default_name


def _outputs_folder() -> None:
    """Create ``outputs/`` unless it exists; a regular file of that name is refused."""
    if OUTPUTS.exists() and not OUTPUTS.is_dir():
        _fail(f"{OUTPUTS}: expected a folder for the outputs, got a file; move it or pass --out")
    OUTPUTS.mkdir(exist_ok=True)


@app.command()
def run(
    file: Annotated[
        str | None,
        typer.Argument(
            help="Assumption file, or a shipped scenario's name. Default: the base case."
        ),
    ] = None,
    out: Annotated[Path | None, _out_option("outputs/<file>.xlsx")] = None,
    no_workbook: Annotated[
        bool, typer.Option("--no-workbook", help="Do not write a workbook.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Set the inputs under a parameter path (repeatable).",
            metavar="PATH=VALUE",
        ),
    ] = None,
    scale: Annotated[
        list[str] | None,
        typer.Option("--scale", help="Scale them (repeatable).", metavar="PATH=FACTOR"),
    ] = None,
    shift: Annotated[
        list[str] | None,
        typer.Option("--shift", help="Shift them (repeatable).", metavar="PATH=AMOUNT"),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            metavar="YYYY-MM",
            help="Count runway from the end of this month (default: the file's opening.as_of, "
            "else the opening balance date, the month before the start).",
        ),
    ] = None,
    pricing: Annotated[str | None, PRICING_OPTION] = None,
) -> None:
    """Project one scenario, print its summary and targets, write its workbook.

    --set, --scale and --shift change inputs by parameter path (repeatable), e.g.
    finmodel run bear --scale revenue.annual=1.2 --set funding.min_cash=10

    Example: finmodel run assumptions/hsbc-2025-11.yaml --out hsbc.xlsx
    """
    from finmodel.assumptions import load_with_meta
    from finmodel.errors import FinmodelError
    from finmodel.results import run_loaded, with_as_of, with_pricing

    _one_output(out, no_workbook)
    try:
        loaded = load_with_meta(file or DEFAULT_SCENARIO)
        if pricing is not None:
            loaded = with_pricing(loaded, pricing)
        changes: dict[str, dict[str, float]] = {}
        typed: dict[str, str] = {}  # path -> the option as typed, '--set costs.tax_rate=21'
        for op, given in (("set", set_), ("scale", scale), ("shift", shift)):
            for text in given or []:
                path, value = _split(text, f"--{op}", _CHANGE[op])
                as_typed = f"--{op} {bare(text)}"
                if path in typed:
                    _fail(f"{as_typed}: expected one change per path, got {typed[path]} too")
                changes[path] = {op: _number(value, as_typed, f"a number after {path}=")}
                typed[path] = as_typed
        if changes:
            loaded = _adjusted(loaded, changes, typed)
        if as_of is not None:
            loaded = with_as_of(loaded, as_of)
        res = run_loaded(loaded)
        if res.assumptions.valuation is not None:
            res.valuation()  # computed (and checked) once, before anything is printed
        written = None
        if not no_workbook:
            stem = loaded.path.stem if loaded.path else "scenario"
            written = res.to_excel(_out_path(out, f"{stem}.xlsx"))
    except FinmodelError as e:
        _fail(_located(e))
    if as_json:
        _print_json(res.to_json())
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
    con.print(
        _styled((f"{a.company}: {a.name}", "bold"), f"  ({a.start} to {a.end}, money in {unit})")
    )
    t = Table(title="Summary", show_header=False, title_justify="left")
    t.add_column("metric")
    t.add_column("value", justify="right")
    runway = m["runway_months"]
    rows = [
        (
            "Cash-out month (cash below the buffer, no new money)",
            _headline("cash_out_month", m["cash_out_month"]),
        ),
        (
            f"Runway (from the end of {m['as_of']})",
            _headline("runway_months", runway) + ("" if runway is None else " months"),
        ),
        (
            "Breakeven year (first positive free cash flow)",
            _headline("breakeven_year", m["breakeven_year"]),
        ),
        ("Trough cash, no new money", f"{_fmt(m['trough_unfunded_cash'])} ({m['trough_month']})"),
        ("Minimum cash buffer", _fmt(m["min_cash"])),
        ("Funding need through the horizon", _fmt(m["peak_funding_need"])),
        ("Compute commitments (contract value)", _fmt(m["commitments_total"])),
        ("Stranded compute (paid, not needed)", _fmt(m["stranded_compute_total"])),
    ]
    if a.valuation is not None:
        val = res.valuation()
        rows.append(
            ("Equity value (DCF at " + a.valuation.date + ")", _fmt(val["dcf"].equity_value))
        )
        rows.append(
            (
                "Dilution to the holders at the valuation date, by the horizon",
                f"{val['dilution']:.1%}",
            )
        )
        com = val["commitments"]
        if len(com):
            rows.append(
                (
                    f"Commitment coverage ({com.attrs['window']})",
                    f"{com.attrs['coverage']:.2f}",
                )
            )
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
                _styled(("yes", "green")) if r.ok else _styled(("NO", "red")),
            )
        con.print(tt)


@app.command()
def validate(
    files: Annotated[list[str], typer.Argument(help="Assumption files to check.")],
) -> None:
    """Check assumption files (scenarios and network files) and print every located error.

    Example: finmodel validate assumptions/*.yaml
    """
    from finmodel.analysis.arguments import model_of
    from finmodel.assumptions import load_with_meta
    from finmodel.assumptions.loader import is_network, read_document, resolve
    from finmodel.errors import FinmodelError
    from finmodel.network import load_network

    failed = 0
    for f in files:
        try:
            if is_network(read_document(resolve(f))):
                net, _ = load_network(resolve(f))
                typer.echo(
                    f"ok: {f}: network '{net.name}', {len(net.parties)} parties, "
                    f"{len(net.obligations)} obligations, {len(net.loans)} loans"
                )
                continue
            loaded = load_with_meta(f)
            model = model_of(loaded.assumptions)
        except FinmodelError as e:
            failed += 1
            for problem in getattr(e, "problems", None) or (str(e),):
                say_error(problem)
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
    out: Annotated[Path | None, _out_option("outputs/compare.xlsx")] = None,
    no_workbook: Annotated[
        bool, typer.Option("--no-workbook", help="Do not write a workbook.")
    ] = False,
) -> None:
    """Run scenarios side by side; write one workbook with every scenario and a Compare sheet.

    The scenarios must share a currency and a unit, and be different files; two scenarios of
    the same name are told apart by their file's name.

    Example: finmodel compare openai-plan-2025q3 bear nvidia-pullback
    """
    from rich.table import Table

    from finmodel.assumptions import load_with_meta
    from finmodel.errors import FinmodelError
    from finmodel.export.workbook import write_workbook
    from finmodel.results import HEADLINE_METRICS, run_loaded

    _one_output(out, no_workbook)
    try:
        loaded = [load_with_meta(f) for f in files]
        _comparable(files, loaded)
        results = [run_loaded(x) for x in loaded]
        written = None if no_workbook else write_workbook(results, _out_path(out, "compare.xlsx"))
    except FinmodelError as e:
        _fail(_located(e))
    a = results[0].assumptions
    t = Table(title=f"Scenarios side by side ({a.currency} {a.unit})", title_justify="left")
    t.add_column("metric")
    for label in _labels(files, loaded, [r.name for r in results]):
        t.add_column(label, justify="right")
    for k in HEADLINE_METRICS:
        t.add_row(k, *[_headline(k, r.metrics[k]) for r in results])
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


def _comparable(files: list[str], loaded: list[Loaded]) -> None:
    """Refuse a comparison that would mislead: the same file twice (or two files of the same
    content), or scenarios in different currencies or units side by side under one header."""
    first: dict[str, str] = {}
    for f, x in zip(files, loaded, strict=True):
        key = x.sha256 or str(x.path)
        if key in first:
            _fail(
                f"FILES: expected different scenarios, got the same file twice: "
                f"{bare(first[key])} and {bare(f)}"
            )
        first[key] = f
    units = [f"{x.assumptions.currency} {x.assumptions.unit}" for x in loaded]
    for f, unit in zip(files[1:], units[1:], strict=True):
        if unit != units[0]:
            _fail(
                f"FILES: expected scenarios in one currency and unit, got {units[0]} in "
                f"{bare(files[0])} and {unit} in {bare(f)}"
            )


def _labels(files: list[str], loaded: list[Loaded], names: list[str]) -> list[str]:
    """Column headings of ``compare``: each scenario's name, followed by its file's stem
    (else the file as typed) where two scenarios share a name."""
    stems = [x.path.stem if x.path else f for f, x in zip(files, loaded, strict=True)]
    out = []
    for i, name in enumerate(names):
        if names.count(name) == 1:
            out.append(name)
            continue
        same = [stems[j] for j, n in enumerate(names) if n == name]
        out.append(f"{name} ({stems[i] if same.count(stems[i]) == 1 else files[i]})")
    return out


_CHANGE = {"set": "PATH=VALUE", "scale": "PATH=FACTOR", "shift": "PATH=AMOUNT"}


def _adjusted(
    loaded: Loaded, changes: dict[str, dict[str, float]], typed: dict[str, str]
) -> Loaded:
    """``loaded`` with the --set, --scale and --shift changes; an error in one of them names
    the option as typed (``--set costs.tax_rate=21: expected a rate ...``), not the
    ``adjust.PATH`` entry the changes become."""
    from finmodel.errors import AssumptionError
    from finmodel.results import with_adjustments

    try:
        return with_adjustments(loaded, changes)
    except AssumptionError as e:
        text = str(e)
        for path, as_typed in typed.items():
            if text.startswith(f"adjust.{path}: "):
                why = text.removeprefix(f"adjust.{path}: ")
                op, x = next(iter(changes[path].items()))
                if op == "set":  # 'got 21 (after set 21)' says the same twice
                    why = why.removesuffix(f" (after set {x:g})")
                _fail(f"{as_typed}: {why}")
        raise


def _split(text: str, what: str, form: str = "PATH=VALUE") -> tuple[str, str]:
    if "=" not in text:
        _fail(f"{what}: expected {form}, got {shown(text)}")
    k, _, v = text.partition("=")
    return k.strip(), v.strip()


def _number(text: str, what: str, expected: str = "a number") -> float:
    try:
        x = float(text)
    except ValueError:
        _fail(f"{what}: expected {expected}, got {shown(text)}")
    if x != x or x in (float("inf"), float("-inf")):
        _fail(f"{what}: expected a finite number, got {shown(text)}")
    return x


def _range(text: str, option: str, example: str, strict: bool = False) -> tuple[float, float]:
    """``LOW:HIGH`` of ``option`` (named as typed in messages): two finite numbers with
    LOW <= HIGH (LOW < HIGH when ``strict``, a bracket to search)."""
    parts = text.split(":")
    if len(parts) != 2 or not all(_is_number(x) for x in parts):
        _fail(f"{option}: expected LOW:HIGH, two numbers such as {example}, got {shown(text)}")
    lo, hi = float(parts[0]), float(parts[1])
    if not (math.isfinite(lo) and math.isfinite(hi)):
        _fail(f"{option}: expected finite numbers LOW:HIGH, got {shown(text)}")
    if lo > hi or (strict and lo == hi):
        order = "LOW < HIGH" if strict else "LOW <= HIGH"
        _fail(f"{option}: expected LOW:HIGH with {order}, got {bare(text)}")
    return lo, hi


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _png_beside(workbook: Path | None, suffix: str, stem: str) -> Path:
    folder = workbook.parent if workbook is not None else OUTPUTS
    if workbook is None:
        _outputs_folder()
    base = workbook.stem if workbook is not None else stem
    return folder / f"{base}-{suffix}.png"


@app.command()
def sensitivity(
    file: Annotated[str, typer.Argument(help="Assumption file, or a shipped scenario's name.")],
    metric: Annotated[
        str | None,
        typer.Option(
            "--metric",
            "-m",
            help="Metric, e.g. funding_gap.2030, cash_out_month, "
            "trough_unfunded_cash, burn.2025-2029 (default: the file's, else funding_gap).",
            metavar="METRIC",
        ),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-p",
            help="A tornado bar: PATH moved by +/- --pct, or PATH=LOW:HIGH, the values at its "
            "ends (repeatable). Default: the file's sensitivity section, else every input group.",
            metavar="PATH[=LOW:HIGH]",
        ),
    ] = None,
    pct: Annotated[
        float | None,
        typer.Option(
            "--pct",
            help="+/- change for a --param PATH without LOW:HIGH (default 0.2).",
            metavar="FRACTION",
        ),
    ] = None,
    grid_x: Annotated[
        str | None,
        typer.Option(
            "--grid-x",
            help="The rows of a two-way grid: PATH=START:STOP:COUNT (COUNT values from START to "
            "STOP) or PATH=V1,V2,...",
            metavar="PATH=VALUES",
        ),
    ] = None,
    grid_y: Annotated[
        str | None,
        typer.Option("--grid-y", help="The grid's columns, as --grid-x.", metavar="PATH=VALUES"),
    ] = None,
    sobol_indices: Annotated[
        bool,
        typer.Option(
            "--sobol", help="Also compute Sobol indices over the file's uncertainty section."
        ),
    ] = False,
    base: Annotated[
        int, typer.Option("--base", help="Sobol base sample size (power of 2).", metavar="N")
    ] = 1024,
    top: Annotated[int, typer.Option("--top", help="Tornado bars to print.", metavar="N")] = 15,
    out: Annotated[Path | None, _out_option("outputs/<file>-sensitivity.xlsx")] = None,
    no_workbook: Annotated[bool, typer.Option("--no-workbook", help="Do not write files.")] = False,
) -> None:
    """Tornado (which assumption moves the metric most), two-way grid, Sobol indices.

    Example: finmodel sensitivity hsbc-2025-11 -m funding_gap.2030 --grid-x
    revenue.users.paying_share=0.5:2:7 --grid-y revenue.segments.enterprise.market=0.7:1.3:7
    """
    from rich.table import Table

    from finmodel.analysis import sensitivity as sens
    from finmodel.analysis.arguments import metric as metric_arg
    from finmodel.analysis.metrics import format_metric
    from finmodel.assumptions import load_with_meta
    from finmodel.errors import FinmodelError
    from finmodel.results import run_loaded

    if pct is not None and not (0 < pct < 1):
        _fail(f"--pct: expected a fraction above 0 and below 1 such as 0.2 (±20%), got {pct}")
    if top < 0:
        _fail(f"--top: expected 0 or more bars, got {top}")
    _one_output(out, no_workbook)
    if bool(grid_x) != bool(grid_y):
        _fail("--grid-x and --grid-y: expected both (the grid's rows and its columns)")
    bars: list[tuple[str, float | None, float | None]] = []
    for text in param or []:
        if "=" in text:
            path, ends = _split(text, f"--param {bare(text)}", "PATH or PATH=LOW:HIGH")
            bars.append((path, *_range(ends, f"--param {bare(text)}", "0.8:1.2")))
        else:
            bars.append((text.strip(), None, None))
    names = {f"specs[{k}]": f"--param {bare(text)}" for k, text in enumerate(param or [])}
    if metric is not None:
        names["metric"] = "--metric"
    loaded = None
    try:
        loaded = load_with_meta(file)
        res = run_loaded(loaded)
        model, a = res.model, loaded.assumptions
        cfg = a.sensitivity
        if metric is not None:
            met = metric_arg(metric, model)
        else:
            met = metric_arg(cfg.metric if cfg else "funding_gap", model, "sensitivity.metric")
        p = pct if pct is not None else (float(cfg.pct) if cfg else 0.2)
        if bars:
            specs = [
                sens.TornadoSpec(path, lo, hi, None if lo is not None else p)
                for path, lo, hi in bars
            ]
        elif cfg and cfg.parameters:
            specs = [
                sens.TornadoSpec(
                    b.path,
                    None if b.low is None else float(b.low),
                    None if b.high is None else float(b.high),
                    None if b.pct is None else float(b.pct),
                    b.op,
                )
                for b in cfg.parameters
            ]
        else:
            specs = sens.default_specs(model, p)
        field = None if param or not (cfg and cfg.parameters) else "sensitivity.parameters"
        tor = sens.tornado(model, met, specs, default_pct=p, field=field)
        grid_df = None
        if grid_x and grid_y:
            gx, vx = _split(grid_x, "--grid-x", "PATH=VALUES")
            gy, vy = _split(grid_y, "--grid-y", "PATH=VALUES")
            grid_df = sens.grid(
                model,
                met,
                gx,
                sens.parse_values(vx, "--grid-x"),
                gy,
                sens.parse_values(vy, "--grid-y"),
            )
        elif cfg and cfg.grid:
            g = cfg.grid
            grid_df = sens.grid(
                model,
                metric_arg(g.metric, model, "sensitivity.grid.metric") if g.metric else met,
                g.x.path,
                [float(v) for v in g.x.values],
                g.y.path,
                [float(v) for v in g.y.values],
                g.x.op,
                g.y.op,
                field="sensitivity.grid",
            )
        sob = None
        if sobol_indices:
            from finmodel.analysis.sobol import sobol

            if a.uncertainty is None:
                _fail(f"{loaded.path}: --sobol: expected an 'uncertainty' section in the file")
            sob = sobol(model, a.uncertainty, met, base)
        manifest = {
            "scenario": model.scenario,
            "finmodel_version": res_version(),
            "input_sha256": loaded.sha256,
            "metric": met.label,
        }
        written: list[Path] = []
        if not no_workbook:
            from finmodel.export import analysis_sheets as sheets
            from finmodel.export.workbook import output_set, write_workbook

            stem = loaded.path.stem if loaded.path else "scenario"
            extra = [sheets.tornado_sheet(tor, manifest)]
            if grid_df is not None:
                extra.append(sheets.grid_sheet(grid_df, manifest))
            if sob is not None:
                extra.append(
                    sheets.sobol_sheet(
                        sob.indices,
                        sob.metric,
                        sob.note,
                        {**manifest, "evaluations": sob.evaluations},
                    )
                )
            with output_set():  # the workbook and its chart appear together or not at all
                wbpath = write_workbook([res], _out_path(out, f"{stem}-sensitivity.xlsx"), extra)
                written += [wbpath, sheets.tornado_png(tor, _png_beside(wbpath, "tornado", stem))]
    except FinmodelError as e:
        _fail(_located(e, loaded, names))
    con = _console()
    t = Table(
        title=f"Tornado: {met.label} (base {format_metric(met, float(tor['base'][0]), model)})",
        title_justify="left",
    )
    for c in ("parameter", "low", "high", "at low", "at high", "swing"):
        t.add_column(c, justify="left" if c == "parameter" else "right")
    head = tor.head(top)
    nums = head[["low", "high", "metric_low", "metric_high", "swing"]].to_numpy(dtype=float)
    for name, (lo, hi, at_lo, at_hi, swing) in zip(head["parameter"], nums, strict=True):
        t.add_row(
            str(name),
            f"{lo:,.4g}",
            f"{hi:,.4g}",
            format_metric(met, at_lo, model),
            format_metric(met, at_hi, model),
            f"{swing:,.2f}",
        )
    con.print(t)
    if len(tor) > top:
        more = len(tor) - top  # the workbook, when written, has every bar
        where = " in the workbook" if written else f"; --top {len(tor)} shows them all"
        con.print(f"({more} more{where})")
    if grid_df is not None:
        gt = Table(
            title=f"Grid: {grid_df.attrs['metric']} (rows {grid_df.index.name}, "
            f"columns {grid_df.columns.name})",
            title_justify="left",
        )
        gt.add_column("")
        for y in grid_df.columns:
            gt.add_column(f"{y:.4g}", justify="right")
        zmin, zmax = float(grid_df.min().min()), float(grid_df.max().max())
        for x, row in grid_df.iterrows():
            cells: list[Any] = []
            for v in row.to_numpy():
                shade = 0.0 if zmax == zmin or v != v else (v - zmin) / (zmax - zmin)
                style = "green" if shade < 1 / 3 else "yellow" if shade < 2 / 3 else "red"
                cells.append(_styled((format_metric(met, float(v), model), style)))
            gt.add_row(f"{x:.4g}", *cells)
        con.print(gt)
    if sob is not None:
        st = Table(
            title=f"Sobol indices: {sob.metric} ({sob.evaluations:,} evaluations)",
            title_justify="left",
        )
        for c in ("parameter", "S1", "S1 conf", "ST", "ST conf"):
            st.add_column(c, justify="left" if c == "parameter" else "right")
        idx = sob.indices[["S1", "S1_conf", "ST", "ST_conf"]].to_numpy(dtype=float)
        for name, vals in zip(sob.indices.index, idx, strict=True):
            st.add_row(str(name), *[f"{v:.3f}" for v in vals])
        con.print(st)
        if sob.note:
            con.print(sob.note)
    for w in written:
        typer.echo(f"wrote {w}")


def _pct(x: float) -> str:
    return "" if x != x else f"{x:.0%}"


def res_version() -> str:
    from finmodel import __version__

    return __version__


@app.command()
def solve(
    file: Annotated[str, typer.Argument(help="Assumption file, or a shipped scenario's name.")],
    target: Annotated[
        str,
        typer.Option(
            "--target",
            "-t",
            help="The metric and the value it should take, e.g. funding_gap.2030=0.",
            metavar="METRIC=VALUE",
        ),
    ],
    vary: Annotated[
        str,
        typer.Option("--vary", "-v", help="Parameter path to change.", metavar="PATH"),
    ],
    bracket: Annotated[
        str | None,
        typer.Option(
            "--bracket",
            help="Values to search between (default 0:4 for a factor, 0 to 4x the file's "
            "value for a value, within the input's domain).",
            metavar="LOW:HIGH",
        ),
    ] = None,
    op: Annotated[
        str | None,
        typer.Option(
            "--op",
            help="How --vary moves the inputs: set, scale or shift (default: set for one "
            "input, scale for several).",
            metavar="OP",
        ),
    ] = None,
) -> None:
    """Goal seek: the value of one parameter at which a metric hits a target.

    Exit codes: 0 solved; 1 no solution: the target lies outside the metric's range over the
    bracket, or inside a jump of a step metric (runway is whole months), or the metric does
    not move with --vary over the bracket, and the nearest values are printed; 2 bad input.

    Example:
    finmodel solve hsbc-2025-11 --target funding_gap.2030=0 --vary revenue.users.paying_share
    """
    from finmodel.analysis.arguments import model_of
    from finmodel.analysis.solve import describe
    from finmodel.analysis.solve import solve as goal_seek
    from finmodel.assumptions import load_with_meta
    from finmodel.errors import FinmodelError, TargetNotReachedError

    if op is not None and op not in ("set", "scale", "shift"):
        _fail(f"--op: expected set, scale or shift, got {op!r}")
    m_name, value = _split(target, "--target", "METRIC=VALUE")
    goal = _number(value, "--target", f"a number after {m_name}=")
    br = None if bracket is None else _range(bracket, "--bracket", "0:4", strict=True)
    try:
        model = model_of(load_with_meta(file).assumptions)
        sol = goal_seek(model, m_name, goal, vary, br, op)
    except TargetNotReachedError as e:
        _no_solution(e)
    except FinmodelError as e:
        _fail(_located(e, names={"metric": "--target"}))
    typer.echo(describe(sol, model))


@contextmanager
def _progress(label: str, disable: bool) -> Iterator[Callable[[int, int], None]]:
    """A transient progress bar, as a ``progress(done, total)`` callback. The bar starts at the
    first call, once the run's arguments are checked: a refused run prints nothing but its
    error (a bar started and stopped leaves a blank line)."""
    from rich.progress import Progress

    bar = Progress(transient=True, disable=disable)
    task: list[Any] = []

    def progress(done: int, total: int) -> None:
        if not task:
            bar.start()
            task.append(bar.add_task(label, total=total))
        bar.update(task[0], completed=done, total=total)

    try:
        yield progress
    finally:
        if task:
            bar.stop()


def _no_solution(e: Exception) -> NoReturn:
    """A goal seek without a solution: its nearest values, and exit code 1."""
    typer.echo(str(e))
    raise typer.Exit(1)


@app.command()
def simulate(
    file: Annotated[str, typer.Argument(help="Assumption file with an 'uncertainty' section.")],
    n: Annotated[
        int | None,
        typer.Option("-n", "--draws", help="Number of paths (default: the file's).", metavar="N"),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option("--seed", help="Random seed (default: the file's).", metavar="SEED"),
    ] = None,
    sampler: Annotated[
        str | None,
        typer.Option("--sampler", help="lhs or random (default: the file's).", metavar="NAME"),
    ] = None,
    alpha: Annotated[
        float | None,
        typer.Option(
            "--alpha",
            help="Largest share of the drawn paths allowed below the buffer in any month "
            "(default: the file's, else 0.05).",
            metavar="SHARE",
        ),
    ] = None,
    validation_draws: Annotated[
        int | None,
        typer.Option(
            "--validation-draws",
            help="Independent paths the raise schedule is checked on (default: as -n).",
            metavar="N",
        ),
    ] = None,
    chunk: Annotated[
        int, typer.Option("--chunk", help="Paths per evaluated chunk.", metavar="N")
    ] = 5_000,
    out: Annotated[Path | None, _out_option("outputs/<file>-montecarlo.xlsx")] = None,
    no_workbook: Annotated[bool, typer.Option("--no-workbook", help="Do not write files.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Monte Carlo: metric distributions, the cash fan and a joint raise schedule.

    The raise schedule holds jointly over the months.

    Raise schedule: the cumulative amount R_t to have raised by month t such
    that, for every month t, at most a share alpha of the drawn paths fall
    below the cash buffer in ANY month up to t (cash with no new money + R <
    buffer). This holds exactly on the drawn paths, and R at the last month
    is the least that any such schedule can raise.

    Check: the run counts the paths that fall below the buffer under R on
    --validation-draws new, independent paths (plain random draws from a
    child of --seed) and prints that share with its exact 95% binomial
    interval. It carries the sampling error of both samples.

    Per-month quantile: each month's own (1 - alpha) quantile of the
    cumulative need, shown beside R. It is NOT a joint guarantee: more than
    alpha of the paths can fall below the buffer in some month; the output
    counts how many.

    Example: finmodel simulate hsbc-2025-11 -n 100000 --seed 7 --alpha 0.05
    """
    from rich.table import Table

    from finmodel.analysis.montecarlo import simulate as run_mc
    from finmodel.assumptions import load_with_meta
    from finmodel.errors import FinmodelError
    from finmodel.results import run_loaded

    if sampler is not None and sampler not in ("lhs", "random"):
        _fail(f"--sampler: expected lhs or random, got {sampler!r}")
    _one_output(out, no_workbook)
    loaded = None
    try:
        loaded = load_with_meta(file)
        if loaded.assumptions.uncertainty is None:
            _fail(f"{loaded.path}: expected an 'uncertainty' section to simulate")
        res = run_loaded(loaded)
        with _progress("simulating", disable=as_json) as progress:
            mc = run_mc(
                res.model,
                loaded.assumptions.uncertainty,
                n,
                seed,
                sampler,
                alpha,
                chunk,
                progress=progress,
                input_sha256=loaded.sha256,
                validation_draws=validation_draws,
            )
        written: list[Path] = []
        if not no_workbook:
            from finmodel.export import analysis_sheets as sheets
            from finmodel.export.workbook import output_set, write_workbook

            stem = loaded.path.stem if loaded.path else "scenario"
            unit = f"{res.model.currency} {res.model.unit}"
            with output_set():  # the workbook and the fan appear together or not at all
                wbpath = write_workbook(
                    [res],
                    _out_path(out, f"{stem}-montecarlo.xlsx"),
                    [sheets.montecarlo_sheet(mc, res.model.timeline.labels)],
                )
                written += [wbpath, sheets.fan_png(mc, _png_beside(wbpath, "fan", stem), unit)]
    except FinmodelError as e:
        _fail(_located(e, loaded))
    summary = mc.summary()
    cov = mc.coverage
    ends = [sl.stop - 1 for _, sl in res.model.timeline.year_slices()]
    if as_json:

        def count(c: Any, interval: bool) -> dict[str, Any]:
            d = {"breaches": c.breaches, "paths": c.paths, "rate": c.rate}
            return {**d, "ci95": list(c.interval(0.95))} if interval else d

        doc = {
            "manifest": mc.manifest,
            "metrics": {
                k: {c: (None if v != v else float(v)) for c, v in row.items()}
                for k, row in summary.iterrows()
            },
            "raise_schedule": {str(k): float(v) for k, v in mc.raise_schedule.items()},
            "raise_schedule_by_year": {
                str(y): {c: float(r[c]) for c in ("raise_by_year_end", "new_money_in_year")}
                for y, r in mc.raise_by_year.iterrows()
            },
            "need_quantile": {str(k): float(v) for k, v in mc.need_quantile.items()},
            "coverage": {
                "alpha": cov.alpha,
                "allowed_breaches": cov.allowed,
                "drawn": {
                    "raise_schedule": count(cov.drawn, False),
                    "need_quantile": count(cov.drawn_quantile, False),
                },
                "validation": {
                    "seed": cov.validation_seed,
                    "sampler": cov.validation_sampler,
                    "raise_schedule": count(cov.validation, True),
                    "need_quantile": count(cov.validation_quantile, True),
                },
            },
            "p_cash_out_by_year_end": {
                str(y): float(mc.p_cash_out.iloc[last])
                for y, last in zip(res.model.timeline.years, ends, strict=True)
            },
            "definitions": {
                "raise_schedule": "cumulative amount R_t to have raised by month t; on the "
                "drawn paths, for every t, at most alpha of them have cash with no new money "
                "+ R below the buffer in any month up to t (joint over the months)",
                "need_quantile": "per-month need quantile, not a joint guarantee: each "
                "month's own (1 - alpha) quantile of the paths' cumulative funding need",
                "coverage": "paths below the buffer in some month under each schedule, on the "
                "drawn paths and on an independent validation sample; ci95 is the exact "
                "(Clopper-Pearson) binomial interval",
            },
        }
        _print_json(doc)
        return
    con = _console()
    m = mc.manifest
    con.print(
        _styled(
            (res.model.scenario, "bold"),
            f": {m['draws']:,} paths, seed {m['seed']}, {m['sampler']}, {mc.seconds} s",
        )
    )
    t = Table(title="Metrics across paths", title_justify="left")
    t.add_column("metric")
    for c in ("mean", "p5", "p50", "p95", "never"):
        t.add_column(c, justify="right")
    from finmodel.analysis.metrics import format_metric, parse_metric

    for name, row in summary.iterrows():
        met = parse_metric(str(name), res.model)
        mean = float(row["mean"])
        if mean != mean:  # a date some paths never reach: no mean
            shown_mean = "-" if row["share_never"] > 0 else "never"
        else:
            shown_mean = format_metric(met, mean, res.model)
        t.add_row(
            str(name),
            shown_mean,
            *[format_metric(met, float(row[c]), res.model) for c in ("p5", "p50", "p95")],
            f"{row['share_never']:.0%}",
        )
    con.print(t)
    rs = Table(
        title=f"Raise schedule: at most {m['alpha']:.0%} of the drawn paths below the buffer in "
        "any month",
        title_justify="left",
    )
    for c in (
        "year",
        "raised by year end",
        "new money in year",
        "per-month quantile",
        "P(cash out by year end)",
    ):
        rs.add_column(c, justify="right")
    for (y, r), last in zip(mc.raise_by_year.iterrows(), ends, strict=True):
        rs.add_row(
            str(y),
            _fmt(float(r["raise_by_year_end"])),
            _fmt(float(r["new_money_in_year"])),
            _fmt(float(r["need_quantile_at_year_end"])),
            f"{float(mc.p_cash_out.iloc[last]):.1%}",
        )
    con.print(rs)
    bt = Table(
        title="Paths below the buffer in some month",
        title_justify="left",
        caption=f"Exact on the drawn paths. Validation: {cov.validation.paths:,} independent "
        f"paths, plain random draws from {cov.validation_seed}; 95% CI: exact binomial.",
        caption_justify="left",
    )
    for c in ("schedule", "drawn paths", "allowed", "validation paths", "95% CI"):
        bt.add_column(c, justify="left" if c == "schedule" else "right")
    for label, drawn, val, allowed in (
        ("raise schedule (joint)", cov.drawn, cov.validation, f"{cov.allowed:,}"),
        ("per-month quantile (not joint)", cov.drawn_quantile, cov.validation_quantile, ""),
    ):
        lo, hi = val.interval(0.95)
        bt.add_row(
            label,
            f"{drawn.breaches:,} ({drawn.rate:.2%})",
            allowed,
            f"{val.breaches:,} ({val.rate:.2%})",
            f"{lo:.2%} to {hi:.2%}",
        )
    con.print(bt)
    for w in written:
        typer.echo(f"wrote {w}")


@app.command()
def value(
    file: Annotated[str, typer.Argument(help="Assumption file with a 'valuation' section.")],
    implied: Annotated[
        float | None,
        typer.Option(
            "--implied",
            help="Reverse DCF: the equity value to explain (with --vary).",
            metavar="VALUE",
        ),
    ] = None,
    vary: Annotated[
        str | None,
        typer.Option(
            "--vary",
            help="Parameter path the reverse DCF solves for, e.g. revenue.scale.",
            metavar="PATH",
        ),
    ] = None,
    bracket: Annotated[
        str | None,
        typer.Option("--bracket", help="Values of --vary to search between.", metavar="LOW:HIGH"),
    ] = None,
    out: Annotated[Path | None, _out_option("outputs/<file>-valuation.xlsx")] = None,
    no_workbook: Annotated[bool, typer.Option("--no-workbook", help="Do not write files.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
    pricing: Annotated[str | None, PRICING_OPTION] = None,
) -> None:
    """DCF, cap table and dilution, investor returns, commitments, reverse DCF.

    Inflows by kind, every issue of new shares with the cap table and dilution, investor
    returns after liquidation preferences, commitments as obligations with their coverage,
    and a reverse DCF (exit code 1 when no value of --vary in the bracket explains
    --implied; the nearest values are printed).

    Example: finmodel value openai-plan-2026q1 --implied 730 --vary revenue.scale

    Example: finmodel value openai-plan-2025q3 --pricing raise_policy
    """
    from rich.table import Table

    from finmodel import valuation as val
    from finmodel.assumptions import load_with_meta
    from finmodel.errors import FinmodelError, TargetNotReachedError
    from finmodel.results import run_loaded, with_pricing

    if (implied is None) != (vary is None):
        _fail("--implied and --vary: expected both (the value to explain and what to solve for)")
    if implied is not None and not (0 < implied <= 1e15):
        _fail(
            f"--implied: expected a positive equity value of at most 1e15 (the file's unit), "
            f"got {implied:g}"
        )
    if bracket is not None and vary is None:
        _fail("--bracket: expected --implied and --vary with it (it bounds their search)")
    br = None if bracket is None else _range(bracket, "--bracket", "0:4", strict=True)
    _one_output(out, no_workbook)
    try:
        loaded = load_with_meta(file)
        if loaded.assumptions.valuation is None:
            _fail(f"{loaded.path}: expected a 'valuation' section to value")
        if pricing is not None:
            loaded = with_pricing(loaded, pricing)
        res = run_loaded(loaded)
        v = res.valuation()
        rate = val.fcf_irr(res)
        sol = None
        if implied is not None and vary is not None:
            from finmodel.analysis.solve import solve as goal_seek

            sol = goal_seek(res.model, "equity_value", implied, vary, br)
        written = None
        if not no_workbook:
            from finmodel.export.valuation_sheets import cap_table_sheet
            from finmodel.export.workbook import write_workbook

            stem = loaded.path.stem if loaded.path else "scenario"
            written = write_workbook(
                [res], _out_path(out, f"{stem}-valuation.xlsx"), [cap_table_sheet(v)]
            )
    except TargetNotReachedError as e:
        _no_solution(e)
    except FinmodelError as e:
        _fail(_located(e, names={"target": "--implied"}))
    d = v["dcf"]
    if as_json:
        doc = {
            "scenario": res.name,
            "input_sha256": loaded.sha256,
            **res.valuation_json(),
            "fcf_irr": {
                "value": rate.value,
                "roots": rate.roots,
                "touching": rate.touching,
                "reason": rate.reason,
                "sign_pattern": rate.pattern,
            },
        }
        if sol is not None:
            doc["reverse_dcf"] = {
                "path": sol.path,
                "op": sol.op,
                "value": sol.value,
                "equity_value": sol.achieved,
                "target": sol.target,
            }
        _print_json(doc)
        return
    con = _console()
    a = res.assumptions
    assert a.valuation is not None
    unit = f"{a.currency} {a.unit}"
    con.print(
        _styled(
            (res.name, "bold"),
            f": valued at the end of {a.valuation.date}, "
            f"{a.valuation.discount_rate.value:.1%} a year ({unit})",
        )
    )
    t = Table(title="DCF", show_header=False, title_justify="left")
    t.add_column("item")
    t.add_column("value", justify="right")
    for k, x in (
        ("PV of free cash flow", d.pv_free_cash_flow),
        ("Terminal value", d.terminal_value),
        ("PV of terminal value", d.pv_terminal_value),
        ("Enterprise value", d.enterprise_value),
        ("+ cash at the valuation date", d.cash),
        ("- debt", d.debt),
        ("Equity value", d.equity_value),
    ):
        t.add_row(k, _fmt(x))
    t.add_row("Terminal value share of EV", f"{d.terminal_share:.0%}")
    for k, x in d.multiples.items():
        t.add_row(k.replace("_", " "), f"{x:,.1f}x")
    t.add_row("IRR of FCF (terminal value in the last year)", str(rate))
    con.print(t)
    for w in d.warnings:
        con.print(_styled(("warning:", "yellow"), f" {w}"))
    inf = v["inflows"]
    if len(inf):
        it = Table(title="Inflows by kind (only equity dilutes)", title_justify="left")
        for col in ("inflow", "kind", "in horizon", "after valuation date", "treatment"):
            it.add_column(col, justify="right" if "horizon" in col or "after" in col else "left")
        for _, r in inf.iterrows():
            it.add_row(
                str(r["inflow"]),
                str(r["kind"]),
                _fmt(float(r["in_horizon"])),
                _fmt(float(r["after_valuation_date"])),
                str(r["treatment"]),
            )
        con.print(it)
    rounds = v["rounds"]
    if len(rounds):
        nt = Table(title="New shares after the valuation date", title_justify="left")
        for col in ("issue", "month", "amount", "pre-money", "post-money", "priced by"):
            left = col in ("issue", "month", "priced by")
            nt.add_column(col, justify="left" if left else "right")
        for _, r in rounds.iterrows():
            nt.add_row(
                str(r["round"]),
                str(r["month"]),
                _fmt(float(r["amount"])),
                _fmt(float(r["pre_money"])),
                _fmt(float(r["post_money"])),
                str(r["pricing"]),
            )
        con.print(nt)
    ct = v["cap_table"].T  # one row per issue, one column per holder
    c = Table(
        title=f"Cap table (dilution to the holders at the valuation date, by the horizon: "
        f"{v['dilution']:.1%})",
        title_justify="left",
    )
    c.add_column("ownership")
    for h in ct.columns:
        c.add_column(str(h), justify="right")
    for when, row in ct.iterrows():
        c.add_row(str(when), *[f"{x:.2%}" for x in row.to_numpy(dtype=float)])
    con.print(c)
    ret = v["returns"]
    if ret is not None and len(ret):
        ex = a.valuation.exit
        assert ex is not None
        rt = Table(
            title=f"Investor returns at an exit of {ex.value.value:,.0f} in {ex.date} "
            f"(preference {ret.attrs['terms']})",
            title_justify="left",
        )
        cols = ("class", "from", "paid in", "stake", "pref.", "gets", "takes")
        for col in (*cols, "multiple", "IRR"):
            rt.add_column(
                col,
                justify="left" if col in ("class", "from", "takes") else "right",
                no_wrap=col != "class",
                min_width=16 if col == "class" else None,
            )
        for _, r in ret.iterrows():
            irr_text = "n/a" if r["irr"] is None or r["irr"] != r["irr"] else f"{r['irr']:.1%}"
            rt.add_row(
                str(r["round"]),
                str(r["month"]),
                _fmt(float(r["amount"])),
                f"{float(r['stake_at_exit']):.2%}",
                _fmt(float(r["preference"])),
                _fmt(float(r["proceeds"])),
                str(r["takes"]),
                f"{float(r['multiple']):.2f}x",
                irr_text,
            )
        rt.add_row(
            f"Common: holders at {a.valuation.date}",
            "",
            "",
            f"{ret.attrs['common_stake']:.2%}",
            "",
            _fmt(float(ret.attrs["common_proceeds"])),
            "",
            "",
            "",
        )
        con.print(rt)
    com = v["commitments"]
    if len(com):
        at = com.attrs
        ot = Table(
            title=f"Take-or-pay commitments at {a.valuation.discount_rate.value:.0%}: "
            f"coverage {at['coverage']:.2f} over {at['window']} (PV of FCF before commitments "
            f"{at['pv_fcf_before_commitments']:,.1f} / PV of the payments due in those months "
            f"{at['pv_take_or_pay_in_horizon']:,.1f}); PV due after the horizon "
            f"{at['pv_take_or_pay_after_horizon']:,.1f}, not in the ratio",
            title_justify="left",
        )
        for col in (
            "counterparty",
            "contract value",
            "PV in horizon",
            "PV after horizon",
            "present value",
            "share",
        ):
            ot.add_column(col, justify="left" if col == "counterparty" else "right")
        for _, r in com.iterrows():
            ot.add_row(
                str(r["counterparty"]),
                _fmt(float(r["contract_value"])),
                _fmt(float(r["pv_in_horizon"])),
                _fmt(float(r["pv_after_horizon"])),
                _fmt(float(r["present_value"])),
                f"{float(r['share_of_pv']):.0%}",
            )
        con.print(ot)
    if sol is not None:
        con.print(
            f"Reverse DCF: {sol.path} ({sol.op}) = {sol.value:.6g} gives an equity value "
            f"of {sol.achieved:,.1f} (target {sol.target:,.1f})"
        )
    if written:
        typer.echo(f"wrote {written}")


@app.command()
def network(
    scenario: Annotated[str, typer.Argument(help="The modelled company's assumption file.")],
    network_file: Annotated[
        Path,
        typer.Option(
            "--network",
            help="Network file (parties, obligations, loans), or a shipped one by name.",
            metavar="FILE",
        ),
    ],
    shortfall: Annotated[
        float | None,
        typer.Option(
            "--shortfall",
            help="Shock: each year the company's means fall short of its scenario by this "
            "fraction of its take-or-pay obligations (default: none; the company pays from "
            "its scenario's cash until it runs out).",
            metavar="FRACTION",
        ),
    ] = None,
    draws: Annotated[
        int,
        typer.Option(
            "--draws",
            help="Also the distribution over this many Monte Carlo paths (0: none).",
            metavar="N",
        ),
    ] = 0,
    out: Annotated[Path | None, _out_option("outputs/<scenario>-network.xlsx")] = None,
    no_workbook: Annotated[bool, typer.Option("--no-workbook", help="Do not write files.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Who is exposed to the company, and the shortfall cascade through the network
    (Eisenberg-Noe clearing, year by year, each party's unspent cash carried forward).

    Example: finmodel network openai-plan-2026q1 --network network-2025 --shortfall 0.3
    """
    from rich.table import Table

    from finmodel import network as net_mod
    from finmodel.assumptions import load_with_meta
    from finmodel.errors import FinmodelError
    from finmodel.results import run_loaded

    if draws < 0:
        _fail(f"--draws: expected 0 or more, got {draws}")
    _one_output(out, no_workbook)
    try:
        loaded = load_with_meta(scenario)
        res = run_loaded(loaded)
        net, net_hash = net_mod.load_network(network_file, unit=res.assumptions.unit)
        g = net_mod.build_graph(res, net)
        exp = net_mod.exposures(g)
        cas = net_mod.cascade(g, g.base, shortfall)
        rep = net_mod.report(g, cas)
        mc = net_mod.monte_carlo_shortfalls(res, g, draws, fraction=shortfall) if draws else None
        manifest = {
            "scenario": res.name,
            "network": net.name,
            "scenario_sha256": loaded.sha256 or "",
            "network_sha256": net_hash,
            "shortfall": "none, the company pays from its scenario's cash"
            if shortfall is None
            else f"means short by {shortfall:.0%} of take-or-pay obligations each year",
            "draws": str(draws),
            "finmodel_version": res_version(),
        }
        written: list[Path] = []
        if not no_workbook:
            from finmodel.export.network_sheet import exposures_sheet
            from finmodel.export.workbook import output_set, write_workbook

            stem = loaded.path.stem if loaded.path else "scenario"
            with output_set():  # the workbook and the graph appear together or not at all
                wbpath = write_workbook(
                    [res],
                    _out_path(out, f"{stem}-network.xlsx"),
                    [exposures_sheet(g, exp, rep, mc, manifest)],
                )
                written += [
                    wbpath,
                    net_mod.network_png(g, rep, _png_beside(wbpath, "graph", stem)),
                ]
    except FinmodelError as e:
        _fail(_located(e))
    if as_json:
        doc = {
            "manifest": manifest,
            "total_loss": rep["total_loss"],
            "exposures": exp.to_dict(orient="index"),
            "parties": rep["parties"].to_dict(orient="index"),
            "loans": rep["loans"].to_dict(orient="records"),
            "by_year": rep["years"].to_dict(orient="index"),
            "cash_by_year": rep["cash"].to_dict(orient="index"),
        }
        if mc is not None:
            doc["monte_carlo"] = mc.to_dict(orient="index")
        _print_json(doc)
        return
    con = _console()
    yrs = rep["years"]
    con.print(
        _styled(
            (res.name, "bold"),
            " in ",
            (net.name, "bold"),
            f". Shock: {manifest['shortfall']}. "
            f"The company leaves {float(yrs['company_unpaid'].sum()):,.1f} unpaid.",
        )
    )
    t = Table(title="Exposure to the company over the horizon", title_justify="left")
    for c in (
        "party",
        "receives",
        "per year",
        "backlog",
        "share of revenue",
        "invests",
        "round trip",
    ):
        t.add_column(c, justify="left" if c == "party" else "right")
    for p, r in exp.iterrows():
        if r["receives_from_company"] == 0 and r["invests_in_company"] == 0:
            continue
        t.add_row(
            str(p),
            _fmt(float(r["receives_from_company"])),
            _fmt(float(r["per_year"])),
            _fmt(float(r["backlog"])),
            _pct(float(r["share_of_revenue"])),
            _fmt(float(r["invests_in_company"])),
            _pct(float(r["round_trip_share"])),
        )
    con.print(t)
    ct = Table(title=f"Cascade: total loss {rep['total_loss']:,.1f}", title_justify="left")
    for c in (
        "party",
        "owed",
        "paid",
        "not received",
        "cash start",
        "cash end",
        "meets obligations",
        "first default",
    ):
        ct.add_column(c, justify="left" if c == "party" else "right")
    for p, r in rep["parties"].iterrows():
        ct.add_row(
            str(p),
            _fmt(float(r["owed"])),
            _fmt(float(r["paid"])),
            _fmt(float(r["shortfall_received"])),
            _fmt(float(r["cash_start"])),
            _fmt(float(r["cash_end"])),
            "yes" if r["meets_own_obligations"] else _styled(("NO", "red")),
            r["first_default"] if isinstance(r["first_default"], str) else "",
        )
    con.print(ct)
    yt = Table(title="By year", title_justify="left")
    for c in ("year", "owed", "paid", "loss", "company unpaid", "company cash", "in default"):
        yt.add_column(c, justify="left" if c in ("year", "in default") else "right")
    for y, r in yrs.iterrows():
        yt.add_row(
            str(y),
            _fmt(float(r["owed"])),
            _fmt(float(r["paid"])),
            _fmt(float(r["loss"])),
            _fmt(float(r["company_unpaid"])),
            _fmt(float(r["company_cash_end"])),
            _styled((str(r["defaulted"]), "red")) if r["defaulted"] else "",
        )
    con.print(yt)
    if len(rep["loans"]):
        lt = Table(title="Secured loans", title_justify="left")
        for c in ("lender", "borrower", "amount", "secured on", "service lost", "impaired"):
            lt.add_column(c, justify="right" if c in ("amount", "service lost") else "left")
        for r in rep["loans"].to_dict(orient="records"):
            lt.add_row(
                r["lender"],
                r["borrower"],
                _fmt(float(r["amount"])),
                str(r["secured_on"]),
                _fmt(float(r["service_lost"])),
                _styled(("yes", "red")) if r["impaired"] else "no",
            )
        con.print(lt)
    if mc is not None:
        mt = Table(
            title=f"Shortfall received over {draws:,} Monte Carlo paths", title_justify="left"
        )
        for c in ("party", "mean", "p5", "p50", "p95", "P(any)", "P(default)"):
            mt.add_column(c, justify="left" if c == "party" else "right")
        for p, r in mc.iterrows():
            mt.add_row(
                str(p),
                *[_fmt(float(r[k])) for k in ("mean", "p5", "p50", "p95")],
                f"{r['p_any_shortfall']:.0%}",
                f"{r['p_default']:.0%}",
            )
        con.print(mt)
    for w in written:
        typer.echo(f"wrote {w}")


def main() -> None:
    """Console-script entry point (see :mod:`finmodel.console`): Ctrl-C or SIGTERM ends the
    run with exit code 130 and one line; temporary files are removed."""
    from finmodel.console import main as console_main

    console_main()
