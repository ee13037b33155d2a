"""The SA101 rules of one run: built-in, custom (the config's ``rules:``) and from ``.gitleaks.toml``.

The config's ``rules`` mapping::

    rules:
      disable: [slack-webhook]              # built-in rule ids turned off
      severity: {generic-password: medium}  # per rule
      extend: true                          # false: only the custom and gitleaks rules run
      gitleaks: .gitleaks.toml              # a gitleaks config to read (false: read none)
      custom:
        - id: acme-live-token
          title: Acme live API token
          prefix: acme_live_
          body: "[A-Za-z0-9]{32}"
          severity: high

A custom rule is a rule-file table (see the README: ``regex``, or
``prefix`` + ``body``; ``tokens``, ``keywords``, ``entropy``, ``allowlist``,
``samples``...).  Samples are optional; when given, each positive must be
found by the rule and no negative may be.  Every pattern must match in
linear time (:mod:`secretaudit.checks.regex_safety`).  A custom rule with
the id of a built-in one replaces it.  Anything wrong is one line naming the
rule, exit 4, before anything is scanned.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from secretaudit.checks.rulebook import SEVERITIES, Rule, RuleError, builtin_rules, compile_rule
from secretaudit.stash import SCAN_ROOT

if TYPE_CHECKING:
    from secretaudit.config import Config

KEYS = ("disable", "severity", "extend", "gitleaks", "custom")


def _fail(source: str, key: str, problem: str) -> Exception:
    """A one-line usage error (exit 4).  Not a ConfigError: that one would hide the rule's regex pieces."""
    from secretaudit.errors import UsageError

    return UsageError(f"{source}: {key}: {problem}")


def _unknown_id(rule_id: Any, known: list[str]) -> str:
    """"unknown rule id 'github-pta'; did you mean 'github-pat'?" (never more than a short, printable name)."""
    import difflib

    from secretaudit.redact import shown_name

    close = difflib.get_close_matches(rule_id, known, n=1, cutoff=0.6) if isinstance(rule_id, str) else []
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"unknown rule id {shown_name(rule_id)}{hint} ('secretaudit rules' lists the ids)"


def _settings(config: "Config") -> dict[str, Any]:
    raw = config.settings.get("rules") or {}
    source = config.source or "config"
    unknown = [key for key in raw if key not in KEYS]
    if unknown:
        from secretaudit.redact import shown_name

        raise _fail(source, "rules", f"unknown key {shown_name(unknown[0])} (allowed: {', '.join(KEYS)})")
    for key, kind, what in (("disable", list, "a list of rule ids"), ("severity", dict, "a mapping of rule id to "
                            "severity"), ("custom", list, "a list of rule tables"), ("extend", bool, "true or false")):
        if key in raw and not isinstance(raw[key], kind):
            raise _fail(source, f"rules.{key}", f"expected {what}")
    if "gitleaks" in raw and not (raw["gitleaks"] is False or isinstance(raw["gitleaks"], str)):
        raise _fail(source, "rules.gitleaks", "expected the path of a gitleaks config, or false to read none")
    return raw


def _custom(entries: list[Any], source: str, finds: "Callable[[Rule, str], bool]") -> list[Rule]:
    """The config's custom rules, compiled and checked (linear time, samples when given)."""
    rules = []
    for index, entry in enumerate(entries):
        where = f"{source} rules.custom[{index}]"
        if not isinstance(entry, dict):
            raise _fail(where, "rule", "expected a rule table (id, title, regex or prefix + body, ...)")
        try:
            rule = compile_rule(entry, where, require_samples=False)
        except RuleError as exc:
            from secretaudit.errors import UsageError

            raise UsageError(str(exc)) from None
        samples = entry.get("samples") or {}
        for kind in ("positive", "negative"):
            for number, line in enumerate(samples.get(kind, [])):
                found = finds(rule, line)
                if found != (kind == "positive"):
                    raise _fail(f"{where}: rule {rule.slug!r}", f"samples.{kind}[{number}]",
                                "is not found by the rule; fix the pattern or the sample" if found is False
                                else "is found by the rule, but is a negative sample; fix the pattern or the sample")
        rules.append(rule)
    return rules


