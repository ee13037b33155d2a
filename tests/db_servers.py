"""Real MariaDB and PostgreSQL servers for the database tests (session fixtures).

Each server comes from Debian's packages (``mariadb-server``, ``postgresql``;
``tests/run.sh`` installs them), listens on a free loopback port, keeps its
data in a throwaway directory and is stopped when the session ends.  A
missing server binary fails the test with the package to install: the
database checks are never silently untested.

Both fixtures yield a :class:`DBServer` ``(host, port, admin_user,
admin_password)``: an administrator that logs in over TCP with a password and
may create the accounts a test needs.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator, NamedTuple

import pytest

START_TIMEOUT = 60.0


class DBServer(NamedTuple):
    host: str
    port: int
    user: str
    password: str


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _find(names: list[str], package: str) -> str:
    for name in names:
        found = shutil.which(name) or (name if os.path.isabs(name) and os.access(name, os.X_OK) else None)
        if found:
            return found
        for directory in ("/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"):
            candidate = os.path.join(directory, name)
            if os.access(candidate, os.X_OK):
                return candidate
    pytest.fail(f"{' / '.join(names)} not found: install Debian's {package} package "
                f"(apt-get install -y {package}; tests/run.sh does this)", pytrace=False)


def _tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop(proc: subprocess.Popen, sig: int) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def _wait_ready(proc: subprocess.Popen, connect, log: Path, what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with {proc.returncode} while starting:\n{_tail(log)}", pytrace=False)
        try:
            connect()
            return
        except Exception as exc:  # not up yet
            last = exc
            time.sleep(0.2)
    _stop(proc, signal.SIGKILL)
    pytest.fail(f"{what} did not accept connections within {START_TIMEOUT:.0f}s ({last}):\n{_tail(log)}",
                pytrace=False)


# -- MariaDB ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[DBServer]:
    """A MariaDB server on 127.0.0.1; the admin is ``'sa_admin'@'%'`` with every privilege."""
    import pymysql

    server = _find(["mariadbd", "mysqld"], "mariadb-server")
    install_db = _find(["mariadb-install-db", "mysql_install_db"], "mariadb-server")
    base = Path(tempfile.mkdtemp(prefix="secretaudit-mariadb-"))
    datadir, sock, log = base / "data", base / "mysqld.sock", base / "mariadbd.log"
    setup = subprocess.run([install_db, "--no-defaults", f"--datadir={datadir}", "--user=root",
                            "--auth-root-authentication-method=normal", "--skip-test-db"],
                           capture_output=True, text=True, timeout=120)
    if setup.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"{install_db} failed ({setup.returncode}):\n{setup.stdout[-2000:]}\n{setup.stderr[-2000:]}",
                    pytrace=False)
    port = free_port()
    proc = subprocess.Popen(
        [server, "--no-defaults", f"--datadir={datadir}", f"--socket={sock}", f"--port={port}",
         "--bind-address=127.0.0.1", "--user=root", "--skip-name-resolve", f"--pid-file={base / 'mariadbd.pid'}",
         f"--log-error={log}", "--innodb-buffer-pool-size=32M", "--skip-log-bin", "--max-connections=50"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_ready(proc, lambda: pymysql.connect(unix_socket=str(sock), user="root", password="",
                                                  connect_timeout=2).close(), log, "mariadbd")
        password = secrets.token_urlsafe(18)
        conn = pymysql.connect(unix_socket=str(sock), user="root", password="", autocommit=True)
        with conn.cursor() as cur:
            cur.execute("CREATE USER 'sa_admin'@'%%' IDENTIFIED BY %s", (password,))
            cur.execute("GRANT ALL PRIVILEGES ON *.* TO 'sa_admin'@'%' WITH GRANT OPTION")
        conn.close()
        yield DBServer("127.0.0.1", port, "sa_admin", password)
    finally:
        _stop(proc, signal.SIGTERM)
        shutil.rmtree(base, ignore_errors=True)


# -- PostgreSQL ---------------------------------------------------------------------------


def _pg_bindir() -> str:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                        key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if candidates:
        return os.path.dirname(candidates[-1])
    found = shutil.which("postgres")
    if found:
        return os.path.dirname(found)
    pytest.fail("postgres not found (looked in /usr/lib/postgresql/*/bin): install Debian's postgresql package "
                "(apt-get install -y postgresql; tests/run.sh does this)", pytrace=False)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[DBServer]:
    """A PostgreSQL server on 127.0.0.1; the admin is the superuser ``postgres`` (scram password)."""
    import pg8000.dbapi

    bindir = _pg_bindir()
    try:
        import pwd

        pw = pwd.getpwnam("postgres")
    except KeyError:
        pytest.fail("no 'postgres' system user: install Debian's postgresql package", pytrace=False)
    as_postgres = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []} if os.geteuid() == 0 else {}
    base = Path(tempfile.mkdtemp(prefix="secretaudit-postgres-"))
    os.chmod(base, 0o755)
    datadir, sockdir, log, pwfile = base / "data", base / "sock", base / "postgres.log", base / "pwfile"
    password = secrets.token_urlsafe(18)
    sockdir.mkdir()
    pwfile.write_text(password + "\n")
    os.chmod(pwfile, 0o600)
    for path in (base, sockdir, pwfile):
        if as_postgres:
            os.chown(path, pw.pw_uid, pw.pw_gid)
    setup = subprocess.run([os.path.join(bindir, "initdb"), "-D", str(datadir), "-U", "postgres",
                            "--auth=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C", "--no-sync"],
                           capture_output=True, text=True, timeout=120, cwd=base, **as_postgres)
    pwfile.unlink()
    if setup.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"initdb failed ({setup.returncode}):\n{setup.stdout[-2000:]}\n{setup.stderr[-2000:]}",
                    pytrace=False)
    port = free_port()
    with open(log, "wb") as log_handle:
        if as_postgres:
            os.chown(log, pw.pw_uid, pw.pw_gid)
        proc = subprocess.Popen(
            [os.path.join(bindir, "postgres"), "-D", str(datadir), "-c", "listen_addresses=127.0.0.1",
             "-p", str(port), "-k", str(sockdir), "-c", "fsync=off", "-c", "shared_buffers=16MB",
             "-c", "max_connections=40"],
            stdout=log_handle, stderr=subprocess.STDOUT, cwd=base, start_new_session=True, **as_postgres)
    try:
        _wait_ready(proc, lambda: pg8000.dbapi.connect(user="postgres", password=password, host="127.0.0.1",
                                                       port=port, database="postgres", timeout=2).close(),
                    log, "postgres")
        yield DBServer("127.0.0.1", port, "postgres", password)
    finally:
        _stop(proc, signal.SIGINT)  # fast shutdown
        shutil.rmtree(base, ignore_errors=True)


# -- accounts for the tests ----------------------------------------------------------------


def mysql_admin(my: DBServer) -> Any:
    """An administrator connection to the real MariaDB (autocommit)."""
    import pymysql

    return pymysql.connect(host=my.host, port=my.port, user=my.user, password=my.password, autocommit=True,
                           connect_timeout=5)


def create_mysql_user(my: DBServer, user: str, password: str, grant_all: bool = False) -> None:
    """``CREATE USER 'user'@'%'`` on the real MariaDB (with every privilege when ``grant_all``)."""
    conn = mysql_admin(my)
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE USER '{user}'@'%%' IDENTIFIED BY %s", (password,))
            if grant_all:
                cur.execute(f"GRANT ALL PRIVILEGES ON *.* TO '{user}'@'%' WITH GRANT OPTION")
    finally:
        conn.close()


def create_postgres_user(pg: DBServer, user: str, password: str) -> None:
    """``CREATE ROLE user LOGIN PASSWORD ...`` on the real PostgreSQL."""
    import pg8000.dbapi

    conn = pg8000.dbapi.connect(user=pg.user, password=pg.password, host=pg.host, port=pg.port, database="postgres")
    try:
        cur = conn.cursor()
        cur.execute(f"CREATE ROLE {user} LOGIN PASSWORD '{password}'")
        conn.commit()
    finally:
        conn.close()
