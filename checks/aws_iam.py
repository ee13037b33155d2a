"""Least privilege in AWS IAM (SA301-SA303) and the AWS access key validator.

During ``secretaudit audit``, when the config has a ``scopes.aws`` block,
this plugin adds one target of kind ``aws-iam`` and reads the real grants of
the configured roles and users from IAM (boto3, imported lazily)::

    scopes:
      aws:
        roles: [AI-Agent-Deployment]
        users: [ci-deployer]
        region: us-east-1
        endpoint_url: http://127.0.0.1:5000     # optional: moto / LocalStack
        access_key_id: ${AWS_ACCESS_KEY_ID}     # optional, else profile or the default chain
        secret_access_key: ${AWS_SECRET_ACCESS_KEY}
        profile: audit
    policy:
      scopes:
        aws_role: arn:aws:iam::123456789012:role/AI-Agent-Deployment   # audited too
        aws_rotation_days: 90

- SA301: the attached managed policies (default versions), the inline
  policies and the group policies of each role and user are parsed; every
  Allow statement granting ``*``, ``service:*``, sensitive actions on
  ``Resource: "*"``, ``NotAction``/``NotResource``, ``iam:PassRole`` on ``*``
  or a privilege-escalation action is one finding naming the policy, the
  statement (Sid or index) and what it grants.
- SA302: the access keys of the configured users: older than the rotation
  policy, two active keys, unused for ``policy.unused_days`` (default 90).
- SA303: a role or user that does not exist or cannot be read (an error,
  naming the IAM action that was refused).

The audit needs only read access: iam:GetRole, iam:GetUser,
iam:ListAttachedRolePolicies, iam:ListRolePolicies, iam:GetRolePolicy (and
the User/Group equivalents), iam:GetPolicy, iam:GetPolicyVersion,
iam:ListGroupsForUser, iam:ListAccessKeys, iam:GetAccessKeyLastUsed.

The validator (``secretaudit_validate_credential``, kind ``aws-access-key``)
calls STS GetCallerIdentity with exactly the keys of the secret.

``scopes.aws.from_backends: true`` (or ``scopes.from_backends``, see
:mod:`secretaudit.checks.from_backends`) takes the principals from the keys the
backends hold instead (:class:`IamBackendKeys`): each ``aws-access-key``
secret is fetched (a line in the access trail), STS names its user or assumed
role (the same call as the validator, with the same deadline and error
classes), a ``role_arn`` field adds the role the agent assumes, and those
principals are judged as listed ones, SA302 kept to that key.  The findings
sit at the secret.  ``roles``/``users`` may then be empty.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterable
from urllib.parse import unquote, urlsplit

from secretaudit.checks import from_backends
from secretaudit.checks.from_backends import BackendSecrets, ReadError, read
from secretaudit.controls import CIS_AWS_1_12, CIS_AWS_1_13, CIS_AWS_1_14, CIS_AWS_1_16, NIST_AC_2_3, NIST_AC_6, \
    NIST_IA_5, PCI_7_2_1, PCI_7_2_2, PCI_8_3_9
from secretaudit.clients.aws import BAD_CREDENTIAL_CODES, DENIED_CODES, THROTTLE_CODES, aws_client, public_url, scrub
from secretaudit.errors import ConfigError
from secretaudit.hookspec import hookimpl
from secretaudit.model import CheckSpec, Severity, Status, Target, Validation
from secretaudit.redact import shape
from secretaudit.stash import StashKey
from secretaudit.targets import TargetError, TargetFamily, TargetRun, Verdict

if TYPE_CHECKING:
    from secretaudit.config import Config
    from secretaudit.model import SecretRecord
    from secretaudit.registry import CheckRegistry
    from secretaudit.targets import FamilyRegistry

KIND = "aws-iam"
#: Targets of the AWS keys kept in a backend (``scopes.aws.from_backends``).
BACKEND_KIND = "aws-iam-backend"
#: the run's ``scopes.aws`` options, parsed once (None: no AWS scopes)
OPTIONS: StashKey[dict[str, Any] | None] = StashKey("aws_iam")
#: the IAM reader of the from_backends targets, made once per run
BACKEND_AUDITOR: StashKey["IamAuditor"] = StashKey("aws_iam_backend_auditor")
DEFAULT_ROTATION_DAYS = 90
DEFAULT_UNUSED_DAYS = 90

SA301 = CheckSpec(
    id="SA301",
    title="IAM policies grant least privilege",
    severity=Severity.HIGH,
    description=("An attached, inline or group policy of a configured IAM role or user allows every action "
                 "('*'), every action of a service ('iam:*': high for iam, kms, secretsmanager and sts, medium "
                 "otherwise), a sensitive action on Resource '*' (kms:Decrypt, secretsmanager:GetSecretValue, "
                 "s3 object access...), everything but a list (NotAction/NotResource with Allow), iam:PassRole "
                 "on '*', or an action known to escalate privileges (iam:CreatePolicyVersion, "
                 "iam:AttachRolePolicy, iam:PutUserPolicy, iam:CreateAccessKey on '*', "
                 "lambda:CreateFunction with iam:PassRole...)."),
    remediation=("Replace the statement with the specific actions the agent's task needs on the specific "
                 "resource ARNs (IAM Access Analyzer can generate a policy from CloudTrail activity); never "
                 "combine iam:PassRole or IAM write actions with Resource '*'."),
    tags=("scope", "aws", "iam"),
    controls=(NIST_AC_6, CIS_AWS_1_16, PCI_7_2_1, PCI_7_2_2),
    references=("https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#grant-least-privilege",),
    applies_to=(KIND, BACKEND_KIND),
)
SA302 = CheckSpec(
    id="SA302",
    title="IAM access keys are rotated, single and in use",
    severity=Severity.MEDIUM,
    description=("An active access key of a configured IAM user is older than the rotation policy "
                 "(policy.scopes.aws_rotation_days, default 90), the user has two active keys, or a key was "
                 "not used for policy.unused_days (default 90) days (never-used keys count from creation)."),
    remediation=("Rotate the key (create a new one, switch the agent over, deactivate and delete the old one); "
                 "keep one active key per user; delete keys nothing uses. Prefer roles with temporary "
                 "credentials over long-lived user keys."),
    tags=("scope", "aws", "iam", "rotation"),
    controls=(CIS_AWS_1_14, CIS_AWS_1_13, CIS_AWS_1_12, PCI_8_3_9, NIST_AC_2_3, NIST_IA_5),
    references=("https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html",),
    applies_to=(KIND, BACKEND_KIND),
)
SA303 = CheckSpec(
    id="SA303",
    title="IAM principals could be audited",
    severity=Severity.HIGH,
    description=("Every configured role and user exists and its policies and access keys could be read. A "
                 "missing principal, a refused IAM read action or an unreachable IAM endpoint is an error "
                 "result: its grants went unaudited, which is never a pass."),
    remediation=("Fix scopes.aws (role and user names, endpoint, credentials), or grant the audit identity the "
                 "IAM read action the message names."),
    tags=("scope", "aws", "iam"),
    controls=(NIST_AC_6,),
    applies_to=(KIND, BACKEND_KIND),
)

#: every key ``scopes.aws`` may hold, with what it is (for error messages)
ALLOWED = {
    "roles": "a list of IAM role names",
    "users": "a list of IAM user names",
    "region": "an AWS region (us-east-1)",
    "endpoint_url": "an http(s) URL of an IAM/STS compatible endpoint (moto, LocalStack)",
    "access_key_id": "an access key id (use ${AWS_ACCESS_KEY_ID})",
    "secret_access_key": "a secret access key (use ${AWS_SECRET_ACCESS_KEY})",
    "session_token": "a session token for temporary credentials (use ${AWS_SESSION_TOKEN})",
    "profile": "a profile name of the shared AWS config",
    "from_backends": "true to audit the identity of every aws-access-key secret of the backends",
}
_REGION = re.compile(r"^[a-z]{2}(-[a-z0-9]+)+-\d+$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:(iam::\d{12}:role/(?:.*/)?(?P<role>[\w+=,.@-]+)|"
                       r"sts::\d{12}:assumed-role/(?P<assumed>[\w+=,.@-]+)/.+)$")

# -- policy analysis ---------------------------------------------------------------------------

#: services whose wildcard is high severity (everything else: medium)
HIGH_SERVICES = {"iam", "kms", "secretsmanager", "sts"}

#: sensitive actions that must not be granted on Resource "*" -> severity
SENSITIVE_ON_ANY = {
    "iam:passrole": Severity.HIGH,
    "secretsmanager:getsecretvalue": Severity.HIGH,
    "kms:decrypt": Severity.HIGH,
    "kms:creategrant": Severity.HIGH,
    "sts:assumerole": Severity.HIGH,
    "ssm:getparameter": Severity.HIGH,
    "ssm:getparameters": Severity.HIGH,
    "ssm:getparametersbypath": Severity.HIGH,
    "s3:getobject": Severity.MEDIUM,
    "s3:putobject": Severity.MEDIUM,
    "s3:deleteobject": Severity.MEDIUM,
    "s3:putbucketpolicy": Severity.HIGH,
    "lambda:updatefunctioncode": Severity.HIGH,
    "ec2:runinstances": Severity.MEDIUM,
}

#: single actions that let a principal grant itself more (on a wildcard resource)
ESCALATION_ACTIONS = (
    "iam:createpolicyversion", "iam:setdefaultpolicyversion", "iam:attachuserpolicy", "iam:attachrolepolicy",
    "iam:attachgrouppolicy", "iam:putuserpolicy", "iam:putrolepolicy", "iam:putgrouppolicy",
    "iam:createaccesskey", "iam:createloginprofile", "iam:updateloginprofile", "iam:updateassumerolepolicy",
    "iam:addusertogroup",
)

#: action sets that escalate together (iam:PassRole plus a service that runs code as the passed role)
ESCALATION_SETS = (
    ("iam:passrole", "lambda:createfunction", "lambda:invokefunction"),
    ("iam:passrole", "lambda:createfunction", "lambda:createeventsourcemapping"),
    ("iam:passrole", "ec2:runinstances"),
    ("iam:passrole", "cloudformation:createstack"),
    ("iam:passrole", "glue:createdevendpoint"),
    ("iam:passrole", "datapipeline:createpipeline"),
    ("iam:passrole", "ecs:runtask"),
)

_CANONICAL = {a.lower(): a for a in (
    "iam:PassRole", "secretsmanager:GetSecretValue", "kms:Decrypt", "kms:CreateGrant", "sts:AssumeRole",
    "ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath", "s3:GetObject", "s3:PutObject",
    "s3:DeleteObject", "s3:PutBucketPolicy", "lambda:UpdateFunctionCode", "ec2:RunInstances",
    "iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:AttachUserPolicy", "iam:AttachRolePolicy",
    "iam:AttachGroupPolicy", "iam:PutUserPolicy", "iam:PutRolePolicy", "iam:PutGroupPolicy",
    "iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:UpdateLoginProfile", "iam:UpdateAssumeRolePolicy",
    "iam:AddUserToGroup", "lambda:CreateFunction", "lambda:InvokeFunction", "lambda:CreateEventSourceMapping",
    "cloudformation:CreateStack", "glue:CreateDevEndpoint", "datapipeline:CreatePipeline", "ecs:RunTask")}


def _names(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def _grants(patterns: Iterable[str], action: str) -> bool:
    """Does any action pattern (``*``, ``iam:*``, ``iam:Put*``) cover ``action`` (lower-case)?"""
    return any(fnmatch.fnmatchcase(action, p.lower()) for p in patterns)


@dataclass
class Problem:
    severity: Severity
    text: str


@dataclass
class StatementVerdict:
    """One Allow statement of one policy, with what is wrong with it."""

    policy: str
    statement: str
    problems: list[Problem] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    any_resource: bool = False

    @property
    def severity(self) -> Severity:
        return max(p.severity for p in self.problems)

    def message(self, principal: str) -> str:
        texts = list(dict.fromkeys(p.text for p in self.problems))
        shown = "; ".join(texts[:4]) + (f"; and {len(texts) - 4} more" if len(texts) > 4 else "")
        return f"{principal}: policy {self.policy}, statement {self.statement}: {shown}"


def parse_document(document: Any) -> dict[str, Any]:
    """A policy document as a mapping (boto3 decodes them; raw API answers are URL-encoded JSON)."""
    if isinstance(document, dict):
        return document
    if isinstance(document, str):
        text = document
        if text.lstrip().startswith("%7B") or "%22" in text:
            text = unquote(text)
        try:
            parsed = json.loads(text)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def analyse_policy(policy: str, document: Any) -> list[StatementVerdict]:
    """Every Allow statement of a policy, judged (statements without problems included)."""
    doc = parse_document(document)
    statements = doc.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    verdicts = []
    for index, statement in enumerate(statements):
        if not isinstance(statement, dict) or str(statement.get("Effect", "")).lower() != "allow":
            continue
        label = f"{statement['Sid']!r}" if statement.get("Sid") else f"#{index}"
        verdict = StatementVerdict(policy=policy, statement=label)
        actions = _names(statement.get("Action"))
        resources = _names(statement.get("Resource"))
        any_resource = "*" in resources or "NotResource" in statement
        verdict.actions, verdict.any_resource = actions, any_resource
        problems = verdict.problems
        on = "'*'" if "*" in resources else ", ".join(repr(r) for r in resources[:3]) or "(NotResource)"
        if "NotAction" in statement:
            excluded = ", ".join(_names(statement["NotAction"])[:5])
            problems.append(Problem(Severity.HIGH, f"Allow with NotAction [{excluded}] grants every other action"))
        if "NotResource" in statement:
            excluded = ", ".join(_names(statement["NotResource"])[:3])
            problems.append(Problem(Severity.HIGH, f"Allow with NotResource [{excluded}] grants every other "
                                                   f"resource"))
        if "*" in actions:
            problems.append(Problem(Severity.CRITICAL if "*" in resources else Severity.HIGH,
                                    f"allows every action ('*') on {on}"))
        for action in actions:
            service, _, name = action.partition(":")
            if name == "*" and service:
                severity = Severity.HIGH if service.lower() in HIGH_SERVICES else Severity.MEDIUM
                problems.append(Problem(severity, f"allows every {service} action ({action!r}) on {on}"))
        wildcard_actions = "*" in actions or any(a.endswith(":*") for a in actions)
        if any_resource:
            # specific sensitive actions (a service wildcard was already named above)
            for sensitive, severity in SENSITIVE_ON_ANY.items():
                if sensitive == "iam:passrole":
                    continue
                specific = [a for a in actions if a != "*" and not a.endswith(":*")]
                if _grants(specific, sensitive):
                    problems.append(Problem(severity, f"allows {_CANONICAL[sensitive]} on {on}"))
            if "*" not in actions and _grants(actions, "iam:passrole"):
                problems.append(Problem(Severity.HIGH, f"allows iam:PassRole on {on}: any role, including "
                                                       f"admin roles, can be handed to a service"))
            for escalation in ESCALATION_ACTIONS:
                if not wildcard_actions and _grants(actions, escalation):
                    problems.append(Problem(Severity.HIGH, f"allows {_CANONICAL[escalation]} on {on} "
                                                           f"(privilege escalation)"))
        if "NotAction" in statement and not actions:
            verdict.actions = ["*"]  # conservatively: everything but the listed actions
        verdicts.append(verdict)
    return verdicts


def escalation_combos(verdicts: list[StatementVerdict]) -> list[tuple[tuple[str, ...], list[str]]]:
    """Escalation action sets granted across a principal's statements: (set, where each is granted)."""
    found: list[tuple[tuple[str, ...], list[str]]] = []
    if any("*" in v.actions and v.any_resource for v in verdicts):
        return found  # full admin is already its own finding
    for combo in ESCALATION_SETS:
        where: list[str] = []
        for action in combo:
            granting = [v for v in verdicts if _grants(v.actions, action)
                        and (action != "iam:passrole" or v.any_resource)]
            if not granting:
                break
            where.append(f"{_CANONICAL[action]} ({granting[0].policy} {granting[0].statement})")
        else:
            found.append((combo, where))
    return found


