"""Per-run state: the stash takes typed keys only, and no module of the package uses a string key."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import secretaudit
import secretaudit.checks
import secretaudit.reports
from secretaudit.config import Config
from secretaudit.stash import BACKENDS, Stash, StashKey

#: the engine, the checks and the reports, wherever the install maps them (an editable install keeps the three
#: folders apart: secretaudit.checks does not live under secretaudit's folder)
FOLDERS = [Path(module.__file__).parent for module in (secretaudit, secretaudit.checks, secretaudit.reports)]


def test_a_string_key_is_refused_so_string_keys_cannot_creep_back() -> None:
    stash = Stash()
    for use in (lambda: stash["backends"], lambda: stash.get("backends"),  # type: ignore[call-overload]
                lambda: stash.setdefault("backends", []), lambda: "backends" in stash):  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="StashKey"):
            use()


def test_keys_with_the_same_name_do_not_collide() -> None:
    """Two plugins that happen to pick the same name keep their own values."""
    mine: StashKey[int] = StashKey("state")
    theirs: StashKey[str] = StashKey("state")
    stash = Stash()
    stash[mine] = 1
    stash[theirs] = "x"
    assert (stash[mine], stash[theirs], len(stash)) == (1, "x", 2)
    assert stash.get(StashKey("state")) is None
    assert stash.setdefault(mine, 5) == 1 and stash.pop(theirs) == "x" and theirs not in stash


def test_each_run_has_its_own_stash() -> None:
    first, second = Config(settings={}), Config(settings={})
    first.stash[BACKENDS] = []
    assert BACKENDS not in second.stash


def _string_key_uses(tree: ast.AST) -> list[int]:
    """Lines where ``<x>.stash[...]`` or ``<x>.stash.get/setdefault/pop(...)`` is given a string literal."""
    def is_stash(node: ast.AST) -> bool:
        return isinstance(node, ast.Attribute) and node.attr == "stash"

    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and is_stash(node.value):
            key = node.slice
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and is_stash(node.func.value)
              and node.func.attr in ("get", "setdefault", "pop") and node.args):
            key = node.args[0]
        elif isinstance(node, ast.Compare) and any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops) \
                and any(is_stash(c) for c in node.comparators):
            key = node.left
        else:
            continue
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            lines.append(node.lineno)
    return lines


def test_no_module_of_the_package_keys_the_stash_by_string() -> None:
    paths = sorted({path for folder in FOLDERS for path in folder.rglob("*.py")})
    assert any(path.name == "known_formats.py" for path in paths) and any(path.name == "sarif_report.py"
                                                                          for path in paths)
    found = {str(path): lines for path in paths
             if (lines := _string_key_uses(ast.parse(path.read_text(encoding="utf-8"))))}
    assert found == {}
    # the walk itself recognises the shapes it looks for
    assert _string_key_uses(ast.parse("c.stash['a']; c.stash.get('b'); 'c' in c.stash; c.stash[K]")) == [1, 1, 1]
