"""Driving the app in Debian's chromium with Playwright, waiting the way Streamlit's own e2e suite does."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Browser, Page, expect, sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@contextmanager
def browser() -> Iterator[Browser]:
    path = chromium_path()
    if path is None:
        raise RuntimeError("chromium is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def wait_for_app(page: Page, timeout: float = 90_000) -> None:
    """Connected, the script finished, no skeletons left (Streamlit's e2e wait_for_app_run)."""
    page.wait_for_selector("[data-testid='stAppViewContainer']", timeout=timeout)
    page.wait_for_selector("[data-testid='stApp'][data-test-connection-state='CONNECTED']", timeout=timeout)
    time.sleep(0.21)  # some widgets debounce before the rerun starts
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=timeout)
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0, timeout=timeout)
    settle(page, timeout)


def settle(page: Page, timeout: float = 90_000) -> None:
    """The sign-in cookie component reruns the script once after load: wait until a run has finished
    and nothing has started again for half a second, with no stale elements left."""
    deadline = time.monotonic() + timeout / 1000
    quiet_since = None
    while time.monotonic() < deadline:
        idle = page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").count() == 1
        stale = page.locator("[data-stale='true']").count()
        if idle and stale == 0:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= 0.5:
                return
        else:
            quiet_since = None
        time.sleep(0.05)
    raise TimeoutError("the app did not settle")


def sign_in(page: Page, base_url: str, username: str, password: str) -> None:
    page.goto(base_url)
    wait_for_app(page)
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Sign out").wait_for(timeout=30_000)
    wait_for_app(page)


def wait_for_charts(page: Page, timeout: float = 30_000) -> None:
    """Plotly draws after the script run; wait until every chart on the page has its SVG."""
    charts = page.locator("[data-testid='stPlotlyChart']")
    for index in range(charts.count()):
        charts.nth(index).locator(".main-svg").first.wait_for(timeout=timeout)
