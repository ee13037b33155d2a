"""SA101: credentials in a known, recognisable format.

Most leaked credentials are issued by a provider that stamps them with a
fixed shape: a literal prefix (``ghp_``, ``AKIA``, ``xoxb-``), a fixed length
and charset, sometimes a checksum.  Matching that shape exactly is far more
precise than entropy guessing, so this check knows a table of such formats
and reports every value that fits one.  The formats are data: one
``[[rule]]`` per format in ``checks/rules/<family>.toml``, read and
validated by :mod:`secretaudit.checks.rulebook`.  A run uses a
:class:`RuleSet`: the built-in rules minus those the config disables, with
its severities, plus any extra rules, and its own prefilter.

Two passes keep it fast without changing what it finds:

* a **prefilter**: one compiled alternation of every rule's distinctive
  literals (its *tokens*) is searched over the whole file.  Most files contain
  none and cost one C-level scan.  Each alternative is anchored on one
  character of its token (the rest is checked forward and with a
  look-behind), and the anchor characters are chosen to be as rare in source
  code as possible, so the regex engine seldom stops;
* the **detailed pass** runs only the rules whose tokens were seen, and only
  on the lines where they were seen.

Every rule guarantees that each of its matches lies on a line containing one
of its tokens (a match contains a token, or a context keyword is required on
the match's line), so the detailed pass over the hit lines finds exactly what
it finds over the whole file: ``config.prefilter`` on and off give identical
detections.  Matches never span lines, except private key blocks, whose
windows are extended to their ``-----END`` line.
"""

from __future__ import annotations

import bisect
import re
import re._parser as _re_parser  # pattern widths (stable since 3.11)
from functools import lru_cache
from itertools import accumulate
from typing import Any, Iterable, NamedTuple, TYPE_CHECKING

from secretaudit.controls import HARDCODED_CREDENTIALS
from secretaudit.checks.lazyre import LazyPattern, lazy_compile
from secretaudit.checks.rulebook import Rule, Token, builtin_rules, entropy
from secretaudit import multiscan, patterns
from secretaudit.multiscan import PatternSet
from secretaudit.hookspec import hookimpl
from secretaudit.model import CheckSpec, Detection, FileItem, Severity
from secretaudit.stash import RULES_DIGEST, RULE_NOTES, WAIVERS_EXTRA, StashKey

if TYPE_CHECKING:
    from secretaudit.config import Config
    from secretaudit.registry import CheckRegistry

CHECK_ID = "SA101"

SPEC = CheckSpec(
    id=CHECK_ID,
    title="Known-format credential committed to the repository",
    severity=Severity.CRITICAL,
    description=(
        "A value with the exact shape of a provider-issued credential (AWS access key, "
        "GitHub or GitLab token, Slack, Stripe, OpenAI, private key block, ...) is "
        "present in a tracked file.  Anyone with read access to the repository or "
        "its history can use it."
    ),
    remediation=(
        "Treat the credential as compromised: rotate or revoke it at the provider first, "
        "then move the new one to a secrets manager (HashiCorp Vault, AWS Secrets Manager) "
        "and read it at run time (environment or SDK), never from source.  Removing the "
        "line does not help on its own: the value stays in the git history."
    ),
    tags=("hardcoded", "credentials"),
    controls=HARDCODED_CREDENTIALS,
)


# --- placeholders ---------------------------------------------------------------

_FAKE_WORDS = lazy_compile(
    r"example|placeholder|replace_?me|change_?me|redacted|your_?(?:api_?)?(?:key|token|secret)"
    r"|not_?a_?real|0123456789|123456789|abcdefghij",
    re.IGNORECASE,
)
_RUN = lazy_compile(r"(.)\1{7}")


def looks_fake(body: str, structured: bool = False) -> bool:
    """Documentation examples and hand-written placeholders, not real credentials.

    ``AKIAIOSFODNN7EXAMPLE``, ``ghp_xxxxxxxx...``, ``sk_live_0000...``: random
    bodies essentially never contain a dictionary word of seven letters, a
    counting sequence or a run of eight identical characters.
    """
    if len(set(body)) < 4 or _FAKE_WORDS.search(body):
        return True
    return not structured and _RUN.search(body) is not None


# --- the rule sets -------------------------------------------------------------------


