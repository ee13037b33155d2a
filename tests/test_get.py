"""``secretaudit get`` and the ``SecretClient``/``SecretCache`` API against real OpenBao and moto."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import hvac
import pytest
from aws_server import SilentServer, aws_client, closed_port_url, moto, moto_server  # noqa: F401  (fixtures)
from conftest import run_cli
from servers import openbao  # noqa: F401  (fixture)


@pytest.fixture
def world(tmp_path: Path, openbao, moto) -> dict[str, Any]:  # noqa: F811
    url, root, _ = openbao
    folder = f"get-{uuid.uuid4().hex[:8]}"
    vault = hvac.Client(url=url, token=root)
    kv = vault.secrets.kv.v2
    token_value = "ghp_" + uuid.uuid4().hex + uuid.uuid4().hex[:4]
    db_password = uuid.uuid4().hex
    secrets = {
        "github-token": ({"personal_access_token": token_value}, {"kind": "github-token", "expiry_date": "2027-06-30"}),
        "database": ({"mysql_host": "db", "mysql_user": "app", "mysql_password": db_password},
                     {"kind": "database-password"}),
        "old-token": ({"token": uuid.uuid4().hex}, {"kind": "generic", "expiry_date": "2026-01-31"}),
    }
    for name, (fields, meta) in secrets.items():
        kv.create_or_update_secret(path=f"{folder}/{name}", secret=fields, mount_point="secret")
        kv.update_metadata(path=f"{folder}/{name}", custom_metadata=meta, mount_point="secret")
    kv.create_or_update_secret(path=f"{folder}/github-token", secret={"personal_access_token": token_value},
                               mount_point="secret")  # version 2
    aws_value = uuid.uuid4().hex
    aws_client("secretsmanager", moto.url).create_secret(Name="deploy/webhook", SecretString=aws_value)
    trail = tmp_path / "trail.jsonl"
    config = tmp_path / "secretaudit.yaml"
    config.write_text(
        "backends:\n"
        f"  - {{type: vault, name: prod, url: '{url}', token: '${{VAULT_TOKEN}}', path: 'secret/{folder}'}}\n"
        f"  - {{type: aws-secrets-manager, name: aws, region: us-east-1, endpoint_url: '{moto.url}'}}\n"
        f"audit_log: {trail}\n"
        "secret_cache: {ttl_seconds: 60, max_size: 2}\n")
    return {"config": config, "trail": trail, "env": {"VAULT_TOKEN": root}, "vault": vault, "folder": folder,
            "values": [token_value, db_password, aws_value], "token": token_value, "db": db_password,
            "aws": aws_value, "url": url, "moto": moto}


def get(world: dict, *args: str, env: dict[str, str] | None = None, config: Path | None = None):
    return run_cli("get", *args, "--config", str(config or world["config"]), env=env or world["env"])


def trail(world: dict) -> list[dict[str, Any]]:
    return [json.loads(line) for line in world["trail"].read_text().splitlines()]


def test_get_prints_the_value_for_a_script_and_json_with_metadata(world: dict) -> None:
    text = get(world, "--secret", "github-token")
    assert text.returncode == 0 and text.stdout == world["token"] + "\n" and not text.stderr
    proc = get(world, "--secret", "vault:prod:github-token", "--format", "json")
    payload = json.loads(proc.stdout)
    assert payload == {"name": "github-token", "kind": "github-token", "value": world["token"],
                       "fields": {"personal_access_token": world["token"]}, "version": "2",
                       "expiry_date": "2027-06-30", "backend": "vault:prod"}
    assert get(world, "--secret", "database", "--field", "mysql_user").stdout.strip() == "app"
    aws = json.loads(get(world, "--secret", "aws:deploy/webhook", "--format", "json").stdout)
    assert aws["value"] == world["aws"] and aws["backend"] == "aws-secrets-manager:aws" and aws["version"]
    entries = trail(world)
    assert [(e["command"], e["secret"], e["outcome"]) for e in entries] == [
        ("get", "github-token", "ok"), ("get", "github-token", "ok"), ("get", "database", "ok"),
        ("get", "deploy/webhook", "ok")]
    assert not any(v in world["trail"].read_text() for v in world["values"])


def test_get_json_is_the_whole_secret_for_every_kind_and_field_picks_one(world: dict) -> None:
    """One call gives a script host, user and password; --field one value; text mode never guesses a field."""
    database = json.loads(get(world, "--secret", "database", "--format", "json").stdout)
    assert database == {"name": "database", "backend": "vault:prod", "kind": "database-password", "version": "1",
                        "expiry_date": None,
                        "fields": {"mysql_host": "db", "mysql_user": "app", "mysql_password": world["db"]}}
    token = json.loads(get(world, "--secret", "github-token", "--format", "json").stdout)
    assert token["fields"] == {"personal_access_token": world["token"]} and token["value"] == world["token"]
    aws = json.loads(get(world, "--secret", "aws:deploy/webhook", "--format", "json").stdout)
    assert aws["fields"] == {"value": world["aws"]} and aws["value"] == world["aws"]
    one = json.loads(get(world, "--secret", "database", "--field", "mysql_user", "--format", "json").stdout)
    assert one["fields"] == {"mysql_user": "app"} and one["value"] == "app" and one["field"] == "mysql_user"
    # text mode prints one value: the only field, or --field; several fields and no --field is a usage error
    assert get(world, "--secret", "database", "--field", "mysql_password").stdout == world["db"] + "\n"
    several = get(world, "--secret", "database")
    assert several.returncode == 4 and several.stdout == "" and several.stderr.count("\n") == 1
    assert "mysql_host, mysql_password, mysql_user" in several.stderr and "--field" in several.stderr
    assert world["db"] not in several.stderr
    entries = trail(world)  # one line per call, the refused text read included
    assert [(e["secret"], e["outcome"]) for e in entries] == [
        ("database", "ok"), ("github-token", "ok"), ("deploy/webhook", "ok"), ("database", "ok"),
        ("database", "ok"), ("database", "not-found")]
    assert entries[-1]["cause"] == "no-field"


def test_get_errors_are_one_line_with_the_cause(world: dict) -> None:
    missing = get(world, "--secret", "githb-token")
    assert missing.returncode == 4 and missing.stderr.startswith("error: Not Found:")
    assert "did you mean github-token" in missing.stderr and missing.stderr.count("\n") == 1
    expired = get(world, "--secret", "old-token")
    assert expired.returncode == 1 and "Expired" in expired.stderr and "2026-01-31" in expired.stderr
    assert expired.stdout == ""
    field = get(world, "--secret", "database", "--field", "nope")
    assert field.returncode == 4 and "mysql_password" in field.stderr  # field names, never values
    # a narrow token: may read metadata, not the value
    vault, folder = world["vault"], world["folder"]
    vault.sys.create_or_update_policy(name=f"meta-{folder}", policy=(
        f'path "secret/metadata/{folder}/*" {{ capabilities = ["read", "list"] }}\n'))
    narrow = vault.auth.token.create(policies=[f"meta-{folder}"], ttl="10m")["auth"]["client_token"]
    denied = get(world, "--secret", "github-token", env={"VAULT_TOKEN": narrow})
    assert denied.returncode == 1 and "Access Denied" in denied.stderr and "'read' capability" in denied.stderr
    entries = trail(world)
    assert [e["outcome"] for e in entries] == ["not-found", "expired", "not-found", "denied"]
    assert entries[2]["cause"] == "no-field"  # read, but nothing handed out: never recorded ok
    for proc in (missing, expired, field, denied):
        assert "Traceback" not in proc.stderr and not any(v in proc.stdout + proc.stderr for v in world["values"])


def test_get_unreachable_and_timeout(world: dict, tmp_path: Path) -> None:
    down = tmp_path / "down.yaml"
    down.write_text(f"backends:\n  - {{type: vault, name: prod, url: '{closed_port_url()}', token: not-a-real-token-xyz, path: secret/x}}\n"
                    f"audit_log: {world['trail']}\n")
    proc = get(world, "--secret", "github-token", config=down)
    assert proc.returncode == 1 and proc.stderr.startswith("error: Unreachable:") and "connection refused" in proc.stderr
    with SilentServer() as silent:
        slow = tmp_path / "slow.yaml"
        slow.write_text(f"backends:\n  - {{type: vault, name: prod, url: '{silent.url}', token: not-a-real-token-xyz, path: secret/x}}\n"
                        f"audit_log: {world['trail']}\n")
        proc = run_cli("get", "--secret", "github-token", "--config", str(slow), "--timeout", "1", timeout=60)
    assert proc.returncode == 1 and "Connection timeout" in proc.stderr and "1 s" in proc.stderr


def test_get_refuses_when_the_trail_cannot_be_written(world: dict, tmp_path: Path) -> None:
    blocked = tmp_path / "blocked.yaml"
    (tmp_path / "a-directory").mkdir()
    blocked.write_text(world["config"].read_text().replace(str(world["trail"]), str(tmp_path / "a-directory")))
    proc = get(world, "--secret", "github-token", config=blocked)
    assert proc.returncode == 1 and "Access trail not writable" in proc.stderr
    assert proc.stdout == "" and world["token"] not in proc.stderr


def test_secret_client_cache_is_bounded_by_ttl_and_size(world: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    from secretaudit.config import load_config
    from secretaudit.plugins import make_pluginmanager
    from secretaudit.secrets import SecretCache, SecretClient

    clock = [0.0]
    monkeypatch.setenv("VAULT_TOKEN", world["env"]["VAULT_TOKEN"])
    config = load_config(str(world["config"]))
    config.pluginmanager = make_pluginmanager((), [])
    cache = SecretCache.from_config(config)
    assert (cache.ttl, cache.max_size) == (60, 2)
    cache = SecretCache(60, 2, clock=lambda: clock[0])
    client = SecretClient(config, cache=cache)
    assert client.get("github-token").value == world["token"]
    # a new version is not seen while cached...
    world["vault"].secrets.kv.v2.create_or_update_secret(path=f"{world['folder']}/github-token",
                                                         secret={"personal_access_token": "ghp_rotated"},
                                                         mount_point="secret")
    assert client.get("github-token").value == world["token"] and cache.hits == 1
    clock[0] = 61.0  # ...and is after the TTL
    assert client.get("github-token").value == "ghp_rotated"
    client.get("database")
    client.get("aws:deploy/webhook")  # third entry: the least recently used (github-token) is evicted
    assert len(cache) == 2 and cache.evictions == 1
    assert "ghp_rotated" not in repr(cache) + repr(client.get("github-token"))
    cached = [e.get("cached") for e in trail(world)]
    assert cached.count(True) == 1 and len(cached) == 6  # every read is in the trail, hits included
