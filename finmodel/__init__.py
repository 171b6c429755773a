"""finmodel: financial projection and valuation from cited assumption files.

>>> import finmodel
>>> res = finmodel.run("hsbc-2025-11")
>>> res.metrics["cash_out_month"], round(res.metric_value("funding_gap", 2030))
('2027-05', 214)

The public names load on first use (so ``finmodel --help`` does not import numpy), and
importing the package imports no other module but ``__future__``: the ``finmodel`` command
imports it before its first line (:mod:`finmodel.console`) can catch Ctrl-C, so that moment is
kept to about what an empty package takes (``typing`` alone took 3 to 12 ms).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (several ms)
if TYPE_CHECKING:
    from typing import Any

    __version__: str
    from finmodel.analysis.montecarlo import MonteCarlo, simulate
    from finmodel.analysis.sensitivity import TornadoSpec, grid, tornado
    from finmodel.analysis.sobol import sobol
    from finmodel.analysis.solve import solve
    from finmodel.assumptions import Assumptions, load
    from finmodel.errors import (
        ArgumentError,
        ArgumentKeyError,
        ArgumentTypeError,
        AssumptionError,
        FinmodelError,
        IdentityError,
        TargetNotReachedError,
    )
    from finmodel.network import clear
    from finmodel.results import Results, run
    from finmodel.valuation import Rate, irr, npv, xirr, xnpv

_WHERE = {
    "ArgumentError": "finmodel.errors",
    "ArgumentKeyError": "finmodel.errors",
    "ArgumentTypeError": "finmodel.errors",
    "AssumptionError": "finmodel.errors",
    "Assumptions": "finmodel.assumptions",
    "FinmodelError": "finmodel.errors",
    "IdentityError": "finmodel.errors",
    "MonteCarlo": "finmodel.analysis.montecarlo",
    "Rate": "finmodel.valuation",
    "Results": "finmodel.results",
    "TargetNotReachedError": "finmodel.errors",
    "TornadoSpec": "finmodel.analysis.sensitivity",
    "clear": "finmodel.network",
    "grid": "finmodel.analysis.sensitivity",
    "irr": "finmodel.valuation",
    "load": "finmodel.assumptions",
    "npv": "finmodel.valuation",
    "run": "finmodel.results",
    "simulate": "finmodel.analysis.montecarlo",
    "sobol": "finmodel.analysis.sobol",
    "solve": "finmodel.analysis.solve",
    "tornado": "finmodel.analysis.sensitivity",
    "xirr": "finmodel.valuation",
    "xnpv": "finmodel.valuation",
}

__all__ = [
    "ArgumentError",
    "ArgumentKeyError",
    "ArgumentTypeError",
    "AssumptionError",
    "Assumptions",
    "FinmodelError",
    "IdentityError",
    "MonteCarlo",
    "Rate",
    "Results",
    "TargetNotReachedError",
    "TornadoSpec",
    "__version__",
    "clear",
    "grid",
    "irr",
    "load",
    "npv",
    "run",
    "simulate",
    "sobol",
    "solve",
    "tornado",
    "xirr",
    "xnpv",
]


def _version() -> str:
    """The installed version, looked up on first use (importing ``finmodel`` stays instant,
    so the ``finmodel`` command handles Ctrl-C from its first moment)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("finmodel")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0.0.0+source"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        globals()[name] = value = _version()
        return value
    if name in _WHERE:
        from importlib import import_module

        value = getattr(import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'finmodel' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
