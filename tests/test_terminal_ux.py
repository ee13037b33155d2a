"""The terminal through the real CLI: what to do next, colour switches, warnings, the summary, the banner.

Fake credentials are generated at test time (``conftest.fake_aws_key_id``).
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from conftest import fake_aws_key_id, run_cli, run_json

ANSI = "\x1b["


def _lines(text: str) -> list[str]:
    return text.splitlines()


def _summary(proc) -> str:
    return _lines(proc.stdout)[-1]


@pytest.fixture
def keys() -> list[str]:
    rng = random.Random()
    return [fake_aws_key_id(rng) for _ in range(6)]


# -- 1. what to do next --------------------------------------------------------------------------


def _plant(tree: Path, keys: list[str]) -> dict[str, int]:
    """One AWS key id per file, in four comment syntaxes and one without comments; returns path -> line."""
    files = {
        "deploy.sh": (f"#!/bin/sh\nexport AWS_ACCESS_KEY_ID={keys[0]}\n", 2),
        "src/app.js": (f"const region = 'eu-west-1';\nconst keyId = '{keys[1]}';\n", 2),
        "web/page.html": (f'<html>\n<meta name="aws" content="{keys[2]}">\n</html>\n', 2),
        "db/seed.sql": (f"INSERT INTO keys VALUES ('{keys[3]}');\n", 1),
        "data/keys.json": (f'{{"key_id": "{keys[5]}"}}\n', 1),
    }
    for name, (text, _) in files.items():
        path = tree / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return {name: line for name, (_, line) in files.items()}


def test_a_failing_scan_says_what_to_do_next_with_the_exact_waiver_per_comment_syntax(tmp_path: Path,
                                                                                     keys: list[str]) -> None:
    planted = _plant(tmp_path, keys)

    proc = run_cli("scan", "--no-cache", ".", cwd=tmp_path)

    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = proc.stdout
    after = out[out.index("what next"):]
    assert "rotate" in after and "secretaudit baseline update" in after
    expected = {"deploy.sh": "# secretaudit: ignore[SA101] <reason>",
                "src/app.js": "// secretaudit: ignore[SA101] <reason>",
                "web/page.html": "<!-- secretaudit: ignore[SA101] <reason> -->",
                "db/seed.sql": "-- secretaudit: ignore[SA101] <reason>"}
    shown = {}
    for line in _lines(after):
        match = re.match(r"\s+(\S+):(\d+)\s+(.*)$", line)
        if match:
            shown[match.group(1)] = (int(match.group(2)), match.group(3))
    assert {name: text for name, (_, text) in shown.items() if name in expected} == expected
    assert "takes no comment" in shown["data/keys.json"][1]
    assert all(shown[name][0] == planted[name] for name in shown)
    assert not any(key in out for key in keys)

    # the advice is exact: pasting each waiver (with a reason) on its line leaves only the JSON file failing
    for name, (line_no, text) in shown.items():
        if name in expected:
            path = tmp_path / name
            lines = path.read_text().splitlines()
            lines[line_no - 1] += " " + text.replace("<reason>", "test fixture, not a real key")
            path.write_text("\n".join(lines) + "\n")
    proc, report = run_json("scan", "--no-cache", ".", cwd=tmp_path)
    failed = {f["location"]["path"] for f in report["findings"] if f["status"] == "failed"}
    assert failed == {"data/keys.json"}, report["findings"]
    assert report["summary"]["waived"] == 4


def test_a_passing_scan_prints_no_advice(tmp_path: Path) -> None:
    (tmp_path / "ok.py").write_text("print('hello')\n")
    proc = run_cli("scan", "--no-cache", ".", cwd=tmp_path)
    assert proc.returncode == 0 and "what next" not in proc.stdout


# -- 2. NO_COLOR and FORCE_COLOR -------------------------------------------------------------------------------


@pytest.mark.parametrize("env, flags, coloured", [
    ({}, (), False),                                        # not a terminal
    ({"FORCE_COLOR": "1"}, (), True),                       # CI logs that render ANSI
    ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, (), False),     # NO_COLOR wins over FORCE_COLOR
    ({"FORCE_COLOR": "1", "NO_COLOR": ""}, (), True),       # an empty NO_COLOR is unset (no-color.org)
    ({"FORCE_COLOR": "1"}, ("--no-color",), False),         # the flag wins over everything
], ids=["pipe", "force", "no-color-env", "empty-no-color", "flag"])
def test_colour_follows_no_color_force_color_and_the_flag(tmp_path: Path, keys: list[str], env: dict[str, str],
                                                          flags: tuple[str, ...], coloured: bool) -> None:
    (tmp_path / "deploy.sh").write_text(f"export AWS_ACCESS_KEY_ID={keys[0]}\n")
    # through env(1): run_cli drops NO_COLOR from the environment it is given
    proc = run_cli("scan", "--no-cache", *flags, ".", cwd=tmp_path,
                   wrapper=("env", *(f"{k}={v}" for k, v in env.items())))
    assert proc.returncode == 1
    assert (ANSI in proc.stdout) is coloured, proc.stdout


# -- 3. below --fail-on: a warning --------------------------------------------------------------------------


def _connection_string(tmp_path: Path) -> None:
    """A high-severity SA103 finding, no critical one."""
    (tmp_path / "db.py").write_text('DSN = "postgresql://app:Tq8vLx2pKz9mWq4r@db.internal:5432/app"\n')  # pragma: allowlist secret


def test_a_finding_below_fail_on_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    _connection_string(tmp_path)

    proc = run_cli("scan", "--no-cache", "--fail-on", "critical", ".", cwd=tmp_path, env={"FORCE_COLOR": "1"})

    assert proc.returncode == 0, proc.stdout
    plain = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout)
    assert re.search(r"^WARNING db\.py:1 SA103 postgres-uri \[high\]", plain, re.M), plain
    assert "FAILED" not in plain and "what next" not in plain
    assert "\x1b[33m" in proc.stdout and "\x1b[31m" not in proc.stdout  # yellow, never red
    assert re.search(r"^=+ 1 warning; 1 file: 0 passed in [\d.]+s =+$", _lines(plain)[-1]), plain

    _, report = run_json("scan", "--no-cache", "--fail-on", "critical", ".", cwd=tmp_path)
    assert report["summary"]["failed"] == 1 and report["summary"]["warnings"] == 1  # failed kept, warnings added

    at_threshold = run_cli("scan", "--no-cache", ".", cwd=tmp_path)
    assert at_threshold.returncode == 1 and re.search(r"^FAILED db\.py:1 SA103", at_threshold.stdout, re.M)


# -- 4. the summary line says what each number counts ----------------------------------------------------------


def test_summary_counts_findings_and_files_apart_and_pluralises(tmp_path: Path, keys: list[str]) -> None:
    (tmp_path / "settings.py").write_text(f'A = "{keys[0]}"\nB = "{keys[1]}"\n')
    (tmp_path / "clean.py").write_text("print('hello')\n")
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))

    two = run_cli("scan", "--no-cache", "--no-color", ".", cwd=tmp_path)
    assert re.search(r" 2 findings failed; 3 files: 1 passed, 1 skipped \(1 binary\) in [\d.]+s ", _summary(two)), \
        _summary(two)

    (tmp_path / "settings.py").write_text(f'A = "{keys[0]}"\n')
    one = run_cli("scan", "--no-cache", "--no-color", "settings.py", "missing.py", cwd=tmp_path)
    assert re.search(r" 1 finding failed; 2 files: 0 passed, 1 error \(1 missing\) in ", _summary(one)), _summary(one)

    errors = run_cli("scan", "--no-cache", "--no-color", "clean.py", "gone1.py", "gone2.py", cwd=tmp_path)
    assert re.search(r" 3 files: 1 passed, 2 errors \(2 missing\) in ", _summary(errors)), _summary(errors)


def test_audit_summary_names_files_secrets_and_the_config(tmp_path: Path, keys: list[str]) -> None:
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "app.py").write_text(f'KEY = "{keys[0]}"\n')
    (tmp_path / "inventory.yaml").write_text(
        "secrets:\n"
        "  - {name: a, kind: generic, owner: ops, expiry_date: 2030-01-01, last_rotated: 2026-11-01, rotation_enabled: true}\n"
        "  - {name: b, kind: generic, owner: ops, expiry_date: 2030-01-01, last_rotated: 2026-11-01, rotation_enabled: true}\n")
    (tmp_path / "secretaudit.yaml").write_text(
        "backends:\n  - {type: generic, name: inventory, file: inventory.yaml}\nrepos:\n  - repo\n")

    proc = run_cli("audit", "--config", "secretaudit.yaml", "--as-of", "2026-12-01", "--no-color", cwd=tmp_path)

    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert re.search(r" 1 finding failed; 1 file, 2 secrets, 1 config file: 3 passed in ", _summary(proc)), \
        proc.stdout
    assert "secretaudit baseline update" not in proc.stdout  # an audit reads no baseline
    assert "'waivers:' list of secretaudit.yaml" in proc.stdout


# -- 5. the banner lists the checks that apply ----------------------------------------------------------------


def _banner_checks(proc) -> list[str]:
    line = next(line for line in _lines(proc.stdout) if ", checks: " in line)
    return line.split(", checks: ", 1)[1].split(", ")


def test_scan_banner_lists_only_the_checks_a_scan_runs(tmp_path: Path, repo: Path) -> None:
    (tmp_path / "ok.py").write_text("print('hello')\n")
    files = _banner_checks(run_cli("scan", "--no-cache", ".", cwd=tmp_path))
    assert {"SA101", "SA102", "SA103", "SA104"} <= set(files)
    assert not [c for c in files if c[:3] in ("SA2", "SA3", "SA4", "SA5")], files  # backends, scopes, validators
    assert "SA105" not in files  # history only

    (repo / "ok.py").write_text("print('hello')\n")
    from conftest import git

    git(repo, "add", "ok.py")
    git(repo, "commit", "-qm", "ok")
    history = _banner_checks(run_cli("scan", "--history", "--no-cache", ".", cwd=repo))
    assert "SA105" in history and "SA101" not in history


def test_the_advised_baseline_update_accepts_the_findings_quietly(tmp_path: Path, keys: list[str]) -> None:
    """``secretaudit baseline update``, as the advice names it, writes the baseline and prints no report."""
    (tmp_path / "deploy.sh").write_text(f"export AWS_ACCESS_KEY_ID={keys[0]}\n")
    assert "secretaudit baseline update" in run_cli("scan", "--no-cache", ".", cwd=tmp_path).stdout

    update = run_cli("baseline", "update", "--no-cache", cwd=tmp_path)

    assert update.returncode == 0 and update.stdout == "", update.stdout[:300]
    assert "1 accepted findings" in update.stderr
    after = run_cli("scan", "--no-cache", ".", cwd=tmp_path)
    assert after.returncode == 0 and "1 finding waived" in after.stdout, after.stdout
