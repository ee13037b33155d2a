"""SA201-SA208: the lifecycle of secrets kept in backends, judged from their metadata.

Every backend (Vault, AWS Secrets Manager, the ``generic`` inventory file)
lists :class:`~secretaudit.model.SecretRecord` objects; this plugin judges each
one as of ``config.as_of`` (``--as-of``; never the wall clock), against the
``policy`` block of the configuration::

    policy:
      rotation_days: {github-token: 30, aws-access-key: 90, database-password: 60,
                      vault-token: 30, default: 90}   # merged over these defaults
      expiry_warning_days: 30
      unused_days: 90

Rules, and what they decide where the metadata is silent (``None`` is
"unknown" and never a failure on its own, except for SA207 whose subject *is*
missing metadata):

- SA201 expired: ``expires <= as_of``.  A bare date means 00:00 UTC that day,
  so a secret with ``expiry_date: 2026-12-01`` is expired on 2026-12-01.
- SA202 expires soon: not expired and ``expires - as_of <= expiry_warning_days``
  (exactly 30 days left is inside the window, 31 is not).  A record whose life
  is a renewal period (the fact ``rotation_period``: a Vault token's period or
  creation TTL) is warned about in the last third of that period when it is
  shorter than the policy's window: a 720 h token is not "expiring" the day
  it is issued, only once its renewal at two thirds is late.
- SA203 rotation overdue: whole days since ``last_rotated`` (or ``created``
  when never rotated) ``>`` the policy's days for the kind (30 days old passes
  a 30-day policy, 31 fails).  The policy decides, not the backend's own
  ``rotation_days``: a backend schedule longer than the policy does not excuse
  the secret, one shorter is judged by SA205; the message names both.
- SA204 rotation not configured: ``rotation_enabled is False``.  ``None``
  (the backend cannot tell, e.g. a Vault KV secret, or an inventory entry
  without the field) passes: backends where rotation is a setting (AWS, the
  Vault database engine) always report True or False, so "unknown" only comes
  from places where SA204 has nothing to judge.
- SA205 scheduled rotation missed: rotation is enabled and the scheduled
  moment (``next_rotation``, else last rotation + ``rotation_days``) is more
  than one day (grace for rotation windows and clocks) before ``as_of``; or the
  backend reports ``last_rotation_failed``.
- SA206 unused: ``last_accessed`` known and at least ``unused_days`` whole days
  before ``as_of`` (90 fails, 89 passes).  Never accessed / not tracked passes.
- SA207 missing owner or expiry metadata: an owner is required for every
  secret; an expiry date for tokens and keys (``github-token``,
  ``vault-token``, ``aws-access-key``) unless the backend states the secret
  never expires (that is known metadata, judged by SA208 for tokens).
  Passwords and generic secrets are rotated rather than expired.
- SA208 token that never expires: a ``github-token`` or ``vault-token`` with no
  expiry and the backend fact ``never_expires`` True or ``ttl`` 0.

Messages name dates and day counts, never a value.  Policy keys and types
are validated once in :func:`secretaudit_configure`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable

from secretaudit.controls import (
    CIS_AWS_1_12,
    CIS_AWS_1_14,
    ISO_A_5_9,
    ISO_A_5_17,
    ISO_A_8_24,
    NIST_AC_2_3,
    NIST_IA_5,
    NIST_IA_5_1,
    PCI_8_2_6,
    PCI_8_3_9,
    PCI_8_6_3,
    SOC2_CC6_1,
)
from secretaudit.backends import KINDS
from secretaudit.errors import ConfigError
from secretaudit.forecast import Schedule
from secretaudit.hookspec import hookimpl
from secretaudit.model import CheckSpec, Issue, SecretRecord, Severity
from secretaudit.redact import shape
from secretaudit.stash import StashKey

if TYPE_CHECKING:
    from secretaudit.config import Config
    from secretaudit.registry import CheckRegistry

DEFAULT_ROTATION_DAYS: dict[str, int] = {
    "github-token": 30, "aws-access-key": 90, "database-password": 60, "vault-token": 30, "default": 90,
}
DEFAULT_EXPIRY_WARNING_DAYS = 30
DEFAULT_UNUSED_DAYS = 90
#: the run's policy, parsed once
RUN_POLICY: StashKey["Policy"] = StashKey("lifecycle_policy")

#: Every key the ``policy`` block may hold (other plugins read the last three; ``owners``: SA510).
POLICY_KEYS = ("rotation_days", "expiry_warning_days", "unused_days", "max_cache_ttl_seconds", "scopes",
               "owners")

#: Kinds that must carry an expiry date (SA207) and tokens that must expire (SA208).
EXPIRY_REQUIRED_KINDS = ("github-token", "vault-token", "aws-access-key")
TOKEN_KINDS = ("github-token", "vault-token")

#: Grace after a scheduled rotation before SA205 calls it missed.
ROTATION_GRACE = timedelta(days=1)

_TAGS = ("lifecycle", "backend")

SPECS = (
    CheckSpec(
        id="SA201", title="Secret expired", severity=Severity.CRITICAL,
        description="The secret's expiry date is past: whatever still uses it fails, or it was replaced "
                    "and the stale secret was left behind.",
        remediation="Issue a new secret, update its consumers, and delete or revoke the expired one; then set "
                    "its new expiry date in the backend's metadata.",
        tags=_TAGS + ("expiry",), controls=(NIST_IA_5, ISO_A_5_17, SOC2_CC6_1), applies_to=("backend",)),
    CheckSpec(
        id="SA202", title="Secret expires soon", severity=Severity.HIGH,
        description="The secret expires within the policy's warning window (policy.expiry_warning_days, "
                    "default 30 days).",
        remediation="Renew or rotate the secret before its expiry date and update its expiry metadata; "
                    "automate renewal where the provider allows it.",
        tags=_TAGS + ("expiry",), controls=(NIST_IA_5, ISO_A_5_17), applies_to=("backend",)),
    CheckSpec(
        id="SA203", title="Rotation overdue", severity=Severity.HIGH,
        description="The secret was last rotated (or, never rotated, created) longer ago than the policy "
                    "allows for its kind: github-token 30 days, aws-access-key 90, database-password 60, "
                    "vault-token 30, others 90 (policy.rotation_days).",
        remediation="Rotate the secret now and enable scheduled rotation no longer than the policy period "
                    "(AWS: rotation schedule; Vault: database static role rotation_period).",
        tags=_TAGS + ("rotation", "rotation-due"),
        controls=(PCI_8_3_9, PCI_8_6_3, NIST_IA_5_1, CIS_AWS_1_14, ISO_A_5_17, ISO_A_8_24),
        applies_to=("backend",)),
    CheckSpec(
        id="SA204", title="Rotation not configured", severity=Severity.MEDIUM,
        description="The backend reports rotation switched off for this secret, so it changes only when "
                    "someone remembers to.",
        remediation="Enable automatic rotation with a period within the policy (AWS: rotate-secret with a "
                    "rotation rule; Vault: a database static role), or record rotation_enabled: true "
                    "in the inventory once a rotation job exists.",
        tags=_TAGS + ("rotation",), controls=(PCI_8_6_3, NIST_IA_5, ISO_A_5_17, SOC2_CC6_1),
        applies_to=("backend",)),
    CheckSpec(
        id="SA205", title="Scheduled rotation missed", severity=Severity.HIGH,
        description="Rotation is enabled but the last scheduled rotation did not happen: the next rotation "
                    "date (or last rotation plus the rotation period) is more than a day past, or the last "
                    "rotation failed.",
        remediation="Look at the rotation job's logs (AWS: the rotation Lambda; Vault: the database engine), "
                    "fix the cause and rotate the secret now.",
        tags=_TAGS + ("rotation", "rotation-due"), controls=(PCI_8_6_3, NIST_IA_5, ISO_A_5_17), applies_to=("backend",)),
    CheckSpec(
        id="SA206", title="Secret unused", severity=Severity.MEDIUM,
        description="Nothing read the secret for policy.unused_days (default 90) days: standing access "
                    "nobody needs.",
        remediation="Confirm with the owner, then delete the secret and revoke the credential it holds; "
                    "recreate it when a consumer needs it again.",
        tags=_TAGS + ("unused",), controls=(PCI_8_2_6, NIST_AC_2_3, CIS_AWS_1_12), applies_to=("backend",)),
    CheckSpec(
        id="SA207", title="Owner or expiry metadata missing", severity=Severity.LOW,
        description="Every secret needs an owner; tokens and keys (github-token, vault-token, "
                    "aws-access-key) also need an expiry date. Without them nobody answers for the secret "
                    "and expiry checks cannot run.",
        remediation="Set the owner (and expiry_date for tokens and keys) in the backend's metadata: Vault "
                    "custom_metadata, AWS tags, or the inventory entry.",
        tags=_TAGS + ("metadata",), controls=(ISO_A_5_9, ISO_A_5_17, SOC2_CC6_1), applies_to=("backend",)),
    CheckSpec(
        id="SA208", title="Token never expires", severity=Severity.HIGH,
        description="A GitHub or Vault token has no expiry (a classic PAT without expiration, a Vault token "
                    "with ttl 0 such as a root token): a leak stays usable until someone notices.",
        remediation="Replace it with a token that expires (fine-grained PAT with an expiration, a Vault token "
                    "with a ttl and renewal through its auth method) and revoke the old one.",
        tags=_TAGS + ("expiry",), controls=(NIST_IA_5, NIST_IA_5_1, ISO_A_5_17, SOC2_CC6_1),
        applies_to=("backend",)),
)


# -- policy -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """The lifecycle thresholds of one run."""

    rotation_days: dict[str, int]
    expiry_warning_days: int
    unused_days: int
    #: the kinds (and ``default``) the configuration's ``policy.rotation_days`` names itself
    configured: frozenset[str] = frozenset()

    def rotation_limit(self, kind: str) -> int:
        return self.rotation_days.get(kind, self.rotation_days["default"])

    def rotation_source(self, kind: str) -> str:
        """Where :meth:`rotation_limit` comes from, in the words ``list`` shows."""
        if kind not in self.rotation_days:
            return "policy default"
        return f"policy for {kind}" if kind in self.configured else f"policy default for {kind}"


def _days(value: Any, source: str, key: str, allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < (0 if allow_zero else 1):
        what = "a whole number of days, 0 or more" if allow_zero else "a whole number of days, 1 or more"
        raise ConfigError(source, key, f"expected {what}, got {shape(value)}")
    return value


def parse_policy(policy: Any, source: str = "config") -> Policy:
    """Validate the ``policy`` mapping and merge it over the defaults."""
    if not isinstance(policy, dict):
        raise ConfigError(source, "policy", "expected a mapping of thresholds")
    for key in policy:
        if key not in POLICY_KEYS:
            raise ConfigError(source, f"policy.{key}", f"unknown policy key (allowed: {', '.join(POLICY_KEYS)})")
    rotation = dict(DEFAULT_ROTATION_DAYS)
    given = policy.get("rotation_days", {})
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise ConfigError(source, "policy.rotation_days",
                          "expected a mapping of kind to days, e.g. {github-token: 30, default: 90}")
    allowed = (*KINDS, "default")
    configured = set()
    for kind, days in given.items():
        normalized = str(kind).strip().lower().replace("_", "-")
        if normalized not in allowed:
            raise ConfigError(source, f"policy.rotation_days.{kind}",
                              f"unknown kind (allowed: {', '.join(allowed)})")
        rotation[normalized] = _days(days, source, f"policy.rotation_days.{kind}")
        configured.add(normalized)
    return Policy(
        rotation_days=rotation, configured=frozenset(configured),
        expiry_warning_days=_days(policy.get("expiry_warning_days", DEFAULT_EXPIRY_WARNING_DAYS), source,
                                  "policy.expiry_warning_days", allow_zero=True),
        unused_days=_days(policy.get("unused_days", DEFAULT_UNUSED_DAYS), source, "policy.unused_days"),
    )


def get_policy(config: "Config") -> Policy:
    """The run's policy, parsed once and kept in ``config.stash``."""
    policy = config.stash.get(RUN_POLICY)
    if policy is None:
        policy = parse_policy(config.settings.get("policy") or {}, config.source or "config")
        config.stash[RUN_POLICY] = policy
    return policy


