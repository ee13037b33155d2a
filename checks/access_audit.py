"""SA510: secrets read by an identity outside their owner's policy (Vault/OpenBao audit logs).

The reads come from a Vault/OpenBao file audit device log, parsed by
:mod:`secretaudit.clients.vault_audit_log` (which never reads request or
response data, so no value can leak through it).

The config says which log belongs to which backend, and who may read each
owner's secrets::

    access_logs:
      vault: /var/log/openbao/audit.log      # backend name -> file (relative to the config)
    policy:
      owners:
        team-payments: {policies: [payments-app]}
        team-data: {policies: [etl], entities: [6f1c...-entity-id]}
        "*": {policies: [secretaudit-get]}    # allowed on every owner's secrets (optional)

A *read* is a successful ``read`` of a secret's value: ``MOUNT/data/PATH``
(KV v2), ``MOUNT/creds/ROLE`` and ``MOUNT/static-creds/ROLE`` (dynamic and
static database credentials).  Metadata reads, lists and denied attempts
are shown by ``secretaudit trail --vault-audit-log`` but are not reads.

SA510 takes each read of a secret of the audited folder (its ``owner`` from
KV ``custom_metadata``) and fails when the token held none of the owner's
allowed policies (``auth.policies``: token plus identity policies) and its
entity (``entity_id`` or ``display_name``) is not listed either.  One
finding per (secret, reader), naming both and the times, never a value.

Why the mapping lives in the config and not in Vault: Vault's ACLs say who
*can* read a path; the owner's policy says who *should*.  SA510 is the
difference, judged after the fact from evidence Vault itself wrote.

Secrets without an owner are not judged here (SA207 reports them); an owner
missing from ``policy.owners`` makes each read of its secrets an ``error``
(cannot judge, never a pass), as does an unreadable log.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from secretaudit.controls import NIST_AC_6, SOC2_CC6_1
from secretaudit.errors import ConfigError
from secretaudit.hookspec import hookimpl
from secretaudit.clients.vault_audit_log import VaultRead, iso, read_audit_log
from secretaudit.model import CheckSpec, SecretRecord, Severity, Status, Target
from secretaudit.redact import shown_name
from secretaudit.stash import BACKENDS, RECORDS, StashKey
from secretaudit.targets import TargetError, TargetFamily, TargetRun, Verdict

if TYPE_CHECKING:
    from secretaudit.backends import Backend
    from secretaudit.config import Config
    from secretaudit.registry import CheckRegistry
    from secretaudit.targets import FamilyRegistry

KIND = "access-log"
#: the audit logs of the run, by backend label (parsed once)
ACCESS_LOGS: StashKey[dict[str, Path]] = StashKey("access_logs")
SA510 = "SA510"
#: ``policy.owners.<owner>`` keys; ``"*"`` as an owner name applies to every owner.
OWNER_KEYS = ("policies", "entities")
EVERY_OWNER = "*"
#: How many read times a message lists before "and N more".
SHOWN_TIMES = 3

SPEC = CheckSpec(
    id=SA510, title="Secret read by an identity outside its owner's policy", severity=Severity.HIGH,
    description=("The Vault/OpenBao file audit log shows a secret's value read by a token that holds none "
                 "of the policies (and is none of the entities) its owner allows in policy.owners. Vault's "
                 "ACL let the read happen, so the ACL is wider than the owner intends, or a shared token "
                 "is in use. An unreadable log, or an owner missing from policy.owners, is an error."),
    remediation=("Narrow the reader's Vault policy so it no longer grants read on the secret (or add its "
                 "policy to policy.owners.<owner>.policies if the access is intended), then rotate the "
                 "secret if the read was not expected."),
    tags=("vault", "access", "logging"), controls=(NIST_AC_6, SOC2_CC6_1), applies_to=(KIND,))


# -- the config -------------------------------------------------------------------------------


@dataclass(frozen=True)
class OwnerRule:
    """Who may read one owner's secrets: Vault policy names, entity ids or display names."""

    policies: frozenset[str] = frozenset()
    entities: frozenset[str] = frozenset()

    def allows(self, read: "VaultRead") -> bool:
        return bool(self.policies & set(read.policies)) or bool(
            self.entities & {e for e in (read.entity_id, read.display_name) if e})

    def describe(self) -> str:
        parts = []
        if self.policies:
            parts.append(f"policies {', '.join(sorted(self.policies))}")
        if self.entities:
            parts.append(f"entities {', '.join(sorted(self.entities))}")
        return " or ".join(parts) or "no one"


def _names(value: Any, source: str, key: str, what: str) -> frozenset[str]:
    if isinstance(value, str):
        value = [value]
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(source, key, f"expected a list of {what}, e.g. [payments-app]")
    return frozenset(v.strip() for v in value)


