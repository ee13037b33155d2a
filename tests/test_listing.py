"""Listing a directory for a scan (secretaudit.dir_listing), and what the scan cache trusts from it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import git
from secretaudit import dir_listing
from secretaudit.scan_cache import RACY_MARK, ScanCache, content_digest, encode_payload
from secretaudit.file_checks import replay_from_cache
from secretaudit.model import FileRef

NEEDS_GNU_FIND = pytest.mark.skipif(
    shutil.which("find") is None or b"GNU" not in subprocess.run(["find", "--version"], capture_output=True).stdout,
    reason="GNU find is not installed here (the Python walk is tested on its own)")


def _tricky_tree(root: Path) -> None:
    """Nested files, a .git directory and a .git file, symlinks (to a file, a directory, nowhere), a fifo,
    and names with a newline and with bytes that are not UTF-8."""
    for name in ("b/c/deep.txt", "b/a.txt", "a/x.py", "B.txt", ".git/config", "sub/.git", "z/.env", "new\nline.txt"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x\n")
    os.symlink(root / "b", root / "link_to_dir")
    os.symlink(root / "nowhere", root / "broken_link")
    os.symlink(root / "a" / "x.py", root / "z" / "link_to_file")
    os.mkfifo(root / "a" / "pipe")
    with open(os.path.join(os.fsencode(root), b"caf\xe9.txt"), "wb") as handle:
        handle.write(b"x\n")


def _by_name(entries: list[dir_listing.Entry]) -> dict[str, bool]:
    """name -> whether the listing gave it a signature (a regular file)."""
    return {name: signature is not None for name, signature, _ in entries}


def _python_walk(root: Path, monkeypatch: pytest.MonkeyPatch) -> list[dir_listing.Entry]:
    with monkeypatch.context() as patch:
        patch.setenv("PATH", "")  # no find to start: the Python walk lists
        result = dir_listing.list_directory(str(root), use_git=False)
    return result.entries


def test_the_python_walk_lists_files_links_and_fifos_and_signs_regular_files(tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    _tricky_tree(tmp_path)
    listed = _by_name(_python_walk(tmp_path, monkeypatch))
    regular = {"b/c/deep.txt", "b/a.txt", "a/x.py", "B.txt", "sub/.git", "z/.env", "new\nline.txt",
               os.fsdecode(b"caf\xe9.txt")}
    assert listed == {**{name: True for name in regular},
                      **{name: False for name in ("link_to_dir", "broken_link", "z/link_to_file", "a/pipe")}}


@NEEDS_GNU_FIND
def test_find_lists_exactly_what_the_python_walk_lists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _tricky_tree(tmp_path)
    found = dir_listing.list_directory(str(tmp_path), use_git=False).entries
    assert _by_name(found) == _by_name(_python_walk(tmp_path, monkeypatch))
    assert len(found) == len(_by_name(found))  # each file once


@pytest.mark.parametrize("lister", ["find", "python"])
def test_a_signature_holds_while_the_file_is_untouched_and_changes_when_it_is_written(
        lister: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if lister == "find" and shutil.which("find") is None:
        pytest.skip("no find here")
    for name in ("kept.txt", "edited.txt", "touched.txt"):
        (tmp_path / name).write_text("same size\n")

    def signatures() -> dict[str, str | None]:
        entries = (_python_walk(tmp_path, monkeypatch) if lister == "python"
                   else dir_listing.list_directory(str(tmp_path), use_git=False).entries)
        return {name: signature for name, signature, _ in entries}

    before = signatures()
    assert signatures() == before
    (tmp_path / "edited.txt").write_text("SAME SIZE\n")  # same size, new content
    os.utime(tmp_path / "touched.txt", ns=(0, 10**18))  # content as it was, mtime set far away
    after = signatures()
    assert after["kept.txt"] == before["kept.txt"]
    assert after["edited.txt"] != before["edited.txt"]
    assert after["touched.txt"] != before["touched.txt"]


def test_a_git_listing_vouches_for_clean_tracked_files_only(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / ".gitignore").write_text("ignored.log\n")
    for name in ("clean.py", "modified.py", "deleted.py"):
        (root / name).write_text(f"# {name}\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "init")
    (root / "modified.py").write_text("# changed\n")
    (root / "deleted.py").unlink()
    (root / "untracked.py").write_text("# new\n")
    (root / "ignored.log").write_text("noise\n")
    dir_listing.prefetch([str(root)])
    result = dir_listing.list_directory(str(root))
    assert result.from_git
    entries = {name: (signature, digest) for name, signature, digest in result.entries}
    assert set(entries) == {".gitignore", "clean.py", "modified.py", "untracked.py"}
    assert entries["clean.py"] == (None, content_digest((root / "clean.py").read_bytes()))
    for name in ("modified.py", "untracked.py"):
        signature, digest = entries[name]
        assert digest is None and signature == dir_listing.stat_signature(os.lstat(root / name))


def test_a_directory_git_cannot_list_is_walked(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x\n")
    result = dir_listing.list_directory(str(tmp_path), use_git=True)  # not a repository: git fails
    assert not result.from_git and [name for name, _, _ in result.entries] == ["a.txt"]


# -- what the cache trusts ------------------------------------------------------------


def _replay(cache: ScanCache, refs: list[FileRef], config) -> tuple[list[FileRef], int]:
    answered: list[int] = []
    todo = replay_from_cache(refs, config, "t", cache, "", lambda result: None,
                             lambda files, size: answered.append(files))
    return todo, answered[0]


@pytest.fixture
def config(tmp_path: Path):
    from secretaudit.cli import Runner

    return Runner(None, (), (str(tmp_path),), audit=False).config


def test_a_racy_entry_is_trusted_only_once_its_content_hashes_the_same(tmp_path: Path, config,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """An entry recorded within RACY_NS of the file's last change could hide a change its stat cannot show.

    Its signature is marked; a later run hashes the file first.  Same
    content: answered from the cache (and the mark dropped once the change
    is old enough).  Other content: scanned again, whatever the stat says.
    """
    import secretaudit.scan_cache as cache_module

    path = tmp_path / "app.py"
    path.write_text("VALUE = 1\n")
    signature = dir_listing.stat_signature(os.lstat(path))
    ref = FileRef(str(path), "app.py", signature=signature)
    cache = ScanCache(tmp_path / "cache.db", "rules")
    cache.snapshot("")
    cache.remember("app.py", RACY_MARK + signature, content_digest(path.read_bytes()), 10, encode_payload([]))
    cache.flush()

    todo, answered = _replay(ScanCache(tmp_path / "cache.db", "rules"), [ref], config)
    assert (todo, answered) == ([], 1)  # same bytes: trusted, still marked (the change is recent)

    monkeypatch.setattr(cache_module, "RACY_NS", 0)  # time passes
    later = ScanCache(tmp_path / "cache.db", "rules")
    assert _replay(later, [ref], config) == ([], 1)
    later.flush()
    assert ScanCache(tmp_path / "cache.db", "rules").snapshot("")["app.py"][0] == signature  # mark dropped

    stale = ScanCache(tmp_path / "cache.db", "rules")
    stale.snapshot("")
    stale.remember("app.py", RACY_MARK + signature, content_digest(b"VALUE = 2\n"), 10, encode_payload([]))
    stale.flush()
    todo, answered = _replay(ScanCache(tmp_path / "cache.db", "rules"), [ref], config)
    assert (todo, answered) == ([ref], 0)  # the stat matches, the bytes do not: scanned again


def test_a_file_read_right_after_it_changed_is_recorded_racy(tmp_path: Path, config) -> None:
    from secretaudit.file_checks import scan_file

    path = tmp_path / "fresh.py"
    path.write_text("VALUE = 1\n")
    signature = dir_listing.stat_signature(os.lstat(path))
    result = scan_file(FileRef(str(path), "fresh.py", signature=signature), config, "t", caching=True)
    assert result.cache_entry is not None and result.cache_entry[0] == RACY_MARK + signature
    os.utime(path, ns=(0, 0))  # an old mtime does not help: ctime, which cannot be set back, says it just changed
    signature = dir_listing.stat_signature(os.lstat(path))
    result = scan_file(FileRef(str(path), "fresh.py", signature=signature), config, "t", caching=True)
    assert result.cache_entry is not None and result.cache_entry[0] == RACY_MARK + signature


def test_a_deleted_file_leaves_the_snapshot(tmp_path: Path) -> None:
    from conftest import run_json

    (tmp_path / "tree").mkdir()
    for name in ("a.py", "b.py"):
        (tmp_path / "tree" / name).write_text("VALUE = 1\n")
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    run_json("scan", "--no-baseline", str(tmp_path / "tree"), env=env)
    (tmp_path / "tree" / "b.py").unlink()
    proc, report = run_json("scan", "--no-baseline", str(tmp_path / "tree"), env=env)
    assert report["summary"]["files_scanned"] == 1, proc.stderr
    import marshal
    import sqlite3

    (db,) = (tmp_path / "cache").rglob("*.sqlite")
    (data,), = sqlite3.connect(db).execute("SELECT data FROM snapshots").fetchall()
    assert set(marshal.loads(data)[0]) == {"a.py"}


def test_an_outcome_outlives_no_run_that_changed_its_snapshot(tmp_path: Path) -> None:
    """A run that goes file by file and stops part-way (Ctrl-C) must not leave the old outcome behind.

    Its snapshot holds only what it got to, so the outcome recorded for the
    full snapshot would replay files it no longer knows.
    """
    db = tmp_path / "cache.db"
    first = ScanCache(db, "rules")
    first.snapshot("")
    for name in ("a.py", "b.py"):
        first.remember(name, f"sig-{name}", f"digest-{name}", 10, encode_payload([]))
    first.record_outcome("", "tree-key", [FileRef(str(tmp_path / n), n) for n in ("a.py", "b.py")])
    first.flush()
    assert ScanCache(db, "rules").outcome("", "tree-key") is not None
    assert ScanCache(db, "rules").outcome("", "another-tree") is None

    interrupted = ScanCache(db, "rules")
    interrupted.snapshot("")
    interrupted.carry({"a.py": ("sig-a.py", "digest-a.py", 10, None)})  # then Ctrl-C: no record_outcome
    interrupted.flush()
    assert ScanCache(db, "rules").outcome("", "tree-key") is None


def test_without_git_or_find_installed_a_repository_is_walked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "app.py").write_text("VALUE = 1\n")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # neither git nor find can start
    dir_listing.prefetch([str(root)])
    result = dir_listing.list_directory(str(root))
    assert not result.from_git
    assert [(name, signature is not None) for name, signature, _ in result.entries] == [("app.py", True)]


def test_the_python_walk_keys_its_listing_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where there is no GNU find (macOS, BusyBox), an unchanged tree is still answered from its outcome."""
    (tmp_path / "a.py").write_text("VALUE = 1\n")

    def key() -> str | None:
        with monkeypatch.context() as patch:
            patch.setenv("PATH", "")
            return dir_listing.list_directory(str(tmp_path), use_git=False).key

    first = key()
    assert first is not None and key() == first
    (tmp_path / "b.py").write_text("VALUE = 2\n")
    assert key() != first
