"""The container image: the Dockerfile's promises, its build context, and (where Docker runs) the image itself.

Static checks read the Dockerfile as Docker does (instructions, JSON-form
ENTRYPOINT and CMD) and hold it to what the README promises: a slim
Python 3.11 base, git, the package installed without the test extras, a
non-root user, ``/src`` as working directory, ``secretaudit`` as entrypoint
and ``scan .`` as default command.  The build context that ``.dockerignore``
leaves is built into a wheel here, so a module or template the image would
lack fails without Docker.  The image is built and run only where a Docker
daemon answers; elsewhere that test is skipped with the reason.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
import sys
import tomllib
import uuid
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT, fake_aws_key_id, git

DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order: comments dropped, continuation lines joined."""
    result: list[tuple[str, str]] = []
    pending = ""
    for line in DOCKERFILE.read_text().splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        keyword, _, arguments = pending.strip().partition(" ")
        result.append((keyword.upper(), arguments.strip()))
        pending = ""
    return result


def final_stage() -> list[tuple[str, str]]:
    items = instructions()
    last_from = max(i for i, (keyword, _) in enumerate(items) if keyword == "FROM")
    return items[last_from:]


def test_the_image_is_slim_python_with_git_and_without_test_extras() -> None:
    stages = [args for keyword, args in instructions() if keyword == "FROM"]
    assert all(stage.split()[0] == "python:3.11-slim" for stage in stages), stages
    runs = " ".join(args for keyword, args in final_stage() if keyword == "RUN")
    assert "apt-get install" in runs and " git" in runs and "rm -rf /var/lib/apt/lists/*" in runs
    text = DOCKERFILE.read_text()
    assert "[test]" not in text and ".[" not in text  # no extras, test or other
    assert "pip install --no-cache-dir /wheels/*.whl" in runs


def test_the_image_runs_secretaudit_as_a_non_root_user_in_src() -> None:
    stage = final_stage()
    users = [args for keyword, args in stage if keyword == "USER"]
    assert users, "no USER: the image would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), user
    position = {keyword: i for i, (keyword, _) in enumerate(stage)}
    assert position["USER"] > max(i for i, (keyword, _) in enumerate(stage) if keyword == "RUN")
    assert dict(stage)["WORKDIR"] == "/src"
    assert json.loads(dict(stage)["ENTRYPOINT"]) == ["secretaudit"]
    assert json.loads(dict(stage)["CMD"]) == ["scan", "."]


def _ignored(relpath: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides; ``!`` re-includes."""
    parts = relpath.split("/")
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        body = pattern[1:] if negated else pattern
        forms = {body, body[3:]} if body.startswith("**/") else {body}
        if any(fnmatch.fnmatchcase(c, form) for c in candidates for form in forms):
            ignored = not negated
    return ignored


def build_context(destination: Path) -> Path:
    """A copy of what ``docker build .`` would send, per .dockerignore."""
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    for path in ROOT.rglob("*"):
        relpath = path.relative_to(ROOT).as_posix()
        if path.is_file() and not _ignored(relpath, patterns):
            target = destination / relpath
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    return destination


def test_the_build_context_holds_the_package_sources_and_nothing_else(tmp_path: Path) -> None:
    context = build_context(tmp_path / "context")
    top = {path.name for path in context.iterdir()}
    assert top == {"pyproject.toml", "README.md", "scanner", "checks", "reports"}, top
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert set(project["tool"]["setuptools"]["package-dir"].values()) <= top
    copied = {args.split()[0] for keyword, args in instructions() if keyword == "COPY" and "--from" not in args}
    assert copied == {"pyproject.toml", "scanner", "checks", "reports"}
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "wheel"),
                           str(context)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    (wheel,) = (tmp_path / "wheel").glob("secretaudit-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder, package in (("scanner", "secretaudit"), ("checks", "secretaudit/checks"),
                            ("reports", "secretaudit/reports")):
        for source in (ROOT / folder).rglob("*"):
            if source.is_file() and "__pycache__" not in source.parts:
                assert f"{package}/{source.relative_to(ROOT / folder).as_posix()}" in names, source


def _docker_unavailable() -> str | None:
    if shutil.which("docker") is None:
        return "no docker program on PATH"
    proc = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True,
                          timeout=60)
    if proc.returncode != 0:
        return f"no Docker daemon answers ({(proc.stderr.strip().splitlines() or ['docker info failed'])[-1]})"
    return None


@pytest.mark.skipif(bool(_reason := _docker_unavailable()), reason=f"cannot build the image here: {_reason}")
def test_the_image_builds_and_its_entrypoint_scans_a_mounted_repository(tmp_path: Path, rng) -> None:
    tag = f"secretaudit-test:{uuid.uuid4().hex[:12]}"
    build = subprocess.run(["docker", "build", "-q", "-t", tag, str(ROOT)], capture_output=True, text=True,
                           timeout=1200)
    assert build.returncode == 0, build.stderr
    try:
        repo = tmp_path / "repo"
        repo.mkdir()
        git(repo, "init", "-q")
        (repo / "settings.py").write_text(f'KEY_ID = "{fake_aws_key_id(rng)}"\n')
        (repo / "ignored.py").write_text(f'KEY_ID = "{fake_aws_key_id(rng)}"\n')
        (repo / ".gitignore").write_text("ignored.py\n")
        os.chmod(repo, 0o755)
        run = subprocess.run(["docker", "run", "--rm", "-v", f"{repo}:/src:ro", tag], capture_output=True,
                             text=True, timeout=300)
        assert run.returncode == 1, run.stdout + run.stderr  # the default command: scan .
        assert "settings.py:1 SA101" in run.stdout and "ignored.py" not in run.stdout  # git lists the files
        whoami = subprocess.run(["docker", "run", "--rm", "--entrypoint", "id", tag, "-u"], capture_output=True,
                                text=True, timeout=120)
        assert whoami.stdout.strip() not in ("", "0"), whoami.stdout
        version = subprocess.run(["docker", "run", "--rm", tag, "--version"], capture_output=True, text=True,
                                 timeout=120)
        assert version.returncode == 0 and "secretaudit" in version.stdout
        pytest_there = subprocess.run(["docker", "run", "--rm", "--entrypoint", "python", tag, "-c",
                                       "import pytest"], capture_output=True, text=True, timeout=120)
        assert pytest_there.returncode != 0  # the test extras are not installed
    finally:
        subprocess.run(["docker", "image", "rm", "-f", tag], capture_output=True, timeout=120)
