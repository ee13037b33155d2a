"""Registries that plugins fill through the ``secretaudit_register_*`` hooks.

The engine looks checks and formats up here by id or name; it never imports
a check or reporter module itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterator

from secretaudit.model import CheckSpec

if TYPE_CHECKING:
    from secretaudit.session import Session

Renderer = Callable[["Session"], str]


class CheckRegistry:
    """The run's catalogue of checks, keyed by stable id (``SA101``)."""

    def __init__(self) -> None:
        self._checks: dict[str, CheckSpec] = {}

    def add(self, spec: CheckSpec) -> None:
        if spec.id in self._checks:
            raise ValueError(f"check {spec.id} is registered twice")
        self._checks[spec.id] = spec

    def get(self, check_id: str) -> CheckSpec:
        return self._checks[check_id]

    def __contains__(self, check_id: object) -> bool:
        return check_id in self._checks

    def __iter__(self) -> Iterator[CheckSpec]:
        return iter(sorted(self._checks.values(), key=lambda s: s.id))

    def __len__(self) -> int:
        return len(self._checks)


class FormatRegistry:
    """Output formats by name (``json``, ...), each a renderer of a session.

    ``extension`` names the default file of ``--report NAME`` without a path
    (``secretaudit-report.<extension>``).
    """

    def __init__(self) -> None:
        self._formats: dict[str, Renderer] = {}
        self._extensions: dict[str, str] = {}

    def add(self, name: str, render: Renderer, extension: str | None = None) -> None:
        if name in self._formats:
            raise ValueError(f"format {name!r} is registered twice")
        self._formats[name] = render
        self._extensions[name] = extension or name

    def get(self, name: str) -> Renderer:
        return self._formats[name]

    def extension(self, name: str) -> str:
        return self._extensions[name]

    def names(self) -> list[str]:
        return sorted(self._formats)

    def __contains__(self, name: object) -> bool:
        return name in self._formats
