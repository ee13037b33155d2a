"""moto's server mode over real HTTP, for the AWS Secrets Manager backend tests.

``moto_server`` (session-scoped) starts :class:`moto.server.ThreadedMotoServer`
on a free loopback port and yields its endpoint URL; boto3 clients reach it
with ``endpoint_url=...`` (or ``AWS_ENDPOINT_URL``).  The server logs every
request it serves (``server.requests``: method, path, operation) so tests can
prove what a backend did and did not call.  ``reset_moto(url)`` wipes all
state (``POST /moto-api/reset``) between tests.

Clients get obviously fake credentials (``testing``), never real-format keys.

``plant_bulk`` fills a region with thousands of secrets through moto's
in-process model (the server runs in this process): creating them over HTTP
costs ~6 ms each and cannot be parallelised (moto's secret store is not
thread-safe), so 10,000 would take over a minute.  The audit itself always
goes over HTTP.

Also here: tiny local HTTP servers that answer AWS JSON errors (access
denied, throttling), optionally handing the other requests to moto.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import threading
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterator
from urllib.parse import urlsplit

import pytest

#: fake credentials for every client in the tests (moto accepts anything)
FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@dataclass
class MotoServer:
    url: str
    requests: list[tuple[str, str, str]] = field(default_factory=list)

    def operations(self) -> list[str]:
        """``X-Amz-Target`` operation names (``secretsmanager.ListSecrets``) of logged requests."""
        return [op for _, _, op in self.requests]

    def clear_log(self) -> None:
        self.requests.clear()

    def reset(self) -> None:
        reset_moto(self.url)
        self.clear_log()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def closed_port_url() -> str:
    """An http URL on a loopback port nobody listens on (connections are refused)."""
    return f"http://127.0.0.1:{free_port()}"


def reset_moto(url: str) -> None:
    request = urllib.request.Request(f"{url}/moto-api/reset", method="POST", data=b"")
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


def _start_moto(log: list[tuple[str, str, str]]) -> tuple[str, Callable[[], None]]:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from moto.server import ThreadedMotoServer
    from werkzeug.serving import WSGIRequestHandler, make_server

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, *args: object, **kwargs: object) -> None:
            pass

    def logging_app(app: Callable) -> Callable:
        def wrapped(environ: dict, start_response: Callable) -> object:
            target = environ.get("HTTP_X_AMZ_TARGET", "")
            if not target and environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
                target = "query"  # STS & co (Action=... in the body)
            log.append((environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", ""), target))
            return app(environ, start_response)
        return wrapped

    class LoggingMotoServer(ThreadedMotoServer):
        def _server_entry(self) -> None:  # as moto's, with the request log around the app
            app = logging_app(DomainDispatcherApplication(create_backend_app))
            self._server = make_server(self._ip_address, self._port, app, True, request_handler=QuietHandler)
            self._server_ready_event.set()
            self._server.serve_forever()

    server = LoggingMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return f"http://{host}:{port}", server.stop


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """A moto server for the whole session; yields it (``.url`` is the endpoint URL)."""
    with pytest.MonkeyPatch.context() as mp:
        for key, value in FAKE_ENV.items():
            mp.setenv(key, value)
        for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SECRETS_MANAGER",
                    "AWS_ENDPOINT_URL_STS", "AWS_REGION"):
            mp.delenv(key, raising=False)
        mp.setenv("AWS_CONFIG_FILE", os.devnull)
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        log: list[tuple[str, str, str]] = []
        url, stop = _start_moto(log)
        try:
            yield MotoServer(url=url, requests=log)
        finally:
            stop()


@pytest.fixture
def moto(moto_server: MotoServer) -> Iterator[MotoServer]:
    """The session's moto server, emptied before the test."""
    moto_server.reset()
    yield moto_server


def aws_client(service: str, url: str, region: str = "us-east-1", **config: object):
    import boto3
    from botocore.config import Config

    return boto3.client(service, region_name=region, endpoint_url=url, aws_access_key_id="testing",
                        aws_secret_access_key="testing",
                        config=Config(retries={"mode": "standard", "max_attempts": 3}, **config))


# -- fake endpoints ---------------------------------------------------------------------------


class FakeAws:
    """A local HTTP server answering AWS JSON errors, or forwarding to moto.

    ``fail(n)`` says whether the n-th request (1-based) gets the error;
    by default every request does.  Requests that do not fail are forwarded
    to ``upstream`` (moto).  ``hits`` counts every request served.
    """

    def __init__(self, error_type: str, message: str, status: int = 400,
                 fail: Callable[[int], bool] | None = None, upstream: str | None = None) -> None:
        self.error_type, self.message, self.status = error_type, message, status
        self.fail = fail or (lambda n: True)
        self.upstream = upstream
        self.hits = 0
        self.forwarded = 0
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with fake._lock:
                    fake.hits += 1
                    answer_error = fake.fail(fake.hits) or not fake.upstream
                    fake.forwarded += 0 if answer_error else 1
                if answer_error:
                    payload = json.dumps({"__type": fake.error_type, "message": fake.message}).encode()
                    self._reply(fake.status, [("Content-Type", "application/x-amz-json-1.1"),
                                              ("x-amzn-RequestId", "00000000-0000-0000-0000-000000000000")], payload)
                    return
                parts = urlsplit(fake.upstream)
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request("POST", self.path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                conn.close()
                self._reply(response.status, [(k, v) for k, v in response.getheaders() if k.lower() not in
                                              ("content-length", "transfer-encoding", "connection", "date",
                                               "server")], data)

            def _reply(self, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeAws":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class SilentServer:
    """Accepts TCP connections and never answers (read timeouts)."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._conns: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        self._sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
                self._conns.append(conn)
            except OSError:
                continue

    def __enter__(self) -> "SilentServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        for conn in self._conns:
            conn.close()
        self._sock.close()


def plant_bulk(count: int, region: str = "us-east-1", prefix: str = "bulk/") -> None:
    """``count`` secrets (tagged owner/kind) straight into moto's in-process store for ``region``."""
    import time
    import uuid

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.secretsmanager.models import FakeSecret, secretsmanager_backends

    backend = secretsmanager_backends[DEFAULT_ACCOUNT_ID][region]
    now = int(time.time())
    kinds = ("github-token", "database-password", "aws-access-key", "generic")
    for i in range(count):
        name = f"{prefix}secret-{i:05d}"
        version = str(uuid.uuid4())
        secret = FakeSecret(account_id=DEFAULT_ACCOUNT_ID, region_name=region, secret_id=name,
                            secret_version={"createdate": now, "version_id": version,
                                            "version_stages": ["AWSCURRENT"], "secret_string": "x"},
                            version_id=version, secret_string="x",
                            tags=[{"Key": "owner", "Value": f"team-{i % 7}"},
                                  {"Key": "kind", "Value": kinds[i % len(kinds)]}],
                            created_date=now, last_changed_date=now)
        dict.__setitem__(backend.secrets, name, secret)
