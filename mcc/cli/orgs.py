"""`mcc orgs unmapped|map`: organisations sources report that no client is billed for yet."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from collectors import mapping
from mcc.cli.actor import AsUser, cli_actor
from mcc.context import open_context
from mcc.errors import MccError

orgs = typer.Typer(
    no_args_is_help=True, help="Organisations seen in sources, and which client each is billed to."
)


def _when(value: object) -> str:
    return value.strftime("%Y-%m-%d") if hasattr(value, "strftime") else ""


@orgs.command("unmapped")
def unmapped_command(
    source: str | None = typer.Option(None, "--source", help="Only this source."),
    output: str = typer.Option("table", "--format", help="table or json"),
) -> None:
    """List orgs with no client, each with a suggested client and its match score (0–100)."""
    if output not in ("table", "json"):
        raise MccError(f"--format must be table or json, got {output!r}")
    context = open_context()
    if source is not None:
        context.config.source(source)
    rows = mapping.unmapped_orgs(context.reader, context.config, source)
    if output == "json":
        typer.echo(
            json.dumps(
                [
                    {
                        "source": row.source,
                        "external_id": row.external_id,
                        "name": row.name,
                        "suggested_client_id": row.suggested_client_id,
                        "suggested_client": row.suggested_client,
                        "score": row.score,
                        "ambiguous": row.ambiguous,
                        "first_seen": row.first_seen.isoformat() if row.first_seen else None,
                    }
                    for row in rows
                ],
                indent=2,
            )
        )
        return
    if not rows:
        Console().print("every organisation is mapped to a client")
        return
    table = Table("source", "external id", "organisation", "suggested client", "score", "first seen")
    for row in rows:
        score = "" if row.score is None else f"{row.score}{' (tie)' if row.ambiguous else ''}"
        table.add_row(
            # names are text: an org or client called "[/]Markup Co" must not be read as rich markup
            *map(escape, (row.source, row.external_id, row.name, row.suggested_client or "")),
            score,
            _when(row.first_seen),
        )
    console = Console()
    console.print(table)
    console.print(
        f'{len(rows)} unmapped. Map one:  mcc orgs map SOURCE EXTERNAL_ID "Client Name"\n'
        f"Accept the suggestions:  mcc orgs map --accept-suggestions --min-score {mapping.DEFAULT_MIN_SCORE}"
    )


@orgs.command("map")
def map_command(
    source: str | None = typer.Argument(None, help="Source name from mcc.toml."),
    external_id: str | None = typer.Argument(
        None, help="The org's id in that source (see `mcc orgs unmapped`)."
    ),
    client: str | None = typer.Argument(None, help="The client's name as in the book."),
    accept_suggestions: bool = typer.Option(
        False,
        "--accept-suggestions",
        help="Map every unmapped org whose suggestion scores at least --min-score.",
    ),
    min_score: int = typer.Option(mapping.DEFAULT_MIN_SCORE, "--min-score", min=0, max=100),
    only_source: str | None = typer.Option(
        None, "--source", help="With --accept-suggestions: only this source."
    ),
    as_user: AsUser = None,
) -> None:
    """Bill an org to a client, or accept every good suggestion at once."""
    context = open_context()
    actor = cli_actor(context, as_user)
    console = Console()
    if accept_suggestions:
        if source or external_id or client:
            raise MccError("give either SOURCE EXTERNAL_ID CLIENT or --accept-suggestions, not both")
        if only_source is not None:
            context.config.source(only_source)
        mapped, left = mapping.accept_suggestions(
            context.engine,
            actor,
            context.config,
            min_score=min_score,
            source=only_source,
        )
        for org in mapped:
            console.print(escape(f"mapped {org.source} {org.external_id} ({org.name}) → {org.client}"))
        console.print(f"{len(mapped)} mapped, {len(left)} still unmapped")
        return
    if not (source and external_id and client):
        raise MccError('give SOURCE EXTERNAL_ID "Client Name", or --accept-suggestions')
    client_id, _ = mapping.find_client(context.engine, client)
    org = mapping.map_org(context.engine, actor, source, external_id, client_id)
    moved = f" (was {org.previous_client})" if org.previous_client else ""
    console.print(escape(f"mapped {org.source} {org.external_id} ({org.name}) → {org.client}{moved}"))


def register(app: typer.Typer) -> None:
    app.add_typer(orgs, name="orgs")
