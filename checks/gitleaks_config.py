"""A repository's ``.gitleaks.toml``, read as secretaudit rules and allowlists.

A team moving from gitleaks keeps its config: its ``[[rules]]`` become SA101
rules (finding ids are the gitleaks rule ids), its allowlists suppress
findings as gitleaks would, ``[extend]`` decides whether the built-in rules
stay on.  What is read, and how it maps:

* ``[[rules]]``: ``id``, ``description`` (the title), ``regex`` (RE2,
  translated by :mod:`secretaudit.checks.gitleaks_regex` and fitted by
  :func:`secretaudit.checks.regex_safety.fit`), ``secretGroup`` (else the
  first non-empty group, else the whole match, as gitleaks does),
  ``entropy``, ``keywords`` (the prefilter: a rule runs on the lines holding
  one, in lower, upper or title case; without keywords it runs on every
  file), ``path`` (the rule applies only to matching files), per-rule
  ``[[rules.allowlists]]`` and the older ``[rules.allowlist]``.  A rule with
  a ``path`` and no ``regex`` (a file that is itself a secret) is left to
  SA104 and skipped with a note;
* ``[allowlist]`` / ``[[allowlists]]`` (with ``targetRules``): ``paths``,
  ``regexes`` with ``regexTarget`` (``secret``, ``match``, ``line``),
  ``stopwords``, ``commits`` and ``condition`` (``OR``/``AND``), applied to
  every rule (built-in ones too) or to the targeted ones.  ``commits`` name
  history findings; they are waived by the engine (:class:`CommitAllowlist`);
* ``[extend]``: ``useDefault = true`` keeps the built-in rules on; an
  explicit ``useDefault = false`` runs only the file's rules (gitleaks'
  meaning); no ``useDefault`` at all keeps the built-ins on as well, since
  secretaudit's rules are not gitleaks' defaults and turning detection off
  should be said, not implied.  ``path`` reads a base config first (relative
  to the file, two levels deep at most, as gitleaks); ``disabledRules``
  turns rules off, built-in or from the base, by id.

Every problem is a :class:`GitleaksConfigError`: one line naming the file,
the rule and the fix; the CLI turns it into exit 4.
"""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from secretaudit.checks.gitleaks_regex import RegexTranslationError, translate
from secretaudit.checks.lazyre import lazy_compile
from secretaudit.checks.regex_safety import UnsafeRegex, fit


def _compile(pattern: str) -> re.Pattern[str]:
    from secretaudit import patterns

    return patterns.compile(pattern, re.ASCII)

#: gitleaks reads an extended config at most this deep.
MAX_EXTEND_DEPTH = 2
FILENAME = ".gitleaks.toml"
_TARGETS = ("secret", "match", "line")
_RULE_KEYS = {"id", "description", "regex", "secretGroup", "entropy", "keywords", "path", "tags",
              "allowlist", "allowlists"}
_ALLOWLIST_KEYS = {"description", "condition", "commits", "paths", "regexTarget", "regexes", "stopwords",
                   "targetRules"}
_TOP_KEYS = {"title", "description", "minVersion", "extend", "rules", "allowlist", "allowlists"}


class GitleaksConfigError(ValueError):
    """A ``.gitleaks.toml`` that cannot be used (the message is one line naming the file and the fix)."""


def slug(rule_id: str) -> str:
    """A gitleaks rule id as a secretaudit rule id (lowercase, digits, dashes): ``Acme_Token`` is ``acme-token``."""
    return re.sub(r"[^a-z0-9]+", "-", rule_id.lower()).strip("-") or "rule"


@dataclass(frozen=True)
class Allowlist:
    """One gitleaks allowlist, as matched at detection time (its ``commits`` are the engine's)."""

    description: str = ""
    condition: str = "OR"
    paths: tuple[re.Pattern[str], ...] = ()
    regexes: tuple[re.Pattern[str], ...] = ()
    target: str = "secret"
    stopwords: tuple[str, ...] = ()
    commits: tuple[str, ...] = ()
    rules: frozenset[str] | None = None  # targetRules of a global allowlist (slugs), None: every rule

    @property
    def content_criteria(self) -> bool:
        return bool(self.paths or self.regexes or self.stopwords)

    def allows(self, secret: str, match: str, line: str, path: str) -> bool:
        """Whether this allowlist suppresses a finding (gitleaks' OR / AND over the criteria it names)."""
        results = []
        if self.paths:
            results.append(any(p.search(path) for p in self.paths))
        if self.regexes:
            text = secret if self.target == "secret" else match if self.target == "match" else line
            results.append(any(r.search(text) for r in self.regexes))
        if self.stopwords:
            lowered = secret.lower()
            results.append(any(word in lowered for word in self.stopwords))
        if not results:
            return False
        return all(results) if self.condition == "AND" else any(results)


