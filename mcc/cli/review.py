"""`mcc decide`, `mcc decide-bulk`, `mcc undo` and `mcc time approve|write-off`: the review workflow at the
terminal."""

from __future__ import annotations

from datetime import date

import typer
from rich.console import Console

from mcc.cli.actor import AsUser, cli_actor
from mcc.context import open_context
from mcc.errors import MccError
from mcc.money import fmt, parse_amount
from mcc.review import (
    ACTIONS,
    BULK_ACTIONS,
    GapFilter,
    approve_time,
    decide,
    decide_bulk,
    find_client,
    write_off_time,
)
from mcc.undo import undo, undo_batch
from store.db import reading


def _date(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise MccError(f"{option} must be a date such as 2026-03-15, got {text!r}") from None


def decide_command(
    action: str = typer.Argument(..., help=" | ".join(ACTIONS)),
    client: str = typer.Option(..., "--client", help="the client's name"),
    product: str = typer.Option(..., "--product", help="the product code"),
    period: str | None = typer.Option(None, "--period", help="YYYY-MM (default: this month)"),
    quantity: int | None = typer.Option(None, "--quantity", help="bump: the approved quantity"),
    from_date: str | None = typer.Option(
        None, "--from", help="bump or exclude: effective date (default: the period's first day)"
    ),
    note: str = typer.Option("", "--note", help="travels to the audit log and the invoice line"),
    entity: list[str] = typer.Option([], "--entity", help="exclude: an entity's external id (repeatable)"),
    reason: str | None = typer.Option(None, "--reason", help="exclude: why these entities are not billed"),
    as_user: AsUser = None,
) -> None:
    """Decide one gap: bump the agreement, back-bill once, write off, exclude entities, or defer."""
    context = open_context()
    actor = cli_actor(context, as_user)
    with reading(context.engine) as session:
        found = find_client(session, client)
        client_id, client_name = found.id, found.name
    period = period or date.today().strftime("%Y-%m")
    decision = decide(
        context.engine,
        actor,
        client_id=client_id,
        product_code=product,
        period=period,
        action=action,
        quantity=quantity,
        effective_date=_date(from_date, "--from"),
        note=note,
        entity_ids=list(entity) or None,
        reason=reason,
        config=context.config,
    )
    amount = fmt(decision.amount_cents, context.config.currency) if decision.amount_cents is not None else "—"
    Console().print(
        f"decision {decision.id}: {action} {client_name} / {product} for {decision.period} (monthly {amount})"
        + (
            f", back-bill {fmt(decision.back_bill_cents, context.config.currency)}"
            if decision.back_bill_cents
            else ""
        )
    )


def decide_bulk_command(
    action: str = typer.Argument(..., help=" | ".join(BULK_ACTIONS)),
    status: str | None = typer.Option(None, "--status", help="e.g. under_billed"),
    category: str | None = typer.Option(
        None, "--category", help="rmm | identity | security | backup | distributor"
    ),
    product: str | None = typer.Option(None, "--product", help="a product code"),
    client: str | None = typer.Option(None, "--client", help="a client's name"),
    max_amount: str | None = typer.Option(
        None, "--max-amount", help="only gaps whose monthly amount is at most this, e.g. 200.00"
    ),
    period: str | None = typer.Option(None, "--period", help="YYYY-MM (default: this month)"),
    note: str = typer.Option(..., "--note", help="recorded on every decision of the batch"),
    as_user: AsUser = None,
) -> None:
    """Decide every undecided gap matching the filter; each is recorded individually under one batch id."""
    context = open_context()
    actor = cli_actor(context, as_user)
    try:
        limit = parse_amount(max_amount, field="--max-amount") if max_amount is not None else None
    except ValueError as error:
        raise MccError(str(error)) from None
    decisions = decide_bulk(
        context.engine,
        actor,
        GapFilter(status=status, category=category, product=product, client=client, max_amount_cents=limit),
        action,
        note,
        config=context.config,
        period=period,
    )
    total = sum(d.amount_cents or 0 for d in decisions)
    batch = decisions[0].batch_id if decisions else "none"
    Console().print(
        f"{len(decisions)} gap(s) decided as {action} (batch {batch}, monthly {fmt(total, context.config.currency)})"
    )


def undo_command(
    decision: int | None = typer.Argument(
        None, help="the decision's id (`decision N` as printed by mcc decide)"
    ),
    batch: str | None = typer.Option(None, "--batch", help="undo every decision of this bulk batch instead"),
    note: str = typer.Option("", "--note", help="why, for the audit log"),
    as_user: AsUser = None,
) -> None:
    """Undo a decision (or a whole bulk batch): the gap is open again; refused once it is on a sent invoice."""
    if (decision is None) == (batch is None):
        raise MccError("give a decision id or --batch BATCH_ID (one of them)")
    context = open_context()
    actor = cli_actor(context, as_user)
    if batch is not None:
        done = undo_batch(context.engine, actor, batch, note)
    else:
        assert decision is not None
        done = undo(context.engine, actor, decision, note)
    for written, reversed_decision in zip(done.undos, done.reversed, strict=True):
        Console().print(
            f"decision {written.id}: undid {reversed_decision.action} #{reversed_decision.id} "
            f"for {reversed_decision.period}; the gap is open again"
        )


time_app = typer.Typer(
    no_args_is_help=True, help="Unbilled time: approve for the next invoice, or write off."
)


@time_app.command("approve")
def time_approve(
    entry: list[int] = typer.Argument(..., help="time entry ids"),
    note: str = typer.Option("", "--note"),
    as_user: AsUser = None,
) -> None:
    """Approve unbilled time entries for the next invoice."""
    context = open_context()
    actor = cli_actor(context, as_user)
    Console().print(f"{approve_time(context.engine, actor, list(entry), note)} time entries approved")


@time_app.command("write-off")
def time_write_off(
    entry: list[int] = typer.Argument(..., help="time entry ids"),
    note: str = typer.Option("", "--note"),
    as_user: AsUser = None,
) -> None:
    """Write off unbilled time entries."""
    context = open_context()
    actor = cli_actor(context, as_user)
    Console().print(f"{write_off_time(context.engine, actor, list(entry), note)} time entries written off")


def register(app: typer.Typer) -> None:
    app.command("decide")(decide_command)
    app.command("decide-bulk")(decide_bulk_command)
    app.command("undo")(undo_command)
    app.add_typer(time_app, name="time")
