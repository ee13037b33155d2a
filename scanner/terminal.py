"""The terminal reporter: pytest's look for a secrets scan.

A plugin object registered at ``secretaudit_configure``: a header, progress
while files are scanned, one line per failing finding, warnings for files
that could not be scanned, and a closing summary line coloured by the worst
outcome.  With ``--format json`` (machine output on stdout) everything here
goes to stderr.
"""

from __future__ import annotations

import os
import platform
import sys
from typing import TYPE_CHECKING, TextIO

from secretaudit import __version__
from secretaudit.hookspec import hookimpl
from secretaudit.model import Finding, Severity, Status
from secretaudit.printable import visible
from secretaudit.stash import BASELINE_PATH, REPORTS_FAILED, REPORTS_WRITTEN, SCAN_ROOT, TERMINAL

if TYPE_CHECKING:
    from secretaudit.config import Config
    from secretaudit.model import Skip, Target
    from secretaudit.session import Session

_COLORS = {"failed": "red", "error": "red", "passed": "green", "waived": "yellow", "skipped": "yellow"}
_NOUNS = {"path": "file", "history": "blob", "backend": "secret", "config": "config file"}


def color_wanted(out: TextIO, flag: bool | None) -> bool:
    """Whether to colour: ``--no-color``, then ``NO_COLOR``, then ``FORCE_COLOR``, then "is it a terminal".

    ``NO_COLOR`` (no-color.org) and ``FORCE_COLOR`` (force-color.org) count when
    set to any non-empty value; ``FORCE_COLOR`` is for CI logs that render ANSI
    but are not terminals.  ``flag`` is False for ``--no-color``, None otherwise.
    """
    if flag is not None:
        return flag
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return out.isatty()


def _noun(kind: str, count: int, config: "Config") -> str:
    """What ``count`` items of a target kind are: "1 file", "16 secrets", "3 principals"."""
    singular = _NOUNS.get(kind)
    if singular is None:
        from secretaudit.targets import families

        family = families(config).get(kind)
        plural = family.noun if family is not None else "items"
        singular = plural[:-3] + "y" if plural.endswith("ies") else plural.removesuffix("s")
        return f"{count} {singular if count == 1 else plural}"
    return f"{count} {singular}{'s' * (count != 1)}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' * (count != 1)}"


