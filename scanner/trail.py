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
"""

from __future__ import annotations

import getpass
import json
import os
import socket
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scanner.config import Config

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
