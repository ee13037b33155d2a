"""Configuration: find it, read it, interpolate it, validate every key.

Looked up like black and pytest do it: walking up from the working directory,
the first ``secretaudit.yaml`` / ``.secretaudit.yaml``, or ``pyproject.toml``
with a ``[tool.secretaudit]`` table, wins.  ``--config FILE`` names one
explicitly.  ``${VAR}`` and ``${VAR:-default}`` in string values are taken
from the environment.  Unknown or mistyped keys are errors that name the
file, the key and what is allowed; nothing is silently ignored.  Errors never
quote the offending value (it may be a secret pasted in the wrong place): they
describe its shape (:func:`secretaudit.redact.shape`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, NamedTuple, TYPE_CHECKING

from secretaudit.errors import ConfigError
from secretaudit.model import Severity
from secretaudit.redact import register_config, shape
from secretaudit.stash import Stash

if TYPE_CHECKING:
    import pluggy

    from secretaudit.registry import CheckRegistry, FormatRegistry

CONFIG_FILENAMES = ("secretaudit.yaml", ".secretaudit.yaml", "secretaudit.yml")
DEFAULT_BASELINE = ".secretaudit-baseline.json"

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]?i?b?)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20,
               "mb": 1 << 20, "mib": 1 << 20, "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30}


def parse_size(value: Any) -> int:
    """``10MB`` / ``512k`` / ``1048576`` to bytes."""
    if isinstance(value, bool):
        raise ValueError("expected a size such as 10MB")
    if isinstance(value, int):
        return value
    match = _SIZE.match(str(value))
    if not match or (match.group(2) or "").lower() not in _SIZE_UNITS:
        raise ValueError("expected a size (e.g. 10MB, 512KB, 1048576)")
    return int(float(match.group(1)) * _SIZE_UNITS[(match.group(2) or "").lower()])


def _severity(value: Any) -> str:
    if not isinstance(value, str) or value.strip().upper() not in Severity.__members__:
        raise ValueError(f"expected a severity (allowed: {', '.join(s.label for s in Severity)})")
    return value.strip().lower()


def _str_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("expected a list of strings")
    return list(value)


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("expected true or false")
    return value


def _workers(value: Any) -> int:
    if value == "auto":
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("expected a number of worker processes or 'auto'")
    return value


def _mapping_list(value: Any) -> list[dict]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ValueError("expected a list of mappings")
    return list(value)


#: The longest ``timeout`` accepted (a day): longer is a typo, and far longer overflows socket timeouts.
MAX_TIMEOUT_SECONDS = 86400


def parse_timeout(value: Any) -> float:
    """A timeout in seconds: finite, above 0 and at most a day (NaN, infinity and 1e308 are refused)."""
    if isinstance(value, str):  # ${VAR} interpolation gives strings
        try:
            value = float(value)
        except ValueError:
            value = None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= MAX_TIMEOUT_SECONDS:
        raise ValueError(f"expected a number of seconds above 0 and at most {MAX_TIMEOUT_SECONDS} (e.g. 30)")
    return float(value)


def _file_timeout(value: Any) -> float:
    """Seconds, finite and not negative (from YAML a number, from the command line text); 0 is no budget."""
    if isinstance(value, bool):
        raise ValueError("expected a number of seconds (0 for no limit)")
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ValueError("expected a number of seconds (0 for no limit)") from None
    if not 0 <= seconds < 1e9:  # also refuses nan and inf
        raise ValueError("expected a number of seconds from 0 (no limit) to 1e9")
    return seconds


def _mapping(value: Any) -> dict:
    if not isinstance(value, dict):
        raise ValueError("expected a mapping")
    return value


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a string")
    return value


class Setting(NamedTuple):
    """One allowed top-level key: how to parse it, its default, its help."""

    parse: Callable[[Any], Any]
    default: Any
    help: str


SETTINGS: dict[str, Setting] = {
    "fail_on": Setting(_severity, "low", "lowest severity that fails the run (info, low, medium, high, critical)"),
    "max_file_size": Setting(parse_size, 10 << 20, "files larger than this are skipped and counted (e.g. 10MB)"),
    "exclude": Setting(_str_list, [], "glob patterns of paths never scanned (e.g. 'vendor/**')"),
    "baseline": Setting(_str, DEFAULT_BASELINE, "baseline file of accepted findings, relative to the config"),
    "disable": Setting(_str_list, [], "check ids to turn off (e.g. [SA102])"),
    "prefilter": Setting(_bool, True, "skip detailed detectors on lines no cheap prefilter matches"),
    "file_timeout": Setting(_file_timeout, 30.0, "seconds the checks may spend on one file before it is skipped "
                                                 "as an error (0 = no limit)"),
    "workers": Setting(_workers, 0, "worker processes for large scans ('auto' = one per core)"),
    "checks": Setting(_mapping, {}, "per-check options, keyed by check id (e.g. SA102: {entropy_limit: 4.5})"),
    "plugins": Setting(_str_list, [], "extra plugin modules to load by import path"),
    "rules": Setting(_mapping, {}, "known-format rules (SA101): {disable: [rule ids], severity: {rule id: level}}; "
                                   "'secretaudit rules' lists the ids"),
    "cache": Setting(_bool, True, "reuse results for unchanged files (keyed by content and rules version)"),
    "backends": Setting(_mapping_list, [], "secret backends to audit: a list of {type: vault|aws-secrets-manager|"
                                           "generic, name: ..., ...type settings}"),
    "repos": Setting(_str_list, [], "repository paths 'secretaudit audit' scans besides the backends"),
    "correlate": Setting(_bool, False, "audit: compare the repositories' credentials with the backends' current and "
                                       "older values (keyed hashes in memory only; reads the values, so opt-in)"),
    "policy": Setting(_mapping, {}, "thresholds: rotation_days {kind: days}, expiry_warning_days, unused_days, "
                                    "max_cache_ttl_seconds, scopes, owners {owner: {policies, entities}}"),
    "timeout": Setting(parse_timeout, 30, "seconds a backend call may take in total (connect, answer, retries) before it "
                                         "is an error"),
    "scopes": Setting(_mapping, {}, "what the least-privilege checks inspect: {aws: {...}, github: {...}, "
                                    "databases: [...]}, or from_backends: true (or [aws, github, databases]) to take "
                                    "the AWS keys, GitHub tokens and database logins the backends hold (fetches "
                                    "their values); allowed grants live in policy.scopes"),
    "waivers": Setting(_mapping_list, [], "accepted findings: {fingerprint | check + path/secret glob, reason, by, until}"),
    "secret_cache": Setting(_mapping, {}, "cache of fetched values: {ttl_seconds, max_size} (from OpenClaw's cache block)"),
    "cache_dir": Setting(_str, "", "where the scan cache lives (default: $XDG_CACHE_HOME/secretaudit)"),
    "audit_log": Setting(_str, "", "access trail file: one JSON line per get, rotate and validate "
                                   "(default: $XDG_STATE_HOME/secretaudit/trail.jsonl)"),
    "rotation": Setting(_mapping, {}, "how 'secretaudit rotate' generates passwords: {password: {length, "
                                      "classes}} and per-kind settings"),
    "access_logs": Setting(_mapping, {}, "Vault/OpenBao file audit device logs to read, keyed by backend name "
                                         "(SA510: reads outside the owner's policy)"),
}


@dataclass
class Config:
    """The effective configuration of one run, plus per-run plugin state.

    ``settings`` holds every key of :data:`SETTINGS`, validated, with CLI
    options already applied on top of the file.  ``stash`` is where plugins
    keep per-run state (pytest's ``Stash``), so nothing lives in globals.
    """

    settings: dict[str, Any]
    source: str | None = None
    rootdir: Path = field(default_factory=Path.cwd)
    paths: list[str] = field(default_factory=list)
    staged: bool = False
    pluginmanager: "pluggy.PluginManager | None" = None
    checks: "CheckRegistry | None" = None
    formats: "FormatRegistry | None" = None
    stash: Stash = field(default_factory=Stash)
    #: the config file's content before ``${VAR}`` interpolation (hygiene checks read it)
    raw: dict[str, Any] = field(default_factory=dict)
    #: the moment date rules are judged at (``--as-of``; default: now, UTC)
    as_of: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    @property
    def prefilter(self) -> bool:
        return bool(self.settings["prefilter"])

    def check_options(self, check_id: str) -> dict[str, Any]:
        """Options given for one check under ``checks.<ID>`` (may be empty)."""
        return dict(self.settings["checks"].get(check_id) or {})

    def is_enabled(self, check_id: str) -> bool:
        return check_id not in self.settings["disable"]

    @property
    def hook(self) -> Any:
        assert self.pluginmanager is not None
        return self.pluginmanager.hook


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def interpolate(value: Any, source: str, key: str, env: dict[str, str] | None = None) -> Any:
    """Replace ``${VAR}`` / ``${VAR:-default}`` in strings, recursively."""
    env = os.environ if env is None else env
    if isinstance(value, str):
        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            raise ConfigError(source, key, f"environment variable {name} is not set (export it or use ${{{name}:-default}})")
        return _VAR.sub(substitute, value)
    if isinstance(value, list):
        return [interpolate(v, source, f"{key}[{i}]", env) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: interpolate(v, source, f"{key}.{k}", env) for k, v in value.items()}
    return value


def find_config_file(start: Path) -> Path | None:
    """Walk up from ``start`` to the first directory holding a config."""
    for directory in (start, *start.parents):
        for name in CONFIG_FILENAMES:
            candidate = directory / name
            if candidate.is_file():
                return candidate
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file() and _has_tool_table(pyproject):
            return pyproject
    return None


def _has_tool_table(pyproject: Path) -> bool:
    try:
        return "[tool.secretaudit" in pyproject.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse a YAML config or a pyproject ``[tool.secretaudit]`` table."""
    source = str(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(source, None, f"cannot read config ({exc.__class__.__name__}: {getattr(exc, 'strerror', None) or exc}); fix the file or pass --config") from None
    if path.name == "pyproject.toml":
        import tomllib

        try:
            data = tomllib.loads(raw)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(source, None, f"invalid TOML ({exc}); fix the syntax") from None
        table = data.get("tool", {}).get("secretaudit", {})
        if not isinstance(table, dict):
            raise ConfigError(source, "tool.secretaudit", "expected a table")
        return table
    import yaml

    from secretaudit.safeyaml import YAMLBomb, load

    try:
        data = load(raw)
    except YAMLBomb as exc:
        raise ConfigError(source, None, str(exc)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise ConfigError(source, None, f"invalid YAML{where}: {problem}; fix the syntax") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(source, None, "expected a mapping of settings at the top level")
    return data


#: OpenClaw's ``external_secrets`` block: the keys it may hold.
OPENCLAW_KEYS = {"enabled", "backend", "vault", "aws_secrets_manager", "generic", "cache"}
OPENCLAW_BACKENDS = {"vault": "vault", "aws-secrets-manager": "aws_secrets_manager", "generic": "generic"}
#: OpenClaw's own top-level config keys (``openclaw config schema`` of OpenClaw 2026.9.6, the version
#: tests/install_openclaw.sh pins, plus its ``$include`` directive): an openclaw.yaml may hold them,
#: and secretaudit leaves them alone.  OpenClaw's ``plugins`` is a mapping; a list there is ours.
#: tests/adversarial/test_adversarial_config.py compares this set with the installed OpenClaw's schema.
OPENCLAW_TOP_LEVEL_KEYS = frozenset({
    "$include", "$schema", "accessGroups", "acp", "agents", "approvals", "attachments", "auth", "bindings",
    "broadcast", "browser", "channels", "cloudWorkers", "commands", "cron", "desktop", "diagnostics",
    "discovery", "env", "gateway", "hooks", "logging", "mcp", "memory", "messages", "meta", "models", "nodeHost",
    "plugins", "proxy", "secrets", "security", "session", "skills", "surfaces", "talk", "telemetry", "tools",
    "transcripts", "tts", "ui", "update", "wizard", "worktreeAcceleration", "worktreeRoot",
})


def _did_you_mean(key: Any, known: Any) -> str:
    """``; did you mean 'policy'?`` for a misspelt key (only known names are shown), else ''."""
    if not isinstance(key, str):
        return ""
    import difflib

    close = difflib.get_close_matches(key.lower(), sorted(known), n=1, cutoff=0.75)
    return f"; did you mean '{close[0]}'?" if close else ""


def from_openclaw(block: Any, source: str) -> dict[str, Any]:
    """Translate an ``openclaw.yaml`` ``external_secrets`` block into our settings.

    The configured backend becomes the one entry of ``backends`` (named after
    its type); ``cache`` becomes ``secret_cache``.
    """
    if not isinstance(block, dict):
        raise ConfigError(source, "external_secrets", "expected a mapping")
    for key in block:
        if key not in OPENCLAW_KEYS:
            raise ConfigError(source, f"external_secrets.{key}",
                              f"unknown key (allowed: {', '.join(sorted(OPENCLAW_KEYS))})"
                              + _did_you_mean(key, OPENCLAW_KEYS))
    backend = block.get("backend", "vault")
    if backend not in OPENCLAW_BACKENDS:
        raise ConfigError(source, "external_secrets.backend",
                          f"expected one of {', '.join(OPENCLAW_BACKENDS)}, got {shape(backend)}")
    settings_block = block.get(OPENCLAW_BACKENDS[backend]) or {}
    if not isinstance(settings_block, dict):
        raise ConfigError(source, f"external_secrets.{OPENCLAW_BACKENDS[backend]}", "expected a mapping")
    result: dict[str, Any] = {}
    if block.get("enabled", True):
        result["backends"] = [{"type": backend, "name": backend, **settings_block}]
    if "cache" in block:
        result["secret_cache"] = block["cache"]
    return result


def from_openclaw_file(raw: dict[str, Any], source: str) -> dict[str, Any]:
    """Our settings from a whole openclaw.yaml: its ``external_secrets`` block and our own top-level keys.

    Top-level keys secretaudit knows (``policy``, ``scopes``, ``audit_log``...)
    are honoured as in secretaudit.yaml, merged with what ``external_secrets``
    gives: its backend comes first in ``backends``; ``secret_cache`` may come
    from one place only.  OpenClaw's own keys (:data:`OPENCLAW_TOP_LEVEL_KEYS`)
    are left to OpenClaw.  Anything else (``polcy:``) is an error: dropping it
    silently would turn a team's 7-day policy into the 30-day default.
    """
    result = from_openclaw(raw["external_secrets"], source)
    for key, value in raw.items():
        if key == "external_secrets":
            continue
        if key == "plugins" and isinstance(value, dict):
            continue  # OpenClaw's plugins block; ours is a list of module names
        if key in SETTINGS:
            if key == "backends" and isinstance(value, list):
                result["backends"] = [*result.get("backends", []), *value]
            elif key in result:
                raise ConfigError(source, key, "also given by the external_secrets block (its cache); set it "
                                               "in one place")
            else:
                result[key] = value
        elif key not in OPENCLAW_TOP_LEVEL_KEYS:
            raise ConfigError(source, str(key),
                              "unknown top-level key: neither external_secrets, a secretaudit setting "
                              f"({', '.join(sorted(SETTINGS))}) nor one of OpenClaw's own keys"
                              + _did_you_mean(key, SETTINGS))
    return result


def validate(raw: dict[str, Any], source: str) -> dict[str, Any]:
    """Check every key against :data:`SETTINGS`; return settings with defaults.

    Every string of ``raw`` is registered with :mod:`secretaudit.redact` first, so
    no error about it (here or in a backend's or check's own validation) can
    quote it, and values under credential keys are scrubbed from every message.
    """
    settings = {key: setting.default for key, setting in SETTINGS.items()}
    register_config(raw)
    if "external_secrets" in raw:  # an openclaw.yaml
        raw = from_openclaw_file(raw, source)
    for key, value in raw.items():
        setting = SETTINGS.get(key)
        if setting is None:
            allowed = ", ".join(sorted(SETTINGS))
            raise ConfigError(source, str(key), f"unknown setting (allowed: {allowed})" + _did_you_mean(key, SETTINGS))
        value = interpolate(value, source, key)
        register_config({key: value})  # what ${VAR} brought in: a token from the environment
        try:
            settings[key] = setting.parse(value)
        except ValueError as exc:
            raise ConfigError(source, key, f"{exc}, got {shape(value)}; {key} is {setting.help}") from None
    return settings


def load_config(explicit: str | None = None, start: Path | None = None) -> Config:
    """Find (or take ``explicit``), read and validate the configuration."""
    start = (start or Path.cwd()).resolve()
    if explicit:
        path: Path | None = Path(explicit)
        if not path.exists():
            raise ConfigError(explicit, None, "config file not found; check the --config path")
    else:
        path = find_config_file(start)
    if path is None:
        return Config(settings=validate({}, "<defaults>"), source=None, rootdir=start)
    raw = read_config_file(path)
    settings = validate(raw, str(path))
    return Config(settings=settings, source=str(path), rootdir=path.resolve().parent, raw=raw)
