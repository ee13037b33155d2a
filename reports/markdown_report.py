"""The ``markdown`` format: a pull-request comment (GitHub-flavoured markdown).

Written for a reviewer scrolling a PR: the verdict first, then the counts,
then the failed findings as a table, the waived ones and the passed checks
folded away in ``<details>``.  The findings table is capped at
:data:`MAX_ROWS` rows because PR comments have a size limit; the full list is
in the other reports.

Every piece of data (paths, messages, titles, waiver reasons) goes through
:func:`md`: a file may be named ``<script>alert(1)</script>.env``,
``a|b`.env`` or hold an ESC or a newline, and it must not end a table cell,
open a code span, inject HTML or a link into the comment, or drive the
terminal of whoever ``cat``s the file.  No emoji: the verdict is a word.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import TYPE_CHECKING

from secretaudit.forecast import GROUPS, forecast
from secretaudit.reports.json_report import catalogue
from secretaudit.reports.shared_views import as_of_text, outcomes, owner_of, owners, run_metadata
from secretaudit.units import audited, audited_text
from secretaudit.hookspec import hookimpl
from secretaudit.model import Severity, Status
from secretaudit.printable import visible

if TYPE_CHECKING:
    from secretaudit.model import Finding
    from secretaudit.registry import FormatRegistry
    from secretaudit.session import Session

MAX_ROWS = 100
VERDICTS = {0: "PASSED", 1: "FAILED", 2: "INTERRUPTED", 3: "INTERNAL ERROR", 4: "USAGE ERROR", 5: "NOTHING SCANNED"}

#: Markdown punctuation that can start emphasis, a link, a code span or end a table cell.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def md(text: object) -> str:
    """Data as inert text on one line: controls and newlines shown as escapes by the one sanitiser
    (:func:`secretaudit.printable.visible`), markdown punctuation backslash-escaped, ``& < >`` as entities."""
    flat = _MD_SPECIAL.sub(r"\\\1", visible(text))
    return flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _table(header: list[str], rows: list[list[str]], align: str = "---") -> list[str]:
    return [f"| {' | '.join(header)} |", f"|{'|'.join([align] * len(header))}|",
            *(f"| {' | '.join(row)} |" for row in rows)]


def _finding_row(finding: "Finding", owner: str | None) -> list[str]:
    where = md(finding.location) + (f" (owner {md(owner)})" if owner else "")
    return [where, md(finding.check_and_rule), md(finding.severity.label), md(finding.message), md(finding.evidence)]


def _forecast(session: "Session") -> list[str]:
    """Secrets per forecast group, expiry and rotation: what falls due next, for an audit of backends."""
    entries = forecast(session)
    if not entries:
        return []
    rows = [[label, *(str(sum(getattr(e, f"{event}_group") == key for e in entries)) for key in GROUPS)]
            for event, label in (("expiry", "expiry"), ("rotation", "rotation due"))]
    return ["", f"#### Expiry and rotation forecast ({len(entries)} secrets)", "",
            *_table(["secrets", *(label.lower() for label in GROUPS.values())], rows)]


def render(session: "Session") -> str:
    meta = run_metadata(session)
    counts = session.counts()
    verdicts = outcomes(session)
    titles = {spec.id: spec.title for spec in catalogue(session)}
    failed = [f for f in session.findings if f.status is Status.FAILED]
    waived = [f for f in session.findings if f.status is Status.WAIVED]
    verdict = VERDICTS.get(meta["exit_code"], f"EXIT {meta['exit_code']}")
    targets = ", ".join(md(t["name"]) for t in meta["targets"]) or "none"
    known = owners(session)
    out = [f"### secretaudit: {verdict}", "", f"As of **{md(as_of_text(session))}**.", "",
           f"**{verdict}**: {counts['failed']} failed, {counts['waived']} waived, {counts['error']} errors "
           f"in {md(audited_text(session))} (exit code {meta['exit_code']}).", "",
           f"Targets: {targets}. secretaudit {md(meta['tool']['version'])}, {md(meta['started'])}, "
           f"config sha256 {meta['config_sha256'][:12]}.", ""]
    passed_outcomes = [o for o in verdicts if o.status is Status.PASSED]
    only_files = {t.kind for t in session.targets} <= {"path"}
    out += _table(["result", "count"], [
        ["failed findings", str(counts["failed"])], ["waived findings", str(counts["waived"])],
        ["errors", str(counts["error"])], ["files passed" if only_files else "items passed", str(counts["passed"])],
        ["files skipped", str(counts["skipped"])],
        *([f"{md(a.noun)} audited", str(a.count)] for a in audited(session)),
        ["checks x targets passed", f"{len(passed_outcomes)} of {len(verdicts)}"]])
    by_severity = Counter(f.severity for f in failed)
    if by_severity:
        out += ["", *_table(["severity", "failed"], [[s.label, str(by_severity[s])]
                                                     for s in sorted(Severity, reverse=True) if by_severity[s]])]
    if failed:
        out += ["", f"#### Failed findings ({len(failed)})", ""]
        out += _table(["location", "check", "severity", "message", "evidence"],
                      [_finding_row(f, owner_of(f, known)) for f in failed[:MAX_ROWS]])
        if len(failed) > MAX_ROWS:
            out += ["", f"... and {len(failed) - MAX_ROWS} more failed findings: see the full report."]
    out += _forecast(session)
    out += ["", f"Waived findings: {len(waived)}."]
    if waived:
        rows = [[md(f.location), md(f.check_id), md(f.waiver.reason if f.waiver else ""),
                 md(f.waiver.source if f.waiver else ""), md((f.waiver.by if f.waiver else None) or ""),
                 md((f.waiver.until if f.waiver else None) or "")] for f in waived[:MAX_ROWS]]
        out += ["", f"<details><summary>Waived findings ({len(waived)})</summary>", "",
                *_table(["location", "check", "reason", "source", "by", "until"], rows), "", "</details>"]
    if passed_outcomes:
        rows = [[md(o.target), md(o.check_id), md(titles.get(o.check_id, ""))] for o in passed_outcomes]
        out += ["", f"<details><summary>Passed checks ({len(passed_outcomes)})</summary>", "",
                *_table(["target", "check", "title"], rows), "", "</details>"]
    return "\n".join(out) + "\n"


@hookimpl
def secretaudit_register_formats(registry: "FormatRegistry") -> None:
    registry.add("markdown", render, extension="md")
