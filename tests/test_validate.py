"""``secretaudit validate``: working, revoked and unreachable credentials, values never shown."""

from __future__ import annotations

import json
from pathlib import Path

import hvac
import pytest
from aws_server import aws_client, moto, moto_server  # noqa: F401  (fixtures)
from conftest import run_cli, run_json
from servers import openbao_disposable  # noqa: F401  (fixture)

FOLDER = "ai-agents/openclaw"


@pytest.fixture
def world(tmp_path: Path, openbao_disposable, moto) -> dict:  # noqa: F811
    url, root, process = openbao_disposable
    client = hvac.Client(url=url, token=root)
    working = client.auth.token.create(policies=["default"], ttl="1h", display_name="ci")["auth"]["client_token"]
    revoked = client.auth.token.create(policies=["default"], ttl="1h", display_name="old")["auth"]["client_token"]
    client.auth.token.revoke(revoked)
    kv = client.secrets.kv.v2
    for name, token in (("ci-vault-token", working), ("old-vault-token", revoked)):
        kv.create_or_update_secret(path=f"{FOLDER}/{name}", secret={"token": token, "url": url}, mount_point="secret")
        kv.update_metadata(path=f"{FOLDER}/{name}", custom_metadata={"kind": "vault-token", "owner": "ops"},
                           mount_point="secret")
    iam = aws_client("iam", moto.url)
    iam.create_user(UserName="deployer")
    key = iam.create_access_key(UserName="deployer")["AccessKey"]
    aws_client("secretsmanager", moto.url).create_secret(
        Name="deploy/aws-access-key", Tags=[{"Key": "kind", "Value": "aws-access-key"}],
        SecretString=json.dumps({"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"],
                                 "endpoint_url": moto.url}))
    config = tmp_path / "secretaudit.yaml"
    config.write_text(
        "backends:\n"
        f"  - {{type: vault, name: prod, url: '{url}', token: '${{VAULT_TOKEN}}', path: 'secret/{FOLDER}'}}\n"
        f"  - {{type: aws-secrets-manager, name: aws, region: us-east-1, endpoint_url: '{moto.url}'}}\n")
    values = [working, revoked, key["SecretAccessKey"]]
    return {"config": config, "env": {"VAULT_TOKEN": root}, "values": values, "process": process, "root": root}


def test_validate_tells_working_from_revoked_credentials(world: dict) -> None:
    proc, report = run_json("validate", "--all", "--config", str(world["config"]), env=world["env"])
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    problems = {(f["check_id"], f["location"]["name"]) for f in report["findings"]}
    assert ("SA401", "old-vault-token") in problems
    assert not any(name in ("ci-vault-token", "deploy/aws-access-key") for _, name in problems), problems
    assert not any(value in output for value in world["values"])  # (the dev root token is the word "root")


def test_validate_one_secret_by_name(world: dict) -> None:
    proc, report = run_json("validate", "--secret", "ci-vault-token", "--config", str(world["config"]),
                            env=world["env"])
    assert proc.returncode == 0, proc.stderr
    assert report["summary"]["passed"] == 1 and not report["findings"]
    missing = run_cli("validate", "--secret", "nope", "--config", str(world["config"]), env=world["env"])
    assert missing.returncode == 5 and "no secret matches nope" in missing.stderr


def test_validate_says_could_not_validate_when_the_server_is_down(world: dict) -> None:
    world["process"].kill()
    world["process"].wait()
    proc, report = run_json("validate", "--all", "--config", str(world["config"]), env=world["env"])
    assert proc.returncode == 1
    errors = [f for f in report["findings"] if f["status"] == "error"]
    assert errors and all("could not validate" in f["message"] for f in errors)
    assert {f["location"]["backend"] for f in errors} == {"vault:prod"}
