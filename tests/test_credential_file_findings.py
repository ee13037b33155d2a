"""SA104 through the real CLI: a committed credential file is its own finding.

SA101 names the token inside a ``.env`` (its format, critical); SA104 says
the file holding it is committed (delete it, ignore it).  Both must be
reported, and SA104's verdict on the target must be ``failed``, never
``passed``, whichever check found the value.
"""

from __future__ import annotations

import random
import string
from pathlib import Path

from conftest import run_json


def fake_slack_bot_token(rng: random.Random) -> str:
    digits = lambda n: "".join(rng.choice(string.digits) for _ in range(n))  # noqa: E731
    return f"xoxb-{digits(12)}-{digits(13)}-" + "".join(rng.choice(string.ascii_letters + string.digits)
                                                        for _ in range(24))


def test_env_file_with_a_known_format_token_fails_sa104_as_well_as_sa101(tmp_path: Path) -> None:
    token = fake_slack_bot_token(random.Random())
    (tmp_path / ".env").write_text(f"SLACK_BOT_TOKEN={token}\n")
    (tmp_path / "app.py").write_text("print('hello')\n")

    proc, report = run_json("scan", "--no-cache", ".", cwd=tmp_path)

    assert proc.returncode == 1, proc.stderr
    assert token not in proc.stdout + proc.stderr
    on_env = {(f["check_id"], f["status"]) for f in report["findings"] if f["location"]["path"] == ".env"}
    assert on_env == {("SA101", "failed"), ("SA104", "failed")}
    verdicts = {r["check_id"]: r["status"] for r in report["results"]}
    assert verdicts["SA104"] == "failed" and verdicts["SA101"] == "failed"


def test_sa104_still_claims_over_the_generic_keyword_check(tmp_path: Path) -> None:
    """A password SA102 would guess from its key is reported once, by SA104 (claims are unchanged)."""
    (tmp_path / ".env").write_text("DB_PASSWORD=Tq8vLx2pKz9mWq4r\n")  # pragma: allowlist secret

    proc, report = run_json("scan", "--no-cache", ".", cwd=tmp_path)

    assert proc.returncode == 1, proc.stderr
    assert [(f["check_id"], f["location"]["line"]) for f in report["findings"]] == [("SA104", 1)]
