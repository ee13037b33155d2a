"""The nightly audit end to end: one run against a real OpenBao and moto over HTTP.

A planted mix in both backends (expired, expiring, overdue, rotation off,
missing owner, healthy) must come back as exactly the planted problems;
``list`` and ``status`` must agree with it; a backend that dies or whose
token is revoked must be an error for that backend and leave the other's
results complete.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import hvac
import pytest
from aws_server import aws_client, moto, moto_server  # noqa: F401  (fixtures)
from conftest import run_cli, run_json
from servers import openbao_disposable  # noqa: F401  (fixture)

FOLDER = "ai-agents/openclaw"
NOW = datetime.now(timezone.utc)
AS_OF = (NOW + timedelta(days=20)).date()


def _day(offset: int) -> str:
    return (AS_OF + timedelta(days=offset)).isoformat()


#: name -> custom_metadata, in Vault KV v2
VAULT_SECRETS = {
    "github": {"kind": "github-token", "owner": "alice", "rotation_days": "30", "expiry_date": _day(-1)},
    "aws": {"kind": "aws-access-key", "owner": "bob", "rotation_days": "90", "expiry_date": _day(10)},
    "webhook-secret": {"kind": "generic", "owner": "carol"},                         # no rotation: off
    "reporting-db": {"kind": "database-password", "owner": "dan", "rotation_days": "15"},  # 20 days old
    "reports": {"kind": "generic", "owner": "erin", "rotation_days": "90"},          # healthy
}

#: name -> (tags, rotation days or None), in AWS Secrets Manager
AWS_SECRETS = {
    "svc/healthy": ({"owner": "frank", "kind": "generic", "expiry_date": _day(200)}, 30),
    "svc/rotation-off": ({"owner": "gina", "kind": "generic"}, None),
    "svc/expiring": ({"owner": "hal", "kind": "generic", "expiry_date": _day(5)}, 30),
    "svc/no-owner": ({"kind": "generic"}, 30),
}


def _expected(vault: str, aws: str, config: str) -> set[tuple[str, str]]:
    return {
        ("SA201", f"{vault}:github"),            # expired yesterday
        ("SA202", f"{vault}:aws"),               # expires in 10 days
        ("SA204", f"{vault}:webhook-secret"),    # rotation not configured
        ("SA203", f"{vault}:reporting-db"),      # 20 days old, policy 15
        ("SA205", f"{vault}:reporting-db"),      # its 15-day schedule was missed
        ("SA207", f"{vault}:token:token-audit"),  # the audit token has no owner metadata (OpenBao caps its
                                                  # TTL at 32 days: fresh, it is outside SA202's last third)
        ("SA204", f"{aws}:svc/rotation-off"),
        ("SA202", f"{aws}:svc/expiring"),
        ("SA207", f"{aws}:svc/no-owner"),
        ("SA501", config),                       # vault over plain http (loopback)
        ("SA501", config),                       # moto over plain http (loopback)
    }


def _plant_vault(url: str, root: str) -> str:
    client = hvac.Client(url=url, token=root)
    kv = client.secrets.kv.v2
    for name, custom in VAULT_SECRETS.items():
        kv.create_or_update_secret(path=f"{FOLDER}/{name}", secret={"value": "not-a-real-secret"}, mount_point="secret")
        kv.update_metadata(path=f"{FOLDER}/{name}", custom_metadata=custom, mount_point="secret")
    client.sys.create_or_update_policy(
        name="audit", policy=f'path "secret/metadata/{FOLDER}/*" {{ capabilities = ["list", "read"] }}\n'
                             f'path "secret/metadata/{FOLDER}" {{ capabilities = ["list"] }}\n'
                             'path "sys/policy/*" { capabilities = ["read"] }\n')
    return client.auth.token.create(policies=["audit"], ttl="2000h", display_name="audit")["auth"]["client_token"]


def _plant_aws(url: str) -> None:
    sm = aws_client("secretsmanager", url)
    for name, (tags, days) in AWS_SECRETS.items():
        sm.create_secret(Name=name, SecretString="not-a-real-secret",
                         Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
        if days:
            try:  # moto records the rotation settings, then fails: there is no rotation Lambda
                sm.rotate_secret(SecretId=name, RotationRules={"AutomaticallyAfterDays": days},
                                 RotationLambdaARN="arn:aws:lambda:us-east-1:123456789012:function:rotate")
            except Exception:
                pass


@pytest.fixture
def estate(tmp_path: Path, openbao_disposable, moto) -> dict:  # noqa: F811
    url, root, process = openbao_disposable
    token = _plant_vault(url, root)
    _plant_aws(moto.url)
    config = tmp_path / "secretaudit.yaml"
    config.write_text(
        "backends:\n"
        f"  - {{type: vault, name: prod, url: '{url}', token: '${{VAULT_TOKEN}}', path: 'secret/{FOLDER}'}}\n"
        f"  - {{type: aws-secrets-manager, name: aws, region: us-east-1, endpoint_url: '{moto.url}'}}\n"
        "policy:\n  rotation_days: {database-password: 15}\n")
    return {"config": config, "token": token, "root": root, "url": url, "process": process,
            "env": {"VAULT_TOKEN": token}}


def _problems(report: dict) -> set[tuple[str, str]]:
    found = set()
    for f in report["findings"]:
        if f["status"] in ("failed", "error"):
            loc = f["location"]
            found.add((f["check_id"], f"{loc['backend']}:{loc['name']}" if "backend" in loc else loc["path"]))
    return found


def test_one_audit_reports_exactly_the_planted_problems(estate: dict) -> None:
    config = estate["config"]
    proc, report = run_json("audit", "--config", str(config), "--as-of", AS_OF.isoformat(), env=estate["env"])
    assert proc.returncode == 1, proc.stderr
    problems = _problems(report)
    expected = _expected("vault:prod", "aws-secrets-manager:aws", str(config))
    assert {p for p in problems if p[0] != "SA501"} == {p for p in expected if p[0] != "SA501"}
    assert sum(1 for f in report["findings"] if f["check_id"] == "SA501") == 2
    # audit devices cannot be listed without sudo (an optional grant): not checked, never a pass
    assert [(f["check_id"], f["status"], f["severity"]) for f in report["findings"] if f["status"] == "skipped"] \
        == [("SA509", "skipped", "info")]
    assert estate["token"] not in proc.stdout + proc.stderr

    listed = json.loads(run_cli("list", "--config", str(config), "--format", "json", "--as-of", AS_OF.isoformat(),
                                env=estate["env"]).stdout)["secrets"]
    names = {f"{s['backend']}:{s['name']}" for s in listed}
    assert {f"vault:prod:{n}" for n in VAULT_SECRETS} | {f"aws-secrets-manager:aws:{n}" for n in AWS_SECRETS} <= names
    assert {p[1] for p in problems if p[0].startswith("SA2")} <= names  # every problem is a listed secret
    audited = sum(1 for r in report["results"] if r.get("check_id") == "SA200" and r["status"] == "passed")
    assert audited == 2

    status = json.loads(run_cli("status", "--config", str(config), "--format", "json", env=estate["env"]).stdout)
    assert [(s["backend"], s["reachable"]) for s in status] == [("vault:prod", True),
                                                               ("aws-secrets-manager:aws", True)]


def test_a_dead_vault_is_an_error_and_aws_is_still_audited(estate: dict) -> None:
    estate["process"].kill()
    estate["process"].wait()
    proc, report = run_json("audit", "--config", str(estate["config"]), "--as-of", AS_OF.isoformat(),
                            env=estate["env"])
    assert proc.returncode == 1
    errors = [f for f in report["findings"] if f["status"] == "error"]
    assert {f["location"]["backend"] for f in errors} == {"vault:prod"}  # policy checks fail with it
    (backend_error,) = [f for f in errors if f["check_id"] == "SA200"]
    assert "cannot connect" in backend_error["message"] or "connection" in backend_error["message"].lower()
    aws_expected = {p for p in _expected("vault:prod", "aws-secrets-manager:aws", "") if p[1].startswith("aws")}
    assert {p for p in _problems(report) if p[1].startswith("aws")} == aws_expected
    assert f"{len(errors)} error" in proc.stderr.splitlines()[-1]


def test_a_revoked_token_is_an_error_naming_the_cause(estate: dict) -> None:
    hvac.Client(url=estate["url"], token=estate["root"]).auth.token.revoke(estate["token"])
    proc, report = run_json("audit", "--config", str(estate["config"]), "--as-of", AS_OF.isoformat(),
                            env=estate["env"])
    assert proc.returncode == 1
    (error,) = [f for f in report["findings"] if f["status"] == "error" and f["check_id"] == "SA200"]
    assert error["location"]["backend"] == "vault:prod"
    assert "revoked" in error["message"] or "invalid" in error["message"]
    assert estate["token"] not in proc.stdout + proc.stderr
