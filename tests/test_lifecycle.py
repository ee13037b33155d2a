"""Lifecycle checks SA201-SA208, config hygiene SA501-SA503 and the ``generic`` inventory backend.

Rules are tested table-driven on real :class:`SecretRecord` objects through
the real hooks; the inventory backend on real files; and the example
(``examples/secretaudit.yaml`` + ``inventory.yaml``) end to end through the
real CLI, which must report exactly the planted problems.
"""

from __future__ import annotations

import json
import random
import string
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from secretaudit.checks import config_hygiene, lifecycle
from conftest import ROOT, run_cli
from secretaudit.backends import BackendError, BackendRegistry, make_backends
from secretaudit.backends.inventory import InventoryBackend
from secretaudit.config import Config, load_config, validate
from secretaudit.errors import ConfigError
from secretaudit.model import SecretRecord, Severity, redact
from secretaudit.plugins import DEFAULT_PLUGINS, make_pluginmanager, registries

MODULES = ("secretaudit.checks.lifecycle", "secretaudit.checks.config_hygiene", "secretaudit.backends.inventory")
#: These modules are default plugins; until scanner/plugins.py lists them, load them explicitly.
EXTRA = [m for m in MODULES if m not in DEFAULT_PLUGINS]
PLUGIN_ARGS = [arg for m in EXTRA for arg in ("-p", m)]

AS_OF = datetime(2026, 12, 1, tzinfo=timezone.utc)
EXAMPLE_CONFIG = ROOT / "examples" / "secretaudit.yaml"


def days(n: float) -> timedelta:
    return timedelta(days=n)


def make_config(policy: dict[str, Any] | None = None, as_of: datetime = AS_OF) -> Config:
    config = Config(settings=validate({"policy": policy or {}}, "test.yaml"), source="test.yaml", as_of=as_of)
    pm = make_pluginmanager((), EXTRA, entry_points=False)
    config.pluginmanager = pm
    config.checks, config.formats = registries(pm)
    pm.hook.secretaudit_configure(config=config)
    return config


def record(**fields: Any) -> SecretRecord:
    """A healthy record (owner set, nothing dated) with ``fields`` on top."""
    base: dict[str, Any] = {"backend": "generic:test", "name": "s", "kind": "generic", "owner": "team"}
    return SecretRecord(**{**base, **fields})


def issues(rec: SecretRecord, config: Config | None = None) -> dict[str, Any]:
    """check id -> issue, through the real hook of every loaded plugin."""
    config = config or make_config()
    found = {}
    for result in config.hook.secretaudit_check_record(record=rec, config=config):
        for issue in result or ():
            assert issue.check_id not in found, f"{issue.check_id} reported twice for one record"
            found[issue.check_id] = issue
    return found


# -- registration ---------------------------------------------------------------------------


def test_checks_and_backend_type_are_registered() -> None:
    pm = make_pluginmanager((), EXTRA, entry_points=False)
    checks, _ = registries(pm)
    for check_id in [f"SA20{i}" for i in range(1, 9)]:
        spec = checks.get(check_id)
        assert spec.applies_to == ("backend",) and spec.controls and spec.remediation and spec.title
    for check_id in ("SA501", "SA502", "SA503"):
        assert checks.get(check_id).applies_to == ("config",)
    assert checks.get("SA201").severity is Severity.CRITICAL and checks.get("SA202").severity is Severity.HIGH
    registry = BackendRegistry()
    pm.hook.secretaudit_register_backends(registry=registry)
    assert "generic" in registry.names()


# -- SA201 / SA202: expiry ------------------------------------------------------------------------


@pytest.mark.parametrize("expires, expected", [
    (None, set()),
    (AS_OF - days(1), {"SA201"}),
    (AS_OF, {"SA201"}),                      # a bare date is 00:00 UTC: expired on that day
    (AS_OF + timedelta(seconds=1), {"SA202"}),
    (AS_OF + days(29), {"SA202"}),
    (AS_OF + days(30), {"SA202"}),           # exactly 30 days left: inside the window
    (AS_OF + days(31), set()),
    (AS_OF + days(400), set()),
])
def test_expiry_boundaries(expires: datetime | None, expected: set[str]) -> None:
    found = issues(record(expires=expires))
    assert set(found) & {"SA201", "SA202"} == expected


