"""What a run examined, counted by what it is: "4 files, 1 config file and 16 secrets".

A run's ``files_scanned`` adds up every unit judged (files, git blobs, the
config file, backend secrets, IAM principals, Vault policies, database
accounts...), so calling the total "files" misleads: an audit of 4 files and
16 inventory secrets is not "21 files scanned".  The session counts units per
target kind (``Session.scanned_by_kind``); this module names them: the
family's own ``noun`` (:class:`secretaudit.targets.TargetFamily`) for a
family's kind, the names below for the kinds run outside the family runner.
Every report and the terminal say the same thing through :func:`audited`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from secretaudit.targets import families

if TYPE_CHECKING:
    from secretaudit.config import Config
    from secretaudit.session import Session

#: Units of the kinds run outside the family runner (files: :mod:`secretaudit.file_targets`;
#: the config file and backend secrets: :mod:`secretaudit.backends`).
BUILTIN_NOUNS = {"path": "files", "config": "config files", "backend": "secrets"}


def unit_noun(config: "Config", kind: str) -> str:
    """What one target kind's units are called, plural ("files", "secrets", "policies"...).

    "items" for a kind no loaded plugin names (a report merged without the
    plugin that wrote it).
    """
    if kind in BUILTIN_NOUNS:
        return BUILTIN_NOUNS[kind]
    family = families(config).get(kind)
    return family.noun if family is not None else "items"


def singular(noun: str) -> str:
    """``policies`` -> ``policy``, ``config files`` -> ``config file``: for a count of one."""
    if noun.endswith("ies"):
        return noun[:-3] + "y"
    return noun[:-1] if noun.endswith("s") else noun


@dataclass(frozen=True)
class Audited:
    """How many units of one target kind the run examined, and what they are called."""

    kind: str
    noun: str
    count: int

    def __str__(self) -> str:
        return f"{self.count} {singular(self.noun) if self.count == 1 else self.noun}"


def audited(session: "Session") -> list[Audited]:
    """Units examined per target kind, in the targets' order; a kind whose targets examined nothing shows 0."""
    kinds = list(dict.fromkeys([t.kind for t in session.targets] + list(session.scanned_by_kind)))
    return [Audited(kind, unit_noun(session.config, kind), session.scanned_by_kind.get(kind, 0)) for kind in kinds]


def audited_text(session: "Session") -> str:
    """``4 files, 1 config file and 16 secrets`` (``nothing`` when no target ran)."""
    parts = [str(a) for a in audited(session)] or ["nothing"]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
