"""SA106: agent and deploy configurations holding plaintext credentials.

OpenClaw (and the CI and compose files that deploy agents) can take every
credential either as a literal or as a *reference* to a secret kept
elsewhere.  A literal where a reference belongs is this finding, reported at
its JSON path (``models.providers.openai.apiKey``) so the fix is obvious.

What is read, mirroring ``openclaw secrets audit`` (openclaw 2026.9.6, read
from its source, ``dist/audit-*.mjs``):

* **the config**, ``openclaw.json`` (JSON5: comments, trailing commas,
  unquoted keys, single quotes), the legacy ``clawdbot.json``, the file named
  by ``OPENCLAW_CONFIG_PATH`` whatever its name, and the backups OpenClaw
  writes next to it (``openclaw.json.bak``, ``openclaw.json.bak.1``...,
  which the audit itself never reads).  Only the documented SecretRef
  credential surface counts (:data:`CONFIG_TARGETS`, the list of
  ``docs/reference/secretref-credential-surface.md``); a value is plaintext
  when it is a non-empty string that is not a reference.  A reference is
  ``{source: env|file|exec|store, provider, id}`` (exactly those three keys),
  the legacy provider-less ``{source, id}``, or ``${VAR}`` / ``$VAR`` with an
  upper-case name.  Model ``apiKey`` markers (``OPENAI_API_KEY``,
  ``secretref-managed``, ``oauth:...``) and non-credential headers are not
  plaintext, exactly as in OpenClaw.
* **missing providers**: a reference whose provider is not declared in
  ``secrets.providers`` is a config error, except ``env``/``store``
  references to the source's default alias (``secrets.defaults.<source>``,
  else ``default``), which OpenClaw resolves without a declaration.  A
  provider declared with another source is reported too.
* **references that do not resolve** (OpenClaw's ``REF_UNRESOLVED``), in the
  config OpenClaw loads (``openclaw.json`` in a state directory, or the file
  ``OPENCLAW_CONFIG_PATH`` names; not backups): an ``env`` reference whose
  variable is unset or empty in the scanning process's environment, the
  ``.env`` next to the config and the config's ``env.vars`` (in OpenClaw's
  order), or that an env provider's ``allowlist`` refuses; a ``file``
  reference whose file is missing, not a regular file, readable or writable
  by others, not the user's, larger than its ``maxBytes``, not a JSON object,
  or whose JSON pointer (or singleValue ``value``) does not give a non-empty
  string.  ``~`` in a provider path is the home that holds the state
  directory.  ``exec`` and ``store`` references are not resolved (OpenClaw
  runs exec providers only with ``--allow-exec``).  The verdict depends on
  more than the file, so such a file is never answered from the scan cache.
* **auth profiles**, ``agents/<id>/agent/auth-profiles.json`` and its
  archives (``auth-profiles.json.migrated-*``,
  ``auth-profiles.json.sqlite-import.*.bak``): ``api_key`` profiles' ``key``
  and ``token`` profiles' ``token``.  OpenClaw 2026.9 keeps live profiles in
  SQLite (``openclaw-agent.sqlite``, binary, not scanned here) and its audit
  reports these JSON files only as a retired source (``LEGACY_RESIDUE``)
  without reading them; they still hold the keys, so SA106 reads them.
* **generated models**, ``agents/<id>/agent/models.json``: ``providers.*.apiKey``
  and credential-named ``providers.*.headers.*``.
* **the state directory's** ``.env`` (``~/.openclaw/.env``, or next to the
  config): provider credential variables (OpenClaw's known names, and names
  ending in ``_API_KEY``, ``_TOKEN``, ``_SECRET``, ``_PASSWORD``,
  ``_PRIVATE_KEY``, its own rule for secret-kind names), as ``$env.NAME``.
* **deploy files**: secret-named keys with literal values in
  ``openclaw.yaml``, in GitHub Actions workflows (``.github/workflows/*.yml``:
  ``env`` and ``with`` blocks; ``${{ secrets.X }}`` and ``${{ vars.X }}`` are
  references) and in compose files' ``services.*.environment``.

Errors.  ``secretaudit_scan_file`` can only return detections, and every
detection becomes a *failed* result: the engine has no way for a file check
to return an ``error`` result (errors come from files that cannot be read).
A reference to a missing provider is therefore reported as a failed SA106
result with the rule ``missing-provider`` (one that does not resolve: the
rule ``unresolved-ref``) and a message starting
``config error:`` that names the provider.  It fails the run like an error
would (exit 1) and cannot be mistaken for a plaintext finding; making it a
true ``error`` status needs an engine change (an error flag on detections).

Double reporting.  The engine keeps one finding per line and value and, on
equal severity, the lower check id: SA102 (a keyword assignment) or SA104 (a
committed ``.env``) would always hide SA106, and SA101 (critical) would hide
it for every known-format key.  SA106 is a different fact (*where* the
OpenClaw config holds the literal, and that a SecretRef is the fix), so its
spec is ``reported_alongside``: the engine keeps it next to the others.

Speed: the decision starts from the file *name* (:func:`kind_for`): one dict
lookup, two ``startswith`` tests and an extension test; only OpenClaw's own
files, workflows and compose files are parsed.
"""

from __future__ import annotations

import os
import re
from typing import Any, Callable, Iterator, NamedTuple, TYPE_CHECKING

from secretaudit.checks import filters
from secretaudit.controls import HARDCODED_CREDENTIALS, NIST_IA_5, SOC2_CC6_1
from secretaudit.hookspec import hookimpl
from secretaudit.model import CheckSpec, Detection, FileItem, Severity
from secretaudit.checks.lazyre import lazy_compile
from secretaudit.stash import StashKey

if TYPE_CHECKING:
    from secretaudit.config import Config
    from secretaudit.registry import CheckRegistry

CHECK_ID = "SA106"
#: ``OPENCLAW_CONFIG_PATH`` of the run, made absolute
CONFIG_PATH_KEY: StashKey[str] = StashKey("openclaw_config_path")

