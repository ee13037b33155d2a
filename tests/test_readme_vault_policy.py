"""The README's Vault policy gives a clean audit, and its optional grants let SA304 and SA509 run.

Until 2026-12 the documented minimal policy (list/read on metadata,
lookup-self) could never pass: SA304 needs read on sys/policy/*, SA509 read
and sudo on sys/audit, so every audit had three errors and exited 1.  Now the
checks the policy cannot serve are reported once each as "not checked" (info)
naming the grant.  The policies are taken from the README itself, so the
documentation and this test cannot drift apart.  Real OpenBao servers.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import hvac
from conftest import ROOT, run_cli
from openbao_audit import openbao_audited  # noqa: F401  (fixture)
from servers import openbao  # noqa: F401  (fixture)

README_FOLDER = "ai-agents/openclaw"


def readme_policies() -> tuple[str, str]:
    """The README's minimal policy and its optional grants (the two ``hcl`` blocks of the vault backend)."""
    blocks = re.findall(r"```hcl\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)
    minimal = next(b for b in blocks if b.lstrip(" ").startswith("# secretaudit-reader:"))
    optional = next(b for b in blocks if b.lstrip(" ").startswith("# secretaudit-reader, optional:"))
    return minimal, optional


def _world(tmp_path: Path, url: str, root: str, rules: str) -> tuple[Path, str]:
    """A healthy secret under a fresh folder, a token holding exactly ``rules`` (folder substituted)."""
    folder = f"readme-{uuid.uuid4().hex[:8]}"
    client = hvac.Client(url=url, token=root)
    kv = client.secrets.kv.v2
    kv.create_or_update_secret(path=f"{folder}/webhook", secret={"password": uuid.uuid4().hex}, mount_point="secret")
    kv.update_metadata(path=f"{folder}/webhook", custom_metadata={"kind": "generic", "owner": "ops",
                                                                  "rotation_days": "90"}, mount_point="secret")
    name = f"secretaudit-reader-{uuid.uuid4().hex[:6]}"
    client.sys.create_or_update_policy(name=name, policy=rules.replace(README_FOLDER, folder))
    token = client.auth.token.create(policies=[name], ttl="720h", meta={"owner": "ops"},
                                     display_name="audit")["auth"]["client_token"]
    config = tmp_path / "secretaudit.yaml"
    config.write_text(f"backends:\n  - {{type: vault, name: prod, url: '{url}', token: '${{VAULT_TOKEN}}', "
                      f"path: 'secret/{folder}'}}\n"
                      "disable: [SA501]  # the test servers speak plain http on loopback\n")
    return config, token


def test_readme_minimal_policy_passes_and_names_the_optional_grants(tmp_path: Path, openbao) -> None:  # noqa: F811
    url, root, _ = openbao
    minimal, _ = readme_policies()
    config, token = _world(tmp_path, url, root, minimal)
    proc = run_cli("audit", "--config", str(config), env={"VAULT_TOKEN": token})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [line for line in proc.stdout.splitlines() if "not checked" in line]
    assert len(lines) == 2, proc.stdout  # once per check, not once per policy the token holds
    sa304 = next(line for line in lines if "SA304" in line)
    sa509 = next(line for line in lines if "SA509" in line)
    assert "[info]" in sa304 and "'read' on sys/policy/" in sa304 and "default" in sa304
    assert "[info]" in sa509 and "'read' and 'sudo' on sys/audit" in sa509
    junit = tmp_path / "junit.xml"
    report = json.loads(run_cli("audit", "--config", str(config), "--format", "json", "--report", f"junit:{junit}",
                                env={"VAULT_TOKEN": token}).stdout)
    skipped = [(f["check_id"], f["status"], f["severity"]) for f in report["findings"] if f["status"] != "passed"]
    assert sorted(skipped) == [("SA304", "skipped", "info"), ("SA509", "skipped", "info")]
    verdicts = {(r["check_id"], r["status"]) for r in report["results"] if r["check_id"] in ("SA304", "SA509")}
    assert verdicts == {("SA304", "skipped"), ("SA509", "skipped")}  # not checked is never a pass
    assert 'message="SA304 not checked on vault:prod:policies"' in junit.read_text()
    assert token not in proc.stdout + proc.stderr


def test_readme_optional_grants_let_sa304_and_sa509_run_cleanly(tmp_path: Path, openbao_audited) -> None:  # noqa: F811
    server, _ = openbao_audited
    minimal, optional = readme_policies()
    config, token = _world(tmp_path, server.url, server.root_token, minimal + optional)
    proc = run_cli("audit", "--config", str(config), "--format", "json", env={"VAULT_TOKEN": token})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["findings"] == [], report["findings"]  # the sudo on exactly sys/audit is not held against it
    checked = {(r["check_id"], r["status"]) for r in report["results"] if r["check_id"] in ("SA304", "SA509")}
    assert checked == {("SA304", "passed"), ("SA509", "passed")}
