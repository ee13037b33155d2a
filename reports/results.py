"""The views every report shares, derived once from a finished session.

Reports show more than failures: a reviewer needs to see what *passed*, and
an auditor needs each compliance control with the evidence for or against
it.  Both are derived here, so every format tells the same story:

- :func:`outcomes`: one outcome per (check, target): failed if any finding of
  that check on that target failed, waived if all were waived, else passed;
- :func:`control_outcomes`: for each control the checks evidence, whether it
  passes and which findings break it;
- :func:`run_metadata`: tool version, times, command, config hash, targets.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from secretaudit import __version__
from secretaudit.model import Finding, Status
from secretaudit.redact import scrub

if TYPE_CHECKING:
    from secretaudit.session import Session


@dataclass
class Outcome:
    """The verdict of one check on one target, with the findings behind it."""

    check_id: str
    target: str
    status: Status
    findings: list[Finding] = field(default_factory=list)


@dataclass
class ControlOutcome:
    """One compliance control: the checks evidencing it and what breaks it."""

    control: str
    check_ids: list[str]
    status: Status
    breaking: list[Finding] = field(default_factory=list)


def enabled_checks(session: "Session") -> list[str]:
    config = session.config
    return [spec.id for spec in (config.checks or []) if config.is_enabled(spec.id)]


def outcomes(session: "Session") -> list[Outcome]:
    """One outcome per enabled check and target, in a stable order."""
    by_key: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    for finding in session.findings:
        by_key[(finding.check_id, finding.target)].append(finding)
    result = []
    specs = {spec.id: spec for spec in session.config.checks or []}
    for target_obj in session.targets:
        target = target_obj.name
        for check_id in enabled_checks(session):
            if target_obj.kind not in specs[check_id].applies_to:
                continue
            found = by_key.get((check_id, target), [])
            statuses = {f.status for f in found}
            if Status.FAILED in statuses:
                status = Status.FAILED
            elif Status.ERROR in statuses:
                status = Status.ERROR
            elif any(f.status is Status.WAIVED for f in found):
                status = Status.WAIVED
            elif found:  # only "not checked" results: never a pass
                status = Status.SKIPPED
            else:
                status = Status.PASSED
            result.append(Outcome(check_id, target, status, found))
    return result


def control_outcomes(session: "Session") -> list[ControlOutcome]:
    """Each control evidenced by a check that ran on this run's targets: pass, or what breaks it."""
    config = session.config
    checks_by_control: dict[str, list[str]] = defaultdict(list)
    kinds = {t.kind for t in session.targets}
    for spec in config.checks or []:
        # a check that examined nothing in this run is no evidence either way
        if config.is_enabled(spec.id) and kinds & set(spec.applies_to):
            for control in spec.controls:
                checks_by_control[control].append(spec.id)
    result = []
    for control, check_ids in sorted(checks_by_control.items()):
        breaking = [f for f in session.findings if f.check_id in check_ids and f.status is Status.FAILED]
        errors = bool(session.errors)
        status = Status.FAILED if breaking else (Status.ERROR if errors else Status.PASSED)
        result.append(ControlOutcome(control, sorted(check_ids), status, breaking))
    return result


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return _dt.datetime.fromtimestamp(timestamp, tz=_dt.timezone.utc).isoformat(timespec="seconds")


def config_hash(session: "Session") -> str:
    """SHA-256 of the effective settings, so an auditor can tell two runs' configs apart."""
    settings = json.dumps(session.config.settings, sort_keys=True, default=str)
    return hashlib.sha256(settings.encode()).hexdigest()


def run_metadata(session: "Session") -> dict[str, Any]:
    return {
        "tool": {"name": "secretaudit", "version": __version__},
        "started": _iso(session.started),
        "finished": _iso(session.finished),
        "duration_seconds": round(session.duration, 3),
        "command": [scrub(arg) for arg in session.config.stash.get("argv", [])],
        "config_file": session.config.source,
        "config_sha256": config_hash(session),
        "targets": [{"kind": t.kind, "name": t.name} for t in session.targets],
        "exit_code": int(session.exitstatus),
        "interrupted": session.interrupted,  # the results are partial
        "backends": {label: {"secrets": stats["records"], "api_calls": stats["api_calls"],
                             "seconds": round(stats["seconds"], 3)}
                     for label, stats in sorted(session.config.stash.get("backend_stats", {}).items())},
    }
