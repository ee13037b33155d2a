"""The known-format rules (SA101) as data: read, validate and build them.

Built-in rules live in ``checks/rules/<family>.toml`` (package data), one
``[[rule]]`` table per credential format; the format is described in the
README and in each file.  Keeping them as data lets a team read, test and
extend the formats without writing a plugin, and lets every rule carry its
own positive and negative samples (``tests/test_rule_samples.py`` checks each
rule against them).

Two steps, so the pre-commit path stays fast:

* :func:`normalize` validates one rule table (unknown key, missing id, title
  or samples, bad regex, unknown validator... are a :class:`RuleError` naming
  the file and the rule) and returns it in a canonical, plain-data form;
* :func:`build` turns that form into a :class:`Rule`, compiling nothing (the
  regexes compile on first use, see :mod:`secretaudit.checks.lazyre`).

Parsing and validating every file costs tens of milliseconds, so the
canonical form of the built-in rules (without the sample text) is kept in
the user cache directory, keyed by a hash of the files' bytes:
:func:`builtin_rules` then reads the files (to hash them) and one marshal
file, and validates nothing it validated before.
"""

from __future__ import annotations

import hashlib
import marshal
import math
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping, NamedTuple

from secretaudit.checks.lazyre import LazyPattern, lazy_compile
from secretaudit.checks.validators import VALIDATORS, Validator

#: Where the built-in rule files live (shipped as package data).
RULES_DIR = Path(__file__).resolve().parent / "rules"

#: Bumped when the canonical form changes, so an old cache entry is never read.
FORMAT_VERSION = "1"

SEVERITIES = ("critical", "high", "medium", "low", "info")

# Boundaries: a credential is never glued to more credential-ish characters.
LEFT = r"(?<![A-Za-z0-9_])"
ENDS = {
    "word": r"(?![A-Za-z0-9_])",  # alphanumeric bodies
    "dash": r"(?![A-Za-z0-9_-])",  # bodies that may contain '-'
    "base64": r"(?![A-Za-z0-9+/=])",  # base64 bodies
    "none": "",
}

_ID = lazy_compile(r"[a-z0-9]+(?:-[a-z0-9]+)*\Z")
_KEYS = ("id", "title", "severity", "regex", "prefix", "body", "end", "tokens", "keywords", "entropy", "validator",
         "multiline", "structured", "priority", "allowlist", "samples")
_ALLOWLIST_KEYS = ("values", "regexes", "paths")
_SAMPLE_KEYS = ("positive", "negative")


class RuleError(ValueError):
    """A rule that cannot be used; the message names the file and the rule and how to fix it."""


class Token(NamedTuple):
    """A prefilter token: a literal, optionally followed by a regex ``tail``.

    The tail (e.g. ``[A-Za-z]{8}`` after ``hf_``) is only checked where the
    literal already matched, so it costs nothing on ordinary text but cuts
    the false hits of short literals.
    """

    literal: str
    tail: str = ""


class Rule(NamedTuple):
    """One credential format, ready for the prefilter and the detailed pass.

    ``regex`` matches the credential; a named group ``secret`` narrows the
    reported value (``AccountKey=<secret>``) and a named group ``prefix``
    gives the visible prefix when it varies (``sk_test_`` / ``rk_test_``).
    ``tokens`` are the prefilter literals, one of which every match contains.
    A ``context`` rule also needs one of its keyword phrases on the match's
    line (outside the match); when its matches carry no literal of their
    own, the exact spellings of the phrases become its tokens instead.
    ``validate`` checks structure a regex cannot (checksums, embedded JSON).
    ``multiline`` rules (private key blocks) may span lines.  ``structured``
    bodies (private keys, JWTs, macaroons) legitimately contain runs like
    ``AAAAAAAA`` and skip the repeated-character placeholder test.
    ``priority`` decides which of two overlapping matches is kept: exact
    formats beat generic ones.  ``entropy`` is the least Shannon entropy
    (bits per character) of the secret after its prefix; the ``allow_*``
    fields are the rule's allowlist (exact values, value regexes, paths).
    """

    slug: str
    label: str
    regex: LazyPattern  # compiled on first use: most rules never run in a given scan
    prefix: str = ""
    tokens: tuple[Token, ...] = ()
    context: tuple[str, ...] = ()
    validate: Validator | None = None
    multiline: bool = False
    structured: bool = False
    priority: int = 2
    context_regex: LazyPattern | None = None
    severity: str = "critical"
    entropy: float = 0.0
    allow_values: frozenset[str] = frozenset()
    allow_regexes: tuple[LazyPattern, ...] = ()
    allow_paths: tuple[LazyPattern, ...] = ()
    source: str = ""  # the rule file's name (``github.toml``), or where a custom rule came from
    validator: str = ""
    samples: tuple[int, int] = (0, 0)  # how many positive and negative samples the rule carries
    #: rules from a gitleaks config, or under its allowlists: their secret group, allowlists, path, reach
    #: (a :class:`secretaudit.checks.gitleaks_config.RuleExtras`); None for the others
    extra: Any = None


