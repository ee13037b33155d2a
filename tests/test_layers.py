"""The layer rules of pyproject.toml's [tool.importlinter] hold (issue 16).

import-linter reads a package from one directory, but secretaudit is assembled
from three folders by setuptools' ``package-dir`` mapping (an editable install
resolves them through an import hook grimp does not follow).  So the test lays
the checkout out as the installed package would be, from that same mapping,
and runs ``lint-imports`` on the copy.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _assemble(pyproject: dict, into: Path) -> None:
    """Copy each mapped folder to where its package lives once installed (parents first)."""
    mapping: dict[str, str] = pyproject["tool"]["setuptools"]["package-dir"]
    for package in sorted(mapping, key=lambda name: name.count(".")):
        shutil.copytree(ROOT / mapping[package], into / package.replace(".", "/"),
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"), dirs_exist_ok=True)


def _lint_imports() -> str:
    beside = Path(sys.executable).with_name("lint-imports")
    found = str(beside) if beside.exists() else shutil.which("lint-imports")
    assert found, "lint-imports is not installed (pip install -e '.[test]')"
    return found


def test_layer_contracts_hold(tmp_path: Path) -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["tool"]["importlinter"]["contracts"], "no layer contract declared"
    _assemble(pyproject, tmp_path / "src")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "src")}
    proc = subprocess.run([_lint_imports(), str(ROOT / "pyproject.toml"), "--no-cache"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "BROKEN" not in proc.stdout
