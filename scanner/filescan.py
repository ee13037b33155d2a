"""Scanning one file: read it, run the file checks, turn detections into findings.

This is the only place a secret value exists outside a check: each
:class:`~scanner.model.Detection` becomes a *row* (check, rule, line, a salted
digest of the secret, label, redacted evidence, inline waiver) in the process
that found it, and only rows and findings travel on.  Rows depend on the
file's content alone, which is what makes them cacheable
(:mod:`scanner.cache`); findings add the path.

Large scans run :func:`scan_batch` in worker processes (see
:mod:`scanner.parallel`); small ones call it in-process.  Either way the
results are identical and in the same order.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

from scanner.files import FileRef
from scanner.model import (Detection, FileItem, Finding, Location, Status, Waiver, fingerprint, redact,
                           secret_digest)
from scanner.reader import Skip, decode, read_bytes
from scanner.waivers import waiver_for

if TYPE_CHECKING:
    from scanner.cache import ScanCache
    from scanner.config import Config

Row = list[Any]  # [check_id, rule, line, secret digest, label, evidence, waiver or None]

#: Cached rows of a binary file: skipped again without being read again.
BINARY_ROWS: list[Row] = [["!binary"]]


@dataclass
class FileResult:
    """What scanning one file produced: findings, or why it was skipped.

    ``cache_entry`` is (stat signature, content digest, rows payload or None
    when the rows came from the cache) for the main process to remember.
    """

    relpath: str
    findings: list[Finding] = field(default_factory=list)
    skip: Skip | None = None
    size: int = 0
    cache_entry: tuple[str, str, str | None] | None = None
    cached: bool = False


def _dedupe(detections: Iterable[Detection], config: "Config") -> list[Detection]:
    """Drop disabled checks, and repeats of one secret on one line.

    When two checks report the same secret on the same line (a known-format
    key that is also a high-entropy string), the more severe one is kept,
    ties going to the lower check id: the more specific check.  A check
    declared ``reported_alongside`` keeps its own finding next to theirs.
    """
    registry = config.checks
    best: dict[tuple[int, str, str], Detection] = {}
    for det in detections:
        if not config.is_enabled(det.check_id) or (registry is not None and det.check_id not in registry):
            continue
        alongside = registry is not None and registry.get(det.check_id).reported_alongside
        key = (det.line, det.secret, det.check_id if alongside else "")
        current = best.get(key)
        if current is None or _rank(det, config) < _rank(current, config):
            best[key] = det
    return sorted(best.values(), key=lambda d: (d.line, d.check_id, d.rule))


def _rank(det: Detection, config: "Config") -> tuple[int, str]:
    severity = config.checks.get(det.check_id).severity if config.checks else 0
    return (-int(severity), det.check_id)


def detection_rows(item: FileItem, detections: Iterable[Detection], config: "Config") -> list[Row]:
    """Redact and digest one file's detections and find their inline waivers."""
    rows = []
    for det in _dedupe(detections, config):
        line = item.line_text(det.line) if det.line else ""
        previous = item.line_text(det.line - 1) if det.line and det.line > 1 else ""
        rows.append([det.check_id, det.rule, det.line, secret_digest(det.secret), det.label,
                     redact(det.secret, det.visible_prefix), waiver_for(previous, line, det.check_id)])
    return rows


def findings_from_rows(rows: list[Row], relpath: str, config: "Config", target: str) -> list[Finding]:
    """Findings of one file at ``relpath`` from its (possibly cached) rows."""
    assert config.checks is not None
    findings = []
    for check_id, rule, line, digest, label, evidence, waiver in rows:
        if check_id not in config.checks:
            continue
        spec = config.checks.get(check_id)
        findings.append(Finding(
            check_id=check_id,
            severity=spec.severity,
            status=Status.WAIVED if waiver else Status.FAILED,
            location=Location(path=relpath, line=line or None),
            message=label,
            fingerprint=fingerprint(check_id, relpath, digest, rule),
            evidence=evidence,
            remediation=spec.remediation,
            target=target,
            waiver=Waiver(waiver) if waiver else None,
        ))
    return findings


