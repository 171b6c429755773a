"""Read assumption files: safe YAML, ``extends:`` overlays, located errors.

Every problem becomes one :class:`~finmodel.errors.AssumptionError` whose lines read
``file:line: field.path: expected ..., got ...``.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import shlex
import types
import typing
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import PydanticUndefined

from finmodel.assumptions.schema import (
    Assumptions,
    Frozen,
    _kind,
    char_name,
    decimals_hint,
    number_hint,
    slug,
    yaml_repr,
)
from finmodel.errors import ArgumentTypeError, AssumptionError
from finmodel.timeline import month_label, parse_period_key

Key = str | int
Loc = tuple[Key, ...]
LIST_ID_FIELDS = ("name", "counterparty")
MAX_EXTENDS_DEPTH = 16
MAX_BYTES = 5_000_000
"""An assumption file larger than this is refused before it is parsed."""
MAX_VALUES = 200_000
"""At most this many values in a file, and once YAML aliases are expanded (a "billion
laughs" bomb expands a few hundred bytes into billions of values)."""
_INT_KEY = TypeAdapter(int)
"""How the schema reads a text key of a mapping keyed by years (``'2026'`` is 2026)."""
MAX_DEPTH = 64
"""At most this many levels of nesting (real files use fewer than ten)."""

_INT = re.compile(r"^(?:[-+]?[0-9]+(?:_[0-9]+)*|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT = re.compile(
    r"^(?:[-+]?(?:[0-9]+(?:_[0-9]+)*(?:\.(?:[0-9]+(?:_[0-9]+)*)?)?|\.[0-9]+(?:_[0-9]+)*)"
    r"(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_BOOL_TAG = "tag:yaml.org,2002:bool"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_DROPPED_TAGS = ("timestamp", "binary", "set", "omap", "pairs")


class _Rules:
    """The safe loader's rules with YAML 1.2's numbers: ``5e1``, ``1e3`` and ``-2.5E-3`` are numbers
    (YAML 1.1 wants a dot and a signed exponent, and reads them as text), ``010`` is ten
    (not octal eight), ``0x10`` and ``0o10`` are hexadecimal and octal, ``1_000`` is a
    thousand, ``.5`` a half, ``.inf`` and ``.nan`` the non-finite floats (refused where a
    number is expected); ``1:30`` is text, not the sexagesimal 90. Only ``true`` and
    ``false`` are booleans (``name: No``, a company called ``On``, is text). Dates are text
    (``2027-01-15``: a month field says a month is written ``2027-01``), and the tags that
    build other Python types (``!!binary``, ``!!set``, ``!!timestamp``, ...) are refused."""

    def construct_number(self, node: yaml.Node) -> int | float:
        """An int or a float as the resolver above reads it (also for ``!!int``/``!!float``)."""
        scalar = yaml.constructor.SafeConstructor.construct_scalar
        text = str(scalar(self, node))  # type: ignore[arg-type]
        if node.tag == _INT_TAG:
            if _INT.match(text):
                digits = text.replace("_", "")
                if digits.startswith(("0x", "0o")):
                    return int(digits[2:], 16 if digits[1] == "x" else 8)
                return int(digits, 10)
        elif _FLOAT.match(text):
            low = text.replace("_", "").lower()
            if low.lstrip("+-") in (".inf", ".nan"):
                return float(low.replace(".", ""))
            return float(low)
        what = "a whole number" if node.tag == _INT_TAG else "a number"
        raise yaml.constructor.ConstructorError(
            None, None, f"expected {what}, got the text {text!r}", node.start_mark
        )


class _Loader(_Rules, yaml.SafeLoader):
    """:class:`_Rules` on PyYAML's pure-Python parser (used without libyaml)."""


_CSafe: Any = getattr(yaml, "CSafeLoader", None)
"""libyaml's parser (the C extension PyYAML is normally built with), about 20 times
faster than the pure-Python one: a file near the size limit is parsed, or refused, in a
second or two rather than minutes."""


class _CLoader(_Rules, _CSafe or yaml.SafeLoader):  # type: ignore[misc]
    """:class:`_Rules` on libyaml's parser (:data:`_CSafe`), when it is installed."""


_Loader.yaml_implicit_resolvers = {
    first: [
        r
        for r in rules
        if r[0] not in (_BOOL_TAG, _INT_TAG, _FLOAT_TAG, "tag:yaml.org,2002:timestamp")
    ]
    for first, rules in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.yaml_constructors = {
    tag: f
    for tag, f in yaml.SafeLoader.yaml_constructors.items()
    if not (isinstance(tag, str) and tag.rsplit(":", 1)[-1] in _DROPPED_TAGS)
}
for _first in "-+0123456789":
    _Loader.yaml_implicit_resolvers.setdefault(_first, []).insert(0, (_FLOAT_TAG, _FLOAT))
    _Loader.yaml_implicit_resolvers[_first].insert(0, (_INT_TAG, _INT))
_Loader.yaml_implicit_resolvers.setdefault(".", []).insert(0, (_FLOAT_TAG, _FLOAT))
for _first in "tTfF":
    _Loader.yaml_implicit_resolvers.setdefault(_first, []).insert(0, (_BOOL_TAG, _BOOL))
_Loader.yaml_constructors[_INT_TAG] = _Rules.construct_number
_Loader.yaml_constructors[_FLOAT_TAG] = _Rules.construct_number
_CLoader.yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers
_CLoader.yaml_constructors = _Loader.yaml_constructors
_PARSER: type[Any] = _CLoader if _CSafe is not None else _Loader
"""The loader :func:`_parse` uses: libyaml's when installed, else PyYAML's own."""

_NON_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
"""What the YAML reader refuses: control characters but tab and line breaks, and the
noncharacters U+FFFE and U+FFFF (the same class as PyYAML's reader)."""
_LINE_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")
"""Line breaks as the YAML reader counts them."""


@dataclass
class Document:
    """A merged assumption tree with where each field was written."""

    data: dict[str, Any]
    lines: dict[Loc, tuple[str, int]] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    restarted: dict[Loc, tuple[str, Any, Any]] = field(default_factory=dict)
    """Fields of a parent that an overlay dropped by changing a mapping's kind (a
    distribution's ``dist``), each with ``(kind field, old kind, new kind)``: located at the
    overlay's kind field, so that a field the new kind still needs is the overlay's to add."""

    def where(self, loc: Loc) -> tuple[str, int | None]:
        """File and line of the deepest located prefix of ``loc``."""
        for n in range(len(loc), -1, -1):
            hit = self.lines.get(loc[:n])
            if hit is not None:
                return hit
        return (str(self.files[-1]) if self.files else "<input>", None)


@dataclass(frozen=True)
class Loaded:
    """A validated scenario and the facts about where it came from."""

    assumptions: Assumptions
    path: Path | None
    sha256: str | None  # None for assumptions built in memory
    files: tuple[Path, ...]
    document: Document | None = None  # where each field was written, to locate later errors


def located_field(doc: Document | None, loc: Loc) -> str:
    """``file:line: field.path`` of a validated location as the file wrote it (an investor
    written ``{Fund: 6}`` is ``investors.Fund``); the field path alone without a document
    (assumptions built in memory)."""
    if doc is None:
        return _dotted(loc)
    loc = _as_written(doc.data, loc)
    f, line = doc.where(loc)
    return f"{f}:{line}: {_dotted(loc)}" if line else f"{f}: {_dotted(loc)}"


def load(path: str | PathLike[str]) -> Assumptions:
    """Load and validate an assumption file (following ``extends:``).

    >>> a = load(shipped_path("openai-plan-2025q3"))
    >>> a.start, a.unit
    ('2025-01', 'billion')
    """
    return load_with_meta(path).assumptions


def load_with_meta(path: str | PathLike[str]) -> Loaded:
    """Like :func:`load`, plus the input hash (SHA-256 over every file read, in order)."""
    if not isinstance(path, str | PathLike):
        raise ArgumentTypeError(
            "path",
            f"expected a file path or a shipped scenario's name, got {type(path).__name__}",
        )
    p = resolve(path)
    doc = read_document(p)
    if is_network(doc):
        top, line = doc.where(())
        _, at = doc.where(("parties",))
        name = shipped_name(p) or str(path)
        raise AssumptionError(
            f"{top}:{line}: expected a scenario (with start:, opening: and revenue:), got a "
            f"network file (it lists parties:, line {at}): use it as `finmodel network "
            f"SCENARIO --network {shlex.quote(name)}`"
        )
    a = validate(doc, shown=str(path))
    _check_paths(doc, a)
    h = hashlib.sha256()
    for f in doc.files:
        h.update(f.read_bytes())
    return Loaded(a, p, h.hexdigest(), tuple(doc.files), doc)


def shipped_dir() -> Path:
    """Folder of the shipped scenarios (installed copy, else the source tree's)."""
    here = Path(__file__).resolve().parent.parent
    for cand in (here / "scenarios", here.parent / "assumptions"):
        if cand.is_dir():
            return cand
    raise AssumptionError("the shipped scenarios are missing from this installation")


def shipped_name(path: Path) -> str | None:
    """The name a file is shipped under (``hsbc-2025-11``), if it is a shipped file: one in
    the shipped folder, or a copy with the same bytes (the source tree's ``assumptions/``
    when the package is installed), so that messages can suggest the short name."""
    try:
        twin = shipped_dir() / path.name
        if path.resolve() == twin.resolve() or path.read_bytes() == twin.read_bytes():
            return path.stem
    except (OSError, AssumptionError):
        pass
    return None


def shipped_path(name: str) -> Path:
    """Path of a shipped scenario by name (``hsbc-2025-11`` or ``hsbc-2025-11.yaml``)."""
    stem = name[:-5] if name.endswith(".yaml") else name
    return shipped_dir() / f"{stem}.yaml"


def is_network(doc: Document) -> bool:
    """A network file (``parties:`` and no ``revenue:``), not a scenario."""
    return "parties" in doc.data and "revenue" not in doc.data


def is_scenario(doc: Document) -> bool:
    """A scenario (``revenue:`` and no ``parties:``), not a network file."""
    return "revenue" in doc.data and "parties" not in doc.data


def yaml_entry(key: str, value: str, indent: str = "  ") -> str:
    """One line of a YAML mapping, ``key: value``, quoted where YAML needs it (a key
    with ``: `` or ``#``, or one YAML would read as a number or a boolean).

    >>> yaml_entry("Cloud Co", "Oracle"), yaml_entry("yes", "A: B")
    ('  Cloud Co: Oracle', "  'yes': 'A: B'")
    """
    text = yaml.safe_dump({key: value}, allow_unicode=True, width=10**9, default_flow_style=False)
    return indent + text.strip()


def shipped_networks() -> list[str]:
    """Names of the shipped network files (``network-2025``)."""
    return sorted(p.stem for p in shipped_dir().glob(f"{NETWORK_PREFIX}*.yaml"))


NETWORK_PREFIX = "network-"
"""Shipped files named network-*.yaml describe networks of parties, not scenarios."""


def shipped_names() -> list[str]:
    """Names of the shipped scenarios (network files excluded)."""
    return sorted(
        p.stem for p in shipped_dir().glob("*.yaml") if not p.name.startswith(NETWORK_PREFIX)
    )


def resolve(path: str | PathLike[str]) -> Path:
    """An existing file path, or a shipped scenario's name; else a clear error."""
    p = Path(path)
    if p.is_file():
        return p
    if p.is_dir():
        raise AssumptionError(f"{p}: expected an assumption file, got a directory")
    if p.exists():  # a FIFO, a socket or a device: reading it could block or never end
        raise AssumptionError(f"{p}: expected an assumption file, got a special file")
    if len(p.parts) == 1:
        s = shipped_path(p.name)
        if s.is_file():
            return s
    names = ", ".join(shipped_names())
    raise AssumptionError(f"{p}: no such file (shipped scenarios: {names})")


def read_document(path: Path, _stack: tuple[Path, ...] = ()) -> Document:
    """Parse ``path`` and its ``extends:`` parents into one merged document."""
    real = path.resolve()
    if len(_stack) >= MAX_EXTENDS_DEPTH:
        raise AssumptionError(f"{path}:1: extends: expected at most {MAX_EXTENDS_DEPTH} levels")
    data, lines = _parse(path)
    parent = data.pop("extends", None)
    if parent is None:
        return Document(data, lines, [path])
    where = lines.get(("extends",), (str(path), 1))
    if not isinstance(parent, str):
        raise AssumptionError(
            f"{where[0]}:{where[1]}: extends: expected a file name, got {_kind(parent)}"
        )
    ppath = path.parent / parent
    if not ppath.is_file() and len(Path(parent).parts) == 1 and shipped_path(parent).is_file():
        ppath = shipped_path(parent)  # a shipped scenario's name, from anywhere
    if ppath.resolve() in (*_stack, real):
        chain = " -> ".join(s.name for s in (*_stack, real, ppath.resolve()))
        raise AssumptionError(f"{where[0]}:{where[1]}: extends: expected no cycle, got {chain}")
    if not ppath.is_file():
        raise AssumptionError(
            f"{where[0]}:{where[1]}: extends: expected an existing file or a shipped "
            f"scenario's name, got {parent!r} (looked for {ppath})"
        )
    base = read_document(ppath, (*_stack, real))
    restarts: list[_Restart] = []
    merged = _merge(base.data, data, (), lines, restarts=restarts)
    out_lines = dict(base.lines)
    for loc, pos in lines.items():
        out_lines[_translate(loc, merged)] = pos
    restarted = dict(base.restarted)
    for loc, kind, old, new, gone in restarts:
        mloc = _translate(loc, merged)
        at = out_lines.get((*mloc, kind))
        for g in gone:
            dropped = (*mloc, g)
            for key in [k for k in out_lines if k[: len(dropped)] == dropped]:
                del out_lines[key]  # the parent's line no longer holds the field
            if at is not None:
                out_lines[dropped] = at
            restarted[dropped] = (kind, old, new)
    return Document(merged, out_lines, [*base.files, path], restarted)


def _parse(path: Path) -> tuple[dict[str, Any], dict[Loc, tuple[str, int]]]:
    name = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise AssumptionError(
                f"{name}: expected an assumption file of at most {MAX_BYTES:,} bytes, got {size:,}"
            )
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise AssumptionError(
            f"{name}: expected UTF-8 text, got undecodable bytes ({e.reason})"
        ) from None
    except OSError as e:
        raise AssumptionError(f"{name}: cannot read the file ({e.strerror})") from None
    bad = _NON_PRINTABLE.search(text)
    if bad is not None:  # the YAML reader would name a byte position, not a line
        line = 1 + len(_LINE_BREAK.findall(text, 0, bad.start()))
        raise AssumptionError(
            f"{name}:{line}: expected text without control characters, got {char_name(bad.group())}"
        )
    aliases = _scan(text, name)
    loader = _PARSER(text)
    lines: dict[Loc, tuple[str, int]] = {}
    marks: dict[Loc, tuple[int, int]] = {}
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:
            raise AssumptionError(
                f"{name}: expected at most {MAX_DEPTH} levels of nesting, got far more"
            ) from None
        if node is None:
            raise AssumptionError(f"{name}:1: expected a mapping of assumptions, got an empty file")
        if aliases:  # without aliases, _scan has counted every value and level
            _check_size(node, name)
        lines[()] = (name, node.start_mark.line + 1)
        _walk(loader, node, (), lines, name, marks)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = str(e.problem or e.context)
        # name the field: the last key (the deepest of those) written before the problem
        where = (mark.line, mark.column) if mark is not None else (0, 0)
        at = [(m, len(loc), str(loc), loc) for loc, m in marks.items() if m <= where and loc]
        field_path = _dotted(max(at)[3]) if at else "top level"
        tag = re.search(r"constructor for the tag '([^']*)'", problem)
        if tag and tag.group(1) == _MERGE_TAG and lines:
            # the mapping holding the '<<' key: the last key written left of it
            outer = [a for a in at if a[0][1] < where[1]]
            field_path = _dotted(max(outer)[3]) if outer else "top level"
            raise AssumptionError(
                f"{name}:{line}: {field_path}: expected a plain key, got the YAML merge key "
                "'<<' (merge keys are not supported: start from another file with extends:, "
                "or write the fields out)"
            ) from None
        if tag and lines:
            raise AssumptionError(
                f"{name}:{line}: {field_path}: expected a plain value (a number, text, a list "
                f"or a mapping; YAML tags are not allowed), got the tag "
                f"'{tag.group(1).removeprefix('tag:yaml.org,2002:')}' (invalid YAML: could "
                "not determine a constructor for the tag)"
            ) from None
        if problem.startswith("expected ") and lines:  # a number tagged !!int or !!float
            raise AssumptionError(f"{name}:{line}: {field_path}: {problem}") from None
        raise AssumptionError(f"{name}:{line}: invalid YAML: {problem}") from None
    except yaml.YAMLError as e:
        raise AssumptionError(f"{name}: invalid YAML: {e}") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise AssumptionError(
            f"{name}:1: expected a mapping of assumptions at the top level, got {_kind(data)}"
        )
    return data, lines


_MERGE_TAG = "tag:yaml.org,2002:merge"


def _scan(text: str, name: str) -> bool:
    """Read the file's events (no tree is built) and refuse, at the line where the limit is
    passed, a file with more than :data:`MAX_VALUES` values or :data:`MAX_DEPTH` levels,
    or with a syntax error. Returns whether the file uses aliases (whose expansion
    :func:`_check_size` counts once the tree is built).

    Counting as the events arrive stops at the limit, so a huge file is refused in the
    time it takes to read 200,000 values; the tree is built only for a file within the
    limits (and libyaml's parser builds nothing deeper than :data:`MAX_DEPTH` levels,
    which its recursive composer could not survive)."""
    parser = _PARSER(text)
    values = depth = 0
    aliases = False
    try:
        while (event := parser.get_event()) is not None:
            if isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
                continue
            if not isinstance(event, yaml.NodeEvent):
                continue  # stream and document start and end
            values += 1
            aliases |= isinstance(event, yaml.AliasEvent)
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise AssumptionError(
                        f"{name}:{_line(event)}: expected at most {MAX_DEPTH} "
                        "levels of nesting, got more"
                    )
            if values > MAX_VALUES:
                raise AssumptionError(
                    f"{name}:{_line(event)}: expected at most {MAX_VALUES:,} "
                    "values in a file, got more"
                )
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = _syntax_problem(str(e.problem or e.context), text, mark)
        raise AssumptionError(f"{name}:{line}: invalid YAML: {problem}") from None
    except yaml.YAMLError as e:
        raise AssumptionError(f"{name}: invalid YAML: {e}") from None
    finally:
        parser.dispose()
    return aliases


def _line(event: yaml.Event) -> int:
    """The line (from 1) where ``event`` starts."""
    return 1 + (event.start_mark.line if event.start_mark is not None else 0)


def _syntax_problem(problem: str, text: str, mark: Any) -> str:
    """A parser's problem as a message says it: the character that cannot start a token
    named (libyaml leaves it out), and a tab where indentation is expected explained."""
    c = ""
    if mark is not None:
        rows = text.splitlines()  # the reader refused the other breaks splitlines knows
        row = rows[mark.line] if mark.line < len(rows) else ""
        c = row[mark.column] if mark.column < len(row) else ""
    if c == "\t" or "tab character" in problem:  # libyaml and PyYAML word it differently
        return "found a tab where YAML expects spaces (indent with spaces, not tabs)"
    if problem == "found character that cannot start any token" and c:
        problem = f"found character {yaml_repr(c)} that cannot start any token"
    return problem


def _check_size(root: yaml.Node, name: str) -> None:
    """Refuse alias bombs and deep nesting before anything walks the tree.

    Counts the values the document would have with every alias expanded (shared nodes
    counted once per use, memoised per node) and its depth, without recursion.
    """
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if key in size:
            continue
        kids: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            kids = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            kids = list(node.value)
        if not done:
            stack.append((node, True))
            stack.extend((k, False) for k in kids if id(k) not in size)
            continue
        size[key] = 1 + sum(size[id(k)] for k in kids)
        depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
        if size[key] > MAX_VALUES:
            line = node.start_mark.line + 1
            raise AssumptionError(
                f"{name}:{line}: expected at most {MAX_VALUES:,} values once aliases are "
                f"expanded, got more (an alias bomb?)"
            )
        if depth[key] > MAX_DEPTH:
            raise AssumptionError(
                f"{name}:{node.start_mark.line + 1}: expected at most {MAX_DEPTH} levels of "
                "nesting, got more"
            )


def _walk(
    loader: yaml.SafeLoader,
    node: yaml.Node,
    loc: Loc,
    out: dict[Loc, tuple[str, int]],
    name: str,
    marks: dict[Loc, tuple[int, int]],
) -> None:
    """Record the line of every mapping key and list item (and in ``marks`` its line and
    column, both from 0); reject duplicate keys."""
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        periods: dict[tuple[int, int], int] = {}
        for knode, vnode in node.value:
            key = loader.construct_object(knode, deep=True)
            if not isinstance(key, str | int) or isinstance(key, bool):
                raise AssumptionError(
                    f"{name}:{knode.start_mark.line + 1}: {_dotted(loc) or 'top level'}: "
                    f"expected text or a year as a key, got {yaml_repr(key)}"
                )
            if key in seen:
                raise AssumptionError(
                    f"{name}:{knode.start_mark.line + 1}: {_dotted((*loc, key))}: "
                    "expected each key once, got it twice"
                )
            seen.add(key)
            line = knode.start_mark.line + 1
            period = _period_id(key)
            if period is not None:
                if period in periods:
                    raise AssumptionError(
                        f"{name}:{line}: {_dotted((*loc, key))}: expected each "
                        f"{_PERIOD_WORD[period[0]]} once, got {_period_label(period)} twice "
                        f"(lines {periods[period]} and {line})"
                    )
                periods[period] = line
            out[(*loc, key)] = (name, line)
            marks[(*loc, key)] = (knode.start_mark.line, knode.start_mark.column)
            _walk(loader, vnode, (*loc, key), out, name, marks)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out[(*loc, i)] = (name, item.start_mark.line + 1)
            marks[(*loc, i)] = (item.start_mark.line, item.start_mark.column)
            _walk(loader, item, (*loc, i), out, name, marks)


_PERIOD_WORD = {12: "year", 3: "quarter", 1: "month"}
_YEAR_TEXT = re.compile(r"\s*[-+]?[\d_]+(?:\.0*)?\s*")
"""Text a year key may be written as and still be read as that year (``'2026'``): a
mapping keyed by years reads ``'2026'`` as 2026, so the two are one key."""


def _period_id(key: Key) -> tuple[int, int] | None:
    """``(months, first month)`` of a key that names a period: a year (``2026`` or the text
    ``'2026'``), a quarter (``'2026-Q1'``) or a month (``'2026-01'``); None otherwise. Two
    keys of one mapping with the same id name one period twice."""
    if isinstance(key, int):
        return (12, key * 12) if _is_year(key) else None
    if _YEAR_TEXT.fullmatch(key):
        try:
            year = _INT_KEY.validate_python(key)
        except ValidationError:
            return None
        return (12, year * 12) if _is_year(year) else None
    if key[:4].isdigit():
        try:
            return parse_period_key(key)
        except ValueError:
            return None
    return None


def _period_label(period: tuple[int, int]) -> str:
    months, first = period
    if months == 12:
        return str(first // 12)
    if months == 3:
        return f"{first // 12}-Q{first % 12 // 3 + 1}"
    return month_label(first)


_Restart = tuple[Loc, str, Any, Any, frozenset[str]]
"""A mapping whose kind an overlay changed: its location, the kind field, the old and new
kinds and the parent's fields dropped."""


def _merge(
    base: Any,
    over: Any,
    loc: Loc,
    lines: dict[Loc, tuple[str, int]],
    tp: Any = Assumptions,
    *,
    restarts: list[_Restart] | None = None,
) -> Any:
    """Overlay ``over`` on ``base``; ``tp`` is the schema's type at ``loc``.

    Mappings merge key by key (``null`` deletes a key), except where the child changes what
    kind of thing the mapping is (:func:`_kind_base`). A list of named items (``name`` or
    ``counterparty``) merges with a list of named items by name, appending new names, or
    with a mapping from names to changes. Any other value replaces the base's.
    """
    if isinstance(base, dict) and isinstance(over, dict):
        model = _model(tp)
        if model is not None:
            kept = _kind_base(model, base, over)
            kind = model.kind_field
            if restarts is not None and kind is not None and over.get(kind) is not None:
                default = model.model_fields[kind].default
                old = base.get(kind, None if default is PydanticUndefined else default)
                gone = frozenset(base) - frozenset(kept) - frozenset(over)
                if old is not None and old != over[kind] and gone:
                    restarts.append((loc, kind, old, over[kind], gone))
            base = kept
        out = dict(base)
        for k, v in over.items():
            if v is None:
                out.pop(k, None)
            elif k in out:
                out[k] = _merge(out[k], v, (*loc, k), lines, _field_type(tp, k), restarts=restarts)
            else:
                out[k] = v
        return out
    item_tp = _field_type(tp, 0)
    if isinstance(base, list) and isinstance(over, list) and _named(base) and _named(over):
        merged = list(base)
        ids = {_item_id(item): i for i, item in enumerate(base)}
        seen: dict[str, tuple[int, Any]] = {}
        for j, item in enumerate(over):
            k = _item_id(item)
            if k in seen:
                _twice(loc, j, seen[k], (j, _item_name(item)), k, lines)
            seen[k] = (j, _item_name(item))
            if k in ids:
                merged[ids[k]] = _merge(
                    base[ids[k]], item, (*loc, ids[k]), lines, item_tp, restarts=restarts
                )
            else:
                merged.append(item)
        return merged
    if isinstance(base, list) and isinstance(over, dict):
        ids = {_item_id(item): i for i, item in enumerate(base)}
        out_list = list(base)
        keys: dict[str, tuple[Any, Any]] = {}
        dropped: set[int] = set()
        for k, v in over.items():
            s = slug(str(k))
            if s in keys:
                _twice(loc, k, keys[s], (k, k), s, lines)
            keys[s] = (k, k)
            if s not in ids:
                f, line = lines.get((*loc, k), ("<overlay>", 0))
                near = difflib.get_close_matches(s, list(ids), n=3)
                hint = f"; did you mean {', '.join(near)}?" if near else ""
                raise AssumptionError(
                    f"{f}:{line}: {_dotted((*loc, k))}: expected the name of an item of "
                    f"{_dotted(loc)} ({', '.join(sorted(ids))}), got {k!r}{hint}"
                )
            if v is None:  # null removes the named item, as it removes a key
                dropped.add(ids[s])
                continue
            out_list[ids[s]] = _merge(base[ids[s]], v, (*loc, k), lines, item_tp, restarts=restarts)
        return [it for i, it in enumerate(out_list) if i not in dropped]
    return over


def _kind_base(model: type[Frozen], base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """The parent's mapping as a child's overlay sees it, where the child changes a kind.

    - The model's ``kind_field`` (a distribution's ``dist``, a terminal value's ``method``,
      a contract's ``profile``, an inflow's ``kind``), given by the child with another value
      than the parent's (or its default): the parent's fields that belong to the old kind
      and not the new one are dropped (``kind_fields``), or the whole mapping when every
      field belongs to the kind (a normal replacing a triangular keeps no ``low``).
    - One of the model's ``alternatives`` given by the child (``revenue.growth`` where the
      parent has ``revenue.annual``): the parent's other alternatives are dropped.
    """
    field = model.kind_field
    if field is not None and over.get(field) is not None:
        default = model.model_fields[field].default
        old = base.get(field, None if default is PydanticUndefined else default)
        new = over[field]
        if old is not None and new != old:
            kinds = model.kind_fields
            if kinds is None:
                return {}
            keep = kinds.get(str(new), frozenset())
            gone = frozenset().union(*kinds.values()) - keep
            base = {k: v for k, v in base.items() if k not in gone}
    for group in model.alternatives:
        given = [alt for alt in group if alt & over.keys()]
        if given:
            chosen = frozenset().union(*given)
            others = frozenset().union(*group) - chosen
            base = {k: v for k, v in base.items() if k not in others}
    return base


def _model(tp: Any) -> type[Frozen] | None:
    """The schema model at a location (None for a plain value or an unknown field)."""
    tp = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, Frozen) else None


def _field_type(tp: Any, key: Key) -> Any:
    """The schema's type under ``key`` of a value of type ``tp``: a model's field, a
    mapping's values, a list's items (None when the schema has nothing there)."""
    inner = _unwrap(tp)
    if isinstance(inner, type) and issubclass(inner, BaseModel):
        f = inner.model_fields.get(str(key))
        return None if f is None else f.annotation
    if typing.get_origin(inner) in (list, dict):
        return typing.get_args(inner)[-1]
    return None


def _item_name(item: Any) -> Any:
    """The name an overlay item was written with (``name`` or ``counterparty``)."""
    return item.get("name", item.get("counterparty")) if isinstance(item, dict) else item


def _twice(
    loc: Loc,
    at: Any,
    first: tuple[Any, Any],
    second: tuple[Any, Any],
    ident: str,
    lines: dict[Loc, tuple[str, int]],
) -> None:
    """Refuse two overlay entries whose names reduce to one identifier, naming both."""
    f, line = lines.get((*loc, at), ("<overlay>", 0))
    _, first_line = lines.get((*loc, first[0]), ("", 0))
    where = f" (line {first_line})" if first_line else ""
    raise AssumptionError(
        f"{f}:{line}: {_dotted((*loc, at))}: expected names that differ once reduced to "
        f"identifiers, got {second[1]!r} and {first[1]!r}{where}, which both become {ident!r}"
    )


def _named(items: list[Any]) -> bool:
    """True when every item is a mapping with a name (or counterparty)."""
    return bool(items) and all(_item_id(it) for it in items)


def _item_id(item: Any) -> str:
    if isinstance(item, dict):
        for f in LIST_ID_FIELDS:
            if isinstance(item.get(f), str):
                return slug(item[f])
    return ""


def _translate(loc: Loc, data: Any) -> Loc:
    """Turn an overlay location (list items by name) into one by index."""
    out: list[Key] = []
    cur = data
    for k in loc:
        if isinstance(cur, list) and isinstance(k, str):
            idx = next((i for i, it in enumerate(cur) if _item_id(it) == slug(k)), None)
            if idx is None:
                return loc
            out.append(idx)
            cur = cur[idx]
        else:
            out.append(k)
            try:
                cur = cur[k]
            except (KeyError, IndexError, TypeError):
                cur = None
    return tuple(out)


def _dotted(loc: Loc) -> str:
    """``("commitments", 2, "years")`` -> ``commitments[2].years``; a key that is not
    printable text is shown quoted with its escapes (``milestones."GW\\tonline"``)."""
    s = ""
    for k in loc:
        plain = not isinstance(k, str) or (k.isprintable() and k and k.strip() == k)
        k_text = k if plain else yaml_repr(k)
        if isinstance(k, int) and s and not _is_year(k):
            s += f"[{k}]"
        else:
            s += f".{k_text}" if s else str(k_text)
    return s


def _is_year(k: int) -> bool:
    return 1000 <= k <= 9999


def validate(doc: Document, schema: type[Any] = Assumptions, shown: str | None = None) -> Any:
    """Validate a merged document against ``schema``; every pydantic error becomes a
    located problem, and the error raised names the first (by file and line) and how many
    more there are (:func:`several`). ``shown`` is the file as the user named it."""
    try:
        return schema.model_validate(doc.data)
    except ValidationError as e:
        errors = _merge_type_errors(e.errors(include_url=False), schema)
        errors = _fold_missing(errors)
        raise several(doc, [_message(doc, err, schema) for err in errors], shown) from None


Problem = tuple[str, int | None, str]
"""A located problem: file, line (None when unknown) and ``field: expected ..., got ...``."""


def several(doc: Document, problems: list[Problem], shown: str | None = None) -> AssumptionError:
    """One error for a file's problems: the first, in the file the user named and then its
    ``extends:`` parents, by line, with how many more there are and (given the file as the
    user named it, ``shown``) the command that lists them all; ``problems`` of the error
    holds every one, in that order."""
    rank = {str(f): n for n, f in enumerate(reversed(doc.files))}
    ordered = sorted(
        dict.fromkeys(problems),
        key=lambda p: (rank.get(p[0], len(rank)), p[1] if p[1] is not None else 1 << 30),
    )
    lines = [f"{f}:{n}: {text}" if n else f"{f}: {text}" for f, n, text in ordered]
    first, more = lines[0], len(lines) - 1
    if more:
        s = "s" if more > 1 else ""
        if shown is None:
            first += f" (and {more} more problem{s})"
        else:
            first += (
                f" (and {more} more problem{s}: `finmodel validate {shlex.quote(shown)}` lists "
                "them all)"
            )
    return AssumptionError(first, lines)


def _fold_missing(errors: list[Any]) -> list[Any]:
    """One problem for the required fields missing from one mapping (``expected the
    required fields company, start and end, got none of them``); a missing field is not
    reported when an unknown key beside it is a misspelling of it (that key's message says
    so)."""
    unknown: dict[Loc, list[str]] = {}
    for err in errors:
        if err["type"] == "extra_forbidden":
            loc = _clean(err["loc"])
            unknown.setdefault(loc[:-1], []).append(str(loc[-1]))
    out: list[Any] = []
    groups: dict[Loc, Any] = {}
    for err in errors:
        if err["type"] != "missing":
            out.append(err)
            continue
        loc = _clean(err["loc"])
        parent, missing = loc[:-1], str(loc[-1])
        if difflib.get_close_matches(missing, unknown.get(parent, []), n=1):
            continue
        if parent in groups:
            groups[parent]["fields"].append(missing)
            continue
        merged = {**err, "loc": parent, "type": "missing_fields", "fields": [missing]}
        groups[parent] = merged
        out.append(merged)
    for parent, err in groups.items():
        if len(err["fields"]) == 1:  # one field: reported at the field, as before
            err.update(type="missing", loc=(*parent, err["fields"][0]))
    return out


def _clean(loc: Any) -> Loc:
    """A pydantic location without its union-branch and validator names."""
    return tuple(k for k in loc if not (isinstance(k, str) and _is_branch(k)))


def _words(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


_TYPE_WORDS = {
    "float_type": "a number",
    "float_parsing": "a number",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "string_type": "text",
    "list_type": "a list",
    "tuple_type": "a list",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a mapping",
}
"""What a pydantic type error expected, in words (the message never names a class)."""


def _merge_type_errors(errors: list[Any], schema: type[Any]) -> list[Any]:
    """One error per location for wrong types: the branches of a union (a number is a
    float or an int; notes are text or a list) become one ``expected A or B`` message."""
    out: list[Any] = []
    by_loc: dict[Loc, Any] = {}
    for err in errors:
        kind = err["type"]
        is_key = bool(err["loc"]) and err["loc"][-1] == "[key]"  # worded by _message
        if (kind in _TYPE_WORDS or kind == "model_type") and not is_key:
            loc = tuple(k for k in err["loc"] if not (isinstance(k, str) and _is_branch(k)))
            if kind == "model_type":
                keys = [k for k in _fields_at(loc, schema) if k not in ("source", "note")]
                word = f"a mapping with keys {', '.join(keys)}" if keys else "a mapping"
            else:
                word = _TYPE_WORDS[kind]
            if loc in by_loc:
                words = by_loc[loc]["words"]
                if word not in words:
                    words.append(word)
                continue
            merged = {**err, "type": "wrong_type", "words": [word]}
            by_loc[loc] = merged
            out.append(merged)
        else:
            out.append(err)
    for err in by_loc.values():
        words = err["words"]
        if "a number" in words and "a whole number" in words:
            words.remove("a whole number")
        got = err.get("input")
        hint = number_hint(got) if isinstance(got, str) and "a number" in words else ""
        err["msg"] = f"expected {' or '.join(words)}, got {_kind(got)}{hint}"
    return out


def locate(doc: Document, message: str) -> str:
    """Put ``file:line:`` before each line of ``message`` that starts with a field path of
    the document (``funding.inflows.nvidia.pricing: expected ...``); other lines (one naming
    an environment variable, ``FINMODEL_MEMORY_GB: expected ...``), and lines already
    located, are left as they are."""
    out = []
    for line in message.splitlines():
        m = _FIELD_MSG.match(line)
        if m and not _ENV_NAME.fullmatch(m.group(1)):  # FINMODEL_MEMORY_GB is no field
            loc = _translate(_parse_dotted(m.group(1)), doc.data)
            f, n = doc.where(loc)
            text = f"{_dotted(loc)}: {m.group(2)}"
            line = f"{f}:{n}: {text}" if n else f"{f}: {text}"
        out.append(line)
    return "\n".join(out)


def _check_paths(doc: Document, a: Assumptions) -> None:
    """Parameter paths in ``adjust``, ``sensitivity`` and ``uncertainty`` must name inputs of
    the scenario, and the correlation matrix must be valid (located errors otherwise)."""
    if not (a.adjust or a.sensitivity or a.uncertainty):
        return
    # the engine knows which inputs a file defines
    from finmodel.analysis.arguments import model_of
    from finmodel.analysis.montecarlo import spec_from
    from finmodel.analysis.sensitivity import move
    from finmodel.assumptions.params import leaves_domain

    def located(loc: Loc, text: str) -> AssumptionError:
        f, line = doc.where(loc)
        return AssumptionError(f"{f}:{line}: {text}")

    try:
        model = model_of(a)
    except AssumptionError as e:
        text = str(e)
        for key in a.adjust:
            if text.startswith(f"adjust.{key}: "):
                raise located(("adjust", key), text) from None
        raise
    s = a.sensitivity
    if s is not None:
        bars: list[tuple[Loc, str, str | None, dict[str, float]]] = [
            (
                ("sensitivity", "parameters", i),
                b.path,
                b.op,
                {k: float(x) for k in ("low", "high") if (x := getattr(b, k)) is not None},
            )
            for i, b in enumerate(s.parameters)
        ]
        if s.grid is not None:
            for ax in ("x", "y"):
                g = getattr(s.grid, ax)
                ends = {f"values[{n}]": float(x) for n, x in enumerate(g.values)}
                bars.append((("sensitivity", "grid", ax), g.path, g.op, ends))
        for loc, path, op, ends in bars:
            try:
                mv = move(model, path, op)
            except AssumptionError as e:
                raise located(loc, f"{_dotted(loc)}.path: {e}") from None
            for key, x in ends.items():
                broken = leaves_domain(model.params, mv.idx, mv.op, x)
                if broken is not None:
                    where = (*loc, *_parse_dotted(key))
                    raise located(
                        where,
                        f"{_dotted(where)}: {broken[1]} for {broken[0]} (after {mv.op} {x:g})",
                    )
    u = a.uncertainty
    if u is not None:
        try:
            spec_from(model, u)
        except AssumptionError as e:
            text = str(e)
            for key in u.parameters:
                if text.startswith(f"uncertainty.parameters.{key}"):
                    raise located(("uncertainty", "parameters", key), text) from None
            raise located(("uncertainty", "correlations"), text) from None


def _message(doc: Document, err: Any, schema: type[Any] = Assumptions) -> Problem:
    loc: Loc = _clean(err["loc"])
    kind = err["type"]
    got = err.get("input")
    msg = str(err["msg"]).removeprefix("Value error, ")
    inner = _FIELD_MSG.match(msg) or _PERIOD_MSG.match(msg)
    base = loc
    if kind == "value_error" and inner:
        # a validator's message that names its own field below ``loc``
        loc = _translate((*loc, *_parse_dotted(inner.group(1))), doc.data)
        err = {**err, "msg": inner.group(2)}
    loc = _as_written(doc.data, loc)
    if loc and loc[-1] == "value" and loc not in doc.lines:
        loc = loc[:-1]  # a plain number: the user wrote no 'value' key
    if kind == "extra_forbidden":
        allowed = _fields_at(loc[:-1], schema)
        near = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f" (did you mean '{near[0]}'?)" if near else ""
        expected = f"a known key{hint}; allowed here: {', '.join(allowed)}"
        text = f"expected {expected}, got the unknown key {_key_shown(loc[-1])}"
    elif kind == "missing":
        text = "expected a value (this field is required), got nothing"
    elif kind == "missing_fields":
        text = f"expected the required fields {_words(err['fields'])}, got none of them"
    elif kind in ("too_short", "too_long") and isinstance(got, list | dict):
        ctx = err.get("ctx", {})
        bound = ctx.get("min_length" if kind == "too_short" else "max_length")
        word = "at least" if kind == "too_short" else "at most"
        text = f"expected {word} {bound} values, got {len(got)} ({yaml_repr(got)})"
    elif kind == "string_type" and err["loc"] and err["loc"][-1] == "[key]":
        text = (
            f"expected text as the key, got the number {yaml_repr(got)} (write '{got}', in "
            "quotes, for text)"
            if _is_number(got)
            else f"expected text as the key, got {_kind(got)}"
        )
    else:
        msg = str(err["msg"]).removeprefix("Value error, ")
        msg = msg.replace("Input should be", "expected").replace("input should be", "expected")
        msg = msg.replace("expected greater", "expected a number greater")
        msg = msg.replace("expected less", "expected a number less")
        bound = err.get("ctx", {}).get("le", err.get("ctx", {}).get("lt"))
        if kind in ("less_than", "less_than_equal") and bound == 1 and _is_number(got):
            msg += decimals_hint(got)
        if "got" not in msg:
            msg = f"{msg}, got {yaml_repr(got)}"
        text = msg[0].lower() + msg[1:]
    if loc in doc.restarted:
        kind_field, old, new = doc.restarted[loc]
        text += (
            f" (the parent's {loc[-1]} is not carried over: {kind_field} changes from {old} "
            f"to {new} here, and the new {kind_field} starts afresh)"
        )
    f, line = doc.where(loc)
    if not loc and kind == "missing_fields":
        return (f, line, text)
    return (f, line, f"{_dotted(loc) or 'top level'}: {_first_at(doc, base, text)}")


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _key_shown(k: Key) -> str:
    return f"'{k}'" if isinstance(k, str) and k.isprintable() else yaml_repr(k)


def _first_at(doc: Document, base: Loc, text: str) -> str:
    """``(at funding.inflows[0].name)`` in a validator's message (relative to the
    validator's location ``base``) becomes ``(at funding.inflows[0].name, line 12)``."""

    def line_of(m: re.Match[str]) -> str:
        loc = _translate((*base, *_parse_dotted(m.group(1))), doc.data)
        if loc not in doc.lines:
            return m.group(0)
        f, n = doc.lines[loc]
        where = f"line {n}" if f == doc.where(base)[0] else f"{f}:{n}"
        return f"(at {_dotted(loc)}, {where})"

    return _AT.sub(line_of, text)


_AT = re.compile(r"\(at ([A-Za-z_][\w.\[\]-]*)\)")


def _as_written(data: Any, loc: Loc) -> Loc:
    """A validated location as the file wrote it: a plain number given for a path by year
    is located at the path (not at the year the schema keyed it by), and an item of a list
    the file wrote as a mapping (``investors: {Fund: 6}``) at its key."""
    out: list[Key] = []
    cur = data
    for n, k in enumerate(loc):
        if isinstance(cur, dict):
            if k in cur:
                out.append(k)
                cur = cur[k]
            elif isinstance(k, int) and "value" in cur:
                continue  # a constant {value: ...} keyed by the schema's year
            elif isinstance(k, str) and k.endswith("-12") and int(k[:4]) in cur:
                out.append(int(k[:4]))  # a month of a point path written as a bare year
                cur = cur[int(k[:4])]
            elif isinstance(k, int) and not _is_year(k) and 0 <= k < len(cur):
                key = list(cur)[k]
                out.append(key)
                cur = cur[key]
                if not isinstance(cur, dict):
                    break  # the mapping's value is the item's one field (an amount)
            else:
                return (*out, *loc[n:])
        elif isinstance(cur, list):
            out.append(k)
            cur = cur[k] if isinstance(k, int) and 0 <= k < len(cur) else None
        elif cur is None:
            return (*out, *loc[n:])
        else:
            break  # a plain value: the rest of the location is the schema's, not the file's
    return tuple(out)


_FIELD_MSG = re.compile(r"^([A-Za-z_][\w.\[\]-]*): (expected .*)$", re.S)
_PERIOD_MSG = re.compile(r"^(\d{4}(?:-\d{2}|-Q[1-4])?): (expected .*)$", re.S)
"""A validator's message about one period of its path (``2026-12: expected ...``)."""
_ENV_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")
"""An environment variable's name (``FINMODEL_MEMORY_GB``): field paths are lower case."""


def _parse_dotted(path: str) -> Loc:
    """``commitments[2].years`` -> ("commitments", 2, "years"); digits become ints."""
    out: list[Key] = []
    for part in re.split(r"\.|\[|\]", path):
        if part:
            out.append(int(part) if part.isdigit() else part)
    return tuple(out)


def _is_branch(k: str) -> bool:
    """Pydantic inserts union-branch and validator names into locations; drop them."""
    return k.startswith(("function-", "int", "float", "str", "bool", "list[", "dict[")) or k in {
        "Sourced",
        "[key]",
    }


def _fields_at(loc: Loc, schema: type[Any] = Assumptions) -> list[str]:
    """Field names allowed at ``loc`` of the schema (for unknown-key messages)."""
    model: Any = schema
    for k in loc:
        model = _unwrap(model)
        if isinstance(model, type) and issubclass(model, BaseModel):
            f = model.model_fields.get(str(k))
            if f is None:
                return []
            model = f.annotation
        elif typing.get_origin(model) in (list, dict):
            model = typing.get_args(model)[-1]
    model = _unwrap(model)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            tp = models[0] if models else args[0]
        else:
            return tp