class RuleSet:
    """The rules one run uses, with the prefilter built for exactly them (on first need).

    Built from the built-in rules (minus the disabled ones, with the
    configured severities) plus extra rules; sets are cached per content
    (:func:`ruleset`), so a worker or a second config with the same rules
    reuses the prefilter instead of building it again.
    """

    __slots__ = ("rules", "by_slug", "path_rules", "whole_text", "anywhere", "_prefilter", "_probes", "_folded",
                 "_token_set")

    def __init__(self, rules: tuple[Rule, ...]) -> None:
        self.rules = rules
        self.by_slug: dict[str, Rule] = {rule.slug: rule for rule in rules}
        if len(self.by_slug) != len(rules):
            raise ValueError("duplicate rule id in a rule set")
        #: indexes of the rules with an allowlist of paths (most have none)
        self.path_rules = tuple(i for i, rule in enumerate(rules) if rule.allow_paths or (
            rule.extra is not None and rule.extra.path is not None))
        #: rules run over the whole file: gitleaks rules that span lines, or without keywords (``anywhere``)
        self.anywhere = frozenset(i for i, rule in enumerate(rules) if rule.extra is not None and rule.extra.anywhere)
        self.whole_text = tuple(i for i, rule in enumerate(rules)
                                if rule.extra is not None and (rule.extra.whole_text or rule.extra.anywhere))
        self._prefilter: tuple[re.Pattern[str], dict[str, tuple[_Probe, ...]]] | None = None
        self._probes: tuple[tuple[str, LazyPattern | None, tuple[int, ...]], ...] | None = None
        self._folded: tuple[tuple[str, str, tuple[int, ...]], ...] | None = None
        self._token_set: tuple[PatternSet, tuple[tuple[int, int], ...]] | None = None

    def prefilter(self) -> tuple[re.Pattern[str], dict[str, tuple[_Probe, ...]]]:
        """The one-pass prefilter and its probes (built on first use: ~45 ms)."""
        if self._prefilter is None:
            self._prefilter = _build_prefilter(self.rules)
        return self._prefilter

    def literal_probes(self) -> tuple[tuple[str, LazyPattern | None, tuple[int, ...]], ...]:
        """(literal, tail check or None, rule indexes) per token, for :func:`_hit_rules_by_literal`.

        A token without a tail needs no check once ``str.find`` found its
        literal, so no pattern is compiled for it.
        """
        if self._probes is None:
            owners: dict[Token, list[int]] = {}
            for index, rule in enumerate(self.rules):
                for token in rule.tokens:
                    owners.setdefault(token, []).append(index)
            tokens = sorted(owners, key=lambda token: (token.literal, token.tail))
            self._probes = tuple(
                (token.literal, lazy_compile(re.escape(token.literal) + token.tail, re.ASCII) if token.tail else None,
                 tuple(owners[token]))
                for token in tokens)
            folded: dict[tuple[str, str], list[int]] = {}
            for index, token in enumerate(tokens):
                # (only ASCII folds: str.lower() of other text can change its length or depend on the next
                # letter, a final sigma; a non-ASCII literal, from a custom rule's keyword, is its own group)
                key = token.literal.lower() if token.literal.isascii() else token.literal
                folded.setdefault((key, token.tail), []).append(index)
            self._folded = tuple((lower, tail, tuple(members)) for (lower, tail), members in folded.items())
        return self._probes

    def folded_probes(self) -> tuple[tuple[str, str, tuple[int, ...]], ...]:
        """(lower-case literal, tail, indexes into :meth:`literal_probes`) per token, case aside.

        Key names are listed in several spellings (``ABLY``, ``Ably``,
        ``ably``): about 840 tokens, 540 once case is set aside.  The
        prefilters look for each group once, case-insensitively, and only
        where one is present for its exact spellings.  A literal that is not
        ASCII is not lower-cased: its group is itself, looked for as is.
        """
        if self._folded is None:
            self.literal_probes()
        assert self._folded is not None
        return self._folded

    def token_set(self) -> tuple[PatternSet, tuple[tuple[int, int], ...]]:
        """Every token group of :meth:`folded_probes` as one :class:`~secretaudit.multiscan.PatternSet`.

        In the order of :meth:`folded_probes`: the literal in any case, then
        the tail as is; with each pattern's shortest and longest match: a
        reported end then bounds where the token can start.
        """
        if self._token_set is None:
            groups = self.folded_probes()
            sources = [(f"(?i:{re.escape(lower)})" if lower.isascii() and lower != lower.upper() else re.escape(lower))
                       + tail for lower, tail, _members in groups]
            # (a bare literal's width is its length: only the tails are parsed, not several hundred patterns)
            widths = tuple(_re_parser.parse(re.escape(lower) + tail, re.ASCII).getwidth() if tail
                           else (len(lower), len(lower)) for lower, tail, _members in groups)
            self._token_set = (PatternSet(sources, kept_min_bytes=TOKEN_SET_KEPT_BYTES,
                                          compile_min_bytes=TOKEN_SET_COMPILE_BYTES), widths)
        return self._token_set

    def skipped_for(self, path: str) -> frozenset[int]:
        """Indexes of the rules whose allowlist skips the file at ``path``."""
        if not path or not self.path_rules:
            return frozenset()
        return frozenset(i for i in self.path_rules if any(p.search(path) for p in self.rules[i].allow_paths)
                         or self.rules[i].extra is not None and self.rules[i].extra.path is not None
                         and not self.rules[i].extra.path.search(path))


@lru_cache(maxsize=1)
def builtin_set() -> RuleSet:
    """The built-in rules, as shipped (what a run without rule settings uses)."""
    return RuleSet(builtin_rules())


