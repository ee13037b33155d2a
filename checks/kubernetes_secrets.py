"""SA108: Kubernetes ``Secret`` manifests that carry a credential.

A ``kind: Secret`` manifest keeps its values under ``data:`` in base64,
which is an encoding, not encryption: ``echo cGFzcw== | base64 -d`` is all
it takes.  No regex over the file sees the credential inside, and the
high-entropy guess of SA102 cannot tell ``YWRtaW4=`` (``admin``) from a
base64-encoded API key.  So this check reads the manifest, decodes each
``data:`` value (``stringData:`` values are plain already) and reports the
ones that are a credential:

* a known-format credential (SA101's rules: a token, a private key...);
* a connection string with a password (SA103's parser);
* a credential file under its usual name (``.dockerconfigjson``, ``.npmrc``,
  ``credentials``: SA104's readers);
* a multi-line file with a secret in it (SA102's detectors on the decoded text);
* a single value that is random-looking, or any real value under a secret
  name (``password``, ``api-token``), but never a placeholder, a reference,
  a user name or a host.

Evidence stays redacted: the reported secret is the value as written in the
file (base64 for ``data:``), which the engine redacts like any other; the
label names the Secret, the key and what the decoded value is, never the value.

The manifest is read line by line (indentation, ``-`` list items, quoted,
plain and block scalars, ``---`` documents): Helm templates and files that
are not valid YAML are read too, the reader is linear in the file, and a
file without ``kind: Secret`` costs nothing beyond the prefilters' pass
(:mod:`secretaudit.multiscan`).  JSON manifests
(``kubectl get secret -o json``) are read with :mod:`json`.

SA108 claims the values of a Secret's ``data``/``stringData`` over SA102 and
SA103: its decoded judgement replaces their guesses about the base64 text.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
import math
import re
from typing import Any, Iterator, NamedTuple, TYPE_CHECKING

from secretaudit import multiscan
from secretaudit.checks import filters
from secretaudit.checks.lazyre import lazy_compile
from secretaudit.controls import HARDCODED_CREDENTIALS
from secretaudit.hookspec import hookimpl
from secretaudit.model import CheckSpec, Detection, FileItem, Severity

if TYPE_CHECKING:
    from secretaudit.config import Config
    from secretaudit.registry import CheckRegistry

CHECK_ID = "SA108"

SPEC = CheckSpec(
    id=CHECK_ID,
    title="Kubernetes Secret manifest with a credential",
    severity=Severity.CRITICAL,
    description=(
        "A Kubernetes Secret manifest (kind: Secret) holds a credential in data: (base64 is an "
        "encoding, not encryption) or stringData:. Each value is decoded and reported when it is a "
        "known-format credential, a connection string with a password, a credential file "
        "(.dockerconfigjson, .npmrc, ...) or a random-looking secret."
    ),
    remediation=(
        "Rotate the credential, then keep the Secret's values out of the repository: deliver them from "
        "a secret store (External Secrets Operator, the Secrets Store CSI driver), commit them encrypted "
        "(Sealed Secrets, SOPS), or create the Secret at deploy time from the CI's secret store."
    ),
    tags=("secrets", "kubernetes", "credential-file"),
    controls=HARDCODED_CREDENTIALS,
    claims_over=("SA102", "SA103"),
)

# -- reading manifests ------------------------------------------------------------------------------


class SecretValue(NamedTuple):
    """One value of a Secret's ``data`` or ``stringData``: where it is and what is written."""

    offset: int  # of the value's first character in the file
    raw: str  # as written (base64 for ``data``), quotes and block indentation removed
    key: str
    field: str  # "data" or "stringData"
    name: str  # the Secret's metadata.name, "" when absent

    def __repr__(self) -> str:  # never show the value
        return f"SecretValue(field={self.field!r}, key={self.key!r}, offset={self.offset})"


_KIND_SECRET_YAML = lazy_compile(r"^[ \t]*(?:-[ \t]+)*kind:[ \t]*([\"']?)Secret\1[ \t]*(?:#[^\n]*)?\r?$",
                                 re.MULTILINE)
