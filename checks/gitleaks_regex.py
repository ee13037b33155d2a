"""Go RE2 regexes (gitleaks' syntax) rewritten as Python ``re`` patterns.

Most of RE2's syntax means the same in Python; what does not, and how it is
rewritten:

* flags in the middle of a pattern (``ab(?i)cd``) apply to the end of the
  enclosing group in RE2; Python only takes them at the very start, so the
  rest of the group becomes a scoped group ``ab(?i:cd)``, closed and reopened
  around each ``|`` (``a(?i)b|c`` is ``ab`` or ``c``, both case-insensitive);
* ``(?U)`` (ungreedy) swaps ``*`` and ``*?`` in its scope;
* ``\\z`` is ``\\Z``; ``\\x{263a}`` is ``\\u263a``; ``\\123`` (octal) is ``\\x53``;
  ``\\Q...\\E`` is the quoted text escaped; ``(?<name>...)`` is ``(?P<name>...)``;
* POSIX classes ``[[:alnum:]]`` (and ``[[:^alpha:]]`` alone in a class) are
  spelled out; ``[``, ``&``, ``~``, ``|`` and ``-`` inside a class are escaped
  (Python reads ``[[`` or ``&&`` as future set operations);
* a ``{`` that RE2 reads literally (``a{,3}``, ``{x}``) is escaped, since
  Python reads ``{,3}`` as a repeat.

What RE2 refuses is refused here too, with the reason (backreferences,
lookarounds, ``**``, repeat counts over 1000); so is what Python cannot
express: Unicode classes ``\\pL`` / ``\\p{Greek}`` and ``\\C``.  Character
classes ``\\d \\w \\s \\b`` are ASCII in RE2: the result is meant to be
compiled with ``re.ASCII``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: RE2's largest repeat count.
RE2_MAX_REPEAT = 1000

_POSIX = {
    "alnum": "0-9A-Za-z", "alpha": "A-Za-z", "ascii": "\\x00-\\x7f", "blank": "\\t ", "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9", "graph": "!-~", "lower": "a-z", "print": " -~", "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\v\\f\\r ", "upper": "A-Z", "word": "0-9A-Za-z_", "xdigit": "0-9A-Fa-f",
}
_REPEAT = re.compile(r"\{(\d+)(,(\d*))?\}")
_FLAGS = re.compile(r"\(\?([imsU]*)(?:-([imsU]*))?(:|\))")
_NAMED = re.compile(r"\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>")


class RegexTranslationError(ValueError):
    """A gitleaks regex that has no Python equivalent, or that RE2 itself refuses (one line, with the reason)."""


@dataclass
class _Frame:
    """One open group: the scoped-flag groups opened inside it, and whether quantifiers are ungreedy."""

    ungreedy: bool
    scoped: list[str] = field(default_factory=list)  # flag strings of the (?flags: groups opened in it


def _literal(char: str, in_class: bool = False) -> str:
    if char.isalnum() or char == "_" or (in_class and char in " '\"`=:;,.@/!%<>#{}()*+?$"):
        return char
    if char == "\n":
        return "\\n"
    if char == "\t":
        return "\\t"
    if char == "\r":
        return "\\r"
    if ord(char) < 32 or ord(char) == 127:
        return f"\\x{ord(char):02x}"
    if ord(char) > 127:
        return char
    return "\\" + char


def _escape(pattern: str, at: int, in_class: bool) -> tuple[str, int, str | None]:
    """Read the escape at ``pattern[at] == '\\\\'``: (Python text, next index, the literal char or None)."""
    if at + 1 >= len(pattern):
        raise RegexTranslationError("trailing backslash")
    char = pattern[at + 1]
    if char in "pP":
        name = pattern[at + 2] if at + 2 < len(pattern) else ""
        if name == "{":
            end = pattern.find("}", at)
            name = pattern[at + 3:end] if end != -1 else "?"
        raise RegexTranslationError(f"Unicode class \\{char}{{{name}}} has no Python equivalent; use an explicit "
                                    "class such as [A-Za-z]")
    if char == "C":
        raise RegexTranslationError("\\C (any byte) has no Python equivalent; use . or (?s:.)")
    if char == "x":
        if pattern.startswith("{", at + 2):
            end = pattern.find("}", at + 3)
            digits = pattern[at + 3:end] if end != -1 else ""
            if not re.fullmatch(r"[0-9A-Fa-f]{1,6}", digits) or int(digits, 16) > 0x10FFFF:
                raise RegexTranslationError(f"invalid escape \\x{{{digits}}}")
            return _literal(chr(int(digits, 16)), in_class), end + 1, chr(int(digits, 16))
        digits = pattern[at + 2:at + 4]
        if not re.fullmatch(r"[0-9A-Fa-f]{2}", digits):
            raise RegexTranslationError("invalid escape \\x (expected two hex digits or \\x{...})")
        return _literal(chr(int(digits, 16)), in_class), at + 4, chr(int(digits, 16))
    if char in "01234567":
        octal = re.match(r"[0-7]{1,3}", pattern[at + 1:]).group(0)  # type: ignore[union-attr]
        if char != "0" and len(octal) == 1:
            raise RegexTranslationError(f"backreference \\{char} is not supported (nor by RE2); match the value "
                                        "itself")
        return _literal(chr(int(octal, 8)), in_class), at + 1 + len(octal), chr(int(octal, 8))
    if char in "89":
        raise RegexTranslationError(f"backreference \\{char} is not supported (nor by RE2)")
    if char == "z":
        if in_class:
            raise RegexTranslationError("\\z inside a character class")
        return "\\Z", at + 2, None
    if char == "Z":
        raise RegexTranslationError("\\Z is not RE2 syntax (gitleaks would refuse it); use \\z")
    if char in "dDsSwW":
        return "\\" + char, at + 2, None
    if char in "AbB":
        if in_class:
            raise RegexTranslationError(f"\\{char} inside a character class")
        return "\\" + char, at + 2, None
    controls = {"a": "\a", "f": "\f", "t": "\t", "n": "\n", "r": "\r", "v": "\v"}
    if char in controls:
        return _literal(controls[char], in_class), at + 2, controls[char]
    if char.isalnum():
        raise RegexTranslationError(f"invalid escape \\{char}")
    return _literal(char, in_class), at + 2, char


def _class(pattern: str, at: int) -> tuple[str, int]:
    """Read the class starting at ``pattern[at] == '['``; return (Python class, next index)."""
    i = at + 1
    negate = pattern.startswith("^", i)
    if negate:
        i += 1
    items: list[str] = []
    first = True
    while True:
        if i >= len(pattern):
            raise RegexTranslationError("missing ] at the end of a character class")
        char = pattern[i]
        if char == "]" and not first:
            i += 1
            break
        first = False
        if pattern.startswith("[:", i):
            end = pattern.find(":]", i + 2)
            name = pattern[i + 2:end] if end != -1 else ""
            negated = name.startswith("^")
            if name.lstrip("^") not in _POSIX:
                raise RegexTranslationError(f"unknown POSIX class [:{name}:]")
            if negated:
                if items or negate or pattern[end + 2:end + 3] != "]":
                    raise RegexTranslationError(f"negated POSIX class [:{name}:] is only supported alone in its class")
                return "[^" + _POSIX[name[1:]] + "]", end + 3
            items.append(_POSIX[name])
            i = end + 2
            continue
        if char == "\\" and pattern.startswith("Q", i + 1):
            end = pattern.find("\\E", i + 2)
            end = len(pattern) if end == -1 else end
            items.extend(_literal(c, True) for c in pattern[i + 2:end])
            i = end + 2
            continue
        if char == "\\":
            text, i, low = _escape(pattern, i, in_class=True)
        else:
            text, low, i = _literal(char, True), char, i + 1
        if low is not None and pattern.startswith("-", i) and i + 1 < len(pattern) and pattern[i + 1] != "]":
            if pattern[i + 1] == "\\":
                high_text, j, high = _escape(pattern, i + 1, in_class=True)
            elif pattern.startswith("[:", i + 1):
                raise RegexTranslationError("a range cannot end with a POSIX class")
            else:
                high_text, j, high = _literal(pattern[i + 1], True), i + 2, pattern[i + 1]
            if high is None or ord(high) < ord(low):
                raise RegexTranslationError(f"invalid character class range {low}-{pattern[i + 1:j]}")
            items.append(text + "-" + high_text)
            i = j
            continue
        items.append(text)
    body = "".join(items)
    if not body:
        raise RegexTranslationError("empty character class")
    return "[" + ("^" if negate else "") + body + "]", i


def translate(pattern: str) -> str:
    """The Python form of the RE2 regex ``pattern`` (compile it with ``re.ASCII``)."""
    out: list[str] = []
    frames = [_Frame(ungreedy=False)]
    quantifiable = False  # whether the last item can take a quantifier (RE2 refuses ** and a leading *)
    i = 0
    while i < len(pattern):
        char = pattern[i]
        frame = frames[-1]
        if char == "\\":
            if pattern.startswith("Q", i + 1):
                end = pattern.find("\\E", i + 2)
                end = len(pattern) if end == -1 else end
                quoted = pattern[i + 2:end]
                out.append("".join(_literal(c) for c in quoted))
                i, quantifiable = end + 2, bool(quoted)
                continue
            text, i, _ = _escape(pattern, i, in_class=False)
            out.append(text)
            quantifiable = text not in ("\\A", "\\Z", "\\b", "\\B")
            continue
        if char == "[":
            text, i = _class(pattern, i)
            out.append(text)
            quantifiable = True
            continue
        if char == "(":
            flags = _FLAGS.match(pattern, i)
            named = _NAMED.match(pattern, i)
            if flags:
                on, off, end = flags.group(1), flags.group(2) or "", flags.group(3)
                if not on and not off and end == ")":
                    raise RegexTranslationError("empty flag group (?)")
                ungreedy = frame.ungreedy
                if "U" in on:
                    ungreedy = True
                if "U" in off:
                    ungreedy = False
                on, off = on.replace("U", ""), off.replace("U", "")
                spec = on + ("-" + off if off else "")
                if end == ":":
                    out.append(f"(?{spec}:" if spec else "(?:")
                    frames.append(_Frame(ungreedy=ungreedy))
                    quantifiable = False
                else:
                    frame.ungreedy = ungreedy
                    if spec and not out and len(frames) == 1 and not off:
                        out.append(f"(?{spec})")  # at the very start: global, as in Python
                    elif spec:
                        out.append(f"(?{spec}:")
                        frame.scoped.append(spec)
                    quantifiable = False
                i = flags.end()
                continue
            if named:
                out.append(f"(?P<{named.group(1)}>")
                frames.append(_Frame(ungreedy=frame.ungreedy))
                i, quantifiable = named.end(), False
                continue
            if pattern.startswith("(?", i):
                what = "lookaround" if pattern[i + 2:i + 3] in ("=", "!") or pattern[i + 2:i + 4] in ("<=", "<!") \
                    else "group syntax " + pattern[i:i + 3]
                raise RegexTranslationError(f"{what} is not RE2 syntax (gitleaks would refuse it)")
            out.append("(")
            frames.append(_Frame(ungreedy=frame.ungreedy))
            i, quantifiable = i + 1, False
            continue
        if char == ")":
            if len(frames) == 1:
                raise RegexTranslationError("unexpected )")
            out.append(")" * len(frame.scoped) + ")")
            frames.pop()
            i, quantifiable = i + 1, True
            continue
        if char == "|":
            closing = ")" * len(frame.scoped)
            out.append(closing + "|" + "".join(f"(?{spec}:" for spec in frame.scoped))
            i, quantifiable = i + 1, False
            continue
        if char in "*+?" or (char == "{" and _REPEAT.match(pattern, i)):
            if not quantifiable:
                raise RegexTranslationError("missing or repeated argument to a repetition operator "
                                            f"at '{pattern[max(0, i - 8):i + 1]}'")
            if char == "{":
                repeat = _REPEAT.match(pattern, i)
                assert repeat is not None
                low = int(repeat.group(1))
                high = int(repeat.group(3)) if repeat.group(3) else (None if repeat.group(2) else low)
                if low > RE2_MAX_REPEAT or (high is not None and (high > RE2_MAX_REPEAT or high < low)):
                    raise RegexTranslationError(f"invalid repeat count {repeat.group(0)} (RE2 allows up to "
                                                f"{RE2_MAX_REPEAT})")
                quant, i = repeat.group(0), repeat.end()
            else:
                quant, i = char, i + 1
            lazy = pattern.startswith("?", i)
            if lazy:
                i += 1
            if frame.ungreedy:
                lazy = not lazy
            out.append(quant + ("?" if lazy else ""))
            if i < len(pattern) and (pattern[i] in "*+?" or (pattern[i] == "{" and _REPEAT.match(pattern, i))):
                raise RegexTranslationError("invalid nested repetition operator (RE2 refuses ** and *+)")
            quantifiable = False
            continue
        if char == "{":
            out.append("\\{")
        elif char in ".^$":
            out.append(char)
        else:
            out.append(_literal(char))
        i += 1
        quantifiable = char not in "^$"
    if len(frames) > 1:
        raise RegexTranslationError("missing ) at the end of the regex")
    out.append(")" * len(frames[0].scoped))
    translated = "".join(out)
    try:
        re.compile(translated, re.ASCII)
    except re.error as exc:
        raise RegexTranslationError(f"invalid regex ({exc})") from None
    return translated