_SETS: dict[tuple[Rule, ...], RuleSet] = {}


def ruleset(rules: tuple[Rule, ...]) -> RuleSet:
    """The :class:`RuleSet` of exactly ``rules``, shared by every caller that asks for the same rules."""
    if rules == builtin_rules():
        return builtin_set()
    found = _SETS.get(rules)
    if found is None:
        if len(_SETS) >= 8:
            _SETS.clear()
        found = _SETS[rules] = RuleSet(rules)
    return found


def __getattr__(name: str) -> Any:
    """``RULES`` and ``RULES_BY_SLUG``: the built-in rules, read from their files on first use."""
    if name == "RULES":
        return builtin_set().rules
    if name == "RULES_BY_SLUG":
        return builtin_set().by_slug
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --- the prefilter -------------------------------------------------------------------

#: How often each printable ASCII character occurs in source code, per
#: 100,000 characters (measured once over CPython's standard library).  The
#: prefilter stops at every occurrence of its lead characters, so it picks
#: leads that are rare in ordinary code.
_ORDER = "&$^~;?!JYZQX@%<|KHVUWB}{jGz/O+M\\FDL79q8P6R`C>I54N#3AS*ET][kw2v-1x0by'=g:h\")(.mu_fp,dcloniraste "
_COUNTS = (
    7, 10, 11, 12, 13, 16, 17, 17, 22, 24, 28, 30, 30, 32, 38, 39, 39, 58, 63, 71, 83, 86, 89, 90, 94, 97, 118,
    120, 124, 128, 134, 135, 145, 152, 153, 155, 157, 162, 162, 171, 178, 198, 199, 204, 208, 209, 215, 221, 239,
    266, 280, 295, 296, 299, 306, 320, 324, 325, 372, 411, 439, 443, 515, 572, 614, 622, 691, 778, 806, 864, 884,
    962, 1000, 1091, 1331, 1331, 1342, 1426, 1448, 1582, 1650, 1686, 1722, 1792, 1833, 2459, 3188, 3321, 3344,
    3748, 3809, 4015, 4482, 6445, 26405,
)
_FREQ = dict(zip(_ORDER, _COUNTS))
#: Every extra lead character adds an alternative the engine checks at each
#: candidate position; this is its cost in the same unit.
_LEAD_PENALTY = 40


def _choose_leads(literals: list[str]) -> dict[str, int]:
    """For every literal, the index of the character the prefilter anchors on.

    A greedy weighted set cover: choose lead characters so that every literal
    contains one and their total frequency is small (``npm_``, ``ntn_`` and
    ``hf_`` share ``_`` rather than each adding ``m``, ``t``, ``h``).  Within
    a literal the rarest chosen character wins, preferring an occurrence
    with literal characters after it (cheaper to reject).
    """
    def cost(char: str) -> int:
        return _FREQ.get(char, 1) + _LEAD_PENALTY

    uncovered = set(literals)
    chosen: set[str] = set()
    while uncovered:
        counts: dict[str, int] = {}
        for literal in uncovered:
            for char in set(literal):
                counts[char] = counts.get(char, 0) + 1
        best = min(counts, key=lambda c: (cost(c) / counts[c], c))
        chosen.add(best)
        uncovered = {lit for lit in uncovered if best not in lit}
    # Local search: drop a lead if re-covering its literals with their cheapest
    # characters costs less (a greedy early pick can become a bad deal).
    # (Each literal's characters and cheapest character are computed once: with several hundred tokens the
    # search was a fifth of a second per process.)
    char_sets = [frozenset(literal) for literal in literals]
    cheapest = [min(chars, key=lambda c: (cost(c), c)) for chars in char_sets]
    improved = True
    while improved:
        improved = False
        for char in sorted(chosen, key=cost, reverse=True):
            rest = chosen - {char}
            extra: set[str] = set()
            for chars, cheap in zip(char_sets, cheapest):
                if chars.isdisjoint(rest) and chars.isdisjoint(extra):
                    extra.add(cheap)
            if sum(map(cost, rest | extra)) < sum(map(cost, chosen)):
                chosen, improved = rest | extra, True
                break
    # An alternative whose lead is the literal's last character starts with a
    # look-behind, which costs several times a forward literal to reject.
    def weight(literal: str, i: int) -> tuple[int, int]:
        return (_FREQ.get(literal[i], 1) * (1 if i < len(literal) - 1 else 4), i)

    return {
        literal: min((i for i, c in enumerate(literal) if c in chosen), key=lambda i: weight(literal, i))
        for literal in literals
    }


class _Probe(NamedTuple):
    """A token as the prefilter sees it: found at its lead character."""

    lead_offset: int  # index of the lead character inside the literal
    verify: LazyPattern  # literal + tail, matched at the token's start
    rules: tuple[int, ...]  # indexes into the rule set's rules


