"""The pre-commit hook, end to end, with the real ``pre-commit`` program and real commits.

The hook repository is a temporary git repository built from a copy of the
current work tree (not a possibly stale commit), so pre-commit installs and
runs exactly the code under test.  Its environment is built once per module
(``PRE_COMMIT_HOME`` is shared): pre-commit pip-installs the project and its
dependencies, which takes a minute on a cold cache.

Fake credentials are generated at test time; none sits in this file.
"""

from __future__ import annotations

import os
import random
import shutil
import string
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from conftest import ROOT, fake_aws_key_id, fake_aws_secret

#: What the hook repository needs to be pip-installable and to run.
HOOK_REPO_ITEMS = ("pyproject.toml", "README.md", "LICENSE", "scanner", "checks", "reports",
                   ".pre-commit-hooks.yaml")

#: Environment variables that would change what git or pre-commit do in the test repos
#: (when the suite itself runs inside a git hook, or with hooks skipped).
_LEAKY_ENV = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "SKIP", "NO_COLOR")


def _env(base: Path, gitconfig: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GIT_", "PRE_COMMIT")) and k not in _LEAKY_ENV}
    env.update({
        "PRE_COMMIT_HOME": str(base / "pre-commit-home"),
        "XDG_CACHE_HOME": str(base / "cache"),  # the scan cache of the test repos stays in tmp
        # ... but pip keeps its usual cache, so building the hook environment reuses downloads
        "PIP_CACHE_DIR": os.environ.get("PIP_CACHE_DIR") or os.path.join(
            os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "pip"),
        "PRE_COMMIT_COLOR": "never",
        "GIT_CONFIG_GLOBAL": str(gitconfig),   # isolate from the user's hooksPath, signing, ...
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
    })
    return env


class Workspace:
    """Runs git and pre-commit in one test repository with the shared environment."""

    def __init__(self, path: Path, env: dict[str, str]) -> None:
        self.path = path
        self.env = env

    def run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(args), cwd=self.path, env=self.env, capture_output=True, text=True,
                              timeout=timeout)

    def git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = self.run("git", *args)
        if check:
            assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stdout}{proc.stderr}"
        return proc

    def pre_commit(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return self.run(sys.executable, "-m", "pre_commit", *args, timeout=timeout)

    def write(self, name: str, content: str | bytes) -> Path:
        path = self.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        return path

    def commits(self) -> list[str]:
        return self.git("log", "--format=%s").stdout.splitlines()

    def head_files(self) -> set[str]:
        return set(self.git("ls-tree", "-r", "--name-only", "HEAD").stdout.splitlines())


def _output(proc: subprocess.CompletedProcess[str]) -> str:
    return proc.stdout + proc.stderr


# -- module fixtures: one hook repository, one hook environment ------------------------------


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Hook repository (a git repo copied from the work tree), its sha, and the shared env."""
    try:
        import pre_commit  # noqa: F401
    except ImportError:
        pytest.fail("pre-commit is not installed: run `pip install -e '.[test]'` (tests/run.sh does)")
    base = tmp_path_factory.mktemp("precommit")
    gitconfig = base / "gitconfig"
    gitconfig.write_text("[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n")
    env = _env(base, gitconfig)

    hook_repo = base / "hook-repo"
    hook_repo.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".pytest_cache")
    for name in HOOK_REPO_ITEMS:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, hook_repo / name, ignore=ignore)
        elif source.is_file():
            shutil.copy2(source, hook_repo / name)
    assert (hook_repo / ".pre-commit-hooks.yaml").is_file(), "no .pre-commit-hooks.yaml at the repository root"
    repo = Workspace(hook_repo, env)
    repo.git("init", "-q", "-b", "main")
    repo.git("add", "-A")
    repo.git("commit", "-q", "--no-verify", "-m", "secretaudit work tree under test")
    sha = repo.git("rev-parse", "HEAD").stdout.strip()
    return {"base": base, "env": env, "hook_repo": hook_repo, "sha": sha, "built": False}


@pytest.fixture
def ws(shared: dict[str, object], tmp_path: Path) -> Workspace:
    """A fresh git repository whose committed config uses the hook, with the hook installed."""
    work = Workspace(tmp_path / "project", shared["env"])  # type: ignore[arg-type]
    work.path.mkdir()
    work.git("init", "-q", "-b", "main")
    work.write(".pre-commit-config.yaml",
               "repos:\n"
               f"  - repo: {shared['hook_repo']}\n"
               f"    rev: {shared['sha']}\n"
               "    hooks:\n"
               "      - id: secretaudit\n")
    work.git("add", ".pre-commit-config.yaml")
    work.git("commit", "-q", "--no-verify", "-m", "add pre-commit config")
    if not shared["built"]:
        # The first use builds the hook environment: pip installs the project and its deps.
        built = work.pre_commit("install-hooks", timeout=1200)
        assert built.returncode == 0, _output(built)
        shared["built"] = True
    installed = work.pre_commit("install")
    assert installed.returncode == 0, _output(installed)
    assert (work.path / ".git" / "hooks" / "pre-commit").is_file()
    return work


@pytest.fixture
def creds() -> tuple[str, str]:
    rng = random.Random()  # a different pair each run: nothing to learn by heart
    return fake_aws_key_id(rng), fake_aws_secret(rng)


def fake_github_classic_token(rng: random.Random) -> str:
    """A ``ghp_`` token with GitHub's real shape: 30 random base62 chars and their CRC32 checksum."""
    base62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
    body = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(30))
    value, checksum = zlib.crc32(body.encode("ascii")), ""
    while value:
        value, rem = divmod(value, 62)
        checksum = base62[rem] + checksum
    return "ghp_" + body + checksum.rjust(6, "0")


