"""Network deadlines, and "could not verify" is never a pass (issue 14).

``--timeout`` bounds a whole backend call: a slow-loris server (valid
headers, then one body byte a second; or the headers themselves that slowly;
or a database "greeting" that never ends) used as the Vault URL, the AWS
endpoint, the GitHub API, a database or the notify webhook must not hold a
run past the deadline.  The slow backend becomes an error result naming it
and the timeout, the healthy backend's results are still printed and
reported, and the run exits 1.  Before the fix each of these runs never
ended: the time budgets below are generous (a loaded machine), not tight.

``scan --verify`` against a provider answering 503, trickling, or answering
with something that is not the provider is an SA107 *error*, never a pass.
"""

from __future__ import annotations

import json
import random
import socket
import string
import threading
import time
from pathlib import Path

import pytest

from aws_server import aws_client, moto, moto_server  # noqa: F401  (fixtures)
from conftest import fake_aws_key_id, fake_aws_secret, run_cli
from github_server import github_api  # noqa: F401  (fixture)
from slowloris import hostile_server
from test_scan_verify import github_token

TIMEOUT = 2
#: Before the fix these runs never ended; after it they take about TIMEOUT plus the start-up of Python and boto.
BUDGET = TIMEOUT + 20


def _timed(*args: str, **kwargs: object) -> tuple[object, float]:
    started = time.monotonic()
    proc = run_cli(*args, timeout=120, **kwargs)  # type: ignore[arg-type]
    return proc, time.monotonic() - started


def _no_traceback(proc: object) -> None:
    assert "Traceback" not in proc.stdout + proc.stderr  # type: ignore[attr-defined]


def _inventory(tmp_path: Path) -> str:
    """A generic backend whose one secret is overdue: the healthy backend's finding (SA203)."""
    (tmp_path / "inventory.yaml").write_text(
        "secrets:\n  - {name: old-db-password, kind: database-password, created: 2020-01-01, "
        "last_rotated: 2020-01-01, owner: team-a}\n")
    return "  - {type: generic, name: inv, file: inventory.yaml}\n"


def _vault(url: str) -> str:
    return f"  - {{type: vault, name: slow, url: '{url}', token: not-a-real-token-xyz, path: secret/app}}\n"


def _aws(url: str, name: str = "slow") -> str:
    return (f"  - {{type: aws-secrets-manager, name: {name}, region: us-east-1, endpoint_url: '{url}', "
            "access_key_id: testing, secret_access_key: testing, max_attempts: 2}\n")


def _config(tmp_path: Path, *entries: str, extra: str = "") -> str:
    path = tmp_path / "secretaudit.yaml"
    path.write_text("backends:\n" + "".join(entries) + extra)
    return str(path)


def _healthy_and_slow(findings: list[dict], slow: str) -> tuple[list[dict], list[dict]]:
    healthy = [f for f in findings if f["location"].get("backend") == "generic:inv"]
    errors = [f for f in findings if f["status"] == "error" and f["location"].get("backend") == slow]
    return healthy, errors


# -- audit ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["body", "headers"])
def test_audit_with_a_slow_loris_vault_reports_the_healthy_backend(tmp_path: Path, mode: str) -> None:
    report = tmp_path / "report.json"
    with hostile_server(mode) as slow:
        config = _config(tmp_path, _vault(slow.url), _inventory(tmp_path))
        proc, elapsed = _timed("audit", "--config", config, "--timeout", str(TIMEOUT), "--format", "json",
                               "--report", f"json:{report}")
        asked = slow.connections
    assert asked >= 1, "the slow server was never asked: the test proves nothing"
    assert elapsed < BUDGET, f"audit took {elapsed:.1f} s with --timeout {TIMEOUT}"
    assert proc.returncode == 1, proc.stderr
    _no_traceback(proc)
    for findings in (json.loads(proc.stdout)["findings"], json.loads(report.read_text())["findings"]):
        healthy, errors = _healthy_and_slow(findings, "vault:slow")
        assert [(f["check_id"], f["status"]) for f in healthy] == [("SA203", "failed")]
        assert any(f["check_id"] == "SA200" for f in errors)
        for error in errors:
            assert f"within {TIMEOUT} s (--timeout)" in error["message"] and "raise --timeout" in error["message"]
            assert "\n" not in error["message"]


