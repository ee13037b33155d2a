"""A local HTTP server answering ``GET /user`` as GitHub's REST API documents.

``github_server()`` serves on a free loopback port (a threading
``http.server``) and yields a :class:`FakeGitHub`.  Tests register tokens
with :meth:`FakeGitHub.add`:

* a classic token answers 200 ``{"login": ...}`` with ``X-OAuth-Scopes``
  (``"repo, delete_repo"``) and, when it has one, the expiry header;
* a fine-grained token (``scopes=None``) answers 200 without
  ``X-OAuth-Scopes``, with ``GitHub-Authentication-Token-Expiration:
  2026-12-24 00:00:00 UTC`` or no expiry header at all;
* an unknown token (or none) answers 401 ``{"message": "Bad credentials"}``;
* ``fail_status`` set: every request answers that status (a 5xx outage).

``/user`` (github.com-style base URL :attr:`FakeGitHub.url`) and
``/api/v3/user`` (Enterprise Server base :attr:`FakeGitHub.enterprise_url`)
behave the same.  Every request is recorded as :class:`Request` (the token
is kept only to let tests count per-token requests; it is test data).

Fixture: ``github_api`` (``from github_server import github_api``).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest


@dataclass(frozen=True)
class Request:
    at: float  # time.monotonic()
    method: str
    path: str
    token: str


@dataclass
class Account:
    login: str
    scopes: str | None = "repo"  # None: fine-grained (no X-OAuth-Scopes header)
    expiration: str | None = None  # e.g. "2026-12-24 00:00:00 UTC"


@dataclass
class FakeGitHub:
    url: str
    tokens: dict[str, Account] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    fail_status: int | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def enterprise_url(self) -> str:
        return f"{self.url}/api/v3"

    def add(self, token: str, login: str, scopes: str | None = "repo", expiration: str | None = None) -> None:
        self.tokens[token] = Account(login, scopes, expiration)

    def requests_for(self, token: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.token == token]


def _handler(state: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def _send(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-GitHub-Media-Type", "github.v3; format=json")
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802
            auth = self.headers.get("Authorization") or ""
            scheme, _, token = auth.partition(" ")
            token = token.strip() if scheme.lower() in ("token", "bearer") else ""
            path = self.path.split("?", 1)[0]
            with state.lock:
                state.requests.append(Request(time.monotonic(), "GET", path, token))
            if path not in ("/user", "/api/v3/user"):
                self._send(404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})
                return
            if state.fail_status:
                self._send(state.fail_status, {"message": "Server Error"})
                return
            account = state.tokens.get(token)
            if account is None:
                self._send(401, {"message": "Bad credentials",
                                 "documentation_url": "https://docs.github.com/rest"})
                return
            headers = {}
            if account.scopes is not None:
                headers["X-OAuth-Scopes"] = account.scopes
                headers["X-Accepted-OAuth-Scopes"] = ""
            if account.expiration:
                headers["GitHub-Authentication-Token-Expiration"] = account.expiration
            self._send(200, {"login": account.login, "id": abs(hash(account.login)) % 10**7, "type": "User"},
                       headers)

    return Handler


@contextlib.contextmanager
def github_server() -> Iterator[FakeGitHub]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state := FakeGitHub("")))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def github_api() -> Iterator[FakeGitHub]:
    """A fresh fake GitHub API for one test."""
    with github_server() as server:
        yield server


def free_port_url() -> str:
    """``http://127.0.0.1:PORT`` with nothing listening (a server that is down)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"
