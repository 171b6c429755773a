"""How much memory a run may use, and the up-front check against it.

Every analysis whose arrays grow with a user's number (Monte Carlo paths, grid points, Sobol
base sample, network draws, workbook cells) estimates the bytes it will hold from the run's
shape and calls :func:`check_memory` before it allocates. Above the limit it refuses with the
estimate, the limit, where the limit comes from and what to reduce, instead of failing later
with a ``MemoryError``.

The limit, in bytes, is

* ``FINMODEL_MEMORY_GB`` (an environment variable, in GB of 10^9 bytes) if it is set: a
  number > 0 and at most the machine's physical memory;
* otherwise half of the machine's physical memory, or less when less is available now (on
  Linux: the kernel's ``MemAvailable`` plus what the process already holds), so that a run
  on a busy machine is refused instead of being killed for lack of memory;

and in either case at most half of the process's address-space limit (``ulimit -v``), if
one is set. The estimates count what scales with the run (8 bytes a float64, the workbook
writer's cells), not the fixed cost of the interpreter and libraries (about 0.15 GB
resident), which is why only half of the memory is on offer by default.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from finmodel.errors import AssumptionError, ResourceLimitError

GB = 1e9
ENV_VAR = "FINMODEL_MEMORY_GB"
SHARE = 0.5
"""Share of the physical memory (and of an address-space limit) a run may plan to use."""
FALLBACK = 8 * GB
"""The limit where the platform tells neither the physical memory nor an address-space limit."""


def physical_memory() -> float | None:
    """The machine's physical memory in bytes, or None where the platform does not say."""
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not available on this platform
        return None
    return float(pages * size) if pages > 0 and size > 0 else None


def available_memory() -> float | None:
    """Bytes this process could hold now: the memory the kernel reports available to new
    allocations (``MemAvailable`` of ``/proc/meminfo``) plus what the process already holds
    (its resident set), or None where the platform does not say (not Linux)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            avail = next(
                int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:")
            )
        with open("/proc/self/statm", encoding="ascii") as f:
            resident = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, StopIteration, ValueError, IndexError):
        return None
    return float(avail + resident)


def address_space() -> float | None:
    """The process's address-space limit (``ulimit -v``) in bytes, or None if unlimited."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, ValueError, OSError):  # Windows has no resource module
        return None
    return float(soft) if soft != resource.RLIM_INFINITY and soft > 0 else None


def env_limit() -> float | None:
    """``FINMODEL_MEMORY_GB`` in bytes, or None if it is not set (or empty).

    A value that is not a number of GB > 0 (``abc``, ``-1``, ``0``, ``nan``, ``inf``), or
    one above the machine's physical memory (``1e9``), is an error naming the variable.

    >>> os.environ[ENV_VAR] = "abc"
    >>> try:
    ...     env_limit()
    ... except AssumptionError as e:
    ...     print(e)
    FINMODEL_MEMORY_GB: expected a number of gigabytes > 0, got 'abc'
    >>> os.environ[ENV_VAR] = "2.5"
    >>> env_limit()
    2500000000.0
    >>> del os.environ[ENV_VAR]
    """
    text = os.environ.get(ENV_VAR)
    if text is None or not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (value > 0 and math.isfinite(value)):
        raise AssumptionError(f"{ENV_VAR}: expected a number of gigabytes > 0, got {text!r}")
    machine = physical_memory()
    if machine is not None and value * GB > machine:
        raise AssumptionError(
            f"{ENV_VAR}: expected at most this machine's memory, {gb(machine)}, got {text!r}"
        )
    return value * GB


@dataclass(frozen=True)
class Limit:
    """The memory limit in bytes and, for messages, where it comes from."""

    nbytes: float
    source: str


def limit() -> Limit:
    """The memory limit and its source (see the module docstring)."""
    env, machine, space = env_limit(), physical_memory(), address_space()
    if env is not None:
        chosen = Limit(env, f"set by {ENV_VAR}")
    elif machine is not None:
        chosen = Limit(SHARE * machine, f"half of this machine's {gb(machine)}; {ENV_VAR} sets it")
        free = available_memory()
        if free is not None and free < chosen.nbytes:
            chosen = Limit(
                free,
                f"the memory available now, of this machine's {gb(machine)}; {ENV_VAR} sets it",
            )
    else:
        chosen = Limit(FALLBACK, f"{ENV_VAR} sets it")
    if space is not None and SHARE * space < chosen.nbytes:
        chosen = Limit(SHARE * space, f"half of the address-space limit (ulimit -v), {gb(space)}")
    return chosen


def memory_limit() -> float:
    """The memory limit in bytes (see the module docstring)."""
    return limit().nbytes


def gb(nbytes: float) -> str:
    """``nbytes`` in GB for a message: ``'2.76 GB'``, ``'0.004 GB'``."""
    x = nbytes / GB
    return f"{x:,.3g} GB" if x < 100 else f"{x:,.0f} GB"


def check_memory(nbytes: float, field: str, got: object, advice: str) -> None:
    """Refuse a run whose estimated memory ``nbytes`` exceeds :func:`memory_limit`.

    The message reads ``FIELD: expected a run that fits in memory (needs about X GB, the
    limit is Y GB, SOURCE; ADVICE), got GOT`` so that a field of the file
    (``uncertainty.draws``) is located by the loader like any other error.

    >>> check_memory(1e3, "-n", 10, "use fewer paths")
    """
    lim = limit()
    if nbytes > lim.nbytes:
        raise ResourceLimitError(
            f"{field}: expected a run that fits in memory (needs about {gb(nbytes)}, the limit "
            f"is {gb(lim.nbytes)}, {lim.source}; {advice}), got {got}"
        )