# -- configuration -----------------------------------------------------------------------------


def _fail(config: "Config", key: str, problem: str) -> ConfigError:
    return ConfigError(config.source or "config", key, problem)


def parse_options(config: "Config") -> dict[str, Any] | None:
    """``scopes.aws`` validated (None when absent), plus the policy's aws_* settings."""
    scopes = config.settings.get("scopes") or {}
    if not isinstance(scopes, dict):
        raise _fail(config, "scopes", "expected a mapping ({aws: {...}})")
    policy_scopes = (config.settings.get("policy") or {}).get("scopes") or {}
    if not isinstance(policy_scopes, dict):
        raise _fail(config, "policy.scopes", "expected a mapping (aws_role, aws_rotation_days, github...)")

    rotation = policy_scopes.get("aws_rotation_days", DEFAULT_ROTATION_DAYS)
    if isinstance(rotation, str) and rotation.strip().isdigit():
        rotation = int(rotation.strip())
    if isinstance(rotation, bool) or not isinstance(rotation, int) or rotation < 1:
        raise _fail(config, "policy.scopes.aws_rotation_days", f"expected a number of days >= 1, got {shape(rotation)}")
    expected = policy_scopes.get("aws_role")
    expected_role = None
    if expected is not None:
        match = _ROLE_ARN.match(str(expected).strip()) if isinstance(expected, str) else None
        if not match:
            raise _fail(config, "policy.scopes.aws_role", f"expected an IAM role ARN "
                                                          f"(arn:aws:iam::123456789012:role/NAME), got {shape(expected)}")
        expected_role = match.group("role") or match.group("assumed")
    unused = (config.settings.get("policy") or {}).get("unused_days", DEFAULT_UNUSED_DAYS)
    unused = unused if isinstance(unused, int) and not isinstance(unused, bool) and unused > 0 \
        else DEFAULT_UNUSED_DAYS

    settings = scopes.get("aws")
    if settings is None:
        if not from_backends.enabled(config, "aws"):
            return None
        settings = {"from_backends": True}  # the keys' identities, read with the default credential chain
    if not isinstance(settings, dict):
        raise _fail(config, "scopes.aws", "expected a mapping (roles, users, region, endpoint_url...)")
    for key in settings:
        if key not in ALLOWED:
            raise _fail(config, f"scopes.aws.{key}", f"unknown setting (allowed: {', '.join(sorted(ALLOWED))})")

    def text(key: str) -> str | None:
        value = settings.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise _fail(config, f"scopes.aws.{key}", f"expected a string, got {type(value).__name__}; "
                                                     f"{key} is {ALLOWED[key]}")
        return value.strip() or None

    def names(key: str) -> list[str]:
        value = settings.get(key)
        if value is None:
            return []
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise _fail(config, f"scopes.aws.{key}", f"expected {ALLOWED[key]}")
        return list(dict.fromkeys(v.strip() for v in value))

    roles, users = names("roles"), names("users")
    if expected_role and expected_role not in roles:
        roles.append(expected_role)
    region = text("region")
    if region and not _REGION.match(region):
        raise _fail(config, "scopes.aws.region", f"got {shape(region)}, which is not an AWS region name (e.g. us-east-1)")
    endpoint = text("endpoint_url")
    if endpoint:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise _fail(config, "scopes.aws.endpoint_url", f"expected an http(s) URL; endpoint_url is "
                                                           f"{ALLOWED['endpoint_url']}")
    key_id, secret, token, profile = (text("access_key_id"), text("secret_access_key"), text("session_token"),
                                      text("profile"))
    if bool(key_id) != bool(secret):
        missing = "secret_access_key" if key_id else "access_key_id"
        raise _fail(config, f"scopes.aws.{missing}", "access_key_id and secret_access_key go together: set both, "
                                                     "or neither to use the profile or default credential chain")
    if token and not key_id:
        raise _fail(config, "scopes.aws.session_token", "a session_token needs access_key_id and secret_access_key")
    if profile and key_id:
        raise _fail(config, "scopes.aws.profile", "set either profile or access_key_id/secret_access_key, not both")
    if not roles and not users and not from_backends.enabled(config, "aws"):
        raise _fail(config, "scopes.aws", "name the IAM roles and/or users to audit (roles: [...], users: [...]), "
                                          "or take them from the backends' AWS keys (from_backends: true)")
    return {"roles": roles, "users": users, "region": region, "endpoint_url": endpoint, "access_key_id": key_id,
            "secret_access_key": secret, "session_token": token, "profile": profile,
            "rotation_days": rotation, "unused_days": unused}


