"""SA305: GitHub token scopes and expiry; validators for GitHub and Vault tokens.

Configuration (``scopes.github`` in the config file)::

    scopes:
      github:
        api_url: https://api.github.com        # Enterprise Server: https://HOST/api/v3
        tokens:
          - {name: openclaw-ci, token: "${GITHUB_TOKEN}"}
    policy:
      scopes:
        github: ["repo:acme/*:write"]          # allowed; anything beyond is a finding
      rotation_days:
        github-token: 30

``--github-api-url`` (``config.stash[GITHUB_API_URL]``) wins over ``api_url``.
``scopes.github.from_backends: true`` (or ``scopes.from_backends``, see
:mod:`secretaudit.checks.from_backends`) checks every ``github-token`` secret
of the audited backends too: fetched (a line in the access trail), checked, dropped.

One ``github-token`` target per configured token, run during ``secretaudit
audit``: ``GET /user`` with the token, then

* classic tokens (an ``X-OAuth-Scopes`` header): every scope the policy does
  not allow is a failure naming the scopes (the policy allows the scope named
  before the first ``:`` of each entry, ``repo`` for ``repo:acme/*:write``,
  and the scopes it includes: ``repo`` covers ``public_repo``, ``repo:status``...);
  full ``repo`` when the policy allows only read is a failure too;
* every token with a ``GitHub-Authentication-Token-Expiration`` header that lies
  further than the rotation policy (``policy.rotation_days.github-token``,
  default 30 days) from ``--as-of`` fails; a fine-grained token (``github_pat_``,
  or no scopes header) without that header never expires, which fails too;
* 401: an error, "token rejected (invalid or expired)"; no answer: an error.

Validators (``secretaudit_validate_credential``): ``github-token`` (``GET
/user``: 200 valid with the login as identity, 401 invalid, anything else
unknown) and ``vault-token`` (``auth/token/lookup-self``: valid with the
display name, 403 invalid, unreachable unknown).  GitHub requests are
throttled to one per second per token, and a token GitHub rejected is not
sent again in the same run, so repeated failures never lock an account.
Tokens are never put in a message, a finding or the run state (the state is
keyed by a keyed hash of the token).
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any, NamedTuple, TYPE_CHECKING

from secretaudit.checks.from_backends import BackendSecrets, ReadError, read
from secretaudit.controls import NIST_AC_6, NIST_IA_5, SOC2_CC6_1
from secretaudit.hookspec import hookimpl
from secretaudit.model import CheckSpec, Finding, Severity, Status, Target, Validation, fingerprint, secret_digest
from secretaudit.stash import BACKENDS, GITHUB_API_URL, StashKey
from secretaudit.targets import TargetFamily, TargetRun, Verdict, to_findings

if TYPE_CHECKING:
    from secretaudit.config import Config
    from secretaudit.model import SecretRecord
    from secretaudit.registry import CheckRegistry
    from secretaudit.targets import FamilyRegistry

KIND = "github-token"
#: Targets of GitHub tokens kept in a backend (``scopes.github.from_backends: true``).
BACKEND_KIND = "github-backend"
SA305 = "SA305"
DEFAULT_API_URL = "https://api.github.com"
DEFAULT_ROTATION_DAYS = 30
#: seconds between two requests with the same token
MIN_INTERVAL = 1.0
#: the run's GitHub throttle state (:class:`_State`)
THROTTLE: StashKey["_State"] = StashKey("github_throttle")

SPEC = CheckSpec(
    id=SA305, title="GitHub token has more scopes or a longer life than the policy allows", severity=Severity.HIGH,
    description=("GitHub reports the token's OAuth scopes (X-OAuth-Scopes) and expiry "
                 "(GitHub-Authentication-Token-Expiration): scopes beyond policy.scopes.github (admin:*, "
                 "delete_repo, workflow, full repo where read would do), or an expiry beyond the rotation "
                 "policy (or none), fail. A token GitHub rejects, or no answer, is an error."),
    remediation=("Replace the token with a fine-grained token limited to the repositories and permissions the "
                 "policy lists, expiring within the rotation period; revoke the old one."),
    tags=("scopes", "github"), controls=(NIST_AC_6, NIST_IA_5, SOC2_CC6_1), applies_to=(KIND, BACKEND_KIND),
)

#: scopes that include others (GitHub's documented scope hierarchy)
SCOPE_CHILDREN: dict[str, tuple[str, ...]] = {
    "repo": ("repo:status", "repo_deployment", "public_repo", "repo:invite", "security_events"),
    "admin:repo_hook": ("write:repo_hook", "read:repo_hook"),
    "write:repo_hook": ("read:repo_hook",),
    "admin:org": ("write:org", "read:org", "manage_runners:org"),
    "write:org": ("read:org",),
    "admin:public_key": ("write:public_key", "read:public_key"),
    "write:public_key": ("read:public_key",),
    "admin:gpg_key": ("write:gpg_key", "read:gpg_key"),
    "write:gpg_key": ("read:gpg_key",),
    "admin:ssh_signing_key": ("write:ssh_signing_key", "read:ssh_signing_key"),
    "write:ssh_signing_key": ("read:ssh_signing_key",),
    "user": ("read:user", "user:email", "user:follow"),
    "write:packages": ("read:packages",),
    "admin:enterprise": ("manage_runners:enterprise", "manage_billing:enterprise", "read:enterprise"),
    "project": ("read:project",),
    "codespace": ("codespace:secrets",),
}
#: scopes with a ``:`` in their name, taken whole from a policy entry
COLON_SCOPES = frozenset(s for k, v in SCOPE_CHILDREN.items() for s in (k, *v) if ":" in s) | {
    "read:audit_log", "delete:packages", "manage_billing:copilot", "read:discussion", "write:discussion"}
#: scopes reported even without a policy
DANGEROUS = ("delete_repo", "delete:packages", "site_admin", "admin:enterprise", "admin:org", "admin:org_hook",
             "admin:repo_hook", "admin:public_key", "admin:gpg_key", "admin:ssh_signing_key")


# -- policy ---------------------------------------------------------------------------------


class ScopePolicy(NamedTuple):
    """What ``policy.scopes.github`` allows: scope names, and the access level asked of ``repo``."""

    configured: bool
    scopes: frozenset[str]
    repo_read_only: bool

    @classmethod
    def from_config(cls, config: "Config") -> "ScopePolicy":
        entries = ((config.settings.get("policy") or {}).get("scopes") or {}).get("github")
        if entries is None:
            return cls(False, frozenset(), False)
        if isinstance(entries, str):
            entries = [entries]
        scopes: set[str] = set()
        repo_levels: list[str] = []
        for entry in entries:
            text = str(entry).strip()
            if not text:
                continue
            if text in COLON_SCOPES:
                scopes.add(text)
                continue
            parts = text.split(":")
            scope = parts[0].strip()
            scopes.add(scope)
            if scope in ("repo", "public_repo"):
                repo_levels.append(parts[-1].strip().lower() if len(parts) >= 3 else "write")
        read_only = bool(repo_levels) and all(level in ("read", "pull", "ro") for level in repo_levels)
        return cls(True, frozenset(scopes), read_only)

    def allowed(self, scope: str) -> bool:
        if scope in self.scopes:
            return True
        return any(scope in SCOPE_CHILDREN.get(parent, ()) or
                   any(scope in SCOPE_CHILDREN.get(child, ()) for child in SCOPE_CHILDREN.get(parent, ()))
                   for parent in self.scopes)

    def excess(self, scopes: list[str]) -> list[str]:
        if not self.configured:
            return [s for s in scopes if s in DANGEROUS]
        return [s for s in scopes if not self.allowed(s)]


# -- the GitHub API, throttled --------------------------------------------------------------


class Answer(NamedTuple):
    """One ``GET /user``: status (0 when no answer), headers we read, login, a cause for errors."""

    status: int
    login: str = ""
    scopes: str | None = None
    expiration: str | None = None
    cause: str = ""


def api_url(config: "Config") -> str:
    stashed = config.stash.get(GITHUB_API_URL)
    configured = ((config.settings.get("scopes") or {}).get("github") or {}).get("api_url")
    return str(stashed or configured or DEFAULT_API_URL).strip().rstrip("/")


class _State:
    """Per-run throttle state, in ``config.stash``: last request and rejected tokens, by token digest.

    ``breakers`` (by API base URL) remember an API that missed the --timeout
    deadline, so the run's other tokens are not each held for a full timeout.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.last: dict[str, float] = {}
        self.rejected: dict[str, Answer] = {}
        self.requests = 0
        self.breakers: dict[str, Any] = {}

    def breaker(self, base: str) -> Any:
        from secretaudit.deadline import Breaker

        with self.lock:
            return self.breakers.setdefault(base, Breaker())