def test_audit_with_a_slow_loris_aws_endpoint_reports_the_healthy_backend(tmp_path: Path) -> None:
    with hostile_server("body") as slow:
        config = _config(tmp_path, _aws(slow.url), _inventory(tmp_path))
        proc, elapsed = _timed("audit", "--config", config, "--timeout", str(TIMEOUT))
        asked = slow.connections
    assert asked >= 1 and elapsed < BUDGET, f"audit took {elapsed:.1f} s with --timeout {TIMEOUT}"
    assert proc.returncode == 1, proc.stderr
    _no_traceback(proc)
    lines = proc.stdout.splitlines()
    assert any(line.startswith("FAILED generic:inv:old-db-password SA203") for line in lines)
    (error,) = [line for line in lines if line.startswith("ERROR aws-secrets-manager:slow:* SA200")]
    assert f"within {TIMEOUT} s (--timeout)" in error and "raise --timeout" in error


#: The first bytes of a server message announcing a 64 KB message that then comes one byte a second:
#: MySQL's packet header (3-byte little-endian length, sequence 0); PostgreSQL's "no TLS" answer to
#: pg8000's SSLRequest, then an authentication request's header.
GREETINGS = {"mysql": b"\xff\xff\x00\x00", "postgres": b"N" + b"R\x00\x01\x00\x00"}


@pytest.mark.parametrize("engine", ["mysql", "postgres"])
def test_audit_with_a_database_that_drips_its_greeting(tmp_path: Path, engine: str) -> None:
    with hostile_server("drip", preamble=GREETINGS[engine]) as slow:
        port = slow.url.rsplit(":", 1)[1]
        config = _config(tmp_path, _inventory(tmp_path), extra=(
            f"scopes:\n  databases:\n    - {{name: slowdb, engine: {engine}, host: 127.0.0.1, port: {port}, "
            "user: auditor, password: not-a-real-password}\n"))
        proc, elapsed = _timed("audit", "--config", config, "--timeout", str(TIMEOUT), "--format", "json")
        asked = slow.connections
    assert asked >= 1 and elapsed < BUDGET, f"audit took {elapsed:.1f} s with --timeout {TIMEOUT}"
    assert proc.returncode == 1, proc.stderr
    _no_traceback(proc)
    findings = json.loads(proc.stdout)["findings"]
    assert ("SA203", "failed") in {(f["check_id"], f["status"]) for f in findings}
    (error,) = [f for f in findings if f["check_id"] == "SA306"]
    assert error["status"] == "error" and f"within {TIMEOUT} s (--timeout)" in error["message"]
    assert "not-a-real-password" not in proc.stdout + proc.stderr


def test_notify_to_a_slow_loris_webhook_is_a_bounded_warning(tmp_path: Path) -> None:
    with hostile_server("body") as slow:
        config = _config(tmp_path, _inventory(tmp_path))
        proc, elapsed = _timed("audit", "--config", config, "--timeout", str(TIMEOUT),
                               "--notify", f"{slow.url}/services/T000/B000/not-a-real-hook")
        asked = slow.connections
    assert asked >= 1 and elapsed < BUDGET, f"audit --notify took {elapsed:.1f} s with --timeout {TIMEOUT}"
    assert proc.returncode == 1  # the audit's own verdict (SA203), not the webhook's
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and f"within {TIMEOUT} s (--timeout)" in warnings[0]
    assert "not-a-real-hook" not in proc.stderr


# -- status and get -------------------------------------------------------------------------------


def test_status_with_slow_vault_and_aws_reports_each_backend(tmp_path: Path) -> None:
    with hostile_server("body") as slow_vault, hostile_server("headers") as slow_aws:
        config = _config(tmp_path, _vault(slow_vault.url), _aws(slow_aws.url), _inventory(tmp_path))
        proc, elapsed = _timed("status", "--config", config, "--timeout", str(TIMEOUT), "--format", "json")
    assert elapsed < 2 * TIMEOUT + 20, f"status took {elapsed:.1f} s with --timeout {TIMEOUT}"
    assert proc.returncode == 1, proc.stderr
    _no_traceback(proc)
    statuses = {s["backend"]: s for s in json.loads(proc.stdout)}
    assert statuses["generic:inv"]["reachable"] is True
    for name in ("vault:slow", "aws-secrets-manager:slow"):
        assert statuses[name]["reachable"] is False
        assert name in statuses[name]["error"] and f"within {TIMEOUT} s (--timeout)" in statuses[name]["error"]