SPEC = CheckSpec(
    id=CHECK_ID,
    title="Agent or deploy configuration holds a plaintext credential",
    severity=Severity.HIGH,
    description=(
        "An OpenClaw configuration (openclaw.json and its .bak copies, auth-profiles.json, "
        "agents/*/agent/models.json, the state directory's .env, openclaw.yaml), a GitHub Actions "
        "workflow or a compose file holds a literal credential where a secret reference belongs. "
        "Anything that can read the file (the agent itself, backups, CI logs) can read the key. "
        "A SecretRef naming a provider that secrets.providers does not declare is reported as a "
        "config error (rule missing-provider), and so is one in the live config that does not resolve: "
        "an unset environment variable, a missing file or JSON pointer (rule unresolved-ref)."
    ),
    remediation=(
        "Rotate the credential, then replace the literal with a reference: in openclaw.json a "
        "SecretRef {source: \"env\"|\"file\"|\"exec\", provider: \"<alias>\", id: \"<id>\"} whose "
        "provider is declared under secrets.providers (or \"${VAR}\"), in auth profiles keyRef/tokenRef, "
        "in .env files nothing (use the store or the process environment), in workflows "
        "${{ secrets.NAME }}, in compose files ${VAR}. Run `openclaw secrets audit --check` and "
        "`openclaw secrets configure` to migrate, and delete openclaw.json.bak* copies that still "
        "hold the old value."
    ),
    tags=("secrets", "openclaw", "agent-config", "ci"),
    controls=(*HARDCODED_CREDENTIALS, NIST_IA_5, SOC2_CC6_1),
    references=("https://docs.openclaw.ai/reference/secretref-credential-surface",
                "https://docs.github.com/actions/security-guides/using-secrets-in-github-actions"),
    reported_alongside=True,
    claims_over=("SA102", "SA103"),
)


# -- a tolerant JSON5 reader that keeps offsets ---------------------------------------------------


class Node(NamedTuple):
    """A parsed JSON5 value and the offset where it starts in the text.

    Objects hold ``dict[str, Node]``, arrays ``list[Node]``, scalars their value.
    """

    value: Any
    offset: int

    def __repr__(self) -> str:  # values may be credentials
        return f"Node({type(self.value).__name__}, offset={self.offset})"


class JSON5Error(ValueError):
    """The text is not JSON5; the message names the offset, never the content."""


_IDENT = lazy_compile(r"[A-Za-z_$][\w$]*")
_NUMBER = lazy_compile(r"[+-]?(?:0[xX][0-9a-fA-F]+|Infinity|NaN|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0",
            "\n": "", "\r": "", "\u2028": "", "\u2029": ""}


class _Reader:
    """Recursive-descent JSON5 reader (objects nest a few levels; recursion is fine)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, what: str) -> JSON5Error:
        return JSON5Error(f"{what} at offset {self.pos}")

    def skip(self) -> None:
        text, n = self.text, len(self.text)
        while self.pos < n:
            c = text[self.pos]
            if c in " \t\r\n\ufeff\u00a0\u2028\u2029":
                self.pos += 1
            elif text.startswith("//", self.pos):
                end = text.find("\n", self.pos)
                self.pos = n if end == -1 else end + 1
            elif text.startswith("/*", self.pos):
                end = text.find("*/", self.pos + 2)
                if end == -1:
                    raise self.fail("unterminated comment")
                self.pos = end + 2
            else:
                return

    def value(self) -> Node:
        self.skip()
        if self.pos >= len(self.text):
            raise self.fail("unexpected end")
        start, c = self.pos, self.text[self.pos]
        if c == "{":
            return Node(self.obj(), start)
        if c == "[":
            return Node(self.array(), start)
        if c in "\"'":
            return Node(self.string(), start)
        match = _NUMBER.match(self.text, self.pos)
        if match:
            self.pos = match.end()
            return Node(match.group(), start)  # numbers are never credentials; keep the text
        match = _IDENT.match(self.text, self.pos)
        if match and match.group() in ("true", "false", "null"):
            self.pos = match.end()
            return Node({"true": True, "false": False, "null": None}[match.group()], start)
        raise self.fail("unexpected character")

    def string(self) -> str:
        text, quote = self.text, self.text[self.pos]
        self.pos += 1
        out: list[str] = []
        while True:
            end = self.pos
            while end < len(text) and text[end] not in (quote, "\\", "\n"):
                end += 1
            out.append(text[self.pos:end])
            if end >= len(text) or text[end] == "\n":
                self.pos = end
                raise self.fail("unterminated string")
            if text[end] == quote:
                self.pos = end + 1
                return "".join(out)
            esc = text[end + 1:end + 2]
            self.pos = end + 2
            if esc == "u":
                out.append(chr(int(text[self.pos:self.pos + 4], 16)))
                self.pos += 4
            elif esc == "x":
                out.append(chr(int(text[self.pos:self.pos + 2], 16)))
                self.pos += 2
            elif esc == "\r" and text.startswith("\n", self.pos):
                self.pos += 1
            else:
                out.append(_ESCAPES.get(esc, esc))

    def key(self) -> str:
        if self.text[self.pos] in "\"'":
            return self.string()
        match = _IDENT.match(self.text, self.pos)
        if not match:
            raise self.fail("expected a key")
        self.pos = match.end()
        return match.group()

    def obj(self) -> dict[str, Node]:
        self.pos += 1
        out: dict[str, Node] = {}
        while True:
            self.skip()
            if self.text.startswith("}", self.pos):
                self.pos += 1
                return out
            name = self.key()
            self.skip()
            if not self.text.startswith(":", self.pos):
                raise self.fail("expected ':'")
            self.pos += 1
            out[name] = self.value()
            self.skip()
            if self.text.startswith(",", self.pos):
                self.pos += 1
            elif not self.text.startswith("}", self.pos):
                raise self.fail("expected ',' or '}'")

    def array(self) -> list[Node]:
        self.pos += 1
        out: list[Node] = []
        while True:
            self.skip()
            if self.text.startswith("]", self.pos):
                self.pos += 1
                return out
            out.append(self.value())
            self.skip()
            if self.text.startswith(",", self.pos):
                self.pos += 1
            elif not self.text.startswith("]", self.pos):
                raise self.fail("expected ',' or ']'")


def parse_json5(text: str) -> Node:
    """Parse JSON5 (a superset of JSON) into :class:`Node` values with offsets.

    Hand-written rather than a dependency: nothing on PyPI keeps offsets, and
    the findings need line numbers.  Raises :class:`JSON5Error` (whose message
    holds an offset only, never file content).
    """
    reader = _Reader(text)
    node = reader.value()
    reader.skip()
    if reader.pos != len(text):
        raise reader.fail("trailing content")
    return node


def plain(node: Node) -> Any:
    """The plain Python value of a node (for reference tests)."""
    if isinstance(node.value, dict):
        return {k: plain(v) for k, v in node.value.items()}
    if isinstance(node.value, list):
        return [plain(v) for v in node.value]
    return node.value


def _get(node: Node | None, *keys: str) -> Node | None:
    for key in keys:
        if node is None or not isinstance(node.value, dict):
            return None
        node = node.value.get(key)
    return node


# -- OpenClaw's semantics ----------------------------------------------------------------------------

REF_SOURCES = frozenset({"env", "file", "exec", "store"})
_ENV_TEMPLATE = lazy_compile(r"\$\{([A-Z][A-Z0-9_]{0,127})\}|\$([A-Z][A-Z0-9_]{0,127})")
#: Retired env reference markers OpenClaw still reads (and migrates): references, not values.
_LEGACY_ENV_MARKERS = ("secretref-env:", "__env__:")
#: OpenClaw's config redaction sentinel: never a real value.
REDACTED_SENTINEL = "__OPENCLAW_REDACTED__"


class Ref(NamedTuple):
    """A SecretRef: where OpenClaw fetches a credential from."""

    source: str
    provider: str
    id: str


def as_ref(value: Any, defaults: dict[str, Any], legacy: bool = True) -> Ref | None:
    """The SecretRef ``value`` is, as OpenClaw's ``coerceSecretRef`` reads it, or None.

    An object with exactly ``source``/``provider``/``id``; a legacy object
    without ``provider`` (the source's default alias); ``${VAR}`` or ``$VAR``
    with an upper-case name (an env reference through ``secrets.defaults.env``).
    ``legacy=False`` ignores the provider-less form, which OpenClaw reads only
    at credential paths (elsewhere ``{source, id}`` is ordinary data).
    """
    if isinstance(value, dict):
        source, ident = value.get("source"), value.get("id")
        if source not in REF_SOURCES or not isinstance(ident, str) or not ident.strip():
            return None
        provider = value.get("provider")
        if set(value) == {"source", "provider", "id"} and isinstance(provider, str) and provider.strip():
            return Ref(source, provider, ident)
        if legacy and set(value) == {"source", "id"}:
            return Ref(source, str(defaults.get(source) or "default"), ident)
        return None
    if isinstance(value, str):
        match = _ENV_TEMPLATE.fullmatch(value.strip())
        if match:
            return Ref("env", str(defaults.get("env") or "default"), match.group(1) or match.group(2))
    return None


def provider_problem(ref: Ref, providers: dict[str, Any], defaults: dict[str, Any]) -> str | None:
    """Why OpenClaw could not resolve ``ref``'s provider (its ``resolveConfiguredProvider``), or None."""
    declared = providers.get(ref.provider)
    declared_source = declared.get("source") if isinstance(declared, dict) else None
    builtin_default = (ref.source in ("env", "store") and declared_source != ref.source
                       and ref.provider == str(defaults.get(ref.source) or "default"))
    if builtin_default:
        return None
    if declared is None:
        return f"secret provider '{ref.provider}' is not declared in secrets.providers"
    if declared_source != ref.source:
        return (f"secret provider '{ref.provider}' has source '{declared_source}' but the reference "
                f"asks for '{ref.source}'")
    return None


def _surface(*patterns: str) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(p.split(".")) for p in patterns)


