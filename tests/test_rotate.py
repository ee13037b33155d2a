"""``secretaudit rotate`` end to end: real OpenBao, moto's server over HTTP, real MariaDB/PostgreSQL.

Every test runs the real CLI in a subprocess, then looks at the backend with
its own client (hvac, boto3) to prove what changed, that the current version
works, and that no value reached stdout, stderr or the access trail.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import hvac
import pytest
from aws_server import aws_client, moto, moto_server  # noqa: F401  (fixtures)
from conftest import ROOT, _CACHE_HOME, run_cli
from db_servers import create_mysql_user, create_postgres_user, mariadb_server, postgres_server  # noqa: F401  (fixtures)
from servers import openbao  # noqa: F401  (fixture)

REASON = "scheduled rotation (test)"


def trail_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of the trail, each of which must be whole JSON (no torn line)."""
    if not path.exists():
        return []
    raw = path.read_bytes()
    assert not raw or raw.endswith(b"\n"), "the trail ends in a torn line"
    return [json.loads(line) for line in raw.decode().splitlines() if line.strip()]


@pytest.fixture
def world(tmp_path: Path, openbao, moto) -> dict[str, Any]:  # noqa: F811
    """A config with one OpenBao folder and the moto account, a trail file, and clients to look behind the CLI."""
    url, root, _ = openbao
    folder = f"rot-{uuid.uuid4().hex[:8]}"
    vault = hvac.Client(url=url, token=root)
    config = tmp_path / "secretaudit.yaml"
    trail = tmp_path / "trail.jsonl"
    config.write_text(
        "backends:\n"
        f"  - {{type: vault, name: prod, url: '{url}', token: '${{VAULT_TOKEN}}', path: 'secret/{folder}'}}\n"
        f"  - {{type: aws-secrets-manager, name: aws, region: us-east-1, endpoint_url: '{moto.url}'}}\n"
        f"audit_log: {trail}\n"
        "rotation: {password: {length: 24, classes: [lower, upper, digit]}}\n")
    # the folder is never empty (an empty folder is an error for 'validate' and 'list')
    vault.secrets.kv.v2.create_or_update_secret(path=f"{folder}/placeholder", secret={"note": "n"},
                                                mount_point="secret")
    return {"config": config, "trail": trail, "env": {"VAULT_TOKEN": root}, "vault": vault, "folder": folder,
            "url": url, "root": root, "moto": moto, "sm": aws_client("secretsmanager", moto.url),
            "iam": aws_client("iam", moto.url)}


def kv_put(world: dict, name: str, fields: dict[str, str], kind: str | None = None) -> None:
    kv = world["vault"].secrets.kv.v2
    kv.create_or_update_secret(path=f"{world['folder']}/{name}", secret=fields, mount_point="secret")
    if kind:
        kv.update_metadata(path=f"{world['folder']}/{name}", custom_metadata={"kind": kind, "owner": "ops"},
                           mount_point="secret")


def kv_read(world: dict, name: str) -> tuple[dict[str, str], int]:
    answer = world["vault"].secrets.kv.v2.read_secret_version(path=f"{world['folder']}/{name}", mount_point="secret",
                                                              raise_on_deleted_version=True)
    return answer["data"]["data"], answer["data"]["metadata"]["version"]


def cli(world: dict, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, "--config", str(world["config"]), env=world["env"], **kwargs)


def assert_no_values(values: list[str], *texts: str) -> None:
    for value in values:
        for text in texts:
            assert value not in text, "a secret value leaked into output or the trail"


# -- Vault KV ------------------------------------------------------------------------------------


