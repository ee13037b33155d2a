"""The ``secretaudit`` command line: a thin layer over the engine.

User mistakes become one-line ``error:`` messages and exit code 4; an
interrupt exits 2 with the partial summary; anything else escaping is a bug
and exits 3 with a traceback (which never holds a secret: findings are
redacted before they exist).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Callable

import click

from secretaudit import __version__
from secretaudit.errors import ExitCode, UsageError
from secretaudit.printable import echo, visible
from secretaudit.stash import (ALLOW_EMPTY, ARGV, AUDIT_BACKENDS, BACKENDS, BASELINE_PATH, COMPARE, CREATE_DIRS,
                               GITHUB_API_URL, HISTORY, LISTING_PROGRESS, REPORTS, SCAN_ROOT, SHARD, TERMINAL,
                               VALIDATE, VALIDATED, VERIFY)

EPILOG = """\b
Exit codes: 0 clean · 1 findings at or above --fail-on (or files that could
not be read) · 2 interrupted · 3 internal error · 4 usage or config error ·
5 nothing was checked.
"""


# -- shared options (defined once, stacked on several commands) ---------------------


def _common_options(func: Callable) -> Callable:
    options = [
        click.option("-c", "--config", "config_path", metavar="FILE",
                     help="Config file (secretaudit.yaml or pyproject.toml). Default: found by walking up."),
        click.option("-p", "plugins", multiple=True, metavar="NAME",
                     help="Load a plugin module, or 'no:NAME' to disable one (e.g. -p no:generic)."),
        click.option("--exclude", multiple=True, metavar="GLOB",
                     help="Skip paths matching GLOB (repeatable), on top of the config's exclude."),
        click.option("--max-file-size", metavar="SIZE", help="Skip files larger than SIZE (default 10MB)."),
        click.option("--no-prefilter", is_flag=True, help="Run every detector on every line (slower; same results)."),
        click.option("--workers", type=int, metavar="N", help="Worker processes (default: one per core)."),
        click.option("--no-cache", is_flag=True, help="Ignore and do not update the scan cache."),
        click.option("--file-timeout", metavar="SECONDS", expose_value=False, callback=_remember_file_timeout,
                     help="Skip (as an error) a file whose checks take longer than SECONDS (default 30; 0: no limit)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


_CREATE_DIRS = click.option("--create-dirs", is_flag=True,
                            help="Create missing parent directories of the files written (default: refuse).")


def _remember_file_timeout(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    """Keep ``--file-timeout`` for :class:`Runner` (validated there with the config key)."""
    if value is not None:
        ctx.meta["secretaudit.file_timeout"] = value


def _output_options(func: Callable) -> Callable:
    options = [
        click.option("--shard", metavar="K/N", help="Scan only part K of N (deterministic); merge the N JSON "
                                                     "reports with 'secretaudit report merge'."),
        click.option("--compare", "compare_to", metavar="PREVIOUS.json",
                     help="Show new, fixed and unchanged findings since a previous JSON report."),
        click.option("--report", "reports", multiple=True, metavar="FORMAT[:PATH]",
                     help="Also write a report file (repeatable), e.g. --report html:audit.html --report sarif; "
                          "PATH '-' is stdout. Only regular files are written: a device, FIFO, socket, symbolic "
                          "link or read-only file at PATH is refused before the run."),
        _CREATE_DIRS,
        click.option("--format", "fmt", default="text", show_default=True, metavar="FORMAT",
                     help="Output on stdout: 'text', or a machine format such as 'json' (the human summary then goes to stderr)."),
        click.option("-v", "--verbose", count=True, help="More output: -v shows waived findings, -vv every skipped file."),
        click.option("-q", "--quiet", count=True, help="Less output: -q only findings and the summary, -qq only findings."),
        click.option("--no-color", is_flag=True, help="Plain output, no ANSI colours."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


class Runner:
    """Builds a configured run from CLI options (shared by every command)."""

    def __init__(self, config_path: str | None, plugins: tuple[str, ...], paths: tuple[str, ...] = (),
                 overrides: dict[str, Any] | None = None, audit: bool = True) -> None:
        from secretaudit.config import load_config, validate
        from secretaudit.dir_listing import git_toplevel
        from secretaudit.plugins import make_pluginmanager, parse_plugin_options, registries

        start = _start_dir(paths)
        self.config = load_config(config_path, start)
        context = click.get_current_context(silent=True)
        if context is not None and "secretaudit.file_timeout" in context.meta:
            overrides = {**(overrides or {}), "file_timeout": context.meta["secretaudit.file_timeout"]}
        for key, value in (overrides or {}).items():
            if value is None:
                continue
            if key == "exclude":
                self.config.settings["exclude"] = [*self.config.settings["exclude"], *value]
            else:
                self.config.settings[key] = validate({key: value}, "command line")[key]
        blocked, extra = parse_plugin_options(plugins)
        extra = [*self.config.settings["plugins"], *extra]
        pm = make_pluginmanager(blocked, extra, audit=audit)
        self.config.pluginmanager = pm
        self.config.checks, self.config.formats = registries(pm)
        named = [*self.config.settings["disable"], *self.config.settings["checks"]]
        unknown = [c for c in named if c not in self.config.checks]
        if unknown and not audit:  # maybe an audit check: judge against the whole catalogue
            catalogue, _ = registries(make_pluginmanager(blocked, extra, entry_points=False))
            unknown = [c for c in unknown if c not in catalogue]
        else:
            catalogue = self.config.checks
        if unknown:
            from secretaudit.errors import ConfigError
            from secretaudit.redact import shown_name

            known = ", ".join(c.id for c in catalogue)
            key = "disable" if unknown[0] in self.config.settings["disable"] else "checks"
            raise ConfigError(self.config.source or "config", key,
                              f"unknown check id {shown_name(unknown[0])} (known: {known})")
        self.config.paths = list(paths)
        self.config.stash[SCAN_ROOT] = git_toplevel(start) or (
            self.config.rootdir if self.config.source else start)

    def configure(self, fmt: str = "text", verbose: int = 0, quiet: int = 0, no_color: bool = False,
                  reports: tuple[str, ...] = (), shard: str | None = None, compare_to: str | None = None,
                  create_dirs: bool = False) -> None:
        from secretaudit.report_reader import load_report
        from secretaudit.report_writer import STDOUT, check_reports, parse_report_option
        from secretaudit.shard import parse_shard

        if shard:
            self.config.stash[SHARD] = parse_shard(shard)
        if compare_to:
            load_report(compare_to)  # a broken previous report is a usage error before the run
            self.config.stash[COMPARE] = compare_to

        formats = self.config.formats
        assert formats is not None
        if fmt != "text" and fmt not in formats:
            raise UsageError(f"unknown --format {fmt!r} (choose from: text, {', '.join(formats.names())})")
        parsed = [parse_report_option(value, formats) for value in reports]
        if fmt != "text":
            parsed.insert(0, (fmt, STDOUT))  # one output path: --format X is --report X:-
        self.config.stash[REPORTS] = parsed
        report_on_stdout = check_reports(parsed, fmt, create_dirs)
        self.config.stash[CREATE_DIRS] = create_dirs
        self.config.stash[ARGV] = ["secretaudit", *sys.argv[1:]]
        out = sys.stderr if report_on_stdout else sys.stdout
        self.config.stash[TERMINAL] = {"out": out, "verbosity": verbose - quiet,
                                         "color": False if no_color else None}
        self.config.hook.secretaudit_configure(config=self.config)


def _start_dir(paths: tuple[str, ...]) -> Path:
    if not paths:
        return Path.cwd()
    # realpath, not Path.resolve: a symlink loop given as a path is the scan's to report as
    # skipped, and Path.resolve raises on one (RuntimeError before Python 3.13)
    first = Path(os.path.realpath(paths[0]))
    return first if first.is_dir() else first.parent


def _overrides(exclude: tuple[str, ...], max_file_size: str | None, no_prefilter: bool,
               workers: int | None, no_cache: bool, fail_on: str | None = None) -> dict[str, Any]:
    return {"exclude": list(exclude) or None, "max_file_size": max_file_size,
            "prefilter": False if no_prefilter else None, "workers": workers, "fail_on": fail_on,
            "cache": False if no_cache else None}


def _baseline_path(runner: Runner, explicit: str | None) -> Path:
    if explicit:
        return Path(explicit)
    config = runner.config
    base = config.rootdir if config.source else config.stash[SCAN_ROOT]
    return Path(base) / config.settings["baseline"]


# -- commands -------------------------------------------------------------------


class LazyGroup(click.Group):
    """A group whose operational commands live in their own modules, imported on use.

    ``scan`` is the pre-commit hook's path and must start fast; the
    secrets-owner verbs (get, rotate, trail) pull in backends and are only
    imported when asked for (or listed by ``--help``).
    """

    lazy_commands: dict[str, str] = {
        "get": "secretaudit.cli_secrets:get",
        "rotate": "secretaudit.cli_secrets:rotate",
        "trail": "secretaudit.cli_trail:trail",
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands and cmd_name not in self.commands:
            import importlib

            module_name, attribute = self.lazy_commands[cmd_name].split(":")
            self.add_command(getattr(importlib.import_module(module_name), attribute), cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, epilog=EPILOG,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="secretaudit")
def cli() -> None:
    """secretaudit: find hardcoded credentials and prove your secrets hygiene.

    \b
    Everyday use:
      secretaudit scan .                     scan a repository (honours .gitignore)
      secretaudit scan --staged              scan what you are about to commit
      secretaudit baseline create            accept today's findings; later scans report only new ones
      secretaudit checks                     the catalogue of checks and the controls they evidence

    \b
    The secrets owner's day (backends from --config):
      secretaudit audit --notify URL         the nightly audit, summary posted to Slack
      secretaudit get --secret NAME          a value at task time, for a script (audited)
      secretaudit rotate --due --reason TXT  rotate, validate, roll back on failure
      secretaudit trail --since 24h          who read or rotated what

    Configuration lives in secretaudit.yaml or [tool.secretaudit] in pyproject.toml.
    """


@cli.command(epilog=EPILOG)
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--staged", is_flag=True, help="Scan the content staged for commit (git index).")
@click.option("--history", is_flag=True,
              help="Scan every blob reachable from --ref (default: all refs) once; report SA105 findings with "
                   "the commit that introduced each secret and whether it is still at HEAD.")
@click.option("--ref", "refs", multiple=True, metavar="REF", help="With --history: a ref or range to scan (repeatable).")
@click.option("--baseline", "baseline_file", metavar="FILE",
              help="Baseline of accepted findings (default: .secretaudit-baseline.json if present).")
@click.option("--no-baseline", is_flag=True, help="Report every finding, ignoring any baseline.")
@click.option("--fail-on", metavar="SEVERITY", help="Lowest severity that fails the run: info, low (default), medium, high, critical.")
@click.option("--allow-empty", is_flag=True, help="Exit 0 instead of 5 when no file was scanned (for hooks).")
@click.option("--verify", is_flag=True,
              help="Try each hardcoded GitHub token and AWS key pair against its service; a live one is SA107 "
                   "(critical). Sends requests: never use it in a pre-commit hook.")
@click.option("--github-api-url", metavar="URL", envvar="SECRETAUDIT_GITHUB_API_URL",
              help="With --verify: the GitHub API base URL (Enterprise Server; also $SECRETAUDIT_GITHUB_API_URL).")
@_output_options
@_common_options
def scan(paths: tuple[str, ...], staged: bool, history: bool, refs: tuple[str, ...], baseline_file: str | None, no_baseline: bool,
         fail_on: str | None, allow_empty: bool, verify: bool, github_api_url: str | None, shard: str | None,
         compare_to: str | None, reports: tuple[str, ...], create_dirs: bool, fmt: str, verbose: int, quiet: int,
         no_color: bool, config_path: str | None, plugins: tuple[str, ...], exclude: tuple[str, ...],
         max_file_size: str | None, no_prefilter: bool, workers: int | None, no_cache: bool) -> None:
    """Scan files and directories for hardcoded credentials.

    PATHS are files or directories (default: the current directory).  Inside a
    git work tree, directories list tracked and untracked-not-ignored files, so
    .gitignore is honoured.  UTF-16/32 files (with a BOM) are read as text, and
    the members of zip, tar and gzip/bzip2/xz archives are scanned as
    ARCHIVE!MEMBER.  Binary, huge and undecodable files are skipped and counted
    (-vv lists them).  A line can waive a finding with 'secretaudit: ignore[SA101] why',
    'pragma: allowlist secret' or 'gitleaks:allow'.

    \b
    Examples:
      secretaudit scan                       the current directory
      secretaudit scan src/ deploy.sh -v     two paths, showing waived findings too
      secretaudit scan --format json > r.json
      secretaudit scan --fail-on high        only high and critical findings fail
    """
    if not staged and not history:
        from secretaudit.dir_listing import prefetch

        prefetch(list(paths or (".",)))  # git or find lists the tree on the other core while the plugins load
    from secretaudit.baseline import load_entries
    from secretaudit.session import Session

    if staged and (paths or history):
        raise UsageError("--staged scans the git index; do not also give PATHS or --history")
    if refs and not history:
        raise UsageError("--ref selects what --history scans; add --history")
    if history and len(paths) > 1:
        raise UsageError("--history scans one repository; give at most one PATH")
    paths = paths or (() if staged else (".",))
    runner = Runner(config_path, plugins, paths, _overrides(exclude, max_file_size, no_prefilter, workers, no_cache, fail_on),
                    audit=verify)  # --verify needs the validators, which live with the audit plugins
    config = runner.config
    config.staged = staged
    if verify:
        config.stash[VERIFY] = True
        config.settings["cache"] = False  # liveness changes without the file changing
        if github_api_url:
            config.stash[GITHUB_API_URL] = github_api_url.rstrip("/")
    if history:
        root = config.stash[SCAN_ROOT]
        from secretaudit.dir_listing import git_toplevel

        if git_toplevel(Path(root)) is None:
            raise UsageError(f"--history needs a git repository; {paths[0]} is not inside one")
        config.stash[HISTORY] = {"repo": str(root), "refs": list(refs) or ["--all"]}
        config.paths = []
    config.stash[ALLOW_EMPTY] = allow_empty
    session = Session(config)
    if not no_baseline:
        path = _baseline_path(runner, baseline_file)
        if baseline_file and not path.exists():
            raise UsageError(f"baseline {path} does not exist; create it with 'secretaudit baseline create'")
        if path.exists():
            session.baseline = frozenset(load_entries(path))
            config.stash[BASELINE_PATH] = str(path)
    runner.configure(fmt, verbose, quiet, no_color, reports, shard, compare_to, create_dirs)
    status = session.run()
    raise SystemExit(status)


def _parse_as_of(value: str | None) -> "datetime | None":
    from datetime import datetime, timezone

    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--as-of {value!r} is not a date; use YYYY-MM-DD (e.g. --as-of 2026-12-01)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _backend_runner(config_path: str | None, plugins: tuple[str, ...], as_of: str | None,
                    timeout: float | None, paths: tuple[str, ...] = (), github_api_url: str | None = None) -> Runner:
    """A runner whose config has its backends built (config errors exit 4)."""
    from secretaudit.backends import make_backends

    runner = Runner(config_path, plugins, paths, {"timeout": timeout})
    config = runner.config
    if github_api_url:
        config.stash[GITHUB_API_URL] = github_api_url.rstrip("/")
    parsed = _parse_as_of(as_of)
    if parsed is not None:
        config.as_of = parsed
    config.stash[BACKENDS] = make_backends(config)
    return runner


_backend_options = [
    click.option("-c", "--config", "config_path", metavar="FILE",
                 help="secretaudit.yaml, pyproject.toml, or an OpenClaw openclaw.yaml (its external_secrets block)."),
    click.option("-p", "plugins", multiple=True, metavar="NAME", help="Load a plugin module, or 'no:NAME' to disable one."),
    click.option("--as-of", metavar="DATE", envvar="SECRETAUDIT_AS_OF",
                 help="Judge every date rule as of DATE (YYYY-MM-DD) instead of now (also $SECRETAUDIT_AS_OF)."),
    click.option("--timeout", type=float, metavar="SECONDS",
                 help="Give up on a backend call (connect, answer, retries) after SECONDS in total (default 30)."),
    click.option("--github-api-url", metavar="URL", envvar="SECRETAUDIT_GITHUB_API_URL",
                 help="GitHub API base URL for token checks (default https://api.github.com; Enterprise Server: "
                      "https://HOST/api/v3; also $SECRETAUDIT_GITHUB_API_URL)."),
]


def _with_backend_options(func: Callable) -> Callable:
    for option in reversed(_backend_options):
        func = option(func)
    return func


@cli.command(epilog=EPILOG)
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--fail-on", metavar="SEVERITY", help="Lowest severity that fails the run (default low).")
@click.option("--allow-empty", is_flag=True,
              help="Exit 0 instead of 5 when nothing was checked (no file in the repos, no secret in the backends).")
@click.option("--notify", "notify_url", metavar="URL", envvar="SECRETAUDIT_NOTIFY_URL",
              help="After the audit, post a summary (verdict, counts, new failures, what expires within "
                   "policy.expiry_warning_days) to this Slack-format webhook; also $SECRETAUDIT_NOTIFY_URL, "
                   "which keeps the URL out of the process list. A failed post is a warning: the exit code "
                   "stays the audit's.")
@click.option("--correlate", is_flag=True,
              help="Compare every credential found in the repositories with the backends' current and older "
                   "values (SA111): reads every value (each read in the access trail), holds keyed hashes in "
                   "memory only. Also 'correlate: true' in the config.")
@_output_options
@_with_backend_options
def audit(paths: tuple[str, ...], fail_on: str | None, allow_empty: bool, notify_url: str | None, correlate: bool,
          shard: str | None, compare_to: str | None, reports: tuple[str, ...], create_dirs: bool, fmt: str,
          verbose: int, quiet: int, no_color: bool, config_path: str | None, plugins: tuple[str, ...],
          as_of: str | None, timeout: float | None, github_api_url: str | None) -> None:
    """The nightly audit: the config file, every backend and every repository.

    Checks the config file itself (SA5xx), lists every secret of every
    configured backend (metadata only, never values) and judges its lifecycle
    (SA2xx: expired, expiring, rotation overdue or off, unused, missing owner),
    and scans the repositories listed under 'repos' (plus PATHS) for hardcoded
    credentials.  A backend that cannot be reached is an error for that
    backend; the others are still audited.

    \b
    Examples:
      secretaudit audit --config examples/secretaudit.yaml
      secretaudit audit --config openclaw.yaml --as-of 2026-12-01 --report html:audit.html
      secretaudit audit --compare last-night.json --report json:tonight.json --notify "$SLACK_WEBHOOK_URL"
    """
    from secretaudit.session import Session

    if notify_url:
        from secretaudit.notify import check_url

        notify_url = check_url(notify_url)
    runner = _backend_runner(config_path, plugins, as_of, timeout, github_api_url=github_api_url)
    config = runner.config
    if fail_on:
        config.settings["fail_on"] = _validated("fail_on", fail_on)
    repos = [str((config.rootdir / repo) if config.source else Path(repo)) for repo in config.settings["repos"]]
    config.paths = [*repos, *paths]
    config.stash[AUDIT_BACKENDS] = True
    config.stash[ALLOW_EMPTY] = allow_empty
    if correlate or config.settings["correlate"]:
        from secretaudit.correlate import start

        start(config)  # before anything is scanned: forked workers inherit the run's key
    if not config.stash[BACKENDS] and not config.paths and not config.settings["scopes"] \
            and not (config.settings["policy"].get("scopes") or {}).get("aws_role"):
        raise UsageError(f"nothing to audit in {config.source or 'the default configuration'}: "
                         "configure backends (or an external_secrets block), repos or scopes, or pass --config")
    session = Session(config)
    runner.configure(fmt, verbose, quiet, no_color, reports, shard, compare_to, create_dirs)
    from secretaudit.listprogress import progress_mode

    config.stash[LISTING_PROGRESS] = progress_mode(verbose, quiet)  # stderr, while backends list
    if notify_url:  # reports record the command line: never the webhook URL's credential path
        from secretaudit.notify import redact_argv

        config.stash[ARGV] = redact_argv(config.stash.get(ARGV) or [], notify_url)
    status = session.run()
    if notify_url and status != ExitCode.INTERRUPTED:
        from secretaudit.notify import notify

        sys.stdout.flush()
        warning = notify(session, notify_url)
        if warning:
            echo(f"warning: {warning}", err=True)
    raise SystemExit(status)


@cli.command(epilog=EPILOG)
@click.option("--secret", "secrets", multiple=True, metavar="NAME",
              help="Validate this secret (name or BACKEND:NAME; globs allowed; repeatable).")
@click.option("--all", "all_secrets", is_flag=True, help="Validate every secret of a kind that has a validator.")
@_output_options
@_with_backend_options
def validate(secrets: tuple[str, ...], all_secrets: bool, shard: str | None, compare_to: str | None,
             reports: tuple[str, ...], create_dirs: bool, fmt: str, verbose: int, quiet: int, no_color: bool,
             config_path: str | None, plugins: tuple[str, ...], as_of: str | None, timeout: float | None,
             github_api_url: str | None) -> None:
    """Check that credentials still work: AWS keys, GitHub, Vault tokens, database passwords.

    Each chosen secret's value is fetched from its backend for the duration
    of one call to its service (STS GetCallerIdentity, GitHub GET /user, Vault
    lookup-self, a real database login) and dropped; it never appears in any
    output.  Rejected is SA401, could-not-validate is SA402 (an error, never a
    pass), the wrong AWS identity is SA403.

    \b
    Examples:
      secretaudit validate --secret github --config openclaw.yaml
      secretaudit validate --all --config secretaudit.yaml --report json:validation.json
    """
    from secretaudit.session import Session

    if bool(secrets) == all_secrets:
        raise UsageError("say what to validate: --secret NAME (repeatable) or --all")
    runner = _backend_runner(config_path, plugins, as_of, timeout, github_api_url=github_api_url)
    config = runner.config
    if not config.stash[BACKENDS]:
        raise UsageError(f"no backends configured in {config.source or 'the default configuration'}; "
                         "pass --config with backends or an external_secrets block")
    config.stash[VALIDATE] = list(secrets)
    session = Session(config)
    runner.configure(fmt, verbose, quiet, no_color, reports, shard, compare_to, create_dirs)
    status = session.run()
    if secrets and not config.stash.get(VALIDATED):
        echo(f"error: no secret matches {', '.join(secrets)}; see 'secretaudit list' for names", err=True)
        raise SystemExit(ExitCode.NOTHING_SCANNED)
    raise SystemExit(status)


def _validated(key: str, value: Any) -> Any:
    from secretaudit.config import validate

    return validate({key: value}, "command line")[key]


def _age_days(record: Any, as_of: "datetime") -> int | None:
    moment = record.last_rotated or record.created
    return None if moment is None else (as_of - moment).days


@cli.command("list")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("-v", "--verbose", count=True, help="Show listing progress on stderr even when it is not a terminal.")
@click.option("-q", "--quiet", count=True, help="No listing progress, no count line on stderr.")
@_with_backend_options
def list_secrets(fmt: str, verbose: int, quiet: int, config_path: str | None, plugins: tuple[str, ...],
                 as_of: str | None, timeout: float | None, github_api_url: str | None) -> None:
    """Inventory across backends: kind, age, expiry and rotation state; never a value.

    A long listing shows its progress (secrets so far, per backend) on
    stderr: on a terminal, or with -v; never with -q.
    """
    import json

    from secretaudit.backends import BackendError
    from secretaudit.listprogress import ListingProgress, progress_mode

    runner = _backend_runner(config_path, plugins, as_of, timeout)
    config = runner.config
    rows: list[dict[str, Any]] = []
    failed = False
    mode = progress_mode(verbose, quiet)
    for backend in config.stash[BACKENDS]:
        try:
            _list_backend(backend, config, ListingProgress(backend.label, mode), rows)
        except BackendError as exc:
            failed = True
            echo(f"error: {exc}", err=True)
    rows.sort(key=lambda r: (r["backend"], r["name"]))
    if fmt == "json":
        click.echo(json.dumps({"as_of": _iso(config.as_of), "secrets": rows}, indent=2))
    else:
        header = ("BACKEND", "NAME", "KIND", "AGE", "EXPIRES", "ROTATION", "OWNER")
        table = [header] + [(r["backend"], r["name"], r["kind"],
                             "-" if r["age_days"] is None else f"{r['age_days']}d",
                             (r["expires"] or "-")[:10],
                             _rotation_cell(r), r["owner"] or "-") for r in rows]
        table = [tuple(visible(cell) for cell in row) for row in table]  # escapes widen a cell: measure them
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        for row in table:
            echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
        if not quiet:
            echo(f"{len(rows)} secrets in {len(config.stash[BACKENDS])} backends", err=True)
    raise SystemExit(ExitCode.FINDINGS if failed else ExitCode.OK)


def _list_backend(backend: Any, config: Any, progress: Any, rows: list[dict[str, Any]]) -> None:
    """Append one backend's rows to ``rows`` as they come (a failure keeps those listed), showing progress."""
    with progress:
        for count, record in enumerate(backend.records(), 1):
            # the period the audit holds it to (SA203), not only the backend's own schedule
            schedule = config.hook.secretaudit_record_schedule(record=record, config=config)
            days, source = (schedule.binding_days, schedule.binding_source) if schedule and schedule.binding_days \
                else (record.rotation_days, "metadata" if record.rotation_days else None)
            rows.append({
                "backend": record.backend, "name": record.name, "path": record.path, "kind": record.kind,
                "owner": record.owner, "age_days": _age_days(record, config.as_of),
                "created": _iso(record.created), "last_rotated": _iso(record.last_rotated),
                "expires": _iso(record.expires), "rotation_enabled": record.rotation_enabled,
                "rotation_days": days, "rotation_source": source, "backend_rotation_days": record.rotation_days,
                "next_rotation": _iso(record.next_rotation), "last_accessed": _iso(record.last_accessed)})
            progress.tick(count)


