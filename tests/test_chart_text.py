"""Text from a file in the PNG charts: every label is drawn with a font that has its
characters, or replaced by the item's identifier (or ``<U+XXXX>`` code points in free text)
with a footnote; never as empty boxes. pytest runs with warnings as errors, so matplotlib's
``Glyph ... missing from font(s)`` warning fails any test that draws a box."""

from __future__ import annotations

import hashlib
import json
import unicodedata
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import matplotlib
import pytest
from matplotlib.text import Text

import finmodel
import finmodel.network as net_mod
from finmodel.export import chart_text
from finmodel.export.analysis_sheets import fan_png, tornado_png

matplotlib.use("Agg")
import matplotlib.pyplot as plt

NAMES = [
    "甲骨文",
    "🚀",
    "Oracle [/] 甲骨文 🚀",
    "ОРАКЛ",
    "شركة النفط",
    "$\\frac{a}{b}$ Capital",
    "Script \u210a Bank",  # U+210A: in STIXGeneral (shipped with matplotlib), not DejaVu Sans
    "Unassigned \u0378",  # U+0378: no character, so no font has it
]


def _ident(name: str) -> str:
    """The name's identifier by the documented rule (docs/methodology.md, Names), computed
    here independently of finmodel: ASCII letters and digits (accents folded) joined by
    '_' and lower-cased, or item_ and the first 8 hex digits of the SHA-256 of its letters
    and digits in any script (NFKC, case folded), or of its NFC text when it has none."""
    ascii_ = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    words = "".join(c if c.isalnum() else " " for c in ascii_).split()
    if words:
        return "_".join(words).lower()
    core = "".join(c for c in unicodedata.normalize("NFKC", name).casefold() if c.isalnum())
    key = (core or unicodedata.normalize("NFC", name)).encode("utf-8")
    return "item_" + hashlib.sha256(key).hexdigest()[:8]


def _matplotlib_draws(text: str, families: list[str]) -> bool:
    """Whether matplotlib itself, given every family in ``families``, draws ``text`` without
    a missing glyph: the renderer's own verdict, independent of chart_text's checks."""
    fig = plt.figure(figsize=(4, 1))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with matplotlib.rc_context({"text.parse_math": False, "font.family": families}):
            fig.text(0.1, 0.5, text)
            fig.canvas.draw()
    plt.close(fig)
    return not any("missing from font" in str(w.message) for w in caught)


