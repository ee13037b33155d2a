"""Static linear-time check of the regexes users bring (custom rules, ``.gitleaks.toml``).

Python's ``re`` backtracks.  A pattern that can match one piece of text in
many different ways makes it try every way before it gives up: ``(a+)+$``
on forty ``a`` takes hours, ``\\w+\\w+x`` on a 64 KB line takes minutes,
``[a-z]+X`` on a 64 KB line seconds (tried again from each of the 64 K
starting positions).  gitleaks runs the same rules with Go's RE2, which
never backtracks, so a gitleaks config can hold patterns Python would
choke on.  Every user rule therefore passes :func:`check` before it is
compiled, and the answer names the rule and the offending piece.

The check reads Python's own parse tree (``re._parser``) and estimates the
work per character of input with three facts about a backtracking matcher:

* **trading**: two variable-length pieces can trade characters when a
  piece of text fits both and everything between them
  (``\\w+\\w+``, ``\\s*[ \\t]*x``, ``.*=.*``); the matcher tries every split, so
  their numbers of possible lengths multiply;
* **nesting**: a repeated group whose iterations can split one text in
  several ways (``(\\w+\\s?)*``, ``(a|a)*``) has exponentially many ways;
* **restarting**: a search tries every start position; a variable piece
  whose lead-in can itself be made of the piece's characters
  (``[a-z]+X``, ``ab[a-z]+X``) runs again from each of them, unless what
  follows it can never fail.  A piece whose lead-in cannot be (``ghp_`` before
  ``[A-Za-z0-9]+``: the ``_``) runs over disjoint stretches of the text, and
  costs nothing per character beyond one pass.

A chain of trading pieces costs the product of their numbers of lengths
(an unbounded one counts as the line length ``n``), divided by the largest
one that does not restart.  A cost growing with ``n`` is polynomial (two
unbounded pieces, or one restarting); a constant above :data:`BUDGET` is
too slow in practice.  Both, backreferences, and bounds above :data:`CAP`
are refused.  The estimate is conservative (it may refuse a pattern that is
in fact fast) and is checked against real timings in
``tests/test_regex_safety.py``.

:func:`bounded` rewrites a parsed pattern with every unbounded repeat
given a finite upper bound (:data:`UNBOUNDED`), which is how user rules are
compiled: a piece of text longer than any credential is never needed, and
a finite bound caps the damage of anything the estimate misjudges.
"""

from __future__ import annotations

import math
import re
import re._constants as _c  # parse-tree opcodes (stable since 3.11)
import re._parser as _p
from dataclasses import dataclass, field
from typing import Any, Iterable

#: Largest explicit repetition bound accepted (``{1,5000}`` is refused).
CAP = 4096
#: Upper bound given to unbounded repeats of a class described by exclusion
#: (``.``, ``[^"]``, ``\\S``): such a piece runs to the end of the line.
UNBOUNDED_WIDE = 256
#: Upper bound given to other unbounded repeats (``[A-Za-z0-9+/]+`` in a long JWT).
UNBOUNDED = 4096
#: Largest accepted estimate of backtracking steps per character of a line searched.  A keyword rule
#: in gitleaks' generic shape estimates about 1,400 (35 microseconds per character measured, worst case);
#: ``(a|ab)*c`` (bounded) 8,000 (400 microseconds); ``\\w{0,20}\\w{0,20}\\w{0,20}x`` 9,000 (60).
BUDGET = 2_000

_MAX = _c.MAXREPEAT
_ALL = (1 << 129) - 1  # 128 ASCII code points, plus bit 128 for "any non-ASCII character"
_NON_ASCII = 1 << 128


def _bits(chars: Iterable[int]) -> int:
    mask = 0
    for code in chars:
        mask |= 1 << code if code < 128 else _NON_ASCII
    return mask


_DIGIT = _bits(range(48, 58))
_WORD = _DIGIT | _bits(range(65, 91)) | _bits(range(97, 123)) | _bits([95])
_SPACE = _bits([9, 10, 11, 12, 13, 32])
_NEWLINE = 1 << 10


class UnsafeRegex(ValueError):
    """A rule's regex that cannot be matched in linear time; the message is one line naming the rule."""


