"""The one redaction path for every text that leaves secretaudit.

A message can pick up a credential without anybody writing it on purpose: a
backend URL with ``user:password@`` in it is quoted by "cannot connect to
URL", an HTTP library puts ``?token=...`` in its exception text, a config
error quotes the value it rejects (a token pasted where the URL belongs).
So instead of each message being careful, every message is scrubbed where
it is built, at the few roots everything passes through:

* :class:`secretaudit.model.Finding` (all results: terminal, every report
  format, baseline, cache, notify) scrubs its message and evidence;
* :class:`secretaudit.errors.UsageError` (and so :class:`ConfigError`) and
  :class:`secretaudit.backends.BackendError` scrub their text, so ``str(exc)``
  is safe wherever it is printed or wrapped (``status``, ``list``, ``get``,
  ``rotate``, the access trail, notify);
* ``status --format json`` and report metadata go through :func:`scrub_data`.

:func:`scrub` removes URL user-info (``http://***@host``), the values of
credential-looking query parameters (``?token=***``, ``X-Amz-Signature=***``),
credential headers (``X-Vault-Token: ***``, ``Authorization: Bearer ***``)
and every value registered as secret (:func:`register_secret`: the tokens and
passwords a config or a backend holds, of 8 characters or more; shorter
values such as the dev server's ``root`` token would blank ordinary words).

Configuration errors go further (:func:`scrub_config_message`): they name the
key and what is expected, never the value, because the value may be a
secret pasted in the wrong place.  :func:`register_config` records every
string the loaded configuration holds, and a config error's text has each of
them replaced by its :func:`shape` ("a 28-character string"); key names are
shown only when they look like identifiers (:func:`shown_name`,
:func:`key_path`): an unknown key may itself be a pasted token.  Plain means
lowercase words (snake, kebab or camelCase, a digit or two per word) or a
check id, at most 24 characters: every key secretaudit and OpenClaw define
has that shape, and random tokens, which mix cases and digits throughout,
do not.  A misspelt key is still shown, with a suggestion.

Everything here is cheap and imports nothing heavy: it runs for every finding.
Patterns compile on first use.
"""

from __future__ import annotations

import functools
import re
from typing import Any

#: What a hidden part is replaced with.
MASK = "***"
#: Registered secrets shorter than this are not scrubbed (they would blank ordinary words).
MIN_SECRET = 8
#: Config strings shorter than this are not scrubbed from config errors (``true``, ``10MB``).
MIN_CONFIG_VALUE = 6

#: Key names (snake_case) that hold a credential, exactly or as a suffix (SA502 uses them too).
SECRET_KEYS = frozenset({
    "token", "secret", "password", "passwd", "passphrase", "api_key", "apikey", "secret_key", "access_key",
    "secret_access_key", "access_key_id", "client_secret", "private_key", "session_token", "auth_token",
    "access_token", "refresh_token", "secret_id",
})
SECRET_SUFFIXES = ("_token", "_password", "_passwd", "_passphrase", "_secret", "_api_key", "_apikey",
                   "_secret_key", "_access_key", "_private_key", "_secret_id", "_access_key_id")

_secrets: set[str] = set()
_config_values: set[str] = set()
_config_keys: set[str] = set()

# -- patterns (compiled on first use) ----------------------------------------------------------

#: ``scheme://user:password@`` or ``scheme://token@``: everything up to the last ``@`` of the
#: authority-ish run (a password may hold ``/`` or ``@`` unencoded).  Bounded, so linear.
_USERINFO = r"\b([a-z][a-z0-9+.\-]{0,20}://)[^\s/?#@:]{0,256}(?::[^\s]{0,256})?@"
#: ``?token=...``, ``&X-Amz-Signature=...``, ``;password=...``: the value of a credential parameter.
_PARAM = (r"([?&;][a-z0-9_.\-]{0,40}?(?:token|key|secret|passw(?:or)?d|pwd|pass|sig|signature|credential|auth)"
          r"[a-z0-9_.\-]{0,40}=)[^&\s#;'\"<>]{1,4096}")
#: ``X-Vault-Token: ...``, ``Authorization: Bearer ...`` (as a header line or in a repr'd dict).
_HEADER = (r"\b(x-vault-token|x-api-key|api-key|authorization|proxy-authorization|x-amz-security-token|"
           r"private-token|x-auth-token)(['\"]?\s*[:=]\s*['\"]?)((?:bearer|basic|token|digest)\s+)?"
           r"[^\s'\",;}]{1,4096}")
#: A name shown as it is: snake/kebab/camelCase words (a digit or two allowed, ``us-east-1``), a check id,
#: an index.
_NAME = (r"(?:[a-z]+[0-9]{0,2}(?:[_-](?:[a-z]+[0-9]{0,2}|[0-9]{1,2}))*|[a-z]+[0-9]{0,2}(?:[A-Z][a-z]+[0-9]{0,2})+"
         r"|[A-Z]{2,4}[0-9]{2,4}|[0-9]{1,4})")
_NAME_MAX = 24


@functools.lru_cache(maxsize=None)
def _pattern(name: str) -> "re.Pattern[str]":
    from secretaudit import patterns

    source = {"userinfo": _USERINFO, "param": _PARAM, "header": _HEADER, "name": _NAME + r"\Z",
              "key_part": r"<a [0-9]+-character name>|[^.\[\]]+", "shaped": r"<a [0-9]+-character name>\Z",
              "camel": r"(?<=[a-z0-9])([A-Z])"}[name]
    flags = re.IGNORECASE if name in ("userinfo", "param", "header") else 0
    return patterns.compile(source, flags)


