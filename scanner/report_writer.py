"""The built-in ``report_writer`` plugin: writes ``--report FORMAT[:PATH]`` files, and ``--format``.

There is one output path: ``--format json`` is ``--report json:-`` (the CLI
adds it to the list), so a report on stdout and a report in a file are
rendered, checked and counted the same way.

Runs first at ``secretaudit_sessionfinish`` (before the terminal summary, so
the summary can name every file written, and every one that could not be).
Files are written atomically, only where :mod:`secretaudit.outputs` allows (a
regular file or a new one, never a device, FIFO, link or read-only file);
PATH ``-`` is stdout.  A report that cannot be written fails the run: a CI job
that publishes it must not go green without it.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from secretaudit.errors import ExitCode, UsageError
from secretaudit.hookspec import hookimpl
from secretaudit.stash import CREATE_DIRS, REPORTS, REPORTS_FAILED, REPORTS_WRITTEN

if TYPE_CHECKING:
    from secretaudit.config import Config
    from secretaudit.registry import FormatRegistry
    from secretaudit.session import Session

#: The PATH that means standard output.
STDOUT = "-"


def parse_report_option(value: str, formats: "FormatRegistry") -> tuple[str, str]:
    """``html:out/audit.html`` -> (``html``, path); ``sarif`` -> default file name."""
    name, _, path = value.partition(":")
    if name not in formats:
        raise UsageError(f"unknown report format {name!r} in --report {value} "
                         f"(choose from: {', '.join(formats.names())})")
    return name, path or f"secretaudit-report.{formats.extension(name)}"


def check_reports(reports: list[tuple[str, str]], fmt: str, create_dirs: bool) -> bool:
    """Refuse, before anything runs, report paths that cannot be written; True when one goes to stdout.

    Stdout takes one output: ``--format json`` or one ``--report FORMAT:-``.
    Two reports to one file would leave only the last, so that is refused too.
    ``reports[0]`` is ``--format``'s when ``fmt`` is not ``text``.
    """
    if not reports:
        return False
    to_stdout = [f"--format {name}" if index == 0 and fmt != "text" else f"--report {name}:-"
                 for index, (name, path) in enumerate(reports) if path == STDOUT]
    if len(to_stdout) > 1:
        raise UsageError(f"{' and '.join(to_stdout)} both write to stdout; send all but one to files")
    from secretaudit.outputs import check_output_path  # only a run that writes a report loads it

    seen: dict[str, str] = {}
    for name, path in reports:
        if path == STDOUT:
            continue
        key = os.path.abspath(path)
        if key in seen:
            raise UsageError(f"--report {seen[key]}:{path} and --report {name}:{path} write the same file; "
                             "give each report its own path")
        seen[key] = name
        check_output_path(path, f"--report {name}:{path}", create_dirs, stdout_ok=True)
    return bool(to_stdout)


def _write(config: "Config", name: str, path: str, text: str) -> None:
    from secretaudit.outputs import write_output

    if path == STDOUT:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        write_output(path, text, f"--report {name}:{path}", config.stash.get(CREATE_DIRS, False), stdout_ok=True)


@hookimpl(tryfirst=True)
def secretaudit_sessionfinish(session: "Session", exitstatus: int) -> None:
    config = session.config
    if not config.stash.get(REPORTS):
        return
    from secretaudit.outputs import OutputPathError

    written = config.stash.setdefault(REPORTS_WRITTEN, [])
    failed = config.stash.setdefault(REPORTS_FAILED, [])
    # stdout last: its report then tells whether every file was written (its exit code)
    for name, path in sorted(config.stash.get(REPORTS, []), key=lambda report: report[1] == STDOUT):
        if path == STDOUT and failed and session.exitstatus == ExitCode.OK:
            session.exitstatus = ExitCode.FINDINGS
        render = config.formats.get(name)  # type: ignore[union-attr]
        try:
            _write(config, name, path, render(session))
        except (OutputPathError, OSError) as exc:
            failed.append(str(exc) if isinstance(exc, OutputPathError)
                          else f"--report {name}:{path}: could not write it ({exc.strerror or exc})")
            continue
        if path != STDOUT:
            written.append(f"{name}: {path}")
    if failed and session.exitstatus == ExitCode.OK:
        session.exitstatus = ExitCode.FINDINGS