#: The SecretRef credential surface of openclaw.json (``*`` is any key), from
#: OpenClaw's generated ``docs/reference/secretref-credential-surface.md``.
#: OpenClaw's audit covers the targets of the plugins installed on the
#: machine; this is every documented one, so SA106 does not depend on them.
CONFIG_TARGETS: tuple[tuple[str, ...], ...] = _surface(
    "agents.entries.*.memory.search.remote.apiKey",
    "agents.entries.*.tts.personas.*.providers.*.apiKey",
    "agents.entries.*.tts.providers.*.apiKey",
    "channels.buzz.accounts.*.authTag", "channels.buzz.accounts.*.privateKey",
    "channels.buzz.authTag", "channels.buzz.privateKey",
    "channels.clickclack.accounts.*.token", "channels.clickclack.token",
    "channels.discord.accounts.*.pluralkit.token", "channels.discord.accounts.*.token",
    "channels.discord.accounts.*.voice.realtime.providers.*.apiKey",
    "channels.discord.accounts.*.voice.tts.personas.*.providers.*.apiKey",
    "channels.discord.accounts.*.voice.tts.providers.*.apiKey",
    "channels.discord.pluralkit.token", "channels.discord.token",
    "channels.discord.voice.realtime.providers.*.apiKey",
    "channels.discord.voice.tts.personas.*.providers.*.apiKey",
    "channels.discord.voice.tts.providers.*.apiKey",
    "channels.feishu.accounts.*.appSecret", "channels.feishu.accounts.*.encryptKey",
    "channels.feishu.accounts.*.verificationToken", "channels.feishu.appSecret",
    "channels.feishu.encryptKey", "channels.feishu.verificationToken",
    "channels.googlechat.accounts.*.serviceAccount", "channels.googlechat.serviceAccount",
    "channels.irc.accounts.*.nickserv.password", "channels.irc.accounts.*.password",
    "channels.irc.nickserv.password", "channels.irc.password",
    "channels.matrix.accessToken", "channels.matrix.accounts.*.accessToken",
    "channels.matrix.accounts.*.password", "channels.matrix.password",
    "channels.mattermost.accounts.*.botToken", "channels.mattermost.botToken",
    "channels.msteams.appPassword",
    "channels.nextcloud-talk.accounts.*.apiPassword", "channels.nextcloud-talk.accounts.*.botSecret",
    "channels.nextcloud-talk.apiPassword", "channels.nextcloud-talk.botSecret",
    "channels.nostr.privateKey",
    "channels.qqbot.accounts.*.clientSecret", "channels.qqbot.clientSecret",
    "channels.slack.accounts.*.appToken", "channels.slack.accounts.*.botToken",
    "channels.slack.accounts.*.relay.authToken", "channels.slack.accounts.*.signingSecret",
    "channels.slack.accounts.*.userToken", "channels.slack.appToken", "channels.slack.botToken",
    "channels.slack.relay.authToken", "channels.slack.signingSecret", "channels.slack.userToken",
    "channels.sms.accounts.*.authToken", "channels.sms.authToken",
    "channels.telegram.accounts.*.botToken", "channels.telegram.accounts.*.webhookSecret",
    "channels.telegram.botToken", "channels.telegram.webhookSecret",
    "channels.zalo.accounts.*.botToken", "channels.zalo.accounts.*.webhookSecret",
    "channels.zalo.botToken", "channels.zalo.webhookSecret",
    "cron.webhookToken",
    "gateway.auth.password", "gateway.auth.token", "gateway.remote.password", "gateway.remote.token",
    "memory.search.remote.apiKey",
    "models.providers.*.apiKey", "models.providers.*.headers.*",
    "models.providers.*.request.auth.token", "models.providers.*.request.auth.value",
    "models.providers.*.request.headers.*",
    "models.providers.*.request.proxy.tls.ca", "models.providers.*.request.proxy.tls.cert",
    "models.providers.*.request.proxy.tls.key", "models.providers.*.request.proxy.tls.passphrase",
    "models.providers.*.request.tls.ca", "models.providers.*.request.tls.cert",
    "models.providers.*.request.tls.key", "models.providers.*.request.tls.passphrase",
    "plugins.entries.acpx.config.mcpServers.*.env.*",
    "plugins.entries.*.config.webSearch.apiKey", "plugins.entries.*.config.webFetch.apiKey",
    "plugins.entries.codex.config.appServer.authToken", "plugins.entries.codex.config.appServer.headers.*",
    "plugins.entries.comfy.config.headers.*",
    "plugins.entries.facetime.config.realtime.providers.*.apiKey",
    "plugins.entries.google-meet.config.realtime.providers.*.apiKey",
    "plugins.entries.google.config.webSearch.headers.*",
    "plugins.entries.imap.config.accounts.*.password",
    "plugins.entries.team-reports.config.discord.token", "plugins.entries.team-reports.config.github.token",
    "plugins.entries.typesafe.config.apiKey",
    "plugins.entries.voice-call.config.realtime.providers.*.apiKey",
    "plugins.entries.voice-call.config.streaming.providers.*.apiKey",
    "plugins.entries.voice-call.config.tts.providers.*.apiKey",
    "plugins.entries.voice-call.config.twilio.authToken",
    "plugins.entries.webhooks.config.routes.*.secret",
    "skills.entries.*.apiKey",
    "talk.providers.*.apiKey", "talk.realtime.providers.*.apiKey",
    "tts.personas.*.providers.*.apiKey", "tts.providers.*.apiKey",
)


