"""UI speed in headless Chromium against `mcc serve`.

    .venv/bin/python bench/ui.py [--clients 0|2000] [--repeats 5]     # clicks (default)
    .venv/bin/python bench/ui.py --mode pages [--clients 2000] [--runs 5]

*clicks* (issue 12): from the click to the settled page for sign-in, open Review, Next, Previous, Record
decision, Exclude, bulk apply and page navigation, each beside the same widgets on a bare Streamlit page
(bench/ui_floor.py, the framework floor) measured in the same run. `--clients 0` is the demo book (`mcc
demo`'s ~40 clients on the vendor sandbox); `--clients 2000` the generated big book. Targets: Next /
Previous / Record decision / Exclude / bulk apply ≤ 0.5 s (demo) and ≤ 1.0 s (2,000 clients); page
navigation ≤ 1.0 s; sign-in ≤ 2 s.

*pages* (issue 7): warm page script runs (AppTest, in-process) and the first page load in the browser.
"""

from __future__ import annotations

import argparse
import os
import shutil
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


def seed_demo(directory: Path) -> tuple[Path, dict[str, str]]:
    """The demo book (what `mcc demo` seeds), with the sandbox stopped afterwards: the UI never calls it.
    A directory seeded before (`--dir`) is reused as it is."""
    import json

    from sandbox.demo import prepare, seed

    saved = directory / "bench-env.json"
    if saved.exists():
        print(f"reusing the demo book in {directory}", flush=True)
        return directory / "mcc.toml", json.loads(saved.read_text(encoding="utf-8"))
    started = time.perf_counter()
    stack = prepare(directory, port_base=0)
    try:
        seed(stack.config, stack.world, stack.vendors, report=lambda line: None)
    finally:
        stack.stop()
    print(f"seeded the demo book in {time.perf_counter() - started:.1f} s", flush=True)
    assert stack.config.path is not None
    saved.write_text(json.dumps({"MCC_DEMO": "1"}), encoding="utf-8")
    return Path(stack.config.path), {"MCC_DEMO": "1"}


def start(command: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    import httpx

    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    for _ in range(240):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).text == "ok":
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{command[:4]} did not come up on port {port}")


def clicks(clients: int, repeats: int, keep: Path | None = None) -> None:
    from bench.ui_clicks import Timings, prepare, session, table
    from sandbox.demo import DEMO_PASSWORD
    from tests.e2e.browser import browser

    with tempfile.TemporaryDirectory() as scratch:
        directory = str(keep) if keep and not clients else scratch
        if keep:
            keep.mkdir(parents=True, exist_ok=True)
        if clients:
            config_path, extra = seed(Path(directory), clients), {"MCC_COOKIE_KEY": COOKIE_KEY}
            username, password = "admin", PASSWORD
        else:
            config_path, extra = seed_demo(Path(directory))
            username, password = "billing", DEMO_PASSWORD
        env = {**os.environ, **extra, "MCC_CONFIG": str(config_path), "MCC_LOG_LEVEL": "WARNING"}
        if clients:
            env.pop("MCC_DEMO", None)
        # "before": the same book (a copy: the sittings decide gaps) served without this change's
        # Streamlit options, to show what they are worth
        before_path = Path(scratch) / "before" / "mcc.toml"
        before_path.parent.mkdir()
        database = Path(str(load_database(config_path)))
        shutil.copy(database, before_path.parent / "mcc.db")
        before_path.write_text(
            config_path.read_text(encoding="utf-8").replace(
                str(database), str(before_path.parent / "mcc.db")
            ),
            encoding="utf-8",
        )
        app_port, before_port, floor_port = free_port(), free_port(), free_port()
        shipped = ["-c", f"from mcc.cli import serve; serve.run_streamlit({app_port}, '127.0.0.1')"]
        unchanged = [
            "-c",
            "import sys; from mcc.cli import serve; from streamlit.runtime.pages_manager import PagesManager; "
            "from streamlit.web import cli; PagesManager.uses_pages_directory = False; "
            f"sys.argv = [a for a in serve.streamlit_args({before_port}, '127.0.0.1') if 'postScriptGC' not in a]; "
            "cli.main()",
        ]
        processes = [
            start([sys.executable, *shipped], env, app_port),
            start([sys.executable, *unchanged], {**env, "MCC_CONFIG": str(before_path)}, before_port),
            start(
                [
                    sys.executable,
                    "-m",
                    "streamlit",
                    "run",
                    str(ROOT / "bench" / "ui_floor.py"),
                    "--server.headless=true",
                    f"--server.port={floor_port}",
                    "--browser.gatherUsageStats=false",
                    "--server.fileWatcherType=none",
                ],
                env,
                floor_port,
            ),
        ]
        mcc, before, floor, warm_up = Timings(), Timings(), Timings(), Timings()
        names = {
            id(mcc): "MCC",
            id(before): "MCC before (post-run GC on)",
            id(floor): "floor",
            id(warm_up): "floor warm-up (its first script runs import pandas and pyarrow; not counted)",
        }
        try:
            with browser() as chromium:
                for url, timings, user, secret in (
                    (f"http://127.0.0.1:{floor_port}", warm_up, "someone", "anything"),
                    (f"http://127.0.0.1:{app_port}", mcc, username, password),
                    (f"http://127.0.0.1:{before_port}", before, username, password),
                    (f"http://127.0.0.1:{floor_port}", floor, "someone", "anything"),
                ):
                    print(f"  {names[id(timings)]} at {url}", flush=True)
                    context = chromium.new_context(viewport={"width": 1440, "height": 900})
                    page = context.new_page()
                    prepare(page)
                    session(page, url, user, secret, timings, repeats)
                    context.close()
        finally:
            for process in processes:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=20)
    book = "demo book (~40 clients)" if not clients else f"{clients:,}-client book"
    print(f"\nClick to settled page, {book}, median of {repeats} per interaction:")
    print("\n".join(table(mcc, floor, before)))


def load_database(config_path: Path) -> str:
    from mcc.config import load_config
    from store.db import normalise_url

    url = normalise_url(load_config(config_path).database_url)
    return url.removeprefix("sqlite:///")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=["clicks", "pages"], default="clicks")
    parser.add_argument("--clients", type=int, default=None, help="0: the demo book (clicks default)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=None, help="keep (and reuse) the seeded demo book here")
    args = parser.parse_args()
    if args.mode == "clicks":
        clicks(args.clients or 0, args.repeats, args.dir)
        return
    args.clients = args.clients or 2000
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
