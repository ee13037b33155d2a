"""The ``aws-secrets-manager`` backend: AWS Secrets Manager metadata via ``ListSecrets``.

One paginated ``ListSecrets`` call per page (100 secrets) per configured
region returns everything the lifecycle checks need: rotation enabled and
rules, last and next rotation, last access, creation, deletion and the tags
(``kind``, ``owner``, ``expiry_date``).  No per-secret call is made and
secret values are never read, so the IAM policy needs only
``secretsmanager:ListSecrets`` (plus nothing for ``sts:GetCallerIdentity``,
which ``status`` uses).

Settings of one ``backends`` entry (``type: aws-secrets-manager``)::

    region: us-east-1            # or regions: [us-east-1, eu-west-1]
    access_key_id: ${AWS_ACCESS_KEY_ID}        # optional, with secret_access_key
    secret_access_key: ${AWS_SECRET_ACCESS_KEY}
    session_token: ${AWS_SESSION_TOKEN}        # optional, temporary credentials
    profile: audit               # optional, a profile of ~/.aws/config
    endpoint_url: http://127.0.0.1:5000        # optional: moto / LocalStack
    max_attempts: 5              # requests per call, retries included

Without keys or a profile, boto3's default credential chain is used
(environment, shared files, SSO, container or instance role).  The standard
``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_SECRETS_MANAGER`` variables are
honoured by boto3 itself.  Requests are retried in botocore's ``standard``
mode (exponential backoff with jitter, throttling included); each API call,
its retries included, must be done within the run's ``timeout``
(``--timeout``, see :mod:`secretaudit.deadline`).
"""

from __future__ import annotations

import random
import re
import threading
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Iterator
from urllib.parse import urlsplit

from secretaudit.backends import Backend, BackendError, BackendStatus, infer_kind, parse_date
from secretaudit.clients.aws import BAD_CREDENTIAL_CODES, DENIED_CODES, THROTTLE_CODES, public_url, scrub
from secretaudit.errors import ConfigError
from secretaudit.hookspec import hookimpl
from secretaudit.model import SecretRecord
from secretaudit.redact import register_secret, shape, shown_name

if TYPE_CHECKING:
    from secretaudit.backends import BackendRegistry
    from secretaudit.config import Config

TYPE = "aws-secrets-manager"
PAGE_SIZE = 100
LIST_ACTION = "secretsmanager:ListSecrets"

#: every setting an entry may hold, with what it is (for error messages)
ALLOWED = {
    "region": "an AWS region (us-east-1)",
    "regions": "a list of AWS regions",
    "access_key_id": "an access key id (use ${AWS_ACCESS_KEY_ID})",
    "secret_access_key": "a secret access key (use ${AWS_SECRET_ACCESS_KEY})",
    "session_token": "a session token for temporary credentials (use ${AWS_SESSION_TOKEN})",
    "profile": "a profile name of the shared AWS config",
    "endpoint_url": "an http(s) URL of a Secrets Manager compatible endpoint (moto, LocalStack)",
    "max_attempts": "requests per API call, retries included (an integer >= 1, default 5)",
}
DEFAULT_MAX_ATTEMPTS = 5

_REGION = re.compile(r"^[a-z]{2}(-[a-z0-9]+)+-\d+$")

#: AWS access key ids (and other unique ids) that boto messages may echo back
#: ``credentials.method`` (botocore) -> how ``status`` names the auth method
_AUTH_METHODS = {
    "explicit": "static keys from config",
    "env": "environment",
    "iam-role": "instance role",
    "container-role": "container role",
    "assume-role-with-web-identity": "web identity (assume-role-with-web-identity)",
}


# -- settings ------------------------------------------------------------------------------


def _entry_key(config: "Config", name: str) -> str:
    """``backends[N]`` of the entry named ``name`` (the factory is not told its index)."""
    for index, entry in enumerate(config.settings.get("backends") or ()):
        if isinstance(entry, dict) and entry.get("type") == TYPE and str(entry.get("name") or TYPE) == name:
            return f"backends[{index}]"
    return f"backends[{name}]"


