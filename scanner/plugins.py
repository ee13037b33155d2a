"""Building the plugin manager of one run.

A fresh :class:`pluggy.PluginManager` per run: built-ins from
:data:`DEFAULT_PLUGINS`, modules named in the config's ``plugins`` list, then
third-party plugins from the ``secretaudit`` entry-point group.  ``-p no:NAME``
blocks a plugin by its short name (``known_formats``, ``terminal``...) or by
its entry-point name before it is loaded.
"""

from __future__ import annotations

import importlib
from typing import Iterable

import pluggy

from scanner import hookspec
from scanner.errors import UsageError
from scanner.registry import CheckRegistry, FormatRegistry

#: Built-in plugins, registered under the last part of their module name.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "scanner.files",
    "scanner.terminal",
    "scanner.reportfiles",
    "checks.known_formats",
    "checks.generic",
    "checks.connection_strings",
    "checks.credential_files",
    "checks.git_history",
    "reports.json_report",
)

ENTRY_POINT_GROUP = "secretaudit"


def parse_plugin_options(options: Iterable[str]) -> tuple[set[str], list[str]]:
    """Split ``-p`` values into blocked names (``no:NAME``) and modules to load."""
    blocked: set[str] = set()
    extra: list[str] = []
    for option in options:
        if option.startswith("no:"):
            blocked.add(option[3:])
        else:
            extra.append(option)
    return blocked, extra


def make_pluginmanager(blocked: Iterable[str] = (), extra: Iterable[str] = (),
                       entry_points: bool = True) -> pluggy.PluginManager:
    """A new plugin manager with built-ins, extras and entry points loaded."""
    pm = pluggy.PluginManager("secretaudit")
    pm.add_hookspecs(hookspec)
    blocked = set(blocked)
    for name in blocked:
        pm.set_blocked(name)
    for module_name in (*DEFAULT_PLUGINS, *extra):
        short = module_name.rsplit(".", 1)[-1]
        if short in blocked or module_name in blocked:
            continue
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise UsageError(f"cannot load plugin {module_name!r} ({exc}); check -p / the plugins setting") from None
        pm.register(module, name=short)
    if entry_points:
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    pm.check_pending()
    return pm


def registries(pm: pluggy.PluginManager) -> tuple[CheckRegistry, FormatRegistry]:
    """Fill the check and format registries from every plugin."""
    checks, formats = CheckRegistry(), FormatRegistry()
    pm.hook.secretaudit_register_checks(registry=checks)
    pm.hook.secretaudit_register_formats(registry=formats)
    return checks, formats
