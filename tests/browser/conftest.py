"""A browser per test module, signed in through the real sign-in page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.browser import console_errors, leaving_localhost, requested_urls, start_browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    driver = start_browser()
    yield driver
    driver.quit()


@pytest.fixture
def clean_browser(browser: Any) -> Iterator[Any]:
    """After each test: no errors in the browser console, no request left 127.0.0.1."""
    console_errors(browser)
    requested_urls(browser)
    yield browser
    errors = console_errors(browser)
    assert not errors, f"browser console errors: {errors}"
    outside = leaving_localhost(requested_urls(browser))
    assert not outside, f"requests left 127.0.0.1: {outside}"
