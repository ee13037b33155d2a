"""``secretaudit audit --notify URL``: the Slack-format summary, posted to a real local HTTP server.

The audit runs for real (an inventory backend and a repository with a
planted fake key, through the CLI in a subprocess); a ``http.server`` in a
thread receives the post.  A failing receiver (500, 429, too slow,
unreachable) must give one warning line on stderr and leave the audit's own
exit code and stdout exactly as without ``--notify``.  No value, and no
redacted evidence either, may reach the payload; the webhook URL's path
(its credential) never reaches stderr.
"""

from __future__ import annotations

import json
import os
import re
import random
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml
from conftest import fake_aws_key_id, fake_aws_secret, run_cli
from servers import free_port

AS_OF = "2026-11-24"
#: the webhook URL's path is a credential: it must never be printed
HOOK_PATH = "/services/T0000/B0000/hook-credential-part"

INVENTORY = {"secrets": [
    {"name": "expired-token", "kind": "github-token", "owner": "platform", "expiry_date": "2026-11-20",
     "rotation_enabled": True, "rotation_days": 30, "last_rotated": "2026-11-01"},
    {"name": "soon-token", "kind": "github-token", "owner": "platform", "expiry_date": "2026-12-04",
     "rotation_enabled": True, "rotation_days": 30, "last_rotated": "2026-11-01"},
    {"name": "later-key", "kind": "generic", "owner": "data", "expiry_date": "2026-12-20",
     "rotation_enabled": True, "rotation_days": 90, "last_rotated": "2026-11-01"},
    {"name": "far-key", "kind": "generic", "owner": "data", "expiry_date": "2027-03-01",
     "rotation_enabled": True, "rotation_days": 90, "last_rotated": "2026-11-01"},
]}


class Receiver:
    """A webhook receiver: answers each post with the next planned (status, headers, delay)."""

    def __init__(self, plan: list[tuple[int, dict[str, str], float]]) -> None:
        self.plan = plan
        self.posts: list[dict[str, Any]] = []
        self.times: list[float] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.times.append(time.monotonic())
                receiver.posts.append({"path": self.path, "content_type": self.headers.get("Content-Type"),
                                       "json": json.loads(body)})
                status, headers, delay = receiver.plan[min(len(receiver.posts), len(receiver.plan)) - 1]
                time.sleep(delay)
                try:
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{HOOK_PATH}"


@contextmanager
def receiver(*plan: tuple[int, dict[str, str], float]) -> Iterator[Receiver]:
    rec = Receiver(list(plan) or [(200, {}, 0.0)])
    thread = threading.Thread(target=rec.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        rec.server.shutdown()
        rec.server.server_close()


@pytest.fixture
def project(tmp_path: Path) -> dict[str, Any]:
    """A config auditing an inventory and a repository holding one fake AWS key pair."""
    rng = random.Random(6)
    key_id, secret = fake_aws_key_id(rng), fake_aws_secret(rng)
    app = tmp_path / "app"
    app.mkdir()
    (app / "settings.py").write_text(f'AWS_ACCESS_KEY_ID = "{key_id}"\nAWS_SECRET_ACCESS_KEY = "{secret}"\n')
    (tmp_path / "inventory.yaml").write_text(yaml.safe_dump(INVENTORY))
    config = tmp_path / "secretaudit.yaml"
    config.write_text(yaml.safe_dump({
        "backends": [{"type": "generic", "name": "inventory", "file": "inventory.yaml"}],
        "repos": ["app"], "policy": {"expiry_warning_days": 30}}))
    return {"config": config, "dir": tmp_path, "values": [key_id, secret]}


def _audit(project: dict[str, Any], *args: str) -> Any:
    return run_cli("audit", "--config", str(project["config"]), "--as-of", AS_OF, "--no-color", *args)


def _facts(rec: Receiver) -> dict[str, Any]:
    assert len(rec.posts) == 1, rec.posts
    return rec.posts[0]["json"]["secretaudit"]


def test_summary_posted_in_slack_format(project: dict[str, Any]) -> None:
    with receiver() as rec:
        proc = _audit(project, "--notify", rec.url)
    assert proc.returncode == 1, proc.stderr
    assert "warning" not in proc.stderr
    post = rec.posts[0]
    assert post["path"] == HOOK_PATH and post["content_type"].startswith("application/json")
    payload = post["json"]
    # Slack's incoming-webhook shape
    assert isinstance(payload["text"], str) and payload["text"].startswith(":x: secretaudit audit FAILED")
    assert [b["type"] for b in payload["blocks"]][:2] == ["header", "section"]
    assert payload["blocks"][0]["text"] == {"type": "plain_text", "text": "secretaudit audit FAILED"}
    assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in payload["blocks"])
    facts = payload["secretaudit"]
    assert facts["verdict"] == "FAILED" and facts["exit_code"] == 1 and facts["compared_to"] is None
    failures = {(f["check_id"], f["where"]) for f in facts["new_failures"]}
    assert ("SA201", "generic:inventory:expired-token") in failures
    assert ("SA202", "generic:inventory:soon-token") in failures
    assert any(c.startswith("SA1") and w.endswith("settings.py:1") for c, w in failures), failures
    assert facts["counts"]["failed"] == len(facts["new_failures"])
    # what expires within policy.expiry_warning_days (30), soonest first; not the expired, not the far one
    assert [(r["secret"], r["expires"], r["days_left"]) for r in facts["expiring"]] == [
        ("generic:inventory:soon-token", "2026-12-04", 10), ("generic:inventory:later-key", "2026-12-20", 26)]
    text = json.dumps(payload)
    assert "soon-token: 2026-12-04 (10 days left), owner platform" in text
    # no value, not even the redacted evidence of one
    for value in project["values"]:
        assert value not in text and value[:4] + "…" not in text
    assert "redacted" not in text