def _rotation_cell(row: dict[str, Any]) -> str:
    """``90d (policy default for aws-access-key)``, ``30d (metadata)``; ``off`` only where no period applies."""
    if row["rotation_days"]:
        return f"{row['rotation_days']}d ({row['rotation_source']})"
    return "off" if row["rotation_enabled"] is False else "on" if row["rotation_enabled"] else "unknown"


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_with_backend_options
def status(fmt: str, config_path: str | None, plugins: tuple[str, ...], as_of: str | None,
           timeout: float | None, github_api_url: str | None) -> None:
    """Each backend: reachable, identity and auth method, latency, config warnings."""
    import json
    from dataclasses import asdict

    from secretaudit.redact import scrub_data

    runner = _backend_runner(config_path, plugins, as_of, timeout)
    # every field a backend filled in goes through the one redaction path (a URL's password...)
    statuses = [scrub_data(asdict(backend.status())) for backend in runner.config.stash[BACKENDS]]
    if fmt == "json":
        click.echo(json.dumps(statuses, indent=2))
    else:
        for s in statuses:
            state = "reachable" if s["reachable"] else "UNREACHABLE"
            latency = f", {s['latency_ms']:.0f} ms" if s["latency_ms"] is not None else ""
            echo(f"{s['backend']}: {state}{latency}; identity: {s['identity'] or '-'}; "
                 f"auth: {s['auth_method'] or '-'}")
            if s["error"]:
                echo(f"    error: {s['error']}")
            for warning in s["warnings"]:
                echo(f"    warning: {warning}")
        if not statuses:
            echo("no backends configured", err=True)
    raise SystemExit(ExitCode.OK if all(s["reachable"] for s in statuses) else ExitCode.FINDINGS)