def _lookbehind(texts: Iterable[str]) -> str:
    """``(?<=a|b)`` per width (look-behinds must be fixed-width), or-ed together."""
    by_width: dict[int, set[str]] = {}
    for text in texts:
        by_width.setdefault(len(text), set()).add(text)
    parts = ["(?<=" + "|".join(re.escape(t) for t in sorted(ts)) + ")" for _, ts in sorted(by_width.items())]
    return parts[0] if len(parts) == 1 else "(?:" + "|".join(parts) + ")"


def _build_prefilter(rules: tuple[Rule, ...]) -> tuple[re.Pattern[str], dict[str, tuple[_Probe, ...]]]:
    """One alternation over all tokens, grouped by lead character.

    Token ``AKIA`` led by ``K`` becomes ``KIA(?<=AKIA)``: the engine skips in
    C to each ``K``, checks the rest forward, then the whole literal with a
    fixed-width look-behind (which is what checks the ``A`` before the lead).  Every top-level alternative starts with a
    literal, which is what lets ``re`` use its first-character skip loop.
    Tokens that end in their lead (``ntn_``, ``figd_``) are checked behind a
    shared gate on the last three characters, so a frequent lead such as
    ``_`` is rejected with one look-behind instead of one per token.
    """
    owners: dict[Token, list[int]] = {}
    for index, rule in enumerate(rules):
        for token in rule.tokens:
            owners.setdefault(token, []).append(index)
    leads = _choose_leads(sorted({token.literal for token in owners}))
    forward: dict[str, dict[tuple[str, str], set[str]]] = {}  # lead -> (after, tail) -> literals
    backward: dict[str, dict[str, set[str]]] = {}  # lead -> tail -> befores (token ends at lead)
    probes: dict[str, list[_Probe]] = {}
    for token, indexes in owners.items():
        lit, lead = token.literal, leads[token.literal]
        char, after, before = lit[lead], lit[lead + 1:], lit[:lead + 1]
        probes.setdefault(char, []).append(
            _Probe(lead, lazy_compile(re.escape(lit) + token.tail, re.ASCII), tuple(indexes)))
        if after or len(before) == 1:
            # "" when the literal starts at its lead: nothing to look behind at.
            forward.setdefault(char, {}).setdefault((after, token.tail), set()).add(lit if lead else "")
        else:
            backward.setdefault(char, {}).setdefault(token.tail, set()).add(before)
    parts = []
    for char in sorted(probes, key=lambda c: (-_FREQ.get(c, 1), c)):
        alternatives = []
        for (after, tail), literals in sorted(forward.get(char, {}).items(), key=lambda kv: (-len(kv[0][0]), kv[0])):
            behind = "" if "" in literals else _lookbehind(literals)
            # Forward literal first (cheap to reject), then the whole literal
            # behind the cursor, then the tail.
            alternatives.append(re.escape(after) + behind + tail)
        if char in backward:
            entries = backward[char]
            exact = "|".join(_lookbehind(befores) + tail for tail, befores in sorted(entries.items()))
            width = min(3, *(len(b) for befores in entries.values() for b in befores))
            gate = _lookbehind({b[-width:] for befores in entries.values() for b in befores})
            alternatives.append(f"{gate}(?:{exact})")
        if "" in alternatives:
            parts.append(re.escape(char))
        else:
            parts.append(re.escape(char) + "(?:" + "|".join(alternatives) + ")")
    return patterns.compile("|".join(parts), re.ASCII), {c: tuple(p) for c, p in probes.items()}


@lru_cache(maxsize=1)
def prefilter() -> tuple[re.Pattern[str], dict[str, tuple[_Probe, ...]]]:
    """The built-in rule set's prefilter and its probes, built on first use.

    Building and compiling it costs about 45 ms, which a run that scans no
    file (a fully cached rescan, ``secretaudit checks``, ``status``) should
    not pay.
    """
    return builtin_set().prefilter()


# --- scanning ----------------------------------------------------------------------

#: (rule, secret, start offset, end offset, visible prefix)
Hit = tuple[Rule, str, int, int, str]


#: Characters of text a process scans token by token before it builds the
#: one-pass prefilter.  Building it (choosing leads, compiling one alternation
#: of ~840 tokens, ~35 ms) costs about as much as looking for every token
#: literal, one ``str.find`` each (~0.35 µs per character for all of them),
#: over a tenth of a megabyte: a pre-commit hook over a few files never pays
#: for it, a repository scan pays once per worker.  (Only without the
#: accelerator, which takes over much earlier: see the next two.)
LITERAL_SCAN_BUDGET = 96 << 10

#: Characters of text a process scans token by token before it uses the
#: token set (:mod:`secretaudit.multiscan`) when its compiled database is
#: kept from an earlier run: importing the library and loading it (~5 ms)
#: costs what the literal search spends on ~13 KB.
TOKEN_SET_KEPT_BYTES = 12 << 10

#: The same when the database must first be compiled (~35 ms, then kept).
TOKEN_SET_COMPILE_BYTES = 32 << 10

_literal_bytes = 0


