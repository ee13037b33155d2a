"""SA202 for Vault tokens follows their renewal period, not the 30-day window meant for long-lived secrets.

A token created with a 720 h TTL (the standard's monthly rotation), or a
periodic token renewed every 720 h, always has 30 days or less left: with
the plain 30-day window it was flagged SA202 [high] from the moment it was
issued.  Its window is now the last third of its period (renewal agents
renew at about two thirds): silent while renewal is on time, a warning once
it is late.  Real OpenBao tokens, audited as the backend's own token.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import hvac
import pytest
from conftest import run_cli
from servers import openbao  # noqa: F401  (fixture)


def _audit_token(tmp_path: Path, url: str, root: str, **create: object) -> tuple[Path, dict, str]:
    client = hvac.Client(url=url, token=root)
    folder = f"window-{uuid.uuid4().hex[:8]}"
    client.secrets.kv.v2.create_or_update_secret(path=f"{folder}/app", secret={"password": uuid.uuid4().hex},
                                                 mount_point="secret")
    name = f"reader-{uuid.uuid4().hex[:6]}"
    client.sys.create_or_update_policy(
        name=name, policy=f'path "secret/metadata/{folder}/*" {{ capabilities = ["list", "read"] }}\n')
    token = client.auth.token.create(policies=[name], meta={"owner": "ops"}, display_name="audit",
                                     **create)["auth"]["client_token"]
    data = hvac.Client(url=url, token=token).auth.token.lookup_self()["data"]
    config = tmp_path / f"{name}.yaml"
    config.write_text(f"backends:\n  - {{type: vault, name: prod, url: '{url}', token: '${{VAULT_TOKEN}}', "
                      f"path: 'secret/{folder}'}}\n")
    return config, data, token


def _token_findings(config: Path, token: str, as_of: datetime) -> list[dict]:
    proc = run_cli("audit", "--config", str(config), "--format", "json", "--as-of",
                   as_of.isoformat().replace("+00:00", "Z"), env={"VAULT_TOKEN": token})
    assert proc.returncode in (0, 1), proc.stderr
    assert token not in proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    return [f for f in report["findings"] if f["location"].get("name") == "token:token-audit"
            and f["status"] == "failed" and f["check_id"] in ("SA201", "SA202", "SA203")]


@pytest.mark.parametrize("create", [{"ttl": "720h"}, {"period": "720h"}], ids=["ttl-720h", "period-720h"])
def test_monthly_token_warns_only_when_its_renewal_is_late(tmp_path: Path, openbao, create: dict) -> None:  # noqa: F811
    url, root, _ = openbao
    config, data, token = _audit_token(tmp_path, url, root, **create)
    issued = datetime.fromisoformat(data["issue_time"][:26].rstrip("Z") + "+00:00")
    expires = datetime.fromisoformat(data["expire_time"][:26].rstrip("Z") + "+00:00")
    assert abs((expires - issued) - timedelta(hours=720)) < timedelta(minutes=1)
    # issued today, and two weeks in: two thirds of its life are left, renewal is not due
    assert _token_findings(config, token, issued + timedelta(minutes=1)) == []
    assert _token_findings(config, token, issued + timedelta(days=15)) == []
    # 25 days in, 5 left: the renewal at two thirds (day 20) did not happen
    late = _token_findings(config, token, issued + timedelta(days=25))
    assert [f["check_id"] for f in late] == ["SA202"], late
    assert "10 days, the last third of its renewal period of 30 days" in late[0]["message"]
