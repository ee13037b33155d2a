"""Scanning one file: read it, run the file checks, turn detections into findings.

This is the only place a secret value exists outside a check: each
:class:`~secretaudit.model.Detection` becomes a *row* (check, rule, line, a salted
digest of the secret, label, redacted evidence, inline waiver) in the process
that found it, and only rows and findings travel on.  Rows depend on the
file's content alone, which is what makes them cacheable
(:mod:`secretaudit.scan_cache`); findings add the path.

Large scans run :func:`scan_batch` in worker processes (see
:mod:`secretaudit.parallel`); small ones call it in-process.  Either way the
results are identical and in the same order.
"""

from __future__ import annotations

import functools
import os
import stat
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable

from secretaudit.budget import FileTimeout, TooCostly, deadline
from secretaudit.model import (Detection, FileItem, FileRef, Finding, Location, Severity, Skip, Status, Waiver,
                               make_finding, redact, secret_digest)
from secretaudit.file_reader import archive_kind, decode, read_bytes
from secretaudit.stash import CORRELATION
from secretaudit.waivers import waiver_for

if TYPE_CHECKING:
    from secretaudit.scan_cache import Known, Outcome, ScanCache
    from secretaudit.config import Config

#: [check_id, rule, line, secret digest, label, evidence, waiver or None], plus ``True`` as an
#: eighth item when the check could not decide (an error result: see ``Detection.error``)
Row = list[Any]

#: Cached rows of a binary file: skipped again without being read again.
BINARY_ROWS: list[Row] = [["!binary"]]


@dataclass
class FileResult:
    """What scanning one file produced: findings, or why it was skipped.

    ``cache_entry`` is (the listing's signature, content digest, encoded
    rows) of a freshly scanned file, for the main process to remember.
    """

    relpath: str
    findings: list[Finding] = field(default_factory=list)
    skip: Skip | None = None
    size: int = 0
    cache_entry: tuple[str | None, str, str] | None = None
    cached: bool = False
    #: what an archive's walk skipped, by member path (:mod:`secretaudit.archives`)
    member_skips: list[Skip] = field(default_factory=list)
    #: (line, keyed hash) of each credential, for ``audit --correlate`` only (:mod:`secretaudit.correlate`):
    #: in memory, never in the cache rows or the findings
    marks: list[tuple[int, bytes]] = field(default_factory=list, repr=False)


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
    """Redact and digest one file's detections and find their inline waivers.

    A line's waiver is read once per check: a long line with many findings
    must not be copied and searched again for each.
    """
    rows = []
    waivers: dict[tuple[int, str], str | None] = {}
    for det in _dedupe(detections, config):
        waiver_key = (det.line, det.check_id)
        if waiver_key not in waivers:
            line = item.line_text(det.line) if det.line else ""
            previous = item.line_text(det.line - 1) if det.line and det.line > 1 else ""
            waivers[waiver_key] = waiver_for(previous, line, det.check_id)
        rows.append([det.check_id, det.rule, det.line, secret_digest(det.secret), det.label,
                     redact(det.secret, det.visible_prefix), waivers[waiver_key]]
                    + ([det.error] if det.error or det.severity is not None else [])
                    + ([det.severity.label] if det.severity is not None else []))
    return rows


def findings_from_rows(rows: list[Row], relpath: str, config: "Config", target: str) -> list[Finding]:
    """Findings of one file at ``relpath`` from its (possibly cached) rows."""
    assert config.checks is not None
    findings = []
    for check_id, rule, line, digest, label, evidence, waiver, *extra in rows:
        if check_id not in config.checks:
            continue
        error = bool(extra and extra[0])  # then, when it differs from the check's, the severity
        findings.append(make_finding(
            config.checks.get(check_id), Location(path=relpath, line=line or None), label,
            status=Status.WAIVED if waiver else Status.ERROR if error else Status.FAILED, rule=rule, digest=digest,
            severity=Severity.parse(extra[1]) if len(extra) > 1 else None,
            evidence=evidence, target=target, waiver=Waiver(waiver) if waiver else None))
    return findings