_KIND_SECRET_JSON = lazy_compile(r"\"kind\"[ \t\r\n]*:[ \t\r\n]*\"Secret\"")
_ITEM_DASHES = lazy_compile(r"(?:-(?:[ \t]+|$))+")
_BLOCK_HEADER = lazy_compile(r"[|>][-+0-9]{0,2}[ \t]*(?:#[^\n]*)?")
_DOUBLE_QUOTED = lazy_compile(r"\"((?:[^\"\\\n]|\\.)*)\"")
_SINGLE_QUOTED = lazy_compile(r"'((?:[^'\n]|'')*)'")
_ESCAPE = lazy_compile(r"\\(.)")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "/": "/", "0": "\0"}


class _Entry:
    """A ``key: value`` line of the manifest (value None: a mapping or nothing follows)."""

    __slots__ = ("key", "value", "offset", "indent", "child", "block", "block_style", "more")

    def __init__(self, key: str, indent: int) -> None:
        self.key = key
        self.indent = indent
        self.value: str | None = None
        self.offset = 0
        self.child: _Map | None = None
        self.block: list[tuple[int, str]] | None = None  # (offset, line) of a block scalar
        self.block_style = ""
        self.more: list[str] | None = None  # a plain scalar's continuation lines (None: not a plain scalar)


class _Map:
    """A block mapping: its key column and entries in order."""

    __slots__ = ("indent", "entries")

    def __init__(self, indent: int) -> None:
        self.indent = indent
        self.entries: list[_Entry] = []

    def get(self, key: str) -> _Entry | None:
        for entry in self.entries:
            if entry.key == key:
                return entry
        return None


def _unquote(text: str) -> tuple[str, int, int] | None:
    """A quoted scalar at the start of ``text``: its value, and where its body starts and its closing quote ends.

    None when ``text`` does not start with a complete quoted scalar.
    """
    if text[:1] == '"':
        match = _DOUBLE_QUOTED.match(text)
        if match is None:
            return None
        body = match.group(1)
        if "\\" in body:
            body = _ESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(1)), body)
        return body, 1, match.end()
    if text[:1] == "'":
        match = _SINGLE_QUOTED.match(text)
        return None if match is None else (match.group(1).replace("''", "'"), 1, match.end())
    return None


def _split_key(content: str) -> tuple[str, str] | None:
    """``key`` and the rest of a ``key: rest`` line, or None when the line is no mapping entry."""
    if content[:1] in ('"', "'"):
        quoted = _unquote(content)
        if quoted is None:
            return None
        rest = content[quoted[2]:].lstrip(" \t")
        if not rest.startswith(":") or (len(rest) > 1 and rest[1] not in " \t"):
            return None
        return quoted[0], rest[1:]
    colon = content.find(": ")
    tab = content.find(":\t")
    if tab != -1 and (colon == -1 or tab < colon):
        colon = tab
    if colon == -1:
        if not content.endswith(":"):
            return None
        colon = len(content) - 1
    key = content[:colon].rstrip(" \t")
    if not key or key[0] in "#[{&*!|>%@`,":
        return None
    return key, content[colon + 1:]


def _set_value(entry: _Entry, rest: str, rest_offset: int) -> None:
    """Read the inline part of an entry: quoted, plain, a block header, or nothing."""
    stripped = rest.lstrip(" \t")
    offset = rest_offset + len(rest) - len(stripped)
    stripped = stripped.rstrip(" \t")
    if not stripped or stripped.startswith("#"):
        return
    if stripped[0] in "|>" and _BLOCK_HEADER.fullmatch(stripped):
        entry.block, entry.block_style = [], stripped[0]
        return
    quoted = _unquote(stripped)
    if quoted is not None:
        entry.value, entry.offset = quoted[0], offset + quoted[1]
        return
    if stripped[0] in "{[&*!":
        return  # flow collections, anchors, aliases and tags: not values this check reads
    comment = stripped.find(" #")
    entry.value = (stripped if comment == -1 else stripped[:comment]).rstrip(" \t")
    entry.offset, entry.more = offset, []


