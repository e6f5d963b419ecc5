"""`mcc users add|list|disable|enable|roles|password|unlock`: manage who may sign in to the app."""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.table import Table

from mcc import users as user_service
from mcc.cli.actor import AsUser, cli_actor
from mcc.context import open_context
from mcc.permissions import ROLE_HELP

users = typer.Typer(no_args_is_help=True, help="People who may sign in to the app, and their roles.")

ROLE_OPTION_HELP = "Role(s): " + "; ".join(f"{role} = {text}" for role, text in ROLE_HELP.items())


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = typer.prompt("Password", hide_input=True)
    second = typer.prompt("Repeat the password", hide_input=True)
    if first != second:
        raise user_service.UserError("the two passwords differ")
    return str(first)


@users.command("add")
def add_command(
    username: str = typer.Argument(..., help="Sign-in name (case-insensitive)."),
    name: str = typer.Option(..., "--name", help="Display name."),
    email: str = typer.Option("", "--email"),
    role: list[str] = typer.Option(["viewer"], "--role", "-r", help=ROLE_OPTION_HELP),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from the first line of standard input."
    ),
    as_user: AsUser = None,
) -> None:
    """Add a user; prompts for the password unless --password-stdin is given.

    The very first user of a new database is added without --as and must be an admin."""
    roles = [part for value in role for part in value.split(",")]
    user_service.check_roles(roles)  # fail before prompting
    context = open_context()
    first = not user_service.any_users(context.engine)
    if first:
        user_service.check_first_user_roles(roles)
    actor = None if first else cli_actor(context, as_user)  # fail before prompting
    password = _read_password(password_stdin)
    if actor is None:
        info = user_service.add_first_admin(
            context.engine, username, name=name, email=email, password=password, roles=roles
        )
    else:
        info = user_service.add_user(
            context.engine, actor, username, name=name, email=email, password=password, roles=roles
        )
    Console(stderr=True).print(f"added user {info.username} ({', '.join(info.roles)})")


@users.command("list")
def list_command() -> None:
    """List users, their roles and whether they are disabled or locked."""
    context = open_context()
    table = Table("username", "name", "email", "roles", "state", "last sign-in")
    for info in user_service.list_users(context.reader):
        state = "disabled" if info.disabled else "locked" if info.locked() else "active"
        last = info.last_login_at.strftime("%Y-%m-%d %H:%M UTC") if info.last_login_at else "never"
        table.add_row(info.username, info.name, info.email, ", ".join(info.roles), state, last)
    Console().print(table)


@users.command("disable")
def disable_command(username: str, as_user: AsUser = None) -> None:
    """Disable a user: they can no longer sign in (existing sessions are refused on their next click)."""
    context = open_context()
    actor = cli_actor(context, as_user)
    info = user_service.set_disabled(context.engine, actor, username, True)
    Console(stderr=True).print(f"disabled {info.username}")


@users.command("enable")
def enable_command(username: str, as_user: AsUser = None) -> None:
    """Re-enable a disabled user (also clears a lockout)."""
    context = open_context()
    actor = cli_actor(context, as_user)
    info = user_service.set_disabled(context.engine, actor, username, False)
    Console(stderr=True).print(f"enabled {info.username}")


@users.command("roles")
def roles_command(
    username: str,
    role: list[str] = typer.Option(..., "--role", "-r", help=ROLE_OPTION_HELP),
    as_user: AsUser = None,
) -> None:
    """Replace a user's roles."""
    roles = [part for value in role for part in value.split(",")]
    context = open_context()
    actor = cli_actor(context, as_user)
    info = user_service.set_roles(context.engine, actor, username, roles)
    Console(stderr=True).print(f"{info.username}: {', '.join(info.roles)}")


@users.command("password")
def password_command(
    username: str,
    password_stdin: bool = typer.Option(False, "--password-stdin"),
    as_user: AsUser = None,
) -> None:
    """Set a user's password (clears a lockout)."""
    context = open_context()
    actor = cli_actor(context, as_user)  # fail before prompting
    password = _read_password(password_stdin)
    info = user_service.set_password(context.engine, actor, username, password)
    Console(stderr=True).print(f"password set for {info.username}")


@users.command("unlock")
def unlock_command(username: str, as_user: AsUser = None) -> None:
    """Clear a lockout after too many failed sign-ins."""
    context = open_context()
    actor = cli_actor(context, as_user)
    info = user_service.unlock(context.engine, actor, username)
    Console(stderr=True).print(f"unlocked {info.username}")


def register(app: typer.Typer) -> None:
    app.add_typer(users, name="users")
