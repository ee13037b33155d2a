"""The GitHub Action: ``action.yml`` and its entry script, run as the runner runs it.

The entry script (``ci/github/entrypoint.sh``) is executed directly with the
variables GitHub sets for a composite action's step (``GITHUB_WORKSPACE``,
``GITHUB_OUTPUT``, ``GITHUB_STEP_SUMMARY``, ``RUNNER_TEMP`` and the
``INPUT_*`` that action.yml maps), on a repository made here with fake
credentials generated at test time.  The checks read what GitHub would read:
the annotations on stdout (with the runner's parser from
test_github_format.py), the SARIF file, the step outputs file and the summary.
The install step (a pip install of the action's checkout) is not run here;
tests/test_packaging.py builds and installs the same package.
"""

from __future__ import annotations

import json
import os
import random
import re
import string
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import ROOT, cli_shim, fake_aws_key_id, git
from sarif_checks import github_problems
from workflow_commands import commands

ENTRYPOINT = ROOT / "ci" / "github" / "entrypoint.sh"
ACTION = ROOT / "action.yml"


def read_outputs(path: Path) -> dict[str, str]:
    """``$GITHUB_OUTPUT`` as the runner reads it: ``NAME=VALUE`` lines and ``NAME<<DELIM`` blocks."""
    outputs: dict[str, str] = {}
    lines = iter(path.read_text().splitlines()) if path.exists() else iter(())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            value = []
            for item in lines:
                if item == delimiter:
                    break
                value.append(item)
            else:
                raise AssertionError(f"unterminated output {name!r}")
            outputs[name] = "\n".join(value)
        else:
            name, _, value = line.partition("=")
            outputs[name] = value
    return outputs


class Step:
    """One run of the entry script: its process, outputs, summary and the SARIF it wrote."""

    def __init__(self, proc: subprocess.CompletedProcess[str], outputs: dict[str, str], summary: str,
                 workspace: Path) -> None:
        self.proc, self.outputs, self.summary, self.workspace = proc, outputs, summary, workspace

    def sarif(self) -> dict[str, Any]:
        return json.loads((self.workspace / self.outputs["sarif"]).read_text())


