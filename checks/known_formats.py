"""SA101: credentials in a known, recognisable format.

Most leaked credentials are issued by a provider that stamps them with a
fixed shape: a literal prefix (``ghp_``, ``AKIA``, ``xoxb-``), a fixed length
and charset, sometimes a checksum.  Matching that shape exactly is far more
precise than entropy guessing, so this check knows a table of such formats
(:data:`RULES`) and reports every value that fits one.

Two passes keep it fast without changing what it finds:

* a **prefilter**: one compiled alternation of every rule's distinctive
  literals (its *tokens*) is searched over the whole file.  Most files contain
  none and cost one C-level scan.  Each alternative is anchored on one
  character of its token (the rest is checked forward and with a
  look-behind), and the anchor characters are chosen to be as rare in source
  code as possible, so the regex engine seldom stops;
* the **detailed pass** runs only the rules whose tokens were seen, and only
  on the lines where they were seen.

Every rule guarantees that each of its matches lies on a line containing one
of its tokens (a match contains a token, or a context keyword is required on
the match's line), so the detailed pass over the hit lines finds exactly what
it finds over the whole file: ``config.prefilter`` on and off give identical
detections.  Matches never span lines, except private key blocks, whose
windows are extended to their ``-----END`` line.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
import re
import re._parser as _re_parser  # pattern widths (stable since 3.11)
import string
import zlib
from functools import lru_cache
from typing import Callable, Iterable, NamedTuple, TYPE_CHECKING
from urllib.parse import unquote

from secretaudit.controls import HARDCODED_CREDENTIALS
from secretaudit.checks.lazyre import LazyPattern, lazy_compile
from secretaudit import multiscan, patterns
from secretaudit.multiscan import PatternSet
from secretaudit.hookspec import hookimpl
from secretaudit.model import CheckSpec, Detection, FileItem, Severity

if TYPE_CHECKING:
    from secretaudit.config import Config
    from secretaudit.registry import CheckRegistry

CHECK_ID = "SA101"

SPEC = CheckSpec(
    id=CHECK_ID,
    title="Known-format credential committed to the repository",
    severity=Severity.CRITICAL,
    description=(
        "A value with the exact shape of a provider-issued credential (AWS access key, "
        "GitHub or GitLab token, Slack, Stripe, OpenAI, private key block, ...) is "
        "present in a tracked file.  Anyone with read access to the repository or "
        "its history can use it."
    ),
    remediation=(
        "Treat the credential as compromised: rotate or revoke it at the provider first, "
        "then move the new one to a secrets manager (HashiCorp Vault, AWS Secrets Manager) "
        "and read it at run time (environment or SDK), never from source.  Removing the "
        "line does not help on its own: the value stays in the git history."
    ),
    tags=("hardcoded", "credentials"),
    controls=HARDCODED_CREDENTIALS,
)


# --- rule table --------------------------------------------------------------


class Token(NamedTuple):
    """A prefilter token: a literal, optionally followed by a regex ``tail``.

    The tail (e.g. ``[A-Za-z]{8}`` after ``hf_``) is only checked where the
    literal already matched, so it costs nothing on ordinary text but cuts
    the false hits of short literals.
    """

    literal: str
    tail: str = ""


class Rule(NamedTuple):
    """One credential format.

    ``regex`` matches the credential; a named group ``secret`` narrows the
    reported value (``AccountKey=<secret>``) and a named group ``prefix``
    gives the visible prefix when it varies (``sk_test_`` / ``rk_test_``).
    ``tokens`` are the prefilter literals, one of which every match contains.
    A ``context`` rule also needs one of its keyword phrases on the match's
    line (outside the match); when its matches carry no literal of their
    own, the exact spellings of the phrases become its tokens instead.
    ``validate`` checks structure a regex cannot (checksums, embedded JSON).
    ``multiline`` rules (private key blocks) may span lines.  ``structured``
    bodies (private keys, JWTs, macaroons) legitimately contain runs like
    ``AAAAAAAA`` and skip the repeated-character placeholder test.
    ``priority`` decides which of two overlapping matches is kept: exact
    formats beat generic ones.
    """

    slug: str
    label: str
    regex: LazyPattern  # compiled on first use: most rules never run in a given scan
    prefix: str = ""
    tokens: tuple[Token, ...] = ()
    context: tuple[str, ...] = ()
    validate: Callable[[str], bool] | None = None
    multiline: bool = False
    structured: bool = False
    priority: int = 2
    context_regex: LazyPattern | None = None


# Boundaries: a credential is never glued to more credential-ish characters.
_L = r"(?<![A-Za-z0-9_])"  # nothing word-like before
_E = r"(?![A-Za-z0-9_])"  # nothing word-like after (alphanumeric bodies)
_ED = r"(?![A-Za-z0-9_-])"  # ... nor a dash (bodies that may contain '-')
_EB = r"(?![A-Za-z0-9+/=])"  # base64 bodies


def _spellings(*phrases: str) -> tuple[str, ...]:
    """The ways code spells a phrase: ``aws_secret``, ``AWS_SECRET``, ``awsSecret``...

    Context keywords are matched case-sensitively (so they can be prefilter
    literals), hence every common spelling is listed explicitly.
    """
    forms: list[str] = []
    for phrase in phrases:
        words = phrase.split()
        candidates = [
            "_".join(words),
            "_".join(words).upper(),
            words[0] + "".join(w.title() for w in words[1:]),
            "".join(w.title() for w in words),
            "-".join(words),
            " ".join(words),
        ]
        for form in candidates:
            if form not in forms:
                forms.append(form)
    return tuple(forms)


def _rule(
    slug: str,
    label: str,
    pattern: str,
    *,
    prefix: str = "",
    tokens: Iterable[str | Token] = (),
    context: tuple[str, ...] = (),
    validate: Callable[[str], bool] | None = None,
    multiline: bool = False,
    structured: bool = False,
    priority: int | None = None,
) -> Rule:
    """Build a :class:`Rule`; tokens default to the prefix, or the context keywords."""
    toks = tuple(t if isinstance(t, Token) else Token(t) for t in tokens)
    context_regex = None
    if context and toks:
        # The match carries its own token, so the prefilter never depends on
        # the keyword: the keyword test can be lenient (any case, separator).
        context_regex = lazy_compile(
            "|".join(r"[_\-. ]?".join(map(re.escape, phrase.split())) for phrase in context), re.IGNORECASE)
    elif context:
        # The keyword is what the prefilter looks for, so exactly the same
        # spellings must be required here, or the two modes would differ.
        spellings = _spellings(*context)
        toks = tuple(Token(k) for k in spellings)
        context_regex = lazy_compile("|".join(map(re.escape, spellings)))
    elif not toks:
        toks = (Token(prefix),)
    assert all(t.literal for t in toks), f"{slug}: a rule needs prefilter tokens"
    return Rule(
        slug=slug,
        label=label,
        regex=lazy_compile(_literal_first(pattern), re.ASCII),
        prefix=prefix,
        tokens=toks,
        context=context,
        validate=validate,
        multiline=multiline,
        structured=structured,
        priority=(0 if context else 2) if priority is None else priority,
        context_regex=context_regex,
    )


# --- validators (structure a regex cannot express) ----------------------------

_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


def github_checksum(random_part: str) -> str:
    """The 6-character checksum GitHub appends to its classic tokens.

    CRC32 of the 30 random characters, base62-encoded and left-padded with
    ``0``.  Checking it drops look-alikes and hand-made placeholders that a
    charset test would accept.
    """
    value = zlib.crc32(random_part.encode("ascii"))
    digits = ""
    while value:
        value, rem = divmod(value, 62)
        digits = _BASE62[rem] + digits
    return digits.rjust(6, "0")


def github_checksum_ok(token: str) -> bool:
    """True when a ``gh?_`` token's last 6 characters are the checksum of the 30 before."""
    body = token.partition("_")[2]
    return len(body) == 36 and github_checksum(body[:30]) == body[30:]


