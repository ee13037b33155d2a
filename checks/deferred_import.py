"""Deferring a module that a dependency imports but our use of it never touches.

detect-secrets imports ``requests`` at module level for its ``--verify``
feature, which secretaudit never calls: 120 ms of a pre-commit hook's budget
spent on an HTTP library.  :func:`defer` puts a stand-in in ``sys.modules``
that imports the real module the first time anything reads an attribute of it
(or imports one of its submodules), so code that does use it still works.
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