@dataclass(frozen=True)
class RuleExtras:
    """What a rule needs beyond the rule-file schema to behave as in gitleaks.

    ``group``: the capture group holding the secret (0: gitleaks' default,
    the first non-empty group, or the whole match without groups; None: the
    rule's own ``secret`` group, as for built-in rules).  ``lead``: a
    leading lazy prefix taken off the regex for speed (one-character class,
    longest run), put back on the match for ``match`` allowlists.
    ``path``: the rule applies only to files whose path matches.
    ``whole_text``: the regex can match across lines, so it runs over the
    whole file.
    """

    group: int | None = None
    allowlists: tuple[Allowlist, ...] = ()
    path: re.Pattern[str] | None = None
    whole_text: bool = False
    lead: tuple[re.Pattern[str], int] | None = None
    anywhere: bool = False  # no keywords: the rule runs over every file

    def span(self, match: re.Match[str]) -> tuple[int, int] | None:
        """(start, end) of the secret in ``match`` (None: the rule's own ``secret`` group decides)."""
        if self.group is None:
            return None
        if self.group:
            return match.span(self.group) if match.start(self.group) != -1 else None
        for index in range(1, (match.re.groups or 0) + 1):
            start, end = match.span(index)
            if end > start:
                return start, end
        return match.span()

    def allowed(self, text: str, match: re.Match[str], secret: str, path: str) -> bool:
        """Whether an allowlist of this rule suppresses the finding ``match`` in ``text`` (at ``path``)."""
        if not self.allowlists:
            return False
        start, end = match.span()
        if self.lead is not None:
            char, longest = self.lead
            floor = max(0, start - longest)
            while start > floor and char.match(text, start - 1):
                start -= 1
        line_start = text.rfind("\n", 0, match.start()) + 1
        line_end = text.find("\n", match.start())
        line = text[line_start:len(text) if line_end == -1 else line_end]
        return any(a.allows(secret, text[start:end], line, path) for a in self.allowlists)


@dataclass
class GitleaksConfig:
    """A ``.gitleaks.toml`` (with its bases) as secretaudit reads it."""

    source: str
    #: (canonical rule table, as :func:`secretaudit.checks.rulebook.normalize` returns, and extras), in file order
    rules: list[tuple[dict[str, Any], RuleExtras]] = field(default_factory=list)
    allowlists: list[Allowlist] = field(default_factory=list)  # global ones
    disabled: set[str] = field(default_factory=set)  # slugs
    #: ``[extend] useDefault`` as written (here or in a base): False runs only the file's rules
    use_default: bool | None = None
    notes: list[str] = field(default_factory=list)
    digest: str = ""  # of every file read: part of the scan cache key

    def engine_allowlists(self) -> list["EngineAllowlist"]:
        """What the engine's waiver step applies to every check's findings, not only SA101's.

        Allowlists naming commits (history findings), per rule or global;
        and global allowlists of paths only, which gitleaks applies to
        everything it reports (its own default skips ``gitleaks.toml``,
        whose sample keys other checks would otherwise report).
        """
        found = [EngineAllowlist(commits=a.commits, rules=a.rules) for a in self.allowlists if a.commits]
        for spec, extras in self.rules:
            found += [EngineAllowlist(commits=a.commits, rules=frozenset([spec["id"]]))
                      for a in extras.allowlists if a.commits]
        paths = [p for a in self.allowlists if a.paths and a.rules is None
                 and (a.condition == "OR" or not (a.regexes or a.stopwords)) for p in a.paths]
        if paths:
            found.append(EngineAllowlist(paths=tuple(paths)))
        return found


