"""SA104: committed credential files.

Some files exist only to hold credentials: ``.env``, SSH private keys
(``id_rsa``...), ``*.pem``/``*.key`` with a private key, ``.npmrc`` with an
auth token, ``.pypirc``, ``.netrc``, the AWS shared ``credentials`` file,
``.git-credentials``, Docker's ``config.json``, ``.htpasswd`` and ``NuGet.Config`` with a
package source password (any case of the name).  Committing
one is a finding in itself, whatever else reports the values inside: the fix
is to remove the file from the repository (and its history), rotate what it
held, and ignore it in ``.gitignore``.

A file is reported once, on the line of its first real credential (the
``BEGIN ... PRIVATE KEY`` line for key files, the ``[profile]`` line for AWS
credentials) with that credential as the secret; files whose credentials are
all empty, placeholders or references (``NPM_TOKEN=${NPM_TOKEN}``,
``.env.example``) pass.  SA102 and SA103 do not report that one value again
in that file (see :func:`claimed_secret`); SA101, which names the value's
format, is reported next to SA104 (the spec is ``reported_alongside``): the
value and the committed file are two facts with two fixes.

Speed: the decision starts from the file *name*.  :func:`kind_for` does one
dict lookup on the name, one on the extension and two ``startswith`` tests;
almost every file stops there.
"""

from __future__ import annotations

import re
from typing import Callable, NamedTuple, TYPE_CHECKING

from secretaudit.checks import filters
from secretaudit.controls import HARDCODED_CREDENTIALS
from secretaudit.hookspec import hookimpl
from secretaudit.model import CheckSpec, Detection, FileItem, Severity
from secretaudit.checks.lazyre import lazy_compile

if TYPE_CHECKING:
    from secretaudit.config import Config
    from secretaudit.registry import CheckRegistry

CHECK_ID = "SA104"

SPEC = CheckSpec(
    id=CHECK_ID,
    title="Committed credential file",
    severity=Severity.HIGH,
    description=(
        "A file whose purpose is to hold credentials is committed: .env files, SSH private keys, "
        "PEM/key files with a private key, .npmrc/.pypirc/.netrc with passwords or tokens, AWS "
        "shared credentials, .git-credentials, Docker config.json auths, .htpasswd."
    ),
    remediation=(
        "Remove the file from the repository and its history (git rm --cached, then rewrite history "
        "or treat the content as leaked), rotate every credential it held, and add its name to "
        ".gitignore. Commit a template with empty values instead (e.g. .env.example)."
    ),
    tags=("secrets", "credential-file"),
    controls=HARDCODED_CREDENTIALS,
    claims_over=("SA102", "SA103"),
    # the file being committed is the fact reported, not the value: SA101 naming the token inside a
    # .env must not fold this finding into its own (and leave SA104 passed on a credential file)
    reported_alongside=True,
)


class Claim(NamedTuple):
    """The credential that makes a file a finding: offset, value and rule."""

    offset: int
    secret: str
    rule: str

    def __repr__(self) -> str:  # never show the credential
        return f"Claim(rule={self.rule!r}, offset={self.offset})"


def _usable(value: str) -> bool:
    """A real value: not empty, a placeholder, a reference or a documented example."""
    from secretaudit.checks.generic import documented_samples

    return bool(value) and not (filters.is_placeholder(value) or filters.is_reference(value, literal=True)
                                or filters.is_example_key(value) or value in documented_samples())


def _unquote(raw: str) -> str:
    """A config value without surrounding quotes, or without a trailing `` # comment``."""
    raw = raw.strip()
    if raw[:1] in ("'", '"'):
        end = raw.find(raw[0], 1)
        return raw[1:end] if end != -1 else raw[1:]
    return re.split(r"(?<!\s)\s+[#;]", raw, maxsplit=1)[0].strip()  # (?<!\s): not again from every blank


# -- finders: text -> first Claim ---------------------------------------------------------------

