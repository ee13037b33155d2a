"""Deferring a module that a dependency imports but our use of it never touches.

detect-secrets imports ``requests`` at module level for its ``--verify``
feature, which secretaudit never calls: 120 ms of a pre-commit hook's budget
spent on an HTTP library.  :func:`defer` puts a stand-in in ``sys.modules``
that imports the real module the first time anything reads an attribute of it
(or imports one of its submodules), so code that does use it still works.

Likewise ``detect_secrets/__init__.py`` imports its whole scanning pipeline
(secrets collection, filters, logging, plugin discovery: about 30 ms) to
re-export one class, while secretaudit uses four leaf modules.
:func:`defer_package_init` makes the package importable without running its
``__init__`` until something asks the package itself for an attribute.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any


class _Deferred(types.ModuleType):
    """Becomes the real module on first attribute access."""

    def __getattr__(self, name: str) -> Any:
        real = self.__dict__.get("_real")
        if real is None:
            if sys.modules.get(self.__name__) is self:
                del sys.modules[self.__name__]
            real = importlib.import_module(self.__name__)
            self.__dict__["_real"] = real
        return getattr(real, name)


def defer(module_name: str) -> None:
    """Stand in for ``module_name`` until it is really used (no-op if already imported)."""
    if module_name not in sys.modules:
        sys.modules[module_name] = _Deferred(module_name)


class _PackageWithoutInit(types.ModuleType):
    """A package whose ``__init__`` runs on the first attribute that is not a submodule.

    ``from package import submodule`` asks the package for the attribute
    first; that must import the submodule, not run ``__init__`` (whose own
    imports would then be circular).
    """

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        import importlib.util

        submodule = f"{self.__name__}.{name}"
        if submodule in sys.modules or importlib.util.find_spec(submodule) is not None:
            return importlib.import_module(submodule)
        if self.__dict__.get("_initialised"):
            raise AttributeError(name)
        self.__dict__["_initialised"] = True
        self.__spec__.loader.exec_module(self)  # type: ignore[union-attr]
        return getattr(self, name)


def defer_package_init(package: str) -> None:
    """Let ``package.sub.module`` be imported without running ``package/__init__.py`` yet.

    No-op when the package is imported already or cannot be found.
    Submodules imported meanwhile stay, as attributes and in ``sys.modules``.
    """
    if package in sys.modules:
        return
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or spec.submodule_search_locations is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    module.__class__ = _PackageWithoutInit
    sys.modules[package] = module
