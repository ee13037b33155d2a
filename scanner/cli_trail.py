"""``secretaudit trail``: who touched which secret, when, and what came of it.

Two sources of evidence, one command:

* the access trail secretaudit itself writes (``get``, ``rotate``,
  ``validate``; :mod:`secretaudit.trail`), at the config's ``audit_log``;
* with ``--vault-audit-log FILE``, a Vault/OpenBao file audit device log:
  every read of a secret value, by whom (display name, entity, policies) and
  with what outcome (:mod:`secretaudit.backends.vault_audit_log` parses it).

Both read forgivingly: a torn or corrupt line becomes a one-line warning on
stderr with its line number and is skipped, so one bad line never hides the
rest of the evidence.  Output is a pytest-like table, or JSON for scripts.
Nothing printed is ever a secret value: the trail holds none, and of the
audit log only paths, identities and outcomes are read.

Imported lazily by :class:`secretaudit.cli.LazyGroup`: ``scan`` never pays for it.
"""

from __future__ import annotations

import json
import shutil
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

import click

from secretaudit.errors import ExitCode, UsageError
from secretaudit.printable import echo

TRAIL_COLUMNS = ("time", "actor", "host", "command", "secret", "backend", "outcome", "reason")
VAULT_COLUMNS = ("time", "reader", "entity", "policies", "secret", "outcome", "from")
#: Widest a free-text column (reason, policies) gets in the table before it is cut with "…".
MAX_CELL = 60


def _banner(title: str, char: str = "=") -> str:
    width = max(40, min(shutil.get_terminal_size((80, 24)).columns, 120))
    text = f" {title} "
    if len(text) + 2 >= width:
        return text.strip()
    left = (width - len(text)) // 2
    return f"{char * left}{text}{char * (width - len(text) - left)}"


def _cell(value: Any) -> str:
    from secretaudit.trail import one_line

    text = one_line(value)
    return text if len(text) <= MAX_CELL else text[:MAX_CELL - 1] + "…"


def _table(header: Sequence[str], rows: list[Sequence[str]]) -> list[str]:
    table = [tuple(h.upper() for h in header), *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in table]


def _warn(path: Path, number: int, problem: str) -> None:
    echo(f"warning: {path}:{number}: {problem}, skipped", err=True)


def _since(value: str | None) -> datetime | None:
    from secretaudit.trail import parse_since

    if not value:
        return None
    try:
        return parse_since(value)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _config_hint(config_path: str | None) -> tuple[Path, str]:
    """The trail file and the config that named it (for 'where it looked' messages)."""
    from secretaudit.config import load_config
    from secretaudit.trail import trail_path

    config = load_config(config_path)
    return trail_path(config), config.source or ""


@click.command(epilog="Exit codes: 0 shown · 1 the file cannot be read · 4 usage or config error · "
                      "5 no trail recorded yet.")
@click.option("--since", metavar="WHEN", help="Only entries from WHEN on: 30m, 24h, 7d, 2w, or a date/time "
                                               "(2026-11-01, 2026-11-01T08:00:00Z; UTC).")
@click.option("--secret", "secrets", multiple=True, metavar="NAME",
              help="Only this secret (name, BACKEND:NAME or a glob such as 'github*'; repeatable).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--vault-audit-log", "--vault-log", "vault_log", metavar="FILE",
              help="Read a Vault/OpenBao file audit device log instead: which secrets were read, by whom "
                   "(display name, entity, policies) and when.")
@click.option("-c", "--config", "config_path", metavar="FILE",
              help="Config file whose audit_log names the trail (default: found by walking up).")
def trail(since: str | None, secrets: tuple[str, ...], fmt: str, vault_log: str | None,
          config_path: str | None) -> None:
    """Show the access trail: every get, rotate and validate, oldest first.

    Each line of the trail says who (actor, host) did what (command) to which
    secret (and backend), with what outcome and stated reason.  Never a value.

    \b
    Examples:
      secretaudit trail --since 24h
      secretaudit trail --secret 'github*' --format json | jq '.entries[]'
      secretaudit trail --vault-audit-log /var/log/openbao/audit.log --since 7d
    """
    moment = _since(since)
    if vault_log:
        _show_vault_log(Path(vault_log), moment, secrets, fmt, since)
        return
    _show_trail(config_path, moment, secrets, fmt, since)