def _trie(patterns: tuple[tuple[str, ...], ...]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for pattern in patterns:
        node = root
        for part in pattern:
            node = node.setdefault(part, {})
        node[""] = "/".join(pattern)  # the leaf marker holds the pattern id
    return root


_TARGETS = _trie(CONFIG_TARGETS)


def _merge(wild: dict[str, Any] | None, named: dict[str, Any] | None) -> dict[str, Any] | None:
    """The trie below a key that matches both ``*`` and its own name (deep union)."""
    if wild is None or named is None:
        return named if wild is None else wild
    out = dict(wild)
    for key, sub in named.items():
        out[key] = _merge(out.get(key), sub) if isinstance(sub, dict) else sub
    return out

#: Header names that carry credentials (OpenClaw's ``isLikelySensitiveModelProviderHeaderName``).
_SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "x-api-key", "api-key", "apikey",
                                "x-auth-token", "auth-token", "x-access-token", "access-token",
                                "x-secret-key", "secret-key"})
_SENSITIVE_HEADER_PARTS = ("api-key", "apikey", "token", "secret", "password", "credential")


def is_sensitive_header(name: str) -> bool:
    """Whether a model-provider header name carries a credential (OpenClaw's heuristic)."""
    low = name.strip().lower()
    return low in _SENSITIVE_HEADERS or any(part in low for part in _SENSITIVE_HEADER_PARTS)


#: Values OpenClaw persists in ``apiKey`` that are markers, not keys.
_API_KEY_MARKERS = frozenset({"custom-local", "codex-app-server", "gcp-vertex-credentials", "ollama-local",
                              "secretref-managed", "minimax-oauth"})
_ENV_NAME = lazy_compile(r"[A-Z][A-Z0-9_]*")


def is_api_key_marker(value: str) -> bool:
    """OpenClaw's ``isNonSecretApiKeyMarker``: an env var name, ``oauth:<id>``, a local-auth marker."""
    value = value.strip()
    return (value in _API_KEY_MARKERS or value.startswith(("oauth:", *_LEGACY_ENV_MARKERS))
            or bool(_ENV_NAME.fullmatch(value)))


def is_literal_credential(value: str) -> bool:
    """A real value: not empty, a reference, a placeholder or a documented example."""
    value = value.strip()
    return bool(value) and not (value == REDACTED_SENTINEL or value.startswith(_LEGACY_ENV_MARKERS)
                                or filters.is_reference(value, literal=True) or filters.is_placeholder(value)
                                or filters.is_example_key(value))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# -- findings --------------------------------------------------------------------------------------


class Hit(NamedTuple):
    """One finding before it becomes a detection: where, what, which rule."""

    offset: int
    path: str
    secret: str
    rule: str
    label: str

    def __repr__(self) -> str:  # never show the credential
        return f"Hit({self.rule}, {self.path!r}, offset={self.offset})"


#: Literal prefixes of credential formats that are safe to show (they are not secret).
_VISIBLE_PREFIXES = ("sk-proj-", "sk-svcacct-", "sk-admin-", "sk-ant-api03-", "sk-ant-admin01-", "sk-or-v1-",
                     "github_pat_", "ghp_", "gho_", "ghs_", "ghu_", "xoxb-", "xoxp-", "xapp-", "gsk_", "hf_",
                     "AKIA", "glpat-")


def _prefix(secret: str) -> str:
    return next((p for p in _VISIBLE_PREFIXES if secret.startswith(p)), "")


def _plaintext(offset: int, path: str, secret: str, rule: str, where: str) -> Hit:
    return Hit(offset, path, secret, rule,
               f"Plaintext credential at {path} in {where} (use a secret reference)")


def _config_hits(root: Node, item: FileItem | None = None) -> list[Hit]:
    """Plaintext at credential paths and references to undeclared providers in openclaw.json.

    With ``item`` (the live config), references at credential paths that do
    not resolve as well (:class:`_Resolver`); the item is then marked
    volatile, since that verdict depends on the environment and other files.
    """
    if not isinstance(root.value, dict):
        return []
    secrets = plain(_get(root, "secrets") or Node({}, 0))
    secrets = secrets if isinstance(secrets, dict) else {}
    providers = secrets.get("providers") if isinstance(secrets.get("providers"), dict) else {}
    defaults = secrets.get("defaults") if isinstance(secrets.get("defaults"), dict) else {}
    hits: list[Hit] = []
    resolver = _Resolver(item, root, providers, defaults) if item is not None else None

    def unresolved(node: Node, path: str, ref: Ref, target: str) -> None:
        if resolver is None:
            return
        problem = resolver.problem(ref, target)
        if problem:
            shown = f"{ref.source}:{ref.provider}:{ref.id}"
            hits.append(Hit(node.offset, path, shown, "unresolved-ref",
                            f"config error: {shown} does not resolve here: {problem} (reference at {path})"))

    def walk(node: Node, path: str, targets: dict[str, Any] | None) -> None:
        value = node.value
        target = targets.get("") if targets is not None else None
        if isinstance(value, dict):
            raw = plain(node)
            ref = as_ref(raw, defaults, legacy=target is not None)
            if ref is not None:
                problem = provider_problem(ref, providers, defaults)
                if problem:
                    hits.append(Hit(node.offset, path, f"{ref.source}:{ref.provider}:{ref.id}", "missing-provider",
                                    f"config error: {problem} (reference at {path})"))
                elif target is not None:
                    unresolved(node, path, ref, target)
                return
            if target is not None and isinstance(value.get("private_key"), Node) \
                    and isinstance(value["private_key"].value, str) and is_literal_credential(value["private_key"].value):
                key = value["private_key"]  # an inline Google service account (JSON object)
                hits.append(_plaintext(key.offset, path, key.value, "openclaw-config", "the OpenClaw config"))
                return
            for key, child in value.items():
                sub = None
                if targets is not None:
                    sub = _merge(targets.get("*"), targets.get(key))
                walk(child, _join(path, key), sub)
        elif isinstance(value, list):
            for index, child in enumerate(value):
                walk(child, f"{path}[{index}]", None)
        elif isinstance(value, str) and target is not None:
            ref = as_ref(value, defaults)
            if ref is not None:
                problem = provider_problem(ref, providers, defaults)
                if problem:
                    hits.append(Hit(node.offset, path, f"{ref.source}:{ref.provider}:{ref.id}", "missing-provider",
                                    f"config error: {problem} (reference at {path})"))
                else:
                    unresolved(node, path, ref, target)
                return
            if target == "models/providers/*/apiKey" and is_api_key_marker(value):
                return
            if target == "models/providers/*/headers/*" and (
                    not is_sensitive_header(path.rsplit(".", 1)[-1]) or is_api_key_marker(value)):
                return
            if is_literal_credential(value):
                hits.append(_plaintext(node.offset, path, value, "openclaw-config", "the OpenClaw config"))

    walk(root, "", _TARGETS)
    if resolver is not None and resolver.judged:
        item.volatile = True  # type: ignore[union-attr]  # never answered from the scan cache
    return hits