def test_expiry_messages_name_dates_and_days() -> None:
    expired = issues(record(kind="vault-token", expires=AS_OF - days(11)))["SA201"]
    assert expired.message == "vault-token expired on 2026-11-20 (11 days before 2026-12-01)"
    soon = issues(record(expires=AS_OF + days(19)))["SA202"]
    assert "2026-12-20" in soon.message and "19 days" in soon.message and "30 days" in soon.message


def test_as_of_changes_the_expiry_verdict() -> None:
    rec = record(expires=datetime(2026, 12, 20, tzinfo=timezone.utc))
    assert "SA202" not in issues(rec, make_config(as_of=datetime(2026, 11, 15, tzinfo=timezone.utc)))
    assert "SA202" in issues(rec, make_config(as_of=datetime(2026, 11, 21, tzinfo=timezone.utc)))
    assert set(issues(rec, make_config(as_of=datetime(2026, 12, 20, tzinfo=timezone.utc)))) == {"SA201"}


@pytest.mark.parametrize("warning, left, expected", [(10, 10, True), (10, 11, False), (0, 1, False), (60, 45, True)])
def test_expiry_warning_days_policy(warning: int, left: int, expected: bool) -> None:
    found = issues(record(expires=AS_OF + days(left)), make_config({"expiry_warning_days": warning}))
    assert ("SA202" in found) is expected


# -- SA203: rotation overdue -------------------------------------------------------------------


@pytest.mark.parametrize("kind, limit", [
    ("github-token", 30), ("aws-access-key", 90), ("database-password", 60), ("vault-token", 30), ("generic", 90),
])
@pytest.mark.parametrize("delta, overdue", [(-1, False), (0, False), (1, True)])
def test_rotation_overdue_boundaries_per_kind(kind: str, limit: int, delta: int, overdue: bool) -> None:
    found = issues(record(kind=kind, last_rotated=AS_OF - days(limit + delta), expires=AS_OF + days(365)))
    assert ("SA203" in found) is overdue


def test_rotation_age_counts_from_creation_when_never_rotated() -> None:
    found = issues(record(kind="github-token", created=AS_OF - days(31), expires=AS_OF + days(365)))
    assert "never rotated since its creation on 2026-10-31" in found["SA203"].message
    assert "SA203" not in issues(record(kind="github-token", created=AS_OF - days(100),
                                        last_rotated=AS_OF - days(3), expires=AS_OF + days(365)))
    assert "SA203" not in issues(record())  # no date at all: nothing to judge


def test_rotation_overdue_message_names_policy_and_backend_period() -> None:
    message = issues(record(kind="aws-access-key", last_rotated=AS_OF - days(122), rotation_days=180,
                            expires=AS_OF + days(365)))["SA203"].message
    assert message == ("last rotated 2026-08-01, 122 days before 2026-12-01: overdue by 32 days "
                       "(policy for aws-access-key: every 90 days); the backend's own rotation period is 180 days")


@pytest.mark.parametrize("policy, kind, age, overdue", [
    ({"rotation_days": {"github-token": 45}}, "github-token", 31, False),
    ({"rotation_days": {"github-token": 45}}, "github-token", 46, True),
    ({"rotation_days": {"github_token": 45}}, "github-token", 46, True),   # underscores accepted
    ({"rotation_days": {"github-token": 45}}, "aws-access-key", 91, True),  # other defaults kept
    ({"rotation_days": {"default": 30}}, "generic", 31, True),
    ({"rotation_days": {"default": 30}}, "database-password", 59, False),  # its own default (60) kept
    ({"rotation_days": {"generic": 180, "default": 30}}, "generic", 100, False),
])
def test_rotation_policy_merges_over_defaults(policy: dict, kind: str, age: int, overdue: bool) -> None:
    found = issues(record(kind=kind, last_rotated=AS_OF - days(age), expires=AS_OF + days(365)), make_config(policy))
    assert ("SA203" in found) is overdue


# -- SA204 / SA205: rotation configuration and schedule -----------------------------------------------


@pytest.mark.parametrize("enabled, expected", [(False, True), (None, False), (True, False)])
def test_rotation_not_configured(enabled: bool | None, expected: bool) -> None:
    found = issues(record(kind="aws-access-key", rotation_enabled=enabled, expires=AS_OF + days(365)))
    assert ("SA204" in found) is expected
    if expected:
        assert "every 90 days" in found["SA204"].message


