"""The ``gitlab`` format (GitLab's secret-detection report) and the GitLab CI template.

Reports come from the real CLI and are validated with jsonschema against
``tests/fixtures/gitlab/secret-detection-report-format.json``: the required
structure of GitLab's published ``secret-detection-report-format.json``
(security-report-schemas v15.0.7), transcribed (its required properties,
enumerations, patterns and limits), since no package ships the official file.
The template's own ``script:`` is run as written, in a repository made here.
"""

from __future__ import annotations

import json
import os
import random
import string
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from conftest import FIXTURES, ROOT, cli_shim, fake_aws_key_id, git, run_cli

SCHEMA = FIXTURES / "gitlab" / "secret-detection-report-format.json"
TEMPLATE = ROOT / "ci" / "gitlab" / "secretaudit.gitlab-ci.yml"


def validate(report: dict[str, Any]) -> list[str]:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(report)]


def _value(rng: random.Random, length: int = 28) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(length))


def _report(*args: str, cwd: Path, env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess[str],
                                                                               dict[str, Any]]:
    proc = run_cli(*args, "--report", "gitlab:gl.json", cwd=cwd, env=env)
    assert (cwd / "gl.json").exists(), proc.stdout + proc.stderr
    return proc, json.loads((cwd / "gl.json").read_text())


def test_the_test_schema_rejects_what_gitlab_rejects() -> None:
    """The schema is not vacuous: each required piece, removed, is an error."""
    good = {"version": "15.0.7", "vulnerabilities": [],
            "scan": {"analyzer": {"id": "a", "name": "a", "version": "1", "vendor": {"name": "a"}},
                     "scanner": {"id": "a", "name": "a", "version": "1", "vendor": {"name": "a"}},
                     "type": "secret_detection", "status": "success",
                     "start_time": "2026-01-01T00:00:00", "end_time": "2026-01-01T00:00:01"}}
    assert validate(good) == []
    assert validate({**good, "scan": {**good["scan"], "type": "sast"}})
    assert validate({**good, "scan": {**good["scan"], "start_time": "2026-01-01T00:00:00+00:00"}})
    assert validate({k: v for k, v in good.items() if k != "scan"})
    vulnerability = {"id": "x", "identifiers": [{"type": "t", "name": "n", "value": "v"}],
                     "location": {"file": "a.py", "commit": {"sha": "0000000"}}, "severity": "High"}
    assert validate({**good, "vulnerabilities": [vulnerability]}) == []
    assert validate({**good, "vulnerabilities": [{**vulnerability, "severity": "high"}]})
    assert validate({**good, "vulnerabilities": [{**vulnerability, "location": {"file": "a.py"}}]})
    assert validate({**good, "vulnerabilities": [{**vulnerability, "identifiers": []}]})


def test_scan_report_validates_and_holds_each_failed_finding(tmp_path: Path, rng: random.Random) -> None:
    secrets = [_value(rng), fake_aws_key_id(rng), _value(rng)]
    (tmp_path / "settings.py").write_text(f'DEBUG = True\npassword = "{secrets[0]}"\nKEY_ID = "{secrets[1]}"\n')
    (tmp_path / "fixture.py").write_text(f'token = "{secrets[2]}"  # secretaudit: ignore[SA102] test value\n')
    (tmp_path / "\u202eevil.py").write_text(f'api_secret = "{_value(rng)}"\n')
    proc, report = _report("scan", "--no-cache", ".", cwd=tmp_path, env={"CI_COMMIT_SHA": "ab" * 20})
    assert proc.returncode == 1, proc.stderr
    assert validate(report) == []
    assert report["scan"]["type"] == "secret_detection" and report["scan"]["status"] == "success"
    found = {(v["location"]["file"], v["location"]["start_line"]): v for v in report["vulnerabilities"]}
    assert set(found) == {("settings.py", 2), ("settings.py", 3), ("\u202eevil.py", 1)}  # not the waived one
    key = found[("settings.py", 3)]
    assert key["severity"] == "Critical" and key["identifiers"][0]["value"] == "SA101"
    assert key["category"] == "secret_detection" and key["name"].startswith("SA101 ")
    assert key["location"]["commit"]["sha"] == "ab" * 20  # the commit the CI job checked out
    assert "AKIA…(redacted, 20 chars)" in key["description"] and key["solution"]
    assert len({v["id"] for v in report["vulnerabilities"]}) == 3
    text = (tmp_path / "gl.json").read_text()
    assert all(secret not in text for secret in secrets)
    assert "\u202e" not in text and "\\u202e" in text  # a bidi override travels escaped


