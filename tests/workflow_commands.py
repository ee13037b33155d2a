"""GitHub Actions workflow commands read back as the runner reads them (a test helper).

A transcription of the Actions runner's parser (``ActionCommand.TryParseV2``):
a line starting ``::`` (after trimming), the command up to the next ``::``,
its name up to the first space, properties split on ``,`` and then on the
first ``=``, property values and the message unescaped (``%25``, ``%0D``,
``%0A``; in properties also ``%3A`` and ``%2C``).
"""

from __future__ import annotations

from typing import NamedTuple


class Command(NamedTuple):
    name: str
    properties: dict[str, str]
    data: str


def _unescape_data(text: str) -> str:
    return text.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


def _unescape_property(text: str) -> str:
    return (text.replace("%0D", "\r").replace("%0A", "\n").replace("%3A", ":").replace("%2C", ",")
            .replace("%25", "%"))


def parse(line: str) -> Command | None:
    """A workflow command as the runner parses it, or None for a line the runner would just print."""
    stripped = line.strip()
    if not stripped.startswith("::"):
        return None
    end = stripped.find("::", 2)
    if end < 0:
        return None
    info, data = stripped[2:end], stripped[end + 2:]
    name, _, props = info.partition(" ")
    properties = {}
    for pair in filter(None, props.split(",")):
        key, sep, value = pair.partition("=")
        assert sep, f"property without '=': {pair!r}"
        properties[key] = _unescape_property(value)
    return Command(name, properties, _unescape_data(data))


def commands(stdout: str) -> list[Command]:
    lines = stdout.splitlines()
    parsed = [parse(line) for line in lines]
    assert all(parsed), f"lines that are not workflow commands: {[l for l, p in zip(lines, parsed) if not p]}"
    return parsed  # type: ignore[return-value]
