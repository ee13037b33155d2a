"""The scan cache (second runs of unchanged trees) and git history scans (SA105)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CORPUS, fake_aws_key_id, fake_aws_secret, git, run_cli, run_json


@pytest.fixture(params=["plain", "git"])
def tree(request: pytest.FixtureRequest, tmp_path: Path, rng) -> Path:
    """The corpus as a plain directory, and committed to git.

    In a repository the cache is keyed by git's blob ids (``ls-files -s``
    plus ``diff-files``) instead of stat signatures, so every cache test runs
    on both paths.
    """
    root = tmp_path / "tree"
    shutil.copytree(CORPUS, root)
    if request.param == "git":
        git(root, "init", "-q", "-b", "main")
        git(root, "add", "-A", "-f")
        git(root, "commit", "-q", "-m", "corpus")
    return root


def _scan(tree: Path, cache_home: Path, *extra: str) -> dict:
    proc, report = run_json("scan", "--no-baseline", str(tree), *extra, env={"XDG_CACHE_HOME": str(cache_home)})
    assert proc.returncode == 1, proc.stderr
    return report


def test_second_scan_comes_from_cache_with_identical_findings(tree: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cold = _scan(tree, cache)
    warm = _scan(tree, cache)
    assert cold["summary"]["files_from_cache"] == 0
    assert warm["summary"]["files_from_cache"] == warm["summary"]["files_scanned"] > 0
    assert warm["findings"] == cold["findings"]
    assert list(cache.rglob("*.sqlite"))


def test_a_changed_file_is_rescanned(tree: Path, tmp_path: Path, rng) -> None:
    cache = tmp_path / "cache"
    _scan(tree, cache)
    target = next(p for p in sorted(tree.rglob("*.py")))
    target.write_text(target.read_text() + f'\nEXTRA_KEY = "{fake_aws_key_id(rng)}"\n')
    warm = _scan(tree, cache)
    assert warm["summary"]["files_from_cache"] == warm["summary"]["files_scanned"] - 1
    rel = target.relative_to(tree).as_posix()
    assert any(f["location"]["path"].endswith(rel) and f["message"].startswith("AWS access key")
               and f["location"]["line"] == len(target.read_text().splitlines()) for f in warm["findings"])


def test_git_unstaged_staged_and_untracked_changes_are_all_rescanned(tmp_path: Path, rng) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    for name in ("unstaged.py", "staged.py", "same.py"):
        (root / name).write_text("VALUE = 1\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "clean")
    cache = tmp_path / "cache"
    proc, first = run_json("scan", "--no-baseline", str(root), env={"XDG_CACHE_HOME": str(cache)})
    assert proc.returncode == 0 and first["summary"]["files_scanned"] == 3, proc.stderr
    keys = {name: fake_aws_key_id(rng) for name in ("unstaged.py", "staged.py", "untracked.py")}
    for name, key in keys.items():
        (root / name).write_text(f'KEY = "{key}"\n')
    git(root, "add", "staged.py")
    proc, second = run_json("scan", "--no-baseline", str(root), env={"XDG_CACHE_HOME": str(cache)})
    flagged = {f["location"]["path"] for f in second["findings"] if f["check_id"] == "SA101"}
    assert flagged == {"unstaged.py", "staged.py", "untracked.py"}, proc.stderr
    assert second["summary"]["files_from_cache"] == 1  # same.py only
    assert not any(key in proc.stdout + proc.stderr for key in keys.values())


def test_git_filtered_files_are_judged_by_their_work_tree_bytes(tmp_path: Path, rng) -> None:
    """With eol=crlf the work tree differs from the blob: the cache must never mix them up."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / ".gitattributes").write_text("*.cfg text eol=crlf\n")
    (root / "app.cfg").write_text(f"aws_key = {fake_aws_key_id(rng)}\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "crlf")
    (root / "app.cfg").unlink()
    git(root, "checkout", "--", "app.cfg")
    assert b"\r\n" in (root / "app.cfg").read_bytes()
    cache = tmp_path / "cache"
    runs = [run_json("scan", "--no-baseline", str(root), env={"XDG_CACHE_HOME": str(cache)})[1] for _ in range(2)]
    assert runs[0]["findings"] == runs[1]["findings"] and runs[0]["findings"]


def test_changing_the_rules_invalidates_the_cache(tree: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _scan(tree, cache)
    (tree / "secretaudit.yaml").write_text("checks:\n  SA102: {base64_limit: 5.0}\n")
    again = _scan(tree, cache)
    assert again["summary"]["files_from_cache"] == 0


def test_a_corrupt_cache_is_discarded_with_a_warning(tree: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cold = _scan(tree, cache)
    for db in cache.rglob("*.sqlite"):
        db.write_bytes(b"this is not a database" * 100)
    proc, report = run_json("scan", "--no-baseline", str(tree), env={"XDG_CACHE_HOME": str(cache)})
    assert proc.returncode == 1
    assert "is corrupt" in proc.stderr and "discarded it" in proc.stderr
    assert report["findings"] == cold["findings"]
    assert report["summary"]["files_from_cache"] == 0
    assert _scan(tree, cache)["summary"]["files_from_cache"] > 0  # rebuilt


def test_concurrent_runs_share_the_cache_safely(tree: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    env = {**os.environ, "XDG_CACHE_HOME": str(cache),
           "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    procs = [subprocess.Popen([sys.executable, "-m", "secretaudit", "scan", "--no-baseline", "--format", "json", str(tree)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True) for _ in range(4)]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [1] * 4, [o[1] for o in outputs]
    findings = [json.loads(out)["findings"] for out, _ in outputs]
    assert all(f == findings[0] for f in findings)
    assert _scan(tree, cache)["summary"]["files_from_cache"] > 0


def test_no_cache_flag(tree: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _scan(tree, cache, "--no-cache")
    assert not list(cache.rglob("*.sqlite"))


# -- history -------------------------------------------------------------------------------


def _commit(repo: Path, author: str, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "-c", f"user.name={author}", "-c", f"user.email={author.lower()}@example.com",
        "commit", "-qm", message, "--author", f"{author} <{author.lower()}@example.com>")
    return git(repo, "rev-parse", "HEAD").strip()


def test_history_reports_introducing_commit_author_and_head_state(repo: Path, rng) -> None:
    removed_key, kept_key = fake_aws_key_id(rng), fake_aws_key_id(rng)
    (repo / "deploy.py").write_text(f'import os\nKEY = "{removed_key}"\n')
    first = _commit(repo, "Alice", "add deploy")
    (repo / "deploy.py").write_text('import os\nKEY = os.environ["AWS_ACCESS_KEY_ID"]\n')
    (repo / "copy.py").write_text(f'import os\nKEY = "{removed_key}"\n')  # the same blob as deploy.py v1
    (repo / "ci.py").write_text(f'\n\nTOKEN = "{kept_key}"\n')
    second = _commit(repo, "Bob", "move key to env")
    proc, report = run_json("scan", "--history", "--no-baseline", ".", cwd=repo)
    assert proc.returncode == 1, proc.stderr
    history = [f for f in report["findings"] if f["check_id"] == "SA105"]
    by_path = {f["location"]["path"]: f for f in history}
    # deploy.py's first version and copy.py have the same content: one blob, scanned once
    assert set(by_path) == {"deploy.py", "ci.py"} or set(by_path) == {"copy.py", "ci.py"}
    old = by_path.get("deploy.py") or by_path["copy.py"]
    assert old["location"]["commit"] == first and old["location"]["line"] == 2
    assert f"added in {first[:12]} by Alice" in old["message"]
    assert "still present at HEAD" in old["message"]  # copy.py still holds it
    new = by_path["ci.py"]
    assert new["location"]["commit"] == second and "by Bob" in new["message"] and new["location"]["line"] == 3
    assert removed_key not in proc.stdout + proc.stderr and kept_key not in proc.stdout + proc.stderr
    assert report["summary"]["files_scanned"] == 3  # unique blobs: deploy v1 (= copy), deploy v2, ci


def test_history_removed_secret_is_marked_removed(repo: Path, rng) -> None:
    key = fake_aws_key_id(rng)
    (repo / "a.py").write_text(f'KEY = "{key}"\n')
    _commit(repo, "Alice", "oops")
    (repo / "a.py").write_text("KEY = None\n")
    _commit(repo, "Alice", "fix")
    proc, report = run_json("scan", "--history", ".", cwd=repo)
    assert proc.returncode == 1
    (finding,) = [f for f in report["findings"] if f["check_id"] == "SA105"]
    assert "removed from HEAD but still in history" in finding["message"]


def test_blob_readers_are_per_run_and_end_their_git_processes(repo: Path) -> None:
    """A run's ``git cat-file --batch`` readers are closed and waited for, not left to the interpreter's exit."""
    from secretaudit.checks.git_history import BlobReaders, list_blobs

    (repo / "a.txt").write_text("hello\n")
    _commit(repo, "Alice", "one")
    readers = BlobReaders()
    reader = readers.get(str(repo))
    assert readers.get(str(repo)) is reader
    (blob,) = list_blobs(str(repo), ["--all"])
    assert reader.read(blob.sha) == b"hello\n"
    readers.close()
    assert reader.proc.returncode == 0  # git ended at the end of its input, and was reaped
    again = readers.get(str(repo))
    assert again is not reader and again.read(blob.sha) == b"hello\n"
    readers.close()


def test_history_outside_git_is_a_usage_error(tmp_path: Path) -> None:
    proc = run_cli("scan", "--history", str(tmp_path))
    assert proc.returncode == 4 and "needs a git repository" in proc.stderr


def test_same_content_under_another_name_is_judged_by_its_name(tmp_path: Path, rng) -> None:
    cache = tmp_path / "cache"
    app = tmp_path / "app"
    app.mkdir()
    content = f"STRIPE_WEBHOOK_SECRET={fake_aws_secret(rng).replace('/', 'x').replace('+', 'y')}\n"
    (app / ".env.example").write_text(content)
    first = run_json("scan", "--no-baseline", str(app), env={"XDG_CACHE_HOME": str(cache)})[1]
    (app / ".env").write_text(content)
    proc, second = run_json("scan", "--no-baseline", str(app), env={"XDG_CACHE_HOME": str(cache)})
    env_findings = {f["check_id"] for f in second["findings"] if f["location"]["path"].rsplit("/", 1)[-1] == ".env"}
    example_findings = [f for f in second["findings"] if f["location"]["path"].endswith(".env.example")]
    assert second["summary"]["files_from_cache"] == 1  # .env.example, unchanged
    assert "SA104" in env_findings and proc.returncode == 1
    assert [f["check_id"] for f in first["findings"]] == [f["check_id"] for f in example_findings]


def test_binary_files_are_judged_by_their_head_and_cached(tree: Path, tmp_path: Path, rng) -> None:
    """Only a binary file's first bytes are read; the verdict is cached and follows the content."""
    cache = tmp_path / "cache"
    key = fake_aws_key_id(rng)
    blob = tree / "blob.bin"
    blob.write_bytes(b"\x7fELF\0\0" + os.urandom(2 << 20) + f'\nKEY = "{key}"\n'.encode())
    cold = _scan(tree, cache)
    assert {"path": "blob.bin", "reason": "binary", "error": False} in cold["skipped"]
    warm = _scan(tree, cache)
    assert {"path": "blob.bin", "reason": "binary", "error": False} in warm["skipped"]
    assert warm["summary"]["files_from_cache"] == warm["summary"]["files_scanned"]
    blob.write_bytes(b"#!/bin/sh\n" + f'KEY="{key}"\n'.encode())  # no longer binary: scanned, key found
    changed = _scan(tree, cache)
    assert not any(s["path"] == "blob.bin" for s in changed["skipped"])
    assert any(f["location"]["path"] == "blob.bin" and f["message"].startswith("AWS access key")
               for f in changed["findings"])


def test_a_conflicted_file_is_listed_once_and_scanned_as_it_is_on_disk(tmp_path: Path, rng) -> None:
    """A merge conflict leaves three index entries for one path; the scan sees one file, markers and all."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "settings.py").write_text("DEBUG = False\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    git(root, "checkout", "-q", "-b", "other")
    (root / "settings.py").write_text("DEBUG = True\n")
    git(root, "commit", "-q", "-am", "other")
    git(root, "checkout", "-q", "main")
    key = fake_aws_key_id(rng)
    (root / "settings.py").write_text(f'DEBUG = False\nKEY = "{key}"\n')
    git(root, "commit", "-q", "-am", "main")
    merge = subprocess.run(["git", "-C", str(root), "merge", "-q", "other"], capture_output=True, text=True)
    assert merge.returncode != 0 and "<<<<<<<" in (root / "settings.py").read_text()
    for _ in range(2):  # cold, then from the cache
        proc, report = run_json("scan", "--no-baseline", str(root), env={"XDG_CACHE_HOME": str(tmp_path / "cache")})
        assert report["summary"]["files_scanned"] == 1, proc.stderr
        assert [f["location"] for f in report["findings"] if f["check_id"] == "SA101"] == [
            {"path": "settings.py", "line": 3}]


def test_cache_rows_are_written_in_short_transactions_during_the_scan(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows reach the database while the scan goes on, each batch in its own transaction."""
    import sqlite3

    from secretaudit import scan_cache as cache_module

    monkeypatch.setattr(cache_module, "WRITE_EVERY", 3)
    cache = cache_module.ScanCache(tmp_path / "cache.db", "rules-v1")
    cache.snapshot("src")
    for i in range(7):
        cache.remember(f"src/f{i}.py", f"10:{i}:1", f"digest{i}", 10, cache_module.encode_payload([]))
    other = sqlite3.connect(tmp_path / "cache.db")  # another run's view: committed rows only
    assert other.execute("SELECT count(*) FROM results").fetchone()[0] == 6
    assert other.execute("SELECT count(*) FROM snapshots").fetchone()[0] == 0  # replaced whole, at the end
    cache.flush()
    assert other.execute("SELECT count(*) FROM results").fetchone()[0] == 7
    assert other.execute("SELECT scope FROM snapshots").fetchall() == [("src",)]
    cache.close()
    reopened = cache_module.ScanCache(tmp_path / "cache.db", "rules-v1")
    assert reopened.snapshot("src")["src/f6.py"] == ("10:6:1", "digest6", 10, None)
    assert reopened.results("digest6", "src/f6.py") == []
    reopened.close()


def _outcome_recorded(cache: Path) -> bool:
    """Whether the cache holds an outcome for the scanned directory (what an unchanged tree is answered from)."""
    import marshal
    import sqlite3

    (db,) = cache.rglob("*.sqlite")
    rows = sqlite3.connect(db).execute("SELECT data FROM snapshots").fetchall()
    return any(marshal.loads(data)[1] is not None for (data,) in rows)


def test_an_unchanged_tree_is_answered_from_its_recorded_outcome(tree: Path, tmp_path: Path) -> None:
    """Once no entry is racy, the run records its outcome; the next run over the same listing replays it whole.

    The replayed report is the same as a full scan's, skipped files (found
    again every run) included, and any change to the listing or to what
    filters it (``--exclude``) goes back to the per-file path.
    """
    import time

    (tree / "broken.txt").write_bytes(b"caf\xe9\n")  # not UTF-8: never cached, scanned by every run
    cache = tmp_path / "cache"
    cold = _scan(tree, cache)
    if not _outcome_recorded(cache):  # a plain tree's files changed within RACY_NS of being read
        time.sleep(2.1)
        _scan(tree, cache)  # hashes them, trusts them now, records the outcome
    assert _outcome_recorded(cache)
    replayed = _scan(tree, cache)
    for key in ("findings", "results", "skipped", "controls"):
        assert replayed[key] == cold[key], key
    assert replayed["summary"] == {**cold["summary"], "files_from_cache": cold["summary"]["files_scanned"]}
    assert {"path": "broken.txt", "reason": "not UTF-8"}.items() <= next(
        s for s in replayed["skipped"] if s["path"] == "broken.txt").items()

    excluded = _scan(tree, cache, "--exclude", "*.py")
    assert excluded["findings"] and not any(f["location"]["path"].endswith(".py") for f in excluded["findings"])
    assert excluded["summary"]["files_scanned"] < cold["summary"]["files_scanned"]
    assert _scan(tree, cache)["findings"] == cold["findings"]


def test_a_racy_tree_records_no_outcome(tmp_path: Path) -> None:
    """Files written just before the scan could change again unseen by stat: their outcome is not taken on trust."""
    root = tmp_path / "tree"
    root.mkdir()
    (root / "app.py").write_text("VALUE = 1\n")
    cache = tmp_path / "cache"
    proc, _ = run_json("scan", "--no-baseline", str(root), env={"XDG_CACHE_HOME": str(cache)})
    assert proc.returncode == 0, proc.stderr
    assert not _outcome_recorded(cache)


def test_lowering_max_file_size_skips_cached_files_as_a_cold_scan_would(tree: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _scan(tree, cache)
    proc, limited = run_json("scan", "--no-baseline", "--max-file-size", "1KB", str(tree),
                             env={"XDG_CACHE_HOME": str(cache)})
    _, cold = run_json("scan", "--no-baseline", "--max-file-size", "1KB", str(tree),
                       env={"XDG_CACHE_HOME": str(tmp_path / "other-cache")})
    assert any(s["reason"] == "too large" for s in limited["skipped"]), proc.stderr
    assert limited["skipped"] == cold["skipped"] and limited["findings"] == cold["findings"]


def test_without_find_the_walked_tree_is_answered_from_its_outcome_too(tmp_path: Path) -> None:
    """No GNU find (macOS, BusyBox; here: an empty PATH): the Python walk lists, and its listing has a key too."""
    import time

    root = tmp_path / "tree"
    shutil.copytree(CORPUS, root)
    cache = tmp_path / "cache"
    env = {"XDG_CACHE_HOME": str(cache), "PATH": str(tmp_path / "empty-bin")}
    cold = run_json("scan", "--no-baseline", str(root), env=env)[1]
    time.sleep(2.1)  # the copied files are racy until then
    run_json("scan", "--no-baseline", str(root), env=env)
    assert _outcome_recorded(cache)
    proc, replayed = run_json("scan", "--no-baseline", str(root), env=env)
    assert replayed["findings"] == cold["findings"] and replayed["skipped"] == cold["skipped"], proc.stderr
    assert replayed["summary"]["files_from_cache"] == cold["summary"]["files_scanned"]
