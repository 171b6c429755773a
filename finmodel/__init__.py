"""finmodel: financial projection and valuation from cited assumption files.

>>> import finmodel
>>> res = finmodel.run("hsbc-2025-11")
>>> res.metrics["cash_out_month"], round(res.metric_value("funding_gap", 2030))
('2027-05', 212)
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("finmodel")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"

from finmodel.assumptions import Assumptions, load
from finmodel.errors import AssumptionError, FinmodelError, IdentityError
from finmodel.results import Results, run

__all__ = [
    "AssumptionError",
    "Assumptions",
    "FinmodelError",
    "IdentityError",
    "Results",
    "__version__",
    "load",
    "run",
]
