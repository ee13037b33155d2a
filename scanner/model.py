"""The data model shared by the engine, checks and reporters.

Plain frozen dataclasses, so results can cross process boundaries (the scan
runs in worker processes) and be compared, sorted and hashed.

The one rule this module enforces for everybody: a secret value never leaves
a :class:`Detection`.  The engine turns each detection into a :class:`Finding`
that carries only redacted evidence and a salted fingerprint; nothing
downstream of that (terminal, reports, baselines) ever sees the plaintext.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from secretaudit.redact import scrub


class Severity(enum.IntEnum):
    """How bad a failing check is; ordered so ``--fail-on`` can compare."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: str) -> "Severity":
        try:
            return cls[value.strip().upper()]
        except KeyError:
            allowed = ", ".join(s.label for s in cls)
            raise ValueError(f"unknown severity {value!r} (allowed: {allowed})") from None


class Status(str, enum.Enum):
    """The outcome of one result, in pytest's vocabulary."""

    FAILED = "failed"
    PASSED = "passed"
    ERROR = "error"
    WAIVED = "waived"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class CheckSpec:
    """What a check is: the catalogue entry shown by ``secretaudit checks``.

    ``controls`` name the compliance controls the check evidences, e.g.
    ``("PCI DSS v4 8.6.2", "NIST 800-53 IA-5(7)")``; reports group by them.
    """

    id: str
    title: str
    severity: Severity
    description: str
    remediation: str
    tags: tuple[str, ...] = ()
    controls: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    #: Target kinds the check examines (``path``, ``history``, a backend kind):
    #: reports show a verdict for a check on a target only where it applies.
    applies_to: tuple[str, ...] = ("path",)
    #: A secret reported on one line by several checks is one finding, from
    #: the most severe (then lowest-id) check.  A check whose finding states
    #: a different fact about the same value (SA106: *where* an agent config
    #: holds it, and the reference that belongs there) sets this, and is
    #: reported alongside the others instead of folded into them.
    reported_alongside: bool = False
    #: Checks that leave to this one the secrets it claims in a file: SA104 and SA106
    #: report a credential with the fix that fits the file, so SA102's keyword guess and
    #: SA103's connection-string finding on the same value step aside.  A check that
    #: declares this answers ``secretaudit_claimed_values``; the engine
    #: (:mod:`secretaudit.claims`) resolves it, so no check imports another to ask.
    claims_over: tuple[str, ...] = ()


@dataclass(frozen=True)
class Target:
    """Something a run scans: a repository path (or a backend, later).

    ``kind`` is ``"path"`` for files and directories; ``name`` is how it is
    shown (the path as the user gave it).
    """

    kind: str
    name: str
    path: str = ""
    scope: str = "all"  # "all" files, "given" files, "staged"
    #: the config key that declares a target which is not a file (``("scopes", "databases", 1)``):
    #: the engine points its findings there (:mod:`secretaudit.declared`) when no backend entry does
    declared: tuple[str | int, ...] = ()


def lower_keeping_offsets(text: str) -> str:
    """``text.lower()`` with every offset kept, so matches in it index ``text``.

    ``str.lower`` changes the length of exactly one character, U+0130 (İ,
    which becomes "i" plus a combining dot).  It is mapped to "i" first: its
    simple lowercase, the one ``re.IGNORECASE`` uses, so a search in the
    lowered text sees what a case-insensitive pattern sees.
    """
    return text.replace("\u0130", "i").lower() if "\u0130" in text else text.lower()


class FileRef(NamedTuple):
    """A file to read: where it is, how to show it, optionally a git blob.

    ``blob`` is set for staged files: the content is the staged object, not
    the work-tree file.  ``missing`` explains why a named file could not be
    found, so the engine reports it instead of dropping it silently.
    """

    path: str
    relpath: str
    blob: str | None = None
    missing: str | None = None
    #: the git blob id of the work-tree content, when git vouches for it
    #: (tracked, unmodified, a regular file): the scan cache's key, so an
    #: unchanged file of a repository is answered without a ``stat``
    digest: str | None = None
    #: the stat signature the listing saw (see :mod:`secretaudit.dir_listing`)
    signature: str | None = None


class Skip(NamedTuple):
    """Why a file was not scanned.

    ``reason`` is a short category for counting (``binary``, ``too large``,
    ``not UTF-8``, ``symlink``, ``unreadable``...); ``message`` is the one-line
    explanation shown to the user, or empty for quiet skips; ``is_error`` marks
    a file that should have been scanned and could not be.
    """

    relpath: str
    reason: str
    message: str = ""
    is_error: bool = False


