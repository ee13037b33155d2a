"""SA501-SA503: hygiene of the configuration file itself.

The file that tells secretaudit (or OpenClaw, through its ``external_secrets``
block) where secrets live is itself a place secrets leak from.  These checks
read ``config.raw``, the file's content *before* ``${VAR}`` interpolation, so a
value taken from the environment is told apart from one written inline, and
point ``Issue.line`` at the offending key of ``config.source``.

- SA501 plain-http backend URL: any ``http://`` URL in a backend's settings
  (``backends[*]`` or ``external_secrets.<backend>``, every block of it, not
  only the selected one).  ``${VAR}`` URLs are judged by their value from the
  environment (unset: not judged).  A loopback host (``localhost``,
  ``127.0.0.0/8``, ``::1``) is still reported, at severity low: the traffic
  stays on the machine, but a config copied from a laptop ends up elsewhere.
- SA502 inline secret: a key that names a credential (``token``, ``password``,
  ``secret``, ``api_key``, ``secret_access_key``, ``access_key_id``, ``*_token``,
  ``*_password``...; camelCase and dashes too) anywhere in the tree whose
  value is written in the file.  Not reported: ``${VAR}`` (with no default, or
  an empty/placeholder one), other secret-manager references (``vault:...``,
  ``op://...``), empty values and placeholders (``changeme``, ``<token>``),
  like the SA1xx checks.  ``access_key_id`` alone is an identifier rather than a
  secret: reported at severity medium.  Evidence is redacted, never the value.
- SA503 secret cache: the cache block (``external_secrets.cache`` of an
  openclaw.yaml, or ``secret_cache``) without a positive ``max_size``, or with
  ``ttl_seconds`` above ``policy.max_cache_ttl_seconds`` (default 3600).  No
  cache block, or ``enabled: false``, is no cache and passes.
"""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING, Any, Iterator
from urllib.parse import urlsplit

from secretaudit.checks import filters
from secretaudit.controls import (
    HARDCODED_CREDENTIALS,
    ISO_A_5_17,
    ISO_A_8_24,
    NIST_IA_5,
    NIST_SC_8,
    PCI_4_2_1,
)
from secretaudit.config import interpolate
from secretaudit.declared import line_of
from secretaudit.errors import ConfigError
from secretaudit.hookspec import hookimpl
from secretaudit.model import CheckSpec, Issue, Severity, redact
from secretaudit.redact import SECRET_KEYS, SECRET_SUFFIXES, is_secret_key, shape  # noqa: F401 (re-exported)
from secretaudit.redact import snake_key as _snake
from secretaudit.stash import StashKey

if TYPE_CHECKING:
    from secretaudit.config import Config
    from secretaudit.registry import CheckRegistry

DEFAULT_MAX_CACHE_TTL_SECONDS = 3600
#: the run's effective policy.max_cache_ttl_seconds
MAX_CACHE_TTL: StashKey[int] = StashKey("max_cache_ttl_seconds")

SPECS = (
    CheckSpec(
        id="SA501", title="Backend URL over plain http", severity=Severity.HIGH,
        description="A secret backend is reached over http://: the token that authenticates secretaudit "
                    "(or OpenClaw) and every secret read cross the network unencrypted. Loopback URLs are "
                    "reported at severity low.",
        remediation="Use the backend's https:// URL (Vault: enable TLS on the listener; AWS: the default "
                    "endpoints are https) and verify its certificate.",
        tags=("config", "transport"), controls=(PCI_4_2_1, NIST_SC_8, ISO_A_8_24), applies_to=("config",)),
    CheckSpec(
        id="SA502", title="Credential written inline in the config", severity=Severity.HIGH,
        description="A token, key, secret or password is written in the configuration file instead of a "
                    "${VAR} reference, so it is committed, copied and backed up with the file.",
        remediation="Replace the value with ${VAR} (e.g. token: ${VAULT_TOKEN}), set the variable in the "
                    "environment or CI secret store, and rotate the credential that was written in the file.",
        tags=("config", "secrets"), controls=HARDCODED_CREDENTIALS, applies_to=("config",)),
    CheckSpec(
        id="SA503", title="Secret cache unbounded or long-lived", severity=Severity.MEDIUM,
        description="The cache of fetched secret values has no max_size, or keeps values longer than "
                    "policy.max_cache_ttl_seconds (default 3600): revoked or rotated secrets stay in memory "
                    "and in use.",
        remediation="Set cache.max_size to a bound and cache.ttl_seconds to at most the policy's "
                    "max_cache_ttl_seconds.",
        tags=("config", "cache"), controls=(NIST_IA_5, ISO_A_5_17), applies_to=("config",)),
)

