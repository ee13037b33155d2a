"""The linear-time check of user regexes, and the RE2 translation gitleaks configs need.

Static verdicts first (what is refused and why, what is accepted), then the
runtime side: what the check accepts really runs in time linear in the line
length (1 MiB costs about 16x what 64 KiB costs, not 256x), and what it
refuses really blows up under Python's backtracking matcher.  Timing asserts
are ratios with generous slack and absolute limits far above the measured
times, so a loaded machine does not fail them.
"""

from __future__ import annotations

import re
import time
import tomllib
from pathlib import Path

import pytest

from secretaudit.checks import regex_safety as rs
from secretaudit.checks.gitleaks_config import parse
from secretaudit.checks.gitleaks_regex import RegexTranslationError, translate

GITLEAKS_DEFAULT = Path(__file__).parent / "fixtures" / "gitleaks" / "default.toml"
GENERIC = (r"""(?i)(?:key)(?:[ \t\w.-]{0,20})[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}"""
           r"""([a-z0-9]{32})(?:['|"\n\r\s\x60;]|$)""")


def gitleaks_rules() -> list[dict]:
    return [r for r in tomllib.loads(GITLEAKS_DEFAULT.read_text())["rules"] if "regex" in r]


# --- verdicts ---------------------------------------------------------------------------


@pytest.mark.parametrize("pattern,words", [
    (r"(a+)+$", ["nested repetition '(a+)+'", "exponential"]),
    (r"(\w+\s?)*$", ["nested repetition '(\\w+\\s?)*'", "exponential"]),
    (r"acme_(a|ab|b)*c", ["nested repetition", "exponential"]),
    (r"\w+\w+x", ["'\\w+' and '\\w+' can trade characters"]),
    (r"=.*.*=", ["'.*' and '.*' can trade characters"]),
    (r"\s*[ \t]*x", ["'\\s*' and '[ \\t]*' can trade characters"]),
    (r"\w{0,40}\w{0,40}\w{0,40}x", ["can trade characters", "lower their bounds"]),
    (r"[a-z]+X", ["'[a-z]+' is tried again from every start position", "bound it"]),
    (r"(a|ab)*c", ["is tried again from every start position"]),
    (r"([a-z0-9]+\.)+com\b", ["is tried again from every start position"]),
    (r"(.)\1", ["backreference"]),
    (r"(?P<x>a)(?P=x)", ["backreference"]),
    (r"a{1,5000}", ["larger than 4096"]),
])
def test_refused_with_the_piece_and_the_fix(pattern: str, words: list[str]) -> None:
    with pytest.raises(rs.UnsafeRegex) as caught:
        rs.check(pattern, "acme-token", re.ASCII)
    message = str(caught.value)
    assert message.startswith("rule 'acme-token': ")
    assert "\n" not in message
    for word in words:
        assert word in message, message


@pytest.mark.parametrize("pattern", [
    GENERIC,
    "(?i)[\\w.-]{0,50}?" + GENERIC[4:],  # with gitleaks' leading lazy prefix
    r"ghp_[A-Za-z0-9]{36}", r"ghp_[A-Za-z0-9]+", r"acme_live_[A-Za-z0-9]{32}(?![A-Za-z0-9])",
    r"xoxb-[0-9]{10,13}-[0-9]{10,13}[a-zA-Z0-9-]*", r"(?:[a-z0-9]{4}-){3}[a-z0-9]{12}",
    r"\b(eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})", r"\bcurl\b.*-u",
    r"(?i)-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY-----[\s\S-]{64,1024}?-----END",
    r"AKIA[A-Z2-7]{16}", r"[a-z]+", r"(?:[a-z]{1,8}\.)?example", r"a{4096}",
])
def test_accepted(pattern: str) -> None:
    assert rs.problems(pattern, re.ASCII) == []


def test_unbounded_repeats_are_bounded_when_fitted() -> None:
    fitted = re.compile(rs.fit(r"ghp_[A-Za-z0-9]+x.*y", re.ASCII).pattern)
    assert "{1,4096}" in fitted.pattern and ".{0,256}" in fitted.pattern
    assert fitted.fullmatch("ghp_" + "a" * 4096 + "x" + "-" * 256 + "y")
    assert not fitted.fullmatch("ghp_" + "a" * 4097 + "xy")
    named = rs.fit(r"(?i)key=(?P<secret>[a-z]+)", re.ASCII).pattern
    assert named.startswith("(?i)") and "{1,4096}" in named
    assert re.fullmatch(named, "KEY=Abc", re.ASCII).group("secret") == "Abc"