# --- validation -----------------------------------------------------------------------


def spellings(*phrases: str) -> tuple[str, ...]:
    """The ways code spells a phrase: ``aws_secret``, ``AWS_SECRET``, ``awsSecret``...

    Context keywords are matched case-sensitively when they are the
    prefilter literals, hence every common spelling is listed explicitly.
    """
    forms: list[str] = []
    for phrase in phrases:
        words = phrase.split()
        candidates = [
            "_".join(words),
            "_".join(words).upper(),
            words[0] + "".join(w.title() for w in words[1:]),
            "".join(w.title() for w in words),
            "-".join(words),
            " ".join(words),
        ]
        for form in candidates:
            if form not in forms:
                forms.append(form)
    return tuple(forms)


def _where(source: str, rule_id: Any) -> str:
    return f"{source}: rule {rule_id!r}" if isinstance(rule_id, str) and rule_id else f"{source}: a rule"


def _compiles(pattern: str, flags: int, what: str, fail: Any) -> None:
    try:
        re.compile(pattern, flags)
    except (re.error, RecursionError, OverflowError) as exc:
        fail(f"{what} is not a valid regular expression ({exc}); fix the pattern")


def _str_list(value: Any, what: str, fail: Any, allow_empty: bool = True) -> list[str]:
    if isinstance(value, str) or not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        fail(f"{what} must be a list of strings")
    if not allow_empty and not value:
        fail(f"{what} must not be empty")
    return list(value)


