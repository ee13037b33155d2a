"""The expiry and rotation forecast: for every secret a backend listed, the days left.

The findings say what is out of policy today; a reviewer also plans what
falls due next: a token 31 days from expiry passes SA202 today and fails it
next week.  The forecast answers that for every secret, in the groups a
review plans by: overdue, within 30, 60 or 90 days, later, and unknown (no
date to count from).

The dates are the lifecycle policy's (rotation periods per kind belong to the
lifecycle checks, which the engine does not import): the engine asks
``secretaudit_record_schedule`` for each record and never computes a policy
date itself, so the forecast and the SA201-SA203 findings cannot disagree.
A merged report (``report merge``) carries the forecast its shards wrote.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from secretaudit.stash import RECORDS, StashKey

if TYPE_CHECKING:
    from secretaudit.session import Session

#: Forecast groups, soonest first: the key and how reports title it.
GROUPS: dict[str, str] = {
    "overdue": "Overdue", "30": "Within 30 days", "60": "In 31-60 days", "90": "In 61-90 days",
    "later": "Later than 90 days", "unknown": "No date",
}

#: The run's forecast (computed once, or read back from merged reports).
FORECAST: StashKey[list["ForecastEntry"]] = StashKey("forecast")


@dataclass(frozen=True)
class Schedule:
    """A plugin's answer for one secret, as of the run's date.

    ``days_to_expiry`` and ``days_to_rotation`` are whole days, negative once
    past; ``expired`` and ``rotation_overdue`` are the policy's verdicts (a
    secret expiring at the very moment of ``as_of`` has 0 days left and is
    expired).  ``rotation_days`` is the policy's period for the secret's kind;
    ``binding_days`` the period the secret is actually held to (its own
    schedule when shorter) and ``binding_source`` where that comes from
    (``metadata``, ``policy default for aws-access-key``...), as ``list``
    shows it.
    """

    expires: datetime | None = None
    days_to_expiry: int | None = None
    expired: bool = False
    rotation_due: datetime | None = None
    days_to_rotation: int | None = None
    rotation_overdue: bool = False
    rotation_days: int | None = None
    binding_days: int | None = None
    binding_source: str | None = None


def group(days: int | None, overdue: bool) -> str:
    """The forecast group of a date ``days`` ahead (a key of :data:`GROUPS`)."""
    if days is None:
        return "unknown"
    if overdue or days < 0:
        return "overdue"
    return next((key for key, limit in (("30", 30), ("60", 60), ("90", 90)) if days <= limit), "later")


@dataclass(frozen=True)
class ForecastEntry:
    """One secret's line of the forecast: plain data, as the JSON report holds it."""

    backend: str
    name: str
    kind: str
    owner: str | None
    expires: str | None
    days_to_expiry: int | None
    expiry_group: str
    rotation_due: str | None
    days_to_rotation: int | None
    rotation_group: str
    rotation_days: int | None

    @property
    def secret(self) -> str:
        return f"{self.backend}:{self.name}"

    def as_dict(self) -> dict[str, Any]:
        return {"secret": self.secret, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ForecastEntry":
        """An entry read back from a JSON report; ValueError names the first field of the wrong type."""
        values = {name: data.get(name, "unknown" if name.endswith("_group") else None)
                  for name in cls.__dataclass_fields__}
        for name, value in values.items():
            if name.endswith("_group"):
                ok = value in GROUPS
            elif name.startswith("days_to") or name == "rotation_days":
                ok = value is None or (isinstance(value, int) and not isinstance(value, bool))
            else:
                ok = isinstance(value, str) or (value is None and name not in ("backend", "name", "kind"))
            if not ok:
                raise ValueError(f"forecast entry field {name!r} has an unexpected value")
        return cls(**values)


def _day(moment: datetime | None) -> str | None:
    return None if moment is None else moment.date().isoformat()


def forecast(session: "Session") -> list[ForecastEntry]:
    """Every secret the run's backends listed, soonest event first; computed once per run."""
    config = session.config
    cached = config.stash.get(FORECAST)
    if cached is not None:
        return cached
    entries: dict[tuple[str, str], ForecastEntry] = {}
    for record in config.stash.get(RECORDS) or ():
        if (record.backend, record.name) in entries:
            continue
        answer = config.hook.secretaudit_record_schedule(record=record, config=config) or Schedule()
        entries[(record.backend, record.name)] = ForecastEntry(
            backend=record.backend, name=record.name, kind=record.kind, owner=record.owner or None,
            expires=_day(answer.expires), days_to_expiry=answer.days_to_expiry,
            expiry_group=group(answer.days_to_expiry, answer.expired),
            rotation_due=_day(answer.rotation_due), days_to_rotation=answer.days_to_rotation,
            rotation_group=group(answer.days_to_rotation, answer.rotation_overdue),
            rotation_days=answer.rotation_days)
    result = sorted(entries.values(), key=sort_key)
    config.stash[FORECAST] = result
    return result


def sort_key(entry: ForecastEntry) -> tuple[int, str]:
    """Soonest expiry or rotation first; secrets with no date last."""
    known = [d for d in (entry.days_to_expiry, entry.days_to_rotation) if d is not None]
    return (min(known) if known else 1 << 30, entry.secret)