def parse_owners(policy: Any, source: str = "config") -> dict[str, OwnerRule]:
    """``policy.owners`` validated: owner name -> :class:`OwnerRule` (empty when not set)."""
    owners = (policy or {}).get("owners") if isinstance(policy, dict) else None
    if owners is None:
        return {}
    example = "e.g. owners: {team-payments: {policies: [payments-app]}}"
    if not isinstance(owners, dict):
        raise ConfigError(source, "policy.owners", f"expected a mapping of owner to allowed readers, {example}")
    rules: dict[str, OwnerRule] = {}
    for owner, entry in owners.items():
        key = f"policy.owners.{owner}"
        if not isinstance(entry, dict):
            raise ConfigError(source, key, f"expected a mapping with {' and/or '.join(OWNER_KEYS)}, {example}")
        for name in entry:
            if name not in OWNER_KEYS:
                raise ConfigError(source, f"{key}.{name}", f"unknown key (allowed: {', '.join(OWNER_KEYS)})")
        rule = OwnerRule(policies=_names(entry.get("policies"), source, f"{key}.policies", "Vault policy names"),
                         entities=_names(entry.get("entities"), source, f"{key}.entities",
                                         "entity ids or token display names"))
        if not rule.policies and not rule.entities:
            raise ConfigError(source, key, "allows no one; list the Vault policies (or entities) that may read "
                                           "this owner's secrets")
        rules[str(owner)] = rule
    return rules


def _vault_backend_names(config: "Config") -> list[str]:
    return [str(entry.get("name") or entry.get("type")) for entry in config.settings.get("backends") or ()
            if isinstance(entry, dict) and entry.get("type") == "vault"]


def parse_access_logs(config: "Config") -> dict[str, Path]:
    """``access_logs`` validated against the configured vault backends: name -> log file."""
    source = config.source or "config"
    logs = config.settings.get("access_logs") or {}
    names = _vault_backend_names(config)
    result: dict[str, Path] = {}
    for name, value in logs.items():
        key = f"access_logs.{name}"
        name = str(name).removeprefix("vault:")
        if name not in names:
            known = ", ".join(names) or "none configured"
            raise ConfigError(source, key, f"no vault backend named {shown_name(name)} (vault backends: {known}); key "
                                           "access_logs by the backend's name")
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(source, key, "expected the path of the backend's file audit device log "
                                           "(its file_path option), e.g. /var/log/openbao/audit.log")
        path = Path(value.strip()).expanduser()
        result[name] = path if path.is_absolute() or not config.source else config.rootdir / path
    if result and not parse_owners(config.settings.get("policy"), source):
        raise ConfigError(source, "policy.owners", "missing: access_logs is set, so SA510 needs the Vault "
                                                   "policies allowed to read each owner's secrets, e.g. policy: "
                                                   "{owners: {team-payments: {policies: [payments-app]}}}")
    return result


# -- judging one backend ---------------------------------------------------------------------------


def _record_key(record: SecretRecord) -> str | None:
    """The audit-log path a read of this record's value has (KV v2 and database static roles)."""
    mount, _, rest = record.path.partition("/")
    if record.name.startswith("token:") or not rest:
        return None
    if rest.startswith("static-roles/"):
        return f"{mount}/static-creds/{rest.removeprefix('static-roles/')}"
    return f"{mount}/data/{rest}"


@dataclass
class SecretReads:
    """One secret of the log, with the reads outside its owner's policy (by reader) or its unmapped owner.

    A log in which no owned secret was read is judged as one unit without
    reads: it was read and passes, so an audit of it is not "nothing checked".
    """

    name: str = ""
    record: SecretRecord | None = None
    rule: OwnerRule | None = None
    violations: list[tuple[str, list[VaultRead]]] = field(default_factory=list)
    unmapped: tuple[str, int] | None = None