def test_get_with_a_slow_backend(tmp_path: Path, moto, rng: random.Random) -> None:  # noqa: F811
    value = "".join(rng.choice(string.ascii_letters) for _ in range(24))
    aws_client("secretsmanager", moto.url).create_secret(Name="deploy-token", SecretString=value)
    with hostile_server("body") as slow:
        config = _config(tmp_path, _vault(slow.url), _aws(moto.url, "ok"))
        found, found_elapsed = _timed("get", "--secret", "deploy-token", "--config", config, "--timeout", str(TIMEOUT))
        addressed, addressed_elapsed = _timed("get", "--secret", "vault:slow:deploy-token", "--config", config,
                                              "--timeout", str(TIMEOUT))
    # found in the healthy backend: handed out, with a warning naming the backend that could not be asked
    assert found_elapsed < BUDGET and found.returncode == 0, found.stderr
    assert found.stdout == value + "\n"
    (warning,) = found.stderr.splitlines()
    assert warning.startswith("warning: vault:slow:") and f"within {TIMEOUT} s (--timeout)" in warning
    # asked of the slow backend only: a one-line error naming it, exit 1
    assert addressed_elapsed < BUDGET and addressed.returncode == 1
    (error,) = addressed.stderr.splitlines()
    assert error.startswith("error: Connection timeout: vault:slow:") and f"within {TIMEOUT} s" in error
    assert value not in addressed.stdout + addressed.stderr
    _no_traceback(found)
    _no_traceback(addressed)


# -- --timeout values -----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["nan", "inf", "1e308", "-1", "0", "86401"])
@pytest.mark.parametrize("command", ["status", "audit"])
def test_a_timeout_that_is_not_a_sane_number_of_seconds_is_a_usage_error(tmp_path: Path, value: str,
                                                                           command: str) -> None:
    config = _config(tmp_path, _inventory(tmp_path))
    proc = run_cli(command, "--config", config, "--timeout", value)
    assert proc.returncode == 4
    assert proc.stdout == ""
    (line,) = proc.stderr.splitlines()
    assert line.startswith("error:") and "timeout" in line and "seconds" in line


@pytest.mark.parametrize("value", [".nan", ".inf", "1e308", "-5"])
def test_a_config_timeout_that_is_not_sane_is_a_config_error(tmp_path: Path, value: str) -> None:
    config = _config(tmp_path, _inventory(tmp_path), extra=f"timeout: {value}\n")
    proc = run_cli("status", "--config", config)
    assert proc.returncode == 4
    (line,) = proc.stderr.splitlines()
    assert line.startswith("error:") and "timeout" in line


# -- scan --verify: could not verify is an error ----------------------------------------------------


def _leaky_repo(tmp_path: Path, content: str) -> Path:
    """A directory with one hardcoded credential whose SA101/SA102 finding is accepted in the baseline.

    So the run's verdict rests on the verification alone: before the fix a
    verification that could not run left nothing failing (exit 0).
    """
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "secretaudit.yaml").write_text(f"timeout: {TIMEOUT}\n")
    (repo / "deploy.sh").write_text(content)
    proc = run_cli("baseline", "create", str(repo))
    assert proc.returncode == 0 and (repo / ".secretaudit-baseline.json").exists(), proc.stderr
    return repo


def _sa107(proc: object) -> list[dict]:
    return [f for f in json.loads(proc.stdout)["findings"] if f["check_id"] == "SA107"]  # type: ignore[attr-defined]


def test_verify_against_a_github_outage_is_an_error_not_a_pass(tmp_path: Path, github_api, rng) -> None:  # noqa: F811
    token = github_token(rng)
    github_api.add(token, login="ci-bot")  # live, but GitHub is down
    github_api.fail_status = 503
    repo = _leaky_repo(tmp_path, f'export GITHUB_TOKEN="{token}"\n')
    junit = tmp_path / "junit.xml"
    proc = run_cli("scan", "--verify", "--github-api-url", github_api.url, "--format", "json",
                   "--report", f"junit:{junit}", str(repo))
    assert proc.returncode == 1, proc.stderr
    (finding,) = _sa107(proc)
    assert finding["status"] == "error" and "could not be verified" in finding["message"]
    assert "HTTP 503" in finding["message"] and token not in proc.stdout + proc.stderr
    xml = junit.read_text()
    case = xml[xml.index('name="SA107'):]
    case = case[:case.index("</testcase>")]
    assert "<error" in case  # the report says "could not decide", never "passed"
    assert github_api.requests, "GitHub was never asked"


def test_verify_against_a_slow_loris_github_is_bounded_and_an_error(tmp_path: Path, rng: random.Random) -> None:
    token = github_token(rng)
    repo = _leaky_repo(tmp_path, f'export GITHUB_TOKEN="{token}"\n')
    with hostile_server("body") as slow:
        proc, elapsed = _timed("scan", "--verify", "--github-api-url", slow.url, "--format", "json", str(repo))
        asked = slow.connections
    assert asked >= 1 and elapsed < BUDGET, f"scan --verify took {elapsed:.1f} s with timeout {TIMEOUT}"
    assert proc.returncode == 1, proc.stderr
    (finding,) = _sa107(proc)
    assert finding["status"] == "error" and f"within {TIMEOUT} s (--timeout)" in finding["message"]


