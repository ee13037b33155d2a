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
from secretaudit.model import Finding, Location, Severity, Status, Target, Waiver
from secretaudit.reader import Skip

if TYPE_CHECKING:
    from secretaudit.config import Config
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


def session_from_reports(paths: list[str], config: "Config") -> "Session":
    """One session holding every report's results (shards of one audit, say)."""
    from secretaudit.session import Session

    session = Session(config)
    findings: dict[str, Finding] = {}
    targets: dict[tuple[str, str], Target] = {}
    skipped: dict[tuple[str, str], Skip] = {}
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
            session.interrupted |= bool(report["run"].get("interrupted")) or report["run"].get("exit_code") == 2
            session.passed += summary["passed"]
            session.files_scanned += summary["files_scanned"]
            session.files_from_cache += summary.get("files_from_cache", 0)
            starts.append(_timestamp(report["run"].get("started")))
            ends.append(_timestamp(report["run"].get("finished")))
        except (KeyError, TypeError, ValueError) as exc:
            raise UsageError(f"report {path} is missing or has a malformed field ({exc}); "
                             "regenerate it with --report json") from None
    session.targets = list(targets.values())
    session.findings = sorted(findings.values(), key=Finding.sort_key)
    session.skipped = sorted(skipped.values(), key=lambda s: s.relpath)
    session.started = min((s for s in starts if s is not None), default=session.started)
    session.finished = max((e for e in ends if e is not None), default=None)
    session.exitstatus = session.decide_exit()
    return session


@dataclass
class Comparison:
    """What changed since a previous report, by fingerprint."""

    previous: str
    new: list[Finding] = field(default_factory=list)
    fixed: list[Finding] = field(default_factory=list)
    unchanged: list[Finding] = field(default_factory=list)

    def summary(self) -> str:
        return (f"since {self.previous}: {len(self.new)} new, {len(self.fixed)} fixed, "
                f"{len(self.unchanged)} unchanged")


def compare(session: "Session", previous_path: str) -> Comparison:
    """New, fixed and unchanged failing findings against ``previous_path``."""
    previous = [finding_from_dict(f) for f in load_report(previous_path)["findings"]]
    before = {f.fingerprint: f for f in previous if f.status is Status.FAILED}
    now = {f.fingerprint: f for f in session.findings if f.status is Status.FAILED}
    return Comparison(
        previous=str(previous_path),
        new=[f for fp, f in now.items() if fp not in before],
        fixed=sorted((f for fp, f in before.items() if fp not in now), key=Finding.sort_key),
        unchanged=[f for fp, f in now.items() if fp in before])