@dataclass(eq=False)
class _Info:
    """What the analysis knows about one piece of a pattern."""

    kind: str  # set (one character), at (anchor), look (lookaround), seq, group, alt, repeat
    items: Any = None  # the parse-tree items, written back for messages
    names: dict = field(default_factory=dict)
    minlen: int = 0
    content: int = 0  # every character it may consume
    first: int = 0  # characters a non-empty match may start with
    ways: float = 1.0  # paths through it that reach its end from one position (what follows is run that often)
    work: float = 1.0  # steps it may take from one position, its failed paths included
    cost: float = 1.0  # steps per character of a line it may cost a search (restarts, amortised)
    zero: Any = None  # anchor code, or (op, one-character class or None, inner) of a lookaround
    children: list["_Info"] = field(default_factory=list)
    simple: bool = False  # one character class repeated: no inner paths, never gives back but by length
    restart: float = 0.0  # how often per character the search reaches it again over the same text (0: never)
    unbounded: bool = False  # written with *, + or {n,}

    @property
    def text(self) -> str:
        try:
            return render(self.items, self.names)
        except (KeyError, ValueError):  # pragma: no cover - an opcode render() does not know
            return "?"

    @property
    def variable(self) -> bool:
        return self.ways > 1

    def traversable(self, chars: int) -> bool:
        """Whether this piece can be matched by a text made only of ``chars`` (or by nothing)."""
        if self.kind == "set":
            return bool(self.content & chars)
        if self.kind == "at":
            code = self.zero
            if code == _c.AT_BOUNDARY:
                return bool(chars & _WORD) and bool(chars & ~_WORD & _ALL)
            if code == _c.AT_NON_BOUNDARY:
                return True
            if code in ("multiline-start", "multiline-end"):
                return bool(chars & _NEWLINE)
            return False  # ^ $ \A \Z: one place in the text, nothing on either side
        if self.kind == "look":
            op, mask, inner = self.zero
            if mask is None:
                return True if op == "not" else inner.traversable(chars)
            return bool(chars & ~mask & _ALL) if op == "not" else bool(chars & mask)
        if self.kind == "alt":
            return any(child.traversable(chars) for child in self.children)
        if self.kind == "repeat":
            return self.minlen == 0 or self.children[0].traversable(chars)
        return all(child.traversable(chars) for child in self.children)  # seq, group

    @property
    def empty_always(self) -> bool:
        """Whether this piece always matches the empty text (an anchor or lookaround may refuse it)."""
        if self.kind in ("set", "at", "look"):
            return False
        if self.kind == "alt":
            return any(child.empty_always for child in self.children)
        if self.kind == "repeat":
            return self.minlen == 0 or self.children[0].empty_always
        return all(child.empty_always for child in self.children)

    def literal(self) -> str | None:
        """The character this piece matches, if it is one (either case under IGNORECASE), else None."""
        if self.kind != "set" or not self.content:
            return None
        chars = [code for code in range(128) if self.content >> code & 1]
        if self.content & _NON_ASCII or not 1 <= len(chars) <= 2:
            return None
        if len(chars) == 2 and chr(chars[0]).lower() != chr(chars[1]).lower():
            return None
        return chr(chars[0]).lower()


def _work_from(info: _Info, chars: int) -> float:
    """The work of ``info`` started on one of ``chars`` (all of it but for alternations).

    ``(?:"[^"]+"|[a-z0-9+/]+)`` after a piece sharing only ``=`` with it:
    neither alternative starts with ``=``, so neither is run again for each of its lengths.
    """
    if info.kind in ("seq", "group") and len(info.children) == 1:
        return _work_from(info.children[0], chars)
    if info.kind == "alt":
        return max(1.0, sum(_work_from(b, chars) for b in info.children if b.first & chars or b.minlen == 0))
    return info.work


def _period(text: str) -> int:
    """Smallest p with text[i] == text[i + p] throughout: how close two occurrences of it can be."""
    for p in range(1, len(text)):
        if all(text[i] == text[i + p] for i in range(len(text) - p)):
            return p
    return max(1, len(text))


def _literal_period(pieces: list[_Info]) -> int:
    """The period of the longest run of single characters in ``pieces`` (1 without one)."""
    best, run = 1, ""
    for piece in [*pieces, None]:
        char = piece.literal() if piece is not None else None
        if char is not None:
            run += char
            continue
        if run:
            best = max(best, _period(run))
        run = ""
    return best


# --- writing a parse tree back as a regex ----------------------------------------------


_CATEGORIES = {_c.CATEGORY_DIGIT: r"\d", _c.CATEGORY_NOT_DIGIT: r"\D", _c.CATEGORY_SPACE: r"\s",
               _c.CATEGORY_NOT_SPACE: r"\S", _c.CATEGORY_WORD: r"\w", _c.CATEGORY_NOT_WORD: r"\W"}
_ANCHORS = {_c.AT_BEGINNING: "^", _c.AT_BEGINNING_STRING: r"\A", _c.AT_BOUNDARY: r"\b",
            _c.AT_NON_BOUNDARY: r"\B", _c.AT_END: "$", _c.AT_END_STRING: r"\Z"}
