"""SA304 and SA509: least privilege of the audited Vault tokens, and audit devices.

One ``vault-policy`` target per configured ``vault`` backend, run during
``secretaudit audit``.  It reads the ACL policies the backend's own token
holds (``auth/token/lookup-self``: token policies plus identity policies),
fetches each policy's text (``sys/policy/NAME``, else
``sys/policies/acl/NAME``), parses it with a small tolerant HCL/JSON parser
and reports, per policy:

* a glob at the root (``path "*"``, ``path "+/..."``): every mount and ``sys``;
* ``sudo`` on any path;
* write (create/update/delete/patch) on ``sys/`` endpoints other than the
  self-service ones every token needs (``sys/renew``, ``sys/wrapping/*``...);
* create/update on ``auth/token/create*`` (minting new, possibly orphan, tokens);
* write on the whole KV mount (``secret/*``) when the backend is configured for
  a narrower folder;
* the ``root`` policy itself (critical).

SA509 reads ``sys/audit``: no audit device enabled fails.

Reading policies (``sys/policy/*``) and audit devices (``sys/audit``, which
needs ``sudo``) is optional for the audit token: the README's minimal policy
grants neither.  A permission-denied on them is one ``skipped`` result per
check (severity info: "not checked: needs X"), never a pass and never an
error, so an audit with the documented policy can be clean.  Any other
failure to read them (a policy that does not exist, the server down) is
still an ``error``.  ``read`` and ``sudo`` on exactly ``sys/audit`` (only
listing the devices) is what SA509 asks for, so SA304 does not count it.

The token is never put in a message (the backend's own ``_scrub`` applies).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Protocol

from secretaudit.controls import NIST_AC_6, SOC2_CC6_1
from secretaudit.hookspec import hookimpl
from secretaudit.model import CheckSpec, Severity, Status, Target
from secretaudit.stash import BACKENDS
from secretaudit.targets import TargetError, TargetFamily, TargetResult, TargetRun, Verdict, run_alone

if TYPE_CHECKING:
    from secretaudit.config import Config
    from secretaudit.registry import CheckRegistry
    from secretaudit.targets import FamilyRegistry

KIND = "vault-policy"
SA304 = "SA304"
SA509 = "SA509"

SPECS = {
    SA304: CheckSpec(
        id=SA304, title="Vault token policy grants more than the audit needs", severity=Severity.HIGH,
        description=("The ACL policies attached to the audited Vault/OpenBao token grant a root glob "
                     "(path \"*\"), sudo, write on sys/ endpoints, token creation, or write on a whole KV "
                     "mount wider than the configured path; the root policy is critical."),
        remediation=("Give the token a policy with only list and read on <mount>/metadata/<folder>/* (and read "
                     "on its own sys/policy/NAME); move administrative rights to a separate, short-lived token."),
        tags=("scopes", "vault"), controls=(NIST_AC_6, SOC2_CC6_1), applies_to=(KIND,)),
    SA509: CheckSpec(
        id=SA509, title="Vault has no audit device enabled", severity=Severity.HIGH,
        description=("sys/audit lists no enabled audit device: requests to the server, including reads of "
                     "secrets, leave no trace. A token not allowed to check gets one 'not checked' result "
                     "(info) naming the grant: never a pass."),
        remediation=("Enable an audit device (bao/vault audit enable file file_path=/var/log/vault_audit.log, or "
                     "the server config's audit stanza); give the audit token read+sudo on sys/audit to check it."),
        tags=("vault", "logging"), controls=(SOC2_CC6_1,), applies_to=(KIND,)),
}

WRITE = frozenset({"create", "update", "delete", "patch"})

#: sys/ endpoints every token uses on itself (the default policy): writing them is not administration.
SELF_SERVICE_SYS = ("sys/capabilities-self", "sys/capabilities-accessor", "sys/capabilities", "sys/renew",
                    "sys/leases/renew", "sys/leases/lookup", "sys/wrapping/", "sys/tools/",
                    "sys/control-group/request", "sys/mfa/challenge", "sys/internal/ui/")

#: concrete paths standing for "mint a token"
TOKEN_CREATE = ("auth/token/create", "auth/token/create-orphan", "auth/token/create/x")

#: KV v2 sub-paths of a mount: data, metadata... (``secret/data/*`` is still the whole mount)
KV_SUBPATHS = ("data", "metadata", "delete", "undelete", "destroy", "subkeys")

#: old-style ``policy = "write"`` values as capabilities
LEGACY_POLICY = {
    "deny": ["deny"], "read": ["read", "list"], "write": ["create", "read", "update", "delete", "list"],
    "sudo": ["create", "read", "update", "delete", "list", "sudo"],
}


# -- the policy parser ----------------------------------------------------------------------

_TOKEN = re.compile(r'''
    (?P<ws>\s+)
  | (?P<comment>\#[^\n]*|//[^\n]*|/\*.*?(?:\*/|\Z))
  | (?P<heredoc><<-?\s*(?P<tag>[A-Za-z_][A-Za-z0-9_]*)\n.*?\n\s*(?P=tag)(?=\s|$))
  | (?P<string>"(?:[^"\\\n]|\\.)*"?)
  | (?P<punct>[{}\[\]=,:])
  | (?P<word>[^\s{}\[\]=,:"#]+)
''', re.VERBOSE | re.DOTALL)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        if kind in ("ws", "comment") or kind is None:
            continue
        value = match.group(kind)
        if kind == "tag":
            kind, value = "heredoc", match.group("heredoc")
        if kind == "string":
            body = value[1:-1] if len(value) >= 2 and value.endswith('"') else value[1:]
            value = re.sub(r"\\(.)", r"\1", body)
        out.append((kind, value))
    return out


def parse_policy(text: str) -> list[tuple[str, list[str]]]:
    """``[(path, capabilities)]`` of every ``path`` block, in order; tolerant of anything else.

    Understands HCL (``path "x" { capabilities = [...] }``, the legacy
    ``policy = "write"``, comments, nested parameter blocks) and the JSON form
    (``{"path": {"x": {"capabilities": [...]}}}``).  Unknown keys are skipped.
    """
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except ValueError:
            data = None
        if isinstance(data, dict):
            return _from_json(data)
    tokens = _tokens(text)
    rules: list[tuple[str, list[str]]] = []
    i = 0
    while i < len(tokens):
        kind, value = tokens[i]
        if kind == "word" and value == "path" and i + 2 < len(tokens) and tokens[i + 1][0] == "string":
            path = tokens[i + 1][1]
            j = i + 2
            if j < len(tokens) and tokens[j] == ("punct", "="):  # path "x" = { ... } (also valid HCL)
                j += 1
            if j < len(tokens) and tokens[j] == ("punct", "{"):
                capabilities, i = _block(tokens, j)
                rules.append((path, capabilities))
                continue
        i += 1
    return rules


def _block(tokens: list[tuple[str, str]], start: int) -> tuple[list[str], int]:
    """Capabilities of the block opening at ``start``; returns them and the index after the block."""
    depth = 0
    capabilities: list[str] = []
    i = start
    while i < len(tokens):
        kind, value = tokens[i]
        if kind == "punct" and value in "{[":
            depth += 1
        elif kind == "punct" and value in "}]":
            depth -= 1
            if depth == 0:
                return capabilities, i + 1
        elif depth == 1 and kind in ("word", "string") and value in ("capabilities", "policy") \
                and i + 1 < len(tokens) and tokens[i + 1] == ("punct", "="):
            if value == "policy" and i + 2 < len(tokens) and tokens[i + 2][0] in ("string", "word"):
                capabilities.extend(LEGACY_POLICY.get(tokens[i + 2][1].strip().lower(), []))
                i += 3
                continue
            if value == "capabilities" and i + 2 < len(tokens) and tokens[i + 2] == ("punct", "["):
                j = i + 3
                while j < len(tokens) and tokens[j] != ("punct", "]"):
                    if tokens[j][0] in ("string", "word"):
                        capabilities.append(tokens[j][1].strip().lower())
                    j += 1
                i = j + 1
                continue
        i += 1
    return capabilities, i  # unterminated block: take what was there


def _from_json(data: dict[str, Any]) -> list[tuple[str, list[str]]]:
    rules: list[tuple[str, list[str]]] = []
    paths = data.get("path")
    entries: Iterable[tuple[str, Any]] = ()
    if isinstance(paths, dict):
        entries = paths.items()
    elif isinstance(paths, list):  # [{"x": {...}}, ...]
        entries = [(k, v) for item in paths if isinstance(item, dict) for k, v in item.items()]
    for path, body in entries:
        if isinstance(body, list):
            body = {k: v for item in body if isinstance(item, dict) for k, v in item.items()}
        if not isinstance(body, dict):
            continue
        caps = [str(c).strip().lower() for c in body.get("capabilities") or ()]
        if isinstance(body.get("policy"), str):
            caps.extend(LEGACY_POLICY.get(body["policy"].strip().lower(), []))
        rules.append((str(path), caps))
    return rules


# -- judging one rule -----------------------------------------------------------------------


def path_matches(pattern: str, path: str) -> bool:
    """Vault's path matching: ``+`` is one segment, a trailing ``*`` any suffix."""
    pattern_parts = pattern.split("/")
    path_parts = path.split("/")
    for index, part in enumerate(pattern_parts):
        last = index == len(pattern_parts) - 1
        if last and part.endswith("*"):
            rest = "/".join(path_parts[index:])
            return index <= len(path_parts) and rest.startswith(part[:-1])
        if index >= len(path_parts):
            return False
        if part != "+" and part != path_parts[index]:
            return False
    return len(pattern_parts) == len(path_parts)


