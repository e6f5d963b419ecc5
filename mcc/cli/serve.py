"""`mcc serve`: run the Streamlit app (app.py) headless, without usage statistics, with our theme."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from mcc.config import demo_mode
from mcc.users import cookie_key_from_environment, missing_cookie_key

APP = Path(__file__).resolve().parents[2] / "app.py"


def streamlit_args(port: int, address: str) -> list[str]:
    return [
        "streamlit",
        "run",
        str(APP),
        "--server.headless=true",
        f"--server.port={port}",
        f"--server.address={address}",
        "--browser.gatherUsageStats=false",
        "--server.fileWatcherType=none",
        "--server.runOnSave=false",
        "--global.developmentMode=false",
        "--client.toolbarMode=minimal",
        "--client.showErrorDetails=none",
        # Streamlit runs a full gc.collect() after every script run, before the last deltas reach the
        # browser: 0.2-0.3 s per click on the demo book (shared/research/ui-latency.md). Python's own
        # generational collector still runs; only the forced full pass per run goes.
        "--runner.postScriptGC=false",
    ]


def run_streamlit(port: int, address: str) -> None:
    """Start Streamlit in this process with app.py's st.navigation as the only router: Streamlit would
    otherwise treat the pages/ folder as legacy auto-pages on a process's very first run."""
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.web import cli as streamlit_cli

    PagesManager.uses_pages_directory = False
    sys.argv = streamlit_args(port, address)
    streamlit_cli.main()


def serve_command(
    port: int = typer.Option(8501, "--port", "-p", help="Port to listen on."),
    address: str = typer.Option(
        "127.0.0.1", "--address", help="Interface to bind; put TLS in front for others."
    ),
) -> None:
    """Run the web app. Needs MCC_COOKIE_KEY (≥ 32 random bytes) unless MCC_DEMO=1."""
    key = cookie_key_from_environment()  # a weak key is refused even in the demo
    if key is None and not demo_mode():
        raise missing_cookie_key()
    run_streamlit(port, address)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
