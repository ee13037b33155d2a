"""YAML that cannot explode: the one way secretaudit reads YAML.

A YAML alias (``*a``) stands for the whole node its anchor (``&a``) names.
PyYAML composes an alias as a second reference to that node, instantly,
but anything that walks the document (SA106 looking for secret keys, the
config's ``${VAR}`` interpolation, a backend's entries) visits the node
once per reference.  Nine anchors, each a list of nine aliases to the one
before, make 350 bytes that stand for 9**9 strings: a billion laughs,
which held a scan for ever.

So every document is measured before anyone walks it: the number of nodes
a walk following every alias would visit, computed once per distinct node
(linear in the document).  A document that stands for more than
:data:`MAX_EXPANDED_NODES` nodes (or ten times its own, when that is
more), or that contains itself (``&a [*a]``), or is nested deeper than the
parser can follow, is refused with :class:`YAMLBomb`.  Documents without an
alias (no ``*`` at all) are trees, and are not measured.

:class:`YAMLBomb` is deliberately not a ``yaml.YAMLError``: code that
treats a syntax error as "not YAML, move on" must not quietly pass a bomb
over.  A file check lets it through to the engine, which skips the file
as an error (:mod:`secretaudit.file_checks`); the config loader and the
inventory backend turn it into their own one-line errors.
"""

from __future__ import annotations

from typing import Any

from secretaudit.budget import TooCostly

#: Nodes a document may stand for, however few it holds.
MAX_EXPANDED_NODES = 100_000
#: ... or this many times the nodes it holds, when that is more.
MAX_EXPANSION_FACTOR = 10
#: Sizes are counted up to this: enough to compare, small enough to add fast.
_CAP = 1 << 62


class YAMLBomb(TooCostly):
    """A YAML document whose aliases expand beyond the limit, or that contains itself."""

    def __init__(self, message: str) -> None:
        super().__init__("YAML alias bomb", message)


def _c_loader() -> type:
    """libyaml's safe loader when PyYAML has it (ten times faster), else the Python one."""
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def compose(text: str, loader: type | None = None) -> Any:
    """``yaml.compose(text)``: the node tree (with marks), or None for an empty document.

    Raises ``yaml.YAMLError`` for invalid YAML, :class:`YAMLBomb` for a
    document too costly to walk.
    """
    instance = (loader or _c_loader())(text)
    try:
        node = _single_node(instance)
        if node is not None and "*" in text:
            check_expansion(node)
        return node
    finally:
        instance.dispose()


def load(text: str, loader: type | None = None) -> Any:
    """``yaml.load(text, Loader=loader)`` (PyYAML's ``SafeLoader`` by default), refusing bombs.

    ``loader`` must be a safe loader (a ``SafeLoader`` subclass or
    ``CSafeLoader``): this only adds the check, not safety of construction.
    """
    import yaml

    instance = (loader or yaml.SafeLoader)(text)
    try:
        node = _single_node(instance)
        if node is None:
            return None
        if "*" in text:
            check_expansion(node)
        try:
            return instance.construct_document(node)
        except RecursionError:
            raise YAMLBomb("YAML nested too deeply to read; flatten it") from None
    finally:
        instance.dispose()


def _single_node(instance: Any) -> Any:
    try:
        return instance.get_single_node()
    except RecursionError:  # the pure-Python composer recurses once per level
        raise YAMLBomb("YAML nested too deeply to read; flatten it") from None


def check_expansion(root: Any) -> int:
    """The number of nodes a walk of ``root`` following every alias visits; raise :class:`YAMLBomb` past the limit.

    Iterative (no recursion limit) and memoised per node, so a graph of n
    distinct nodes costs O(n) however much it expands.
    """
    import yaml

    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    distinct = 0
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            on_path.discard(key)
            sizes[key] = min(_CAP, 1 + sum(sizes[id(child)] for child in _children(node, yaml)))
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise YAMLBomb("a YAML alias refers to a node that contains it (a recursive document); remove it")
        on_path.add(key)
        distinct += 1
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node, yaml) if id(child) not in sizes)
    limit = max(MAX_EXPANDED_NODES, MAX_EXPANSION_FACTOR * distinct)
    if sizes[id(root)] > limit:
        raise YAMLBomb(f"YAML aliases expand this document to more than {limit:,} nodes "
                       "(a billion-laughs bomb?); use fewer nested aliases")
    return sizes[id(root)]


def _children(node: Any, yaml: Any) -> list[Any]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def key_lines(text: str, loader: type | None = None) -> dict[tuple[str | int, ...], int]:
    """The 1-based line of every key path of a YAML document: ``("backends", 0, "url") -> 12``.

    A mapping key's path ends in its text (``"url"``), a sequence item's in its
    index (``0``, the line the item starts on).  Built in one walk, so a
    caller that locates many keys (every finding of an audit points at the
    config entry or inventory line that declares it) composes the document
    once.  Measured like :func:`compose` first (raises ``yaml.YAMLError`` or
    :class:`YAMLBomb`); a path reached twice through an alias keeps its first line.
    """
    import yaml

    lines: dict[tuple[str | int, ...], int] = {}
    root = compose(text, loader)
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), root)] if root is not None else []
    while stack:
        path, node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            children = [((*path, key.value), key.start_mark.line + 1, value)
                        for key, value in node.value if isinstance(key, yaml.ScalarNode)]
        elif isinstance(node, yaml.SequenceNode):
            children = [((*path, index), item.start_mark.line + 1, item) for index, item in enumerate(node.value)]
        else:
            continue
        for child_path, line, child in children:
            if child_path not in lines:
                lines[child_path] = line
                stack.append((child_path, child))
    return lines
