"""One run of secretaudit: collect, scan, apply the baseline, decide the exit code.

The session drives the hooks in the order :mod:`secretaudit.hookspec` documents
and keeps the results.  It knows no check, backend or format by name.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from secretaudit.errors import ExitCode
from secretaudit.model import Finding, Severity, Skip, Status, Target, Waiver
from secretaudit.stash import ALLOW_EMPTY, COMPARE, CORRELATION, RULES_DIGEST, RULE_NOTES, SCAN_ROOT, WAIVERS_EXTRA

if TYPE_CHECKING:
    from secretaudit.scan_cache import ScanCache
    from secretaudit.config import Config
    from secretaudit.file_checks import FileResult
    from secretaudit.report_reader import Comparison
    from secretaudit.waivers import ConfigWaivers


#: Items between two ``secretaudit_progress`` calls.
PROGRESS_EVERY = 64


@dataclass
class Session:
    """State of one run, read by reporters at ``secretaudit_sessionfinish``.

    ``findings`` holds every failed, waived and error result in deterministic
    order; ``passed`` counts scanned files without a failing finding;
    ``skipped`` holds every file that was not scanned and why.
    """

    config: "Config"
    targets: list[Target] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    files_collected: int = 0
    files_scanned: int = 0
    bytes_scanned: int = 0
    passed: int = 0
    started: float = field(default_factory=time.time)
    finished: float | None = None
    interrupted: bool = False
    exitstatus: int = ExitCode.OK
    baseline: frozenset[str] = frozenset()
    warnings: list[str] = field(default_factory=list)
    files_from_cache: int = 0
    #: Items counted in ``files_scanned`` that are the run's own input (the config file checking itself).
    self_checks: int = 0
    items_done: int = 0
    cache: "ScanCache | None" = None
    _config_waivers: "ConfigWaivers | None" = field(default=None, repr=False)
    _extra_waivers: list | None = field(default=None, repr=False)
    comparison: "Comparison | None" = None
    #: ``files_scanned`` by target kind: reports say "4 files, 16 secrets", not "20 files"
    scanned_by_kind: dict[str, int] = field(default_factory=dict)

    # -- the run ------------------------------------------------------------

    def run(self) -> int:
        """Run every phase and return the exit code."""
        hook = self.config.hook
        for contributed in hook.secretaudit_collect_targets(config=self.config):
            self.targets.extend(contributed or [])
        self.config_waivers  # a broken waivers list is a config error before anything runs
        self.extra_waivers  # so is an unreadable .gitleaksignore
        self.warnings.extend(self.config.stash.get(RULE_NOTES, ()))
        hook.secretaudit_sessionstart(session=self)
        self.cache = self._open_cache()
        try:
            for target in self.targets:
                self._scan_target(target)
            if self.config.stash.get(CORRELATION) is not None:  # audit --correlate: repositories against backends
                from secretaudit.correlate import correlate

                correlate(self)
        except KeyboardInterrupt:
            self.interrupted = True
        finally:
            self._save_cache()
        hook.secretaudit_progress(session=self, done=self.items_done)
        self.findings.sort(key=Finding.sort_key)
        self.skipped.sort(key=lambda s: s.relpath)
        if self.config.stash.get(COMPARE):
            from secretaudit.report_reader import compare

            self.comparison = compare(self, self.config.stash[COMPARE])
        for finding in self.findings:
            hook.secretaudit_finding(finding=finding, config=self.config)
        self.finished = time.time()
        self.exitstatus = self.decide_exit()
        hook.secretaudit_sessionfinish(session=self, exitstatus=self.exitstatus)
        return self.exitstatus

    def _scan_target(self, target: Target) -> None:
        before = self.files_scanned
        try:
            if not self.config.hook.secretaudit_run_target(session=self, target=target):
                self.warnings.append(f"no plugin scans targets of kind {target.kind!r} ({target.name}); "
                                     "is a plugin disabled with -p no:?")
        finally:  # an interrupted target counts what it did
            kind = target.kind
            self.scanned_by_kind[kind] = self.scanned_by_kind.get(kind, 0) + self.files_scanned - before

    def collected(self, target: Target, count: int) -> None:
        """Plugins running a target call this once its items are known."""
        self.files_collected += count
        if target.kind == "config":
            self.self_checks += count
        self.config.hook.secretaudit_collection_finish(session=self, target=target, count=count)

    def add_finding(self, finding: Finding) -> None:
        """Record a finding, applying the baseline and the config's waivers."""
        if finding.status is Status.FAILED:
            if finding.fingerprint in self.baseline:
                finding = replace(finding, status=Status.WAIVED, waiver=Waiver("baseline", source="baseline"))
            else:
                waiver, expired = self.config_waivers.match(finding, self.config.as_of)
                for source in self.extra_waivers if waiver is None and expired is None else ():
                    waiver, _ = source.match(finding, self.config.as_of)
                    if waiver is not None:
                        break
                if waiver is not None:
                    finding = replace(finding, status=Status.WAIVED, waiver=waiver)
                elif expired is not None:
                    finding = replace(finding, message=f"{finding.message} ({expired})")
        self.findings.append(finding)

    @property
    def extra_waivers(self) -> list:
        """Waivers kept outside the config: ``.gitleaksignore`` at the scan root, and those plugins stash.

        Plugins put objects with ``match(finding, as_of) -> (waiver, note)`` in
        ``config.stash[WAIVERS_EXTRA]`` (SA101: a gitleaks config's commit
        allowlists).  ``rules: {gitleaks: false}`` turns the gitleaks files off.
        """
        if self._extra_waivers is None:
            from pathlib import Path

            from secretaudit.waivers import GitleaksIgnore

            found: list = list(self.config.stash.get(WAIVERS_EXTRA, ()))
            rules = self.config.settings.get("rules") or {}
            if rules.get("gitleaks", True) is not False:
                ignore = GitleaksIgnore.read(Path(self.config.stash.get(SCAN_ROOT, self.config.rootdir)))
                if ignore is not None:
                    found.append(ignore)
                    if ignore.bad_lines:
                        self.warnings.append(f"{ignore.source}: line {ignore.bad_lines[0]} is not a fingerprint "
                                             "(file:rule-id:line or commit:file:rule-id:line); skipped"
                                             + (f", with {len(ignore.bad_lines) - 1} more" if len(ignore.bad_lines) > 1 else ""))
            self._extra_waivers = found
        return self._extra_waivers

    @property
    def config_waivers(self) -> "ConfigWaivers":
        if self._config_waivers is None:
            from secretaudit.waivers import ConfigWaivers

            self._config_waivers = ConfigWaivers(self.config.settings["waivers"], self.config.source or "config")
        return self._config_waivers

    def _open_cache(self) -> "ScanCache | None":
        """The scan cache for this root, verified; a corrupt one is discarded."""
        from pathlib import Path

        if not self.config.settings["cache"] or self.config.staged or self.config.stash.get(CORRELATION):
            return None  # correlation needs every credential's value, which only a fresh scan holds
        if not any(t.kind != "path" or Path(t.path).is_dir() for t in self.targets):
            return None  # explicit files (a pre-commit hook): opening the cache costs more than it saves

        from secretaudit import scan_cache as cachemod

        directory = Path(self.config.settings["cache_dir"]) if self.config.settings["cache_dir"] \
            else cachemod.default_cache_dir()
        path = cachemod.cache_file(directory, Path(self.config.stash.get(SCAN_ROOT, self.config.rootdir)))
        # max_file_size too: a file cached under a higher limit must be skipped as too large once it is lowered
        rules = cachemod.rules_version(self._rule_sources(),
                                       {**{k: self.config.settings[k] for k in ("checks", "disable", "max_file_size",
                                                                                  "rules")},
                                        RULES_DIGEST.name: self.config.stash.get(RULES_DIGEST, "")})
        cache, warning = cachemod.open_cache(path, rules)
        if warning:
            self.warnings.append(warning)
        return cache

    def _rule_sources(self) -> list[str]:
        """Files whose change must invalidate cached results.

        Every module of the engine, every module in the package of each loaded
        plugin (the built-in checks are plugins too, and their helpers such as
        ``filters`` sit next to them), a plugin module that is a package of its
        own, and the installed detect-secrets distribution (whose dist-info
        directory name carries its version).  The plugins are read from the
        plugin manager, not imported, so the engine names no check.
        """
        import importlib.util
        import sys
        from pathlib import Path

        import secretaudit

        sources: list[str] = [str(p) for p in Path(secretaudit.__file__ or "").parent.glob("*.py")]
        assert self.config.pluginmanager is not None
        for plugin in self.config.pluginmanager.get_plugins():
            module_file = getattr(plugin, "__file__", None)
            if not module_file:
                continue
            sources.append(module_file)
            package = sys.modules.get(getattr(plugin, "__package__", None) or "")
            if package is not None and getattr(package, "__file__", None):
                sources.extend(str(p) for p in Path(package.__file__).parent.glob("*.py"))
                # rule data shipped with a plugin package (e.g. checks/rules/*.toml) decides detections too
                sources.extend(str(p) for p in Path(package.__file__).parent.glob("*/*.toml"))
        spec = importlib.util.find_spec("detect_secrets")
        if spec is not None and spec.origin:
            site = Path(spec.origin).parent.parent
            sources.extend(p.name for p in site.glob("detect_secrets-*.dist-info"))
        return sorted(set(sources))

    def _save_cache(self) -> None:
        if self.cache is None:
            return
        from secretaudit.scan_cache import CacheCorrupt

        try:
            self.cache.flush()
        except (CacheCorrupt, OSError) as exc:
            self.warnings.append(f"could not update the scan cache ({exc}); the next scan starts cold")
        finally:
            self.cache.close()

    def count_scanned(self, size: int, failed: bool) -> None:
        """Count one scanned item that is not a :class:`FileResult` (a git blob)."""
        self.items_done += 1
        self.files_scanned += 1
        self.bytes_scanned += size
        self.passed += not failed

    def count_skipped(self, relpath: str, reason: str) -> None:
        self.items_done += 1
        self.skipped.append(Skip(relpath, reason))

    def record(self, result: "FileResult") -> None:
        """Take one scanned (or skipped) file's result; called in collection order."""
        if self.cache is not None and result.cache_entry is not None:
            signature, digest, payload = result.cache_entry
            self.cache.remember(result.relpath, signature, digest, result.size, payload)
        self.files_from_cache += result.cached and result.skip is None
        if result.marks:
            self.config.stash[CORRELATION].sight(result)
        if result.skip is not None:
            self.skipped.append(result.skip)
        else:
            self.files_scanned += 1
            self.bytes_scanned += result.size
            before = len(self.findings)
            for finding in result.findings:
                self.add_finding(finding)
            self.passed += not any(f.status in (Status.FAILED, Status.ERROR) for f in self.findings[before:]) \
                and not any(s.is_error for s in result.member_skips)
        self.skipped.extend(result.member_skips)  # an archive's members (secretaudit.archives)
        self.items_done += 1
        if self.items_done % PROGRESS_EVERY == 0:
            self.config.hook.secretaudit_progress(session=self, done=self.items_done)

    def record_unchanged(self, files: int, size: int) -> None:
        """Take ``files`` unchanged files the cache answered with no finding and no skip (``size`` bytes in all)."""
        self.files_from_cache += files
        self.files_scanned += files
        self.bytes_scanned += size
        self.passed += files
        before = self.items_done
        self.items_done += files
        if self.items_done // PROGRESS_EVERY != before // PROGRESS_EVERY:
            self.config.hook.secretaudit_progress(session=self, done=self.items_done)

    # -- outcome ------------------------------------------------------------

    @property
    def errors(self) -> list[Skip]:
        return [s for s in self.skipped if s.is_error]

    def counts(self) -> Counter[str]:
        """Counts by status, for summaries: failed, passed, waived, error, skipped."""
        counts: Counter[str] = Counter(f.status.value for f in self.findings)
        counts["passed"] += self.passed
        counts["error"] += len(self.errors)
        counts["skipped"] += len(self.skipped) - len(self.errors)
        return counts

    def failing(self) -> list[Finding]:
        """Failed findings at or above the ``fail_on`` severity."""
        threshold = Severity.parse(self.config.settings["fail_on"])
        return [f for f in self.findings if f.status is Status.FAILED and f.severity >= threshold]

    def warned(self) -> list[Finding]:
        """Failed findings below the ``fail_on`` severity: shown as warnings, they never fail the run."""
        threshold = Severity.parse(self.config.settings["fail_on"])
        return [f for f in self.findings if f.status is Status.FAILED and f.severity < threshold]

    @classmethod
    def from_reports(cls, paths: list[str], config: "Config") -> "Session":
        """A finished session holding every report's results (``report merge``)."""
        from secretaudit.forecast import FORECAST
        from secretaudit.report_reader import merge_reports

        merged = merge_reports(paths)
        session = cls(config)
        session.targets, session.findings, session.skipped = merged.targets, merged.findings, merged.skipped
        session.interrupted = merged.interrupted
        session.passed, session.files_scanned = merged.passed, merged.files_scanned
        session.files_from_cache = merged.files_from_cache
        session.scanned_by_kind = merged.scanned_by_kind
        if merged.as_of is not None:  # the shards' date, which their forecast counts from
            config.as_of = merged.as_of
        config.stash[FORECAST] = merged.forecast
        session.started = merged.started if merged.started is not None else session.started
        session.finished = merged.finished
        session.exitstatus = session.decide_exit()
        return session

    def decide_exit(self) -> int:
        if self.interrupted:
            return ExitCode.INTERRUPTED
        if self.failing() or self.errors or any(f.status is Status.ERROR for f in self.findings):
            return ExitCode.FINDINGS
        if self.checked_nothing and not self.config.stash.get(ALLOW_EMPTY):
            return ExitCode.NOTHING_SCANNED
        return ExitCode.OK

    @property
    def checked_nothing(self) -> bool:
        """No file, blob, secret or principal was checked: such a run must not pass (exit 5).

        The config file's check of itself does not count: ``audit`` always has
        it, so an audit whose repositories hold nothing scannable and whose
        backends list no secret would otherwise pass on that alone.
        """
        return self.files_scanned - self.self_checks <= 0

    @property
    def duration(self) -> float:
        return (self.finished or time.time()) - self.started
