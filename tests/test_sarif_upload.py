"""The SARIF of ``scan`` and of ``audit`` is what GitHub code scanning accepts (issue 17).

Each SARIF file written by a real CLI run must pass the official SARIF 2.1.0
schema and GitHub's upload rules (:mod:`sarif_checks`): a file and line for
every result (backend, config and lifecycle findings included: GitHub
rejects the whole upload otherwise), a ``helpUri`` on every rule, an
``automationDetails.id`` per command and config, ``run.properties.as_of``.
Beyond "it validates", the tests open the file each physical location names,
relative to ``%SRCROOT%``, and check that its line is the declaration: the
inventory entry of the secret, the config entry of the backend, the config key.
"""

from __future__ import annotations

import json
import random
import re
import secrets
import shutil
import tomllib
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import hvac
import jsonschema

from conftest import ROOT, fake_aws_key_id, git, run_cli
from github_server import FakeGitHub, github_api  # noqa: F401  (fixture)
from sarif_checks import github_problems, sarif_errors
from secretaudit.plugins import DEFAULT_PLUGINS
from servers import OpenBao, openbao  # noqa: F401  (fixture)

#: the least-privilege checks, for a run whose defaults do not load them (-p of a loaded plugin is an error)
PLUGINS = [arg for module in ("secretaudit.checks.vault_policy", "secretaudit.checks.github_scopes")
           if module not in DEFAULT_PLUGINS for arg in ("-p", module)]


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def resolve(root: Path, location: dict[str, Any]) -> tuple[Path, int]:
    """The file and line a physical location names, resolved as code scanning does: from the checkout (%SRCROOT%)."""
    physical = location["physicalLocation"]
    artifact = physical["artifactLocation"]
    assert artifact["uriBaseId"] == "%SRCROOT%" and not urlsplit(artifact["uri"]).scheme
    return root / unquote(artifact["uri"]), physical["region"]["startLine"]


def line_text(path: Path, line: int) -> str:
    return path.read_text(encoding="utf-8").splitlines()[line - 1]


def assert_uploadable(log: dict[str, Any]) -> dict[str, Any]:
    """Schema and GitHub's rules hold; returns the (only) run."""
    assert sarif_errors(log) == []
    assert github_problems(log) == []
    (run,) = log["runs"]
    return run


def backend_results(run: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in run["results"] if "logicalLocations" in r["locations"][0]]


# -- the README's audit ------------------------------------------------------------------------


def test_readme_audit_sarif_locates_every_finding_and_merges_the_same(tmp_path: Path) -> None:
    sarif, report = tmp_path / "x.sarif", tmp_path / "x.json"
    proc = run_cli("audit", "--config", "examples/secretaudit.yaml", "--as-of", "2026-12-01",
                   "--report", f"sarif:{sarif}", "--report", f"json:{report}", cwd=ROOT)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    run = assert_uploadable(load(sarif))
    failed = [f for f in load(report)["findings"] if f["status"] in ("failed", "waived")]
    assert len(run["results"]) == len(failed) >= 17
    inventory = (ROOT / "examples" / "inventory.yaml").resolve()
    backend = backend_results(run)
    assert len(backend) == 11  # the results that used to have no physical location at all
    for result in backend:
        (logical,) = result["locations"][0]["logicalLocations"]
        assert logical["fullyQualifiedName"] == f"generic:inventory:{logical['name']}"
        path, line = resolve(ROOT, result["locations"][0])
        assert path.resolve() == inventory
        assert re.match(rf"\s*- name: {re.escape(logical['name'])}\s", line_text(path, line) + " ")
    for result in run["results"]:
        if result not in backend:
            path, line = resolve(ROOT, result["locations"][0])
            assert path.resolve().parent == (ROOT / "examples" / "leaky-app").resolve() and line >= 1
    assert run["automationDetails"] == {"id": "secretaudit/audit/examples/secretaudit.yaml/"}
    assert run["properties"]["as_of"] == "2026-12-01T00:00:00+00:00"
    # the JSON report carries the same declaration, and still validates against its schema
    data = load(report)
    schema = load(ROOT / "reports" / "schemas" / "report.schema.json")
    jsonschema.validate(data, schema)
    declared = {(f["location"]["name"], f["location"]["declared_in"], f["location"]["declared_line"])
                for f in data["findings"] if f["location"].get("backend")}
    assert len(declared) == 10 and {d[1] for d in declared} == {"examples/inventory.yaml"}
    # a merged report (the shards of a nightly audit) keeps them: no location is lost on the way
    merged = tmp_path / "merged.sarif"
    proc = run_cli("report", "merge", str(report), "--report", f"sarif:{merged}", cwd=ROOT)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    merged_run = assert_uploadable(load(merged))
    assert merged_run["automationDetails"] == {"id": "secretaudit/merge/"}
    assert sorted(json.dumps(r["locations"], sort_keys=True) for r in merged_run["results"]) == \
        sorted(json.dumps(r["locations"], sort_keys=True) for r in run["results"])


