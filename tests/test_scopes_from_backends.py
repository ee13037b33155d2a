"""Least privilege taken from the secrets themselves (``scopes: {from_backends: true}``), against real servers.

A world is planted the way the standard keeps an agent's credentials: OpenBao
(Vault KV) holds an IAM user's AWS key, a GitHub token, a MariaDB and a
PostgreSQL login; AWS Secrets Manager (moto) holds a key whose secret names
the role the agent assumes.  The audit's config names no role, user, token
or account: only ``scopes: {from_backends: true}``.  A broad world (admin
policies, ``delete_repo``/``admin:org``, ALL PRIVILEGES, CREATEROLE) reports
each of them at its secret; a tight world of the same shapes reports nothing
under SA301/SA302/SA303/SA305/SA306.  No value reaches an output, a report or
the trail, and every read is a trail line.
"""

from __future__ import annotations

import json
import random
import secrets
import uuid
from pathlib import Path
from typing import Any

import boto3
import hvac
import pg8000.dbapi
import pg8000.native
import pymysql
import pytest
from aws_server import aws_client, moto, moto_server  # noqa: F401  (fixtures)
from conftest import fake_aws_key_id, fake_aws_secret, run_cli
from db_servers import DBServer, mariadb_server, postgres_server  # noqa: F401  (fixtures)
from github_server import github_api  # noqa: F401  (fixture)
from servers import openbao  # noqa: F401  (fixture)
from test_aws_iam import rejecting_sts  # noqa: F401  (fixture)
from test_scan_verify import github_token

SCOPE_CHECKS = ("SA301", "SA302", "SA303", "SA305", "SA306")


def _doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


