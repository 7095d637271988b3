"""The console in a real browser (Chromium + Selenium) against every real service: sign in,
upload a synthesized call and watch it reach its scorecard, play and seek the recording
from the transcript, role scoping by URL, a dead letter replayed by an admin, /docs and
/redoc offline. Every test also asserts no browser-console error and no request leaving
127.0.0.1 (the ``clean_browser`` fixture). Screenshots land in .local/screenshots/console/.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.support.audio import SALES_CALL, synthesize_dialogue
from tests.support.browser import (
    accessibility_problems,
    click_and_wait_for_new,
    expect_console_error,
    screenshot,
    sideways_overflow,
)

pytestmark = [pytest.mark.stack, pytest.mark.e2e]

SESSION_COOKIE = "callstream_session"


def wait(driver: WebDriver, timeout: float = 30) -> WebDriverWait[WebDriver]:
    return WebDriverWait(driver, timeout)


def api_upload(base: str, token: str, wav: Path, **fields: str) -> str:
    """A call uploaded through the API (not the page), as another client would."""
    answer = httpx.post(
        f"{base}/v1/conversations",
        headers={"Authorization": f"Bearer {token}"},
        files={"file": (wav.name, wav.read_bytes(), "audio/wav")},
        data=fields,
        timeout=30,
    )
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


def sign_in(driver: WebDriver, base: str, token: str) -> None:
    driver.get(f"{base}/console/sign-in")
    driver.delete_all_cookies()
    driver.get(f"{base}/console/sign-in")
    field = driver.find_element(By.ID, "credential")
    field.send_keys(token)
    field.submit()
    wait(driver).until(lambda d: "/sign-in" not in d.current_url)


@pytest.fixture(scope="module")
def call_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize_dialogue(SALES_CALL, tmp_path_factory.mktemp("console") / "call.wav")


@pytest.fixture(scope="module")
def console_trackers(services: Any, tokens: dict[str, str]) -> Iterator[dict[str, str]]:
    """Two trackers, made before the upload is analysed: one the sales call says (the
    prospect's "dispatchers"), one nobody says."""
    names = {
        "said": f"ops-talk-{uuid.uuid4().hex[:6]}",
        "unsaid": f"never-{uuid.uuid4().hex[:6]}",
    }
    phrases = {"said": ["dispatchers"], "unsaid": [f"zz {uuid.uuid4().hex}"]}
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    for key, name in names.items():
        r = httpx.put(
            f"{services.base_url}/v1/trackers/{name}", json={"phrases": phrases[key]}, headers=admin
        )
        assert r.status_code == 201, r.text
    time.sleep(1.5)  # the analyzer re-reads trackers every second in the test stack
    yield names
    for name in names.values():
        httpx.delete(f"{services.base_url}/v1/trackers/{name}", headers=admin)


@pytest.fixture(scope="module")
def uploaded() -> dict[str, str]:
    """Filled in by the upload test, read by the tests after it (same module, in order)."""
    return {}


def test_sign_in_sets_a_session_cookie_and_never_shows_the_credential(
    services: Any, tokens: dict[str, str], clean_browser: WebDriver
) -> None:
    driver, base = clean_browser, services.base_url
    driver.get(f"{base}/console/conversations/{uuid.uuid4()}")
    assert "/console/sign-in" in driver.current_url, "an anonymous visit must ask to sign in"
    screenshot(driver, "01-sign-in")

    driver.find_element(By.ID, "credential").send_keys("cs_not-a-real-token")
    expect_console_error(driver, "status of 401")
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    assert (
        "not valid"
        in wait(driver)
        .until(ec.visibility_of_element_located((By.CSS_SELECTOR, "[role=alert]")))
        .text
    )

    sign_in(driver, base, tokens["user_a"])
    assert driver.current_url.rstrip("/").endswith("/console")
    assert tokens["user_a"] not in driver.current_url
    assert tokens["user_a"] not in driver.page_source
    cookie = driver.get_cookie(SESSION_COOKIE)
    assert cookie is not None and cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert not cookie["secure"], "plain HTTP on 127.0.0.1 (Secure is set over HTTPS)"
    assert tokens["user_a"] not in cookie["value"]
    assert driver.execute_script("return document.cookie").find(SESSION_COOKIE) == -1
    screenshot(driver, "02-dashboard-user")
    log = Path(services.process("ingest").log_path).read_text(errors="replace")
    assert tokens["user_a"] not in log, "the credential reached the ingest log"


async def test_the_session_expires_on_the_server_and_is_secure_over_https(
    services: Any, tokens: dict[str, str], common_settings: Any
) -> None:
    """Redis holds the session (under the id's hash) with the configured lifetime; behind
    an HTTPS proxy the cookie is Secure; the sign-in form carries its own CSRF token."""
    import hashlib
    import re

    from redis.asyncio import Redis

    base = services.base_url
    https = {"X-Forwarded-Proto": "https"}
    async with httpx.AsyncClient(base_url=base, headers=https) as client:
        form = await client.get("/console/sign-in")
        assert "secure" in form.headers["set-cookie"].lower()
        login_csrf = re.search(r'name="login_csrf" value="([^"]+)"', form.text)
        assert login_csrf is not None
        # The cookie is Secure, so httpx (speaking plain HTTP to the proxy's upstream) is
        # handed it explicitly, as the browser would send it over HTTPS.
        cookie = {"Cookie": f"callstream_login_csrf={form.cookies['callstream_login_csrf']}"}
        client.cookies.clear()
        refused = await client.post(
            "/console/sign-in",
            data={"credential": tokens["user_a"], "login_csrf": "forged"},
            headers=cookie,
        )
        assert refused.status_code == 403 and SESSION_COOKIE not in refused.cookies
        client.cookies.clear()
        signed = await client.post(
            "/console/sign-in",
            data={"credential": tokens["user_a"], "login_csrf": login_csrf.group(1)},
            headers=cookie,
        )
    assert signed.status_code == 303
    set_cookie = signed.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "secure" in set_cookie and "samesite=lax" in set_cookie
    session_id = signed.cookies[SESSION_COOKIE]
    redis = Redis.from_url(common_settings.redis_url.get_secret_value())
    try:
        key = "callstream:console:session:" + hashlib.sha256(session_id.encode()).hexdigest()
        ttl = await redis.ttl(key)
        assert 0 < ttl <= 8 * 3600, ttl
        stored = await redis.get(key)
        assert stored is not None and tokens["user_a"].encode() not in stored
        await redis.expire(key, 1)
        time.sleep(1.5)
        expired = httpx.get(f"{base}/console/", cookies={SESSION_COOKIE: session_id})
        assert expired.status_code == 303 and "/console/sign-in" in expired.headers["location"]
    finally:
        await redis.aclose()


def test_upload_through_the_page_reaches_its_scorecard(
    services: Any,
    tokens: dict[str, str],
    call_wav: Path,
    uploaded: dict[str, str],
    console_trackers: dict[str, str],
    clean_browser: WebDriver,
) -> None:
    driver, base = clean_browser, services.base_url
    sign_in(driver, base, tokens["user_a"])
    driver.get(f"{base}/console/upload")
    # Drag and drop: a file dropped on the zone is picked up (a synthetic DataTransfer).
    driver.execute_script(
        "const dt = new DataTransfer();"
        "const file = new File([new Uint8Array([82, 73, 70, 70])], 'dropped.wav');"
        "dt.items.add(file);"
        "document.getElementById('drop-zone').dispatchEvent("
        "  new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));"
    )
    assert "dropped.wav" in driver.find_element(By.ID, "chosen-file").text
    # The real recording through the file picker (what the keyboard path uses).
    driver.find_element(By.ID, "file").send_keys(str(call_wav))
    opportunity = f"Northwind console {uuid.uuid4().hex[:6]}"
    driver.find_element(By.ID, "opportunity_name").send_keys(opportunity)
    driver.find_element(By.ID, "company_name").send_keys("Northwind Logistics")
    driver.find_element(By.ID, "title").send_keys("Discovery call (console)")
    participants = driver.find_element(By.ID, "participants")
    participants.send_keys("Sarah Chen")
    participants.send_keys(Keys.ENTER)
    participants.send_keys("  Dana Whitfield  ")
    participants.send_keys(Keys.ENTER, Keys.ENTER)
    assert driver.find_element(By.ID, "rep_id").get_attribute("value") == "rep-a"
    screenshot(driver, "03-upload-form")
    driver.find_element(By.ID, "upload-button").click()
    badge = wait(driver).until(ec.presence_of_element_located((By.ID, "status-badge")))
    assert badge is not None
    assert driver.find_element(By.ID, "progress-bar").get_attribute("value") == "100"
    screenshot(driver, "04-upload-in-flight")
    wait(driver, 300).until(lambda d: "/console/conversations/" in d.current_url)
    wait(driver, 60).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, "canvas[data-chart='radar-data']"))
    )
    conversation_id = driver.current_url.rstrip("/").rsplit("/", 1)[-1]
    uploaded.update(id=conversation_id, opportunity=opportunity)
    assert "completed" in driver.find_element(By.ID, "status-badge").text
    shown = driver.find_element(By.ID, "participants").text
    assert shown == "Participants: Sarah Chen, Dana Whitfield", shown
    assert driver.find_elements(By.CSS_SELECTOR, ".transcript li")
    assert driver.find_elements(By.CSS_SELECTOR, ".evidence blockquote")
    steps = driver.find_elements(By.CSS_SELECTOR, ".timeline .step-done")
    assert len(steps) == 4, "upload, transcription, analysis and notification all done"
    trace = driver.find_element(By.PARTIAL_LINK_TEXT, "trace in Zipkin")
    assert "/traces/" in (trace.get_attribute("href") or "")
    screenshot(driver, "05-conversation")