@hookimpl
def secretaudit_register_checks(registry: "CheckRegistry") -> None:
    registry.add(SA301)
    registry.add(SA302)
    registry.add(SA303)


@hookimpl
def secretaudit_configure(config: "Config") -> None:
    from_backends.chosen(config)  # a bad scopes.from_backends is a config error before anything runs
    config.stash[OPTIONS] = parse_options(config)


def target_name(options: dict[str, Any]) -> str:
    if options["endpoint_url"]:
        return f"{KIND}:{urlsplit(public_url(options['endpoint_url'])).netloc}"
    return f"{KIND}:{options['profile'] or 'default'}"


@hookimpl
def secretaudit_register_families(registry: "FamilyRegistry") -> None:
    registry.add(IamPrincipals())
    registry.add(IamBackendKeys())


# -- talking to IAM ----------------------------------------------------------------------------


class AuditError(Exception):
    """One principal (or, with ``fatal``, the whole IAM endpoint) could not be read."""

    def __init__(self, message: str, fatal: bool = False) -> None:
        super().__init__(message)
        self.fatal = fatal


#: What to do about a principal IAM does not know, when it was hand-listed.
MISSING_FIX = "fix scopes.aws or create it"


def _classify(exc: Exception, action: str, subject: str, sensitive: tuple[str | None, ...],
              missing: str = MISSING_FIX) -> AuditError:
    """A one-line error naming cause and fix; ``fatal`` when no other principal can be read either."""
    from botocore.exceptions import BotoCoreError, ClientError

    from secretaudit.deadline import DeadlineExceeded

    if isinstance(exc, AuditError):
        return exc
    if isinstance(exc, DeadlineExceeded):  # the next principal would wait as long: stop here
        return AuditError(exc.explain(f"IAM ({action} for {subject})"), fatal=True)
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {}) if isinstance(exc.response, dict) else {}
        code = str(error.get("Code") or "Unknown")
        detail = scrub(str(error.get("Message") or ""), sensitive)
        detail = f": {detail}" if detail else ""
        if code in ("NoSuchEntity", "NoSuchEntityException"):
            return AuditError(f"{subject} does not exist ({action} answered {code}); {missing}")
        if code in BAD_CREDENTIAL_CODES:
            return AuditError(f"IAM rejected the audit credentials ({code}); fix scopes.aws access_key_id/"
                              f"secret_access_key or the profile", fatal=True)
        if code in DENIED_CODES or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 403:
            return AuditError(f"{subject} could not be read: access denied ({code}{detail}); grant the audit "
                              f"identity the IAM action {action}")
        if code in THROTTLE_CODES:
            return AuditError(f"IAM throttled {action} for {subject} ({code}); run the audit off-peak", fatal=True)
        return AuditError(f"{subject} could not be read: {action} failed ({code}{detail})")
    if isinstance(exc, BotoCoreError):
        return AuditError(f"cannot read IAM ({action} for {subject}): {scrub(str(exc), sensitive)}; check "
                          f"scopes.aws endpoint_url/region, credentials and the network", fatal=True)
    return AuditError(f"{subject} could not be read: {action} failed ({type(exc).__name__}: "
                      f"{scrub(str(exc), sensitive)})")


