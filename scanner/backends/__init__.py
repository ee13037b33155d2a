"""Secret backends: where secrets live, audited by their metadata.

A backend type (``vault``, ``aws-secrets-manager``, ``generic``) is a plugin
registered through ``secretaudit_register_backends``: a factory that builds
a :class:`Backend` from one entry of the config's ``backends`` list.  A
backend lists :class:`~secretaudit.model.SecretRecord` objects (metadata, never
values) and reports its own :class:`BackendStatus`.

This module is also the built-in ``backends`` plugin that runs backend
targets: it lists each backend's records, hands every record to the
``secretaudit_check_record`` hook, and turns a backend failure into an
``error`` result (check SA200) for that backend while the others go on.
Records listed before a failure are still checked: partial results are kept
and marked.
"""

from __future__ import annotations

import abc
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from secretaudit.controls import NIST_IA_5
from secretaudit.declared import backend_key, declaration
from secretaudit.errors import ConfigError
from secretaudit.hookspec import hookimpl
from secretaudit.model import (CheckSpec, Finding, Issue, Location, Severity, SecretRecord, Status, Target,
                               make_finding)
from secretaudit.redact import scrub, shown_name
from secretaudit.stash import AUDIT_BACKENDS, BACKENDS, BACKEND_STATS, RECORDS, SHARD, StashKey

if TYPE_CHECKING:
    from secretaudit.config import Config
    from secretaudit.declared import Declaration
    from secretaudit.registry import CheckRegistry
    from secretaudit.session import Session

BACKEND_ERROR_CHECK = "SA200"
#: the run's backend types (built-in and plugins), registered once
BACKEND_REGISTRY: StashKey["BackendRegistry"] = StashKey("backend_registry")
#: each backend's records as listed this run, by label (see :func:`listed`)
LISTINGS: StashKey[dict[str, list[SecretRecord]]] = StashKey("backend_listings")
_LISTINGS_LOCK = threading.Lock()

SPEC = CheckSpec(
    id=BACKEND_ERROR_CHECK,
    title="Secret backend could be audited",
    severity=Severity.HIGH,
    description=("The backend answered and every secret's metadata could be read. An unreachable, "
                 "timing-out, throttling or access-denying backend is an error result: its secrets "
                 "went unaudited, which is never a pass."),
    remediation=("Fix what the message names: the URL or network path, the credentials, or the missing "
                 "Vault capability / IAM action (secretaudit needs only list and read-metadata rights)."),
    tags=("backend",),
    controls=(NIST_IA_5,),
    applies_to=("backend",),
)


class BackendError(Exception):
    """A backend could not be audited; the message is one line naming cause and fix.

    ``reason`` is one of ``unreachable``, ``timeout``, ``denied``,
    ``throttled``, ``config``, ``error``.  Messages never hold a secret value
    or a token.
    """

    def __init__(self, message: str, reason: str = "error") -> None:
        super().__init__(scrub(message))  # the one redaction path: no URL password, token or secret
        self.reason = reason


@dataclass
class BackendStatus:
    """What ``secretaudit status`` shows for one backend."""

    backend: str
    type: str
    reachable: bool
    identity: str = ""
    auth_method: str = ""
    latency_ms: float | None = None
    warnings: list[str] = field(default_factory=list)
    error: str | None = None


