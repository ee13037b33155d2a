"""SA306: database accounts holding grants beyond the policy, and database logins.

Configured in the config file::

    scopes:
      databases:
        - name: reporting                 # how findings name it (default: ENGINE-HOST-PORT)
          engine: mysql                   # mysql (also MariaDB) or postgres
          host: 127.0.0.1
          port: 3306                      # default 3306 / 5432
          user: auditor                   # who logs in to read the grants
          password: ${REPORTING_DB_PASSWORD}
          account: app                    # the account inspected (default: user); MySQL: NAME or NAME@HOST
          database: app                   # PostgreSQL: the database whose tables are inspected (default postgres)
    policy:
      scopes:
        database: [SELECT, INSERT, UPDATE]   # allowed; anything beyond is SA306

One ``database-grants`` target per entry, run during ``secretaudit audit``:

* MySQL/MariaDB: ``SHOW GRANTS`` for the account (and, recursively, for the
  roles granted to it).  Every privilege outside the policy (``ALL
  PRIVILEGES``, ``DELETE``, ``DROP``, ``GRANT OPTION``, ``SUPER``, ``FILE``,
  ``CREATE USER``...) is one SA306 finding naming the privilege and the
  object it applies to (``*.*``, ``app.*``, ``app.orders``).
* PostgreSQL: the role attributes in ``pg_roles`` (``SUPERUSER``,
  ``CREATEROLE``, ``CREATEDB``, ``BYPASSRLS``, ``REPLICATION``) and, for every
  table of the database, ``has_table_privilege`` (which counts grants to
  PUBLIC and to inherited roles), ``... WITH GRANT OPTION`` and ownership.

Without a ``policy.scopes.database`` the allowed set is the ordinary data
privileges (SELECT, INSERT, UPDATE, DELETE, EXECUTE): administration is
still flagged.  An account that cannot be inspected (server down, login
refused, no right to read the grants) is an SA306 ``error``, never a pass.

``scopes: {databases: {from_backends: true}}`` (or ``scopes.from_backends``)
audits the accounts the backends hold instead of a list
(:class:`DatabaseBackendAccounts`): each ``database-password`` secret is
fetched (a line in the access trail), its own login reads its own grants
(``SHOW GRANTS FOR CURRENT_USER()``, PostgreSQL's role privileges), and the
findings sit at the secret.

The same module validates ``database-password`` credentials for
``secretaudit validate``: a real login, closed at once.  Passwords never
appear in a message: driver errors are reduced to their code and text, and
scrubbed of the password.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from secretaudit.checks.from_backends import BackendSecrets, ReadError, read
from secretaudit.clients.database import (DEFAULT_PORTS, ENGINES, DatabaseError, connect_mysql, connect_postgres,
                                          hostport, mysql_error, parse_credential, postgres_error, scrub_db_message)
from secretaudit.controls import NIST_AC_6, SOC2_CC6_1
from secretaudit.errors import ConfigError
from secretaudit.hookspec import hookimpl
from secretaudit.model import CheckSpec, Severity, Status, Target, Validation
from secretaudit.redact import shown_name
from secretaudit.stash import StashKey
from secretaudit.targets import TargetFamily, TargetRun, Verdict

if TYPE_CHECKING:
    from secretaudit.config import Config
    from secretaudit.model import SecretRecord
    from secretaudit.registry import CheckRegistry
    from secretaudit.targets import FamilyRegistry

KIND = "database-grants"
#: the checked ``scopes.databases`` entries of the run
DATABASE_ENTRIES: StashKey[list["DatabaseEntry"]] = StashKey("database_entries")
#: Targets of the database accounts kept in a backend (``scopes.databases: {from_backends: true}``).
BACKEND_KIND = "database-grants-backend"
SA306 = "SA306"
ENTRY_KEYS = ("name", "engine", "host", "port", "user", "password", "account", "database", "timeout")

SPEC = CheckSpec(
    id=SA306, title="Database account holds grants beyond the policy", severity=Severity.HIGH,
    description=("A configured MySQL/MariaDB or PostgreSQL account holds privileges the policy does not allow "
                 "(policy.scopes.database): DELETE, DROP, ALL PRIVILEGES, GRANT OPTION, global administration "
                 "(SUPER, FILE, CREATE USER...), table ownership or role attributes such as SUPERUSER and "
                 "CREATEROLE. An account whose grants cannot be read is an error, never a pass."),
    remediation=("REVOKE the named privilege (MySQL: REVOKE DELETE ON app.* FROM 'app'@'%'; PostgreSQL: REVOKE "
                 "DELETE ON app.orders FROM app; ALTER ROLE app NOSUPERUSER NOCREATEROLE), or give the task a "
                 "separate short-lived account; widen policy.scopes.database only if the task needs it."),
    tags=("scopes", "database"), controls=(NIST_AC_6, SOC2_CC6_1), applies_to=(KIND, BACKEND_KIND))

#: allowed when the policy says nothing
DEFAULT_ALLOWED = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "EXECUTE"})
#: never a finding: MySQL's "no privileges" marker
IGNORED = frozenset({"USAGE"})
#: global or administrative privileges: critical rather than high
CRITICAL = frozenset({"ALL PRIVILEGES", "SUPER", "SUPERUSER", "FILE", "CREATE USER", "GRANT OPTION", "PROXY",
                      "SHUTDOWN", "BYPASSRLS", "CREATEROLE", "REPLICATION", "BINLOG ADMIN", "CONNECTION ADMIN",
                      "READ_ONLY ADMIN", "SET USER", "SYSTEM_USER", "RELOAD"})
#: the object of a PostgreSQL role attribute (SUPERUSER...): the role itself
ROLE_ATTRIBUTE = "(role attribute)"
PG_TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
PG_ROLE_ATTRIBUTES = (("rolsuper", "SUPERUSER"), ("rolcreaterole", "CREATEROLE"), ("rolcreatedb", "CREATEDB"),
                      ("rolbypassrls", "BYPASSRLS"), ("rolreplication", "REPLICATION"))


@dataclass(frozen=True)
class Grant:
    privilege: str
    object: str
    via: str = ""  # the role it comes from, if not granted directly


@dataclass
class DatabaseEntry:
    index: int
    name: str
    engine: str
    host: str
    port: int
    user: str
    password: str
    account: str
    database: str
    timeout: float

    @property
    def label(self) -> str:
        return f"database:{self.name}"

    @property
    def where(self) -> str:
        return f"{self.engine} at {hostport(self.host, self.port)}"


# -- configuration ------------------------------------------------------------------------


def parse_entries(config: "Config") -> list[DatabaseEntry]:
    """The ``scopes.databases`` entries, checked; a bad entry is a :class:`ConfigError` naming its key."""
    source = config.source or "config"
    raw = (config.settings.get("scopes") or {}).get("databases") or []
    if isinstance(raw, dict):
        return []  # {from_backends: true}: the accounts are the backends' (checked by checks.from_backends)
    if not isinstance(raw, list):
        raise ConfigError(source, "scopes.databases", "expected a list of {name, engine, host, port, user, "
                                                      "password, account, database}, or {from_backends: true}")
    from secretaudit.config import parse_timeout

    default_timeout = float(config.settings.get("timeout") or 30)
    entries, names = [], set()
    for index, item in enumerate(raw):
        key = f"scopes.databases[{index}]"
        if not isinstance(item, dict):
            raise ConfigError(source, key, "expected a mapping {name, engine, host, port, user, password...}")
        unknown = sorted(set(item) - set(ENTRY_KEYS))
        if unknown:
            raise ConfigError(source, f"{key}.{unknown[0]}", f"unknown key (allowed: {', '.join(ENTRY_KEYS)})")
        engine = ENGINES.get(str(item.get("engine", "")).strip().lower())
        if engine is None:
            raise ConfigError(source, f"{key}.engine", "expected mysql (also for MariaDB) or postgres")
        for required in ("host", "user"):
            if not item.get(required):
                raise ConfigError(source, f"{key}.{required}", "required")
        try:
            port = int(item.get("port") or DEFAULT_PORTS[engine])
        except (TypeError, ValueError):
            raise ConfigError(source, f"{key}.port", "expected a port number") from None
        try:
            timeout = parse_timeout(item["timeout"]) if "timeout" in item else default_timeout
        except ValueError as exc:
            raise ConfigError(source, f"{key}.timeout", str(exc)) from None
        host = str(item["host"])
        name = str(item.get("name") or f"{engine}-{host}-{port}")
        if name in names:
            raise ConfigError(source, f"{key}.name", f"duplicate database name {shown_name(name)}")
        names.add(name)
        entries.append(DatabaseEntry(
            index=index, name=name, engine=engine, host=host, port=port, user=str(item["user"]),
            password="" if item.get("password") is None else str(item["password"]),
            account=str(item.get("account") or item["user"]), database=str(item.get("database") or "postgres"),
            timeout=timeout))
    return entries


def normalize(privilege: str) -> str:
    text = " ".join(str(privilege).replace("_", " ").split()).upper()
    return {"ALL": "ALL PRIVILEGES", "NOSUPERUSER": "", "SUPER USER": "SUPERUSER"}.get(text, text)


def allowed_privileges(config: "Config", entry: DatabaseEntry) -> frozenset[str]:
    """``policy.scopes.database``: a list, or a mapping by entry name (``default``/``*`` as fallback)."""
    policy = (config.settings.get("policy") or {}).get("scopes") or {}
    allowed = policy.get("database", policy.get("databases"))
    if isinstance(allowed, dict):
        allowed = allowed.get(entry.name, allowed.get("default", allowed.get("*")))
    if allowed is None:
        return DEFAULT_ALLOWED
    if isinstance(allowed, str):
        allowed = [part for part in re.split(r"[,\s]+", allowed) if part]
    return frozenset(normalize(p) for p in allowed)


# -- MySQL / MariaDB ----------------------------------------------------------------------

_IDENT = r"(?:`(?:[^`]|``)*`|'(?:[^']|'')*'|\*|[^\s.`']+)"
_GRANT_ON = re.compile(rf"^GRANT\s+(?P<privs>.+?)\s+ON\s+(?P<obj>(?:(?:FUNCTION|PROCEDURE|PACKAGE BODY|PACKAGE)\s+)?"
                       rf"{_IDENT}(?:\.{_IDENT})?)\s+TO\s+(?P<rest>.+)$", re.IGNORECASE | re.DOTALL)
_GRANT_ROLE = re.compile(r"^GRANT\s+(?P<roles>.+?)\s+TO\s+(?P<rest>.+)$", re.IGNORECASE | re.DOTALL)
_NAME = re.compile(r"`((?:[^`]|``)*)`|'((?:[^']|'')*)'|([^\s,@`']+)")


def _unquote(identifier: str) -> str:
    identifier = identifier.strip()
    if len(identifier) >= 2 and identifier[0] == identifier[-1] and identifier[0] in "`'\"":
        q = identifier[0]
        return identifier[1:-1].replace(q * 2, q)
    return identifier


def _split_privileges(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current.strip())
    return parts


def _object_name(text: str) -> str:
    prefix = ""
    match = re.match(r"(?i)(FUNCTION|PROCEDURE|PACKAGE BODY|PACKAGE)\s+", text)
    if match:
        prefix, text = match.group(1).upper() + " ", text[match.end():]
    parts = re.findall(_IDENT, text)
    return prefix + ".".join(_unquote(p) for p in parts)


def parse_mysql_grants(lines: list[str]) -> tuple[list[Grant], list[tuple[str, str]]]:
    """Privileges and granted roles ``(name, host)`` from ``SHOW GRANTS`` lines."""
    grants: list[Grant] = []
    roles: list[tuple[str, str]] = []
    for line in lines:
        line = line.strip().rstrip(";")
        match = _GRANT_ON.match(line)
        if match:
            obj = _object_name(match.group("obj"))
            for part in _split_privileges(match.group("privs")):
                column = re.match(r"^(?P<priv>[^(]+?)\s*\((?P<cols>[^)]*)\)$", part)
                if column:
                    cols = ", ".join(_unquote(c) for c in column.group("cols").split(","))
                    grants.append(Grant(normalize(column.group("priv")), f"{obj} ({cols})"))
                else:
                    grants.append(Grant(normalize(part), obj))
            if re.search(r"\bWITH\b.*\bGRANT\s+OPTION\b", match.group("rest"), re.IGNORECASE):
                grants.append(Grant("GRANT OPTION", obj))
            continue
        match = _GRANT_ROLE.match(line)
        if match and " ON " not in match.group("roles").upper():
            for role in _split_privileges(match.group("roles")):
                names = [next(g for g in m.groups() if g is not None) for m in _NAME.finditer(role)]
                if names:
                    roles.append((names[0], names[1] if "@" in role and len(names) > 1 else ""))
    return grants, roles


def _account_spec(account: str) -> tuple[str, str | None]:
    """``name@host`` (quotes optional) -> (name, host); a bare name has no host yet."""
    names = [next(g for g in m.groups() if g is not None) for m in _NAME.finditer(account)]
    if "@" in account and len(names) >= 2:
        return names[0], names[1]
    return (names[0] if names else account), None


def mysql_grants(entry: DatabaseEntry) -> list[Grant]:
    conn = connect_mysql(entry.host, entry.port, entry.user, entry.password, entry.timeout)
    try:
        with conn.cursor() as cur:
            name, host = _account_spec(entry.account)
            subjects: list[tuple[str, str | None, str]] = []
            if host is None and name == entry.user:
                subjects.append((name, None, ""))  # CURRENT_USER(): the account we logged in as
            elif host is None:
                try:
                    cur.execute("SELECT DISTINCT Host FROM mysql.user WHERE User = %s", (name,))
                    hosts = [str(row[0]) for row in cur.fetchall()]
                except Exception:  # noqa: BLE001 - no right to read mysql.user: assume '%'
                    hosts = ["%"]
                if not hosts:
                    raise DatabaseError(f"{entry.where}: account {name!r} does not exist")
                subjects.extend((name, h, "") for h in hosts)
            else:
                subjects.append((name, host, ""))
            grants: list[Grant] = []
            seen: set[tuple[str, str | None]] = set()
            while subjects:
                name, host, via = subjects.pop(0)
                if (name, host) in seen:
                    continue
                seen.add((name, host))
                try:
                    if host is None and not via:
                        cur.execute("SHOW GRANTS FOR CURRENT_USER()")
                    elif host in (None, ""):
                        cur.execute("SHOW GRANTS FOR %s", (name,))
                    else:
                        cur.execute("SHOW GRANTS FOR %s@%s", (name, host))
                    lines = [str(row[0]) for row in cur.fetchall()]
                except DatabaseError:
                    raise
                except Exception as exc:  # noqa: BLE001
                    error = mysql_error(exc, entry.host, entry.port, entry.user, entry.password)
                    who = f"'{name}'@'{host}'" if host else f"{name!r}"
                    raise DatabaseError(f"could not read the grants of {who}: {error}") from None
                found, roles = parse_mysql_grants(lines)
                grants.extend(Grant(g.privilege, g.object, via) for g in found)
                for role, role_host in roles:
                    subjects.append((role, role_host or "", role))
            return grants
    finally:
        conn.close()


# -- PostgreSQL ---------------------------------------------------------------------------

_PG_TABLES = """
SELECT n.nspname, c.relname, pg_has_role(r.oid, c.relowner, 'USAGE') AS owns,
       ARRAY[{checks}] AS has, ARRAY[{grant_checks}] AS grantable
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN (SELECT oid, rolsuper FROM pg_roles WHERE rolname = %s) r
WHERE c.relkind IN ('r', 'v', 'm', 'f', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%%'
ORDER BY n.nspname, c.relname
"""


def postgres_grants(entry: DatabaseEntry) -> list[Grant]:
    conn = connect_postgres(entry.host, entry.port, entry.user, entry.password, entry.timeout, entry.database)
    try:
        cur = conn.cursor()
        columns = ", ".join(column for column, _ in PG_ROLE_ATTRIBUTES)
        cur.execute(f"SELECT {columns} FROM pg_roles WHERE rolname = %s", (entry.account,))
        row = cur.fetchone()
        if row is None:
            raise DatabaseError(f"{entry.where}: role {entry.account!r} does not exist")
        grants = [Grant(attribute, ROLE_ATTRIBUTE) for (_, attribute), value in zip(PG_ROLE_ATTRIBUTES, row)
                  if value]
        if row[0]:  # a superuser holds every privilege on every table: SUPERUSER says it all
            return grants
        privileges = list(PG_TABLE_PRIVILEGES)
        cur.execute("SHOW server_version_num")
        if int(cur.fetchone()[0]) >= 170000:
            privileges.append("MAINTAIN")
        checks = ", ".join(f"has_table_privilege(r.oid, c.oid, '{p}')" for p in privileges)
        grant_checks = ", ".join(f"has_table_privilege(r.oid, c.oid, '{p} WITH GRANT OPTION')" for p in privileges)
        cur.execute(_PG_TABLES.format(checks=checks, grant_checks=grant_checks), (entry.account,))
        for schema, table, owns, has, grantable in cur.fetchall():
            obj = f"{entry.database}.{schema}.{table}"
            if owns:
                grants.append(Grant("OWNER", obj))  # owners may DROP, ALTER and grant everything
                continue
            grants.extend(Grant(p, obj) for p, held in zip(privileges, has) if held)
            if any(grantable):
                grants.append(Grant("GRANT OPTION", obj))
        return grants
    except DatabaseError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise postgres_error(exc, entry.host, entry.port, entry.user, entry.password) from None
    finally:
        try:
            conn.close()
        except Exception:  # noqa: BLE001
            pass


def read_grants(entry: DatabaseEntry) -> list[Grant]:
    """The account's grants, read within one --timeout deadline (login and queries)."""
    from secretaudit.deadline import DeadlineExceeded, deadline

    try:
        with deadline(entry.timeout):
            return mysql_grants(entry) if entry.engine == "mysql" else postgres_grants(entry)
    except DeadlineExceeded as exc:
        raise DatabaseError(exc.explain(f"{entry.where} (reading the grants of {entry.account!r})"),
                            "unreachable") from None


# -- judging ------------------------------------------------------------------------------


def excess(grants: list[Grant], allowed: frozenset[str]) -> list[Grant]:
    """Grants beyond ``allowed``, de-duplicated, in a stable order."""
    result, seen = [], set()
    for grant in grants:
        privilege = grant.privilege
        if not privilege or privilege in IGNORED or privilege in allowed:
            continue
        if privilege == "ALL PRIVILEGES" and "ALL" in allowed:
            continue
        key = (privilege, grant.object)
        if key not in seen:
            seen.add(key)
            result.append(grant)
    return sorted(result, key=lambda g: (g.object, g.privilege))


def audit_entry(entry: DatabaseEntry, config: "Config") -> list[Verdict]:
    """SA306 verdicts for one configured database account (an error if it cannot be read)."""
    try:
        grants = read_grants(entry)
    except DatabaseError as exc:
        return [Verdict(SA306, entry.label, entry.account, scrub_db_message(str(exc), entry.password),
                        status=Status.ERROR)]
    allowed = allowed_privileges(config, entry)
    verdicts = []
    for grant in excess(grants, allowed):
        via = f" (through role {grant.via})" if grant.via else ""
        if grant.object == ROLE_ATTRIBUTE:
            what, evidence = f"has the {grant.privilege} role attribute", f"{grant.privilege} {ROLE_ATTRIBUTE}"
        else:
            what, evidence = f"holds {grant.privilege} on {grant.object}", f"{grant.privilege} ON {grant.object}"
        message = (f"{entry.engine} account {entry.account!r} {what}{via}, beyond the policy "
                   f"({', '.join(sorted(allowed)) or 'nothing'})")
        verdicts.append(Verdict(SA306, entry.label, entry.account, message, rule=f"{grant.privilege} ON {grant.object}",
                                severity=Severity.CRITICAL if grant.privilege in CRITICAL else None,
                                evidence=evidence))
    return verdicts


class DatabaseGrants(TargetFamily[DatabaseEntry]):
    """SA306: one target per ``scopes.databases`` entry, whose one unit is the account."""

    kind = KIND
    mode = "audit"
    specs = (SPEC,)
    noun = "accounts"

    def targets(self, config: "Config") -> list[Target]:
        entries = parse_entries(config)
        config.stash[DATABASE_ENTRIES] = entries
        return [Target(kind=KIND, name=entry.label, path=str(i), declared=("scopes", "databases", i))
                for i, entry in enumerate(entries)]

    def units(self, run: TargetRun) -> list[DatabaseEntry]:
        return [run.config.stash[DATABASE_ENTRIES][int(run.target.path)]]

    def judge(self, run: TargetRun, unit: DatabaseEntry) -> list[Verdict]:
        # a disabled SA306 connects to nothing
        return audit_entry(unit, run.config) if run.config.is_enabled(SA306) else []


#: How a backend's account target is named (the rest is the backend's label).
BACKEND_TARGET = "database accounts in "


class DatabaseBackendAccounts(BackendSecrets):
    """SA306 for every database secret of a backend: log in with the stored credential, read its own grants.

    The secret is fetched (a line in the access trail), used for one login
    within the --timeout deadline (MariaDB/MySQL ``SHOW GRANTS FOR
    CURRENT_USER()``, PostgreSQL's role attributes and table privileges of
    the secret's database) and dropped.  A secret without the fields a login
    needs (engine, host, user, password) is one error result naming them.
    """

    kind = BACKEND_KIND
    family = "databases"
    secret_kinds = ("database-password",)
    prefix = BACKEND_TARGET
    specs = (SPEC,)
    noun = "accounts"

    def judge(self, run: TargetRun, unit: "SecretRecord") -> list[Verdict]:
        config = run.config
        if not config.is_enabled(SA306):
            return []  # a disabled SA306 reads no value and connects to nothing

        def error(message: str) -> list[Verdict]:
            return [Verdict(SA306, unit.backend, unit.name, message, status=Status.ERROR)]

        try:
            parsed = parse_credential(read(config, self.backend(run), unit, self.family))
        except ReadError as exc:
            return error(f"not checked: could not read the account: {exc}")
        if isinstance(parsed, str):
            return error(f"not checked: {parsed}; store the login's engine (mysql|postgres), host, port and user "
                         "beside the password")
        entry = DatabaseEntry(
            index=-1, name=unit.name, engine=parsed["engine"], host=parsed["host"], port=parsed["port"],
            user=parsed["user"], password=parsed.pop("password"), account=parsed["user"],
            database=parsed["database"] or "postgres", timeout=float(config.settings.get("timeout") or 30))
        try:
            verdicts = audit_entry(entry, config)
        finally:
            entry.password = ""
        # located at the secret; a grant's message gains the server (an error's names it already)
        return [replace(v, backend=unit.backend, name=unit.name,
                        message=f"{entry.where}: {v.message}" if v.status is Status.FAILED else v.message)
                for v in verdicts]


# -- hooks --------------------------------------------------------------------------------


@hookimpl
def secretaudit_register_checks(registry: "CheckRegistry") -> None:
    registry.add(SPEC)


@hookimpl
def secretaudit_register_families(registry: "FamilyRegistry") -> None:
    registry.add(DatabaseGrants())
    registry.add(DatabaseBackendAccounts())


@hookimpl
def secretaudit_validate_credential(kind: str, credential: dict[str, str], config: "Config") -> Validation | None:
    if kind != "database-password":
        return None
    fields = parse_credential(credential)
    if isinstance(fields, str):
        return Validation(status="unknown", message=f"could not validate: {fields}")
    timeout = float((config.settings.get("timeout") if config is not None else None) or 30)
    engine, host, port, user = fields["engine"], fields["host"], fields["port"], fields["user"]
    password = fields.pop("password")
    identity = f"{user}@{hostport(host, port)}"
    try:
        if engine == "mysql":
            conn = connect_mysql(host, port, user, password, timeout, fields["database"])
        else:
            conn = connect_postgres(host, port, user, password, timeout, fields["database"] or "postgres")
        conn.close()
    except DatabaseError as exc:
        message = scrub_db_message(str(exc), password)
        if exc.reason == "denied":
            return Validation(status="invalid", identity=identity, message=message)
        if engine == "mysql" and "(error 1049)" in message or engine == "postgres" and "(3D000)" in message:
            # authentication succeeded; only the database named in the secret is missing
            return Validation(status="valid", identity=identity, message=message)
        return Validation(status="unknown", identity=identity, message=f"could not validate: {message}")
    finally:
        del password
    return Validation(status="valid", identity=identity, message=f"{engine} login accepted")
