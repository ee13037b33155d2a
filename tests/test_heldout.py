"""The held-out check: a repository drawn afresh on every run (new seed, new values), scanned, scored.

The fixture corpus is fixed, so a rule could fit its exact values; here the
same generators draw new ones (and new look-alike traps) each run, and the
scan must still find every planted credential on its line, by the check
the generator names, and report nothing on any other line.  The seed is in
the failure message: ``python benchmarks/heldout.py --seed N --keep DIR``
rebuilds that corpus for a look.
"""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path

from conftest import ROOT


def _heldout():
    spec = importlib.util.spec_from_file_location("heldout", ROOT / "benchmarks" / "heldout.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["heldout"] = module
    spec.loader.exec_module(module)
    return module


def test_a_fresh_corpus_is_found_whole_with_no_false_positive(tmp_path: Path) -> None:
    heldout = _heldout()
    seed = random.SystemRandom().randrange(1 << 32)
    tree = tmp_path / "repo"
    tree.mkdir()
    planted = heldout.build(tree, seed)
    assert len(planted) > 150  # the generators plant every supported format and form
    result = heldout.score(planted, heldout.secretaudit_findings(tree))
    assert result["missed"] == [], f"seed {seed}: missed {result['missed']}"
    assert result["false_positives"] == [], f"seed {seed}: false positives {result['false_positives']}"