_PLUS_ONE = (1).__add__  # a line's length with its newline


class _Lines:
    """Line bounds of offsets in one text, for many lookups.

    The last line found is remembered, and after a few lookups elsewhere a
    sorted index of line starts is built: a token repeated along one long
    line (``AKIAAKIA...``, a megabyte of it) must not cost a scan of the line
    per occurrence, which made the prefilter quadratic.
    """

    __slots__ = ("text", "_last", "_misses", "_starts")

    #: Lookups answered by scanning for newlines before the index is built.
    MISSES_BEFORE_INDEX = 32

    def __init__(self, text: str) -> None:
        self.text = text
        self._last = (0, 0)
        self._misses = 0
        self._starts: list[int] | None = None

    def bounds(self, at: int) -> tuple[int, int]:
        """(start, end) of the line holding offset ``at``; ``end`` is past its newline."""
        last = self._last
        if last[0] <= at < last[1]:
            return last
        text = self.text
        if self._starts is None and self._misses < self.MISSES_BEFORE_INDEX:
            self._misses += 1
            nl = text.find("\n", at)
            last = (text.rfind("\n", 0, at) + 1, len(text) if nl == -1 else nl + 1)
        else:
            starts = self._starts
            if starts is None:  # each line's start: the lengths before it, summed in C (a find per line was 10x)
                starts = self._starts = list(accumulate(map(_PLUS_ONE, map(len, text.split("\n")[:-1])), initial=0))
            i = bisect.bisect_right(starts, at)
            last = (starts[i - 1], starts[i] if i < len(starts) else len(text))
        self._last = last
        return last


class _Windows:
    """The prefilter's answer being built: per rule index, the line windows to search.

    One window per rule and line: later hits on a line only extend a
    private key window (through a later ``-----END``), so a line full of
    tokens costs the detailed pass one search, not one per token.
    """

    __slots__ = ("text", "rules", "lines", "by_rule", "_end_from", "_end_at")

    def __init__(self, text: str, rules: tuple[Rule, ...]) -> None:
        self.text = text
        self.rules = rules
        self.lines = _Lines(text)
        self.by_rule: dict[int, list[tuple[int, int]]] = {}
        self._end_from, self._end_at = len(text) + 1, -1  # the last "-----END" search: from where, found where

    def add(self, at: int, rules: tuple[int, ...]) -> None:
        """Record the line of the token hit at ``at`` (through the key block) for each rule."""
        line_start, line_end = self.lines.bounds(at)
        for index in rules:
            end = self._block_end(at, line_end) if self.rules[index].multiline else line_end
            spans = self.by_rule.setdefault(index, [])
            if spans and spans[-1][0] == line_start:
                if end > spans[-1][1]:
                    spans[-1] = (line_start, end)
            else:
                spans.append((line_start, end))

    def has_line(self, index: int, at: int) -> bool:
        """Whether rule ``index`` already searches the line of ``at``."""
        spans = self.by_rule.get(index)
        return bool(spans) and spans[-1][0] == self.lines.bounds(at)[0]

    def _block_end(self, at: int, line_end: int) -> int:
        """End of a private key window: through its ``-----END`` line, and the next line.

        The marker search is remembered: hits come in increasing order, and
        a text of ``-----BEGIN ... KEY-----`` lines without an ``-----END``
        must not be searched to its end once per line.
        """
        text = self.text
        end = self.lines.bounds(line_end)[1] if line_end < len(text) else len(text)
        if not (self._end_from <= at and (self._end_at == -1 or self._end_at >= at)):
            self._end_from, self._end_at = at, text.find("-----END", at)
        if self._end_at != -1:
            end = max(end, self.lines.bounds(self._end_at)[1])
        return end


def _hit_rules_by_literal(text: str, rules: RuleSet | None = None) -> dict[int, list[tuple[int, int]]]:
    """The windows of :func:`_hit_rules`, found with one ``str.find`` loop per token.

    Every occurrence of every token literal whose tail matches: the same
    windows as the one-pass prefilter (they are merged and sorted before use,
    so their order does not matter).
    """
    rules = rules or builtin_set()
    windows = _Windows(text, rules.rules)
    find = text.find
    probes = rules.literal_probes()
    # Each group once in the lower-cased text (ASCII letters lower one to one, so a token in the text is there
    # too; a non-ASCII character that lowers to ASCII only adds a false lead), then its spellings exactly.
    lowered = text.lower()
    for lower, _tail, members in rules.folded_probes():
        if lower in (lowered if lower.isascii() else text):  # most tokens are in no file: no call for them
            for index in members:
                literal, verify, indexes = probes[index]
                if find(literal) != -1:
                    _find_token(windows, literal, verify, indexes, 0, len(text))
    return windows.by_rule


