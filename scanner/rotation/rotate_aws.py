"""Rotating secrets held in AWS Secrets Manager, and IAM access keys wherever they are stored.

The protocols are described in :mod:`secretaudit.rotation`, which picks
these classes through the ``secretaudit_rotation_for`` hook.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

from secretaudit.hookspec import hookimpl
from secretaudit.rotation import (Rotation, RotationError, RotationResult, _same, change_db_password,
                                  generate_password, password_policy)

if TYPE_CHECKING:
    from secretaudit.backends import Backend
    from secretaudit.model import SecretRecord


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
    from secretaudit.credentials import VALIDATED_KINDS

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
        from secretaudit.clients.aws import aws_client

        return aws_client(service, options, self.timeout, attempts=2)

    def _call(self, what: str, func: Callable[..., Any], *secrets: str, **kwargs: Any) -> Any:
        from secretaudit.clients.aws import scrub

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

        def undo(message: str, restore: Callable[[], str | None] | None = None) -> RotationResult:
            note = (restore() or "") if restore is not None else ""
            self._call("DeleteAccessKey", iam.delete_access_key, secret, new_secret, UserName=user,
                       AccessKeyId=new_id)
            return self.done("rolled-back", f"{message}; the previous version was restored and the new key "
                                            f"{_key_hint(new_id)} deleted{note}")

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
            def restore() -> str:
                restored = backend.kv_write(record, fields, cas=int(new_version or 0))  # type: ignore[attr-defined]
                return self.not_a_rotation(restored)

            return undo(verdict, restore)
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




@hookimpl
def secretaudit_rotation_for(backend: "Backend", record: "SecretRecord") -> "type[Rotation] | None":
    """The rotation for a Secrets Manager secret: the IAM two-key procedure, its Lambda's, or a staged version."""
    from secretaudit.backends.aws import AwsSecretsManagerBackend

    if not isinstance(backend, AwsSecretsManagerBackend):
        return None
    if record.kind == "aws-access-key":
        return IamAccessKey
    if str(backend.describe(record).get("RotationLambdaARN") or ""):
        return SecretsManagerLambda
    return SecretsManagerStaged
