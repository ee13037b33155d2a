"""Least privilege in AWS IAM (SA301-SA303) and the AWS key validator, against moto's server mode.

Real boto3 IAM clients plant roles, users, policies and access keys in a moto
server over HTTP (``tests/aws_server.py``); the audit runs through the CLI as
a real process and reads them back.  The validator's "invalid" answer comes
from a tiny local HTTP server speaking STS's XML error protocol.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest
from aws_server import aws_client, closed_port_url, moto, moto_server  # noqa: F401  (fixtures)
from conftest import run_cli

from secretaudit.checks import aws_iam
from secretaudit.config import Config, validate
from secretaudit.errors import ConfigError
from secretaudit.model import Severity

pytestmark = pytest.mark.usefixtures("moto_server")

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def _doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _plugin_args() -> tuple[str, ...]:
    from secretaudit.plugins import DEFAULT_PLUGINS

    return () if "secretaudit.checks.aws_iam" in DEFAULT_PLUGINS else ("-p", "secretaudit.checks.aws_iam")


def _env(url: str) -> dict[str, str]:
    return {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true"}


def _tomorrow() -> str:
    return (datetime.now(timezone.utc) + timedelta(days=1)).strftime("%Y-%m-%d")


def plant_role(iam: Any, name: str, *statements: dict[str, Any], managed: bool = True) -> None:
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)
    if not statements:
        return
    if managed:
        arn = iam.create_policy(PolicyName=f"{name}-policy", PolicyDocument=_doc(*statements))["Policy"]["Arn"]
        iam.attach_role_policy(RoleName=name, PolicyArn=arn)
    else:
        iam.put_role_policy(RoleName=name, PolicyName=f"{name}-inline", PolicyDocument=_doc(*statements))


def plant_least_privilege(iam: Any) -> dict[str, Any]:
    """A least-privilege role and a user with one fresh key; returns the key."""
    plant_role(iam, "reader", {"Sid": "ReadReports", "Effect": "Allow", "Action": "s3:GetObject",
                               "Resource": "arn:aws:s3:::reports-bucket/*"})
    iam.put_role_policy(RoleName="reader", PolicyName="deny-all-iam", PolicyDocument=_doc(
        {"Effect": "Deny", "Action": "iam:*", "Resource": "*"}))
    iam.create_user(UserName="deployer")
    iam.put_user_policy(UserName="deployer", PolicyName="deploy", PolicyDocument=_doc(
        {"Effect": "Allow", "Action": ["lambda:UpdateFunctionCode", "lambda:GetFunction"],
         "Resource": "arn:aws:lambda:us-east-1:123456789012:function:agent"}))
    return iam.create_access_key(UserName="deployer")["AccessKey"]


def write_config(tmp_path: Path, url: str, roles: list[str], users: list[str], extra: str = "") -> Path:
    config = tmp_path / "secretaudit.yaml"
    config.write_text(
        "scopes:\n  aws:\n"
        f"    roles: {json.dumps(roles)}\n    users: {json.dumps(users)}\n"
        f"    region: us-east-1\n    endpoint_url: {url}\n" + extra)
    (tmp_path / "repo").mkdir(exist_ok=True)  # audit needs something besides scopes to run
    return config


def audit(tmp_path: Path, config: Path, url: str) -> tuple[Any, dict[str, Any]]:
    proc = run_cli("audit", "--config", str(config), "--as-of", _tomorrow(), "--format", "json",
                   *_plugin_args(), str(tmp_path / "repo"), cwd=tmp_path, env=_env(url))
    assert proc.stdout, proc.stderr
    return proc, json.loads(proc.stdout)


def sa3(report: dict[str, Any]) -> set[tuple[str, str]]:
    return {(f["check_id"], f["location"].get("name")) for f in report["findings"] if f["check_id"].startswith("SA30")}


# -- the planted world, through the CLI ---------------------------------------------------------


def test_planted_world_gives_exactly_its_findings(moto, tmp_path: Path) -> None:
    iam = aws_client("iam", moto.url)
    plant_role(iam, "broad-s3", {"Sid": "Everything", "Effect": "Allow", "Action": "s3:*", "Resource": "*"})
    plant_role(iam, "passer", {"Effect": "Allow", "Action": ["iam:PassRole", "iam:GetRole"], "Resource": "*"},
               managed=False)
    key = plant_least_privilege(iam)
    iam.create_user(UserName="two-keys")
    keys = [iam.create_access_key(UserName="two-keys")["AccessKey"] for _ in range(2)]

    config = write_config(tmp_path, moto.url, ["broad-s3", "passer", "reader", "ghost"], ["deployer", "two-keys"])
    proc, report = audit(tmp_path, config, moto.url)
    assert proc.returncode == 1, proc.stderr
    assert sa3(report) == {("SA301", "role/broad-s3"), ("SA301", "role/passer"), ("SA302", "user/two-keys"),
                           ("SA303", "role/ghost")}
    by_key: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for f in report["findings"]:
        by_key.setdefault((f["check_id"], f["location"].get("name")), []).append(f)
    (broad,) = by_key[("SA301", "role/broad-s3")]  # exactly one finding for s3:* on *
    assert "broad-s3-policy" in broad["message"] and "'Everything'" in broad["message"]
    assert "s3:*" in broad["message"] and broad["severity"] == "medium" and broad["status"] == "failed"
    (passer,) = by_key[("SA301", "role/passer")]
    assert "iam:PassRole" in passer["message"] and "passer-inline" in passer["message"] and "#0" in passer["message"]
    assert passer["severity"] == "high"
    (ghost,) = by_key[("SA303", "role/ghost")]
    assert ghost["status"] == "error" and "does not exist" in ghost["message"] and "iam:GetRole" in ghost["message"]
    assert any("2 active access keys" in f["message"] for f in by_key[("SA302", "user/two-keys")])
    # verdicts per check on the aws-iam target
    results = {(r["check_id"], r["target"]): r["status"] for r in report["results"]}
    target = f"aws-iam:{moto.url.split('//', 1)[1]}"
    assert results[("SA301", target)] == "failed" and results[("SA303", target)] == "error"
    # access key ids and secrets never appear, only their last four characters
    out = proc.stdout + proc.stderr
    for k in (key, *keys):
        assert k["AccessKeyId"] not in out and k["SecretAccessKey"] not in out
    assert "…" + keys[0]["AccessKeyId"][-4:] in out


def test_least_privilege_world_gives_no_finding(moto, tmp_path: Path) -> None:
    iam = aws_client("iam", moto.url)
    plant_least_privilege(iam)
    config = write_config(tmp_path, moto.url, ["reader"], ["deployer"])
    proc, report = audit(tmp_path, config, moto.url)
    assert sa3(report) == set(), report["findings"]
    target = f"aws-iam:{moto.url.split('//', 1)[1]}"
    results = {(r["check_id"], r["target"]): r["status"] for r in report["results"]}
    assert {results[(c, target)] for c in ("SA301", "SA302", "SA303")} == {"passed"}


def test_old_and_unused_keys_judged_as_of(moto, tmp_path: Path) -> None:
    iam = aws_client("iam", moto.url)
    plant_least_privilege(iam)
    config = write_config(tmp_path, moto.url, [], ["deployer"], "policy:\n  scopes:\n    aws_rotation_days: 30\n")
    as_of = (datetime.now(timezone.utc) + timedelta(days=45)).strftime("%Y-%m-%d")
    proc = run_cli("audit", "--config", str(config), "--as-of", as_of, "--format", "json", *_plugin_args(),
                   str(tmp_path / "repo"), cwd=tmp_path, env=_env(moto.url))
    findings = [f for f in json.loads(proc.stdout)["findings"] if f["check_id"] == "SA302"]
    assert len(findings) == 1 and "the policy rotates keys every 30 days" in findings[0]["message"]
    # 100 days on, the never-used key is also unused
    as_of = (datetime.now(timezone.utc) + timedelta(days=100)).strftime("%Y-%m-%d")
    proc = run_cli("audit", "--config", str(config), "--as-of", as_of, "--format", "json", *_plugin_args(),
                   str(tmp_path / "repo"), cwd=tmp_path, env=_env(moto.url))
    messages = [f["message"] for f in json.loads(proc.stdout)["findings"] if f["check_id"] == "SA302"]
    assert len(messages) == 2 and any("never used" in m for m in messages)


def test_unreachable_iam_is_one_error(tmp_path: Path) -> None:
    url = closed_port_url()
    config = write_config(tmp_path, url, ["a", "b"], ["c"], "timeout: 2\n")
    proc, report = audit(tmp_path, config, url)
    assert sa3(report) == {("SA303", "*")}
    (error,) = [f for f in report["findings"] if f["check_id"] == "SA303"]
    # botocore gives up on its own, or its retries of the refused connection run into --timeout first
    # (the machine's speed decides which): either way the one error names IAM and the failed connection
    assert error["status"] == "error" and "IAM (iam:" in error["message"]
    assert "could not connect" in error["message"].lower() or "cannot connect (connection refused)" in error["message"]


# -- policy analysis, unit level ----------------------------------------------------------------


def _problems(*statements: dict[str, Any]) -> list[aws_iam.StatementVerdict]:
    return [v for v in aws_iam.analyse_policy("p", {"Statement": list(statements)}) if v.problems]


def test_policy_analysis_rules() -> None:
    (admin,) = _problems({"Effect": "Allow", "Action": "*", "Resource": "*"})
    assert admin.severity == Severity.CRITICAL
    (kms,) = _problems({"Effect": "Allow", "Action": ["kms:*"], "Resource": "arn:aws:kms:us-east-1:1:key/x"})
    assert kms.severity == Severity.HIGH
    (notaction,) = _problems({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
    assert "NotAction" in notaction.message("role/x")
    (secret,) = _problems({"Sid": "S", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                           "Resource": "*"})
    assert "secretsmanager:GetSecretValue on '*'" in secret.message("role/x")
    (escalate,) = _problems({"Effect": "Allow", "Action": "iam:CreatePolicyVersion", "Resource": "*"})
    assert "privilege escalation" in escalate.message("role/x")
    assert not _problems({"Effect": "Deny", "Action": "*", "Resource": "*"},
                         {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"})
    verdicts = aws_iam.analyse_policy("p", {"Statement": [
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"},
        {"Effect": "Allow", "Action": ["lambda:CreateFunction", "lambda:InvokeFunction"],
         "Resource": "arn:aws:lambda:*:*:function:*"}]})
    assert aws_iam.escalation_combos(verdicts)


def test_config_errors_name_the_key() -> None:
    def configure(top: dict[str, Any]) -> None:
        config = Config(settings=validate(top, "t.yaml"), source="t.yaml", raw=top)
        aws_iam.secretaudit_configure(config)

    with pytest.raises(ConfigError, match=r"scopes\.aws\.rolez"):
        configure({"scopes": {"aws": {"rolez": ["x"]}}})
    with pytest.raises(ConfigError, match=r"scopes\.aws\.endpoint_url"):
        configure({"scopes": {"aws": {"roles": ["x"], "endpoint_url": "ftp://x"}}})
    with pytest.raises(ConfigError, match=r"scopes\.aws\.secret_access_key"):
        configure({"scopes": {"aws": {"roles": ["x"], "access_key_id": "AKIAEXAMPLE"}}})
    with pytest.raises(ConfigError, match=r"policy\.scopes\.aws_role"):
        configure({"scopes": {"aws": {"roles": ["x"]}}, "policy": {"scopes": {"aws_role": "not-an-arn"}}})
    configure({"scopes": {"github": {}}})  # no aws block: nothing to do


# -- the validator --------------------------------------------------------------------------------


def _validate(credential: dict[str, str], **settings: Any) -> Any:
    config = Config(settings=validate({"timeout": 3, **settings}, "t.yaml"), source="t.yaml")
    return aws_iam.secretaudit_validate_credential(kind="aws-access-key", credential=credential, config=config)


def _assert_no_key(validation: Any, *values: str) -> None:
    text = repr(validation)
    for value in values:
        assert value not in text


def test_validator_valid_key(moto) -> None:
    iam = aws_client("iam", moto.url)
    iam.create_user(UserName="agent")
    key = iam.create_access_key(UserName="agent")["AccessKey"]
    credential = {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"],
                  "endpoint_url": moto.url}
    result = _validate(credential)
    assert result.status == "valid" and result.identity == "arn:aws:iam::123456789012:user/agent"
    _assert_no_key(result, key["AccessKeyId"], key["SecretAccessKey"])
    # the endpoint may come from scopes.aws instead
    del credential["endpoint_url"]
    assert _validate(credential, scopes={"aws": {"endpoint_url": moto.url}}).status == "valid"
    # other kinds are someone else's
    config = Config(settings=validate({}, "t.yaml"))
    assert aws_iam.secretaudit_validate_credential(kind="github-token", credential={}, config=config) is None


def test_validator_unknown_when_server_down() -> None:
    credential = {"access_key_id": "AKIAIOSFODNN7EXAMPLE", "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLE",
                  "endpoint_url": closed_port_url()}
    result = _validate(credential)
    assert result.status == "unknown" and result.message.startswith("could not validate")
    _assert_no_key(result, credential["access_key_id"], credential["secret_access_key"])


STS_ERROR = b"""<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>InvalidClientTokenId</Code>
  <Message>The security token included in the request is invalid.</Message></Error>
  <RequestId>00000000-0000-0000-0000-000000000000</RequestId>
</ErrorResponse>"""


@pytest.fixture
def rejecting_sts() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(403)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(STS_ERROR)))
            self.end_headers()
            self.wfile.write(STS_ERROR)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_validator_invalid_key(rejecting_sts: str) -> None:
    credential = {"access_key_id": "AKIAIOSFODNN7EXAMPLE", "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLE",
                  "endpoint_url": rejecting_sts}
    result = _validate(credential)
    assert result.status == "invalid" and result.message.startswith("AWS rejected the key (InvalidClientTokenId")
    _assert_no_key(result, credential["access_key_id"], credential["secret_access_key"])
