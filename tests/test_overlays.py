"""``extends:`` overlays: merge rules, named list items, locations, hashes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import finmodel
from finmodel.assumptions import load_with_meta
from finmodel.errors import AssumptionError

PARENT = """
name: Parent
company: P
start: 2026-01
end: 2027-12
opening: {cash: 10}
revenue: {annual: {2026: 12, 2027: 24}}
commitments:
  - {counterparty: Cloud One, amount: 12, start: 2026-01, years: 1}
funding:
  inflows:
    - {name: Seed, amount: 1, date: 2026-03}
"""


def test_overlay_merges_maps_and_named_items(write_yaml: Callable[..., Path]) -> None:
    write_yaml(PARENT, "parent.yaml")
    child = write_yaml(
        """
        extends: parent.yaml
        name: Child
        revenue: {scale: 0.5}
        commitments:
          cloud_one: {amount: 24}
        funding:
          inflows:
            - {name: Series A, amount: 5, date: 2027-01}
    """,
        "child.yaml",
    )
    loaded = load_with_meta(child)
    a = loaded.assumptions
    assert a.name == "Child" and a.company == "P"
    assert a.commitments[0].amount is not None and a.commitments[0].amount.value == 24
    assert [i.name for i in a.funding.inflows] == ["Seed", "Series A"]
    assert len(loaded.files) == 2
    res = finmodel.run(child)
    assert res.annual.loc["revenue"].tolist() == pytest.approx([6.0, 12.0])
    assert res.annual.loc["committed_inflows"].tolist() == pytest.approx([1.0, 5.0])


def test_overlay_error_points_into_the_child(write_yaml: Callable[..., Path]) -> None:
    write_yaml(PARENT, "parent.yaml")
    child = write_yaml(
        """
        extends: parent.yaml
        name: Child
        commitments:
          cloud_one: {years: 0}
    """,
        "child.yaml",
    )
    with pytest.raises(
        AssumptionError,
        match=r"child\.yaml:5: commitments\[0\]\.years: expected a number greater than 0",
    ):
        finmodel.load(child)


def test_null_removes_a_key(write_yaml: Callable[..., Path]) -> None:
    write_yaml(PARENT, "parent.yaml")
    child = write_yaml("extends: parent.yaml\ncommitments: null\n", "child.yaml")
    assert finmodel.load(child).commitments == []


def test_hash_covers_every_file(write_yaml: Callable[..., Path]) -> None:
    parent = write_yaml(PARENT, "parent.yaml")
    child = write_yaml("extends: parent.yaml\nname: C\n", "child.yaml")
    h1 = load_with_meta(child).sha256
    parent.write_text(PARENT.replace("cash: 10", "cash: 11"))
    assert load_with_meta(child).sha256 != h1


def test_shipped_names_resolve_from_anywhere() -> None:
    assert finmodel.load("hsbc-2025-11").start == "2025-07"
    assert finmodel.load("hsbc-2025-11.yaml").start == "2025-07"


def test_extends_a_shipped_scenario_by_name_from_anywhere(write_yaml: Callable[..., Path]) -> None:
    child = write_yaml("""
        extends: openai-plan-2025q3.yaml
        name: My buffer case
        funding:
          min_cash: {value: 20, source: "my assumption"}
          facilities: null
    """)
    res = finmodel.run(child)
    base = finmodel.run("openai-plan-2025q3")
    assert res.assumptions.revenue == base.assumptions.revenue
    # without the revolver the unfunded path is the base's cash before any facility draw,
    # so a 20 buffer needs exactly 20 - its trough (N = max over months of buffer - U)
    bare = finmodel.run("openai-plan-2025q3", adjust={"funding.facilities": {"scale": 0.0}})
    trough = bare.metrics["trough_unfunded_cash"]
    assert res.metrics["peak_funding_need"] == pytest.approx(20 - trough, rel=1e-12)
    # with the revolver kept, it is drawn below the buffer and covers up to 4 of that need
    kept = write_yaml("extends: openai-plan-2025q3.yaml\nfunding: {min_cash: 20}\n", "kept.yaml")
    with_revolver = finmodel.run(kept)
    assert with_revolver.series("facility_balance").max() == pytest.approx(4.0)
    assert 20 - trough - 4 < with_revolver.metrics["peak_funding_need"] < 20 - trough


def test_null_removes_a_named_item(write_yaml: Callable[..., Path]) -> None:
    """`commitments: {oracle: null}` drops the parent's Oracle contract (300), as null drops a
    key; the rest of the commitments are the parent's (1,400.4 - 300 = 1,100.4)."""
    child = write_yaml("extends: openai-plan-2025q3.yaml\ncommitments: {oracle: null}\n")
    res = finmodel.run(child)
    assert all(c.counterparty != "Oracle" for c in res.assumptions.commitments)
    base = finmodel.run("openai-plan-2025q3").metrics["commitments_total"]
    assert res.metrics["commitments_total"] == pytest.approx(base - 300, rel=1e-12)