def _finish_block(entry: _Entry) -> None:
    """Join a block scalar's lines: ``|`` keeps the newlines, ``>`` folds them."""
    lines = entry.block or []
    while lines and not lines[-1][1].strip():
        lines.pop()
    if not lines:
        entry.block = None
        return
    indent = min(len(line) - len(line.lstrip(" ")) for _, line in lines if line.strip())
    texts = [line[indent:] for _, line in lines]
    entry.value = ("\n" if entry.block_style == "|" else " ").join(texts)
    first = next((off, line) for off, line in lines if line.strip())
    entry.offset = first[0] + indent
    entry.block = None


def _yaml_maps(text: str) -> list[_Map]:
    """Every block mapping of a YAML text, read by indentation (see the module docstring)."""
    maps: list[_Map] = []
    stack: list[_Map] = []
    open_block: _Entry | None = None
    last: _Entry | None = None  # the last entry read, for plain scalars continued on the next lines
    offset = 0
    for raw_line in text.split("\n"):
        line_offset, offset = offset, offset + len(raw_line) + 1
        line = raw_line[:-1] if raw_line.endswith("\r") else raw_line
        content = line.lstrip(" ")
        indent = len(line) - len(content)
        if open_block is not None:
            if not content.strip() or indent > open_block.indent:
                open_block.block.append((line_offset, line))  # type: ignore[union-attr]
                continue
            _finish_block(open_block)
            open_block = None
        if line.startswith(("---", "...")) and line[3:4] in ("", " ", "\t"):
            stack, last = [], None  # a new document
            continue
        if not content or content.startswith("#"):
            continue
        dashes = _ITEM_DASHES.match(content)  # "- ", "- - " (nested sequences): one match, not a copy per dash
        item = dashes is not None
        if dashes is not None:
            indent += dashes.end()
            content = content[dashes.end():]
        if not content:
            continue
        split = _split_key(content)
        if split is None:
            if last is not None and last.more is not None and indent > last.indent:
                last.more.append(content.rstrip(" \t"))  # a plain scalar continued
            continue
        key, rest = split
        if item:
            while stack and stack[-1].indent >= indent:
                stack.pop()
            current = _Map(indent)
            maps.append(current)
            stack.append(current)
        else:
            while stack and stack[-1].indent > indent:
                stack.pop()
            if stack and stack[-1].indent == indent:
                current = stack[-1]
            else:
                current = _Map(indent)
                maps.append(current)
                if stack and stack[-1].entries and stack[-1].entries[-1].value is None:
                    stack[-1].entries[-1].child = current
                stack.append(current)
        entry = _Entry(key, indent)
        _set_value(entry, rest, line_offset + len(line) - len(rest))
        current.entries.append(entry)
        last = entry
        if entry.block is not None:
            open_block = entry
    if open_block is not None:
        _finish_block(open_block)
    return maps


def _values_of(secret: _Map) -> Iterator[SecretValue]:
    metadata = secret.get("metadata")
    name_entry = metadata.child.get("name") if metadata is not None and metadata.child is not None else None
    name = name_entry.value or "" if name_entry is not None else ""
    for field in ("data", "stringData"):
        entry = secret.get(field)
        if entry is None or entry.child is None:
            continue
        for item in entry.child.entries:
            if item.value is not None and item.child is None:
                value = " ".join([item.value, *item.more]) if item.more else item.value
                yield SecretValue(item.offset, value, item.key, field, name)


def _yaml_secret_values(text: str) -> list[SecretValue]:
    values: list[SecretValue] = []
    for mapping in _yaml_maps(text):
        kind = mapping.get("kind")
        if kind is not None and kind.value == "Secret":
            values.extend(_values_of(mapping))
    return values


def _json_objects(node: Any) -> Iterator[dict[str, Any]]:
    """Every object of a JSON document, in document order (without recursion: depth is the input's)."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            yield current
            stack.extend(reversed(list(current.values())))
        elif isinstance(current, list):
            stack.extend(reversed(current))


def _json_secret_values(text: str) -> list[SecretValue]:
    """Secret values of a JSON manifest (or a ``kind: List``), located by their quoted text."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        return []
    values: list[SecretValue] = []
    resume = 0  # values come in document order: each is looked for after the last one found
    for obj in _json_objects(document):
        if obj.get("kind") != "Secret":
            continue
        metadata = obj.get("metadata")
        name = metadata.get("name", "") if isinstance(metadata, dict) else ""
        for field in ("data", "stringData"):
            entries = obj.get(field)
            if not isinstance(entries, dict):
                continue
            for key, value in entries.items():
                if not isinstance(value, str) or not isinstance(key, str):
                    continue
                encoded = json.dumps(value)
                at = text.find(encoded, resume)
                if at == -1:
                    at = resume - 1  # written with other escapes (\u00e9): the line of the value before
                else:
                    resume = at + len(encoded)
                values.append(SecretValue(at + 1, value, key, field, name if isinstance(name, str) else ""))
    return values