@cli.group()
def baseline() -> None:
    """Create, update or import the baseline of accepted findings.

    The baseline (.secretaudit-baseline.json) lists findings by fingerprint,
    with no line numbers or timestamps: moving code leaves it unchanged.
    Commit it; 'scan' then reports only findings that are not in it.
    """


def _baseline_run(paths: tuple[str, ...], output: str | None, create_dirs: bool, config_path: str | None,
                  plugins: tuple[str, ...], exclude: tuple[str, ...], max_file_size: str | None,
                  no_prefilter: bool, workers: int | None, no_cache: bool, keep_previous: bool) -> None:
    from secretaudit.baseline import build, load_entries
    from secretaudit.session import Session

    runner = Runner(config_path, plugins, paths or (".",), _overrides(exclude, max_file_size, no_prefilter, workers, no_cache))
    runner.config.stash[ALLOW_EMPTY] = True
    runner.configure("text", 0, 2, False)  # quiet: the baseline file is the output, not a report on stdout
    target = _baseline_path(runner, output)
    _check_baseline_target(target, output, create_dirs)
    previous = load_entries(target) if keep_previous and target.exists() else {}
    session = Session(runner.config)
    status = session.run()
    if status in (ExitCode.INTERRUPTED,):
        raise SystemExit(status)
    content = build(session.findings, previous)
    _write_baseline(target, content, output, create_dirs)
    echo(f"baseline {target}: {len(content['findings'])} accepted findings", err=True)


