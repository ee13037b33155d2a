"""The ``github`` format: findings as GitHub Actions workflow commands (annotations).

A step that prints ``::error file=app/settings.py,line=6,title=SA101 ...::message``
makes GitHub draw the finding on that line of the pull request's diff and
list it on the run's summary page, with no upload and no token.  So
``secretaudit scan --format github`` in a workflow (or the Action in this
repository, which also writes SARIF for code scanning) puts every finding
where the reviewer already looks.

The level follows the run's verdict, not only the severity: a failed
finding at or above ``fail_on`` is an ``error`` (it fails the run), one
below it a ``warning`` (shown, does not fail), an error result or a file
that could not be read an ``error``; waived findings are accepted and not
annotated.  GitHub shows at most 10 annotations of each level per step, so
errors come first, most severe first.

Everything printed is data a hostile repository chooses (file names,
messages quoting keys), and one forged line would be a workflow command of
its own (``::add-mask::``, ``::stop-commands::``).  So every value is made
:func:`~secretaudit.printable.visible` (no control character survives), then
escaped by GitHub's own rules (``%``, CR and LF in the message; also ``:``
and ``,`` in properties), so each annotation is exactly one line and its
properties cannot be split or extended.  Findings carry redacted evidence
only (see :mod:`secretaudit.model`); nothing here can add a secret.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from secretaudit.hookspec import hookimpl
from secretaudit.model import Severity, Status
from secretaudit.printable import visible

if TYPE_CHECKING:
    from secretaudit.model import Finding
    from secretaudit.registry import FormatRegistry
    from secretaudit.session import Session


def escape_data(text: str) -> str:
    """GitHub's escaping of a command's message (``escapeData`` in @actions/core)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """GitHub's escaping of a property value (``escapeProperty``): the message's, plus ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(level: str, message: str, **properties: object) -> str:
    """One workflow command line; properties that are None or empty are left out.

    ``message`` may hold newlines of our own (between the finding and its
    remediation): they are escaped as ``%0A``, which GitHub shows as line breaks.
    """
    props = ",".join(f"{key}={escape_property(str(value))}" for key, value in properties.items()
                     if value not in (None, ""))
    return f"::{level}{' ' + props if props else ''}::{escape_data(message)}"


def _file(path: str | None) -> str | None:
    """The annotation's ``file``: relative to the workspace, as GitHub maps it onto the diff.

    Finding paths are already relative to the scan root (the repository);
    an absolute one under ``$GITHUB_WORKSPACE`` (a path given outside the
    root) is made relative to it so it still lands on the file.
    """
    if path is None:
        return None
    workspace = os.environ.get("GITHUB_WORKSPACE", "")
    if workspace and os.path.isabs(path):
        try:
            relative = os.path.relpath(path, workspace)
        except ValueError:  # another drive (Windows)
            return visible(path)
        if not relative.startswith(".."):
            return visible(relative.replace(os.sep, "/"))
    return visible(path)


def level(finding: "Finding", threshold: Severity) -> str | None:
    """``error``, ``warning`` or None (not annotated) for one finding under ``fail_on``."""
    if finding.status is Status.ERROR:
        return "error"
    if finding.status is Status.FAILED:
        return "error" if finding.severity >= threshold else "warning"
    return None


def annotation(finding: "Finding", kind: str, titles: dict[str, str]) -> str:
    """One finding as a workflow command: where, which check, what, and how to fix it."""
    loc = finding.location
    text = visible(finding.message) + (f": {visible(finding.evidence)}" if finding.evidence else "")
    if loc.path is None:  # a backend secret: no file to point at, so the message names it
        text = f"{visible(loc)}: {text}"
    elif loc.commit:
        text += f" (in commit {visible(loc.commit[:12])})"
    if finding.status is Status.FAILED and kind == "warning":
        text += f" [{finding.severity.label}: below fail-on, does not fail the run]"
    elif finding.status is Status.ERROR:
        text += " [could not decide: fails the run]"
    if finding.remediation:
        text += "\n" + visible(finding.remediation)
    title = f"{finding.check_id} {titles.get(finding.check_id, '')}".strip()
    return command(kind, text, file=_file(loc.path), line=loc.line, title=visible(f"{title} [{finding.severity.label}]"))


def lines(session: "Session") -> list[str]:
    """Every annotation of the run, errors first and most severe first."""
    threshold = Severity.parse(session.config.settings.get("fail_on", "low"))
    titles = {spec.id: spec.title for spec in session.config.checks or []}
    ranked: list[tuple[int, int, tuple, str]] = []
    for finding in session.findings:
        kind = level(finding, threshold)
        if kind is not None:
            ranked.append((kind != "error", -finding.severity, finding.sort_key(),
                           annotation(finding, kind, titles)))
    ranked.sort(key=lambda item: item[:3])
    out = [item[3] for item in ranked]
    for skip in session.errors:
        out.append(command("error", visible(skip.message or f"{skip.relpath}: {skip.reason}")
                           + " [not scanned: fails the run]",
                           file=_file(skip.relpath), title=f"secretaudit: file not scanned ({visible(skip.reason)})"))
    out.extend(command("warning", visible(warning), title="secretaudit") for warning in session.warnings)
    return out


def render(session: "Session") -> str:
    out = lines(session)
    return "\n".join(out) + "\n" if out else ""


@hookimpl
def secretaudit_register_formats(registry: "FormatRegistry") -> None:
    registry.add("github", render, extension="txt")
