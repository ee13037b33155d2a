"""SA103: connection strings that carry their password.

A database, broker or service URL with the password inside
(``postgres://app:<password>@db:5432/app``) is the most common way a
production credential ends up in a repository: it sits in settings files,
docker-compose files, CI configs and tests.  This check recognises the
password part of

* URLs with user info, ``scheme://user:password@host``, for the database,
  broker and service schemes of :data:`SCHEMES` (SQLAlchemy's
  ``dialect+driver://`` and ``jdbc:`` prefixes included);
* JDBC URLs with the password as a parameter (``jdbc:mysql://h/db?user=u&password=p``,
  ``jdbc:sqlserver://h;user=u;password=p``) or Oracle's thin form
  (``jdbc:oracle:thin:user/password@host:1521:SID``);
* ODBC / ADO.NET strings (``Server=...;Database=...;User Id=...;Password=...;``,
  ``Pwd=``, ``{braced;values}``);
* libpq keyword/value DSNs (``host=db user=app password=... dbname=app``).

Only the password is reported (and redacted by the engine); passwords that
are placeholders or references (``${DB_PASSWORD}``, ``%s``, ``<password>``,
``changeme``, ``****``) are skipped with :mod:`secretaudit.checks.filters`.

Speed: most files contain no ``://``, no ``jdbc:`` and no ``password``/``pwd``;
three substring searches (C speed) decide that before any regex runs.
"""

from __future__ import annotations

import re
from typing import Callable, Iterator, NamedTuple, TYPE_CHECKING

from secretaudit.checks import filters
from secretaudit.controls import HARDCODED_CREDENTIALS
from secretaudit import multiscan
from secretaudit.hookspec import hookimpl
from secretaudit.model import CheckSpec, Detection, FileItem, Severity, lower_keeping_offsets
from secretaudit.checks.lazyre import lazy_compile
from secretaudit.multiscan import PatternSet

if TYPE_CHECKING:
    from secretaudit.config import Config
    from secretaudit.registry import CheckRegistry

CHECK_ID = "SA103"

SPEC = CheckSpec(
    id=CHECK_ID,
    title="Connection string with embedded password",
    severity=Severity.HIGH,
    description=(
        "A database, message-broker or service connection string (URL, JDBC, ODBC/ADO.NET or "
        "libpq DSN) contains a literal password. Anyone who can read the repository can connect "
        "with it, and the password lives on in git history."
    ),
    remediation=(
        "Rotate the password, then build the connection string at runtime from a secret store or "
        "an environment variable (e.g. postgres://app:${DB_PASSWORD}@db/app, or pass the password "
        "as a separate driver argument)."
    ),
    tags=("secrets", "connection-string", "database"),
    controls=HARDCODED_CREDENTIALS,
)

#: URL schemes whose user info is a service credential, mapped to the family
#: that names the rule (``<family>-uri``).  SQLAlchemy ``dialect+driver``
#: schemes are looked up by their dialect (``postgresql+psycopg2`` ->
#: ``postgresql``); ``mongodb+srv`` and ``neo4j+s`` are listed as written.
SCHEMES: dict[str, str] = {
    **dict.fromkeys(("postgres", "postgresql", "pgsql", "postgis", "psql", "cockroachdb",
                     "redshift", "timescaledb", "yugabytedb"), "postgres"),
    **dict.fromkeys(("mysql", "mysqlx", "mariadb", "tidb", "singlestore", "memsql"), "mysql"),
    **dict.fromkeys(("mongodb", "mongodb+srv", "mongo"), "mongodb"),
    **dict.fromkeys(("redis", "rediss", "valkey", "valkeys", "redis-sentinel", "keydb"), "redis"),
    **dict.fromkeys(("amqp", "amqps", "rabbitmq"), "amqp"),
    **dict.fromkeys(("mssql", "sqlserver", "mssql+pyodbc", "mssql+pymssql", "sybase"), "mssql"),
    **dict.fromkeys(("oracle", "oracle+cx_oracle", "oracle+oracledb"), "oracle"),
    **dict.fromkeys(("db2", "ibm_db_sa", "clickhouse", "clickhouses", "cassandra", "couchdb",
                     "couchbase", "couchbases", "neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s",
                     "memcached", "influxdb", "snowflake", "presto", "trino", "hive", "vertica",
                     "teradata", "firebird", "sqlalchemy", "arangodb", "rethinkdb", "elasticsearch",
                     "opensearch", "solr", "etcd", "consul", "zookeeper"), "database"),
    **dict.fromkeys(("kafka", "nats", "tls", "mqtt", "mqtts", "stomp", "stomp+ssl", "activemq",
                     "sqs", "beanstalk", "pulsar", "pulsar+ssl"), "broker"),
    **dict.fromkeys(("ldap", "ldaps", "ftp", "ftps", "sftp", "ssh", "scp", "smtp", "smtps",
                     "submission", "imap", "imaps", "pop3", "pop3s", "http", "https", "git",
                     "git+https", "git+ssh", "svn", "svn+ssh", "rsync", "ws", "wss", "socks5",
                     "socks5h", "socks4", "webdav", "davs", "s3"), "url"),
}