def _baseline_what(target: Path, output: str | None) -> str:
    return f"-o {output}" if output else f"baseline {target}"


def _check_baseline_target(target: Path, output: str | None, create_dirs: bool) -> None:
    """Refuse a baseline path that cannot take the file before scanning (see :mod:`secretaudit.outputs`)."""
    from secretaudit.outputs import check_output_path

    check_output_path(str(target), _baseline_what(target, output), create_dirs)


def _write_baseline(target: Path, content: dict[str, Any], output: str | None, create_dirs: bool) -> None:
    """Write the baseline; a failure now (disk full, the path changed) is a one-line error and exit 1."""
    from secretaudit.baseline import write
    from secretaudit.outputs import OutputPathError

    try:
        write(target, content, _baseline_what(target, output), create_dirs)
    except OutputPathError as exc:
        echo(f"error: {exc}", err=True)
        raise SystemExit(ExitCode.FINDINGS) from None


@baseline.command("create")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("-o", "--output", metavar="FILE", help="Where to write (default: .secretaudit-baseline.json).")
@_CREATE_DIRS
@_common_options
def baseline_create(paths: tuple[str, ...], output: str | None, **options: Any) -> None:
    """Scan PATHS and accept every current finding into a new baseline."""
    _baseline_run(paths, output, keep_previous=False, **options)


