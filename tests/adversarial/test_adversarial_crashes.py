"""Crashes and signals (issue 14): user mistakes are one line with the right exit code, never a traceback.

Every case runs the real CLI in a real process: symlink loops given as
paths, cache directories that cannot be used, SIGTERM sent as CI and
``timeout`` send it, absurd ``--workers``, a mistyped ``-p no:NAME``, a key
kept through many edits in git history, and an interpreter whose site files
register (or do not register) ``atexit`` callbacks.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, fake_aws_key_id, git, run_cli

#: Read-only directories bind root too only without CAP_DAC_OVERRIDE; setpriv drops it for the child.
_UNPRIVILEGED: tuple[str, ...] | None = (
    () if os.geteuid() != 0 else
    ("setpriv", "--bounding-set=-dac_override,-dac_read_search") if shutil.which("setpriv") else None)


def _no_crash(proc: subprocess.CompletedProcess[str]) -> None:
    output = proc.stdout + proc.stderr
    assert "Traceback" not in output and "INTERNAL ERROR" not in output, output
    assert proc.returncode != 3, output


def _tree_with_key(root: Path, key: str) -> Path:
    root.mkdir(parents=True)
    (root / "deploy.py").write_text(f'import os\nKEY = "{key}"\n')
    (root / "ok.py").write_text("x = 1\n")
    return root


def _findings(stdout: str) -> list[tuple]:
    report = json.loads(stdout)
    return sorted((f["check_id"], f["location"]["path"], f["location"]["line"], f["fingerprint"], f["status"])
                  for f in report["findings"])


# -- symlink loops given as paths -------------------------------------------------------------


@pytest.mark.parametrize("shape", ["self", "pair"])
def test_a_symlink_loop_given_as_a_path_is_a_skipped_item(tmp_path: Path, shape: str) -> None:
    work = tmp_path / "work"
    work.mkdir()
    if shape == "self":
        (work / "a").symlink_to("a")
    else:
        (work / "a").symlink_to("b")
        (work / "b").symlink_to("a")
    (work / "ok.py").write_text("x = 1\n")

    hook = run_cli("scan", "--allow-empty", "--quiet", "a", "ok.py", cwd=work)  # the pre-commit form
    _no_crash(hook)
    assert hook.returncode == 0, hook.stdout + hook.stderr
    assert "1 passed, 1 skipped (1 symlink loop)" in hook.stdout

    alone = run_cli("scan", "a", cwd=work)
    _no_crash(alone)
    assert alone.returncode == 5  # nothing was scanned
    warning = [line for line in alone.stdout.splitlines() if "symlink loop" in line and "WARNING" in line]
    assert warning == ["WARNING skipped a: symlink loop (too many levels of symbolic links); "
                       "remove the link or exclude it"]

    report = run_cli("scan", "--format", "json", "a", "ok.py", cwd=work)
    _no_crash(report)
    assert report.returncode == 0
    assert [(s["path"], s["reason"]) for s in json.loads(report.stdout)["skipped"]] == [("a", "symlink loop")]


# -- caches that cannot be used ------------------------------------------------------------------


def _cache_case(case: str, tmp_path: Path) -> tuple[dict[str, str], tuple[str, ...], str]:
    """Environment, wrapper and the expected cause for one kind of unusable cache."""
    cache_home = tmp_path / "cache-home"
    if case == "XDG_CACHE_HOME is a file":
        cache_home.write_text("not a directory\n")
        return {"XDG_CACHE_HOME": str(cache_home)}, (), "Not a directory"
    cache_home.mkdir()
    env = {"XDG_CACHE_HOME": str(cache_home)}
    if case == "the database path is a directory":
        return env, (), "Is a directory"
    if _UNPRIVILEGED is None:
        pytest.skip("running as root without setpriv: a read-only directory cannot be made to bind")
    return env, _UNPRIVILEGED, ""


@pytest.mark.parametrize("case", ["XDG_CACHE_HOME is a file", "the database path is a directory",
                                  "a read-only cache directory", "a corrupt cache in a read-only directory",
                                  "a read-only empty cache directory"])
def test_an_unusable_scan_cache_is_one_warning_and_the_scan_runs_uncached(tmp_path: Path, rng, case: str) -> None:
    key = fake_aws_key_id(rng)
    tree = _tree_with_key(tmp_path / "tree", key)
    expected = run_cli("scan", "--no-baseline", "--no-cache", "--format", "json", str(tree),
                       env={"XDG_CACHE_HOME": str(tmp_path / "fresh")})
    assert expected.returncode == 1, expected.stderr

    env, wrapper, cause = _cache_case(case, tmp_path)
    directory = Path(env["XDG_CACHE_HOME"]) / "secretaudit"
    if case == "the database path is a directory":
        primed = run_cli("scan", "--no-baseline", str(tree), env=env)  # learn the database's name
        assert primed.returncode == 1
        (database,) = directory.glob("*.sqlite")
        for path in directory.glob("*.sqlite*"):
            path.unlink()
        database.mkdir()
    elif case in ("a read-only cache directory", "a corrupt cache in a read-only directory"):
        assert run_cli("scan", "--no-baseline", str(tree), env=env).returncode == 1
        if case.startswith("a corrupt"):
            for path in directory.glob("*.sqlite*"):
                path.write_bytes(b"\x00 not a database " * 64)
        directory.chmod(0o555)
    elif case == "a read-only empty cache directory":
        Path(env["XDG_CACHE_HOME"]).chmod(0o555)

    try:
        proc = run_cli("scan", "--no-baseline", "--format", "json", str(tree), env=env, wrapper=wrapper)
    finally:
        for path in (directory, Path(env["XDG_CACHE_HOME"])):
            if path.is_dir():
                path.chmod(0o755)
    _no_crash(proc)
    assert proc.returncode == 1, proc.stderr
    assert _findings(proc.stdout) == _findings(expected.stdout)  # identical results, uncached
    warnings = [line for line in proc.stderr.splitlines() if "scan cache" in line]
    assert len(warnings) == 1, proc.stderr
    assert "not usable" in warnings[0] and "scanning without it" in warnings[0] and cause in warnings[0]
    assert key not in proc.stdout + proc.stderr


def test_a_cache_dir_setting_naming_a_file_is_a_warning(tmp_path: Path, rng) -> None:
    tree = _tree_with_key(tmp_path / "tree", fake_aws_key_id(rng))
    (tmp_path / "a-file").write_text("x\n")
    (tree / "secretaudit.yaml").write_text(f"cache_dir: {tmp_path / 'a-file'}\n")
    proc = run_cli("scan", "--no-baseline", str(tree))
    _no_crash(proc)
    assert proc.returncode == 1
    assert re.search(r"WARNING scan cache .* is not usable \((Not a directory|File exists)\)", proc.stdout), proc.stdout


def test_unusable_pattern_and_accelerator_caches_cost_time_only(tmp_path: Path, rng) -> None:
    """The compiled-regex and Hyperscan caches (same directory): a directory where a file belongs is a miss."""
    tree = _tree_with_key(tmp_path / "tree", fake_aws_key_id(rng))
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "SECRETAUDIT_HYPERSCAN": "1"}
    first = run_cli("scan", "--no-baseline", "--no-cache", "--format", "json", str(tree), env=env)
    assert first.returncode == 1
    kept = [p for p in (tmp_path / "cache" / "secretaudit").iterdir() if p.suffix in (".marshal", ".db")]
    assert any(p.suffix == ".marshal" for p in kept)
    for path in kept:
        path.unlink()
        path.mkdir()
    second = run_cli("scan", "--no-baseline", "--no-cache", "--format", "json", str(tree), env=env)
    _no_crash(second)
    assert second.returncode == 1 and _findings(second.stdout) == _findings(first.stdout)


def test_an_access_trail_under_a_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("a file, not a directory\n")
    proc = run_cli("trail", env={"XDG_STATE_HOME": str(tmp_path / "state")})
    _no_crash(proc)
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and "cannot read access trail" in proc.stderr


# -- SIGTERM ----------------------------------------------------------------------------------------

SLOW_PLUGIN = '''
import os, time
from secretaudit.hookspec import hookimpl

@hookimpl
def secretaudit_scan_file(item, config):
    """Marks each file it is given (with the scanning process id), then takes its time."""
    with open(os.environ["SLOW_MARKS"], "a") as marks:
        marks.write(f"{os.getpid()}\\n")
    time.sleep(float(os.environ.get("SLOW_SECONDS", "0.05")))
    return None
'''


def _slow_scan_env(tmp_path: Path) -> tuple[dict[str, str], Path]:
    site = tmp_path / "site"
    site.mkdir()
    (site / "slowcheck.py").write_text(SLOW_PLUGIN)
    marks = tmp_path / "marks"
    marks.write_text("")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(site)]), "SLOW_MARKS": str(marks),
           "XDG_CACHE_HOME": str(tmp_path / "cache"), "XDG_STATE_HOME": str(tmp_path / "state")}
    env.pop("NO_COLOR", None)
    return env, marks


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


@pytest.mark.parametrize("workers, how", [(2, "timeout"), (1, "parent")],
                         ids=["pool, SIGTERM to the process then its group (as timeout sends)", "one process"])
def test_sigterm_ends_the_run_like_ctrl_c(tmp_path: Path, workers: int, how: str) -> None:
    total, wait_for = 400, 100
    tree = tmp_path / "tree"
    tree.mkdir()
    for index in range(total):
        (tree / f"f{index:03d}.py").write_text(f"value = {index}\n")
    env, marks = _slow_scan_env(tmp_path)
    report = tmp_path / "partial.json"
    proc = subprocess.Popen([sys.executable, "-m", "secretaudit", "scan", "--no-cache", "-p", "slowcheck",
                             "--workers", str(workers), "--format", "json", "--report", f"json:{report}", str(tree)],
                            env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + 120
    while len(marks.read_text().splitlines()) < wait_for:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    sent = time.monotonic()
    os.kill(proc.pid, signal.SIGTERM)
    if how == "timeout":
        os.killpg(proc.pid, signal.SIGTERM)  # timeout(1) signals the child, then the whole group
    stdout, stderr = proc.communicate(timeout=60)
    elapsed = time.monotonic() - sent

    assert proc.returncode == 2, stderr
    assert elapsed < 10, elapsed  # at once: the rest would take (400 - 100) x 0.05 s / workers
    assert "Traceback" not in stderr
    assert "interrupted: results are partial" in stderr
    summary = [line for line in stderr.splitlines() if re.search(r"\d+ passed in [\d.]+s", line)]
    assert len(summary) == 1, stderr
    done = int(re.search(r"(\d+) passed", summary[0]).group(1))
    assert 0 < done < total

    for written in (json.loads(stdout), json.loads(report.read_text())):
        assert written["run"]["interrupted"] is True
        assert written["run"]["exit_code"] == 2 and written["summary"]["exit_code"] == 2
        assert written["summary"]["files_scanned"] == done

    scanners = {int(pid) for pid in marks.read_text().split()}
    assert len(scanners) == workers
    deadline = time.monotonic() + 10
    while any(map(_running, scanners)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(map(_running, scanners)), "a worker outlived the run"


def test_a_merged_report_with_an_interrupted_shard_is_interrupted(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a.py").write_text("x = 1\n")
    whole = tmp_path / "whole.json"
    assert run_cli("scan", "--report", f"json:{whole}", str(tree)).returncode == 0
    partial = tmp_path / "partial.json"
    data = json.loads(whole.read_text())
    data["run"]["interrupted"] = True
    data["run"]["exit_code"] = data["summary"]["exit_code"] = 2
    partial.write_text(json.dumps(data))
    merged = run_cli("report", "merge", str(whole), str(partial))
    _no_crash(merged)
    assert merged.returncode == 2 and "interrupted" in merged.stdout


# -- workers and plugins -------------------------------------------------------------------------------


def test_workers_are_capped_at_the_usable_cpus(tmp_path: Path) -> None:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    tree = tmp_path / "tree"
    tree.mkdir()
    for index in range(32 * (cpus + 2)):  # enough batches for more workers than CPUs
        (tree / f"f{index:04d}.py").write_text(f"value = {index}\n")
    env, marks = _slow_scan_env(tmp_path)
    env["SLOW_SECONDS"] = "0"
    proc = subprocess.run([sys.executable, "-m", "secretaudit", "scan", "--no-cache", "-p", "slowcheck",
                           "--workers", "100000", str(tree)], env=env, capture_output=True, text=True, timeout=300)
    _no_crash(proc)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    warnings = [line for line in proc.stdout.splitlines() if "workers 100000" in line]
    assert warnings == [f"WARNING workers 100000 is more than the {cpus} CPUs this process can use; using {cpus} "
                        "(set workers to 'auto' or at most the CPU count)"]
    assert 1 <= len(set(marks.read_text().split())) <= cpus


def test_a_small_scan_with_many_workers_says_nothing(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    proc = run_cli("scan", "--workers", "100000", str(tmp_path / "a.py"))
    assert proc.returncode == 0 and "WARNING" not in proc.stdout


@pytest.mark.parametrize("command", [("scan", "."), ("checks",)])
def test_disabling_an_unknown_plugin_is_a_usage_error(tmp_path: Path, command: tuple[str, ...]) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    proc = run_cli(command[0], "-p", "no:generc", *command[1:], cwd=tmp_path)
    _no_crash(proc)
    assert proc.returncode == 4
    assert proc.stdout == "" and proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("error: -p no:generc: no plugin is called 'generc'; known plugins: ")
    assert "generic" in proc.stderr and "known_formats" in proc.stderr
    # the names it lists are accepted, an audit-only one in a scan too
    assert run_cli(command[0], "-p", "no:generic", "-p", "no:lifecycle", *command[1:], cwd=tmp_path).returncode == 0


# -- git history -------------------------------------------------------------------------------------------


def _commit(repo: Path, author: str, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "-c", f"user.name={author}", "-c", f"user.email={author.lower()}@example.com",
        "commit", "-qm", message, "--author", f"{author} <{author.lower()}@example.com>")
    return git(repo, "rev-parse", "HEAD").strip()


def test_history_reports_a_secret_once_with_the_commit_that_introduced_it(repo: Path, rng, tmp_path: Path) -> None:
    key = fake_aws_key_id(rng)
    lines = ["import os", f'KEY = "{key}"']
    (repo / "app.py").write_text("\n".join(lines) + "\n")
    introduced = _commit(repo, "Alice", "add the client")
    for edit in range(4):
        lines.append(f"setting_{edit} = {edit}")
        (repo / "app.py").write_text("\n".join(lines) + "\n")
        _commit(repo, "Bob", f"edit {edit}")
        if edit == 2:  # Bob copies the key into another file: a second place to clean up
            (repo / "tools.py").write_text(f'\n\nKEY = "{key}"\n')
            copied = _commit(repo, "Bob", "tools")

    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    for run in ("cold", "from the cache"):
        proc = run_cli("scan", "--history", "--no-baseline", "--format", "json", ".", cwd=repo, env=env)
        _no_crash(proc)
        assert proc.returncode == 1, proc.stderr
        history = sorted((f["location"]["path"], f["location"]["line"], f["location"]["commit"], f["message"])
                         for f in json.loads(proc.stdout)["findings"] if f["check_id"] == "SA105")
        assert [(path, line, commit) for path, line, commit, _ in history] == [
            ("app.py", 2, introduced), ("tools.py", 3, copied)], run
        assert f"added in {introduced[:12]} by Alice" in history[0][3]
        assert "by Bob" in history[1][3] and "still present at HEAD" in history[1][3]
        assert key not in proc.stdout + proc.stderr
    for path in (tmp_path / "cache").rglob("*"):
        if path.is_file():
            assert key.encode() not in path.read_bytes(), path


def test_history_honours_a_waiver_added_by_a_later_commit(repo: Path, rng) -> None:
    """History cannot be edited, so the waiver for an old leak can only come in a later version of the file."""
    key = fake_aws_key_id(rng)
    (repo / "app.py").write_text(f'KEY = "{key}"\n')
    _commit(repo, "Alice", "add")
    (repo / "app.py").write_text(f'KEY = "{key}"  # secretaudit: ignore[SA101] revoked, INC-7\n')
    _commit(repo, "Bob", "waive")
    proc = run_cli("scan", "--history", "--no-baseline", "--format", "json", ".", cwd=repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (finding,) = [f for f in json.loads(proc.stdout)["findings"] if f["check_id"] == "SA105"]
    assert finding["status"] == "waived" and "by Alice" in finding["message"]


# -- the interpreter ------------------------------------------------------------------------------------------


def test_output_and_exit_do_not_depend_on_the_interpreters_atexit_callbacks(tmp_path: Path, rng) -> None:
    """A fresh virtualenv registers no ``atexit`` callback, a distribution's site files may: same run either way."""
    tree = _tree_with_key(tmp_path / "tree", fake_aws_key_id(rng))
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import atexit\natexit.register(lambda: None)\n")
    runs = []
    for pythonpath in (str(ROOT), os.pathsep.join([str(ROOT), str(site)])):
        env = {**os.environ, "PYTHONPATH": pythonpath, "XDG_CACHE_HOME": str(tmp_path / "cache"), "NO_COLOR": "1"}
        env.pop("SECRETAUDIT_HYPERSCAN", None)
        proc = subprocess.run([sys.executable, "-m", "secretaudit", "scan", "--no-baseline", "--no-cache", str(tree)],
                              env=env, capture_output=True, text=True, cwd=tmp_path)
        runs.append((proc.returncode, re.sub(r" in [\d.]+s ", " in Xs ", proc.stdout), proc.stderr))
    assert runs[0] == runs[1]
    assert runs[0][0] == 1 and "1 finding failed; 2 files: 1 passed" in runs[0][1]