@dataclass
class FileItem:
    """One file handed to the checks: its display path and decoded text.

    ``relpath`` is the path reports show (POSIX separators, relative to the
    scan root when the file is under it); ``text`` is the whole UTF-8 content.
    Line numbers are computed on demand from match offsets.
    """

    path: str
    relpath: str
    text: str
    #: set by a check whose verdict depends on more than the content (the environment, other files):
    #: the file's result is then never kept in the scan cache
    volatile: bool = field(default=False, repr=False)
    _line_starts: list[int] | None = field(default=None, repr=False)
    _lowered: str | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.relpath.rsplit("/", 1)[-1]

    @property
    def lowered(self) -> str:
        """:attr:`text` through :func:`lower_keeping_offsets`, computed once for all checks."""
        if self._lowered is None:
            self._lowered = lower_keeping_offsets(self.text)
        return self._lowered

    def line_of(self, offset: int) -> int:
        """1-based line number of a character offset in :attr:`text`."""
        if self._line_starts is None:
            starts = [0]
            find = self.text.find
            pos = find("\n")
            while pos != -1:
                starts.append(pos + 1)
                pos = find("\n", pos + 1)
            self._line_starts = starts
        from bisect import bisect_right

        return bisect_right(self._line_starts, offset)

    def line_text(self, line: int) -> str:
        """The text of a 1-based line, without its newline."""
        self.line_of(0)
        assert self._line_starts is not None
        start = self._line_starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start:] if end == -1 else self.text[start:end]


@dataclass(frozen=True)
class Detection:
    """A raw hit from a file check, still holding the secret in memory.

    Checks return these; only the engine reads ``secret``, to fingerprint and
    redact it, and then drops it.  ``visible_prefix`` is the part of the
    secret that is safe to show because it is not secret (a format's literal
    prefix such as ``ghp_`` or ``AKIA``); the engine never shows more.
    """

    check_id: str
    line: int
    secret: str
    label: str
    visible_prefix: str = ""
    rule: str = ""  # e.g. "github-pat"; part of the fingerprint identity
    #: the check could not decide (``scan --verify`` could not reach the service): an error result, never a pass
    error: bool = False
    #: this detection's severity when it differs from the check's (a rule configured as ``medium``)
    severity: "Severity | None" = None

    def __repr__(self) -> str:  # never print the secret, even in a traceback
        return f"Detection({self.check_id}, line={self.line}, label={self.label!r}, secret=<redacted>)"


@dataclass(frozen=True)
class SecretRecord:
    """One secret's metadata, as a backend reports it.  Never its value.

    ``backend`` is the backend instance (``vault:prod``); ``name`` is unique
    within it and ``path`` is where it lives there (KV path, ARN, inventory
    key).  Dates are timezone-aware UTC datetimes or None when unknown.
    ``kind`` is ``github-token``, ``aws-access-key``, ``database-password``,
    ``vault-token`` or ``generic``; backends infer it from metadata or the
    name (see :func:`secretaudit.backends.infer_kind`).  ``extra`` holds
    backend-specific facts the checks may use (a token's ``policies``,
    ``root``, ``renewable``, ``ttl``; a rotation's ``last_rotation_failed``).
    """

    backend: str
    name: str
    path: str = ""
    kind: str = "generic"
    created: "datetime | None" = None
    last_rotated: "datetime | None" = None
    expires: "datetime | None" = None
    rotation_enabled: bool | None = None
    rotation_days: int | None = None
    next_rotation: "datetime | None" = None
    last_accessed: "datetime | None" = None
    owner: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    extra: tuple[tuple[str, Any], ...] = ()

    def tag(self, key: str) -> str | None:
        return dict(self.tags).get(key)

    def fact(self, key: str, default: Any = None) -> Any:
        return dict(self.extra).get(key, default)


@dataclass(frozen=True)
class Issue:
    """A failed check on a record or a config file, as a check reports it.

    The engine adds location, fingerprint and remediation.  ``severity``
    overrides the check's default when one problem is worse than another
    (an expired token versus one expiring soon).  ``line`` locates config
    issues in the config file.
    """

    check_id: str
    message: str
    evidence: str = ""
    severity: Severity | None = None
    line: int | None = None
    key: str = ""  # config issues: the offending key (part of the fingerprint)


@dataclass(frozen=True)
class Validation:
    """The answer of a credential validator: does this credential work?

    ``status`` is ``valid``, ``invalid`` (the service rejected it: revoked,
    expired, wrong) or ``unknown`` (validation could not run: server down,
    throttled, unsupported kind).  ``identity`` is who the credential is (an
    ARN, a login, a database user) when valid.  ``message`` is one line for
    humans, never holding the credential.
    """

    status: str
    identity: str = ""
    message: str = ""


@dataclass(frozen=True)
class Location:
    """Where a finding is: a file and line, or a backend and secret name.

    A finding that is not in a file also says where its subject is declared
    (``declared_in``, ``declared_line``): the inventory line of the secret,
    the config entry of the backend or of the key.  That is where a reviewer
    edits, and what code scanning needs (it rejects a SARIF result without a
    file and line).  It is not part of the finding's identity: the
    fingerprint and ``str()`` stay ``BACKEND:NAME``.
    """

    path: str | None = None
    line: int | None = None
    backend: str | None = None
    name: str | None = None
    commit: str | None = None  # for findings in git history: the commit that introduced it
    declared_in: str | None = None  # relative to the scan root, as ``path`` is
    declared_line: int | None = None

    def __str__(self) -> str:
        if self.path is not None:
            where = f"{self.path}:{self.line}" if self.line else self.path
            return f"{where}@{self.commit[:12]}" if self.commit else where
        return f"{self.backend}:{self.name}"

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in (("path", self.path), ("line", self.line), ("commit", self.commit),
                                  ("backend", self.backend), ("name", self.name), ("declared_in", self.declared_in),
                                  ("declared_line", self.declared_line)) if v is not None}


