"""Sharded audits merge into one report; --compare shows what changed since last night."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import CORPUS, fake_aws_key_id, run_cli, run_json


def test_eight_shards_merge_into_the_unsharded_run(tmp_path: Path) -> None:
    whole = tmp_path / "whole.json"
    assert run_cli("scan", "--no-baseline", "--no-cache", "-q", "--report", f"json:{whole}", str(CORPUS)).returncode == 1
    shards = []
    for k in range(1, 9):
        path = tmp_path / f"shard-{k}.json"
        proc = run_cli("scan", "--no-baseline", "--no-cache", "-q", "--allow-empty", "--shard", f"{k}/8",
                       "--report", f"json:{path}", str(CORPUS))
        assert proc.returncode in (0, 1), proc.stderr
        shards.append(path)
    per_shard = [len(json.loads(p.read_text())["findings"]) for p in shards]
    assert sum(1 for n in per_shard if n) > 4, per_shard  # really split
    merged = tmp_path / "merged.json"
    html = tmp_path / "merged.html"
    proc = run_cli("report", "merge", *map(str, shards), "--report", f"json:{merged}", "--report", f"html:{html}")
    assert proc.returncode == 1, proc.stderr
    assert f"report written: json: {merged}" in proc.stdout
    expected, got = json.loads(whole.read_text()), json.loads(merged.read_text())
    assert got["findings"] == expected["findings"]
    for key in ("failed", "passed", "waived", "error", "skipped", "files_scanned", "by_severity"):
        assert got["summary"][key] == expected["summary"][key], key
    assert "FAIL" in html.read_text()


def test_shard_option_is_validated(tmp_path: Path) -> None:
    for bad in ("0/8", "9/8", "x/8", "3"):
        proc = run_cli("scan", "--shard", bad, str(tmp_path))
        assert proc.returncode == 4 and "--shard" in proc.stderr


def test_merge_rejects_what_is_not_a_report(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text('{"results": {}}')
    proc = run_cli("report", "merge", str(tmp_path / "x.json"))
    assert proc.returncode == 4 and "not a secretaudit JSON report" in proc.stderr


def test_compare_shows_new_fixed_and_unchanged(tmp_path: Path, rng) -> None:
    app = tmp_path / "app"
    app.mkdir()
    keys = [fake_aws_key_id(rng) for _ in range(3)]
    (app / "a.py").write_text(f'A = "{keys[0]}"\n')
    (app / "b.py").write_text(f'B = "{keys[1]}"\n')
    previous = tmp_path / "previous.json"
    run_cli("scan", "--no-cache", "-q", "--report", f"json:{previous}", str(app))
    (app / "b.py").write_text("B = None\n")  # fixed
    (app / "c.py").write_text(f'C = "{keys[2]}"\n')  # new
    html = tmp_path / "tonight.html"
    proc, report = run_json("scan", "--no-cache", "--compare", str(previous), "--report", f"html:{html}", str(app))
    assert proc.returncode == 1
    comparison = report["comparison"]
    by_fp = {f["fingerprint"]: f["location"]["path"] for f in report["findings"]}
    assert [by_fp[fp] for fp in comparison["new"]] == ["c.py"]
    assert [by_fp[fp] for fp in comparison["unchanged"]] == ["a.py"]
    assert [f["location"]["path"] for f in comparison["fixed"]] == ["b.py"]
    assert "since ../previous.json: 1 new, 1 fixed, 1 unchanged" in proc.stderr  # relative to the scan root, app
    assert 'data-changes="1/1/1"' in html.read_text()
    assert not any(k in proc.stdout + proc.stderr + html.read_text() for k in keys)


def test_compare_with_a_broken_previous_report_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "prev.json").write_text("{not json")
    (tmp_path / "a.py").write_text("x = 1\n")
    proc = run_cli("scan", "--compare", str(tmp_path / "prev.json"), str(tmp_path))
    assert proc.returncode == 4 and "not valid JSON" in proc.stderr


def test_compare_keeps_another_secret_on_the_same_line_new_and_fixed(tmp_path: Path, rng) -> None:
    """Pairing by subject is for a worse verdict of another check, never to hide a new key where an old one was."""
    app = tmp_path / "app"
    app.mkdir()
    old_key, new_key = fake_aws_key_id(rng), fake_aws_key_id(rng)
    (app / "a.py").write_text(f'A = "{old_key}"\n')
    previous = tmp_path / "previous.json"
    run_cli("scan", "--no-cache", "-q", "--report", f"json:{previous}", str(app))
    (app / "a.py").write_text(f'A = "{new_key}"\n')
    proc, report = run_json("scan", "--no-cache", "--compare", str(previous), str(app))
    comparison = report["comparison"]
    assert len(comparison["new"]) == 1 and len(comparison["fixed"]) == 1 and comparison["worse"] == []
    assert "WORSE" not in proc.stderr and ": 1 new, 1 fixed, 0 unchanged" in proc.stderr