#: Top-level settings whose keys name kinds or checks, never credentials (``policy.rotation_days.vault-token``).
NOT_CREDENTIALS = ("policy", "checks", "disable", "exclude")
#: Credential keys that identify rather than authenticate (reported at medium).
IDENTIFIER_KEYS = ("access_key_id",)

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

#: Env-var prefixes suggested for a credential under these parent keys.
_ENV_PREFIX = {"vault": "VAULT", "aws_secrets_manager": "AWS", "aws-secrets-manager": "AWS", "generic": ""}

# -- key paths and lines ---------------------------------------------------------------------


def dotted(path: tuple) -> str:
    """``("backends", 0, "url")`` -> ``backends[0].url``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _walk(node: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """Every leaf of the tree as (key path, value)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, (*path, index))
    else:
        yield path, node


def locate(config: "Config", path: tuple) -> int | None:
    """Line of ``path`` in the config file (the engine parses it once per run)."""
    return line_of(config, path)


def _resolve(value: str, config: "Config", key: str) -> str | None:
    """A string with ``${VAR}`` taken from the environment; None when a variable is unset."""
    try:
        return interpolate(value, config.source or "config", key)
    except ConfigError:
        return None


# -- SA501 ------------------------------------------------------------------------------------


def _backend_sections(raw: dict[str, Any]) -> Iterator[tuple[tuple, Any]]:
    backends = raw.get("backends")
    if isinstance(backends, list):
        for index, entry in enumerate(backends):
            yield ("backends", index), entry
    block = raw.get("external_secrets")
    if isinstance(block, dict):
        for key, value in block.items():
            if key != "cache" and isinstance(value, dict):
                yield ("external_secrets", key), value


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def sa501_plain_http(config: "Config") -> list[Issue]:
    issues = []
    for base, section in _backend_sections(config.raw):
        for path, value in _walk(section, base):
            if not isinstance(value, str):
                continue
            key = dotted(path)
            resolved = _resolve(value, config, key)
            if resolved is None or not resolved.strip().lower().startswith("http://"):
                continue
            parts = urlsplit(resolved.strip())
            host = parts.hostname or ""
            shown = f"http://{host}" + (f":{parts.port}" if parts.port else "")  # never userinfo
            names = [m.group(1) for m in _VAR.finditer(value)]
            via = f" (from ${{{names[0]}}})" if names else ""
            if _is_loopback(host):
                issues.append(Issue("SA501", f"backend URL at '{key}' is plain http to a loopback host "
                                             f"({shown}){via}: acceptable on a dev machine only; use https "
                                             f"anywhere else", evidence=shown, severity=Severity.LOW,
                                    line=locate(config, path), key=key))
            else:
                issues.append(Issue("SA501", f"backend URL at '{key}' uses plain http ({shown}){via}: the "
                                             f"token and secret metadata cross the network unencrypted; use "
                                             f"https", evidence=shown, line=locate(config, path), key=key))
    return issues


# -- SA502 ------------------------------------------------------------------------------------


