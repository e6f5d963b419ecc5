"""`mcc`: a thin shell over the same service functions the pages use."""

from __future__ import annotations

import logging
import os
from typing import Any

import typer
from typer.core import TyperGroup

from mcc.errors import MccError


class _Group(TyperGroup):
    """Turns an MccError anywhere below into one clear line on stderr and exit status 1."""

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
    help="Morton Command Center: find billing leakage, review it, invoice it once.",
)


def _register() -> None:
    from mcc.cli import (
        audit,
        book,
        contracts,
        db,
        demo,
        init,
        invoices,
        orgs,
        qbwc,
        reconcile,
        review,
        serve,
        sources,
        sync,
        users,
        worker,
    )

    for module in (
        init,
        db,
        book,
        contracts,
        sync,
        worker,
        sources,
        orgs,
        reconcile,
        review,
        audit,
        invoices,
        qbwc,
        users,
        demo,
        serve,
    ):
        module.register(app)


_register()


def main() -> None:
    logging.basicConfig(
        level=os.environ.get("MCC_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from collectors.http import install_redaction

    install_redaction()
    app()
