"""SA306 and database-password validation against real MariaDB and PostgreSQL servers.

The servers come from Debian's packages (``tests/db_servers.py``); the tests
create accounts with too-broad and exactly-right grants, run the real
``secretaudit audit`` CLI, and check that exactly the planted excess comes
back, that a server that is down is an error, and that no password ever
appears in any output.
"""

from __future__ import annotations

import json
import secrets
import types
from pathlib import Path

import pytest
from conftest import run_cli
from db_servers import DBServer, free_port, mariadb_server, postgres_server  # noqa: F401  (fixtures)

from secretaudit.checks import db_grants
from secretaudit.plugins import DEFAULT_PLUGINS

POLICY = ["SELECT", "INSERT", "UPDATE"]
#: ``-p secretaudit.checks.db_grants`` until the plugin is one of the defaults (loading it twice is an error)
PLUGIN = () if "secretaudit.checks.db_grants" in DEFAULT_PLUGINS else ("-p", "secretaudit.checks.db_grants")


@pytest.fixture(scope="module")
def mariadb_world(mariadb_server: DBServer) -> dict[str, str]:
    """Accounts on MariaDB: sa_broad (+DELETE), sa_least (exactly the policy), sa_admin2 (ALL ... GRANT OPTION)."""
    import pymysql

    host, port, admin, admin_pw = mariadb_server
    passwords = {name: secrets.token_urlsafe(16) for name in ("sa_broad", "sa_least", "sa_admin2", "sa_viarole")}
    conn = pymysql.connect(host=host, port=port, user=admin, password=admin_pw, autocommit=True)
    with conn.cursor() as cur:
        cur.execute("CREATE DATABASE IF NOT EXISTS sa_app")
        cur.execute("CREATE TABLE IF NOT EXISTS sa_app.orders (id INT PRIMARY KEY, total INT)")
        for name, password in passwords.items():
            cur.execute("DROP USER IF EXISTS %s@'%%'", (name,))
            cur.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (name, password))
        cur.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON sa_app.* TO 'sa_broad'@'%'")
        cur.execute("GRANT SELECT, INSERT, UPDATE ON sa_app.* TO 'sa_least'@'%'")
        cur.execute("GRANT ALL PRIVILEGES ON *.* TO 'sa_admin2'@'%' WITH GRANT OPTION")
        cur.execute("DROP ROLE IF EXISTS sa_ddl")
        cur.execute("CREATE ROLE sa_ddl")
        cur.execute("GRANT SELECT, DROP ON sa_app.* TO sa_ddl")
        cur.execute("GRANT SELECT ON sa_app.* TO 'sa_viarole'@'%'")
        cur.execute("GRANT sa_ddl TO 'sa_viarole'@'%'")
    conn.close()
    return passwords


@pytest.fixture(scope="module")
def postgres_world(postgres_server: DBServer) -> dict[str, str]:
    """Roles on PostgreSQL: sa_broad (+DELETE), sa_least (exactly the policy), sa_super (SUPERUSER)."""
    import pg8000.dbapi
    import pg8000.native

    host, port, admin, admin_pw = postgres_server
    passwords = {name: secrets.token_urlsafe(16) for name in ("sa_broad", "sa_least", "sa_super")}
    conn = pg8000.dbapi.connect(host=host, port=port, user=admin, password=admin_pw, database="postgres")
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("SELECT 1 FROM pg_database WHERE datname = 'sa_app'")
    if not cur.fetchall():
        cur.execute("CREATE DATABASE sa_app")
    for name, password in passwords.items():
        attrs = "SUPERUSER" if name == "sa_super" else ""
        cur.execute(f"DROP ROLE IF EXISTS {name}")
        cur.execute(f"CREATE ROLE {name} LOGIN {attrs} PASSWORD {pg8000.native.literal(password)}")
    conn.close()
    conn = pg8000.dbapi.connect(host=host, port=port, user=admin, password=admin_pw, database="sa_app")
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("CREATE TABLE IF NOT EXISTS public.orders (id int PRIMARY KEY, total int)")
    cur.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON public.orders TO sa_broad")
    cur.execute("GRANT SELECT, INSERT, UPDATE ON public.orders TO sa_least")
    conn.close()
    return passwords