def normalize(data: Mapping[str, Any], source: str = "<rule>", require_samples: bool = True,
              check_regex: bool = True) -> dict[str, Any]:
    """Validate one rule table and return its canonical form (plain data, marshal-able).

    Raises :class:`RuleError` naming ``source`` and the rule id on the first
    problem: an unknown key, a missing ``id``/``title``/``samples``, a
    pattern that does not compile, an unknown validator, a rule with no
    prefilter token...  Custom rules (config, ``.gitleaks.toml``) pass
    ``require_samples=False``.  ``check_regex=False`` skips compiling the
    patterns (the built-in rules at run time: compiling ~130 patterns costs a
    cold run ~40 ms, and tests/test_rule_samples.py compiles every one).
    """
    rule_id = data.get("id") if isinstance(data, Mapping) else None
    where = _where(source, rule_id)

    def fail(problem: str) -> None:
        raise RuleError(f"{where}: {problem}")

    def compiles(pattern: str, flags: int, what: str) -> None:
        if check_regex:
            _compiles(pattern, flags, what, fail)

    if not isinstance(data, Mapping):
        raise RuleError(f"{source}: a rule must be a table of settings")
    unknown = [key for key in data if key not in _KEYS]
    if unknown:
        fail(f"unknown key {str(unknown[0])!r} (allowed: {', '.join(_KEYS)})")
    if not isinstance(rule_id, str) or not _ID.match(rule_id):
        fail("needs an 'id' of lowercase letters, digits and dashes (e.g. 'acme-api-token')")
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        fail("needs a 'title' (a short human name such as 'Acme API token')")
    severity = data.get("severity", "critical")
    if severity not in SEVERITIES:
        fail(f"severity must be one of {', '.join(SEVERITIES)}")

    prefix = data.get("prefix", "")
    if not isinstance(prefix, str):
        fail("prefix must be a string")
    if "regex" in data:
        if "body" in data or "end" in data:
            fail("give either 'regex' or 'prefix' + 'body' (+ 'end'), not both")
        regex = data["regex"]
        if not isinstance(regex, str) or not regex:
            fail("regex must be a non-empty string")
    elif "body" in data:
        body, end = data["body"], data.get("end", "word")
        if not prefix:
            fail("'body' needs a non-empty 'prefix' (or write the whole 'regex')")
        if not isinstance(body, str) or not body:
            fail("body must be a non-empty string")
        if end not in ENDS:
            fail(f"end must be one of {', '.join(ENDS)}")
        regex = LEFT + re.escape(prefix) + body + ENDS[end]
    else:
        fail("needs a pattern: 'regex', or 'prefix' + 'body'")
    compiles(regex, re.ASCII, "regex" if "regex" in data else "prefix + body")

    tokens: list[list[str]] = []
    raw_tokens = data.get("tokens", [])
    if not isinstance(raw_tokens, list):
        fail("tokens must be a list of strings or {literal, tail} tables")
    for token in raw_tokens:
        if isinstance(token, str):
            literal, tail = token, ""
        elif isinstance(token, Mapping) and set(token) <= {"literal", "tail"}:
            literal, tail = token.get("literal"), token.get("tail", "")
        else:
            fail("each token must be a string or a {literal, tail} table")
        if not isinstance(literal, str) or not literal or not isinstance(tail, str):
            fail("a token needs a non-empty literal (and a string tail)")
        if tail:
            compiles(re.escape(literal) + tail, re.ASCII, f"the tail of token {literal!r}")
        tokens.append([literal, tail])
    keywords = _str_list(data.get("keywords", []), "keywords", fail)
    if any(not k.split() for k in keywords):
        fail("a keyword must not be blank")
    if not tokens and not keywords and not prefix:
        fail("needs prefilter tokens: 'tokens', 'keywords' or a 'prefix' (a literal every match contains)")

    entropy = data.get("entropy", 0.0)
    if isinstance(entropy, bool) or not isinstance(entropy, (int, float)) or not 0 <= entropy <= 8:
        fail("entropy must be a number of bits per character from 0 to 8 (e.g. 3.0)")
    validator = data.get("validator", "")
    if validator and validator not in VALIDATORS:
        fail(f"unknown validator {str(validator)!r} (known: {', '.join(sorted(VALIDATORS))})")
    flags = {}
    for key in ("multiline", "structured"):
        value = data.get(key, False)
        if not isinstance(value, bool):
            fail(f"{key} must be true or false")
        flags[key] = value
    priority = data.get("priority", 0 if keywords else 2)
    if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 9:
        fail("priority must be a whole number from 0 to 9")

    allowlist = data.get("allowlist", {})
    if not isinstance(allowlist, Mapping):
        fail("allowlist must be a table of values, regexes and paths")
    unknown = [key for key in allowlist if key not in _ALLOWLIST_KEYS]
    if unknown:
        fail(f"unknown allowlist key {str(unknown[0])!r} (allowed: {', '.join(_ALLOWLIST_KEYS)})")
    allow = {key: _str_list(allowlist.get(key, []), f"allowlist.{key}", fail) for key in _ALLOWLIST_KEYS}
    for key in ("regexes", "paths"):
        for pattern in allow[key]:
            compiles(pattern, 0, f"allowlist.{key} entry")

    samples = data.get("samples")
    if samples is None and require_samples:
        fail("needs [rule.samples] with at least one positive and one negative line")
    samples = samples or {}
    if not isinstance(samples, Mapping):
        fail("samples must be a table with 'positive' and 'negative' lists")
    unknown = [key for key in samples if key not in _SAMPLE_KEYS]
    if unknown:
        fail(f"unknown samples key {str(unknown[0])!r} (allowed: positive, negative)")
    sample_lists = {key: _str_list(samples.get(key, []), f"samples.{key}", fail,
                                   allow_empty=not require_samples) for key in _SAMPLE_KEYS}

    return {
        "id": rule_id, "title": title.strip(), "severity": severity, "regex": regex, "prefix": prefix,
        "tokens": tokens, "keywords": keywords, "entropy": float(entropy), "validator": validator,
        "multiline": flags["multiline"], "structured": flags["structured"], "priority": priority,
        "allow": allow, "source": source, "samples": sample_lists,
    }


# --- building ------------------------------------------------------------------------

_LITERAL_RUN = lazy_compile(r"(?:[A-Za-z0-9_\-]|\\[^A-Za-z0-9])+")


