"""Hook specifications: the whole plugin surface of secretaudit.

Every built-in check family and reporter is a plugin implementing some of
these hooks; third-party plugins use the same hooks and are loaded from the
``secretaudit`` entry-point group.  Hooks are called with keyword arguments,
and an implementation may accept any subset of them, so arguments can be
added later but are never renamed or removed.

The protocol of one run (``secretaudit scan``), in order:

1. A fresh :class:`pluggy.PluginManager` loads the ``default_plugins``, then
   entry-point plugins, minus those blocked with ``-p no:NAME``.
2. :func:`secretaudit_register_checks` and :func:`secretaudit_register_formats`
   fill the catalogue of checks and output formats.
3. :func:`secretaudit_configure` lets every plugin read the configuration.
4. :func:`secretaudit_collect_targets` turns the command line and config into
   targets (the engine asks the families of :func:`secretaudit_register_families`
   for theirs); :func:`secretaudit_sessionstart` announces them.
5. For each target, :func:`secretaudit_run_target` scans it; for paths,
   :func:`secretaudit_collect_items` lists its items, for a family's target
   the engine judges its units; :func:`secretaudit_collection_finish` reports
   how many.
6. :func:`secretaudit_scan_file` runs every file check on every file item
   (in worker processes on large scans) and returns raw detections; the engine
   redacts them, fingerprints them and applies inline waivers;
   :func:`secretaudit_progress` reports how many items are done.
7. The baseline is applied, then :func:`secretaudit_finding` broadcasts every
   finding in deterministic order.
8. :func:`secretaudit_sessionfinish` lets reporters write their output.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

import pluggy

if TYPE_CHECKING:
    from secretaudit.backends import Backend, BackendRegistry
    from secretaudit.config import Config
    from secretaudit.correlate import Match
    from secretaudit.forecast import Schedule
    from secretaudit.model import Detection, FileItem, Finding, Issue, SecretRecord, Target, Validation
    from secretaudit.registry import CheckRegistry, FormatRegistry
    from secretaudit.rotation import Rotation
    from secretaudit.session import Session
    from secretaudit.targets import FamilyRegistry

hookspec = pluggy.HookspecMarker("secretaudit")
hookimpl = pluggy.HookimplMarker("secretaudit")


# -- initialization -----------------------------------------------------------


@hookspec
def secretaudit_register_checks(registry: "CheckRegistry") -> None:
    """Add this plugin's checks to the catalogue.

    Called once per run, before configuration.  Call
    ``registry.add(CheckSpec(...))`` for every check the plugin implements;
    a check id may be registered only once across all plugins.

    :param registry: the run's check catalogue.
    """


@hookspec
def secretaudit_register_formats(registry: "FormatRegistry") -> None:
    """Add output formats (``--format`` and ``--report``) to the registry.

    Called once per run.  Call ``registry.add(name, render)`` where
    ``render(session) -> str`` renders the whole session as text.  Reporters
    know nothing about checks; they only see findings and the catalogue.

    :param registry: the run's format registry.
    """


@hookspec
def secretaudit_register_backends(registry: "BackendRegistry") -> None:
    """Add secret backend types (``vault``, ``aws-secrets-manager``...).

    Called once, the first time a run needs its backends.  Call
    ``registry.add(type_name, factory)`` where ``factory(name, settings,
    config)`` returns a :class:`secretaudit.backends.Backend` for one entry of
    the config's ``backends`` list (``settings`` is that entry without
    ``type`` and ``name``); the factory raises
    :class:`secretaudit.errors.ConfigError` naming the bad key.

    :param registry: the run's backend registry.
    """


@hookspec
def secretaudit_register_families(registry: "FamilyRegistry") -> None:
    """Add check families that judge targets other than files (IAM principals, tokens, databases...).

    Called once per run, when targets are first collected.  Call
    ``registry.add(family)`` with a :class:`secretaudit.targets.TargetFamily`
    per target kind: it lists its targets and their units and judges one
    unit; the engine gates it by command and enabled checks, shards, counts,
    builds the findings and turns errors into error results, the same way
    for every family.  Families register in hook order, which is the order
    their targets run in.

    :param registry: the run's family registry.
    """


@hookspec
def secretaudit_configure(config: "Config") -> None:
    """Read settings once the configuration is loaded and validated.

    Called once per run, after registration and before collection.  Plugins
    keep per-run state in ``config.stash`` under a typed key of their own
    (``KEY: StashKey[T] = StashKey("name")``, :mod:`secretaudit.stash`),
    never in module globals, so runs in one process (tests) stay independent.

    :param config: the run's effective configuration.
    """


# -- collection ---------------------------------------------------------------


@hookspec
def secretaudit_collect_targets(config: "Config") -> "Iterable[Target] | None":
    """Return the targets this plugin contributes to the run.

    Every implementation is called; the targets are concatenated in plugin
    order.  The built-in ``files`` plugin turns the ``scan`` arguments into
    path targets.

    :param config: the run's configuration.
    :returns: targets, or ``None`` for none.
    """


@hookspec(firstresult=True)
def secretaudit_collect_items(target: "Target", config: "Config") -> "Iterable[FileItem | str] | None":
    """Enumerate the items of one target.

    For a path target, the built-in ``files`` plugin yields file paths
    (honouring ``.gitignore`` inside a git work tree); the engine reads and
    decodes them and counts what it has to skip.

    Stops at the first non-None result.

    :param target: the target to expand.
    :param config: the run's configuration.
    :returns: an iterable of items (file paths as ``str``), or ``None`` if this
        plugin does not handle the target's kind.
    """


@hookspec
def secretaudit_sessionstart(session: "Session") -> None:
    """Called after targets are collected, before any item is collected.

    The terminal reporter prints its header here.

    :param session: the session, with ``session.targets`` filled in.
    """


@hookspec
def secretaudit_collection_finish(session: "Session", target: "Target", count: int) -> None:
    """Called when one target's items are all collected, before they are scanned.

    :param session: the running session.
    :param target: the target whose items were collected.
    :param count: how many items it has.
    """


# -- running checks -----------------------------------------------------------


@hookspec(firstresult=True)
def secretaudit_run_target(session: "Session", target: "Target") -> bool | None:
    """Scan one target, feeding results to the session.

    The built-in ``files`` plugin runs path targets: it calls
    :func:`secretaudit_collect_items`, then scans the files (from the cache,
    in-process or in worker processes) and hands each result to
    ``session.record(result)``.  A check family judging another kind of
    target (IAM principals, tokens, git history) registers a
    :class:`secretaudit.targets.TargetFamily` instead (see
    :func:`secretaudit_register_families`), and the engine's runner runs it;
    a plugin that must drive a kind itself implements this hook for its kind
    and reports through ``session.record`` or ``session.add_finding``.

    Stops at the first non-None result.

    :param session: the running session.
    :param target: the target to scan.
    :returns: True if this plugin ran the target, None if it is not its kind.
    """



@hookspec
def secretaudit_scan_file(item: "FileItem", config: "Config") -> "Iterable[Detection] | None":
    """Look for hardcoded credentials in one file.

    Called for every readable text file (UTF-8, or UTF-16/32 with a BOM) and
    every such archive member (``item.relpath`` is then ``bundle.zip!app/.env``
    and ``item.name`` the member's own name), in a worker process on large
    scans.  Return :class:`~secretaudit.model.Detection` objects; the engine
    redacts them, computes fingerprints, and applies inline waivers and the
    baseline, so a check never formats output or handles a waiver.  A check
    must return the same detections with ``config.prefilter`` on or off: the
    prefilter may only make it faster.

    :param item: the file, with its decoded text.
    :param config: the run's configuration (check options, ``prefilter``).
    :returns: detections, or ``None`` for none.
    """


@hookspec
def secretaudit_progress(session: "Session", done: int) -> None:
    """Called in the main process as items finish, in batches, and once at the end.

    Batched rather than per item: a cached rescan handles tens of thousands
    of files a second, and a hook call per file would be a good part of its
    cost.  The terminal reporter draws its progress from here.

    :param session: the running session (counts so far).
    :param done: items finished so far in this run (scanned or skipped).
    """


@hookspec
def secretaudit_check_record(record: "SecretRecord", config: "Config") -> "Iterable[Issue] | None":
    """Judge one secret's metadata (lifecycle and hygiene checks, SA2xx).

    Called for every record every backend lists, in the main process.
    Return an :class:`~secretaudit.model.Issue` per failed check; checks that
    pass return nothing for it.  Dates are judged as of ``config.as_of``
    (``--as-of``), never the wall clock, so audits are reproducible.

    :param record: the secret's metadata (never its value).
    :param config: the run's configuration (``policy`` thresholds, ``as_of``).
    :returns: issues, or ``None`` for none.
    """


@hookspec(firstresult=True)
def secretaudit_record_schedule(record: "SecretRecord", config: "Config") -> "Schedule | None":
    """When one secret expires and falls due for rotation under the run's policy (the reports' forecast).

    Called by reports, once per record, after the run, and by ``list`` for the
    period each secret is held to.  The lifecycle checks answer it, since the
    policy's rotation periods are theirs; with no answer the secret's dates
    show as unknown.

    :param record: the secret's metadata (never its value).
    :param config: the run's configuration (``policy``, ``as_of``).
    :returns: a :class:`~secretaudit.forecast.Schedule`, or ``None``.
    """


@hookspec
def secretaudit_list_rules(config: "Config") -> "list[dict[str, Any]] | None":
    """Describe the detection rules of a check that has several, for ``secretaudit rules``.

    One dict per rule: ``id``, ``check``, ``title``, ``severity`` (as this
    configuration has it), ``enabled``, ``file``/``family`` (where it is
    defined), ``tokens``, ``keywords``, ``validator``, ``samples``
    (``{positive: n, negative: n}``) and whatever else the check keeps.
    Raise :class:`~secretaudit.errors.ConfigError` for bad rule settings.

    :param config: the run's configuration.
    :returns: the rules, or ``None`` if the plugin has none.
    """


@hookspec
def secretaudit_check_config(config: "Config") -> "Iterable[Issue] | None":
    """Judge the configuration file itself (config hygiene checks, SA5xx).

    Called once per audit when a config file was loaded.  The file's raw
    content, before ``${VAR}`` interpolation, is ``config.raw`` (a mapping)
    and its path ``config.source``; set ``Issue.line`` to point at the key.

    :param config: the run's configuration.
    :returns: issues, or ``None`` for none.
    """


@hookspec
def secretaudit_judge_match(match: "Match", config: "Config") -> "Iterable[Issue] | None":
    """Judge one repository credential that is a value a backend holds (``audit --correlate``).

    Called in the main process, after every target ran, once per match:
    ``match.sighting`` is where the repository holds it (path, line),
    ``match.record`` the backend secret, ``match.field`` the field, and
    ``match.version`` None for its current value or the older version's id.
    Neither value nor hash is in it.  The engine locates the finding at the
    repository line; ``Issue.key`` is part of its fingerprint.

    :param match: the match (see :class:`secretaudit.correlate.Match`).
    :param config: the run's configuration.
    :returns: issues, or ``None`` for none.
    """


@hookspec(firstresult=True)
def secretaudit_validate_credential(kind: str, credential: "dict[str, str]", config: "Config") -> "Validation | None":
    """Try one credential against the service it belongs to.

    One validator per credential kind: AWS keys (STS GetCallerIdentity),
    GitHub tokens (``GET /user``), Vault tokens (``lookup-self``), database
    passwords (a real login).  ``credential`` holds the fields of the secret
    (``access_key_id``/``secret_access_key``, ``token``, ``host``/``port``/
    ``user``/``password``/``engine``...); it exists only for this call and
    must not be stored, logged or put in any message.

    Stops at the first non-None result.

    :param kind: the credential kind (``aws-access-key``, ``github-token``,
        ``vault-token``, ``database-password``).
    :param credential: the secret's fields, plaintext, for this call only.
    :param config: the run's configuration (timeouts, API URLs).
    :returns: a :class:`~secretaudit.model.Validation`, or None if this plugin
        does not validate ``kind``.
    """


@hookspec(firstresult=True)
def secretaudit_rotation_for(backend: "Backend", record: "SecretRecord") -> "type[Rotation] | None":
    """The :class:`~secretaudit.rotation.Rotation` subclass that rotates ``record`` in ``backend``.

    Called by ``rotate`` once the record's kind is rotatable.  Each backend
    that can write values has one implementation (``secretaudit.rotation.rotate_vault``,
    ``secretaudit.rotation.rotate_aws``) that answers for its own backend class and
    returns None for the others, so neither the rotation engine nor the
    backends import each other.  Stops at the first non-None result; None
    from every plugin means the backend holds no values secretaudit can write.

    :param backend: the backend the secret was found in.
    :param record: the secret's metadata (its ``kind`` is rotatable).
    :returns: the class to instantiate, or None if this plugin does not rotate
        secrets of ``backend``.
    """


@hookspec
def secretaudit_derive_detections(item: "FileItem", detections: "list[Detection]",
                                  config: "Config") -> "Iterable[Detection] | None":
    """Add detections that follow from what the file checks found in one file.

    Called after every ``secretaudit_scan_file`` implementation ran on
    ``item``, in the same process, with all their detections (secrets still
    in memory).  ``scan --verify`` uses it to validate hardcoded credentials
    and report the live ones (SA107).  Derived detections are redacted and
    fingerprinted like the others.

    :param item: the file.
    :param detections: every detection the file checks made in it.
    :param config: the run's configuration.
    :returns: additional detections, or ``None``.
    """


@hookspec
def secretaudit_claimed_values(item: "FileItem", config: "Config",
                               check_ids: "frozenset[str]") -> "dict[str, Iterable[str]] | None":
    """The secrets in one file that a check reports itself, for the checks it takes precedence over.

    Called by :func:`secretaudit.claims.claimed_values` for the checks whose
    :class:`~secretaudit.model.CheckSpec` declares ``claims_over`` and that run,
    so overlapping checks are ordered by that declaration, not by importing
    each other.  An implementation answers only for its own ids in ``check_ids``.

    :param item: the file.
    :param config: the run's configuration.
    :param check_ids: the claiming checks that run (answer only for these).
    :returns: ``{check_id: secret values}``, or ``None``.
    """


# -- reporting ----------------------------------------------------------------


@hookspec
def secretaudit_finding(finding: "Finding", config: "Config") -> None:
    """Observe one finding after waivers and the baseline were applied.

    Called in the main process, in deterministic order, once for every
    failed, waived or error result.  The terminal reporter prints from here.

    :param finding: the finding (redacted; never holds a secret value).
    :param config: the run's configuration.
    """


@hookspec
def secretaudit_sessionfinish(session: "Session", exitstatus: int) -> None:
    """Called once after all results are in, before the process exits.

    Reporters write their files and the terminal reporter its summary here.

    :param session: the finished session, with all findings and counts.
    :param exitstatus: the exit code the run will end with.
    """