def test_verify_against_a_captive_portal_is_an_error(tmp_path: Path, rng: random.Random) -> None:
    token = github_token(rng)
    repo = _leaky_repo(tmp_path, f'export GITHUB_TOKEN="{token}"\n')
    with hostile_server("garbled") as portal:
        proc = run_cli("scan", "--verify", "--github-api-url", portal.url, "--format", "json", str(repo))
    assert proc.returncode == 1, proc.stderr
    (finding,) = _sa107(proc)
    assert finding["status"] == "error" and "not GitHub" in finding["message"]


@pytest.mark.parametrize("mode", ["503", "garbled"])
def test_verify_an_aws_key_against_a_broken_sts_is_an_error(tmp_path: Path, rng: random.Random, mode: str) -> None:
    key_id, secret = fake_aws_key_id(rng), fake_aws_secret(rng)
    repo = _leaky_repo(tmp_path, f'AWS_ACCESS_KEY_ID="{key_id}"\n'
                                 f'AWS_SECRET_ACCESS_KEY="{secret}"\n')  # secretaudit: ignore[SA102] an f-string template, not a value
    server = hostile_server(status=503) if mode == "503" else hostile_server("garbled")
    with server as sts:
        proc = run_cli("scan", "--verify", "--format", "json", str(repo), env={"AWS_ENDPOINT_URL": sts.url})
        asked = sts.connections
    assert asked >= 1, "STS was never asked"
    assert proc.returncode == 1, proc.stderr
    (finding,) = _sa107(proc)
    assert finding["status"] == "error" and "could not be verified" in finding["message"]
    assert secret not in proc.stdout + proc.stderr


# -- the mechanism itself ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["body", "headers", "drip"])
def test_a_deadline_ends_a_trickling_request(mode: str) -> None:
    import requests

    from secretaudit.deadline import DeadlineExceeded, deadline

    with hostile_server(mode) as slow:
        started = time.monotonic()
        with pytest.raises(DeadlineExceeded), deadline(1):
            requests.get(slow.url, timeout=30)  # a per-read timeout of 30 s never fires: a byte comes each second
        elapsed = time.monotonic() - started
    assert elapsed < 10


def test_a_deadline_leaves_the_socket_and_other_threads_as_they_were() -> None:
    from secretaudit.deadline import DeadlineExceeded, deadline

    left, right = socket.socketpair()
    with left, right:
        left.settimeout(20)
        with deadline(30):
            left.sendall(b"x")
        assert left.gettimeout() == 20 and right.recv(1) == b"x"
        started = time.monotonic()
        with pytest.raises(DeadlineExceeded), deadline(0.5):
            left.recv(1)  # its own timeout is 20 s: the deadline ends it
        assert time.monotonic() - started < 5 and left.gettimeout() == 20
        received: list[bytes] = []
        reader = threading.Thread(target=lambda: received.append(left.recv(1)))  # no deadline in that thread
        with deadline(0.01):
            reader.start()
            time.sleep(0.5)  # past this thread's deadline; the reader, blocked in recv, is not bound by it
        right.sendall(b"y")
        reader.join(10)
        assert received == [b"y"]


def test_a_deadline_spent_retrying_a_refused_connection_names_the_refusal() -> None:
    """A client that retries a refused connection until the deadline: the error says no server answers there.

    "did not answer completely, raise --timeout" would send the user the wrong way: the port is closed.
    """
    from secretaudit.deadline import DeadlineExceeded, deadline, sleep

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: connections are refused
        with pytest.raises(DeadlineExceeded) as caught, deadline(0.5):
            while True:  # what botocore's and urllib3's retries do
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=5).close()
                except ConnectionRefusedError:
                    sleep(0.1)
    message = caught.value.explain("Vault (list secrets)")
    assert "cannot connect (connection refused)" in message and "raise --timeout" not in message


def test_a_deadline_missed_after_a_connection_succeeded_blames_slowness() -> None:
    from secretaudit.deadline import DeadlineExceeded, deadline

    with hostile_server("body") as slow:
        import requests

        with pytest.raises(DeadlineExceeded) as caught, deadline(1):
            requests.get(slow.url, timeout=30)
    assert caught.value.refused is None and "raise --timeout" in caught.value.explain("Vault")