def test_rotate_vault_kv_generic_changes_version_validates_and_is_in_trail(world: dict) -> None:
    old = uuid.uuid4().hex
    kv_put(world, "webhook-secret", {"password": old, "user": "svc"}, kind="generic")
    listed = json.loads(cli(world, "list", "--format", "json").stdout)
    before = {r["name"]: r for r in listed["secrets"]}["webhook-secret"]["last_rotated"]
    time.sleep(1.1)
    proc = cli(world, "rotate", "--secret", "webhook-secret", "--reason", REASON)
    assert proc.returncode == 0, proc.stderr
    fields, version = kv_read(world, "webhook-secret")
    assert version == 2 and fields["user"] == "svc"
    new = fields["password"]
    assert new != old and len(new) == 24 and new.isalnum()  # the configured policy: 24 chars, no symbols
    assert "version 1 -> 2" in proc.stdout
    got = cli(world, "get", "--secret", "webhook-secret", "--field", "password")
    assert got.returncode == 0 and got.stdout.strip() == new
    after = {r["name"]: r for r in json.loads(cli(world, "list", "--format", "json").stdout)["secrets"]}
    assert after["webhook-secret"]["last_rotated"] > before  # the nightly audit sees it rotated
    lines = [e for e in trail_lines(world["trail"]) if e["command"] == "rotate"]
    assert [e["outcome"] for e in lines] == ["started", "ok"]
    assert lines[-1]["secret"] == "webhook-secret" and lines[-1]["backend"] == "vault:prod"
    assert lines[-1]["old_version"] == "1" and lines[-1]["new_version"] == "2" and lines[-1]["reason"] == REASON
    assert_no_values([old, new], proc.stdout, proc.stderr, world["trail"].read_text())


def test_dry_run_changes_nothing_and_says_what_would_happen(world: dict) -> None:
    kv_put(world, "api-password", {"password": uuid.uuid4().hex}, kind="generic")
    world["sm"].create_secret(Name="app/secret", SecretString=uuid.uuid4().hex)
    before_sm = world["sm"].describe_secret(SecretId="app/secret")["VersionIdsToStages"]
    for name, expected in (("api-password", "check-and-set on version 1"), ("aws:app/secret", "AWSPENDING")):
        proc = cli(world, "rotate", "--secret", name, "--reason", REASON, "--dry-run")
        assert proc.returncode == 0, proc.stderr
        assert "dry run" in proc.stdout and expected in proc.stdout + proc.stderr
    assert kv_read(world, "api-password")[1] == 1
    assert world["sm"].describe_secret(SecretId="app/secret")["VersionIdsToStages"] == before_sm
    assert [e["outcome"] for e in trail_lines(world["trail"])] == ["dry-run", "dry-run"]


def test_refuses_tokens_and_unknown_layouts_with_manual_steps(world: dict) -> None:
    from test_scan_verify import github_token

    token = github_token(random.Random(3))  # generated in the real format at test time
    kv_put(world, "github-token", {"personal_access_token": token}, kind="github-token")
    fake_vault_token = ".".join(("hvs", uuid.uuid4().hex))
    kv_put(world, "ci-vault-token", {"token": fake_vault_token}, kind="vault-token")
    kv_put(world, "blob", {"a": "1", "b": "2"}, kind="generic")
    for name, words in (("github-token", "github.com/settings/personal-access-tokens/new"),
                        ("ci-vault-token", "vault token create"), ("blob", "none is clearly the password")):
        proc = cli(world, "rotate", "--secret", name, "--reason", REASON)
        assert proc.returncode == 4, proc.stderr
        assert words in proc.stderr and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
        assert token not in proc.stderr + proc.stdout
    assert kv_read(world, "github-token")[1] == 1
    outcomes = [e["outcome"] for e in trail_lines(world["trail"])]
    assert outcomes.count("refused") == 3 and set(outcomes) <= {"refused", "started"}  # nothing else happened


def test_rotate_not_found_suggests_names(world: dict) -> None:
    kv_put(world, "service-password", {"password": "x" * 20}, kind="generic")
    proc = cli(world, "rotate", "--secret", "service-pasword", "--reason", REASON)
    assert proc.returncode == 4
    assert "Not Found" in proc.stderr and "service-password" in proc.stderr


