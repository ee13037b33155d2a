"""Least privilege of Vault tokens (SA304, SA509) and GitHub tokens (SA305); token validators.

Vault: the real OpenBao dev server (``servers.openbao``), policies planted with
the root token and audited with tokens holding them.  GitHub: the local fake
API of ``github_server`` answering as GitHub's REST API documents (scope and
expiry headers, 401 for bad credentials), on github.com-style and Enterprise
Server (``/api/v3``) base URLs.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import hvac
import pytest

from secretaudit.checks import github_scopes, vault_policy
from secretaudit.checks.vault_policy import judge_rule, parse_policy
from conftest import run_cli
from github_server import FakeGitHub, free_port_url, github_api  # noqa: F401  (fixture)
from secretaudit.backends.vault import VaultBackend
from secretaudit.config import Config, validate
from secretaudit.model import Status
from secretaudit.plugins import DEFAULT_PLUGINS
from servers import OpenBao, openbao  # noqa: F401  (fixture)
from secretaudit.stash import BACKENDS, GITHUB_API_URL

FOLDER = "ai-agents/openclaw"
LEAST = f'path "secret/metadata/{FOLDER}/*" {{ capabilities = ["list", "read"] }}\n'
#: the audit token may read the text of OpenBao's default policy, which every token holds
READ_DEFAULT = 'path "sys/policy/default" { capabilities = ["read"] }\n'
PLUGIN_ARGS = [arg for module in ("secretaudit.checks.vault_policy", "secretaudit.checks.github_scopes") if module not in DEFAULT_PLUGINS
               for arg in ("-p", module)]


def fake_classic() -> str:
    return "ghp_" + secrets.token_hex(18)


def fake_fine_grained() -> str:
    return "github_pat_" + secrets.token_hex(20)


def make_config(**settings: Any) -> Config:
    return Config(settings=validate({"timeout": 10, **settings}, "test"))


# -- the policy parser, offline -------------------------------------------------------------


def test_parser_reads_hcl_comments_nested_blocks_legacy_and_json() -> None:
    text = '''
    # admin rules
    path "secret/data/*" {
      capabilities = ["create", "update"]   // write
      allowed_parameters = { "x" = [] }
    }
    /* old style */
    path "auth/token/create" { policy = "write" }
    '''
    assert parse_policy(text) == [("secret/data/*", ["create", "update"]),
                                  ("auth/token/create", ["create", "read", "update", "delete", "list"])]
    assert parse_policy('{"path": {"sys/*": {"capabilities": ["update"]}}}') == [("sys/*", ["update"])]


@pytest.mark.parametrize(("pattern", "caps", "rules"), [
    ("*", ["read", "list", "sudo"], ["root-glob", "sudo"]),
    ("+/config", ["read"], ["root-glob"]),
    ("sys/policies/acl/*", ["update"], ["sys-write"]),
    ("sys/tools/hash/*", ["update"], []),                   # self-service, in the default policy
    ("sys/capabilities-self", ["update"], []),
    ("auth/token/create-orphan", ["update"], ["token-create"]),
    ("auth/*", ["create"], ["token-create"]),
    ("secret/*", ["create", "update"], ["mount-write"]),
    ("secret/data/*", ["create"], ["mount-write"]),
    ("secret/data/ai-agents/openclaw/*", ["create"], []),
    ("secret/metadata/ai-agents/openclaw/*", ["list", "read"], []),
    ("cubbyhole/*", ["create", "update", "delete"], []),
    ("*", ["deny"], []),
])
def test_rules(pattern: str, caps: list[str], rules: list[str]) -> None:
    assert [r for r, _ in judge_rule(pattern, caps, "secret", FOLDER)] == rules


# -- Vault, against the real OpenBao --------------------------------------------------------


def token_with(server: OpenBao, rules: str, name: str) -> str:
    """A token holding the policy NAME and OpenBao's default policy."""
    client = hvac.Client(url=server.url, token=server.root_token)
    client.sys.create_or_update_policy(name=name, policy=rules)
    return client.auth.token.create(policies=[name], ttl="1h",
                                    display_name=name)["auth"]["client_token"]


def vault_backend(server: OpenBao, token: str) -> VaultBackend:
    return VaultBackend("prod", {"url": server.url, "token": token, "path": f"secret/{FOLDER}"}, make_config())


