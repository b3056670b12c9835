"""Debian's Chromium driven by Playwright; the live panel is `live_server` (tests/conftest.py)."""

import pytest
from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def browser_context(browser):
    """A fresh browser profile, as a customer in Japan has it."""
    return browser.new_context(locale="ja-JP", timezone_id="Asia/Tokyo")


@pytest.fixture
def page(browser):
    context = browser_context(browser)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()