def run_checks(item: FileItem, config: "Config") -> list[Row]:
    """Every enabled file check over one decoded file, as rows (derived detections last)."""
    detections: list[Detection] = []
    for result in config.hook.secretaudit_scan_file(item=item, config=config):
        if result:
            detections.extend(result)
    if not detections:
        return []  # most files
    derived: list[Detection] = []
    for result in config.hook.secretaudit_derive_detections(item=item, detections=detections, config=config):
        derived.extend(result or ())
    return detection_rows(item, detections, config) + detection_rows(item, derived, config)


def findings_for(item: FileItem, detections: Iterable[Detection], config: "Config", target: str) -> list[Finding]:
    """Findings for detections already made on ``item`` (baseline import uses this)."""
    return findings_from_rows(detection_rows(item, detections, config), item.relpath, config, target)


def cached_result(ref: FileRef, config: "Config", target: str, cache: "ScanCache") -> FileResult | None:
    """The result of an unchanged file from the cache, without reading it; else None.

    Runs in the main process before any work is handed out, so workers never
    touch the cache database.
    """
    if ref.blob is not None or ref.missing is not None:
        return None
    if ref.digest is not None:  # git vouches the work tree holds this blob: no stat, no read
        rows = cache.results(ref.digest, ref.relpath)
        if rows is not None:
            return _cached(ref, rows, config, target, cache.size_of(ref.relpath, ref.digest), None)
    known = cache.unchanged(ref.relpath, ref.path)
    if known is None:
        return None
    signature, digest = known
    rows = cache.results(digest, ref.relpath)
    if rows is None:
        return None
    return _cached(ref, rows, config, target, int(signature.split(":", 1)[0]), (signature, digest, None))


def _cached(ref: FileRef, rows: list[list[Any]], config: "Config", target: str, size: int,
            entry: tuple[str, str, None] | None) -> FileResult:
    if not rows:  # most files
        return FileResult(ref.relpath, [], None, size, entry, True)
    if rows == BINARY_ROWS:
        return FileResult(ref.relpath, skip=Skip(ref.relpath, "binary"), cached=True, cache_entry=entry)
    return FileResult(ref.relpath, findings_from_rows(rows, ref.relpath, config, target), size=size,
                      cache_entry=entry, cached=True)


def scan_file(ref: FileRef, config: "Config", target: str, caching: bool = False) -> FileResult:
    """Read one file and run every enabled file check on it.

    With ``caching``, the result carries what the cache needs to remember it
    (stat signature, content digest and the encoded rows).
    """
    info = _lstat(ref.path) if caching and ref.blob is None and ref.missing is None else None
    signature = None
    if info is not None and stat.S_ISREG(info.st_mode):
        from scanner.cache import stat_signature

        signature = stat_signature(info)
    data = read_bytes(ref, config.settings["max_file_size"], info)
    if isinstance(data, Skip):
        return FileResult(ref.relpath, skip=data)
    digest = None
    if signature:
        from scanner.cache import content_digest, encode_payload

        digest = content_digest(data)
    item = decode(ref.path, ref.relpath, data)
    if isinstance(item, Skip):
        result = FileResult(ref.relpath, skip=item)
        if item.reason == "binary" and digest is not None and signature:
            # ``data`` is only the file's head here; git's blob id, when git
            # vouches for the file, keys the verdict the way a rescan looks it up
            result.cache_entry = (signature, ref.digest or digest, encode_payload(BINARY_ROWS))
        return result
    rows = run_checks(item, config)
    result = FileResult(ref.relpath, findings_from_rows(rows, ref.relpath, config, target), size=len(data))
    if digest is not None and signature:
        result.cache_entry = (signature, digest, encode_payload(rows))
    return result


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except OSError:
        return None  # read_bytes stats again and says why


def scan_batch(refs: list[FileRef], config: "Config", target: str, caching: bool = False) -> list[FileResult]:
    """Scan a batch of files; the unit of work handed to a worker process."""
    return [scan_file(ref, config, target, caching) for ref in refs]
