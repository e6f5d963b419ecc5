"""`mcc config import FILE` and `mcc config export`: the billing book as a TOML file or a contracts CSV."""

from __future__ import annotations

from pathlib import Path

import typer

from mcc.cli.actor import AsUser, cli_actor
from mcc.context import open_context
from mcc.errors import BookError

config_app = typer.Typer(
    no_args_is_help=True, help="The billing book: products, mappings, clients, contracts."
)


@config_app.command("import")
def import_command(
    file: Path = typer.Argument(..., help="A book (.toml) or a contracts sheet (.csv)."),
    as_user: AsUser = None,
) -> None:
    """Import a book (upsert of everything in it) or a contracts sheet (adds lines); all or nothing."""
    from store.book import import_file

    context = open_context()
    actor = cli_actor(context, as_user)
    try:
        summary = import_file(context.engine, context.config, file, actor)
    finally:
        context.dispose()
    for warning in summary.warnings:
        typer.echo(f"warning: {warning}", err=True)
    typer.echo(summary.describe())


@config_app.command("export")
def export_command(
    output: Path | None = typer.Option(None, "-o", "--output", help="Write here instead of standard output."),
    contracts_csv: bool = typer.Option(
        False, "--contracts-csv", help="Export the contracts sheet instead of the book."
    ),
) -> None:
    """Write the whole book (or the contracts sheet) in the format `mcc config import` reads."""
    from store.book import export_book
    from store.book_csv import export_contracts_csv

    context = open_context()
    try:
        text = (
            export_contracts_csv(context.engine)
            if contracts_csv
            else export_book(context.engine, context.config.currency)
        )
    finally:
        context.dispose()
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_bytes(text.encode("utf-8"))
    except OSError as exc:
        raise BookError(f"{output}: cannot be written ({exc.strerror})") from None
    typer.echo(f"wrote {output}", err=True)


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