def is_root_glob(pattern: str) -> bool:
    """A glob at the first segment: the rule spans every mount, ``sys`` and ``auth``."""
    first = pattern.lstrip("/").split("/", 1)[0]
    return first in ("", "+") or "*" in first


def _sys_write(pattern: str) -> bool:
    pattern = pattern.lstrip("/")
    if not (pattern == "sys" or pattern.startswith("sys/") or pattern.startswith("+/")):
        return False
    prefix = pattern.split("*", 1)[0]
    return not any(prefix.startswith(p) for p in SELF_SERVICE_SYS) or prefix == ""


def _mount_root_glob(pattern: str, mount: str) -> bool:
    """``secret/*``, ``secret/data/*``, ``secret/+/*``: the whole KV mount."""
    pattern = pattern.lstrip("/")
    if not mount or not pattern.startswith(mount + "/"):
        return False
    rest = pattern[len(mount) + 1:]
    first, _, tail = rest.partition("/")
    if first in KV_SUBPATHS and tail:
        rest = tail
    return rest == "" or rest.startswith("*") or rest.split("/", 1)[0] == "+"


def judge_rule(pattern: str, capabilities: list[str], mount: str, folder: str) -> list[tuple[str, str]]:
    """``[(rule, problem)]`` for one path block; empty when it is fine."""
    caps = set(capabilities)
    if "deny" in caps or not caps:
        return []
    problems: list[tuple[str, str]] = []
    shown = ", ".join(capabilities)
    if is_root_glob(pattern):
        problems.append(("root-glob", f'path "{pattern}" matches every path on the server (capabilities: {shown})'))
    else:
        writes = caps & WRITE
        if writes and _sys_write(pattern):
            problems.append(("sys-write", f'write on sys/ endpoints: path "{pattern}" (capabilities: {shown})'))
        if caps & {"create", "update"} and any(path_matches(pattern, p) for p in TOKEN_CREATE):
            problems.append(("token-create", f'may create tokens: path "{pattern}" (capabilities: {shown})'))
        if writes and folder and _mount_root_glob(pattern, mount):
            problems.append(("mount-write", f'write on the whole {mount}/ mount: path "{pattern}" '
                                            f"(capabilities: {shown}), wider than the configured "
                                            f"{mount}/{folder}"))
    if "sudo" in caps and not _audit_listing(pattern, caps):
        problems.append(("sudo", f'sudo capability on path "{pattern}" (capabilities: {shown})'))
    return problems


