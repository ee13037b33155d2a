"""Paths as reports show them: relative to the repository, never the machine's absolute paths.

A report is read on other machines (a reviewer's browser, GitHub code
scanning, a compliance archive): ``/home/ci/builds/7f3a/app`` tells them
nothing but the build machine's layout, and makes two runs of one
repository differ.  So targets, the config file and the command line are
shown relative to the scan root (the git work tree, or the config's
directory), and anything outside it relative to it as well (``../shared``),
as file findings are (see :func:`secretaudit.file_targets.display_path`).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from secretaudit.stash import SCAN_ROOT

if TYPE_CHECKING:
    from secretaudit.config import Config


def _relative(path: str, root: str) -> str | None:
    """``path`` relative to ``root`` when it is under it, else None."""
    try:
        relative = os.path.relpath(path, root)
    except ValueError:  # another drive (Windows)
        return None
    return None if relative == os.pardir or relative.startswith(os.pardir + os.sep) else relative


def shown_path(path: str, config: "Config") -> str:
    """``path`` relative to the scan root, POSIX style (``.`` for the root itself; ``../x`` outside it).

    A relative ``path`` is taken from the current directory, as the command
    line gave it.  The path as given is tried first, as file findings are
    named (a symlinked directory keeps its own name), then with symlinks
    resolved on both sides (``/tmp`` is a link on some systems).
    """
    if not path:
        return path
    root = str(config.stash.get(SCAN_ROOT, config.rootdir))
    real_root = os.path.realpath(root)
    relative = _relative(os.path.abspath(path), root) or _relative(os.path.realpath(path), real_root)
    if relative is None:
        try:
            relative = os.path.relpath(os.path.realpath(path), real_root)
        except ValueError:  # another drive (Windows): nothing relative to say
            return os.path.basename(path.rstrip("/\\")) or path
    return relative.replace(os.sep, "/") if os.sep != "/" else relative


def shown_argv(argv: list[str], config: "Config") -> list[str]:
    """The command line with each absolute path in it (alone, or after ``FORMAT:`` or ``--opt=``) made relative."""
    shown = []
    for arg in argv:
        head, sep, tail = arg.rpartition("=") if arg.startswith("--") and "=" in arg else ("", "", arg)
        prefix, colon, rest = tail.partition(":") if not os.path.isabs(tail) and ":" in tail else ("", "", tail)
        if os.path.isabs(rest):
            rest = shown_path(rest, config)
        shown.append(f"{head}{sep}{prefix}{colon}{rest}")
    return shown
