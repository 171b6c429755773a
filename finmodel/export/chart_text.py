"""Text from a file in a chart: drawn with installed fonts that have every character, or
replaced by a readable substitute, never by empty boxes.

matplotlib draws a character its fonts lack as a box ("tofu") and warns ``Glyph ... missing
from font(s)``. Each chart therefore decides, before it draws, what every piece of text
from a file becomes:

* the text as written, when the default font (DejaVu Sans, which covers Latin, Greek,
  Cyrillic, Arabic, Hebrew and more) or an installed fallback font has a glyph for each of
  its characters. Fallback fonts are found by asking each installed font for the character
  (``FT2Font.get_char_index``), not by guessing from Unicode ranges, and the chart's text is
  drawn with the family list ``[default, fallback, ...]`` (matplotlib's per-glyph font
  fallback, matplotlib >= 3.6);
* otherwise, for a named item (a network party, a commitment), its identifier: the same
  ``item_xxxxxxxx`` or ``oracle`` the workbook's parameter paths and line items use
  (:func:`finmodel.assumptions.schema.slug`), and a footnote under the chart says which
  names are shown that way;
* otherwise, for free text with no identifier (a currency in an axis label), each character
  no font has is written as its code point, ``<U+7532>``, and the footnote says so.

Fonts bundled with matplotlib for mathematics (Computer Modern, the STIX size variants) and
its Last Resort font (which draws every character as a labelled box) are never fallbacks;
neither is a font without outlines (a colour bitmap emoji font such as Noto Color Emoji,
which matplotlib cannot draw). Installing, for example, Debian's ``fonts-noto-cjk`` (Chinese,
Japanese, Korean) or ``fonts-symbola`` (emoji in outline) makes those names drawn as written.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BUNDLED_TEXT_FONTS = frozenset({"DejaVu Sans", "DejaVu Sans Mono", "DejaVu Serif", "STIXGeneral"})
"""The fonts shipped inside matplotlib that are text fonts with a Unicode character map (its
other bundled fonts lay out mathematics or draw placeholder boxes)."""

LINE_BREAK = "\n"


def default_family() -> str:
    """The family matplotlib draws text in by default (``font.family``, DejaVu Sans unless
    a matplotlibrc says otherwise)."""
    from matplotlib import font_manager as fm

    return str(fm.get_font(fm.findfont(fm.FontProperties())).family_name)


@functools.cache
def _font(family: str) -> Any:
    """The regular face matplotlib uses for ``family`` (its cached ``FT2Font``), or None when
    the family is not installed or has no outlines."""
    from matplotlib import font_manager as fm
    from matplotlib import ft2font

    try:
        path = fm.findfont(fm.FontProperties(family=family), fallback_to_default=False)
    except ValueError:
        return None
    font = fm.get_font(path)
    # FaceFlags is an enum from matplotlib 3.10 on; before it, matplotlib's font list holds
    # only fonts it could load
    flags: Any = getattr(ft2font, "FaceFlags", None)
    scalable = flags is None or flags.SCALABLE in font.face_flags
    return font if scalable else None


def has_glyph(family: str, ch: str) -> bool:
    """True if ``family``'s regular face maps the character ``ch`` to a glyph."""
    font = _font(family)
    return font is not None and bool(font.get_char_index(ord(ch)) != 0)


@functools.cache
def fallback_families() -> tuple[str, ...]:
    """Every installed text font family that may stand in for a missing character: the
    system's fonts and matplotlib's :data:`BUNDLED_TEXT_FONTS` that have a regular face,
    sans-serif families first, then by name (so the choice is the same on every run)."""
    import matplotlib
    from matplotlib import font_manager as fm

    data = Path(matplotlib.get_data_path()).resolve()
    names: set[str] = set()
    for entry in fm.fontManager.ttflist:
        if entry.style != "normal" or entry.weight not in (400, "normal", "regular"):
            continue  # a family is used in its regular face: one without it is no fallback
        bundled = Path(entry.fname).resolve().is_relative_to(data)
        if not bundled or entry.name in BUNDLED_TEXT_FONTS:
            names.add(entry.name)
    return tuple(sorted(names, key=lambda n: ("Sans" not in n, "Mono" in n, n)))


@functools.cache
def font_for(ch: str, default: str) -> str | None:
    """The family that draws ``ch``: ``default`` if it has it, else the first of
    :func:`fallback_families` that does, else None (no installed font has it)."""
    if has_glyph(default, ch):
        return default
    return next((f for f in fallback_families() if has_glyph(f, ch)), None)


def _visible(text: str) -> str:
    """``text`` with tabs and other control characters (which no font draws) as spaces;
    line breaks are kept."""
    return "".join(
        c if c == LINE_BREAK or not (ord(c) < 32 or 127 <= ord(c) < 160) else " " for c in text
    )


