"""``secretaudit validate`` end to end for every kind the standard keeps in Vault:
GitHub tokens (a local server speaking GitHub's REST API), MariaDB and PostgreSQL
passwords (real servers), each working one told from a wrong one."""

from __future__ import annotations

import random

import hvac
from conftest import run_json
from db_servers import mariadb_server, postgres_server  # noqa: F401  (fixtures)
from github_server import github_api  # noqa: F401  (fixture)
from servers import openbao_disposable  # noqa: F401  (fixture)
from test_scan_verify import github_token

FOLDER = "ai-agents/openclaw"


def test_validate_every_kind(tmp_path, openbao_disposable, github_api, mariadb_server, postgres_server) -> None:  # noqa: F811
    rng = random.Random(5)
    live, dead = github_token(rng), github_token(rng)
    github_api.add(live, login="ci-bot")
    my, pg = mariadb_server, postgres_server
    secrets = {
        "github": ("github-token", {"personal_access_token": live}),
        "github-old": ("github-token", {"personal_access_token": dead}),
        "database": ("database-password", {"mysql_host": my.host, "mysql_port": str(my.port),
                                           "mysql_user": my.user, "mysql_password": my.password}),
        "database-stale": ("database-password", {"mysql_host": my.host, "mysql_port": str(my.port),
                                                 "mysql_user": my.user, "mysql_password": my.password + "x"}),
        "postgres": ("database-password", {"postgres_host": pg.host, "postgres_port": str(pg.port),
                                           "postgres_user": pg.user, "postgres_password": pg.password}),
        "postgres-stale": ("database-password", {"postgres_host": pg.host, "postgres_port": str(pg.port),
                                                 "postgres_user": pg.user, "postgres_password": pg.password + "x"}),
    }
    url, root, _ = openbao_disposable
    kv = hvac.Client(url=url, token=root).secrets.kv.v2
    for name, (kind, fields) in secrets.items():
        kv.create_or_update_secret(path=f"{FOLDER}/{name}", secret=fields, mount_point="secret")
        kv.update_metadata(path=f"{FOLDER}/{name}", custom_metadata={"kind": kind, "owner": "ops"},
                           mount_point="secret")
    config = tmp_path / "secretaudit.yaml"
    config.write_text(f"backends:\n  - {{type: vault, name: prod, url: '{url}', token: '${{VAULT_TOKEN}}', "
                      f"path: 'secret/{FOLDER}'}}\n")
    proc, report = run_json("validate", "--secret", "github*", "--secret", "database*", "--secret", "postgres*",
                            "--config", str(config), "--github-api-url", github_api.url, env={"VAULT_TOKEN": root})
    assert proc.returncode == 1, proc.stderr
    verdicts = {f["location"]["name"]: f["check_id"] for f in report["findings"]}
    assert verdicts == {"github-old": "SA401", "database-stale": "SA401", "postgres-stale": "SA401"}, report["findings"]
    assert report["summary"]["passed"] == 3
    output = proc.stdout + proc.stderr
    assert not any(v in output for v in (live, dead, my.password, pg.password))