def _write_config(tmp_path: Path, databases: list[dict], policy: list[str] | None = POLICY) -> Path:
    cfg = {"scopes": {"databases": databases}}
    if policy is not None:
        cfg["policy"] = {"scopes": {"database": policy}}
    path = tmp_path / "cfg.yaml"
    path.write_text(json.dumps(cfg, indent=2))  # JSON is YAML
    return path


def _audit(tmp_path: Path, databases: list[dict], env: dict[str, str], policy: list[str] | None = POLICY):
    config = _write_config(tmp_path, databases, policy)
    empty = tmp_path / "empty-repo"
    empty.mkdir(exist_ok=True)
    proc = run_cli("audit", "--config", str(config), *PLUGIN, "--format", "json", str(empty),
                   cwd=tmp_path, env=env, timeout=120)
    assert proc.stdout, proc.stderr
    report = json.loads(proc.stdout)
    return proc, report


def _findings(report: dict, check: str = "SA306") -> list[dict]:
    return [f for f in report["findings"] if f["check_id"] == check]


def _summary(report: dict) -> set[tuple[str, str, str, str]]:
    return {(f["location"]["backend"], f["location"]["name"], f["status"], f.get("evidence", ""))
            for f in _findings(report)}


def _assert_no_secret(texts: list[str], passwords: list[str]) -> None:
    for text in texts:
        for password in passwords:
            assert password not in text


def test_planted_world_gives_exactly_the_excess(tmp_path: Path, mariadb_server: DBServer,
                                                 postgres_server: DBServer, mariadb_world: dict[str, str],
                                                 postgres_world: dict[str, str]) -> None:
    my_host, my_port, my_admin, my_admin_pw = mariadb_server
    pg_host, pg_port, pg_admin, pg_admin_pw = postgres_server
    closed = free_port()
    env = {"MY_ADMIN_PW": my_admin_pw, "PG_ADMIN_PW": pg_admin_pw, "MY_LEAST_PW": mariadb_world["sa_least"]}
    databases = [
        # the auditor logs in as an admin and inspects another account
        {"name": "maria-broad", "engine": "mariadb", "host": my_host, "port": my_port, "user": my_admin,
         "password": "${MY_ADMIN_PW}", "account": "sa_broad"},
        # the account inspects itself (SHOW GRANTS FOR CURRENT_USER())
        {"name": "maria-least", "engine": "mysql", "host": my_host, "port": my_port, "user": "sa_least",
         "password": "${MY_LEAST_PW}"},
        {"name": "maria-admin", "engine": "mysql", "host": my_host, "port": my_port, "user": my_admin,
         "password": "${MY_ADMIN_PW}", "account": "sa_admin2@%"},
        # a privilege that comes through a role
        {"name": "maria-role", "engine": "mysql", "host": my_host, "port": my_port, "user": my_admin,
         "password": "${MY_ADMIN_PW}", "account": "sa_viarole"},
        {"name": "pg-broad", "engine": "postgres", "host": pg_host, "port": pg_port, "user": pg_admin,
         "password": "${PG_ADMIN_PW}", "account": "sa_broad", "database": "sa_app"},
        {"name": "pg-least", "engine": "postgres", "host": pg_host, "port": pg_port, "user": pg_admin,
         "password": "${PG_ADMIN_PW}", "account": "sa_least", "database": "sa_app"},
        {"name": "pg-super", "engine": "postgresql", "host": pg_host, "port": pg_port, "user": pg_admin,
         "password": "${PG_ADMIN_PW}", "account": "sa_super", "database": "sa_app"},
        {"name": "down", "engine": "mysql", "host": "127.0.0.1", "port": closed, "user": "nobody",
         "password": "${MY_ADMIN_PW}"},
    ]
    proc, report = _audit(tmp_path, databases, env)
    assert proc.returncode == 1, proc.stderr
    assert _summary(report) == {
        ("database:maria-broad", "sa_broad", "failed", "DELETE ON sa_app.*"),
        ("database:maria-admin", "sa_admin2@%", "failed", "ALL PRIVILEGES ON *.*"),
        ("database:maria-admin", "sa_admin2@%", "failed", "GRANT OPTION ON *.*"),
        ("database:pg-broad", "sa_broad", "failed", "DELETE ON sa_app.public.orders"),
        ("database:pg-super", "sa_super", "failed", "SUPERUSER (role attribute)"),
        ("database:maria-role", "sa_viarole", "failed", "DROP ON sa_app.*"),
        ("database:down", "nobody", "error", ""),
    }
    by_name = {f["location"]["backend"]: f for f in _findings(report)}
    assert "DELETE" in by_name["database:maria-broad"]["message"]
    assert "sa_app.*" in by_name["database:maria-broad"]["message"]
    assert by_name["database:pg-super"]["severity"] == "critical"
    assert "SUPERUSER role attribute" in by_name["database:pg-super"]["message"]
    assert "through role sa_ddl" in by_name["database:maria-role"]["message"]
    assert by_name["database:down"]["message"].startswith(f"could not connect to mysql at 127.0.0.1:{closed}: ")
    assert "connection refused" in by_name["database:down"]["message"]
    _assert_no_secret([proc.stdout, proc.stderr],
                      [my_admin_pw, pg_admin_pw, *mariadb_world.values(), *postgres_world.values()])


