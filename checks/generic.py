"""SA102: generic secrets, built on detect-secrets' plugins and filters.

Two detectors, both from detect-secrets and both well understood by the
people who will read our findings:

* **keyword assignments**: a secret-sounding name given a literal value
  (``password: ...``, ``api_key = "..."``, ``export DB_PASS=...``,
  ``<add key="ApiKey" value="..."/>``) in YAML, JSON, ``.env``, Python, JS,
  Go, Java (code and ``.properties``), shell, XML and friends.  Our extractor
  knows more names (``auth_token``, ``access_token``, ``client_secret``...)
  and more syntaxes than detect-secrets' :class:`KeywordDetector`, which is
  used as the fallback for the syntaxes only it knows (comparisons such as
  ``if password == "..."``, C++ ``secret("...")``);
* **high-entropy quoted strings**: detect-secrets' ``Base64HighEntropyString``
  and ``HexHighEntropyString`` with their default limits (4.5 and 3.0,
  configurable as ``checks: {SA102: {base64_limit: ..., hex_limit: ...}}``).

Every candidate then goes through detect-secrets' heuristic filters
(``is_sequential_string``, ``is_potential_uuid``, ``is_likely_id_string``,
``is_templated_secret``, ``is_prefixed_with_dollar_sign``,
``is_indirect_reference``, ``is_not_alphanumeric_string``, ``is_lock_file``,
``is_swagger_file``), called directly, never through detect-secrets' global
settings singleton, and through our own :mod:`secretaudit.checks.filters`.

Speed is the design constraint: importing detect-secrets costs ~150 ms (it
imports ``requests``) and its per-line regexes are slow, so the file is first
searched with C-speed primitives: one ``str.lower()`` plus a handful of
``str.find`` calls for keyword stems, and one compiled regex for quoted
strings long enough to pass an entropy limit, whose Shannon entropy is
computed here with detect-secrets' formula.  Only the lines that survive
reach detect-secrets, which is imported on first need; a clean file never
imports it.  With ``prefilter: false`` every line goes to the detailed
detectors, and the results are identical: the prefilter is sound (it can
only ever keep more lines than the detectors report on).

What is left to other checks: a value of a known credential format is still
reported (the engine keeps SA101's finding for the same secret on the same
line), but anything inside a connection string is SA103's (see
:func:`secretaudit.checks.connection_strings.regions`), and the value SA104 reports for a
committed credential file is SA104's in that file.

Beyond detect-secrets' behaviour, on purpose: hex strings shorter than 20
digits without a secret word on their line are ids, compound identifiers
(``handleAuthorizationCallback``) and plain text are not secrets, keyword
values need at least 4 characters, and a plain lower-case word is a secret
only under a password-like name.  Each rule is in :mod:`secretaudit.checks.filters` or
below, named and tested.
"""

from __future__ import annotations

import bisect
import math
import re
import string
from functools import lru_cache
from types import SimpleNamespace
from typing import Any, Iterable, Iterator, NamedTuple, TYPE_CHECKING

from secretaudit.checks import filters
from secretaudit.controls import HARDCODED_CREDENTIALS
from secretaudit import multiscan, patterns
from secretaudit.budget import TooCostly
from secretaudit.errors import ConfigError
from secretaudit.hookspec import hookimpl
from secretaudit.model import CheckSpec, Detection, FileItem, Severity, lower_keeping_offsets
from secretaudit.multiscan import PatternSet
from secretaudit.checks.lazyre import lazy_compile

if TYPE_CHECKING:
    from secretaudit.config import Config
    from secretaudit.registry import CheckRegistry

CHECK_ID = "SA102"

SPEC = CheckSpec(
    id=CHECK_ID,
    title="Generic secret",
    severity=Severity.HIGH,
    description=(
        "A secret-sounding name (password, api_key, client_secret, auth_token, ...) is assigned a "
        "literal value, or a quoted string is random enough (Shannon entropy above the base64 or hex "
        "limit) to be a key. Keyword and entropy detection come from detect-secrets; placeholders, "
        "references, hashes, UUIDs and example keys are filtered out."
    ),
    remediation=(
        "Rotate the secret, remove it from the code, and read it at runtime from a secret store or "
        "an environment variable (e.g. os.environ['API_KEY']). If the value is not a secret, waive it "
        "inline with a reason: # secretaudit: ignore[SA102] <why>."
    ),
    tags=("secrets", "generic", "entropy", "detect-secrets"),
    controls=HARDCODED_CREDENTIALS,
    references=("https://github.com/Yelp/detect-secrets",),
)

# -- options --------------------------------------------------------------------------------

DEFAULT_BASE64_LIMIT = 4.5
DEFAULT_HEX_LIMIT = 3.0

#: Option name -> the limit it sets.  ``entropy_limit`` is accepted as an alias
#: of ``base64_limit`` (the name the configuration help text uses).
OPTION_KEYS: dict[str, str] = {"base64_limit": "base64", "hex_limit": "hex", "entropy_limit": "base64"}

#: detect-secrets' charsets, mirrored so the prefilter needs no import (a test
#: asserts they are identical to the plugins' own).
BASE64_CHARSET = string.ascii_letters + string.digits + "+/" + "\\-_" + "="
HEX_CHARSET = string.hexdigits


class Limits(NamedTuple):
    """Entropy limits of one run, validated (detect-secrets allows 0 to 8)."""

    base64: float = DEFAULT_BASE64_LIMIT
    hex: float = DEFAULT_HEX_LIMIT


def limits_from(options: dict[str, Any], source: str = "<config>") -> Limits:
    """Read ``checks.SA102`` options; a wrong key or value is a :class:`ConfigError`."""
    values = {"base64": DEFAULT_BASE64_LIMIT, "hex": DEFAULT_HEX_LIMIT}
    for key, value in options.items():
        target = OPTION_KEYS.get(key)
        if target is None:
            raise ConfigError(source, f"checks.{CHECK_ID}.{key}",
                              f"unknown option (allowed: {', '.join(sorted(OPTION_KEYS))})")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 8:
            raise ConfigError(source, f"checks.{CHECK_ID}.{key}",
                              "expected a number from 0 to 8 (Shannon entropy in bits per character)")
        values[target] = float(value)
    return Limits(base64=values["base64"], hex=values["hex"])


def _limits(config: "Config") -> Limits:
    options = config.check_options(CHECK_ID)
    if not options:
        return Limits()
    return limits_from(options, config.source or "<config>")


# -- detect-secrets, imported on first need ----------------------------------------------------


@lru_cache(maxsize=1)
def _ds() -> SimpleNamespace:
    """detect-secrets' plugin classes and filter functions, imported once, lazily.

    Only classes and pure functions are taken; nothing reads or writes
    ``detect_secrets.settings`` (``analyze_string`` and the filters take
    everything as arguments).
    """
    from secretaudit.checks.deferred_import import defer, defer_package_init

    defer("requests")  # imported by detect-secrets for verification we never run: 120 ms saved
    defer_package_init("detect_secrets")  # its __init__ loads the whole scan pipeline: 30 ms saved
    defer_package_init("detect_secrets.filters")  # ... and this one every filter, for the one we use
    from detect_secrets.filters import heuristic
    from detect_secrets.plugins import keyword
    from detect_secrets.plugins.high_entropy_strings import Base64HighEntropyString, HexHighEntropyString
    from detect_secrets.util.filetype import determine_file_type

    return SimpleNamespace(
        keyword=keyword.KeywordDetector(),
        keyword_module=keyword,
        determine_file_type=determine_file_type,
        Base64=Base64HighEntropyString,
        Hex=HexHighEntropyString,
        h=heuristic,
    )


