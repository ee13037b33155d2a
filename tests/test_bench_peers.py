"""bench.py's peer rows (benchmarks/peers.py): what gitleaks and Kingfisher say they scanned, and missing peers.

The peers are benchmark-only: when they are not installed, their row says
why and the bench goes on.  Their reports are parsed from the exact shapes
the two tools print (gitleaks 8.30 logs, Kingfisher 2.14's summary); the
bench itself runs the real tools (they are never installed for the tests).
"""

from __future__ import annotations

import importlib.util
import sys
import venv
from pathlib import Path
from types import ModuleType

import pytest

from conftest import ROOT


def _script(name: str) -> ModuleType:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


peers = _script("peers")

GITLEAKS_LOG = (
    "\x1b[90m4:52AM\x1b[0m \x1b[32mINF\x1b[0m \x1b[1mscanned ~21457222 bytes (21.46 MB) in 1.51s\x1b[0m\n"
    "\x1b[90m4:52AM\x1b[0m \x1b[33mWRN\x1b[0m \x1b[1mleaks found: 2\x1b[0m\n"
)

KINGFISHER_SUMMARY = """
==========================================
Scan Summary:
==========================================
 |Findings....................: 135
 |__Successful Validations....: 0
 |__Failed Validations........: 0
 |__Skipped Validations.......: 0
 |Rules Applied...............: 488
 |__Blobs Scanned.............: 2,041
 |Bytes Scanned...............: 45.37 MiB
 |Scan Duration...............: 454ms 657us 41ns
"""


def test_gitleaks_bytes_come_from_its_log_and_findings_from_its_report(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    report.write_text('[{"RuleID": "a"}, {"RuleID": "b"}]')
    assert peers.gitleaks_result(GITLEAKS_LOG, report) == (21457222, 2)
    assert peers.gitleaks_result("no such line", tmp_path / "missing.json") == (None, None)


def test_kingfisher_bytes_blobs_and_findings_come_from_its_summary() -> None:
    assert peers.kingfisher_result(KINGFISHER_SUMMARY) == (int(45.37 * (1 << 20)), 2041, 135)
    small = KINGFISHER_SUMMARY.replace("45.37 MiB", "145.14 KiB")
    assert peers.kingfisher_result(small)[0] == int(145.14 * 1024)
    assert peers.kingfisher_result("") == (None, None, None)


def test_a_peer_missing_from_a_virtualenv_gets_a_row_that_says_why(tmp_path: Path) -> None:
    venv.create(tmp_path / "empty", with_pip=False)
    found = peers.locate(tmp_path / "empty" / "bin")
    assert set(found) == {"gitleaks", "kingfisher"}
    for name, peer in found.items():
        assert peer.program is None and f"pip install {peers.PACKAGES[name]}" in peer.note
    bench = _script("bench")
    row = bench.missing_peer(found["gitleaks"], files=3, size=1000)
    table = bench.table([row])
    assert "not run" in table and row.note.startswith("not run: not installed")