def test_audio_plays_and_a_transcript_line_seeks_it(
    services: Any, tokens: dict[str, str], uploaded: dict[str, str], clean_browser: WebDriver
) -> None:
    driver, base = clean_browser, services.base_url
    assert uploaded, "needs the uploaded call"
    sign_in(driver, base, tokens["user_a"])
    driver.get(f"{base}/console/conversations/{uploaded['id']}")
    lines = driver.find_elements(By.CSS_SELECTOR, ".transcript li")
    target = lines[min(3, len(lines) - 1)]
    start = float(target.get_attribute("data-start") or 0)
    target.find_element(By.CSS_SELECTOR, "button.seek").click()
    wait(driver).until(
        lambda d: d.execute_script("const a = document.getElementById('player'); return !a.paused")
    )
    position = driver.execute_script("return document.getElementById('player').currentTime")
    assert start - 0.5 <= position <= start + 5, (start, position)
    wait(driver).until(lambda d: "current" in (target.get_attribute("class") or ""))
    assert target.get_attribute("aria-current") == "true"
    screenshot(driver, "06-transcript-seeked")
    driver.execute_script("document.getElementById('player').pause()")

    # The keyboard path: focus another line's button and press Enter.
    other = lines[1]
    other_start = float(other.get_attribute("data-start") or 0)
    other.find_element(By.CSS_SELECTOR, "button.seek").send_keys(Keys.ENTER)
    wait(driver).until(
        lambda d: (
            abs(
                d.execute_script("return document.getElementById('player').currentTime")
                - other_start
            )
            < 3
        )
    )
    driver.execute_script("document.getElementById('player').pause()")
    driver.set_window_size(390, 844)
    screenshot(driver, "06b-conversation-phone")
    for path in (f"/console/conversations/{uploaded['id']}", "/console/conversations"):
        driver.get(base + path)
        assert sideways_overflow(driver) == [], f"{path} scrolls sideways on a phone"
    driver.set_window_size(1366, 900)

    ranged = driver.execute_async_script(
        "const [url, done] = arguments;"
        "fetch(url, {headers: {Range: 'bytes=100-199'}}).then(r => r.arrayBuffer().then("
        "  b => done([r.status, r.headers.get('content-range'), b.byteLength])));",
        f"/console/conversations/{uploaded['id']}/audio",
    )
    assert ranged[0] == 206 and ranged[1].startswith("bytes 100-199/") and ranged[2] == 100


