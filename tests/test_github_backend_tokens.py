"""SA305 for GitHub tokens kept in a backend (``scopes.github.from_backends: true``)."""

from __future__ import annotations

import random

import hvac
from conftest import run_json
from github_server import github_api  # noqa: F401  (fixture)
from servers import openbao_disposable  # noqa: F401  (fixture)
from test_scan_verify import github_token

FOLDER = "ai-agents/openclaw"


def test_tokens_in_vault_are_checked_against_the_scope_policy(tmp_path, openbao_disposable, github_api) -> None:  # noqa: F811
    rng = random.Random(9)
    broad, narrow = github_token(rng), github_token(rng)
    github_api.add(broad, login="release-bot", scopes="repo, delete_repo")
    github_api.add(narrow, login="ci-bot", scopes="repo")
    url, root, _ = openbao_disposable
    kv = hvac.Client(url=url, token=root).secrets.kv.v2
    for name, token in (("github", broad), ("github-ci", narrow)):
        kv.create_or_update_secret(path=f"{FOLDER}/{name}", secret={"personal_access_token": token},
                                   mount_point="secret")
        kv.update_metadata(path=f"{FOLDER}/{name}", custom_metadata={"kind": "github-token", "owner": "ops"},
                           mount_point="secret")
    config = tmp_path / "secretaudit.yaml"
    config.write_text(
        f"backends:\n  - {{type: vault, name: prod, url: '{url}', token: '${{VAULT_TOKEN}}', path: 'secret/{FOLDER}'}}\n"
        "scopes:\n  github: {from_backends: true}\n"
        "policy:\n  scopes: {github: ['repo:acme/*:write']}\n")
    proc, report = run_json("audit", "--config", str(config), "--github-api-url", github_api.url,
                            env={"VAULT_TOKEN": root})
    sa305 = [f for f in report["findings"] if f["check_id"] == "SA305" and f["status"] == "failed"]
    scope_findings = [f for f in sa305 if "delete_repo" in f["message"]]
    assert [f["location"]["name"] for f in scope_findings] == ["github"], sa305
    assert not any(f["location"]["name"] == "github-ci" and "scope" in f["message"] for f in sa305)
    assert broad not in proc.stdout + proc.stderr and narrow not in proc.stdout + proc.stderr