def test_every_rule_links_to_its_row_of_the_readme(tmp_path: Path) -> None:
    from secretaudit import __url__

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["urls"]["Repository"] == __url__
    sarif, report = tmp_path / "x.sarif", tmp_path / "x.json"
    run_cli("audit", "--config", "examples/secretaudit.yaml", "--report", f"sarif:{sarif}", "--report",
            f"json:{report}", *PLUGINS, cwd=ROOT)
    run = load(sarif)["runs"][0]
    assert run["properties"]["as_of"] == load(report)["run"]["as_of"]  # no --as-of: the run's start
    rules = run["tool"]["driver"]["rules"]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    checks = readme[readme.index("\n## Checks"):readme.index("\n## Plugins")]
    assert {"SA101", "SA200", "SA201", "SA304", "SA305", "SA501"} <= {rule["id"] for rule in rules}
    for rule in rules:
        anchor = rule["id"].split("/")[0].lower()
        assert rule["helpUri"] == f"{__url__}#{anchor}"
        assert f'<a id="{anchor}"></a>' in checks, f"README's Checks table has no anchor for {rule['id']}"


# -- a repository's audit: Vault, inventory, GitHub tokens, config hygiene ------------------------


def test_audit_sarif_points_at_each_declaration_in_the_repository(openbao: OpenBao, github_api: FakeGitHub,
                                                                  tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    ops = repo / "ops"
    ops.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    folder = f"sarif-{uuid.uuid4().hex[:8]}"
    client = hvac.Client(url=openbao.url, token=openbao.root_token)
    client.secrets.kv.v2.create_or_update_secret(path=f"{folder}/db-password", mount_point="secret",
                                                 secret={"password": secrets.token_hex(12)})
    client.sys.create_or_update_policy(name=folder, policy='path "*" { capabilities = ["read", "list", "sudo"] }\n')
    vault_token = client.auth.token.create(policies=[folder], ttl="1h")["auth"]["client_token"]
    wide = "ghp_" + secrets.token_hex(18)
    github_api.add(wide, "deployer", "repo, delete_repo")
    (ops / "secretaudit.yaml").write_text(
        "# the team's audit\n"
        "backends:\n"
        "  - type: vault\n"                                    # line 3
        "    name: prod\n"
        f"    url: '{openbao.url}'\n"                           # line 5: SA501 (plain http, loopback)
        "    token: '${VAULT_TOKEN}'\n"
        f"    path: 'secret/{folder}'\n"
        "  - {type: generic, name: inventory, file: inventory.yaml}\n"   # line 8
        "scopes:\n"
        "  github:\n"
        f"    api_url: {github_api.url}\n"
        "    tokens:\n"
        "      - {name: deployer, token: '${GH_WIDE}'}\n"      # line 13
        "policy:\n"
        "  scopes:\n"
        "    github: ['repo:acme/*:write']\n", encoding="utf-8")
    (ops / "inventory.yaml").write_text(
        "secrets:\n"
        "  - name: ok-token\n"
        "    kind: github-token\n"
        "    owner: platform\n"
        "    expiry_date: 2027-06-01\n"
        "  - name: old-deploy-key\n"                               # line 6
        "    owner: platform\n"
        "    expiry_date: 2026-01-01\n", encoding="utf-8")
    sarif = tmp_path / "out.sarif"
    # run from a subdirectory, as a CI step with working-directory: ops would
    proc = run_cli("audit", "--config", "secretaudit.yaml", "--report", f"sarif:{sarif}", *PLUGINS, cwd=ops,
                   env={"VAULT_TOKEN": vault_token, "GH_WIDE": wide})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    log = load(sarif)
    run = assert_uploadable(log)
    assert "uri" not in run["originalUriBaseIds"]["%SRCROOT%"]  # the checkout is the reader's, not this machine's
    assert run["automationDetails"] == {"id": "secretaudit/audit/ops/secretaudit.yaml/"}
    where: dict[str, set[tuple[str, int]]] = {}
    for result in run["results"]:
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        path, line = resolve(repo, result["locations"][0])
        assert path.is_file() and path.resolve().is_relative_to(repo.resolve())
        where.setdefault(result["ruleId"], set()).add((uri, line))
    config, inventory = "ops/secretaudit.yaml", "ops/inventory.yaml"
    assert where["SA501"] == {(config, 5)}                      # the url key
    assert where["SA304"] == where["SA509"] == {(config, 3)}    # the Vault backend's entry
    assert where["SA305"] == {(config, 13)}                     # the GitHub token's entry
    assert where["SA201"] == {(inventory, 6)}                   # the inventory entry of the expired secret
    vault_records = [r for r in backend_results(run)
                     if r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "vault:prod:db-password"]
    assert vault_records and {(r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in vault_records} == {3}
    for secret in (vault_token, wide):
        assert secret not in sarif.read_text(encoding="utf-8")


# -- a repository's scan -----------------------------------------------------------------------


def test_scan_sarif_of_a_repository_uploads(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "examples" / "leaky-app", repo / "app")
    git(repo, "init", "-q", "-b", "main")
    waived = fake_aws_key_id(random.Random(7))
    (repo / "app" / "fixtures.py").write_text(f'KEY = "{waived}"  # secretaudit: ignore[SA101] revoked test key\n')
    sarif, report = tmp_path / "scan.sarif", tmp_path / "scan.json"
    proc = run_cli("scan", "--no-baseline", "--report", f"sarif:{sarif}", "--report", f"json:{report}",
                   cwd=repo / "app")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    run = assert_uploadable(load(sarif))
    assert run["automationDetails"] == {"id": "secretaudit/scan/"}
    expected = sorted(f["fingerprint"] for f in load(report)["findings"] if f["status"] in ("failed", "waived"))
    assert sorted(r["partialFingerprints"]["secretaudit/v1"] for r in run["results"]) == expected
    uris = set()
    for result in run["results"]:
        path, line = resolve(repo, result["locations"][0])
        assert path.is_file() and 1 <= line <= max(1, len(path.read_text(encoding="utf-8").splitlines()))
        uris.add(result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"])
    assert {"app/.env", "app/settings.py", "app/fixtures.py"} <= uris  # relative to the repository, not to cwd
    assert any(r.get("suppressions") for r in run["results"])
    assert waived not in sarif.read_text(encoding="utf-8")


# -- the limits and the checker itself ---------------------------------------------------------


def test_more_results_than_github_takes_keeps_the_most_severe() -> None:
    from secretaudit.model import Finding, Location, Severity, Status
    from secretaudit.reports.sarif_report import MAX_RESULTS, reported

    def finding(n: int, severity: Severity, status: Status = Status.FAILED) -> Finding:
        return Finding("SA102", severity, status, Location(path=f"f{n}.py", line=1), "m", f"{n:032x}")

    findings = [finding(n, Severity.LOW) for n in range(MAX_RESULTS)]
    findings.insert(100, finding(-1, Severity.HIGH, Status.WAIVED))
    findings.append(finding(-2, Severity.CRITICAL))
    kept = reported(findings)
    ids = set(map(id, kept))
    assert len(kept) == len(ids) == MAX_RESULTS
    assert id(findings[-1]) in ids and id(findings[100]) not in ids  # failed critical in, waived out
    assert [id(f) for f in kept] == [id(f) for f in findings if id(f) in ids]  # the report's order is kept
    assert reported(findings[:10]) == findings[:10]


def test_the_checker_catches_what_github_rejects(tmp_path: Path) -> None:
    """The helper is not a rubber stamp: each broken rule of a valid log is reported."""
    sarif = tmp_path / "x.sarif"
    run_cli("audit", "--config", "examples/secretaudit.yaml", "--report", f"sarif:{sarif}", cwd=ROOT)
    log = load(sarif)
    assert github_problems(log) == []
    run = log["runs"][0]
    results = run["results"]
    del results[0]["locations"][0]["physicalLocation"]
    results[1]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] = "file:///etc/inventory.yaml"
    results[2]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0
    results[3]["ruleIndex"] = results[3]["ruleIndex"] + 1
    results[4]["ruleId"] = "SA999"
    del results[5]["partialFingerprints"]
    run["tool"]["driver"]["rules"][0]["helpUri"] = "https://github.com/<org>/secretaudit#sa101"
    run["tool"]["driver"]["rules"][1]["properties"]["tags"] = [f"t{i}" for i in range(21)]
    del run["automationDetails"]
    log["runs"].append(json.loads(json.dumps(run)))
    problems = "\n".join(github_problems(log))
    for expected in ("results[0].locations[0]: no physicalLocation", "is not relative to the repository",
                     "region.startLine is 0", "ruleIndex", "'SA999' is not a rule", "results[5]: no partialFingerprints",
                     "helpUri 'https://github.com/<org>", "21 tags", "no automationDetails.id", "share an automationDetails"):
        assert expected in problems, expected
    run["results"] = run["results"] * 1500  # 25,500 results
    assert any("results (GitHub's limit: 25000)" in p for p in github_problems({"runs": [run]}))


def test_an_openclaw_yaml_backend_is_declared_by_its_external_secrets_block(openbao: OpenBao, tmp_path: Path) -> None:
    """OpenClaw's config holds the backend under external_secrets.<type>, not in a backends list."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    folder = f"sarif-oc-{uuid.uuid4().hex[:8]}"
    client = hvac.Client(url=openbao.url, token=openbao.root_token)
    client.secrets.kv.v2.create_or_update_secret(path=f"{folder}/agent-key", mount_point="secret",
                                                 secret={"api_key": secrets.token_hex(12)})
    (repo / "openclaw.yaml").write_text(
        "gateway: {port: 18789}\n"
        "external_secrets:\n"
        "  backend: vault\n"
        "  vault:\n"                                   # line 4
        f"    url: '{openbao.url}'\n"                  # line 5
        "    token: '${VAULT_TOKEN}'\n"
        f"    path: 'secret/{folder}'\n", encoding="utf-8")
    sarif = tmp_path / "oc.sarif"
    proc = run_cli("audit", "--config", "openclaw.yaml", "--report", f"sarif:{sarif}", cwd=repo,
                   env={"VAULT_TOKEN": openbao.root_token})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    run = assert_uploadable(load(sarif))
    assert run["automationDetails"] == {"id": "secretaudit/audit/openclaw.yaml/"}
    record = [r for r in backend_results(run)
              if r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"].endswith(":agent-key")]
    assert record and {resolve(repo, r["locations"][0]) for r in record} == {(repo / "openclaw.yaml", 4)}
    assert {resolve(repo, r["locations"][0]) for r in run["results"] if r["ruleId"] == "SA501"} == \
        {(repo / "openclaw.yaml", 5)}