_FLAG_LETTERS = ((re.IGNORECASE, "i"), (re.MULTILINE, "m"), (re.DOTALL, "s"), (re.VERBOSE, "x"),
                 (re.ASCII, "a"), (re.LOCALE, "L"), (re.UNICODE, "u"))


def _char(code: int, in_class: bool = False) -> str:
    char = chr(code)
    if char.isalnum() and code < 128 or char == "_":
        return char
    if code < 32 or code == 127:
        return {9: r"\t", 10: r"\n", 13: r"\r", 12: r"\f", 11: r"\v"}.get(code, f"\\x{code:02x}")
    if code >= 128:
        return char if char.isprintable() and not char.isspace() else (
            f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    if in_class and char in "'\"`=:;,.@/!%<>#&~{}()*+?|$ ":  # harmless inside [...]
        return char if char not in "&~|" else "\\" + char
    return "\\" + char


def _flags_text(add: int, remove: int) -> str:
    on = "".join(letter for flag, letter in _FLAG_LETTERS if add & flag)
    off = "".join(letter for flag, letter in _FLAG_LETTERS if remove & flag)
    return on + ("-" + off if off else "")


def _class_text(items: list) -> str:
    parts = []
    for op, av in items:
        if op is _c.NEGATE:
            parts.append("^")
        elif op is _c.LITERAL:
            parts.append(_char(av, True))
        elif op is _c.RANGE:
            parts.append(_char(av[0], True) + "-" + _char(av[1], True))
        elif op is _c.CATEGORY:
            parts.append(_CATEGORIES[av])
        else:  # pragma: no cover - the parser puts nothing else in a class
            raise ValueError(f"unexpected {op} in a character class")
    return "[" + "".join(parts) + "]"


def render(tree: Any, names: dict[int, str] | None = None, bound: bool = False,
           bounds: dict[int, int] | None = None) -> str:
    """Write a parsed pattern (a ``SubPattern`` or its item list) back as a regex.

    ``names`` maps group numbers to names (``(?P<secret>...)``).  With
    ``bound``, every unbounded repeat gets a finite upper bound
    (:data:`UNBOUNDED`, or :data:`UNBOUNDED_WIDE` for classes described by
    exclusion), or the one ``bounds`` gives for the repeat (keyed by the
    ``id`` of the repeated sub-pattern).  The text matches what the tree
    matches; it need not be the text the tree was parsed from (the parser
    factors ``ab|ac`` into ``a[bc]``).
    """
    names = names or {}
    bounds = bounds or {}
    out = []
    for op, av in tree:
        if op is _c.LITERAL:
            out.append(_char(av))
        elif op is _c.NOT_LITERAL:
            out.append("[^" + _char(av, True) + "]")
        elif op is _c.ANY:
            out.append(".")
        elif op is _c.IN:
            out.append(_CATEGORIES[av[0][1]] if len(av) == 1 and av[0][0] is _c.CATEGORY else _class_text(av))
        elif op is _c.AT:
            out.append(_ANCHORS[av] if av in _ANCHORS else {_c.AT_BEGINNING_LINE: "^", _c.AT_END_LINE: "$"}[av])
        elif op is _c.BRANCH:
            out.append("(?:" + "|".join(render(b, names, bound, bounds) for b in av[1]) + ")")
        elif op is _c.SUBPATTERN:
            group, add, remove, inner = av
            body = render(inner, names, bound, bounds)
            if add or remove:
                out.append(f"(?{_flags_text(add, remove)}:" + body + ")")
                if group is not None:
                    out[-1] = (f"(?P<{names[group]}>" if group in names else "(") + out[-1] + ")"
            elif group is None:
                out.append("(?:" + body + ")")
            elif group in names:
                out.append(f"(?P<{names[group]}>" + body + ")")
            else:
                out.append("(" + body + ")")
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT):
            low, high, inner = av
            body = render(inner, names, bound, bounds)
            if len(inner) != 1 or inner[0][0] in (_c.BRANCH,) or (
                    inner[0][0] is _c.LITERAL and len(body) > 2) or inner[0][0] in (
                    _c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT, _c.AT):
                body = "(?:" + body + ")"
            if high is _MAX and bound:
                high = max(low, bounds.get(id(inner), default_bound(inner)))
            if high is _MAX:
                quant = {0: "*", 1: "+"}.get(low, f"{{{low},}}")
            elif low == high:
                quant = f"{{{low}}}"
            elif (low, high) == (0, 1):
                quant = "?"
            else:
                quant = f"{{{low},{high}}}"
            out.append(body + quant + {_c.MIN_REPEAT: "?", _c.POSSESSIVE_REPEAT: "+"}.get(op, ""))
        elif op in (_c.ASSERT, _c.ASSERT_NOT):
            direction, inner = av
            mark = ("=" if op is _c.ASSERT else "!")
            out.append("(?" + ("<" if direction < 0 else "") + mark + render(inner, names, bound, bounds) + ")")
        elif op is _c.ATOMIC_GROUP:
            out.append("(?>" + render(av, names, bound, bounds) + ")")
        elif op is _c.GROUPREF:
            out.append(f"(?P={names[av]})" if av in names else f"\\{av}")
        elif op is _c.GROUPREF_EXISTS:
            group, yes, no = av
            out.append(f"(?({group})" + render(yes, names, bound, bounds) + ("|" + render(no, names, bound, bounds) if no else "") + ")")
        else:  # pragma: no cover
            raise ValueError(f"cannot write {op} back")
    return "".join(out)