def test_window_follows_policy_and_compare_limits_to_new_failures(project: dict[str, Any]) -> None:
    previous = project["dir"] / "previous.json"
    first = _audit(project, "--report", f"json:{previous}")
    assert first.returncode == 1 and previous.exists()
    inventory = yaml.safe_load((project["dir"] / "inventory.yaml").read_text())
    inventory["secrets"].append({"name": "new-problem", "kind": "generic", "owner": "ops", "rotation_enabled": False})
    (project["dir"] / "inventory.yaml").write_text(yaml.safe_dump(inventory))
    config = yaml.safe_load(project["config"].read_text())
    config["policy"]["expiry_warning_days"] = 12
    project["config"].write_text(yaml.safe_dump(config))
    with receiver() as rec:
        proc = _audit(project, "--compare", str(previous), "--notify", rec.url)
    assert proc.returncode == 1
    facts = _facts(rec)
    assert facts["compared_to"].endswith("previous.json") and not os.path.isabs(facts["compared_to"])
    assert [(f["check_id"], f["where"]) for f in facts["new_failures"]] == [
        ("SA204", "generic:inventory:new-problem")]
    assert facts["expiry_window_days"] == 12
    assert [r["secret"] for r in facts["expiring"]] == ["generic:inventory:soon-token"]
    assert "New failures since" in json.dumps(rec.posts[0]["json"]["blocks"])


def _baseline(project: dict[str, Any]) -> Any:
    return _audit(project, "--format", "json")


def _same_result(proc: Any, baseline: Any) -> None:
    """Exit code and stdout (minus run times) exactly as the audit without --notify."""
    assert proc.returncode == baseline.returncode
    def strip(out: str) -> dict[str, Any]:
        report = {k: v for k, v in json.loads(out).items() if k != "run"}
        report["summary"] = {k: v for k, v in report["summary"].items() if k != "files_from_cache"}  # the cache warms up
        return report

    assert strip(proc.stdout) == strip(baseline.stdout)


def test_server_error_is_retried_once_then_a_warning(project: dict[str, Any]) -> None:
    baseline = _baseline(project)
    with receiver((500, {}, 0.0)) as rec:
        proc = _audit(project, "--format", "json", "--notify", rec.url)
    assert len(rec.posts) == 2  # one retry
    _same_result(proc, baseline)
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    host = rec.url.split(HOOK_PATH)[0]
    assert warnings == [f"warning: could not post the audit summary: {host}/… answered HTTP 500 twice; "
                        "the receiver failed; try again later"]
    assert HOOK_PATH not in proc.stderr and "hook-credential-part" not in proc.stdout + proc.stderr


def test_429_retry_after_is_honoured(project: dict[str, Any]) -> None:
    with receiver((429, {"Retry-After": "1"}, 0.0), (200, {}, 0.0)) as rec:
        proc = _audit(project, "--notify", rec.url)
    assert proc.returncode == 1 and "warning" not in proc.stderr
    assert len(rec.posts) == 2 and rec.times[1] - rec.times[0] >= 0.9
    assert rec.posts[0]["json"] == rec.posts[1]["json"]


def test_unreasonable_retry_after_is_not_waited_for(project: dict[str, Any]) -> None:
    with receiver((503, {"Retry-After": "3600"}, 0.0)) as rec:
        started = time.monotonic()
        proc = _audit(project, "--notify", rec.url)
    assert time.monotonic() - started < 60 and len(rec.posts) == 1
    assert proc.returncode == 1
    assert "answered HTTP 503 and asked to retry after 3600s" in proc.stderr


