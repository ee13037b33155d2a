"""``secretaudit get`` and ``secretaudit rotate``: the secrets owner's everyday verbs.

Imported lazily by :class:`secretaudit.cli.LazyGroup` (``scan`` never pays for
the backends).  Both commands print one-line errors naming the cause users
see (Access Denied, Connection timeout, Expired, Not Found...) and the fix;
never a traceback and never a value.  Exit codes: 0 done, 1 a backend
failure or refusal (denied, unreachable, expired, a rotation that failed or
was rolled back), 4 a user mistake (unknown name, unknown field, a kind that
cannot be rotated safely).  Every use appends one line to the access trail.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from secretaudit import printable
from secretaudit.cli import _backend_runner, _with_backend_options
from secretaudit.errors import ExitCode
from secretaudit.stash import BACKENDS


def _fail(message: str, code: int) -> None:
    """Print a one-line error (newlines folded) and exit with ``code``."""
    from secretaudit.redact import scrub

    printable.echo("error: " + scrub(" ".join(str(message).split())), err=True)
    raise SystemExit(code)


def _options(func: Any) -> Any:
    """The backend options every backend command takes (--config, --timeout, --as-of...)."""
    return _with_backend_options(func)


@click.command()
@click.option("--secret", "name", required=True, metavar="NAME",
              help="The secret: NAME as 'secretaudit list' shows it, or BACKEND:NAME (vault:prod:github).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text: the bare value (for $(...)): --field, or the only field; json: every field as an "
                   "object (fields), with name, kind, version, expiry_date, backend.")
@click.option("--field", "field_name", metavar="F",
              help="Hand out this one field (e.g. access_key_id); needed in text mode when the secret has "
                   "several fields.")
@click.option("--reason", default="", metavar="TEXT", help="Why you read it (recorded in the access trail).")
@_options
def get(name: str, fmt: str, field_name: str | None, reason: str, config_path: str | None,
        plugins: tuple[str, ...], as_of: str | None, timeout: float | None, github_api_url: str | None) -> None:
    """Print a secret's current value for a script, read from its backend at task time.

    The read is recorded in the access trail (refused if the trail cannot be
    written).  A secret past its expiry_date is refused.  Values are cached
    in memory per process only (secret_cache: ttl_seconds, max_size), never
    on disk, so each 'get' asks the backend.

    \b
    Examples:
      export GITHUB_TOKEN="$(secretaudit get --secret github-token)"
      secretaudit get --secret vault:prod:aws --field access_key_id
      secretaudit get --secret database --format json | jq -r '.fields.mysql_host, .fields.mysql_password'
    """
    from secretaudit.secrets import SecretClient, SecretError

    runner = _backend_runner(config_path, plugins, as_of, timeout, github_api_url=github_api_url)
    client = SecretClient(runner.config, runner.config.stash[BACKENDS], command="get")
    try:
        secret = client.get(name, reason=reason, field=field_name, single=fmt == "text")
        chosen = secret.field_value(field_name) if fmt == "text" else secret.as_dict(field_name)
    except SecretError as exc:
        _fail(str(exc), exc.exit_code)
        return
    finally:
        for warning in client.warnings:
            click.echo("warning: " + " ".join(warning.split()), err=True)
    if fmt == "json":
        sys.stdout.write(json.dumps(chosen) + "\n")
    else:
        sys.stdout.write(f"{chosen}\n")
    sys.stdout.flush()
    raise SystemExit(ExitCode.OK)


@click.command()
@click.option("--secret", "name", metavar="NAME", help="The secret to rotate (NAME or BACKEND:NAME).")
@click.option("--due", is_flag=True,
              help="Rotate every secret whose rotation is due (past its policy.rotation_days, or a missed "
                   "scheduled rotation), as the nightly audit judges it; for cron.")
@click.option("--reason", required=True, metavar="TEXT", help="Why (recorded in the access trail), e.g. 'quarterly'.")
@click.option("--dry-run", is_flag=True, help="Say exactly what would happen; change nothing.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_options
def rotate(name: str | None, due: bool, reason: str, dry_run: bool, fmt: str, config_path: str | None,
           plugins: tuple[str, ...], as_of: str | None, timeout: float | None, github_api_url: str | None) -> None:
    """Rotate a secret, validate the new credential, and roll back if it does not work.

    \b
    What each kind gets:
      AWS Secrets Manager     RotateSecret when a rotation Lambda is set; otherwise a new
                              value staged as AWSPENDING, validated, then promoted to AWSCURRENT
      Vault database roles    the database engine's rotate-role endpoint
      Vault KV generic /      a new KV version with a generated password (rotation.password);
      database-password       the database password is changed too, with a recovery path
      AWS IAM access keys     the two-key procedure: create, store, validate (same identity),
                              deactivate the old key
    GitHub tokens, Vault tokens and unknown kinds are refused with the manual steps.

    With --due, every secret the audit finds due is rotated in turn; one that
    cannot be rotated safely is listed with its manual steps and the others go
    on.  Exit 0 when every due secret was rotated (or none was due), 1 when
    any needs a human.

    \b
    Examples:
      secretaudit rotate --secret database --reason "quarterly rotation" --dry-run
      secretaudit rotate --secret aws:deploy/aws-access-key --reason "key age 90d"
      secretaudit rotate --due --reason "scheduled rotation (cron)"
    """
    from secretaudit.rotation import RotationError, rotate_secret

    if bool(name) == due:
        raise click.UsageError("say what to rotate: --secret NAME, or --due for every secret whose rotation is due")
    runner = _backend_runner(config_path, plugins, as_of, timeout, github_api_url=github_api_url)
    echo = (lambda line: printable.echo(line, err=fmt == "json"))
    if due:
        _rotate_due(runner.config, reason, dry_run, fmt, echo)
        return
    assert name is not None
    try:
        result = rotate_secret(runner.config, name, reason, dry_run=dry_run, echo=echo)
    except RotationError as exc:
        _fail(str(exc), exc.exit_code)
        return
    if fmt == "json":
        click.echo(json.dumps(result.as_dict(), indent=2))
    else:
        printable.echo(result.summary())
    raise SystemExit(result.exit_code)


def _rotate_due(config: Any, reason: str, dry_run: bool, fmt: str, echo: Any) -> None:
    """Rotate each due secret; report every outcome; exit 1 if any needs a human."""
    from secretaudit.rotation import RotationError, due_for_rotation, rotate_secret

    if not config.stash.get(BACKENDS):
        _fail(f"no backends configured in {config.source or 'the default configuration'}; pass --config with "
              "backends or an external_secrets block", ExitCode.USAGE_ERROR)
    due, problems = due_for_rotation(config)
    outcomes: list[dict[str, Any]] = []
    for backend, record, why in due:
        label = f"{backend.label}:{record.name}"
        try:
            result = rotate_secret(config, label, reason, dry_run=dry_run, echo=echo, found=(backend, record))
            outcomes.append({**result.as_dict(), "due": why})
            line = result.summary()
        except RotationError as exc:
            outcomes.append({"secret": label, "outcome": "refused" if exc.reason in RotationError.USER_SIDE
                             else "failed", "message": str(exc), "due": why})
            line = f"NEEDS A HUMAN: {exc}"
        if fmt == "text":
            printable.echo(line)
    for problem in problems:
        printable.echo(f"error: {problem}", err=True)
    failed = [o for o in outcomes if o["outcome"] not in ("ok", "dry-run")]
    if fmt == "json":
        click.echo(json.dumps({"due": len(due), "rotated": len(outcomes) - len(failed), "needs_a_human": len(failed),
                               "errors": problems, "results": outcomes}, indent=2))
    else:
        verb = "would be rotated" if dry_run else "rotated"
        printable.echo(f"{len(due)} due: {len(outcomes) - len(failed)} {verb}, {len(failed)} need a human"
                       + (f", {len(problems)} backend errors" if problems else ""))
    raise SystemExit(ExitCode.FINDINGS if failed or problems else ExitCode.OK)