class TerminalReporter:
    """Writes human output; verbosity -2 (``-qq``) to 2 (``-vv``)."""

    def __init__(self, config: "Config", out: TextIO, verbosity: int = 0, color: bool | None = None) -> None:
        self.config = config
        self.out = out
        self.verbosity = verbosity
        self.color = color_wanted(out, color)
        self.progress = out.isatty() and verbosity >= 0
        self._threshold = Severity.parse(config.settings["fail_on"])
        #: items collected by target kind ("path" -> 4 files), for the summary line
        self._collected: dict[str, int] = {}
        self._total = 0
        self._done = 0
        self._last_pct = -1

    # -- output helpers -----------------------------------------------------

    def style(self, text: str, fg: str | None = None, bold: bool = False) -> str:
        if not self.color or not (fg or bold):
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
        kinds = {target.kind for target in session.targets}  # only what applies: a scan runs no SA2xx
        enabled = [c.id for c in checks if self.config.is_enabled(c.id) and kinds & set(c.applies_to)] \
            if checks else []
        self.line(f"secretaudit {__version__}, python {platform.python_version()}, "
                  f"checks: {', '.join(enabled) or 'none'}")
        self.line(f"rootdir: {self.config.stash.get(SCAN_ROOT, self.config.rootdir)}"
                  + (f", config: {self.config.source}" if self.config.source else ""))
        baseline = self.config.stash.get(BASELINE_PATH)
        if baseline:
            self.line(f"baseline: {baseline} ({len(session.baseline)} accepted findings)")

    @hookimpl
    def secretaudit_collection_finish(self, session: "Session", target: "Target", count: int) -> None:
        self._total += count
        self._collected[target.kind] = self._collected.get(target.kind, 0) + count
        if self.verbosity >= 0:
            self.line(f"collected {_noun(target.kind, count, self.config)} from {target.name}")

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
        if finding.status is Status.FAILED and finding.severity < self._threshold:
            colour, status = "yellow", "WARNING"  # below --fail-on: reported, but it does not fail the run
        text = (f"{finding.location} {finding.check_and_rule} [{finding.severity.label}] {finding.message}"
                + (f" {finding.evidence}" if finding.evidence else ""))
        if finding.status is Status.WAIVED:
            text += f" (waived: {finding.waiver})"
        self.line(text, status, colour, bold=True)

    @hookimpl(trylast=True)
    def secretaudit_sessionfinish(self, session: "Session", exitstatus: int) -> None:
        self._clear_progress()
        if self.verbosity >= -1:
            self.next_steps(session)
        for warning in session.warnings:
            self.line(warning, "WARNING", "yellow")
        for skip in session.skipped:
            if skip.is_error:
                self.line(skip.message, "ERROR", "red", bold=True)
            elif skip.message and self.verbosity >= 0:
                self.line(f"skipped {skip.message}", "WARNING", "yellow")
            elif self.verbosity >= 2:
                self.line(f"SKIPPED {skip.relpath}: {skip.reason}")
        for written in session.config.stash.get(REPORTS_WRITTEN, []):
            if self.verbosity >= -1:
                self.line(f"report written: {written}")
        for failed in session.config.stash.get(REPORTS_FAILED, []):
            self.line(f"report not written: {failed}", "ERROR", "red", bold=True)
        exitstatus = session.exitstatus  # a report that could not be written turns a pass into a failure
        if session.comparison is not None and self.verbosity >= -1:
            comparison = session.comparison
            self.line(comparison.summary())
            for change in comparison.worse if self.verbosity >= 0 else ():
                after = change.after
                self.line(f"{after.location} {change.before.check_id} -> {after.check_id} [{after.severity.label}] "
                          f"{after.message}", "WORSE", "red", bold=True)
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
            counts = session.counts()
            worst = "failed" if session.failing() else next(
                (s for s, n in (("error", counts["error"]), ("waived", counts["waived"] + len(session.warned())))
                 if n), "passed")
            if exitstatus == 5:
                worst = "skipped"
            elif exitstatus == 1 and worst == "passed":
                worst = "error"
            self.sep("=", summary, fg=_COLORS[worst], bold=True)
        if exitstatus == 5:
            self.line(_nothing_checked(session))

    def next_steps(self, session: "Session") -> None:
        """Under failing findings, what to do: rotate, the waiver to paste, or the baseline."""
        from secretaudit.nextsteps import lines

        advice = lines(session)
        if advice:
            self.sep("-", "what next")
            for text in advice:
                self.line(text)

    def summary(self, session: "Session") -> str:
        """One line, each number saying what it counts: findings first, then the items checked.

        ``3 findings failed, 1 warning; 4 files, 16 secrets: 18 passed, 1 skipped (1 binary) in 0.19s``
        """
        counts = session.counts()
        warned = len(session.warned())
        error_findings = sum(f.status is Status.ERROR for f in session.findings)
        found = [(counts["failed"] - warned, "failed"), (warned, "warning"), (counts["waived"], "waived"),
                 (error_findings, "error")]
        found = [(n, word) for n, word in found if n]
        findings = [_plural(n, word) if word in ("warning", "error") else f"{n} {word}" for n, word in found]
        if found and found[0][1] in ("failed", "waived"):
            findings[0] = f"{_plural(found[0][0], 'finding')} {found[0][1]}"
        order = {"path": 0, "history": 1, "backend": 2, "config": 9}  # what was asked for first, the config last
        checked = ", ".join(_noun(kind, n, self.config)
                            for kind, n in sorted(self._collected.items(), key=lambda kv: order.get(kv[0], 5)))
        if not checked:  # a merged report: its items were collected by other runs
            total = session.files_scanned + len(session.skipped)
            checked = _plural(total, "item") if total else ""
        outcome = [f"{counts['passed']} passed"] if checked else []
        errors = [s for s in session.skipped if s.is_error]
        if errors:
            outcome.append(f"{_plural(len(errors), 'error')} ({_by_reason(errors)})")
        skipped = [s for s in session.skipped if not s.is_error]
        if skipped:
            outcome.append(f"{len(skipped)} skipped ({_by_reason(skipped)})")
        text = "; ".join(part for part in (", ".join(findings),
                                           f"{checked}: {', '.join(outcome)}" if checked else ", ".join(outcome))
                         if part)
        unwritten = len(session.config.stash.get(REPORTS_FAILED, []))
        if unwritten:
            text += f"; {unwritten} report{'s' if unwritten != 1 else ''} not written"
        return f"{text or 'nothing checked'} in {session.duration:.2f}s"


def _by_reason(skips: "list[Skip]") -> str:
    """``1 binary, 2 too large``: skipped files counted by reason."""
    reasons: dict[str, int] = {}
    for skip in skips:
        reasons[skip.reason] = reasons.get(skip.reason, 0) + 1
    return ", ".join(f"{n} {reason}" for reason, n in sorted(reasons.items()))


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
    options = config.stash.get(TERMINAL, {})
    out = options.get("out") or sys.stdout
    reporter = TerminalReporter(config, out, options.get("verbosity", 0), options.get("color"))
    assert config.pluginmanager is not None
    config.pluginmanager.register(reporter, name="terminalreporter")
