"""The HTML report: produced by a real CLI run, checked as text and in a real browser.

One scan of the fixture corpus (plus a waived finding and a file whose name is
an XSS payload) writes the HTML and JSON reports; the module's tests read that
one file.  The browser tests drive Debian's chromium over the Chrome DevTools
Protocol (CDP) with a plain websocket client, so they need no Selenium or
Playwright download: they prove the page renders, the filters and sorting
work, no request leaves the page and no script injected by a file name runs.
"""

from __future__ import annotations

import base64
import contextlib
import html
import json
import os
import random
import re
import shutil
import string
import subprocess
import tempfile
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.conftest import CLEAN, CORPUS, ROOT, fake_aws_key_id, load_manifest, run_cli

XSS = "<script>alert(1)</script>"
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = os.environ.get("SECRETAUDIT_CHROMIUM", "/usr/bin/chromium")
CDP_TIMEOUT = 30.0


# -- the report under test -------------------------------------------------------


def _plugin_args() -> list[str]:
    """Load the html plugin explicitly until it is a built-in (loading it twice would fail)."""
    from secretaudit.plugins import DEFAULT_PLUGINS

    return [] if "secretaudit.reports.html_report" in DEFAULT_PLUGINS else ["-p", "secretaudit.reports.html_report"]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Scan the corpus, a waived key and an XSS-named .env file in one run; return both reports."""
    rng = random.Random()
    base = tmp_path_factory.mktemp("html-report")
    waived = base / "waived"
    waived.mkdir()
    key_id = fake_aws_key_id(rng)
    (waived / "deploy.py").write_text(f'AWS_ACCESS_KEY_ID = "{key_id}"  # secretaudit: ignore[SA101] revoked test key\n')
    # "/" cannot be part of a file name, so the payload spans a directory
    # "<script>alert(1)<" and a file "script>.env": the reported path contains it verbatim.
    hostile = base / "hostile"
    (hostile / XSS.rsplit("/", 1)[0]).mkdir(parents=True)
    token = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(32))
    (hostile / f"{XSS}.env").write_text(f"API_TOKEN={token}\n")

    out = base / "out"
    out.mkdir()
    proc = run_cli("scan", "--no-baseline", "--no-cache", str(CORPUS), str(waived), str(hostile), *_plugin_args(),
                   "--report", f"html:{out / 'report.html'}", "--report", f"json:{out / 'report.json'}")
    assert proc.returncode == 1, proc.stderr
    return {"path": out / "report.html", "html": (out / "report.html").read_text(encoding="utf-8"),
            "json": json.loads((out / "report.json").read_text(encoding="utf-8")),
            "secrets": [key_id, token],  # targets as reports name them: relative to the scan root, this repository
            "targets": [os.path.relpath(os.path.realpath(p), os.path.realpath(ROOT)) for p in (CORPUS, waived, hostile)]}


class _Collector(HTMLParser):
    """Collects every attribute, the inline style/script text and each tag's data attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.attrs: list[tuple[str, str, str]] = []
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.raw_text: list[str] = []
        self._in_raw = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self.tags.append((tag, values))
        self.attrs.extend((tag, name, value) for name, value in values.items())
        self._in_raw = tag in ("style", "script")

    def handle_endtag(self, tag: str) -> None:
        self._in_raw = False

    def handle_data(self, data: str) -> None:
        if self._in_raw:
            self.raw_text.append(data)


def _parse(text: str) -> _Collector:
    collector = _Collector()
    collector.feed(text)
    return collector


# -- the report as text ----------------------------------------------------------


def test_report_shows_verdict_controls_results_and_waiver(report: dict[str, Any]) -> None:
    page, data = report["html"], report["json"]
    parsed = _parse(page)
    verdict = next(attrs for tag, attrs in parsed.tags if attrs.get("id") == "verdict")
    assert verdict["data-verdict"] == "FAIL" and verdict["data-exit-code"] == "1"
    for target in report["targets"]:
        assert html.escape(target) in page

    rows = [attrs for tag, attrs in parsed.tags if tag == "tbody" and "result" in attrs.get("class", "")]
    failed = [r for r in rows if r["data-status"] == "failed"]
    assert len(failed) == data["summary"]["failed"]
    assert len([r for r in rows if r["data-status"] == "waived"]) == data["summary"]["waived"] == 1
    assert any(r["data-status"] == "passed" for r in rows)
    assert all(r["data-severity"] and r["data-check"] and r["data-target"] for r in rows)

    controls = {attrs["data-control"]: attrs["data-status"] for tag, attrs in parsed.tags if "data-control" in attrs}
    assert controls.get("PCI DSS v4 8.6.2") == "failed" and controls.get("NIST 800-53 IA-5(7)") == "failed"

    waiver_rows = [attrs for tag, attrs in parsed.tags if "data-waiver-row" in attrs]
    assert len(waiver_rows) == 1 and "revoked test key" in page
    for field_id in ("filter-severity", "filter-status", "filter-check", "filter-target", "findings"):
        assert f'id="{field_id}"' in page