def default_bound(inner: Any) -> int:
    """The upper bound an unbounded repeat of ``inner`` is given (see :data:`UNBOUNDED_WIDE`)."""
    return UNBOUNDED_WIDE if _wide(inner) else UNBOUNDED


def _wide(inner: Any) -> bool:
    """A one-character class described by exclusion: ``.``, ``[^...]``, ``\\S``, ``\\W``, ``\\D``."""
    if len(inner) != 1:
        return False
    op, av = inner[0]
    if op in (_c.ANY, _c.NOT_LITERAL):
        return True
    if op is _c.IN:
        return any(o is _c.NEGATE or (o is _c.CATEGORY and av_ in (
            _c.CATEGORY_NOT_SPACE, _c.CATEGORY_NOT_WORD, _c.CATEGORY_NOT_DIGIT)) for o, av_ in av)
    return False


# --- analysis ---------------------------------------------------------------------------


def _case_fold(mask: int) -> int:
    upper = (mask >> 97) & ((1 << 26) - 1)
    lower = (mask >> 65) & ((1 << 26) - 1)
    return mask | (upper << 65) | (lower << 97)


@dataclass
class _Chain:
    """The costliest chain of trading pieces found in one sequence, for the message."""

    cost: float
    pieces: list[_Info]
    depth: int


