"""Per-run state: a stash with typed keys (pytest's ``Stash``), and the run-wide keys.

Plugins keep what belongs to one run in ``config.stash`` so that nothing
lives in module globals (a second run in the same process -- the tests, a
long-lived pre-commit daemon -- starts clean).  A key is a
:class:`StashKey` object, not a string: two plugins cannot collide on a
name, a typo is a NameError at import instead of a silent ``None`` at run
time, and the key carries the type of its value for the reader.

The keys below are the run-wide ones: set by the command line (or the
engine) and read by the engine and by plugins alike.  A key only one module
uses is defined in that module, next to the code that reads it
(``aws_iam.OPTIONS``, ``git_history.READERS``...).

Workers are forked (``parallel.py``), so key identity survives into them;
the stash is never pickled.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

if TYPE_CHECKING:
    from secretaudit.backends import Backend
    from secretaudit.correlate import Correlation
    from secretaudit.model import SecretRecord

T = TypeVar("T")
D = TypeVar("D")


class StashKey(Generic[T]):
    """A key into :class:`Stash`, compared by identity; ``name`` only names it in errors and ``repr``."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"StashKey({self.name!r})"


class Stash:
    """A mapping from :class:`StashKey` to values; refuses any other key, so string keys cannot creep back."""

    __slots__ = ("_values",)

    def __init__(self) -> None:
        self._values: dict[StashKey[Any], Any] = {}

    @staticmethod
    def _checked(key: object) -> StashKey[Any]:
        if not isinstance(key, StashKey):
            raise TypeError(f"stash keys are StashKey objects, not {type(key).__name__} ({key!r})")
        return key

    def __getitem__(self, key: StashKey[T]) -> T:
        return self._values[self._checked(key)]  # type: ignore[no-any-return]

    def __setitem__(self, key: StashKey[T], value: T) -> None:
        self._values[self._checked(key)] = value

    def __delitem__(self, key: StashKey[T]) -> None:
        del self._values[self._checked(key)]

    def __contains__(self, key: object) -> bool:
        return self._checked(key) in self._values

    def __len__(self) -> int:
        return len(self._values)

    @overload
    def get(self, key: StashKey[T]) -> T | None: ...

    @overload
    def get(self, key: StashKey[T], default: D) -> T | D: ...

    def get(self, key: StashKey[T], default: Any = None) -> Any:
        return self._values.get(self._checked(key), default)

    def setdefault(self, key: StashKey[T], default: T) -> T:
        return self._values.setdefault(self._checked(key), default)  # type: ignore[no-any-return]

    def pop(self, key: StashKey[T], default: Any = None) -> Any:
        return self._values.pop(self._checked(key), default)


# -- run-wide keys (set by the command, read by the engine and plugins) --------------------------

#: every backend of the run, built once from the config (audit, list, get, rotate, validate)
BACKENDS: StashKey[list["Backend"]] = StashKey("backends")
#: set by ``audit``: the backends' secrets are targets of this run
AUDIT_BACKENDS: StashKey[bool] = StashKey("audit_backends")
#: the records every backend listed, in order (filled while they list)
RECORDS: StashKey[list["SecretRecord"]] = StashKey("records")
#: per backend label: how many secrets it listed and how long it took
BACKEND_STATS: StashKey[dict[str, dict[str, Any]]] = StashKey("backend_stats")
#: ``--listing-progress`` mode while backends list (stderr)
LISTING_PROGRESS: StashKey[str] = StashKey("listing_progress")
#: where relative paths are shown from: the git top level, else the config's or the scan's directory
SCAN_ROOT: StashKey[Path] = StashKey("scan_root")
#: ``--shard K/N``
SHARD: StashKey[tuple[int, int]] = StashKey("shard")
#: ``--allow-empty``: nothing to scan is success
ALLOW_EMPTY: StashKey[bool] = StashKey("allow_empty")
#: the command line as run, values already redacted (shown in reports)
ARGV: StashKey[list[str]] = StashKey("argv")
#: the baseline file in use, if any
BASELINE_PATH: StashKey[str] = StashKey("baseline_path")
#: ``--compare`` previous report
COMPARE: StashKey[str] = StashKey("compare")
#: the reports asked for: (format, path) pairs, ``-`` is stdout
REPORTS: StashKey[list[tuple[str, str]]] = StashKey("reports")
#: report paths written, and those that could not be
REPORTS_WRITTEN: StashKey[list[str]] = StashKey("reports_written")
REPORTS_FAILED: StashKey[list[str]] = StashKey("reports_failed")
#: ``--create-dirs`` for report paths
CREATE_DIRS: StashKey[bool] = StashKey("create_dirs")
#: the terminal's settings: out stream, verbosity, colour
TERMINAL: StashKey[dict[str, Any]] = StashKey("terminal")
#: ``--github-api-url``
GITHUB_API_URL: StashKey[str] = StashKey("github_api_url")
#: ``scan --history``: the repository and refs
HISTORY: StashKey[dict[str, Any]] = StashKey("history")
#: ``scan --verify``: found credentials are checked against their services
VERIFY: StashKey[bool] = StashKey("verify")
#: ``validate``: the secrets asked for ([] is --all), and those validated so far
VALIDATE: StashKey[list[str]] = StashKey("validate")
VALIDATED: StashKey[list[str]] = StashKey("validated")
#: ``audit --correlate``: the run's keyed hashes (absent: correlation is off)
CORRELATION: StashKey["Correlation"] = StashKey("correlate")
#: what the detection rules add to every file's cache key (a changed rule set rescans)
RULES_DIGEST: StashKey[str] = StashKey("rules.digest")
#: waivers kept outside the config (a gitleaks allowlist's commits...)
WAIVERS_EXTRA: StashKey[list[Any]] = StashKey("waivers.extra")
#: what the user should know about the run's rules (a gitleaks rule bounded or skipped): shown as warnings
RULE_NOTES: StashKey[list[str]] = StashKey("rules.notes")
