"""Hostile output paths, hostile text on the terminal, and runs that checked nothing (issue 14).

Every case runs the real CLI in a subprocess.

* ``--report FORMAT:PATH`` and ``baseline ... -o FILE`` write regular files
  only: devices (``/dev/null`` included), FIFOs, sockets, symbolic links,
  directories and read-only files are refused with exit 4 and one line
  before anything is scanned; a missing directory is created only with
  ``--create-dirs``; a write that fails at the end fails the run (exit 1).
* File names, JSON keys and inventory secret names holding ESC, OSC, BEL,
  newlines or a bidi override reach neither the terminal nor the markdown
  report as themselves: they are shown as ``\\x1b``-style escapes.
* An ``audit`` whose repositories hold nothing scannable and whose backends
  list no secret exits 5, as ``scan`` of an empty directory does.
"""

from __future__ import annotations

import json
import os
import random
import re
import socket
import stat
import string
from pathlib import Path

import pytest
from conftest import ROOT, fake_aws_key_id, fake_aws_secret, run_cli

#: What must never reach a terminal or a report as itself (newline aside: it separates output lines).
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
#: A file name that retitles the terminal, colours the rest red, forges a line and reverses its tail.
HOSTILE = "evil\x1b]0;pwned\x07\x1b[31mred\nline\u202egpj.env"
HOSTILE_SHOWN = "evil\\x1b]0;pwned\\x07\\x1b[31mred\\nline\\u202egpj.env"


def _one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    return lines[0]


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A directory with one clean file to scan."""
    (tmp_path / "ok.py").write_text("x = 1\n")
    return tmp_path


def _scan_report(work: Path, target: str | Path, *extra: str, fmt: str = "json", **kwargs) -> "object":
    return run_cli("scan", "--no-cache", str(work / "ok.py"), "--report", f"{fmt}:{target}", *extra,
                   cwd=work, timeout=60, **kwargs)


def _refused_before_scanning(proc, *words: str) -> str:
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "collected" not in proc.stdout and "passed" not in proc.stdout  # nothing ran
    line = _one_error_line(proc.stderr)
    for word in words:
        assert word in line, line
    return line


# -- output paths ----------------------------------------------------------------------------------


def _device(tmp_path: Path, name: str, minor: int) -> Path:
    """A character device to aim at: our own node as root (a regression must not clobber /dev), else /dev's."""
    if os.geteuid() != 0:
        return Path("/dev") / name  # a normal user cannot replace it: /dev is not writable
    node = tmp_path / name
    try:
        os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, minor))
    except PermissionError:
        pytest.skip("root without CAP_MKNOD: cannot make a device node safely")
    return node


@pytest.mark.parametrize("name,minor", [("full", 7), ("null", 3)])
def test_a_device_is_refused_before_scanning(work: Path, name: str, minor: int) -> None:
    """/dev/null too: consistent, and the message says how to discard a report (leave the option out)."""
    device = _device(work, name, minor)
    line = _refused_before_scanning(_scan_report(work, device), str(device), "character device",
                                    "leave the option out")
    assert "--report json:" in line
    assert stat.S_ISCHR(os.lstat(device).st_mode)


def test_a_fifo_is_refused_and_stays_a_fifo(work: Path) -> None:
    fifo = work / "pipe"
    os.mkfifo(fifo)
    _refused_before_scanning(_scan_report(work, fifo), str(fifo), "named pipe")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_socket_is_refused(work: Path) -> None:
    path = work / "s.sock"
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(path))
        _refused_before_scanning(_scan_report(work, path), str(path), "socket")
        assert stat.S_ISSOCK(os.lstat(path).st_mode)
    finally:
        server.close()


def test_a_symlink_is_refused_and_neither_it_nor_its_target_changes(work: Path) -> None:
    target = work / "real.json"
    target.write_text("keep me\n")
    link = work / "link.json"
    link.symlink_to(target)
    _refused_before_scanning(_scan_report(work, link), str(link), "symbolic link", "real.json")
    assert link.is_symlink() and target.read_text() == "keep me\n"


def test_a_link_like_dev_stdout_is_refused_and_the_error_points_at_dash(work: Path) -> None:
    """/dev/stdout is such a link; a copy of it here, so that a regression cannot replace the real one."""
    link = work / "stdout"
    link.symlink_to("/proc/self/fd/1")
    _refused_before_scanning(_scan_report(work, link), str(link), "symbolic link", "'-' for stdout")
    assert link.is_symlink()