@lru_cache(maxsize=1)
def _keyword_tables() -> tuple[dict[Any, dict[re.Pattern[str], int]], dict[re.Pattern[str], int]]:
    """detect-secrets' keyword regex tables, with the same matches in linear time.

    Its regexes start with a denylisted word and ``\\w*``, tried again at
    every denylisted word inside a run of word characters: on
    ``pwdpwdpwd... == "x"`` each try scans the rest of the run (and its
    ``[^\\s]{0,50}?`` fifty more times), which took 15 s for 8 KB.  Every
    word inside one run is followed by the same rest of the run, so the
    same regex that starts only at the run's first denylisted word (found
    once, atomically) and takes the rest of the run without giving it back
    finds the same values (the test suite compares them).  Regexes built
    differently (another detect-secrets version) are kept as they are.
    """
    keyword = _ds().keyword_module
    words = "|".join(keyword.DENYLIST)
    original = f"({words})" + r"\w*"
    linear = r"(?<!\w)(?>\w*?(" + words + r"))\w*+"

    def linearized(pattern: re.Pattern[str]) -> re.Pattern[str]:
        source = pattern.pattern
        if keyword.DENYLIST_REGEX != original or keyword.DENYLIST_REGEX_WITH_PREFIX in source \
                or not source.startswith(original):
            return pattern
        return patterns.compile(linear + source[len(original):], pattern.flags)

    def table(regexes: dict[re.Pattern[str], int]) -> dict[re.Pattern[str], int]:
        return {linearized(regex): group for regex, group in regexes.items()}

    return ({filetype: table(regexes) for filetype, regexes in keyword.REGEX_BY_FILETYPE.items()},
            table(keyword.QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP))


@lru_cache(maxsize=8)
def _entropy_plugins(limits: Limits) -> tuple[Any, Any]:
    ds = _ds()
    return ds.Base64(limit=limits.base64), ds.Hex(limit=limits.hex)


# -- keyword names ------------------------------------------------------------------------------

#: Words before ``key`` that make a secret name (``api_key``, ``apiKey``, ``PRIVATE-KEY``).
#: A superset of detect-secrets' DENYLIST prefixes.
KEY_PREFIXES: tuple[str, ...] = (
    "api", "auth", "service", "account", "db", "database", "priv", "private", "client", "access",
    "secret", "encryption", "signing", "master", "app", "consumer", "license", "storage", "shared",
    "hmac", "session", "webhook", "subscription",
)
#: Words before ``token`` that make a secret name (``auth_token``, ``accessToken``).
TOKEN_PREFIXES: tuple[str, ...] = (
    "auth", "access", "refresh", "bearer", "api", "session", "oauth", "oauth2", "id", "private",
    "personal", "secret", "app", "bot", "slack", "github", "gh", "gitlab", "npm", "pypi", "vault",
    "service", "client", "security", "jwt", "deploy", "registry", "webhook", "sas", "admin", "user",
    "master", "discord", "telegram", "hf", "huggingface", "circle", "travis", "sonar", "docker",
)

_KEYWORD_NAME = lazy_compile(
    r"(?:^|_)(?:"
    r"[a-z0-9]*(?:password|passwd|passphrase)[a-z0-9]*"
    r"|pwd|(?:db|database|key|smtp|mail|ftp|admin|root|user|redis|mysql|pg|ldap|proxy|sudo|ssh|vnc|wifi)?pass"
    r"|contrase(?:ñ|n)a|credentials?|authorization"
    r"|[a-z0-9]*secret(?!ar|ion|audit)[a-z0-9]*"  # not secretary, secretion, nor our own name
    r"|(?:" + "|".join(KEY_PREFIXES) + r")_?keys?"
    r"|(?:" + "|".join(TOKEN_PREFIXES) + r")_?tokens?"
    r")(?:_|$)"
    r"|^token$"
)

#: Last words of names that are *about* a secret but do not hold one
#: (``password_hash``, ``secret_name``, ``api_key_header``, ``token_url``).
NON_SECRET_SUFFIXES: frozenset[str] = frozenset({
    "name", "names", "id", "ids", "arn", "path", "paths", "file", "filename", "files", "dir", "url",
    "uri", "urls", "endpoint", "host", "type", "types", "kind", "length", "len", "size", "min", "max",
    "count", "policy", "policies", "pattern", "regex", "re", "field", "fields", "label", "prompt",
    "placeholder", "hint", "help", "message", "msg", "error", "errors", "header", "param", "params",
    "env", "var", "variable", "ref", "reference", "version", "ttl", "expiry", "expires", "expiration",
    "expired", "at", "lifetime", "rotation", "format", "hash", "hashed", "digest", "enabled", "disabled",
    "required", "mode", "provider", "store", "manager", "backend", "source", "location", "region",
    "template", "schema", "class", "method", "prefix", "suffix", "validator", "validation", "strength",
    "rules", "rule", "reset", "changed", "updated", "created", "timeout", "retries", "attempts",
    "keyid", "selector", "input", "column", "col", "table", "index", "list", "map", "set",
    "algorithm", "algo", "alg", "scheme", "flag", "option", "options", "config", "settings", "hint",
    "description", "desc", "title", "text", "help_text", "doc", "label_text", "icon", "visible", "mask",
    "masked", "storage",
})

#: Exact names that match a keyword but are something else (``PWD`` is the
#: shell's working directory; ``passed`` tests, ``bypass`` rules).
NON_SECRET_NAMES: frozenset[str] = frozenset({
    "pwd", "oldpwd", "bypass", "passed", "passes", "compass", "passenger", "passthrough",
    "pass_through", "password_less", "passwordless", "secretary", "tokenizer", "tokens",
})

_CAMEL = lazy_compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NAME_SEPARATORS = lazy_compile(r"[^a-z0-9ñ]+")


def normalize_name(name: str) -> str:
    """``dbPassword`` / ``DB-PASSWORD`` / ``db.password`` -> ``db_password``."""
    return _NAME_SEPARATORS.sub("_", _CAMEL.sub("_", name).lower()).strip("_")


def mentions_secret(name: str) -> bool:
    """Whether a name contains a secret keyword at all (before exclusions).

    The name must also pass the prefilter's own stem test (:func:`_has_stem`),
    which keeps the prefilter sound by construction: no name it skips can be
    reported.
    """
    return _has_stem(name.lower()) and bool(_KEYWORD_NAME.search(normalize_name(name)))


def is_secret_name(name: str) -> bool:
    """Whether a variable / key name says its value is a secret.

    ``password``, ``db_pass``, ``api_key``, ``apiKey``, ``client_secret``,
    ``auth_token``, ``private_key``, ``SECRET_KEY_BASE``... but not names
    about a secret (``password_hash``, ``secret_name``, ``token_url``, see
    :data:`NON_SECRET_SUFFIXES`) or false friends (``PWD``, ``bypass``).
    """
    normalized = normalize_name(name)
    if not normalized or normalized in NON_SECRET_NAMES or not _has_stem(name.lower()):
        return False
    last = normalized.rsplit("_", 1)[-1]
    if last in NON_SECRET_SUFFIXES and not _KEYWORD_NAME.fullmatch(last):
        return False
    return bool(_KEYWORD_NAME.search(normalized))


# -- prefilter: keyword stems ----------------------------------------------------------------------

