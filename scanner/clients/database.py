"""Database connections (MySQL/MariaDB through PyMySQL, PostgreSQL through pg8000).

One place for logging in and for turning a driver failure into a
:class:`DatabaseError` whose message names the cause and never a password:
the SA306 grant check, ``database-password`` validation and rotation all log
in the same way.  The drivers are imported only when a login happens.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import socket
from typing import Any

ENGINES = {"mysql": "mysql", "mariadb": "mysql", "postgres": "postgres", "postgresql": "postgres",
           "pg": "postgres"}
DEFAULT_PORTS = {"mysql": 3306, "postgres": 5432}


class DatabaseError(Exception):
    """The grants could not be read; the message names the cause and never a password.

    ``reason``: ``unreachable`` (refused, timeout, DNS), ``denied`` (login
    refused), ``error`` (anything else, e.g. no right to read the grants).
    """

    def __init__(self, message: str, reason: str = "error") -> None:
        super().__init__(message)
        self.reason = reason


def hostport(host: str, port: int) -> str:
    """HOST:PORT as messages print it (an IPv6 host bracketed)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# -- driver errors, scrubbed --------------------------------------------------------------


def scrub_db_message(text: str, *secrets: str) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = re.sub(r"(?i)(password\s*[=:]\s*)(?!YES\b|NO\b)[^\s)]+", r"\1***", text)
    text = re.sub(r"(?i)(IDENTIFIED (?:BY|VIA|WITH)\s+)(?:PASSWORD\s+)?'[^']*'", r"\1'***'", text)
    return " ".join(text.split())[:300]


def mysql_error(exc: BaseException, entry_host: str, port: int, user: str, password: str) -> DatabaseError:
    where = f"mysql at {hostport(entry_host, port)}"
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    text = str(exc.args[1]) if len(exc.args) > 1 else type(exc).__name__
    text = scrub_db_message(text, password)
    if code in (1045, 1044, 1698, 1251, 1862, 4151):
        return DatabaseError(f"{where} refused the login of {user!r}: {text} (error {code})", "denied")
    if code in (2002, 2003, 2005, 2006, 2013) or isinstance(exc, (OSError, socket.timeout)):
        cause = _cause(text)
        return DatabaseError(f"could not connect to {where}: {cause}", "unreachable")
    return DatabaseError(f"{where}: {text}" + (f" (error {code})" if code else ""), "error")


def _cause(text: str) -> str:
    lowered = text.lower()
    for needle, cause in (("refused", "connection refused"), ("timed out", "timed out"), ("timeout", "timed out"),
                          ("name or service", "host name not resolved"), ("no route", "no route to host"),
                          ("lost connection", "connection lost"), ("reset", "connection reset")):
        if needle in lowered:
            return cause
    return text


def postgres_error(exc: BaseException, host: str, port: int, user: str, password: str) -> DatabaseError:
    where = f"postgres at {hostport(host, port)}"
    info = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else None
    if info is not None:
        code, text = str(info.get("C", "")), scrub_db_message(str(info.get("M", "")), password)
        if code in ("28P01", "28000"):
            return DatabaseError(f"{where} refused the login of {user!r}: {text} ({code})", "denied")
        if code.startswith("08") or code in ("53300", "57P03"):
            return DatabaseError(f"could not connect to {where}: {text} ({code})", "unreachable")
        return DatabaseError(f"{where}: {text} ({code})", "error")
    cause = exc.__cause__ or exc.__context__
    if isinstance(exc, (OSError, socket.timeout)) or isinstance(cause, (OSError, socket.timeout)) \
            or "can't create a connection" in str(exc).lower():
        detail = scrub_db_message(str(cause or exc), password)
        if isinstance(cause or exc, ConnectionRefusedError):
            detail = "connection refused"
        elif isinstance(cause or exc, (socket.timeout, TimeoutError)):
            detail = "timed out"
        return DatabaseError(f"could not connect to {where}: {_cause(detail) or detail}", "unreachable")
    return DatabaseError(f"{where}: {scrub_db_message(str(exc), password)}", "error")


# -- connections --------------------------------------------------------------------------


def connect_mysql(host: str, port: int, user: str, password: str, timeout: float, database: str | None = None):
    try:
        import pymysql
    except ImportError:
        raise DatabaseError("the PyMySQL package is missing (pip install 'PyMySQL>=1.1')") from None
    from secretaudit.deadline import DeadlineExceeded, deadline

    try:
        with deadline(timeout):  # the whole login, however slowly the server answers it
            return pymysql.connect(host=host, port=port, user=user, password=password, database=database or None,
                                   connect_timeout=timeout, read_timeout=timeout, write_timeout=timeout,
                                   charset="utf8mb4", autocommit=True)
    except DeadlineExceeded as exc:
        error = DatabaseError(f"could not log in: {exc.explain(f'mysql at {hostport(host, port)}')}", "unreachable")
    except Exception as exc:  # noqa: BLE001 - every driver failure becomes a scrubbed DatabaseError
        error = mysql_error(exc, host, port, user, password)
    raise error


