"""Silent misses in file reading: UTF-16/32 text, archives, and skips nobody sees.

Each test plants a fake credential (generated here, real format) where a
reader that gives up early would miss it, runs the real CLI, and checks the
key is found where an editor or ``unzip`` would show it, or that what could
not be read is a visible, counted skip that fails the run when it should.
Hostile archives (bombs, deep nests, too many members, damage) are built at
test time and must be refused within seconds and bounded memory.
"""

from __future__ import annotations

import bz2
import gzip
import io
import os
import random
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT, fake_aws_key_id, fake_aws_secret, git, run_cli, run_json

#: Well under what a 1 GiB member would need, well over what a bounded walk takes.
ADDRESS_SPACE_LIMIT = 768 << 20


@pytest.fixture
def keys() -> tuple[str, str]:
    rng = random.Random(14_2026)
    return fake_aws_key_id(rng), fake_aws_secret(rng)


def _powershell(keys: tuple[str, str]) -> str:
    key_id, secret = keys
    return ("# deploy.ps1\r\n"
            "$ErrorActionPreference = 'Stop'\r\n"
            f"$env:AWS_ACCESS_KEY_ID = \"{key_id}\"\r\n"
            f"$env:AWS_SECRET_ACCESS_KEY = \"{secret}\"\r\n"
            "Write-Host 'done'\r\n")


def _env(keys: tuple[str, str]) -> bytes:
    key_id, secret = keys
    return f"AWS_ACCESS_KEY_ID={key_id}\nAWS_SECRET_ACCESS_KEY={secret}\n".encode()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _tar(members: dict[str, bytes], mode: str = "w") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _located(report: dict) -> set[tuple[str, str, int]]:
    return {(f["check_id"], f["location"]["path"], f["location"].get("line")) for f in report["findings"]}


def _no_secret(proc, keys: tuple[str, str]) -> None:
    for value in keys:
        assert value not in proc.stdout and value not in proc.stderr


def _no_traceback(proc) -> None:
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr


# -- UTF-16 / UTF-32 -----------------------------------------------------------


@pytest.mark.parametrize("codec, bom", [
    ("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff"),
    ("utf-32-le", b"\xff\xfe\x00\x00"), ("utf-32-be", b"\x00\x00\xfe\xff"),
    ("utf-8", b"\xef\xbb\xbf"),
])
def test_a_key_in_a_powershell_script_with_a_bom_is_found_at_its_line(tmp_path: Path, keys, codec: str,
                                                                      bom: bytes) -> None:
    (tmp_path / "deploy.ps1").write_bytes(bom + _powershell(keys).encode(codec))
    (tmp_path / "ok.py").write_text("x = 1\n")
    proc, report = run_json("scan", "--no-cache", str(tmp_path))
    assert proc.returncode == 1, proc.stderr
    assert ("SA101", "deploy.ps1", 3) in _located(report)  # the key id, on the editor's line 3
    assert ("SA101", "deploy.ps1", 4) in _located(report)
    assert not report["skipped"]
    _no_secret(proc, keys)


def test_utf16_text_goes_through_the_accelerated_prefilter_too(tmp_path: Path, keys) -> None:
    """With the accelerator forced on, the prefilter sees the decoded text, not the raw UTF-16 bytes."""
    (tmp_path / "deploy.ps1").write_bytes(b"\xff\xfe" + _powershell(keys).encode("utf-16-le"))
    proc, report = run_json("scan", "--no-cache", str(tmp_path), env={"SECRETAUDIT_HYPERSCAN": "1"})
    assert proc.returncode == 1, proc.stderr
    assert ("SA101", "deploy.ps1", 3) in _located(report)


def test_a_bom_that_lies_is_a_warning_not_a_quiet_binary_skip(tmp_path: Path) -> None:
    (tmp_path / "odd.ps1").write_bytes(b"\xff\xfe" + "x = 1\n".encode("utf-16-le") + b"\x00")  # odd length
    (tmp_path / "ok.py").write_text("x = 1\n")
    proc = run_cli("scan", "--no-cache", str(tmp_path))
    assert "WARNING skipped odd.ps1: starts with a UTF-16 byte-order mark but is not valid UTF-16" in proc.stdout
    assert "1 not UTF-16" in proc.stdout


