"""Where secretaudit may write a file a user asked for: regular files only, checked before the run.

Reports (``--report FORMAT:PATH``) and baselines (``-o FILE``) are written by
replacing the file at PATH in one step (:mod:`secretaudit.atomicfile`).  Done
blindly, as root in a CI job, that turned ``/dev/full`` into a regular file,
replaced a FIFO (its reader got nothing), replaced a symbolic link, overwrote
a read-only file and created directories nobody asked for.  So every file
the CLI writes on request passes :func:`check_output_path` first:

* PATH must be a regular file or not exist.  Devices (``/dev/null`` too:
  leave the option out to discard a report), FIFOs, sockets and directories
  are refused.
* A symbolic link at PATH is refused rather than written through.  Replacing
  the link loses it, and following it is the classic attack on a tool that
  runs as root in a shared directory: a link planted at the report path
  pointing at ``/etc/passwd``.  ``/dev/stdout`` and ``/dev/fd/N`` are links
  too; ``-`` is the way to say stdout.
* A read-only file is refused even when root could replace it: its mode says
  somebody meant to keep it.
* A missing directory is created only with ``--create-dirs`` (curl's name
  for it); otherwise a typo in a path would silently grow a new tree.

The check runs before scanning (exit 4, nothing wasted) and again just before
the write, since a long run leaves time for PATH to change; a write that still
fails then (disk full, a directory appeared) raises :class:`OutputPathError`
with a one-line message, which the callers turn into a failed run.
"""

from __future__ import annotations

import os
import stat

from secretaudit.errors import UsageError

#: The option that allows creating missing parent directories.
CREATE_DIRS_OPTION = "--create-dirs"

_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


class OutputPathError(UsageError):
    """A path the CLI was asked to write cannot (or must not) take the file; one line, cause and fix."""


def check_output_path(path: str, what: str, create_dirs: bool = False, stdout_ok: bool = False) -> None:
    """Raise :class:`OutputPathError` unless ``path`` can be replaced by a regular file we write.

    ``what`` names the option in the message (``--report json:out.json``);
    ``stdout_ok`` says the option also takes ``-`` (reports do), so the fix can offer it.
    """
    problem = _problem(path, create_dirs, stdout_ok)
    if problem is not None:
        raise OutputPathError(f"{what}: {problem}")


def write_output(path: str, text: str, what: str, create_dirs: bool = False, stdout_ok: bool = False) -> None:
    """Check ``path`` again, then replace it with ``text`` atomically; failures raise :class:`OutputPathError`."""
    from pathlib import Path

    from secretaudit.atomicfile import write_atomically

    check_output_path(path, what, create_dirs, stdout_ok)
    try:
        if create_dirs:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        write_atomically(Path(path), text)
    except OSError as exc:
        raise OutputPathError(f"{what}: could not write {path} ({exc.strerror or exc}); "
                              "check free space and permissions, or choose another path") from None


def _problem(path: str, create_dirs: bool, stdout_ok: bool) -> str | None:
    """What is wrong with writing a file at ``path``, as "cause; fix", or None."""
    if not path:
        return "no path given; name a file"
    if path.endswith(("/", os.sep)):
        return f"{path} names a directory; name a file in it"
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return _directory_problem(os.path.dirname(path) or ".", create_dirs)
    except NotADirectoryError:
        return f"a parent of {path} is not a directory; choose another path"
    except OSError as exc:
        return f"cannot inspect {path} ({exc.strerror or exc}); choose another path"
    mode = info.st_mode
    if stat.S_ISLNK(mode):
        return (f"{path} is a symbolic link (to {_link_target(path)}); secretaudit does not write through links: "
                "give the real file's path" + (", or '-' for stdout" if stdout_ok else ""))
    if stat.S_ISDIR(mode):
        return f"{path} is a directory; name a file in it"
    for test, kind in _KINDS:
        if test(mode):
            return (f"{path} is {kind}, not a regular file; give a file path" + (
                " (or '-' for stdout), or leave the option out to discard the output" if stdout_ok else ""))
    if not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
        return (f"{path} is read-only (mode {stat.S_IMODE(mode):04o}); make it writable "
                f"(chmod u+w) or choose another path")
    if not os.access(path, os.W_OK):
        return f"{path} is not writable by this user; choose another path"
    return _directory_problem(os.path.dirname(path) or ".", False)


def _directory_problem(directory: str, create_dirs: bool) -> str | None:
    """Whether a file can be created in ``directory`` (the atomic replace creates one there)."""
    if os.path.isdir(directory):
        if not os.access(directory, os.W_OK | os.X_OK):
            return f"directory {directory} is not writable; choose another path"
        return None
    if os.path.lexists(directory):
        return f"{directory} is not a directory; choose another path"
    if not create_dirs:
        return f"directory {directory} does not exist; create it, or add {CREATE_DIRS_OPTION}"
    ancestor = directory
    while not os.path.lexists(ancestor):
        parent = os.path.dirname(ancestor) or "."  # a relative path's first part is made in the current directory
        if parent == ancestor:
            return None
        ancestor = parent
    if not os.path.isdir(ancestor):
        return f"{ancestor} is not a directory; choose another path"
    if not os.access(ancestor, os.W_OK | os.X_OK):
        return f"directory {ancestor} is not writable; choose another path"
    return None


def _link_target(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return "?"