#: Lower-case substrings every keyword candidate contains: our names (see
#: :data:`_KEYWORD_NAME`) and detect-secrets' DENYLIST alike.  ``key`` alone is
#: too common, so compound keys are found through ``key`` and a look back.
KEYWORD_STEMS: tuple[str, ...] = ("pass", "pwd", "secret", "token", "credential", "contrase", "authoriz")
_KEY_LOOKBACK = lazy_compile(r"(?:" + "|".join(KEY_PREFIXES) + r")[^a-z0-9\n]{0,3}$")
#: The last letter of every key prefix: a cheap test before :data:`_KEY_LOOKBACK`.
_KEY_PREFIX_ENDINGS = frozenset(p[-1] for p in KEY_PREFIXES)

#: detect-secrets' KeywordDetector DENYLIST.
_DS_DENYLIST_WORDS = (r"(?:api|auth|service|account|db|database|priv|private|client)_?key|(?:db|database|key)_?pass|"
                      r"password|passwd|pwd|secret|contrase(?:ñ|n)a")

#: Lines detect-secrets' KeywordDetector could match, searched in the
#: lower-cased line (:func:`~secretaudit.model.lower_keeping_offsets`, not
#: IGNORECASE, whose Unicode folding differs): a superset of the shapes of all its regexes, so a line
#: this rejects is one it would return nothing for, and detect-secrets need
#: not be imported for it.  A denylisted word (with its ``\w*`` suffix, up
#: to two closing quotes or brackets, ``[0]`` or ``.assign``) followed by
#: ``:``, ``=``, ``!`` or ``(``; a comparison before one; or a quoted value
#: closed by ``;`` after one.  Half of the lines with a denylisted word in
#: code fail it (``client("secretsmanager")``); the test suite checks the
#: superset on the fixture corpus against detect-secrets itself.
#: A word of \w characters holding a denylisted word, then the syntax.  The word is found from its
#: first character, once (atomically): every denylisted word inside one \w run is followed by
#: the same rest of the run, so trying each of them again, as "(?:words)\w*" did, only costs a
#: scan of the run per occurrence (quadratic on "pwdpwdpwd..."), never changes the answer.
_DS_WORD_SHAPE = (r"(?<!\w)(?>\w*?(?:" + _DS_DENYLIST_WORDS + r"))\w*+(?:[\]'\"]{0,2}|\[[0-9]*\]|.assign)\s*[:=!(]")
#: A comparison before one; the (?![!=]) only spares the positions inside a run of "=" that
#: cannot match anyway.
_DS_COMPARISON_SHAPE = r"[!=]{2,3}(?![!=])\s*\w*(?:" + _DS_DENYLIST_WORDS + r")"
_DS_SHAPE_AT = lazy_compile(_DS_WORD_SHAPE + "|" + _DS_COMPARISON_SHAPE)
_DS_WORD_AT = lazy_compile(_DS_WORD_SHAPE)
_DS_COMPARISON = lazy_compile(_DS_COMPARISON_SHAPE)
_WORD_RUN = lazy_compile(r"\w*")
#: What every denylisted word holds: where a word shape can start is the \w run of one of these.
_DS_ANCHORS = ("key", "pass", "pwd", "secret", "contrase")
_DS_WORD = lazy_compile(_DS_DENYLIST_WORDS)
_QUOTE_SEMICOLONS = ("';", '";', "`;")


def _ds_shape(low: str) -> bool:
    """``low`` (a lower-cased line) has a shape some detect-secrets keyword regex could match.

    The third shape, a denylisted word and later a quoted value closed by
    ``;``, is a search for a word wholly before the last ``";``: the regex
    ``(?:words)[^\n]*['"`];`` scanned to the end of the line from every word.
    """
    if len(low) < LONG_LINE:
        if _DS_SHAPE_AT.search(low) is not None:
            return True
    elif _DS_COMPARISON.search(low) is not None or _ds_word_shape(low):
        return True
    last = max(low.rfind(mark) for mark in _QUOTE_SEMICOLONS)
    return last > 0 and _DS_WORD.search(low, 0, last) is not None


def _ds_word_shape(low: str) -> bool:
    """``_DS_WORD_AT.search(low)``, tried only at the start of each \\w run holding an anchor (a long line)."""
    anchors = sorted(at for anchor in _DS_ANCHORS for at in _find_all(low, anchor))
    return any(_DS_WORD_AT.match(low, start) is not None for start in _run_starts(low, anchors, _WORD_RUN))


def _run_starts(text: str, positions: list[int], run: re.Pattern[str]) -> Iterator[int]:
    """For each of ``positions`` (sorted), the start of the ``run`` of ``text`` it is in or just after.

    ``run`` is a character class repeated (``[...]*``).  A run's start is
    found by matching ``run`` backwards, in the reversed text, and each run
    only once (a position inside the run last measured is passed over), so
    this is linear in the text however many positions share a run.
    """
    reverse, size = text[::-1], len(text)
    run_end = -1
    for at in positions:
        if at < run_end:
            continue
        run_end = run.match(text, at).end()
        yield size - run.match(reverse, size - at).end()


def _find_all(text: str, word: str) -> Iterator[int]:
    at = text.find(word)
    while at != -1:
        yield at
        at = text.find(word, at + 1)


_ALNUM_LOWER = frozenset(string.ascii_lowercase + string.digits)


def _compound_key_at(low: str, at: int) -> bool:
    """Whether the ``key`` at ``low[at]`` ends a compound name (``api_key``, ``privatekey``)."""
    if at == 0:
        return False
    prev = low[at - 1]
    if prev not in _KEY_PREFIX_ENDINGS and prev in _ALNUM_LOWER:
        return False  # the cheap test: "monkey", "hotkey"
    return _KEY_LOOKBACK.search(low, max(0, at - 17), at) is not None


def _has_stem(low: str) -> bool:
    """The prefilter's test, for one lower-cased name: a stem, or a compound ``key``."""
    for stem in KEYWORD_STEMS:
        if stem in low:
            return True
    at = low.find("key")
    while at != -1:
        if _compound_key_at(low, at):
            return True
        at = low.find("key", at + 3)
    return False


#: The stems, then compound keys (what :func:`_compound_key_at` accepts), as
#: one pattern set for :func:`_keyword_line_starts`.  Every pattern ends
#: with its stem or ``key``, so its end locates the word.
_STEM_SET = PatternSet((*KEYWORD_STEMS, "(?:" + "|".join(KEY_PREFIXES) + r")[^a-zA-Z0-9\n]{0,3}key"), caseless=True)
_STEM_LENGTHS = (*map(len, KEYWORD_STEMS), len("key"))
#: The two non-ASCII characters whose lower case is ASCII (İ and the Kelvin sign K): the stems are looked
#: for in the lower-cased text, so a text holding one is searched in Python, not as one byte each.
_LOWERS_TO_ASCII = ("\u0130", "\u212a")
_KEY_INDEX = len(KEYWORD_STEMS)


def _keyword_line_starts(item: FileItem) -> set[int]:
    """Start offsets of lines that contain a keyword stem."""
    text = item.text
    starts: set[int] = set()
    rfind = text.rfind
    if multiscan.accelerates(text, _STEM_SET) and (text.isascii() or not any(c in text for c in _LOWERS_TO_ASCII)):
        taken = (0, -1)  # the line last taken: a stem repeated along one line must not rescan it per stem
        for index, end in _STEM_SET.ends(text):
            at = end - _STEM_LENGTHS[index]
            if taken[0] <= at <= taken[1]:
                continue
            if index != _KEY_INDEX or _compound_key_at(item.lowered, at):  # the set's answer, confirmed
                nl = text.find("\n", at)
                taken = (rfind("\n", 0, at) + 1, len(text) if nl == -1 else nl)
                starts.add(taken[0])
        return starts
    low = item.lowered
    for stem in KEYWORD_STEMS:
        at = low.find(stem)
        while at != -1:
            start = rfind("\n", 0, at) + 1
            starts.add(start)
            nl = low.find("\n", at)
            if nl == -1:
                break
            at = low.find(stem, nl)
    at = low.find("key")
    while at != -1:
        if _compound_key_at(low, at):
            start = rfind("\n", 0, at) + 1
            starts.add(start)
            nl = low.find("\n", at)
            if nl == -1:
                break
            at = low.find("key", nl)
        else:
            at = low.find("key", at + 3)
    return starts