def test_the_list_filters_searches_and_updates_badges_in_flight(
    services: Any,
    tokens: dict[str, str],
    call_wav: Path,
    uploaded: dict[str, str],
    console_trackers: dict[str, str],
    clean_browser: WebDriver,
) -> None:
    driver, base = clean_browser, services.base_url
    assert uploaded, "needs the uploaded call"
    sign_in(driver, base, tokens["user_a"])

    def search(**fields: str) -> str:
        driver.get(f"{base}/console/conversations")
        for name, value in fields.items():
            element = driver.find_element(By.ID, name)
            if element.tag_name == "select":
                Select(element).select_by_value(value)
            else:
                element.clear()
                element.send_keys(value)
        click_and_wait_for_new(driver, "form.filters button[type=submit]", "conversation-table")
        return str(driver.find_element(By.ID, "conversation-table").text)

    assert uploaded["opportunity"] in search(q="dispatchers")
    screenshot(driver, "12-conversations-search")
    assert "q=dispatchers" in driver.current_url
    assert uploaded["opportunity"] not in search(q="zebra xylophone")
    assert uploaded["opportunity"] in search(status="completed")
    assert uploaded["opportunity"] not in search(status="failed")
    assert uploaded["opportunity"] in search(qualification_status="Medium") or uploaded[
        "opportunity"
    ] in search(min_score="1")
    # Every qualification the select offers is one the list accepts.
    offered = [
        str(option.get_attribute("value"))
        for option in Select(driver.find_element(By.ID, "qualification_status")).options
        if option.get_attribute("value")
    ]
    assert len(offered) == 4
    for value in offered:
        search(qualification_status=value)
    assert uploaded["opportunity"] in search(tracker=console_trackers["said"])
    screenshot(driver, "12b-conversations-tracker")
    assert f"tracker={console_trackers['said']}" in driver.current_url
    assert uploaded["opportunity"] not in search(tracker=console_trackers["unsaid"])
    expect_console_error(driver, "status of 422")
    driver.get(f"{base}/console/conversations?speaker_role=prospect")
    assert "give tracker too" in driver.find_element(By.CSS_SELECTOR, "p.error").text

    fresh = api_upload(
        base, tokens["user_a"], call_wav, opportunity_name="Live badge deal", title="In flight"
    )
    driver.get(f"{base}/console/conversations")
    badge = (By.ID, f"badge-{fresh}")
    assert wait(driver).until(ec.presence_of_element_located(badge)).text != "completed"
    driver.execute_script("window.stillTheSamePage = true")
    screenshot(driver, "13-conversations-in-flight")
    wait(driver, 300).until(ec.text_to_be_present_in_element(badge, "completed"))
    assert driver.execute_script("return window.stillTheSamePage === true"), "no reload"


