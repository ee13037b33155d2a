"""The built-in ``reportfiles`` plugin: writes ``--report FORMAT[:PATH]`` files.

Runs first at ``secretaudit_sessionfinish`` (before the terminal summary, so
the summary can name every file written).  Files are written atomically: a
reader never sees half a report.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from scanner.atomicfile import write_atomically
from scanner.errors import UsageError
from scanner.hookspec import hookimpl

if TYPE_CHECKING:
    from scanner.registry import FormatRegistry
    from scanner.session import Session


def parse_report_option(value: str, formats: "FormatRegistry") -> tuple[str, str]:
    """``html:out/audit.html`` -> (``html``, path); ``sarif`` -> default file name."""
    name, _, path = value.partition(":")
    if name not in formats:
        raise UsageError(f"unknown report format {name!r} in --report {value} "
                         f"(choose from: {', '.join(formats.names())})")
    return name, path or f"secretaudit-report.{formats.extension(name)}"


@hookimpl(tryfirst=True)
def secretaudit_sessionfinish(session: "Session", exitstatus: int) -> None:
    config = session.config
    written = config.stash.setdefault("reports_written", [])
    for name, path in config.stash.get("reports", []):
        render = config.formats.get(name)  # type: ignore[union-attr]
        try:
            write_atomically(Path(path), render(session))
        except OSError as exc:
            session.warnings.append(f"could not write the {name} report to {path} "
                                    f"({exc.strerror or exc}); check the directory and permissions")
            continue
        written.append(f"{name}: {path}")
