"""Every known-format rule (checks/rules/*.toml) against its own samples, and against its worst input.

Each rule carries positive and negative sample lines.  A positive must be
found by exactly this rule (not by a more generic one, not twice); a negative
by no rule at all.  Both are checked with the prefilter on and off, since a
rule file's tokens decide which lines the prefilter hands the rule.  Rule
files added later are picked up automatically.
"""

from __future__ import annotations

import re
import time
from typing import Iterator

import pytest

from secretaudit.checks import known_formats as kf
from secretaudit.checks import rulebook

SAMPLES = rulebook.load_samples()
RULES = kf.builtin_set().rules


def _ids(rules: tuple[rulebook.Rule, ...]) -> list[str]:
    return [rule.slug for rule in rules]


def test_every_rule_file_loads_and_every_rule_has_samples() -> None:
    assert [path.name for path in rulebook.rule_files()]  # the files ship next to the code
    assert set(SAMPLES) == {rule.slug for rule in RULES}
    for rule in RULES:
        positive, negative = SAMPLES[rule.slug]
        assert positive and negative, rule.slug
        assert rule.samples == (len(positive), len(negative)), rule.slug


@pytest.mark.parametrize("rule", RULES, ids=_ids(RULES))
def test_positive_samples_are_found_by_exactly_their_rule(rule: rulebook.Rule) -> None:
    for line in SAMPLES[rule.slug][0]:
        for prefilter in (True, False):
            hits = kf.find_credentials(line, prefilter=prefilter)
            found = [hit[0].slug for hit in hits]
            assert found == [rule.slug], f"{rule.slug}: positive sample found by {found} (prefilter={prefilter})"


@pytest.mark.parametrize("rule", RULES, ids=_ids(RULES))
def test_negative_samples_are_found_by_no_rule(rule: rulebook.Rule) -> None:
    for line in SAMPLES[rule.slug][1]:
        for prefilter in (True, False):
            found = [hit[0].slug for hit in kf.find_credentials(line, prefilter=prefilter)]
            assert found == [], f"{rule.slug}: negative sample found by {found} (prefilter={prefilter})"


# --- linear time ----------------------------------------------------------------------

MB = 1 << 20


def _literals(rule: rulebook.Rule) -> list[str]:
    """What the rule's matches start from: its prefix, token literals and one spelling per keyword."""
    found = [rule.prefix, *(token.literal for token in rule.tokens), *(k.replace(" ", "_") for k in rule.context)]
    return [literal for literal in dict.fromkeys(found) if literal][:4]


def _body_chars(rule: rulebook.Rule) -> list[str]:
    """A few characters the rule's body accepts (the first of each character class), plus a dash and a dot."""
    classes = re.findall(r"\[\^?(\\?.)", rule.regex.pattern)
    chars = [c[-1] for c in classes if c[-1] not in "^]"] + ["a", "0", "-", "."]
    return list(dict.fromkeys(chars))[:6]


def _worst_inputs(rule: rulebook.Rule) -> Iterator[tuple[str, tuple[bool, ...]]]:
    """(text, prefilter modes), small sizes first: the token repeated on one line, a prefix and an endless body.

    The token repeated to 1 MB runs the rule's regex over the whole text
    (prefilter off: what a rule author controls); the prefilter's own cost
    per token hit is the engine's, covered at full size by tests/adversarial
    (here 256 KB).  64 KB of body is plenty: a quadratic pattern takes
    minutes on it.  Small sizes come first, so a bad rule fails in seconds
    instead of running for hours.
    """
    for scale in (64, 8, 1):
        for literal in _literals(rule):
            yield literal * (MB // scale // len(literal)), (False,)
            yield literal * (MB // 4 // scale // len(literal)), (True,)
            for char in _body_chars(rule):
                yield literal + char * (MB // 16 // scale), (True, False)  # one prefix, then a body that never ends
                yield (literal + char) * (MB // 16 // scale // (len(literal) + 1)), (True, False)  # pairs, repeated


@pytest.mark.parametrize("rule", RULES, ids=_ids(RULES))
def test_rule_is_linear_on_its_worst_repeated_prefix_input(rule: rulebook.Rule) -> None:
    """The rule alone (with its own prefilter) over its worst inputs, up to 1 MB each: well under 10 s in all."""
    alone = kf.ruleset((rule,))
    start = time.perf_counter()
    for text, modes in _worst_inputs(rule):
        for prefilter in modes:
            kf.find_credentials(text, prefilter=prefilter, rules=alone)
            elapsed = time.perf_counter() - start
            assert elapsed < 10, f"{rule.slug}: {elapsed:.1f} s on its worst inputs ({len(text)} characters)"