def _state(config: "Config") -> _State:
    state = config.stash.get(THROTTLE)
    if state is None:
        state = config.stash.setdefault(THROTTLE, _State())
    return state


def _scrub(text: str, token: str) -> str:
    return text.replace(token, "***") if token else text


def _cause(exc: BaseException) -> str:
    from secretaudit.clients.vault import connection_cause

    return connection_cause(exc)


def get_user(token: str, config: "Config", base: str | None = None) -> Answer:
    """``GET {base}/user`` with the token: at most one request per second per token, none after a 401."""
    import requests

    base = (base or api_url(config)).rstrip("/")
    key = secret_digest(f"{base}\x1f{token}")
    state = _state(config)
    with state.lock:
        rejected = state.rejected.get(key)
        if rejected is not None:
            return rejected
        wait = state.last.get(key, -MIN_INTERVAL) + MIN_INTERVAL - time.monotonic()
        if wait > 0:
            time.sleep(wait)  # under the lock: concurrent callers queue, never burst
        state.last[key] = time.monotonic()
        state.requests += 1
    from secretaudit.deadline import DeadlineExceeded, deadline

    timeout = float(config.settings.get("timeout") or 30)
    try:
        with deadline(timeout, state.breaker(base)):  # the whole request, body included: not each socket read
            response = requests.get(f"{base}/user", timeout=timeout, headers={
                "Authorization": f"token {token}", "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28", "User-Agent": "secretaudit"})
    except DeadlineExceeded as exc:
        return Answer(0, cause=exc.explain(f"{base}/user"))
    except requests.exceptions.Timeout:
        return Answer(0, cause=f"no answer from {base} within {timeout:g} s")
    except requests.exceptions.RequestException as exc:
        return Answer(0, cause=_scrub(f"cannot connect to {base} ({_cause(exc)})", token))
    login = ""
    if response.status_code == 200:
        try:
            body = response.json()
            login = str(body.get("login") or "") if isinstance(body, dict) else ""
        except ValueError:
            login = ""
        if not login:  # a proxy's or captive portal's 200 is not GitHub accepting the token
            return Answer(0, cause=f"{base}/user answered 200 with something that is not GitHub's user JSON; "
                                   "check the API URL (Enterprise Server: https://HOST/api/v3)")
    answer = Answer(response.status_code, login=_scrub(login, token),
                    scopes=response.headers.get("X-OAuth-Scopes"),
                    expiration=response.headers.get("GitHub-Authentication-Token-Expiration"),
                    cause=f"HTTP {response.status_code} from {base}/user")
    if response.status_code == 401:
        with state.lock:
            state.rejected[key] = answer
    return answer