#: OpenClaw's default ``maxBytes`` of a file secret provider.
FILE_PROVIDER_MAX_BYTES = 1 << 20
#: The most SA106 reads of a provider file, whatever its ``maxBytes`` says (larger: not judged).
READ_AT_MOST = 16 << 20


class _Resolver:
    """Whether the live config's ``env`` and ``file`` references resolve, as OpenClaw's resolver decides.

    Never holds a value longer than one file's check, never puts one in a
    message: the answers are names, paths, JSON pointers and causes.
    """

    def __init__(self, item: FileItem, root: Node, providers: dict[str, Any], defaults: dict[str, Any]) -> None:
        self.providers = providers
        self.defaults = defaults
        self.directory = os.path.dirname(os.path.abspath(item.path))
        in_state_dir = os.path.basename(self.directory) in _STATE_DIRS
        #: what ``~`` is for this config: the home whose state directory holds it, else the user's
        self.home = os.path.dirname(self.directory) if in_state_dir else os.path.expanduser("~")
        env_vars = plain(_get(root, "env", "vars") or Node({}, 0))
        self.config_vars = {k for k, v in env_vars.items() if isinstance(v, str) and v.strip()} \
            if isinstance(env_vars, dict) else set()
        self._dotenv: dict[str, bool] | None = None
        self._payloads: dict[str, Any] = {}
        #: whether any reference was judged (the verdict then depends on more than the file)
        self.judged = False

    def problem(self, ref: Ref, target: str) -> str | None:
        """Why ``ref`` does not resolve, or None (resolves, or cannot be judged here: exec, store)."""
        if ref.source == "env":
            self.judged = True
            return self._env_problem(ref)
        if ref.source == "file":
            self.judged = True
            return self._file_problem(ref, target)
        return None

    # -- env

    def _dotenv_names(self) -> dict[str, bool]:
        """The .env next to the config: name -> whether its value is non-empty."""
        if self._dotenv is None:
            self._dotenv = {}
            try:
                with open(os.path.join(self.directory, ".env"), encoding="utf-8", errors="replace") as handle:
                    text = handle.read(FILE_PROVIDER_MAX_BYTES)
            except OSError:
                return self._dotenv
            for match in _ENV_LINE.finditer(text):
                self._dotenv.setdefault(match.group("key"), bool(_env_value(match.group("value"))[0].strip()))
        return self._dotenv

    def _env_problem(self, ref: Ref) -> str | None:
        declared = self.providers.get(ref.provider)
        allowlist = declared.get("allowlist") if isinstance(declared, dict) and declared.get("source") == "env" \
            else None
        if isinstance(allowlist, list) and ref.id not in allowlist:
            return f"environment variable {ref.id} is not allowlisted in secrets.providers.{ref.provider}.allowlist"
        # OpenClaw's order: the process environment; a .env fills only names it lacks; env.vars fills empty ones
        value = os.environ.get(ref.id)
        present = value is not None
        if present:
            ok = bool(value.strip())  # type: ignore[union-attr]
        else:
            ok = self._dotenv_names().get(ref.id, False)
        if ok or ref.id in self.config_vars:
            return None
        return (f"environment variable {ref.id} is not set or empty (nor in the .env next to the config or its "
                "env.vars); set it where OpenClaw runs")

    # -- file

    def _file_problem(self, ref: Ref, target: str) -> str | None:
        declared = self.providers.get(ref.provider)
        if not isinstance(declared, dict) or not isinstance(declared.get("path"), str):
            return None  # provider_problem said what is wrong with the provider itself
        payload = self._payload(ref.provider, declared)
        if isinstance(payload, _Unjudged):
            return None
        if isinstance(payload, _Unreadable):
            return payload.why
        if declared.get("mode") == "singleValue":
            if ref.id != "value":
                return f"singleValue file provider '{ref.provider}' expects the id 'value'"
            return None if payload.strip() else f"{declared['path']} is empty"
        found = _json_pointer(payload, ref.id)
        if found is _MISSING:
            return f"JSON pointer {ref.id} does not exist in {declared['path']}"
        if isinstance(found, str) and found.strip():
            return None
        if isinstance(found, dict) and target.endswith("serviceAccount"):
            return None
        return f"JSON pointer {ref.id} in {declared['path']} is not a non-empty string"

    def _payload(self, name: str, declared: dict[str, Any]) -> Any:
        if name not in self._payloads:
            self._payloads[name] = self._read(declared)
        return self._payloads[name]

    def _read(self, declared: dict[str, Any]) -> Any:
        """The provider file's content (text for singleValue, a dict for json) or why it cannot be used."""
        import json
        import stat

        shown = declared["path"]
        raw = shown.strip()
        if raw == "~" or raw.startswith("~/"):
            raw = self.home + raw[1:]
        if not os.path.isabs(raw):
            return _Unreadable(f"{shown} is not an absolute path")
        try:
            info = os.lstat(raw)
        except OSError:
            return _Unreadable(f"{shown} is not readable (no such file)")
        if stat.S_ISLNK(info.st_mode):
            return _Unreadable(f"{shown} is a symlink, which OpenClaw refuses")
        if not stat.S_ISREG(info.st_mode):
            return _Unreadable(f"{shown} is not a regular file")
        if info.st_mode & 0o066:
            return _Unreadable(f"{shown} is readable by others (mode {stat.S_IMODE(info.st_mode):o}); chmod 600 it")
        if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
            return _Unreadable(f"{shown} is not owned by the user running the scan")
        limit = declared.get("maxBytes")
        limit = limit if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0 else FILE_PROVIDER_MAX_BYTES
        if info.st_size > limit:
            return _Unreadable(f"{shown} is larger than its maxBytes ({limit})")
        if info.st_size > READ_AT_MOST:
            return _Unjudged()  # a hostile config's maxBytes must not make the scan read gigabytes
        try:
            with open(raw, "rb") as handle:
                text = handle.read(limit + 1).decode("utf-8", errors="replace").removeprefix("\ufeff")
        except OSError:
            return _Unreadable(f"{shown} is not readable")
        if declared.get("mode") == "singleValue":
            return text[:-1] if text.endswith("\n") else text
        try:
            data = json.loads(text)
        except ValueError:
            return _Unreadable(f"{shown} is not JSON")
        return data if isinstance(data, dict) else _Unreadable(f"{shown} does not hold a JSON object")