class _Analyzer:
    """One pass over a parse tree, top-down (each piece knows what leads to it), bottom-up (costs)."""

    def __init__(self, pattern: str | Any, flags: int, bounds: dict[int, int] | None = None) -> None:
        self.tree = _p.parse(pattern, flags) if isinstance(pattern, str) else pattern
        self.bounds = bounds or {}
        self.flags = self.tree.state.flags
        self.names = {number: name for name, number in self.tree.state.groupdict.items()}
        self.problems: list[str] = []
        self.chains: list[_Chain] = []
        self.unbounded_pieces: list[_Info] = []
        #: problems lower bounds inside a piece may solve: (message, the piece)
        self.adaptable: list[tuple[str, _Info]] = []
        self.cost = 1.0
        self.culprits: list[_Info] = []

    def info(self, kind: str, items: Any, **values: Any) -> _Info:
        return _Info(kind, items, self.names, **values)

    def char_mask(self, op: Any, av: Any, flags: int) -> int:
        """The characters one character-matching item matches (over-approximated outside ASCII)."""
        ascii_only = bool(flags & re.ASCII)
        if op is _c.LITERAL:
            mask = _bits([av])
        elif op is _c.NOT_LITERAL:
            mask = _ALL & ~_bits([av]) | _NON_ASCII
        elif op is _c.ANY:
            return _ALL if flags & re.DOTALL else _ALL & ~_NEWLINE
        else:  # IN
            mask, negate = 0, False
            for item_op, item in av:
                if item_op is _c.NEGATE:
                    negate = True
                elif item_op is _c.LITERAL:
                    mask |= _bits([item])
                elif item_op is _c.RANGE:
                    low, high = item
                    mask |= _bits(range(low, min(high, 127) + 1)) | (_NON_ASCII if high >= 128 else 0)
                elif item_op is _c.CATEGORY:
                    base = {_c.CATEGORY_DIGIT: _DIGIT, _c.CATEGORY_WORD: _WORD, _c.CATEGORY_SPACE: _SPACE,
                            _c.CATEGORY_NOT_DIGIT: _ALL & ~_DIGIT, _c.CATEGORY_NOT_WORD: _ALL & ~_WORD,
                            _c.CATEGORY_NOT_SPACE: _ALL & ~_SPACE}[item]
                    mask |= base | (0 if ascii_only else _NON_ASCII)
            if negate:
                mask = (_ALL & ~mask) | _NON_ASCII
        if flags & re.IGNORECASE:
            mask = _case_fold(mask)
        return mask

    # -- sequences: chains of trading pieces ------------------------------------------

    def seq(self, items: Any, flags: int, lead: list[_Info], at_end: bool, depth: int) -> _Info:
        infos: list[_Info] = []
        for index, (op, av) in enumerate(items):
            infos.append(self.item(op, av, flags, lead + infos, False, depth))
        if at_end:
            self.settle_tail(items, infos, flags, lead, depth)
        info = self.info("seq", items, children=infos, minlen=sum(i.minlen for i in infos))
        for child in infos:
            info.content |= child.content
        for child in infos:
            info.first |= child.first
            if child.minlen > 0:
                break
        info.ways, info.work, info.cost = self.trading(infos, depth)
        return info

    def settle_tail(self, items: Any, infos: list[_Info], flags: int, lead: list[_Info], depth: int) -> None:
        """At the end of the pattern, pieces that can no longer fail never give characters back.

        ``[A-Za-z0-9-]*`` closing ``xoxb-...``, or ``[a-z]+`` closing a
        pattern: whatever length they take, the match succeeds, so the
        matcher never tries another.  The last piece that can fail is
        analysed again knowing it ends the pattern.
        """
        tail = len(infos)
        while tail and infos[tail - 1].empty_always:
            tail -= 1
        for piece in infos[tail:]:
            if piece.simple:
                piece.ways = piece.work = piece.cost = 1.0
        if not tail:
            return
        last = infos[tail - 1]
        if last.simple:
            last.ways = last.work = last.cost = 1.0
        elif last.kind in ("group", "alt"):
            op, av = items[tail - 1]
            infos[tail - 1] = self.item(op, av, flags, lead + infos[:tail - 1], True, depth)

    def trading(self, infos: list[_Info], depth: int) -> tuple[float, float, float]:
        """(ways, work, cost) of a sequence, from its chains of pieces that can trade characters.

        Piece ``j`` is run once for each path through the pieces before it
        that can give characters back to it (their ``ways`` multiply); a
        run of literal characters between two pieces lets the first end
        only where the run occurs, dividing its ways by the run's period.
        The sequence's work is the largest such product times ``j``'s own
        work; its ways, the product over the pieces whose lengths what
        follows them in the sequence can absorb (the others end in one
        place).  Its cost per character of a line is the chain's work
        times how often the search reaches the chain's first piece over the
        same text: once per ``period`` characters if it restarts
        (:meth:`restarts`), else once per stretch it covers (dividing by its ways).
        """
        options_at: list[list[tuple[float, float, list[int]]]] = []
        work, cost = 1.0, max([1.0, *(i.cost for i in infos)])
        worst: tuple[float, list[int]] = (0.0, [])
        for j, info in enumerate(infos):
            head = info.restart if info.restart else 1.0 / info.ways
            options = [(1.0, head, [j], info.work)]  # (ways before j, head factor, chain, work of j)
            for i in range(j):
                if not infos[i].variable:
                    continue
                shared = infos[i].content & info.content
                middle = infos[i + 1:j]
                if not shared & info.first or not all(m.traversable(shared) for m in middle):
                    continue  # j cannot start on what i gives back: it fails at once
                period = _literal_period(middle)
                own = _work_from(info, shared)
                for before, head_factor, chain, _ in options_at[i]:
                    ends = before * max(infos[i].ways / period, 1.0)
                    options.append((ends, head_factor, chain + [j], own))
            options.sort(key=lambda o: o[0] * o[3] * o[1], reverse=True)
            options_at.append(options[:4])
            top = options[0]
            work = max(work, max(o[0] * o[3] for o in options))
            value = top[0] * top[3] * top[1]
            if len(top[2]) > 1:
                cost = max(cost, value)
                if value > worst[0]:
                    worst = (value, top[2])
        if worst[1]:
            self.chains.append(_Chain(worst[0], [infos[k] for k in worst[1]], depth))
        ways = 1.0
        for i, info in enumerate(infos):
            if info.variable and all(m.traversable(info.content) for m in infos[i + 1:]):
                ways *= info.ways
        return ways, work, cost

    # -- items -------------------------------------------------------------------------

    def restarts(self, piece: _Info, lead: list[_Info]) -> float:
        """How many times per character the search may run ``piece`` over the same text (0: it cannot).

        Each later start position reaches ``piece`` again over text it
        already covered when everything leading to it can be made of its
        characters; a run of literal characters in the lead keeps restarts
        apart by the run's period.
        """
        if not piece.variable or not all(p.traversable(piece.content) for p in lead):
            return 0.0
        return 1.0 / _literal_period(lead)

    def item(self, op: Any, av: Any, flags: int, lead: list[_Info], at_end: bool, depth: int) -> _Info:
        items = [(op, av)]
        if op in (_c.LITERAL, _c.NOT_LITERAL, _c.ANY, _c.IN):
            mask = self.char_mask(op, av, flags)
            return self.info("set", items, minlen=1, content=mask, first=mask)
        if op is _c.AT:
            code = av
            if flags & re.MULTILINE and av in (_c.AT_BEGINNING, _c.AT_END):
                code = "multiline-start" if av is _c.AT_BEGINNING else "multiline-end"
            return self.info("at", items, zero=code)
        if op in (_c.SUBPATTERN, _c.ATOMIC_GROUP):
            if op is _c.SUBPATTERN:
                _group, add, remove, inner = av
                flags = (flags | add) & ~remove
            else:
                inner = av
            sub = self.seq(inner, flags, lead, at_end, depth + 1)
            sub.kind, sub.items = "group", items
            if op is _c.ATOMIC_GROUP:
                sub.ways = 1.0
            sub.restart = max((p.restart for p in self.walk(sub)), default=0.0)
            return sub
        if op is _c.BRANCH:
            return self.branch(av[1], flags, lead, at_end, depth, items)
        if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT):
            return self.repeat(op, av, flags, lead, depth)
        if op in (_c.ASSERT, _c.ASSERT_NOT):
            direction, inner = av
            sub = self.seq(inner, flags, lead if direction > 0 else [], False, depth + 1)
            one = sub.content if len(sub.children) == 1 and sub.children[0].kind == "set" else None
            return self.info("look", items, cost=sub.cost,
                             zero=("not" if op is _c.ASSERT_NOT else "is", one, sub))
        if op in (_c.GROUPREF, _c.GROUPREF_EXISTS):
            self.problems.append(f"backreference '{render(items, self.names)}' cannot be matched in linear "
                                 "time (nor by gitleaks' RE2); match the value itself")
            return self.info("set", items, content=_ALL, first=_ALL)
        raise UnsafeRegex(f"unsupported construct {op}")  # pragma: no cover

    def branch(self, branches: list, flags: int, lead: list[_Info], at_end: bool, depth: int,
               items: Any) -> _Info:
        infos = [self.seq(b, flags, lead, at_end, depth + 1) for b in branches]
        info = self.info("alt", items, children=infos, minlen=min(i.minlen for i in infos))
        for child in infos:
            info.content |= child.content
            info.first |= child.first
        # alternatives that cannot start alike never both match: count the ways of those that can
        info.ways = max(sum(o.ways for o in infos if o is i or not (o.first and i.first) or o.first & i.first)
                        for i in infos)
        info.work = sum(child.work for child in infos)
        inner = max((p.restart for p in self.walk(info)), default=0.0)
        info.restart = max(self.restarts(info, lead) if self.fixed_branches(info) else 0.0, inner)
        info.cost = max(sum(child.cost for child in infos), info.work * info.restart)
        return info

    @staticmethod
    def fixed_branches(info: _Info) -> bool:
        """Whether the alternation's own choice (not a repeat inside) is what varies."""
        return all(not any(p.kind == "repeat" and p.variable for p in _Analyzer.walk(b)) for b in info.children)

    def repeat(self, op: Any, av: Any, flags: int, lead: list[_Info], depth: int) -> _Info:
        low, high, inner = av
        items = [(op, av)]
        unbounded = high is _MAX
        if not unbounded and high > CAP or low > CAP:
            self.problems.append(f"repetition '{render(items, self.names)}' is larger than {CAP}; no credential "
                                 "needs it")
        body = self.seq(inner, flags, lead, False, depth + 1)
        if unbounded:
            high = max(low, self.bounds.get(id(inner), default_bound(inner)))
        high, low = min(high, CAP), min(low, CAP)
        info = self.info("repeat", items, children=[body], content=body.content, first=body.first,
                         minlen=body.minlen * low, unbounded=unbounded)
        if unbounded:
            self.unbounded_pieces.append(info)
        info.simple = len(body.children) == 1 and body.children[0].kind == "set"
        count = float(high - low + 1)
        if op is _c.POSSESSIVE_REPEAT:
            return info  # never gives back: one way
        if info.simple:
            info.ways = info.work = count
        else:
            split = self.split_factor(body) if high > 1 else None
            if split is None:
                info.ways = count * body.ways
                info.work = count * body.work
            else:
                factor, piece = split
                spread = math.exp(min(690.0, min(high, 1000) * math.log(factor)))
                info.ways, info.work = spread * body.ways, spread * body.work
                if info.work > BUDGET:
                    what = "can take exponential time" if unbounded else \
                        f"can split one text in about {info.work:.0e} ways (limit {BUDGET:,})"
                    self.problems.append(
                        f"nested repetition '{info.text}' {what}: its iterations can split the same text in "
                        f"several ways (through '{piece.text}'); make each iteration end with a character "
                        f"'{piece.text}' cannot match, or make it fixed-length")
                    if not unbounded:
                        self.adaptable.append((self.problems[-1], info))
        info.restart = self.restarts(info, lead)
        info.cost = max(body.cost, info.work * info.restart)
        return info

    def split_factor(self, body: _Info) -> tuple[float, _Info] | None:
        """(ways per iteration, the piece) when iterations of ``body`` can split one text several ways.

        They can when alternatives at its start can start alike (``(a|a)*``,
        ``(a|ab|b)*``), or when the whole body can be made of the characters
        of one of its variable pieces (``\\w+\\s?``: the blank is optional;
        ``[a-z]{1,3}-`` cannot, it needs the dash).
        """
        for child in [body, *body.children]:
            if child.kind == "alt":
                firsts = [c.first for c in child.children]
                alike = max(sum(1 for f in firsts if f & g) for g in firsts) if any(firsts) else 1
                if alike > 1:
                    return float(alike), child
            if child.minlen > 0:
                break
        for piece in self.variable_pieces(body):
            if piece.content and body.traversable(piece.content):
                return max(2.0, piece.ways), piece
        return None

    def variable_pieces(self, node: _Info) -> Iterable[_Info]:
        for child in node.children:
            if child.kind in ("repeat", "alt") and child.variable:
                yield child
            if child.kind in ("seq", "group", "alt", "repeat"):
                yield from self.variable_pieces(child)

    def run(self) -> list[str]:
        top = self.seq(list(self.tree), self.flags, [], True, 0)
        found = list(dict.fromkeys(self.problems))
        self.cost, self.culprits = top.cost, []
        if top.cost > BUDGET:
            piece = top
            while piece.children and max(c.cost for c in piece.children) > BUDGET:
                piece = max(piece.children, key=lambda c: c.cost)  # the piece whose own cost is too high
            over = [c for c in self.chains if c.cost > BUDGET] or [_Chain(top.cost, [piece], 0)]
            chain = max(over, key=lambda c: (c.depth, -len(c.pieces)))
            self.culprits = chain.pieces
            found.append(self.describe(chain, top.cost))
        return found

    def describe(self, chain: _Chain, cost: float) -> str:
        pieces = [p for p in chain.pieces if p.variable] or chain.pieces
        unbounded = any(p.unbounded or any(c.unbounded for c in self.walk(p)) for p in pieces)
        steps = f"about {cost:,.0f} backtracking steps per character of a line (limit {BUDGET:,})"
        if len(pieces) >= 2:
            quoted = " and ".join(f"'{p.text}'" for p in pieces[:4])
            fix = "bound them ({0,64})" if unbounded else "lower their bounds"
            return f"{quoted} can trade characters: {steps}; {fix} or put a character neither matches between them"
        fix = "bound it ({1,64})" if unbounded else "lower its bound"
        return (f"'{pieces[0].text}' is tried again from every start position over the same text: {steps}; "
                f"start the pattern with a literal it cannot match, or {fix}")

    @staticmethod
    def walk(node: _Info) -> Iterable[_Info]:
        for child in node.children:
            yield child
            yield from _Analyzer.walk(child)