_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _bech32_polymod(values: Iterable[int]) -> int:
    generators = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i, gen in enumerate(generators):
            if (top >> i) & 1:
                chk ^= gen
    return chk


def bech32_ok(text: str) -> bool:
    """Verify a Bech32 string's checksum (age secret keys are Bech32)."""
    text = text.lower()
    hrp, sep, data = text.rpartition("1")
    if not sep or any(c not in _BECH32 for c in data):
        return False
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    return _bech32_polymod(expanded + [_BECH32.index(c) for c in data]) == 1


def _b64decode(segment: str, urlsafe: bool = True) -> bytes | None:
    try:
        padded = segment.rstrip("=") + "=" * (-len(segment.rstrip("=")) % 4)
        if urlsafe:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None


def _b64json(segment: str, urlsafe: bool = True) -> dict | None:
    raw = _b64decode(segment, urlsafe)
    if raw is None:
        return None
    try:
        obj = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return obj if isinstance(obj, dict) else None


def _jwt_ok(token: str) -> bool:
    """A JWT's header must decode to a JSON object naming its ``alg``."""
    header = _b64json(token.split(".", 1)[0])
    return header is not None and isinstance(header.get("alg"), str)


def _mapbox_ok(token: str) -> bool:
    payload = _b64json(token.split(".")[1])
    return payload is not None and "u" in payload


def _sentry_ok(token: str) -> bool:
    payload = token[len("sntrys_"):].rsplit("_", 1)[0]
    obj = _b64json(payload, urlsafe=False)
    return obj is not None and "iat" in obj


def _discord_ok(token: str) -> bool:
    """The first segment of a Discord bot token is the base64 of the bot's numeric id."""
    raw = _b64decode(token.split(".", 1)[0])
    return raw is not None and 17 <= len(raw) <= 20 and raw.isdigit()


def _azure_sig_ok(sig: str) -> bool:
    """A SAS ``sig`` is a URL-encoded base64 HMAC-SHA256: 32 bytes."""
    raw = _b64decode(unquote(sig), urlsafe=False)
    return raw is not None and len(raw) == 32


def _mixed(value: str) -> bool:
    """Upper and lower case letters and a digit or symbol: random, not an identifier."""
    return (
        any(c.isupper() for c in value)
        and any(c.islower() for c in value)
        and any(not c.isalpha() for c in value)
    )


def _mixed_case(value: str) -> bool:
    return any(c.isupper() for c in value) and any(c.islower() for c in value)


_PEM_MARKER = lazy_compile(r"-----(?:BEGIN|END) [A-Z ]+-----")
_PEM_HEADER = lazy_compile(r"^[ \t]*[A-Za-z][A-Za-z0-9-]*:.*$", re.MULTILINE)


def _private_key_ok(block: str) -> bool:
    """Enough varied base64 after the markers: not ``...`` or ``<redacted>``."""
    body = _PEM_HEADER.sub("", _PEM_MARKER.sub("", block.replace("\\n", "\n").replace("\\r", "")))
    b64 = [c for c in body if c.isalnum() or c in "+/"]
    return len(b64) >= 16 and len(set(b64)) >= 10


# --- placeholders ---------------------------------------------------------------

_FAKE_WORDS = lazy_compile(
    r"example|placeholder|replace_?me|change_?me|redacted|your_?(?:api_?)?(?:key|token|secret)"
    r"|not_?a_?real|0123456789|123456789|abcdefghij",
    re.IGNORECASE,
)
_RUN = lazy_compile(r"(.)\1{7}")


def looks_fake(body: str, structured: bool = False) -> bool:
    """Documentation examples and hand-written placeholders, not real credentials.

    ``AKIAIOSFODNN7EXAMPLE``, ``ghp_xxxxxxxx...``, ``sk_live_0000...``: random
    bodies essentially never contain a dictionary word of seven letters, a
    counting sequence or a run of eight identical characters.
    """
    if len(set(body)) < 4 or _FAKE_WORDS.search(body):
        return True
    return not structured and _RUN.search(body) is not None


# --- the formats ------------------------------------------------------------------

_HEX = "[0-9a-f]"
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

# Private key blocks: header, base64 lines (or RFC 1421 headers such as
# ``Proc-Type:``), footer.  Lines end in a real newline or an escaped ``\n``
# (JSON, e.g. GCP service account files).  A body can never contain ``-----``,
# which is what makes "extend the window to the first -----END" exact.  When
# the block is broken up (string concatenation in code), the header plus its
# first body line is reported instead.
_PEM_SEP = r"(?:\r?\n|\\r\\n|\\n)"
# Written so that every line can be matched in one way only: no backtracking
# blow-up on a long header with no footer.
_PEM_LINE = r"[ \t]*(?:[A-Za-z0-9+/=]+[ \t]*|[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*:(?:[^\r\n\\-]|-(?!-))*)?"
_PEM_JOIN = r"""(?:\\r)?(?:\\n)?["']?[ \t]*\+?[ \t]*\\?\r?\n?[ \t]*["']?"""


def _pem(kind: str) -> str:
    begin, end = f"-----BEGIN {kind}-----", f"-----END {kind}-----"
    return (
        f"(?P<prefix>{re.escape(begin)})"
        f"(?:{_PEM_SEP}(?:{_PEM_LINE}{_PEM_SEP})*[ \\t]*{re.escape(end)}"
        # not "MIIEow...fvY4": documentation elides the body with dots
        f"|{_PEM_JOIN}(?:[A-Za-z0-9+/=]{{16,}}(?![A-Za-z0-9+/=.]|\u2026)"
        f"|[A-Za-z][A-Za-z0-9-]*:[ \\t][^\\n\"'\\\\]{{1,100}}))"
    )


def _private_key(slug: str, label: str, kind: str) -> Rule:
    return _rule(
        slug, label, _pem(kind), prefix=f"-----BEGIN {kind}-----",
        tokens=(f"-----BEGIN {kind}-----",), validate=_private_key_ok,
        multiline=True, structured=True,
    )


def _github(slug: str, label: str, prefix: str) -> Rule:
    return _rule(slug, label, rf"{_L}{prefix}[A-Za-z0-9]{{36}}{_E}", prefix=prefix,
                 validate=github_checksum_ok)


def _simple(slug: str, label: str, prefix: str, body: str, end: str = _E, **kw) -> Rule:
    """A literal prefix followed by a fixed-shape body: the common case."""
    return _rule(slug, label, rf"{_L}{re.escape(prefix)}{body}{end}", prefix=prefix, **kw)


_LITERAL_RUN = lazy_compile(r"(?:[A-Za-z0-9_\-]|\\[^A-Za-z0-9])+")


def _literal_first(pattern: str) -> str:
    """Move a leading ``_L`` boundary behind the literal that follows it (even in a group).

    ``(?<![A-Za-z0-9_])ghp_...`` and ``ghp_(?<![A-Za-z0-9_]ghp_)...`` match the
    same strings, but only the second starts with a literal, which lets ``re``
    jump between its occurrences when a rule runs over a whole file.
    """
    if not pattern.startswith(_L):
        return pattern
    rest = pattern[len(_L):]
    group = "(?P<prefix>" if rest.startswith("(?P<prefix>") else ""
    rest = rest[len(group):]
    run = _LITERAL_RUN.match(rest)
    if run is None:
        return pattern
    literal = run.group()
    if rest[run.end():run.end() + 1] in ("{", "?", "*", "+"):  # the last character is quantified
        literal = literal[:-2] if literal.endswith("\\", 0, len(literal) - 1) else literal[:-1]
    if not literal:
        return pattern
    return f"{group}{literal}(?<![A-Za-z0-9_]{literal}){rest[len(literal):]}"


_OPENAI_BODY = r"[A-Za-z0-9_-]{58,74}T3BlbkFJ[A-Za-z0-9_-]{58,74}"
_OPENAI_MARKER = (Token("T3BlbkFJ"),)  # base64 of "OpenAI", in every OpenAI key

