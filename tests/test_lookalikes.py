"""Look-alikes that are not leaks, next to the real thing, scanned through the CLI.

Each test writes files with values generated at run time: the look-alike
(a published sample key, a public key, a CSS selector, a CSRF token, a JWT
in a Basic header...) must give no finding, and the credential in the same
place must still be found, so a filter that drops everything fails here.
"""

from __future__ import annotations

import base64
import random
import string
from pathlib import Path

import pytest

from conftest import run_json

ALNUM = string.ascii_letters + string.digits


def rand(rng: random.Random, n: int, alphabet: str = ALNUM) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def findings(report: dict) -> set[tuple[str, int, str]]:
    return {(f["location"]["path"].rsplit("/", 1)[-1], f["location"]["line"], f["check_id"]) for f in report["findings"]}


def test_published_firebase_sample_keys_are_not_reported(tmp_path: Path, rng: random.Random) -> None:
    real = "AIza" + rand(rng, 35, ALNUM + "_-")
    (tmp_path / "firebase.js").write_text(
        "const firebaseConfig = {\n"
        '  apiKey: "AIzaSyDMAScliyLx7F0NPDEJi1QmyCgHIAODrlU",\n'  # a Firebase SDK documentation sample
        '  authDomain: "demo-project.firebaseapp.com",\n'
        "};\n"
        f'const mapsKey = "{real}";\n'
    )
    _proc, report = run_json("scan", str(tmp_path))
    assert findings(report) == {("firebase.js", 5, "SA101")}


def test_public_and_publishable_values_are_not_secrets(tmp_path: Path, rng: random.Random) -> None:
    values = [rand(rng, 40) for _ in range(6)]
    (tmp_path / "keys.py").write_text(
        f'public_key = "{values[0]}"\n'
        f'publicToken = "pub_{values[1]}"\n'
        f'VAPID_PUBLIC_KEY = "{values[2]}"\n'
        f'STRIPE_PUBLISHABLE_KEY = "{values[3]}"\n'
        f'NEXT_PUBLIC_STRIPE_SECRET_KEY = "{values[4]}"\n'  # public by mistake: a leak
        f'signing_key = "{values[5]}"\n'
    )
    _proc, report = run_json("scan", str(tmp_path))
    assert findings(report) == {("keys.py", 5, "SA102"), ("keys.py", 6, "SA102")}