def test_a_manager_reanalyses_and_opens_the_earlier_version(
    services: Any, tokens: dict[str, str], uploaded: dict[str, str], clean_browser: WebDriver
) -> None:
    driver, base = clean_browser, services.base_url
    assert uploaded, "needs the uploaded call"
    sign_in(driver, base, tokens["manager"])
    page = f"{base}/console/conversations/{uploaded['id']}"
    driver.get(page)
    driver.find_element(By.ID, "reanalyze-button").click()
    assert (
        "Re-analysis queued"
        in wait(driver).until(lambda d: d.find_element(By.CSS_SELECTOR, ".notice")).text
    )

    def two_versions(d: WebDriver) -> bool:
        d.get(page)
        return len(d.find_elements(By.CSS_SELECTOR, "#versions-table tbody tr")) >= 2

    wait(driver, 180).until(two_versions)
    assert "(version 2)" in driver.find_element(By.ID, "scorecard-h").text
    screenshot(driver, "05b-conversation-versions")
    driver.find_element(By.CSS_SELECTOR, f"a[href$='/{uploaded['id']}/analyses/1']").click()
    assert (
        "An earlier analysis (version 1)"
        in wait(driver).until(lambda d: d.find_element(By.CSS_SELECTOR, ".notice")).text
    )


def test_dashboard_opportunities_and_reports_show_their_charts(
    services: Any, tokens: dict[str, str], uploaded: dict[str, str], clean_browser: WebDriver
) -> None:
    driver, base = clean_browser, services.base_url
    assert uploaded, "needs the uploaded call"
    sign_in(driver, base, tokens["manager"])
    driver.get(f"{base}/console/")
    wait(driver).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "canvas[data-drawn]")) == 3)
    assert "Recent analyses" in driver.page_source
    screenshot(driver, "14-dashboard-manager")

    driver.get(f"{base}/console/opportunities")
    table = wait(driver).until(lambda d: d.find_element(By.ID, "opportunity-table"))
    assert uploaded["opportunity"] in table.text
    screenshot(driver, "15-opportunities")
    driver.find_element(By.LINK_TEXT, uploaded["opportunity"]).click()
    wait(driver).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "canvas[data-drawn]")) == 2)
    assert "MEDDIC across calls" in driver.page_source
    screenshot(driver, "16-opportunity")

    driver.get(f"{base}/console/reports")
    wait(driver).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "canvas[data-drawn]")) == 3)
    assert "rep-a" in driver.find_element(By.ID, "rep-table").text
    screenshot(driver, "17-reports")


