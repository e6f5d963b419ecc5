"""`mcc db upgrade`: bring the database schema to the latest migration."""

from __future__ import annotations

import typer
from rich.console import Console
from sqlalchemy.exc import OperationalError

from mcc.context import open_context
from mcc.errors import MccError
from store.installation import show_installation_id
from store.migrate import upgrade

db = typer.Typer(no_args_is_help=True, help="Database schema.")


@db.command("upgrade")
def upgrade_command() -> None:
    """Create or migrate the database named by database_url / MCC_DATABASE_URL."""
    context = open_context()
    try:
        upgrade(context.database_url)
    except OperationalError as exc:
        where = context.config.database_url.split("@")[-1]  # never the password
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else "cannot connect"
        raise MccError(f"database {where}: cannot be reached ({reason})") from None
    Console(stderr=True).print(
        f"database is at the latest schema ({context.config.database_url.split('@')[-1]}); "
        f"installation id {show_installation_id(context.engine)}"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(db, name="db")