def literal_first(pattern: str) -> str:
    """Move a leading ``LEFT`` boundary behind the literal that follows it (even in a group).

    ``(?<![A-Za-z0-9_])ghp_...`` and ``ghp_(?<![A-Za-z0-9_]ghp_)...`` match the
    same strings, but only the second starts with a literal, which lets ``re``
    jump between its occurrences when a rule runs over a whole file.
    """
    if not pattern.startswith(LEFT):
        return pattern
    rest = pattern[len(LEFT):]
    group = "(?P<prefix>" if rest.startswith("(?P<prefix>") else ""
    rest = rest[len(group):]
    run = _LITERAL_RUN.match(rest)
    if run is None:
        return pattern
    literal = run.group()
    if rest[run.end():run.end() + 1] in ("{", "?", "*", "+"):  # the last character is quantified
        literal = literal[:-2] if literal.endswith("\\", 0, len(literal) - 1) else literal[:-1]
    if not literal:
        return pattern
    return f"{group}{literal}(?<![A-Za-z0-9_]{literal}){rest[len(literal):]}"


def build(spec: Mapping[str, Any]) -> Rule:
    """The :class:`Rule` of a canonical rule (from :func:`normalize`); compiles nothing."""
    toks = tuple(Token(literal, tail) for literal, tail in spec["tokens"])
    context = tuple(spec["keywords"])
    context_regex = None
    if context and toks:
        # The match carries its own token, so the prefilter never depends on
        # the keyword: the keyword test can be lenient (any case, separator).
        context_regex = lazy_compile(
            "|".join(r"[_\-. ]?".join(map(re.escape, phrase.split())) for phrase in context), re.IGNORECASE)
    elif context:
        # The keyword is what the prefilter looks for, so exactly the same
        # spellings must be required here, or the two modes would differ.
        forms = spellings(*context)
        toks = tuple(Token(k) for k in forms)
        context_regex = lazy_compile("|".join(map(re.escape, forms)))
    elif not toks:
        toks = (Token(spec["prefix"]),)
    allow = spec["allow"]
    samples = spec["samples"]
    return Rule(
        slug=spec["id"],
        label=spec["title"],
        regex=lazy_compile(literal_first(spec["regex"]), re.ASCII),
        prefix=spec["prefix"],
        tokens=toks,
        context=context,
        validate=VALIDATORS[spec["validator"]] if spec["validator"] else None,
        multiline=spec["multiline"],
        structured=spec["structured"],
        priority=spec["priority"],
        context_regex=context_regex,
        severity=spec["severity"],
        entropy=spec["entropy"],
        allow_values=frozenset(allow["values"]),
        allow_regexes=tuple(lazy_compile(p) for p in allow["regexes"]),
        allow_paths=tuple(lazy_compile(p) for p in allow["paths"]),
        source=spec["source"],
        validator=spec["validator"],
        samples=(len(samples["positive"]), len(samples["negative"])) if isinstance(samples, Mapping)
        else tuple(samples),
    )


def compile_rule(data: Mapping[str, Any], source: str = "<config>", require_samples: bool = False,
                 check_linear: bool = True) -> Rule:
    """One rule table (the rule-file schema) as a validated :class:`Rule`.

    For rules that do not ship with secretaudit (config, ``.gitleaks.toml``):
    besides :func:`normalize`'s checks, the pattern must match in linear
    time (:func:`secretaudit.checks.regex_safety.fit`, which also bounds its
    unbounded repeats: the bounded pattern is what is compiled); a problem
    is a :class:`RuleError` naming ``source`` and the rule.
    """
    spec = normalize(data, source, require_samples)
    if check_linear:
        from secretaudit.checks.regex_safety import UnsafeRegex, fit

        try:
            spec["regex"] = fit(spec["regex"], re.ASCII).pattern
        except UnsafeRegex as exc:
            raise RuleError(f"{_where(source, spec['id'])}: {exc}") from None
    return build(spec)


# --- linear time ------------------------------------------------------------------------