@dataclass
class ChartText:
    """What one chart draws for each text from a file, and the fonts it draws them with.

    >>> ct = ChartText()
    >>> ct.name("Oracle", "oracle"), ct.name("\\u0378", "item_0123abcd")  # U+0378: unassigned
    ('Oracle', 'item_0123abcd')
    >>> ct.text("USD \\u0378")
    'USD <U+0378>'
    >>> print(ct.footnote())  # doctest: +NORMALIZE_WHITESPACE
    Names no installed font can draw, shown by their identifier (as in the workbook):
    item_0123abcd. <U+XXXX>: a character no installed font can draw, by its code point.
    """

    default: str = field(default_factory=default_family)
    families: list[str] = field(default_factory=list)
    """The family list the chart's text is drawn with: the default, then fallbacks."""
    as_ids: list[str] = field(default_factory=list)
    coded: bool = False

    def __post_init__(self) -> None:
        if not self.families:
            self.families = [self.default]

    def _fonts(self, text: str) -> list[str | None]:
        return [font_for(c, self.default) for c in text if c != LINE_BREAK]

    def _use(self, fonts: list[str | None]) -> None:
        for f in fonts:
            if f is not None and f not in self.families:
                self.families.append(f)

    def drawable(self, text: str) -> bool:
        """True if installed fonts have every character of ``text`` (control characters
        aside, which are drawn as spaces)."""
        return None not in self._fonts(_visible(text))

    def name(self, text: str, ident: str) -> str:
        """A named item's label: its name if drawable, else its identifier ``ident``."""
        shown = _visible(text)
        fonts = self._fonts(shown)
        if None in fonts:
            if ident not in self.as_ids:
                self.as_ids.append(ident)
            return ident
        self._use(fonts)
        return shown

    def text(self, text: str) -> str:
        """Free text: as written, with each character no font has written ``<U+XXXX>``."""
        out: list[str] = []
        for c in _visible(text):
            f = None if c == LINE_BREAK else font_for(c, self.default)
            if f is None and c != LINE_BREAK:
                out.append(f"<U+{ord(c):04X}>")
                self.coded = True
            else:
                out.append(c)
                self._use([f])
        return "".join(out)

    def footnote(self) -> str | None:
        """The note under the chart when a name or character was replaced, else None."""
        parts = []
        if self.as_ids:
            parts.append(
                "Names no installed font can draw, shown by their identifier (as in the "
                "workbook): " + ", ".join(self.as_ids) + "."
            )
        if self.coded:
            parts.append("<U+XXXX>: a character no installed font can draw, by its code point.")
        return " ".join(parts) or None

    @contextlib.contextmanager
    def drawing(self) -> Iterator[None]:
        """Within the block, new text is drawn as written (``$...$`` is not mathematics:
        ``text.parse_math`` off) in the chart's family list. Make the figure and save it
        inside the block."""
        import matplotlib

        with matplotlib.rc_context({"text.parse_math": False, "font.family": self.families}):
            yield

    def add_footnote(self, fig: Any) -> float:
        """Write :meth:`footnote` at the bottom of ``fig``; returns the height (a fraction of
        the figure) to keep free for it in ``tight_layout(rect=...)``, 0 when there is none."""
        note = self.footnote()
        if note is None:
            return 0.0
        import textwrap

        width_in = fig.get_figwidth()
        lines = textwrap.wrap(note, width=max(40, int(width_in * 15)))
        fig.text(0.01, 0.01, "\n".join(lines), fontsize=7, ha="left", va="bottom", color="#404040")
        height: float = fig.get_figheight()
        return (len(lines) * 7 * 1.3 + 6) / 72 / height


def relative_luminance(rgba: tuple[float, ...]) -> float:
    """The relative luminance of an sRGB colour (components in [0, 1]), WCAG 2.1:
    ``0.2126 R + 0.7152 G + 0.0722 B`` of the linearised components
    ``c / 12.92`` (c <= 0.04045) or ``((c + 0.055) / 1.055) ** 2.4``."""
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgba[:3]]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def text_colour_on(fill: tuple[float, ...]) -> str:
    """``"black"`` or ``"white"``, whichever contrasts more with ``fill`` (an RGB or RGBA
    tuple in [0, 1]) by the WCAG contrast ratio ``(L1 + 0.05) / (L2 + 0.05)``: white when
    the fill's relative luminance is below ``sqrt(1.05 * 0.05) - 0.05`` (about 0.179).
    Either choice has a contrast of at least 4.58 (the WCAG AA threshold is 4.5).

    >>> text_colour_on((0.0, 0.4, 0.0)), text_colour_on((1.0, 1.0, 0.8))
    ('white', 'black')
    """
    lum = relative_luminance(fill)
    return "white" if (1.05) / (lum + 0.05) > (lum + 0.05) / 0.05 else "black"