def _audit_listing(pattern: str, caps: set[str]) -> bool:
    """``read`` + ``sudo`` on exactly ``sys/audit``: listing the audit devices, what SA509 needs, nothing more."""
    return pattern.strip("/") == "sys/audit" and caps <= {"read", "list", "sudo"}


# -- auditing one backend -------------------------------------------------------------------


class VaultBackend(Protocol):
    """What the check uses of a ``vault`` backend: its public reads, never its hvac client or token."""

    label: str
    url: str
    mount: str
    folder: str

    def read(self, path: str) -> dict[str, Any]: ...

    def lookup_self(self) -> dict[str, Any]: ...

    def scrub(self, text: str) -> str: ...


@dataclass
class VaultUnit:
    """One policy of the backend's token, the policies it may not read, or (neither) the audit devices.

    ``text`` is the policy's rules, or the error verdict that says why they
    could not be read; ``unreadable`` names the policies the token may not
    read, reported together as one "not checked".
    """

    backend: "VaultBackend"
    policy: str | None = None
    text: "str | Verdict | None" = None
    unreadable: tuple[str, ...] = ()


class _Denied:
    """:func:`_read_text`'s answer when the token may not read the policy (an optional grant)."""


DENIED = _Denied()


def _verdict(backend: "VaultBackend", check_id: str, status: Status, name: str, key: str, message: str,
             severity: Severity | None = None, evidence: str = "") -> Verdict:
    return Verdict(check_id, backend.label, name, backend.scrub(f"{backend.label}: {message}"), status, key,
                   severity, evidence)