def _leaky_settings(key_id: str, secret: str) -> str:
    return ('"""Deployment settings."""\n\nimport boto3\n\n'
            "REGION = \"eu-west-1\"\n"
            f'aws_access_key_id = "{key_id}"\n'
            f'aws_secret_access_key = "{secret}"\n\n'
            "client = boto3.client(\"s3\", region_name=REGION)\n")


CLEAN_MODULE = ('"""Greeting helpers."""\n\n\ndef greet(name: str) -> str:\n'
                '    return f"hello {name}"\n')


def _assert_blocked_output(out: str, filename: str, key_id: str, secret: str) -> None:
    assert "secretaudit" in out, out
    assert filename in out, out
    assert "SA101" in out, out
    assert key_id not in out, "the raw access key id leaked into the hook output"
    assert secret not in out, "the raw secret leaked into the hook output"


# -- (a) a commit with a credential is blocked ------------------------------------------------


def test_commit_with_aws_credentials_is_blocked(ws: Workspace, creds: tuple[str, str]) -> None:
    key_id, secret = creds
    ws.write("deploy/settings.py", _leaky_settings(key_id, secret))
    ws.write("README.md", "# project\n")
    ws.git("add", "deploy/settings.py", "README.md")

    proc = ws.git("commit", "-m", "add deploy settings", check=False)

    assert proc.returncode != 0, _output(proc)
    assert "add deploy settings" not in ws.commits()
    assert ws.commits() == ["add pre-commit config"]
    out = _output(proc)
    _assert_blocked_output(out, "deploy/settings.py", key_id, secret)
    assert "Failed" in out, out
    # the clean file committed alongside is not blamed
    assert "README.md:" not in out


def test_commit_with_github_token_is_blocked(ws: Workspace) -> None:
    token = fake_github_classic_token(random.Random())
    ws.write("scripts/release.sh", f"#!/bin/sh\nset -eu\nexport GITHUB_TOKEN={token}\ngh release create \"$1\"\n")
    ws.git("add", "scripts/release.sh")

    proc = ws.git("commit", "-m", "release script", check=False)

    assert proc.returncode != 0, _output(proc)
    assert ws.commits() == ["add pre-commit config"]
    out = _output(proc)
    assert "scripts/release.sh" in out and "SA101" in out, out
    assert token not in out and token[4:] not in out, "the raw token leaked into the hook output"