#: Reserved documentation hosts (RFC 2606 / RFC 6761): credentials pointing at
#: them are examples, unless the password itself looks generated.
EXAMPLE_HOSTS = lazy_compile(r"(?:^|\.)(?:example\.(?:com|org|net)|example|test|invalid)(?::\d+)?$", re.IGNORECASE)

#: Passwords shorter than this are test fixtures (``a:b@host``), not credentials.
MIN_PASSWORD_LENGTH = 4

_USERINFO = lazy_compile(r"://(?P<user>[^\s:/?#@'\"`<>]*):(?P<pw>[^\s'\"`<>/?#]*)@(?P<host>[^\s/?#'\"`<>@,;]*)")
_SCHEME_BEFORE = lazy_compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+._-]*)$")
_JDBC = lazy_compile(r"jdbc:[^\s'\"`<>]+", re.IGNORECASE)
#: Longest braced value (``{p;w}``) taken as one: SQL Server, whose drivers brace
#: values, allows 128 characters.  Bounded, because an unclosed brace is
#: otherwise searched to the end of the string again from every later
#: ``password={`` (quadratic on a line made of them).
MAX_BRACED = 128
_JDBC_PARAM = lazy_compile(rf"[?&;](?:password|pwd)=(?P<pw>\{{[^}}\n]{{0,{MAX_BRACED}}}\}}|[^&;\s'\"`<>]*)",
                           re.IGNORECASE)
_ORACLE_THIN = lazy_compile(r"jdbc:oracle:(?:thin|oci8?):(?P<user>[^/@:\s'\"]+)/(?P<pw>[^@\s'\"]+)@", re.IGNORECASE)
_KV_PASSWORD = lazy_compile(
    r"(?:^|(?<=[\s;\"'{(,]))(?P<key>password|pwd)\s*=\s*"
    rf"(?P<pw>\{{(?:[^}}\n]|\}}\}}){{0,{MAX_BRACED}}}\}}|'(?:[^'\\\n]|\\.)*'|[^;\s\"'`\n]*)",
    re.IGNORECASE,
)
#: Keys that make a ``key=value;...`` string a connection string (ODBC / ADO.NET).
_ODBC_KEYS = lazy_compile(
    r"(?:^|[;\"'\s])(?:server|data\s*source|datasource|address|addr|network\s*address|database|"
    r"initial\s*catalog|driver|provider|dsn|uid|user\s*id|userid|user\s*name|username)\s*=",
    re.IGNORECASE,
)
#: A libpq DSN: two or more ``key=value`` pairs separated by blanks only
#: (``host=db user=app password=... dbname=app``), which keeps Python keyword
#: arguments (``host=h, password='x'``, SA102's business) out.
_LIBPQ_DSN = lazy_compile(
    r"(?<![\w=])(?:(?:host|hostaddr|dbname|user|port|sslmode|password|connect_timeout|options|"
    r"application_name|target_session_attrs|service)=(?:'(?:[^'\\\n]|\\.)*'|[^\s'\",;()`]++)"
    r"(?:[ \t]+|(?=[\"'`\n]|$))){2,}",
    re.IGNORECASE,
)