def test_jwt_in_a_basic_header_is_no_credential(tmp_path: Path, rng: random.Random) -> None:
    def b64url(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    jwt = ".".join((b64url(b'{"alg":"HS256","typ":"JWT"}'), b64url(b'{"sub":"%s"}' % rand(rng, 12).encode()),
                    b64url(rng.randbytes(32))))
    basic = base64.b64encode(f"deploy:{rand(rng, 20)}".encode()).decode()
    (tmp_path / "calls.sh").write_text(
        f'curl -H "Authorization: Basic {jwt}" https://api.internal.io/v1\n'
        f'curl -H "Authorization: Bearer {jwt}" https://api.internal.io/v1\n'
        f'curl -H "Authorization: Basic {basic}" https://api.internal.io/v1\n'
    )
    (tmp_path / "client.yaml").write_text(f'headers:\n  Authorization: "Basic {jwt}"\n')
    _proc, report = run_json("scan", str(tmp_path))
    assert findings(report) == {("calls.sh", 2, "SA101"), ("calls.sh", 3, "SA101")}
    rules = {f["location"]["line"]: f["rule"] for f in report["findings"]}
    assert rules == {2: "jwt", 3: "curl-basic-auth-header"}


def test_css_selectors_under_secret_names(tmp_path: Path, rng: random.Random) -> None:
    real = rand(rng, 24)
    (tmp_path / "login.spec.js").write_text(
        'const passwordInput = "#login-form input[name=password]";\n'
        "const password = 'input[type=\"password\"]';\n"
        'const secret = ".secret-card__header--7fA9b2Qz";\n'
        'const apiKey = "div.sc-bdVaJa.kFqXwZ";\n'
        'const authToken = "#root > div.css-1q2w3e4";\n'
        f'const token = "{real}";\n'
    )
    _proc, report = run_json("scan", str(tmp_path))
    assert findings(report) == {("login.spec.js", 6, "SA102")}


def test_csrf_tokens_in_forms_are_not_secrets(tmp_path: Path, rng: random.Random) -> None:
    tokens = [rand(rng, 64, ALNUM + "+/") for _ in range(4)]
    signing = rand(rng, 40)
    (tmp_path / "login.html").write_text(
        '<form action="/session" method="post">\n'
        f'  <input type="hidden" name="authenticity_token" value="{tokens[0]}">\n'
        f'  <input type="hidden" name="_token" value="{tokens[1][:40]}">\n'
        f'  <input type="hidden" name="csrfmiddlewaretoken" value="{tokens[2]}">\n'
        f'  <meta name="csrf-token" content="{tokens[3]}">\n'
        "</form>\n"
    )
    (tmp_path / "settings.py").write_text(f'csrf_token = "{tokens[0]}"\nWTF_CSRF_SECRET_KEY = "{signing}"\n')
    _proc, report = run_json("scan", str(tmp_path))
    assert findings(report) == {("settings.py", 2, "SA102")}


@pytest.mark.parametrize("name", ["NuGet.Config", "nuget.config", "NuGet.config", "Nuget.Config"])
def test_nuget_config_in_any_case(tmp_path: Path, rng: random.Random, name: str) -> None:
    password = rand(rng, 18, ALNUM + "!#%")
    encrypted = "AQAAANCMnd8BFdERjHoAwE/Cl+sBAAAA" + rand(rng, 120, ALNUM + "+/")
    config = tmp_path / "src" / name
    config.parent.mkdir()
    config.write_text(
        "<configuration>\n  <packageSourceCredentials>\n"
        '    <Docs><add key="ClearTextPassword" value="33f!!lloppa" /></Docs>\n'  # the NuGet docs' sample
        '    <Env><add key="ClearTextPassword" value="%FEED_PASSWORD%" /></Env>\n'
        f'    <Feed><add key="Username" value="ci" /><add key="ClearTextPassword" value="{password}" /></Feed>\n'
        "  </packageSourceCredentials>\n</configuration>\n"
    )
    other = tmp_path / "other" / name
    other.parent.mkdir()
    other.write_text(f'<configuration><packageSourceCredentials><Feed>\n<add key="Password" value="{encrypted}" />\n'
                     "</Feed></packageSourceCredentials></configuration>\n")
    proc, report = run_json("scan", str(tmp_path))
    found = {(f["location"]["path"].split("/")[-2], f["location"]["line"], f["check_id"], f["rule"])
             for f in report["findings"]}
    # the file is a committed credential file (SA104) whichever check names the value in it (SA101)
    assert found == {("src", 5, "SA101", "nuget-cleartext-password"), ("src", 5, "SA104", "nuget-password"),
                     ("other", 2, "SA104", "nuget-password")}
    assert password not in proc.stdout and encrypted not in proc.stdout


def test_connection_string_at_a_documentation_host(tmp_path: Path, rng: random.Random) -> None:
    strong = rand(rng, 20)
    (tmp_path / "settings.yaml").write_text(
        "databases:\n"
        "  docs: postgres://app:s3cr3tPassw0rd@db.example.com:5432/app\n"
        f"  anonymised: postgres://app:{strong}@db.internal.example:5432/app\n"
        "  local: postgres://app:app@localhost:5432/app\n"
    )
    proc, report = run_json("scan", str(tmp_path))
    assert findings(report) == {("settings.yaml", 3, "SA103")}
    assert strong not in proc.stdout


def test_command_line_credentials(tmp_path: Path, rng: random.Random) -> None:
    pw = [rand(rng, 20) for _ in range(6)]
    (tmp_path / "deploy.sh").write_text(
        "#!/bin/sh\n"
        f"curl -fsS -u deploy:{pw[0]} https://artifacts.internal.io/pkg.tgz -o pkg.tgz\n"
        f"mysql -h db.internal -u root -p{pw[1]} app < schema.sql\n"
        f"PGPASSWORD='{pw[2]}' psql -h db.internal -U app -c 'select 1'\n"
        f"sshpass -p '{pw[3]}' ssh deploy@web1.internal 'systemctl restart app'\n"
        f"docker login -u ci -p {pw[4]} registry.internal.io\n"
        f"redis-cli -h cache.internal -a {pw[5]} ping\n"
        'curl -u "$USER:$PASSWORD" https://api.internal.io\n'
        'mysql -u root -p"$MYSQL_ROOT_PASSWORD" app\n'
        "docker login -u ci --password-stdin registry.internal.io < token.txt\n"
        "mysql -u root -p app\n"
        f"git clone https://deploy:{pw[0][::-1]}@git.internal.io/platform/app.git\n"  # line 12: SA103's
        'git clone "https://deploy:${GIT_TOKEN}@git.internal.io/platform/app.git"\n'
    )
    proc, report = run_json("scan", str(tmp_path))
    rules = {f["location"]["line"]: f["rule"] for f in report["findings"] if f["check_id"] == "SA101"}
    assert rules == {2: "curl-basic-auth", 3: "mysql-password-option", 4: "postgres-password-env",
                     5: "sshpass-password", 6: "registry-login-password", 7: "redis-cli-password"}
    assert {(f["location"]["line"], f["check_id"]) for f in report["findings"]} == {
        *((line, "SA101") for line in rules), (12, "SA103")}
    assert not any(value in proc.stdout for value in pw)
