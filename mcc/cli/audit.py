"""`mcc audit verify`: walk the hash-chained audit log and name the first row that does not hold."""

from __future__ import annotations

import typer
from rich.console import Console

from mcc.context import open_context
from store.audit import verify_chain
from store.db import reading

audit = typer.Typer(no_args_is_help=True, help="The hash-chained audit log.")


@audit.command("verify")
def verify_command() -> None:
    """Exit 0 when every row links to the previous one and matches its hash; else name the first bad row."""
    context = open_context()
    with reading(context.reader) as session:
        report = verify_chain(session)
    if report.ok:
        Console().print(f"audit log intact: {report.checked} event(s) verified")
        return
    typer.echo(
        f"audit log tampered: row {report.first_bad_id}: {report.reason} ({report.checked} row(s) before it verified)",
        err=True,
    )
    raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(audit, name="audit")