#: Where a libpq pair can start: what :data:`_LIBPQ_DSN` starts with.
_LIBPQ_KEY = lazy_compile(
    r"(?<![\w=])(?:host|hostaddr|dbname|user|port|sslmode|password|connect_timeout|options|"
    r"application_name|target_session_attrs|service)=",
    re.IGNORECASE,
)
_LIBPQ_VALUE_END = lazy_compile(r"[\s'\",;()`]")


def _libpq_dsns(line: str) -> list[tuple[int, int]]:
    """The spans of ``_LIBPQ_DSN.finditer(line)``, in linear time.

    A pair's unquoted value runs to the next blank, quote or ``,;()``: every
    pair that starts inside one such run (``x&password=x&password=...``)
    ends where the run ends and is followed by the same text, so once one
    of them fails to start a DSN they all do.  The regex would try each
    again from the start, a scan of the run per pair: quadratic on a line
    made of them.  Pairs with a quoted value (``password='...'``) are
    always tried.
    """
    spans: list[tuple[int, int]] = []
    done = skip_to = 0
    for key in _LIBPQ_KEY.finditer(line):
        start, value_start = key.start(), key.end()
        quoted = line.startswith("'", value_start)
        if start < done or (start < skip_to and not quoted):
            continue
        match = _LIBPQ_DSN.match(line, start)
        if match is not None:
            spans.append(match.span())
            done = match.end()
        elif not quoted:
            value_end = _LIBPQ_VALUE_END.search(line, value_start)
            skip_to = len(line) if value_end is None else value_end.start()
    return spans


class ConnectionPassword(NamedTuple):
    """A password found in a connection string: where it is and which form it had.

    ``start``/``end`` are offsets of the password in the scanned text;
    ``span_start`` is where the connection string begins (for SA102, which
    leaves everything inside a connection string to this check).
    """

    start: int
    end: int
    password: str
    rule: str
    span_start: int

    def __repr__(self) -> str:  # never show the password
        return f"ConnectionPassword(rule={self.rule!r}, start={self.start}, end={self.end})"


def _unbrace(value: str) -> str:
    """ODBC values may be braced (``{p;w}``, ``}}`` escaping ``}``); libpq ones quoted."""
    if len(value) >= 2 and value[0] == "{" and value[-1] == "}":
        return value[1:-1].replace("}}", "}")
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("\\'", "'")
    return value


def is_skipped_password(password: str, user: str = "", host: str = "") -> bool:
    """Whether a connection-string password is not worth reporting.

    Too short to be real, a placeholder or reference (see :mod:`secretaudit.checks.filters`;
    a password inside a URL is literal text, so call syntax is not code), the
    user name repeated (``guest:guest``, ``postgres:postgres``: public default
    credentials of local containers), or a typed password pointing at a reserved
    example host.  A generated-looking password (:func:`~secretaudit.checks.filters.looks_random`)
    is reported whatever the host: a real password whose host name was
    anonymised for a commit (``db.internal.example``) is still a leak.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        return True
    if filters.is_placeholder(password) or filters.is_reference(password, literal=True):
        return True
    if filters.is_example_key(password):
        return True
    if user and password.lower() == user.lower():
        return True
    if host and EXAMPLE_HOSTS.search(host.rsplit("@", 1)[-1].split(",")[0]):
        return not filters.looks_random(password)
    return False


def _scheme_rule(text: str, at: int) -> str | None:
    """The rule for the URL whose ``://`` is at ``at``, or None for other schemes."""
    match = _SCHEME_BEFORE.search(text, max(0, at - 48), at)
    if match is None:
        return None
    scheme = match.group("scheme").lower()
    family = SCHEMES.get(scheme) or SCHEMES.get(scheme.split("+", 1)[0])
    if family is None:
        return None
    return "url-credentials" if family == "url" else f"{family}-uri"


