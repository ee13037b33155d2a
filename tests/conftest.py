"""Shared test helpers: run the real CLI in a subprocess, make fake credentials.

Fake credentials are generated at test time with the real formats, so no
literal credential sits in the test sources; the committed fixture corpus
under ``tests/fixtures/`` is accepted by the repository's baseline.
"""

from __future__ import annotations

import json
import os
import random
import string
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
CORPUS = FIXTURES / "corpus"
CLEAN = FIXTURES / "clean"


#: Tests never write to the developer's own cache directory.
_CACHE_HOME = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"secretaudit-test-cache-{os.getpid()}")
#: ... nor to the developer's own access trail (``$XDG_STATE_HOME/secretaudit/trail.jsonl``).
_STATE_HOME = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"secretaudit-test-state-{os.getpid()}")


def run_cli(*args: str, cwd: Path | str | None = None, env: dict[str, str] | None = None,
            wrapper: tuple[str, ...] = (), timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``secretaudit ARGS`` as a real process; returns the completed process."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": _CACHE_HOME,
                "XDG_STATE_HOME": _STATE_HOME, **(env or {})}
    full_env.pop("NO_COLOR", None)
    return subprocess.run([*wrapper, sys.executable, "-m", "secretaudit", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def run_json(*args: str, **kwargs: Any) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """Run a scan with ``--format json``; returns the process and the parsed report."""
    proc = run_cli(*args, "--format", "json", **kwargs)
    assert proc.stdout, proc.stderr
    return proc, json.loads(proc.stdout)


def fake_aws_key_id(rng: random.Random) -> str:
    return "AKIA" + "".join(rng.choice(string.ascii_uppercase + "234567") for _ in range(16))


def fake_aws_secret(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits + "/+") for _ in range(40))


@pytest.fixture
def rng() -> random.Random:
    return random.Random(20261124)


@pytest.fixture
def aws_pair(rng: random.Random) -> tuple[str, str]:
    return fake_aws_key_id(rng), fake_aws_secret(rng)


def git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True, check=True,
                          env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
                               "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"})
    return proc.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """An empty git repository."""
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    return path


def load_manifest() -> list[dict[str, Any]]:
    """Every planted secret of the corpus: path, line, check_id, rule, secret."""
    entries: list[dict[str, Any]] = []
    for manifest in sorted((FIXTURES / "expected").glob("*.json")):
        entries.extend(json.loads(manifest.read_text()))
    return entries


def cli_shim(directory: Path) -> Path:
    """A ``secretaudit`` program in ``directory`` that runs the code under test with this interpreter.

    For scripts that call ``secretaudit`` by name (the GitHub Action's entry
    script, the GitLab CI template): they then test this checkout whatever
    is or is not installed on PATH.  Returns the program's path.
    """
    directory.mkdir(parents=True, exist_ok=True)
    program = directory / "secretaudit"
    program.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m secretaudit "$@"\n')
    program.chmod(0o755)
    return program
