"""The runner of every target that is not a file tree: the engine runs, a check family judges.

An audit reaches beyond files: IAM principals, Vault policies, GitHub tokens,
database accounts, reads in an audit log, secrets to validate.  A check
family (:class:`TargetFamily`, registered with
``secretaudit_register_families``) says only what is its own:

* ``targets(config)``: its targets of the run (one per backend, token,
  database...), asked only in its ``mode``;
* ``units(run)``: what one target holds (principals, policies, secrets read...);
* ``judge(run, unit)``: what it concludes about one of them, as :class:`Verdict`
  objects.

The engine does the rest, the same way for every family.  Seven check
modules used to do it each in their own loop, and had drifted apart (an
error counted as a pass in some, a unit that could not be read was not
counted in others):

* ``--shard K/N`` keeps each target in one shard, by ``shard_key``;
* every unit listed is collected; every unit judged is counted once, failed
  when it gave a failed or error result (an error is never a pass); a target
  whose units could not be listed judged none;
* verdicts of disabled or unregistered checks are dropped, the others become
  findings through :func:`secretaudit.model.make_finding`, the one place
  fingerprints are made;
* a :class:`TargetError` from ``units`` is the target's error result; from
  ``judge``, the unit's; a ``fatal`` one ends the target there, saying how
  many units were judged before it.

A family whose units are judged in bulk (git history: blobs scanned in worker
processes, then merged across versions of a file) overrides
:meth:`TargetFamily.run`; it still gets the mode gate, the collection and the
shard from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Generic, Iterable, Iterator, TypeVar

from secretaudit.hookspec import hookimpl
from secretaudit.model import CheckSpec, Finding, Location, Severity, Status, Target, make_finding
from secretaudit.stash import AUDIT_BACKENDS, BACKENDS, HISTORY, SHARD, VALIDATE, StashKey

if TYPE_CHECKING:
    from secretaudit.config import Config
    from secretaudit.declared import Declaration
    from secretaudit.session import Session

U = TypeVar("U")
#: the run's target families, registered once
TARGET_FAMILIES: StashKey["FamilyRegistry"] = StashKey("target_families")

#: The stash key that is set when the run's command collects a mode's targets.
MODES = {
    "audit": AUDIT_BACKENDS,   # secretaudit audit
    "validate": VALIDATE,      # secretaudit validate (the secrets asked for; [] for --all)
    "history": HISTORY,        # secretaudit scan --history
}


@dataclass(frozen=True)
class Verdict:
    """What a family concluded about one unit, for one check; the engine makes it a finding.

    ``backend`` and ``name`` locate it; its fingerprint is made of the check,
    ``rule`` and ``BACKEND:NAME`` (or ``identity`` when given), never of the
    message, so rewording a message does not churn baselines.  ``message``
    must already be free of secret values (the finding scrubs it once more).
    """

    check_id: str
    backend: str
    name: str
    message: str
    status: Status = Status.FAILED
    rule: str = ""
    severity: Severity | None = None
    evidence: str = ""
    identity: str | None = None


class TargetError(Exception):
    """Judging cannot go on: ``verdicts`` are the results so far, and the error results saying why.

    Raised by ``units`` it stands for the whole target; by ``judge``, for the
    unit.  ``fatal`` ends the target there (an endpoint that rejects the
    audit's credentials would reject every other unit as well).
    """

    def __init__(self, *verdicts: Verdict, fatal: bool = False) -> None:
        super().__init__(next((v.message for v in verdicts if v.status is Status.ERROR), "target error"))
        self.verdicts = verdicts
        self.fatal = fatal


@dataclass
class TargetRun:
    """One target being run: what ``units`` and ``judge`` get besides their own state."""

    config: "Config"
    target: Target
    #: the session's warnings (one line each, shown after the run)
    warnings: list[str] = field(default_factory=list)


class TargetFamily(Generic[U]):
    """A check family that judges targets of one ``kind``: subclass, set the attributes, define the three methods."""

    #: ``Target.kind`` of this family's targets (unique in a run)
    kind: str = ""
    #: the command that runs them: a key of :data:`MODES`
    mode: str = "audit"
    #: the checks its verdicts belong to (a verdict of another check is looked up in the run's catalogue)
    specs: tuple[CheckSpec, ...] = ()
    #: what its units are called in "N ... audited before the failure"
    noun: str = "items"

    def targets(self, config: "Config") -> Iterable[Target]:
        """This family's targets of the run (before the shard is applied)."""
        raise NotImplementedError

    def shard_key(self, target: Target) -> str | None:
        """What places ``target`` in a ``--shard``; None keeps it in every shard."""
        return target.name

    def units(self, run: TargetRun) -> Iterable[U]:
        """What the target holds, each judged on its own; raise :class:`TargetError` if it cannot be listed."""
        raise NotImplementedError

    def judge(self, run: TargetRun, unit: U) -> Iterable[Verdict]:
        """The verdicts on one unit (none: it passes); raise :class:`TargetError` if it cannot be judged."""
        raise NotImplementedError

    def run(self, session: "Session", target: Target) -> None:
        """Run one target into the session (a family judging in bulk overrides this)."""
        run_into_session(self, session, target)


class FamilyRegistry:
    """The run's target families, in the order the hook returned them (which is the targets' order)."""

    def __init__(self) -> None:
        self._families: dict[str, TargetFamily[Any]] = {}

    def add(self, family: TargetFamily[Any]) -> None:
        if not family.kind or family.mode not in MODES:
            raise ValueError(f"target family {type(family).__name__}: kind must be set and mode one of "
                             f"{', '.join(MODES)}")
        if family.kind in self._families:
            raise ValueError(f"target kind {family.kind!r} is registered twice")
        self._families[family.kind] = family

    def get(self, kind: str) -> "TargetFamily[Any] | None":
        return self._families.get(kind)

    def __iter__(self) -> Iterator[TargetFamily[Any]]:
        return iter(list(self._families.values()))


def families(config: "Config") -> FamilyRegistry:
    """The run's family registry, filled by ``secretaudit_register_families`` the first time it is asked."""
    registry = config.stash.get(TARGET_FAMILIES)
    if registry is None:
        registry = FamilyRegistry()
        config.hook.secretaudit_register_families(registry=registry)
        config.stash[TARGET_FAMILIES] = registry
    return registry


# -- turning verdicts into findings -------------------------------------------------------


def to_findings(config: "Config", target: str, verdicts: Iterable[Verdict],
                specs: Iterable[CheckSpec] = (), declared: tuple[str | int, ...] = ()) -> list[Finding]:
    """Findings of ``verdicts`` whose check is enabled and known (in ``specs`` or the run's catalogue).

    Each is located where its subject is declared: a verdict on a configured
    backend (or one of its secrets) where that backend says, any other at
    ``declared``, the target's config key (the config file's first line
    when there is none): so no audit finding lacks a file and line.
    """
    from secretaudit.declared import declaration  # audits only: a scan's history family never needs it

    own = {spec.id: spec for spec in specs}
    catalogue = config.checks
    backends = {backend.label: backend for backend in config.stash.get(BACKENDS) or ()}
    fallback: list[Declaration | None] = []  # computed once, when first needed
    findings = []
    for v in verdicts:
        spec = own.get(v.check_id) or (catalogue.get(v.check_id) if catalogue is not None and v.check_id in catalogue
                                       else None)
        if spec is not None and config.is_enabled(v.check_id):
            backend = backends.get(v.backend)
            if backend is not None:
                where = backend.declared(None if v.name == "*" else v.name)
            else:
                if not fallback:
                    fallback.append(declaration(config, declared))
                where = fallback[0]
            path, line = where if where is not None else (None, None)
            location = Location(backend=v.backend, name=v.name, declared_in=path, declared_line=line)
            # a verdict's rule (a policy statement, a grant, a reader) tells findings apart in the
            # fingerprint; it is not one of the check's rules (SA101's formats), so it is not shown as one
            findings.append(make_finding(spec, location, v.message, status=v.status,
                                         rule=v.rule, shown_rule="", identity=v.identity, severity=v.severity,
                                         evidence=v.evidence, target=target))
    return findings


def _partial(error: TargetError, judged: int, noun: str) -> tuple[Verdict, ...]:
    """A fatal error's verdicts, its error results saying how much of the target was judged before it."""
    if not error.fatal or not judged:
        return error.verdicts
    note = f" ({judged} {noun} audited before the failure; results are partial)"
    return tuple(replace(v, message=v.message + note) if v.status is Status.ERROR else v for v in error.verdicts)


# -- the loop -------------------------------------------------------------------------------


#: Receives findings: those of one judged unit (``True``) or of a target that listed none (``False``).
Take = Callable[[list[Finding], bool], None]


def run_units(family: TargetFamily[U], run: TargetRun, take: Take,
              units: Callable[[], Iterable[U]] | None = None) -> int:
    """Judge every unit of ``run.target``, handing the findings to ``take``; returns how many units were listed.

    ``units`` replaces ``family.units(run)`` for a caller that has the units
    already (a test auditing one backend object).
    """
    config, name, specs, declared = run.config, run.target.name, family.specs, run.target.declared
    try:
        listed = list(units() if units is not None else family.units(run))
    except TargetError as error:
        take(to_findings(config, name, error.verdicts, specs, declared), False)
        return 0
    judged = 0
    for unit in listed:
        try:
            verdicts = list(family.judge(run, unit))
        except TargetError as error:
            take(to_findings(config, name, _partial(error, judged, family.noun), specs, declared), True)
            if error.fatal:
                break
        else:
            take(to_findings(config, name, verdicts, specs, declared), True)
        judged += 1
    return len(listed)


def failing(findings: list[Finding]) -> bool:
    """Whether a unit with these findings failed: a failed or an error result (an error is never a pass)."""
    return any(f.status in (Status.FAILED, Status.ERROR) for f in findings)


def not_checked(findings: list[Finding]) -> bool:
    """Whether a unit's only results say it was not checked (``skipped``): counted neither passed nor failed."""
    return bool(findings) and all(f.status is Status.SKIPPED for f in findings)


def run_into_session(family: TargetFamily[U], session: "Session", target: Target) -> None:
    """Run one target, counting each unit and handing its findings to the session."""
    def take(findings: list[Finding], judged: bool) -> None:
        if judged and not not_checked(findings):
            session.count_scanned(0, failed=failing(findings))
        for finding in findings:
            session.add_finding(finding)

    listed = run_units(family, TargetRun(session.config, target, session.warnings), take)
    session.collected(target, listed)


@dataclass
class TargetResult:
    """A target run outside a session (tests, callers that want the findings)."""

    findings: list[Finding] = field(default_factory=list)
    #: units counted, and how many of them failed
    judged: int = 0
    failed: int = 0
    listed: int = 0


def run_alone(family: TargetFamily[U], run: TargetRun,
              units: Callable[[], Iterable[U]] | None = None) -> TargetResult:
    """Run one target without a session: its findings and counts."""
    result = TargetResult()

    def take(findings: list[Finding], judged: bool) -> None:
        judged = judged and not not_checked(findings)
        result.judged += judged
        result.failed += judged and failing(findings)
        result.findings.extend(findings)

    result.listed = run_units(family, run, take, units)
    return result


# -- hooks ----------------------------------------------------------------------------------


def in_mode(config: "Config", mode: str) -> bool:
    """Whether the run's command collects targets of ``mode``."""
    return config.stash.get(MODES[mode]) is not None


@hookimpl
def secretaudit_collect_targets(config: "Config") -> list[Target] | None:
    shard = config.stash.get(SHARD)
    targets: list[Target] = []
    for family in families(config):
        if not in_mode(config, family.mode):
            continue
        for target in family.targets(config):
            key = family.shard_key(target)
            if key is None or shard is None:
                targets.append(target)
            else:
                from secretaudit.shard import in_shard

                if in_shard(key, shard):
                    targets.append(target)
    return targets or None


@hookimpl
def secretaudit_run_target(session: "Session", target: Target) -> bool | None:
    family = families(session.config).get(target.kind)
    if family is None:
        return None
    family.run(session, target)
    return True
