"""Reading secret values at task time: ``SecretClient(config).get(name)``.

The standard says credentials are read when a task needs them, from the
secret manager, never from a file.  This module is that read, for the
``secretaudit get`` command and for long-running agents that import it::

    from secretaudit.config import load_config
    from secretaudit.secrets import SecretClient

    client = SecretClient(load_config("secretaudit.yaml"))
    token = client.get("github-token").value

Every read (cache hits included) appends one line to the access trail
(:mod:`secretaudit.trail`); if the trail cannot be written the read fails,
because an unaudited access must not pass silently.  A secret whose
``expiry_date`` has passed is refused, never handed out.

The cache (:class:`SecretCache`) lives in memory, per process, bounded by
the config's ``secret_cache`` (``ttl_seconds``, ``max_size``; OpenClaw's
``external_secrets.cache`` block maps to it).  There is deliberately no
on-disk cache, encrypted or not: the key of an encrypted file cache would
have to be readable by the same user on the same machine (no OS keyring or
agent is guaranteed on CI runners and servers), so it protects nothing that
file permissions do not, while leaving every value on disk after the process
ends (backups, snapshots, a stolen laptop) and defeating revocation until the
file expires.  A one-shot ``secretaudit get`` therefore always asks the
backend; processes that read the same secret often (agents) get the cache.
"""

from __future__ import annotations

import difflib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from secretaudit.errors import ExitCode
from secretaudit.stash import BACKENDS

if TYPE_CHECKING:
    from secretaudit.backends import Backend
    from secretaudit.config import Config
    from secretaudit.model import SecretRecord

#: Cache bounds when the config says nothing: short enough that a rotation or
#: revocation is seen within minutes, small enough to bound what sits in memory.
DEFAULT_TTL_SECONDS = 300
DEFAULT_MAX_SIZE = 128

#: How each failure reason is named to users (the "exact causes users see").
CAUSES = {
    "denied": "Access Denied",
    "timeout": "Connection timeout",
    "unreachable": "Unreachable",
    "throttled": "Throttled",
    "expired": "Expired",
    "not-found": "Not Found",
    "ambiguous": "Ambiguous name",
    "no-field": "No such field",
    "config": "Configuration error",
    "trail": "Access trail not writable",
    "error": "Backend error",
}


class SecretError(Exception):
    """A read that failed; one line naming the cause and the fix, never a value.

    ``reason`` is a key of :data:`CAUSES`; :attr:`exit_code` is 4 for user
    mistakes (not found, ambiguous, no such field, config) and 1 for backend
    failures and refusals (denied, timeout, unreachable, expired, trail).
    """

    USER_MISTAKES = ("not-found", "ambiguous", "no-field", "config")

    def __init__(self, message: str, reason: str = "error") -> None:
        from secretaudit.redact import scrub

        super().__init__(scrub(f"{CAUSES.get(reason, 'Error')}: {message}"))
        self.reason = reason

    @property
    def exit_code(self) -> int:
        return ExitCode.USAGE_ERROR if self.reason in self.USER_MISTAKES else ExitCode.FINDINGS

    @property
    def outcome(self) -> str:
        """The trail outcome for this failure."""
        return {"not-found": "not-found", "denied": "denied", "expired": "expired", "ambiguous": "not-found",
                "no-field": "not-found"}.get(self.reason, "failed")


@dataclass(frozen=True)
class SecretValue:
    """One secret's current value with its metadata.  ``repr`` never shows the value."""

    name: str
    backend: str
    kind: str
    fields: dict[str, str] = field(repr=False, compare=False)
    version: str | None = None
    expires: datetime | None = None
    path: str = ""

    def __repr__(self) -> str:
        return (f"SecretValue(name={self.name!r}, backend={self.backend!r}, kind={self.kind!r}, "
                f"version={self.version!r}, fields={sorted(self.fields)!r})")

    __str__ = __repr__

    def field_value(self, name: str | None = None) -> str | dict[str, str]:
        """The value of field ``name``; without a name the only field's value, or all fields.

        No field is guessed from the kind: a script that asks for "the"
        value of a secret with several fields must name one (a wrong guess,
        the host for the password, fails far from here).  Raises
        :class:`SecretError` (``no-field``) naming the fields there are
        (field names are not secret).
        """
        if name:
            if name not in self.fields:
                raise SecretError(f"{self.backend}:{self.name} has no field {name!r} (fields: "
                                  f"{', '.join(sorted(self.fields)) or 'none'}); pick one with --field", "no-field")
            return self.fields[name]
        if len(self.fields) == 1:
            return next(iter(self.fields.values()))
        return dict(self.fields)

    @property
    def value(self) -> str:
        """The one value as a string (raises ``no-field`` when the secret has several fields)."""
        chosen = self.field_value()
        if isinstance(chosen, dict):
            raise SecretError(f"{self.backend}:{self.name} has several fields ({', '.join(sorted(chosen))}); "
                              "pick one with --field, or take them all with --format json", "no-field")
        return chosen

    def as_dict(self, field: str | None = None) -> dict[str, Any]:
        """What ``get --format json`` prints: the secret as an object of its fields, metadata beside them.

        ``fields`` holds every field, or only ``field`` when one is asked for
        (nothing else is handed out); ``value`` is there when one value is
        chosen (``field``, or a secret with a single field), so
        ``jq -r .value`` keeps working where it is unambiguous.
        """
        payload: dict[str, Any] = {"name": self.name, "backend": self.backend, "kind": self.kind,
                                   "version": self.version,
                                   "expiry_date": self.expires.date().isoformat() if self.expires else None}
        if field:
            chosen = self.field_value(field)
            payload.update(field=field, fields={field: chosen}, value=chosen)
        else:
            payload["fields"] = dict(self.fields)
            if len(self.fields) == 1:
                payload["value"] = next(iter(self.fields.values()))
        return payload