def test_no_planted_secret_in_report(report: dict[str, Any]) -> None:
    page = report["html"]
    secrets = [entry["secret"] for entry in load_manifest()] + report["secrets"]
    assert len(secrets) > 100
    leaked = [s[:6] + "…" for s in secrets if s in page or html.escape(s) in page]
    assert not leaked, f"plaintext secrets in the HTML report: {leaked}"


def test_hostile_file_name_is_escaped(report: dict[str, Any]) -> None:
    page = report["html"]
    assert XSS not in page
    assert html.escape(XSS, quote=False) in page
    scripts = [tag for tag, attrs in _parse(page).tags if tag == "script"]
    assert len(scripts) == 1, "only the report's own inline script may exist"


def test_nothing_references_the_network(report: dict[str, Any]) -> None:
    parsed = _parse(report["html"])
    fetchable = {"src", "href", "srcset", "action", "formaction", "poster", "data", "background", "xlink:href"}
    remote = re.compile(r"^\s*(https?:)?//", re.I)
    offending = [(tag, name, value) for tag, name, value in parsed.attrs
                 if (name in fetchable and remote.match(value)) or ("url(" in value and "//" in value)]
    assert not offending
    assert not [tag for tag, attrs in parsed.tags if tag in ("link", "img", "iframe", "object", "embed", "base")]
    inline = "\n".join(parsed.raw_text)
    assert "@import" not in inline
    assert not re.search(r"url\(\s*['\"]?\s*(https?:)?//", inline, re.I)
    assert not re.search(r"https?://", inline), "inline CSS/JS must not mention any URL"


def test_clean_run_reports_pass_with_skipped_files(tmp_path: Path) -> None:
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01 not text")
    out = tmp_path / "clean.html"
    proc = run_cli("scan", "--no-baseline", "--no-cache", str(CLEAN), str(tmp_path), *_plugin_args(),
                   "--report", f"html:{out}")
    assert proc.returncode == 0, proc.stderr
    parsed = _parse(out.read_text(encoding="utf-8"))
    verdict = next(attrs for tag, attrs in parsed.tags if attrs.get("id") == "verdict")
    assert verdict["data-verdict"] == "PASS" and verdict["data-exit-code"] == "0"
    statuses = {attrs["data-status"] for tag, attrs in parsed.tags if tag == "tbody" and "data-status" in attrs}
    assert statuses == {"passed"}
    assert {attrs["data-status"] for tag, attrs in parsed.tags if "data-control" in attrs} == {"passed"}
    assert [attrs for tag, attrs in parsed.tags if attrs.get("data-skip-error") == "false"]


# -- a real browser over the DevTools protocol -----------------------------------------------


