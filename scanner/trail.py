"""The access trail: one JSON line per ``get``, ``rotate`` and ``validate``.

Who touched which secret, when, from where, through which command, and
what came of it: the evidence an auditor asks for ("every access audited").
A line never holds a secret value; :func:`record` accepts only names,
outcomes and the operator's stated reason (kept to 500 characters).

Lines are appended with one ``write(2)`` on an ``O_APPEND`` descriptor held
under an exclusive ``flock``: concurrent writers interleave whole lines, and
a process killed at any instant leaves either the whole line or none.  A
short write (a full disk) is cut back to the previous end of file before
the lock is released, so even then no torn line remains.

The reader (:func:`read_trail`, :func:`select`; used by ``secretaudit
trail``) still expects the worst: a trail copied between machines, edited by
hand or written by an older writer may hold a broken line.  Each one is
collected with its line number and skipped, so one bad line never hides the
rest of the evidence, and never raises.
"""

from __future__ import annotations

import fnmatch
import getpass
import json
import os
import re
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator

if TYPE_CHECKING:
    from secretaudit.config import Config

#: Fields of every trail line, in order.
FIELDS = ("time", "actor", "host", "command", "secret", "backend", "outcome", "reason")


def default_path() -> Path:
    """``$XDG_STATE_HOME/secretaudit/trail.jsonl`` (``~/.local/state/...``)."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "secretaudit" / "trail.jsonl"


def trail_path(config: "Config") -> Path:
    """The configured ``audit_log`` (relative to the config file), or the default."""
    configured = config.settings.get("audit_log") or ""
    if not configured:
        return default_path()
    path = Path(os.path.expanduser(configured))
    return path if path.is_absolute() else config.rootdir / path


def actor() -> str:
    """Who is acting: ``SECRETAUDIT_ACTOR``, else the CI's actor, else the login name."""
    for variable in ("SECRETAUDIT_ACTOR", "GITHUB_ACTOR", "GITLAB_USER_LOGIN", "BUILDKITE_BUILD_CREATOR"):
        if os.environ.get(variable):
            return os.environ[variable]
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"


def event(command: str, secret: str, backend: str, outcome: str, reason: str = "",
          **extra: Any) -> dict[str, Any]:
    """One trail entry; ``extra`` adds non-secret context (``version``, ``dry_run``)."""
    entry: dict[str, Any] = {
        "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "actor": actor(),
        "host": socket.gethostname(),
        "command": command,
        "secret": secret,
        "backend": backend,
        "outcome": outcome,
        "reason": reason[:500],
    }
    entry.update(extra)
    return entry


def append(path: Path, entry: dict[str, Any]) -> None:
    """Append ``entry`` as one line, atomically (see the module docstring).

    Raises :class:`OSError` when the trail cannot be written; callers turn
    that into a one-line error, because an access that cannot be recorded
    must not pass silently.
    """
    import fcntl

    line = (json.dumps(entry, sort_keys=False, separators=(",", ":"), default=str) + "\n").encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        start = os.fstat(fd).st_size
        try:
            written = os.write(fd, line)
            if written != len(line):
                raise OSError(f"short write to {path} ({written} of {len(line)} bytes)")
            os.fsync(fd)
        except OSError:
            os.ftruncate(fd, start)
            raise
    finally:
        os.close(fd)


def record(config: "Config", command: str, secret: str, backend: str, outcome: str, reason: str = "",
           **extra: Any) -> dict[str, Any]:
    """Build and append one entry to the configured trail; returns the entry."""
    entry = event(command, secret, backend, outcome, reason, **extra)
    append(trail_path(config), entry)
    return entry


# -- reading the trail back (``secretaudit trail``) ------------------------------------------
#
# The reader is deliberately forgiving: the writer guarantees whole lines, but
# a trail copied between machines, edited by hand or cut by a full disk on an
# older writer can still hold a broken line.  One broken line must not hide
# the rest of the evidence, so it is reported (with its number) and skipped.

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$", re.IGNORECASE)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class TrailError(Exception):
    """The trail cannot be read at all; the message is one line naming cause and fix.

    ``missing`` tells "nothing recorded here yet" apart from "unreadable".
    """

    def __init__(self, message: str, missing: bool = False) -> None:
        super().__init__(message)
        self.missing = missing