def entropy(text: str) -> float:
    """Shannon entropy of ``text`` in bits per character (0 for an empty string)."""
    if not text:
        return 0.0
    counts: dict[str, int] = {}
    for char in text:
        counts[char] = counts.get(char, 0) + 1
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _nested_repeat(pattern: str) -> str | None:
    """A variable-width repeat inside an unbounded one (``(a+)+``, ``(\\w+\\s?)*``): the classic blow-up."""
    from re import _constants as c, _parser  # type: ignore[attr-defined]

    repeats = (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", c.MAX_REPEAT))

    def walk(items: Any, inside: bool) -> str | None:
        for op, av in items:
            if op in repeats:
                low, high, sub = av
                if inside and high > low and sub.getwidth()[1] > 0:
                    return "nested repetition (a repeated group holds another repeat); bound or flatten it"
                found = walk(sub, inside or high == c.MAXREPEAT)
            elif op is c.SUBPATTERN:
                found = walk(av[-1], inside)
            elif op is c.BRANCH:
                found = next((f for f in (walk(b, inside) for b in av[1]) if f), None)
            elif op in (c.ASSERT, c.ASSERT_NOT):
                found = walk(av[1], inside)
            elif op is getattr(c, "ATOMIC_GROUP", None):
                found = walk(av, inside)
            else:
                continue
            if found:
                return found
        return None

    return walk(_parser.parse(pattern, re.ASCII), False)


def _class_chars(pattern: str, limit: int = 12) -> list[str]:
    """A few characters each character class and literal of ``pattern`` accepts (worst-case input material)."""
    from re import _constants as c, _parser  # type: ignore[attr-defined]

    chars: list[str] = []

    def add(char: str) -> None:
        if char not in chars and len(chars) < limit:
            chars.append(char)

    def walk(items: Any) -> None:
        for op, av in items:
            if op is c.LITERAL:
                add(chr(av))
            elif op is c.IN:
                for kind, value in av:
                    if kind is c.LITERAL:
                        add(chr(value))
                    elif kind is c.RANGE:
                        add(chr(value[0]))
                        add(chr(value[1]))
            elif op in (c.MAX_REPEAT, c.MIN_REPEAT):
                walk(av[2])
            elif op is c.SUBPATTERN:
                walk(av[-1])
            elif op is c.BRANCH:
                for branch in av[1]:
                    walk(branch)
            elif op is getattr(c, "POSSESSIVE_REPEAT", None):
                walk(av[2])

    walk(_parser.parse(pattern, re.ASCII))
    return chars or ["a"]


def worst_inputs(rule: Rule, size: int) -> list[str]:
    """Repeated-prefix inputs of about ``size`` characters that make a backtracking rule slow.

    Each literal the rule starts from (prefix, tokens, one spelling per
    keyword) repeated; each literal followed by one character of the body
    repeated; and literal + character pairs repeated.
    """
    literals = [lit for lit in dict.fromkeys([rule.prefix, *(t.literal for t in rule.tokens),
                                              *(k.replace(" ", "_") for k in rule.context)]) if lit]
    chars = _class_chars(rule.regex.pattern)
    texts = []
    for literal in literals[:6]:
        texts.append(literal * (size // len(literal) + 1))
        for char in chars:
            texts.append(literal + char * size)
            texts.append((literal + char) * (size // (len(literal) + 1) + 1))
    return texts


#: Worst-case input sizes tried by :func:`linear_time_problem`: fine steps first (an exponential
#: pattern must not jump from fast to hours), then doubling.
_SIZES = (*range(16, 66, 2), 128, 256, 512, 1024, 2048, 4096, 8192, 16384)


def linear_time_problem(rule: Rule, budget: float = 0.25) -> str | None:
    """Why ``rule`` would not match in linear time, or None.

    A static test (no repeat of variable width nested in an unbounded
    repeat), then the rule's regex over its worst inputs of growing size:
    a linear pattern needs about a millisecond for 16 KB, a quadratic one
    seconds, an exponential one hours for 60 characters; sizes grow slowly
    enough that a bad pattern is stopped just past ``budget`` seconds.
    """
    import time

    problem = _nested_repeat(rule.regex.pattern)
    if problem:
        return problem + " (every rule must match in linear time)"
    key = hashlib.blake2b(repr((FORMAT_VERSION, rule.regex.pattern, rule.prefix, rule.tokens, rule.context,
                                budget)).encode(), digest_size=16).hexdigest()
    verdicts = _linear_verdicts()
    if key in verdicts:
        return None  # proven linear by an earlier run: a custom rule pays the ~30 ms once, not per run
    finditer = rule.regex.finditer
    for size in _SIZES:
        for text in worst_inputs(rule, size):
            start = time.perf_counter()
            for _ in finditer(text):
                pass
            if time.perf_counter() - start > budget:
                return (f"the pattern takes over {budget:g} s on {size} characters of repeated input (it backtracks: "
                        "bound every repeat, e.g. {1,64}, and avoid overlapping repeats side by side)")
    verdicts[key] = 1
    _store(_LINEAR_FILE, verdicts if len(verdicts) <= 4096 else {key: 1})
    return None


_LINEAR_FILE = "sa101-linear.marshal"


@lru_cache(maxsize=1)
def _linear_verdicts() -> dict[str, int]:
    """Patterns an earlier run proved linear (keyed by a hash of the pattern and its literals)."""
    stored = _load(_LINEAR_FILE)
    return stored if isinstance(stored, dict) else {}


def _load(name: str) -> Any:
    """A marshal file of the cache directory, or None when missing or damaged."""
    path = _cache_path(name)
    if path is None:
        return None
    try:
        with open(path, "rb") as handle:
            return marshal.load(handle)
    except (OSError, EOFError, ValueError, TypeError):
        return None


def _store(name: str, value: Any) -> None:
    """Write a marshal file of the cache directory atomically; failing only costs the next run the work."""
    path = _cache_path(name)
    if path is None:
        return
    from secretaudit.atomicfile import replace_quietly

    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        replace_quietly(path, marshal.dumps(value))
    except (OSError, ValueError):
        pass


# --- the built-in rule files ------------------------------------------------------------


def rule_files(directory: Path = RULES_DIR) -> list[Path]:
    """The built-in rule files, in name order (the order rules are numbered in)."""
    return sorted(directory.glob("*.toml"))


def parse_files(files: list[tuple[str, bytes]], require_samples: bool = True,
                check_regex: bool = True) -> list[dict[str, Any]]:
    """Canonical rules of rule files given as (name, bytes); ids must be unique across all of them."""
    import tomllib

    rules: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    for name, data in files:
        try:
            table = tomllib.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise RuleError(f"{name}: not valid TOML ({exc}); fix the syntax") from None
        extra = [key for key in table if key != "rule"]
        if extra:
            raise RuleError(f"{name}: unknown top-level key {extra[0]!r}; a rule file holds [[rule]] tables only")
        entries = table.get("rule", [])
        if not isinstance(entries, list):
            raise RuleError(f"{name}: 'rule' must be an array of tables ([[rule]])")
        for entry in entries:
            spec = normalize(entry, name, require_samples, check_regex)
            if spec["id"] in seen:
                raise RuleError(f"{name}: rule {spec['id']!r}: duplicate id (also in {seen[spec['id']]}); "
                                "rule ids must be unique")
            seen[spec["id"]] = name
            rules.append(spec)
    return rules


def load_samples(directory: Path = RULES_DIR) -> dict[str, tuple[list[str], list[str]]]:
    """Every built-in rule's (positive, negative) sample lines, by rule id (reads the files)."""
    specs = parse_files([(path.name, path.read_bytes()) for path in rule_files(directory)])
    return {spec["id"]: (spec["samples"]["positive"], spec["samples"]["negative"]) for spec in specs}


def _cache_path(name: str) -> str | None:
    try:
        from secretaudit import cache_location
        return os.path.join(cache_location.cache_dir(), name)
    except Exception:  # noqa: BLE001 - no usable cache directory: work it out every time
        return None


_RULES_FILE = "sa101-rules.marshal"


@lru_cache(maxsize=1)
def builtin_rules() -> tuple[Rule, ...]:
    """The rules of ``checks/rules/*.toml``, validated once per change of the files.

    An invalid built-in file is a bug in secretaudit: :class:`RuleError`
    propagates (exit 3), naming the file and rule.
    """
    files = [(path.name, path.read_bytes()) for path in rule_files()]
    digest = hashlib.blake2b(FORMAT_VERSION.encode(), digest_size=16)
    for name, data in files:
        digest.update(name.encode() + b"\0" + len(data).to_bytes(8, "big") + data)
    key = digest.hexdigest()
    stored = _load(_RULES_FILE)
    if isinstance(stored, tuple) and len(stored) == 2 and stored[0] == key:
        try:
            return tuple(build(spec) for spec in stored[1])
        except Exception:  # noqa: BLE001 - a damaged entry: parse the files again below
            pass
    specs = parse_files(files, check_regex=False)  # a bad built-in pattern is a bug the tests catch
    for spec in specs:  # the cache holds counts, not the sample lines
        spec["samples"] = (len(spec["samples"]["positive"]), len(spec["samples"]["negative"]))
    _store(_RULES_FILE, (key, specs))
    return tuple(build(spec) for spec in specs)
