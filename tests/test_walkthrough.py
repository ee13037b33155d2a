"""The README's walkthrough scripts (examples/ops/), run as written against OpenBao and moto.

Each script is executed by bash with a ``secretaudit`` on PATH that runs this
checkout; the secrets live in a real OpenBao (KV v2 with custom metadata) and
in moto's Secrets Manager over HTTP, the GitHub token is checked against a
local GitHub API.  The tests then look behind the scripts: what the deploy
command received (by digest, never the value), the access trail, the version
of each secret, the Slack message the monitor posted.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import hvac
import pytest
from aws_server import aws_client, moto, moto_server  # noqa: F401  (fixtures)
from conftest import _CACHE_HOME, ROOT, cli_shim
from github_server import github_api  # noqa: F401  (fixture)
from servers import openbao  # noqa: F401  (fixture)
from test_scan_verify import github_token

OPS = ROOT / "examples" / "ops"
#: Prints a digest of each credential the deploy step received: proof without the value.
DEPLOY_PROBE = (
    "import hashlib, os; print(' '.join(hashlib.sha256(os.environ.get(v, '').encode()).hexdigest()[:16] "
    "for v in ('GITHUB_TOKEN', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY')))"
)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def trail(path: Path) -> list[dict[str, Any]]:
    raw = path.read_text() if path.exists() else ""
    assert not raw or raw.endswith("\n"), "torn last line in the trail"
    return [json.loads(line) for line in raw.splitlines()]


@pytest.fixture
def shell_env(tmp_path: Path) -> dict[str, str]:
    """PATH with a ``secretaudit`` that runs this checkout, as the README's install would provide."""
    bin_dir = cli_shim(tmp_path / "bin").parent
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(ROOT),
            "XDG_CACHE_HOME": _CACHE_HOME, "XDG_STATE_HOME": str(tmp_path / "state")}


@pytest.fixture
def world(tmp_path: Path, openbao, moto, github_api, shell_env) -> dict[str, Any]:  # noqa: F811
    """An OpenBao folder and the moto account holding the standard's secrets, and a config naming both."""
    url, root, _ = openbao
    folder = f"walk-{uuid.uuid4().hex[:8]}"
    vault = hvac.Client(url=url, token=root)
    trail_file = tmp_path / "trail.jsonl"
    config = tmp_path / "secretaudit.yaml"
    config.write_text(
        "backends:\n"
        f"  - {{type: vault, name: prod, url: '{url}', token: '${{VAULT_TOKEN}}', path: 'secret/{folder}'}}\n"
        f"  - {{type: aws-secrets-manager, name: aws, region: us-east-1, endpoint_url: '{moto.url}'}}\n"
        f"audit_log: {trail_file}\n"
        "policy: {expiry_warning_days: 30}\n")
    env = {**shell_env, "VAULT_TOKEN": root, "SECRETAUDIT_CONFIG": str(config),
           "SECRETAUDIT_GITHUB_API_URL": github_api.url}
    return {"config": config, "trail": trail_file, "env": env, "vault": vault, "folder": folder,
            "github": github_api, "sm": aws_client("secretsmanager", moto.url), "iam": aws_client("iam", moto.url),
            "moto": moto, "tmp": tmp_path}


def put_kv(world: dict, name: str, fields: dict[str, str], **metadata: str) -> None:
    kv = world["vault"].secrets.kv.v2
    kv.create_or_update_secret(path=f"{world['folder']}/{name}", secret=fields, mount_point="secret")
    kv.update_metadata(path=f"{world['folder']}/{name}", custom_metadata={"owner": "platform", **metadata},
                       mount_point="secret")


def plant_deploy_secrets(world: dict) -> dict[str, str]:
    """A GitHub token in OpenBao and an IAM key pair in Secrets Manager, both live."""
    token = github_token(random.Random(7))
    world["github"].add(token, "deploy-bot", scopes="repo")
    put_kv(world, "github", {"personal_access_token": token}, kind="github-token")
    world["iam"].create_user(UserName="deployer")
    key = world["iam"].create_access_key(UserName="deployer")["AccessKey"]
    world["sm"].create_secret(
        Name="deploy/aws-access-key", Tags=[{"Key": "kind", "Value": "aws-access-key"},
                                            {"Key": "owner", "Value": "platform"}],
        SecretString=json.dumps({"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"],
                                 "endpoint_url": world["moto"].url}))
    return {"GITHUB_TOKEN": token, "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


def run_script(world: dict, script: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(OPS / script), *args], env={**world["env"], **env}, cwd=world["tmp"],
                          capture_output=True, text=True, timeout=300)


# -- deploy.sh -------------------------------------------------------------------------------------