@pytest.fixture(params=["installed fonts", "DejaVu only"])
def fonts(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The machine's fonts as they are, and a fresh Debian machine's (CI's): only the fonts
    that ship with matplotlib."""
    if request.param == "DejaVu only":
        monkeypatch.setattr(chart_text, "fallback_families", lambda: ("DejaVu Sans", "STIXGeneral"))
    chart_text.font_for.cache_clear()
    yield request.param
    chart_text.font_for.cache_clear()


def _texts(fig: Any) -> list[Text]:
    return [t for t in fig.findobj(Text) if t.get_text()]


def test_the_independent_identifiers_match_the_loader() -> None:
    from finmodel.assumptions.schema import slug

    for name in NAMES:
        assert slug(name) == _ident(name), name


NETWORK = """\
name: Circle
company: Co
parties:
{parties}
counterparties:
{mapping}
"""


def _q(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)  # a YAML double-quoted string


def _network(write_yaml: Callable[..., Path]) -> tuple[Any, dict[str, Any]]:
    scenario = write_yaml(
        "name: Names\ncompany: Co\nstart: 2026-01\nend: 2027-12\nopening: {cash: 1}\n"
        "revenue: {annual: {2026: 1}}\ncosts: {compute: {annual: {2026: 10, 2027: 10}}}\n"
        "commitments:\n"
        + "".join(
            f"  - {{counterparty: {_q(n)}, amount: {k + 1}, start: 2026-01, years: 1}}\n"
            for k, n in enumerate(NAMES)
        )
    )
    res = finmodel.run(scenario)
    text = NETWORK.format(
        parties="  - name: Co\n"
        + "".join(f"  - {{name: {_q(n)}, liquid_assets: 1}}\n" for n in NAMES),
        mapping="".join(f"  {_q(n)}: {_q(n)}\n" for n in NAMES),
    )
    net, _ = net_mod.load_network(write_yaml(text, "net.yaml"))
    g = net_mod.build_graph(res, net)
    rep = net_mod.report(g, net_mod.cascade(g, g.base, None))
    return g, rep


def test_network_labels_are_names_or_identifiers_never_boxes(
    fonts: str, figures: list[Any], write_yaml: Callable[..., Path], tmp_path: Path
) -> None:
    g, rep = _network(write_yaml)
    # warnings are errors (pyproject): a missing glyph while saving fails here
    net_mod.network_png(g, rep, tmp_path / "graph.png")
    [fig] = figures
    ax = fig.axes[0]
    # a long name is wrapped at its spaces to fit its node
    drawn = {t.get_text().replace("\n", " "): t for t in ax.texts}
    every = [chart_text.default_family(), *chart_text.fallback_families()]
    replaced = []
    for name in NAMES:
        if _matplotlib_draws(name, every):
            assert name in drawn, (fonts, name, sorted(drawn))
        else:
            assert _ident(name) in drawn and name not in drawn, (fonts, name, sorted(drawn))
            replaced.append(_ident(name))
    # never drawable: an unassigned code point
    assert "unassigned" in replaced
    # always drawable on any machine: DejaVu Sans has Cyrillic and Arabic, STIXGeneral
    # (shipped with matplotlib) has U+210A, '$' is text, not mathematics
    for name in ("ОРАКЛ", "شركة النفط", "Script \u210a Bank", "$\\frac{a}{b}$ Capital"):
        assert name in drawn
        assert all(
            any(chart_text.has_glyph(f, c) for f in drawn[name].get_fontfamily())
            for c in name
            if c != " "
        ), name
    if fonts == "DejaVu only":
        assert sorted(replaced) == sorted(["unassigned", _ident("甲骨文"), _ident("🚀"), "oracle"])
    assert all(t.get_parse_math() is False for t in _texts(fig))
    [note] = [t.get_text().replace("\n", " ") for t in fig.texts]
    order = [i for i in (_ident(n) for n in NAMES) if i in replaced]
    assert note == (
        "Names no installed font can draw, shown by their identifier (as in the workbook): "
        + ", ".join(order)
        + "."
    )


def test_fan_chart_unit_in_another_script(
    fonts: str, figures: list[Any], write_yaml: Callable[..., Path], tmp_path: Path
) -> None:
    from finmodel.analysis.montecarlo import simulate
    from finmodel.engine.model import build

    model = build(
        finmodel.load(
            write_yaml("""
                name: Fan
                company: Co
                start: 2026-01
                end: 2027-12
                opening: {cash: 10}
                revenue: {annual: {2026: 10}}
                uncertainty:
                  draws: 50
                  seed: 1
                  parameters:
                    opening.cash: {dist: uniform, low: 5, high: 15}
            """)
        )
    )
    mc = simulate(model, None)
    unit = "人民币 \u0378 billion"
    fan_png(mc, tmp_path / "fan.png", unit)
    [fig] = figures
    label = fig.axes[0].get_ylabel()
    every = [chart_text.default_family(), *chart_text.fallback_families()]
    cjk = "人民币" if _matplotlib_draws("人民币", every) else "<U+4EBA><U+6C11><U+5E01>"
    if fonts == "DejaVu only":
        assert cjk == "<U+4EBA><U+6C11><U+5E01>"
    assert label == f"{cjk} <U+0378> billion"
    assert [t.get_text().replace("\n", " ") for t in fig.texts] == [
        "<U+XXXX>: a character no installed font can draw, by its code point."
    ]


def test_tornado_labels_are_the_parameter_paths(
    figures: list[Any], write_yaml: Callable[..., Path], tmp_path: Path
) -> None:
    from finmodel.analysis.sensitivity import TornadoSpec, tornado
    from finmodel.engine.model import build

    model = build(
        finmodel.load(
            write_yaml("""
                name: T
                company: Co
                start: 2026-01
                end: 2027-12
                opening: {cash: 10}
                revenue: {annual: {2026: 10}}
                commitments:
                  - {counterparty: 甲骨文, amount: 4, start: 2026-01, years: 1}
            """)
        )
    )
    path = f"commitments.{_ident('甲骨文')}.amount"
    df = tornado(
        model, "trough_unfunded_cash", [TornadoSpec("opening.cash"), TornadoSpec(path)], 0.2
    )
    tornado_png(df, tmp_path / "t.png")
    [fig] = figures
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert sorted(ticks) == sorted(["opening.cash", path])
    assert fig.texts == []  # nothing replaced, no footnote
