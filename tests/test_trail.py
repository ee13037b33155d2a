"""``secretaudit trail``: the access trail read back through the real CLI.

Lines are written with the real writer (``secretaudit.trail.record`` /
``append``), as ``get``, ``rotate`` and ``validate`` write them; several
processes appending at once must leave every line whole and none lost; a
torn or corrupt line is one warning with its line number, never a traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT, run_cli

from secretaudit.config import load_config
from secretaudit.trail import FIELDS, append, event, record, trail_path

NOW = datetime.now(timezone.utc)


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A config whose audit_log is ``logs/trail.jsonl`` next to it."""
    monkeypatch.setenv("SECRETAUDIT_ACTOR", "alice")
    config_file = tmp_path / "secretaudit.yaml"
    config_file.write_text(yaml.safe_dump({"audit_log": "logs/trail.jsonl"}))
    config = load_config(str(config_file))
    return {"file": config_file, "config": config, "trail": trail_path(config)}


def _plant(project: dict[str, Any]) -> list[dict[str, Any]]:
    """Entries of the last weeks, oldest first, written by the real writer."""
    config, path = project["config"], project["trail"]
    planted = []
    for days_ago, command, secret, backend, outcome, reason in [
        (20, "rotate", "github-token", "vault:prod", "ok", "scheduled rotation"),
        (3, "get", "aws-deploy", "aws:eu-west-1", "denied", "deploy job"),
        (0.5, "validate", "github-token", "vault:prod", "ok", ""),
    ]:
        entry = event(command, secret, backend, outcome, reason)
        entry["time"] = _stamp(NOW - timedelta(days=days_ago))
        append(path, entry)
        planted.append(entry)
    planted.append(record(config, "get", "github-enterprise", "vault:prod", "ok", "release 1.4", version=7))
    return planted