_PRIVATE_KEY_BEGIN = lazy_compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")
_PEM_HEADER = lazy_compile(r"[A-Za-z][\w-]*:\s")
_BASE64_BODY = lazy_compile(r"[A-Za-z0-9+/=]{16,}")


def _private_key(rule: str) -> Callable[[str], Claim | None]:
    """A ``BEGIN ... PRIVATE KEY`` block whose body looks like a key (not ``...``)."""
    def find(text: str) -> Claim | None:
        for match in _PRIVATE_KEY_BEGIN.finditer(text):
            for body in text[match.end():match.end() + 1024].split("\n")[:8]:
                body = body.strip()
                if not body or _PEM_HEADER.match(body):
                    continue  # blank lines and Proc-Type / DEK-Info / Version headers
                if _BASE64_BODY.fullmatch(body):
                    return Claim(match.start(), body, rule)
                break
        return None
    return find


_PUTTY = lazy_compile(r"^PuTTY-User-Key-File-\d+:.*?^Private-Lines:\s*\d+\s*\n(?P<body>[A-Za-z0-9+/=]{16,})",
                    re.MULTILINE | re.DOTALL)


_PUTTY_HEADER = lazy_compile(r"^PuTTY-User-Key-File-\d+:", re.MULTILINE)


def _putty_key(text: str) -> Claim | None:
    """The key of a PuTTY file: ``_PUTTY.search(text)``, tried at the first header only.

    A later header can only reach the ``Private-Lines`` the first one
    reaches, so if the first fails they all do; the regex would scan the
    rest of the file again from each (quadratic on a file of headers).
    """
    header = _PUTTY_HEADER.search(text)
    match = _PUTTY.match(text, header.start()) if header is not None else None
    return Claim(match.start(), match.group("body"), "putty-private-key") if match else None


def _first(pattern: re.Pattern[str], rule: str | Callable[[re.Match[str]], str],
           unquote: bool = True) -> Callable[[str], Claim | None]:
    """A finder: the first match of ``pattern`` whose ``value`` group is usable."""
    def find(text: str) -> Claim | None:
        for match in pattern.finditer(text):
            value = _unquote(match.group("value")) if unquote else match.group("value")
            if _usable(value):
                offset = match.start("value") + max(match.group("value").find(value), 0)
                return Claim(offset, value, rule if isinstance(rule, str) else rule(match))
        return None
    return find


_DOTENV_LINE = lazy_compile(r"^[ \t]*(?:export[ \t]+)?(?P<key>[A-Za-z_][\w.-]*)[ \t]*=[ \t]*(?P<value>[^\n]*)$",
                          re.MULTILINE)


def _dotenv(text: str) -> Claim | None:
    """The first ``KEY=value`` with a secret-sounding key and a real value.

    A ``DATABASE_URL``-style value counts too, with its password as the credential.
    """
    from secretaudit.checks import connection_strings, generic

    for match in _DOTENV_LINE.finditer(text):
        raw = match.group("value")
        value = _unquote(raw)
        if generic.is_secret_name(match.group("key")):
            if _usable(value) and "://" not in value:
                return Claim(match.start("value") + max(raw.find(value), 0), value, "dotenv")
        elif "://" in value or ";" in value or "=" in value:
            hits = connection_strings.find_passwords(raw)
            if hits:
                return Claim(match.start("value") + hits[0].start, hits[0].password, "dotenv")
    return None


_NPMRC_RULES = {"_authtoken": "npmrc-token", "_auth": "npmrc-auth", "_password": "npmrc-password"}
_NPMRC = lazy_compile(r"^[ \t]*[^\s=#;]*?(?P<key>_authToken|_auth|_password)[ \t]*=[ \t]*(?P<value>[^\n]*)",
                    re.MULTILINE | re.IGNORECASE)