RULES: tuple[Rule, ...] = (
    # AWS
    _simple("aws-access-key-id", "AWS access key ID", "AKIA", "[A-Z2-7]{16}"),
    _simple("aws-temporary-access-key-id", "AWS temporary (STS) access key ID", "ASIA", "[A-Z2-7]{16}"),
    _rule("aws-secret-access-key", "AWS secret access key",
          r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}" + _EB,
          context=("aws secret", "secret access key"), validate=_mixed),
    # GitHub
    _github("github-pat", "GitHub personal access token", "ghp_"),
    _github("github-oauth-token", "GitHub OAuth access token", "gho_"),
    _github("github-user-to-server-token", "GitHub App user-to-server token", "ghu_"),
    _github("github-server-to-server-token", "GitHub App installation token", "ghs_"),
    _github("github-refresh-token", "GitHub refresh token", "ghr_"),
    _simple("github-fine-grained-pat", "GitHub fine-grained personal access token",
            "github_pat_", "[A-Za-z0-9]{22}_[A-Za-z0-9]{59}"),
    # GitLab
    _simple("gitlab-pat", "GitLab personal access token", "glpat-",
            r"(?:[A-Za-z0-9_-]{27,300}\.[0-9a-z]{9}|[A-Za-z0-9_-]{20})", _ED),
    _simple("gitlab-deploy-token", "GitLab deploy token", "gldt-", "[A-Za-z0-9_-]{20}", _ED),
    _simple("gitlab-runner-token", "GitLab runner authentication token", "glrt-", "[A-Za-z0-9_-]{20}", _ED),
    _simple("gitlab-pipeline-trigger-token", "GitLab pipeline trigger token", "glptt-", f"{_HEX}{{40}}", _ED),
    _simple("gitlab-runner-registration-token", "GitLab runner registration token", "GR1348941",
            "[A-Za-z0-9_-]{20}", _ED),
    _simple("gitlab-feed-token", "GitLab feed token", "glft-", "[A-Za-z0-9_-]{20}", _ED),
    _simple("gitlab-oauth-app-secret", "GitLab OAuth application secret", "gloas-", "[A-Za-z0-9_-]{64}", _ED),
    _simple("gitlab-ci-build-token", "GitLab CI/CD job token", "glcbt-", "[0-9A-Za-z]{1,5}_[A-Za-z0-9_-]{20}", _ED),
    _simple("gitlab-scim-token", "GitLab SCIM token", "glsoat-", "[A-Za-z0-9_-]{20}", _ED),
    _simple("gitlab-feature-flag-token", "GitLab feature flags client token", "glffct-", "[A-Za-z0-9_-]{20}", _ED),
    _simple("gitlab-incoming-mail-token", "GitLab incoming mail token", "glimt-", "[A-Za-z0-9_-]{25}", _ED),
    _simple("gitlab-agent-token", "GitLab Kubernetes agent token", "glagent-", "[A-Za-z0-9_-]{50}", _ED),
    # Slack
    _simple("slack-bot-token", "Slack bot token", "xoxb-", "[0-9]{10,13}-[0-9]{10,13}-[A-Za-z0-9]{24}"),
    _simple("slack-user-token", "Slack user token", "xoxp-",
            f"[0-9]{{10,13}}-[0-9]{{10,13}}-[0-9]{{10,13}}-{_HEX}{{32}}"),
    _rule("slack-workspace-token", "Slack workspace access or refresh token",
          rf"{_L}(?P<prefix>xox[ar]-)(?:[0-9]-)?[0-9]{{10,13}}-[0-9]{{10,13}}-[0-9]{{10,13}}-{_HEX}{{32,64}}{_E}",
          tokens=("xoxa-", "xoxr-")),
    _rule("slack-legacy-token", "Slack legacy token",
          rf"{_L}(?P<prefix>xox[os]-)[0-9]{{8,13}}-[0-9]{{8,13}}-[0-9]{{8,13}}-{_HEX}{{16,64}}{_E}",
          tokens=("xoxo-", "xoxs-")),
    _simple("slack-app-token", "Slack app-level token", "xapp-",
            f"[0-9]-[A-Z0-9]{{9,11}}-[0-9]{{10,13}}-{_HEX}{{64}}"),
    _rule("slack-config-access-token", "Slack configuration access token",
          rf"{_L}(?P<prefix>xoxe\.xox[bp]-)[0-9]-[A-Z0-9]{{163,166}}{_E}", tokens=("xoxe.xoxb-", "xoxe.xoxp-")),
    _simple("slack-config-refresh-token", "Slack configuration refresh token", "xoxe-", "[0-9]-[A-Z0-9]{146}"),
    _rule("slack-webhook-url", "Slack incoming webhook URL",
          rf"(?<![A-Za-z0-9])(?P<prefix>https://hooks\.slack\.com/services/)"
          rf"T[A-Z0-9]{{8,12}}/B[A-Z0-9]{{8,12}}/[A-Za-z0-9]{{24}}{_E}",
          tokens=("hooks.slack.com/services/",)),
    # Stripe
    _simple("stripe-secret-key", "Stripe live secret key", "sk_live_", "[A-Za-z0-9]{24,247}"),
    _simple("stripe-restricted-key", "Stripe live restricted key", "rk_live_", "[A-Za-z0-9]{24,247}"),
    _rule("stripe-test-key", "Stripe test-mode secret key",
          rf"{_L}(?P<prefix>[sr]k_test_)[A-Za-z0-9]{{24,247}}{_E}", tokens=("sk_test_", "rk_test_")),
    _simple("stripe-webhook-secret", "Stripe webhook signing secret", "whsec_", "[A-Za-z0-9]{32,64}"),
    # Google
    _simple("google-api-key", "Google API key", "AIza", "[0-9A-Za-z_-]{35}", _ED),
    _simple("google-oauth-client-secret", "Google OAuth client secret", "GOCSPX-", "[0-9A-Za-z_-]{28}", _ED),
    # OpenAI, Anthropic and other AI providers
    _rule("openai-api-key", "OpenAI API key (legacy user key)",
          rf"{_L}sk-[A-Za-z0-9]{{20}}T3BlbkFJ[A-Za-z0-9]{{20}}{_ED}", prefix="sk-", tokens=_OPENAI_MARKER),
    _rule("openai-project-key", "OpenAI project API key",
          rf"{_L}sk-proj-{_OPENAI_BODY}{_ED}", prefix="sk-proj-", tokens=_OPENAI_MARKER),
    _rule("openai-service-account-key", "OpenAI service account key",
          rf"{_L}sk-svcacct-{_OPENAI_BODY}{_ED}", prefix="sk-svcacct-", tokens=_OPENAI_MARKER),
    _rule("openai-admin-key", "OpenAI admin key",
          rf"{_L}sk-admin-{_OPENAI_BODY}{_ED}", prefix="sk-admin-", tokens=_OPENAI_MARKER),
    _simple("anthropic-api-key", "Anthropic API key", "sk-ant-api03-", "[A-Za-z0-9_-]{93}AA", _ED),
    _simple("anthropic-admin-key", "Anthropic admin key", "sk-ant-admin01-", "[A-Za-z0-9_-]{93}AA", _ED),
    _simple("huggingface-token", "Hugging Face access token", "hf_", "[A-Za-z]{34}",
            tokens=(Token("hf_", "[A-Za-z]{8}"),)),
    _simple("huggingface-org-token", "Hugging Face organization API token", "api_org_", "[A-Za-z]{34}"),
    _simple("groq-api-key", "Groq API key", "gsk_", "[A-Za-z0-9]{52}", tokens=(Token("gsk_", "[A-Za-z0-9]{8}"),)),
    _simple("replicate-api-token", "Replicate API token", "r8_", "[A-Za-z0-9]{37}",
            tokens=(Token("r8_", "[A-Za-z0-9]{8}"),)),
    _simple("perplexity-api-key", "Perplexity API key", "pplx-", "[A-Za-z0-9]{48}"),
    _simple("xai-api-key", "xAI API key", "xai-", "[A-Za-z0-9]{80}", tokens=(Token("xai-", "[A-Za-z0-9]{8}"),)),
    _rule("langsmith-api-key", "LangSmith API key",
          rf"{_L}(?P<prefix>lsv2_(?:pt|sk)_){_HEX}{{32}}_{_HEX}{{10}}{_E}", tokens=("lsv2_",)),
    # Package registries and developer platforms
    _simple("npm-token", "npm access token", "npm_", "[A-Za-z0-9]{36}", tokens=(Token("npm_", "[A-Za-z0-9]{8}"),)),
    _simple("pypi-token", "PyPI API token", "pypi-AgEIcHlwaS5vcmc", "[A-Za-z0-9_-]{50,}", _ED, structured=True),
    _simple("testpypi-token", "TestPyPI API token", "pypi-AgENdGVzdC5weXBpLm9yZw", "[A-Za-z0-9_-]{50,}", _ED,
            structured=True),
    _simple("rubygems-api-key", "RubyGems API key", "rubygems_", f"{_HEX}{{48}}"),
    _simple("clojars-token", "Clojars deploy token", "CLOJARS_", "[a-z0-9]{60}"),
    _rule("dockerhub-token", "Docker Hub access token",
          rf"{_L}(?P<prefix>dckr_(?:pat|oat)_)[A-Za-z0-9_-]{{27}}{_ED}", tokens=("dckr_",)),
    _rule("artifactory-api-key", "JFrog Artifactory API key", rf"{_L}AKCp[A-Za-z0-9]{{69}}{_E}", prefix="AKCp"),
    _rule("sourcegraph-token", "Sourcegraph access token",
          rf"{_L}sgp_(?:[a-fA-F0-9]{{16}}_)?[a-fA-F0-9]{{40}}{_E}", prefix="sgp_"),
    _simple("buildkite-token", "Buildkite API access token", "bkua_", f"{_HEX}{{40}}"),
    _simple("postman-api-key", "Postman API key", "PMAK-", f"{_HEX}{{24}}-{_HEX}{{34}}"),
    _simple("pulumi-access-token", "Pulumi access token", "pul-", f"{_HEX}{{40}}",
            tokens=(Token("pul-", f"{_HEX}{{8}}"),)),
    _rule("terraform-cloud-token", "Terraform Cloud / Enterprise API token",
          r"(?<![A-Za-z0-9])[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,70}(?![A-Za-z0-9_=-])",
          tokens=(".atlasv1.",)),
    _simple("linear-api-key", "Linear API key", "lin_api_", "[A-Za-z0-9]{40}"),
    _simple("figma-token", "Figma personal access token", "figd_", "[A-Za-z0-9_-]{40}", _ED),
    _simple("atlassian-api-token", "Atlassian API token", "ATATT3", "[A-Za-z0-9_=-]{186}", r"(?![A-Za-z0-9_=-])"),
    _simple("contentful-pat", "Contentful personal access token", "CFPAT-", "[A-Za-z0-9_-]{43}", _ED),
    _simple("readme-api-key", "ReadMe API key", "rdme_", "[a-z0-9]{70}"),
    _simple("prefect-api-key", "Prefect API key", "pnu_", "[A-Za-z0-9]{36}",
            tokens=(Token("pnu_", "[A-Za-z0-9]{8}"),)),
    _simple("databricks-token", "Databricks access token", "dapi", f"{_HEX}{{32}}(?:-[0-9])?",
            tokens=(Token("dapi", f"{_HEX}{{8}}"),)),
    _rule("doppler-token", "Doppler token",
          rf"{_L}(?P<prefix>dp\.(?:pt|st|sa|ct|scim|audit)\.)[A-Za-z0-9]{{40,44}}{_E}",
          tokens=("dp.pt.", "dp.st.", "dp.sa.", "dp.ct.", "dp.scim.", "dp.audit.")),
    _rule("onepassword-service-account-token", "1Password service account token",
          rf"{_L}ops_eyJ[A-Za-z0-9+/]{{250,4000}}={{0,3}}{_EB}", prefix="ops_", tokens=("ops_eyJ",),
          structured=True),
    _rule("age-secret-key", "age encryption secret key",
          rf"{_L}AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{{58}}{_E}",
          prefix="AGE-SECRET-KEY-1", validate=bech32_ok),
    # Cloud and infrastructure
    _simple("digitalocean-pat", "DigitalOcean personal access token", "dop_v1_", f"{_HEX}{{64}}"),
    _simple("digitalocean-oauth-token", "DigitalOcean OAuth token", "doo_v1_", f"{_HEX}{{64}}"),
    _simple("digitalocean-refresh-token", "DigitalOcean refresh token", "dor_v1_", f"{_HEX}{{64}}"),
    _simple("alibaba-access-key-id", "Alibaba Cloud AccessKey ID", "LTAI", "[A-Za-z0-9]{12,20}",
            validate=lambda s: _mixed_case(s[4:])),
    _rule("azure-storage-account-key", "Azure storage account key",
          r"(?<![A-Za-z0-9])AccountKey=(?P<secret>[A-Za-z0-9+/]{86}==)" + _EB, tokens=("AccountKey=",)),
    _rule("azure-shared-access-key", "Azure Service Bus / Event Hubs shared access key",
          r"(?<![A-Za-z0-9])SharedAccessKey=(?P<secret>[A-Za-z0-9+/]{43}=)" + _EB, tokens=("SharedAccessKey=",)),
    _rule("azure-sas-token", "Azure shared access signature (SAS) token",
          r"[?&]sig=(?P<secret>(?:[A-Za-z0-9]|%2[BbFf]){40,90}(?:%3[Dd]|=)?)(?![A-Za-z0-9%])",
          tokens=("&sig=", "?sig="), validate=_azure_sig_ok),
    _rule("azure-ad-client-secret", "Azure AD (Entra ID) client secret",
          r"(?<![A-Za-z0-9_~.-])[A-Za-z0-9_~.]{3}[0-9]Q~[A-Za-z0-9_~.-]{31,34}(?![A-Za-z0-9_~.-])",
          tokens=("Q~",)),
    _simple("vault-service-token", "HashiCorp Vault service token", "hvs.", "[A-Za-z0-9_-]{24,250}", _ED),
    _simple("vault-batch-token", "HashiCorp Vault batch token", "hvb.", "[A-Za-z0-9_-]{24,400}", _ED),
    _rule("vault-legacy-token", "HashiCorp Vault token (legacy format)",
          r"(?<![A-Za-z0-9_.])s\.[A-Za-z0-9]{24}(?![A-Za-z0-9_.])", prefix="s.",
          context=("vault",), validate=lambda s: _mixed_case(s[2:])),
    _simple("dynatrace-token", "Dynatrace API token", "dt0c01.", r"[A-Z0-9]{24}\.[A-Z0-9]{64}"),
    _simple("grafana-cloud-token", "Grafana Cloud access policy token", "glc_", "[A-Za-z0-9+/]{32,400}={0,2}",
            _EB, structured=True),
    _simple("grafana-service-account-token", "Grafana service account token", "glsa_",
            "[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}"),
    _simple("newrelic-user-api-key", "New Relic user API key", "NRAK-", "[A-Z0-9]{27}"),
    _simple("newrelic-insert-key", "New Relic insert key", "NRII-", "[A-Za-z0-9_-]{32}", _ED),
    _simple("heroku-api-key-v2", "Heroku API key", "HRKU-AA", "[0-9A-Za-z_-]{58}", _ED),
    _rule("heroku-api-key", "Heroku API key (UUID)", rf"(?<![A-Za-z0-9-]){_UUID}(?![A-Za-z0-9-])",
          context=("heroku",)),
    _simple("planetscale-password", "PlanetScale database password", "pscale_pw_", "[A-Za-z0-9_.-]{32,64}",
            r"(?![A-Za-z0-9_.-])"),
    _simple("planetscale-token", "PlanetScale service token", "pscale_tkn_", "[A-Za-z0-9_.-]{32,64}",
            r"(?![A-Za-z0-9_.-])"),
    _simple("supabase-token", "Supabase access token", "sbp_", f"{_HEX}{{40}}",
            tokens=(Token("sbp_", f"{_HEX}{{8}}"),)),
    _rule("tailscale-key", "Tailscale key",
          rf"{_L}tskey-(?:api|auth|client|webhook|scim)-[A-Za-z0-9]{{6,24}}-[A-Za-z0-9]{{24,64}}{_E}",
          prefix="tskey-"),
    _simple("cloudflare-origin-ca-key", "Cloudflare Origin CA key", "v1.0-", f"{_HEX}{{24}}-{_HEX}{{146}}",
            tokens=(Token("v1.0-", f"{_HEX}{{8}}"),)),
    _rule("cloudflare-api-token", "Cloudflare API token",
          r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{40}" + _ED,
          context=("cloudflare api token", "cloudflare token", "cloudflare api key", "cf api token", "cf api key"),
          validate=_mixed),
    _rule("cloudflare-global-api-key", "Cloudflare global API key",
          rf"(?<![A-Za-z0-9]){_HEX}{{37}}{_E}", context=("cloudflare api key", "cloudflare global api key", "cloudflare key", "cf api key")),
    _rule("datadog-api-key", "Datadog API or application key",
          rf"(?<![A-Za-z0-9]){_HEX}{{32}}(?:{_HEX}{{8}})?{_E}",
          context=("datadog api key", "datadog app key", "datadog application key", "datadog key",
                   "dd api key", "dd app key", "dd application key")),
    _simple("sentry-user-token", "Sentry user auth token", "sntryu_", f"{_HEX}{{64}}"),
    _rule("sentry-org-token", "Sentry organization auth token",
          rf"{_L}sntrys_eyJ[A-Za-z0-9+/]{{20,1000}}={{0,2}}_[A-Za-z0-9+/]{{43}}(?![A-Za-z0-9+/=_])",
          prefix="sntrys_", validate=_sentry_ok, structured=True),
    # Communication, payments and SaaS
    _simple("sendgrid-api-key", "SendGrid API key", "SG.", r"[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}", _ED,
            tokens=(Token("SG.", r"[A-Za-z0-9_-]{22}\."),)),
    _rule("twilio-api-key", "Twilio API key SID", rf"{_L}SK{_HEX}{{32}}{_E}", prefix="SK",
          tokens=(Token("SK", f"{_HEX}{{32}}"),), context=("twilio",)),
    _rule("twilio-auth-token", "Twilio auth token", rf"(?<![A-Za-z0-9]){_HEX}{{32}}{_E}",
          context=("twilio auth token", "twilio token", "twilio secret", "twilio api secret")),
    _rule("mailgun-api-key", "Mailgun API key", rf"{_L}key-{_HEX}{{32}}{_E}", prefix="key-",
          tokens=(Token("key-", f"{_HEX}{{8}}"),), context=("mailgun",)),
    _rule("mailchimp-api-key", "Mailchimp API key", rf"(?<![A-Za-z0-9]){_HEX}{{32}}-us[0-9]{{1,2}}{_E}",
          tokens=(Token("-us", "[0-9]"),)),
    _rule("telegram-bot-token", "Telegram bot token", rf"(?<![A-Za-z0-9_])[0-9]{{8,10}}:AA[0-9A-Za-z_-]{{33}}{_ED}",
          tokens=(Token(":AA", "[0-9A-Za-z_-]{8}"),), context=("telegram", "bot token", "tg bot")),
    _rule("discord-bot-token", "Discord bot token",
          r"(?<![A-Za-z0-9_.-])[MNO][A-Za-z0-9_-]{23,25}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,38}" + _ED,
          tokens=tuple(Token(c, r"[A-Za-z0-9_-]{23,25}\.[A-Za-z0-9_-]{6}\.") for c in "MNO"),
          context=("discord",), validate=_discord_ok),
    _simple("shopify-access-token", "Shopify access token", "shpat_", "[a-fA-F0-9]{32}"),
    _simple("shopify-custom-app-token", "Shopify custom app access token", "shpca_", "[a-fA-F0-9]{32}"),
    _simple("shopify-private-app-token", "Shopify private app password", "shppa_", "[a-fA-F0-9]{32}"),
    _simple("shopify-shared-secret", "Shopify app shared secret", "shpss_", "[a-fA-F0-9]{32}"),
    _simple("square-access-token", "Square access token", "sq0atp-", "[0-9A-Za-z_-]{22}", _ED),
    _simple("square-access-token-v2", "Square access token", "EAAA", "[0-9A-Za-z_-]{60}", _ED),
    _simple("square-oauth-secret", "Square OAuth application secret", "sq0csp-", "[0-9A-Za-z_-]{43}", _ED),
    _rule("shippo-api-token", "Shippo API token",
          rf"{_L}(?P<prefix>shippo_(?:live|test)_){_HEX}{{40}}{_E}", tokens=("shippo_",)),
    _rule("flutterwave-secret-key", "Flutterwave secret key",
          rf"{_L}(?P<prefix>FLWSECK(?:_TEST)?-)[a-fA-F0-9]{{32}}-X{_E}", tokens=("FLWSECK",)),
    _rule("easypost-api-key", "EasyPost API key", rf"{_L}(?P<prefix>EZ[AT]K)[A-Za-z0-9]{{54}}{_E}",
          tokens=("EZAK", "EZTK")),
    _rule("duffel-token", "Duffel API token",
          rf"{_L}(?P<prefix>duffel_(?:test|live)_)[A-Za-z0-9_=-]{{43}}(?![A-Za-z0-9_=-])", tokens=("duffel_",)),
    _simple("notion-token", "Notion integration token", "ntn_", "[0-9]{11}[A-Za-z0-9]{35}"),
    _rule("notion-legacy-token", "Notion integration token (legacy format)",
          rf"{_L}secret_[A-Za-z0-9]{{43}}{_E}", prefix="secret_",
          tokens=(Token("secret_", "[A-Za-z0-9]{8}"),), context=("notion",)),
    _rule("airtable-pat", "Airtable personal access token", rf"{_L}pat[A-Za-z0-9]{{14}}\.{_HEX}{{64}}{_E}",
          prefix="pat", tokens=(Token("pat", r"[A-Za-z0-9]{14}\."),)),
    _rule("mapbox-secret-token", "Mapbox secret access token",
          rf"{_L}sk\.eyJ[A-Za-z0-9_-]{{20,}}\.[A-Za-z0-9_-]{{20,}}{_ED}", prefix="sk.",
          tokens=("sk.eyJ",), validate=_mapbox_ok, structured=True),
    # Generic but self-describing
    _rule("jwt", "JSON Web Token",
          r"eyJ(?<![A-Za-z0-9_.-]eyJ)[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}" + _ED,
          prefix="eyJ", validate=_jwt_ok, structured=True, priority=1),
    _private_key("private-key-rsa", "RSA private key", "RSA PRIVATE KEY"),
    _private_key("private-key-ec", "EC private key", "EC PRIVATE KEY"),
    _private_key("private-key-dsa", "DSA private key", "DSA PRIVATE KEY"),
    _private_key("private-key-openssh", "OpenSSH private key", "OPENSSH PRIVATE KEY"),
    _private_key("private-key-pgp", "PGP private key block", "PGP PRIVATE KEY BLOCK"),
    _private_key("private-key-pkcs8", "PKCS#8 private key", "PRIVATE KEY"),
    _private_key("private-key-pkcs8-encrypted", "Encrypted PKCS#8 private key", "ENCRYPTED PRIVATE KEY"),
)

