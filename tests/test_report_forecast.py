"""The reviewer's report of the README's example audit: forecast, as-of date, counts per kind, owners.

One real run of ``secretaudit audit --config examples/secretaudit.yaml
--as-of 2026-12-01`` writes the HTML, JSON, markdown and JUnit reports.  The
JSON is checked against the inventory's planted dates and against the run's
own findings (the forecast and SA201-SA203 must agree); the HTML is opened in
headless Chromium, which takes a screenshot and dumps the DOM it rendered,
and the DOM's forecast groups, counts and owner groups must match the JSON.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import zlib
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, run_cli

CHROMIUM = os.environ.get("SECRETAUDIT_CHROMIUM", "/usr/bin/chromium")
HEADLESS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
            "--disable-component-update", "--disable-sync", "--disable-extensions")
EXAMPLE = ("audit", "--config", "examples/secretaudit.yaml", "--as-of", "2026-12-01")
GROUPS = ("overdue", "30", "60", "90", "later", "unknown")
ACTIONABLE = ("overdue", "30", "60", "90")


@pytest.fixture(scope="module")
def audit(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("example-audit")
    paths = {fmt: out / f"audit.{ext}" for fmt, ext in (("html", "html"), ("json", "json"), ("markdown", "md"),
                                                         ("junit", "xml"))}
    proc = run_cli(*EXAMPLE, *(arg for fmt, path in paths.items() for arg in ("--report", f"{fmt}:{path}")),
                   cwd=ROOT)
    assert proc.returncode == 1, proc.stderr  # the example plants findings
    return {"dir": out, "paths": paths, "json": json.loads(paths["json"].read_text(encoding="utf-8")),
            "texts": {fmt: path.read_text(encoding="utf-8") for fmt, path in paths.items()}}


def _by_secret(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in report["forecast"]}


# -- JSON --------------------------------------------------------------------------------------


def test_json_run_states_the_as_of_date_and_counts_per_kind(audit: dict[str, Any]) -> None:
    report = audit["json"]
    assert report["run"]["as_of"] == "2026-12-01T00:00:00+00:00"
    audited = report["summary"]["audited"]
    # 1 config file, the inventory's 16 secrets, leaky-app's 4 files: not "21 files scanned"
    assert audited == {"config": {"count": 1, "noun": "config files"}, "backend": {"count": 16, "noun": "secrets"},
                       "path": {"count": 4, "noun": "files"}}
    assert sum(a["count"] for a in audited.values()) == report["summary"]["files_scanned"] == 21


def test_json_forecast_holds_the_inventory_dates(audit: dict[str, Any]) -> None:
    entries = _by_secret(audit["json"])
    assert len(entries) == 16 == audit["json"]["run"]["backends"]["generic:inventory"]["secrets"]
    # planted in examples/inventory.yaml: expired 2026-11-20, expires 2026-12-20, rotated 2026-09-01 (60-day policy)
    batch = entries["batch-job-vault-token"]
    assert (batch["expires"], batch["days_to_expiry"], batch["expiry_group"]) == ("2026-11-20", -11, "overdue")
    docs = entries["docs-bot-github-token"]
    assert (docs["expires"], docs["days_to_expiry"], docs["expiry_group"]) == ("2026-12-20", 19, "30")
    mysql = entries["reporting-mysql-password"]
    assert (mysql["rotation_due"], mysql["days_to_rotation"], mysql["rotation_group"], mysql["rotation_days"]) == \
        ("2026-10-31", -31, "overdue", 60)
    assert (mysql["expires"], mysql["days_to_expiry"], mysql["expiry_group"]) == (None, None, "unknown")
    assert entries["cache-redis-password"]["owner"] is None and docs["owner"] == "docs-team"
    assert entries["ci-release-github-token"]["secret"] == "generic:inventory:ci-release-github-token"
    # soonest event first
    soonest = [min(d for d in (e["days_to_expiry"], e["days_to_rotation"]) if d is not None)
               for e in audit["json"]["forecast"]]
    assert soonest == sorted(soonest)


def test_json_forecast_agrees_with_the_lifecycle_findings(audit: dict[str, Any]) -> None:
    """Expired = SA201, expiring within the 30-day warning window = SA202, rotation overdue = SA203."""
    report = audit["json"]
    flagged: dict[str, set[str]] = {check: set() for check in ("SA201", "SA202", "SA203")}
    for finding in report["findings"]:
        if finding["check_id"] in flagged:
            flagged[finding["check_id"]].add(finding["location"]["name"])
    entries = report["forecast"]
    assert {e["name"] for e in entries if e["expiry_group"] == "overdue"} == flagged["SA201"] != set()
    assert {e["name"] for e in entries if e["expiry_group"] == "30"} == flagged["SA202"] != set()
    assert {e["name"] for e in entries if e["rotation_group"] == "overdue"} == flagged["SA203"] != set()


def test_json_findings_about_secrets_name_their_owner(audit: dict[str, Any]) -> None:
    report = audit["json"]
    owners = {e["secret"]: e["owner"] for e in report["forecast"]}
    for finding in report["findings"]:
        loc = finding["location"]
        secret = f"{loc.get('backend')}:{loc.get('name')}"
        assert finding.get("owner") == owners.get(secret), finding
    assert any(f.get("owner") == "data-team" for f in report["findings"])


def test_json_frameworks_summarise_the_controls(audit: dict[str, Any]) -> None:
    report = audit["json"]
    frameworks = {f["framework"]: f for f in report["frameworks"]}
    assert {"PCI DSS v4", "NIST 800-53", "SOC 2", "ISO 27001:2022"} <= set(frameworks)
    for name, item in frameworks.items():
        controls = [c for c in report["controls"] if c["control"].startswith(name + " ")]
        assert item["controls"] == len(controls) > 0
        assert item["passed"] == sum(c["status"] == "passed" for c in controls)
        assert item["percent"] == 100 * item["passed"] // item["controls"]


def test_markdown_and_junit_state_the_as_of_date(audit: dict[str, Any]) -> None:
    markdown = audit["texts"]["markdown"]
    assert markdown.splitlines()[2] == "As of **2026-12-01**."
    assert "in 1 config file, 16 secrets and 4 files" in markdown and "files scanned" not in markdown
    assert "| rotation due | 2 | 11 | 3 | 0 | 0 | 0 |" in markdown  # the forecast's group counts
    properties = dict(re.findall(r'<property name="([^"]+)" value="([^"]*)"', audit["texts"]["junit"]))
    assert properties["secretaudit.as_of"] == "2026-12-01T00:00:00+00:00"
    assert properties["secretaudit.audited.backend"] == "16 secrets"
    assert properties["secretaudit.audited.config"] == "1 config file"


def test_no_planted_value_reaches_any_report(audit: dict[str, Any]) -> None:
    values = set()
    for path in (ROOT / "examples" / "leaky-app").rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            values |= set(re.findall(r"[\"'=]([A-Za-z0-9_/+-]{16,})", text))
            values |= set(re.findall(r"://[^:/@\s]{1,64}:([^@\s]{8,64})@", text))
    assert len(values) >= 5, values
    for fmt, text in audit["texts"].items():
        leaked = [v[:4] + "…" for v in values if v in text]
        assert not leaked, f"{fmt} report holds planted values {leaked}"


def test_merged_shards_carry_as_of_counts_and_forecast(audit: dict[str, Any], tmp_path: Path) -> None:
    shards = []
    for k in (1, 2):
        shard = tmp_path / f"shard-{k}.json"
        proc = run_cli(*EXAMPLE, "--shard", f"{k}/2", "--report", f"json:{shard}", cwd=ROOT)
        assert proc.returncode in (0, 1), proc.stderr
        shards.append(shard)
    merged = tmp_path / "merged.json"
    proc = run_cli("report", "merge", *map(str, shards), "--report", f"json:{merged}")
    assert proc.returncode == 1, proc.stderr
    whole, got = audit["json"], json.loads(merged.read_text(encoding="utf-8"))
    assert got["run"]["as_of"] == whole["run"]["as_of"]
    assert got["summary"]["audited"] == whole["summary"]["audited"]
    assert got["forecast"] == whole["forecast"]


# -- HTML in headless Chromium -------------------------------------------------------------------


def _chromium(*args: str, tmp: Path) -> subprocess.CompletedProcess[bytes]:
    if os.environ.get("SECRETAUDIT_SKIP_BROWSER") == "1":
        pytest.skip("SECRETAUDIT_SKIP_BROWSER=1: browser tests explicitly disabled")
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: install it (apt-get install -y chromium) or set SECRETAUDIT_CHROMIUM; "
                    "set SECRETAUDIT_SKIP_BROWSER=1 to skip the browser tests on purpose")
    profile = tmp / "chromium-profile"
    proc = subprocess.run([CHROMIUM, *HEADLESS, f"--user-data-dir={profile}", *args], capture_output=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    return proc


def _png_pixels(data: bytes) -> tuple[int, int, bytes]:
    """Width, height and the decompressed (still filtered) pixel rows of a PNG."""
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    pos, idat, size = 8, b"", (0, 0)
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            size = struct.unpack(">II", chunk[:8])
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    return size[0], size[1], zlib.decompress(idat)


def test_chromium_screenshot_of_the_report(audit: dict[str, Any]) -> None:
    shot = audit["dir"] / "audit.png"
    _chromium("--window-size=1360,3200", f"--screenshot={shot}", audit["paths"]["html"].as_uri(), tmp=audit["dir"])
    data = shot.read_bytes()
    width, height, pixels = _png_pixels(data)
    assert (width, height) == (1360, 3200) and len(data) > 50_000
    assert len(set(pixels)) > 100, "the screenshot is (nearly) one colour: nothing rendered"


class _Dom(HTMLParser):
    """Elements with their attributes, the text inside each element with an id, and the parent chain."""

    VOID = {"meta", "br", "wbr", "input", "img", "hr", "link", "source", "col", "area", "base", "embed"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[dict[str, Any]] = []
        self._open: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = {"tag": tag, "attrs": {k: v or "" for k, v in attrs}, "text": "",
                   "parents": [e["attrs"] for e in self._open]}
        self.elements.append(element)
        if tag not in self.VOID:
            self._open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append({"tag": tag, "attrs": {k: v or "" for k, v in attrs}, "text": "",
                              "parents": [e["attrs"] for e in self._open]})

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index]["tag"] == tag:
                del self._open[index:]
                break

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element["text"] += data

    def find(self, tag: str | None = None, **attrs: str) -> list[dict[str, Any]]:
        """Elements of ``tag`` whose attributes (``data_x`` = ``data-x``) have these values ("*": any value)."""
        def match(element: dict[str, Any]) -> bool:
            have = element["attrs"]
            return (tag is None or element["tag"] == tag) and all(
                k.replace("_", "-") in have and (v == "*" or have[k.replace("_", "-")] == v) for k, v in attrs.items())
        return [e for e in self.elements if match(e)]

    def within(self, element_id: str, tag: str | None = None, **attrs: str) -> list[dict[str, Any]]:
        """:meth:`find`, inside the element with id ``element_id``."""
        return [e for e in self.find(tag, **attrs) if any(p.get("id") == element_id for p in e["parents"])]


@pytest.fixture(scope="module")
def dom(audit: dict[str, Any]) -> _Dom:
    """The DOM Chromium rendered (``--dump-dom``: after parsing and the page's own script)."""
    proc = _chromium("--dump-dom", audit["paths"]["html"].as_uri(), tmp=audit["dir"])
    parsed = _Dom()
    parsed.feed(proc.stdout.decode("utf-8"))
    assert parsed.find(id="forecast") and parsed.find(id="findings"), "Chromium did not render the report"
    return parsed


def test_dom_shows_the_as_of_date_at_the_top(dom: _Dom, audit: dict[str, Any]) -> None:
    (as_of,) = dom.find(id="as-of")
    assert as_of["attrs"]["data-as-of"] == audit["json"]["run"]["as_of"]
    assert " ".join(as_of["text"].split()) == "As of 2026-12-01"
    assert any(p.get("class") == "masthead" for p in as_of["parents"])
    (section,) = dom.find(id="forecast")
    assert "as of 2026-12-01" in " ".join(section["text"].split())


def test_dom_counts_what_was_audited_by_kind(dom: _Dom, audit: dict[str, Any]) -> None:
    shown = {e["attrs"]["data-audited-kind"]: (int(e["attrs"]["data-count"]), " ".join(e["text"].split()))
             for e in dom.within("audited", data_audited_kind="*")}
    expected = audit["json"]["summary"]["audited"]
    assert {kind: count for kind, (count, _) in shown.items()} == {k: v["count"] for k, v in expected.items()}
    assert {text for _, text in shown.values()} == {"1 config file", "16 secrets", "4 files"}


def test_dom_forecast_groups_match_the_json(dom: _Dom, audit: dict[str, Any]) -> None:
    entries = audit["json"]["forecast"]
    for event in ("expiry", "rotation"):
        (row,) = dom.within("forecast-groups", data_forecast_event=event)
        cells = [e for e in dom.within("forecast-groups", data_forecast_group="*") if row["attrs"] in e["parents"]]
        expected = Counter(e[f"{event}_group"] for e in entries)
        assert [c["attrs"]["data-forecast-group"] for c in cells] == list(GROUPS)
        assert {c["attrs"]["data-forecast-group"]: int(c["text"]) for c in cells} == \
            {g: expected[g] for g in GROUPS}, event
        assert sum(int(c["attrs"]["data-count"]) for c in cells) == len(entries) == 16

    rows = {e["attrs"]["data-secret"]: e["attrs"] for e in dom.within("forecast-table", data_secret="*")}
    assert set(rows) == {e["secret"] for e in entries}
    for entry in entries:
        attrs = rows[entry["secret"]]
        assert (attrs["data-expiry-group"], attrs["data-rotation-group"]) == \
            (entry["expiry_group"], entry["rotation_group"])
        assert attrs["data-days-to-expiry"] == ("" if entry["days_to_expiry"] is None
                                                else str(entry["days_to_expiry"]))

    # the timeline draws one row per secret overdue or due within 90 days, each with its markers
    drawn = {e["attrs"]["data-secret"] for e in dom.within("forecast-timeline", data_secret="*")}
    assert drawn == {e["secret"] for e in entries
                     if e["expiry_group"] in ACTIONABLE or e["rotation_group"] in ACTIONABLE}
    overdue_marks = [e for e in dom.within("forecast-timeline", tag="path") if "fc-overdue" in e["attrs"]["class"]]
    assert len(overdue_marks) == sum(e["expiry_group"] == "overdue" for e in entries) == 1


def test_dom_groups_lifecycle_findings_by_owner(dom: _Dom, audit: dict[str, Any]) -> None:
    report = audit["json"]
    secrets = {e["secret"] for e in report["forecast"]}
    expected = Counter(f.get("owner", "") for f in report["findings"]
                       if f"{f['location'].get('backend')}:{f['location'].get('name')}" in secrets)
    groups = {e["attrs"]["data-owner-group"]: int(e["attrs"]["data-count"])
              for e in dom.within("owner-groups", data_owner_group="*")}
    assert groups == dict(expected) and groups[""] == 1  # cache-redis-password has no owner
    assert list(groups) == sorted(o for o in groups if o) + [""]
    # and the results table can be filtered by owner
    options = [e["attrs"]["value"] for e in dom.within("filter-owner", tag="option")]
    assert options == ["", *sorted(o for o in groups if o)]
    owned = [e["attrs"]["data-owner"] for e in dom.within("findings", tag="tbody", data_owner="*")]
    assert Counter(o for o in owned if o) == Counter({o: n for o, n in expected.items() if o})


def test_dom_framework_pass_rates_sit_next_to_the_controls(dom: _Dom, audit: dict[str, Any]) -> None:
    shown = {e["attrs"]["data-framework"]: (int(e["attrs"]["data-passed"]), int(e["attrs"]["data-total"]))
             for e in dom.find(data_framework="*")}
    assert shown == {f["framework"]: (f["passed"], f["controls"]) for f in audit["json"]["frameworks"]}
    (frameworks,) = dom.find(id="frameworks")
    (controls,) = dom.find(id="controls")
    assert any(p.get("class") == "compliance-layout" for p in frameworks["parents"])
    assert any(p.get("class") == "compliance-layout" for p in controls["parents"])


def test_hostile_secret_names_and_owners_stay_text(tmp_path: Path) -> None:
    """Names and owners come from backends: in the forecast, the SVG and the owner groups they are text."""
    name, owner = "</text><script>alert(2)</script>", "<img src=x onerror=alert(1)>"
    (tmp_path / "inventory.yaml").write_text(
        "secrets:\n"
        f"  - {{name: {json.dumps(name)}, kind: github-token, owner: {json.dumps(owner)},"
        " created: 2026-11-01, expiry_date: 2026-12-10}\n"
        "  - {name: md-owner, kind: github-token, owner: 'a|b`*_[x](http://evil)', created: 2026-11-01,"
        " expiry_date: 2026-11-10}\n")
    (tmp_path / "secretaudit.yaml").write_text("backends:\n  - {type: generic, name: inv, file: inventory.yaml}\n")
    page, markdown = tmp_path / "report.html", tmp_path / "report.md"
    proc = run_cli("audit", "--config", "secretaudit.yaml", "--as-of", "2026-12-01", "--report", f"html:{page}",
                   "--report", f"markdown:{markdown}", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    rendered = _Dom()
    rendered.feed(_chromium("--dump-dom", page.as_uri(), tmp=tmp_path).stdout.decode("utf-8"))
    assert len(rendered.find("script")) == 1 and not rendered.find("img")
    secret = f"generic:inv:{name}"
    assert [e["attrs"]["data-secret"] for e in rendered.within("forecast-timeline", tag="g")] == \
        ["generic:inv:md-owner", secret]
    (row,) = rendered.within("forecast-table", data_secret=secret)
    assert name in row["text"] and owner in row["text"]
    assert rendered.within("owner-groups", data_owner_group=owner)
    text = markdown.read_text(encoding="utf-8")
    assert "<script>" not in text and "<img" not in text and not re.search(r"(?<!\\)\]\(", text)  # no live link
    assert "(owner a\\|b\\`\\*\\_\\[x\\](http://evil))" in text


@pytest.mark.parametrize("field,value", [("days_to_expiry", "soon"), ("expiry_group", "<b>"), ("name", None)])
def test_merge_rejects_a_malformed_forecast_entry(audit: dict[str, Any], tmp_path: Path, field: str,
                                                  value: Any) -> None:
    report = json.loads(audit["texts"]["json"])
    report["forecast"][0][field] = value
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(report), encoding="utf-8")
    proc = run_cli("report", "merge", str(broken), "--report", f"html:{tmp_path / 'merged.html'}")
    assert proc.returncode == 4 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and f"forecast entry field '{field}'" in proc.stderr
