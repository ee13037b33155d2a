"""SA101, known-format credentials (checks/known_formats.py).

The corpus under tests/fixtures/corpus/known_formats/ plants one fake
credential of every supported format; tests/fixtures/expected/known_formats.json
says where.  Both are written by tests/fixtures/make_known_formats.py.
"""

from __future__ import annotations

import importlib.util
import json
import random
import string
import time
import zlib
from functools import lru_cache
from pathlib import Path

import pytest

from secretaudit.checks import known_formats as kf
from secretaudit.checks import validators
from secretaudit.controls import HARDCODED_CREDENTIALS
from secretaudit.config import Config, validate
from secretaudit.model import Detection, FileItem, Severity
from secretaudit.registry import CheckRegistry

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CORPUS = FIXTURES / "corpus"
KNOWN = CORPUS / "known_formats"
MANIFEST: list[dict] = json.loads((FIXTURES / "expected" / "known_formats.json").read_text(encoding="utf-8"))
NEGATIVES = FIXTURES / "clean" / "known_formats_negatives.py"
CORPUS_FILES = sorted(p for p in KNOWN.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def config(**settings: object) -> Config:
    return Config(settings=validate(dict(settings), "<test>"))


def item_for(path: Path) -> FileItem:
    relpath = path.relative_to(CORPUS).as_posix() if CORPUS in path.parents else path.name
    return FileItem(path=str(path), relpath=relpath, text=path.read_text(encoding="utf-8"))


def scan_text(text: str, prefilter: bool = True) -> list[Detection]:
    item = FileItem(path="mem.txt", relpath="mem.txt", text=text)
    return kf.secretaudit_scan_file(item=item, config=config(prefilter=prefilter)) or []


@lru_cache(maxsize=None)
def scan_path(path: Path, prefilter: bool = True) -> tuple[Detection, ...]:
    return tuple(kf.secretaudit_scan_file(item=item_for(path), config=config(prefilter=prefilter)) or ())


def corpus_detections(prefilter: bool = True) -> list[tuple[str, Detection]]:
    return [(path.relative_to(CORPUS).as_posix(), d) for path in CORPUS_FILES for d in scan_path(path, prefilter)]


def github_token(prefix: str, body: str) -> str:
    """Independent implementation of GitHub's checksum: base62(CRC32(body)), 6 chars."""
    alphabet = string.digits + string.ascii_uppercase + string.ascii_lowercase
    crc, out = zlib.crc32(body.encode()), ""
    while crc:
        crc, rem = divmod(crc, 62)
        out = alphabet[rem] + out
    return prefix + body + out.rjust(6, "0")


# --- registration ------------------------------------------------------------------


def test_registers_sa101() -> None:
    registry = CheckRegistry()
    kf.secretaudit_register_checks(registry=registry)
    spec = registry.get("SA101")
    assert spec.severity is Severity.CRITICAL
    assert spec.tags == ("hardcoded", "credentials")
    assert spec.controls == HARDCODED_CREDENTIALS
    remediation = spec.remediation.lower()
    for word in ("rotate", "revoke", "vault", "aws secrets manager", "run time"):
        assert word in remediation


def test_rule_table_is_well_formed() -> None:
    assert len(kf.RULES) >= 45
    assert len({r.slug for r in kf.RULES}) == len(kf.RULES)
    for rule in kf.RULES:
        assert rule.tokens, rule.slug
        assert rule.label and rule.slug == rule.slug.lower()


# --- the planted corpus -------------------------------------------------------------


def test_manifest_plants_every_rule() -> None:
    planted = {entry["rule"] for entry in MANIFEST}
    # Rules added since the corpus was generated prove themselves with their own samples (test_rule_samples).
    assert planted <= {rule.slug for rule in kf.RULES}
    assert all(entry["check_id"] == "SA101" for entry in MANIFEST)


@pytest.mark.parametrize("entry", MANIFEST, ids=lambda e: f"{e['rule']}@{e['path']}:{e['line']}")
def test_planted_credential_is_detected(entry: dict) -> None:
    detections = scan_path(CORPUS / entry["path"])
    on_line = [d for d in detections if d.line == entry["line"]]
    assert len(on_line) == 1, f"expected one detection on line {entry['line']}, got {on_line}"
    detection = on_line[0]
    assert detection.check_id == "SA101"
    assert detection.rule == entry["rule"]
    assert detection.secret == entry["secret"]
    assert detection.label == kf.RULES_BY_SLUG[entry["rule"]].label
    assert detection.secret.startswith(detection.visible_prefix)


def test_corpus_yields_exactly_the_manifest() -> None:
    found = sorted((path, d.line, d.rule, d.secret) for path, d in corpus_detections())
    expected = sorted((e["path"], e["line"], e["rule"], e["secret"]) for e in MANIFEST)
    assert found == expected


def test_private_key_secret_is_the_whole_block() -> None:
    entry = next(e for e in MANIFEST if e["path"].endswith("keys/server_key.txt"))
    assert entry["line"] == 1
    assert entry["secret"].startswith("-----BEGIN RSA PRIVATE KEY-----\n")
    assert entry["secret"].endswith("-----END RSA PRIVATE KEY-----")
    detection = scan_path(KNOWN / "keys" / "server_key.txt")[0]
    assert detection.visible_prefix == "-----BEGIN RSA PRIVATE KEY-----"


def test_broken_up_private_key_reports_header_and_first_line() -> None:
    text = ('KEY = (\n    "-----BEGIN EC PRIVATE KEY-----\\n"\n    "MHcCAQEEIBx0rXf5Ls3XUoQ1mYgkTNbwr0pGcVq\\n"\n'
            '    "-----END EC PRIVATE KEY-----\\n"\n)\n')
    [detection] = scan_text(text)
    assert detection.rule == "private-key-ec" and detection.line == 2
    assert detection.secret.endswith("MHcCAQEEIBx0rXf5Ls3XUoQ1mYgkTNbwr0pGcVq")


# --- near misses --------------------------------------------------------------------


@pytest.mark.parametrize("prefilter", [True, False], ids=["prefilter", "no-prefilter"])
def test_negatives_are_not_reported(prefilter: bool) -> None:
    assert kf.secretaudit_scan_file(item=item_for(NEGATIVES), config=config(prefilter=prefilter)) is None


@pytest.mark.parametrize("text", [
    'aws_secret_access_key = "da39a3ee5e6b4b0d3255bfef95601890afd80709"',  # a SHA-1, not a key
    "key = AKIAIOSFODNN7EXAMPLE",
    "ghp_" + "a" * 36,
    'token = "xoxb-123456789012-123456789012-YOURTOKENHEREYOURTOKEN12"',
    "hash = 'e3b0c44298fc1c149afbf4c8996fb924'",  # 32 hex, no context
    "Authorization: Bearer eyJub3QiOiJqc29uIn0.eyJzdWIiOiIxIn0.c2lnbmF0dXJlc2lnbmF0dXJl",  # no "alg"
    "if line.startswith('-----BEGIN OPENSSH PRIVATE KEY-----'):",
    '"PrivateKey": "-----BEGIN RSA PRIVATE KEY-----\\nMIIEowIABAKCAQEAqKpRgnn6yq26U3yt5Y...fvY4+te\\n-----END RSA '
    'PRIVATE KEY-----\\n"',  # documentation with the body elided
])
def test_look_alikes_are_not_reported(text: str) -> None:
    assert scan_text(text) == []
    assert scan_text(text, prefilter=False) == []


# --- GitHub checksum ----------------------------------------------------------------


def test_github_checksum_accepts_good_and_rejects_flipped() -> None:
    rng = random.Random(7)
    alnum = string.ascii_letters + string.digits
    for _ in range(50):
        token = github_token("ghp_", "".join(rng.choice(alnum) for _ in range(30)))
        assert validators.github_checksum_ok(token)
        [detection] = scan_text(f'GITHUB_TOKEN="{token}"')
        assert detection.rule == "github-pat" and detection.secret == token
        position = rng.randrange(4, len(token))
        flipped = token[:position] + rng.choice(alnum.replace(token[position], "")) + token[position + 1:]
        assert not validators.github_checksum_ok(flipped)
        assert scan_text(f'GITHUB_TOKEN="{flipped}"') == []


def test_overlapping_rules_report_once_with_the_exact_format() -> None:
    token = github_token("ghp_", "Zq8vK2mT4xW9pL3nB7cR5yH1dF6gJ0")  # 40 chars: also fits Cloudflare's shape
    detections = scan_text(f'CLOUDFLARE_API_TOKEN = "{token}"')
    assert [(d.rule, d.secret) for d in detections] == [("github-pat", token)]


# --- prefilter equivalence ----------------------------------------------------------


@pytest.mark.parametrize("path", CORPUS_FILES + [NEGATIVES], ids=lambda p: p.name)
def test_prefilter_on_and_off_agree_per_file(path: Path) -> None:
    assert scan_path(path, True) == scan_path(path, False)


def _mixed_texts() -> list[str]:
    """Corpus lines shuffled together with ordinary code, CRLF, truncations."""
    rng = random.Random(20240611)
    sources = [p.read_text(encoding="utf-8") for p in CORPUS_FILES + [NEGATIVES]]
    sources.append(Path(kf.__file__).read_text(encoding="utf-8"))  # full of tokens in odd places
    lines = [line for text in sources for line in text.split("\n")]
    texts = []
    for _ in range(20):
        sample = rng.sample(lines, k=min(len(lines), 400))
        text = "\n".join(sample)
        cut = rng.randrange(len(text))
        texts += [text, text.replace("\n", "\r\n"), text[:cut], text[cut:]]
    texts += sources
    texts.append("".join(sources))  # private key windows that run into other files' text
    return texts


def test_prefilter_on_and_off_agree_on_mixed_text() -> None:
    for text in _mixed_texts():
        assert kf.find_credentials(text, prefilter=True) == kf.find_credentials(text, prefilter=False)


def _merged_windows(windows: dict[int, list[tuple[int, int]]]) -> dict[int, list[tuple[int, int]]]:
    return {index: kf._merged(list(spans)) for index, spans in windows.items()}


def test_literal_and_one_pass_prefilters_give_the_same_windows() -> None:
    """Small scans look for tokens literal by literal; big ones build the alternation."""
    kf.prefilter()  # built: _hit_rules now takes the one-pass path
    for text in _mixed_texts():
        one_pass = _merged_windows(kf._hit_rules(text))
        assert _merged_windows(kf._hit_rules_by_literal(text)) == one_pass
    assert one_pass  # the corpus does hold tokens


def _exact_windows(text: str) -> dict[int, list[tuple[int, int]]]:
    """The prefilter's windows the plain way: every spelling of every token looked for as is."""
    rules = kf.builtin_set()
    windows = kf._Windows(text, rules.rules)
    for literal, verify, indexes in rules.literal_probes():
        kf._find_token(windows, literal, verify, indexes, 0, len(text))
    return _merged_windows(windows.by_rule)


def test_tokens_looked_for_case_aside_give_the_exact_spellings_windows() -> None:
    """Spellings of one key name are looked for once in the lower-cased text, then exactly: no window more or less."""
    texts = _mixed_texts()[:60]
    mangled = [text.swapcase() for text in texts[:20]] + [text.title() for text in texts[:20]]
    # U+0130 and the Kelvin sign lower oddly
    mangled += ["Ably_key = 1\naBLY = 2\nABLY_TOKEN=x\n\u0130BM iam Iam IAM \u212aEY"]
    folded = sum(len(members) > 1 for _lower, _tail, members in kf.builtin_set().folded_probes())
    assert folded > 50  # the set does fold spellings
    for text in texts + mangled:
        assert _merged_windows(kf._hit_rules_by_literal(text)) == _exact_windows(text)


def test_a_non_ascii_token_is_looked_for_as_is() -> None:
    """Lower-casing is not one to one outside ASCII (a final sigma, a dotted I): such a token is its own group."""
    from secretaudit.checks.rulebook import compile_rule

    rule = compile_rule({"id": "greek-key", "title": "Greek key", "regex": "k[0-9]{8}",
                         "keywords": ["\u039a\u039b\u0395\u0399\u0394\u0399\u03a3"]}, check_linear=False)
    rules = kf.ruleset((rule,))
    assert any(not lower.isascii() and len(members) == 1 for lower, _tail, members in rules.folded_probes())
    for text in ("x = \u039a\u039b\u0395\u0399\u0394\u0399\u03a3\u0391 k12345678\n",  # the sigma mid-word
                 "\u0130 \u039a\u039b\u0395\u0399\u0394\u0399\u03a3 = k12345678\n"):
        windows = kf._Windows(text, rules.rules)
        for literal, verify, indexes in rules.literal_probes():
            kf._find_token(windows, literal, verify, indexes, 0, len(text))
        assert windows.by_rule and _merged_windows(kf._hit_rules_by_literal(text, rules)) == _merged_windows(
            windows.by_rule)


def test_token_set_and_literal_prefilters_give_the_same_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    """The accelerated prefilter (one pass of a Hyperscan pattern set) finds exactly the tokens."""
    pytest.importorskip("hyperscan")
    monkeypatch.setenv("SECRETAUDIT_HYPERSCAN", "1")
    compared = non_ascii = 0
    texts = _mixed_texts()
    # non-ASCII text goes through the set too (one byte per character): accents, symbols and emoji next to tokens
    texts += [text.replace("\n", "\u00e9\n").replace("=", "\u20ac=").replace(" ", " \U0001f600", 3)
              for text in texts[:40]]
    for text in texts:
        by_set = kf._hit_rules_by_set(text)
        assert by_set is not None  # the accelerator answers for every text
        assert _merged_windows(by_set) == _merged_windows(kf._hit_rules_by_literal(text))
        compared += bool(by_set)
        non_ascii += bool(by_set) and not text.isascii()
    assert compared > 20 and non_ascii > 10


def test_a_small_scan_does_not_build_the_one_pass_prefilter() -> None:
    code = (
        "import sys, secretaudit.checks.known_formats as kf\n"
        "text = open(sys.argv[1], encoding='utf-8').read()\n"
        "hits = kf.find_credentials(text)\n"
        "print(len(hits), kf.prefilter.cache_info().currsize)\n"
    )
    import subprocess
    import sys

    path = CORPUS_FILES[0]
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True,
                         cwd=Path(kf.__file__).parent.parent).stdout.split()
    assert out == [str(len(kf.find_credentials(path.read_text(encoding="utf-8")))), "0"]


