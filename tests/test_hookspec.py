"""Meta-tests that keep the plugin surface honest (datasette's idea).

Every hook is documented where it is declared, every hook is implemented by
at least one built-in plugin, and every built-in plugin loads cleanly.
"""

from __future__ import annotations

import inspect

import pytest

from secretaudit import hookspec
from secretaudit.config import Config, validate
from secretaudit.plugins import DEFAULT_PLUGINS, make_pluginmanager, registries

HOOKS = [name for name, _ in inspect.getmembers(hookspec, inspect.isfunction) if name.startswith("secretaudit_")]


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_is_documented(name: str) -> None:
    doc = inspect.getdoc(getattr(hookspec, name)) or ""
    params = [p for p in inspect.signature(getattr(hookspec, name)).parameters]
    assert len(doc.splitlines()) >= 3, f"{name} needs a docstring"
    for param in params:
        assert f":param {param}:" in doc, f"{name} does not document {param}"


def _pm_with_terminal():
    pm = make_pluginmanager(entry_points=False)
    config = Config(settings=validate({}, "<test>"), pluginmanager=pm)
    config.checks, config.formats = registries(pm)
    pm.hook.secretaudit_configure(config=config)
    return pm, config


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_has_a_builtin_implementation(name: str) -> None:
    pm, _ = _pm_with_terminal()
    assert getattr(pm.hook, name).get_hookimpls(), f"no built-in plugin implements {name}"


def test_default_plugins_register_checks_and_formats() -> None:
    _, config = _pm_with_terminal()
    assert {"SA101", "SA102", "SA103", "SA104"} <= {c.id for c in config.checks}
    assert "json" in config.formats
    for spec in config.checks:
        assert spec.title and spec.remediation and spec.controls, spec.id


def test_blocking_a_default_plugin() -> None:
    pm = make_pluginmanager(blocked={"generic"}, entry_points=False)
    checks, _ = registries(pm)
    assert "SA102" not in checks and "SA101" in checks
    assert len(DEFAULT_PLUGINS) == len(pm.get_plugins()) + 1


def test_each_run_gets_a_fresh_plugin_manager() -> None:
    first, second = make_pluginmanager(entry_points=False), make_pluginmanager(entry_points=False)
    assert first is not second
    class Extra:
        @hookspec.hookimpl
        def secretaudit_register_checks(self, registry):  # pragma: no cover - registration only
            pass
    first.register(Extra())
    assert len(first.get_plugins()) == len(second.get_plugins()) + 1