def test_a_utf16_file_is_found_again_from_the_cache(tmp_path: Path, keys) -> None:
    """What the cache remembers of a UTF-16 file is its findings, not a binary verdict."""
    (tmp_path / "deploy.ps1").write_bytes(b"\xff\xfe" + _powershell(keys).encode("utf-16-le"))
    (tmp_path / "bundle.zip").write_bytes(_zip({"app/.env": _env(keys)}))
    cache = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    first, report1 = run_json("scan", str(tmp_path / "deploy.ps1"), str(tmp_path), env=cache)
    second, report2 = run_json("scan", str(tmp_path / "deploy.ps1"), str(tmp_path), env=cache)
    assert first.returncode == second.returncode == 1
    assert report2["summary"]["files_from_cache"] >= 1
    assert _located(report1) == _located(report2)
    assert ("SA101", "deploy.ps1", 3) in _located(report2)
    assert ("SA101", "bundle.zip!app/.env", 1) in _located(report2)


# -- archives ------------------------------------------------------------------


@pytest.mark.parametrize("name, build", [
    ("bundle.zip", lambda m: _zip(m)),
    ("bundle.jar", lambda m: _zip(m)),  # by content, whatever the name
    ("bundle.tar", lambda m: _tar(m)),
    ("bundle.tar.gz", lambda m: _tar(m, "w:gz")),
    ("bundle.tgz", lambda m: _tar(m, "w:gz")),
    ("bundle.tar.bz2", lambda m: _tar(m, "w:bz2")),
    ("bundle.tar.xz", lambda m: _tar(m, "w:xz")),
])
def test_a_key_in_an_env_inside_each_archive_kind_is_found_at_the_member_path(tmp_path: Path, keys, name: str,
                                                                              build) -> None:
    (tmp_path / name).write_bytes(build({"app/README.md": b"# app\n", "app/.env": _env(keys)}))
    proc, report = run_json("scan", "--no-cache", str(tmp_path))
    assert proc.returncode == 1, proc.stderr
    found = _located(report)
    assert ("SA101", f"{name}!app/.env", 1) in found
    assert any(check == "SA104" and path == f"{name}!app/.env" for check, path, _ in found)  # .env by name
    _no_secret(proc, keys)
    text = run_cli("scan", "--no-cache", str(tmp_path))
    assert f"FAILED {name}!app/.env:1 SA101" in text.stdout


@pytest.mark.parametrize("name, compress", [("app.env.gz", gzip.compress), ("app.env.bz2", bz2.compress)])
def test_a_single_compressed_file_is_scanned_as_its_content(tmp_path: Path, keys, name: str, compress) -> None:
    (tmp_path / name).write_bytes(compress(_env(keys)))
    proc, report = run_json("scan", "--no-cache", str(tmp_path))
    assert proc.returncode == 1, proc.stderr
    assert ("SA101", f"{name}!app.env", 1) in _located(report)


def test_a_nested_archive_names_every_level(tmp_path: Path, keys) -> None:
    inner = _tar({"app/.env": _env(keys)}, "w:gz")
    (tmp_path / "outer.zip").write_bytes(_zip({"inner.tar.gz": inner, "notes.txt": b"nothing here\n"}))
    proc, report = run_json("scan", "--no-cache", str(tmp_path))
    assert proc.returncode == 1, proc.stderr
    assert ("SA101", "outer.zip!inner.tar.gz!app/.env", 1) in _located(report)


def test_an_id_rsa_inside_an_archive_is_a_credential_file(tmp_path: Path) -> None:
    rng = random.Random(7)
    body = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") for _ in range(64 * 20))
    key = ("-----BEGIN OPENSSH PRIVATE KEY-----\n"  # pragma: allowlist secret
           + "\n".join(body[i:i + 64] for i in range(0, len(body), 64)) + "\n-----END OPENSSH PRIVATE KEY-----\n")
    (tmp_path / "home.tar.gz").write_bytes(_tar({"./home/me/.ssh/id_rsa": key.encode()}, "w:gz"))
    proc, report = run_json("scan", "--no-cache", str(tmp_path))
    assert proc.returncode == 1, proc.stderr
    assert any(check == "SA104" and path == "home.tar.gz!home/me/.ssh/id_rsa" for check, path, _ in _located(report))


