"""``secretaudit rotate`` on the database paths, end to end against real servers.

* Vault (OpenBao) database static roles: the real database secrets engine
  with ``mysql-database-plugin`` connected to the real MariaDB of
  ``db_servers.py`` over TCP on 127.0.0.1; the role's password is rotated
  through ``DATABASE_MOUNT/rotate-role/ROLE`` and the new one must log in.
* AWS Secrets Manager (moto's server) secrets of kind ``database-password``
  with no rotation Lambda: AWSPENDING, the database password changed
  (MariaDB and PostgreSQL), validated, then AWSCURRENT moved.
* SIGKILL at random instants of ``rotate`` on a Vault KV database-password
  secret backed by MariaDB: after each kill, what ``scanner/rotation.py``'s
  docstring promises for that backend holds, and no trail line is torn.

Every password is generated at test time; none may reach stdout, stderr or
the access trail.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import hvac
import pymysql
import pytest
from aws_server import moto, moto_server  # noqa: F401  (fixtures)
from conftest import ROOT, _CACHE_HOME, _STATE_HOME
from db_servers import (DBServer, create_mysql_user, create_postgres_user, mariadb_server,  # noqa: F401  (fixtures)
                        mysql_admin, postgres_server)
from servers import openbao  # noqa: F401  (fixture)
from test_rotate import REASON, _kill_at_random, assert_no_values, cli, kv_put, kv_read, trail_lines, world  # noqa: F401

from secretaudit.rotation import PENDING_FIELD

# -- helpers ---------------------------------------------------------------------------------------


def new_password() -> str:
    """A fresh random password (hex: safe in SQL literals and connection URLs)."""
    return secrets.token_hex(16)


def mysql_logs_in(my: DBServer, user: str, password: str) -> bool:
    """True when ``user`` logs in to MariaDB with ``password``; False on an access-denied answer."""
    try:
        pymysql.connect(host=my.host, port=my.port, user=user, password=password, connect_timeout=5).close()
    except pymysql.err.OperationalError as exc:
        if exc.args and exc.args[0] == 1045:  # ER_ACCESS_DENIED_ERROR: a wrong password, not a dead server
            return False
        raise
    return True


def postgres_logs_in(pg: DBServer, user: str, password: str) -> bool:
    """True when ``user`` logs in to PostgreSQL with ``password``; False on a password failure (28P01)."""
    import pg8000.dbapi

    try:
        pg8000.dbapi.connect(user=user, password=password, host=pg.host, port=pg.port, database="postgres",
                             timeout=5).close()
    except pg8000.dbapi.DatabaseError as exc:
        detail = exc.args[0] if exc.args else {}
        if isinstance(detail, dict) and detail.get("C") == "28P01":
            return False
        raise
    return True


def rotate_lines(trail: Path, secret: str) -> list[dict[str, Any]]:
    """The rotate lines of the trail for one secret (every line of the file must parse)."""
    return [e for e in trail_lines(trail) if e["command"] == "rotate" and e["secret"] == secret]


# -- Vault database static roles ----------------------------------------------------------------


@pytest.fixture
def static_role(world: dict, mariadb_server: DBServer) -> dict[str, Any]:  # noqa: F811
    """A database secrets engine on its own mount of the shared OpenBao, connected to the real MariaDB.

    OpenBao connects as its own administrator (``vault_admin_*``, all
    privileges, password generated here) over TCP to 127.0.0.1:PORT; the
    static role manages ``app_*``, a plain user.  The secretaudit config of
    ``world`` gets ``database_mount`` pointed at the mount.
    """
    my = mariadb_server
    vault: hvac.Client = world["vault"]
    suffix = uuid.uuid4().hex[:8]
    mount, db_name, role = f"db-{suffix}", "mariadb", f"app-{suffix}"
    admin, admin_password = f"vault_admin_{suffix}", new_password()
    user, initial = f"app_{suffix}", new_password()
    create_mysql_user(my, admin, admin_password, grant_all=True)
    create_mysql_user(my, user, initial)
    plugins = vault.adapter.list("/v1/sys/plugins/catalog/database")["data"]["keys"]  # LIST: GET is unsupported
    assert "mysql-database-plugin" in plugins, f"OpenBao has no mysql-database-plugin: {plugins}"
    vault.sys.enable_secrets_engine("database", path=mount)
    vault.secrets.database.configure(
        name=db_name, plugin_name="mysql-database-plugin", mount_point=mount, allowed_roles=[role],
        verify_connection=True, connection_url=f"{{{{username}}}}:{{{{password}}}}@tcp({my.host}:{my.port})/",
        username=admin, password=admin_password)
    vault.secrets.database.create_static_role(
        name=role, db_name=db_name, username=user, mount_point=mount, rotation_period=86400,
        rotation_statements=["ALTER USER '{{name}}'@'%' IDENTIFIED BY '{{password}}';"])
    config: Path = world["config"]
    text = config.read_text()
    marker = f"path: 'secret/{world['folder']}'}}"
    assert marker in text
    config.write_text(text.replace(marker, f"path: 'secret/{world['folder']}', database_mount: '{mount}'}}"))
    return {**world, "mount": mount, "role": role, "user": user, "initial": initial,
            "admin_password": admin_password, "mysql": my, "name": f"{mount}/static-role/{role}"}


def test_rotate_vault_static_role_changes_the_database_password(static_role: dict) -> None:
    """rotate-role through the real CLI: a new password in Vault that logs in; the old one no longer does."""
    w = static_role
    vault: hvac.Client = w["vault"]
    my: DBServer = w["mysql"]

    def creds() -> dict[str, Any]:
        return vault.secrets.database.get_static_credentials(name=w["role"], mount_point=w["mount"])["data"]

    before = creds()
    old = before["password"]
    assert before["username"] == w["user"]
    assert old != w["initial"] and not mysql_logs_in(my, w["user"], w["initial"])  # Vault rotated it on import
    assert mysql_logs_in(my, w["user"], old)
    listed = {r["name"]: r for r in json.loads(cli(w, "list", "--format", "json").stdout)["secrets"]}
    assert listed[w["name"]]["kind"] == "database-password"  # the backend discovers the role at database_mount
    proc = cli(w, "rotate", "--secret", w["name"], "--reason", REASON, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    after = creds()
    new = after["password"]
    assert new != old and after["username"] == w["user"]
    assert after["last_vault_rotation"] != before["last_vault_rotation"]
    assert mysql_logs_in(my, w["user"], new), "the rotated password does not log in"
    assert not mysql_logs_in(my, w["user"], old), "the previous password still logs in"
    assert result["outcome"] == "ok" and result["kind"] == "database-password"
    assert result["method"] == "the database engine's rotate-role endpoint"
    assert result["validation"] == "mysql login accepted"  # a real login with the new password, by the CLI
    assert result["old_version"] and result["new_version"] and result["old_version"] != result["new_version"]
    lines = rotate_lines(w["trail"], w["name"])
    assert [e["outcome"] for e in lines] == ["started", "ok"]
    assert lines[-1]["backend"] == "vault:prod" and lines[-1]["reason"] == REASON
    assert lines[-1]["old_version"] == result["old_version"] and lines[-1]["new_version"] == result["new_version"]
    check = cli(w, "validate", "--secret", w["name"])
    assert check.returncode == 0, check.stdout + check.stderr
    assert_no_values([old, new, w["initial"], w["admin_password"]], proc.stdout, proc.stderr, check.stdout,
                     check.stderr, w["trail"].read_text())


# -- AWS Secrets Manager, database-password, no Lambda -----------------------------------------------


@pytest.mark.parametrize("engine", ["mysql", "postgres"])
def test_secrets_manager_database_password_changes_the_database_too(world: dict, mariadb_server: DBServer,  # noqa: F811
                                                                    postgres_server: DBServer,  # noqa: F811
                                                                    engine: str) -> None:
    """Staged rotation of a database secret in moto: AWSCURRENT moves and the database password follows."""
    server = mariadb_server if engine == "mysql" else postgres_server
    logs_in = mysql_logs_in if engine == "mysql" else postgres_logs_in
    user, first = f"sm_{uuid.uuid4().hex[:8]}", new_password()
    (create_mysql_user if engine == "mysql" else create_postgres_user)(server, user, first)
    sm = world["sm"]
    name = f"db/{engine}-{uuid.uuid4().hex[:6]}"
    sm.create_secret(Name=name, SecretString=json.dumps({
        f"{engine}_host": server.host, f"{engine}_port": str(server.port), f"{engine}_user": user,
        f"{engine}_password": first}), Tags=[{"Key": "kind", "Value": "database-password"}])
    before = sm.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")["VersionId"]
    proc = cli(world, "rotate", "--secret", f"aws:{name}", "--reason", REASON, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["outcome"] == "ok" and result["validation"] == f"{engine} login accepted"
    current = sm.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")
    fields = json.loads(current["SecretString"])
    new = fields[f"{engine}_password"]
    assert current["VersionId"] != before and current["VersionId"] == result["new_version"]
    assert new != first and fields[f"{engine}_user"] == user and fields[f"{engine}_host"] == server.host
    stages = sm.describe_secret(SecretId=name)["VersionIdsToStages"]
    assert stages[before] == ["AWSPREVIOUS"] and not any("AWSPENDING" in s for s in stages.values())
    assert logs_in(server, user, new), "the new AWSCURRENT password does not log in"
    assert not logs_in(server, user, first), "the old password still logs in"
    check = cli(world, "validate", "--secret", name)
    assert check.returncode == 0, check.stdout + check.stderr
    assert [e["outcome"] for e in rotate_lines(world["trail"], name)] == ["started", "ok"]
    assert_no_values([first, new], proc.stdout, proc.stderr, check.stdout, check.stderr, world["trail"].read_text())


# -- SIGKILL at random points: Vault KV database-password ------------------------------------------------


#: The steps ``rotate`` prints (text mode) just before doing them, in order (rotation.py, Vault KV database-password).
STEPS = ("createSecret", "setSecret", "finishSecret", "testSecret")


def _kill_after(world: dict, args: list[str], anchor: str, delay: float) -> int | None:
    """Run ``secretaudit ARGS``; SIGKILL it ``delay`` seconds after it prints the step ``anchor`` (or after
    ``delay`` seconds from launch when ``anchor`` is ``"launch"``).  Returns the exit code (-9 when killed).

    The step lines are printed just before each write, so anchoring on them
    lands kills inside the rotation (a plain timer mostly lands in Python's
    start-up, whose length varies with the machine's load).
    """
    if anchor == "launch":
        return _kill_at_random(args, world["env"], delay)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": _CACHE_HOME, "XDG_STATE_HOME": _STATE_HOME,
           **world["env"]}
    proc = subprocess.Popen([sys.executable, "-u", "-m", "secretaudit", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(anchor):
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            break
    proc.stdout.close()
    return proc.wait()


def _stored(world: dict, store: str, name: str) -> tuple[str, str | None]:
    """(the stored current password, the stored pending one or None), as the backend's own client sees them.

    Vault KV: the current version's ``mysql_password`` and
    ``_secretaudit_pending_password``.  Secrets Manager: AWSCURRENT's
    ``mysql_password`` and that of a version labelled AWSPENDING but not
    AWSCURRENT (there must be exactly one AWSCURRENT).
    """
    if store == "vault-kv":
        fields, _ = kv_read(world, name)
        return fields["mysql_password"], fields.get(PENDING_FIELD)
    sm = world["sm"]
    stages = sm.describe_secret(SecretId=name)["VersionIdsToStages"]
    assert sum("AWSCURRENT" in s for s in stages.values()) == 1, stages
    current = json.loads(sm.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")["SecretString"])
    pending_id = next((v for v, s in stages.items() if "AWSPENDING" in s and "AWSCURRENT" not in s), None)
    if pending_id is None:
        return current["mysql_password"], None
    staged = json.loads(sm.get_secret_value(SecretId=name, VersionId=pending_id)["SecretString"])
    return current["mysql_password"], staged["mysql_password"]


@pytest.mark.parametrize("store", ["vault-kv", "secrets-manager"])
def test_sigkill_database_password_keeps_the_documented_guarantee(world: dict, mariadb_server: DBServer,  # noqa: F811
                                                                   store: str) -> None:
    """12 rotate runs of a MariaDB password killed at random instants; after each, the docstring's promise holds.

    ``scanner/rotation.py``: a kill before setSecret leaves the stored current
    password working; a kill between setSecret and finishSecret (Vault KV:
    the KV write of the new current version; Secrets Manager: testSecret and
    the AWSCURRENT move) leaves the database on the new password, durable as
    the pending value, and the next ``rotate`` finishes or discards; a kill
    after finishSecret leaves the new password current and working.  So
    after each kill: the stored current password logs in, or a pending
    password is stored, it is the one that logs in, and the next (unkilled)
    ``rotate`` repairs the secret so that its current password logs in.
    Every trail line parses.

    Each kill lands a random 0-30 ms after a random step is printed (or at a
    random instant after launch), so every window of the protocol is hit.
    """
    my = mariadb_server
    rng = random.Random(int(os.environ.get("SECRETAUDIT_KILL_SEED", "20261124")))
    user, first = f"kill_{uuid.uuid4().hex[:8]}", new_password()
    create_mysql_user(my, user, first)
    fields = {"mysql_host": my.host, "mysql_port": str(my.port), "mysql_user": user, "mysql_password": first}
    if store == "vault-kv":
        name = secret = "killed-db"
        kv_put(world, name, fields, kind="database-password")
    else:
        name, secret = "db/killed", "aws:db/killed"
        world["sm"].create_secret(Name=name, SecretString=json.dumps(fields),
                                  Tags=[{"Key": "kind", "Value": "database-password"}])
    seen: list[str] = [first]
    anchors = ["launch", *STEPS, *STEPS]
    anchors += [rng.choice(("launch", *STEPS)) for _ in range(12 - len(anchors))]
    rng.shuffle(anchors)
    states = {"current works": 0, "pending stored": 0, "repaired by the next rotate": 0}
    killed = 0
    for run, anchor in enumerate(anchors):
        delay = rng.uniform(0.3, 1.5) if anchor == "launch" else rng.uniform(0.0, 0.03)
        code = _kill_after(world, ["rotate", "--secret", secret, "--reason", f"kill loop {run}",
                                   "--config", str(world["config"])], anchor, delay)
        killed += code == -signal.SIGKILL
        current, pending = _stored(world, store, name)
        seen += [p for p in (current, pending) if p and p not in seen]
        states["pending stored"] += pending is not None
        if mysql_logs_in(my, user, current):
            states["current works"] += 1
        else:
            # the one documented window: killed after setSecret, before the new password became current
            assert pending is not None, f"run {run}: the current password fails and no pending password is stored"
            assert mysql_logs_in(my, user, pending), f"run {run}: neither the current nor the pending password works"
            repair = cli(world, "rotate", "--secret", secret, "--reason", f"repair after kill {run}")
            assert repair.returncode == 0, f"run {run}: {repair.stderr}"
            assert "recovered an interrupted rotation: the pending password works" in repair.stdout
            current, pending = _stored(world, store, name)
            seen.append(current)
            assert pending is None and mysql_logs_in(my, user, current), \
                f"run {run}: the next rotate did not repair the secret"
            states["repaired by the next rotate"] += 1
        lines = trail_lines(world["trail"])  # every line whole JSON: no torn line
        assert all(set(e) >= {"time", "command", "secret", "outcome"} for e in lines)
    assert killed >= 8, f"only {killed} of {len(anchors)} runs were killed"
    entries = rotate_lines(world["trail"], name)
    midway = sum(1 for i, e in enumerate(entries) if e["outcome"] == "started"
                 and (i + 1 == len(entries) or entries[i + 1]["outcome"] == "started"))
    assert midway >= 4, f"only {midway} kills landed after a rotation started"
    assert states["pending stored"] >= 1, f"no kill left a pending password: {states}"
    # a clean run afterwards recovers whatever is left and rotates; only the final password logs in
    final = cli(world, "rotate", "--secret", secret, "--reason", "after the kills")
    assert final.returncode == 0, final.stderr
    current, pending = _stored(world, store, name)
    assert pending is None and mysql_logs_in(my, user, current)
    assert not any(mysql_logs_in(my, user, p) for p in seen if p != current)
    check = cli(world, "validate", "--secret", name)
    assert check.returncode == 0, check.stdout + check.stderr
    assert_no_values([*seen, current], final.stdout, final.stderr, world["trail"].read_text())
    print(f"kill loop ({store}): {killed} killed, {midway} mid-rotation, states {states}")


# -- the recovery path, from the exact state a kill leaves ------------------------------------------------


def _set_mysql_password(my: DBServer, user: str, password: str) -> None:
    """What setSecret did before the kill: the database user now has ``password`` (set here by the admin)."""
    conn = mysql_admin(my)
    try:
        with conn.cursor() as cur:
            cur.execute(f"ALTER USER '{user}'@'%%' IDENTIFIED BY %s", (password,))
    finally:
        conn.close()


@pytest.mark.parametrize("database_changed", [True, False], ids=["killed-after-setSecret", "killed-before-setSecret"])
@pytest.mark.parametrize("store", ["vault-kv", "secrets-manager"])
def test_next_rotate_recovers_from_the_state_a_kill_leaves(world: dict, mariadb_server: DBServer,  # noqa: F811
                                                           store: str, database_changed: bool) -> None:
    """The documented recovery, from the state a kill leaves (reached deterministically, not by luck).

    A pending password is stored (the ``_secretaudit_pending_password`` field
    of the current KV version, or a version labelled AWSPENDING only) and,
    for a kill after setSecret, the database already has it, so the stored
    current password no longer logs in.  The next ``rotate`` must finish
    (database changed) or discard (not changed) the pending value, then
    rotate: the final current password logs in, every other one does not.
    """
    my = mariadb_server
    user, first, pending = f"rec_{uuid.uuid4().hex[:8]}", new_password(), new_password()
    create_mysql_user(my, user, first)
    fields = {"mysql_host": my.host, "mysql_port": str(my.port), "mysql_user": user, "mysql_password": first}
    if store == "vault-kv":
        name = "recover-db"
        kv_put(world, name, {**fields, PENDING_FIELD: pending}, kind="database-password")
    else:
        name = f"db/recover-{uuid.uuid4().hex[:6]}"
        sm = world["sm"]
        sm.create_secret(Name=name, SecretString=json.dumps(fields),
                         Tags=[{"Key": "kind", "Value": "database-password"}])
        staged = sm.put_secret_value(SecretId=name, SecretString=json.dumps({**fields, "mysql_password": pending}),
                                     ClientRequestToken=str(uuid.uuid4()), VersionStages=["AWSPENDING"])
        stages = sm.describe_secret(SecretId=name)["VersionIdsToStages"]
        assert stages[staged["VersionId"]] == ["AWSPENDING"] and sum("AWSCURRENT" in s for s in stages.values()) == 1
    if database_changed:
        _set_mysql_password(my, user, pending)
        assert not mysql_logs_in(my, user, first)  # the documented window: the stored current one fails
    proc = cli(world, "rotate", "--secret", name, "--reason", REASON)
    assert proc.returncode == 0, proc.stderr
    expected = ("recovered an interrupted rotation: the pending password works" if database_changed
                else "recovered an interrupted rotation: " + ("the pending password was never set"
                                                              if store == "vault-kv" else "cleared AWSPENDING"))
    assert expected in proc.stdout, proc.stdout
    if store == "vault-kv":
        now, _ = kv_read(world, name)
        assert PENDING_FIELD not in now
    else:
        now = json.loads(world["sm"].get_secret_value(SecretId=name, VersionStage="AWSCURRENT")["SecretString"])
        stages = world["sm"].describe_secret(SecretId=name)["VersionIdsToStages"]
        assert not any("AWSPENDING" in s for s in stages.values())
    final = now["mysql_password"]
    assert final not in (first, pending)
    assert mysql_logs_in(my, user, final)
    assert not mysql_logs_in(my, user, first) and not mysql_logs_in(my, user, pending)
    check = cli(world, "validate", "--secret", name)
    assert check.returncode == 0, check.stdout + check.stderr
    assert [e["outcome"] for e in rotate_lines(world["trail"], name)] == ["started", "ok"]
    assert_no_values([first, pending, final], proc.stdout, proc.stderr, world["trail"].read_text())