def test_a_read_only_file_is_refused_even_as_root(work: Path) -> None:
    kept = work / "kept.json"
    kept.write_text("{}\n")
    kept.chmod(0o444)
    _refused_before_scanning(_scan_report(work, kept), str(kept), "read-only", "0444")
    assert kept.read_text() == "{}\n" and stat.S_IMODE(kept.stat().st_mode) == 0o444


def test_a_directory_is_refused(work: Path) -> None:
    directory = work / "out"
    directory.mkdir()
    _refused_before_scanning(_scan_report(work, directory), str(directory), "is a directory")
    assert directory.is_dir() and not any(directory.iterdir())


def test_a_missing_directory_is_created_only_with_create_dirs(work: Path) -> None:
    target = work / "missing" / "sub" / "r.json"
    _refused_before_scanning(_scan_report(work, target), str(target.parent), "does not exist", "--create-dirs")
    assert not (work / "missing").exists()

    proc = _scan_report(work, target, "--create-dirs")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(target.read_text())["summary"]["files_scanned"] == 1
    assert f"report written: json: {target}" in proc.stdout


def test_a_regular_file_is_replaced_and_keeps_its_mode(work: Path) -> None:
    private = work / "r.json"
    private.write_text("old\n")
    private.chmod(0o600)
    proc = _scan_report(work, private)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(private.read_text())["summary"]["files_scanned"] == 1
    assert stat.S_IMODE(private.stat().st_mode) == 0o600


def test_dash_is_stdout_and_the_summary_moves_to_stderr(work: Path) -> None:
    proc = _scan_report(work, "-")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["summary"]["files_scanned"] == 1
    assert "1 passed" in proc.stderr and not (work / "-").exists()


def test_two_outputs_on_stdout_or_in_one_file_are_refused(work: Path) -> None:
    _refused_before_scanning(_scan_report(work, "-", "--format", "sarif"), "--format sarif", "--report json:-")
    proc = _scan_report(work, work / "same", "--report", f"html:{work / 'same'}")
    _refused_before_scanning(proc, "write the same file")


#: ``ulimit -f`` caps the size of any file the process writes: the report write fails at the end, as on a
#: full disk (CPython ignores SIGXFSZ, so the write raises EFBIG instead of killing the process).
def _file_size_limit(blocks: int) -> tuple[str, ...]:
    return ("sh", "-c", f'ulimit -f {blocks} && exec "$@"', "sh")