class VaultPolicies(TargetFamily[VaultUnit]):
    """SA304 and SA509: one target per vault backend; its units are the token's policies and the audit devices."""

    kind = KIND
    mode = "audit"
    specs = tuple(SPECS.values())
    noun = "policies"

    def targets(self, config: "Config") -> list[Target]:
        return [Target(kind=KIND, name=f"{backend.label}:policies", path=str(index))
                for index, backend in enumerate(config.stash.get(BACKENDS) or ()) if backend.type == "vault"]

    def units(self, run: TargetRun) -> list[VaultUnit]:
        return self.units_of(run.config.stash[BACKENDS][int(run.target.path)])

    def units_of(self, backend: "VaultBackend") -> list[VaultUnit]:
        """The policies the token holds (token and identity policies), then the audit devices.

        Each policy's text is read here, so that the policies the token may
        not read become one unit (one "not checked"), not one per policy.
        """
        from secretaudit.backends import BackendError

        try:
            data = backend.lookup_self()
        except BackendError as exc:
            message = f"could not check: {exc}"
            raise TargetError(_verdict(backend, SA304, Status.ERROR, "policies", "lookup-self", message),
                              _verdict(backend, SA509, Status.ERROR, "sys/audit", "audit", message)) from None
        policies = sorted({str(p) for p in (data.get("policies") or ())} |
                          {str(p) for p in (data.get("identity_policies") or ())})
        units: list[VaultUnit] = []
        unreadable: list[str] = []
        for name in policies:
            if name == "root":
                units.append(VaultUnit(backend, name))
                continue
            try:
                text = _read_text(backend, name)
            except BackendError as exc:
                text = _verdict(backend, SA304, Status.ERROR, f"policy:{name}", "read",
                                f"could not read policy '{name}': {exc}")
            if text is DENIED:
                unreadable.append(name)
            else:
                units.append(VaultUnit(backend, name, text))  # type: ignore[arg-type]
        if unreadable:
            units.append(VaultUnit(backend, unreadable=tuple(unreadable)))
        return [*units, VaultUnit(backend)]

    def judge(self, run: TargetRun, unit: VaultUnit) -> list[Verdict]:
        from secretaudit.backends import BackendError

        backend, name = unit.backend, unit.policy
        if unit.unreadable:
            return [_not_checked_policies(backend, unit.unreadable)]
        if name is None:
            try:
                return _audit_devices(backend)
            except BackendError as exc:
                return [_verdict(backend, SA509, Status.ERROR, "sys/audit", "audit", f"could not check: {exc}")]
        return _policy(backend, name, unit.text)


