"""Regular expressions compiled on first use.

A check module may hold hundreds of patterns, and compiling them all at
import costs tens of milliseconds: more than a pre-commit hook over ten
clean files spends scanning.  Most patterns only run where a prefilter hit,
so most never need compiling at all.
"""

from __future__ import annotations

import re
from typing import Any

from secretaudit import patterns


class LazyPattern:
    """A stand-in for ``re.compile(pattern, flags)`` that compiles when first used.

    The first lookup of a method (``search``, ``finditer``...) or attribute
    compiles the pattern and stores the compiled pattern's bound method on
    this object, so every later lookup is an ordinary instance attribute,
    as fast as calling the compiled pattern itself: hot loops pay nothing
    for the laziness.
    """

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self._pattern = self.pattern = pattern  # .pattern as on re.Pattern, without compiling
        self._flags = flags
        self._compiled: re.Pattern[str] | None = None

    def compiled(self) -> re.Pattern[str]:
        if self._compiled is None:
            self._compiled = patterns.compile(self._pattern, self._flags)
        return self._compiled

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)  # copy/pickle protocol probes: not the pattern's
        value = getattr(self.compiled(), name)
        setattr(self, name, value)
        return value

    def __repr__(self) -> str:
        return f"LazyPattern({self._pattern!r})"


def lazy_compile(pattern: str, flags: int = 0) -> LazyPattern:
    return LazyPattern(pattern, flags)
