"""The seed's spellings of what ``trail`` does get a one-line usage error pointing at ``trail --since``.

``audit --last-24-hours`` (how the standard's seed script asked for the day's
accesses) was click's bare three-line "No such option".  The CLI as a
subprocess; nothing is scanned or audited.
"""

from __future__ import annotations

import pytest
from conftest import run_cli


@pytest.mark.parametrize(("option", "since"), [("--last-24-hours", "24h"), ("--last-7-days", "7d"),
                                               ("--last-1-hour", "1h"), ("--last-2-weeks", "2w")])
def test_last_n_hours_points_to_trail_since(option: str, since: str) -> None:
    proc = run_cli("audit", option)
    assert proc.returncode == 4
    assert proc.stdout == "" and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("error: ") and f"secretaudit trail --since {since}" in proc.stderr
    assert "No such option" not in proc.stderr


def test_other_unknown_options_keep_clicks_message() -> None:
    proc = run_cli("audit", "--last-year-ish")
    assert proc.returncode == 4 and "No such option" in proc.stderr
