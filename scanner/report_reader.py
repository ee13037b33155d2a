"""Reading JSON reports back: for ``report merge`` and ``--compare``.

A JSON report (version 2) holds everything a session does: targets,
findings, skipped files and counts.  :func:`session_from_reports` rebuilds a
:class:`~secretaudit.session.Session` from one or more of them, so every format
renders a merged audit exactly as it renders a live one; :func:`compare`
diffs a session against a previous report by fingerprint.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from secretaudit.errors import UsageError
from secretaudit.forecast import ForecastEntry
from secretaudit.forecast import sort_key as forecast_order
from secretaudit.model import Finding, Location, Severity, Skip, Status, Target, Waiver

if TYPE_CHECKING:
    from secretaudit.session import Session

SUPPORTED_VERSIONS = ("2",)


def load_report(path: str | Path) -> dict[str, Any]:
    """A JSON report, or a usage error naming what is wrong with the file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read report {path} ({exc.strerror or exc}); check the path") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"report {path} is not valid JSON ({exc}); pass a file written by "
                         "--report json or --format json") from None
    if not isinstance(data, dict) or data.get("version") not in SUPPORTED_VERSIONS:
        raise UsageError(f"report {path} is not a secretaudit JSON report of version "
                         f"{'/'.join(SUPPORTED_VERSIONS)}; regenerate it with this secretaudit")
    return data


def finding_from_dict(data: dict[str, Any]) -> Finding:
    waiver = data.get("waiver")
    return Finding(
        check_id=data["check_id"], severity=Severity.parse(data["severity"]), status=Status(data["status"]),
        location=Location(**data.get("location", {})), message=data.get("message", ""),
        fingerprint=data["fingerprint"], evidence=data.get("evidence", ""),
        remediation=data.get("remediation", ""), target=data.get("target", ""),
        waiver=Waiver(**waiver) if waiver else None, rule=data.get("rule", ""))


def _timestamp(value: str | None) -> float | None:
    return datetime.fromisoformat(value).timestamp() if value else None


@dataclass
class MergedReports:
    """The results of one or more JSON reports taken together (shards of one audit, say)."""

    targets: list[Target] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    interrupted: bool = False
    passed: int = 0
    files_scanned: int = 0
    files_from_cache: int = 0
    started: float | None = None
    finished: float | None = None
    #: ``summary.audited`` counts, summed
    scanned_by_kind: dict[str, int] = field(default_factory=dict)
    #: the date the shards judged as of (their ``run.as_of``), and their forecast
    as_of: datetime | None = None
    forecast: list[ForecastEntry] = field(default_factory=list)


def merge_reports(paths: list[str]) -> MergedReports:
    """Read every report and merge its results; a finding in two reports counts once.

    (:meth:`secretaudit.session.Session.from_reports` turns the result into
    a session, so every format renders a merged audit as it renders a live one.)
    """
    merged = MergedReports()
    findings: dict[str, Finding] = {}
    targets: dict[tuple[str, str], Target] = {}
    skipped: dict[tuple[str, str], Skip] = {}
    forecast: dict[str, ForecastEntry] = {}
    starts, ends = [], []
    for path in paths:
        try:
            report = load_report(path)
            for target in report["run"]["targets"]:
                targets.setdefault((target["kind"], target["name"]), Target(kind=target["kind"], name=target["name"]))
            for item in report["findings"]:
                finding = finding_from_dict(item)
                findings[json.dumps(item, sort_keys=True)] = finding
            for skip in report.get("skipped", []):
                skipped[(skip["path"], skip["reason"])] = Skip(skip["path"], skip["reason"], skip.get("message", ""),
                                                               bool(skip.get("error")))
            summary = report["summary"]
            # a shard stopped half-way must not merge into a pass
            merged.interrupted |= bool(report["run"].get("interrupted")) or report["run"].get("exit_code") == 2
            merged.passed += summary["passed"]
            merged.files_scanned += summary["files_scanned"]
            merged.files_from_cache += summary.get("files_from_cache", 0)
            for kind, audited in summary.get("audited", {}).items():
                merged.scanned_by_kind[kind] = merged.scanned_by_kind.get(kind, 0) + audited["count"]
            for item in report.get("forecast", []):
                forecast.setdefault(item["secret"], ForecastEntry.from_dict(item))
            if merged.as_of is None and report["run"].get("as_of"):
                merged.as_of = datetime.fromisoformat(report["run"]["as_of"])
            starts.append(_timestamp(report["run"].get("started")))
            ends.append(_timestamp(report["run"].get("finished")))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise UsageError(f"report {path} is missing or has a malformed field ({exc}); "
                             "regenerate it with --report json") from None
    merged.targets = list(targets.values())
    merged.findings = sorted(findings.values(), key=Finding.sort_key)
    merged.skipped = sorted(skipped.values(), key=lambda s: s.relpath)
    merged.forecast = sorted(forecast.values(), key=forecast_order)
    merged.started = min((s for s in starts if s is not None), default=None)
    merged.finished = max((e for e in ends if e is not None), default=None)
    return merged