def _gitleaks(config: "Config", explicit: Any) -> "tuple[Any, list[Rule]]":
    """The gitleaks config of this scan, and its rules compiled."""
    from secretaudit.checks.gitleaks_config import GitleaksConfigError, load
    from secretaudit.checks.rulebook import build
    from secretaudit.errors import UsageError

    root = Path(config.stash.get(SCAN_ROOT, config.rootdir))
    if isinstance(explicit, str) and config.source and not Path(explicit).is_absolute():
        explicit = str(Path(config.source).parent / explicit)
    try:
        gitleaks = load(root, explicit)
    except GitleaksConfigError as exc:
        raise UsageError(str(exc)) from None
    if gitleaks is None:
        return None, []
    rules = [build({**spec, "source": gitleaks.source})._replace(extra=extras) for spec, extras in gitleaks.rules]
    return gitleaks, rules


def _with_allowlists(rule: Rule, allowlists: list[Any]) -> Rule:
    """``rule`` under the global gitleaks allowlists that target it (all, or those naming its id)."""
    from dataclasses import replace

    from secretaudit.checks.gitleaks_config import RuleExtras

    applicable = tuple(a for a in allowlists if a.content_criteria and (a.rules is None or rule.slug in a.rules))
    if not applicable:
        return rule
    extra = rule.extra or RuleExtras()
    return rule._replace(extra=replace(extra, allowlists=extra.allowlists + applicable))


def configured_rules(config: "Config", finds: "Callable[[Rule, str], bool]"
                     ) -> tuple[tuple[Rule, ...], list[Any], list[str], str]:
    """(rules, engine allowlists, notes, digest) of this run, from ``rules:`` and the gitleaks config.

    ``finds(rule, line)`` tells whether SA101 with only ``rule`` finds something in ``line`` (for samples).

    ``digest`` changes whenever anything here changes what SA101 finds (it
    keys the scan cache): the custom rules are in the config's ``rules``
    setting, already part of the key; a gitleaks config is read from its
    own file.
    """
    raw = _settings(config)
    source = config.source or "config"
    builtins = builtin_rules()
    known = {rule.slug for rule in builtins}
    custom = _custom(raw.get("custom", []), source, finds)
    gitleaks, from_gitleaks = _gitleaks(config, raw.get("gitleaks"))
    use_builtins = raw.get("extend", True) and not (gitleaks is not None and gitleaks.use_default is False)
    rules: dict[str, Rule] = {rule.slug: rule for rule in builtins} if use_builtins else {}
    disabled = set(raw.get("disable", [])) | (gitleaks.disabled if gitleaks else set())
    for rule in from_gitleaks:
        rules[rule.slug] = rule  # a gitleaks rule with a built-in's id replaces it, as in an extended gitleaks config
    for rule in custom:
        if rule.slug in {r.slug for r in from_gitleaks}:
            raise _fail(source, "rules.custom", f"rule {rule.slug!r} is also defined in {gitleaks.source}; keep one")
        rules[rule.slug] = rule
    for rule_id in raw.get("disable", []):
        if not isinstance(rule_id, str) or rule_id not in rules and rule_id not in known:
            raise _fail(source, "rules.disable", _unknown_id(rule_id, [*rules, *known]))
    severities = raw.get("severity", {})
    for rule_id, level in severities.items():
        if rule_id not in rules and rule_id not in known:
            raise _fail(source, "rules.severity", _unknown_id(rule_id, [*rules, *known]))
        if level not in SEVERITIES:
            raise _fail(source, f"rules.severity.{rule_id}", f"expected one of {', '.join(SEVERITIES)}")
    chosen = []
    for slug, rule in rules.items():
        if slug in disabled:
            continue
        if slug in severities:
            rule = rule._replace(severity=severities[slug])
        if gitleaks is not None:
            rule = _with_allowlists(rule, gitleaks.allowlists)
        chosen.append(rule)
    commits = gitleaks.engine_allowlists() if gitleaks else []
    notes = list(gitleaks.notes) if gitleaks else []
    material = json.dumps([gitleaks.digest if gitleaks else "", gitleaks.source if gitleaks else ""])
    return tuple(chosen), commits, notes, hashlib.sha256(material.encode()).hexdigest()


def uses_defaults(config: "Config") -> bool:
    """Whether the run can use the built-in rule set as is (no rule settings, no gitleaks config to look for)."""
    raw = config.settings.get("rules") or {}
    if raw:
        return False
    root = Path(config.stash.get(SCAN_ROOT, config.rootdir))
    import os

    return not (os.environ.get("GITLEAKS_CONFIG") or os.environ.get("GITLEAKS_CONFIG_TOML")
                or (root / ".gitleaks.toml").is_file())
