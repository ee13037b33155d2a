"""Issue 14, stalls: no committed file may hold a scan hostage.

Every known-format rule (SA101) is fed its own literal repeated along one
line, the keyword forms SA102/SA103 react to are repeated the same way,
and each must take time linear in the input: a 1 MiB line may cost at
most a generous multiple of what 64 KiB costs (linear is 16x, the
quadratic behaviour this guards against was 256x), and never more than
10 s.  Before the fix ``AKIA`` repeated to 2 MiB took half a minute, and
the jdbc case below did not finish in minutes.

A YAML alias bomb is refused (as a scanned file: skipped with its reason,
exit 1; as the config: a one-line exit-4 error), and a file that runs past
``file_timeout`` is skipped with its reason while the other files'
findings are still reported.
"""

from __future__ import annotations

import random
import re
import string
import subprocess
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

from secretaudit.checks import known_formats as kf
from conftest import fake_aws_key_id, run_cli, run_json
from secretaudit.config import Config, validate
from secretaudit.file_checks import run_checks
from secretaudit.model import FileItem
from secretaudit.plugins import make_pluginmanager, registries

BIG = 1 << 20
SMALL = 64 << 10
#: Linear is 16x from SMALL to BIG; quadratic 256x.  Slack for a loaded machine.
MAX_RATIO = 48
MAX_SECONDS = 10.0


@pytest.fixture(scope="module")
def config() -> Config:
    """The real configuration of a scan: every built-in file check, through the plugin manager."""
    pm = make_pluginmanager(entry_points=False)
    config = Config(settings=validate({}, "<test>"))
    config.pluginmanager = pm
    config.checks, config.formats = registries(pm)
    kf.prefilter()  # built: big scans take the one-pass prefilter (the literal one is the CLI tests')
    return config


def _all_checks(config: Config) -> Callable[[str, str], object]:
    """Every file check on a text, as a scan runs them (a refusal as too costly counts as done)."""
    from secretaudit.budget import TooCostly

    def scan(text: str, name: str) -> None:
        try:
            run_checks(FileItem(path=name, relpath=name, text=text), config)
        except TooCostly:
            pass
    return scan


def _seconds(scan: Callable[[str, str], object], text: str, name: str) -> float:
    """CPU seconds of this process: other processes on a loaded machine do not count, as wall time would."""
    started = time.process_time()
    scan(text, name)
    return time.process_time() - started


