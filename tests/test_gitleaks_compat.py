"""Issue 15: custom rules in the config, and what a team brings from gitleaks.

Through the real CLI: a custom rule in ``secretaudit.yaml`` and one in
``.gitleaks.toml`` each find a planted internal token; a ``.gitleaksignore``
fingerprint and gitleaks allowlists (paths, regexes, stopwords) suppress
findings; ``[extend] useDefault`` decides whether the built-in rules run; a
catastrophic regex in either config is a one-line exit 4 in seconds, never a
stall.  Tokens are generated at test time.
"""

from __future__ import annotations

import secrets
import string
import time
from pathlib import Path

import pytest

from conftest import fake_aws_key_id, git, run_cli, run_json

ALNUM = string.ascii_letters + string.digits
GITLEAKS_DEFAULT = Path(__file__).parent / "fixtures" / "gitleaks" / "default.toml"

CUSTOM_YAML = """\
rules:
  custom:
    - id: acme-live-token
      title: Acme live API token
      prefix: acme_live_
      body: "[A-Za-z0-9]{32}"
      severity: high
"""

GITLEAKS_RULE = """\
[[rules]]
id = "acme-live-token"
description = "Acme live API token, which could give access to Acme's API."
regex = '''(?i)\\b(acme_live_[a-z0-9]{32})(?:['|\\"\\n\\r\\s\\x60;]|$)'''
keywords = ["acme_live_"]
"""


def acme_token() -> str:
    return "acme_live_" + "".join(secrets.choice(ALNUM) for _ in range(32))


@pytest.fixture
def tree(repo: Path) -> Path:
    """A repository with one planted Acme token (line 2 of app/.env) and nothing else to find."""
    (repo / "app").mkdir()
    (repo / "app" / ".env").write_text(f"DEBUG=1\nACME_KEY={acme_token()}\n")
    (repo / "README.md").write_text("Nothing secret here.\n")
    return repo


def sa101(report: dict) -> list[dict]:
    return [f for f in report["findings"] if f["check_id"] == "SA101"]


def test_without_a_rule_the_internal_token_is_not_found(tree: Path) -> None:
    proc, report = run_json("scan", ".", cwd=tree)
    assert proc.returncode == 0, proc.stderr
    assert sa101(report) == []


def test_custom_rule_in_secretaudit_yaml_finds_the_planted_token(tree: Path) -> None:
    (tree / "secretaudit.yaml").write_text(CUSTOM_YAML)
    proc, report = run_json("scan", ".", cwd=tree)
    assert proc.returncode == 1, proc.stderr
    [finding] = sa101(report)
    assert finding["location"] == {"path": "app/.env", "line": 2}
    assert finding["message"] == "Acme live API token"
    assert finding["evidence"].startswith("acme_live_…(redacted")


def test_custom_rule_in_gitleaks_toml_finds_the_planted_token(tree: Path) -> None:
    (tree / ".gitleaks.toml").write_text(GITLEAKS_RULE)
    proc, report = run_json("scan", ".", cwd=tree)
    assert proc.returncode == 1, proc.stderr
    [finding] = sa101(report)
    assert finding["location"] == {"path": "app/.env", "line": 2}
    assert finding["message"] == "Acme live API token"  # the description's first clause