class Backend(abc.ABC):
    """One configured backend instance (``vault:prod``)."""

    #: backend type name, as in the config (``vault``)
    type: str = ""

    def __init__(self, name: str, settings: dict[str, Any], config: "Config") -> None:
        self.name = name
        self.settings = settings
        self.config = config
        #: API requests made so far (the benchmark reports calls per secret)
        self.api_calls = 0
        #: the config key that declares this backend (``("backends", 0)``), set by the registry
        self.key: tuple[str | int, ...] = ()

    @property
    def label(self) -> str:
        """How findings name this backend: ``TYPE:NAME``."""
        return f"{self.type}:{self.name}"

    def declared(self, name: str | None = None) -> "Declaration | None":
        """Where the secret ``name`` (None: the backend itself) is declared: file and line, for its findings.

        Here the backend's entry in the config file; a backend whose secrets
        are listed in a file of their own (the inventory) names their lines.
        """
        return declaration(self.config, self.key)

    @property
    def prefixes(self) -> tuple[str, ...]:
        """The distinct ways a user may name this backend before ``:NAME``: label, name, type.

        Distinct because an openclaw.yaml's backend is named after its type
        (``vault:vault``): counting ``vault`` once as the name and once as
        the type made ``vault:github`` ambiguous with itself.
        """
        return tuple(dict.fromkeys((self.label, self.name, self.type)))

    @abc.abstractmethod
    def records(self) -> Iterator[SecretRecord]:
        """Every secret's metadata; raise :class:`BackendError` on failure."""

    @abc.abstractmethod
    def status(self) -> BackendStatus:
        """Reachability, identity, auth method and latency; never raises."""

    def fetch(self, record: SecretRecord) -> dict[str, str]:
        """The secret's fields, plaintext, for a validation or ``get`` only.

        The caller holds them for one call and drops them; they must never be
        logged, stored or put in a message.  Backends that hold no values
        (an inventory file) raise :class:`BackendError` with reason ``config``.
        """
        raise BackendError(f"{self.label} holds metadata only; its secrets cannot be fetched for validation",
                           "config")

    @property
    def holds_values(self) -> bool:
        """Whether the backend can hand out values (an inventory file holds metadata only)."""
        return type(self).fetch is not Backend.fetch

    def rotates_itself(self, record: SecretRecord) -> bool:
        """Whether the backend generates this secret's value itself (a Vault database static role), so ``rotate``
        may ask it to whatever kind the metadata gives; otherwise only kinds secretaudit knows how to
        regenerate are rotated."""
        return False


BackendFactory = Callable[[str, dict[str, Any], "Config"], Backend]


class BackendRegistry:
    """Backend types by name, filled through ``secretaudit_register_backends``."""

    def __init__(self) -> None:
        self._factories: dict[str, BackendFactory] = {}

    def add(self, type_name: str, factory: BackendFactory) -> None:
        if type_name in self._factories:
            raise ValueError(f"backend type {type_name!r} is registered twice")
        self._factories[type_name] = factory

    def names(self) -> list[str]:
        return sorted(self._factories)

    def create(self, entry: dict[str, Any], config: "Config", index: int) -> Backend:
        source = config.source or "config"
        type_name = entry.get("type")
        if type_name not in self._factories:
            raise ConfigError(source, f"backends[{index}].type",
                              f"unknown backend type {shown_name(type_name)} (allowed: {', '.join(self.names())})")
        name = str(entry.get("name") or type_name)
        settings = {k: v for k, v in entry.items() if k not in ("type", "name")}
        backend = self._factories[type_name](name, settings, config)
        backend.key = backend_key(config, index)
        return backend


# -- kinds --------------------------------------------------------------------------------

KINDS = ("github-token", "aws-access-key", "database-password", "vault-token", "generic")

#: Name patterns that tell a secret's kind when no ``kind`` metadata says so,
#: tried in order on the lower-cased name with separators normalised to ``-``.
_KIND_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("github-token", re.compile(r"(^|-)(github|gh|ghe)(-[a-z]+)*-(token|pat|personal-access-token)|(^|-)github($|-)")),
    ("aws-access-key", re.compile(r"(^|-)aws(-[a-z]+)*-(access-key|key|credentials?|secret-access-key)|"
                                  r"(^|-)(iam|aws)($|-)|access-key-id")),
    ("database-password", re.compile(r"(^|-)(db|database|mysql|mariadb|postgres|postgresql|pg|rds|mongo|"
                                     r"mongodb|redis)(-[a-z]+)*-(password|pass|pwd|credentials?)|"
                                     r"(^|-)(database|mysql|postgres|postgresql|mariadb|rds)($|-)")),
    ("vault-token", re.compile(r"(^|-)(vault|bao|openbao)(-[a-z]+)*-token|(^|-)vault($|-)")),
)

