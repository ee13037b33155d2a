"""The ``json`` format: the machine-readable report of a run.

The shape is specified, property by property, by the JSON Schema shipped in
the package (``reports/schemas/report.schema.json``, :func:`schema`); every
report the tests produce is validated against it.  ``version`` changes on
any incompatible change, so scripts can refuse a report they do not know::

    {"version": "2", "run": {...}, "summary": {...}, "checks": [...],
     "results": [...], "findings": [...], "controls": [...], "frameworks": [...],
     "skipped": [...], "forecast": [...]}

``results`` holds every result, passed ones included (a check that found
nothing on a target is evidence too); ``findings`` keeps only the failed,
waived and error findings, as version 1 did, for scripts that want just those.
``forecast`` holds, for every secret a backend listed, the days left until it
expires and until its rotation is due (:mod:`secretaudit.forecast`), counted
from ``run.as_of``; ``summary.audited`` counts what was examined by kind.
Nothing here carries a secret: findings hold redacted evidence and a
fingerprint only (see :mod:`secretaudit.model`).
"""

from __future__ import annotations

import json
from collections import Counter
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from secretaudit.forecast import forecast
from secretaudit.reports.shared_views import (control_outcomes, enabled_checks, framework_outcomes, outcomes, owner_of,
                                         owners, run_metadata)
from secretaudit.units import audited
from secretaudit.hookspec import hookimpl
from secretaudit.model import Status

if TYPE_CHECKING:
    from secretaudit.model import CheckSpec, Finding
    from secretaudit.registry import FormatRegistry
    from secretaudit.session import Session

REPORT_VERSION = "2"
SCHEMA_RESOURCE = "schemas/report.schema.json"


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The JSON Schema of this report version, as shipped in the package."""
    from importlib import resources

    return json.loads(resources.files("secretaudit.reports").joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8"))


def finding_dict(finding: "Finding", owner: str | None = None) -> dict[str, Any]:
    """One failed, waived or error finding; the shape version 1 had, plus the secret's ``owner`` when known."""
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
    if finding.rule:
        data["rule"] = finding.rule
    if finding.waiver is not None:
        waiver = finding.waiver
        data["waiver"] = {"reason": waiver.reason, "source": waiver.source, "by": waiver.by, "until": waiver.until}
    if owner:
        data["owner"] = owner
    return data


def check_dict(spec: "CheckSpec") -> dict[str, Any]:
    """A catalogue entry, so a reader can explain a result without the tool installed."""
    return {"id": spec.id, "title": spec.title, "severity": spec.severity.label,
            "description": spec.description, "remediation": spec.remediation,
            "tags": list(spec.tags), "controls": list(spec.controls), "references": list(spec.references),
            "applies_to": list(spec.applies_to)}


def catalogue(session: "Session") -> list["CheckSpec"]:
    """The enabled checks of the run, in id order."""
    registry = session.config.checks
    return [registry.get(check_id) for check_id in enabled_checks(session)] if registry is not None else []


def summary_dict(session: "Session") -> dict[str, Any]:
    """Counts of the run; ``passed`` counts files (as v1), ``outcomes`` counts check x target verdicts."""
    counts = session.counts()
    by_severity = Counter(f.severity.label for f in session.findings if f.status is Status.FAILED)
    verdicts = Counter(o.status.value for o in outcomes(session))
    return {
        "failed": counts["failed"], "warnings": len(session.warned()), "passed": counts["passed"],
        "waived": counts["waived"],
        "error": counts["error"], "skipped": counts["skipped"],
        "by_severity": dict(sorted(by_severity.items())),
        "outcomes": {status: verdicts[status] for status in ("failed", "passed", "waived", "error")},
        "files_scanned": session.files_scanned,
        "files_from_cache": session.files_from_cache,
        "exit_code": int(session.exitstatus),
        "audited": {a.kind: {"count": a.count, "noun": a.noun} for a in audited(session)},
    }


def results(session: "Session") -> list[dict[str, Any]]:
    """Every result, grouped by target then check: a passed entry, or the findings behind the verdict.

    Findings no outcome covers (a check id the catalogue does not know, a
    target not in the run) are appended, so nothing is ever dropped.
    """
    specs = {spec.id: spec for spec in catalogue(session)}
    known = owners(session)
    items: list[dict[str, Any]] = []
    covered: set[int] = set()
    for outcome in outcomes(session):
        if outcome.status is Status.PASSED:
            spec = specs.get(outcome.check_id)
            items.append({"check_id": outcome.check_id, "status": "passed", "target": outcome.target,
                          "severity": spec.severity.label if spec else "info",
                          "message": f"{spec.title if spec else outcome.check_id}: nothing found"})
        for finding in outcome.findings:
            covered.add(id(finding))
            items.append(finding_dict(finding, owner_of(finding, known)))
    items.extend(finding_dict(f, owner_of(f, known)) for f in session.findings if id(f) not in covered)
    return items


def report_dict(session: "Session") -> dict[str, Any]:
    """The whole report as plain data (also what merge and compare read back)."""
    known = owners(session)
    return {
        "version": REPORT_VERSION,
        "run": run_metadata(session),
        "summary": summary_dict(session),
        "checks": [check_dict(spec) for spec in catalogue(session)],
        "results": results(session),
        "findings": [finding_dict(f, owner_of(f, known)) for f in session.findings],
        "controls": [{"control": c.control, "status": c.status.value, "check_ids": list(c.check_ids),
                      "breaking": [f.fingerprint for f in c.breaking]} for c in control_outcomes(session)],
        "frameworks": [{"framework": f.framework, "controls": len(f.controls), "passed": f.passed,
                        "percent": f.percent} for f in framework_outcomes(session)],
        "skipped": [{"path": s.relpath, "reason": s.reason, **({"message": s.message} if s.message else {}),
                     "error": s.is_error} for s in session.skipped],
        "forecast": [entry.as_dict() for entry in forecast(session)],
        **({"comparison": comparison_dict(session.comparison)} if session.comparison is not None else {}),
    }


def comparison_dict(comparison: Any) -> dict[str, Any]:
    """``--compare``: failing findings new, worse, fixed and unchanged since a previous report."""
    return {"previous": comparison.previous,
            "new": [f.fingerprint for f in comparison.new],
            "fixed": [finding_dict(f) for f in comparison.fixed],
            "unchanged": [f.fingerprint for f in comparison.unchanged],
            "worse": [{"before": finding_dict(c.before), "after": c.after.fingerprint} for c in comparison.worse]}


#: One list element on one line, by the C encoder (``indent`` would force the pure-Python one).
_one_line = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode


def render(session: "Session") -> str:
    """The report, indented, with each element of its long lists on one line.

    One finding (result, skipped file) per line reads well, diffs and
    greps well, and is written by ``json``'s C encoder: for a tree with a
    few thousand results, fully indenting it through the pure-Python
    encoder took longer than a cached rescan spent on everything else
    after the listing.
    """
    parts = []
    for key, value in report_dict(session).items():
        if isinstance(value, list) and value:
            text = "[\n" + ",\n".join("    " + _one_line(item) for item in value) + "\n  ]"
        else:
            text = json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n  ")
        parts.append(f"  {json.dumps(key)}: {text}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


@hookimpl
def secretaudit_register_formats(registry: "FormatRegistry") -> None:
    registry.add("json", render, extension="json")
