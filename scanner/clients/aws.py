"""AWS: boto3 sessions and clients, and what an AWS error means.

The Secrets Manager backend, the IAM check (SA301-SA303), AWS key validation
and key rotation classify the same error codes and scrub the same things
(access key ids, request signatures, the configured secrets) from botocore's
messages.  boto3 is imported only when a client is built.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

#: Attempts per call (botocore's standard retry mode) for the IAM check and validation.
MAX_ATTEMPTS = 3

_KEY_ID = re.compile(r"\b(AKIA|ASIA|AIDA|AROA|AIPA|ANPA|ANVA|APKA|ABIA|ACCA|AGPA)[A-Z0-9]{12,}\b")
_CREDENTIAL_SCOPE = re.compile(r"Credential=[^,\s]+")
_SIGNATURE = re.compile(r"Signature=[0-9a-fA-F]+")

#: Error codes by what they mean, for every AWS caller: access denied, a bad or expired credential, throttling.
DENIED_CODES = {"AccessDeniedException", "AccessDenied", "AccessDeniedFault", "AuthorizationError",
                "UnauthorizedOperation"}
BAD_CREDENTIAL_CODES = {"UnrecognizedClientException", "InvalidSignatureException", "InvalidSignature",
                        "SignatureDoesNotMatch", "ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId",
                        "IncompleteSignature", "IncompleteSignatureException", "MissingAuthenticationToken",
                        "MissingAuthenticationTokenException", "InvalidAccessKeyId", "AuthFailure",
                        "RequestExpired"}
THROTTLE_CODES = {"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded",
                  "ThrottledException", "RequestThrottled", "RequestThrottledException",
                  "SlowDown", "ProvisionedThroughputExceededException"}


def public_url(url: str | None) -> str:
    """An endpoint URL without any user:password part."""
    if not url:
        return ""
    parts = urlsplit(url)
    if "@" in parts.netloc:
        parts = parts._replace(netloc=parts.netloc.rsplit("@", 1)[1])
    return urlunsplit(parts)


def scrub(text: str, secrets: tuple[str | None, ...] = ()) -> str:
    """One line of ``text`` without access key ids, signatures or the configured secrets."""
    for value in secrets:
        if value and len(value) >= 4:
            text = text.replace(value, "<redacted>")
    text = _CREDENTIAL_SCOPE.sub("Credential=<redacted>", text)
    text = _SIGNATURE.sub("Signature=<redacted>", text)
    text = _KEY_ID.sub(lambda m: m.group(1) + "…(redacted)", text)
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:297] + "..."


def _session(options: dict[str, Any]) -> Any:
    import boto3.session

    return boto3.session.Session(aws_access_key_id=options.get("access_key_id"),
                                 aws_secret_access_key=options.get("secret_access_key"),
                                 aws_session_token=options.get("session_token"),
                                 profile_name=options.get("profile"))


def aws_client(service: str, options: dict[str, Any], timeout: float, attempts: int = MAX_ATTEMPTS) -> Any:
    """A boto3 client for ``service`` from a check's or rotation's options, bounded by ``timeout`` per call.

    ``options`` holds ``access_key_id``/``secret_access_key``/``session_token``/``profile``,
    ``region`` and ``endpoint_url``; boto3 is imported only here, when a call is made.
    """
    from botocore.config import Config as BotoConfig

    boto_config = BotoConfig(connect_timeout=timeout, read_timeout=timeout,
                             retries={"mode": "standard", "total_max_attempts": attempts},
                             user_agent_extra="secretaudit")
    kwargs: dict[str, Any] = {"region_name": options.get("region") or "us-east-1", "config": boto_config}
    if options.get("endpoint_url"):
        kwargs["endpoint_url"] = options["endpoint_url"]
    from secretaudit.deadline import bind_boto_client

    return bind_boto_client(_session(options).client(service, **kwargs), timeout)  # --timeout per call, retries included