# -- prefilter: entropy -----------------------------------------------------------------------------


def shannon_entropy(data: str) -> float:
    """Shannon entropy in bits per character, detect-secrets' formula.

    detect-secrets sums ``-p*log2(p)`` over the plugin's charset; every
    character of a candidate is in the charset, so summing over the
    characters present gives the same value.  Written as
    ``log2(n) - sum(c*log2(c))/n`` over the character counts ``c``, with
    ``c*log2(c)`` from a table: half the time of the per-character loop, and
    equal to detect-secrets' value to within 1e-12 (the test suite compares
    them).
    """
    length = len(data)
    if not length:
        return 0.0
    counts = map(data.count, set(data))
    if length < len(_XLOGX):
        return math.log2(length) - sum(map(_XLOGX.__getitem__, counts)) / length
    return math.log2(length) - sum(c * math.log2(c) for c in counts) / length


#: ``c * log2(c)`` for the counts of candidates up to 1 KB (0 for 0).
_XLOGX: tuple[float, ...] = (0.0, *(c * math.log2(c) for c in range(1, 1025)))


_EPSILON = 1e-6  # the prefilter's entropy may differ from detect-secrets' in the last bits


def _min_length(limit: float) -> int:
    """Shortest string that can exceed ``limit``: n distinct characters give log2(n) bits."""
    return max(1, math.floor(2 ** limit - _EPSILON))


@lru_cache(maxsize=8)
def _quoted_candidates(min_hex: int, min_base64: int) -> re.Pattern[str]:
    """Quoted hex strings of ``min_hex`` or more, or base64-charset ones of ``min_base64``.

    The closing quote is matched by lookahead, not consumed, so it can open
    the next string: every string detect-secrets' ``([\\'"])([charset]+)(\\1)``
    could report is found here too.
    """
    # One alternative per quote character rather than a back-reference:
    # the same matches, about 30% faster in CPython's engine.
    body = r"(?:[0-9a-fA-F]{%d,}|[%s]{%d,})" % (min_hex, re.escape(BASE64_CHARSET), min_base64)
    return patterns.compile(f"'{body}(?=')|\"{body}(?=\")")


_HEX_FULL = lazy_compile(r"[0-9a-fA-F]+")


def _entropy_memo(limits: Limits) -> dict[str, bool]:
    """This process's verdicts on quoted values under ``limits``: may the value be reported?

    The verdict (:func:`may_pass_entropy` and not :func:`_entropy_value_reject`)
    depends on the value and the limits only, and three quarters of the
    quoted strings of a large tree are repeats (region tables, test
    vectors), so each is worked out once.  Cleared at
    :data:`_ENTROPY_MEMO_SIZE` values, a few MB at most.
    """
    memo = _ENTROPY_MEMOS.get(limits)
    if memo is None or len(memo) >= _ENTROPY_MEMO_SIZE:
        memo = _ENTROPY_MEMOS[limits] = {}
    return memo


_ENTROPY_MEMOS: dict[Limits, dict[str, bool]] = {}
_ENTROPY_MEMO_SIZE = 50_000


def may_pass_entropy(value: str, limits: Limits, min_b64: int, min_hex: int) -> bool:
    """Cheap superset of detect-secrets' entropy decision for one quoted value."""
    n = len(value)
    entropy: float | None = None
    most = math.log2(len(set(value)))  # n distinct characters carry at most log2(n) bits
    if most <= min(limits.base64, limits.hex) - _EPSILON:
        return False
    if n >= min_b64 and most > limits.base64 - _EPSILON:
        entropy = shannon_entropy(value)
        if entropy > limits.base64 - _EPSILON:
            return True
    if n >= min_hex and _HEX_FULL.fullmatch(value):
        # detect-secrets only lowers hex entropy (for all-digit strings), never raises it
        return (entropy if entropy is not None else shannon_entropy(value)) > limits.hex - _EPSILON
    return False


_HEX_DIGITS = "0123456789abcdefABCDEF"

#: Byte classes for :func:`_quoted_spans`: quotes become ``q``, hex digits
#: ``h``, the rest of the base64 charset ``b``, everything else ``.``.
_CLASS_TABLE = bytes(
    ord("q") if chr(i) in "'\"" else ord("h") if chr(i) in _HEX_DIGITS
    else ord("b") if chr(i) in BASE64_CHARSET else ord(".") for i in range(256))


@lru_cache(maxsize=8)
def _class_runs(min_hex: int, min_b64: int) -> re.Pattern[bytes]:
    """In class space: a quote, then ``min_hex`` hex digits or ``min_b64`` charset bytes, then a quote (not consumed)."""
    return patterns.compile(b"q(?:h{%d,}|[hb]{%d,})(?=q)" % (min_hex, min_b64))


@lru_cache(maxsize=8)
def _quote_set(min_hex: int, min_b64: int) -> PatternSet:
    """A quoted run of ``min_hex`` hex digits or more, or of ``min_b64`` charset characters, per quote."""
    b64 = re.escape(BASE64_CHARSET)
    return PatternSet([f"{q}{body}{q}" for q in ("'", '"')
                       for body in (f"[0-9a-fA-F]{{{min_hex},}}", f"[{b64}]{{{min_b64},}}")])


def _quoted_spans(text: str, min_hex: int, min_b64: int) -> list[tuple[int, int]]:
    """``(quote offset, value end)`` of every match of :func:`_quoted_candidates`, in order.

    CPython's engine scans a pattern that starts with a character class at
    about 130 MB/s, so the candidate pattern is never run over the whole
    text.  With the accelerator, one pass of a pattern set finds the quoted
    runs themselves: a run holds no quote, so the one quote before a closing
    quote opened it, and the value ends at the closing quote.  Without it,
    the bytes are mapped to classes (one ``bytes.translate``), which turns
    the pattern into one that starts with a literal (a quote), found at over
    600 MB/s, and whose class runs mirror the real pattern's; the real
    pattern then runs only there.  Each non-ASCII character becomes one
    ``?`` (class ``.``, outside every charset), so offsets agree for all text.
    """
    quote_set = _quote_set(min_hex, min_b64)
    if multiscan.accelerates(text, quote_set):  # non-ASCII text too: a non-ASCII character is in no charset
        rfind = text.rfind
        return sorted({(rfind(text[end - 1], 0, end - 1), end - 1) for _index, end in quote_set.ends(text)})
    classes = text.encode("ascii", "replace").translate(_CLASS_TABLE)
    match_at = _quoted_candidates(min_hex, min_b64).match
    spans = []
    for run in _class_runs(min_hex, min_b64).finditer(classes):
        match = match_at(text, run.start())
        if match is not None:
            spans.append((run.start(), match.end()))
    return spans


