"""The ``finmodel`` command's entry point, kept free of imports so that Ctrl-C is handled from
the first moment: Ctrl-C (SIGINT) or SIGTERM at any time, start-up included, ends the run
with exit code 130 and one line, ``interrupted``, on stderr. Temporary files are removed on
the way out (the interrupt is raised as ``KeyboardInterrupt``) and no output is left
half-written; a second signal during that clean-up is ignored.

"From the first moment" means from the first instruction of :func:`main`. Before it, the
interpreter starts, runs ``site``, and the console script that pip writes imports ``re``,
then ``finmodel`` (which imports nothing: :mod:`finmodel`) and this module (``signal``):
about 10 ms on an idle machine, of which finmodel's imports are under 1 ms and the rest is
Python's. A signal in that time gets Python's own handling, and nothing of finmodel's has
run, so nothing is written: before Python has set its handler, the process ends with the
signal's status (-2) and prints nothing; after, Python prints a ``KeyboardInterrupt``
traceback (exit status 1 in its start-up, -2 in the console script's imports). Twice it
prints the traceback and goes on: when checking whether ``argv[0]`` is an import path, which
:func:`main` finds in ``sys.last_value`` and stops the run (exit code 130, ``interrupted``);
and in a callback of its import machinery ("Exception ignored in: <function
_get_module_lock...>"), which leaves no trace, so that interrupt is lost and the run goes on.

An interrupt that lands inside a finaliser (a ``__del__`` or a weakref callback, run when an
object is freed) cannot leave it: Python prints it as "Exception ignored" and carries on.
:func:`_unraisable` delivers it again, to the run itself.
"""

from __future__ import annotations

import os
import signal
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import FrameType

EXIT_INTERRUPTED = 130
_seen: list[int] = []  # the signal that interrupted the run, once one has


def _interrupted(signum: int, frame: object) -> None:
    _seen.append(signum)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.stderr.write("interrupted\n")
    sys.stderr.flush()
    raise KeyboardInterrupt


def _unraisable(unraisable: sys.UnraisableHookArgs) -> None:
    """The interrupt, raised inside a finaliser that could only print it: raise it again at
    the first function call or return outside this hook (a profile function), which is in
    the run itself, so the run unwinds through its clean-up as from any interrupt. Were it
    to land in another finaliser, it comes back here and goes round once more. Anything
    else goes to Python's own hook."""
    if _seen and isinstance(unraisable.exc_value, KeyboardInterrupt):
        sys.setprofile(_raise_outside)
        return
    sys.__unraisablehook__(unraisable)


def _raise_outside(frame: FrameType, event: str, arg: object) -> None:
    f: FrameType | None = frame
    while f is not None:
        if f.f_code is _unraisable.__code__:  # still in the hook
            return
        f = f.f_back
    sys.setprofile(None)
    raise KeyboardInterrupt


def main() -> None:
    """Run the CLI (:data:`finmodel.cli.app`) with the signal handling above."""
    try:  # from its first instruction: Python's own handler may fire before ours is set
        signal.signal(signal.SIGINT, _interrupted)
        signal.signal(signal.SIGTERM, _interrupted)
        sys.unraisablehook = _unraisable
        if isinstance(getattr(sys, "last_value", None), KeyboardInterrupt):
            _leave()  # an interrupt Python's start-up reported and went on from
        from finmodel.cli import app

        app()
    except KeyboardInterrupt:
        _leave()
    except SystemExit:
        if _seen:
            _leave()
        raise


def _leave() -> None:
    """Exit 130 at once: the clean-up (``finally`` blocks, temporary files) has run while the
    ``KeyboardInterrupt`` unwound. ``os._exit`` skips the interpreter's own shutdown, which
    would otherwise re-raise SIGINT on itself (exit status -2) when the interrupt had left
    through an import. The line ``interrupted`` is written here when the interrupt came from
    Python's own handler, in the instant before :func:`main` set its own."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if not _seen:
        sys.stderr.write("interrupted\n")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(EXIT_INTERRUPTED)
