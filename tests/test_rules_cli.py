"""Rule ids end to end: ``secretaudit rules``, the ``rules`` setting, and the rule id in every output.

Through the real CLI.  Credentials are generated at test time with their
real formats (GitHub's checksum included), never literals.
"""

from __future__ import annotations

import json
import random
import string
import zlib
from pathlib import Path

import pytest

from conftest import fake_aws_key_id, run_cli, run_json
from secretaudit.checks import rulebook

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


def github_pat(rng: random.Random) -> str:
    body = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(30))
    crc, checksum = zlib.crc32(body.encode()), ""
    while crc:
        crc, rem = divmod(crc, 62)
        checksum = BASE62[rem] + checksum
    return "ghp_" + body + checksum.rjust(6, "0")


@pytest.fixture
def project(tmp_path: Path, rng: random.Random) -> Path:
    """A file with a GitHub token on line 1 and an AWS key id on line 2."""
    (tmp_path / "deploy.sh").write_text(f'export GITHUB_TOKEN="{github_pat(rng)}"\n'
                                        f'export AWS_ACCESS_KEY_ID="{fake_aws_key_id(rng)}"\n')
    return tmp_path


def configure(project: Path, text: str) -> None:
    (project / "secretaudit.yaml").write_text(text)


def sa101(report: dict) -> dict[str, dict]:
    return {f["rule"]: f for f in report["findings"] if f["check_id"] == "SA101"}


# --- secretaudit rules ---------------------------------------------------------------


def test_rules_json_lists_every_rule_with_its_samples(tmp_path: Path) -> None:
    proc = run_cli("rules", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    listed = json.loads(proc.stdout)
    builtin = rulebook.builtin_rules()
    assert [r["id"] for r in listed] == [rule.slug for rule in builtin]
    samples = rulebook.load_samples()
    severities = {rule.slug: rule.severity for rule in builtin}  # as each rule file declares it
    for entry in listed:
        assert entry["check"] == "SA101" and entry["enabled"] is True
        assert entry["severity"] == severities[entry["id"]]
        assert entry["file"] == f"{entry['family']}.toml" and entry["tokens"]
        positive, negative = samples[entry["id"]]
        assert entry["samples"] == {"positive": len(positive), "negative": len(negative)}
    pat = next(r for r in listed if r["id"] == "github-pat")
    assert (pat["title"], pat["validator"], pat["tokens"]) == ("GitHub personal access token", "github-checksum",
                                                               ["ghp_"])
    hf = next(r for r in listed if r["id"] == "huggingface-token")
    assert hf["tokens"] == [{"literal": "hf_", "tail": "[A-Za-z]{8}"}]


def test_rules_text_is_a_table_with_a_summary(tmp_path: Path) -> None:
    proc = run_cli("rules", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["id", "check", "severity", "file", "samples", "validator", "title"]
    count = len(rulebook.builtin_rules())
    assert len(lines) == count + 2
    row = next(line for line in lines if line.startswith("github-pat "))
    assert row.split()[:6] == ["github-pat", "SA101", "critical", "github.toml", "2+/3-", "github-checksum"]
    assert row.endswith("GitHub personal access token")
    files = len(rulebook.rule_files())
    assert lines[-1] == f"{count} rules ({count} enabled) in {files} files"


# --- the rule id in the outputs --------------------------------------------------------------


def test_findings_carry_their_rule_in_json_sarif_and_the_terminal(project: Path) -> None:
    proc, report = run_json("scan", "--no-baseline", "--no-cache", "deploy.sh", cwd=project)
    assert proc.returncode == 1
    found = sa101(report)
    assert set(found) == {"github-pat", "aws-access-key-id"}
    assert found["github-pat"]["message"] == "GitHub personal access token"
    text = run_cli("scan", "--no-baseline", "--no-cache", "deploy.sh", cwd=project).stdout
    assert "deploy.sh:1 SA101 github-pat [critical] GitHub personal access token ghp_" in text
    sarif = json.loads(run_cli("scan", "--no-baseline", "--no-cache", "--format", "sarif", "deploy.sh",
                               cwd=project).stdout)
    (run,) = sarif["runs"]
    rules = run["tool"]["driver"]["rules"]
    by_id = {rule["id"]: rule for rule in rules}
    results = {r["ruleId"]: r for r in run["results"]}
    assert {"SA101/github-pat", "SA101/aws-access-key-id"} <= set(results)
    pat = by_id["SA101/github-pat"]
    assert pat["shortDescription"]["text"] == "GitHub personal access token"
    assert pat["name"] == "GitHubPersonalAccessToken"
    assert pat["help"] == by_id["SA101"]["help"]
    assert rules[results["SA101/github-pat"]["ruleIndex"]]["id"] == "SA101/github-pat"


# --- the rules setting --------------------------------------------------------------------


def test_a_disabled_rule_finds_nothing(project: Path) -> None:
    configure(project, "rules:\n  disable: [github-pat]\n")
    proc, report = run_json("scan", "--no-baseline", "--no-cache", "deploy.sh", cwd=project)
    assert proc.returncode == 1, proc.stderr
    assert set(sa101(report)) == {"aws-access-key-id"}
    listed = {r["id"]: r for r in json.loads(run_cli("rules", "--format", "json", cwd=project).stdout)}
    assert listed["github-pat"]["enabled"] is False and listed["aws-access-key-id"]["enabled"] is True


def test_a_reseveritied_rule_carries_its_new_severity_and_fail_on_follows(project: Path) -> None:
    configure(project, "rules:\n  severity: {aws-access-key-id: medium}\n")
    proc, report = run_json("scan", "--no-baseline", "deploy.sh", cwd=project)
    found = sa101(report)
    assert found["aws-access-key-id"]["severity"] == "medium"
    assert found["github-pat"]["severity"] == "critical"
    (project / "deploy.sh").write_text((project / "deploy.sh").read_text().splitlines()[1] + "\n")
    assert run_cli("scan", "--no-baseline", "--fail-on", "high", "deploy.sh", cwd=project).returncode == 0
    assert run_cli("scan", "--no-baseline", "--fail-on", "medium", "deploy.sh", cwd=project).returncode == 1
    # the cached result follows the setting: back to critical without --no-cache
    configure(project, "rules:\n  severity: {}\n")
    _proc, report = run_json("scan", "--no-baseline", "deploy.sh", cwd=project)
    assert sa101(report)["aws-access-key-id"]["severity"] == "critical"


@pytest.mark.parametrize("setting,expected", [
    ("rules:\n  disable: [github-pta]\n",
     "key 'rules.disable': unknown rule id 'github-pta'; did you mean 'github-pat'?"),
    ("rules:\n  severity: {aws-acess-key-id: low}\n",
     "key 'rules.severity': unknown rule id 'aws-acess-key-id'; did you mean 'aws-access-key-id'?"),
    ("rules:\n  severity: {jwt: urgent}\n", "key 'rules.severity.jwt': expected a severity"),
    ("rules:\n  disabled: [jwt]\n", "key 'rules.disabled': unknown key (allowed: disable, severity)"),
    ("rules: [jwt]\n", "key 'rules': expected a mapping"),
])
def test_a_bad_rules_setting_is_exit_4_in_one_line(project: Path, setting: str, expected: str) -> None:
    configure(project, setting)
    for command in (("scan", "deploy.sh"), ("rules",)):
        proc = run_cli(*command, cwd=project)
        assert proc.returncode == 4, proc.stderr
        (line,) = proc.stderr.strip().splitlines()
        assert expected in line and "Traceback" not in proc.stderr