def _entropy_line_starts(text: str, limits: Limits) -> set[int]:
    """Start offsets of lines with a quoted string that may be reported.

    The quoted strings come from :func:`_quoted_spans`; a line already taken
    needs no more work, and each distinct value is judged once
    (:func:`_entropy_memo`), so what is left per string is the part of the
    filters that reads its line.
    """
    min_b64, min_hex = _min_length(limits.base64), _min_length(limits.hex)
    starts: set[int] = set()
    rfind, find = text.rfind, text.find
    memo = _entropy_memo(limits)
    line_start, line_end, line = 0, -1, ""  # the line of the last string judged against its line
    judged = 0  # strings judged against that line
    for at, value_end in _quoted_spans(text, min_hex, min_b64):
        if not line_start <= at <= line_end:
            nl = find("\n", value_end)
            line_start, line_end, line, judged = rfind("\n", 0, at) + 1, len(text) if nl == -1 else nl, "", 0
        if line_start in starts:
            continue
        value = text[at + 1:value_end]
        verdict = memo.get(value)
        if verdict is None:
            verdict = memo[value] = (may_pass_entropy(value, limits, min_b64, min_hex)
                                     and not _entropy_value_reject(value))
        if verdict:
            judged += 1
            if judged > MAX_LINE_JUDGEMENTS:
                starts.add(line_start)  # a superset is sound: the detailed pass decides
                continue
            line = line or text[line_start:line_end]
            if not _entropy_line_reject(value, line):
                starts.add(line_start)
    return starts


#: Strings of one line the prefilter judges against the line (each costs a
#: read of the line) before it hands the whole line to the detailed pass.
MAX_LINE_JUDGEMENTS = 32


# -- keyword extraction ----------------------------------------------------------------------------

#: Extensions of code, where an unquoted value is an expression (a variable,
#: a call), never a literal.  Everything else (YAML, .env, properties, INI,
#: TOML, shell, Dockerfiles, files without extension) takes unquoted literals.
CODE_EXTENSIONS: frozenset[str] = frozenset({
    "py", "pyi", "pyw", "ipynb", "js", "mjs", "cjs", "jsx", "ts", "mts", "cts", "tsx", "vue", "svelte",
    "go", "java", "kt", "kts", "scala", "groovy", "gradle", "rb", "php", "cs", "fs", "vb", "c", "h",
    "cc", "cpp", "cxx", "hpp", "hh", "m", "mm", "swift", "rs", "dart", "lua", "pl", "pm", "r", "jl",
    "ex", "exs", "erl", "clj", "cljs", "json", "jsonc", "json5", "tf", "tfvars", "hcl", "ps1", "psm1",
    "md", "markdown", "rst", "txt", "html", "htm", "adoc", "sql", "graphql", "proto", "css", "scss",
})

_QUOTED = r"(?:[rRbBuUfF]{1,2}|@|\$)?(?P<q>[\"'`])(?P<qv>(?:\\.|(?!(?P=q))[^\\\n])*)(?P=q)"
_UNQUOTED = r"(?P<uv>[^\s\"'`][^\s\"'`]*)"

#: A key: a name character run's first name, to the end of the run.  Every
#: key starting inside one run (``a-b-c``: at ``a``, ``b`` and ``c``) is
#: followed by the same text, so they all match or all fail: only the first
#: is tried (atomically), which keeps the search linear on runs like
#: ``a-b-c-d...``.  The first is at the run's start, unless a digit, dot or
#: ``::`` rules that out; then after its first ``-`` that is followed by a letter.
_KEY_START = r"(?<![\w.$@-])(?>(?<!::)(?=[A-Za-z_$@])|(?:[\w.$@]*-)+?(?=[A-Za-z_$@]))"
_KEY_NAME = r"[A-Za-z_$@][\w.$@-]*+"
_AFTER_KEY = r"(?:[\"'`]?\]?)[ \t]*"
_ANNOTATION = r":[ \t]*[A-Za-z_][\w\[\]., |]*+[ \t]*(?==)"
#: A key holding a keyword stem, or ``key`` (case-insensitive: a superset of :func:`mentions_secret`).
_STEMMED = r"(?=[\w.$@-]*?(?i:" + "|".join(KEYWORD_STEMS) + r"|key))"

#: Assignment syntaxes: ``name <op> value``.  ``op`` is ``=``, ``:``, ``:=``,
#: ``=>`` or ``<-`` but not a comparison; an optional type annotation
#: (``password: str = "..."``) and closing quote/bracket after the name are
#: skipped.  The match ends with the operator (the value is a look-ahead,
#: its groups kept), so a search goes on where the next key can start.
#:
#: Only two kinds of assignment are matched at all: a key that may mention
#: a secret (:data:`_STEMMED`), and a key with a type annotation, whose
#: annotation (``x: Token = ...``) must be stepped over, not read as a key.
#: Any other assignment is one the caller would step over anyway, and the
#: text it spans holds no other key start, so leaving it out changes
#: nothing; in minified code it is nearly every ``a=b`` and ``a:b``, and
#: matching each one cost SA102 most of its time on a tree of JavaScript.
_ASSIGNMENT = lazy_compile(
    _KEY_START
    + r"(?P<key>(?>" + _STEMMED + _KEY_NAME + "|" + _KEY_NAME + "(?=" + _AFTER_KEY + _ANNOTATION + ")))"
    + _AFTER_KEY + "(?:" + _ANNOTATION + ")?"
    + r"(?P<op>:=|=>|<-|=(?![=~>])|:(?![:=]))(?=[ \t]*(?:" + _QUOTED + r"|(?P<uv>[^\s\"'`])))"
)
#: The rest of an unquoted value, read only for the assignments reported: the look-ahead takes its
#: first character, since reading it whole for every match was quadratic on a minified line (no blank,
#: thousands of ``a=b``, each value read to the line's end).
_UNQUOTED_REST = lazy_compile(r"[^\s\"'`]*")


def _unquoted_value(line: str, match: re.Match[str]) -> str:
    """The whole unquoted value of an :data:`_ASSIGNMENT` match (``uv`` holds its first character)."""
    start = match.start("uv")
    end = _UNQUOTED_REST.match(line, start + 1)
    return line[start:end.end() if end is not None else start + 1]


def _value_end(line: str, match: re.Match[str]) -> int:
    """Where the value of an :data:`_ASSIGNMENT` match ends (after its closing quote)."""
    if match.group("qv") is not None:
        return match.end("qv") + 1
    return match.start("uv") + len(_unquoted_value(line, match))


#: XML elements and .NET ``appSettings``: ``<password>v</password>``,
#: ``<add key="ApiKey" value="v"/>``.
_XML_ELEMENT = lazy_compile(r"<(?P<key>[\w.:-]+)(?:\s[^<>]*)?>(?P<qv>[^<>\n]+)</(?P=key)>")
_XML_KEY_VALUE = lazy_compile(
    r"""(?:key|name)\s*=\s*(?P<q0>["'])(?P<key>[^"'\n]+)(?P=q0)\s+value\s*=\s*(?P<q>["'])(?P<qv>[^"'\n]*)(?P=q)""",
    re.IGNORECASE,
)
#: What :data:`_XML_KEY_VALUE` needs, found fast (a search that starts with a class of two letters skips
#: to them; the whole pattern, case-insensitive and starting with an alternation, tried every position).
_XML_VALUE_ATTRIBUTE = lazy_compile(r"[vV][aA][lL][uU][eE]\s*=")
_AUTH_SCHEME = lazy_compile(r"(?:Bearer|Basic|Token|token|Digest|ApiKey|Apikey|apikey)(?:\s+|$)")

#: Values shorter than this are flags and test fixtures, not credentials.
MIN_KEYWORD_VALUE_LENGTH = 4


class Candidate(NamedTuple):
    """A value found on a line, before filtering: where, what, under which name."""

    column: int
    value: str
    key: str
    literal: bool  # string data for sure (quoted, or in a config file)
    rule: str

    def __repr__(self) -> str:  # never show the value
        return f"Candidate(rule={self.rule!r}, key={self.key!r}, column={self.column})"


