"""Scanning one file: read it, run the file checks, turn detections into findings.

This is the only place a secret value exists outside a check: each
:class:`~scanner.model.Detection` is redacted and fingerprinted here, in the
process that found it, and only the resulting :class:`Finding` travels on.

Large scans run :func:`scan_batch` in worker processes (see
:mod:`scanner.parallel`); small ones call it in-process.  Either way the
results are identical and in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable

from scanner.files import FileRef
from scanner.model import Detection, FileItem, Finding, Location, Status, fingerprint, redact
from scanner.reader import Skip, read_file
from scanner.waivers import waiver_for

if TYPE_CHECKING:
    from scanner.config import Config


@dataclass
class FileResult:
    """What scanning one file produced: findings, or why it was skipped."""

    relpath: str
    findings: list[Finding] = field(default_factory=list)
    skip: Skip | None = None
    size: int = 0


def _dedupe(detections: Iterable[Detection], config: "Config") -> list[Detection]:
    """Drop disabled checks, and repeats of one secret on one line.

    When two checks report the same secret on the same line (a known-format
    key that is also a high-entropy string), the more severe one is kept,
    ties going to the lower check id: the more specific check.
    """
    registry = config.checks
    best: dict[tuple[int, str], Detection] = {}
    for det in detections:
        if not config.is_enabled(det.check_id) or (registry is not None and det.check_id not in registry):
            continue
        key = (det.line, det.secret)
        current = best.get(key)
        if current is None or _rank(det, config) < _rank(current, config):
            best[key] = det
    return sorted(best.values(), key=lambda d: (d.line, d.check_id, d.rule))


def _rank(det: Detection, config: "Config") -> tuple[int, str]:
    severity = config.checks.get(det.check_id).severity if config.checks else 0
    return (-int(severity), det.check_id)


def findings_for(item: FileItem, detections: Iterable[Detection], config: "Config", target: str) -> list[Finding]:
    """Redact, fingerprint and apply inline waivers to one file's detections."""
    assert config.checks is not None
    findings = []
    for det in _dedupe(detections, config):
        spec = config.checks.get(det.check_id)
        line = item.line_text(det.line) if det.line else ""
        previous = item.line_text(det.line - 1) if det.line and det.line > 1 else ""
        reason = waiver_for(previous, line, det.check_id)
        findings.append(Finding(
            check_id=det.check_id,
            severity=spec.severity,
            status=Status.WAIVED if reason else Status.FAILED,
            location=Location(path=item.relpath, line=det.line or None),
            message=det.label,
            fingerprint=fingerprint(det.check_id, item.relpath, det.secret, det.rule),
            evidence=redact(det.secret, det.visible_prefix),
            remediation=spec.remediation,
            target=target,
            waiver=reason,
        ))
    return findings


def scan_file(ref: FileRef, config: "Config", target: str) -> FileResult:
    """Read one file and run every enabled file check on it."""
    loaded = read_file(ref, config.settings["max_file_size"])
    if isinstance(loaded, Skip):
        return FileResult(ref.relpath, skip=loaded)
    detections: list[Detection] = []
    for result in config.hook.secretaudit_scan_file(item=loaded, config=config):
        if result:
            detections.extend(result)
    return FileResult(ref.relpath, findings_for(loaded, detections, config, target), size=len(loaded.text))


def scan_batch(refs: list[FileRef], config: "Config", target: str) -> list[FileResult]:
    """Scan a batch of files; the unit of work handed to a worker process."""
    return [scan_file(ref, config, target) for ref in refs]