def test_blocked_commit_says_what_next_and_the_waiver_it_shows_unblocks_it(ws: Workspace) -> None:
    """The hook's advice is exact: the waiver it prints, pasted on the line with a reason, lets the commit through."""
    token = fake_github_classic_token(random.Random())
    ws.write("scripts/release.sh", f"#!/bin/sh\nset -eu\nexport GITHUB_TOKEN={token}\ngh release create \"$1\"\n")
    ws.git("add", "scripts/release.sh")

    blocked = ws.git("commit", "-m", "release script", check=False)

    assert blocked.returncode != 0 and ws.commits() == ["add pre-commit config"]
    out = _output(blocked)
    advice = out[out.index("what next"):]
    assert "rotate" in advice and "secretaudit baseline update" in advice, out
    waiver = "# secretaudit: ignore[SA101] <reason>"
    assert f"scripts/release.sh:3  {waiver}" in advice, out

    lines = (ws.path / "scripts/release.sh").read_text().splitlines()
    lines[2] += " " + waiver.replace("<reason>", "throwaway token of the test org")
    ws.write("scripts/release.sh", "\n".join(lines) + "\n")
    ws.git("add", "scripts/release.sh")
    proc = ws.git("commit", "-m", "release script", check=False)
    assert proc.returncode == 0, _output(proc)
    assert ws.commits()[0] == "release script"


def test_removing_the_secret_unblocks_the_commit(ws: Workspace, creds: tuple[str, str]) -> None:
    key_id, secret = creds
    ws.write("settings.py", _leaky_settings(key_id, secret))
    ws.git("add", "settings.py")
    assert ws.git("commit", "-m", "settings", check=False).returncode != 0

    ws.write("settings.py", 'import os\n\naws_secret_access_key = os.environ["AWS_SECRET_ACCESS_KEY"]\n')
    ws.git("add", "settings.py")
    proc = ws.git("commit", "-m", "settings", check=False)
    assert proc.returncode == 0, _output(proc)
    assert ws.commits()[0] == "settings"
    assert "settings.py" in ws.head_files()


# -- (b) clean commits pass ---------------------------------------------------------------------


def test_clean_commit_passes(ws: Workspace) -> None:
    ws.write("src/greet.py", CLEAN_MODULE)
    ws.git("add", "src/greet.py")

    proc = ws.git("commit", "-m", "add greet", check=False)

    assert proc.returncode == 0, _output(proc)
    assert ws.commits()[0] == "add greet"
    assert "src/greet.py" in ws.head_files()
    assert "Passed" in _output(proc)


def test_commit_of_only_binary_files_passes(ws: Workspace) -> None:
    # The scanner skips binary files; with nothing left to scan the hook must not fail (exit 5).
    ws.write("logo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    ws.git("add", "logo.png")

    proc = ws.git("commit", "-m", "add logo", check=False)

    assert proc.returncode == 0, _output(proc)
    assert ws.commits()[0] == "add logo"


# -- (c) pre-commit run --files / --all-files scan what they name --------------------------------


def test_run_files_scans_exactly_the_named_files(ws: Workspace, creds: tuple[str, str]) -> None:
    key_id, secret = creds
    ws.write("leaky.py", _leaky_settings(key_id, secret))
    ws.write("clean.py", CLEAN_MODULE)
    ws.git("add", "leaky.py", "clean.py")

    leaky = ws.pre_commit("run", "--files", "leaky.py")
    assert leaky.returncode == 1, _output(leaky)
    _assert_blocked_output(_output(leaky), "leaky.py", key_id, secret)

    clean = ws.pre_commit("run", "--files", "clean.py")
    assert clean.returncode == 0, _output(clean)
    assert "Passed" in _output(clean)

    both = ws.pre_commit("run", "--files", "clean.py", "leaky.py")
    assert both.returncode == 1, _output(both)
    assert "leaky.py" in _output(both) and "clean.py:" not in _output(both)


def test_run_all_files_scans_every_tracked_file(ws: Workspace, creds: tuple[str, str]) -> None:
    ws.write("src/greet.py", CLEAN_MODULE)
    ws.write("docs/index.md", "# Docs\n\nNothing secret here.\n")
    ws.git("add", "-A")
    ws.git("commit", "-q", "--no-verify", "-m", "clean tree")

    clean = ws.pre_commit("run", "--all-files")
    assert clean.returncode == 0, _output(clean)
    assert "Passed" in _output(clean)

    key_id, secret = creds
    ws.write("config/legacy/settings.py", _leaky_settings(key_id, secret))
    ws.git("add", "config/legacy/settings.py")
    ws.git("commit", "-q", "--no-verify", "-m", "planted, bypassing the hook")

    planted = ws.pre_commit("run", "--all-files")
    assert planted.returncode == 1, _output(planted)
    _assert_blocked_output(_output(planted), "config/legacy/settings.py", key_id, secret)
