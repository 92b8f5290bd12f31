"""The HTML report in a real browser: headless Chromium (Debian's chromium and chromium-driver) via selenium.

The Lancashire report is written by the CLI, opened from a file:// URL, and checked for: every area present;
a trace that opens on a click and shows each fact with its quote; traces open when printed; no console
errors; no network request but the file itself. A screenshot goes to tests/artifacts/ (git-ignored).

Skipped only when /usr/bin/chromium is missing and CI is not set; under CI it must run (.ci/run installs it).
"""
from __future__ import annotations

import shutil

import base64
import json
import os
import re
from pathlib import Path
from typing import Iterator

import pytest

import peelrules
from peelrules.report import html as html_report
from peelrules.report.traced import facts_used

from conftest import LANCASHIRE, ROOT, run_peel

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
SCREENSHOT = ARTIFACTS / "lancashire-report.png"

if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytest.skip("headless browser test needs /usr/bin/chromium and /usr/bin/chromedriver "
                "(apt-get install chromium chromium-driver); it always runs under CI",
                allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

ARGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", "--window-size=1280,1600")


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    assert CHROMIUM.exists() and CHROMEDRIVER.exists(), "install Debian's chromium and chromium-driver"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SE_OFFLINE", "true")  # selenium never tries to download a driver or a browser
        drv = _start(tmp_path_factory.mktemp("chromium-profile"))
        try:
            yield drv
        finally:
            drv.quit()


def _start(profile: Path):  # type: ignore[no-untyped-def]
    options = Options()
    options.binary_location = str(CHROMIUM)
    for arg in ARGS:
        options.add_argument(arg)
    options.add_argument(f"--user-data-dir={profile}")  # a fresh profile for every run
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "lancashire.html"
    proc = run_peel("evaluate", str(LANCASHIRE.relative_to(ROOT)), "--format", "html", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return out


def _requests(drv, document: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The URLs requested for one document while the logs ran: the page itself and whatever it loads. Chromium's
    own new-tab page, which may still be loading its parts (chrome://, a data: image) when the report is opened,
    is another document."""
    urls = []
    for entry in drv.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            if message["params"].get("documentURL") == document:
                urls.append(message["params"]["request"]["url"])
    return urls


def test_lancashire_report_in_chromium(driver, report: Path, shipped) -> None:  # type: ignore[no-untyped-def]
    drv = driver
    drv.get_log("browser"), drv.get_log("performance")  # start both logs empty
    url = report.as_uri()
    drv.get(url)

    # every area of the rule set is in the report, with its title and judgment
    for area in shipped.areas:
        section = drv.find_element(By.ID, f"b1-{area.name}")
        assert section.find_element(By.TAG_NAME, "h2").text == area.area.title
        assert section.find_element(By.CLASS_NAME, "judgment").text.strip()
    assert "requires improvement" in drv.find_element(By.ID, "b1-investigating_crime").text

    # a closed trace hides its facts; clicking its <summary> shows each fact with its quote
    bundle = peelrules.load_evidence(LANCASHIRE, shipped)
    _, traces = peelrules.explain(shipped, bundle)
    trace = next(t for t in traces if t.result.name == "investigating_crime")
    quotes = [f.quote for f, _ in facts_used(trace) if f.quote]
    assert quotes
    section = drv.find_element(By.ID, "b1-investigating_crime")
    details = section.find_element(By.CSS_SELECTOR, "details.trace")
    facts = details.find_elements(By.CSS_SELECTOR, "li.fact")
    assert facts and not any(f.is_displayed() for f in facts)
    summary = details.find_element(By.TAG_NAME, "summary")
    drv.execute_script("arguments[0].scrollIntoView()", summary)
    summary.click()
    assert details.get_attribute("open") is not None
    assert all(f.is_displayed() for f in facts)
    shown = details.text
    for q in quotes:
        assert q in shown, q
    first = facts[0].text
    assert "line 109" in first and "crimes were appropriately allocated" in first

    # the investigating crime area with its trace open: badge, rung, rules, and the first facts with quotes
    ARTIFACTS.mkdir(exist_ok=True)
    shot = drv.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                          "clip": _clip(drv, "b1-investigating_crime")})
    SCREENSHOT.write_bytes(base64.b64decode(shot["data"]))
    assert SCREENSHOT.stat().st_size > 10_000

    errors = [e for e in drv.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == []
    requests = _requests(drv, url)
    assert requests and all(u == url for u in requests), requests


def _clip(drv, element_id: str, height: int = 1800) -> dict:  # type: ignore[no-untyped-def]
    """A page region from just above an element, at most `height` CSS pixels tall."""
    top, bottom = drv.execute_script(
        "var r = document.getElementById(arguments[0]).getBoundingClientRect();"
        "return [r.top + window.scrollY, r.bottom + window.scrollY];", element_id)
    width = drv.execute_script("return document.documentElement.scrollWidth;")
    y = max(top - 12, 0)
    return {"x": 0, "y": y, "width": width, "height": min(bottom + 12 - y, height), "scale": 1}


def test_print_media_opens_every_trace(driver, report: Path) -> None:  # type: ignore[no-untyped-def]
    drv = driver
    drv.get(report.as_uri())
    fact = drv.find_element(By.CSS_SELECTOR, "#b1-responding_to_the_public details.trace li.fact")
    visible = "return arguments[0].checkVisibility() && arguments[0].getBoundingClientRect().height > 0;"
    assert not drv.execute_script(visible, fact)
    drv.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        # selenium's is_displayed() calls everything in a closed <details> hidden, so ask the layout itself
        assert drv.execute_script(visible, fact), "a closed trace must print expanded"
        background = drv.execute_script(
            "return getComputedStyle(document.querySelector('.j-good')).backgroundColor;")
        assert background in ("rgba(0, 0, 0, 0)", "transparent")
        assert drv.execute_script(
            "return getComputedStyle(document.querySelector('.area')).breakBefore;") == "page"
        pdf = base64.b64decode(drv.execute_cdp_cmd("Page.printToPDF", {})["data"])
        pages = len(re.findall(rb"/Type\s*/Page\b", pdf))
        assert pages > len(drv.find_elements(By.CSS_SELECTOR, "section.area")), "a page break before each area"
    finally:
        drv.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})


def test_hostile_evidence_stays_text(driver, tmp_path: Path, shipped) -> None:  # type: ignore[no-untyped-def]
    import yaml
    data = yaml.safe_load(LANCASHIRE.read_text(encoding="utf-8"))
    data["force"] = "<img src=x onerror=\"window.pwned=1\">"
    data["facts"]["investigating.digital_forensics"]["quote"] = "<script>window.pwned=2</script>|"
    src = tmp_path / "hostile.yaml"
    shutil.copytree(LANCASHIRE.parent / "tables", tmp_path / "tables")  # the bundle's case-level tables
    shutil.copytree(LANCASHIRE.parent / "comparators", tmp_path / "comparators")  # and its comparator datasets
    src.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    bundle = peelrules.load_evidence(src, shipped)
    _, traces = peelrules.explain(shipped, bundle)
    page = tmp_path / "hostile.html"
    page.write_text(html_report.document(shipped, [(bundle, traces)]), encoding="utf-8")
    drv = driver
    drv.get_log("browser"), drv.get_log("performance")
    drv.get(page.as_uri())
    assert drv.execute_script("return window.pwned === undefined")
    assert drv.find_element(By.TAG_NAME, "h1").text == data["force"]
    assert "<script>window.pwned=2</script>|" in drv.find_element(By.ID, "b1-investigating_crime").get_attribute(
        "textContent")
    assert [e for e in drv.get_log("browser") if e["level"] == "SEVERE"] == []
    # nothing but the page itself: no `src=x` beside it, nothing off the machine
    requests = _requests(drv, page.as_uri())
    assert requests and all(u == page.as_uri() for u in requests), requests