@pytest.mark.parametrize("fields, missed", [
    ({"next_rotation": AS_OF - days(2)}, True),
    ({"next_rotation": AS_OF - days(1)}, False),                     # one day of grace
    ({"next_rotation": AS_OF - days(1) - timedelta(seconds=1)}, True),
    ({"next_rotation": AS_OF + days(5)}, False),
    ({"last_rotated": AS_OF - days(32), "rotation_days": 30}, True),  # due 2 days ago
    ({"last_rotated": AS_OF - days(31), "rotation_days": 30}, False),  # due yesterday: grace
    ({"created": AS_OF - days(40), "rotation_days": 30}, True),
    ({"last_rotated": AS_OF - days(80), "rotation_days": 30, "next_rotation": AS_OF + days(3)}, False),
    ({"rotation_days": 30}, False),                                   # no date: nothing to judge
    ({"extra": (("last_rotation_failed", True),)}, True),
])
def test_scheduled_rotation_missed(fields: dict, missed: bool) -> None:
    assert ("SA205" in issues(record(rotation_enabled=True, **fields))) is missed


@pytest.mark.parametrize("enabled", [False, None])
def test_missed_rotation_needs_rotation_enabled(enabled: bool | None) -> None:
    assert "SA205" not in issues(record(rotation_enabled=enabled, next_rotation=AS_OF - days(30)))


def test_missed_rotation_message() -> None:
    message = issues(record(rotation_enabled=True, next_rotation=datetime(2026, 10, 31, tzinfo=timezone.utc)))["SA205"].message
    assert message == ("scheduled rotation missed: next rotation was scheduled for 2026-10-31, "
                       "31 days before 2026-12-01, and did not happen")


# -- SA206: unused --------------------------------------------------------------------------------


@pytest.mark.parametrize("policy, idle, unused", [
    ({}, None, False), ({}, 89, False), ({}, 90, True), ({}, 91, True),
    ({"unused_days": 30}, 29, False), ({"unused_days": 30}, 30, True),
])
def test_unused(policy: dict, idle: int | None, unused: bool) -> None:
    accessed = None if idle is None else AS_OF - days(idle)
    found = issues(record(last_accessed=accessed), make_config(policy))
    assert ("SA206" in found) is unused
    if unused:
        assert f"{idle} days before 2026-12-01" in found["SA206"].message


# -- SA207 / SA208: metadata and never-expiring tokens -------------------------------------------------


@pytest.mark.parametrize("fields, expected", [
    ({"owner": None}, "missing metadata: no owner"),
    ({"owner": "  "}, "missing metadata: no owner"),
    ({"kind": "github-token"}, "missing metadata: no expiry date (required for github-token)"),
    ({"kind": "aws-access-key", "owner": None},
     "missing metadata: no owner and no expiry date (required for aws-access-key)"),
    ({"kind": "vault-token", "expires": AS_OF + days(200)}, None),
    ({"kind": "database-password"}, None),   # passwords are rotated, not expired
    ({"kind": "generic"}, None),
    ({"kind": "github-token", "extra": (("never_expires", True),)}, None),  # known: SA208's business
])
def test_missing_owner_or_expiry(fields: dict, expected: str | None) -> None:
    found = issues(record(**fields))
    assert (found["SA207"].message if "SA207" in found else None) == expected


@pytest.mark.parametrize("fields, never", [
    ({"kind": "vault-token", "extra": (("ttl", 0),)}, True),
    ({"kind": "vault-token", "extra": (("ttl", 3600),)}, False),
    ({"kind": "github-token", "extra": (("never_expires", True),)}, True),
    ({"kind": "github-token", "extra": (("never_expires", False),)}, False),
    ({"kind": "vault-token", "expires": AS_OF + days(10), "extra": (("ttl", 0),)}, False),
    ({"kind": "generic", "extra": (("never_expires", True),)}, False),   # tokens only
    ({"kind": "vault-token"}, False),                                    # unknown: SA207 says so
])
def test_token_that_never_expires(fields: dict, never: bool) -> None:
    found = issues(record(**fields))
    assert ("SA208" in found) is never
    if never:
        assert "SA207" not in found


def test_a_healthy_record_passes_everything() -> None:
    rec = record(kind="github-token", created=AS_OF - days(200), last_rotated=AS_OF - days(10),
                 expires=AS_OF + days(60), rotation_enabled=True, rotation_days=30,
                 next_rotation=AS_OF + days(20), last_accessed=AS_OF - days(1))
    assert issues(rec) == {}


def test_naive_and_aware_dates_are_both_utc() -> None:
    naive = record(expires=datetime(2026, 11, 30))
    assert set(issues(naive)) == {"SA201"}


# -- policy validation -----------------------------------------------------------------------------