#: What every Secret manifest spells, looked for in the pass the other checks' prefilters make.
_MARKS = multiscan.PatternSet(("Secret", "kind"))


def _may_be_manifest(text: str) -> bool:
    """Whether ``text`` spells both ``Secret`` and ``kind``: almost no file does."""
    if multiscan.accelerates(text, _MARKS):
        return len({index for index, _end in _MARKS.ends(text)}) == 2
    return "Secret" in text and "kind" in text


def _yaml_kind_secret(text: str) -> bool:
    """``_KIND_SECRET_YAML.search(text)``, tried only at the lines holding ``kind:``.

    The search tried its ``^`` at every position of the file: 0.14 s for a
    few bundled JavaScript files that happen to spell both words.
    """
    at = text.find("kind:")
    while at != -1:
        if _KIND_SECRET_YAML.match(text, text.rfind("\n", 0, at) + 1) is not None:
            return True
        line_end = text.find("\n", at)  # the line is answered: on to the next one (not its next "kind:",
        if line_end == -1:  # whose look back to the line's start made a long line of them quadratic)
            return False
        at = text.find("kind:", line_end)
    return False


def secret_values(text: str) -> list[SecretValue]:
    """Every ``data``/``stringData`` value of every Secret manifest in ``text`` (YAML or JSON)."""
    if not _may_be_manifest(text):
        return []  # almost every file
    if text.lstrip()[:1] in ("{", "[") and _KIND_SECRET_JSON.search(text):
        found = _json_secret_values(text)
        if found:
            return found
    if not _yaml_kind_secret(text):
        return []
    return _yaml_secret_values(text)


# -- judging one value ---------------------------------------------------------------------------------

#: Published documentation values of Kubernetes' own Secret examples.
DOCUMENTATION_VALUES: frozenset[str] = frozenset({
    "1f2d1e2e67df",  # kubernetes.io: "Managing Secrets using configuration files"
    "39528$vdg7Jb",  # kubernetes.io: "Distribute credentials securely using Secrets"
    "S!B\\*d$zDsb=",  # kubernetes.io: kubectl create secret generic examples
})

#: Key names whose values are not secrets on their own.
_PUBLIC_KEY_NAMES = lazy_compile(
    r"(?:^|[._-])(?:user(?:name)?|login|email|host(?:name)?|server|port|database|dbname|db|namespace|region|"
    r"endpoint|url|uri|address|domain|realm|tenant|project|account(?:[._-]?id)?|client[._-]?id|app[._-]?id|"
    r"ca|ca[._-]?crt|tls[._-]?crt|cert|crt|certificate|truststore|pub|public[._-]?key|kid|version|"
    r"mode|type|driver|scheme|protocol|bucket|queue|topic|path)$",
    re.IGNORECASE,
)
#: Key names that say their value is a secret.
_SECRET_KEY_NAMES = lazy_compile(r"pass|pwd|secret|token|key|credential|auth|cookie|salt|seed|signing|private",
                                 re.IGNORECASE)