def test_deploy_reads_live_credentials_at_task_time_and_audits_each_read(world: dict) -> None:
    values = plant_deploy_secrets(world)
    proc = run_script(world, "deploy.sh", sys.executable, "-c", DEPLOY_PROBE, DEPLOY_ID="rel-42")
    assert proc.returncode == 0, proc.stderr
    received = proc.stdout.split()
    assert received == [digest(values[v]) for v in ("GITHUB_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")]
    reads = [e for e in trail(world["trail"]) if e["command"] == "get"]
    assert [(e["secret"], e["outcome"], e["reason"]) for e in reads] == [
        ("github", "ok", "deploy rel-42"),
        ("deploy/aws-access-key", "ok", "deploy rel-42"),
        ("deploy/aws-access-key", "ok", "deploy rel-42"),
    ]
    checked = [e for e in trail(world["trail"]) if e["command"] == "validate"]
    assert {e["secret"] for e in checked} == {"github", "deploy/aws-access-key"}
    everything = proc.stdout + proc.stderr + world["trail"].read_text()
    assert not any(value in everything for value in values.values())


def test_deploy_stops_before_deploying_when_a_credential_was_revoked(world: dict) -> None:
    values = plant_deploy_secrets(world)
    world["github"].tokens.clear()  # revoked at GitHub: the API now answers 401
    marker = world["tmp"] / "deployed"
    proc = run_script(world, "deploy.sh", "touch", str(marker))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert not marker.exists()
    assert "SA401" in proc.stdout + proc.stderr and "github" in proc.stdout + proc.stderr
    assert not [e for e in trail(world["trail"]) if e["command"] == "get"]  # never read
    assert not any(value in proc.stdout + proc.stderr for value in values.values())


# -- expiry-monitor.sh -----------------------------------------------------------------------------


class Webhook:
    """A Slack incoming webhook stand-in: records each JSON body posted to it."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T000/B000/XXXX"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.server.shutdown()


def test_expiry_monitor_posts_what_expires_within_30_days_and_only_new_failures_next_night(
        world: dict, webhook: Webhook) -> None:
    put_kv(world, "database", {"mysql_password": uuid.uuid4().hex}, kind="database-password",
           expiry_date="2026-12-20", rotation_days="60")
    put_kv(world, "stripe", {"api_key": uuid.uuid4().hex}, kind="generic", expiry_date="2027-06-01",
           rotation_days="90")
    world["sm"].create_secret(Name="ci/npm-token", SecretString=uuid.uuid4().hex,
                              Tags=[{"Key": "kind", "Value": "generic"}, {"Key": "owner", "Value": "ci"},
                                    {"Key": "expiry_date", "Value": "2026-12-10"}])
    state = world["tmp"] / "reports"
    env = {"SECRETAUDIT_STATE": str(state), "SLACK_WEBHOOK_URL": webhook.url, "SECRETAUDIT_AS_OF": "2026-12-01"}
    first = run_script(world, "expiry-monitor.sh", **env)
    assert first.returncode == 1, first.stderr  # expiring secrets are findings
    assert (state / "latest.json").exists() and list(state.glob("audit-*.html"))
    [message] = webhook.bodies
    expiring = {e["secret"] for e in message["secretaudit"]["expiring"]}
    assert expiring == {"vault:prod:database", "aws-secrets-manager:aws:ci/npm-token"}  # not stripe: June
    assert message["secretaudit"]["new_failures"] and "blocks" in message and message["text"]
    report = json.loads((state / "latest.json").read_text())
    assert {f["location"]["name"] for f in report["findings"] if f["check_id"] == "SA202"} == {
        "database", "ci/npm-token"}

    second = run_script(world, "expiry-monitor.sh", **env)  # the next night, nothing changed
    assert second.returncode == 1
    assert webhook.bodies[1]["secretaudit"]["new_failures"] == []
    assert {e["secret"] for e in webhook.bodies[1]["secretaudit"]["expiring"]} == expiring
    assert webhook.url not in first.stdout + first.stderr + (state / "latest.json").read_text()


def test_expiry_monitor_keeps_the_audit_result_when_slack_is_down(world: dict) -> None:
    put_kv(world, "database", {"mysql_password": uuid.uuid4().hex}, kind="database-password",
           expiry_date="2026-12-20")
    state = world["tmp"] / "reports"
    proc = run_script(world, "expiry-monitor.sh", SECRETAUDIT_STATE=str(state), SECRETAUDIT_AS_OF="2026-12-01",
                      SLACK_WEBHOOK_URL="http://127.0.0.1:9/services/T000/B000/XXXX")
    assert proc.returncode == 1  # the audit's own verdict, not the post's
    assert "warning" in proc.stderr.lower() and (state / "latest.json").exists()


def test_scripts_hold_no_credential() -> None:
    """The rewritten scripts pass our own scan: no literal credential anywhere in examples/ops."""
    proc = subprocess.run([sys.executable, "-m", "secretaudit", "scan", "--no-baseline", str(OPS)],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT),
                                                               "XDG_CACHE_HOME": _CACHE_HOME})
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_leaky_original_fails_the_same_scan() -> None:
    """...while the script it replaces does not (the README's before/after)."""
    proc = subprocess.run([sys.executable, "-m", "secretaudit", "scan", "--no-baseline",
                           str(ROOT / "examples" / "leaky-app" / "deploy.sh")],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT),
                                                               "XDG_CACHE_HOME": _CACHE_HOME})
    assert proc.returncode == 1 and "SA101" in proc.stdout


