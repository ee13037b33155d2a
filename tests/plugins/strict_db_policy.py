"""A site's own validator, as a secretaudit plugin: database passwords need 40 characters.

Stricter than the rotation policy the rollback test configures (24), so the
password ``secretaudit rotate`` generates is rejected by validation, as a
real service (or a site's policy check) would reject it.  Loaded with
``-p tests.plugins.strict_db_policy``; it only ever answers for database
passwords, and defers every other kind to the built-in validators.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from secretaudit.hookspec import hookimpl
from secretaudit.model import Validation

if TYPE_CHECKING:
    from secretaudit.config import Config

MIN_LENGTH = 40


@hookimpl(tryfirst=True)
def secretaudit_validate_credential(kind: str, credential: dict[str, str], config: "Config") -> Validation | None:
    if kind != "database-password" or len(credential.get("password", "")) >= MIN_LENGTH:
        return None
    return Validation("invalid", message=f"site policy: database passwords need {MIN_LENGTH} characters")