def connect_postgres(host: str, port: int, user: str, password: str, timeout: float, database: str):
    try:
        import pg8000.dbapi
    except ImportError:
        raise DatabaseError("the pg8000 package is missing (pip install 'pg8000>=1.30')") from None
    from secretaudit.deadline import DeadlineExceeded, deadline

    try:
        with deadline(timeout):
            return pg8000.dbapi.connect(user=user, password=password, host=host, port=port, database=database,
                                        timeout=timeout, application_name="secretaudit")
    except DeadlineExceeded as exc:
        error = DatabaseError(f"could not log in: {exc.explain(f'postgres at {hostport(host, port)}')}",
                              "unreachable")
    except Exception as exc:  # noqa: BLE001
        error = postgres_error(exc, host, port, user, password)
    raise error


def parse_credential(credential: dict[str, str]) -> dict[str, Any] | str:
    """Host, port, user, password, engine from either layout; a string says what is missing.

    Shared by SA306's password validation and by rotation, which logs in with
    the same stored secret before it changes the password.
    """
    engine = ENGINES.get(str(credential.get("engine") or credential.get("type") or "").strip().lower())
    prefix = ""
    for candidate, name in (("mysql_", "mysql"), ("mariadb_", "mysql"), ("postgres_", "postgres"),
                            ("postgresql_", "postgres"), ("pg_", "postgres")):
        if any(key.startswith(candidate) for key in credential):
            prefix, engine = candidate, engine or name
            break
    if engine is None:
        return "no engine in the secret (expected engine: mysql|postgres, or mysql_*/postgres_* fields)"

    def get(*names: str) -> str | None:
        for name in names:
            for key in (f"{prefix}{name}", name, f"db_{name}", f"database_{name}"):
                value = credential.get(key)
                if value not in (None, ""):
                    return str(value)
        return None

    host, user, password = get("host", "hostname"), get("user", "username"), get("password")
    missing = [k for k, v in (("host", host), ("user", user)) if not v] + (["password"] if password is None else [])
    if missing:
        return f"no {', '.join(missing)} in the secret (expected {prefix or ''}{missing[0]})"
    try:
        port = int(get("port") or DEFAULT_PORTS[engine])
    except ValueError:
        return "the secret's port is not a number"
    database = get("database", "db", "dbname")
    return {"engine": engine, "host": host, "port": port, "user": user, "password": password, "database": database}


# -- changing one's own password (rotation) ------------------------------------------------------


def mysql_native_hash(password: str) -> str:
    """``*HEX(SHA1(SHA1(password)))``: what ``IDENTIFIED BY PASSWORD`` takes (mysql_native_password)."""
    return "*" + hashlib.sha1(hashlib.sha1(password.encode()).digest()).hexdigest().upper()


def scram_verifier(password: str, iterations: int = 4096) -> str:
    """A PostgreSQL SCRAM-SHA-256 verifier (what psql's ``\\password`` sends), computed client-side."""
    salt = secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = lambda raw: base64.b64encode(raw).decode()  # noqa: E731
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def set_own_password(parsed: dict[str, Any], current: str, new: str, timeout: float) -> None:
    """Log in as ``parsed``'s user with ``current`` and set that user's own password to ``new``.

    Only hashes cross the wire where the server accepts them, so its query
    logs never hold the password: MariaDB's ``SET PASSWORD = <native hash>``
    (no privilege needed for one's own account; MySQL 8 dropped the hash
    form, so it gets ``ALTER USER CURRENT_USER()``), PostgreSQL's ``ALTER ROLE
    CURRENT_USER PASSWORD <SCRAM verifier>``.  Raises :class:`DatabaseError`
    for a failed login and the driver's own exception for a failed statement.
    """
    engine, host, port = parsed["engine"], parsed["host"], parsed["port"]
    if engine == "mysql":
        conn = connect_mysql(host, port, parsed["user"], current, timeout, parsed["database"])
        try:
            with conn.cursor() as cursor:
                try:
                    cursor.execute("SET PASSWORD = %s", (mysql_native_hash(new),))
                except Exception:
                    cursor.execute("ALTER USER CURRENT_USER() IDENTIFIED BY %s", (new,))
        finally:
            conn.close()
        return
    conn = connect_postgres(host, port, parsed["user"], current, timeout, parsed["database"] or "postgres")
    try:
        verifier = scram_verifier(new).replace("'", "''")
        cursor = conn.cursor()
        cursor.execute(f"ALTER ROLE CURRENT_USER PASSWORD '{verifier}'")
        conn.commit()
    finally:
        conn.close()
