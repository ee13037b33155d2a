"""The ``github`` format: findings as GitHub Actions workflow commands, read back as the runner reads them.

Each test runs the real CLI on a tree made at test time (fake credentials
generated here) and parses stdout with :func:`workflow_commands.parse`, a
transcription of the Actions runner's own parser.  A file name chosen to
forge properties or a second command must come back as the file name it
is, on one annotation line.
"""

from __future__ import annotations

import random
import string
from pathlib import Path

import pytest

from conftest import run_cli
from workflow_commands import Command, commands, parse


def _value(rng: random.Random, length: int = 28) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(length))


#: A file name built to forge properties (``,line=``, ``title=``), a second command (``::``) and an escape (``%``).
FORGING_NAME = "a,line=99,title=forged::add-mask::x%25y.py"


@pytest.fixture
def tree(tmp_path: Path, rng: random.Random) -> tuple[Path, list[str]]:
    """Three files: an ordinary finding, a forging file name, a waived finding; returns the secrets planted."""
    root = tmp_path / "tree"
    root.mkdir()
    secrets = [_value(rng) for _ in range(3)]
    (root / "settings.py").write_text(f'DEBUG = True\npassword = "{secrets[0]}"\n')
    (root / FORGING_NAME).write_text(f'api_secret = "{secrets[1]}"\n')
    (root / "fixture.py").write_text(f'token = "{secrets[2]}"  # secretaudit: ignore[SA102] test value\n')
    return root, secrets


def test_escaping_follows_githubs_rules() -> None:
    from secretaudit.reports.github_report import command, escape_data, escape_property

    assert escape_data("100% done\r\nnext: a, b") == "100%25 done%0D%0Anext: a, b"
    assert escape_property("100% done\r\nnext: a, b") == "100%25 done%0D%0Anext%3A a%2C b"
    line = command("error", "two\nlines", file="a,b:c.py", line=3, title=None)
    assert line == "::error file=a%2Cb%3Ac.py,line=3::two%0Alines"
    assert parse(line) == Command("error", {"file": "a,b:c.py", "line": "3"}, "two\nlines")


def test_findings_become_error_annotations_on_their_file_and_line(tree: tuple[Path, list[str]]) -> None:
    root, secrets = tree
    proc = run_cli("scan", "--no-cache", "--format", "github", ".", cwd=root)
    assert proc.returncode == 1, proc.stderr
    found = commands(proc.stdout)
    by_file = {c.properties["file"]: c for c in found}
    assert set(by_file) == {"settings.py", FORGING_NAME}, found  # the waived fixture.py is not annotated
    plain = by_file["settings.py"]
    assert plain.name == "error" and plain.properties["line"] == "2"
    assert plain.properties["title"] == "SA102 Generic secret [high]"
    assert "Hardcoded secret assigned to 'password'" in plain.data and "redacted, 28 chars" in plain.data
    assert "Rotate the secret" in plain.data.splitlines()[1]  # the remediation on its own line
    forged = by_file[FORGING_NAME]
    assert forged.properties.keys() == {"file", "line", "title"} and forged.properties["line"] == "1"
    assert not any(c.name == "add-mask" for c in found)
    for secret in secrets:
        assert secret not in proc.stdout and secret[4:16] not in proc.stdout
    assert "1 waived" in proc.stderr  # the human summary goes to stderr, the annotations alone to stdout


def test_findings_below_fail_on_are_warnings_and_the_run_passes(tree: tuple[Path, list[str]]) -> None:
    root, _ = tree
    proc = run_cli("scan", "--no-cache", "--format", "github", "--fail-on", "critical", ".", cwd=root)
    assert proc.returncode == 0, proc.stderr
    found = commands(proc.stdout)
    assert {c.name for c in found} == {"warning"} and len(found) == 2
    assert all("below fail-on, does not fail the run" in c.data for c in found)


def test_errors_come_first_then_warnings(tmp_path: Path, rng: random.Random) -> None:
    (tmp_path / "a.py").write_text(f'password = "{_value(rng)}"\n')  # SA102, high
    (tmp_path / "b.py").write_text(f'ID = "{"AKIA" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))}"\n')
    proc = run_cli("scan", "--no-cache", "--format", "github", "--fail-on", "critical", ".", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    found = commands(proc.stdout)
    assert [(c.name, c.properties["file"]) for c in found] == [("error", "b.py"), ("warning", "a.py")]


def test_a_file_that_could_not_be_scanned_is_an_error_annotation(tmp_path: Path) -> None:
    (tmp_path / "ok.py").write_text("x = 1\n")
    proc = run_cli("scan", "--no-cache", "--format", "github", "ok.py", "gone.py", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    (missing,) = commands(proc.stdout)
    assert missing.name == "error" and missing.properties["file"] == "gone.py"
    assert "not scanned: fails the run" in missing.data


def test_format_github_is_report_github_to_stdout_or_a_file(tree: tuple[Path, list[str]]) -> None:
    root, _ = tree
    via_format = run_cli("scan", "--no-cache", "--format", "github", ".", cwd=root)
    via_report = run_cli("scan", "--no-cache", "--report", "github:-", ".", cwd=root)
    to_file = run_cli("scan", "--no-cache", "--report", "github:out/annotations.txt", "--create-dirs", ".", cwd=root)
    assert via_format.returncode == via_report.returncode == to_file.returncode == 1
    assert via_format.stdout == via_report.stdout != ""
    assert (root / "out" / "annotations.txt").read_text() == via_format.stdout


def test_a_clean_run_prints_no_annotation(tmp_path: Path) -> None:
    (tmp_path / "ok.py").write_text("x = 1\n")
    proc = run_cli("scan", "--no-cache", "--format", "github", ".", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout == "", proc.stdout + proc.stderr


def test_a_control_character_in_a_file_name_cannot_forge_a_line(tmp_path: Path, rng: random.Random) -> None:
    name = "evil\n::stop-commands::tok\r\x1b[2Jx.py"
    (tmp_path / name).write_text(f'password = "{_value(rng)}"\n')
    proc = run_cli("scan", "--no-cache", "--format", "github", ".", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    (found,) = commands(proc.stdout)
    assert found.name == "error" and "\x1b" not in proc.stdout
    assert found.properties["file"] == "evil\\n::stop-commands::tok\\r\\x1b[2Jx.py"  # shown, not acted on