def test_rotate_denied_names_the_missing_capability(world: dict) -> None:
    kv_put(world, "locked", {"password": uuid.uuid4().hex}, kind="generic")
    vault = world["vault"]
    folder = world["folder"]
    vault.sys.create_or_update_policy(name=f"ro-{folder}", policy=(
        f'path "secret/metadata/{folder}/*" {{ capabilities = ["read", "list"] }}\n'
        f'path "secret/data/{folder}/*" {{ capabilities = ["read"] }}\n'))
    narrow = vault.auth.token.create(policies=[f"ro-{folder}"], ttl="10m")["auth"]["client_token"]
    proc = run_cli("rotate", "--secret", "locked", "--reason", REASON, "--config", str(world["config"]),
                   env={"VAULT_TOKEN": narrow})
    assert proc.returncode == 1, proc.stderr
    assert "Access Denied" in proc.stderr and "'update' capability" in proc.stderr
    assert kv_read(world, "locked")[1] == 1
    assert trail_lines(world["trail"])[-1]["outcome"] == "denied"


def test_database_password_in_vault_changes_the_database_too(world: dict, mariadb_server, postgres_server) -> None:  # noqa: F811
    import pymysql

    my, pg = mariadb_server, postgres_server
    user = f"app_{uuid.uuid4().hex[:6]}"
    first = uuid.uuid4().hex
    create_mysql_user(my, user, first)
    create_postgres_user(pg, user, first)
    kv_put(world, "database", {"mysql_host": my.host, "mysql_port": str(my.port), "mysql_user": user,
                               "mysql_password": first}, kind="database-password")
    kv_put(world, "postgres", {"postgres_host": pg.host, "postgres_port": str(pg.port), "postgres_user": user,
                               "postgres_password": first}, kind="database-password")
    for name in ("database", "postgres"):
        proc = cli(world, "rotate", "--secret", name, "--reason", REASON)
        assert proc.returncode == 0, proc.stderr
        fields, version = kv_read(world, name)
        assert version == 3 and "_secretaudit_pending_password" not in fields  # pending, then finished
        assert fields[f"{'mysql' if name == 'database' else 'postgres'}_password"] != first
        check = cli(world, "validate", "--secret", name)
        assert check.returncode == 0, check.stdout + check.stderr
        assert_no_values([first, *fields.values()][:2], proc.stdout, proc.stderr, world["trail"].read_text())
    with pytest.raises(pymysql.err.OperationalError):  # the old password no longer logs in
        pymysql.connect(host=my.host, port=my.port, user=user, password=first).close()
    validated = [e for e in trail_lines(world["trail"]) if e["command"] == "validate"]
    assert [(e["secret"], e["outcome"]) for e in validated] == [("database", "ok"), ("postgres", "ok")]


# -- AWS Secrets Manager and IAM ----------------------------------------------------------------------


def test_rotate_secrets_manager_without_lambda_is_staged(world: dict) -> None:
    sm = world["sm"]
    old = uuid.uuid4().hex
    sm.create_secret(Name="app/password", SecretString=json.dumps({"password": old, "user": "app"}),
                     Tags=[{"Key": "kind", "Value": "generic"}])
    before = sm.describe_secret(SecretId="app/password")["VersionIdsToStages"]
    proc = cli(world, "rotate", "--secret", "aws:app/password", "--reason", REASON)
    assert proc.returncode == 0, proc.stderr
    stages = sm.describe_secret(SecretId="app/password")["VersionIdsToStages"]
    (old_id,) = before
    new_id = next(v for v, s in stages.items() if "AWSCURRENT" in s)
    assert new_id != old_id and stages[old_id] == ["AWSPREVIOUS"]
    assert not any("AWSPENDING" in s for s in stages.values())
    value = json.loads(sm.get_secret_value(SecretId="app/password", VersionStage="AWSCURRENT")["SecretString"])
    assert value["user"] == "app" and value["password"] != old
    listed = {r["name"]: r for r in json.loads(cli(world, "list", "--format", "json").stdout)["secrets"]}
    assert listed["app/password"]["last_rotated"] is not None
    got = json.loads(cli(world, "get", "--secret", "app/password", "--format", "json", "--field", "password").stdout)
    assert got["value"] == value["password"] and got["version"] == new_id
    assert_no_values([old, value["password"]], proc.stdout, proc.stderr, world["trail"].read_text())