def test_gitleaks_config_named_by_the_environment(tree: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "gitleaks-rules.toml"
    elsewhere.write_text(GITLEAKS_RULE)
    proc, report = run_json("scan", ".", cwd=tree, env={"GITLEAKS_CONFIG": str(elsewhere)})
    assert proc.returncode == 1, proc.stderr
    assert len(sa101(report)) == 1
    (tree / "secretaudit.yaml").write_text("rules:\n  gitleaks: false\n")
    proc, report = run_json("scan", ".", cwd=tree, env={"GITLEAKS_CONFIG": str(elsewhere)})
    assert proc.returncode == 0 and sa101(report) == []


@pytest.mark.parametrize("fingerprint,waived", [
    ("app/.env:acme-live-token:2", True),
    ("# a comment\n\napp/.env:acme-live-token:2  ", True),
    ("app/.env:acme-live-token:1", False),  # another line
    ("app/.env:other-rule:2", False),  # another rule
    ("3f1a9c0d2b7e4f5a6b8c9d0e1f2a3b4c5d6e7f80:app/.env:acme-live-token:2", False),  # a commit: history only
])
def test_gitleaksignore_fingerprint_waives_the_finding(tree: Path, fingerprint: str, waived: bool) -> None:
    (tree / ".gitleaks.toml").write_text(GITLEAKS_RULE)
    (tree / ".gitleaksignore").write_text(fingerprint + "\n")
    proc, report = run_json("scan", ".", cwd=tree)
    [finding] = sa101(report)
    if waived:
        assert proc.returncode == 0, proc.stderr
        assert finding["status"] == "waived"
        assert finding["waiver"]["reason"] == ".gitleaksignore"
    else:
        assert proc.returncode == 1
        assert finding["status"] == "failed"


def test_gitleaksignore_names_builtin_rules_by_their_ids(repo: Path, rng) -> None:
    """SA101's rule ids are what a fingerprint names: ``file:aws-access-key-id:line``."""
    (repo / "deploy.sh").write_text(f"#!/bin/sh\nexport AWS_ACCESS_KEY_ID={fake_aws_key_id(rng)}\n")
    proc, report = run_json("scan", ".", cwd=repo)
    assert proc.returncode == 1 and sa101(report)
    (repo / ".gitleaksignore").write_text("deploy.sh:aws-access-key-id:2\n")
    proc, report = run_json("scan", ".", cwd=repo)
    assert proc.returncode == 0, proc.stdout
    assert {f["status"] for f in sa101(report)} == {"waived"}


def test_a_line_that_is_no_fingerprint_is_a_warning(tree: Path) -> None:
    (tree / ".gitleaks.toml").write_text(GITLEAKS_RULE)
    (tree / ".gitleaksignore").write_text("not a fingerprint\napp/.env:acme-live-token:2\n")
    proc = run_cli("scan", ".", cwd=tree)
    assert proc.returncode == 0, proc.stdout
    assert ".gitleaksignore: line 1 is not a fingerprint" in proc.stdout + proc.stderr


@pytest.mark.parametrize("allowlist", [
    '[allowlist]\npaths = [\'\'\'(^|/)app/\\.env$\'\'\']\n',
    '[[allowlists]]\nregexes = [\'\'\'^acme_live_\'\'\']\n',
    '[[allowlists]]\ntargetRules = ["acme-live-token"]\nstopwords = ["acme_live"]\n',
    '[[allowlists]]\nregexTarget = "line"\nregexes = [\'\'\'^ACME_KEY=\'\'\']\n',
    '[[allowlists]]\ncondition = "AND"\npaths = [\'\'\'\\.env$\'\'\']\nstopwords = ["acme"]\n',
], ids=["global-path", "regex-on-secret", "stopword-targeted", "regex-on-line", "and-path-stopword"])
def test_gitleaks_global_allowlist_suppresses(tree: Path, allowlist: str) -> None:
    (tree / ".gitleaks.toml").write_text(GITLEAKS_RULE + "\n" + allowlist)
    proc, report = run_json("scan", ".", cwd=tree)
    assert proc.returncode == 0, proc.stdout
    assert [f for f in sa101(report) if f["status"] == "failed"] == []


@pytest.mark.parametrize("allowlist", [
    '[[allowlists]]\ntargetRules = ["another-rule"]\nstopwords = ["acme_live"]\n',
    '[[allowlists]]\ncondition = "AND"\npaths = [\'\'\'\\.py$\'\'\']\nstopwords = ["acme"]\n',
    '[[allowlists]]\nstopwords = ["nothing-like-it"]\n',
], ids=["other-rule", "and-not-all", "other-stopword"])
def test_gitleaks_allowlist_that_does_not_apply_keeps_the_finding(tree: Path, allowlist: str) -> None:
    (tree / ".gitleaks.toml").write_text(GITLEAKS_RULE + "\n" + allowlist)
    proc, report = run_json("scan", ".", cwd=tree)
    assert proc.returncode == 1
    assert len(sa101(report)) == 1


def test_per_rule_allowlist_suppresses(tree: Path) -> None:
    rule = GITLEAKS_RULE + "[[rules.allowlists]]\npaths = ['''\\.env$''']\n"
    (tree / ".gitleaks.toml").write_text(rule)
    proc, report = run_json("scan", ".", cwd=tree)
    assert proc.returncode == 0 and sa101(report) == []
    old_style = GITLEAKS_RULE + "[rules.allowlist]\nstopwords = ['acme_live']\n"
    (tree / ".gitleaks.toml").write_text(old_style)
    proc, report = run_json("scan", ".", cwd=tree)
    assert proc.returncode == 0 and sa101(report) == []


def test_global_allowlist_also_applies_to_builtin_rules(repo: Path, rng) -> None:
    (repo / "fixtures").mkdir()
    (repo / "fixtures" / "keys.sh").write_text(f"AWS_ACCESS_KEY_ID={fake_aws_key_id(rng)}\n")
    (repo / ".gitleaks.toml").write_text("[extend]\nuseDefault = true\n[allowlist]\npaths = ['''^fixtures/''']\n")
    proc, report = run_json("scan", ".", cwd=repo)
    assert proc.returncode == 0, proc.stdout
    assert [f for f in report["findings"] if f["status"] == "failed"] == []


@pytest.mark.parametrize("extend,builtin_found", [
    ("[extend]\nuseDefault = true\n", True),
    ("", True),  # no useDefault: secretaudit keeps its built-in rules on (documented)
    ("[extend]\nuseDefault = false\n", False),  # gitleaks' meaning: only the file's rules
    ('[extend]\nuseDefault = true\ndisabledRules = ["aws-access-key-id"]\n', False),
])
def test_extend_use_default_decides_whether_builtins_run(tree: Path, rng, extend: str, builtin_found: bool) -> None:
    (tree / "deploy.sh").write_text(f"AWS_ACCESS_KEY_ID={fake_aws_key_id(rng)}\n")
    (tree / ".gitleaks.toml").write_text(extend + GITLEAKS_RULE)
    proc, report = run_json("scan", ".", cwd=tree)
    paths = {f["location"]["path"] for f in sa101(report)}
    assert "app/.env" in paths  # the file's own rule always runs
    assert ("deploy.sh" in paths) is builtin_found


def test_extend_path_reads_a_base_config(tree: Path) -> None:
    (tree / "base.toml").write_text(GITLEAKS_RULE)
    (tree / ".gitleaks.toml").write_text("[extend]\npath = \"base.toml\"\n")
    proc, report = run_json("scan", ".", cwd=tree)
    assert proc.returncode == 1
    assert [f["location"]["path"] for f in sa101(report)] == ["app/.env"]


def test_custom_rules_can_replace_the_builtins(tree: Path, rng) -> None:
    (tree / "deploy.sh").write_text(f"AWS_ACCESS_KEY_ID={fake_aws_key_id(rng)}\n")
    (tree / "secretaudit.yaml").write_text(CUSTOM_YAML + "  extend: false\n")
    proc, report = run_json("scan", ".", cwd=tree)
    assert [f["location"]["path"] for f in sa101(report)] == ["app/.env"]


CATASTROPHIC = [r"(\w+\s?)*$", r"acme_(a+)+$", r"acme_(a|ab|b)*c", r"acme_\w+\w+x", r"\s*[ \t]*x"]


@pytest.mark.parametrize("pattern", CATASTROPHIC)
def test_catastrophic_regex_in_secretaudit_yaml_is_exit_4(tree: Path, pattern: str) -> None:
    (tree / "app" / ".env").write_text("acme_" + "a" * 5000 + "!\n" + " " * 5000 + "!\n")
    (tree / "secretaudit.yaml").write_text(
        f"rules:\n  custom:\n    - id: acme-token\n      title: Acme token\n      regex: '{pattern}'\n"
        "      tokens: [acme]\n")
    started = time.monotonic()
    proc = run_cli("scan", ".", cwd=tree)
    assert time.monotonic() - started < 10
    assert proc.returncode == 4, proc.stdout + proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert "secretaudit.yaml" in line and "rule 'acme-token'" in line, line


@pytest.mark.parametrize("pattern", [p for p in CATASTROPHIC if "+\\w+" not in p and "*[" not in p] + [
    r"acme_(\w+)\1", r"acme_(?=x)"])
def test_catastrophic_regex_in_gitleaks_toml_is_exit_4(tree: Path, pattern: str) -> None:
    (tree / "app" / ".env").write_text("acme_" + "a" * 5000 + "!\n")
    (tree / ".gitleaks.toml").write_text(f"[[rules]]\nid = \"acme-token\"\nregex = '''{pattern}'''\n"
                                         "keywords = [\"acme\"]\n")
    started = time.monotonic()
    proc = run_cli("scan", ".", cwd=tree)
    assert time.monotonic() - started < 10
    assert proc.returncode == 4, proc.stdout + proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert ".gitleaks.toml" in line and "rule 'acme-token'" in line, line


def test_quadratic_gitleaks_regex_is_bounded_not_refused(tree: Path) -> None:
    """RE2 runs ``\\w+\\w+x`` in linear time: a gitleaks rule keeps working, with bounds (and never stalls)."""
    (tree / "app" / ".env").write_text("acme_" + "a" * 200_000 + "\nacme_key1x\n")
    (tree / ".gitleaks.toml").write_text("[[rules]]\nid = \"acme-token\"\nregex = '''acme_\\w+\\w+x'''\n"
                                         "keywords = [\"acme\"]\n")
    started = time.monotonic()
    proc, report = run_json("scan", ".", cwd=tree)
    assert time.monotonic() - started < 30
    assert [f["location"]["line"] for f in sa101(report)] == [2]


@pytest.mark.parametrize("body,problem", [
    ("rules:\n  custom:\n    - id: acme-token\n      title: Acme\n      regex: '(acme'\n", "not a valid regular"),
    ("rules:\n  custom:\n    - id: Acme Token\n      title: Acme\n      prefix: acme_\n      body: '[a-z]{8}'\n",
     "needs an 'id'"),
    ("rules:\n  custom:\n    - id: acme-token\n      title: Acme\n      prefix: acme_\n      body: '[a-z]{8}'\n"
     "      samples:\n        positive: ['key = acme_short']\n", "samples.positive[0]"),
    ("rules:\n  custom: {}\n", "expected a list"),
    ("rules:\n  cusotm: []\n", "unknown key"),
    ("rules:\n  disable: [no-such-rule]\n", "unknown rule id"),
])
def test_bad_custom_rule_is_a_one_line_exit_4(tree: Path, body: str, problem: str) -> None:
    (tree / "secretaudit.yaml").write_text(body)
    proc = run_cli("scan", ".", cwd=tree)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert problem in line, line


def test_custom_rule_samples_are_checked_when_given(tree: Path) -> None:
    good = CUSTOM_YAML + (f"      samples:\n        positive: ['ACME={acme_token()}']\n"
                          "        negative: ['ACME=acme_live_short']\n")
    (tree / "secretaudit.yaml").write_text(good)
    proc, report = run_json("scan", ".", cwd=tree)
    assert proc.returncode == 1, proc.stderr
    # the rule runs (its positive sample, a fake token in the config itself, is a finding like any other)
    assert {f["location"]["path"] for f in sa101(report)} == {"app/.env", "secretaudit.yaml"}


def test_gitleaks_rule_ids_and_history_commits(tree: Path) -> None:
    """A history scan's finding of a translated rule is waived by its commit in a gitleaks allowlist."""
    git(tree, "add", "app/.env")
    git(tree, "commit", "-q", "-m", "add env")
    commit = git(tree, "rev-parse", "HEAD").strip()
    (tree / ".gitleaks.toml").write_text(GITLEAKS_RULE)
    proc, report = run_json("scan", "--history", ".", cwd=tree)
    failed = [f for f in report["findings"] if f["status"] == "failed" and f["location"].get("commit")]
    assert failed, proc.stdout
    (tree / ".gitleaks.toml").write_text(GITLEAKS_RULE + f"[allowlist]\ncommits = [\"{commit}\"]\n")
    proc, report = run_json("scan", "--history", ".", cwd=tree)
    assert [f for f in report["findings"] if f["status"] == "failed" and f["location"].get("commit")] == []
    # a fingerprint with the commit waives the history finding (and only it)
    (tree / ".gitleaks.toml").write_text(GITLEAKS_RULE)
    (tree / ".gitleaksignore").write_text(f"{commit}:app/.env:acme-live-token:2\n")
    proc, report = run_json("scan", "--history", ".", cwd=tree)
    history = [f for f in report["findings"] if f["location"].get("commit")]
    assert history and {f["status"] for f in history} == {"waived"}, proc.stdout
    assert {f["waiver"]["reason"] for f in history} == {".gitleaksignore"}


def test_the_gitleaks_default_config_translates_and_scans(repo: Path) -> None:
    """gitleaks' own default config, as a repository's .gitleaks.toml: read without error, its rules run."""
    (repo / ".gitleaks.toml").write_text(GITLEAKS_DEFAULT.read_text())
    gitlab = "glpat-" + "".join(secrets.choice(ALNUM) for _ in range(20))
    (repo / "ci.yml").write_text(f"variables:\n  GITLAB_TOKEN: {gitlab}\n")
    proc, report = run_json("scan", ".", cwd=repo)
    assert proc.returncode == 1, proc.stderr
    assert [f["location"] for f in sa101(report)] == [{"path": "ci.yml", "line": 2}]
    assert [f for f in report["findings"] if f["status"] == "failed" and f["location"]["path"] == ".gitleaks.toml"] \
        == []  # its own path allowlist (gitleaks\.toml) keeps its sample keys out
