"""``BACKEND:NAME`` when a backend's name is its type: an openclaw.yaml's ``vault`` backend is ``vault:vault``.

OpenClaw's ``external_secrets`` block gives one backend named after its type,
so ``vault:NAME`` names it by type and by name at once.  Until 2026-12 ``get``
and ``rotate`` counted it twice ("Ambiguous name: (vault:vault:github,
vault:vault:github)") and ``validate`` found nothing ("no secret matches").
Real OpenBao; the CLI as a subprocess.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import hvac
import pytest
from conftest import run_cli
from servers import openbao  # noqa: F401  (fixture)


@pytest.fixture
def openclaw(tmp_path: Path, openbao) -> dict:  # noqa: F811
    url, root, _ = openbao
    folder = f"prefix-{uuid.uuid4().hex[:8]}"
    client = hvac.Client(url=url, token=root)
    kv = client.secrets.kv.v2
    token = "ghp_" + uuid.uuid4().hex + uuid.uuid4().hex[:4]  # secretaudit: ignore[SA102] a prefix, the value is random at run time
    ci_token = client.auth.token.create(policies=["default"], ttl="1h", display_name="ci")["auth"]["client_token"]
    planted = {"github": ({"personal_access_token": token}, "github-token"),
               "webhook": ({"password": uuid.uuid4().hex}, "generic"),
               "ci-vault-token": ({"token": ci_token, "url": url}, "vault-token")}
    for name, (fields, kind) in planted.items():
        kv.create_or_update_secret(path=f"{folder}/{name}", secret=fields, mount_point="secret")
        kv.update_metadata(path=f"{folder}/{name}", custom_metadata={"kind": kind, "owner": "ops"},
                           mount_point="secret")
    config = tmp_path / "openclaw.yaml"
    config.write_text("external_secrets:\n  backend: vault\n"
                      f"  vault: {{url: '{url}', token: '${{VAULT_TOKEN}}', path: 'secret/{folder}'}}\n"
                      f"audit_log: {tmp_path / 'trail.jsonl'}\n")
    return {"config": str(config), "env": {"VAULT_TOKEN": root}, "token": token, "values": [token, ci_token]}


def test_type_prefix_names_the_openclaw_backend_once(openclaw: dict) -> None:
    got = run_cli("get", "--secret", "vault:github", "--config", openclaw["config"], env=openclaw["env"])
    assert got.returncode == 0, got.stderr
    assert got.stdout == openclaw["token"] + "\n"
    full = run_cli("get", "--secret", "vault:vault:github", "--config", openclaw["config"], env=openclaw["env"])
    assert full.returncode == 0 and full.stdout == got.stdout, full.stderr
    rotate = run_cli("rotate", "--secret", "vault:webhook", "--reason", "test", "--dry-run",
                     "--config", openclaw["config"], env=openclaw["env"])
    assert rotate.returncode == 0, rotate.stderr
    assert "dry run: vault:vault:webhook" in rotate.stdout
    proc = run_cli("validate", "--secret", "vault:ci-vault-token", "--format", "json",
                   "--config", openclaw["config"], env=openclaw["env"])
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["summary"]["passed"] == 1 and not report["findings"]
    for each in (got, full, rotate, proc):
        assert "Ambiguous" not in each.stderr
        assert not any(v in each.stderr for v in openclaw["values"])
