"""The whole loop in a real browser on the demo: sign in, review a client, approve a gap, draft the
invoice, push it to the sandbox QuickBooks, and see it pushed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.browser import browser, chromium_path, settle, sign_in, wait_for_app

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if chromium_path() is None:
        pytest.fail("chromium is not installed: sudo apt-get install -y chromium (make test does it as root)")
    port, sandbox = free_port(), free_port() + 100
    env = {**os.environ, "MCC_LOG_LEVEL": "WARNING"}
    env.pop("MCC_CONFIG", None)
    env.pop("MCC_DATABASE_URL", None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mcc",
            "demo",
            "--port",
            str(port),
            "--sandbox-port",
            str(sandbox),
            "--dir",
            str(tmp_path_factory.mktemp("demo")),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300  # seeding the demo on a busy machine
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"mcc demo exited with {process.returncode}")
            try:
                if httpx.get(f"{url}/_stcore/health", timeout=1).text == "ok":
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("the demo app did not come up within 300 s")
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def test_review_approve_draft_push(demo: str) -> None:
    from sandbox.demo import DEMO_PASSWORD

    with browser() as chromium:
        page = chromium.new_page(viewport={"width": 1440, "height": 1000})
        sign_in(page, demo, "billing", DEMO_PASSWORD)

        page.goto(f"{demo}/review")
        wait_for_app(page)
        heading = page.locator("h2").first.inner_text()
        assert heading, "a client is on screen"
        row = page.locator("[class*='st-key-gap_row_']").first
        row.get_by_role("combobox", name="Decision").click()
        page.get_by_role("option", name="Bump the agreement to the observed quantity").click()
        row.get_by_role("textbox", name="Note (audit log and invoice line)").fill("agreed on the call")
        row.get_by_role("button", name="Record ·").click()
        settle(page)
        page.get_by_text("Just recorded:").first.wait_for(timeout=60_000)

        page.goto(f"{demo}/invoices")
        wait_for_app(page)
        page.get_by_role("button", name="Build drafts").click()
        settle(page)
        picker = page.get_by_label("Open an invoice")
        picker.click()
        page.get_by_role("option", name=heading).first.click()
        settle(page)
        page.get_by_role("button", name="Approve").click()
        settle(page)
        page.get_by_role("button", name="Push to QuickBooks Online").click()
        settle(page)
        page.get_by_text("In QuickBooks Online as invoice").wait_for(timeout=60_000)
        page.screenshot(path=str(ROOT / "screenshots" / "e2e-pushed.png"))


def _session_cookie(context) -> list[dict]:
    return [cookie for cookie in context.cookies() if cookie["name"] == "mcc_session"]


def _wait_until(condition, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_sign_out_then_reload_shows_the_sign_in_form(demo: str) -> None:
    """On a shared screen, the next person must not get the last one's session back by reloading."""
    from sandbox.demo import DEMO_PASSWORD

    with browser() as chromium:
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        sign_in(page, demo, "viewer", DEMO_PASSWORD)
        assert _wait_until(lambda: bool(_session_cookie(context))), "signing in sets the cookie"
        page.reload()
        wait_for_app(page)
        page.get_by_role("button", name="Sign out").wait_for(timeout=30_000)  # the cookie signs a reload in
        page.get_by_role("button", name="Sign out").click()
        page.get_by_role("button", name="Sign in").wait_for(timeout=30_000)
        settle(page)
        assert _wait_until(lambda: not _session_cookie(context)), "signing out drops the cookie"
        page.reload()
        wait_for_app(page)
        page.get_by_role("button", name="Sign in").wait_for(timeout=30_000)
        assert page.get_by_role("button", name="Sign out").count() == 0
        context.close()