RULES_BY_SLUG: dict[str, Rule] = {rule.slug: rule for rule in RULES}
assert len(RULES_BY_SLUG) == len(RULES), "duplicate rule slug"


# --- the prefilter -------------------------------------------------------------------

#: How often each printable ASCII character occurs in source code, per
#: 100,000 characters (measured once over CPython's standard library).  The
#: prefilter stops at every occurrence of its lead characters, so it picks
#: leads that are rare in ordinary code.
_ORDER = "&$^~;?!JYZQX@%<|KHVUWB}{jGz/O+M\\FDL79q8P6R`C>I54N#3AS*ET][kw2v-1x0by'=g:h\")(.mu_fp,dcloniraste "
_COUNTS = (
    7, 10, 11, 12, 13, 16, 17, 17, 22, 24, 28, 30, 30, 32, 38, 39, 39, 58, 63, 71, 83, 86, 89, 90, 94, 97, 118,
    120, 124, 128, 134, 135, 145, 152, 153, 155, 157, 162, 162, 171, 178, 198, 199, 204, 208, 209, 215, 221, 239,
    266, 280, 295, 296, 299, 306, 320, 324, 325, 372, 411, 439, 443, 515, 572, 614, 622, 691, 778, 806, 864, 884,
    962, 1000, 1091, 1331, 1331, 1342, 1426, 1448, 1582, 1650, 1686, 1722, 1792, 1833, 2459, 3188, 3321, 3344,
    3748, 3809, 4015, 4482, 6445, 26405,
)
_FREQ = dict(zip(_ORDER, _COUNTS))
#: Every extra lead character adds an alternative the engine checks at each
#: candidate position; this is its cost in the same unit.
_LEAD_PENALTY = 40


