"""``audit --correlate``: a repository credential that is a managed secret's value (SA111), against real servers.

OpenBao holds a GitHub token in two KV versions, moto an AWS key; the
repository holds the current token, the older one, the AWS key and an
unrelated token.  The audit must name the current matches (critical) and
the older version (high), nothing for the unrelated token, read no value
without ``--correlate``, and leave no value nor a plain SHA-256 of one in any
output, report, cache file or the access trail.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import string
from pathlib import Path

import hvac
import pytest
from aws_server import aws_client, moto, moto_server  # noqa: F401  (fixtures)
from conftest import fake_aws_key_id, fake_aws_secret, run_cli
from servers import openbao_disposable  # noqa: F401  (fixture)

from secretaudit.checks.validators import github_checksum

GITHUB = "ai-agents/openclaw/github"


def github_pat(rng: random.Random) -> str:
    part = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(30))
    return f"ghp_{part}{github_checksum(part)}"


@pytest.fixture
def world(tmp_path: Path, openbao_disposable, moto, rng: random.Random) -> dict:  # noqa: F811
    url, root, _ = openbao_disposable
    old_token, token, unrelated, other, ci_old, ci_new = (github_pat(rng) for _ in range(6))
    key_id, key_secret = fake_aws_key_id(rng), fake_aws_secret(rng)
    kv = hvac.Client(url=url, token=root).secrets.kv.v2
    kv.create_or_update_secret(path=GITHUB, secret={"token": old_token}, mount_point="secret")
    kv.create_or_update_secret(path=GITHUB, secret={"token": token}, mount_point="secret")  # v2 is current
    kv.create_or_update_secret(path="ai-agents/openclaw/other", secret={"token": other}, mount_point="secret")
    aws_client("secretsmanager", moto.url).create_secret(
        Name="deploy/aws-access-key",
        SecretString=json.dumps({"access_key_id": key_id, "secret_access_key": key_secret}))
    sm = aws_client("secretsmanager", moto.url)
    sm.create_secret(Name="ci/github-token", SecretString=ci_old)
    sm.put_secret_value(SecretId="ci/github-token", SecretString=ci_new)  # ci_old is now AWSPREVIOUS
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "deploy.sh").write_text("#!/bin/sh\nset -eu\n# push the release\n"
                                    f"export GITHUB_TOKEN={token}\ngit push\n")
    (repo / "old.env").write_text(f"GITHUB_TOKEN={old_token}\n")
    (repo / "aws.ini").write_text(f"[default]\naws_access_key_id = {key_id}\naws_secret_access_key = {key_secret}\n")
    (repo / "ci.env").write_text(f"GH_TOKEN={ci_old}\n")
    (repo / "unrelated.sh").write_text(f"export GH_TOKEN={unrelated}\n")
    config = tmp_path / "secretaudit.yaml"
    config.write_text(
        "repos: [repo]\naudit_log: trail.jsonl\n"
        "backends:\n"
        f"  - {{type: vault, name: prod, url: '{url}', token: '${{VAULT_TOKEN}}', path: 'secret'}}\n"
        f"  - {{type: aws-secrets-manager, name: aws, region: us-east-1, endpoint_url: '{moto.url}'}}\n")
    return {"config": config, "env": {"VAULT_TOKEN": root, "XDG_CACHE_HOME": str(tmp_path / "cache")},
            "values": [old_token, token, unrelated, other, ci_old, ci_new, key_id, key_secret], "tmp": tmp_path,
            "trail": tmp_path / "trail.jsonl"}


def _audit(world: dict, *args: str) -> tuple[str, dict]:
    tmp = world["tmp"]
    proc = run_cli("audit", "--config", str(world["config"]), "--format", "json", "--report",
                   f"sarif:{tmp / 'out.sarif'}", "--report", f"html:{tmp / 'out.html'}", *args, env=world["env"], cwd=tmp)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.stdout + proc.stderr, json.loads(proc.stdout)


def _forms(value: str) -> list[str]:
    """The value and what would let a reader test a guess: its SHA-256 in hex and base64."""
    digest = hashlib.sha256(value.encode()).digest()
    return [value, digest.hex(), base64.b64encode(digest).decode(), base64.urlsafe_b64encode(digest).decode()]


def test_correlate_names_current_and_older_values_and_nothing_else(world: dict) -> None:
    output, report = _audit(world, "--correlate")
    found = {(f["location"]["path"], f["location"]["line"], f["severity"]): f["message"]
             for f in report["findings"] if f["check_id"] == "SA111"}
    assert set(found) == {("repo/deploy.sh", 4, "critical"), ("repo/aws.ini", 2, "critical"),
                          ("repo/old.env", 1, "high"), ("repo/ci.env", 1, "high")}, found
    assert found[("repo/deploy.sh", 4, "critical")] == (
        f"the value at repo/deploy.sh:4 is the current value of vault:prod:{GITHUB} (field token): rotate it now "
        f"(secretaudit rotate --secret vault:prod:{GITHUB} --reason 'leaked in repo')")
    aws = found[("repo/aws.ini", 2, "critical")]
    assert "repo/aws.ini:2 (also line 3) is the current value of aws-secrets-manager:aws:deploy/aws-access-key" in aws
    assert f"is an older version (1) of vault:prod:{GITHUB}" in found[("repo/old.env", 1, "high")]
    assert found[("repo/ci.env", 1, "high")] == (
        "the value at repo/ci.env:1 is an older version (AWSPREVIOUS) of aws-secrets-manager:aws:ci/github-token: "
        "still rotate it if the old value is valid "
        "(secretaudit rotate --secret aws-secrets-manager:aws:ci/github-token --reason 'leaked in repo')")
    # every value read is in the trail, one line per secret, for the audit
    trail = [json.loads(line) for line in world["trail"].read_text().splitlines()]
    read = {(e["backend"], e["secret"]) for e in trail if e["command"] == "audit" and e["reason"] == "correlate"}
    assert {("vault:prod", GITHUB), ("vault:prod", "ai-agents/openclaw/other"),
            ("aws-secrets-manager:aws", "deploy/aws-access-key")} <= read
    assert all(e["outcome"] == "ok" for e in trail if e["secret"] == GITHUB)
    # the report says what correlation cost: the current value of each KV secret, plus the older version
    # (the audit token is compared too, from memory: a secret read without a call)
    assert report["run"]["backends"]["vault:prod"]["correlate"] == {"secrets": 3, "api_calls": 3}
    # AWS: one GetSecretValue per secret, one more for the secret that has an AWSPREVIOUS (ListSecrets tells)
    assert report["run"]["backends"]["aws-secrets-manager:aws"]["correlate"] == {"secrets": 2, "api_calls": 3}
    # no value and no plain digest of one anywhere the run wrote
    written = [output, world["trail"].read_text(), (world["tmp"] / "out.sarif").read_text(),
               (world["tmp"] / "out.html").read_text()]
    written += [p.read_bytes().decode("utf-8", "replace") for p in (world["tmp"] / "cache").rglob("*") if p.is_file()]
    for value in world["values"]:
        for form in _forms(value):
            assert not any(form in text for text in written), "a value or its digest leaked"


def test_without_correlate_no_value_is_read(world: dict) -> None:
    output, report = _audit(world)
    assert not [f for f in report["findings"] if f["check_id"] == "SA111"]
    assert any(f["check_id"] == "SA101" for f in report["findings"])  # the repository was scanned
    assert not world["trail"].exists() or not world["trail"].read_text().strip()
    assert not any("correlate" in stats for stats in report["run"]["backends"].values())
    cached = [p.read_bytes().decode("utf-8", "replace") for p in (world["tmp"] / "cache").rglob("*") if p.is_file()]
    assert cached  # this run wrote the scan cache: grep it too
    for value in world["values"]:
        for form in _forms(value):
            assert not any(form in text for text in [output, *cached])
