"""Progress while backends are listed: secrets so far, per backend, on stderr only.

A long listing (2,000 Vault secrets take seconds) used to be silence until
the first line.  The Vault here is the real OpenBao behind a proxy that adds
30 ms of network latency to every answer (a remote server), and the backend
reads one secret at a time, so listing 80 secrets takes a few seconds.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Iterator

import hvac
import pytest
from conftest import ROOT, _CACHE_HOME, run_cli
from servers import free_port, openbao  # noqa: F401  (fixture)

SECRETS = 80
LATENCY = 0.03
PROGRESS = re.compile(r"vault:prod: (\d+) secrets listed so far")


class LatencyProxy:
    """A TCP proxy to ``upstream`` that holds every chunk of the answer back ``delay`` seconds."""

    def __init__(self, upstream: tuple[str, int], delay: float) -> None:
        self.upstream, self.delay = upstream, delay
        self.listener = socket.create_server(("127.0.0.1", free_port()))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            threading.Thread(target=self._pump, args=(client, server, 0.0), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, self.delay), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket, delay: float) -> None:
        try:
            while chunk := source.recv(65536):
                time.sleep(delay)
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.closed = True
        self.listener.close()


@pytest.fixture(scope="module")
def slow_vault(tmp_path_factory: pytest.TempPathFactory, openbao) -> Iterator[dict]:  # noqa: F811
    url, root, _ = openbao
    folder = f"progress-{uuid.uuid4().hex[:8]}"
    kv = hvac.Client(url=url, token=root).secrets.kv.v2
    for index in range(SECRETS):
        kv.create_or_update_secret(path=f"{folder}/app-{index:03d}", secret={"v": "x"}, mount_point="secret")
    host, port = url.removeprefix("http://").split(":")
    proxy = LatencyProxy((host, int(port)), LATENCY)
    config = tmp_path_factory.mktemp("progress") / "secretaudit.yaml"
    config.write_text(f"backends:\n  - {{type: vault, name: prod, url: '{proxy.url}', token: '${{VAULT_TOKEN}}', "
                      f"path: 'secret/{folder}', max_concurrency: 1}}\n")
    yield {"config": str(config), "env": {"VAULT_TOKEN": root}}
    proxy.close()


def counts(stderr: str) -> list[int]:
    return [int(n) for n in PROGRESS.findall(stderr)]


def test_list_with_v_shows_progress_on_stderr_and_json_stays_clean(slow_vault: dict) -> None:
    started = time.monotonic()
    proc = run_cli("list", "--config", slow_vault["config"], "--format", "json", "-v", env=slow_vault["env"])
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - started > 1.5  # a long listing, as this test needs
    assert len(json.loads(proc.stdout)["secrets"]) == SECRETS + 1  # the token too: stdout is only the JSON
    seen = counts(proc.stderr)
    assert seen and seen == sorted(seen) and 0 < seen[-1] <= SECRETS + 1, proc.stderr
    assert "\r" not in proc.stderr  # not a terminal: whole lines
    quiet = run_cli("list", "--config", slow_vault["config"], env=slow_vault["env"])  # not a TTY, no -v: silent
    assert quiet.returncode == 0 and not counts(quiet.stderr) and "listed so far" not in quiet.stdout
    hushed = run_cli("list", "--config", slow_vault["config"], "-v", "-q", env=slow_vault["env"])
    assert hushed.returncode == 0 and hushed.stderr == ""


def test_audit_shows_progress_in_place_on_a_terminal(slow_vault: dict) -> None:
    """stderr is a pseudo-terminal, stdout a pipe: one line rewritten in place, cleared at the end."""
    master, slave = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": _CACHE_HOME, **slow_vault["env"]}
    proc = subprocess.Popen([sys.executable, "-m", "secretaudit", "audit", "--config", slow_vault["config"]],
                            stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL, env=env, text=True)
    os.close(slave)
    captured = bytearray()
    while True:
        ready, _, _ = select.select([master], [], [], 120)
        if not ready:
            break
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        captured += chunk
    stdout = proc.communicate(timeout=120)[0]
    os.close(master)
    stderr = captured.decode()
    assert proc.returncode in (0, 1), stdout + stderr
    assert counts(stderr) and "\rvault:prod: " in stderr
    assert stderr.rstrip(" ").endswith("\r")  # the line is cleared before the summary
    assert "listed so far" not in stdout and f"collected {SECRETS + 1} secrets from vault:prod" in stdout