class Page:
    """One chromium tab driven over CDP; records every event it sees.

    Every wait has a deadline, so a hung browser fails the test instead of
    blocking CI.  A JavaScript dialog (an injected ``alert``) is recorded and
    dismissed, so it cannot stall the page either.
    """

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []
        self._next_id = 0

    def send(self, method: str, params: dict[str, Any] | None = None, timeout: float = CDP_TIMEOUT) -> dict[str, Any]:
        self._next_id += 1
        call_id = self._next_id
        self.ws.send(json.dumps({"id": call_id, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout
        while True:
            message = self._recv(deadline, method)
            if message.get("id") == call_id:
                if "error" in message:
                    raise AssertionError(f"CDP {method} failed: {message['error']}")
                return message.get("result", {})

    def wait_for(self, event: str, timeout: float = CDP_TIMEOUT) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        seen = next((e for e in self.events if e["method"] == event), None)
        while seen is None:
            message = self._recv(deadline, event)
            if message.get("method") == event:
                seen = message
        return seen

    def _recv(self, deadline: float, waiting_for: str) -> dict[str, Any]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"timed out waiting for {waiting_for} from chromium")
        try:
            message = json.loads(self.ws.recv(timeout=remaining))
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {waiting_for} from chromium") from None
        if "method" in message:
            self.events.append(message)
            if message["method"] == "Page.javascriptDialogOpening":
                self.ws.send(json.dumps({"id": 0, "method": "Page.handleJavaScriptDialog", "params": {"accept": False}}))
        return message

    def js(self, expression: str) -> Any:
        """Evaluate ``expression`` in the page and return its JSON value."""
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise AssertionError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def events_named(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["method"] == name]


def _devtools_port(user_data: Path, proc: subprocess.Popen[bytes]) -> tuple[int, str]:
    """Chromium writes its port (we asked for port 0: any free one) and browser path here."""
    marker = user_data / "DevToolsActivePort"
    deadline = time.monotonic() + CDP_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"chromium exited with {proc.returncode} before opening DevTools")
        lines = marker.read_text().split() if marker.exists() else []
        if len(lines) >= 2:
            return int(lines[0]), lines[1]
        time.sleep(0.05)
    raise AssertionError("chromium did not write DevToolsActivePort in time")


@pytest.fixture(scope="module")
def browser_page(report: dict[str, Any]) -> Iterator[Page]:
    """The report loaded from file:// in headless chromium, network and dialogs recorded from the start."""
    if os.environ.get("SECRETAUDIT_SKIP_BROWSER") == "1":
        pytest.skip("SECRETAUDIT_SKIP_BROWSER=1: browser tests explicitly disabled")
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: install it (apt-get install -y chromium) or set SECRETAUDIT_CHROMIUM; "
                    "set SECRETAUDIT_SKIP_BROWSER=1 to skip the browser tests on purpose")
    try:
        from websockets.sync.client import connect
    except ImportError:
        pytest.fail("the browser tests need the 'websockets' package (tests/requirements-browser.txt)")

    user_data = Path(tempfile.mkdtemp(prefix="secretaudit-chromium-"))
    proc = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--no-first-run", "--disable-component-update", "--disable-sync", "--disable-extensions",
         f"--user-data-dir={user_data}", "--remote-debugging-port=0", "--window-size=1360,1800", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port, browser_path = _devtools_port(user_data, proc)
        options: dict[str, Any] = {"proxy": None, "max_size": None, "open_timeout": CDP_TIMEOUT}
        with contextlib.ExitStack() as stack:
            browser = Page(stack.enter_context(connect(f"ws://127.0.0.1:{port}{browser_path}", **options)))
            target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            page = Page(stack.enter_context(connect(f"ws://127.0.0.1:{port}/devtools/page/{target}", **options)))
            for domain in ("Page", "Network", "Runtime"):
                page.send(f"{domain}.enable")
            page.send("Emulation.setDeviceMetricsOverride",
                      {"width": 1360, "height": 1800, "deviceScaleFactor": 1, "mobile": False})
            page.send("Page.navigate", {"url": report["path"].resolve().as_uri()})
            page.wait_for("Page.loadEventFired")
            yield page
    finally:
        proc.kill()
        proc.wait(timeout=CDP_TIMEOUT)
        shutil.rmtree(user_data, ignore_errors=True)


VISIBLE_ROWS = ("[...document.querySelectorAll('#findings tbody.result')]"
                ".filter(r => r.getClientRects().length > 0)")


def _select(page: Page, name: str, value: str) -> list[dict[str, str]]:
    """Choose ``value`` in a filter the way a user does; return the visible rows' data attributes."""
    page.js(f"""(() => {{ const s = document.getElementById('filter-{name}');
                s.value = {json.dumps(value)}; s.dispatchEvent(new Event('change', {{bubbles: true}})); }})()""")
    return page.js(f"{VISIBLE_ROWS}.map(r => ({{...r.dataset}}))")


def _reset(page: Page) -> None:
    page.js("document.getElementById('filter-reset').click()")


def test_browser_renders_the_report(browser_page: Page) -> None:
    page = browser_page
    assert "secretaudit" in page.js("document.title")
    assert page.js("document.querySelector('#verdict .verdict-word').textContent.trim()") == "FAIL"
    assert page.js(f"{VISIBLE_ROWS}.length") > 100
    # the hostile file name is shown as text, and no script besides the report's own exists
    assert page.js(f"document.body.textContent.includes({json.dumps(XSS)})")
    assert page.js("document.scripts.length") == 1