@baseline.command("update")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("-o", "--output", metavar="FILE", help="Baseline to update (default: .secretaudit-baseline.json).")
@_CREATE_DIRS
@_common_options
def baseline_update(paths: tuple[str, ...], output: str | None, **options: Any) -> None:
    """Rescan: add new findings, drop fixed ones, keep each entry's reason."""
    _baseline_run(paths, output, keep_previous=True, **options)


@baseline.command("import")
@click.argument("ds_baseline", type=click.Path())
@click.option("-o", "--output", metavar="FILE", help="Where to write (default: .secretaudit-baseline.json).")
@_CREATE_DIRS
@click.option("-c", "--config", "config_path", metavar="FILE", help="Config file.")
def baseline_import(ds_baseline: str, output: str | None, create_dirs: bool, config_path: str | None) -> None:
    """Convert a detect-secrets .secrets.baseline into a secretaudit baseline.

    The files it lists are scanned; every finding whose secret detect-secrets
    had accepted (same file, same SHA-1) is accepted here.
    """
    from secretaudit.baseline import build, import_detect_secrets

    source = Path(ds_baseline)
    runner = Runner(config_path, (), (str(source.resolve().parent),))
    target = _baseline_path(runner, output)
    _check_baseline_target(target, output, create_dirs)
    findings = import_detect_secrets(source, runner.config, source.resolve().parent)
    content = build(findings)
    _write_baseline(target, content, output, create_dirs)
    echo(f"baseline {target}: {len(content['findings'])} findings imported from {source}", err=True)


