"""What one file may cost a scan: a time budget, and content refused as too costly.

A committed file must not hold a pre-commit hook or a CI job hostage.  The
checks are written to take time linear in their input, but a budget per
file (``file_timeout``, ``--file-timeout``) is the backstop for whatever
is missed, in our checks or a plugin's: a file that exceeds it is skipped
with its reason, the run fails (part of the tree went unchecked), and the
rest of the scan goes on.

The budget is a ``SIGALRM`` timer, armed around a file's checks: one
``setitimer`` call each way, which costs a pre-commit hook nothing, and the
regex engine (where nearly all check time goes) looks for signals while it
matches, so even a single runaway match is stopped.  The alarm raises
:class:`FileTimeout`, a ``BaseException`` like ``KeyboardInterrupt``, so
that a check's ``except Exception`` cannot swallow it; it repeats until
the budget is disarmed, in case something swallows it anyway.  Where there
is no ``SIGALRM`` (Windows) or the scan does not run in the main thread,
there is no budget: the checks' own linearity is all there is.

:class:`TooCostly` is for content a check refuses outright rather than
spend the budget on (a YAML alias bomb, see :mod:`secretaudit.safeyaml`).
"""

from __future__ import annotations

import signal
import time
from contextlib import contextmanager
from typing import Any, Iterator

try:  # the C function: signal.getsignal turns its answer into an enum, ~5 us a file for nothing
    from _signal import getsignal as _getsignal
except ImportError:  # another Python implementation
    _getsignal = signal.getsignal

#: Seconds between repeated alarms once the budget is spent.
_REPEAT = 0.2


class FileTimeout(BaseException):
    """A file's checks ran past the budget (raised by the alarm; see the module docstring)."""


class TooCostly(Exception):
    """Content a check will not analyse: what it would cost is out of proportion to its size.

    ``reason`` is a short category for counts (``"YAML alias bomb"``); the
    message says what was refused and what to do, and never quotes content.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


_armed = False


def _alarm(_signum: int, _frame: Any) -> None:
    if _armed:
        raise FileTimeout()


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise :class:`FileTimeout` in the block if it runs longer than ``seconds``.

    No budget (the block simply runs) when ``seconds`` is not positive,
    where ``SIGALRM`` does not exist, or outside the main thread.  Whatever
    alarm was set before is restored afterwards.
    """
    global _armed
    setitimer = getattr(signal, "setitimer", None)
    if seconds <= 0 or setitimer is None or _armed:
        yield
        return
    previous_handler = _getsignal(signal.SIGALRM)
    if previous_handler is not _alarm:
        try:
            signal.signal(signal.SIGALRM, _alarm)
        except ValueError:  # not the main thread: signals cannot be handled here
            yield
            return
    started = time.monotonic()
    _armed = True
    previous_timer = setitimer(signal.ITIMER_REAL, seconds, _REPEAT)
    try:
        yield
    finally:
        _armed = False  # first: an alarm arriving from here on is ignored
        setitimer(signal.ITIMER_REAL, 0)
        if previous_handler not in (_alarm, signal.SIG_DFL):
            signal.signal(signal.SIGALRM, previous_handler)
        # over the default disposition ours stays (an unarmed alarm is ignored where the default would kill
        # the process): two signal() calls per file were ~4% of a scan's CPU
        if previous_timer[0] > 0:  # someone else's alarm: give it the time it had left
            left = previous_timer[0] - (time.monotonic() - started)
            setitimer(signal.ITIMER_REAL, max(left, 0.001), previous_timer[1])