_EXPIRY = re.compile(r"(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(?::\d{2})?)\s*(UTC|Z|[+-]\d{2}:?\d{2})?")


def parse_expiration(value: str) -> datetime | None:
    """``2026-12-24 00:00:00 UTC`` (or ``+0100``/ISO forms) as aware UTC; None if unreadable."""
    match = _EXPIRY.search(value or "")
    if not match:
        return None
    date, clock, zone = match.groups()
    if len(clock) == 5:
        clock += ":00"
    offset = "+00:00" if zone in (None, "UTC", "Z") else (zone if ":" in zone else f"{zone[:3]}:{zone[3:]}")
    try:
        return datetime.fromisoformat(f"{date}T{clock}{offset}").astimezone(timezone.utc)
    except ValueError:
        return None


# -- SA305 ----------------------------------------------------------------------------------


def rotation_days(config: "Config") -> int:
    days = ((config.settings.get("policy") or {}).get("rotation_days") or {}).get(KIND)
    try:
        return int(days) if days is not None else DEFAULT_ROTATION_DAYS
    except (TypeError, ValueError):
        return DEFAULT_ROTATION_DAYS


def configured_tokens(config: "Config") -> list[dict[str, str]]:
    block = (config.settings.get("scopes") or {}).get("github") or {}
    tokens = block.get("tokens") if isinstance(block, dict) else None
    result = []
    for index, entry in enumerate(tokens or ()):
        if isinstance(entry, dict):
            result.append({"name": str(entry.get("name") or f"token-{index + 1}"), "token": str(entry.get("token") or "")})
    return result


def check_token(name: str, token: str, config: "Config", target: str = "") -> list[Finding]:
    """SA305 findings of one token (empty when it complies), outside a session."""
    return to_findings(config, target or f"github:{name}", token_verdicts(name, token, config), (SPEC,))


