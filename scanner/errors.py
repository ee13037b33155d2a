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
    """A user mistake: printed as one line, exit code 4.

    The text goes through :func:`secretaudit.redact.scrub` here, so a URL with a
    password or a token that slipped into the message never reaches the
    terminal, whoever raised it.
    """

    def __init__(self, message: str = "") -> None:
        from secretaudit.redact import scrub

        super().__init__(scrub(str(message)))


class ConfigError(UsageError):
    """The configuration file is unreadable, malformed or has a bad key.

    The message names the key and what is expected, never the value: a value
    may be a secret pasted in the wrong place.  So whatever ``problem`` says,
    every string of the loaded configuration is replaced by its shape ("a
    28-character string") and key parts that are not plain names are too
    (:mod:`secretaudit.redact`).  ``key`` keeps the path as given, for callers.
    """

    def __init__(self, source: str, key: str | None, problem: str) -> None:
        from secretaudit.redact import key_path, scrub_config_message

        where = f"{source}: key '{key_path(key)}'" if key else source  # the source is a path, not a config value
        super().__init__(f"{where}: {scrub_config_message(problem)}")
        self.source = source
        self.key = key
