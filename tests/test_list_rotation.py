"""``list`` shows the rotation period the audit holds each secret to, and where it comes from.

Until 2026-12 a secret without its own schedule showed ROTATION ``off`` and
``rotation_days: null`` although the policy's period applied to it (SA203
judges it).  Real OpenBao; the CLI as a subprocess.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import hvac
from conftest import run_cli
from servers import openbao  # noqa: F401  (fixture)

PLANTED = {  # name -> custom_metadata
    "deploy-key": {"kind": "aws-access-key", "owner": "ops"},                       # policy default, 90
    "ci-token": {"kind": "github-token", "owner": "ops"},                           # the config's 14
    "webhook": {"kind": "generic", "owner": "ops", "rotation_days": "30"},         # its own, shorter
    "orders-db": {"kind": "database-password", "owner": "ops", "rotation_days": "120"},  # longer: the policy binds
    "notes": {"kind": "generic", "owner": "ops"},                                   # policy default (any kind)
}


def test_list_shows_the_effective_rotation_and_its_source(tmp_path: Path, openbao) -> None:  # noqa: F811
    url, root, _ = openbao
    folder = f"listrot-{uuid.uuid4().hex[:8]}"
    kv = hvac.Client(url=url, token=root).secrets.kv.v2
    for name, custom in PLANTED.items():
        kv.create_or_update_secret(path=f"{folder}/{name}", secret={"value": uuid.uuid4().hex}, mount_point="secret")
        kv.update_metadata(path=f"{folder}/{name}", custom_metadata=custom, mount_point="secret")
    config = tmp_path / "secretaudit.yaml"
    config.write_text(f"backends:\n  - {{type: vault, name: prod, url: '{url}', token: '${{VAULT_TOKEN}}', "
                      f"path: 'secret/{folder}'}}\npolicy:\n  rotation_days: {{github-token: 14}}\n")
    proc = run_cli("list", "--config", str(config), "--format", "json", env={"VAULT_TOKEN": root})
    assert proc.returncode == 0, proc.stderr
    rows = {r["name"]: r for r in json.loads(proc.stdout)["secrets"]}
    got = {name: (rows[name]["rotation_days"], rows[name]["rotation_source"]) for name in PLANTED}
    assert got == {
        "deploy-key": (90, "policy default for aws-access-key"),
        "ci-token": (14, "policy for github-token"),
        "webhook": (30, "metadata"),
        "orders-db": (60, "policy default for database-password; metadata says 120d"),
        "notes": (90, "policy default"),
    }
    assert rows["orders-db"]["backend_rotation_days"] == 120 and rows["deploy-key"]["backend_rotation_days"] is None
    text = run_cli("list", "--config", str(config), env={"VAULT_TOKEN": root}).stdout
    line = {row.split()[1]: row for row in text.splitlines()[1:]}
    assert "90d (policy default for aws-access-key)" in line["deploy-key"]
    assert "30d (metadata)" in line["webhook"] and " off" not in line["deploy-key"]
