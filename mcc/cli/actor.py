"""Who a CLI write acts as: the MCC user named by `--as` or MCC_USER, looked up in the database.

Every command that changes something takes `as_user: AsUser = None` and calls `cli_actor(context,
as_user)`; the services then re-check that user's roles and record them in the audit log."""

from __future__ import annotations

from typing import Annotated

import typer

from mcc.context import Context
from mcc.errors import MccError
from mcc.permissions import Actor

AS_ENV = "MCC_USER"

AsUser = Annotated[
    str | None,
    typer.Option(
        "--as",
        envvar=AS_ENV,
        show_envvar=True,
        metavar="USERNAME",
        help="The MCC user this change is made as (recorded in the audit log; their roles are checked).",
    ),
]


class UnknownCliUser(MccError):
    """A CLI write named no MCC user, or one that does not exist or may not act."""


def cli_actor(context: Context, as_name: str | None) -> Actor:
    """The named user as an Actor with the roles the database gives them now.

    Naming a user is attribution, not authentication: whoever can run `mcc` against the database can
    name anyone, as they could write to the database directly."""
    from mcc import users

    name = users.normalise_username(as_name or "")
    if not name:
        raise UnknownCliUser(
            f"this command changes data, so it acts as a named MCC user: give --as USERNAME or set {AS_ENV} "
            "(`mcc users list` shows who exists)"
        )
    info = users.get_user(context.engine, name)
    if info is None:
        raise UnknownCliUser(
            f"--as / {AS_ENV}: no MCC user named {name!r} (`mcc users list` shows who exists; "
            "`mcc users add` creates one)"
        )
    if info.disabled:
        raise UnknownCliUser(f"--as / {AS_ENV}: user {name!r} is disabled and may not make changes")
    return info.actor()
