"""The ``aws-secrets-manager`` backend against moto's server over real HTTP.

Real boto3 clients plant secrets in a moto server (``tests/aws_server.py``)
and the backend lists them back with ``ListSecrets``; faults (access denied,
bad credentials, throttling, timeouts, a closed port) come from tiny local
HTTP servers speaking the AWS JSON error protocol.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from aws_server import FakeAws, SilentServer, aws_client, closed_port_url, moto, moto_server, plant_bulk  # noqa: F401  (fixtures)
from conftest import run_cli

from secretaudit.backends import BackendError, BackendRegistry
from secretaudit.backends.aws import AwsSecretsManagerBackend, scrub
from secretaudit.config import Config, load_config, validate
from secretaudit.errors import ConfigError

LABEL = "aws-secrets-manager:prod"

#: every test runs with the fake AWS environment the moto server fixture sets up
pytestmark = pytest.mark.usefixtures("moto_server")


def make_backend(settings: dict[str, Any], name: str = "prod", timeout: float | None = None,
                 raw: dict[str, Any] | None = None) -> AwsSecretsManagerBackend:
    entry = {"type": "aws-secrets-manager", "name": name, **settings}
    top: dict[str, Any] = {"backends": [entry]}
    if timeout is not None:
        top["timeout"] = timeout
    config = Config(settings=validate(top, "test.yaml"), source="test.yaml", raw=raw or top)
    registry = BackendRegistry()
    from secretaudit.backends import aws

    aws.secretaudit_register_backends(registry)
    backend = registry.create(config.settings["backends"][0], config, 0)
    assert isinstance(backend, AwsSecretsManagerBackend)
    return backend


def audit_error(backend: AwsSecretsManagerBackend) -> tuple[BackendError, list, float]:
    records: list = []
    started = time.monotonic()
    with pytest.raises(BackendError) as info:
        for record in backend.records():
            records.append(record)
    message = str(info.value)
    assert "\n" not in message
    return info.value, records, time.monotonic() - started


# -- the planted mix ---------------------------------------------------------------------


def plant_mix(url: str, region: str = "us-east-1") -> dict[str, dict[str, Any]]:
    """Five secrets covering the lifecycle states; returns create_secret answers by name."""
    from botocore.exceptions import ClientError

    sm = aws_client("secretsmanager", url, region)
    made = {}

    def create(name: str, tags: dict[str, str]) -> None:
        made[name] = sm.create_secret(Name=name, SecretString=f"value-of-{name}",
                                      Tags=[{"Key": k, "Value": v} for k, v in tags.items()])

    # rotated: rotation on every 30 days, rotated once (moto rotates without a Lambda)
    create("prod/github-token", {"owner": "alice", "expiry_date": "2027-01-31", "team": "platform"})
    sm.rotate_secret(SecretId="prod/github-token", RotationRules={"AutomaticallyAfterDays": 30})
    # rotation configured with a Lambda that does not exist: the settings stay, it never rotated
    create("orders-db", {"kind": "database-password", "owner": "bob"})
    try:
        sm.rotate_secret(SecretId="orders-db", RotationRules={"AutomaticallyAfterDays": 60},
                         RotationLambdaARN="arn:aws:lambda:us-east-1:123456789012:function:rotate-orders")
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "ResourceNotFoundException"
    # rotation off, never rotated, no metadata
    create("legacy-api-key", {})
    # a broken expiry tag
    create("ci/aws-access-key", {"owner": "carol", "expiry_date": "end of June"})
    # scheduled for deletion
    create("retired/vault-token", {"owner": "dave", "Expiry_Date": "2025-01-01T00:00:00Z"})
    sm.delete_secret(SecretId="retired/vault-token", RecoveryWindowInDays=7)
    return made


def test_records_are_exactly_the_planted_secrets(moto) -> None:
    made = plant_mix(moto.url)
    moto.clear_log()
    before = datetime.now(timezone.utc) - timedelta(minutes=5)
    backend = make_backend({"region": "us-east-1", "endpoint_url": moto.url, "access_key_id": "testing",
                            "secret_access_key": "testing"})
    records = {r.name: r for r in backend.records()}

    assert set(records) == set(made)
    for name, record in records.items():
        assert record.backend == LABEL
        assert record.path == made[name]["ARN"]
        assert record.created and before < record.created <= datetime.now(timezone.utc)
        assert record.fact("region") == "us-east-1"

    rotated = records["prod/github-token"]
    assert rotated.kind == "github-token"  # from the name
    assert rotated.owner == "alice"
    assert rotated.expires == datetime(2027, 1, 31, tzinfo=timezone.utc)
    assert rotated.rotation_enabled is True and rotated.rotation_days == 30
    assert rotated.last_rotated is not None and rotated.last_rotated >= rotated.created
    assert not rotated.fact("never_rotated")
    assert rotated.next_rotation is not None and rotated.next_rotation > rotated.last_rotated
    assert dict(rotated.tags) == {"owner": "alice", "expiry_date": "2027-01-31", "team": "platform"}

    lambda_less = records["orders-db"]
    assert lambda_less.kind == "database-password"  # from the kind tag
    assert lambda_less.owner == "bob" and lambda_less.expires is None
    assert lambda_less.rotation_enabled is True and lambda_less.rotation_days == 60
    assert lambda_less.fact("never_rotated") is True and lambda_less.last_rotated == lambda_less.created

    off = records["legacy-api-key"]
    assert off.kind == "generic" and off.owner is None and off.expires is None and off.tags == ()
    assert off.rotation_enabled is False and off.rotation_days is None and off.next_rotation is None
    assert off.fact("never_rotated") is True and off.last_rotated == off.created
    assert not off.fact("pending_deletion") and not off.fact("metadata_error")

    broken = records["ci/aws-access-key"]
    assert broken.kind == "aws-access-key" and broken.owner == "carol"
    assert broken.expires is None
    assert "expiry_date" in broken.fact("metadata_error") and "end of June" in broken.fact("metadata_error")

    deleted = records["retired/vault-token"]
    assert deleted.kind == "vault-token"
    assert deleted.fact("pending_deletion") is True and deleted.fact("deleted_date") is not None
    assert deleted.expires == datetime(2025, 1, 1, tzinfo=timezone.utc)  # tag keys are matched loosely

    # metadata only: one ListSecrets call, never a value
    assert backend.api_calls == 1 and backend.operations == ["ListSecrets"]
    assert moto.operations() == ["secretsmanager.ListSecrets"]
    assert not any("GetSecretValue" in op or "DescribeSecret" in op for op in moto.operations())
    for record in records.values():
        assert f"value-of-{record.name}" not in repr(record)


def test_pages_are_yielded_as_they_come(moto) -> None:
    sm = aws_client("secretsmanager", moto.url)
    for i in range(230):
        sm.create_secret(Name=f"svc/token-{i:03d}", SecretString="x")
    backend = make_backend({"region": "us-east-1", "endpoint_url": moto.url})
    stream = backend.records()
    first = [next(stream) for _ in range(100)]
    assert backend.api_calls == 1  # the first page is handed on before the second is asked for
    rest = list(stream)
    assert len({r.name for r in first + rest}) == 230
    assert backend.api_calls == 3  # 100 + 100 + 30


def test_ten_thousand_secrets_in_pages_only(moto, capsys) -> None:
    """10,000 secrets: one ListSecrets per 100, no other call.

    Planted through moto's in-process store (see ``plant_bulk``: over HTTP
    moto needs ~6 ms a secret, single-threaded); listed over HTTP.  Measured
    on a 2-core machine: ~8 s for the listing, most of it moto rebuilding its
    whole list for every page.
    """
    count = 10_000
    plant_bulk(count)
    backend = make_backend({"region": "us-east-1", "endpoint_url": moto.url})
    started = time.perf_counter()
    names = [record.name for record in backend.records()]
    elapsed = time.perf_counter() - started
    pages = -(-count // 100)
    assert len(names) == len(set(names)) == count
    assert backend.api_calls <= pages + 0.01 * count
    assert backend.api_calls == pages
    with capsys.disabled():
        print(f"\n[aws-secrets-manager] {count} secrets: {elapsed:.1f} s, {backend.api_calls} API calls "
              f"({backend.api_calls / count:.3f} per secret, {pages} pages)")
    assert elapsed < 90


def test_several_regions_prefix_names(moto) -> None:
    for region in ("us-east-1", "eu-west-1"):
        sm = aws_client("secretsmanager", moto.url, region)
        sm.create_secret(Name="shared/github-token", SecretString="x", Tags=[{"Key": "owner", "Value": region}])
    aws_client("secretsmanager", moto.url, "eu-west-1").create_secret(Name="eu-only", SecretString="x")

    backend = make_backend({"regions": ["us-east-1", "eu-west-1"], "endpoint_url": moto.url})
    records = {r.name: r for r in backend.records()}
    assert set(records) == {"us-east-1/shared/github-token", "eu-west-1/shared/github-token", "eu-west-1/eu-only"}
    assert records["eu-west-1/shared/github-token"].owner == "eu-west-1"
    assert ":eu-west-1:" in records["eu-west-1/eu-only"].path
    assert records["us-east-1/shared/github-token"].fact("region") == "us-east-1"
    assert backend.api_calls == 2

    single = make_backend({"regions": ["eu-west-1"], "endpoint_url": moto.url})
    assert {r.name for r in single.records()} == {"shared/github-token", "eu-only"}


def test_region_from_the_environment(moto, monkeypatch) -> None:
    aws_client("secretsmanager", moto.url, "ap-south-1").create_secret(Name="mumbai", SecretString="x")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    backend = make_backend({"endpoint_url": moto.url})
    assert [r.name for r in backend.records()] == ["mumbai"]


def test_endpoint_from_the_standard_environment_variable(moto, monkeypatch) -> None:
    aws_client("secretsmanager", moto.url).create_secret(Name="via-env", SecretString="x")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto.url)
    backend = make_backend({"region": "us-east-1"})
    assert [r.name for r in backend.records()] == ["via-env"]


# -- faults ------------------------------------------------------------------------------


def test_access_denied_names_the_iam_action() -> None:
    message = ("User: arn:aws:iam::123456789012:user/auditor is not authorized to perform: "
               "secretsmanager:ListSecrets because no identity-based policy allows it")
    with FakeAws("AccessDeniedException", message) as fake:
        backend = make_backend({"region": "us-east-1", "endpoint_url": fake.url})
        error, records, _ = audit_error(backend)
    assert error.reason == "denied"
    assert "secretsmanager:ListSecrets" in str(error) and "grant" in str(error)
    assert "arn:aws:iam::123456789012:user/auditor" in str(error)
    assert records == [] and backend.api_calls == 1 == fake.hits  # not retried


def test_http_403_is_denied() -> None:
    with FakeAws("Forbidden", "nope", status=403) as fake:
        backend = make_backend({"region": "us-east-1", "endpoint_url": fake.url})
        error, _, _ = audit_error(backend)
    assert error.reason == "denied" and "secretsmanager:ListSecrets" in str(error)


@pytest.mark.parametrize("code", ["UnrecognizedClientException", "InvalidSignatureException",
                                  "ExpiredTokenException"])
def test_bad_credentials_never_leak(code: str, aws_pair: tuple[str, str]) -> None:
    key_id, secret = aws_pair
    echo = (f"The request signature we calculated does not match. Canonical string: "
            f"Credential={key_id}/20261124/us-east-1/secretsmanager/aws4_request, key {key_id}, "
            f"secret {secret}, Signature=0123abcd")
    with FakeAws(code, echo) as fake:
        backend = make_backend({"region": "us-east-1", "endpoint_url": fake.url, "access_key_id": key_id,
                                "secret_access_key": secret, "session_token": "FwoGZXIvYXdzE" + "x" * 40})
        error, _, _ = audit_error(backend)
        status = backend.status()
    assert error.reason == "denied"
    assert "the access key is invalid or expired" in str(error)
    for text in (str(error), repr(error), str(status)):
        assert key_id not in text and secret not in text and key_id[4:] not in text
        assert "FwoGZXIvYXdzE" not in text
    assert status.error and "invalid or expired" in status.error


def test_scrub_removes_key_ids_and_configured_secrets() -> None:
    text = "x AKIAABCDEFGHIJKLMNOP y ASIAABCDEFGHIJKLMNOP\nCredential=foo/bar, Signature=deadbeef top-secret-value"
    cleaned = scrub(text, ("top-secret-value",))
    assert "ABCDEFGHIJKLMNOP" not in cleaned and "top-secret-value" not in cleaned and "deadbeef" not in cleaned
    assert "\n" not in cleaned


def test_unreachable_endpoint_fails_fast() -> None:
    url = closed_port_url()
    backend = make_backend({"region": "us-east-1", "endpoint_url": url})
    error, _, elapsed = audit_error(backend)
    assert error.reason == "unreachable"
    assert str(error).startswith(f"cannot connect to the Secrets Manager endpoint {url} in us-east-1")
    assert "check region/endpoint_url and network" in str(error)
    assert backend.api_calls == 5  # retried (max_attempts 5), with a short backoff for connections
    assert elapsed < 5


def test_timeout_names_the_option() -> None:
    with SilentServer() as silent:
        backend = make_backend({"region": "us-east-1", "endpoint_url": silent.url, "max_attempts": 2},
                               timeout=0.5)
        error, _, elapsed = audit_error(backend)
    assert error.reason == "timeout"
    assert "did not answer completely within 0.5 s" in str(error) and "--timeout" in str(error)
    assert backend.api_calls == 1 and elapsed < 10  # --timeout bounds the call, retries included: none is left


def test_throttling_retries_then_fails() -> None:
    with FakeAws("ThrottlingException", "Rate exceeded") as fake:
        backend = make_backend({"region": "us-east-1", "endpoint_url": fake.url, "max_attempts": 3})
        error, _, _ = audit_error(backend)
    assert error.reason == "throttled"
    assert "after 3 attempts" in str(error) and "ThrottlingException" in str(error)
    assert backend.api_calls == 3 == fake.hits  # the retries are counted


def test_throttling_is_retried_with_backoff(moto) -> None:
    plant_mix(moto.url)
    with FakeAws("ThrottlingException", "Rate exceeded", fail=lambda n: n <= 2, upstream=moto.url) as fake:
        backend = make_backend({"region": "us-east-1", "endpoint_url": fake.url})
        records = list(backend.records())
    assert len(records) == 5
    assert backend.api_calls == 3 and fake.hits == 3 and fake.forwarded == 1


def test_partial_results_survive_a_failure_mid_listing(moto) -> None:
    plant_bulk(250)
    with FakeAws("ThrottlingException", "Rate exceeded", fail=lambda n: n > 2, upstream=moto.url) as fake:
        backend = make_backend({"region": "us-east-1", "endpoint_url": fake.url, "max_attempts": 2})
        error, records, _ = audit_error(backend)
    assert error.reason == "throttled"
    assert len(records) == 200  # the two pages before the failure
    assert backend.api_calls == 4


def test_no_credentials_is_a_config_error(monkeypatch, moto) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    backend = make_backend({"region": "us-east-1", "endpoint_url": moto.url})
    error, _, _ = audit_error(backend)
    assert error.reason == "config"
    assert str(error).startswith("no AWS credentials: set access_key_id/secret_access_key or AWS_PROFILE")
    status = backend.status()
    assert not status.reachable and status.error and "no AWS credentials" in status.error


def test_unknown_profile_is_a_config_error(monkeypatch) -> None:
    backend = make_backend({"region": "us-east-1", "profile": "no-such-profile"})
    error, _, _ = audit_error(backend)
    assert error.reason == "config" and "no-such-profile" in str(error)


# -- settings ----------------------------------------------------------------------------


@pytest.mark.parametrize(("settings", "key", "words"), [
    ({"region": "us-east-1", "secret_key": "x"}, "backends[0].secret_key", "allowed: access_key_id"),
    ({"region": 5}, "backends[0].region", "expected a string"),
    ({"region": "US East"}, "backends[0].region", "not an AWS region"),
    ({"regions": "us-east-1;eu-west-1"}, "backends[0].regions", "not an AWS region"),
    ({"regions": [1, 2]}, "backends[0].regions", "expected a list"),
    ({"region": "us-east-1", "access_key_id": "AKIAEXAMPLE"}, "backends[0].secret_access_key", "go together"),
    ({"region": "us-east-1", "session_token": "t"}, "backends[0].session_token", "needs access_key_id"),
    ({"region": "us-east-1", "profile": "p", "access_key_id": "a", "secret_access_key": "b"},
     "backends[0].profile", "not both"),
    ({"region": "us-east-1", "endpoint_url": "localhost:4566"}, "backends[0].endpoint_url", "http(s) URL"),
    ({"region": "us-east-1", "max_attempts": 0}, "backends[0].max_attempts", "integer >= 1"),
    ({"region": "us-east-1", "max_attempts": True}, "backends[0].max_attempts", "integer >= 1"),
    ({"region": "us-east-1", "max_attempts": "many"}, "backends[0].max_attempts", "integer >= 1"),
])
def test_settings_are_validated(settings: dict[str, Any], key: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        make_backend(settings)
    assert info.value.key == key and info.value.source == "test.yaml"
    assert words in str(info.value)
    for value in ("AKIAEXAMPLE",):
        assert value not in str(info.value)


def test_good_settings() -> None:
    backend = make_backend({"regions": "us-east-1, eu-west-1", "max_attempts": "3", "access_key_id": "",
                            "secret_access_key": ""})
    assert backend.options["regions"] == ["us-east-1", "eu-west-1"]
    assert backend.options["max_attempts"] == 3 and backend.options["access_key_id"] is None


def test_the_plugin_registers_the_backend_type() -> None:
    from secretaudit.plugins import DEFAULT_PLUGINS, make_pluginmanager

    extra = () if "secretaudit.backends.aws" in DEFAULT_PLUGINS else ("secretaudit.backends.aws",)
    pm = make_pluginmanager(extra=extra, entry_points=False)
    registry = BackendRegistry()
    pm.hook.secretaudit_register_backends(registry=registry)
    assert "aws-secrets-manager" in registry.names()


# -- status ------------------------------------------------------------------------------


def test_status_against_moto(moto, tmp_path: Path) -> None:
    config_file = tmp_path / "secretaudit.yaml"
    config_file.write_text(
        "backends:\n"
        "  - type: aws-secrets-manager\n"
        "    name: prod\n"
        "    region: us-east-1\n"
        f"    endpoint_url: {moto.url}\n"
        "    access_key_id: testing\n"
        "    secret_access_key: ${AWS_SECRET_ACCESS_KEY}\n")
    config = load_config(str(config_file))
    registry = BackendRegistry()
    from secretaudit.backends import aws

    aws.secretaudit_register_backends(registry)
    backend = registry.create(config.settings["backends"][0], config, 0)
    status = backend.status()
    assert status.reachable and status.error is None
    assert status.backend == LABEL and status.type == "aws-secrets-manager"
    assert status.identity == "arn:aws:sts::123456789012:user/moto"
    assert status.auth_method == "static keys from config"
    assert status.latency_ms is not None and status.latency_ms > 0
    assert any("plain http" in w for w in status.warnings)
    assert any(w.startswith("access_key_id is written inline") for w in status.warnings)
    assert not any(w.startswith("secret_access_key") for w in status.warnings)  # ${VAR}: fine
    assert "secretsmanager.ListSecrets" in moto.operations()
    assert not any("GetSecretValue" in op for op in moto.operations())

    env_backend = make_backend({"region": "us-east-1", "endpoint_url": moto.url})
    env_status = env_backend.status()
    assert env_status.reachable and env_status.auth_method == "environment"
    assert not any("inline" in w for w in env_status.warnings)


def test_status_never_raises(monkeypatch) -> None:
    unreachable = make_backend({"region": "us-east-1", "endpoint_url": closed_port_url(), "max_attempts": 1})
    status = unreachable.status()
    assert not status.reachable and status.error and "cannot connect" in status.error
    assert any("identity unknown" in w for w in status.warnings)

    with FakeAws("AccessDeniedException", "not authorized") as fake:
        denied = make_backend({"region": "us-east-1", "endpoint_url": fake.url}).status()
    assert denied.reachable and denied.error and "secretsmanager:ListSecrets" in denied.error

    monkeypatch.delenv("AWS_DEFAULT_REGION")
    status = make_backend({"endpoint_url": "http://127.0.0.1:1"}).status()
    assert not status.reachable and status.error and "no AWS region" in status.error


# -- end to end --------------------------------------------------------------------------


def _cli_has(command: str) -> bool:
    proc = run_cli(command, "--help", timeout=60)
    return proc.returncode == 0


def _plugin_args() -> tuple[str, ...]:
    from secretaudit.plugins import DEFAULT_PLUGINS

    return () if "secretaudit.backends.aws" in DEFAULT_PLUGINS else ("-p", "secretaudit.backends.aws")


def _names(data: Any, backend: str) -> set[str]:
    """Every secret name the JSON output attributes to ``backend`` (records or findings)."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("backend") == backend and isinstance(node.get("name"), str) and node["name"] != "*":
                found.add(node["name"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(data)
    return found


def test_openclaw_audit_and_list_agree(moto, tmp_path: Path) -> None:
    if not (_cli_has("audit") and _cli_has("list")):
        pytest.skip("the audit/list commands are not there yet")
    made = plant_mix(moto.url)
    config = tmp_path / "openclaw.yaml"
    config.write_text(
        "gateway:\n  port: 18789\n"
        "external_secrets:\n"
        "  enabled: true\n"
        "  backend: aws-secrets-manager\n"
        "  aws_secrets_manager:\n"
        "    region: us-east-1\n"
        "    access_key_id: ${AWS_ACCESS_KEY_ID}\n"
        "    secret_access_key: ${AWS_SECRET_ACCESS_KEY}\n"
        "  cache:\n    ttl_seconds: 3600\n    max_size: 100\n")
    env = {"AWS_ENDPOINT_URL": moto.url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": os.devnull,
           "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_EC2_METADATA_DISABLED": "true"}
    backend = "aws-secrets-manager:aws-secrets-manager"

    listed = run_cli("list", "--config", str(config), "--format", "json", *_plugin_args(), cwd=tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    listed_names = _names(json.loads(listed.stdout), backend)
    assert listed_names == set(made)

    moto.clear_log()
    audited = run_cli("audit", "--config", str(config), "--format", "json", "--as-of", "2026-12-01",
                      *_plugin_args(), cwd=tmp_path, env=env)
    assert audited.returncode in (0, 1), audited.stderr
    report = json.loads(audited.stdout)
    # the backend answered: SA200 passed for it, no error result
    assert {"check_id": "SA200", "status": "passed", "target": backend}.items() <= next(
        r for r in report["results"] if r["check_id"] == "SA200" and r["target"] == backend).items()
    assert not [f for f in report["findings"] if f.get("status") == "error"]
    assert report["summary"]["error"] == 0
    # every finding is about a listed secret
    assert _names(report["findings"], backend) <= listed_names
    assert set(moto.operations()) == {"secretsmanager.ListSecrets"}  # metadata only, values never read

    # the same run in text: it audited exactly the listed secrets
    text = run_cli("audit", "--config", str(config), "--as-of", "2026-12-01", *_plugin_args(),
                   cwd=tmp_path, env=env)
    assert f"collected {len(listed_names)} secrets from {backend}" in text.stdout + text.stderr

    status = run_cli("status", "--config", str(config), "--format", "json", *_plugin_args(), cwd=tmp_path,
                     env=env)
    assert status.returncode == 0, status.stderr
    (entry,) = json.loads(status.stdout)
    assert entry["backend"] == backend and entry["reachable"] is True and entry["error"] is None
    assert entry["identity"].startswith("arn:aws:sts::123456789012:")
    assert entry["auth_method"] == "static keys from config"
    for name in made:
        assert f"value-of-{name}" not in audited.stdout + listed.stdout + text.stdout + status.stdout