def problems(pattern: str, flags: int = 0) -> list[str]:
    """What makes ``pattern`` (a Python regex) slower than linear; empty when it is safe.

    Unbounded repeats are costed at the bound :func:`bounded` gives them.
    Raises :class:`re.error` when ``pattern`` is not a valid regex.
    """
    return _Analyzer(pattern, flags).run()


def check(pattern: str, rule_id: str, flags: int = 0) -> None:
    """Raise :class:`UnsafeRegex` (one line, naming the rule) unless ``pattern`` matches in linear time."""
    try:
        found = problems(pattern, flags)
    except re.error as exc:
        raise UnsafeRegex(f"rule '{rule_id}': invalid regex ({exc})") from None
    if found:
        raise UnsafeRegex(f"rule '{rule_id}': {found[0]}")


# --- fitting a user's regex ---------------------------------------------------------------


@dataclass
class Fitted:
    """A user's regex made ready to compile: bounded, checked, maybe adapted (see :func:`fit`)."""

    pattern: str
    #: unbounded pieces given a bound lower than the default, as (piece as written, bound)
    lowered: list[tuple[str, int]] = field(default_factory=list)
    #: a leading lazy prefix taken off (``[\\w.-]{0,50}?``), as (one-character class regex, longest run)
    lead: tuple[str, int] | None = None


