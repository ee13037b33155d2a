"""The console script's head start: which directories a ``scan`` will list, read before the CLI loads."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from secretaudit.launch import SCAN_VALUE_OPTIONS, directories_to_list


def test_the_value_options_are_exactly_the_scan_commands() -> None:
    """The launcher skips an option's value; if ``scan`` gains an option that takes one, this says so."""
    from secretaudit.cli import cli

    scan = cli.get_command(click.Context(cli), "scan")
    assert scan is not None
    taking_values = {name for param in scan.params if isinstance(param, click.Option)
                     and not param.is_flag and not param.count for name in (*param.opts, *param.secondary_opts)}
    assert SCAN_VALUE_OPTIONS == taking_values


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for directory in ("src", "vendor", "json"):
        (tmp_path / directory).mkdir()
    (tmp_path / "deploy.sh").write_text("echo\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(("args", "listed"), [
    (["scan"], ["."]),
    (["scan", "src", "deploy.sh"], ["src"]),
    (["scan", "--format", "json", "-q"], ["."]),  # "json" is --format's value, not a path
    (["scan", "--format=json", "src"], ["src"]),
    (["scan", "--exclude", "vendor", "-c", "secretaudit.yaml"], ["."]),
    (["scan", "-qq", "--no-cache", "--", "--odd-name", "vendor"], ["vendor"]),
    (["scan", "deploy.sh"], []),  # a pre-commit hook: explicit files, nothing to list
    (["scan", "--staged"], []),
    (["scan", "--history", "."], []),
    (["scan", "src", "--help"], []),
    (["audit", "src"], []),
    ([], []),
])
def test_the_directories_a_scan_will_list(tree: Path, args: list[str], listed: list[str]) -> None:
    assert directories_to_list(args) == listed