def _url_passwords(text: str) -> Iterator[ConnectionPassword]:
    for match in _USERINFO.finditer(text):
        rule = _scheme_rule(text, match.start())
        if rule is None:
            continue
        password, user, host = match.group("pw"), match.group("user"), match.group("host")
        if is_skipped_password(password, user, host):
            continue
        scheme_start = _SCHEME_BEFORE.search(text, max(0, match.start() - 48), match.start())
        span = scheme_start.start() if scheme_start else match.start()
        yield ConnectionPassword(match.start("pw"), match.end("pw"), password, rule, span)


def _jdbc_passwords(text: str, low: str) -> Iterator[ConnectionPassword]:
    at = low.find("jdbc:")
    while at != -1:
        match = _JDBC.match(text, at)
        if match is None:  # pragma: no cover - "jdbc:" always matches
            break
        url = match.group(0)
        thin = _ORACLE_THIN.match(url)
        if thin and not is_skipped_password(thin.group("pw"), thin.group("user")):
            yield ConnectionPassword(at + thin.start("pw"), at + thin.end("pw"), thin.group("pw"), "jdbc", at)
        for param in _JDBC_PARAM.finditer(url):
            password = _unbrace(param.group("pw"))
            if not is_skipped_password(password):
                offset = at + param.start("pw") + (1 if param.group("pw").startswith("{") else 0)
                yield ConnectionPassword(offset, offset + len(password), password, "jdbc", at)
        at = low.find("jdbc:", match.end())


def _line_bounds(text: str, at: int) -> tuple[int, int]:
    start = text.rfind("\n", 0, at) + 1
    end = text.find("\n", at)
    return start, len(text) if end == -1 else end


def _keyvalue_passwords(text: str, low: str) -> Iterator[ConnectionPassword]:
    """ODBC / ADO.NET and libpq strings: ``password=`` next to connection keys."""
    seen_lines: set[int] = set()
    for stem in ("password", "pwd"):
        at = low.find(stem)
        while at != -1:
            start, end = _line_bounds(text, at)
            at = low.find(stem, end)  # the whole line is looked at once: not again per occurrence
            if start in seen_lines:
                continue
            seen_lines.add(start)
            line = text[start:end]
            if "=" not in line:
                continue
            if ";" in line and _ODBC_KEYS.search(line):
                regions = [(0, len(line), "odbc")]
            else:
                regions = [(a, b, "libpq-dsn") for a, b in _libpq_dsns(line)]
            for region_start, region_end, rule in regions:
                region = line if rule == "odbc" else line[region_start:region_end]
                for match in _KV_PASSWORD.finditer(region):
                    raw = match.group("pw")
                    password = _unbrace(raw)
                    if is_skipped_password(password):
                        continue
                    offset = start + region_start + match.start("pw") + (len(raw) - len(password)) // 2
                    yield ConnectionPassword(offset, offset + len(password), password, rule, start + region_start)


#: What each form of connection string needs in the text, as one pattern set.
_MARKERS = PatternSet(("://", "jdbc:", "pwd", "password"), caseless=True)


def _forms_present(text: str, low: Callable[[], str]) -> tuple[bool, bool, bool]:
    """Whether ``text`` may hold a URL, a JDBC URL, or a key-value password (in one pass if accelerated)."""
    if multiscan.accelerates(text, _MARKERS):  # non-ASCII text too: no marker holds the i or k that İ or K lower to
        found = {index for index, _end in _MARKERS.ends(text)}
        return 0 in found, 1 in found, 2 in found or 3 in found
    lowered = low()
    return "://" in text, "jdbc:" in lowered, "pwd" in lowered or "password" in lowered