def _find_token(windows: _Windows, literal: str, verify: LazyPattern | None, rules: tuple[int, ...],
                start: int, end: int) -> None:
    """Every hit of one token in ``text[start:end]`` into ``windows``.

    Once a line is recorded for the token's rules, the rest of that line is
    skipped (the window would not change), except for private keys, whose
    window depends on the last token of the line.
    """
    text = windows.text
    find = text.find
    multiline = any(windows.rules[index].multiline for index in rules)
    at = find(literal, start, end)
    while at != -1:
        if verify is None or verify.match(text, at) is not None:
            windows.add(at, rules)
            if not multiline:
                at = find(literal, windows.lines.bounds(at)[1], end)
                continue
        at = find(literal, at + 1, end)


def _hit_rules_by_set(text: str, rules: RuleSet | None = None) -> dict[int, list[tuple[int, int]]] | None:
    """The windows of :func:`_hit_rules_by_literal`, from one pass of the token set; None if it cannot run.

    Each reported end bounds the token's start to a few characters; the
    literal is looked for there and confirmed with the same tail check,
    so the hits are exactly the literal-by-literal ones.  A token already
    recorded on its line is not looked at again (private keys excepted).
    """
    rules = rules or builtin_set()
    token_set, widths = rules.token_set()
    if not multiscan.accelerates(text, token_set):
        return None
    windows = _Windows(text, rules.rules)
    probes = rules.literal_probes()
    groups = rules.folded_probes()
    find = text.find
    confirmed: set[tuple[int, int]] = set()
    for group, end in token_set.ends(text):
        shortest, longest = widths[group]
        for index in groups[group][2]:  # the group's exact spellings
            literal, verify, indexes = probes[index]
            # (per hit, not per token and file: a file costs nothing for the hundreds of tokens absent from it)
            if all(windows.has_line(rule, end - 1) for rule in indexes) and not any(
                    rules.rules[i].multiline for i in indexes):
                continue  # a token never spans lines: this one's line is recorded already
            at = find(literal, max(0, end - longest), end - shortest + len(literal))
            while at != -1:
                if (at, index) not in confirmed:
                    confirmed.add((at, index))
                    if verify is None or verify.match(text, at) is not None:
                        windows.add(at, indexes)
                at = find(literal, at + 1, end - shortest + len(literal))
    return windows.by_rule


#: Prefilter hits on one line after which the rest of the line is searched
#: token by token (``str.find``) instead of hit by hit: a line made of one
#: token repeated would otherwise cost a round of probes per occurrence.
MAX_HITS_PER_LINE = 16


def _hit_rules(text: str, rules: RuleSet | None = None) -> dict[int, list[tuple[int, int]]]:
    """Run the prefilter; return, per rule index, the line windows to search.

    With the accelerator (:mod:`secretaudit.multiscan`) every token is found in
    one pass.  Without it, one regex alternation over all tokens: the search
    restarts one character after each hit, so every occurrence of every
    token is seen, even overlapping ones; past :data:`MAX_HITS_PER_LINE` hits
    on a line, the rest of it is searched literal by literal.  Until this
    process has scanned :data:`LITERAL_SCAN_BUDGET` characters (and unless
    the prefilter is built already), tokens are looked for literal by
    literal instead.
    """
    global _literal_bytes
    rules = rules or builtin_set()
    by_set = _hit_rules_by_set(text, rules)
    if by_set is not None:
        return by_set
    if _literal_bytes < LITERAL_SCAN_BUDGET and rules._prefilter is None:
        _literal_bytes += len(text)
        return _hit_rules_by_literal(text, rules)
    windows = _Windows(text, rules.rules)
    # (the built-in set through prefilter(), whose cache_info() tells whether a run built it)
    pattern, probes = prefilter() if rules is builtin_set() else rules.prefilter()
    search = pattern.search
    pos = 0
    line_hits = 0
    last_line: tuple[int, int] = (-1, -1)
    while True:
        match = search(text, pos)
        if match is None:
            return windows.by_rule
        at = match.start()
        pos = at + 1
        if last_line[0] <= at < last_line[1]:
            line_hits += 1
            if line_hits > MAX_HITS_PER_LINE:
                for literal, verify, indexes in rules.literal_probes():
                    _find_token(windows, literal, verify, indexes, max(0, at - len(literal) + 1), last_line[1])
                pos = last_line[1]
                continue
        else:
            last_line, line_hits = windows.lines.bounds(at), 1
        for probe in probes[text[at]]:
            start = at - probe.lead_offset
            if start < 0 or probe.verify.match(text, start) is None:
                continue
            windows.add(at, probe.rules)


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    spans.sort()
    out: list[tuple[int, int]] = []
    for start, end in spans:
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


