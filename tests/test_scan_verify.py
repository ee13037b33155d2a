"""``scan --verify``: hardcoded credentials that still work become SA107 (critical).

GitHub answers through a local server that speaks its REST API (``--github-api-url``),
AWS through moto's STS over real HTTP.
"""

from __future__ import annotations

import random
import string
import zlib
from pathlib import Path

from aws_server import aws_client, moto, moto_server  # noqa: F401  (fixtures)
from conftest import run_json
from github_server import github_api  # noqa: F401  (fixture)

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


def github_token(rng: random.Random) -> str:
    """A classic token with its real structure: 30 random base62 chars and their CRC32 in base62."""
    body = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(30))
    crc, digits = zlib.crc32(body.encode()), ""
    while crc:
        crc, rest = divmod(crc, 62)
        digits = BASE62[rest] + digits
    return "ghp_" + body + digits.rjust(6, "0")


def test_a_live_github_token_is_sa107_and_a_dead_one_is_not(tmp_path: Path, github_api, rng) -> None:  # noqa: F811
    live, dead = github_token(rng), github_token(rng)
    github_api.add(live, login="ci-bot", scopes="repo")
    (tmp_path / "deploy.sh").write_text(f'export GITHUB_TOKEN="{live}"\n\nOLD_TOKEN="{dead}"\n')
    proc, report = run_json("scan", "--verify", "--github-api-url", github_api.url, str(tmp_path))
    assert proc.returncode == 1, proc.stderr
    found = {(f["check_id"], f["location"]["line"]) for f in report["findings"]}
    assert ("SA107", 1) in found and ("SA101", 1) in found
    assert ("SA107", 3) not in found and ("SA101", 3) in found
    (sa107,) = [f for f in report["findings"] if f["check_id"] == "SA107"]
    assert sa107["severity"] == "critical" and "accepted as ci-bot" in sa107["message"]
    assert live not in proc.stdout + proc.stderr and dead not in proc.stdout + proc.stderr


def test_without_verify_nothing_is_sent(tmp_path: Path, github_api, rng) -> None:  # noqa: F811
    token = github_token(rng)
    github_api.add(token, login="ci-bot")
    (tmp_path / "a.sh").write_text(f'TOKEN="{token}"\n')
    proc, report = run_json("scan", str(tmp_path))
    assert proc.returncode == 1 and "SA107" not in {f["check_id"] for f in report["findings"]}
    assert github_api.requests == []


def test_a_live_aws_key_pair_is_sa107(tmp_path: Path, moto, monkeypatch) -> None:  # noqa: F811
    key = aws_client("iam", moto.url)
    key.create_user(UserName="leaky")
    pair = key.create_access_key(UserName="leaky")["AccessKey"]
    (tmp_path / "settings.py").write_text(f'AWS_ACCESS_KEY_ID = "{pair["AccessKeyId"]}"\n'
                                          f'AWS_SECRET_ACCESS_KEY = "{pair["SecretAccessKey"]}"\n')  # secretaudit: ignore[SA102] an f-string template, not a value
    proc, report = run_json("scan", "--verify", str(tmp_path), env={"AWS_ENDPOINT_URL": moto.url})
    assert proc.returncode == 1, proc.stderr
    sa107 = [f for f in report["findings"] if f["check_id"] == "SA107"]
    assert [f["location"]["line"] for f in sa107] == [1] and "user/leaky" in sa107[0]["message"]
    assert pair["SecretAccessKey"] not in proc.stdout + proc.stderr
