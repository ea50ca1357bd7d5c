"""Headless Chromium (Debian's package at /usr/bin/chromium) driven by Playwright against the
real stack. Playwright's own browser download is not used: only its driver, from the wheel.

The browser gets no CJK font from the system (this machine has none, and none is added): the
Hangul it shows comes from the console's web font. It opens the console at a host name other
than the one in PUBLIC_BASE_URL, as a user does who types `localhost` for `127.0.0.1`."""

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.browser.console import Console
from tests.stack import Stack

CHROMIUM = Path("/usr/bin/chromium")
TEST_HOST_NAMES = ("localhost", "assets.test")
"""`assets.test` plays a CDN in front of the assets (test_console_origins.py)."""
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "browser"
"""Screenshots of each stage, kept after the run (git-ignored)."""


@pytest.fixture(scope="session")
def artifacts() -> Path:
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Package-scoped: Playwright's sync API runs an event loop in this thread while it is
    open, and the async tests collected after this folder need the thread's loop free."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package (.ci/run does) to run the browser tests")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--autoplay-policy=no-user-gesture-required",
                # Every name a test uses reaches this machine's loopback address and nothing else.
                f"--host-resolver-rules={', '.join(f'MAP {name} 127.0.0.1' for name in TEST_HOST_NAMES)}",
            ],
        )
        try:
            yield chromium
        finally:
            chromium.close()


def console_url(stack: Stack) -> str:
    """The stack's console by another name than PUBLIC_BASE_URL's host (127.0.0.1)."""
    return f"http://localhost:{stack.port}/"


@contextmanager
def open_console(browser: Browser, stack: Stack, url: str, artifacts: Path) -> Iterator[Console]:
    """A fresh browser context on the console page at `url`. Afterwards: no script error, no
    dialog and no Content-Security-Policy violation happened on the page."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ko-KR")
    page = context.new_page()
    opened = Console(page, stack, artifacts)
    try:
        page.goto(url)
        yield opened
    finally:
        context.close()
    assert opened.page_errors == [], opened.page_errors
    assert opened.dialogs == [], f"a dialog opened: {opened.dialogs}"
    assert opened.csp_violations == [], opened.csp_violations
    assert not [text for text in opened.console_errors if "Content Security Policy" in text], opened.console_errors


@pytest.fixture
def console(browser: Browser, stack: Stack, artifacts: Path, request: pytest.FixtureRequest) -> Iterator[Console]:
    with open_console(browser, stack, console_url(stack), artifacts / request.node.name) as opened:
        yield opened
