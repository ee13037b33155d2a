"""A third-party plugin installed as a distribution is loaded from the
``secretaudit`` entry-point group, and ``-p no:NAME`` blocks it."""

from __future__ import annotations

import json
import os
from pathlib import Path

from conftest import ROOT, run_cli

def _readme_plugin() -> str:
    """The plugin module exactly as the README's "Plugins" section shows it: the documented example must work."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("```python\n# acme_secretaudit.py\n") + len("```python\n")
    return readme[start:readme.index("```", start)]


PLUGIN = _readme_plugin()


def _install_plugin(site: Path) -> dict[str, str]:
    (site / "acme_secretaudit.py").write_text(PLUGIN)
    dist = site / "acme_secretaudit-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-secretaudit\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[secretaudit]\nacme = acme_secretaudit\n")
    return {"PYTHONPATH": os.pathsep.join([str(ROOT), str(site)])}


def test_entry_point_plugin_is_loaded_and_can_be_blocked(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    env = _install_plugin(site)
    target = tmp_path / "src"
    target.mkdir()
    (target / "cfg.py").write_text("x = 1\nclient.use('acme_tok_9f8e7d6c5b4a39281706')\n")

    checks = json.loads(run_cli("checks", "--format", "json", env=env).stdout)
    assert "ACME1" in {c["id"] for c in checks}

    proc = run_cli("scan", "--format", "json", str(target), env=env)
    report = json.loads(proc.stdout)
    assert proc.returncode == 1
    assert [(f["check_id"], f["location"]["line"]) for f in report["findings"]] == [("ACME1", 2)]
    assert "9f8e7d6c5b4a39281706" not in proc.stdout + proc.stderr

    blocked = run_cli("scan", "-p", "no:acme", str(target), env=env)
    assert blocked.returncode == 0, blocked.stdout
