"""Adversarial: no piece of a planted credential leaves secretaudit, on any output path.

Credentials are planted (a) in scanned files, (b) in config values (an inline
token, a token taken from the environment) and (c) in backend URLs
(``http://user:PASSWORD@host``, for a live OpenBao, a dead one, moto's AWS
endpoint, and the URL stored with a Vault token that ``validate`` calls).
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
from aws_server import aws_client, closed_port_url, moto, moto_server  # noqa: F401  (fixtures)
from conftest import fake_aws_key_id, fake_aws_secret, run_cli
from servers import OpenBao, openbao  # noqa: F401  (fixture)

#: No substring of this many characters of a planted value may appear in any output.
PIECE = 8
AS_OF = "2026-12-01"
FOLDER = "leaks"
REPORTS = ("json", "html", "sarif", "junit", "markdown")


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
    # (a) in scanned files
    app = tmp_path / "app"
    app.mkdir()
    planted["file aws key id"], planted["file aws secret"] = fake_aws_key_id(rng), fake_aws_secret(rng)
    planted["file db password"] = random_text(rng, 20)
    planted["file password"] = random_text(rng, 24)
    (app / "settings.py").write_text(f'AWS_ACCESS_KEY_ID = "{planted["file aws key id"]}"\n'
                                     f'AWS_SECRET_ACCESS_KEY = "{planted["file aws secret"]}"\n'
                                     f'password = "{planted["file password"]}"\n')
    (app / ".env").write_text(f"DATABASE_URL=postgres://app:{planted['file db password']}@db.internal:5432/app\n")
    # a live OpenBao: a real token taken from the environment, a KV secret whose stored URL has a password
    client = hvac.Client(url=openbao.url, token=openbao.root_token)
    planted["env vault token"] = client.auth.token.create(policies=["root"], ttl="1h")["auth"]["client_token"]
    planted["stored vault token"] = client.auth.token.create(policies=["default"], ttl="1h")["auth"]["client_token"]
    planted["stored url password"] = random_text(rng, 18)
    dead = closed_port_url()
    client.secrets.kv.v2.create_or_update_secret(
        path=f"{FOLDER}/ci-vault-token", mount_point="secret",
        secret={"token": planted["stored vault token"],
                "url": dead.replace("http://", f"http://ci:{planted['stored url password']}@")})
    client.secrets.kv.v2.update_metadata(path=f"{FOLDER}/ci-vault-token", mount_point="secret",
                                         custom_metadata={"kind": "vault-token", "owner": "ops"})
    # (b) and (c): in config values and backend URLs
    for name in ("live url password", "dead url password", "aws url password"):
        planted[name] = random_text(rng, 22)
    planted["inline vault token"] = "hvs." + random_text(rng, 24)
    planted["config aws key id"], planted["config aws secret"] = fake_aws_key_id(rng), fake_aws_secret(rng)
    planted["webhook path"] = webhook.url.rsplit("/", 1)[1]
    live = openbao.url.replace("http://", f"http://auditor:{planted['live url password']}@")
    endpoint = moto.url.replace("http://", f"http://svc:{planted['aws url password']}@")
    config = tmp_path / "secretaudit.yaml"
    config.write_text(
        "backends:\n"
        f"  - {{type: vault, name: live, url: '{live}', token: '${{LEAK_VAULT_TOKEN}}', path: 'secret/{FOLDER}'}}\n"
        f"  - {{type: vault, name: dead, url: '{dead.replace('http://', 'http://auditor:' + planted['dead url password'] + '@')}',"
        f" token: '{planted['inline vault token']}', path: 'secret/{FOLDER}'}}\n"
        f"  - {{type: aws-secrets-manager, name: aws, region: us-east-1, endpoint_url: '{endpoint}',\n"
        f"     access_key_id: '{planted['config aws key id']}', secret_access_key: '{planted['config aws secret']}'}}\n"
        "repos: [app]\n")
    aws_client("secretsmanager", moto.url).create_secret(Name="deploy/db", SecretString=random_text(rng, 30),
                                                         Tags=[{"Key": "kind", "Value": "database-password"}])
    env = {"LEAK_VAULT_TOKEN": planted["env vault token"], "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "XDG_STATE_HOME": str(tmp_path / "state"), "AWS_CONFIG_FILE": "/dev/null",
           "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_EC2_METADATA_DISABLED": "true"}
    return {"dir": tmp_path, "config": config, "env": env, "planted": planted, "webhook": webhook}


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
        "--notify", world["webhook"].url)
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
    assert "SA200" in audit and "SA304" in audit and "SA509" in audit and "SA101" in audit, audit
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