# -- the cache ------------------------------------------------------------------------------


class SecretCache:
    """A bounded in-memory cache: entries expire after ``ttl_seconds``, the least recently used goes first.

    ``max_size`` 0 or ``ttl_seconds`` 0 disables caching.  Thread-safe (agents
    read from several threads).  Nothing is ever written to disk.
    """

    def __init__(self, ttl_seconds: float = DEFAULT_TTL_SECONDS, max_size: int = DEFAULT_MAX_SIZE,
                 clock: Any = time.monotonic) -> None:
        self.ttl = float(ttl_seconds)
        self.max_size = int(max_size)
        self._clock = clock
        self._items: OrderedDict[tuple[str, str], tuple[float, SecretValue]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    @classmethod
    def from_config(cls, config: "Config") -> "SecretCache":
        """Bounds from ``secret_cache`` (``enabled: false`` means no cache)."""
        block = config.settings.get("secret_cache") or {}
        if not isinstance(block, dict) or block.get("enabled") is False:
            return cls(0, 0)

        def number(key: str, default: float) -> float:
            value = block.get(key, default)
            try:
                return max(0.0, float(value))
            except (TypeError, ValueError):
                return default

        return cls(number("ttl_seconds", DEFAULT_TTL_SECONDS), int(number("max_size", DEFAULT_MAX_SIZE)))

    @property
    def enabled(self) -> bool:
        return self.ttl > 0 and self.max_size > 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __repr__(self) -> str:
        return f"<SecretCache {len(self)}/{self.max_size} entries, ttl {self.ttl:g}s>"

    def get(self, key: tuple[str, str]) -> SecretValue | None:
        with self._lock:
            entry = self._items.get(key)
            if entry is None:
                self.misses += 1
                return None
            stored, value = entry
            if self._clock() - stored >= self.ttl:
                del self._items[key]
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: tuple[str, str], value: SecretValue) -> None:
        if not self.enabled:
            return
        with self._lock:
            self._items[key] = (self._clock(), value)
            self._items.move_to_end(key)
            while len(self._items) > self.max_size:
                self._items.popitem(last=False)
                self.evictions += 1

    def invalidate(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._items.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


# -- the client -------------------------------------------------------------------------------


def backend_error(exc: Exception) -> SecretError:
    """A :class:`~secretaudit.backends.BackendError` as the cause users see."""
    reason = getattr(exc, "reason", "error")
    return SecretError(str(exc), reason if reason in CAUSES else "error")


def _check_choice(value: "SecretValue", field: str | None, single: bool) -> None:
    """Raise ``no-field`` unless ``value`` has what the caller will hand out."""
    if field is not None:
        value.field_value(field)
    elif single:
        value.value  # noqa: B018 - raises no-field when the secret has several fields


class SecretClient:
    """Resolve names to records, read values through the cache, record every access in the trail.

    ``backends`` defaults to every backend of ``config`` (built here).
    """

    def __init__(self, config: "Config", backends: "list[Backend] | None" = None,
                 cache: SecretCache | None = None, command: str = "get") -> None:
        from secretaudit.backends import make_backends

        self.config = config
        if backends is None:
            backends = config.stash.get(BACKENDS)
            if backends is None:
                if config.pluginmanager is None:
                    from secretaudit.plugins import make_pluginmanager

                    config.pluginmanager = make_pluginmanager((), list(config.settings.get("plugins") or ()))
                backends = make_backends(config)
                config.stash[BACKENDS] = backends
        self.backends: list[Backend] = list(backends)
        self.cache = cache if cache is not None else SecretCache.from_config(config)
        self.command = command
        #: one line per backend that could not be asked while the name was found elsewhere (for stderr)
        self.warnings: list[str] = []

    # -- names

    def split_name(self, name: str) -> "tuple[list[Backend], str]":
        """``BACKEND:NAME`` (``vault:prod:x``, ``prod:x`` or ``vault:x``) to candidate backends and NAME."""
        from secretaudit.backends import split_name

        return split_name(self.backends, name)

    def resolve(self, name: str) -> "tuple[Backend, SecretRecord]":
        """The backend and record of ``name``; raises :class:`SecretError` (not-found, ambiguous, backend)."""
        from secretaudit.backends import BackendError

        if not self.backends:
            raise SecretError(f"no backends configured in {self.config.source or 'the default configuration'}; "
                              "pass --config with backends or an external_secrets block", "config")
        backends, bare = self.split_name(name)
        found: list[tuple[Backend, SecretRecord]] = []
        failures: list[BackendError] = []
        for backend in backends:
            try:
                record = self._lookup(backend, bare)
            except BackendError as exc:
                failures.append(exc)
                continue
            if record is not None:
                found.append((backend, record))
        if len(found) == 1:
            self.warnings.extend(f"{exc} (so {name!r} was looked up in the other backends only)" for exc in failures)
            return found[0]
        if len(found) > 1:
            options = ", ".join(f"{b.label}:{r.name}" for b, r in found)
            raise SecretError(f"{name!r} is in several backends ({options}); name one as BACKEND:NAME", "ambiguous")
        if failures:  # not found where we could look, and some backend could not be asked
            raise backend_error(failures[0])
        raise SecretError(self._not_found_message(name, bare, backends), "not-found")

    def _lookup(self, backend: "Backend", name: str) -> "SecretRecord | None":
        lookup = getattr(backend, "lookup", None)
        if callable(lookup):
            return lookup(name)
        for record in backend.records():
            if record.name == name:
                return record
        return None

    def _not_found_message(self, name: str, bare: str, backends: "list[Backend]") -> str:
        from secretaudit.backends import BackendError

        names: list[str] = []
        for backend in backends:
            try:
                names.extend(r.name for r in backend.records())
            except BackendError:
                continue
        close = difflib.get_close_matches(bare, sorted(set(names)), n=3, cutoff=0.5)
        where = ", ".join(b.label for b in backends)
        hint = f"; did you mean {', '.join(close)}?" if close else "; see 'secretaudit list' for names"
        return f"no secret {name!r} in {where}{hint}"

    # -- values

    def get(self, name: str, reason: str = "", field: str | None = None, single: bool = False) -> SecretValue:
        """The current value of ``name``; every call (hit or miss) is recorded in the trail.

        Raises :class:`SecretError`.  On failure the trail records the outcome
        (denied, not-found, expired...) before the error is raised.  A caller
        that will hand out one ``field`` (or, with ``single``, the one primary
        value) says so, so that a read that hands nothing out (no such field,
        several fields) is recorded as the failure it is, never as ``ok``.
        """
        from secretaudit.backends import BackendError

        label, secret = "", name
        try:
            backend, record = self.resolve(name)
            label, secret = backend.label, record.name
            self._refuse_expired(record.expires, label, secret)
            key = (label, secret)
            cached = self.cache.get(key)
            if cached is not None:
                self._refuse_expired(cached.expires, label, secret)
                _check_choice(cached, field, single)
                self._trail("ok", reason, label, secret, version=cached.version, cached=True)
                return cached
            try:
                fields, version = read_current(backend, record)
            except BackendError as exc:
                raise backend_error(exc) from None
            # a database password stored mid-rotation (secretaudit.rotation) is never handed out
            fields = {k: v for k, v in fields.items() if k != "_secretaudit_pending_password"}
            value = SecretValue(name=secret, backend=label, kind=record.kind, fields=fields, version=version,
                                expires=record.expires, path=record.path)
            del fields
            self.cache.put(key, value)  # read is read: a wrong --field next time needs no second fetch
            _check_choice(value, field, single)
        except SecretError as exc:
            self._trail(exc.outcome, reason, label, secret, cause=exc.reason)
            raise
        self._trail("ok", reason, label, secret, version=version, cached=False)
        return value

    def _refuse_expired(self, expires: datetime | None, label: str, secret: str) -> None:
        if expires is not None and expires <= self.config.as_of:
            raise SecretError(f"{label}:{secret} expired on {expires.date().isoformat()}; it is not handed out. "
                              "Rotate it (secretaudit rotate) or renew it and update its expiry_date", "expired")

    def _trail(self, outcome: str, reason: str, backend: str, secret: str, **extra: Any) -> None:
        from secretaudit.trail import record, trail_path

        try:
            record(self.config, self.command, secret, backend, outcome, reason, **extra)
        except OSError as exc:
            raise SecretError(f"cannot append to {trail_path(self.config)} ({exc.strerror or exc}); the access "
                              "was refused because it could not be audited: fix the file's permissions or "
                              "point audit_log elsewhere", "trail") from None


def read_current(backend: "Backend", record: "SecretRecord") -> tuple[dict[str, str], str | None]:
    """The current fields and version id of ``record`` (backends without versions: the record's fact)."""
    reader = getattr(backend, "read_current", None)
    if callable(reader):
        return reader(record)
    fields = backend.fetch(record)
    version = record.fact("current_version")
    return fields, None if version is None else str(version)