def _choose_leads(literals: list[str]) -> dict[str, int]:
    """For every literal, the index of the character the prefilter anchors on.

    A greedy weighted set cover: choose lead characters so that every literal
    contains one and their total frequency is small (``npm_``, ``ntn_`` and
    ``hf_`` share ``_`` rather than each adding ``m``, ``t``, ``h``).  Within
    a literal the rarest chosen character wins, preferring an occurrence
    with literal characters after it (cheaper to reject).
    """
    def cost(char: str) -> int:
        return _FREQ.get(char, 1) + _LEAD_PENALTY

    uncovered = set(literals)
    chosen: set[str] = set()
    while uncovered:
        counts: dict[str, int] = {}
        for literal in uncovered:
            for char in set(literal):
                counts[char] = counts.get(char, 0) + 1
        best = min(counts, key=lambda c: (cost(c) / counts[c], c))
        chosen.add(best)
        uncovered = {lit for lit in uncovered if best not in lit}
    # Local search: drop a lead if re-covering its literals with their cheapest
    # characters costs less (a greedy early pick can become a bad deal).
    improved = True
    while improved:
        improved = False
        for char in sorted(chosen, key=cost, reverse=True):
            rest = chosen - {char}
            extra: set[str] = set()
            for literal in literals:
                if not any(c in rest or c in extra for c in literal):
                    extra.add(min(set(literal), key=lambda c: (cost(c), c)))
            if sum(map(cost, rest | extra)) < sum(map(cost, chosen)):
                chosen, improved = rest | extra, True
                break
    # An alternative whose lead is the literal's last character starts with a
    # look-behind, which costs several times a forward literal to reject.
    def weight(literal: str, i: int) -> tuple[int, int]:
        return (_FREQ.get(literal[i], 1) * (1 if i < len(literal) - 1 else 4), i)

    return {
        literal: min((i for i, c in enumerate(literal) if c in chosen), key=lambda i: weight(literal, i))
        for literal in literals
    }