def test_adapting_lowers_bounds_of_rules_written_for_re2() -> None:
    with pytest.raises(rs.UnsafeRegex):
        rs.fit(r"acme_\w+\w+x", re.ASCII)
    fitted = rs.fit(r"acme_\w+\w+x", re.ASCII, adapt=True)
    assert fitted.lowered and all(bound >= rs.FLOOR for _piece, bound in fitted.lowered)
    with pytest.raises(rs.UnsafeRegex, match="exponential"):
        rs.fit(r"acme_(a+)+$", re.ASCII, adapt=True)  # no bound makes nested unbounded repetition safe


def test_leading_lazy_prefix_is_taken_off_and_the_match_is_the_same() -> None:
    pattern = r"(?i)[\w.-]{0,50}?(?:key)(?:[ \t\w.-]{0,20})[\s'\"]{0,3}[=:][\s'\"]{0,5}([a-z0-9]{32})\b"
    fitted = rs.fit(pattern, re.ASCII, strip_lead=True)
    assert fitted.lead is not None and fitted.lead[1] == 50
    text = "x = 1; my_api_key = 'abcdefghij0123456789abcdefghij01' and key:0123456789abcdefghij0123456789ab"  # pragma: allowlist secret
    original = [m.group(1) for m in re.finditer(pattern, text, re.ASCII)]
    stripped = [m.group(1) for m in re.finditer(fitted.pattern, text, re.ASCII)]
    assert original == stripped and len(original) == 2


def test_every_gitleaks_default_rule_is_accepted_after_translation() -> None:
    rules = gitleaks_rules()
    assert len(rules) == 221  # 222 rules, one of them (pkcs12-file) a path without a regex
    for rule in rules:
        fitted = rs.fit(translate(rule["regex"]), re.ASCII, adapt=True, strip_lead=True)
        re.compile(fitted.pattern, re.ASCII)


def test_the_gitleaks_default_config_translates_without_error() -> None:
    config = parse(GITLEAKS_DEFAULT.read_text(), str(GITLEAKS_DEFAULT), GITLEAKS_DEFAULT.parent)
    assert len(config.rules) == 221
    assert len(config.allowlists) == 1 and config.allowlists[0].paths and config.allowlists[0].stopwords
    generic = dict((spec["id"], extras) for spec, extras in config.rules)["generic-api-key"]
    assert {a.target for a in generic.allowlists} == {"secret", "match", "line"}
    assert any("pkcs12-file" in note for note in config.notes)


# --- the RE2 translation ------------------------------------------------------------------


@pytest.mark.parametrize("go,python", [
    (r"\bEAA[MC](?i)[a-z0-9]{100,}", r"\bEAA[MC](?i:[a-z0-9]{100,})"),
    (r"a(?i)b|c", r"a(?i:b)|(?i:c)"),
    (r"(?i)abc", r"(?i)abc"),
    (r"x(?-i:[Aa]pi|API)y", r"x(?-i:[Aa]pi|API)y"),
    (r"[[:alnum:]_]{3}", r"[0-9A-Za-z_]{3}"),
    (r"[[:^digit:]]", r"[^0-9]"),
    (r"abc\z", r"abc\Z"),
    (r"\x{41}\101", r"AA"),
    (r"\Q.*+\E", r"\.\*\+"),
    (r"(?<tok>[a-z]+)", r"(?P<tok>[a-z]+)"),
    (r"(?U)a+b*?", r"a+?b*"),
    (r"[a-z&&-]", r"[a-z\&\&\-]"),
])
def test_translation(go: str, python: str) -> None:
    assert translate(go) == python


def test_a_brace_re2_reads_literally_stays_literal() -> None:
    assert re.fullmatch(translate(r"a{,3}"), "a{,3}") and re.fullmatch(translate(r"{x}"), "{x}")


@pytest.mark.parametrize("go,reason", [
    (r"\pL+", "Unicode class"), (r"(a)\1", "backreference"), (r"(?=a)", "lookaround"), (r"a**", "nested repetition"),
    (r"a{1001}", "repeat count"), (r"[a", "missing ]"), (r"(a", "missing )"), (r"\C", "any byte"),
])
def test_translation_refuses_what_re2_or_python_cannot_do(go: str, reason: str) -> None:
    with pytest.raises(RegexTranslationError, match=re.escape(reason)):
        translate(go)