@cli.group()
def report() -> None:
    """Work with JSON reports: merge shards of one audit into one report."""


@report.command("merge")
@click.argument("reports_in", nargs=-1, required=True, metavar="REPORT.json...")
@click.option("--compare", "compare_to", metavar="PREVIOUS.json",
              help="Also show new, fixed and unchanged findings since a previous JSON report.")
@click.option("--report", "reports", multiple=True, metavar="FORMAT[:PATH]",
              help="Write the merged report (repeatable), e.g. --report html:all.html --report json:all.json; "
                   "PATH '-' is stdout; only regular files are written.")
@_CREATE_DIRS
@click.option("--format", "fmt", default="text", show_default=True, metavar="FORMAT",
              help="Output on stdout: 'text' (the summary) or a machine format such as 'json'.")
@click.option("-q", "--quiet", count=True, help="Less output.")
@click.option("--no-color", is_flag=True, help="Plain output, no ANSI colours.")
def report_merge(reports_in: tuple[str, ...], compare_to: str | None, reports: tuple[str, ...], create_dirs: bool,
                 fmt: str, quiet: int, no_color: bool) -> None:
    """Merge JSON reports (e.g. the N shards of 'scan --shard K/N') into one.

    The merged report has every finding, skipped file and count of its
    inputs, so every format renders it as if it were one run.  The exit code
    is the merged run's.

    \b
    Example:
      secretaudit report merge shard-*.json --report html:audit.html --report json:audit.json
    """
    from secretaudit.report_reader import compare
    from secretaudit.session import Session

    runner = Runner(None, ())
    runner.configure(fmt, 0, quiet, no_color, reports, create_dirs=create_dirs)
    session = Session.from_reports(list(reports_in), runner.config)
    if compare_to:
        session.comparison = compare(session, compare_to)
    session.config.hook.secretaudit_sessionstart(session=session)
    session.config.hook.secretaudit_sessionfinish(session=session, exitstatus=session.exitstatus)
    raise SystemExit(session.exitstatus)