@pytest.mark.parametrize("policy, key, words", [
    ({"rotation_day": {}}, "policy.rotation_day", "allowed: rotation_days"),
    ({"rotation_days": 30}, "policy.rotation_days", "mapping of kind to days"),
    ({"rotation_days": {"ssh-key": 30}}, "policy.rotation_days.ssh-key", "allowed: github-token"),
    ({"rotation_days": {"github-token": 0}}, "policy.rotation_days.github-token", "1 or more"),
    ({"rotation_days": {"github-token": "30"}}, "policy.rotation_days.github-token", "whole number"),
    ({"rotation_days": {"default": True}}, "policy.rotation_days.default", "whole number"),
    ({"expiry_warning_days": -1}, "policy.expiry_warning_days", "0 or more"),
    ({"unused_days": 0}, "policy.unused_days", "1 or more"),
    ({"max_cache_ttl_seconds": "1h"}, "policy.max_cache_ttl_seconds", "seconds"),
])
def test_policy_errors_name_the_key_and_what_is_allowed(policy: dict, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        make_config(policy)
    assert info.value.key == key and info.value.source == "test.yaml"
    assert words in str(info.value)


def test_policy_error_exits_4_through_the_cli(tmp_path: Path) -> None:
    (tmp_path / "inv.yaml").write_text("secrets: []\n")
    (tmp_path / "secretaudit.yaml").write_text(
        "backends: [{type: generic, file: inv.yaml}]\npolicy:\n  rotation_days: {gihub-token: 30}\n")
    proc = run_cli("audit", *PLUGIN_ARGS, "--config", str(tmp_path / "secretaudit.yaml"))
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "policy.rotation_days.gihub-token" in proc.stdout + proc.stderr


# -- SA501-SA503: the config file ---------------------------------------------------------------------


def fake_vault_token(rng: random.Random) -> str:
    return "hvs." + "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(24))


def load(tmp_path: Path, text: str, name: str = "openclaw.yaml") -> Config:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip())
    config = load_config(str(path))
    pm = make_pluginmanager((), EXTRA, entry_points=False)
    config.pluginmanager = pm
    config.checks, config.formats = registries(pm)
    pm.hook.secretaudit_configure(config=config)
    return config


def config_issues(config: Config) -> list:
    return [i for result in config.hook.secretaudit_check_config(config=config) for i in result or ()]


def line_of(config: Config, needle: str) -> int:
    lines = Path(config.source).read_text().splitlines()
    return next(n for n, line in enumerate(lines, 1) if needle in line)


