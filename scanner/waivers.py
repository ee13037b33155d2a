"""Inline waivers: comments on the offending line that accept a finding.

Three spellings are honoured, so a repository moving from another scanner
keeps its annotations:

- ``secretaudit: ignore`` (every check) or ``secretaudit: ignore[SA101,SA102]
  reason text`` (the named checks; the reason is recorded in reports);
- detect-secrets' ``pragma: allowlist secret`` on the line, or
  ``pragma: allowlist nextline secret`` on the line before;
- gitleaks' ``gitleaks:allow``.
"""

from __future__ import annotations

import re

_OWN = re.compile(r"secretaudit:\s*ignore(?:\[([A-Za-z0-9_, ]+)\])?[ \t]*([^\n]*)")
_PRAGMA = re.compile(r"pragma:\s*allowlist[ -]secret")
_PRAGMA_NEXTLINE = re.compile(r"pragma:\s*allowlist[ -]nextline[ -]secret")
_GITLEAKS = "gitleaks:allow"

#: Cheap substring test before any regex: most lines carry no waiver at all.
_MARKERS = ("secretaudit:", "pragma:", _GITLEAKS)

_COMMENT_END = re.compile(r"\s*(?:\*/|-->|%>|#>)?\s*$")


def _clean_reason(text: str) -> str:
    return _COMMENT_END.sub("", text).strip(" -:")


def waiver_on_line(line: str, check_id: str) -> str | None:
    """The waiver reason if ``line`` waives ``check_id``, else None."""
    if not any(marker in line for marker in _MARKERS):
        return None
    match = _OWN.search(line)
    if match:
        ids = match.group(1)
        if ids is None or check_id in {i.strip().upper() for i in ids.split(",")}:
            return _clean_reason(match.group(2)) or "inline waiver"
    if _PRAGMA.search(line):
        return "pragma: allowlist secret"
    if _GITLEAKS in line:
        return "gitleaks:allow"
    return None


def waiver_for(lines_before: str, line: str, check_id: str) -> str | None:
    """Waiver for a finding on ``line``, given the line just before it."""
    reason = waiver_on_line(line, check_id)
    if reason is None and lines_before and _PRAGMA_NEXTLINE.search(lines_before):
        reason = "pragma: allowlist nextline secret"
    return reason