def test_baseline_and_config_waivers_work_for_member_paths(tmp_path: Path, keys) -> None:
    (tmp_path / "bundle.zip").write_bytes(_zip({"app/.env": _env(keys)}))
    created = run_cli("baseline", "create", str(tmp_path), cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    proc = run_cli("scan", "--no-cache", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout
    assert "waived" in proc.stdout
    (tmp_path / ".secretaudit-baseline.json").unlink()
    (tmp_path / "pyproject.toml").write_text(
        '[tool.secretaudit]\nwaivers = [{ check = "SA101", path = "bundle.zip!app/*", reason = "fixture" }]\n')
    waived = run_cli("scan", "--no-cache", str(tmp_path), "-v", cwd=tmp_path)
    assert "WAIVED bundle.zip!app/.env:1 SA101" in waived.stdout, waived.stdout


def test_a_staged_archive_is_scanned(repo: Path, keys) -> None:
    (repo / "bundle.zip").write_bytes(_zip({"app/.env": _env(keys)}))
    git(repo, "add", "bundle.zip")
    proc = run_cli("scan", "--staged", cwd=repo)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAILED bundle.zip!app/.env:1 SA101" in proc.stdout


def test_archives_in_a_pool_of_workers_give_the_same_results(tmp_path: Path, keys) -> None:
    for i in range(80):
        (tmp_path / f"m{i:02d}.py").write_text(f"value_{i} = {i}\n")
    (tmp_path / "bundle.zip").write_bytes(_zip({"app/.env": _env(keys), "logo.png": b"\x89PNG\0\0\0" * 10}))
    one, report1 = run_json("scan", "--no-cache", "--workers", "1", str(tmp_path))
    two, report2 = run_json("scan", "--no-cache", "--workers", "2", str(tmp_path))
    assert one.returncode == two.returncode == 1
    assert _located(report1) == _located(report2)
    assert ("SA101", "bundle.zip!app/.env", 1) in _located(report2)
    assert {"path": "bundle.zip!logo.png", "reason": "binary", "error": False} in report2["skipped"]


# -- hostile archives ----------------------------------------------------------


def _memory_bounded() -> tuple[str, ...]:
    """A wrapper that caps the scanner's address space, where the platform enforces it (Linux)."""
    if not sys.platform.startswith("linux"):
        return ()
    return (sys.executable, "-c", "import os, resource, sys; "
            f"resource.setrlimit(resource.RLIMIT_AS, ({ADDRESS_SPACE_LIMIT}, {ADDRESS_SPACE_LIMIT})); "
            "os.execv(sys.argv[1], sys.argv[1:])")


def _zip_bomb(path: Path, size: int) -> None:
    """One member of ``size`` zeros, deflated (about 1000:1), written without holding it in memory."""
    chunk = b"\0" * (1 << 22)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("zeros.bin", "w", force_zip64=True) as member:
            for _ in range(size // len(chunk)):
                member.write(chunk)


def _gzip_bomb(path: Path, size: int) -> None:
    """A gzip of ``size`` bytes of text: one compressed block repeated (gzip members concatenate)."""
    block = gzip.compress(b"a" * (1 << 24), compresslevel=9)
    path.write_bytes(block * (size // (1 << 24)))


@pytest.mark.parametrize("name, build", [
    ("bomb.zip", lambda p: _zip_bomb(p, 256 << 20)),
    ("notes.txt.gz", lambda p: _gzip_bomb(p, 1 << 30)),
])
def test_a_compression_bomb_is_skipped_with_a_reason_quickly_and_in_bounded_memory(tmp_path: Path, keys, name,
                                                                                   build) -> None:
    build(tmp_path / name)
    (tmp_path / "settings.py").write_text(f"AWS_KEY = '{keys[0]}'\n")  # the rest of the scan goes on
    started = time.monotonic()
    proc = run_cli("scan", "--no-cache", str(tmp_path), wrapper=_memory_bounded())
    elapsed = time.monotonic() - started
    _no_traceback(proc)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"ERROR {name}" in proc.stdout and "compression bomb" in proc.stdout, proc.stdout
    assert "FAILED settings.py:1 SA101" in proc.stdout
    assert "1 error" in proc.stdout
    assert elapsed < 20, elapsed  # about 0.2 s; minutes (or an out-of-memory) without the limits


def test_an_archive_nested_too_deep_is_an_error_naming_the_level(tmp_path: Path, keys) -> None:
    data = _zip({"app/.env": _env(keys)})
    for level in range(2, 5):
        data = _zip({f"level{level}.zip": data})
    (tmp_path / "deep.zip").write_bytes(data)
    proc = run_cli("scan", "--no-cache", str(tmp_path))
    assert proc.returncode == 1
    assert "ERROR deep.zip!level4.zip!level3.zip!level2.zip: an archive nested more than 3 deep" in proc.stdout
    # three levels are opened: the same key one level up is found
    (tmp_path / "deep.zip").write_bytes(_zip({"level3.zip": _zip({"level2.zip": _zip({"app/.env": _env(keys)})})}))
    proc = run_cli("scan", "--no-cache", str(tmp_path))
    assert "FAILED deep.zip!level3.zip!level2.zip!app/.env:1 SA101" in proc.stdout


def test_a_gzip_that_expands_to_itself_ends_at_the_depth_limit(tmp_path: Path) -> None:
    data = b"just text\n"
    for _ in range(50):
        data = gzip.compress(data)
    (tmp_path / "many.gz").write_bytes(data)
    started = time.monotonic()
    proc = run_cli("scan", "--no-cache", str(tmp_path))
    _no_traceback(proc)
    assert proc.returncode == 1
    assert "nested more than 3 deep" in proc.stdout
    assert time.monotonic() - started < 20


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_the_member_limit_stops_an_archive_with_a_reason(tmp_path: Path, kind: str) -> None:
    members = {f"f{i}.txt": b"x\n" for i in range(10_050)}
    (tmp_path / f"many.{kind}").write_bytes(_zip(members) if kind == "zip" else _tar(members))
    proc = run_cli("scan", "--no-cache", str(tmp_path))
    _no_traceback(proc)
    assert proc.returncode == 1
    assert "over 10,000 archive members in one file; the rest were not scanned" in proc.stdout


def test_the_total_expanded_size_is_bounded(tmp_path: Path) -> None:
    """Many members, each under max_file_size and not a bomb, still stop at 10 x max_file_size in all."""
    rng = random.Random(3)
    member = "".join(rng.choice(("alpha ", "beta ", "gamma ", "delta\n")) for _ in range(60_000)).encode()
    (tmp_path / "big.zip").write_bytes(_zip({f"part{i}.txt": member for i in range(14)}))  # 330 KB, expands 13:1
    assert (tmp_path / "big.zip").stat().st_size < 400_000
    proc = run_cli("scan", "--no-cache", "--max-file-size", "400KB", str(tmp_path))
    _no_traceback(proc)
    assert proc.returncode == 1
    assert "the archive expands past 3.9 MB in all (10 x max_file_size)" in proc.stdout, proc.stdout


def test_a_member_over_max_file_size_is_skipped_like_a_file(tmp_path: Path) -> None:
    (tmp_path / "data.zip").write_bytes(_zip({"dump.sql": b"INSERT INTO t VALUES (1);\n" * 10_000}))
    proc = run_cli("scan", "--no-cache", "--max-file-size", "100KB", str(tmp_path))
    assert "WARNING skipped data.zip!dump.sql:" in proc.stdout and "over max_file_size" in proc.stdout
    assert "(1 too large)" in proc.stdout


def test_a_corrupt_archive_is_an_error_and_what_was_read_is_kept(tmp_path: Path, keys) -> None:
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04" + random.Random(1).randbytes(400))
    noise = random.Random(2).randbytes(200_000)
    whole = _tar({"app/.env": _env(keys), "blob.bin": noise}, "w:gz")
    (tmp_path / "cut.tar.gz").write_bytes(whole[: len(whole) // 2])  # the .env, then the cut
    proc = run_cli("scan", "--no-cache", str(tmp_path))
    _no_traceback(proc)
    assert proc.returncode == 1
    assert "ERROR broken.zip: not a readable zip archive" in proc.stdout
    assert "ERROR cut.tar.gz: not a readable gzip archive (truncated)" in proc.stdout
    assert "FAILED cut.tar.gz!app/.env:1 SA101" in proc.stdout  # partial results kept
    _no_secret(proc, keys)


def test_an_encrypted_member_is_a_warning(tmp_path: Path) -> None:
    data = bytearray(_zip({"secret.txt": b"hello\n"}))  # secretaudit: ignore[SA102] a member name in a corrupt-archive fixture
    data[6] |= 1  # the local header's "encrypted" flag
    central = data.find(b"PK\x01\x02")
    data[central + 8] |= 1  # and the central directory's
    (tmp_path / "locked.zip").write_bytes(bytes(data))
    proc = run_cli("scan", "--no-cache", str(tmp_path))
    _no_traceback(proc)
    assert "WARNING skipped locked.zip!secret.txt: encrypted" in proc.stdout


# -- every skip counted and shown ----------------------------------------------


def test_the_summary_counts_every_skip_by_reason_and_vv_lists_each(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(64))
    (tmp_path / "b.bin").write_bytes(bytes(100))
    (tmp_path / "huge.txt").write_text("x" * 200_000)
    (tmp_path / "ok.py").write_text("x = 1\n")
    (tmp_path / "bundle.zip").write_bytes(_zip({"icon.ico": bytes(50), "readme.txt": b"hi\n"}))
    (tmp_path / "archive.7z").write_bytes(b"7z\xbc\xaf\x27\x1c\x00\x04" + bytes(40))
    proc = run_cli("scan", "--no-cache", "--max-file-size", "100KB", str(tmp_path))
    assert proc.returncode == 0, proc.stdout
    assert "5 skipped (1 7z archive, 3 binary, 1 too large)" in proc.stdout, proc.stdout
    assert "SKIPPED a.png" not in proc.stdout  # binaries are quiet per file...
    assert "WARNING skipped archive.7z: a 7z archive, which secretaudit cannot open" in proc.stdout
    verbose = run_cli("scan", "--no-cache", "--max-file-size", "100KB", "-vv", str(tmp_path))
    for line in ("SKIPPED a.png: binary", "SKIPPED b.bin: binary", "SKIPPED bundle.zip!icon.ico: binary"):
        assert line in verbose.stdout  # ...and each is listed with -vv
    quiet = run_cli("scan", "--no-cache", "--max-file-size", "100KB", "-q", str(tmp_path))
    assert "5 skipped (1 7z archive, 3 binary, 1 too large)" in quiet.stdout
    _, report = run_json("scan", "--no-cache", "--max-file-size", "100KB", str(tmp_path))
    assert report["summary"]["skipped"] == 5
    assert {s["path"] for s in report["skipped"]} == {"a.png", "b.bin", "huge.txt", "bundle.zip!icon.ico", "archive.7z"}


def test_an_archive_is_not_opened_on_the_pre_commit_path_unless_it_is_one(tmp_path: Path) -> None:
    """A plain file pays nothing: zipfile and tarfile are imported only for a file that starts like an archive.

    (``bz2`` and ``lzma`` are not in the list: ``shutil`` imports them anyway.)
    """
    (tmp_path / "ok.py").write_text("x = 1\n")
    # an atexit callback: it runs at the end, and it turns off the CLI's os._exit fast path.  Modules the
    # interpreter loaded before secretaudit ran (a site .pth file may import zipfile) are not ours to count.
    probe = ("import atexit, runpy, sys\n"
             "before = set(sys.modules)\n"
             "atexit.register(lambda: print('LOADED', sorted(m for m in ('zipfile', 'tarfile', 'secretaudit.archives') "
             "if m in sys.modules and m not in before)))\n"
             "sys.argv = ['secretaudit', 'scan', '--no-cache', sys.argv[1]]\n"
             "runpy.run_module('secretaudit', run_name='__main__')\n")
    def loaded(path: Path) -> str:
        proc = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(tmp_path / "c")},
                              timeout=120)
        return next((line for line in proc.stdout.splitlines() if line.startswith("LOADED")), proc.stdout + proc.stderr)

    assert loaded(tmp_path / "ok.py") == "LOADED []"
    (tmp_path / "b.zip").write_bytes(_zip({"a.txt": b"x\n"}))
    assert "secretaudit.archives" in loaded(tmp_path / "b.zip")  # the probe does see a load
