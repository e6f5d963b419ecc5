"""UI speed on a 2,000-client book: warm page script runs (AppTest, in-process) and the first page load
in headless Chromium against `mcc serve`.

    .venv/bin/python bench/ui.py [--clients 2000] [--runs 5]

Targets (issue 7): warm page script ≤ 0.3 s; first page load in the browser ≤ 3.5 s.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAGES = ["overview", "review", "what_if", "unbilled_time", "invoices", "billing_config", "sources", "audit"]
COOKIE_KEY = "bench-cookie-key-0123456789-abcdefghijklmnopqrstuvwxyz"
PASSWORD = "a long bench password"


def seed(directory: Path, clients: int) -> Path:
    from mcc import users
    from mcc.config import load_config
    from mcc.permissions import Actor
    from store.db import make_engine
    from store.migrate import upgrade
    from tests.app_world import SOURCES_TOML, seed_world

    database = directory / "mcc.db"
    config_path = directory / "mcc.toml"
    config_path.write_text(f'database_url = "sqlite:///{database}"\n{SOURCES_TOML}', encoding="utf-8")
    upgrade(f"sqlite:///{database}")
    config = load_config(config_path)
    engine = make_engine(config.database_url)
    started = time.perf_counter()
    seed_world(engine, config, clients=clients)
    users.BCRYPT_ROUNDS = 10
    users.add_user(
        engine,
        Actor("bench", frozenset({"admin"})),
        "admin",
        name="Bench Admin",
        password=PASSWORD,
        roles=["admin"],
    )
    engine.dispose()
    print(f"seeded {clients} clients in {time.perf_counter() - started:.1f} s", flush=True)
    return config_path


def apptest_runs(runs: int) -> dict[str, tuple[float, float]]:
    """(cold, median warm) seconds of one script run per page, signed in as admin."""
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.testing.v1 import AppTest

    original = PagesManager.__init__

    def init(self: PagesManager, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)  # type: ignore[arg-type]
        PagesManager.uses_pages_directory = False

    PagesManager.__init__ = init  # type: ignore[method-assign]
    results = {}
    for page in PAGES:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        for key, value in {
            "authentication_status": True,
            "username": "admin",
            "name": "Bench Admin",
            "roles": ["admin"],
            "logout": None,
        }.items():
            at.session_state[key] = value
        at.run()
        started = time.perf_counter()
        at.switch_page(f"pages/{page}.py").run()
        cold = time.perf_counter() - started
        assert not at.exception, (page, at.exception)
        warm = []
        for _ in range(runs):
            started = time.perf_counter()
            at.run()
            warm.append(time.perf_counter() - started)
            assert not at.exception, (page, at.exception)
        results[page] = (cold, statistics.median(warm))
        print(f"  {page:<15} cold {cold:6.3f} s   warm {results[page][1]:6.3f} s", flush=True)
    return results


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def browser_loads(config_path: Path, runs: int) -> dict[str, list[float]]:
    """Seconds from navigation to a settled page (script done, no stale elements, charts drawn), each in
    a fresh tab after signing in once; the first load of each page also pays its cold cache."""
    import httpx

    from tests.e2e.browser import browser, sign_in, wait_for_app, wait_for_charts

    port = free_port()
    env = {
        **os.environ,
        "MCC_CONFIG": str(config_path),
        "MCC_COOKIE_KEY": COOKIE_KEY,
        "MCC_LOG_LEVEL": "WARNING",
    }
    env.pop("MCC_DEMO", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "mcc", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    loads: dict[str, list[float]] = {}
    try:
        for _ in range(120):
            try:
                if httpx.get(f"{url}/_stcore/health", timeout=1).text == "ok":
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        with browser() as chromium:
            context = chromium.new_context(viewport={"width": 1440, "height": 1000})
            page = context.new_page()
            sign_in(page, url, "admin", PASSWORD)
            page.close()
            for name in ["overview", "review", "what-if", "invoices", "sources"]:
                loads[name] = []
                for _ in range(runs):
                    tab = context.new_page()
                    started = time.perf_counter()
                    tab.goto(f"{url}/{'' if name == 'overview' else name}")
                    wait_for_app(tab, timeout=120_000)
                    wait_for_charts(tab, timeout=120_000)
                    loads[name].append(time.perf_counter() - started - 0.5)  # minus the settle window
                    tab.close()
                print(
                    f"  {name:<15} first {loads[name][0]:6.2f} s   median {statistics.median(loads[name]):6.2f} s",
                    flush=True,
                )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
    return loads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        config_path = seed(Path(directory), args.clients)
        os.environ["MCC_CONFIG"] = str(config_path)
        os.environ["MCC_COOKIE_KEY"] = COOKIE_KEY
        print("AppTest script runs:", flush=True)
        scripts = apptest_runs(args.runs)
        print("Headless Chromium page loads:", flush=True)
        loads = browser_loads(config_path, args.runs)
    worst_warm = max(warm for _, warm in scripts.values())
    worst_first = max(values[0] for values in loads.values())
    print(
        f"worst warm script {worst_warm:.3f} s (target 0.3); worst first browser load {worst_first:.2f} s (target 3.5)"
    )


if __name__ == "__main__":
    main()
