"""Progress on stderr while a backend lists its secrets (``audit`` and ``list``).

Walking 2,000 Vault secrets takes seconds before the first line of output;
silence that long reads as a hang.  While a backend lists, this shows how
many secrets it has listed so far, per backend, on stderr only (stdout stays
clean for ``--format json`` and pipes):

* on a terminal (stderr is a TTY): one line rewritten in place,
  ``vault:prod: 850 secrets listed so far...``, cleared when the listing ends;
* elsewhere only with ``-v``: a plain line every few seconds (CI logs);
* never with ``-q``.

Nothing is shown for a listing that ends within :data:`DELAY` seconds: short
listings stay as quiet as before.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Callable, TextIO

from secretaudit.stash import LISTING_PROGRESS

if TYPE_CHECKING:
    from secretaudit.config import Config

#: Seconds of listing before the first progress output.
DELAY = 1.0
#: Seconds between two updates: in place on a terminal, as new lines elsewhere.
TTY_INTERVAL = 0.2
LINE_INTERVAL = 2.0


def progress_mode(verbose: int, quiet: int, stream: TextIO | None = None) -> str | None:
    """``tty``, ``lines`` or None (no progress) for these verbosity flags and stream (default stderr)."""
    stream = stream or sys.stderr
    if quiet > 0:
        return None
    try:
        if stream.isatty():
            return "tty"
    except (AttributeError, ValueError):  # a closed or replaced stream
        pass
    return "lines" if verbose > 0 else None


class ListingProgress:
    """Counts one backend's listing and shows it when the listing is long; a no-op when ``mode`` is None."""

    def __init__(self, label: str, mode: str | None, stream: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        from secretaudit.printable import visible

        self.label = visible(label)  # a backend's name comes from the config: data, never terminal control
        self.mode = mode
        self.stream = stream or sys.stderr
        self.clock = clock
        self.started = clock()
        self._next = self.started + DELAY
        self._shown = 0  # length of the line on screen (tty)

    def tick(self, count: int) -> None:
        """``count`` secrets listed so far; cheap when nothing is due (one clock read)."""
        if self.mode is None:
            return
        now = self.clock()
        if now < self._next:
            return
        text = f"{self.label}: {count} secrets listed so far ({now - self.started:.0f} s)..."
        if self.mode == "tty":
            self._write("\r" + text.ljust(self._shown))
            self._shown = len(text)
            self._next = now + TTY_INTERVAL
        else:
            self._write(text + "\n")
            self._next = now + LINE_INTERVAL

    def close(self) -> None:
        """Clear the in-place line (the reporter's own summary follows)."""
        if self._shown:
            self._write("\r" + " " * self._shown + "\r")
            self._shown = 0

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # stderr closed: progress is never worth failing the run
            self.mode = None

    def __enter__(self) -> "ListingProgress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def listing_progress(config: "Config", label: str) -> ListingProgress:
    """The progress of ``label``'s listing as the command asked for it (``config.stash[LISTING_PROGRESS]``)."""
    return ListingProgress(label, config.stash.get(LISTING_PROGRESS))
