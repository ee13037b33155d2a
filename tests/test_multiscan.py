"""The accelerator's pattern sets (scanner/multiscan.py) against Python's own ``re``.

A pattern set must report every end of every match, overlapping ones
included, or a check's prefilter would miss a line.  Each case is checked
against a brute-force answer: every (start, end) whose slice ``re``
fullmatches.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys

import pytest

from conftest import ROOT, run_cli
from secretaudit import multiscan

hyperscan = pytest.importorskip("hyperscan")


def brute_force_ends(patterns: tuple[str, ...], text: str, caseless: bool) -> set[tuple[int, int]]:
    flags = re.ASCII | (re.IGNORECASE if caseless else 0)
    compiled = [re.compile(p, flags) for p in patterns]
    return {(index, end) for index, pattern in enumerate(compiled)
            for start in range(len(text)) for end in range(start + 1, len(text) + 1)
            if pattern.fullmatch(text, start, end)}


def random_text(rng: random.Random, alphabet: str, size: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(size))


CASES = [
    (("AKIA", "ghp_", "KIA"), "xAKIAKIAghp_ghp_AKI", False),  # overlapping literals
    (("pass", "key", "(?:api|auth)[^a-zA-Z0-9\\n]{0,3}key"), "PassWORD api__KEY Auth-key monkey\nauth\nkey", True),
    (("'[0-9a-f]{4,}'", '"[a-z0-9]{3}'), "'abcd' 'ab12' \"abc\"abcd' \"a\" 'deadbeef'", False),
    (("sk-[A-Za-z0-9]{2,4}\\.",), "sk-ab. sk-abcd. sk-abcde. sk-a.", False),
]


@pytest.mark.parametrize("patterns, text, caseless", CASES)
def test_every_end_of_every_match_is_reported(patterns: tuple[str, ...], text: str, caseless: bool,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRETAUDIT_HYPERSCAN", "1")
    assert multiscan.accelerates(text)
    found = multiscan.PatternSet(patterns, caseless=caseless).ends(text)
    assert len(found) == len(set(found))
    assert set(found) == brute_force_ends(patterns, text, caseless)


def test_random_texts_agree_with_re(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRETAUDIT_HYPERSCAN", "1")
    rng = random.Random(7)
    patterns = ("ab", "b[ab]{1,3}a", "'[ab]{2,}'", "(?:ba|aa)[^a\\n]{0,2}b")
    pattern_set = multiscan.PatternSet(patterns)
    for _ in range(200):
        text = random_text(rng, "ab'\n x", rng.randrange(1, 40))
        assert set(pattern_set.ends(text)) == brute_force_ends(patterns, text, False), text


def test_sets_scanned_in_one_pass_each_get_exactly_their_own_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every set in use is one database and a text one scan: each set's answer must still be its own alone.

    Sets join as they first ask (here in the middle of a text's questions
    and between texts), caseless and exact sets mixed, patterns shared
    between sets; every answer is checked against ``re`` by brute force.
    """
    monkeypatch.setenv("SECRETAUDIT_HYPERSCAN", "1")
    rng = random.Random(23)
    specs = [(("ab", "b[ab]{1,3}a"), False), (("AB", "'[ab]{2,}'"), True), (("ab", "x\\n?a"), False)]
    sets = [multiscan.PatternSet(patterns, caseless=caseless) for patterns, caseless in specs]
    for round_ in range(60):
        text = random_text(rng, "abAB'\n x", rng.randrange(1, 40))
        asking = sets[:1 + min(round_ // 20, 2)]  # a set joins every twenty texts
        for pattern_set in rng.sample(asking, len(asking)):
            assert multiscan.accelerates(text, pattern_set)
            found = pattern_set.ends(text)
            assert sorted(found) == sorted(brute_force_ends(pattern_set.patterns, text, pattern_set.caseless)), text


def test_non_ascii_text_and_the_off_switch_take_the_python_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hyperscan reports byte offsets: only for ASCII are they character offsets."""
    monkeypatch.setenv("SECRETAUDIT_HYPERSCAN", "1")
    assert not multiscan.accelerates("pässword = 'x'")
    monkeypatch.setenv("SECRETAUDIT_HYPERSCAN", "0")
    assert not multiscan.accelerates("password = 'x'")


def test_a_set_named_by_its_check_takes_non_ascii_text_with_character_offsets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each non-ASCII character is one byte 0x80: ends stay character offsets, and match where ``re.ASCII`` does."""
    monkeypatch.setenv("SECRETAUDIT_HYPERSCAN", "1")
    rng = random.Random(11)
    patterns = ("ab", "a[^b\n]{1,3}b", "[^\\s]{2}b", "a.b", "\\Wa", "\\ba", "a[a-z]{2}")
    pattern_set = multiscan.PatternSet(patterns)
    assert pattern_set.one_byte_safe()
    for _ in range(300):
        text = random_text(rng, "abé€😀 \n'", rng.randrange(1, 40))
        assert multiscan.accelerates(text, pattern_set)
        assert set(pattern_set.ends(text)) == brute_force_ends(patterns, text, False), text


def test_a_set_naming_a_non_ascii_character_keeps_non_ascii_text_in_python(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRETAUDIT_HYPERSCAN", "1")
    assert multiscan.accelerates("pässword", multiscan.PatternSet(["pass", "[a-z]+"]))
    for named in ("p\\xe4ss", "[^\\u00e9]", "[\\x00-\\xff]"):
        pattern_set = multiscan.PatternSet(["pass", named])
        assert not pattern_set.one_byte_safe(), named
        assert not multiscan.accelerates("pässword", pattern_set)
        assert multiscan.accelerates("password", pattern_set)
    # written as itself, the character cannot even be given to Hyperscan (patterns are bytes): no text goes
    written = multiscan.PatternSet(["pass", "p\u00e4ss"])
    assert not multiscan.accelerates("pässword", written) and not multiscan.accelerates("password", written)


def test_a_custom_rule_with_a_non_ascii_keyword_finds_its_token_through_the_accelerator(tmp_path) -> None:
    """Its keyword becomes a prefilter token Hyperscan cannot take: the rule set stays in Python, no crash."""
    import secrets
    import string

    planted = "acme_" + "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(20))
    (tmp_path / "secretaudit.yaml").write_text(
        "rules:\n  custom:\n    - id: acme-token\n      title: Acme token\n"
        "      regex: 'acme_[a-z0-9]{20}'\n      keywords: ['p\u00e4sswort']\n", encoding="utf-8")
    filler = ("filler line " * 8 + "\n") * 4000  # past every threshold
    (tmp_path / "ascii.txt").write_text(filler + f"password = {planted}\n")
    (tmp_path / "umlaut.txt").write_text(filler + f"p\u00e4sswort = {planted}\n", encoding="utf-8")
    for accelerator in ("1", "0", ""):
        proc = run_cli("scan", "--no-cache", "--no-baseline", "--format", "json", str(tmp_path), cwd=tmp_path,
                       env={"SECRETAUDIT_HYPERSCAN": accelerator, "XDG_CACHE_HOME": str(tmp_path / "cache")})
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
        found = [(f["location"]["path"], f["rule"]) for f in json.loads(proc.stdout)["findings"]
                 if f["check_id"] == "SA101"]
        assert found == [("umlaut.txt", "acme-token")], accelerator


def test_one_byte_keeps_one_byte_per_character() -> None:
    text = "key=é€😀\u0301x"
    encoded = multiscan.one_byte(text)
    assert len(encoded) == len(text) and encoded == b"key=\x80\x80\x80\x80x"


def test_a_pattern_hyperscan_cannot_take_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRETAUDIT_HYPERSCAN", "1")
    with pytest.raises(ValueError, match="pattern set cannot be compiled"):
        multiscan.PatternSet(["a(?=b)"]).ends("ab")


def test_pattern_sets_work_from_several_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hyperscan's scratch space is per thread; a shared one raises ScratchInUseError."""
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setenv("SECRETAUDIT_HYPERSCAN", "1")
    pattern_set = multiscan.PatternSet(["needle"])
    texts = [("hay " * 20_000 + "needle ") * (i % 5) + "hay" for i in range(24)]  # each text its own count
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda text: len(pattern_set.ends(text)), texts))
    assert results == [i % 5 for i in range(24)]


@pytest.mark.parametrize("lines, loaded", [(100, False), (10_000, True)], ids=["hook-sized", "big"])
def test_only_a_big_scan_loads_the_accelerator(tmp_path, lines: int, loaded: bool) -> None:
    """Importing and compiling costs a pre-commit hook more than its few files; big scans pay it once.

    Observed from outside a real ``python -m secretaudit`` process, through
    Python's own import log (``PYTHONPROFILEIMPORTTIME``, written to stderr as
    each import happens): code run after the CLI in the same process would
    depend on how it exits, and its quick ``os._exit`` way out is taken or
    not depending on what the interpreter's site files registered with
    ``atexit`` (in a fresh virtualenv, nothing).
    """
    source = tmp_path / "app.py"
    source.write_text("password = 'Tq8vLx2pKz9Q'  # pragma: allowlist secret\n" * lines)
    env = {k: v for k, v in os.environ.items() if k != "SECRETAUDIT_HYPERSCAN"}
    env.update(PYTHONPATH=str(ROOT), PYTHONPROFILEIMPORTTIME="1", XDG_CACHE_HOME=str(tmp_path / "cache"))
    proc = subprocess.run([sys.executable, "-m", "secretaudit", "scan", "--no-cache", "--quiet", str(source)],
                          capture_output=True, text=True, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    imported = {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines()
                if line.startswith("import time:") and "|" in line}
    assert "secretaudit.cli" in imported  # the log is there: the absence of hyperscan below means something
    assert ("hyperscan" in imported) is loaded
    assert run_cli("scan", "--no-cache", str(source)).returncode == 0


def test_compiled_sets_are_kept_and_a_damaged_one_is_compiled_again(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The largest set takes ~40 ms to compile and 0.1 ms to load: each worker of the next run loads it."""
    monkeypatch.setenv("SECRETAUDIT_HYPERSCAN", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    patterns = ("AKIA[A-Z0-9]{4}", "ghp_")
    text = "x AKIAABCD ghp_ y"
    expected = multiscan.PatternSet(patterns).ends(text)
    kept = list((tmp_path / "secretaudit").glob("hyperscan-*.db"))
    assert len(kept) == 1 and sorted(expected) == [(0, 10), (1, 15)]
    written = kept[0].stat().st_mtime_ns
    assert multiscan.PatternSet(patterns).ends(text) == expected
    assert kept[0].stat().st_mtime_ns == written  # loaded, not compiled and written again
    assert multiscan.PatternSet(patterns, caseless=True).ends(text.upper()) == expected  # another set, another file
    assert len(list((tmp_path / "secretaudit").glob("hyperscan-*.db"))) == 2
    kept[0].write_bytes(b"\x00garbage")
    assert multiscan.PatternSet(patterns).ends(text) == expected
    assert kept[0].read_bytes() != b"\x00garbage"
