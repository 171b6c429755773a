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
