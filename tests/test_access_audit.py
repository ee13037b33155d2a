"""SA510 and ``trail --vault-audit-log`` against a real OpenBao writing a file audit log.

The server (``openbao_audit.openbao_audited``) declares a file audit device
in its config.  Tests create policies and tokens, read secrets as allowed
and disallowed identities, then run the real CLI: SA510 must flag exactly
the disallowed reads, naming secret, reader and time, and never a value.
Config mistakes are one-line errors with exit 4; an unreadable log is an
error result, not a crash.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import hvac
import pytest
import yaml
from conftest import run_cli, run_json
from openbao_audit import AuditedBao, openbao_audited  # noqa: F401  (fixture)

FOLDER = "apps"
#: name -> owner (None: no owner metadata)
SECRETS = {"payments-db": "team-payments", "reports": "team-data", "orphan": None}
POLICIES = {
    "payments-app": f'path "secret/data/{FOLDER}/payments-db" {{ capabilities = ["read"] }}',
    "etl": f'path "secret/data/{FOLDER}/reports" {{ capabilities = ["read"] }}',
    # an over-broad policy: Vault lets it read everything in the folder, the owners do not
    "snoop": f'path "secret/data/{FOLDER}/*" {{ capabilities = ["read"] }}',
    "auditor": (f'path "secret/metadata/{FOLDER}/*" {{ capabilities = ["list", "read"] }}\n'
                f'path "secret/metadata/{FOLDER}" {{ capabilities = ["list"] }}'),
}
OWNERS = {"team-payments": {"policies": ["payments-app"]}, "team-data": {"policies": ["etl"]}}


def _plant(server_url: str, root: str) -> tuple[dict[str, str], dict[str, str]]:
    """Secrets (random values), policies and one token per policy; returns (values, tokens)."""
    client = hvac.Client(url=server_url, token=root)
    values = {}
    for name, owner in SECRETS.items():
        values[name] = "v-" + secrets.token_hex(16)
        client.secrets.kv.v2.create_or_update_secret(path=f"{FOLDER}/{name}", secret={"password": values[name]},
                                                     mount_point="secret")
        custom = {"kind": "generic", **({"owner": owner} if owner else {})}
        client.secrets.kv.v2.update_metadata(path=f"{FOLDER}/{name}", custom_metadata=custom, mount_point="secret")
    tokens = {}
    for policy, text in POLICIES.items():
        client.sys.create_or_update_policy(name=policy, policy=text)
        tokens[policy] = client.auth.token.create(policies=[policy], display_name=f"{policy}-svc",
                                                  ttl="1h")["auth"]["client_token"]
    return values, tokens


def _read(server_url: str, token: str, name: str) -> bool:
    """Read one secret's value as ``token``; True when allowed (the value is dropped at once)."""
    try:
        hvac.Client(url=server_url, token=token).secrets.kv.v2.read_secret_version(
            path=f"{FOLDER}/{name}", mount_point="secret", raise_on_deleted_version=True)
        return True
    except hvac.exceptions.Forbidden:
        return False


def _config(tmp_path: Path, url: str, log: Path | str, owners: dict | None = None) -> Path:
    config = tmp_path / "secretaudit.yaml"
    config.write_text(yaml.safe_dump({
        "backends": [{"type": "vault", "name": "bao", "url": url, "token": "${AUDIT_VAULT_TOKEN}",
                      "path": f"secret/{FOLDER}", "database_mount": ""}],
        "access_logs": {"bao": str(log)},
        "policy": {"owners": OWNERS if owners is None else owners},
    }))
    return config


@pytest.fixture
def scenario(openbao_audited: AuditedBao, tmp_path: Path) -> dict:
    """Allowed reads, two reads by an identity outside the owner's policy, and a denied attempt."""
    url, root, _ = openbao_audited.server
    values, tokens = _plant(url, root)
    assert _read(url, tokens["payments-app"], "payments-db")      # the owner's app: allowed
    assert _read(url, tokens["etl"], "reports")                   # allowed
    assert _read(url, tokens["snoop"], "payments-db")             # outside team-payments' policy
    assert _read(url, tokens["snoop"], "payments-db")             # ... twice: one finding
    assert _read(url, tokens["snoop"], "orphan")                  # no owner: not judged (SA207's job)
    assert not _read(url, tokens["payments-app"], "reports")      # denied by Vault: not a read
    return {"url": url, "log": openbao_audited.log_path, "values": values, "tokens": tokens,
            "env": {"AUDIT_VAULT_TOKEN": tokens["auditor"]}}


