"""The rule loader (checks/rulebook.py): validation, the entropy and allowlist fields, the parsed-rules cache.

Rule tables here are written the way a rule file or a custom rule would be;
the credentials are built at test time (``secrets``), never literals.
"""

from __future__ import annotations

import os
import secrets
import string
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from secretaudit.checks import known_formats as kf
from secretaudit.checks import rulebook

ALNUM = string.ascii_letters + string.digits


def random_body(n: int = 32) -> str:
    while True:
        body = "".join(secrets.choice(ALNUM) for _ in range(n))
        if any(c.isupper() for c in body) and any(c.islower() for c in body) and any(c.isdigit() for c in body):
            return body


def acme(**extra: Any) -> dict[str, Any]:
    """An internal token format: ``acme_`` + 32 alphanumerics."""
    return {"id": "acme-token", "title": "Acme internal token", "prefix": "acme_", "body": "[A-Za-z0-9]{32}",
            "samples": {"positive": ["x"], "negative": ["y"]}, **extra}


def find(rule: rulebook.Rule, text: str, path: str = "") -> list[str]:
    alone = kf.ruleset((rule,))
    results = []
    for prefilter in (True, False):
        results.append([secret for _rule, secret, *_ in kf.find_credentials(text, prefilter, alone, path)])
    assert results[0] == results[1]
    return results[0]


# --- validation -----------------------------------------------------------------------


@pytest.mark.parametrize("change,expected", [
    ({"colour": "red"}, "unknown key 'colour'"),
    ({"id": "Acme Token"}, "needs an 'id'"),
    ({"title": ""}, "needs a 'title'"),
    ({"samples": None}, "needs [rule.samples]"),
    ({"samples": {"positive": [], "negative": ["y"]}}, "samples.positive must not be empty"),
    ({"body": "[A-Za-z0-9{32}"}, "not a valid regular expression"),
    ({"regex": "acme_[a-z]{8}"}, "either 'regex' or 'prefix' + 'body'"),
    ({"validator": "crc64"}, "unknown validator 'crc64'"),
    ({"severity": "urgent"}, "severity must be one of"),
    ({"end": "space"}, "end must be one of"),
    ({"entropy": 12}, "entropy must be a number"),
    ({"tokens": [{"literal": "acme_", "tail": "[a-z"}]}, "the tail of token 'acme_'"),
    ({"allowlist": {"regexes": ["(?i)example"], "files": ["docs/"]}}, "unknown allowlist key 'files'"),
    ({"allowlist": {"paths": ["docs/("]}}, "allowlist.paths entry is not a valid regular expression"),
])
def test_a_bad_rule_is_an_error_naming_the_file_and_the_rule(change: dict[str, Any], expected: str) -> None:
    data = {k: v for k, v in {**acme(), **change}.items() if v is not None}
    with pytest.raises(rulebook.RuleError) as info:
        rulebook.normalize(data, "acme.toml")
    message = str(info.value)
    assert expected in message
    assert message.startswith("acme.toml: ")
    if change.get("id") is None and "id" not in change:
        assert "'acme-token'" in message


def test_a_rule_without_any_prefilter_literal_is_refused() -> None:
    data = {"id": "loose", "title": "Loose", "regex": "[A-Za-z0-9]{40}", "samples": {"positive": ["x"],
                                                                                     "negative": ["y"]}}
    with pytest.raises(rulebook.RuleError, match="needs prefilter tokens"):
        rulebook.normalize(data, "loose.toml")


def test_a_duplicate_id_names_both_files() -> None:
    text = b'[[rule]]\nid = "acme-token"\ntitle = "A"\nprefix = "acme_"\nbody = "[a-z]{8}"\n' \
           b'[rule.samples]\npositive = ["x"]\nnegative = ["y"]\n'
    with pytest.raises(rulebook.RuleError) as info:
        rulebook.parse_files([("one.toml", text), ("two.toml", text)])
    assert str(info.value) == ("two.toml: rule 'acme-token': duplicate id (also in one.toml); rule ids must be "
                               "unique")


def test_broken_toml_and_stray_tables_are_errors() -> None:
    with pytest.raises(rulebook.RuleError, match="^bad.toml: not valid TOML"):
        rulebook.parse_files([("bad.toml", b"[[rule]\nid = 1\n")])
    with pytest.raises(rulebook.RuleError, match="^stray.toml: unknown top-level key 'rules'"):
        rulebook.parse_files([("stray.toml", b"[[rules]]\nid = 'x'\n")])


