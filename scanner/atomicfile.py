"""Writing a file so that no reader ever sees half of it.

Baselines and reports are read by other jobs (CI steps, reviewers, the next
night's ``--compare``); an interrupted run must leave the old file or the new
one, never a torn one.  The new content goes to a temporary file in the same
directory, then ``os.replace`` swaps it in.
"""

from __future__ import annotations

import os
from pathlib import Path


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step, keeping the mode of the file it replaces.

    A new file gets the usual permissions (umask applied).  The directory
    must exist: whether to create it is the caller's decision
    (:mod:`secretaudit.outputs`), and so is whether ``path`` may be replaced.
    """
    directory = path.parent if str(path.parent) else Path(".")
    import tempfile  # here, not at import: a scan that writes no file never loads it

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, _mode_for(path))  # mkstemp creates 0600; a report is meant to be shared
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _mode_for(path: Path) -> int:
    """The mode of the regular file at ``path`` (a user who made it private keeps it so), else 0666 minus umask."""
    import stat

    try:
        info = os.stat(path)
    except OSError:
        info = None
    if info is not None and stat.S_ISREG(info.st_mode):
        return stat.S_IMODE(info.st_mode)
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def replace_quietly(path: str, data: bytes) -> bool:
    """Replace ``path`` with ``data`` in one step, or leave it alone; True when written.

    For caches: a failure (read-only home, full disk) only costs the next
    run some work, so it is not an error.  The temporary file is per process,
    so concurrent runs never write into each other's.
    """
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return False
    return True