def test_a_write_that_fails_at_the_end_fails_the_run(work: Path) -> None:
    big, small = work / "big.json", work / "small.md"
    proc = run_cli("scan", "--no-cache", "--no-color", str(work / "ok.py"), "--report", f"json:{big}",
                   "--report", f"markdown:{small}", cwd=work, timeout=60, wrapper=_file_size_limit(4))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    errors = [line for line in proc.stdout.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1 and f"--report json:{big}" in errors[0] and "could not write" in errors[0], proc.stdout
    assert "1 report not written" in proc.stdout
    assert small.exists() and not big.exists()
    assert not [p for p in work.iterdir() if p.name.startswith(".big.json.")]  # no temporary file left


def test_a_directory_appearing_during_the_run_fails_it(work: Path) -> None:
    """The path is checked again at the end: a long run leaves time for it to change."""
    plugin = work / "plugins" / "mkdir_at_start.py"
    plugin.parent.mkdir()
    plugin.write_text("import os\nfrom secretaudit.hookspec import hookimpl\n\n\n@hookimpl\n"
                      "def secretaudit_sessionstart(session):\n    os.mkdir(os.environ['APPEARS'])\n")
    target = work / "r.json"
    proc = run_cli("scan", "--no-cache", str(work / "ok.py"), "-p", "mkdir_at_start", "--report", f"json:{target}",
                   cwd=work, timeout=60,
                   env={"PYTHONPATH": f"{ROOT}{os.pathsep}{plugin.parent}", "APPEARS": str(target)})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    (error,) = [line for line in proc.stdout.splitlines() if line.startswith("ERROR")]
    assert f"--report json:{target}: {target} is a directory" in error
    assert target.is_dir()


def test_baseline_output_goes_through_the_same_check(work: Path) -> None:
    fifo = work / "baseline.fifo"
    os.mkfifo(fifo)
    proc = run_cli("baseline", "create", "--no-cache", str(work / "ok.py"), "-o", str(fifo), cwd=work, timeout=60)
    assert proc.returncode == 4 and "-o " in _one_error_line(proc.stderr) and "named pipe" in proc.stderr
    missing = work / "nope" / "b.json"
    proc = run_cli("baseline", "create", "--no-cache", str(work / "ok.py"), "-o", str(missing), cwd=work, timeout=60)
    assert proc.returncode == 4 and "--create-dirs" in _one_error_line(proc.stderr)
    proc = run_cli("baseline", "create", "--no-cache", "--create-dirs", str(work / "ok.py"), "-o", str(missing),
                   cwd=work, timeout=60)
    assert proc.returncode == 0 and json.loads(missing.read_text())["findings"] == []


def test_baseline_write_that_fails_at_the_end_is_one_line_and_exit_1(work: Path) -> None:
    target = work / "b.json"
    proc = run_cli("baseline", "create", "--no-cache", str(work / "ok.py"), "-o", str(target), cwd=work,
                   timeout=60, wrapper=_file_size_limit(0))
    assert proc.returncode == 1, proc.stderr
    assert "could not write" in _one_error_line(proc.stderr) and "Traceback" not in proc.stderr


def test_report_merge_refuses_a_device_too(work: Path, tmp_path: Path) -> None:
    shard = work / "shard.json"
    assert _scan_report(work, shard).returncode == 0
    device = _device(tmp_path, "full", 7)
    proc = run_cli("report", "merge", str(shard), "--report", f"html:{device}", cwd=work, timeout=60)
    assert proc.returncode == 4 and "character device" in _one_error_line(proc.stderr)
    assert stat.S_ISCHR(os.lstat(device).st_mode)


# -- terminal and markdown: hostile text ------------------------------------------------------------


def _assert_inert(text: str) -> None:
    found = RAW_CONTROL.search(text)
    assert found is None, f"raw {found.group()!r} in output"


@pytest.fixture
def hostile_tree(tmp_path: Path) -> Path:
    """A hostile file name holding an AWS key pair, and an auth profile store whose profile id is hostile."""
    rng = random.Random(20261124)
    root = tmp_path / "tree"
    root.mkdir()
    (root / HOSTILE).write_text(f"AWS_ACCESS_KEY_ID={fake_aws_key_id(rng)}\n"
                                f"AWS_SECRET_ACCESS_KEY={fake_aws_secret(rng)}\n")
    store = root / "agents" / "a" / "agent" / "auth-profiles.json"
    store.parent.mkdir(parents=True)
    key = "sk-proj-" + "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(48))
    store.write_text(json.dumps({"profiles": {"p\x1b[2J\x1b]8;;http://x\x07click\nme": {"type": "api_key",
                                                                                       "key": key}}}))
    return root


def test_scan_terminal_and_markdown_show_escapes(hostile_tree: Path, tmp_path: Path) -> None:
    md = tmp_path / "r.md"
    proc = run_cli("scan", "--no-cache", "--no-baseline", str(hostile_tree), "--report", f"markdown:{md}",
                   cwd=hostile_tree, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    _assert_inert(proc.stdout + proc.stderr)
    failed = [line for line in proc.stdout.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 3, proc.stdout  # one line each: the newline in the name forged none
    assert sum(line.startswith(f"FAILED {HOSTILE_SHOWN}:") for line in failed) == 2
    assert any("profiles.p\\x1b[2J\\x1b]8;;http://x\\x07click\\nme.key" in line for line in failed)
    report = md.read_text()
    _assert_inert(report)
    assert "evil\\\\x1b\\]0;pwned\\\\x07" in report  # the escape, its backslash and bracket escaped for markdown


def test_audit_terminal_shows_escapes(hostile_tree: Path, tmp_path: Path) -> None:
    config = tmp_path / "secretaudit.yaml"
    config.write_text(f"repos: [{json.dumps(str(hostile_tree))}]\n")
    proc = run_cli("audit", "--config", str(config), cwd=tmp_path, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    _assert_inert(proc.stdout + proc.stderr)
    assert re.search(rf"^FAILED \S*{re.escape(HOSTILE_SHOWN)}:1 SA101", proc.stdout, re.M), proc.stdout


@pytest.fixture
def inventory(tmp_path: Path) -> Path:
    """A generic-backend config whose inventory holds hostile secret names and owners."""
    (tmp_path / "inventory.json").write_text(json.dumps({"secrets": [
        {"name": "db\x1b]0;owned\x07\npassword\u202e", "owner": "ops\x1b[2J", "created": "2026-01-01"},
        {"name": "plain-token", "owner": "platform", "created": "2026-01-01"}]}))
    config = tmp_path / "secretaudit.yaml"
    config.write_text("backends:\n  - {type: generic, name: inventory, file: inventory.json}\n")
    return config


def test_list_status_and_audit_show_inventory_names_as_escapes(inventory: Path) -> None:
    listed = run_cli("list", "--config", str(inventory), timeout=60)
    assert listed.returncode == 0, listed.stderr
    _assert_inert(listed.stdout + listed.stderr)
    rows = [line for line in listed.stdout.splitlines() if line.startswith("generic:inventory ")]
    assert len(rows) == 2, listed.stdout
    assert any("db\\x1b]0;owned\\x07\\npassword\\u202e" in row and "ops\\x1b[2J" in row for row in rows)

    status = run_cli("status", "--config", str(inventory), timeout=60)
    _assert_inert(status.stdout + status.stderr)
    assert "generic:inventory: reachable" in status.stdout, status.stdout

    audit = run_cli("audit", "--config", str(inventory), "--as-of", "2026-12-01", timeout=60)
    _assert_inert(audit.stdout + audit.stderr)
    assert "db\\x1b]0;owned\\x07\\npassword\\u202e" in audit.stdout


def test_a_hostile_argument_in_a_usage_error_is_shown_as_escapes(work: Path) -> None:
    proc = run_cli("scan", "--baseline", "\x1b]0;x\x07b.json", str(work / "ok.py"), cwd=work, timeout=60)
    assert proc.returncode == 4
    _assert_inert(proc.stdout + proc.stderr)
    assert "baseline \\x1b]0;x\\x07b.json does not exist" in _one_error_line(proc.stderr)
    proc = run_cli("scan", "--bogus-\x1b[2J", cwd=work, timeout=60)  # click's own message quotes it
    assert proc.returncode == 4
    _assert_inert(proc.stdout + proc.stderr)
    assert "\\x1b[2J" in proc.stderr


# -- runs that checked nothing ---------------------------------------------------------------------


def _audit_repos(tmp_path: Path, repo: Path, *extra: str):
    config = tmp_path / "secretaudit.yaml"
    config.write_text(f"repos: [{json.dumps(str(repo))}]\n")
    return run_cli("audit", "--config", str(config), *extra, cwd=tmp_path, timeout=60)


def test_audit_of_an_empty_repo_dir_exits_5(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = _audit_repos(tmp_path, empty)
    assert proc.returncode == 5, proc.stdout + proc.stderr
    assert "only the config file was checked; no file was scanned" in proc.stdout
    assert _audit_repos(tmp_path, empty, "--allow-empty").returncode == 0


def test_audit_of_a_repo_with_only_skipped_files_exits_5_like_scan(tmp_path: Path) -> None:
    repo = tmp_path / "binaries"
    repo.mkdir()
    (repo / "blob.bin").write_bytes(b"\x00\x01\x02binary")
    assert run_cli("scan", "--no-cache", str(repo), cwd=tmp_path, timeout=60).returncode == 5
    assert _audit_repos(tmp_path, repo).returncode == 5


def test_audit_of_a_repo_with_a_file_passes(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "app.py").write_text("x = 1\n")
    proc = _audit_repos(tmp_path, repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_audit_of_a_backend_with_no_secret_exits_5(tmp_path: Path) -> None:
    """A backend that answers with nothing (a wrong path, an empty inventory) checked nothing either."""
    (tmp_path / "inventory.json").write_text(json.dumps({"secrets": []}))
    config = tmp_path / "secretaudit.yaml"
    config.write_text("backends:\n  - {type: generic, name: inventory, file: inventory.json}\n")
    proc = run_cli("audit", "--config", str(config), cwd=tmp_path, timeout=60)
    assert proc.returncode == 5, proc.stdout + proc.stderr
    assert "nothing was checked" in proc.stdout


def test_format_is_a_report_on_stdout_and_tells_of_a_file_report_that_failed(work: Path) -> None:
    """One output path: ``--format json`` is ``--report json:-``, rendered after the files, so its exit code
    counts a report file that could not be written."""
    same = run_cli("scan", "--no-cache", "--no-color", str(work / "ok.py"), "--format", "json", cwd=work, timeout=60)
    dash = run_cli("scan", "--no-cache", "--no-color", str(work / "ok.py"), "--report", "json:-", cwd=work,
                   timeout=60)
    assert same.returncode == dash.returncode == 0
    strip = lambda text: {k: v for k, v in json.loads(text).items() if k != "run"}  # noqa: E731
    summary = lambda text: re.sub(r" in [\d.]+s ", " in Xs ", text.splitlines()[-1])  # noqa: E731 (runs differ in time)
    assert strip(same.stdout) == strip(dash.stdout) and summary(same.stderr) == summary(dash.stderr)
    big = work / "big.json"
    proc = run_cli("scan", "--no-cache", "--no-color", str(work / "ok.py"), "--format", "json", "--report",
                   f"json:{big}", cwd=work, timeout=60, wrapper=_file_size_limit(1))
    assert proc.returncode == 1 and json.loads(proc.stdout)["run"]["exit_code"] == 1, proc.stderr
    assert "could not write" in proc.stderr and not big.exists()
