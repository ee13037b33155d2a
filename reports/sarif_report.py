"""The ``sarif`` format: SARIF 2.1.0, what GitHub code scanning and most SAST dashboards read.

One run; the check catalogue becomes ``tool.driver.rules``, followed by one
rule per format a check's findings name (``SA101/github-pat``: code scanning
then groups, filters and explains alerts per credential format), each with a
``helpUri`` into the README's "Checks" table (``<repository>#sa101``);
failed and waived findings become results (waived ones carry a
``suppressions`` entry, so code scanning shows them as dismissed rather
than open).  Each result carries our fingerprint as
``partialFingerprints["secretaudit/v1"]``: it does not depend on the line,
so GitHub keeps one alert per secret across runs even when code moves.

Every result has a physical location, because GitHub rejects the whole
upload when one lacks it: a file finding is its file and line; a finding on
a backend secret, a config setting or an audited principal is the file and
line that declare it (the inventory entry, the config's backend or key
entry: :attr:`secretaudit.model.Location.declared_in`), and keeps its
logical location (``backend:name``) too.  Paths are relative to
``%SRCROOT%``, the scan root (the repository).  ``automationDetails.id``
(``secretaudit/audit/<config>/``) keeps the uploads of different commands
and configs from replacing each other's alerts; ``run.properties.as_of`` is
the date the run judged as of.  Files that could not be scanned and run
warnings become tool execution notifications, because they say something
about the run, not about the code.  GitHub's upload limits (results and
tags) are kept: see :data:`MAX_RESULTS`.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from secretaudit.reports.json_report import catalogue
from secretaudit.reports.shared_views import run_metadata
from secretaudit import __url__, __version__
from secretaudit.hookspec import hookimpl
from secretaudit.model import Severity, Status

if TYPE_CHECKING:
    from secretaudit.model import CheckSpec, Finding, Location
    from secretaudit.registry import FormatRegistry
    from secretaudit.session import Session

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
FINGERPRINT_KEY = "secretaudit/v1"
#: The base id of every artifact URI: GitHub resolves ``%SRCROOT%``-relative paths from the checkout.
SRCROOT = "%SRCROOT%"
#: GitHub code scanning rejects a run with more results, or a rule with more tags
#: (docs.github.com: "SARIF support for code scanning", upload limits).
MAX_RESULTS = 25_000
MAX_TAGS = 20

#: SARIF has three result levels; low and info are worth a note, not a warning.
LEVELS = {Severity.CRITICAL: "error", Severity.HIGH: "error", Severity.MEDIUM: "warning",
          Severity.LOW: "note", Severity.INFO: "note"}
#: GitHub's ``security-severity`` (CVSS-like 0-10) ranks alerts as critical/high/medium/low.
SECURITY_SEVERITY = {Severity.CRITICAL: "9.5", Severity.HIGH: "8.0", Severity.MEDIUM: "5.5",
                     Severity.LOW: "3.0", Severity.INFO: "0.0"}


def _rule_name(title: str) -> str:
    """SARIF wants rule names as identifiers (``HardcodedSecret``), not sentences."""
    return "".join(word[:1].upper() + word[1:] for word in re.findall(r"[A-Za-z0-9]+", title)) or "Check"


def _unique(items: list[str]) -> list[str]:
    """The schema requires ``tags`` to be distinct."""
    return list(dict.fromkeys(items))


def help_uri(check_id: str) -> str:
    """The README's entry for a check: ``<repository>#sa101`` (rule ids such as ``SA101/github-pat`` too)."""
    return f"{__url__}#{check_id.split('/', 1)[0].lower()}"


def rule(spec: "CheckSpec") -> dict[str, Any]:
    """A catalogue entry as a SARIF reportingDescriptor; controls double as tags for filtering."""
    references = "".join(f"\n- {ref}" for ref in spec.references)
    return {
        "id": spec.id,
        "name": _rule_name(spec.title),
        "shortDescription": {"text": spec.title},
        "fullDescription": {"text": spec.description},
        "helpUri": help_uri(spec.id),
        "help": {"text": spec.remediation + (f"\nReferences:{references}" if references else ""),
                 "markdown": f"**Remediation.** {spec.remediation}"
                             + (f"\n\n**References**{references}" if references else "")},
        "defaultConfiguration": {"level": LEVELS[spec.severity]},
        # "security" first: GitHub keeps the first 10 tags and files "security" alerts apart
        "properties": {"tags": _unique(["security", "secrets", *spec.tags, *spec.controls])[:MAX_TAGS],
                       "controls": list(spec.controls), "severity": spec.severity.label,
                       "security-severity": SECURITY_SEVERITY[spec.severity]},
    }


