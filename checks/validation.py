"""SA401-SA403: does every credential still work, and is it who it should be?

``secretaudit validate --secret NAME`` (or ``--all``) fetches each chosen
secret from its backend, hands its fields to the ``secretaudit_validate_
credential`` hook (AWS STS, GitHub ``/user``, Vault ``lookup-self``, a real
database login), and drops them.  The value exists only for that one call:
it is never stored, logged or put in a result.

- SA401: the service rejected the credential (revoked, expired, wrong).
- SA402: validation could not run (server down, no validator, no value):
  an ``error``, never a pass.
- SA403: an AWS key works but is not the identity the policy expects
  (``policy.scopes.aws_role``).
"""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING

from secretaudit.controls import NIST_IA_5
from secretaudit.hookspec import hookimpl
from secretaudit.model import CheckSpec, SecretRecord, Severity, Status, Target, Validation
from secretaudit.stash import BACKENDS, VALIDATE, VALIDATED, VERIFY
from secretaudit.targets import TargetError, TargetFamily, TargetRun, Verdict

if TYPE_CHECKING:
    from secretaudit.backends import Backend
    from secretaudit.model import Detection, FileItem
    from secretaudit.config import Config
    from secretaudit.registry import CheckRegistry
    from secretaudit.targets import FamilyRegistry

_COMMON = {"tags": ("validation",), "controls": (NIST_IA_5,), "applies_to": ("validate",)}

SPECS = (
    CheckSpec(id="SA401", title="Credential rejected by its service", severity=Severity.HIGH,
              description="The service answered that the credential is invalid, revoked or expired.",
              remediation="Rotate the credential (secretaudit rotate, or the provider's console) and store the new "
                          "value in the secret manager; find and fix whatever still uses the old one.", **_COMMON),
    CheckSpec(id="SA402", title="Credential could not be validated", severity=Severity.MEDIUM,
              description="Validation could not run: the service was unreachable, the value could not be read, or "
                          "no validator knows the kind. An error, never a pass.",
              remediation="Fix what the message names (network, permissions to read the value, the secret's "
                          "fields or kind) and validate again.", **_COMMON),
    CheckSpec(id="SA107", title="Live credential committed to the repository", severity=Severity.CRITICAL,
              description="A hardcoded credential found by scan --verify still works: its service accepted it.",
              remediation="Revoke it now at the provider (it is usable by anyone who can read the repository or "
                          "its history), then move its replacement to a secret manager.",
              tags=("hardcoded", "credentials", "validation"), controls=(NIST_IA_5,), applies_to=("path",)),
    CheckSpec(id="SA403", title="Credential is not the expected identity", severity=Severity.HIGH,
              description="The credential works but authenticates as another identity than the policy expects.",
              remediation="Replace it with a credential of the expected role or user (policy.scopes.aws_role), or "
                          "correct the policy if the identity changed on purpose.", **_COMMON),
)

def _finding(check_id: str, status: Status, record: SecretRecord, message: str) -> Verdict:
    return Verdict(check_id, record.backend, record.name, message, status)


def validate_record(backend: "Backend", record: SecretRecord, config: "Config") -> list[Verdict]:
    """Fetch, validate and forget one secret; the verdicts (none when it works as expected)."""
    from secretaudit.backends import BackendError
    from secretaudit.credentials import credential_fields  # here: `scan` loads this plugin, never this path

    try:
        fields = backend.fetch(record)
    except BackendError as exc:
        return [_finding("SA402", Status.ERROR, record, f"could not validate: {exc}")]
    credential = credential_fields(record.kind, fields)
    del fields
    if not credential:
        return [_finding("SA402", Status.ERROR, record, f"could not validate: no {record.kind} fields in the "
                         "secret (expected e.g. token, personal_access_token, access_key_id/secret_access_key, "
                         "mysql_host/mysql_user/mysql_password)")]
    result: Validation | None = config.hook.secretaudit_validate_credential(
        kind=record.kind, credential=credential, config=config)
    del credential
    if result is None:
        return [_finding("SA402", Status.ERROR, record, f"could not validate: no validator for kind {record.kind}")]
    if result.status == "invalid":
        return [_finding("SA401", Status.FAILED, record, result.message or "the service rejected it")]
    if result.status != "valid":
        return [_finding("SA402", Status.ERROR, record, result.message or "could not validate")]
    expected = (config.settings["policy"].get("scopes") or {}).get("aws_role")
    if record.kind == "aws-access-key" and expected and not _same_identity(result.identity, expected):
        return [_finding("SA403", Status.FAILED, record, f"authenticates as {result.identity}, expected {expected}")]
    return []


def _same_identity(identity: str, expected: str) -> bool:
    """An assumed-role ARN matches its role ARN (``arn:aws:sts::ACCT:assumed-role/NAME/session``)."""
    if identity == expected or fnmatch.fnmatchcase(identity, expected):
        return True
    if ":assumed-role/" in identity and ":role/" in expected:
        account = identity.split(":")[4]
        role = identity.split(":assumed-role/")[1].split("/")[0]
        return expected.split(":")[4] == account and expected.rsplit("/", 1)[-1] == role
    return False


#: SA101 rules whose value alone is a credential a validator can try, by kind.
_TOKEN_RULES = {"github-pat": "github-token", "github-oauth-token": "github-token",
                "github-user-to-server-token": "github-token", "github-server-to-server-token": "github-token",
                "github-fine-grained-pat": "github-token"}


