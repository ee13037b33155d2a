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
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path

    from secretaudit.model import Finding, Waiver

_OWN = re.compile(r"secretaudit:\s*ignore(?:\[([A-Za-z0-9_, ]+)\])?[ \t]*([^\n]*)")
_PRAGMA = re.compile(r"pragma:\s*allowlist[ -]secret")
_PRAGMA_NEXTLINE = re.compile(r"pragma:\s*allowlist[ -]nextline[ -]secret")
_GITLEAKS = "gitleaks:allow"

#: Cheap substring test before any regex: most lines carry no waiver at all.
_MARKERS = ("secretaudit:", "pragma:", _GITLEAKS)

#: A comment's closing mark and blanks at the end of a reason.  Matched from the first blank of a run
#: only, with one blank run before the mark: "\s*(?:mark)?\s*$" tried every split of every run of
#: blanks inside a reason, from every blank (a minute for a 4 KB line).
_COMMENT_END = re.compile(r"(?<!\s)\s*(?:(?:\*/|-->|%>|#>)\s*)?$")


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


# -- waivers declared in the config ------------------------------------------------------


class ConfigWaivers:
    """The config's ``waivers:`` list: accepted findings with who, why and until when.

    Each entry names what it waives by ``fingerprint``, or by ``check`` with
    a ``path`` glob (files) or a ``secret`` glob (backend ``backend:name``),
    and must give a ``reason``; ``by`` and ``until`` (a date) are recorded in
    reports.  Past ``until`` (judged as of ``--as-of``), an entry no longer
    waives: the finding fails again and says the waiver expired, the way
    pytest's strict xfail turns a stale expectation into a failure.
    """

    KEYS = {"fingerprint", "check", "path", "secret", "reason", "by", "until"}

    def __init__(self, entries: list[dict], source: str) -> None:
        from secretaudit.errors import ConfigError

        self.entries = []
        for index, entry in enumerate(entries):
            from secretaudit.backends import parse_date  # only when there are entries: a scan needs no backends

            where = f"waivers[{index}]"
            unknown = set(entry) - self.KEYS
            if unknown:
                raise ConfigError(source, f"{where}.{sorted(unknown)[0]}",
                                  f"unknown key (allowed: {', '.join(sorted(self.KEYS))})")
            if not entry.get("reason"):
                raise ConfigError(source, f"{where}.reason", "every waiver needs a reason")
            if not (entry.get("fingerprint") or entry.get("check")):
                raise ConfigError(source, where, "name a fingerprint, or a check with a path or secret glob")
            try:
                until = parse_date(entry.get("until"))
            except ValueError:
                raise ConfigError(source, f"{where}.until", "expected an ISO date such as 2026-12-31 (or "
                                                            "2026-12-31T00:00:00Z)") from None
            self.entries.append((entry, until))

    def match(self, finding: "Finding", as_of: "datetime") -> "tuple[Waiver | None, str | None]":
        """(waiver, None) if an entry waives ``finding``; (None, note) if it expired."""
        import fnmatch

        from secretaudit.model import Waiver

        for entry, until in self.entries:
            if entry.get("fingerprint") and entry["fingerprint"] != finding.fingerprint:
                continue
            if entry.get("check") and entry["check"] != finding.check_id:
                continue
            location = finding.location
            if entry.get("path") and not (location.path and fnmatch.fnmatchcase(location.path, entry["path"])):
                continue
            if entry.get("secret") and not (location.backend and fnmatch.fnmatchcase(
                    f"{location.backend}:{location.name}", entry["secret"])):
                continue
            until_text = until.date().isoformat() if until else None
            if until is not None and until < as_of:
                return None, f"waiver expired on {until_text}: {entry['reason']}"
            return Waiver(entry["reason"], source="config", by=entry.get("by"), until=until_text), None
        return None, None


# -- gitleaks' .gitleaksignore -------------------------------------------------------------

_COMMIT = re.compile(r"[0-9a-f]{7,40}")


class GitleaksIgnore:
    """gitleaks' ``.gitleaksignore``: fingerprints of accepted findings, one a line.

    ``file:rule-id:line`` accepts the finding of that rule at that line of
    that file (in the working tree or in history); ``commit:file:rule-id:line``
    only the one a history scan reports for that commit.  ``#`` starts a
    comment.  Rule ids are SA101's rule ids, which for rules read from a
    gitleaks config are the gitleaks ids (lowercased, other characters as
    ``-``): ``app/.env:github-pat:3`` waives SA101 ``github-pat`` at
    ``app/.env:3``.  A line that is not a fingerprint is skipped and
    counted in :attr:`bad_lines` (the session warns once).
    """

    FILENAME = ".gitleaksignore"

    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self.entries: dict[tuple[str, str, int], set[str | None]] = {}
        self.bad_lines: list[int] = []
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            head, _, rest = line.rpartition(":")
            head, _, rule = head.rpartition(":")
            if not head or not rule or not rest.isdigit():
                self.bad_lines.append(number)
                continue
            commit: str | None = None
            first, sep, path = head.partition(":")
            if sep and _COMMIT.fullmatch(first.lower()):
                commit, head = first.lower(), path
            key = (head.removeprefix("./"), _slug(rule), int(rest))
            self.entries.setdefault(key, set()).add(commit)

    @classmethod
    def read(cls, root: "Path") -> "GitleaksIgnore | None":
        """The ``.gitleaksignore`` at ``root``, or None (an unreadable one is a usage error)."""
        from secretaudit.errors import UsageError

        path = root / cls.FILENAME
        if not path.is_file():
            return None
        try:
            return cls(path.read_text(encoding="utf-8"), str(path))
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or exc.__class__.__name__
            raise UsageError(f"{path}: cannot read it ({reason}); fix or remove it") from None

    def match(self, finding: "Finding", as_of: "datetime | None" = None) -> "tuple[Waiver | None, None]":
        """(waiver, None) when a fingerprint accepts ``finding``, else (None, None)."""
        from secretaudit.model import Waiver

        location = finding.location
        rule = getattr(finding, "rule", "")
        if not (location.path and location.line and rule):
            return None, None
        commits = self.entries.get((location.path, rule, location.line))
        if commits is None:
            return None, None
        if None in commits or (location.commit and any(location.commit.startswith(c) for c in commits if c)):
            return Waiver(".gitleaksignore", source="gitleaksignore"), None
        return None, None


def _slug(rule_id: str) -> str:
    """A gitleaks rule id as SA101 spells it (the translation of ``.gitleaks.toml`` rules does the same)."""
    return re.sub(r"[^a-z0-9]+", "-", rule_id.lower()).strip("-")
