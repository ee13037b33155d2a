"""``secretaudit audit --notify URL``: post the nightly audit's summary to a chat webhook.

The payload is Slack's incoming-webhook format (``text`` for notifications
and clients without blocks, ``blocks`` for the message itself), which
Mattermost, Rocket.Chat and Teams' Slack-compatible endpoints also accept:

* the verdict (``passed``, ``FAILED``, ``ERRORS``, ``NOTHING AUDITED``) and
  the counts by status;
* new failures: those not in ``--compare PREVIOUS.json`` when given (the
  morning question is "what broke overnight"), else every failure; with a
  comparison, also what got worse (a secret that went from SA202 "expires
  soon" to SA201 "expired" is not fixed, and not news to skip);
* what expires in the next ``policy.expiry_warning_days`` (default 30) days,
  from the secrets' metadata the backends listed.

Only names, check ids, severities, titles and dates go in: never a finding's
message or evidence (evidence is redacted, but even a redacted prefix is
more than a chat channel needs), never a value.

Posting never decides the audit: a failure (unreachable, timeout, non-2xx)
comes back as one warning line for stderr, and the audit's output and exit
code stay what they were.  One retry on 429 and 5xx, after ``Retry-After``
when the server names a wait of at most :data:`MAX_RETRY_AFTER` seconds.
The URL (a webhook URL is itself a credential) is shown as scheme and host
only.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import urlsplit

from secretaudit import __version__
from secretaudit.errors import ExitCode, UsageError
from secretaudit.model import Finding, Severity, Status
from secretaudit.stash import RECORDS

if TYPE_CHECKING:
    from secretaudit.session import Session

DEFAULT_WINDOW_DAYS = 30
#: Longest ``Retry-After`` honoured; a server asking for more is not retried.
MAX_RETRY_AFTER = 30.0
#: Wait before the retry when the server names none.
DEFAULT_RETRY_WAIT = 1.0
#: Items listed per section before "... and N more" (Slack caps a section's text at 3000 characters).
MAX_LISTED = 15
SECTION_LIMIT = 2900

VERDICTS = {
    ExitCode.OK: ("passed", ":white_check_mark:"),
    ExitCode.FINDINGS: ("FAILED", ":x:"),
    ExitCode.INTERRUPTED: ("INTERRUPTED", ":warning:"),
    ExitCode.INTERNAL_ERROR: ("INTERNAL ERROR", ":warning:"),
    ExitCode.NOTHING_SCANNED: ("NOTHING AUDITED", ":warning:"),
}


class NotifyError(Exception):
    """The summary could not be delivered; one line naming cause and fix, never the URL's path."""


def check_url(url: str) -> str:
    """The webhook URL, or a usage error before the audit runs (a bad flag is exit 4)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--notify needs an http(s) webhook URL (e.g. https://hooks.slack.com/services/...), "
                         f"got {shown_url(url)!r}")
    return url.strip()


def shown_url(url: str) -> str:
    """Scheme, host and port only: webhook URLs carry their credential in the path."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname:
        return "(not a URL)"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}/…" if parts.path.strip("/") else \
        f"{parts.scheme}://{parts.hostname}{port}"


def redact_argv(argv: list[str], url: str) -> list[str]:
    """The command line as reports record it, with the webhook URL cut to :func:`shown_url`."""
    shown = shown_url(url)
    return [arg.replace(url, shown) if url in arg else arg for arg in argv]


# -- the summary ----------------------------------------------------------------------------------