# -- the rules ------------------------------------------------------------------------------


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _date(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).date().isoformat()


def _n(count: int, word: str = "day") -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def expiry(record: SecretRecord, as_of: datetime) -> tuple[datetime, int, bool] | None:
    """The expiry moment, whole days left (negative once past, as SA201 counts them) and whether it is past."""
    expires = _utc(record.expires)
    if expires is None:
        return None
    if expires <= as_of:
        return expires, -(as_of - expires).days, True
    return expires, (expires - as_of).days, False


def rotation(record: SecretRecord, as_of: datetime, policy: Policy) -> tuple[datetime, bool, int, int] | None:
    """What SA203 judges: the last rotation (else the creation), whether it was a rotation, its age in whole
    days and the policy's period for the kind; None when neither date is known."""
    rotated, created = _utc(record.last_rotated), _utc(record.created)
    moment = rotated or created
    if moment is None:
        return None
    return moment, rotated is not None, (as_of - moment).days, policy.rotation_limit(record.kind)


def sa201_expired(record: SecretRecord, as_of: datetime, policy: Policy) -> Issue | None:
    known = expiry(record, as_of)
    if known is None or not known[2]:
        return None
    expires, ago = known[0], -known[1]
    when = "today" if ago == 0 else f"{_n(ago)} before {_date(as_of)}"
    return Issue("SA201", f"{record.kind} expired on {_date(expires)} ({when})")


