"""The engine's target runner (secretaudit.targets), driven through the real CLI by a third-party family.

A family only lists targets and units and judges one unit; the engine gates
it by command, shards it, counts each judged unit (an error is never a
pass), builds the findings and fingerprints, and turns a TargetError into
error results, a fatal one ending the target.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from conftest import ROOT, run_cli

from secretaudit.model import fingerprint

PLUGIN = '''
from secretaudit.hookspec import hookimpl
from secretaudit.model import CheckSpec, Severity, Status, Target
from secretaudit.targets import TargetError, TargetFamily, Verdict

SPEC = CheckSpec(id="ACME2", title="ACME things are in order", severity=Severity.MEDIUM,
                 description="Every ACME thing is in order.", remediation="Fix the thing.",
                 controls=("NIST 800-53 AC-6",), applies_to=("acme-things",))


class Things(TargetFamily):
    kind = "acme-things"
    mode = "audit"
    specs = (SPEC,)
    noun = "things"

    def targets(self, config):
        return [Target(kind=self.kind, name="things:A"), Target(kind=self.kind, name="things:B")]

    def units(self, run):
        if run.target.name == "things:B":
            raise TargetError(Verdict("ACME2", "acme-b", "*", "cannot list things: HTTP 503", Status.ERROR, "list"))
        return ["ok", "bad", "flaky", "dead", "never"]

    def judge(self, run, unit):
        if unit == "bad":
            return [Verdict("ACME2", "acme", "bad", "thing 'bad' is out of order", rule="order", evidence="x=1")]
        if unit == "flaky":
            raise TargetError(Verdict("ACME2", "acme", "flaky", "thing 'flaky' could not be read", Status.ERROR,
                                      "read"))
        if unit == "dead":
            raise TargetError(Verdict("ACME2", "acme", "*", "the API rejected the audit's credentials",
                                      Status.ERROR, "endpoint"), fatal=True)
        if unit == "never":
            raise AssertionError("judged after a fatal error")
        return []


@hookimpl
def secretaudit_register_checks(registry):
    registry.add(SPEC)


@hookimpl
def secretaudit_register_families(registry):
    registry.add(Things())
'''


def _setup(tmp_path: Path, extra: str = "") -> tuple[Path, dict[str, str]]:
    site = tmp_path / "site"
    site.mkdir()
    (site / "acme_things.py").write_text(PLUGIN)
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "app.py").write_text("print('hello')\n")
    config = tmp_path / "secretaudit.yaml"
    config.write_text("repos: [repo]\n" + extra)
    return config, {"PYTHONPATH": os.pathsep.join([str(ROOT), str(site)])}


def _audit(config: Path, env: dict[str, str], *args: str) -> tuple[int, dict]:
    proc = run_cli("audit", "--config", str(config), "-p", "acme_things", "--format", "json", *args,
                   cwd=config.parent, env=env)
    assert proc.stdout, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def test_units_are_judged_counted_and_a_fatal_error_ends_the_target(tmp_path: Path) -> None:
    config, env = _setup(tmp_path)
    code, report = _audit(config, env)
    assert code == 1
    found = {(f["location"]["backend"], f["location"]["name"], f["status"], f["message"], f["target"])
             for f in report["findings"] if f["check_id"] == "ACME2"}
    assert found == {
        ("acme", "bad", "failed", "thing 'bad' is out of order", "things:A"),
        ("acme", "flaky", "error", "thing 'flaky' could not be read", "things:A"),
        # the units judged before a fatal error are named; "never" is not judged at all
        ("acme", "*", "error", "the API rejected the audit's credentials (3 things audited before the failure; "
                               "results are partial)", "things:A"),
        # a target whose units cannot be listed is one error result
        ("acme-b", "*", "error", "cannot list things: HTTP 503", "things:B"),
    }
    bad = next(f for f in report["findings"] if f["location"]["name"] == "bad")
    # the engine's one fingerprint: check, rule, BACKEND:NAME; severity and remediation from the spec
    assert bad["fingerprint"] == fingerprint("ACME2", "acme:bad", "", "order")
    assert (bad["severity"], bad["remediation"], bad["evidence"]) == ("medium", "Fix the thing.", "x=1")
    # judged: the config file, app.py and four things (ok, bad, flaky, dead); passed: those two and ok;
    # things:B judged nothing
    assert (report["summary"]["files_scanned"], report["summary"]["passed"]) == (2 + 4, 2 + 1)
    # counted by what they are, in the family's own noun
    assert report["summary"]["audited"] == {"config": {"count": 1, "noun": "config files"},
                                            "path": {"count": 1, "noun": "files"},
                                            "acme-things": {"count": 4, "noun": "things"}}


def test_a_disabled_check_reports_nothing_and_fails_no_unit(tmp_path: Path) -> None:
    config, env = _setup(tmp_path, "disable: [ACME2]\n")
    code, report = _audit(config, env)
    assert code == 0, report["findings"]
    assert not [f for f in report["findings"] if f["check_id"] == "ACME2"]
    assert (report["summary"]["files_scanned"], report["summary"]["passed"]) == (2 + 4, 2 + 4)


def test_each_target_runs_in_exactly_one_shard(tmp_path: Path) -> None:
    config, env = _setup(tmp_path)
    shards = []
    for index in (1, 2):
        _, report = _audit(config, env, "--shard", f"{index}/2")
        shards.append({t["name"] for t in report["run"]["targets"] if t["kind"] == "acme-things"})
    assert shards[0] | shards[1] == {"things:A", "things:B"} and not shards[0] & shards[1]


def test_a_family_runs_only_for_its_command(tmp_path: Path) -> None:
    config, env = _setup(tmp_path)
    proc = run_cli("scan", "-p", "acme_things", "--format", "json", str(tmp_path / "repo"), env=env)
    report = json.loads(proc.stdout)
    assert proc.returncode == 0, proc.stderr
    assert [t["kind"] for t in report["run"]["targets"]] == ["path"]
