"""Adversarial: no piece of a planted credential leaves secretaudit, on any output path.

Credentials are planted (a) in scanned files, (b) in config values (an inline
token, a token taken from the environment) and (c) in backend URLs
(``http://user:PASSWORD@host``, for a live OpenBao, a dead one, moto's AWS
endpoint, the URL stored with a Vault token that ``validate`` calls, and a
GitHub API URL with ``?access_token=`` given in the config and on the
command line).
Then every command that can print or write something runs against them, with
its own cache and state directories, and every byte it printed or wrote is
searched: the terminal (text and ``--format json``), each report format, the
baseline, the scan cache, the access trail, the notify payload and the error
messages.  No 8-character piece of any planted value may appear anywhere.

The values are random letters and digits, so HTML, JSON or XML escaping
cannot hide a leak from the search.  Config-error cases (a value rejected
by the validators) are in test_adversarial_config.py.
"""

from __future__ import annotations

import json
import random
import string
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import hvac
import pytest
import yaml
from aws_server import aws_client, closed_port_url, moto, moto_server  # noqa: F401  (fixtures)
from conftest import fake_aws_key_id, fake_aws_secret, run_cli
from servers import OpenBao, openbao  # noqa: F401  (fixture)

#: No substring of this many characters of a planted value may appear in any output.
PIECE = 8
AS_OF = "2026-12-01"
FOLDER = "leaks"
REPORTS = ("json", "html", "sarif", "junit", "markdown", "github", "gitlab")


def random_text(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(length))


def pieces(value: str) -> set[str]:
    return {value[i:i + PIECE] for i in range(len(value) - PIECE + 1)}


def leaks(planted: dict[str, str], outputs: dict[str, bytes]) -> list[str]:
    """``planted name -> where`` for every output holding any piece of any planted value."""
    found = []
    for name, value in planted.items():
        needles = [piece.encode() for piece in pieces(value)]
        for where, data in outputs.items():
            if any(needle in data for needle in needles):
                found.append(f"{name} -> {where}")
    return found


def files_under(*roots: Path) -> dict[str, bytes]:
    return {str(path): path.read_bytes() for root in roots if root.exists()
            for path in sorted(root.rglob("*")) if path.is_file()}


class Webhook:
    """A notify receiver that keeps every body posted to it."""

    def __init__(self, path: str) -> None:
        self.bodies: list[bytes] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                hook.bodies.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{path}"


@pytest.fixture
def webhook(rng: random.Random) -> Iterator[Webhook]:
    hook = Webhook(f"/services/T0/B0/{random_text(rng, 24)}")  # a webhook's path is its credential
    thread = threading.Thread(target=hook.server.serve_forever, daemon=True)
    thread.start()
    yield hook
    hook.server.shutdown()
    hook.server.server_close()


@pytest.fixture
def world(tmp_path: Path, openbao: OpenBao, moto, rng: random.Random, webhook: Webhook) -> dict[str, Any]:  # noqa: F811
    """A repository, a live and a dead OpenBao, moto, and a config holding credentials in every place."""
    planted: dict[str, str] = {}

    def plant(name: str, value: str) -> str:
        planted[name] = value
        return value

    def with_password(url: str, user: str, name: str) -> str:
        return url.replace("http://", f"http://{user}:{plant(name, random_text(rng, 22))}@")

    # (a) in scanned files
    app = tmp_path / "app"
    app.mkdir()
    key_id, secret = plant("file aws key id", fake_aws_key_id(rng)), plant("file aws secret", fake_aws_secret(rng))
    word = plant("file password", random_text(rng, 24))
    (app / "settings.py").write_text(f'AWS_ACCESS_KEY_ID = "{key_id}"\nAWS_SECRET_ACCESS_KEY = "{secret}"\n'
                                     f'password = "{word}"\n')
    database_url = with_password("http://db.internal:5432/app", "app", "file db password")
    (app / ".env").write_text("DATABASE_URL=" + database_url.replace("http://", "postgres://") + "\n")
    # a live OpenBao: a real token taken from the environment; a KV secret whose stored URL has a password
    client = hvac.Client(url=openbao.url, token=openbao.root_token)
    root_token = plant("env vault token", client.auth.token.create(policies=["root"], ttl="1h")["auth"]["client_token"])
    stored = plant("stored vault token", client.auth.token.create(policies=["default"], ttl="1h")["auth"]["client_token"])
    client.secrets.kv.v2.create_or_update_secret(
        path=f"{FOLDER}/ci-vault-token", mount_point="secret",
        secret={"token": stored, "url": with_password(closed_port_url(), "ci", "stored url password")})
    client.secrets.kv.v2.update_metadata(path=f"{FOLDER}/ci-vault-token", mount_point="secret",
                                         custom_metadata={"kind": "vault-token", "owner": "ops"})
    aws_client("secretsmanager", moto.url).create_secret(Name="deploy/db", SecretString=random_text(rng, 30),
                                                         Tags=[{"Key": "kind", "Value": "database-password"}])
    # (b) and (c): in config values (inline, and from the environment) and in backend URLs
    github = with_password(closed_port_url(), "gh", "github url password") + \
        "/api?access_token=" + plant("github query token", random_text(rng, 30))
    plant("webhook path", webhook.url.rsplit("/", 1)[1])
    config = tmp_path / "secretaudit.yaml"
    config.write_text(yaml.safe_dump({
        "backends": [
            {"type": "vault", "name": "live", "url": with_password(openbao.url, "auditor", "live url password"),
             "token": "${LEAK_VAULT_TOKEN}", "path": f"secret/{FOLDER}"},
            {"type": "vault", "name": "dead", "url": with_password(closed_port_url(), "auditor", "dead url password"),
             "token": plant("inline vault token", "hvs." + random_text(rng, 24)), "path": f"secret/{FOLDER}"},
            {"type": "aws-secrets-manager", "name": "aws", "region": "us-east-1",
             "endpoint_url": with_password(moto.url, "svc", "aws url password"),
             "access_key_id": plant("config aws key id", fake_aws_key_id(rng)),
             "secret_access_key": plant("config aws secret", fake_aws_secret(rng))}],
        "scopes": {"github": {"api_url": github, "tokens": [{"name": "deployer", "token": "${LEAK_GH_TOKEN}"}]}},
        "repos": ["app"]}))
    env = {"LEAK_VAULT_TOKEN": root_token, "LEAK_GH_TOKEN": plant("env github token", "ghp_" + random_text(rng, 36)),
           "XDG_CACHE_HOME": str(tmp_path / "cache"), "XDG_STATE_HOME": str(tmp_path / "state"),
           "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
           "AWS_EC2_METADATA_DISABLED": "true"}
    return {"dir": tmp_path, "config": config, "env": env, "planted": planted, "webhook": webhook, "github": github}