def test_path_star_with_sudo_gives_exactly_the_glob_and_sudo(openbao: OpenBao) -> None:
    name = f"wide-{uuid.uuid4().hex[:6]}"
    token = token_with(openbao, 'path "*" {\n  capabilities = ["read", "list", "sudo"]\n}\n', name)
    result = vault_policy.audit_backend(vault_backend(openbao, token), make_config())
    sa304 = [f for f in result.findings if f.check_id == "SA304"]
    assert sorted((f.status, f.location.name, f.evidence) for f in sa304) == [
        (Status.FAILED, f"policy:{name}", 'path "*"'), (Status.FAILED, f"policy:{name}", 'path "*"')]
    messages = sorted(f.message for f in sa304)
    assert "matches every path" in messages[0] and "sudo capability" in messages[1]
    for message in messages:
        assert f"policy '{name}'" in message and "read, list, sudo" in message
    assert len({f.fingerprint for f in sa304}) == 2
    # the sudo token may read sys/audit: the dev server has no audit device
    sa509 = [f for f in result.findings if f.check_id == "SA509"]
    assert [(f.status, f.location.name) for f in sa509] == [(Status.FAILED, "sys/audit")]
    assert "no audit device" in sa509[0].message
    assert all(token not in f.message + f.evidence for f in result.findings)


def test_least_privilege_policy_gives_no_sa304(openbao: OpenBao) -> None:
    name = f"least-{uuid.uuid4().hex[:6]}"
    rules = LEAST + f'path "sys/policy/{name}" {{ capabilities = ["read"] }}\n' + READ_DEFAULT
    token = token_with(openbao, rules, name)
    result = vault_policy.audit_backend(vault_backend(openbao, token), make_config())
    assert [f for f in result.findings if f.check_id == "SA304"] == []
    # it may not read sys/audit (an optional grant): "not checked" naming sudo, never a pass, not an error
    sa509 = [f for f in result.findings if f.check_id == "SA509"]
    assert [(f.status, f.severity.label) for f in sa509] == [(Status.SKIPPED, "info")]
    assert "not checked" in sa509[0].message and "'sudo'" in sa509[0].message and "sys/audit" in sa509[0].message
    assert result.judged == result.listed - 1  # a unit not checked is counted neither passed nor failed


def test_unreadable_policy_and_root_and_dead_server(openbao: OpenBao) -> None:
    name = f"blind-{uuid.uuid4().hex[:6]}"
    token = token_with(openbao, LEAST, name)
    result = vault_policy.audit_backend(vault_backend(openbao, token), make_config())
    unread = [f for f in result.findings if f.check_id == "SA304"]  # both policies, reported once
    assert [(f.status, f.location.name) for f in unread] == [(Status.SKIPPED, "policies")]
    assert f"sys/policy/{name}, sys/policy/default" in unread[0].message and "not checked" in unread[0].message

    result = vault_policy.audit_backend(vault_backend(openbao, openbao.root_token), make_config())
    root = [f for f in result.findings if f.check_id == "SA304"]
    assert [(f.location.name, f.severity.label) for f in root] == [("policy:root", "critical")]

    dead = VaultBackend("prod", {"url": free_port_url(), "token": token, "path": f"secret/{FOLDER}"},
                        make_config(timeout=3))
    dead.retries = 0
    result = vault_policy.audit_backend(dead, make_config())
    assert sorted((f.check_id, f.status) for f in result.findings) == [("SA304", Status.ERROR), ("SA509", Status.ERROR)]
    assert all("could not check" in f.message and token not in f.message for f in result.findings)


def test_write_on_sys_token_create_and_whole_mount(openbao: OpenBao) -> None:
    name = f"admin-{uuid.uuid4().hex[:6]}"
    rules = (f'path "sys/policy/{name}" {{ capabilities = ["read"] }}\n' + READ_DEFAULT +
             'path "sys/auth/*" { capabilities = ["create", "update", "delete"] }\n'
             'path "auth/token/create" { capabilities = ["update"] }\n'
             'path "secret/data/*" { capabilities = ["create", "update", "read"] }\n')
    token = token_with(openbao, rules, name)
    result = vault_policy.audit_backend(vault_backend(openbao, token), make_config())
    found = sorted(f.evidence for f in result.findings if f.check_id == "SA304")
    assert found == ['path "auth/token/create"', 'path "secret/data/*"', 'path "sys/auth/*"']


# -- validators ------------------------------------------------------------------------------