def _span(span: timedelta) -> str:
    """``10 days``, ``8 hours``, ``20 minutes``: a window as people say it."""
    if span >= timedelta(days=1):
        return _n(span.days)
    if span >= timedelta(hours=1):
        return _n(span.seconds // 3600, "hour")
    return _n(max(1, span.seconds // 60), "minute")


def warning_window(record: SecretRecord, policy: Policy) -> tuple[timedelta, str]:
    """How long before its expiry SA202 warns about ``record``, and how the message explains it.

    The policy's window, except for a record whose life is a renewal or
    rotation period (fact ``rotation_period``, seconds: a Vault token's
    period or creation TTL): a 720 h token would be inside a 30-day window
    from the moment it is issued.  Its window is the last third of the
    period: renewal agents renew at about two thirds, so less than a third
    left means the renewal (or replacement) is late.
    """
    window = timedelta(days=policy.expiry_warning_days)
    period = record.fact("rotation_period")
    if isinstance(period, int) and not isinstance(period, bool) and period > 0:
        third = timedelta(seconds=period) / 3
        if third < window:
            return third, f"{_span(third)}, the last third of its renewal period of {_span(timedelta(seconds=period))}"
    return window, _n(policy.expiry_warning_days)


def sa202_expiring(record: SecretRecord, as_of: datetime, policy: Policy) -> Issue | None:
    expires = _utc(record.expires)
    if expires is None or expires <= as_of:
        return None
    remaining = expires - as_of
    window, explained = warning_window(record, policy)
    if remaining > window:
        return None
    left = remaining.days
    within = "less than a day" if left == 0 else _n(left)
    return Issue("SA202", f"{record.kind} expires on {_date(expires)}, {within} after {_date(as_of)} "
                          f"(warning window: {explained})")


def sa203_rotation_overdue(record: SecretRecord, as_of: datetime, policy: Policy) -> Issue | None:
    known = rotation(record, as_of, policy)
    if known is None:
        return None
    moment, rotated, age, limit = known
    if age <= limit:
        return None
    what = f"last rotated {_date(moment)}" if rotated else f"never rotated since its creation on {_date(moment)}"
    message = (f"{what}, {_n(age)} before {_date(as_of)}: overdue by {_n(age - limit)} "
               f"(policy for {record.kind}: every {_n(limit)})")
    if record.rotation_days:
        message += f"; the backend's own rotation period is {_n(record.rotation_days)}"
    return Issue("SA203", message)


def sa204_rotation_off(record: SecretRecord, as_of: datetime, policy: Policy) -> Issue | None:
    if record.rotation_enabled is not False:
        return None
    return Issue("SA204", f"rotation is switched off for this {record.kind}; the policy requires rotation "
                          f"every {_n(policy.rotation_limit(record.kind))}")


def sa205_rotation_missed(record: SecretRecord, as_of: datetime, policy: Policy) -> Issue | None:
    if record.rotation_enabled is not True:
        return None
    problems = []
    due = _utc(record.next_rotation)
    source = "next rotation was scheduled for"
    if due is None and record.rotation_days:
        last = _utc(record.last_rotated) or _utc(record.created)
        if last is not None:
            due = last + timedelta(days=record.rotation_days)
            source = f"rotation every {_n(record.rotation_days)} was due on"
    if due is not None and due + ROTATION_GRACE < as_of:
        problems.append(f"{source} {_date(due)}, {_n((as_of - due).days)} before {_date(as_of)}, "
                        f"and did not happen")
    if record.fact("last_rotation_failed") is True:
        problems.append("the backend reports that the last rotation failed")
    if not problems:
        return None
    return Issue("SA205", "scheduled rotation missed: " + "; ".join(problems))


def sa206_unused(record: SecretRecord, as_of: datetime, policy: Policy) -> Issue | None:
    accessed = _utc(record.last_accessed)
    if accessed is None:
        return None
    idle = (as_of - accessed).days
    if idle < policy.unused_days:
        return None
    return Issue("SA206", f"last accessed {_date(accessed)}, {_n(idle)} before {_date(as_of)} "
                          f"(policy: unused for {_n(policy.unused_days)} or more)")


def _never_expires(record: SecretRecord) -> bool:
    ttl = record.fact("ttl")
    return record.expires is None and (record.fact("never_expires") is True
                                       or (isinstance(ttl, (int, float)) and not isinstance(ttl, bool) and ttl == 0))


def sa207_missing_metadata(record: SecretRecord, as_of: datetime, policy: Policy) -> Issue | None:
    missing = []
    if not (record.owner or "").strip():
        missing.append("no owner")
    if record.kind in EXPIRY_REQUIRED_KINDS and record.expires is None and not _never_expires(record):
        missing.append(f"no expiry date (required for {record.kind})")
    if record.fact("metadata_error"):
        missing.append(f"unreadable metadata ({record.fact('metadata_error')})")
    if not missing:
        return None
    return Issue("SA207", "missing metadata: " + " and ".join(missing))


def sa208_never_expires(record: SecretRecord, as_of: datetime, policy: Policy) -> Issue | None:
    if record.kind not in TOKEN_KINDS or not _never_expires(record):
        return None
    why = "declared never-expiring" if record.fact("never_expires") is True else "ttl 0"
    return Issue("SA208", f"{record.kind} never expires (no expiry date, {why})")


RULES: tuple[Callable[[SecretRecord, datetime, Policy], Issue | None], ...] = (
    sa201_expired, sa202_expiring, sa203_rotation_overdue, sa204_rotation_off,
    sa205_rotation_missed, sa206_unused, sa207_missing_metadata, sa208_never_expires,
)


def rotation_period(record: SecretRecord, policy: Policy) -> tuple[int, str]:
    """The period SA203/SA205 hold ``record`` to, and its source: its own schedule when shorter, else the policy's.

    The policy decides (a longer schedule in the metadata does not excuse
    the secret, see SA203), so a longer own period is named in the source.
    """
    limit, source = policy.rotation_limit(record.kind), policy.rotation_source(record.kind)
    own = record.rotation_days
    if own and own <= limit:
        return own, "metadata"
    if own:
        return limit, f"{source}; metadata says {own}d"
    return limit, source


def judge(record: SecretRecord, as_of: datetime, policy: Policy) -> list[Issue]:
    """Every failed lifecycle rule for one record, as of ``as_of``."""
    as_of = _utc(as_of)  # type: ignore[assignment]
    return [issue for rule in RULES if (issue := rule(record, as_of, policy)) is not None]


def schedule(record: SecretRecord, as_of: datetime, policy: Policy) -> Schedule:
    """The record's expiry and policy rotation date, counted as SA201-SA203 count them (the reports' forecast).

    Rotation falls due the policy's period after the last rotation (or the
    creation): 0 days left passes SA203, -1 fails it.
    """
    as_of = _utc(as_of)  # type: ignore[assignment]
    expires, rotated = expiry(record, as_of), rotation(record, as_of, policy)
    binding_days, binding_source = rotation_period(record, policy)
    answer = Schedule(rotation_days=policy.rotation_limit(record.kind), binding_days=binding_days,
                      binding_source=binding_source)
    if expires is not None:
        answer = replace(answer, expires=expires[0], days_to_expiry=expires[1], expired=expires[2])
    if rotated is not None:
        moment, _, age, limit = rotated
        answer = replace(answer, rotation_due=moment + timedelta(days=limit), days_to_rotation=limit - age,
                         rotation_overdue=age > limit)
    return answer


# -- hooks ----------------------------------------------------------------------------------


@hookimpl
def secretaudit_register_checks(registry: "CheckRegistry") -> None:
    for spec in SPECS:
        registry.add(spec)


@hookimpl
def secretaudit_configure(config: "Config") -> None:
    config.stash.pop(RUN_POLICY, None)
    get_policy(config)


@hookimpl
def secretaudit_check_record(record: SecretRecord, config: "Config") -> list[Issue]:
    return judge(record, config.as_of, get_policy(config))


@hookimpl
def secretaudit_record_schedule(record: SecretRecord, config: "Config") -> Schedule:
    return schedule(record, config.as_of, get_policy(config))