def _trail(project: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("trail", "-c", str(project["file"]), *args)


def _json(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_table_shows_every_entry_oldest_first(project: dict[str, Any]) -> None:
    planted = _plant(project)
    proc = _trail(project)
    assert proc.returncode == 0 and proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("=") and "secretaudit access trail" in lines[0]
    assert lines[1] == f"trail: {project['trail']}"
    assert lines[2].split() == [f.upper() for f in FIELDS]
    rows = lines[3:-1]
    assert [row.split()[4] for row in rows] == [e["secret"] for e in planted]
    assert rows[0].startswith(planted[0]["time"]) and "alice" in rows[0] and "scheduled rotation" in rows[0]
    assert "4 entries" in lines[-1] and lines[-1].startswith("=")


def test_json_has_every_field_and_the_extras(project: dict[str, Any]) -> None:
    planted = _plant(project)
    report = _json(_trail(project, "--format", "json"))
    assert report["trail"] == str(project["trail"]) and report["skipped_lines"] == []
    assert [list(e)[:len(FIELDS)] for e in report["entries"]] == [list(FIELDS)] * 4
    assert report["entries"] == [{**e} for e in planted]
    assert report["entries"][-1]["version"] == 7 and report["entries"][-1]["actor"] == "alice"


@pytest.mark.parametrize(("since", "expected"), [
    ("24h", ["github-token", "github-enterprise"]),
    ("30m", ["github-enterprise"]),
    ("7d", ["aws-deploy", "github-token", "github-enterprise"]),
    ("4w", ["github-token", "aws-deploy", "github-token", "github-enterprise"]),
])
def test_since_durations(project: dict[str, Any], since: str, expected: list[str]) -> None:
    _plant(project)
    report = _json(_trail(project, "--since", since, "--format", "json"))
    assert [e["secret"] for e in report["entries"]] == expected


def test_since_an_iso_date(project: dict[str, Any]) -> None:
    _plant(project)
    day = (NOW - timedelta(days=10)).date().isoformat()
    report = _json(_trail(project, "--since", day, "--format", "json"))
    assert [e["secret"] for e in report["entries"]] == ["aws-deploy", "github-token", "github-enterprise"]
    text = _trail(project, "--since", day)
    assert f"3 entries (since {day}; 4 in the file)" in text.stdout


@pytest.mark.parametrize(("patterns", "expected"), [
    (("github-token",), ["github-token", "github-token"]),
    (("github*",), ["github-token", "github-token", "github-enterprise"]),
    (("aws:*",), ["aws-deploy"]),
    (("vault:prod:github-e*", "aws-deploy"), ["aws-deploy", "github-enterprise"]),
    (("nothing-like-it",), []),
])
def test_secret_names_and_globs(project: dict[str, Any], patterns: tuple[str, ...], expected: list[str]) -> None:
    _plant(project)
    args = [arg for pattern in patterns for arg in ("--secret", pattern)]
    report = _json(_trail(project, *args, "--format", "json"))
    assert [e["secret"] for e in report["entries"]] == expected


def test_filters_combine(project: dict[str, Any]) -> None:
    _plant(project)
    report = _json(_trail(project, "--since", "24h", "--secret", "github-token", "--format", "json"))
    assert [(e["command"], e["secret"]) for e in report["entries"]] == [("validate", "github-token")]


def test_torn_last_line_is_a_warning_with_its_number(project: dict[str, Any]) -> None:
    planted = _plant(project)
    whole = json.dumps(event("get", "half-written", "vault:prod", "ok"))
    with open(project["trail"], "a", encoding="utf-8") as handle:
        handle.write(whole[: len(whole) // 2])  # a writer killed mid-line, no newline
    proc = _trail(project)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == [
        f"warning: {project['trail']}:5: incomplete last line (a torn write), skipped"]
    assert "4 entries, 1 broken line skipped" in proc.stdout
    report = _json(_trail(project, "--format", "json"))
    assert [e["secret"] for e in report["entries"]] == [e["secret"] for e in planted]
    assert report["skipped_lines"] == [{"line": 5, "problem": "incomplete last line (a torn write)"}]


def test_corrupt_lines_in_the_middle_are_skipped_one_warning_each(project: dict[str, Any]) -> None:
    path = project["trail"]
    append(path, event("get", "first", "vault:prod", "ok"))
    with open(path, "ab") as handle:
        handle.write(b"{\"time\": oops}\n")                     # line 2: not JSON
        handle.write(b"\xff\xfe garbage\n")                     # line 3: not UTF-8
        handle.write(b"\n")                                     # blank: ignored
        handle.write(b"[1, 2, 3]\n")                            # line 5: JSON, not an entry
        handle.write(b'{"actor": "bob", "secret": "x"}\n')      # line 6: no time
        handle.write(b'{"time": "yesterday", "secret": "x"}\n')  # line 7: bad time
    append(path, event("get", "last", "vault:prod", "ok"))
    proc = _trail(project, "--format", "json")
    report = _json(proc)
    assert [e["secret"] for e in report["entries"]] == ["first", "last"]
    assert proc.stderr.splitlines() == [
        f"warning: {path}:2: not valid JSON (corrupt line), skipped",
        f"warning: {path}:3: not UTF-8 (corrupt line), skipped",
        f"warning: {path}:5: a JSON list, not a trail entry, skipped",
        f"warning: {path}:6: no valid 'time' field, skipped",
        f"warning: {path}:7: no valid 'time' field, skipped",
    ]


def test_fields_cannot_break_the_table_or_drive_the_terminal(project: dict[str, Any]) -> None:
    record(project["config"], "rotate", "db", "vault:prod", "ok", "line one\nline two \x1b[31mred\x1b[0m")
    proc = _trail(project)
    assert "\x1b" not in proc.stdout
    rows = [line for line in proc.stdout.splitlines() if " rotate " in line]
    assert len(rows) == 1 and "line one\\nline two \\x1b[31mred" in rows[0]  # shown as escapes, on one row


def test_missing_trail_says_where_it_looked_and_how_to_configure(project: dict[str, Any]) -> None:
    proc = _trail(project)
    assert proc.returncode == 5 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert f"no access trail at {project['trail']}" in lines[0]
    assert f"set audit_log in {project['file']}" in lines[0]


def test_default_location_without_a_config(tmp_path: Path) -> None:
    state = tmp_path / "state"
    workdir = tmp_path / "work"
    workdir.mkdir()
    proc = run_cli("trail", cwd=workdir, env={"XDG_STATE_HOME": str(state)})
    assert proc.returncode == 5
    assert f"no access trail at {state / 'secretaudit' / 'trail.jsonl'}" in proc.stderr
    assert "set audit_log in secretaudit.yaml" in proc.stderr
    append(state / "secretaudit" / "trail.jsonl", event("get", "found-it", "vault:prod", "ok"))
    proc = run_cli("trail", "--format", "json", cwd=workdir, env={"XDG_STATE_HOME": str(state)})
    assert [e["secret"] for e in json.loads(proc.stdout)["entries"]] == ["found-it"]


def test_unreadable_trail_is_one_line_exit_1(project: dict[str, Any]) -> None:
    project["trail"].mkdir(parents=True)  # a directory where the file should be
    proc = _trail(project)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "it is a directory; point audit_log at a file" in lines[0]


@pytest.mark.parametrize("since", ["yesterday", "5x", "24", "-3d"])
def test_bad_since_is_a_usage_error(project: dict[str, Any], since: str) -> None:
    _plant(project)
    proc = _trail(project, "--since", since)
    assert proc.returncode == 4
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "use e.g. 30m, 24h, 7d" in lines[0]


WRITER = """
import sys, time
from pathlib import Path
from secretaudit.trail import append, event
path, worker, count, start = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
while time.time() < start:
    time.sleep(0.001)
for i in range(count):
    append(path, event("get", f"secret-{worker}-{i}", "vault:prod", "ok", "x" * (i % 7) * 60))
"""


def test_concurrent_writers_lose_no_line_and_tear_none(project: dict[str, Any]) -> None:
    workers, count = 8, 60
    start = time.time() + 1.5  # every writer starts appending at the same moment
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(project["trail"]), str(w), str(count), str(start)],
                              env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, stderr=subprocess.PIPE)
             for w in range(workers)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    raw = project["trail"].read_bytes()
    assert raw.endswith(b"\n") and raw.count(b"\n") == workers * count
    proc = _trail(project, "--format", "json")
    report = _json(proc)
    assert proc.stderr == "" and report["skipped_lines"] == []
    names = sorted(e["secret"] for e in report["entries"])
    assert names == sorted(f"secret-{w}-{i}" for w in range(workers) for i in range(count))