def test_browser_filters_by_severity_and_status(browser_page: Page) -> None:
    page = browser_page
    _reset(page)
    total = page.js(f"{VISIBLE_ROWS}.length")
    high = _select(page, "severity", "high")
    assert 0 < len(high) < total and {r["severity"] for r in high} == {"high"}
    assert page.js("document.getElementById('shown-count').textContent") == str(len(high))

    _reset(page)
    waived = _select(page, "status", "waived")
    assert len(waived) == 1 and waived[0]["check"] == "SA101"
    passed = _select(page, "status", "passed")
    assert passed and {r["status"] for r in passed} == {"passed"}

    _reset(page)
    assert page.js(f"{VISIBLE_ROWS}.length") == total


def test_browser_sorts_by_clicking_a_header(browser_page: Page) -> None:
    page = browser_page
    _reset(page)
    ranks = f"{VISIBLE_ROWS}.map(r => Number(r.dataset.rankSeverity))"
    page.js("document.querySelector('#findings th[data-sort=severity] button').click()")
    descending = page.js(ranks)
    assert descending == sorted(descending, reverse=True) and descending[0] > descending[-1]
    page.js("document.querySelector('#findings th[data-sort=severity] button').click()")
    assert page.js(ranks) == sorted(descending)
    page.js("document.querySelector('#findings th[data-sort=check] button').click()")
    checks = page.js(f"{VISIBLE_ROWS}.map(r => r.dataset.check)")
    assert checks == sorted(checks)


def test_browser_expands_a_row(browser_page: Page) -> None:
    page = browser_page
    _reset(page)
    page.js("document.querySelector('#findings tbody.result[data-status=failed] .summary-row').click()")
    detail = page.js("""(() => { const d = document.querySelector(
        '#findings tbody.result[data-status=failed] .detail-row');
        return d.getClientRects().length ? d.textContent : null; })()""")
    assert detail and "Remediation" in detail and "Evidence (redacted)" in detail


def test_browser_print_keeps_remediation_and_repeats_headers(browser_page: Page) -> None:
    """Printed, every table repeats its header on each page, no result row is cut in two, and each
    failed or waived finding shows its remediation without a click (passed rows stay one line)."""
    page = browser_page
    _reset(page)
    page.send("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        heads = page.js("[...document.querySelectorAll('thead')].map(t => getComputedStyle(t).display)")
        assert len(heads) >= 4 and set(heads) == {"table-header-group"}
        assert page.js("getComputedStyle(document.querySelector('#findings tbody.result')).breakInside") == "avoid"
        details = page.js("""[...document.querySelectorAll('#findings tbody.result')].map(b => {
            const d = b.querySelector('.detail-row');
            const shown = [...d.querySelectorAll('dt')].filter(x => x.getClientRects().length).map(x => x.textContent);
            const remedy = d.querySelector('dd.remediation');
            return {status: b.dataset.status, row: d.getClientRects().length > 0, shown: shown,
                    remedy: remedy ? remedy.getClientRects().length > 0 && remedy.textContent.trim() !== '' : null};
        })""")
        findings = [d for d in details if d["status"] != "passed"]
        assert len(findings) > 100 and all(d["row"] and d["remedy"] for d in findings)
        assert {tuple(d["shown"]) for d in findings} == {("Remediation",), ("Waiver", "Remediation")}
        assert not [d for d in details if d["status"] == "passed" and d["row"]]
    finally:
        page.send("Emulation.setEmulatedMedia", {"media": ""})
    # on screen again, a row nobody expanded is one line
    assert page.js("getComputedStyle(document.querySelector("
                   "'#findings .summary-row[aria-expanded=false] + .detail-row')).display") == "none"


def test_browser_screenshot_and_pdf(browser_page: Page) -> None:
    page = browser_page
    _reset(page)
    page.js("window.scrollTo(0, 0)")
    shot = base64.b64decode(page.send("Page.captureScreenshot", {"format": "png"})["data"])
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "html-report.png").write_bytes(shot)
    assert shot.startswith(b"\x89PNG") and len(shot) > 10_000

    pdf = base64.b64decode(page.send("Page.printToPDF", {"printBackground": True}, timeout=120)["data"])
    (ARTIFACTS / "html-report.pdf").write_bytes(pdf)
    assert pdf.startswith(b"%PDF") and len(pdf) > 5_000


def test_browser_no_request_leaves_the_page_and_no_dialog(browser_page: Page) -> None:
    """Runs after the interactions above, so clicks and filters are covered too."""
    page = browser_page
    page.js("1")  # drain pending events
    urls = [e["params"]["request"]["url"] for e in page.events_named("Network.requestWillBeSent")]
    assert urls, "the Network domain recorded nothing; the check would prove nothing"
    assert all(url.startswith(("file:", "data:", "about:")) for url in urls), urls
    assert not page.events_named("Page.javascriptDialogOpening")
