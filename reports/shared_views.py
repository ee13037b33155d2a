"""The views every report shares, derived once from a finished session.

Reports show more than failures: a reviewer needs to see what *passed*, and
an auditor needs each compliance control with the evidence for or against
it.  Both are derived here, so every format tells the same story:

- :func:`outcomes`: one outcome per (check, target): failed if any finding of
  that check on that target failed, waived if all were waived, else passed;
- :func:`control_outcomes`: for each control the checks evidence, whether it
  passes and which findings break it;
- :func:`framework_outcomes`: the share of each framework's controls that pass;
- :func:`run_metadata`: tool version, times, the date judged as of, command,
  config hash, targets.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from secretaudit import __version__
from secretaudit.controls import framework
from secretaudit.forecast import forecast
from secretaudit.model import Finding, Status
from secretaudit.redact import scrub
from secretaudit.shownpaths import shown_argv, shown_path
from secretaudit.stash import ARGV, BACKEND_STATS

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


@dataclass
class FrameworkOutcome:
    """A compliance framework (PCI DSS, NIST 800-53...): how many of its evidenced controls pass."""

    framework: str
    controls: list[ControlOutcome]

    @property
    def passed(self) -> int:
        return sum(c.status is Status.PASSED for c in self.controls)

    @property
    def percent(self) -> int:
        """Whole percent passing, rounded down: 99.6% is not "100%"."""
        return 100 * self.passed // len(self.controls) if self.controls else 0


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


def framework_outcomes(session: "Session") -> list[FrameworkOutcome]:
    """The controls of :func:`control_outcomes` grouped by framework, in name order."""
    grouped: dict[str, list[ControlOutcome]] = defaultdict(list)
    for outcome in control_outcomes(session):
        grouped[framework(outcome.control)].append(outcome)
    return [FrameworkOutcome(name, grouped[name]) for name in sorted(grouped)]


def as_of(session: "Session") -> str:
    """The moment the run judged dates as of (``--as-of``, else the run's start), ISO 8601 UTC to the second."""
    moment = session.config.as_of
    moment = moment if moment.tzinfo else moment.replace(tzinfo=_dt.timezone.utc)
    return moment.astimezone(_dt.timezone.utc).isoformat(timespec="seconds")


def as_of_text(session: "Session") -> str:
    """The as-of moment for people: ``2026-12-01``, with the time only when it is not midnight UTC."""
    moment = _dt.datetime.fromisoformat(as_of(session))
    if moment.time() == _dt.time(0, 0):
        return moment.date().isoformat()
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def owners(session: "Session") -> dict[tuple[str, str], str]:
    """Each backend secret's owner, by (backend, name), as its backend recorded it (no owner: absent)."""
    return {(e.backend, e.name): e.owner for e in forecast(session) if e.owner}


def owner_of(finding: Finding, known: dict[tuple[str, str], str]) -> str | None:
    """The owner of the secret a lifecycle finding is about; None for a file finding or an unowned secret."""
    loc = finding.location
    return known.get((loc.backend, loc.name)) if loc.backend and loc.name else None


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
        "as_of": as_of(session),
        "duration_seconds": round(session.duration, 3),
        "command": [scrub(arg) for arg in shown_argv(session.config.stash.get(ARGV, []), session.config)],
        "config_file": shown_path(session.config.source, session.config) if session.config.source else None,
        "config_sha256": config_hash(session),
        "targets": [{"kind": t.kind, "name": t.name} for t in session.targets],
        "exit_code": int(session.exitstatus),
        "interrupted": session.interrupted,  # the results are partial
        "backends": {label: {"secrets": stats["records"], "api_calls": stats["api_calls"],
                             "seconds": round(stats["seconds"], 3),
                             **({"correlate": stats["correlate"]} if "correlate" in stats else {})}
                     for label, stats in sorted(session.config.stash.get(BACKEND_STATS, {}).items())},
    }
