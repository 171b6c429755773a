"""The live workbook: every line item rendered as Excel formulas from the model's definitions.

Sheets (per scenario): Summary, Inputs, Calc, Annual, Funding, Targets, Checks. Inputs hold
every scalar input with a defined name equal to its parameter path (dots as underscores);
Calc holds one formula per line item per month, rendered from the same expressions the
numpy engine evaluates; everything else refers to Calc or Inputs by formula. Text that came
from a file is always written as text, never as a formula. The file is written to a
temporary file beside the target and moved into place.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from finmodel import __version__
from finmodel.engine.expr import num
from finmodel.engine.model import CASH_TOL
from finmodel.errors import ExportError
from finmodel.limits import check_memory
from finmodel.targets import BALANCE_METRICS, YEAR_VALUED, parse_period
from finmodel.timeline import month_label

if TYPE_CHECKING:
    from finmodel.results import Results

MONEY = "#,##0.000;[Red]-#,##0.000"
RATE = "0.0%"
TOL = "1E-6"


def _col(i: int) -> str:
    from openpyxl.utils import get_column_letter

    return str(get_column_letter(i))


def safe_text(s: object) -> str:
    """Text from a file, made safe for a cell: control characters removed (tabs and newlines
    are kept), at most 32,767 characters (Excel's limit for a cell)."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return str(ILLEGAL_CHARACTERS_RE.sub("", str(s)))[:32767]


def put_text(ws: Any, ref: str, s: object) -> Any:
    """Write ``s`` as a text cell even if it starts with ``=`` (never a formula)."""
    c = ws[ref]
    text = safe_text(s)
    c.value = text
    c.data_type = "s"
    if text[:1] in ("=", "+", "-", "@"):
        c.number_format = "@"  # stays text even when someone edits the cell
    return c


def _fmt(item_id: str) -> str:
    if item_id in ("paying_share", "revenue_growth_rate") or item_id.startswith("share__"):
        return RATE
    if item_id in ("users", "below_buffer") or item_id.startswith("milestone__"):
        return "#,##0.00"
    return MONEY


@dataclass
class _Scenario:
    """Where things are in one scenario's sheets."""

    res: Results
    prefix: str  # sheet-name prefix ("" or "S1 ")
    name_prefix: str  # defined-name prefix ("" or "s1_")
    rows: dict[str, int] = field(default_factory=dict)  # Calc row per item
    annual_rows: dict[str, int] = field(default_factory=dict)
    summary: dict[str, str] = field(default_factory=dict)  # metric -> absolute ref

    def sheet(self, s: str) -> str:
        return f"{self.prefix}{s}"

    def q(self, s: str) -> str:
        n = self.sheet(s)
        return f"'{n}'" if " " in n else n

    # the Sheet protocol of finmodel.engine.expr, for the Calc sheet
    def cell(self, item: str, t: int) -> str:
        return f"{_col(3 + t)}{self.rows[item]}"

    def name(self, input_name: str) -> str:
        return excel_name(f"{self.name_prefix}{input_name}")


MAX_NAME = 255
"""Excel's limit on the length of a defined name."""


def excel_name(name: str) -> str:
    """``name`` as an Excel defined name: unchanged up to 255 characters; longer ones keep
    their first 246 characters and end with ``_`` and 8 hex digits of their SHA-256, so they
    stay unique and the same from run to run.

    >>> excel_name("opening_cash"), len(excel_name("x" * 300))
    ('opening_cash', 255)
    """
    if len(name) <= MAX_NAME:
        return name
    import hashlib

    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    return f"{name[: MAX_NAME - 9]}_{digest}"


BYTES_PER_CELL = 600
"""Memory openpyxl holds per cell of a workbook (the cell object, its style array, its
formula text and its slot in the sheet), rounded up: 520 to 560 bytes measured from the peak
resident memory of runs of 0.1 to 20 million cells (docs/methodology.md, Limits)."""

RESULTS_PER_EVALUATION = 3.5
"""A run's results (line items, the monthly table, checks) hold at most this many times the
bytes of one evaluation (:func:`finmodel.engine.evaluate.evaluation_bytes`); measured up to
2.9 times (docs/methodology.md, Limits)."""


@dataclass(frozen=True)
class SizedSheet:
    """A sheet writer (``write(workbook)``) that says how many cells it writes, so that the
    workbook's memory estimate counts it."""

    write: Callable[[Any], None]
    cells: int

    def __call__(self, wb: Any) -> None:
        self.write(wb)


def workbook_cells(res: Results) -> int:
    """Cells one scenario's sheets hold at most, from its shape (T months, Y years, I line
    items in S sections, K inputs): Calc ``(I + S + 1) x (T + 2)``; Annual
    ``(I + 3) x (Y + 2)``; Checks ``8 x (T + 2) + 8``; Inputs ``6 x (K + 1)``; Summary
    ``36 + 3 x Y``; Funding ``7 x (Y + 1)``; Targets ``8 x (targets + 1)``; and with a
    valuation, the Valuation sheet's 49 and the Cap table's tables (each ``(rows + 3) x
    (columns + 1)``)."""
    m = res.model
    T, Y, K = m.timeline.T, len(m.timeline.years), len(m.params)
    items = len(m.items)
    sections = sum(
        1 for i, it in enumerate(m.items) if i == 0 or it.section != m.items[i - 1].section
    )
    cells = (
        (items + sections + 1) * (T + 2)
        + (items + 3) * (Y + 2)
        + 8 * (T + 2)
        + 8
        + 6 * (K + 1)
        + 36
        + 3 * Y
        + 7 * (Y + 1)
        + 8 * (len(res.assumptions.targets) + 1)
    )
    if res.assumptions.valuation is not None:
        v = res.valuation()
        tables = [v[k] for k in ("inflows", "rounds", "cap_table", "returns", "commitments")]
        cells += 49 + sum((len(t) + 3) * (len(t.columns) + 1) for t in tables if t is not None)
    return cells


def workbook_memory(
    results: Sequence[Results], extra: Sequence[Callable[[Any], None]] = ()
) -> tuple[float, int]:
    """Bytes a run that writes a workbook holds at its peak, and the workbook's cells:
    ``sum over scenarios of RESULTS_PER_EVALUATION x evaluation_bytes + cells x
    BYTES_PER_CELL``, the cells being each scenario's :func:`workbook_cells` plus those of the
    analysis sheets in ``extra`` that declare them (:class:`SizedSheet`). Saving streams
    each sheet through a temporary file (:func:`save_reproducible`) and adds no term.

    >>> import finmodel
    >>> res = finmodel.run("bear")
    >>> need, cells = workbook_memory([res])
    >>> cells == workbook_cells(res) and need > cells * BYTES_PER_CELL
    True
    """
    from finmodel.engine.evaluate import evaluation_bytes

    cells = sum(workbook_cells(r) for r in results)
    cells += sum(int(getattr(add, "cells", 0)) for add in extra)
    held = sum(RESULTS_PER_EVALUATION * evaluation_bytes(r.model, 1) for r in results)
    return held + cells * BYTES_PER_CELL, cells


def write_workbook(
    results: Sequence[Results], path: Path, extra: Sequence[Callable[[Any], None]] = ()
) -> Path:
    """Write one scenario (a run) or several (a comparison) to ``path`` atomically.

    ``extra`` are functions that add sheets (analyses) after the scenario's own."""
    from openpyxl import Workbook

    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        raise ExportError(f"{path}: expected a workbook path ending in .xlsx, got {str(path)!r}")
    check_writable(path)
    need, cells = workbook_memory(results, extra)
    check_memory(
        need,
        str(path),
        f"{cells:,} cells",
        "model fewer months or line items, or pass --no-workbook",
    )
    wb = Workbook()
    wb.remove(wb.active)
    multi = len(results) > 1
    scen = [
        _Scenario(r, f"S{i + 1} " if multi else "", f"s{i + 1}_" if multi else "")
        for i, r in enumerate(results)
    ]
    if multi:
        wb.create_sheet("Compare")
    for s in scen:
        _write_scenario(wb, s)
    if multi:
        _write_compare(wb["Compare"], scen)
    for add in extra:
        add(wb)
    for ws in wb.worksheets:
        _print_setup(ws)
    write_atomic(path, lambda tmp: save_reproducible(wb, tmp))
    return path


ONE_PAGE = ("Summary", "Funding", "Valuation")


def _print_setup(ws: Any) -> None:
    """Landscape, one page wide (Summary, Funding and Valuation on one page), header row
    repeated on every printed page."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 1 if ws.title.endswith(ONE_PAGE) else 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = "1:1"


FIXED_TIME = "2000-01-01T00:00:00Z"


def save_reproducible(wb: Any, target: str | Path) -> None:
    """Save ``wb`` to ``target`` as bytes that depend only on its content: document
    timestamps fixed and every zip entry dated 1980-01-01, in the order openpyxl wrote them.

    openpyxl writes each sheet's XML through a temporary file; its package goes to another
    temporary file here, and each entry is copied from it in 1 MB blocks, so saving holds no
    whole sheet (nor the whole file) in memory."""
    import re
    import shutil
    import zipfile

    with tempfile.TemporaryFile() as raw:
        wb.save(raw)
        raw.seek(0)
        with (
            zipfile.ZipFile(raw) as src,
            zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst,
        ):
            for info in src.infolist():
                entry = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
                entry.compress_type = zipfile.ZIP_DEFLATED
                entry.external_attr = 0o600 << 16
                if info.filename == "docProps/core.xml":
                    data = re.sub(
                        rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(<)",
                        rb"\g<1>" + FIXED_TIME.encode() + rb"\g<2>",
                        src.read(info.filename),
                    )
                    dst.writestr(entry, data)
                    continue
                entry.file_size = info.file_size  # so that zipfile picks ZIP64 when needed
                with src.open(info) as r, dst.open(entry, "w") as w:
                    shutil.copyfileobj(r, w, 1 << 20)


def check_writable(path: Path) -> None:
    """Refuse, with the reason, a path that cannot take a new file: a missing folder, a folder
    that is a regular file, or a path that is itself a folder."""
    if path.is_dir():
        raise ExportError(f"{path}: expected a file path, got a folder")
    if not path.parent.is_dir():
        for up in path.parents:
            if up.exists() and not up.is_dir():
                raise ExportError(f"{path}: {up} is a file, not a folder")
        raise ExportError(f"{path}: the folder {path.parent} does not exist")


@dataclass
class _Staged:
    """Files written to temporary names, to be moved into place together."""

    moves: list[tuple[str, Path]] = field(default_factory=list)


_STAGING: list[_Staged] = []


@contextmanager
def output_set() -> Iterator[None]:
    """Make every :func:`write_atomic` inside the block part of one set: each file is written
    to a temporary name beside its target, and only when the block ends without an error are
    they all moved into place, in order, under an exclusive lock on each target folder (so two
    runs writing the same outputs at once leave one run's set, never a mix). On any error,
    Ctrl-C included, the temporary files are removed and no file of the set appears.

    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> try:
    ...     with output_set():
    ...         write_atomic(d / "a.txt", lambda t: Path(t).write_text("a"))
    ...         raise ValueError("the second file failed")
    ... except ValueError:
    ...     pass
    >>> sorted(p.name for p in d.iterdir())
    []
    """
    staged = _Staged()
    _STAGING.append(staged)
    try:
        yield
        _STAGING.pop()
        with _folder_locks(sorted({dst.parent for _, dst in staged.moves})):
            try:
                for tmp, dst in staged.moves:
                    os.replace(tmp, dst)
            except OSError as e:
                raise ExportError(f"{dst}: cannot write the file ({e.strerror or e})") from None
    finally:
        if _STAGING and _STAGING[-1] is staged:
            _STAGING.pop()
        for tmp, _ in staged.moves:
            Path(tmp).unlink(missing_ok=True)


@contextmanager
def _folder_locks(folders: Sequence[Path]) -> Iterator[None]:
    """Exclusive advisory locks (flock) on folders, taken in sorted order; a no-op where
    flock is not available (Windows)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    fds: list[int] = []
    try:
        for d in folders:
            fd = os.open(d, os.O_RDONLY)
            fds.append(fd)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        for fd in reversed(fds):
            os.close(fd)  # closing the descriptor releases its lock


def write_atomic(path: Path, save: Callable[[str], object]) -> None:
    """Call ``save(tmp)`` on a temporary file beside ``path``, then move it into place.

    An interrupted or failed write leaves the old file (or none), never a partial one.
    Inside :func:`output_set` the move waits for the set's other files.
    """
    check_writable(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise ExportError(f"{path}: cannot write the file ({e.strerror or e})") from None
    os.close(fd)
    staged = _STAGING[-1] if _STAGING else None
    keep = False
    try:
        save(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual file mode
        if staged is not None:
            staged.moves.append((tmp, path))
            keep = True
        else:
            os.replace(tmp, path)
    except OSError as e:
        raise ExportError(f"{path}: cannot write the file ({e.strerror or e})") from None
    finally:
        if not keep:
            Path(tmp).unlink(missing_ok=True)


class _Styles:
    def __init__(self) -> None:
        from openpyxl.styles import Alignment, Font, PatternFill

        self.bold = Font(bold=True)
        self.head = Font(bold=True, color="FFFFFF")
        self.head_fill = PatternFill("solid", fgColor="1F3864")
        self.input_font = Font(color="0000FF")
        self.input_fill = PatternFill("solid", fgColor="FFF2CC")
        self.section = Font(bold=True, italic=True, color="1F3864")
        self.wrap = Alignment(wrap_text=True, vertical="top")
        self.right = Alignment(horizontal="right")


def _header(ws: Any, st: _Styles, values: Sequence[object], row: int = 1) -> None:
    for j, v in enumerate(values, start=1):
        c = put_text(ws, f"{_col(j)}{row}", v)
        c.font, c.fill = st.head, st.head_fill


def _write_scenario(wb: Any, s: _Scenario) -> None:
    st = _Styles()
    for name in ("Summary", "Inputs", "Calc", "Annual", "Funding", "Targets", "Checks"):
        wb.create_sheet(s.sheet(name))
    _inputs(wb[s.sheet("Inputs")], wb, s, st)
    _calc(wb[s.sheet("Calc")], s, st)
    _annual(wb[s.sheet("Annual")], s, st)
    _summary(wb[s.sheet("Summary")], s, st)
    _funding(wb[s.sheet("Funding")], s, st)
    _targets(wb[s.sheet("Targets")], s, st)
    _checks(wb[s.sheet("Checks")], s, st)
    if s.res.assumptions.valuation is not None:
        from finmodel.export.valuation_sheets import fill

        _valuation(wb.create_sheet(s.sheet("Valuation")), s, st)
        fill(wb.create_sheet(s.sheet("Cap table")), s.res.valuation())


def _sum_of_inputs(s: _Scenario, names: Sequence[str]) -> str:
    """``=SUM(Inputs!$C$a:$C$b, ...)`` over the Inputs rows of the named inputs, one range per
    run of consecutive rows (a file's commitment amounts are one run): a formula of a few
    dozen characters however many inputs, where naming each (``=a+b+...``) passes Excel's
    8,192-character limit at a few hundred commitments.

    Rows follow :func:`_inputs`: parameter i (0-based) is on row i + 2."""
    if not names:
        return "=0"
    index = {s.name(p.name): i + 2 for i, p in enumerate(s.res.model.params)}
    rows = sorted(index[n] for n in names)
    runs: list[tuple[int, int]] = []
    for r in rows:
        if runs and r == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], r)
        else:
            runs.append((r, r))
    sheet = s.q("Inputs")
    parts = [f"{sheet}!$C${a}" if a == b else f"{sheet}!$C${a}:$C${b}" for a, b in runs]
    return f"=SUM({','.join(parts)})"


def _inputs(ws: Any, wb: Any, s: _Scenario, st: _Styles) -> None:
    from openpyxl.workbook.defined_name import DefinedName

    _header(ws, st, ["Parameter path", "Defined name", "Value", "Unit", "Source", "Note"])
    for i, p in enumerate(s.res.model.params, start=2):
        put_text(ws, f"A{i}", p.path)
        put_text(ws, f"B{i}", s.name(p.name))
        c = ws[f"C{i}"]
        c.value = p.value
        c.font, c.fill = st.input_font, st.input_fill
        c.number_format = RATE if p.unit == "rate" or p.unit.startswith("rate ") else "General"
        put_text(ws, f"D{i}", p.unit)
        if p.source:
            put_text(ws, f"E{i}", p.source)
        if p.note:
            put_text(ws, f"F{i}", p.note)
        ref = f"{s.q('Inputs')}!$C${i}"
        wb.defined_names[s.name(p.name)] = DefinedName(s.name(p.name), attr_text=ref)
    for col, width in zip("ABCDEF", (42, 42, 14, 22, 60, 60), strict=True):
        ws.column_dimensions[col].width = width
    ws.freeze_panes = "C2"


def _calc(ws: Any, s: _Scenario, st: _Styles) -> None:
    model = s.res.model
    labels = model.timeline.labels
    _header(ws, st, ["line item", "label", *labels])
    row, section = 2, None
    for it in model.items:
        if it.section != section:
            section = it.section
            put_text(ws, f"B{row}", section).font = st.section
            row += 1
        s.rows[it.id] = row
        row += 1
    for it in model.items:
        r = s.rows[it.id]
        put_text(ws, f"A{r}", it.id)
        put_text(ws, f"B{r}", f"{it.label} [{it.unit}]")
        fmt = _fmt(it.id)
        for t in range(len(labels)):
            c = ws.cell(row=r, column=3 + t, value="=" + it.expr.excel(s, t))
            c.number_format = fmt
    ws.column_dimensions["A"].width = 26
    ws.column_dimensions["B"].width = 64  # the label and its unit
    ws.freeze_panes = "C2"


def _calc_range(s: _Scenario, item: str, lo: int, hi: int) -> str:
    return f"{s.q('Calc')}!{s.cell(item, lo)}:{s.cell(item, hi)}"


def _annual(ws: Any, s: _Scenario, st: _Styles) -> None:
    model = s.res.model
    tl = model.timeline
    slices = tl.year_slices()
    _header(ws, st, ["line item", "label", *[str(y) for y, _ in slices]])
    rows: list[tuple[str, str, str]] = [(it.id, it.label, it.kind) for it in model.items]
    rows.append(("funding_gap", "Funding gap through year end (N at year end)", "gap"))
    rows.append(("free_cash_flow_positive", "Free cash flow positive (1 = yes)", "fcfpos"))
    for r, (id, label, kind) in enumerate(rows, start=2):
        s.annual_rows[id] = r
        put_text(ws, f"A{r}", id)
        put_text(ws, f"B{r}", label)
        for j, (_, sl) in enumerate(slices):
            lo, hi = sl.start, sl.stop - 1
            if kind in ("flow", "flag"):
                f = f"=SUM({_calc_range(s, id, lo, hi)})"
            elif kind == "balance":
                f = f"={s.q('Calc')}!{s.cell(id, hi)}"
            elif kind == "level":
                f = f"=AVERAGE({_calc_range(s, id, lo, hi)})"
            elif kind == "gap":
                f = f"={s.q('Calc')}!{s.cell('funding_need_cumulative', hi)}"
            else:
                f = f"=IF({_col(3 + j)}{s.annual_rows['free_cash_flow']}>0,1,0)"
            c = ws.cell(row=r, column=3 + j, value=f)
            c.number_format = _fmt(id) if kind not in ("fcfpos",) else "0"
    ws.column_dimensions["A"].width = 26
    ws.column_dimensions["B"].width = 44
    ws.freeze_panes = "C2"


def _aref(s: _Scenario, item: str, year: int) -> str:
    years = s.res.model.timeline.years
    return f"{s.q('Annual')}!${_col(3 + years.index(year))}${s.annual_rows[item]}"


def _summary(ws: Any, s: _Scenario, st: _Styles) -> None:
    res = s.res
    model = res.model
    T = model.timeline.T
    calc = s.q("Calc")
    last = _col(2 + T)
    # months after the as-of month (runway counts from it; -1: the opening balance date)
    a0 = _col(3 + model.as_of + 1) if model.as_of + 1 < T else None
    header = f"{calc}!${a0}$1:${last}$1"
    below = f"{calc}!${a0}${s.rows['below_buffer']}:${last}${s.rows['below_buffer']}"
    out_after = f'IFERROR(INDEX({header},1,MATCH(1,{below},0)),"never")' if a0 else '"never"'
    runway_after = f'IFERROR(MATCH(1,{below},0)-1,"never")' if a0 else '"never"'
    if model.as_of >= 0 and a0:  # seen from the as-of month, with the need until then raised
        r_n = s.rows["funding_need_cumulative"]
        n_a = f"{calc}!${_col(3 + model.as_of)}${r_n}"
        after = f"{calc}!${a0}${r_n}:${last}${r_n}"
        # N never decreases, so the months after a with N_t <= N_a are the runway
        runway = f'COUNTIF({after},"<="&({n_a}+{num(CASH_TOL)}))'
        left = T - model.as_of - 1
        runway_after = f'IF({runway}>={left},"never",{runway})'
        out_after = f'IF({runway}>={left},"never",INDEX({header},1,{runway}+1))'
    a = res.assumptions
    as_of = month_label(model.timeline.first + model.as_of)
    put_text(ws, "A1", f"{a.company}: {a.name}").font = st.bold
    info = [
        ("Horizon", f"{a.start} to {a.end} ({T} months)"),
        ("Money unit", f"{a.currency} {a.unit}"),
        ("finmodel version", __version__),
        ("Input file SHA-256", res.input_sha256 or "(assumptions passed in memory)"),
    ]
    r = 2
    for k, v in info:
        put_text(ws, f"A{r}", k)
        put_text(ws, f"B{r}", v)
        r += 1
    r += 1
    _header(ws, st, ["Metric", "Value", "Meaning"], row=r)
    amounts = [s.name(n) for ns in model.commitment_amounts.values() for n in ns]
    years = model.timeline.years
    fcf_pos = s.annual_rows["free_cash_flow_positive"]
    arow = f"{s.q('Annual')}!$C${fcf_pos}:${_col(2 + len(years))}${fcf_pos}"
    ahead = f"{s.q('Annual')}!$C$1:${_col(2 + len(years))}$1"
    metrics: list[tuple[str, str, str, str]] = [
        (
            "cash_out_month",
            f"={out_after}",
            f"first month after {as_of} in which cash falls below the buffer with no new "
            f"money beyond the need until {as_of}",
            "@",
        ),
        (
            "runway_months",
            f"={runway_after}",
            f"whole months of cash from the end of {as_of} before the cash-out month",
            "0",
        ),
        (
            "breakeven_year",
            f'=IFERROR(VALUE(INDEX({ahead},1,MATCH(1,{arow},0))),"never")',
            "first year with positive free cash flow",
            "0",
        ),
        (
            "trough_unfunded_cash",
            f"=MIN({calc}!$C${s.rows['cash_unfunded']}:${last}${s.rows['cash_unfunded']})",
            "lowest cash with no new money",
            MONEY,
        ),
        (
            "peak_funding_need",
            f"={calc}!${last}${s.rows['funding_need_cumulative']}",
            "new money needed through the horizon (N at the end)",
            MONEY,
        ),
        (
            "commitments_total",
            _sum_of_inputs(s, amounts),
            "contract value of every compute commitment",
            MONEY,
        ),
        (
            "stranded_compute_total",
            f"=SUM({calc}!$C${s.rows['stranded_compute']}:${last}${s.rows['stranded_compute']})",
            "committed compute paid but not needed",
            MONEY,
        ),
        ("min_cash", f"={s.name('funding_min_cash')}", "minimum cash buffer", MONEY),
    ]
    for y in years:
        metrics.append(
            (
                f"funding_gap_{y}",
                f"={_aref(s, 'funding_gap', y)}",
                f"funding gap through {y} (N at the end of {y})",
                MONEY,
            )
        )
    for i, (name, f, meaning, fmt) in enumerate(metrics, start=r + 1):
        put_text(ws, f"A{i}", name)
        c = ws.cell(row=i, column=2, value=f)
        c.number_format = fmt
        c.alignment = st.right  # "never" and months line up with the numbers
        put_text(ws, f"C{i}", meaning)
        s.summary[name] = f"{s.q('Summary')}!$B${i}"
    ws.column_dimensions["A"].width = 28
    ws.column_dimensions["B"].width = 18
    ws.column_dimensions["C"].width = 64


def _funding(ws: Any, s: _Scenario, st: _Styles) -> None:
    from openpyxl.chart import BarChart, LineChart, Reference

    model = s.res.model
    years = model.timeline.years
    cols = [
        ("funding_need", "New funding needed"),
        ("funding_gap", "Funding gap (cumulative)"),
        ("free_cash_flow", "Free cash flow"),
        ("committed_inflows", "Committed inflows"),
        ("cash_unfunded", "Cash, no new money (year end)"),
        ("cash", "Cash, need raised (year end)"),
    ]
    _header(ws, st, ["Year", *[c[1] for c in cols]])
    for i, y in enumerate(years, start=2):
        ws.cell(row=i, column=1, value=y)
        for j, (item, _) in enumerate(cols, start=2):
            c = ws.cell(row=i, column=j, value=f"={_aref(s, item, y)}")
            c.number_format = MONEY
    n = len(years)
    bar = BarChart()
    bar.title = "Funding need by year"
    bar.y_axis.title = f"{model.currency} {model.unit}"
    bar.add_data(Reference(ws, min_col=2, min_row=1, max_row=n + 1), titles_from_data=True)
    bar.set_categories(Reference(ws, min_col=1, min_row=2, max_row=n + 1))
    bar.height, bar.width = 8, 16
    ws.add_chart(bar, f"A{n + 4}")
    calc = s.res.model.timeline
    ws_calc = ws.parent[s.sheet("Calc")]
    line = LineChart()
    line.title = "Cash by month: no new money vs need raised"
    line.y_axis.title = f"{model.currency} {model.unit}"
    for item in ("cash_unfunded", "cash"):
        r = s.rows[item]
        line.add_data(
            Reference(ws_calc, min_col=2, max_col=2 + calc.T, min_row=r),
            from_rows=True,
            titles_from_data=True,
        )
    line.set_categories(Reference(ws_calc, min_col=3, max_col=2 + calc.T, min_row=1))
    line.height, line.width = 8, 24
    line.x_axis.tickLblPos = "low"  # month labels below the plot, not on the zero line
    for chart in (bar, line):
        chart.y_axis.number_format = "#,##0"
    ws.add_chart(line, f"A{n + 22}")
    for j in range(1, len(cols) + 2):
        ws.column_dimensions[_col(j)].width = 18
        ws.cell(row=1, column=j).alignment = st.wrap
    ws.row_dimensions[1].height = 32
    ws.freeze_panes = "B2"


def _targets(ws: Any, s: _Scenario, st: _Styles) -> None:
    _header(
        ws,
        st,
        [
            "Metric",
            "Period",
            "Published",
            "Model",
            "Difference",
            "Tolerance",
            "Within tolerance",
            "Source",
        ],
    )
    years = s.res.model.timeline.years
    for i, t in enumerate(s.res.assumptions.targets, start=2):
        put_text(ws, f"A{i}", t.metric)
        if t.period is not None:
            put_text(ws, f"B{i}", t.period)
        ws[f"C{i}"] = float(t.value)
        span = parse_period(t.period) or (years[0], years[-1])
        if t.metric in s.summary:
            model_f = f"={s.summary[t.metric]}"
        elif t.metric in BALANCE_METRICS:
            model_f = f"={_aref(s, t.metric, span[1])}"
        else:
            model_f = (
                f"=SUM({_aref(s, t.metric, span[0])}:{_aref(s, t.metric, span[1]).split('!')[1]})"
            )
        ws[f"D{i}"] = model_f
        ws[f"E{i}"] = f'=IFERROR(D{i}-C{i},"n/a")'
        ws[f"F{i}"] = float(t.tolerance)
        if t.metric in YEAR_VALUED:
            ws[f"G{i}"] = f"=IFERROR(ABS(D{i}-C{i})<=F{i},FALSE)"
        else:
            ws[f"G{i}"] = f"=IFERROR(ABS(D{i}-C{i})<=F{i}*ABS(C{i})+1E-12,FALSE)"
            ws[f"F{i}"].number_format = RATE
        for col in "CDE":
            ws[f"{col}{i}"].number_format = "0" if t.metric in YEAR_VALUED else MONEY
        if t.source:
            put_text(ws, f"H{i}", t.source)
    for col, w in zip("ABCDEFGH", (26, 12, 12, 12, 12, 10, 16, 70), strict=True):
        ws.column_dimensions[col].width = w
    ws.freeze_panes = "A2"


def _checks(ws: Any, s: _Scenario, st: _Styles) -> None:
    """Identities recomputed a second way; each row's residual must be ~0 in every month."""
    T = s.res.model.timeline.T
    labels = s.res.model.timeline.labels
    _header(ws, st, ["Check", "TRUE if it holds", *labels])
    calc = s.q("Calc")

    def c(item: str, t: int) -> str:
        return f"{calc}!{s.cell(item, t)}"

    def cum(item: str, t: int) -> str:
        r = s.rows[item]
        return f"SUM({calc}!$C${r}:{_col(3 + t)}${r})"

    opening, min_cash = s.name("opening_cash"), s.name("funding_min_cash")
    losses, limit = s.name("opening_tax_losses"), s.name("costs_loss_offset_limit")
    checks: dict[str, Callable[[int], str]] = {
        "cash roll-forward": lambda t: (
            f"={c('cash_unfunded', t)}-({opening if t == 0 else c('cash_unfunded', t - 1)}"
            f"+{c('free_cash_flow', t)}+{c('committed_inflows', t)}+{c('facility_draws', t)}"
            f"-{c('interest', t)})"
        ),
        "sources = uses (cumulative)": lambda t: (
            f"={opening}+{cum('revenue', t)}+{cum('committed_inflows', t)}"
            f"+{cum('facility_draws', t)}"
            f"+{c('funding_need_cumulative', t)}-{cum('cash_costs', t)}-{cum('tax', t)}"
            f"-{cum('capex', t)}-{cum('interest', t)}-{c('cash', t)}"
        ),
        "funded cash at or above the buffer": lambda t: f"=MIN(0,{c('cash', t)}-{min_cash})",
        "funding need never decreases": lambda t: (
            f"=MIN(0,{c('funding_need_cumulative', t)}"
            f"-{'0' if t == 0 else c('funding_need_cumulative', t - 1)})"
        ),
        "compute cost = max(need, committed)": lambda t: (
            f"={c('compute_cost', t)}-MAX({c('compute_need', t)},{c('committed_payments', t)})"
        ),
        "tax losses roll-forward": lambda t: (
            f"={c('tax_losses_eop', t)}-({losses if t == 0 else c('tax_losses_eop', t - 1)}"
            f"+MAX(0,-{c('pretax_income', t)})-{c('tax_losses_used_year', t)}"
            f"-{c('tax_losses_used_prior', t)})"
        ),
        "earlier losses used within the limit": lambda t: (
            f"=MIN(0,{limit}*({c('pretax_profit', t)}-{c('tax_losses_used_year', t)})"
            f"-{c('tax_losses_used_prior', t)})"
        ),
    }
    r = 2
    for name, fn in checks.items():
        put_text(ws, f"A{r}", name)
        for t in range(T):
            ws.cell(row=r, column=3 + t, value=fn(t)).number_format = "0.0E+0"
        rng = f"C{r}:{_col(2 + T)}{r}"
        ws[f"B{r}"] = f"=AND(MAX({rng})<={TOL},MIN({rng})>=-{TOL})"
        r += 1
    years = s.res.model.timeline.years
    for item in ("revenue", "free_cash_flow", "funding_need"):
        put_text(ws, f"A{r}", f"annual = sum of months: {item}")
        ar = s.annual_rows[item]
        ws[f"B{r}"] = (
            f"=ABS(SUM({s.q('Annual')}!C{ar}:{_col(2 + len(years))}{ar})"
            f"-SUM({calc}!C{s.rows[item]}:{_col(2 + T)}{s.rows[item]}))<={TOL}"
        )
        r += 1
    put_text(ws, f"A{r}", "ALL CHECKS").font = st.bold
    ws[f"B{r}"] = f"=AND(B2:B{r - 1})"
    ws[f"B{r}"].font = st.bold
    s.summary["all_checks"] = f"{s.q('Checks')}!$B${r}"
    ws.column_dimensions["A"].width = 40
    ws.column_dimensions["B"].width = 16
    ws.freeze_panes = "C2"


def _valuation(ws: Any, s: _Scenario, st: _Styles) -> None:
    """The DCF by formula: sums of the Calc sheet's present-value rows, cash and debt at the
    valuation date, equity value, the terminal value's share and implied multiples."""
    v = s.res.assumptions.valuation
    assert v is not None
    model = s.res.model
    T = model.timeline.T
    d = model.timeline.index_of(v.date)
    calc = s.q("Calc")

    def row_sum(item: str, lo: int = 0, hi: int = T - 1) -> str:
        return f"SUM({calc}!{s.cell(item, lo)}:{s.cell(item, hi)})"

    put_text(ws, "A1", f"DCF of {s.res.name}, valued at the end of {v.date}").font = st.bold
    debt = s.name("opening_debt") if d < 0 else f"{calc}!{s.cell('debt', d)}"
    cash = s.name("opening_cash") if d < 0 else f"{calc}!{s.cell('cash_unfunded', d)}"
    window = f"{model.timeline.labels[d + 1]}..{model.timeline.labels[-1]}"
    first = 3  # rows below the header; each item's cell is B<first + position>
    names = [
        "discount_rate",
        "pv_free_cash_flow",
        "terminal_value",
        "pv_terminal_value",
        "enterprise_value",
        "cash",
        "debt",
        "equity_value",
        "terminal_share",
        "ev_to_next_12m_revenue",
        "ev_to_final_12m_revenue",
        "warning",
        "pv_fcf_before_commitments",
        "pv_take_or_pay_in_horizon",
        "commitment_coverage",
    ]
    at = {n: f"B{first + k}" for k, n in enumerate(names)}
    ntm = row_sum("revenue", d + 1, min(T - 1, d + 12))
    rows = [
        (f"={s.name('valuation_discount_rate')}", RATE, "annual discount rate (Inputs)"),
        (f"={row_sum('pv_free_cash_flow')}", MONEY, "sum of the Calc row pv_free_cash_flow"),
        (f"={calc}!{s.cell('terminal_value', T - 1)}", MONEY, "at the end of the horizon (Calc)"),
        (f"={row_sum('pv_terminal_value')}", MONEY, "discounted to the valuation date (Calc)"),
        (
            f"={at['pv_free_cash_flow']}+{at['pv_terminal_value']}",
            MONEY,
            "PV of free cash flow + PV of terminal value",
        ),
        (f"={cash}", MONEY, "cash at the valuation date (no new money)"),
        (f"={debt}", MONEY, "opening debt + facilities drawn + loans at the valuation date"),
        (
            f"={at['enterprise_value']}+{at['cash']}-{at['debt']}",
            MONEY,
            "enterprise value + cash - debt",
        ),
        (
            f'=IFERROR({at["pv_terminal_value"]}/{at["enterprise_value"]},"n/a")',
            RATE,
            "PV of terminal value / enterprise value",
        ),
        (
            f'=IFERROR({at["enterprise_value"]}/{ntm},"n/a")',
            '0.0"x"',
            "EV / revenue of the 12 months after the valuation date",
        ),
        (
            f'=IFERROR({at["enterprise_value"]}/{calc}!{s.cell("ltm_revenue", T - 1)},"n/a")',
            '0.0"x"',
            "EV / revenue of the horizon's last 12 months",
        ),
        (
            f"=IF(AND(ISNUMBER({at['terminal_share']}),{at['terminal_share']}>0.75),"
            '"terminal value above 75% of EV","")',
            "@",
            "a valuation that rests on years beyond the horizon",
        ),
        (
            f"={row_sum('pv_fcf_before_commitments')}",
            MONEY,
            f"PV of free cash flow + take-or-pay payments, {window} (Calc)",
        ),
        (
            f"={row_sum('pv_take_or_pay')}",
            MONEY,
            f"PV of take-or-pay payments over the same months, {window} (Calc)",
        ),
        (
            f'=IFERROR({at["pv_fcf_before_commitments"]}/{at["pv_take_or_pay_in_horizon"]},"n/a")',
            "0.00",
            f"coverage over one window ({window}): the two rows above divided",
        ),
    ]
    _header(ws, st, ["Item", "Value", "Meaning"], row=first - 1)
    for k, (name, (f, fmt, meaning)) in enumerate(zip(names, rows, strict=True)):
        r = first + k
        put_text(ws, f"A{r}", name)
        ws.cell(row=r, column=2, value=f).number_format = fmt
        put_text(ws, f"C{r}", meaning)
        key = name if name == "equity_value" else f"valuation_{name}"
        s.summary[key] = f"{s.q('Valuation')}!$B${r}"
    ws.column_dimensions["A"].width = 28
    ws.column_dimensions["B"].width = 18
    ws.column_dimensions["C"].width = 64


def _write_compare(ws: Any, scen: list[_Scenario]) -> None:
    st = _Styles()
    _header(ws, st, ["Metric", *[f"S{i + 1}: {s.res.name}" for i, s in enumerate(scen)]])
    names = list(dict.fromkeys(k for s in scen for k in s.summary))
    for r, name in enumerate(names, start=2):
        put_text(ws, f"A{r}", name)
        for j, s in enumerate(scen, start=2):
            if name in s.summary:
                c = ws.cell(row=r, column=j, value=f"={s.summary[name]}")
                money = "gap" in name or ("cash" in name and "month" not in name)
                c.number_format = MONEY if money else "General"
    ws.column_dimensions["A"].width = 28
    for j in range(2, len(scen) + 2):
        ws.column_dimensions[_col(j)].width = 28
    ws.freeze_panes = "B2"