def test_the_builtin_rule_ids_are_unique_lowercase_and_every_rule_has_tokens() -> None:
    rules = rulebook.builtin_rules()
    assert len({rule.slug for rule in rules}) == len(rules) >= 128
    for rule in rules:
        assert rule.tokens and all(token.literal for token in rule.tokens), rule.slug
        assert rule.source.endswith(".toml") and rule.severity in rulebook.SEVERITIES


# --- custom rules: compile_rule ---------------------------------------------------------


def test_a_compiled_custom_rule_finds_its_token() -> None:
    rule = rulebook.compile_rule(acme(samples=None), "secretaudit.yaml")
    planted = "acme_" + random_body()
    assert find(rule, f"ACME_TOKEN = {planted!r}\nother = 'acme_short'\n") == [planted]


@pytest.mark.parametrize("regex", [
    r"acme_(?:[a-z0-9]+)+!",  # nested quantifiers: exponential
    r"acme_(?:[a-z]+[0-9]?)*x",
    r"acme_[a-z]*[a-z]*[a-z]*[a-z]*!",  # overlapping repeats side by side: polynomial
])
def test_a_pattern_that_is_not_linear_time_is_refused(regex: str) -> None:
    data = {"id": "acme-token", "title": "Acme", "regex": regex, "tokens": ["acme_"]}
    with pytest.raises(rulebook.RuleError) as info:
        rulebook.compile_rule(data, "secretaudit.yaml")
    message = str(info.value)
    assert message.startswith("secretaudit.yaml: rule 'acme-token': ")
    assert "nested repetition" in message or "repeated input" in message


# --- entropy and allowlist ---------------------------------------------------------------


def test_entropy_floor_drops_low_entropy_bodies() -> None:
    rule = rulebook.compile_rule(acme(samples=None, entropy=4.0), "<test>")
    strong = "acme_" + random_body()
    weak = "acme_" + "abcdAB12" * 4  # 8 distinct characters: 3 bits per character
    assert rulebook.entropy(weak[5:]) == 3.0
    assert find(rule, f"a = {strong}\nb = {weak}\n") == [strong]
    without_floor = rulebook.compile_rule(acme(samples=None), "<test>")
    assert find(without_floor, f"b = {weak}\n") == [weak]


def test_allowlist_values_regexes_and_paths() -> None:
    published, marked, real = ("acme_" + random_body() for _ in range(3))
    marked = marked[:-4] + "TEST"
    rule = rulebook.compile_rule(acme(samples=None, allowlist={
        "values": [published], "regexes": ["TEST$"], "paths": [r"(^|/)docs/"]}), "<test>")
    text = f"a = {published}\nb = {marked}\nc = {real}\n"
    assert find(rule, text, "src/settings.py") == [real]
    assert find(rule, text, "docs/guide.md") == []
    assert find(rule, text, "src/docs.py") == [real]


def test_validators_are_named_in_the_registry() -> None:
    rule = rulebook.compile_rule(acme(samples=None, validator="mixed-case-after-prefix"), "<test>")
    lower = "acme_" + "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(32))
    upper_lower = "acme_" + random_body()
    assert find(rule, f"x = {lower}\ny = {upper_lower}\n") == [upper_lower]


# --- the cache of parsed built-in rules -------------------------------------------------


def _load_in_fresh_process(cache_home: Path) -> str:
    code = ("from secretaudit.checks import rulebook\n"
            "rules = rulebook.builtin_rules()\n"
            "print(len(rules), sum(r.samples[0] for r in rules), rules[0].slug)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**os.environ, "XDG_CACHE_HOME": str(cache_home)})
    return proc.stdout


def test_the_parsed_rules_are_cached_and_a_damaged_cache_is_ignored(tmp_path: Path) -> None:
    first = _load_in_fresh_process(tmp_path)
    cache = tmp_path / "secretaudit" / "sa101-rules.marshal"
    assert cache.is_file()
    kept = cache.read_bytes()
    samples = [line for positive, _negative in rulebook.load_samples().values() for line in positive]
    assert not any(line.encode() in kept for line in samples)  # sample counts, not the sample lines
    assert _load_in_fresh_process(tmp_path) == first
    cache.write_bytes(b"\x00not marshal")
    assert _load_in_fresh_process(tmp_path) == first
    assert cache.read_bytes() == kept  # rewritten
