"""The ``html`` format: one self-contained page for a compliance reviewer.

The page must answer in a minute what passed, what failed, what was waived
and why, so it leads with the verdict and the per-control view, then a
filterable table of every result.  It is a single file with inline CSS and
JS and no URL it would fetch, so it works offline, as a mail attachment and
printed to PDF.

Security: everything rendered comes from scanned repositories (file names,
secret names, messages), so the template relies on jinja2 autoescaping and
never marks data ``|safe``; data reaches the inline script only through
escaped ``data-*`` attributes on the rows, never inside a ``<script>``.

jinja2 is imported inside :func:`render`, so a scan without ``--report html``
never pays for it.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from secretaudit.forecast import GROUPS, forecast
from secretaudit.reports import forecast_chart
from secretaudit.reports.shared_views import (as_of_text, control_outcomes, framework_outcomes, outcomes, owner_of,
                                         owners, run_metadata)
from secretaudit.units import audited
from secretaudit.hookspec import hookimpl
from secretaudit.model import Finding, Severity, Status

if TYPE_CHECKING:
    from secretaudit.model import CheckSpec
    from secretaudit.registry import FormatRegistry
    from secretaudit.session import Session

TEMPLATES = Path(__file__).parent / "templates"

#: Table order: what needs attention first.
STATUS_RANK = {Status.FAILED: 0, Status.ERROR: 1, Status.WAIVED: 2, Status.PASSED: 3, Status.SKIPPED: 4}


def _when(iso: str | None) -> str:
    """``2026-11-24T12:58:00+00:00`` -> ``2026-11-24 12:58:00 UTC``: unambiguous, and easier to read."""
    return iso.replace("T", " ").replace("+00:00", " UTC") if iso else "not recorded"


def _verdict(exit_code: int) -> str:
    """PASS only for a clean run; an interrupted or empty run is not a pass."""
    return {0: "PASS", 1: "FAIL"}.get(exit_code, "INCOMPLETE")


def _check_view(spec: "CheckSpec | None", check_id: str) -> dict[str, Any]:
    if spec is None:  # a finding from a check that is no longer registered
        return {"id": check_id, "title": check_id, "severity": "info", "description": "", "remediation": "",
                "controls": [], "references": []}
    return {"id": spec.id, "title": spec.title, "severity": spec.severity.label, "description": spec.description,
            "remediation": spec.remediation, "controls": list(spec.controls), "references": list(spec.references)}


def _rows(session: "Session", checks: dict[str, dict[str, Any]],
          known_owners: dict[tuple[str, str], str]) -> tuple[list[dict[str, Any]], dict[int, str]]:
    """Every finding plus one row per passed check×target; and finding -> row id.

    Row ids are positional (``r12``), not fingerprints: two occurrences of a
    secret in one file share a fingerprint but are two rows.
    """
    rows: list[dict[str, Any]] = []
    row_of: dict[int, str] = {}
    for finding in session.findings:
        row_id = f"r{len(rows) + 1}"
        row_of[id(finding)] = row_id
        rows.append(_finding_row(row_id, finding, checks, owner_of(finding, known_owners)))
    for outcome in outcomes(session):
        if outcome.status is Status.PASSED:
            check = checks.get(outcome.check_id) or _check_view(None, outcome.check_id)
            rows.append({
                "id": f"r{len(rows) + 1}", "status": "passed", "severity": check["severity"],
                "severity_rank": Severity.parse(check["severity"]).value, "check": outcome.check_id, "rule": "",
                "check_title": check["title"], "target": outcome.target, "location": outcome.target,
                "path": outcome.target, "line": 0, "message": f"No findings: {check['title']}", "evidence": "", "secret": None,
                "remediation": "", "fingerprint": "", "waiver": None, "controls": check["controls"],
                "references": check["references"], "owner": None,
            })
    rows.sort(key=lambda r: (STATUS_RANK[Status(r["status"])], -r["severity_rank"], r["path"], r["line"], r["check"]))
    return rows, row_of


def _finding_row(row_id: str, finding: Finding, checks: dict[str, dict[str, Any]],
                 owner: str | None) -> dict[str, Any]:
    check = checks.get(finding.check_id) or _check_view(None, finding.check_id)
    loc = finding.location
    waiver = finding.waiver
    return {
        "id": row_id, "status": finding.status.value, "severity": finding.severity.label,
        "severity_rank": finding.severity.value, "check": finding.check_id, "rule": finding.rule,
        "check_title": check["title"],
        "target": finding.target, "location": str(loc), "path": loc.path or f"{loc.backend}:{loc.name}",
        "line": loc.line or 0, "message": finding.message, "evidence": finding.evidence,
        "secret": (loc.backend, loc.name) if loc.backend and loc.name else None,
        "remediation": finding.remediation or check["remediation"], "fingerprint": finding.fingerprint,
        "waiver": None if waiver is None else {"reason": waiver.reason, "by": waiver.by, "until": waiver.until,
                                              "source": waiver.source},
        "controls": check["controls"], "references": check["references"], "owner": owner,
    }


def _by_owner(rows: list[dict[str, Any]], session: "Session") -> list[dict[str, Any]]:
    """Lifecycle findings (those about a backend secret) grouped by the secret's owner; unowned last.

    A table rather than a script: it works with JavaScript off and prints.
    """
    secrets = {(e.backend, e.name) for e in forecast(session)}
    lifecycle = [r for r in rows if r["status"] != "passed" and r["secret"] in secrets]
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in lifecycle:
        groups.setdefault(row["owner"] or "", []).append(row)
    return [{"owner": owner, "rows": groups[owner], "failed": sum(r["status"] == "failed" for r in groups[owner])}
            for owner in sorted(groups, key=lambda o: (o == "", o))]


def _forecast_view(session: "Session") -> dict[str, Any]:
    entries = forecast(session)
    return {
        "entries": [{**e.as_dict(), "expiry_label": GROUPS[e.expiry_group],
                     "rotation_label": GROUPS[e.rotation_group]} for e in entries],
        "counts": forecast_chart.counts(entries),
        "timeline": forecast_chart.timeline(entries, session.config.as_of),
        "shown": bool(entries) or any(t.kind == "backend" for t in session.targets),
    }


def context(session: "Session") -> dict[str, Any]:
    """Everything the template shows, as plain data (no logic left in the template)."""
    config = session.config
    checks = {spec.id: _check_view(spec, spec.id) for spec in (config.checks or [])}
    known_owners = owners(session)
    rows, row_of = _rows(session, checks, known_owners)
    meta = run_metadata(session)
    counts = session.counts()
    failed = [f for f in session.findings if f.status is Status.FAILED]
    by_severity = Counter(f.severity.label for f in failed)
    results = outcomes(session)
    return {
        "meta": meta,
        "verdict": _verdict(meta["exit_code"]),
        "command": _shell_join(meta["command"]),
        "duration": f"{meta['duration_seconds']:.2f} s",
        "started": _when(meta["started"]),
        "finished": _when(meta["finished"]),
        "outcome_counts": Counter(o.status.value for o in results),
        "failing": len(session.failing()),
        "errors": len(session.errors),
        "fail_on": config.settings.get("fail_on", "low"),
        "counts": {k: counts[k] for k in ("failed", "passed", "waived", "error", "skipped")},
        "severities": [(s.label, by_severity[s.label]) for s in sorted(Severity, reverse=True)],
        "files_scanned": session.files_scanned,
        "as_of": as_of_text(session),
        "audited": [{"kind": a.kind, "count": a.count, "text": str(a)} for a in audited(session)],
        "passed_label": "Passed files" if {t.kind for t in session.targets} <= {"path"} else "Passed items",
        "forecast": _forecast_view(session),
        "by_owner": _by_owner(rows, session),
        "frameworks": [{"name": f.framework, "passed": f.passed, "total": len(f.controls), "percent": f.percent}
                       for f in framework_outcomes(session)],
        "targets": [{
            "kind": t.kind, "name": t.name,
            "failed": sum(f.target == t.name for f in failed),
            "waived": sum(f.target == t.name and f.status is Status.WAIVED for f in session.findings),
            "checks_passed": sum(o.target == t.name and o.status is Status.PASSED for o in results),
            "checks_total": sum(o.target == t.name for o in results),
        } for t in session.targets],
        "controls": [{
            "control": c.control, "checks": c.check_ids, "status": c.status.value,
            "breaking": [{"row": row_of[id(f)], "check": f.check_id, "location": str(f.location),
                          "severity": f.severity.label} for f in c.breaking],
        } for c in control_outcomes(session)],
        "rows": rows,
        "filters": {
            "severity": [s.label for s in sorted(Severity, reverse=True) if any(r["severity"] == s.label for r in rows)],
            "status": [s.value for s in STATUS_RANK if any(r["status"] == s.value for r in rows)],
            "check": sorted({r["check"] for r in rows}),
            "target": list(dict.fromkeys(r["target"] for r in rows)),
            "owner": sorted({r["owner"] for r in rows if r["owner"]}),
        },
        "waived": [r for r in rows if r["status"] == "waived"],
        "skipped": [{"path": s.relpath, "reason": s.reason, "message": s.message, "error": s.is_error}
                    for s in sorted(session.skipped, key=lambda s: (not s.is_error, s.relpath))],
        "checks": [checks[c] for c in sorted(checks) if config.is_enabled(c)],
        "warnings": list(session.warnings),
        "comparison": None if session.comparison is None else {
            "previous": session.comparison.previous,
            "new": [{"row": row_of.get(id(f)), "check": f.check_id, "location": str(f.location),
                     "severity": f.severity.label, "message": f.message} for f in session.comparison.new],
            "fixed": [{"check": f.check_id, "location": str(f.location), "severity": f.severity.label,
                       "message": f.message} for f in session.comparison.fixed],
            "unchanged": len(session.comparison.unchanged),
        },
    }


def render(session: "Session") -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return env.get_template("report.html.j2").render(**context(session))


@hookimpl
def secretaudit_register_formats(registry: "FormatRegistry") -> None:
    registry.add("html", render, extension="html")


def _shell_join(words: list[str]) -> str:
    """The command line as a shell would take it (``shlex`` loaded only when a report is rendered)."""
    import shlex

    return shlex.join(words)