#: Lines at least this long are read from their candidate key starts only (:func:`_key_candidates`), not
#: searched position by position: 3-4x faster from 256 characters (minified code, where the search was
#: most of SA102's time); below 64 one search costs less than finding the candidates.
LONG_LINE = 64

#: A name run from where it is matched; in a reversed line, a run from its end back to its start.
_RUN = lazy_compile(r"[\w.$@-]*")
#: The colon of a type annotation (what :data:`_ANNOTATION` needs after it).
_ANNOTATION_COLON = lazy_compile(r":(?=[ \t]*[A-Za-z_][\w\[\]., |]*+[ \t]*=)")


def _key_candidates(line: str) -> list[int]:
    """Where an :data:`_ASSIGNMENT` match can start on ``line``: a superset, in order.

    A match starts at the start of the name run of its key, and its key
    holds a keyword stem or is followed by a type annotation.  So: the run
    start of every stem (found in the lower-cased line; a key whose stem only
    case folding finds is not one :func:`mentions_secret` accepts, and matters
    only with an annotation), and of the key before every annotation colon.
    Linear in the line.
    """
    low = lower_keeping_offsets(line)
    positions = [at for stem in (*KEYWORD_STEMS, "key") for at in _find_all(low, stem)]
    for colon in _ANNOTATION_COLON.finditer(line):
        end = colon.start()  # back over the blanks, bracket and quote _AFTER_KEY allows: the key's run ends there
        while end and line[end - 1] in " \t":
            end -= 1
        if end and line[end - 1] == "]":
            end -= 1
        if end and line[end - 1] in "\"'`":
            end -= 1
        positions.append(end)
    return sorted(set(_run_starts(line, sorted(positions), _RUN)))


def secret_assignments(line: str, long_line: int = LONG_LINE) -> Iterator[re.Match[str]]:
    """The :data:`_ASSIGNMENT` matches on ``line`` whose key mentions a secret, as a reading from the left finds them.

    After such an assignment the reading goes on after its value; after any
    other, after its operator: the value may hold one
    (``url = "https://h/?api_key=..."``).  After ``<-`` it goes on from the
    ``-``, where the value's name run starts.  A line of ``long_line``
    characters or more is tried only at :func:`_key_candidates`, in order,
    which finds the same matches.
    """
    candidates = _key_candidates(line) if len(line) >= long_line else None
    pos = tried = 0  # tried: candidates before it are behind the reading
    while True:
        if candidates is None:
            match = _ASSIGNMENT.search(line, pos)
        else:
            match = None
            tried = bisect.bisect_left(candidates, pos, tried)
            while match is None and tried < len(candidates):
                match = _ASSIGNMENT.match(line, candidates[tried])
                tried += 1
        if match is None:
            return
        if mentions_secret(match.group("key")):
            yield match
            pos = _value_end(line, match)
        else:
            pos = match.end("op") - 1 if match.group("op") == "<-" else match.end("op")


def _assignments(line: str, code: bool) -> tuple[list[Candidate], bool]:
    """Keyword assignments on ``line``, and whether the line had any keyword assignment.

    The second value is True when a secret-sounding name is assigned at all,
    even to an expression or under an excluded name: such a line is explained
    and needs no detect-secrets fallback.
    """
    found: list[Candidate] = []
    explained = False
    for match in secret_assignments(line):
        key = match.group("key")
        explained = True
        if not is_secret_name(key):
            continue
        in_query = match.start("key") > 0 and line[match.start("key") - 1] in "?&"
        if match.group("qv") is not None:
            value, column = match.group("qv"), match.start("qv")
        elif code and not in_query:
            continue  # an expression: a variable, a call, a reference
        else:  # a config value, or a URL query parameter (text even inside code)
            value, column = _unquoted_value(line, match), match.start("uv")
            value = re.split(r"[&#]", value, maxsplit=1)[0] if in_query else value.rstrip(",;)}]")
            if value[:1] in ("-", "=", "?", "+") and line[max(0, match.start("key") - 2):match.start("key")] == "${":
                value, column = value[1:], column + 1  # ${NAME:-default}: the default, without the operator
        scheme = _AUTH_SCHEME.match(value)
        if scheme:  # "Authorization: Bearer <token>": the token is the secret
            column, value = column + scheme.end(), value[scheme.end():]
            if scheme.group().lower().startswith("basic") and not _basic_credential(value):
                continue  # not base64 of user:password (a JWT, a placeholder): no Basic credential
        found.append(Candidate(column, value, key, True, "keyword"))
    markup = ([_XML_KEY_VALUE] if _XML_VALUE_ATTRIBUTE.search(line) else []) + ([_XML_ELEMENT] if "</" in line else [])
    for pattern in markup:
        for match in pattern.finditer(line):
            key = match.group("key")
            if not mentions_secret(key):
                continue
            explained = True
            if is_secret_name(key.rsplit(":", 1)[-1]):
                found.append(Candidate(match.start("qv"), match.group("qv").strip(), key, True, "keyword"))
    return found, explained


def _basic_credential(value: str) -> bool:
    """Whether a ``Basic`` header value is base64 of ``user:password`` with a real password."""
    from secretaudit.checks.validators import basic_auth_ok

    return basic_auth_ok(value)


#: Syntaxes only detect-secrets' KeywordDetector handles: comparisons
#: (``if password == "..."``, ``"..." != secret``), C++ constructors and
#: ``assign`` (``std::string secret("...")``), ``private_key "...";``.
#: Every branch starts with one of a few characters, so the search skips
#: to them; the call's ``\w(?:\.assign)?`` is a look-behind from its ``(``
#: (as the first item it made every word character a place to try).
_FALLBACK_SYNTAX = lazy_compile(r"[=!]==?|\((?:(?<=\w\()|(?<=\w\.assign\())\s*\"|[\"'`]\s*;")

#: Name words that say "this is a password", under which a plain lower-case
#: word is still reported (``password = "letmein"``); under other names  secretaudit: ignore[SA102] documentation example
#: (``token: "context"``, ``mode == "warn"``) such a word is a label.
_PASSWORD_NAME = lazy_compile(r"password|passwd|passphrase|pwd|contrase")
_LOWER_WORD = lazy_compile(r"[a-z]+")
_TRAILING_COMMENT = lazy_compile(r"(?<!\s)\s+#|(?<!\s)\s+//|;\s*$")  # (?<!\s): not again from every blank


_OWN_NAME = lazy_compile(r"secretaudit", re.IGNORECASE)


def _ds_keyword_fallback(line: str, filename: str) -> list[Candidate]:
    """detect-secrets' KeywordDetector, for syntaxes our extractor does not know."""
    ds = _ds()
    by_filetype, default = _keyword_tables()
    regexes = by_filetype.get(ds.determine_file_type(filename), default)
    found = []
    # its keyword "secret" is also the start of our own name (SECRETAUDIT_ARGS, "secretaudit==1.0", the
    # waiver comment "# secretaudit: ignore[...]"): hide that word, keeping every column where it is
    masked = _OWN_NAME.sub(lambda m: "_" * len(m.group()), line) if "ecretaudit" in line.lower() else line
    for value in ds.keyword.analyze_string(masked, denylist_regex_to_group=regexes):
        # unquoted config values run to the end of the line: drop a trailing comment
        value = _TRAILING_COMMENT.split(value.strip(), maxsplit=1)[0].strip()
        column = masked.find(value)
        if column >= 0 and masked is not line:  # the value as written, not as masked ("secretaudit-42" stays)
            value = line[column:column + len(value)]
        column = line.find(value) if column < 0 else column
        literal = filters.is_quoted_on(value, line)
        found.append(Candidate(max(column, 0), value, "", literal, "keyword"))
    return found