def _escape(text: str) -> str:
    """Slack mrkdwn control characters (names may hold ``<`` or ``&``)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _where(finding: Finding) -> str:
    loc = finding.location
    if loc.backend:
        return f"{loc.backend}:{loc.name}" if loc.name else loc.backend
    where = loc.path or finding.target or "?"
    return f"{where}:{loc.line}" if loc.line else where


def _title(session: "Session", check_id: str) -> str:
    checks = session.config.checks
    try:
        return checks.get(check_id).title if checks is not None else ""
    except KeyError:
        return ""


def window_days(session: "Session") -> int:
    policy = session.config.settings.get("policy") or {}
    days = policy.get("expiry_warning_days", DEFAULT_WINDOW_DAYS) if isinstance(policy, dict) else None
    return days if isinstance(days, int) and not isinstance(days, bool) and days >= 0 else DEFAULT_WINDOW_DAYS


def expiring(session: "Session", days: int) -> list[dict[str, Any]]:
    """Secrets whose expiry falls after ``as_of`` and within ``days`` of it, soonest first."""
    as_of = session.config.as_of
    horizon = as_of + timedelta(days=days)
    seen: set[tuple[str, str]] = set()
    rows = []
    for record in session.config.stash.get(RECORDS) or ():
        expires = record.expires
        if expires is None or (record.backend, record.name) in seen:
            continue
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=timezone.utc)
        if as_of < expires <= horizon:
            seen.add((record.backend, record.name))
            rows.append({"secret": f"{record.backend}:{record.name}", "expires": expires.date().isoformat(),
                         "days_left": (expires - as_of).days, "owner": record.owner or ""})
    return sorted(rows, key=lambda r: (r["expires"], r["secret"]))


def build_summary(session: "Session") -> dict[str, Any]:
    """The webhook payload (``text`` + ``blocks``) and, under ``secretaudit``, the same facts as data.

    Slack ignores unknown top-level keys; the extra ``secretaudit`` object lets
    a non-Slack receiver (or a test) read the facts without parsing mrkdwn.
    """
    config = session.config
    verdict, icon = VERDICTS.get(session.exitstatus, ("UNKNOWN", ":warning:"))
    if session.exitstatus == ExitCode.FINDINGS and not session.failing():
        verdict = "ERRORS"
    counts = session.counts()
    count_fields = {key: int(counts.get(key, 0)) for key in ("failed", "error", "waived", "passed", "skipped")}
    comparison = session.comparison
    failures = comparison.new if comparison is not None else [f for f in session.findings if f.status is Status.FAILED]
    failures = sorted(failures, key=lambda f: (-int(f.severity), f.check_id, _where(f)))
    worse = comparison.worse if comparison is not None else []
    errors = [f for f in session.findings if f.status is Status.ERROR]
    days = window_days(session)
    soon = expiring(session, days)
    from secretaudit.shownpaths import shown_path

    source = shown_path(config.source, config) if config.source else "default configuration"
    facts = {
        "verdict": verdict, "exit_code": int(session.exitstatus), "counts": count_fields,
        "config": source, "as_of": config.as_of.date().isoformat(),
        "compared_to": comparison.previous if comparison is not None else None,
        "new_failures": [{"check_id": f.check_id, "severity": f.severity.label, "where": _where(f),
                          "title": _title(session, f.check_id)} for f in failures],
        "worse": [{"check_id": c.after.check_id, "was": c.before.check_id, "severity": c.after.severity.label,
                   "where": _where(c.after), "title": _title(session, c.after.check_id)} for c in worse],
        "errors": [{"check_id": f.check_id, "where": _where(f)} for f in errors],
        "expiring": soon, "expiry_window_days": days, "version": __version__,
    }
    counts_text = ", ".join(f"{n} {k}" for k, n in count_fields.items() if n) or "nothing audited"
    failures_label = (f"New failures since {comparison.previous}" if comparison is not None else "Failures")
    text = (f"{icon} secretaudit audit {verdict}: {counts_text}; {len(failures)} "
            f"{'new ' if comparison is not None else ''}failure{'s' * (len(failures) != 1)}, "
            + (f"{len(worse)} worse, " if comparison is not None else "")
            + f"{len(soon)} secret{'s' * (len(soon) != 1)} expiring within {days} days ({source})")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"secretaudit audit {verdict}"[:150]}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{key.capitalize()}*\n{n}"}
                                       for key, n in count_fields.items()][:10]},
        _list_section(f"{failures_label} ({len(failures)})", failures, lambda f: _failure_line(session, f), "none"),
        *([_list_section(f"Worse since {comparison.previous} ({len(worse)})", worse,
                         lambda c: f"`{c.before.check_id}` → " + _failure_line(session, c.after), "none")]
          if worse and comparison is not None else []),
        _list_section(f"Expiring within {days} days ({len(soon)})", soon,
                      lambda r: f"{_escape(r['secret'])}: {r['expires']} ({r['days_left']} days left)"
                                + (f", owner {_escape(r['owner'])}" if r["owner"] else ""), "none"),
    ]
    if errors:
        blocks.append(_list_section(f"Could not audit ({len(errors)})", errors,
                                    lambda f: f"`{f.check_id}` {_escape(_where(f))}", "none"))
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _escape(
        f"secretaudit {__version__} · {source} · as of {facts['as_of']}")}]})
    return {"text": _escape(text), "blocks": blocks, "secretaudit": facts}


def _failure_line(session: "Session", finding: Finding) -> str:
    """```SA201` [critical] vault:prod:db: Secret expired``: check, severity, where, the check's title."""
    title = _title(session, finding.check_id)
    return (f"`{finding.check_id}` [{finding.severity.label}] {_escape(_where(finding))}"
            + (f": {_escape(title)}" if title else ""))