_PASSWORD_KEY_NAMES = lazy_compile(r"pass|pwd", re.IGNORECASE)
_LOWER_WORD = lazy_compile(r"[a-z]+")
_BASE64_TEXT = lazy_compile(r"[A-Za-z0-9+/]*={0,2}")
_URL = lazy_compile(r"[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)
#: Shortest single value reported under a secret name, and under any name when random.
MIN_SECRET_LENGTH = 8
MIN_RANDOM_LENGTH = 16
#: Bits per character above which a single value under a neutral name is random.
RANDOM_ENTROPY = 3.5


def _decode(raw: str) -> str | bytes | None:
    """A ``data:`` value decoded: text, bytes when it is binary, None when it is not base64."""
    compact = "".join(raw.split())
    if not compact or len(compact) % 4 or not _BASE64_TEXT.fullmatch(compact):
        return None
    try:
        decoded = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return None
    try:
        return decoded.decode("utf-8")
    except UnicodeDecodeError:
        return decoded


def _entropy(data: str | bytes) -> float:
    counts: dict[Any, int] = {}
    for unit in data:
        counts[unit] = counts.get(unit, 0) + 1
    n = len(data)
    return -sum(c / n * math.log2(c / n) for c in counts.values()) if n else 0.0


class Verdict(NamedTuple):
    """Why a value is a credential, and the part of the written value to report."""

    what: str
    secret: str  # as written in the file
    offset: int

    def __repr__(self) -> str:
        return f"Verdict(what={self.what!r}, offset={self.offset})"


def _single_value(key: str, value: str) -> str | None:
    """What a one-line value is, when it is a secret on its own (or None)."""
    if (len(value) < MIN_SECRET_LENGTH or value in DOCUMENTATION_VALUES or filters.is_placeholder(value)
            or filters.is_reference(value, literal=True) or filters.is_example_key(value)):
        return None
    if _PUBLIC_KEY_NAMES.search(key) or _URL.fullmatch(value) or value.isdigit():
        return None
    if filters.is_prose(value) or filters.is_name_like(value) or filters.is_identifier_like(value):
        return None
    if _SECRET_KEY_NAMES.search(key):
        if _LOWER_WORD.fullmatch(value) and _PASSWORD_KEY_NAMES.search(key) is None:
            return None
        return "a secret value"
    if len(value) >= MIN_RANDOM_LENGTH and _entropy(value) >= RANDOM_ENTROPY and not filters.is_uuid(value):
        return "a random-looking value"
    return None


def _file_description(label: str) -> str:
    """SA104's label of a credential file, as what a value holds (``a .npmrc with a registry credential``)."""
    return "a " + label[len("Committed "):] if label.startswith("Committed ") else label


#: Between decoded values judged together: no rule matches across a line holding only a NUL.
_SEPARATOR = "\n\0\n"

#: (description, secret, offset of the secret in the value's text)
Found = tuple[str, str, int]


def _in_texts(texts: list[str]) -> tuple[dict[int, Found], dict[int, Found]]:
    """Known-format credentials and connection-string passwords in each text, by text index.

    Every text is searched in one pass of SA101's rules and of SA103's parser
    over the texts joined: a Secret of ten thousand values costs two scans,
    not twenty thousand calls.
    """
    from secretaudit.checks import connection_strings, known_formats

    starts, pos = [], 0
    for text in texts:
        starts.append(pos)
        pos += len(text) + len(_SEPARATOR)
    joined = _SEPARATOR.join(texts)

    def owner(start: int, length: int) -> int | None:
        index = bisect.bisect_right(starts, start) - 1
        return index if start + length <= starts[index] + len(texts[index]) else None

    known: dict[int, Found] = {}
    for rule, secret, start, _end, _prefix in known_formats.find_credentials(joined):
        index = owner(start, len(secret))
        if index is not None and index not in known:
            known[index] = (f"a {rule.label}", secret, start - starts[index])
    urls: dict[int, Found] = {}
    for hit in connection_strings.find_passwords(joined):
        index = owner(hit.start, len(hit.password))
        if index is not None and index not in urls:
            urls[index] = ("a connection string with a password", hit.password, hit.start - starts[index])
    return known, urls


def _credential_file(key: str, text: str) -> Found | None:
    """The credential of a value that is a whole credential file under its usual name (``.dockerconfigjson``)."""
    from secretaudit.checks import credential_files

    name = key.rsplit("/", 1)[-1]
    kind = credential_files.DOCKER_CONFIG if name in (".dockerconfigjson", ".dockercfg") else \
        credential_files.kind_for(FileItem(path=name, relpath=name, text=text))
    claim = kind.find(text) if kind is not None else None
    return None if claim is None else (_file_description(kind.label), claim.secret, claim.offset)  # type: ignore[union-attr]


def _rest(key: str, text: str) -> Found | None:
    """A value with no known format and no connection string: a random single value, or a file with a secret."""
    stripped = text.strip()
    if "\n" not in stripped:
        what = _single_value(key, stripped)
        return None if what is None else (what, stripped, text.find(stripped))
    from secretaudit.checks import generic

    name = key.rsplit("/", 1)[-1]
    found = generic.scan_text(FileItem(path=name, relpath=name, text=text), generic.Limits(), True)
    if found:
        start, cand = found[0]
        return "a file with a secret in it", cand.value, start + cand.column
    return None


def judge_all(values: list[SecretValue]) -> list[Verdict | None]:
    """Whether each Secret value is a credential, and what to report for it (in the order given)."""
    texts: list[str | bytes | None] = [value.raw if value.field == "stringData" else _decode(value.raw)
                                       for value in values]
    textual = [i for i, text in enumerate(texts) if isinstance(text, str)]
    known, urls = _in_texts([texts[i] for i in textual])  # type: ignore[misc]
    verdicts: list[Verdict | None] = [None] * len(values)
    for position, i in enumerate(textual):
        value, text = values[i], texts[i]
        assert isinstance(text, str)
        found = _credential_file(value.key, text) or known.get(position) or urls.get(position) or _rest(value.key, text)
        if found is None:
            continue
        what, secret, at = found
        if value.field == "data":
            verdicts[i] = Verdict(f"{what} (base64-encoded)", value.raw, value.offset)
        elif text.find(secret, at) == at and "\n" not in text:
            verdicts[i] = Verdict(what, secret, value.offset + at)  # the credential as written: SA101/SA103 agree
        else:
            verdicts[i] = Verdict(what, value.raw, value.offset)
    for i, text in enumerate(texts):
        value = values[i]
        if isinstance(text, bytes) and len(text) >= MIN_RANDOM_LENGTH and not _PUBLIC_KEY_NAMES.search(value.key) \
                and _entropy(text) >= 4.0:
            verdicts[i] = Verdict("binary key material (base64-encoded)", value.raw, value.offset)
    return verdicts


def judge(value: SecretValue) -> Verdict | None:
    """Whether one Secret value is a credential (``None`` for a template, a placeholder, a public value...)."""
    return judge_all([value])[0]


# -- hooks ----------------------------------------------------------------------------------------------

_MAX_SHOWN = 60


def _shown(text: str) -> str:
    return text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN - 3] + "..."


