"""The ``generic`` backend: a YAML or JSON inventory of secrets kept elsewhere.

For secrets no API can list (a password in a vendor console, a token pasted
into a CI system), teams keep an inventory file; secretaudit audits it like
any backend.  Configured as::

    backends:
      - {type: generic, name: inventory, file: inventory.yaml}

(``file`` is required, relative to the config file's directory; no other
setting exists), or ``external_secrets: {backend: generic, generic: {file: ...}}``
in an openclaw.yaml.  The file::

    secrets:
      - name: ci-release-token          # required, unique
        path: github/acme/ci-release    # where it lives (default: the name)
        kind: github-token              # default: inferred from the name
        owner: platform-team
        created: 2026-11-10             # ISO dates or datetimes (UTC when no zone)
        last_rotated: 2026-11-10
        expiry_date: 2027-02-08
        rotation_enabled: true
        rotation_days: 30
        next_rotation: 2026-12-10
        last_accessed: 2026-11-23
        never_expires: false            # true: a token known to have no expiry (SA208)
        last_rotation_failed: false
        tags: {team: platform}          # a tags.owner / tags.kind stand in for owner / kind

Every field but ``name`` may be left out: unknown stays unknown (``None``), and
the checks treat it as such.  Unknown fields are errors (a typo such as
``expiry: ...`` would otherwise silently drop an expiry date).

A broken file (unreadable, invalid YAML/JSON, no ``secrets`` list) is a
:class:`BackendError` with no records.  A broken *entry* (missing name,
bad date, wrong type, unknown key, unknown kind, duplicate name) does not lose
the others: the valid entries are yielded and audited, then one
``BackendError(reason="config")`` names every bad entry (index, line, key, what
to write instead), so the run reports the backend as an error with partial
results kept.  Messages quote dates but never other values.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from secretaudit.backends import KINDS, Backend, BackendError, BackendStatus, infer_kind, parse_date
from secretaudit.declared import relative
from secretaudit.errors import ConfigError
from secretaudit.hookspec import hookimpl
from secretaudit.model import SecretRecord

if TYPE_CHECKING:
    from secretaudit.backends import BackendRegistry
    from secretaudit.config import Config
    from secretaudit.declared import Declaration

TYPE = "generic"
SETTINGS = ("file",)

DATE_FIELDS = {"created": "created", "last_rotated": "last_rotated", "expiry_date": "expires",
               "next_rotation": "next_rotation", "last_accessed": "last_accessed"}
STRING_FIELDS = ("name", "path", "kind", "owner")
BOOL_FIELDS = ("rotation_enabled", "never_expires", "last_rotation_failed")
FIELDS = (*STRING_FIELDS, *DATE_FIELDS, *BOOL_FIELDS, "rotation_days", "tags")

_DATEISH = re.compile(r"^[0-9TZtz:+\-. ]{1,40}$")


class EntryError(ValueError):
    """One problem with one inventory entry."""

    def __init__(self, key: str | None, problem: str) -> None:
        super().__init__(problem)
        self.key = key
        self.problem = problem


@dataclass
class Inventory:
    """A parsed inventory: good records and the problems of bad entries."""

    records: list[SecretRecord] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _show_date(value: Any) -> str:
    """A bad date value for a message, only when it cannot be a secret (digits and separators)."""
    text = str(value)
    return repr(text) if _DATEISH.match(text) else f"a {type(value).__name__} value"


def _loader() -> type:
    """PyYAML's SafeLoader, but dates stay text: parse_date judges them entry by entry.

    (SafeLoader turns ``2026-02-30`` into an exception for the whole file,
    which would lose every good entry for one bad date.)
    """
    import yaml

    class InventoryLoader(yaml.SafeLoader):
        pass

    InventoryLoader.add_constructor("tag:yaml.org,2002:timestamp",
                                    lambda loader, node: loader.construct_scalar(node))
    return InventoryLoader


def _entry_lines(text: str) -> list[int]:
    """1-based line of every ``secrets[i]`` entry (best effort; JSON is read as YAML)."""
    import yaml
    from yaml.nodes import MappingNode, ScalarNode, SequenceNode

    from secretaudit import safeyaml

    try:
        root = safeyaml.compose(text, yaml.SafeLoader)
    except (yaml.YAMLError, safeyaml.YAMLBomb):
        return []
    if not isinstance(root, MappingNode):
        return []
    for key, value in root.value:
        if isinstance(key, ScalarNode) and key.value == "secrets" and isinstance(value, SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def parse_entry(entry: Any, backend: str) -> SecretRecord:
    """One inventory entry to a record; :class:`EntryError` names the bad key."""
    if not isinstance(entry, dict):
        raise EntryError(None, "expected a mapping with at least a name")
    for key in entry:
        if key not in FIELDS:
            raise EntryError(str(key), f"unknown key (allowed: {', '.join(FIELDS)})")
    name = entry.get("name")
    if name is None or (isinstance(name, str) and not name.strip()):
        raise EntryError("name", "missing; every entry needs a unique name")
    for key in STRING_FIELDS:
        if entry.get(key) is not None and not isinstance(entry[key], str):
            raise EntryError(key, f"expected a string, got a {type(entry[key]).__name__}; quote it")
    dates: dict[str, datetime | None] = {}
    for key, attribute in DATE_FIELDS.items():
        value = entry.get(key)
        if isinstance(value, bool):
            raise EntryError(key, "expected a date such as 2026-12-31, got a boolean")
        try:
            dates[attribute] = parse_date(value)
        except (ValueError, TypeError):
            raise EntryError(key, f"{_show_date(value)} is not an ISO date; write e.g. 2026-12-31 or "
                                  f"2026-12-31T00:00:00Z") from None
    for key in BOOL_FIELDS:
        if entry.get(key) is not None and not isinstance(entry[key], bool):
            raise EntryError(key, "expected true or false")
    rotation_days = entry.get("rotation_days")
    if rotation_days is not None and (isinstance(rotation_days, bool) or not isinstance(rotation_days, int)
                                      or rotation_days < 1):
        raise EntryError("rotation_days", "expected a whole number of days, 1 or more")
    tags_value = entry.get("tags") or {}
    if not isinstance(tags_value, dict) or any(isinstance(v, (dict, list)) for v in tags_value.values()):
        raise EntryError("tags", "expected a mapping of tag names to plain values, e.g. {team: payments}")
    tags = {str(k): "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
            for k, v in tags_value.items()}
    declared = entry.get("kind") or tags.get("kind")
    if declared:
        normalized = declared.strip().lower().replace("_", "-")
        if normalized not in KINDS:
            raise EntryError("kind" if entry.get("kind") else "tags.kind",
                             f"unknown kind {declared!r} (allowed: {', '.join(KINDS)}; or leave it out to "
                             f"infer it from the name)")
    extra = tuple((key, entry[key]) for key in ("never_expires", "last_rotation_failed") if entry.get(key) is not None)
    return SecretRecord(
        backend=backend, name=name.strip(), path=(entry.get("path") or name).strip(),
        kind=infer_kind(name, declared), created=dates["created"], last_rotated=dates["last_rotated"],
        expires=dates["expires"], rotation_enabled=entry.get("rotation_enabled"), rotation_days=rotation_days,
        next_rotation=dates["next_rotation"], last_accessed=dates["last_accessed"],
        owner=(entry.get("owner") or tags.get("owner") or "").strip() or None,
        tags=tuple(sorted(tags.items())), extra=extra)


class InventoryBackend(Backend):
    """Secrets listed in a YAML or JSON file."""

    type = TYPE

    def __init__(self, name: str, settings: dict[str, Any], config: "Config", key: str = "backends") -> None:
        super().__init__(name, settings, config)
        source = config.source or "config"
        for setting in settings:
            if setting not in SETTINGS:
                raise ConfigError(source, f"{key}.{setting}",
                                  f"unknown setting of a generic backend (allowed: {', '.join(SETTINGS)})")
        file = settings.get("file")
        if not isinstance(file, str) or not file.strip():
            raise ConfigError(source, f"{key}.file", "required: the path of the inventory file (YAML or JSON), "
                                                     "relative to the config file")
        base = Path(config.source).resolve().parent if config.source else Path.cwd()
        self.file = file
        self.path = (base / os.path.expanduser(file.strip())).resolve()
        #: each listed secret's line in the file, by name (filled when the file is read)
        self.lines: dict[str, int] = {}
        #: how messages name the file: as the config writes it (relative to the config), since they reach
        #: reports, which never hold the machine's absolute paths
        self.shown = file.strip()

    def _read(self) -> str:
        self.api_calls += 1
        try:
            return self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise BackendError(f"inventory file {self.shown} not found; create it or fix 'file' in the config",
                               reason="unreachable") from None
        except (OSError, UnicodeDecodeError) as exc:
            why = getattr(exc, "strerror", None) or exc.__class__.__name__
            raise BackendError(f"cannot read inventory file {self.shown} ({why}); check the path and permissions",
                               reason="unreachable") from None

    def _parse(self, text: str) -> list[Any]:
        where = self.shown
        if self.path.suffix.lower() == ".json":
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise BackendError(f"{where}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}; "
                                   f"fix the syntax", reason="config") from None
        else:
            import yaml

            from secretaudit.safeyaml import YAMLBomb, load

            try:
                data = load(text, _loader())
            except YAMLBomb as exc:
                raise BackendError(f"{where}: {exc}", reason="config") from None
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
                problem = getattr(exc, "problem", None) or "syntax error"
                raise BackendError(f"{where}: invalid YAML{at}: {problem}; fix the syntax",
                                   reason="config") from None
        if not isinstance(data, dict) or not isinstance(data.get("secrets"), list):
            raise BackendError(f"{where}: expected a mapping with a 'secrets' list of entries "
                               f"(secrets: [{{name: ..., kind: ..., expiry_date: ...}}])", reason="config")
        unknown = [str(k) for k in data if k != "secrets"]
        if unknown:
            raise BackendError(f"{where}: unknown top-level key '{unknown[0]}' (allowed: secrets)", reason="config")
        return data["secrets"]

    def inventory(self) -> Inventory:
        """Read and parse the file; whole-file problems raise, entry problems are collected."""
        text = self._read()
        entries = self._parse(text)
        lines = _entry_lines(text)
        result = Inventory()
        seen: dict[str, int] = {}
        for index, entry in enumerate(entries):
            line = f" (line {lines[index]})" if index < len(lines) else ""
            try:
                record = parse_entry(entry, self.label)
                if record.name in seen:
                    raise EntryError("name", f"duplicate of secrets[{seen[record.name]}]; names must be unique")
            except EntryError as exc:
                name = entry.get("name") if isinstance(entry, dict) and isinstance(entry.get("name"), str) else None
                label = f" '{name}'" if name else ""
                key = f" key '{exc.key}':" if exc.key else ""
                result.problems.append(f"secrets[{index}]{line}{label}:{key} {exc.problem}")
                continue
            seen[record.name] = index
            if index < len(lines):
                self.lines[record.name] = lines[index]
            result.records.append(record)
        return result

    def declared(self, name: str | None = None) -> "Declaration | None":
        """A secret is declared by its entry in the inventory file; the backend, by its config entry."""
        if name is not None and name in self.lines:
            return relative(self.config, self.path), self.lines[name]
        return super().declared(name)

    def records(self) -> Iterator[SecretRecord]:
        inventory = self.inventory()
        yield from inventory.records
        if inventory.problems:
            count = len(inventory.problems)
            raise BackendError(f"{self.shown}: {count} invalid inventory entr{'y' if count == 1 else 'ies'} "
                               f"not audited: " + "; ".join(inventory.problems) + "; fix and rerun",
                               reason="config")

    def status(self) -> BackendStatus:
        started = time.monotonic()
        status = BackendStatus(backend=self.label, type=self.type, reachable=False, identity=str(self.path),
                               auth_method="file")
        try:
            inventory = self.inventory()
        except BackendError as exc:
            status.error = str(exc)
            return status
        finally:
            status.latency_ms = (time.monotonic() - started) * 1000
        status.reachable = True
        status.warnings.extend(inventory.problems)
        if not inventory.records and not inventory.problems:
            status.warnings.append("the inventory lists no secrets")
        return status


def _settings_key(name: str, config: "Config") -> str:
    """Where this backend's settings live in the config file, for error messages."""
    if "external_secrets" in config.raw:
        return "external_secrets.generic"
    for index, entry in enumerate(config.settings.get("backends") or []):
        if entry.get("type") == TYPE and str(entry.get("name") or TYPE) == name:
            return f"backends[{index}]"
    return "backends"


def create(name: str, settings: dict[str, Any], config: "Config") -> InventoryBackend:
    return InventoryBackend(name, settings, config, _settings_key(name, config))


@hookimpl
def secretaudit_register_backends(registry: "BackendRegistry") -> None:
    registry.add(TYPE, create)