def run_checks(item: FileItem, config: "Config", marks: list[tuple[int, bytes]] | None = None) -> list[Row]:
    """Every enabled file check over one decoded file, as rows (derived detections last).

    ``marks`` (``audit --correlate``) receives the keyed hash of every credential
    found, made here because only here does the value exist.
    """
    detections: list[Detection] = []
    for result in config.hook.secretaudit_scan_file(item=item, config=config):
        if result:
            detections.extend(result)
    if not detections:
        return []  # most files
    if marks is not None:
        from secretaudit.correlate import repo_marks

        marks.extend(repo_marks(detections, config))
    derived: list[Detection] = []
    for result in config.hook.secretaudit_derive_detections(item=item, detections=detections, config=config):
        derived.extend(result or ())
    return detection_rows(item, detections, config) + detection_rows(item, derived, config)


def findings_for(item: FileItem, detections: Iterable[Detection], config: "Config", target: str) -> list[Finding]:
    """Findings for detections already made on ``item`` (baseline import uses this)."""
    return findings_from_rows(detection_rows(item, detections, config), item.relpath, config, target)


def replay_from_cache(refs: list[FileRef], config: "Config", target: str, cache: "ScanCache", scope: str,
                      on_result: Callable[[FileResult], None],
                      on_unchanged: Callable[[int, int], None]) -> list[FileRef]:
    """Answer every file of ``refs`` the cache vouches for; return the others, to be scanned.

    A file is answered when the snapshot of ``scope`` knows it and the
    listing saw it as it was then: the same git blob id, or the same stat
    signature (a racy one once its content hashes the same).  Files with
    findings or skips come back through ``on_result``; the many with
    neither are counted in one ``on_unchanged(files, bytes)`` call, since a
    rescan of an unchanged tree is mostly this loop.  Runs in the main
    process before any work is handed out, so workers never touch the cache.
    """
    from secretaudit.scan_cache import RACY_MARK

    known_files = cache.snapshot(scope)
    todo: list[FileRef] = []
    kept: dict[str, "Known"] = {}
    unchanged = unchanged_bytes = 0
    changed = False
    for ref in refs:
        known = known_files.get(ref.relpath)
        if known is None:
            todo.append(ref)
            continue
        signature, digest, size, payload = known
        if ref.digest is not None:
            valid = ref.digest == digest
        elif ref.signature is not None and signature is not None:
            valid = ref.signature == signature
            if not valid and signature == RACY_MARK + ref.signature:
                confirmed = _confirm_racy(ref, known, config)
                valid = confirmed is not None
                if confirmed is not None and confirmed != known:  # old enough now to trust unread
                    known, changed = confirmed, True
        else:
            valid = False
        if not valid:
            todo.append(ref)
            continue
        kept[ref.relpath] = known
        if payload is None:
            unchanged += 1
            unchanged_bytes += size
        else:
            on_result(_from_payload(ref.relpath, payload, size, config, target))
    cache.carry(kept, changed)
    on_unchanged(unchanged, unchanged_bytes)
    return todo


def replay_outcome(outcome: "Outcome", known_files: dict[str, "Known"], config: "Config", target: str,
                   on_result: Callable[[FileResult], None], on_unchanged: Callable[[int, int], None],
                   on_count: Callable[[int], None]) -> list[FileRef]:
    """Replay a recorded outcome (:meth:`ScanCache.record_outcome`); return the files to scan again.

    The counterpart of :func:`replay_from_cache` for a directory whose
    listing is unchanged as a whole: the same results, without a pass over
    every file.
    """
    _, files, size, answered, todo = outcome
    on_count(files + len(answered) + len(todo))
    for relpath in answered:
        _, _, file_size, payload = known_files[relpath]
        on_result(_from_payload(relpath, payload or "", file_size, config, target))
    on_unchanged(files, size)
    return [FileRef(path, relpath, None, None, digest, signature) for path, relpath, digest, signature in todo]


def _confirm_racy(ref: FileRef, known: "Known", config: "Config") -> "Known | None":
    """``known`` again if the file still hashes to its digest (its signature un-marked once old enough); else None."""
    from secretaudit.scan_cache import content_digest

    info = _lstat(ref.path)
    if info is None or not stat.S_ISREG(info.st_mode):
        return None
    data = read_bytes(ref, config.settings["max_file_size"], info)
    _, digest, size, payload = known
    if isinstance(data, Skip) or content_digest(data) != digest:
        return None
    return (_recorded_signature(ref, info), digest, size, payload)