def test_least_privilege_world_gives_none(tmp_path: Path, mariadb_server: DBServer, postgres_server: DBServer,
                                          mariadb_world: dict[str, str], postgres_world: dict[str, str]) -> None:
    env = {"MY_ADMIN_PW": mariadb_server.password, "PG_LEAST_PW": postgres_world["sa_least"]}
    databases = [
        {"name": "maria-least", "engine": "mysql", "host": mariadb_server.host, "port": mariadb_server.port,
         "user": mariadb_server.user, "password": "${MY_ADMIN_PW}", "account": "'sa_least'@'%'"},
        {"name": "pg-least", "engine": "postgres", "host": postgres_server.host, "port": postgres_server.port,
         "user": "sa_least", "password": "${PG_LEAST_PW}", "database": "sa_app"},
    ]
    proc, report = _audit(tmp_path, databases, env)
    assert _findings(report) == []
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    _assert_no_secret([proc.stdout, proc.stderr], [mariadb_server.password, postgres_world["sa_least"]])


def test_wrong_audit_password_is_an_error_without_the_password(tmp_path: Path, postgres_server: DBServer,
                                                               mariadb_server: DBServer) -> None:
    wrong = "Wr0ng-" + secrets.token_urlsafe(12)
    databases = [
        {"name": "pg", "engine": "postgres", "host": postgres_server.host, "port": postgres_server.port,
         "user": "postgres", "password": "${WRONG_PW}", "account": "sa_broad"},
        {"name": "maria", "engine": "mysql", "host": mariadb_server.host, "port": mariadb_server.port,
         "user": "sa_admin", "password": "${WRONG_PW}", "account": "sa_broad"},
    ]
    proc, report = _audit(tmp_path, databases, {"WRONG_PW": wrong})
    assert proc.returncode == 1
    assert {(f["location"]["backend"], f["status"]) for f in _findings(report)} == {
        ("database:pg", "error"), ("database:maria", "error")}
    assert all("refused the login" in f["message"] for f in _findings(report))
    _assert_no_secret([proc.stdout, proc.stderr], [wrong])


def test_an_account_without_the_right_to_read_grants_is_one_error(tmp_path: Path, mariadb_server: DBServer,
                                                                    mariadb_world: dict[str, str]) -> None:
    """SHOW GRANTS FOR another account needs SELECT on the mysql schema: refused, that is an SA306 error, not a crash."""
    databases = [{"name": "maria", "engine": "mariadb", "host": mariadb_server.host, "port": mariadb_server.port,
                  "user": "sa_least", "password": "${LEAST_PW}", "account": "sa_broad"}]
    proc, report = _audit(tmp_path, databases, {"LEAST_PW": mariadb_world["sa_least"]})
    assert proc.returncode == 1, proc.stderr
    (error,) = _findings(report)
    assert error["status"] == "error" and "could not read the grants of 'sa_broad'" in error["message"], error
    _assert_no_secret([proc.stdout, proc.stderr], [mariadb_world["sa_least"]])


