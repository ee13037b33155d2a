"""Many patterns in one pass: where each pattern of a set ends in a text.

The checks narrow their work with prefilters: SA101 looks for ~260 token
literals, SA102 for keyword stems and quoted strings, SA103 for the marks
of connection strings.  In pure Python each of those is a regex alternation
or a ``str.find`` loop, 80-130 MB/s, and together they were half of a cold
scan's CPU.  With the ``hyperscan`` package (Intel's Hyperscan, as
vectorscan wheels on PyPI) a whole set is found in one pass over the bytes
at GB/s.

A :class:`PatternSet` only ever answers *where matches end*, and a check
treats that as a superset to confirm with its own exact Python test, so
the findings cannot depend on the accelerator.  A check asks
:func:`accelerates` first and takes its pure-Python path when it says no:

* ``hyperscan`` is not installed (pyproject asks for it only on the
  platforms it has wheels for), or ``SECRETAUDIT_HYPERSCAN=0`` is set;
* the text is not pure ASCII: Hyperscan reports byte offsets, which equal
  character offsets only then (one file in seventy in a typical tree);
* this process has scanned less than :data:`MIN_BYTES` of text so far: a
  pre-commit hook's handful of files is done before importing the library
  would pay off (``SECRETAUDIT_HYPERSCAN=1`` lifts this, for tests).

Compiled databases are kept under ``$XDG_CACHE_HOME/secretaudit`` (the
largest set takes 40 ms to compile and 0.1 ms to load), keyed by the
patterns, the flags and the library's version; one that does not load is
compiled again.  The test suite runs the fixture corpus both ways and
compares the JSON reports byte for byte.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from typing import Any

from secretaudit import cache_location
from secretaudit.atomicfile import replace_quietly

#: Characters of text a process scans in pure Python before it loads the
#: accelerator (5 ms to import): what the pure-Python prefilters get through
#: in about that time.
MIN_BYTES = 1 << 18

_seen_bytes = 0
_counted: str | None = None  # the last text counted: a file's checks ask once each
_encoded: tuple[str | None, bytes] = (None, b"")  # the last text scanned, as bytes
_library: Any = None  # the hyperscan module, False once it is known to be unusable


def _mode() -> str:
    """``SECRETAUDIT_HYPERSCAN``: ``0`` never, ``1`` from the first text, anything else: auto."""
    return os.environ.get("SECRETAUDIT_HYPERSCAN", "").strip()


def _hyperscan() -> Any:
    """The hyperscan module, or False when it is not installed."""
    global _library
    if _library is None:
        try:
            import hyperscan
        except ImportError:  # optional: the pure-Python paths give the same results
            _library = False
        else:
            _library = hyperscan
    return _library


class PatternSet:
    """A set of ASCII regexes searched together; compiled on first real use.

    Patterns must be valid for both ``re`` (with ``re.ASCII``) and Hyperscan:
    literals, classes, bounded repeats, no look-arounds or groups that
    capture.  ``caseless`` folds ASCII case, as a search in
    ``text.lower()`` for lower-case patterns does.
    """

    def __init__(self, patterns: Sequence[str], caseless: bool = False) -> None:
        self.patterns = tuple(patterns)
        self.caseless = caseless
        self._database: Any = None
        self._scratch: Any = None  # a threading.local: Hyperscan's scratch space is one per thread

    def _compiled(self) -> Any:
        """The Hyperscan database: loaded from the cache directory, else compiled (and kept there)."""
        if self._database is None:
            hyperscan = _hyperscan()
            flags = hyperscan.HS_FLAG_CASELESS if self.caseless else 0
            kept = _kept_file(self.patterns, flags, hyperscan)
            database = _load_kept(kept, hyperscan)
            if database is None:
                database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
                try:
                    database.compile(expressions=[p.encode("ascii") for p in self.patterns],
                                     ids=list(range(len(self.patterns))), elements=len(self.patterns),
                                     flags=[flags] * len(self.patterns))
                except hyperscan.error as exc:  # a pattern Hyperscan cannot take: a bug of ours, not the user's
                    raise ValueError(f"pattern set cannot be compiled: {exc}") from None
                replace_quietly(kept, hyperscan.dumpb(database))  # failing only costs the next run a compile
            import threading

            self._scratch = threading.local()
            self._database = database
        return self._database

    def ends(self, text: str) -> list[tuple[int, int]]:
        """``(pattern index, end offset)`` for every end of every match, unordered.

        Only for a text :func:`accelerates` said yes to.  A pattern with
        variable-length matches reports each end at which it can end.
        """
        database = self._compiled()
        scratch = getattr(self._scratch, "space", None)
        if scratch is None:
            scratch = self._scratch.space = _hyperscan().Scratch(database)
        global _encoded
        encoded = _encoded  # a local copy: another thread may replace the global meanwhile
        if encoded[0] is not text:  # the checks of one file share its bytes
            encoded = _encoded = (text, text.encode("ascii"))
        found: list[tuple[int, int]] = []
        append = found.append
        database.scan(encoded[1], match_event_handler=lambda index, _start, end, _flags, _context:
                      append((index, end)), scratch=scratch)
        return found


def accelerates(text: str) -> bool:
    """Whether :meth:`PatternSet.ends` can answer for ``text``; if not, take the pure-Python path.

    Counts ``text`` towards :data:`MIN_BYTES`, once however many checks ask.
    """
    global _seen_bytes, _counted
    if not text.isascii():
        return False
    mode = _mode()
    if mode == "0":
        return False
    if _seen_bytes < MIN_BYTES and mode != "1":
        if text is not _counted:
            _counted = text
            _seen_bytes += len(text)
        return False
    return bool(_hyperscan())


def _kept_file(patterns: Sequence[str], flags: int, hyperscan: Any) -> str:
    """Where the compiled database of these patterns is kept: one file per set, library and flags."""
    key = hashlib.blake2b(repr((patterns, flags, getattr(hyperscan, "__version__", ""))).encode(),
                          digest_size=12).hexdigest()
    return os.path.join(cache_location.cache_dir(), f"hyperscan-{key}.db")


def _load_kept(path: str, hyperscan: Any) -> Any:
    """The kept database, or None when there is none or it does not load (damaged, other CPU)."""
    try:
        with open(path, "rb") as handle:
            return hyperscan.loadb(handle.read(), hyperscan.HS_MODE_BLOCK)
    except (OSError, hyperscan.error, TypeError, ValueError):
        return None
