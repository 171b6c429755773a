"""The ``finmodel`` command's entry point, kept free of imports so that Ctrl-C is handled from
the first moment: Ctrl-C (SIGINT) or SIGTERM at any time, start-up included, ends the run
with exit code 130 and one line, ``interrupted``, on stderr. Temporary files are removed on
the way out (the interrupt is raised as ``KeyboardInterrupt``) and no output is left
half-written; a second signal during that clean-up is ignored."""

from __future__ import annotations

import os
import signal
import sys

EXIT_INTERRUPTED = 130
_seen: list[int] = []  # the signal that interrupted the run, once one has


def _interrupted(signum: int, frame: object) -> None:
    _seen.append(signum)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.stderr.write("interrupted\n")
    sys.stderr.flush()
    raise KeyboardInterrupt


def main() -> None:
    """Run the CLI (:data:`finmodel.cli.app`) with the signal handling above."""
    signal.signal(signal.SIGINT, _interrupted)
    signal.signal(signal.SIGTERM, _interrupted)
    try:
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
    through an import."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(EXIT_INTERRUPTED)
