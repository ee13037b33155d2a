"""Reports hold paths relative to the repository, never the machine's absolute paths.

Every format is written by a real run given absolute paths (the target, the
config, the report files, the previous report), from a directory outside the
repository, as a CI job does with ``$GITHUB_WORKSPACE``; then no report may
contain the temporary directory's absolute path, in any field.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
import yaml

from conftest import fake_aws_key_id, git, run_cli

FORMATS = ("json", "sarif", "html", "junit", "markdown", "github", "gitlab")


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A git repository with a leaked key, an inventory (one entry invalid) and a config with a cache finding."""
    repo = tmp_path / "builds" / "7f3a" / "checkout"
    (repo / "app").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    (repo / "app" / "settings.py").write_text(f'AWS_ACCESS_KEY_ID = "{fake_aws_key_id(random.Random())}"\n')
    (repo / "inventory.yaml").write_text(yaml.safe_dump({"secrets": [
        {"name": "db", "kind": "generic", "owner": "ops", "expiry_date": "2026-11-01"},
        {"name": "broken", "kind": "generic", "expires": "someday"}]}))
    (repo / "secretaudit.yaml").write_text(yaml.safe_dump({
        "backends": [{"type": "generic", "name": "inventory", "file": "inventory.yaml"}],
        "repos": ["app"], "secret_cache": {"enabled": True, "ttl_seconds": 999999}}))
    (tmp_path / "elsewhere").mkdir()
    return repo


def _report_args(directory: Path, stem: str) -> tuple[list[str], dict[str, Path]]:
    files = {fmt: directory / f"{stem}.{fmt}" for fmt in FORMATS}
    return [arg for fmt, path in files.items() for arg in ("--report", f"{fmt}:{path}")], files


def _assert_no_machine_path(files: dict[str, Path], tmp_path: Path) -> None:
    machine = {str(tmp_path), os.path.realpath(tmp_path)}
    for fmt, path in files.items():
        text = path.read_text(encoding="utf-8")
        assert text, fmt
        leaked = [m for m in machine if m in text or m.replace("/", "\\/") in text]
        assert not leaked, f"{fmt} report holds the absolute path {leaked[0]}"


def test_audit_reports_in_every_format_hold_only_relative_paths(checkout: Path, tmp_path: Path) -> None:
    out = checkout / "reports"
    out.mkdir()
    config = str(checkout / "secretaudit.yaml")
    first_args, first = _report_args(out, "previous")
    assert run_cli("audit", "--config", config, "--as-of", "2026-12-01", "-q", *first_args,
                   cwd=tmp_path / "elsewhere").returncode == 1
    args, files = _report_args(out, "tonight")

    proc = run_cli("audit", "--config", config, "--as-of", "2026-12-01", "--compare", str(first["json"]), *args,
                   cwd=tmp_path / "elsewhere")

    assert proc.returncode == 1, proc.stdout + proc.stderr
    _assert_no_machine_path({**first, **files}, tmp_path)
    report = json.loads(files["json"].read_text())
    assert [(t["kind"], t["name"]) for t in report["run"]["targets"]] == [
        ("config", "secretaudit.yaml"), ("backend", "generic:inventory"), ("path", "app")]
    assert report["run"]["config_file"] == "secretaudit.yaml"
    assert "secretaudit.yaml" in report["run"]["command"] and "--compare" in report["run"]["command"]
    locations = {f["check_id"]: f["location"] for f in report["findings"]}
    assert locations["SA101"]["path"] == "app/settings.py"
    assert locations["SA503"]["path"] == "secretaudit.yaml"  # the config's own finding
    (error,) = [f for f in report["findings"] if f["status"] == "error"]
    assert error["message"].startswith("inventory.yaml: 1 invalid inventory entry")  # as the config names it
    assert report["comparison"]["previous"] == "reports/previous.json"


def test_scan_of_an_absolute_path_reports_relative_paths(checkout: Path, tmp_path: Path) -> None:
    args, files = _report_args(tmp_path / "elsewhere", "scan")

    proc = run_cli("scan", "--no-cache", str(checkout), *args, cwd=tmp_path / "elsewhere")

    assert proc.returncode == 1, proc.stdout + proc.stderr
    report = json.loads(files["json"].read_text())
    assert [t["name"] for t in report["run"]["targets"]] == ["."]
    assert {f["location"]["path"] for f in report["findings"]} == {"app/settings.py"}
    # the report files outside the repository are named from it, never from the machine's root
    assert any(arg.startswith("json:../") for arg in report["run"]["command"]), report["run"]["command"]
    _assert_no_machine_path(files, tmp_path)
