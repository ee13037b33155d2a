"""Text made safe to print: the one sanitiser for everything secretaudit shows a person.

File names, JSON/YAML keys, secret names, backend messages and audit-log
fields are data an attacker may choose.  Printed raw, an ESC or OSC sequence
in a file name can retitle the terminal, hide lines, forge a "passed" summary
or plant a clickable link; a newline can forge a whole output line; a bidi
override (U+202E) can make ``evil.env`` read as ``vne.live``.  So every piece
of data on its way to a terminal or a text report goes through
:func:`visible`, which shows such characters as escapes (``\\x1b``,
``\\u202e``) instead of letting them act.  The HTML, SARIF and JUnit writers
escape for their own syntax; JSON output escapes them by itself
(``json.dumps`` with its default ``ensure_ascii``).

Our own styling (colours, the progress line's ``\\r``) is added *after*
sanitising, by the code that owns it, so it is never mistaken for data.
"""

from __future__ import annotations

import re
import sys

#: What must not reach a terminal as itself: C0 controls (newline and tab
#: included), DEL, C1 controls, the bidirectional controls (ALM, LRM, RLM,
#: LRE..RLO, LRI..PDI), the line and paragraph separators, and lone
#: surrogates (an undecodable byte in a file name, which would otherwise
#: crash the write to a UTF-8 stream).
_UNSAFE = "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]"
_compiled: "re.Pattern[str] | None" = None


#: The escapes everybody reads at a glance; every other character is shown by its code.
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: "re.Match[str]") -> str:
    char = match.group()
    if char in _SHORT:
        return _SHORT[char]
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the original byte of a non-UTF-8 file name
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: object) -> str:
    """``text`` on one line with every control, bidi override and lone surrogate shown as an escape.

    A backslash is left as it is (Windows paths and regexes stay readable),
    so a name that literally contains ``\\x1b`` prints like one holding an
    ESC; either way nothing reaches the terminal that can act on it.
    """
    global _compiled
    text = "" if text is None else str(text)
    if text.isprintable():  # the usual case, and a superset test: no control, format or surrogate character
        return text
    if _compiled is None:  # compiled on first need: a clean pre-commit run never pays for it
        _compiled = re.compile(_UNSAFE)
    return _compiled.sub(_escape, text)


def echo(text: object = "", err: bool = False) -> None:
    """Print one line of human output (``text`` made :func:`visible`) to stdout, or stderr with ``err``.

    The single way commands print text a person reads; machine output (JSON
    on stdout, a secret's value for ``$(...)``) is written as it is.
    """
    stream = sys.stderr if err else sys.stdout
    stream.write(visible(text) + "\n")
    stream.flush()