def test_no_piece_of_a_planted_credential_leaves_on_any_output_path(world: dict[str, Any]) -> None:
    root: Path = world["dir"]
    config = str(world["config"])
    outputs: dict[str, bytes] = {}
    codes: dict[str, int] = {}

    def run(label: str, *args: str) -> Any:
        proc = run_cli(*args, cwd=root, env=world["env"])
        outputs[f"{label}: stdout"] = proc.stdout.encode()
        outputs[f"{label}: stderr"] = proc.stderr.encode()
        codes[label] = proc.returncode
        return proc

    reports = [arg for fmt in REPORTS for arg in ("--report", f"{fmt}:{root / 'reports' / ('audit.' + fmt)}")]
    (root / "reports").mkdir()
    run("audit", "audit", "--config", config, "--as-of", AS_OF, "--no-color", *reports,
        "--notify", world["webhook"].url, "--github-api-url", world["github"])
    run("audit json", "audit", "--config", config, "--as-of", AS_OF, "--format", "json")
    run("scan", "scan", "app", "--config", config, "--no-color")
    run("scan json", "scan", "app", "--config", config, "--format", "json")
    run("baseline", "baseline", "create", "app", "--config", config, "--output", str(root / "baseline.json"))
    for fmt in ("text", "json"):
        run(f"status {fmt}", "status", "--config", config, "--format", fmt)
        run(f"list {fmt}", "list", "--config", config, "--format", fmt)
    got = run("get", "get", "--config", config, "--secret", "vault:live:ci-vault-token", "--field", "token",
              "--reason", "leak test")
    run("get dead", "get", "--config", config, "--secret", "vault:dead:ci-vault-token", "--reason", "leak test")
    run("validate", "validate", "--config", config, "--secret", "vault:live:ci-vault-token", "--format", "json")
    run("trail", "trail", "--format", "json")

    # every command ran and met the credentials (not a leak test of usage errors)
    assert codes["audit"] == 1 and codes["scan"] == 1 and codes["baseline"] == 0, codes
    assert codes["status text"] == 1 and codes["list text"] == 1 and codes["validate"] == 1, codes
    # `get` hands out exactly the value asked for, on stdout: that one output may hold it
    assert got.returncode == 0 and got.stdout.strip() == world["planted"]["stored vault token"], got.stderr
    del outputs["get: stdout"]
    audit = outputs["audit: stdout"].decode()
    for check in ("SA101", "SA103", "SA200", "SA304", "SA305", "SA502", "SA509"):
        assert check in audit, (check, audit)
    assert world["webhook"].bodies, "notify posted nothing"
    outputs.update({f"notify payload {i}": body for i, body in enumerate(world["webhook"].bodies)})
    written = files_under(root / "reports", root / "cache", root / "state")
    written[str(root / "baseline.json")] = (root / "baseline.json").read_bytes()
    assert {f"audit.{fmt}" for fmt in REPORTS} <= {Path(p).name for p in written}
    assert any("trail" in p for p in written), "the access trail was not written"
    assert any("/cache/" in p for p in written), "the scan cache was not written"
    outputs.update(written)

    found = leaks(world["planted"], outputs)
    assert not found, "planted values leaked:\n" + "\n".join(found)
    assert "http://***@127.0.0.1" in audit  # the URL is still named, its password is not


def test_library_exception_text_is_scrubbed_at_every_root(rng: random.Random) -> None:
    """What an HTTP library says about a failed call (URL, query token, auth header) is clean once it is ours."""
    import requests

    from secretaudit.backends import BackendError
    from secretaudit.errors import ConfigError, UsageError
    from secretaudit.model import Finding, Location, Severity, Status

    token, password = random_text(rng, 30), random_text(rng, 20)
    url = closed_port_url().replace("http://", f"http://ops:{password}@") + f"/v1/sys/health?token={token}"
    with pytest.raises(requests.RequestException) as caught:
        requests.get(url, headers={"X-Vault-Token": token, "Authorization": f"Bearer {token}"}, timeout=10)
    text = (f"{caught.value!r} calling {url} with {caught.value.request.headers!r}; "  # type: ignore[union-attr]
            f"X-Vault-Token: {token}")
    assert token in text and password in text  # the raw text does carry them
    finding = Finding(check_id="SA200", severity=Severity.HIGH, status=Status.ERROR,
                      location=Location(backend="vault:x", name="*"), message=text, fingerprint="f", evidence=text)
    for shown in (str(BackendError(text)), str(UsageError(text)), str(ConfigError("c.yaml", "url", text)),
                  finding.message, finding.evidence):
        assert not [p for p in pieces(token) | pieces(password) if p in shown], shown
        assert "/v1/sys/health" in shown  # what failed is still said