def assert_linear(scan: Callable[[str, str], object], unit: str, name: str = "a.txt", tail: str = "",
                  head: str = "") -> None:
    """``unit`` repeated (along one line, unless it holds newlines) is scanned in time linear in its length."""
    small = min(_seconds(scan, head + unit * (SMALL // len(unit)) + tail, name) for _ in range(2))
    big = _seconds(scan, head + unit * (BIG // len(unit)) + tail, name)
    if big >= MAX_RATIO * small + 0.5:  # one slow run (a cache flushed by a neighbour) is not super-linearity
        big = min(big, _seconds(scan, head + unit * (BIG // len(unit)) + tail, name))
    assert big < MAX_SECONDS, f"{unit!r} x {BIG // len(unit)}: {big:.1f}s"
    assert big < MAX_RATIO * small + 0.5, f"{unit!r}: {big:.2f}s for 1 MiB, {small:.3f}s for 64 KiB"


def _literals(rule: kf.Rule) -> list[str]:
    """What a rule's matches start from: its prefix, its tokens, its context keywords (one spelling each)."""
    found = [rule.prefix] if rule.prefix else []
    found += [token.literal for token in rule.tokens] + [phrase.replace(" ", "_") for phrase in rule.context]
    distinct: dict[str, str] = {}
    for literal in found:
        distinct.setdefault(re.sub(r"[-_. ]", "", literal.lower()), literal)  # awsSecret ~ AWS_SECRET ~ aws-secret
    return list(distinct.values())


@pytest.fixture(params=["one-pass", "accelerated"])
def prefilter_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """SA101's prefilter without, then with, the Hyperscan accelerator (when installed)."""
    if request.param == "accelerated":
        pytest.importorskip("hyperscan")
    monkeypatch.setenv("SECRETAUDIT_HYPERSCAN", "1" if request.param == "accelerated" else "0")
    return request.param


@pytest.mark.parametrize("rule", kf.RULES, ids=[rule.slug for rule in kf.RULES])
def test_every_known_format_rule_is_linear_on_its_repeated_literal(rule: kf.Rule, config: Config,
                                                                   prefilter_path: str) -> None:
    for literal in _literals(rule):
        assert_linear(lambda text, _name: kf.find_credentials(text), literal)


KEYWORD_FORMS = [
    "password=", "password: ", "password = '", 'password="', "token: ", "api_key=", "secret ", "pwd={",
    "password={", "x&password=", "host=a ", "://a:b", "Server=a;Password=x;", "<password>", "'aaaaaaaaaaaaaaaa",
    "passwordpassword", "pwd", "secret_", "password: int ", "A_TOKEN=x ",
]


@pytest.mark.parametrize("unit", KEYWORD_FORMS)
@pytest.mark.parametrize("tail", ["", 'a("', ' == "x"', ' "x";'], ids=["end", "call", "compare", "semicolon"])
def test_keyword_forms_repeated_are_linear(unit: str, tail: str, config: Config) -> None:
    assert_linear(_all_checks(config), unit, "settings.py", tail)


@pytest.mark.parametrize("head,unit,tail", [
    ("password=", "1", "x"),  # trailing digits were stripped from every digit of the run
    ("password = '", "a ", "'"),  # secretaudit: ignore[SA102] a repeated-prefix stall input, not a credential
    ("password: x", " ", "# y"),  # a comment mark after blanks, looked for from every blank
    ("x = 'Zx8vQ2mN5pL0kR7tW3yB' # secretaudit: ignore[SA102] a", " ", "b"),  # a waiver's reason: a minute for 4 KB
    ("password = 1; x", "-a", ""),  # every dash of a-a-a... started a key again: 18 s for 32 KB
], ids=["digits", "words", "blanks", "waiver", "dashed-key"])
def test_one_long_value_is_linear(head: str, unit: str, tail: str, config: Config) -> None:
    assert_linear(_all_checks(config), unit, "settings.env", tail, head)


@pytest.mark.parametrize("name,head,unit,tail", [
    (".openclaw/.env", "A_TOKEN=x", " ", "y"),  # a run of blanks inside a value: 68 s for 128 KB before
    (".openclaw/.env", "", "A_TOKEN=Zx8vQ2mN5pL0\n", ""),
    ("key.ppk", "", "PuTTY-User-Key-File-2: ssh-rsa\n", ""),  # each header searched the rest of the file
    ("key.ppk", "", "PuTTY-User-Key-File-2: ssh-rsa\nPrivate-Lines: 1\nab\n", ""),
    ("id_rsa", "", "-----BEGIN RSA PRIVATE KEY-----\n", ""),
    ("openclaw.yaml", "", "api_key: Zx8vQ2mN5pL0\n", ""),
    (".github/workflows/ci.yml", "jobs:\n  a:\n    env:\n", "      A_TOKEN: Zx8vQ2mN5pL0\n", ""),
    ("openclaw.json", "{", '"a": "b", ', '"z": 1}'),
], ids=["env-blanks", "env-lines", "putty-headers", "putty-keys", "pem-headers", "openclaw-yaml", "workflow",
        "openclaw-json"])
def test_credential_and_agent_files_are_linear(name: str, head: str, unit: str, tail: str, config: Config) -> None:
    """SA104 and SA106 read files by name: each kind, fed its own worst repetition."""
    assert_linear(_all_checks(config), unit, name, tail, head)


def _distinct(make: Iterator[str]) -> str:
    """Parts from ``make`` up to :data:`BIG` characters, on one line."""
    parts, size = [], 0
    for part in make:
        parts.append(part)
        size += len(part)
        if size >= BIG:
            return "".join(parts)
    raise AssertionError("unreachable")


def _values(rng: random.Random, template: str, alphabet: str, length: int) -> Iterator[str]:
    while True:
        yield template.format("".join(rng.choice(alphabet) for _ in range(length)))


@pytest.mark.parametrize("template,alphabet,length", [
    (" '{}'", string.ascii_letters + string.digits, 24),
    (' "{}",', "0123456789abcdef", 32),
    (" password='{}'", string.ascii_letters + string.digits, 12),
    (" {}", string.ascii_letters + string.digits + "/+", 40),
], ids=["base64", "hex", "keyword", "bare"])
def test_a_line_of_distinct_candidates_is_judged_or_refused_in_time(template: str, alphabet: str, length: int,
                                                                     config: Config) -> None:
    """Thousands of different candidate values on one line: each used to cost a read of the line."""
    text = _distinct(_values(random.Random(14), template, alphabet, length)) + " aws_secret"
    assert _seconds(_all_checks(config), text, "app.js") < MAX_SECONDS


# -- through the CLI ------------------------------------------------------------------------------------


def _timed_cli(*args: str, cwd: Path | None = None) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.monotonic()
    proc = run_cli(*args, cwd=cwd, timeout=120)
    return time.monotonic() - started, proc


@pytest.mark.parametrize("unit", ["AKIA", "ghp_", "xoxb-", "password=", "-----BEGIN RSA PRIVATE KEY-----", "eyJ"])
def test_a_repeated_prefix_file_is_scanned_in_seconds(unit: str, tmp_path: Path) -> None:
    """The first file of a run takes the literal-by-literal prefilter: linear too.

    4 MiB: quadratic, that was minutes (28 s for 2 MB); linear, about a second.
    """
    (tmp_path / "big.txt").write_text(unit * ((4 << 20) // len(unit)) + "\n", encoding="utf-8")
    took, proc = _timed_cli("scan", "--no-baseline", "--no-cache", str(tmp_path))
    assert took < MAX_SECONDS, took
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_jdbc_url_of_repeated_password_parameters(tmp_path: Path) -> None:
    """SA103: 100 KB of these took 44 s, 200 KB did not finish in minutes."""
    (tmp_path / "db.properties").write_text(
        "url=jdbc:mysql://h/db?user=a&password=" + "x&password=" * 18000 + "\n", encoding="utf-8")
    took, proc = _timed_cli("scan", "--no-baseline", "--no-cache", str(tmp_path))
    assert took < MAX_SECONDS, took
    assert proc.returncode == 0, proc.stdout + proc.stderr  # "x" is too short to be a password


# -- YAML alias bombs -------------------------------------------------------------------------------------


def alias_bomb(levels: int = 9, prefix: str = "") -> str:
    """Nine anchors of nine aliases to the one before: ~350 bytes standing for 9**9 strings."""
    lines = [f'{prefix}a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    previous = "a"
    for name in "bcdefghi"[:levels - 1]:
        lines.append(f"{prefix}{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
        previous = name
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_in_a_scanned_file_is_skipped_with_its_reason(tmp_path: Path,
                                                                     rng: random.Random) -> None:
    (tmp_path / "openclaw.yaml").write_text(alias_bomb() + "api_key: x\n", encoding="utf-8")
    (tmp_path / "deploy.sh").write_text(f"export AWS_ACCESS_KEY_ID={fake_aws_key_id(rng)}\n", encoding="utf-8")
    started = time.monotonic()
    proc, report = run_json("scan", "--no-baseline", "--no-cache", str(tmp_path))
    assert time.monotonic() - started < MAX_SECONDS  # more than 40 s before
    assert proc.returncode == 1
    skipped = {s["path"]: s for s in report["skipped"]}
    assert skipped["openclaw.yaml"]["error"] is True
    assert skipped["openclaw.yaml"]["reason"] == "YAML alias bomb"
    assert "alias" in skipped["openclaw.yaml"]["message"]
    assert [f["check_id"] for f in report["findings"] if f["location"]["path"] == "deploy.sh"] == ["SA101"]
    assert "openclaw.yaml: not checked" in proc.stderr  # shown in the terminal too


def test_an_alias_bomb_as_the_config_is_a_one_line_usage_error(tmp_path: Path) -> None:
    config = tmp_path / "secretaudit.yaml"
    config.write_text("policy:\n" + alias_bomb(prefix="  "), encoding="utf-8")  # a known key: validation walks it
    (tmp_path / "ok.txt").write_text("nothing here\n", encoding="utf-8")
    took, proc = _timed_cli("scan", "--no-baseline", "--config", str(config), str(tmp_path / "ok.txt"))
    assert took < MAX_SECONDS  # it hung before
    assert proc.returncode == 4, proc.stdout + proc.stderr
    error = proc.stderr.strip()
    assert "\n" not in error and "Traceback" not in error
    assert "alias" in error and "secretaudit.yaml" in error


def test_a_recursive_alias_as_the_config_is_a_one_line_usage_error(tmp_path: Path) -> None:
    config = tmp_path / "secretaudit.yaml"
    config.write_text("policy: &p\n  again: *p\n", encoding="utf-8")
    _, proc = _timed_cli("scan", "--no-baseline", "--config", str(config), str(config))
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "recursive" in proc.stderr and "\n" not in proc.stderr.strip()


def test_an_alias_bomb_in_an_inventory_is_that_backends_error(tmp_path: Path) -> None:
    (tmp_path / "inventory.yaml").write_text("secrets:\n  - name: x\n    tags:\n" + alias_bomb(prefix="      "),
                                             encoding="utf-8")
    (tmp_path / "secretaudit.yaml").write_text(
        "backends:\n  - {type: generic, name: inv, file: inventory.yaml}\n", encoding="utf-8")
    took, proc = _timed_cli("audit", "--config", str(tmp_path / "secretaudit.yaml"), cwd=tmp_path)
    assert took < MAX_SECONDS
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "alias" in proc.stdout and "Traceback" not in proc.stdout + proc.stderr


def test_ordinary_aliases_still_work(tmp_path: Path, rng: random.Random) -> None:
    """Anchors and merge keys as CI files use them are not bombs: the value behind an alias is still checked."""
    key = fake_aws_key_id(rng)
    (tmp_path / "openclaw.yaml").write_text(
        "defaults: &d {region: eu-west-1, retries: 3}\n"
        + "".join(f"job{i}:\n  <<: *d\n  name: j{i}\n" for i in range(200))
        + f"providers:\n  aws: {{access_key: {key}}}\n", encoding="utf-8")
    proc, report = run_json("scan", "--no-baseline", "--no-cache", str(tmp_path))
    assert not report["skipped"], report["skipped"]
    assert any(f["location"]["path"] == "openclaw.yaml" for f in report["findings"])


# -- the time budget ----------------------------------------------------------------------------------------


def _slow_and_fast_files(tmp_path: Path, rng: random.Random, lines: int = 200_000) -> str:
    """A big file whose every line is a candidate (many seconds of checks), and a small one with a key.

    The budget in these tests is 1 s: the small files' checks (with the
    imports and pattern compiles the first file of a worker pays) stay far
    below it even on a loaded machine, the big one far above on a fast one.
    """
    (tmp_path / "big.py").write_text("".join(f'    api_token = "Zx8vQ2mN{i:08d}pL0kR7t"\n' for i in range(lines)),
                                     encoding="utf-8")
    key = fake_aws_key_id(rng)
    (tmp_path / "creds.sh").write_text(f"export AWS_ACCESS_KEY_ID={key}\n", encoding="utf-8")
    return key


@pytest.mark.parametrize("how", ["option", "config"])
def test_a_file_past_its_time_budget_is_skipped_and_the_scan_goes_on(how: str, tmp_path: Path,
                                                                     rng: random.Random) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    key = _slow_and_fast_files(tree, rng)
    config = tmp_path / "secretaudit.yaml"
    config.write_text("file_timeout: 1\n" if how == "config" else "{}\n", encoding="utf-8")
    extra = ["--file-timeout", "1"] if how == "option" else []
    proc, report = run_json("scan", "--no-baseline", "--no-cache", "--workers", "1", "--config", str(config),
                            *extra, str(tree))
    assert proc.returncode == 1, proc.stderr
    skipped = {Path(s["path"]).name: s for s in report["skipped"]}  # paths are relative to the config's directory
    assert skipped["big.py"]["reason"] == "timed out" and skipped["big.py"]["error"] is True
    assert "file_timeout" in skipped["big.py"]["message"]
    assert [Path(f["location"]["path"]).name for f in report["findings"]] == ["creds.sh"]
    assert report["summary"]["error"] == 1
    assert "big.py: not checked" in proc.stderr
    assert key not in proc.stdout + proc.stderr


def test_the_time_budget_holds_in_worker_processes(tmp_path: Path, rng: random.Random) -> None:
    """Large scans run in forked workers: the budget is armed there too."""
    tree = tmp_path / "tree"
    tree.mkdir()
    _slow_and_fast_files(tree, rng)
    for i in range(80):  # enough files for a pool
        (tree / f"f{i}.txt").write_text("nothing\n", encoding="utf-8")
    proc, report = run_json("scan", "--no-baseline", "--no-cache", "--workers", "2", "--file-timeout", "1",
                            str(tree))
    assert proc.returncode == 1, proc.stderr
    assert [s["path"] for s in report["skipped"] if s["error"]] == ["big.py"]
    assert [f["location"]["path"] for f in report["findings"]] == ["creds.sh"]


def test_no_time_budget_when_it_is_zero(tmp_path: Path, rng: random.Random) -> None:
    _slow_and_fast_files(tmp_path, rng, lines=2000)
    proc, report = run_json("scan", "--no-baseline", "--no-cache", "--file-timeout", "0", str(tmp_path))
    assert proc.returncode == 1 and not report["skipped"]


@pytest.mark.parametrize("value", ["abc", "-1", "nan", "inf"])
def test_a_bad_file_timeout_is_a_one_line_usage_error(value: str, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x\n", encoding="utf-8")
    proc = run_cli("scan", "--no-baseline", f"--file-timeout={value}", str(tmp_path / "a.txt"))
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "file_timeout" in proc.stderr and "\n" not in proc.stderr.strip()
    assert value not in proc.stderr.replace("file_timeout", "")  # the value is not echoed back


def test_the_budget_gives_back_an_alarm_it_found() -> None:
    """A library caller's own SIGALRM handler and timer survive a file's budget (ours stays installed only over
    the default disposition, where an unarmed alarm is ignored instead of killing the process)."""
    import signal
    import time

    from secretaudit.budget import FileTimeout, deadline

    fired: list[int] = []

    def theirs(signum: int, _frame: object) -> None:
        fired.append(signum)

    before = signal.signal(signal.SIGALRM, theirs)
    try:
        signal.setitimer(signal.ITIMER_REAL, 5.0)
        with deadline(2.0):
            pass
        assert signal.getsignal(signal.SIGALRM) is theirs
        assert 4.0 < signal.getitimer(signal.ITIMER_REAL)[0] <= 5.0  # their alarm keeps the time it had left
        signal.setitimer(signal.ITIMER_REAL, 0)
        with pytest.raises(FileTimeout):
            with deadline(0.05):
                time.sleep(1)
        assert signal.getsignal(signal.SIGALRM) is theirs and fired == []
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, before)
