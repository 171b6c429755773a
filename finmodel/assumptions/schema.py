"""The assumption file's schema (pydantic): validated, immutable, canonical units.

Money is in the file's ``unit`` (default USD billions); rates are decimals (0.25, never 25);
user counts are in millions of people; prices are in currency units per paying user per month.
Any number may be written plain or as ``{value, source, note}``. Unknown keys are errors.
"""

from __future__ import annotations

import datetime
import difflib
import hashlib
import itertools
import math
import re
import unicodedata
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    StrictFloat,
    StrictInt,
    field_validator,
    model_validator,
)

from finmodel.targets import TARGET_METRICS, parse_period
from finmodel.timeline import month_index, month_label, parse_month, parse_period_key

UNIT_MULTIPLIER = {"thousand": 1e3, "million": 1e6, "billion": 1e9}


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind_field: ClassVar[str | None] = None
    """The field that says what kind of thing a mapping is (a distribution's ``dist``). An
    overlay (``extends:``) that changes it starts the new kind afresh (``kind_fields``)."""
    kind_fields: ClassVar[Mapping[str, frozenset[str]] | None] = None
    """The fields that belong to each kind. An overlay that changes the kind drops the
    parent's fields of the old kind that the new one does not use; fields every kind shares
    (a contract's counterparty and start) stay. None: every field belongs to the kind (a
    distribution's parameters, source and note), so a new kind replaces the parent's
    mapping whole."""
    alternatives: ClassVar[tuple[tuple[frozenset[str], ...], ...]] = ()
    """Groups of alternatives of which a file gives one (a revenue's ``annual``, ``growth``
    or ``users``): an overlay that gives one alternative drops the parent's others."""


MAX_MONTHS = 1200
"""The longest horizon: 100 years of months."""

PATH_MARGIN = 10
"""Periods of a path may lie up to this many years outside the horizon: earlier or later
periods shape the months inside it (a year of actuals before the start, say)."""

MAX_MAGNITUDE = 1e15
"""Numbers in a file are at most this large in absolute value (in the file's unit)."""


def _finite(v: float) -> float:
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) > MAX_MAGNITUDE:
        digits = len(str(abs(v)))
        raise ValueError(
            f"expected a number of magnitude at most {MAX_MAGNITUDE:g}, "
            f"got a {digits}-digit integer"
        )
    if not math.isfinite(v):
        raise ValueError(f"expected a finite number, got {v}")
    if abs(v) > MAX_MAGNITUDE:
        raise ValueError(f"expected a number of magnitude at most {MAX_MAGNITUDE:g}, got {v:g}")
    return float(v)


_CONTROL_NAMES = (
    "NUL SOH STX ETX EOT ENQ ACK BEL BS TAB LF VT FF CR SO SI "
    "DLE DC1 DC2 DC3 DC4 NAK SYN ETB CAN EM SUB ESC FS GS RS US "
    "PAD HOP BPH NBH IND NEL SSA ESA HTS HTJ VTS PLD PLU RI SS2 SS3 "
    "DCS PU1 PU2 STS CCH MW SPA EPA SOS SGCI SCI CSI ST OSC PM APC"
)
"""The abbreviations of the C0 (U+0000..U+001F) and C1 (U+0080..U+009F) control
characters, which have no Unicode character names."""
_CONTROLS = _CONTROL_NAMES.split()


def char_name(c: str) -> str:
    """A character as a message shows it: ``U+0000 (NUL)``, ``U+001B (ESC)``,
    ``U+2028 (LINE SEPARATOR)``.

    >>> char_name("\\x00"), char_name("\\x7f")
    ('U+0000 (NUL)', 'U+007F (DEL)')
    """
    n = ord(c)
    if n < 0x20:
        what = _CONTROLS[n]
    elif n == 0x7F:
        what = "DEL"
    elif 0x80 <= n < 0xA0:
        what = _CONTROLS[n - 0x80 + 0x20]
    else:
        what = unicodedata.name(c, "not a character")
    return f"U+{n:04X} ({what})"


def yaml_repr(v: Any, limit: int = 60) -> str:
    """A value as the YAML that writes it, for messages: ``2027-01-15`` (not
    ``datetime.date(2027, 1, 15)``), ``true``, ``[1, 2]``, ``{low: 1, high: 2}``; text in
    quotes, with control characters escaped as YAML writes them (``"a\\0b"``). Longer than
    ``limit`` characters, a list is cut (``[1, 2, ...]``) and a mapping is named by its keys.

    >>> import datetime
    >>> yaml_repr(datetime.date(2027, 1, 15)), yaml_repr({"dist": "normal", "sd": 0.1})
    ('2027-01-15', '{dist: normal, sd: 0.1}')
    """
    r = _yaml_flow(v)
    if len(r) <= limit:
        return r
    if isinstance(v, dict):
        return _cut("a mapping with the keys ", [_key_text(k) for k in v], "", limit + 30)
    if isinstance(v, list | tuple):
        return _cut("[", [_yaml_flow(x) for x in v], "]", limit)
    return r[: limit - 3] + "..."


def _cut(head: str, items: list[str], tail: str, limit: int) -> str:
    """``head`` and as many ``items`` as fit in ``limit`` characters, then ``...``."""
    out = head
    for n, it in enumerate(items):
        piece = (", " if n else "") + it
        if len(out) + len(piece) + len(", ...") + len(tail) > limit:
            return out + (", ..." if n else "...") + tail
        out += piece
    return out + tail


_ESCAPES = {"\0": "0", "\a": "a", "\b": "b", "\t": "t", "\n": "n", "\v": "v", "\f": "f"}
_ESCAPES |= {
    "\r": "r",
    "\x1b": "e",
    '"': '"',
    "\\": "\\",
    "\x85": "N",
    "\u2028": "L",
    "\u2029": "P",
}


def _yaml_quoted(text: str) -> str:
    """``text`` as a YAML double-quoted scalar, every non-printable character escaped."""
    out = []
    for c in text:
        if c in _ESCAPES:
            out.append("\\" + _ESCAPES[c])
        elif c.isprintable():
            out.append(c)
        else:
            n = ord(c)
            out.append(
                f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"
            )
    return '"' + "".join(out) + '"'