def test_a_user_cannot_open_another_reps_call(
    services: Any, tokens: dict[str, str], call_wav: Path, clean_browser: WebDriver
) -> None:
    driver, base = clean_browser, services.base_url
    other = api_upload(
        base, tokens["user_c"], call_wav, opportunity_name="Someone else's deal", rep_id="rep-c"
    )
    sign_in(driver, base, tokens["user_a"])
    expect_console_error(driver, "status of 404")
    driver.get(f"{base}/console/conversations/{other}")
    assert driver.find_element(By.TAG_NAME, "h1").text == "Not found"
    assert "Someone else" not in driver.page_source
    screenshot(driver, "07-not-yours")
    expect_console_error(driver, "status of 403")
    driver.get(f"{base}/console/operations")
    assert "needs the role" in driver.page_source, "operations are for managers and admins"
    cookies = {SESSION_COOKIE: driver.get_cookie(SESSION_COOKIE)["value"]}  # type: ignore[index]
    for path in ("", "/audio", "/status"):
        answer = httpx.get(f"{base}/console/conversations/{other}{path}", cookies=cookies)
        assert answer.status_code == 404, path


def test_an_edited_replay_is_checked_first_and_the_dead_letter_discarded(
    services: Any, tokens: dict[str, str], common_settings: Any, clean_browser: WebDriver
) -> None:
    from callstream_common import topics
    from callstream_common.kafka import make_broker

    driver, base = clean_browser, services.base_url
    marker = uuid.uuid4().hex

    async def publish() -> None:
        broker = make_broker(common_settings)
        async with broker:
            await broker.start()
            await broker.publish(
                f'{{"marker": "{marker}", broken'.encode(), topics.CALLS_TRANSCRIBED
            )

    import asyncio

    asyncio.run(publish())
    sign_in(driver, base, tokens["admin"])
    entry_link = find_dead_letter(driver, base, marker)
    assert "stage=analyzer" in driver.current_url
    screenshot(driver, "08-operations")
    driver.get(entry_link)
    payload = driver.find_element(By.ID, "payload")
    assert marker in payload.get_attribute("value")  # type: ignore[operator]
    screenshot(driver, "09-dead-letter")
    payload.clear()
    payload.send_keys(json.dumps({"marker": marker, "edited": True}))
    driver.find_element(By.ID, "replay-button").click()
    # An edit that is no CallTranscribed of this entry's call is refused before anything
    # changes (the API answers 422 invalid_payload): the page says why, the entry stays open.
    wait(driver).until(ec.text_to_be_present_in_element((By.TAG_NAME, "main"), "Not replayed"))
    entry_id = entry_link.rsplit("/", 1)[-1]
    shown = httpx.get(
        f"{base}/v1/ops/dlq/{entry_id}", headers={"Authorization": f"Bearer {tokens['admin']}"}
    ).json()
    assert shown["status"] == "new"

    driver.get(entry_link)
    driver.find_element(By.ID, "discard-button").click()
    wait(driver).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".notice")))
    assert "discarded" in driver.find_element(By.CSS_SELECTOR, ".notice").text
    driver.get(entry_link)
    assert "discarded" in driver.find_element(By.CSS_SELECTOR, ".facts").text


