"""Rotating secrets held in Vault: KV v2 versions and database static roles.

The protocols are described in :mod:`secretaudit.rotation`, which picks
these classes through the ``secretaudit_rotation_for`` hook.  IAM access keys
stored in Vault KV rotate through the AWS two-key procedure
(:class:`secretaudit.rotation.rotate_aws.IamAccessKey`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from secretaudit.hookspec import hookimpl
from secretaudit.rotation import (PENDING_FIELD, Rotation, RotationError, RotationResult, _same, change_db_password,
                                  generate_password, password_field, password_policy)

if TYPE_CHECKING:
    from secretaudit.backends import Backend
    from secretaudit.model import SecretRecord


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
                                        f"as version {restored}" + self.not_a_rotation(restored))

    def _database(self, old: dict[str, str], version: str | None, target: str, new: str) -> RotationResult:
        backend, record = self.backend, self.record
        current_password = old[target]
        self.step(f"createSecret: store the new password as pending in {record.path}")
        pending = backend.kv_write(record, {**old, PENDING_FIELD: new}, cas=int(version or 0))  # type: ignore[attr-defined]
        unmarked = self.not_a_rotation(pending)
        self.step("setSecret: change the database password")
        try:
            change_db_password(old, current_password, new, self.timeout)
        except RotationError as exc:
            restored = backend.kv_write(record, old, cas=int(pending))  # type: ignore[attr-defined]
            raise RotationError(f"{exc}; the database password is unchanged and the pending value was discarded"
                                + (self.not_a_rotation(restored) or unmarked), exc.reason) from None
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
                                            f"version {restored}" + self.not_a_rotation(restored))
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
                  f"(version {written}){self.not_a_rotation(written)}")
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




@hookimpl
def secretaudit_rotation_for(backend: "Backend", record: "SecretRecord") -> "type[Rotation] | None":
    """The rotation for a Vault secret: a static role's endpoint, the IAM two-key procedure, or a KV version."""
    from secretaudit.backends.vault import VaultBackend

    if not isinstance(backend, VaultBackend):
        return None
    if backend.is_static_role(record):
        return VaultStaticRole
    if record.kind == "aws-access-key":
        from secretaudit.rotation.rotate_aws import IamAccessKey

        return IamAccessKey
    return VaultKvPassword
