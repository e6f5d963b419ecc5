"""Click-to-settled timings in headless Chromium for bench/ui.py: MCC against a bare Streamlit app with the
same widgets (bench/ui_floor.py, the framework floor) in the same run.

*Settled* = the script finished (`data-test-script-state` not running), no stale elements, no status
widget ("Running…") and no skeleton, and nothing changed that for 0.5 s afterwards; the figure is the time
from the mouse press to the moment the page became settled (the quiet half second is not counted).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from playwright.sync_api import Page

OBSERVER = """
(() => {
  if (window.__settle) return;
  const state = {idleAt: null, runs: 0, clickAt: null};
  window.__settle = state;
  const idle = () => {
    const app = document.querySelector("[data-testid='stApp']");
    return !!app && app.getAttribute("data-test-script-state") !== "running"
      && app.getAttribute("data-test-connection-state") === "CONNECTED"
      && !document.querySelector("[data-stale='true']")
      && !document.querySelector("[data-testid='stStatusWidget']")
      && !document.querySelector("[data-testid='stSkeleton']");
  };
  const check = (records) => {
    for (const record of records || []) {
      if (record.attributeName === "data-test-script-state"
          && (record.oldValue === "running" || record.target.getAttribute(record.attributeName) === "running")
          && record.oldValue !== record.target.getAttribute(record.attributeName)) {
        if (record.target.getAttribute(record.attributeName) === "running") state.runs += 1;
      }
    }
    if (idle()) { if (state.idleAt === null) state.idleAt = performance.now(); }
    else state.idleAt = null;
  };
  new MutationObserver(check).observe(document, {
    subtree: true, childList: true, attributes: true, attributeOldValue: true,
  });
  document.addEventListener("mousedown", () => { state.clickAt = performance.now(); }, true);
  document.addEventListener("keydown", () => { state.clickAt = performance.now(); }, true);
})();
"""
QUIET_MS = 500


@dataclass
class Timings:
    seconds: dict[str, list[float]] = field(default_factory=dict)
    runs: dict[str, list[int]] = field(default_factory=dict)

    def attempt(self, name: str, measure: Callable[[], tuple[float, int]]) -> None:
        try:
            self.add(name, *measure())
        except TimeoutError:
            print(f"    {name:<30} did not settle in 60 s (left out)", flush=True)

    def add(self, name: str, seconds: float, runs: int) -> None:
        print(f"    {name:<30} {seconds:6.2f} s  {runs} run(s)", flush=True)
        self.seconds.setdefault(name, []).append(seconds)
        self.runs.setdefault(name, []).append(runs)

    def median(self, name: str) -> float | None:
        values = self.seconds.get(name)
        return statistics.median(values) if values else None


def prepare(page: Page) -> None:
    page.add_init_script(OBSERVER)


def timed(page: Page, act: Callable[[], None], timeout: float = 60.0) -> tuple[float, int]:
    """(seconds from the press to settled, script runs it caused)."""
    page.evaluate(
        "() => { const s = window.__settle; s.runs = 0; s.idleAt = null; s.clickAt = performance.now(); }"
    )
    act()
    started = time.monotonic()
    while time.monotonic() < started + timeout:
        runs, idle_at, now, click_at = page.evaluate(
            "() => { const s = window.__settle; return [s.runs, s.idleAt, performance.now(), s.clickAt]; }"
        )
        # a run too short for the observer to see still leaves the page settled: accept it after 3 s
        seen = runs > 0 or time.monotonic() - started > 3
        if seen and idle_at is not None and now - idle_at >= QUIET_MS:
            return max(idle_at - click_at, 0.0) / 1000, int(runs)
        time.sleep(0.02)
    raise TimeoutError("the page did not settle")


def settle(page: Page, timeout: float = 120.0) -> None:
    """Wait until the page is settled without a click (after a load)."""
    page.wait_for_function("() => window.__settle !== undefined", timeout=timeout * 1000)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        idle_at, now = page.evaluate("() => [window.__settle.idleAt, performance.now()]")
        if idle_at is not None and now - idle_at >= QUIET_MS:
            return
        time.sleep(0.05)
    raise TimeoutError("the page did not settle")


def nav(page: Page, label: str) -> None:
    page.locator("[data-testid='stSidebarNav'] a").filter(has_text=label).first.click()


def button(page: Page, label: str) -> Callable[[], None]:
    return lambda: page.get_by_role("button", name=label, exact=True).first.click()


def keyed(page: Page, key: str) -> Callable[[], None]:
    """A button by its Streamlit key (labels carry keyboard hints)."""
    return lambda: page.locator(f".st-key-{key} button").first.click()


def record_first_gap(page: Page) -> bool:
    """Choose Defer on the first open gap's row (a browser-side pick) and press its Record button."""
    row = page.locator("[class*='st-key-gap_row_']").first
    picker = row.get_by_role("combobox", name="Decision")
    if picker.count() == 0:
        return False
    picker.click()
    page.get_by_role("option", name="Defer to a later session").click()
    page.wait_for_timeout(200)
    return True