def subject(finding: Finding) -> tuple[str | int | None, ...]:
    """What a finding is about, whichever check reported it: a backend's secret, or a file's line (and commit).

    The target's name is left out, as the fingerprint leaves it out: reports of
    one setup compare across machines and versions that name targets differently.
    """
    loc = finding.location
    if loc.backend is not None:
        return ("backend", loc.backend, loc.name)
    return ("path", loc.path, loc.line, loc.commit)


@dataclass(frozen=True)
class Change:
    """One subject whose failing finding was replaced by a more severe one of another check.

    SA202 (expires soon) turning into SA201 (expired) on the same secret is no
    fix: the old fingerprint is gone only because the news got worse.
    """

    before: Finding
    after: Finding


@dataclass
class Comparison:
    """What changed since a previous report: by fingerprint, then by subject (:func:`subject`)."""

    previous: str
    new: list[Finding] = field(default_factory=list)
    fixed: list[Finding] = field(default_factory=list)
    unchanged: list[Finding] = field(default_factory=list)
    worse: list[Change] = field(default_factory=list)

    def summary(self) -> str:
        """``since PREV: 1 new, 1 worse, 2 fixed, 14 unchanged`` (worse only when there is any)."""
        worse = [f"{len(self.worse)} worse"] if self.worse else []
        return (f"since {self.previous}: "
                + ", ".join([f"{len(self.new)} new", *worse, f"{len(self.fixed)} fixed", f"{len(self.unchanged)} unchanged"]))


def compare(session: "Session", previous_path: str) -> Comparison:
    """New, worse, fixed and unchanged failing findings against ``previous_path``.

    Fingerprints first: the same check on the same subject is unchanged.  Then,
    on one subject, a finding that is gone and a more severe one of another
    check that came are one :class:`Change` for the worse, not a "fixed" and a
    "new".  Anything else stays new and fixed: another secret on the same line,
    or a less or as severe finding of another check, is a different fact.
    """
    previous = [finding_from_dict(f) for f in load_report(previous_path)["findings"]]
    before = {f.fingerprint: f for f in previous if f.status is Status.FAILED}
    now = {f.fingerprint: f for f in session.findings if f.status is Status.FAILED}
    gone: dict[tuple[str | int | None, ...], list[Finding]] = {}
    for fp, finding in before.items():
        if fp not in now:
            gone.setdefault(subject(finding), []).append(finding)
    worst_first = lambda f: (-int(f.severity), f.check_id, f.fingerprint)  # noqa: E731
    worse: list[Change] = []
    for finding in sorted((f for fp, f in now.items() if fp not in before), key=worst_first):
        candidates = sorted(gone.get(subject(finding), ()), key=worst_first)
        old = next((f for f in candidates if f.check_id != finding.check_id and f.severity < finding.severity), None)
        if old is not None:
            gone[subject(finding)].remove(old)
            worse.append(Change(old, finding))
    paired = {id(f) for change in worse for f in (change.before, change.after)}
    from secretaudit.shownpaths import shown_path

    return Comparison(
        previous=shown_path(str(previous_path), session.config),  # reports hold no machine paths
        new=[f for fp, f in now.items() if fp not in before and id(f) not in paired],
        fixed=sorted((f for fp, f in before.items() if fp not in now and id(f) not in paired), key=Finding.sort_key),
        unchanged=[f for fp, f in now.items() if fp in before],
        worse=sorted(worse, key=lambda c: c.after.sort_key()))
