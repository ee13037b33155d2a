"""SIGTERM ends a run the way Ctrl-C does: partial results kept, reports written and marked, exit 2.

SIGTERM is what a cancelled CI job, ``timeout`` and ``docker stop`` send.
Left at its default it killed the process on the spot (exit 143): no
summary, no report, nothing to tell a half-done scan from a crashed one.
Raised as a :class:`KeyboardInterrupt` instead, it takes the path every
interrupt already takes (the session stops scanning, keeps what it has,
marks the run interrupted and writes its reports; the CLI exits 2), so
there is one way to stop a run, not two.

Worker processes ignore both signals while they live: ``timeout`` and a
terminal send them to the whole process group, and it is the parent that
winds the run down (it stops the workers itself; a worker whose parent
dies reads end-of-file and exits).
"""

from __future__ import annotations

import signal
from contextlib import contextmanager
from typing import Any, Iterator

#: The signals a run treats as "stop now, keep what was done".
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived; a :class:`KeyboardInterrupt`, so everything that handles Ctrl-C handles this too."""


_received = False


def _on_sigterm(signum: int, frame: Any) -> None:
    """Raise :class:`Terminated` in the main thread, once.

    ``timeout`` sends SIGTERM to the process and then to its process group,
    so one run often receives it twice within microseconds: the second must
    not interrupt the winding down that the first started (writing the
    reports).  SIGKILL remains for a run that must die at once.
    """
    global _received
    if _received:
        return
    _received = True
    raise Terminated("terminated (SIGTERM)")


def install() -> None:
    """Make SIGTERM an interrupt, unless the process was started with it ignored (``nohup``-style) or handled.

    Costs one system call: ``signal`` is already imported at start-up.
    Only the main thread can install a handler; elsewhere (an embedding
    program calling :func:`secretaudit.cli.main` from a thread) this does nothing.
    """
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return
    try:
        signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread
        pass


def ignore_in_worker() -> None:
    """In a forked worker: leave SIGINT and SIGTERM to the parent (see the module docstring)."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


@contextmanager
def held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back while forking workers, delivering them after.

    A child forked while one is pending or arriving would otherwise run the
    parent's handler before it could ignore it, and die with a traceback.
    The child calls :func:`unhold` once it has called :func:`ignore_in_worker`.
    """
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def unhold() -> None:
    """In a forked worker, after :func:`ignore_in_worker`: take the signals again (they are ignored now)."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
