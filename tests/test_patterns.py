"""Compiled patterns kept across runs (secretaudit.patterns) behave exactly like re.compile."""

from __future__ import annotations

import marshal
import re
from pathlib import Path

import pytest

from secretaudit.checks.known_formats import RULES
from secretaudit import patterns

#: Text with the shapes of a few credentials (fake, and built at run time) for the patterns to find.
SAMPLE = ("aws_access_key_id = AKIA" + "Q" * 16 + "\nghp_" + "a1B2" * 9 + "\nslack = 'xoxb-" + "123-456-abc'\n"
          "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n")


@pytest.fixture
def fresh_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A cache directory of its own, and the module as a new process would see it."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))

    def restart() -> None:
        monkeypatch.setattr(patterns, "_stored", None)
        monkeypatch.setattr(patterns, "_added", {})

    restart()
    return restart


def _cases() -> list[tuple[str | bytes, int]]:
    cases: list[tuple[str | bytes, int]] = [(rule.regex._pattern, int(rule.regex._flags)) for rule in RULES]
    cases += [(r"(?P<key>[a-z]+)=(?P<value>\d+)", re.IGNORECASE), (r"^\s*#.*$", re.MULTILINE),
              (b"q(?:h{16,}|[hb]{20,})(?=q)", 0), (r"caf\u00e9|na\u00efve", 0)]
    return cases


def test_kept_patterns_match_exactly_like_re_compile(fresh_process) -> None:
    cases = _cases()
    first = [patterns.compile(p, f) for p, f in cases]
    patterns.save()
    assert Path(patterns.cache_file() or "").is_file()
    fresh_process()
    kept = [patterns.compile(p, f) for p, f in cases]
    assert not patterns._added  # every one came from the file
    for (pattern, flags), a, b in zip(cases, first, kept):
        reference = re.compile(pattern, flags)
        for compiled in (a, b):
            assert (compiled.pattern, compiled.flags, compiled.groups, compiled.groupindex) == (
                reference.pattern, reference.flags, reference.groups, reference.groupindex)
            text = SAMPLE.encode() if isinstance(pattern, bytes) else SAMPLE
            assert [m.span() for m in compiled.finditer(text)] == [m.span() for m in reference.finditer(text)]


def test_a_damaged_file_is_ignored_and_rewritten(fresh_process) -> None:
    path = Path(patterns.cache_file() or "")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x00garbage, not marshal data")
    compiled = patterns.compile(r"AKIA[A-Z2-7]{16}")
    assert compiled.search("x AKIA" + "Q" * 16)
    patterns.save()
    assert (r"AKIA[A-Z2-7]{16}", 0) in marshal.loads(path.read_bytes())


def test_a_damaged_entry_falls_back_to_compiling(fresh_process) -> None:
    path = Path(patterns.cache_file() or "")
    path.parent.mkdir(parents=True)
    path.write_bytes(marshal.dumps({(r"ab+c", 0): (32, [999, 1, 2], 0, {}, (None,))}))  # code the engine rejects
    compiled = patterns.compile(r"ab+c")
    assert compiled.fullmatch("abbbc") and not compiled.fullmatch("ac")
