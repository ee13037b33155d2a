"""Connecting the repositories to the backends: is a hardcoded credential the live value of a managed secret?

``secretaudit audit --correlate`` (or ``correlate: true``) compares every
credential the file checks found in the repositories with the values the
audited backends hold, without ever holding both in a report:

* both sides are hashed with HMAC-SHA256 under a key drawn for this run
  (:func:`secrets.token_bytes`), kept in memory only and never written, so no
  hash can be reversed, looked up in a table or compared across runs;
* the repository side is hashed inside the scan of one file, next to the
  salted digest it already makes (:func:`repo_marks`), in the worker process
  that holds the value; the key reaches forked workers because it is stashed
  before the pool forks; the marks travel back in the file's result, never
  into its cache rows or findings;
* the backend side is read after the scan and the listing
  (:func:`correlate`, called by the session): each secret's current value,
  then its older versions where the backend keeps them, every field hashed
  and dropped at once, every read recorded in the access trail.

A match is judged by the ``secretaudit_judge_match`` hook (the check module
says what it means and how severe it is); the engine turns the issues into
findings located at the repository line.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Iterator

from secretaudit.stash import BACKENDS, BACKEND_STATS, CORRELATION, RECORDS

if TYPE_CHECKING:
    from secretaudit.backends import Backend
    from secretaudit.config import Config
    from secretaudit.file_checks import FileResult
    from secretaudit.model import Detection, Finding, SecretRecord
    from secretaudit.session import Session


#: Backend field values shorter than this are not compared: ports, user names, flags
#: ("3306", "admin", "true") would match any file that mentions them, and no file check
#: reports a credential that short.
MIN_LENGTH = 8

#: Older versions read per secret at most (Vault KV keeps 10 by default).
MAX_OLDER_VERSIONS = 10


@dataclass(frozen=True)
class Sighting:
    """Where a credential was found in a repository (never the value)."""

    path: str
    line: int
    target: str


@dataclass(frozen=True)
class Match:
    """A repository credential that is a value a backend holds: what the check judges.

    ``version`` is None for the current value, else the older version's id as
    the backend names it (``2``, ``AWSPREVIOUS``).
    """

    sighting: Sighting
    record: "SecretRecord"
    field: str
    version: str | None = None
    #: the other lines of the same file that hold a value of this secret (same version kind)
    also: tuple[int, ...] = ()

    @property
    def stale(self) -> bool:
        return self.version is not None


@dataclass
class Correlation:
    """The run's correlation state: the key (never shown) and the repository's keyed hashes."""

    _key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    #: keyed hash -> where it was seen
    repo: dict[bytes, list[Sighting]] = field(default_factory=lambda: defaultdict(list), repr=False)

    def __repr__(self) -> str:
        return f"<Correlation {len(self.repo)} repository values>"

    def mac(self, value: str) -> bytes:
        return hmac.new(self._key, value.strip().encode("utf-8", "surrogatepass"), hashlib.sha256).digest()

    def sight(self, result: "FileResult") -> None:
        """Take one scanned file's marks (called by the session, in the main process)."""
        target = result.findings[0].target if result.findings else ""
        for line, mark in result.marks:
            self.repo[mark].append(Sighting(result.relpath, line, target))


def start(config: "Config") -> Correlation:
    """Turn correlation on for this run; call before any file is scanned (workers fork after)."""
    correlation = Correlation()
    config.stash[CORRELATION] = correlation
    return correlation


def repo_marks(detections: Iterable["Detection"], config: "Config") -> list[tuple[int, bytes]]:
    """(line, keyed hash) of every credential detected in one file; empty when correlation is off.

    Every enabled file check's detection counts: they all report credentials,
    and hashing one more value costs a microsecond while a match is what matters.
    """
    correlation: Correlation | None = config.stash.get(CORRELATION)
    if correlation is None:
        return []
    marks = {(d.line, correlation.mac(d.secret)) for d in detections
             if not d.error and len(d.secret.strip()) >= MIN_LENGTH and config.is_enabled(d.check_id)}
    return sorted(marks)


# -- the backend side ---------------------------------------------------------------------------


def _values(backend: "Backend", record: "SecretRecord") -> Iterator[tuple[str | None, dict[str, str]]]:
    """(version, fields) of the current value (version None), then of each older version the backend keeps."""
    yield None, backend.fetch(record)
    older = getattr(backend, "older_values", None)
    if callable(older):
        yield from older(record, MAX_OLDER_VERSIONS)


