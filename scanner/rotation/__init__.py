"""``secretaudit rotate``: rotate one secret, validate the new credential, roll back if it fails.

This module is the generic half: the rotation base class, passwords, the
choice, the access-trail lines.  Each backend that can write values keeps
its protocols in a module of this package (``rotation/rotate_vault.py``,
``rotation/rotate_aws.py``), a plugin answering the ``secretaudit_rotation_for``
hook, so backends know nothing of rotation and this module nothing of any
backend;
logging in to a database to change its password is
:mod:`secretaudit.clients.database`'s.  Every protocol
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

  The pending version (1) and a rollback's restored fields are marked in
  custom_metadata as not rotations, so ``last_rotated`` (SA203's clock)
  stays the time of the last real change.

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

import hmac
import secrets as _secrets
import string
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from secretaudit.errors import ExitCode
from secretaudit.stash import BACKENDS

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
    from secretaudit.clients.database import DatabaseError, parse_credential, scrub_db_message, set_own_password

    parsed = parse_credential({**fields, password_field(fields) or "password": current})
    if isinstance(parsed, str):
        raise RotationError(f"cannot change the database password: {parsed}", "config")
    where = f"{parsed['user']} in {parsed['engine']} at {parsed['host']}:{parsed['port']}"
    try:
        set_own_password(parsed, current, new, timeout)
    except DatabaseError as exc:
        raise RotationError(f"cannot change the password of {where}: {scrub_db_message(str(exc), current, new)}",
                            "denied" if exc.reason == "denied" else "failed") from None
    except Exception as exc:  # the driver's own errors (a missing privilege, a closed connection)
        raise RotationError(f"cannot change the password of {where}: "
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
        from secretaudit.credentials import credential_fields
        from secretaudit.model import Validation

        credential = credential_fields(kind, {k: v for k, v in fields.items() if k != PENDING_FIELD})
        if not credential:
            return Validation("unknown", message=f"no {kind} fields to validate")
        answer = self.config.hook.secretaudit_validate_credential(kind=kind, credential=credential,
                                                                  config=self.config)
        del credential
        return answer or Validation("unknown", message=f"no validator for kind {kind}")

    def not_a_rotation(self, version: str | None) -> str:
        """Tell the backend that the version just written holds a value that was not rotated now.

        A pending password and a rollback's restored fields are new versions
        (Vault KV) whose credential did not change: the record's
        ``last_rotated`` must stay what it was, or a failed attempt would
        restart the SA203 clock.  Backends without versions that count as
        rotations have no ``mark_not_rotated``.  Returns '' or a sentence for
        the result's message when the mark could not be written.
        """
        from secretaudit.backends import BackendError

        mark = getattr(self.backend, "mark_not_rotated", None)
        if not callable(mark) or not version or self.record.last_rotated is None:
            return ""
        try:
            mark(self.record, version, self.record.last_rotated)
        except BackendError as exc:
            return f"; version {version} could not be marked as not rotated, so the audit counts it as a rotation ({exc})"
        return ""

    def done(self, outcome: str, message: str = "") -> RotationResult:
        self.result.outcome = outcome
        self.result.message = message
        return self.result

    def run(self) -> RotationResult:  # pragma: no cover - every subclass implements it
        raise NotImplementedError


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
    if record.kind not in ROTATABLE and not backend.rotates_itself(record):
        raise RotationError(f"{name} has kind {record.kind!r}, which secretaudit cannot rotate safely; set its kind "
                            f"metadata to one of {', '.join(ROTATABLE)}, or rotate it at its provider and store the "
                            "new value as a new version", "refused")
    rotation = config.hook.secretaudit_rotation_for(backend=backend, record=record)
    if rotation is None:
        raise RotationError(f"{name} lives in a {backend.type} backend, which holds no values secretaudit can "
                            "write; rotate it where it is stored", "refused")
    return rotation(config, backend, record, dry_run, echo)


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
    client = SecretClient(config, config.stash.get(BACKENDS), command="rotate")
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
    for backend in config.stash.get(BACKENDS) or ():
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
