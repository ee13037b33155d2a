"""Compiled regular expressions kept from one run to the next.

A pre-commit hook has about 150 ms in all, and compiling the patterns that
ten ordinary files need costs it 10-30 ms: ``re`` parses each pattern and
generates its matcher code anew in every process.  That code is a plain
list of integers, so it is kept on disk the way Python keeps bytecode in
``__pycache__``: the next process hands it straight to the regex engine
(``_sre.compile``), which validates it, in a fiftieth of the time.

Safe by construction:

* the file is per interpreter and engine version (``cache_tag`` and
  ``_sre.MAGIC`` are in its name), and each entry is keyed by the exact
  pattern and flags, so a stale entry is never looked up;
* anything unexpected (an unreadable or damaged file, an engine that
  rejects the code, an interpreter without these internals) falls back to
  :func:`re.compile`, and the file is rewritten whole, atomically;
* it holds patterns only, never scanned text.

Only the process that ran the command saves (:func:`save`, called by the
CLI at exit); worker processes use what was there when they started.
"""

from __future__ import annotations

import marshal
import os
import re
import sys
from typing import Any, AnyStr

from secretaudit import cache_location
from secretaudit.atomicfile import replace_quietly

try:
    import _sre
except ImportError:  # another implementation: plain re.compile
    _sre = None  # type: ignore[assignment]

#: Beyond this many entries the file starts afresh (a few hundred KB).
MAX_ENTRIES = 2000

Entry = tuple[int, list[int], int, dict[str, int], tuple[Any, ...]]

_stored: dict[tuple[Any, int], Entry] | None = None
_added: dict[tuple[Any, int], Entry] = {}


def cache_file() -> str | None:
    """Where this interpreter's compiled patterns live, or None when they cannot be kept."""
    if _sre is None or not sys.implementation.cache_tag:
        return None
    return os.path.join(cache_location.cache_dir(), f"patterns-{sys.implementation.cache_tag}-{_sre.MAGIC}.marshal")


def compile(pattern: AnyStr, flags: int = 0) -> re.Pattern[AnyStr]:  # noqa: A001 - mirrors re.compile
    """``re.compile(pattern, flags)``, from the kept code when an earlier run compiled it."""
    key = (pattern, int(flags))
    entry = _load().get(key) or _added.get(key)
    if entry is not None:
        try:
            return _sre.compile(pattern, *entry)
        except Exception:  # noqa: BLE001 - damaged entry: compile afresh below
            pass
    try:
        compiled, entry = _compile_keeping_code(pattern, int(flags))
    except Exception:  # noqa: BLE001 - internals differ: the plain way
        return re.compile(pattern, flags)
    _added[key] = entry
    return compiled


def _compile_keeping_code(pattern: AnyStr, flags: int) -> tuple[re.Pattern[AnyStr], Entry]:
    """What ``re._compiler.compile`` does, keeping the arguments it gives ``_sre.compile``."""
    from re import _compiler, _parser  # type: ignore[attr-defined]

    parsed = _parser.parse(pattern, flags)
    code = [int(op) for op in _compiler._code(parsed, flags)]
    groupindex = dict(parsed.state.groupdict)
    indexgroup: list[str | None] = [None] * parsed.state.groups
    for name, index in groupindex.items():
        indexgroup[index] = name
    entry: Entry = (int(flags | parsed.state.flags), code, parsed.state.groups - 1, groupindex, tuple(indexgroup))
    return _sre.compile(pattern, *entry), entry


def _load() -> dict[tuple[Any, int], Entry]:
    global _stored
    if _stored is None:
        _stored = {}
        path = cache_file()
        if path is not None:
            try:
                with open(path, "rb") as handle:
                    loaded = marshal.load(handle)
                if isinstance(loaded, dict):
                    _stored = loaded
            except (OSError, EOFError, ValueError, TypeError):
                pass  # missing or damaged: compiled afresh, and rewritten by save()
    return _stored


def save() -> None:
    """Write the patterns this process compiled afresh (atomically; errors are ignored)."""
    path = cache_file()
    if not _added or path is None:
        return
    merged = {**_load(), **_added} if len(_load()) + len(_added) <= MAX_ENTRIES else dict(_added)
    try:
        data = marshal.dumps(merged)
    except ValueError:
        return
    if not replace_quietly(path, data):
        return
    global _stored
    _stored = merged
    _added.clear()
