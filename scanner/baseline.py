"""Baselines: the findings a team has accepted, so scans report only new ones.

``.secretaudit-baseline.json`` is keyed by fingerprint, with no line numbers
and no timestamps, sorted: moving code does not change it, regenerating it on
an unchanged tree gives the same bytes, and its diff in review shows exactly
what was accepted.  Each entry may carry a ``reason`` that ``update`` keeps.

A detect-secrets ``.secrets.baseline`` can be imported: its entries hold the
SHA-1 of each secret and the file name, so the files it names are scanned and
every detection whose SHA-1 and file match becomes an entry here.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from secretaudit.errors import UsageError
from secretaudit.model import Finding, Status

if TYPE_CHECKING:
    from secretaudit.config import Config

BASELINE_VERSION = 1


def _broken(path: Path, problem: str) -> UsageError:
    return UsageError(f"baseline {path}: {problem}; regenerate it with 'secretaudit baseline create' "
                      "or pass --no-baseline")


def load_entries(path: Path) -> dict[str, dict[str, Any]]:
    """Read a baseline: fingerprint -> entry.  Broken files are usage errors."""
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _broken(path, f"cannot read it ({getattr(exc, 'strerror', None) or exc.__class__.__name__})") from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise _broken(path, f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    if isinstance(data, dict) and "results" in data and "plugins_used" in data:
        raise _broken(path, "this is a detect-secrets baseline; import it with "
                            "'secretaudit baseline import' first")
    if not isinstance(data, dict) or not isinstance(data.get("findings"), list):
        raise _broken(path, "expected an object with a 'findings' list")
    if data.get("version") != BASELINE_VERSION:
        from secretaudit.redact import shape

        raise _broken(path, f"unsupported version (expected {BASELINE_VERSION}, got {shape(data.get('version'))})")
    entries = {}
    for index, entry in enumerate(data["findings"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("fingerprint"), str):
            raise _broken(path, f"entry {index} has no 'fingerprint'")
        entries[entry["fingerprint"]] = entry
    return entries


def entry_for(finding: Finding) -> dict[str, Any]:
    return {"fingerprint": finding.fingerprint, "check_id": finding.check_id,
            "path": finding.location.path or str(finding.location)}


def build(findings: Iterable[Finding], previous: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Baseline content for the failing ``findings``, keeping prior reasons."""
    previous = previous or {}
    entries: dict[str, dict[str, Any]] = {}
    for finding in findings:
        if finding.status is Status.WAIVED and (finding.waiver is None or finding.waiver.source != "baseline"):
            continue  # inline waivers already accept it where it stands
        if finding.status not in (Status.FAILED, Status.WAIVED):
            continue
        entry = entry_for(finding)
        if "reason" in previous.get(finding.fingerprint, {}):
            entry["reason"] = previous[finding.fingerprint]["reason"]
        entries[finding.fingerprint] = entry
    ordered = sorted(entries.values(), key=lambda e: (e["path"], e["check_id"], e["fingerprint"]))
    return {"version": BASELINE_VERSION, "tool": "secretaudit", "findings": ordered}


def write(path: Path, content: dict[str, Any], what: str = "baseline", create_dirs: bool = False) -> None:
    """Write atomically (never half a baseline), only where :mod:`secretaudit.outputs` allows a file.

    Raises :class:`secretaudit.outputs.OutputPathError` (``what`` names the option) when it cannot.
    """
    from secretaudit.outputs import write_output

    write_output(str(path), json.dumps(content, indent=2, sort_keys=False) + "\n", what, create_dirs)


# -- detect-secrets import -----------------------------------------------------------


def read_detect_secrets(path: Path) -> dict[str, set[str]]:
    """A detect-secrets baseline as ``{filename: {sha1 of secret, ...}}``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path} ({getattr(exc, 'strerror', None) or exc}); check the path") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg}); is it a detect-secrets baseline?") from None
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, dict):
        raise UsageError(f"{path}: no 'results' object; is it a detect-secrets .secrets.baseline?")
    hashes: dict[str, set[str]] = {}
    for filename, entries in results.items():
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("hashed_secret"), str):
                hashes.setdefault(filename.replace(os.sep, "/"), set()).add(entry["hashed_secret"])
    return hashes


def import_detect_secrets(ds_baseline: Path, config: "Config", root: Path) -> list[Finding]:
    """Findings in the files a detect-secrets baseline names whose secret it lists.

    Runs the file checks directly (the plaintext never leaves this function):
    each detection whose SHA-1 matches an entry for its file is accepted.
    """
    from secretaudit.file_checks import findings_for
    from secretaudit.file_reader import read_file
    from secretaudit.model import FileRef
    from secretaudit.model import FileItem

    accepted: list[Finding] = []
    for filename, hashes in sorted(read_detect_secrets(ds_baseline).items()):
        loaded = read_file(FileRef(str(root / filename), filename), config.settings["max_file_size"])
        if not isinstance(loaded, FileItem):
            continue
        detections = [d for result in config.hook.secretaudit_scan_file(item=loaded, config=config)
                      for d in (result or [])
                      if hashlib.sha1(d.secret.encode("utf-8")).hexdigest() in hashes]
        accepted.extend(f for f in findings_for(loaded, detections, config, "detect-secrets import")
                        if f.status is Status.FAILED)
    return accepted