@dataclass(frozen=True)
class Waiver:
    """Why a finding is accepted, by whom, until when.

    ``source`` is ``inline`` (a comment on the line), ``baseline`` or
    ``config`` (the ``waivers:`` list).  A config waiver past ``until`` no
    longer waives: the finding fails again, so acceptances cannot go stale.
    """

    reason: str
    source: str = "inline"
    by: str | None = None
    until: str | None = None  # ISO date

    def __str__(self) -> str:
        parts = [self.reason]
        if self.by:
            parts.append(f"by {self.by}")
        if self.until:
            parts.append(f"until {self.until}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Finding:
    """One result: what a check concluded about one location.

    ``fingerprint`` identifies the finding across runs without a line number
    or any plaintext, so moving code does not churn baselines and waivers.
    """

    check_id: str
    severity: Severity
    status: Status
    location: Location
    message: str
    fingerprint: str
    evidence: str = ""
    remediation: str = ""
    target: str = ""
    waiver: Waiver | None = None
    #: the check's rule that found it (``github-pat``), when the check has several; "" otherwise
    rule: str = ""

    def __post_init__(self) -> None:
        # the one place every result passes: no URL password, token parameter or registered
        # secret in a message or evidence reaches the terminal, a report, the baseline or the cache
        for name in ("message", "evidence"):
            text = getattr(self, name)
            clean = scrub(text)
            if clean is not text:
                object.__setattr__(self, name, clean)

    @property
    def check_and_rule(self) -> str:
        """``SA101 github-pat``: the check id and, when the check has several rules, the one that fired."""
        return f"{self.check_id} {self.rule}" if self.rule else self.check_id

    def sort_key(self) -> tuple:
        loc = self.location
        return (loc.path or "", loc.line or 0, loc.backend or "", loc.name or "",
                self.check_id, self.fingerprint)


# --- redaction and fingerprints ---------------------------------------------

#: Fixed key for hashing secrets into fingerprints.  The fingerprint must be
#: stable across machines and runs (baselines are committed), so the key is a
#: constant; it exists so that fingerprints are not plain SHA-256 digests that
#: could be looked up in precomputed tables of leaked keys.
_FINGERPRINT_KEY = b"secretaudit/fingerprint/v1"


def secret_digest(secret: str) -> str:
    """Salted, keyed hash of a secret value (hex), safe to store."""
    return hmac.new(_FINGERPRINT_KEY, secret.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def fingerprint(check_id: str, location_identity: str, digest: str = "", rule: str = "") -> str:
    """Stable id of a finding: check, rule, location identity and secret digest.

    ``location_identity`` is the file path (never the line) or the backend and
    secret name; ``digest`` is :func:`secret_digest` of the value (so cached
    results can be fingerprinted without the plaintext).  Two occurrences of
    the same secret in one file share a fingerprint, which is what a baseline
    wants.
    """
    material = "\x1f".join((check_id, rule, location_identity, digest))
    return hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def make_finding(spec: CheckSpec, location: Location, message: str, *, status: Status = Status.FAILED,
                 rule: str = "", digest: str = "", identity: str | None = None, severity: Severity | None = None,
                 evidence: str = "", target: str = "", waiver: Waiver | None = None,
                 shown_rule: str | None = None) -> Finding:
    """The one way a result becomes a :class:`Finding`: severity, remediation and fingerprint from ``spec``.

    Every producer (file scans, backends, the target runner, git history)
    comes through here, so a finding's identity is computed in one place and
    cannot drift between check families (baselines and waivers depend on it).
    The fingerprint's location identity is ``identity`` when given, else the
    location's path (files: never the line), else ``BACKEND:NAME``.  The
    finding shows ``rule`` as its rule id, or ``shown_rule`` when the
    fingerprint's rule material differs from it (history: ``SA101:github-pat``).
    """
    if identity is None:
        identity = location.path if location.path is not None else f"{location.backend}:{location.name}"
    return Finding(check_id=spec.id, severity=spec.severity if severity is None else severity, status=status,
                   location=location, message=message, fingerprint=fingerprint(spec.id, identity, digest, rule),
                   evidence=evidence, remediation=spec.remediation, target=target, waiver=waiver,
                   rule=rule if shown_rule is None else shown_rule)


def redact(secret: str, visible_prefix: str = "") -> str:
    """Evidence for a secret: its non-secret prefix and its length, never more.

    ``visible_prefix`` is shown only when the secret really starts with it and
    it leaves most of the secret hidden.
    """
    shown = ""
    if visible_prefix and secret.startswith(visible_prefix) and len(visible_prefix) * 2 <= len(secret):
        shown = visible_prefix
    return f"{shown}…(redacted, {len(secret)} chars)"
