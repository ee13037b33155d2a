"""One run of secretaudit: collect, scan, apply the baseline, decide the exit code.

The session drives the hooks in the order :mod:`scanner.hookspec` documents
and keeps the results.  It knows no check, backend or format by name.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from scanner.errors import ExitCode
from scanner.model import Finding, Severity, Status, Target
from scanner.parallel import scan_files
from scanner.reader import Skip

if TYPE_CHECKING:
    from scanner.config import Config
    from scanner.filescan import FileResult


@dataclass
class Session:
    """State of one run, read by reporters at ``secretaudit_sessionfinish``.

    ``findings`` holds every failed, waived and error result in deterministic
    order; ``passed`` counts scanned files without a failing finding;
    ``skipped`` holds every file that was not scanned and why.
    """

    config: "Config"
    targets: list[Target] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    files_collected: int = 0
    files_scanned: int = 0
    bytes_scanned: int = 0
    passed: int = 0
    started: float = field(default_factory=time.time)
    finished: float | None = None
    interrupted: bool = False
    exitstatus: int = ExitCode.OK
    baseline: frozenset[str] = frozenset()

    # -- the run ------------------------------------------------------------

    def run(self) -> int:
        """Run every phase and return the exit code."""
        hook = self.config.hook
        for contributed in hook.secretaudit_collect_targets(config=self.config):
            self.targets.extend(contributed or [])
        hook.secretaudit_sessionstart(session=self)
        try:
            for target in self.targets:
                self._scan_target(target)
        except KeyboardInterrupt:
            self.interrupted = True
        self.findings.sort(key=Finding.sort_key)
        self.skipped.sort(key=lambda s: s.relpath)
        for finding in self.findings:
            hook.secretaudit_finding(finding=finding, config=self.config)
        self.finished = time.time()
        self.exitstatus = self.decide_exit()
        hook.secretaudit_sessionfinish(session=self, exitstatus=self.exitstatus)
        return self.exitstatus

    def _scan_target(self, target: Target) -> None:
        items = self.config.hook.secretaudit_collect_items(target=target, config=self.config)
        if items is None:
            return
        refs = list(items)
        self.files_collected += len(refs)
        self.config.hook.secretaudit_collection_finish(session=self, target=target, count=len(refs))
        scan_files(refs, self.config, target.name, self._record)

    def _record(self, result: "FileResult") -> None:
        if result.skip is not None:
            self.skipped.append(result.skip)
        else:
            self.files_scanned += 1
            self.bytes_scanned += result.size
            failed = False
            for finding in result.findings:
                if finding.status is Status.FAILED and finding.fingerprint in self.baseline:
                    finding = _waive(finding, "baseline")
                failed = failed or finding.status is Status.FAILED
                self.findings.append(finding)
            self.passed += not failed
        self.config.hook.secretaudit_itemdone(session=self, relpath=result.relpath)

    # -- outcome ------------------------------------------------------------

    @property
    def errors(self) -> list[Skip]:
        return [s for s in self.skipped if s.is_error]

    def counts(self) -> Counter[str]:
        """Counts by status, for summaries: failed, passed, waived, error, skipped."""
        counts: Counter[str] = Counter(f.status.value for f in self.findings)
        counts["passed"] += self.passed
        counts["error"] += len(self.errors)
        counts["skipped"] += len(self.skipped) - len(self.errors)
        return counts

    def failing(self) -> list[Finding]:
        """Failed findings at or above the ``fail_on`` severity."""
        threshold = Severity.parse(self.config.settings["fail_on"])
        return [f for f in self.findings if f.status is Status.FAILED and f.severity >= threshold]

    def decide_exit(self) -> int:
        if self.interrupted:
            return ExitCode.INTERRUPTED
        if self.failing() or self.errors:
            return ExitCode.FINDINGS
        if self.files_scanned == 0 and not self.config.stash.get("allow_empty"):
            return ExitCode.NOTHING_SCANNED
        return ExitCode.OK

    @property
    def duration(self) -> float:
        return (self.finished or time.time()) - self.started


def _waive(finding: Finding, reason: str) -> Finding:
    from dataclasses import replace

    return replace(finding, status=Status.WAIVED, waiver=reason)