def rule_id(finding: "Finding") -> str:
    """``SA101/github-pat`` for a finding of one of a check's rules, else the check id."""
    return f"{finding.check_id}/{finding.rule}" if finding.rule else finding.check_id


def format_rules(findings: list["Finding"], specs: list["CheckSpec"]) -> list[dict[str, Any]]:
    """A reportingDescriptor per ``check/rule`` id the findings use, after the checks' own.

    Its title is the findings' message when they all share one (SA101's
    messages are the rule titles, "GitHub personal access token"), else the
    check's title and the rule; description, help and helpUri are the check's.
    """
    by_id = {spec.id: spec for spec in specs}
    grouped: dict[str, list["Finding"]] = {}
    for finding in findings:
        if finding.rule and finding.check_id in by_id:
            grouped.setdefault(rule_id(finding), []).append(finding)
    rules = []
    for ident, members in sorted(grouped.items()):
        first = members[0]
        spec = by_id[first.check_id]
        messages = {f.message for f in members}
        title = first.message if len(messages) == 1 else f"{spec.title} ({first.rule})"
        severity = max((f.severity for f in members), key=lambda s: s.value)
        descriptor = rule(spec)
        descriptor.update({
            "id": ident,
            "name": _rule_name(title),
            "shortDescription": {"text": title},
            "defaultConfiguration": {"level": LEVELS[severity]},
        })
        descriptor["properties"] = {**descriptor["properties"], "check": spec.id, "rule": first.rule,
                                    "severity": severity.label, "security-severity": SECURITY_SEVERITY[severity]}
        rules.append(descriptor)
    return rules


def artifact_uri(path: str) -> tuple[str, str | None]:
    """(URI, base id) of a file path: relative paths hang off %SRCROOT%, absolute ones are file: URIs.

    Percent-encoded, so a file name with spaces, ``<``, ``%`` or ``#`` is still a valid URI.
    """
    if path.startswith("/"):
        return "file://" + quote(path, safe="/"), None
    return quote(path, safe="/"), SRCROOT


def physical(path: str, line: int | None) -> dict[str, Any]:
    """A physical location; a finding on a whole file (no line) points at line 1, as GitHub requires a region."""
    uri, base = artifact_uri(path)
    return {"artifactLocation": {"uri": uri, **({"uriBaseId": base} if base else {})},
            "region": {"startLine": line or 1}}


def location(loc: "Location") -> dict[str, Any]:
    """A file finding's file and line; a backend finding's declaration and its logical ``backend:name``."""
    if loc.path is None:
        result: dict[str, Any] = {}
        if loc.declared_in:
            result["physicalLocation"] = physical(loc.declared_in, loc.declared_line)
        result["logicalLocations"] = [{"name": loc.name or "", "fullyQualifiedName": f"{loc.backend}:{loc.name}",
                                       "kind": "resource"}]
        return result
    result = {"physicalLocation": physical(loc.path, loc.line)}
    if loc.commit:
        result["properties"] = {"commit": loc.commit}
    return result


def result(finding: "Finding", rule_index: dict[str, int]) -> dict[str, Any]:
    """A failed or waived finding as a SARIF result."""
    text = f"{finding.message}: {finding.evidence}" if finding.evidence else finding.message
    ident = rule_id(finding)
    if ident not in rule_index:
        ident = finding.check_id
    item: dict[str, Any] = {
        "ruleId": ident,
        "level": LEVELS[finding.severity],
        "kind": "fail",
        "message": {"text": text},
        "locations": [location(finding.location)],
        "partialFingerprints": {FINGERPRINT_KEY: finding.fingerprint},
        "properties": {"severity": finding.severity.label, "target": finding.target,
                       "evidence": finding.evidence, "status": finding.status.value},
    }
    if ident in rule_index:
        item["ruleIndex"] = rule_index[ident]
    if finding.status is Status.WAIVED and finding.waiver is not None:
        waiver = finding.waiver
        item["suppressions"] = [{
            "kind": "inSource" if waiver.source == "inline" else "external",
            "status": "accepted",
            "justification": str(waiver),
            "properties": {k: v for k, v in (("source", waiver.source), ("by", waiver.by),
                                             ("until", waiver.until)) if v is not None},
        }]
    return item


