"""Ownership of a secret between overlapping file checks, decided by the engine.

SA104 (a committed credential file) and SA106 (an agent or deploy config)
each report a credential with the fix that fits the file: delete it from the
repository, or replace the literal with a secret reference.  SA102's keyword
guess and SA103's connection-string finding on the same value would repeat
that finding with a vaguer remediation, so they skip what these claim.  Who
claims over whom is declared in each :class:`~secretaudit.model.CheckSpec`
(``claims_over``); this module asks the claiming checks through the
``secretaudit_claimed_values`` hook, so no check imports another.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from secretaudit.stash import StashKey

if TYPE_CHECKING:
    from secretaudit.config import Config
    from secretaudit.model import FileItem
    from secretaudit.registry import CheckRegistry

#: the built-in file checks' hooks and catalogue, for a configuration built without plugins
CLAIMS_HOOK: StashKey[Any] = StashKey("claims_plugins")
CLAIMS_CATALOGUE: StashKey["CheckRegistry"] = StashKey("claims_catalogue")


def _runs(config: "Config", check_id: str) -> bool:
    return config.is_enabled(check_id) and (config.checks is None or check_id in config.checks)


def _plugins(config: "Config") -> Any:
    """The run's hooks; a configuration built without plugins (a library caller driving one
    check's hooks itself) gets the built-in file checks, once, as a run of ``scan`` would."""
    if config.pluginmanager is not None:
        return config.hook
    hook = config.stash.get(CLAIMS_HOOK)
    if hook is None:
        from secretaudit.plugins import make_pluginmanager

        hook = config.stash[CLAIMS_HOOK] = make_pluginmanager(entry_points=False, audit=False).hook
    return hook


def _catalogue(config: "Config") -> "CheckRegistry":
    """The run's check registry, or the one the plugins of :func:`_plugins` register."""
    if config.checks is not None:
        return config.checks
    registry = config.stash.get(CLAIMS_CATALOGUE)
    if registry is None:
        from secretaudit.registry import CheckRegistry

        registry = config.stash[CLAIMS_CATALOGUE] = CheckRegistry()
        _plugins(config).secretaudit_register_checks(registry=registry)
    return registry


def claimants(config: "Config", check_id: str | None = None) -> frozenset[str]:
    """The running checks that claim over ``check_id`` (over any check when it is None)."""
    return frozenset(spec.id for spec in _catalogue(config)
                     if spec.claims_over and (check_id is None or check_id in spec.claims_over)
                     and _runs(config, spec.id))


def claimed_values(item: "FileItem", config: "Config", check_id: str | None = None) -> frozenset[str]:
    """The secrets in ``item`` that checks ranked above ``check_id`` report (empty for ordinary files)."""
    wanted = claimants(config, check_id)
    if not wanted:
        return frozenset()
    values: set[str] = set()
    for answer in _plugins(config).secretaudit_claimed_values(item=item, config=config, check_ids=wanted):
        for claimant, claimed in (answer or {}).items():
            if claimant in wanted:
                values.update(claimed)
    return frozenset(values)
