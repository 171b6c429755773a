"""The examples in docstrings, run against the installed package."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import finmodel

MODULES = ["finmodel"] + [
    m.name
    for m in pkgutil.walk_packages(finmodel.__path__, "finmodel.")
    if m.name != "finmodel.__main__"
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"


def test_there_are_examples() -> None:
    finder = doctest.DocTestFinder()
    total = sum(
        len(t.examples)
        for n in ["finmodel.timeline", "finmodel.funding"]
        for t in finder.find(importlib.import_module(n))
    )
    assert total >= 8


def test_public_api_is_complete_and_lazy() -> None:
    import subprocess
    import sys

    for name in finmodel.__all__:
        assert getattr(finmodel, name) is not None
    code = "import sys, finmodel.cli; print('numpy' in sys.modules, 'pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]  # `finmodel --help` stays instant
