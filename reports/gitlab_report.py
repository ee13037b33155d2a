"""The ``gitlab`` format: GitLab's secret-detection report, so findings show in merge requests.

A CI job that publishes this file as ``artifacts: reports: secret_detection``
(``ci/gitlab/secretaudit.gitlab-ci.yml``) makes GitLab list the findings in
the merge request's security widget and the vulnerability report.  The shape
is GitLab's ``secret-detection-report-format.json`` of the
security-report-schemas, version :data:`SCHEMA_VERSION`: a ``scan`` block
(analyzer, scanner, ``type: secret_detection``, status, start and end time
as ``yyyy-mm-ddThh:mm:ss`` in UTC) and one vulnerability per failed finding.

Choices the format leaves to us:

- only failed findings are vulnerabilities: the format has no "accepted"
  state, and a waived finding (inline, baseline, config) is one the team
  already decided on; error results and unreadable files are
  ``scan.messages`` and make ``scan.status`` a ``failure`` (part of the code
  went unchecked), as does an interrupted run;
- ``id`` is a UUID derived from the finding's fingerprint and line, so it is
  stable across runs and unique within one; the check id is the primary
  identifier, the fingerprint a second one;
- ``location.commit.sha`` is the commit a history finding was introduced in,
  else ``$CI_COMMIT_SHA`` (the commit the job checked out), else
  ``0000000``, which is what GitLab's own analyzer writes when it scans a
  work tree;
- no ``raw_source_code_extract``: it would be the line holding the secret.
  The description holds the finding's message and redacted evidence only.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from secretaudit import __version__
from secretaudit.hookspec import hookimpl
from secretaudit.model import Severity, Status
from secretaudit.reports.shared_views import run_metadata

if TYPE_CHECKING:
    from secretaudit.model import Finding
    from secretaudit.registry import FormatRegistry
    from secretaudit.session import Session

SCHEMA_VERSION = "15.0.7"
SCHEMA_URL = ("https://gitlab.com/gitlab-org/security-products/security-report-schemas/-/raw/"
              f"v{SCHEMA_VERSION}/dist/secret-detection-report-format.json")
#: GitLab's severities are capitalised words; ``Unknown`` is never ours (every check has a severity).
SEVERITIES = {Severity.CRITICAL: "Critical", Severity.HIGH: "High", Severity.MEDIUM: "Medium",
              Severity.LOW: "Low", Severity.INFO: "Info"}
#: Namespace of the vulnerability ids (uuid5 of ``fingerprint:line``).
_ID_NAMESPACE = "6f1b0f5e-3c55-5a53-9a3c-7365637265ff"
NO_COMMIT = "0000000"
#: The schema's caps on string properties.
_MAX_NAME, _MAX_SOLUTION = 255, 7000
_TOOL = {"id": "secretaudit", "name": "secretaudit", "version": __version__, "vendor": {"name": "secretaudit"}}


def _time(iso: str | None) -> str:
    """``yyyy-mm-ddThh:mm:ss`` (the schema's pattern: UTC, no offset, no fraction)."""
    return (iso or "1970-01-01T00:00:00")[:19]


def vulnerability(finding: "Finding", titles: dict[str, str]) -> dict[str, Any]:
    """One failed finding as a GitLab vulnerability."""
    import uuid  # here: every run loads the plugin, only a GitLab report needs uuid

    loc = finding.location
    title = titles.get(finding.check_id, finding.check_id)
    description = f"{finding.message}: {finding.evidence}" if finding.evidence else finding.message
    if loc.path is None:  # a backend secret: no file, so the description names it
        description = f"{loc}: {description}"
    location: dict[str, Any] = {"commit": {"sha": loc.commit or os.environ.get("CI_COMMIT_SHA") or NO_COMMIT}}
    if loc.path:
        location["file"] = loc.path
    if loc.line:
        location.update(start_line=loc.line, end_line=loc.line)
    item: dict[str, Any] = {
        "id": str(uuid.uuid5(uuid.UUID(_ID_NAMESPACE), f"{finding.fingerprint}:{loc.line or 0}")),
        "category": "secret_detection",
        "name": f"{finding.check_id} {title}"[:_MAX_NAME],
        "description": description,
        "severity": SEVERITIES[finding.severity],
        "location": location,
        "identifiers": [
            {"type": "secretaudit_check_id", "name": f"secretaudit {finding.check_id}", "value": finding.check_id},
            {"type": "secretaudit_fingerprint", "name": "secretaudit fingerprint", "value": finding.fingerprint},
        ],
    }
    if finding.remediation:
        item["solution"] = finding.remediation[:_MAX_SOLUTION]
    return item


def messages(session: "Session") -> list[dict[str, str]]:
    """What the run could not check, as ``scan.messages`` (levels ``warn`` and ``fatal``)."""
    items = [{"level": "warn", "value": skip.message or f"{skip.relpath}: not scanned ({skip.reason})"}
             for skip in session.errors]
    items += [{"level": "warn", "value": f"{f.check_id} could not decide on {f.location}: {f.message}"}
              for f in session.findings if f.status is Status.ERROR]
    items += [{"level": "warn", "value": warning} for warning in session.warnings]
    if session.interrupted:
        items.append({"level": "fatal", "value": "the run was interrupted: the results are partial"})
    return items


def gitlab_report(session: "Session") -> dict[str, Any]:
    """The report as plain data."""
    meta = run_metadata(session)
    titles = {spec.id: spec.title for spec in session.config.checks or []}
    failed = sorted((f for f in session.findings if f.status is Status.FAILED), key=lambda f: f.sort_key())
    notes = messages(session)
    incomplete = session.interrupted or bool(session.errors) or any(f.status is Status.ERROR for f in session.findings)
    scan: dict[str, Any] = {
        "analyzer": dict(_TOOL),
        "scanner": dict(_TOOL),
        "type": "secret_detection",
        "start_time": _time(meta["started"]),
        "end_time": _time(meta["finished"] or meta["started"]),
        "status": "failure" if incomplete else "success",  # part of the code went unchecked
    }
    if notes:
        scan["messages"] = notes
    return {"version": SCHEMA_VERSION, "schema": SCHEMA_URL, "scan": scan,
            "vulnerabilities": [vulnerability(f, titles) for f in failed]}


def render(session: "Session") -> str:
    # ASCII-only: a bidi override in a file name reaches GitLab's page as an escape, not as itself
    return json.dumps(gitlab_report(session), indent=2) + "\n"


@hookimpl
def secretaudit_register_formats(registry: "FormatRegistry") -> None:
    # its own extension: the default file must not be the json report's secretaudit-report.json
    registry.add("gitlab", render, extension="gitlab.json")