def test_translated_gitleaks_rules_match_what_they_should() -> None:
    """Each translated rule still finds a value of its format (the flags-in-the-middle rewrite included)."""
    facebook = re.compile(translate(r"\b(EAA[MC](?i)[a-z0-9]{100,})(?:[\x60'\"\s;]|\\[nr]|$)"), re.ASCII)
    assert facebook.search("token = EAAM" + "Ab1" * 40 + "\n")
    assert not facebook.search("token = eaam" + "ab1" * 40 + "\n")  # the prefix stays case-sensitive


# --- runtime ------------------------------------------------------------------------------

SMALL, BIG = 1 << 13, 1 << 17  # linear: 16x; quadratic: 256x
MAX_RATIO = 64


def _seconds(pattern: re.Pattern[str], text: str) -> float:
    started = time.perf_counter()
    for _ in pattern.finditer(text):
        pass
    return time.perf_counter() - started


def _worst_units(pattern: str, extra: tuple[str, ...] = ()) -> list[str]:
    """Repeated inputs that make a backtracking pattern work: its literals, with and without what follows."""
    literals = re.findall(r"[A-Za-z_]{3,}", pattern)[:2]
    units = [*extra, "a", " ", "a=", "0"]
    for word in literals:
        units += [word, word + " ", word + "=", word + "=a"]
    return list(dict.fromkeys(units))


def assert_linear(pattern: str, units: list[str]) -> None:
    compiled = re.compile(pattern, re.ASCII)
    for unit in units:
        small = min(_seconds(compiled, unit * (SMALL // len(unit))) for _ in range(2))
        big = _seconds(compiled, unit * (BIG // len(unit)))
        assert big < 20, f"{unit!r}: {big:.1f}s"
        assert big < MAX_RATIO * small + 0.5, f"{unit!r}: {big:.3f}s for {BIG}, {small:.4f}s for {SMALL}"


@pytest.mark.parametrize("pattern", [
    GENERIC, r"acme_live_[A-Za-z0-9]{32}", r"ghp_[A-Za-z0-9]+x", r"\bcurl\b.*-u", r"[a-z]{1,64}X",
    r"(?:[a-z0-9]{4}-){3}[a-z0-9]{12}",
])
def test_accepted_patterns_run_in_linear_time(pattern: str) -> None:
    fitted = rs.fit(pattern, re.ASCII, strip_lead=re.compile(pattern).groups > 0)
    assert_linear(fitted.pattern, _worst_units(pattern, ("acme_live_", "ghp_", "curl ", "curl -")))


ADAPTED = ["generic-api-key", "curl-auth-user", "curl-auth-header", "kubernetes-secret-yaml", "jwt", "private-key",
           "flyio-access-token", "cohere-api-token", "yandex-access-token", "slack-bot-token", "facebook-page-access-token"]


@pytest.mark.parametrize("rule_id", ADAPTED)
def test_translated_gitleaks_rules_run_in_linear_time(rule_id: str) -> None:
    """The costliest of gitleaks' rules, as secretaudit runs them, over their worst repeated inputs."""
    rule = next(r for r in gitleaks_rules() if r["id"] == rule_id)
    fitted = rs.fit(translate(rule["regex"]), re.ASCII, adapt=True, strip_lead=True)
    keywords = tuple(rule.get("keywords", []))[:2]
    extra = keywords + tuple(k + s for k in keywords for s in (" ", "= ", "=a"))
    special = {"curl-auth-user": ("curl -u ", " -u \"curl "), "curl-auth-header": ("curl -H \"", "curl curl "),
               "kubernetes-secret-yaml": ("kind: secret\ndata:\n  a: |", "data: a: |kind: secret data: ")}
    assert_linear(fitted.pattern, _worst_units("", extra + special.get(rule_id, ())))


@pytest.mark.parametrize("pattern,unit,tail,sizes", [
    (r"(a+)+$", "a", "!", (16, 20)),  # exponential: each 4 more characters cost 16x
    (r"(\w+\s?)*$", "a", "!", (14, 18)),
    (r"\w+\w+x", "a", "", (300, 600)),  # cubic over the search
    (r"[a-z]+X", "a", "", (4000, 16000)),  # quadratic
])
def test_refused_patterns_really_blow_up(pattern: str, unit: str, tail: str, sizes: tuple[int, int]) -> None:
    """What the check refuses is super-linear in fact: its time grows far faster than its input."""
    assert rs.problems(pattern, re.ASCII)
    compiled = re.compile(pattern)
    small = min(_seconds(compiled, unit * sizes[0] + tail) for _ in range(3))
    big = _seconds(compiled, unit * sizes[1] + tail)
    growth = sizes[1] / sizes[0]
    assert big > 3 * growth * small, f"{pattern}: {small:.4f}s -> {big:.4f}s for {growth}x the input"