def _candidates(detections: list["Detection"]) -> list[tuple["Detection", str, dict[str, str]]]:
    """(detection to report on, kind, credential) for every verifiable hardcoded credential."""
    found = [(d, _TOKEN_RULES[d.rule], {"token": d.secret}) for d in detections if d.rule in _TOKEN_RULES]
    key_ids = [d for d in detections if d.rule in ("aws-access-key-id", "aws-temporary-access-key-id")]
    secrets = [d for d in detections if d.rule == "aws-secret-access-key"]
    for key_id, secret in zip(key_ids, secrets):  # pairs in file order, as they are usually written
        found.append((key_id, "aws-access-key", {"access_key_id": key_id.secret, "secret_access_key": secret.secret}))
    return found


@hookimpl
def secretaudit_derive_detections(item: "FileItem", detections: list["Detection"], config: "Config") -> list["Detection"] | None:
    """``scan --verify``: SA107 for every hardcoded credential its service still accepts.

    A credential the service did not clearly accept or reject (a 5xx, a
    timeout, a refused connection, an answer that is not the service's) is an
    SA107 *error*: "could not verify" must never read as "not live".
    """
    if not config.stash.get(VERIFY) or not config.is_enabled("SA107"):
        return None
    from secretaudit.model import Detection

    derived = []
    for detection, kind, credential in _candidates(detections):
        result = config.hook.secretaudit_validate_credential(kind=kind, credential=credential, config=config)
        del credential
        if result is not None and result.status == "invalid":
            continue  # dead: the SA101/SA102 finding stands on its own
        if result is not None and result.status == "valid":
            label, error = f"live {detection.label}: accepted as {result.identity or 'a valid identity'}", False
        else:
            why = result.message.removeprefix("could not validate: ") if result is not None and result.message \
                else f"no validator for {kind}"
            label, error = f"{detection.label} could not be verified: {why}", True
        derived.append(Detection(check_id="SA107", line=detection.line, secret=detection.secret, label=label,
                                 visible_prefix=detection.visible_prefix, rule=detection.rule, error=error))
    return derived


#: Trail outcome of a validation, by the finding it produced (none: ok).
_OUTCOMES = {"SA401": "rejected", "SA402": "error", "SA403": "wrong-identity"}


def _record_trail(record: SecretRecord, verdicts: list[Verdict], config: "Config") -> list[Verdict]:
    """One access-trail line per validated secret (its value was read); an unwritable trail is an error result."""
    from secretaudit.trail import record as trail_record, trail_path

    outcome = next((_OUTCOMES[v.check_id] for v in verdicts if v.check_id in _OUTCOMES), "ok")
    try:
        trail_record(config, "validate", record.name, record.backend, outcome, "",
                     **({"check": verdicts[0].check_id} if verdicts else {}))
    except OSError as exc:
        return [_finding("SA402", Status.ERROR, record, f"the access trail {trail_path(config)} cannot be written "
                         f"({exc.strerror or exc}): this read went unaudited; fix the file or audit_log")]
    return []


def _selected(backend: "Backend", record: SecretRecord, wanted: list[str], backends: "list[Backend]") -> bool:
    """Whether ``record`` is one of the secrets asked for: NAME, BACKEND:NAME (as ``get`` resolves it), globs."""
    if not wanted:
        from secretaudit.credentials import VALIDATED_KINDS

        return record.kind in VALIDATED_KINDS
    from secretaudit.backends import split_name

    full = f"{record.backend}:{record.name}"
    for pattern in wanted:
        if fnmatch.fnmatchcase(record.name, pattern) or fnmatch.fnmatchcase(full, pattern):
            return True
        named, bare = split_name(backends, pattern)
        if bare != pattern and backend in named and fnmatch.fnmatchcase(record.name, bare):
            return True
    return False


@hookimpl
def secretaudit_register_checks(registry: "CheckRegistry") -> None:
    for spec in SPECS:
        registry.add(spec)


class Validations(TargetFamily[SecretRecord]):
    """SA401-SA403 (``secretaudit validate``): one target per backend, whose units are the secrets chosen."""

    kind = "validate"
    mode = "validate"
    specs = SPECS
    noun = "secrets"

    def targets(self, config: "Config") -> list[Target]:
        return [Target(kind="validate", name=f"validate {backend.label}", path=str(index))
                for index, backend in enumerate(config.stash[BACKENDS])]

    def shard_key(self, target: Target) -> None:
        return None  # validate has never split by --shard: every shard validates every secret asked for

    def units(self, run: TargetRun) -> list[SecretRecord]:
        from secretaudit.backends import BACKEND_ERROR_CHECK, BackendError

        config = run.config
        backend = config.stash[BACKENDS][int(run.target.path)]
        wanted: list[str] = config.stash[VALIDATE]
        backends = config.stash[BACKENDS]
        try:
            records = [r for r in backend.records() if _selected(backend, r, wanted, backends)]
        except BackendError as exc:
            raise TargetError(Verdict(BACKEND_ERROR_CHECK, backend.label, "*", f"could not validate: {exc}",
                                      Status.ERROR, identity=backend.label)) from None
        config.stash.setdefault(VALIDATED, []).extend(f"{r.backend}:{r.name}" for r in records)
        return records

    def judge(self, run: TargetRun, unit: SecretRecord) -> list[Verdict]:
        backend = run.config.stash[BACKENDS][int(run.target.path)]
        verdicts = validate_record(backend, unit, run.config)
        return verdicts + _record_trail(unit, verdicts, run.config)


@hookimpl
def secretaudit_register_families(registry: "FamilyRegistry") -> None:
    registry.add(Validations())
