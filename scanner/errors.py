"""Exit codes and the errors that map onto them.

User mistakes (bad flags, broken config or baseline) raise :class:`UsageError`
with a one-line message naming the cause and the fix; the CLI prints it and
exits 4.  Anything else that escapes is a bug: exit 3.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """pytest's numbering, so CI systems read secretaudit like a test run."""

    OK = 0
    FINDINGS = 1
    INTERRUPTED = 2
    INTERNAL_ERROR = 3
    USAGE_ERROR = 4
    NOTHING_SCANNED = 5


class UsageError(Exception):
    """A user mistake: printed as one line, exit code 4."""


class ConfigError(UsageError):
    """The configuration file is unreadable, malformed or has a bad key."""

    def __init__(self, source: str, key: str | None, problem: str) -> None:
        where = f"{source}: key '{key}'" if key else source
        super().__init__(f"{where}: {problem}")
        self.source = source
        self.key = key