def test_bad_config_entry_names_the_key(tmp_path: Path) -> None:
    config = _write_config(tmp_path, [{"name": "x", "engine": "oracle", "host": "h", "user": "u"}])
    (tmp_path / "e").mkdir()
    proc = run_cli("audit", "--config", str(config), *PLUGIN, str(tmp_path / "e"))
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "scopes.databases[0].engine" in proc.stdout + proc.stderr


# -- validation ---------------------------------------------------------------------------

CONFIG = types.SimpleNamespace(settings={"timeout": 5})


def _validate(credential: dict[str, str]):
    return db_grants.secretaudit_validate_credential(kind="database-password", credential=credential, config=CONFIG)


def test_validator_ignores_other_kinds() -> None:
    assert db_grants.secretaudit_validate_credential(kind="github-token", credential={"token": "x"},
                                                     config=CONFIG) is None


@pytest.mark.parametrize("engine", ["mysql", "postgres"])
def test_validator_right_wrong_and_down(engine: str, mariadb_server: DBServer, postgres_server: DBServer,
                                        mariadb_world: dict[str, str], postgres_world: dict[str, str],
                                        capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    server, world = (mariadb_server, mariadb_world) if engine == "mysql" else (postgres_server, postgres_world)
    right = world["sa_least"]
    wrong = "Wr0ng-" + secrets.token_urlsafe(12)
    closed = free_port()
    # the standard's KV layout: mysql_host... / postgres_host...
    kv = {f"{engine}_host": server.host, f"{engine}_port": str(server.port), f"{engine}_user": "sa_least"}
    ok = _validate({**kv, f"{engine}_password": right})
    assert ok.status == "valid", ok.message
    assert ok.identity == f"sa_least@{server.host}:{server.port}"
    # the plain layout
    plain = {"engine": "mariadb" if engine == "mysql" else "postgresql", "host": server.host,
             "port": str(server.port), "user": "sa_least"}
    assert _validate({**plain, "password": right}).status == "valid"
    bad = _validate({**kv, f"{engine}_password": wrong})
    assert bad.status == "invalid", bad.message
    assert "refused the login" in bad.message
    down = _validate({**plain, "port": str(closed), "password": right})
    assert down.status == "unknown", down.message
    assert down.message.startswith(f"could not validate: could not connect to {engine} at 127.0.0.1:{closed}")
    missing = _validate({"engine": engine, "host": server.host})
    assert missing.status == "unknown" and "no user" in missing.message
    out = capsys.readouterr()
    results = [repr(v) for v in (ok, bad, down, missing)]
    _assert_no_secret([*results, out.out, out.err, caplog.text], [right, wrong])


# -- parsing (no server) ------------------------------------------------------------------


def test_parse_mysql_grants() -> None:
    lines = [
        "GRANT USAGE ON *.* TO `app`@`%` IDENTIFIED BY PASSWORD '*0123456789ABCDEF0123456789ABCDEF01234567'",
        "GRANT SELECT, INSERT (`id`, `total`), DROP ON `shop`.`orders` TO `app`@`%` WITH GRANT OPTION",
        "GRANT EXECUTE ON PROCEDURE `shop`.`refund` TO `app`@`%`",
        "GRANT `reporting` TO `app`@`%`",
    ]
    grants, roles = db_grants.parse_mysql_grants(lines)
    assert [(g.privilege, g.object) for g in grants] == [
        ("USAGE", "*.*"), ("SELECT", "shop.orders"), ("INSERT", "shop.orders (id, total)"), ("DROP", "shop.orders"),
        ("GRANT OPTION", "shop.orders"), ("EXECUTE", "PROCEDURE shop.refund")]
    assert roles == [("reporting", "")]
    excess = db_grants.excess(grants, frozenset(POLICY))
    assert [(g.privilege, g.object) for g in excess] == [
        ("EXECUTE", "PROCEDURE shop.refund"), ("DROP", "shop.orders"), ("GRANT OPTION", "shop.orders")]
