"""SA111: a repository holds the value of a managed secret (``secretaudit audit --correlate``).

A hardcoded credential is bad; one that is the *current* value of a secret
the backend manages is worse: the leak bypasses the manager, and every
consumer that reads the secret uses the leaked value.  The engine
(:mod:`secretaudit.correlate`) finds the matches without holding a value in
any result; this module only judges them: the current value is critical
(rotate now), an older version high (rotate if the old value still works,
since a rotation that did not revoke the old credential left it live).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from secretaudit.controls import HARDCODED_CREDENTIALS, NIST_IA_5
from secretaudit.hookspec import hookimpl
from secretaudit.model import CheckSpec, Issue, Severity

if TYPE_CHECKING:
    from secretaudit.config import Config
    from secretaudit.correlate import Match
    from secretaudit.registry import CheckRegistry

SPEC = CheckSpec(
    id="SA111", title="Repository holds the live value of a managed secret", severity=Severity.CRITICAL,
    description=("A credential hardcoded in a repository is the current value (critical) or an older version "
                 "(high) of a secret the audited backend manages: the leak bypasses the secret manager. Found by "
                 "audit --correlate, which compares keyed hashes only."),
    remediation=("Rotate the secret now (secretaudit rotate --secret BACKEND:NAME --reason 'leaked in repo'), then "
                 "remove the value from the file and its history and read it from the backend at run time."),
    tags=("hardcoded", "credentials", "correlation"), controls=(*HARDCODED_CREDENTIALS, NIST_IA_5),
    applies_to=("path",))


def rotate_command(match: "Match") -> str:
    """The command that rotates the matched secret, as the message tells it."""
    return f"secretaudit rotate --secret {match.record.backend}:{match.record.name} --reason 'leaked in repo'"


@hookimpl
def secretaudit_register_checks(registry: "CheckRegistry") -> None:
    registry.add(SPEC)


@hookimpl
def secretaudit_judge_match(match: "Match", config: "Config") -> list[Issue]:
    also = f" (also line{'s' if len(match.also) > 1 else ''} {', '.join(map(str, match.also))})" if match.also else ""
    where = f"{match.sighting.path}:{match.sighting.line}{also}"
    secret = f"{match.record.backend}:{match.record.name}"
    field = f" (field {match.field})" if match.field not in ("value", "") else ""
    if not match.stale:
        return [Issue(SPEC.id, f"the value at {where} is the current value of {secret}{field}: rotate it now "
                               f"({rotate_command(match)})", key="current")]
    return [Issue(SPEC.id, f"the value at {where} is an older version ({match.version}) of {secret}{field}: "
                           f"still rotate it if the old value is valid ({rotate_command(match)})",
                  severity=Severity.HIGH, key="stale")]
