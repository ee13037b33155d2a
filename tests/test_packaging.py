"""One import name: the folders ``scanner/``, ``checks/`` and ``reports/`` install as ``secretaudit``.

Installed under their folder names they took three generic top-level names
that PyPI packages also use (installing PyPI's ``reports`` overwrote ours),
and a project with its own ``checks/`` package on ``PYTHONPATH`` broke the
plugin loading.  These tests build the real wheel and run the real CLI next
to such a project.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from conftest import ROOT, fake_aws_key_id, run_cli


def test_the_wheel_installs_one_top_level_package(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("secretaudit-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top == {"secretaudit"}, top
    for module in ("secretaudit/model.py", "secretaudit/backends/vault.py", "secretaudit/checks/known_formats.py",
                   "secretaudit/reports/json_report.py", "secretaudit/reports/templates/report.html.j2",
                   "secretaudit/reports/schemas/report.schema.json", "secretaudit/__main__.py",
                   "secretaudit/checks/rules/github.toml", "secretaudit/checks/rules/private-keys.toml"):
        assert module in names, module
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "secretaudit = secretaudit.launch:run" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_a_project_with_its_own_checks_scanner_and_reports_packages_does_not_shadow_ours(tmp_path: Path,
                                                                                        rng) -> None:
    project = tmp_path / "project"
    for name in ("checks", "scanner", "reports"):
        (project / name).mkdir(parents=True)
        (project / name / "__init__.py").write_text("raise ImportError('the project\\'s own package')\n")
    (project / "settings.py").write_text(f"AWS_ACCESS_KEY_ID = '{fake_aws_key_id(rng)}'\n")
    env = {"PYTHONPATH": os.pathsep.join([str(project), os.environ.get("PYTHONPATH", "")])}
    proc = run_cli("scan", "--no-baseline", "--no-cache", str(project / "settings.py"), cwd=project, env=env)
    assert proc.returncode == 1, proc.stderr
    assert "SA101" in proc.stdout and "AWS access key ID" in proc.stdout


def test_python_dash_m_secretaudit_and_the_documented_plugin_imports() -> None:
    code = ("from secretaudit.hookspec import hookimpl\nfrom secretaudit.model import Finding, CheckSpec\n"
            "import secretaudit.checks.known_formats, secretaudit.reports.sarif_report\nprint('ok')")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/").stdout == "ok\n"
    proc = subprocess.run([sys.executable, "-m", "secretaudit", "--version"], capture_output=True, text=True, cwd="/")
    assert proc.returncode == 0 and "secretaudit" in proc.stdout, proc.stderr
