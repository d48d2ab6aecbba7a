"""The HTML report in a real browser: Debian's Chromium, driven by Selenium, at 1280 px.

The report of a fixture ledger with evidence for every claim (long figures, a failing
claim, a not-applicable one, a skipped one) is loaded in headless Chromium; nothing may
reach past the right edge of the window, every claim row must be shown, no cell may clip
its text, and the same must hold with every ``<details>`` opened. A screenshot of the
whole page is saved for people (and CI's artifacts).

Chromium and its driver come from Debian (``apt-get install chromium chromium-driver``;
`.ci/run` installs them): Selenium is pointed at them and never asked to find or fetch a
browser. Without them the test is skipped, unless ``MATTER_HARNESS_REQUIRE_BROWSER=1``
(CI) makes that a failure.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.evidence import ledger_schema
from harness.evidence.reports import build_report, render
from harness.evidence.reports.model import NOT_APPLICABLE, EvidenceReport, verdict_label
from harness.evidence.traceability import load_artifacts
from harness.project import PROJECT_ROOT

REQUIRED = os.environ.get("MATTER_HARNESS_REQUIRE_BROWSER") == "1"
CHROMIUM = Path(os.environ.get("MATTER_HARNESS_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("MATTER_HARNESS_CHROMEDRIVER", "/usr/bin/chromedriver"))
SCREENSHOT = Path(
    os.environ.get(
        "MATTER_HARNESS_REPORT_SCREENSHOT", PROJECT_ROOT / "evidence" / "report-screenshot.png"
    )
)
FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "reports" / "every-claim"
WIDTH = 1280
#: Sub-pixel rounding allowed when comparing layout boxes.
SLACK = 1

pytestmark = pytest.mark.browser


def unavailable(reason: str) -> None:
    """Skip, or fail where the browser test is required."""
    if REQUIRED:
        pytest.fail(f"browser test required but unavailable: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def report() -> Iterator[EvidenceReport]:
    # The fixture holds a not-applicable record: let the ledger check accept that verdict
    # where the schema does not list it yet (a no-op where it does).
    with pytest.MonkeyPatch.context() as patch:
        verdicts = tuple(dict.fromkeys((*ledger_schema.VERDICTS, NOT_APPLICABLE)))
        patch.setattr(ledger_schema, "VERDICTS", verdicts)
        built = build_report(
            FIXTURE / "ledger.jsonl",
            load_artifacts(FIXTURE / "traceability"),
            generated_at="2026-01-01T12:30:00Z",
        )
    assert built.ledger_ok, built.ledger_banner()
    yield built


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if importlib.util.find_spec("selenium") is None:
        unavailable("selenium is not installed (pip install -e '.[dev]')")
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not path.is_file():
            unavailable(f"{path} not found (apt-get install {package})")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--window-size={WIDTH},1000",
    ):
        options.add_argument(argument)
    # Selenium Manager is never asked for anything (offline, and both binaries are named).
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SE_OFFLINE", "true")
        service = Service(executable_path=str(CHROMEDRIVER))
        driver = webdriver.Chrome(service=service, options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def page(browser: Any, report: EvidenceReport, tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render("html", report), encoding="utf-8")
    browser.set_window_size(WIDTH, 1000)
    browser.get(path.as_uri())
    assert browser.execute_script("return window.innerWidth") == WIDTH
    return browser


OVERFLOWING = """
const limit = document.documentElement.clientWidth + arguments[0];
const out = [];
for (const el of document.body.querySelectorAll('*')) {
  const r = el.getBoundingClientRect();
  if (r.width === 0 && r.height === 0) continue;
  if (r.right > limit || r.left < -arguments[0]) {
    out.push(`${el.tagName.toLowerCase()}.${el.className} [${Math.round(r.left)}, `
             + `${Math.round(r.right)}]: ${(el.textContent || '').slice(0, 60)}`);
  }
}
return out;
"""

CLIPPED = """
const out = [];
for (const el of document.querySelectorAll('td, th, .badge')) {
  if (el.scrollWidth > el.clientWidth + arguments[0]) {
    out.push(`${el.tagName.toLowerCase()}.${el.className} ${el.scrollWidth} > `
             + `${el.clientWidth}: ${(el.textContent || '').slice(0, 60)}`);
  }
}
return out;
"""


def _assert_fits(page: Any) -> None:
    width = page.execute_script("return document.documentElement.scrollWidth")
    assert width <= page.execute_script("return window.innerWidth"), "horizontal scrollbar"
    assert page.execute_script(OVERFLOWING, SLACK) == []
    assert page.execute_script(CLIPPED, SLACK) == []


def test_nothing_overflows_the_window_at_1280_px(page: Any) -> None:
    _assert_fits(page)


def test_every_claim_row_is_shown_in_id_order_with_its_whole_verdict(
    page: Any, report: EvidenceReport
) -> None:
    from selenium.webdriver.common.by import By

    rows = page.find_elements(By.CSS_SELECTOR, "table.claims tr.claim")
    assert [r.find_element(By.CSS_SELECTOR, "td").text for r in rows] == [
        row.claim_id for row in report.rows
    ]
    assert [row.claim_id for row in report.rows][:3] == ["C1", "C2", "C3"]
    for element, row in zip(rows, report.rows, strict=True):
        assert element.is_displayed() and element.size["height"] > 0
        verdict = element.find_element(By.CSS_SELECTOR, ".badge")
        assert verdict.is_displayed()
        assert verdict.text == verdict_label(row.verdict)
    verdicts = {row.claim_id: row.verdict for row in report.rows}
    assert verdicts["C9"] == NOT_APPLICABLE and verdicts["C5"] == "fail"


def test_opened_details_fit_too(page: Any) -> None:
    opened = page.execute_script(
        "const all = document.querySelectorAll('details');"
        "all.forEach(d => { d.open = true; }); return all.length;"
    )
    assert opened > 0
    try:
        _assert_fits(page)
    finally:
        page.execute_script("document.querySelectorAll('details').forEach(d => d.open = false)")


def test_a_screenshot_of_the_whole_report_is_saved(page: Any) -> None:
    height = page.execute_script("return document.documentElement.scrollHeight")
    page.set_window_size(WIDTH, min(int(height) + 100, 16000))
    try:
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        assert page.save_screenshot(str(SCREENSHOT))
    finally:
        page.set_window_size(WIDTH, 1000)
    assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