def test_text_without_tokens_stops_at_the_prefilter() -> None:
    text = "import os\n\n\ndef main() -> int:\n    print(os.getcwd())\n    return 0\n"
    assert kf.prefilter()[0].search(text) is None
    item = FileItem(path="main.py", relpath="main.py", text=text)
    assert kf.secretaudit_scan_file(item=item, config=config()) is None


def test_pathological_input_is_fast() -> None:
    """No catastrophic backtracking: unterminated blocks, endless token-ish runs."""
    texts = [
        "-----BEGIN RSA PRIVATE KEY-----\n" + "  \n" * 20000,
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: " + "- " * 20000 + "\n",
        "eyJ" + "a" * 200000 + ".",
        "sk-proj-" + "A" * 100000,
        "&sig=" + "%2B" * 50000,
        ("xoxb-" + "1" * 13 + "-") * 5000,
        "key " * 50000,
    ]
    start = time.perf_counter()
    for text in texts:
        kf.find_credentials(text, prefilter=True)
        kf.find_credentials(text, prefilter=False)
    assert time.perf_counter() - start < 10


# --- output hygiene -----------------------------------------------------------------


def test_repr_never_contains_the_secret() -> None:
    detections = [d for _, d in corpus_detections()]
    assert len(detections) == len(MANIFEST)
    for detection in detections:
        assert detection.secret not in repr(detection)
        assert detection.secret not in str(detection)


def test_disabled_check_reports_nothing() -> None:
    path = KNOWN / "deploy.sh"
    assert kf.secretaudit_scan_file(item=item_for(path), config=config(disable=["SA101"])) is None


def test_fixtures_match_their_generator() -> None:
    spec = importlib.util.spec_from_file_location("make_known_formats", FIXTURES / "make_known_formats.py")
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    for path, text in generator.build().items():
        assert path.read_text(encoding="utf-8") == text, f"{path} is stale: run {FIXTURES / 'make_known_formats.py'}"


def test_line_bounds_from_the_index_are_those_of_a_scan_for_newlines() -> None:
    import random

    from secretaudit.checks.known_formats import _Lines

    rng = random.Random(2)
    for _ in range(2000):
        text = "".join(rng.choice("ab\n\r") for _ in range(rng.randrange(0, 60)))
        lines = _Lines(text)
        lines._misses = _Lines.MISSES_BEFORE_INDEX  # as after that many lookups: the index answers
        for at in range(len(text) + 1):
            nl = text.find("\n", at)
            lines._last = (0, 0)
            assert lines.bounds(at) == (text.rfind("\n", 0, at) + 1, len(text) if nl == -1 else nl + 1), (text, at)