def detections(item: FileItem) -> list[Detection]:
    """SA108's findings in one file."""
    found: list[Detection] = []
    values = secret_values(item.text)
    if not values:
        return found  # almost every file: nothing to judge
    for value, verdict in zip(values, judge_all(values)):
        if verdict is None:
            continue
        where = f"Kubernetes Secret {_shown(value.name)!r}" if value.name else "Kubernetes Secret"
        found.append(Detection(
            check_id=CHECK_ID, line=item.line_of(verdict.offset), secret=verdict.secret,
            label=f"{where}, {value.field} key {_shown(value.key)!r}, holds {verdict.what}", visible_prefix="",
            rule="kubernetes-secret-data" if value.field == "data" else "kubernetes-secret-stringdata"))
    return found


@hookimpl
def secretaudit_register_checks(registry: "CheckRegistry") -> None:
    """Register SA108."""
    registry.add(SPEC)


@hookimpl
def secretaudit_claimed_values(item: FileItem, config: "Config", check_ids: frozenset[str]) -> dict[str, list[str]] | None:
    """Every value of a Secret's data and stringData: SA108 decides on them, decoded."""
    if CHECK_ID not in check_ids:
        return None
    values = secret_values(item.text)
    if not values:
        return None
    claimed = [value.raw for value in values]
    claimed.extend(verdict.secret for verdict in judge_all(values) if verdict is not None)
    return {CHECK_ID: claimed}


@hookimpl
def secretaudit_scan_file(item: FileItem, config: "Config") -> list[Detection] | None:
    """Report the credentials of the Kubernetes Secret manifests in ``item``."""
    if not config.is_enabled(CHECK_ID):
        return None
    return detections(item) or None