def _not_checked_policies(backend: "VaultBackend", names: tuple[str, ...]) -> Verdict:
    grants = ", ".join(f"sys/policy/{n}" for n in names)
    return _verdict(backend, SA304, Status.SKIPPED, "policies", "not-checked",
                    f"not checked: needs 'read' on sys/policy/* (or only {grants}) to read the policies the "
                    f"token holds ({', '.join(names)})", severity=Severity.INFO)


def _read_text(backend: "VaultBackend", name: str) -> "str | Verdict | _Denied":
    """The policy's rules; :data:`DENIED` when the token may not read them; else the error verdict saying why."""
    from secretaudit.clients.vault import Denied, NotFound

    denied = False
    try:
        answer = backend.read(f"sys/policy/{name}")
        rules = answer.get("rules") or (answer.get("data") or {}).get("rules")
        if isinstance(rules, str):
            return rules
    except Denied:
        denied = True
    except NotFound:
        pass
    try:
        answer = backend.read(f"sys/policies/acl/{name}")
        text = (answer.get("data") or {}).get("policy") or answer.get("policy")
        if isinstance(text, str):
            return text
    except Denied:
        denied = True
    except NotFound:
        pass
    if denied:
        return DENIED
    return _verdict(backend, SA304, Status.ERROR, f"policy:{name}", "read",
                    f"could not check policy '{name}': neither sys/policy/{name} nor sys/policies/acl/{name} "
                    "exists (an identity policy that was deleted?)")


def _policy(backend: "VaultBackend", name: str, text: "str | Verdict | None") -> list[Verdict]:
    if name == "root":
        return [_verdict(backend, SA304, Status.FAILED, "policy:root", "root",
                         "token holds the 'root' policy: every capability on every path, including sudo",
                         severity=Severity.CRITICAL)]
    if isinstance(text, Verdict):
        return [text]
    return [_verdict(backend, SA304, Status.FAILED, f"policy:{name}", f"{rule}\x1f{pattern}",
                     f"policy '{name}': {problem}", evidence=f'path "{pattern}"')
            for pattern, capabilities in parse_policy(text or "")
            for rule, problem in judge_rule(pattern, capabilities, backend.mount, backend.folder)]


def _audit_devices(backend: "VaultBackend") -> list[Verdict]:
    from secretaudit.clients.vault import Denied, NotFound

    try:
        answer = backend.read("sys/audit")
    except Denied:
        return [_verdict(backend, SA509, Status.SKIPPED, "sys/audit", "audit",
                         "not checked: needs 'read' and 'sudo' on sys/audit to list the audit devices",
                         severity=Severity.INFO)]
    except NotFound:
        return [_verdict(backend, SA509, Status.ERROR, "sys/audit", "audit",
                         "could not check: sys/audit not found on this server")]
    devices = answer.get("data") if isinstance(answer.get("data"), dict) else \
        {k: v for k, v in answer.items() if isinstance(v, dict) and "type" in v}
    if not devices:
        return [_verdict(backend, SA509, Status.FAILED, "sys/audit", "audit",
                         f"no audit device is enabled on {backend.url}: requests leave no audit trail")]
    return []


FAMILY = VaultPolicies()


def audit_backend(backend: "VaultBackend", config: "Config", target: str = "") -> TargetResult:
    """Run SA304 and SA509 on one vault backend, outside a session (the entry point tests use)."""
    run = TargetRun(config, Target(kind=KIND, name=target or f"{backend.label}:policies"))
    return run_alone(FAMILY, run, lambda: FAMILY.units_of(backend))


# -- hooks ----------------------------------------------------------------------------------


@hookimpl
def secretaudit_register_checks(registry: "CheckRegistry") -> None:
    for spec in SPECS.values():
        registry.add(spec)


@hookimpl
def secretaudit_register_families(registry: "FamilyRegistry") -> None:
    registry.add(FAMILY)