def _no_value_in(text: str, scenario: dict) -> None:
    for value in scenario["values"].values():
        assert value not in text
    for token in scenario["tokens"].values():
        assert token not in text


def test_sa510_flags_exactly_the_read_outside_the_owners_policy(scenario: dict, tmp_path: Path) -> None:
    config = _config(tmp_path, scenario["url"], scenario["log"])
    proc, report = run_json("audit", "--config", str(config), env=scenario["env"])
    _no_value_in(proc.stdout + proc.stderr, scenario)
    assert proc.returncode == 1, proc.stderr
    sa510 = [f for f in report["findings"] if f["check_id"] == "SA510"]
    assert [(f["status"], f["location"]["name"]) for f in sa510] == [("failed", "payments-db")], sa510
    message = sa510[0]["message"]
    assert "token-snoop-svc" in message and "snoop" in message and "read 2 times" in message
    assert "team-payments" in message and "payments-app" in message
    # the times named are the snoop reads' times, as the audit log recorded them
    proc_log = run_cli("trail", "--vault-audit-log", str(scenario["log"]), "--format", "json")
    reads = json.loads(proc_log.stdout)["reads"]
    snoop_times = [r["time"] for r in reads if r["display_name"] == "token-snoop-svc" and r["secret"].endswith(
        "payments-db")]
    assert len(snoop_times) == 2 and all(t in message for t in snoop_times)
    # the allowed readers were judged and passed: no finding names them
    assert "payments-app-svc" not in message and "etl-svc" not in message


