"""`mcc demo`: seed a realistic demo book on the local vendor sandbox, then run the worker and the app."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import typer
from rich.console import Console
from rich.panel import Panel

if TYPE_CHECKING:
    from sandbox.demo import Demo


def demo(
    port: int = typer.Option(8501, help="Port of the web app."),
    sandbox_port: int = typer.Option(8701, help="First port of the vendor sandbox (one port per vendor)."),
    directory: Path = typer.Option(
        Path("data/demo"), "--dir", help="Where the demo database and mcc.toml go."
    ),
    serve: bool = typer.Option(
        True, help="Start the worker and the app after seeding (--no-serve: seed and exit)."
    ),
    accounting: str = typer.Option(
        "quickbooks",
        help="quickbooks (Online sandbox) or qbd (Desktop: a fake Web Connector polls `mcc qbwc serve`).",
    ),
    console_logs: bool = typer.Option(
        False,
        "--console-logs",
        help="Let the worker and the app log to this console (default: to worker.log and app.log in --dir).",
    ),
) -> None:
    """Seed ~40 clients with 12 months of history and planted drift, start the sandbox, worker and app."""
    from sandbox.demo import DEMO_PASSWORD, DEMO_USERS, prepare, seed

    if accounting not in ("quickbooks", "qbd"):
        raise typer.BadParameter("give quickbooks or qbd", param_hint="--accounting")

    console = Console()
    with console.status("starting the vendor sandbox and seeding the demo book…"):
        stack = prepare(directory, port_base=sandbox_port, accounting_kind=accounting)
        seed(stack.config, stack.world, stack.vendors, report=lambda line: console.print(f"  {line}"))
    config, vendors = stack.config, stack.vendors
    env = {**os.environ, **stack.env, "MCC_CONFIG": str(config.path)}
    logins = "\n".join(
        f"  {user:<9} {DEMO_PASSWORD}   ({', '.join(roles)})" for user, (_name, roles) in DEMO_USERS.items()
    )
    if not serve:
        console.print(f"demo seeded: MCC_CONFIG={config.path}")
        stack.stop()
        return
    # The banner with the logins stays readable: the worker's and the app's logs go to files unless asked.
    logs = {name: directory / f"{name}.log" for name in ("worker", "app")}
    outputs = {name: None if console_logs else path.open("ab") for name, path in logs.items()}
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "mcc", "worker"],
            env=env,
            stdout=outputs["worker"],
            stderr=subprocess.STDOUT if outputs["worker"] else None,
        ),
        subprocess.Popen(
            [sys.executable, "-m", "mcc", "serve", "--port", str(port)],
            env=env,
            stdout=outputs["app"],
            stderr=subprocess.STDOUT if outputs["app"] else None,
        ),
    ]
    connector = _desktop(stack, env, children, sandbox_port, outputs["app"]) if accounting == "qbd" else None
    console.print(
        Panel(
            f"Open [bold]http://localhost:{port}[/bold]\n\nSign in as:\n{logins}\n\n"
            f"Vendor sandbox: {', '.join(f'{v.name} {v.fake.url}' for v in vendors)}, "
            f"QuickBooks {stack.quickbooks.url}\n"
            f"Config: {config.path}   (Ctrl-C stops everything)"
            + ("" if console_logs else f"\nLogs: {logs['worker']} and {logs['app']}"),
            title="Morton Command Center demo is running",
        )
    )
    stop = False

    def _stop(*_args: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    try:
        while not stop and all(child.poll() is None for child in children):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        if connector is not None:
            connector.set()
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        stack.stop()
        for output in outputs.values():
            if output is not None:
                output.close()


def _desktop(
    stack: Demo,
    env: dict[str, str],
    children: list[subprocess.Popen[bytes]],
    port: int,
    output: BinaryIO | None = None,
) -> threading.Event:
    """Run `mcc qbwc serve` and a fake Web Connector that polls it every 10 seconds against a fake
    QuickBooks Desktop company, so pushed invoices complete on the Invoices page as the real one would."""
    from sandbox.demo import DESKTOP_USERNAME, desktop_company
    from sandbox.quickbooks_desktop import WebConnector

    qbwc_port = port + 50 if port else _free_port()
    children.append(
        subprocess.Popen(
            [sys.executable, "-m", "mcc", "qbwc", "serve", "--port", str(qbwc_port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT if output else None,
        )
    )
    connector = WebConnector(
        f"http://127.0.0.1:{qbwc_port}/qbwc",
        DESKTOP_USERNAME,
        env["MCC_QBD_PASSWORD"],
        desktop_company(stack.world),
    )
    stop = threading.Event()
    threading.Thread(target=connector.run_every, args=(10.0, stop), daemon=True).start()
    return stop


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