# -- rotate-due.sh ---------------------------------------------------------------------------------


def test_rotation_cron_rotates_what_is_due_validates_and_flags_what_needs_a_human(world: dict) -> None:
    from datetime import date, timedelta

    values = plant_deploy_secrets(world)  # a github-token (30 days) and an IAM key (365 days, below)
    old_webhook = uuid.uuid4().hex
    put_kv(world, "webhook", {"password": old_webhook}, kind="generic")
    world["sm"].create_secret(Name="ci/signing-key", SecretString=json.dumps({"password": uuid.uuid4().hex}),
                              Tags=[{"Key": "kind", "Value": "generic"}, {"Key": "owner", "Value": "ci"}])
    old_signing = world["sm"].get_secret_value(SecretId="ci/signing-key", VersionStage="AWSCURRENT")["VersionId"]
    config = world["config"].read_text().replace(
        "policy: {expiry_warning_days: 30}",
        "policy: {expiry_warning_days: 30, rotation_days: {generic: 90, github-token: 30, aws-access-key: 365}}")
    world["config"].write_text(config)
    in_100_days = (date.today() + timedelta(days=100)).isoformat()  # everything but the IAM key is due

    def last_rotated() -> dict[str, str]:
        listed = subprocess.run(["secretaudit", "list", "--format", "json"], env=world["env"], cwd=world["tmp"],
                                capture_output=True, text=True)
        return {r["name"]: r["last_rotated"] or r["created"] for r in json.loads(listed.stdout)["secrets"]}

    before = last_rotated()
    time.sleep(1.1)  # rotation times have one-second resolution in places
    proc = run_script(world, "rotate-due.sh", SECRETAUDIT_AS_OF=in_100_days)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output  # the GitHub token needs a human
    humans = [line for line in proc.stdout.splitlines() if line.startswith("NEEDS A HUMAN")]
    assert ["vault:prod:github is a github-token" in humans[0], "vault:prod:token:token is a vault-token" in humans[1]
            ] == [True, True], humans  # the audited Vault token is due as well, and is replaced by hand
    assert "Steps: 1)" in humans[0] and "4 due: 2 rotated, 2 need a human" in proc.stdout
    kv = world["vault"].secrets.kv.v2.read_secret_version(path=f"{world['folder']}/webhook", mount_point="secret",
                                                          raise_on_deleted_version=True)["data"]
    assert kv["metadata"]["version"] == 2 and kv["data"]["password"] != old_webhook
    assert world["sm"].get_secret_value(SecretId="ci/signing-key", VersionStage="AWSCURRENT")["VersionId"] != old_signing
    assert len(world["iam"].list_access_keys(UserName="deployer")["AccessKeyMetadata"]) == 1  # not due: untouched
    after = last_rotated()  # the nightly audit's inventory sees both rotations
    assert after["webhook"] > before["webhook"] and after["ci/signing-key"] > before["ci/signing-key"]
    assert after["deploy/aws-access-key"] == before["deploy/aws-access-key"]
    shown = subprocess.run(["secretaudit", "trail", "--secret", "webhook", "--secret", "ci/signing-key",
                            "--format", "json"], env=world["env"], cwd=world["tmp"], capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    entries = json.loads(shown.stdout)["entries"]
    assert {(e["secret"], e["command"], e["outcome"]) for e in entries} >= {
        ("webhook", "rotate", "ok"), ("ci/signing-key", "rotate", "ok")}
    rotations = [(e["secret"], e["outcome"]) for e in trail(world["trail"]) if e["command"] == "rotate"]
    assert ("webhook", "ok") in rotations and ("ci/signing-key", "ok") in rotations
    assert ("github", "refused") in rotations
    assert {e["secret"] for e in trail(world["trail"]) if e["command"] == "validate"} >= {
        "github", "deploy/aws-access-key"}  # validated after the night's rotations
    assert not any(value in output + world["trail"].read_text()
                   for value in (old_webhook, *values.values()))


def test_rotate_due_without_backends_is_a_usage_error(tmp_path: Path, shell_env: dict[str, str]) -> None:
    """A cron job pointed at the wrong config must not report '0 due' and exit 0."""
    proc = subprocess.run(["secretaudit", "rotate", "--due", "--reason", "cron"], cwd=tmp_path, env=shell_env,
                          capture_output=True, text=True)
    assert proc.returncode == 4 and "no backends configured" in proc.stderr
