"""The forecast as the HTML report draws it: group counts and the layout of an inline SVG timeline.

Everything here is plain numbers and strings, so the template only places
them (autoescaped) and the chart needs no script, font or URL: it renders
offline, in a mail client and on paper.  The timeline shows what a review
acts on, the secrets overdue or due within 90 days, one row each, with a
diamond where it expires and a circle where its rotation falls due; dates
outside the axis sit at its edge, marked, with the real count of days in
the marker's tooltip.  Every secret, dated or not, is in the table below it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from secretaudit.forecast import GROUPS, ForecastEntry

#: The axis, in days from the as-of date, and the zones drawn on it (group key, first day, last day).
AXIS = (-30, 120)
ZONES = (("overdue", -30, 0), ("30", 0, 30), ("60", 30, 60), ("90", 60, 90), ("later", 90, 120))
TICKS = (-30, 0, 30, 60, 90, 120)
WIDTH, LABEL_WIDTH, RIGHT_PAD, TOP, ROW = 960, 250, 16, 30, 22
#: Rows drawn at most (the table has the rest); past it the chart would be taller than a printed page.
MAX_ROWS = 40
#: Characters of a secret's name shown on its row (the full name is in the row's tooltip and the table).
NAME_CHARS = 34
ACTIONABLE = ("overdue", "30", "60", "90")


def _x(days: float) -> float:
    low, high = AXIS
    clamped = min(max(days, low), high)
    return round(LABEL_WIDTH + (clamped - low) / (high - low) * (WIDTH - LABEL_WIDTH - RIGHT_PAD), 1)


def _short(name: str) -> str:
    return name if len(name) <= NAME_CHARS else name[:NAME_CHARS - 1] + "\u2026"


def _marker(days: int | None, date: str | None, group: str, what: str) -> dict[str, Any] | None:
    if days is None:
        return None
    when = "today" if days == 0 else f"in {days} days" if days > 0 else f"{-days} days ago"
    return {"x": _x(days), "clamped": not AXIS[0] <= days <= AXIS[1], "group": group,
            "title": f"{what} {date} ({when})"}


def counts(entries: list[ForecastEntry]) -> dict[str, list[dict[str, Any]]]:
    """Secrets per group, for expiry and for rotation, in :data:`GROUPS` order."""
    return {event: [{"group": key, "label": label,
                     "count": sum(getattr(e, f"{event}_group") == key for e in entries)}
                    for key, label in GROUPS.items()]
            for event in ("expiry", "rotation")}


def timeline(entries: list[ForecastEntry], as_of: datetime) -> dict[str, Any]:
    """The SVG's geometry: zones, ticks (dated), and one row per actionable secret, soonest first."""
    actionable = [e for e in entries if e.expiry_group in ACTIONABLE or e.rotation_group in ACTIONABLE]
    shown = actionable[:MAX_ROWS]
    one_backend = len({e.backend for e in entries}) == 1  # then the name alone says which secret
    rows = []
    for index, entry in enumerate(shown):
        y = TOP + index * ROW + ROW // 2
        rows.append({"y": y, "label": _short(entry.name if one_backend else entry.secret), "secret": entry.secret,
                     "owner": entry.owner,
                     "expiry": _marker(entry.days_to_expiry, entry.expires, entry.expiry_group, "expires"),
                     "rotation": _marker(entry.days_to_rotation, entry.rotation_due, entry.rotation_group,
                                         "rotation due")})
    height = TOP + len(rows) * ROW + 8
    return {
        "width": WIDTH, "height": height, "label_width": LABEL_WIDTH, "top": TOP,
        "zones": [{"group": key, "x": _x(start), "width": round(_x(end) - _x(start), 1)} for key, start, end in ZONES],
        "ticks": [{"x": _x(days), "days": days,
                   "label": (as_of + timedelta(days=days)).date().isoformat()} for days in TICKS],
        "today": _x(0),
        "rows": rows,
        "more": len(actionable) - len(shown),
        "actionable": len(actionable),
    }