def _validate(name: str, settings: dict[str, Any], config: "Config") -> dict[str, Any]:
    source = config.source or "config"
    where = _entry_key(config, name)

    def fail(key: str, problem: str) -> ConfigError:
        return ConfigError(source, f"{where}.{key}", problem)

    for key in settings:
        if key not in ALLOWED:
            raise fail(str(key), f"unknown {TYPE} setting (allowed: {', '.join(sorted(ALLOWED))})")

    def text(key: str) -> str | None:
        value = settings.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise fail(key, f"expected a string, got {type(value).__name__}; {key} is {ALLOWED[key]}")
        return value.strip()

    regions: list[str] = []
    region = text("region")
    if region:
        regions.append(region)
    if "regions" in settings and settings["regions"] is not None:
        value = settings["regions"]
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",")]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise fail("regions", f"expected a list of region names; regions is {ALLOWED['regions']}")
        regions.extend(v.strip() for v in value)
    for value in regions:
        if not _REGION.match(value):
            key = "region" if value == region else "regions"
            raise fail(key, f"got {shape(value)}, which is not an AWS region name (e.g. us-east-1)")
    regions = list(dict.fromkeys(regions))  # de-duplicated, in order

    # empty strings (``${AWS_ACCESS_KEY_ID:-}``) count as not given
    key_id = text("access_key_id") or None
    secret = text("secret_access_key") or None
    token = text("session_token") or None
    profile = text("profile") or None
    if bool(key_id) != bool(secret):
        missing = "secret_access_key" if key_id else "access_key_id"
        raise fail(missing, "access_key_id and secret_access_key go together: set both, or neither to use "
                            "the default credential chain (environment, profile, instance role)")
    if token and not key_id:
        raise fail("session_token", "a session_token needs access_key_id and secret_access_key")
    if profile and key_id:
        raise fail("profile", "set either profile or access_key_id/secret_access_key, not both")

    endpoint = text("endpoint_url") or None
    if endpoint:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise fail("endpoint_url", f"expected an http(s) URL (e.g. http://127.0.0.1:5000); "
                                       f"endpoint_url is {ALLOWED['endpoint_url']}")

    attempts = settings.get("max_attempts", DEFAULT_MAX_ATTEMPTS)
    if attempts is None:
        attempts = DEFAULT_MAX_ATTEMPTS
    if isinstance(attempts, str) and attempts.strip().isdigit():
        attempts = int(attempts.strip())
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        raise fail("max_attempts", f"expected an integer >= 1, got {shape(attempts)}; max_attempts is "
                                   f"{ALLOWED['max_attempts']}")

    return {"regions": regions, "access_key_id": key_id, "secret_access_key": secret, "session_token": token,
            "profile": profile, "endpoint_url": endpoint, "max_attempts": attempts}


# -- messages ------------------------------------------------------------------------------


def _utc(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, timezone.utc)
    parsed = parse_date(value)
    return parsed.astimezone(timezone.utc) if parsed else None


_RATE = re.compile(r"^rate\(\s*(\d+)\s+(day|days|hour|hours)\s*\)$")