def test_trail_reads_the_vault_audit_log(scenario: dict) -> None:
    proc = run_cli("trail", "--vault-audit-log", str(scenario["log"]), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    _no_value_in(proc.stdout + proc.stderr, scenario)
    reads = json.loads(proc.stdout)["reads"]
    seen = [(r["display_name"], r["secret"], r["outcome"]) for r in reads]
    assert seen == [
        ("token-payments-app-svc", f"{FOLDER}/payments-db", "ok"),
        ("token-etl-svc", f"{FOLDER}/reports", "ok"),
        ("token-snoop-svc", f"{FOLDER}/payments-db", "ok"),
        ("token-snoop-svc", f"{FOLDER}/payments-db", "ok"),
        ("token-snoop-svc", f"{FOLDER}/orphan", "ok"),
        ("token-payments-app-svc", f"{FOLDER}/reports", "denied"),
    ], seen
    assert all(r["policies"] == sorted([r["display_name"].removeprefix("token-").removesuffix("-svc"), "default"])
               for r in reads)
    # filters: by secret glob, and the text table
    only = run_cli("trail", "--vault-audit-log", str(scenario["log"]), "--secret", "*/payments-db")
    assert only.returncode == 0
    rows = [line for line in only.stdout.splitlines() if "secret/data/" in line]
    assert len(rows) == 3 and "reports" not in only.stdout
    assert "3 reads (secret */payments-db; 6 in the file)" in only.stdout
    _no_value_in(only.stdout + only.stderr, scenario)


def test_owner_missing_from_policy_is_an_error_not_a_pass(scenario: dict, tmp_path: Path) -> None:
    config = _config(tmp_path, scenario["url"], scenario["log"], owners={"team-payments": {"policies": ["payments-app"]}})
    proc, report = run_json("audit", "--config", str(config), env=scenario["env"])
    sa510 = sorted((f["status"], f["location"]["name"]) for f in report["findings"] if f["check_id"] == "SA510")
    assert sa510 == [("error", "reports"), ("failed", "payments-db")]
    error = next(f for f in report["findings"] if f["check_id"] == "SA510" and f["status"] == "error")
    assert "policy.owners.team-data.policies" in error["message"]
    assert proc.returncode == 1


def test_every_owner_entry_allows_a_reader_on_all_secrets(scenario: dict, tmp_path: Path) -> None:
    config = _config(tmp_path, scenario["url"], scenario["log"], owners={**OWNERS, "*": {"policies": ["snoop"]}})
    _, report = run_json("audit", "--config", str(config), env=scenario["env"])
    assert [f for f in report["findings"] if f["check_id"] == "SA510"] == []


def test_an_entity_listed_for_the_owner_is_allowed(scenario: dict, tmp_path: Path) -> None:
    owners = {**OWNERS, "team-payments": {"policies": ["payments-app"], "entities": ["token-snoop-svc"]}}
    config = _config(tmp_path, scenario["url"], scenario["log"], owners=owners)
    _, report = run_json("audit", "--config", str(config), env=scenario["env"])
    assert [f for f in report["findings"] if f["check_id"] == "SA510"] == []


def test_missing_or_unreadable_log_is_an_error_result(scenario: dict, tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "audit.log"
    config = _config(tmp_path, scenario["url"], missing)
    proc, report = run_json("audit", "--config", str(config), env=scenario["env"])
    assert "Traceback" not in proc.stderr
    sa510 = [f for f in report["findings"] if f["check_id"] == "SA510"]
    assert [(f["status"], f["location"]["name"]) for f in sa510] == [("error", "access-log")]
    message = sa510[0]["message"]
    assert str(missing) in message and "access_logs.bao" in message and "\n" not in message
    assert proc.returncode == 1



def test_a_directory_or_unreadable_log_is_an_error_result(scenario: dict, tmp_path: Path) -> None:
    directory = tmp_path / "logs"
    directory.mkdir()
    proc, report = run_json("audit", "--config", str(_config(tmp_path, scenario["url"], directory)),
                            env=scenario["env"])
    sa510 = [f for f in report["findings"] if f["check_id"] == "SA510"]
    assert [f["status"] for f in sa510] == ["error"] and "is a directory" in sa510[0]["message"]
    assert proc.returncode == 1 and "Traceback" not in proc.stderr

    unreadable = tmp_path / "locked.log"
    unreadable.write_text(scenario["log"].read_text())
    unreadable.chmod(0)
    try:
        unreadable.open("rb").close()
        pytest.skip("running as root: a mode-000 file is still readable")
    except PermissionError:
        pass
    proc, report = run_json("audit", "--config", str(_config(tmp_path, scenario["url"], unreadable)),
                            env=scenario["env"])
    sa510 = [f for f in report["findings"] if f["check_id"] == "SA510"]
    assert [f["status"] for f in sa510] == ["error"] and "cannot read audit log" in sa510[0]["message"]


def test_corrupt_audit_log_lines_are_warned_and_skipped(scenario: dict, tmp_path: Path) -> None:
    log = tmp_path / "copy.log"
    lines = scenario["log"].read_text().splitlines(keepends=True)
    log.write_text("".join([lines[0], "{not json\n", *lines[1:], '{"time": "2026-11-2']))
    proc = run_cli("trail", "--vault-audit-log", str(log), "--format", "json")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: {log}:2: not valid JSON (corrupt line), skipped",
                        f"warning: {log}:{len(lines) + 2}: incomplete last line (the server was writing it?), "
                        "skipped"]
    assert len(json.loads(proc.stdout)["reads"]) == 6
    config = _config(tmp_path, scenario["url"], log)
    proc, report = run_json("audit", "--config", str(config), env=scenario["env"])
    assert [f["location"]["name"] for f in report["findings"] if f["check_id"] == "SA510"] == ["payments-db"]


# -- config validation: one line, exit 4, before anything is contacted ------------------------------


@pytest.mark.parametrize(("settings", "expected"), [
    ({"access_logs": {"prod": "audit.log"}, "policy": {"owners": OWNERS}},
     "key 'access_logs.prod': no vault backend named 'prod' (vault backends: bao)"),
    ({"access_logs": {"bao": ""}, "policy": {"owners": OWNERS}},
     "key 'access_logs.bao': expected the path of the backend's file audit device log"),
    ({"access_logs": {"bao": "audit.log"}},
     "key 'policy.owners': missing: access_logs is set"),
    ({"policy": {"owners": ["team-payments"]}}, "key 'policy.owners': expected a mapping"),
    ({"policy": {"owners": {"team-payments": {"policy": ["x"]}}}},
     "key 'policy.owners.team-payments.policy': unknown key (allowed: policies, entities)"),
    ({"policy": {"owners": {"team-payments": {"policies": [1]}}}},
     "key 'policy.owners.team-payments.policies': expected a list of Vault policy names"),
    ({"policy": {"owners": {"team-payments": {}}}}, "key 'policy.owners.team-payments': allows no one"),
    ({"access_logs": "audit.log"}, "key 'access_logs': expected a mapping"),
])
def test_config_errors_are_one_line_exit_4(tmp_path: Path, settings: dict, expected: str) -> None:
    config = tmp_path / "secretaudit.yaml"
    config.write_text(yaml.safe_dump({
        "backends": [{"type": "vault", "name": "bao", "url": "https://127.0.0.1:1", "token": "${T}",
                      "path": "secret/apps"}], **settings}))
    proc = run_cli("audit", "--config", str(config), env={"T": "x"})
    assert proc.returncode == 4, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], lines