def test_vault_validator(openbao: OpenBao) -> None:
    config = make_config()
    name = f"valid-{uuid.uuid4().hex[:6]}"
    token = token_with(openbao, LEAST, name)
    hook = github_scopes.secretaudit_validate_credential
    valid = hook(kind="vault-token", credential={"token": token, "url": openbao.url}, config=config)
    assert (valid.status, valid.identity) == ("valid", f"token-{name}")
    revoked = token_with(openbao, LEAST, name)
    hvac.Client(url=openbao.url, token=openbao.root_token).auth.token.revoke(revoked)
    invalid = hook(kind="vault-token", credential={"token": revoked, "url": openbao.url}, config=config)
    assert invalid.status == "invalid"
    down = hook(kind="vault-token", credential={"token": token, "url": free_port_url()}, config=config)
    assert down.status == "unknown" and "could not validate" in down.message
    # the url may come from the configured vault backend
    config.stash[BACKENDS] = [vault_backend(openbao, "unused")]
    assert hook(kind="vault-token", credential={"token": token}, config=config).status == "valid"
    assert hook(kind="aws-access-key", credential={}, config=config) is None
    for answer in (valid, invalid, down):
        assert token not in answer.message + answer.identity and revoked not in answer.message


def test_github_validator_valid_invalid_unknown_and_throttled(github_api: FakeGitHub) -> None:
    config = make_config()
    config.stash[GITHUB_API_URL] = github_api.url
    good, bad = fake_classic(), fake_classic()
    github_api.add(good, "octo-agent", "repo")
    hook = github_scopes.secretaudit_validate_credential
    started = time.monotonic()
    first = hook(kind="github-token", credential={"token": good}, config=config)
    second = hook(kind="github-token", credential={"token": good}, config=config)
    assert (first.status, first.identity) == ("valid", "octo-agent") and second.status == "valid"
    hits = github_api.requests_for(good)
    assert len(hits) == 2 and hits[1].at - hits[0].at >= 0.95  # at most one request per second per token
    assert time.monotonic() - started >= 0.95
    for _ in range(5):
        answer = hook(kind="github-token", credential={"token": bad}, config=config)
        assert answer.status == "invalid"
    assert len(github_api.requests_for(bad)) == 1  # a rejected token is never retried within the run
    github_api.fail_status = 502
    other = fake_classic()
    assert hook(kind="github-token", credential={"token": other}, config=config).status == "unknown"
    config.stash[GITHUB_API_URL] = free_port_url()
    down = hook(kind="github-token", credential={"token": other}, config=config)
    assert down.status == "unknown" and "could not validate" in down.message
    for value in (good, bad, other):
        assert value not in repr([first, second, answer, down])


# -- SA305 against the fake GitHub ----------------------------------------------------------


def github_config(api: str, policy: list[str] | None = None, as_of: datetime | None = None, **tokens: str) -> Config:
    settings: dict[str, Any] = {"scopes": {"github": {"api_url": api, "tokens": [
        {"name": name, "token": value} for name, value in tokens.items()]}}}
    if policy is not None:
        settings["policy"] = {"scopes": {"github": policy}}
    config = make_config(**settings)
    if as_of:
        config.as_of = as_of
    return config


def soon(days: int = 10) -> str:
    return (datetime.now(timezone.utc) + timedelta(days=days)).strftime("%Y-%m-%d %H:%M:%S UTC")


def test_delete_repo_is_sa305_and_least_privilege_is_clean(github_api: FakeGitHub) -> None:
    wide, narrow = fake_classic(), fake_classic()
    github_api.add(wide, "deployer", "repo, delete_repo, admin:org", expiration=soon())
    github_api.add(narrow, "openclaw", "repo", expiration=soon())
    config = github_config(github_api.url, ["repo:acme/*:write"], wide=wide, narrow=narrow)
    findings = github_scopes.check_token("wide", wide, config)
    assert [(f.check_id, f.status) for f in findings] == [("SA305", Status.FAILED)]
    assert "delete_repo, admin:org" in findings[0].message and "allowed: repo" in findings[0].message
    assert "deployer" in findings[0].message and wide not in findings[0].message + findings[0].evidence
    assert github_scopes.check_token("narrow", narrow, config) == []
    # a read-only policy: the full repo scope is too much
    read_only = github_config(github_api.url, ["repo:acme/*:read"])
    findings = github_scopes.check_token("narrow", narrow, read_only)
    assert len(findings) == 1 and "full 'repo' scope" in findings[0].message


