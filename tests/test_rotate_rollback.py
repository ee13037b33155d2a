"""A rotation whose new credential fails validation is rolled back, and says so.

Real OpenBao and a real MariaDB: the password is changed in the database,
stored as the current version, then rejected by validation (a site policy
plugin, loaded with ``-p``, that requires longer passwords than the rotation
policy generates).  The database password must be changed back, the previous
fields re-written as the current version, and the trail must say
``rolled-back``.
"""

from __future__ import annotations

import uuid

import pymysql
import pytest
from aws_server import moto, moto_server  # noqa: F401  (fixtures of test_rotate's world)
from db_servers import create_mysql_user, mariadb_server  # noqa: F401  (fixture)
from servers import openbao  # noqa: F401  (fixture)
from test_rotate import REASON, assert_no_values, cli, kv_put, kv_read, trail_lines, world  # noqa: F401

PLUGIN = "tests.plugins.strict_db_policy"


def test_rejected_new_password_is_rolled_back_in_the_database_and_in_vault(world: dict, mariadb_server) -> None:  # noqa: F811
    my = mariadb_server
    user = f"rb_{uuid.uuid4().hex[:6]}"
    first = uuid.uuid4().hex  # 32 characters: the site plugin is only asked about the new one
    create_mysql_user(my, user, first)
    fields = {"mysql_host": my.host, "mysql_port": str(my.port), "mysql_user": user, "mysql_password": first}
    kv_put(world, "orders-db", fields, kind="database-password")

    proc = cli(world, "rotate", "--secret", "orders-db", "--reason", REASON, "-p", PLUGIN)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert "rolled-back" in output and "changed back" in output and "site policy" in output

    current, version = kv_read(world, "orders-db")
    assert current == fields  # the previous fields are the current version again...
    assert version == 4  # ...as a new version: 2 pending, 3 finished, 4 restored
    pymysql.connect(host=my.host, port=my.port, user=user, password=first).close()  # and they log in
    outcomes = [e["outcome"] for e in trail_lines(world["trail"]) if e["command"] == "rotate"]
    assert outcomes == ["started", "rolled-back"]
    assert_no_values([first], output, world["trail"].read_text())


def test_the_same_rotation_without_the_site_plugin_succeeds(world: dict, mariadb_server) -> None:  # noqa: F811
    """The control: what was rolled back above is the validation verdict, not a broken rotation."""
    my = mariadb_server
    user = f"rb_{uuid.uuid4().hex[:6]}"
    first = uuid.uuid4().hex
    create_mysql_user(my, user, first)
    kv_put(world, "orders-db", {"mysql_host": my.host, "mysql_port": str(my.port), "mysql_user": user,
                                "mysql_password": first}, kind="database-password")
    proc = cli(world, "rotate", "--secret", "orders-db", "--reason", REASON)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    current, version = kv_read(world, "orders-db")
    assert version == 3 and current["mysql_password"] != first
    with pytest.raises(pymysql.err.OperationalError):
        pymysql.connect(host=my.host, port=my.port, user=user, password=first).close()
