"""Where secretaudit keeps what it caches between runs.

The scan cache (:mod:`secretaudit.scan_cache`), compiled regex code
(:mod:`secretaudit.patterns`) and compiled Hyperscan databases
(:mod:`secretaudit.multiscan`) all live in one directory, as the XDG base
directory specification asks: ``$XDG_CACHE_HOME/secretaudit``, else
``~/.cache/secretaudit``.  The ``cache_dir`` setting moves the scan cache
only.  A plain string, and no imports beyond ``os``: every run, a
pre-commit hook's included, asks for it.
"""

from __future__ import annotations

import os


def cache_dir() -> str:
    """The directory secretaudit caches in (it may not exist yet)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "secretaudit")