def test_rotate_secret_with_missing_lambda_fails_and_keeps_awscurrent(world: dict) -> None:
    sm = world["sm"]
    old = uuid.uuid4().hex
    sm.create_secret(Name="app/with-lambda", SecretString=old)
    try:  # moto records the Lambda ARN, then fails because the function does not exist
        sm.rotate_secret(SecretId="app/with-lambda",
                         RotationLambdaARN="arn:aws:lambda:us-east-1:123456789012:function:rotator",
                         RotationRules={"AutomaticallyAfterDays": 30})
    except sm.exceptions.ResourceNotFoundException:
        pass
    proc = cli(world, "rotate", "--secret", "app/with-lambda", "--reason", REASON)
    assert proc.returncode == 1 and "RotateSecret failed" in proc.stderr and "AWSCURRENT is unchanged" in proc.stderr
    assert sm.get_secret_value(SecretId="app/with-lambda", VersionStage="AWSCURRENT")["SecretString"] == old
    assert trail_lines(world["trail"])[-1]["outcome"] == "failed"


def plant_iam_key(world: dict, user: str, secret_name: str, in_vault: bool = False) -> dict[str, str]:
    iam = world["iam"]
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    fields = {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"],
              "endpoint_url": world["moto"].url}
    if in_vault:
        kv_put(world, secret_name, fields, kind="aws-access-key")
    else:
        world["sm"].create_secret(Name=secret_name, SecretString=json.dumps(fields),
                                  Tags=[{"Key": "kind", "Value": "aws-access-key"}])
    return fields


@pytest.mark.parametrize("in_vault", [False, True], ids=["secrets-manager", "vault-kv"])
def test_iam_two_key_procedure(world: dict, in_vault: bool) -> None:
    name = "deploy-aws-key"
    old = plant_iam_key(world, "deployer", name, in_vault)
    proc = cli(world, "rotate", "--secret", name, "--reason", REASON)
    assert proc.returncode == 0, proc.stderr
    keys = {k["AccessKeyId"]: k["Status"] for k in world["iam"].list_access_keys(UserName="deployer")["AccessKeyMetadata"]}
    assert keys[old["access_key_id"]] == "Inactive"  # deactivated, not deleted
    if in_vault:
        current, version = kv_read(world, name)
        assert version == 2
    else:
        current = json.loads(world["sm"].get_secret_value(SecretId=name, VersionStage="AWSCURRENT")["SecretString"])
    assert keys[current["access_key_id"]] == "Active" and len(keys) == 2
    assert "user/deployer" in proc.stdout
    check = cli(world, "validate", "--secret", name)
    assert check.returncode == 0, check.stdout + check.stderr
    # a second rotation finds two keys: refused with the steps, nothing changed
    again = cli(world, "rotate", "--secret", name, "--reason", REASON)
    assert again.returncode == 4 and "already has two access keys" in again.stderr and "delete-access-key" in again.stderr
    assert len(world["iam"].list_access_keys(UserName="deployer")["AccessKeyMetadata"]) == 2
    everything = proc.stdout + proc.stderr + again.stdout + again.stderr + world["trail"].read_text()
    assert_no_values([old["secret_access_key"], current["secret_access_key"], old["access_key_id"],
                      current["access_key_id"]], everything)


# -- SIGKILL at random points ------------------------------------------------------------------------


