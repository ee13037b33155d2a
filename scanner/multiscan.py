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

Every set a check has asked about is scanned in the same pass: the sets'
patterns are compiled into one database (:class:`_Union`), each text is
scanned once, and each set gets its own ends from that one pass.  Four
sets scanned one after another cost twice what the same patterns cost in
one database (0.23 s against 0.12 s over /usr/include's 114 MB), and a
file's checks made four calls where they now make one.  A set that asks
for the first time grows the union (once per process and set).

Compiled databases are kept under ``$XDG_CACHE_HOME/secretaudit`` (the
largest union takes 40 ms to compile and 0.1 ms to load), keyed by the
patterns, the flags and the library's version; one that does not load is
compiled again.  The test suite runs the fixture corpus both ways and
compares the JSON reports byte for byte.
"""

from __future__ import annotations

import codecs
import hashlib
import itertools
import os
import threading
import weakref
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
_counted_mode = ""  # SECRETAUDIT_HYPERSCAN when that text was counted (read once per text, not once per question)
_library: Any = None  # the hyperscan module, False once it is known to be unusable
_serials = itertools.count()


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
    """A set of ASCII regexes searched together, in one pass with every other set in use.

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
        #: this set's key in a pass's results (an ``id()`` could be reused by a later set)
        self.serial = next(_serials)
        self._kept: bool | None = None
        self._one_byte_safe: bool | None = None
        #: Hyperscan reads patterns as bytes: a set with a non-ASCII pattern (a custom rule's keyword) stays in Python
        self.ascii = all(pattern.isascii() for pattern in self.patterns)

    def is_kept(self) -> bool:
        """Whether the database that would scan this set is in the cache directory (a load, not a compile)."""
        if self._kept is None:
            union = _union
            if union is not None and self.serial in union.slots:
                self._kept = True
            else:
                self._kept = bool(_hyperscan()) and os.path.exists(_Union((*_live_members(), self)).kept_file())
        return self._kept

    def one_byte_safe(self) -> bool:
        """Whether no pattern names a non-ASCII character, so :func:`one_byte` text gives the same ends."""
        if self._one_byte_safe is None:
            self._one_byte_safe = not any(_names_non_ascii(pattern) for pattern in self.patterns)
        return self._one_byte_safe

    def ends(self, text: str) -> list[tuple[int, int]]:
        """``(pattern index, end offset)`` for every end of every match, unordered; do not change the list.

        Only for a text :func:`accelerates` said yes to.  A pattern with
        variable-length matches reports each end at which it can end.  The
        first set to ask about a text scans it for every set in use; the
        others' answers are then waiting.
        """
        if not text:
            return []  # Hyperscan takes no pattern that matches the empty string
        last = getattr(_last_pass, "found", None)
        if last is not None and last[0] is text and self.serial in last[1]:
            return last[1][self.serial]
        found = _union_with(self).scan(one_byte(text))
        _last_pass.found = (text, found)
        return found[self.serial]


class _Union:
    """One Hyperscan database over the patterns of several sets, and how to split its matches back."""

    def __init__(self, members: tuple[PatternSet, ...]) -> None:
        # (the sets' patterns, not the sets: a set nobody else holds must be free to go)
        self.sources = tuple((member.patterns, member.caseless) for member in members)
        self.slots = {member.serial: slot for slot, member in enumerate(members)}
        #: per database pattern id: the set's slot and the pattern's index in its set
        self.owners = [(slot, index) for slot, member in enumerate(members) for index in range(len(member.patterns))]
        self._database: Any = None
        self._scratch = threading.local()  # Hyperscan's scratch space is one per thread

    def _expressions(self) -> tuple[list[bytes], list[int]]:
        hyperscan = _hyperscan()
        expressions = [pattern.encode("ascii") for patterns, _caseless in self.sources for pattern in patterns]
        flags = [hyperscan.HS_FLAG_CASELESS if caseless else 0 for patterns, caseless in self.sources for _ in patterns]
        return expressions, flags

    def kept_file(self) -> str:
        """Where the compiled database is kept: one file per list of patterns, flags and library version."""
        expressions, flags = self._expressions()
        key = hashlib.blake2b(repr((expressions, flags, getattr(_hyperscan(), "__version__", ""))).encode(),
                              digest_size=12).hexdigest()
        return os.path.join(cache_location.cache_dir(), f"hyperscan-{key}.db")

    def compiled(self) -> Any:
        """The Hyperscan database: loaded from the cache directory, else compiled (and kept there)."""
        if self._database is None:
            hyperscan = _hyperscan()
            kept = self.kept_file()
            database = _load_kept(kept, hyperscan)
            if database is None:
                expressions, flags = self._expressions()
                database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
                try:
                    database.compile(expressions=expressions, ids=list(range(len(expressions))),
                                     elements=len(expressions), flags=flags)
                except hyperscan.error as exc:  # a pattern Hyperscan cannot take: a bug of ours, not the user's
                    raise ValueError(f"pattern set cannot be compiled: {exc}") from None
                replace_quietly(kept, hyperscan.dumpb(database))  # failing only costs the next run a compile
            self._database = database
        return self._database

    def scan(self, data: bytes) -> dict[int, list[tuple[int, int]]]:
        """Each member's ``(pattern index, end)`` list in ``data``, by the member's serial."""
        database = self.compiled()
        scratch = getattr(self._scratch, "space", None)
        if scratch is None:
            scratch = self._scratch.space = _hyperscan().Scratch(database)
        lists: list[list[tuple[int, int]]] = [[] for _ in self.sources]
        appends = [found.append for found in lists]
        owners = self.owners

        def on_match(pattern_id: int, _start: int, end: int, _flags: int, _context: Any) -> None:
            slot, index = owners[pattern_id]
            appends[slot]((index, end))

        database.scan(data, match_event_handler=on_match, scratch=scratch)
        return {serial: lists[slot] for serial, slot in self.slots.items()}


#: The sets that asked so far (weakly: a set nobody holds leaves at the next growth), and their union.
_members: list[weakref.ref[PatternSet]] = []
_union: _Union | None = None
_union_lock = threading.Lock()
#: Per thread: the last text scanned and every member's ends in it.
_last_pass = threading.local()


def _live_members() -> list[PatternSet]:
    return [member for member in (ref() for ref in _members) if member is not None]


def _union_with(pattern_set: PatternSet) -> _Union:
    """The union that scans ``pattern_set``: the current one, or one grown by it (compiled or loaded now)."""
    global _union, _members
    with _union_lock:
        union = _union
        if union is None or pattern_set.serial not in union.slots:
            members = (*_live_members(), pattern_set)
            union = _Union(members)
            union.compiled()  # a set that cannot be compiled raises here, and does not join
            _members = [weakref.ref(member) for member in members]
            _union = union
        return union


def accelerates(text: str, pattern_set: PatternSet | None = None) -> bool:
    """Whether :meth:`PatternSet.ends` can answer for ``text``; if not, take the pure-Python path.

    Without ``pattern_set``, ASCII text only, once this process has scanned
    :data:`MIN_BYTES`.  With it, any text the set is :meth:`~PatternSet.one_byte_safe`
    for, from the set's own thresholds on (lower when its database is kept).
    Counts ``text`` towards them once, however many checks ask; the text that
    crosses a threshold is itself accelerated.
    """
    global _seen_bytes, _counted, _counted_mode
    if pattern_set is None and not text.isascii() or pattern_set is not None and not pattern_set.ascii:
        return False
    if text is not _counted:
        _counted, _counted_mode = text, _mode()
        if _counted_mode not in ("0", "1"):
            _seen_bytes += len(text)
    mode = _counted_mode
    if mode == "0":
        return False
    if mode != "1":
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


def _load_kept(path: str, hyperscan: Any) -> Any:
    """The kept database, or None when there is none or it does not load (damaged, other CPU)."""
    try:
        with open(path, "rb") as handle:
            return hyperscan.loadb(handle.read(), hyperscan.HS_MODE_BLOCK)
    except (OSError, hyperscan.error, TypeError, ValueError):
        return None
