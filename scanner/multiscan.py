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
* the text is not pure ASCII, and the check asked without naming its
  set: Hyperscan reports byte offsets, which equal character offsets only
  for ASCII.  A check that names its set (``accelerates(text, the_set)``)
  gets non-ASCII text through as well, each non-ASCII character mapped to
  one byte 0x80 (:func:`one_byte`): offsets stay character offsets, and for
  an ASCII pattern that byte matches exactly where a non-ASCII character
  matches under ``re.ASCII`` (negated classes, ``.``, ``\\S``, ``\\W``; never
  a letter, digit or listed character).  A set whose patterns name a
  non-ASCII character is refused that way;
* this process has scanned less than :data:`MIN_BYTES` of text so far: a
  pre-commit hook's handful of files is done before importing the library
  would pay off (``SECRETAUDIT_HYPERSCAN=1`` lifts this, for tests).  A
  set can lower that bar for itself (``kept_min_bytes``, ``compile_min_bytes``):
  SA101's several hundred tokens cost the pure-Python path about as much
  per kilobyte as loading a kept database costs once.

Compiled databases are kept under ``$XDG_CACHE_HOME/secretaudit`` (the
largest set takes 40 ms to compile and 0.1 ms to load), keyed by the
patterns, the flags and the library's version; one that does not load is
compiled again.  The test suite runs the fixture corpus both ways and
compares the JSON reports byte for byte.
"""

from __future__ import annotations

import codecs
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

    def __init__(self, patterns: Sequence[str], caseless: bool = False, kept_min_bytes: int = MIN_BYTES,
                 compile_min_bytes: int = MIN_BYTES) -> None:
        self.patterns = tuple(patterns)
        self.caseless = caseless
        #: text a process scans in Python before it uses this set: when its database is kept, when it is not
        self.kept_min_bytes = kept_min_bytes
        self.compile_min_bytes = compile_min_bytes
        self._database: Any = None
        self._scratch: Any = None  # a threading.local: Hyperscan's scratch space is one per thread
        self._kept: bool | None = None
        self._one_byte_safe: bool | None = None
        #: Hyperscan reads patterns as bytes: a set with a non-ASCII pattern (a custom rule's keyword) stays in Python
        self.ascii = all(pattern.isascii() for pattern in self.patterns)

    def is_kept(self) -> bool:
        """Whether this set's compiled database is in the cache directory (a load, not a compile)."""
        if self._database is not None:
            return True
        if self._kept is None:
            hyperscan = _hyperscan()
            self._kept = bool(hyperscan) and os.path.exists(
                _kept_file(self.patterns, self._flags(hyperscan), hyperscan))
        return self._kept

    def one_byte_safe(self) -> bool:
        """Whether no pattern names a non-ASCII character, so :func:`one_byte` text gives the same ends."""
        if self._one_byte_safe is None:
            self._one_byte_safe = not any(_names_non_ascii(pattern) for pattern in self.patterns)
        return self._one_byte_safe

    def _flags(self, hyperscan: Any) -> int:
        return hyperscan.HS_FLAG_CASELESS if self.caseless else 0

    def _compiled(self) -> Any:
        """The Hyperscan database: loaded from the cache directory, else compiled (and kept there)."""
        if self._database is None:
            hyperscan = _hyperscan()
            flags = self._flags(hyperscan)
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
        if not text:
            return []  # Hyperscan takes no pattern that matches the empty string; and the last text stays encoded
        database = self._compiled()
        scratch = getattr(self._scratch, "space", None)
        if scratch is None:
            scratch = self._scratch.space = _hyperscan().Scratch(database)
        global _encoded
        encoded = _encoded  # a local copy: another thread may replace the global meanwhile
        if encoded[0] is not text:  # the checks of one file share its bytes
            encoded = _encoded = (text, one_byte(text))
        found: list[tuple[int, int]] = []
        append = found.append
        database.scan(encoded[1], match_event_handler=lambda index, _start, end, _flags, _context:
                      append((index, end)), scratch=scratch)
        return found


def accelerates(text: str, pattern_set: PatternSet | None = None) -> bool:
    """Whether :meth:`PatternSet.ends` can answer for ``text``; if not, take the pure-Python path.

    Without ``pattern_set``, ASCII text only, once this process has scanned
    :data:`MIN_BYTES`.  With it, any text the set is :meth:`~PatternSet.one_byte_safe`
    for, from the set's own thresholds on (lower when its database is kept).
    Counts ``text`` towards them once, however many checks ask; the text that
    crosses a threshold is itself accelerated.
    """
    global _seen_bytes, _counted
    if pattern_set is None and not text.isascii() or pattern_set is not None and not pattern_set.ascii:
        return False
    mode = _mode()
    if mode == "0":
        return False
    if mode != "1":
        if text is not _counted:
            _counted = text
            _seen_bytes += len(text)
        if pattern_set is None:
            if _seen_bytes <= MIN_BYTES:
                return False
        elif _seen_bytes < pattern_set.kept_min_bytes:
            return False
        elif _seen_bytes < pattern_set.compile_min_bytes and not pattern_set.is_kept():
            return False
    if not _hyperscan():
        return False
    return pattern_set is None or text.isascii() or pattern_set.one_byte_safe()


_ONE_BYTE = "secretaudit-one-byte"


def _to_one_byte(error: UnicodeError) -> tuple[bytes, int]:
    assert isinstance(error, UnicodeEncodeError)
    return b"\x80" * (error.end - error.start), error.end


codecs.register_error(_ONE_BYTE, _to_one_byte)


def one_byte(text: str) -> bytes:
    """``text`` as one byte per character: ASCII as is, anything else 0x80 (see the module docstring)."""
    return text.encode("ascii", _ONE_BYTE)


def _names_non_ascii(pattern: str) -> bool:
    """Whether ``pattern`` names a character above 0x7f (an escape such as ``\\xe9``, or the character itself)."""
    if not pattern.isascii():
        return True
    if "\\" not in pattern or not any(f"\\{e}" in pattern for e in "xuUN01234567"):
        return False  # no escape that names a character by number or name: nothing to parse (most patterns)
    from re import _constants as c, _parser  # type: ignore[attr-defined]

    def walk(items: Any) -> bool:
        for op, av in items:
            if op in (c.LITERAL, c.NOT_LITERAL) and av > 0x7F:
                return True
            if op is c.RANGE and av[1] > 0x7F:
                return True
            if op is c.IN and walk(av):
                return True
            if op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", c.MAX_REPEAT)) and walk(av[2]):
                return True
            if op is c.SUBPATTERN and walk(av[-1]):
                return True
            if op is c.BRANCH and any(walk(branch) for branch in av[1]):
                return True
            if op in (c.ASSERT, c.ASSERT_NOT) and walk(av[1]):
                return True
            if op is getattr(c, "ATOMIC_GROUP", None) and walk(av):
                return True
        return False

    try:
        return walk(_parser.parse(pattern, 0))
    except Exception:  # noqa: BLE001 - a pattern re cannot read: do not trust it with non-ASCII text
        return True


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
