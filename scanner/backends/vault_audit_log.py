"""Reading a Vault/OpenBao *file audit device* log: which secrets were read, by whom, and when.

Vault and OpenBao write every request to their file audit device as one
JSON line (``type: request`` then ``type: response``), with the caller's
identity in ``auth`` (``display_name``, ``entity_id``, ``policies``) and the
request's ``path`` and ``operation`` in ``request``.  Values (tokens, secret
data) are HMAC'd by default; this module never reads ``request.data`` or
``response.data`` at all, so even a device with ``log_raw = true`` cannot
leak a value through secretaudit.

A *read* is a successful ``read`` of a secret's value: ``MOUNT/data/PATH``
(KV v2), ``MOUNT/creds/ROLE`` and ``MOUNT/static-creds/ROLE``.  Used by
``secretaudit trail --vault-audit-log`` (to show) and by check SA510 (to
judge), so the format is parsed in one place.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

#: Second path segments whose ``read`` returns a secret's value.
VALUE_SEGMENTS = ("data", "creds", "static-creds")


@dataclass(frozen=True)
class VaultRead:
    """One request to a secret path, from the audit log; never any request or response data."""

    time: datetime
    request_id: str
    path: str
    operation: str
    display_name: str
    entity_id: str
    policies: tuple[str, ...]
    remote_address: str
    #: ``ok``, ``denied``, ``error``, or ``unknown`` (a request with no response in the log)
    outcome: str
    #: the server's error text for a failed request (e.g. "permission denied")
    error: str = ""

    @property
    def reader(self) -> str:
        """How messages name the reader: display name, entity and policies."""
        who = self.display_name or "(no display name)"
        if self.entity_id:
            who += f" (entity {self.entity_id})"
        return f"{who} [policies: {', '.join(self.policies) or 'none'}]"

    @property
    def reader_key(self) -> str:
        """The reader's identity for fingerprints: stable across its tokens."""
        return self.entity_id or f"{self.display_name}|{','.join(self.policies)}"

    def as_dict(self) -> dict[str, Any]:
        return {"time": iso(self.time), "path": self.path, "operation": self.operation,
                "display_name": self.display_name, "entity_id": self.entity_id, "policies": list(self.policies),
                "remote_address": self.remote_address, "outcome": self.outcome, "error": self.error,
                "request_id": self.request_id}


@dataclass
class AuditLog:
    """What :func:`read_audit_log` found: requests to secret values and the lines it skipped."""

    path: Path
    reads: list[VaultRead] = field(default_factory=list)
    bad_lines: list[tuple[int, str]] = field(default_factory=list)
    lines: int = 0


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def is_value_path(path: str) -> bool:
    """True for paths whose ``read`` returns a secret value (see the module docstring)."""
    parts = path.strip("/").split("/")
    return len(parts) >= 3 and parts[1] in VALUE_SEGMENTS


def _time(value: Any) -> datetime | None:
    from secretaudit.trail import parse_time

    return parse_time(value)


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(sorted({str(v) for v in value})) if isinstance(value, list) else ()


def _error_outcome(error: Any) -> tuple[str, str]:
    text = " ".join(str(error).split()) if error else ""
    if not text:
        return "ok", ""
    # the server's own error text names causes, not values; keep it short anyway
    return ("denied" if "permission denied" in text.lower() else "error"), text[:120]


def _parse_entry(entry: dict[str, Any], moment: datetime) -> VaultRead | None:
    request = entry.get("request") if isinstance(entry.get("request"), dict) else {}
    auth = entry.get("auth") if isinstance(entry.get("auth"), dict) else {}
    path = str(request.get("path") or "")
    operation = str(request.get("operation") or "")
    if operation != "read" or not is_value_path(path):
        return None
    policies = _strings(auth.get("policies")) or tuple(sorted(
        {*_strings(auth.get("token_policies")), *_strings(auth.get("identity_policies"))}))
    outcome, error = _error_outcome(entry.get("error"))
    return VaultRead(time=moment, request_id=str(request.get("id") or ""), path=path, operation=operation,
                     display_name=str(auth.get("display_name") or ""), entity_id=str(auth.get("entity_id") or ""),
                     policies=policies, remote_address=str(request.get("remote_address") or ""),
                     outcome=outcome, error=error)


def read_audit_log(path: Path) -> AuditLog:
    """Every read of a secret value in a file audit device log, paired request with response.

    The response decides the outcome (and its time, when the request line is
    missing); a request with no response is ``unknown`` (a denied one keeps
    ``denied``).  Broken lines are collected with their number, never raised.
    Raises :class:`OSError` when the file cannot be read.
    """
    from secretaudit.trail import iter_lines

    log = AuditLog(path=path)
    pending: dict[str, VaultRead] = {}
    done: list[VaultRead] = []
    for number, raw, complete in iter_lines(path):
        if not raw.strip():
            continue
        log.lines += 1
        try:
            entry = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            log.bad_lines.append((number, "incomplete last line (the server was writing it?)" if not complete
                                  else "not valid JSON (corrupt line)"))
            continue
        moment = _time(entry.get("time")) if isinstance(entry, dict) else None
        if moment is None or entry.get("type") not in ("request", "response"):
            log.bad_lines.append((number, "not an audit entry (no time or type)"))
            continue
        read = _parse_entry(entry, moment)
        if read is None:
            continue
        if entry["type"] == "request":
            if read.request_id:
                pending[read.request_id] = read
            else:
                done.append(_unanswered(read))
            continue
        request = pending.pop(read.request_id, None)
        done.append(read if request is None else replace(read, time=request.time))
    done.extend(_unanswered(read) for read in pending.values())
    log.reads = sorted(done, key=lambda r: r.time)
    return log


def _unanswered(read: VaultRead) -> VaultRead:
    return read if read.outcome != "ok" else replace(read, outcome="unknown")


def select_reads(reads: Iterable[VaultRead], since: datetime | None = None,
                 secrets: Iterable[str] = ()) -> list[VaultRead]:
    """Reads at or after ``since`` whose path matches a pattern (the path, or its part after ``/data/``)."""
    patterns = [p for p in secrets if p]
    chosen = []
    for read in reads:
        if since is not None and read.time < since:
            continue
        if patterns:
            names = {read.path, secret_name(read.path)}
            if not any(fnmatch.fnmatchcase(n, p) for n in names for p in patterns):
                continue
        chosen.append(read)
    return chosen


def secret_name(path: str) -> str:
    """``secret/data/apps/payments/db`` -> ``apps/payments/db`` (what the KV CLI calls it)."""
    mount, _, rest = path.strip("/").partition("/")
    segment, _, name = rest.partition("/")
    return name if segment == "data" else path


def iter_reads(path: Path) -> Iterator[VaultRead]:
    """Every read of a secret value in ``path`` (a convenience for scripts and tests)."""
    yield from read_audit_log(path).reads