def _read_backend(correlation: Correlation, backend: "Backend", records: list["SecretRecord"],
                  config: "Config") -> tuple[list[Match], list[str]]:
    """Hash every value of ``backend``'s secrets against the repository's; matches and read problems.

    Values are hashed field by field and dropped at once.  Each secret's reads
    are one trail line (outcome ``ok`` or the failure); a trail that cannot be
    written stops the reads there, since an unaudited read must not go on.
    """
    from secretaudit.backends import BackendError
    from secretaudit.trail import record as trail_record, trail_path

    matches: list[Match] = []
    problems: list[str] = []
    calls_before, read = backend.api_calls, 0
    for record in records:
        versions = 0
        outcome, cause = "ok", ""
        try:
            for version, fields in _values(backend, record):
                versions += 1
                for name, value in fields.items():
                    if len(value.strip()) < MIN_LENGTH:
                        continue
                    for sighting in correlation.repo.get(correlation.mac(value), ()):
                        matches.append(Match(sighting, record, name, version))
                del fields
        except BackendError as exc:
            outcome, cause = "failed", getattr(exc, "reason", "error")
            problems.append(f"{record.name}: {exc}")
        read += versions > 0
        try:
            trail_record(config, "audit", record.name, record.backend, outcome, "correlate",
                         versions=versions, **({"cause": cause} if cause else {}))
        except OSError as exc:
            problems.append(f"the access trail {trail_path(config)} cannot be written ({exc.strerror or exc}); "
                            f"correlation stopped after {read} secrets so no read goes unaudited: fix the file "
                            "or audit_log")
            break
    stats = config.stash.get(BACKEND_STATS, {}).get(backend.label)
    if stats is not None:  # the report's run metadata: what correlation cost, apart from the listing
        stats["correlate"] = {"secrets": read, "api_calls": backend.api_calls - calls_before}
    return matches, problems


def correlate(session: "Session") -> None:
    """Read the audited backends' values and add a finding per repository credential that matches one.

    Runs after every target: the repository's marks and the backends'
    records are all in.  Nothing is read when the repositories hold no
    credential: there is nothing to compare with.
    """
    config = session.config
    correlation: Correlation | None = config.stash.get(CORRELATION)
    if correlation is None:
        return
    if not correlation.repo:
        return
    records = config.stash.get(RECORDS) or []
    for backend in config.stash.get(BACKENDS) or []:
        if not backend.holds_values:
            continue
        own = [r for r in records if r.backend == backend.label]
        if not own:
            continue
        matches, problems = _read_backend(correlation, backend, own, config)
        for finding in _findings(matches, config):
            session.add_finding(finding)
        if problems:
            session.add_finding(_error(backend, problems, config))


def _grouped(matches: list[Match]) -> list[Match]:
    """One match per file, secret and current-or-older: its first line, the others in ``also``.

    A file holding an AWS key's id and secret is one leak of one secret, and
    one finding (whose fingerprint is the file and the secret, never the line).
    """
    groups: dict[tuple[str, str, str, bool], list[Match]] = defaultdict(list)
    for match in matches:
        groups[(match.sighting.path, match.record.backend, match.record.name, match.stale)].append(match)
    grouped = []
    for group in groups.values():
        group.sort(key=lambda m: (m.sighting.line, m.version or "", m.field))
        first = group[0]
        others = tuple(sorted({m.sighting.line for m in group} - {first.sighting.line}))
        grouped.append(Match(first.sighting, first.record, first.field, first.version, others))
    return sorted(grouped, key=lambda m: (m.sighting.path, m.sighting.line, m.record.name, m.stale))


def _findings(matches: list[Match], config: "Config") -> list["Finding"]:
    """The judging checks' findings on every match, located at the repository line."""
    from secretaudit.backends import issue_findings
    from secretaudit.model import Location

    findings: list["Finding"] = []
    for match in _grouped(matches):
        where = match.sighting
        findings.extend(issue_findings(
            config.hook.secretaudit_judge_match(match=match, config=config), config, where.target,
            lambda issue: Location(path=where.path, line=where.line),
            lambda issue: (f"{where.path}\x1f{match.record.backend}:{match.record.name}", issue.key)))
    return findings


def _error(backend: "Backend", problems: list[str], config: "Config") -> "Finding":
    """One error result for the backend's values that could not be read: their secrets went uncompared."""
    from secretaudit.backends import SPEC
    from secretaudit.model import Location, Status, make_finding

    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return make_finding(SPEC, Location(backend=backend.label, name="*"),
                        f"correlate: could not compare {len(problems)} secret(s) with the repositories: "
                        f"{problems[0]}{more}", status=Status.ERROR, identity=f"{backend.label}\x1fcorrelate",
                        target=backend.label)