class AccessLogs(TargetFamily[SecretReads]):
    """SA510: one target per vault backend with an ``access_logs`` entry; its units are the secrets read."""

    kind = KIND
    mode = "audit"
    specs = (SPEC,)
    noun = "secrets"

    def targets(self, config: "Config") -> list[Target]:
        if not config.is_enabled(SA510):
            return []
        logs: dict[str, Path] = config.stash.get(ACCESS_LOGS) or parse_access_logs(config)
        return [Target(kind=KIND, name=f"{backend.label}:access-log", path=str(index))
                for index, backend in enumerate(config.stash.get(BACKENDS) or ())
                if backend.type == "vault" and backend.name in logs]

    def units(self, run: TargetRun) -> list[SecretReads]:
        from secretaudit.backends import BackendError

        config = run.config
        backend = config.stash[BACKENDS][int(run.target.path)]
        logs: dict[str, Path] = config.stash.get(ACCESS_LOGS) or parse_access_logs(config)
        log_path = logs[backend.name]
        scrub = getattr(backend, "_scrub", lambda text: text)

        def unreadable(message: str) -> TargetError:
            return TargetError(Verdict(SA510, backend.label, "access-log", scrub(message), Status.ERROR,
                                       "unreadable"))

        where = f"access_logs.{backend.name} in {config.source or 'the config'}"
        try:
            log = read_audit_log(log_path)
        except FileNotFoundError:
            raise unreadable(f"audit log {log_path} does not exist; point {where} at the file audit device's "
                             "file_path (bao audit list -detailed shows it)") from None
        except IsADirectoryError:
            raise unreadable(f"audit log {log_path} is a directory; point {where} at the log file itself") from None
        except OSError as exc:
            raise unreadable(f"cannot read audit log {log_path} ({exc.strerror or exc}); give secretaudit read "
                             f"access to it or fix {where}") from None
        for number, problem in log.bad_lines:
            run.warnings.append(f"{log_path}:{number}: {problem}, skipped")
        try:
            records = _records(backend, config)
        except BackendError as exc:
            raise unreadable(f"could not list secrets to learn their owners: {exc}") from None
        return _secrets_read(log.reads, records, parse_owners(config.settings.get("policy"), config.source or "config"))

    def judge(self, run: TargetRun, unit: SecretReads) -> list[Verdict]:
        backend = run.config.stash[BACKENDS][int(run.target.path)]
        scrub = getattr(backend, "_scrub", lambda text: text)
        label, name = backend.label, unit.name
        verdicts = []
        for reader_key, reads in unit.violations:
            assert unit.record is not None and unit.rule is not None
            times = ", ".join(iso(r.time) for r in reads[-SHOWN_TIMES:])
            more = f" (and {len(reads) - SHOWN_TIMES} earlier)" if len(reads) > SHOWN_TIMES else ""
            count = "once" if len(reads) == 1 else f"{len(reads)} times"
            verdicts.append(Verdict(SA510, label, name, scrub(
                f"{label}: '{name}' (owner {unit.record.owner}) was read {count} by {reads[-1].reader}, outside the "
                f"owner's policy ({unit.rule.describe()}); at {times}{more}"), rule=f"reader\x1f{reader_key}"))
        if unit.unmapped is not None:
            owner, count = unit.unmapped
            verdicts.append(Verdict(SA510, label, name, scrub(
                f"{label}: '{name}' was read {count} time(s) but its owner {owner!r} has no entry in policy.owners; "
                f"add policy.owners.{owner}.policies to judge who may read it"), Status.ERROR, "unmapped-owner"))
        return verdicts


def _records(backend: "Backend", config: "Config") -> list[SecretRecord]:
    """The backend's records: those the backend target already listed, else list them now."""
    listed = [r for r in config.stash.get(RECORDS) or () if r.backend == backend.label]
    return listed or list(backend.records())


def _secrets_read(reads: list[VaultRead], records: list[SecretRecord],
                  owners: dict[str, OwnerRule]) -> list[SecretReads]:
    """Every owned secret the log shows read, with what is wrong with its reads (the log alone if none)."""
    by_path = {key: record for record in records if (key := _record_key(record))}
    everyone = owners.get(EVERY_OWNER, OwnerRule())
    violations: dict[tuple[str, str], list[VaultRead]] = defaultdict(list)
    unmapped: dict[str, tuple[str, int]] = {}
    read_secrets: set[str] = set()
    for read in reads:
        record = by_path.get(read.path)
        if record is None or read.outcome != "ok" or not record.owner:
            continue
        read_secrets.add(record.name)
        rule = owners.get(record.owner)
        if rule is None:
            owner, count = unmapped.get(record.name, (record.owner, 0))
            unmapped[record.name] = (owner, count + 1)
            continue
        if rule.allows(read) or everyone.allows(read):
            continue
        violations[(record.name, read.reader_key)].append(read)
    if not read_secrets:
        return [SecretReads()]
    by_name: dict[str, SecretRecord] = {}
    for record in records:
        by_name.setdefault(record.name, record)
    by_secret: dict[str, list[tuple[str, list[VaultRead]]]] = defaultdict(list)
    for (name, reader_key), found in sorted(violations.items(), key=lambda item: item[0]):
        by_secret[name].append((reader_key, found))
    return [SecretReads(name, by_name[name], owners.get(by_name[name].owner or ""), by_secret.get(name, []),
                        unmapped.get(name)) for name in sorted(read_secrets)]


# -- hooks ----------------------------------------------------------------------------------------


@hookimpl
def secretaudit_register_checks(registry: "CheckRegistry") -> None:
    registry.add(SPEC)


@hookimpl
def secretaudit_configure(config: "Config") -> None:
    """Validate policy.owners and access_logs before anything runs (config errors exit 4)."""
    parse_owners(config.settings.get("policy"), config.source or "config")
    config.stash[ACCESS_LOGS] = parse_access_logs(config)


@hookimpl
def secretaudit_register_families(registry: "FamilyRegistry") -> None:
    registry.add(AccessLogs())
