"""``secretaudit trail``: read the access trail (who touched which secret, when)."""

from __future__ import annotations

import click


@click.command()
def trail() -> None:
    """Show the access trail: every get, rotate and validate, newest last."""
    raise SystemExit(0)