class _Context:
    """Whether a context rule's keyword is on a match's line, outside the match.

    The same answers as searching the line before and after each match,
    without searching a long line again for each of its matches (which was
    quadratic on a line of many candidates): matches come in increasing
    order, "a keyword before" stays true once true, "a keyword after" stays
    true up to the keyword found, and each search resumes where the last
    one stopped.
    """

    __slots__ = ("text", "search", "width", "line", "before_end", "before_scanned", "after_at", "after_none")

    def __init__(self, rule: Rule, text: str) -> None:
        assert rule.context_regex is not None
        self.text = text
        self.search = rule.context_regex.search
        # Each character of a phrase (a blank: one optional separator) matches one character.
        self.width = max(map(len, rule.context))
        self.line = (0, -1)

    def holds(self, start: int, end: int) -> bool:
        text = self.text
        line_start, line_end = self.line
        if not (line_start <= start <= line_end):
            line_start = text.rfind("\n", 0, start) + 1
            nl = text.find("\n", end)
            self.line = line_start, line_end = line_start, len(text) if nl == -1 else nl
            self.before_end, self.before_scanned = -1, line_start  # a keyword ends at before_end; none before scanned
            self.after_at, self.after_none = -1, line_end + 1  # a keyword starts at after_at; none from after_none
        if self._before(start, line_start):
            return True
        if end >= self.after_none:
            return False
        if end <= self.after_at:
            return True
        found = self.search(text, end, line_end)
        if found is None:
            self.after_none = end
            return False
        self.after_at = found.start()
        return True

    def _before(self, start: int, line_start: int) -> bool:
        if 0 <= self.before_end <= start:
            return True
        # Nothing lies wholly before before_scanned: a keyword before start ends after it.
        resume = max(line_start, self.before_scanned - self.width)
        found = self.search(self.text, resume, start)
        if found is None:
            self.before_scanned = max(self.before_scanned, start)
            return False
        self.before_end = found.end()
        return True


def _accept(rule: Rule, text: str, match: re.Match[str], context: _Context | None = None,
            path: str = "") -> Hit | None:
    """Apply the context, placeholder and structural checks to one regex match.

    ``context`` is the rule's :class:`_Context` for ``text``, when matches
    are checked in increasing order (as :func:`find_credentials` does).
    ``path`` is the file's, for gitleaks allowlists (``rule.extra``).
    """
    groups = rule.regex.groupindex
    span = rule.extra.span(match) if rule.extra is not None else None
    if span is not None:
        secret, (start, end) = text[span[0]:span[1]], span
    elif "secret" in groups:
        secret, start, end = match.group("secret"), match.start("secret"), match.end("secret")
    else:
        secret, start, end = match.group(0), match.start(), match.end()
    prefix = match.group("prefix") if "prefix" in groups else rule.prefix
    if rule.context_regex is not None:
        if context is None:
            context = _Context(rule, text)
        if not context.holds(start, end):
            return None
    body = secret[len(prefix):] if prefix and secret.startswith(prefix) else secret
    if looks_fake(body, rule.structured):
        return None
    if rule.entropy and entropy(body) < rule.entropy:
        return None
    if rule.validate is not None and not rule.validate(secret, prefix):
        return None
    if secret in rule.allow_values or any(allowed.search(secret) for allowed in rule.allow_regexes):
        return None
    if rule.extra is not None and rule.extra.allowed(text, match, secret, path):
        return None
    return rule, secret, start, end, prefix


def _dedupe(hits: list[Hit]) -> list[Hit]:
    """Keep one finding per span: exact formats beat generic ones, longer beats shorter.

    Two rules can match the same characters (a generic context rule and an
    exact format); reporting both would double-count one credential.
    """
    hits.sort(key=lambda h: (-h[0].priority, -(h[3] - h[2]), h[2], h[0].slug))
    starts: list[int] = []  # kept spans, sorted and disjoint
    ends: list[int] = []
    kept: list[Hit] = []
    for hit in hits:
        i = bisect.bisect_right(starts, hit[2])
        if (i and ends[i - 1] > hit[2]) or (i < len(starts) and starts[i] < hit[3]):
            continue
        starts.insert(i, hit[2])
        ends.insert(i, hit[3])
        kept.append(hit)
    kept.sort(key=lambda h: (h[2], h[0].slug))
    return kept


def find_credentials(text: str, prefilter: bool = True, rules: RuleSet | None = None,
                     path: str = "") -> list[Hit]:
    """All known-format credentials in ``text``, in order of position.

    With ``prefilter`` each rule only runs on the lines where one of its
    tokens occurs; without it every rule runs over the whole text.  The
    results are identical (see the module docstring for why).  ``rules``
    defaults to the built-in set; ``path`` (the file's relative path) lets
    a rule's path allowlist skip it.
    """
    hits: list[Hit] = []
    if not text:
        return hits  # (SA108 asks about the values of Secret manifests, which most files have none of)
    rules = rules or builtin_set()
    if prefilter:
        windows = _hit_rules(text, rules)
        for index in rules.whole_text:  # rules from a gitleaks config that span lines or have no keywords
            if index in windows or index in rules.anywhere:
                windows[index] = [(0, len(text))]
        if not windows:
            return hits
        skipped = rules.skipped_for(path)  # (only now: path allowlists cost a regex each, most files hit no rule)
        for index in sorted(windows):
            if index in skipped:
                continue
            rule = rules.rules[index]
            context = _Context(rule, text) if rule.context_regex is not None else None
            for start, end in _merged(windows[index]):
                for match in rule.regex.finditer(text, start, end):
                    hit = _accept(rule, text, match, context, path)
                    if hit is not None:
                        hits.append(hit)
    else:
        skipped = rules.skipped_for(path)
        for index, rule in enumerate(rules.rules):
            if index in skipped:
                continue
            context = _Context(rule, text) if rule.context_regex is not None else None
            for match in rule.regex.finditer(text):
                hit = _accept(rule, text, match, context, path)
                if hit is not None:
                    hits.append(hit)
    return _dedupe(hits)