#: The lowest bound :func:`fit` gives an unbounded repeat when it adapts a rule (``.*`` between ``curl``
#: and ``-u``, a secret's own characters): shorter would miss what the rule is for.
FLOOR = 64
#: For rules written for gitleaks: the estimate (steps per character) above which a rule is refused even
#: after adapting its bounds.  The estimate is pessimistic for long multi-line rules (gitleaks' curl and
#: Kubernetes rules: up to 10**11, fast in fact); exponential and nested-unbounded patterns are refused anyway.
CEILING = 1e12


def _lead_prefix(tree: Any, flags: int) -> tuple[str, int] | None:
    """Take leading lazy prefixes (``[\\w.-]{0,50}?``) off ``tree``: at its start, in leading non-capturing
    groups, and at the start of each alternative of a leading alternation.

    Such a prefix only moves the start of a match to the left: the search
    finds the same rest of the match without it, at a fraction of the cost
    (gitleaks' keyword rules: 86 against 5 microseconds per character).
    The caller reconstructs the match's start with the returned class.
    """
    classes: list[str] = []
    longest = [0]

    def strip(items: list, scoped: int) -> None:
        run = 0
        while items:
            op, av = items[0]
            if op is _c.MIN_REPEAT and av[0] == 0 and av[1] is not _MAX and len(av[2]) == 1 and \
                    av[2][0][0] in (_c.IN, _c.ANY, _c.LITERAL, _c.NOT_LITERAL):
                text = render(av[2])
                keep = scoped & (re.IGNORECASE | re.DOTALL)
                classes.append(f"(?{_flags_text(keep, 0)}:{text})" if keep else text)
                run += av[1]
                del items[0]
                continue
            if op is _c.SUBPATTERN and av[0] is None:
                scoped = (scoped | av[1]) & ~av[2]
                items = av[3].data
                continue
            if op is _c.BRANCH and len(items) == 1:
                for branch in av[1]:
                    strip(branch.data, scoped)
            break
        longest[0] = max(longest[0], run)

    strip(tree.data, flags)
    if not classes:
        return None
    return "|".join(dict.fromkeys(classes)), longest[0]


