"""End-to-end behaviour of ``secretaudit scan``, through the real CLI process."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from conftest import CLEAN, CORPUS, fake_aws_key_id, fake_aws_secret, git, load_manifest, run_cli, run_json

MANIFEST = load_manifest()


def _write_aws(path: Path, key_id: str, secret: str, before: str = "") -> None:
    path.write_text(f'{before}import boto3\n\nclient = boto3.client(\n    "s3",\n'
                    f'    aws_access_key_id="{key_id}",\n    aws_secret_access_key="{secret}",\n)\n')


# -- exit codes ------------------------------------------------------------------------


def test_empty_directory_exits_5(tmp_path: Path) -> None:
    proc = run_cli("scan", str(tmp_path))
    assert proc.returncode == 5, proc.stdout + proc.stderr
    assert "no file was scanned" in proc.stdout


def test_allow_empty_turns_nothing_scanned_into_success(tmp_path: Path) -> None:
    assert run_cli("scan", "--allow-empty", str(tmp_path)).returncode == 0


def test_clean_tree_exits_0() -> None:
    proc = run_cli("scan", "--no-baseline", str(CLEAN))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " passed in " in proc.stdout


def test_missing_path_is_an_error_not_a_pass(tmp_path: Path) -> None:
    proc = run_cli("scan", str(tmp_path / "nope"))
    assert proc.returncode == 1
    assert "no such file or directory" in proc.stdout


# -- the planted corpus -----------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus_scan() -> tuple:
    return run_json("scan", "--no-baseline", str(CORPUS))


def test_corpus_exits_1_and_names_every_planted_secret_on_its_line(corpus_scan: tuple) -> None:
    proc, report = corpus_scan
    assert proc.returncode == 1, proc.stderr
    found = {(f["location"]["path"], f["location"]["line"], f["check_id"]) for f in report["findings"]
             if f["status"] == "failed"}
    # One finding per secret and line: where a known-format rule (SA101) also matches a planted generic
    # secret (a mysqladmin --password=... line), the engine keeps SA101's; tests/test_generic_checks.py
    # checks SA102's own verdict on every planted line.
    missing = [e for e in MANIFEST
               if (f"tests/fixtures/corpus/{e['path']}", e["line"], e["check_id"]) not in found
               and (f"tests/fixtures/corpus/{e['path']}", e["line"], "SA101") not in found]
    assert MANIFEST and not missing, missing


def test_terminal_lines_read_like_pytest(corpus_scan: tuple) -> None:
    proc, report = corpus_scan
    failed = [f for f in report["findings"] if f["status"] == "failed"]
    first = failed[0]
    rule = f" {first['rule']}" if first.get("rule") else ""
    expected = (f"{first['location']['path']}:{first['location']['line']} {first['check_id']}{rule} "
                f"[{first['severity']}] {first['message']} {first['evidence']}")
    assert expected in proc.stderr
    assert f"{len(failed)} findings failed" in proc.stderr.splitlines()[-1]


def test_json_report_shape(corpus_scan: tuple) -> None:
    _, report = corpus_scan
    assert report["version"] == "2"
    assert set(report["summary"]) >= {"failed", "passed", "waived", "error", "skipped", "by_severity"}
    for finding in report["findings"]:
        assert set(finding) >= {"check_id", "status", "severity", "location", "message", "fingerprint",
                                "remediation", "evidence"}
        assert "(redacted" in finding["evidence"]
    assert report["summary"]["failed"] == sum(f["status"] == "failed" for f in report["findings"])


@pytest.mark.parametrize("extra", [(), ("-v",), ("-vv",), ("--format", "json"), ("-q", "--no-color")])
def test_no_planted_secret_appears_in_any_output(extra: tuple[str, ...]) -> None:
    proc = run_cli("scan", "--no-baseline", str(CORPUS), str(CLEAN), *extra)
    output = proc.stdout + proc.stderr
    leaked = [e["secret"][:12] + "..." for e in MANIFEST if e["secret"] in output]
    assert proc.returncode == 1
    assert not leaked, f"raw secrets in output: {leaked}"


@pytest.mark.parametrize("accelerator", ["1", "0"], ids=["hyperscan", "pure-python"])
def test_prefilter_on_and_off_give_byte_identical_json(accelerator: str) -> None:
    """The speed work must not change accuracy: the same report, byte for byte, but for the clock.

    ``SECRETAUDIT_HYPERSCAN=1`` puts every ASCII file through the accelerated
    prefilters (:mod:`secretaudit.multiscan`), ``0`` through the pure-Python ones.
    """
    if accelerator == "1":
        pytest.importorskip("hyperscan")
    env = {"SECRETAUDIT_HYPERSCAN": accelerator}
    on = run_cli("scan", "--no-baseline", "--no-cache", "--format", "json", str(CORPUS), str(CLEAN), env=env)
    off = run_cli("scan", "--no-baseline", "--no-cache", "--format", "json", "--no-prefilter", str(CORPUS), str(CLEAN),
                  env=env)
    assert on.returncode == off.returncode == 1
    report_on, report_off = json.loads(on.stdout), json.loads(off.stdout)
    for report in (report_on, report_off):
        for key in ("started", "finished", "as_of", "duration_seconds", "command", "config_sha256"):
            report["run"].pop(key)
    assert report_on["findings"] and json.dumps(report_on) == json.dumps(report_off)


def test_parallel_and_serial_scans_agree() -> None:
    serial = run_cli("scan", "--no-baseline", "--format", "json", "--workers", "1", str(CORPUS))
    parallel = run_cli("scan", "--no-baseline", "--format", "json", "--workers", "2", str(CORPUS))
    assert json.loads(serial.stdout)["findings"] == json.loads(parallel.stdout)["findings"]


# -- waivers -------------------------------------------------------------------------------


@pytest.mark.parametrize("comment", [
    "# secretaudit: ignore[SA101] test account, revoked",
    "# secretaudit: ignore",
    "# pragma: allowlist secret",
    "# gitleaks:allow",
])
def test_inline_waivers(tmp_path: Path, aws_pair: tuple[str, str], comment: str) -> None:
    key_id, _ = aws_pair
    (tmp_path / "app.py").write_text(f'KEY = "{key_id}"  {comment}\n')
    proc, report = run_json("scan", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    statuses = {f["status"] for f in report["findings"]}
    assert statuses == {"waived"}
    assert report["summary"]["waived"] == 1


def test_waiver_for_another_check_does_not_waive(tmp_path: Path, aws_pair: tuple[str, str]) -> None:
    key_id, _ = aws_pair
    (tmp_path / "app.py").write_text(f'KEY = "{key_id}"  # secretaudit: ignore[SA103] wrong id\n')
    assert run_cli("scan", str(tmp_path)).returncode == 1


def test_allowlist_nextline_pragma(tmp_path: Path, aws_pair: tuple[str, str]) -> None:
    key_id, _ = aws_pair
    (tmp_path / "app.py").write_text(f'# pragma: allowlist nextline secret\nKEY = "{key_id}"\n')
    assert run_cli("scan", str(tmp_path)).returncode == 0


def test_waiver_reason_is_reported(tmp_path: Path, aws_pair: tuple[str, str]) -> None:
    (tmp_path / "app.py").write_text(f'KEY = "{aws_pair[0]}"  # secretaudit: ignore[SA101] revoked in INC-42\n')
    proc = run_cli("scan", "-v", str(tmp_path))
    assert "waived: revoked in INC-42" in proc.stdout


# -- baseline -------------------------------------------------------------------------------


def test_moving_a_finding_keeps_the_baseline_and_the_scan_clean(repo: Path, aws_pair: tuple[str, str], rng) -> None:
    _write_aws(repo / "deploy.py", *aws_pair)
    assert run_cli("scan", ".", cwd=repo).returncode == 1
    assert run_cli("baseline", "create", ".", cwd=repo).returncode == 0
    baseline_file = repo / ".secretaudit-baseline.json"
    first = baseline_file.read_bytes()
    assert b'"line"' not in first and aws_pair[1].encode() not in first
    assert run_cli("scan", ".", cwd=repo).returncode == 0

    _write_aws(repo / "deploy.py", *aws_pair, before="# moved down\n\n\n\n")
    assert run_cli("baseline", "create", ".", cwd=repo).returncode == 0
    assert baseline_file.read_bytes() == first, "moving code changed the baseline"
    proc, report = run_json("scan", ".", cwd=repo)
    assert proc.returncode == 0 and report["summary"]["failed"] == 0
    assert {f["waiver"]["reason"] for f in report["findings"]} == {"baseline"}

    (repo / "new.py").write_text(f'TOKEN = "{fake_aws_key_id(rng)}"\n')
    proc, report = run_json("scan", ".", cwd=repo)
    assert proc.returncode == 1
    assert [f["location"]["path"] for f in report["findings"] if f["status"] == "failed"] == ["new.py"]


def test_baseline_update_keeps_reasons_and_drops_fixed(repo: Path, aws_pair: tuple[str, str]) -> None:
    _write_aws(repo / "deploy.py", *aws_pair)
    run_cli("baseline", "create", cwd=repo)
    path = repo / ".secretaudit-baseline.json"
    data = json.loads(path.read_text())
    for entry in data["findings"]:
        entry["reason"] = "test key, revoked"
    path.write_text(json.dumps(data))
    assert run_cli("baseline", "update", cwd=repo).returncode == 0
    updated = json.loads(path.read_text())
    assert {e.get("reason") for e in updated["findings"]} == {"test key, revoked"}
    (repo / "deploy.py").write_text("import boto3\n")
    run_cli("baseline", "update", cwd=repo)
    assert json.loads(path.read_text())["findings"] == []


def test_detect_secrets_baseline_import(repo: Path, aws_pair: tuple[str, str]) -> None:
    _write_aws(repo / "deploy.py", *aws_pair)
    git(repo, "add", ".")
    ds = shutil.which("detect-secrets")
    if ds is None:
        pytest.skip("detect-secrets executable not on PATH")
    import subprocess

    baseline = subprocess.run([ds, "scan"], cwd=repo, capture_output=True, text=True, check=True).stdout
    (repo / ".secrets.baseline").write_text(baseline)
    assert "deploy.py" in json.loads(baseline)["results"]
    proc = run_cli("baseline", "import", ".secrets.baseline", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    imported = json.loads((repo / ".secretaudit-baseline.json").read_text())["findings"]
    assert imported and {e["path"] for e in imported} == {"deploy.py"}
    assert run_cli("scan", ".", cwd=repo).returncode == 0


def test_scanning_with_a_detect_secrets_baseline_explains_the_import(repo: Path) -> None:
    (repo / "a.py").write_text("x = 1\n")
    (repo / ".secrets.baseline").write_text(json.dumps({"version": "1.5.0", "plugins_used": [], "results": {}}))
    proc = run_cli("scan", "--baseline", ".secrets.baseline", cwd=repo)
    assert proc.returncode == 4
    assert "secretaudit baseline import" in proc.stderr


# -- bad input -------------------------------------------------------------------------------


def _one_line_error(proc) -> str:
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def test_bad_files_are_skipped_with_clear_messages_and_the_rest_scanned(tmp_path: Path, aws_pair) -> None:
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + os.urandom(256))
    with open(tmp_path / "huge.log", "wb") as handle:
        handle.truncate(200 * 1024 * 1024)  # 200 MB, sparse
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 cr\xe8me\n".encode("latin-1"))
    os.symlink("loop_b", tmp_path / "loop_a")
    os.symlink("loop_a", tmp_path / "loop_b")
    _write_aws(tmp_path / "deploy.py", *aws_pair)
    proc, report = run_json("scan", str(tmp_path))
    assert proc.returncode == 1
    reasons = {s["path"].rsplit("/", 1)[-1]: s["reason"] for s in report["skipped"]}
    assert reasons == {"image.png": "binary", "huge.log": "too large", "latin1.txt": "not UTF-8",
                       "loop_a": "symlink loop", "loop_b": "symlink loop"}
    assert "huge.log: 200.0 MB is over max_file_size 10.0 MB; raise max_file_size" in proc.stderr
    assert "latin1.txt: not valid UTF-8 (byte 0xe9 at offset 3)" in proc.stderr
    assert "symlink loop" in proc.stderr and "Traceback" not in proc.stderr
    assert [f["location"]["path"].rsplit("/", 1)[-1] for f in report["findings"]] == ["deploy.py"] * len(report["findings"])
    assert report["summary"]["skipped"] == 5


def test_unreadable_file_is_an_error_and_the_rest_completes(tmp_path: Path, aws_pair) -> None:
    secret_file = tmp_path / "locked.env"
    secret_file.write_text("TOKEN=abc\n")
    secret_file.chmod(0)
    (tmp_path / "ok.py").write_text("print('hello')\n")
    wrapper: tuple[str, ...] = ()
    if os.geteuid() == 0:  # root reads anything: drop the capabilities that allow it
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv")
        wrapper = ("setpriv", "--bounding-set=-dac_override,-dac_read_search")
    proc = run_cli("scan", "--format", "json", str(tmp_path), wrapper=wrapper)
    report = json.loads(proc.stdout)
    assert proc.returncode == 1
    assert "locked.env: cannot read (Permission denied); fix its permissions or exclude it" in proc.stderr
    assert report["summary"]["error"] == 1 and report["summary"]["passed"] == 1


def test_broken_yaml_config(tmp_path: Path) -> None:
    (tmp_path / "secretaudit.yaml").write_text("fail_on: [high\n")
    (tmp_path / "a.py").write_text("x = 1\n")
    proc = run_cli("scan", ".", cwd=tmp_path)
    assert proc.returncode == 4
    line = _one_line_error(proc)
    assert line.startswith("error: ") and "secretaudit.yaml" in line and "invalid YAML at line" in line


@pytest.mark.parametrize("content, key, hint", [
    ("fail_on: severe\n", "fail_on", "allowed: info, low, medium, high, critical"),
    ("max_file_size: big\n", "max_file_size", "expected a size"),
    ("exclude: 3\n", "exclude", "expected a list of strings"),
    ("failon: high\n", "failon", "unknown setting (allowed:"),
    ("disable: [SA999]\n", None, "unknown check id 'SA999'"),
])
def test_mistyped_config_keys_name_file_key_and_allowed(tmp_path: Path, content: str, key, hint: str) -> None:
    (tmp_path / "secretaudit.yaml").write_text(content)
    (tmp_path / "a.py").write_text("x = 1\n")
    proc = run_cli("scan", ".", cwd=tmp_path)
    assert proc.returncode == 4
    line = _one_line_error(proc)
    assert "secretaudit.yaml" in line and hint in line
    if key:
        assert f"key '{key}'" in line


def test_broken_baseline(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / ".secretaudit-baseline.json").write_text('{"version": 1, "findings": [')
    proc = run_cli("scan", ".", cwd=tmp_path)
    assert proc.returncode == 4
    line = _one_line_error(proc)
    assert "not valid JSON" in line and "secretaudit baseline create" in line


def test_bad_cli_usage_exits_4(tmp_path: Path) -> None:
    assert run_cli("scan", "--fail-on", "severe", str(tmp_path)).returncode == 4
    assert run_cli("scan", "--no-such-flag").returncode == 4
    assert run_cli("scan", "--format", "yaml", str(tmp_path)).returncode == 4


# -- config ----------------------------------------------------------------------------------


def test_pyproject_config_found_walking_up_with_env_interpolation(tmp_path: Path, aws_pair) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.secretaudit]\nfail_on = "${SA_LEVEL}"\n'
                                             'exclude = ["vendor/**"]\n')
    (tmp_path / "src").mkdir()
    (tmp_path / "vendor").mkdir()
    _write_aws(tmp_path / "vendor" / "lib.py", *aws_pair)
    (tmp_path / "src" / "ok.py").write_text("x = 1\n")
    proc = run_cli("scan", ".", cwd=tmp_path / "src", env={"SA_LEVEL": "critical"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "pyproject.toml" in proc.stdout
    proc = run_cli("scan", str(tmp_path), cwd=tmp_path / "src", env={"SA_LEVEL": "critical"})
    assert proc.returncode == 0  # vendor/ excluded
    proc = run_cli("scan", str(tmp_path), cwd=tmp_path / "src")
    assert proc.returncode == 4 and "SA_LEVEL is not set" in proc.stderr


def test_fail_on_threshold(tmp_path: Path, aws_pair) -> None:
    _write_aws(tmp_path / "deploy.py", *aws_pair)
    assert run_cli("scan", "--fail-on", "critical", str(tmp_path)).returncode == 1
    (tmp_path / "deploy.py").write_text('DATABASE_URL = "postgres://app:Zq8vN2rT5kLw@db.internal:5432/app"\n')
    proc = run_cli("scan", "--fail-on", "critical", str(tmp_path))
    assert proc.returncode == 0, proc.stdout


def test_disable_plugin_with_p_no(tmp_path: Path, aws_pair) -> None:
    (tmp_path / "a.py").write_text(f'KEY = "{aws_pair[0]}"\n')
    assert run_cli("scan", str(tmp_path)).returncode == 1
    assert run_cli("scan", "-p", "no:known_formats", str(tmp_path)).returncode == 0


def test_p_of_a_loaded_plugin_adds_nothing_and_a_namesake_keeps_its_own_name(tmp_path: Path, aws_pair) -> None:
    """``-p secretaudit.checks.vault_policy`` during an audit (loaded anyway) was a crash, exit 3; a team's own
    ``acme.known_formats`` runs beside the built-in one of the same last name."""
    (tmp_path / "a.py").write_text(f'KEY = "{aws_pair[0]}"\n')
    proc = run_cli("scan", "-p", "secretaudit.checks.known_formats", str(tmp_path))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    plugin = tmp_path / "plugins" / "acme"
    plugin.mkdir(parents=True)
    (plugin / "__init__.py").write_text("")
    (plugin / "known_formats.py").write_text(
        "from secretaudit.hookspec import hookimpl\n"
        "@hookimpl\n"
        "def secretaudit_sessionfinish(session, exitstatus):\n"
        "    print('ACME-RAN')\n")
    env = {"PYTHONPATH": str(tmp_path / "plugins")}
    proc = run_cli("scan", "-p", "acme.known_formats", str(tmp_path / "a.py"), env=env)
    assert proc.returncode == 1 and "ACME-RAN" in proc.stdout, proc.stdout + proc.stderr


# -- git --------------------------------------------------------------------------------------


def test_gitignore_is_honoured_and_untracked_files_scanned(repo: Path, aws_pair) -> None:
    (repo / ".gitignore").write_text("build/\n")
    (repo / "build").mkdir()
    _write_aws(repo / "build" / "gen.py", *aws_pair)
    (repo / "untracked.py").write_text("x = 1\n")
    proc, report = run_json("scan", ".", cwd=repo)
    assert proc.returncode == 0, report
    assert report["summary"]["files_scanned"] == 2  # .gitignore and untracked.py


def test_staged_scans_the_index_not_the_work_tree(repo: Path, aws_pair) -> None:
    _write_aws(repo / "deploy.py", *aws_pair)
    git(repo, "add", "deploy.py")
    (repo / "deploy.py").write_text("import boto3\n")  # fixed in the work tree, not staged
    proc, report = run_json("scan", "--staged", cwd=repo)
    assert proc.returncode == 1
    assert {f["location"]["path"] for f in report["findings"]} == {"deploy.py"}
    git(repo, "add", "deploy.py")
    assert run_cli("scan", "--staged", cwd=repo).returncode == 0
    git(repo, "commit", "-qm", "clean")
    assert run_cli("scan", "--staged", cwd=repo).returncode == 5  # nothing staged: nothing scanned


# -- config waivers ---------------------------------------------------------------------------


def test_config_waivers_record_who_why_until_and_expire(tmp_path: Path, aws_pair) -> None:
    (tmp_path / "fixtures").mkdir()
    _write_aws(tmp_path / "fixtures" / "deploy.py", *aws_pair)
    (tmp_path / "secretaudit.yaml").write_text(
        "waivers:\n  - check: SA101\n    path: 'fixtures/*'\n    reason: fake keys for tests\n"
        "    by: alice@example.com\n    until: 2999-01-31\n")
    proc, report = run_json("scan", ".", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    waivers = {json.dumps(f["waiver"], sort_keys=True) for f in report["findings"]}
    assert waivers == {json.dumps({"reason": "fake keys for tests", "source": "config", "by": "alice@example.com",
                                   "until": "2999-01-31"}, sort_keys=True)}
    (tmp_path / "secretaudit.yaml").write_text(
        "waivers:\n  - check: SA101\n    path: 'fixtures/*'\n    reason: fake keys for tests\n    until: 2020-01-31\n")
    proc, report = run_json("scan", ".", cwd=tmp_path)
    assert proc.returncode == 1
    assert all("waiver expired on 2020-01-31" in f["message"] for f in report["findings"] if f["check_id"] == "SA101")


def test_a_waiver_without_reason_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "secretaudit.yaml").write_text("waivers:\n  - check: SA101\n    path: '*'\n")
    proc = run_cli("scan", ".", cwd=tmp_path)
    assert proc.returncode == 4 and "waivers[0].reason" in proc.stderr and "Traceback" not in proc.stderr


def test_controls_are_evidenced_only_by_checks_that_ran(tmp_path: Path) -> None:
    """A repository scan says nothing about least-privilege controls: no check of theirs ran."""
    (tmp_path / "a.py").write_text("x = 1\n")
    _, report = run_json("scan", "--no-cache", str(tmp_path))
    controls = {c["control"]: c["check_ids"] for c in report["controls"]}
    assert "PCI DSS v4 8.6.2" in controls and "NIST 800-53 AC-6" not in controls
    applies = {c["id"]: c["applies_to"] for c in report["checks"]}
    assert all("path" in applies[check] for ids in controls.values() for check in ids)


def test_quick_exit_keeps_output_and_plugin_exit_work(tmp_path: Path) -> None:
    """The CLI skips interpreter teardown only when nothing is registered for the exit.

    Every test here reads a real process's output, so lost output would show
    everywhere; this one checks the two edges: a report far larger than a
    pipe's buffer arrives whole, and a plugin's ``atexit`` callback still runs.
    """
    (tmp_path / "plugin_at_exit.py").write_text(
        "import atexit, pathlib\n"
        f"atexit.register(lambda: pathlib.Path({str(tmp_path / 'ran')!r}).write_text('yes'))\n")
    proc = run_cli("scan", str(CORPUS), "--no-baseline", "--format", "json", "-p", "plugin_at_exit",
                   env={"PYTHONPATH": f"{tmp_path}{os.pathsep}{Path(__file__).resolve().parents[1]}"})
    assert (tmp_path / "ran").read_text() == "yes"
    assert proc.returncode == 1, proc.stderr
    quick = run_cli("scan", str(CORPUS), "--no-baseline", "--format", "json")
    assert len(quick.stdout) > 1 << 16
    assert json.loads(quick.stdout)["findings"] == json.loads(proc.stdout)["findings"]


def test_directory_walk_lists_what_os_walk_lists(tmp_path: Path) -> None:
    """The scandir walk: files sorted per directory, depth first, symlinked directories as entries, no .git."""
    from secretaudit.dir_listing import walk

    def reference(top: str) -> list[str]:
        listed = []
        for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
            links = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
            dirnames[:] = sorted(d for d in dirnames if d != ".git" and d not in links)
            listed += [os.path.join(dirpath, name) for name in sorted(filenames + links)]
        return listed

    for name in ("b/c/deep.txt", "b/a.txt", "a/x.py", "B.txt", ".git/config", "sub/.git", "z/.env"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x\n")
    os.symlink(tmp_path / "b", tmp_path / "link_to_dir")
    os.symlink(tmp_path / "nowhere", tmp_path / "broken_link")
    os.symlink(tmp_path / "a" / "x.py", tmp_path / "z" / "link_to_file")
    walked = [full for full, _ in walk(str(tmp_path))]
    assert walked == reference(str(tmp_path))
    assert str(tmp_path / "link_to_dir") in walked and str(tmp_path / "sub" / ".git") in walked
    assert not any("/.git/" in p for p in walked)


@pytest.mark.parametrize("size", [100, 300_000], ids=["small", "past-one-read"])
def test_the_reader_takes_a_file_whole_even_when_it_grew_after_its_lstat(tmp_path: Path, size: int) -> None:
    """Reads are sized by the listing's ``lstat``; a file written to since then is still read to its end."""
    from secretaudit.file_reader import read_bytes
    from secretaudit.model import FileRef, Skip

    path = tmp_path / "growing.txt"
    path.write_bytes(b"a" * size)
    before = os.lstat(path)
    path.write_bytes(b"a" * size + b"b" * 70_000 + b"\n")  # appended to between the listing and the read
    ref = FileRef(str(path), "growing.txt")
    assert read_bytes(ref, 10 << 20, before) == path.read_bytes()
    refused = read_bytes(ref, size + 1000, before)
    assert isinstance(refused, Skip) and refused.reason == "too large"


@pytest.mark.parametrize("size", [5_000, 400_000], ids=["small", "large"])
def test_a_binary_file_is_kept_as_its_head_only_and_skipped(tmp_path: Path, size: int) -> None:
    from secretaudit.file_reader import BINARY_SNIFF_BYTES, decode, read_bytes
    from secretaudit.model import FileRef, Skip

    path = tmp_path / "image.bin"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00" + b"x" * size)
    data = read_bytes(FileRef(str(path), "image.bin"), 10 << 20)
    assert isinstance(data, bytes) and data == path.read_bytes()[:BINARY_SNIFF_BYTES]
    skipped = decode(str(path), "image.bin", data)
    assert isinstance(skipped, Skip) and skipped.reason == "binary"
