"""Assumption files: schema, loading and the parameter paths of their numbers."""

from finmodel.assumptions.loader import (
    Loaded,
    load,
    load_with_meta,
    resolve,
    shipped_dir,
    shipped_names,
    shipped_path,
)
from finmodel.assumptions.schema import Assumptions, slug

__all__ = [
    "Assumptions",
    "Loaded",
    "load",
    "load_with_meta",
    "resolve",
    "shipped_dir",
    "shipped_names",
    "shipped_path",
    "slug",
]