def find_passwords(text: str, low: Callable[[], str] | None = None) -> list[ConnectionPassword]:
    """Every reportable password in connection strings of ``text``, in text order.

    Pure function of the text, shared with SA102 (which must not report these).
    One password found by two forms (a JDBC URL with user info) is kept once.
    ``low`` gives ``text`` through :func:`lower_keeping_offsets` (a
    :class:`FileItem` computes it once for all checks); it is only called
    when the text may hold a JDBC URL or a key-value password.
    """
    lowered = low if low is not None else lambda: lower_keeping_offsets(text)
    has_url, has_jdbc, has_kv = _forms_present(text, lowered)
    if not (has_url or has_jdbc or has_kv):
        return []
    low_text = lowered() if has_jdbc or has_kv else ""
    found: dict[tuple[int, str], ConnectionPassword] = {}
    sources = []
    if has_jdbc:
        sources.append(_jdbc_passwords(text, low_text))
    if has_url:
        sources.append(_url_passwords(text))
    if has_kv:
        sources.append(_keyvalue_passwords(text, low_text))
    for source in sources:
        for hit in source:
            found.setdefault((hit.start, hit.password), hit)
    return sorted(found.values(), key=lambda h: h.start)


_URL_TOKEN_END = lazy_compile(r"[\s'\"`<>]|$")


def regions(line: str) -> list[tuple[int, int]]:
    """Column ranges of ``line`` that are connection strings, reportable or not.

    SA102 leaves everything inside these to this check, including passwords
    this check deliberately skips (``guest:guest``), so the two never
    disagree about a connection string.
    """
    low = line.lower()
    spans: list[tuple[int, int]] = []
    if "://" in line:
        for match in _USERINFO.finditer(line):
            if _scheme_rule(line, match.start()) is None:
                continue
            scheme = _SCHEME_BEFORE.search(line, max(0, match.start() - 48), match.start())
            end = _URL_TOKEN_END.search(line, match.end()).start()
            spans.append((scheme.start() if scheme else match.start(), end))
    if "jdbc:" in low:
        spans.extend(m.span() for m in _JDBC.finditer(line))
    if "pwd" in low or "password" in low:
        if ";" in line and _ODBC_KEYS.search(line):
            spans.append((0, len(line)))
        else:
            spans.extend(_libpq_dsns(line))
    return spans



@hookimpl
def secretaudit_register_checks(registry: "CheckRegistry") -> None:
    """Register SA103."""
    registry.add(SPEC)


@hookimpl
def secretaudit_scan_file(item: FileItem, config: "Config") -> list[Detection] | None:
    """Report each literal password of a connection string in ``item``.

    The password SA104 reports for a committed credential file (a
    ``.git-credentials`` line, a ``.env`` ``DATABASE_URL``) is left to SA104:
    on the same line and secret the engine would keep this check's finding
    and drop the file-level one, whose remediation differs.
    """
    if not config.is_enabled(CHECK_ID):
        return None
    hits = find_passwords(item.text, lambda: item.lowered)
    if not hits:
        return None
    from secretaudit.claims import claimed_values

    claimed = claimed_values(item, config, CHECK_ID)
    detections = []
    for hit in hits:
        if hit.password in claimed:
            continue
        line = item.line_of(hit.start)
        detections.append(Detection(
            check_id=CHECK_ID,
            line=line,
            secret=hit.password,
            label=_LABELS.get(hit.rule, "Connection string with a password"),
            visible_prefix="",
            rule=hit.rule,
        ))
    return detections or None


_LABELS: dict[str, str] = {
    "postgres-uri": "PostgreSQL connection URL with a password",
    "mysql-uri": "MySQL/MariaDB connection URL with a password",
    "mongodb-uri": "MongoDB connection URL with a password",
    "redis-uri": "Redis connection URL with a password",
    "amqp-uri": "AMQP (RabbitMQ) connection URL with a password",
    "mssql-uri": "SQL Server connection URL with a password",
    "oracle-uri": "Oracle connection URL with a password",
    "database-uri": "Database connection URL with a password",
    "broker-uri": "Message broker URL with a password",
    "url-credentials": "URL with an embedded password",
    "jdbc": "JDBC URL with a password",
    "odbc": "ODBC/ADO.NET connection string with a password",
    "libpq-dsn": "PostgreSQL DSN with a password",
}