@dataclass
class BadLine:
    """A line that is not a trail entry: its 1-based number and what is wrong."""

    number: int
    problem: str


@dataclass
class TrailRead:
    """What :func:`read_trail` found: entries in file order, and the lines it skipped."""

    path: Path
    entries: list[dict[str, Any]] = field(default_factory=list)
    bad_lines: list[BadLine] = field(default_factory=list)
    total: int = 0


def parse_time(value: Any) -> datetime | None:
    """An entry's ``time`` (ISO 8601, ``Z`` allowed) as an aware UTC datetime; None if unparsable."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """``30m``, ``24h``, ``7d``, ``2w`` (before ``now``) or an ISO date/datetime (UTC if naive).

    Raises :class:`ValueError` with a one-line message showing the accepted forms.
    """
    now = now or datetime.now(timezone.utc)
    match = _DURATION.match(value)
    if match:
        return now - timedelta(**{_UNITS[match.group(2).lower()]: int(match.group(1))})
    moment = parse_time(value)
    if moment is None:
        raise ValueError(f"--since {value!r} is neither a duration nor a date; use e.g. 30m, 24h, 7d, "
                         "2026-11-01 or 2026-11-01T08:00:00Z")
    return moment


def _entry_problem(entry: Any) -> str | None:
    if not isinstance(entry, dict):
        return f"a JSON {type(entry).__name__}, not a trail entry"
    if parse_time(entry.get("time")) is None:
        return "no valid 'time' field"
    return None


def iter_lines(path: Path) -> Iterator[tuple[int, bytes, bool]]:
    """``(number, line without newline, complete)`` for every line of ``path``, streamed.

    ``complete`` is False only for a last line missing its newline: the
    signature of a write cut short.  Raises :class:`OSError` if unreadable.
    """
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            complete = raw.endswith(b"\n")
            yield number, raw.rstrip(b"\r\n"), complete


def read_trail(path: Path) -> TrailRead:
    """Every entry of the trail at ``path``; broken lines are collected, never raised.

    Raises :class:`TrailError` only when the file is missing or unreadable.
    """
    result = TrailRead(path=path)
    try:
        for number, raw, complete in iter_lines(path):
            if not raw.strip():
                continue
            result.total += 1
            try:
                entry = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError:
                result.bad_lines.append(BadLine(number, "not UTF-8 (corrupt line)"))
                continue
            except json.JSONDecodeError:
                result.bad_lines.append(BadLine(number, "incomplete last line (a torn write)" if not complete
                                                else "not valid JSON (corrupt line)"))
                continue
            problem = _entry_problem(entry)
            if problem:
                result.bad_lines.append(BadLine(number, problem))
                continue
            result.entries.append(entry)
    except FileNotFoundError:
        raise TrailError(f"no access trail at {path}", missing=True) from None
    except IsADirectoryError:
        raise TrailError(f"cannot read access trail {path}: it is a directory; point audit_log at a file") from None
    except OSError as exc:
        raise TrailError(f"cannot read access trail {path} ({exc.strerror or exc}); fix its permissions "
                         "or point audit_log elsewhere") from None
    return result


def select(entries: Iterable[dict[str, Any]], since: datetime | None = None,
           secrets: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Entries at or after ``since`` whose secret matches any of ``secrets`` (names or globs).

    A pattern is matched against the secret name and against ``BACKEND:NAME``,
    so ``github*`` and ``vault:prod:github*`` both work.
    """
    patterns = [p for p in secrets if p]
    chosen = []
    for entry in entries:
        if since is not None:
            moment = parse_time(entry.get("time"))
            if moment is None or moment < since:
                continue
        if patterns:
            name = str(entry.get("secret") or "")
            qualified = f"{entry.get('backend') or ''}:{name}"
            if not any(fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(qualified, p) for p in patterns):
                continue
        chosen.append(entry)
    return chosen


def one_line(value: Any) -> str:
    """A field made safe for a one-row table cell: controls shown as escapes (:func:`secretaudit.printable.visible`)."""
    from secretaudit.printable import visible

    return visible(value)