class _Probe(NamedTuple):
    """A token as the prefilter sees it: found at its lead character."""

    lead_offset: int  # index of the lead character inside the literal
    verify: LazyPattern  # literal + tail, matched at the token's start
    rules: tuple[int, ...]  # indexes into RULES


def _lookbehind(texts: Iterable[str]) -> str:
    """``(?<=a|b)`` per width (look-behinds must be fixed-width), or-ed together."""
    by_width: dict[int, set[str]] = {}
    for text in texts:
        by_width.setdefault(len(text), set()).add(text)
    parts = ["(?<=" + "|".join(re.escape(t) for t in sorted(ts)) + ")" for _, ts in sorted(by_width.items())]
    return parts[0] if len(parts) == 1 else "(?:" + "|".join(parts) + ")"


def _build_prefilter(rules: tuple[Rule, ...]) -> tuple[re.Pattern[str], dict[str, tuple[_Probe, ...]]]:
    """One alternation over all tokens, grouped by lead character.

    Token ``AKIA`` led by ``K`` becomes ``KIA(?<=AKIA)``: the engine skips in
    C to each ``K``, checks the rest forward, then the whole literal with a
    fixed-width look-behind (which is what checks the ``A`` before the lead).  Every top-level alternative starts with a
    literal, which is what lets ``re`` use its first-character skip loop.
    Tokens that end in their lead (``ntn_``, ``figd_``) are checked behind a
    shared gate on the last three characters, so a frequent lead such as
    ``_`` is rejected with one look-behind instead of one per token.
    """
    owners: dict[Token, list[int]] = {}
    for index, rule in enumerate(rules):
        for token in rule.tokens:
            owners.setdefault(token, []).append(index)
    leads = _choose_leads(sorted({token.literal for token in owners}))
    forward: dict[str, dict[tuple[str, str], set[str]]] = {}  # lead -> (after, tail) -> literals
    backward: dict[str, dict[str, set[str]]] = {}  # lead -> tail -> befores (token ends at lead)
    probes: dict[str, list[_Probe]] = {}
    for token, indexes in owners.items():
        lit, lead = token.literal, leads[token.literal]
        char, after, before = lit[lead], lit[lead + 1:], lit[:lead + 1]
        probes.setdefault(char, []).append(
            _Probe(lead, lazy_compile(re.escape(lit) + token.tail, re.ASCII), tuple(indexes)))
        if after or len(before) == 1:
            # "" when the literal starts at its lead: nothing to look behind at.
            forward.setdefault(char, {}).setdefault((after, token.tail), set()).add(lit if lead else "")
        else:
            backward.setdefault(char, {}).setdefault(token.tail, set()).add(before)
    parts = []
    for char in sorted(probes, key=lambda c: (-_FREQ.get(c, 1), c)):
        alternatives = []
        for (after, tail), literals in sorted(forward.get(char, {}).items(), key=lambda kv: (-len(kv[0][0]), kv[0])):
            behind = "" if "" in literals else _lookbehind(literals)
            # Forward literal first (cheap to reject), then the whole literal
            # behind the cursor, then the tail.
            alternatives.append(re.escape(after) + behind + tail)
        if char in backward:
            entries = backward[char]
            exact = "|".join(_lookbehind(befores) + tail for tail, befores in sorted(entries.items()))
            width = min(3, *(len(b) for befores in entries.values() for b in befores))
            gate = _lookbehind({b[-width:] for befores in entries.values() for b in befores})
            alternatives.append(f"{gate}(?:{exact})")
        if "" in alternatives:
            parts.append(re.escape(char))
        else:
            parts.append(re.escape(char) + "(?:" + "|".join(alternatives) + ")")
    return patterns.compile("|".join(parts), re.ASCII), {c: tuple(p) for c, p in probes.items()}


@lru_cache(maxsize=1)
def prefilter() -> tuple[re.Pattern[str], dict[str, tuple[_Probe, ...]]]:
    """The prefilter and its probes, built on first use.

    Building and compiling it costs about 45 ms, which a run that scans no
    file (a fully cached rescan, ``secretaudit checks``, ``status``) should
    not pay.
    """
    return _build_prefilter(RULES)


# --- scanning ----------------------------------------------------------------------

#: (rule, secret, start offset, end offset, visible prefix)
Hit = tuple[Rule, str, int, int, str]