def find_dead_letter(driver: WebDriver, base: str, needle: str, exclude: str = "") -> str:
    """The link of the open analyzer dead letter whose page shows ``needle``, found through
    the operations page's filters (polled: the DLQ recorder stores entries asynchronously)."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        driver.get(f"{base}/console/operations")
        Select(driver.find_element(By.ID, "f-stage")).select_by_value("analyzer")
        Select(driver.find_element(By.ID, "f-status")).select_by_value("new")
        click_and_wait_for_new(driver, "form.filters button", "dlq-table")
        links = driver.find_elements(By.CSS_SELECTOR, "#dlq-table a[href*='/dlq/']")
        for href in [link.get_attribute("href") or "" for link in links]:
            page = httpx.get(href, cookies={SESSION_COOKIE: _session(driver)}).text
            if href != exclude and needle in page.replace("&#34;", '"'):
                return href
        time.sleep(1)
    raise AssertionError(f"no dead letter showing {needle!r} on the operations page")


def _session(driver: WebDriver) -> str:
    cookie = driver.get_cookie(SESSION_COOKIE)
    assert cookie is not None
    return str(cookie["value"])


def test_forms_without_the_csrf_token_are_refused(
    services: Any, tokens: dict[str, str], clean_browser: WebDriver
) -> None:
    driver, base = clean_browser, services.base_url
    sign_in(driver, base, tokens["admin"])
    cookies = {SESSION_COOKIE: _session(driver)}
    forged = httpx.post(
        f"{base}/console/operations/alert-rules",
        cookies=cookies,
        data={"name": "forged", "kind": "overall_below", "threshold": "2"},
    )
    assert forged.status_code == 403 and forged.json()["error"]["code"] == "csrf_failed"
    wrong = httpx.post(
        f"{base}/console/sign-out", cookies=cookies, data={"csrf_token": "not-the-token"}
    )
    assert wrong.status_code == 403


def test_an_admin_adds_and_removes_an_alert_rule(
    services: Any, tokens: dict[str, str], clean_browser: WebDriver
) -> None:
    driver, base = clean_browser, services.base_url
    sign_in(driver, base, tokens["admin"])
    driver.get(f"{base}/console/operations")
    name = f"Console rule {uuid.uuid4().hex[:6]}"
    driver.find_element(By.ID, "r-name").send_keys(name)
    Select(driver.find_element(By.ID, "r-kind")).select_by_value("overall_below")
    driver.find_element(By.ID, "r-threshold").send_keys("1.5")
    driver.find_element(By.CSS_SELECTOR, "form.fields button[type=submit]").click()
    wait(driver).until(ec.url_contains("notice=rule+added"))
    assert name in driver.find_element(By.ID, "rules-table").text
    driver.find_element(By.CSS_SELECTOR, f"button[aria-label='Remove rule {name}']").click()
    wait(driver).until(ec.url_contains("notice=rule+deleted"))
    assert name not in driver.find_element(By.ID, "rules-table").text


def test_every_page_is_readable_and_labelled(
    services: Any, tokens: dict[str, str], uploaded: dict[str, str], clean_browser: WebDriver
) -> None:
    """WCAG AA contrast and an accessible name for every control, on every console page."""
    driver, base = clean_browser, services.base_url
    assert uploaded, "needs the uploaded call"
    pages = [
        "/console/",
        "/console/conversations",
        f"/console/conversations/{uploaded['id']}",
        "/console/upload",
        "/console/opportunities",
        "/console/reports",
        "/console/operations",
    ]
    driver.get(f"{base}/console/sign-in")
    assert accessibility_problems(driver) == [], "sign-in page"
    sign_in(driver, base, tokens["admin"])
    for path in pages:
        driver.get(base + path)
        assert accessibility_problems(driver) == [], path
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    skip = driver.switch_to.active_element
    assert skip.get_attribute("class") == "skip-link", "the first Tab reaches the skip link"


def test_api_docs_render_from_local_assets(services: Any, clean_browser: WebDriver) -> None:
    driver, base = clean_browser, services.base_url
    driver.get(f"{base}/docs")
    wait(driver, 120).until(
        ec.text_to_be_present_in_element((By.CSS_SELECTOR, ".swagger-ui .info"), "callstream")
    )
    assert driver.find_elements(By.CSS_SELECTOR, ".opblock"), "the operations are listed"
    screenshot(driver, "10-docs")
    driver.get(f"{base}/redoc")
    wait(driver, 120).until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, "h1"), "callstream"))
    screenshot(driver, "11-redoc")


def test_sign_out_ends_the_session_on_the_server(
    services: Any, tokens: dict[str, str], clean_browser: WebDriver
) -> None:
    driver, base = clean_browser, services.base_url
    sign_in(driver, base, tokens["user_a"])
    old = _session(driver)
    driver.find_element(By.CSS_SELECTOR, ".whoami button").click()
    wait(driver).until(lambda d: "/sign-in" in d.current_url)
    assert driver.get_cookie(SESSION_COOKIE) is None
    replayed = httpx.get(f"{base}/console/", cookies={SESSION_COOKIE: old})
    assert replayed.status_code == 303 and "/console/sign-in" in replayed.headers["location"]
