"""The ``vault`` backend: HashiCorp Vault / OpenBao, audited through hvac.

What it lists, metadata only (it never reads a secret value):

* every KV version 2 secret under the configured ``path`` (first segment:
  the mount; the rest: the folder), walked recursively with ``LIST`` on
  ``<mount>/metadata/<folder>`` (paginated with ``limit``/``after`` where the
  server supports it) and one ``read_secret_metadata`` per secret, with at
  most ``max_concurrency`` requests in flight.  ``custom_metadata`` supplies
  ``kind``, ``owner``, ``expiry_date`` and ``rotation_days``; the last
  rotation is the creation time of the current version;
* the configured token itself (``auth/token/lookup-self``): expiry, ttl,
  renewable, policies, root;
* the static roles of the database secrets engine at ``database_mount`` when
  it is mounted (rotation period, last rotation).

Every HTTP request is counted in :attr:`VaultBackend.api_calls` (retries
included).  429 and 503 answers are retried with exponential backoff,
honouring ``Retry-After``; each request, its retries and its body included,
must be done within ``--timeout`` (:mod:`secretaudit.deadline`).  Failures
become :class:`BackendError` with one line naming the cause and the fix;
the token never appears in a message.

hvac and requests are imported lazily: ``secretaudit scan`` loads this plugin
on every run and must not pay for them.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator
from urllib.parse import urlsplit

from secretaudit.backends import Backend, BackendError, BackendStatus, infer_kind, parse_date
from secretaudit.clients.vault import Denied, NotFound, connection_cause
from secretaudit.errors import ConfigError
from secretaudit.hookspec import hookimpl
from secretaudit.model import SecretRecord
from secretaudit.redact import register_secret, scrub, shape

if TYPE_CHECKING:
    from secretaudit.backends import BackendRegistry
    from secretaudit.config import Config

TYPE = "vault"

#: Settings of one ``vault`` backend: key -> (help, required).
SETTINGS: dict[str, str] = {
    "url": "the server URL, e.g. https://vault.example.com:8200 (required)",
    "token": "the token, usually ${VAULT_TOKEN} (required)",
    "path": "KV v2 mount and folder to audit, e.g. secret/ai-agents/openclaw (required)",
    "namespace": "Vault Enterprise / OpenBao namespace (optional)",
    "ca_cert": "CA bundle file that signs the server certificate (optional)",
    "tls_verify": "verify the server certificate (default true)",
    "max_concurrency": "metadata reads in flight at once (default 8)",
    "database_mount": "database secrets engine mount whose static roles are audited (default database; '' to skip)",
}
REQUIRED = ("url", "token", "path")
DEFAULT_CONCURRENCY = 8
MAX_CONCURRENCY = 64

#: LIST page size where the server paginates (OpenBao); Vault ignores it and answers in full.
PAGE_SIZE = 1000
#: HTTP statuses retried with backoff, and how.
RETRY_STATUSES = (429, 503)
RETRIES = 3
RETRY_BASE_SECONDS = 0.5
RETRY_MAX_SECONDS = 30.0


# -- settings -----------------------------------------------------------------------------


def _key_prefix(name: str, config: "Config") -> str:
    """How config errors name this backend's block: ``backends[i]`` or ``external_secrets.vault``.

    In an openclaw.yaml the external_secrets backend comes first in the
    settings' ``backends``, before the file's own top-level ``backends``.
    """
    block = config.raw.get("external_secrets") if isinstance(config.raw, dict) else None
    openclaw = isinstance(block, dict) and bool(block.get("enabled", True))
    for index, entry in enumerate(config.settings.get("backends") or []):
        if isinstance(entry, dict) and entry.get("type") == TYPE and str(entry.get("name") or TYPE) == name:
            if openclaw:
                return "external_secrets.vault" if index == 0 else f"backends[{index - 1}]"
            return f"backends[{index}]"
    return "external_secrets.vault" if openclaw else "backends[]"


def validate_settings(name: str, settings: dict[str, Any], config: "Config") -> dict[str, Any]:
    """Check every key of one vault backend entry; returns the normalised settings."""
    source = config.source or "config"
    prefix = _key_prefix(name, config)

    def fail(key: str, problem: str) -> ConfigError:
        return ConfigError(source, f"{prefix}.{key}", problem)

    allowed = ", ".join(SETTINGS)
    for key in settings:
        if key not in SETTINGS:
            raise fail(str(key), f"unknown vault setting (allowed: {allowed})")
    for key in REQUIRED:
        if settings.get(key) in (None, ""):
            raise fail(key, f"missing; {key} is {SETTINGS[key]}")
    result: dict[str, Any] = {}
    for key in ("url", "token", "path", "namespace", "ca_cert"):
        value = settings.get(key)
        if value is not None and not isinstance(value, str):
            raise fail(key, f"expected a string, got {type(value).__name__}; {key} is {SETTINGS[key]}")
    url = settings["url"].strip().rstrip("/")
    if not url.startswith(("http://", "https://")) or not urlsplit(url).hostname:
        raise fail("url", f"got {shape(settings['url'])}, which is not an http(s) URL; expected e.g. "
                          "https://vault.example.com:8200")
    result["url"] = url
    result["token"] = settings["token"].strip()
    if not result["token"]:
        raise fail("token", f"empty; token is {SETTINGS['token']}")
    path = settings["path"].strip().strip("/")
    if not path or "//" in path:
        raise fail("path", f"not a KV path ({shape(settings['path'])}); path is {SETTINGS['path']}")
    result["path"] = path
    result["namespace"] = (settings.get("namespace") or "").strip().strip("/") or None
    ca_cert = settings.get("ca_cert")
    if ca_cert:
        ca_path = os.path.join(str(config.rootdir), os.path.expanduser(ca_cert)) if config.source else ca_cert
        if not os.path.isfile(ca_path):
            raise fail("ca_cert", f"file not found (relative paths are taken from the config's directory); "
                                  f"ca_cert is {SETTINGS['ca_cert']}")
        result["ca_cert"] = ca_path
    else:
        result["ca_cert"] = None
    tls_verify = settings.get("tls_verify", True)
    if not isinstance(tls_verify, bool):
        raise fail("tls_verify", f"expected true or false, got {shape(tls_verify)}")
    result["tls_verify"] = tls_verify
    concurrency = settings.get("max_concurrency", DEFAULT_CONCURRENCY)
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or not 1 <= concurrency <= MAX_CONCURRENCY:
        raise fail("max_concurrency", f"expected a whole number from 1 to {MAX_CONCURRENCY}, got {shape(concurrency)}"
                                      f"{' out of range' if isinstance(concurrency, int) else ''}")
    result["max_concurrency"] = concurrency
    database_mount = settings.get("database_mount", "database")
    if database_mount is not None and not isinstance(database_mount, str):
        raise fail("database_mount", f"expected a mount name or '', got {shape(database_mount)}")
    result["database_mount"] = (database_mount or "").strip().strip("/") or None
    return result


# -- helpers ------------------------------------------------------------------------------


def _date(value: Any) -> datetime | None:
    """A Vault timestamp (RFC 3339 with nanoseconds, or unix seconds) as aware UTC; None if absent."""
    if value in (None, "", 0):
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc)
    try:
        return parse_date(value)
    except ValueError:
        return None


#: custom_metadata key written by ``secretaudit rotate`` when it writes a version that is not a rotation
#: (a pending password, the previous fields restored by a rollback): ``"<ISO time> version <N>"`` says
#: that version N holds a value last rotated at that time.  Only the current version's entry counts: any
#: later write (a rotation, a human's ``vault kv put``) is a rotation again.
NOT_ROTATED_KEY = "secretaudit_last_rotated"


def _not_rotated(value: str, current: str) -> datetime | None:
    """The time in a :data:`NOT_ROTATED_KEY` entry when it is about version ``current``, else None."""
    moment, _, version = value.strip().partition(" version ")
    if not current or version.strip() != current:
        return None
    return _date(moment.strip())


def _auth_method(path: str) -> str:
    """``auth/token/create`` -> ``token``; ``auth/approle/login`` -> ``approle``."""
    parts = [p for p in (path or "").split("/") if p]
    if len(parts) >= 2 and parts[0] == "auth":
        return parts[1]
    return parts[0] if parts else ""


class _CountingSession:
    """Builds the requests session hvac uses: counts every request, retries 429/503.

    Created lazily (requests is imported on first use) by :meth:`VaultBackend._client`.
    """

    @staticmethod
    def create(backend: "VaultBackend") -> Any:
        import requests
        from requests.adapters import HTTPAdapter

        from secretaudit.deadline import deadline

        class Session(requests.Session):
            def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
                # One deadline for the request, its body and its retries: --timeout is the whole call.
                with deadline(backend.timeout, backend.breaker) as bound:
                    attempt = 0
                    while True:
                        backend._count(method, url)
                        response = super().request(method, url, *args, **kwargs)
                        if response.status_code not in RETRY_STATUSES or attempt >= backend.retries:
                            return response
                        if response.status_code == 503 and "sealed" in response.text.lower():
                            return response  # a sealed server stays sealed: retrying only delays the error
                        delay = backend.retry_base * (2 ** attempt)
                        header = response.headers.get("Retry-After")
                        if header:
                            try:
                                delay = max(0.0, float(header))
                            except ValueError:
                                pass
                        delay = min(delay, RETRY_MAX_SECONDS)
                        if delay >= bound.remaining():
                            return response  # no time left to retry: the answer we have is the error
                        response.close()
                        time.sleep(delay)
                        attempt += 1

        session = Session()
        # The environment is read once here, not on every request (requests scans os.environ for
        # proxies per request otherwise: a third of the client's CPU on a 2,000-secret audit).
        session.trust_env = False
        session.proxies = requests.utils.get_environ_proxies(backend.url)
        verify = backend.verify
        if verify is True:
            verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        session.verify = verify
        pool = backend.max_concurrency + 4
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=pool)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session


# -- the backend --------------------------------------------------------------------------


class VaultBackend(Backend):
    """One Vault / OpenBao server, one KV v2 folder, one token."""

    type = TYPE

    def __init__(self, name: str, settings: dict[str, Any], config: "Config") -> None:
        checked = validate_settings(name, settings, config)
        # the token lives only here, never in settings, messages or repr
        self.__token = checked.pop("token")
        register_secret(self.__token)  # scrubbed from every message, whatever library quotes it
        super().__init__(name, {**checked, "token": "***"}, config)
        self.url: str = checked["url"]
        self.path: str = checked["path"]
        self.mount, _, folder = self.path.partition("/")
        self.folder: str = folder.strip("/")
        self.namespace: str | None = checked["namespace"]
        self.max_concurrency: int = checked["max_concurrency"]
        self.database_mount: str | None = checked["database_mount"]
        self.verify: bool | str = checked["ca_cert"] or checked["tls_verify"]
        self.timeout = float(config.settings.get("timeout") or 30)
        from secretaudit.deadline import Breaker

        #: set once a request missed the --timeout deadline: later ones fail at once
        self.breaker = Breaker()
        self.retries = RETRIES
        self.retry_base = RETRY_BASE_SECONDS
        #: set to a list to record every request as ``(METHOD, path)`` (tests, debugging)
        self.request_log: list[tuple[str, str]] | None = None
        self._lock = threading.Lock()
        self._hvac: Any = None

    def __repr__(self) -> str:
        return scrub(f"<VaultBackend {self.label} url={self.url} path={self.path}>")

    # -- plumbing -------------------------------------------------------------------------

    def _count(self, method: str, url: str) -> None:
        with self._lock:
            self.api_calls += 1
            if self.request_log is not None:
                path = urlsplit(url).path
                self.request_log.append((method.upper(), path[4:] if path.startswith("/v1/") else path))

    @property
    def client(self) -> Any:
        if self._hvac is None:
            import hvac

            session = _CountingSession.create(self)
            self._hvac = hvac.Client(url=self.url, token=self.__token, namespace=self.namespace,
                                     verify=session.verify, timeout=self.timeout, session=session)
        return self._hvac

    def _scrub(self, text: str) -> str:
        return text.replace(self.__token, "***") if self.__token else text

    def _fail(self, message: str, reason: str) -> BackendError:
        return BackendError(self._scrub(f"{self.label}: {message}"), reason)

    def _call(self, op: str, path: str, func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Run one hvac call; network and server failures become BackendError, 403/404 Denied/NotFound."""
        import hvac.exceptions as hx
        import requests

        from secretaudit.deadline import DeadlineExceeded

        try:
            answer = func(*args, **kwargs)
        except DeadlineExceeded as exc:
            raise self._fail(exc.explain(f"{self.url} ({op} {path})"), "timeout") from None
        except requests.exceptions.Timeout:
            raise self._fail(f"no answer from {self.url} within {self.timeout:g} s on {op} {path}; "
                             "raise --timeout (or the timeout setting) or check the server's load", "timeout") from None
        except requests.exceptions.SSLError:
            raise self._fail(f"TLS handshake with {self.url} failed (certificate not trusted or invalid); "
                             "set ca_cert to the CA bundle that signs it, or fix the server certificate",
                             "unreachable") from None
        except requests.exceptions.JSONDecodeError:
            raise self._fail(f"{self.url} answered {op} {path} with something that is not Vault JSON; "
                             "check url (it must be the Vault API address)", "error") from None
        except requests.exceptions.RequestException as exc:
            raise self._fail(f"cannot connect to {self.url} ({connection_cause(exc)}); "
                             "check url and that the server is up", "unreachable") from None
        except hx.Forbidden:
            raise Denied() from None
        except hx.InvalidPath:
            raise NotFound() from None
        except hx.RateLimitExceeded:
            raise self._fail(f"throttled on {op} {path} (HTTP 429 after {self.retries + 1} attempts); "
                             "lower max_concurrency or raise the server's rate-limit quota", "throttled") from None
        except hx.VaultDown as exc:
            if "sealed" in " ".join(map(str, exc.errors or ())).lower():
                raise self._fail(f"{self.url} is sealed (HTTP 503 on {op} {path}); unseal it and rerun",
                                 "unreachable") from None
            raise self._fail(f"{self.url} is unavailable or throttling (HTTP 503 on {op} {path} after "
                             f"{self.retries + 1} attempts); retry later or lower max_concurrency",
                             "throttled") from None
        except hx.VaultError as exc:
            detail = "; ".join(" ".join(str(e).split()) for e in (exc.errors or ()))[:200] or exc.__class__.__name__
            raise self._fail(f"{op} {path} failed ({detail}); check the server log and the path",
                             "error") from None
        if not isinstance(answer, dict):  # hvac hands back the raw response when the body is not JSON
            raise self._fail(f"{self.url} answered {op} {path} with something that is not Vault JSON; "
                             "check url (it must be the Vault API address)", "error")
        return answer

    def _token_denied(self, op: str, path: str) -> BackendError:
        return self._fail(f"permission denied on {op} {path}: the token is invalid or revoked; "
                          "renew it or set VAULT_TOKEN", "denied")

    def _denied(self, op: str, path: str, capability: str, grant: str) -> BackendError:
        """A 403 on a data call: a revoked token, or a missing capability (lookup-self tells which)."""
        try:
            self._call("GET", "auth/token/lookup-self", self.client.auth.token.lookup_self)
        except Denied:
            return self._token_denied(op, path)
        except (BackendError, NotFound):
            pass
        return self._fail(f"permission denied on {op} {path}: the token needs the '{capability}' capability "
                          f"on {grant}", "denied")

    # -- what checks read (SA304, SA509): plain GETs, no hvac object handed out ---------------

    def read(self, path: str) -> dict[str, Any]:
        """GET ``/v1/<path>``: the answer's JSON, or :class:`Denied` / :class:`NotFound`.

        Other failures are :class:`BackendError`.  Checks read Vault through
        this and :meth:`lookup_self`, so no check holds the hvac client or
        the token.
        """
        return self._call("GET", path, self.client.adapter.get, f"/v1/{path}")

    def lookup_self(self) -> dict[str, Any]:
        """The token's own ``auth/token/lookup-self`` data (policies, ttl...); BackendError when unreadable."""
        return self._lookup_self()

    def scrub(self, text: str) -> str:
        """``text`` without this backend's token."""
        return self._scrub(text)

    # -- the token ------------------------------------------------------------------------

    def _lookup_self(self) -> dict[str, Any]:
        try:
            answer = self._call("GET", "auth/token/lookup-self", self.client.auth.token.lookup_self)
        except Denied:
            raise self._token_denied("GET", "auth/token/lookup-self") from None
        except NotFound:
            raise self._fail("auth/token/lookup-self not found; check url (is it a Vault / OpenBao server?)",
                             "error") from None
        return (answer or {}).get("data") or {}

    def _token_record(self, data: dict[str, Any]) -> SecretRecord:
        policies = tuple(sorted(str(p) for p in data.get("policies") or ()))
        display = str(data.get("display_name") or "") or str(data.get("accessor") or "")[:6] or "unnamed"
        ttl = int(data.get("ttl") or 0)
        created = _date(data.get("issue_time")) or _date(data.get("creation_time"))
        expires = None if ttl == 0 and not data.get("expire_time") else _date(data.get("expire_time"))
        meta = {str(k): str(v) for k, v in (data.get("meta") or {}).items()}
        extra: list[tuple[str, Any]] = [
            ("policies", policies), ("root", "root" in policies), ("renewable", bool(data.get("renewable"))),
            ("ttl", ttl), ("auth_path", str(data.get("path") or "")),
            ("explicit_max_ttl", int(data.get("explicit_max_ttl") or 0)), ("orphan", bool(data.get("orphan"))),
            ("num_uses", int(data.get("num_uses") or 0)), ("token_type", str(data.get("type") or "")),
        ]
        # A token's life is its rotation period: renewed every period (or creation TTL), or replaced when
        # it ends.  SA202 warns from the last third of it, not 30 days ahead of a 30-day token's end.
        period = int(data.get("period") or 0) or int(data.get("creation_ttl") or 0)
        if period and expires is not None:
            extra.append(("rotation_period", period))
        return SecretRecord(
            backend=self.label, name=f"token:{display}", path=str(data.get("path") or "auth/token"),
            kind="vault-token", created=created, last_rotated=created, expires=expires, rotation_enabled=None,
            owner=meta.get("owner"), tags=tuple(sorted(meta.items())), extra=tuple(extra))

    # -- mounts ---------------------------------------------------------------------------

    def _mounts(self) -> tuple[dict[str, Any], bool]:
        """Secrets engine mounts by path (``secret/``) and whether the list is authoritative.

        ``sys/mounts`` needs a privileged token; any token can read
        ``sys/internal/ui/mounts``, which shows the mounts it has access to.
        Neither readable: no mounts, and the checks that need them are skipped.
        """
        try:
            answer = self._call("GET", "sys/mounts", self.client.sys.list_mounted_secrets_engines)
            data = answer.get("data") or {k: v for k, v in answer.items() if isinstance(v, dict) and "type" in v}
            return data, True
        except (Denied, NotFound):
            pass
        try:
            answer = self._call("GET", "sys/internal/ui/mounts", self.client.adapter.get, "/v1/sys/internal/ui/mounts")
            return ((answer or {}).get("data") or {}).get("secret") or {}, False
        except (Denied, NotFound):
            return {}, False

    def _resolve_mount(self, mounts: dict[str, Any]) -> None:
        """A mount of several segments (``team/kv``) wins over the first-segment default."""
        candidates = [m.rstrip("/") for m in mounts if m.endswith("/") and (self.path + "/").startswith(m)]
        if candidates:
            best = max(candidates, key=len)
            if best != self.mount:
                self.mount, self.folder = best, self.path[len(best):].strip("/")

    def _check_kv_mount(self, mounts: dict[str, Any], authoritative: bool) -> None:
        mount = mounts.get(self.mount + "/")
        if mount is None:
            if authoritative:
                raise self._fail(f"no secrets engine is mounted at {self.mount}/; check path "
                                 f"(its first segment is the KV v2 mount)", "config")
            return
        version = str((mount.get("options") or {}).get("version") or "1")
        if mount.get("type") in ("kv", "generic") and version != "2":
            raise self._fail(f"{self.mount}/ is a KV version 1 mount; secretaudit audits KV v2 metadata "
                             "(versions, custom_metadata): upgrade it with 'vault kv enable-versioning'", "config")
        if mount.get("type") not in ("kv", "generic"):
            raise self._fail(f"{self.mount}/ is a {mount.get('type')!r} secrets engine, not KV v2; check path",
                             "config")

    # -- KV v2 ----------------------------------------------------------------------------

    def _metadata_path(self, folder: str) -> str:
        return "/".join(p for p in (self.mount, "metadata", folder) if p)

    def _list_folder(self, folder: str) -> list[str]:
        """Every key of one KV folder (``name`` or ``sub/``), following pagination."""
        path = self._metadata_path(folder)
        url = f"/v1/{path}"
        keys: list[str] = []
        after: str | None = None
        while True:
            params = {"limit": PAGE_SIZE, **({"after": after} if after else {})}
            try:
                answer = self._call("LIST", path, self.client.adapter.list, url, params=params)
            except Denied:
                raise self._denied("LIST", path, "list", f"{path}/*") from None
            except NotFound:
                if folder == self.folder and after is None:
                    raise self._fail(f"no secrets under {self.path} (LIST {path}: not found); check path "
                                     "(the KV v2 mount, then the folder)", "config") from None
                return keys  # deleted meanwhile, or the end of the pages
            page = [str(k) for k in ((answer or {}).get("data") or {}).get("keys") or ()]
            if after is not None and page and page[0] <= after:
                return keys  # the server ignores 'after': it answered the full list the first time
            keys.extend(page)
            if len(page) != PAGE_SIZE:  # a short page is the last; a longer one: no pagination
                return keys
            after = page[-1]

    def _read_metadata(self, relative: str) -> SecretRecord | None:
        full = f"{self.folder}/{relative}" if self.folder else relative
        path = self._metadata_path(full)
        try:
            answer = self._call("GET", path, self.client.secrets.kv.v2.read_secret_metadata,
                                path=full, mount_point=self.mount)
        except Denied:
            grant = f"{self._metadata_path(self.folder)}/*"
            raise self._denied("GET", path, "read", f"{path} (grant list and read on {grant})") from None
        except NotFound:
            return None  # deleted between LIST and read
        return self._kv_record(relative, full, (answer or {}).get("data") or {})

    def _kv_record(self, relative: str, full: str, data: dict[str, Any]) -> SecretRecord:
        custom = {str(k): "" if v is None else str(v) for k, v in (data.get("custom_metadata") or {}).items()}
        versions = data.get("versions") or {}
        current = str(data.get("current_version") or "")
        first = versions.get("1") or {}
        created = _date(first.get("created_time")) or _date(data.get("created_time"))
        current_info = versions.get(current) or {}
        last_rotated = _date(current_info.get("created_time")) or _date(data.get("updated_time")) or created
        problems: list[str] = []
        kept = _not_rotated(custom.get(NOT_ROTATED_KEY, ""), current)
        if kept is not None:  # the current version was written by a rotation that did not happen
            last_rotated = kept
        expires = None
        if custom.get("expiry_date"):
            try:
                expires = parse_date(custom["expiry_date"])
            except ValueError:
                problems.append(f"expiry_date {custom['expiry_date']!r} is not a date (use YYYY-MM-DD)")
        rotation_days = None
        raw_days = custom.get("rotation_days", "").strip().lower().removesuffix("d").strip()
        if raw_days:
            if raw_days.isdigit() and int(raw_days) > 0:
                rotation_days = int(raw_days)
            else:
                problems.append(f"rotation_days {custom['rotation_days']!r} is not a whole number of days")
        extra: list[tuple[str, Any]] = [("current_version", int(current or 0)), ("versions", len(versions))]
        if current_info.get("destroyed") or current_info.get("deletion_time"):
            extra.append(("current_version_deleted", True))
        if problems:
            extra.append(("metadata_error", "; ".join(problems)))
        return SecretRecord(
            backend=self.label, name=relative, path=f"{self.mount}/{full}",
            kind=infer_kind(relative, custom.get("kind")), created=created, last_rotated=last_rotated,
            expires=expires, rotation_enabled=rotation_days is not None, rotation_days=rotation_days,
            owner=custom.get("owner") or None, tags=tuple(sorted(custom.items())), extra=tuple(extra))

    def _walk_kv(self, pool: ThreadPoolExecutor) -> Iterator[SecretRecord]:
        """LIST every folder and read every secret's metadata, ``max_concurrency`` at a time.

        Reads are submitted only a few ahead of the consumer, so records
        stream out as they come and a failure mid-walk keeps what was yielded.
        """
        window = self.max_concurrency * 2
        lists: dict[Future, str] = {pool.submit(self._list_folder, self.folder): ""}
        reads: dict[Future, str] = {}
        queued: deque[str] = deque()
        while lists or reads or queued:
            while queued and len(reads) < window:
                relative = queued.popleft()
                reads[pool.submit(self._read_metadata, relative)] = relative
            done, _ = wait([*lists, *reads], return_when=FIRST_COMPLETED)
            for future in done:
                if future in lists:
                    prefix = lists.pop(future)
                    for key in future.result():
                        if key.endswith("/"):
                            lists[pool.submit(self._list_folder, "/".join(
                                p for p in (self.folder, prefix + key[:-1]) if p))] = prefix + key
                        else:
                            queued.append(prefix + key)
                else:
                    reads.pop(future)
                    record = future.result()
                    if record is not None:
                        yield record

    # -- database static roles --------------------------------------------------------------

    def _database_roles(self, pool: ThreadPoolExecutor, mounts: dict[str, Any]) -> Iterator[SecretRecord]:
        mount = self.database_mount
        if not mount or (mounts.get(mount + "/") or {}).get("type") != "database":
            return
        path = f"{mount}/static-roles"
        try:
            answer = self._call("LIST", path, self.client.secrets.database.list_static_roles, mount_point=mount)
        except Denied:
            raise self._denied("LIST", path, "list",
                               f"{path} (or set database_mount: '' to skip database roles)") from None
        except NotFound:
            return
        roles = [str(r) for r in ((answer or {}).get("data") or {}).get("keys") or ()]
        yield from _bounded_map(pool, self._read_static_role, roles, self.max_concurrency * 2)

    def _read_static_role(self, role: str) -> SecretRecord | None:
        mount = self.database_mount
        path = f"{mount}/static-roles/{role}"
        try:
            answer = self._call("GET", path, self.client.secrets.database.read_static_role,
                                name=role, mount_point=mount)
        except Denied:
            raise self._denied("GET", path, "read", f"{mount}/static-roles/*") from None
        except NotFound:
            return None
        data = (answer or {}).get("data") or {}
        period = int(data.get("rotation_period") or 0)
        last = _date(data.get("last_vault_rotation"))
        extra: list[tuple[str, Any]] = [("rotation_period", period), ("username", str(data.get("username") or "")),
                                        ("db_name", str(data.get("db_name") or ""))]
        if data.get("rotation_schedule"):
            extra.append(("rotation_schedule", str(data["rotation_schedule"])))
        return SecretRecord(
            backend=self.label, name=f"{mount}/static-role/{role}", path=path, kind="database-password",
            created=None, last_rotated=last, rotation_enabled=True,
            rotation_days=math.ceil(period / 86400) if period else None,
            next_rotation=last + timedelta(seconds=period) if last and period else None, extra=tuple(extra))

    # -- the interface --------------------------------------------------------------------------

    def records(self) -> Iterator[SecretRecord]:
        try:
            yield from self._records()
        except BackendError:
            raise
        except Exception as exc:  # a bug here must not end the audit of the other backends
            detail = " ".join(str(exc).split())[:200]
            raise self._fail(f"unexpected {exc.__class__.__name__} ({detail}) while listing; "
                             "please report it as a bug", "error") from exc

    def _records(self) -> Iterator[SecretRecord]:
        yield self._token_record(self._lookup_self())
        mounts, authoritative = self._mounts()
        self._resolve_mount(mounts)
        self._check_kv_mount(mounts, authoritative)
        pool = ThreadPoolExecutor(self.max_concurrency, thread_name_prefix=f"vault-{self.name}")
        try:
            yield from self._walk_kv(pool)
            yield from self._database_roles(pool, mounts)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def fetch(self, record: SecretRecord) -> dict[str, str]:
        """The current version's fields of a KV v2 secret (validation only; never logged).

        The record of the audit token itself is answered with that token.  A
        database static role is answered with its current credentials
        (``static-creds``) and its connection's host and port, in the
        ``ENGINE_host/port/user/password`` layout the database validator reads
        (until 2026-11 it was read as a KV path, so ``validate --secret
        MOUNT/static-role/ROLE`` always failed with "not found").
        """
        if record.kind == "vault-token" and record.name.startswith("token:") and not record.path.startswith(self.mount):
            return {"token": self.__token, "url": self.url}
        if self.is_static_role(record):
            creds, _ = self.read_current(record)
            connection = self.static_role_connection(record)
            if not connection:  # the validator then says what is missing
                return creds
            engine = connection["engine"]
            return {f"{engine}_host": connection["host"], f"{engine}_port": connection["port"],
                    f"{engine}_user": creds.get("username", ""), f"{engine}_password": creds.get("password", "")}
        fields, _ = self.read_current(record)
        return fields

    # -- single secrets: get and rotate ----------------------------------------------------------

    def _ensure_mount(self) -> None:
        """Resolve a multi-segment KV mount once (what ``records`` does before walking)."""
        if not getattr(self, "_mount_resolved", False):
            mounts, _ = self._mounts()
            self._resolve_mount(mounts)
            self._mount_resolved = True

    def lookup(self, name: str) -> SecretRecord | None:
        """The record of one secret by its name (as ``records`` names it), or None if there is none.

        One metadata read instead of walking the folder: ``secretaudit get``
        must be fast.  ``DATABASE_MOUNT/static-role/ROLE`` names a database
        static role.  Raises :class:`BackendError` (denied names the capability).
        """
        name = name.strip().strip("/")
        if not name or name.startswith("token:"):
            return None
        if self.database_mount and name.startswith(f"{self.database_mount}/static-role/"):
            return self._read_static_role(name.rsplit("/", 1)[1])
        self._ensure_mount()
        return self._read_metadata(name)

    def _kv_relative(self, record: SecretRecord) -> str:
        return record.path[len(self.mount) + 1:] if record.path.startswith(self.mount + "/") else record.path

    def read_current(self, record: SecretRecord) -> tuple[dict[str, str], str | None]:
        """The current fields and version of a KV secret, or a static role's current credentials.

        For a static role the "version" is the time of its last rotation.
        """
        if record.path.startswith(f"{self.database_mount}/static-roles/") and self.database_mount:
            role = record.path.rsplit("/", 1)[1]
            path = f"{self.database_mount}/static-creds/{role}"
            try:
                answer = self._call("GET", path, self.client.secrets.database.get_static_credentials,
                                    name=role, mount_point=self.database_mount)
            except Denied:
                raise self._fail(f"permission denied on GET {path}: the token needs the 'read' capability on "
                                 f"{path}", "denied") from None
            except NotFound:
                raise self._fail(f"{path} not found; the static role may have been deleted", "error") from None
            data = (answer or {}).get("data") or {}
            fields = {k: str(data[k]) for k in ("username", "password") if data.get(k) is not None}
            return fields, str(data.get("last_vault_rotation") or "") or None
        relative = self._kv_relative(record)
        path = f"{self.mount}/data/{relative}"
        try:
            answer = self._call("GET", path, self.client.secrets.kv.v2.read_secret_version, path=relative,
                                mount_point=self.mount, raise_on_deleted_version=True)
        except Denied:
            raise self._fail(f"permission denied on GET {path}: the token needs the 'read' capability on "
                             f"{path}", "denied") from None
        except NotFound:
            raise self._fail(f"{path} not found; it may have been deleted since it was listed", "error") from None
        body = answer.get("data") or {}
        version = (body.get("metadata") or {}).get("version")
        data = body.get("data") or {}
        return {str(k): str(v) for k, v in data.items()}, None if version is None else str(version)

    def older_values(self, record: SecretRecord, limit: int) -> Iterator[tuple[str, dict[str, str]]]:
        """(version, fields) of the KV versions kept before the current one, newest first, at most ``limit``.

        For ``audit --correlate``'s stale matches.  Deleted and destroyed
        versions are skipped (no value to compare); a static role and the
        audit token have no older values.
        """
        current, kept = record.fact("current_version"), record.fact("versions")
        if not current or not kept or self.is_static_role(record) or not record.path.startswith(self.mount + "/"):
            return
        relative = self._kv_relative(record)
        path = f"{self.mount}/data/{relative}"
        for version in range(int(current) - 1, max(0, int(current) - int(kept)), -1)[:max(0, limit)]:
            try:
                answer = self._call("GET", path, self.client.secrets.kv.v2.read_secret_version, path=relative,
                                    version=version, mount_point=self.mount, raise_on_deleted_version=True)
            except Denied:
                raise self._fail(f"permission denied on GET {path} (version {version}): the token needs the "
                                 f"'read' capability on {path}", "denied") from None
            except NotFound:
                continue  # deleted or destroyed
            data = (answer.get("data") or {}).get("data") or {}
            yield str(version), {str(k): str(v) for k, v in data.items()}

    # -- writes (secretaudit rotate only; the audit itself never writes) ------------------------

    def is_static_role(self, record: SecretRecord) -> bool:
        return bool(self.database_mount) and record.path.startswith(f"{self.database_mount}/static-roles/")

    def rotates_itself(self, record: SecretRecord) -> bool:
        return self.is_static_role(record)  # Vault sets a static role's password: rotate-role works for any kind

    def kv_write(self, record: SecretRecord, fields: dict[str, str], cas: int) -> str:
        """Write ``fields`` as a new KV v2 version, only if the current version is still ``cas``.

        Check-and-set makes two concurrent rotations (or a rotation racing a
        human edit) fail instead of silently overwriting each other.  Returns
        the new version number.
        """
        relative = self._kv_relative(record)
        path = f"{self.mount}/data/{relative}"
        try:
            answer = self._call("PUT", path, self.client.secrets.kv.v2.create_or_update_secret, path=relative,
                                secret=dict(fields), cas=cas, mount_point=self.mount)
        except Denied:
            raise self._fail(f"permission denied on PUT {path}: rotation needs the 'update' capability on {path}",
                             "denied") from None
        except NotFound:
            raise self._fail(f"{path} not found on write; check the KV mount", "error") from None
        except BackendError as exc:
            if "check-and-set" in str(exc):
                raise self._fail(f"{path} changed while it was being rotated (check-and-set on version {cas} "
                                 "failed); run the rotation again", "conflict") from None
            raise
        return str(((answer or {}).get("data") or {}).get("version") or "")

    def _post_no_content(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """POST ``/v1/<path>``; Vault's ``204 No Content`` (hvac hands back the raw response) is ``{}``."""
        answer = self.client.adapter.post(f"/v1/{path}", **({"json": body} if body is not None else {}))
        return {} if getattr(answer, "status_code", None) == 204 else answer

    def mark_not_rotated(self, record: SecretRecord, version: str, last_rotated: datetime) -> None:
        """Record in custom_metadata that KV ``version`` is not a rotation: its value was last rotated then.

        A pending password or a rollback's restored fields are new versions
        whose value did not change; without this mark their creation time
        would become ``last_rotated`` and restart the SA203 clock.  One read
        and one write of the metadata (the write carries only
        ``custom_metadata``, so max_versions and the rest stay as they are);
        needs 'update' on the metadata path.
        """
        relative = self._kv_relative(record)
        full = self._metadata_path(relative)
        try:
            answer = self._call("GET", full, self.client.secrets.kv.v2.read_secret_metadata, path=relative,
                                mount_point=self.mount)
            custom = dict(((answer or {}).get("data") or {}).get("custom_metadata") or {})
            moment = last_rotated.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
            custom[NOT_ROTATED_KEY] = f"{moment} version {version}"
            self._call("POST", full, self._post_no_content, full, {"custom_metadata": custom})
        except Denied:
            raise self._fail(f"permission denied on POST {full}: marking version {version} as not rotated needs "
                             f"the 'update' capability on {full}", "denied") from None
        except NotFound:
            raise self._fail(f"{full} not found; it may have been deleted during the rotation", "error") from None

    def rotate_static_role(self, record: SecretRecord) -> None:
        """POST DATABASE_MOUNT/rotate-role/ROLE: Vault changes the password in the database and stores it.

        The endpoint answers ``204 No Content`` on success, for which hvac hands
        back the raw response rather than a dict: that is success, not "not
        Vault JSON" (until 2026-11 it was reported as a backend error after
        Vault had already rotated the password, so validation never ran).
        """
        mount = self.database_mount
        role = record.path.rsplit("/", 1)[1]
        path = f"{mount}/rotate-role/{role}"
        try:
            self._call("POST", path, self._post_no_content, path)
        except Denied:
            raise self._fail(f"permission denied on POST {path}: rotation needs the 'update' capability on "
                             f"{path}", "denied") from None
        except NotFound:
            raise self._fail(f"static role {role} not found at {mount}/static-roles/{role}", "error") from None

    def static_role_connection(self, record: SecretRecord) -> dict[str, str]:
        """Engine, host and port of a static role's database (from DATABASE_MOUNT/config/DB), for validation.

        Empty when the token may not read the connection (validation then says it could not run).
        """
        import re

        mount = self.database_mount
        db_name = str(record.fact("db_name") or "")
        if not db_name:
            return {}
        path = f"{mount}/config/{db_name}"
        try:
            answer = self._call("GET", path, self.client.adapter.get, f"/v1/{path}")
        except (Denied, NotFound):
            return {}
        data = (answer or {}).get("data") or {}
        plugin = str(data.get("plugin_name") or "")
        url = str((data.get("connection_details") or {}).get("connection_url") or "")
        engine = "postgres" if "postgres" in plugin else "mysql" if ("mysql" in plugin or "maria" in plugin) else ""
        match = re.search(r"@(?:tcp\()?\[?([A-Za-z0-9_.:-]+?)\]?:(\d+)\)?", url)
        if not engine or not match:
            return {}
        return {"engine": engine, "host": match.group(1), "port": match.group(2)}

    def status(self) -> BackendStatus:
        warnings: list[str] = []
        if self.url.startswith("http://"):
            warnings.append("url uses plain http: the token travels unencrypted; use https")
        if self.verify is False:
            warnings.append("tls_verify is off: the server certificate is not checked")
        result = BackendStatus(backend=self.label, type=self.type, reachable=False, warnings=warnings)
        try:
            self.client  # built (and hvac imported) before the clock starts
            started = time.perf_counter()
            data = self._lookup_self()
        except BackendError as exc:
            result.reachable = exc.reason in ("denied", "throttled", "error", "config")
            result.error = str(exc)
            return result
        except Exception as exc:  # status() never raises
            result.error = self._scrub(f"{self.label}: unexpected {exc.__class__.__name__}")
            return result
        result.latency_ms = round((time.perf_counter() - started) * 1000, 1)
        result.reachable = True
        policies = sorted(str(p) for p in data.get("policies") or ())
        result.identity = f"{data.get('display_name') or 'unnamed token'} (policies: {', '.join(policies) or 'none'})"
        result.auth_method = _auth_method(str(data.get("path") or ""))
        if "root" in policies:
            warnings.append("root token in use: audit with a token limited to list and read on metadata")
        if int(data.get("ttl") or 0) == 0 and not data.get("expire_time"):
            warnings.append("token never expires")
        return result


def _bounded_map(pool: ThreadPoolExecutor, func: Callable[[str], SecretRecord | None], items: Iterable[str],
                 window: int) -> Iterator[SecretRecord]:
    """``func`` over ``items`` in the pool, ``window`` in flight, yielding results as they finish."""
    queued = deque(items)
    running: set[Future] = set()
    while queued or running:
        while queued and len(running) < window:
            running.add(pool.submit(func, queued.popleft()))
        done, running = wait(running, return_when=FIRST_COMPLETED)
        for future in done:
            record = future.result()
            if record is not None:
                yield record


def create(name: str, settings: dict[str, Any], config: "Config") -> VaultBackend:
    return VaultBackend(name, settings, config)


@hookimpl
def secretaudit_register_backends(registry: "BackendRegistry") -> None:
    registry.add(TYPE, create)