def test_rejected_webhook_is_not_retried(project: dict[str, Any]) -> None:
    with receiver((404, {}, 0.0)) as rec:
        proc = _audit(project, "--notify", rec.url)
    assert len(rec.posts) == 1 and proc.returncode == 1
    assert "answered HTTP 404; check the webhook URL (revoked or mistyped?)" in proc.stderr


def test_unreachable_url_is_a_warning_and_keeps_the_exit_code(project: dict[str, Any]) -> None:
    baseline = _baseline(project)
    url = f"http://127.0.0.1:{free_port()}{HOOK_PATH}"  # nothing listens there
    proc = _audit(project, "--format", "json", "--notify", url)
    _same_result(proc, baseline)
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "cannot reach http://127.0.0.1:" in warnings[0]
    assert "check the URL and the network" in warnings[0] and HOOK_PATH not in proc.stderr


def test_slow_receiver_times_out_with_a_warning(project: dict[str, Any]) -> None:
    with receiver((200, {}, 5.0)) as rec:
        proc = _audit(project, "--timeout", "1", "--notify", rec.url)
    assert proc.returncode == 1
    assert "did not answer completely within 1 s (--timeout)" in proc.stderr


def test_clean_audit_posts_passed(tmp_path: Path) -> None:
    (tmp_path / "inventory.yaml").write_text(yaml.safe_dump({"secrets": [INVENTORY["secrets"][3]]}))
    config = tmp_path / "secretaudit.yaml"
    config.write_text(yaml.safe_dump({"backends": [{"type": "generic", "name": "inventory",
                                                    "file": "inventory.yaml"}]}))
    with receiver() as rec:
        proc = run_cli("audit", "--config", str(config), "--as-of", AS_OF, "--notify", rec.url)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    facts = _facts(rec)
    assert facts["verdict"] == "passed" and facts["new_failures"] == [] and facts["expiring"] == []
    assert rec.posts[0]["json"]["text"].startswith(":white_check_mark: secretaudit audit passed")


@pytest.mark.parametrize("url", ["ftp://example.com/hook", "not a url", "https://"])
def test_bad_notify_url_is_a_usage_error(project: dict[str, Any], url: str) -> None:
    proc = _audit(project, "--notify", url)
    assert proc.returncode == 4
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --notify needs an http(s) webhook URL")


def test_a_secret_that_went_from_expiring_to_expired_is_worse_not_fixed(project: dict[str, Any]) -> None:
    """--compare pairs findings by subject: SA202 -> SA201 on one secret is "worse" in the terminal, JSON and Slack."""
    previous, now = project["dir"] / "previous.json", project["dir"] / "now.json"
    assert _audit(project, "--report", f"json:{previous}").returncode == 1
    with receiver() as rec:
        proc = run_cli("audit", "--config", str(project["config"]), "--as-of", "2026-12-05", "--no-color",
                       "--compare", str(previous), "--report", f"json:{now}", "--notify", rec.url)
    assert proc.returncode == 1, proc.stdout + proc.stderr

    # the terminal: a WORSE line, and soon-token is not among the FIXED
    assert "WORSE generic:inventory:soon-token SA202 -> SA201 [critical]" in proc.stdout, proc.stdout
    assert not [line for line in proc.stdout.splitlines() if line.startswith("FIXED") and "soon-token" in line]
    assert re.search(r"^since \S+: \d+ new, 1 worse, 0 fixed, \d+ unchanged$", proc.stdout, re.M), proc.stdout

    # the JSON report: a worse entry, in neither "fixed" nor "new"
    comparison = json.loads(now.read_text())["comparison"]
    (change,) = comparison["worse"]
    assert change["before"]["check_id"] == "SA202"
    before = change["before"]["location"]  # (plus where the inventory declares it: declared_in, declared_line)
    assert (before["backend"], before["name"]) == ("generic:inventory", "soon-token")
    after = next(f for f in json.loads(now.read_text())["findings"] if f["fingerprint"] == change["after"])
    assert after["check_id"] == "SA201" and after["location"]["name"] == "soon-token"
    assert comparison["fixed"] == [] and change["after"] not in comparison["new"]

    # Slack: the worse entry, with what it was
    facts = _facts(rec)
    assert facts["worse"] == [{"check_id": "SA201", "was": "SA202", "severity": "critical",
                               "where": "generic:inventory:soon-token", "title": "Secret expired"}]
    assert ("SA201", "generic:inventory:soon-token") not in {(f["check_id"], f["where"]) for f in facts["new_failures"]}
    text = json.dumps(rec.posts[0]["json"])
    assert "Worse since" in text and "1 worse" in rec.posts[0]["json"]["text"]