def test_ids_are_stable_across_runs_and_the_commit_defaults_to_zeros(tmp_path: Path, rng: random.Random) -> None:
    (tmp_path / "a.py").write_text(f'password = "{_value(rng)}"\n')
    env = {"CI_COMMIT_SHA": ""}
    _, first = _report("scan", "--no-cache", ".", cwd=tmp_path, env=env)
    _, second = _report("scan", "--no-cache", ".", cwd=tmp_path, env=env)
    assert [v["id"] for v in first["vulnerabilities"]] == [v["id"] for v in second["vulnerabilities"]]
    assert first["vulnerabilities"][0]["location"]["commit"]["sha"] == "0000000"


def test_history_findings_carry_the_commit_that_introduced_them(repo: Path, rng: random.Random) -> None:
    (repo / "deploy.py").write_text(f'KEY = "{fake_aws_key_id(rng)}"\n')
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "add deploy")
    sha = git(repo, "rev-parse", "HEAD").strip()
    proc, report = _report("scan", "--history", "--no-baseline", ".", cwd=repo)
    assert proc.returncode == 1, proc.stderr
    assert validate(report) == []
    (finding,) = [v for v in report["vulnerabilities"] if v["identifiers"][0]["value"] == "SA105"]
    assert finding["location"]["commit"]["sha"] == sha and finding["location"]["file"] == "deploy.py"


def test_an_incomplete_scan_is_a_failure_with_messages(tmp_path: Path) -> None:
    (tmp_path / "ok.py").write_text("x = 1\n")
    proc, report = _report("scan", "--no-cache", "ok.py", "gone.py", cwd=tmp_path)
    assert proc.returncode == 1
    assert validate(report) == []
    assert report["scan"]["status"] == "failure" and report["vulnerabilities"] == []
    assert any("gone.py" in m["value"] and m["level"] == "warn" for m in report["scan"]["messages"])


def test_audit_report_validates_with_backend_findings(tmp_path: Path) -> None:
    proc = run_cli("audit", "--config", str(ROOT / "examples" / "secretaudit.yaml"), "--as-of", "2026-12-01",
                   "--report", f"gitlab:{tmp_path / 'gl.json'}", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    report = json.loads((tmp_path / "gl.json").read_text())
    assert validate(report) == []
    checks = {v["identifiers"][0]["value"] for v in report["vulnerabilities"]}
    assert "SA201" in checks and "SA101" in checks  # an expired inventory secret, a key in leaky-app


def test_the_gitlab_ci_template_publishes_the_report_its_script_writes(repo: Path, rng: random.Random,
                                                                       tmp_path: Path) -> None:
    template = yaml.safe_load(TEMPLATE.read_text())
    job = template["secretaudit"]
    report = job["artifacts"]["reports"]["secret_detection"]
    assert report == "gl-secret-detection-report.json" and job["artifacts"]["when"] == "always"
    assert report in job["artifacts"]["paths"]
    (repo / "app.py").write_text(f'KEY = "{fake_aws_key_id(rng)}"\n')
    env = {**os.environ, **{k: str(v) for k, v in job["variables"].items()},
           "CI_COMMIT_SHA": "cd" * 20, "SECRETAUDIT_ARGS": "--no-cache",  # secretaudit: ignore[SA102] options
           "PATH": f"{cli_shim(tmp_path / 'bin').parent}{os.pathsep}{os.environ['PATH']}"}
    for line in job["script"]:  # as the runner does: each line in a shell, in the project directory
        proc = subprocess.run(["bash", "-c", line], cwd=repo, env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 1, proc.stdout + proc.stderr  # the finding fails the job
    written = json.loads((repo / report).read_text())
    assert validate(written) == []
    (vulnerability,) = written["vulnerabilities"]
    assert vulnerability["location"] == {"file": "app.py", "start_line": 1, "end_line": 1,
                                         "commit": {"sha": "cd" * 20}}


@pytest.mark.parametrize("fmt", ["gitlab", "github"])
def test_an_unknown_format_error_offers_the_ci_formats(fmt: str) -> None:
    proc = run_cli("scan", "--format", "nope", ".")
    assert proc.returncode == 4 and fmt in proc.stderr
