"""Playwright driving Debian's Chromium (never a downloaded browser)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
# A clean clone has no test-artifacts/ (it is ignored by git): every writer finds it here.
ARTIFACTS.mkdir(parents=True, exist_ok=True)
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str | None:
    return os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    path = chromium_path()
    if path is None:
        pytest.fail("Chromium is missing: scripts/setup --dev installs Debian's chromium")
    # Playwright's sync API runs an event loop in this thread; the test thread
    # still talks to the database synchronously through Django.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_FLAGS)
        yield instance
        instance.close()


def csp_violations(tab: Any) -> list[str]:
    """Collect the Content-Security-Policy violations the tab reports (the list fills up)."""
    found: list[str] = []

    def on_console(message: Any) -> None:
        if "Content Security Policy" in message.text:
            found.append(message.text)

    tab.on("console", on_console)
    return found


_WARM: set[str] = set()


@pytest.fixture
def page(browser: Any, live_server: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    if live_server.url not in _WARM:
        # The first request to a fresh server imports every URLconf and view: on a loaded
        # machine that alone can outlast a page's 10 s timeout. Pay it once, here.
        warm = browser.new_context()
        warm.request.get(live_server.url + "/accounts/login/", timeout=120_000)
        warm.close()
        _WARM.add(live_server.url)
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    tab.base_url = live_server.url
    # Every browser test doubles as a CSP test: an inline script or handler the site's
    # policy refuses fails the test that met it.
    violations = csp_violations(tab)
    yield tab
    context.close()
    assert not violations, "Content-Security-Policy violations:\n" + "\n".join(violations)


def login(page: Any, username: str, password: str = "refund-demo-2026") -> None:
    """Log in through the real login form."""
    page.goto(page.base_url + "/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def screenshot(page: Any, name: str, full_page: bool = True) -> Path:
    """Save a screenshot under test-artifacts/screenshots/<name>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
