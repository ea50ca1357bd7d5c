"""Headless Chromium (Debian's package at /usr/bin/chromium) driven by Playwright against the
real stack. Playwright's own browser download is not used: only its driver, from the wheel."""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from services.renderer.fonts import BUNDLED_FONT
from tests.browser.console import Console
from tests.stack import Stack

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "browser"
"""Screenshots of each stage, kept after the run (git-ignored)."""


@pytest.fixture(scope="session")
def artifacts() -> Path:
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def fontconfig(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fontconfig file adding the Noto Sans CJK font the renderer ships with, so Hangul shows
    in the page (and its screenshots) on a machine without system CJK fonts."""
    folder = tmp_path_factory.mktemp("fontconfig")
    config = folder / "fonts.conf"
    config.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
        '  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>\n'
        f"  <dir>{BUNDLED_FONT.parent}</dir>\n  <cachedir>{folder / 'cache'}</cachedir>\n</fontconfig>\n",
        encoding="utf-8",
    )
    return config


@pytest.fixture(scope="package")
def browser(fontconfig: Path) -> Iterator[Browser]:
    """Package-scoped: Playwright's sync API runs an event loop in this thread while it is
    open, and the async tests collected after this folder need the thread's loop free."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package (.ci/run does) to run the browser tests")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required"],
            env={**os.environ, "FONTCONFIG_FILE": str(fontconfig)},
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def console(browser: Browser, stack: Stack, artifacts: Path, request: pytest.FixtureRequest) -> Iterator[Console]:
    """A fresh browser context on the console page. Afterwards: no script error, no dialog
    and no Content-Security-Policy violation happened on the page."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ko-KR")
    page = context.new_page()
    opened = Console(page, stack, artifacts / request.node.name)
    try:
        page.goto(stack.base_url + "/")
        yield opened
    finally:
        context.close()
    assert opened.page_errors == [], opened.page_errors
    assert opened.dialogs == [], f"a dialog opened: {opened.dialogs}"
    assert not [text for text in opened.console_errors if "Content Security Policy" in text], opened.console_errors