@cli.command("checks")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("-p", "plugins", multiple=True, metavar="NAME", help="Load or disable ('no:NAME') a plugin.")
def list_checks(fmt: str, plugins: tuple[str, ...]) -> None:
    """List every check: id, severity, title, tags and the controls it evidences."""
    import json

    runner = Runner(None, plugins)
    specs = list(runner.config.checks or [])
    if fmt == "json":
        click.echo(json.dumps([{"id": s.id, "title": s.title, "severity": s.severity.label,
                                "tags": list(s.tags), "controls": list(s.controls),
                                "description": s.description, "remediation": s.remediation} for s in specs], indent=2))
        return
    for spec in specs:
        echo(f"{spec.id} [{spec.severity.label}] {spec.title}")
        echo(f"    {spec.description}")
        if spec.controls:
            echo(f"    controls: {', '.join(spec.controls)}")
        if spec.tags:
            echo(f"    tags: {', '.join(spec.tags)}")


@cli.command("rules")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("-c", "--config", "config_path", metavar="FILE", help="Config file (its 'rules' setting applies).")
@click.option("-p", "plugins", multiple=True, metavar="NAME", help="Load or disable ('no:NAME') a plugin.")
def list_rules(fmt: str, config_path: str | None, plugins: tuple[str, ...]) -> None:
    """List every detection rule: id, severity, file, samples, validator and title.

    SA101's known formats live in rule files (checks/rules/*.toml); the
    config's 'rules' setting disables a rule or changes its severity
    (disabled rules are listed as such).  --format json adds each rule's
    prefilter tokens, keywords, entropy floor and priority.
    """
    import json

    runner = Runner(config_path, plugins)
    rules = [rule for listed in runner.config.hook.secretaudit_list_rules(config=runner.config) if listed
             for rule in listed]
    if fmt == "json":
        click.echo(json.dumps(rules, indent=2))
        return
    header = ("id", "check", "severity", "file", "samples", "validator", "title")
    rows = [(r["id"], r["check"], r["severity"] if r["enabled"] else "disabled", r.get("file", ""),
             f"{r['samples']['positive']}+/{r['samples']['negative']}-", r.get("validator") or "-", r["title"])
            for r in rules]
    widths = [max([len(header[i]), *(len(row[i]) for row in rows)]) for i in range(len(header) - 1)]
    echo("  ".join(h.ljust(w) for h, w in zip(header, widths)) + "  " + header[-1])
    for row in rows:
        echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1])
    enabled = sum(r["enabled"] for r in rules)
    files = len({r.get("file", "") for r in rules})
    echo(f"{len(rules)} rules ({enabled} enabled) in {files} files")


