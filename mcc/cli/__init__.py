"""`mcc`: a thin shell over the same service functions the pages use.

Command modules are imported only when their command runs: `mcc --help` lists the table below without
loading SQLAlchemy, Alembic or Polars, and `mcc reconcile` loads the reconcile module alone.
"""

from __future__ import annotations

import importlib
import logging
import os
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from mcc.errors import MccError

# Top-level command → (module that registers it, one-line help shown by `mcc --help`).
# Listed in the order `mcc --help` shows them; tests/test_cli_lazy.py holds each line to the command's own.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": (
        "mcc.cli.init",
        "Write a commented mcc.toml for the vendors you use and print the environment variables to set.",
    ),
    "sync": ("mcc.cli.sync", "Read sources now and store what they report; exits 1 if any source failed."),
    "worker": (
        "mcc.cli.worker",
        "Run every source on its schedule and answer Refresh-now requests; SIGTERM stops it cleanly.",
    ),
    "reconcile": (
        "mcc.cli.reconcile",
        "Contracted vs observed per client and product, with amounts, since, back-bill and decisions.",
    ),
    "decide": (
        "mcc.cli.review",
        "Decide one gap: bump the agreement, back-bill once, write off, exclude entities, or defer.",
    ),
    "decide-bulk": (
        "mcc.cli.review",
        "Decide every undecided gap matching the filter; each is recorded individually under one batch id.",
    ),
    "undo": (
        "mcc.cli.review",
        "Undo a decision (or a whole bulk batch): the gap is open again; refused once it is on a sent invoice.",
    ),
    "demo": (
        "mcc.cli.demo",
        "Seed ~40 clients with 12 months of history and planted drift, start the sandbox, worker and app.",
    ),
    "serve": (
        "mcc.cli.serve",
        "Run the web app. Needs MCC_COOKIE_KEY (≥ 32 random bytes) unless MCC_DEMO=1.",
    ),
    "db": ("mcc.cli.db", "Database schema."),
    "config": ("mcc.cli.book", "The billing book: products, mappings, clients, contracts."),
    "contracts": ("mcc.cli.contracts", "Contracted quantities from your PSA."),
    "sources": ("mcc.cli.sources", "The vendors MCC reads: list them, test their connections."),
    "orgs": ("mcc.cli.orgs", "Organisations seen in sources, and which client each is billed to."),
    "report": ("mcc.cli.reconcile", "Reports to send to clients."),
    "time": ("mcc.cli.review", "Unbilled time: approve for the next invoice, or write off."),
    "audit": ("mcc.cli.audit", "The keyed, hash-chained audit log."),
    "invoices": ("mcc.cli.invoices", "Draft, review, approve and push invoices."),
    "qbwc": ("mcc.cli.qbwc", "QuickBooks Desktop through the Web Connector."),
    "users": ("mcc.cli.users", "People who may sign in to the app, and their roles."),
}

_loaded: dict[str, TyperGroup] = {}


def load_module(module_name: str) -> TyperGroup:
    """The click commands one command module registers, built once per process."""
    if module_name not in _loaded:
        module = importlib.import_module(module_name)
        holder = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)
        holder.callback()(lambda: None)
        module.register(holder)
        group = typer.main.get_command(holder)
        assert isinstance(group, TyperGroup)
        _loaded[module_name] = group
    return _loaded[module_name]


class _Group(TyperGroup):
    """Loads each command on first use, and turns an MccError below into one clear line and exit 1."""

    _listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        module_name, help_line = COMMANDS[cmd_name]
        if self._listing:
            return TyperCommand(cmd_name, help=help_line, short_help=help_line)
        from collectors.http import install_redaction

        install_redaction()
        return load_module(module_name).commands.get(cmd_name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except MccError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=_Group,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Morton Command Center: find billing leakage, review it, invoice it once.",
)


@app.callback()
def _root() -> None:
    """Morton Command Center: find billing leakage, review it, invoice it once."""


def main() -> None:
    logging.basicConfig(
        level=os.environ.get("MCC_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    app()
