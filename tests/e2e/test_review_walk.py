"""The review walk in a real browser at 1440×900: each gap's decision sits beside its row above the fold,
a recorded decision leaves no other Record button under the cursor, Undo reopens the gap, and the J key
walks on to the next client."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.e2e.browser import browser, settle, sign_in, wait_for_app
from tests.e2e.test_demo_flow import demo  # noqa: F401  (the module-scoped demo app)

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]
SHOTS = Path(os.environ.get("MCC_SHOTS", "/tmp/walk-shots"))
WIDTH, HEIGHT = 1440, 900


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def _button_under(page: Page, x: float, y: float) -> str:
    """The label of the button at (x, y), or '' when the point is not on a button."""
    return str(
        page.evaluate(
            "([x, y]) => { const hit = document.elementFromPoint(x, y);"
            " const button = hit && hit.closest('button'); return button ? button.innerText : ''; }",
            [x, y],
        )
    )


def test_walk_record_undo_and_no_stale_label_under_the_cursor(demo: str) -> None:  # noqa: F811
    from sandbox.demo import DEMO_PASSWORD

    with browser() as chromium:
        page = chromium.new_page(viewport={"width": WIDTH, "height": HEIGHT})
        sign_in(page, demo, "billing", DEMO_PASSWORD)
        page.goto(f"{demo}/review")
        wait_for_app(page)
        first_client = page.locator("h2").first.inner_text()
        page.get_by_text(re.compile(r"1 of \d+ clients, \d+ gaps? left")).first.wait_for()
        _shot(page, "review-start")

        row = page.locator("[class*='st-key-gap_row_']").first
        record = row.get_by_role("button", name="Record ·")
        box = record.bounding_box()
        assert box is not None
        assert box["y"] + box["height"] <= HEIGHT and box["x"] + box["width"] <= WIDTH, box  # beside its row
        label = record.inner_text().splitlines()[0]  # without the key hint

        row.get_by_role("combobox", name="Decision").click()
        page.get_by_role("option", name="Write off (leave the billing as it is)").click()
        row.get_by_role("textbox", name="Note (audit log and invoice line)").fill("goodwill")
        record = row.get_by_role("button", name="Record ·")
        box = record.bounding_box()
        assert box is not None
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        record.click()
        settle(page)
        page.get_by_text("Just recorded:").wait_for()
        _shot(page, "review-after-decision")
        under = _button_under(page, x, y)
        assert not under.startswith("Record"), f"{under!r} landed where {label!r} was clicked"

        page.locator(".st-key-undo_last button").click()
        settle(page)
        page.get_by_role("button", name=label).wait_for()  # the same gap is open again, its Record back
        _shot(page, "review-after-undo")

        page.evaluate("document.activeElement && document.activeElement.blur()")  # keys go to the page
        page.keyboard.press("j")
        settle(page)
        page.locator("h2", has_not_text=first_client).first.wait_for()
        page.get_by_text(re.compile(r"2 of \d+ clients, \d+ gaps? left")).first.wait_for()
        _shot(page, "review-second-client")