OPENCLAW = """\
external_secrets:
  enabled: true
  backend: vault            # or aws-secrets-manager, generic
  vault:
    url: {url}
    token: {token}
    path: secret/ai-agents/openclaw
  aws_secrets_manager:
    region: us-east-1
    access_key_id: {key_id}
    secret_access_key: ${{AWS_SECRET_ACCESS_KEY}}
  cache:
{cache}
"""


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("VAULT_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "from-env")
    monkeypatch.delenv("VAULT_ADDR", raising=False)


def openclaw(url: str = "https://vault.example.com:8200", token: str = "${VAULT_TOKEN}",
             key_id: str = "${AWS_ACCESS_KEY_ID}", cache: str = "ttl_seconds: 3600\nmax_size: 100") -> str:
    cache_lines = "\n".join("    " + line for line in cache.splitlines())
    return OPENCLAW.format(url=url, token=token, key_id=key_id, cache=cache_lines)


def test_the_issue_openclaw_config_is_clean(tmp_path: Path, env: None) -> None:
    assert config_issues(load(tmp_path, openclaw())) == []


@pytest.mark.parametrize("url, severity", [
    ("http://vault.internal:8200", Severity.HIGH),
    ("HTTP://vault.internal", Severity.HIGH),
    ("http://127.0.0.1:8200", Severity.LOW),
    ("http://localhost:8200", Severity.LOW),
    ("http://[::1]:8200", Severity.LOW),
])
def test_plain_http_backend_url(tmp_path: Path, env: None, url: str, severity: Severity) -> None:
    config = load(tmp_path, openclaw(url=url))
    [issue] = config_issues(config)
    assert (issue.check_id, issue.key, issue.line) == ("SA501", "external_secrets.vault.url", line_of(config, "url:"))
    assert (issue.severity or Severity.HIGH) is severity


def test_plain_http_through_an_environment_variable(tmp_path: Path, env: None,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    config = load(tmp_path, openclaw(url="${VAULT_ADDR:-https://vault.example.com}"))
    assert config_issues(config) == []
    monkeypatch.setenv("VAULT_ADDR", "http://user:pw@vault.internal:8200")
    [issue] = config_issues(config)
    assert issue.check_id == "SA501" and "from ${VAULT_ADDR}" in issue.message
    assert "pw" not in issue.message.replace("https", "") and "user" not in issue.message  # no userinfo


def test_inline_token_is_flagged_on_its_line_and_never_printed(tmp_path: Path, env: None, rng: random.Random) -> None:
    token = fake_vault_token(rng)
    config = load(tmp_path, openclaw(token=token))
    [issue] = config_issues(config)
    assert (issue.check_id, issue.key, issue.line) == ("SA502", "external_secrets.vault.token",
                                                       line_of(config, "token:"))
    assert issue.evidence == redact(token) and token not in issue.message + issue.evidence
    assert "${VAULT_TOKEN}" in issue.message


def test_inline_default_of_a_reference_is_flagged(tmp_path: Path, env: None, rng: random.Random) -> None:
    token = fake_vault_token(rng)
    [issue] = config_issues(load(tmp_path, openclaw(token="${VAULT_TOKEN:-" + token + "}")))
    assert issue.check_id == "SA502" and "default" in issue.message and token not in issue.message + issue.evidence
    assert config_issues(load(tmp_path, openclaw(token="${VAULT_TOKEN:-}"))) == []
    assert config_issues(load(tmp_path, openclaw(token='""'))) == []
    assert config_issues(load(tmp_path, openclaw(token="<your-vault-token>"))) == []


def test_inline_access_key_id_is_medium(tmp_path: Path, env: None, aws_pair: tuple[str, str]) -> None:
    config = load(tmp_path, openclaw(key_id=aws_pair[0]))
    [issue] = config_issues(config)
    assert (issue.check_id, issue.key, issue.severity) == ("SA502", "external_secrets.aws_secrets_manager.access_key_id",
                                                           Severity.MEDIUM)
    assert issue.line == line_of(config, "access_key_id:") and aws_pair[0] not in issue.message
    assert "${AWS_ACCESS_KEY_ID}" in issue.message


@pytest.mark.parametrize("cache, expected", [
    ("ttl_seconds: 3600\nmax_size: 100", []),
    ("ttl_seconds: 600", [("external_secrets.cache.max_size", "cache:")]),
    ("ttl_seconds: 7200\nmax_size: 100", [("external_secrets.cache.ttl_seconds", "ttl_seconds:")]),
    ("ttl_seconds: 7200", [("external_secrets.cache.max_size", "cache:"),
                           ("external_secrets.cache.ttl_seconds", "ttl_seconds:")]),
    ("ttl_seconds: 60\nmax_size: 0", [("external_secrets.cache.max_size", "max_size:")]),
    ("enabled: false\nttl_seconds: 99999", []),
])
def test_secret_cache(tmp_path: Path, env: None, cache: str, expected: list) -> None:
    config = load(tmp_path, openclaw(cache=cache))
    found = [(i.key, i.line) for i in config_issues(config)]
    assert all(i.check_id == "SA503" for i in config_issues(config))
    assert found == [(key, line_of(config, needle)) for key, needle in expected]


def test_secretaudit_yaml_backends_cache_and_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   rng: random.Random) -> None:
    token = fake_vault_token(rng)
    monkeypatch.setenv("PROD_TOKEN", "x")
    text = f"""
        backends:
          - type: vault
            name: prod
            url: https://vault.example.com:8200
            token: ${{PROD_TOKEN}}
          - {{type: vault, name: dev, url: "http://vault.dev.internal:8200", token: "{token}"}}
        secret_cache: {{ttl_seconds: 7200, max_size: 10}}
        policy:
          max_cache_ttl_seconds: 86400
          rotation_days: {{vault-token: 14}}
        """
    config = load(tmp_path, text, "secretaudit.yaml")
    found = {(i.check_id, i.key, i.line) for i in config_issues(config)}
    assert found == {("SA501", "backends[1].url", 6), ("SA502", "backends[1].token", 6)}
    assert token not in repr(config_issues(config))
    assert "${VAULT_TOKEN}" in next(i.message for i in config_issues(config) if i.check_id == "SA502")
    config = load(tmp_path, text.replace("86400", "3600"), "secretaudit.yaml")
    assert ("SA503", "secret_cache.ttl_seconds", 7) in {(i.check_id, i.key, i.line) for i in config_issues(config)}


# -- the generic (inventory) backend --------------------------------------------------------------------


INVENTORY = """
    secrets:
      - name: ci-github-token
        owner: platform
        created: 2026-06-01
        last_rotated: 2026-11-10T08:30:00Z
        expiry_date: 2027-02-08
        rotation_enabled: true
        rotation_days: 30
        next_rotation: 2026-12-10
        last_accessed: 2026-11-23
        tags: {team: platform, pci: true}
      - name: reporting-postgres-password
        path: db/reporting
        tags: {owner: data-team}
      - name: admin-token
        kind: vault_token
        owner: platform
        never_expires: true
    """


def inventory_backend(tmp_path: Path, text: str, name: str = "inv.yaml", settings: dict | None = None) -> InventoryBackend:
    (tmp_path / "conf").mkdir(exist_ok=True)
    (tmp_path / "conf" / name).write_text(textwrap.dedent(text).lstrip())
    (tmp_path / "conf" / "secretaudit.yaml").write_text(f"backends: [{{type: generic, name: inv, file: {name}}}]\n")
    config = load_config(str(tmp_path / "conf" / "secretaudit.yaml"))
    config.pluginmanager = make_pluginmanager((), EXTRA, entry_points=False)
    if settings is not None:
        config.settings["backends"][0] = {"type": "generic", "name": "inv", **settings}
    [backend] = make_backends(config)
    assert isinstance(backend, InventoryBackend)
    return backend


def drain(backend: InventoryBackend) -> tuple[list[SecretRecord], BackendError | None]:
    records: list[SecretRecord] = []
    try:
        for rec in backend.records():
            records.append(rec)
    except BackendError as exc:
        return records, exc
    return records, None


def test_inventory_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the file resolves against the config's directory, not the cwd
    backend = inventory_backend(tmp_path, INVENTORY)
    records, error = drain(backend)
    assert error is None
    ci, reporting, admin = records
    assert ci.backend == "generic:inv" and ci.kind == "github-token" and ci.path == "ci-github-token"
    assert ci.last_rotated == datetime(2026, 11, 10, 8, 30, tzinfo=timezone.utc)
    assert ci.expires == datetime(2027, 2, 8, tzinfo=timezone.utc) and ci.rotation_enabled is True
    assert ci.rotation_days == 30 and ci.owner == "platform" and ci.tags == (("pci", "true"), ("team", "platform"))
    assert reporting.kind == "database-password" and reporting.owner == "data-team" and reporting.path == "db/reporting"
    assert reporting.rotation_enabled is None and reporting.expires is None
    assert admin.kind == "vault-token" and admin.fact("never_expires") is True
    assert set(issues(admin)) == {"SA208"}


def test_inventory_json(tmp_path: Path) -> None:
    data = {"secrets": [{"name": "aws-deploy-key", "kind": "aws-access-key", "owner": "x",
                         "expiry_date": "2027-01-01", "rotation_enabled": False}]}
    backend = inventory_backend(tmp_path, json.dumps(data, indent="\t"), "inv.json")
    [rec] = list(backend.records())
    assert rec.kind == "aws-access-key" and rec.rotation_enabled is False


def test_broken_yaml_is_a_config_error_of_the_backend(tmp_path: Path) -> None:
    backend = inventory_backend(tmp_path, "secrets:\n  - name: a\n    owner: [unclosed\n")
    records, error = drain(backend)
    assert records == [] and error is not None and error.reason == "config"
    assert "inv.yaml: invalid YAML at line" in str(error) and "fix the syntax" in str(error)
    status = backend.status()
    assert not status.reachable and "invalid YAML" in (status.error or "")


@pytest.mark.parametrize("text", ["[]\n", "secrets: {a: 1}\n", "", "secrets: []\nowners: []\n"])
def test_inventory_without_a_secrets_list(tmp_path: Path, text: str) -> None:
    records, error = drain(inventory_backend(tmp_path, text))
    assert records == [] and error is not None and error.reason == "config" and "secrets" in str(error)


def test_bad_entries_keep_the_others(tmp_path: Path) -> None:
    text = """
        secrets:
          - name: good-one
            owner: a
          - name: bad-date
            expiry_date: 2026-13-01
          - owner: nobody-named-me
          - name: typo
            expiry: 2027-01-01
          - name: good-two
            kind: github-token
          - name: good-one
          - name: weird-kind
            kind: ssh-key
          - name: wrong-type
            rotation_days: "30"
        """
    backend = inventory_backend(tmp_path, text)
    records, error = drain(backend)
    assert [r.name for r in records] == ["good-one", "good-two"]
    assert error is not None and error.reason == "config"
    message = str(error)
    assert "6 invalid inventory entries" in message
    assert "secrets[1] (line 4) 'bad-date': key 'expiry_date': '2026-13-01' is not an ISO date" in message
    assert "secrets[2] (line 6): key 'name': missing" in message
    assert "secrets[3] (line 7) 'typo': key 'expiry': unknown key" in message
    assert "secrets[5] (line 11) 'good-one': key 'name': duplicate of secrets[0]" in message
    assert "'weird-kind': key 'kind': unknown kind 'ssh-key'" in message
    assert "'wrong-type': key 'rotation_days': expected a whole number" in message
    status = backend.status()
    assert status.reachable and len(status.warnings) == 6


def test_bad_value_in_a_date_field_is_not_echoed(tmp_path: Path, rng: random.Random) -> None:
    token = fake_vault_token(rng)
    _, error = drain(inventory_backend(tmp_path, f"secrets:\n  - name: x\n    created: {token}\n"))
    assert error is not None and token not in str(error) and "a str value is not an ISO date" in str(error)


def test_inventory_settings_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        inventory_backend(tmp_path, INVENTORY, settings={"file": "inv.yaml", "url": "x"})
    assert info.value.key == "backends[0].url" and "allowed: file" in str(info.value)
    with pytest.raises(ConfigError) as info:
        inventory_backend(tmp_path, INVENTORY, settings={})
    assert info.value.key == "backends[0].file" and "required" in str(info.value)


def test_missing_inventory_file(tmp_path: Path) -> None:
    backend = inventory_backend(tmp_path, INVENTORY, settings={"file": "nope.yaml"})
    records, error = drain(backend)
    assert records == [] and error is not None and error.reason == "unreachable" and "nope.yaml not found" in str(error)
    status = backend.status()
    assert not status.reachable and status.auth_method == "file" and "not found" in (status.error or "")


def test_inventory_status(tmp_path: Path) -> None:
    status = inventory_backend(tmp_path, INVENTORY).status()
    assert status.reachable and status.backend == "generic:inv" and status.auth_method == "file"
    assert status.identity == str((tmp_path / "conf" / "inv.yaml").resolve())
    assert status.latency_ms is not None and status.error is None and status.warnings == []


def test_openclaw_generic_backend(tmp_path: Path) -> None:
    (tmp_path / "inv.yaml").write_text(textwrap.dedent(INVENTORY))
    (tmp_path / "openclaw.yaml").write_text("external_secrets:\n  backend: generic\n  generic:\n    file: inv.yaml\n"
                                            "    region: x\n")
    config = load_config(str(tmp_path / "openclaw.yaml"))
    config.pluginmanager = make_pluginmanager((), EXTRA, entry_points=False)
    with pytest.raises(ConfigError) as info:
        make_backends(config)
    assert info.value.key == "external_secrets.generic.region"


# -- end to end through the CLI -----------------------------------------------------------------------------


#: The problems planted in examples/inventory.yaml: exactly these, as of 2026-12-01 and as of 2026-11-24.
PLANTED = {
    ("SA201", "batch-job-vault-token"),
    ("SA202", "docs-bot-github-token"),
    ("SA203", "reporting-mysql-password"),
    ("SA203", "analytics-aws-access-key"),
    ("SA205", "analytics-aws-access-key"),
    ("SA204", "legacy-etl-aws-access-key"),
    ("SA205", "alerts-slack-webhook"),
    ("SA206", "old-migration-github-token"),
    ("SA207", "cache-redis-password"),
    ("SA207", "backup-aws-access-key"),
    ("SA208", "admin-automation-vault-token"),
}
HEALTHY = {"ci-release-github-token", "billing-deploy-aws-access-key", "billing-postgres-password",
           "ci-runner-vault-token", "stripe-webhook-signing-secret", "analytics-postgres-password"}


@pytest.mark.parametrize("as_of", ["2026-12-01", "2026-11-24"])
def test_example_audit_reports_exactly_the_planted_problems(as_of: str, tmp_path: Path) -> None:
    proc = run_cli("audit", *PLUGIN_ARGS, "--config", str(EXAMPLE_CONFIG), "--as-of", as_of, "--format", "json",
                   cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    findings = report["findings"]
    backend = {(f["check_id"], f["location"]["name"]) for f in findings if f["location"].get("backend")}
    assert backend == PLANTED
    assert all(f["status"] == "failed" and f["location"]["backend"] == "generic:inventory"
               for f in findings if f["location"].get("backend"))
    others = [f for f in findings if not f["location"].get("backend")]
    assert others and all("leaky-app" in f["location"]["path"] and f["check_id"].startswith("SA1") for f in others)
    by_check = {f["check_id"]: f for f in findings}
    assert by_check["SA201"]["severity"] == "critical" and "2026-11-20" in by_check["SA201"]["message"]
    passed = {(r["check_id"], r["target"]) for r in report["results"] if r["status"] == "passed"}
    assert ("SA501", "generic:inventory") not in passed  # config checks give no verdict on backends
    assert {(f"SA20{i}", "generic:inventory") for i in range(1, 9)} & passed == set()  # each one fails somewhere
    shown = EXAMPLE_CONFIG.name  # relative to the scan root, the config's directory: never the machine's path
    assert {("SA501", shown), ("SA502", shown), ("SA503", shown)} <= passed


def test_example_list_agrees_with_the_inventory(tmp_path: Path) -> None:
    proc = run_cli("list", *PLUGIN_ARGS, "--config", str(EXAMPLE_CONFIG), "--as-of", "2026-12-01", "--format", "json",
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    listing = json.loads(proc.stdout)
    rows = {row["name"]: row for row in listing["secrets"]}
    assert set(rows) == HEALTHY | {name for _, name in PLANTED}
    assert all(row["backend"] == "generic:inventory" for row in rows.values())
    assert rows["analytics-postgres-password"]["kind"] == "database-password"  # inferred from the name
    assert rows["legacy-etl-aws-access-key"]["rotation_enabled"] is False
    assert rows["batch-job-vault-token"]["expires"].startswith("2026-11-20")
    assert rows["reporting-mysql-password"]["age_days"] == 91
    assert rows["cache-redis-password"]["owner"] is None


def test_example_status_is_reachable(tmp_path: Path) -> None:
    proc = run_cli("status", *PLUGIN_ARGS, "--config", str(EXAMPLE_CONFIG), "--format", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    [status] = json.loads(proc.stdout)
    assert status["backend"] == "generic:inventory" and status["reachable"] is True
    assert status["auth_method"] == "file" and status["identity"] == str(ROOT / "examples" / "inventory.yaml")
    assert status["warnings"] == [] and status["error"] is None


def test_audit_keeps_good_entries_of_a_broken_inventory_and_never_prints_inline_tokens(
        tmp_path: Path, rng: random.Random) -> None:
    token = fake_vault_token(rng)
    (tmp_path / "inv.yaml").write_text(textwrap.dedent("""
        secrets:
          - {name: old-db-password, kind: database-password, owner: a, last_rotated: 2026-01-01}
          - {name: broken, expiry_date: 2026-02-30}
        """).lstrip())
    (tmp_path / "openclaw.yaml").write_text(textwrap.dedent(f"""
        external_secrets:
          backend: generic
          generic:
            file: inv.yaml
          vault:
            url: http://vault.internal:8200
            token: {token}
        """).lstrip())
    proc = run_cli("audit", *PLUGIN_ARGS, "--config", str(tmp_path / "openclaw.yaml"), "--as-of", "2026-12-01",
                   "--format", "json", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert token not in proc.stdout + proc.stderr
    findings = {(f["check_id"], f["status"], f["location"].get("name") or f["location"].get("line"))
                for f in json.loads(proc.stdout)["findings"]}
    assert findings == {("SA203", "failed", "old-db-password"), ("SA200", "error", "*"),
                        ("SA501", "failed", 6), ("SA502", "failed", 7)}
    text = run_cli("audit", *PLUGIN_ARGS, "--config", str(tmp_path / "openclaw.yaml"), "--as-of", "2026-12-01",
                   cwd=tmp_path)
    assert token not in text.stdout + text.stderr
    assert "secrets[1] (line 3) 'broken': key 'expiry_date': '2026-02-30' is not an ISO date" in text.stdout


def test_unreadable_metadata_is_reported_as_missing() -> None:
    from datetime import datetime, timezone

    from secretaudit.checks.lifecycle import sa207_missing_metadata
    from secretaudit.model import SecretRecord

    record = SecretRecord(backend="vault:prod", name="github", kind="generic", owner="team-a",
                          extra=(("metadata_error", "expiry_date 'soon' is not a date"),))
    issue = sa207_missing_metadata(record, datetime(2026, 12, 1, tzinfo=timezone.utc), None)
    assert issue is not None and "expiry_date 'soon' is not a date" in issue.message
