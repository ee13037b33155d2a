"""The ``junit`` format: JUnit XML, which nearly every CI dashboard can show.

A secrets audit maps onto tests naturally: each target is a test suite and
each enabled check is a test case on it (``classname`` = target, ``name`` =
``"SA101 <title>"``), with the verdict from :func:`secretaudit.reports.shared_views.outcomes`.
A failed case carries one ``<failure>`` listing every finding behind it, so
the dashboard shows where to look without opening another report; a case
whose findings are all waived is ``<skipped>`` with the reasons; an error
finding is an ``<error>``.  Files that should have been scanned and could
not be get their own suite of ``<error>`` cases, as pytest reports
collection errors.

Checks run in one pass over each file, so they have no time of their own:
test cases and suites report ``time="0"`` and only ``<testsuites>`` carries
the run's duration.  Built with :mod:`xml.etree.ElementTree`, which escapes
markup; characters XML 1.0 cannot carry at all (control characters, lone
surrogates from undecodable file names) are replaced by ``\\xNN`` escapes.
ElementTree is imported only when a JUnit report is written: it imports the
``copy`` module, which a ``copy.py`` in the scanned directory would shadow
under ``python -m secretaudit``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from secretaudit.reports.json_report import catalogue
from secretaudit.reports.shared_views import Outcome, outcomes, run_metadata
from secretaudit.units import Audited, audited
from secretaudit.hookspec import hookimpl
from secretaudit.model import Status

if TYPE_CHECKING:
    import xml.etree.ElementTree as ET

    from secretaudit.model import Finding
    from secretaudit.registry import FormatRegistry
    from secretaudit.session import Session

@lru_cache(maxsize=1)
def _not_xml() -> re.Pattern[str]:
    """Characters XML 1.0 forbids; compiled on first use (a scan that writes no JUnit pays nothing)."""
    return re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """``text`` with every character XML 1.0 forbids shown as an escape instead."""
    return _not_xml().sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                        else f"\\u{ord(m.group()):04x}", text)


def _element(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    node = parent.makeelement(tag, {k: xml_text(v) for k, v in attrs.items()})
    parent.append(node)
    if text is not None:
        node.text = xml_text(text)
    return node


def finding_line(finding: "Finding") -> str:
    """One line per finding: where, how bad, what, the redacted evidence, and a waiver if any."""
    rule = f" {finding.rule}" if finding.rule else ""
    line = f"{finding.location}{rule} [{finding.severity.label}] {finding.message}"
    if finding.evidence:
        line += f" {finding.evidence}"
    if finding.status is Status.WAIVED and finding.waiver is not None:
        line += f" (waived: {finding.waiver}; source: {finding.waiver.source})"
    elif finding.status is not Status.FAILED:
        line += f" ({finding.status.value})"
    return line


def _verdict(case: ET.Element, outcome: Outcome, remediation: str) -> None:
    """Attach the failure, skip or error element of one check x target."""
    lines = [finding_line(f) for f in outcome.findings]
    if outcome.status is Status.FAILED:
        failed = sum(f.status is Status.FAILED for f in outcome.findings)
        text = "\n".join([*lines, "", f"remediation: {remediation}"]) if remediation else "\n".join(lines)
        _element(case, "failure", text, message=f"{failed} failed finding(s) of {outcome.check_id} in {outcome.target}",
                 type=outcome.check_id)
    elif outcome.status is Status.ERROR:
        _element(case, "error", "\n".join(lines), message=f"{outcome.check_id} could not decide on {outcome.target}",
                 type=outcome.check_id)
    elif outcome.status is Status.WAIVED:
        reasons = "; ".join(dict.fromkeys(str(f.waiver) for f in outcome.findings if f.waiver is not None))
        _element(case, "skipped", "\n".join(lines), message=f"waived: {reasons or 'accepted'}")
    elif outcome.status is Status.SKIPPED:
        _element(case, "skipped", "\n".join(lines), message=f"{outcome.check_id} not checked on {outcome.target}")


def _counts(node: ET.Element, cases: list[ET.Element], time: str = "0") -> None:
    node.set("tests", str(len(cases)))
    for attr, tag in (("failures", "failure"), ("errors", "error"), ("skipped", "skipped")):
        node.set(attr, str(sum(case.find(tag) is not None for case in cases)))
    node.set("time", time)


def _suite(root: ET.Element, name: str, meta: dict[str, Any], examined: list[Audited]) -> ET.Element:
    """A ``<testsuite>`` with the run's identity (and the date it judged as of, and what it audited) as
    properties, so a dashboard can tell runs apart."""
    suite = _element(root, "testsuite", name=name, timestamp=meta["started"] or "")
    properties = _element(suite, "properties")
    _element(properties, "property", name="secretaudit.version", value=meta["tool"]["version"])
    for key in ("as_of", "config_file", "config_sha256"):
        _element(properties, "property", name=f"secretaudit.{key}", value=str(meta[key] or ""))
    for item in examined:
        _element(properties, "property", name=f"secretaudit.audited.{item.kind}", value=str(item))
    return suite


def junit_tree(session: "Session") -> ET.Element:
    """``<testsuites>`` with one suite per target (plus one for unreadable files)."""
    import xml.etree.ElementTree as ET

    meta = run_metadata(session)
    examined = audited(session)
    specs = {spec.id: spec for spec in catalogue(session)}
    root = ET.Element("testsuites", {"name": "secretaudit"})
    by_target: dict[str, list[Outcome]] = {t.name: [] for t in session.targets}
    for outcome in outcomes(session):
        by_target.setdefault(outcome.target, []).append(outcome)
    all_cases: list[ET.Element] = []
    for target, items in by_target.items():
        suite, cases = _suite(root, target, meta, examined), []
        for outcome in items:
            spec = specs.get(outcome.check_id)
            case = _element(suite, "testcase", classname=target, time="0",
                            name=f"{outcome.check_id} {spec.title}" if spec else outcome.check_id)
            _verdict(case, outcome, spec.remediation if spec else "")
            cases.append(case)
        _counts(suite, cases)
        all_cases.extend(cases)
    if session.errors:
        suite, cases = _suite(root, "unreadable files", meta, examined), []
        for skip in session.errors:
            case = _element(suite, "testcase", classname="secretaudit.collection", name=skip.relpath, time="0")
            detail = skip.message or skip.reason
            _element(case, "error", detail, message=detail, type=skip.reason)
            cases.append(case)
        _counts(suite, cases)
        all_cases.extend(cases)
    _counts(root, all_cases, f"{meta['duration_seconds']:.3f}")
    return root


def render(session: "Session") -> str:
    import xml.etree.ElementTree as ET

    tree = junit_tree(session)
    ET.indent(tree)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(tree, encoding="unicode") + "\n"


@hookimpl
def secretaudit_register_formats(registry: "FormatRegistry") -> None:
    registry.add("junit", render, extension="xml")
