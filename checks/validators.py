"""Structural checks a regex cannot express, by name, for the rule files (SA101).

A rule file names its validator (``validator = "github-checksum"``); this
module is the registry of those names.  Each validator receives the matched
secret and its visible prefix (the literal the rule's format starts with) and
says whether the value really has the format's structure: a checksum that
matches, a header that decodes to JSON, mixed case in a random body.  They
drop look-alikes and hand-made placeholders that a charset test accepts.

Validators are pure functions of the value: no I/O, no network.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import string
import zlib
from typing import Callable, Iterable
from urllib.parse import unquote

from secretaudit.checks.lazyre import lazy_compile

#: (secret, visible prefix) -> whether the value has the format's structure.
Validator = Callable[[str, str], bool]

_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


def github_checksum(random_part: str) -> str:
    """The 6-character checksum GitHub appends to its classic tokens.

    CRC32 of the 30 random characters, base62-encoded and left-padded with
    ``0``.  Checking it drops look-alikes and hand-made placeholders that a
    charset test would accept.
    """
    value = zlib.crc32(random_part.encode("ascii"))
    digits = ""
    while value:
        value, rem = divmod(value, 62)
        digits = _BASE62[rem] + digits
    return digits.rjust(6, "0")


def github_checksum_ok(token: str) -> bool:
    """True when a ``gh?_`` token's last 6 characters are the checksum of the 30 before."""
    body = token.partition("_")[2]
    return len(body) == 36 and github_checksum(body[:30]) == body[30:]


_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _bech32_polymod(values: Iterable[int]) -> int:
    generators = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i, gen in enumerate(generators):
            if (top >> i) & 1:
                chk ^= gen
    return chk


def bech32_ok(text: str) -> bool:
    """Verify a Bech32 string's checksum (age secret keys are Bech32)."""
    text = text.lower()
    hrp, sep, data = text.rpartition("1")
    if not sep or any(c not in _BECH32 for c in data):
        return False
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    return _bech32_polymod(expanded + [_BECH32.index(c) for c in data]) == 1


def _b64decode(segment: str, urlsafe: bool = True) -> bytes | None:
    try:
        padded = segment.rstrip("=") + "=" * (-len(segment.rstrip("=")) % 4)
        if urlsafe:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None


def _b64json(segment: str, urlsafe: bool = True) -> dict | None:
    raw = _b64decode(segment, urlsafe)
    if raw is None:
        return None
    try:
        obj = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return obj if isinstance(obj, dict) else None


def jwt_ok(token: str) -> bool:
    """A JWT's header must decode to a JSON object naming its ``alg``."""
    header = _b64json(token.split(".", 1)[0])
    return header is not None and isinstance(header.get("alg"), str)


def mapbox_ok(token: str) -> bool:
    """A Mapbox token's middle segment is base64 JSON naming the user (``u``)."""
    parts = token.split(".")
    payload = _b64json(parts[1]) if len(parts) > 1 else None
    return payload is not None and "u" in payload


def sentry_ok(token: str) -> bool:
    """A Sentry org token embeds base64 JSON with its issue time (``iat``)."""
    payload = token[len("sntrys_"):].rsplit("_", 1)[0]
    obj = _b64json(payload, urlsafe=False)
    return obj is not None and "iat" in obj


def discord_ok(token: str) -> bool:
    """The first segment of a Discord bot token is the base64 of the bot's numeric id."""
    raw = _b64decode(token.split(".", 1)[0])
    return raw is not None and 17 <= len(raw) <= 20 and raw.isdigit()


def azure_sig_ok(sig: str) -> bool:
    """A SAS ``sig`` is a URL-encoded base64 HMAC-SHA256: 32 bytes."""
    raw = _b64decode(unquote(sig), urlsafe=False)
    return raw is not None and len(raw) == 32


def mixed(value: str) -> bool:
    """Upper and lower case letters and a digit or symbol: random, not an identifier."""
    return (
        any(c.isupper() for c in value)
        and any(c.islower() for c in value)
        and any(not c.isalpha() for c in value)
    )


def mixed_case(value: str) -> bool:
    """Upper and lower case letters: a random mixed-case body, not a constant name."""
    return any(c.isupper() for c in value) and any(c.islower() for c in value)


_PEM_MARKER = lazy_compile(r"-----(?:BEGIN|END) [A-Z ]+-----")
_PEM_HEADER = lazy_compile(r"^[ \t]*[A-Za-z][A-Za-z0-9-]*:.*$", re.MULTILINE)


def private_key_ok(block: str) -> bool:
    """Enough varied base64 after the markers: not ``...`` or ``<redacted>``."""
    body = _PEM_HEADER.sub("", _PEM_MARKER.sub("", block.replace("\\n", "\n").replace("\\r", "")))
    b64 = [c for c in body if c.isalnum() or c in "+/"]
    return len(b64) >= 16 and len(set(b64)) >= 10


_BASIC_USER = lazy_compile(r"[A-Za-z0-9._@+-]{1,128}")


def basic_auth_ok(value: str) -> bool:
    """An HTTP Basic credential: base64 of ``user:password`` with a real password.

    A ``Basic`` header whose value is a JWT, random bytes or ``user:password``
    itself is not a credential anyone can replay; a placeholder password
    (``user:password``, ``admin:changeme``) is not a secret.
    """
    from secretaudit.checks import filters

    raw = _b64decode(value, urlsafe=False)
    if raw is None:
        return False
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    user, sep, password = text.partition(":")
    return (bool(sep) and _BASIC_USER.fullmatch(user) is not None and len(password) >= 3
            and password.isprintable() and not filters.is_placeholder(password)
            and not filters.is_reference(password, literal=True))


def _whole(check: Callable[[str], bool]) -> Validator:
    """A validator of the whole secret (prefix included)."""
    return lambda secret, _prefix: check(secret)


def _after_prefix(check: Callable[[str], bool]) -> Validator:
    """A validator of the body after the visible prefix (``LTAI``, ``s.``)."""
    return lambda secret, prefix: check(secret[len(prefix):] if secret.startswith(prefix) else secret)


#: The names rule files may use in ``validator = "..."``.
VALIDATORS: dict[str, Validator] = {
    "github-checksum": _whole(github_checksum_ok),
    "bech32": _whole(bech32_ok),
    "jwt": _whole(jwt_ok),
    "mapbox": _whole(mapbox_ok),
    "sentry": _whole(sentry_ok),
    "discord": _whole(discord_ok),
    "azure-sas-sig": _whole(azure_sig_ok),
    "mixed": _whole(mixed),
    "mixed-case": _whole(mixed_case),
    "mixed-after-prefix": _after_prefix(mixed),
    "mixed-case-after-prefix": _after_prefix(mixed_case),
    "private-key": _whole(private_key_ok),
    "basic-auth": _whole(basic_auth_ok),
}
