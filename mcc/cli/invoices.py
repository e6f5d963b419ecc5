"""`mcc invoices draft|list|show|edit|approve|push`: the same service functions the Invoices page uses."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from sqlalchemy import select

from mcc import invoicing
from mcc.cli.actor import AsUser, cli_actor
from mcc.context import open_context
from mcc.errors import MccError
from mcc.money import fmt, parse_amount
from store.db import reading
from store.models import Client

invoices_app = typer.Typer(no_args_is_help=True, help="Draft, review, approve and push invoices.")
console = Console()


def _client_id(engine: object, name_or_id: str | None) -> int | None:
    if name_or_id is None:
        return None
    with reading(engine) as session:  # type: ignore[arg-type]
        if name_or_id.isdigit():
            found = session.get(Client, int(name_or_id))
        else:
            found = session.scalars(select(Client).where(Client.name == name_or_id)).first()
        if found is None:
            raise MccError(f"no client {name_or_id!r} (give its name or id)")
        return found.id


@invoices_app.command("draft")
def draft(
    period: str = typer.Option(..., "--period", help="YYYY-MM"),
    client: str | None = typer.Option(None, "--client", help="client name or id (default: every client)"),
    as_user: AsUser = None,
) -> None:
    """Build (or rebuild) draft invoices for a period from approved decisions, contracts and time."""
    context = open_context()
    actor = cli_actor(context, as_user)
    drafts = invoicing.build_drafts(
        context.engine,
        context.config,
        actor,
        period,
        _client_id(context.engine, client),
    )
    frame = invoicing.list_invoices(context.engine, period=period)
    ids = {invoice.id for invoice in drafts}
    _print_table(frame.filter(frame["id"].is_in(list(ids))).to_dicts(), context.config.currency)
    blocked = [invoice for invoice in drafts if invoice.blocked_reason]
    for invoice in blocked:
        console.print(f"[yellow]invoice {invoice.id} blocked:[/] {escape(invoice.blocked_reason or '')}")


@invoices_app.command("list")
def list_(period: str | None = typer.Option(None, "--period", help="YYYY-MM")) -> None:
    """List invoices with status, total and the accounting system's number."""
    context = open_context()
    _print_table(invoicing.list_invoices(context.reader, period=period).to_dicts(), context.config.currency)


@invoices_app.command("show")
def show(invoice_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Show one invoice line by line."""
    context = open_context()
    invoice = invoicing.get_invoice(context.reader, invoice_id)
    console.print(f"invoice {invoice.id} · {invoice.period} · {invoice.status} · revision {invoice.revision}")
    table = Table("line", "kind", "item", "description", "qty", "unit", "amount")
    for line in invoice.lines:
        table.add_row(
            str(line.id),
            line.kind,
            escape(line.item_code or ""),
            escape(line.description or ""),
            str(line.quantity),
            fmt(line.unit_price_cents, invoice.currency),
            fmt(line.amount_cents, invoice.currency),
        )
    console.print(table)
    console.print(f"total {fmt(invoice.total_cents, invoice.currency)}")
    problem = "warning" if invoice.status == "pushed" else "error"  # a pushed invoice keeps what differed
    for label, value in (("blocked", invoice.blocked_reason), (problem, invoice.last_error)):
        if value:
            console.print(escape(f"{label}: {value}"))


@invoices_app.command("edit")
def edit(
    line_id: int = typer.Argument(..., metavar="LINE"),
    quantity: str | None = typer.Option(None, "--quantity"),
    unit_price: str | None = typer.Option(None, "--unit-price", help='decimal string, e.g. "45.00"'),
    description: str | None = typer.Option(None, "--description"),
    note: str | None = typer.Option(None, "--note"),
    as_user: AsUser = None,
) -> None:
    """Edit one draft line (audited); an approved invoice goes back to draft."""
    context = open_context()
    actor = cli_actor(context, as_user)
    cents = None
    if unit_price is not None:
        try:
            cents = parse_amount(unit_price, field="--unit-price")
        except ValueError as error:
            raise MccError(str(error)) from None
    invoice = invoicing.edit_line(
        context.engine,
        actor,
        line_id,
        quantity=quantity,
        unit_price_cents=cents,
        description=description,
        note=note,
    )
    typer.echo(
        f"invoice {invoice.id}: total {fmt(invoice.total_cents, invoice.currency)} (revision {invoice.revision})"
    )


@invoices_app.command("approve")
def approve(invoice_id: int = typer.Argument(..., metavar="ID"), as_user: AsUser = None) -> None:
    """Approve a draft; nothing is sent to the accounting system before this."""
    context = open_context()
    actor = cli_actor(context, as_user)
    invoice = invoicing.approve(context.engine, actor, invoice_id)
    typer.echo(f"invoice {invoice.id} approved: {fmt(invoice.total_cents, invoice.currency)}")


@invoices_app.command("push")
def push(
    period: str | None = typer.Option(None, "--period", help="YYYY-MM"),
    client: str | None = typer.Option(None, "--client", help="client name or id"),
    as_user: AsUser = None,
) -> None:
    """Push approved invoices to the accounting system, once each (safe to repeat)."""
    context = open_context()
    actor = cli_actor(context, as_user)
    config = context.config
    client_id = _client_id(context.engine, client)
    pending = invoicing.list_invoices(context.engine, period=period, client_id=client_id)
    count = pending.filter(pending["status"].is_in(["approved", "failed", "pushing"])).height
    failures = 0
    with Progress(
        TextColumn("[bold]push to " + config.accounting.kind),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("", total=count or None)

        def report(result: invoicing.PushResult) -> None:
            nonlocal failures
            progress.advance(task)
            progress.update(task, description=f"{result.client}: {result.status}")
            line = f"invoice {result.invoice_id} {result.client}: {result.status} {fmt(result.total_cents, config.currency)}"
            if result.remote_number or result.remote_id:
                line += f" → {result.remote_number or result.remote_id}"
            if result.message:
                line += f" — {result.message}"
            progress.console.print(line)
            if not result.ok:
                failures += 1

        results = invoicing.push(
            context.engine,
            config,
            actor,
            period=period,
            client_id=client_id,
            progress=report,
        )
    if not results:
        typer.echo("nothing to push: no approved invoices" + (f" for {period}" if period else ""))
    if failures:
        raise typer.Exit(1)


def _print_table(rows: list[dict[str, object]], currency: str) -> None:
    table = Table("id", "client", "period", "status", "total", "lines", "remote", "note")
    for row in rows:
        note = row.get("blocked_reason") or row.get("last_error") or ""
        if row.get("stale"):
            note = f"stale: {row['stale']}; rebuild with `mcc invoices draft`" + (f"; {note}" if note else "")
        table.add_row(
            str(row["id"]),
            escape(str(row["client"])),
            str(row["period"]),
            f"{row['status']} (stale)" if row.get("stale") else str(row["status"]),
            fmt(int(str(row["total_cents"])), currency),
            str(row["lines"]),
            str(row.get("remote_number") or row.get("remote_id") or ""),
            escape(str(note)),
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(invoices_app, name="invoices")
