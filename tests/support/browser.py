"""A real browser for the console tests: Debian's Chromium driven by Selenium through
Debian's chromedriver (installed by scripts/bootstrap.sh; nothing is downloaded).

Every page load is checked for console errors, and every network request the page made
is read from Chrome's performance log (CDP Network events) so a test can assert that
nothing left 127.0.0.1.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from callstream_cli.stack.settings import project_root

SCREENSHOTS = project_root() / ".local" / "screenshots" / "console"
"""Git-ignored (under .local/); each test run overwrites its files."""

LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
NON_NETWORK_SCHEMES = {"data", "blob", "about", "chrome", "chrome-extension", "devtools"}


def chromium_paths() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


def start_browser(width: int = 1366, height: int = 900) -> WebDriver:
    paths = chromium_paths()
    if paths is None:
        raise RuntimeError("chromium and chromedriver are missing: run scripts/bootstrap.sh")
    browser, driver = paths
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={width},{height}",
        "--autoplay-policy=no-user-gesture-required",
        "--mute-audio",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-default-apps",
        "--disable-domain-reliability",
        "--disable-features=Translate,OptimizationHints,MediaRouter",
        "--lang=en-US",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(options=options, service=Service(executable_path=driver))


def expect_console_error(driver: WebDriver, fragment: str) -> None:
    """A test that provokes an error page on purpose (401, 404) names the console line
    Chrome logs for it ("Failed to load resource: ... status of 404"); nothing else passes."""
    expected: list[str] = getattr(driver, "expected_console_errors", [])
    expected.append(fragment)
    driver.expected_console_errors = expected  # type: ignore[attr-defined]


def console_errors(driver: WebDriver) -> list[dict[str, Any]]:
    """Browser-console entries of level SEVERE since the last call (the log drains), less
    the ones the test said it provokes."""
    expected: list[str] = getattr(driver, "expected_console_errors", [])
    driver.expected_console_errors = []  # type: ignore[attr-defined]
    return [
        e
        for e in driver.get_log("browser")
        if e.get("level") == "SEVERE" and not any(f in e.get("message", "") for f in expected)
    ]


def requested_urls(driver: WebDriver) -> list[str]:
    """Every URL the page asked for since the last call, from CDP Network events."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def leaving_localhost(urls: list[str]) -> list[str]:
    outside = []
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme in NON_NETWORK_SCHEMES:
            continue
        if parts.hostname not in LOCAL_HOSTS:
            outside.append(url)
    return outside


def screenshot(driver: WebDriver, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    height = driver.execute_script("return document.documentElement.scrollHeight")
    width = driver.get_window_size()["width"]
    driver.set_window_size(width, max(900, min(int(height) + 120, 6000)))
    driver.save_screenshot(str(path))
    driver.set_window_size(width, 900)
    print(f"screenshot: {path}")
    return path


AUDIT_SCRIPT = Path(__file__).with_name("accessibility_audit.js")


def accessibility_problems(driver: WebDriver) -> list[str]:
    """Text below WCAG AA contrast (4.5:1, 3:1 for large text) against its effective
    background, form controls, links, buttons and charts without an accessible name, a
    missing main landmark or page language."""
    problems: list[str] = driver.execute_script(AUDIT_SCRIPT.read_text())
    return problems


def sideways_overflow(driver: WebDriver) -> list[str]:
    """Elements that stick out past the right edge of the viewport (the page would scroll
    sideways), outside a scrolling container."""
    found: list[str] = driver.execute_script(
        "const w = document.documentElement.clientWidth; const out = [];"
        "document.querySelectorAll('body *').forEach(el => {"
        "  if (el.closest('.table-wrap, .transcript, pre')) { return; }"
        "  const r = el.getBoundingClientRect();"
        "  if (r.width > 0 && r.right > w + 1) {"
        "    out.push(el.tagName + '.' + el.className + ' ' + Math.round(r.right) + 'px'); }"
        "});"
        "return document.documentElement.scrollWidth > w + 1 ? out.slice(0, 10) : [];"
    )
    return found


def click_and_wait_for_new(
    driver: WebDriver, button_selector: str, target_id: str, timeout: float = 30
) -> None:
    """Click ``button_selector`` and wait until the element ``target_id`` has been replaced
    (by an htmx swap or a whole new page).

    The old element is marked through JavaScript and the wait polls the document by id, so
    no element handle outlives the swap: Selenium's ``staleness_of`` asks Chromium about the
    old node, and Chromium sometimes answers a detached node with an inspector error
    ("Node with given id does not belong to the document") that the predicate does not
    treat as stale, failing the test although the page did exactly what it should.
    """
    marker = "data-replaced-check"
    driver.execute_script(
        "document.getElementById(arguments[0]).setAttribute(arguments[1], '1')",
        target_id,
        marker,
    )
    driver.find_element(By.CSS_SELECTOR, button_selector).click()
    WebDriverWait(driver, timeout).until(
        lambda d: d.execute_script(
            "const e = document.getElementById(arguments[0]);"
            "return document.readyState === 'complete' && e !== null"
            " && !e.hasAttribute(arguments[1]);",
            target_id,
            marker,
        )
    )
