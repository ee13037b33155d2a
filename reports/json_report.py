"""The ``json`` format: the machine-readable report of a run.

Shape (``version`` bumps on any incompatible change)::

    {"version": "1", "tool": {...}, "summary": {...}, "findings": [...],
     "skipped": [...]}

Every finding carries ``check_id``, ``status``, ``severity``, ``location``,
``message``, ``evidence`` (redacted), ``fingerprint`` and ``remediation``.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING, Any

from scanner import __version__
from scanner.hookspec import hookimpl

if TYPE_CHECKING:
    from scanner.model import Finding
    from scanner.registry import FormatRegistry
    from scanner.session import Session

REPORT_VERSION = "1"


def finding_dict(finding: "Finding") -> dict[str, Any]:
    data: dict[str, Any] = {
        "check_id": finding.check_id,
        "status": finding.status.value,
        "severity": finding.severity.label,
        "location": finding.location.as_dict(),
        "message": finding.message,
        "evidence": finding.evidence,
        "fingerprint": finding.fingerprint,
        "remediation": finding.remediation,
        "target": finding.target,
    }
    if finding.waiver is not None:
        waiver = finding.waiver
        data["waiver"] = {"reason": waiver.reason, "source": waiver.source, "by": waiver.by, "until": waiver.until}
    return data


def summary_dict(session: "Session") -> dict[str, Any]:
    counts = session.counts()
    by_severity = Counter(f.severity.label for f in session.findings if f.status.value == "failed")
    return {
        "failed": counts["failed"], "passed": counts["passed"], "waived": counts["waived"],
        "error": counts["error"], "skipped": counts["skipped"],
        "by_severity": dict(sorted(by_severity.items())),
        "files_scanned": session.files_scanned,
        "files_from_cache": session.files_from_cache,
        "exit_code": int(session.exitstatus),
    }


def render(session: "Session") -> str:
    report = {
        "version": REPORT_VERSION,
        "tool": {"name": "secretaudit", "version": __version__},
        "targets": [{"kind": t.kind, "name": t.name} for t in session.targets],
        "summary": summary_dict(session),
        "findings": [finding_dict(f) for f in session.findings],
        "skipped": [{"path": s.relpath, "reason": s.reason, **({"message": s.message} if s.message else {}),
                     "error": s.is_error} for s in session.skipped],
    }
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


@hookimpl
def secretaudit_register_formats(registry: "FormatRegistry") -> None:
    registry.add("json", render, extension="json")
