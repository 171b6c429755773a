"""How much memory a run may use, and the up-front check against it.

Every analysis whose arrays grow with a user's number (Monte Carlo paths, grid points, Sobol
base sample, network draws, workbook cells) estimates the bytes it will hold from the run's
shape and calls :func:`check_memory` before it allocates. Above the limit it refuses with the
estimate, the limit and what to reduce, instead of failing later with a ``MemoryError``.

The limit, in bytes, is the smallest of:

* ``FINMODEL_MEMORY_GB`` (an environment variable, in GB of 10^9 bytes), if set;
* half of the machine's physical memory;
* half of the process's address-space limit (``ulimit -v``), if one is set.

The estimates count the arrays that scale with the run (8 bytes a float64), not the fixed
cost of the interpreter and libraries (about 0.3 GB), which is why only half of the memory
is on offer.
"""

from __future__ import annotations

import os

from finmodel.errors import AssumptionError, ResourceLimitError

GB = 1e9
ENV_VAR = "FINMODEL_MEMORY_GB"
SHARE = 0.5
"""Share of the physical memory (and of an address-space limit) a run may plan to use."""


def memory_limit() -> float:
    """The memory limit in bytes (see the module docstring)."""
    candidates: list[float] = []
    env = os.environ.get(ENV_VAR)
    if env:
        try:
            gb = float(env)
        except ValueError:
            gb = float("nan")
        if not gb > 0 or gb == float("inf"):
            raise AssumptionError(f"{ENV_VAR}: expected a positive number of GB, got {env!r}")
        candidates.append(gb * GB)
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        if pages > 0 and size > 0:
            candidates.append(SHARE * pages * size)
    except (ValueError, OSError, AttributeError):  # not available on this platform
        pass
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY and soft > 0:
            candidates.append(SHARE * soft)
    except (ImportError, ValueError, OSError):  # Windows has no resource module
        pass
    return min(candidates) if candidates else 8 * GB


def gb(nbytes: float) -> str:
    """``nbytes`` in GB for a message: ``'2.76 GB'``, ``'0.004 GB'``."""
    x = nbytes / GB
    return f"{x:,.3g} GB" if x < 100 else f"{x:,.0f} GB"


def check_memory(nbytes: float, field: str, got: object, advice: str) -> None:
    """Refuse a run whose estimated memory ``nbytes`` exceeds :func:`memory_limit`.

    The message reads ``FIELD: expected a run that fits in memory (needs about X GB, the
    limit is Y GB; ADVICE), got GOT`` so that a field of the file (``uncertainty.draws``)
    is located by the loader like any other error.

    >>> check_memory(1e3, "-n", 10, "use fewer paths")
    """
    limit = memory_limit()
    if nbytes > limit:
        raise ResourceLimitError(
            f"{field}: expected a run that fits in memory (needs about {gb(nbytes)}, the limit "
            f"is {gb(limit)}; {advice}; the limit is half the machine's memory, or "
            f"{ENV_VAR}), got {got}"
        )