def session(page: Page, url: str, username: str, password: str, timings: Timings, repeats: int) -> None:
    """One sitting: sign in, open Review, Next / Previous, record a decision, exclude, bulk, navigate."""
    page.goto(url)
    settle(page)
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(password)
    timings.attempt("sign-in", lambda: timed(page, button(page, "Sign in")))
    timings.attempt("open Review", lambda: timed(page, lambda: nav(page, "Review")))
    for _ in range(repeats):
        timings.attempt("Next", lambda: timed(page, keyed(page, "review_next")))
    for _ in range(repeats):
        timings.attempt("Previous", lambda: timed(page, keyed(page, "review_prev")))
    for _ in range(repeats):
        if not record_first_gap(page):
            timings.attempt("(next, to find an open gap)", lambda: timed(page, keyed(page, "review_next")))
            continue
        record = page.locator("[class*='st-key-gap_row_']").first.get_by_role("button", name="Record ·").first
        timings.attempt("Record decision", partial(timed, page, record.click))
    for _ in range(repeats):
        exclude = page.get_by_role("button", name="Exclude", exact=True)
        if exclude.count() == 0 or not exclude.first.is_enabled():
            timings.attempt("(next, to find a suggestion)", lambda: timed(page, keyed(page, "review_next")))
            continue
        timings.attempt("Exclude", lambda: timed(page, button(page, "Exclude")))
    opener = page.get_by_text("Decide many gaps at once").first
    if opener.count():
        opener.click()  # an expander opens in the browser, without a script run
        page.wait_for_timeout(300)
        candidates = page.locator("[data-testid='stButton'] button").filter(has_text="gap")
        if candidates.count() and candidates.first.is_enabled():
            timings.attempt("bulk apply", lambda: timed(page, lambda: candidates.first.click()))
    for _ in range(repeats):
        timings.attempt("page navigation", lambda: timed(page, lambda: nav(page, "What-if")))
        timings.attempt("page navigation", lambda: timed(page, lambda: nav(page, "Review")))


ORDER = [
    "sign-in",
    "open Review",
    "Next",
    "Previous",
    "Record decision",
    "Exclude",
    "bulk apply",
    "page navigation",
]


def table(mcc: Timings, floor: Timings, before: Timings | None = None) -> list[str]:
    lines = [
        "| interaction | MCC median s | runs | floor median s | ratio to floor | before: GC on, s | samples |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]

    def cell(value: float | None) -> str:
        return "—" if value is None else f"{value:.2f}"

    for name in ORDER:
        ours, base = mcc.median(name), floor.median(name)
        earlier = before.median(name) if before else None
        runs = f"{statistics.median(mcc.runs[name]):g}" if name in mcc.runs else "—"
        ratio = f"{ours / base:.1f}×" if ours is not None and base else "—"
        samples = len(mcc.seconds.get(name, []))
        lines.append(
            f"| {name} | {cell(ours)} | {runs} | {cell(base)} | {ratio} | {cell(earlier)} | {samples} |"
        )
    return lines
