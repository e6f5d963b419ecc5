"""`mcc contracts sync SOURCE`: read a PSA's agreements, preview what they change in the book, and apply
the preview only when asked (`--apply`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mcc.cli.actor import AsUser, cli_actor
from mcc.context import open_context
from mcc.money import fmt

if TYPE_CHECKING:
    from mcc.psa_contracts import ContractPreview

contracts_app = typer.Typer(no_args_is_help=True, help="Contracted quantities from your PSA.")

KIND_WORDS = {
    "added": "new line",
    "changed": "changed",
    "closed": "ends",
    "conflict": "conflict with the book",
    "unchanged": "unchanged",
}


def _quantity(value: int | None) -> str:
    return "—" if value is None else str(value)


def show_preview(console: Console, preview: ContractPreview, currency: str) -> None:
    table = Table(title=f"Contracts from {preview.source} as of {preview.today.isoformat()}")
    for column in (
        "Client",
        "Product",
        "Change",
        "Book qty",
        "PSA qty",
        "Unit price",
        "From",
        "Until",
        "Monthly",
    ):
        table.add_column(column, justify="right" if column in ("Book qty", "PSA qty", "Monthly") else "left")
    for change in preview.changes:
        if change.kind == "unchanged":
            continue
        price = (
            change.new_unit_price_cents
            if change.new_unit_price_cents is not None
            else change.old_unit_price_cents
        )
        table.add_row(
            escape(change.client),
            escape(change.product),
            KIND_WORDS[change.kind] + (f" ({change.note})" if change.note else ""),
            _quantity(change.old_quantity),
            _quantity(change.new_quantity),
            fmt(price, currency),
            change.start.isoformat() if change.start else "",
            change.end.isoformat() if change.end else "",
            fmt(change.monthly_delta_cents, currency),
        )
    console.print(table)
    unchanged = len(preview.of_kind("unchanged"))
    console.print(f"{unchanged} line(s) already agree with the PSA.")
    for org, name in preview.unmapped_orgs:
        console.print(f"unmapped PSA company {escape(name)} (id {escape(org)}): map it with `mcc orgs map`")
    for product, lines in preview.unmapped_products:
        console.print(
            f"unmapped PSA product {escape(product)} on {lines} line(s): add a product with this code"
        )
    for line, reason in preview.skipped:
        console.print(f"skipped {escape(line)}: {escape(reason)}")


@contracts_app.command("sync")
def sync_command(
    source: str = typer.Argument(..., help="The PSA source's name in mcc.toml."),
    apply: bool = typer.Option(False, "--apply", help="Apply the preview (admin)."),
    take_psa: bool = typer.Option(
        False, "--take-psa", help="On a conflict with a line typed into the book, take the PSA's figure."
    ),
    no_fetch: bool = typer.Option(
        False, "--no-fetch", help="Use the PSA's last read instead of reading it now."
    ),
    as_user: AsUser = None,
) -> None:
    """Read the PSA now, show the lines it would add, change and end, and apply them with --apply."""
    from collectors.sync import sync_stream
    from mcc import psa_contracts

    context = open_context()
    console = Console()
    try:
        source_config = context.config.source(source)
        actor = cli_actor(context, as_user) if apply else None
        if not no_fetch:
            for stream, spec in source_config.collector.streams.items():
                if spec.contracts:
                    result = sync_stream(context.engine, source_config, stream)
                    if not result.ok:
                        typer.echo(f"error: {result.error}", err=True)
                        raise typer.Exit(1)
        if actor is not None:
            preview = psa_contracts.apply(context.engine, context.config, source, actor, take_psa=take_psa)
        else:
            preview = psa_contracts.preview(context.engine, context.config, source)
        show_preview(console, preview, context.config.currency)
        conflicts = len(preview.of_kind("conflict"))
        if apply:
            applied = len(preview.of_kind("added", "changed", "closed")) + (conflicts if take_psa else 0)
            console.print(
                f"applied {applied} change(s)"
                + (
                    ""
                    if take_psa or not conflicts
                    else f"; {conflicts} conflict(s) left as they are (--take-psa to take the PSA's figure)"
                )
            )
        elif preview.pending:
            console.print("nothing changed yet: run again with --apply to apply these changes")
    finally:
        context.dispose()


def register(app: typer.Typer) -> None:
    app.add_typer(contracts_app, name="contracts")