def _recorded_signature(ref: FileRef, info: os.stat_result) -> str | None:
    """The listing's signature of a file just read, marked racy when it changed too recently to trust."""
    from secretaudit.scan_cache import RACY_MARK, RACY_NS

    if ref.signature is None:
        return None
    return RACY_MARK + ref.signature if info.st_ctime_ns >= time.time_ns() - RACY_NS else ref.signature


def _from_payload(relpath: str, payload: str, size: int, config: "Config", target: str) -> FileResult:
    """The result of an unchanged file with findings or a skip, from its cached rows.

    The rows come from a snapshot that passed its checksum, so they decode.
    """
    from secretaudit.scan_cache import decode_payload

    if payload == _binary_payload():  # a thousand files in a big tree: no need to decode them
        return FileResult(relpath, skip=Skip(relpath, "binary"), cached=True)
    return FileResult(relpath, findings_from_rows(decode_payload(payload), relpath, config, target), size=size,
                      cached=True)


@functools.lru_cache(maxsize=1)
def _binary_payload() -> str:
    from secretaudit.scan_cache import encode_payload

    return encode_payload(BINARY_ROWS)


def scan_file(ref: FileRef, config: "Config", target: str, caching: bool = False) -> FileResult:
    """Read one file and run every enabled file check on it.

    With ``caching``, the result carries what the cache needs to remember it
    (the listing's signature, the content digest and the encoded rows).
    """
    info = _lstat(ref.path) if caching and ref.blob is None and ref.missing is None else None
    regular = info is not None and stat.S_ISREG(info.st_mode)
    data = read_bytes(ref, config.settings["max_file_size"], info)
    if isinstance(data, Skip):
        return FileResult(ref.relpath, skip=data)
    if archive_kind(data) is not None:  # magic bytes only: the few archives pay for zipfile and tarfile
        from secretaudit.archives import scan_archive

        def judge(member: FileItem) -> list[Finding]:
            return findings_from_rows(run_checks(member, config), member.relpath, config, target)

        findings, skips = scan_archive(ref, data, config.settings["max_file_size"], judge)
        return FileResult(ref.relpath, findings, size=len(data), member_skips=skips)  # not cached: many paths
    digest = signature = None
    if regular:
        from secretaudit.scan_cache import content_digest, encode_payload

        assert info is not None
        digest = content_digest(data)
        signature = _recorded_signature(ref, info)
    item = decode(ref.path, ref.relpath, data)
    if isinstance(item, Skip):
        result = FileResult(ref.relpath, skip=item)
        if item.reason == "binary" and digest is not None:
            # ``data`` is only the file's head here; git's blob id, when git
            # vouches for the file, keys the verdict the way a rescan looks it up
            result.cache_entry = (signature, ref.digest or digest, _binary_payload())
        return result
    marks: list[tuple[int, bytes]] | None = [] if CORRELATION in config.stash else None
    try:
        with deadline(config.settings.get("file_timeout", 0)):
            rows = run_checks(item, config, marks)
    except (FileTimeout, TooCostly) as exc:
        return FileResult(ref.relpath, skip=_too_costly(ref.relpath, exc, config))
    result = FileResult(ref.relpath, findings_from_rows(rows, ref.relpath, config, target), size=len(data),
                        marks=marks or [])
    if digest is not None and not item.volatile:  # a volatile verdict is judged again by every run
        result.cache_entry = (signature, digest, encode_payload(rows))
    return result


def _too_costly(relpath: str, exc: "FileTimeout | TooCostly", config: "Config") -> Skip:
    """The skip of a file whose checks ran out of time or refused its content: an error, the file went unchecked."""
    if isinstance(exc, TooCostly):
        return Skip(relpath, exc.reason, f"{relpath}: not checked: {exc}", is_error=True)
    seconds = config.settings.get("file_timeout", 0)
    return Skip(relpath, "timed out", f"{relpath}: not checked: its checks took longer than file_timeout "
                f"({seconds:g}s); raise file_timeout (or --file-timeout), or exclude it", is_error=True)


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except OSError:
        return None  # read_bytes stats again and says why


def scan_batch(refs: list[FileRef], config: "Config", target: str, caching: bool = False) -> list[FileResult]:
    """Scan a batch of files; the unit of work handed to a worker process."""
    return [scan_file(ref, config, target, caching) for ref in refs]
