"""The ``secretaudit`` console script: start listing what ``scan`` will scan, then load the CLI.

A rescan of an unchanged directory waits mostly on its listing (GNU
``find`` or git, see :mod:`secretaudit.dir_listing`), and loading the CLI (click and
the command definitions) takes some 27 ms before ``scan`` itself could start
it.  So the arguments are read here first, just enough to see the
directories a ``scan`` will list; the listing then runs on the other core
while the CLI loads.  Reading them wrong costs nothing but that head start:
``scan`` starts any listing this missed, and one started for nothing is
never used.
"""

from __future__ import annotations

import os
import sys

#: ``scan``'s options that take a value (the tests compare it with the click command).
SCAN_VALUE_OPTIONS = frozenset({
    "-c", "--config", "-p", "--exclude", "--max-file-size", "--file-timeout", "--workers", "--shard", "--compare",
    "--report",
    "--format", "--ref", "--baseline", "--fail-on", "--github-api-url",
})

#: ``scan``'s flags that make it list no directory.
_NO_LISTING = frozenset({"--staged", "--history", "-h", "--help"})


def directories_to_list(args: list[str]) -> list[str]:
    """The directories ``secretaudit ARGS`` will list, if ARGS are a ``scan``'s; else none."""
    if not args or args[0] != "scan":
        return []
    paths: list[str] = []
    rest = iter(args[1:])
    for arg in rest:
        if arg == "--":
            paths.extend(rest)
        elif arg in _NO_LISTING:
            return []
        elif arg in SCAN_VALUE_OPTIONS:
            next(rest, None)  # its value
        elif not arg.startswith("-"):
            paths.append(arg)
    return [path for path in paths or ["."] if os.path.isdir(path)]


def run() -> None:
    """Start the listings a ``scan`` will need, then run the CLI (:func:`secretaudit.cli.run`)."""
    directories = directories_to_list(sys.argv[1:])
    if directories:
        from secretaudit.dir_listing import prefetch

        prefetch(directories)
    from secretaudit.cli import run as run_cli

    run_cli()
