"""Where a subject that is not a file is declared: the file and line a reviewer edits.

A finding about a backend secret, a config setting, an IAM principal or a
database account has no file of its own, yet two readers need one: the
reviewer who has to change something (the config entry that declares the
backend, the inventory line of the secret), and GitHub code scanning, which
rejects a whole SARIF upload when one result lacks a physical location.

The engine asks this module once per finding, so no check has to:

- :func:`line_of` maps a config key path (``("backends", 0)``) to its line,
  from one parse of the config file per run (:func:`secretaudit.safeyaml.key_lines`;
  a TOML config is searched line by line for the key);
- :func:`relative` makes a path relative to the scan root, the repository,
  as reports show every path (code scanning resolves them from the checkout);
- :func:`declaration` puts the two together: ``(path, line)`` of a key of
  the config file, line 1 when the key cannot be found (the config is still
  what declared the subject);
- :func:`backend_key` is the key that declares the run's N-th backend, in a
  ``secretaudit.yaml`` (``backends[N]``) or an ``openclaw.yaml`` (its
  ``external_secrets`` block comes first).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from secretaudit.stash import StashKey

if TYPE_CHECKING:
    from secretaudit.config import Config

KeyPath = tuple["str | int", ...]
#: Where a subject is declared: a path (relative to the scan root when under it) and a 1-based line.
Declaration = tuple[str, int]

#: the config file's (stat signature, text, key lines), read once per run
_CACHE: StashKey[tuple[tuple[str, int, int], str, dict[KeyPath, int]]] = StashKey("declared_key_lines")


def relative(config: "Config", path: str | os.PathLike[str]) -> str:
    """``path`` as reports show paths: relative to the scan root (:func:`secretaudit.shownpaths.shown_path`)."""
    from secretaudit.shownpaths import shown_path

    return shown_path(os.fspath(path), config)


def _text_line(text: str, path: KeyPath) -> int | None:
    """The first line assigning the last key of ``path`` (TOML, or YAML that does not parse)."""
    keys = [p for p in path if isinstance(p, str)]
    if not keys:
        return None
    pattern = re.compile(rf"(^|[\s{{,]){re.escape(keys[-1])}[\"']?\s*[=:]")
    for number, line in enumerate(text.splitlines(), 1):
        if pattern.search(line):
            return number
    return None


def _parsed(config: "Config") -> tuple[str, dict[KeyPath, int]]:
    """The config file's text and key lines, read once per run (again only if the file changed)."""
    source = config.source or ""
    try:
        info = os.stat(source)
        signature = (source, info.st_mtime_ns, info.st_size)
    except OSError:
        signature = (source, 0, 0)
    cached = config.stash.get(_CACHE)
    if cached is not None and cached[0] == signature:
        return cached[1], cached[2]
    try:
        text = Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = ""
    lines: dict[KeyPath, int] = {}
    if text and not source.endswith(".toml"):
        import yaml

        from secretaudit import safeyaml

        try:
            lines = safeyaml.key_lines(text, yaml.SafeLoader)
        except (yaml.YAMLError, safeyaml.YAMLBomb):
            lines = {}
    config.stash[_CACHE] = (signature, text, lines)
    return text, lines


def line_of(config: "Config", path: KeyPath) -> int | None:
    """1-based line of the key at ``path`` in the config file (or of its deepest existing parent); None if unknown."""
    if not config.source:
        return None
    text, lines = _parsed(config)
    line = None
    prefix: KeyPath = ()
    for part in path:
        step = (*prefix, part)
        if step not in lines and isinstance(part, int):
            step = (*prefix, str(part))  # an int-like mapping key (``1: ...``)
        if step not in lines:
            break
        prefix, line = step, lines[step]
    return line if line is not None else _text_line(text, path)


def declaration(config: "Config", path: KeyPath = ()) -> Declaration | None:
    """The config file (relative to the scan root) and the line of ``path`` in it (1 when not found)."""
    if not config.source:
        return None
    return relative(config, config.source), (line_of(config, path) if path else None) or 1


def backend_key(config: "Config", index: int) -> KeyPath:
    """The key that declares ``config.settings["backends"][index]`` in the config file.

    An openclaw.yaml's ``external_secrets`` block (when enabled) is the first
    backend, its own ``backends`` list follows (see
    :func:`secretaudit.config.from_openclaw_file`).
    """
    block = config.raw.get("external_secrets") if isinstance(config.raw, dict) else None
    if isinstance(block, dict) and block.get("enabled", True):
        if index == 0:
            from secretaudit.config import OPENCLAW_BACKENDS

            kind = OPENCLAW_BACKENDS.get(str(block.get("backend", "vault")))
            return ("external_secrets", kind) if kind and kind in block else ("external_secrets",)
        index -= 1
    return ("backends", index)