def fit(pattern: str, flags: int = 0, adapt: bool = False, strip_lead: bool = False) -> Fitted:
    """Bound, check and (optionally) adapt a user's regex; raise :class:`UnsafeRegex` with the problem.

    Unbounded repeats get :func:`default_bound`.  With ``adapt`` (rules
    written for gitleaks, whose RE2 engine is linear whatever the
    pattern), the unbounded repeats of a chain that costs more than
    :data:`BUDGET` get lower bounds, halving down to :data:`FLOOR`, until
    it fits; at the floor, the estimate (pessimistic for long multi-line
    rules) may reach :data:`CEILING`.  A pattern over even that, or whose
    problem no bound solves (nested unbounded repetition, a backreference),
    is refused.  With ``strip_lead``, leading lazy prefixes are taken off
    (:func:`_lead_prefix`).  The message names no rule: the caller does.
    """
    try:
        tree = _p.parse(pattern, flags)
    except (re.error, RecursionError, OverflowError) as exc:
        raise UnsafeRegex(f"invalid regex ({exc})") from None
    names = {number: name for name, number in tree.state.groupdict.items()}
    lead = _lead_prefix(tree, tree.state.flags) if strip_lead and tree.state.groups > 1 else None
    bounds: dict[int, int] = {}
    lowered: dict[int, str] = {}
    for _round in range(40):
        analyzer = _Analyzer(tree, flags, bounds)
        found = analyzer.run()
        if not found:
            break
        fixable = {message for message, _piece in analyzer.adaptable}
        if not adapt or any(p not in fixable for p in analyzer.problems):  # no bound fixes them
            raise UnsafeRegex(found[0])
        suspects = analyzer.culprits + [piece for _message, piece in analyzer.adaptable]
        inside = {id(c) for culprit in suspects for c in (culprit, *_Analyzer.walk(culprit))}
        culprits = [piece for piece in analyzer.unbounded_pieces if id(piece) in inside]
        progress = False
        for piece in culprits:
            op, (low, _high, inner) = piece.items[0]
            current = bounds.get(id(inner), default_bound(inner))
            lower = max(low, FLOOR, current // 2)
            if lower < current:
                bounds[id(inner)] = lower
                lowered[id(inner)] = piece.text
                progress = True
        if not progress:  # every bound at its floor: the estimate may exceed the budget, up to CEILING
            if analyzer.cost > CEILING or any(piece.work > CEILING for _message, piece in analyzer.adaptable):
                raise UnsafeRegex(found[0])
            break
    else:  # pragma: no cover - every round halves a bound or stops
        raise UnsafeRegex(found[0])
    inline = tree.state.flags & ~flags & ~re.UNICODE
    text = (f"(?{_flags_text(inline, 0)})" if inline else "") + render(tree, names, bound=True, bounds=bounds)
    return Fitted(text, [(lowered[key], bounds[key]) for key in lowered], lead)