def _show_trail(config_path: str | None, moment: datetime | None, secrets: tuple[str, ...], fmt: str,
                since: str | None) -> None:
    from secretaudit.trail import TrailError, read_trail, select

    path, source = _config_hint(config_path)
    try:
        found = read_trail(path)
    except TrailError as exc:
        if exc.missing:
            configured = f"audit_log in {source}" if source else "audit_log in secretaudit.yaml (or pass -c CONFIG)"
            echo(f"error: {exc}: nothing was recorded there yet, or the trail lives elsewhere; "
                 f"set {configured}", err=True)
            raise SystemExit(ExitCode.NOTHING_SCANNED) from None
        echo(f"error: {exc}", err=True)
        raise SystemExit(ExitCode.FINDINGS) from None
    for bad in found.bad_lines:
        _warn(path, bad.number, bad.problem)
    entries = select(found.entries, moment, secrets)
    if fmt == "json":
        click.echo(json.dumps({"trail": str(path), "since": moment.isoformat() if moment else None,
                               "entries": [{key: entry.get(key, "") for key in (*TRAIL_COLUMNS, *sorted(
                                   k for k in entry if k not in TRAIL_COLUMNS))} for entry in entries],
                               "skipped_lines": [{"line": b.number, "problem": b.problem}
                                                 for b in found.bad_lines]}, indent=2, default=str))
        return
    echo(_banner("secretaudit access trail"))
    echo(f"trail: {path}")
    if entries:
        rows = [tuple(_cell(entry.get(column, "")) or "-" for column in TRAIL_COLUMNS) for entry in entries]
        for line in _table(TRAIL_COLUMNS, rows):
            echo(line)
    echo(_banner(_summary(len(entries), len(found.entries), len(found.bad_lines), since, secrets)))


def _summary(shown: int, total: int, skipped: int, since: str | None, secrets: tuple[str, ...]) -> str:
    parts = [f"{shown} {'entry' if shown == 1 else 'entries'}"]
    filters = [f"since {since}"] if since else []
    if secrets:
        filters.append(f"secret {', '.join(secrets)}")
    if filters:
        parts[0] += f" ({' and '.join(filters)}; {total} in the file)"
    if skipped:
        parts.append(f"{skipped} broken {'line' if skipped == 1 else 'lines'} skipped")
    return ", ".join(parts)


def _show_vault_log(path: Path, moment: datetime | None, secrets: tuple[str, ...], fmt: str,
                    since: str | None) -> None:
    from secretaudit.backends.vault_audit_log import iso, read_audit_log, secret_name, select_reads

    try:
        log = read_audit_log(path)
    except FileNotFoundError:
        echo(f"error: audit log {path} does not exist; pass the file audit device's file_path "
             "(bao audit list -detailed shows it)", err=True)
        raise SystemExit(ExitCode.USAGE_ERROR) from None
    except IsADirectoryError:
        echo(f"error: audit log {path} is a directory; pass the log file itself", err=True)
        raise SystemExit(ExitCode.USAGE_ERROR) from None
    except OSError as exc:
        echo(f"error: cannot read audit log {path} ({exc.strerror or exc}); run as a user allowed to "
             "read it", err=True)
        raise SystemExit(ExitCode.FINDINGS) from None
    for number, problem in log.bad_lines:
        _warn(path, number, problem)
    reads = select_reads(log.reads, moment, secrets)
    if fmt == "json":
        click.echo(json.dumps({"audit_log": str(path), "since": moment.isoformat() if moment else None,
                               "reads": [{**r.as_dict(), "secret": secret_name(r.path)} for r in reads],
                               "skipped_lines": [{"line": n, "problem": p} for n, p in log.bad_lines]},
                              indent=2))
        return
    echo(_banner("secretaudit vault audit log"))
    echo(f"audit log: {path}")
    if reads:
        rows = [(iso(r.time), _cell(r.display_name) or "-", _cell(r.entity_id) or "-",
                 _cell(",".join(r.policies)) or "-", _cell(r.path), r.outcome + (f" ({_cell(r.error)})"
                 if r.error and r.outcome not in ("ok", "denied") else ""), _cell(r.remote_address) or "-")
                for r in reads]
        for line in _table(VAULT_COLUMNS, rows):
            echo(line)
    summary = _summary(len(reads), len(log.reads), len(log.bad_lines), since, secrets)
    echo(_banner(summary.replace("entries", "reads").replace("entry", "read")))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(trail())