def _kill_at_random(args: list[str], env: dict[str, str], delay: float) -> int | None:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": _CACHE_HOME, **env}
    proc = subprocess.Popen([sys.executable, "-m", "secretaudit", *args], env=full_env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(delay)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    return proc.returncode


def _kills_mid_rotation(world: dict) -> int:
    """Kills that landed mid-rotation: a 'started' line with no outcome line after it for that secret."""
    entries = [e for e in trail_lines(world["trail"]) if e["command"] == "rotate"]
    return sum(1 for i, e in enumerate(entries) if e["outcome"] == "started" and not any(
        later["secret"] == e["secret"] and later["outcome"] != "started" and later["time"] >= e["time"]
        for later in entries[i + 1:i + 2]))


def test_sigkill_mid_rotation_never_leaves_a_secret_without_a_working_current_version(world: dict) -> None:
    """Runs per secret killed at random instants: after each, the current version fetches and validates.

    10 rounds of 3 secrets by default (CI's time budget); ``SECRETAUDIT_KILL_ROUNDS`` asks for more.
    Up to three times as many rounds run until three kills have landed mid-rotation.
    """
    rng = random.Random(int(os.environ.get("SECRETAUDIT_KILL_SEED", "1124")))
    kv_put(world, "kv-password", {"password": uuid.uuid4().hex}, kind="generic")
    world["sm"].create_secret(Name="sm-password", SecretString=json.dumps({"password": uuid.uuid4().hex}),
                              Tags=[{"Key": "kind", "Value": "generic"}])
    plant_iam_key(world, "killed", "iam-key")
    # how long a whole run takes, so the kills land before, during and after the writes
    started = time.monotonic()
    assert cli(world, "rotate", "--secret", "kv-password", "--reason", REASON).returncode == 0
    span = time.monotonic() - started
    killed = 0
    rounds = int(os.environ.get("SECRETAUDIT_KILL_ROUNDS", "10"))
    for run in range(rounds * 3):
        if run >= rounds and _kills_mid_rotation(world) >= 3:
            break  # on a loaded machine the delays land differently: a few more rounds, not a false alarm
        for name in ("kv-password", "aws:sm-password", "iam-key"):
            if name == "iam-key":  # the operator's step the refusal names: remove keys that are not stored
                stored = json.loads(world["sm"].get_secret_value(SecretId="iam-key",
                                                                 VersionStage="AWSCURRENT")["SecretString"])
                for key in world["iam"].list_access_keys(UserName="killed")["AccessKeyMetadata"]:
                    if key["AccessKeyId"] != stored["access_key_id"]:
                        world["iam"].delete_access_key(UserName="killed", AccessKeyId=key["AccessKeyId"])
            code = _kill_at_random(["rotate", "--secret", name, "--reason", f"kill loop {run}",
                                    "--config", str(world["config"])], world["env"], rng.uniform(0.2, span * 1.3))
            killed += code == -signal.SIGKILL
            check = cli(world, "validate", "--secret", name.split(":")[-1]) if name == "iam-key" else None
            if check is not None:
                assert check.returncode == 0, f"run {run}: {check.stdout}{check.stderr}"
            got = cli(world, "get", "--secret", name, "--format", "json")
            assert got.returncode == 0, f"run {run} {name}: {got.stderr}"
            fields = json.loads(got.stdout)["fields"]
            assert fields and all(fields.values()), f"run {run} {name}: empty current value"
            if name == "aws:sm-password":
                stages = world["sm"].describe_secret(SecretId="sm-password")["VersionIdsToStages"]
                assert sum("AWSCURRENT" in s for s in stages.values()) == 1
            lines = trail_lines(world["trail"])  # parses every line: no torn line
            assert all(set(e) >= {"time", "command", "secret", "outcome"} for e in lines)
    assert killed >= 10, f"only {killed} runs were killed; the delays are too long"
    midway = _kills_mid_rotation(world)
    assert midway >= 3, f"only {midway} kills landed after a rotation started"
    # and a clean run afterwards still works on every secret (stale AWSPENDING / pending fields recovered)
    for name in ("kv-password", "aws:sm-password"):
        proc = cli(world, "rotate", "--secret", name, "--reason", "after the kills")
        assert proc.returncode == 0, proc.stderr