def scan_item(item: FileItem, prefilter: bool = True, rules: RuleSet | None = None) -> list[Detection]:
    """Turn the credentials of one file into detections (line of the first character).

    A rule whose severity differs from SA101's (``severity`` in its rule
    file, or ``rules.severity`` in the config) gives its findings that
    severity.
    """
    return [
        Detection(check_id=CHECK_ID, line=item.line_of(start), secret=secret, label=rule.label,
                  visible_prefix=prefix, rule=rule.slug,
                  severity=None if rule.severity == SPEC.severity.label else Severity.parse(rule.severity))
        for rule, secret, start, _end, prefix in find_credentials(item.text, prefilter, rules, item.relpath)
    ]


# --- the rules of one run -------------------------------------------------------------

#: the run's rule set, built once
RULE_SET: StashKey["RuleSet"] = StashKey("SA101.rules")
#: Keys of the ``rules`` setting (the engine keeps it raw; this check validates it).


def active_rules(config: "Config") -> RuleSet:
    """The rule set of this run (kept in the config's stash: one lookup per file).

    The built-in rules as shipped, unless the config's ``rules:`` or a
    gitleaks config changes them (:mod:`secretaudit.checks.custom_rules`).
    """
    found = config.stash.get(RULE_SET)
    if found is None:
        from secretaudit.checks import custom_rules

        if custom_rules.uses_defaults(config):
            found = builtin_set()
        else:
            rules, commits, notes, digest = custom_rules.configured_rules(config, _finds)
            found = ruleset(rules)
            # for the engine: history findings from allowlisted commits are waived, and the scan cache
            # is keyed by what the gitleaks config says (the rules: setting already is)
            config.stash.setdefault(WAIVERS_EXTRA, []).extend(commits)
            config.stash[RULES_DIGEST] = digest
            config.stash[RULE_NOTES] = notes
        config.stash[RULE_SET] = found
    return found


# --- hooks ---------------------------------------------------------------------------


@hookimpl
def secretaudit_register_checks(registry: "CheckRegistry") -> None:
    """Put SA101 in the catalogue (``secretaudit checks``, reports, ``--fail-on``)."""
    registry.add(SPEC)


def _finds(rule: Rule, line: str) -> bool:
    """Whether ``rule`` alone finds a credential in ``line`` (a custom rule's sample)."""
    return any(hit[0].slug == rule.slug for hit in find_credentials(line, rules=ruleset((rule,))))


@hookimpl
def secretaudit_configure(config: "Config") -> None:
    """Read the run's rules now: a bad ``rules`` setting, custom rule or gitleaks config is exit 4 before anything
    is scanned.  With the built-in set as is nothing is loaded here: the rule files are read when the first file
    is scanned (a fully cached rescan never reads them)."""
    from secretaudit.checks import custom_rules

    if config.is_enabled(CHECK_ID) and not custom_rules.uses_defaults(config):
        active_rules(config)


@hookimpl
def secretaudit_list_rules(config: "Config") -> list[dict[str, Any]]:
    """Every SA101 rule, for ``secretaudit rules``: disabled ones too, marked."""
    active = active_rules(config).by_slug
    listed = []
    builtin = builtin_rules()
    slugs = {rule.slug for rule in builtin}
    for rule in (*builtin, *(rule for rule in active_rules(config).rules if rule.slug not in slugs)):
        effective = active.get(rule.slug, rule)
        listed.append({
            "id": rule.slug, "check": CHECK_ID, "title": rule.label, "severity": effective.severity,
            "enabled": rule.slug in active, "file": rule.source,
            "family": rule.source.rsplit(".", 1)[0] if rule.source.endswith(".toml") else rule.source,
            "tokens": [t.literal if not t.tail else {"literal": t.literal, "tail": t.tail} for t in rule.tokens],
            "keywords": list(rule.context), "validator": rule.validator, "entropy": rule.entropy,
            "priority": rule.priority, "samples": {"positive": rule.samples[0], "negative": rule.samples[1]},
        })
    return listed


@hookimpl
def secretaudit_scan_file(item: FileItem, config: "Config") -> list[Detection] | None:
    """Report every known-format credential in one file.

    ``config.prefilter`` only changes the speed, never the result; a disabled
    check costs nothing.
    """
    if not config.is_enabled(CHECK_ID):
        return None
    return scan_item(item, config.prefilter, active_rules(config)) or None