@dataclass
class Principal:
    kind: str  # "role" or "user"
    name: str

    @property
    def label(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def subject(self) -> str:
        return f"IAM {self.kind} {self.name!r}"


class IamAuditor:
    """Reads one principal's policies and keys; every call names its IAM action on failure."""

    def __init__(self, options: dict[str, Any], timeout: float, missing: str = MISSING_FIX) -> None:
        self.options = options
        self.missing = missing
        self.sensitive = (options.get("secret_access_key"), options.get("session_token"),
                          options.get("access_key_id"))
        self.iam = aws_client("iam", options, timeout)

    def call(self, principal: Principal, action: str, method: str, **kwargs: Any) -> dict[str, Any]:
        try:
            return getattr(self.iam, method)(**kwargs)
        except Exception as exc:
            raise _classify(exc, action, principal.subject, self.sensitive, self.missing) from None

    def pages(self, principal: Principal, action: str, method: str, key: str, **kwargs: Any) -> list[Any]:
        items: list[Any] = []
        marker = None
        while True:
            page = self.call(principal, action, method, **kwargs, **({"Marker": marker} if marker else {}))
            items.extend(page.get(key) or ())
            marker = page.get("Marker") if page.get("IsTruncated") else None
            if not marker:
                return items

    def managed(self, principal: Principal, attached: list[dict[str, Any]],
                via: str = "") -> list[StatementVerdict]:
        verdicts = []
        for entry in attached:
            arn = entry.get("PolicyArn") or ""
            policy = self.call(principal, "iam:GetPolicy", "get_policy", PolicyArn=arn)["Policy"]
            version = self.call(principal, "iam:GetPolicyVersion", "get_policy_version", PolicyArn=arn,
                                VersionId=policy["DefaultVersionId"])["PolicyVersion"]
            name = f"{entry.get('PolicyName') or arn} (managed{via})"
            verdicts.extend(analyse_policy(name, version.get("Document")))
        return verdicts

    def statements(self, principal: Principal) -> list[StatementVerdict]:
        """Every Allow statement the principal holds, judged."""
        p = principal
        if p.kind == "role":
            self.call(p, "iam:GetRole", "get_role", RoleName=p.name)
            attached = self.pages(p, "iam:ListAttachedRolePolicies", "list_attached_role_policies",
                                  "AttachedPolicies", RoleName=p.name)
            verdicts = self.managed(p, attached)
            for name in self.pages(p, "iam:ListRolePolicies", "list_role_policies", "PolicyNames", RoleName=p.name):
                doc = self.call(p, "iam:GetRolePolicy", "get_role_policy", RoleName=p.name, PolicyName=name)
                verdicts.extend(analyse_policy(f"{name} (inline)", doc.get("PolicyDocument")))
            return verdicts
        self.call(p, "iam:GetUser", "get_user", UserName=p.name)
        attached = self.pages(p, "iam:ListAttachedUserPolicies", "list_attached_user_policies",
                              "AttachedPolicies", UserName=p.name)
        verdicts = self.managed(p, attached)
        for name in self.pages(p, "iam:ListUserPolicies", "list_user_policies", "PolicyNames", UserName=p.name):
            doc = self.call(p, "iam:GetUserPolicy", "get_user_policy", UserName=p.name, PolicyName=name)
            verdicts.extend(analyse_policy(f"{name} (inline)", doc.get("PolicyDocument")))
        for group in self.pages(p, "iam:ListGroupsForUser", "list_groups_for_user", "Groups", UserName=p.name):
            gname = group.get("GroupName") or "?"
            attached = self.pages(p, "iam:ListAttachedGroupPolicies", "list_attached_group_policies",
                                  "AttachedPolicies", GroupName=gname)
            verdicts.extend(self.managed(p, attached, f", via group {gname}"))
            for name in self.pages(p, "iam:ListGroupPolicies", "list_group_policies", "PolicyNames",
                                   GroupName=gname):
                doc = self.call(p, "iam:GetGroupPolicy", "get_group_policy", GroupName=gname, PolicyName=name)
                verdicts.extend(analyse_policy(f"{name} (inline, via group {gname})", doc.get("PolicyDocument")))
        return verdicts

    def keys(self, principal: Principal) -> list[dict[str, Any]]:
        """The user's access keys, each with ``LastUsedDate`` (None when never used or unknown)."""
        keys = self.pages(principal, "iam:ListAccessKeys", "list_access_keys", "AccessKeyMetadata",
                          UserName=principal.name)
        for key in keys:
            if key.get("Status") != "Active":
                continue
            used = self.call(principal, "iam:GetAccessKeyLastUsed", "get_access_key_last_used",
                             AccessKeyId=key["AccessKeyId"])
            last = (used.get("AccessKeyLastUsed") or {}).get("LastUsedDate")
            key["LastUsedDate"] = last if isinstance(last, datetime) else None
        return keys


def _key_label(key_id: str) -> str:
    """An access key id as findings show it: its last four characters only."""
    return f"…{key_id[-4:]}" if len(key_id) > 4 else "…"


def _days(as_of: datetime, moment: datetime) -> int:
    return (as_of - moment).days


def key_issues(keys: list[dict[str, Any]], options: dict[str, Any],
               as_of: datetime) -> list[tuple[str, str, Severity | None]]:
    """SA302 problems of one user's keys: (rule, message, severity override)."""
    issues: list[tuple[str, str, Severity | None]] = []
    active = [k for k in keys if k.get("Status") == "Active"]
    rotation, unused = options["rotation_days"], options["unused_days"]
    if len(active) > 1:
        labels = ", ".join(_key_label(k["AccessKeyId"]) for k in active)
        issues.append(("two-active", f"{len(active)} active access keys ({labels}); keep one per user", None))
    for key in active:
        label = _key_label(str(key["AccessKeyId"]))
        created = key.get("CreateDate")
        if not isinstance(created, datetime):
            continue
        age = _days(as_of, created)
        if age > rotation:
            issues.append((f"{label}:age", f"access key {label} is {age} days old (created {created:%Y-%m-%d}); "
                                           f"the policy rotates keys every {rotation} days", Severity.HIGH
                           if age > 2 * rotation else None))
        last = key.get("LastUsedDate")
        if last is None and age > unused:
            issues.append((f"{label}:unused", f"access key {label} was never used since it was created "
                                              f"{age} days ago (unused for more than {unused} days)", None))
        elif last is not None and _days(as_of, last) > unused:
            issues.append((f"{label}:unused", f"access key {label} was last used {_days(as_of, last)} days ago "
                                              f"({last:%Y-%m-%d}); unused for more than {unused} days", None))
    return issues


@dataclass
class PrincipalUnit:
    """One configured role or user, with the IAM reader of its target."""

    auditor: IamAuditor
    principal: Principal


class IamPrincipals(TargetFamily[PrincipalUnit]):
    """SA301-SA303: one target per ``scopes.aws`` block, whose units are its roles and users."""

    kind = KIND
    mode = "audit"
    specs = (SA301, SA302, SA303)
    noun = "principals"

    def targets(self, config: "Config") -> list[Target]:
        options = config.stash.get(OPTIONS)
        if not options or not (options["roles"] or options["users"]):
            return []  # from_backends alone: the keys' identities are IamBackendKeys' targets
        return [Target(kind=KIND, name=target_name(options), declared=("scopes", "aws"))]

    def units(self, run: TargetRun) -> list[PrincipalUnit]:
        options = run.config.stash[OPTIONS]
        try:
            auditor = IamAuditor(options, float(run.config.settings.get("timeout") or 30))
        except Exception as exc:  # ProfileNotFound, bad region...
            error = _classify(exc, "iam client setup", "IAM", (options.get("secret_access_key"),
                                                               options.get("session_token")))
            raise TargetError(Verdict(SA303.id, KIND, "*", str(error), Status.ERROR, "setup")) from None
        return [PrincipalUnit(auditor, Principal(kind, name)) for kind, key in (("role", "roles"), ("user", "users"))
                for name in options[key]]

    def judge(self, run: TargetRun, unit: PrincipalUnit) -> list[Verdict]:
        auditor, principal = unit.auditor, unit.principal
        label = principal.label
        verdicts: list[Verdict] = []
        try:
            judge_principal(auditor, principal, run.config.stash[OPTIONS], run.config.as_of, verdicts)
        except AuditError as exc:  # what was judged before the failure stands
            if exc.fatal:
                raise TargetError(*verdicts, Verdict(SA303.id, KIND, "*", str(exc), Status.ERROR, "endpoint"),
                                  fatal=True) from None
            verdicts.append(Verdict(SA303.id, KIND, label, str(exc), Status.ERROR, "read"))
        return verdicts


def judge_principal(auditor: IamAuditor, principal: Principal, options: dict[str, Any], as_of: datetime,
                    verdicts: list[Verdict], key_id: str | None = None) -> None:
    """SA301 (policies) and, for a user, SA302 (access keys) verdicts on one principal, appended to ``verdicts``.

    Located at the ``aws-iam`` target and named by the principal's label; the
    caller relocates them (a backend's key).  ``key_id`` keeps SA302 to that
    key (and to a second active key beside it).  Appends as it goes, so what
    was judged before an :class:`AuditError` stands.
    """
    label = principal.label
    statements = auditor.statements(principal)
    for verdict in statements:
        if verdict.problems:
            verdicts.append(Verdict(SA301.id, KIND, label, verdict.message(label),
                                    rule=f"{verdict.policy}#{verdict.statement}", severity=verdict.severity))
    for combo, where in escalation_combos(statements):
        verdicts.append(Verdict(SA301.id, KIND, label, f"{label}: privilege escalation: the policies "
                                                       f"together allow {' + '.join(where)}",
                                rule="escalation:" + "+".join(combo), severity=Severity.HIGH))
    if principal.kind != "user":
        return
    own = f"{_key_label(key_id)}:" if key_id else ""
    for rule, message, severity in key_issues(auditor.keys(principal), options, as_of):
        if own and rule != "two-active" and not rule.startswith(own):
            continue  # another key of the user: not the one this secret holds
        verdicts.append(Verdict(SA302.id, KIND, label, f"{label}: {message}", rule=rule, severity=severity))


# -- the keys the backends hold (from_backends) ------------------------------------------------

#: How a backend's key target is named (the rest is the backend's label).
BACKEND_TARGET = "aws keys in "
_STS_USER = re.compile(r"^arn:aws[a-z-]*:iam::(?P<account>\d{12}):user/(?:[^/]+/)*(?P<name>[\w+=,.@-]+)$")
_STS_ROOT = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:root$")


def key_principals(arn: str, role_arn: str) -> list[tuple[Principal, str]]:
    """Whose policies the key's holder acts with, and how findings say so: its user or assumed role, a role_arn."""
    found: list[tuple[Principal, str]] = []
    user = _STS_USER.match(arn)
    if user:
        found.append((Principal("user", user.group("name")), "the key's identity"))
    assumed = _ROLE_ARN.match(arn)
    if assumed:
        found.append((Principal("role", assumed.group("role") or assumed.group("assumed")), "the key's identity"))
    assumes = _ROLE_ARN.match(role_arn) if role_arn else None
    if assumes:
        role = Principal("role", assumes.group("role") or assumes.group("assumed"))
        if role not in [p for p, _ in found]:
            found.append((role, "the role the key assumes (role_arn)"))
    return found


def _auditor(run: TargetRun) -> IamAuditor:
    """The IAM reader of the run's from_backends targets (the scopes.aws credentials, else the default chain)."""
    cached = run.config.stash.get(BACKEND_AUDITOR)
    if cached is None:
        options = run.config.stash[OPTIONS]
        try:
            cached = IamAuditor(options, float(run.config.settings.get("timeout") or 30),
                                missing="the key's identity may live in another account than the audit "
                                        "credentials, or was deleted; audit with credentials of its account")
        except Exception as exc:  # ProfileNotFound, bad region...
            raise _classify(exc, "iam client setup", "IAM", (options.get("secret_access_key"),
                                                             options.get("session_token"))) from None
        run.config.stash[BACKEND_AUDITOR] = cached
    return cached


class IamBackendKeys(BackendSecrets):
    """SA301-SA303 for every aws-access-key secret of a backend: STS says whose key it is, IAM what it may do.

    Each key is fetched (a line in the access trail), sent once to STS
    GetCallerIdentity and dropped; the identity's user (or assumed role) and a
    role the secret names in ``role_arn`` are read with the audit's own IAM
    credentials and judged as hand-listed principals are.  Findings are
    located at the secret and name the principal.
    """

    kind = BACKEND_KIND
    family = "aws"
    secret_kinds = ("aws-access-key",)
    prefix = BACKEND_TARGET
    specs = (SA301, SA302, SA303)
    noun = "keys"

    def judge(self, run: TargetRun, unit: "SecretRecord") -> list[Verdict]:
        config = run.config
        if not any(config.is_enabled(spec.id) for spec in self.specs):
            return []  # reads no value when the checks are off

        def error(message: str, rule: str = "read") -> list[Verdict]:
            return [Verdict(SA303.id, unit.backend, unit.name, message, Status.ERROR, rule)]

        from secretaudit.credentials import credential_fields

        try:
            credential = credential_fields(unit.kind, read(config, self.backend(run), unit, self.family))
        except ReadError as exc:
            return error(f"not checked: could not read the key: {exc}")
        key_id = str(credential.get("access_key_id") or "").strip()
        role_arn = str(credential.get("role_arn") or "").strip()
        identity = caller_identity(credential, config)
        del credential
        if identity.status == "invalid":
            return error(f"not checked: the key is rejected: {identity.message}; validate it (secretaudit validate "
                         f"--secret {unit.backend}:{unit.name}) and rotate it", "rejected")
        if identity.status != "valid":
            return error(f"not checked: {identity.message}", "identity")
        arn = identity.identity
        if _STS_ROOT.match(arn):
            return [Verdict(SA301.id, unit.backend, unit.name, f"the key belongs to the account's root user ({arn}): "
                            "it can do everything, and no policy limits it; replace it with a role or an IAM user "
                            "key of least privilege and delete the root key", rule="root", severity=Severity.CRITICAL)]
        principals = key_principals(arn, role_arn)
        if not principals:
            return error(f"not checked: the key's identity {arn} is not an IAM user or role", "identity")
        try:
            auditor = _auditor(run)
        except AuditError as exc:
            raise TargetError(Verdict(SA303.id, unit.backend, unit.name, str(exc), Status.ERROR, "setup"),
                              fatal=True) from None
        verdicts: list[Verdict] = []
        for principal, how in principals:
            found: list[Verdict] = []
            try:
                judge_principal(auditor, principal, config.stash[OPTIONS], config.as_of, found,
                                key_id if principal.kind == "user" and key_id[:4] != "ASIA" else None)
            except AuditError as exc:
                verdicts.extend(self._here(unit, found, principal, how))
                if exc.fatal:
                    raise TargetError(*verdicts, Verdict(SA303.id, unit.backend, unit.name, str(exc), Status.ERROR,
                                                         "endpoint"), fatal=True) from None
                verdicts.append(Verdict(SA303.id, unit.backend, unit.name, f"{how} ({arn}): {exc}",
                                        Status.ERROR, f"{principal.label}:read"))
                continue
            verdicts.extend(self._here(unit, found, principal, how))
        return verdicts

    @staticmethod
    def _here(unit: "SecretRecord", verdicts: list[Verdict], principal: Principal, how: str) -> list[Verdict]:
        """Verdicts on a principal, located at the secret holding its key (the principal in message and rule)."""
        return [replace(v, backend=unit.backend, name=unit.name, rule=f"{principal.label}:{v.rule}",
                        message=f"{how}, IAM {v.message}") for v in verdicts]


# -- validation ------------------------------------------------------------------------------

_INVALID_CODES = {"InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken", "ExpiredTokenException",
                  "UnrecognizedClientException", "InvalidAccessKeyId", "InvalidSignatureException",
                  "AuthFailure", "IncompleteSignature"}


@hookimpl
def secretaudit_validate_credential(kind: str, credential: dict[str, str], config: "Config") -> Validation | None:
    return caller_identity(credential, config) if kind == "aws-access-key" else None


def caller_identity(credential: dict[str, str], config: "Config") -> Validation:
    """STS GetCallerIdentity with exactly the credential's keys: valid (identity = the ARN), invalid or unknown."""
    key_id = str(credential.get("access_key_id") or "").strip()
    secret = str(credential.get("secret_access_key") or "").strip()
    token = str(credential.get("session_token") or "").strip() or None
    sensitive = (secret, token, key_id)
    if not key_id or not secret:
        return Validation("unknown", message="could not validate: the secret has no access_key_id and "
                                             "secret_access_key fields")
    aws_scope = ((config.settings.get("scopes") or {}).get("aws") or {})
    aws_scope = aws_scope if isinstance(aws_scope, dict) else {}
    endpoint = credential.get("endpoint_url") or aws_scope.get("endpoint_url") or os.environ.get("AWS_ENDPOINT_URL")
    region = credential.get("region") or aws_scope.get("region") or "us-east-1"
    timeout = float(config.settings.get("timeout") or 30)
    options = {"access_key_id": key_id, "secret_access_key": secret, "session_token": token,
               "endpoint_url": endpoint or None, "region": region}
    from botocore.exceptions import BotoCoreError, ClientError

    from secretaudit.deadline import DeadlineExceeded

    try:
        sts = aws_client("sts", options, timeout, attempts=2)
        answer = sts.get_caller_identity()
    except ClientError as exc:
        error = exc.response.get("Error", {}) if isinstance(exc.response, dict) else {}
        code = str(error.get("Code") or "Unknown")
        detail = scrub(str(error.get("Message") or ""), sensitive)
        if code in _INVALID_CODES:
            return Validation("invalid", message=f"AWS rejected the key ({code}{': ' + detail if detail else ''})")
        if code in THROTTLE_CODES:
            return Validation("unknown", message=f"could not validate: STS throttled GetCallerIdentity ({code})")
        return Validation("unknown", message=f"could not validate: STS GetCallerIdentity failed "
                                             f"({code}{': ' + detail if detail else ''})")
    except BotoCoreError as exc:
        where = public_url(endpoint) if endpoint else "the STS endpoint"
        return Validation("unknown", message=f"could not validate: cannot reach {where} "
                                             f"({type(exc).__name__}: {scrub(str(exc), sensitive)})")
    except DeadlineExceeded as exc:
        where = public_url(endpoint) if endpoint else "the STS endpoint"
        return Validation("unknown", message=f"could not validate: {exc.explain(f'{where} (GetCallerIdentity)')}")
    except Exception as exc:
        return Validation("unknown", message=f"could not validate: {type(exc).__name__}: "
                                             f"{scrub(str(exc), sensitive)}")
    arn = str(answer.get("Arn") or "") if isinstance(answer, dict) else ""
    if not arn:  # a 200 that is not STS's answer (a proxy, a misrouted endpoint) proves nothing
        where = public_url(endpoint) if endpoint else "the STS endpoint"
        return Validation("unknown", message=f"could not validate: {where} answered GetCallerIdentity without an "
                                             "identity (Arn); check endpoint_url / AWS_ENDPOINT_URL")
    return Validation("valid", identity=arn, message=f"AWS accepted the key: {arn}")
