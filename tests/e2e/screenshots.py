"""Screenshots of every page of a running app, for a person to look at:

python -m tests.e2e.screenshots --url http://localhost:8501 --out screenshots
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import Page

from tests.e2e.browser import browser, settle, sign_in, wait_for_app, wait_for_charts

PAGES = ["", "review", "what-if", "unbilled-time", "invoices", "billing-config", "sources", "audit", "users"]


SCROLLERS = "[data-testid='stMain'], [data-testid='stAppViewContainer'], [data-testid='stMainBlockContainer']"


def fit_to_content(page: Page, width: int, minimum: int, maximum: int = 9000) -> None:
    """Grow the viewport to the page's content: a long page is captured whole, not cut at the fold."""
    tallest = page.evaluate(
        f'Math.max(...Array.from(document.querySelectorAll("{SCROLLERS}"), e => e.scrollHeight))'
    )
    wanted = min(int(tallest), maximum)
    if wanted > minimum:
        page.set_viewport_size({"width": width, "height": wanted})
        settle(page)


def capture(
    url: str, out: Path, username: str, password: str, width: int = 1440, height: int = 2000
) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    shots = []
    with browser() as chromium:
        # Streamlit scrolls inside its own container, so a tall viewport is what captures a whole page
        page = chromium.new_page(viewport={"width": width, "height": height})
        sign_in(page, url, username, password)
        for name in PAGES:
            page.set_viewport_size({"width": width, "height": height})
            page.goto(f"{url.rstrip('/')}/{name}")
            wait_for_app(page)
            wait_for_charts(page)
            settle(page)
            fit_to_content(page, width, height)
            path = out / f"{name or 'overview'}.png"
            page.screenshot(path=str(path), full_page=True)
            shots.append(path)
    return shots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://localhost:8501")
    parser.add_argument("--out", type=Path, default=Path("screenshots"))
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password", default="morton-demo-2026")
    args = parser.parse_args()
    for path in capture(args.url, args.out, args.user, args.password):
        print(path)


if __name__ == "__main__":
    main()