_PYPIRC = lazy_compile(r"^[ \t]*password[ \t]*[=:][ \t]*(?P<value>[^\n]*)", re.MULTILINE | re.IGNORECASE)
_NETRC = lazy_compile(r"(?:^|[ \t\n])password[ \t\n]+(?P<value>[^\s#]+)")
_AWS = lazy_compile(r"^[ \t]*aws_secret_access_key[ \t]*[=:][ \t]*(?P<value>[^\n]*)", re.MULTILINE | re.IGNORECASE)
_SECTION = lazy_compile(r"^[ \t]*\[[^\]\n]+\][ \t]*$", re.MULTILINE)


def _aws_credentials(text: str) -> Claim | None:
    """The first profile with a real ``aws_secret_access_key``, on its ``[profile]`` line.

    The profile (key id, secret, session token) is the credential; reporting
    it on its header also keeps this file-level finding apart from SA101's
    finding for the secret key itself, which the engine would otherwise merge
    (same line, same value) in favour of the more severe check.
    """
    found = _first(_AWS, "aws-credentials")(text)
    if found is None:
        return None
    headers = [m.start() for m in _SECTION.finditer(text, 0, found.offset)]
    return Claim(headers[-1] if headers else found.offset, found.secret, found.rule)


_GIT_CREDENTIALS = lazy_compile(r"^[ \t]*[A-Za-z][\w+.-]*://[^:/@\s]*:(?P<value>[^@\s]+)@", re.MULTILINE)
_DOCKER = lazy_compile(r'"(?:auth|identitytoken|registrytoken|password)"\s*:\s*"(?P<value>[^"\n]+)"',
                     re.IGNORECASE)
_HTPASSWD = lazy_compile(r"^(?![#\s])[^:\n]+:(?P<value>[^\s:]+)", re.MULTILINE)
#: NuGet package source credentials: ``<add key="ClearTextPassword" value="..."/>`` or the
#: DPAPI-encrypted ``Password`` (usable by whoever runs as that Windows user).
_NUGET = lazy_compile(r"""<add[ \t]+key[ \t]*=[ \t]*["'](?:ClearText)?Password["'][ \t]+value[ \t]*=[ \t]*["'](?P<value>[^"'\n]+)["']""",
                      re.IGNORECASE)


class Kind(NamedTuple):
    """A kind of credential file: how to find its first credential, how to call it."""

    name: str
    label: str
    find: Callable[[str], Claim | None]


DOTENV = Kind("dotenv", "Committed .env file with a secret value", _dotenv)
SSH_KEY = Kind("ssh-private-key", "Committed SSH private key", _private_key("ssh-private-key"))
KEY_FILE = Kind("private-key-file", "Committed private key file", _private_key("private-key-file"))
PUTTY = Kind("putty-private-key", "Committed PuTTY private key", _putty_key)
NPMRC = Kind("npmrc", "Committed .npmrc with a registry credential",
             _first(_NPMRC, lambda m: _NPMRC_RULES[m.group("key").lower()]))
PYPIRC = Kind("pypirc", "Committed .pypirc with a password", _first(_PYPIRC, "pypirc-password"))
NETRC = Kind("netrc", "Committed .netrc with a password", _first(_NETRC, "netrc-password", unquote=False))
AWS_CREDENTIALS = Kind("aws-credentials", "Committed AWS shared credentials file", _aws_credentials)
GIT_CREDENTIALS = Kind("git-credentials", "Committed .git-credentials with a token",
                       _first(_GIT_CREDENTIALS, "git-credentials", unquote=False))
DOCKER_CONFIG = Kind("docker-auth", "Committed Docker config with registry auth",
                     _first(_DOCKER, "docker-auth", unquote=False))
HTPASSWD = Kind("htpasswd", "Committed .htpasswd with password hashes",
                _first(_HTPASSWD, "htpasswd", unquote=False))
NUGET_CONFIG = Kind("nuget-config", "Committed NuGet.Config with a package source password",
                    _first(_NUGET, "nuget-password", unquote=False))