class _Unreadable(NamedTuple):
    """Why a file provider's file cannot be used (a message; never its content)."""

    why: str


class _Unjudged:
    """A provider file SA106 does not read (larger than :data:`READ_AT_MOST`): its references pass unjudged."""


_MISSING = object()


def _json_pointer(document: Any, pointer: str) -> Any:
    """RFC 6901: the value ``pointer`` names in ``document``, or :data:`_MISSING`."""
    if not pointer.startswith("/"):
        return _MISSING
    node = document
    for part in pointer[1:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
    return node


def _object_members(root: Node, name: str) -> Iterator[tuple[str, Node]]:
    """``(key, node)`` of the object members of ``root[name]`` (nothing when it is not an object)."""
    table = _get(root, name)
    if table is None or not isinstance(table.value, dict):
        return
    for key, node in table.value.items():
        if isinstance(node.value, dict):
            yield key, node


def _auth_profile_hits(root: Node) -> list[Hit]:
    """``api_key``/``token`` profiles holding ``key``/``token`` literally (OpenClaw's auth store scan)."""
    hits = []
    for profile_id, profile in _object_members(root, "profiles"):
        kind = _get(profile, "type")
        field = {"api_key": "key", "token": "token"}.get(kind.value if kind else None)  # type: ignore[arg-type]
        value = _get(profile, field) if field else None
        if value is None or not isinstance(value.value, str) or as_ref(value.value, {}) is not None:
            continue
        if is_literal_credential(value.value):
            hits.append(_plaintext(value.offset, f"profiles.{profile_id}.{field}", value.value,
                                   "openclaw-auth-profile", "an OpenClaw auth profile store"))
    return hits


def _models_hits(root: Node) -> list[Hit]:
    """Generated models.json: ``providers.*.apiKey`` and credential headers (OpenClaw's models scan)."""
    hits = []
    for provider_id, provider in _object_members(root, "providers"):
        key = _get(provider, "apiKey")
        if key is not None and isinstance(key.value, str) and not is_api_key_marker(key.value) \
                and as_ref(key.value, {}) is None and is_literal_credential(key.value):
            hits.append(_plaintext(key.offset, f"providers.{provider_id}.apiKey", key.value, "openclaw-models",
                                   "OpenClaw's generated models.json"))
        headers = _get(provider, "headers")
        for name, header in (headers.value.items() if headers and isinstance(headers.value, dict) else ()):
            if isinstance(header.value, str) and is_sensitive_header(name) and not is_api_key_marker(header.value) \
                    and is_literal_credential(header.value):
                hits.append(_plaintext(header.offset, f"providers.{provider_id}.headers.{name}", header.value,
                                       "openclaw-models", "OpenClaw's generated models.json"))
    return hits


#: Provider credential variables OpenClaw's audit knows (``listKnownSecretEnvVarNames``, 2026.9.6
#: with its bundled plugins); names with a credential suffix are taken as well (its store's rule).
OPENCLAW_ENV_NAMES: frozenset[str] = frozenset({
    "GH_TOKEN", "GITHUB_TOKEN", "MODELSTUDIO_API_KEY", "DASHSCOPE_API_KEY", "QWEN_API_KEY",
    "ANTHROPIC_OAUTH_TOKEN", "ANTHROPIC_API_KEY", "AZURE_SPEECH_KEY", "AZURE_SPEECH_API_KEY", "SPEECH_KEY",
    "CLAWROUTER_API_KEY", "DEEPGRAM_API_KEY", "ELEVENLABS_API_KEY", "XI_API_KEY", "FAL_KEY", "FAL_API_KEY",
    "COPILOT_GITHUB_TOKEN", "GOOGLE_CLOUD_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY",
    "HUGGINGFACE_HUB_TOKEN", "HF_TOKEN", "LITELLM_API_KEY", "LM_API_TOKEN", "AZURE_OPENAI_API_KEY",
    "MINIMAX_API_KEY", "MINIMAX_OAUTH_TOKEN", "NVIDIA_API_KEY", "OLLAMA_API_KEY", "CODEX_API_KEY",
    "OPENAI_API_KEY", "OPENCODE_API_KEY", "OPENCODE_ZEN_API_KEY", "OPENROUTER_API_KEY", "RUNWAYML_API_SECRET",
    "RUNWAY_API_KEY", "SENSEAUDIO_API_KEY", "SGLANG_API_KEY", "TOGETHER_API_KEY", "VLLM_API_KEY",
    "XAI_API_KEY", "MINIMAX_CODE_PLAN_KEY", "MINIMAX_CODING_API_KEY", "VOYAGE_API_KEY", "CEREBRAS_API_KEY",
    "ANTHROPIC_ADMIN_KEY", "ANTHROPIC_ADMIN_API_KEY", "OPENAI_ADMIN_KEY",
})
_CREDENTIAL_SUFFIXES = ("_API_KEY", "_TOKEN", "_SECRET", "_PASSWORD", "_PRIVATE_KEY")
_ENV_LINE = lazy_compile(r"^[ \t]*(?:export[ \t]+)?(?P<key>[A-Za-z_][A-Za-z0-9_]*)[ \t]*=[ \t]*"
                         r"(?P<value>(?:[^\n]*[^ \t\r\n])?)[ \t\r]*$",
                         re.MULTILINE)


def _env_value(raw: str) -> tuple[str, int]:
    """A dotenv value without quotes or a trailing comment, and its offset in ``raw``."""
    if raw[:1] in ("'", '"'):
        end = raw.find(raw[0], 1)
        return (raw[1:end] if end != -1 else raw[1:]), 1
    return re.split(r"(?<!\s)\s+#", raw, maxsplit=1)[0].strip(), 0  # (?<!\s): not again from every blank


def _env_hits(text: str) -> list[Hit]:
    """Provider credentials in the state directory's .env, as ``$env.NAME`` (OpenClaw's .env scan)."""
    hits = []
    for match in _ENV_LINE.finditer(text):
        key = match.group("key")
        if key not in OPENCLAW_ENV_NAMES and not key.upper().endswith(_CREDENTIAL_SUFFIXES):
            continue
        value, shift = _env_value(match.group("value"))
        if is_literal_credential(value):
            hits.append(_plaintext(match.start("value") + shift, f"$env.{key}", value, "openclaw-env",
                                   "the OpenClaw state directory's .env"))
    return hits


# -- YAML files: openclaw.yaml, workflows, compose ------------------------------------------------------


def _yaml_root(text: str) -> Any:
    """The composed YAML node tree (keeps line and column marks), or None if it is not YAML.

    An alias bomb raises :class:`~secretaudit.safeyaml.YAMLBomb`: the engine
    skips the file as an error rather than walk it for ever.
    """
    import yaml

    from secretaudit import safeyaml

    try:
        return safeyaml.compose(text)
    except yaml.YAMLError:
        return None


def _yaml_items(node: Any) -> Iterator[tuple[str, Any, Any]]:
    """(key, key node, value node) of a YAML mapping node."""
    import yaml

    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                yield str(key.value), key, value


def _offset(item: FileItem, mark: Any) -> int:
    item.line_of(0)
    assert item._line_starts is not None
    return item._line_starts[mark.line] + mark.column


def _yaml_scalar_hit(item: FileItem, key: str, node: Any, path: str, rule: str, where: str) -> Hit | None:
    """A literal credential assigned to a secret-named key, or None."""
    import yaml

    if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:str" or not is_credential_name(key):
        return None
    value = str(node.value)
    if not is_literal_credential(value):
        return None
    return _plaintext(_offset(item, node.start_mark), path, value, rule, where)


def _walk_secret_keys(item: FileItem, node: Any, path: str, rule: str, where: str) -> list[Hit]:
    """Every secret-named key with a literal value under ``node`` (openclaw.yaml)."""
    import yaml

    hits: list[Hit] = []
    if isinstance(node, yaml.SequenceNode):
        for index, child in enumerate(node.value):
            hits += _walk_secret_keys(item, child, f"{path}[{index}]", rule, where)
    for key, _, value in _yaml_items(node):
        hit = _yaml_scalar_hit(item, key, value, _join(path, key), rule, where)
        if hit is not None:
            hits.append(hit)
        else:
            hits += _walk_secret_keys(item, value, _join(path, key), rule, where)
    return hits


def _openclaw_yaml_hits(item: FileItem) -> list[Hit]:
    root = _yaml_root(item.text)
    return _walk_secret_keys(item, root, "", "openclaw-yaml", "openclaw.yaml") if root is not None else []


def _env_block(item: FileItem, node: Any, path: str, rule: str, where: str) -> list[Hit]:
    """An ``env``/``with``/``environment`` block, as a mapping or a ``KEY=value`` list."""
    import yaml

    hits = []
    for key, _, value in _yaml_items(node):
        hit = _yaml_scalar_hit(item, key, value, _join(path, key), rule, where)
        if hit is not None:
            hits.append(hit)
    if isinstance(node, yaml.SequenceNode):
        for entry in node.value:
            if isinstance(entry, yaml.ScalarNode) and "=" in str(entry.value):
                key, _, value = str(entry.value).partition("=")
                if _yaml_secret_assignment(key.strip(), value):
                    start = _offset(item, entry.start_mark)
                    found = item.text.find(value, start)
                    hits.append(_plaintext(found if found != -1 else start, _join(path, key.strip()),
                                           value, rule, where))
    return hits


def is_credential_name(key: str) -> bool:
    """Whether a deploy-file key names a credential.

    SA102's :func:`secretaudit.checks.generic.is_secret_name`, widened with OpenClaw's own
    rule for secret-kind names (``*_API_KEY``, ``*_TOKEN``, ``*_SECRET``,
    ``*_PASSWORD``, ``*_PRIVATE_KEY``): in an ``env`` block every name is a
    variable meant for a program, and ``GATEWAY_TOKEN`` is a token.
    """
    from secretaudit.checks import generic

    if generic.is_secret_name(key):
        return True
    normalized = "_" + generic.normalize_name(key).upper()
    return normalized.endswith(_CREDENTIAL_SUFFIXES)


def _yaml_secret_assignment(key: str, value: str) -> bool:
    return is_credential_name(key) and is_literal_credential(value)


def _workflow_hits(item: FileItem) -> list[Hit]:
    """GitHub Actions: ``env`` (workflow, job, step) and step ``with`` values outside ``${{ }}``."""
    import yaml

    root = _yaml_root(item.text)
    hits: list[Hit] = []
    where = "a GitHub Actions workflow"
    top = dict((k, v) for k, _, v in _yaml_items(root))
    if "env" in top:
        hits += _env_block(item, top["env"], "env", "workflow", where)
    for job_id, _, job in _yaml_items(top.get("jobs")):
        job_items = dict((k, v) for k, _, v in _yaml_items(job))
        for block in ("env", "with", "secrets"):
            if block in job_items:
                hits += _env_block(item, job_items[block], f"jobs.{job_id}.{block}", "workflow", where)
        container = dict((k, v) for k, _, v in _yaml_items(job_items.get("container")))
        if "env" in container:
            hits += _env_block(item, container["env"], f"jobs.{job_id}.container.env", "workflow", where)
        steps = job_items.get("steps")
        for index, step in enumerate(steps.value if isinstance(steps, yaml.SequenceNode) else ()):
            for key, _, value in _yaml_items(step):
                if key in ("env", "with"):
                    hits += _env_block(item, value, f"jobs.{job_id}.steps[{index}].{key}", "workflow", where)
    return hits


def _compose_hits(item: FileItem) -> list[Hit]:
    """Compose files: ``services.*.environment`` values that are not ``${VAR}`` interpolations."""
    root = _yaml_root(item.text)
    hits: list[Hit] = []
    services = dict((k, v) for k, _, v in _yaml_items(root)).get("services")
    for name, _, service in _yaml_items(services):
        for key, _, value in _yaml_items(service):
            if key == "environment":
                hits += _env_block(item, value, f"services.{name}.environment", "compose", "a compose file")
    return hits


# -- file kinds ------------------------------------------------------------------------------------


def _json5_kind(find: Callable[[Node], list[Hit]]) -> Callable[[FileItem], list[Hit]]:
    def run(item: FileItem) -> list[Hit]:
        try:
            root = parse_json5(item.text)
        except (JSON5Error, ValueError, RecursionError):
            return []  # not (or no longer) JSON5: the text checks still scan it
        return find(root)
    return run


OPENCLAW_CONFIG = _json5_kind(_config_hits)


def LIVE_OPENCLAW_CONFIG(item: FileItem) -> list[Hit]:  # noqa: N802 - a kind, like the others
    """The config OpenClaw loads: :data:`OPENCLAW_CONFIG`, and references that do not resolve."""
    try:
        root = parse_json5(item.text)
    except (JSON5Error, ValueError, RecursionError):
        return []
    return _config_hits(root, item)
AUTH_PROFILES = _json5_kind(_auth_profile_hits)
MODELS_JSON = _json5_kind(_models_hits)


def OPENCLAW_ENV(item: FileItem) -> list[Hit]:  # noqa: N802 - a kind, like the others
    return _env_hits(item.text)


BY_NAME: dict[str, Callable[[FileItem], list[Hit]]] = {
    "openclaw.json": OPENCLAW_CONFIG,
    "clawdbot.json": OPENCLAW_CONFIG,
    "auth-profiles.json": AUTH_PROFILES,
    "models.json": MODELS_JSON,
    ".env": OPENCLAW_ENV,
    "openclaw.yaml": _openclaw_yaml_hits,
    "openclaw.yml": _openclaw_yaml_hits,
}
_STATE_DIRS = frozenset({".openclaw", ".clawdbot"})
_CONFIG_BACKUPS = ("openclaw.json.bak", "clawdbot.json.bak")


def _parent(item: FileItem) -> str:
    path = item.relpath if "/" in item.relpath else item.path.replace("\\", "/")
    parts = path.rsplit("/", 2)
    return parts[-2] if len(parts) >= 2 else ""


def kind_for(item: FileItem, config_path: str | None = None) -> Callable[[FileItem], list[Hit]] | None:
    """How to read ``item`` for SA106, from its name (and ``OPENCLAW_CONFIG_PATH``), or None.

    ``models.json`` counts only in an agent directory (``.../agent/models.json``)
    and ``.env`` only in an OpenClaw state directory or next to an OpenClaw
    config: elsewhere they are somebody else's files.
    """
    name = item.name
    kind = BY_NAME.get(name)
    if kind is not None:
        if kind is MODELS_JSON and _parent(item) != "agent":
            kind = None
        elif kind is OPENCLAW_ENV and not _openclaw_env(item, config_path):
            kind = None
        if kind is not None:
            return kind
    elif name.startswith(_CONFIG_BACKUPS):
        return OPENCLAW_CONFIG
    elif name.startswith("auth-profiles.json.") and (".migrated-" in name or name.endswith(".bak")):
        return AUTH_PROFILES
    elif name.endswith((".yml", ".yaml")):
        if _in_workflows_dir(item.relpath) or _in_workflows_dir(item.path):
            return _workflow_hits
        if name.startswith(("docker-compose", "compose")):
            return _compose_hits
    if config_path is not None and os.path.abspath(item.path) == config_path:
        return OPENCLAW_CONFIG
    return None


def _in_workflows_dir(path: str) -> bool:
    """Whether ``path`` is a file directly in a ``.github/workflows`` directory."""
    path = "/" + path.replace("\\", "/")
    at = path.rfind("/.github/workflows/")
    return at != -1 and path.rfind("/") == at + len("/.github/workflows")


def _openclaw_env(item: FileItem, config_path: str | None) -> bool:
    """Whether a ``.env`` is one OpenClaw loads: in its state dir or next to its config."""
    if _parent(item) in _STATE_DIRS:
        return True
    directory = os.path.dirname(os.path.abspath(item.path))
    if config_path is not None and os.path.dirname(config_path) == directory:
        return True
    return os.path.exists(os.path.join(directory, "openclaw.json"))


def _hits(item: FileItem, config: "Config") -> list[Hit]:
    config_path = config.stash.get(CONFIG_PATH_KEY)
    kind = kind_for(item, config_path)
    if kind is OPENCLAW_CONFIG and _live_config(item, config_path):
        return LIVE_OPENCLAW_CONFIG(item)
    return kind(item) if kind is not None else []


def _live_config(item: FileItem, config_path: str | None) -> bool:
    """The config OpenClaw loads (a state directory's openclaw.json, or OPENCLAW_CONFIG_PATH), not a backup."""
    if config_path is not None and os.path.abspath(item.path) == config_path:
        return True
    return item.name in ("openclaw.json", "clawdbot.json") and _parent(item) in _STATE_DIRS


#: Rules whose "secret" is a reference (``env:default:NAME``), not a value another check could report.
_REFERENCE_RULES = ("missing-provider", "unresolved-ref")


def claimed_secrets(item: FileItem, config: "Config") -> frozenset[str]:
    """The values SA106 reports in ``item`` (for other checks that should not repeat them)."""
    return frozenset(hit.secret for hit in _hits(item, config) if hit.rule not in _REFERENCE_RULES)


@hookimpl
def secretaudit_claimed_values(item: FileItem, config: "Config", check_ids: frozenset[str]) -> dict[str, frozenset[str]] | None:
    """SA106's claim (:func:`claimed_secrets`), asked by the engine's :mod:`secretaudit.claims`."""
    return {CHECK_ID: claimed_secrets(item, config)} if CHECK_ID in check_ids else None


# -- hooks ------------------------------------------------------------------------------------------


@hookimpl
def secretaudit_register_checks(registry: "CheckRegistry") -> None:
    """Register SA106."""
    registry.add(SPEC)


@hookimpl
def secretaudit_configure(config: "Config") -> None:
    """Remember ``OPENCLAW_CONFIG_PATH`` (absolute) for this run.

    The file it names is an OpenClaw config whatever its name.  The value is
    also put in the SA106 check settings, which the result cache hashes, so a
    cached verdict on that file is not reused once the variable changes.
    """
    override = os.environ.get("OPENCLAW_CONFIG_PATH", "").strip()
    if not override:
        return
    path = os.path.abspath(os.path.expanduser(override))
    config.stash[CONFIG_PATH_KEY] = path
    checks = config.settings.get("checks")
    if isinstance(checks, dict):
        options = checks.get(CHECK_ID)
        checks[CHECK_ID] = {**(options if isinstance(options, dict) else {}), "openclaw_config_path": path}


def _detection(item: FileItem, hit: Hit) -> Detection:
    return Detection(check_id=CHECK_ID, line=item.line_of(hit.offset), secret=hit.secret, label=hit.label,
                     visible_prefix=_prefix(hit.secret) if hit.rule not in _REFERENCE_RULES else "", rule=hit.rule)


@hookimpl
def secretaudit_scan_file(item: FileItem, config: "Config") -> list[Detection] | None:
    """One detection per plaintext credential (at its JSON path) and per undeclared provider."""
    if not config.is_enabled(CHECK_ID):
        return None
    hits = _hits(item, config)
    return [_detection(item, hit) for hit in hits] or None
