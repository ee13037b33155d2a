"""Vault / OpenBao over HTTP: what a failed call means.

The vault backend, the Vault policy checks and GitHub's token lookup through
Vault all turn a requests exception chain into the same words, and a 403 or
404 into the same two exceptions.  No hvac or requests import here: the
callers import them when they make a call.
"""

from __future__ import annotations


def connection_cause(exc: BaseException) -> str:
    """What went wrong on the wire, in words, from a requests/urllib3 exception chain (never its URL or token)."""
    text = ""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:  # the whole chain, urllib3 nests it
        seen.add(id(current))
        text += f" {current!r} {current}"
        current = current.__cause__ or current.__context__
    lowered = text.lower()
    for needle, cause in (("refused", "connection refused"),
                          ("name or service not known", "host name does not resolve"),
                          ("nodename nor servname", "host name does not resolve"),
                          ("temporary failure in name resolution", "host name does not resolve"),
                          ("getaddrinfo failed", "host name does not resolve"),
                          ("no route to host", "no route to host"),
                          ("network is unreachable", "network unreachable"),
                          ("reset by peer", "connection reset by the server"),
                          ("remotedisconnected", "connection closed by the server"),
                          ("connection aborted", "connection closed by the server"),
                          ("incompleteread", "connection closed mid-answer"),
                          ("connection broken", "connection closed mid-answer")):
        if needle in lowered:
            return cause
    return exc.__class__.__name__


class Denied(Exception):
    """A 403, turned into a message by the caller, who knows which capability was missing.

    Public because a check (SA304, SA509) reading Vault through the backend
    words its own message for the capability it needed.
    """


class NotFound(Exception):
    """A 404."""