def notifications(session: "Session", results: int = 0) -> list[dict[str, Any]]:
    """Files not scanned, results left out, error findings and run warnings: facts about the run, not the code."""
    items: list[dict[str, Any]] = []
    for skip in session.skipped:
        uri, base = artifact_uri(skip.relpath)
        items.append({
            "level": "error" if skip.is_error else "note",
            "message": {"text": skip.message or f"{skip.relpath}: skipped ({skip.reason})"},
            "descriptor": {"id": "skipped" if not skip.is_error else "unreadable"},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri, **({"uriBaseId": base} if base else {})}}}],
            "properties": {"reason": skip.reason},
        })
    if results > MAX_RESULTS:  # ``results``: how many the run had to report
        items.append({"level": "warning", "descriptor": {"id": "results-capped"},
                      "message": {"text": f"{results - MAX_RESULTS:,} of {results:,} results left out: GitHub "
                                          f"code scanning takes at most {MAX_RESULTS:,} per run; the most severe are "
                                          f"kept, the JSON report (--report json) has every finding"}})
    for finding in session.findings:
        if finding.status is Status.ERROR:
            items.append({"level": "error", "message": {"text": f"{finding.check_id}: {finding.message}"},
                          "associatedRule": {"id": finding.check_id},
                          "locations": [location(finding.location)]})
    items.extend({"level": "warning", "message": {"text": warning}} for warning in session.warnings)
    return items


def _utc(timestamp: str) -> str:
    """SARIF's date-times are UTC with a ``Z`` suffix (spec 3.9)."""
    return timestamp.replace("+00:00", "Z")


def reported(findings: list["Finding"]) -> list["Finding"]:
    """At most :data:`MAX_RESULTS` of ``findings``, in their order: failed before waived, most severe first."""
    if len(findings) <= MAX_RESULTS:
        return findings
    kept = set(map(id, sorted(findings, key=lambda f: (f.status is not Status.FAILED, -f.severity))[:MAX_RESULTS]))
    return [f for f in findings if id(f) in kept]


def automation_id(command: list[str], config_file: str | None) -> str:
    """``secretaudit/<command>/``, and ``secretaudit/audit/<config>/`` for an audit or validation.

    GitHub code scanning replaces the alerts of an earlier upload with the
    same id, so two configs audited in one repository must not share one;
    the trailing ``/`` makes the whole id the category (no run id).  A scan
    is one per repository whatever config it found; ``report merge`` does
    not know the config its shards ran with (``secretaudit/merge/``).
    ``config_file`` is the run's, relative to the repository.
    """
    words = [word for word in command[1:3] if not word.startswith("-")]
    verb = "merge" if words[:2] == ["report", "merge"] else (words[0] if words else "run")
    if verb in ("scan", "merge") or not config_file:
        return f"secretaudit/{verb}/"
    return f"secretaudit/{verb}/{config_file}/"


def sarif_log(session: "Session") -> dict[str, Any]:
    """The SARIF log as plain data."""
    import shlex  # here, not at import: every plugin loads on every run, and cwd can shadow stdlib names

    meta = run_metadata(session)
    specs = catalogue(session)
    candidates = [f for f in session.findings if f.status in (Status.FAILED, Status.WAIVED)]
    findings = reported(candidates)
    rules = [rule(spec) for spec in specs] + format_rules(findings, specs)
    rule_index = {descriptor["id"]: i for i, descriptor in enumerate(rules)}
    invocation: dict[str, Any] = {
        "executionSuccessful": not session.interrupted and not session.errors,
        "exitCode": meta["exit_code"],
        "arguments": meta["command"],
        "commandLine": shlex.join(meta["command"]),
        "startTimeUtc": _utc(meta["started"]),
        "toolExecutionNotifications": notifications(session, len(candidates)),
        "properties": {"config_file": meta["config_file"], "config_sha256": meta["config_sha256"],
                       "targets": meta["targets"]},
    }
    if meta["finished"]:
        invocation["endTimeUtc"] = _utc(meta["finished"])
    run = {
        "tool": {"driver": {"name": "secretaudit", "version": __version__, "semanticVersion": __version__,
                            "informationUri": __url__, "rules": rules}},
        "automationDetails": {"id": automation_id(meta["command"], meta["config_file"])},
        # no "uri": the scan root's absolute path is the build machine's, not the reader's (SARIF 3.14.14)
        "originalUriBaseIds": {SRCROOT: {"description": {"text": "The scan root (the repository): result paths "
                                                                 "are relative to it."}}},
        "invocations": [invocation],
        "results": [result(f, rule_index) for f in findings],
        "columnKind": "unicodeCodePoints",
        "properties": {"as_of": meta["as_of"]},
    }
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def render(session: "Session") -> str:
    return json.dumps(sarif_log(session), indent=2, ensure_ascii=False) + "\n"


@hookimpl
def secretaudit_register_formats(registry: "FormatRegistry") -> None:
    registry.add("sarif", render, extension="sarif")
