"""``from_backends``: least-privilege targets taken from the secrets the backends hold.

The standard keeps the agent's AWS key, GitHub token and database account in
the backend, so the scope checks can find what to inspect there instead of
in a hand-written list::

    scopes:
      from_backends: true                  # every family: aws, github, databases
      # or a list of families:  from_backends: [aws, databases]
      # or per family:          aws: {from_backends: true}, github: {from_backends: true},
      #                         databases: {from_backends: true}
      # a per-family false wins: github: {from_backends: false}

It fetches values during the audit (to ask STS who a key is, GitHub what a
token may do, a database what its account holds), so it is opt-in.  This
module holds what the three families share, so they cannot drift apart:

* :func:`chosen`: the families turned on, validated (a bad spelling is a
  :class:`ConfigError` naming the key and the fix; exit 4);
* :class:`BackendSecrets`: one target per backend that holds values (an
  inventory file holds none), whose units are its secrets of the family's
  kinds; each backend is listed once per run, whichever families ask;
* :func:`read`: a secret's fields, with the read recorded in the access
  trail before the value is used (a read the trail cannot record is refused).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from secretaudit.errors import ConfigError
from secretaudit.model import Status, Target
from secretaudit.redact import shape, shown_name
from secretaudit.stash import BACKENDS, StashKey
from secretaudit.targets import TargetError, TargetFamily, TargetRun, Verdict

if TYPE_CHECKING:
    from secretaudit.backends import Backend
    from secretaudit.config import Config
    from secretaudit.model import SecretRecord

#: The families whose targets can come from the backends, as ``scopes`` names them.
FAMILIES = ("aws", "github", "databases")
KEY = "from_backends"
#: the run's validated choice
_CHOSEN: StashKey[frozenset[str]] = StashKey("from_backends")


def _fail(config: "Config", key: str, problem: str) -> ConfigError:
    return ConfigError(config.source or "config", key, problem)


def parse(config: "Config") -> frozenset[str]:
    """The families whose targets come from the backends; raises :class:`ConfigError` on a bad spelling."""
    scopes = config.settings.get("scopes") or {}
    if not isinstance(scopes, dict):
        return frozenset()  # the AWS check reports a scopes block that is not a mapping
    top = scopes.get(KEY, False)
    families: set[str] = set()
    if top is True:
        families.update(FAMILIES)
    elif isinstance(top, list) and all(isinstance(item, str) for item in top):
        for item in top:
            if item.strip() not in FAMILIES:
                raise _fail(config, f"scopes.{KEY}", f"unknown family {shown_name(item)}: expected true, or a "
                                                     f"list of {', '.join(FAMILIES)}")
            families.add(item.strip())
    elif top is not False and top is not None:
        raise _fail(config, f"scopes.{KEY}", f"expected true, false or a list of families ({', '.join(FAMILIES)}), "
                                             f"got {shape(top)}")
    for family in FAMILIES:
        block = scopes.get(family)
        if family == "databases" and isinstance(block, dict):
            extra = sorted(str(k) for k in block if k != KEY)
            if extra:
                raise _fail(config, f"scopes.databases.{extra[0]}",
                            "unknown key: the mapping form takes only from_backends; list hand-picked accounts "
                            "as a list (databases: [{name, engine, host, ...}])")
        if not isinstance(block, dict) or KEY not in block:
            continue
        value = block[KEY]
        if not isinstance(value, bool):
            raise _fail(config, f"scopes.{family}.{KEY}", f"expected true or false, got {shape(value)}")
        if value:
            families.add(family)
        else:
            families.discard(family)  # an explicit false wins over the top-level switch
    return frozenset(families)


def chosen(config: "Config") -> frozenset[str]:
    """:func:`parse`, once per run."""
    found = config.stash.get(_CHOSEN)
    if found is None:
        found = config.stash[_CHOSEN] = parse(config)
    return found


def enabled(config: "Config", family: str) -> bool:
    return family in chosen(config)


# -- listing --------------------------------------------------------------------------------


class BackendSecrets(TargetFamily["SecretRecord"]):
    """One target per value-holding backend; its units are the secrets of ``secret_kinds``.

    Subclasses set ``family`` (a :data:`FAMILIES` name), ``secret_kinds``,
    ``prefix`` (how a target is named before the backend's label) and ``judge``.
    """

    mode = "audit"
    family = ""
    secret_kinds: tuple[str, ...] = ()
    prefix = ""

    def targets(self, config: "Config") -> list[Target]:
        if not enabled(config, self.family):
            return []  # it fetches values during the audit: opt-in
        return [Target(kind=self.kind, name=f"{self.prefix}{backend.label}", path=str(index))
                for index, backend in enumerate(config.stash.get(BACKENDS) or ()) if backend.holds_values]

    def shard_key(self, target: Target) -> str:
        return f"{self.kind}:{target.name.removeprefix(self.prefix)}"

    def backend(self, run: TargetRun) -> "Backend":
        return run.config.stash[BACKENDS][int(run.target.path)]

    def units(self, run: TargetRun) -> list["SecretRecord"]:
        from secretaudit.backends import BACKEND_ERROR_CHECK, BackendError, listed

        backend = self.backend(run)
        try:
            return [r for r in listed(run.config, backend) if r.kind in self.secret_kinds]
        except BackendError as exc:
            raise TargetError(Verdict(BACKEND_ERROR_CHECK, backend.label, "*",
                                      f"could not list the {self.noun} to audit: {exc}", Status.ERROR,
                                      identity=backend.label)) from None


# -- reading a value, on the record -----------------------------------------------------------


class ReadError(Exception):
    """The value could not be read, or its read could not be recorded; a one-line message without it."""


def read(config: "Config", backend: "Backend", record: "SecretRecord", family: str) -> dict[str, str]:
    """The secret's fields (the caller drops them after one use); the read is a line in the access trail.

    The trail line is written before the value is handed over: a read that
    cannot be recorded is refused (the value is dropped unused).
    """
    from secretaudit.backends import BackendError
    from secretaudit.trail import record as trail_record, trail_path

    fields: dict[str, str] | None = None
    problem, cause = "", ""
    try:
        fields = backend.fetch(record)
    except BackendError as exc:
        problem, cause = str(exc), getattr(exc, "reason", "error")
    extra: dict[str, Any] = {"scopes": family, **({"cause": cause} if cause else {})}
    try:
        trail_record(config, "audit", record.name, record.backend, "failed" if problem else "ok",
                     "least privilege (from_backends)", **extra)
    except OSError as exc:
        fields = None
        raise ReadError(f"the access trail {trail_path(config)} cannot be written ({exc.strerror or exc}): the "
                        "value was not used, so no read goes unaudited; fix the file or audit_log") from None
    if fields is None:
        raise ReadError(problem)
    return fields
