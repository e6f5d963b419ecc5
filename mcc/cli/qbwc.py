"""`mcc qbwc serve|qwc`: the QuickBooks Web Connector service and the .qwc file that points at it."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from mcc.context import open_context
from mcc.errors import ConfigError

qbwc_app = typer.Typer(no_args_is_help=True, help="QuickBooks Desktop through the Web Connector.")
log = logging.getLogger(__name__)


def _desktop_config() -> object:
    context = open_context()
    if context.config.accounting.kind != "qbd":
        raise ConfigError('set [accounting] kind = "qbd" in mcc.toml to write invoices to QuickBooks Desktop')
    return context


@qbwc_app.command("serve")
def serve(
    port: int = typer.Option(8502, "--port", "-p", help="Port to listen on."),
    address: str = typer.Option(
        "127.0.0.1", "--address", help="Interface to bind; put TLS in front for others."
    ),
) -> None:
    """Answer the Web Connector's SOAP calls. Needs MCC_QBD_USERNAME and MCC_QBD_PASSWORD."""
    from accounting.qbwc import WebConnectorService
    from accounting.soap import make_qbwc_server

    context = _desktop_config()
    service = WebConnectorService.from_environment(context.engine, context.config)  # type: ignore[attr-defined]
    server = make_qbwc_server(service, address, port)
    typer.echo(f"QuickBooks Web Connector service on http://{address}:{server.server_port}/qbwc")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@qbwc_app.command("qwc")
def qwc(
    url: str = typer.Option(
        ..., "--url", help="The address the Web Connector reaches, e.g. https://mcc.example.com/qbwc"
    ),
    every: int = typer.Option(15, "--every", help="Minutes between the Web Connector's runs."),
    output: Path = typer.Option(Path("mcc.qwc"), "--output", "-o", help="Where to write the .qwc file."),
) -> None:
    """Write the .qwc file a bookkeeper opens in the Web Connector (File › Add an application)."""
    from accounting.qbwc import qwc_text
    from mcc.config import read_secrets

    context = _desktop_config()
    username = read_secrets("qbd", ("USERNAME",))["USERNAME"].get_secret_value()
    text = qwc_text(context.config, app_url=url, username=username, every_minutes=every)  # type: ignore[attr-defined]
    output.write_text(text, encoding="utf-8")
    typer.echo(
        f"wrote {output}; in the Web Connector choose Add an application, pick it, then enter the password"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(qbwc_app, name="qbwc")