def test_fine_grained_expiry(github_api: FakeGitHub) -> None:
    forever, far, near = fake_fine_grained(), fake_fine_grained(), fake_fine_grained()
    github_api.add(forever, "agent", scopes=None)
    github_api.add(far, "agent", scopes=None, expiration="2026-12-24 00:00:00 UTC")
    github_api.add(near, "agent", scopes=None, expiration=soon(5))
    config = github_config(github_api.url, ["repo:acme/*:write"])
    findings = github_scopes.check_token("forever", forever, config)
    assert [(f.check_id, f.status) for f in findings] == [("SA305", Status.FAILED)]
    assert "never expires" in findings[0].message and "30-day" in findings[0].message
    config.as_of = datetime(2026, 10, 1, tzinfo=timezone.utc)
    findings = github_scopes.check_token("far", far, config)
    assert len(findings) == 1 and "expires 2026-12-24" in findings[0].message
    config.as_of = datetime(2026, 12, 1, tzinfo=timezone.utc)
    assert github_scopes.check_token("far", far, config) == []
    config.as_of = datetime.now(timezone.utc)
    assert github_scopes.check_token("near", near, config) == []


def test_rejected_token_enterprise_url_and_outage(github_api: FakeGitHub) -> None:
    token, unknown = fake_classic(), fake_classic()
    github_api.add(token, "ghe-agent", "repo, workflow", expiration=soon())
    config = github_config(github_api.enterprise_url, ["repo:acme/*:write"])
    findings = github_scopes.check_token("ghe", token, config)
    assert len(findings) == 1 and "workflow" in findings[0].message
    assert github_api.requests_for(token)[0].path == "/api/v3/user"
    rejected = github_scopes.check_token("gone", unknown, config)
    assert [(f.status, f.message) for f in rejected] == [
        (Status.ERROR, f"GitHub token 'gone': token rejected (invalid or expired) by {github_api.enterprise_url}")]
    github_api.fail_status = 503
    outage = github_scopes.check_token("ghe", token, make_config(scopes={"github": {"api_url": github_api.url}}))
    assert [f.status for f in outage] == [Status.ERROR] and "HTTP 503" in outage[0].message


# -- the CLI, end to end ---------------------------------------------------------------------


def test_audit_cli_end_to_end(openbao: OpenBao, github_api: FakeGitHub, tmp_path: Path) -> None:
    name = f"e2e-{uuid.uuid4().hex[:6]}"
    vault_token = token_with(openbao, 'path "*" { capabilities = ["read", "list", "sudo"] }\n', name)
    wide, narrow = fake_classic(), fake_classic()
    github_api.add(wide, "deployer", "repo, delete_repo", expiration=soon())
    github_api.add(narrow, "openclaw", "repo", expiration=soon())
    config = tmp_path / "cfg.yaml"
    config.write_text(
        "backends:\n"
        f"  - {{type: vault, name: prod, url: '{openbao.url}', token: '${{VAULT_TOKEN}}', path: 'secret/{FOLDER}'}}\n"
        "scopes:\n"
        "  github:\n"
        f"    api_url: {github_api.url}\n"
        "    tokens:\n"
        "      - {name: deployer, token: '${GH_WIDE}'}\n"
        "      - {name: openclaw, token: '${GH_NARROW}'}\n"
        "policy:\n"
        "  scopes:\n"
        "    github: ['repo:acme/*:write']\n", encoding="utf-8")
    env = {"VAULT_TOKEN": vault_token, "GH_WIDE": wide, "GH_NARROW": narrow}
    proc = run_cli("audit", "--config", str(config), "--format", "json", *PLUGIN_ARGS, env=env, cwd=tmp_path)
    assert proc.stdout, proc.stderr
    report = json.loads(proc.stdout)
    mine = sorted((f["check_id"], f["status"], f["location"].get("name")) for f in report["findings"]
                  if f["check_id"] in ("SA304", "SA305", "SA509"))
    assert mine == [("SA304", "failed", f"policy:{name}"), ("SA304", "failed", f"policy:{name}"),
                    ("SA305", "failed", "deployer"), ("SA509", "failed", "sys/audit")]
    kinds = {t["kind"] for t in report["targets"]} if "targets" in report else {
        t["kind"] for t in report["run"].get("targets", [])}
    assert {"vault-policy", "github-token"} <= kinds
    for value in env.values():
        assert value not in proc.stdout and value not in proc.stderr
