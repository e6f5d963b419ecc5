"""`mcc audit verify`: check the keyed audit chain, the decisions it sealed and the signed head, and name
the first row (or decision) that does not hold; `mcc audit seal`: start keying and sign the head now."""

from __future__ import annotations

import typer
from rich.console import Console

from mcc.cli.actor import AsUser, cli_actor
from mcc.context import open_context
from mcc.permissions import require
from store.audit import seal, verify_chain
from store.db import reading, transaction

audit = typer.Typer(no_args_is_help=True, help="The keyed, hash-chained audit log.")


@audit.command("verify")
def verify_command() -> None:
    """Exit 0 when every row links to the previous one and matches its MAC, every decision matches what was
    sealed, and the log ends at the signed head; else name the first row or decision that does not."""
    context = open_context()
    with reading(context.reader) as session:
        report = verify_chain(session)
    for warning in report.warnings:
        typer.echo(f"warning: {warning}", err=True)
    if report.ok:
        legacy = (
            f"; {report.legacy_rows} legacy row(s) and {report.legacy_decisions} legacy decision(s) unkeyed"
        )
        Console().print(
            f"audit log intact: {report.checked} event(s) verified"
            + (legacy if report.legacy_rows or report.legacy_decisions else "")
        )
        return
    typer.echo(
        f"audit log tampered: {report.where}: {report.reason} ({report.checked} row(s) verified)",
        err=True,
    )
    raise typer.Exit(1)


@audit.command("seal")
def seal_command(as_user: AsUser = None) -> None:
    """Write an audit row now: with MCC_AUDIT_KEY set this starts the keyed chain (older rows stay legacy)
    and signs the head file."""
    context = open_context()
    actor = require(cli_actor(context, as_user), "admin", "seal the audit log")
    with transaction(context.engine) as session:
        row = seal(session, actor.username)
    Console().print(f"audit log sealed at row {row.id}")


def register(app: typer.Typer) -> None:
    app.add_typer(audit, name="audit")
