"""Shared false-positive filters for the generic checks (SA102, SA103, SA104).

Every function here is pure: it looks at a candidate value (and sometimes the
line it sits on or the file name) and answers "this is not a real secret".
The generic checks find *shapes* (``password = ...``, a high-entropy string,
``scheme://user:pass@host``); what separates a leaked credential from noise
is almost always one of the cases below, so they are named, documented and
unit-tested one by one instead of being folded into the detectors' regexes:

* **placeholders** people write where a secret will go (``changeme``,
  ``your-api-key-here``, ``<password>``, ``****``, ``123456``);
* **references** to a secret kept elsewhere (``${DB_PASSWORD}``,
  ``{{ secrets.TOKEN }}``, ``os.environ["X"]``, ``settings.API_KEY``);
* **documented example keys** (AWS's ``...EXAMPLE`` / ``...EXAMPLEKEY``);
* **hashes, UUIDs, git SHAs and integrity strings**, which are random-looking
  but public by design;
* **lock files and inline images** (``data:image/png;base64,...``), whose
  high-entropy content is not secret.

Nothing here raises or logs, and no function keeps the value it is given.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from functools import lru_cache
from typing import Callable
from secretaudit.checks.lazyre import lazy_compile

__all__ = [
    "is_placeholder",
    "is_sequential",
    "is_repeated_char",
    "is_reference",
    "is_example_key",
    "is_hash",
    "is_git_sha",
    "is_uuid",
    "is_integrity_string",
    "is_data_uri",
    "is_base64_image",
    "is_lock_file",
    "is_prose",
    "is_name_like",
    "is_identifier_like",
    "is_css_color",
    "is_hex_id",
    "looks_random",
    "is_css_selector",
    "is_public_name",
    "is_form_token",
    "assigned_name",
    "is_regex",
    "is_false_positive",
    "false_positive_reason",
    "has_secret_keyword",
    "is_quoted_on",
    "first_index",
]

# -- placeholders ---------------------------------------------------------------------

#: Whole values (compared case-insensitively, trailing digits ignored) that are
#: what people type where the real secret will go, or words that are not a
#: secret at all (booleans, null).  ``test123`` and ``password1`` are included
#: through the trailing-digits rule.
PLACEHOLDER_WORDS: frozenset[str] = frozenset({
    "password", "passwd", "pass", "pwd", "passphrase", "secret", "secrets", "token", "key",
    "apikey", "changeme", "changeit", "example", "sample", "dummy", "fake", "test", "testing",
    "todo", "tbd", "fixme", "replaceme", "null", "none", "nil", "true", "false", "undefined",
    "empty", "redacted", "hidden", "masked", "placeholder", "default", "foo", "bar", "baz",
    "foobar", "value", "guest", "xxx", "mysecret", "mypassword", "secretkey", "notasecret",
    "insecure", "unset", "required", "optional", "string",
})

#: Words that carry no meaning of their own in a placeholder made of several
#: words (``your_api_key``, ``dev-secret``, ``enter-password-here``): a value
#: made only of these and at least one :data:`PLACEHOLDER_WORDS` is a placeholder.
FILLER_WORDS: frozenset[str] = frozenset({
    "your", "my", "the", "a", "an", "here", "enter", "insert", "put", "add", "replace", "paste",
    "fill", "in", "me", "with", "goes", "this", "is", "not", "set", "to", "be", "api", "app", "db",
    "database", "user", "admin", "access", "auth", "client", "private", "public", "dev", "local",
    "prod", "staging", "super", "some", "real", "actual", "new", "old", "of", "for", "s3", "aws",
    "gcp", "azure", "github", "npm", "service", "account", "bearer", "session", "jwt", "signing",
    "encryption", "master", "root", "very", "long", "random", "strong", "own", "generated",
})

#: Substrings that mark a placeholder wherever they appear (case-insensitive).
#: Kept to words that do not occur by chance in random keys.
PLACEHOLDER_SUBSTRINGS: tuple[str, ...] = (
    "xxxx", "****", "...", "…", "example", "placeholder", "changeme", "change_me", "change-me",
    "replace_me", "replace-me", "replaceme", "dummy", "redacted", "your_", "your-", "yourkey",
    "notreal", "not_real", "not-real", "insert_", "insert-", "_here", "-here", " here",
)

#: Words a letters-only value names itself with (``ABCSECRETKEY``, ``testtoken``).
SELF_NAMING_WORDS: tuple[str, ...] = ("secret", "password", "passwd", "token", "apikey", "privatekey")

#: Keyboard and alphabet runs: a value that is a run of one of these (``123456``,
#: ``abcdef``, ``qwerty``) or letters-then-digits of them (``abc123``) is not random.
SEQUENCES: tuple[str, ...] = (
    "0123456789" * 2,
    "9876543210" * 2,
    "abcdefghijklmnopqrstuvwxyz" * 2,
    "zyxwvutsrqponmlkjihgfedcba" * 2,
    "qwertyuiopasdfghjklzxcvbnm",
    "qwertzuiop",
    "azertyuiop",
    "asdfghjkl",
)

_WRAPPED = lazy_compile(r"<[^<>]*>|\{[^{}]*\}|\[[^\[\]]*\]|\([^()]*\)")  # <...> {...} [...] (...)
_WORD_SPLIT = lazy_compile(r"[-_ .:/]+")
_TRAILING_DIGITS = lazy_compile(r"(?<!\d)\d+$")  # (?<!\d): not again from every digit of a run
_ALNUM_RUNS = lazy_compile(r"[a-z]+|\d+")
_SEQUENCE_JOINERS = lazy_compile(r"[-_\s]+")
_GLUED = lazy_compile(r"(?:my|your|the|dev|test|local|default|super|some)[a-z]*?"
                    r"(?:password|passwd|secret|token|apikey|key|pass)(?:here)?\d*")


def is_repeated_char(value: str) -> bool:
    """One character repeated (``aaaa``, ``0000``, ``----``): a mask or filler, never a key."""
    return len(value) >= 2 and value == value[0] * len(value)


def is_sequential(value: str) -> bool:
    """A keyboard or alphabet run (``123456``, ``abcdef``, ``qwerty``, ``abc123``).

    The value is split into letter and digit runs (ignoring ``_``, ``-`` and
    blanks); when every run is at least three characters long and a substring
    of :data:`SEQUENCES`, the value was typed, not generated.
    """
    low = _SEQUENCE_JOINERS.sub("", value.lower())
    if len(low) < 3 or not low.isalnum() or not low.isascii():
        return False
    runs = _ALNUM_RUNS.findall(low)
    return bool(runs) and all(len(run) >= 3 and any(run in seq for seq in SEQUENCES) for run in runs)


def is_placeholder(value: str) -> bool:
    """Whether ``value`` is text standing in for a secret rather than a secret.

    Covers the words of :data:`PLACEHOLDER_WORDS` (``changeme``, ``password``,
    ``null``, ``TODO``...), multi-word fillers such as ``your_api_key`` or
    ``enter-password-here``, wrapped names (``<password>``, ``{token}``,
    ``[REDACTED]``), masks (``xxxx``, ``****``, ``sk-...``), one repeated
    character and keyboard/alphabet sequences.  The checks never report such
    values: reporting them teaches people to ignore the tool.
    """
    stripped = value.strip().strip("\"'`")
    if not stripped:
        return True
    low = stripped.lower()
    if _WRAPPED.fullmatch(stripped):
        return True
    if is_repeated_char(low) or is_sequential(low):
        return True
    if any(marker in low for marker in PLACEHOLDER_SUBSTRINGS):
        return True
    if _TRAILING_DIGITS.sub("", low) in PLACEHOLDER_WORDS:
        return True
    if low.isalpha() and any(word in low for word in SELF_NAMING_WORDS):
        return True  # "FOOBARSECRET", "mysecretpassword": a value that names itself
    words = [_TRAILING_DIGITS.sub("", w) for w in _WORD_SPLIT.split(low) if w]
    if len(words) > 1 and all(w in PLACEHOLDER_WORDS or w in FILLER_WORDS for w in words):
        return any(w in PLACEHOLDER_WORDS for w in words) or words[0] in {"your", "my", "enter", "insert"}
    if words and words[0] in {"your", "enter", "insert", "paste"} and len(words) > 1:
        return True
    # "mysupersecret", "yourtokenhere", "testpassword": a filler glued to a placeholder word
    return bool(_GLUED.fullmatch(low))


# -- references -----------------------------------------------------------------------

#: Values that *are* a reference: the whole value is one of these.
_REFERENCE_FULL: tuple[re.Pattern[str], ...] = tuple(re.compile(p, re.DOTALL) for p in (
    r"\$[A-Za-z_][A-Za-z0-9_]*",                     # $VAR (shell, PowerShell, PHP variable)
    r"\$\{.*\}",                                     # ${VAR}, ${VAR:-x}, ${{ secrets.X }}
    r"\$\(.*\)",                                     # $(command), Makefile $(VAR)
    r"`[^`]*`",                                      # `command`
    r"%\([A-Za-z_][\w.]*\)[sdrif]",                  # %(var)s
    r"%[sdrif]",                                     # %s
    r"(?:%[-\d.]*[sdrif]|\{[\w.]*\}|[\s:@/,;|-])+",  # templates of those: "%s:%s", "{}@{}"
    r"%[A-Za-z_][A-Za-z0-9_]*%",                     # %VAR% (Windows)
    r"\{[A-Za-z_0-9]?[\w.\[\]]*(?:![rsa])?(?::[^{}]*)?\}",  # {var}, {0}, {} format fields
    r"@[A-Za-z_][\w.]*@",                            # @VAR@ (autoconf, Maven filtering)
    r"![A-Za-z]+\b.*",                               # YAML tags: !Ref X, !vault |, !Sub ...
    r"[&*][A-Za-z_][\w-]*",                          # YAML anchors and aliases: &pw, *pw
    r"(?:ENC\[|vault:|ref\+|op://|arn:aws:|awskms:|gcpkms:|azurekeyvault:|sm://|ssm:|"
    r"secretsmanager:|keyvault:).*",                # sops, Bank-Vaults, vals, 1Password, ARNs
))

#: Code that computes or looks up the value: a call, subscript or attribute
#: chain made of identifiers (``os.environ["X"]``, ``get_password()``,
#: ``settings.DB_PASSWORD``, ``process.env.API_KEY``, ``System.getenv("X")``).
#: Identifier segments are capped at 40 characters so that tokens with dots
#: (JWTs) are not mistaken for attribute access.
_CODE_REFERENCE = lazy_compile(
    r"(?:new\s+|await\s+)?[A-Za-z_$@][\w$]{0,40}"
    r"(?:(?:\.|::|->|\?\.)[A-Za-z_$][\w$]{0,40}|\[[^\]\n]{0,200}\]|\((?:[^()\n]|\([^()\n]*\))*\))+!?"
)

#: Markers of interpolation anywhere in the value: the value is built from a
#: reference (``"Bearer ${TOKEN}"``, ``f"{user}:{pw}"``, ``"#{ENV['X']}"``).
INTERPOLATION_MARKERS: tuple[str, ...] = ("${", "{{", "$(", "#{", "%(", "<%", "{%")
#: A named format field inside a value (``"{prefix}-{suffix}"``, ``"{user}:{pw}"``).
_FORMAT_FIELD = lazy_compile(r"\{[A-Za-z_][\w.]*(?:![rsa])?(?::[^{}]*)?\}")


def is_reference(value: str, literal: bool = False) -> bool:
    """Whether ``value`` points at a secret kept elsewhere instead of holding one.

    Environment and template references (``${VAR}``, ``$VAR``, ``{{ secrets.X }}``,
    ``${{ secrets.X }}``, ``%(var)s``, ``{var}``, ``%VAR%``), code that looks
    the value up (``os.environ[...]``, ``os.getenv(...)``, ``process.env.X``,
    ``ENV['X']``, ``ENV.fetch(...)``, ``System.getenv(...)``, any call or
    attribute chain such as ``get_password()`` or ``settings.DB_PASSWORD``),
    secret-manager URIs (``vault:...``, ``op://...``, ``ENC[...]``) and YAML
    tags (``!Ref DbPassword``).  Such a value is the *right* way to configure a
    secret, so it must never be reported.

    ``literal`` says the value is known to be string data (quoted in code, or
    any value in a ``.env``/YAML file): call and attribute syntax is then text,
    so ``"P4ss.word"`` is not mistaken for attribute access.
    """
    stripped = value.strip()
    if not stripped:
        return False
    if any(marker in stripped for marker in INTERPOLATION_MARKERS) or _FORMAT_FIELD.search(stripped):
        return True
    if any(p.fullmatch(stripped) for p in _REFERENCE_FULL):
        return True
    return not literal and bool(_CODE_REFERENCE.fullmatch(stripped))


# -- documented example keys ------------------------------------------------------------

#: Keys published in vendor documentation; copied into countless READMEs and tests.
KNOWN_EXAMPLE_KEYS: frozenset[str] = frozenset({
    "AKIAIOSFODNN7EXAMPLE",
    "AKIAI44QH8DHBEXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
})


def is_example_key(value: str) -> bool:
    """A documented example key (AWS's ``...EXAMPLE`` / ``...EXAMPLEKEY`` and kin).

    Vendors mark their documentation keys with an upper-case ``EXAMPLE``; a
    generated key never contains that word, so the marker is enough.
    """
    return value in KNOWN_EXAMPLE_KEYS or "EXAMPLE" in value


# -- hashes, ids and integrity strings ---------------------------------------------------

#: Hex lengths of common digests: MD5, SHA-1 (and git object ids), SHA-224,
#: SHA-256, SHA-384, SHA-512.
HASH_HEX_LENGTHS: frozenset[int] = frozenset({32, 40, 56, 64, 96, 128})
#: Byte lengths of the same digests, for base64-encoded digests.
HASH_BYTE_LENGTHS: frozenset[int] = frozenset({16, 20, 28, 32, 48, 64})

_HEX = lazy_compile(r"[0-9a-fA-F]+")
_B64 = lazy_compile(r"[A-Za-z0-9+/_-]+={0,2}")
_HASH_CONTEXT = lazy_compile(
    r"md5|sha-?\d*|blake\d*|hash|digest|checksum|integrity|etag|fingerprint|commit|revision|"
    r"\brev\b|\bref\b|\boid\b|crc\d*|object_?id",
    re.IGNORECASE,
)
_SECRET_KEYWORD = lazy_compile(
    r"pass(?:wd|word|phrase)?\b|password|passwd|pwd|secret|token|api[-_.]?key|private[-_.]?key|"
    r"credential|auth(?!or)|bearer|signing[-_.]?key|access[-_.]?key"
)
_SECRET_KEYWORD_STEMS = ("pass", "pwd", "secret", "token", "key", "credential", "auth", "bearer")


@lru_cache(maxsize=8)
def has_secret_keyword(line: str) -> bool:
    """Whether ``line`` names a secret (``password``, ``token``, ``api_key``...).

    Remembered for the last few lines: the checks ask once per candidate
    value, and a long line holding many of them must not be read again for
    each (a string's hash is kept in the string, so asking again is cheap).
    """
    low = line.lower()
    for stem in _SECRET_KEYWORD_STEMS:  # a loop, not any(genexpr): 5x faster, and this runs per candidate
        if stem in low:
            return bool(_SECRET_KEYWORD.search(low))
    return False


def is_hash(value: str, line: str) -> bool:
    """A digest, not a secret: hex (or base64) of a hash length, in hash context.

    A hex string of a digest length (32, 40, 56, 64, 96 or 128 digits) is taken
    as a hash when its line says so (``sha256``, ``checksum``, ``commit``,
    ``etag``...) *or* when nothing on the line calls it a secret: ``api_key =
    "<32 hex digits>"`` is still reported, ``"d41d8cd9..."`` in a list of
    checksums is not.  A base64 string that decodes to a digest length is a
    hash only with hash context, since base64 keys of those sizes are common.
    """
    if len(value) in HASH_HEX_LENGTHS and _HEX.fullmatch(value):
        return _has_hash_context(_around(value, line)) or not has_secret_keyword(line)
    if 20 <= len(value) <= 92 and _B64.fullmatch(value) and _has_hash_context(_around(value, line)):
        try:
            raw = base64.b64decode(value.replace("-", "+").replace("_", "/") + "=" * (-len(value) % 4),
                                   validate=True)
        except (binascii.Error, ValueError):
            return False
        return len(raw) in HASH_BYTE_LENGTHS
    return False


#: Lines up to this long are searched for hash context without the value (longer ones whole: one search per line,
#: not per candidate, keeps a minified line of thousands of candidates linear).
_AROUND_MAX = 512


def _around(value: str, line: str) -> str:
    """The line without ``value``: a random secret spelling "sHA" or "Md5" says nothing about itself."""
    return line.replace(value, " ") if len(line) <= _AROUND_MAX else line


@lru_cache(maxsize=8)
def _has_hash_context(line: str) -> bool:
    """Whether ``line`` talks about hashes; remembered like :func:`has_secret_keyword`."""
    return _HASH_CONTEXT.search(line) is not None


def is_git_sha(value: str, line: str) -> bool:
    """A git object id: 40 hex digits, as a hash (see :func:`is_hash`)."""
    return len(value) == 40 and is_hash(value, line)


_UUID = lazy_compile(r"\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?")


def is_uuid(value: str) -> bool:
    """A UUID (``123e4567-e89b-12d3-a456-426614174000``): an identifier, not a key."""
    return bool(_UUID.fullmatch(value))


_INTEGRITY = lazy_compile(r"(?:sha1|sha256|sha384|sha512|md5)-[A-Za-z0-9+/]+={0,2}"
                        r"|(?:sha1|sha256|sha384|sha512|md5|blake2b):[0-9a-fA-F]+")


def is_integrity_string(value: str) -> bool:
    """Subresource-integrity (``sha512-...``) or digest strings (``sha256:<hex>``).

    package-lock.json, yarn.lock, HTML ``integrity=`` attributes and container
    image digests carry these; they hash public content.
    """
    return bool(_INTEGRITY.fullmatch(value.strip()))


#: How base64 encodings of common image formats start (PNG, JPEG, GIF, WebP,
#: SVG, XML, ICO, TIFF, PDF, WOFF2).
IMAGE_BASE64_PREFIXES: tuple[str, ...] = (
    "iVBORw0KGgo", "/9j/", "R0lGOD", "UklGR", "PHN2Zy", "PD94bWwg", "AAABAA", "SUkq",
    "TU0AK", "JVBERi0", "d09GMg",
)


def is_base64_image(value: str) -> bool:
    """Base64 of an image (or PDF, font), recognised by the encoding of its magic number."""
    return len(value) >= 16 and value.startswith(IMAGE_BASE64_PREFIXES)


def is_data_uri(value: str, line: str = "") -> bool:
    """A ``data:`` URI, or the base64 payload of one on ``line``.

    Inline images and fonts are high-entropy base64 by nature.
    """
    if value.startswith("data:"):
        return True
    if line:
        base64_at, data_at = _data_uri_marks(line)
        if base64_at != -1 and data_at != -1:
            at = first_index(line, value)
            # ";base64," and "data:" wholly before the value: their first occurrences say
            if at > 0 and base64_at + len(";base64,") <= at and data_at + len("data:") <= at:
                return True
    return is_base64_image(value)


@lru_cache(maxsize=256)
def first_index(line: str, value: str) -> int:
    """``line.find(value)``, remembered: the checks ask it of each value of a line, several times."""
    return line.find(value)


@lru_cache(maxsize=8)
def _data_uri_marks(line: str) -> tuple[int, int]:
    """Where ``;base64,`` and ``data:`` first occur on ``line`` (-1: nowhere); remembered per line."""
    return line.find(";base64,"), line.find("data:")


#: Lock files list package checksums and resolved URLs: high-entropy, public.
LOCK_FILES: frozenset[str] = frozenset({
    "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "bun.lock",
    "Pipfile.lock", "poetry.lock", "pdm.lock", "uv.lock", "Cargo.lock", "Gemfile.lock",
    "composer.lock", "go.sum", "packages.lock.json", "Podfile.lock", "Package.resolved",
    "Cartfile.resolved", "Brewfile.lock.json", "mix.lock", "flake.lock", "gradle.lockfile",
    "pubspec.lock", "conan.lock", "paket.lock", "deno.lock", "shrinkwrap.yaml",
})


def is_lock_file(path: str) -> bool:
    """Whether the file at ``path`` (any separator) is a package-manager lock file."""
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    return name in LOCK_FILES or name.endswith((".lock", ".lock.json", ".lockfile"))


# -- text that is not a secret -------------------------------------------------------------

_PROSE = lazy_compile(r"[A-Za-z][A-Za-z'’,]*(?: [A-Za-z'’,.!?:()-]+)+[.!?:]?")
_NAME_LIKE = lazy_compile(r"[a-z]+(?:[-_.][a-z]+)+|[A-Z][A-Z]*(?:_[A-Z]+)+")


def is_prose(value: str) -> bool:
    """Plain words separated by blanks (``Invalid token``, ``Enter your password``): text.

    This drops diceware pass-phrases too; they are rare in source, and the
    cost of reporting every label and error message is much higher.
    """
    return bool(_PROSE.fullmatch(value.strip()))


_IDENTIFIER_PARTS = lazy_compile(r"[-_/.:\\]+")
_CAMEL_WORDS = lazy_compile(r"[A-Z]{2,}(?![a-z])\d*|[A-Z]?[a-z]+\d*|\d+")


def is_identifier_like(value: str) -> bool:
    """A compound name (``privateKeyUsagePeriod``, ``service-role/AWSLambdaRole``).

    The value splits on separators and camelCase humps into two or more
    words averaging four letters or more, with few digits: generated keys
    split into short, digit-riddled fragments instead.
    """
    if len(value) < 8:
        return False
    words: list[str] = []
    for part in _IDENTIFIER_PARTS.split(value):
        if not part:
            continue
        found = _CAMEL_WORDS.findall(part)
        if "".join(found) != part:
            return False
        words.extend(found)
    letters = [w.rstrip("0123456789") for w in words if not w.isdigit()]
    digits = sum(c.isdigit() for c in value)
    return len(letters) >= 2 and sum(map(len, letters)) >= 4 * len(letters) and digits * 5 <= len(value)


_CSS_COLOR = lazy_compile(r"#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")


def is_css_color(value: str) -> bool:
    """A colour (``#cccccc``): style sheets assign them to ``Token`` and friends."""
    return bool(_CSS_COLOR.fullmatch(value))


#: Hex strings shorter than this, with no secret keyword on their line, are
#: identifiers (container ids, serial numbers, short commit ids, 64-bit ids).
SHORT_HEX_ID_LENGTH = 20


def is_hex_id(value: str, line: str) -> bool:
    """A short hex identifier (``e72ac664f4f0``) that nothing calls a secret."""
    return len(value) < SHORT_HEX_ID_LENGTH and bool(_HEX.fullmatch(value)) and not has_secret_keyword(line)


#: Shortest value :func:`looks_random` calls generated.
RANDOM_MIN_LENGTH = 12
#: Bits per character (Shannon) below which a value repeats too much to be generated.
RANDOM_MIN_ENTROPY = 3.0
#: A value this long with this much entropy is random even in one or two character classes (hex, digits).
RANDOM_LONG_LENGTH, RANDOM_LONG_ENTROPY = 20, 3.5


def _entropy(value: str) -> float:
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in map(value.count, set(value))) if n else 0.0


#: Digits and symbols people type for letters (``s3cr3t``, ``p@ssw0rd``), undone before looking for words.
_LEET = str.maketrans("013457@$!", "oieastasi")
#: Words that make a value typed, not generated, wherever they appear in it (after :data:`_LEET`).
TYPED_WORDS: tuple[str, ...] = ("passw", "secret", "token", "admin", "letmein", "welcome", "qwerty", "changeit",
                                "changeme", "example", "test", "dummy", "sample", "default")


def looks_random(value: str) -> bool:
    """A generated secret rather than a typed one (``Zq8vN2rT5kLw``, not ``s3cr3t`` or ``myPassword1``).

    Long enough, three character classes out of lower, upper, digit and
    symbol (or long and dense in one or two, like hex), varied characters,
    and no words: what a password manager or ``openssl rand`` produces and
    what a person writing documentation does not.  Used where a context says
    "example" (a reserved documentation host name) but the value itself
    says otherwise.
    """
    if len(value) < RANDOM_MIN_LENGTH or is_placeholder(value) or is_prose(value) or is_identifier_like(value):
        return False
    plain = value.lower().translate(_LEET)
    if any(word in plain for word in TYPED_WORDS):
        return False
    classes = (any(c.islower() for c in value) + any(c.isupper() for c in value)
               + any(c.isdigit() for c in value) + any(not c.isalnum() for c in value))
    entropy = _entropy(value)
    if classes >= 3:
        return entropy >= RANDOM_MIN_ENTROPY
    return len(value) >= RANDOM_LONG_LENGTH and entropy >= RANDOM_LONG_ENTROPY


_REGEX_MARKERS = lazy_compile(r"\(\?|\[\^|\\[dwsbDWSB]|\{\d+(?:,\d*)?\}|\[[a-zA-Z0-9]-[a-zA-Z0-9]|\)[*+?]|\.\*")


#: A string this long whose characters are all distinct is an alphabet
#: (base32, bech32, base58 tables), not a key: 32 random draws from the
#: base64 charset repeat a character with probability above 99.9%.
ALPHABET_MIN_LENGTH = 32


def is_alphabet(value: str) -> bool:
    """An encoding table such as bech32's ``qpzry9x8gf2tvdw0s3jn54khce6mua7l``."""
    return len(value) >= ALPHABET_MIN_LENGTH and len(set(value)) == len(value)


_TYPE_EXPRESSION = lazy_compile(r"[A-Za-z_][\w.]*\[[\w.\[\], |]*\]|[\w.\[\]]+(?: \| [\w.\[\], ]+)+")


def is_type_annotation(value: str) -> bool:
    """A quoted type in code: ``credential: "dict[str, str]"``, ``token: "str | None"``."""
    return _TYPE_EXPRESSION.fullmatch(value) is not None


def is_regex(value: str) -> bool:
    """A regular expression (``([a-f0-9]{48})``, ``(?:secret[-_]?key)``): a pattern, not a secret."""
    return len(_REGEX_MARKERS.findall(value)) >= 2


def is_name_like(value: str) -> bool:
    """A name made of letter-only words (``db-credentials``, ``DB_PASSWORD``).

    Kubernetes secret names, environment variable names and config keys are
    written like this; generated secrets have digits or mixed case.
    """
    return bool(_NAME_LIKE.fullmatch(value))


# -- values that are public by construction ----------------------------------------------------

_CSS_IDENT = r"-?[_a-zA-Z][\w-]{0,80}"
_CSS_SIMPLE = rf"(?:[.#]{_CSS_IDENT}|\[[^\[\]\n]{{1,80}}\]|::?[a-zA-Z-]{{1,40}}(?:\([^()\n]{{0,80}}\))?)"
_CSS_COMPOUND = rf"(?:(?:[a-zA-Z][a-zA-Z0-9]{{0,15}}|\*){_CSS_SIMPLE}{{0,12}}|{_CSS_SIMPLE}{{1,12}})"
_CSS_SELECTOR = lazy_compile(rf"{_CSS_COMPOUND}(?:(?:[ \t]{{0,4}}[>+~][ \t]{{0,4}}|[ \t]{{1,4}}){_CSS_COMPOUND}){{0,12}}")
#: HTML element names a selector starts with (``div.card``, ``input[type=password]``).
_HTML_TAG = lazy_compile(
    r"(?:a|abbr|article|aside|body|button|canvas|code|dd|details|dialog|div|dl|dt|em|fieldset|figure|footer|form|"
    r"h[1-6]|header|html|i|iframe|img|input|label|legend|li|main|nav|ol|option|p|pre|section|select|small|span|"
    r"strong|summary|svg|table|tbody|td|textarea|th|thead|tr|ul)(?=[.#\[:]|$)")
#: A class or id made of words (``.card__header--active``, ``.css-1x5jdmq``, ``#login-form``).
_CSS_WORDY = lazy_compile(r"[.#][A-Za-z][a-z]{2,}[A-Za-z]*(?:-|__)")


def is_css_selector(value: str) -> bool:
    """A CSS selector (``div.sc-bdVaJa``, ``#root > .css-1q2w3e``, ``input[type="password"]``), not a secret.

    Test code and scrapers assign selectors to ``password``/``token`` names
    (``passwordInput = "#login input[name=password]"``).  The value must
    parse as a selector *and* say so: a tag, an attribute test, a pseudo
    class, a combinator, or a class or id made of words.  ``#Pa55.w0rd``
    parses too, but says none of that, and stays a candidate.
    """
    if len(value) > 300 or value[:1] not in ".#[*:" and not _HTML_TAG.match(value):
        return False
    if not _CSS_SELECTOR.fullmatch(value):
        return False
    return bool(_HTML_TAG.match(value) or "[" in value or ":" in value or ">" in value or " " in value
                or _CSS_WORDY.search(value))


_NAME_WORDS = lazy_compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_PUBLIC_WORDS = frozenset({"public", "publishable", "pubkey", "pub"})
_SECRET_WORDS = frozenset({"secret", "private", "priv", "password", "passwd", "pwd", "credential", "credentials"})


def is_public_name(name: str) -> bool:
    """A name that says its value is public (``public_key``, ``publicToken``, ``NEXT_PUBLIC_API_KEY``).

    Public keys, publishable keys and tokens meant for browsers are random by
    nature and published on purpose.  A name that also says secret or
    private (``NEXT_PUBLIC_STRIPE_SECRET_KEY``: a leak by misconfiguration)
    is not public.
    """
    words = {w.lower() for w in _NAME_WORDS.findall(name[-120:])}
    return bool(words & _PUBLIC_WORDS) and not words & _SECRET_WORDS


#: ``name <op> "`` just before a value: the name it is assigned to (JSON, YAML, code, .env).
_ASSIGNED_NAME = lazy_compile(r"([A-Za-z_$@][\w$.@-]{0,80})[\"'`]?\]?[ \t]{0,4}(?::=|=>|=|:)[ \t]{0,4}[\"'`]?$")
_NAME_LOOKBACK = 100


def assigned_name(value: str, line: str) -> str:
    """The name ``value`` is assigned to on ``line`` (``""`` when it is not in an assignment)."""
    column = first_index(line, value)
    if column <= 0:
        return ""
    found = _ASSIGNED_NAME.search(line, max(0, column - _NAME_LOOKBACK), column)
    return found.group(1) if found else ""


#: Names of anti-forgery tokens: per-session values rendered into every form, public to the page.
_FORM_TOKEN_NAME = lazy_compile(
    r"(?:^|[^a-z])(?:csrf|xsrf|_csrf|csrfmiddlewaretoken|authenticity[_-]?token|__requestverificationtoken|"
    r"(?:csrf|xsrf|anti[_-]?forgery|request[_-]?verification)[_-]?token|_token)$",
    re.IGNORECASE,
)
_FORM_ELEMENT = lazy_compile(r"<(?:input|meta)\b", re.IGNORECASE)
_ELEMENT_NAME = lazy_compile(r"""\b(?:name|id)[ \t]{0,4}=[ \t]{0,4}["']?([\w.:-]{1,80})""", re.IGNORECASE)


def is_form_token(value: str, line: str, name: str = "") -> bool:
    """An anti-forgery (CSRF) token: under a CSRF name, or in an HTML ``<input>``/``<meta>`` named so.

    ``<input type="hidden" name="authenticity_token" value="...">`` and
    ``<meta name="csrf-token" content="...">`` are what a server renders into
    every page: high-entropy, per session, not a credential.  The secret
    that signs them (``WTF_CSRF_SECRET_KEY``) has another name and stays a
    candidate.
    """
    if name and _FORM_TOKEN_NAME.search(name):
        return True
    column = first_index(line, value)
    start = line.rfind("<", 0, column) if column > 0 else -1
    if start == -1 or not _FORM_ELEMENT.match(line, start):
        return False
    end = line.find(">", column)
    element = line[start:end if end != -1 else len(line)]
    if ">" in line[start:column]:
        return False  # the value is outside the element (text after it)
    return any(_FORM_TOKEN_NAME.search(found.group(1)) for found in _ELEMENT_NAME.finditer(element))


# -- all together ----------------------------------------------------------------------------

def is_quoted_on(value: str, line: str) -> bool:
    """Whether ``value`` appears quoted on ``line`` (so it is string data, not code)."""
    return any(f"{q}{value}{q}" in line for q in ('"', "'", "`"))


#: The value-level predicates :func:`is_false_positive` applies, in cost order.
VALUE_FILTERS: tuple[tuple[str, Callable[[str, str], bool]], ...] = (
    ("placeholder", lambda v, line: is_placeholder(v)),
    ("reference", lambda v, line: is_reference(v, literal=is_quoted_on(v, line))),
    ("example-key", lambda v, line: is_example_key(v)),
    ("uuid", lambda v, line: is_uuid(v)),
    ("integrity", lambda v, line: is_integrity_string(v)),
    ("hash", is_hash),
    ("data-uri", is_data_uri),
)


def false_positive_reason(value: str, line: str) -> str | None:
    """The name of the first filter that rejects ``value`` on ``line``, or None."""
    for name, predicate in VALUE_FILTERS:
        if predicate(value, line):
            return name
    return None


def is_false_positive(value: str, line: str) -> bool:
    """Whether any shared filter says ``value`` (found on ``line``) is not a secret.

    Placeholders, references, documented example keys, UUIDs, integrity
    strings, hashes / git SHAs and data URIs.  File-level filters (lock files)
    are separate: see :func:`is_lock_file`.
    """
    return false_positive_reason(value, line) is not None