def token_verdicts(name: str, token: str, config: "Config") -> list[Verdict]:
    """SA305 verdicts on one token (none when it complies or SA305 is disabled: then GitHub is not asked)."""
    def finding(status: Status, key: str, message: str, evidence: str = "") -> Verdict:
        return Verdict(SA305, "github", name, _scrub(f"GitHub token '{name}': {message}", token), status, key,
                       evidence=evidence)

    if not config.is_enabled(SA305):
        return []
    if not token:
        return [finding(Status.ERROR, "error", "could not check: the token is empty (is its ${VAR} set?)")]
    answer = get_user(token, config)
    base = api_url(config)
    if answer.status == 401:
        return [finding(Status.ERROR, "error", f"token rejected (invalid or expired) by {base}")]
    if answer.status != 200:
        return [finding(Status.ERROR, "error", f"could not check: {answer.cause}")]
    who = f" (login {answer.login})" if answer.login else ""
    findings: list[Verdict] = []
    fine_grained = token.startswith("github_pat_") or answer.scopes is None
    if not fine_grained:
        scopes = [s.strip() for s in (answer.scopes or "").split(",") if s.strip()]
        policy = ScopePolicy.from_config(config)
        excess = policy.excess(scopes)
        allowed = ", ".join(sorted(policy.scopes)) or ("none" if policy.configured else "no policy set")
        if excess:
            findings.append(finding(Status.FAILED, "scopes", f"has scopes beyond the policy: {', '.join(excess)} "
                                    f"(allowed: {allowed}){who}", evidence=f"X-OAuth-Scopes: {', '.join(scopes)}"))
        if policy.configured and policy.repo_read_only and "repo" in scopes and "repo" not in excess:
            findings.append(finding(Status.FAILED, "repo-write",
                                    f"has the full 'repo' scope (write to every repository it can see) "
                                    f"while the policy allows read only{who}",
                                    evidence=f"X-OAuth-Scopes: {', '.join(scopes)}"))
    days = rotation_days(config)
    limit = config.as_of + timedelta(days=days)
    if answer.expiration:
        expires = parse_expiration(answer.expiration)
        if expires is None:
            findings.append(finding(Status.ERROR, "expiry",
                                    f"could not read its expiry header {answer.expiration!r}{who}"))
        elif expires > limit:
            findings.append(finding(Status.FAILED, "expiry",
                                    f"expires {expires:%Y-%m-%d}, {(expires - config.as_of).days} days from "
                                    f"{config.as_of:%Y-%m-%d}: beyond the {days}-day rotation policy{who}",
                                    evidence=f"GitHub-Authentication-Token-Expiration: {answer.expiration}"))
    elif fine_grained:
        findings.append(finding(Status.FAILED, "expiry",
                                f"token never expires: fails the {days}-day rotation policy{who}"))
    return findings


# -- validators -----------------------------------------------------------------------------


def validate_github(token: str, config: "Config", base: str | None = None) -> Validation:
    if not token:
        return Validation("unknown", message="no token to validate")
    base = (base or api_url(config)).rstrip("/")
    answer = get_user(token, config, base)
    if answer.status == 200:
        return Validation("valid", identity=answer.login, message=f"GET {base}/user accepted the token")
    if answer.status == 401:
        return Validation("invalid", message=f"GET {base}/user: 401 Bad credentials (invalid, revoked or expired)")
    return Validation("unknown", message=f"could not validate: {answer.cause}")


def _vault_settings(config: "Config", url: str | None) -> tuple[str | None, str | None, Any]:
    """(url, namespace, verify) from the credential's url or the first vault backend."""
    backend = next((b for b in config.stash.get(BACKENDS) or () if getattr(b, "type", "") == "vault"), None)
    if backend is not None and (not url or url.rstrip("/") == backend.url):
        return backend.url, backend.namespace, backend.verify
    if not url:
        entry = next((e for e in config.settings.get("backends") or () if isinstance(e, dict)
                      and e.get("type") == "vault"), None)
        if entry:
            return str(entry.get("url") or "").rstrip("/") or None, entry.get("namespace"), True
    return (url.rstrip("/") if url else None), None, True


