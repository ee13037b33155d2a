"""A rotation that did not happen does not restart the rotation clock (SA203, ``list``'s last_rotated).

A failed rotation of a Vault KV secret writes versions (the pending
password, then the previous fields restored) without changing the
credential.  Until 2026-12 the backend took the current version's creation
time as the last rotation, so a failed attempt reset SA203's clock and hid an
overdue secret.  Real OpenBao; the database is a closed port (the password
change fails, the rotation rolls back), and a real MariaDB that rejects the
new password (a rollback after the change).
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timedelta

from aws_server import closed_port_url, moto, moto_server  # noqa: F401  (fixtures of test_rotate's world)
from db_servers import create_mysql_user, mariadb_server  # noqa: F401  (fixture)
from servers import openbao  # noqa: F401  (fixture)
from test_rotate import REASON, cli, kv_put, kv_read, trail_lines, world  # noqa: F401


def last_rotated(world: dict, name: str) -> str:
    listed = json.loads(cli(world, "list", "--format", "json").stdout)["secrets"]
    return next(s for s in listed if s["name"] == name)["last_rotated"]


def overdue(world: dict, name: str, as_of: datetime) -> bool:
    proc = cli(world, "audit", "--format", "json", "--as-of", as_of.isoformat())
    report = json.loads(proc.stdout)
    return any(f["check_id"] == "SA203" and f["location"].get("name") == name and f["status"] == "failed"
               for f in report["findings"])


def test_a_rotation_rolled_back_before_the_change_keeps_the_clock(world: dict) -> None:  # noqa: F811
    port = closed_port_url().rsplit(":", 1)[1]
    kv_put(world, "orders-db", {"mysql_host": "127.0.0.1", "mysql_port": port, "mysql_user": "app",
                                "mysql_password": uuid.uuid4().hex}, kind="database-password")
    before = last_rotated(world, "orders-db")
    time.sleep(2)
    proc = cli(world, "rotate", "--secret", "orders-db", "--reason", REASON)
    assert proc.returncode == 1 and "pending value was discarded" in proc.stderr, proc.stdout + proc.stderr
    assert kv_read(world, "orders-db")[1] == 3  # 2 pending, 3 the previous fields again: nothing rotated
    assert last_rotated(world, "orders-db") == before
    # 61 days after version 1 (policy: every 60 days) it is overdue; counted from version 3 it would not be
    rotated = datetime.fromisoformat(before)
    assert overdue(world, "orders-db", rotated + timedelta(days=61, seconds=1))
    # a rotation that happens afterwards restarts the clock as before
    kv_put(world, "orders-db", {"mysql_host": "127.0.0.1", "mysql_port": port, "mysql_user": "app",
                                "mysql_password": uuid.uuid4().hex})  # a human writes a new password
    assert last_rotated(world, "orders-db") > before


def test_a_rotation_rejected_after_the_change_keeps_the_clock(world: dict, mariadb_server) -> None:  # noqa: F811
    my = mariadb_server
    user = f"rc_{uuid.uuid4().hex[:6]}"
    first = uuid.uuid4().hex
    create_mysql_user(my, user, first)
    kv_put(world, "orders-db", {"mysql_host": my.host, "mysql_port": str(my.port), "mysql_user": user,
                                "mysql_password": first}, kind="database-password")
    before = last_rotated(world, "orders-db")
    time.sleep(1.1)
    proc = cli(world, "rotate", "--secret", "orders-db", "--reason", REASON, "-p", "tests.plugins.strict_db_policy")
    assert proc.returncode == 1 and "rolled-back" in proc.stdout + proc.stderr
    assert kv_read(world, "orders-db")[1] == 4  # 2 pending, 3 finished, 4 restored
    assert last_rotated(world, "orders-db") == before
    outcomes = [e["outcome"] for e in trail_lines(world["trail"]) if e["command"] == "rotate"]
    assert outcomes == ["started", "rolled-back"]