def inline_secret(value: Any) -> str | None:
    """The literal credential written in ``value``, or None when it is a reference or empty."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        value = str(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    references = list(_VAR.finditer(text))
    if references:  # ${VAR}: only a non-trivial default is written inline
        for match in references:
            default = (match.group(2) or "").strip()
            if default and not filters.is_placeholder(default) and not filters.is_reference(default, literal=True):
                return default
        return None
    if filters.is_placeholder(text) or filters.is_reference(text, literal=True):
        return None
    return text


def _env_name(path: tuple, raw: dict[str, Any]) -> str:
    key = _snake(str(path[-1])).upper()
    parents = [p for p in path[:-1] if isinstance(p, str) and p not in ("backends", "external_secrets")]
    prefix = None
    if parents:
        prefix = _ENV_PREFIX.get(parents[-1], _snake(parents[-1]).upper())
    elif path[:1] == ("backends",) and len(path) > 2:
        entry = raw["backends"][path[1]] if isinstance(raw.get("backends"), list) else {}
        prefix = _ENV_PREFIX.get(str(entry.get("type", "")), "") if isinstance(entry, dict) else ""
    if prefix and not key.startswith(prefix + "_"):
        return f"{prefix}_{key}"
    return key


def sa502_inline_secret(config: "Config") -> list[Issue]:
    issues = []
    for path, value in _walk(config.raw):
        if not path or path[0] in NOT_CREDENTIALS or not is_secret_key(path[-1]):
            continue
        secret = inline_secret(value)
        if secret is None:
            continue
        key = dotted(path)
        env = _env_name(path, config.raw)
        identifier = _snake(str(path[-1])).endswith(IDENTIFIER_KEYS)
        where = "as the default of a ${VAR} reference " if "${" in str(value) else ""
        issues.append(Issue(
            "SA502", f"'{key}' is written inline {where}instead of a ${{VAR}} reference: use "
                     f"${{{env}}} and set {env} in the environment",
            evidence=redact(secret), severity=Severity.MEDIUM if identifier else None,
            line=locate(config, path), key=key))
    return issues


# -- SA503 ------------------------------------------------------------------------------------


def _cache_block(raw: dict[str, Any]) -> tuple[tuple, Any] | None:
    block = raw.get("external_secrets")
    if isinstance(block, dict) and "cache" in block:
        return ("external_secrets", "cache"), block["cache"]
    if "secret_cache" in raw:
        return ("secret_cache",), raw["secret_cache"]
    return None


def _number(value: Any, config: "Config", key: str) -> float | None | str:
    """A number from the raw value (``${VAR}`` resolved); "" when absent, None when not a number."""
    if value is None:
        return ""
    if isinstance(value, str):
        resolved = _resolve(value, config, key)
        if resolved is None:
            return ""
        try:
            return float(resolved.strip())
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def max_cache_ttl(config: "Config") -> int:
    if MAX_CACHE_TTL not in config.stash:
        policy = config.settings.get("policy") or {}
        value = policy.get("max_cache_ttl_seconds", DEFAULT_MAX_CACHE_TTL_SECONDS) if isinstance(policy, dict) \
            else DEFAULT_MAX_CACHE_TTL_SECONDS
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(config.source or "config", "policy.max_cache_ttl_seconds",
                              f"expected a whole number of seconds, 1 or more, got {shape(value)} (default "
                              f"{DEFAULT_MAX_CACHE_TTL_SECONDS})")
        config.stash[MAX_CACHE_TTL] = value
    return config.stash[MAX_CACHE_TTL]


def sa503_cache(config: "Config") -> list[Issue]:
    found = _cache_block(config.raw)
    if found is None:
        return []
    base, block = found
    if not isinstance(block, dict) or block.get("enabled") is False:
        return []
    issues = []
    limit = max_cache_ttl(config)
    size_path = (*base, "max_size")
    size = _number(block.get("max_size"), config, dotted(size_path))
    if size == "" or size is None or (isinstance(size, float) and size <= 0):
        problem = ("has no max_size" if size == "" else "max_size is not a number" if size is None
                   else "max_size is 0 or less")
        issues.append(Issue("SA503", f"secret cache at '{dotted(base)}' {problem}: the number of cached "
                                     f"secret values is unbounded; set max_size (e.g. 100)",
                            line=locate(config, size_path), key=dotted(size_path)))
    ttl_path = (*base, "ttl_seconds")
    ttl = _number(block.get("ttl_seconds"), config, dotted(ttl_path))
    if ttl is None:
        issues.append(Issue("SA503", f"'{dotted(ttl_path)}' is not a number of seconds; set it to at most "
                                     f"{limit} (policy.max_cache_ttl_seconds)",
                            line=locate(config, ttl_path), key=dotted(ttl_path)))
    elif isinstance(ttl, float) and ttl > limit:
        issues.append(Issue("SA503", f"secret cache keeps values for {ttl:g} seconds at '{dotted(ttl_path)}', "
                                     f"above the policy's {limit} (policy.max_cache_ttl_seconds): rotated or "
                                     f"revoked secrets stay in use that long",
                            line=locate(config, ttl_path), key=dotted(ttl_path)))
    return issues


# -- hooks ------------------------------------------------------------------------------------


@hookimpl
def secretaudit_register_checks(registry: "CheckRegistry") -> None:
    for spec in SPECS:
        registry.add(spec)


@hookimpl
def secretaudit_configure(config: "Config") -> None:
    config.stash.pop(MAX_CACHE_TTL, None)
    max_cache_ttl(config)


@hookimpl
def secretaudit_check_config(config: "Config") -> list[Issue]:
    return [*sa501_plain_http(config), *sa502_inline_secret(config), *sa503_cache(config)]