#: Characters of text a process scans token by token before it builds the
#: one-pass prefilter.  Building it (choosing leads, compiling one alternation
#: of ~260 tokens) costs about as much as looking for every token literal,
#: one ``str.find`` each, over a quarter of a megabyte: a pre-commit hook over
#: a few files never pays for it, a repository scan pays once per worker.
LITERAL_SCAN_BUDGET = 1 << 18

_literal_bytes = 0


@lru_cache(maxsize=1)
def _literal_probes() -> tuple[tuple[str, LazyPattern | None, tuple[int, ...]], ...]:
    """(literal, tail check or None, rule indexes) per token, for :func:`_hit_rules_by_literal`.

    A token without a tail needs no check once ``str.find`` found its
    literal, so no pattern is compiled for it.
    """
    owners: dict[Token, list[int]] = {}
    for index, rule in enumerate(RULES):
        for token in rule.tokens:
            owners.setdefault(token, []).append(index)
    return tuple((token.literal,
                  lazy_compile(re.escape(token.literal) + token.tail, re.ASCII) if token.tail else None,
                  tuple(indexes))
                 for token, indexes in sorted(owners.items(), key=lambda kv: (kv[0].literal, kv[0].tail)))


class _Lines:
    """Line bounds of offsets in one text, for many lookups.

    The last line found is remembered, and after a few lookups elsewhere a
    sorted index of line starts is built: a token repeated along one long
    line (``AKIAAKIA...``, a megabyte of it) must not cost a scan of the line
    per occurrence, which made the prefilter quadratic.
    """

    __slots__ = ("text", "_last", "_misses", "_starts")

    #: Lookups answered by scanning for newlines before the index is built.
    MISSES_BEFORE_INDEX = 32

    def __init__(self, text: str) -> None:
        self.text = text
        self._last = (0, 0)
        self._misses = 0
        self._starts: list[int] | None = None

    def bounds(self, at: int) -> tuple[int, int]:
        """(start, end) of the line holding offset ``at``; ``end`` is past its newline."""
        last = self._last
        if last[0] <= at < last[1]:
            return last
        text = self.text
        if self._starts is None and self._misses < self.MISSES_BEFORE_INDEX:
            self._misses += 1
            nl = text.find("\n", at)
            last = (text.rfind("\n", 0, at) + 1, len(text) if nl == -1 else nl + 1)
        else:
            starts = self._starts
            if starts is None:
                starts = self._starts = [0]
                find, append = text.find, starts.append
                nl = find("\n")
                while nl != -1:
                    append(nl + 1)
                    nl = find("\n", nl + 1)
            i = bisect.bisect_right(starts, at)
            last = (starts[i - 1], starts[i] if i < len(starts) else len(text))
        self._last = last
        return last


class _Windows:
    """The prefilter's answer being built: per rule index, the line windows to search.

    One window per rule and line: later hits on a line only extend a
    private key window (through a later ``-----END``), so a line full of
    tokens costs the detailed pass one search, not one per token.
    """

    __slots__ = ("text", "lines", "by_rule", "_end_from", "_end_at")

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = _Lines(text)
        self.by_rule: dict[int, list[tuple[int, int]]] = {}
        self._end_from, self._end_at = len(text) + 1, -1  # the last "-----END" search: from where, found where

    def add(self, at: int, rules: tuple[int, ...]) -> None:
        """Record the line of the token hit at ``at`` (through the key block) for each rule."""
        line_start, line_end = self.lines.bounds(at)
        for index in rules:
            end = self._block_end(at, line_end) if RULES[index].multiline else line_end
            spans = self.by_rule.setdefault(index, [])
            if spans and spans[-1][0] == line_start:
                if end > spans[-1][1]:
                    spans[-1] = (line_start, end)
            else:
                spans.append((line_start, end))

    def has_line(self, index: int, at: int) -> bool:
        """Whether rule ``index`` already searches the line of ``at``."""
        spans = self.by_rule.get(index)
        return bool(spans) and spans[-1][0] == self.lines.bounds(at)[0]

    def _block_end(self, at: int, line_end: int) -> int:
        """End of a private key window: through its ``-----END`` line, and the next line.

        The marker search is remembered: hits come in increasing order, and
        a text of ``-----BEGIN ... KEY-----`` lines without an ``-----END``
        must not be searched to its end once per line.
        """
        text = self.text
        end = self.lines.bounds(line_end)[1] if line_end < len(text) else len(text)
        if not (self._end_from <= at and (self._end_at == -1 or self._end_at >= at)):
            self._end_from, self._end_at = at, text.find("-----END", at)
        if self._end_at != -1:
            end = max(end, self.lines.bounds(self._end_at)[1])
        return end


def _hit_rules_by_literal(text: str) -> dict[int, list[tuple[int, int]]]:
    """The windows of :func:`_hit_rules`, found with one ``str.find`` loop per token.

    Every occurrence of every token literal whose tail matches: the same
    windows as the one-pass prefilter (they are merged and sorted before use,
    so their order does not matter).
    """
    windows = _Windows(text)
    find = text.find
    for literal, verify, rules in _literal_probes():
        if find(literal) != -1:  # most tokens are in no file: no call for them
            _find_token(windows, literal, verify, rules, 0, len(text))
    return windows.by_rule


def _find_token(windows: _Windows, literal: str, verify: LazyPattern | None, rules: tuple[int, ...],
                start: int, end: int) -> None:
    """Every hit of one token in ``text[start:end]`` into ``windows``.

    Once a line is recorded for the token's rules, the rest of that line is
    skipped (the window would not change), except for private keys, whose
    window depends on the last token of the line.
    """
    text = windows.text
    find = text.find
    multiline = any(RULES[index].multiline for index in rules)
    at = find(literal, start, end)
    while at != -1:
        if verify is None or verify.match(text, at) is not None:
            windows.add(at, rules)
            if not multiline:
                at = find(literal, windows.lines.bounds(at)[1], end)
                continue
        at = find(literal, at + 1, end)


@lru_cache(maxsize=1)
def _token_set() -> tuple[PatternSet, tuple[tuple[int, int], ...]]:
    """Every token (literal + tail) as one :class:`~secretaudit.multiscan.PatternSet`.

    In the order of :func:`_literal_probes`, with each pattern's shortest and
    longest match: a reported end then bounds where the token can start.
    """
    sources = [verify.pattern if verify is not None else re.escape(literal)
               for literal, verify, _rules in _literal_probes()]
    widths = tuple(_re_parser.parse(source, re.ASCII).getwidth() for source in sources)
    return PatternSet(sources), widths


def _hit_rules_by_set(text: str) -> dict[int, list[tuple[int, int]]] | None:
    """The windows of :func:`_hit_rules_by_literal`, from one pass of the token set; None if it cannot run.

    Each reported end bounds the token's start to a few characters; the
    literal is looked for there and confirmed with the same tail check,
    so the hits are exactly the literal-by-literal ones.  A token already
    recorded on its line is not looked at again (private keys excepted).
    """
    if not multiscan.accelerates(text):
        return None
    token_set, widths = _token_set()
    windows = _Windows(text)
    probes = _literal_probes()
    find = text.find
    confirmed: set[tuple[int, int]] = set()
    multiline = [any(RULES[rule].multiline for rule in rules) for _literal, _verify, rules in probes]
    for index, end in token_set.ends(text):
        literal, verify, rules = probes[index]
        if not multiline[index] and all(windows.has_line(rule, end - 1) for rule in rules):
            continue  # a token never spans lines: this one's line is recorded already
        shortest, longest = widths[index]
        at = find(literal, max(0, end - longest), end - shortest + len(literal))
        while at != -1:
            if (at, index) not in confirmed:
                confirmed.add((at, index))
                if verify is None or verify.match(text, at) is not None:
                    windows.add(at, rules)
            at = find(literal, at + 1, end - shortest + len(literal))
    return windows.by_rule


