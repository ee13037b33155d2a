"""The ``vault`` backend against the real OpenBao server (Vault API), plus a stub for faults.

The OpenBao dev server (``servers.openbao``) holds a planted mix under
``secret/ai-agents/openclaw``; hvac plants it as the root token, and the
backend audits it with a token limited to list and read on the metadata.
Faults a real server cannot be made to produce on demand (throttling, a
slow answer, a sealed server, a database engine without a database) come
from a small HTTP stub speaking the same API.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import hvac
import pytest
import requests

from conftest import run_cli
from secretaudit.backends import BackendError, BackendRegistry, parse_date
from secretaudit.backends.vault import VaultBackend, secretaudit_register_backends
from secretaudit.config import Config, validate
from secretaudit.errors import ConfigError
from servers import OpenBao, openbao, openbao_disposable  # noqa: F401  (fixtures)

#: a run-unique prefix when pointed at a real Vault, so tests never touch real secrets
PREFIX = f"secretaudit-test-{uuid.uuid4().hex[:8]}/" if os.environ.get("SECRETAUDIT_VAULT_URL") else ""
FOLDER = f"{PREFIX}ai-agents/openclaw"
BENCH = f"{PREFIX}bench/openclaw"
BENCH_SECRETS = 2000

PLANTED: dict[str, dict[str, str]] = {
    "github": {"kind": "github-token", "owner": "alice", "expiry_date": "2027-01-31"},
    "aws": {"kind": "aws-access-key", "owner": "bob", "rotation_days": "90"},
    "database": {},  # kind from the name
    "team/x": {"owner": "carol", "rotation_days": "30"},
    "bad-date": {"owner": "dave", "expiry_date": "next tuesday"},
}


def make_config(**settings: Any) -> Config:
    return Config(settings=validate(settings, "test"))


def backend(url: str, token: str, path: str = f"secret/{FOLDER}", name: str = "test", timeout: float = 10,
            **extra: Any) -> VaultBackend:
    config = make_config(timeout=timeout)
    return VaultBackend(name, {"url": url, "token": token, "path": path, **extra}, config)


def root_client(server: OpenBao) -> hvac.Client:
    return hvac.Client(url=server.url, token=server.root_token)


def limited_token(client: hvac.Client, name: str, rules: str, ttl: str = "1h") -> str:
    client.sys.create_or_update_policy(name=name, policy=rules)
    return client.auth.token.create(policies=[name], ttl=ttl, display_name=name)["auth"]["client_token"]


def metadata_policy(folder: str, capabilities: str = '"list", "read"') -> str:
    return f'path "secret/metadata/{folder}/*" {{ capabilities = [{capabilities}] }}\n'


def plant_many(url: str, token: str, folder: str, names: list[str], threads: int = 16) -> None:
    """Write one KV v2 version per name, in parallel, over one keep-alive session per thread."""
    local = threading.local()

    def put(name: str) -> None:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        response = session.post(f"{url}/v1/secret/data/{folder}/{name}", json={"data": {"value": "planted"}},
                                headers={"X-Vault-Token": token}, timeout=30)
        response.raise_for_status()

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(put, names))


class Planted:
    """What the module fixture planted: the server, a limited token and the ground truth."""

    def __init__(self, server: OpenBao, token: str, truth: dict[str, dict[str, Any]]) -> None:
        self.server = server
        self.url = server.url
        self.token = token
        self.truth = truth


@pytest.fixture(scope="module")
def planted(openbao: OpenBao) -> Iterator[Planted]:  # noqa: F811
    client = root_client(openbao)
    kv = client.secrets.kv.v2
    for name, custom in PLANTED.items():
        kv.create_or_update_secret(path=f"{FOLDER}/{name}", secret={"value": "v1"}, mount_point="secret")
        if custom:
            kv.update_metadata(path=f"{FOLDER}/{name}", custom_metadata=custom, mount_point="secret")
    time.sleep(0.02)
    kv.create_or_update_secret(path=f"{FOLDER}/github", secret={"value": "v2"}, mount_point="secret")  # rotated
    truth = {}
    for name in PLANTED:
        meta = kv.read_secret_metadata(path=f"{FOLDER}/{name}", mount_point="secret")["data"]
        truth[name] = {"created": meta["versions"]["1"]["created_time"],
                       "current": meta["versions"][str(meta["current_version"])]["created_time"]}
    token = limited_token(client, "audit-meta", metadata_policy(FOLDER))
    yield Planted(openbao, token, truth)
    if PREFIX:  # a real Vault: leave nothing behind
        for name in PLANTED:
            kv.delete_metadata_and_all_versions(path=f"{FOLDER}/{name}", mount_point="secret")


# -- records from the real server ------------------------------------------------------------


def test_records_are_exactly_the_planted_secrets_and_the_token(planted: Planted) -> None:
    vault = backend(planted.url, planted.token)
    records = {r.name: r for r in vault.records()}
    assert set(records) == {*PLANTED, "token:token-audit-meta"}

    github = records["github"]
    assert github.backend == "vault:test"
    assert github.path == f"secret/{FOLDER}/github"
    assert (github.kind, github.owner) == ("github-token", "alice")
    assert github.expires == datetime(2027, 1, 31, tzinfo=timezone.utc)
    assert github.created == parse_date(planted.truth["github"]["created"])
    assert github.last_rotated == parse_date(planted.truth["github"]["current"])  # version 2's creation
    assert github.last_rotated > github.created
    assert github.fact("current_version") == 2
    assert dict(github.tags) == PLANTED["github"]
    assert github.rotation_enabled is False and github.rotation_days is None  # SA204 is decidable

    aws = records["aws"]
    assert (aws.kind, aws.owner, aws.rotation_enabled, aws.rotation_days) == ("aws-access-key", "bob", True, 90)
    assert aws.created == aws.last_rotated == parse_date(planted.truth["aws"]["created"])

    database = records["database"]
    assert database.kind == "database-password"  # inferred from the name
    assert database.owner is None and database.expires is None and database.tags == ()

    nested = records["team/x"]
    assert nested.path == f"secret/{FOLDER}/team/x"
    assert (nested.owner, nested.rotation_days, nested.kind) == ("carol", 30, "generic")

    bad = records["bad-date"]
    assert bad.expires is None and bad.owner == "dave"
    assert bad.fact("metadata_error") == "expiry_date 'next tuesday' is not a date (use YYYY-MM-DD)"

    token = records["token:token-audit-meta"]
    assert token.kind == "vault-token" and token.path == "auth/token/create"
    assert token.fact("root") is False
    assert "audit-meta" in token.fact("policies")
    assert token.fact("renewable") is True and 0 < token.fact("ttl") <= 3600
    assert token.expires is not None and token.created is not None
    assert 3500 < (token.expires - token.created).total_seconds() <= 3601


def test_root_token_record_is_flagged_root_and_never_expires(planted: Planted) -> None:
    records = list(backend(planted.url, planted.server.root_token).records())
    token = records[0]
    assert token.kind == "vault-token"
    assert token.fact("root") is True and token.fact("ttl") == 0
    assert token.expires is None  # SA208 judges it
    assert {r.name for r in records[1:]} == set(PLANTED)


def test_values_are_never_read_and_calls_are_one_per_secret(planted: Planted) -> None:
    vault = backend(planted.url, planted.token)
    vault.request_log = []
    records = list(vault.records())
    log = vault.request_log
    assert len(log) == vault.api_calls
    assert not [entry for entry in log if "/data/" in entry[1]], log
    reads = sorted(path for method, path in log if method == "GET" and path.startswith("secret/"))
    assert reads == sorted(f"secret/metadata/{FOLDER}/{name}" for name in PLANTED)
    assert ("LIST", f"secret/metadata/{FOLDER}") in log and ("LIST", f"secret/metadata/{FOLDER}/team") in log
    assert log[0] == ("GET", "auth/token/lookup-self")
    assert len(records) == len(PLANTED) + 1


def test_2000_secrets_within_1_1_calls_per_secret(openbao: OpenBao, record_property: Any) -> None:  # noqa: F811
    """1,500 secrets in one folder (two LIST pages on OpenBao) and 500 in five subfolders."""
    names = [f"app-{i:04d}" for i in range(1500)] + [f"team-{i % 5}/svc-{i:04d}" for i in range(500)]
    started = time.perf_counter()
    plant_many(openbao.url, openbao.root_token, BENCH, names)
    planting = time.perf_counter() - started

    token = limited_token(root_client(openbao), "audit-bench", metadata_policy(BENCH))
    vault = backend(openbao.url, token, path=f"secret/{BENCH}")
    vault.request_log = []
    started = time.perf_counter()
    records = list(vault.records())
    wall = time.perf_counter() - started

    assert sorted(r.name for r in records if r.kind != "vault-token") == sorted(names)
    per_secret = vault.api_calls / len(names)
    record_property("vault_plant_seconds", round(planting, 2))
    record_property("vault_audit_seconds", round(wall, 2))
    record_property("vault_calls_per_secret", round(per_secret, 4))
    print(f"\nvault: planted {len(names)} in {planting:.2f} s; audited in {wall:.2f} s; "
          f"{vault.api_calls} calls = {per_secret:.4f} per secret")
    assert per_secret <= 1.1
    lists = [path for method, path in vault.request_log if method == "LIST"]
    assert len(lists) <= 2 + 1 + 5  # root folder pages + subfolders
    assert not [p for _, p in vault.request_log if "/data/" in p]
    if PREFIX:
        client = root_client(openbao)
        for name in names:
            client.secrets.kv.v2.delete_metadata_and_all_versions(path=f"{BENCH}/{name}", mount_point="secret")


# -- denied ------------------------------------------------------------------------------------


def test_token_without_list_names_the_capability_and_path(planted: Planted) -> None:
    client = root_client(planted.server)
    token = limited_token(client, "audit-read-only", metadata_policy(FOLDER, '"read"'))
    with pytest.raises(BackendError) as caught:
        list(backend(planted.url, token, name="prod").records())
    assert caught.value.reason == "denied"
    assert str(caught.value) == (
        f"vault:prod: permission denied on LIST secret/metadata/{FOLDER}: the token needs the 'list' "
        f"capability on secret/metadata/{FOLDER}/*")
    assert token not in str(caught.value) and token not in repr(caught.value)


def test_token_without_read_names_the_read_capability(planted: Planted) -> None:
    client = root_client(planted.server)
    token = limited_token(client, "audit-list-only", metadata_policy(FOLDER, '"list"'))
    with pytest.raises(BackendError) as caught:
        list(backend(planted.url, token).records())
    message = str(caught.value)
    assert caught.value.reason == "denied"
    assert f"permission denied on GET secret/metadata/{FOLDER}/" in message
    assert "the token needs the 'read' capability on secret/metadata/" in message
    assert token not in message


def test_revoked_token_is_denied(planted: Planted) -> None:
    client = root_client(planted.server)
    token = limited_token(client, "audit-revoked", metadata_policy(FOLDER))
    client.auth.token.revoke(token)
    vault = backend(planted.url, token)
    with pytest.raises(BackendError) as caught:
        list(vault.records())
    assert caught.value.reason == "denied"
    assert str(caught.value) == ("vault:test: permission denied on GET auth/token/lookup-self: the token is "
                                 "invalid or revoked; renew it or set VAULT_TOKEN")
    status = vault.status()
    assert status.reachable is True and status.error == str(caught.value)
    assert token not in repr(vault) and token not in repr(vault.settings) and token not in repr(status)


def test_token_revoked_mid_run_is_told_apart_from_a_missing_capability(planted: Planted) -> None:
    client = root_client(planted.server)
    token = limited_token(client, "audit-mid-revoke", metadata_policy(FOLDER))
    records = backend(planted.url, token).records()
    assert next(records).kind == "vault-token"
    client.auth.token.revoke(token)
    with pytest.raises(BackendError) as caught:
        list(records)
    assert caught.value.reason == "denied"
    assert "the token is invalid or revoked" in str(caught.value)


# -- a server that goes away ----------------------------------------------------------------------


def test_server_stopped_mid_run_is_unreachable_and_keeps_what_was_listed(openbao_disposable: OpenBao) -> None:  # noqa: F811
    server = openbao_disposable
    names = [f"s-{i:03d}" for i in range(300)]
    plant_many(server.url, server.root_token, "ai-agents/openclaw", names)
    vault = backend(server.url, server.root_token, path="secret/ai-agents/openclaw", timeout=5,
                    max_concurrency=2)
    kept = []
    with pytest.raises(BackendError) as caught:
        for record in vault.records():
            kept.append(record)
            if len(kept) == 10:
                server.stop()
    assert caught.value.reason == "unreachable"
    assert str(caught.value).startswith(f"vault:test: cannot connect to {server.url} (")
    assert str(caught.value).endswith("; check url and that the server is up")
    assert 10 <= len(kept) < 301
    assert len({r.name for r in kept}) == len(kept)
    status = vault.status()
    assert status.reachable is False and "connection refused" in (status.error or "")


def test_nothing_listening_is_unreachable_with_a_one_line_fix() -> None:
    from servers import free_port

    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(BackendError) as caught:
        list(backend(url, "s.not-a-real-token-0123456789", name="prod").records())
    assert caught.value.reason == "unreachable"
    assert str(caught.value) == (f"vault:prod: cannot connect to {url} (connection refused); "
                                 "check url and that the server is up")


def test_status_of_a_live_server(planted: Planted) -> None:
    status = backend(planted.url, planted.token, name="prod").status()
    assert status.backend == "vault:prod" and status.type == "vault"
    assert status.reachable is True and status.error is None
    assert status.identity == "token-audit-meta (policies: audit-meta, default)"
    assert status.auth_method == "token"
    assert status.latency_ms is not None and status.latency_ms >= 0
    assert any("plain http" in w for w in status.warnings)
    assert not any("root token" in w for w in status.warnings)
    root = backend(planted.url, planted.server.root_token).status()
    assert any("root token in use" in w for w in root.warnings)


def test_wrong_path_is_a_config_error(planted: Planted) -> None:
    with pytest.raises(BackendError) as caught:
        list(backend(planted.url, planted.server.root_token, path="nomount/ai-agents").records())
    assert caught.value.reason == "config" and "no secrets engine is mounted at nomount/" in str(caught.value)
    with pytest.raises(BackendError) as caught:
        list(backend(planted.url, planted.server.root_token, path=f"secret/{FOLDER}-typo").records())
    assert caught.value.reason == "config" and f"no secrets under secret/{FOLDER}-typo" in str(caught.value)


# -- faults from a stub speaking the Vault API ------------------------------------------------------

STUB_TOKEN = "s.StubTokenValueThatMustNeverLeak0123"


class Stub:
    """A tiny Vault API: routes ``(METHOD, path)`` to answers consumed in order (the last repeats)."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[tuple[int, Any, dict[str, str], float]]] = {}
        self.hits: list[tuple[str, str]] = []
        self.route("GET", "auth/token/lookup-self", 200, {"data": {
            "display_name": "token-stub", "policies": ["default", "stub"], "path": "auth/approle/login",
            "ttl": 600, "expire_time": "2030-01-01T00:00:00Z", "issue_time": "2029-12-31T23:50:00Z",
            "renewable": True, "accessor": "ACCESSORVALUE", "id": STUB_TOKEN}})
        self.route("GET", "sys/mounts", 403, {"errors": ["permission denied"]})
        self.route("GET", "sys/internal/ui/mounts", 200, {"data": {"secret": {
            "secret/": {"type": "kv", "options": {"version": "2"}}}}})
        self.route("LIST", "secret/metadata/app", 200, {"data": {"keys": ["one"]}})
        self.route("GET", "secret/metadata/app/one", 200, {"data": {
            "created_time": "2026-01-01T00:00:00Z", "current_version": 1, "custom_metadata": None,
            "versions": {"1": {"created_time": "2026-01-01T00:00:00Z", "deletion_time": "", "destroyed": False}}}})

    def route(self, method: str, path: str, status: int, body: Any, headers: dict[str, str] | None = None,
              delay: float = 0.0) -> None:
        self.routes[(method, path)] = [(status, body, headers or {}, delay)]

    def then(self, method: str, path: str, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.routes[(method, path)].append((status, body, headers or {}, 0.0))

    def answer(self, method: str, path: str) -> tuple[int, Any, dict[str, str], float]:
        self.hits.append((method, path))
        answers = self.routes.get((method, path))
        if not answers:
            return 404, {"errors": []}, {}, 0.0
        return answers.pop(0) if len(answers) > 1 else answers[0]


@pytest.fixture
def stub() -> Iterator[tuple[str, Stub]]:
    state = Stub()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            path = self.path.split("?", 1)[0].removeprefix("/v1/").rstrip("/")
            status, body, headers, delay = state.answer(self.command, path)
            if delay:
                time.sleep(delay)
            payload = json.dumps(body).encode()
            try:
                self.send_response(status)
                for key, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass

        do_GET = do_LIST = do_POST = _serve

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()


def stub_backend(url: str, timeout: float = 5, **extra: Any) -> VaultBackend:
    vault = backend(url, STUB_TOKEN, path="secret/app", name="stub", timeout=timeout, **extra)
    vault.retry_base = 0.01
    return vault


def test_throttling_is_retried_with_backoff_and_counted(stub: tuple[str, Stub]) -> None:
    url, state = stub
    state.route("GET", "secret/metadata/app/one", 429, {"errors": ["rate limit quota exceeded"]},
                {"Retry-After": "0"})
    state.then("GET", "secret/metadata/app/one", 429, {"errors": ["rate limit quota exceeded"]})
    state.then("GET", "secret/metadata/app/one", 200, {"data": {"created_time": "2026-01-01T00:00:00Z",
                                                                "current_version": 1, "versions": {}}})
    vault = stub_backend(url)
    records = list(vault.records())
    assert [r.name for r in records] == ["token:token-stub", "one"]
    assert state.hits.count(("GET", "secret/metadata/app/one")) == 3
    assert vault.api_calls == len(state.hits)  # every real request, retries included


def test_throttling_that_persists_is_a_throttled_error(stub: tuple[str, Stub]) -> None:
    url, state = stub
    state.route("LIST", "secret/metadata/app", 429, {"errors": ["rate limit quota exceeded"]}, {"Retry-After": "0"})
    vault = stub_backend(url)
    started = time.monotonic()
    with pytest.raises(BackendError) as caught:
        list(vault.records())
    assert time.monotonic() - started < 2  # Retry-After: 0 honoured
    assert caught.value.reason == "throttled"
    assert str(caught.value) == ("vault:stub: throttled on LIST secret/metadata/app (HTTP 429 after 4 attempts); "
                                 "lower max_concurrency or raise the server's rate-limit quota")
    assert state.hits.count(("LIST", "secret/metadata/app")) == 4


def test_retry_after_is_honoured(stub: tuple[str, Stub]) -> None:
    url, state = stub
    state.route("GET", "auth/token/lookup-self", 503, {"errors": ["busy"]}, {"Retry-After": "1"})
    state.then("GET", "auth/token/lookup-self", 200, {"data": {"display_name": "t", "policies": ["default"]}})
    vault = stub_backend(url)
    started = time.monotonic()
    status = vault.status()
    assert status.reachable and status.identity == "t (policies: default)"
    assert time.monotonic() - started >= 0.9


def test_slow_server_is_a_timeout_naming_the_option(stub: tuple[str, Stub]) -> None:
    url, state = stub
    state.route("LIST", "secret/metadata/app", 200, {"data": {"keys": []}}, delay=1.5)
    with pytest.raises(BackendError) as caught:
        list(stub_backend(url, timeout=0.3).records())
    assert caught.value.reason == "timeout"
    assert str(caught.value) == (f"vault:stub: {url} (LIST secret/metadata/app) did not answer completely within "
                                 "0.3 s (--timeout); raise --timeout (or 'timeout' in the config) if the server is "
                                 "just slow, or check the server and the network path")


def test_sealed_server_is_not_retried(stub: tuple[str, Stub]) -> None:
    url, state = stub
    state.route("GET", "auth/token/lookup-self", 503, {"errors": ["Vault is sealed"]})
    with pytest.raises(BackendError) as caught:
        list(stub_backend(url).records())
    assert caught.value.reason == "unreachable" and "is sealed" in str(caught.value)
    assert state.hits == [("GET", "auth/token/lookup-self")]


def test_server_error_messages_are_scrubbed_of_the_token(stub: tuple[str, Stub]) -> None:
    url, state = stub
    state.route("LIST", "secret/metadata/app", 500, {"errors": [f"internal error with token {STUB_TOKEN}"]})
    vault = stub_backend(url)
    with pytest.raises(BackendError) as caught:
        list(vault.records())
    assert caught.value.reason == "error"
    assert STUB_TOKEN not in str(caught.value) and "***" in str(caught.value)
    assert STUB_TOKEN not in repr(vault) and STUB_TOKEN not in repr(vault.settings)
    status = vault.status()
    assert status.auth_method == "approle"
    assert STUB_TOKEN not in repr(status) and "ACCESSOR" not in repr(status)
    state.route("LIST", "secret/metadata/app", 200, {"data": {"keys": ["one"]}})
    records = list(vault.records())
    assert STUB_TOKEN not in repr(records) and "ACCESSORVALUE" not in repr(records)


def test_pagination_is_followed(stub: tuple[str, Stub], monkeypatch: pytest.MonkeyPatch) -> None:
    url, state = stub
    monkeypatch.setattr("secretaudit.backends.vault.PAGE_SIZE", 1)
    seen: list[str] = []
    original = state.answer

    def answer(method: str, path: str) -> tuple[int, Any, dict[str, str], float]:
        if (method, path) == ("LIST", "secret/metadata/app"):
            seen.append(path)
            keys = [["a"], ["b"], []][len(seen) - 1]
            return 200, {"data": {"keys": keys}}, {}, 0.0
        return original(method, path)

    state.answer = answer  # type: ignore[method-assign]
    for name in ("a", "b"):
        state.route("GET", f"secret/metadata/app/{name}", 200, {"data": {"created_time": "2026-01-01T00:00:00Z"}})
    records = list(stub_backend(url).records())
    assert sorted(r.name for r in records if r.kind != "vault-token") == ["a", "b"]
    assert len(seen) == 3


def test_a_server_ignoring_pagination_is_listed_once(stub: tuple[str, Stub], monkeypatch: pytest.MonkeyPatch) -> None:
    url, state = stub
    monkeypatch.setattr("secretaudit.backends.vault.PAGE_SIZE", 2)
    state.route("LIST", "secret/metadata/app", 200, {"data": {"keys": ["a", "b"]}})  # the full list, every time
    for name in ("a", "b"):
        state.route("GET", f"secret/metadata/app/{name}", 200, {"data": {"created_time": "2026-01-01T00:00:00Z"}})
    records = list(stub_backend(url).records())
    assert sorted(r.name for r in records) == ["a", "b", "token:token-stub"]
    assert state.hits.count(("LIST", "secret/metadata/app")) == 2


def test_database_static_roles_where_mounted(stub: tuple[str, Stub]) -> None:
    url, state = stub
    state.route("GET", "sys/mounts", 200, {"data": {"secret/": {"type": "kv", "options": {"version": "2"}},
                                                    "database/": {"type": "database"}}})
    state.route("LIST", "database/static-roles", 200, {"data": {"keys": ["app-db"]}})
    state.route("GET", "database/static-roles/app-db", 200, {"data": {
        "username": "app", "db_name": "pg", "rotation_period": 86400 * 7,
        "last_vault_rotation": "2026-11-01T00:00:00.123456789Z"}})
    records = {r.name: r for r in stub_backend(url).records()}
    role = records["database/static-role/app-db"]
    assert role.kind == "database-password" and role.rotation_enabled is True and role.rotation_days == 7
    assert role.last_rotated == datetime(2026, 11, 1, 0, 0, 0, 123456, tzinfo=timezone.utc)
    assert role.next_rotation == datetime(2026, 11, 8, 0, 0, 0, 123456, tzinfo=timezone.utc)
    assert role.path == "database/static-roles/app-db" and role.fact("username") == "app"


def test_kv_version_1_mount_is_a_config_error(stub: tuple[str, Stub]) -> None:
    url, state = stub
    state.route("GET", "sys/mounts", 200, {"data": {"secret/": {"type": "kv", "options": {"version": "1"}}}})
    with pytest.raises(BackendError) as caught:
        list(stub_backend(url).records())
    assert caught.value.reason == "config" and "KV version 1" in str(caught.value)


def test_a_mount_of_several_segments_is_found_in_the_mount_table(stub: tuple[str, Stub]) -> None:
    url, state = stub
    state.route("GET", "sys/mounts", 200, {"data": {"team/kv/": {"type": "kv", "options": {"version": "2"}}}})
    state.route("LIST", "team/kv/metadata/app", 200, {"data": {"keys": ["one"]}})
    state.route("GET", "team/kv/metadata/app/one", 200, {"data": {"created_time": "2026-01-01T00:00:00Z"}})
    vault = backend(url, STUB_TOKEN, path="team/kv/app")
    records = [r for r in vault.records() if r.kind != "vault-token"]
    assert [(r.name, r.path) for r in records] == [("one", "team/kv/app/one")]


# -- settings ----------------------------------------------------------------------------------------


def test_every_setting_is_validated() -> None:
    good = {"url": "https://vault.example.com:8200", "token": STUB_TOKEN, "path": "secret/ai-agents/openclaw"}
    config = make_config(backends=[{"type": "vault", "name": "prod", **good, "mount": "x"}])
    config.source = "secretaudit.yaml"
    with pytest.raises(ConfigError) as caught:
        VaultBackend("prod", {**good, "mount": "x"}, config)
    assert caught.value.key == "backends[0].mount"
    assert "allowed: url, token, path, namespace, ca_cert, tls_verify, max_concurrency, database_mount" in str(caught.value)
    for key, value, problem in (("max_concurrency", "8", "whole number"), ("max_concurrency", 0, "whole number"),
                                ("tls_verify", "no", "true or false"), ("url", "vault:8200", "not an http(s) URL"),
                                ("path", 5, "expected a string"), ("ca_cert", "/nonexistent.pem", "not found"),
                                ("token", "", "missing"), ("database_mount", 3, "mount name")):
        with pytest.raises(ConfigError) as caught:
            VaultBackend("prod", {**good, key: value}, config)
        assert caught.value.key == f"backends[0].{key}" and problem in str(caught.value), str(caught.value)
        assert STUB_TOKEN not in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        VaultBackend("prod", {"url": good["url"], "token": STUB_TOKEN}, config)
    assert caught.value.key == "backends[0].path"

    openclaw = make_config()
    openclaw.raw = {"external_secrets": {"backend": "vault"}}
    with pytest.raises(ConfigError) as caught:
        VaultBackend("vault", {**good, "role_id": "x"}, openclaw)
    assert caught.value.key == "external_secrets.vault.role_id"

    vault = VaultBackend("prod", {**good, "max_concurrency": 4, "database_mount": ""}, config)
    assert (vault.mount, vault.folder, vault.max_concurrency, vault.database_mount) == \
        ("secret", "ai-agents/openclaw", 4, None)
    assert vault.label == "vault:prod" and vault.settings["token"] == "***"


def test_registered_through_the_hook() -> None:
    registry = BackendRegistry()
    secretaudit_register_backends(registry)
    assert "vault" in registry.names()
    config = make_config(backends=[{"type": "vault", "name": "prod", "url": "http://127.0.0.1:1",
                                    "token": STUB_TOKEN, "path": "secret/x"}])
    created = registry.create(config.settings["backends"][0], config, 0)
    assert isinstance(created, VaultBackend) and created.label == "vault:prod"
    assert created.timeout == 30


# -- end to end through the CLI --------------------------------------------------------------------


def _plugin_args() -> list[str]:
    from secretaudit.plugins import DEFAULT_PLUGINS

    return [] if "secretaudit.backends.vault" in DEFAULT_PLUGINS else ["-p", "secretaudit.backends.vault"]


OPENCLAW_YAML = """\
external_secrets:
  enabled: true
  backend: vault
  vault:
    url: {url}
    token: ${{VAULT_TOKEN}}
    path: secret/{folder}
"""


def test_cli_audit_list_and_status_from_an_openclaw_yaml(planted: Planted, tmp_path: Path) -> None:
    config = tmp_path / "openclaw.yaml"
    config.write_text(OPENCLAW_YAML.format(url=planted.url, folder=FOLDER))
    env = {"VAULT_TOKEN": planted.token}

    proc = run_cli("audit", "--config", str(config), "--format", "json", *_plugin_args(), env=env, cwd=tmp_path)
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads(proc.stdout)
    assert not [f for f in report["findings"] if f["check_id"] == "SA200"], report["findings"]
    # a metadata-only token cannot read its policies or the audit devices: those checks say so as errors
    assert {f["check_id"] for f in report["findings"] if f["status"] == "error"} <= {"SA304", "SA509"}
    assert planted.token not in proc.stdout + proc.stderr

    proc = run_cli("list", "--config", str(config), "--format", "json", *_plugin_args(), env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = {row["name"]: row for row in json.loads(proc.stdout)["secrets"]}
    assert set(rows) == {*PLANTED, "token:token-audit-meta"}
    assert {row["backend"] for row in rows.values()} == {"vault:vault"}
    assert rows["github"]["kind"] == "github-token" and rows["github"]["owner"] == "alice"
    assert rows["aws"]["rotation_days"] == 90 and rows["github"]["rotation_enabled"] is False

    proc = run_cli("status", "--config", str(config), "--format", "json", *_plugin_args(), env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    [status] = json.loads(proc.stdout)
    assert status["backend"] == "vault:vault" and status["reachable"] is True
    assert status["auth_method"] == "token" and status["identity"].startswith("token-audit-meta")
    assert planted.token not in proc.stdout + proc.stderr


def test_cli_audit_of_an_unreachable_vault_is_an_error_for_that_backend(tmp_path: Path) -> None:
    from servers import free_port

    config = tmp_path / "openclaw.yaml"
    url = f"http://127.0.0.1:{free_port()}"
    config.write_text(OPENCLAW_YAML.format(url=url, folder=FOLDER))
    proc = run_cli("audit", "--config", str(config), "--format", "json", "--timeout", "5", *_plugin_args(),
                   env={"VAULT_TOKEN": STUB_TOKEN}, cwd=tmp_path)
    assert proc.returncode != 0
    report = json.loads(proc.stdout)
    [error] = [f for f in report["findings"] if f["check_id"] == "SA200"]
    assert error["status"] == "error" and error["location"]["backend"] == "vault:vault"
    assert f"cannot connect to {url} (connection refused)" in error["message"]
    assert STUB_TOKEN not in proc.stdout + proc.stderr