def validate_vault(token: str, config: "Config", url: str | None = None) -> Validation:
    import requests

    if not token:
        return Validation("unknown", message="no token to validate")
    url, namespace, verify = _vault_settings(config, url)
    if not url:
        return Validation("unknown", message="could not validate: no Vault URL (give 'url' with the token or "
                                             "configure a vault backend)")
    headers = {"X-Vault-Token": token}
    if namespace:
        headers["X-Vault-Namespace"] = namespace
    from secretaudit.deadline import DeadlineExceeded, deadline

    timeout = float(config.settings.get("timeout") or 30)
    try:
        with deadline(timeout):
            response = requests.get(f"{url}/v1/auth/token/lookup-self", headers=headers, timeout=timeout,
                                    verify=verify)
    except DeadlineExceeded as exc:
        return Validation("unknown", message=f"could not validate: {exc.explain(f'{url} (lookup-self)')}")
    except requests.exceptions.RequestException as exc:
        return Validation("unknown", message=_scrub(f"could not validate: cannot reach {url} ({_cause(exc)})", token))
    if response.status_code == 200:
        try:
            body = response.json()
        except ValueError:
            body = None
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or "policies" not in data:  # not a lookup-self answer: not a pass
            return Validation("unknown", message=f"could not validate: {url} did not answer as Vault "
                                                 "(no token data in a 200 answer); check the Vault URL")
        identity = str(data.get("display_name") or "") or "unnamed token"
        return Validation("valid", identity=_scrub(identity, token), message=f"lookup-self on {url} succeeded")
    if response.status_code in (401, 403):
        return Validation("invalid", message=f"lookup-self on {url}: permission denied (token invalid, revoked "
                                             "or expired)")
    return Validation("unknown", message=f"could not validate: HTTP {response.status_code} from {url} on lookup-self")


# -- hooks ----------------------------------------------------------------------------------


@hookimpl
def secretaudit_register_checks(registry: "CheckRegistry") -> None:
    registry.add(SPEC)


class GithubTokens(TargetFamily[dict]):
    """SA305 on the tokens of ``scopes.github.tokens``: one target per token."""

    kind = KIND
    mode = "audit"
    specs = (SPEC,)
    noun = "tokens"

    def targets(self, config: "Config") -> list[Target]:
        return [Target(kind=KIND, name=f"github:{entry['name']}", path=str(index),
                       declared=("scopes", "github", "tokens", index))
                for index, entry in enumerate(configured_tokens(config))]

    def units(self, run: TargetRun) -> list[dict[str, str]]:
        return [configured_tokens(run.config)[int(run.target.path)]]

    def judge(self, run: TargetRun, unit: dict[str, str]) -> list[Verdict]:
        return token_verdicts(unit["name"], unit["token"], run.config)


#: How a backend's token target is named (the rest is the backend's label).
BACKEND_TARGET = "github tokens in "


class GithubBackendTokens(BackendSecrets):
    """SA305 on every github-token secret of a backend (``scopes.github.from_backends``): fetch, check, drop."""

    kind = BACKEND_KIND
    family = "github"
    secret_kinds = (KIND,)
    prefix = BACKEND_TARGET
    specs = (SPEC,)
    noun = "tokens"

    def judge(self, run: TargetRun, unit: "SecretRecord") -> list[Verdict]:
        from secretaudit.credentials import credential_fields

        if not run.config.is_enabled(SA305):
            return []  # a disabled SA305 reads no value
        try:
            token = credential_fields(KIND, read(run.config, self.backend(run), unit, self.family)).get("token", "")
        except ReadError as exc:
            return [Verdict(SA305, unit.backend, unit.name, f"could not read the token to check its scopes: {exc}",
                            Status.ERROR)]
        if not token:
            return [Verdict(SA305, unit.backend, unit.name, "could not check the token's scopes: the secret has no "
                            "token field (personal_access_token, token or value)", Status.ERROR)]
        verdicts = token_verdicts(unit.name, token, run.config)
        del token
        # located at the secret; the rule keeps the fingerprint a token checked from the config would have,
        # wrapped, as baselines accepted it
        return [replace(v, backend=unit.backend, rule=fingerprint(SA305, f"github:{unit.name}", "", v.rule))
                for v in verdicts]


@hookimpl
def secretaudit_register_families(registry: "FamilyRegistry") -> None:
    registry.add(GithubTokens())
    registry.add(GithubBackendTokens())


@hookimpl
def secretaudit_validate_credential(kind: str, credential: dict[str, str], config: "Config") -> Validation | None:
    if kind == "github-token":
        return validate_github(str(credential.get("token") or ""), config, credential.get("api_url"))
    if kind == "vault-token":
        return validate_vault(str(credential.get("token") or ""), config, credential.get("url"))
    return None