def _yaml_flow(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, datetime.date):  # datetime too
        return v.isoformat(sep=" ") if isinstance(v, datetime.datetime) else v.isoformat()
    if isinstance(v, str):
        return repr(v) if v.isprintable() else _yaml_quoted(v)
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_key_text(k)}: {_item_text(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list | tuple | set | frozenset):
        return "[" + ", ".join(_item_text(x) for x in v) + "]"
    if isinstance(v, bytes):
        return f"binary data ({len(v)} bytes)"
    return type(v).__name__


_PLAIN = re.compile(r"[A-Za-z_][\w.\-/ ]*[\w.\-/]|[A-Za-z_]")
"""Text YAML reads as text without quotes (in a flow mapping or list)."""
_KEYWORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n"}


def _plain(text: str) -> bool:
    return bool(_PLAIN.fullmatch(text)) and text.lower() not in _KEYWORDS


def _key_text(k: Any) -> str:
    return k if isinstance(k, str) and _plain(k) else _yaml_flow(k)


def _item_text(v: Any) -> str:
    return v if isinstance(v, str) and _plain(v) else _yaml_flow(v)


def _kind(v: Any) -> str:
    """What a wrong-typed value is, in words (for messages)."""
    if isinstance(v, bool):
        return f"a boolean ({_yaml_flow(v)})"
    if isinstance(v, str):
        return f"the text {yaml_repr(v, 60)}"
    if isinstance(v, list | dict):
        what = "a list" if isinstance(v, list) else "a mapping"
        r = yaml_repr(v, 50)
        return r if r.startswith("a mapping") else f"{what} {r}"
    if v is None:
        return "nothing"
    if isinstance(v, datetime.date):
        return f"the date {_yaml_flow(v)}"
    return yaml_repr(v)


def _one_line(v: str) -> str:
    """A name: one line of text without control characters, not blank (a name becomes a
    line item, a defined name, a label on screen and a column of the cap table)."""
    for n, c in enumerate(v):
        if unicodedata.category(c) in ("Cc", "Zl", "Zp"):
            raise ValueError(
                f"expected a name on one line without control characters, got {char_name(c)} "
                f"at character {n + 1} of {_yaml_quoted(v) if len(v) <= 60 else yaml_repr(v)}"
            )
    if not v.strip():
        got = "an empty name" if not v else f"a blank name ({_yaml_quoted(v)})"
        raise ValueError(f"expected a name with at least one visible character, got {got}")
    return v


def _free_text(v: str) -> str:
    """Free text (a source, a note): line breaks and tabs allowed, other control
    characters refused."""
    for n, c in enumerate(v):
        if unicodedata.category(c) == "Cc" and c not in "\t\n\r":
            raise ValueError(
                f"expected text without control characters other than tabs and line breaks, "
                f"got {char_name(c)} at character {n + 1} of {yaml_repr(v)}"
            )
    return v


Name = Annotated[str, AfterValidator(_one_line)]
"""A name (company, counterparty, inflow, facility, segment, holder, investor, milestone,
network party): one line of printable text."""
Text = Annotated[str, AfterValidator(_free_text)]
"""Free text (description, source, note, notes): tabs and line breaks allowed."""


class Sourced(Frozen):
    """A number with where it came from: ``{value: 13, source: "...", note: "..."}``."""

    value: Annotated[StrictFloat | StrictInt, AfterValidator(_finite)]
    source: Text | None = None
    note: Text | None = None


def number_hint(text: str) -> str:
    """Why a text that looks like a number is not one, for a message (empty otherwise).

    >>> number_hint("1,000"), number_hint("21%")
    (' (write 1000 or 1_000, without commas)', ' (rates are decimals: 0.21, not 21%)')
    """
    t = text.strip()
    if t.lower().lstrip("+-") in ("inf", "infinity", "nan"):
        return " (a finite number is expected)"
    if re.fullmatch(r"[-+]?\d{1,3}(,\d{3})+(\.\d+)?", t):
        return f" (write {t.replace(',', '')} or {t.replace(',', '_')}, without commas)"
    if re.fullmatch(r"[-+]?\d+,\d+", t):
        return f" (the decimal mark is a dot: {t.replace(',', '.')})"
    m = re.fullmatch(r"([-+]?\d+(\.\d+)?)\s*%", t)
    if m:
        return f" (rates are decimals: {float(m.group(1)) / 100:g}, not {t})"
    if re.fullmatch(r"[$€£¥][\d.,_]+[a-zA-Z]*", t):
        return " (write the number alone: the file's currency and unit apply to it)"
    return ""


def _wrap_number(v: Any) -> Any:
    if isinstance(v, bool):
        raise ValueError(f"expected a number, got a boolean ({_yaml_flow(v)})")
    if isinstance(v, int | float):
        return {"value": v}
    if isinstance(v, str):
        raise ValueError(f"expected a number, got the text {yaml_repr(v)}{number_hint(v)}")
    return v


Num = Annotated[Sourced, BeforeValidator(_wrap_number)]

DECIMALS_HINT = "rates are decimals: 0.21, not 21"


def decimals_hint(v: float) -> str:
    """`` (rates are decimals: 0.21, not 21)`` for a value above 1 that reads as a
    percentage (up to 100) where a fraction in [0, 1] is expected; empty otherwise."""
    return f" ({DECIMALS_HINT})" if 1 < v <= 100 else ""


def shown(v: float) -> str:
    """A number as a message echoes it, as it was written: ``80`` (not ``80.0``),
    ``0.053``, ``1.2345678`` (every digit, not six), ``1e+20``.

    >>> shown(80.0), shown(0.053), shown(1.2345678), shown(-3)
    ('80', '0.053', '1.2345678', '-3')
    """
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e16:
        return str(int(v))
    return repr(v) if isinstance(v, float) else str(v)


class Bounded(Sourced):
    """A number whose meaning bounds it (a share, an amount): the bounds travel with the
    value, so an input changed later (``adjust``, ``--set``) is checked against them too."""

    lo: ClassVar[float | None] = None
    hi: ClassVar[float | None] = None
    lo_open: ClassVar[bool] = False
    what: ClassVar[str] = "a number"

    @classmethod
    def problem(cls, v: float) -> str | None:
        """Why ``v`` is outside the domain (``expected ..., got ...``), or None."""
        lo, hi = cls.lo, cls.hi
        below = lo is not None and (v <= lo if cls.lo_open else v < lo)
        if not below and (hi is None or v <= hi):
            return None
        if lo is not None and hi is not None:
            span = f"> {lo:g} and <= {hi:g}" if cls.lo_open else f"between {lo:g} and {hi:g}"
            hint = f" ({DECIMALS_HINT})" if hi == 1 and v > 1 else ""
            return f"expected {cls.what} {span}{hint}, got {shown(v)}"
        op = ">" if cls.lo_open else ">="
        return f"expected {cls.what} {op} {lo:g}, got {shown(v)}"

    @field_validator("value")
    @classmethod
    def _domain(cls, v: float) -> float:
        why = cls.problem(v)
        if why is not None:
            raise ValueError(why)
        return v


class ShareValue(Bounded):
    lo, hi, what = 0.0, 1.0, "a share"


class RateValue(Bounded):
    lo, hi, what = 0.0, 1.0, "a rate"


class DiscountValue(Bounded):
    lo, hi, lo_open, what = -1.0, 1.0, True, "a discount rate"


class AmountValue(Bounded):
    lo, what = 0.0, "an amount"


class PriceValue(Bounded):
    lo, what = 0.0, "a price"


class GrowthValue(Bounded):
    lo, lo_open, what = -1.0, True, "a growth rate"


class FactorValue(Bounded):
    lo, what = 0.0, "a factor"


class LossLimitValue(Bounded):
    lo, hi, what = 0.0, 1.0, "a share of taxable income"


class ExitValue(Bounded):
    lo, what = 0.0, "an exit value"


Share = Annotated[ShareValue, BeforeValidator(_wrap_number)]
"""A share or probability-like fraction in [0, 1] (a paying share, a share of revenue)."""
Rate = Annotated[RateValue, BeforeValidator(_wrap_number)]
"""An annual rate in [0, 1] (tax, interest): 0.05 for 5%."""
DiscountRate = Annotated[DiscountValue, BeforeValidator(_wrap_number)]
"""A discount rate in (-1, 1]: a rate of 1 is 100% a year."""
Amount = Annotated[AmountValue, BeforeValidator(_wrap_number)]
"""An amount of money (or of users) that cannot be negative."""
Price = Annotated[PriceValue, BeforeValidator(_wrap_number)]
"""A price per paying user per month, >= 0."""
LossLimit = Annotated[LossLimitValue, BeforeValidator(_wrap_number)]
GrowthRate = Annotated[GrowthValue, BeforeValidator(_wrap_number)]
"""An annual growth rate > -1 (-0.3 and 2.0 are both growth rates; -1 would end the series)."""
Factor = Annotated[FactorValue, BeforeValidator(_wrap_number)]
"""A multiplier >= 0 (a scale on a line, an exit multiple)."""
ExitAmount = Annotated[ExitValue, BeforeValidator(_wrap_number)]


def _check_month(v: Any) -> str:
    if not isinstance(v, str):
        if isinstance(v, datetime.date):
            raise ValueError(
                f"expected a month as YYYY-MM, got the date {_yaml_flow(v)} (a month is written "
                f"{v.year:04d}-{v.month:02d})"
            )
        raise ValueError(f"expected a month as YYYY-MM, got {_kind(v)}")
    parse_month(v)
    return v


Month = Annotated[str, BeforeValidator(_check_month)]


def _nonempty(v: dict[Any, Any]) -> dict[Any, Any]:
    if not v:
        raise ValueError("expected at least one year with a value, got an empty mapping")
    return v


_CONSTANT_YEAR: ContextVar[int | None] = ContextVar("_CONSTANT_YEAR", default=None)
"""The first year of the scenario being validated: a plain number given for a path by
period is that path with one value, at this year (held, so the same every year)."""


def _period_keys(v: Any) -> Any:
    year = _CONSTANT_YEAR.get()
    if year is not None and (
        (isinstance(v, int | float) and not isinstance(v, bool))
        or (isinstance(v, dict) and "value" in v)
    ):
        return {year: v}  # a constant: the same value every period
    if not isinstance(v, dict):
        raise ValueError(
            f"expected a number, or a mapping of year to number ({{2026: 10, 2030: 20}}), "
            f"got {_kind(v)}"
        )
    out: dict[Any, Any] = {}
    sizes = set()
    for k, x in v.items():
        key = int(k) if isinstance(k, str) and re.fullmatch(r"\d{4}", k) else k
        if isinstance(key, bool):
            raise ValueError(f"expected a year, a quarter or a month as key, got {yaml_repr(key)}")
        try:
            n, _ = parse_period_key(key)
        except ValueError as e:
            raise ValueError(f"key {yaml_repr(k)}: {e}") from None
        sizes.add(n)
        out[key] = x
    if len(sizes) > 1:
        raise ValueError(
            "expected keys of one granularity (all years, all quarters 'YYYY-Qn' or all "
            f"months 'YYYY-MM'), got {', '.join(str(k) for k in v)}"
        )
    return out


YearPath = Annotated[dict[int | str, Num], BeforeValidator(_period_keys), AfterValidator(_nonempty)]
"""Values by period: years ``{2026: 10, 2030: 20}``, quarters ``{"2026-Q1": 2}`` or months
``{"2026-01": 0.7}`` (one granularity; interpolated between periods, held outside), or one
number for the same value every year (``0.3``: the path ``{start year: 0.3}``)."""

SharePath = Annotated[
    dict[int | str, Share], BeforeValidator(_period_keys), AfterValidator(_nonempty)
]
"""A :data:`YearPath` of shares in [0, 1]."""
GrowthPath = Annotated[
    dict[int | str, GrowthRate], BeforeValidator(_period_keys), AfterValidator(_nonempty)
]
"""A :data:`YearPath` of growth rates > -1."""
AmountPath = Annotated[
    dict[int | str, Amount], BeforeValidator(_period_keys), AfterValidator(_nonempty)
]
"""A :data:`YearPath` of amounts >= 0."""
PricePath = Annotated[
    dict[int | str, Price], BeforeValidator(_period_keys), AfterValidator(_nonempty)
]
"""A :data:`YearPath` of prices >= 0."""

YearsOnly = Annotated[dict[int, Num], AfterValidator(_nonempty)]
"""Values by calendar year only (contract payments, valuations by year)."""
AmountYears = Annotated[dict[int, Amount], AfterValidator(_nonempty)]
"""A :data:`YearsOnly` of amounts >= 0 (contract payments)."""

Spread = Literal["smooth", "flat"]
"""How a path's periods become months (finmodel/timeline.py): ``smooth`` (default) or
``flat`` (equal months, steps at period boundaries)."""


def _point_key(k: Any) -> str:
    if isinstance(k, int):
        return f"{k:04d}-12"
    return _check_month(k)


def _point_keys(v: Any) -> Any:
    if isinstance(v, dict):
        if not v:
            raise ValueError("expected at least one month with a value, got an empty mapping")
        out: dict[str, Any] = {}
        written: dict[str, Any] = {}
        for k, x in v.items():
            month = _point_key(k)
            if month in out:
                raise ValueError(
                    f"{month}: expected each month once, got {month} twice (written "
                    f"{_yaml_flow(written[month])} and {_yaml_flow(k)}; a bare year means its "
                    "December)"
                )
            out[month], written[month] = x, k
        return out
    return v


class UnitsValue(Bounded):
    lo, what = 0.0, "a number of units"


Units = Annotated[UnitsValue, BeforeValidator(_wrap_number)]
"""A count of units reached (gigawatts deployed), >= 0."""


def _never_decreasing(v: dict[str, Sourced]) -> dict[str, Sourced]:
    """A milestone is cumulative (units deployed so far): its values never decrease from
    one month to the next. The error is located at the later of the two months."""
    months = sorted(v, key=lambda m: month_index(*parse_month(m)))
    for before, after in itertools.pairwise(months):
        a, b = v[before].value, v[after].value
        if b < a:
            raise ValueError(
                f"{after}: expected a cumulative path that never decreases, got {shown(a)} at "
                f"{before} then {shown(b)} at {after}"
            )
    return v


PointPath = Annotated[
    dict[str, Units], BeforeValidator(_point_keys), AfterValidator(_never_decreasing)
]
"""Values at months: ``{2026-06: 0, 2026-12: 1}`` (a bare year means its December): the
cumulative units reached, >= 0 and never decreasing."""


class CostSpec(Frozen):
    """A cost line: an annual path (a flow, spread 1/12 a month), a share of revenue, or both."""

    annual: AmountPath | None = None
    share_of_revenue: SharePath | None = None
    scale: Factor = FactorValue(value=1.0)
    spread: Spread = "smooth"

    @model_validator(mode="after")
    def _one(self) -> CostSpec:
        if self.annual is None and self.share_of_revenue is None:
            raise ValueError("expected 'annual' or 'share_of_revenue' (or both), got neither")
        return self


class Logistic(Frozen):
    """An S-curve: ``ceiling / (1 + exp(-rate * (year - midpoint)))``, time in decimal years."""

    ceiling: Amount
    midpoint: Num
    rate: Num


class Users(Frozen):
    """Subscription revenue = users (millions) x paying share x price (currency/month)."""

    alternatives = ((frozenset({"count"}), frozenset({"s_curve"})),)

    count: AmountPath | None = None
    s_curve: Logistic | None = None
    paying_share: SharePath
    price: PricePath
    spread: Spread = "smooth"

    @model_validator(mode="after")
    def _one(self) -> Users:
        if self.count is not None and self.s_curve is not None:
            raise ValueError(
                "s_curve: expected exactly one of 'count' (a year path) or 's_curve', got both "
                "(at count)"
            )
        if self.count is None and self.s_curve is None:
            raise ValueError(
                "expected exactly one of 'count' (a year path) or 's_curve', got neither"
            )
        return self


class Segment(Frozen):
    """Segment revenue = annual market size (a flow) x market share (a level)."""

    name: Name
    market: AmountPath
    share: SharePath
    spread: Spread = "smooth"


class Growth(Frozen):
    """An annual revenue run-rate ``base`` in the first month, growing at annual ``rates``:
    compounded monthly at ``(1 + g)^(1/12)`` (``smooth``, rates interpolated month by month)
    or stepped up by ``g`` each January (``flat``)."""

    base: Amount
    rates: GrowthPath
    spread: Spread = "smooth"


class Revenue(Frozen):
    alternatives = ((frozenset({"annual"}), frozenset({"growth"}), frozenset({"users"})),)

    annual: AmountPath | None = None
    growth: Growth | None = None
    users: Users | None = None
    segments: list[Segment] = []
    scale: Factor = FactorValue(value=1.0)
    growth_scale: Factor | None = None
    spread: Spread = "smooth"

    @model_validator(mode="after")
    def _methods(self) -> Revenue:
        given = [m for m in ("annual", "growth", "users") if getattr(self, m) is not None]
        if self.growth is not None and self.growth_scale is not None:
            raise ValueError(
                "growth_scale: expected an annual, users or segments revenue (with 'growth', "
                "scale its rates instead), got 'growth'"
            )
        if len(given) > 1:
            raise ValueError(
                f"{given[-1]}: expected one revenue method, got {' and '.join(given)} "
                f"(at {given[0]})"
            )
        if not given and not self.segments:
            raise ValueError(
                "expected one of 'annual', 'growth', 'users' or 'segments', got none of them"
            )
        return self


class Capex(Frozen):
    """Capital expenditure (an annual flow), depreciated straight-line over ``life_years``."""

    annual: AmountPath
    life_years: StrictInt = Field(gt=0, le=100)
    spread: Spread = "smooth"


class Costs(Frozen):
    cost_of_revenue: CostSpec | None = None
    compute: CostSpec | None = None
    staff: CostSpec | None = None
    sales_marketing: CostSpec | None = None
    general_admin: CostSpec | None = None
    revenue_share: CostSpec | None = None
    stock_comp: CostSpec | None = None
    capex: Capex | None = None
    tax_rate: Rate = RateValue(value=0.0)
    loss_offset_limit: LossLimit = LossLimitValue(value=1.0)
    """Share of a year's taxable income that losses of earlier years may offset (US federal
    since 2018: 0.8). Default 1 (no limit): the rule differs by jurisdiction, so a file
    states its own; see docs/methodology.md, "Tax"."""


class Commitment(Frozen):
    """A compute purchase contract.

    ``profile``: ``flat`` (amount / months each month), ``ramp`` (month m of n pays
    ``amount * 2m / (n (n + 1))``, rising linearly) or ``explicit`` (``payments`` by year,
    each spread over its months from the start, smoothly by default; ``amount`` is then
    their sum).
    """

    kind_field = "profile"
    kind_fields = {
        "flat": frozenset({"amount"}),
        "ramp": frozenset({"amount"}),
        "explicit": frozenset({"payments", "spread"}),
    }

    counterparty: Name
    amount: Amount | None = None
    start: Month
    years: StrictInt = Field(default=1, gt=0, le=100)
    profile: Literal["flat", "ramp", "explicit"] = "flat"
    payments: AmountYears | None = None
    spread: Spread = "smooth"
    take_or_pay: bool = True
    note: Text | None = None
    source: Text | None = None

    @model_validator(mode="after")
    def _profile(self) -> Commitment:
        if self.profile == "explicit":
            if not self.payments:
                raise ValueError("expected 'payments' by year for profile 'explicit', got none")
            if self.amount is not None:
                raise ValueError(
                    "amount: expected no amount with profile 'explicit' (it is the sum of the "
                    f"payments), got {shown(self.amount.value)}"
                )
        else:
            if self.amount is None:
                raise ValueError(f"expected an 'amount' for profile '{self.profile}', got none")
            if self.payments is not None:
                raise ValueError(
                    f"payments: expected payments only with profile 'explicit', got profile "
                    f"'{self.profile}'"
                )
        return self


INFLOW_KINDS = ("equity", "debt", "prepayment", "grant", "asset_sale")
"""What an inflow is. ``equity``: new shares, priced and dilutive. ``debt``: a loan, owed
back, optionally with interest (``rate``) and a bullet repayment (``repay``). ``prepayment``:
a customer paying ahead for service (no shares, not financial debt). ``grant``: money owed to
no one. ``asset_sale``: proceeds of selling something the company owns (shares it holds in
another company, a building)."""

PRICING_RULES = ("last_round", "raise_policy")
"""How an equity inflow without a valuation of its own is priced (see
:data:`PRICING_DEFAULT`)."""

PRICING_DEFAULT = ("last_round",)
"""An unpriced equity tranche buys at the price per share of the most recent equity issue
before it: tranches are normally bought at the price of the round that committed them, and
the last price paid needs no forecast of the company's value."""


def _pricing(v: Any) -> Any:
    rules = [v] if isinstance(v, str) else v
    if not isinstance(rules, list) or not rules:
        raise ValueError(
            f"expected a pricing rule ({' or '.join(PRICING_RULES)}) or a list of them tried "
            f"in order, got {yaml_repr(v)}"
        )
    for r in rules:
        if r not in PRICING_RULES:
            raise ValueError(
                f"expected a pricing rule ({' or '.join(PRICING_RULES)}) or a list of them "
                f"tried in order, got {yaml_repr(r)}"
            )
    if len(set(rules)) != len(rules):
        raise ValueError(f"expected each pricing rule once, got {yaml_repr(v)}")
    return tuple(rules)


Pricing = Annotated[tuple[str, ...], BeforeValidator(_pricing)]


class Terms(Frozen):
    """A liquidation preference: at an exit the class is paid ``multiple`` x what it
    invested before the holders without one; a ``participating`` class also shares in what
    is left as if converted, a non-participating one takes the larger of its preference and
    its as-converted share."""

    multiple: Annotated[StrictFloat | StrictInt, AfterValidator(_finite)] = Field(1.0, ge=0)
    participating: bool = False
    source: Text | None = None
    note: Text | None = None


class Preference(Terms):
    """The default preference of every equity class, and how classes rank: ``pari_passu``
    (one pool, paid pro rata to the preferences) or ``stacked`` (later issues paid first)."""

    seniority: Literal["pari_passu", "stacked"] = "pari_passu"


class Inflow(Frozen):
    """Committed money in: a dated tranche, or tranches tied to a milestone.

    Dated: ``amount`` arrives in month ``date``. Milestone: ``per_unit`` arrives in the
    first month the milestone path reaches each whole unit, until ``amount`` has arrived:
    ``amount`` caps the sum, so the last tranche is what is left of it, and a ``per_unit``
    above ``amount`` is one tranche of ``amount`` at the first unit (an overlay that cuts
    the cap, ``amount: 0`` for tranches never drawn, needs no change to ``per_unit``).
    ``kind`` says what the money is (:data:`INFLOW_KINDS`; default ``equity``). Equity is
    priced by its own ``pre_money`` or ``post_money`` (the company's value before the first
    arrival, or after the whole ``amount``) or by ``pricing`` (:data:`PRICING_RULES`).
    """

    kind_field = "kind"
    kind_fields = {
        "equity": frozenset({"pre_money", "post_money", "pricing", "preference"}),
        "debt": frozenset({"rate", "repay"}),
        "prepayment": frozenset(),
        "grant": frozenset(),
        "asset_sale": frozenset(),
    }
    alternatives = (
        (frozenset({"date"}), frozenset({"milestone", "per_unit"})),
        (frozenset({"pre_money"}), frozenset({"post_money"}), frozenset({"pricing"})),
    )

    name: Name
    amount: Amount
    date: Month | None = None
    milestone: Name | None = None
    per_unit: Amount | None = None
    kind: Literal["equity", "debt", "prepayment", "grant", "asset_sale"] = "equity"
    pre_money: Num | None = None
    post_money: Num | None = None
    pricing: Pricing | None = None
    preference: Terms | None = None
    rate: Rate | None = None
    repay: Month | None = None
    investors: Annotated[list[Investor], BeforeValidator(_investors)] = []
    source: Text | None = None
    note: Text | None = None

    @model_validator(mode="after")
    def _fields(self) -> Inflow:
        if self.pre_money is not None and self.pre_money.value <= 0:
            raise ValueError(
                f"pre_money: expected a valuation > 0, got {shown(self.pre_money.value)}"
            )
        if self.pre_money is not None and self.post_money is not None:
            raise ValueError("post_money: expected one of 'pre_money' or 'post_money', got both")
        if self.post_money is not None and self.post_money.value <= self.amount.value:
            raise ValueError(
                f"post_money: expected a valuation above the amount {self.amount.value:g} "
                f"(pre-money = post-money - amount > 0), got {shown(self.post_money.value)}"
            )
        priced = self.pre_money is not None or self.post_money is not None
        if self.kind != "equity":
            for f in ("pre_money", "post_money", "pricing", "preference"):
                if getattr(self, f) is not None:
                    raise ValueError(
                        f"{f}: expected none on a {self.kind} inflow (only equity is priced "
                        "and gets shares), got one"
                    )
        if priced and self.pricing is not None:
            raise ValueError(
                f"pricing: expected no rule when the inflow has its own "
                f"{'pre_money' if self.pre_money is not None else 'post_money'}, "
                f"got {', '.join(self.pricing)}"
            )
        if self.kind != "debt":
            for f in ("rate", "repay"):
                if getattr(self, f) is not None:
                    raise ValueError(
                        f"{f}: expected none on a {self.kind} inflow (only debt carries "
                        "interest and repayment), got one"
                    )
        if self.investors:
            total = sum(i.amount.value for i in self.investors)
            if abs(total - self.amount.value) > 1e-9 * max(1.0, abs(self.amount.value)):
                raise ValueError(
                    f"investors: expected amounts summing to the inflow's {self.amount.value:g}, "
                    f"got {total:g}"
                )
            unique_names([i.name for i in self.investors], "investors", "name")
        if self.date is not None and self.milestone is not None:
            raise ValueError(
                "milestone: expected exactly one of 'date' or 'milestone', got both (at date)"
            )
        if self.date is None and self.milestone is None:
            raise ValueError("expected exactly one of 'date' or 'milestone', got neither")
        if self.milestone is not None and self.per_unit is None:
            raise ValueError("expected 'per_unit' with 'milestone', got none")
        if self.repay is not None:
            if self.date is None:
                raise ValueError(
                    "repay: expected a dated loan (a milestone loan has no single balance to "
                    "repay), got a milestone"
                )
            if month_index(*parse_month(self.repay)) <= month_index(*parse_month(self.date)):
                raise ValueError(
                    f"repay: expected a month after the loan's date {self.date}, got {self.repay}"
                )
        return self

    @property
    def rule(self) -> tuple[str, ...]:
        """How an equity inflow is priced: ``("own",)`` with a valuation of its own, else
        its pricing rules in order (:data:`PRICING_DEFAULT` when none is given)."""
        if self.pre_money is not None or self.post_money is not None:
            return ("own",)
        return self.pricing or PRICING_DEFAULT


class Investor(Frozen):
    name: Name
    amount: Amount


def _investors(v: Any) -> Any:
    if isinstance(v, dict):
        return [{"name": k, "amount": x} for k, x in v.items()]
    return v


class Facility(Frozen):
    """A credit facility: drawn when cash would fall below the buffer, repaid as it recovers."""

    name: Name
    limit: Amount
    rate: Rate
    source: Text | None = None
    note: Text | None = None


class Funding(Frozen):
    min_cash: Amount = AmountValue(value=0.0)
    inflows: list[Inflow] = []
    facilities: list[Facility] = []


class Opening(Frozen):
    cash: Amount
    debt: Amount = AmountValue(value=0.0)
    tax_losses: Amount = AmountValue(value=0.0)
    as_of: Month | None = None


class Target(Frozen):
    """A published figure the scenario must reproduce.

    ``period`` is a year (``2026``), a span of years (``2025-2029``, flows summed) or absent
    for horizon-wide metrics. ``tolerance`` is relative (0.05 = 5%) except for year-valued
    metrics (``breakeven_year``), where it is in years.
    """

    metric: str
    period: int | str | None = None
    value: Annotated[StrictFloat | StrictInt, AfterValidator(_finite)]
    tolerance: Annotated[StrictFloat | StrictInt, AfterValidator(_finite)] = Field(0.05, ge=0)
    source: Text | None = None
    note: Text | None = None

    @model_validator(mode="after")
    def _known(self) -> Target:
        if self.metric not in TARGET_METRICS:
            near = difflib.get_close_matches(self.metric, TARGET_METRICS, n=1)
            hint = f" (did you mean '{near[0]}'?)" if near else ""
            raise ValueError(f"expected a known metric{hint}, got {self.metric!r}")
        parse_period(self.period)
        return self


class Adjustment(Frozen):
    """A change to every input under a parameter path: exactly one of set, scale or shift."""

    set: Annotated[StrictFloat | StrictInt, AfterValidator(_finite)] | None = None
    scale: Annotated[StrictFloat | StrictInt, AfterValidator(_finite)] | None = None
    shift: Annotated[StrictFloat | StrictInt, AfterValidator(_finite)] | None = None
    source: Text | None = None

    @model_validator(mode="after")
    def _one(self) -> Adjustment:
        given = [k for k in ("set", "scale", "shift") if getattr(self, k) is not None]
        if len(given) != 1:
            got = {0: "none of them", 2: "both " + " and ".join(given)}.get(len(given), "all three")
            raise ValueError(f"expected exactly one of set, scale or shift, got {got}")
        return self

    @property
    def op(self) -> tuple[str, float]:
        for k in ("set", "scale", "shift"):
            v = getattr(self, k)
            if v is not None:
                return k, float(v)
        raise AssertionError("unreachable: validated to have one operation")


class Distribution(Frozen):
    """An uncertain parameter. ``apply``: how a draw changes the inputs under the path
    (``set`` for one input, ``scale`` by default for several and for ``bernoulli``).
    A normal or lognormal may carry ``low`` and/or ``high``: it is then truncated to them."""

    kind_field = "dist"

    dist: Literal["normal", "lognormal", "triangular", "uniform", "pert", "bernoulli"]
    mean: Annotated[StrictFloat | StrictInt, AfterValidator(_finite)] | None = None
    sd: Annotated[StrictFloat | StrictInt, AfterValidator(_finite)] | None = None
    median: Annotated[StrictFloat | StrictInt, AfterValidator(_finite)] | None = None
    sigma: Annotated[StrictFloat | StrictInt, AfterValidator(_finite)] | None = None
    low: Annotated[StrictFloat | StrictInt, AfterValidator(_finite)] | None = None
    mode: Annotated[StrictFloat | StrictInt, AfterValidator(_finite)] | None = None
    high: Annotated[StrictFloat | StrictInt, AfterValidator(_finite)] | None = None
    p: Annotated[StrictFloat | StrictInt, AfterValidator(_finite)] | None = None
    apply: Literal["set", "scale", "shift"] | None = None
    source: Text | None = None
    note: Text | None = None

    @model_validator(mode="after")
    def _fields(self) -> Distribution:
        need = {
            "normal": ("mean", "sd"),
            "lognormal": ("median", "sigma"),
            "triangular": ("low", "mode", "high"),
            "uniform": ("low", "high"),
            "pert": ("low", "mode", "high"),
            "bernoulli": ("p",),
        }[self.dist]
        bounds = ("low", "high") if self.dist in ("normal", "lognormal") else ()  # truncation
        allowed = {*need, *bounds, "dist", "apply", "source", "note"}
        for k in need:
            if getattr(self, k) is None:
                raise ValueError(f"{k}: expected a value for a {self.dist} distribution, got none")
        for k in ("mean", "sd", "median", "sigma", "low", "mode", "high", "p"):
            if k not in allowed and getattr(self, k) is not None:
                also = " (and optionally low, high)" if bounds else ""
                raise ValueError(
                    f"{k}: expected only {', '.join(need)}{also} for {self.dist}, got {k}"
                )
        if self.dist == "lognormal" and self.low is not None and self.low < 0:
            raise ValueError(
                f"low: expected a bound >= 0 for a lognormal (> 0), got {shown(self.low)}"
            )
        if self.dist == "lognormal" and self.high is not None and self.high <= 0:
            raise ValueError(
                f"high: expected a bound > 0 for a lognormal (> 0), got {shown(self.high)}"
            )
        if self.sd is not None and self.sd <= 0:
            raise ValueError(f"sd: expected a standard deviation > 0, got {shown(self.sd)}")
        if self.sigma is not None and self.sigma <= 0:
            raise ValueError(f"sigma: expected sigma > 0, got {shown(self.sigma)}")
        if self.median is not None and self.median <= 0:
            raise ValueError(
                f"median: expected a median > 0 for a lognormal, got {shown(self.median)}"
            )
        if self.low is not None and self.high is not None and not self.low < self.high:
            raise ValueError(
                f"high: expected low < high, got low {shown(self.low)} and high {shown(self.high)}"
            )
        lo, mo, hi = self.low, self.mode, self.high
        if mo is not None and lo is not None and hi is not None and not lo <= mo <= hi:
            raise ValueError(f"mode: expected low <= mode <= high, got {shown(mo)}")
        if self.p is not None and not 0 <= self.p <= 1:
            raise ValueError(
                f"p: expected a probability in [0, 1]{decimals_hint(self.p)}, got {shown(self.p)}"
            )
        return self


class Correlation(Frozen):
    """The correlation of two uncertain parameters' normal scores (Gaussian copula)."""

    a: str
    b: str
    rho: Annotated[StrictFloat | StrictInt, AfterValidator(_finite)]
    source: Text | None = None


class Uncertainty(Frozen):
    draws: StrictInt = Field(10_000, gt=0, le=100_000_000)
    seed: StrictInt = Field(0, ge=0, lt=2**128)
    sampler: Literal["lhs", "random"] = "lhs"
    alpha: Annotated[StrictFloat | StrictInt, AfterValidator(_finite)] = Field(0.05, ge=0, le=1)
    parameters: dict[str, Distribution]
    correlations: list[Correlation] = []


class SensitivityBar(Frozen):
    path: str
    low: Annotated[StrictFloat | StrictInt, AfterValidator(_finite)] | None = None
    high: Annotated[StrictFloat | StrictInt, AfterValidator(_finite)] | None = None
    pct: Annotated[StrictFloat | StrictInt, AfterValidator(_finite)] | None = Field(
        None, gt=0, lt=1
    )
    op: Literal["set", "scale", "shift"] | None = None
    source: Text | None = None


class GridAxis(Frozen):
    path: str
    values: list[Annotated[StrictFloat | StrictInt, AfterValidator(_finite)]] = Field(min_length=2)
    op: Literal["set", "scale", "shift"] | None = None


class Grid(Frozen):
    x: GridAxis
    y: GridAxis
    metric: str | None = None


class Sensitivity(Frozen):
    """Tornado bars (and an optional two-way grid) for ``finmodel sensitivity``."""

    metric: str = "funding_gap"
    pct: Annotated[StrictFloat | StrictInt, AfterValidator(_finite)] = Field(0.2, gt=0, lt=1)
    parameters: list[SensitivityBar] = []
    grid: Grid | None = None


class Terminal(Frozen):
    """Terminal value at the horizon: perpetual growth of FCF, or a multiple of the last
    twelve months' revenue or EBITDA."""

    kind_field = "method"

    method: Literal["growth", "multiple"]
    growth: GrowthRate | None = None
    multiple: Factor | None = None
    of: Literal["revenue", "ebitda"] = "revenue"

    @model_validator(mode="after")
    def _fields(self) -> Terminal:
        if self.method == "growth" and self.growth is None:
            raise ValueError(
                "growth: expected a perpetual growth rate for method 'growth', got none"
            )
        if self.method == "multiple" and self.multiple is None:
            raise ValueError("multiple: expected an exit multiple for method 'multiple', got none")
        return self


class Holder(Frozen):
    name: Name
    stake: Annotated[StrictFloat | StrictInt, AfterValidator(_finite)] = Field(ge=0, le=1)
    source: Text | None = None
    note: Text | None = None


class RaisePolicy(Frozen):
    """Turn the funding-need schedule into dated rounds: raise when the runway (on the path
    with the rounds raised so far) falls below ``runway_below_months``, enough to cover the
    need ``cover_months`` ahead, within ``min_round``..``max_round``; priced at
    ``revenue_multiple`` x the next twelve months' revenue, or from ``pre_money`` by year."""

    alternatives = ((frozenset({"revenue_multiple"}), frozenset({"pre_money"})),)

    runway_below_months: StrictInt = Field(12, ge=0, le=1200)
    cover_months: StrictInt = Field(18, ge=1, le=1200)
    min_round: Amount | None = None
    max_round: Amount | None = None
    revenue_multiple: Num | None = None
    pre_money: YearsOnly | None = None
    investor: Name = "New investors"

    @model_validator(mode="after")
    def _pricing(self) -> RaisePolicy:
        if self.revenue_multiple is not None and self.pre_money is not None:
            raise ValueError(
                "pre_money: expected exactly one of 'revenue_multiple' or 'pre_money' to price "
                "rounds, got both (at revenue_multiple)"
            )
        if self.revenue_multiple is None and self.pre_money is None:
            raise ValueError(
                "expected exactly one of 'revenue_multiple' or 'pre_money' to price rounds, "
                "got neither"
            )
        lo, hi = self.min_round, self.max_round
        if lo is not None and hi is not None and lo.value > hi.value:
            raise ValueError(
                f"max_round: expected an amount >= min_round ({lo.value:g}), got {shown(hi.value)}"
            )
        if self.revenue_multiple is not None and self.revenue_multiple.value <= 0:
            raise ValueError(
                "revenue_multiple: expected a multiple > 0, got "
                f"{shown(self.revenue_multiple.value)}"
            )
        for y, x in (self.pre_money or {}).items():
            if x.value <= 0:
                raise ValueError(f"pre_money.{y}: expected a valuation > 0, got {shown(x.value)}")
        return self


class Exit(Frozen):
    """An exit (a sale or a listing) at ``value``: the equity value shared among holders."""

    date: Month
    value: ExitAmount


class Valuation(Frozen):
    """DCF inputs, the cap table at the valuation date, a raise policy and an exit."""

    date: Month
    discount_rate: DiscountRate
    mid_period: bool = True
    terminal: Terminal
    holders: list[Holder] = []
    raise_policy: RaisePolicy | None = None
    exit: Exit | None = None
    preference: Preference = Preference()

    @model_validator(mode="after")
    def _checks(self) -> Valuation:
        r = self.discount_rate.value
        t = self.terminal
        if t.method == "growth" and t.growth is not None and t.growth.value >= r:
            raise ValueError(
                f"terminal.growth: expected a growth rate below the discount rate {r:g} "
                f"(Gordon growth diverges for g >= r), got {shown(t.growth.value)}"
            )
        if self.holders:
            total = sum(h.stake for h in self.holders)
            if abs(total - 1.0) > 1e-6:
                raise ValueError(f"holders: expected stakes summing to 1, got {total:.6g}")
            unique_names([h.name for h in self.holders], "holders", "name")
        return self


class Assumptions(Frozen):
    """A validated scenario. Build it with :func:`finmodel.load`."""

    name: Name
    company: Name
    description: Text | None = None
    currency: Name = "USD"
    unit: Literal["thousand", "million", "billion"] = "billion"
    start: Month
    end: Month
    opening: Opening
    revenue: Revenue
    costs: Costs = Costs()
    commitments: list[Commitment] = []
    milestones: dict[Name, PointPath] = {}
    funding: Funding = Funding()
    adjust: dict[str, Adjustment] = {}
    valuation: Valuation | None = None
    uncertainty: Uncertainty | None = None
    sensitivity: Sensitivity | None = None
    targets: list[Target] = []
    notes: Text | list[Text] | None = None

    @model_validator(mode="wrap")
    @classmethod
    def _constants(cls, data: Any, handler: ModelWrapValidatorHandler[Assumptions]) -> Assumptions:
        """Validate with the start year at hand, so that a plain number given for a path by
        period means that value every year (see :data:`YearPath`)."""
        year = None
        if isinstance(data, dict) and isinstance(data.get("start"), str):
            try:
                year = parse_month(data["start"])[0]
            except ValueError:
                year = None
        token = _CONSTANT_YEAR.set(year)
        try:
            return handler(data)
        finally:
            _CONSTANT_YEAR.reset(token)

    @model_validator(mode="after")
    def _horizon(self) -> Assumptions:
        first = month_index(*parse_month(self.start))
        last = month_index(*parse_month(self.end))
        if last < first:
            raise ValueError(
                f"end: expected a month not before start ({self.start}), got {self.end}"
            )
        if last - first >= MAX_MONTHS:
            raise ValueError(
                f"end: expected a horizon of at most {MAX_MONTHS // 12} years, got "
                f"{(last - first + 1) / 12:g} years"
            )
        lo, hi = first // 12, last // 12
        for where, path in _year_paths(self):
            if not path:
                raise ValueError(f"{where}: expected at least one year with a value, got none")
            bad = [
                k
                for k in path
                if not lo - PATH_MARGIN <= parse_period_key(k)[1] // 12 <= hi + PATH_MARGIN
            ]
            if bad:
                raise ValueError(
                    f"{where}.{bad[0]}: expected a period within {PATH_MARGIN} years of the "
                    f"horizon ({lo - PATH_MARGIN}..{hi + PATH_MARGIN}), got {bad[0]}"
                )

        def before_horizon(field: str, month: str) -> None:
            """A month whose closing balance is read: from the month before the start (the
            opening balance) to the one before the end (so a month is left to project)."""
            if not first - 1 <= month_index(*parse_month(month)) <= last - 1:
                raise ValueError(
                    f"{field}: expected a month from the one before the start to the one "
                    f"before the end ({month_label(first - 1)}..{month_label(last - 1)}), "
                    f"got {month}"
                )

        if self.opening.as_of is not None:
            before_horizon("opening.as_of", self.opening.as_of)
        names = [c.counterparty for c in self.commitments]
        unique_names(names, "commitments", "counterparty")
        unique_names([i.name for i in self.funding.inflows], "funding.inflows", "name")
        unique_names([f.name for f in self.funding.facilities], "funding.facilities", "name")
        unique_names([s.name for s in self.revenue.segments], "revenue.segments", "name")
        unique_keys(list(self.milestones), "milestones", "milestone names")
        for n, t in enumerate(self.targets):
            span = parse_period(t.period)
            if span is not None and not (lo <= span[0] and span[1] <= hi):
                raise ValueError(
                    f"targets[{n}].period: expected years within the horizon {lo}..{hi}, "
                    f"got {t.period}"
                )
        v = self.valuation
        if v is not None:
            before_horizon("valuation.date", v.date)
            vd = month_index(*parse_month(v.date))
            if v.exit is not None and not vd < month_index(*parse_month(v.exit.date)):
                raise ValueError(
                    f"valuation.exit.date: expected a month after {v.date}, got {v.exit.date}"
                )
        for i in self.funding.inflows:
            if i.date is not None and not first <= month_index(*parse_month(i.date)) <= last:
                raise ValueError(
                    f"funding.inflows.{slug(i.name)}.date: expected a month within the horizon "
                    f"{self.start}..{self.end}, got {i.date}"
                )
            if (
                i.kind == "equity"
                and "raise_policy" in i.rule
                and (v is None or v.raise_policy is None)
            ):
                raise ValueError(
                    f"funding.inflows.{slug(i.name)}.pricing: expected a valuation.raise_policy "
                    "to price by 'raise_policy', got none (give the inflow a pre_money or "
                    "post_money, or pricing: last_round)"
                )
            if i.milestone is not None and i.milestone not in self.milestones:
                known = ", ".join(sorted(self.milestones)) or "none defined"
                raise ValueError(
                    f"funding.inflows.{slug(i.name)}.milestone: expected one of the "
                    f"milestones ({known}), got {i.milestone!r}"
                )
        return self


def unique_names(names: list[str], where: str, field: str) -> None:
    """Refuse two names whose identifiers (:func:`slug`) coincide, naming both spellings:
    ``'ORACLE!'`` and ``'Oracle'`` would share every parameter path and line item. The
    error is located at the second; ``(at PATH)`` names the first (the loader adds its
    line)."""
    plural = f"{field[:-1]}ies" if field.endswith("y") else f"{field}s"
    seen: dict[str, int] = {}
    for i, n in enumerate(names):
        s = slug(n)
        if s in seen:
            j = seen[s]
            first = names[j]
            if first == n:
                raise ValueError(
                    f"{where}[{i}].{field}: expected unique {plural}, got {n!r} twice "
                    f"(at {where}[{j}].{field})"
                )
            raise ValueError(
                f"{where}[{i}].{field}: expected {plural} that differ once reduced to "
                f"identifiers, got {n!r} and {first!r} (at {where}[{j}].{field}), which both "
                f"become {s!r}"
            )
        seen[s] = i


def _key_path(where: str, key: str) -> str | None:
    """``where.key`` when the located-message parser can follow it (an identifier-like
    key), else None."""
    return f"{where}.{key}" if re.fullmatch(r"[A-Za-z_][\w-]*", key) else None


def unique_keys(keys: list[str], where: str, what: str) -> None:
    """Refuse mapping keys whose identifiers coincide (``counterparties``, ``milestones``):
    the message names both spellings; the error is located at the second key when the
    parser can follow it (else at the mapping), ``(at PATH)`` names the first."""
    seen: dict[str, str] = {}
    for k in keys:
        s = slug(k)
        if s in seen:
            first = _key_path(where, seen[s])
            raise ValueError(
                f"{_key_path(where, k) or where}: expected {what} that differ once reduced to "
                f"identifiers, got {k!r} and {seen[s]!r}{f' (at {first})' if first else ''}, "
                f"which both become {s!r}"
            )
        seen[s] = k


def slug(text: str) -> str:
    """Identifier form of a name, used in parameter paths and defined names.

    Accents are folded (NFKD, then ASCII letters, digits and ``_`` kept), runs of anything
    else become ``_``, and the result is lower-cased. A name with no ASCII letter or digit
    left (``'!!!'``, emoji, a non-Latin script) gets ``item_`` and the first 8 hex digits of
    the SHA-256 of its letters and digits in any script (NFKC, case folded), or of its NFC
    text when it has none: stable across runs and machines, the same for names that differ
    only by punctuation, space or case, different otherwise.

    >>> slug("Microsoft Azure")
    'microsoft_azure'
    >>> slug("Series D (2027)")
    'series_d_2027'
    >>> slug("Société Générale")
    'societe_generale'
    >>> slug("甲骨文")
    'item_3f04a640'
    """
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    s = re.sub(r"[^0-9a-zA-Z]+", "_", folded).strip("_").lower()
    if s:
        return s
    # no ASCII letter or digit: hash the name's own letters and digits (any script), case
    # folded, so '甲骨文', '甲骨文!' and '甲骨文 ' are one identifier as 'Oracle' and 'ORACLE!'
    # are; a name with none at all (emoji, punctuation) hashes its whole text
    core = "".join(c for c in unicodedata.normalize("NFKC", text).casefold() if c.isalnum())
    key = core or unicodedata.normalize("NFC", text)
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    return f"item_{digest[:8]}"


def _year_paths(a: Assumptions) -> list[tuple[str, Mapping[int | str, Sourced]]]:
    """Every period path of the file with its parameter path (for horizon checks)."""
    out: list[tuple[str, Mapping[int | str, Sourced]]] = []
    r = a.revenue
    if r.annual:
        out.append(("revenue.annual", r.annual))
    if r.growth:
        out.append(("revenue.growth.rates", r.growth.rates))
    if r.users:
        if r.users.count:
            out.append(("revenue.users.count", r.users.count))
        out.append(("revenue.users.paying_share", r.users.paying_share))
        out.append(("revenue.users.price", r.users.price))
    for s in r.segments:
        out.append((f"revenue.segments.{slug(s.name)}.market", s.market))
        out.append((f"revenue.segments.{slug(s.name)}.share", s.share))
    for name in COST_LINES:
        spec = getattr(a.costs, name)
        if spec is not None:
            if spec.annual:
                out.append((f"costs.{name}.annual", spec.annual))
            if spec.share_of_revenue:
                out.append((f"costs.{name}.share_of_revenue", spec.share_of_revenue))
    if a.costs.capex:
        out.append(("costs.capex.annual", a.costs.capex.annual))
    return out


COST_LINES = (
    "cost_of_revenue",
    "compute",
    "staff",
    "sales_marketing",
    "general_admin",
    "revenue_share",
    "stock_comp",
)
