"""``secretaudit rotate``: rotate one secret, validate the new credential, roll back if it fails.

The engine here is generic; backends supply the writes (``kv_write``,
``put_pending``, ``move_stage``, ``rotate_static_role``...).  Every protocol
follows AWS's four rotation steps, createSecret (make and durably store the
new value where nothing uses it yet), setSecret (change the credential in
the service), testSecret (validate it through the ``secretaudit_validate_
credential`` hook) and finishSecret (make it current), ordered so a process
killed at any instant leaves a working current version, or, where the
service has a single password (databases), a durable pending value from
which the next ``rotate`` recovers.

Per backend and kind:

* **AWS Secrets Manager with a rotation Lambda**: ``RotateSecret``; the Lambda
  does the four steps.  Never called without a Lambda: moto 5's server then
  moves AWSCURRENT to a version with no value, and AWS refuses.
* **AWS Secrets Manager, generic / database-password, no Lambda**: the new
  value is written as ``AWSPENDING`` (PutSecretValue with a client request
  token: idempotent), [the database password changed], the pending version
  validated, then ``AWSCURRENT`` moved by one UpdateSecretVersionStage (atomic:
  there is always exactly one AWSCURRENT).  A kill before the move leaves the
  old AWSCURRENT untouched; the next rotate clears (or, for a database whose
  password already changed, finishes) the stale AWSPENDING.
* **Vault KV v2, generic**: one check-and-set write of a new version with a
  generated password; the write is atomic, so current is old or new, never
  torn.  Validation reads it back; failure re-writes the previous fields as
  a new current version.
* **Vault KV v2, database-password** (the app's own user changes its own
  password: ``SET PASSWORD = '<mysql_native_password hash>'`` in MariaDB (no
  privilege needed for one's own account; MySQL 8: ``ALTER USER CURRENT_USER()``), ``ALTER ROLE CURRENT_USER PASSWORD '<SCRAM verifier>'`` in
  PostgreSQL; only hashes cross the wire, so the server's query logs never
  hold the password):

  1. createSecret: a new KV version = the old fields (still working) plus
     ``_secretaudit_pending_password`` = the new password (durable first);
  2. setSecret: ALTER, logged in with the old password;
  3. finishSecret: a new KV version with the new password, pending field gone;
  4. testSecret: a real login through the validator; a rejected login
     changes the password back and re-writes the old fields (rolled back).

  Kill before 2: the old password still works; the pending field is dropped
  by the next rotate.  Kill between 2 and 3 (one KV write wide, the same
  window as AWS's single-user rotation Lambdas): the database already has
  the new password, which is durable in the pending field; the next
  ``rotate`` of the secret tries both passwords and finishes or
  discards.  Kill after 3: the new password is current and works.
* **Vault database static roles**: ``DATABASE_MOUNT/rotate-role/ROLE``
  (Vault changes and stores the password atomically); validated by a login
  when the connection's host is readable.  No rollback is possible: Vault
  keeps no previous password.
* **AWS IAM access keys** (kind ``aws-access-key``, in Secrets Manager or
  Vault KV): the two-key procedure with the key's own credentials
  (self-service ``iam:CreateAccessKey``/``UpdateAccessKey``/``DeleteAccessKey``
  on ``arn:aws:iam::*:user/${aws:username}``): create a second key, store it
  (AWSPENDING then AWSCURRENT, or a new KV version), validate it (STS
  GetCallerIdentity: the same user), then *deactivate* (not delete) the old
  one.  A kill after the create leaves the old key current and active (an
  orphan new key, which the refusal message of the next run names); after
  the store, the new key is current and active.  A user that already has two
  keys is refused with the steps to remove one.  A failed validation restores
  the old version and deletes the new key.

GitHub tokens (classic ``ghp_`` or fine-grained), Vault tokens and unknown
kinds are refused with the manual steps: no API rotates them safely.

Every rotation appends a ``started`` line to the access trail before it
changes anything (no trail, no rotation) and one outcome line at the end
(``ok``, ``rolled-back``, ``failed``, ``dry-run``, ``refused``...).  No value
ever appears in a message, a result or the trail.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets as _secrets
import string
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

from secretaudit.errors import ExitCode

if TYPE_CHECKING:
    from secretaudit.backends import Backend
    from secretaudit.config import Config
    from secretaudit.model import SecretRecord, Validation

#: Field holding a database password that is stored but not yet current (see the module docstring).
PENDING_FIELD = "_secretaudit_pending_password"

#: Character classes of generated passwords.  Symbols avoid quotes, backslashes, ``@:/?#%`` and
#: spaces, which break connection URLs, shell scripts and SQL literals.
CLASSES = {"lower": string.ascii_lowercase, "upper": string.ascii_uppercase, "digit": string.digits,
           "symbol": "!*+-.=^_~"}
DEFAULT_LENGTH = 32
ROTATABLE = ("generic", "database-password", "aws-access-key")


class RotationError(Exception):
    """A rotation that did not happen or did not finish; one line, never a value.

    ``reason``: ``refused``, ``not-found``, ``ambiguous``, ``config`` and
    ``two-keys`` are user-side (exit 4); ``denied``, ``timeout``,
    ``unreachable``, ``failed``, ``trail``... are failures (exit 1).
    """

    USER_SIDE = ("refused", "not-found", "ambiguous", "no-field", "config", "two-keys")

    def __init__(self, message: str, reason: str = "failed") -> None:
        from secretaudit.redact import scrub

        super().__init__(scrub(" ".join(message.split())))
        self.reason = reason

    @property
    def exit_code(self) -> int:
        return ExitCode.USAGE_ERROR if self.reason in self.USER_SIDE else ExitCode.FINDINGS


@dataclass
class RotationResult:
    """What a rotation did: versions (never values), validation verdict and the steps taken."""

    secret: str
    backend: str
    kind: str
    method: str
    outcome: str = "ok"
    old_version: str | None = None
    new_version: str | None = None
    validation: str = ""
    message: str = ""
    steps: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return ExitCode.OK if self.outcome in ("ok", "dry-run") else ExitCode.FINDINGS

    def as_dict(self) -> dict[str, Any]:
        return {"secret": self.secret, "backend": self.backend, "kind": self.kind, "method": self.method,
                "outcome": self.outcome, "old_version": self.old_version, "new_version": self.new_version,
                "validation": self.validation, "message": self.message, "steps": list(self.steps)}

    def summary(self) -> str:
        where = f"{self.backend}:{self.secret}"
        if self.outcome == "dry-run":
            return f"dry run: {where} ({self.kind}) would be rotated by {self.method}; nothing was changed"
        if self.outcome == "ok":
            return (f"rotated {where} ({self.kind}) by {self.method}: version {self.old_version} -> "
                    f"{self.new_version}; validation: {self.validation}")
        return f"{self.outcome}: {where}: {self.message}"


# -- passwords ---------------------------------------------------------------------------------


def password_policy(config: "Config") -> tuple[int, tuple[str, ...]]:
    """``rotation.password: {length, classes}`` checked; defaults 32 characters of all four classes."""
    from secretaudit.redact import shape

    source = config.source or "config"
    block = (config.settings.get("rotation") or {}).get("password") or {}
    if not isinstance(block, dict):
        raise RotationError(f"{source}: key 'rotation.password' must be a mapping {{length, classes}}", "config")
    length = block.get("length", DEFAULT_LENGTH)
    if isinstance(length, bool) or not isinstance(length, int) or not 12 <= length <= 1024:
        raise RotationError(f"{source}: key 'rotation.password.length' must be a whole number from 12 to 1024, "
                            f"got {shape(length)}", "config")
    classes = block.get("classes", list(CLASSES))
    if isinstance(classes, str):
        classes = [c.strip() for c in classes.split(",")]
    if not isinstance(classes, list) or not classes or any(c not in CLASSES for c in classes):
        raise RotationError(f"{source}: key 'rotation.password.classes' must list some of "
                            f"{', '.join(CLASSES)}, got {shape(classes)}", "config")
    if len(classes) > length:
        raise RotationError(f"{source}: key 'rotation.password.length' is shorter than the number of classes",
                            "config")
    return length, tuple(dict.fromkeys(classes))


def generate_password(length: int = DEFAULT_LENGTH, classes: tuple[str, ...] = tuple(CLASSES)) -> str:
    """A random password from the ``secrets`` CSPRNG with at least one character of every class."""
    alphabet = "".join(CLASSES[c] for c in classes)
    chars = [_secrets.choice(CLASSES[c]) for c in classes]
    chars += [_secrets.choice(alphabet) for _ in range(length - len(chars))]
    for i in range(len(chars) - 1, 0, -1):  # Fisher-Yates with the CSPRNG: required classes land anywhere
        j = _secrets.randbelow(i + 1)
        chars[i], chars[j] = chars[j], chars[i]
    return "".join(chars)


def _same(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and hmac.compare_digest(a.encode(), b.encode())


# -- databases -------------------------------------------------------------------------------------


def mysql_native_hash(password: str) -> str:
    """``*HEX(SHA1(SHA1(password)))``: what ``IDENTIFIED BY PASSWORD`` takes (mysql_native_password)."""
    return "*" + hashlib.sha1(hashlib.sha1(password.encode()).digest()).hexdigest().upper()


def scram_verifier(password: str, iterations: int = 4096) -> str:
    """A PostgreSQL SCRAM-SHA-256 verifier (what psql's ``\\password`` sends), computed client-side."""
    salt = _secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = lambda raw: base64.b64encode(raw).decode()  # noqa: E731
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def password_field(fields: dict[str, str]) -> str | None:
    """The password field of a database secret (``mysql_password``, ``postgres_password``, ``password``...)."""
    for prefix in ("mysql_", "mariadb_", "postgres_", "postgresql_", "pg_", "db_", "database_", ""):
        if f"{prefix}password" in fields:
            return f"{prefix}password"
    return None


def change_db_password(fields: dict[str, str], current: str, new: str, timeout: float) -> None:
    """Log in as the secret's own user with ``current`` and set its password to ``new``.

    Raises :class:`RotationError` (the driver's message scrubbed of both passwords).
    """
    from secretaudit.checks.db_grants import DatabaseError, connect_mysql, connect_postgres, parse_credential, scrub_db_message

    parsed = parse_credential({**fields, password_field(fields) or "password": current})
    if isinstance(parsed, str):
        raise RotationError(f"cannot change the database password: {parsed}", "config")
    engine, host, port, user = parsed["engine"], parsed["host"], parsed["port"], parsed["user"]
    try:
        if engine == "mysql":
            conn = connect_mysql(host, port, user, current, timeout, parsed["database"])
            try:
                with conn.cursor() as cursor:
                    try:  # MariaDB: one's own password needs no privilege, and only the hash is sent
                        cursor.execute("SET PASSWORD = %s", (mysql_native_hash(new),))
                    except Exception:  # MySQL 8 dropped the hash form: its own-account statement
                        cursor.execute("ALTER USER CURRENT_USER() IDENTIFIED BY %s", (new,))
            finally:
                conn.close()
        else:
            conn = connect_postgres(host, port, user, current, timeout, parsed["database"] or "postgres")
            try:
                verifier = scram_verifier(new).replace("'", "''")
                cursor = conn.cursor()
                cursor.execute(f"ALTER ROLE CURRENT_USER PASSWORD '{verifier}'")
                conn.commit()
            finally:
                conn.close()
    except DatabaseError as exc:
        raise RotationError(f"cannot change the password of {user} in {engine} at {host}:{port}: "
                            f"{scrub_db_message(str(exc), current, new)}", "denied" if exc.reason == "denied" else "failed") \
            from None
    except Exception as exc:  # the driver's own errors (a missing privilege, a closed connection)
        raise RotationError(f"cannot change the password of {user} in {engine} at {host}:{port}: "
                            f"{type(exc).__name__}: {scrub_db_message(str(exc), current, new)}", "failed") from None


# -- the run -----------------------------------------------------------------------------------------


class Rotation:
    """One rotation of one secret: the backend, record, config and a step log (for --dry-run and reports)."""

    method = ""

    def __init__(self, config: "Config", backend: "Backend", record: "SecretRecord", dry_run: bool,
                 echo: Callable[[str], None]) -> None:
        self.config = config
        self.backend = backend
        self.record = record
        self.dry_run = dry_run
        self.echo = echo
        self.timeout = float(config.settings.get("timeout") or 30)
        self.result = RotationResult(secret=record.name, backend=backend.label, kind=record.kind,
                                     method=self.method)

    def step(self, text: str) -> None:
        """Log one step: what will be done (dry run) or what is being done."""
        self.result.steps.append(text)
        self.echo(("would: " if self.dry_run else "") + text)

    #: the manual steps named when no field is clearly the password (set by each backend's rotation)
    MANUAL = ""

    def password_target(self, fields: dict[str, str]) -> str:
        """The field a generated password goes into; a ``refused`` error naming :attr:`MANUAL` if none is clear."""
        if self.record.kind == "database-password":
            name = password_field(fields)
        else:
            name = next((f for f in ("password", "value", "token", "secret") if f in fields), None)
            if name is None and len(fields) == 1:
                name = next(iter(fields))
        if name is None:
            raise RotationError(f"{self.backend.label}:{self.record.name} has fields {', '.join(sorted(fields))} "
                                f"and none is clearly the password; rotate it by hand: {self.MANUAL}", "refused")
        return name

    def validate(self, kind: str, fields: dict[str, str]) -> "Validation":
        """The ``secretaudit_validate_credential`` hook on ``fields`` (dropped afterwards)."""
        from secretaudit.checks.validation import credential_fields
        from secretaudit.model import Validation

        credential = credential_fields(kind, {k: v for k, v in fields.items() if k != PENDING_FIELD})
        if not credential:
            return Validation("unknown", message=f"no {kind} fields to validate")
        answer = self.config.hook.secretaudit_validate_credential(kind=kind, credential=credential,
                                                                  config=self.config)
        del credential
        return answer or Validation("unknown", message=f"no validator for kind {kind}")

    def done(self, outcome: str, message: str = "") -> RotationResult:
        self.result.outcome = outcome
        self.result.message = message
        return self.result

    def run(self) -> RotationResult:  # pragma: no cover - every subclass implements it
        raise NotImplementedError


# -- Vault KV -------------------------------------------------------------------------------------


class VaultKvPassword(Rotation):
    """A Vault KV v2 secret of kind generic or database-password: a new version with a generated password."""

    method = "a new KV v2 version with a generated password"

    #: what to do by hand when no field is clearly the password
    MANUAL = ("write a new version with 'vault kv patch' (or set custom_metadata kind to database-password "
              "with a *_password field) and run 'secretaudit validate --secret NAME'")

    def run(self) -> RotationResult:
        backend, record = self.backend, self.record
        fields, version = backend.read_current(record)  # type: ignore[attr-defined]
        self.result.old_version = version
        if PENDING_FIELD in fields:
            fields, version = self.recover(fields, version)
            self.result.old_version = version
        target = self.password_target(fields)
        length, classes = password_policy(self.config)
        database = record.kind == "database-password"
        if self.dry_run:
            if database:
                self.step(f"store a new {length}-character password as pending in a new KV version of "
                          f"{record.path} (current password unchanged)")
                self.step("change the database user's password (ALTER ... CURRENT_USER, logged in with the current "
                          "password)")
                self.step(f"write the new password into {target} as the new current version, then validate it "
                          "with a real login; on failure change it back and restore the previous fields")
            else:
                self.step(f"write {record.path} version {int(version or 0) + 1} with a new {length}-character "
                          f"{target} (check-and-set on version {version}), then read it back; on failure "
                          "re-write the previous fields as current")
            return self.done("dry-run")
        new = generate_password(length, classes)
        if not database:
            return self._generic(fields, version, target, new)
        return self._database(fields, version, target, new)

    def _generic(self, old: dict[str, str], version: str | None, target: str, new: str) -> RotationResult:
        backend, record = self.backend, self.record
        self.step(f"write a new version of {record.path} with a generated {target}")
        written = backend.kv_write(record, {**old, target: new}, cas=int(version or 0))  # type: ignore[attr-defined]
        self.result.new_version = written
        self.step(f"read back version {written}")
        current, current_version = backend.read_current(record)  # type: ignore[attr-defined]
        if current_version == written and _same(current.get(target), new):
            self.result.validation = "read back: the new version is current"
            return self.done("ok")
        restored = backend.kv_write(record, old, cas=int(current_version or 0))  # type: ignore[attr-defined]
        return self.done("rolled-back", f"the new version did not read back; the previous fields were re-written "
                                        f"as version {restored}")

    def _database(self, old: dict[str, str], version: str | None, target: str, new: str) -> RotationResult:
        backend, record = self.backend, self.record
        current_password = old[target]
        self.step(f"createSecret: store the new password as pending in {record.path}")
        pending = backend.kv_write(record, {**old, PENDING_FIELD: new}, cas=int(version or 0))  # type: ignore[attr-defined]
        self.step("setSecret: change the database password")
        try:
            change_db_password(old, current_password, new, self.timeout)
        except RotationError as exc:
            backend.kv_write(record, old, cas=int(pending))  # type: ignore[attr-defined]
            raise RotationError(f"{exc}; the database password is unchanged and the pending value was discarded",
                                exc.reason) from None
        self.step("finishSecret: make the new password the current version")
        finished = backend.kv_write(record, {**old, target: new}, cas=int(pending))  # type: ignore[attr-defined]
        self.result.new_version = finished
        self.step("testSecret: log in with the new password")
        verdict = self.validate("database-password", {**old, target: new})
        if verdict.status == "valid":
            self.result.validation = verdict.message or "login accepted"
            return self.done("ok")
        if verdict.status == "invalid":
            change_db_password(old, new, current_password, self.timeout)
            restored = backend.kv_write(record, old, cas=int(finished))  # type: ignore[attr-defined]
            return self.done("rolled-back", f"the new password was rejected ({verdict.message}); the database "
                                            f"password was changed back and the previous fields re-written as "
                                            f"version {restored}")
        self.result.validation = verdict.message
        return self.done("failed", f"rotated to version {finished} but validation could not run "
                                   f"({verdict.message}); run 'secretaudit validate --secret {record.name}'")

    def recover(self, fields: dict[str, str], version: str | None) -> tuple[dict[str, str], str | None]:
        """Finish or discard a rotation killed mid-way (a pending password left in the current version)."""
        backend, record = self.backend, self.record
        pending = fields[PENDING_FIELD]
        clean = {k: v for k, v in fields.items() if k != PENDING_FIELD}
        target = password_field(clean) if record.kind == "database-password" else None
        if self.dry_run:
            self.step(f"recover an interrupted rotation of {record.path} (a pending password is stored)")
            return clean, version
        if target and self.validate("database-password", {**clean, target: pending}).status == "valid":
            written = backend.kv_write(record, {**clean, target: pending}, cas=int(version or 0))  # type: ignore[attr-defined]
            self.step(f"recovered an interrupted rotation: the pending password works, stored as version {written}")
            return {**clean, target: pending}, written
        written = backend.kv_write(record, clean, cas=int(version or 0))  # type: ignore[attr-defined]
        self.step(f"recovered an interrupted rotation: the pending password was never set, discarded "
                  f"(version {written})")
        return clean, written


class VaultStaticRole(Rotation):
    """A Vault database static role: the rotate-role endpoint."""

    method = "the database engine's rotate-role endpoint"

    def run(self) -> RotationResult:
        backend, record = self.backend, self.record
        role_path = record.path.replace("/static-roles/", "/rotate-role/")
        if self.dry_run:
            self.step(f"POST {role_path}: Vault sets a new password in the database and stores it; then log in "
                      "with it (no rollback: Vault keeps no previous password)")
            return self.done("dry-run")
        _, before = backend.read_current(record)  # type: ignore[attr-defined]
        self.result.old_version = before
        self.step(f"POST {role_path}")
        backend.rotate_static_role(record)  # type: ignore[attr-defined]
        fields, after = backend.read_current(record)  # type: ignore[attr-defined]
        self.result.new_version = after
        connection = backend.static_role_connection(record)  # type: ignore[attr-defined]
        if not connection:
            self.result.validation = "could not run: the database connection is not readable"
            return self.done("failed", f"rotated (last rotation {after}) but validation could not run: grant "
                                       f"'read' on {backend.database_mount}/config/{record.fact('db_name')} "  # type: ignore[attr-defined]
                                       "or validate by hand")
        engine = connection["engine"]
        verdict = self.validate("database-password", {
            f"{engine}_host": connection["host"], f"{engine}_port": connection["port"],
            f"{engine}_user": fields.get("username", ""), f"{engine}_password": fields.get("password", "")})
        del fields
        if verdict.status == "valid":
            self.result.validation = verdict.message or "login accepted"
            return self.done("ok")
        return self.done("failed", f"Vault rotated the role but the new password does not work "
                                   f"({verdict.message}); Vault keeps no previous password, so no rollback: "
                                   f"check the database connection and run 'vault write -f {role_path}' again")


# -- AWS Secrets Manager ---------------------------------------------------------------------------


def _stages(description: dict[str, Any]) -> tuple[str | None, str | None]:
    """(AWSCURRENT version, a version labelled AWSPENDING but not AWSCURRENT)."""
    current = pending = None
    for version, stages in (description.get("VersionIdsToStages") or {}).items():
        if "AWSCURRENT" in stages:
            current = version
        elif "AWSPENDING" in stages:
            pending = version
    return current, pending


def _encode(fields: dict[str, str]) -> str:
    """Back to a SecretString: plain text stays plain, JSON stays JSON."""
    return fields["value"] if set(fields) == {"value"} else json.dumps(fields)


class SecretsManagerLambda(Rotation):
    """RotateSecret: the secret's rotation Lambda does the work."""

    method = "RotateSecret (the secret's rotation Lambda)"

    def run(self) -> RotationResult:
        backend, record = self.backend, self.record
        description = backend.describe(record)  # type: ignore[attr-defined]
        before, _ = _stages(description)
        self.result.old_version = before
        if self.dry_run:
            self.step(f"RotateSecret on {record.name}: the Lambda {description.get('RotationLambdaARN')} creates, "
                      "sets, tests and finishes the new version; then validate AWSCURRENT")
            return self.done("dry-run")
        self.step("RotateSecret")
        from secretaudit.backends import BackendError

        try:
            backend.rotate_with_lambda(record, str(description.get("RotationLambdaARN")),  # type: ignore[attr-defined]
                                       description.get("RotationRules") or None)
        except BackendError as exc:
            self._clear_pending()
            raise RotationError(f"RotateSecret failed: {exc}; AWSCURRENT is unchanged. Check the rotation Lambda "
                                "(its CloudWatch logs) and retry", getattr(exc, "reason", "failed")) from None
        fields, after = backend.read_current(record)  # type: ignore[attr-defined]
        self.result.new_version = after
        if after == before:
            return self.done("failed", "RotateSecret returned but AWSCURRENT did not move (the Lambda rotates "
                                       "asynchronously or failed); check its logs, then validate")
        backend.tag(record, {"last_rotated": datetime.now(timezone.utc).isoformat(timespec="seconds")})  # type: ignore[attr-defined]
        return _finish_validation(self, fields)

    def _clear_pending(self) -> None:
        try:
            _, pending = _stages(self.backend.describe(self.record))  # type: ignore[attr-defined]
            if pending:
                self.backend.move_stage(self.record, "AWSPENDING", None, pending)  # type: ignore[attr-defined]
        except Exception:  # best effort: the failure being reported is the RotateSecret one
            pass


def _finish_validation(rotation: Rotation, fields: dict[str, str]) -> RotationResult:
    kind = rotation.record.kind
    from secretaudit.checks.validation import VALIDATED_KINDS

    if kind not in VALIDATED_KINDS:
        rotation.result.validation = "read back: the new version is current"
        return rotation.done("ok") if fields else rotation.done("failed", "the new version is empty")
    verdict = rotation.validate(kind, fields)
    rotation.result.validation = verdict.message or verdict.status
    if verdict.status == "valid":
        return rotation.done("ok")
    return rotation.done("failed", f"the new version does not validate ({verdict.message}); the Lambda owns "
                                   "this secret's rotation: check it and restore AWSPREVIOUS if needed")


class SecretsManagerStaged(Rotation):
    """No Lambda: AWSPENDING, [setSecret], test, then one atomic AWSCURRENT move."""

    method = "a staged new version (AWSPENDING, validated, then AWSCURRENT)"

    MANUAL = "aws secretsmanager put-secret-value, or attach a rotation Lambda"

    def run(self) -> RotationResult:
        backend, record = self.backend, self.record
        description = backend.describe(record)  # type: ignore[attr-defined]
        current_id, pending_id = _stages(description)
        fields, _ = backend.read_version(record, stage="AWSCURRENT")  # type: ignore[attr-defined]
        self.result.old_version = current_id
        if pending_id:
            fields, current_id = self.recover(fields, current_id, pending_id)
            self.result.old_version = current_id
        target = self.password_target(fields)
        length, classes = password_policy(self.config)
        database = record.kind == "database-password"
        if self.dry_run:
            self.step(f"PutSecretValue: a new {length}-character {target} labelled AWSPENDING only")
            if database:
                self.step("setSecret: change the database user's password, logged in with the current one")
            self.step("testSecret: validate the AWSPENDING version")
            self.step(f"UpdateSecretVersionStage: move AWSCURRENT from {current_id} to the new version; tag "
                      "last_rotated; on a failed validation AWSCURRENT stays (or is moved back)")
            return self.done("dry-run")
        new = generate_password(length, classes)
        new_fields = {**fields, target: new}
        token = str(uuid.uuid4())
        self.step("createSecret: PutSecretValue labelled AWSPENDING")
        pending = backend.put_pending(record, _encode(new_fields), token)  # type: ignore[attr-defined]
        if database:
            self.step("setSecret: change the database password")
            try:
                change_db_password(fields, fields[target], new, self.timeout)
            except RotationError as exc:
                backend.move_stage(record, "AWSPENDING", None, pending)  # type: ignore[attr-defined]
                raise RotationError(f"{exc}; AWSCURRENT is unchanged", exc.reason) from None
        self.step("testSecret: validate the AWSPENDING version")
        staged, _ = backend.read_version(record, version_id=pending)  # type: ignore[attr-defined]
        if database:
            verdict = self.validate("database-password", staged)
            ok, detail = verdict.status == "valid", verdict.message
        else:
            ok, detail = _same(staged.get(target), new), "read back"
        if not ok:
            if database:
                change_db_password(fields, new, fields[target], self.timeout)
            backend.move_stage(record, "AWSPENDING", None, pending)  # type: ignore[attr-defined]
            return self.done("rolled-back", f"the pending version did not validate ({detail}); AWSCURRENT was "
                                            "never moved" + ("; the database password was changed back"
                                                             if database else ""))
        self.step("finishSecret: move AWSCURRENT to the new version")
        backend.move_stage(record, "AWSCURRENT", pending, current_id)  # type: ignore[attr-defined]
        backend.move_stage(record, "AWSPENDING", None, pending)  # type: ignore[attr-defined]
        self.result.new_version = pending
        current, current_now = backend.read_version(record, stage="AWSCURRENT")  # type: ignore[attr-defined]
        if current_now != pending or not _same(current.get(target), new):
            backend.move_stage(record, "AWSCURRENT", current_id, current_now)  # type: ignore[attr-defined]
            return self.done("rolled-back", "AWSCURRENT did not read back as the new version; it was moved back "
                                            f"to {current_id}")
        backend.tag(record, {"last_rotated": datetime.now(timezone.utc).isoformat(timespec="seconds")})  # type: ignore[attr-defined]
        self.result.validation = detail or "validated"
        return self.done("ok")

    def recover(self, fields: dict[str, str], current_id: str | None,
                pending_id: str) -> tuple[dict[str, str], str | None]:
        """A stale AWSPENDING from a killed run: finish it (database already changed) or clear the label."""
        backend, record = self.backend, self.record
        if self.dry_run:
            self.step(f"recover an interrupted rotation (version {pending_id} is labelled AWSPENDING)")
            return fields, current_id
        if record.kind == "database-password":
            staged, _ = backend.read_version(record, version_id=pending_id)  # type: ignore[attr-defined]
            if self.validate("database-password", staged).status == "valid":
                backend.move_stage(record, "AWSCURRENT", pending_id, current_id)  # type: ignore[attr-defined]
                backend.move_stage(record, "AWSPENDING", None, pending_id)  # type: ignore[attr-defined]
                self.step(f"recovered an interrupted rotation: the pending password works; AWSCURRENT moved to "
                          f"{pending_id}")
                return staged, pending_id
        backend.move_stage(record, "AWSPENDING", None, pending_id)  # type: ignore[attr-defined]
        self.step(f"recovered an interrupted rotation: cleared AWSPENDING from {pending_id} (never current)")
        return fields, current_id


# -- AWS IAM access keys -----------------------------------------------------------------------------


def _key_hint(key_id: str) -> str:
    """An access key id as the AWS console shows it: only its last four characters."""
    return f"…{key_id[-4:]}" if key_id else "?"


class IamAccessKey(Rotation):
    """The two-key procedure for an IAM user's access key stored in Secrets Manager or Vault KV."""

    method = "the two-key procedure (create, store, validate, deactivate the old key)"

    def _options(self, fields: dict[str, str], key_id: str, secret: str) -> dict[str, Any]:
        import os

        aws_scope = (self.config.settings.get("scopes") or {}).get("aws") or {}
        aws_scope = aws_scope if isinstance(aws_scope, dict) else {}
        endpoint = fields.get("endpoint_url") or aws_scope.get("endpoint_url") or os.environ.get("AWS_ENDPOINT_URL")
        region = fields.get("region") or aws_scope.get("region") or "us-east-1"
        return {"access_key_id": key_id, "secret_access_key": secret, "session_token": None,
                "endpoint_url": endpoint or None, "region": region}

    def _aws(self, service: str, options: dict[str, Any]) -> Any:
        from secretaudit.checks.aws_iam import aws_client

        return aws_client(service, options, self.timeout, attempts=2)

    def _call(self, what: str, func: Callable[..., Any], *secrets: str, **kwargs: Any) -> Any:
        from secretaudit.checks.aws_iam import scrub

        from secretaudit.deadline import DeadlineExceeded

        try:
            return func(**kwargs)
        except DeadlineExceeded as exc:
            raise RotationError(exc.explain(f"IAM ({what})"), "timeout") from None
        except Exception as exc:
            code = ""
            if hasattr(exc, "response") and isinstance(exc.response, dict):  # type: ignore[attr-defined]
                code = str(exc.response.get("Error", {}).get("Code") or "")  # type: ignore[attr-defined]
            reason = "denied" if "AccessDenied" in code or "Unauthorized" in code else "failed"
            fix = f"; grant iam:{what} on the user to itself (self-service key management)" if reason == "denied" else ""
            raise RotationError(f"IAM {what} failed ({code or type(exc).__name__}: {scrub(str(exc), secrets)}){fix}",
                                reason) from None

    def run(self) -> RotationResult:
        backend, record = self.backend, self.record
        is_sm = hasattr(backend, "put_pending")
        if is_sm:
            fields, version = backend.read_version(record, stage="AWSCURRENT")  # type: ignore[attr-defined]
        else:
            fields, version = backend.read_current(record)  # type: ignore[attr-defined]
        self.result.old_version = version
        key_id, secret = fields.get("access_key_id", ""), fields.get("secret_access_key", "")
        if not key_id or not secret:
            raise RotationError(f"{backend.label}:{record.name} has no access_key_id/secret_access_key fields; "
                                "store the key in the standard's layout", "refused")
        if fields.get("session_token"):
            raise RotationError(f"{backend.label}:{record.name} holds temporary credentials (a session_token): "
                                "they expire by themselves; issue new ones from the role instead", "refused")
        old = self._options(fields, key_id, secret)
        identity = self._call("GetCallerIdentity", self._aws("sts", old).get_caller_identity, secret)
        arn = str(identity.get("Arn") or "")
        if ":user/" not in arn:
            raise RotationError(f"the key belongs to {arn or 'an unknown identity'}, not an IAM user; only IAM "
                                "user keys have the two-key procedure", "refused")
        user = arn.split(":user/", 1)[1].rsplit("/", 1)[-1]
        iam = self._aws("iam", old)
        keys = self._call("ListAccessKeys", iam.list_access_keys, secret, UserName=user).get("AccessKeyMetadata") or []
        if len(keys) >= 2:
            others = [k for k in keys if k.get("AccessKeyId") != key_id]
            described = ", ".join(f"{_key_hint(k.get('AccessKeyId', ''))} ({k.get('Status', '?').lower()})"
                                  for k in others)
            raise RotationError(
                f"IAM user {user} already has two access keys (the stored one {_key_hint(key_id)} and {described}); "
                "the two-key procedure needs a free slot. Steps: 1) make sure nothing uses the other key (aws iam "
                f"get-access-key-last-used), 2) aws iam update-access-key --user-name {user} --status Inactive "
                f"--access-key-id <it>, then aws iam delete-access-key --user-name {user} --access-key-id <it>, "
                "3) run this rotate again", "two-keys")
        store = "as AWSPENDING, validated, then AWSCURRENT" if is_sm else "as a new KV v2 version"
        if self.dry_run:
            self.step(f"CreateAccessKey for IAM user {user} (a second key; {_key_hint(key_id)} stays active)")
            self.step(f"store the new key in {record.name} {store}")
            self.step(f"validate it (STS GetCallerIdentity must answer {arn})")
            self.step(f"UpdateAccessKey {_key_hint(key_id)} Inactive (deactivated, not deleted); on a failed "
                      "validation the old version is restored and the new key deleted")
            return self.done("dry-run")
        self.step(f"CreateAccessKey for {user}")
        created = self._call("CreateAccessKey", iam.create_access_key, secret, UserName=user)["AccessKey"]
        new_id, new_secret = created["AccessKeyId"], created["SecretAccessKey"]
        del created
        new_fields = {**fields, "access_key_id": new_id, "secret_access_key": new_secret}
        new_options = self._options(fields, new_id, new_secret)

        def undo(message: str, restore: Callable[[], None] | None = None) -> RotationResult:
            if restore is not None:
                restore()
            self._call("DeleteAccessKey", iam.delete_access_key, secret, new_secret, UserName=user,
                       AccessKeyId=new_id)
            return self.done("rolled-back", f"{message}; the previous version was restored and the new key "
                                            f"{_key_hint(new_id)} deleted")

        self.step(f"store the new key {store}")
        if is_sm:
            pending = backend.put_pending(record, json.dumps(new_fields), str(uuid.uuid4()))  # type: ignore[attr-defined]
            verdict = self._validate_key(new_fields, arn)
            if verdict is not None:
                return undo(verdict, lambda: backend.move_stage(record, "AWSPENDING", None, pending))  # type: ignore[attr-defined]
            backend.move_stage(record, "AWSCURRENT", pending, version)  # type: ignore[attr-defined]
            backend.move_stage(record, "AWSPENDING", None, pending)  # type: ignore[attr-defined]
            new_version = pending
        else:
            new_version = backend.kv_write(record, new_fields, cas=int(version or 0))  # type: ignore[attr-defined]
        self.result.new_version = new_version
        self.step("validate the stored key (STS GetCallerIdentity)")
        current = backend.fetch(record)
        verdict = self._validate_key(current, arn) if current.get("access_key_id") == new_id else \
            "the stored version is not the new key"
        del current
        if verdict is not None:
            if is_sm:
                return undo(verdict, lambda: backend.move_stage(record, "AWSCURRENT", version, new_version))  # type: ignore[attr-defined]
            return undo(verdict, lambda: backend.kv_write(record, fields, cas=int(new_version or 0)))  # type: ignore[attr-defined]
        self.step(f"UpdateAccessKey {_key_hint(key_id)} Inactive")
        self._call("UpdateAccessKey", self._aws("iam", new_options).update_access_key, new_secret, secret,
                   UserName=user, AccessKeyId=key_id, Status="Inactive")
        if is_sm:
            backend.tag(record, {"last_rotated": datetime.now(timezone.utc).isoformat(timespec="seconds")})  # type: ignore[attr-defined]
        self.result.validation = f"STS GetCallerIdentity: {arn}; old key {_key_hint(key_id)} deactivated"
        return self.done("ok")

    def _validate_key(self, fields: dict[str, str], expected_arn: str) -> str | None:
        """None when the key works as ``expected_arn``; else why not.  Retries ~10 s (IAM is eventually consistent)."""
        deadline = time.monotonic() + min(10.0, self.timeout)
        while True:
            verdict = self.validate("aws-access-key", fields)
            if verdict.status == "valid" and verdict.identity == expected_arn:
                return None
            if verdict.status == "valid":
                return f"the new key authenticates as {verdict.identity}, expected {expected_arn}"
            if time.monotonic() >= deadline:
                return f"the new key does not validate ({verdict.message})"
            time.sleep(1.0)


# -- choosing and refusing ---------------------------------------------------------------------------


MANUAL_STEPS = {
    "github-token": (
        "GitHub tokens (classic ghp_ and fine-grained github_pat_) cannot be rotated through an API. Steps: "
        "1) create a new fine-grained token with the same repositories, permissions and an expiry at "
        "https://github.com/settings/personal-access-tokens/new; 2) store it as a new version of this secret "
        "(vault kv patch / aws secretsmanager put-secret-value); 3) secretaudit validate --secret {name}; "
        "4) revoke the old token at https://github.com/settings/tokens"),
    "vault-token": (
        "Vault tokens are replaced, not rotated. Steps: 1) vault token create with the same policies and a "
        "period or ttl; 2) store it as a new version of this secret; 3) secretaudit validate --secret {name}; "
        "4) vault token revoke -accessor <old accessor>"),
}


def choose(config: "Config", backend: "Backend", record: "SecretRecord", dry_run: bool,
           echo: Callable[[str], None]) -> Rotation:
    """The rotation for this backend and kind, or a ``refused`` :class:`RotationError` with the manual steps."""
    name = f"{backend.label}:{record.name}"
    if record.kind in MANUAL_STEPS:
        raise RotationError(f"{name} is a {record.kind}, which secretaudit does not rotate: "
                            + MANUAL_STEPS[record.kind].format(name=record.name), "refused")
    if getattr(backend, "is_static_role", None) and backend.is_static_role(record):  # type: ignore[attr-defined]
        return VaultStaticRole(config, backend, record, dry_run, echo)
    if record.kind not in ROTATABLE:
        raise RotationError(f"{name} has kind {record.kind!r}, which secretaudit cannot rotate safely; set its kind "
                            f"metadata to one of {', '.join(ROTATABLE)}, or rotate it at its provider and store the "
                            "new value as a new version", "refused")
    if backend.type == "vault":
        if record.kind == "aws-access-key":
            return IamAccessKey(config, backend, record, dry_run, echo)
        return VaultKvPassword(config, backend, record, dry_run, echo)
    if backend.type == "aws-secrets-manager":
        if record.kind == "aws-access-key":
            return IamAccessKey(config, backend, record, dry_run, echo)
        if str(backend.describe(record).get("RotationLambdaARN") or ""):  # type: ignore[attr-defined]
            return SecretsManagerLambda(config, backend, record, dry_run, echo)
        return SecretsManagerStaged(config, backend, record, dry_run, echo)
    raise RotationError(f"{name} lives in a {backend.type} backend, which holds no values secretaudit can write; "
                        "rotate it where it is stored", "refused")


def rotate_secret(config: "Config", name: str, reason: str, dry_run: bool = False,
                  echo: Callable[[str], None] = lambda line: None,
                  found: "tuple[Backend, SecretRecord] | None" = None) -> RotationResult:
    """Rotate ``name``; every attempt is in the access trail (a ``started`` line before any change).

    ``found`` is the backend and record when the caller listed them already
    (``rotate --due``), so the name is not looked up again.
    """
    from secretaudit.backends import BackendError
    from secretaudit.secrets import SecretClient, SecretError

    if not reason.strip():
        raise RotationError("--reason is empty; say why (it goes into the access trail)", "config")
    client = SecretClient(config, config.stash.get("backends"), command="rotate")
    label, secret = "", name

    def trail(outcome: str, **extra: Any) -> None:
        try:
            client._trail(outcome, reason, label, secret, **extra)
        except SecretError as exc:
            raise RotationError(str(exc), "trail") from None

    try:
        backend, record = found if found is not None else client.resolve(name)
    except SecretError as exc:
        trail(exc.outcome, cause=exc.reason)
        raise RotationError(str(exc), exc.reason) from None
    label, secret = backend.label, record.name
    try:
        rotation = choose(config, backend, record, dry_run, echo)
        if dry_run:
            result = rotation.run()
            trail("dry-run", method=rotation.method)
            return result
        trail("started", method=rotation.method)
        result = rotation.run()
    except RotationError as exc:
        trail("refused" if exc.reason in ("refused", "two-keys") else "denied" if exc.reason == "denied"
              else "failed", cause=exc.reason, detail=str(exc)[:300])
        raise
    except BackendError as exc:
        trail("denied" if exc.reason == "denied" else "failed", cause=exc.reason)
        from secretaudit.secrets import CAUSES

        raise RotationError(f"{CAUSES.get(exc.reason, 'Backend error')}: {exc}", exc.reason) from None
    trail(result.outcome, old_version=result.old_version, new_version=result.new_version)
    return result


def due_for_rotation(config: "Config") -> tuple[list[tuple["Backend", "SecretRecord", str]], list[str]]:
    """``(backend, record, why)`` of every secret the lifecycle checks call due, and backend errors.

    Due means an issue from a check tagged ``rotation-due`` (rotation overdue
    against the policy, a missed scheduled rotation), judged through the
    ``secretaudit_check_record`` hook exactly as the nightly audit judges it,
    as of ``--as-of``.  A backend that cannot be listed is an error string;
    the others are still looked at.
    """
    from secretaudit.backends import BackendError

    checks = config.checks
    due: list[tuple["Backend", "SecretRecord", str]] = []
    problems: list[str] = []
    for backend in config.stash.get("backends") or ():
        try:
            records = list(backend.records())
        except BackendError as exc:
            problems.append(f"{backend.label}: {exc}")
            continue
        for record in sorted(records, key=lambda r: r.name):
            issues = [issue for result in config.hook.secretaudit_check_record(record=record, config=config)
                      for issue in (result or ())
                      if checks is not None and issue.check_id in checks
                      and "rotation-due" in checks.get(issue.check_id).tags]
            if issues:
                due.append((backend, record, "; ".join(i.message for i in issues)))
    return due, problems