# -- filtering ---------------------------------------------------------------------------------------


#: detect-secrets' ``is_likely_id_string`` regex, ``(^(id|myid|userid)|_id)s?[^a-z0-9]``, in its two parts.
_ID_AT_START = lazy_compile(r"(?:id|myid|userid)s?[^a-z0-9]", re.IGNORECASE)
_ID_ANYWHERE = lazy_compile(r"_ids?[^a-z0-9]", re.IGNORECASE)
#: Where one entry of a one-line JSON or query string ends and the next begins.
_SEGMENT_SEPARATORS = lazy_compile(r"[,{;(&?]")


@lru_cache(maxsize=8)
def _line_marks(line: str) -> tuple[list[int], list[int], list[int]]:
    """Separator offsets, and the starts and ends of every ``_id`` mark, of one line (remembered per line)."""
    separators = [match.start() for match in _SEGMENT_SEPARATORS.finditer(line)]
    starts: list[int] = []
    ends: list[int] = []
    search = _ID_ANYWHERE.search
    found = search(line)
    while found is not None:
        starts.append(found.start())
        ends.append(found.end())
        found = search(line, found.start() + 1)
    return separators, starts, ends


def _likely_id_before(value: str, line: str) -> bool:
    """detect-secrets' ``is_likely_id_string`` of ``value``, on the value's own entry of ``line``.

    It looks for ``_id`` before the secret; on one-line JSON
    (``{"client_id": "a", "client_secret": "b"}``) the whole line would drop
    the secret, so only the part from the last separator (``,{;(&?``) before
    the value's first occurrence is judged.  The same answer as calling it
    on that part, from marks found once per line: each value of a long line
    used to cost a search of the line up to it (quadratic).
    """
    column = filters.first_index(line, value)
    if column == -1:
        return False
    separators, starts, ends = _line_marks(line)
    before = bisect.bisect_left(separators, column)
    segment = separators[before - 1] + 1 if before else 0
    if _ID_AT_START.match(line, segment, column) is not None:
        return True
    # The first mark in the segment ends first: marks are 4 or 5 characters long.
    first = bisect.bisect_left(starts, segment)
    return first < len(starts) and ends[first] <= column


def _our_filters_reject(value: str, line: str, literal: bool) -> bool:
    """Our shared filters (see :mod:`secretaudit.checks.filters`), cheapest first."""
    return _our_value_filters_reject(value, literal) or _our_line_filters_reject(value, line)


@lru_cache(maxsize=1)
def documented_samples() -> frozenset[str]:
    """Every value a built-in SA101 rule allowlists: published sample keys (Firebase SDK docs, NuGet docs).

    SA101 deliberately skips them; a guess from this check about the same
    value (``apiKey: "AIza..."`` is a keyword assignment and a high-entropy
    string) would report them anyway.  The rule files are the one list.
    """
    from secretaudit.checks.rulebook import builtin_rules

    return frozenset().union(*(rule.allow_values for rule in builtin_rules()))


def _our_value_filters_reject(value: str, literal: bool) -> bool:
    """The shared filters that look at the value alone."""
    return (filters.is_placeholder(value)
            or filters.is_reference(value, literal=literal)
            or filters.is_example_key(value)
            or value in documented_samples()
            or filters.is_uuid(value)
            or filters.is_integrity_string(value))


def _our_line_filters_reject(value: str, line: str) -> bool:
    """The shared filters that need the value's line."""
    return filters.is_hash(value, line) or filters.is_data_uri(value, line)


@lru_cache(maxsize=1)
def _format_prefixes() -> frozenset[str]:
    """The literals the built-in rules start from (``ghp_``, ``xoxb-``, ``sk_live_``, ``AKIA``...)."""
    from secretaudit.checks.rulebook import builtin_rules

    literals = (literal for rule in builtin_rules()
                for literal in (rule.prefix, *(t.literal for t in rule.tokens if t.literal[-1:] in "_-.$")))
    return frozenset(literal for literal in literals if len(literal) >= 3)


def _is_format_prefix(value: str) -> bool:
    """Whether ``value`` is nothing but a known format's prefix (the rule files are read only for short values)."""
    return len(value) <= 16 and value in _format_prefixes()


def _keyword_value_rejected(cand: Candidate, line: str, fallback: bool) -> bool:
    value = cand.value
    if len(value) < MIN_KEYWORD_VALUE_LENGTH or "://" in value:
        return True  # too short to be a credential; URLs with credentials are SA103's
    if value != value.strip() or _our_filters_reject(value, line, cand.literal):
        return True  # blanks around a value: a fragment of a concatenation, not a secret
    if (filters.is_prose(value) or filters.is_name_like(value) or filters.is_identifier_like(value)
            or filters.is_css_color(value) or filters.is_regex(value) or filters.is_type_annotation(value)
            or filters.is_css_selector(value)):
        return True
    if (cand.key and filters.is_public_name(cand.key)) or filters.is_form_token(value, line, cand.key):
        return True  # a public or publishable key, a CSRF token rendered into a form
    if _is_format_prefix(value):
        return True  # TOKEN_PREFIX = "ghp_": what code compares a token with, not a token
    if _LOWER_WORD.fullmatch(value) and not _PASSWORD_NAME.search(normalize_name(cand.key)):
        return True
    h = _ds().h
    if (h.is_templated_secret(value) or h.is_prefixed_with_dollar_sign(value)
            or h.is_not_alphanumeric_string(value) or h.is_sequential_string(value)
            or h.is_potential_uuid(value)):
        return True
    if fallback and (h.is_indirect_reference(line) or h.is_likely_id_string(value, line)):
        return True
    return False


def _entropy_value_reject(value: str) -> bool:
    """The entropy filters that need no detect-secrets and look at the value alone (so it can be memoised).

    With :func:`_entropy_line_reject`, also run by the prefilter: pure
    functions of the value and its line, applied identically in the
    detailed pass, so skipping a line they reject entirely is sound.
    """
    return (filters.is_identifier_like(value) or filters.is_name_like(value) or filters.is_alphabet(value)
            or _our_value_filters_reject(value, literal=True))


def _entropy_line_reject(value: str, line: str) -> bool:
    """The entropy filters that need no detect-secrets and need the value's line."""
    return filters.is_hex_id(value, line) or _our_line_filters_reject(value, line) or _public_by_name(value, line)


def _public_by_name(value: str, line: str) -> bool:
    """A random string that is public on purpose: under a public name (``publicKey``), or a CSRF token."""
    name = filters.assigned_name(value, line)
    return (bool(name) and filters.is_public_name(name)) or filters.is_form_token(value, line, name)


def _entropy_value_rejected(value: str, line: str, work: "_LineWork") -> bool:
    if _entropy_value_reject(value):
        return True
    work.spend(value)
    if _entropy_line_reject(value, line):
        return True
    h = _ds().h
    return (h.is_sequential_string(value) or h.is_potential_uuid(value)
            or h.is_not_alphanumeric_string(value) or _likely_id_before(value, line))


# -- one line ------------------------------------------------------------------------------------------


class _FileContext(NamedTuple):
    """What the per-line detectors need to know about the file."""

    filename: str
    code: bool
    limits: Limits


#: Characters every keyword syntax needs: an assignment, markup, a call or a statement end.
_SYNTAX_CHARS = frozenset("=:<(;")