#: Prefilter hits on one line after which the rest of the line is searched
#: token by token (``str.find``) instead of hit by hit: a line made of one
#: token repeated would otherwise cost a round of probes per occurrence.
MAX_HITS_PER_LINE = 16


def _hit_rules(text: str) -> dict[int, list[tuple[int, int]]]:
    """Run the prefilter; return, per rule index, the line windows to search.

    With the accelerator (:mod:`secretaudit.multiscan`) every token is found in
    one pass.  Without it, one regex alternation over all tokens: the search
    restarts one character after each hit, so every occurrence of every
    token is seen, even overlapping ones; past :data:`MAX_HITS_PER_LINE` hits
    on a line, the rest of it is searched literal by literal.  Until this
    process has scanned :data:`LITERAL_SCAN_BUDGET` characters (and unless
    the prefilter is built already), tokens are looked for literal by
    literal instead.
    """
    global _literal_bytes
    by_set = _hit_rules_by_set(text)
    if by_set is not None:
        return by_set
    if _literal_bytes < LITERAL_SCAN_BUDGET and prefilter.cache_info().currsize == 0:
        _literal_bytes += len(text)
        return _hit_rules_by_literal(text)
    windows = _Windows(text)
    pattern, probes = prefilter()
    search = pattern.search
    pos = 0
    line_hits = 0
    last_line: tuple[int, int] = (-1, -1)
    while True:
        match = search(text, pos)
        if match is None:
            return windows.by_rule
        at = match.start()
        pos = at + 1
        if last_line[0] <= at < last_line[1]:
            line_hits += 1
            if line_hits > MAX_HITS_PER_LINE:
                for literal, verify, rules in _literal_probes():
                    _find_token(windows, literal, verify, rules, max(0, at - len(literal) + 1), last_line[1])
                pos = last_line[1]
                continue
        else:
            last_line, line_hits = windows.lines.bounds(at), 1
        for probe in probes[text[at]]:
            start = at - probe.lead_offset
            if start < 0 or probe.verify.match(text, start) is None:
                continue
            windows.add(at, probe.rules)


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    spans.sort()
    out: list[tuple[int, int]] = []
    for start, end in spans:
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


class _Context:
    """Whether a context rule's keyword is on a match's line, outside the match.

    The same answers as searching the line before and after each match,
    without searching a long line again for each of its matches (which was
    quadratic on a line of many candidates): matches come in increasing
    order, "a keyword before" stays true once true, "a keyword after" stays
    true up to the keyword found, and each search resumes where the last
    one stopped.
    """

    __slots__ = ("text", "search", "width", "line", "before_end", "before_scanned", "after_at", "after_none")

    def __init__(self, rule: Rule, text: str) -> None:
        assert rule.context_regex is not None
        self.text = text
        self.search = rule.context_regex.search
        # Each character of a phrase (a blank: one optional separator) matches one character.
        self.width = max(map(len, rule.context))
        self.line = (0, -1)

    def holds(self, start: int, end: int) -> bool:
        text = self.text
        line_start, line_end = self.line
        if not (line_start <= start <= line_end):
            line_start = text.rfind("\n", 0, start) + 1
            nl = text.find("\n", end)
            self.line = line_start, line_end = line_start, len(text) if nl == -1 else nl
            self.before_end, self.before_scanned = -1, line_start  # a keyword ends at before_end; none before scanned
            self.after_at, self.after_none = -1, line_end + 1  # a keyword starts at after_at; none from after_none
        if self._before(start, line_start):
            return True
        if end >= self.after_none:
            return False
        if end <= self.after_at:
            return True
        found = self.search(text, end, line_end)
        if found is None:
            self.after_none = end
            return False
        self.after_at = found.start()
        return True

    def _before(self, start: int, line_start: int) -> bool:
        if 0 <= self.before_end <= start:
            return True
        # Nothing lies wholly before before_scanned: a keyword before start ends after it.
        resume = max(line_start, self.before_scanned - self.width)
        found = self.search(self.text, resume, start)
        if found is None:
            self.before_scanned = max(self.before_scanned, start)
            return False
        self.before_end = found.end()
        return True


def _accept(rule: Rule, text: str, match: re.Match[str], context: _Context | None = None) -> Hit | None:
    """Apply the context, placeholder and structural checks to one regex match.

    ``context`` is the rule's :class:`_Context` for ``text``, when matches
    are checked in increasing order (as :func:`find_credentials` does).
    """
    groups = rule.regex.groupindex
    if "secret" in groups:
        secret, start, end = match.group("secret"), match.start("secret"), match.end("secret")
    else:
        secret, start, end = match.group(0), match.start(), match.end()
    prefix = match.group("prefix") if "prefix" in groups else rule.prefix
    if rule.context_regex is not None:
        if context is None:
            context = _Context(rule, text)
        if not context.holds(start, end):
            return None
    body = secret[len(prefix):] if prefix and secret.startswith(prefix) else secret
    if looks_fake(body, rule.structured):
        return None
    if rule.validate is not None and not rule.validate(secret):
        return None
    return rule, secret, start, end, prefix


def _dedupe(hits: list[Hit]) -> list[Hit]:
    """Keep one finding per span: exact formats beat generic ones, longer beats shorter.

    Two rules can match the same characters (a generic context rule and an
    exact format); reporting both would double-count one credential.
    """
    hits.sort(key=lambda h: (-h[0].priority, -(h[3] - h[2]), h[2], h[0].slug))
    starts: list[int] = []  # kept spans, sorted and disjoint
    ends: list[int] = []
    kept: list[Hit] = []
    for hit in hits:
        i = bisect.bisect_right(starts, hit[2])
        if (i and ends[i - 1] > hit[2]) or (i < len(starts) and starts[i] < hit[3]):
            continue
        starts.insert(i, hit[2])
        ends.insert(i, hit[3])
        kept.append(hit)
    kept.sort(key=lambda h: (h[2], h[0].slug))
    return kept


def find_credentials(text: str, prefilter: bool = True) -> list[Hit]:
    """All known-format credentials in ``text``, in order of position.

    With ``prefilter`` each rule only runs on the lines where one of its
    tokens occurs; without it every rule runs over the whole text.  The
    results are identical (see the module docstring for why).
    """
    hits: list[Hit] = []
    if prefilter:
        windows = _hit_rules(text)
        if not windows:
            return hits
        for index in sorted(windows):
            rule = RULES[index]
            context = _Context(rule, text) if rule.context_regex is not None else None
            for start, end in _merged(windows[index]):
                for match in rule.regex.finditer(text, start, end):
                    hit = _accept(rule, text, match, context)
                    if hit is not None:
                        hits.append(hit)
    else:
        for rule in RULES:
            context = _Context(rule, text) if rule.context_regex is not None else None
            for match in rule.regex.finditer(text):
                hit = _accept(rule, text, match, context)
                if hit is not None:
                    hits.append(hit)
    return _dedupe(hits)


def scan_item(item: FileItem, prefilter: bool = True) -> list[Detection]:
    """Turn the credentials of one file into detections (line of the first character)."""
    return [
        Detection(check_id=CHECK_ID, line=item.line_of(start), secret=secret, label=rule.label,
                  visible_prefix=prefix, rule=rule.slug)
        for rule, secret, start, _end, prefix in find_credentials(item.text, prefilter)
    ]


# --- hooks ---------------------------------------------------------------------------


@hookimpl
def secretaudit_register_checks(registry: "CheckRegistry") -> None:
    """Put SA101 in the catalogue (``secretaudit checks``, reports, ``--fail-on``)."""
    registry.add(SPEC)


@hookimpl
def secretaudit_scan_file(item: FileItem, config: "Config") -> list[Detection] | None:
    """Report every known-format credential in one file.

    ``config.prefilter`` only changes the speed, never the result; a disabled
    check costs nothing.
    """
    if not config.is_enabled(CHECK_ID):
        return None
    return scan_item(item, config.prefilter) or None