def run_step(workspace: Path, tmp_path: Path, **inputs: str) -> Step:
    """The entry script with GitHub's environment for a step of this action; ``inputs`` by input name."""
    runner = tmp_path / "runner"
    runner.mkdir(exist_ok=True)
    output, summary = runner / "output", runner / "summary.md"
    for path in (output, summary):
        path.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "INPUT_", "RUNNER_"))}
    env.update({
        "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(workspace), "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary), "RUNNER_TEMP": str(runner), "GITHUB_ACTION_PATH": str(ROOT),
        "SECRETAUDIT": str(cli_shim(runner / "bin")), "SECRETAUDIT_PYTHON": sys.executable,
        "XDG_CACHE_HOME": str(runner / "cache"), "XDG_STATE_HOME": str(runner / "state"),
    })
    for name in ("command", "paths", "config", "baseline", "fail-on", "sarif", "args"):
        env[f"INPUT_{name.upper().replace('-', '_')}"] = inputs.pop(name.replace("-", "_"), "")
    if not env["INPUT_SARIF"]:
        env["INPUT_SARIF"] = "secretaudit.sarif"  # action.yml's default
    assert not inputs, f"unknown inputs {inputs}"
    proc = subprocess.run(["bash", str(ENTRYPOINT)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    return Step(proc, read_outputs(output), summary.read_text(), workspace)


def _value(rng: random.Random, length: int = 28) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(length))


@pytest.fixture
def leaky(repo: Path, rng: random.Random) -> tuple[Path, list[str]]:
    """A repository with a critical finding, a high one and a waived one; returns it and its secrets."""
    secrets = [fake_aws_key_id(rng), _value(rng), _value(rng)]
    (repo / "deploy.py").write_text(f'KEY_ID = "{secrets[0]}"\n')
    (repo / "settings.py").write_text(f'DEBUG = True\npassword = "{secrets[1]}"\n')
    (repo / "fixture.py").write_text(f'token = "{secrets[2]}"  # secretaudit: ignore[SA102] test value\n')
    git(repo, "add", "-A")
    return repo, secrets


def test_scan_writes_sarif_annotations_summary_and_outputs(leaky: tuple[Path, list[str]], tmp_path: Path) -> None:
    repo, secrets = leaky
    step = run_step(repo, tmp_path, sarif="out/secretaudit.sarif")
    assert step.proc.returncode == 1, step.proc.stderr
    assert step.outputs == {"sarif": "out/secretaudit.sarif", "exit-code": "1", "findings": "2"}
    sarif = step.sarif()
    assert sarif["version"] == "2.1.0"
    results = [r for r in sarif["runs"][0]["results"] if not r.get("suppressions")]
    assert sorted(r["ruleId"].split("/")[0] for r in results) == ["SA101", "SA102"]  # SA101/<format>
    assert github_problems(sarif) == []  # what upload-sarif is given uploads
    annotations = commands(step.proc.stdout)
    assert [(c.name, c.properties["file"], c.properties["line"]) for c in annotations] == [
        ("error", "deploy.py", "1"), ("error", "settings.py", "2")]
    assert "FAILED" in step.summary and "deploy.py" in step.summary  # the markdown report on the summary page
    everything = step.proc.stdout + step.proc.stderr + step.summary + json.dumps(step.outputs) + json.dumps(sarif)
    assert not [s for s in secrets if s in everything or s[4:16] in everything]


def test_fail_on_turns_findings_below_it_into_warnings_and_passes(leaky: tuple[Path, list[str]],
                                                                 tmp_path: Path) -> None:
    repo, _ = leaky
    (repo / "deploy.py").unlink()
    step = run_step(repo, tmp_path, fail_on="critical")
    assert step.proc.returncode == 0, step.proc.stderr
    assert step.outputs == {"sarif": "secretaudit.sarif", "exit-code": "0", "findings": "1"}
    assert [c.name for c in commands(step.proc.stdout)] == ["warning"]
    assert (repo / "secretaudit.sarif").is_file()


def test_paths_baseline_and_args_reach_the_scan(leaky: tuple[Path, list[str]], tmp_path: Path) -> None:
    repo, _ = leaky
    created = run_step(repo, tmp_path, args="--no-cache")
    assert created.proc.returncode == 1
    subprocess.run([str(cli_shim(tmp_path / "shim")), "baseline", "create", "-o", "accepted.json", "."],
                   cwd=repo, check=True, capture_output=True)
    (repo / "new.py").write_text(f'password = "{_value(random.Random(7))}"\n')
    step = run_step(repo, tmp_path, paths="settings.py\nnew.py", baseline="accepted.json")
    assert step.proc.returncode == 1, step.proc.stderr
    assert [c.properties["file"] for c in commands(step.proc.stdout)] == ["new.py"]  # settings.py: in the baseline
    assert step.outputs["findings"] == "1"
    assert "deploy.py" not in step.summary  # not among the paths


def test_audit_with_a_config(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    subprocess.run(["cp", "-r", str(ROOT / "examples"), str(workspace)], check=True)
    step = run_step(workspace, tmp_path, command="audit", config="secretaudit.yaml", args="--as-of 2026-12-01")
    assert step.proc.returncode == 1, step.proc.stderr
    assert int(step.outputs["findings"]) > 10 and step.outputs["exit-code"] == "1"
    rules = {r["ruleId"].split("/")[0] for r in step.sarif()["runs"][0]["results"]}
    assert {"SA101", "SA201"} <= rules
    assert github_problems(step.sarif()) == []  # backend findings too: each at its inventory line
    assert any(c.properties.get("title", "").startswith("SA201 ") for c in commands(step.proc.stdout))


@pytest.mark.parametrize(("inputs", "message"), [
    ({"command": "rotate"}, "input 'command' is 'rotate'; use scan or audit"),
    ({"command": "audit", "baseline": "b.json"}, "input 'baseline' applies to command scan only"),
    ({"fail_on": "urgent"}, "secretaudit exited 4"),
])
def test_bad_inputs_exit_4_with_one_annotation(leaky: tuple[Path, list[str]], tmp_path: Path,
                                               inputs: dict[str, str], message: str) -> None:
    repo, _ = leaky
    step = run_step(repo, tmp_path, **inputs)
    assert step.proc.returncode == 4, step.proc.stdout + step.proc.stderr
    (annotation,) = commands(step.proc.stdout)
    assert annotation.name == "error" and message in annotation.data
    assert not (repo / "secretaudit.sarif").exists()


def test_inputs_cannot_run_commands_or_forge_outputs(leaky: tuple[Path, list[str]], tmp_path: Path) -> None:
    repo, _ = leaky
    step = run_step(repo, tmp_path, paths="$(touch pwned) `touch pwned2` *.py",
                    sarif="x.sarif\nexit-code=0\nfindings=0")
    assert not (tmp_path / "pwned").exists() and not (repo / "pwned").exists() and not (repo / "pwned2").exists()
    assert set(step.outputs) == {"sarif", "exit-code", "findings"}
    # the words are paths, unexpanded: none exists, so the run fails (exit 1) or refuses the SARIF path (4)
    assert step.outputs["exit-code"] != "0" and step.proc.returncode != 0
    assert step.outputs["sarif"] == "x.sarif\nexit-code=0\nfindings=0"


def test_action_yml_maps_every_input_and_never_pastes_one_into_a_script() -> None:
    action = yaml.safe_load(ACTION.read_text())
    assert action["runs"]["using"] == "composite"
    steps = {step.get("id"): step for step in action["runs"]["steps"]}
    run = steps["run"]
    mapped = {name: value for name, value in run["env"].items() if name.startswith("INPUT_")}
    expected = {f"INPUT_{name.upper().replace('-', '_')}": f"${{{{ inputs.{name} }}}}"
                for name in action["inputs"] if name != "python-version"}
    assert mapped == expected
    for step in action["runs"]["steps"]:
        assert "${{" not in step.get("run", ""), f"an expression inside the script of step {step.get('id')}"
    assert run["run"] == 'bash "$GITHUB_ACTION_PATH/ci/github/entrypoint.sh"' and ENTRYPOINT.is_file()
    assert '"$GITHUB_ACTION_PATH"' in steps["install"]["run"] and "pip install" in steps["install"]["run"]
    assert steps["python"]["with"]["update-environment"] is False
    assert {name: out["value"] for name, out in action["outputs"].items()} == {
        name: f"${{{{ steps.run.outputs.{name} }}}}" for name in ("sarif", "exit-code", "findings")}
    assert action["inputs"]["command"]["default"] == "scan" and action["inputs"]["sarif"]["default"] == "secretaudit.sarif"


def _readme_workflow() -> dict[str, Any]:
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## GitHub Actions\n", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```yaml\n(.*?)```", section, flags=re.S)[:1]
    return yaml.safe_load(block)


def test_the_readme_workflow_is_complete() -> None:
    workflow = _readme_workflow()
    job = next(iter(workflow["jobs"].values()))
    assert workflow["permissions"]["security-events"] == "write" or job["permissions"]["security-events"] == "write"
    steps = job["steps"]
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout@"))
    assert "fetch-depth" in checkout["with"]
    ours = next(s for s in steps if re.fullmatch(r"[\w.<>-]+/secretaudit@v[\d.]+", s.get("uses", "")))
    assert set(ours.get("with", {})) <= set(yaml.safe_load(ACTION.read_text())["inputs"])
    upload = next(s for s in steps if s.get("uses", "").startswith("github/codeql-action/upload-sarif@v3"))
    assert upload["if"] == "always()" and upload["with"]["sarif_file"] == f"${{{{ steps.{ours['id']}.outputs.sarif }}}}"
