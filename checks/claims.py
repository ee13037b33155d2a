"""Values a file-kind check reports itself, which the generic checks then leave alone.

SA104 (a committed credential file) and SA106 (an agent or deploy config)
each report a credential with the fix that fits the file: delete it from the
repository, or replace the literal with a secret reference.  SA102's keyword
guess and SA103's connection-string finding on the same value would repeat
that finding with a vaguer remediation, so they skip what these claim.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from secretaudit.config import Config
    from secretaudit.model import FileItem


def _runs(config: "Config", check_id: str) -> bool:
    return config.is_enabled(check_id) and (config.checks is None or check_id in config.checks)


def claimed_values(item: "FileItem", config: "Config") -> frozenset[str]:
    """The secrets SA104 and SA106 report in ``item`` (empty for ordinary files: a name test each)."""
    values: set[str] = set()
    if _runs(config, "SA104"):
        from secretaudit.checks import credential_files

        claimed = credential_files.claimed_secret(item)
        if claimed:
            values.add(claimed)
    if _runs(config, "SA106"):
        from secretaudit.checks import agent_configs

        values |= agent_configs.claimed_secrets(item, config)
    return frozenset(values)