@dataclass(frozen=True)
class EngineAllowlist:
    """Findings from these commits (history scans), or in these paths, are waived (see
    :meth:`GitleaksConfig.engine_allowlists`); an object of the engine's ``waivers.extra`` kind."""

    commits: tuple[str, ...] = ()
    rules: frozenset[str] | None = None
    paths: tuple[re.Pattern[str], ...] = ()

    def match(self, finding: Any, as_of: Any = None) -> Any:
        from secretaudit.model import Waiver

        location = finding.location
        if self.paths:
            if location.path and any(p.search(location.path) for p in self.paths):
                return Waiver("gitleaks allowlist (path)", source="gitleaks"), None
            return None, None
        commit = location.commit
        if not commit or (self.rules is not None and finding.rule not in self.rules):
            return None, None
        if any(commit.startswith(c) or c.startswith(commit) for c in self.commits if len(c) >= 7):
            return Waiver("gitleaks allowlist (commit)", source="gitleaks"), None
        return None, None


# --- reading ------------------------------------------------------------------------------


def find(scan_root: Path, explicit: str | bool | None = None,
         environ: dict[str, str] | None = None) -> tuple[str, str] | None:
    """(name, TOML text) of the gitleaks config to read, or None.

    As gitleaks looks: ``explicit`` (the config's ``rules.gitleaks``; False
    reads none), ``GITLEAKS_CONFIG`` (a path), ``GITLEAKS_CONFIG_TOML`` (the
    content), ``.gitleaks.toml`` at the scan root.
    """
    environ = os.environ if environ is None else environ
    if explicit is False:
        return None
    if isinstance(explicit, str) and explicit:
        return explicit, _read(Path(explicit), "rules.gitleaks")
    if environ.get("GITLEAKS_CONFIG"):
        return environ["GITLEAKS_CONFIG"], _read(Path(environ["GITLEAKS_CONFIG"]), "GITLEAKS_CONFIG")
    if environ.get("GITLEAKS_CONFIG_TOML"):
        return "GITLEAKS_CONFIG_TOML", environ["GITLEAKS_CONFIG_TOML"]
    candidate = scan_root / FILENAME
    if candidate.is_file():
        return str(candidate), _read(candidate, FILENAME)
    return None


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GitleaksConfigError(f"{path}: gitleaks config not found (from {what}); fix the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc.__class__.__name__
        raise GitleaksConfigError(f"{path}: cannot read the gitleaks config ({reason})") from None


def load(scan_root: Path, explicit: str | bool | None = None,
         environ: dict[str, str] | None = None) -> GitleaksConfig | None:
    """The gitleaks config of a scan (see :func:`find`), translated; None when there is none."""
    found = find(scan_root, explicit, environ)
    if found is None:
        return None
    name, text = found
    base_dir = Path(name).parent if name != "GITLEAKS_CONFIG_TOML" else Path.cwd()
    config = parse(text, name, base_dir)
    _cache().save()
    return config


def parse(text: str, source: str, base_dir: Path, depth: int = 0) -> GitleaksConfig:
    """Translate one gitleaks config (and the bases it extends)."""
    def fail(where: str, problem: str) -> GitleaksConfigError:
        return GitleaksConfigError(f"{source}: {where}{': ' if where else ''}{problem}")

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise fail("", f"not valid TOML ({exc}); fix the syntax") from None
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise fail("", f"unknown key {unknown[0]!r} (secretaudit reads: {', '.join(sorted(_TOP_KEYS))})")
    config = GitleaksConfig(source=source, digest=hashlib.sha256(text.encode()).hexdigest())

    extend = data.get("extend", {})
    if not isinstance(extend, dict):
        raise fail("[extend]", "expected a table")
    unknown = sorted(set(extend) - {"useDefault", "path", "disabledRules", "url"})
    if unknown:
        raise fail("[extend]", f"unknown key {unknown[0]!r} (allowed: useDefault, path, disabledRules)")
    if "url" in extend:
        raise fail("[extend]", "url is not supported (secretaudit reads no config over the network); download "
                               "it and use path")
    use_default = extend.get("useDefault")
    if use_default is not None and not isinstance(use_default, bool):
        raise fail("[extend] useDefault", "expected true or false")
    disabled = extend.get("disabledRules", [])
    if not isinstance(disabled, list) or not all(isinstance(d, str) for d in disabled):
        raise fail("[extend] disabledRules", "expected a list of rule ids")

    rules: dict[str, tuple[dict[str, Any], RuleExtras]] = {}
    if extend.get("path"):
        if depth >= MAX_EXTEND_DEPTH:
            raise fail("[extend] path", f"configs extend each other more than {MAX_EXTEND_DEPTH} levels deep")
        if not isinstance(extend["path"], str):
            raise fail("[extend] path", "expected a path")
        base_path = (base_dir / extend["path"]).resolve()
        base = parse(_read(base_path, f"{source} [extend] path"), str(base_path), base_path.parent, depth + 1)
        rules = {spec["id"]: (spec, extras) for spec, extras in base.rules}
        config.allowlists.extend(base.allowlists)
        config.disabled |= base.disabled
        config.notes.extend(base.notes)
        config.digest = hashlib.sha256((config.digest + base.digest).encode()).hexdigest()
        if use_default is None:
            use_default = base.use_default
    config.use_default = use_default
    config.disabled |= {slug(d) for d in disabled}

    for index, raw in enumerate(_tables(data, "allowlist", "allowlists", fail)):
        config.allowlists.append(_allowlist(raw, f"{'[[allowlists]]' if 'allowlists' in data else '[allowlist]'}"
                                                 f"[{index}]", fail, global_=True))

    raw_rules = data.get("rules", [])
    if not isinstance(raw_rules, list):
        raise fail("rules", "expected an array of tables ([[rules]])")
    for raw in raw_rules:
        translated = _rule(raw, fail, config.notes)
        if translated is not None:
            rules[translated[0]["id"]] = translated  # a rule of the base with the same id is replaced
    config.rules = [value for key, value in rules.items() if key not in config.disabled]
    return config


def _tables(data: dict[str, Any], old: str, new: str, fail: Any) -> list[dict[str, Any]]:
    """``[old]`` (one table) and ``[[new]]`` (an array) of a config or rule, as one list."""
    tables = []
    if old in data:
        if not isinstance(data[old], dict):
            raise fail(old, "expected a table")
        tables.append(data[old])
    if new in data:
        if not isinstance(data[new], list) or not all(isinstance(t, dict) for t in data[new]):
            raise fail(new, f"expected an array of tables ([[{new}]])")
        tables.extend(data[new])
    return tables


class _FitCache:
    """What :func:`fit` and :func:`_spans_lines` said about each regex, kept between runs.

    Checking a regex costs milliseconds; a config holding gitleaks' whole
    default set (222 rules, 250 allowlist patterns) would add most of a
    second to every pre-commit run.  Results are plain data in a marshal
    file of the cache directory, keyed by the regex, the options and the
    source of the modules that decide them (a change of the check starts
    afresh); refusals are not kept, so they are always explained anew.
    """

    #: Entries kept at most (every regex of every config seen; gitleaks' default has about 500).
    LIMIT = 20_000

    def __init__(self) -> None:
        self.entries: dict[str, Any] = {}
        self.dirty = False
        self.path: str | None = None
        try:
            from secretaudit import cache_location
            from secretaudit.checks import gitleaks_regex, regex_safety

            version = hashlib.sha256(b"1")
            for module in (regex_safety, gitleaks_regex):
                version.update(Path(module.__file__ or "").read_bytes())
            self.path = os.path.join(cache_location.cache_dir(), f"gitleaks-fit-{version.hexdigest()[:16]}.marshal")
            with open(self.path, "rb") as handle:
                import marshal

                stored = marshal.load(handle)
            if isinstance(stored, dict) and len(stored) < self.LIMIT:  # past the limit: start afresh
                self.entries = stored
        except (OSError, EOFError, ValueError, TypeError):
            pass  # no cache yet, or a damaged one: computed afresh and rewritten

    def fit(self, pattern: str, adapt: bool, strip_lead: bool = False) -> tuple[str, list, Any]:
        key = f"{int(adapt)}{int(strip_lead)}:{pattern}"
        found = self.entries.get(key)
        if not (isinstance(found, tuple) and len(found) == 3):
            fitted = fit(pattern, re.ASCII, adapt=adapt, strip_lead=strip_lead)
            found = self.entries[key] = (fitted.pattern, [list(p) for p in fitted.lowered],
                                         list(fitted.lead) if fitted.lead else None)
            self.dirty = True
        return found

    def translate(self, go_regex: str) -> tuple[str, int]:
        """(Python regex, number of groups) of an RE2 regex."""
        key = f"re2:{go_regex}"
        found = self.entries.get(key)
        if not (isinstance(found, tuple) and len(found) == 2):
            python = translate(go_regex)
            found = self.entries[key] = (python, _compile(python).groups)
            self.dirty = True
        return found

    def spans_lines(self, pattern: str) -> bool:
        key = f"spans:{pattern}"
        if not isinstance(self.entries.get(key), bool):
            self.entries[key] = _spans_lines(pattern)
            self.dirty = True
        return self.entries[key]

    def save(self) -> None:
        if not (self.dirty and self.path):
            return
        import marshal

        from secretaudit.atomicfile import replace_quietly

        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            replace_quietly(self.path, marshal.dumps(self.entries))
        except (OSError, ValueError):
            pass


_fits: _FitCache | None = None


def _cache() -> _FitCache:
    global _fits
    if _fits is None:
        _fits = _FitCache()
    return _fits


def _pattern(go_regex: Any, where: str, fail: Any) -> re.Pattern[str]:
    """A regex of an allowlist or a rule path, translated, fitted and compiled."""
    if not isinstance(go_regex, str) or not go_regex:
        raise fail(where, "expected a non-empty regex string")
    try:
        return lazy_compile(_cache().fit(_cache().translate(go_regex)[0], adapt=True)[0], re.ASCII)
    except (RegexTranslationError, UnsafeRegex) as exc:
        raise fail(where, f"{exc}") from None


def _strings(value: Any, where: str, fail: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise fail(where, "expected a list of strings")
    return value


def _allowlist(raw: dict[str, Any], where: str, fail: Any, global_: bool = False) -> Allowlist:
    unknown = sorted(set(raw) - _ALLOWLIST_KEYS - (set() if global_ else {"targetRules"}))
    if unknown or (not global_ and "targetRules" in raw):
        key = unknown[0] if unknown else "targetRules"
        raise fail(where, f"unknown key {key!r} (allowed: {', '.join(sorted(_ALLOWLIST_KEYS))}; "
                          "targetRules only in a global [[allowlists]])")
    condition = str(raw.get("condition", "OR")).upper()
    if condition not in ("OR", "AND"):
        raise fail(f"{where}.condition", "expected OR or AND")
    target = raw.get("regexTarget", "secret")
    if target not in _TARGETS:
        raise fail(f"{where}.regexTarget", f"expected one of {', '.join(_TARGETS)}")
    commits = tuple(_strings(raw.get("commits", []), f"{where}.commits", fail))
    allowlist = Allowlist(
        description=str(raw.get("description", "")),
        condition=condition,
        paths=tuple(_pattern(p, f"{where}.paths", fail) for p in _strings(raw.get("paths", []), f"{where}.paths", fail)),
        regexes=tuple(_pattern(p, f"{where}.regexes", fail)
                      for p in _strings(raw.get("regexes", []), f"{where}.regexes", fail)),
        target=target,
        stopwords=tuple(w.lower() for w in _strings(raw.get("stopwords", []), f"{where}.stopwords", fail) if w),
        commits=commits,
        rules=frozenset(slug(r) for r in _strings(raw["targetRules"], f"{where}.targetRules", fail))
        if "targetRules" in raw else None,
    )
    if commits and condition == "AND" and allowlist.content_criteria:
        raise fail(where, "condition AND over commits and paths/regexes/stopwords is not supported (commits are "
                          "matched on history findings, the rest while scanning); split it into two allowlists")
    if not commits and not allowlist.content_criteria:
        raise fail(where, "an allowlist needs commits, paths, regexes or stopwords")
    return allowlist


def _title(rule_id: str, description: Any) -> str:
    """A short title from gitleaks' sentence-long descriptions ("Identified a potential X, which could...")."""
    if not isinstance(description, str) or not description.strip():
        return rule_id
    text = re.split(r"[,.;](?:\s|$)", description.strip(), maxsplit=1)[0].strip()
    return text if len(text) <= 100 else text[:97].rsplit(" ", 1)[0] + "..."


def _rule(raw: Any, fail: Any, notes: list[str]) -> tuple[dict[str, Any], RuleExtras] | None:
    """One ``[[rules]]`` table as (canonical rule table, extras), or None for a path-only rule."""
    if not isinstance(raw, dict):
        raise fail("[[rules]]", "each rule must be a table")
    raw_id = raw.get("id")
    if not isinstance(raw_id, str) or not raw_id.strip():
        raise fail("[[rules]]", "a rule needs an 'id'")
    where = f"rule {raw_id!r}"
    unknown = sorted(set(raw) - _RULE_KEYS)
    if unknown:
        raise fail(where, f"unknown key {unknown[0]!r} (secretaudit reads: {', '.join(sorted(_RULE_KEYS))})")
    rule_id = slug(raw_id)
    path = _pattern(raw["path"], f"{where} path", fail) if "path" in raw else None
    if "regex" not in raw:
        if path is None:
            raise fail(where, "a rule needs a regex (or a path)")
        notes.append(f"gitleaks rule {raw_id!r} has a path and no regex (a file that is a secret in itself): "
                     "secretaudit's SA104 covers credential files; the rule is not used")
        return None
    if not isinstance(raw["regex"], str) or not raw["regex"]:
        raise fail(where, "regex must be a non-empty string")
    try:
        python, groups = _cache().translate(raw["regex"])
        group = raw.get("secretGroup", 0)
        if isinstance(group, bool) or not isinstance(group, int) or group < 0:
            raise fail(f"{where} secretGroup", "expected a group number")
        if group > groups:
            raise fail(f"{where} secretGroup", f"the regex has {groups} group(s), not {group}")
        fitted_pattern, lowered, fitted_lead = _cache().fit(python, adapt=True, strip_lead=groups > 0)
    except RegexTranslationError as exc:
        raise fail(where, f"regex cannot be used: {exc}") from None
    except UnsafeRegex as exc:
        raise fail(where, f"{exc}") from None
    entropy = raw.get("entropy", 0)
    if isinstance(entropy, bool) or not isinstance(entropy, (int, float)) or not 0 <= entropy <= 8:
        raise fail(f"{where} entropy", "expected a number of bits per character from 0 to 8")
    keywords = _strings(raw.get("keywords", []), f"{where} keywords", fail)
    tokens = list(dict.fromkeys(form for k in keywords if k for form in (k, k.lower(), k.upper(), k.title())))
    allowlists = tuple(_allowlist(a, f"{where} allowlist", fail) for a in _tables(raw, "allowlist", "allowlists", fail))
    lead = (lazy_compile(fitted_lead[0], re.ASCII), fitted_lead[1]) if fitted_lead else None
    extras = RuleExtras(group=group, allowlists=allowlists, path=path, whole_text=_cache().spans_lines(fitted_pattern),
                        lead=lead, anywhere=not tokens)
    spec = {"id": rule_id, "title": _title(raw_id, raw.get("description")), "severity": "critical",
            "regex": fitted_pattern, "prefix": "", "tokens": [[t, ""] for t in tokens or [_ANYWHERE]],
            "keywords": [], "entropy": float(entropy), "validator": "", "multiline": False, "structured": False,
            "priority": 2, "allow": {"values": [], "regexes": [], "paths": []}, "source": "",
            "samples": {"positive": [], "negative": []}}  # the canonical form of rulebook.normalize
    if lowered:
        notes.append(f"gitleaks rule {raw_id!r}: unbounded repeats bounded for Python's backtracking engine ("
                     + ", ".join(f"{piece} at most {bound}" for piece, bound in lowered[:3]) + ")")
    return spec, extras


#: The prefilter token of a rule without keywords: no text holds it (the rule runs over every file instead).
_ANYWHERE = "\x00gitleaks-anywhere\x00"


def _spans_lines(pattern: str) -> bool:
    """Whether the regex is written to match across lines, so it must run over whole files.

    It is when it names a line break on its own (``\\n``, ``[\\r\\n]``) or
    repeats a class holding both line breaks and letters (``(?s:.)``,
    ``[\\s\\S]``); a blank class (``\\s``, ``[\\s'"]``) is not enough, or
    every keyword rule would read whole files.
    """
    from secretaudit.checks.regex_safety import _Analyzer, _NEWLINE

    analyzer = _Analyzer(pattern, re.ASCII)
    top = analyzer.seq(list(analyzer.tree), analyzer.flags, [], False, 0)
    letter = 1 << ord("a")
    space = 1 << ord(" ")
    for piece in (top, *_Analyzer.walk(top)):
        if piece.kind == "set" and piece.content & _NEWLINE and not piece.content & space:
            return True
        if piece.kind == "repeat" and piece.content & _NEWLINE and piece.content & letter:
            return True
    return False