def _rotation_days(rules: dict[str, Any]) -> int | None:
    days = rules.get("AutomaticallyAfterDays")
    if isinstance(days, int) and days > 0:
        return days
    match = _RATE.match(str(rules.get("ScheduleExpression") or "").strip())
    if match:
        amount = int(match.group(1))
        return amount if match.group(2).startswith("day") else max(1, -(-amount // 24))
    return None


# -- the backend ---------------------------------------------------------------------------


class AwsSecretsManagerBackend(Backend):
    """Secrets Manager in one or more regions of one account."""

    type = TYPE

    def __init__(self, name: str, settings: dict[str, Any], config: "Config") -> None:
        super().__init__(name, settings, config)
        self.options = _validate(name, settings, config)
        self.timeout = float(config.settings.get("timeout") or 30)
        #: per endpoint URL: set once a call there missed the --timeout deadline, so later ones fail at once
        self._breakers: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._session: Any = None
        self._sensitive = (self.options["secret_access_key"], self.options["session_token"],
                           self.options["access_key_id"])
        register_secret(*self._sensitive)  # scrubbed from every message, whatever library quotes it
        #: operation names of every HTTP request made (``ListSecrets``...), retries included
        self.operations: list[str] = []

    # -- boto plumbing

    def _count(self, event_name: str = "", **_: Any) -> None:
        with self._lock:
            self.api_calls += 1
            self.operations.append(event_name.rsplit(".", 1)[-1])

    def _get_session(self) -> Any:
        if self._session is None:
            import boto3.session
            from botocore.exceptions import ProfileNotFound

            opts = self.options
            try:
                self._session = boto3.session.Session(
                    aws_access_key_id=opts["access_key_id"], aws_secret_access_key=opts["secret_access_key"],
                    aws_session_token=opts["session_token"], profile_name=opts["profile"])
            except ProfileNotFound:
                raise BackendError(f"AWS profile {shown_name(opts['profile'])} is not in the shared config/credentials "
                                   f"files; fix 'profile' or create it with 'aws configure --profile'",
                                   "config") from None
        return self._session

    def regions(self) -> list[str]:
        """The configured regions, else the session's default region."""
        if self.options["regions"]:
            return list(self.options["regions"])
        default = self._get_session().region_name
        if not default:
            raise BackendError("no AWS region: set region (or regions) in the backend entry, or AWS_REGION",
                               "config")
        return [default]

    def client(self, service: str, region: str) -> Any:
        """A boto3 client with the run's timeout, standard retries and request counting."""
        from botocore.config import Config as BotoConfig

        boto_config = BotoConfig(connect_timeout=self.timeout, read_timeout=self.timeout,
                                 # total_max_attempts: attempts including the first, as
                                 # max_attempts means in the AWS shared config
                                 retries={"mode": "standard", "total_max_attempts": self.options["max_attempts"]},
                                 user_agent_extra="secretaudit")
        kwargs: dict[str, Any] = {"region_name": region, "config": boto_config}
        if self.options["endpoint_url"]:
            kwargs["endpoint_url"] = self.options["endpoint_url"]
        try:
            client = self._get_session().client(service, **kwargs)
        except BackendError:
            raise
        except Exception as exc:  # InvalidRegionError, bad endpoint...
            raise BackendError(f"cannot set up the {service} client for {region}: "
                               f"{scrub(str(exc), self._sensitive)}; check region and endpoint_url", "config") from None
        from secretaudit.deadline import Breaker, bind_boto_client

        breaker = self._breakers.setdefault(client.meta.endpoint_url, Breaker())
        bind_boto_client(client, self.timeout, breaker)  # --timeout bounds each call, retries included
        client.meta.events.register("before-send", self._count)
        service_event = client.meta.service_model.service_id.hyphenize()
        client.meta.events.register_first(f"needs-retry.{service_event}", self._connection_retry)
        return client

    def _connection_retry(self, attempts: int = 0, caught_exception: Exception | None = None,
                          **_: Any) -> float | None:
        """Short backoff (50 ms doubling, at most 1 s) before retrying a failed connection.

        botocore's standard mode waits up to 1, 2, 4, 8 s between attempts
        for every error; that is right for throttling but leaves a refused
        connection hanging for ~15 s.  Returning a delay here (the first
        answer wins) only shortens the wait: the attempt limit still holds,
        and throttling keeps botocore's longer backoff.
        """
        from botocore.exceptions import ConnectionClosedError
        from botocore.exceptions import ConnectionError as BotoConnectionError

        if caught_exception is None or attempts >= self.options["max_attempts"]:
            return None
        if not isinstance(caught_exception, (BotoConnectionError, ConnectionClosedError)):
            return None
        return random.random() * min(0.05 * 2 ** (attempts - 1), 1.0)

    def _error(self, exc: Exception, region: str, action: str, endpoint: str, attempts: int) -> BackendError:
        """A one-line :class:`BackendError` naming the cause and the fix (never a key)."""
        from botocore.exceptions import (
            ClientError,
            ConnectionClosedError,
            ConnectTimeoutError,
            CredentialRetrievalError,
            EndpointConnectionError,
            NoCredentialsError,
            NoRegionError,
            PartialCredentialsError,
            ProfileNotFound,
            ReadTimeoutError,
            SSLError,
        )

        service = "Secrets Manager" if action.startswith("secretsmanager:") else "STS"
        where = f"the {service} endpoint {endpoint or '(default)'} in {region}"
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        from secretaudit.deadline import DeadlineExceeded

        if isinstance(exc, BackendError):
            return exc
        if isinstance(exc, DeadlineExceeded):
            return BackendError(f"{self.label}: {exc.explain(where)}", "timeout")
        if isinstance(exc, (ConnectTimeoutError, ReadTimeoutError)):
            return BackendError(f"{where} did not answer within {self.timeout:g} s{tries}; raise --timeout "
                                f"(or 'timeout' in the config) or check the network path", "timeout")
        if isinstance(exc, SSLError):
            return BackendError(f"TLS handshake with {where} failed ({type(exc).__name__}); check endpoint_url "
                                f"and the CA bundle (AWS_CA_BUNDLE)", "unreachable")
        if isinstance(exc, (EndpointConnectionError, ConnectionClosedError)) or \
                type(exc).__name__ in ("ConnectionError", "ProxyConnectionError"):
            return BackendError(f"cannot connect to {where}{tries}; check region/endpoint_url and network",
                                "unreachable")
        if isinstance(exc, NoCredentialsError):
            return BackendError("no AWS credentials: set access_key_id/secret_access_key or AWS_PROFILE "
                                "(or run where an instance/container role is available)", "config")
        if isinstance(exc, PartialCredentialsError):
            return BackendError(f"incomplete AWS credentials ({scrub(str(exc), self._sensitive)}); set both "
                                f"access_key_id and secret_access_key", "config")
        if isinstance(exc, (ProfileNotFound, NoRegionError)):
            return BackendError(f"{scrub(str(exc), self._sensitive)}; fix profile/region in the backend entry",
                                "config")
        if isinstance(exc, CredentialRetrievalError):
            return BackendError(f"cannot obtain AWS credentials ({scrub(str(exc), self._sensitive)}); check the "
                                f"profile's credential source", "config")
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {}) if isinstance(exc.response, dict) else {}
            code = str(error.get("Code") or "Unknown")
            detail = scrub(str(error.get("Message") or ""), self._sensitive)
            detail = f": {detail}" if detail else ""
            if code in BAD_CREDENTIAL_CODES:
                return BackendError(f"{service} rejected the credentials in {region} ({code}): the access key is "
                                    f"invalid or expired; fix access_key_id/secret_access_key (and session_token) "
                                    f"or refresh the profile's credentials", "denied")
            if code in DENIED_CODES:
                return BackendError(f"access denied by {service} in {region} ({code}{detail}); grant the IAM "
                                    f"action {action} on resource * to the audit identity", "denied")
            if code in THROTTLE_CODES:
                return BackendError(f"{service} throttled {action.split(':')[1]} in {region}{tries} ({code}); "
                                    f"run the audit off-peak, raise max_attempts, or request a higher quota",
                                    "throttled")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") \
                if isinstance(exc.response, dict) else None
            if status == 403:
                return BackendError(f"access denied by {service} in {region} (HTTP 403 {code}{detail}); grant the "
                                    f"IAM action {action} to the audit identity", "denied")
            return BackendError(f"{service} {action.split(':')[1]} failed in {region}{tries} ({code}{detail}); "
                                f"check the endpoint and the AWS service health", "error")
        return BackendError(f"{service} {action.split(':')[1]} failed in {region} "
                            f"({type(exc).__name__}: {scrub(str(exc), self._sensitive)})", "error")

    # -- records

    def records(self) -> Iterator[SecretRecord]:
        try:
            regions = self.regions()
        except BackendError:
            raise
        except Exception as exc:
            raise self._error(exc, "(no region)", LIST_ACTION, "", 1) from None
        prefix = len(regions) > 1
        for region in regions:
            yield from self._region_records(region, prefix)

    def _region_records(self, region: str, prefix: bool) -> Iterator[SecretRecord]:
        client = self.client("secretsmanager", region)
        endpoint = public_url(client.meta.endpoint_url)
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"MaxResults": PAGE_SIZE, "IncludePlannedDeletion": True}
            if token:
                kwargs["NextToken"] = token
            before = self.api_calls
            try:
                page = client.list_secrets(**kwargs)
            except Exception as exc:
                raise self._error(exc, region, LIST_ACTION, endpoint, self.api_calls - before) from None
            for entry in page.get("SecretList") or ():
                yield self._record(entry, region, prefix)
            token = page.get("NextToken")
            if not token:
                return

    def _record(self, entry: dict[str, Any], region: str, prefix: bool) -> SecretRecord:
        raw_name = str(entry.get("Name") or entry.get("ARN") or "?")
        tags = tuple((str(t.get("Key", "")), str(t.get("Value", ""))) for t in entry.get("Tags") or ())
        by_key = {key.lower().replace("-", "_"): value for key, value in tags}
        extra: list[tuple[str, Any]] = [("region", region)]

        expires = None
        if by_key.get("expiry_date"):
            try:
                expires = _utc(by_key["expiry_date"])
            except ValueError as exc:
                extra.append(("metadata_error", f"tag expiry_date: {exc}"))

        created = _utc(entry.get("CreatedDate"))
        last_rotated = _utc(entry.get("LastRotatedDate"))
        tagged = None
        if by_key.get("last_rotated"):  # written by 'secretaudit rotate' (staged rotations leave no LastRotatedDate)
            try:
                tagged = _utc(by_key["last_rotated"])
            except ValueError:
                tagged = None
        if tagged is not None and (last_rotated is None or tagged > last_rotated):
            last_rotated = tagged
        if last_rotated is None:
            last_rotated = created
            extra.append(("never_rotated", True))
        rules = entry.get("RotationRules") or {}
        if rules.get("ScheduleExpression"):
            extra.append(("rotation_schedule", str(rules["ScheduleExpression"])))
        if entry.get("LastChangedDate"):
            extra.append(("last_changed", _utc(entry["LastChangedDate"])))
        if entry.get("DeletedDate"):
            extra.append(("pending_deletion", True))
            extra.append(("deleted_date", _utc(entry["DeletedDate"])))
        if entry.get("OwningService"):
            extra.append(("owning_service", str(entry["OwningService"])))
        stages = entry.get("SecretVersionsToStages")
        if isinstance(stages, dict):  # whether an AWSPREVIOUS exists, known without another call
            extra.append(("has_previous", any("AWSPREVIOUS" in (s or ()) for s in stages.values())))
        if entry.get("PrimaryRegion") and entry.get("PrimaryRegion") != region:
            extra.append(("primary_region", str(entry["PrimaryRegion"])))

        return SecretRecord(
            backend=self.label,
            name=f"{region}/{raw_name}" if prefix else raw_name,
            path=str(entry.get("ARN") or ""),
            kind=infer_kind(raw_name, by_key.get("kind") or None),
            created=created,
            last_rotated=last_rotated,
            expires=expires,
            rotation_enabled=bool(entry.get("RotationEnabled", False)),
            rotation_days=_rotation_days(rules),
            next_rotation=_utc(entry.get("NextRotationDate")),
            last_accessed=_utc(entry.get("LastAccessedDate")),
            owner=by_key.get("owner") or None,
            tags=tags,
            extra=tuple(extra),
        )

    # -- status

    def config_warnings(self, endpoint: str | None = None) -> list[str]:
        warnings = []
        url = endpoint or self.options["endpoint_url"] or ""
        if url.startswith("http://"):
            host = urlsplit(url).hostname or ""
            local = host in ("localhost", "127.0.0.1", "::1") or host.endswith(".localhost")
            warnings.append(f"endpoint {public_url(url)} is plain http" +
                            (" (fine for moto/LocalStack on this machine)" if local else
                             "; requests and credentials' signatures travel unencrypted: use https"))
        raw = self._raw_entry()
        for key, var in (("access_key_id", "AWS_ACCESS_KEY_ID"), ("secret_access_key", "AWS_SECRET_ACCESS_KEY"),
                         ("session_token", "AWS_SESSION_TOKEN")):
            value = raw.get(key)
            if isinstance(value, str) and value.strip() and "${" not in value:
                warnings.append(f"{key} is written inline in the config; use ${{{var}}} (or a profile/role)")
        return warnings

    def _raw_entry(self) -> dict[str, Any]:
        """This backend's entry in the config file before ``${VAR}`` interpolation."""
        raw = self.config.raw or {}
        block = raw.get("external_secrets")
        if isinstance(block, dict):
            entry = block.get("aws_secrets_manager")
            return entry if isinstance(entry, dict) and self.name == TYPE else {}
        for entry in raw.get("backends") or ():
            if isinstance(entry, dict) and entry.get("type") == TYPE and str(entry.get("name") or TYPE) == self.name:
                return entry
        return {}

    def auth_method(self) -> str:
        session = self._get_session()
        credentials = session.get_credentials()
        if credentials is None:
            return "none (no credentials found)"
        method = getattr(credentials, "method", "") or ""
        if method in ("shared-credentials-file", "config-file", "assume-role", "sso", "custom-process",
                      "assume-role-with-web-identity") and session.profile_name:
            kind = {"assume-role": "assumed role", "sso": "SSO", "custom-process": "credential_process"}.get(method)
            return f"profile {session.profile_name}" + (f" ({kind})" if kind else "")
        return _AUTH_METHODS.get(method, method or "unknown")

    def fetch(self, record: SecretRecord) -> dict[str, str]:
        """The secret's AWSCURRENT value (GetSecretValue), as fields: a JSON object's keys, else ``value``.

        The stage is asked for explicitly: equivalent on AWS, and moto's
        server otherwise keeps answering the version that was current before
        an UpdateSecretVersionStage.
        """
        return self.read_version(record, stage="AWSCURRENT")[0]

    # -- single secrets: get and rotate

    def _region_of(self, record: SecretRecord) -> str:
        return record.path.split(":")[3] if record.path.startswith("arn:") else self.regions()[0]

    def lookup(self, name: str) -> SecretRecord | None:
        """The record of one secret (DescribeSecret), or None if there is none.

        ``REGION/NAME`` picks the region when several are configured (as
        ``records`` names them).  A secret scheduled for deletion counts as absent.
        """
        regions = self.regions()
        prefix = len(regions) > 1
        wanted = name
        if prefix and "/" in name and name.split("/", 1)[0] in regions:
            regions, wanted = [name.split("/", 1)[0]], name.split("/", 1)[1]
        for region in regions:
            client = self.client("secretsmanager", region)
            before = self.api_calls
            try:
                entry = client.describe_secret(SecretId=wanted)
            except Exception as exc:
                code = getattr(exc, "response", {}).get("Error", {}).get("Code") if hasattr(exc, "response") else None
                if code == "ResourceNotFoundException":
                    continue
                raise self._error(exc, region, "secretsmanager:DescribeSecret", public_url(client.meta.endpoint_url),
                                  self.api_calls - before) from None
            if entry.get("DeletedDate"):
                continue
            return self._record(entry, region, prefix)
        return None

    def read_current(self, record: SecretRecord) -> tuple[dict[str, str], str | None]:
        """The AWSCURRENT value's fields and its VersionId."""
        fields, version = self.read_version(record, stage="AWSCURRENT")
        return fields, version

    def read_version(self, record: SecretRecord, stage: str | None = None,
                     version_id: str | None = None) -> tuple[dict[str, str], str | None]:
        """The fields of one version (by stage or id) and its VersionId (GetSecretValue)."""
        import json

        region = self._region_of(record)
        client = self.client("secretsmanager", region)
        before = self.api_calls
        kwargs: dict[str, Any] = {"SecretId": record.path or record.name}
        if version_id:
            kwargs["VersionId"] = version_id
        elif stage:
            kwargs["VersionStage"] = stage
        try:
            answer = client.get_secret_value(**kwargs)
        except Exception as exc:
            raise self._error(exc, region, "secretsmanager:GetSecretValue", public_url(client.meta.endpoint_url),
                              self.api_calls - before) from None
        version = answer.get("VersionId")
        text = answer.get("SecretString")
        if text is None:
            return {}, version
        try:
            data = json.loads(text)
        except ValueError:
            return {"value": text}, version
        fields = {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {"value": text}
        return fields, version

    def older_values(self, record: SecretRecord, limit: int) -> Iterator[tuple[str, dict[str, str]]]:
        """The AWSPREVIOUS value's fields, when there is one (``audit --correlate``: stale matches).

        ListSecrets says whether the secret has an AWSPREVIOUS version, so a
        secret never rotated costs no call; when it did not say, the read is
        tried and a missing stage is no error.
        """
        if limit < 1 or record.fact("has_previous") is False:
            return
        try:
            fields, _ = self.read_version(record, stage="AWSPREVIOUS")
        except BackendError as exc:
            if record.fact("has_previous") is None and "ResourceNotFoundException" in str(exc):
                return
            raise
        yield "AWSPREVIOUS", fields

    # -- writes (secretaudit rotate only)

    def _sm_call(self, record: SecretRecord, operation: str, **kwargs: Any) -> dict[str, Any]:
        """One Secrets Manager call on ``record``'s secret; failures become :class:`BackendError`."""
        region = self._region_of(record)
        client = self.client("secretsmanager", region)
        before = self.api_calls
        method = re.sub(r"(?<!^)([A-Z])", r"_\1", operation).lower()
        try:
            return getattr(client, method)(SecretId=record.path or record.name, **kwargs)
        except Exception as exc:
            raise self._error(exc, region, f"secretsmanager:{operation}", public_url(client.meta.endpoint_url),
                              self.api_calls - before) from None

    def describe(self, record: SecretRecord) -> dict[str, Any]:
        """DescribeSecret: rotation Lambda, VersionIdsToStages, tags."""
        return self._sm_call(record, "DescribeSecret")

    def put_pending(self, record: SecretRecord, text: str, token: str) -> str:
        """PutSecretValue labelled AWSPENDING only (AWSCURRENT untouched); idempotent per ``token``."""
        answer = self._sm_call(record, "PutSecretValue", ClientRequestToken=token, SecretString=text,
                               VersionStages=["AWSPENDING"])
        return str(answer.get("VersionId") or token)

    def move_stage(self, record: SecretRecord, stage: str, to_version: str | None,
                   from_version: str | None) -> None:
        """UpdateSecretVersionStage: one atomic label move (AWSCURRENT is never absent)."""
        kwargs: dict[str, Any] = {"VersionStage": stage}
        if to_version:
            kwargs["MoveToVersionId"] = to_version
        if from_version:
            kwargs["RemoveFromVersionId"] = from_version
        self._sm_call(record, "UpdateSecretVersionStage", **kwargs)

    def rotate_with_lambda(self, record: SecretRecord, lambda_arn: str, rules: dict[str, Any] | None = None) -> str:
        """RotateSecret: the configured rotation Lambda does create/set/test/finish.

        The Lambda ARN (and rules) are passed again explicitly: the same on AWS,
        while moto 5's server treats a RotateSecret without them as "no Lambda"
        and moves AWSCURRENT to a version that has no value.
        """
        kwargs: dict[str, Any] = {"RotationLambdaARN": lambda_arn}
        if rules:
            kwargs["RotationRules"] = rules
        answer = self._sm_call(record, "RotateSecret", **kwargs)
        return str(answer.get("VersionId") or "")

    def tag(self, record: SecretRecord, tags: dict[str, str]) -> None:
        """TagResource (e.g. ``last_rotated``, which ``list`` and the audit read)."""
        self._sm_call(record, "TagResource", Tags=[{"Key": k, "Value": v} for k, v in tags.items()])

    def status(self) -> BackendStatus:
        """Identity (STS GetCallerIdentity), auth method, latency, and a one-secret ListSecrets probe."""
        result = BackendStatus(backend=self.label, type=self.type, reachable=False)
        try:
            result.warnings = self.config_warnings()
            region = self.regions()[0]
            try:
                result.auth_method = self.auth_method()
            except Exception as exc:  # a failing credential_process, SSO login expired...
                raise self._error(exc, region, "sts:GetCallerIdentity", "", 1) from None
            secrets = self.client("secretsmanager", region)
            if not self.options["endpoint_url"]:  # AWS_ENDPOINT_URL* may point somewhere plain-http
                result.warnings = self.config_warnings(secrets.meta.endpoint_url)
            sts = self.client("sts", region)
            before = self.api_calls
            started = time.perf_counter()
            try:
                result.identity = str(sts.get_caller_identity().get("Arn") or "")
                result.latency_ms = round((time.perf_counter() - started) * 1000, 1)
            except Exception as exc:
                error = self._error(exc, region, "sts:GetCallerIdentity", public_url(sts.meta.endpoint_url),
                                    self.api_calls - before)
                result.warnings.append(f"identity unknown: {error}")
            # the one permission the audit needs
            before = self.api_calls
            started = time.perf_counter()
            try:
                secrets.list_secrets(MaxResults=1)
            except Exception as exc:
                error = self._error(exc, region, LIST_ACTION, public_url(secrets.meta.endpoint_url),
                                    self.api_calls - before)
                result.reachable = error.reason in ("denied", "throttled", "error")
                result.error = str(error)
                return result
            result.reachable = True
            if result.latency_ms is None:
                result.latency_ms = round((time.perf_counter() - started) * 1000, 1)
        except BackendError as exc:
            result.error = str(exc)
        except Exception as exc:  # status never raises
            result.error = f"{type(exc).__name__}: {scrub(str(exc), self._sensitive)}"
        return result


def factory(name: str, settings: dict[str, Any], config: "Config") -> AwsSecretsManagerBackend:
    return AwsSecretsManagerBackend(name, settings, config)


@hookimpl
def secretaudit_register_backends(registry: "BackendRegistry") -> None:
    registry.add(TYPE, factory)