#: Field names (the standard's KV layout) that tell the kind of a secret.
_FIELD_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("aws-access-key", ("access_key_id", "secret_access_key")),
    ("github-token", ("personal_access_token", "enterprise_token", "github_token")),
    ("database-password", ("mysql_password", "postgres_password", "db_password", "database_password")),
    ("vault-token", ("vault_token",)),
)


def infer_kind(name: str, declared: str | None = None, fields: tuple[str, ...] = ()) -> str:
    """A secret's kind: declared metadata, else its field names, else its name."""
    if declared:
        normalized = declared.strip().lower().replace("_", "-")
        return normalized if normalized in KINDS else "generic"
    for kind, names in _FIELD_KINDS:
        if any(f in names for f in fields):
            return kind
    normalized = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    for kind, pattern in _KIND_PATTERNS:
        if pattern.search(normalized):
            return kind
    return "generic"


def parse_date(value: Any) -> datetime | None:
    """ISO dates and datetimes (and datetime objects) to aware UTC; None for empty."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    text = str(value).strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO date (e.g. 2026-12-31 or 2026-12-31T00:00:00Z)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


# -- running backend targets ----------------------------------------------------------------


def split_name(backends: "Iterable[Backend]", name: str) -> "tuple[list[Backend], str]":
    """``BACKEND:NAME`` (``vault:prod:x``, ``prod:x`` or ``vault:x``) to the backends it names and NAME.

    The longest matching prefix wins (``vault:prod:x`` names ``vault:prod``
    even where a backend is called ``vault``); each backend counts once.
    Without a known prefix, every backend and ``name`` as it is.  ``get``,
    ``rotate`` and ``validate`` all resolve names here.
    """
    backends = list(backends)
    candidates: list[tuple[int, Backend, str]] = []
    for backend in backends:
        for prefix in backend.prefixes:
            if name.startswith(prefix + ":") and len(name) > len(prefix) + 1:
                candidates.append((len(prefix), backend, name[len(prefix) + 1:]))
    if not candidates:
        return backends, name
    longest = max(length for length, _, _ in candidates)
    chosen = [(backend, rest) for length, backend, rest in candidates if length == longest]
    return list(dict.fromkeys(backend for backend, _ in chosen)), chosen[0][1]


def listed(config: "Config", backend: Backend) -> list[SecretRecord]:
    """Every record of ``backend``, listed once per run whichever asks first: a check family judging the
    backends' secrets (``scopes.from_backends``) or the audit of the backend itself, which reuses it.

    Raises :class:`BackendError` (not kept: the next caller meets the same error).
    """
    with _LISTINGS_LOCK:
        records = config.stash.setdefault(LISTINGS, {}).get(backend.label)
    if records is None:
        records = list(backend.records())
        with _LISTINGS_LOCK:
            config.stash[LISTINGS][backend.label] = records
    return records


def make_backends(config: "Config") -> list[Backend]:
    """Every configured backend, built by its type's factory (config errors raise)."""
    registry = config.stash.get(BACKEND_REGISTRY)
    if registry is None:
        registry = BackendRegistry()
        config.hook.secretaudit_register_backends(registry=registry)
        config.stash[BACKEND_REGISTRY] = registry
    return [registry.create(entry, config, i) for i, entry in enumerate(config.settings["backends"])]


def issue_findings(results: "Iterable[Iterable[Issue] | None]", config: "Config", target: str,
                   location: Callable[["Issue"], Location], identity: Callable[["Issue"], tuple[str, str]]
                   ) -> list[Finding]:
    """Failed findings from what record or config checks returned (enabled checks only).

    ``identity(issue)`` gives the fingerprint's location identity and rule.
    """
    assert config.checks is not None
    findings = []
    for issues in results:
        for issue in issues or ():
            if not config.is_enabled(issue.check_id) or issue.check_id not in config.checks:
                continue
            where, rule = identity(issue)
            # the rule (a config key) is fingerprint material, not a rule of the check to show
            findings.append(make_finding(config.checks.get(issue.check_id), location(issue), issue.message,
                                         identity=where, rule=rule, shown_rule="", severity=issue.severity,
                                         evidence=issue.evidence, target=target))
    return findings