# -- entry point ----------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    """Run the CLI, mapping every way out onto the documented exit codes."""
    from secretaudit import termination

    termination.install()  # SIGTERM (CI cancel, timeout) winds down as Ctrl-C does: exit 2, partial reports
    try:
        _run_command(argv)
    finally:
        patterns = sys.modules.get("secretaudit.patterns")
        if patterns is not None:
            patterns.save()  # the regexes compiled this run, for the next one


def _run_command(argv: list[str] | None) -> None:
    try:
        cli.main(args=argv, prog_name="secretaudit", standalone_mode=False)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
        sys.exit(code)
    except click.exceptions.Abort:
        echo("interrupted", err=True)
        sys.exit(ExitCode.INTERRUPTED)
    except KeyboardInterrupt:
        echo("interrupted", err=True)
        sys.exit(ExitCode.INTERRUPTED)
    except click.ClickException as exc:
        import io

        hint = _trail_spelling(exc)
        if hint is not None:
            echo(f"error: {hint}", err=True)
            sys.exit(ExitCode.USAGE_ERROR)
        shown = io.StringIO()  # click quotes the bad argument: it goes through the sanitiser like any text
        exc.show(file=shown)
        for line in shown.getvalue().splitlines():
            echo(line, err=True)
        sys.exit(ExitCode.USAGE_ERROR)
    except UsageError as exc:
        echo(f"error: {exc}", err=True)
        sys.exit(ExitCode.USAGE_ERROR)
    except Exception:  # a bug: say so loudly
        import traceback

        from secretaudit.redact import scrub

        click.echo("INTERNAL ERROR: secretaudit crashed; please report this with the traceback below", err=True)
        click.echo(scrub(traceback.format_exc()).rstrip("\n"), err=True)  # no URL password or token in it
        sys.exit(ExitCode.INTERNAL_ERROR)
    sys.exit(0)


def _trail_spelling(exc: click.ClickException) -> str | None:
    """A one-line pointer to ``trail --since`` for the seed's ``--last-24-hours``; None for other errors.

    The standard's seed asked the audit for recent accesses that way; the
    accesses are the trail's (the audit judges secrets as of --as-of).
    """
    import re

    if not isinstance(exc, click.NoSuchOption):
        return None
    match = re.fullmatch(r"--last-([0-9]{1,5})-(minute|hour|day|week)s?", exc.option_name or "")
    if match is None:
        return None
    count, unit = match.groups()
    command = exc.ctx.command.name if exc.ctx is not None and exc.ctx.command is not None else "secretaudit"
    return (f"{command} has no {match.group(0)}: who read or rotated what in the last {count} {unit}"
            f"{'' if count == '1' else 's'} is 'secretaudit trail --since {count}{unit[0]}'")


def run() -> None:
    """What the ``secretaudit`` console script runs (after :mod:`secretaudit.launch`): :func:`main`, then a quick way out.

    Tearing the interpreter down (clearing some 200 modules, collecting their
    objects) costs a short run such as a pre-commit hook 30-50 ms here, a
    fifth of its time, and does nothing for a process that is about to end.
    So once the output is flushed, and only when nothing registered work for
    the exit (no ``atexit`` callback from a plugin, logging or
    multiprocessing, no other thread), the process ends with ``os._exit``.
    Anything else exits the normal way.
    """
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
        if _nothing_left_to_do_at_exit():
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            except (OSError, ValueError):
                raise exc from None  # a closed pipe: let the normal exit report it
            os._exit(code)
        raise


def _nothing_left_to_do_at_exit() -> bool:
    import atexit

    count_callbacks = getattr(atexit, "_ncallbacks", None)
    if count_callbacks is None or count_callbacks() != 0:
        return False
    threading = sys.modules.get("threading")
    return threading is None or threading.active_count() == 1