#: Exact file names, the fast path.
BY_NAME: dict[str, Kind] = {
    **dict.fromkeys(("id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_ecdsa_sk", "id_ed25519_sk",
                     "identity"), SSH_KEY),
    ".env": DOTENV,
    ".envrc": DOTENV,
    ".npmrc": NPMRC,
    ".pypirc": PYPIRC,
    ".netrc": NETRC,
    "_netrc": NETRC,
    "credentials": AWS_CREDENTIALS,
    ".git-credentials": GIT_CREDENTIALS,
    ".dockercfg": DOCKER_CONFIG,
    ".htpasswd": HTPASSWD,
}

#: File names matched in any case: NuGet looks for ``NuGet.Config``, ``nuget.config``, ``NuGet.config``...
BY_LOWER_NAME: dict[str, Kind] = {
    "nuget.config": NUGET_CONFIG,
}

#: Extensions (lower case) of files that hold a key or environment.
BY_EXTENSION: dict[str, Kind] = {
    **dict.fromkeys((".pem", ".key", ".p12", ".pfx", ".p8", ".keystore"), KEY_FILE),
    ".ppk": PUTTY,
    ".env": DOTENV,
}

#: Name parts that mark a committed *template* of a credential file
#: (``.env.example``, ``sample.env``), which is the right thing to commit.
TEMPLATE_MARKERS: frozenset[str] = frozenset({
    "example", "examples", "sample", "samples", "template", "templates", "tmpl", "tpl", "dist",
    "default", "defaults", "schema", "skeleton", "stub", "placeholder",
})


def _is_template(name: str) -> bool:
    return any(part.lower() in TEMPLATE_MARKERS for part in name.split(".") if part)


def kind_for(item: FileItem) -> Kind | None:
    """What kind of credential file ``item`` is, from its name alone (or None)."""
    name = item.name
    kind = BY_NAME.get(name)
    if kind is not None:
        return kind
    if name.startswith(".env."):
        return None if _is_template(name) else DOTENV
    dot = name.rfind(".")
    if dot > 0:
        kind = BY_EXTENSION.get(name[dot:].lower())
        if kind is DOTENV and _is_template(name[:dot]):
            return None
        if kind is not None:
            return kind
    if name == "config.json" and item.relpath.endswith(".docker/config.json"):
        return DOCKER_CONFIG
    return BY_LOWER_NAME.get(name.lower())


def claimed_secret(item: FileItem) -> str | None:
    """The value SA104 reports for ``item``, or None if it reports nothing.

    SA102 and SA103 leave this value, in this file, to SA104: the engine keeps
    one finding per line and secret (preferring the lower check id on a
    tie), and for a committed credential file the finding that applies is the
    file-level one, whose remediation is to remove the file.
    """
    kind = kind_for(item)
    found = kind.find(item.text) if kind is not None else None
    return None if found is None else found.secret


@hookimpl
def secretaudit_claimed_values(item: FileItem, config: "Config", check_ids: frozenset[str]) -> dict[str, list[str]] | None:
    """SA104's claim (:func:`claimed_secret`), asked by the engine's :mod:`secretaudit.claims`."""
    if CHECK_ID not in check_ids:
        return None
    claimed = claimed_secret(item)
    return {CHECK_ID: [claimed]} if claimed else None


@hookimpl
def secretaudit_register_checks(registry: "CheckRegistry") -> None:
    """Register SA104."""
    registry.add(SPEC)


@hookimpl
def secretaudit_scan_file(item: FileItem, config: "Config") -> list[Detection] | None:
    """One detection for a committed credential file, on its first credential."""
    kind = kind_for(item)
    if kind is None or not config.is_enabled(CHECK_ID):
        return None
    found = kind.find(item.text)
    if found is None:
        return None
    return [Detection(check_id=CHECK_ID, line=item.line_of(found.offset), secret=found.secret,
                      label=kind.label, visible_prefix="", rule=found.rule)]