def _list_section(title: str, items: list[Any], line: Callable[[Any], str], empty: str) -> dict[str, Any]:
    lines = [f"• {line(item)}" for item in items[:MAX_LISTED]]
    if len(items) > MAX_LISTED:
        lines.append(f"… and {len(items) - MAX_LISTED} more (see the report)")
    body = "\n".join(lines) or f"_{empty}_"
    text = f"*{_escape(title)}*\n{body}"
    if len(text) > SECTION_LIMIT:
        text = text[:SECTION_LIMIT].rsplit("\n", 1)[0] + "\n… (cut; see the report)"
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


# -- posting ------------------------------------------------------------------------------------------


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return max(0.0, (moment - datetime.now(timezone.utc)).total_seconds())


def post(url: str, payload: dict[str, Any], timeout: float, sleep: Callable[[float], None] = time.sleep) -> int:
    """POST ``payload`` as JSON; returns the final HTTP status or raises :class:`NotifyError`.

    Retries once on 429 or 5xx (after ``Retry-After`` when it names at most
    :data:`MAX_RETRY_AFTER` seconds, else :data:`DEFAULT_RETRY_WAIT`).
    """
    from secretaudit.deadline import DeadlineExceeded, deadline

    body = json.dumps(payload).encode("utf-8")
    where = shown_url(url)
    try:
        with deadline(timeout):  # both attempts and the wait between them, not each socket read
            return _post(url, body, where, timeout, sleep)
    except DeadlineExceeded as exc:
        raise NotifyError(exc.explain(where)) from None


def _post(url: str, body: bytes, where: str, timeout: float, sleep: Callable[[float], None]) -> int:
    for attempt in (1, 2):
        request = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8", "User-Agent": f"secretaudit/{__version__}"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (http(s) checked)
                response.read(65536)
                return int(response.status)
        except urllib.error.HTTPError as exc:
            status = exc.code
            wait = _retry_after(exc.headers.get("Retry-After") if exc.headers else None)
            exc.close()
            retryable = status == 429 or 500 <= status < 600
            if attempt == 1 and retryable:
                if wait is not None and wait > MAX_RETRY_AFTER:
                    raise NotifyError(f"{where} answered HTTP {status} and asked to retry after {wait:.0f}s "
                                      f"(more than {MAX_RETRY_AFTER:.0f}s); the summary was not posted") from None
                sleep(DEFAULT_RETRY_WAIT if wait is None else wait)
                continue
            hint = ("check the webhook URL (revoked or mistyped?)" if status in (401, 403, 404, 410)
                    else "the receiver refused the payload" if 400 <= status < 500
                    else "the receiver failed; try again later")
            tried = " twice" if attempt == 2 else ""
            raise NotifyError(f"{where} answered HTTP {status}{tried}; {hint}") from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            cause = getattr(reason, "strerror", None) or str(reason)
            raise NotifyError(f"cannot reach {where} ({cause}); check the URL and the network") from None
        except TimeoutError:
            raise NotifyError(f"{where} did not answer within {timeout:g}s (--timeout)") from None
        except OSError as exc:
            raise NotifyError(f"cannot post to {where} ({exc.strerror or exc.__class__.__name__}); check the "
                              "URL and the network") from None
    raise AssertionError("unreachable")  # pragma: no cover


def notify(session: "Session", url: str) -> str | None:
    """Build and post the summary; returns a one-line warning on failure, None when delivered.

    Never raises: whatever goes wrong here must leave the audit's result as it is.
    """
    timeout = float(session.config.settings.get("timeout") or 30)
    try:
        payload = build_summary(session)
        post(url, payload, timeout)
    except NotifyError as exc:
        return f"could not post the audit summary: {exc}"
    except Exception as exc:  # a bug here must not cost the audit its exit code
        return (f"could not post the audit summary: internal error ({exc.__class__.__name__}); "
                "please report it")
    return None