TRUST = _doc({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sts:AssumeRole"})


class World:
    """What one test planted: the values (to grep for) and the names findings must carry."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.folder = f"agents-{tag}"
        self.values: list[str] = []

    def keep(self, *values: str) -> None:
        self.values.extend(values)


def plant_aws(world: World, moto_url: str, broad: bool) -> dict[str, dict[str, str]]:
    """An IAM user whose key is kept in Vault; a second user whose key (with a role_arn) is kept in Secrets Manager."""
    iam = aws_client("iam", moto_url)
    user, assumer, role = f"agent-{world.tag}", f"assumer-{world.tag}", f"deploy-{world.tag}"
    iam.create_user(UserName=user)
    if broad:
        iam.put_user_policy(UserName=user, PolicyName="everything", PolicyDocument=_doc(
            {"Sid": "Admin", "Effect": "Allow", "Action": "*", "Resource": "*"}))
    else:
        iam.put_user_policy(UserName=user, PolicyName="read-reports", PolicyDocument=_doc(
            {"Sid": "Reports", "Effect": "Allow", "Action": "s3:GetObject",
             "Resource": "arn:aws:s3:::reports-bucket/*"}))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    if broad:
        iam.create_access_key(UserName=user)  # a second active key: SA302
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    grant = {"Sid": "IamAll", "Effect": "Allow", "Action": "iam:*", "Resource": "*"} if broad else \
        {"Sid": "Deploy", "Effect": "Allow", "Action": "lambda:UpdateFunctionCode",
         "Resource": "arn:aws:lambda:us-east-1:123456789012:function:agent"}
    iam.put_role_policy(RoleName=role, PolicyName="deploy", PolicyDocument=_doc(grant))
    iam.create_user(UserName=assumer)
    iam.put_user_policy(UserName=assumer, PolicyName="assume", PolicyDocument=_doc(
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}))
    assumer_key = iam.create_access_key(UserName=assumer)["AccessKey"]
    sts = boto3.client("sts", region_name="us-east-1", endpoint_url=moto_url,
                       aws_access_key_id=assumer_key["AccessKeyId"],
                       aws_secret_access_key=assumer_key["SecretAccessKey"])
    session = sts.assume_role(RoleArn=role_arn, RoleSessionName="agent-task")["Credentials"]
    world.keep(key["SecretAccessKey"], assumer_key["SecretAccessKey"], session["SecretAccessKey"],
               session["SessionToken"])
    return {"session": {"access_key_id": session["AccessKeyId"], "secret_access_key": session["SecretAccessKey"],
                        "session_token": session["SessionToken"]},
            "user": {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]},
            "role": {"access_key_id": assumer_key["AccessKeyId"],
                     "secret_access_key": assumer_key["SecretAccessKey"], "role_arn": role_arn}}


def plant_databases(world: World, my: DBServer, pg: DBServer, broad: bool) -> dict[str, dict[str, str]]:
    """A MariaDB and a PostgreSQL account: ALL PRIVILEGES / CREATEROLE when broad, SELECT on one table when tight."""
    my_user, pg_user = f"lp_my_{world.tag}", f"lp_pg_{world.tag}"
    my_pw, pg_pw = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
    world.keep(my_pw, pg_pw)
    conn = pymysql.connect(host=my.host, port=my.port, user=my.user, password=my.password, autocommit=True)
    with conn.cursor() as cur:
        cur.execute("CREATE DATABASE IF NOT EXISTS lp_app")
        cur.execute("CREATE TABLE IF NOT EXISTS lp_app.orders (id INT PRIMARY KEY)")
        cur.execute(f"CREATE USER '{my_user}'@'%%' IDENTIFIED BY %s", (my_pw,))
        cur.execute(f"GRANT ALL PRIVILEGES ON *.* TO '{my_user}'@'%'" if broad
                    else f"GRANT SELECT ON lp_app.orders TO '{my_user}'@'%'")
    conn.close()
    conn = pg8000.dbapi.connect(host=pg.host, port=pg.port, user=pg.user, password=pg.password, database="postgres")
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute(f"CREATE ROLE {pg_user} LOGIN {'CREATEROLE' if broad else ''} "
                f"PASSWORD {pg8000.native.literal(pg_pw)}")
    cur.execute("CREATE TABLE IF NOT EXISTS public.lp_orders (id int PRIMARY KEY)")
    cur.execute(f"GRANT SELECT ON public.lp_orders TO {pg_user}")
    conn.close()
    return {"mysql": {"engine": "mysql", "host": my.host, "port": str(my.port), "user": my_user, "password": my_pw},
            "postgres": {"engine": "postgres", "host": pg.host, "port": str(pg.port), "user": pg_user,
                         "password": pg_pw, "database": "postgres"}}


def plant_world(world: World, openbao_url: str, root: str, moto_url: str, github: Any, my: DBServer,
                pg: DBServer, broad: bool) -> None:
    token = github_token(random.Random(world.tag))
    github.add(token, login=f"bot-{world.tag}", scopes="repo, delete_repo, admin:org" if broad else "repo")
    world.keep(token)
    keys = plant_aws(world, moto_url, broad)
    databases = plant_databases(world, my, pg, broad)
    kv = hvac.Client(url=openbao_url, token=root).secrets.kv.v2
    for name, kind, fields in (("aws", "aws-access-key", keys["user"]),
                               ("aws-session", "aws-access-key", keys["session"]),
                               ("github", "github-token", {"personal_access_token": token}),
                               ("mysql", "database-password", databases["mysql"]),
                               ("postgres", "database-password", databases["postgres"])):
        path = f"{world.folder}/{name}"
        kv.create_or_update_secret(path=path, secret=fields, mount_point="secret")
        kv.update_metadata(path=path, custom_metadata={"kind": kind, "owner": "ops"}, mount_point="secret")
    sm = aws_client("secretsmanager", moto_url)
    sm.create_secret(Name=f"{world.folder}/deploy-role", SecretString=json.dumps(keys["role"]),
                     Tags=[{"Key": "kind", "Value": "aws-access-key"}, {"Key": "owner", "Value": "ops"}])


def write_config(tmp_path: Path, world: World, openbao_url: str, scopes: str = "{from_backends: true}") -> Path:
    config = tmp_path / "secretaudit.yaml"
    config.write_text(
        "backends:\n"
        f"  - {{type: vault, name: prod, url: '{openbao_url}', token: '${{VAULT_TOKEN}}', "
        f"path: 'secret/{world.folder}'}}\n"
        "  - {type: aws-secrets-manager, name: sm, region: us-east-1}\n"
        f"audit_log: {tmp_path / 'trail.jsonl'}\n"
        f"scopes: {scopes}\n")
    return config


def audit(tmp_path: Path, config: Path, root: str, moto_url: str, github: Any) -> tuple[Any, dict[str, Any]]:
    report = tmp_path / "report.json"
    proc = run_cli("audit", "--config", str(config), "--github-api-url", github.url, "--report",
                   f"json:{report}", "--report", f"sarif:{tmp_path / 'report.sarif'}", cwd=tmp_path,
                   env={"VAULT_TOKEN": root, "AWS_ENDPOINT_URL": moto_url}, timeout=300)
    assert report.exists(), proc.stderr
    return proc, json.loads(report.read_text())


def scope_findings(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["check_id"] in SCOPE_CHECKS]


def assert_no_values(world: World, tmp_path: Path, proc: Any) -> None:
    outputs = [proc.stdout, proc.stderr] + [p.read_text(errors="replace") for p in tmp_path.iterdir() if p.is_file()]
    for value in world.values:
        assert all(value not in text for text in outputs), "a secret value leaked into an output"


def trail_reads(tmp_path: Path, config: Path, root: str) -> set[tuple[str, str, str]]:
    proc = run_cli("trail", "--config", str(config), "--format", "json", cwd=tmp_path, env={"VAULT_TOKEN": root})
    assert proc.returncode == 0, proc.stderr
    entries = json.loads(proc.stdout)
    entries = entries["entries"] if isinstance(entries, dict) else entries
    return {(e["backend"], e["secret"], e["outcome"]) for e in entries if e.get("command") == "audit"}


@pytest.fixture
def servers(openbao, moto, github_api, mariadb_server, postgres_server):  # noqa: F811
    url, root, _ = openbao
    return url, root, moto.url, github_api, mariadb_server, postgres_server


def test_broad_world_reports_every_over_broad_credential_at_its_secret(tmp_path: Path, servers) -> None:
    url, root, moto_url, github, my, pg = servers
    world = World(uuid.uuid4().hex[:8])
    plant_world(world, url, root, moto_url, github, my, pg, broad=True)
    config = write_config(tmp_path, world, url)
    proc, report = audit(tmp_path, config, root, moto_url, github)
    assert proc.returncode == 1, proc.stderr
    found = scope_findings(report)
    assert not [f for f in found if f["status"] == "error"], found
    vault, sm = "vault:prod", "aws-secrets-manager:sm"
    where = {(f["check_id"], f["location"]["backend"], f["location"]["name"]) for f in found}
    assert where == {("SA301", vault, "aws"), ("SA302", vault, "aws"), ("SA301", sm, f"{world.folder}/deploy-role"),
                     ("SA301", vault, "aws-session"),
                     ("SA305", vault, "github"), ("SA306", vault, "mysql"), ("SA306", vault, "postgres")}, where

    def messages(check: str, name: str) -> str:
        return " | ".join(f["message"] for f in found if f["check_id"] == check and f["location"]["name"] == name)

    assert f"user/agent-{world.tag}" in messages("SA301", "aws") and "every action ('*')" in messages("SA301", "aws")
    assert "2 active access keys" in messages("SA302", "aws")
    role = messages("SA301", f"{world.folder}/deploy-role")
    assert f"role/deploy-{world.tag}" in role and "iam:*" in role and "role the key assumes" in role
    session = messages("SA301", "aws-session")  # temporary credentials: STS names the assumed role
    assert f"role/deploy-{world.tag}" in session and "the key's identity" in session
    assert "delete_repo" in messages("SA305", "github") and "admin:org" in messages("SA305", "github")
    assert "ALL PRIVILEGES" in messages("SA306", "mysql") and f"lp_my_{world.tag}" in messages("SA306", "mysql")
    assert "CREATEROLE" in messages("SA306", "postgres")
    assert_no_values(world, tmp_path, proc)
    reads = trail_reads(tmp_path, config, root)
    assert {(vault, name, "ok") for name in ("aws", "aws-session", "github", "mysql", "postgres")} <= reads, reads
    assert (sm, f"{world.folder}/deploy-role", "ok") in reads, reads


def test_tight_world_reports_nothing_under_the_scope_checks(tmp_path: Path, servers) -> None:
    url, root, moto_url, github, my, pg = servers
    world = World(uuid.uuid4().hex[:8])
    plant_world(world, url, root, moto_url, github, my, pg, broad=False)
    config = write_config(tmp_path, world, url)
    proc, report = audit(tmp_path, config, root, moto_url, github)
    assert scope_findings(report) == [], scope_findings(report)
    # every credential was judged: one unit per secret on each from_backends target
    targets = {r["target"] for r in report.get("results", [])}
    assert any(t.startswith("aws keys in ") for t in targets) and any(t.startswith("database accounts in ")
                                                                      for t in targets), targets
    assert_no_values(world, tmp_path, proc)
    assert len(trail_reads(tmp_path, config, root)) == 6
    # each backend is listed once: the audit of the backend reuses the listing the families made, so turning
    # from_backends on costs Vault exactly its five reads
    off = tmp_path / "off"
    off.mkdir()
    _, without = audit(off, write_config(off, world, url, scopes="{}"), root, moto_url, github)
    calls = [r["run"]["backends"]["vault:prod"]["api_calls"] for r in (report, without)]
    assert calls[0] - calls[1] == 5, calls


@pytest.mark.parametrize("trail_ok", [True, False], ids=["fields-missing", "trail-unwritable"])
def test_a_database_secret_without_connection_fields_is_one_clear_error(tmp_path: Path, openbao,  # noqa: F811
                                                                         trail_ok: bool) -> None:
    url, root, _ = openbao
    trail = tmp_path / "trail.jsonl"
    if not trail_ok:
        trail.mkdir()  # a directory where the trail file should be: no read may go unrecorded
    world = World(uuid.uuid4().hex[:8])
    password = secrets.token_urlsafe(18)
    kv = hvac.Client(url=url, token=root).secrets.kv.v2
    kv.create_or_update_secret(path=f"{world.folder}/db", secret={"username": "app", "password": password},
                               mount_point="secret")
    kv.update_metadata(path=f"{world.folder}/db", custom_metadata={"kind": "database-password"}, mount_point="secret")
    config = tmp_path / "secretaudit.yaml"
    config.write_text(f"backends:\n  - {{type: vault, name: prod, url: '{url}', token: '${{VAULT_TOKEN}}', "
                      f"path: 'secret/{world.folder}'}}\naudit_log: {tmp_path / 'trail.jsonl'}\n"
                      "scopes: {databases: {from_backends: true}}\n")
    proc = run_cli("audit", "--config", str(config), "--format", "json", cwd=tmp_path, env={"VAULT_TOKEN": root})
    report = json.loads(proc.stdout)
    (error,) = [f for f in report["findings"] if f["check_id"] == "SA306"]
    assert error["status"] == "error" and error["location"]["name"] == "db"
    if trail_ok:
        assert "no engine in the secret" in error["message"] and "host" in error["message"]
        assert ("vault:prod", "db", "ok") in trail_reads(tmp_path, config, root)
    else:
        assert "access trail" in error["message"] and "was not used" in error["message"], error["message"]
    assert password not in proc.stdout + proc.stderr


def test_a_key_sts_rejects_is_one_error_naming_the_fix(tmp_path: Path, openbao, rejecting_sts: str) -> None:  # noqa: F811
    url, root, _ = openbao
    world = World(uuid.uuid4().hex[:8])
    rng = random.Random(world.tag)
    key_id, secret = fake_aws_key_id(rng), fake_aws_secret(rng)
    kv = hvac.Client(url=url, token=root).secrets.kv.v2
    kv.create_or_update_secret(path=f"{world.folder}/aws", mount_point="secret", secret={
        "access_key_id": key_id, "secret_access_key": secret, "endpoint_url": rejecting_sts})
    config = tmp_path / "secretaudit.yaml"
    config.write_text(f"backends:\n  - {{type: vault, name: prod, url: '{url}', token: '${{VAULT_TOKEN}}', "
                      f"path: 'secret/{world.folder}'}}\naudit_log: {tmp_path / 'trail.jsonl'}\n"
                      "scopes: {aws: {from_backends: true}}\n")
    proc = run_cli("audit", "--config", str(config), "--format", "json", cwd=tmp_path, env={"VAULT_TOKEN": root})
    report = json.loads(proc.stdout)
    (error,) = [f for f in report["findings"] if f["check_id"] in ("SA301", "SA302", "SA303")]
    assert error["check_id"] == "SA303" and error["status"] == "error" and error["location"]["name"] == "aws"
    assert error["message"].startswith("not checked: the key is rejected: AWS rejected the key (InvalidClientTokenId")
    assert "rotate" in error["message"] and "validate" in error["message"]
    for text in (proc.stdout, proc.stderr, (tmp_path / "trail.jsonl").read_text()):
        assert key_id not in text and secret not in text
    assert ("vault:prod", "aws", "ok") in trail_reads(tmp_path, config, root)


@pytest.mark.parametrize(("scopes", "key"), [
    ("{from_backends: yes-please}", "scopes.from_backends"),
    ("{from_backends: [aws, gitlab]}", "scopes.from_backends"),
    ("{aws: {from_backends: 1}}", "scopes.aws.from_backends"),
    ("{databases: {from_backends: true, host: db}}", "scopes.databases.host"),
])
def test_a_bad_from_backends_spelling_is_a_one_line_config_error(tmp_path: Path, scopes: str, key: str) -> None:
    config = tmp_path / "secretaudit.yaml"
    config.write_text(f"scopes: {scopes}\n")
    proc = run_cli("audit", "--config", str(config), str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 4, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and f"'{key}'" in lines[0] and "Traceback" not in proc.stderr, proc.stderr


@pytest.mark.parametrize(("scopes", "families"), [
    ({"from_backends": True}, {"aws", "github", "databases"}),
    ({"from_backends": ["databases", "aws"]}, {"aws", "databases"}),
    ({"from_backends": True, "github": {"from_backends": False}}, {"aws", "databases"}),
    ({"github": {"from_backends": True}, "databases": {"from_backends": True}}, {"github", "databases"}),
    ({"aws": {"roles": ["reader"]}, "databases": []}, set()),
])
def test_which_families_take_their_targets_from_the_backends(scopes: dict[str, Any], families: set[str]) -> None:
    from secretaudit.checks.from_backends import parse
    from secretaudit.config import Config, validate

    assert parse(Config(settings=validate({"scopes": scopes}, "test.yaml"))) == families


@pytest.mark.parametrize(("arn", "role_arn", "expected"), [
    ("arn:aws:iam::123456789012:user/agent", "", [("user", "agent")]),
    ("arn:aws:iam::123456789012:user/team/ci/agent", "", [("user", "agent")]),
    ("arn:aws:sts::123456789012:assumed-role/Deploy/session-1", "", [("role", "Deploy")]),
    ("arn:aws:iam::123456789012:user/agent", "arn:aws:iam::123456789012:role/ops/Deploy",
     [("user", "agent"), ("role", "Deploy")]),
    ("arn:aws:sts::123456789012:assumed-role/Deploy/s", "arn:aws:iam::123456789012:role/Deploy", [("role", "Deploy")]),
    ("arn:aws:sts::123456789012:federated-user/bob", "", []),
])
def test_whose_policies_a_key_acts_with(arn: str, role_arn: str, expected: list[tuple[str, str]]) -> None:
    from secretaudit.checks.aws_iam import key_principals

    assert [(p.kind, p.name) for p, _ in key_principals(arn, role_arn)] == expected