#: Distinct candidate values of one line judged against the line, times the
#: line's length, before the file is refused: judging a value may read the
#: line once more (to find where the value first occurs), so this bounds a
#: line full of candidates to a second or so.  Ordinary lines never come
#: near it (a 1 MB line may hold 4,096 values, a 100-character one millions).
MAX_LINE_WORK = 1 << 32


class _LineWork:
    """What judging candidate values of one line may still cost (see :data:`MAX_LINE_WORK`)."""

    __slots__ = ("left", "item", "start", "judged")

    def __init__(self, item: FileItem, start: int, line: str) -> None:
        self.left = MAX_LINE_WORK // (len(line) + 1)
        self.item, self.start = item, start
        self.judged: set[str] = set()

    def spend(self, value: str) -> None:
        """Count ``value`` (once per line: what a line-level filter learnt of it is remembered)."""
        if value in self.judged:
            return
        self.judged.add(value)
        self.left -= 1
        if self.left < 0:
            raise TooCostly("line too dense", f"line {self.item.line_of(self.start)} holds too many candidate "
                            "secrets to judge in reasonable time (minified or generated?); split the line "
                            "or exclude the file")


def _keyword_hits(line: str, ctx: _FileContext, work: _LineWork) -> Iterator[Candidate]:
    if _SYNTAX_CHARS.isdisjoint(line):
        return  # e.g. Python's "pass": a stem, but nothing assigned
    candidates, explained = _assignments(line, ctx.code)
    fallback = False
    if not explained and _FALLBACK_SYNTAX.search(line) and _ds_shape(lower_keeping_offsets(line)):
        candidates = _ds_keyword_fallback(line, ctx.filename)
        fallback = True
    judged: set[tuple[str, str, bool]] = set()
    for cand in candidates:
        if (cand.value, cand.key, cand.literal) in judged:
            continue  # the same verdict again; and once reported, a value is reported once per line
        judged.add((cand.value, cand.key, cand.literal))
        work.spend(cand.value)
        if not _keyword_value_rejected(cand, line, fallback):
            yield cand


def _entropy_hits(line: str, ctx: _FileContext, work: _LineWork) -> Iterator[Candidate]:
    base64_plugin, hex_plugin = _entropy_plugins(ctx.limits)
    for plugin, rule in ((base64_plugin, "high-entropy-base64"), (hex_plugin, "high-entropy-hex")):
        judged: set[str] = set()
        for value in plugin.analyze_string(line):
            if value in judged:
                continue  # the same verdict again; and once reported, a value is reported once per line
            judged.add(value)
            if plugin.calculate_shannon_entropy(value) <= plugin.entropy_limit:
                continue
            if not _entropy_value_rejected(value, line, work):
                yield Candidate(max(filters.first_index(line, value), 0), value, "", True, rule)


_LABELS = {
    "high-entropy-base64": "High-entropy string (base64 charset)",
    "high-entropy-hex": "High-entropy string (hex charset)",
}


def _label(cand: Candidate) -> str:
    if cand.rule != "keyword":
        return _LABELS[cand.rule]
    if cand.key:
        shown = cand.key if len(cand.key) <= 60 else cand.key[:57] + "..."
        return f"Hardcoded secret assigned to '{shown}'"
    return "Hardcoded secret next to a secret keyword"


# -- the hook ------------------------------------------------------------------------------------------



def _extension(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name.lstrip(".") else ""


def _iter_lines(text: str) -> Iterator[tuple[int, str]]:
    start = 0
    for line in text.split("\n"):
        yield start, line
        start += len(line) + 1


def scan_text(item: FileItem, limits: Limits, prefilter: bool) -> list[tuple[int, Candidate]]:
    """Every SA102 candidate that survives the filters: ``(line_start, candidate)``.

    With ``prefilter`` only lines holding a keyword stem or a quoted string
    that may pass an entropy limit are analysed; without it, every line.  The
    result is the same either way.
    """
    text = item.text
    ctx = _FileContext(item.name, _extension(item.name) in CODE_EXTENSIONS, limits)
    if prefilter:
        keyword_starts: set[int] | None = _keyword_line_starts(item)
        entropy_starts: set[int] | None = _entropy_line_starts(text, limits)
        lines: Iterable[tuple[int, str]] = (
            (start, text[start:end if (end := text.find("\n", start)) != -1 else len(text)])
            for start in sorted(keyword_starts | entropy_starts)
        )
    else:
        keyword_starts = entropy_starts = None
        lines = _iter_lines(text)
    results: list[tuple[int, Candidate]] = []
    for start, line in lines:
        seen: set[str] = set()
        hits: list[Candidate] = []
        work = _LineWork(item, start, line)
        if keyword_starts is None or start in keyword_starts:
            hits.extend(_keyword_hits(line, ctx, work))
        if entropy_starts is None or start in entropy_starts:
            hits.extend(_entropy_hits(line, ctx, work))
        for cand in hits:  # keyword first, then base64, then hex: one finding per value
            if cand.value not in seen:
                seen.add(cand.value)
                results.append((start, cand))
    return results


@hookimpl
def secretaudit_register_checks(registry: "CheckRegistry") -> None:
    """Register SA102."""
    registry.add(SPEC)


@hookimpl
def secretaudit_configure(config: "Config") -> None:
    """Validate ``checks.SA102`` options once, so a typo fails the run up front."""
    if config.is_enabled(CHECK_ID):
        _limits(config)


def _private_key_blocks(text: str) -> tuple[tuple[int, int], ...]:
    """Offsets of every PEM private key block (unquoted, or one string literal per line).

    Its body lines are one credential, which SA101 reports once at the BEGIN
    line, not a high-entropy string each.  Two ``str.find`` calls per block,
    each resuming where the last stopped: linear in the text.
    """
    blocks = []
    at = text.find("-----BEGIN ")
    while at != -1:
        header_end = text.find("-----", at + 11)
        if header_end == -1 or header_end - at > 60:
            at = text.find("-----BEGIN ", at + 11)
            continue
        end = text.find("-----END ", header_end + 5)
        if end == -1:
            break
        if "PRIVATE KEY" in text[at:header_end]:
            blocks.append((at, end))
        at = text.find("-----BEGIN ", end + 9)
    return tuple(blocks)


@hookimpl
def secretaudit_scan_file(item: FileItem, config: "Config") -> list[Detection] | None:
    """Report generic secrets in ``item`` (see the module docstring)."""
    if not config.is_enabled(CHECK_ID) or filters.is_lock_file(item.relpath):
        return None
    if "swagger" in item.relpath and _ds().h.is_swagger_file(item.relpath):
        return None  # detect-secrets' default: API specs are full of sample credentials
    found = scan_text(item, _limits(config), config.prefilter)
    if not found:
        return None
    from secretaudit.checks import connection_strings

    regions: dict[int, list[tuple[int, int]]] = {}
    from secretaudit.claims import claimed_values

    claimed = claimed_values(item, config, CHECK_ID)
    key_blocks = _private_key_blocks(item.text) if "PRIVATE KEY" in item.text else ()
    detections = []
    for start, cand in found:
        if any(lo <= start < hi for lo, hi in key_blocks):
            continue  # a line of a private key block: SA101 reports the key once, at its BEGIN line
        if start not in regions:
            regions[start] = connection_strings.regions(item.line_text(item.line_of(start)))
        if any(lo <= cand.column < hi for lo, hi in regions[start]):
            continue  # inside a connection string: SA103's
        if cand.value in claimed:
            continue  # SA104/SA106 report this value, with the fix that fits the file
        line = item.line_of(start)
        detections.append(Detection(check_id=CHECK_ID, line=line, secret=cand.value, label=_label(cand),
                                    visible_prefix="", rule=cand.rule))
    return detections or None