def backend_location(backend: str, name: str, declared: "Declaration | None") -> Location:
    """A finding's location on a backend secret (``*``: the backend), with where it is declared."""
    path, line = declared if declared is not None else (None, None)
    return Location(backend=backend, name=name, declared_in=path, declared_line=line)


def record_findings(record: SecretRecord, config: "Config", target: str,
                    declared: "Declaration | None" = None) -> list[Finding]:
    """Run every record check on one record; findings, failures only."""
    location = backend_location(record.backend, record.name, declared)
    return issue_findings(config.hook.secretaudit_check_record(record=record, config=config), config, target,
                          lambda issue: location, lambda issue: (f"{record.backend}:{record.name}", ""))


def backend_error(backend: str, message: str, target: str, audited: int, config: "Config",
                  declared: "Declaration | None" = None) -> Finding:
    note = f" ({audited} secrets audited before the failure; results are partial)" if audited else ""
    return make_finding(SPEC, backend_location(backend, "*", declared), message + note, status=Status.ERROR,
                        identity=backend, target=target)


@hookimpl
def secretaudit_register_checks(registry: "CheckRegistry") -> None:
    registry.add(SPEC)


@hookimpl
def secretaudit_collect_targets(config: "Config") -> list[Target] | None:
    if not config.stash.get(AUDIT_BACKENDS):
        return None
    from secretaudit.shard import in_shard
    from secretaudit.shownpaths import shown_path

    shard = config.stash.get(SHARD)
    shown = shown_path(config.source, config) if config.source else ""  # relative: reports hold no machine paths
    targets = [Target(kind="config", name=shown, path=config.source)] \
        if config.source and in_shard(shown, shard) else []
    return targets + [Target(kind="backend", name=backend.label, path=str(index))
                      for index, backend in enumerate(config.stash[BACKENDS]) if in_shard(backend.label, shard)]


def config_findings(config: "Config", target: str) -> list[Finding]:
    """SA5xx findings on the config file itself, located at ``target``: its path relative to the scan root."""
    assert config.source is not None
    return issue_findings(config.hook.secretaudit_check_config(config=config), config, target,
                          lambda issue: Location(path=target, line=issue.line),
                          lambda issue: (target, issue.key))


@hookimpl
def secretaudit_run_target(session: "Session", target: Target) -> bool | None:
    if target.kind == "config":
        findings = config_findings(session.config, target.name)
        session.count_scanned(0, failed=bool(findings))
        for finding in findings:
            session.add_finding(finding)
        session.collected(target, 1)
        return True
    if target.kind != "backend":
        return None
    config = session.config
    backend: Backend = config.stash[BACKENDS][int(target.path)]
    records: list[SecretRecord] = []
    started = time.monotonic()
    from secretaudit.listprogress import listing_progress

    known = config.stash.get(LISTINGS, {}).get(backend.label)  # listed already by a family that needed it
    try:
        with listing_progress(config, backend.label) as progress:
            for record in backend.records() if known is None else known:
                records.append(record)
                findings = record_findings(record, config, target.name, backend.declared(record.name))
                session.count_scanned(0, failed=any(f.status is Status.FAILED for f in findings))
                for finding in findings:
                    session.add_finding(finding)
                progress.tick(len(records))
    except BackendError as exc:
        session.add_finding(backend_error(backend.label, str(exc), target.name, len(records), config,
                                          backend.declared()))
    config.stash.setdefault(BACKEND_STATS, {})[backend.label] = {
        "records": len(records), "api_calls": backend.api_calls, "seconds": time.monotonic() - started}
    config.stash.setdefault(RECORDS, []).extend(records)
    session.collected(target, len(records))
    return True
