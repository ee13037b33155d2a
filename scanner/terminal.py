"""The terminal reporter: pytest's look for a secrets scan.

A plugin object registered at ``secretaudit_configure``: a header, progress
while files are scanned, one line per failing finding, warnings for files
that could not be scanned, and a closing summary line coloured by the worst
outcome.  With ``--format json`` (machine output on stdout) everything here
goes to stderr.
"""

from __future__ import annotations

import platform
import sys
from typing import TYPE_CHECKING, TextIO

from secretaudit import __version__
from secretaudit.hookspec import hookimpl
from secretaudit.model import Finding, Status
from secretaudit.printable import visible

if TYPE_CHECKING:
    from secretaudit.config import Config
    from secretaudit.model import Target
    from secretaudit.session import Session

_COLORS = {"failed": "red", "error": "red", "passed": "green", "waived": "yellow", "skipped": "yellow"}
_ORDER = ("failed", "passed", "waived", "error", "skipped")
_NOUNS = {"path": "file", "history": "blob", "backend": "secret", "config": "config file"}


class TerminalReporter:
    """Writes human output; verbosity -2 (``-qq``) to 2 (``-vv``)."""

    def __init__(self, config: "Config", out: TextIO, verbosity: int = 0, color: bool | None = None) -> None:
        self.config = config
        self.out = out
        self.verbosity = verbosity
        self.color = out.isatty() if color is None else color
        self.progress = out.isatty() and verbosity >= 0
        self._total = 0
        self._done = 0
        self._last_pct = -1

    # -- output helpers -----------------------------------------------------

    def style(self, text: str, fg: str | None = None, bold: bool = False) -> str:
        if not self.color:
            return text
        import click

        return click.style(text, fg=fg, bold=bold)

    def line(self, text: str = "", label: str = "", fg: str | None = None, bold: bool = False) -> None:
        """One line: an optional coloured ``label`` (ours), then ``text`` (data: names, messages) made visible.

        Data is sanitised before our colours are added, so a file name can
        neither drive the terminal nor pass for one of our own labels.
        """
        shown = visible(text)
        if label:
            shown = f"{self.style(label, fg, bold)} {shown}" if shown else self.style(label, fg, bold)
        self.out.write(shown + "\n")

    def sep(self, char: str, title: str, fg: str | None = None, bold: bool = False) -> None:
        import shutil  # only for separators: a quiet hook prints none

        width = min(shutil.get_terminal_size((80, 24)).columns, 100)
        title = f" {visible(title)} "
        fill = max(width - len(title), 4)
        self.out.write(self.style(char * (fill // 2) + title + char * (fill - fill // 2), fg, bold) + "\n")

    def _clear_progress(self) -> None:
        if self.progress and self._last_pct >= 0:
            self.out.write("\r\033[K")
            self._last_pct = -1

    # -- hooks ----------------------------------------------------------------

    @hookimpl
    def secretaudit_sessionstart(self, session: "Session") -> None:
        if self.verbosity < 0:
            return
        self.sep("=", "secretaudit session starts", bold=True)
        checks = self.config.checks
        enabled = [c.id for c in checks if self.config.is_enabled(c.id)] if checks else []
        self.line(f"secretaudit {__version__}, python {platform.python_version()}, "
                  f"checks: {', '.join(enabled) or 'none'}")
        self.line(f"rootdir: {self.config.stash.get('scan_root', self.config.rootdir)}"
                  + (f", config: {self.config.source}" if self.config.source else ""))
        baseline = self.config.stash.get("baseline_path")
        if baseline:
            self.line(f"baseline: {baseline} ({len(session.baseline)} accepted findings)")

    @hookimpl
    def secretaudit_collection_finish(self, session: "Session", target: "Target", count: int) -> None:
        self._total += count
        if self.verbosity >= 0:
            noun = _NOUNS.get(target.kind, "item")
            self.line(f"collected {count} {noun}{'s' if count != 1 else ''} from {target.name}")

    @hookimpl
    def secretaudit_progress(self, session: "Session", done: int) -> None:
        self._done = done
        if not self.progress or not self._total:
            return
        pct = self._done * 100 // self._total
        if pct != self._last_pct:
            self._last_pct = pct
            self.out.write(f"\r[{pct:3d}%] {self._done}/{self._total} files")
            self.out.flush()

    @hookimpl
    def secretaudit_finding(self, finding: Finding, config: "Config") -> None:
        if finding.status is Status.WAIVED and self.verbosity < 1:
            return
        if self.verbosity < -1:
            return
        self._clear_progress()
        colour = _COLORS.get(finding.status.value)
        status = finding.status.value.upper()
        text = (f"{finding.location} {finding.check_and_rule} [{finding.severity.label}] {finding.message}"
                + (f" {finding.evidence}" if finding.evidence else ""))
        if finding.status is Status.WAIVED:
            text += f" (waived: {finding.waiver})"
        self.line(text, status, colour, bold=True)

    @hookimpl(trylast=True)
    def secretaudit_sessionfinish(self, session: "Session", exitstatus: int) -> None:
        self._clear_progress()
        for warning in session.warnings:
            self.line(warning, "WARNING", "yellow")
        for skip in session.skipped:
            if skip.is_error:
                self.line(skip.message, "ERROR", "red", bold=True)
            elif skip.message and self.verbosity >= 0:
                self.line(f"skipped {skip.message}", "WARNING", "yellow")
            elif self.verbosity >= 2:
                self.line(f"SKIPPED {skip.relpath}: {skip.reason}")
        for written in session.config.stash.get("reports_written", []):
            if self.verbosity >= -1:
                self.line(f"report written: {written}")
        for failed in session.config.stash.get("reports_failed", []):
            self.line(f"report not written: {failed}", "ERROR", "red", bold=True)
        exitstatus = session.exitstatus  # a report that could not be written turns a pass into a failure
        if session.comparison is not None and self.verbosity >= -1:
            comparison = session.comparison
            self.line(comparison.summary())
            for finding in comparison.fixed if self.verbosity >= 0 else ():
                self.line(f"{finding.location} {finding.check_id} {finding.message}", "FIXED", "green")
        if session.interrupted:
            self.line("", "!!! interrupted: results are partial !!!", "red", bold=True)
        if self.verbosity < -1:
            return
        summary = self.summary(session)
        if self.verbosity < 0:
            self.line(summary)
        else:
            worst = next((s for s in ("failed", "error", "waived") if session.counts()[s]), "passed")
            if exitstatus == 5:
                worst = "skipped"
            elif exitstatus == 1 and worst == "passed":
                worst = "error"
            self.sep("=", summary, fg=_COLORS[worst], bold=True)
        if exitstatus == 5:
            self.line(_nothing_checked(session))

    def summary(self, session: "Session") -> str:
        counts = session.counts()
        parts = [f"{counts[k]} {k}" for k in _ORDER if counts[k]]
        reasons = {}
        for skip in session.skipped:
            if not skip.is_error:
                reasons[skip.reason] = reasons.get(skip.reason, 0) + 1
        if reasons and "skipped" in _ORDER:
            detail = ", ".join(f"{n} {r}" for r, n in sorted(reasons.items()))
            parts = [p + f" ({detail})" if p.endswith(" skipped") else p for p in parts]
        unwritten = len(session.config.stash.get("reports_failed", []))
        if unwritten:
            parts.append(f"{unwritten} report{'s' if unwritten != 1 else ''} not written")
        return f"{', '.join(parts) or 'no files scanned'} in {session.duration:.2f}s"


def _nothing_checked(session: "Session") -> str:
    """Why the run checked nothing, and where to look, by what it was asked to check."""
    kinds = {target.kind for target in session.targets} - {"config"}
    only_config = "only the config file was checked; " if session.self_checks else ""
    if kinds <= {"path", "history"}:
        return f"{only_config}no file was scanned: check the paths, exclude patterns and max_file_size"
    return (f"{only_config}nothing was checked: no file in the repositories and paths, no secret in the backends; "
            "check repos, paths, exclude patterns and the backends' paths (or pass --allow-empty)")


@hookimpl
def secretaudit_configure(config: "Config") -> None:
    """Register the reporter object, writing where the CLI asked."""
    options = config.stash.get("terminal", {})
    out = options.get("out") or sys.stdout
    reporter = TerminalReporter(config, out, options.get("verbosity", 0), options.get("color"))
    assert config.pluginmanager is not None
    config.pluginmanager.register(reporter, name="terminalreporter")