def _header(match: "re.Match[str]") -> str:
    return f"{match.group(1)}{match.group(2)}{match.group(3) or ''}{MASK}"


# -- the one path --------------------------------------------------------------------------------


def scrub(text: str) -> str:
    """``text`` without URL user-info, credential parameters and headers, or registered secrets."""
    if not text:
        return text
    for secret in tuple(_secrets):  # a copy: a backend may register while another thread scrubs
        if secret in text:
            text = text.replace(secret, MASK)
    if "@" in text:
        text = _pattern("userinfo").sub(r"\1" + MASK + "@", text)
    if "=" in text:
        text = _pattern("param").sub(r"\1" + MASK, text)
    if ":" in text or "=" in text:
        text = _pattern("header").sub(_header, text)
    return text


def scrub_data(value: Any) -> Any:
    """:func:`scrub` applied to every string in a JSON-like structure (``status --format json``)."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, list):
        return [scrub_data(v) for v in value]
    if isinstance(value, tuple):
        return tuple(scrub_data(v) for v in value)
    if isinstance(value, dict):
        return {k: scrub_data(v) for k, v in value.items()}
    return value


def register_secret(*values: Any) -> None:
    """Scrub these values (a backend's token, a password) from every message from now on."""
    for value in values:
        if isinstance(value, str):
            value = value.strip()
            if len(value) >= MIN_SECRET:
                _secrets.add(value)


# -- configuration errors ------------------------------------------------------------------------


def snake_key(key: str) -> str:
    """``secretAccessKey`` / ``secret-access-key`` -> ``secret_access_key``."""
    return _pattern("camel").sub(r"_\1", key).lower().replace("-", "_")


def is_secret_key(key: Any) -> bool:
    """Does this config key name a credential (``token``, ``db_password``, ``apiKey``...)?"""
    if not isinstance(key, str):
        return False
    name = snake_key(key)
    return name in SECRET_KEYS or name.endswith(SECRET_SUFFIXES)


def is_plain_name(name: Any) -> bool:
    """Does ``name`` look like an identifier someone typed (a key, a check id), not a pasted secret?

    Lowercase words joined by ``_``/``-`` or camelCase, a digit or two per
    word, at most 24 characters; or a check id (``SA102``).  Tokens and keys
    mix cases and digits throughout, so they fail this; a name that fails it
    is described by its shape instead of shown.
    """
    return isinstance(name, str) and 0 < len(name) <= _NAME_MAX and _pattern("name").match(name) is not None


def shape(value: Any) -> str:
    """What ``value`` is, never what it says: ``a 28-character string``, ``a list of 3 items``."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        if not value.strip():
            return "an empty string" if not value else "a blank string"
        return f"a {len(value)}-character string"
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, dict):
        return f"a mapping of {len(value)} key{'s' if len(value) != 1 else ''}"
    return f"a {type(value).__name__} value"


def shown_name(name: Any) -> str:
    """``'name'`` when it is a plain identifier (:func:`is_plain_name`), else its shape in angle brackets."""
    if is_plain_name(name):
        return repr(name)
    if isinstance(name, str):
        return _name_shape(name)
    return f"<{shape(name)}>"


def _name_shape(name: str) -> str:
    return f"<a {len(name)}-character name>"


def key_path(key: str) -> str:
    """A dotted key path (``backends[0].url``) with every part that is not a plain name replaced by its shape.

    A key the configuration holds is replaced whole first, so a pasted token
    with dots in it (``hvs.CAES...``) is one shape, not a shown prefix.
    """
    for name in sorted((k for k in tuple(_config_keys) if k in key), key=len, reverse=True):
        key = key.replace(name, _name_shape(name))

    def part(match: "re.Match[str]") -> str:
        text = match.group(0)
        return text if is_plain_name(text) or _pattern("shaped").match(text) else _name_shape(text)
    return _pattern("key_part").sub(part, key)


def register_config(data: Any, *, secret: bool = False) -> None:
    """Remember the strings a configuration holds: config errors never show them.

    Values under credential keys (and URL passwords) are also registered as
    secrets for every message (:func:`register_secret`), unless they are a
    bare ``${VAR}`` reference (the interpolated value is registered instead).
    """
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(key, str) and len(key) >= MIN_CONFIG_VALUE and not is_plain_name(key):
                _config_keys.add(key)
            register_config(value, secret=secret or is_secret_key(key))
    elif isinstance(data, list):
        for value in data:
            register_config(value, secret=secret)
    elif isinstance(data, str):
        text = data.strip()
        if len(text) >= MIN_CONFIG_VALUE and not is_plain_name(text):
            _config_values.add(text)
            if data != text:
                _config_values.add(data)
        if "${" in text:
            return
        if secret:
            register_secret(text)
        if "@" in text and "://" in text:
            for match in _pattern("userinfo").finditer(text):
                userinfo = text[match.end(1):match.end() - 1]
                register_secret(userinfo, userinfo.partition(":")[2])


def scrub_config_message(text: str) -> str:
    """:func:`scrub`, and every string of the loaded configuration replaced by its shape."""
    for value in sorted((v for v in tuple(_config_values) if v in text), key=len, reverse=True):
        text = text.replace(value, shape(value))
    return scrub(text)
