"""The network chart (``finmodel network``'s ``-graph.png``): each party drawn in its own
colour, its own default marked, its name readable and inside its node, arrows visible.

The figure is kept open after saving and read back from matplotlib's objects: the nodes'
collection (positions, fills, outlines, sizes), the labels (positions, text, colour) and
the arrows; every expected value comes from the cascade's report, never from the chart's
own code."""

from __future__ import annotations

from typing import Any

import matplotlib
import numpy as np
import pytest
from matplotlib.collections import PathCollection
from matplotlib.patches import FancyArrowPatch

import finmodel
from finmodel import network as nw
from finmodel.export.chart_text import text_colour_on

matplotlib.use("Agg")


def _wcag_luminance(rgb: Any) -> float:
    """WCAG 2.1 relative luminance, written here from the standard's definition."""
    c = np.asarray(rgb[:3], dtype=float)
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return float(lin @ np.array([0.2126, 0.7152, 0.0722]))


def _contrast(a: Any, b: Any) -> float:
    la, lb = sorted((_wcag_luminance(a), _wcag_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


@pytest.fixture(scope="module")
def trial() -> tuple[nw.Graph, nw.Cascade, dict[str, Any]]:
    """The new-user trial: `finmodel network openai-plan-2026q1 --network network-2025
    --shortfall 0.3`, where Blue Owl lost nothing and Other lenders lost 3.76 of 32.4
    owed, but the chart drew Blue Owl at ~0.115 and Other lenders at 0."""
    res = finmodel.run("openai-plan-2026q1")
    net, _ = nw.load_network("network-2025", unit=res.assumptions.unit)
    g = nw.build_graph(res, net)
    cas = nw.cascade(g, g.base, 0.3)
    return g, cas, nw.report(g, cas)


def _drawn(fig: Any) -> tuple[Any, PathCollection, dict[str, Any]]:
    """The axes, the nodes' collection and each party's label (by its name's first line)."""
    ax = fig.axes[0]
    [coll] = [c for c in ax.collections if isinstance(c, PathCollection)]
    labels = {t.get_text().split("\nin default")[0].replace("\n", " "): t for t in ax.texts}
    return ax, coll, labels


def _node_at(coll: PathCollection, xy: tuple[float, float]) -> int:
    """The index of the node drawn at ``xy`` (data coordinates)."""
    d = np.hypot(*(coll.get_offsets() - np.asarray(xy)).T)
    k = int(np.argmin(d))
    assert d[k] < 1e-9, (xy, d[k])
    return k


def test_each_party_is_filled_by_its_own_share_lost(
    trial: tuple[nw.Graph, nw.Cascade, dict[str, Any]], figures: list[Any], tmp_path: Any
) -> None:
    g, cas, rep = trial
    nw.network_png(g, rep, tmp_path / "graph.png")
    [fig] = figures
    _, coll, labels = _drawn(fig)
    fills = coll.get_facecolors()
    assert len(fills) == len(g.parties)
    # the chart's own scale, as its colorbar shows it (matplotlib keeps the Colorbar on its
    # axes as ``_colorbar``)
    [cbar] = [a._colorbar for a in fig.axes if getattr(a, "_colorbar", None) is not None]
    scale = cbar.mappable

    def cmap(x: float) -> Any:
        return scale.cmap(scale.norm(x))

    # what was owed to each party, summed over the cascade's years and payers
    owed_to = cas.owed_to[0].sum(axis=0)
    lost = rep["parties"]["shortfall_received"]
    shares = {}
    # the parties owed something first: the old chart's fault was their order
    for i in sorted(range(len(g.parties)), key=lambda i: owed_to[i] == 0):
        p = g.parties[i]
        k = _node_at(coll, labels[p].get_position())
        if owed_to[i] > 0:
            shares[p] = lost[p] / owed_to[i]
            expected = cmap(shares[p])
        else:  # nothing owed to it: the scale's colour for "no value"
            expected = cmap(np.nan)
        np.testing.assert_allclose(fills[k], expected, atol=1e-12, err_msg=p)
    # the trial's two parties: Blue Owl lost nothing (the colormap's 0), Other lenders
    # about 3.76 of 32.4 (the report's numbers); the old chart swapped them
    assert lost["Blue Owl"] == 0.0 and owed_to[g.index("Blue Owl")] > 0
    assert shares["Other lenders"] == pytest.approx(3.76 / 32.4, abs=0.002)
    k_owl = _node_at(coll, labels["Blue Owl"].get_position())
    k_oth = _node_at(coll, labels["Other lenders"].get_position())
    np.testing.assert_allclose(fills[k_owl], cmap(0.0), atol=1e-12)
    assert not np.allclose(fills[k_oth], cmap(0.0))
    assert scale.cmap.get_bad().tolist() == [1.0, 1.0, 1.0, 1.0]  # white: nothing owed
    # the scale says what the fill is, on a share's full range
    assert (scale.norm.vmin, scale.norm.vmax) == (0.0, 1.0)
    assert "owed to the party that did not arrive" in cbar.ax.get_ylabel()


def test_a_party_in_default_is_outlined_and_says_since_when(
    trial: tuple[nw.Graph, nw.Cascade, dict[str, Any]], figures: list[Any], tmp_path: Any
) -> None:
    g, _, rep = trial
    nw.network_png(g, rep, tmp_path / "graph.png")
    [fig] = figures
    _, coll, labels = _drawn(fig)
    widths = coll.get_linewidths()
    parties = rep["parties"]
    # in the trial the company (OpenAI), CoreWeave and SoftBank default (the report's table)
    assert {p for p in g.parties if parties.at[p, "years_in_default"] > 0} == {
        "OpenAI",
        "CoreWeave",
        "SoftBank",
    }
    for p in g.parties:
        k = _node_at(coll, labels[p].get_position())
        years = int(parties.at[p, "years_in_default"])
        text = labels[p].get_text()
        if years:
            assert widths[k] == nw.DEFAULT_EDGE[1], p
            more = f" +{years - 1}y" if years > 1 else ""
            assert text.endswith(f"in default\n{parties.at[p, 'first_default']}{more}"), text
        else:
            assert widths[k] == nw.PLAIN_EDGE[1], p
            assert "default" not in text, text


def test_labels_are_readable_inside_their_nodes_and_arrows_reach_the_rims(
    trial: tuple[nw.Graph, nw.Cascade, dict[str, Any]], figures: list[Any], tmp_path: Any
) -> None:
    g, _, rep = trial
    nw.network_png(g, rep, tmp_path / "graph.png")
    [fig] = figures
    ax, coll, labels = _drawn(fig)
    renderer = fig.canvas.get_renderer()
    fills = coll.get_facecolors()
    [size] = set(coll.get_sizes())  # one size for every node: size is not a measure
    radius_px = np.sqrt(size) / 2 * fig.dpi / 72
    for p in g.parties:
        t = labels[p]
        k = _node_at(coll, t.get_position())
        # WCAG AA for normal text: contrast >= 4.5 with the node's fill
        assert _contrast(matplotlib.colors.to_rgba(t.get_color()), fills[k]) >= 4.5, p
        # the label's box lies inside the node's circle (no name overflows)
        box = t.get_window_extent(renderer)
        cx, cy = ax.transData.transform(coll.get_offsets()[k])
        corners = [(box.x0, box.y0), (box.x0, box.y1), (box.x1, box.y0), (box.x1, box.y1)]
        assert max(np.hypot(x - cx, y - cy) for x, y in corners) <= radius_px, p
    # no two nodes overlap: centres at least a diameter apart, on the drawn figure
    centres = ax.transData.transform(coll.get_offsets())
    gaps = np.hypot(*(centres[:, None, :] - centres[None, :, :]).transpose(2, 0, 1))
    assert gaps[~np.eye(len(centres), dtype=bool)].min() >= 2 * radius_px
    # "JPMorgan and MUFG" is wrapped at a space, not drawn on one line across the node
    assert labels["JPMorgan and MUFG"].get_text() == "JPMorgan and\nMUFG"
    # every arrow stops at the target's rim (points), so its head is not under the node
    arrows = [a for a in ax.patches if isinstance(a, FancyArrowPatch)]
    assert len(arrows) == int((g.L.sum(axis=0) > 0).sum())
    for a in arrows:
        assert a.shrinkB >= np.sqrt(size) / 2 - 1e-9


@pytest.mark.parametrize(
    "fill",
    [(0, 0, 0), (1, 1, 1), (0.5, 0.5, 0.5), (0.5, 0, 0.15), (1, 1, 0.8), (0.0, 0.4, 0.0)]
    + [tuple(matplotlib.colormaps["YlOrRd"](x)[:3]) for x in np.linspace(0, 1, 11)],
)
def test_text_colour_is_the_one_with_more_contrast(fill: tuple[float, ...]) -> None:
    chosen = text_colour_on(fill)
    other = "white" if chosen == "black" else "black"
    c_chosen = _contrast(matplotlib.colors.to_rgba(chosen), fill)
    assert c_chosen >= _contrast(matplotlib.colors.to_rgba(other), fill)
    # the better of black and white always passes WCAG AA: (1.05 / 0.05) ** 0.5 = 4.58
    assert c_chosen >= 4.58
